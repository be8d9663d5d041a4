//! Dapr mode end to end, against the sidecar double: task → outbox → sidecar → AppCallback →
//! next instance; what the sidecar receives; and nothing lost while it is away.

use std::collections::HashMap;
use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use dapr_double::{Outcome, Published};
use prost::Message;
use taskflow::proto::{events::v1 as ev, v1 as pb};

use crate::both_backends;
use crate::helpers::{
    Backend, LIFECYCLE_TYPES, TestApp, complete, create, double, eventually, full_lifecycle,
    list_all, outbox_rows, published_outbox, titled, ts,
};

const WAIT: Duration = Duration::from_secs(20);

fn payload(published: &Published) -> Vec<u8> {
    let encoded = published.cloud_event["data_base64"]
        .as_str()
        .expect("data_base64");
    STANDARD.decode(encoded).expect("base64")
}

fn types(published: &[Published]) -> Vec<String> {
    published
        .iter()
        .map(|p| {
            p.cloud_event["type"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

async fn every_write_reaches_the_sidecar_as_one_cloud_event(backend: Backend) {
    let double = double().await;
    let app = TestApp::spawn_with_double(backend, &double).await;
    let mut alice = app.user("alice");
    let task = full_lifecycle(&mut alice, "alice").await;
    let published = double
        .wait_for_published(5, WAIT)
        .await
        .expect("five events published");
    assert_eq!(published.len(), 5);
    assert_eq!(types(&published), LIFECYCLE_TYPES);
    let rows = outbox_rows(&app.db().await).await;
    for (event, row) in published.iter().zip(&rows) {
        assert_eq!(event.pubsub_name, "kafka-pubsub");
        assert_eq!(event.topic, "tasks");
        assert_eq!(event.data_content_type, "application/cloudevents+json");
        assert_eq!(
            event.metadata.get("partitionKey").map(String::as_str),
            Some("alice")
        );
        assert_eq!(event.key.as_deref(), Some("alice"));
        let ce = &event.cloud_event;
        assert_eq!(ce["id"], row.event_id.to_string());
        assert_eq!(ce["source"], "taskflow");
        assert_eq!(ce["specversion"], "1.0");
        assert_eq!(ce["subject"], task.name);
        assert_eq!(ce["datacontenttype"], "application/protobuf");
        assert_eq!(
            ce["dataschema"],
            format!("https://type.googleapis.com/{}", row.data_schema)
        );
        assert_eq!(
            ce["traceparent"],
            row.traceparent.clone().expect("a traceparent")
        );
        assert_eq!(payload(event), row.payload, "the exact payload bytes");
    }
    let updated = ev::TaskUpdated::decode(payload(&published[1]).as_slice()).expect("decodes");
    assert_eq!(
        updated.task.expect("snapshot").title,
        "Write the annual report"
    );

    // Every delivery back to the app was acknowledged.
    let deliveries = double
        .wait_for_deliveries(5, WAIT)
        .await
        .expect("delivered");
    assert!(
        deliveries.iter().all(|d| d.outcome == Outcome::Acked),
        "{deliveries:?}"
    );
}

async fn recurring_tasks_come_back_through_the_callback_port(backend: Backend) {
    let double = double().await;
    let app = TestApp::spawn_with_double(backend, &double).await;
    let mut alice = app.user("alice");
    let cases = [
        (
            pb::Frequency::Daily,
            "2027-10-30T08:00:00Z",
            "Europe/Berlin",
            "2027-10-31T09:00:00Z",
        ),
        (
            pb::Frequency::Weekly,
            "2027-02-01T12:00:00Z",
            "",
            "2027-02-08T12:00:00Z",
        ),
        (
            pb::Frequency::Monthly,
            "2027-01-31T12:00:00Z",
            "America/New_York",
            "2027-02-28T12:00:00Z",
        ),
    ];
    for (frequency, due, zone, expected) in cases {
        let task = create(
            &mut alice,
            "alice",
            pb::Task {
                due_time: Some(ts(due)),
                time_zone: zone.into(),
                recurrence: Some(pb::Recurrence {
                    frequency: frequency as i32,
                    ..Default::default()
                }),
                ..titled(&format!("{frequency:?}"))
            },
        )
        .await;
        complete(&mut alice, &task.name).await;
        let series = task.series.clone();
        let client = alice.clone();
        let next = eventually(&format!("the next {frequency:?} occurrence"), || {
            let (mut client, series) = (client.clone(), series.clone());
            async move {
                list_all(&mut client, "alice")
                    .await
                    .into_iter()
                    .find(|t| t.series == series && t.occurrence == 2)
            }
        })
        .await;
        assert_eq!(next.due_time, Some(ts(expected)), "{frequency:?}");
    }
    // The automation's own events went out through the sidecar too, marked as such. (The
    // next occurrence is visible once committed; its event may still be on its way.)
    let automated = eventually("the three next occurrences' task.created events", || {
        let published = double.published();
        async move {
            let automated = published
                .iter()
                .filter(|p| {
                    p.cloud_event["type"] == "task.created"
                        && ev::TaskCreated::decode(payload(p).as_slice())
                            .ok()
                            .and_then(|c| c.context)
                            .is_some_and(|c| {
                                c.origin == ev::Origin::Automation as i32
                                    && !c.causation_id.is_empty()
                            })
                })
                .count();
            (automated >= 3).then_some(automated)
        }
    })
    .await;
    assert_eq!(automated, 3);
}

async fn nothing_is_lost_while_the_sidecar_is_away(backend: Backend) {
    let double = double().await;
    double.set_auto_deliver(false);
    let app = TestApp::spawn_with_double(backend, &double).await;
    double.stop().await;

    // 500 creates from five users while the sidecar is gone: every call succeeds.
    let mut writers = Vec::new();
    for user in ["u1", "u2", "u3", "u4", "u5"] {
        let mut client = app.user(user);
        writers.push(tokio::spawn(async move {
            let mut names = Vec::new();
            for i in 0..100 {
                names.push(
                    create(&mut client, user, titled(&format!("{user} #{i}")))
                        .await
                        .name,
                );
            }
            (user, names)
        }));
    }
    let mut created: HashMap<&str, Vec<String>> = HashMap::new();
    for writer in writers {
        let (user, names) = writer.await.expect("writer");
        created.insert(user, names);
    }
    assert!(double.published().is_empty());
    let db = app.db().await;
    assert_eq!(
        outbox_rows(&db)
            .await
            .iter()
            .filter(|r| r.published_us.is_none())
            .count(),
        500
    );

    double.restart().await.expect("the sidecar is back");
    let published = double
        .wait_for_published(500, WAIT)
        .await
        .expect("all 500 published after it returns");
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    for event in &published {
        let key = event.key.clone().expect("a key");
        seen.entry(key).or_default().push(
            event.cloud_event["subject"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    for (user, names) in &created {
        let mut got = seen.remove(*user).expect("events of every user");
        got.dedup(); // a batch re-sent after a partial failure may repeat events
        assert_eq!(
            &got, names,
            "{user}'s events arrive in the order they were committed"
        );
    }
    published_outbox(&db, Some(500)).await;
}

async fn older_sidecars_without_bulk_publish_get_single_publishes(backend: Backend) {
    let double = double().await;
    double.set_bulk_unimplemented(true);
    let app = TestApp::spawn_with_double(backend, &double).await;
    let mut alice = app.user("alice");
    for i in 0..3 {
        create(&mut alice, "alice", titled(&format!("single {i}"))).await;
    }
    let published = double
        .wait_for_published(3, WAIT)
        .await
        .expect("published one by one");
    assert!(published.iter().all(|p| !p.bulk));
}

async fn failing_publishes_are_retried_not_lost(backend: Backend) {
    let double = double().await;
    double.fail_next(3);
    let app = TestApp::spawn_with_double(backend, &double).await;
    let mut alice = app.user("alice");
    let task = create(&mut alice, "alice", titled("retry me")).await;
    let published = double
        .wait_for_published(1, WAIT)
        .await
        .expect("published after failures");
    assert_eq!(published[0].cloud_event["subject"], task.name);
    let row = outbox_rows(&app.db().await).await.remove(0);
    assert!(
        row.attempts >= 2,
        "failed attempts are counted: {}",
        row.attempts
    );
}

async fn dropped_deliveries_reach_the_dead_letter_topic(backend: Backend) {
    let double = double().await;
    let app = TestApp::spawn_with_double(backend, &double).await;
    let envelope = serde_json::json!({
        "specversion": "1.0", "id": "poison-1", "source": "elsewhere", "type": "task.created",
        "datacontenttype": "application/protobuf", "data_base64": STANDARD.encode([0xff, 0x00, 0x13]),
        "topic": "tasks", "pubsubname": "kafka-pubsub"
    });
    let delivery = double
        .deliver_raw(
            "tasks",
            serde_json::to_vec(&envelope).expect("json"),
            HashMap::from([("partitionKey".to_owned(), "alice".to_owned())]),
        )
        .await
        .expect("delivered");
    assert_eq!(delivery.outcome, Outcome::DeadLettered);
    let db = app.db().await;
    let letters = eventually("the dead letter row", || {
        let db = db.clone();
        async move {
            use sea_orm::EntityTrait;
            let rows = taskflow::store::entity::dead_letter::Entity::find()
                .all(db.conn())
                .await
                .ok()?;
            (!rows.is_empty()).then_some(rows)
        }
    })
    .await;
    assert_eq!(letters[0].event_id, "poison-1");
    assert_eq!(letters[0].topic, "tasks-dlq");
}

async fn entries_the_sidecar_fails_are_sent_again(backend: Backend) {
    let double = double().await;
    double.set_auto_deliver(false);
    double.fail_bulk_entries(2);
    let app = TestApp::spawn_with_double(backend, &double).await;
    let mut alice = app.user("alice");
    let mut names = Vec::new();
    for i in 0..4 {
        names.push(
            create(&mut alice, "alice", titled(&format!("entry {i}")))
                .await
                .name,
        );
    }
    let db = app.db().await;
    published_outbox(&db, Some(4)).await;
    let mut subjects: Vec<String> = double
        .published()
        .iter()
        .map(|p| {
            p.cloud_event["subject"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    subjects.sort();
    subjects.dedup();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(
        subjects, expected,
        "every event made it despite failed entries"
    );
}

both_backends!(
    entries_the_sidecar_fails_are_sent_again,
    every_write_reaches_the_sidecar_as_one_cloud_event,
    recurring_tasks_come_back_through_the_callback_port,
    nothing_is_lost_while_the_sidecar_is_away,
    older_sidecars_without_bulk_publish_get_single_publishes,
    failing_publishes_are_retried_not_lost,
    dropped_deliveries_reach_the_dead_letter_topic,
);

/// Two replicas on one PostgreSQL database: one relay at a time (an advisory lock), every
/// event published once in commit order, and the other replica takes over when it stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_relay_and_fail_over() {
    use sea_orm::{ConnectionTrait, Statement};
    let double = double().await;
    double.set_auto_deliver(false);
    let first = TestApp::spawn_with_double(Backend::Postgres, &double).await;
    let second = first.replica(crate::helpers::wired_to(&double)).await;
    let (mut via_first, mut via_second) = (first.user("alice"), second.user("alice"));
    let mut names = Vec::new();
    for i in 0..20 {
        let client = if i % 2 == 0 {
            &mut via_first
        } else {
            &mut via_second
        };
        names.push(
            create(client, "alice", titled(&format!("replicated {i}")))
                .await
                .name,
        );
    }
    let published = double
        .wait_for_published(20, WAIT)
        .await
        .unwrap_or_else(|e| panic!("published once: {} of 20", e.got.len()));
    let subjects: Vec<String> = published
        .iter()
        .map(|p| {
            p.cloud_event["subject"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(subjects, names, "in commit order, across both replicas");

    let db = first.db().await;
    let holders = db
        .conn()
        .query_one_raw(Statement::from_string(
            db.db_backend(),
            format!(
                "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 AND ((classid::bigint << 32) | objid::bigint) = {}",
                taskflow::outbox::relay::RELAY_LOCK_KEY
            ),
        ))
        .await
        .expect("query")
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("a count");
    assert_eq!(holders, 1, "exactly one relay holds the lock");

    // Whichever replica led, stopping the first one leaves the second publishing.
    let _db = first.stop().await;
    for i in 20..25 {
        names.push(
            create(&mut via_second, "alice", titled(&format!("replicated {i}")))
                .await
                .name,
        );
    }
    let published = double
        .wait_for_published(25, WAIT)
        .await
        .unwrap_or_else(|e| panic!("the survivor publishes: {} of 25", e.got.len()));
    let mut subjects: Vec<String> = published
        .iter()
        .map(|p| {
            p.cloud_event["subject"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    subjects.dedup();
    assert_eq!(subjects, names);
}
