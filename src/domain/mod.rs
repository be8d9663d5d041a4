//! Pure domain types: parsed once at the edge, valid by construction below it.

mod ids;
mod recurrence;
mod schedule;
mod task;

pub use ids::{TaskId, TaskName, UserId, parse_parent, parse_user_resource};
pub use recurrence::{Anchor, Frequency, Recurrence, Weekday};
pub use schedule::{SeriesPosition, next_due, zone};
pub use task::{
    Etag, Priority, REMIND_BEFORE_MAX_DAYS, Task, TaskFields, TaskPatch, parse_description,
    parse_remind_before, parse_tags, parse_time_zone, parse_title,
};
