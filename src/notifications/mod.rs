//! In-app notifications: stored once (a dedupe key), listed, marked read, and pushed live to
//! the user's watchers through the [`Hub`].

mod hub;
mod listener;
mod name;
pub mod store;
mod watcher;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{TaskName, UserId};

pub use hub::Hub;
pub use name::NotificationName;
pub use store::Position;
pub use watcher::watch;

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
