//! Use cases: each runs its reads and writes in one transaction over the store; and the
//! retention worker that deletes what is kept only for a while.

mod create_queue;
mod lists;
mod next_occurrence;
mod retention;
mod task_tree;
mod tasks;

pub use lists::Lists;
pub use next_occurrence::{Completed, create_next_occurrence};
pub use retention::{Pruned, Retention, RetentionSettings};
pub use tasks::{ListQuery, Tasks, cursor_of};
