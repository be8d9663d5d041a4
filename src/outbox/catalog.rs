//! The events taskflow publishes: their CloudEvent types, topics and payload messages.

use crate::config::EventsConfig;

/// Every kind of event, by CloudEvent `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    TaskCreated,
    TaskUpdated,
    TaskCompleted,
    TaskReopened,
    TaskDeleted,
    TaskUndeleted,
    TaskPurged,
    ReminderScheduled,
    ReminderTriggered,
    ReminderSnoozed,
}

impl EventKind {
    pub const ALL: [Self; 10] = [
        Self::TaskCreated,
        Self::TaskUpdated,
        Self::TaskCompleted,
        Self::TaskReopened,
        Self::TaskDeleted,
        Self::TaskUndeleted,
        Self::TaskPurged,
        Self::ReminderScheduled,
        Self::ReminderTriggered,
        Self::ReminderSnoozed,
    ];

    /// The CloudEvent `type`.
    pub fn as_type(self) -> &'static str {
        match self {
            Self::TaskCreated => "task.created",
            Self::TaskUpdated => "task.updated",
            Self::TaskCompleted => "task.completed",
            Self::TaskReopened => "task.reopened",
            Self::TaskDeleted => "task.deleted",
            Self::TaskUndeleted => "task.undeleted",
            Self::TaskPurged => "task.purged",
            Self::ReminderScheduled => "reminder.scheduled",
            Self::ReminderTriggered => "reminder.triggered",
            Self::ReminderSnoozed => "reminder.snoozed",
        }
    }

    pub fn from_type(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_type() == raw)
    }

    /// The full name of the payload's protobuf message (the CloudEvent `dataschema` is its
    /// type URL: `cloudevent::data_schema`).
    pub fn schema(self) -> &'static str {
        match self {
            Self::TaskCreated => "taskflow.events.v1.TaskCreated",
            Self::TaskUpdated => "taskflow.events.v1.TaskUpdated",
            Self::TaskCompleted => "taskflow.events.v1.TaskCompleted",
            Self::TaskReopened => "taskflow.events.v1.TaskReopened",
            Self::TaskDeleted => "taskflow.events.v1.TaskDeleted",
            Self::TaskUndeleted => "taskflow.events.v1.TaskUndeleted",
            Self::TaskPurged => "taskflow.events.v1.TaskPurged",
            Self::ReminderScheduled => "taskflow.events.v1.ReminderScheduled",
            Self::ReminderTriggered => "taskflow.events.v1.ReminderTriggered",
            Self::ReminderSnoozed => "taskflow.events.v1.ReminderSnoozed",
        }
    }

    /// The topic it is published on.
    pub fn topic(self, config: &EventsConfig) -> &str {
        match self {
            Self::ReminderScheduled | Self::ReminderTriggered | Self::ReminderSnoozed => {
                &config.reminders_topic
            }
            _ => &config.tasks_topic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EventKind;

    #[test]
    fn types_round_trip() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_type(kind.as_type()), Some(kind));
        }
        assert_eq!(EventKind::from_type("task.exploded"), None);
    }
}
