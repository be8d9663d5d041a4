//! What tracing costs: CreateTask with spans off (`OTEL_SDK_DISABLED=true`), with spans kept in
//! the process (the default, no collector), and with every span exported over OTLP to a
//! collector in this process (every request sampled), on fresh servers one after the other,
//! each mode twice (off, kept, exported, exported, kept, off) and averaged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use crate::Error;
use crate::client;
use crate::events;
use crate::load::Until;
use crate::profile::Profile;
use crate::rpc;
use crate::server::{self, Server};

/// Counts the spans it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let count: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.spans.fetch_add(count as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// CreateTask per second in each mode, the server CPU each create cost (its events relayed and
/// handled included), and the spans the collector received.
pub struct Overhead {
    pub disabled_tps: f64,
    pub kept_tps: f64,
    pub exported_tps: f64,
    pub disabled_cpu_us: f64,
    pub kept_cpu_us: f64,
    pub exported_cpu_us: f64,
    pub spans_exported: u64,
}

/// One mode's run: creates per second, and server CPU per create in µs.
async fn create_rate(
    binary: &std::path::Path,
    url: &str,
    env: &[(&str, String)],
    profile: &Profile,
    callers: usize,
) -> Result<(f64, f64), Error> {
    let server = Server::start(binary, env).await?;
    let clients = client::task_clients(&server.endpoint(), callers).await?;
    if !profile.warmup.is_zero() {
        rpc::create(&clients, callers, Until::Elapsed(profile.warmup), false).await?;
    }
    events::settle_embedded(url, Duration::from_secs(120)).await?;
    let cpu_before = server::cpu_time(server.pid())?;
    let (created, _) =
        rpc::create(&clients, callers, Until::Elapsed(profile.create), false).await?;
    // Every event of the load is relayed and handled before the CPU is read and the server
    // stops: no mode's backlog is left for the next server to carry.
    events::settle_embedded(url, Duration::from_secs(120)).await?;
    let cpu = server::cpu_time(server.pid())?.saturating_sub(cpu_before);
    drop(clients);
    server.stop().await?;
    let cpu_us = cpu.as_secs_f64() * 1e6 / created.ok.max(1) as f64;
    Ok((created.per_second(), cpu_us))
}

pub async fn overhead(
    binary: &std::path::Path,
    url: &str,
    profile: &Profile,
    callers: usize,
) -> Result<Overhead, Error> {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let service = TraceServiceServer::new(collector.clone());
    let serving = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    // Embedded delivery keeps the sidecar out of the comparison.
    let base = vec![("TASKFLOW_DATABASE_URL", url.to_owned())];
    let with = |extra: &[(&'static str, String)]| {
        let mut env = base.clone();
        env.extend_from_slice(extra);
        env
    };
    let modes: [Vec<(&str, String)>; 3] = [
        with(&[("OTEL_SDK_DISABLED", "true".to_owned())]),
        with(&[]),
        with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTEL_TRACES_SAMPLER", "always_on".to_owned()),
        ]),
    ];
    // Each mode twice, in the order off, kept, exported, exported, kept, off: the table grows
    // and the database's background work comes and goes over the run, and a drift that is
    // even over the run weighs on every mode alike.
    let (mut rates, mut cpu) = ([0.0; 3], [0.0; 3]);
    for mode in [0, 1, 2, 2, 1, 0] {
        let (rate, cpu_us) = create_rate(binary, url, &modes[mode], profile, callers).await?;
        rates[mode] += rate / 2.0;
        cpu[mode] += cpu_us / 2.0;
    }
    let [disabled, kept, exported] = rates;
    // The server flushes its last spans before it exits, so the collector has them all.
    serving.abort();
    Ok(Overhead {
        disabled_tps: disabled,
        kept_tps: kept,
        exported_tps: exported,
        disabled_cpu_us: cpu[0],
        kept_cpu_us: cpu[1],
        exported_cpu_us: cpu[2],
        spans_exported: collector.spans.load(Ordering::Relaxed),
    })
}
