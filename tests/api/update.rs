//! UpdateTask: field masks, etags, and the fields it may not touch.

use prost_types::FieldMask;
use taskflow::proto::v1 as pb;
use tonic::Code;

use crate::both_backends;
use crate::helpers::{Backend, Client, TestApp, assert_invalid, create, titled, ts};

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

async fn update(
    client: &mut Client,
    task: pb::Task,
    paths: Option<FieldMask>,
) -> Result<pb::Task, tonic::Status> {
    client
        .update_task(pb::UpdateTaskRequest {
            task: Some(task),
            update_mask: paths,
        })
        .await
        .map(tonic::Response::into_inner)
}

fn seconds_nanos(t: Option<prost_types::Timestamp>) -> (i64, i32) {
    let t = t.expect("a timestamp");
    (t.seconds, t.nanos)
}

fn rich() -> pb::Task {
    pb::Task {
        description: "keep me".into(),
        priority: pb::Priority::Low as i32,
        tags: vec!["a".into()],
        due_time: Some(ts("2027-05-01T10:00:00Z")),
        time_zone: "America/New_York".into(),
        ..titled("Original")
    }
}

async fn only_masked_fields_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let task = create(&mut alice, "alice", rich()).await;

    let changed = update(
        &mut alice,
        pb::Task {
            name: task.name.clone(),
            title: "Renamed".into(),
            description: "ignored: not in the mask".into(),
            tags: vec!["B".into(), "c".into()],
            ..Default::default()
        },
        mask(&["title", "tags"]),
    )
    .await
    .expect("update");
    assert_eq!(changed.title, "Renamed");
    assert_eq!(changed.tags, vec!["b", "c"]);
    assert_eq!(changed.description, "keep me");
    assert_eq!(changed.priority, pb::Priority::Low as i32);
    assert_eq!(changed.due_time, task.due_time);
    assert_eq!(changed.time_zone, "America/New_York");
    assert_eq!(changed.etag, "\"2\"", "every change bumps the etag");
    assert!(seconds_nanos(changed.update_time) > seconds_nanos(task.update_time));
    assert_eq!(changed.create_time, task.create_time);

    // A masked field that is absent from the message is cleared.
    let cleared = update(
        &mut alice,
        pb::Task {
            name: task.name.clone(),
            ..Default::default()
        },
        mask(&["due_time", "tags", "description"]),
    )
    .await
    .expect("clear");
    assert_eq!(cleared.due_time, None);
    assert!(cleared.tags.is_empty());
    assert_eq!(cleared.description, "");
    assert_eq!(cleared.title, "Renamed");

    let fetched = alice
        .get_task(pb::GetTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(fetched, cleared);
}

async fn without_a_mask_populated_fields_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let task = create(&mut alice, "alice", rich()).await;
    let changed = update(
        &mut alice,
        pb::Task {
            name: task.name.clone(),
            priority: pb::Priority::Urgent as i32,
            ..Default::default()
        },
        None,
    )
    .await
    .expect("update");
    assert_eq!(changed.priority, pb::Priority::Urgent as i32);
    assert_eq!(changed.title, "Original");
    assert_eq!(changed.tags, vec!["a"]);
    assert_eq!(changed.due_time, task.due_time);

    // `*` replaces every updatable field.
    let replaced = update(
        &mut alice,
        pb::Task {
            name: task.name.clone(),
            title: "Only this".into(),
            ..Default::default()
        },
        mask(&["*"]),
    )
    .await
    .expect("replace");
    assert_eq!(replaced.title, "Only this");
    assert_eq!(replaced.priority, pb::Priority::Unspecified as i32);
    assert!(
        replaced.tags.is_empty() && replaced.due_time.is_none() && replaced.description.is_empty()
    );
    assert_eq!(replaced.time_zone, "");
}

async fn completed_and_unknown_paths_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let task = create(&mut alice, "alice", rich()).await;
    for paths in [
        &["completed"][..],
        &["colour"],
        &["recurrence.interval"],
        &["title", "completed"],
    ] {
        let status = update(
            &mut alice,
            pb::Task {
                name: task.name.clone(),
                completed: true,
                title: "x".into(),
                ..Default::default()
            },
            mask(paths),
        )
        .await
        .expect_err("refused");
        assert_invalid(&status, "update_mask");
    }
    // A masked field is validated like on create, and the cross-field rule too.
    let status = update(
        &mut alice,
        pb::Task {
            name: task.name.clone(),
            ..Default::default()
        },
        mask(&["title"]),
    )
    .await
    .expect_err("empty title");
    assert_invalid(&status, "task.title");
    let status = update(
        &mut alice,
        pb::Task {
            name: task.name.clone(),
            recurrence: Some(pb::Recurrence {
                frequency: pb::Frequency::Daily as i32,
                until_time: Some(ts("2027-04-01T00:00:00Z")),
                ..Default::default()
            }),
            ..Default::default()
        },
        mask(&["recurrence"]),
    )
    .await
    .expect_err("until before due");
    assert_invalid(&status, "task.recurrence.until_time");
    let status = update(
        &mut alice,
        pb::Task {
            name: "users/alice/tasks/nope".into(),
            ..Default::default()
        },
        mask(&["title"]),
    )
    .await
    .expect_err("bad name");
    assert_invalid(&status, "task.name");
    let status = alice
        .update_task(pb::UpdateTaskRequest {
            task: None,
            update_mask: mask(&["title"]),
        })
        .await
        .expect_err("no task");
    assert_invalid(&status, "task");

    // Output-only paths are ignored, and nothing changed through all of this.
    let same = update(
        &mut alice,
        pb::Task {
            name: task.name.clone(),
            ..Default::default()
        },
        mask(&["etag", "create_time"]),
    )
    .await
    .expect("output-only paths are ignored");
    assert_eq!(same, task, "a no-op update changes nothing, etag included");
}

async fn stale_etag_is_aborted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let task = create(&mut alice, "alice", rich()).await;
    let first = update(
        &mut alice,
        pb::Task {
            name: task.name.clone(),
            title: "First".into(),
            etag: task.etag.clone(),
            ..Default::default()
        },
        mask(&["title"]),
    )
    .await
    .expect("current etag");
    let status = update(
        &mut alice,
        pb::Task {
            name: task.name.clone(),
            title: "Second".into(),
            etag: task.etag.clone(),
            ..Default::default()
        },
        mask(&["title"]),
    )
    .await
    .expect_err("stale etag");
    assert_eq!(status.code(), Code::Aborted);
    let status = update(
        &mut alice,
        pb::Task {
            name: task.name.clone(),
            title: "Third".into(),
            etag: "garbage".into(),
            ..Default::default()
        },
        mask(&["title"]),
    )
    .await
    .expect_err("malformed etag");
    assert_invalid(&status, "task.etag");
    let current = alice
        .get_task(pb::GetTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(current, first);

    // Racing writers holding the same etag: exactly one wins.
    let mut calls = Vec::new();
    for i in 0..6 {
        let mut client = alice.clone();
        let (name, etag) = (task.name.clone(), first.etag.clone());
        calls.push(tokio::spawn(async move {
            update(
                &mut client,
                pb::Task {
                    name,
                    title: format!("Writer {i}"),
                    etag,
                    ..Default::default()
                },
                mask(&["title"]),
            )
            .await
        }));
    }
    let mut won = 0;
    for call in calls {
        match call.await.expect("joined") {
            Ok(_) => won += 1,
            Err(status) => assert_eq!(status.code(), Code::Aborted),
        }
    }
    assert_eq!(won, 1);
}

both_backends!(
    only_masked_fields_change,
    without_a_mask_populated_fields_change,
    completed_and_unknown_paths_are_refused,
    stale_etag_is_aborted,
);
