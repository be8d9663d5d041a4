//! The `outbox` table: rows written in the transaction of the change they report, read and
//! marked by the relay, pruned once published.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
    sea_query::{Expr, ExprTrait},
};

use super::entity::outbox;
use crate::error::AppError;

pub use outbox::Model as OutboxRow;

/// Inserts outbox rows in one statement.
pub async fn insert_rows(
    conn: &impl ConnectionTrait,
    rows: Vec<outbox::ActiveModel>,
) -> Result<(), sea_orm::DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    outbox::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The oldest unpublished events, in sequence order.
pub async fn unpublished(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<OutboxRow>, AppError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::PublishedUs.is_null())
        .order_by_asc(outbox::Column::Seq)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Marks events published.
pub async fn mark_published(
    conn: &impl ConnectionTrait,
    seqs: &[i64],
    at_us: i64,
) -> Result<(), AppError> {
    if seqs.is_empty() {
        return Ok(());
    }
    outbox::Entity::update_many()
        .col_expr(outbox::Column::PublishedUs, Expr::value(at_us))
        .col_expr(
            outbox::Column::Attempts,
            Expr::col(outbox::Column::Attempts).add(1),
        )
        .filter(outbox::Column::Seq.is_in(seqs.iter().copied()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records a failed attempt on events that stay unpublished.
pub async fn mark_failed(
    conn: &impl ConnectionTrait,
    seqs: &[i64],
    error: &str,
) -> Result<(), AppError> {
    if seqs.is_empty() {
        return Ok(());
    }
    let error: String = error.chars().take(1000).collect();
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::Attempts,
            Expr::col(outbox::Column::Attempts).add(1),
        )
        .col_expr(outbox::Column::LastError, Expr::value(error))
        .filter(outbox::Column::Seq.is_in(seqs.iter().copied()))
        .exec(conn)
        .await?;
    Ok(())
}

/// How many events wait to be published, and when the oldest of them was written.
pub async fn backlog(conn: &impl ConnectionTrait) -> Result<(i64, Option<i64>), AppError> {
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) AS n, MIN(created_us) AS oldest FROM outbox WHERE published_us IS NULL",
        ))
        .await?;
    let Some(row) = row else {
        return Ok((0, None));
    };
    let depth: i64 = row.try_get("", "n").unwrap_or(0);
    let oldest: Option<i64> = row.try_get("", "oldest").ok().flatten();
    Ok((depth, oldest))
}
