//! The activity history: what happened to a user's tasks, one entry per event.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{TaskId, TaskName, UserId};
use crate::error::excerpt;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivityKind {
    TaskCreated = 1,
    TaskUpdated = 2,
    TaskCompleted = 3,
    TaskReopened = 4,
    TaskDeleted = 5,
    TaskUndeleted = 6,
    /// The next occurrence of a recurring task was made.
    OccurrenceCreated = 7,
    ReminderFired = 8,
    TaskPurged = 9,
    /// The user snoozed a reminder.
    ReminderSnoozed = 10,
}

impl ActivityKind {
    pub const ALL: [Self; 10] = [
        Self::TaskCreated,
        Self::TaskUpdated,
        Self::TaskCompleted,
        Self::TaskReopened,
        Self::TaskDeleted,
        Self::TaskUndeleted,
        Self::OccurrenceCreated,
        Self::ReminderFired,
        Self::TaskPurged,
        Self::ReminderSnoozed,
    ];

    /// Its number, as stored and as the API's `ActivityType`.
    pub fn number(self) -> i16 {
        self as i16
    }

    pub fn from_number(number: i64) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| i64::from(k.number()) == number)
    }

    /// The API's enum name (`TASK_COMPLETED`).
    pub fn name(self) -> &'static str {
        match self {
            Self::TaskCreated => "TASK_CREATED",
            Self::TaskUpdated => "TASK_UPDATED",
            Self::TaskCompleted => "TASK_COMPLETED",
            Self::TaskReopened => "TASK_REOPENED",
            Self::TaskDeleted => "TASK_DELETED",
            Self::TaskUndeleted => "TASK_UNDELETED",
            Self::OccurrenceCreated => "OCCURRENCE_CREATED",
            Self::ReminderFired => "REMINDER_FIRED",
            Self::TaskPurged => "TASK_PURGED",
            Self::ReminderSnoozed => "REMINDER_SNOOZED",
        }
    }

    /// Accepts the enum name in any case (`TASK_COMPLETED`, `task_completed`).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let upper = raw.to_ascii_uppercase();
        Self::ALL
            .into_iter()
            .find(|k| k.name() == upper)
            .ok_or_else(|| {
                format!(
                    "unknown activity type {}; use one of {}",
                    excerpt(raw),
                    Self::ALL.map(Self::name).join(", ")
                )
            })
    }
}

/// Who caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User = 1,
    Automation = 2,
}

impl Actor {
    pub fn number(self) -> i16 {
        self as i16
    }

    pub fn from_number(number: i16) -> Option<Self> {
        match number {
            1 => Some(Self::User),
            2 => Some(Self::Automation),
            _ => None,
        }
    }
}

/// One field that changed, with its values before and after in the protobuf JSON mapping
/// (`None`: unset).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FieldChange {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<serde_json::Value>,
}

/// An entry of the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub id: Uuid,
    pub user: UserId,
    pub kind: ActivityKind,
    pub actor: Actor,
    pub task: TaskId,
    pub task_title: String,
    pub occur_time: DateTime<Utc>,
    pub changes: Vec<FieldChange>,
    pub event_id: String,
    /// For a completion: the task's due time then.
    pub due_time: Option<DateTime<Utc>>,
}

/// The namespace of activity ids: `uuidv5(namespace, event id)`.
const ACTIVITY_NAMESPACE: Uuid = Uuid::from_u128(0x3b6f_52c1_9d0e_4a7b_8c2f_61e4_d5a9_0f17);

impl Activity {
    /// The id of the entry recorded from event `event_id`: the same however often it comes.
    pub fn id_for(event_id: &str) -> Uuid {
        Uuid::new_v5(&ACTIVITY_NAMESPACE, event_id.as_bytes())
    }

    pub fn name(&self) -> ActivityName {
        ActivityName {
            user: self.user.clone(),
            id: self.id,
        }
    }

    pub fn task_name(&self) -> TaskName {
        TaskName {
            user: self.user.clone(),
            task: self.task,
        }
    }
}

/// `users/{user}/activities/{activity}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityName {
    pub user: UserId,
    pub id: Uuid,
}

impl fmt::Display for ActivityName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "users/{}/activities/{}", self.user, self.id.hyphenated())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_by_number_and_name() {
        for kind in ActivityKind::ALL {
            assert_eq!(
                ActivityKind::from_number(i64::from(kind.number())),
                Some(kind)
            );
            assert_eq!(ActivityKind::parse(kind.name()), Ok(kind));
            assert_eq!(ActivityKind::parse(&kind.name().to_lowercase()), Ok(kind));
        }
        assert!(ActivityKind::parse("TASK_EXPLODED").is_err());
        assert_eq!(ActivityKind::from_number(0), None);
    }

    #[test]
    fn ids_follow_the_event() {
        assert_eq!(Activity::id_for("e-1"), Activity::id_for("e-1"));
        assert_ne!(Activity::id_for("e-1"), Activity::id_for("e-2"));
    }
}
