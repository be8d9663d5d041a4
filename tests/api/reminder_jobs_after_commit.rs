//! A delivery never calls the sidecar inside its transaction: it marks the reminder, and the
//! job worker schedules or deletes the Dapr job after the commit, once the sidecar answers.

use std::sync::Arc;

use chrono::Duration;
use taskflow::clock::{Clock, ManualClock};
use taskflow::domain::TaskName;
use taskflow::proto::v1 as pb;
use taskflow::store::entity::reminder::{CANCELLED, FIRED, SCHEDULED};

use crate::both_backends;
use crate::helpers::deliver_from_outbox;
use crate::helpers::{Backend, TestApp, double, eventually, wired_to};
use crate::helpers::{due_task, notifications_of};

/// Delivers the last `event_type` event of `task` from the outbox, as daprd would.
async fn deliver_from(app: &TestApp, task: &pb::Task, event_type: &str) -> i32 {
    deliver_from_outbox(
        app,
        &task.name,
        event_type,
        Some("alice"),
        Some("app-token"),
    )
    .await
}

async fn reminder_of(app: &TestApp, name: &TaskName) -> taskflow::store::reminders::ReminderRow {
    taskflow::store::reminders::find(app.db().await.conn(), name)
        .await
        .expect("read")
        .expect("the task has a reminder row")
}

async fn deliveries_succeed_while_the_sidecar_is_down_and_jobs_follow(backend: Backend) {
    let double = double().await;
    let app = TestApp::spawn_with(backend, wired_to(&double)).await;
    double.set_app_addr(app.callback_addr());
    double.set_down(true);
    let mut alice = app.user("alice");
    let due = taskflow::clock::now() + Duration::hours(30);
    let task = due_task(&mut alice, "jobbed", due, None).await;
    let name = TaskName::parse(&task.name).expect("a name");
    let job_name = format!("reminder-{}", name.task);

    // Armed while every sidecar call fails: the delivery succeeds, the job is left to do.
    assert_eq!(
        deliver_from(&app, &task, "task.created").await,
        0,
        "SUCCESS"
    );
    let armed = reminder_of(&app, &name).await;
    assert_eq!(armed.state, SCHEDULED);
    assert!(armed.job_pending, "the job is still to be scheduled");
    assert!(double.job(&job_name).is_none());

    double.set_down(false);
    let job = eventually("the job scheduled after the sidecar is back", || async {
        let _ = app.reminders().sync_jobs().await;
        double.job(&job_name)
    })
    .await;
    assert_eq!(
        job.due_time.as_deref(),
        Some(
            (due - Duration::hours(24))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                .as_str()
        )
    );
    assert!(!reminder_of(&app, &name).await.job_pending);

    // Cancelled while the sidecar is down again: the job is deleted once it is back.
    double.set_down(true);
    alice
        .complete_task(pb::CompleteTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("complete");
    assert_eq!(
        deliver_from(&app, &task, "task.completed").await,
        0,
        "SUCCESS"
    );
    let cancelled = reminder_of(&app, &name).await;
    assert_eq!(cancelled.state, CANCELLED);
    assert!(cancelled.job_pending, "the job is still to be deleted");
    assert!(double.job(&job_name).is_some(), "not deleted yet");
    double.set_down(false);
    eventually("the job deleted after the sidecar is back", || async {
        let _ = app.reminders().sync_jobs().await;
        double.job(&job_name).is_none().then_some(())
    })
    .await;
    assert!(!reminder_of(&app, &name).await.job_pending);
}

async fn jobs_retry_triggers_until_taken_and_overdue_reminders_fire_anyway(backend: Backend) {
    use dapr::dapr::proto::common::v1::job_failure_policy::Policy;

    let double = double().await;
    let clock = Arc::new(ManualClock::new(taskflow::clock::now()));
    let app = TestApp::spawn_with_clock(backend, clock.clone(), wired_to(&double)).await;
    double.set_app_addr(app.callback_addr());
    let mut alice = app.user("alice");
    let due = clock.now() + Duration::hours(30);
    let task = due_task(&mut alice, "swept", due, None).await;
    let name = TaskName::parse(&task.name).expect("a name");
    assert_eq!(
        deliver_from(&app, &task, "task.created").await,
        0,
        "SUCCESS"
    );
    app.reminders()
        .sync_jobs()
        .await
        .expect("the job is scheduled");

    // A trigger the app cannot take is retried, every 10 s, with no limit.
    let job = double
        .job(&format!("reminder-{}", name.task))
        .expect("scheduled");
    let Some(Policy::Constant(constant)) = job.failure_policy.and_then(|p| p.policy) else {
        panic!("a constant failure policy: {job:?}");
    };
    assert_eq!(constant.interval.map(|d| d.seconds), Some(10));
    assert_eq!(constant.max_retries, None, "retried until taken");

    // No trigger comes: two minutes after its time, the sweep fires it, once, marked late.
    clock.advance(Duration::hours(6) + Duration::seconds(60));
    assert_eq!(
        app.reminders().fire_overdue().await.expect("swept"),
        0,
        "not overdue yet"
    );
    assert!(notifications_of(&app, &task).await.is_empty());
    clock.advance(Duration::seconds(61));
    app.reminders().fire_overdue().await.expect("swept");
    let notified = notifications_of(&app, &task).await;
    assert_eq!(notified.len(), 1, "{notified:?}");
    assert_eq!(reminder_of(&app, &name).await.state, FIRED);
    assert_eq!(app.reminders().fire_overdue().await.expect("swept"), 0);
    assert_eq!(notifications_of(&app, &task).await.len(), 1, "fired once");
}

both_backends!(
    deliveries_succeed_while_the_sidecar_is_down_and_jobs_follow,
    jobs_retry_triggers_until_taken_and_overdue_reminders_fire_anyway,
);
