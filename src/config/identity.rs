//! Where the keys that verify bearer tokens come from: an HS256 secret (in `ServeConfig`), and/or
//! an identity provider's published keys (a JWKS URL, or found through OIDC discovery).

use clap::Args;

use super::SecondsUpTo;

/// The shortest time between two fetches of the keys that unknown `kid`s cause, by default.
const DEFAULT_JWKS_MIN_REFRESH_MS: u64 = 10_000;

/// The clock skew tolerated by default, in seconds.
pub const DEFAULT_JWT_LEEWAY_SECONDS: u64 = 30;

/// The most clock skew that can be configured, in seconds: beyond it an expired token would
/// stay good for longer than many providers issue them for.
pub const MAX_JWT_LEEWAY_SECONDS: u64 = 600;

#[derive(Debug, Clone, Args)]
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
    #[arg(long, env = "TASKFLOW_JWKS_MIN_REFRESH_MS", default_value_t = DEFAULT_JWKS_MIN_REFRESH_MS)]
    pub jwks_min_refresh_ms: u64,
    /// How far this server's clock may disagree with the token issuer's, in seconds (0 to
    /// 600): a token is accepted until `exp` + leeway and from `nbf` − leeway on.
    #[arg(
        long,
        env = "TASKFLOW_JWT_LEEWAY_SECONDS",
        default_value_t = DEFAULT_JWT_LEEWAY_SECONDS,
        value_parser = SecondsUpTo { max: MAX_JWT_LEEWAY_SECONDS, max_shown: "10 minutes" }
    )]
    pub jwt_leeway_seconds: u64,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            jwt_jwks_url: None,
            oidc_issuer_url: None,
            jwks_min_refresh_ms: DEFAULT_JWKS_MIN_REFRESH_MS,
            jwt_leeway_seconds: DEFAULT_JWT_LEEWAY_SECONDS,
        }
    }
}

impl IdentityConfig {
    /// Whether tokens are verified against a provider's keys.
    pub fn uses_provider(&self) -> bool {
        self.jwt_jwks_url.is_some() || self.oidc_issuer_url.is_some()
    }
}
