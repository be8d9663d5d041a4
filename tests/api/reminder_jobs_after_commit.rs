//! A delivery never calls the sidecar inside its transaction: it marks the reminder, and the
//! job worker schedules or deletes the Dapr job after the commit, once the sidecar answers.

use chrono::Duration;
use taskflow::domain::TaskName;
use taskflow::proto::v1 as pb;
use taskflow::store::entity::reminder::{CANCELLED, SCHEDULED};

use crate::both_backends;
use crate::callback::{callback_client, deliver, delivery};
use crate::helpers::{Backend, TestApp, double, eventually, outbox_rows, wired_to};
use crate::reminders::due_task;

/// Delivers the last `event_type` event of `task` from the outbox, as daprd would.
async fn deliver_from_outbox(app: &TestApp, task: &pb::Task, event_type: &str) -> i32 {
    let rows = outbox_rows(&app.db().await).await;
    let row = rows
        .iter()
        .rev()
        .find(|r| r.event_type == event_type && r.subject == task.name)
        .expect("the event is in the outbox");
    let event = delivery(
        "tasks",
        &row.event_id.to_string(),
        event_type,
        "application/protobuf",
        row.payload.clone(),
    );
    let mut callbacks = callback_client(app).await;
    deliver(&mut callbacks, event, Some("alice"), Some("app-token"))
        .await
        .expect("answered")
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
        deliver_from_outbox(&app, &task, "task.created").await,
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
        deliver_from_outbox(&app, &task, "task.completed").await,
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

both_backends!(deliveries_succeed_while_the_sidecar_is_down_and_jobs_follow);
