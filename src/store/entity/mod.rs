//! One SeaORM entity per table.

pub mod task;
pub mod task_tag;
