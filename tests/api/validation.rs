//! Bad input is refused with InvalidArgument naming the field, and nothing is written.

use taskflow::proto::v1 as pb;

use crate::both_backends;
use crate::helpers::{Backend, Client, TestApp, assert_invalid, list_all, titled, ts, violations};

async fn create_err(client: &mut Client, task: pb::Task) -> tonic::Status {
    client
        .create_task(pb::CreateTaskRequest {
            parent: "users/alice".into(),
            task: Some(task),
            request_id: String::new(),
        })
        .await
        .expect_err("the task is refused")
}

fn weekly(days: &[pb::DayOfWeek]) -> pb::Recurrence {
    pb::Recurrence {
        frequency: pb::Frequency::Weekly as i32,
        weekdays: days.iter().map(|d| *d as i32).collect(),
        ..Default::default()
    }
}

async fn every_task_rule_is_enforced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let cases: Vec<(pb::Task, &str)> = vec![
        (titled(""), "task.title"),
        (titled("   "), "task.title"),
        (titled(&"x".repeat(201)), "task.title"),
        (
            pb::Task {
                description: "d".repeat(4001),
                ..titled("t")
            },
            "task.description",
        ),
        (
            pb::Task {
                tags: (0..21).map(|i| format!("t{i}")).collect(),
                ..titled("t")
            },
            "task.tags",
        ),
        (
            pb::Task {
                tags: vec!["x".repeat(51)],
                ..titled("t")
            },
            "task.tags",
        ),
        (
            pb::Task {
                tags: vec!["  ".into()],
                ..titled("t")
            },
            "task.tags",
        ),
        (
            pb::Task {
                time_zone: "Europe/Atlantis".into(),
                ..titled("t")
            },
            "task.time_zone",
        ),
        (
            pb::Task {
                priority: 17,
                ..titled("t")
            },
            "task.priority",
        ),
        (
            pb::Task {
                due_time: Some(prost_types::Timestamp {
                    seconds: 0,
                    nanos: -1,
                }),
                ..titled("t")
            },
            "task.due_time",
        ),
        (
            pb::Task {
                recurrence: Some(pb::Recurrence::default()),
                ..titled("t")
            },
            "task.recurrence.frequency",
        ),
        (
            pb::Task {
                recurrence: Some(pb::Recurrence {
                    interval: Some(0),
                    ..weekly(&[])
                }),
                ..titled("t")
            },
            "task.recurrence.interval",
        ),
        (
            pb::Task {
                recurrence: Some(pb::Recurrence {
                    interval: Some(1001),
                    ..weekly(&[])
                }),
                ..titled("t")
            },
            "task.recurrence.interval",
        ),
        (
            pb::Task {
                recurrence: Some(pb::Recurrence {
                    frequency: pb::Frequency::Daily as i32,
                    ..weekly(&[pb::DayOfWeek::Monday])
                }),
                ..titled("t")
            },
            "task.recurrence.weekdays",
        ),
        (
            pb::Task {
                recurrence: Some(pb::Recurrence {
                    count: Some(0),
                    ..weekly(&[])
                }),
                ..titled("t")
            },
            "task.recurrence.count",
        ),
        (
            pb::Task {
                due_time: Some(ts("2027-03-01T00:00:00Z")),
                recurrence: Some(pb::Recurrence {
                    until_time: Some(ts("2027-02-01T00:00:00Z")),
                    ..weekly(&[])
                }),
                ..titled("t")
            },
            "task.recurrence.until_time",
        ),
    ];
    for (task, field) in cases {
        let status = create_err(&mut alice, task).await;
        assert_invalid(&status, field);
    }

    // Several bad fields are all reported at once.
    let status = create_err(
        &mut alice,
        pb::Task {
            time_zone: "Nowhere/Never".into(),
            ..titled("")
        },
    )
    .await;
    let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
    assert!(
        fields.contains(&"task.title".to_owned()) && fields.contains(&"task.time_zone".to_owned()),
        "{fields:?}"
    );

    // A missing task and malformed names are refused too.
    let status = alice
        .create_task(pb::CreateTaskRequest {
            parent: "users/alice".into(),
            task: None,
            request_id: String::new(),
        })
        .await
        .expect_err("no task");
    assert_invalid(&status, "task");
    for parent in ["", "users/", "alice", "users/alice/tasks"] {
        let status = alice
            .create_task(pb::CreateTaskRequest {
                parent: parent.into(),
                task: Some(titled("t")),
                request_id: String::new(),
            })
            .await
            .expect_err("bad parent");
        assert_invalid(&status, "parent");
    }
    let status = alice
        .create_task(pb::CreateTaskRequest {
            parent: "users/alice".into(),
            task: Some(titled("t")),
            request_id: "x".repeat(65),
        })
        .await
        .expect_err("long request id");
    assert_invalid(&status, "request_id");
    for name in [
        "",
        "users/alice/tasks/not-a-uuid",
        "users/alice/notes/0190f3a5-6c1e-7f00-8000-000000000001",
    ] {
        let status = alice
            .get_task(pb::GetTaskRequest { name: name.into() })
            .await
            .expect_err("bad name");
        assert_invalid(&status, "name");
    }

    // None of the refused calls wrote anything.
    let listed = list_all(&mut alice, "alice").await;
    assert!(listed.is_empty(), "{listed:?}");
}

async fn boundary_values_are_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let task = crate::helpers::create(
        &mut alice,
        "alice",
        pb::Task {
            title: "é".repeat(200),
            description: "d".repeat(4000),
            tags: (0..20).map(|i| format!("{i:0>50}")).collect(),
            due_time: Some(ts("2027-02-01T00:00:00Z")),
            recurrence: Some(pb::Recurrence {
                interval: Some(1000),
                // The earliest end a series may have (`count` and `until_time` are one or the
                // other, RFC 5545).
                until_time: Some(ts("2027-02-01T00:00:00Z")),
                ..weekly(&[
                    pb::DayOfWeek::Sunday,
                    pb::DayOfWeek::Monday,
                    pb::DayOfWeek::Sunday,
                ])
            }),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(task.title.chars().count(), 200);
    assert_eq!(task.tags.len(), 20);
    let rule = task.recurrence.expect("recurrence");
    assert_eq!(
        rule.weekdays,
        vec![pb::DayOfWeek::Monday as i32, pb::DayOfWeek::Sunday as i32],
        "weekdays are de-duplicated and ordered"
    );
    assert_eq!(rule.interval, Some(1000));
    let counted = crate::helpers::create(
        &mut alice,
        "alice",
        pb::Task {
            due_time: Some(ts("2027-02-01T00:00:00Z")),
            recurrence: Some(pb::Recurrence {
                count: Some(1),
                ..weekly(&[pb::DayOfWeek::Monday])
            }),
            ..crate::helpers::titled("once")
        },
    )
    .await;
    assert_eq!(counted.recurrence.expect("recurrence").count, Some(1));
}

both_backends!(every_task_rule_is_enforced, boundary_values_are_accepted);
