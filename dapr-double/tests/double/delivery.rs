//! Delivery: answers, retries, dead letters, ordering, subscriptions, tokens, bulk, health.

use std::collections::HashMap;

use dapr::dapr::proto::runtime::v1::topic_event_bulk_request_entry::Event;
use dapr::dapr::proto::runtime::v1::topic_event_response::TopicEventResponseStatus::{Drop, Retry};
use dapr::dapr::proto::runtime::v1::{TopicRoutes, TopicRule, TopicSubscription};
use dapr_double::{AppAnswer, DaprDoubleConfig, DoubleError, Outcome};
use serde_json::json;
use tonic::Code;
use tonic::metadata::MetadataValue;

use crate::app::{Answer, AppOptions, WAIT, subscription};
use crate::{client, fast, publish_request, start, task_event};

fn with_dead_letter() -> AppOptions {
    AppOptions {
        subscriptions: vec![
            subscription("tasks", Some("tasks-dlq")),
            subscription("tasks-dlq", None),
            subscription("plain", None),
        ],
        ..Default::default()
    }
}

async fn publish_task(double: &dapr_double::DaprDouble, topic: &str, id: &str) {
    client(double)
        .await
        .publish_event(publish_request(
            topic,
            "application/cloudevents+json",
            task_event(id, b"\x0a\x01x"),
            &[("partitionKey", "alice")],
        ))
        .await
        .expect("publish");
}

#[tokio::test]
async fn retry_then_success_takes_two_attempts() {
    let (double, app) = start(fast(), with_dead_letter()).await;
    app.answer([Answer::Status(Retry)]);
    publish_task(&double, "tasks", "evt-1").await;

    let deliveries = double
        .wait_for_deliveries(1, WAIT)
        .await
        .expect("delivered");
    assert_eq!(deliveries[0].outcome, Outcome::Acked);
    assert_eq!(deliveries[0].attempts, 2);
    let events = app.state.topic_events.all();
    assert_eq!(events.len(), 2);
    assert!(
        events.iter().all(|e| e.request.id == "evt-1"),
        "the id stays across redeliveries"
    );
    assert_eq!(double.published().len(), 1, "no dead letter");
}

#[tokio::test]
async fn drop_goes_to_the_dead_letter_topic_and_is_delivered_there() {
    let (double, app) = start(fast(), with_dead_letter()).await;
    app.answer([Answer::Status(Drop)]);
    publish_task(&double, "tasks", "evt-1").await;

    let deliveries = double
        .wait_for_deliveries(2, WAIT)
        .await
        .expect("delivered twice");
    assert_eq!(deliveries[0].topic, "tasks");
    assert_eq!(deliveries[0].outcome, Outcome::DeadLettered);
    assert_eq!(deliveries[0].attempts, 1);
    assert_eq!(
        deliveries[0].dead_letter_topic.as_deref(),
        Some("tasks-dlq")
    );
    assert_eq!(deliveries[0].last_status, Some(AppAnswer::Status(Drop)));
    assert_eq!(deliveries[1].topic, "tasks-dlq");
    assert_eq!(deliveries[1].outcome, Outcome::Acked);

    let published = double.published();
    assert_eq!(published.len(), 2);
    let copy = &published[1];
    assert_eq!(copy.topic, "tasks-dlq");
    assert_eq!(copy.dead_letter_of.as_deref(), Some("tasks"));
    assert_eq!(
        copy.key.as_deref(),
        Some("alice"),
        "__key keeps the partition key"
    );
    assert_eq!(copy.event_id(), Some("evt-1"));

    let events = app.state.topic_events.all();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].request.topic, "tasks-dlq");
    assert_eq!(events[1].request.id, "evt-1");
    assert_eq!(events[1].request.data, b"\x0a\x01x".to_vec());
    assert_eq!(events[1].request.data_content_type, "application/protobuf");
    assert_eq!(
        events[1].metadata.get("__key").map(String::as_str),
        Some("alice")
    );
}

#[tokio::test]
async fn exhausted_retries_go_to_the_dead_letter_topic_or_give_up() {
    let (double, app) = start(fast(), with_dead_letter()).await;
    app.answer([Answer::Status(Retry); 4]);
    publish_task(&double, "tasks", "evt-1").await;
    let deliveries = double
        .wait_for_deliveries(2, WAIT)
        .await
        .expect("delivered twice");
    assert_eq!(deliveries[0].attempts, 4, "maxRetries 3 means 4 attempts");
    assert_eq!(deliveries[0].outcome, Outcome::DeadLettered);
    assert_eq!(deliveries[1].topic, "tasks-dlq");
    assert_eq!(deliveries[1].outcome, Outcome::Acked);

    // Without a dead-letter topic daprd hands the message back to Kafka, which hands it to
    // daprd again after its back-off (and the policy applies again): the app answers SUCCESS
    // by then.
    app.answer([Answer::Error(Code::Internal); 4]);
    publish_task(&double, "plain", "evt-2").await;
    let deliveries = double
        .wait_for_deliveries(4, WAIT)
        .await
        .expect("third and fourth delivery");
    assert_eq!(deliveries[2].outcome, Outcome::GaveUp);
    assert_eq!(deliveries[2].attempts, 4);
    assert!(matches!(
        deliveries[2].last_status,
        Some(AppAnswer::Grpc {
            code: Code::Internal,
            ..
        })
    ));
    assert_eq!(deliveries[3].event_id, "evt-2");
    assert_eq!(deliveries[3].redelivery, 1);
    assert_eq!(deliveries[3].outcome, Outcome::Acked);
}

#[tokio::test]
async fn unimplemented_is_acknowledged_without_dead_letter() {
    let (double, app) = start(fast(), with_dead_letter()).await;
    app.answer([Answer::Error(Code::Unimplemented)]);
    publish_task(&double, "tasks", "evt-1").await;
    let deliveries = double
        .wait_for_deliveries(1, WAIT)
        .await
        .expect("delivered");
    assert_eq!(deliveries[0].outcome, Outcome::Acked);
    assert_eq!(deliveries[0].attempts, 1);
    assert!(matches!(
        deliveries[0].last_status,
        Some(AppAnswer::Grpc {
            code: Code::Unimplemented,
            ..
        })
    ));
    assert_eq!(
        double.published().len(),
        1,
        "nothing went to the dead-letter topic"
    );
    assert_eq!(app.state.topic_events.len(), 1);
}

#[tokio::test]
async fn drop_without_dead_letter_is_dropped() {
    let (double, app) = start(fast(), with_dead_letter()).await;
    app.answer([Answer::Status(Drop)]);
    publish_task(&double, "plain", "evt-1").await;
    let deliveries = double
        .wait_for_deliveries(1, WAIT)
        .await
        .expect("delivered");
    assert_eq!(deliveries[0].outcome, Outcome::Dropped);
    assert_eq!(double.published().len(), 1);
}

#[tokio::test]
async fn order_is_kept_per_key_across_retries() {
    let (double, app) = start(fast(), with_dead_letter()).await;
    app.answer([Answer::Status(Retry), Answer::Status(Retry)]);
    for i in 1..=5 {
        publish_task(&double, "plain", &format!("evt-{i}")).await;
    }
    double
        .wait_for_deliveries(5, WAIT)
        .await
        .expect("all delivered");
    let ids: Vec<String> = app
        .state
        .topic_events
        .all()
        .into_iter()
        .map(|e| e.request.id)
        .collect();
    assert_eq!(
        ids,
        [
            "evt-1", "evt-1", "evt-1", "evt-2", "evt-3", "evt-4", "evt-5"
        ]
    );
    let offsets: Vec<String> = app.state.topic_events.all()[2..]
        .iter()
        .map(|e| e.metadata.get("__offset").cloned().unwrap_or_default())
        .collect();
    assert_eq!(offsets, ["0", "1", "2", "3", "4"]);
    // The count agrees with the records, and a clear forgets both.
    assert_eq!(double.delivery_count(), double.deliveries().len());
    assert!(double.delivery_count() >= 5);
    double.clear();
    assert_eq!(double.delivery_count(), 0);
    assert!(double.deliveries().is_empty());
}

#[tokio::test]
async fn list_topic_subscriptions_is_asked_once_per_start() {
    let (double, app) = start(fast(), with_dead_letter()).await;
    for i in 1..=3 {
        publish_task(&double, "plain", &format!("evt-{i}")).await;
    }
    let first = double.subscriptions().await.expect("subscriptions");
    let second = double.subscriptions().await.expect("subscriptions");
    assert_eq!(first, second);
    assert_eq!(first.len(), 3);
    double
        .wait_for_deliveries(3, WAIT)
        .await
        .expect("delivered");
    assert_eq!(app.state.list_calls.len(), 1);

    // A changed answer is not seen until daprd restarts.
    app.state.subscriptions.lock().expect("lock").clear();
    publish_task(&double, "plain", "evt-4").await;
    double
        .wait_for_deliveries(4, WAIT)
        .await
        .expect("still subscribed");
    assert_eq!(app.state.list_calls.len(), 1);

    double.stop().await;
    double.restart().await.expect("restart");
    assert!(
        double
            .subscriptions()
            .await
            .expect("subscriptions")
            .is_empty()
    );
    assert_eq!(app.state.list_calls.len(), 2);
}

#[tokio::test]
async fn routes_set_the_path_and_unmatched_events_are_dead_lettered() {
    let routed = TopicSubscription {
        routes: Some(TopicRoutes {
            rules: vec![TopicRule {
                r#match: r#"event.type == "task.created""#.to_owned(),
                path: "created".to_owned(),
            }],
            default: String::new(),
        }),
        ..subscription("tasks", Some("tasks-dlq"))
    };
    let options = AppOptions {
        subscriptions: vec![routed, subscription("tasks-dlq", None)],
        ..Default::default()
    };
    let (double, app) = start(fast(), options).await;
    publish_task(&double, "tasks", "evt-1").await;
    client(&double)
        .await
        .publish_event(publish_request(
            "tasks",
            "application/json",
            b"{}".to_vec(),
            &[("partitionKey", "alice")],
        ))
        .await
        .expect("publish");
    let deliveries = double
        .wait_for_deliveries(3, WAIT)
        .await
        .expect("delivered");
    assert_eq!(deliveries[0].path, "created");
    assert_eq!(deliveries[0].outcome, Outcome::Acked);
    assert_eq!(
        deliveries[1].outcome,
        Outcome::DeadLettered,
        "no route matches com.dapr.event.sent"
    );
    assert_eq!(deliveries[1].attempts, 0);
    assert_eq!(deliveries[2].topic, "tasks-dlq");
    assert_eq!(app.state.topic_events.all()[0].request.path, "created");
}

#[tokio::test]
async fn malformed_envelopes_from_deliver_raw() {
    let (double, app) = start(fast(), with_dead_letter()).await;

    // Not JSON: daprd cannot decode it, so it goes straight to the dead-letter topic.
    let delivery = double
        .deliver_raw("tasks", "{oops", HashMap::new())
        .await
        .expect("deliver");
    assert_eq!(delivery.outcome, Outcome::DeadLettered);
    assert_eq!(delivery.attempts, 0);

    // A bad data_base64 fails every attempt before the app is called.
    let bad = json!({"id": "bad", "specversion": "1.0", "datacontenttype": "application/protobuf", "data_base64": "!!"});
    let delivery = double
        .deliver_raw(
            "plain",
            bad.to_string(),
            HashMap::from([("partitionKey".to_owned(), "bob".to_owned())]),
        )
        .await
        .expect("deliver");
    assert_eq!(delivery.outcome, Outcome::GaveUp);
    assert_eq!(delivery.attempts, 4);
    assert!(matches!(delivery.last_status, Some(AppAnswer::NotSent(_))));
    assert_eq!(delivery.key.as_deref(), Some("bob"));

    // A hand-made envelope the app drops goes through the same dead-letter routing.
    app.answer([Answer::Status(Drop)]);
    let fine = json!({"id": "h1", "specversion": "1.0", "source": "test", "type": "t", "datacontenttype": "text/plain", "data": "hi"});
    let delivery = double
        .deliver_raw("tasks", fine.to_string(), HashMap::new())
        .await
        .expect("deliver");
    assert_eq!(delivery.outcome, Outcome::DeadLettered);
    let events = app.state.topic_events.wait_for(2).await;
    assert!(events.iter().all(|e| e.request.id == "h1"));
    assert_eq!(events[0].request.topic, "tasks");
    assert_eq!(events[1].request.topic, "tasks-dlq");
    assert_eq!(events[1].request.data, b"hi".to_vec());
    // tasks: {oops, the undecodable copy on tasks-dlq, plain: bad, tasks: h1, tasks-dlq: h1.
    let deliveries = double
        .wait_for_deliveries(5, WAIT)
        .await
        .expect("all recorded");
    assert!(
        deliveries
            .iter()
            .any(|d| d.topic == "tasks-dlq" && d.event_id == "h1" && d.outcome == Outcome::Acked)
    );
    assert!(
        deliveries
            .iter()
            .any(|d| d.topic == "tasks-dlq" && d.outcome == Outcome::GaveUp)
    );

    assert!(matches!(
        double.deliver_raw("unknown", "{}", HashMap::new()).await,
        Err(DoubleError::NotSubscribed(_))
    ));
}

#[tokio::test]
async fn app_tokens_go_on_deliveries_but_not_on_discovery_or_health() {
    let config = DaprDoubleConfig {
        dapr_api_token: Some("dapr-secret".to_owned()),
        app_api_token: Some("app-secret".to_owned()),
        ..fast()
    };
    let options = AppOptions {
        required_token: Some("app-secret".to_owned()),
        ..with_dead_letter()
    };
    let (double, app) = start(config, options).await;
    let mut client = client(&double).await;

    // App → double: without the token the call is refused.
    let request = publish_request(
        "plain",
        "application/cloudevents+json",
        task_event("e", b"x"),
        &[],
    );
    let status = client
        .publish_event(request.clone())
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    let mut wrong = tonic::Request::new(request.clone());
    wrong
        .metadata_mut()
        .insert("dapr-api-token", MetadataValue::from_static("nope"));
    assert_eq!(
        client
            .publish_event(wrong)
            .await
            .expect_err("wrong token")
            .code(),
        Code::Unauthenticated
    );
    let mut right = tonic::Request::new(request);
    right
        .metadata_mut()
        .insert("dapr-api-token", MetadataValue::from_static("dapr-secret"));
    client.publish_event(right).await.expect("with the token");

    // Double → app: the token on OnTopicEvent, never on ListTopicSubscriptions or HealthCheck.
    let deliveries = double
        .wait_for_deliveries(1, WAIT)
        .await
        .expect("delivered");
    assert_eq!(deliveries[0].outcome, Outcome::Acked);
    assert_eq!(app.state.topic_events.all()[0].token(), Some("app-secret"));
    assert_eq!(app.state.list_calls.all()[0].token(), None);
    double.health_check().await.expect("healthy");
    assert_eq!(app.state.health_checks.all()[0].token(), None);
}

#[tokio::test]
async fn bulk_delivery_ignores_data_base64_and_falls_back_to_alpha() {
    for stable_unimplemented in [false, true] {
        let options = AppOptions {
            stable_unimplemented,
            ..with_dead_letter()
        };
        let (double, app) = start(fast(), options).await;
        let binary = serde_json::from_slice::<serde_json::Value>(&task_event("b1", b"\x01\x02"))
            .expect("json");
        let text = json!({"id": "b2", "specversion": "1.0", "datacontenttype": "text/plain", "data": "hello"});
        let result = double
            .deliver_bulk("tasks", &[binary, text])
            .await
            .expect("bulk");
        let expected_rpc = if stable_unimplemented {
            "OnBulkTopicEventAlpha1"
        } else {
            "OnBulkTopicEvent"
        };
        assert_eq!(result.method, expected_rpc);
        assert_eq!(result.statuses, [("0".to_owned(), 0), ("1".to_owned(), 0)]);

        let calls = app.state.bulk_events.wait_for(1).await;
        let (rpc, request) = &calls[0].request;
        assert_eq!(*rpc, expected_rpc);
        assert_eq!(request.r#type, "com.dapr.event.sent.bulk");
        assert_eq!(request.entries.len(), 2);
        let Some(Event::CloudEvent(first)) = &request.entries[0].event else {
            panic!("a cloud event entry");
        };
        assert_eq!(first.id, "b1");
        assert_eq!(first.data_content_type, "application/protobuf");
        assert!(first.data.is_empty(), "bulk delivery drops data_base64");
        let Some(Event::CloudEvent(second)) = &request.entries[1].event else {
            panic!("a cloud event entry");
        };
        assert_eq!(second.data, b"hello".to_vec());
    }
}

#[tokio::test]
async fn raw_payload_needs_raw_payload_on_both_sides() {
    let raw_subscription = TopicSubscription {
        metadata: HashMap::from([("rawPayload".to_owned(), "true".to_owned())]),
        ..subscription("raw", None)
    };
    let options = AppOptions {
        subscriptions: vec![raw_subscription, subscription("plain", None)],
        ..Default::default()
    };
    let (double, app) = start(fast(), options).await;
    let mut client = client(&double).await;
    let bytes = vec![0xff, 0x00, 0x01];
    for topic in ["raw", "plain"] {
        client
            .publish_event(publish_request(
                topic,
                "application/protobuf",
                bytes.clone(),
                &[("rawPayload", "true")],
            ))
            .await
            .expect("publish");
    }
    let published = double.wait_for_published(2, WAIT).await.expect("stored");
    assert!(published[0].raw_payload);
    assert!(published[0].cloud_event.is_null());
    assert_eq!(published[0].kafka_value(), bytes);

    let deliveries = double
        .wait_for_deliveries(2, WAIT)
        .await
        .expect("delivered");
    let raw = deliveries
        .iter()
        .find(|d| d.topic == "raw")
        .expect("raw delivery");
    assert_eq!(raw.outcome, Outcome::Acked);
    let plain = deliveries
        .iter()
        .find(|d| d.topic == "plain")
        .expect("plain delivery");
    assert_eq!(
        plain.outcome,
        Outcome::GaveUp,
        "a subscriber without rawPayload cannot decode it"
    );
    assert_eq!(plain.attempts, 0);

    let events = app.state.topic_events.all();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].request.data, bytes);
    assert_eq!(
        events[0].request.data_content_type,
        "application/octet-stream"
    );
    assert_eq!(events[0].request.source, "Dapr");
}

#[tokio::test]
async fn escaped_headers_and_expired_events() {
    let (double, app) = start(fast(), with_dead_letter()).await;
    client(&double)
        .await
        .publish_event(publish_request(
            "plain",
            "application/cloudevents+json",
            task_event("evt-1", b"x"),
            &[("partitionKey", "alice@example.com")],
        ))
        .await
        .expect("publish");
    let events = app.state.topic_events.wait_for(1).await;
    assert_eq!(
        double.published()[0].key.as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(
        events[0].metadata.get("__key").map(String::as_str),
        Some("alice%40example.com")
    );
    assert_eq!(
        events[0].metadata.get("partitionkey").map(String::as_str),
        Some("alice%40example.com")
    );

    let expired = json!({"id": "old", "specversion": "1.0", "expiration": "2000-01-01T00:00:00Z"});
    let delivery = double
        .deliver_raw("plain", expired.to_string(), HashMap::new())
        .await
        .expect("deliver");
    assert_eq!(delivery.outcome, Outcome::Dropped);
    assert_eq!(delivery.attempts, 0);
    let delivery = double
        .deliver_raw("tasks", expired.to_string(), HashMap::new())
        .await
        .expect("deliver");
    assert_eq!(delivery.outcome, Outcome::DeadLettered);
}

#[tokio::test]
async fn auto_delivery_can_be_switched_off() {
    let (double, app) = start(fast(), with_dead_letter()).await;
    double.set_auto_deliver(false);
    publish_task(&double, "plain", "while-off").await;
    double.set_auto_deliver(true);
    publish_task(&double, "plain", "while-on").await;
    // Same topic and key, so had the first been queued it would have been delivered first.
    let deliveries = double
        .wait_for_deliveries(1, WAIT)
        .await
        .expect("delivered");
    assert_eq!(deliveries[0].event_id, "while-on");
    assert_eq!(app.state.topic_events.all()[0].request.id, "while-on");
    assert_eq!(double.published().len(), 2);
}
