//! The fields a user sets on a task, named once: update masks, the fields a change reports,
//! and the checks of what a change can affect all go by this list.

use std::fmt;

/// A user-settable field of a task, by its update-mask path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskField {
    Title,
    Description,
    Priority,
    Tags,
    DueTime,
    TimeZone,
    Recurrence,
    RemindBefore,
    List,
    Parent,
    Reminders,
}

impl TaskField {
    /// Every field, in the order of the `Task` message.
    pub const ALL: [Self; 11] = [
        Self::Title,
        Self::Description,
        Self::Priority,
        Self::Tags,
        Self::DueTime,
        Self::TimeZone,
        Self::Recurrence,
        Self::RemindBefore,
        Self::List,
        Self::Parent,
        Self::Reminders,
    ];

    /// The update-mask path (the field's name in the `Task` message).
    pub fn path(self) -> &'static str {
        match self {
            Self::Title => "title",
            Self::Description => "description",
            Self::Priority => "priority",
            Self::Tags => "tags",
            Self::DueTime => "due_time",
            Self::TimeZone => "time_zone",
            Self::Recurrence => "recurrence",
            Self::RemindBefore => "remind_before",
            Self::List => "list",
            Self::Parent => "parent",
            Self::Reminders => "reminders",
        }
    }

    pub fn from_path(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.path() == path)
    }

    /// Whether a change to this field can move or cancel the task's reminder.
    pub fn moves_reminder(self) -> bool {
        matches!(self, Self::DueTime | Self::RemindBefore | Self::Reminders)
    }

    /// Every path, comma-separated (for messages).
    pub fn all_paths() -> String {
        Self::ALL.map(Self::path).join(", ")
    }
}

impl fmt::Display for TaskField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

#[cfg(test)]
mod tests {
    use super::TaskField;

    #[test]
    fn paths_round_trip() {
        for field in TaskField::ALL {
            assert_eq!(TaskField::from_path(field.path()), Some(field));
        }
        assert_eq!(TaskField::from_path("completed"), None);
        assert_eq!(
            TaskField::all_paths(),
            "title, description, priority, tags, due_time, time_zone, recurrence, remind_before, list, \
             parent, reminders"
        );
    }
}
