//! Persistence: SeaORM entities and the queries over them. Query functions take
//! `&impl ConnectionTrait` so that callers compose them inside one transaction.

mod db;
pub mod entity;
pub mod group_commit;
mod list;
pub mod tasks;
mod time;

pub use db::{Backend, DEFAULT_ACQUIRE_TIMEOUT_MS, Database, redact};
pub use time::{from_micros, to_micros};
