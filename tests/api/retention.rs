//! Retention: delivery records, read notifications, resolved dead letters and published
//! events are deleted once past their own retention, in batches; what is still needed
//! (unread notifications, dead letters waiting for review) stays.

use std::sync::Arc;

use chrono::Duration;
use sea_orm::{ConnectionTrait, Statement};
use taskflow::clock::ManualClock;
use taskflow::store::Database;
use taskflow::store::dead_letters::{self as letters, NewDeadLetter};

use crate::both_backends;
use crate::helpers::*;

async fn count(db: &Database, from: &str) -> i64 {
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(
            db.conn().get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {from}"),
        ))
        .await
        .expect("counts")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("a count")
}

/// Three dead letters: one discarded, one replayed, one still waiting for review.
async fn three_dead_letters(db: &Database) {
    for n in 0..3 {
        let event_id = format!("dead-{n}");
        letters::keep(
            db.conn(),
            NewDeadLetter {
                event_id: &event_id,
                topic: "tasks-dlq",
                original_topic: Some("tasks"),
                event_type: "task.completed",
                user_id: "alice",
                subject: None,
                attributes: None,
                payload: b"",
                reason: "retries exhausted",
                attempts: 3,
            },
        )
        .await
        .expect("keeps a dead letter");
    }
    let ids: Vec<i64> = letters::list(
        db.conn(),
        &letters::Filter {
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .expect("lists")
    .iter()
    .map(|l| l.id)
    .collect();
    assert_eq!(ids.len(), 3);
    letters::discard(db.conn(), &ids[..1])
        .await
        .expect("discards");
    letters::record_replay(db.conn(), ids[1], "applied", true)
        .await
        .expect("records the replay");
}

fn hours(h: i64) -> Duration {
    Duration::hours(h) + Duration::minutes(1)
}

async fn each_kind_goes_after_its_own_retention_and_what_is_needed_stays(backend: Backend) {
    let clock = Arc::new(ManualClock::new(taskflow::clock::now()));
    let app = TestApp::spawn_with_clock(backend, clock.clone(), |c| {
        c.retention.retention_batch_size = 2;
    })
    .await;
    let mut alice = app.user("alice");
    for n in 0..5 {
        create(&mut alice, "alice", titled(&format!("task {n}"))).await;
    }
    app.drain_events().await;
    let db = app.db().await;
    let records = count(&db, "processed_events").await;
    assert!(records >= 5, "each created event was handled: {records}");
    assert_eq!(count(&db, "outbox WHERE published_us IS NOT NULL").await, 5);

    let recorded = record_all(
        &db,
        &app.hub(),
        "alice",
        (0..3).map(|n| (format!("due {n}"), ago(1))),
        "Due soon",
    )
    .await;
    let mut bell = notifications(&app, "alice");
    for read in &recorded[..2] {
        mark(&mut bell, &read.name()).await.expect("marks read");
    }
    three_dead_letters(&db).await;

    let pass = app.retention.run_once().await.expect("a pass");
    assert_eq!(pass.total(), 0, "nothing is old yet: {pass:?}");

    // Published events go after 168 hours; delivery records are still needed.
    clock.advance(hours(168));
    let pass = app.retention.run_once().await.expect("a pass");
    assert_eq!((pass.published_events, pass.total()), (5, 5), "{pass:?}");
    assert_eq!(count(&db, "outbox").await, 0);
    assert_eq!(count(&db, "processed_events").await, records);

    // Delivery records go after 336 hours, two rows per statement.
    clock.advance(hours(336 - 168));
    let pass = app.retention.run_once().await.expect("a pass");
    assert_eq!(pass.processed_events, records as u64, "{pass:?}");
    assert_eq!(pass.total(), records as u64, "{pass:?}");
    assert!(
        pass.batches >= (records as u64).div_ceil(2) + 3,
        "batches of two: {pass:?}"
    );
    assert_eq!(count(&db, "processed_events").await, 0);
    assert_eq!(count(&db, "notifications").await, 3);
    assert_eq!(count(&db, "dead_letters").await, 3);

    // Read notifications and resolved dead letters go after 720 hours; the unread
    // notification and the dead letter waiting for review stay, however old.
    clock.advance(hours(720 - 336));
    let pass = app.retention.run_once().await.expect("a pass");
    assert_eq!(
        (pass.read_notifications, pass.resolved_dead_letters),
        (2, 2),
        "{pass:?}"
    );
    let left = list_page(&mut bell, 10, "", false)
        .await
        .expect("lists")
        .notifications;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].name, recorded[2].name());
    assert!(left[0].read_time.is_none());
    let stored = letters::list(
        db.conn(),
        &letters::Filter {
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .expect("lists");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, "stored");

    // The history goes after 400 days; the rest that is left stays however old.
    let history = count(&db, "activities").await;
    assert_eq!(history, 5, "one entry per created task");
    clock.advance(Duration::days(400) - Duration::hours(721));
    let pass = app.retention.run_once().await.expect("a pass");
    assert_eq!(pass.total(), 0, "{pass:?}");
    clock.advance(Duration::days(1));
    let pass = app.retention.run_once().await.expect("a pass");
    assert_eq!(pass.activities, 5, "{pass:?}");
    assert_eq!(count(&db, "activities").await, 0);
    // Their day's counts go once the whole (UTC) day is past the retention.
    let left = count(&db, "activity_days").await;
    assert!(
        (1..=2).contains(&(u64::try_from(left).expect("a count") + pass.activity_days)),
        "{left} day rows left: {pass:?}"
    );
    assert_eq!(pass.total(), 5 + pass.activity_days, "{pass:?}");
    clock.advance(Duration::days(1));
    let pass = app.retention.run_once().await.expect("a pass");
    assert_eq!(
        pass.activity_days,
        u64::try_from(left).expect("a count"),
        "{pass:?}"
    );
    assert_eq!(count(&db, "activity_days").await, 0);
    clock.advance(Duration::days(3650));
    let pass = app.retention.run_once().await.expect("a pass");
    assert_eq!(pass.total(), 0, "{pass:?}");

    let metrics = scrape(&app).await;
    for kind in [
        "processed_events",
        "read_notifications",
        "resolved_dead_letters",
        "published_events",
        "activities",
        "activity_days",
    ] {
        let line = format!("taskflow_retention_deleted_total{{table=\"{kind}\"}}");
        assert!(metrics.contains(&line), "{line} missing");
    }
}

both_backends!(each_kind_goes_after_its_own_retention_and_what_is_needed_stays,);

/// On PostgreSQL a batch skips rows that another transaction holds (another replica's batch,
/// or a writer), so pruning never waits behind it; the held row goes in a later pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_skips_rows_held_by_another_transaction() {
    let clock = Arc::new(ManualClock::new(taskflow::clock::now()));
    let app = TestApp::spawn_with_clock(Backend::Postgres, clock.clone(), |_| {}).await;
    let mut alice = app.user("alice");
    for n in 0..4 {
        create(&mut alice, "alice", titled(&format!("task {n}"))).await;
    }
    app.drain_events().await;
    let db = app.db().await;
    let records = count(&db, "processed_events").await;
    assert!(records >= 4);

    let holder = Database::connect(&app.database_url, 1)
        .await
        .expect("connects");
    let txn = sea_orm::TransactionTrait::begin(holder.conn())
        .await
        .expect("begins");
    txn.execute_unprepared(
        "SELECT 1 FROM processed_events ORDER BY processed_us LIMIT 1 FOR UPDATE",
    )
    .await
    .expect("holds the oldest record");

    clock.advance(hours(336));
    let pass = tokio::time::timeout(std::time::Duration::from_secs(30), app.retention.run_once())
        .await
        .expect("the pass does not wait for the held row")
        .expect("a pass");
    assert_eq!(pass.processed_events, records as u64 - 1, "{pass:?}");
    assert_eq!(count(&db, "processed_events").await, 1);

    txn.rollback().await.expect("rolls back");
    let pass = app.retention.run_once().await.expect("a pass");
    assert_eq!(pass.processed_events, 1);
    assert_eq!(count(&db, "processed_events").await, 0);
}
