//! Verifying a call's credentials: the bearer token's algorithm picks the key — HS256 the
//! shared secret, the asymmetric algorithms the identity provider's key named by `kid` — and
//! nothing else is accepted (no `none`, no HMAC with a published key, no other HMAC).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;

use super::failures::{Failure, FailureLog};
use super::provider::{KeyLookup, ProviderKeys};
use super::{DEV_USER_HEADER, unauthenticated};
use crate::config::{DEFAULT_JWT_LEEWAY_SECONDS, Secret};
use crate::domain::UserId;
use crate::error::AppError;

/// The asymmetric algorithms an identity provider's keys verify.
const PROVIDER_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What a token must carry besides a good signature.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Required `aud` (one of the token's).
    pub audience: Option<String>,
    /// How far the server's clock may disagree with the token issuer's, in seconds: a token is
    /// accepted until `exp` + leeway and from `nbf` − leeway on.
    pub leeway_seconds: u64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: None,
            leeway_seconds: DEFAULT_JWT_LEEWAY_SECONDS,
        }
    }
}

/// Tokens verified already: a client sends the same token with every call until it expires,
/// and checking a signature (RSA above all) costs far more than a lookup. An entry holds the
/// token's times, checked again at each use, and the key set it was verified under: a fetch of
/// the keys (a key retired) makes every provider token be verified afresh.
const VERIFIED_CAPACITY: usize = 4096;

struct Verified {
    user: UserId,
    exp: u64,
    nbf: Option<u64>,
    /// The provider's key set generation; `None` for the shared secret's tokens.
    generation: Option<u64>,
}

struct Tokens {
    secret: Option<DecodingKey>,
    provider: Option<Arc<ProviderKeys>>,
    settings: TokenSettings,
    verified: Mutex<HashMap<String, Verified>>,
}

#[derive(Clone)]
enum Mode {
    Tokens(Arc<Tokens>),
    Development,
}

/// Verifies credentials; cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    mode: Mode,
    failures: FailureLog,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match &self.mode {
            Mode::Tokens(tokens) => match (&tokens.secret, &tokens.provider) {
                (Some(_), Some(_)) => "hs256+provider",
                (None, Some(_)) => "provider",
                _ => "hs256",
            },
            Mode::Development => "development",
        };
        f.debug_struct("Authenticator")
            .field("mode", &mode)
            .finish()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    // Numbers, as JWT's NumericDate may carry a fraction.
    exp: f64,
    nbf: Option<f64>,
}

impl Authenticator {
    /// JWT verification with an HS256 secret only: `exp` and `sub` are required, `nbf` is
    /// honoured when present, `iss` and `aud` are checked when given; times allow
    /// [`DEFAULT_JWT_LEEWAY_SECONDS`] of clock skew.
    pub fn jwt(secret: &Secret, issuer: Option<&str>, audience: Option<&str>) -> Self {
        Self::tokens(
            Some(secret),
            None,
            TokenSettings {
                issuer: issuer.map(str::to_owned),
                audience: audience.map(str::to_owned),
                ..TokenSettings::default()
            },
        )
    }

    /// JWT verification with the HS256 `secret` and/or an identity provider's keys.
    pub fn tokens(
        secret: Option<&Secret>,
        provider: Option<Arc<ProviderKeys>>,
        settings: TokenSettings,
    ) -> Self {
        Self {
            mode: Mode::Tokens(Arc::new(Tokens {
                secret: secret.map(|s| DecodingKey::from_secret(s.expose().as_bytes())),
                provider,
                settings,
                verified: Mutex::new(HashMap::new()),
            })),
            failures: FailureLog::default(),
        }
    }

    /// Trusts the `x-user-id` metadata. Only for a server on a loopback address.
    pub fn development() -> Self {
        Self {
            mode: Mode::Development,
            failures: FailureLog::default(),
        }
    }

    pub fn is_development(&self) -> bool {
        matches!(self.mode, Mode::Development)
    }

    /// The caller named by `headers`; a refusal is logged (rate-limited).
    pub async fn authenticate(&self, headers: &http::HeaderMap) -> Result<UserId, AppError> {
        let result = match &self.mode {
            Mode::Tokens(tokens) => tokens.verify(headers).await,
            Mode::Development => development_user(headers),
        };
        result.map_err(|(failure, err)| {
            let detail = match &err {
                AppError::Unauthenticated(message) => message.clone(),
                other => other.to_string(),
            };
            self.failures.record(failure, &detail);
            err
        })
    }
}

type Refusal = (Failure, AppError);

fn missing(message: &str) -> Refusal {
    (Failure::Missing, unauthenticated(message))
}

fn invalid(message: &str) -> Refusal {
    (Failure::Invalid, unauthenticated(message))
}

fn development_user(headers: &http::HeaderMap) -> Result<UserId, Refusal> {
    let raw = headers
        .get(DEV_USER_HEADER)
        .ok_or_else(|| missing("missing x-user-id metadata (the server runs in development mode without a JWT secret)"))?
        .to_str()
        .map_err(|_| missing("the x-user-id metadata is not ASCII"))?;
    UserId::parse(raw).map_err(|e| missing(&format!("invalid x-user-id: {e}")))
}

fn bearer(headers: &http::HeaderMap) -> Result<&str, Refusal> {
    let header = headers
        .get("authorization")
        .ok_or_else(|| {
            missing("missing authorization metadata: send `authorization: Bearer <JWT>`")
        })?
        .to_str()
        .map_err(|_| missing("the authorization metadata is not ASCII"))?;
    Ok(header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or_else(|| missing("the authorization metadata must be `Bearer <JWT>`"))?
        .trim())
}

impl Tokens {
    async fn verify(&self, headers: &http::HeaderMap) -> Result<UserId, Refusal> {
        let token = bearer(headers)?;
        if let Some(user) = self.already_verified(token) {
            return Ok(user);
        }
        let header = decode_header(token)
            .map_err(|e| invalid(&format!("invalid token: {}", token_problem(&e))))?;
        let generation = match (&self.provider, header.alg) {
            (_, Algorithm::HS256) | (None, _) => None,
            (Some(provider), _) => Some(provider.generation()),
        };
        let key = self.key_for(header.alg, header.kid.as_deref()).await?;
        let claims = decode::<Claims>(token, &key, &self.validation(header.alg))
            .map_err(|e| invalid(&format!("invalid token: {}", token_problem(&e))))?
            .claims;
        let user = UserId::parse(&claims.sub)
            .map_err(|e| invalid(&format!("the token's subject is not a valid user id: {e}")))?;
        self.remember(token, &claims, &user, generation);
        Ok(user)
    }

    /// The user of `token` if it was verified before and is still within its times.
    fn already_verified(&self, token: &str) -> Option<UserId> {
        let verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = verified.get(token)?;
        let now = jsonwebtoken::get_current_timestamp();
        let current = match (entry.generation, &self.provider) {
            (None, _) => true,
            (Some(generation), Some(provider)) => generation == provider.generation(),
            (Some(_), None) => false,
        };
        let leeway = self.settings.leeway_seconds;
        let in_time = now <= entry.exp.saturating_add(leeway)
            && entry
                .nbf
                .is_none_or(|nbf| nbf <= now.saturating_add(leeway));
        (current && in_time).then(|| entry.user.clone())
    }

    fn remember(&self, token: &str, claims: &Claims, user: &UserId, generation: Option<u64>) {
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(
            token.to_owned(),
            Verified {
                user: user.clone(),
                exp: claims.exp.max(0.0) as u64,
                nbf: claims.nbf.map(|nbf| nbf.max(0.0).ceil() as u64),
                generation,
            },
        );
    }

    async fn key_for(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<Arc<DecodingKey>, Refusal> {
        if alg == Algorithm::HS256 {
            return match &self.secret {
                Some(secret) => Ok(Arc::new(secret.clone())),
                None => Err(invalid(
                    "invalid token: HS256 tokens are not accepted here (no shared secret is configured)",
                )),
            };
        }
        if !PROVIDER_ALGORITHMS.contains(&alg) {
            return Err(invalid(&format!(
                "invalid token: the algorithm {alg:?} is not accepted"
            )));
        }
        let Some(provider) = &self.provider else {
            return Err(invalid(&format!(
                "invalid token: {alg:?} tokens are not accepted here (no identity provider is configured)"
            )));
        };
        provider
            .key_for(kid, alg)
            .await
            .map_err(|lookup| match lookup {
                KeyLookup::Unknown => (
                    Failure::UnknownKey,
                    unauthenticated(&format!(
                        "invalid token: the identity provider publishes no {alg:?} key{}",
                        kid.map(|k| format!(" with kid {:?}", excerpt(k)))
                            .unwrap_or_default()
                    )),
                ),
                KeyLookup::Unavailable(cause) => {
                    (Failure::KeysUnavailable, AppError::IdentityProvider(cause))
                }
            })
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.settings.leeway_seconds;
        if let Some(issuer) = &self.settings.issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".into());
        }
        match &self.settings.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.required_spec_claims.insert("aud".into());
            }
            None => validation.validate_aud = false,
        }
        validation
    }
}

fn excerpt(text: &str) -> String {
    text.chars().take(64).collect()
}

/// What is wrong with a token, without quoting it: JSON errors quote the header or claims
/// text they could not read, which is the caller's, so they are named only by kind.
fn token_problem(err: &jsonwebtoken::errors::Error) -> String {
    match err.kind() {
        jsonwebtoken::errors::ErrorKind::Json(_) => {
            "its header or claims are not the JSON a token holds".to_owned()
        }
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{Authenticator, Mode, TokenSettings, Verified};
    use crate::config::Secret;
    use crate::domain::UserId;

    fn tokens_with(settings: TokenSettings) -> std::sync::Arc<super::Tokens> {
        let secret = Secret::new("a-secret-for-the-unit-tests-of-32-bytes");
        match Authenticator::tokens(Some(&secret), None, settings).mode {
            Mode::Tokens(tokens) => tokens,
            Mode::Development => unreachable!("tokens were configured"),
        }
    }

    fn remembered(exp: u64, nbf: Option<u64>, generation: Option<u64>) -> Verified {
        Verified {
            user: UserId::parse("alice").expect("a user"),
            exp,
            nbf,
            generation,
        }
    }

    fn tokens() -> std::sync::Arc<super::Tokens> {
        tokens_with(TokenSettings::default())
    }

    #[test]
    fn a_remembered_token_counts_only_within_its_times_and_key_set() {
        let tokens = tokens();
        let now = jsonwebtoken::get_current_timestamp();
        let cases = [
            ("fresh", remembered(now + 600, None, None), true),
            ("within the leeway", remembered(now - 10, None, None), true),
            ("expired since", remembered(now - 100, None, None), false),
            (
                "not yet valid",
                remembered(now + 600, Some(now + 100), None),
                false,
            ),
            (
                "verified under a provider's keys, none now",
                remembered(now + 600, None, Some(1)),
                false,
            ),
        ];
        for (token, entry, counts) in cases {
            tokens
                .verified
                .lock()
                .expect("the cache")
                .insert(token.to_owned(), entry);
            assert_eq!(tokens.already_verified(token).is_some(), counts, "{token}");
        }
        assert!(tokens.already_verified("never seen").is_none());
    }

    #[test]
    fn a_remembered_token_follows_the_configured_leeway() {
        let now = jsonwebtoken::get_current_timestamp();
        for (leeway, expired_since, counts) in [(0, 1, false), (120, 100, true), (120, 130, false)]
        {
            let tokens = tokens_with(TokenSettings {
                leeway_seconds: leeway,
                ..TokenSettings::default()
            });
            tokens
                .verified
                .lock()
                .expect("the cache")
                .insert("t".to_owned(), remembered(now - expired_since, None, None));
            assert_eq!(
                tokens.already_verified("t").is_some(),
                counts,
                "leeway {leeway}, expired {expired_since} s ago"
            );
            tokens.verified.lock().expect("the cache").insert(
                "n".to_owned(),
                remembered(now + 600, Some(now + expired_since), None),
            );
            assert_eq!(
                tokens.already_verified("n").is_some(),
                counts,
                "leeway {leeway}, valid in {expired_since} s"
            );
        }
    }
}
