//! NotificationService: listing, marking read, watching live (backlog, seam, isolation,
//! disconnects, slow watchers), and delivery across replicas on PostgreSQL.

use taskflow::domain::Notification;
use taskflow::proto::v1::{self as pb};
use tonic::Code;

use crate::both_backends;
use crate::helpers::*;

/// Every page, each at most `page_size` long.
pub(crate) async fn list_all(
    client: &mut Notifications,
    page_size: i32,
    unread_only: bool,
) -> Vec<String> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = list_page(client, page_size, &token, unread_only)
            .await
            .expect("ListNotifications");
        assert!(page.notifications.len() <= usize::try_from(page_size).unwrap_or(0));
        all.extend(names(&page.notifications));
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}

pub(crate) async fn lists_newest_first_in_pages_and_unread_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (db, hub) = (app.db().await, app.hub());
    // Created out of order; two share a create time (the id breaks the tie).
    let base = taskflow::clock::now();
    let minutes = [50, 10, 30, 30, 40];
    let mut recorded = Vec::new();
    for (i, m) in minutes.into_iter().enumerate() {
        let at = base - chrono::Duration::minutes(m);
        recorded.push(record(&db, &hub, "alice", &format!("n{i}"), at).await);
    }
    record(&db, &hub, "bob", "bob's", ago(20)).await;
    let mut newest_first = recorded.clone();
    newest_first.sort_by_key(|n| std::cmp::Reverse((n.create_time, n.id)));
    let expected: Vec<String> = newest_first.iter().map(Notification::name).collect();

    let mut alice = notifications(&app, "alice");
    assert_eq!(list_all(&mut alice, 2, false).await, expected);
    assert_eq!(list_all(&mut alice, 1, false).await, expected);
    let default_size = list_page(&mut alice, 0, "", false).await.expect("list");
    assert_eq!(names(&default_size.notifications), expected);
    assert!(default_size.next_page_token.is_empty());

    for name in [&expected[0], &expected[3]] {
        mark(&mut alice, name).await.expect("mark read");
    }
    let unread: Vec<String> = [&expected[1], &expected[2], &expected[4]]
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(list_all(&mut alice, 2, true).await, unread);
    let listed = list_page(&mut alice, 0, "", false).await.expect("list");
    let read: Vec<bool> = listed
        .notifications
        .iter()
        .map(|n| n.read_time.is_some())
        .collect();
    assert_eq!(read, [true, false, false, true, false]);
    let first = &listed.notifications[1];
    assert_eq!(first.kind, pb::NotificationKind::Reminder as i32);
    assert!(first.task.starts_with("users/alice/tasks/"), "{first:?}");

    // Tokens are opaque, and only good for the request they came from.
    let unread_token = list_page(&mut alice, 1, "", true)
        .await
        .expect("list")
        .next_page_token;
    let err = list_page(&mut alice, 1, &unread_token, false)
        .await
        .expect_err("a token of another request");
    assert_invalid(&err, "page_token");
    let err = list_page(&mut alice, 1, "not-a-token", false)
        .await
        .expect_err("garbage");
    assert_invalid(&err, "page_token");
    let err = list_page(&mut alice, -1, "", false)
        .await
        .expect_err("negative page size");
    assert_invalid(&err, "page_size");
    let mut bob = notifications(&app, "bob");
    let bobs = bob
        .list_notifications(pb::ListNotificationsRequest {
            parent: "users/bob".into(),
            page_size: 1,
            page_token: unread_token,
            unread_only: true,
        })
        .await
        .expect_err("alice's token for bob");
    assert_invalid(&bobs, "page_token");
}

pub(crate) async fn marking_read_is_idempotent(backend: Backend) {
    let clock = std::sync::Arc::new(taskflow::clock::ManualClock::new(taskflow::clock::now()));
    let app = TestApp::spawn_with_clock(backend, clock.clone(), |_| {}).await;
    let (db, hub) = (app.db().await, app.hub());
    let recorded = record(&db, &hub, "alice", "Pay rent", ago(5)).await;
    let mut alice = notifications(&app, "alice");
    let first = mark(&mut alice, &recorded.name()).await.expect("mark read");
    assert_eq!(first.name, recorded.name());
    assert_eq!(first.title, "Pay rent");
    assert!(first.read_time.is_some(), "{first:?}");
    // A second mark, a minute later, keeps the first read time.
    clock.advance(chrono::Duration::minutes(1));
    let again = mark(&mut alice, &recorded.name())
        .await
        .expect("mark again");
    assert_eq!(again, first, "marking again changes nothing");

    let unknown = format!("users/alice/notifications/{}", uuid::Uuid::now_v7());
    let err = mark(&mut alice, &unknown).await.expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    for bad in [
        "",
        "users/alice/notifications/nope",
        "users/alice/tasks/0190f3a5-6c1e-7f00-8000-000000000001",
    ] {
        let err = mark(&mut alice, bad).await.expect_err(bad);
        assert_invalid(&err, "name");
    }
}

async fn health_reports_the_notification_service(backend: Backend) {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let app = TestApp::spawn(backend).await;
    let status = HealthClient::new(app.channel())
        .check(HealthCheckRequest {
            service: "taskflow.v1.NotificationService".into(),
        })
        .await
        .expect("health check")
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
}

/// The README's grpcurl examples, as a user runs them.
async fn grpcurl_watches_lists_and_marks_read(backend: Backend) {
    use crate::helpers::{grpcurl, stdout_json};
    let app = TestApp::spawn(backend).await;
    let (db, hub) = (app.db().await, app.hub());
    let recorded = record(&db, &hub, "alice", "Pay rent", taskflow::clock::now()).await;
    let addr = app.addr().to_string();
    let call = |method: &str| format!("taskflow.v1.NotificationService/{method}");

    // The watch stays open: grpcurl gives up after -max-time, having printed the backlog.
    let watched = grpcurl(&[
        "-plaintext",
        "-max-time",
        "3",
        "-H",
        "x-user-id: alice",
        "-d",
        r#"{"parent":"users/alice","since":"2026-01-01T00:00:00Z"}"#,
        &addr,
        &call("WatchNotifications"),
    ])
    .await;
    let printed = String::from_utf8_lossy(&watched.stdout);
    assert!(printed.contains(&recorded.name()), "{printed}");
    let complaint = String::from_utf8_lossy(&watched.stderr);
    assert!(complaint.contains("DeadlineExceeded"), "{complaint}");

    let list = |body: &'static str| {
        let addr = addr.clone();
        let method = call("ListNotifications");
        async move {
            stdout_json(
                &grpcurl(&[
                    "-plaintext",
                    "-H",
                    "x-user-id: alice",
                    "-d",
                    body,
                    &addr,
                    &method,
                ])
                .await,
            )
        }
    };
    let unread = list(r#"{"parent":"users/alice","unread_only":true}"#).await;
    assert_eq!(unread["notifications"][0]["name"], recorded.name());
    assert_eq!(
        unread["notifications"][0]["kind"],
        "NOTIFICATION_KIND_REMINDER"
    );

    let body = format!(r#"{{"name":"{}"}}"#, recorded.name());
    let marked = stdout_json(
        &grpcurl(&[
            "-plaintext",
            "-H",
            "x-user-id: alice",
            "-d",
            &body,
            &addr,
            &call("MarkNotificationRead"),
        ])
        .await,
    );
    assert!(marked["readTime"].is_string(), "{marked}");
    let unread = list(r#"{"parent":"users/alice","unread_only":true}"#).await;
    assert!(unread.get("notifications").is_none(), "{unread}");
    let all = list(r#"{"parent":"users/alice"}"#).await;
    assert_eq!(all["notifications"][0]["readTime"], marked["readTime"]);
}

both_backends!(
    lists_newest_first_in_pages_and_unread_only,
    marking_read_is_idempotent,
    health_reports_the_notification_service,
    grpcurl_watches_lists_and_marks_read,
);
