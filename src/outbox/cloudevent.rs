//! The structured CloudEvent taskflow publishes for an outbox row.

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use crate::config::EventsConfig;
use crate::store::from_micros;
use crate::store::outbox::OutboxRow;

/// Content type of the published request: our own structured CloudEvent.
pub const CLOUDEVENTS_JSON: &str = "application/cloudevents+json";
/// Content type of the payload inside it.
pub const PROTOBUF: &str = "application/protobuf";

/// The prefix of a protobuf type URL (`google.protobuf.Any`), with the `https` scheme that a
/// type URL without one implies: CloudEvents' `dataschema` must be an absolute URI, and its
/// protobuf format asks for the payload's type URL there.
pub const TYPE_URL_PREFIX: &str = "https://type.googleapis.com/";

/// The `dataschema` of a payload whose protobuf message is `full_name`: its type URL, whose
/// last path segment is the message's full name (as in `Any`). A value that is already an
/// absolute URI is kept; a type URL without a scheme gets `https`.
pub fn data_schema(full_name: &str) -> String {
    let has_scheme = full_name.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if has_scheme {
        full_name.to_owned()
    } else if full_name.contains('/') {
        format!("https://{full_name}")
    } else {
        format!("{TYPE_URL_PREFIX}{full_name}")
    }
}

/// The structured CloudEvent for an outbox row: the protobuf payload travels base64-encoded
/// in `data_base64` with `datacontenttype: application/protobuf`, so the subscriber receives
/// the exact bytes and that content type (see the Dapr contract, decision 1).
pub fn structured(row: &OutboxRow, config: &EventsConfig) -> Value {
    let mut event = json!({
        "specversion": "1.0",
        "id": row.event_id.to_string(),
        "source": config.source,
        "type": row.event_type,
        "subject": row.subject,
        "time": from_micros(row.created_us).to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "datacontenttype": PROTOBUF,
        "dataschema": data_schema(&row.data_schema),
        "data_base64": STANDARD.encode(&row.payload),
        "partitionkey": row.partition_key,
    });
    if let (Some(traceparent), Some(map)) = (&row.traceparent, event.as_object_mut()) {
        // daprd fills in its own trace context unless `traceid` is present: send both.
        map.insert("traceparent".into(), Value::String(traceparent.clone()));
        map.insert("traceid".into(), Value::String(traceparent.clone()));
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_events_carry_the_payload_bytes_and_routing_attributes() {
        let row = OutboxRow {
            seq: 1,
            event_id: uuid::Uuid::nil(),
            topic: "tasks".into(),
            event_type: "task.created".into(),
            partition_key: "alice".into(),
            shard: 3,
            subject: "users/alice/tasks/x".into(),
            payload: vec![0, 159, 146, 150, 255],
            data_schema: "taskflow.events.v1.TaskCreated".into(),
            traceparent: None,
            created_us: 1_700_000_000_000_000,
            published_us: None,
            attempts: 0,
            last_error: None,
        };
        let event = structured(&row, &EventsConfig::default());
        assert_eq!(event["id"], "00000000-0000-0000-0000-000000000000");
        assert_eq!(event["datacontenttype"], "application/protobuf");
        assert_eq!(event["subject"], "users/alice/tasks/x");
        assert_eq!(event["source"], "taskflow");
        let data = STANDARD
            .decode(event["data_base64"].as_str().expect("base64 text"))
            .expect("valid base64");
        assert_eq!(data, row.payload);
        assert!(event.get("data").is_none());
        assert_eq!(
            event["dataschema"],
            "https://type.googleapis.com/taskflow.events.v1.TaskCreated"
        );
    }

    #[test]
    fn data_schemas_are_absolute_uris_ending_in_the_message_name() {
        assert_eq!(
            data_schema("taskflow.events.v1.TaskDeleted"),
            "https://type.googleapis.com/taskflow.events.v1.TaskDeleted"
        );
        assert_eq!(data_schema("urn:x:y"), "urn:x:y");
        assert_eq!(
            data_schema("buf.build/taskflow/events/taskflow.events.v1.TaskCreated"),
            "https://buf.build/taskflow/events/taskflow.events.v1.TaskCreated"
        );
    }
}
