//! One SeaORM entity per table.

pub mod activity;
pub mod dead_letter;
pub mod notification;
pub mod outbox;
pub mod processed_event;
pub mod reminder;
pub mod task;
pub mod task_list;
pub mod task_tag;
