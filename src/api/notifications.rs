//! `taskflow.v1.NotificationService`.

use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::tasks::owned_parent;
use crate::auth::{caller, ensure_owner};
use crate::clock::{Clock, SystemClock};
use crate::convert::{duration_in, reminder_out, timestamp_in, timestamp_out};
use crate::domain::UserId;
use crate::domain::{Kind, Notification, NotificationName};
use crate::error::AppError;
use crate::listing::{Cursor, CursorValue, PageToken, PageTokenKey, fit_page, page_size};
use crate::notifications::{self, Hub};
use crate::proto::v1::{self as pb, notification_service_server::NotificationService};
use crate::reminders::{Reminders, SnoozeFor};
use crate::store::Database;
use crate::store::notifications::{self as store, Position};

/// The gRPC face of in-app notifications.
#[derive(Debug, Clone)]
pub struct NotificationApi {
    db: Database,
    hub: Hub,
    shutdown: watch::Receiver<bool>,
    page_tokens: PageTokenKey,
    /// The time notifications are marked read at.
    clock: Arc<dyn Clock>,
    /// Snoozes reminders.
    reminders: Reminders,
}

impl NotificationApi {
    /// Serves the notifications in `db`, live through `hub`, with page tokens sealed by
    /// `page_tokens`; open watches end when `shutdown` turns true.
    pub fn new(
        db: Database,
        hub: Hub,
        shutdown: watch::Receiver<bool>,
        page_tokens: PageTokenKey,
        reminders: Reminders,
    ) -> Self {
        Self {
            db,
            hub,
            shutdown,
            page_tokens,
            clock: Arc::new(SystemClock),
            reminders,
        }
    }

    /// Marks notifications read at `clock`'s time (tests move a manual clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

pub fn notification_out(notification: &Notification) -> pb::Notification {
    pb::Notification {
        name: notification.name(),
        task: notification.task.to_string(),
        kind: match notification.kind {
            Kind::Reminder => pb::NotificationKind::Reminder,
        } as i32,
        title: notification.title.clone(),
        body: notification.body.clone(),
        create_time: Some(timestamp_out(notification.create_time)),
        read_time: notification.read_time.map(timestamp_out),
        due_time: notification.due_time.map(timestamp_out),
        reminder: notification
            .reminder
            .as_ref()
            .and_then(|r| r.spec.as_ref())
            .map(|spec| reminder_out(spec, notification.due_time)),
        snooze_time: notification.snooze_time.map(timestamp_out),
    }
}

/// When a SnoozeNotification request says the reminder fires again.
fn snooze_in(
    until: Option<&pb::snooze_notification_request::UntilTime>,
) -> Result<SnoozeFor, AppError> {
    use pb::snooze_notification_request::UntilTime;
    match until {
        Some(UntilTime::Duration(d)) => duration_in(d)
            .map(SnoozeFor::Duration)
            .map_err(|e| AppError::invalid("duration", e)),
        Some(UntilTime::Until(t)) => timestamp_in(t)
            .map(SnoozeFor::Until)
            .map_err(|e| AppError::invalid("until", e)),
        None => Err(AppError::invalid(
            "duration",
            "set duration or until: when the reminder fires again",
        )),
    }
}

/// What a page token of ListNotifications is tied to.
fn fingerprint(user: &UserId, unread_only: bool) -> [&str; 3] {
    [
        "notifications",
        user.as_str(),
        if unread_only { "unread" } else { "all" },
    ]
}

fn bad_token() -> AppError {
    AppError::invalid("page_token", "is not a page token issued by this service")
}

fn position_in(cursor: &Cursor) -> Result<Position, AppError> {
    match cursor.values.as_slice() {
        [CursorValue::Int(create_us)] => Ok(Position {
            create_us: *create_us,
            id: cursor.id,
        }),
        _ => Err(bad_token()),
    }
}

fn cursor_out(position: Position) -> Cursor {
    Cursor {
        values: vec![CursorValue::Int(position.create_us)],
        id: position.id,
    }
}

type NotificationStream =
    Pin<Box<dyn Stream<Item = Result<pb::Notification, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl NotificationService for NotificationApi {
    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let user = owned_parent(&caller, &req.parent, "parent")?;
        let limit = page_size(req.page_size).map_err(|e| AppError::invalid("page_size", e))?;
        let fingerprint = fingerprint(&user, req.unread_only);
        let before = if req.page_token.is_empty() {
            None
        } else {
            let token = PageToken::decode(&req.page_token, &fingerprint, &self.page_tokens)
                .map_err(|e| AppError::invalid("page_token", e))?;
            Some(position_in(&token.cursor)?)
        };
        let (page, mut next) =
            store::page(self.db.conn(), &user, req.unread_only, before, limit).await?;
        let mut out: Vec<pb::Notification> = page.iter().map(notification_out).collect();
        // As in ListTasks: a page ends early rather than pass a client's receive limit.
        fit_page(&mut out, &page, &mut next, Position::of);
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: out,
            next_page_token: next
                .map(|position| {
                    PageToken::new(cursor_out(position), &fingerprint).encode(&self.page_tokens)
                })
                .unwrap_or_default(),
        }))
    }

    async fn mark_notification_read(
        &self,
        request: Request<pb::MarkNotificationReadRequest>,
    ) -> Result<Response<pb::Notification>, Status> {
        let caller = caller(&request)?;
        let name = NotificationName::parse(&request.get_ref().name)
            .map_err(|e| AppError::invalid("name", e))?;
        ensure_owner(&caller, &name.user)?;
        let turn = self.db.write_turn().await?;
        let notification =
            store::mark_read(self.db.conn(), &name.user, name.id, self.clock.now()).await?;
        drop(turn);
        let notification =
            notification.ok_or_else(|| AppError::NotFound(format!("notification {name}")))?;
        Ok(Response::new(notification_out(&notification)))
    }

    async fn snooze_notification(
        &self,
        request: Request<pb::SnoozeNotificationRequest>,
    ) -> Result<Response<pb::Notification>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let name = NotificationName::parse(&req.name).map_err(|e| AppError::invalid("name", e))?;
        ensure_owner(&caller, &name.user)?;
        let when = snooze_in(req.until_time.as_ref())?;
        let notification = self.reminders.snooze(&name, when).await?;
        Ok(Response::new(notification_out(&notification)))
    }

    type WatchNotificationsStream = NotificationStream;

    async fn watch_notifications(
        &self,
        request: Request<pb::WatchNotificationsRequest>,
    ) -> Result<Response<Self::WatchNotificationsStream>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let user = owned_parent(&caller, &req.parent, "parent")?;
        let since = req
            .since
            .as_ref()
            .map(timestamp_in)
            .transpose()
            .map_err(|e| AppError::invalid("since", e))?;
        let watched = notifications::watch(
            self.db.clone(),
            &self.hub,
            user,
            since,
            self.shutdown.clone(),
        )
        .await?;
        // The watcher's stream ends by itself only when the server shuts down. The status is
        // made then, not held by every open stream.
        let ended = tokio_stream::iter(std::iter::once_with(|| {
            Err(Status::unavailable(
                "the server is shutting down: watch again, with `since` set to the create_time \
                 of the last notification received",
            ))
        }));
        let stream = watched
            .map(|item| item.map(|n| notification_out(&n)).map_err(Status::from))
            .chain(ended);
        Ok(Response::new(Box::pin(stream)))
    }
}
