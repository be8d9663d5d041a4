//! How a [`DaprDouble`](crate::DaprDouble) is set up: names, tokens, the app's address and the
//! retry policies daprd would apply.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything the double needs to know at start. `DaprDoubleConfig::default()` behaves like a
/// daprd started for app id `taskflow` with a Kafka pubsub component called `kafka-pubsub`, no
/// tokens, auto-delivery on and daprd's default retry policies.
#[derive(Debug, Clone)]
pub struct DaprDoubleConfig {
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
    /// The inbound retry policy applied to `OnTopicEvent` (default: 3 retries, exponential from
    /// 500 ms, ×1.5, as daprd's built-in default without jitter).
    pub delivery_retry: RetryPolicy,
    /// An inbound `timeout` policy for one `OnTopicEvent` call. daprd has none by default.
    pub delivery_timeout: Option<Duration>,
    /// The retries daprd makes while asking `ListTopicSubscriptions` at start-up
    /// (`DaprBuiltInInitializationRetries`: exponential from 500 ms, 3 retries).
    pub init_retry: RetryPolicy,
    /// The failure policy of a job scheduled without one (go-etcd-cron's default: constant,
    /// 1 s, 3 retries).
    pub job_failure_policy: JobRetryPolicy,
    /// The Kafka component's `escapeHeaders`: URL-escape `__key` and every header value on
    /// delivery (default true, as taskflow's component sets it).
    pub escape_headers: bool,
    /// daprd's `max-body-size`: the largest request the double accepts (default 4 MiB).
    pub max_body_size: usize,
    /// Partitions per topic (default 6, as in taskflow's `KafkaTopic`). Keys are spread as
    /// sarama's default partitioner does; each partition is delivered in order, one message at a
    /// time, so a message being retried holds up its partition.
    pub partitions: u32,
}

impl Default for DaprDoubleConfig {
    fn default() -> Self {
        Self {
            app_id: "taskflow".to_owned(),
            pubsub_name: "kafka-pubsub".to_owned(),
            dapr_api_token: None,
            app_api_token: None,
            app_addr: None,
            auto_deliver: true,
            delivery_retry: RetryPolicy::default(),
            delivery_timeout: None,
            init_retry: RetryPolicy::default(),
            job_failure_policy: JobRetryPolicy::default(),
            escape_headers: true,
            max_body_size: 4 * 1024 * 1024,
            partitions: 6,
        }
    }
}

impl DaprDoubleConfig {
    /// The default configuration with every retry interval (deliveries, start-up and jobs) set
    /// to `interval`, for fast tests: `DaprDoubleConfig::fast(Duration::from_millis(5))`.
    pub fn fast(interval: Duration) -> Self {
        Self {
            delivery_retry: RetryPolicy::exponential(3, interval),
            init_retry: RetryPolicy::exponential(3, interval),
            job_failure_policy: JobRetryPolicy {
                interval,
                max_retries: 3,
            },
            ..Self::default()
        }
    }
}

/// A resiliency retry policy: `max_retries` retries after the first attempt (so 3 means 4
/// attempts), waiting `initial_interval × multiplier^n`, capped at `max_interval`. daprd adds
/// ±50 % jitter; the double does not, so tests are deterministic.
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
}

impl Default for RetryPolicy {
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
        }
    }

    /// A constant policy: `max_retries` retries, `interval` apart.
    pub fn constant(max_retries: u32, interval: Duration) -> Self {
        Self {
            max_retries,
            initial_interval: interval,
            multiplier: 1.0,
            max_interval: interval,
        }
    }

    /// No retries at all: one attempt.
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

/// The constant failure policy applied to a job that was scheduled without one.
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
