//! Protobuf <-> domain conversions, shared by the API, the event payloads and the reminders.
//! Input is checked here, once, with every violation named by its field path.

mod activity;
mod recurrence;
mod reminder;
mod task;
mod task_list;
mod time;

pub use activity::{activity_out, json_value};
pub use reminder::{reminder_out, reminders_in, reminders_out};
pub use task::{fields_in, mask_fields, patch_in, populated_fields, task_in, task_out};
pub use task_list::task_list_out;
pub use time::{duration_in, duration_out, timestamp_in, timestamp_out};
