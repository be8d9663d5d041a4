//! Use cases: each runs its reads and writes in one transaction over the store.

mod create_queue;
mod next_occurrence;
mod tasks;

pub use next_occurrence::{Completed, create_next_occurrence};
pub use tasks::{ListQuery, Tasks, cursor_of};
