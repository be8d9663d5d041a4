//! CreateTask, GetTask, CompleteTask, ReopenTask, DeleteTask and request-id idempotency.

use taskflow::proto::v1 as pb;
use tonic::Code;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, create, list_all, titled, ts};

async fn creates_and_gets_a_task_with_every_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let input = pb::Task {
        title: "  Pay rent  ".into(),
        description: "Transfer to landlord".into(),
        priority: pb::Priority::High as i32,
        tags: vec!["Home".into(), "money".into(), "home".into()],
        due_time: Some(ts("2027-01-31T09:00:00.123456789Z")),
        time_zone: "Europe/Berlin".into(),
        recurrence: Some(pb::Recurrence {
            frequency: pb::Frequency::Monthly as i32,
            interval: Some(1),
            count: Some(12),
            ..Default::default()
        }),
        // Output-only fields are ignored on input.
        name: "users/mallory/tasks/whatever".into(),
        completed: true,
        occurrence: 99,
        etag: "\"42\"".into(),
        ..Default::default()
    };
    let created = create(&mut alice, "alice", input).await;
    assert!(
        created.name.starts_with("users/alice/tasks/"),
        "{}",
        created.name
    );
    let id = created.name.rsplit('/').next().expect("an id");
    assert_eq!(
        uuid::Uuid::parse_str(id).expect("a uuid").get_version_num(),
        7
    );
    assert_eq!(created.title, "Pay rent");
    assert_eq!(created.tags, vec!["home", "money"]);
    assert_eq!(created.priority, pb::Priority::High as i32);
    assert_eq!(
        created.due_time,
        Some(ts("2027-01-31T09:00:00.123456Z")),
        "microsecond precision"
    );
    assert_eq!(created.time_zone, "Europe/Berlin");
    assert!(!created.completed);
    assert_eq!(created.occurrence, 1);
    assert_eq!(created.series, id, "a task starts its own series");
    assert_eq!(created.etag, "\"1\"");
    assert!(created.create_time.is_some() && created.create_time == created.update_time);
    let rule = created.recurrence.clone().expect("recurrence");
    assert_eq!(rule.count, Some(12));
    assert_eq!(rule.anchor, pb::Anchor::DueTime as i32);

    let fetched = alice
        .get_task(pb::GetTaskRequest {
            name: created.name.clone(),
        })
        .await
        .expect("GetTask")
        .into_inner();
    assert_eq!(
        fetched, created,
        "a read returns exactly what the create returned"
    );
}

async fn unknown_task_is_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let name = format!("users/alice/tasks/{}", uuid::Uuid::now_v7());
    let err = alice
        .get_task(pb::GetTaskRequest { name: name.clone() })
        .await
        .expect_err("no such task");
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains(&name));
    for err in [
        alice
            .complete_task(pb::CompleteTaskRequest { name: name.clone() })
            .await
            .expect_err("complete"),
        alice
            .reopen_task(pb::ReopenTaskRequest { name: name.clone() })
            .await
            .expect_err("reopen"),
        alice
            .delete_task(pb::DeleteTaskRequest {
                name: name.clone(),
                etag: String::new(),
            })
            .await
            .expect_err("delete"),
    ] {
        assert_eq!(err.code(), Code::NotFound);
    }
}

async fn complete_and_reopen_are_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let task = create(&mut alice, "alice", titled("Walk the dog")).await;

    let done = alice
        .complete_task(pb::CompleteTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("complete")
        .into_inner();
    assert!(done.completed);
    assert!(done.complete_time.is_some());
    assert_eq!(done.etag, "\"2\"");
    assert_ne!(done.update_time, task.update_time);

    let again = alice
        .complete_task(pb::CompleteTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("complete again")
        .into_inner();
    assert_eq!(again, done, "completing a completed task changes nothing");

    let reopened = alice
        .reopen_task(pb::ReopenTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("reopen")
        .into_inner();
    assert!(!reopened.completed);
    assert_eq!(reopened.complete_time, None);
    assert_eq!(reopened.etag, "\"3\"");
    let again = alice
        .reopen_task(pb::ReopenTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("reopen again")
        .into_inner();
    assert_eq!(again, reopened, "reopening an open task changes nothing");
}

async fn delete_marks_the_task_deleted_and_checks_the_etag(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let task = create(
        &mut alice,
        "alice",
        pb::Task {
            tags: vec!["x".into()],
            ..titled("Old")
        },
    )
    .await;
    let stale = alice
        .delete_task(pb::DeleteTaskRequest {
            name: task.name.clone(),
            etag: "\"7\"".into(),
        })
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    let kept = alice
        .get_task(pb::GetTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("a refused delete deletes nothing")
        .into_inner();
    assert!(kept.delete_time.is_none());

    let deleted = alice
        .delete_task(pb::DeleteTaskRequest {
            name: task.name.clone(),
            etag: task.etag.clone(),
        })
        .await
        .expect("delete")
        .into_inner();
    assert!(deleted.delete_time.is_some());
    assert_ne!(deleted.etag, task.etag);
    let read = alice
        .get_task(pb::GetTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("a deleted task is still read")
        .into_inner();
    assert_eq!(read, deleted);
    let again = alice
        .delete_task(pb::DeleteTaskRequest {
            name: task.name.clone(),
            etag: String::new(),
        })
        .await
        .expect_err("already deleted");
    assert_eq!(again.code(), Code::NotFound);
    let listed = alice
        .list_tasks(pb::ListTasksRequest {
            parent: "users/alice".into(),
            filter: "tags:x".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert!(listed.tasks.is_empty(), "deleted tasks are not listed");
}

async fn request_id_makes_create_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let request = |title: &str| pb::CreateTaskRequest {
        parent: "users/alice".into(),
        task: Some(titled(title)),
        request_id: "5f0c6f1e-8a7b-4c1d-9e2f-0a1b2c3d4e5f".into(),
    };
    let first = alice
        .create_task(request("Once"))
        .await
        .expect("first")
        .into_inner();
    let retry = alice
        .create_task(request("Once"))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retry, first, "a retry returns the first task");

    // Concurrent retries also converge on one task.
    let mut calls = Vec::new();
    for _ in 0..8 {
        let mut client = alice.clone();
        calls.push(tokio::spawn(async move {
            client
                .create_task(pb::CreateTaskRequest {
                    parent: "users/alice".into(),
                    task: Some(titled("Racing")),
                    request_id: "race-1".into(),
                })
                .await
                .expect("create")
                .into_inner()
                .name
        }));
    }
    let mut names = Vec::new();
    for call in calls {
        names.push(call.await.expect("joined"));
    }
    names.dedup();
    assert_eq!(names.len(), 1, "{names:?}");

    // The same request id from another user is another task.
    let mut bob = app.user("bob");
    let bobs = bob
        .create_task(pb::CreateTaskRequest {
            parent: "users/bob".into(),
            task: Some(titled("Once")),
            request_id: "5f0c6f1e-8a7b-4c1d-9e2f-0a1b2c3d4e5f".into(),
        })
        .await
        .expect("bob")
        .into_inner();
    assert_ne!(bobs.name, first.name);

    let all = list_all(&mut alice, "alice").await;
    assert_eq!(all.len(), 2, "no duplicates: {all:?}");
}

both_backends!(
    creates_and_gets_a_task_with_every_field,
    unknown_task_is_not_found,
    complete_and_reopen_are_idempotent,
    delete_marks_the_task_deleted_and_checks_the_etag,
    request_id_makes_create_idempotent,
);
