//! The AppCallback port as the sidecar meets it: subscriptions, deliveries answered SUCCESS,
//! RETRY or DROP, and what it refuses (its tokens are checked in ports.rs).

use dapr::dapr::proto::runtime::v1::{
    self as dapr_pb, app_callback_health_check_client::AppCallbackHealthCheckClient,
    topic_event_response::TopicEventResponseStatus as Status,
};

use crate::both_backends;
use crate::helpers::{
    Backend, NO_SIDECAR, TestApp, callback_client, completed_event, create, deliver, delivery,
    list_all, titled,
};

async fn subscriptions_name_the_topics_and_dead_letter_topic(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, Some("app-secret")).await;
    let mut client = callback_client(&app).await;
    // Asked without a token, as daprd does.
    let subs = client
        .list_topic_subscriptions(())
        .await
        .expect("listed")
        .into_inner()
        .subscriptions;
    let found: Vec<(String, String, String)> = subs
        .into_iter()
        .map(|s| (s.pubsub_name, s.topic, s.dead_letter_topic))
        .collect();
    assert_eq!(
        found,
        vec![
            ("kafka-pubsub".into(), "tasks".into(), "tasks-dlq".into()),
            (
                "kafka-pubsub".into(),
                "reminders".into(),
                "tasks-dlq".into()
            ),
            ("kafka-pubsub".into(), "tasks-dlq".into(), String::new()),
        ]
    );
    let mut health =
        AppCallbackHealthCheckClient::connect(format!("http://{}", app.callback_addr()))
            .await
            .expect("connects");
    health
        .health_check(())
        .await
        .expect("healthy without a token");
    let bindings = client
        .list_input_bindings(())
        .await
        .expect("bindings listed")
        .into_inner();
    assert!(bindings.bindings.is_empty());
}

async fn malformed_unknown_foreign_and_oversized_events_are_dropped(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, None).await;
    let mut client = callback_client(&app).await;
    let mut alice = app.user("alice");
    let task = create(&mut alice, "alice", titled("mine")).await;
    let good = completed_event(&task, "alice");
    let cases: Vec<(&str, dapr_pb::TopicEventRequest, Option<&str>)> = vec![
        (
            "garbage bytes",
            delivery(
                "tasks",
                "m1",
                "task.completed",
                "application/protobuf",
                vec![0xff; 64],
            ),
            None,
        ),
        (
            "empty data",
            delivery(
                "tasks",
                "m2",
                "task.completed",
                "application/protobuf",
                vec![],
            ),
            None,
        ),
        (
            "wrong content type",
            delivery("tasks", "m3", "task.completed", "text/plain", good.clone()),
            None,
        ),
        (
            "bad JSON",
            delivery(
                "tasks",
                "m4",
                "task.completed",
                "application/json",
                b"{nope".to_vec(),
            ),
            None,
        ),
        (
            "unknown type",
            delivery(
                "tasks",
                "m5",
                "task.exploded",
                "application/protobuf",
                good.clone(),
            ),
            None,
        ),
        (
            "type on the wrong topic",
            delivery(
                "reminders",
                "m6",
                "task.completed",
                "application/protobuf",
                good.clone(),
            ),
            None,
        ),
        (
            "unknown topic",
            delivery(
                "elsewhere",
                "m7",
                "task.completed",
                "application/protobuf",
                good.clone(),
            ),
            None,
        ),
        (
            "partition key of another user",
            delivery(
                "tasks",
                "m8",
                "task.completed",
                "application/protobuf",
                good.clone(),
            ),
            Some("mallory"),
        ),
        (
            "payload user differs from the task's",
            delivery(
                "tasks",
                "m9",
                "task.completed",
                "application/protobuf",
                completed_event(&task, "mallory"),
            ),
            None,
        ),
        (
            "oversized",
            delivery(
                "tasks",
                "m10",
                "task.completed",
                "application/protobuf",
                vec![0; 5 * 1024 * 1024],
            ),
            None,
        ),
        (
            "no id",
            delivery(
                "tasks",
                "",
                "task.completed",
                "application/protobuf",
                good.clone(),
            ),
            None,
        ),
    ];
    for (why, event, key) in cases {
        let status = deliver(&mut client, event, key, None)
            .await
            .unwrap_or_else(|e| panic!("{why}: {e}"));
        assert_eq!(status, Status::Drop as i32, "{why}");
    }
    // The service is alive and well afterwards.
    assert_eq!(list_all(&mut alice, "alice").await.len(), 1);
    let health = client
        .list_topic_subscriptions(())
        .await
        .expect("still serving");
    assert_eq!(health.into_inner().subscriptions.len(), 3);
}

both_backends!(
    subscriptions_name_the_topics_and_dead_letter_topic,
    malformed_unknown_foreign_and_oversized_events_are_dropped,
);
