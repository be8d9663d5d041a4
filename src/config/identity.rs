//! Where the keys that verify bearer tokens come from: an HS256 secret (in `ServeConfig`), and/or
//! an identity provider's published keys (a JWKS URL, or found through OIDC discovery).

use clap::Args;

#[derive(Debug, Clone, Args, Default)]
pub struct IdentityConfig {
    /// URL of a JSON Web Key Set whose keys verify RS256/RS384/RS512, PS256/PS384/PS512, ES256,
    /// ES384 and EdDSA tokens (the token's `kid` picks the key).
    #[arg(long, env = "TASKFLOW_JWT_JWKS_URL")]
    pub jwt_jwks_url: Option<String>,
    /// An OpenID Connect issuer (e.g. `https://accounts.google.com`): its
    /// `/.well-known/openid-configuration` names the JWKS, and tokens must carry it as `iss`
    /// (unless `TASKFLOW_JWT_ISSUER` says otherwise).
    #[arg(
        long,
        env = "TASKFLOW_OIDC_ISSUER_URL",
        conflicts_with = "jwt_jwks_url"
    )]
    pub oidc_issuer_url: Option<String>,
    /// The shortest time between two fetches of the key set that a token with an unknown `kid`
    /// causes, in milliseconds: tokens naming keys that do not exist cannot make taskflow call the
    /// provider more often than this.
    #[arg(long, env = "TASKFLOW_JWKS_MIN_REFRESH_MS", default_value_t = 10_000)]
    pub jwks_min_refresh_ms: u64,
}

impl IdentityConfig {
    /// Whether tokens are verified against a provider's keys.
    pub fn uses_provider(&self) -> bool {
        self.jwt_jwks_url.is_some() || self.oidc_issuer_url.is_some()
    }
}
