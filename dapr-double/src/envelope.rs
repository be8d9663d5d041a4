//! The CloudEvent envelope, both ways: what daprd writes to Kafka on publish
//! (`contrib:pubsub/envelope.go`, `dapr:pkg/runtime/pubsub/cloudevents.go`) and how it turns a
//! consumed envelope into `TopicEventRequest`/`TopicEventCERequest`
//! (`dapr:pkg/runtime/pubsub/subscriptions.go`).

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use dapr::dapr::proto::runtime::v1::{TopicEventCeRequest, TopicEventRequest};
use serde_json::{Map, Value};

use crate::duration::{parse_go_duration, rfc3339_now};

/// `com.dapr.event.sent`, daprd's default CloudEvent type.
pub const DEFAULT_TYPE: &str = "com.dapr.event.sent";
/// The bulk delivery request type.
pub(crate) const BULK_TYPE: &str = "com.dapr.event.sent.bulk";
const DEFAULT_SOURCE: &str = "Dapr";
const SPEC_VERSION: &str = "1.0";

/// `application/cloudevents+json` (parameters allowed).
pub(crate) fn is_cloud_event(content_type: &str) -> bool {
    is_content_type(content_type, "application/cloudevents+json")
}

/// `application/json` (parameters allowed). `+json` types such as
/// `application/problem+json` do **not** count: daprd's `IsJSONContentType` compares the exact
/// type, so their data is carried as a string.
pub(crate) fn is_json(content_type: &str) -> bool {
    is_content_type(content_type, "application/json")
}

/// `text/*` or `application/xml`.
pub(crate) fn is_string(content_type: &str) -> bool {
    content_type.to_ascii_lowercase().starts_with("text/")
        || is_content_type(content_type, "application/xml")
}

/// `application/octet-stream`, the only type daprd treats as binary.
pub(crate) fn is_binary(content_type: &str) -> bool {
    is_content_type(content_type, "application/octet-stream")
}

fn is_content_type(content_type: &str, expected: &str) -> bool {
    let lower = content_type.to_ascii_lowercase();
    lower == expected
        || lower
            .split_once(';')
            .is_some_and(|(kind, _)| kind == expected)
}

/// A W3C trace context handed to the envelope (`traceid`/`traceparent`, `tracestate`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Trace {
    pub(crate) parent: String,
    pub(crate) state: String,
}

impl Trace {
    /// The context of the span daprd's gRPC interceptor starts for a call: it continues an
    /// incoming `traceparent` with a new span id, or starts a new (unsampled) trace.
    pub(crate) fn for_call(incoming_parent: Option<&str>, incoming_state: Option<&str>) -> Self {
        let span_id = &uuid::Uuid::new_v4().simple().to_string()[..16];
        let parent = incoming_parent
            .and_then(|p| {
                let parts: Vec<&str> = p.trim().split('-').collect();
                match parts.as_slice() {
                    [version, trace_id, _, flags]
                        if version.len() == 2 && trace_id.len() == 32 && flags.len() == 2 =>
                    {
                        Some(format!("{version}-{trace_id}-{span_id}-{flags}"))
                    }
                    _ => None,
                }
            })
            .unwrap_or_else(|| format!("00-{}-{span_id}-00", uuid::Uuid::new_v4().simple()));
        Self {
            parent,
            state: incoming_state.unwrap_or_default().to_owned(),
        }
    }
}

/// What one publish (or one bulk entry) hands to the envelope builder.
pub(crate) struct PublishInput<'a> {
    pub(crate) topic: &'a str,
    pub(crate) pubsub: &'a str,
    /// The publisher's app id.
    pub(crate) source: &'a str,
    pub(crate) data: &'a [u8],
    pub(crate) content_type: &'a str,
    /// Metadata for `cloudevent.*` overrides and `ttlInSeconds` (for bulk: the merged entry
    /// metadata, which is empty when the entry had none).
    pub(crate) metadata: &'a HashMap<String, String>,
    pub(crate) trace: &'a Trace,
}

/// Builds the envelope daprd writes to Kafka, or says why daprd refuses the publish
/// (`InvalidArgument` "cannot create cloudevent").
pub(crate) fn new_cloud_event(input: &PublishInput<'_>) -> Result<Map<String, Value>, String> {
    let mut envelope = if is_cloud_event(input.content_type) {
        from_cloud_event(input)?
    } else {
        new_envelope(input)
    };
    apply_ttl(&mut envelope, input.metadata);
    Ok(envelope)
}

/// `FromCloudEvent`: keeps the app's own CloudEvent and only fills in what daprd adds.
/// Metadata overrides (`cloudevent.*`) are ignored on this path.
fn from_cloud_event(input: &PublishInput<'_>) -> Result<Map<String, Value>, String> {
    let mut event = match decode_first_json(input.data) {
        Some(Value::Object(event)) => event,
        Some(other) => return Err(format!("the CloudEvent is not a JSON object: {other}")),
        None => return Err("the CloudEvent is not valid JSON".to_owned()),
    };
    if !event.contains_key("time") {
        event.insert("time".into(), Value::String(rfc3339_now()));
    }
    if !event.contains_key("traceid") {
        event.insert("traceid".into(), Value::String(input.trace.parent.clone()));
        event.insert(
            "traceparent".into(),
            Value::String(input.trace.parent.clone()),
        );
    }
    if !event.contains_key("tracestate") {
        event.insert(
            "tracestate".into(),
            Value::String(input.trace.state.clone()),
        );
    }
    event.insert("topic".into(), Value::String(input.topic.to_owned()));
    event.insert("pubsubname".into(), Value::String(input.pubsub.to_owned()));
    for (key, default) in [
        ("source", DEFAULT_SOURCE),
        ("type", DEFAULT_TYPE),
        ("specversion", SPEC_VERSION),
    ] {
        if event.get(key).is_none_or(Value::is_null) {
            event.insert(key.into(), Value::String(default.to_owned()));
        }
    }
    Ok(event)
}

/// `NewCloudEventsEnvelope` with the `cloudevent.*` metadata overrides applied first.
fn new_envelope(input: &PublishInput<'_>) -> Map<String, Value> {
    let overrides = Overrides::from_metadata(input.metadata);
    let id = overrides
        .id
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let source = overrides.source.unwrap_or_else(|| input.source.to_owned());
    let source = if source.is_empty() {
        DEFAULT_SOURCE.to_owned()
    } else {
        source
    };
    let event_type = overrides
        .event_type
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| DEFAULT_TYPE.to_owned());
    let content_type = if input.content_type.is_empty() {
        "text/plain".to_owned()
    } else {
        input.content_type.to_owned()
    };
    let trace_id = overrides
        .traceparent
        .filter(|p| !p.is_empty())
        .or(overrides.traceid)
        .unwrap_or_else(|| input.trace.parent.clone());
    let trace_state = overrides
        .tracestate
        .unwrap_or_else(|| input.trace.state.clone());

    let mut event = Map::new();
    event.insert(
        "id".into(),
        Value::String(if id.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            id
        }),
    );
    event.insert("specversion".into(), Value::String(SPEC_VERSION.to_owned()));
    event.insert(
        "datacontenttype".into(),
        Value::String(content_type.clone()),
    );
    event.insert("source".into(), Value::String(source));
    event.insert("type".into(), Value::String(event_type));
    event.insert("topic".into(), Value::String(input.topic.to_owned()));
    event.insert("pubsubname".into(), Value::String(input.pubsub.to_owned()));
    event.insert("traceid".into(), Value::String(trace_id.clone()));
    event.insert("traceparent".into(), Value::String(trace_id));
    event.insert("tracestate".into(), Value::String(trace_state));
    event.insert("time".into(), Value::String(rfc3339_now()));
    if is_json(&content_type) {
        let data = decode_first_json(input.data)
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(input.data).into_owned()));
        event.insert("data".into(), data);
    } else if is_binary(&content_type)
        || is_content_type(&content_type, "application/cloudevents+protobuf")
    {
        // `application/x-protobuf` only counts when the bytes parse as a CloudEvents protobuf;
        // the double never decides that way, so such data is carried as a string below.
        event.insert(
            "data_base64".into(),
            Value::String(BASE64.encode(input.data)),
        );
    } else {
        // Go's `string(bytes)` then `json.Marshal`: invalid UTF-8 becomes U+FFFD.
        event.insert(
            "data".into(),
            Value::String(String::from_utf8_lossy(input.data).into_owned()),
        );
    }
    if let Some(subject) = overrides.subject.filter(|s| !s.is_empty()) {
        event.insert("subject".into(), Value::String(subject));
    }
    event
}

/// Reads the first JSON value like Go's `json.Decoder.Decode` (trailing bytes are ignored).
fn decode_first_json(bytes: &[u8]) -> Option<Value> {
    serde_json::Deserializer::from_slice(bytes)
        .into_iter::<Value>()
        .next()?
        .ok()
}

/// The `cloudevent.*` metadata daprd decodes with mapstructure's `WeakDecode` (keys match
/// case-insensitively).
#[derive(Default)]
struct Overrides {
    id: Option<String>,
    source: Option<String>,
    event_type: Option<String>,
    traceid: Option<String>,
    tracestate: Option<String>,
    traceparent: Option<String>,
    subject: Option<String>,
}

impl Overrides {
    fn from_metadata(metadata: &HashMap<String, String>) -> Self {
        let mut overrides = Self::default();
        for (key, value) in metadata {
            let slot = match key.to_ascii_lowercase().as_str() {
                "cloudevent.id" => &mut overrides.id,
                "cloudevent.source" => &mut overrides.source,
                "cloudevent.type" => &mut overrides.event_type,
                "cloudevent.traceid" => &mut overrides.traceid,
                "cloudevent.tracestate" => &mut overrides.tracestate,
                "cloudevent.traceparent" => &mut overrides.traceparent,
                "cloudevent.subject" => &mut overrides.subject,
                _ => continue,
            };
            *slot = Some(value.clone());
        }
        overrides
    }
}

/// `ApplyMetadata`: `ttlInSeconds` (or `ttl`) adds an `expiration` (Kafka has no native TTL).
fn apply_ttl(envelope: &mut Map<String, Value>, metadata: &HashMap<String, String>) {
    let Some(value) = metadata
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("ttl") || k.eq_ignore_ascii_case("ttlInSeconds"))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
    else {
        return;
    };
    let ttl = parse_go_duration(value).or_else(|| {
        value
            .parse::<u64>()
            .ok()
            .filter(|secs| *secs > 0)
            .map(std::time::Duration::from_secs)
    });
    if let Some(expiration) = ttl.and_then(|ttl| {
        chrono::Utc::now().checked_add_signed(chrono::Duration::from_std(ttl).ok()?)
    }) {
        envelope.insert(
            "expiration".into(),
            Value::String(expiration.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
    }
}

/// `HasExpired`: an `expiration` attribute in the past.
pub(crate) fn has_expired(event: &Map<String, Value>) -> bool {
    event
        .get("expiration")
        .and_then(Value::as_str)
        .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
        .is_some_and(|e| SystemTime::from(e) < SystemTime::now())
}

/// `FromRawPayload`: the envelope a subscriber with `rawPayload: "true"` builds on every
/// delivery (a new id each time).
pub(crate) fn from_raw_payload(data: &[u8], topic: &str, pubsub: &str) -> Map<String, Value> {
    let mut event = Map::new();
    event.insert("id".into(), Value::String(uuid::Uuid::new_v4().to_string()));
    event.insert("specversion".into(), Value::String(SPEC_VERSION.to_owned()));
    event.insert(
        "datacontenttype".into(),
        Value::String("application/octet-stream".to_owned()),
    );
    event.insert("source".into(), Value::String(DEFAULT_SOURCE.to_owned()));
    event.insert("type".into(), Value::String(DEFAULT_TYPE.to_owned()));
    event.insert("topic".into(), Value::String(topic.to_owned()));
    event.insert("pubsubname".into(), Value::String(pubsub.to_owned()));
    event.insert("data_base64".into(), Value::String(BASE64.encode(data)));
    event
}

fn property(event: &Map<String, Value>, key: &str) -> String {
    event
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// `GRPCEnvelopeFromSubscriptionMessage`. An error means daprd fails the attempt without
/// calling the app (it is retried like any other failure).
pub(crate) fn topic_event_request(
    event: &Map<String, Value>,
    topic: &str,
    pubsub: &str,
    path: &str,
) -> Result<TopicEventRequest, String> {
    let data_content_type = property(event, "datacontenttype");
    let data = match event.get("data_base64") {
        Some(Value::String(encoded)) => BASE64.decode(encoded).map_err(|err| {
            format!("unable to base64 decode cloudEvent field data_base64: {err}")
        })?,
        Some(Value::Null) | None => data_bytes(event, &data_content_type)?,
        Some(_) => return Err("unexpected data type encountered in envelope".to_owned()),
    };
    Ok(TopicEventRequest {
        id: property(event, "id"),
        source: property(event, "source"),
        r#type: property(event, "type"),
        spec_version: property(event, "specversion"),
        data_content_type,
        data,
        topic: topic.to_owned(),
        pubsub_name: pubsub.to_owned(),
        path: path.to_owned(),
        extensions: Some(extensions(event)),
    })
}

/// `extractCloudEvent` for bulk delivery: like [`topic_event_request`] but `data_base64` is
/// **ignored**, so binary payloads arrive empty (daprd's real behaviour).
pub(crate) fn bulk_cloud_event(event: &Map<String, Value>) -> Result<TopicEventCeRequest, String> {
    let data_content_type = property(event, "datacontenttype");
    Ok(TopicEventCeRequest {
        id: property(event, "id"),
        source: property(event, "source"),
        r#type: property(event, "type"),
        spec_version: property(event, "specversion"),
        data: data_bytes(event, &data_content_type)?,
        data_content_type,
        extensions: Some(extensions(event)),
    })
}

/// The `data` attribute as bytes: strings for `text/*` and `application/xml`, re-marshalled
/// JSON for `application/json` and `application/cloudevents+json`, nothing otherwise.
fn data_bytes(event: &Map<String, Value>, content_type: &str) -> Result<Vec<u8>, String> {
    match event.get("data") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(data) if is_string(content_type) => match data {
            Value::String(text) => Ok(text.clone().into_bytes()),
            _ => Err("unexpected data type encountered in envelope".to_owned()),
        },
        Some(data) if is_json(content_type) || is_cloud_event(content_type) => Ok(go_json(data)),
        Some(_) => Ok(Vec::new()),
    }
}

/// `json.Marshal` as Go writes it: keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped.
pub(crate) fn go_json(value: &Value) -> Vec<u8> {
    let text = serde_json::to_string(value).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.into_bytes()
}

/// Every attribute except id, source, type, specversion, datacontenttype, data and data_base64.
fn extensions(event: &Map<String, Value>) -> prost_types::Struct {
    const DUPLICATES: [&str; 7] = [
        "id",
        "source",
        "datacontenttype",
        "type",
        "specversion",
        "data",
        "data_base64",
    ];
    prost_types::Struct {
        fields: event
            .iter()
            .filter(|(key, _)| !DUPLICATES.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), to_prost_value(value)))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// A JSON value as a `google.protobuf.Value` (numbers become doubles, as protojson does).
pub(crate) fn to_prost_value(value: &Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(to_prost_value).collect(),
        }),
        Value::Object(map) => Kind::StructValue(prost_types::Struct {
            fields: map
                .iter()
                .map(|(k, v)| (k.clone(), to_prost_value(v)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn publish(content_type: &str, data: &[u8]) -> Result<Map<String, Value>, String> {
        let metadata = HashMap::new();
        let trace = Trace::for_call(None, None);
        new_cloud_event(&PublishInput {
            topic: "tasks",
            pubsub: "kafka-pubsub",
            source: "taskflow",
            data,
            content_type,
            metadata: &metadata,
            trace: &trace,
        })
    }

    #[test]
    fn content_types() {
        assert!(is_json("application/json; charset=utf-8"));
        assert!(!is_json("application/problem+json"));
        assert!(is_cloud_event("Application/CloudEvents+JSON"));
        assert!(is_string("text/plain"));
        assert!(is_string("application/xml"));
        assert!(is_binary("application/octet-stream"));
        assert!(!is_binary("application/protobuf"));
    }

    #[test]
    fn structured_cloud_event_is_kept() -> Result<(), String> {
        let event = publish(
            "application/cloudevents+json",
            br#"{"id":"e1","specversion":"1.0","source":"s","type":"task.created","datacontenttype":"application/protobuf","data_base64":"AAEC","topic":"other"}"#,
        )?;
        assert_eq!(event["id"], "e1");
        assert_eq!(event["topic"], "tasks");
        assert_eq!(event["pubsubname"], "kafka-pubsub");
        assert!(event.contains_key("time"));
        let request = topic_event_request(&event, "tasks", "kafka-pubsub", "")?;
        assert_eq!(request.data, vec![0, 1, 2]);
        assert_eq!(request.data_content_type, "application/protobuf");
        let ext = request.extensions.unwrap_or_default();
        assert!(ext.fields.contains_key("topic"));
        assert!(!ext.fields.contains_key("data_base64"));
        assert!(bulk_cloud_event(&event)?.data.is_empty());
        Ok(())
    }

    #[test]
    fn invalid_cloud_event_is_refused() {
        assert!(publish("application/cloudevents+json", b"{oops").is_err());
        assert!(publish("application/cloudevents+json", b"[1]").is_err());
    }

    #[test]
    fn json_is_wrapped() -> Result<(), String> {
        let event = publish("application/json", br#"{"a":"<b>"}"#)?;
        assert_eq!(event["data"], json!({"a": "<b>"}));
        assert_eq!(event["source"], "taskflow");
        assert_eq!(event["type"], DEFAULT_TYPE);
        let request = topic_event_request(&event, "tasks", "kafka-pubsub", "")?;
        assert_eq!(request.data, br#"{"a":"\u003cb\u003e"}"#.to_vec());
        Ok(())
    }

    #[test]
    fn binary_kinds() -> Result<(), String> {
        let bytes = [0xff, 0x00, 0x10];
        let octet = publish("application/octet-stream", &bytes)?;
        assert_eq!(
            topic_event_request(&octet, "t", "p", "")?.data,
            bytes.to_vec()
        );
        let proto = publish("application/protobuf", &bytes)?;
        assert!(proto.contains_key("data"));
        assert!(topic_event_request(&proto, "t", "p", "")?.data.is_empty());
        let empty = publish("", &bytes)?;
        assert_eq!(empty["datacontenttype"], "text/plain");
        assert_ne!(
            topic_event_request(&empty, "t", "p", "")?.data,
            bytes.to_vec()
        );
        Ok(())
    }

    #[test]
    fn bad_base64_fails_the_attempt() {
        let event = json!({"id": "x", "data_base64": "***"});
        let Value::Object(event) = event else { return };
        assert!(topic_event_request(&event, "t", "p", "").is_err());
    }
}
