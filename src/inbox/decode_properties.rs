//! Properties of decoding a delivery's payload: arbitrary bytes and JSON are refused with a
//! reason and a message, never a panic, and a damaged payload never reaches other data.

use proptest::prelude::*;
use serde_json::Value;

use super::decode::{Payload, decode};
use super::drop_reason::DropReason;
use super::envelope::IncomingEvent;
use super::test_fixtures::{check, delivered, envelope_of, kind, row, user};
use crate::config::EventsConfig;
use crate::convert::task_in;
use crate::domain::TaskName;
use crate::domain::{
    Description, Priority, Tags, Task, TaskField, TaskFields, TaskId, Title, UserId,
};
use crate::outbox::{CLOUDEVENTS_JSON, Cause, EventKind, PROTOBUF, task_event};

const CONTENT_TYPES: &[&str] = &[
    "application/protobuf",
    "application/x-protobuf",
    "application/octet-stream",
    "application/json",
    "application/json; charset=utf-8",
    "text/json",
    CLOUDEVENTS_JSON,
    "text/plain",
    "application/xml",
    "",
];

/// A valid stored task, at whole seconds (the precision the API keeps is finer).
fn task() -> impl Strategy<Value = Task> {
    let fields = (
        "[A-Za-z0-9][A-Za-z0-9 .,!?é-]{0,60}[A-Za-z0-9]",
        "\\PC{0,100}",
        prop::sample::select(vec![
            Priority::None,
            Priority::Low,
            Priority::High,
            Priority::Urgent,
        ]),
        prop::collection::btree_set("[a-z][a-z0-9-]{0,10}", 0..5),
        prop::option::of(946_684_800i64..4_102_444_800),
    );
    (
        user(),
        any::<u128>(),
        any::<u128>(),
        fields,
        1i32..1000,
        1i64..1000,
        946_684_800i64..4_102_444_800,
    )
        .prop_map(
            |(
                user,
                id,
                series,
                (title, description, priority, tags, due),
                occurrence,
                version,
                at,
            )| {
                let at = chrono::DateTime::from_timestamp(at, 0).unwrap_or_default();
                let mut fields = TaskFields::titled(Title::parse(&title).expect("a valid title"));
                fields.description = Description::parse(&description).expect("a valid description");
                fields.priority = priority;
                fields.tags =
                    Tags::parse(&tags.into_iter().collect::<Vec<_>>()).expect("valid tags");
                fields.due_time = due.and_then(|secs| chrono::DateTime::from_timestamp(secs, 0));
                let user = UserId::parse(&user).expect("a valid user");
                let mut task = Task::new(
                    TaskId::from_uuid(uuid::Uuid::from_u128(id)),
                    user,
                    fields,
                    at,
                );
                task.series = uuid::Uuid::from_u128(series);
                task.occurrence = occurrence;
                task.version = version;
                task.series_anchor = None;
                task
            },
        )
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::String),
        Just(Value::String("1.0".into())),
        Just(Value::String("task.completed".into())),
        Just(Value::String("application/protobuf".into())),
        Just(Value::String("AAEC".into())),
    ];
    let keys = prop_oneof![
        prop::sample::select(vec![
            "specversion",
            "id",
            "type",
            "source",
            "subject",
            "datacontenttype",
            "data",
            "data_base64",
            "partitionkey",
            "traceparent",
        ])
        .prop_map(str::to_owned),
        "[a-z]{1,8}",
    ]
    .boxed();
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The payload taskflow builds for a task decodes, passes every check, and carries the
    /// task back unchanged.
    #[test]
    fn built_payloads_round_trip(
        task in task(),
        kind in prop::sample::select(EventKind::ALL[..5].to_vec()),
        automated in any::<bool>(),
    ) {
        let cause = if automated { Cause::Automation { causation_id: "e0".into() } } else { Cause::User };
        let built = task_event(kind, &task, &cause, &[TaskField::Title]);
        let config = EventsConfig::default();
        let event = IncomingEvent {
            id: built.id.to_string(),
            event_type: kind.as_type().into(),
            topic: kind.topic(&config).into(),
            data_content_type: PROTOBUF.into(),
            data: built.payload,
            partition_key: Some(built.user.as_str().into()),
            traceparent: None,
            subject: Some(built.subject),
            attributes: Vec::new(),
        };
        let accepted = check(&event).expect("accepted");
        prop_assert_eq!(accepted.kind, kind);
        prop_assert_eq!(&accepted.user, &task.user);
        let snapshot = match &accepted.payload {
            Payload::TaskCreated(m) => m.task.clone(),
            Payload::TaskUpdated(m) => m.task.clone(),
            Payload::TaskCompleted(m) => m.task.clone(),
            Payload::TaskReopened(m) => m.task.clone(),
            Payload::TaskDeleted(m) => m.task.clone(),
            Payload::TaskUndeleted(m) => m.task.clone(),
            Payload::TaskPurged(m) => m.task.clone(),
            other => panic!("a task event, got {other:?}"),
        };
        let back = task_in(&snapshot.expect("a snapshot")).expect("the snapshot is valid");
        prop_assert_eq!(back, task);
    }

    /// A truncated or bit-flipped payload is refused, or, when what is left still decodes,

    /// it still names the same user and task: damage never moves an event to other data.
    #[test]
    fn damaged_payloads_never_reach_other_data(
        row in row(),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
        truncate in any::<bool>(),
    ) {
        let mut damaged = IncomingEvent::from_row(&row);
        let i = at.index(damaged.data.len());
        if truncate {
            damaged.data.truncate(i);
        } else {
            damaged.data[i] ^= 1 << bit;
        }
        for event in [
            damaged.clone(),
            delivered(&row.topic, &serde_json::to_vec(&Value::Object({
                let mut envelope = envelope_of(&row);
                envelope.insert("data_base64".into(), Value::from(
                    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &damaged.data),
                ));
                envelope
            })).expect("json"), None),
        ] {
            if let Ok(accepted) = check(&event) {
                // The same task, though perhaps spelled differently (a flipped case bit in
                // its id is still its id).
                let named = accepted.payload.task_name().map(TaskName::parse);
                prop_assert_eq!(accepted.user.as_str(), row.partition_key.as_str());
                prop_assert_eq!(named, Some(TaskName::parse(&row.subject)));
            }
        }
        if truncate && i == 0 {
            prop_assert_eq!(check(&damaged).map(|_| ()).map_err(|r| r.reason), Err(DropReason::Undecodable));
        }
    }

    /// Arbitrary bytes, under any content type, type and topic, are refused with a reason.
    #[test]
    fn arbitrary_bytes_are_refused(
        data in prop::collection::vec(any::<u8>(), 0..512),
        kind in kind(),
        content_type in prop::sample::select(CONTENT_TYPES),
        key in prop::option::of(user()),
    ) {
        let config = EventsConfig::default();
        let event = IncomingEvent {
            id: "e1".into(),
            event_type: kind.as_type().into(),
            topic: kind.topic(&config).into(),
            data_content_type: content_type.into(),
            data,
            partition_key: key,
            traceparent: None,
            subject: None,
            attributes: Vec::new(),
        };
        check(&event).expect_err("refused");
        let _ = decode(kind, content_type, &event.data);
    }

    /// Arbitrary JSON, as a CloudEvent or as a protobuf-JSON payload, is refused with a reason.
    #[test]
    fn arbitrary_json_is_refused(value in json(), kind in kind()) {
        let bytes = serde_json::to_vec(&value).expect("json");
        let topic = kind.topic(&EventsConfig::default()).to_owned();
        check(&delivered(&topic, &bytes, None)).expect_err("refused as a CloudEvent");
        let as_payload = IncomingEvent {
            event_type: kind.as_type().into(),
            data_content_type: "application/json".into(),
            ..delivered(&topic, &bytes, None)
        };
        check(&as_payload).expect_err("refused as a payload");
    }
}
