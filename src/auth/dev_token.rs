//! Minting a development token: what `taskflow dev-token` prints.

use jsonwebtoken::{EncodingKey, Header, encode};
use serde::Serialize;

use crate::config::DevTokenArgs;
use crate::domain::UserId;

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

/// An HS256 token for `args.user`, valid from now for `args.ttl_seconds`.
pub fn mint(args: &DevTokenArgs) -> Result<String, String> {
    let user = UserId::parse(&args.user).map_err(|e| format!("--user: {e}"))?;
    let secret = args
        .jwt_secret
        .as_ref()
        .ok_or("TASKFLOW_JWT_SECRET (or TASKFLOW_JWT_SECRET_FILE) must be the server's secret")?;
    let now = jsonwebtoken::get_current_timestamp();
    let claims = Claims {
        sub: user.as_str(),
        iat: now,
        exp: now + args.ttl_seconds,
        iss: args.jwt_issuer.as_deref(),
        aud: args.jwt_audience.as_deref(),
    };
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .map_err(|e| format!("cannot sign the token: {e}"))
}
