//! Properties of structured CloudEvents delivered as bytes: a valid one decodes to the event
//! it was made from, and each kind of damage to one is refused with its own reason.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::drop_reason::DropReason;
use super::envelope::IncomingEvent;
use super::test_fixtures::{check, delivered, envelope_of, row};
use crate::outbox::CLOUDEVENTS_JSON;

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
}
