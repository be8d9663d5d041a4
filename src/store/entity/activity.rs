//! `activities`: the history of what happened to a user's tasks, one row per event.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activities")]
pub struct Model {
    /// Derived from the event's id, so an event is recorded once however often it comes.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: String,
    /// `domain::ActivityKind` as its number.
    pub kind: i16,
    /// 1 the user, 2 automation.
    pub actor: i16,
    pub task_id: Uuid,
    pub task_title: String,
    /// When it happened (the event's time), microseconds since the epoch.
    pub occur_us: i64,
    /// For updates: the changed fields with their old and new values, as JSON.
    pub changes: Option<String>,
    pub event_id: String,
    /// For completions: the task's due time then.
    pub due_us: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
