//! The README's walkthrough of a task with two reminders and a snooze, run with grpcurl as
//! written there (the `<id>`s filled in), under a clock the test moves.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use taskflow::clock::{Clock, ManualClock};

use crate::both_backends;
use crate::helpers::*;

fn time(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("a time")
        .with_timezone(&Utc)
}

async fn grpcurl_walks_through_two_reminders_and_a_snooze(backend: Backend) {
    let clock = Arc::new(ManualClock::new(time("2027-05-29T12:00:00Z")));
    let app = TestApp::spawn_with_manual_reminders(backend, clock.clone()).await;
    let addr = app.addr().to_string();
    let call = |body: String, method: &'static str| {
        let addr = addr.clone();
        async move {
            stdout_json(
                &grpcurl(&[
                    "-plaintext",
                    "-H",
                    "x-user-id: alice",
                    "-d",
                    &body,
                    &addr,
                    method,
                ])
                .await,
            )
        }
    };

    let created = call(
        r#"{
  "parent": "users/alice",
  "task": {"title": "Submit the tax return", "dueTime": "2027-05-31T17:00:00Z",
           "reminders": [{"beforeDue": "86400s"}, {"at": "2027-05-31T08:00:00Z"}]}
}"#
        .to_owned(),
        "taskflow.v1.TaskService/CreateTask",
    )
    .await;
    assert_eq!(
        created["reminders"],
        serde_json::json!([
            {"beforeDue": "86400s", "fireTime": "2027-05-30T17:00:00Z"},
            {"at": "2027-05-31T08:00:00Z", "fireTime": "2027-05-31T08:00:00Z"}
        ])
    );
    let task = created["name"].as_str().expect("a name").to_owned();
    settled(&app).await;

    clock.advance(time("2027-05-30T17:00:00Z") - clock.now());
    assert_eq!(app.reminders().fire_due().await.expect("fires"), 1);
    let listed = call(
        r#"{"parent": "users/alice", "unread_only": true}"#.to_owned(),
        "taskflow.v1.NotificationService/ListNotifications",
    )
    .await;
    let first = &listed["notifications"][0];
    assert_eq!(first["title"], "Reminder: Submit the tax return");
    assert_eq!(first["dueTime"], "2027-05-31T17:00:00Z");
    assert_eq!(
        first["reminder"],
        serde_json::json!({"beforeDue": "86400s", "fireTime": "2027-05-30T17:00:00Z"})
    );
    let name = first["name"].as_str().expect("a name").to_owned();

    let snoozed = call(
        r#"{"name": "users/alice/notifications/<id>", "duration": "7200s"}"#
            .replace("users/alice/notifications/<id>", &name),
        "taskflow.v1.NotificationService/SnoozeNotification",
    )
    .await;
    assert_eq!(snoozed["snoozeTime"], "2027-05-30T19:00:00Z");
    assert_eq!(snoozed["name"], first["name"]);
    // The other form of the README: until a time (snoozing again moves it).
    let moved = call(
        format!(r#"{{"name": "{name}", "until": "2027-05-30T21:00:00Z"}}"#),
        "taskflow.v1.NotificationService/SnoozeNotification",
    )
    .await;
    assert_eq!(moved["snoozeTime"], "2027-05-30T21:00:00Z");
    // And back to two hours, as the README leaves it.
    call(
        format!(r#"{{"name": "{name}", "duration": "7200s"}}"#),
        "taskflow.v1.NotificationService/SnoozeNotification",
    )
    .await;

    clock.advance(Duration::hours(2));
    assert_eq!(
        app.reminders().fire_due().await.expect("fires"),
        1,
        "at 19:00"
    );
    let listed = call(
        r#"{"parent": "users/alice", "unread_only": true}"#.to_owned(),
        "taskflow.v1.NotificationService/ListNotifications",
    )
    .await;
    assert_eq!(listed["notifications"].as_array().map(Vec::len), Some(2));

    call(
        r#"{"name": "users/alice/tasks/<task>"}"#.replace("users/alice/tasks/<task>", &task),
        "taskflow.v1.TaskService/CompleteTask",
    )
    .await;
    settled(&app).await;
    clock.advance(time("2027-05-31T09:00:00Z") - clock.now());
    assert_eq!(
        app.reminders().fire_due().await.expect("fires"),
        0,
        "08:00 was cancelled"
    );
}

both_backends!(grpcurl_walks_through_two_reminders_and_a_snooze);
