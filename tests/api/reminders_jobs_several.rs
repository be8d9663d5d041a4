//! Several reminders and snoozes as Dapr jobs: one job per reminder, each fired once, all
//! deleted when the task is completed.

use std::sync::Arc;

use chrono::Duration;
use taskflow::clock::{Clock, ManualClock};
use taskflow::domain::TaskName;
use taskflow::proto::v1 as pb;

use crate::both_backends;
use crate::helpers::*;

async fn each_reminder_and_snooze_has_its_own_job(backend: Backend) {
    let double = double().await;
    double.set_auto_deliver(true);
    let clock = Arc::new(ManualClock::new(taskflow::clock::now()));
    let app = TestApp::spawn_with_clock(backend, clock.clone(), wired_to(&double)).await;
    double.set_app_addr(app.callback_addr());
    let mut alice = app.user("alice");
    let now = clock.now();
    let fixed = now + Duration::hours(2);
    let task = task_with(
        &mut alice,
        "jobbed",
        Some(now + Duration::hours(10)),
        vec![before(Duration::hours(1)), at(fixed)],
    )
    .await;
    let id = TaskName::parse(&task.name).expect("name").task;
    let relative = format!("reminder-{id}-{}", before_id(Duration::hours(1)));
    let absolute = format!("reminder-{id}-{}", at_id(fixed));
    for job in [&relative, &absolute] {
        assert!(
            job.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{job}"
        );
        eventually("the job", || async { double.job(job) }).await;
    }
    assert!(
        double.job(&format!("reminder-{id}")).is_none(),
        "no job for the default lead"
    );

    clock.advance(Duration::hours(2));
    let trigger = double.trigger_job_now(&absolute).await.expect("triggered");
    assert_eq!(
        trigger.outcome,
        dapr_double::JobOutcome::Succeeded,
        "{trigger:?}"
    );
    let written = notifications_of(&app, &task).await;
    assert_eq!(written.len(), 1);

    // Snoozing schedules a job of its own.
    let name = format!("users/alice/notifications/{}", written[0].id);
    notifications(&app, "alice")
        .snooze_notification(pb::SnoozeNotificationRequest {
            name,
            until_time: Some(pb::snooze_notification_request::UntilTime::Duration(
                prost_types::Duration {
                    seconds: 600,
                    nanos: 0,
                },
            )),
        })
        .await
        .expect("snooze");
    let snoozed = format!("reminder-{id}-snooze-{}", at_id(fixed));
    eventually("the snooze's job", || async { double.job(&snoozed) }).await;

    // Completing deletes every job of the task, the snooze's too.
    complete(&mut alice, &task.name).await;
    for job in [&relative, &snoozed] {
        eventually("the job deleted", || async {
            double.job(job).is_none().then_some(())
        })
        .await;
    }
    assert_eq!(notifications_of(&app, &task).await.len(), 1);
}

both_backends!(each_reminder_and_snooze_has_its_own_job);
