//! Completing an occurrence of a recurring task creates the next one: once per occurrence,
//! whichever replica handles the completion and however often it is delivered.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::task_tree::MAX_DEPTH;
use crate::clock::now;
use crate::domain::{Missed, SeriesPosition, Task, TaskId, next_occurrence, subtask_copy_id};
use crate::error::AppError;
use crate::outbox::{Cause, EventKind, Outbox, task_event};
use crate::store::{series, subtasks, tasks};

/// A completed occurrence as its `task.completed` event reports it.
#[derive(Debug, Clone)]
pub struct Completed {
    /// The occurrence as it was completed.
    pub task: Task,
    /// The due time the series keeps its day and time of day from; `None` for events written
    /// before the event carried it.
    pub series_anchor: Option<DateTime<Utc>>,
}

/// Creates the occurrence after `completed` on `txn`, with its `task.created` event (caused by
/// the event `event_id`), unless the series has ended or that occurrence exists already (for
/// a rule that skips missed occurrences: unless any later occurrence exists, since completing
/// the same occurrence again later would skip to another one). Returns whether it wrote
/// anything.
pub async fn create_next_occurrence(
    txn: &impl ConnectionTrait,
    outbox: &Outbox,
    event_id: &str,
    completed: &Completed,
) -> Result<bool, AppError> {
    let done = &completed.task;
    let Some(rule) = &done.fields.recurrence else {
        return Ok(false);
    };
    let anchor = match completed.series_anchor {
        Some(anchor) => Some(anchor),
        // An event from before the anchor travelled with it: the stored row knows it, unless
        // the occurrence was deleted since.
        None => tasks::find(txn, &done.name(), false)
            .await?
            .and_then(|t| t.series_anchor)
            .or(done.fields.due_time),
    };
    let position = SeriesPosition {
        anchor,
        due: done.fields.due_time,
        completed_at: done.complete_time.unwrap_or(done.update_time),
        occurrence: u32::try_from(done.occurrence).unwrap_or(u32::MAX),
    };
    let Some(next) = next_occurrence(rule, done.fields.time_zone.tz(), &position) else {
        tracing::debug!(series = %done.series, "the series has ended");
        return Ok(false);
    };
    if rule.missed == Missed::Skip
        && series::has_later_occurrence(txn, done.series, done.occurrence).await?
    {
        tracing::debug!(series = %done.series, "a later occurrence exists already");
        return Ok(false);
    }
    let due = next.due;
    let occurrence = i32::try_from(next.occurrence).unwrap_or(i32::MAX);
    let next = done.later_occurrence(occurrence, anchor, due, now());
    if !tasks::insert_if_absent(txn, &next).await? {
        tracing::debug!(task = %next.name(), "the next occurrence exists already");
        return Ok(false);
    }
    let cause = Cause::Automation {
        causation_id: event_id.to_owned(),
    };
    outbox
        .enqueue(txn, task_event(EventKind::TaskCreated, &next, &cause, &[]))
        .await?;
    copy_subtasks(txn, outbox, &cause, done, &next).await?;
    tracing::info!(task = %next.name(), occurrence = next.occurrence, due = %due, "created the next occurrence");
    Ok(true)
}

/// Creates `done`'s subtasks (those not deleted, at every level) again under `next`, open,
/// each due as long before or after its parent as before, with a `task.created` each.
async fn copy_subtasks(
    txn: &impl ConnectionTrait,
    outbox: &Outbox,
    cause: &Cause,
    done: &Task,
    next: &Task,
) -> Result<(), AppError> {
    let levels = subtasks::descendants(txn, &done.user, done.id, MAX_DEPTH, false).await?;
    let shift = match (done.fields.due_time, next.fields.due_time) {
        (Some(was), Some(is)) => Some(is - was),
        _ => None,
    };
    let mut copies: HashMap<TaskId, TaskId> = HashMap::from([(done.id, next.id)]);
    for sub in levels.iter().flatten() {
        let Some(parent) = sub.fields.parent.and_then(|p| copies.get(&p).copied()) else {
            continue;
        };
        if sub.is_deleted() {
            continue;
        }
        let id = subtask_copy_id(next.id, sub.id);
        copies.insert(sub.id, id);
        let mut fields = sub.fields.clone();
        fields.parent = Some(parent);
        fields.list = next.fields.list;
        if let (Some(shift), Some(due)) = (shift, fields.due_time) {
            fields.due_time = Some(due.checked_add_signed(shift).unwrap_or(due));
        }
        let copy = Task::new(id, sub.user.clone(), fields, next.create_time);
        if tasks::insert_if_absent(txn, &copy).await? {
            outbox
                .enqueue(txn, task_event(EventKind::TaskCreated, &copy, cause, &[]))
                .await?;
        }
    }
    Ok(())
}
