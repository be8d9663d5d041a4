//! ListTasks: page sizes, keyset page tokens, filters and ordering.

use std::collections::HashSet;

use taskflow::proto::v1 as pb;

use crate::both_backends;
use crate::helpers::{Backend, Client, TestApp, assert_invalid, create, titled, ts};

fn list_req(filter: &str, order_by: &str, page_size: i32) -> pb::ListTasksRequest {
    pb::ListTasksRequest {
        parent: "users/alice".into(),
        page_size,
        page_token: String::new(),
        filter: filter.into(),
        order_by: order_by.into(),
        ..Default::default()
    }
}

async fn list(client: &mut Client, filter: &str, order_by: &str) -> Vec<pb::Task> {
    let mut all = Vec::new();
    let mut req = list_req(filter, order_by, 3);
    loop {
        let page = client
            .list_tasks(req.clone())
            .await
            .expect("ListTasks")
            .into_inner();
        assert!(page.tasks.len() <= 3);
        all.extend(page.tasks);
        if page.next_page_token.is_empty() {
            return all;
        }
        req.page_token = page.next_page_token;
    }
}

fn titles(tasks: &[pb::Task]) -> Vec<&str> {
    tasks.iter().map(|t| t.title.as_str()).collect()
}

/// Five tasks with distinct priorities, due times, tags and states.
async fn seed(alice: &mut Client) -> Vec<pb::Task> {
    let specs = [
        (
            "Buy milk",
            pb::Priority::Low,
            Some("2027-01-03T00:00:00Z"),
            vec!["home", "shopping"],
        ),
        (
            "File taxes",
            pb::Priority::Urgent,
            Some("2026-12-31T00:00:00Z"),
            vec!["money"],
        ),
        ("Call mum", pb::Priority::Medium, None, vec!["family"]),
        (
            "Fix bike",
            pb::Priority::Unspecified,
            Some("2027-06-01T00:00:00Z"),
            vec![],
        ),
        (
            "Ship release",
            pb::Priority::High,
            Some("2027-01-01T12:00:00Z"),
            vec!["work"],
        ),
    ];
    let mut tasks = Vec::new();
    for (title, priority, due, tags) in specs {
        tasks.push(
            create(
                alice,
                "alice",
                pb::Task {
                    priority: priority as i32,
                    due_time: due.map(ts),
                    tags: tags.into_iter().map(str::to_owned).collect(),
                    ..titled(title)
                },
            )
            .await,
        );
    }
    alice
        .complete_task(pb::CompleteTaskRequest {
            name: tasks[0].name.clone(),
        })
        .await
        .expect("complete Buy milk");
    tasks
}

async fn filters_select_the_right_tasks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    seed(&mut alice).await;
    // Another user's tasks never show up.
    let mut bob = app.user("bob");
    create(
        &mut bob,
        "bob",
        pb::Task {
            tags: vec!["work".into()],
            ..titled("Bob's milk")
        },
    )
    .await;

    let cases: &[(&str, &[&str])] = &[
        (
            "",
            &[
                "Buy milk",
                "File taxes",
                "Call mum",
                "Fix bike",
                "Ship release",
            ],
        ),
        ("completed = true", &["Buy milk"]),
        (
            "completed = false",
            &["File taxes", "Call mum", "Fix bike", "Ship release"],
        ),
        ("priority = HIGH", &["Ship release"]),
        ("priority = PRIORITY_URGENT", &["File taxes"]),
        ("priority >= HIGH", &["File taxes", "Ship release"]),
        ("priority < medium", &["Buy milk", "Fix bike"]),
        (r#"tags:"work""#, &["Ship release"]),
        ("tags:HOME", &["Buy milk"]),
        (r#"due_time < "2027-01-01T12:00:00Z""#, &["File taxes"]),
        (
            r#"due_time <= "2027-01-01T12:00:00Z""#,
            &["File taxes", "Ship release"],
        ),
        (
            r#"due_time > "2027-01-01T00:00:00+01:00""#,
            &["Buy milk", "Fix bike", "Ship release"],
        ),
        (
            "due_time:*",
            &["Buy milk", "File taxes", "Fix bike", "Ship release"],
        ),
        ("NOT due_time:*", &["Call mum"]),
        (r#"title:"MILK""#, &["Buy milk"]),
        (
            r#"title:"i""#,
            &["Buy milk", "File taxes", "Fix bike", "Ship release"],
        ),
        (
            r#"completed = false AND priority >= MEDIUM AND NOT tags:"money""#,
            &["Call mum", "Ship release"],
        ),
        (r#"completed = false tags:"money""#, &["File taxes"]),
        (
            r#"-completed = true title:"a""#,
            &["File taxes", "Call mum", "Ship release"],
        ),
        (r#"title:"%""#, &[]),
        (r#"title:"_""#, &[]),
    ];
    for (filter, expected) in cases {
        let got = list(&mut alice, filter, "").await;
        assert_eq!(titles(&got), *expected, "filter {filter:?}");
    }
}

async fn ordering_uses_rank_and_puts_missing_due_times_last(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    seed(&mut alice).await;
    let cases: &[(&str, &[&str])] = &[
        (
            "priority desc",
            &[
                "File taxes",
                "Ship release",
                "Call mum",
                "Buy milk",
                "Fix bike",
            ],
        ),
        (
            "priority",
            &[
                "Fix bike",
                "Buy milk",
                "Call mum",
                "Ship release",
                "File taxes",
            ],
        ),
        (
            "due_time",
            &[
                "File taxes",
                "Ship release",
                "Buy milk",
                "Fix bike",
                "Call mum",
            ],
        ),
        (
            "due_time desc",
            &[
                "Fix bike",
                "Buy milk",
                "Ship release",
                "File taxes",
                "Call mum",
            ],
        ),
        (
            "create_time desc",
            &[
                "Ship release",
                "Fix bike",
                "Call mum",
                "File taxes",
                "Buy milk",
            ],
        ),
        (
            "update_time desc",
            &[
                "Buy milk",
                "Ship release",
                "Fix bike",
                "Call mum",
                "File taxes",
            ],
        ),
        (
            "title",
            &[
                "Buy milk",
                "Call mum",
                "File taxes",
                "Fix bike",
                "Ship release",
            ],
        ),
    ];
    for (order_by, expected) in cases {
        let got = list(&mut alice, "", order_by).await;
        assert_eq!(titles(&got), *expected, "order_by {order_by:?}");
    }
}

async fn pages_cover_every_task_once_while_tasks_are_added(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    // Ties on the sort key (three priorities only) are broken by id, so pages never overlap.
    for i in 0..23 {
        let priority = [pb::Priority::Low, pb::Priority::High, pb::Priority::Medium][i % 3];
        create(
            &mut alice,
            "alice",
            pb::Task {
                priority: priority as i32,
                ..titled(&format!("task {i:02}"))
            },
        )
        .await;
    }
    for order_by in [
        "",
        "priority desc",
        "priority, create_time desc",
        "due_time",
        "title desc",
    ] {
        let mut seen = Vec::new();
        let mut req = list_req("", order_by, 4);
        let mut added = 0;
        loop {
            let page = alice
                .list_tasks(req.clone())
                .await
                .expect("page")
                .into_inner();
            seen.extend(page.tasks.into_iter().map(|t| t.name));
            if page.next_page_token.is_empty() {
                break;
            }
            // Tasks created between pages do not disturb the walk.
            create(
                &mut alice,
                "alice",
                pb::Task {
                    priority: pb::Priority::Urgent as i32,
                    ..titled(&format!("added {order_by} {added}"))
                },
            )
            .await;
            added += 1;
            req.page_token = page.next_page_token;
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no task twice for {order_by:?}");
        assert!(
            seen.len() >= 23,
            "every original task is listed for {order_by:?}: {}",
            seen.len()
        );
    }
    let everything = list(&mut alice, r#"title:"task""#, "priority desc").await;
    assert_eq!(everything.len(), 23);
}

async fn page_sizes_follow_aip_158(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let mut calls = Vec::new();
    for worker in 0..4 {
        let mut client = alice.clone();
        calls.push(tokio::spawn(async move {
            for i in 0..130 {
                create(&mut client, "alice", titled(&format!("bulk {worker} {i}"))).await;
            }
        }));
    }
    for call in calls {
        call.await.expect("joined");
    }
    let mut alice = alice;
    let default = alice
        .list_tasks(list_req("", "", 0))
        .await
        .expect("default")
        .into_inner();
    assert_eq!(default.tasks.len(), 50);
    assert!(!default.next_page_token.is_empty());
    let capped = alice
        .list_tasks(list_req("", "", 10_000))
        .await
        .expect("capped")
        .into_inner();
    assert_eq!(capped.tasks.len(), 500);
    assert!(!capped.next_page_token.is_empty());
    let rest = alice
        .list_tasks(pb::ListTasksRequest {
            page_token: capped.next_page_token,
            ..list_req("", "", 500)
        })
        .await
        .expect("rest")
        .into_inner();
    assert_eq!(rest.tasks.len(), 20);
    assert!(
        rest.next_page_token.is_empty(),
        "the last page has no token"
    );
    // The largest page size there is is coerced down too, and its token continues the list.
    let largest = alice
        .list_tasks(list_req("", "", i32::MAX))
        .await
        .expect("capped")
        .into_inner();
    assert_eq!(largest.tasks, capped.tasks);
    let rest_again = alice
        .list_tasks(pb::ListTasksRequest {
            page_token: largest.next_page_token,
            ..list_req("", "", i32::MAX)
        })
        .await
        .expect("rest")
        .into_inner();
    assert_eq!(rest_again.tasks, rest.tasks);
    let status = alice
        .list_tasks(list_req("", "", -1))
        .await
        .expect_err("negative");
    assert_invalid(&status, "page_size");
}

async fn bad_filters_orders_and_tokens_are_invalid_arguments(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    for _ in 0..3 {
        create(&mut alice, "alice", titled("t")).await;
    }
    for filter in [
        "colour = red",
        "completed = maybe",
        "title = x",
        "a OR b",
        "due_time < soon",
        "'; DROP TABLE tasks; --",
    ] {
        let status = alice
            .list_tasks(list_req(filter, "", 0))
            .await
            .expect_err(filter);
        assert_invalid(&status, "filter");
        assert!(
            !status.message().to_lowercase().contains("sql"),
            "{}",
            status.message()
        );
    }
    for order_by in ["colour", "priority sideways", "title, title"] {
        let status = alice
            .list_tasks(list_req("", order_by, 0))
            .await
            .expect_err(order_by);
        assert_invalid(&status, "order_by");
    }
    let page = alice
        .list_tasks(list_req("", "", 1))
        .await
        .expect("page")
        .into_inner();
    for (token, filter, order_by) in [
        ("not-a-token", "", ""),
        (page.next_page_token.as_str(), "completed = false", ""),
        (page.next_page_token.as_str(), "", "title"),
    ] {
        let status = alice
            .list_tasks(pb::ListTasksRequest {
                page_token: token.into(),
                ..list_req(filter, order_by, 1)
            })
            .await
            .expect_err("bad token");
        assert_invalid(&status, "page_token");
    }
    // Another user cannot reuse alice's token either.
    let mut bob = app.user("bob");
    let status = bob
        .list_tasks(pb::ListTasksRequest {
            parent: "users/bob".into(),
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .expect_err("foreign token");
    assert_invalid(&status, "page_token");
}

both_backends!(
    filters_select_the_right_tasks,
    ordering_uses_rank_and_puts_missing_due_times_last,
    pages_cover_every_task_once_while_tasks_are_added,
    page_sizes_follow_aip_158,
    bad_filters_orders_and_tokens_are_invalid_arguments,
);
