//! Writing events into the outbox inside the caller's transaction, and the relay's reads and
//! marks.

use std::sync::Arc;

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use tokio::sync::Notify;
use uuid::Uuid;

use super::EventKind;
use crate::config::EventsConfig;
use crate::domain::UserId;
use crate::error::AppError;
use crate::store::{entity::outbox, to_micros};

pub use outbox::Model as OutboxRow;

/// Number of shards the partition keys hash into (see `outbox.shard`).
pub const SHARDS: u32 = 64;

/// An event to publish once the transaction that writes it commits.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventKind,
    pub user: UserId,
    /// The CloudEvent subject: the task's resource name.
    pub subject: String,
    /// The encoded protobuf payload.
    pub payload: Vec<u8>,
    pub id: Uuid,
}

/// FNV-1a over the partition key: stable across builds and machines.
pub fn shard_of(key: &str) -> i16 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in key.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    i16::try_from(hash % SHARDS).unwrap_or(0)
}

/// The W3C `traceparent` of an event: a new span in the trace of the work that wrote it, or,
/// without one, a new trace whose id is the event id (so the event can be found from any span
/// downstream).
pub fn traceparent_for(event_id: Uuid) -> String {
    let span = Ord::max(Uuid::new_v4().as_u128() as u64, 1);
    let trace =
        crate::tracecontext::current_trace_id().unwrap_or_else(|| event_id.simple().to_string());
    format!("00-{trace}-{span:016x}-01")
}

/// The write side of the outbox, shared by every use case that changes tasks.
#[derive(Debug, Clone)]
pub struct Outbox {
    config: Arc<EventsConfig>,
    waker: Arc<Notify>,
}

impl Outbox {
    pub fn new(config: Arc<EventsConfig>) -> Self {
        Self {
            config,
            waker: Arc::new(Notify::new()),
        }
    }

    pub fn config(&self) -> &EventsConfig {
        &self.config
    }

    /// Inserts `event` on `conn`, which should be the transaction of the change it reports.
    pub async fn enqueue(
        &self,
        conn: &impl ConnectionTrait,
        event: NewEvent,
    ) -> Result<(), AppError> {
        Ok(insert_rows(conn, vec![self.row(event)]).await?)
    }

    /// The outbox row of `event`, stamped now and in the current trace: build it where the
    /// change is made, even when another task writes it.
    pub fn row(&self, event: NewEvent) -> outbox::ActiveModel {
        outbox::ActiveModel {
            seq: sea_orm::ActiveValue::NotSet,
            event_id: Set(event.id),
            topic: Set(event.kind.topic(&self.config).to_owned()),
            event_type: Set(event.kind.as_type().to_owned()),
            partition_key: Set(event.user.as_str().to_owned()),
            shard: Set(shard_of(event.user.as_str())),
            subject: Set(event.subject),
            payload: Set(event.payload),
            data_schema: Set(event.kind.schema().to_owned()),
            traceparent: Set(Some(traceparent_for(event.id))),
            created_us: Set(to_micros(crate::app::now())),
            published_us: Set(None),
            attempts: Set(0),
            last_error: Set(None),
        }
    }

    /// Tells the relay that new events were committed.
    pub fn wake(&self) {
        self.waker.notify_one();
    }

    /// What the relay waits on.
    pub fn waker(&self) -> Arc<Notify> {
        self.waker.clone()
    }
}

/// Inserts outbox rows (from [`Outbox::row`]) in one statement.
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

/// The oldest unpublished events, in commit order.
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

/// Deletes events published before `before_us`; returns how many. Unpublished events are
/// never touched.
pub async fn prune(conn: &impl ConnectionTrait, before_us: i64) -> Result<u64, AppError> {
    let result = outbox::Entity::delete_many()
        .filter(outbox::Column::PublishedUs.is_not_null())
        .filter(outbox::Column::PublishedUs.lt(before_us))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
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

#[cfg(test)]
mod tests {
    #[test]
    fn traceparents_are_well_formed() {
        let id = uuid::Uuid::now_v7();
        let tp = super::traceparent_for(id);
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(
            (parts[0], parts[1], parts[3]),
            ("00", id.simple().to_string().as_str(), "01")
        );
        assert_eq!(parts[2].len(), 16);
        assert_ne!(parts[2], "0000000000000000");
    }

    #[test]
    fn shards_are_stable_and_in_range() {
        assert_eq!(super::shard_of("alice"), super::shard_of("alice"));
        for key in ["", "a", "bob", "user@example.com"] {
            assert!((0..64).contains(&super::shard_of(key)));
        }
    }
}
