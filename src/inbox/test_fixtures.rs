//! Events for the decoding tests: payloads of every kind, the outbox rows taskflow writes,
//! and structured CloudEvents delivered as bytes.

use proptest::prelude::*;
use prost::Message;
use serde_json::{Map, Value};

use super::drop_reason::{DropReason, Rejection};
use super::envelope::IncomingEvent;
use super::inspect::{Accepted, inspect};
use crate::config::EventsConfig;
use crate::outbox::{CLOUDEVENTS_JSON, EventKind, structured};
use crate::proto::{events::v1 as ev, v1 as pb};
use crate::store::outbox::OutboxRow;

pub fn kind() -> impl Strategy<Value = EventKind> {
    prop::sample::select(EventKind::ALL.to_vec())
}

pub fn user() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9._@-]{0,20}"
}

/// The payload of `kind` about `name`, for `user`.
pub fn payload(kind: EventKind, user: &str, name: &str) -> Vec<u8> {
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
            previous: None,
        }
        .encode_to_vec(),
        EventKind::TaskCompleted => ev::TaskCompleted {
            context,
            task,
            series_anchor: None,
        }
        .encode_to_vec(),
        EventKind::TaskReopened => ev::TaskReopened { context, task }.encode_to_vec(),
        EventKind::TaskDeleted => ev::TaskDeleted {
            context,
            name: name.to_owned(),
            task,
        }
        .encode_to_vec(),
        EventKind::TaskUndeleted => ev::TaskUndeleted { context, task }.encode_to_vec(),
        EventKind::TaskPurged => ev::TaskPurged {
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
        EventKind::ReminderSnoozed => ev::ReminderSnoozed {
            context,
            task: name.to_owned(),
            reminder_id: "lead".to_owned(),
            ..Default::default()
        }
        .encode_to_vec(),
    }
}

/// An outbox row as taskflow writes it: a valid event of any kind for any user.
pub fn row() -> impl Strategy<Value = OutboxRow> {
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
pub fn delivered(topic: &str, envelope: &[u8], key: Option<&str>) -> IncomingEvent {
    IncomingEvent {
        id: "outer-delivery-id".into(),
        event_type: "com.dapr.event.sent".into(),
        topic: topic.to_owned(),
        data_content_type: CLOUDEVENTS_JSON.to_owned(),
        data: envelope.to_vec(),
        partition_key: key.map(str::to_owned),
        traceparent: None,
        subject: None,
        attributes: Vec::new(),
    }
}

pub fn envelope_of(row: &OutboxRow) -> Map<String, Value> {
    match structured(row, &EventsConfig::default()) {
        Value::Object(map) => map,
        other => panic!("a CloudEvent is an object, got {other}"),
    }
}

pub fn check(event: &IncomingEvent) -> Result<Accepted, Rejection> {
    let result = inspect(
        event,
        &super::subscriptions::Subscriptions::new(&EventsConfig::default()),
    );
    if let Err(rejection) = &result {
        assert!(!rejection.message.is_empty(), "{rejection:?}");
    }
    result
}

#[track_caller]
pub fn refused(event: &IncomingEvent, reason: DropReason) -> Rejection {
    let rejection = check(event).expect_err("refused");
    assert_eq!(rejection.reason, reason, "{rejection}");
    rejection
}

pub fn sample_row() -> OutboxRow {
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
