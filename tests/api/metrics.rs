//! `/metrics` as Prometheus scrapes it: the counters move with the work.

use crate::helpers::{Backend, TestApp, create, sample, scrape, titled};
use taskflow::proto::v1 as pb;

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
    app.drained_outbox(Some(1)).await;
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
