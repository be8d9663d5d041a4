//! The deliveries this process could not handle yet (answered RETRY or DROP), by event id: when
//! the event comes back from the dead-letter topic, its dead letter says how often and why it
//! failed. Kept in memory and bounded; a failure seen by another replica is not known here.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// How many events' failures are remembered (the oldest are forgotten first).
const REMEMBERED: usize = 10_000;
/// The longest reason kept, in characters.
const REASON_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failures {
    pub attempts: u32,
    pub last_reason: String,
}

#[derive(Debug, Default)]
pub struct FailureLog {
    inner: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    by_event: HashMap<String, Failures>,
    order: VecDeque<String>,
}

impl FailureLog {
    /// Counts one more failed delivery of `event_id`.
    pub fn record(&self, event_id: &str, reason: &str) {
        let Ok(mut log) = self.inner.lock() else {
            return;
        };
        let reason: String = reason.chars().take(REASON_CHARS).collect();
        if let Some(entry) = log.by_event.get_mut(event_id) {
            entry.attempts = entry.attempts.saturating_add(1);
            entry.last_reason = reason;
            return;
        }
        if log.order.len() >= REMEMBERED
            && let Some(oldest) = log.order.pop_front()
        {
            log.by_event.remove(&oldest);
        }
        log.order.push_back(event_id.to_owned());
        log.by_event.insert(
            event_id.to_owned(),
            Failures {
                attempts: 1,
                last_reason: reason,
            },
        );
    }

    /// What is known of `event_id`'s failures.
    pub fn get(&self, event_id: &str) -> Option<Failures> {
        self.inner.lock().ok()?.by_event.get(event_id).cloned()
    }

    /// Forgets `event_id` (handled at last).
    pub fn forget(&self, event_id: &str) {
        if let Ok(mut log) = self.inner.lock()
            && log.by_event.remove(event_id).is_some()
        {
            log.order.retain(|id| id != event_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_attempts_and_keeps_the_last_reason() {
        let log = FailureLog::default();
        log.record("e1", "database unavailable");
        log.record("e1", "cannot be applied: not found");
        assert_eq!(
            log.get("e1"),
            Some(Failures {
                attempts: 2,
                last_reason: "cannot be applied: not found".into()
            })
        );
        log.forget("e1");
        assert_eq!(log.get("e1"), None);
    }

    #[test]
    fn forgets_the_oldest_beyond_its_bound() {
        let log = FailureLog::default();
        for i in 0..=REMEMBERED {
            log.record(&format!("e{i}"), "x");
        }
        assert_eq!(log.get("e0"), None);
        assert!(log.get(&format!("e{REMEMBERED}")).is_some());
    }
}
