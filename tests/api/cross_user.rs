//! Isolation between users. A call that names another user's resources is refused with
//! PERMISSION_DENIED before anything is read (so it says nothing about what exists), and
//! another user's ids under the caller's own names are exactly as unknown as ids that never
//! existed: same code, same message apart from the name, same error details.

use prost_types::FieldMask;
use taskflow::proto::v1 as pb;
use tonic::{Code, Status};

use crate::both_backends;
use crate::helpers::{Backend, Client, TestApp, assert_invalid, create, list_all, titled, ts};
use crate::helpers::{Notifications, ago, list_page, mark, names, notifications, record, watch};

/// What a client can tell from a failed call (code, message, every error detail), with
/// `name` replaced by a placeholder.
fn shape(status: &Status, name: &str) -> (Code, String, String) {
    use tonic_types::StatusExt;
    let details = status.get_error_details_vec();
    assert!(!details.is_empty(), "errors carry details: {status:?}");
    (
        status.code(),
        status.message().replace(name, "{name}"),
        format!("{details:?}").replace(name, "{name}"),
    )
}

/// Every TaskService call that takes a task name, on `name`, each with what it tried.
async fn name_calls(client: &mut Client, name: &str, etag: &str) -> Vec<(&'static str, Status)> {
    let name = name.to_owned();
    let results = [
        (
            "GetTask",
            client
                .get_task(pb::GetTaskRequest { name: name.clone() })
                .await
                .map(|_| ()),
        ),
        (
            "UpdateTask",
            client
                .update_task(pb::UpdateTaskRequest {
                    task: Some(pb::Task {
                        name: name.clone(),
                        title: "pwned".into(),
                        etag: etag.into(),
                        ..Default::default()
                    }),
                    update_mask: Some(FieldMask {
                        paths: vec!["title".into()],
                    }),
                })
                .await
                .map(|_| ()),
        ),
        (
            "CompleteTask",
            client
                .complete_task(pb::CompleteTaskRequest { name: name.clone() })
                .await
                .map(|_| ()),
        ),
        (
            "ReopenTask",
            client
                .reopen_task(pb::ReopenTaskRequest { name: name.clone() })
                .await
                .map(|_| ()),
        ),
        (
            "DeleteTask",
            client
                .delete_task(pb::DeleteTaskRequest {
                    name: name.clone(),
                    etag: etag.into(),
                })
                .await
                .map(|_| ()),
        ),
        (
            "UndeleteTask",
            client
                .undelete_task(pb::UndeleteTaskRequest {
                    name: name.clone(),
                    etag: etag.into(),
                })
                .await
                .map(|_| ()),
        ),
    ];
    results
        .into_iter()
        .map(|(what, result)| match result {
            Ok(()) => panic!("{what} on {name} succeeded"),
            Err(status) => (what, status),
        })
        .collect()
}

/// The TaskService calls that take a parent, on `parent`.
async fn parent_calls(client: &mut Client, parent: &str) -> Vec<(&'static str, Status)> {
    let results = [
        (
            "CreateTask",
            client
                .create_task(pb::CreateTaskRequest {
                    parent: parent.into(),
                    task: Some(titled("planted")),
                    request_id: String::new(),
                })
                .await
                .map(|_| ()),
        ),
        (
            "ListTasks",
            client
                .list_tasks(pb::ListTasksRequest {
                    parent: parent.into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ),
    ];
    results
        .into_iter()
        .map(|(what, result)| (what, result.expect_err(what)))
        .collect()
}

/// Asserts that `client` (not the owner) is denied every TaskService call on `task` and on its
/// owner's parent, and that a missing task of the same owner is denied the same way.
pub(crate) async fn assert_task_calls_denied(client: &mut Client, task: &pb::Task) {
    let parent = task
        .name
        .rsplitn(3, '/')
        .nth(2)
        .expect("a parent")
        .to_owned();
    let missing = format!("{parent}/tasks/{}", uuid::Uuid::now_v7());
    let on_task = name_calls(client, &task.name, &task.etag).await;
    let on_missing = name_calls(client, &missing, &task.etag).await;
    for ((what, status), (_, missing_status)) in on_task.iter().zip(&on_missing) {
        assert_eq!(status.code(), Code::PermissionDenied, "{what}: {status:?}");
        assert_eq!(
            shape(status, &task.name),
            shape(missing_status, &missing),
            "{what}: an existing task is refused exactly like a missing one"
        );
    }
    for (what, status) in parent_calls(client, &parent).await {
        assert_eq!(status.code(), Code::PermissionDenied, "{what}: {status:?}");
    }
}

async fn every_task_call_on_another_users_names_is_denied(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut bob = app.user("bob");
    let task = create(&mut bob, "bob", titled("Bob's secret")).await;
    let mut eve = app.user("eve");
    assert_task_calls_denied(&mut eve, &task).await;
    // A name that does not parse is an argument error, whoever it names.
    let status = eve
        .get_task(pb::GetTaskRequest {
            name: "users/bob/tasks/not-a-uuid".into(),
        })
        .await
        .expect_err("malformed");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    let untouched = bob
        .get_task(pb::GetTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("bob's")
        .into_inner();
    assert_eq!(untouched, task);
    assert_eq!(list_all(&mut bob, "bob").await, vec![task]);
}

async fn another_users_task_id_under_ones_own_name_is_simply_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut bob = app.user("bob");
    let task = create(&mut bob, "bob", titled("Bob's secret")).await;
    let mut eve = app.user("eve");
    let id = task.name.rsplit('/').next().expect("an id");
    let disguised = format!("users/eve/tasks/{id}");
    let missing = format!("users/eve/tasks/{}", uuid::Uuid::now_v7());

    let on_disguised = name_calls(&mut eve, &disguised, &task.etag).await;
    let on_missing = name_calls(&mut eve, &missing, &task.etag).await;
    for ((what, status), (_, missing_status)) in on_disguised.iter().zip(&on_missing) {
        assert_eq!(status.code(), Code::NotFound, "{what}: {status:?}");
        assert!(status.message().contains(&disguised), "{what}: {status:?}");
        assert_eq!(
            shape(status, &disguised),
            shape(missing_status, &missing),
            "{what}: bob's id is as unknown to eve as an id that never existed"
        );
    }

    // Eve reusing bob's request id gets a task of her own, never bob's.
    let with_request_id = |user: &str| pb::CreateTaskRequest {
        parent: format!("users/{user}"),
        task: Some(titled(&format!("{user}'s"))),
        request_id: "shared-request-id".into(),
    };
    let bobs = bob
        .create_task(with_request_id("bob"))
        .await
        .expect("bob creates")
        .into_inner();
    let eves = eve
        .create_task(with_request_id("eve"))
        .await
        .expect("eve creates")
        .into_inner();
    assert!(eves.name.starts_with("users/eve/"), "{eves:?}");
    assert_eq!(eves.title, "eve's");
    assert_ne!(eves.name, bobs.name);

    assert_eq!(list_all(&mut eve, "eve").await, vec![eves]);
    assert_eq!(list_all(&mut bob, "bob").await, vec![task, bobs]);
}

/// Asserts that `client` (not the owner) is denied every NotificationService call on
/// `notification` and on its owner's parent, a missing notification the same way.
pub(crate) async fn assert_notification_calls_denied(
    client: &mut Notifications,
    notification: &str,
) {
    let parent = notification
        .rsplitn(3, '/')
        .nth(2)
        .expect("a parent")
        .to_owned();
    let missing = format!("{parent}/notifications/{}", uuid::Uuid::now_v7());
    let status = mark(client, notification).await.expect_err("marks");
    let missing_status = mark(client, &missing).await.expect_err("marks");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(
        shape(&status, notification),
        shape(&missing_status, &missing)
    );
    let status = client
        .list_notifications(pb::ListNotificationsRequest {
            parent: parent.clone(),
            ..Default::default()
        })
        .await
        .expect_err("lists");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    // Refused before any item is streamed: the call itself fails, there is no stream.
    let status = watch(client, &parent, Some(ts("2020-01-01T00:00:00Z")))
        .await
        .expect_err("watches");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
}

async fn every_notification_call_on_another_users_names_is_denied(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (db, hub) = (app.db().await, app.hub());
    let alices = record(&db, &hub, "alice", "Pay rent", ago(5)).await;
    let mut bob = notifications(&app, "bob");
    assert_notification_calls_denied(&mut bob, &alices.name()).await;

    // Alice's id under bob's own name is as unknown as one that never existed.
    let disguised = alices.name().replace("users/alice/", "users/bob/");
    let missing = format!("users/bob/notifications/{}", uuid::Uuid::now_v7());
    let status = mark(&mut bob, &disguised).await.expect_err("not bob's");
    let missing_status = mark(&mut bob, &missing).await.expect_err("missing");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(shape(&status, &disguised), shape(&missing_status, &missing));
    let bobs_own = bob
        .list_notifications(pb::ListNotificationsRequest {
            parent: "users/bob".into(),
            ..Default::default()
        })
        .await
        .expect("bob lists his own")
        .into_inner();
    assert!(bobs_own.notifications.is_empty(), "{bobs_own:?}");

    // Malformed names are argument errors.
    let status = watch(&mut bob, "people/bob", None)
        .await
        .expect_err("a bad parent");
    assert_invalid(&status, "parent");
    let bad_since = prost_types::Timestamp {
        seconds: 0,
        nanos: -1,
    };
    let status = watch(&mut bob, "users/bob", Some(bad_since))
        .await
        .expect_err("a bad since");
    assert_invalid(&status, "since");

    // Alice's notification is untouched.
    let listed = list_page(&mut notifications(&app, "alice"), 0, "", false)
        .await
        .expect("alice lists");
    assert_eq!(names(&listed.notifications), [alices.name()]);
    assert!(listed.notifications[0].read_time.is_none());
}

both_backends!(
    every_task_call_on_another_users_names_is_denied,
    another_users_task_id_under_ones_own_name_is_simply_not_found,
    every_notification_call_on_another_users_names_is_denied,
);
