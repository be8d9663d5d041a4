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

pub fn before(d: Duration) -> pb::Reminder {
    pb::Reminder {
        when: Some(pb::reminder::When::BeforeDue(prost_types::Duration {
            seconds: d.num_seconds(),
            nanos: 0,
        })),
        fire_time: None,
    }
}

pub fn at(t: DateTime<Utc>) -> pb::Reminder {
    pb::Reminder {
        when: Some(pb::reminder::When::At(timestamp(t))),
        fire_time: None,
    }
}

/// The id of a reminder (as in `reminders.reminder_id` and job names).
pub fn before_id(d: Duration) -> String {
    format!("before-{}", d.num_microseconds().expect("fits"))
}

pub fn at_id(t: DateTime<Utc>) -> String {
    format!("at-{}", t.timestamp_micros())
}

/// Creates alice's task due at `due` (if any) with `reminders`.
pub async fn task_with(
    client: &mut Client,
    title: &str,
    due: Option<DateTime<Utc>>,
    reminders: Vec<pb::Reminder>,
) -> pb::Task {
    create(
        client,
        "alice",
        pb::Task {
            due_time: due.map(timestamp),
            reminders,
            ..titled(title)
        },
    )
    .await
}

/// Every reminder row of `task`, by reminder id.
pub async fn reminder_rows(
    app: &TestApp,
    task: &pb::Task,
) -> std::collections::BTreeMap<String, taskflow::store::entity::reminder::Model> {
    use taskflow::store::entity::reminder;
    let id = TaskName::parse(&task.name).expect("a name").task.as_uuid();
    reminder::Entity::find()
        .filter(reminder::Column::TaskId.eq(id))
        .all(app.db().await.conn())
        .await
        .expect("read")
        .into_iter()
        .map(|r| (r.reminder_id.clone(), r))
        .collect()
}

/// The payloads of the outbox's events of `event_type`.
pub async fn events_of<M: prost::Message + Default>(app: &TestApp, event_type: &str) -> Vec<M> {
    outbox_rows(&app.db().await)
        .await
        .iter()
        .filter(|r| r.event_type == event_type)
        .map(|r| M::decode(r.payload.as_slice()).expect("decodes"))
        .collect()
}

pub async fn set_reminders(
    client: &mut Client,
    task: &pb::Task,
    reminders: Vec<pb::Reminder>,
) -> Result<pb::Task, tonic::Status> {
    client
        .update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                name: task.name.clone(),
                reminders,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["reminders".into()],
            }),
        })
        .await
        .map(tonic::Response::into_inner)
}
