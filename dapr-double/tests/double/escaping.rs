//! `escapeHeaders: "true"`: the Kafka key and every header value reach the app
//! `url.QueryEscape`d, also on a dead-letter topic (where they are escaped once more).

use dapr::dapr::proto::runtime::v1::topic_event_response::TopicEventResponseStatus::Drop;
use dapr_double::{AppAnswer, DaprDoubleConfig, Outcome};
use tonic::Code;

use crate::app::{Answer, AppOptions, WAIT, subscription};
use crate::{client, fast, publish_request, start, task_event};

fn options() -> AppOptions {
    AppOptions {
        subscriptions: vec![
            subscription("tasks", Some("tasks-dlq")),
            subscription("tasks-dlq", None),
        ],
        ..Default::default()
    }
}

async fn publish(double: &dapr_double::DaprDouble, key: &str, note: &str) {
    client(double)
        .await
        .publish_event(publish_request(
            "tasks",
            "application/cloudevents+json",
            task_event("evt-1", b"x"),
            &[("partitionKey", key), ("note", note)],
        ))
        .await
        .expect("publish");
}

#[tokio::test]
async fn the_key_and_headers_arrive_query_escaped_and_again_on_the_dead_letter_topic() {
    assert!(DaprDoubleConfig::default().escape_headers);
    let (double, app) = start(fast(), options()).await;
    app.answer([Answer::Status(Drop)]);
    publish(&double, "alice@example.com", "a b/c~é").await;

    let events = app.state.topic_events.wait_for(2).await;
    let first = &events[0].metadata;
    assert_eq!(
        first.get("__key").map(String::as_str),
        Some("alice%40example.com")
    );
    assert_eq!(
        first.get("partitionkey").map(String::as_str),
        Some("alice%40example.com")
    );
    assert_eq!(
        first.get("note").map(String::as_str),
        Some("a+b%2Fc~%C3%A9")
    );
    assert_eq!(
        double.published()[0].key.as_deref(),
        Some("alice@example.com")
    );

    // The dead-letter copy is published with the escaped metadata, so its Kafka key is the
    // escaped text, which is escaped again when it is consumed.
    let copy = &double.published()[1];
    assert_eq!(copy.topic, "tasks-dlq");
    assert_eq!(copy.key.as_deref(), Some("alice%40example.com"));
    let second = &events[1].metadata;
    assert_eq!(events[1].request.topic, "tasks-dlq");
    assert_eq!(
        second.get("__key").map(String::as_str),
        Some("alice%2540example.com")
    );
    assert_eq!(
        second.get("partitionkey").map(String::as_str),
        Some("alice%2540example.com")
    );
}

#[tokio::test]
async fn without_escaping_a_non_ascii_key_cannot_be_delivered() {
    let config = DaprDoubleConfig {
        escape_headers: false,
        ..fast()
    };
    let (double, app) = start(config, options()).await;
    publish(&double, "zoë", "plain").await;
    let deliveries = double
        .wait_for_deliveries_matching(1, |d| d.topic == "tasks", WAIT)
        .await
        .expect("delivered");
    assert_eq!(deliveries[0].outcome, Outcome::DeadLettered);
    assert!(matches!(
        deliveries[0].last_status,
        Some(AppAnswer::Grpc {
            code: Code::Internal,
            ..
        })
    ));
    assert!(
        app.state
            .topic_events
            .all()
            .iter()
            .all(|e| e.request.topic != "tasks"),
        "grpc-go refuses the metadata before the app is called"
    );
}
