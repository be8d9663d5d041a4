//! `/metrics` as Prometheus scrapes it: the counters move with the work.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Backend, TestApp, create, published_outbox, titled};
use taskflow::proto::v1 as pb;

pub(crate) async fn scrape(app: &TestApp) -> String {
    let mut stream = tokio::net::TcpStream::connect(app.metrics_addr())
        .await
        .expect("connects");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("request sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// The value of the sample `name{labels}` (exact label text), or 0 when absent.
pub(crate) fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            line.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_with_the_work() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let before = scrape(&app).await;
    let mut alice = app.user("alice");
    create(&mut alice, "alice", titled("measured")).await;
    let refused = alice
        .create_task(pb::CreateTaskRequest {
            parent: "users/alice".into(),
            task: Some(titled("")),
            request_id: String::new(),
        })
        .await;
    assert!(refused.is_err());
    published_outbox(&app.db().await, Some(1)).await;
    let after = scrape(&app).await;

    let ok =
        r#"taskflow_rpc_requests_total{method="taskflow.v1.TaskService/CreateTask",code="OK"}"#;
    let invalid = r#"taskflow_rpc_requests_total{method="taskflow.v1.TaskService/CreateTask",code="INVALID_ARGUMENT"}"#;
    assert!(sample(&after, ok) >= sample(&before, ok) + 1.0, "{after}");
    assert!(
        sample(&after, invalid) >= sample(&before, invalid) + 1.0,
        "{after}"
    );
    let count =
        r#"taskflow_rpc_duration_seconds_count{method="taskflow.v1.TaskService/CreateTask"}"#;
    assert!(sample(&after, count) >= sample(&before, count) + 2.0);
    assert!(
        sample(&after, "taskflow_events_published_total")
            >= sample(&before, "taskflow_events_published_total") + 1.0
    );
    let success = r#"taskflow_deliveries_total{outcome="success"}"#;
    assert!(sample(&after, success) >= sample(&before, success) + 1.0);
    for gauge in [
        "taskflow_outbox_unpublished",
        "taskflow_outbox_oldest_age_seconds",
        "taskflow_notification_watchers",
    ] {
        assert!(
            after.lines().any(|l| l.starts_with(gauge)),
            "{gauge} missing"
        );
    }
}
