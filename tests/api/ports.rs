//! Each port serves its own audience only: the API port has no AppCallback, the callback port
//! has no TaskService or NotificationService. With `APP_API_TOKEN` set, every delivery,
//! invocation and job trigger must carry exactly that token as `dapr-api-token`; anything else
//! is refused before it has an effect.

// AppCallbackAlpha is deprecated upstream, yet daprd up to 1.17 still calls it: it is checked too.
#![allow(deprecated)]

use std::collections::HashMap;

use dapr::dapr::proto::common::v1::InvokeRequest;
use dapr::dapr::proto::runtime::v1::{
    self as dapr_pb, app_callback_alpha_client::AppCallbackAlphaClient,
    app_callback_client::AppCallbackClient,
    app_callback_health_check_client::AppCallbackHealthCheckClient,
    topic_event_bulk_request_entry::Event as BulkEvent,
    topic_event_response::TopicEventResponseStatus as Verdict,
};
use taskflow::proto::v1::{
    self as pb, notification_service_client::NotificationServiceClient,
    task_service_client::TaskServiceClient,
};
use tonic::{Code, Request, Status, transport::Channel};

use crate::both_backends;
use crate::helpers::{Backend, Metadata, TestApp, list_all, titled};
use crate::helpers::{NO_SIDECAR, completed_in_the_outbox, delivery};

const APP_TOKEN: &str = "app-secret";

async fn channel_to(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("a uri")
        .connect()
        .await
        .expect("connects")
}

fn with_metadata<T>(message: T, metadata: &[(&str, &str)]) -> Request<T> {
    let mut request = Request::new(message);
    for (key, value) in metadata {
        let key: tonic::metadata::MetadataKey<tonic::metadata::Ascii> =
            key.parse().expect("a metadata key");
        request
            .metadata_mut()
            .insert(key, value.parse().expect("an ASCII value"));
    }
    request
}

async fn the_api_port_serves_no_app_callback(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, Some(APP_TOKEN)).await;
    let token = [("dapr-api-token", APP_TOKEN)];
    let mut callback = AppCallbackClient::new(app.channel());
    let mut alpha = AppCallbackAlphaClient::new(app.channel());
    let mut health = AppCallbackHealthCheckClient::new(app.channel());
    let event = delivery(
        "tasks",
        "e1",
        "task.created",
        "application/protobuf",
        vec![],
    );
    let results = [
        (
            "OnTopicEvent",
            callback
                .on_topic_event(with_metadata(event, &token))
                .await
                .map(|_| ()),
        ),
        (
            "ListTopicSubscriptions",
            callback
                .list_topic_subscriptions(with_metadata((), &token))
                .await
                .map(|_| ()),
        ),
        (
            "OnInvoke",
            callback
                .on_invoke(with_metadata(InvokeRequest::default(), &token))
                .await
                .map(|_| ()),
        ),
        (
            "OnBulkTopicEventAlpha1",
            alpha
                .on_bulk_topic_event_alpha1(with_metadata(
                    dapr_pb::TopicEventBulkRequest::default(),
                    &token,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "OnJobEventAlpha1",
            alpha
                .on_job_event_alpha1(with_metadata(dapr_pb::JobEventRequest::default(), &token))
                .await
                .map(|_| ()),
        ),
        (
            "HealthCheck",
            health
                .health_check(with_metadata((), &token))
                .await
                .map(|_| ()),
        ),
    ];
    for (what, result) in results {
        let status = result.expect_err(what);
        assert_eq!(status.code(), Code::Unimplemented, "{what}: {status:?}");
    }
}

async fn the_callback_port_serves_no_task_or_notification_api(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, Some(APP_TOKEN)).await;
    let channel = channel_to(app.callback_addr()).await;
    // Even with both kinds of credentials, the API is not there.
    let metadata = Metadata::new(&[("x-user-id", "alice"), ("dapr-api-token", APP_TOKEN)]);
    let mut tasks = TaskServiceClient::with_interceptor(channel.clone(), metadata.clone());
    let mut notifications = NotificationServiceClient::with_interceptor(channel, metadata);
    let results = [
        (
            "CreateTask",
            tasks
                .create_task(pb::CreateTaskRequest {
                    parent: "users/alice".into(),
                    task: Some(titled("through the back door")),
                    request_id: String::new(),
                })
                .await
                .map(|_| ()),
        ),
        (
            "ListTasks",
            tasks
                .list_tasks(pb::ListTasksRequest {
                    parent: "users/alice".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ),
        (
            "ListNotifications",
            notifications
                .list_notifications(pb::ListNotificationsRequest {
                    parent: "users/alice".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ),
        (
            "WatchNotifications",
            notifications
                .watch_notifications(pb::WatchNotificationsRequest {
                    parent: "users/alice".into(),
                    since: None,
                })
                .await
                .map(|_| ()),
        ),
    ];
    for (what, result) in results {
        let status = result.expect_err(what);
        assert_eq!(status.code(), Code::Unimplemented, "{what}: {status:?}");
    }
    assert!(list_all(&mut app.user("alice"), "alice").await.is_empty());
}

/// Every guarded callback with `metadata`: `Ok` when answered, else the refusal.
async fn guarded_calls(
    app: &TestApp,
    event: &dapr_pb::TopicEventRequest,
    metadata: &[(&str, &str)],
) -> Vec<(&'static str, Result<(), Status>)> {
    let channel = channel_to(app.callback_addr()).await;
    let mut callback = AppCallbackClient::new(channel.clone());
    let mut alpha = AppCallbackAlphaClient::new(channel);
    let bulk = dapr_pb::TopicEventBulkRequest {
        id: "bulk".into(),
        entries: vec![dapr_pb::TopicEventBulkRequestEntry {
            entry_id: "0".into(),
            content_type: "application/cloudevents+json".into(),
            metadata: HashMap::from([("partitionKey".to_owned(), "alice".to_owned())]),
            event: Some(BulkEvent::CloudEvent(dapr_pb::TopicEventCeRequest {
                id: event.id.clone(),
                source: event.source.clone(),
                r#type: event.r#type.clone(),
                spec_version: event.spec_version.clone(),
                data_content_type: event.data_content_type.clone(),
                data: event.data.clone(),
                extensions: None,
            })),
        }],
        topic: event.topic.clone(),
        pubsub_name: event.pubsub_name.clone(),
        ..Default::default()
    };
    let job = dapr_pb::JobEventRequest {
        name: "reminder-unknown".into(),
        ..Default::default()
    };
    let mut keyed = with_metadata(event.clone(), metadata);
    keyed
        .metadata_mut()
        .insert("partitionkey", "alice".parse().expect("ascii"));
    vec![
        (
            "OnTopicEvent",
            callback.on_topic_event(keyed).await.map(|_| ()),
        ),
        (
            "OnBulkTopicEvent",
            callback
                .on_bulk_topic_event(with_metadata(bulk.clone(), metadata))
                .await
                .map(|_| ()),
        ),
        (
            "OnBulkTopicEventAlpha1",
            alpha
                .on_bulk_topic_event_alpha1(with_metadata(bulk, metadata))
                .await
                .map(|_| ()),
        ),
        (
            "OnJobEvent",
            callback
                .on_job_event(with_metadata(job.clone(), metadata))
                .await
                .map(|_| ()),
        ),
        (
            "OnJobEventAlpha1",
            alpha
                .on_job_event_alpha1(with_metadata(job, metadata))
                .await
                .map(|_| ()),
        ),
        (
            "OnInvoke",
            callback
                .on_invoke(with_metadata(
                    InvokeRequest {
                        method: "tasks".into(),
                        ..Default::default()
                    },
                    metadata,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "OnBindingEvent",
            callback
                .on_binding_event(with_metadata(
                    dapr_pb::BindingEventRequest {
                        name: "cron".into(),
                        ..Default::default()
                    },
                    metadata,
                ))
                .await
                .map(|_| ()),
        ),
    ]
}

async fn callbacks_without_the_exact_app_token_are_refused_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, Some(APP_TOKEN)).await;
    let (_, event) = completed_in_the_outbox(&app, pb::Frequency::Daily).await;
    let mut alice = app.user("alice");

    let bearer = format!("Bearer {APP_TOKEN}");
    let refused: [(&str, &[(&str, &str)]); 10] = [
        ("no token", &[]),
        ("a wrong token", &[("dapr-api-token", "wrong")]),
        ("an empty token", &[("dapr-api-token", "")]),
        ("the token in capitals", &[("dapr-api-token", "APP-SECRET")]),
        ("a prefix of the token", &[("dapr-api-token", "app-secre")]),
        ("the token and more", &[("dapr-api-token", "app-secret2")]),
        ("the token as a bearer", &[("dapr-api-token", &bearer)]),
        (
            "the token under authorization",
            &[("authorization", &bearer)],
        ),
        (
            "the token under app-api-token",
            &[("app-api-token", APP_TOKEN)],
        ),
        (
            "the token under x-dapr-api-token",
            &[("x-dapr-api-token", APP_TOKEN)],
        ),
    ];
    for (why, metadata) in refused {
        for (what, result) in guarded_calls(&app, &event, metadata).await {
            let status = result.expect_err(what);
            assert_eq!(
                status.code(),
                Code::Unauthenticated,
                "{what} with {why}: {status:?}"
            );
            assert!(
                !status.message().contains(APP_TOKEN),
                "a refusal never echoes the token: {status:?}"
            );
        }
    }
    assert_eq!(
        list_all(&mut alice, "alice").await.len(),
        1,
        "no refused delivery created the next occurrence"
    );

    // With the token, each call is answered on its merits.
    let answered = guarded_calls(&app, &event, &[("dapr-api-token", APP_TOKEN)]).await;
    let codes: Vec<(&str, Option<Code>)> = answered
        .iter()
        .map(|(what, result)| (*what, result.as_ref().err().map(Status::code)))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("OnTopicEvent", None),
            ("OnBulkTopicEvent", None),
            ("OnBulkTopicEventAlpha1", None),
            ("OnJobEvent", Some(Code::NotFound)),
            ("OnJobEventAlpha1", Some(Code::NotFound)),
            ("OnInvoke", Some(Code::Unimplemented)),
            ("OnBindingEvent", Some(Code::Unimplemented)),
        ]
    );
    let invoke = answered
        .iter()
        .find_map(|(what, result)| (*what == "OnInvoke").then_some(result))
        .and_then(|result| result.as_ref().err())
        .expect("OnInvoke is refused");
    assert!(
        invoke.message().contains("no service invocation"),
        "{invoke:?}"
    );
    let mut client = AppCallbackClient::new(channel_to(app.callback_addr()).await);
    let mut request = with_metadata(event, &[("dapr-api-token", APP_TOKEN)]);
    request
        .metadata_mut()
        .insert("partitionkey", "alice".parse().expect("ascii"));
    let verdict = client
        .on_topic_event(request)
        .await
        .expect("answered")
        .into_inner()
        .status;
    assert_eq!(verdict, Verdict::Success as i32, "a redelivery succeeds");
    assert_eq!(
        list_all(&mut alice, "alice").await.len(),
        2,
        "the accepted delivery created exactly one next occurrence"
    );
}

both_backends!(
    the_api_port_serves_no_app_callback,
    the_callback_port_serves_no_task_or_notification_api,
    callbacks_without_the_exact_app_token_are_refused_and_change_nothing,
);
