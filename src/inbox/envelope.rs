//! The incoming event a delivery (from the sidecar or in-process) is turned into, and the
//! structured CloudEvent that may arrive as its data.

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::Value;

use super::drop_reason::{DropReason, Rejection};
use crate::outbox::{CLOUDEVENTS_JSON, PROTOBUF};
use crate::store::outbox::OutboxRow;

/// An event as a handler sees it, whatever way it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingEvent {
    pub id: String,
    pub event_type: String,
    pub topic: String,
    pub data_content_type: String,
    pub data: Vec<u8>,
    /// The message key the event travelled under, when known.
    pub partition_key: Option<String>,
    /// The W3C trace context it carries, when it has one.
    pub traceparent: Option<String>,
    /// The CloudEvent `subject` (the task's resource name), when it has one.
    pub subject: Option<String>,
    /// The CloudEvent's other string attributes as delivered (`source`, `time`, `topic`,
    /// `pubsubname` …), kept with a dead letter.
    pub attributes: Vec<(String, String)>,
}

impl IncomingEvent {
    /// The event an outbox row becomes when it is delivered in-process.
    pub fn from_row(row: &OutboxRow) -> Self {
        Self {
            id: row.event_id.to_string(),
            event_type: row.event_type.clone(),
            topic: row.topic.clone(),
            data_content_type: PROTOBUF.to_owned(),
            data: row.payload.clone(),
            partition_key: Some(row.partition_key.clone()),
            traceparent: row.traceparent.clone(),
            subject: Some(row.subject.clone()),
            attributes: Vec::new(),
        }
    }

    /// The event inside a structured CloudEvent that arrived as this event's data (what
    /// [`structured`] writes). Its `partitionkey` and `subject` must agree with the ones this
    /// delivery carries, if any; a CloudEvent inside that one is refused.
    pub fn unwrap_structured(&self) -> Result<Self, Rejection> {
        use DropReason::{
            InvalidField, MissingField, Undecodable, UnsupportedContentType, UserMismatch,
        };
        let value: Value = serde_json::from_slice(&self.data).map_err(|e| {
            Rejection::new(
                Undecodable,
                format!("the CloudEvent is not valid JSON: {e}"),
            )
        })?;
        let Value::Object(event) = value else {
            return Err(Rejection::new(
                Undecodable,
                "the CloudEvent is not a JSON object",
            ));
        };
        let text = |name: &str| -> Result<Option<String>, Rejection> {
            match event.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Rejection::new(
                    InvalidField,
                    format!("the CloudEvent attribute {name:?} must be a string"),
                )),
            }
        };
        let required = |name: &str| {
            text(name)?.ok_or_else(|| {
                Rejection::new(
                    MissingField,
                    format!("the CloudEvent has no {name:?} attribute"),
                )
            })
        };
        let spec = required("specversion")?;
        if spec != "1.0" {
            return Err(Rejection::new(
                InvalidField,
                format!("specversion {spec:?} is not 1.0"),
            ));
        }
        let data_content_type = required("datacontenttype")?;
        if media_type(&data_content_type) == CLOUDEVENTS_JSON {
            return Err(Rejection::new(
                UnsupportedContentType,
                "a CloudEvent inside a CloudEvent",
            ));
        }
        let data = match (event.get("data_base64"), event.get("data")) {
            (Some(Value::String(b64)), None) => STANDARD.decode(b64).map_err(|e| {
                Rejection::new(Undecodable, format!("data_base64 is not valid base64: {e}"))
            })?,
            (Some(_), None) => {
                return Err(Rejection::new(InvalidField, "data_base64 must be a string"));
            }
            (None, Some(Value::String(s))) => s.clone().into_bytes(),
            (None, Some(data)) => serde_json::to_vec(data).map_err(|e| {
                Rejection::new(Undecodable, format!("data cannot be re-encoded: {e}"))
            })?,
            (Some(_), Some(_)) => {
                return Err(Rejection::new(
                    InvalidField,
                    "the CloudEvent has both data and data_base64",
                ));
            }
            (None, None) => return Err(Rejection::new(MissingField, "the CloudEvent has no data")),
        };
        let agree = |name: &str, outer: &Option<String>| -> Result<Option<String>, Rejection> {
            match (outer, text(name)?) {
                (Some(outer), Some(inner)) if *outer != inner => Err(Rejection::new(
                    UserMismatch,
                    format!("the delivery's {name} {outer:?} is not the CloudEvent's {inner:?}"),
                )),
                (outer, inner) => Ok(inner.or_else(|| outer.clone())),
            }
        };
        Ok(Self {
            id: required("id")?,
            event_type: required("type")?,
            topic: self.topic.clone(),
            data_content_type,
            data,
            partition_key: agree("partitionkey", &self.partition_key)?,
            traceparent: text("traceparent")?.or_else(|| self.traceparent.clone()),
            subject: agree("subject", &self.subject)?,
            attributes: self.attributes.clone(),
        })
    }

    /// The topic the event was first published to: the CloudEvent's `topic` attribute, which a
    /// dead-letter copy keeps from the original (daprd re-publishes the original envelope).
    pub fn original_topic(&self) -> Option<&str> {
        self.attribute("topic")
    }

    /// A string attribute of the delivered CloudEvent.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The media type of a content type, lowercased, without parameters: `application/json`.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}
