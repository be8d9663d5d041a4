//! Faults a test can switch on and off while the double runs. (What daprd itself does — its
//! version's RPCs, retries, limits — is configuration, not a fault: see `DaprDoubleConfig`.)

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

    /// While `true`, the stable Jobs RPCs (`ScheduleJob`, `DeleteJob`, `GetJob`, `ListJobs`,
    /// `DeleteJobsByPrefix`) are missing, as on daprd 1.16 and 1.17 whose only Jobs API is the
    /// `*Alpha1` calls — so they answer as daprd answers a missing method: `Unknown`, "failed to
    /// proxy request: …" ([`PROXY_ERROR`](crate::PROXY_ERROR)), not `Unimplemented`. A run-time
    /// switch (a sidecar downgraded under a running app); to start as 1.16 or 1.17 set
    /// [`DaprDoubleConfig::version`](crate::DaprDoubleConfig::version) instead.
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

    /// While `true`, `BulkPublishEvent` and `BulkPublishEventAlpha1` are both missing, as on a
    /// daprd older than every supported line (before 1.10 there was no bulk publish): they answer
    /// as daprd answers a missing method — `Unknown`, "failed to proxy request: …"
    /// ([`PROXY_ERROR`](crate::PROXY_ERROR)), not `Unimplemented` — so the app must fall back to
    /// `PublishEvent`. (The stable `BulkPublishEvent` alone is missing on 1.16: set
    /// [`DaprDoubleConfig::version`](crate::DaprDoubleConfig::version).)
    pub fn set_bulk_unimplemented(&self, unimplemented: bool) {
        self.shared
            .faults
            .bulk_unimplemented
            .store(unimplemented, Ordering::SeqCst);
    }

    /// The next `n` bulk entries (across calls) fail to reach the broker and are not stored; the
    /// other entries of the call are. With the Kafka component (the default) the call then
    /// answers `Internal` with no `failed_entries`, so the app cannot tell which entries made
    /// it; only with [`PubsubComponent::ReportsFailedEntries`](crate::PubsubComponent) does it
    /// succeed and list them in `failed_entries`.
    pub fn fail_bulk_entries(&self, n: u64) {
        self.shared
            .faults
            .fail_bulk_entries
            .store(n, Ordering::SeqCst);
    }
}
