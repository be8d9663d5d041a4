//! What taskflow does when its own events come back: the next occurrence of a recurring task
//! when one is completed, and the task's reminders brought in line with the task. Every event
//! is recorded (`processed_events`); one that can change nothing is only recorded.

use sea_orm::ConnectionTrait;

use super::decode::Payload;
use crate::app::{Completed, create_next_occurrence};
use crate::convert::{task_in, timestamp_in};
use crate::domain::{TaskField, TaskName};
use crate::error::AppError;
use crate::outbox::Outbox;
use crate::proto::events::v1 as ev;
use crate::reminders::Reminders;

/// Whether handling `payload` can change anything beyond its `processed_events` record. Only
/// a task with a due time or reminders of its own has a reminder, and a change that removes
/// either says so in its changed fields, so events of tasks without one (most `task.created`)
/// change nothing.
pub fn may_change_anything(payload: &Payload) -> bool {
    let has_due = |task: Option<&crate::proto::v1::Task>| {
        task.is_some_and(|t| t.due_time.is_some() || !t.reminders.is_empty())
    };
    match payload {
        Payload::TaskCreated(created) => has_due(created.task.as_ref()),
        Payload::TaskUpdated(updated) => moves_reminder(updated),
        // The snapshot of a completed task is checked (and may start the next occurrence).
        Payload::TaskCompleted(_) => true,
        Payload::TaskReopened(reopened) => has_due(reopened.task.as_ref()),
        Payload::TaskDeleted(_) | Payload::TaskUndeleted(_) | Payload::TaskPurged(_) => true,
        Payload::ReminderScheduled(_)
        | Payload::ReminderTriggered(_)
        | Payload::ReminderSnoozed(_) => false,
    }
}

/// Whether an update changed a field that can move or cancel the task's reminder.
fn moves_reminder(updated: &ev::TaskUpdated) -> bool {
    updated
        .changed_fields
        .iter()
        .filter_map(|path| TaskField::from_path(path))
        .any(TaskField::moves_reminder)
}

/// Runs the handlers of `payload` on `txn`. Returns whether they wrote events to the outbox.
pub async fn dispatch(
    txn: &impl ConnectionTrait,
    outbox: &Outbox,
    reminders: &Reminders,
    event_id: &str,
    payload: &Payload,
) -> Result<bool, AppError> {
    let mut wrote = false;
    if let Payload::TaskCompleted(completed) = payload {
        let completed = completed_in(completed)?;
        wrote |= create_next_occurrence(txn, outbox, event_id, &completed).await?;
    }
    let reminder_may_change = match payload {
        Payload::TaskCreated(_)
        | Payload::TaskCompleted(_)
        | Payload::TaskReopened(_)
        | Payload::TaskDeleted(_)
        | Payload::TaskUndeleted(_)
        | Payload::TaskPurged(_) => true,
        Payload::TaskUpdated(updated) => moves_reminder(updated),
        Payload::ReminderScheduled(_)
        | Payload::ReminderTriggered(_)
        | Payload::ReminderSnoozed(_) => false,
    };
    if reminder_may_change && let Some(name) = payload.task_name() {
        let name = TaskName::parse(name).map_err(|e| AppError::invalid("task.name", e))?;
        wrote |= reminders.sync(txn, &name, event_id).await?;
    }
    Ok(wrote)
}

/// The completed occurrence a `task.completed` event reports.
fn completed_in(event: &ev::TaskCompleted) -> Result<Completed, AppError> {
    let snapshot = event
        .task
        .as_ref()
        .ok_or_else(|| AppError::invalid("task", "missing"))?;
    let series_anchor = event
        .series_anchor
        .as_ref()
        .map(timestamp_in)
        .transpose()
        .map_err(|e| AppError::invalid("series_anchor", e))?;
    Ok(Completed {
        task: task_in(snapshot)?,
        series_anchor,
    })
}
