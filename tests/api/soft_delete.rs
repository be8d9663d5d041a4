//! Soft delete (AIP-164): a deleted task is still read, listed only on request, cannot be
//! changed, loses its reminder, can be undeleted (its reminder armed again), and is purged
//! with a `task.purged` event once its purge time has passed.

use std::sync::Arc;

use chrono::{Duration, Utc};
use sea_orm::EntityTrait;
use taskflow::clock::ManualClock;
use taskflow::domain::TaskName;
use taskflow::proto::v1 as pb;
use taskflow::store::entity::reminder;
use tonic::Code;

use crate::both_backends;

/// A timestamp the server sent, as a time.
fn time_of(t: &prost_types::Timestamp) -> chrono::DateTime<Utc> {
    taskflow::convert::timestamp_in(t).expect("a valid timestamp")
}
use crate::helpers::*;

async fn reminder_state(app: &TestApp, task: &pb::Task) -> Option<i16> {
    let id = TaskName::parse(&task.name).expect("a name").task.as_uuid();
    reminder::Entity::find_by_id((id, "lead".to_owned()))
        .one(app.db().await.conn())
        .await
        .expect("read")
        .map(|r| r.state)
}

fn listed(show_deleted: bool) -> pb::ListTasksRequest {
    pb::ListTasksRequest {
        parent: "users/alice".into(),
        show_deleted,
        ..Default::default()
    }
}

async fn names(client: &mut Client, request: pb::ListTasksRequest) -> Vec<String> {
    client
        .list_tasks(request)
        .await
        .expect("list")
        .into_inner()
        .tasks
        .into_iter()
        .map(|t| t.name)
        .collect()
}

async fn event_types(app: &TestApp) -> Vec<String> {
    outbox_rows(&app.db().await)
        .await
        .into_iter()
        .map(|r| r.event_type)
        .collect()
}

async fn deleted_tasks_are_kept_hidden_frozen_and_can_be_undeleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let rent = due_task(&mut alice, "Pay rent", Utc::now() + Duration::days(3), None).await;
    let other = create(&mut alice, "alice", titled("Other")).await;
    app.drain_events().await;
    assert_eq!(reminder_state(&app, &rent).await, Some(reminder::SCHEDULED));

    let deleted = alice
        .delete_task(pb::DeleteTaskRequest {
            name: rent.name.clone(),
            etag: rent.etag.clone(),
        })
        .await
        .expect("delete")
        .into_inner();
    let delete_time = time_of(deleted.delete_time.as_ref().expect("delete_time"));
    let purge_time = time_of(deleted.purge_time.as_ref().expect("purge_time"));
    assert_eq!(purge_time - delete_time, Duration::days(30));
    assert_eq!(
        deleted.update_time, deleted.delete_time,
        "a delete is a change"
    );
    assert_eq!(deleted.title, rent.title);
    app.drain_events().await;
    assert_eq!(
        reminder_state(&app, &rent).await,
        Some(reminder::CANCELLED),
        "the reminder of a deleted task is cancelled"
    );

    assert_eq!(
        names(&mut alice, listed(false)).await,
        std::slice::from_ref(&other.name)
    );
    let mut all = names(&mut alice, listed(true)).await;
    all.sort();
    let mut expected = vec![rent.name.clone(), other.name.clone()];
    expected.sort();
    assert_eq!(all, expected, "show_deleted lists deleted tasks too");

    // A deleted task cannot be changed.
    let update = alice
        .update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                name: rent.name.clone(),
                title: "Renamed".into(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .expect_err("frozen");
    assert_eq!(update.code(), Code::FailedPrecondition, "{update:?}");
    let complete = alice
        .complete_task(pb::CompleteTaskRequest {
            name: rent.name.clone(),
        })
        .await
        .expect_err("frozen");
    assert_eq!(complete.code(), Code::FailedPrecondition);
    let not_deleted = alice
        .undelete_task(pb::UndeleteTaskRequest {
            name: other.name.clone(),
            etag: String::new(),
        })
        .await
        .expect_err("not deleted");
    assert_eq!(not_deleted.code(), Code::AlreadyExists);
    let stale = alice
        .undelete_task(pb::UndeleteTaskRequest {
            name: rent.name.clone(),
            etag: rent.etag.clone(),
        })
        .await
        .expect_err("the etag before the delete is stale");
    assert_eq!(stale.code(), Code::Aborted);

    let restored = alice
        .undelete_task(pb::UndeleteTaskRequest {
            name: rent.name.clone(),
            etag: deleted.etag.clone(),
        })
        .await
        .expect("undelete")
        .into_inner();
    assert!(restored.delete_time.is_none() && restored.purge_time.is_none());
    assert_eq!(
        (
            &restored.title,
            &restored.due_time,
            restored.completed,
            &restored.series
        ),
        (&rent.title, &rent.due_time, rent.completed, &rent.series)
    );
    let time = |t: &Option<prost_types::Timestamp>| time_of(t.as_ref().expect("a time"));
    assert!(time(&restored.update_time) > time(&deleted.update_time));
    app.drain_events().await;
    assert_eq!(
        reminder_state(&app, &rent).await,
        Some(reminder::SCHEDULED),
        "undeleting arms the reminder again"
    );
    assert_eq!(names(&mut alice, listed(false)).await.len(), 2);
    let types = event_types(&app).await;
    let at = |kind: &str| {
        let found: Vec<usize> = (0..types.len()).filter(|i| types[*i] == kind).collect();
        assert_eq!(found.len(), 1, "one {kind}: {types:?}");
        found[0]
    };
    assert!(at("task.deleted") < at("task.undeleted"), "{types:?}");
}

async fn a_deleted_task_is_purged_after_its_retention_with_an_event(backend: Backend) {
    let clock = Arc::new(ManualClock::new(taskflow::clock::now()));
    // Published events are kept a year here, so the purge's event can be read afterwards.
    let app = TestApp::spawn_with_clock(backend, clock.clone(), |c| {
        c.retention.outbox_retention_hours = 24 * 365;
    })
    .await;
    let mut alice = app.user("alice");
    let gone = create(
        &mut alice,
        "alice",
        pb::Task {
            tags: vec!["home".into()],
            ..titled("Gone soon")
        },
    )
    .await;
    let kept = create(&mut alice, "alice", titled("Kept")).await;
    alice
        .delete_task(pb::DeleteTaskRequest {
            name: gone.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("delete");
    app.drain_events().await;

    clock.advance(Duration::days(30) - Duration::hours(1));
    let pass = app.retention.run_once().await.expect("a pass");
    assert_eq!(pass.purged_tasks, 0, "not before its purge time");
    clock.advance(Duration::hours(2));
    let pass = app.retention.run_once().await.expect("a pass");
    assert_eq!(pass.purged_tasks, 1, "{pass:?}");
    app.drain_events().await;

    let read = alice
        .get_task(pb::GetTaskRequest {
            name: gone.name.clone(),
        })
        .await
        .expect_err("purged");
    assert_eq!(read.code(), Code::NotFound);
    let undelete = alice
        .undelete_task(pb::UndeleteTaskRequest {
            name: gone.name.clone(),
            etag: String::new(),
        })
        .await
        .expect_err("purged");
    assert_eq!(undelete.code(), Code::NotFound);
    assert_eq!(names(&mut alice, listed(true)).await, [kept.name]);
    let rows = outbox_rows(&app.db().await).await;
    let purged = rows
        .iter()
        .find(|r| r.event_type == "task.purged")
        .expect("a task.purged event");
    assert_eq!(purged.subject, gone.name);
    assert!(purged.published_us.is_some(), "and it is published");
}

both_backends!(
    deleted_tasks_are_kept_hidden_frozen_and_can_be_undeleted,
    a_deleted_task_is_purged_after_its_retention_with_an_event,
    grpcurl_undoes_a_delete_as_the_readme_says,
);

/// The README's way to undo a delete, with grpcurl: delete, find it among the deleted, undelete.
async fn grpcurl_undoes_a_delete_as_the_readme_says(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let addr = app.addr().to_string();
    let mut alice = app.user("alice");
    let task = create(&mut alice, "alice", titled("Pay rent")).await;
    let call = |method: &'static str, body: String| {
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
                    &format!("taskflow.v1.TaskService/{method}"),
                ])
                .await,
            )
        }
    };
    let name = serde_json::json!({ "name": task.name }).to_string();
    let deleted = call("DeleteTask", name.clone()).await;
    assert!(deleted["deleteTime"].is_string(), "{deleted}");
    assert!(deleted["purgeTime"].is_string(), "{deleted}");
    let listed = call(
        "ListTasks",
        r#"{"parent": "users/alice", "show_deleted": true,
  "filter": "update_time > \"2026-12-04T00:00:00Z\""}"#
            .to_owned(),
    )
    .await;
    assert_eq!(listed["tasks"][0]["name"], task.name.as_str(), "{listed}");
    let restored = call("UndeleteTask", name).await;
    assert_eq!(restored["name"], task.name.as_str());
    assert!(restored.get("deleteTime").is_none(), "{restored}");
}
