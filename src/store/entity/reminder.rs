//! `reminders`: one row per reminder of a task (keyed by the task and the reminder's id) —
//! when it fires, for which due time, and its state.

use sea_orm::entity::prelude::*;

/// `state` values.
pub const SCHEDULED: i16 = 0;
pub const FIRED: i16 = 1;
pub const CANCELLED: i16 = 2;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reminders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub task_id: Uuid,
    /// Which reminder of the task: `lead` (the older single one), `before-<µs>`, `at-<µs>`,
    /// or `snooze-<id>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub reminder_id: String,
    pub user_id: String,
    pub fire_at_us: i64,
    /// The task's due time this reminder was scheduled for; a changed due time makes it
    /// stale. NULL for reminders that do not move with the due time (`at`, snoozes).
    pub due_at_us: Option<i64>,
    pub state: i16,
    pub fired_us: Option<i64>,
    pub updated_us: i64,
    /// Whether its Dapr job still has to be brought in line with it (scheduled while armed,
    /// deleted once cancelled), which happens after the commit that changed it.
    pub job_pending: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
