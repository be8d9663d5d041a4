//! Writing a batch of new tasks, their tags and their events, committed together.

use sea_orm::sea_query::{CommonTableExpression, PostgresQueryBuilder, WithClause};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryTrait, Statement};
use tracing::Instrument;

use super::{Backend, Database, entity::outbox as outbox_entity, tasks};
use crate::domain::Task;
use crate::error::AppError;

/// A new task, the `request_id` it was created with, and the outbox row of its event.
pub struct NewRow<'a> {
    pub task: &'a Task,
    pub request_id: Option<&'a str>,
    pub event: outbox_entity::ActiveModel,
}

/// Writes `batch` in one transaction: on PostgreSQL as one statement.
pub async fn insert(db: &Database, batch: &[NewRow<'_>]) -> Result<(), DbErr> {
    insert_in_transaction(db, batch)
        .instrument(crate::telemetry::db_transaction("insert tasks"))
        .await
}

async fn insert_in_transaction(db: &Database, batch: &[NewRow<'_>]) -> Result<(), DbErr> {
    if db.backend() == Backend::Postgres {
        return insert_as_one_statement(db, batch).await;
    }
    let (_turn, txn) = db.begin_write().await.map_err(AppError::into_db_err)?;
    let rows: Vec<(&Task, Option<&str>)> = batch.iter().map(|n| (n.task, n.request_id)).collect();
    tasks::insert_many(&txn, &rows).await?;
    super::outbox::insert_rows(&txn, batch.iter().map(|n| n.event.clone()).collect()).await?;
    txn.commit().await
}

/// PostgreSQL: the tasks, their tags and their events in one statement (data-modifying CTEs),
/// which is atomic by itself: one round trip instead of BEGIN, the INSERTs and COMMIT.
async fn insert_as_one_statement(db: &Database, batch: &[NewRow<'_>]) -> Result<(), DbErr> {
    let rows: Vec<(&Task, Option<&str>)> = batch.iter().map(|n| (n.task, n.request_id)).collect();
    let (tasks_insert, tags_insert) = tasks::insert_statements(&rows);
    let mut with = WithClause::new();
    with.cte(
        CommonTableExpression::new()
            .query(tasks_insert)
            .table_name("new_tasks")
            .to_owned(),
    );
    if let Some(tags_insert) = tags_insert {
        with.cte(
            CommonTableExpression::new()
                .query(tags_insert)
                .table_name("new_tags")
                .to_owned(),
        );
    }
    let events = outbox_entity::Entity::insert_many(batch.iter().map(|n| n.event.clone()));
    let (sql, values) = events.into_query().with(with).build(PostgresQueryBuilder);
    db.conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?;
    Ok(())
}
