//! How a [`DaprDouble`](crate::DaprDouble) is set up: the daprd version, names, tokens, the
//! app's address and the retry policies daprd would apply.

use std::net::SocketAddr;
use std::time::Duration;

use crate::health::AppHealthProbe;
use crate::version::DaprVersion;

/// Everything the double needs to know at start. `DaprDoubleConfig::default()` behaves like a
/// daprd 1.18 started for app id `taskflow` with a Kafka pubsub component called `kafka-pubsub`
/// configured as taskflow's (`escapeHeaders: "true"`), no tokens, auto-delivery on and **no
/// Resiliency policy** (so no delivery retries: the first RETRY goes to the dead-letter topic).
/// [`DaprDoubleConfig::fast`] adds taskflow's Resiliency policy with scaled-down intervals.
#[derive(Debug, Clone)]
pub struct DaprDoubleConfig {
    /// The daprd line to behave as (default [`DaprVersion::V1_18`]): which `Dapr` RPCs exist,
    /// whether callbacks carry the app token, and which callback RPCs are called.
    pub version: DaprVersion,
    /// The pubsub component behind `pubsub_name` (default [`PubsubComponent::Kafka`]).
    pub pubsub_component: PubsubComponent,
    /// The app id; it becomes the `source` of every envelope daprd builds (default `taskflow`).
    pub app_id: String,
    /// The only pubsub component loaded (default `kafka-pubsub`). Publishing to another name
    /// fails with `InvalidArgument`, as daprd does for an unknown component.
    pub pubsub_name: String,
    /// daprd's `DAPR_API_TOKEN`: when set, every call to the double must carry
    /// `dapr-api-token: <token>` or it gets `Unauthenticated`.
    pub dapr_api_token: Option<String>,
    /// daprd's `APP_API_TOKEN`: when set, it is sent as `dapr-api-token` on `OnTopicEvent`, bulk
    /// and job callbacks (never on `ListTopicSubscriptions` or `HealthCheck`).
    pub app_api_token: Option<String>,
    /// Where the app's `AppCallback` server listens. May be left out and set later with
    /// [`DaprDouble::set_app_addr`](crate::DaprDouble::set_app_addr).
    pub app_addr: Option<SocketAddr>,
    /// Deliver every stored publish to the app when it subscribes to the topic (default on).
    pub auto_deliver: bool,
    /// The Resiliency inbound retry policy of the pubsub component
    /// (`spec.targets.components.<pubsub>.inbound.retry`), applied to `OnTopicEvent`. Default
    /// [`RetryPolicy::none`]: daprd has no built-in inbound retry for pub/sub —
    /// `pkg/resiliency/resiliency.go` `ComponentInboundPolicy` finds no policy unless a Resiliency
    /// resource names one, so `pkg/runtime/subscription/subscription.go` makes one attempt and
    /// then dead-letters (or hands the error back to Kafka without a dead-letter topic).
    pub delivery_retry: RetryPolicy,
    /// An inbound `timeout` policy for one `OnTopicEvent` call. daprd has none by default.
    pub delivery_timeout: Option<Duration>,
    /// The Kafka consumer's back-off before it hands a failed message to daprd again (when
    /// daprd's retries ran out and the subscription has no dead-letter topic). The Kafka pubsub
    /// component retries consumption by default (`contrib:pubsub/kafka/kafka.go` sets
    /// `DefaultConsumeRetryEnabled`), with kit's default back-off: constant 5 s, no limit
    /// (`contrib:common/component/kafka/consumer.go` `ConsumeClaim`, `kit:retry/retry.go`
    /// `DefaultConfig`). So such a message is redelivered forever and stalls its partition.
    /// Default 5 s; never less than 1 ms.
    pub kafka_backoff: Duration,
    /// The retries daprd makes while asking `ListTopicSubscriptions` at start-up
    /// (`DaprBuiltInInitializationRetries`: exponential from 500 ms, 3 retries).
    pub init_retry: RetryPolicy,
    /// The failure policy of a job scheduled without one (go-etcd-cron's default: constant,
    /// 1 s, 3 retries).
    pub job_failure_policy: JobRetryPolicy,
    /// The Kafka component's `escapeHeaders`: Go's `url.QueryEscape` on the message key
    /// (`__key`) and every header value (so also `partitionKey`) before daprd forwards them as
    /// gRPC metadata (`contrib:common/component/kafka/consumer.go` `GetEventMetadata`). Default
    /// true, as taskflow's component sets it (`dapr/resources-kafka/pubsub.yaml`, `k8s/dapr.yaml`).
    pub escape_headers: bool,
    /// daprd's `max-body-size`: the largest request message the double accepts (default 4 MiB,
    /// daprd's `DefaultMaxRequestBodySize = 4 << 20` in `pkg/runtime/config.go`). A larger one
    /// is refused as grpc-go refuses it (`MaxRecvMsgSize` in `pkg/api/grpc/server.go`):
    /// `ResourceExhausted`, "grpc: received message larger than max (N vs. M)".
    pub max_body_size: usize,
    /// Partitions per topic (default 6, as in taskflow's `KafkaTopic`). Keys are spread as
    /// sarama's default partitioner does; each partition is delivered in order, one message at a
    /// time, so a message being retried holds up its partition.
    pub partitions: u32,
    /// daprd's app health checks (`dapr.io/enable-app-health-check` with its probe settings;
    /// see `health.rs`). Default `None`: off, as in daprd, so the app always counts as healthy.
    pub app_health: Option<AppHealthProbe>,
}

impl Default for DaprDoubleConfig {
    fn default() -> Self {
        Self {
            version: DaprVersion::default(),
            pubsub_component: PubsubComponent::default(),
            app_id: "taskflow".to_owned(),
            pubsub_name: "kafka-pubsub".to_owned(),
            dapr_api_token: None,
            app_api_token: None,
            app_addr: None,
            auto_deliver: true,
            delivery_retry: RetryPolicy::none(),
            delivery_timeout: None,
            kafka_backoff: Duration::from_secs(5),
            init_retry: RetryPolicy::default(),
            job_failure_policy: JobRetryPolicy::default(),
            escape_headers: true,
            max_body_size: 4 * 1024 * 1024,
            partitions: 6,
            app_health: None,
        }
    }
}

impl DaprDoubleConfig {
    /// The default configuration plus taskflow's Resiliency policy for the pubsub component
    /// (`k8s/dapr.yaml`, `dapr/resources*/resiliency.yaml`: inbound retry exponential,
    /// `maxRetries: 3`, `maxInterval: 4s`, inbound timeout 30 s), with its intervals — and the
    /// start-up, job and Kafka back-offs — scaled so that daprd's 500 ms becomes `interval`,
    /// for fast tests: `DaprDoubleConfig::fast(Duration::from_millis(5))`. (The 30 s timeout is
    /// kept: it only bounds a hung handler.)
    pub fn fast(interval: Duration) -> Self {
        Self {
            delivery_retry: RetryPolicy::exponential(3, interval).with_max_interval(interval * 8),
            delivery_timeout: Some(Duration::from_secs(30)),
            kafka_backoff: interval * 10,
            init_retry: RetryPolicy::exponential(3, interval),
            job_failure_policy: JobRetryPolicy {
                interval,
                max_retries: 3,
            },
            ..Self::default()
        }
    }

    /// This configuration, behaving as daprd `version`:
    /// `DaprDoubleConfig::fast(ms(5)).with_version(DaprVersion::V1_16)`.
    pub fn with_version(self, version: DaprVersion) -> Self {
        Self { version, ..self }
    }
}

/// The pubsub component behind the double's pubsub name, as far as it changes what the app sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PubsubComponent {
    /// `pubsub.kafka`, as taskflow deploys it. A bulk publish in which some entries fail answers
    /// `Internal` with no `failed_entries`, although the other entries were written: the
    /// component's `BulkPublish` returns an error for any failed message
    /// (`contrib:common/component/kafka/producer.go`) and daprd's `bulkPublishEvent` then answers
    /// `PublishMessage`'s `Internal` and drops the per-entry list (`pkg/api/grpc/grpc.go`,
    /// `pkg/api/errors/pubsub.go`).
    #[default]
    Kafka,
    /// **Not Kafka, and not daprd with any pubsub of components-contrib 1.16–1.18**: a component
    /// whose `BulkPublish` reports failed entries *without* an error, which daprd's
    /// `bulkPublishEvent` passes through as `failed_entries` on an OK answer
    /// (`pkg/api/grpc/grpc.go`). Only for testing how an app reads `failed_entries`.
    ReportsFailedEntries,
}

/// A resiliency retry policy (`pkg/resiliency/resiliency.go`, kit `retry/retry.go`):
/// `max_retries` retries after the first attempt (so 3 means 4 attempts), waiting
/// `initial_interval × multiplier^n`, capped at `max_interval`. daprd's exponential policy
/// starts at 500 ms, ×1.5, at most 60 s apart, and adds ±50 % jitter; the double adds no jitter,
/// so tests are deterministic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The wait before the first retry.
    pub initial_interval: Duration,
    /// Growth of the wait per retry (1.0 = constant).
    pub multiplier: f64,
    /// The longest wait between two attempts.
    pub max_interval: Duration,
    /// How long retrying may go on in all: dapr/kit's exponential back-off stops after 15
    /// minutes (`retry/retry.go` leaves `backoff.ExponentialBackOff.MaxElapsedTime` at its
    /// default), whatever `maxRetries` says; a constant policy has no such cap.
    pub max_elapsed: Option<Duration>,
}

impl Default for RetryPolicy {
    /// Exponential from 500 ms, 3 retries: daprd's `DaprBuiltInInitializationRetries`, used for
    /// `ListTopicSubscriptions` at start-up.
    fn default() -> Self {
        Self::exponential(3, Duration::from_millis(500))
    }
}

impl RetryPolicy {
    /// daprd's exponential policy: ×1.5 per retry, at most 60 s apart.
    pub fn exponential(max_retries: u32, initial_interval: Duration) -> Self {
        Self {
            max_retries,
            initial_interval,
            multiplier: 1.5,
            max_interval: Duration::from_secs(60),
            max_elapsed: Some(Duration::from_secs(15 * 60)),
        }
    }

    /// `maxRetries: -1`: retry without a count limit (an exponential policy still ends after
    /// its elapsed cap; see [`RetryPolicy::max_elapsed`]).
    pub fn unlimited(self) -> Self {
        Self {
            max_retries: u32::MAX,
            ..self
        }
    }

    /// The same policy with another elapsed cap (a test's stand-in for kit's 15 minutes).
    pub fn with_max_elapsed(self, max_elapsed: Option<Duration>) -> Self {
        Self {
            max_elapsed,
            ..self
        }
    }

    /// Whether another retry may follow after `attempts` attempts, `elapsed` after the first.
    pub fn allows_retry(&self, attempts: u32, elapsed: Duration) -> bool {
        attempts <= self.max_retries && self.max_elapsed.is_none_or(|cap| elapsed < cap)
    }

    /// The same policy with another `maxInterval`.
    pub fn with_max_interval(self, max_interval: Duration) -> Self {
        Self {
            max_interval,
            ..self
        }
    }

    /// A constant policy: `max_retries` retries, `interval` apart.
    pub fn constant(max_retries: u32, interval: Duration) -> Self {
        Self {
            max_retries,
            initial_interval: interval,
            multiplier: 1.0,
            max_interval: interval,
            max_elapsed: None,
        }
    }

    /// No retries at all: one attempt (what daprd does without a Resiliency policy).
    pub fn none() -> Self {
        Self::constant(0, Duration::ZERO)
    }

    /// The wait before retry number `retry` (0 for the first retry).
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = self
            .multiplier
            .max(1.0)
            .powi(i32::try_from(retry).unwrap_or(i32::MAX));
        let wait = self.initial_interval.as_secs_f64() * factor;
        if !wait.is_finite() || wait >= self.max_interval.as_secs_f64() {
            self.max_interval
        } else {
            Duration::from_secs_f64(wait)
        }
    }
}

/// The constant failure policy applied to a job that was scheduled without one: go-etcd-cron
/// gives such a job constant, 1 s, 3 retries (`internal/scheduler/builder.go`), after which
/// that trigger is dropped — a one-shot job is then gone (`internal/counter/counter.go`
/// `TriggerFailed`). daprd passes an absent policy through unchanged
/// (`pkg/scheduler/server/api.go` `schedFPToCron`). The default is that policy; `fast` only
/// shortens the interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobRetryPolicy {
    /// The wait between two attempts.
    pub interval: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
}

impl Default for JobRetryPolicy {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            max_retries: 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::RetryPolicy;

    #[test]
    fn a_count_limited_policy_stops_after_its_retries() {
        let policy = RetryPolicy::exponential(3, Duration::from_millis(500));
        assert!(policy.allows_retry(3, Duration::from_secs(1)));
        assert!(!policy.allows_retry(4, Duration::from_secs(1)));
    }

    /// `maxRetries: -1` retries on and on, until kit's elapsed cap of an exponential policy.
    #[test]
    fn an_unlimited_policy_stops_only_at_the_elapsed_cap() {
        let policy = RetryPolicy::exponential(0, Duration::from_millis(500)).unlimited();
        assert!(policy.allows_retry(100_000, Duration::from_secs(14 * 60)));
        assert!(!policy.allows_retry(2, Duration::from_secs(15 * 60)));
        let constant = RetryPolicy::constant(0, Duration::from_secs(1)).unlimited();
        assert!(constant.allows_retry(100_000, Duration::from_secs(3600)));
    }
}
