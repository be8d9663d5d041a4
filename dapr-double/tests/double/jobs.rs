//! Jobs: scheduling rules, triggers, fallbacks, failure policy, deletion.

use dapr::dapr::proto::common::v1::http_extension::Verb;
use dapr::dapr::proto::runtime::v1::{DeleteJobRequest, Job, ScheduleJobRequest};
use dapr_double::{DaprDoubleConfig, JobOutcome};
use tonic::Code;

use crate::app::{AppOptions, WAIT};
use crate::{client, fast, start};

fn job(name: &str, due_time: Option<&str>, schedule: Option<&str>) -> ScheduleJobRequest {
    ScheduleJobRequest {
        job: Some(Job {
            name: name.to_owned(),
            schedule: schedule.map(str::to_owned),
            due_time: due_time.map(str::to_owned),
            data: Some(prost_types::Any {
                type_url: "type.googleapis.com/taskflow.v1.Reminder".to_owned(),
                value: vec![1, 2, 3],
            }),
            ..Default::default()
        }),
        overwrite: false,
    }
}

#[tokio::test]
async fn a_due_job_triggers_on_job_event_with_the_token() {
    let config = DaprDoubleConfig {
        app_api_token: Some("app-secret".to_owned()),
        ..fast()
    };
    let options = AppOptions {
        required_token: Some("app-secret".to_owned()),
        ..Default::default()
    };
    let (double, app) = start(config, options).await;
    let mut client = client(&double).await;
    client
        .schedule_job(job("remind-1", Some("0s"), None))
        .await
        .expect("schedule");

    let triggers = double
        .wait_for_job_triggers(1, WAIT)
        .await
        .expect("triggered");
    assert_eq!(triggers[0].name, "remind-1");
    assert_eq!(triggers[0].outcome, JobOutcome::Succeeded);
    assert_eq!(triggers[0].method, "OnJobEvent");
    let calls = app.state.job_events.all();
    let (rpc, request) = &calls[0].request;
    assert_eq!(*rpc, "OnJobEvent");
    assert_eq!(request.name, "remind-1");
    assert_eq!(request.method, "job/remind-1");
    assert_eq!(
        request.content_type,
        "type.googleapis.com/taskflow.v1.Reminder"
    );
    assert_eq!(
        request.data.as_ref().map(|d| d.value.clone()),
        Some(vec![1, 2, 3])
    );
    assert_eq!(
        request.http_extension.as_ref().map(|h| h.verb),
        Some(Verb::Post as i32)
    );
    assert_eq!(calls[0].token(), Some("app-secret"));
    assert!(
        double.jobs().is_empty(),
        "a one-shot job is gone once triggered"
    );
}

#[tokio::test]
async fn scheduling_rules() {
    let (double, _app) = start(fast(), AppOptions::default()).await;
    let mut client = client(&double).await;

    let status = client
        .schedule_job(job("x", None, None))
        .await
        .expect_err("needs a schedule or due time");
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = client
        .schedule_job(job("x", Some("someday"), None))
        .await
        .expect_err("bad due time");
    assert_eq!(status.code(), Code::InvalidArgument);

    client
        .schedule_job(job("later", Some("1h"), None))
        .await
        .expect("schedule");
    let status = client
        .schedule_job(job("later", Some("2h"), None))
        .await
        .expect_err("exists");
    assert_eq!(status.code(), Code::AlreadyExists);
    let mut overwrite = job("later", Some("2030-01-01T00:00:00Z"), None);
    overwrite.overwrite = true;
    #[allow(deprecated)] // daprd ≤ 1.17 only has the Alpha1 RPC
    client
        .schedule_job_alpha1(overwrite)
        .await
        .expect("overwrite");
    assert_eq!(
        double.job("later").and_then(|j| j.due_time).as_deref(),
        Some("2030-01-01T00:00:00Z")
    );

    client
        .schedule_job(job("cron", None, Some("0 30 * * * *")))
        .await
        .expect("cron is stored");
    assert_eq!(double.jobs().len(), 2);

    client
        .delete_job(DeleteJobRequest {
            name: "later".to_owned(),
        })
        .await
        .expect("delete");
    assert_eq!(
        double
            .jobs()
            .iter()
            .map(|j| j.name.as_str())
            .collect::<Vec<_>>(),
        ["cron"]
    );
}

#[tokio::test]
async fn alpha_fallback_not_found_and_failure_policy() {
    let options = AppOptions {
        stable_unimplemented: true,
        ..Default::default()
    };
    let (double, app) = start(fast(), options).await;
    let mut client = client(&double).await;

    // Only the Alpha service answers; NotFound counts as done.
    client
        .schedule_job(job("gone", None, Some("@every 1h")))
        .await
        .expect("schedule");
    app.answer_jobs([Code::NotFound]);
    let trigger = double.trigger_job_now("gone").await.expect("trigger");
    assert_eq!(trigger.method, "OnJobEventAlpha1");
    assert_eq!(trigger.outcome, JobOutcome::NotFound);
    assert_eq!(trigger.attempts, 1);
    assert!(double.job("gone").is_some(), "a repeating job stays");

    // Failures are retried with the (scaled-down) default policy: 3 retries.
    app.answer_jobs([Code::Internal, Code::Unavailable]);
    let trigger = double.trigger_job_now("gone").await.expect("trigger");
    assert_eq!(trigger.outcome, JobOutcome::Succeeded);
    assert_eq!(trigger.attempts, 3);
    app.answer_jobs([Code::Internal; 4]);
    let trigger = double.trigger_job_now("gone").await.expect("trigger");
    assert_eq!(trigger.outcome, JobOutcome::Failed);
    assert_eq!(trigger.attempts, 4);
    assert_eq!(trigger.last_code, Code::Internal);
    assert_eq!(double.job_triggers().len(), 3);
    assert!(double.trigger_job_now("nope").await.is_err());
}
