//! The one error type of taskflow and its single mapping to `tonic::Status`.
//!
//! Policy: domain and store code return [`AppError`]; the gRPC layer converts it with
//! `Status::from`, which is also the one place where internal faults are logged. Callers
//! see the cause of their own mistakes (field violations, names) but never database text.

use std::fmt;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The error domain reported in every `google.rpc.ErrorInfo`.
pub const ERROR_DOMAIN: &str = "taskflow.v1";

/// One invalid field of a request, named by its path (`task.title`, `page_size`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// Everything that can go wrong while serving a call or handling an event.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed; each violation names its field.
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// No credentials, or credentials that cannot be trusted.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The caller may not touch this resource.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The named resource does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A concurrency check failed (stale etag); reading again and retrying is safe.
    #[error("aborted: {0}")]
    Aborted(String),
    /// The system is not in a state where this call can succeed.
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    /// A dependency (the database) cannot be reached; the call may be retried.
    #[error("unavailable: {0}")]
    Unavailable(#[source] sea_orm::DbErr),
    /// The Dapr sidecar could not do what was asked; it may succeed later.
    #[error("sidecar: {0}")]
    Sidecar(String),
    /// A database fault that is not the caller's doing.
    #[error("database error: {0}")]
    Database(#[source] sea_orm::DbErr),
    /// Any other fault that is not the caller's doing.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// As a database error, for code that speaks `DbErr` (batch writers): database faults
    /// stay themselves, anything else becomes a custom error with its message.
    pub fn into_db_err(self) -> sea_orm::DbErr {
        match self {
            AppError::Unavailable(err) | AppError::Database(err) => err,
            other => sea_orm::DbErr::Custom(other.to_string()),
        }
    }
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AppError {
    /// A single field violation.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    /// The machine-readable reason reported in `google.rpc.ErrorInfo`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidArgument(_) => "INVALID_ARGUMENT",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::PermissionDenied(_) => "PERMISSION_DENIED",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Aborted(_) => "ETAG_MISMATCH",
            Self::FailedPrecondition(_) => "FAILED_PRECONDITION",
            Self::Unavailable(_) => "DATABASE_UNAVAILABLE",
            Self::Sidecar(_) => "SIDECAR_UNAVAILABLE",
            Self::Database(_) | Self::Internal(_) => "INTERNAL",
        }
    }

    /// True for faults that go away by themselves (a retry may succeed).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Sidecar(_))
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        if is_transient(&err) {
            Self::Unavailable(err)
        } else {
            Self::Database(err)
        }
    }
}

/// True when the database could not be reached (a retry may succeed), not when it refused
/// the statement.
pub fn is_transient(err: &sea_orm::DbErr) -> bool {
    use sea_orm::DbErr;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) => is_connection_fault(e),
        _ => false,
    }
}

fn is_connection_fault(err: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    matches!(
        err,
        Error::Io(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed
    )
}

impl From<AppError> for Status {
    fn from(err: AppError) -> Self {
        let (code, message) = match &err {
            AppError::InvalidArgument(_) => (Code::InvalidArgument, err.to_string()),
            AppError::Unauthenticated(m) => (Code::Unauthenticated, m.clone()),
            AppError::PermissionDenied(m) => (Code::PermissionDenied, m.clone()),
            AppError::NotFound(_) => (Code::NotFound, err.to_string()),
            AppError::Aborted(m) => (Code::Aborted, m.clone()),
            AppError::FailedPrecondition(m) => (Code::FailedPrecondition, m.clone()),
            AppError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                (
                    Code::Unavailable,
                    "the database is unavailable; retry later".to_owned(),
                )
            }
            AppError::Sidecar(cause) => {
                tracing::warn!(error = %cause, "sidecar unavailable");
                (
                    Code::Unavailable,
                    "the sidecar is unavailable; retry later".to_owned(),
                )
            }
            AppError::Database(_) | AppError::Internal(_) => {
                tracing::error!(error = %ChainDisplay(&err), "internal error");
                (Code::Internal, "internal error".to_owned())
            }
        };
        let mut details = ErrorDetails::new();
        details.set_error_info(
            err.reason(),
            ERROR_DOMAIN,
            std::collections::HashMap::<String, String>::new(),
        );
        if let AppError::InvalidArgument(violations) = &err {
            for v in violations {
                details.add_bad_request_violation(v.field.clone(), v.description.clone());
            }
        }
        Status::with_error_details(code, message, details)
    }
}

/// Displays an error followed by its chain of causes.
pub struct ChainDisplay<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ChainDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Collects field violations so that one response names every invalid field.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Keeps the value of a check, recording its violation under `field` if it failed.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(description) => {
                self.add(field, description);
                None
            }
        }
    }

    /// `Ok(value)` when nothing was recorded, otherwise every violation at once.
    pub fn finish<T>(self, value: T) -> Result<T, AppError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(AppError::InvalidArgument(self.0))
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
