//! Everything about a delivery that can be checked without the database: where it came from,
//! what it is, whether its payload decodes, and whether all the users it names agree. A
//! delivery that fails is refused with a [`Rejection`].

use super::decode::{Payload, decode};
use super::drop_reason::{DropReason, Rejection};
use super::envelope::{IncomingEvent, media_type};
use super::subscriptions::Subscriptions;
use crate::domain::{TaskName, UserId};
use crate::outbox::{CLOUDEVENTS_JSON, EventKind};

/// The largest event payload handled; larger ones are dropped.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;
/// The longest event id accepted, in bytes.
pub const MAX_EVENT_ID_BYTES: usize = 128;

/// A delivery that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The event id handling is recorded under (the inner one of an unwrapped CloudEvent).
    pub id: String,
    pub traceparent: Option<String>,
    pub kind: EventKind,
    pub payload: Payload,
    pub user: UserId,
}

/// Checks `event` as delivered on one of the subscribed topics. A structured CloudEvent
/// delivered as bytes (`application/cloudevents+json`, as with raw-payload subscriptions) is
/// unwrapped first, once.
pub fn inspect(
    event: &IncomingEvent,
    subscriptions: &Subscriptions,
) -> Result<Accepted, Rejection> {
    use DropReason::*;
    let accepted_here = subscriptions.accepts(&event.topic);
    if accepted_here.is_empty() {
        return Err(Rejection::new(
            WrongTopic,
            format!("not subscribed to topic {:?}", event.topic),
        ));
    }
    if event.data.len() > MAX_EVENT_BYTES {
        return Err(Rejection::new(
            Oversized,
            format!(
                "{} bytes of data, at most {MAX_EVENT_BYTES}",
                event.data.len()
            ),
        ));
    }
    let unwrapped;
    let event = if media_type(&event.data_content_type) == CLOUDEVENTS_JSON {
        unwrapped = event.unwrap_structured()?;
        &unwrapped
    } else {
        event
    };
    if event.id.is_empty() {
        return Err(Rejection::new(MissingField, "the event has no id"));
    }
    if event.id.len() > MAX_EVENT_ID_BYTES {
        return Err(Rejection::new(
            InvalidField,
            format!("the event id must be at most {MAX_EVENT_ID_BYTES} bytes"),
        ));
    }
    let kind = EventKind::from_type(&event.event_type).ok_or_else(|| {
        Rejection::new(
            UnknownType,
            format!("unknown event type {:?}", event.event_type),
        )
    })?;
    if !accepted_here.contains(&kind) {
        return Err(Rejection::new(
            WrongTopic,
            format!(
                "{} does not belong on topic {:?}",
                kind.as_type(),
                event.topic
            ),
        ));
    }
    let payload = decode(kind, &event.data_content_type, &event.data)?;
    let context = payload
        .context()
        .ok_or_else(|| Rejection::new(MissingField, "the payload has no context"))?;
    if context.user_id.is_empty() {
        return Err(Rejection::new(MissingField, "the payload has no user id"));
    }
    let user = UserId::parse(&context.user_id)
        .map_err(|_| Rejection::new(InvalidField, "the payload's user id is invalid"))?;
    if let Some(key) = &event.partition_key
        && key != user.as_str()
    {
        return Err(Rejection::new(
            UserMismatch,
            format!("the partition key {key:?} is not the payload's user {user}"),
        ));
    }
    let name = payload
        .task_name()
        .ok_or_else(|| Rejection::new(MissingField, "the payload names no task"))?;
    let name = TaskName::parse(name)
        .map_err(|e| Rejection::new(InvalidField, format!("invalid task name: {e}")))?;
    if name.user != user {
        return Err(Rejection::new(
            UserMismatch,
            format!("task {name} does not belong to user {user}"),
        ));
    }
    if let Some(subject) = &event.subject {
        let named = TaskName::parse(subject)
            .map_err(|e| Rejection::new(InvalidField, format!("invalid subject: {e}")))?;
        if named.user != user {
            return Err(Rejection::new(
                UserMismatch,
                format!("the subject {subject:?} names a task of another user than {user}"),
            ));
        }
        if named != name {
            return Err(Rejection::new(
                InvalidField,
                format!("the subject {subject:?} is not the payload's task {name}"),
            ));
        }
    }
    Ok(Accepted {
        id: event.id.clone(),
        traceparent: event.traceparent.clone(),
        kind,
        payload,
        user,
    })
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use serde_json::Value;

    use super::*;
    use crate::inbox::decode::Payload;
    use crate::inbox::test_fixtures::{
        check, delivered, envelope_of, payload, refused, sample_row,
    };
    use crate::proto::{events::v1 as ev, v1 as pb};
    use crate::store::outbox::OutboxRow;

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
        let subscriptions = Subscriptions::new(&crate::config::EventsConfig::default());
        let name = "users/alice/tasks/0190f3a5-6c1e-7f00-8000-000000000001";
        let good = IncomingEvent {
            id: "e1".into(),
            event_type: "task.completed".into(),
            topic: "tasks".into(),
            data_content_type: "application/protobuf".into(),
            data: payload(EventKind::TaskCompleted, "alice", name),
            partition_key: Some("alice".into()),
            traceparent: None,
            subject: Some(name.into()),
            attributes: Vec::new(),
        };
        assert!(inspect(&good, &subscriptions).is_ok());
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
            &with(&|e| {
                e.subject = Some("users/bob/tasks/0190f3a5-6c1e-7f00-8000-000000000001".into())
            }),
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
}
