//! The AppCallback port as the sidecar meets it: subscriptions, deliveries answered SUCCESS,
//! RETRY or DROP, tokens, dead letters, and exactly-once effects under redelivery.

use std::collections::HashMap;

use dapr::dapr::proto::runtime::v1::{
    self as dapr_pb, app_callback_client::AppCallbackClient,
    app_callback_health_check_client::AppCallbackHealthCheckClient,
    topic_event_response::TopicEventResponseStatus as Status,
};
use prost::Message;
use taskflow::proto::{events::v1 as ev, v1 as pb};
use tonic::{Code, Request, transport::Channel};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, create, list_all, outbox_rows, titled, ts};

/// A sidecar endpoint where nothing listens: events stay in the outbox for the test to deliver.
const NO_SIDECAR: &str = "http://127.0.0.1:9";

async fn callback_client(app: &TestApp) -> AppCallbackClient<Channel> {
    AppCallbackClient::connect(format!("http://{}", app.callback_addr()))
        .await
        .expect("connects to the callback port")
}

fn delivery(
    topic: &str,
    id: &str,
    event_type: &str,
    content_type: &str,
    data: Vec<u8>,
) -> dapr_pb::TopicEventRequest {
    dapr_pb::TopicEventRequest {
        id: id.into(),
        source: "taskflow".into(),
        r#type: event_type.into(),
        spec_version: "1.0".into(),
        data_content_type: content_type.into(),
        data,
        topic: topic.into(),
        pubsub_name: "kafka-pubsub".into(),
        ..Default::default()
    }
}

async fn deliver(
    client: &mut AppCallbackClient<Channel>,
    event: dapr_pb::TopicEventRequest,
    key: Option<&str>,
    token: Option<&str>,
) -> Result<i32, tonic::Status> {
    let mut request = Request::new(event);
    if let Some(key) = key {
        request
            .metadata_mut()
            .insert("partitionkey", key.parse().expect("ascii"));
    }
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("dapr-api-token", token.parse().expect("ascii"));
    }
    client
        .on_topic_event(request)
        .await
        .map(|r| r.into_inner().status)
}

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

async fn tokens_guard_deliveries_invocations_and_jobs(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, Some("app-secret")).await;
    let mut client = callback_client(&app).await;
    let event = delivery(
        "tasks",
        "e1",
        "task.created",
        "application/protobuf",
        vec![1, 2, 3],
    );
    for token in [None, Some("wrong")] {
        let status = deliver(&mut client, event.clone(), None, token)
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    let invoke = client
        .on_invoke(dapr::dapr::proto::common::v1::InvokeRequest {
            method: "x".into(),
            ..Default::default()
        })
        .await
        .expect_err("no token");
    assert_eq!(invoke.code(), Code::Unauthenticated);
    // With the token, a malformed event is dropped (not refused).
    assert_eq!(
        deliver(&mut client, event, None, Some("app-secret"))
            .await
            .expect("answered"),
        Status::Drop as i32
    );
    let mut request = Request::new(dapr::dapr::proto::common::v1::InvokeRequest {
        method: "x".into(),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("dapr-api-token", "app-secret".parse().expect("ascii"));
    let invoke = client.on_invoke(request).await.expect_err("no invocations");
    assert_eq!(invoke.code(), Code::Unimplemented);
    assert!(invoke.message().contains("no service invocation"));
}

fn completed_event(task: &pb::Task, user: &str) -> Vec<u8> {
    ev::TaskCompleted {
        context: Some(ev::EventContext {
            user_id: user.into(),
            origin: ev::Origin::User as i32,
            ..Default::default()
        }),
        task: Some(task.clone()),
    }
    .encode_to_vec()
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

async fn redelivery_creates_one_next_occurrence(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, None).await;
    let mut client = callback_client(&app).await;
    let mut alice = app.user("alice");
    let task = create(
        &mut alice,
        "alice",
        pb::Task {
            due_time: Some(ts("2027-06-01T09:00:00Z")),
            recurrence: Some(pb::Recurrence {
                frequency: pb::Frequency::Weekly as i32,
                ..Default::default()
            }),
            ..titled("Water plants")
        },
    )
    .await;
    alice
        .complete_task(pb::CompleteTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("complete");
    // The sidecar is away: the events wait in the outbox; deliver the completion as daprd would.
    let db = app.db().await;
    let rows = outbox_rows(&db).await;
    let completion = rows
        .iter()
        .find(|r| r.event_type == "task.completed")
        .expect("the completion event");
    assert!(completion.published_us.is_none());
    let event = delivery(
        "tasks",
        &completion.event_id.to_string(),
        "task.completed",
        "application/protobuf",
        completion.payload.clone(),
    );
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
            "task": ev::TaskCompleted::decode(completion.payload.as_slice()).ok().and_then(|c| c.task).map(|t| serde_json::json!({
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
    subscriptions_name_the_topics_and_dead_letter_topic,
    tokens_guard_deliveries_invocations_and_jobs,
    malformed_unknown_foreign_and_oversized_events_are_dropped,
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

    let name = app
        .database_url
        .rsplit('/')
        .next()
        .expect("a database name")
        .to_owned();
    let admin = sea_orm::Database::connect(crate::helpers::postgres_admin_url())
        .await
        .expect("admin");
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
