//! The API's edges: an empty update mask, the one spelling of a resource name (AIP-122),
//! errors that stay small whatever the input, and bytes that are no protobuf message.

use prost_types::FieldMask;
use taskflow::proto::v1 as pb;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::both_backends;
use crate::helpers::{Backend, Client, TestApp, assert_invalid, create, list_all, titled, ts};
use crate::helpers::{ago, mark, notifications, raw_call, record};

/// Passes request and response bodies through as bytes, so a test can send anything.
fn rich() -> pb::Task {
    pb::Task {
        description: "keep me".into(),
        priority: pb::Priority::Low as i32,
        tags: vec!["a".into()],
        due_time: Some(ts("2027-05-01T10:00:00Z")),
        time_zone: "America/New_York".into(),
        remind_before: Some(prost_types::Duration {
            seconds: 3600,
            nanos: 0,
        }),
        ..titled("Original")
    }
}

async fn update(
    client: &mut Client,
    task: pb::Task,
    update_mask: Option<FieldMask>,
) -> Result<pb::Task, Status> {
    client
        .update_task(pb::UpdateTaskRequest {
            task: Some(task),
            update_mask,
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn get(client: &mut Client, name: &str) -> Result<pb::Task, Status> {
    client
        .get_task(pb::GetTaskRequest { name: name.into() })
        .await
        .map(tonic::Response::into_inner)
}

async fn an_empty_update_mask_changes_the_populated_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let task = create(&mut alice, "alice", rich()).await;

    let empty = Some(FieldMask { paths: vec![] });
    let changed = update(
        &mut alice,
        pb::Task {
            name: task.name.clone(),
            title: "Renamed".into(),
            ..Default::default()
        },
        empty.clone(),
    )
    .await
    .expect("an update with an empty mask");
    assert_eq!(changed.title, "Renamed");
    assert_eq!(changed.etag, "\"2\"", "the change was written");
    let mut unchanged = changed.clone();
    unchanged.title = task.title.clone();
    unchanged.etag = task.etag.clone();
    unchanged.update_time = task.update_time;
    assert_eq!(unchanged, task, "nothing but the title changed");
    assert_eq!(get(&mut alice, &task.name).await.expect("get"), changed);

    // Like an absent mask, an empty one takes every populated field, and only those.
    let changed = update(
        &mut alice,
        pb::Task {
            name: task.name.clone(),
            priority: pb::Priority::Urgent as i32,
            tags: vec!["B".into()],
            ..Default::default()
        },
        empty.clone(),
    )
    .await
    .expect("an update with an empty mask");
    assert_eq!(changed.priority, pb::Priority::Urgent as i32);
    assert_eq!(changed.tags, vec!["b"]);
    assert_eq!(changed.title, "Renamed");
    assert_eq!(changed.description, "keep me");
    assert_eq!(changed.due_time, task.due_time);
    assert_eq!(changed.time_zone, "America/New_York");
    assert_eq!(changed.remind_before, task.remind_before);

    // Its populated fields are checked as ever.
    let status = update(
        &mut alice,
        pb::Task {
            name: task.name.clone(),
            time_zone: "Mars/Olympus".into(),
            ..Default::default()
        },
        empty,
    )
    .await
    .expect_err("an unknown time zone");
    assert_invalid(&status, "task.time_zone");
    assert_eq!(get(&mut alice, &task.name).await.expect("get"), changed);
}

// ---- f. One spelling per name (AIP-122) ----

/// Other spellings of the UUID `canonical` (lowercase, hyphenated) that `Uuid::parse_str`
/// would accept.
fn aliases(canonical: &str) -> Vec<String> {
    let simple = canonical.replace('-', "");
    let mut mixed = canonical.to_owned();
    if let Some(at) = mixed.rfind(|c: char| c.is_ascii_alphabetic()) {
        mixed.replace_range(at..=at, &mixed[at..=at].to_ascii_uppercase());
    } else {
        mixed.replace_range(..1, "A");
    }
    vec![
        canonical.to_ascii_uppercase(),
        mixed,
        simple.clone(),
        simple.to_ascii_uppercase(),
        format!("{{{canonical}}}"),
        format!("urn:uuid:{canonical}"),
    ]
}

fn id_of(name: &str) -> &str {
    name.rsplit('/').next().expect("a name has an id")
}

async fn only_the_canonical_name_names_a_task(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let task = create(&mut alice, "alice", titled("One name")).await;
    let canonical = id_of(&task.name).to_owned();
    assert_eq!(canonical.len(), 36);

    for alias in aliases(&canonical) {
        let name = format!("users/alice/tasks/{alias}");
        let status = get(&mut alice, &name).await.expect_err(&name);
        assert_invalid(&status, "name");
        let status = update(
            &mut alice,
            pb::Task {
                name: name.clone(),
                title: "Changed".into(),
                ..Default::default()
            },
            None,
        )
        .await
        .expect_err(&name);
        assert_invalid(&status, "task.name");
        let status = alice
            .complete_task(pb::CompleteTaskRequest { name: name.clone() })
            .await
            .expect_err(&name);
        assert_invalid(&status, "name");
        let status = alice
            .reopen_task(pb::ReopenTaskRequest { name: name.clone() })
            .await
            .expect_err(&name);
        assert_invalid(&status, "name");
        let status = alice
            .delete_task(pb::DeleteTaskRequest {
                name: name.clone(),
                etag: String::new(),
            })
            .await
            .expect_err(&name);
        assert_invalid(&status, "name");
    }
    // Nothing was changed through an alias.
    assert_eq!(get(&mut alice, &task.name).await.expect("get"), task);

    // The canonical name works for every call.
    let renamed = update(
        &mut alice,
        pb::Task {
            name: task.name.clone(),
            title: "Changed".into(),
            ..Default::default()
        },
        None,
    )
    .await
    .expect("update by the canonical name");
    assert_eq!(renamed.title, "Changed");
    let completed = alice
        .complete_task(pb::CompleteTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("complete by the canonical name")
        .into_inner();
    assert!(completed.completed);
    alice
        .delete_task(pb::DeleteTaskRequest {
            name: task.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("delete by the canonical name");
    assert!(
        get(&mut alice, &task.name)
            .await
            .expect("a deleted task is still read")
            .delete_time
            .is_some()
    );
}

async fn only_the_canonical_name_names_a_notification(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let recorded = record(&app.db().await, &app.hub(), "alice", "Due soon", ago(1)).await;
    let name = recorded.name();
    let canonical = id_of(&name).to_owned();
    let mut client = notifications(&app, "alice");

    for alias in aliases(&canonical) {
        let alias = format!("users/alice/notifications/{alias}");
        let status = mark(&mut client, &alias).await.expect_err(&alias);
        assert_invalid(&status, "name");
    }
    let listed = client
        .list_notifications(pb::ListNotificationsRequest {
            parent: "users/alice".into(),
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner()
        .notifications;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, name);
    assert_eq!(listed[0].read_time, None, "no alias marked it read");

    let read = mark(&mut client, &name)
        .await
        .expect("marked read by the canonical name");
    assert_eq!(read.name, name);
    assert!(read.read_time.is_some());
}

// ---- g. Errors stay small ----

/// The longest message, and violation description, a status may carry.
const MESSAGE_MAX: usize = 512;
/// An error about one input quotes about 100 characters of it, not more.
const ONE_INPUT_MAX: usize = 400;
/// Trailers well within what gRPC clients accept (C-core: 8 KiB soft, 16 KiB hard).
const TRAILERS_MAX: usize = 6 * 1024;

/// The bytes of the trailers that carry `status`: grpc-status, the percent-encoded
/// grpc-message, the base64 grpc-status-details-bin, and any other metadata.
fn trailer_bytes(status: &Status) -> usize {
    let mut headers = http::HeaderMap::new();
    status
        .add_header(&mut headers)
        .expect("the status encodes as headers");
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum()
}

/// Asserts that `status` is a small INVALID_ARGUMENT naming `field`, and returns the
/// description of that field's violation.
#[track_caller]
fn assert_small_invalid(status: &Status, field: &str) -> String {
    assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
    assert!(
        status.message().len() <= MESSAGE_MAX,
        "{} bytes of message",
        status.message().len()
    );
    let trailers = trailer_bytes(status);
    assert!(trailers <= TRAILERS_MAX, "{trailers} bytes of trailers");
    let violations = status
        .get_details_bad_request()
        .map(|b| b.field_violations)
        .unwrap_or_default();
    for v in &violations {
        assert!(v.description.len() <= MESSAGE_MAX, "{v:?}");
    }
    violations
        .into_iter()
        .find(|v| v.field == field)
        .unwrap_or_else(|| panic!("no violation of {field}: {}", status.message()))
        .description
}

async fn create_err(client: &mut Client, parent: &str, task: pb::Task) -> Status {
    client
        .create_task(pb::CreateTaskRequest {
            parent: parent.into(),
            task: Some(task),
            request_id: String::new(),
        })
        .await
        .expect_err("refused")
}

async fn errors_about_huge_input_stay_small(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let huge = "Ü".repeat(5000);

    // One bad field: its error quotes an excerpt of the input.
    let zone = format!("Europe/{huge}");
    let status = create_err(
        &mut alice,
        "users/alice",
        pb::Task {
            time_zone: zone.clone(),
            ..titled("Huge zone")
        },
    )
    .await;
    let description = assert_small_invalid(&status, "task.time_zone");
    assert!(description.len() <= ONE_INPUT_MAX, "{description}");
    assert!(description.contains("\"Europe/ÜÜÜ"), "{description}");
    assert!(description.contains("5007 characters"), "{description}");

    let status = create_err(
        &mut alice,
        "users/alice",
        pb::Task {
            tags: vec![huge.clone()],
            ..titled("Huge tag")
        },
    )
    .await;
    let description = assert_small_invalid(&status, "task.tags");
    assert!(description.len() <= ONE_INPUT_MAX, "{description}");

    let status = create_err(&mut alice, &format!("users/{huge}"), titled("x")).await;
    assert_small_invalid(&status, "parent");
    let status = create_err(&mut alice, &format!("people/{huge}"), titled("x")).await;
    let description = assert_small_invalid(&status, "parent");
    assert!(description.len() <= ONE_INPUT_MAX, "{description}");

    let status = get(&mut alice, &format!("users/alice/tasks/{huge}"))
        .await
        .expect_err("not a name");
    let description = assert_small_invalid(&status, "name");
    assert!(description.len() <= ONE_INPUT_MAX, "{description}");

    let bad_lists = [
        (
            format!("\"{}\" = 1", "q".repeat(1990)),
            String::new(),
            "filter",
        ),
        (
            format!("due_time < \"{}\"", "q".repeat(1900)),
            String::new(),
            "filter",
        ),
        (
            String::new(),
            format!("{} desc", "o".repeat(240)),
            "order_by",
        ),
    ];
    for (filter, order_by, field) in bad_lists {
        let status = alice
            .list_tasks(pb::ListTasksRequest {
                parent: "users/alice".into(),
                filter,
                order_by,
                ..Default::default()
            })
            .await
            .expect_err("a bad list");
        let description = assert_small_invalid(&status, field);
        assert!(description.len() <= ONE_INPUT_MAX, "{description}");
    }

    // Everything wrong at once, many times over: the status still fits.
    let status = create_err(
        &mut alice,
        "users/alice",
        pb::Task {
            title: "\u{1}".repeat(5000),
            description: huge.repeat(2),
            priority: 99,
            tags: (0..30).map(|i| format!("{i}{huge}")).collect(),
            due_time: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: -1,
            }),
            time_zone: zone,
            recurrence: Some(pb::Recurrence {
                frequency: pb::Frequency::Weekly as i32,
                weekdays: vec![99; 5000],
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    assert_small_invalid(&status, "task.title");

    let task = create(&mut alice, "alice", titled("Masked")).await;
    let status = update(
        &mut alice,
        pb::Task {
            name: task.name.clone(),
            ..Default::default()
        },
        Some(FieldMask {
            paths: (0..100)
                .map(|i| format!("{i}{}", "Ü".repeat(1000)))
                .collect(),
        }),
    )
    .await
    .expect_err("unknown paths");
    let description = assert_small_invalid(&status, "update_mask");
    assert!(description.len() <= ONE_INPUT_MAX, "{description}");

    // Nothing was written, and the server serves on.
    let all = list_all(&mut alice, "alice").await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0], task);
}

async fn undecodable_requests_are_invalid_arguments(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let garbage: [&[u8]; 5] = [
        // A varint that never ends.
        &[0xff; 16],
        // Field 1 (parent) claims 5 bytes; 1 follows.
        b"\x0a\x05a",
        // Field 1 (parent) is not UTF-8.
        b"\x0a\x03\xff\xfe\xfd",
        // Wire type 7 does not exist.
        b"\x0f",
        // Field 2 claims 100 bytes; 1 follows.
        b"\x12\x64x",
    ];
    for path in [
        "/taskflow.v1.TaskService/CreateTask",
        "/taskflow.v1.TaskService/UpdateTask",
        "/taskflow.v1.NotificationService/MarkNotificationRead",
    ] {
        for body in garbage {
            let status = raw_call(app.channel(), path, body.to_vec(), Some("alice"))
                .await
                .expect_err("undecodable");
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{path} {body:?}: {status:?}"
            );
            assert!(
                status
                    .message()
                    .starts_with("the message is not a valid protocol buffer"),
                "{}",
                status.message()
            );
            assert!(
                status.message().len() <= MESSAGE_MAX,
                "{}",
                status.message()
            );
        }
    }
    // A well-formed request through the same raw client works, and only it was written.
    let good = prost::Message::encode_to_vec(&pb::CreateTaskRequest {
        parent: "users/alice".into(),
        task: Some(titled("Decoded")),
        request_id: String::new(),
    });
    let reply = raw_call(
        app.channel(),
        "/taskflow.v1.TaskService/CreateTask",
        good,
        Some("alice"),
    )
    .await
    .expect("a valid request");
    let created: pb::Task = prost::Message::decode(reply.as_slice()).expect("a task");
    assert_eq!(created.title, "Decoded");
    let all = list_all(&mut app.user("alice"), "alice").await;
    assert_eq!(all, vec![created]);
}

both_backends!(
    an_empty_update_mask_changes_the_populated_fields,
    only_the_canonical_name_names_a_task,
    only_the_canonical_name_names_a_notification,
    errors_about_huge_input_stay_small,
    undecodable_requests_are_invalid_arguments,
);
