//! A circuit breaker: after consecutive failures it opens and calls fail at once; after a
//! cool-down one probe is let through, and its result closes or re-opens it. Opening and
//! closing are logged once each, so a dead sidecar is noticed once, not per call.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant, cooldown: Duration },
    HalfOpen { cooldown: Duration },
}

/// Where the breaker reads the time: the monotonic clock, or one a test moves.
type Now = Box<dyn Fn() -> Instant + Send + Sync>;

pub struct Breaker {
    name: &'static str,
    now: Now,
    threshold: u32,
    min_cooldown: Duration,
    max_cooldown: Duration,
    state: Mutex<State>,
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.name)
            .field("state", &*self.lock())
            .finish()
    }
}

impl Breaker {
    pub fn new(
        name: &'static str,
        threshold: u32,
        min_cooldown: Duration,
        max_cooldown: Duration,
    ) -> Self {
        Self::with_clock(
            name,
            threshold,
            min_cooldown,
            max_cooldown,
            Box::new(Instant::now),
        )
    }

    /// [`Breaker::new`] reading the time from `now`.
    fn with_clock(
        name: &'static str,
        threshold: u32,
        min_cooldown: Duration,
        max_cooldown: Duration,
        now: Now,
    ) -> Self {
        Self {
            name,
            now,
            threshold: threshold.max(1),
            min_cooldown,
            max_cooldown: max_cooldown.max(min_cooldown),
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a call may go ahead now. While half-open only the first caller probes.
    pub fn allow(&self) -> bool {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => true,
            State::Open { until, cooldown } if (self.now)() >= until => {
                *state = State::HalfOpen { cooldown };
                true
            }
            State::Open { .. } | State::HalfOpen { .. } => false,
        }
    }

    pub fn record_success(&self) {
        let mut state = self.lock();
        if !matches!(*state, State::Closed { .. }) {
            tracing::info!(target: "taskflow::sidecar", breaker = self.name, "reachable again; circuit closed");
        }
        *state = State::Closed { failures: 0 };
    }

    pub fn record_failure(&self, error: &str) {
        let mut state = self.lock();
        let open_for = match *state {
            State::Closed { failures } if failures + 1 >= self.threshold => Some(self.min_cooldown),
            State::Closed { failures } => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                None
            }
            State::HalfOpen { cooldown } => Some((cooldown * 2).min(self.max_cooldown)),
            State::Open { .. } => None,
        };
        if let Some(cooldown) = open_for {
            if matches!(*state, State::Closed { .. }) {
                tracing::warn!(
                    target: "taskflow::sidecar",
                    breaker = self.name,
                    error,
                    "unreachable after {} consecutive failures; circuit open, calls fail fast",
                    self.threshold
                );
            }
            *state = State::Open {
                until: (self.now)() + cooldown,
                cooldown,
            };
        }
    }

    #[cfg(test)]
    fn is_open(&self) -> bool {
        matches!(*self.lock(), State::Open { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_probes_after_cooldown() {
        let start = Instant::now();
        let elapsed = std::sync::Arc::new(std::sync::Mutex::new(Duration::ZERO));
        let clock = elapsed.clone();
        let advance = |by: Duration| {
            *elapsed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) += by;
        };
        let breaker = Breaker::with_clock(
            "test",
            3,
            Duration::from_millis(20),
            Duration::from_millis(80),
            Box::new(move || {
                start
                    + *clock
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
            }),
        );
        for _ in 0..2 {
            assert!(breaker.allow());
            breaker.record_failure("down");
        }
        assert!(!breaker.is_open());
        breaker.record_failure("down");
        assert!(breaker.is_open());
        assert!(!breaker.allow(), "open: calls fail fast");
        advance(Duration::from_millis(19));
        assert!(!breaker.allow(), "still cooling down");
        advance(Duration::from_millis(1));
        assert!(
            breaker.allow(),
            "after the cool-down one probe goes through"
        );
        assert!(!breaker.allow(), "only one probe at a time");
        breaker.record_failure("still down");
        assert!(breaker.is_open() && !breaker.allow());
        advance(Duration::from_millis(39));
        assert!(!breaker.allow(), "the cool-down doubled to 40 ms");
        advance(Duration::from_millis(1));
        assert!(breaker.allow());
        breaker.record_success();
        assert!(!breaker.is_open() && breaker.allow());
    }
}
