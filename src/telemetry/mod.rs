//! Logs and traces. Logs: pretty or JSON lines, filtered, database drivers kept quiet; a JSON
//! line inside a call or a delivery carries that span's fields, its `trace_id` among them.
//! Traces: every call, delivery, relay batch and database transaction is a span
//! ([`otel`]), exported over OTLP when a collector is configured. Each call also gets one
//! access log line ([`rpc`]).

mod json_fields;
mod otel;
pub mod rpc;

use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry, fmt};

use crate::config::{LogConfig, LogFormat};

pub use otel::{exporting, shutdown};

/// The span of one database transaction, when spans leave the process (a collector is
/// configured); none otherwise, so that work that is never seen costs nothing and log lines
/// inside the transaction keep the call's or the delivery's span, with its `trace_id`.
pub fn db_transaction(what: &'static str) -> tracing::Span {
    if exporting() {
        tracing::info_span!("db.transaction", otel.kind = "client", db.operation = what)
    } else {
        tracing::Span::none()
    }
}
pub use rpc::{RpcLayer, set_access_log};

/// Targets that would log a secret, kept to errors whatever the filter: sqlx warns about an
/// unrecognized parameter of the database URL with its value (e.g. `sslpassword`).
const SECRET_BEARING_TARGETS: &str = "sqlx_postgres::options=error";

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// The spans that become traces: taskflow's own, whatever the log filter says. A span carries
/// what it was given and nothing per poll: no busy/idle timings, no thread or source location,
/// and no OpenTelemetry context made current on every enter (nothing here reads it; the W3C
/// context is taken from the span itself).
fn trace_layer(export: bool) -> BoxedLayer {
    tracing_opentelemetry::layer()
        .with_tracer(otel::tracer(export))
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_target(false)
        .with_level(false)
        .with_context_activation(false)
        .with_filter(Targets::new().with_target("taskflow", tracing::Level::INFO))
        .boxed()
}

/// Installs the global subscriber, writing to stdout. Calling it again (as tests do) keeps the
/// first one.
pub fn init(config: &LogConfig) {
    init_to(config, false);
}

/// [`init`], writing to stderr when `to_stderr` (commands whose stdout is their answer).
pub fn init_to(config: &LogConfig, to_stderr: bool) {
    set_access_log(config.access_log.level());
    let directives = format!(
        "{},sqlx=warn,sea_orm=warn,sea_orm_migration=warn,h2=warn,hyper=warn,tower=warn,{SECRET_BEARING_TARGETS}",
        config.log_filter
    );
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = move || -> Box<dyn std::io::Write> {
        if to_stderr {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        }
    };
    let logs: BoxedLayer = match config.log_format {
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .fmt_fields(json_fields::AppendJsonFields)
            .with_target(true)
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
        LogFormat::Pretty => fmt::layer()
            .compact()
            .with_target(true)
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
    };
    let mut layers = vec![logs];
    if !otel::disabled() {
        layers.push(trace_layer(true));
    }
    let _ = Registry::default().with(layers).try_init();
}

/// Logging for tests: warnings and above (or `TASKFLOW_TEST_LOG`), captured per test by the
/// test harness; spans are kept in the process (the trace context still flows).
pub fn init_for_tests() {
    let filter = std::env::var("TASKFLOW_TEST_LOG").unwrap_or_else(|_| "warn,sqlx=error".into());
    let logs = fmt::layer()
        .with_test_writer()
        .compact()
        .with_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("warn")))
        .boxed();
    let _ = Registry::default()
        .with(vec![logs, trace_layer(false)])
        .try_init();
}
