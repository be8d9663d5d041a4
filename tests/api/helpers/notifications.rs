//! Notifications written straight to the store, and a client of the notification service.

#[allow(unused_imports)]
use super::*;

use chrono::{DateTime, Utc};
use taskflow::domain::{Kind, NewNotification, Notification, TaskId, TaskName, UserId};
use taskflow::notifications::Hub;
use taskflow::proto::v1::notification_service_client::NotificationServiceClient;
use taskflow::store::Database;
use taskflow::store::notifications as store;
use tokio::time::timeout;
use tonic::Streaming;
use tonic::service::interceptor::InterceptedService;

pub type Notifications = NotificationServiceClient<InterceptedService<Channel, Metadata>>;

pub fn ago(minutes: i64) -> DateTime<Utc> {
    taskflow::clock::now() - chrono::Duration::minutes(minutes)
}

pub fn notifications(app: &TestApp, user: &str) -> Notifications {
    client_on(app.channel(), user)
}

pub async fn record(
    db: &Database,
    hub: &Hub,
    owner: &str,
    title: &str,
    at: DateTime<Utc>,
) -> Notification {
    let mut one = record_all(db, hub, owner, [(title.to_owned(), at)], "Due soon").await;
    one.pop().expect("one notification")
}

/// Records notifications for `owner` the way the reminder engine does: in one write
/// transaction, each announced through `hub` inside it, then committed and handed to the hub.
pub async fn record_all(
    db: &Database,
    hub: &Hub,
    owner: &str,
    items: impl IntoIterator<Item = (String, DateTime<Utc>)>,
    body: &str,
) -> Vec<Notification> {
    let (_turn, txn) = db.begin_write().await.expect("begins a transaction");
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
            due_time: None,
            reminder: None,
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

pub async fn mark(
    client: &mut Notifications,
    name: &str,
) -> Result<pb::Notification, tonic::Status> {
    client
        .mark_notification_read(pb::MarkNotificationReadRequest { name: name.into() })
        .await
        .map(tonic::Response::into_inner)
}

pub fn client_on(channel: Channel, user: &str) -> Notifications {
    NotificationServiceClient::with_interceptor(channel, Metadata::new(&[("x-user-id", user)]))
}

pub fn user(raw: &str) -> UserId {
    UserId::parse(raw).expect("a valid user id")
}

pub fn names(notifications: &[pb::Notification]) -> Vec<String> {
    notifications.iter().map(|n| n.name.clone()).collect()
}

pub async fn watch(
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

pub async fn list_page(
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

/// How long a notification may take to arrive.
pub const ARRIVES_WITHIN: Duration = Duration::from_secs(10);

/// The next notification on `stream`, which must come within [`ARRIVES_WITHIN`].
pub async fn next(stream: &mut Streaming<pb::Notification>) -> pb::Notification {
    timeout(ARRIVES_WITHIN, stream.message())
        .await
        .expect("a notification arrives in time")
        .expect("the stream does not fail")
        .expect("the stream stays open")
}

/// Asserts nothing arrives on `stream` for a while.
pub async fn stays_quiet(stream: &mut Streaming<pb::Notification>, whose: &str) {
    if let Ok(got) = timeout(QUIET_FOR, stream.message()).await {
        panic!("{whose} watcher received something it should not: {got:?}");
    }
}

/// How long to watch for something that must not arrive (after what should have arrived).
pub const QUIET_FOR: Duration = Duration::from_millis(300);
