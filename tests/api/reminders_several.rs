//! Several reminders per task: relative (`before_due`) and absolute (`at`), each firing once
//! into a notification that carries the due time, moved and cancelled with the task, and the
//! older `remind_before` kept for tasks without them.

use chrono::Duration;
use taskflow::clock::Clock;
use taskflow::domain::TaskName;
use taskflow::proto::{events::v1 as ev, v1 as pb};
use taskflow::reminders::{Fired, Trigger};
use taskflow::store::entity::reminder::{CANCELLED, FIRED, SCHEDULED};

use crate::both_backends;
use crate::helpers::*;

async fn each_reminder_fires_once_into_a_notification_with_the_due_time(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let mut alice = app.user("alice");
    let now = clock.now();
    let due = now + Duration::hours(10);
    let early = now + Duration::hours(3);
    let task = task_with(
        &mut alice,
        "Submit the tax return",
        Some(due),
        vec![
            before(Duration::hours(2)),
            at(early),
            before(Duration::hours(1)),
        ],
    )
    .await;
    // Each comes back with when it fires.
    let fires: Vec<_> = task.reminders.iter().map(|r| r.fire_time).collect();
    assert_eq!(
        fires,
        vec![
            Some(timestamp(due - Duration::hours(2))),
            Some(timestamp(early)),
            Some(timestamp(due - Duration::hours(1)))
        ]
    );
    settled(&app).await;
    let rows = reminder_rows(&app, &task).await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.values().all(|r| r.state == SCHEDULED));
    assert_eq!(
        rows[&before_id(Duration::hours(2))].fire_at_us,
        micros(due - Duration::hours(2))
    );
    assert_eq!(rows[&at_id(early)].fire_at_us, micros(early));
    assert!(
        !rows.contains_key("lead"),
        "reminders replace the default lead"
    );
    let scheduled: Vec<ev::ReminderScheduled> = events_of(&app, "reminder.scheduled").await;
    assert_eq!(scheduled.len(), 3);

    clock.advance(Duration::hours(3) + Duration::seconds(1));
    assert_eq!(app.reminders().fire_due().await.expect("step"), 1);
    clock.advance(Duration::hours(5));
    assert_eq!(app.reminders().fire_due().await.expect("step"), 1);
    clock.advance(Duration::hours(1));
    assert_eq!(app.reminders().fire_due().await.expect("step"), 1);
    assert_eq!(app.reminders().fire_due().await.expect("step"), 0);
    // A repeated trigger of a fired reminder writes nothing.
    let name = TaskName::parse(&task.name).expect("name");
    let again = app
        .reminders()
        .fire_trigger(Trigger {
            task: name,
            reminder: at_id(early),
            due_at: Some(due),
            fire_at: early,
        })
        .await
        .expect("trigger");
    assert_eq!(again, Fired::Nothing);
    assert!(
        reminder_rows(&app, &task)
            .await
            .values()
            .all(|r| r.state == FIRED)
    );
    assert_eq!(notifications_of(&app, &task).await.len(), 3);

    let listed = notifications(&app, "alice")
        .list_notifications(pb::ListNotificationsRequest {
            parent: "users/alice".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .notifications;
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|n| n.due_time == Some(timestamp(due))));
    // Newest first: 1 h before, 2 h before, then the one at a fixed time.
    let whens: Vec<_> = listed
        .iter()
        .map(|n| n.reminder.as_ref().and_then(|r| r.when))
        .collect();
    assert_eq!(
        whens,
        vec![
            before(Duration::hours(1)).when,
            before(Duration::hours(2)).when,
            at(early).when
        ]
    );

    settled(&app).await;
    let triggered: Vec<ev::ReminderTriggered> = events_of(&app, "reminder.triggered").await;
    let mut ids: Vec<_> = triggered.iter().map(|t| t.reminder_id.clone()).collect();
    ids.sort();
    let mut expected = vec![
        at_id(early),
        before_id(Duration::hours(1)),
        before_id(Duration::hours(2)),
    ];
    expected.sort();
    assert_eq!(ids, expected, "each event says which reminder fired");
    assert!(triggered.iter().all(|t| t.reminder.is_some() && !t.snoozed));
    assert!(
        triggered
            .iter()
            .all(|t| t.notification.starts_with("users/alice/notifications/"))
    );
}

async fn moving_the_due_time_moves_the_relative_ones_only(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let mut alice = app.user("alice");
    let now = clock.now();
    let fixed = now + Duration::hours(2);
    let task = task_with(
        &mut alice,
        "moving",
        Some(now + Duration::hours(10)),
        vec![before(Duration::hours(1)), at(fixed)],
    )
    .await;
    settled(&app).await;
    let later = now + Duration::hours(20);
    let moved = alice
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
        .expect("update")
        .into_inner();
    assert_eq!(
        moved.reminders[0].fire_time,
        Some(timestamp(later - Duration::hours(1)))
    );
    settled(&app).await;
    let rows = reminder_rows(&app, &task).await;
    assert_eq!(
        rows[&before_id(Duration::hours(1))].fire_at_us,
        micros(later - Duration::hours(1))
    );
    assert_eq!(rows[&at_id(fixed)].fire_at_us, micros(fixed));
    let scheduled: Vec<ev::ReminderScheduled> = events_of(&app, "reminder.scheduled").await;
    assert_eq!(
        scheduled
            .iter()
            .filter(|s| s.reminder_id == at_id(fixed))
            .count(),
        1,
        "the fixed one was not armed again"
    );

    // The old time of the relative one passes: nothing fires but the fixed one.
    clock.advance(Duration::hours(9) + Duration::seconds(1));
    assert_eq!(app.reminders().fire_due().await.expect("step"), 1);
    clock.advance(Duration::hours(10));
    assert_eq!(app.reminders().fire_due().await.expect("step"), 1);
    assert_eq!(notifications_of(&app, &task).await.len(), 2);
}

async fn completing_or_deleting_cancels_them_all_and_undoing_rearms(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let mut alice = app.user("alice");
    let now = clock.now();
    let task = task_with(
        &mut alice,
        "two",
        Some(now + Duration::hours(10)),
        vec![before(Duration::hours(1)), at(now + Duration::hours(2))],
    )
    .await;
    settled(&app).await;
    let states = |rows: std::collections::BTreeMap<String, _>| {
        rows.values()
            .map(|r: &taskflow::store::entity::reminder::Model| r.state)
            .collect::<Vec<_>>()
    };
    alice
        .delete_task(pb::DeleteTaskRequest {
            name: task.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("delete");
    settled(&app).await;
    assert_eq!(
        states(reminder_rows(&app, &task).await),
        vec![CANCELLED, CANCELLED]
    );
    alice
        .undelete_task(pb::UndeleteTaskRequest {
            name: task.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("undelete");
    settled(&app).await;
    assert_eq!(
        states(reminder_rows(&app, &task).await),
        vec![SCHEDULED, SCHEDULED]
    );
    complete(&mut alice, &task.name).await;
    settled(&app).await;
    assert_eq!(
        states(reminder_rows(&app, &task).await),
        vec![CANCELLED, CANCELLED]
    );
    clock.advance(Duration::hours(12));
    assert_eq!(app.reminders().fire_due().await.expect("step"), 0);
    assert!(notifications_of(&app, &task).await.is_empty());
}

async fn reminders_replace_remind_before_until_cleared(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let mut alice = app.user("alice");
    let due = clock.now() + Duration::hours(10);
    let task = create(
        &mut alice,
        "alice",
        pb::Task {
            due_time: Some(timestamp(due)),
            remind_before: Some(prost_types::Duration {
                seconds: 3 * 3600,
                nanos: 0,
            }),
            reminders: vec![before(Duration::minutes(30))],
            ..titled("both")
        },
    )
    .await;
    assert_eq!(
        task.remind_before.as_ref().map(|d| d.seconds),
        Some(3 * 3600),
        "kept as set"
    );
    settled(&app).await;
    let rows = reminder_rows(&app, &task).await;
    assert_eq!(
        rows.keys().cloned().collect::<Vec<_>>(),
        vec![before_id(Duration::minutes(30))],
        "remind_before is ignored while reminders are set"
    );

    let cleared = set_reminders(&mut alice, &task, Vec::new())
        .await
        .expect("clear");
    assert!(cleared.reminders.is_empty());
    settled(&app).await;
    let rows = reminder_rows(&app, &task).await;
    assert_eq!(rows["lead"].state, SCHEDULED);
    assert_eq!(rows["lead"].fire_at_us, micros(due - Duration::hours(3)));
    assert_eq!(rows[&before_id(Duration::minutes(30))].state, CANCELLED);

    // The older form alone on a task without reminders still works as it did.
    let updated = alice
        .update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                name: task.name.clone(),
                remind_before: Some(prost_types::Duration {
                    seconds: 0,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await;
    assert!(updated.is_ok(), "{updated:?}");
    settled(&app).await;
    assert_eq!(reminder_rows(&app, &task).await["lead"].state, CANCELLED);
}

async fn bad_reminders_are_refused_naming_the_field_and_change_nothing(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let mut alice = app.user("alice");
    let now = clock.now();
    let due = now + Duration::hours(10);
    let refused = |reminders: Vec<pb::Reminder>| pb::CreateTaskRequest {
        parent: "users/alice".into(),
        task: Some(pb::Task {
            due_time: Some(timestamp(due)),
            reminders,
            ..titled("bad")
        }),
        request_id: String::new(),
    };
    let six: Vec<_> = (1..=6).map(|h| before(Duration::hours(h))).collect();
    let cases = [
        (six, "task.reminders[5]"),
        (
            vec![before(Duration::hours(1)), before(Duration::seconds(-60))],
            "task.reminders[1].before_due",
        ),
        (
            vec![pb::Reminder {
                when: None,
                fire_time: None,
            }],
            "task.reminders[0]",
        ),
        (
            vec![at(now + Duration::hours(1)), at(now + Duration::hours(1))],
            "task.reminders[1]",
        ),
        (
            vec![before(Duration::days(367))],
            "task.reminders[0].before_due",
        ),
    ];
    for (reminders, field) in cases {
        let status = alice
            .create_task(refused(reminders))
            .await
            .expect_err("refused");
        assert_invalid(&status, field);
    }
    assert!(
        list_all(&mut alice, "alice").await.is_empty(),
        "nothing made"
    );

    let task = task_with(
        &mut alice,
        "good",
        Some(due),
        vec![before(Duration::hours(1))],
    )
    .await;
    let status = set_reminders(&mut alice, &task, vec![before(Duration::seconds(-1))])
        .await
        .expect_err("refused");
    assert_invalid(&status, "task.reminders[0].before_due");
    let status = alice
        .update_task(pb::UpdateTaskRequest {
            task: Some(task.clone()),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["reminders.before_due".into()],
            }),
        })
        .await
        .expect_err("refused");
    assert_invalid(&status, "update_mask");
    let fetched = alice
        .get_task(pb::GetTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(fetched, task, "nothing changed");
}

async fn an_absolute_reminder_needs_no_due_time(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let mut alice = app.user("alice");
    let when = clock.now() + Duration::hours(1);
    let task = task_with(
        &mut alice,
        "undated",
        None,
        vec![at(when), before(Duration::hours(1))],
    )
    .await;
    assert_eq!(task.reminders[0].fire_time, Some(timestamp(when)));
    assert_eq!(task.reminders[1].fire_time, None, "no due time yet");
    settled(&app).await;
    let rows = reminder_rows(&app, &task).await;
    assert_eq!(rows.len(), 1, "only the absolute one: {rows:?}");
    assert_eq!(rows[&at_id(when)].due_at_us, None);
    clock.advance(Duration::hours(1));
    assert_eq!(app.reminders().fire_due().await.expect("step"), 1);
    let written = notifications_of(&app, &task).await;
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].due_us, None);
}

both_backends!(
    an_absolute_reminder_needs_no_due_time,
    each_reminder_fires_once_into_a_notification_with_the_due_time,
    moving_the_due_time_moves_the_relative_ones_only,
    completing_or_deleting_cancels_them_all_and_undoing_rearms,
    reminders_replace_remind_before_until_cleared,
    bad_reminders_are_refused_naming_the_field_and_change_nothing,
);
