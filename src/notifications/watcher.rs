//! One watcher of one user's notifications: the backlog created after `since`, oldest
//! first, then each new one as the [`Hub`] announces it, until the client goes away.
//!
//! A watcher is one task feeding a bounded channel. It subscribes to the hub before it reads
//! the backlog and remembers the position of the last notification it sent, skipping
//! anything at or before it, so nothing is lost or sent twice at the seam. A client that
//! reads slowly only holds up its own task; if the hub runs more than its capacity ahead,
//! the watcher re-reads what it missed from the database instead of dropping it.

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc, watch as signal};
use tokio_stream::{Stream, StreamExt, wrappers::ReceiverStream};

use super::{Hub, Notification, Position, store};
use crate::domain::UserId;
use crate::error::AppError;
use crate::store::Database;

/// How many notifications wait for a client before its watcher waits too.
pub const WATCH_BUFFER: usize = 64;
/// Rows per database read.
const BATCH: u64 = 128;

/// Starts watching `user`'s notifications: those created after `since` first, then the new
/// ones. Without `since`, only those committed after this returns: what was stored before is
/// skipped even if the hub announces it later (on PostgreSQL the announcement travels through
/// the listener). Subscribes to `hub` before returning, so everything committed afterwards is
/// delivered. The stream ends with an error if the database fails, and ends (without error)
/// when `shutdown` turns true; its task ends when the stream is dropped.
pub async fn watch(
    db: Database,
    hub: &Hub,
    user: UserId,
    since: Option<DateTime<Utc>>,
    shutdown: signal::Receiver<bool>,
) -> Result<impl Stream<Item = Result<Notification, AppError>> + Send + 'static, AppError> {
    let live = hub.subscribe();
    let (backlog, sent) = match since {
        Some(since) => (true, Some(Position::after_time(since))),
        None => (false, store::latest(db.conn(), &user).await?),
    };
    let (tx, rx) = mpsc::channel(WATCH_BUFFER);
    let watcher = Watcher {
        db,
        user,
        tx,
        shutdown,
        sent,
    };
    tokio::spawn(watcher.run(live, backlog));
    Ok(ReceiverStream::new(rx).map(|item| *item))
}

/// The client went away, the server is shutting down, or the stream ended with an error.
struct Done;

struct Watcher {
    db: Database,
    user: UserId,
    /// Items are boxed: a channel allocates its slots in blocks, and a pointer-sized slot keeps
    /// an idle watcher small (thousands of them are open at once).
    tx: mpsc::Sender<Box<Result<Notification, AppError>>>,
    shutdown: signal::Receiver<bool>,
    /// The position of the last notification sent (or of `since`, or of the newest one
    /// stored when the watch began); `None`: there was none, everything is new.
    sent: Option<Position>,
}

impl Watcher {
    async fn run(mut self, mut live: broadcast::Receiver<Notification>, backlog: bool) {
        // Database reads are boxed: the task of an idle watcher then holds only what waiting
        // needs, not the space of a query in flight (thousands of watchers wait at once).
        if backlog
            && let Some(since) = self.sent
            && Box::pin(self.catch_up(since)).await.is_err()
        {
            return;
        }
        loop {
            let received = tokio::select! {
                () = self.tx.closed() => return,
                _ = self.shutdown.changed() => return,
                received = live.recv() => received,
            };
            let step = match received {
                Ok(notification) => self.forward(notification).await,
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, user = %self.user, "a watcher fell behind; re-reading");
                    Box::pin(self.catch_up(self.sent.unwrap_or(Position::FIRST))).await
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if step.is_err() {
                return;
            }
        }
    }

    /// Sends every notification of the user after `from` from the database.
    async fn catch_up(&mut self, mut from: Position) -> Result<(), Done> {
        loop {
            let batch = match store::after(self.db.conn(), Some(&self.user), from, BATCH).await {
                Ok(batch) => batch,
                Err(err) => {
                    let _ = self.send(Err(err)).await;
                    return Err(Done);
                }
            };
            let done = (batch.len() as u64) < BATCH;
            for notification in batch {
                from = Position::of(&notification);
                self.forward(notification).await?;
            }
            if done {
                return Ok(());
            }
        }
    }

    /// Sends `notification` unless it belongs to someone else or was sent already.
    async fn forward(&mut self, notification: Notification) -> Result<(), Done> {
        if notification.user != self.user {
            return Ok(());
        }
        let position = Position::of(&notification);
        if self.sent.is_some_and(|sent| position <= sent) {
            return Ok(());
        }
        self.send(Ok(notification)).await?;
        self.sent = Some(position);
        Ok(())
    }

    async fn send(&mut self, item: Result<Notification, AppError>) -> Result<(), Done> {
        tokio::select! {
            sent = self.tx.send(Box::new(item)) => sent.map_err(|_| Done),
            _ = self.shutdown.changed() => Err(Done),
        }
    }
}
