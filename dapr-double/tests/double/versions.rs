//! The version profile: which `Dapr` RPCs exist and how a missing one answers, `GetMetadata`,
//! the app token on callbacks, and which job and bulk callbacks daprd calls, per daprd line.

use std::collections::HashMap;

use dapr::dapr::proto::runtime::v1::app_callback_client::AppCallbackClient;
use dapr::dapr::proto::runtime::v1::{
    BulkPublishRequest, BulkPublishRequestEntry, DeleteJobRequest, GetMetadataRequest,
    GetStateRequest, Job, ScheduleJobRequest, UpsertVectorsRequestAlpha1,
};
use dapr_double::{DaprDoubleConfig, DaprVersion, JobOutcome, Outcome, PROXY_ERROR};
use serde_json::json;
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

use crate::app::{AppOptions, WAIT, subscription};
use crate::{client, fast, publish_request, start, task_event};

fn bulk(id: &str) -> BulkPublishRequest {
    BulkPublishRequest {
        pubsub_name: "kafka-pubsub".to_owned(),
        topic: "tasks".to_owned(),
        entries: vec![BulkPublishRequestEntry {
            entry_id: id.to_owned(),
            event: b"{}".to_vec(),
            content_type: "application/json".to_owned(),
            metadata: HashMap::new(),
        }],
        metadata: HashMap::new(),
    }
}

fn job(name: &str) -> ScheduleJobRequest {
    ScheduleJobRequest {
        job: Some(Job {
            name: name.to_owned(),
            due_time: Some("1h".to_owned()),
            ..Default::default()
        }),
        overwrite: false,
    }
}

fn delete(name: &str) -> DeleteJobRequest {
    DeleteJobRequest {
        name: name.to_owned(),
    }
}

/// `Ok(())`, or the status code and message of the refusal.
fn outcome<T>(result: Result<T, Status>) -> Result<(), (Code, String)> {
    result
        .map(|_| ())
        .map_err(|status| (status.code(), status.message().to_owned()))
}

fn missing() -> Result<(), (Code, String)> {
    Err((Code::Unknown, PROXY_ERROR.to_owned()))
}

#[tokio::test]
#[allow(deprecated)] // the Alpha1 RPCs are deprecated upstream, and the only ones of 1.16
async fn each_line_serves_its_rpcs_and_answers_missing_ones_as_daprd_does() {
    for version in DaprVersion::ALL {
        let (double, _app) = start(fast().with_version(version), AppOptions::default()).await;
        let mut client = client(&double).await;
        let stable_bulk = version >= DaprVersion::V1_17;
        let stable_jobs = version >= DaprVersion::V1_18;
        let expect = |present: bool| if present { Ok(()) } else { missing() };

        assert_eq!(
            outcome(
                client
                    .publish_event(publish_request(
                        "tasks",
                        "application/json",
                        b"{}".to_vec(),
                        &[]
                    ))
                    .await
            ),
            Ok(()),
            "{version}"
        );
        assert_eq!(
            outcome(client.bulk_publish_event_alpha1(bulk("a")).await),
            Ok(()),
            "{version}"
        );
        assert_eq!(
            outcome(client.bulk_publish_event(bulk("b")).await),
            expect(stable_bulk),
            "{version}"
        );
        assert_eq!(
            outcome(client.schedule_job_alpha1(job("alpha")).await),
            Ok(()),
            "{version}"
        );
        assert_eq!(
            outcome(client.schedule_job(job("stable")).await),
            expect(stable_jobs),
            "{version}"
        );
        assert_eq!(
            outcome(client.delete_job(delete("alpha")).await),
            expect(stable_jobs),
            "{version}"
        );
        assert_eq!(
            outcome(client.delete_job_alpha1(delete("alpha")).await),
            Ok(()),
            "{version}"
        );
        // What the missing calls were asked to do did not happen.
        let stored: Vec<Option<String>> =
            double.published().into_iter().map(|p| p.entry_id).collect();
        let mut expected = vec![None, Some("a".to_owned())];
        if stable_bulk {
            expected.push(Some("b".to_owned()));
        }
        assert_eq!(stored, expected, "{version}");
        let jobs: Vec<String> = double.jobs().into_iter().map(|j| j.name).collect();
        let expected: Vec<&str> = if stable_jobs { vec!["stable"] } else { vec![] };
        assert_eq!(jobs, expected, "{version}");

        // In the crate's protos, but in no daprd line: the proxy answers too.
        assert_eq!(
            outcome(
                client
                    .upsert_vectors_alpha1(UpsertVectorsRequestAlpha1::default())
                    .await
            ),
            missing(),
            "{version}"
        );
        // A method daprd has but the double does not implement says so, in its own words.
        let status = client
            .get_state(GetStateRequest::default())
            .await
            .expect_err("not implemented by the double");
        assert_eq!(status.code(), Code::Unimplemented, "{version}");
        assert!(status.message().contains("dapr double"), "{status:?}");
        // Another service entirely also reaches daprd's proxy.
        let status = AppCallbackClient::connect(double.endpoint())
            .await
            .expect("connect")
            .list_topic_subscriptions(())
            .await
            .expect_err("not a daprd API");
        assert_eq!(
            (status.code(), status.message()),
            (Code::Unknown, PROXY_ERROR)
        );
    }
}

#[tokio::test]
async fn the_api_token_is_checked_before_the_proxy() {
    let config = DaprDoubleConfig {
        dapr_api_token: Some("dapr-secret".to_owned()),
        ..fast().with_version(DaprVersion::V1_16)
    };
    let (double, _app) = start(config, AppOptions::default()).await;
    let mut client = client(&double).await;
    let status = client
        .bulk_publish_event(bulk("a"))
        .await
        .expect_err("no token");
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unauthenticated, "Unauthorized")
    );
    let mut with_token = tonic::Request::new(bulk("a"));
    with_token
        .metadata_mut()
        .insert("dapr-api-token", MetadataValue::from_static("dapr-secret"));
    let status = client
        .bulk_publish_event(with_token)
        .await
        .expect_err("missing on 1.16");
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unknown, PROXY_ERROR)
    );
}

#[tokio::test]
async fn the_stable_jobs_switch_answers_as_a_1_17_daprd() {
    let (double, _app) = start(fast(), AppOptions::default()).await;
    let mut client = client(&double).await;
    double.set_stable_jobs_unimplemented(true);
    assert_eq!(outcome(client.schedule_job(job("j")).await), missing());
    assert_eq!(outcome(client.delete_job(delete("j")).await), missing());
    #[allow(deprecated)] // the Alpha1 RPC stays
    let alpha = client.schedule_job_alpha1(job("j")).await;
    assert_eq!(outcome(alpha), Ok(()));
    double.set_stable_jobs_unimplemented(false);
    assert_eq!(outcome(client.delete_job(delete("j")).await), Ok(()));
    assert!(double.jobs().is_empty());
}

#[tokio::test]
async fn get_metadata_reports_the_runtime_version() {
    let expected = [
        (DaprVersion::V1_16_0, "1.16.1"),
        (DaprVersion::V1_16, "1.16.2"),
        (DaprVersion::V1_17, "1.17.13"),
        (DaprVersion::V1_18, "1.18.3"),
    ];
    for (version, runtime_version) in expected {
        let options = AppOptions {
            subscriptions: vec![subscription("tasks", Some("tasks-dlq"))],
            ..Default::default()
        };
        let (double, app) = start(fast().with_version(version), options).await;
        let mut client = client(&double).await;
        let before = client
            .get_metadata(GetMetadataRequest::default())
            .await
            .expect("metadata")
            .into_inner();
        assert_eq!(before.runtime_version, runtime_version);
        assert_eq!(
            before
                .extended_metadata
                .get("daprRuntimeVersion")
                .map(String::as_str),
            Some(runtime_version)
        );
        assert_eq!(before.id, "taskflow");
        let component = &before.registered_components[0];
        assert_eq!(
            (component.name.as_str(), component.r#type.as_str()),
            ("kafka-pubsub", "pubsub.kafka")
        );
        assert!(before.subscriptions.is_empty(), "nothing loaded yet");
        assert_eq!(
            before.app_connection_properties.map(|p| p.port),
            Some(i32::from(app.addr.port()))
        );

        double.subscriptions().await.expect("subscriptions");
        let after = client
            .get_metadata(GetMetadataRequest::default())
            .await
            .expect("metadata")
            .into_inner();
        assert_eq!(after.subscriptions.len(), 1);
        assert_eq!(after.subscriptions[0].topic, "tasks");
        assert_eq!(after.subscriptions[0].dead_letter_topic, "tasks-dlq");
    }
}

#[tokio::test]
async fn the_app_token_rides_on_callbacks_only_from_1_16_2() {
    for version in DaprVersion::ALL {
        let config = DaprDoubleConfig {
            app_api_token: Some("app-secret".to_owned()),
            ..fast().with_version(version)
        };
        let options = AppOptions {
            subscriptions: vec![subscription("tasks", None)],
            ..Default::default()
        };
        let (double, app) = start(config, options).await;
        let mut client = client(&double).await;
        let expected = (version >= DaprVersion::V1_16).then_some("app-secret");

        client
            .publish_event(publish_request(
                "tasks",
                "application/cloudevents+json",
                task_event("e1", b"x"),
                &[("partitionKey", "alice")],
            ))
            .await
            .expect("publish");
        let events = app.state.topic_events.wait_for(1).await;
        assert_eq!(events[0].token(), expected, "OnTopicEvent on {version}");

        let envelope = serde_json::from_slice(&task_event("b1", b"x")).expect("json");
        double
            .deliver_bulk("tasks", &[envelope])
            .await
            .expect("bulk");
        let bulk = app.state.bulk_events.wait_for(1).await;
        assert_eq!(bulk[0].token(), expected, "bulk delivery on {version}");

        #[allow(deprecated)] // the only Jobs API on every line
        client
            .schedule_job_alpha1(ScheduleJobRequest {
                job: Some(Job {
                    name: "now".to_owned(),
                    due_time: Some("0s".to_owned()),
                    ..Default::default()
                }),
                overwrite: false,
            })
            .await
            .expect("schedule");
        double
            .wait_for_job_triggers(1, WAIT)
            .await
            .expect("triggered");
        assert_eq!(
            app.state.job_events.all()[0].token(),
            expected,
            "job callback on {version}"
        );

        // Never on discovery or the health probe.
        assert_eq!(app.state.list_calls.all()[0].token(), None);
        double.health_check().await.expect("healthy");
        assert_eq!(app.state.health_checks.all()[0].token(), None);
    }
}

#[tokio::test]
async fn an_app_that_requires_the_token_refuses_a_1_16_1_delivery() {
    let config = DaprDoubleConfig {
        app_api_token: Some("app-secret".to_owned()),
        ..fast().with_version(DaprVersion::V1_16_0)
    };
    let options = AppOptions {
        subscriptions: vec![subscription("tasks", Some("tasks-dlq"))],
        required_token: Some("app-secret".to_owned()),
        ..Default::default()
    };
    let (double, _app) = start(config, options).await;
    let delivery = double
        .deliver_raw(
            "tasks",
            json!({"id": "t", "specversion": "1.0", "datacontenttype": "text/plain", "data": "x"})
                .to_string(),
            HashMap::new(),
        )
        .await
        .expect("delivered");
    assert_eq!(delivery.outcome, Outcome::DeadLettered);
    assert!(matches!(
        delivery.last_status,
        Some(dapr_double::AppAnswer::Grpc {
            code: Code::Unauthenticated,
            ..
        })
    ));
}

#[tokio::test]
async fn the_job_callback_follows_the_line() {
    for (version, stable_unimplemented, expected) in [
        (DaprVersion::V1_16_0, false, "OnJobEventAlpha1"),
        (DaprVersion::V1_16, false, "OnJobEventAlpha1"),
        (DaprVersion::V1_17, false, "OnJobEventAlpha1"),
        (DaprVersion::V1_18, false, "OnJobEvent"),
        (DaprVersion::V1_18, true, "OnJobEventAlpha1"),
    ] {
        let options = AppOptions {
            stable_unimplemented,
            ..Default::default()
        };
        let (double, app) = start(fast().with_version(version), options).await;
        #[allow(deprecated)] // the only Jobs API on every line
        client(&double)
            .await
            .schedule_job_alpha1(ScheduleJobRequest {
                job: Some(Job {
                    name: "j".to_owned(),
                    schedule: Some("@every 1h".to_owned()),
                    ..Default::default()
                }),
                overwrite: false,
            })
            .await
            .expect("schedule");
        let trigger = double.trigger_job_now("j").await.expect("trigger");
        assert_eq!(trigger.outcome, JobOutcome::Succeeded, "{version}");
        assert_eq!(trigger.method, expected, "{version}");
        // The app saw exactly the RPCs daprd calls: a 1.16 or 1.17 daprd never tries the stable
        // one, a 1.18 daprd tries it first (the fake app records only calls it serves).
        let rpcs: Vec<&str> = app
            .state
            .job_events
            .all()
            .iter()
            .map(|call| call.request.0)
            .collect();
        assert_eq!(rpcs, [expected], "{version}");
        assert_eq!(
            app.state.stable_job_calls(),
            usize::from(version >= DaprVersion::V1_18),
            "stable OnJobEvent calls on {version}"
        );
    }
}

#[tokio::test]
async fn the_bulk_callback_follows_the_line() {
    for (version, stable_unimplemented, expected) in [
        (DaprVersion::V1_16_0, false, "OnBulkTopicEventAlpha1"),
        (DaprVersion::V1_16, false, "OnBulkTopicEventAlpha1"),
        (DaprVersion::V1_17, false, "OnBulkTopicEvent"),
        (DaprVersion::V1_17, true, "OnBulkTopicEventAlpha1"),
        (DaprVersion::V1_18, false, "OnBulkTopicEvent"),
    ] {
        let options = AppOptions {
            subscriptions: vec![subscription("tasks", None)],
            stable_unimplemented,
            ..Default::default()
        };
        let (double, app) = start(fast().with_version(version), options).await;
        let envelope = serde_json::from_slice(&task_event("b1", b"x")).expect("json");
        let result = double
            .deliver_bulk("tasks", &[envelope])
            .await
            .expect("bulk");
        assert_eq!(result.method, expected, "{version}");
        assert_eq!(
            app.state.stable_bulk_calls(),
            usize::from(version >= DaprVersion::V1_17),
            "stable OnBulkTopicEvent calls on {version}"
        );
    }
}
