//! Publishing: envelopes, content types, bulk metadata, validation.

use std::collections::HashMap;
use std::time::Duration;

use dapr::dapr::proto::runtime::v1::{
    BulkPublishRequest, BulkPublishRequestEntry, GetStateRequest,
};
use dapr_double::{DEFAULT_TYPE, Outcome};
use serde_json::json;
use tonic::Code;

use crate::app::{AppOptions, WAIT, subscription};
use crate::{client, fast, publish_request, start, task_event};

const BYTES: [u8; 6] = [0x0a, 0x03, 0xff, 0x00, 0xc3, 0x28];

#[tokio::test]
async fn structured_cloud_event_arrives_with_exact_bytes_and_content_type() {
    let options = AppOptions {
        subscriptions: vec![subscription("tasks", None)],
        ..Default::default()
    };
    let (double, app) = start(fast(), options).await;
    let mut client = client(&double).await;

    client
        .publish_event(publish_request(
            "tasks",
            "application/cloudevents+json",
            task_event("evt-1", &BYTES),
            &[("partitionKey", "alice")],
        ))
        .await
        .expect("publish");

    let published = double.wait_for_published(1, WAIT).await.expect("stored");
    let stored = &published[0];
    assert_eq!(stored.key.as_deref(), Some("alice"));
    assert!(!stored.bulk);
    assert_eq!(stored.event_id(), Some("evt-1"));
    assert_eq!(stored.cloud_event["topic"], "tasks");
    assert_eq!(stored.cloud_event["pubsubname"], "kafka-pubsub");
    assert_eq!(stored.cloud_event["type"], "task.created");
    assert!(stored.cloud_event["time"].is_string(), "daprd adds time");

    let events = app.state.topic_events.wait_for(1).await;
    let event = &events[0];
    assert_eq!(event.request.data, BYTES.to_vec());
    assert_eq!(event.request.data_content_type, "application/protobuf");
    assert_eq!(event.request.id, "evt-1");
    assert_eq!(event.request.r#type, "task.created");
    assert_eq!(event.request.topic, "tasks");
    assert_eq!(event.request.pubsub_name, "kafka-pubsub");
    assert_eq!(event.request.path, "");
    let extensions = event.request.extensions.clone().unwrap_or_default().fields;
    for attribute in [
        "subject",
        "dataschema",
        "partitionkey",
        "topic",
        "pubsubname",
        "time",
    ] {
        assert!(
            extensions.contains_key(attribute),
            "extension {attribute} missing: {extensions:?}"
        );
    }
    assert!(!extensions.contains_key("data_base64"));
    assert_eq!(
        event.metadata.get("partitionkey").map(String::as_str),
        Some("alice")
    );
    assert_eq!(
        event.metadata.get("__key").map(String::as_str),
        Some("alice")
    );
    assert_eq!(
        event.metadata.get("__topic").map(String::as_str),
        Some("tasks")
    );
    assert_eq!(
        stored.partition, 5,
        "sarama's hash partitioner over 6 partitions"
    );
    assert_eq!(
        event.metadata.get("__partition").map(String::as_str),
        Some("5")
    );
    assert_eq!(
        event.metadata.get("__offset").map(String::as_str),
        Some("0")
    );
    assert_eq!(
        event.metadata.get("pubsubname").map(String::as_str),
        Some("kafka-pubsub")
    );
    assert!(event.metadata.contains_key("__timestamp"));
    assert_eq!(event.token(), None);

    let deliveries = double
        .wait_for_deliveries(1, WAIT)
        .await
        .expect("delivered");
    assert_eq!(deliveries[0].outcome, Outcome::Acked);
    assert_eq!(deliveries[0].attempts, 1);
    assert_eq!(deliveries[0].event_id, "evt-1");
}

#[tokio::test]
async fn request_content_types_decide_what_the_app_gets() {
    let options = AppOptions {
        subscriptions: vec![subscription("tasks", None)],
        ..Default::default()
    };
    let (double, app) = start(fast(), options).await;
    let mut client = client(&double).await;
    for content_type in [
        "application/protobuf",
        "application/octet-stream",
        "",
        "application/json",
    ] {
        let data = if content_type == "application/json" {
            br#"{"title":"<milk>"}"#.to_vec()
        } else {
            BYTES.to_vec()
        };
        client
            .publish_event(publish_request(
                "tasks",
                content_type,
                data,
                &[("partitionKey", "alice")],
            ))
            .await
            .expect("publish");
    }
    // One key, so one partition: delivered in publishing order.
    let events = app.state.topic_events.wait_for(4).await;
    let published = double.published();

    // application/protobuf: the envelope holds a corrupted string, the app gets nothing.
    assert!(published[0].cloud_event["data"].is_string());
    assert_eq!(events[0].request.data_content_type, "application/protobuf");
    assert!(events[0].request.data.is_empty());
    // application/octet-stream: data_base64, exact bytes, but the content type is generic.
    assert!(published[1].cloud_event["data_base64"].is_string());
    assert_eq!(events[1].request.data, BYTES.to_vec());
    assert_eq!(
        events[1].request.data_content_type,
        "application/octet-stream"
    );
    // No content type: text/plain, UTF-8-corrupted bytes.
    assert_eq!(events[2].request.data_content_type, "text/plain");
    assert_ne!(events[2].request.data, BYTES.to_vec());
    assert_eq!(
        events[2].request.data,
        String::from_utf8_lossy(&BYTES).as_bytes()
    );
    // application/json: wrapped by daprd with a new id, source = app id, re-marshalled as Go does.
    assert_eq!(published[3].cloud_event["data"], json!({"title": "<milk>"}));
    assert_eq!(events[3].request.source, "taskflow");
    assert_eq!(events[3].request.r#type, DEFAULT_TYPE);
    assert_eq!(events[3].request.spec_version, "1.0");
    assert!(!events[3].request.id.is_empty());
    assert_eq!(
        events[3].request.data,
        br#"{"title":"\u003cmilk\u003e"}"#.to_vec()
    );
}

#[tokio::test]
async fn invalid_requests_are_refused_and_not_stored() {
    let (double, _app) = start(fast(), AppOptions::default()).await;
    let mut client = client(&double).await;

    let bad_json = publish_request(
        "tasks",
        "application/cloudevents+json",
        b"{not json".to_vec(),
        &[],
    );
    let status = client
        .publish_event(bad_json)
        .await
        .expect_err("invalid CloudEvent");
    assert_eq!(status.code(), Code::InvalidArgument);

    let mut wrong_pubsub = publish_request("tasks", "application/json", b"{}".to_vec(), &[]);
    wrong_pubsub.pubsub_name = "pubsub".to_owned();
    let status = client
        .publish_event(wrong_pubsub)
        .await
        .expect_err("unknown pubsub");
    assert_eq!(status.code(), Code::InvalidArgument);

    let no_topic = publish_request("", "application/json", b"{}".to_vec(), &[]);
    let status = client.publish_event(no_topic).await.expect_err("no topic");
    assert_eq!(status.code(), Code::InvalidArgument);

    let bad_raw = publish_request(
        "tasks",
        "application/json",
        b"{}".to_vec(),
        &[("rawPayload", "yes")],
    );
    let status = client
        .publish_event(bad_raw)
        .await
        .expect_err("bad rawPayload");
    assert_eq!(status.code(), Code::InvalidArgument);

    let status = client
        .get_state(GetStateRequest::default())
        .await
        .expect_err("not implemented by the double");
    assert_eq!(status.code(), Code::Unimplemented);

    assert!(double.published().is_empty());
    let timeout = double
        .wait_for_published(1, Duration::from_millis(20))
        .await
        .expect_err("nothing was stored");
    assert_eq!(timeout.wanted, 1);
    assert!(timeout.got.is_empty());
}

fn entry(
    id: &str,
    content_type: &str,
    event: Vec<u8>,
    metadata: &[(&str, &str)],
) -> BulkPublishRequestEntry {
    BulkPublishRequestEntry {
        entry_id: id.to_owned(),
        event,
        content_type: content_type.to_owned(),
        metadata: metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

#[tokio::test]
async fn bulk_publish_follows_daprd_metadata_rules() {
    let (double, _app) = start(fast(), AppOptions::default()).await;
    let mut client = client(&double).await;
    let request = BulkPublishRequest {
        pubsub_name: "kafka-pubsub".to_owned(),
        topic: "tasks".to_owned(),
        entries: vec![
            entry(
                "a",
                "application/json",
                b"{}".to_vec(),
                &[("partitionKey", "entry"), ("extra", "x")],
            ),
            entry("b", "application/json", b"{}".to_vec(), &[]),
            entry(
                "c",
                "application/cloudevents+json",
                task_event("evt-c", &BYTES),
                &[("note", "n")],
            ),
        ],
        metadata: HashMap::from([
            ("partitionKey".to_owned(), "request".to_owned()),
            ("cloudevent.type".to_owned(), "overridden".to_owned()),
        ]),
    };
    let response = client
        .bulk_publish_event(request)
        .await
        .expect("bulk publish")
        .into_inner();
    assert!(response.failed_entries.is_empty());

    let published = double.wait_for_published(3, WAIT).await.expect("stored");
    assert!(published.iter().all(|p| p.bulk));
    let a = &published[0];
    // Kafka copies the request metadata over the entry's: the request's key wins.
    assert_eq!(a.key.as_deref(), Some("request"));
    assert_eq!(a.metadata.get("extra").map(String::as_str), Some("x"));
    // The envelope saw the merged metadata: the request-level override applies…
    assert_eq!(a.cloud_event["type"], "overridden");
    // …but not to an entry without metadata of its own.
    let b = &published[1];
    assert_eq!(b.cloud_event["type"], DEFAULT_TYPE);
    assert_eq!(b.key.as_deref(), Some("request"));
    // A cloudevents+json entry keeps the app's own CloudEvent (overrides ignored).
    let c = &published[2];
    assert_eq!(c.event_id(), Some("evt-c"));
    assert_eq!(c.cloud_event["type"], "task.created");
    assert_eq!(c.entry_id.as_deref(), Some("c"));

    // Missing or repeated entry ids fail the whole call.
    let duplicate = BulkPublishRequest {
        pubsub_name: "kafka-pubsub".to_owned(),
        topic: "tasks".to_owned(),
        entries: vec![
            entry("x", "application/json", b"{}".to_vec(), &[]),
            entry("x", "application/json", b"{}".to_vec(), &[]),
        ],
        metadata: HashMap::new(),
    };
    let status = client
        .bulk_publish_event(duplicate)
        .await
        .expect_err("duplicate ids");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(double.published().len(), 3);
}
