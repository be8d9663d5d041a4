//! Fault injection: down, delay, failing publishes and bulk entries, missing bulk RPCs,
//! stop/restart.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dapr::dapr::proto::runtime::v1::{BulkPublishRequest, BulkPublishRequestEntry};
use dapr_double::{DaprDoubleConfig, PROXY_ERROR, PubsubComponent};
use tonic::Code;

use crate::app::{AppOptions, WAIT, subscription};
use crate::{client, fast, publish_request, start};

fn json_publish(topic: &str) -> dapr::dapr::proto::runtime::v1::PublishEventRequest {
    publish_request(topic, "application/json", br#"{"n":1}"#.to_vec(), &[])
}

fn bulk(ids: &[&str]) -> BulkPublishRequest {
    BulkPublishRequest {
        pubsub_name: "kafka-pubsub".to_owned(),
        topic: "tasks".to_owned(),
        entries: ids
            .iter()
            .map(|id| BulkPublishRequestEntry {
                entry_id: (*id).to_owned(),
                event: b"{}".to_vec(),
                content_type: "application/json".to_owned(),
                metadata: HashMap::new(),
            })
            .collect(),
        metadata: HashMap::new(),
    }
}

#[tokio::test]
async fn down_and_delay() {
    let (double, _app) = start(fast(), AppOptions::default()).await;
    let mut client = client(&double).await;

    double.set_down(true);
    let status = client
        .publish_event(json_publish("tasks"))
        .await
        .expect_err("down");
    assert_eq!(status.code(), Code::Unavailable);
    double.set_down(false);
    client
        .publish_event(json_publish("tasks"))
        .await
        .expect("up again");

    double.set_delay(Duration::from_millis(100));
    let started = Instant::now();
    client
        .publish_event(json_publish("tasks"))
        .await
        .expect("slow");
    assert!(started.elapsed() >= Duration::from_millis(100));
    double.set_delay(Duration::ZERO);
    assert_eq!(double.published().len(), 2);
}

#[tokio::test]
async fn fail_next_fails_whole_calls_and_stores_nothing() {
    let (double, _app) = start(fast(), AppOptions::default()).await;
    let mut client = client(&double).await;
    double.fail_next(2);
    let first = client
        .publish_event(json_publish("tasks"))
        .await
        .expect_err("first fails");
    assert_eq!(first.code(), Code::Internal);
    let second = client
        .bulk_publish_event(bulk(&["a"]))
        .await
        .expect_err("second fails");
    assert_eq!(second.code(), Code::Internal);
    client
        .publish_event(json_publish("tasks"))
        .await
        .expect("third works");
    assert_eq!(double.published().len(), 1);
}

#[tokio::test]
async fn bulk_faults() {
    let (double, _app) = start(fast(), AppOptions::default()).await;
    let mut client = client(&double).await;

    // Both bulk RPCs missing: daprd's proxy answers `Unknown`, not `Unimplemented`.
    double.set_bulk_unimplemented(true);
    let status = client
        .bulk_publish_event(bulk(&["a"]))
        .await
        .expect_err("missing");
    assert_eq!(status.code(), Code::Unknown);
    assert_eq!(status.message(), PROXY_ERROR);
    #[allow(deprecated)] // daprd ≤ 1.17 only has the Alpha1 RPC
    let status = client
        .bulk_publish_event_alpha1(bulk(&["a"]))
        .await
        .expect_err("alpha missing too");
    assert_eq!(status.code(), Code::Unknown);
    // The fallback the app must use still works.
    client
        .publish_event(json_publish("tasks"))
        .await
        .expect("single publish");
    double.set_bulk_unimplemented(false);

    // Kafka (the default): the call fails as a whole, the other entries are stored anyway.
    double.fail_bulk_entries(2);
    let status = client
        .bulk_publish_event(bulk(&["a", "b", "c"]))
        .await
        .expect_err("the whole call fails");
    assert_eq!(status.code(), Code::Internal);
    let stored: Vec<Option<String>> = double.published().into_iter().map(|p| p.entry_id).collect();
    assert_eq!(stored, [None, Some("c".to_owned())]);
}

#[tokio::test]
async fn failed_entries_are_listed_only_by_a_component_that_reports_them() {
    let config = DaprDoubleConfig {
        pubsub_component: PubsubComponent::ReportsFailedEntries,
        ..fast()
    };
    let (double, _app) = start(config, AppOptions::default()).await;
    let mut client = client(&double).await;
    double.fail_bulk_entries(2);
    let response = client
        .bulk_publish_event(bulk(&["a", "b", "c"]))
        .await
        .expect("partial success")
        .into_inner();
    let failed: Vec<&str> = response
        .failed_entries
        .iter()
        .map(|f| f.entry_id.as_str())
        .collect();
    assert_eq!(failed, ["a", "b"]);
    let stored: Vec<Option<String>> = double.published().into_iter().map(|p| p.entry_id).collect();
    assert_eq!(stored, [Some("c".to_owned())]);
}

#[tokio::test]
async fn stop_closes_the_socket_and_restart_reopens_it() {
    let options = AppOptions {
        subscriptions: vec![subscription("tasks", None)],
        ..Default::default()
    };
    let (double, app) = start(fast(), options).await;
    let addr = double.addr();
    let mut old_client = client(&double).await;
    old_client
        .publish_event(json_publish("tasks"))
        .await
        .expect("before stop");
    double
        .wait_for_deliveries(1, WAIT)
        .await
        .expect("delivered");

    double.stop().await;
    assert!(!double.is_running());
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "connection refused while stopped");
    let status = old_client
        .publish_event(json_publish("tasks"))
        .await
        .expect_err("stopped");
    assert_eq!(status.code(), Code::Unavailable);

    double.restart().await.expect("restart");
    assert_eq!(double.addr(), addr, "same port");
    tokio::net::TcpStream::connect(addr)
        .await
        .expect("accepting again");
    let mut new_client = client(&double).await;
    new_client
        .publish_event(json_publish("tasks"))
        .await
        .expect("after restart");
    // The old channel reconnects on its own (no waiting: each call retries the connection).
    let mut reconnected = false;
    for _ in 0..3 {
        if old_client
            .publish_event(json_publish("tasks"))
            .await
            .is_ok()
        {
            reconnected = true;
            break;
        }
    }
    assert!(reconnected, "the old channel reconnected");
    double
        .wait_for_deliveries(3, WAIT)
        .await
        .expect("deliveries resumed");
    // A restarted daprd asks for the subscriptions again.
    assert_eq!(app.state.list_calls.len(), 2);
}
