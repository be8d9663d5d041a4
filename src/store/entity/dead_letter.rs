//! `dead_letters`: events that reached the dead-letter topic, kept for a human to review.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dead_letters")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub event_id: String,
    pub topic: String,
    pub event_type: String,
    pub payload: Vec<u8>,
    /// The last failure's reason (or how the event reached the dead-letter topic).
    pub reason: String,
    pub received_us: i64,
    /// The topic the event failed on (the dead-letter copy's CloudEvent `topic`).
    pub original_topic: Option<String>,
    pub user_id: String,
    pub subject: Option<String>,
    /// The CloudEvent's attributes as delivered, a JSON object of strings.
    pub attributes: Option<String>,
    /// Deliveries of the event this process answered RETRY or DROP before it was dead-lettered.
    pub attempts: i32,
    /// `stored`, `replayed` or `discarded`.
    pub status: String,
    pub replays: i32,
    pub last_replay_us: Option<i64>,
    pub last_replay_outcome: Option<String>,
    /// When it was replayed successfully or discarded.
    pub resolved_us: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
