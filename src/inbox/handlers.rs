//! What taskflow does when its own events come back: the next instance of a recurring task
//! when one is completed, and the task's reminder brought in line with the task. Every event
//! is recorded (`processed_events`); one that can change nothing is only recorded.

use sea_orm::{ConnectionTrait, EntityTrait, sea_query::OnConflict};
use uuid::Uuid;

use super::decode::Payload;
use crate::convert::task_in;
use crate::domain::{SeriesPosition, Task, TaskId, TaskName, next_due, zone};
use crate::error::AppError;
use crate::outbox::{Cause, EventKind, Outbox, task_event};
use crate::proto::events::v1 as ev;
use crate::reminders::Reminders;
use crate::store::{entity::task as task_entity, tasks};

/// The namespace of the ids of generated occurrences: `uuidv5(namespace, "{series}/{n}")`.
const OCCURRENCE_NAMESPACE: Uuid = Uuid::from_u128(0x6f1d_0b3e_5a8c_4e21_9b7d_2c4f_8e6a_1d35);

/// The id of occurrence `n` of `series`: the same on every replica and every redelivery.
pub fn occurrence_id(series: Uuid, occurrence: i32) -> TaskId {
    TaskId::from_uuid(Uuid::new_v5(
        &OCCURRENCE_NAMESPACE,
        format!("{series}/{occurrence}").as_bytes(),
    ))
}

/// Whether handling `payload` can change anything beyond its `processed_events` record. Only
/// a task with a due time has a reminder, and a change that removes the due time says so in
/// its changed fields, so events of tasks without one (most `task.created`) change nothing.
pub fn may_change_anything(payload: &Payload) -> bool {
    let has_due =
        |task: Option<&crate::proto::v1::Task>| task.is_some_and(|t| t.due_time.is_some());
    match payload {
        Payload::TaskCreated(created) => has_due(created.task.as_ref()),
        Payload::TaskUpdated(updated) => updated
            .changed_fields
            .iter()
            .any(|f| f == "due_time" || f == "remind_before"),
        // The snapshot of a completed task is checked (and may start the next occurrence).
        Payload::TaskCompleted(_) => true,
        Payload::TaskReopened(reopened) => has_due(reopened.task.as_ref()),
        Payload::TaskDeleted(_) => true,
        Payload::ReminderScheduled(_) | Payload::ReminderTriggered(_) => false,
    }
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
        wrote |= next_occurrence(txn, outbox, event_id, completed).await?;
    }
    let reminder_may_change = match payload {
        Payload::TaskCreated(_)
        | Payload::TaskCompleted(_)
        | Payload::TaskReopened(_)
        | Payload::TaskDeleted(_) => true,
        Payload::TaskUpdated(updated) => updated
            .changed_fields
            .iter()
            .any(|f| f == "due_time" || f == "remind_before"),
        Payload::ReminderScheduled(_) | Payload::ReminderTriggered(_) => false,
    };
    if reminder_may_change && let Some(name) = payload.task_name() {
        let name = TaskName::parse(name).map_err(|e| AppError::invalid("task.name", e))?;
        wrote |= reminders.sync(txn, &name, event_id).await?;
    }
    Ok(wrote)
}

/// Creates the next instance of a completed recurring task, at most once per occurrence.
async fn next_occurrence(
    txn: &impl ConnectionTrait,
    outbox: &Outbox,
    event_id: &str,
    completed: &ev::TaskCompleted,
) -> Result<bool, AppError> {
    let Some(snapshot) = &completed.task else {
        return Err(AppError::invalid("task", "missing"));
    };
    let done = task_in(snapshot)?;
    let Some(rule) = &done.fields.recurrence else {
        return Ok(false);
    };
    // The stored row knows the series anchor; a task deleted since keeps its own due time.
    let stored = tasks::find(
        txn,
        &TaskName {
            user: done.user.clone(),
            task: done.id,
        },
        false,
    )
    .await?;
    let anchor = stored
        .as_ref()
        .and_then(|t| t.series_anchor)
        .or(done.fields.due_time);
    let completed_at = done.complete_time.unwrap_or(done.update_time);
    let position = SeriesPosition {
        anchor,
        due: done.fields.due_time,
        completed_at,
        occurrence: u32::try_from(done.occurrence).unwrap_or(u32::MAX),
    };
    let Some(due) = next_due(rule, zone(&done.fields.time_zone), &position) else {
        tracing::debug!(series = %done.series, "the series has ended");
        return Ok(false);
    };
    let now = crate::clock::now();
    let occurrence = done.occurrence.saturating_add(1);
    let mut fields = done.fields.clone();
    fields.due_time = Some(due);
    let next = Task {
        id: occurrence_id(done.series, occurrence),
        user: done.user.clone(),
        fields,
        completed: false,
        complete_time: None,
        series: done.series,
        occurrence,
        version: 1,
        create_time: now,
        update_time: now,
        series_anchor: anchor,
    };
    if !insert_if_absent(txn, &next).await? {
        tracing::debug!(task = %next.name(), "the next occurrence exists already");
        return Ok(false);
    }
    let cause = Cause::Automation {
        causation_id: event_id.to_owned(),
    };
    outbox
        .enqueue(
            txn,
            task_event(EventKind::TaskCreated, &next, &cause, Vec::new()),
        )
        .await?;
    tracing::info!(task = %next.name(), occurrence, due = %due, "created the next occurrence");
    Ok(true)
}

/// Inserts `task` unless its id or its (series, occurrence) exists; true when inserted.
async fn insert_if_absent(txn: &impl ConnectionTrait, task: &Task) -> Result<bool, AppError> {
    let row = tasks::active_model(task);
    let inserted = task_entity::Entity::insert(row)
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .exec_without_returning(txn)
        .await?;
    if inserted == 0 {
        return Ok(false);
    }
    tasks::insert_tags(txn, task).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn occurrence_ids_are_deterministic_and_distinct() {
        let series = uuid::Uuid::now_v7();
        assert_eq!(
            super::occurrence_id(series, 2),
            super::occurrence_id(series, 2)
        );
        assert_ne!(
            super::occurrence_id(series, 2),
            super::occurrence_id(series, 3)
        );
    }
}
