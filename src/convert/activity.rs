//! History entries as the API returns them.

use prost_types::value::Kind;

use super::timestamp_out;
use crate::domain::{Activity, Actor};
use crate::proto::v1 as pb;

/// A JSON value as a `google.protobuf.Value`.
pub fn json_value(json: &serde_json::Value) -> prost_types::Value {
    let kind = match json {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(json_value).collect(),
        }),
        serde_json::Value::Object(map) => Kind::StructValue(prost_types::Struct {
            fields: map
                .iter()
                .map(|(k, v)| (k.clone(), json_value(v)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

pub fn activity_out(entry: &Activity) -> pb::Activity {
    pb::Activity {
        name: entry.name().to_string(),
        r#type: i32::from(entry.kind.number()),
        actor: match entry.actor {
            Actor::User => pb::Actor::User,
            Actor::Automation => pb::Actor::Automation,
        } as i32,
        task: entry.task_name().to_string(),
        task_title: entry.task_title.clone(),
        create_time: Some(timestamp_out(entry.occur_time)),
        changes: entry
            .changes
            .iter()
            .map(|c| pb::FieldChange {
                field: c.field.clone(),
                old_value: c.old.as_ref().map(json_value),
                new_value: c.new.as_ref().map(json_value),
            })
            .collect(),
        event_id: entry.event_id.clone(),
    }
}
