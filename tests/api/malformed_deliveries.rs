//! Thousands of malformed deliveries on the AppCallback port, one at a time and in bulk
//! batches mixed with good entries: every bad one is answered DROP, `/metrics` counts each
//! under its reason, nothing is written for any of them, and the service stays healthy.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use dapr::dapr::proto::runtime::v1::{
    self as dapr_pb, topic_event_bulk_request_entry::Event as BulkEvent,
    topic_event_response::TopicEventResponseStatus as Status,
};
use prost::Message;
use sea_orm::{EntityTrait, PaginatorTrait};
use taskflow::proto::{events::v1 as ev, v1 as pb};
use taskflow::store::entity::{dead_letter, processed_event};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use super::malformed_cases::{Case, bulk_entry, case, context, with_subject};
use crate::helpers::{Backend, TestApp, create, list_all, outbox_rows, water_plants};
use crate::helpers::{NO_SIDECAR, callback_client, deliver, delivery};
use crate::helpers::{sample, scrape};

const BULK_BATCHES: usize = 20;
const BULK_BAD: usize = 40;
const BULK_GOOD: usize = 10;
const OVERSIZED: usize = 8;

async fn malformed_deliveries_are_dropped_counted_and_leave_no_trace(
    backend: Backend,
    total: usize,
) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, None).await;
    let client = callback_client(&app).await;
    let mut alice = app.user("alice");
    let task = create(&mut alice, "alice", water_plants(pb::Frequency::Weekly)).await;
    let db = app.db().await;
    let outbox_before = outbox_rows(&db).await.len();
    let before = scrape(&app).await;

    let single = total - OVERSIZED - BULK_BATCHES * BULK_BAD;
    let mut expected: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut cases: Vec<Case> = (0..single).map(|i| case(i, &task)).collect();
    for i in 0..OVERSIZED {
        let mut e = delivery(
            "tasks",
            &format!("huge-{i}"),
            "task.completed",
            "application/protobuf",
            vec![0; 1024 * 1024 + 1 + i],
        );
        e.data[0] = 0x0a;
        cases.push(Case {
            reason: "oversized",
            event: e,
            key: Some("alice".into()),
        });
    }
    for case in &cases {
        *expected.entry(case.reason).or_default() += 1;
    }

    // Sent concurrently: 32 callers over one connection.
    let cases = Arc::new(cases);
    let started = std::time::Instant::now();
    let mut callers = Vec::new();
    for caller in 0..32 {
        let (cases, mut client) = (cases.clone(), client.clone());
        callers.push(tokio::spawn(async move {
            for case in cases.iter().skip(caller).step_by(32) {
                let status = deliver(&mut client, case.event.clone(), case.key.as_deref(), None)
                    .await
                    .unwrap_or_else(|e| panic!("{}: {e}", case.reason));
                assert_eq!(
                    status,
                    Status::Drop as i32,
                    "{} {:?}",
                    case.reason,
                    case.event.id
                );
            }
        }));
    }
    // Bulk batches meanwhile: bad entries (including raw bytes and empty entries) among good ones.
    let mut good_ids = BTreeSet::new();
    for batch in 0..BULK_BATCHES {
        let mut entries = Vec::new();
        let mut bad = BTreeSet::new();
        for j in 0..BULK_BAD {
            let entry_id = format!("{batch}-bad-{j}");
            bad.insert(entry_id.clone());
            let entry = match j % 8 {
                0 => {
                    *expected.entry("unsupported_content_type").or_default() += 1;
                    dapr_pb::TopicEventBulkRequestEntry {
                        entry_id,
                        event: Some(BulkEvent::Bytes(vec![1, 2, 3])),
                        ..Default::default()
                    }
                }
                1 => {
                    *expected.entry("missing_field").or_default() += 1;
                    dapr_pb::TopicEventBulkRequestEntry {
                        entry_id,
                        event: None,
                        ..Default::default()
                    }
                }
                _ => {
                    // Cases on the tasks topic whose reason does not depend on it.
                    let index = [0, 1, 3, 4, 6, 8, 9, 10, 13, 14][(batch + j) % 10];
                    let case = case(index + 20 * (batch * BULK_BAD + j), &task);
                    *expected.entry(case.reason).or_default() += 1;
                    bulk_entry(entry_id, case.event, case.key.as_deref())
                }
            };
            entries.push(entry);
        }
        for j in 0..BULK_GOOD {
            let id = format!("good-{batch}-{j}");
            good_ids.insert(id.clone());
            let updated = ev::TaskUpdated {
                context: context("alice"),
                task: Some(task.clone()),
                changed_fields: vec!["title".into()],
                previous: None,
            };
            let event = with_subject(
                delivery(
                    "tasks",
                    &id,
                    "task.updated",
                    "application/protobuf",
                    updated.encode_to_vec(),
                ),
                &task.name,
            );
            entries.insert(j * 5, bulk_entry(id.clone(), event, Some("alice")));
        }
        let response = client
            .clone()
            .on_bulk_topic_event(dapr_pb::TopicEventBulkRequest {
                id: format!("batch-{batch}"),
                entries,
                topic: "tasks".into(),
                pubsub_name: "kafka-pubsub".into(),
                r#type: "com.dapr.event.sent.bulk".into(),
                ..Default::default()
            })
            .await
            .expect("bulk answered")
            .into_inner();
        assert_eq!(response.statuses.len(), BULK_BAD + BULK_GOOD);
        for status in response.statuses {
            let wanted = if bad.contains(&status.entry_id) {
                Status::Drop
            } else {
                Status::Success
            };
            assert_eq!(status.status, wanted as i32, "entry {}", status.entry_id);
        }
    }
    for caller in callers {
        caller.await.expect("every delivery was answered DROP");
    }
    let elapsed = started.elapsed();
    assert_eq!(expected.values().sum::<usize>(), total, "{expected:?}");

    // Each reason is counted: at least this test's drops (other tests may add their own).
    let after = scrape(&app).await;
    for (reason, count) in &expected {
        let series = format!("taskflow_deliveries_dropped_total{{reason=\"{reason}\"}}");
        let delta = sample(&after, &series) - sample(&before, &series);
        assert!(
            delta >= *count as f64,
            "{reason}: counted {delta}, sent {count}\n{after}"
        );
    }
    let drops = r#"taskflow_deliveries_total{outcome="drop"}"#;
    assert!(sample(&after, drops) - sample(&before, drops) >= total as f64);

    // Nothing was written for them: only the good bulk entries were recorded.
    assert_eq!(outbox_rows(&db).await.len(), outbox_before);
    assert_eq!(
        dead_letter::Entity::find()
            .count(db.conn())
            .await
            .expect("count"),
        0
    );
    let recorded: BTreeSet<String> = processed_event::Entity::find()
        .all(db.conn())
        .await
        .expect("read")
        .into_iter()
        .map(|row| row.event_id)
        .collect();
    assert_eq!(recorded, good_ids);

    // The service is healthy: health, the API, and a valid delivery with its effect.
    let mut health = HealthClient::new(app.channel());
    let status = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health")
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    alice
        .complete_task(pb::CompleteTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("complete");
    let completion = outbox_rows(&db)
        .await
        .into_iter()
        .find(|r| r.event_type == "task.completed")
        .expect("the completion event");
    let valid = with_subject(
        delivery(
            "tasks",
            &completion.event_id.to_string(),
            "task.completed",
            "application/protobuf",
            completion.payload,
        ),
        &task.name,
    );
    let status = deliver(&mut client.clone(), valid, Some("alice"), None)
        .await
        .expect("answered");
    assert_eq!(status, Status::Success as i32);
    let tasks = list_all(&mut alice, "alice").await;
    assert_eq!(
        tasks.len(),
        2,
        "the task and its next occurrence: {tasks:?}"
    );
    assert_eq!(tasks.iter().filter(|t| t.occurrence == 2).count(), 1);
    eprintln!("{total} malformed deliveries on {backend:?} answered in {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_malformed_deliveries_on_postgres_are_dropped_counted_and_leave_no_trace() {
    malformed_deliveries_are_dropped_counted_and_leave_no_trace(Backend::Postgres, 10_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_malformed_deliveries_on_sqlite_are_dropped_counted_and_leave_no_trace() {
    malformed_deliveries_are_dropped_counted_and_leave_no_trace(Backend::Sqlite, 1_000).await;
}
