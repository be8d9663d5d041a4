//! `taskflow dev-token`: a token for trying the API against a server that verifies HS256
//! tokens, signed with the same secret.

use clap::Args;

use super::Secret;

#[derive(Debug, Clone, Args)]
pub struct DevTokenArgs {
    /// The user the token is for (its `sub`).
    #[arg(long)]
    pub user: String,
    /// How long the token is valid, in seconds (at most a day).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub ttl_seconds: u64,
    /// The server's HS256 secret (or `TASKFLOW_JWT_SECRET_FILE`).
    #[arg(long, env = "TASKFLOW_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// The `iss` the server requires, if any.
    #[arg(long, env = "TASKFLOW_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// The `aud` the server requires, if any.
    #[arg(long, env = "TASKFLOW_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
}
