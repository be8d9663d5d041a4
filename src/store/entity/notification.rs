//! `notifications`: in-app notifications of a user.

use sea_orm::entity::prelude::*;

/// `kind` values.
pub const KIND_REMINDER: i16 = 1;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: String,
    pub task_id: Uuid,
    pub kind: i16,
    pub title: String,
    pub body: String,
    /// Makes the same notification impossible to write twice (e.g. `reminder/{task}/{due}`).
    #[sea_orm(unique)]
    pub dedupe_key: String,
    pub create_us: i64,
    pub read_us: Option<i64>,
    /// The id of the task's reminder that wrote it (`lead`, `before-<µs>`, `at-<µs>`).
    pub reminder_id: Option<String>,
    /// The task's due time when it was written.
    pub due_us: Option<i64>,
    /// When its reminder fires again (SnoozeNotification).
    pub snooze_us: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
