//! Reminders: armed from task events, fired at due − lead by the local loop (driven by a manual
//! clock) or by Dapr jobs (the sidecar double), into one notification and one event.

use std::sync::Arc;

use chrono::Duration;
use prost::Message;
use sea_orm::EntityTrait;
use taskflow::clock::{Clock, ManualClock};
use taskflow::domain::TaskName;
use taskflow::proto::{events::v1 as ev, v1 as pb};
use taskflow::reminders::Fired;
use taskflow::store::entity::reminder;

use crate::both_backends;
use crate::helpers::*;

pub(crate) async fn reminder_of(app: &TestApp, task: &pb::Task) -> Option<reminder::Model> {
    let id = TaskName::parse(&task.name).expect("a name").task.as_uuid();
    reminder::Entity::find_by_id((id, "lead".to_owned()))
        .one(app.db().await.conn())
        .await
        .expect("read")
}

async fn fires_a_day_ahead_into_one_notification_and_event(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let mut alice = app.user("alice");
    let now = clock.now();
    let due = now + Duration::hours(30);
    let task = due_task(&mut alice, "File the report", due, None).await;
    settled(&app).await;
    let armed = reminder_of(&app, &task).await.expect("armed");
    assert_eq!(armed.fire_at_us, micros(due - Duration::hours(24)));
    assert_eq!(armed.state, reminder::SCHEDULED);
    let rows = outbox_rows(&app.db().await).await;
    let scheduled = rows
        .iter()
        .find(|r| r.event_type == "reminder.scheduled")
        .expect("reminder.scheduled");
    assert_eq!(scheduled.topic, "reminders");
    let payload = ev::ReminderScheduled::decode(scheduled.payload.as_slice()).expect("decodes");
    assert_eq!(
        payload.fire_time,
        Some(timestamp(due - Duration::hours(24)))
    );

    clock.advance(Duration::hours(5));
    assert_eq!(
        app.reminders().fire_due().await.expect("step"),
        0,
        "not yet"
    );
    assert!(notifications_of(&app, &task).await.is_empty());

    clock.advance(Duration::hours(1) + Duration::seconds(1));
    assert_eq!(app.reminders().fire_due().await.expect("step"), 1);
    app.drain_events().await;
    let fired = notifications_of(&app, &task).await;
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].title, "Reminder: File the report");
    assert_eq!(fired[0].user_id, "alice");
    let rows = outbox_rows(&app.db().await).await;
    let triggered: Vec<ev::ReminderTriggered> = rows
        .iter()
        .filter(|r| r.event_type == "reminder.triggered")
        .map(|r| ev::ReminderTriggered::decode(r.payload.as_slice()).expect("decodes"))
        .collect();
    assert_eq!(triggered.len(), 1);
    assert!(!triggered[0].late);
    assert_eq!(triggered[0].task, task.name);
    assert_eq!(
        reminder_of(&app, &task).await.expect("row").state,
        reminder::FIRED
    );
}

async fn lead_rules_decide_whether_and_when(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let mut alice = app.user("alice");
    let now = clock.now();
    let soon = due_task(&mut alice, "soon", now + Duration::hours(20), None).await;
    let own = due_task(
        &mut alice,
        "own lead",
        now + Duration::hours(2),
        Some(Duration::hours(1)),
    )
    .await;
    let none = due_task(
        &mut alice,
        "no reminder",
        now + Duration::hours(48),
        Some(Duration::zero()),
    )
    .await;
    let undated = create(&mut alice, "alice", titled("undated")).await;
    settled(&app).await;
    assert!(
        reminder_of(&app, &soon).await.is_none(),
        "due sooner than the default lead"
    );
    assert_eq!(
        reminder_of(&app, &own).await.expect("armed").fire_at_us,
        micros(now + Duration::hours(1))
    );
    assert!(reminder_of(&app, &none).await.is_none(), "remind_before 0");
    assert!(reminder_of(&app, &undated).await.is_none());
    assert_eq!(
        own.remind_before,
        Some(prost_types::Duration {
            seconds: 3600,
            nanos: 0
        })
    );
}

async fn completing_or_deleting_cancels_and_reopening_rearms(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let mut alice = app.user("alice");
    let due = clock.now() + Duration::hours(30);
    let done = due_task(&mut alice, "done", due, None).await;
    let gone = due_task(&mut alice, "gone", due, None).await;
    settled(&app).await;
    alice
        .complete_task(pb::CompleteTaskRequest {
            name: done.name.clone(),
        })
        .await
        .expect("complete");
    alice
        .delete_task(pb::DeleteTaskRequest {
            name: gone.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("delete");
    settled(&app).await;
    assert_eq!(
        reminder_of(&app, &done).await.expect("row").state,
        reminder::CANCELLED
    );
    assert_eq!(
        reminder_of(&app, &gone).await.expect("row").state,
        reminder::CANCELLED
    );

    clock.advance(Duration::hours(7));
    assert_eq!(app.reminders().fire_due().await.expect("step"), 0);
    assert!(
        notifications_of(&app, &done).await.is_empty()
            && notifications_of(&app, &gone).await.is_empty()
    );

    alice
        .reopen_task(pb::ReopenTaskRequest {
            name: done.name.clone(),
        })
        .await
        .expect("reopen");
    settled(&app).await;
    // Reopened 7 h later, the task is due in 23 h: less than the default lead, so no reminder.
    assert_eq!(
        reminder_of(&app, &done).await.expect("row").state,
        reminder::CANCELLED
    );
    // With its own lead it is armed again.
    alice
        .update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                name: done.name.clone(),
                remind_before: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["remind_before".into()],
            }),
        })
        .await
        .expect("update");
    settled(&app).await;
    let rearmed = reminder_of(&app, &done).await.expect("row");
    assert_eq!(rearmed.state, reminder::SCHEDULED);
    assert_eq!(rearmed.fire_at_us, micros(due - Duration::hours(1)));
}

async fn moving_the_due_time_moves_the_reminder(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let mut alice = app.user("alice");
    let now = clock.now();
    let task = due_task(&mut alice, "moving", now + Duration::hours(30), None).await;
    settled(&app).await;
    let later = now + Duration::hours(50);
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
    settled(&app).await;
    assert_eq!(
        reminder_of(&app, &task).await.expect("row").fire_at_us,
        micros(later - Duration::hours(24))
    );

    clock.advance(Duration::hours(7)); // past the old time
    assert_eq!(app.reminders().fire_due().await.expect("step"), 0);
    // A trigger for the old due time (a stale job) does nothing either.
    let name = TaskName::parse(&task.name).expect("name");
    let stale = app
        .reminders()
        .fire(&name, now + Duration::hours(30), now + Duration::hours(6))
        .await
        .expect("stale trigger");
    assert_eq!(stale, Fired::Nothing);

    clock.advance(Duration::hours(20)); // past the new time
    app.reminders().fire_due().await.expect("step");
    let fired = notifications_of(&app, &task).await;
    assert_eq!(fired.len(), 1);
}

async fn a_repeated_trigger_gives_one_notification(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let mut alice = app.user("alice");
    let due = clock.now() + Duration::hours(30);
    let task = due_task(&mut alice, "once", due, None).await;
    settled(&app).await;
    clock.advance(Duration::hours(6));
    let name = TaskName::parse(&task.name).expect("name");
    let fire_at = due - Duration::hours(24);
    let (first, second) = tokio::join!(
        app.reminders().fire(&name, due, fire_at),
        app.reminders().fire(&name, due, fire_at)
    );
    // The scheduler's own loop races these triggers too: at most one of them notifies.
    let outcomes = [first.expect("first"), second.expect("second")];
    assert!(
        outcomes
            .iter()
            .filter(|f| matches!(f, Fired::Notified(_)))
            .count()
            <= 1,
        "{outcomes:?}"
    );
    let third = app
        .reminders()
        .fire(&name, due, fire_at)
        .await
        .expect("third");
    assert_eq!(third, Fired::Nothing);
    assert_eq!(app.reminders().fire_due().await.expect("step"), 0);
    assert_eq!(
        notifications_of(&app, &task).await.len(),
        1,
        "exactly one notification"
    );
}

async fn reminders_missed_while_down_fire_late_at_start(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let mut alice = app.user("alice");
    let due = clock.now() + Duration::hours(30);
    let task = due_task(&mut alice, "missed", due, None).await;
    settled(&app).await;
    let url = app.database_url.clone();
    let db = app.stop().await.expect("the database outlives the server");

    // Ten hours pass while nothing runs; then the service starts again on the same database.
    clock.advance(Duration::hours(10));
    let restarted = TestApp::resume(db, url, clock.clone()).await;
    // Firing at start is the restarted server's own doing: wait for it.
    let fired = eventually("the late reminder", || async {
        let n = notifications_of(&restarted, &task).await;
        (!n.is_empty()).then_some(n)
    })
    .await;
    assert_eq!(fired.len(), 1);
    restarted.drain_events().await;
    let rows = outbox_rows(&restarted.db().await).await;
    let triggered = rows
        .iter()
        .find(|r| r.event_type == "reminder.triggered")
        .map(|r| ev::ReminderTriggered::decode(r.payload.as_slice()).expect("decodes"))
        .expect("reminder.triggered");
    assert!(triggered.late, "it fired 4 hours after its time");
}

both_backends!(
    fires_a_day_ahead_into_one_notification_and_event,
    lead_rules_decide_whether_and_when,
    completing_or_deleting_cancels_and_reopening_rearms,
    moving_the_due_time_moves_the_reminder,
    a_repeated_trigger_gives_one_notification,
    reminders_missed_while_down_fire_late_at_start,
    a_fired_reminder_reaches_the_owners_watcher_live,
);

/// The whole path a user sees: a watcher is open, the reminder's time comes, and the
/// notification arrives on the stream — for its owner only.
async fn a_fired_reminder_reaches_the_owners_watcher_live(backend: Backend) {
    use taskflow::proto::v1::notification_service_client::NotificationServiceClient;
    let (app, clock) = clocked(backend).await;
    let mut alice = app.user("alice");
    let task = due_task(
        &mut alice,
        "Call the bank",
        clock.now() + Duration::hours(30),
        None,
    )
    .await;
    settled(&app).await;
    let watch = |user: &str| {
        NotificationServiceClient::with_interceptor(
            app.channel(),
            crate::helpers::Metadata::new(&[("x-user-id", user)]),
        )
    };
    let mut stream = watch("alice")
        .watch_notifications(pb::WatchNotificationsRequest {
            parent: "users/alice".into(),
            since: None,
        })
        .await
        .expect("watching")
        .into_inner();
    let mut bobs = watch("bob")
        .watch_notifications(pb::WatchNotificationsRequest {
            parent: "users/bob".into(),
            since: None,
        })
        .await
        .expect("bob watching")
        .into_inner();
    clock.advance(Duration::hours(7));
    assert_eq!(app.reminders().fire_due().await.expect("step"), 1);
    let live = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
        .await
        .expect("arrives in time")
        .expect("a message")
        .expect("a notification");
    assert_eq!(live.task, task.name);
    assert_eq!(live.kind, pb::NotificationKind::Reminder as i32);
    assert_eq!(live.title, "Reminder: Call the bank");
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(300), bobs.message()).await;
    assert!(quiet.is_err(), "bob's watcher gets nothing: {quiet:?}");
}

/// Two replicas with the same clock: the due reminder fires exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_fire_a_reminder_once() {
    let clock = Arc::new(ManualClock::new(taskflow::clock::now()));
    let first = TestApp::spawn_with_clock(Backend::Postgres, clock.clone(), |_| {}).await;
    let second = first.replica_with_clock(clock.clone(), |_| {}).await;
    let mut alice = first.user("alice");
    let mut tasks = Vec::new();
    for i in 0..10 {
        tasks.push(
            due_task(
                &mut alice,
                &format!("r{i}"),
                clock.now() + Duration::hours(30),
                None,
            )
            .await,
        );
    }
    // Either replica may be the relay: wait until it has handled everything.
    published_outbox(&first.db().await, None).await;
    clock.advance(Duration::hours(7));
    let (a, b) = tokio::join!(first.reminders().fire_due(), second.reminders().fire_due());
    assert!(a.expect("first") + b.expect("second") <= 10);
    // Both replicas' local loops race the two calls too; whoever claims a reminder fires it.
    for task in &tasks {
        let fired = eventually("the reminder", || async {
            let n = notifications_of(&first, task).await;
            (!n.is_empty()).then_some(n)
        })
        .await;
        assert_eq!(fired.len(), 1);
    }
    // Either replica may be the relay: wait for the one that is.
    let rows = published_outbox(&first.db().await, None).await;
    assert_eq!(
        rows.iter()
            .filter(|r| r.event_type == "reminder.triggered")
            .count(),
        10
    );
}
