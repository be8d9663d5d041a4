//! Delivery records written in batches (one statement on PostgreSQL, a transaction on
//! SQLite) count the history per day as its entries say: each entry once however often its
//! event comes, from its quarter of an hour to the end of its UTC day, as created, completed,
//! completed on time or late; users whose ids sort differently by bytes and by a collation.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, Statement};
use taskflow::domain::{Activity, ActivityKind, Actor, TaskId, UserId};
use taskflow::store::activity_days::{COUNTS, QUARTERS, Tally, day_and_quarter};
use taskflow::store::deliveries::{self, Record, processed_row};
use taskflow::store::{Database, activities, to_micros};

use crate::both_backends;
use crate::helpers::*;

const USERS: [&str; 6] = [
    "alice",
    "Zed",
    "_carol",
    "Bob",
    "bob@example.com",
    "carol:1",
];

/// Entries around the edges that count: the first and last microsecond of a day, quarter
/// boundaries, before 1970, completions due exactly then, a microsecond before, and never.
fn history() -> Vec<Activity> {
    let base: DateTime<Utc> = "2026-11-29T23:44:59.999999Z".parse().expect("a time");
    let mut times: Vec<DateTime<Utc>> = (0..180_i64)
        .map(|i| base + Duration::microseconds(i * 1_977_000_001))
        .collect();
    times.extend(
        [
            "1969-12-31T23:59:59.999999Z",
            "1969-12-31T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "2026-12-01T00:00:00Z",
            "2026-12-01T23:59:59.999999Z",
            "2026-12-01T00:15:00Z",
            "2026-12-01T00:14:59.999999Z",
        ]
        .iter()
        .map(|t| t.parse::<DateTime<Utc>>().expect("a time")),
    );
    times
        .into_iter()
        .enumerate()
        .map(|(i, when)| {
            let kind = match i % 4 {
                0 => ActivityKind::TaskCreated,
                1 | 2 => ActivityKind::TaskCompleted,
                _ => ActivityKind::TaskUpdated,
            };
            let due_time = match i % 5 {
                0 => None,
                1 => Some(when),
                2 => Some(when - Duration::microseconds(1)),
                _ => Some(when + Duration::minutes(40 - (i as i64 % 80))),
            };
            let event_id = uuid::Uuid::now_v7().to_string();
            Activity {
                id: Activity::id_for(&event_id),
                user: UserId::parse(USERS[i % USERS.len()]).expect("a user"),
                kind,
                actor: Actor::User,
                task: TaskId::new_v7(),
                task_title: format!("task {i}"),
                occur_time: when,
                changes: Vec::new(),
                event_id,
                due_time,
            }
        })
        .collect()
}

type DayRows = BTreeMap<(String, i64, i16), Vec<i32>>;

/// What the entries make, counted here.
fn expected(history: &[Activity]) -> DayRows {
    let mut rows = DayRows::new();
    for entry in history {
        let occur = to_micros(entry.occur_time);
        let tally = Tally::of(entry.kind.number(), occur, entry.due_time.map(to_micros));
        let (day, quarter) = day_and_quarter(occur);
        for count in (0..COUNTS).filter(|&c| tally.get(c) != 0) {
            let totals = rows
                .entry((entry.user.as_str().to_owned(), day, count as i16))
                .or_insert_with(|| vec![0; QUARTERS]);
            for total in &mut totals[quarter..] {
                *total += 1;
            }
        }
    }
    rows
}

async fn stored(db: &Database) -> DayRows {
    day_rows(db)
        .await
        .into_iter()
        .map(|(user, day, counted, totals)| ((user, day, counted), totals))
        .collect()
}

async fn count(db: &Database, table: &str) -> i64 {
    let conn = db.conn();
    conn.query_one_raw(Statement::from_string(
        conn.get_database_backend(),
        format!("SELECT COUNT(*) AS n FROM {table}"),
    ))
    .await
    .expect("counts")
    .expect("a row")
    .try_get::<i64>("", "n")
    .expect("a count")
}

fn record(entry: &Activity) -> Record {
    Record {
        processed: processed_row("history", &entry.event_id, "task.test", entry.user.as_str()),
        activity: Some(activities::row(entry)),
    }
}

async fn batched_records_count_each_entry_once_from_its_quarter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db = Database::connect(&app.database_url, 4)
        .await
        .expect("connects to the test database");
    let writer = Arc::new(deliveries::record_writer(db.clone()));
    let history = history();
    // Every event comes twice, the copies often in the same batch, all at once so the writer
    // batches them.
    let mut submits = tokio::task::JoinSet::new();
    for entry in history.iter().chain(history.iter()) {
        let writer = writer.clone();
        let record = record(entry);
        submits.spawn(async move { writer.submit(record).await });
    }
    while let Some(done) = submits.join_next().await {
        done.expect("joins").expect("recorded");
    }
    // And once more, one at a time.
    for entry in history.iter().step_by(7) {
        writer.submit(record(entry)).await.expect("recorded again");
    }

    let unique = i64::try_from(history.len()).expect("few");
    assert_eq!(count(&db, "processed_events").await, unique);
    assert_eq!(count(&db, "activities").await, unique);
    let want = expected(&history);
    let got = stored(&db).await;
    assert_eq!(got.len(), want.len(), "day rows");
    for (key, totals) in &want {
        assert_eq!(got.get(key), Some(totals), "the running totals of {key:?}");
    }
    // The entries before 1970 fall on their own days.
    let before_1970 = got.keys().filter(|(_, day, _)| *day < 0).count();
    assert!(before_1970 >= 2, "{before_1970} rows before 1970");
}

both_backends!(batched_records_count_each_entry_once_from_its_quarter,);
