//! Later migrations rebuild what they change from what the schema keeps: the history's
//! counts per day are made from the entries, going up and coming back down.

use chrono::{DateTime, Duration, Utc};
use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};
use taskflow::domain::{Activity, ActivityKind, Actor, TaskId, UserId};
use taskflow::store::activities;

use crate::both_backends;
use crate::helpers::*;

async fn the_counts_per_day_are_rebuilt_from_the_entries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let base: DateTime<Utc> = "2026-10-20T21:13:07Z".parse().expect("a time");
    let history: Vec<Activity> = (0..240_i64)
        .map(|i| {
            let when = base + Duration::seconds(i * 4_877);
            let kind = match i % 4 {
                0 => ActivityKind::TaskCreated,
                1 | 2 => ActivityKind::TaskCompleted,
                _ => ActivityKind::TaskUpdated,
            };
            let event_id = uuid::Uuid::now_v7().to_string();
            Activity {
                id: Activity::id_for(&event_id),
                user: UserId::parse(if i % 3 == 0 {
                    "bob@example.com"
                } else {
                    "alice"
                })
                .expect("a user"),
                kind,
                actor: Actor::User,
                task: TaskId::new_v7(),
                task_title: "a task".into(),
                occur_time: when,
                changes: Vec::new(),
                event_id,
                due_time: (i % 5 != 0).then(|| when + Duration::minutes(30 - i % 60)),
            }
        })
        .collect();
    // One connection: each migration's statements then run on the connection that ran the
    // ones before (with a pool, a SQLite connection could still see the schema it read before
    // another one changed it).
    let db = taskflow::store::Database::connect(&app.database_url, 1)
        .await
        .expect("connects to the test database");
    for batch in history.chunks(9) {
        activities::record(db.conn(), batch.iter().map(activities::row).collect())
            .await
            .expect("recorded");
    }
    let kept = day_rows(&db).await;
    assert!(kept.len() >= 20, "{} day rows", kept.len());
    let created: i32 = kept
        .iter()
        .filter(|(_, _, counted, _)| *counted == 0)
        .map(|(_, _, _, totals)| totals[95])
        .sum();
    assert_eq!(
        created, 60,
        "the tasks created, as each day's last running total"
    );

    // The hourly counts stay for replicas of the previous release during a rolling update.
    let conn = db.conn();
    conn.query_one_raw(Statement::from_string(
        conn.get_database_backend(),
        "SELECT COUNT(*) AS n FROM activity_hours",
    ))
    .await
    .expect("the hourly counts' table is still there");

    // Back to before the counts per day (the migrations after them first).
    let after = Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name() == "m20261205_000013_activity_days")
        .expect("the counts' migration");
    Migrator::down(db.conn(), Some(u32::try_from(after + 1).expect("few")))
        .await
        .expect("migrates down");
    let conn = db.conn();
    let backend = conn.get_database_backend();
    let hours = conn
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT SUM(created0 + created1 + created2 + created3) AS n FROM activity_hours",
        ))
        .await
        .expect("reads the hours")
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("a sum");
    assert_eq!(hours, 60, "the hourly counts are back");

    // One migration at a time, as a deployment that went down would come back up.
    while !Migrator::get_pending_migrations(db.conn())
        .await
        .expect("the pending migrations")
        .is_empty()
    {
        Migrator::up(db.conn(), Some(1)).await.expect("migrates up");
    }
    assert_eq!(day_rows(&db).await, kept);
}

both_backends!(the_counts_per_day_are_rebuilt_from_the_entries,);
