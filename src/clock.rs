//! The current time: [`now`] at the storage precision, the system clock in production, and a
//! clock the tests move.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};
use tokio::sync::Notify;

/// The current time at the storage precision (microseconds), so that what a call returns
/// equals what a later read returns.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// Notified whenever the time jumps (a manual clock); `None` for a clock that only flows.
    fn jumps(&self) -> Option<Arc<Notify>> {
        None
    }
}

/// The system clock, at the storage precision (microseconds).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        now()
    }
}

/// A clock that stands still until moved: for tests of anything scheduled hours ahead.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    jumped: Arc<Notify>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
            jumped: Arc::new(Notify::new()),
        }
    }

    /// Moves the clock forward and wakes whatever waits on it.
    pub fn advance(&self, by: Duration) {
        {
            let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
            *now += by;
        }
        self.jumped.notify_waiters();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn jumps(&self) -> Option<Arc<Notify>> {
        Some(self.jumped.clone())
    }
}
