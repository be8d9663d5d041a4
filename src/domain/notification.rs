//! In-app notifications: what a user is told (a reminder, so far), and what is written.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{NotificationName, TaskName, UserId};

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
}
