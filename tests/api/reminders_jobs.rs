//! Reminders as Dapr jobs, against the sidecar double: scheduled, overwritten, deleted, called
//! back, and the `*Alpha1` calls of older sidecars.

use std::sync::Arc;

use chrono::Duration;
use prost::Message;
use taskflow::clock::{Clock, ManualClock};
use taskflow::domain::TaskName;
use taskflow::proto::{events::v1 as ev, v1 as pb};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, double, eventually, wired_to};
use crate::helpers::{due_task, notifications_of, timestamp};

async fn dapr_jobs_schedule_overwrite_delete_and_call_back(backend: Backend) {
    let double = double().await;
    double.set_auto_deliver(true);
    let clock = Arc::new(ManualClock::new(taskflow::clock::now()));
    let app = TestApp::spawn_with_clock(backend, clock.clone(), wired_to(&double)).await;
    double.set_app_addr(app.callback_addr());
    let mut alice = app.user("alice");
    let now = clock.now();
    let due = now + Duration::hours(30);
    let task = due_task(&mut alice, "jobbed", due, None).await;
    let name = TaskName::parse(&task.name).expect("name");
    let job_name = format!("reminder-{}", name.task);
    let job = eventually("the job", || async { double.job(&job_name) }).await;
    assert_eq!(
        job.due_time.as_deref(),
        Some(
            (due - Duration::hours(24))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                .as_str()
        )
    );
    let data = job.data.clone().expect("job data");
    assert_eq!(
        data.type_url,
        "type.googleapis.com/taskflow.events.v1.ReminderScheduled"
    );
    assert_eq!(
        ev::ReminderScheduled::decode(data.value.as_slice())
            .expect("decodes")
            .task,
        task.name
    );

    // Moving the due time overwrites the job.
    let later = now + Duration::hours(40);
    alice
        .update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                name: task.name.clone(),
                due_time: Some(timestamp(later)),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["due_time".into()],
            }),
        })
        .await
        .expect("update");
    let expected = (later - Duration::hours(24)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    eventually("the overwritten job", || async {
        double
            .job(&job_name)
            .filter(|j| j.due_time.as_deref() == Some(expected.as_str()))
    })
    .await;

    // The sidecar calls back at the due time: one notification.
    clock.advance(Duration::hours(17));
    let trigger = double.trigger_job_now(&job_name).await.expect("triggered");
    assert_eq!(
        trigger.outcome,
        dapr_double::JobOutcome::Succeeded,
        "{trigger:?}"
    );
    assert_eq!(notifications_of(&app, &task).await.len(), 1);

    // Completing deletes the job; a trigger for a deleted task's job is NotFound (done).
    let other = due_task(&mut alice, "other", now + Duration::hours(60), None).await;
    let other_job = format!(
        "reminder-{}",
        TaskName::parse(&other.name).expect("name").task
    );
    eventually("the other job", || async { double.job(&other_job) }).await;
    alice
        .complete_task(pb::CompleteTaskRequest {
            name: other.name.clone(),
        })
        .await
        .expect("complete");
    eventually("the job deleted", || async {
        double.job(&other_job).is_none().then_some(())
    })
    .await;

    // A job whose task no longer exists is answered NotFound, which the scheduler counts as done.
    let stray =
        TaskName::parse(&format!("users/alice/tasks/{}", uuid::Uuid::now_v7())).expect("name");
    let scheduled = ev::ReminderScheduled {
        context: None,
        task: stray.to_string(),
        fire_time: Some(timestamp(now)),
        due_time: Some(timestamp(due)),
        reminder_id: String::new(),
    };
    let mut callback =
        dapr::dapr::proto::runtime::v1::app_callback_client::AppCallbackClient::connect(format!(
            "http://{}",
            app.callback_addr()
        ))
        .await
        .expect("connects");
    let mut request = tonic::Request::new(dapr::dapr::proto::runtime::v1::JobEventRequest {
        name: format!("reminder-{}", stray.task),
        data: Some(prost_types::Any {
            type_url: "type.googleapis.com/taskflow.events.v1.ReminderScheduled".into(),
            value: scheduled.encode_to_vec(),
        }),
        method: format!("job/reminder-{}", stray.task),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("dapr-api-token", "app-token".parse().expect("ascii"));
    let status = callback
        .on_job_event(request)
        .await
        .expect_err("no such task");
    assert_eq!(status.code(), tonic::Code::NotFound);
}

/// Sidecars older than 1.18 have only the `*Alpha1` Jobs calls: reminders still get scheduled
/// and cancelled there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_sidecars_get_the_alpha_jobs_calls() {
    let double = double().await;
    double.set_stable_jobs_unimplemented(true);
    let clock = Arc::new(ManualClock::new(taskflow::clock::now()));
    let app = TestApp::spawn_with_clock(Backend::Sqlite, clock.clone(), wired_to(&double)).await;
    double.set_app_addr(app.callback_addr());
    let mut alice = app.user("alice");
    let task = due_task(&mut alice, "alpha", clock.now() + Duration::hours(30), None).await;
    let job_name = format!(
        "reminder-{}",
        TaskName::parse(&task.name).expect("name").task
    );
    eventually("the job through ScheduleJobAlpha1", || async {
        double.job(&job_name)
    })
    .await;
    alice
        .delete_task(pb::DeleteTaskRequest {
            name: task.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("delete");
    eventually("the job deleted through DeleteJobAlpha1", || async {
        double.job(&job_name).is_none().then_some(())
    })
    .await;
}

both_backends!(dapr_jobs_schedule_overwrite_delete_and_call_back);
