//! Properties of turning a delivery into an event: arbitrary bytes and JSON, and every kind of
//! damage to a valid CloudEvent, are refused with a reason and a message, never a panic; a
//! valid CloudEvent decodes to the event it was made from.

use proptest::prelude::*;
use prost::Message;
use serde_json::{Map, Value};

use super::EventKind;
use super::decode::{Payload, decode};
use super::envelope::{CLOUDEVENTS_JSON, IncomingEvent, structured};
use super::inspect::{DropReason, MAX_EVENT_BYTES, Rejection, inspect};
use super::outbox::OutboxRow;
use crate::config::EventsConfig;
use crate::domain::TaskName;
use crate::proto::{events::v1 as ev, v1 as pb};

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

fn kind() -> impl Strategy<Value = EventKind> {
    prop::sample::select(EventKind::ALL.to_vec())
}

fn user() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9._@-]{0,20}"
}

/// The payload of `kind` about `name`, for `user`.
fn payload(kind: EventKind, user: &str, name: &str) -> Vec<u8> {
    let context = Some(ev::EventContext {
        user_id: user.to_owned(),
        origin: ev::Origin::User as i32,
        ..Default::default()
    });
    let task = Some(pb::Task {
        name: name.to_owned(),
        title: "Water the plants".into(),
        ..Default::default()
    });
    match kind {
        EventKind::TaskCreated => ev::TaskCreated { context, task }.encode_to_vec(),
        EventKind::TaskUpdated => ev::TaskUpdated {
            context,
            task,
            changed_fields: vec!["title".into()],
        }
        .encode_to_vec(),
        EventKind::TaskCompleted => ev::TaskCompleted { context, task }.encode_to_vec(),
        EventKind::TaskReopened => ev::TaskReopened { context, task }.encode_to_vec(),
        EventKind::TaskDeleted => ev::TaskDeleted {
            context,
            name: name.to_owned(),
            task,
        }
        .encode_to_vec(),
        EventKind::ReminderScheduled => ev::ReminderScheduled {
            context,
            task: name.to_owned(),
            ..Default::default()
        }
        .encode_to_vec(),
        EventKind::ReminderTriggered => ev::ReminderTriggered {
            context,
            task: name.to_owned(),
            late: true,
            ..Default::default()
        }
        .encode_to_vec(),
    }
}

/// An outbox row as taskflow writes it: a valid event of any kind for any user.
fn row() -> impl Strategy<Value = OutboxRow> {
    (
        kind(),
        user(),
        any::<u128>(),
        any::<u128>(),
        prop::option::of(Just(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
        )),
    )
        .prop_map(|(kind, user, event_id, task_id, traceparent)| {
            let config = EventsConfig::default();
            let name = format!("users/{user}/tasks/{}", uuid::Uuid::from_u128(task_id));
            OutboxRow {
                seq: 1,
                event_id: uuid::Uuid::from_u128(event_id),
                topic: kind.topic(&config).to_owned(),
                event_type: kind.as_type().to_owned(),
                partition_key: user.clone(),
                shard: 0,
                subject: name.clone(),
                payload: payload(kind, &user, &name),
                data_schema: kind.schema().to_owned(),
                traceparent,
                created_us: 1_700_000_000_000_000,
                published_us: None,
                attempts: 0,
                last_error: None,
            }
        })
}

/// A structured CloudEvent delivered as bytes on `topic`, as a raw-payload subscription gets it.
fn delivered(topic: &str, envelope: &[u8], key: Option<&str>) -> IncomingEvent {
    IncomingEvent {
        id: "outer-delivery-id".into(),
        event_type: "com.dapr.event.sent".into(),
        topic: topic.to_owned(),
        data_content_type: CLOUDEVENTS_JSON.to_owned(),
        data: envelope.to_vec(),
        partition_key: key.map(str::to_owned),
        traceparent: None,
        subject: None,
    }
}

fn envelope_of(row: &OutboxRow) -> Map<String, Value> {
    match structured(row, &EventsConfig::default()) {
        Value::Object(map) => map,
        other => panic!("a CloudEvent is an object, got {other}"),
    }
}

fn check(event: &IncomingEvent) -> Result<super::inspect::Accepted, Rejection> {
    let result = inspect(event, &EventsConfig::default());
    if let Err(rejection) = &result {
        assert!(!rejection.message.is_empty(), "{rejection:?}");
    }
    result
}

#[track_caller]
fn refused(event: &IncomingEvent, reason: DropReason) -> Rejection {
    let rejection = check(event).expect_err("refused");
    assert_eq!(rejection.reason, reason, "{rejection}");
    rejection
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

/// A damage done to one attribute of a valid CloudEvent, and the reason it must be refused.
#[derive(Debug, Clone)]
enum Damage {
    Drop(&'static str),
    Retype(&'static str, Value),
    ContentType(&'static str),
    Base64(String),
    EventType(String),
    ForeignPartitionKey,
    ForeignSubject,
}

fn damage() -> impl Strategy<Value = Damage> {
    let required = prop::sample::select(vec![
        "specversion",
        "id",
        "type",
        "datacontenttype",
        "data_base64",
    ]);
    let wrong = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Array(vec![Value::from(1)])),
        Just(Value::Object(Map::new())),
    ];
    prop_oneof![
        required.clone().prop_map(Damage::Drop),
        (
            prop::sample::select(vec![
                "specversion",
                "id",
                "type",
                "datacontenttype",
                "data_base64",
                "partitionkey",
                "subject",
                "traceparent",
            ]),
            wrong
        )
            .prop_map(|(field, value)| Damage::Retype(field, value)),
        prop::sample::select(vec![
            "text/plain",
            "image/png",
            "application/xml",
            CLOUDEVENTS_JSON
        ])
        .prop_map(Damage::ContentType),
        "[A-Za-z0-9+/]{0,8}[!*.~ ][A-Za-z0-9+/=]{0,8}".prop_map(Damage::Base64),
        "[a-z]{1,12}\\.[a-z]{1,12}".prop_map(Damage::EventType),
        Just(Damage::ForeignPartitionKey),
        Just(Damage::ForeignSubject),
    ]
}

impl Damage {
    /// Applies the damage; returns the reason the result must be refused with.
    fn apply(&self, envelope: &mut Map<String, Value>) -> DropReason {
        let user = envelope["partitionkey"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let other = format!("not-{user}");
        match self {
            Self::Drop(field) => {
                envelope.remove(*field);
                DropReason::MissingField
            }
            Self::Retype(field, value) => {
                envelope.insert((*field).to_owned(), value.clone());
                DropReason::InvalidField
            }
            Self::ContentType(content_type) => {
                envelope.insert("datacontenttype".into(), Value::from(*content_type));
                DropReason::UnsupportedContentType
            }
            Self::Base64(text) => {
                envelope.insert("data_base64".into(), Value::from(text.as_str()));
                DropReason::Undecodable
            }
            Self::EventType(event_type) => {
                envelope.insert("type".into(), Value::from(event_type.as_str()));
                DropReason::UnknownType
            }
            Self::ForeignPartitionKey => {
                envelope.insert("partitionkey".into(), Value::from(other));
                DropReason::UserMismatch
            }
            Self::ForeignSubject => {
                let subject = envelope["subject"].as_str().unwrap_or_default();
                let foreign =
                    subject.replacen(&format!("users/{user}/"), &format!("users/{other}/"), 1);
                envelope.insert("subject".into(), Value::from(foreign));
                DropReason::UserMismatch
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A valid CloudEvent decodes to the event it was made from, and to the same payload as
    /// the in-process delivery of its outbox row.
    #[test]
    fn valid_cloud_events_decode_to_the_same_event(row in row(), keyed in any::<bool>()) {
        let bytes = serde_json::to_vec(&Value::Object(envelope_of(&row))).expect("json");
        let outer = delivered(&row.topic, &bytes, keyed.then_some(row.partition_key.as_str()));
        prop_assert_eq!(outer.unwrap_structured(), Ok(IncomingEvent::from_row(&row)));
        let accepted = check(&outer).expect("accepted");
        let direct = check(&IncomingEvent::from_row(&row)).expect("accepted");
        prop_assert_eq!(&accepted, &direct);
        prop_assert_eq!(accepted.id, row.event_id.to_string());
        prop_assert_eq!(accepted.kind.as_type(), row.event_type.as_str());
        prop_assert_eq!(accepted.user.as_str(), row.partition_key.as_str());
        prop_assert_eq!(accepted.payload.task_name(), Some(row.subject.as_str()));
    }

    /// Each damage to a valid CloudEvent is refused with its own reason.
    #[test]
    fn damaged_cloud_events_are_refused_with_their_reason(row in row(), damage in damage()) {
        let mut envelope = envelope_of(&row);
        let reason = damage.apply(&mut envelope);
        let bytes = serde_json::to_vec(&Value::Object(envelope)).expect("json");
        let rejection = check(&delivered(&row.topic, &bytes, None)).expect_err("refused");
        prop_assert_eq!(rejection.reason, reason, "{:?}: {}", damage, rejection);
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

#[test]
fn each_reason_has_its_own_label() {
    let labels: std::collections::HashSet<&str> =
        DropReason::ALL.iter().map(|r| r.as_label()).collect();
    assert_eq!(labels.len(), DropReason::ALL.len());
    assert!(
        labels
            .iter()
            .all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    );
}

#[test]
fn attributes_outside_the_payload_are_checked_too() {
    let config = EventsConfig::default();
    const NAME: &str = "users/alice/tasks/0190f3a5-6c1e-7f00-8000-000000000001";
    let name = NAME;
    let good = IncomingEvent {
        id: "e1".into(),
        event_type: "task.completed".into(),
        topic: "tasks".into(),
        data_content_type: "application/protobuf".into(),
        data: payload(EventKind::TaskCompleted, "alice", name),
        partition_key: Some("alice".into()),
        traceparent: None,
        subject: Some(name.into()),
    };
    assert!(inspect(&good, &config).is_ok());
    let with = |change: &dyn Fn(&mut IncomingEvent)| {
        let mut event = good.clone();
        change(&mut event);
        event
    };
    refused(
        &with(&|e| e.topic = "elsewhere".into()),
        DropReason::WrongTopic,
    );
    refused(
        &with(&|e| e.topic = "reminders".into()),
        DropReason::WrongTopic,
    );
    refused(&with(&|e| e.id = String::new()), DropReason::MissingField);
    refused(&with(&|e| e.id = "x".repeat(129)), DropReason::InvalidField);
    refused(
        &with(&|e| e.event_type = "task.exploded".into()),
        DropReason::UnknownType,
    );
    refused(
        &with(&|e| e.data_content_type = String::new()),
        DropReason::MissingField,
    );
    refused(
        &with(&|e| e.data_content_type = "text/plain".into()),
        DropReason::UnsupportedContentType,
    );
    refused(
        &with(&|e| e.data = vec![0; MAX_EVENT_BYTES + 1]),
        DropReason::Oversized,
    );
    refused(&with(&|e| e.data.clear()), DropReason::Undecodable);
    refused(
        &with(&|e| e.partition_key = Some("bob".into())),
        DropReason::UserMismatch,
    );
    refused(
        &with(&|e| e.subject = Some("users/bob/tasks/0190f3a5-6c1e-7f00-8000-000000000001".into())),
        DropReason::UserMismatch,
    );
    refused(
        &with(&|e| {
            e.subject = Some("users/alice/tasks/0190f3a5-6c1e-7f00-8000-000000000002".into())
        }),
        DropReason::InvalidField,
    );
    refused(
        &with(&|e| e.subject = Some("the plants".into())),
        DropReason::InvalidField,
    );
    refused(
        &with(&|e| e.data = payload(EventKind::TaskCompleted, "bob", name)),
        DropReason::UserMismatch,
    );
    refused(
        &with(&|e| e.data = payload(EventKind::TaskCompleted, "Al ice", name)),
        DropReason::InvalidField,
    );
    refused(
        &with(&|e| e.data = payload(EventKind::TaskCompleted, "", name)),
        DropReason::MissingField,
    );
    refused(
        &with(&|e| e.data = payload(EventKind::TaskCompleted, "alice", "")),
        DropReason::MissingField,
    );
    refused(
        &with(&|e| e.data = ev::TaskCompleted::default().encode_to_vec()),
        DropReason::Undecodable,
    );
    refused(
        &with(&|e| {
            e.data = ev::TaskCompleted {
                task: Some(pb::Task::default()),
                ..Default::default()
            }
            .encode_to_vec()
        }),
        DropReason::MissingField,
    );
    let nested = Value::Object(envelope_of(&OutboxRow {
        payload: good.data.clone(),
        ..sample_row()
    }));
    let mut inner = nested.clone();
    inner["datacontenttype"] = Value::from(CLOUDEVENTS_JSON);
    inner["data_base64"] = Value::from(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        serde_json::to_vec(&nested).expect("json"),
    ));
    let bytes = serde_json::to_vec(&inner).expect("json");
    refused(
        &delivered("tasks", &bytes, None),
        DropReason::UnsupportedContentType,
    );
    let ok = serde_json::to_vec(&nested).expect("json");
    assert!(matches!(
        check(&delivered("tasks", &ok, Some("alice"))).map(|a| a.payload),
        Ok(Payload::TaskCompleted(_))
    ));
    refused(
        &delivered("tasks", &ok, Some("bob")),
        DropReason::UserMismatch,
    );
}

fn sample_row() -> OutboxRow {
    OutboxRow {
        seq: 1,
        event_id: uuid::Uuid::nil(),
        topic: "tasks".into(),
        event_type: "task.completed".into(),
        partition_key: "alice".into(),
        shard: 0,
        subject: "users/alice/tasks/0190f3a5-6c1e-7f00-8000-000000000001".into(),
        payload: Vec::new(),
        data_schema: "taskflow.events.v1.TaskCompleted".into(),
        traceparent: None,
        created_us: 1_700_000_000_000_000,
        published_us: None,
        attempts: 0,
        last_error: None,
    }
}
