//! Authentication failures in the log: why a call was refused, never the token itself, and at
//! most one line per kind of failure per window (with how many were left out), so a client
//! retrying a bad token, or someone trying tokens, cannot flood the log.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a kind of failure stays quiet after it was logged.
pub const QUIET_FOR: Duration = Duration::from_secs(60);

/// The kinds of failure, each rate-limited on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No credentials, or not in the expected form.
    Missing,
    /// A token that is not a JWT, or a JWT whose signature or claims do not verify.
    Invalid,
    /// A token whose key the identity provider does not publish.
    UnknownKey,
    /// The identity provider's keys could not be fetched.
    KeysUnavailable,
}

impl Failure {
    const ALL: usize = 4;

    fn index(self) -> usize {
        match self {
            Self::Missing => 0,
            Self::Invalid => 1,
            Self::UnknownKey => 2,
            Self::KeysUnavailable => 3,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Missing => "missing_credentials",
            Self::Invalid => "invalid_token",
            Self::UnknownKey => "unknown_key",
            Self::KeysUnavailable => "keys_unavailable",
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Slot {
    logged: Option<Instant>,
    suppressed: u64,
}

/// The failures one authenticator has logged.
#[derive(Debug, Default, Clone)]
pub struct FailureLog(Arc<Mutex<[Slot; Failure::ALL]>>);

impl FailureLog {
    /// Logs `failure` (`detail` is the refusal's message, which never quotes the token) unless
    /// the same kind was logged less than [`QUIET_FOR`] ago; then it is only counted.
    pub fn record(&self, failure: Failure, detail: &str) {
        let now = Instant::now();
        let suppressed = {
            let mut slots = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            let slot = &mut slots[failure.index()];
            if slot
                .logged
                .is_some_and(|at| now.duration_since(at) < QUIET_FOR)
            {
                slot.suppressed += 1;
                return;
            }
            slot.logged = Some(now);
            std::mem::take(&mut slot.suppressed)
        };
        tracing::warn!(
            target: "taskflow::auth",
            reason = failure.name(),
            detail,
            suppressed,
            "a call was refused: authentication failed"
        );
    }
}
