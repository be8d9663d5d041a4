//! NotificationService: listing, marking read, watching live (backlog, seam, isolation,
//! disconnects, slow watchers), and delivery across replicas on PostgreSQL.

use std::time::Duration;

use chrono::{DateTime, Utc};
use taskflow::domain::{TaskId, TaskName, UserId};
use taskflow::notifications::{Hub, Kind, NewNotification, Notification, store};
use taskflow::proto::v1::{self as pb, notification_service_client::NotificationServiceClient};
use taskflow::store::Database;
use tokio::time::timeout;
use tonic::{Code, Streaming, service::interceptor::InterceptedService, transport::Channel};

use crate::both_backends;
use crate::helpers::{Backend, Metadata, TestApp, assert_invalid, eventually, ts};

type Notifications = NotificationServiceClient<InterceptedService<Channel, Metadata>>;

/// How long a notification may take to arrive.
const ARRIVES_WITHIN: Duration = Duration::from_secs(10);
/// How long to watch for something that must not arrive (after what should have arrived).
const QUIET_FOR: Duration = Duration::from_millis(300);

fn client_on(channel: Channel, user: &str) -> Notifications {
    NotificationServiceClient::with_interceptor(channel, Metadata::new(&[("x-user-id", user)]))
}

fn notifications(app: &TestApp, user: &str) -> Notifications {
    client_on(app.channel(), user)
}

fn user(raw: &str) -> UserId {
    UserId::parse(raw).expect("a valid user id")
}

/// Records notifications for `owner` the way the reminder engine does: in one write
/// transaction, each announced through `hub` inside it, then committed and handed to the hub.
async fn record_all(
    db: &Database,
    hub: &Hub,
    owner: &str,
    items: impl IntoIterator<Item = (String, DateTime<Utc>)>,
    body: &str,
) -> Vec<Notification> {
    let txn = db.begin_write().await.expect("begins a transaction");
    let mut recorded = Vec::new();
    for (title, at) in items {
        let new = NewNotification {
            user: user(owner),
            task: TaskName {
                user: user(owner),
                task: TaskId::new_v7(),
            },
            kind: Kind::Reminder,
            title,
            body: body.to_owned(),
            dedupe_key: format!("test/{}", uuid::Uuid::new_v4()),
        };
        let notification = store::record(&txn, new, at)
            .await
            .expect("records")
            .expect("a new notification");
        hub.notify_in_txn(&txn, &notification)
            .await
            .expect("announces");
        recorded.push(notification);
    }
    txn.commit().await.expect("commits");
    for notification in &recorded {
        hub.committed(notification);
    }
    recorded
}

async fn record(
    db: &Database,
    hub: &Hub,
    owner: &str,
    title: &str,
    at: DateTime<Utc>,
) -> Notification {
    let mut one = record_all(db, hub, owner, [(title.to_owned(), at)], "Due soon").await;
    one.pop().expect("one notification")
}

fn ago(minutes: i64) -> DateTime<Utc> {
    taskflow::app::now() - chrono::Duration::minutes(minutes)
}

fn names(notifications: &[pb::Notification]) -> Vec<String> {
    notifications.iter().map(|n| n.name.clone()).collect()
}

async fn watch(
    client: &mut Notifications,
    parent: &str,
    since: Option<prost_types::Timestamp>,
) -> Result<Streaming<pb::Notification>, tonic::Status> {
    client
        .watch_notifications(pb::WatchNotificationsRequest {
            parent: parent.into(),
            since,
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The next notification on `stream`, which must come within [`ARRIVES_WITHIN`].
async fn next(stream: &mut Streaming<pb::Notification>) -> pb::Notification {
    timeout(ARRIVES_WITHIN, stream.message())
        .await
        .expect("a notification arrives in time")
        .expect("the stream does not fail")
        .expect("the stream stays open")
}

/// Asserts nothing arrives on `stream` for a while.
async fn stays_quiet(stream: &mut Streaming<pb::Notification>, whose: &str) {
    if let Ok(got) = timeout(QUIET_FOR, stream.message()).await {
        panic!("{whose} watcher received something it should not: {got:?}");
    }
}

async fn list_page(
    client: &mut Notifications,
    page_size: i32,
    page_token: &str,
    unread_only: bool,
) -> Result<pb::ListNotificationsResponse, tonic::Status> {
    client
        .list_notifications(pb::ListNotificationsRequest {
            parent: "users/alice".into(),
            page_size,
            page_token: page_token.into(),
            unread_only,
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Every page, each at most `page_size` long.
async fn list_all(client: &mut Notifications, page_size: i32, unread_only: bool) -> Vec<String> {
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

async fn mark(client: &mut Notifications, name: &str) -> Result<pb::Notification, tonic::Status> {
    client
        .mark_notification_read(pb::MarkNotificationReadRequest { name: name.into() })
        .await
        .map(tonic::Response::into_inner)
}

async fn lists_newest_first_in_pages_and_unread_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (db, hub) = (app.db().await, app.hub());
    // Created out of order; two share a create time (the id breaks the tie).
    let base = taskflow::app::now();
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

async fn marking_read_is_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (db, hub) = (app.db().await, app.hub());
    let recorded = record(&db, &hub, "alice", "Pay rent", ago(5)).await;
    let mut alice = notifications(&app, "alice");
    let first = mark(&mut alice, &recorded.name()).await.expect("mark read");
    assert_eq!(first.name, recorded.name());
    assert_eq!(first.title, "Pay rent");
    assert!(first.read_time.is_some(), "{first:?}");
    tokio::time::sleep(Duration::from_millis(5)).await;
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

async fn other_users_are_denied(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (db, hub) = (app.db().await, app.hub());
    let alices = record(&db, &hub, "alice", "Pay rent", ago(5)).await;
    let mut bob = notifications(&app, "bob");

    let err = list_page(&mut bob, 0, "", false)
        .await
        .expect_err("bob lists alice's");
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = mark(&mut bob, &alices.name())
        .await
        .expect_err("bob marks alice's");
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = watch(&mut bob, "users/alice", Some(ts("2020-01-01T00:00:00Z")))
        .await
        .expect_err("bob watches alice's");
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    let err = watch(&mut bob, "people/bob", None)
        .await
        .expect_err("a bad parent");
    assert_invalid(&err, "parent");
    let bad_since = prost_types::Timestamp {
        seconds: 0,
        nanos: -1,
    };
    let err = watch(&mut bob, "users/bob", Some(bad_since))
        .await
        .expect_err("a bad since");
    assert_invalid(&err, "since");

    // Alice's notification is untouched.
    let listed = list_page(&mut notifications(&app, "alice"), 0, "", false)
        .await
        .expect("alice lists");
    assert_eq!(names(&listed.notifications), [alices.name()]);
    assert!(listed.notifications[0].read_time.is_none());
}

async fn watchers_get_the_backlog_then_live_ones_and_only_their_own(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (db, hub) = (app.db().await, app.hub());
    let _too_old = record(&db, &hub, "alice", "too old", ago(180)).await;
    let a1 = record(&db, &hub, "alice", "a1", ago(120)).await;
    let a2 = record(&db, &hub, "alice", "a2", ago(60)).await;
    let _bobs_old = record(&db, &hub, "bob", "bob old", ago(90)).await;

    let mut alice = notifications(&app, "alice");
    let since = ago(150).to_rfc3339();
    let mut with_backlog = watch(&mut alice, "users/alice", Some(ts(&since)))
        .await
        .expect("watch");
    let mut live_only = watch(&mut alice, "users/alice", None).await.expect("watch");
    let mut bobs = watch(&mut notifications(&app, "bob"), "users/bob", None)
        .await
        .expect("bob watches");

    assert_eq!(next(&mut with_backlog).await.name, a1.name());
    assert_eq!(next(&mut with_backlog).await.name, a2.name());

    // Announced again now (as a late announcement would be): stored before the watches
    // began, so no watcher sends it again.
    hub.notify_in_txn(db.conn(), &a2).await.expect("announces");
    hub.committed(&a2);
    // Created after the watchers subscribed: delivered live.
    let a3 = record(&db, &hub, "alice", "a3", taskflow::app::now()).await;
    let got = next(&mut with_backlog).await;
    assert_eq!(got.name, a3.name());
    assert_eq!(got.title, "a3");
    assert_eq!(got.body, "Due soon");
    assert_eq!(
        next(&mut live_only).await.name,
        a3.name(),
        "without since, no backlog: the first one is the live one"
    );
    stays_quiet(&mut bobs, "bob's").await;

    let b1 = record(&db, &hub, "bob", "b1", taskflow::app::now()).await;
    assert_eq!(next(&mut bobs).await.name, b1.name());
    stays_quiet(&mut with_backlog, "alice's").await;
    stays_quiet(&mut live_only, "alice's").await;
}

async fn a_disconnected_watcher_is_freed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hub = app.hub();
    let idle = hub.receiver_count();
    let mut alice = notifications(&app, "alice");
    let stream = watch(&mut alice, "users/alice", Some(ts("2020-01-01T00:00:00Z")))
        .await
        .expect("watch");
    let watching = hub.receiver_count();
    assert_eq!(
        watching,
        idle + 1,
        "the watcher subscribed before answering"
    );
    drop(stream);
    eventually("the watcher to be freed", || async {
        (hub.receiver_count() == idle).then_some(())
    })
    .await;
    // The connection is still good for another watch.
    let (db, hub) = (app.db().await, app.hub());
    let mut again = watch(&mut alice, "users/alice", None).await.expect("watch");
    let n = record(&db, &hub, "alice", "after", taskflow::app::now()).await;
    assert_eq!(next(&mut again).await.name, n.name());
}

async fn a_slow_watcher_loses_nothing_and_holds_up_no_one(backend: Backend) {
    const COUNT: usize = 2000;
    const PER_TRANSACTION: usize = 100;
    let app = TestApp::spawn(backend).await;
    let (db, hub) = (app.db().await, app.hub());
    // The slow client's own connection, with a small flow-control window, so that the
    // transport soaks up little and the hub really runs ahead of its watcher.
    let slow_channel = Channel::from_shared(format!("http://{}", app.addr()))
        .expect("a valid uri")
        .initial_stream_window_size(16 * 1024)
        .connect()
        .await
        .expect("connects");
    let mut slow = watch(&mut client_on(slow_channel, "alice"), "users/alice", None)
        .await
        .expect("the slow watch");
    let mut fast = watch(&mut notifications(&app, "alice"), "users/alice", None)
        .await
        .expect("the fast watch");
    let fast_reader = tokio::spawn(async move {
        let mut got = Vec::with_capacity(COUNT);
        while got.len() < COUNT {
            got.push(next(&mut fast).await.name);
        }
        got
    });

    // Large bodies, so the transport's buffers hold few of them.
    let body = "x".repeat(4000);
    let start = taskflow::app::now();
    let mut expected = Vec::with_capacity(COUNT);
    for batch in 0..COUNT / PER_TRANSACTION {
        let items = (0..PER_TRANSACTION).map(|i| {
            let k = batch * PER_TRANSACTION + i;
            let at = start + chrono::Duration::milliseconds(i64::try_from(k).unwrap_or(0));
            (format!("n{k}"), at)
        });
        let recorded = record_all(&db, &hub, "alice", items, &body).await;
        expected.extend(recorded.iter().map(Notification::name));
    }

    let fast_got = timeout(Duration::from_secs(120), fast_reader)
        .await
        .expect("the fast watcher keeps up while the slow one does not read")
        .expect("the fast reader");
    assert_eq!(
        fast_got, expected,
        "the fast watcher got every one, in order"
    );

    let mut slow_got = Vec::with_capacity(COUNT);
    while slow_got.len() < COUNT {
        slow_got.push(next(&mut slow).await.name);
    }
    assert_eq!(
        slow_got, expected,
        "the slow watcher lost nothing, in order"
    );
    stays_quiet(&mut slow, "the slow").await;
}

async fn watches_end_unavailable_when_the_server_stops(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut stream = watch(&mut notifications(&app, "alice"), "users/alice", None)
        .await
        .expect("watch");
    let stopping = tokio::spawn(app.stop());
    let ended = timeout(ARRIVES_WITHIN, stream.message())
        .await
        .expect("the watch ends promptly")
        .expect_err("the watch ends with a status");
    assert_eq!(ended.code(), Code::Unavailable, "{ended:?}");
    timeout(Duration::from_secs(4), stopping)
        .await
        .expect("an open watch does not hold up the shutdown")
        .expect("the server stops");
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

both_backends!(
    lists_newest_first_in_pages_and_unread_only,
    marking_read_is_idempotent,
    other_users_are_denied,
    watchers_get_the_backlog_then_live_ones_and_only_their_own,
    a_disconnected_watcher_is_freed,
    a_slow_watcher_loses_nothing_and_holds_up_no_one,
    watches_end_unavailable_when_the_server_stops,
    health_reports_the_notification_service,
    grpcurl_watches_lists_and_marks_read,
);

/// On PostgreSQL each replica has its own hub: a notification recorded through one reaches
/// the watchers of the other through LISTEN/NOTIFY, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_deliver_each_others_notifications() {
    let first = TestApp::spawn(Backend::Postgres).await;
    let second = first.replica(|_| {}).await;
    let mut on_first = watch(&mut notifications(&first, "alice"), "users/alice", None)
        .await
        .expect("watch on the first replica");
    let mut on_second = watch(&mut notifications(&second, "alice"), "users/alice", None)
        .await
        .expect("watch on the second replica");

    let db = second.db().await;
    let recorded = record(
        &db,
        &second.hub(),
        "alice",
        "from afar",
        taskflow::app::now(),
    )
    .await;
    assert_eq!(next(&mut on_first).await.name, recorded.name());
    assert_eq!(next(&mut on_second).await.name, recorded.name());
    stays_quiet(&mut on_first, "the first replica's").await;
    stays_quiet(&mut on_second, "the second replica's").await;
}

/// The README's grpcurl examples, as a user runs them.
async fn grpcurl_watches_lists_and_marks_read(backend: Backend) {
    use crate::grpcurl::{grpcurl, stdout_json};
    let app = TestApp::spawn(backend).await;
    let (db, hub) = (app.db().await, app.hub());
    let recorded = record(&db, &hub, "alice", "Pay rent", taskflow::app::now()).await;
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
