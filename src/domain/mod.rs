//! Pure domain types: parsed once at the edge, valid by construction below it.

mod activity;
mod fields;
mod ids;
mod insights;
mod notification;
mod notification_name;
mod recurrence;
mod reminder;
mod schedule;
mod task;
mod task_field;
mod task_list;

pub use activity::{Activity, ActivityKind, ActivityName, Actor, FieldChange};
pub use fields::{
    DESCRIPTION_MAX, Description, FieldError, REMIND_BEFORE_MAX_DAYS, TAG_MAX, TAGS_MAX, TITLE_MAX,
    Tags, TimeZone, Title, parse_remind_before,
};
pub use ids::{TaskId, TaskName, UserId, parse_canonical_uuid, parse_parent, parse_user_resource};
pub use insights::{
    DAY_US, DayCount, DayRow, Insights, OffsetSpan, local_day, offset_spans, summarise,
    window_dates,
};
pub use notification::{FiredReminder, Kind, NewNotification, Notification};
pub use notification_name::NotificationName;
pub use recurrence::{
    Anchor, Frequency, Missed, NthWeekday, Recurrence, RuleParts, Weekday, parse_rrule,
    render_rrule, rrule_part_name,
};
pub use reminder::{
    LEAD_ID, REMINDERS_MAX, ReminderError, ReminderSpec, from_stored as reminders_from_stored,
    snooze_id, snoozed_of, spec_of, to_stored as reminders_to_stored,
};
pub use schedule::{NextOccurrence, SeriesPosition, local_date, next_due, next_occurrence, zone};
pub use task::{
    Deletion, Etag, Priority, Task, TaskFields, TaskPatch, occurrence_id, subtask_copy_id,
};
pub use task_field::TaskField;
pub use task_list::{INBOX, ListId, ListName, TaskList};
