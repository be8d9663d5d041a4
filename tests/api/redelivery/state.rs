//! The end state of a run, read through the API where it shows it (tasks, notifications) and
//! from the tables and the sidecar where it does not (reminders, dedupe keys, jobs, events).

use std::collections::BTreeMap;
use std::fmt::Debug;

use chrono::{DateTime, Utc};
use prost::Message;
use sea_orm::{EntityTrait, QueryOrder};
use taskflow::proto::{events::v1 as ev, v1 as pb};
use taskflow::store::entity::{dead_letter, notification, processed_event, reminder, task};
use uuid::Uuid;

use super::run::{Run, fire_time};
use crate::helpers::list_all;
use crate::helpers::notifications;

/// A reminder job as the sidecar holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobView {
    pub name: String,
    pub fire_at: DateTime<Utc>,
    pub task: String,
    pub fire_time: Option<prost_types::Timestamp>,
    pub due_time: Option<prost_types::Timestamp>,
}

#[derive(Debug)]
pub struct EndState {
    /// Every task of every user (ListTasks), by name.
    pub tasks: Vec<pb::Task>,
    /// The task rows (the series anchor, the reminder lead), by id.
    pub task_rows: Vec<task::Model>,
    /// The reminder rows, by task.
    pub reminders: Vec<reminder::Model>,
    /// Every notification of every user (ListNotifications), named by dedupe key.
    pub notifications: Vec<pb::Notification>,
    /// The notification rows, by dedupe key (ids left out).
    pub notification_rows: Vec<notification::Model>,
    /// The jobs still scheduled, by name.
    pub jobs: Vec<JobView>,
    /// What the run published: (type, subject), sorted.
    pub published: Vec<(String, String)>,
    /// Handled events by consumer and type.
    pub handled: Vec<((String, String), usize)>,
    pub dead_letters: usize,
}

fn time_of(t: &prost_types::Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)).expect("a time")
}

/// Checks that a task a handler created carries one creation time from this run, and leaves
/// that time out of the comparison (it is when the run happened, not what it did).
fn check_created_during(run: &Run, finished: DateTime<Utc>, what: &str, create: DateTime<Utc>) {
    assert!(
        run.started <= create && create <= finished,
        "{what} was created at {create}, outside its run ({} to {finished})",
        run.started
    );
}

impl EndState {
    pub async fn capture(run: &Run, users: &[&str]) -> Self {
        let finished = taskflow::clock::now();
        let conn = run.db.conn();

        let mut tasks = Vec::new();
        for user in users {
            tasks.extend(list_all(&mut run.app.user(user), user).await);
        }
        tasks.sort_by(|a, b| a.name.cmp(&b.name));
        for t in tasks.iter_mut().filter(|t| t.occurrence > 1) {
            assert_eq!(t.create_time, t.update_time, "{} is untouched", t.name);
            let create = time_of(t.create_time.as_ref().expect("a create time"));
            check_created_during(run, finished, &t.name, create);
            (t.create_time, t.update_time) = (None, None);
        }

        let mut task_rows = task::Entity::find()
            .order_by_asc(task::Column::Id)
            .all(conn)
            .await
            .expect("reads tasks");
        for row in task_rows.iter_mut().filter(|r| r.occurrence > 1) {
            (row.create_time_us, row.update_time_us) = (0, 0);
        }

        let reminders = reminder::Entity::find()
            .order_by_asc(reminder::Column::TaskId)
            .all(conn)
            .await
            .expect("reads reminders");

        let rows = notification::Entity::find()
            .order_by_asc(notification::Column::DedupeKey)
            .all(conn)
            .await
            .expect("reads notifications");
        let keys: BTreeMap<Uuid, String> =
            rows.iter().map(|r| (r.id, r.dedupe_key.clone())).collect();
        let mut listed = Vec::new();
        for user in users {
            let page = notifications(&run.app, user)
                .list_notifications(pb::ListNotificationsRequest {
                    parent: format!("users/{user}"),
                    page_size: 500,
                    ..Default::default()
                })
                .await
                .expect("ListNotifications succeeds")
                .into_inner();
            for mut n in page.notifications {
                let id = n.name.rsplit('/').next().and_then(|id| id.parse().ok());
                let key = id
                    .and_then(|id| keys.get(&id))
                    .expect("a stored notification");
                n.name = format!("users/{user}/notifications/{key}");
                listed.push(n);
            }
        }
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        let notification_rows = rows
            .into_iter()
            .map(|r| notification::Model {
                id: Uuid::nil(),
                ..r
            })
            .collect();

        let mut jobs: Vec<JobView> = run
            .double
            .jobs()
            .iter()
            .map(|job| {
                let data = job.data.as_ref().expect("job data");
                let scheduled = ev::ReminderScheduled::decode(data.value.as_slice())
                    .expect("a ReminderScheduled");
                JobView {
                    name: job.name.clone(),
                    fire_at: fire_time(job),
                    task: scheduled.task,
                    fire_time: scheduled.fire_time,
                    due_time: scheduled.due_time,
                }
            })
            .collect();
        jobs.sort_by(|a, b| a.name.cmp(&b.name));

        let mut published: Vec<(String, String)> = run
            .double
            .published()
            .iter()
            .map(|p| {
                let attribute = |a: &str| p.cloud_event[a].as_str().unwrap_or_default().to_owned();
                (attribute("type"), attribute("subject"))
            })
            .collect();
        published.sort();

        let mut handled: BTreeMap<(String, String), usize> = BTreeMap::new();
        for row in processed_event::Entity::find()
            .all(conn)
            .await
            .expect("reads processed events")
        {
            *handled.entry((row.consumer, row.event_type)).or_default() += 1;
        }
        let dead_letters = dead_letter::Entity::find()
            .all(conn)
            .await
            .expect("reads dead letters")
            .len();

        Self {
            tasks,
            task_rows,
            reminders,
            notifications: listed,
            notification_rows,
            jobs,
            published,
            handled: handled.into_iter().collect(),
            dead_letters,
        }
    }

    /// Asserts that `other` ended where the clean run did, naming the first difference.
    pub fn assert_same_as(&self, other: &Self, run: &str) {
        same(run, "tasks (ListTasks)", &self.tasks, &other.tasks);
        same(run, "task rows", &self.task_rows, &other.task_rows);
        same(run, "reminder rows", &self.reminders, &other.reminders);
        same(
            run,
            "notifications (ListNotifications)",
            &self.notifications,
            &other.notifications,
        );
        same(
            run,
            "notification rows",
            &self.notification_rows,
            &other.notification_rows,
        );
        same(run, "scheduled jobs", &self.jobs, &other.jobs);
        same(run, "published events", &self.published, &other.published);
        same(run, "handled events", &self.handled, &other.handled);
        assert_eq!(other.dead_letters, 0, "{run}: dead letters");
    }
}

fn same<T: PartialEq + Debug>(run: &str, what: &str, clean: &[T], other: &[T]) {
    let len = clean.len().max(other.len());
    if let Some(i) = (0..len).find(|&i| clean.get(i) != other.get(i)) {
        panic!(
            "{run}: {what} differ from the clean run at #{i} (clean: {} in all, {run}: {}):\n\
             clean: {:#?}\n{run}: {:#?}",
            clean.len(),
            other.len(),
            clean.get(i),
            other.get(i)
        );
    }
}
