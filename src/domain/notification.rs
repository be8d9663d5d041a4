//! In-app notifications: what a user is told (a reminder, so far), and what is written.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{NotificationName, ReminderSpec, TaskName, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Reminder,
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: Uuid,
    pub user: UserId,
    pub task: TaskName,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    pub create_time: DateTime<Utc>,
    pub read_time: Option<DateTime<Utc>>,
    /// The task's due time when it was written.
    pub due_time: Option<DateTime<Utc>>,
    /// The reminder that wrote it (unset for notifications written before reminders had ids).
    pub reminder: Option<FiredReminder>,
    /// When its reminder fires again (SnoozeNotification).
    pub snooze_time: Option<DateTime<Utc>>,
}

/// Which reminder of a task wrote a notification: its id (`lead`, `before-<µs>`, `at-<µs>`)
/// and, when known, the reminder itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredReminder {
    pub id: String,
    pub spec: Option<ReminderSpec>,
}

impl FiredReminder {
    /// As stored: the spec's id when that is the id, else `{id}:{spec id}` (`lead:before-…`).
    pub fn to_stored(&self) -> String {
        match &self.spec {
            Some(spec) if spec.id() == self.id => self.id.clone(),
            Some(spec) => format!("{}:{}", self.id, spec.id()),
            None => self.id.clone(),
        }
    }

    pub fn from_stored(raw: &str) -> Self {
        match raw.split_once(':') {
            Some((id, spec)) => Self {
                id: id.to_owned(),
                spec: ReminderSpec::from_id(spec),
            },
            None => Self {
                id: raw.to_owned(),
                spec: ReminderSpec::from_id(raw),
            },
        }
    }
}

impl Notification {
    /// `users/{user}/notifications/{id}`.
    pub fn name(&self) -> String {
        self.resource_name().to_string()
    }

    /// The name as a value.
    pub fn resource_name(&self) -> NotificationName {
        NotificationName {
            user: self.user.clone(),
            id: self.id,
        }
    }
}

/// A notification to write, unless one with the same `dedupe_key` exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub user: UserId,
    pub task: TaskName,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    pub dedupe_key: String,
    pub due_time: Option<DateTime<Utc>>,
    pub reminder: Option<FiredReminder>,
}
