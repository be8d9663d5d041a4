//! Embedded mode: every change lands in the outbox with its event, the relay hands it to the
//! in-process subscriber, and completing a recurring task creates the next occurrence.

use prost::Message;
use taskflow::proto::{events::v1 as ev, v1 as pb};

use crate::both_backends;
use crate::helpers::{
    Backend, LIFECYCLE_TYPES, TestApp, complete, create, full_lifecycle, list_all, titled, ts,
};

fn daily() -> pb::Recurrence {
    pb::Recurrence {
        frequency: pb::Frequency::Daily as i32,
        ..Default::default()
    }
}

async fn every_write_publishes_exactly_one_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let task = full_lifecycle(&mut alice, "alice").await;
    let db = app.db().await;
    let rows = app.drained_outbox(Some(5)).await;
    let types: Vec<&str> = rows.iter().map(|r| r.event_type.as_str()).collect();
    assert_eq!(types, LIFECYCLE_TYPES);
    for row in &rows {
        assert_eq!(row.topic, "tasks");
        assert_eq!(row.partition_key, "alice");
        assert_eq!(row.subject, task.name);
        assert_eq!(
            row.data_schema,
            format!(
                "taskflow.events.v1.{}",
                match row.event_type.as_str() {
                    "task.created" => "TaskCreated",
                    "task.updated" => "TaskUpdated",
                    "task.completed" => "TaskCompleted",
                    "task.reopened" => "TaskReopened",
                    _ => "TaskDeleted",
                }
            )
        );
    }
    let created = ev::TaskCreated::decode(rows[0].payload.as_slice()).expect("decodes");
    let context = created.context.expect("context");
    assert_eq!(context.user_id, "alice");
    assert_eq!(context.origin, ev::Origin::User as i32);
    assert!(context.causation_id.is_empty());
    assert_eq!(created.task.expect("snapshot").title, "Write the report");
    let updated = ev::TaskUpdated::decode(rows[1].payload.as_slice()).expect("decodes");
    assert_eq!(updated.changed_fields, vec!["title", "priority"]);
    let deleted = ev::TaskDeleted::decode(rows[4].payload.as_slice()).expect("decodes");
    assert_eq!(deleted.name, task.name);

    // The subscriber recorded each one exactly once.
    use sea_orm::{EntityTrait, PaginatorTrait};
    let processed = taskflow::store::entity::processed_event::Entity::find()
        .count(db.conn())
        .await
        .expect("count");
    assert_eq!(processed, 5);
}

async fn completing_a_recurring_task_creates_the_next_occurrence(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let first = create(
        &mut alice,
        "alice",
        pb::Task {
            description: "same every day".into(),
            priority: pb::Priority::High as i32,
            tags: vec!["health".into()],
            due_time: Some(ts("2027-03-27T08:00:00Z")), // 09:00 in Berlin, the day before DST
            time_zone: "Europe/Berlin".into(),
            recurrence: Some(daily()),
            ..titled("Stretch")
        },
    )
    .await;
    let done = complete(&mut alice, &first.name).await;
    let second = app.occurrence(&mut alice, "alice", &first.series, 2).await;
    assert_eq!(second.title, "Stretch");
    assert_eq!(second.description, "same every day");
    assert_eq!(second.priority, pb::Priority::High as i32);
    assert_eq!(second.tags, vec!["health"]);
    assert_eq!(second.time_zone, "Europe/Berlin");
    assert_eq!(second.recurrence, first.recurrence);
    assert!(!second.completed);
    assert_eq!(
        second.due_time,
        Some(ts("2027-03-28T07:00:00Z")),
        "09:00 Berlin time is kept across DST"
    );
    assert_ne!(second.name, first.name);

    // Its task.created event is marked as automation, caused by the completion.
    // Task events only: the due tasks also get reminder events on their own topic.
    let rows: Vec<_> = app
        .drained_outbox(None)
        .await
        .into_iter()
        .filter(|r| r.topic == "tasks")
        .collect();
    assert_eq!(rows.len(), 3);
    let completed_id = rows[1].event_id.to_string();
    assert_eq!(rows[1].event_type, "task.completed");
    assert_eq!(rows[2].event_type, "task.created");
    assert_eq!(rows[2].subject, second.name);
    let created = ev::TaskCreated::decode(rows[2].payload.as_slice()).expect("decodes");
    let context = created.context.expect("context");
    assert_eq!(context.origin, ev::Origin::Automation as i32);
    assert_eq!(context.causation_id, completed_id);
    assert_eq!(done.occurrence, 1);
}

async fn monthly_series_keep_their_day_and_weekly_ones_their_weekdays(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let monthly = create(
        &mut alice,
        "alice",
        pb::Task {
            due_time: Some(ts("2027-01-31T18:00:00Z")),
            recurrence: Some(pb::Recurrence {
                frequency: pb::Frequency::Monthly as i32,
                ..Default::default()
            }),
            ..titled("Pay rent")
        },
    )
    .await;
    let mut current = monthly.clone();
    let mut dues = Vec::new();
    for n in 2..=4 {
        complete(&mut alice, &current.name).await;
        current = app
            .occurrence(&mut alice, "alice", &monthly.series, n)
            .await;
        dues.push(current.due_time.expect("due"));
    }
    assert_eq!(
        dues,
        vec![
            ts("2027-02-28T18:00:00Z"),
            ts("2027-03-31T18:00:00Z"),
            ts("2027-04-30T18:00:00Z")
        ],
        "Jan 31 → Feb 28 → Mar 31 → Apr 30: no drift"
    );

    let weekly = create(
        &mut alice,
        "alice",
        pb::Task {
            due_time: Some(ts("2027-01-04T07:30:00Z")), // a Monday
            recurrence: Some(pb::Recurrence {
                frequency: pb::Frequency::Weekly as i32,
                weekdays: vec![pb::DayOfWeek::Monday as i32, pb::DayOfWeek::Thursday as i32],
                ..Default::default()
            }),
            ..titled("Gym")
        },
    )
    .await;
    complete(&mut alice, &weekly.name).await;
    let next = app.occurrence(&mut alice, "alice", &weekly.series, 2).await;
    assert_eq!(
        next.due_time,
        Some(ts("2027-01-07T07:30:00Z")),
        "Monday → Thursday"
    );
    complete(&mut alice, &next.name).await;
    let after = app.occurrence(&mut alice, "alice", &weekly.series, 3).await;
    assert_eq!(
        after.due_time,
        Some(ts("2027-01-11T07:30:00Z")),
        "Thursday → next Monday"
    );
}

async fn recompleting_never_duplicates_and_count_ends_the_series(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let first = create(
        &mut alice,
        "alice",
        pb::Task {
            due_time: Some(ts("2027-05-01T09:00:00Z")),
            recurrence: Some(pb::Recurrence {
                count: Some(2),
                ..daily()
            }),
            ..titled("Twice")
        },
    )
    .await;
    complete(&mut alice, &first.name).await;
    alice
        .reopen_task(pb::ReopenTaskRequest {
            name: first.name.clone(),
        })
        .await
        .expect("reopen");
    complete(&mut alice, &first.name).await;
    let second = app.occurrence(&mut alice, "alice", &first.series, 2).await;
    complete(&mut alice, &second.name).await;

    app.drained_outbox(None).await;
    let tasks = list_all(&mut alice, "alice").await;
    let in_series: Vec<i32> = tasks
        .iter()
        .filter(|t| t.series == first.series)
        .map(|t| t.occurrence)
        .collect();
    assert_eq!(
        in_series,
        vec![1, 2],
        "one next occurrence despite two completions; count=2 ends it"
    );
}

both_backends!(
    every_write_publishes_exactly_one_event,
    completing_a_recurring_task_creates_the_next_occurrence,
    monthly_series_keep_their_day_and_weekly_ones_their_weekdays,
    recompleting_never_duplicates_and_count_ends_the_series,
    pruning_keeps_recent_and_unpublished_events,
);

/// The caller's W3C trace continues into the events its call publishes, and from a delivered
/// event into the events its handler publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_context_flows_from_calls_into_events() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut traced = app.client_with(&[
        ("x-user-id", "alice"),
        ("traceparent", &format!("00-{trace}-00f067aa0ba902b7-01")),
    ]);
    let task = create(
        &mut traced,
        "alice",
        pb::Task {
            recurrence: Some(daily()),
            ..titled("traced")
        },
    )
    .await;
    traced
        .complete_task(pb::CompleteTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("complete");
    let rows: Vec<_> = app
        .drained_outbox(None)
        .await
        .into_iter()
        .filter(|r| r.topic == "tasks")
        .collect();
    assert_eq!(rows.len(), 3, "created, completed, and the next occurrence");
    for row in &rows {
        let traceparent = row.traceparent.clone().expect("a traceparent");
        assert_eq!(
            traceparent.split('-').nth(1),
            Some(trace),
            "{} keeps the caller's trace",
            row.event_type
        );
    }
    let spans: std::collections::HashSet<_> = rows.iter().map(|r| r.traceparent.clone()).collect();
    assert_eq!(spans.len(), 3, "each event is a span of its own");

    // Without a traceparent, the call starts a trace of its own, which its event carries.
    let mut plain = app.user("bob");
    create(&mut plain, "bob", titled("untraced")).await;
    let rows = app.drained_outbox(None).await;
    let bobs = rows
        .iter()
        .find(|r| r.partition_key == "bob")
        .expect("bob's event");
    let bobs_trace = bobs
        .traceparent
        .as_deref()
        .and_then(|t| t.split('-').nth(1))
        .expect("a trace id");
    assert_eq!(bobs_trace.len(), 32);
    assert_ne!(bobs_trace, trace);
    assert_ne!(bobs_trace, "0".repeat(32));
}

/// Old published events are deleted; recent and unpublished ones never are.
async fn pruning_keeps_recent_and_unpublished_events(backend: Backend) {
    use taskflow::store::retention::{Kept, prune_batch};
    let prune = |conn, before| prune_batch(conn, Kept::PublishedEvents, before, 100);
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    create(&mut alice, "alice", titled("one")).await;
    create(&mut alice, "alice", titled("two")).await;
    let db = app.db().await;
    app.drained_outbox(Some(2)).await;
    let now = taskflow::clock::now().timestamp_micros();
    assert_eq!(
        prune(db.conn(), now - 3_600_000_000).await.expect("prune"),
        0,
        "too recent"
    );
    assert_eq!(prune(db.conn(), now + 1_000_000).await.expect("prune"), 2);
    assert!(crate::helpers::outbox_rows(&db).await.is_empty());

    let stuck = TestApp::spawn_dapr(backend, "http://127.0.0.1:9", None).await;
    let mut bob = stuck.user("bob");
    create(&mut bob, "bob", titled("waiting")).await;
    let db = stuck.db().await;
    assert_eq!(
        prune(db.conn(), now + 3_600_000_000).await.expect("prune"),
        0
    );
    assert_eq!(
        crate::helpers::outbox_rows(&db).await.len(),
        1,
        "unpublished events stay"
    );
}
