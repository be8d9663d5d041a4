//! Kafka's `escapeHeaders` delivers message keys percent-encoded: a user whose id holds `@` or
//! `:` still gets their events handled.

use taskflow::proto::v1 as pb;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, create, list_all, water_plants};
use crate::helpers::{NO_SIDECAR, deliver_from_outbox};

async fn an_escaped_key_names_its_user(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, None).await;
    for (user, escaped) in [
        ("alice@example.com", "alice%40example.com"),
        ("urn:bob:1", "urn%3Abob%3A1"),
    ] {
        let mut client = app.user(user);
        let task = create(&mut client, user, water_plants(pb::Frequency::Daily)).await;
        client
            .complete_task(pb::CompleteTaskRequest {
                name: task.name.clone(),
            })
            .await
            .expect("complete");
        let status =
            deliver_from_outbox(&app, &task.name, "task.completed", Some(escaped), None).await;
        assert_eq!(status, 0, "SUCCESS for {user} under key {escaped}");
        let tasks = list_all(&mut client, user).await;
        assert!(
            tasks
                .iter()
                .any(|t| t.series == task.series && t.occurrence == 2),
            "the next occurrence of {user}'s task: {tasks:?}"
        );
    }
}

both_backends!(an_escaped_key_names_its_user);
