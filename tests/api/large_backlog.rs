//! A backlog larger than the sidecar's body limit is published in requests that fit it.

use std::time::Duration;

use taskflow::proto::v1 as pb;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, double, outbox_rows, wired_to};

/// About 8 KB of payload per event (11 KB once wrapped in its CloudEvent): 600 of them make
/// more than the 4 MiB the sidecar takes in one request.
const TASKS: usize = 600;

async fn a_backlog_over_the_body_limit_is_published_in_requests_that_fit(backend: Backend) {
    let double = double().await;
    assert_eq!(double.config().max_body_size, 4 * 1024 * 1024);
    let app = TestApp::spawn_with(backend, wired_to(&double)).await;
    double.set_app_addr(app.callback_addr());
    // The sidecar is away while the backlog builds up, so the relay meets it in one batch.
    double.set_down(true);
    let description = "é".repeat(4000);
    let mut creates = Vec::new();
    for i in 0..TASKS {
        let mut client = app.user("alice");
        let description = description.clone();
        creates.push(tokio::spawn(async move {
            client
                .create_task(pb::CreateTaskRequest {
                    parent: "users/alice".into(),
                    task: Some(pb::Task {
                        title: format!("task {i}"),
                        description,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .expect("created");
        }));
    }
    for create in creates {
        create.await.expect("joined");
    }
    let backlog = outbox_rows(&app.db().await).await;
    assert_eq!(backlog.len(), TASKS);
    let bytes: usize = backlog.iter().map(|r| r.payload.len()).sum();
    assert!(bytes > 4 * 1024 * 1024, "the backlog is {bytes} bytes");

    double.set_down(false);
    let published = double
        .wait_for_published(TASKS, Duration::from_secs(60))
        .await
        .expect("every event is published");
    assert_eq!(published.len(), TASKS);
}

both_backends!(a_backlog_over_the_body_limit_is_published_in_requests_that_fit);
