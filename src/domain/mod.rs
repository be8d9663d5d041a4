//! Pure domain types: parsed once at the edge, valid by construction below it.

mod ids;
mod notification;
mod notification_name;
mod recurrence;
mod schedule;
mod task;

pub use ids::{TaskId, TaskName, UserId, parse_canonical_uuid, parse_parent, parse_user_resource};
pub use notification::{Kind, NewNotification, Notification};
pub use notification_name::NotificationName;
pub use recurrence::{Anchor, Frequency, Recurrence, Weekday};
pub use schedule::{SeriesPosition, next_due, zone};
pub use task::{
    Etag, Priority, Task, TaskFields, TaskPatch, occurrence_id, parse_description,
    parse_remind_before, parse_tags, parse_time_zone, parse_title,
};
