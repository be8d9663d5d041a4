//! Snoozing a reminder's notification: its reminder fires again later, once, as
//! `snooze-<id>`; snoozing again moves it; completing or deleting the task cancels it.

use chrono::{DateTime, Duration, Utc};

use super::{Reminders, context};
use crate::convert::timestamp_out;
use crate::domain::{
    FiredReminder, Kind, LEAD_ID, Notification, NotificationName, REMIND_BEFORE_MAX_DAYS, snooze_id,
};
use crate::error::AppError;
use crate::outbox::{EventKind, NewEvent};
use crate::proto::events::v1 as ev;
use crate::store::reminders::{self as store, Arm};
use crate::store::{notifications, tasks};

/// When a snoozed reminder fires again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnoozeFor {
    /// This long from now.
    Duration(Duration),
    /// At this time.
    Until(DateTime<Utc>),
}

impl SnoozeFor {
    /// The time it stands for at `now`, checked: in the future, at most a year ahead.
    fn at(self, now: DateTime<Utc>) -> Result<DateTime<Utc>, AppError> {
        let longest = Duration::days(REMIND_BEFORE_MAX_DAYS);
        match self {
            Self::Duration(d) if d <= Duration::zero() || d > longest => Err(AppError::invalid(
                "duration",
                format!("must be more than 0 and at most {REMIND_BEFORE_MAX_DAYS} days"),
            )),
            Self::Duration(d) => Ok(now + d),
            Self::Until(t) if t <= now => Err(AppError::invalid(
                "until",
                format!("must be in the future (it is {} now)", now.to_rfc3339()),
            )),
            Self::Until(t) if t - now > longest => Err(AppError::invalid(
                "until",
                format!("must be at most {REMIND_BEFORE_MAX_DAYS} days ahead"),
            )),
            Self::Until(t) => Ok(t),
        }
    }
}

impl Reminders {
    /// Snoozes the reminder of notification `name` (checked to be the caller's) until `when`;
    /// returns the notification with its `snooze_time`.
    pub async fn snooze(
        &self,
        name: &NotificationName,
        when: SnoozeFor,
    ) -> Result<Notification, AppError> {
        let now = self.clock.now();
        let until = when.at(now)?;
        let (_turn, txn) = self.db.begin_write().await?;
        let mut notification = notifications::lock(&txn, &name.user, name.id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("notification {name}")))?;
        let Kind::Reminder = notification.kind;
        // Reminder notifications written before reminders had ids came from the single one.
        let reminder = notification.reminder.clone().unwrap_or(FiredReminder {
            id: LEAD_ID.to_owned(),
            spec: None,
        });
        let task = tasks::find(&txn, &notification.task, true)
            .await?
            .ok_or_else(|| {
                AppError::FailedPrecondition(format!(
                    "the task of notification {name} no longer exists"
                ))
            })?;
        if task.is_deleted() || task.completed {
            let state = if task.completed {
                "completed"
            } else {
                "deleted"
            };
            return Err(AppError::FailedPrecondition(format!(
                "task {} is {state}: its reminders cannot be snoozed",
                notification.task
            )));
        }
        let id = snooze_id(&reminder.id);
        let arm = Arm {
            task: &notification.task,
            reminder: &id,
            fire_at: until,
            // A snooze is a time of its own: moving the due time leaves it be.
            due_at: None,
        };
        store::schedule(&txn, arm, now, !self.fires_locally()).await?;
        self.scheduled_event(&txn, arm, now, "").await?;
        notifications::set_snooze(&txn, name.id, until).await?;
        let snoozed = ev::ReminderSnoozed {
            context: context(&notification.task, now, "").map(|mut c| {
                c.origin = ev::Origin::User as i32;
                c
            }),
            task: notification.task.to_string(),
            notification: name.to_string(),
            reminder_id: reminder.id.clone(),
            fire_time: Some(timestamp_out(until)),
            due_time: task.fields.due_time.map(timestamp_out),
            task_title: task.fields.title.as_str().to_owned(),
        };
        self.outbox
            .enqueue(
                &txn,
                NewEvent {
                    kind: EventKind::ReminderSnoozed,
                    user: notification.task.user.clone(),
                    subject: notification.task.to_string(),
                    payload: prost::Message::encode_to_vec(&snoozed),
                    id: uuid::Uuid::now_v7(),
                },
            )
            .await?;
        txn.commit().await?;
        self.changed();
        self.outbox.wake();
        tracing::debug!(notification = %name, until = %until, "reminder snoozed");
        notification.snooze_time = Some(crate::store::from_micros(crate::store::to_micros(until)));
        Ok(notification)
    }
}
