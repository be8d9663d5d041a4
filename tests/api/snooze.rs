//! SnoozeNotification: a reminder fires again later, once; snoozing again moves it;
//! completing the task cancels it; bad requests change nothing.

use chrono::Duration;
use taskflow::clock::Clock;
use taskflow::proto::{events::v1 as ev, v1 as pb};
use taskflow::store::entity::reminder::{CANCELLED, FIRED, SCHEDULED};
use tonic::Code;

use crate::both_backends;
use crate::helpers::*;

fn snooze_for(name: &str, d: Duration) -> pb::SnoozeNotificationRequest {
    pb::SnoozeNotificationRequest {
        name: name.to_owned(),
        until_time: Some(pb::snooze_notification_request::UntilTime::Duration(
            prost_types::Duration {
                seconds: d.num_seconds(),
                nanos: 0,
            },
        )),
    }
}

fn snooze_until(name: &str, t: chrono::DateTime<chrono::Utc>) -> pb::SnoozeNotificationRequest {
    pb::SnoozeNotificationRequest {
        name: name.to_owned(),
        until_time: Some(pb::snooze_notification_request::UntilTime::Until(
            timestamp(t),
        )),
    }
}

/// A task due in 5 h whose 1-hour reminder has fired: the task and its notification.
async fn fired(
    app: &TestApp,
    clock: &taskflow::clock::ManualClock,
) -> (pb::Task, pb::Notification) {
    let mut alice = app.user("alice");
    let due = clock.now() + Duration::hours(5);
    let task = task_with(
        &mut alice,
        "Call the bank",
        Some(due),
        vec![before(Duration::hours(1))],
    )
    .await;
    settled(app).await;
    clock.advance(Duration::hours(4) + Duration::seconds(1));
    assert_eq!(app.reminders().fire_due().await.expect("step"), 1);
    let listed = notifications(app, "alice")
        .list_notifications(pb::ListNotificationsRequest {
            parent: "users/alice".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .notifications;
    let notification = listed
        .into_iter()
        .next()
        .expect("the reminder's notification");
    assert_eq!(notification.due_time, Some(timestamp(due)));
    (task, notification)
}

async fn a_snoozed_reminder_fires_again_and_snoozing_twice_moves_it(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let (task, first) = fired(&app, &clock).await;
    let mut bell = notifications(&app, "alice");
    let snoozed = bell
        .snooze_notification(snooze_for(&first.name, Duration::minutes(30)))
        .await
        .expect("snooze")
        .into_inner();
    assert_eq!(
        snoozed.snooze_time,
        Some(timestamp(clock.now() + Duration::minutes(30)))
    );
    assert_eq!(snoozed.name, first.name);
    let snooze_id = format!("snooze-{}", before_id(Duration::hours(1)));
    assert_eq!(
        reminder_rows(&app, &task).await[&snooze_id].fire_at_us,
        micros(clock.now() + Duration::minutes(30))
    );

    // Snoozing again moves it: one snooze, at the new time.
    let until = clock.now() + Duration::minutes(50);
    let moved = bell
        .snooze_notification(snooze_until(&first.name, until))
        .await
        .expect("snooze again")
        .into_inner();
    assert_eq!(moved.snooze_time, Some(timestamp(until)));
    let rows = reminder_rows(&app, &task).await;
    assert_eq!(rows.len(), 2, "the reminder and its one snooze: {rows:?}");
    assert_eq!(rows[&snooze_id].fire_at_us, micros(until));
    assert_eq!(rows[&snooze_id].state, SCHEDULED);

    clock.advance(Duration::minutes(31));
    assert_eq!(app.reminders().fire_due().await.expect("step"), 0, "moved");
    clock.advance(Duration::minutes(20));
    assert_eq!(app.reminders().fire_due().await.expect("step"), 1);
    assert_eq!(app.reminders().fire_due().await.expect("step"), 0, "once");
    assert_eq!(reminder_rows(&app, &task).await[&snooze_id].state, FIRED);
    let written = notifications_of(&app, &task).await;
    assert_eq!(written.len(), 2);

    settled(&app).await;
    let triggered: Vec<ev::ReminderTriggered> = events_of(&app, "reminder.triggered").await;
    assert_eq!(triggered.len(), 2);
    assert!(triggered[1].snoozed && triggered[1].reminder_id == snooze_id);
    assert_eq!(
        triggered[1].reminder.as_ref().and_then(|r| r.when),
        before(Duration::hours(1)).when,
        "it says which reminder was snoozed"
    );
    let snoozes: Vec<ev::ReminderSnoozed> = events_of(&app, "reminder.snoozed").await;
    assert_eq!(snoozes.len(), 2);
    assert_eq!(snoozes[0].notification, first.name);
    assert_eq!(snoozes[1].fire_time, Some(timestamp(until)));

    // The second notification, from the snooze, can be snoozed too: it moves the same snooze.
    let listed = bell
        .list_notifications(pb::ListNotificationsRequest {
            parent: "users/alice".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .notifications;
    let second = &listed[0];
    assert_ne!(second.name, first.name);
    assert_eq!(second.reminder, first.reminder);
    bell.snooze_notification(snooze_for(&second.name, Duration::minutes(10)))
        .await
        .expect("snooze the repeat");
    assert_eq!(
        reminder_rows(&app, &task).await[&snooze_id].state,
        SCHEDULED
    );

    // Both snoozes are in the history, by the user.
    settled(&app).await;
    let history =
        taskflow::proto::v1::activity_service_client::ActivityServiceClient::with_interceptor(
            app.channel(),
            Metadata::new(&[("x-user-id", "alice")]),
        )
        .list_activities(pb::ListActivitiesRequest {
            parent: "users/alice".into(),
            filter: "type = REMINDER_SNOOZED".into(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .activities;
    assert_eq!(history.len(), 3);
    assert!(history.iter().all(|a| a.task == task.name
        && a.task_title == "Call the bank"
        && a.actor() == pb::Actor::User));
}

async fn completing_the_task_cancels_the_snoozed_reminder(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let (task, first) = fired(&app, &clock).await;
    let mut bell = notifications(&app, "alice");
    bell.snooze_notification(snooze_for(&first.name, Duration::minutes(30)))
        .await
        .expect("snooze");
    let mut alice = app.user("alice");
    complete(&mut alice, &task.name).await;
    settled(&app).await;
    let snooze_id = format!("snooze-{}", before_id(Duration::hours(1)));
    assert_eq!(
        reminder_rows(&app, &task).await[&snooze_id].state,
        CANCELLED
    );
    clock.advance(Duration::hours(1));
    assert_eq!(app.reminders().fire_due().await.expect("step"), 0);
    assert_eq!(notifications_of(&app, &task).await.len(), 1);

    let status = bell
        .snooze_notification(snooze_for(&first.name, Duration::minutes(30)))
        .await
        .expect_err("a completed task's reminder");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(
        reminder_rows(&app, &task).await[&snooze_id].state,
        CANCELLED
    );
}

async fn bad_snoozes_are_refused_and_change_nothing(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let (task, first) = fired(&app, &clock).await;
    let mut bell = notifications(&app, "alice");
    let unset = pb::SnoozeNotificationRequest {
        name: first.name.clone(),
        until_time: None,
    };
    let cases = [
        (unset, "duration"),
        (snooze_for(&first.name, Duration::zero()), "duration"),
        (snooze_for(&first.name, Duration::days(400)), "duration"),
        (
            snooze_until(&first.name, clock.now() - Duration::minutes(1)),
            "until",
        ),
        (
            snooze_for("users/alice/notifications/nope", Duration::hours(1)),
            "name",
        ),
    ];
    for (request, field) in cases {
        let status = bell
            .snooze_notification(request)
            .await
            .expect_err("refused");
        assert_invalid(&status, field);
    }
    let missing = format!("users/alice/notifications/{}", uuid::Uuid::now_v7());
    let status = bell
        .snooze_notification(snooze_for(&missing, Duration::hours(1)))
        .await
        .expect_err("no such notification");
    assert_eq!(status.code(), Code::NotFound);
    let status = notifications(&app, "bob")
        .snooze_notification(snooze_for(&first.name, Duration::hours(1)))
        .await
        .expect_err("not bob's");
    assert_eq!(status.code(), Code::PermissionDenied);
    // A notification whose task is gone (written straight to the store) cannot be snoozed.
    let stray = record(&app.db().await, &app.hub(), "alice", "stray", clock.now()).await;
    let status = bell
        .snooze_notification(snooze_for(&stray.name(), Duration::hours(1)))
        .await
        .expect_err("no task");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");

    assert_eq!(
        reminder_rows(&app, &task).await.len(),
        1,
        "no snooze was armed"
    );
    let unchanged = bell
        .mark_notification_read(pb::MarkNotificationReadRequest {
            name: first.name.clone(),
        })
        .await
        .expect("read")
        .into_inner();
    assert_eq!(unchanged.snooze_time, None);
}

both_backends!(
    a_snoozed_reminder_fires_again_and_snoozing_twice_moves_it,
    completing_the_task_cancels_the_snoozed_reminder,
    bad_snoozes_are_refused_and_change_nothing,
);
