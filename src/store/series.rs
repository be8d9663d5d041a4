//! Questions about a recurring series as a whole.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use super::entity::task;
use crate::error::AppError;

/// Whether `series` has an occurrence after position `occurrence`, deleted ones included
/// (answered from the unique (series, occurrence) index).
pub async fn has_later_occurrence(
    conn: &impl ConnectionTrait,
    series: Uuid,
    occurrence: i32,
) -> Result<bool, AppError> {
    let later = task::Entity::find()
        .filter(task::Column::SeriesId.eq(series))
        .filter(task::Column::Occurrence.gt(occurrence))
        .count(conn)
        .await?;
    Ok(later > 0)
}
