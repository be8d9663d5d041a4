//! OpenTelemetry traces: spans from `tracing`, exported over OTLP/gRPC when the standard
//! variables name a collector (`OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true`
//! turn export off). The exporter reads its other `OTEL_EXPORTER_OTLP_*` variables itself, the
//! SDK `OTEL_TRACES_SAMPLER`/`_ARG`, `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`.
//! Without a collector, spans still carry the W3C context from callers into events and logs,
//! and are dropped: taskflow's own traces are not marked sampled then (a caller's sampled one
//! stays sampled), which spares recording spans nobody receives.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether spans leave the process (a collector is configured and the exporter was built).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

fn variable(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `OTEL_SDK_DISABLED=true`: no spans at all (then nothing carries a caller's trace into
/// events either; each event starts a trace of its own).
pub fn disabled() -> bool {
    variable("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Whether the environment asks for OTLP export.
fn export_configured() -> bool {
    let disabled = disabled();
    let exporter_ok =
        variable("OTEL_TRACES_EXPORTER").is_none_or(|v| v.eq_ignore_ascii_case("otlp"));
    let endpoint = variable("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
        || variable("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some();
    !disabled && exporter_ok && endpoint
}

/// The tracer the `tracing` layer records into. `export` false keeps spans in the process
/// (tests, and servers without a collector).
pub fn tracer(export: bool) -> SdkTracer {
    let provider = PROVIDER.get_or_init(|| {
        let mut resource = Resource::builder();
        if variable("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name("taskflow");
        }
        let mut builder = SdkTracerProvider::builder().with_resource(
            resource
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build(),
        );
        if export && export_configured() {
            match opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()
            {
                Ok(exporter) => {
                    builder = builder.with_batch_exporter(exporter);
                    EXPORTING.store(true, Ordering::Relaxed);
                }
                Err(err) => eprintln!("taskflow: traces are not exported: {err}"),
            }
        }
        if !exporting() && variable("OTEL_TRACES_SAMPLER").is_none() {
            // Nothing leaves the process: spans of taskflow's own traces are not recorded (their
            // ids still reach the logs and the events). A caller's sampled trace stays sampled,
            // so the services downstream of its events record their part of it.
            builder = builder.with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)));
        }
        builder.build()
    });
    provider.tracer("taskflow")
}

/// Sends the spans still buffered; call once, before the process exits.
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && exporting()
        && let Err(err) = provider.shutdown()
    {
        eprintln!("taskflow: flushing the last spans failed: {err}");
    }
}
