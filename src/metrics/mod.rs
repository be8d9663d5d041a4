//! Prometheus metrics, served on their own port at `/metrics`: RPCs by method and code with
//! latency, the outbox's depth and oldest event, events published and failed, deliveries by
//! outcome, dead letters, reminders fired, and connected watchers.

mod calls;
mod exposition;
mod process;

use std::future::Future;
use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::{
    counter::Counter, family::Family, gauge::Gauge, histogram::Histogram,
};
use prometheus_client::registry::Registry;

pub use calls::{code_name, method_label, record_call};
pub use exposition::Format;

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
    pool_connections: Family<StateLabels, Gauge>,
    pool_max: Gauge,
    /// The standard `process_*` metrics, without taskflow's prefix.
    process: Registry,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: &'static str,
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
            "gRPC call duration until its status is sent (a stream's whole life)",
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
             resolved_dead_letters, published_events, activities, activity_days, purged_tasks)",
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
        let pool_connections = Family::<StateLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections of the pool, by state (idle, in_use)",
            pool_connections.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "The most connections the pool opens",
            pool_max.clone(),
        );
        let build = Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]);
        registry.register("build", "The running build (always 1)", build);
        let mut process = Registry::default();
        process.register_collector(Box::new(process::ProcessCollector));
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
            pool_connections,
            pool_max,
            process,
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

    /// The exposition in `format`, with the gauges as read now.
    pub fn render(&self, gauges: &Gauges, format: Format) -> String {
        self.outbox_depth.set(gauges.outbox_depth);
        let age = gauges.outbox_oldest_us.map_or(0.0, |us| {
            (crate::clock::now().timestamp_micros() - us).max(0) as f64 / 1_000_000.0
        });
        self.outbox_oldest_age.set(age);
        self.watchers
            .set(i64::try_from(gauges.watchers).unwrap_or(i64::MAX));
        let pool = gauges.pool;
        let idle = i64::from(pool.idle);
        for (state, value) in [("idle", idle), ("in_use", i64::from(pool.open) - idle)] {
            self.pool_connections
                .get_or_create(&StateLabels { state })
                .set(value.max(0));
        }
        self.pool_max.set(i64::from(pool.max));
        let mut text = String::new();
        let encoded = encode_registry(&mut text, &self.registry)
            .and_then(|()| encode_registry(&mut text, &self.process))
            .and_then(|()| encode_eof(&mut text));
        if encoded.is_err() {
            return String::new();
        }
        match format {
            Format::OpenMetrics => text,
            Format::PrometheusText => exposition::to_prometheus_text(&text),
        }
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
    /// The database pool's connections.
    pub pool: PoolGauges,
}

/// A connection pool's size, as read at a scrape.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolGauges {
    /// Connections open (idle or in use).
    pub open: u32,
    pub idle: u32,
    pub max: u32,
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
        axum::routing::get(move |headers: http::HeaderMap| {
            let gauges = gauges.clone();
            async move {
                let accept = headers
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok());
                let format = Format::negotiate(accept);
                (
                    [(http::header::CONTENT_TYPE, format.content_type())],
                    metrics().render(&gauges().await, format),
                )
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
