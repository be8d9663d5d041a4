//! `dead_letters`: events that reached the dead-letter topic, kept for an operator to list, read,
//! replay or discard. Nothing is deleted here but discarded letters past their retention.

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use super::entity::dead_letter::{self, Column, Entity, Model};
use super::to_micros;
use crate::clock::now;
use crate::error::AppError;

/// What an operator does with a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Kept, waiting for review.
    Stored,
    /// Handed back to the handlers, which applied it (or had already).
    Replayed,
    /// Set aside by an operator; pruned after the retention.
    Discarded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Replayed => "replayed",
            Self::Discarded => "discarded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "stored" => Some(Self::Stored),
            "replayed" => Some(Self::Replayed),
            "discarded" => Some(Self::Discarded),
            _ => None,
        }
    }
}

/// A dead letter as it arrives.
#[derive(Debug, Clone)]
pub struct NewDeadLetter<'a> {
    pub event_id: &'a str,
    /// The dead-letter topic it arrived on.
    pub topic: &'a str,
    pub original_topic: Option<&'a str>,
    pub event_type: &'a str,
    pub user_id: &'a str,
    pub subject: Option<&'a str>,
    /// The CloudEvent attributes, as a JSON object.
    pub attributes: Option<String>,
    pub payload: &'a [u8],
    pub reason: &'a str,
    pub attempts: u32,
}

/// Keeps a dead letter.
pub async fn keep(conn: &impl ConnectionTrait, letter: NewDeadLetter<'_>) -> Result<(), AppError> {
    let row = dead_letter::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        event_id: Set(letter.event_id.to_owned()),
        topic: Set(letter.topic.to_owned()),
        event_type: Set(letter.event_type.to_owned()),
        payload: Set(letter.payload.to_vec()),
        reason: Set(letter.reason.to_owned()),
        received_us: Set(to_micros(now())),
        original_topic: Set(letter.original_topic.map(str::to_owned)),
        user_id: Set(letter.user_id.to_owned()),
        subject: Set(letter.subject.map(str::to_owned)),
        attributes: Set(letter.attributes),
        attempts: Set(i32::try_from(letter.attempts).unwrap_or(i32::MAX)),
        status: Set(Status::Stored.as_str().to_owned()),
        replays: Set(0),
        last_replay_us: Set(None),
        last_replay_outcome: Set(None),
        resolved_us: Set(None),
    };
    Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

/// Which dead letters to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub event_type: Option<String>,
    pub user_id: Option<String>,
    pub status: Option<Status>,
    /// Received at or after (µs since the epoch).
    pub since_us: Option<i64>,
    /// Received before (µs since the epoch).
    pub until_us: Option<i64>,
    /// Only ids greater than this (paging).
    pub after_id: Option<i64>,
    pub limit: u64,
}

fn condition(filter: &Filter) -> Condition {
    let mut condition = Condition::all();
    if let Some(kind) = &filter.event_type {
        condition = condition.add(Column::EventType.eq(kind.as_str()));
    }
    if let Some(user) = &filter.user_id {
        condition = condition.add(Column::UserId.eq(user.as_str()));
    }
    if let Some(status) = filter.status {
        condition = condition.add(Column::Status.eq(status.as_str()));
    }
    if let Some(since) = filter.since_us {
        condition = condition.add(Column::ReceivedUs.gte(since));
    }
    if let Some(until) = filter.until_us {
        condition = condition.add(Column::ReceivedUs.lt(until));
    }
    if let Some(after) = filter.after_id {
        condition = condition.add(Column::Id.gt(after));
    }
    condition
}

/// The dead letters that match, oldest first.
pub async fn list(conn: &impl ConnectionTrait, filter: &Filter) -> Result<Vec<Model>, AppError> {
    Ok(Entity::find()
        .filter(condition(filter))
        .order_by_asc(Column::Id)
        .limit(filter.limit)
        .all(conn)
        .await?)
}

pub async fn get(conn: &impl ConnectionTrait, id: i64) -> Result<Option<Model>, AppError> {
    Ok(Entity::find_by_id(id).one(conn).await?)
}

/// Records a replay of `id`: its outcome, and whether it resolved the letter.
pub async fn record_replay(
    conn: &impl ConnectionTrait,
    id: i64,
    outcome: &str,
    resolved: bool,
) -> Result<(), AppError> {
    let at = to_micros(now());
    let mut update = Entity::update_many()
        .col_expr(Column::Replays, Expr::col(Column::Replays).add(1))
        .col_expr(Column::LastReplayUs, Expr::value(at))
        .col_expr(Column::LastReplayOutcome, Expr::value(outcome.to_owned()));
    if resolved {
        update = update
            .col_expr(Column::Status, Expr::value(Status::Replayed.as_str()))
            .col_expr(Column::ResolvedUs, Expr::value(at));
    }
    update.filter(Column::Id.eq(id)).exec(conn).await?;
    Ok(())
}

/// Discards the stored letters among `ids`; returns how many were discarded.
pub async fn discard(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<u64, AppError> {
    let result = Entity::update_many()
        .col_expr(Column::Status, Expr::value(Status::Discarded.as_str()))
        .col_expr(Column::ResolvedUs, Expr::value(to_micros(now())))
        .filter(Column::Id.is_in(ids.iter().copied()))
        .filter(Column::Status.eq(Status::Stored.as_str()))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}
