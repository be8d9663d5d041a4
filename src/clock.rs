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

/// A random duration between half of `base` and `base`: spreads retries and periodic work
/// of replicas that would otherwise run in step.
pub fn jitter(base: std::time::Duration) -> std::time::Duration {
    let random = uuid::Uuid::new_v4().as_u128() as u64;
    let half = base / 2;
    half + std::time::Duration::from_nanos(random % (half.as_nanos() as u64).max(1))
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn jitter_stays_within_half_and_full() {
        for _ in 0..100 {
            let pause = super::jitter(Duration::from_millis(200));
            assert!(pause >= Duration::from_millis(100) && pause <= Duration::from_millis(200));
        }
    }
}
