//! The activity history: one entry per task event, written by the handlers exactly once, with
//! the task's title then and, for updates, each changed field before and after; listed newest
//! first, filtered by type, task and time, in keyset pages; in embedded and in Dapr mode.

use std::time::Duration;

use taskflow::proto::v1::{self as pb, activity_service_client::ActivityServiceClient};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::both_backends;
use crate::helpers::*;

type Activities = ActivityServiceClient<InterceptedService<Channel, Metadata>>;

fn history(app: &TestApp, user: &str) -> Activities {
    ActivityServiceClient::with_interceptor(app.channel(), Metadata::new(&[("x-user-id", user)]))
}

fn request(filter: &str, order_by: &str, page_size: i32, token: &str) -> pb::ListActivitiesRequest {
    pb::ListActivitiesRequest {
        parent: "users/alice".into(),
        page_size,
        page_token: token.into(),
        filter: filter.into(),
        order_by: order_by.into(),
    }
}

/// Every entry that matches, page by page.
async fn all(client: &mut Activities, filter: &str, order_by: &str) -> Vec<pb::Activity> {
    let mut token = String::new();
    let mut entries = Vec::new();
    loop {
        let page = client
            .list_activities(request(filter, order_by, 2, &token))
            .await
            .expect("a page")
            .into_inner();
        entries.extend(page.activities);
        if page.next_page_token.is_empty() {
            return entries;
        }
        token = page.next_page_token;
    }
}

fn types(entries: &[pb::Activity]) -> Vec<pb::ActivityType> {
    entries.iter().map(|e| e.r#type()).collect()
}

fn string(value: &Option<prost_types::Value>) -> Option<&str> {
    match value.as_ref()?.kind.as_ref()? {
        prost_types::value::Kind::StringValue(s) => Some(s),
        _ => None,
    }
}

/// A recurring task's life: created, its due date moved and renamed, completed (the next
/// occurrence follows), deleted and undeleted.
async fn live_a_task(alice: &mut Client) -> pb::Task {
    let task = create(alice, "alice", water_plants(pb::Frequency::Daily)).await;
    alice
        .update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                name: task.name.clone(),
                title: "Water the ferns".into(),
                due_time: Some(ts("2027-06-03T09:00:00Z")),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into(), "due_time".into()],
            }),
        })
        .await
        .expect("update");
    complete(alice, &task.name).await;
    alice
        .delete_task(pb::DeleteTaskRequest {
            name: task.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("delete");
    alice
        .undelete_task(pb::UndeleteTaskRequest {
            name: task.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("undelete");
    task
}

async fn check_history(client: &mut Activities, task: &pb::Task) {
    use pb::ActivityType as T;
    let newest_first = all(client, "", "").await;
    assert_eq!(newest_first.len(), 6, "{newest_first:#?}");
    // The user's own, in the order they happened; the next occurrence comes when the
    // completion is handled, which may be after the delete.
    let by_user: Vec<pb::Activity> = newest_first
        .iter()
        .filter(|e| e.actor() == pb::Actor::User)
        .cloned()
        .collect();
    assert_eq!(
        types(&by_user),
        [
            T::TaskUndeleted,
            T::TaskDeleted,
            T::TaskCompleted,
            T::TaskUpdated,
            T::TaskCreated,
        ]
    );
    let times: Vec<_> = newest_first
        .iter()
        .map(|e| {
            let t = e.create_time.expect("a time");
            (t.seconds, t.nanos)
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let oldest_first = all(client, "", "create_time").await;
    let mut reversed = oldest_first.clone();
    reversed.reverse();
    assert_eq!(reversed, newest_first);
    let created = &oldest_first[0];
    assert_eq!(created.r#type(), T::TaskCreated);
    assert_eq!(created.actor(), pb::Actor::User);
    assert_eq!(created.task, task.name);
    assert_eq!(created.task_title, task.title, "the title at that moment");
    assert!(created.name.starts_with("users/alice/activities/"));

    // "When did I change this due date, from what?"
    let updates = all(
        client,
        &format!("task = \"{}\" AND type = TASK_UPDATED", task.name),
        "",
    )
    .await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].task_title, "Water the ferns");
    let change = |field: &str| {
        updates[0]
            .changes
            .iter()
            .find(|c| c.field == field)
            .unwrap_or_else(|| panic!("{field} changed: {:?}", updates[0].changes))
    };
    assert_eq!(
        string(&change("due_time").old_value),
        Some("2027-06-01T09:00:00Z")
    );
    assert_eq!(
        string(&change("due_time").new_value),
        Some("2027-06-03T09:00:00Z")
    );
    assert_eq!(
        string(&change("title").old_value),
        Some(task.title.as_str())
    );
    assert_eq!(string(&change("title").new_value), Some("Water the ferns"));

    // "What did I complete last week?"
    let completed = all(
        client,
        "type = TASK_COMPLETED AND create_time >= \"2026-01-01T00:00:00Z\"",
        "",
    )
    .await;
    assert_eq!(types(&completed), [T::TaskCompleted]);
    let next = newest_first
        .iter()
        .find(|e| e.r#type() == T::OccurrenceCreated)
        .expect("the next occurrence");
    assert_eq!(next.actor(), pb::Actor::Automation);
    assert_ne!(
        next.task, task.name,
        "the entry is about the new occurrence"
    );
    let none = all(client, "create_time < \"2020-01-01T00:00:00Z\"", "").await;
    assert!(none.is_empty());
}

async fn the_history_of_a_task_in_embedded_mode(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let task = live_a_task(&mut alice).await;
    app.drain_events().await;
    let mut client = history(&app, "alice");
    check_history(&mut client, &task).await;
}

async fn the_history_of_a_task_in_dapr_mode(backend: Backend) {
    let double = double().await;
    let app = TestApp::spawn_with_double(backend, &double).await;
    let mut alice = app.user("alice");
    let task = live_a_task(&mut alice).await;
    // Six task events and their deliveries back (plus the next occurrence's own).
    let mut client = history(&app, "alice");
    eventually_within("six entries", Duration::from_secs(20), || {
        let mut client = client.clone();
        async move {
            let page = client
                .list_activities(request("", "", 50, ""))
                .await
                .ok()?
                .into_inner();
            (page.activities.len() >= 6).then_some(())
        }
    })
    .await;
    check_history(&mut client, &task).await;
}

/// A redelivered event makes no second entry.
async fn an_event_delivered_twice_is_recorded_once(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, None).await;
    let (_, completion) = completed_in_the_outbox(&app, pb::Frequency::Daily).await;
    let mut callback = callback_client(&app).await;
    for _ in 0..3 {
        deliver(&mut callback, completion.clone(), None, None)
            .await
            .expect("delivered");
    }
    let mut client = history(&app, "alice");
    let completed = all(&mut client, "type = TASK_COMPLETED", "").await;
    assert_eq!(completed.len(), 1, "{completed:#?}");
    assert_eq!(completed[0].event_id, completion.id);
}

async fn bad_requests_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = history(&app, "alice");
    for (filter, order_by, field) in [
        ("type = TASK_EXPLODED", "", "filter"),
        ("title:\"x\"", "", "filter"),
        ("", "title", "order_by"),
    ] {
        let status = client
            .list_activities(request(filter, order_by, 10, ""))
            .await
            .expect_err("refused");
        assert_invalid(&status, field);
    }
    let status = client
        .list_activities(request("", "", -1, ""))
        .await
        .expect_err("refused");
    assert_invalid(&status, "page_size");
    let status = client
        .list_activities(request("", "", 10, "not-a-token"))
        .await
        .expect_err("refused");
    assert_invalid(&status, "page_token");
    let status = client
        .list_activities(pb::ListActivitiesRequest {
            parent: "users/bob".into(),
            ..Default::default()
        })
        .await
        .expect_err("another user's history");
    assert_eq!(status.code(), Code::PermissionDenied);
}

/// A reminder that fires is in the history, with the task's title then.
async fn a_fired_reminder_is_in_the_history(backend: Backend) {
    let (app, clock) = clocked(backend).await;
    let mut alice = app.user("alice");
    let due = chrono::Utc::now() + chrono::Duration::hours(3);
    let task = due_task(
        &mut alice,
        "Call mum",
        due,
        Some(chrono::Duration::hours(1)),
    )
    .await;
    settled(&app).await;
    clock.advance(chrono::Duration::hours(2) + chrono::Duration::minutes(1));
    assert_eq!(app.reminders().fire_due().await.expect("fires"), 1);
    settled(&app).await;
    let mut client = history(&app, "alice");
    let fired = all(&mut client, "type = REMINDER_FIRED", "").await;
    assert_eq!(fired.len(), 1, "{fired:#?}");
    assert_eq!(fired[0].task, task.name);
    assert_eq!(fired[0].task_title, "Call mum");
    assert_eq!(fired[0].actor(), pb::Actor::Automation);
}

/// The README's questions, asked with grpcurl.
async fn grpcurl_answers_the_readme_questions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let task = live_a_task(&mut alice).await;
    app.drain_events().await;
    let addr = app.addr().to_string();
    let ask = |body: String| {
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
                    "taskflow.v1.ActivityService/ListActivities",
                ])
                .await,
            )
        }
    };
    let completed = ask(r#"{"parent": "users/alice",
  "filter": "type = TASK_COMPLETED AND create_time >= \"2026-11-23T00:00:00Z\""}"#
        .to_owned())
    .await;
    assert_eq!(
        completed["activities"][0]["type"], "TASK_COMPLETED",
        "{completed}"
    );
    assert_eq!(completed["activities"].as_array().map(Vec::len), Some(1));
    let changed = ask(format!(
        r#"{{"parent": "users/alice",
  "filter": "task = \"{}\" AND type = TASK_UPDATED"}}"#,
        task.name
    ))
    .await;
    let changes = &changed["activities"][0]["changes"];
    let due = changes
        .as_array()
        .and_then(|c| c.iter().find(|c| c["field"] == "due_time"))
        .unwrap_or_else(|| panic!("{changed}"));
    assert_eq!(due["oldValue"], "2027-06-01T09:00:00Z");
    assert_eq!(due["newValue"], "2027-06-03T09:00:00Z");
}

both_backends!(
    grpcurl_answers_the_readme_questions,
    a_fired_reminder_is_in_the_history,
    the_history_of_a_task_in_embedded_mode,
    the_history_of_a_task_in_dapr_mode,
    an_event_delivered_twice_is_recorded_once,
    bad_requests_are_refused,
);
