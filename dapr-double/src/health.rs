//! daprd's app health checks (`dapr.io/enable-app-health-check`), as `dapr:pkg/apphealth/
//! health.go` and `pkg/runtime/runtime.go` `appHealthChanged` run them:
//!
//! - A probe is `AppCallbackHealthCheck/HealthCheck` every `interval` (a ticker: the first one
//!   an interval after start), with `timeout`; any error, the deadline included, is a failure
//!   (`pkg/channel/grpc/grpc_channel.go` `HealthProbe`). A timeout longer than the interval is
//!   refused at start (`pkg/runtime/config.go` `buildRuntimeConfig`).
//! - The app counts as unhealthy from the start (`New` stores `threshold` failures) until a
//!   probe succeeds. `threshold` failures make it unhealthy; one success makes it healthy
//!   (`setResult`). A success while it is healthy changes nothing, and in particular does not
//!   reset the failure count (`doProbe` reports only a change of status), so failures add up
//!   across healthy spells.
//! - Unhealthy: daprd stops the app's subscriptions (`processor/subscriber/subscriber.go`
//!   `StopAppSubscriptions`) and its job stream (`pkg/runtime/scheduler/scheduler.go`
//!   `StopApp`). No new message is handed to the app. A delivery already in its retry loop
//!   keeps going (its resiliency runner is on `context.Background()`,
//!   `pkg/runtime/subscription/subscription.go`); if its retries run out while the
//!   subscription is closed, the handler blocks on the consumer's context instead of failing,
//!   so the Kafka consumer does not mark the offset and the message comes again after the
//!   next subscribe (`contrib:common/component/kafka/consumer.go` "will be redelivered"):
//!   recorded as `Outcome::Interrupted`, never dead-lettered. Jobs that come due are answered
//!   UNDELIVERABLE by the Scheduler, staged, and triggered as soon as the app's stream is back
//!   (`pkg/scheduler/server/internal/pool/loops/connections/connections.go`; go-etcd-cron's
//!   staging queue), without counting against their failure policy.
//! - Healthy again: `StartAppSubscriptions` asks `ListTopicSubscriptions` again and subscribes
//!   anew; jobs flow again (`StartApp`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::DaprDouble;
use crate::double::Shared;
use crate::record::lock;

/// daprd's app health probe settings (`dapr.io/app-health-probe-interval`,
/// `app-health-probe-timeout`, `app-health-threshold`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppHealthProbe {
    pub interval: Duration,
    pub timeout: Duration,
    pub threshold: u32,
}

impl AppHealthProbe {
    /// daprd's defaults (`pkg/config/app_connection.go`): every 5 s, 500 ms timeout, 3 failures.
    pub fn daprd_default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            timeout: Duration::from_millis(500),
            threshold: 3,
        }
    }

    /// daprd refuses a timeout longer than the interval, and falls back to the defaults for
    /// zero values (`pkg/runtime/config.go` `buildRuntimeConfig`).
    pub(crate) fn effective(self) -> Result<Self, String> {
        let default = Self::daprd_default();
        let probe = Self {
            interval: if self.interval.is_zero() {
                default.interval
            } else {
                self.interval
            },
            timeout: if self.timeout.is_zero() {
                default.timeout
            } else {
                self.timeout
            },
            threshold: if self.threshold == 0 {
                default.threshold
            } else {
                self.threshold
            },
        };
        if probe.timeout > probe.interval {
            return Err(format!(
                "app health checks probe timeouts must be smaller than probe intervals \
                 ({:?} > {:?})",
                probe.timeout, probe.interval
            ));
        }
        Ok(probe)
    }
}

/// When the app's health, as the double saw it, changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthChange {
    pub at: Instant,
    pub healthy: bool,
}

/// The app's health as the double sees it: always healthy without probes.
pub(crate) struct AppHealth {
    probe: Option<AppHealthProbe>,
    healthy: watch::Sender<bool>,
    failures: Mutex<u32>,
    changes: Mutex<Vec<HealthChange>>,
}

impl AppHealth {
    pub(crate) fn new(probe: Option<AppHealthProbe>) -> Self {
        Self {
            probe,
            healthy: watch::Sender::new(probe.is_none()),
            failures: Mutex::new(probe.map_or(0, |p| p.threshold)),
            changes: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn is_healthy(&self) -> bool {
        *self.healthy.borrow()
    }

    /// `setResult` after `doProbe`'s "only report if the status has changed"; true when the app
    /// just became healthy.
    fn record(&self, ok: bool) -> bool {
        let Some(probe) = self.probe else {
            return false;
        };
        let mut failures = lock(&self.failures);
        let change = if ok {
            if *failures < probe.threshold {
                return false;
            }
            *failures = 0;
            true
        } else {
            *failures = failures.saturating_add(1);
            *failures == probe.threshold
        };
        if change {
            let healthy = ok;
            self.healthy.send_replace(healthy);
            lock(&self.changes).push(HealthChange {
                at: Instant::now(),
                healthy,
            });
        }
        change && ok
    }
}

impl Shared {
    /// Waits while the app is unhealthy.
    pub(crate) async fn wait_healthy(&self) {
        let mut healthy = self.health.healthy.subscribe();
        // The sender lives as long as `self`, so this only ends when healthy.
        let _ = healthy.wait_for(|h| *h).await;
    }

    /// The probe loop (started only with `DaprDoubleConfig::app_health`).
    pub(crate) async fn probe_app(self: Arc<Self>, probe: AppHealthProbe) {
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + probe.interval, probe.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if !self.is_running() || self.app.addr().is_none() {
                continue;
            }
            let ok = self.app.health_check(probe.timeout).await.is_ok();
            if self.health.record(ok) {
                // `StartAppSubscriptions`: the subscriptions are asked for again.
                self.delivery.forget_subscriptions().await;
            }
        }
    }
}

impl DaprDouble {
    /// Whether the app is healthy as the double's probes see it (always, without probes).
    pub fn app_healthy(&self) -> bool {
        self.shared.health.is_healthy()
    }

    /// Every change of the app's health so far, in order.
    pub fn health_changes(&self) -> Vec<HealthChange> {
        lock(&self.shared.health.changes).clone()
    }

    /// Waits (woken on each change, no polling) until the app's health is `healthy`; false on
    /// timeout.
    pub async fn wait_for_health(&self, healthy: bool, timeout: Duration) -> bool {
        let mut rx = self.shared.health.healthy.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|h| *h == healthy))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe() -> AppHealthProbe {
        AppHealthProbe {
            interval: Duration::from_millis(10),
            timeout: Duration::from_millis(10),
            threshold: 3,
        }
    }

    #[test]
    fn unhealthy_until_a_success_then_after_threshold_failures() {
        let health = AppHealth::new(Some(probe()));
        assert!(!health.is_healthy(), "unhealthy from the start");
        assert!(health.record(true));
        assert!(health.is_healthy());
        assert!(!health.record(false));
        assert!(!health.record(false));
        assert!(health.is_healthy(), "two failures are under the threshold");
        assert!(!health.record(false));
        assert!(!health.is_healthy(), "the third makes it unhealthy");
        assert!(health.record(true), "one success is enough");
        assert!(health.is_healthy());
    }

    #[test]
    fn successes_while_healthy_do_not_reset_the_failures() {
        let health = AppHealth::new(Some(probe()));
        health.record(true);
        health.record(false);
        health.record(true);
        health.record(false);
        health.record(true);
        assert!(health.is_healthy());
        health.record(false);
        assert!(!health.is_healthy(), "three failures, successes in between");
    }

    #[test]
    fn without_probes_the_app_is_always_healthy() {
        let health = AppHealth::new(None);
        assert!(health.is_healthy());
        assert!(!health.record(false));
        assert!(health.is_healthy());
    }

    #[test]
    fn a_timeout_longer_than_the_interval_is_refused_and_zero_means_default() {
        let long = AppHealthProbe {
            timeout: Duration::from_secs(1),
            ..probe()
        };
        assert!(long.effective().is_err());
        let zero = AppHealthProbe {
            interval: Duration::ZERO,
            timeout: Duration::ZERO,
            threshold: 0,
        };
        assert_eq!(zero.effective(), Ok(AppHealthProbe::daprd_default()));
    }
}
