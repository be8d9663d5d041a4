//! How calls are authenticated, from the configuration: development mode, the HS256 secret,
//! an identity provider's keys (fetched now, then refreshed in the background), or both.

use std::time::Duration;

use super::StartupError;
use crate::auth::{Authenticator, KeySource, ProviderKeys, TokenSettings};
use crate::config::{MAX_JWT_LEEWAY_SECONDS, ServeConfig};

/// A URL of the identity configuration: `http` or `https`, else an error naming `variable`.
fn checked_url(variable: &str, url: &str) -> Result<String, StartupError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        StartupError::Identity(format!(
            "{variable} must be an http(s) URL ({e}), got {:?}",
            url.chars().take(100).collect::<String>()
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(StartupError::Identity(format!(
            "{variable} must be an http(s) URL, got the scheme {:?}",
            parsed.scheme()
        )));
    }
    Ok(url.to_owned())
}

/// The authenticator `config` describes.
pub async fn authenticator(config: &ServeConfig) -> Result<Authenticator, StartupError> {
    let identity = &config.identity;
    if identity.jwt_leeway_seconds > MAX_JWT_LEEWAY_SECONDS {
        return Err(StartupError::Identity(format!(
            "TASKFLOW_JWT_LEEWAY_SECONDS must be a whole number of seconds from 0 to \
             {MAX_JWT_LEEWAY_SECONDS}, got {}",
            identity.jwt_leeway_seconds
        )));
    }
    let source = match (&identity.jwt_jwks_url, &identity.oidc_issuer_url) {
        (Some(url), _) => Some(KeySource::Jwks(checked_url("TASKFLOW_JWT_JWKS_URL", url)?)),
        (None, Some(issuer)) => Some(KeySource::Discovery(checked_url(
            "TASKFLOW_OIDC_ISSUER_URL",
            issuer,
        )?)),
        (None, None) => None,
    };
    if source.is_none() && config.jwt_secret.is_none() {
        return Ok(Authenticator::development());
    }
    let provider = match source {
        Some(source) => {
            let keys =
                ProviderKeys::new(source, Duration::from_millis(identity.jwks_min_refresh_ms))
                    .map_err(StartupError::Identity)?;
            keys.load().await;
            keys.refresh_in_background();
            Some(keys)
        }
        None => None,
    };
    // An OIDC issuer is the `iss` its tokens carry, unless told otherwise.
    let issuer = config
        .jwt_issuer
        .clone()
        .or_else(|| identity.oidc_issuer_url.clone());
    Ok(Authenticator::tokens(
        config.jwt_secret.as_ref(),
        provider,
        TokenSettings {
            issuer,
            audience: config.jwt_audience.clone(),
            leeway_seconds: identity.jwt_leeway_seconds,
        },
    ))
}
