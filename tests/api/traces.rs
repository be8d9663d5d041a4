//! OpenTelemetry: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the binary exports spans over OTLP,
//! and a call, the relay's publish, the delivery and the next occurrence's transaction are one
//! trace, the caller's. Every call, refused ones too, has an access log line with its method,
//! status, latency, user and trace id.

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use taskflow::proto::v1::{self as pb, task_service_client::TaskServiceClient};
use tonic::{Request, Response, Status};

use crate::helpers::*;

/// A collector that keeps every span it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans);
        self.spans.lock().expect("the span store").extend(spans);
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Collector {
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
        });
        format!("http://{addr}")
    }

    fn names_in(&self, trace: &[u8]) -> Vec<String> {
        self.spans
            .lock()
            .expect("the span store")
            .iter()
            .filter(|s| s.trace_id == trace)
            .map(|s| s.name.clone())
            .collect()
    }
}

fn hex(bytes: &str) -> Vec<u8> {
    (0..bytes.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&bytes[i..i + 2], 16).expect("hex"))
        .collect()
}

async fn client_at(addr: &str, metadata: &[(&str, &str)]) -> Client {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    TaskServiceClient::with_interceptor(channel, Metadata::new(metadata))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_and_its_next_occurrence_are_one_exported_trace() {
    let collector = Collector::default();
    let endpoint = collector.start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut binary = Binary::spawn(
        dir.path(),
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("OTEL_SERVICE_NAME", "taskflow-under-test"),
        ],
    );
    let addr = binary.field("addr").await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    let mut alice = client_at(
        &addr,
        &[
            ("x-user-id", "alice"),
            ("traceparent", traceparent.as_str()),
        ],
    )
    .await;
    let task = create(&mut alice, "alice", water_plants(pb::Frequency::Daily)).await;
    complete(&mut alice, &task.name).await;
    eventually("the next occurrence", || {
        let mut alice = alice.clone();
        async move { (list_all(&mut alice, "alice").await.len() == 2).then_some(()) }
    })
    .await;
    let mut stranger = client_at(&addr, &[]).await;
    let refused = stranger
        .get_task(pb::GetTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect_err("no credentials");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    // A clean stop flushes the spans still buffered.
    let (status, output) = binary.terminate().await;
    assert!(status.success(), "{output}");

    let names = collector.names_in(&hex(trace));
    for expected in [
        "taskflow.v1.TaskService/CreateTask",
        "taskflow.v1.TaskService/CompleteTask",
        "publish task.completed",
        "deliver task.completed",
        "db.transaction",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} is not in the caller's trace: {names:?}"
        );
    }
    // The next occurrence was written inside the delivery: its event is in the trace too.
    assert!(
        names
            .iter()
            .filter(|n| *n == "publish task.created")
            .count()
            >= 2,
        "the task and its next occurrence: {names:?}"
    );

    // The access log: one line per call, refused ones included, without secrets.
    let lines: Vec<serde_json::Value> = output
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &serde_json::Value| l["target"] == "taskflow::access")
        .collect();
    let completed = lines
        .iter()
        .find(|l| l["method"] == "taskflow.v1.TaskService/CompleteTask")
        .expect("CompleteTask's access line");
    assert_eq!(completed["code"], "OK");
    assert_eq!(completed["user"], "alice");
    assert_eq!(completed["trace_id"], trace);
    assert!(completed["latency_ms"].as_f64().is_some());
    let unauthenticated = lines
        .iter()
        .find(|l| l["code"] == "UNAUTHENTICATED")
        .expect("the refused call's access line");
    assert_eq!(unauthenticated["method"], "taskflow.v1.TaskService/GetTask");
    assert_eq!(unauthenticated["user"], "");
}
