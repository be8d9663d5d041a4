//! Faults a test can switch on and off while the double runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::DaprDouble;

/// The fault switches, shared by every clone of a [`DaprDouble`].
#[derive(Default)]
pub(crate) struct Faults {
    down: AtomicBool,
    delay_us: AtomicU64,
    fail_next: AtomicU64,
    bulk_unimplemented: AtomicBool,
    fail_bulk_entries: AtomicU64,
    bulk_failures_fail_call: AtomicBool,
    stable_jobs_unimplemented: AtomicBool,
}

impl Faults {
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    pub(crate) fn delay(&self) -> Duration {
        Duration::from_micros(self.delay_us.load(Ordering::SeqCst))
    }

    /// Takes one of the "fail the next n publish calls" tokens, if any is left.
    pub(crate) fn take_publish_failure(&self) -> bool {
        take_one(&self.fail_next)
    }

    pub(crate) fn bulk_unimplemented(&self) -> bool {
        self.bulk_unimplemented.load(Ordering::SeqCst)
    }

    /// Takes one of the "fail the next n bulk entries" tokens, if any is left.
    pub(crate) fn take_bulk_entry_failure(&self) -> bool {
        take_one(&self.fail_bulk_entries)
    }

    pub(crate) fn stable_jobs_unimplemented(&self) -> bool {
        self.stable_jobs_unimplemented.load(Ordering::SeqCst)
    }

    pub(crate) fn bulk_failures_fail_call(&self) -> bool {
        self.bulk_failures_fail_call.load(Ordering::SeqCst)
    }
}

fn take_one(counter: &AtomicU64) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl DaprDouble {
    /// While `true`, every call to the double answers `Unavailable` (the socket stays open;
    /// use [`stop`](Self::stop) for connection refused).
    pub fn set_down(&self, down: bool) {
        self.shared.faults.down.store(down, Ordering::SeqCst);
    }

    /// While `true`, the stable `ScheduleJob`/`DeleteJob` answer `Unimplemented`, as on daprd
    /// 1.16 and 1.17, whose only Jobs API is the `*Alpha1` calls.
    pub fn set_stable_jobs_unimplemented(&self, unimplemented: bool) {
        self.shared
            .faults
            .stable_jobs_unimplemented
            .store(unimplemented, Ordering::SeqCst);
    }

    /// Sleeps this long before answering every call (`Duration::ZERO` turns it off).
    pub fn set_delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.shared.faults.delay_us.store(micros, Ordering::SeqCst);
    }

    /// The next `n` publish calls (`PublishEvent` or a whole bulk call) answer `Internal`
    /// without storing anything, as daprd does when the broker refuses the message.
    pub fn fail_next(&self, n: u64) {
        self.shared.faults.fail_next.store(n, Ordering::SeqCst);
    }

    /// While `true`, `BulkPublishEvent` and `BulkPublishEventAlpha1` answer `Unimplemented`
    /// (an older daprd, or a gateway that lacks them), so the app must fall back to
    /// `PublishEvent`.
    pub fn set_bulk_unimplemented(&self, unimplemented: bool) {
        self.shared
            .faults
            .bulk_unimplemented
            .store(unimplemented, Ordering::SeqCst);
    }

    /// The next `n` bulk entries (across calls) fail: they are listed in `failed_entries` and
    /// not stored.
    pub fn fail_bulk_entries(&self, n: u64) {
        self.shared
            .faults
            .fail_bulk_entries
            .store(n, Ordering::SeqCst);
    }

    /// How a bulk call with failed entries answers. `false` (the default): the call succeeds and
    /// lists them in `failed_entries`. `true`: what daprd does with the **Kafka** component — the
    /// other entries are stored, but the whole call fails with `Internal` and an empty response,
    /// so the app cannot tell which entries made it (Kafka's `BulkPublish` returns an error for
    /// any failed message and `bulkPublishEvent` then drops the per-entry list).
    pub fn set_bulk_failures_fail_call(&self, fail_call: bool) {
        self.shared
            .faults
            .bulk_failures_fail_call
            .store(fail_call, Ordering::SeqCst);
    }
}
