//! Writing events into the outbox inside the caller's transaction.

use std::sync::Arc;

use sea_orm::{ActiveValue::Set, ConnectionTrait};
use tokio::sync::Notify;
use uuid::Uuid;

use super::EventKind;
use crate::config::EventsConfig;
use crate::domain::UserId;
use crate::error::AppError;
use crate::store::{self, entity::outbox, to_micros};

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

/// The W3C `traceparent` of an event: the span of the work that wrote it (a call, a
/// delivery), or, outside any (a background job), a new trace whose id is the event id, so the
/// event can be found from any span downstream.
pub fn traceparent_for(event_id: Uuid) -> String {
    crate::tracecontext::current_traceparent().unwrap_or_else(|| {
        let span = Ord::max(Uuid::new_v4().as_u128() as u64, 1);
        format!("00-{}-{span:016x}-01", event_id.simple())
    })
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
        Ok(store::outbox::insert_rows(conn, vec![self.row(event)]).await?)
    }

    /// Writes many events on `conn`, in statements of a few hundred rows.
    pub async fn enqueue_many(
        &self,
        conn: &impl ConnectionTrait,
        events: Vec<NewEvent>,
    ) -> Result<(), AppError> {
        let mut rows: Vec<_> = events.into_iter().map(|e| self.row(e)).collect();
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(200));
            store::outbox::insert_rows(conn, rows).await?;
            rows = rest;
        }
        Ok(())
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
            created_us: Set(to_micros(crate::clock::now())),
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
