//! Job failure policies as go-etcd-cron applies them: without one, 3 retries and the trigger
//! is dropped; `drop`; `constant` with and without `max_retries`; failed ticks count.

use std::time::Duration;

use dapr::dapr::proto::common::v1::job_failure_policy::Policy;
use dapr::dapr::proto::common::v1::{
    JobFailurePolicy, JobFailurePolicyConstant, JobFailurePolicyDrop,
};
use dapr::dapr::proto::runtime::v1::{Job, ScheduleJobRequest};
use dapr_double::{DaprDoubleConfig, JobOutcome, JobRetryPolicy};
use tonic::Code;

use crate::app::{AppOptions, WAIT};
use crate::{client, fast, start};

fn job(name: &str, schedule: &str, policy: Option<Policy>) -> ScheduleJobRequest {
    ScheduleJobRequest {
        job: Some(Job {
            name: name.to_owned(),
            schedule: Some(schedule.to_owned()),
            failure_policy: policy.map(|policy| JobFailurePolicy {
                policy: Some(policy),
            }),
            ..Default::default()
        }),
        overwrite: false,
    }
}

fn one_shot(name: &str, policy: Option<Policy>) -> ScheduleJobRequest {
    let mut request = job(name, "", policy);
    if let Some(job) = request.job.as_mut() {
        job.schedule = None;
        job.due_time = Some("0s".to_owned());
    }
    request
}

#[tokio::test]
async fn the_default_policy_is_one_second_three_retries() {
    assert_eq!(
        DaprDoubleConfig::default().job_failure_policy,
        JobRetryPolicy {
            interval: Duration::from_secs(1),
            max_retries: 3,
        }
    );
}

#[tokio::test]
async fn a_job_without_a_policy_is_dropped_after_three_failed_retries() {
    let (double, app) = start(fast(), AppOptions::default()).await;
    app.answer_jobs([Code::Internal; 10]);
    client(&double)
        .await
        .schedule_job(one_shot("remind", None))
        .await
        .expect("schedule");
    let triggers = double
        .wait_for_job_triggers(1, WAIT)
        .await
        .expect("triggered");
    assert_eq!(triggers[0].outcome, JobOutcome::Failed);
    assert_eq!(triggers[0].attempts, 4, "the first attempt and 3 retries");
    assert_eq!(triggers[0].last_code, Code::Internal);
    assert_eq!(app.state.job_events.len(), 4);
    assert!(double.jobs().is_empty(), "the one-shot job is gone");
}

#[tokio::test]
async fn drop_tries_once_and_constant_without_max_retries_never_gives_up() {
    let (double, app) = start(fast(), AppOptions::default()).await;
    let mut client = client(&double).await;
    client
        .schedule_job(job(
            "drop",
            "@every 1h",
            Some(Policy::Drop(JobFailurePolicyDrop {})),
        ))
        .await
        .expect("schedule");
    app.answer_jobs([Code::Unavailable]);
    let trigger = double.trigger_job_now("drop").await.expect("trigger");
    assert_eq!((trigger.outcome, trigger.attempts), (JobOutcome::Failed, 1));

    let forever = Policy::Constant(JobFailurePolicyConstant {
        interval: Some(prost_types::Duration {
            seconds: 0,
            nanos: 2_000_000,
        }),
        max_retries: None,
    });
    client
        .schedule_job(job("forever", "@every 1h", Some(forever)))
        .await
        .expect("schedule");
    app.answer_jobs([Code::Internal; 12]);
    let trigger = double.trigger_job_now("forever").await.expect("trigger");
    assert_eq!(
        (trigger.outcome, trigger.attempts),
        (JobOutcome::Succeeded, 13)
    );

    let twice = Policy::Constant(JobFailurePolicyConstant {
        interval: None,
        max_retries: Some(2),
    });
    client
        .schedule_job(job("twice", "@every 1h", Some(twice)))
        .await
        .expect("schedule");
    app.answer_jobs([Code::Internal; 5]);
    let trigger = double.trigger_job_now("twice").await.expect("trigger");
    assert_eq!((trigger.outcome, trigger.attempts), (JobOutcome::Failed, 3));
}

#[tokio::test]
async fn failed_ticks_count_towards_repeats() {
    let (double, app) = start(fast(), AppOptions::default()).await;
    let mut request = job(
        "twice",
        "@every 0.05s",
        Some(Policy::Drop(JobFailurePolicyDrop {})),
    );
    if let Some(job) = request.job.as_mut() {
        job.repeats = Some(2);
    }
    app.answer_jobs([Code::Internal, Code::Internal]);
    client(&double)
        .await
        .schedule_job(request)
        .await
        .expect("schedule");
    let triggers = double
        .wait_for_job_triggers(2, WAIT)
        .await
        .expect("two ticks");
    assert!(triggers.iter().all(|t| t.outcome == JobOutcome::Failed));
    assert!(
        double.jobs().is_empty(),
        "done after its two (failed) ticks"
    );
    assert_eq!(app.state.job_events.len(), 2);
}
