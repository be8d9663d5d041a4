//! `outbox`: events committed with the change that caused them, waiting for the relay.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    /// The order events were written in; the relay publishes in this order. One task's events
    /// (whose writes lock its row) follow their commits; concurrent transactions of other
    /// tasks may commit in another order, and the relay publishes whatever is committed.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The CloudEvent id.
    #[sea_orm(unique)]
    pub event_id: Uuid,
    pub topic: String,
    /// The CloudEvent type, e.g. `task.created`.
    pub event_type: String,
    /// The user id: the Kafka message key, so one user's events keep their order.
    pub partition_key: String,
    /// A stable hash bucket of the partition key, for relays that split the outbox.
    pub shard: i16,
    /// The CloudEvent subject: the task's resource name.
    pub subject: String,
    /// The protobuf-encoded payload.
    pub payload: Vec<u8>,
    /// The payload's protobuf message name (`taskflow.events.v1.TaskCreated`).
    pub data_schema: String,
    pub traceparent: Option<String>,
    pub created_us: i64,
    pub published_us: Option<i64>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
