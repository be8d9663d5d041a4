//! Persistence: every SQL statement taskflow runs, one file per table or concern, over the
//! SeaORM entities. Query functions take `&impl ConnectionTrait` so that callers compose them
//! inside one transaction.

pub mod activities;
pub mod activity_days;
pub mod announcements;
pub mod day_counts;
mod db;
pub mod dead_letters;
pub mod deliveries;
mod delivery_batch;
pub mod entity;
pub mod group_commit;
mod leader_lock;
mod list;
pub mod lists;
pub mod notifications;
pub mod outbox;
pub mod reminder_batch;
pub mod reminders;
pub mod retention;
pub mod series;
pub mod subtasks;
pub mod task_batch;
pub mod tasks;
mod time;

pub use db::{Backend, DEFAULT_ACQUIRE_TIMEOUT_MS, Database, PoolStats, redact};
pub use leader_lock::LeaderLock;
pub use time::{from_micros, to_micros};

/// Whether `err` is a unique constraint's (a concurrent insert with the same key won).
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
