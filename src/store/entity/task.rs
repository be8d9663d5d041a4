//! `tasks`: one row per task. Times are microseconds since the Unix epoch.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: String,
    pub title: String,
    pub description: String,
    pub priority: i16,
    pub due_time_us: Option<i64>,
    pub time_zone: String,
    /// The recurrence rule as JSON (`domain::Recurrence`), when the task recurs.
    pub recurrence: Option<String>,
    pub completed: bool,
    pub complete_time_us: Option<i64>,
    pub series_id: Uuid,
    pub occurrence: i32,
    pub version: i64,
    pub request_id: Option<String>,
    pub create_time_us: i64,
    pub update_time_us: i64,
    /// The due time a recurring series keeps its day and time of day from.
    pub series_anchor_us: Option<i64>,
    /// The task's own reminder lead in microseconds; NULL is the default, 0 no reminder.
    pub remind_before_us: Option<i64>,
    /// Set while the task is deleted (soft delete).
    pub delete_time_us: Option<i64>,
    /// When a deleted task is purged for good.
    pub purge_time_us: Option<i64>,
    /// The task's list; NULL for the inbox.
    pub list_id: Option<Uuid>,
    /// The task this one is a subtask of.
    pub parent_id: Option<Uuid>,
    /// The task's reminders: their ids (`before-<µs>`, `at-<µs>`), comma-separated.
    pub reminders: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::task_tag::Entity")]
    Tags,
}

impl Related<super::task_tag::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tags.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
