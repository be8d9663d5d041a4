//! Who is calling: a verified JWT (`authorization: Bearer …`; HS256 with the shared secret,
//! or RS/PS/ES/EdDSA with an identity provider's published keys; `sub` = user id), or in
//! development mode the `x-user-id` metadata. The result travels in the request extensions.

mod dev_token;
mod failures;
mod layer;
mod provider;
mod verify;

use tonic::Request;

use crate::domain::UserId;
use crate::error::AppError;

pub use dev_token::mint as mint_dev_token;
pub use failures::{FailureLog, QUIET_FOR};
pub use layer::{AuthLayer, Authenticated};
pub use provider::{KeySource, ProviderKeys};
pub use verify::{Authenticator, TokenSettings};

/// The metadata key that names the user in development mode.
pub const DEV_USER_HEADER: &str = "x-user-id";

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub UserId);

fn unauthenticated(message: &str) -> AppError {
    AppError::Unauthenticated(message.to_owned())
}

/// The caller recorded by the authentication layer.
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
