//! Reviewing dead letters: list them, read one (its payload decoded, its CloudEvent attributes),
//! replay it through the subscriber (exactly once: a replay of an event already applied is a
//! no-op, since the handler's record of it is in `processed_events`), or discard it.

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use super::decode::readable;
use super::envelope::IncomingEvent;
use super::subscriber::{Subscriber, Verdict};
use crate::error::AppError;
use crate::outbox::{EventKind, PROTOBUF};
use crate::store::dead_letters::{self, Filter, Status};
use crate::store::entity::dead_letter::Model;
use crate::store::{Database, announcements, from_micros};

/// The dead-letter operations an operator has.
pub struct Review {
    db: Database,
    subscriber: Arc<Subscriber>,
}

/// What a replay came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// The handlers applied it (or had before): the letter is resolved.
    Applied,
    /// The handlers still refuse it: the letter stays, with this reason.
    Refused(String),
    /// Not stored any more (replayed or discarded before).
    NotStored(Status),
}

impl Review {
    pub fn new(db: Database, subscriber: Arc<Subscriber>) -> Self {
        Self { db, subscriber }
    }

    pub async fn list(&self, filter: &Filter) -> Result<Vec<Model>, AppError> {
        dead_letters::list(self.db.conn(), filter).await
    }

    pub async fn get(&self, id: i64) -> Result<Model, AppError> {
        dead_letters::get(self.db.conn(), id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("dead letter {id} does not exist")))
    }

    /// Hands the stored letter `id` back to the handlers, as if it came again on its original
    /// topic, and records the replay. A transient failure (the database) is an error and
    /// changes nothing.
    pub async fn replay(&self, id: i64) -> Result<Replayed, AppError> {
        let letter = self.get(id).await?;
        let status = Status::parse(&letter.status).unwrap_or(Status::Stored);
        if status != Status::Stored {
            return Ok(Replayed::NotStored(status));
        }
        let config = self.subscriber.outbox().config();
        let topic = EventKind::from_type(&letter.event_type)
            .map_or(config.tasks_topic.as_str(), |kind| kind.topic(config));
        let event = redelivery(&letter, topic);
        let outcome = match self.subscriber.handle(&event).await {
            Verdict::Success => Replayed::Applied,
            Verdict::Drop(rejection) => Replayed::Refused(rejection.message),
            Verdict::Retry(reason) => {
                return Err(AppError::FailedPrecondition(format!(
                    "the replay could not be applied now ({reason}); nothing changed, try again"
                )));
            }
        };
        let (recorded, resolved) = match &outcome {
            Replayed::Refused(reason) => {
                let reason: String = reason.chars().take(500).collect();
                (format!("refused: {reason}"), false)
            }
            _ => ("applied".to_owned(), true),
        };
        let (_turn, txn) = self.db.begin_write().await?;
        dead_letters::record_replay(&txn, id, &recorded, resolved).await?;
        txn.commit().await?;
        if outcome == Replayed::Applied {
            // Events the replay wrote: wake whichever replica runs the relay.
            let _ = announcements::wake_relay(&self.db).await;
        }
        Ok(outcome)
    }

    /// Discards the stored letters among `ids`; returns how many.
    pub async fn discard(&self, ids: &[i64]) -> Result<u64, AppError> {
        let (_turn, txn) = self.db.begin_write().await?;
        let discarded = dead_letters::discard(&txn, ids).await?;
        txn.commit().await?;
        Ok(discarded)
    }
}

/// The event a dead letter was, delivered again on its original topic.
fn redelivery(letter: &Model, default_topic: &str) -> IncomingEvent {
    let attributes: Vec<(String, String)> = letter
        .attributes
        .as_deref()
        .and_then(|text| serde_json::from_str::<serde_json::Map<String, Value>>(text).ok())
        .map(|map| {
            map.into_iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let mut event = IncomingEvent {
        id: letter.event_id.clone(),
        event_type: letter.event_type.clone(),
        topic: letter
            .original_topic
            .clone()
            .unwrap_or_else(|| default_topic.to_owned()),
        data_content_type: PROTOBUF.to_owned(),
        data: letter.payload.clone(),
        partition_key: (!letter.user_id.is_empty()).then(|| letter.user_id.clone()),
        traceparent: None,
        subject: letter.subject.clone(),
        attributes,
    };
    if let Some(content_type) = event.attribute("datacontenttype") {
        event.data_content_type = content_type.to_owned();
    }
    event.traceparent = event.attribute("traceparent").map(str::to_owned);
    event
}

/// A dead letter as JSON, for `list --format json` (`with_payload`: also for `show`).
pub fn to_json(letter: &Model, with_payload: bool) -> Value {
    let time = |us: Option<i64>| us.map(|us| from_micros(us).to_rfc3339());
    let mut value = json!({
        "id": letter.id,
        "event_id": letter.event_id,
        "type": letter.event_type,
        "user": letter.user_id,
        "subject": letter.subject,
        "original_topic": letter.original_topic,
        "dead_letter_topic": letter.topic,
        "received": time(Some(letter.received_us)),
        "reason": letter.reason,
        "attempts": letter.attempts,
        "status": letter.status,
        "replays": letter.replays,
        "last_replay": time(letter.last_replay_us),
        "last_replay_outcome": letter.last_replay_outcome,
        "resolved": time(letter.resolved_us),
    });
    if with_payload && let Value::Object(map) = &mut value {
        let attributes = letter
            .attributes
            .as_deref()
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .unwrap_or(Value::Null);
        map.insert("attributes".into(), attributes);
        let kind = EventKind::from_type(&letter.event_type);
        match readable(kind, &letter.payload) {
            Some(payload) => map.insert("payload".into(), payload),
            None => map.insert(
                "payload_base64".into(),
                STANDARD.encode(&letter.payload).into(),
            ),
        };
    }
    value
}
