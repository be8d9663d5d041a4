//! Turning an incoming event's bytes into its payload message: protobuf for
//! `application/protobuf` (what taskflow publishes), or the protobuf JSON mapping for
//! `application/json` (so `dapr publish` from a shell works).

use std::sync::LazyLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};

use super::drop_reason::{DropReason, Rejection};
use super::envelope::media_type;
use crate::outbox::EventKind;
use crate::proto::{self, events::v1 as ev};

/// A decoded payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    TaskCreated(ev::TaskCreated),
    /// Boxed: it carries the task twice (before and after).
    TaskUpdated(Box<ev::TaskUpdated>),
    TaskCompleted(ev::TaskCompleted),
    TaskReopened(ev::TaskReopened),
    TaskDeleted(ev::TaskDeleted),
    TaskUndeleted(ev::TaskUndeleted),
    TaskPurged(ev::TaskPurged),
    ReminderScheduled(ev::ReminderScheduled),
    ReminderTriggered(ev::ReminderTriggered),
    ReminderSnoozed(ev::ReminderSnoozed),
}

impl Payload {
    pub fn context(&self) -> Option<&ev::EventContext> {
        match self {
            Self::TaskCreated(m) => m.context.as_ref(),
            Self::TaskUpdated(m) => m.context.as_ref(),
            Self::TaskCompleted(m) => m.context.as_ref(),
            Self::TaskReopened(m) => m.context.as_ref(),
            Self::TaskDeleted(m) => m.context.as_ref(),
            Self::TaskUndeleted(m) => m.context.as_ref(),
            Self::TaskPurged(m) => m.context.as_ref(),
            Self::ReminderScheduled(m) => m.context.as_ref(),
            Self::ReminderTriggered(m) => m.context.as_ref(),
            Self::ReminderSnoozed(m) => m.context.as_ref(),
        }
    }

    /// The resource name of the task the event is about.
    pub fn task_name(&self) -> Option<&str> {
        let name = match self {
            Self::TaskCreated(m) => m.task.as_ref().map(|t| t.name.as_str()),
            Self::TaskUpdated(m) => m.task.as_ref().map(|t| t.name.as_str()),
            Self::TaskCompleted(m) => m.task.as_ref().map(|t| t.name.as_str()),
            Self::TaskReopened(m) => m.task.as_ref().map(|t| t.name.as_str()),
            Self::TaskDeleted(m) => Some(m.name.as_str()),
            Self::TaskUndeleted(m) => m.task.as_ref().map(|t| t.name.as_str()),
            Self::TaskPurged(m) => Some(m.name.as_str()),
            Self::ReminderScheduled(m) => Some(m.task.as_str()),
            Self::ReminderTriggered(m) => Some(m.task.as_str()),
            Self::ReminderSnoozed(m) => Some(m.task.as_str()),
        };
        name.filter(|n| !n.is_empty())
    }
}

static POOL: LazyLock<Option<DescriptorPool>> =
    LazyLock::new(|| DescriptorPool::decode(proto::FILE_DESCRIPTOR_SET).ok());

/// A payload for people to read: the protobuf message of `kind` in its JSON mapping, or the bytes
/// as JSON if they are JSON already; `None` when they are neither.
pub fn readable(kind: Option<EventKind>, bytes: &[u8]) -> Option<serde_json::Value> {
    if let (Some(kind), Some(pool)) = (kind, POOL.as_ref())
        && let Some(descriptor) = pool.get_message_by_name(kind.schema())
        && let Ok(message) = DynamicMessage::decode(descriptor, bytes)
        && let Ok(json) = serde_json::to_value(&message)
    {
        return Some(json);
    }
    serde_json::from_slice(bytes).ok()
}

/// A task snapshot in the protobuf JSON mapping, keyed by the fields' proto names
/// (`due_time`), unset fields left out.
pub fn task_json(task: &proto::v1::Task) -> Option<serde_json::Map<String, serde_json::Value>> {
    let descriptor = POOL.as_ref()?.get_message_by_name("taskflow.v1.Task")?;
    let message = DynamicMessage::decode(descriptor, task.encode_to_vec().as_slice()).ok()?;
    let options = prost_reflect::SerializeOptions::new().use_proto_field_name(true);
    let json = message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .ok()?;
    match json {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Re-encodes protobuf JSON as protobuf bytes, checked against the message's schema.
fn json_to_protobuf(kind: EventKind, json: &[u8]) -> Result<Vec<u8>, Rejection> {
    let undecodable = |message: String| Rejection::new(DropReason::Undecodable, message);
    let pool = POOL
        .as_ref()
        .ok_or_else(|| undecodable("the descriptor pool is unavailable".into()))?;
    let descriptor = pool
        .get_message_by_name(kind.schema())
        .ok_or_else(|| undecodable(format!("no descriptor for {}", kind.schema())))?;
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let message = DynamicMessage::deserialize(descriptor, &mut deserializer)
        .map_err(|e| undecodable(format!("invalid {} JSON: {e}", kind.schema())))?;
    deserializer
        .end()
        .map_err(|e| undecodable(format!("trailing data after the JSON payload: {e}")))?;
    Ok(message.encode_to_vec())
}

fn decode_as<M: Message + Default>(
    bytes: &[u8],
    wrap: fn(M) -> Payload,
) -> Result<Payload, Rejection> {
    M::decode(bytes).map(wrap).map_err(|e| {
        Rejection::new(
            DropReason::Undecodable,
            format!("malformed protobuf payload: {e}"),
        )
    })
}

/// Decodes `data` as the payload of `kind`, by content type.
pub fn decode(kind: EventKind, content_type: &str, data: &[u8]) -> Result<Payload, Rejection> {
    let media = media_type(content_type);
    let owned;
    let bytes = match media.as_str() {
        "application/protobuf" | "application/x-protobuf" | "application/octet-stream" => data,
        "application/json" | "text/json" => {
            owned = json_to_protobuf(kind, data)?;
            owned.as_slice()
        }
        "" => {
            return Err(Rejection::new(
                DropReason::MissingField,
                "the event has no datacontenttype",
            ));
        }
        other => {
            return Err(Rejection::new(
                DropReason::UnsupportedContentType,
                format!(
                    "unsupported content type {other:?}; use application/protobuf or application/json"
                ),
            ));
        }
    };
    if bytes.is_empty() {
        return Err(Rejection::new(DropReason::Undecodable, "empty payload"));
    }
    match kind {
        EventKind::TaskCreated => decode_as(bytes, Payload::TaskCreated),
        EventKind::TaskUpdated => decode_as(bytes, |m| Payload::TaskUpdated(Box::new(m))),
        EventKind::TaskCompleted => decode_as(bytes, Payload::TaskCompleted),
        EventKind::TaskReopened => decode_as(bytes, Payload::TaskReopened),
        EventKind::TaskDeleted => decode_as(bytes, Payload::TaskDeleted),
        EventKind::TaskUndeleted => decode_as(bytes, Payload::TaskUndeleted),
        EventKind::TaskPurged => decode_as(bytes, Payload::TaskPurged),
        EventKind::ReminderScheduled => decode_as(bytes, Payload::ReminderScheduled),
        EventKind::ReminderTriggered => decode_as(bytes, Payload::ReminderTriggered),
        EventKind::ReminderSnoozed => decode_as(bytes, Payload::ReminderSnoozed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed() -> ev::TaskCompleted {
        ev::TaskCompleted {
            context: Some(ev::EventContext {
                user_id: "alice".into(),
                origin: ev::Origin::User as i32,
                ..Default::default()
            }),
            task: Some(proto::v1::Task {
                name: "users/alice/tasks/0190f3a5-6c1e-7f00-8000-000000000001".into(),
                title: "t".into(),
                ..Default::default()
            }),
            series_anchor: None,
        }
    }

    #[test]
    fn protobuf_and_json_decode_to_the_same_message() {
        let message = completed();
        let from_bytes = decode(
            EventKind::TaskCompleted,
            "application/protobuf",
            &message.encode_to_vec(),
        )
        .expect("protobuf decodes");
        assert_eq!(from_bytes, Payload::TaskCompleted(message.clone()));
        let json = br#"{"context":{"userId":"alice","origin":"ORIGIN_USER"},
            "task":{"name":"users/alice/tasks/0190f3a5-6c1e-7f00-8000-000000000001","title":"t"}}"#;
        let from_json = decode(
            EventKind::TaskCompleted,
            "application/json; charset=utf-8",
            json,
        )
        .expect("JSON decodes");
        assert_eq!(from_json, Payload::TaskCompleted(message));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for (content_type, data) in [
            ("application/protobuf", &b"\xff\xff\xff\xff"[..]),
            ("application/protobuf", b""),
            ("application/json", b"{not json"),
            ("application/json", br#"{"task":{"title":5}}"#),
            ("application/json", br#"{"unknownField":1}"#),
            ("text/plain", b"hello"),
        ] {
            assert!(
                decode(EventKind::TaskCompleted, content_type, data).is_err(),
                "{content_type} {data:?}"
            );
        }
    }
}
