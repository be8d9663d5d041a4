//! One watcher of one user's notifications: the backlog created after `since`, oldest
//! first, then each new one as the [`Hub`] announces it, until the client goes away.
//!
//! A watcher is the response stream itself: no task and no channel of its own, so an idle
//! watcher holds only what waiting on its user's bell needs (thousands are open at once). It
//! subscribes to the hub before it reads the backlog and remembers the position of the last
//! notification it yielded, skipping anything at or before it, so nothing is lost or sent
//! twice at the seam. A client that reads slowly only holds up its own stream; if the hub's
//! ring runs more than its capacity ahead, the watcher re-reads what it missed from the
//! database instead of dropping it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast::error::TryRecvError, watch as signal};
use tokio_stream::Stream;

use super::Hub;
use super::hub::Subscription;
use crate::domain::{Notification, UserId};
use crate::error::AppError;
use crate::store::Database;
use crate::store::notifications::{self as store, Position};

/// Rows per database read.
const BATCH: u64 = 128;

/// Starts watching `user`'s notifications: those created after `since` first, then the new
/// ones. Without `since`, only those committed after this returns: what was stored before is
/// skipped even if the hub announces it later (on PostgreSQL the announcement travels through
/// the listener). Subscribes to `hub` before returning, so everything committed afterwards is
/// delivered. The stream ends with an error if the database fails, and ends (without error)
/// when `shutdown` turns true.
pub async fn watch(
    db: Database,
    hub: &Hub,
    user: UserId,
    since: Option<DateTime<Utc>>,
    shutdown: signal::Receiver<bool>,
) -> Result<impl Stream<Item = Result<Notification, AppError>> + Send + 'static, AppError> {
    let hub = hub.subscribe(&user);
    let (read_from, sent) = match since {
        Some(since) => {
            let since = Position::after_time(since);
            (Some(since), Some(since))
        }
        None => (None, store::latest(db.conn(), &user).await?),
    };
    let watcher = Watcher {
        db,
        user,
        hub,
        shutdown,
        sent,
        read_from,
        read: Vec::new().into_iter(),
        ended: false,
    };
    Ok(futures_util::stream::unfold(
        watcher,
        |mut watcher| async move {
            let item = watcher.next().await?;
            Some((item, watcher))
        },
    ))
}

struct Watcher {
    db: Database,
    user: UserId,
    hub: Subscription,
    shutdown: signal::Receiver<bool>,
    /// The position of the last notification yielded (or of `since`, or of the newest one
    /// stored when the watch began); `None`: there was none, everything is new.
    sent: Option<Position>,
    /// Where the next database read starts, while catching up.
    read_from: Option<Position>,
    /// The rest of the last database read.
    read: std::vec::IntoIter<Notification>,
    /// The server is shutting down or the database failed: nothing more comes.
    ended: bool,
}

impl Watcher {
    /// The next notification to send; `None` ends the stream.
    async fn next(&mut self) -> Option<Result<Notification, AppError>> {
        loop {
            if self.ended {
                return None;
            }
            if let Some(notification) = self.read.next() {
                if let Some(notification) = self.unsent(notification) {
                    return Some(Ok(notification));
                }
                continue;
            }
            if let Some(from) = self.read_from.take() {
                // Boxed: an idle watcher then holds only what waiting needs, not the space of
                // a query in flight.
                let read = Box::pin(store::after(self.db.conn(), Some(&self.user), from, BATCH));
                match read.await {
                    Ok(batch) => {
                        if batch.len() as u64 == BATCH {
                            self.read_from = batch.last().map(Position::of);
                        }
                        self.read = batch.into_iter();
                    }
                    Err(err) => {
                        self.ended = true;
                        return Some(Err(err));
                    }
                }
                continue;
            }
            let received = {
                // Enabled before the ring is read, so the bell rung after that read is not missed.
                let rung = self.hub.bell.notified();
                tokio::pin!(rung);
                rung.as_mut().enable();
                match self.hub.live.try_recv() {
                    Err(TryRecvError::Empty) => {
                        tokio::select! {
                            _ = self.shutdown.changed() => self.ended = true,
                            () = rung => {}
                        }
                        continue;
                    }
                    received => received,
                }
            };
            match received {
                Ok(notification) => {
                    if notification.user == self.user
                        && let Some(notification) = self.unsent(Arc::unwrap_or_clone(notification))
                    {
                        return Some(Ok(notification));
                    }
                }
                Err(TryRecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, user = %self.user, "a watcher fell behind; re-reading");
                    self.read_from = Some(self.sent.unwrap_or(Position::FIRST));
                }
                Err(TryRecvError::Closed) => return None,
                Err(TryRecvError::Empty) => {}
            }
        }
    }

    /// `notification` if it is this user's and was not sent yet (it then counts as sent).
    fn unsent(&mut self, notification: Notification) -> Option<Notification> {
        if notification.user != self.user {
            return None;
        }
        let position = Position::of(&notification);
        if self.sent.is_some_and(|sent| position <= sent) {
            return None;
        }
        self.sent = Some(position);
        Some(notification)
    }
}
