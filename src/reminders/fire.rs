//! Firing reminders: check each is still current, write its notification and its
//! `reminder.triggered` event, many in one transaction, each at most once.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::plans::still_wanted;
use super::{LATE_AFTER, OVERDUE_AFTER, Reminders, context};
use crate::convert::{reminder_out, timestamp_out};
use crate::domain::{
    FiredReminder, Kind, LEAD_ID, NewNotification, Notification, Task, TaskName, snoozed_of,
    spec_of,
};
use crate::error::AppError;
use crate::outbox::{EventKind, NewEvent};
use crate::proto::events::v1 as ev;
use crate::store::entity::reminder::SCHEDULED;
use crate::store::reminders::{self as store, ReminderRow};
use crate::store::{from_micros, notifications, reminder_batch, to_micros};

/// Armed reminders claimed per transaction by the local loop and the sweep.
const CLAIM: u64 = 1000;

/// What a trigger came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    /// A notification was written (and is announced once committed).
    Notified(Box<Notification>),
    /// The trigger was stale (task completed, due time moved) or already handled.
    Nothing,
    /// The task no longer exists.
    TaskGone,
}

/// A trigger of one reminder: the reminder `reminder` of `task`, armed for the task due at
/// `due_at`, to fire at `fire_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub task: TaskName,
    pub reminder: String,
    pub due_at: Option<DateTime<Utc>>,
    pub fire_at: DateTime<Utc>,
}

/// What a claimed row becomes, before its notification is written.
struct Firing {
    row: ReminderRow,
    name: TaskName,
    new: NewNotification,
    title: String,
}

impl Reminders {
    /// Fires the older single reminder (`lead`) of `name` scheduled for `due_at` at
    /// `fire_at`, in its own transaction.
    pub async fn fire(
        &self,
        name: &TaskName,
        due_at: DateTime<Utc>,
        fire_at: DateTime<Utc>,
    ) -> Result<Fired, AppError> {
        self.fire_trigger(Trigger {
            task: name.clone(),
            reminder: LEAD_ID.to_owned(),
            due_at: Some(due_at),
            fire_at,
        })
        .await
    }

    /// Fires one reminder's trigger in its own transaction (the path of a Dapr job trigger).
    pub async fn fire_trigger(&self, trigger: Trigger) -> Result<Fired, AppError> {
        let (_turn, txn) = self.db.begin_write().await?;
        let id = if trigger.reminder.is_empty() {
            LEAD_ID
        } else {
            trigger.reminder.as_str()
        };
        let row = store::lock(&txn, &trigger.task, id).await?;
        let row =
            row.filter(|r| r.state == SCHEDULED && r.due_at_us == trigger.due_at.map(to_micros));
        let mut fired = match row {
            Some(row) => self.fire_rows(&txn, vec![row]).await?,
            None => {
                let tasks =
                    reminder_batch::tasks_by_id(&txn, &[trigger.task.task.as_uuid()]).await?;
                if tasks.is_empty() {
                    store::cancel_all(&txn, &trigger.task, self.clock.now(), false).await?;
                    vec![Fired::TaskGone]
                } else {
                    tracing::debug!(task = %trigger.task, "stale or repeated reminder trigger ignored");
                    vec![Fired::Nothing]
                }
            }
        };
        txn.commit().await?;
        let fired = fired.pop().unwrap_or(Fired::Nothing);
        self.announce(&fired);
        Ok(fired)
    }

    /// Announces what a committed firing wrote.
    pub(super) fn announce(&self, fired: &Fired) {
        if let Fired::Notified(notification) = fired {
            crate::metrics::metrics().reminders_fired.inc();
            self.hub.committed(notification);
            self.outbox.wake();
        }
    }

    /// Fires the claimed (locked, armed) `rows` on `txn`: one outcome per row, in order.
    async fn fire_rows(
        &self,
        txn: &impl ConnectionTrait,
        rows: Vec<ReminderRow>,
    ) -> Result<Vec<Fired>, AppError> {
        let now = self.clock.now();
        let ids: Vec<_> = rows.iter().map(|r| r.task_id).collect();
        let tasks = reminder_batch::tasks_by_id(txn, &ids).await?;
        let mut outcomes: Vec<Option<Fired>> = Vec::with_capacity(rows.len());
        let mut firings: Vec<(usize, Firing)> = Vec::new();
        for (i, row) in rows.into_iter().enumerate() {
            let name = store::task_of(&row)?;
            let task = tasks.get(&row.task_id).filter(|t| t.user == name.user);
            let Some(task) = task else {
                store::cancel_all(txn, &name, now, false).await?;
                outcomes.push(Some(Fired::TaskGone));
                continue;
            };
            let due_at = row.due_at_us.map(from_micros);
            if !still_wanted(task, &row.reminder_id, due_at) {
                tracing::debug!(task = %name, "stale reminder ignored");
                outcomes.push(Some(Fired::Nothing));
                continue;
            }
            outcomes.push(None);
            firings.push((i, firing(row, name, task, self.lead)));
        }
        let keys: Vec<String> = firings
            .iter()
            .map(|(_, f)| f.new.dedupe_key.clone())
            .collect();
        let done = notifications::existing_keys(txn, &keys).await?;
        let marked: Vec<_> = firings
            .iter()
            .map(|(_, f)| (f.row.task_id, f.row.reminder_id.clone()))
            .collect();
        reminder_batch::mark_fired_many(txn, &marked, now).await?;
        let (fresh, repeated): (Vec<_>, Vec<_>) = firings
            .into_iter()
            .partition(|(_, f)| !done.contains(&f.new.dedupe_key));
        for (i, _) in repeated {
            outcomes[i] = Some(Fired::Nothing);
        }
        let written = notifications::record_many(
            txn,
            fresh.iter().map(|(_, f)| f.new.clone()).collect(),
            now,
        )
        .await?;
        self.hub.notify_many_in_txn(txn, &written).await?;
        let mut events = Vec::with_capacity(written.len());
        for ((i, firing), notification) in fresh.into_iter().zip(written) {
            events.push(self.triggered_event(&firing, &notification, now));
            outcomes[i] = Some(Fired::Notified(Box::new(notification)));
        }
        if !events.is_empty() {
            self.outbox.enqueue_many(txn, events).await?;
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Fired::Nothing))
            .collect())
    }

    fn triggered_event(
        &self,
        firing: &Firing,
        notification: &Notification,
        now: DateTime<Utc>,
    ) -> NewEvent {
        let row = &firing.row;
        let fire_at = from_micros(row.fire_at_us);
        let due_at = firing.new.due_time;
        let late = now - fire_at > LATE_AFTER;
        let triggered = ev::ReminderTriggered {
            context: context(&firing.name, now, ""),
            task: firing.name.to_string(),
            fire_time: Some(timestamp_out(fire_at)),
            due_time: due_at.map(timestamp_out),
            late,
            task_title: firing.title.clone(),
            reminder_id: row.reminder_id.clone(),
            reminder: firing
                .new
                .reminder
                .as_ref()
                .and_then(|r| r.spec.as_ref())
                .map(|spec| reminder_out(spec, due_at)),
            snoozed: snoozed_of(&row.reminder_id).is_some(),
            notification: notification.name(),
        };
        if late {
            tracing::info!(task = %firing.name, reminder = %row.reminder_id, "reminder fired late");
        }
        NewEvent {
            kind: EventKind::ReminderTriggered,
            user: firing.name.user.clone(),
            subject: firing.name.to_string(),
            payload: prost::Message::encode_to_vec(&triggered),
            id: uuid::Uuid::now_v7(),
        }
    }

    /// Fires every armed reminder whose time has come (the local loop's step); returns how
    /// many notifications it wrote.
    pub async fn fire_due(&self) -> Result<usize, AppError> {
        self.fire_due_by(self.clock.now()).await
    }

    /// Fires the armed reminders whose trigger is overdue by more than [`OVERDUE_AFTER`]
    /// (cluster mode's sweep): a trigger the Scheduler dropped, or a job the sidecar never
    /// got, still becomes its notification, marked late. A trigger that arrives after all
    /// finds the reminder fired and does nothing.
    pub async fn fire_overdue(&self) -> Result<usize, AppError> {
        self.fire_due_by(self.clock.now() - OVERDUE_AFTER).await
    }

    /// Fires the armed reminders due at or before `cutoff`, a claim per transaction.
    async fn fire_due_by(&self, cutoff: DateTime<Utc>) -> Result<usize, AppError> {
        let mut notified = 0;
        loop {
            let (_turn, txn) = self.db.begin_write().await?;
            let rows = store::claim_due(&txn, cutoff, CLAIM).await?;
            let full = rows.len() as u64 == CLAIM;
            let fired = self.fire_rows(&txn, rows).await?;
            txn.commit().await?;
            for f in &fired {
                self.announce(f);
            }
            let count = fired
                .iter()
                .filter(|f| matches!(f, Fired::Notified(_)))
                .count();
            notified += count;
            if !full || count == 0 {
                return Ok(notified);
            }
        }
    }
}

/// The notification a claimed row writes, for `task` as it is now.
fn firing(row: ReminderRow, name: TaskName, task: &Task, default_lead: chrono::Duration) -> Firing {
    let fields = &task.fields;
    let lead = fields.remind_before.or(Some(default_lead));
    let id = snoozed_of(&row.reminder_id)
        .unwrap_or(&row.reminder_id)
        .to_owned();
    let spec = spec_of(&id, lead);
    let body = match fields.due_time {
        Some(due) => {
            let local = due.with_timezone(&fields.time_zone.tz());
            format!("Due {}", local.format("%a %-d %b %Y, %H:%M %Z"))
        }
        None => "Reminder".to_owned(),
    };
    let dedupe_key = match (row.reminder_id.as_str(), row.due_at_us) {
        // The older single reminder keeps the key it always had.
        (LEAD_ID, Some(due)) => format!("reminder/{}/{due}", name.task),
        (id, _) if snoozed_of(id).is_some() => {
            format!("reminder/{}/{id}/{}", name.task, row.fire_at_us)
        }
        (id, due) => format!("reminder/{}/{id}/{}", name.task, due.unwrap_or(0)),
    };
    let new = NewNotification {
        user: name.user.clone(),
        task: name.clone(),
        kind: Kind::Reminder,
        title: format!("Reminder: {}", fields.title),
        body,
        dedupe_key,
        due_time: fields.due_time,
        reminder: Some(FiredReminder { id, spec }),
    };
    Firing {
        title: fields.title.as_str().to_owned(),
        row,
        name,
        new,
    }
}
