//! Use cases: each runs its reads and writes in one transaction over the store.

mod create_queue;
mod tasks;

pub use tasks::{ListQuery, Tasks, cursor_of, now};
