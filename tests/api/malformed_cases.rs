//! A catalogue of malformed deliveries, each with the reason it must be dropped for: broken
//! bytes, wrong content types, missing and invalid fields, unknown types, wrong topics,
//! users that do not agree, and events that cannot be applied.

use std::collections::HashMap;

use dapr::dapr::proto::runtime::v1::{
    self as dapr_pb, topic_event_bulk_request_entry::Event as BulkEvent,
};
use prost::Message;
use taskflow::proto::{events::v1 as ev, v1 as pb};

use crate::helpers::{completed_event, delivery};

/// One malformed delivery and the reason it must be dropped for.
pub(crate) struct Case {
    pub reason: &'static str,
    pub event: dapr_pb::TopicEventRequest,
    pub key: Option<String>,
}

pub(crate) fn context(user: &str) -> Option<ev::EventContext> {
    Some(ev::EventContext {
        user_id: user.into(),
        origin: ev::Origin::User as i32,
        ..Default::default()
    })
}

pub(crate) fn with_subject(
    mut event: dapr_pb::TopicEventRequest,
    subject: &str,
) -> dapr_pb::TopicEventRequest {
    event.extensions = Some(prost_types::Struct {
        fields: [(
            "subject".to_owned(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StringValue(subject.into())),
            },
        )]
        .into(),
    });
    event
}

/// The `i`-th malformed delivery about `task` (alice's); the kinds of damage take turns.
pub(crate) fn case(i: usize, task: &pb::Task) -> Case {
    let good = completed_event(task, "alice");
    let id = format!("bad-{i}");
    let event = |event_type: &str, content_type: &str, data: Vec<u8>| {
        delivery("tasks", &id, event_type, content_type, data)
    };
    let completed = |data: Vec<u8>| event("task.completed", "application/protobuf", data);
    let (reason, event, key) = match i % 20 {
        0 => {
            // Field number 0 never occurs in protobuf; the rest varies.
            let garbage = (0..i % 200).map(|n| (n * 31 + i) as u8).collect();
            ("undecodable", completed([vec![0], garbage].concat()), None)
        }
        1 => ("undecodable", completed(good[..2 + i % 7].to_vec()), None),
        2 => (
            "undecodable",
            event(
                "task.completed",
                "application/json",
                b"{\"context\": ".to_vec(),
            ),
            None,
        ),
        3 => ("undecodable", completed(Vec::new()), None),
        4 => {
            let content_type = [
                "text/plain",
                "image/png",
                "application/xml",
                "application/cloudevents+protobuf",
            ][i % 4];
            (
                "unsupported_content_type",
                event("task.completed", content_type, good),
                None,
            )
        }
        5 => ("missing_field", event("task.completed", "", good), None),
        6 => {
            let mut e = completed(good);
            e.id = String::new();
            ("missing_field", e, None)
        }
        7 => {
            let no_context = ev::TaskCompleted {
                context: None,
                task: Some(task.clone()),
                series_anchor: None,
            };
            ("missing_field", completed(no_context.encode_to_vec()), None)
        }
        8 => {
            let mut e = completed(good);
            e.id = "x".repeat(129 + i % 1000);
            ("invalid_field", e, None)
        }
        9 => (
            "invalid_field",
            completed(completed_event(task, "not a user")),
            None,
        ),
        10 => {
            let event_type = ["task.exploded", "com.dapr.event.sent", "TASK.COMPLETED", ""][i % 4];
            (
                "unknown_type",
                event(event_type, "application/protobuf", good),
                None,
            )
        }
        11 => {
            let mut e = completed(good);
            e.topic = ["elsewhere", "", "tasks-dlq-not"][i % 3].into();
            ("wrong_topic", e, None)
        }
        12 => {
            let mut e = completed(good);
            e.topic = "reminders".into();
            ("wrong_topic", e, None)
        }
        13 => ("user_mismatch", completed(good), Some("mallory".to_owned())),
        14 => (
            "user_mismatch",
            completed(completed_event(task, "mallory")),
            None,
        ),
        15 => {
            let foreign = task.name.replace("users/alice/", "users/bob/");
            (
                "user_mismatch",
                with_subject(completed(good), &foreign),
                None,
            )
        }
        16 => (
            "undecodable",
            event(
                "task.completed",
                "application/json",
                br#"{"unknownField": 1}"#.to_vec(),
            ),
            None,
        ),
        17 => {
            let envelope = serde_json::json!({
                "specversion": "1.0", "id": id, "type": "task.completed",
                "datacontenttype": "application/protobuf", "data_base64": "not base64!",
            });
            let bytes = serde_json::to_vec(&envelope).expect("json");
            (
                "undecodable",
                event("com.dapr.event.sent", "application/cloudevents+json", bytes),
                None,
            )
        }
        18 => {
            let envelope = serde_json::json!({
                "specversion": "1.0", "type": "task.completed",
                "datacontenttype": "application/protobuf",
                "data_base64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &good),
            });
            let bytes = serde_json::to_vec(&envelope).expect("json");
            (
                "missing_field",
                event("com.dapr.event.sent", "application/cloudevents+json", bytes),
                None,
            )
        }
        _ => {
            // Well formed, but its task snapshot has no series: it cannot be applied.
            let unusable = ev::TaskCompleted {
                context: context("alice"),
                task: Some(pb::Task {
                    name: task.name.clone(),
                    title: "x".into(),
                    ..Default::default()
                }),
                series_anchor: None,
            };
            ("not_applicable", completed(unusable.encode_to_vec()), None)
        }
    };
    Case { reason, event, key }
}

/// A bulk entry carrying `event` as a CloudEvent, keyed like a Kafka message.
pub(crate) fn bulk_entry(
    entry_id: String,
    event: dapr_pb::TopicEventRequest,
    key: Option<&str>,
) -> dapr_pb::TopicEventBulkRequestEntry {
    dapr_pb::TopicEventBulkRequestEntry {
        entry_id,
        content_type: "application/cloudevents+json".into(),
        metadata: key
            .map(|k| HashMap::from([("partitionKey".to_owned(), k.to_owned())]))
            .unwrap_or_default(),
        event: Some(BulkEvent::CloudEvent(dapr_pb::TopicEventCeRequest {
            id: event.id,
            source: event.source,
            r#type: event.r#type,
            spec_version: event.spec_version,
            data_content_type: event.data_content_type,
            data: event.data,
            extensions: event.extensions,
        })),
    }
}
