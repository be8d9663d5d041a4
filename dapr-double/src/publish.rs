//! `PublishEvent` and `BulkPublishEvent(Alpha1)`, following `dapr:pkg/api/grpc/grpc.go` and the
//! Kafka component's `Publish`/`BulkPublish` (`contrib:common/component/kafka/producer.go`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use dapr::dapr::proto::runtime::v1::{
    BulkPublishRequest, BulkPublishResponse, BulkPublishResponseFailedEntry, PublishEventRequest,
};
use serde_json::Value;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::config::PubsubComponent;
use crate::double::Shared;
use crate::envelope::{PublishInput, Trace, new_cloud_event};
use crate::record::Published;

/// `PublishEvent`: builds the envelope (unless `rawPayload=true`) and stores the message with
/// the request metadata as its Kafka headers.
pub(crate) async fn publish_event(
    shared: Arc<Shared>,
    request: Request<PublishEventRequest>,
) -> Result<Response<()>, Status> {
    let trace = incoming_trace(request.metadata());
    let req = request.into_inner();
    validate(&shared, &req.pubsub_name, &req.topic)?;
    let raw = raw_payload(&req.metadata)?;
    let mut metadata = req.metadata.clone();
    let cloud_event = if raw {
        metadata.insert("traceid".to_owned(), trace.parent.clone());
        metadata.insert("tracestate".to_owned(), trace.state.clone());
        Value::Null
    } else {
        let envelope = new_cloud_event(&PublishInput {
            topic: &req.topic,
            pubsub: &req.pubsub_name,
            source: &shared.config.app_id,
            data: &req.data,
            content_type: &req.data_content_type,
            metadata: &req.metadata,
            trace: &trace,
        })
        .map_err(|err| Status::invalid_argument(format!("cannot create cloudevent: {err}")))?;
        Value::Object(envelope)
    };
    if shared.faults.take_publish_failure() {
        return Err(broker_failure(&req.pubsub_name, &req.topic));
    }
    shared.store(
        Published {
            pubsub_name: req.pubsub_name,
            topic: req.topic,
            data: req.data,
            data_content_type: req.data_content_type,
            metadata,
            bulk: false,
            received_at: Instant::now(),
            cloud_event,
            raw_payload: raw,
            key: None,
            partition: 0,
            offset: 0,
            entry_id: None,
            dead_letter_of: None,
        },
        false,
    );
    Ok(Response::new(()))
}

/// `BulkPublishEvent`/`BulkPublishEventAlpha1`.
///
/// Per-entry metadata, as daprd 1.17 does it (`bulkPublishEvent`, `utils.PopulateMetadataForBulkPublishEntry`,
/// Kafka `BulkPublish`):
/// - the envelope (`cloudevent.*` overrides, `ttlInSeconds`) sees the entry metadata with the
///   request metadata filled in under it — but **only if the entry has metadata of its own**;
///   an entry without metadata gets no request-level overrides or TTL;
/// - the Kafka headers and key then get the request metadata copied **over** the entry's
///   (`maps.Copy(entry.Metadata, metadata)`), so on a conflict the request-level value wins;
/// - each entry's content type is handled like a single publish (`application/cloudevents+json`
///   entries keep the app's own CloudEvent); `rawPayload` is read from the request metadata only;
/// - an empty or repeated `entry_id`, or an entry that is not a valid CloudEvent, fails the whole
///   call with `InvalidArgument` before anything is stored.
pub(crate) async fn bulk_publish_event(
    shared: Arc<Shared>,
    request: Request<BulkPublishRequest>,
) -> Result<Response<BulkPublishResponse>, Status> {
    let trace = incoming_trace(request.metadata());
    let req = request.into_inner();
    validate(&shared, &req.pubsub_name, &req.topic)?;
    let raw = raw_payload(&req.metadata)?;

    let mut seen = HashSet::new();
    let mut prepared = Vec::with_capacity(req.entries.len());
    for entry in req.entries {
        if entry.entry_id.is_empty() || !seen.insert(entry.entry_id.clone()) {
            return Err(Status::invalid_argument(format!(
                "error when marshaling events for topic {}: entryId is duplicated or not present for entry",
                req.topic
            )));
        }
        let entry_metadata = if entry.metadata.is_empty() {
            HashMap::new()
        } else {
            let mut merged = req.metadata.clone();
            merged.extend(entry.metadata.clone());
            merged
        };
        let cloud_event = if raw {
            Value::Null
        } else {
            let envelope = new_cloud_event(&PublishInput {
                topic: &req.topic,
                pubsub: &req.pubsub_name,
                source: &shared.config.app_id,
                data: &entry.event,
                content_type: &entry.content_type,
                metadata: &entry_metadata,
                trace: &trace,
            })
            .map_err(|err| Status::invalid_argument(format!("cannot create cloudevent: {err}")))?;
            Value::Object(envelope)
        };
        let mut kafka_metadata = entry_metadata;
        kafka_metadata.extend(req.metadata.clone());
        prepared.push(Published {
            pubsub_name: req.pubsub_name.clone(),
            topic: req.topic.clone(),
            data: entry.event,
            data_content_type: entry.content_type,
            metadata: kafka_metadata,
            bulk: true,
            received_at: Instant::now(),
            cloud_event,
            raw_payload: raw,
            key: None,
            partition: 0,
            offset: 0,
            entry_id: Some(entry.entry_id),
            dead_letter_of: None,
        });
    }

    if shared.faults.take_publish_failure() {
        return Err(broker_failure(&req.pubsub_name, &req.topic));
    }
    let mut failed_entries = Vec::new();
    for message in prepared {
        if shared.faults.take_bulk_entry_failure() {
            failed_entries.push(BulkPublishResponseFailedEntry {
                entry_id: message.entry_id.unwrap_or_default(),
                error: "kafka: failed to produce message (fault injected)".to_owned(),
            });
        } else {
            shared.store(message, false);
        }
    }
    // Kafka's `BulkPublish` returns an error for any failed message
    // (`contrib:common/component/kafka/producer.go`), and daprd's `bulkPublishEvent`
    // (`pkg/api/grpc/grpc.go`) then answers `PublishMessage`'s `Internal`
    // (`pkg/api/errors/pubsub.go`) with no `failed_entries`, although the other entries were
    // written.
    if !failed_entries.is_empty() && shared.config.pubsub_component == PubsubComponent::Kafka {
        return Err(broker_failure(&req.pubsub_name, &req.topic));
    }
    Ok(Response::new(BulkPublishResponse { failed_entries }))
}

fn validate(shared: &Shared, pubsub_name: &str, topic: &str) -> Result<(), Status> {
    if pubsub_name.is_empty() {
        return Err(Status::invalid_argument("pubsub name is empty"));
    }
    if pubsub_name != shared.config.pubsub_name {
        return Err(Status::invalid_argument(format!(
            "pubsub {pubsub_name} is not found"
        )));
    }
    if topic.is_empty() {
        return Err(Status::invalid_argument(format!(
            "topic is empty in pubsub {pubsub_name}"
        )));
    }
    Ok(())
}

/// `rawPayload` (exact key), parsed like Go's `strconv.ParseBool`.
pub(crate) fn raw_payload(metadata: &HashMap<String, String>) -> Result<bool, Status> {
    match metadata.get("rawPayload").map(String::as_str) {
        None | Some("") => Ok(false),
        Some(value) => parse_go_bool(value).ok_or_else(|| {
            Status::invalid_argument(format!(
                "rawPayload value must be a valid boolean: actual is '{value}'"
            ))
        }),
    }
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn broker_failure(pubsub: &str, topic: &str) -> Status {
    Status::internal(format!(
        "error when publishing to topic {topic} in pubsub {pubsub}: kafka: failed to produce message (fault injected)"
    ))
}

fn incoming_trace(metadata: &MetadataMap) -> Trace {
    let get = |key: &str| metadata.get(key).and_then(|v| v.to_str().ok());
    Trace::for_call(get("traceparent"), get("tracestate"))
}
