//! Use cases: each runs its reads and writes in one transaction over the store.

mod tasks;

pub use tasks::{ListQuery, Tasks, now};
