//! Firing one reminder: check it is still current, write the notification and the
//! `reminder.triggered` event in one transaction, at most once.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::{LATE_AFTER, OVERDUE_AFTER, Reminders, context};
use crate::convert::timestamp_out;
use crate::domain::TaskName;
use crate::domain::{Kind, NewNotification, Notification};
use crate::error::AppError;
use crate::outbox::{EventKind, NewEvent};
use crate::proto::events::v1 as ev;
use crate::store::{from_micros, notifications, reminders as store, tasks, to_micros};

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

impl Reminders {
    /// Fires the reminder of `name` scheduled for `due_at` at `fire_at`, in its own transaction
    /// (the path of a Dapr job trigger).
    pub async fn fire(
        &self,
        name: &TaskName,
        due_at: DateTime<Utc>,
        fire_at: DateTime<Utc>,
    ) -> Result<Fired, AppError> {
        let (_turn, txn) = self.db.begin_write().await?;
        let fired = self.fire_in(&txn, name, due_at, fire_at).await?;
        txn.commit().await?;
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

    pub(super) async fn fire_in(
        &self,
        txn: &impl ConnectionTrait,
        name: &TaskName,
        due_at: DateTime<Utc>,
        fire_at: DateTime<Utc>,
    ) -> Result<Fired, AppError> {
        let now = self.clock.now();
        let current = store::lock(txn, name).await?;
        let Some(task) = tasks::find(txn, name, true).await? else {
            store::cancel(txn, name, now, false).await?;
            return Ok(Fired::TaskGone);
        };
        let matches_row = current.as_ref().is_some_and(|r| {
            r.due_at_us == to_micros(due_at) && r.state == crate::store::entity::reminder::SCHEDULED
        });
        if task.completed
            || task.is_deleted()
            || task.fields.due_time != Some(due_at)
            || !matches_row
        {
            tracing::debug!(task = %name, "stale or repeated reminder trigger ignored");
            return Ok(Fired::Nothing);
        }
        let late = now - fire_at > LATE_AFTER;
        let local_due = due_at.with_timezone(&task.fields.time_zone.tz());
        let new = NewNotification {
            user: name.user.clone(),
            task: name.clone(),
            kind: Kind::Reminder,
            title: format!("Reminder: {}", task.fields.title),
            body: format!("Due {}", local_due.format("%a %-d %b %Y, %H:%M %Z")),
            dedupe_key: format!("reminder/{}/{}", name.task, to_micros(due_at)),
        };
        store::mark_fired(txn, name, now).await?;
        let Some(notification) = notifications::record(txn, new, now).await? else {
            return Ok(Fired::Nothing);
        };
        self.hub.notify_in_txn(txn, &notification).await?;
        let triggered = ev::ReminderTriggered {
            context: context(name, now, ""),
            task: name.to_string(),
            fire_time: Some(timestamp_out(fire_at)),
            due_time: Some(timestamp_out(due_at)),
            late,
            task_title: task.fields.title.as_str().to_owned(),
        };
        self.outbox
            .enqueue(
                txn,
                NewEvent {
                    kind: EventKind::ReminderTriggered,
                    user: name.user.clone(),
                    subject: name.to_string(),
                    payload: prost::Message::encode_to_vec(&triggered),
                    id: uuid::Uuid::now_v7(),
                },
            )
            .await?;
        tracing::info!(task = %name, late, "reminder fired");
        Ok(Fired::Notified(Box::new(notification)))
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

    /// Fires the armed reminders due at or before `cutoff`.
    async fn fire_due_by(&self, cutoff: DateTime<Utc>) -> Result<usize, AppError> {
        let (_turn, txn) = self.db.begin_write().await?;
        let rows = store::claim_due(&txn, cutoff, 64).await?;
        let mut fired = Vec::new();
        for row in rows {
            let name = store::task_of(&row)?;
            fired.push(
                self.fire_in(
                    &txn,
                    &name,
                    from_micros(row.due_at_us),
                    from_micros(row.fire_at_us),
                )
                .await?,
            );
        }
        txn.commit().await?;
        for f in &fired {
            self.announce(f);
        }
        Ok(fired
            .iter()
            .filter(|f| matches!(f, Fired::Notified(_)))
            .count())
    }
}
