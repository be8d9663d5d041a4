//! The sidecar's side of the app callback: building deliveries as daprd sends them and
//! delivering them over gRPC.

#[allow(unused_imports)]
use super::*;

use dapr::dapr::proto::runtime::v1::{self as dapr_pb, app_callback_client::AppCallbackClient};
use prost::Message;
use taskflow::proto::events::v1 as ev;

/// A sidecar endpoint where nothing listens: events stay in the outbox for the test to deliver.
pub const NO_SIDECAR: &str = "http://127.0.0.1:9";

pub async fn callback_client(app: &TestApp) -> AppCallbackClient<Channel> {
    callback_client_at(&app.callback_addr().to_string()).await
}

/// A client of the callback port at `addr` (`host:port`).
pub async fn callback_client_at(addr: &str) -> AppCallbackClient<Channel> {
    AppCallbackClient::connect(format!("http://{addr}"))
        .await
        .expect("connects to the callback port")
}

/// Alice's recurring task, due 2027-06-01T09:00Z and completed while no sidecar takes the
/// events, and its `task.completed` event as daprd would deliver it from the outbox.
pub async fn completed_in_the_outbox(
    app: &TestApp,
    frequency: pb::Frequency,
) -> (pb::Task, dapr_pb::TopicEventRequest) {
    let mut alice = app.user("alice");
    let task = create(&mut alice, "alice", water_plants(frequency)).await;
    alice
        .complete_task(pb::CompleteTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("complete");
    let rows = outbox_rows(&app.db().await).await;
    let completion = rows
        .iter()
        .find(|r| r.event_type == "task.completed")
        .expect("the completion event");
    assert!(completion.published_us.is_none(), "the sidecar is away");
    let event = delivery(
        "tasks",
        &completion.event_id.to_string(),
        "task.completed",
        "application/protobuf",
        completion.payload.clone(),
    );
    (task, event)
}

pub fn delivery(
    topic: &str,
    id: &str,
    event_type: &str,
    content_type: &str,
    data: Vec<u8>,
) -> dapr_pb::TopicEventRequest {
    dapr_pb::TopicEventRequest {
        id: id.into(),
        source: "taskflow".into(),
        r#type: event_type.into(),
        spec_version: "1.0".into(),
        data_content_type: content_type.into(),
        data,
        topic: topic.into(),
        pubsub_name: "kafka-pubsub".into(),
        ..Default::default()
    }
}

pub async fn deliver(
    client: &mut AppCallbackClient<Channel>,
    event: dapr_pb::TopicEventRequest,
    key: Option<&str>,
    token: Option<&str>,
) -> Result<i32, tonic::Status> {
    let mut request = Request::new(event);
    if let Some(key) = key {
        request
            .metadata_mut()
            .insert("partitionkey", key.parse().expect("ascii"));
    }
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("dapr-api-token", token.parse().expect("ascii"));
    }
    client
        .on_topic_event(request)
        .await
        .map(|r| r.into_inner().status)
}

pub fn completed_event(task: &pb::Task, user: &str) -> Vec<u8> {
    ev::TaskCompleted {
        context: Some(ev::EventContext {
            user_id: user.into(),
            origin: ev::Origin::User as i32,
            ..Default::default()
        }),
        task: Some(task.clone()),
        series_anchor: None,
    }
    .encode_to_vec()
}

/// Delivers the last `event_type` event about the task `task_name` from the outbox, as daprd
/// would, under message key `key` and with `token`; returns the status the app answered.
pub async fn deliver_from_outbox(
    app: &TestApp,
    task_name: &str,
    event_type: &str,
    key: Option<&str>,
    token: Option<&str>,
) -> i32 {
    let rows = outbox_rows(&app.db().await).await;
    let row = rows
        .iter()
        .rev()
        .find(|r| r.event_type == event_type && r.subject == task_name)
        .unwrap_or_else(|| panic!("a {event_type} event of {task_name} in the outbox"));
    let event = delivery(
        &row.topic,
        &row.event_id.to_string(),
        event_type,
        "application/protobuf",
        row.payload.clone(),
    );
    let mut callbacks = callback_client(app).await;
    deliver(&mut callbacks, event, key, token)
        .await
        .expect("the app answers")
}
