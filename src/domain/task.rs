//! The task: its user-editable fields, their rules, and the stored whole.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Description, ListId, ListName, Recurrence, ReminderSpec, Tags, TaskField, TaskId, TaskName,
    TimeZone, Title, UserId,
};
use crate::error::excerpt;

/// Priority, ordered by rank (None < Low < … < Urgent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    #[default]
    None = 0,
    Low = 1,
    Medium = 2,
    High = 3,
    Urgent = 4,
}

impl Priority {
    pub fn rank(self) -> i16 {
        self as i16
    }

    pub fn from_rank(rank: i64) -> Option<Self> {
        Some(match rank {
            0 => Self::None,
            1 => Self::Low,
            2 => Self::Medium,
            3 => Self::High,
            4 => Self::Urgent,
            _ => return None,
        })
    }
}

impl FromStr for Priority {
    type Err = String;

    /// Accepts `HIGH`, `high` and `PRIORITY_HIGH`; `UNSPECIFIED`/`NONE` for no priority.
    fn from_str(raw: &str) -> Result<Self, String> {
        let upper = raw.to_ascii_uppercase();
        let bare = upper.strip_prefix("PRIORITY_").unwrap_or(&upper);
        Ok(match bare {
            "UNSPECIFIED" | "NONE" => Self::None,
            "LOW" => Self::Low,
            "MEDIUM" => Self::Medium,
            "HIGH" => Self::High,
            "URGENT" => Self::Urgent,
            _ => {
                return Err(format!(
                    "unknown priority {}; use LOW, MEDIUM, HIGH, URGENT or UNSPECIFIED",
                    excerpt(raw)
                ));
            }
        })
    }
}

/// The fields a user sets on a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFields {
    pub title: Title,
    pub description: Description,
    pub priority: Priority,
    pub tags: Tags,
    pub due_time: Option<DateTime<Utc>>,
    pub time_zone: TimeZone,
    pub recurrence: Option<Recurrence>,
    /// How long before the due time the reminder fires: `None` is the server's default lead,
    /// zero is no reminder.
    pub remind_before: Option<chrono::Duration>,
    /// The list the task belongs to (a subtask's is its parent's).
    pub list: ListId,
    /// The task this one is a subtask of.
    pub parent: Option<TaskId>,
    /// Its reminders; when any, `remind_before` is ignored.
    pub reminders: Vec<ReminderSpec>,
}

impl TaskFields {
    /// A task with just a title: no description, priority, tags, due time or recurrence, in
    /// UTC, with the default reminder lead.
    pub fn titled(title: Title) -> Self {
        Self {
            title,
            description: Description::default(),
            priority: Priority::None,
            tags: Tags::default(),
            due_time: None,
            time_zone: TimeZone::default(),
            recurrence: None,
            remind_before: None,
            list: ListId::Inbox,
            parent: None,
            reminders: Vec::new(),
        }
    }

    /// The fields of a new task from a patch that sets its title (the other fields default);
    /// `None` without a title.
    pub fn from_patch(patch: TaskPatch) -> Option<Self> {
        let mut fields = Self::titled(patch.title.clone()?);
        fields.apply(patch);
        Some(fields)
    }

    /// Rules that span several fields, as `(field, description)` pairs.
    pub fn cross_check(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if let (Some(due), Some(rule)) = (self.due_time, &self.recurrence)
            && let Some(until) = rule.until
            && until < due
        {
            problems.push((
                "recurrence.until_time",
                format!("must not be before the due time {}", due.to_rfc3339()),
            ));
        }
        problems
    }

    /// The fields whose values differ between `self` and `other`, in [`TaskField::ALL`] order.
    pub fn changed(&self, other: &Self) -> Vec<TaskField> {
        TaskField::ALL
            .into_iter()
            .filter(|field| match field {
                TaskField::Title => self.title != other.title,
                TaskField::Description => self.description != other.description,
                TaskField::Priority => self.priority != other.priority,
                TaskField::Tags => self.tags != other.tags,
                TaskField::DueTime => self.due_time != other.due_time,
                TaskField::TimeZone => self.time_zone != other.time_zone,
                TaskField::Recurrence => self.recurrence != other.recurrence,
                TaskField::RemindBefore => self.remind_before != other.remind_before,
                TaskField::List => self.list != other.list,
                TaskField::Parent => self.parent != other.parent,
                TaskField::Reminders => self.reminders != other.reminders,
            })
            .collect()
    }

    pub fn apply(&mut self, patch: TaskPatch) {
        let TaskPatch {
            title,
            description,
            priority,
            tags,
            due_time,
            time_zone,
            recurrence,
            remind_before,
            list,
            parent,
            reminders,
        } = patch;
        if let Some(v) = title {
            self.title = v;
        }
        if let Some(v) = description {
            self.description = v;
        }
        if let Some(v) = priority {
            self.priority = v;
        }
        if let Some(v) = tags {
            self.tags = v;
        }
        if let Some(v) = due_time {
            self.due_time = v;
        }
        if let Some(v) = time_zone {
            self.time_zone = v;
        }
        if let Some(v) = recurrence {
            self.recurrence = v;
        }
        if let Some(v) = remind_before {
            self.remind_before = v;
        }
        if let Some(v) = list {
            self.list = v.map_or(ListId::Inbox, |name| name.list);
        }
        if let Some(v) = parent {
            self.parent = v.map(|name| name.task);
        }
        if let Some(v) = reminders {
            self.reminders = v;
        }
    }
}

/// A change to some of a task's fields: `Some` replaces, `None` keeps.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskPatch {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub priority: Option<Priority>,
    pub tags: Option<Tags>,
    pub due_time: Option<Option<DateTime<Utc>>>,
    pub time_zone: Option<TimeZone>,
    pub recurrence: Option<Option<Recurrence>>,
    pub remind_before: Option<Option<chrono::Duration>>,
    pub reminders: Option<Vec<ReminderSpec>>,
    /// The list by name (`Some(None)`: none named, the inbox unless a parent says
    /// otherwise); [`TaskPatch::foreign`] tells whether it is another user's.
    pub list: Option<Option<ListName>>,
    /// The parent by name (`Some(None)` makes the task a top-level one again).
    pub parent: Option<Option<TaskName>>,
}

impl TaskPatch {
    /// The first field naming another user's list or task than `user`'s, with that name.
    pub fn foreign(&self, user: &UserId) -> Option<(TaskField, String)> {
        if let Some(Some(list)) = &self.list
            && list.user != *user
        {
            return Some((TaskField::List, list.to_string()));
        }
        if let Some(Some(parent)) = &self.parent
            && parent.user != *user
        {
            return Some((TaskField::Parent, parent.to_string()));
        }
        None
    }
}

/// A strong entity tag computed from the task's version: `"<version>"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Etag(pub i64);

impl Etag {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let inner = raw.strip_prefix("W/").unwrap_or(raw);
        inner
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .and_then(|s| s.parse::<i64>().ok())
            .map(Self)
            .ok_or_else(|| format!("{} is not an etag issued by this service", excerpt(raw)))
    }
}

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

/// A stored task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: TaskId,
    pub user: UserId,
    pub fields: TaskFields,
    pub completed: bool,
    pub complete_time: Option<DateTime<Utc>>,
    pub series: Uuid,
    pub occurrence: i32,
    pub version: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    /// For a recurring task: the due time its series keeps its day and time of day from.
    pub series_anchor: Option<DateTime<Utc>>,
    /// Set while the task is deleted (AIP-164 soft delete): until `purge_time` it can be read
    /// and undeleted; then it is gone for good.
    pub deletion: Option<Deletion>,
}

/// When a deleted task was deleted, and when it will be purged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deletion {
    pub delete_time: DateTime<Utc>,
    pub purge_time: DateTime<Utc>,
}

/// The namespace of the ids of generated occurrences: `uuidv5(namespace, "{series}/{n}")`.
const OCCURRENCE_NAMESPACE: Uuid = Uuid::from_u128(0x6f1d_0b3e_5a8c_4e21_9b7d_2c4f_8e6a_1d35);

/// The id of occurrence `n` of `series`: the same on every replica and every redelivery.
pub fn occurrence_id(series: Uuid, occurrence: i32) -> TaskId {
    TaskId::from_uuid(Uuid::new_v5(
        &OCCURRENCE_NAMESPACE,
        format!("{series}/{occurrence}").as_bytes(),
    ))
}

/// The id of the copy of subtask `original` that comes with occurrence `occurrence`: the same
/// on every replica and every redelivery.
pub fn subtask_copy_id(occurrence: TaskId, original: TaskId) -> TaskId {
    TaskId::from_uuid(Uuid::new_v5(
        &OCCURRENCE_NAMESPACE,
        format!("{occurrence}/subtask/{original}").as_bytes(),
    ))
}

impl Task {
    /// A task as first written: open, version 1, the first occurrence of a series of its own,
    /// which keeps its day and time of day from the task's due time.
    pub fn new(id: TaskId, user: UserId, fields: TaskFields, now: DateTime<Utc>) -> Self {
        Self {
            id,
            user,
            series_anchor: fields.due_time,
            fields,
            completed: false,
            complete_time: None,
            series: id.as_uuid(),
            occurrence: 1,
            version: 1,
            deletion: None,
            create_time: now,
            update_time: now,
        }
    }

    /// The occurrence after this one, due at `due`: the same fields and series (anchored at
    /// `anchor`), open, with the id [`occurrence_id`] gives it.
    pub fn next_occurrence(
        &self,
        anchor: Option<DateTime<Utc>>,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        self.later_occurrence(self.occurrence.saturating_add(1), anchor, due, now)
    }

    /// Occurrence `occurrence` of this task's series (a later one than this, when a late
    /// completion skipped some), due at `due`; otherwise as [`Self::next_occurrence`].
    pub fn later_occurrence(
        &self,
        occurrence: i32,
        anchor: Option<DateTime<Utc>>,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut fields = self.fields.clone();
        fields.due_time = Some(due);
        let mut next = Self::new(
            occurrence_id(self.series, occurrence),
            self.user.clone(),
            fields,
            now,
        );
        next.series = self.series;
        next.occurrence = occurrence;
        next.series_anchor = anchor;
        next
    }

    pub fn name(&self) -> TaskName {
        TaskName {
            user: self.user.clone(),
            task: self.id,
        }
    }

    pub fn etag(&self) -> Etag {
        Etag(self.version)
    }

    pub fn is_deleted(&self) -> bool {
        self.deletion.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurrence_ids_are_deterministic_and_distinct() {
        let series = Uuid::now_v7();
        assert_eq!(occurrence_id(series, 2), occurrence_id(series, 2));
        assert_ne!(occurrence_id(series, 2), occurrence_id(series, 3));
    }

    #[test]
    fn a_next_occurrence_keeps_the_series_and_its_fields() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let mut fields = TaskFields::titled(Title::parse("Water plants").expect("a title"));
        fields.due_time = Some(now);
        let first = Task::new(
            TaskId::new_v7(),
            UserId::parse("alice").expect("a user"),
            fields,
            now,
        );
        assert_eq!(
            (first.series, first.occurrence, first.series_anchor),
            (first.id.as_uuid(), 1, Some(now))
        );
        let due = now + chrono::Duration::days(1);
        let next = first.next_occurrence(Some(now), due, now);
        assert_eq!(next.id, occurrence_id(first.series, 2));
        assert_eq!((next.series, next.occurrence), (first.series, 2));
        assert_eq!(
            (next.fields.due_time, next.series_anchor),
            (Some(due), Some(now))
        );
        assert_eq!(next.fields.title, first.fields.title);
        assert!(!next.completed && next.version == 1);
    }

    #[test]
    fn refusals_quote_a_short_excerpt_of_long_input() {
        let long = "Ä".repeat(5000);
        for err in [
            long.parse::<Priority>().map(|_| String::new()),
            Etag::parse(&long).map(|_| String::new()),
        ] {
            let err = err.expect_err("refused");
            assert!(err.len() < 400, "{} bytes: {err}", err.len());
            assert!(err.contains("\u{2026}"), "{err}");
        }
    }

    #[test]
    fn changed_names_exactly_the_fields_that_differ() {
        let title = |t: &str| Title::parse(t).expect("a title");
        let before = TaskFields::titled(title("milk"));
        assert!(before.changed(&before).is_empty());
        let mut after = before.clone();
        after.title = title("oat milk");
        after.due_time = DateTime::from_timestamp(1_800_000_000, 0);
        after.tags = Tags::parse(&["shop"]).expect("tags");
        assert_eq!(
            before.changed(&after),
            vec![TaskField::Title, TaskField::Tags, TaskField::DueTime]
        );
    }

    #[test]
    fn priorities_parse_by_name_and_order_by_rank() {
        assert_eq!("high".parse(), Ok(Priority::High));
        assert_eq!("PRIORITY_URGENT".parse(), Ok(Priority::Urgent));
        assert!("BIG".parse::<Priority>().is_err());
        assert!(Priority::Urgent > Priority::High && Priority::Low > Priority::None);
    }

    #[test]
    fn etags_round_trip() {
        assert_eq!(Etag::parse(&Etag(7).to_string()), Ok(Etag(7)));
        assert_eq!(Etag::parse("W/\"7\""), Ok(Etag(7)));
        assert!(Etag::parse("7").is_err());
    }
}
