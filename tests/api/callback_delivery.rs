//! The AppCallback port under redelivery, dead letters, bulk deliveries and a database outage.

use std::collections::HashMap;

use dapr::dapr::proto::runtime::v1::{
    self as dapr_pb, topic_event_response::TopicEventResponseStatus as Status,
};
use prost::Message;
use taskflow::proto::{events::v1 as ev, v1 as pb};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, create, list_all, outbox_rows, titled, ts};
use crate::helpers::{
    NO_SIDECAR, callback_client, completed_event, completed_in_the_outbox, deliver, delivery,
};

async fn redelivery_creates_one_next_occurrence(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, None).await;
    let mut client = callback_client(&app).await;
    let (task, event) = completed_in_the_outbox(&app, pb::Frequency::Weekly).await;
    let mut alice = app.user("alice");
    for _ in 0..3 {
        let status = deliver(&mut client, event.clone(), Some("alice"), None)
            .await
            .expect("answered");
        assert_eq!(
            status,
            Status::Success as i32,
            "a redelivery is a no-op that succeeds"
        );
    }
    // The same completion as protobuf JSON (what `dapr publish` sends) under another id is
    // also handled, and still creates no second instance.
    let mut json_event = delivery(
        "tasks",
        "from-the-shell",
        "task.completed",
        "application/json",
        serde_json::to_vec(&serde_json::json!({
            "context": {"userId": "alice", "origin": "ORIGIN_USER"},
            "task": ev::TaskCompleted::decode(event.data.as_slice()).ok().and_then(|c| c.task).map(|t| serde_json::json!({
                "name": t.name, "title": t.title, "series": t.series, "occurrence": t.occurrence,
                "dueTime": "2027-06-01T09:00:00Z", "etag": t.etag, "completed": true,
                "recurrence": {"frequency": "FREQUENCY_WEEKLY"}
            }))
        }))
        .expect("json"),
    );
    json_event.id = "from-the-shell".into();
    assert_eq!(
        deliver(&mut client, json_event, None, None)
            .await
            .expect("answered"),
        Status::Success as i32
    );

    let tasks = list_all(&mut alice, "alice").await;
    let next: Vec<&pb::Task> = tasks.iter().filter(|t| t.occurrence == 2).collect();
    assert_eq!(next.len(), 1, "{tasks:?}");
    assert_eq!(next[0].due_time, Some(ts("2027-06-08T09:00:00Z")));
    assert_eq!(next[0].series, task.series);
}

async fn dead_letters_are_kept_for_review(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, None).await;
    let mut client = callback_client(&app).await;
    let event = delivery(
        "tasks-dlq",
        "dead-1",
        "task.completed",
        "application/protobuf",
        vec![9, 9, 9],
    );
    for _ in 0..2 {
        let status = deliver(&mut client, event.clone(), Some("alice"), None)
            .await
            .expect("answered");
        assert_eq!(status, Status::Success as i32);
    }
    use sea_orm::EntityTrait;
    let db = app.db().await;
    let letters = taskflow::store::entity::dead_letter::Entity::find()
        .all(db.conn())
        .await
        .expect("read");
    assert_eq!(letters.len(), 1, "a redelivered dead letter is kept once");
    assert_eq!(letters[0].event_id, "dead-1");
    assert_eq!(letters[0].topic, "tasks-dlq");
    assert_eq!(letters[0].payload, vec![9, 9, 9]);
    // Nothing is re-published.
    assert!(outbox_rows(&db).await.is_empty());
}

async fn bulk_deliveries_answer_per_entry(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, None).await;
    let mut client = callback_client(&app).await;
    let mut alice = app.user("alice");
    let task = create(&mut alice, "alice", titled("bulk")).await;
    let entry = |id: &str, data: Vec<u8>| dapr_pb::TopicEventBulkRequestEntry {
        entry_id: id.into(),
        content_type: "application/cloudevents+json".into(),
        metadata: HashMap::from([("partitionKey".to_owned(), "alice".to_owned())]),
        event: Some(dapr_pb::topic_event_bulk_request_entry::Event::CloudEvent(
            dapr_pb::TopicEventCeRequest {
                id: format!("bulk-{id}"),
                source: "taskflow".into(),
                r#type: "task.completed".into(),
                spec_version: "1.0".into(),
                data_content_type: "application/protobuf".into(),
                data,
                extensions: None,
            },
        )),
    };
    let response = client
        .on_bulk_topic_event(dapr_pb::TopicEventBulkRequest {
            id: "b".into(),
            entries: vec![
                entry("0", completed_event(&task, "alice")),
                entry("1", vec![]),
            ],
            topic: "tasks".into(),
            pubsub_name: "kafka-pubsub".into(),
            r#type: "com.dapr.event.sent.bulk".into(),
            ..Default::default()
        })
        .await
        .expect("answered")
        .into_inner();
    let statuses: Vec<(String, i32)> = response
        .statuses
        .into_iter()
        .map(|s| (s.entry_id, s.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("0".into(), Status::Success as i32),
            ("1".into(), Status::Drop as i32)
        ]
    );
}

both_backends!(
    redelivery_creates_one_next_occurrence,
    dead_letters_are_kept_for_review,
    bulk_deliveries_answer_per_entry,
);

/// With the database unreachable a delivery is answered RETRY; once it is back, SUCCESS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_answers_retry_then_recovers() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn_dapr(Backend::Postgres, NO_SIDECAR, None).await;
    let mut client = callback_client(&app).await;
    let mut alice = app.user("alice");
    let task = create(
        &mut alice,
        "alice",
        pb::Task {
            recurrence: Some(pb::Recurrence {
                frequency: pb::Frequency::Daily as i32,
                ..Default::default()
            }),
            ..titled("Daily")
        },
    )
    .await;
    let done = alice
        .complete_task(pb::CompleteTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("complete")
        .into_inner();
    let event = delivery(
        "tasks",
        "outage-1",
        "task.completed",
        "application/protobuf",
        completed_event(&done, "alice"),
    );

    let name = crate::helpers::database_name(&app.database_url);
    let admin = crate::helpers::postgres_admin().await;
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"
        ))
        .await
        .expect("block");
    admin
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .await
        .expect("cut");
    let status = deliver(&mut client, event.clone(), Some("alice"), None)
        .await
        .expect("answered, not an error");
    assert_eq!(status, Status::Retry as i32);

    admin
        .execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
        .await
        .expect("unblock");
    let status = deliver(&mut client, event, Some("alice"), None)
        .await
        .expect("answered");
    assert_eq!(status, Status::Success as i32);
    let tasks = list_all(&mut alice, "alice").await;
    assert_eq!(tasks.iter().filter(|t| t.occurrence == 2).count(), 1);
}
