//! The history entry an event makes: what happened, to which task (with its title then), who
//! did it and when; for an update, each changed field's value before and after. Written by
//! the subscriber with the event's record, so exactly once per event.

use chrono::{DateTime, Utc};

use super::decode::{Payload, task_json};
use crate::convert::timestamp_in;
use crate::domain::{Activity, ActivityKind, Actor, FieldChange, TaskName, UserId};
use crate::proto::events::v1 as ev;
use crate::proto::v1 as pb;

fn actor(context: Option<&ev::EventContext>) -> Actor {
    match context.map(|c| c.origin()) {
        Some(ev::Origin::Automation) => Actor::Automation,
        _ => Actor::User,
    }
}

fn time(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    ts.and_then(|t| timestamp_in(t).ok())
}

/// Each changed field's value before and after (unknown before when the event has no
/// `previous`, as events written by older versions).
fn changes(updated: &ev::TaskUpdated) -> Vec<FieldChange> {
    let after = updated
        .task
        .as_ref()
        .and_then(task_json)
        .unwrap_or_default();
    let before = updated.previous.as_ref().and_then(task_json);
    updated
        .changed_fields
        .iter()
        .map(|field| FieldChange {
            field: field.clone(),
            old: before.as_ref().and_then(|b| b.get(field).cloned()),
            new: after.get(field).cloned(),
        })
        .collect()
}

/// The entry `payload` (delivered as event `event_id` for `user`) makes, if any; `now` stands
/// in for an event without a time.
pub fn activity_of(
    event_id: &str,
    user: &UserId,
    payload: &Payload,
    now: DateTime<Utc>,
) -> Option<Activity> {
    let (kind, context, task, title, due): (
        ActivityKind,
        Option<&ev::EventContext>,
        Option<&pb::Task>,
        Option<&str>,
        bool,
    ) = match payload {
        Payload::TaskCreated(m) => {
            let kind = match actor(m.context.as_ref()) {
                Actor::Automation => ActivityKind::OccurrenceCreated,
                Actor::User => ActivityKind::TaskCreated,
            };
            (kind, m.context.as_ref(), m.task.as_ref(), None, false)
        }
        Payload::TaskUpdated(m) => (
            ActivityKind::TaskUpdated,
            m.context.as_ref(),
            m.task.as_ref(),
            None,
            false,
        ),
        Payload::TaskCompleted(m) => (
            ActivityKind::TaskCompleted,
            m.context.as_ref(),
            m.task.as_ref(),
            None,
            true,
        ),
        Payload::TaskReopened(m) => (
            ActivityKind::TaskReopened,
            m.context.as_ref(),
            m.task.as_ref(),
            None,
            false,
        ),
        Payload::TaskDeleted(m) => (
            ActivityKind::TaskDeleted,
            m.context.as_ref(),
            m.task.as_ref(),
            None,
            false,
        ),
        Payload::TaskUndeleted(m) => (
            ActivityKind::TaskUndeleted,
            m.context.as_ref(),
            m.task.as_ref(),
            None,
            false,
        ),
        Payload::TaskPurged(m) => (
            ActivityKind::TaskPurged,
            m.context.as_ref(),
            m.task.as_ref(),
            None,
            false,
        ),
        Payload::ReminderTriggered(m) => (
            ActivityKind::ReminderFired,
            m.context.as_ref(),
            None,
            Some(m.task_title.as_str()),
            false,
        ),
        Payload::ReminderSnoozed(m) => (
            ActivityKind::ReminderSnoozed,
            m.context.as_ref(),
            None,
            Some(m.task_title.as_str()),
            false,
        ),
        Payload::ReminderScheduled(_) => return None,
    };
    let name = TaskName::parse(payload.task_name()?).ok()?;
    if &name.user != user {
        return None;
    }
    let changes = match payload {
        Payload::TaskUpdated(m) => changes(m),
        _ => Vec::new(),
    };
    let actor = match kind {
        ActivityKind::ReminderFired | ActivityKind::TaskPurged => Actor::Automation,
        _ => actor(context),
    };
    Some(Activity {
        id: Activity::id_for(event_id),
        user: name.user,
        kind,
        actor,
        task: name.task,
        task_title: task
            .map(|t| t.title.as_str())
            .or(title)
            .unwrap_or_default()
            .to_owned(),
        occur_time: time(context.and_then(|c| c.occur_time.as_ref())).unwrap_or(now),
        changes,
        event_id: event_id.to_owned(),
        due_time: if due {
            time(task.and_then(|t| t.due_time.as_ref()))
        } else {
            None
        },
    })
}
