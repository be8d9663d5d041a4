//! Prometheus metrics, served on their own port at `/metrics`: RPCs by method and code with
//! latency, the outbox's depth and oldest event, events published and failed, deliveries by
//! outcome, dead letters, reminders fired, and connected watchers.

use std::collections::HashSet;
use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;
use std::time::Instant;
use std::{future::Future, pin::Pin, task::Poll};

use prometheus_client::encoding::{EncodeLabelSet, text::encode};
use prometheus_client::metrics::{
    counter::Counter, family::Family, gauge::Gauge, histogram::Histogram,
};
use prometheus_client::registry::Registry;
use prost::Message;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub method: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabels {
    pub table: &'static str,
}

/// Every metric taskflow keeps.
pub struct Metrics {
    registry: Registry,
    pub rpcs: Family<RpcLabels, Counter>,
    pub rpc_seconds: Family<MethodLabels, Histogram>,
    pub events_published: Counter,
    pub events_failed: Counter,
    pub deliveries: Family<OutcomeLabels, Counter>,
    pub dropped_deliveries: Family<ReasonLabels, Counter>,
    pub dead_letters: Counter,
    pub reminders_fired: Counter,
    pub retention_deleted: Family<TableLabels, Counter>,
    outbox_depth: Gauge,
    outbox_oldest_age: Gauge<f64, AtomicU64>,
    watchers: Gauge,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    ])
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("taskflow");
        let rpcs = Family::<RpcLabels, Counter>::default();
        registry.register(
            "rpc_requests",
            "gRPC calls by method and status code",
            rpcs.clone(),
        );
        let rpc_seconds = Family::<MethodLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "rpc_duration_seconds",
            "gRPC call latency until the response starts",
            rpc_seconds.clone(),
        );
        let events_published = Counter::default();
        registry.register(
            "events_published",
            "Events the relay handed to the sink",
            events_published.clone(),
        );
        let events_failed = Counter::default();
        registry.register(
            "events_publish_failures",
            "Publish attempts that failed (retried later)",
            events_failed.clone(),
        );
        let deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "deliveries",
            "Deliveries handled, by outcome (success, retry, drop)",
            deliveries.clone(),
        );
        let dropped_deliveries = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "deliveries_dropped",
            "Deliveries dropped, by reason (a fixed set: oversized, unsupported_content_type, \
             undecodable, unknown_type, wrong_topic, missing_field, invalid_field, \
             user_mismatch, not_applicable)",
            dropped_deliveries.clone(),
        );
        let dead_letters = Counter::default();
        registry.register(
            "dead_letters",
            "Events kept from the dead-letter topic",
            dead_letters.clone(),
        );
        let reminders_fired = Counter::default();
        registry.register(
            "reminders_fired",
            "Reminders that became notifications",
            reminders_fired.clone(),
        );
        let retention_deleted = Family::<TableLabels, Counter>::default();
        registry.register(
            "retention_deleted",
            "Rows deleted past their retention, by kind (processed_events, read_notifications, \
             resolved_dead_letters, published_events, activities, activity_hours, purged_tasks)",
            retention_deleted.clone(),
        );
        let outbox_depth = Gauge::default();
        registry.register(
            "outbox_unpublished",
            "Events waiting in the outbox",
            outbox_depth.clone(),
        );
        let outbox_oldest_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "outbox_oldest_age_seconds",
            "Age of the oldest unpublished event",
            outbox_oldest_age.clone(),
        );
        let watchers = Gauge::default();
        registry.register(
            "notification_watchers",
            "Open WatchNotifications streams in this process",
            watchers.clone(),
        );
        Self {
            registry,
            rpcs,
            rpc_seconds,
            events_published,
            events_failed,
            deliveries,
            dropped_deliveries,
            dead_letters,
            reminders_fired,
            retention_deleted,
            outbox_depth,
            outbox_oldest_age,
            watchers,
        }
    }

    /// Counts a delivery by its outcome.
    pub fn delivery(&self, outcome: &str) {
        self.deliveries
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts a dropped delivery, by reason (and as a delivery with outcome `drop`).
    pub fn dropped(&self, reason: &'static str) {
        self.delivery("drop");
        self.dropped_deliveries
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// The text exposition, with the gauges as read now.
    pub fn render(&self, gauges: &Gauges) -> String {
        self.outbox_depth.set(gauges.outbox_depth);
        let age = gauges.outbox_oldest_us.map_or(0.0, |us| {
            (crate::clock::now().timestamp_micros() - us).max(0) as f64 / 1_000_000.0
        });
        self.outbox_oldest_age.set(age);
        self.watchers
            .set(i64::try_from(gauges.watchers).unwrap_or(i64::MAX));
        let mut text = String::new();
        if encode(&mut text, &self.registry).is_err() {
            return String::new();
        }
        text
    }
}

/// The gauges, read when `/metrics` is scraped.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Events waiting in the outbox.
    pub outbox_depth: i64,
    /// When the oldest of them was written (microseconds since the epoch).
    pub outbox_oldest_us: Option<i64>,
    /// Open notification watchers in this process.
    pub watchers: usize,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// Serves `GET /metrics` on `listener` until `shutdown` completes; `gauges` reads the gauges
/// at each scrape.
pub async fn serve<F, Fut>(
    listener: tokio::net::TcpListener,
    gauges: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Gauges> + Send,
{
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let gauges = gauges.clone();
            async move {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics().render(&gauges().await),
                )
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The method label of calls to anything the API port does not serve.
const OTHER_METHOD: &str = "other";

/// Every method the API port serves, as `package.Service/Method`: read from the descriptor
/// sets of the services it registers (taskflow's own, health, reflection v1 and v1alpha), so
/// that the list follows the protos.
static KNOWN_METHODS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    [
        crate::proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ]
    .into_iter()
    .filter_map(|encoded| prost_types::FileDescriptorSet::decode(encoded).ok())
    .flat_map(|set| set.file)
    .flat_map(|file| {
        let package = file.package().to_owned();
        file.service.into_iter().flat_map(move |service| {
            let prefix = format!("{package}.{}", service.name());
            service
                .method
                .into_iter()
                .map(move |method| format!("{prefix}/{}", method.name()))
        })
    })
    .collect()
});

/// The method label of a request path: a method the server serves, or [`OTHER_METHOD`], so
/// that calls to made-up paths cannot grow the label set.
fn method_label(path: &str) -> String {
    match path.strip_prefix('/') {
        Some(method) if KNOWN_METHODS.contains(method) => method.to_owned(),
        _ => OTHER_METHOD.to_owned(),
    }
}

/// A status code as gRPC spells it: `INVALID_ARGUMENT`.
fn code_name(code: tonic::Code) -> String {
    let mut name = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// A tower layer that counts gRPC calls by method and status and times them.
#[derive(Debug, Clone, Copy, Default)]
pub struct RpcMetricsLayer;

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RpcMetrics<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
    S::Error: 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = method_label(request.uri().path());
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            let code = match &response {
                // Errors come back "trailers-only", with the status in the headers; a call that
                // starts a body is counted as OK.
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or_else(|| "OK".to_owned(), |c| code_name(tonic::Code::from_i32(c))),
                Err(_) => "TRANSPORT_ERROR".to_owned(),
            };
            let m = metrics();
            m.rpc_seconds
                .get_or_create(&MethodLabels {
                    method: method.clone(),
                })
                .observe(started.elapsed().as_secs_f64());
            m.rpcs.get_or_create(&RpcLabels { method, code }).inc();
            response
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_are_bounded_and_codes_spelled_as_grpc_does() {
        assert_eq!(
            super::method_label("/taskflow.v1.TaskService/GetTask"),
            "taskflow.v1.TaskService/GetTask"
        );
        assert_eq!(super::method_label("/evil/random-123"), "other");
        assert_eq!(
            super::code_name(tonic::Code::InvalidArgument),
            "INVALID_ARGUMENT"
        );
        assert_eq!(super::code_name(tonic::Code::Ok), "OK");
        assert_eq!(super::code_name(tonic::Code::NotFound), "NOT_FOUND");
    }

    #[test]
    fn every_served_method_has_its_label_and_nothing_else_does() {
        for served in [
            "taskflow.v1.TaskService/CreateTask",
            "taskflow.v1.TaskService/GetTask",
            "taskflow.v1.TaskService/ListTasks",
            "taskflow.v1.TaskService/UpdateTask",
            "taskflow.v1.TaskService/CompleteTask",
            "taskflow.v1.TaskService/ReopenTask",
            "taskflow.v1.TaskService/DeleteTask",
            "taskflow.v1.NotificationService/ListNotifications",
            "taskflow.v1.NotificationService/MarkNotificationRead",
            "taskflow.v1.NotificationService/WatchNotifications",
            "grpc.health.v1.Health/Check",
            "grpc.health.v1.Health/Watch",
            "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert_eq!(super::method_label(&format!("/{served}")), served);
        }
        for junk in [
            "/taskflow.v1.TaskService/Nope",
            "/taskflow.v1.TaskService/",
            "/taskflow.v1.TaskService/CreateTask/x",
            "/taskflow.x1.Svc/M",
            "/taskflow.v1.Task",
            "/grpc.health.v1.Health/Nope",
            "/grpc.x/y",
            "taskflow.v1.TaskService/GetTask",
            "/",
            "",
        ] {
            assert_eq!(super::method_label(junk), "other", "{junk}");
        }
    }
}
