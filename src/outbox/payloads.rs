//! Building event payloads from domain values.

use prost::Message;
use uuid::Uuid;

use super::{EventKind, NewEvent};
use crate::convert::{task_out, timestamp_out};
use crate::domain::{Task, TaskField};
use crate::proto::events::v1 as ev;

/// Who caused a change, and which event led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// A user's API call.
    User,
    /// taskflow, handling the event with this id.
    Automation { causation_id: String },
}

fn context(task: &Task, cause: &Cause) -> ev::EventContext {
    let (origin, causation_id) = match cause {
        Cause::User => (ev::Origin::User, String::new()),
        Cause::Automation { causation_id } => (ev::Origin::Automation, causation_id.clone()),
    };
    ev::EventContext {
        user_id: task.user.as_str().to_owned(),
        occur_time: Some(timestamp_out(task.update_time)),
        origin: origin as i32,
        causation_id,
    }
}

/// The event that reports `kind` happening to `task` (its state after the change).
pub fn task_event(
    kind: EventKind,
    task: &Task,
    cause: &Cause,
    changed_fields: &[TaskField],
) -> NewEvent {
    change_event(kind, task, None, cause, changed_fields)
}

/// [`task_event`] that also carries the task as it was before (`task.updated`'s `previous`).
pub fn change_event(
    kind: EventKind,
    task: &Task,
    previous: Option<&Task>,
    cause: &Cause,
    changed_fields: &[TaskField],
) -> NewEvent {
    let context = Some(context(task, cause));
    let snapshot = Some(task_out(task));
    let payload = match kind {
        EventKind::TaskCreated => ev::TaskCreated {
            context,
            task: snapshot,
        }
        .encode_to_vec(),
        EventKind::TaskUpdated => ev::TaskUpdated {
            context,
            task: snapshot,
            changed_fields: changed_fields.iter().map(|f| f.path().to_owned()).collect(),
            previous: previous.map(task_out),
        }
        .encode_to_vec(),
        EventKind::TaskCompleted => ev::TaskCompleted {
            context,
            task: snapshot,
            series_anchor: task.series_anchor.map(timestamp_out),
        }
        .encode_to_vec(),
        EventKind::TaskReopened => ev::TaskReopened {
            context,
            task: snapshot,
        }
        .encode_to_vec(),
        EventKind::TaskDeleted => ev::TaskDeleted {
            context,
            name: task.name().to_string(),
            task: snapshot,
        }
        .encode_to_vec(),
        EventKind::TaskUndeleted => ev::TaskUndeleted {
            context,
            task: snapshot,
        }
        .encode_to_vec(),
        EventKind::TaskPurged => ev::TaskPurged {
            context,
            name: task.name().to_string(),
            task: snapshot,
        }
        .encode_to_vec(),
        EventKind::ReminderScheduled
        | EventKind::ReminderTriggered
        | EventKind::ReminderSnoozed => Vec::new(),
    };
    NewEvent {
        kind,
        user: task.user.clone(),
        subject: task.name().to_string(),
        payload,
        id: Uuid::now_v7(),
    }
}
