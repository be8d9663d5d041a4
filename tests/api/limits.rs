//! Oversized requests and absurd values: refused with a clear status naming what is wrong,
//! and the server keeps serving.

use taskflow::proto::v1 as pb;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::both_backends;
use crate::helpers::notifications;
use crate::helpers::{Backend, TestApp, assert_invalid, create, list_all, titled, violations};

async fn assert_serving(app: &TestApp) {
    let status = HealthClient::new(app.channel())
        .check(HealthCheckRequest {
            service: "taskflow.v1.TaskService".into(),
        })
        .await
        .expect("health check")
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
}

fn with_description(bytes: usize) -> pb::CreateTaskRequest {
    pb::CreateTaskRequest {
        parent: "users/alice".into(),
        task: Some(pb::Task {
            description: "x".repeat(bytes),
            ..titled("big")
        }),
        request_id: String::new(),
    }
}

async fn requests_over_the_message_limit_are_refused_and_the_server_keeps_serving(
    backend: Backend,
) {
    // The default limit: 4 MiB.
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let status = alice
        .create_task(with_description(5 * 1024 * 1024))
        .await
        .expect_err("over 4 MiB");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(
        status.message().contains("message length too large"),
        "{status:?}"
    );
    // Just under the limit the request is read, and its field is refused by validation.
    let status = alice
        .create_task(with_description(4 * 1024 * 1024 - 1024))
        .await
        .expect_err("description too long");
    assert_invalid(&status, "task.description");
    create(&mut alice, "alice", titled("after the big one")).await;
    assert_eq!(list_all(&mut alice, "alice").await.len(), 1);
    assert_serving(&app).await;
    drop(app);

    // A configured limit applies to both services.
    let app = TestApp::spawn_with(backend, |c| c.api_max_message_bytes = 16 * 1024).await;
    let mut alice = app.user("alice");
    let status = alice
        .create_task(with_description(20 * 1024))
        .await
        .expect_err("over 16 KiB");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    let status = notifications(&app, "alice")
        .list_notifications(pb::ListNotificationsRequest {
            parent: "users/alice".into(),
            page_token: "t".repeat(20 * 1024),
            ..Default::default()
        })
        .await
        .expect_err("over 16 KiB");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    let status = alice
        .create_task(with_description(8 * 1024))
        .await
        .expect_err("description too long");
    assert_invalid(&status, "task.description");
    create(&mut alice, "alice", titled("small")).await;
    assert_serving(&app).await;
}

fn list(filter: &str, order_by: &str, page_token: &str, page_size: i32) -> pb::ListTasksRequest {
    pb::ListTasksRequest {
        parent: "users/alice".into(),
        page_size,
        page_token: page_token.into(),
        filter: filter.into(),
        order_by: order_by.into(),
        ..Default::default()
    }
}

async fn over_long_filters_orders_and_tokens_are_invalid_arguments(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    create(&mut alice, "alice", titled("one")).await;
    let longest_filter = format!("title:\"{}\"", "a".repeat(2000 - 8));
    assert_eq!(longest_filter.len(), 2000);
    alice
        .list_tasks(list(&longest_filter, "", "", 0))
        .await
        .expect("a filter of exactly 2000 bytes is read");

    let status = alice
        .list_tasks(list(&format!("{longest_filter} "), "", "", 0))
        .await
        .expect_err("2001 bytes");
    assert_invalid(&status, "filter");
    assert!(
        status.message().contains("at most 2000 bytes"),
        "{status:?}"
    );

    let status = alice
        .list_tasks(list("", &format!("title{}", " ".repeat(256)), "", 0))
        .await
        .expect_err("257 bytes");
    assert_invalid(&status, "order_by");
    assert!(status.message().contains("at most 256 bytes"), "{status:?}");

    // Both at once: one answer names both fields.
    let status = alice
        .list_tasks(list(&"a".repeat(3000), &"b".repeat(3000), "", 0))
        .await
        .expect_err("both too long");
    let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["filter", "order_by"]);

    let status = alice
        .list_tasks(list("", "", &"A".repeat(4097), 0))
        .await
        .expect_err("4097-byte token");
    assert_invalid(&status, "page_token");
    assert!(
        status.message().contains("at most 4096 bytes"),
        "{status:?}"
    );
    let status = notifications(&app, "alice")
        .list_notifications(pb::ListNotificationsRequest {
            parent: "users/alice".into(),
            page_token: "A".repeat(100_000),
            ..Default::default()
        })
        .await
        .expect_err("100,000-byte token");
    assert_invalid(&status, "page_token");
    assert!(
        status.message().contains("at most 4096 bytes"),
        "{status:?}"
    );
    assert_serving(&app).await;
}

async fn deeply_nested_filters_are_invalid_arguments(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    create(&mut alice, "alice", titled("one")).await;
    let eight = format!("{}completed = false", "NOT ".repeat(8));
    let listed = alice
        .list_tasks(list(&eight, "", "", 0))
        .await
        .expect("eight negations are fine")
        .into_inner();
    assert_eq!(
        listed.tasks.len(),
        1,
        "NOT^8 (completed = false) is completed = false"
    );
    for (filter, says) in [
        (
            format!("{}completed = true", "NOT ".repeat(9)),
            "negated at most 8 times",
        ),
        (
            format!("{}completed = true", "-".repeat(1900)),
            "negated at most 8 times",
        ),
        ("(".repeat(100_000), "at most 2000 bytes"),
        (
            format!("{}completed = true", "NOT ".repeat(100_000)),
            "at most 2000 bytes",
        ),
        ("(".repeat(1000), "parentheses are not supported"),
    ] {
        let status = alice
            .list_tasks(list(&filter, "", "", 0))
            .await
            .expect_err("too deep");
        assert_invalid(&status, "filter");
        assert!(status.message().contains(says), "{says}: {status:?}");
    }
    assert_serving(&app).await;
}

async fn negative_page_sizes_are_invalid_arguments_on_every_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    for size in [-1, i32::MIN] {
        let status = alice
            .list_tasks(list("", "", "", size))
            .await
            .expect_err("negative");
        assert_invalid(&status, "page_size");
        assert!(
            status.message().contains("must not be negative"),
            "{status:?}"
        );
        let status = notifications(&app, "alice")
            .list_notifications(pb::ListNotificationsRequest {
                parent: "users/alice".into(),
                page_size: size,
                ..Default::default()
            })
            .await
            .expect_err("negative");
        assert_invalid(&status, "page_size");
    }
    let listed = notifications(&app, "alice")
        .list_notifications(pb::ListNotificationsRequest {
            parent: "users/alice".into(),
            page_size: i32::MAX,
            ..Default::default()
        })
        .await
        .expect("coerced down");
    assert!(listed.into_inner().notifications.is_empty());
}

both_backends!(
    requests_over_the_message_limit_are_refused_and_the_server_keeps_serving,
    over_long_filters_orders_and_tokens_are_invalid_arguments,
    deeply_nested_filters_are_invalid_arguments,
    negative_page_sizes_are_invalid_arguments_on_every_list,
);
