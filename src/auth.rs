//! Who is calling: a verified JWT (`authorization: Bearer …`, HS256, `sub` = user id), or in
//! development mode the `x-user-id` metadata. The result travels in the request extensions.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::Deserialize;
use tonic::{Request, Status, metadata::MetadataMap};

use crate::config::Secret;
use crate::domain::UserId;
use crate::error::AppError;

/// The metadata key that names the user in development mode.
pub const DEV_USER_HEADER: &str = "x-user-id";

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub UserId);

#[derive(Clone)]
enum Mode {
    Jwt {
        key: DecodingKey,
        validation: Box<Validation>,
    },
    Development,
}

/// How far the server's clock may disagree with the token issuer's, in seconds: a token is
/// accepted until `exp` + leeway and from `nbf` − leeway on.
pub const CLOCK_LEEWAY_SECONDS: u64 = 30;

/// Verifies credentials; cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    mode: Mode,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.mode {
            Mode::Jwt { .. } => "jwt",
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
}

impl Authenticator {
    /// JWT verification with an HS256 secret (no other algorithm is accepted): `exp` and
    /// `sub` are required, `nbf` is honoured when present, `iss` and `aud` are checked when
    /// given; times allow [`CLOCK_LEEWAY_SECONDS`] of clock skew.
    pub fn jwt(secret: &Secret, issuer: Option<&str>, audience: Option<&str>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = CLOCK_LEEWAY_SECONDS;
        if let Some(issuer) = issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".into());
        }
        match audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.required_spec_claims.insert("aud".into());
            }
            None => validation.validate_aud = false,
        }
        Self {
            mode: Mode::Jwt {
                key: DecodingKey::from_secret(secret.expose().as_bytes()),
                validation: Box::new(validation),
            },
        }
    }

    /// Trusts the `x-user-id` metadata. Only for a server on a loopback address.
    pub fn development() -> Self {
        Self {
            mode: Mode::Development,
        }
    }

    pub fn is_development(&self) -> bool {
        matches!(self.mode, Mode::Development)
    }

    pub fn authenticate(&self, metadata: &MetadataMap) -> Result<UserId, AppError> {
        match &self.mode {
            Mode::Jwt { key, validation } => {
                let header = metadata
                    .get("authorization")
                    .ok_or_else(|| {
                        unauthenticated(
                            "missing authorization metadata: send `authorization: Bearer <JWT>`",
                        )
                    })?
                    .to_str()
                    .map_err(|_| unauthenticated("the authorization metadata is not ASCII"))?;
                let token = header
                    .strip_prefix("Bearer ")
                    .or_else(|| header.strip_prefix("bearer "))
                    .ok_or_else(|| {
                        unauthenticated("the authorization metadata must be `Bearer <JWT>`")
                    })?
                    .trim();
                let claims = decode::<Claims>(token, key, validation)
                    .map_err(|e| unauthenticated(&format!("invalid token: {}", token_problem(&e))))?
                    .claims;
                UserId::parse(&claims.sub).map_err(|e| {
                    unauthenticated(&format!("the token's subject is not a valid user id: {e}"))
                })
            }
            Mode::Development => {
                let raw = metadata
                    .get(DEV_USER_HEADER)
                    .ok_or_else(|| unauthenticated("missing x-user-id metadata (the server runs in development mode without a JWT secret)"))?
                    .to_str()
                    .map_err(|_| unauthenticated("the x-user-id metadata is not ASCII"))?;
                UserId::parse(raw).map_err(|e| unauthenticated(&format!("invalid x-user-id: {e}")))
            }
        }
    }

    /// A tonic interceptor that authenticates every call and records the [`Caller`].
    pub fn interceptor(&self) -> AuthInterceptor {
        AuthInterceptor(self.clone())
    }
}

/// Authenticates every call and records the [`Caller`] in the request's extensions.
#[derive(Debug, Clone)]
pub struct AuthInterceptor(Authenticator);

impl tonic::service::Interceptor for AuthInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let user = self
            .0
            .authenticate(request.metadata())
            .map_err(Status::from)?;
        if let Some(slot) = request
            .extensions()
            .get::<crate::tracecontext::CallerSlot>()
        {
            slot.fill(user.as_str());
        }
        request.extensions_mut().insert(Caller(user));
        Ok(request)
    }
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

fn unauthenticated(message: &str) -> AppError {
    AppError::Unauthenticated(message.to_owned())
}

/// The caller recorded by the interceptor.
pub fn caller<T>(request: &Request<T>) -> Result<UserId, AppError> {
    request
        .extensions()
        .get::<Caller>()
        .map(|c| c.0.clone())
        .ok_or_else(|| unauthenticated("the request was not authenticated"))
}

/// Fails with `PermissionDenied` unless `owner` is the caller.
pub fn ensure_owner(caller: &UserId, owner: &UserId) -> Result<(), AppError> {
    if caller == owner {
        Ok(())
    } else {
        Err(AppError::PermissionDenied(format!(
            "user {caller} may not access resources of user {owner}"
        )))
    }
}
