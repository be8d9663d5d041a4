//! What the subscriber keeps of deliveries: `processed_events`, one row per event a consumer
//! handled, the record that makes handling idempotent (dead letters: `dead_letters.rs`).

use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, TransactionTrait, sea_query::OnConflict,
};

use sea_orm::sqlx::postgres::PgPool;

use super::entity::{activity, processed_event};
use super::group_commit::{GroupCommit, Waiting, settle};
use super::{Backend, Database, activities, to_micros};
use crate::clock::now;
use crate::error::AppError;

/// The batch writer of the records of deliveries that change nothing else (but their entry in
/// the activity history, written in the same transaction).
pub type RecordWriter = GroupCommit<Record>;

/// A delivery's record, and the history entry it makes, if any.
#[derive(Debug, Clone)]
pub struct Record {
    pub processed: processed_event::ActiveModel,
    pub activity: Option<activity::ActiveModel>,
}

/// Records that `consumer` handled `event_id`; false when it already had.
pub async fn record_processed(
    conn: &impl ConnectionTrait,
    consumer: &str,
    event_id: &str,
    event_type: &str,
    user_id: &str,
) -> Result<bool, AppError> {
    let row = processed_row(consumer, event_id, event_type, user_id);
    Ok(insert_processed(conn, vec![row]).await? > 0)
}

pub fn processed_row(
    consumer: &str,
    event_id: &str,
    event_type: &str,
    user_id: &str,
) -> processed_event::ActiveModel {
    processed_event::ActiveModel {
        consumer: Set(consumer.to_owned()),
        event_id: Set(event_id.to_owned()),
        event_type: Set(event_type.to_owned()),
        user_id: Set(user_id.to_owned()),
        processed_us: Set(to_micros(now())),
    }
}

/// Inserts records, skipping those already there; returns how many were new.
pub async fn insert_processed(
    conn: &impl ConnectionTrait,
    rows: Vec<processed_event::ActiveModel>,
) -> Result<u64, sea_orm::DbErr> {
    processed_event::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                processed_event::Column::Consumer,
                processed_event::Column::EventId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await
}

/// Batches of records written at a time. One: deliveries come a partition at a time, as many
/// at once as the partitions this replica consumes, and a batch costs the same round trips
/// whatever its size; with one writer the records that arrive while a batch is written go
/// together in the next (with four, batches stayed at one record each, and a created task's
/// delivery cost the server more CPU than the create itself).
const RECORD_WRITERS: usize = 1;
/// The most records in one batch.
const MAX_RECORDS: usize = 128;

/// Batches of records, each one transaction (one statement on PostgreSQL, or when no entry
/// comes with them); a record delivered twice in one batch is written once.
pub fn record_writer(db: Database) -> RecordWriter {
    let pool = (db.backend() == Backend::Postgres).then(|| super::delivery_batch::pool(&db));
    GroupCommit::start(
        RECORD_WRITERS,
        MAX_RECORDS,
        move |batch: Vec<Waiting<Record>>| {
            let db = db.clone();
            let pool = pool.clone();
            async move {
                let rows = batch.iter().map(|w| w.item.clone()).collect();
                let result = insert_in_turn(&db, pool.as_ref(), rows).await;
                settle(batch, result, |row| {
                    let db = db.clone();
                    let pool = pool.clone();
                    async move { insert_in_turn(&db, pool.as_ref(), vec![row]).await }
                })
                .await
            }
        },
    )
}

/// Inserts delivery records (and their history entries, in the same transaction) in this
/// process's turn to write; on PostgreSQL as one statement on `pool`
/// ([`super::delivery_batch`]).
async fn insert_in_turn(
    db: &Database,
    pool: Option<&PgPool>,
    rows: Vec<Record>,
) -> Result<(), DbErr> {
    if let Some(pool) = pool {
        return super::delivery_batch::insert(pool, rows).await;
    }
    let _turn = db.write_turn().await.map_err(AppError::into_db_err)?;
    let (processed, entries): (Vec<_>, Vec<_>) =
        rows.into_iter().map(|r| (r.processed, r.activity)).unzip();
    let entries: Vec<activity::ActiveModel> = entries.into_iter().flatten().collect();
    if entries.is_empty() {
        return insert_processed(db.conn(), processed).await.map(|_| ());
    }
    let txn = db.conn().begin().await?;
    insert_processed(&txn, processed).await?;
    activities::record(&txn, entries).await?;
    txn.commit().await
}
