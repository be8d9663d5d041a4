//! The task tree: a task's ancestors and descendants, level by level (a tree is at most
//! four levels deep, so these are a few indexed lookups).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::entity::task;
use super::tasks::with_tags;
use crate::domain::{Task, TaskId, UserId};
use crate::error::AppError;

/// The ids of `task`'s ancestors, its parent first (at most `limit` of them, so a stored
/// cycle cannot loop).
pub async fn ancestors(
    conn: &impl ConnectionTrait,
    user: &UserId,
    parent: Option<TaskId>,
    limit: usize,
) -> Result<Vec<TaskId>, AppError> {
    let mut found = Vec::new();
    let mut next = parent;
    while let Some(id) = next {
        if found.len() >= limit || found.contains(&id) {
            break;
        }
        found.push(id);
        next = task::Entity::find()
            .select_only()
            .column(task::Column::ParentId)
            .filter(task::Column::Id.eq(id.as_uuid()))
            .filter(task::Column::UserId.eq(user.as_str()))
            .into_tuple::<Option<Uuid>>()
            .one(conn)
            .await?
            .flatten()
            .map(TaskId::from_uuid);
    }
    Ok(found)
}

/// Every descendant of `root` (deleted ones too), level by level (its subtasks first), each
/// level oldest first; at most `levels` levels down. `for_update` locks their rows.
pub async fn descendants(
    conn: &impl ConnectionTrait,
    user: &UserId,
    root: TaskId,
    levels: usize,
    for_update: bool,
) -> Result<Vec<Vec<Task>>, AppError> {
    let mut all = Vec::new();
    let mut level = vec![root.as_uuid()];
    for _ in 0..levels {
        if level.is_empty() {
            break;
        }
        // Sorted here: asked to order them, SQLite's planner would rather read all the user's
        // tasks in order than find the few by their parents and sort them.
        let mut query = task::Entity::find()
            .filter(task::Column::UserId.eq(user.as_str()))
            .filter(task::Column::ParentId.is_in(level));
        if for_update {
            query = query.lock_exclusive();
        }
        let mut rows = query.all(conn).await?;
        rows.sort_by_key(|row| (row.create_time_us, row.id));
        level = rows.iter().map(|r| r.id).collect();
        all.push(with_tags(conn, rows).await?);
    }
    Ok(all)
}
