//! Reminders under a clock the test moves: tasks with due times, and what fired.

#[allow(unused_imports)]
use super::*;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use taskflow::clock::ManualClock;
use taskflow::domain::TaskName;
use taskflow::store::entity::notification;

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub async fn clocked(backend: Backend) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(taskflow::clock::now()));
    let app = TestApp::spawn_with_manual_reminders(backend, clock.clone()).await;
    (app, clock)
}

pub async fn due_task(
    client: &mut Client,
    title: &str,
    due: DateTime<Utc>,
    remind_before: Option<Duration>,
) -> pb::Task {
    create(
        client,
        "alice",
        pb::Task {
            due_time: Some(timestamp(due)),
            remind_before: remind_before.map(|d| prost_types::Duration {
                seconds: d.num_seconds(),
                nanos: 0,
            }),
            ..titled(title)
        },
    )
    .await
}

pub async fn notifications_of(app: &TestApp, task: &pb::Task) -> Vec<notification::Model> {
    let id = TaskName::parse(&task.name).expect("a name").task.as_uuid();
    notification::Entity::find()
        .filter(notification::Column::TaskId.eq(id))
        .all(app.db().await.conn())
        .await
        .expect("read")
}

/// Drains the event path: every event so far is handled (so reminders are armed or cancelled).
pub async fn settled(app: &TestApp) {
    app.drain_events().await;
}
