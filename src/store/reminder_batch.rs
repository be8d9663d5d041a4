//! Statements for firing many reminders in one transaction: their tasks in one query, and
//! all of them marked fired in one statement.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::entity::reminder::{self, FIRED, SCHEDULED};
use super::entity::task;
use super::{tasks, to_micros};
use crate::domain::Task;
use crate::error::AppError;

/// Rows per statement: well below the bind-parameter limits of both databases.
const CHUNK: usize = 500;

/// The tasks with these ids (deleted ones included), by id.
pub async fn tasks_by_id(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Task>, AppError> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let rows = task::Entity::find()
            .filter(task::Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await?;
        for task in tasks::with_tags(conn, rows).await? {
            out.insert(task.id.as_uuid(), task);
        }
    }
    Ok(out)
}

/// Marks these armed reminders (task id, reminder id) fired at `now`.
pub async fn mark_fired_many(
    conn: &impl ConnectionTrait,
    keys: &[(Uuid, String)],
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    for chunk in keys.chunks(CHUNK) {
        let mut any = Condition::any();
        for (task, id) in chunk {
            any = any.add(
                Condition::all()
                    .add(reminder::Column::TaskId.eq(*task))
                    .add(reminder::Column::ReminderId.eq(id.as_str())),
            );
        }
        reminder::Entity::update_many()
            .col_expr(reminder::Column::State, FIRED.into())
            .col_expr(reminder::Column::UpdatedUs, to_micros(now).into())
            .col_expr(reminder::Column::FiredUs, to_micros(now).into())
            .col_expr(reminder::Column::JobPending, false.into())
            .filter(any)
            .filter(reminder::Column::State.eq(SCHEDULED))
            .exec(conn)
            .await?;
    }
    Ok(())
}
