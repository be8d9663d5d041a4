//! The one error type of taskflow and its single mapping to `tonic::Status`.
//!
//! Policy: domain and store code return [`AppError`]; the gRPC layer converts it with
//! `Status::from`, which is also the one place where internal faults are logged. Callers
//! see the cause of their own mistakes (field violations, names) but never database text.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The error domain reported in every `google.rpc.ErrorInfo`.
pub const ERROR_DOMAIN: &str = "taskflow.v1";

/// How many characters of caller input an error message quotes, at most (escapes counted).
pub const EXCERPT_CHARS: usize = 100;

/// Caller input as an error message quotes it: Debug-quoted, and cut after
/// [`EXCERPT_CHARS`] characters (on a character boundary) with an ellipsis and the full
/// length, so that an error never grows with the input that caused it.
pub fn excerpt(raw: &str) -> String {
    let mut quoted = 0;
    let mut end = raw.len();
    for (at, c) in raw.char_indices() {
        quoted += c.escape_debug().count();
        if quoted > EXCERPT_CHARS {
            end = at;
            break;
        }
    }
    if end == raw.len() {
        format!("{raw:?}")
    } else {
        format!(
            "{:?}\u{2026} ({} characters)",
            &raw[..end],
            raw.chars().count()
        )
    }
}

/// Bounds on what one status carries, whatever its maker put in. gRPC refuses trailers
/// over 16 KiB (and C-core clients may refuse them from 8 KiB), and the message is sent
/// twice: percent-encoded in `grpc-message` (up to 3 bytes per byte) and inside the
/// base64-encoded `grpc-status-details-bin`. With these bounds the trailers stay under
/// 5 KiB.
const MAX_MESSAGE_BYTES: usize = 400;
const MAX_FIELD_BYTES: usize = 100;
const MAX_DESCRIPTION_BYTES: usize = 400;
/// The violations a status lists, at most, and their fields and descriptions in total.
const MAX_VIOLATIONS: usize = 20;
const MAX_VIOLATION_BYTES: usize = 2048;

/// `text` cut to at most `max` bytes on a character boundary, ending in an ellipsis when cut.
fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let ellipsis = '\u{2026}';
    let mut end = max.saturating_sub(ellipsis.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ellipsis}", &text[..end])
}

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
    /// The resource is already in the state the call would bring it to (undeleting a task
    /// that is not deleted, AIP-164).
    #[error("already exists: {0}")]
    AlreadyExists(String),
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
    /// The identity provider's keys could not be fetched (the cause, for the log).
    #[error("identity provider unavailable: {0}")]
    IdentityProvider(String),
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
            Self::AlreadyExists(_) => "ALREADY_EXISTS",
            Self::Aborted(_) => "ETAG_MISMATCH",
            Self::FailedPrecondition(_) => "FAILED_PRECONDITION",
            Self::Unavailable(_) => "DATABASE_UNAVAILABLE",
            Self::Sidecar(_) => "SIDECAR_UNAVAILABLE",
            Self::IdentityProvider(_) => "IDENTITY_PROVIDER_UNAVAILABLE",
            Self::Database(_) | Self::Internal(_) => "INTERNAL",
        }
    }

    /// True for faults that go away by themselves (a retry may succeed).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_) | Self::Sidecar(_) | Self::IdentityProvider(_)
        )
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
/// the statement. A connection found broken is noted (see [`connection_fault_within`]); a
/// pool with no connection free in time is not (it is busy, or the database unreachable).
pub fn is_transient(err: &sea_orm::DbErr) -> bool {
    let fault = db_fault(err);
    if matches!(fault, Some(ConnectionFault::Broken)) {
        note_connection_fault();
    }
    fault.is_some()
}

/// Why the database could not be reached, if that is what `err` says.
enum ConnectionFault {
    /// No connection was free in time, or the pool is closing.
    Busy,
    /// The connection failed or the server ended the session.
    Broken,
}

fn db_fault(err: &sea_orm::DbErr) -> Option<ConnectionFault> {
    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};
    match err {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => Some(ConnectionFault::Busy),
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Some(ConnectionFault::Broken),
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            connection_fault(e)
        }
        _ => None,
    }
}

fn connection_fault(err: &sea_orm::sqlx::Error) -> Option<ConnectionFault> {
    use sea_orm::sqlx::Error;
    match err {
        Error::PoolTimedOut | Error::PoolClosed => Some(ConnectionFault::Busy),
        Error::Io(_) | Error::WorkerCrashed => Some(ConnectionFault::Broken),
        // The server ended the session: class 08 (connection exception), or 57P01–57P03
        // (administrator or crash shutdown, not accepting connections yet).
        Error::Database(e) => e
            .code()
            .is_some_and(|code| {
                code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
            })
            .then_some(ConnectionFault::Broken),
        _ => None,
    }
}

/// When a database connection was last found broken: milliseconds since [`fault_epoch`],
/// plus one (0: never).
static LAST_CONNECTION_FAULT: AtomicU64 = AtomicU64::new(0);

fn fault_epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn note_connection_fault() {
    let ms = u64::try_from(fault_epoch().elapsed().as_millis()).unwrap_or(u64::MAX - 1);
    LAST_CONNECTION_FAULT.store(ms + 1, Ordering::Relaxed);
}

/// Whether a database connection was found broken in the last `window`: after a restart of
/// the database, the other pooled connections are likely broken too (the pool then tests each
/// before handing it out).
pub fn connection_fault_within(window: Duration) -> bool {
    match LAST_CONNECTION_FAULT.load(Ordering::Relaxed) {
        0 => false,
        at => {
            let now = u64::try_from(fault_epoch().elapsed().as_millis()).unwrap_or(u64::MAX);
            now.saturating_sub(at - 1) <= u64::try_from(window.as_millis()).unwrap_or(u64::MAX)
        }
    }
}

/// The violations a status reports: each bounded, as many as fit the bounds, in order;
/// with how many were left out.
fn reported(violations: &[FieldViolation]) -> (Vec<FieldViolation>, usize) {
    let mut kept = Vec::new();
    let mut bytes = 0;
    for v in violations.iter().take(MAX_VIOLATIONS) {
        let v = FieldViolation {
            field: bounded(&v.field, MAX_FIELD_BYTES),
            description: bounded(&v.description, MAX_DESCRIPTION_BYTES),
        };
        bytes += v.field.len() + v.description.len();
        if bytes > MAX_VIOLATION_BYTES {
            break;
        }
        kept.push(v);
    }
    let left_out = violations.len() - kept.len();
    (kept, left_out)
}

impl From<AppError> for Status {
    fn from(err: AppError) -> Self {
        let violations = match &err {
            AppError::InvalidArgument(all) => reported(all),
            _ => (Vec::new(), 0),
        };
        let (code, message) = match &err {
            AppError::InvalidArgument(_) => {
                let (kept, left_out) = &violations;
                let more = if *left_out > 0 {
                    format!(" (and {left_out} more)")
                } else {
                    String::new()
                };
                let listed = bounded(
                    &format!("invalid argument: {}", describe(kept)),
                    MAX_MESSAGE_BYTES - more.len(),
                );
                (Code::InvalidArgument, format!("{listed}{more}"))
            }
            AppError::Unauthenticated(m) => (Code::Unauthenticated, m.clone()),
            AppError::PermissionDenied(m) => (Code::PermissionDenied, m.clone()),
            AppError::NotFound(_) => (Code::NotFound, err.to_string()),
            AppError::AlreadyExists(m) => (Code::AlreadyExists, m.clone()),
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
            AppError::IdentityProvider(cause) => {
                tracing::warn!(error = %cause, "identity provider unavailable");
                (
                    Code::Unavailable,
                    "the identity provider's keys are not available yet; retry later".to_owned(),
                )
            }
            AppError::Database(_) | AppError::Internal(_) => {
                tracing::error!(error = %ChainDisplay(&err), "internal error");
                (Code::Internal, "internal error".to_owned())
            }
        };
        let message = bounded(&message, MAX_MESSAGE_BYTES);
        let mut details = ErrorDetails::new();
        details.set_error_info(
            err.reason(),
            ERROR_DOMAIN,
            std::collections::HashMap::<String, String>::new(),
        );
        for v in violations.0 {
            details.add_bad_request_violation(v.field, v.description);
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
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(description) => {
                self.add(field, description.to_string());
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

    /// How many violations were recorded so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::StatusExt;

    use super::*;

    #[test]
    fn excerpts_quote_short_input_whole_and_cut_long_input() {
        assert_eq!(excerpt("Mars/Olympus"), "\"Mars/Olympus\"");
        assert_eq!(excerpt("a\"b\n"), "\"a\\\"b\\n\"");
        let exact = "x".repeat(EXCERPT_CHARS);
        assert_eq!(excerpt(&exact), format!("{exact:?}"));

        let long = "é".repeat(5000);
        let cut = excerpt(&long);
        assert_eq!(
            cut,
            format!("{:?}\u{2026} (5000 characters)", "é".repeat(EXCERPT_CHARS))
        );
        // Escapes count against the bound: a control character is quoted as \u{1b}.
        let escaped = excerpt(&"\u{1b}".repeat(1000));
        assert!(escaped.len() < EXCERPT_CHARS + 40, "{escaped}");
        assert!(escaped.ends_with("\u{2026} (1000 characters)"), "{escaped}");
    }

    #[test]
    fn statuses_stay_small_whatever_their_maker_put_in() {
        let huge = "ü".repeat(10_000);
        let many = (0..1000)
            .map(|i| FieldViolation {
                field: format!("field{i}.{huge}"),
                description: huge.clone(),
            })
            .collect();
        let status = Status::from(AppError::InvalidArgument(many));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().len() <= MAX_MESSAGE_BYTES,
            "{}",
            status.message()
        );
        assert!(status.message().ends_with(" more)"), "{}", status.message());
        let violations = status
            .get_details_bad_request()
            .expect("a BadRequest detail")
            .field_violations;
        assert!(!violations.is_empty() && violations.len() <= MAX_VIOLATIONS);
        for v in &violations {
            assert!(v.field.len() <= MAX_FIELD_BYTES && v.field.starts_with("field"));
            assert!(v.description.len() <= MAX_DESCRIPTION_BYTES);
        }
        let mut headers = http::HeaderMap::new();
        status.add_header(&mut headers).expect("the status encodes");
        let size: usize = headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum();
        assert!(size < 5 * 1024, "{size} bytes of trailers");

        for err in [
            AppError::NotFound(huge.clone()),
            AppError::Unauthenticated(huge.clone()),
            AppError::PermissionDenied(huge.clone()),
            AppError::Aborted(huge.clone()),
            AppError::FailedPrecondition(huge.clone()),
        ] {
            let status = Status::from(err);
            assert!(status.message().len() <= MAX_MESSAGE_BYTES);
            assert!(status.message().ends_with('\u{2026}'));
        }
    }

    #[test]
    fn small_statuses_are_kept_whole() {
        let status = Status::from(AppError::invalid("task.title", "must not be empty"));
        assert_eq!(
            status.message(),
            "invalid argument: task.title: must not be empty"
        );
        let violations = status
            .get_details_bad_request()
            .expect("a BadRequest detail")
            .field_violations;
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "task.title");
        assert_eq!(violations[0].description, "must not be empty");
    }
}
