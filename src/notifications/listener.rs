//! On PostgreSQL: `LISTEN` for the notifications every replica commits, load each and
//! broadcast it to this process's watchers.
//!
//! PostgreSQL does not keep notifications for a listener that is away, so after any lost
//! connection the listener re-reads what was created meanwhile (from a little before the
//! last one it delivered) and broadcasts that too; watchers skip what they already sent.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sqlx::{
    self,
    postgres::{PgListener, PgPool},
};
use tokio::{sync::watch, task::JoinHandle};
use uuid::Uuid;

use super::Hub;
use crate::domain::Notification;
use crate::store::notifications::{self as store, Position};
use crate::store::{Backend, announcements, to_micros};

/// The first pause after a failure; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How far before the last delivered notification a catch-up starts, for writers whose
/// commits land slightly out of creation order.
const CATCH_UP_MARGIN_US: i64 = 2_000_000;
/// Rows per catch-up query.
const CATCH_UP_BATCH: u64 = 256;

impl Hub {
    /// On PostgreSQL, starts the listener that delivers the notifications committed by any
    /// replica to this process's watchers, and returns its task; `None` on SQLite, where
    /// [`Hub::committed`] delivers. Returns once `LISTEN` is in place (or has failed once,
    /// after which the task keeps retrying with a short backoff), so what commits afterwards
    /// is delivered. The task ends when `stop` turns true (or its sender is dropped).
    pub async fn listen(&self, stop: watch::Receiver<bool>) -> Option<JoinHandle<()>> {
        if self.database().backend() != Backend::Postgres {
            return None;
        }
        let pool = announcements::listener_pool(self.database());
        let mut listener = Listener {
            hub: self.clone(),
            pool,
            last: Position {
                create_us: to_micros(Utc::now()),
                id: Uuid::nil(),
            },
            missed: false,
            failing: false,
        };
        let first = listener.connect().await;
        Some(tokio::spawn(listener.run(first, stop)))
    }
}

struct Listener {
    hub: Hub,
    pool: PgPool,
    /// The latest position delivered (or, before any, when listening started).
    last: Position,
    /// Whether notifications may have been missed since the last catch-up.
    missed: bool,
    /// Whether the current outage was logged already.
    failing: bool,
}

fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow()
}

impl Listener {
    async fn connect(&mut self) -> Result<PgListener, sqlx::Error> {
        announcements::listen(&self.pool).await
    }

    async fn run(
        mut self,
        first: Result<PgListener, sqlx::Error>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut attempt = Some(first);
        let mut backoff = MIN_BACKOFF;
        while !stopping(&stop) {
            let connected = match attempt.take() {
                Some(result) => result,
                None => tokio::select! {
                    _ = stop.changed() => break,
                    result = self.connect() => result,
                },
            };
            match connected {
                Ok(listener) => {
                    if self.failing {
                        tracing::info!("listening for notifications again");
                        self.failing = false;
                    }
                    backoff = MIN_BACKOFF;
                    if self.receive(listener, &mut stop).await {
                        break;
                    }
                }
                Err(err) => self.failed(&err),
            }
            tokio::select! {
                _ = stop.changed() => break,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        self.pool.close().await;
    }

    /// Delivers until the connection fails (false) or `stop` says so (true).
    async fn receive(
        &mut self,
        mut listener: PgListener,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        loop {
            if self.missed {
                self.catch_up().await;
            }
            tokio::select! {
                changed = stop.changed() => {
                    if changed.is_err() || stopping(stop) {
                        return true;
                    }
                }
                received = listener.try_recv() => match received {
                    Ok(Some(announced)) => self.deliver(announced.payload()).await,
                    // The connection was lost and re-established: some may be missing.
                    Ok(None) => self.missed = true,
                    Err(err) => {
                        self.failed(&err);
                        return false;
                    }
                },
            }
        }
    }

    fn failed(&mut self, err: &dyn std::fmt::Display) {
        self.missed = true;
        if self.failing {
            tracing::debug!(%err, "still not listening for notifications");
        } else {
            tracing::warn!(%err, "lost the notification listener; reconnecting (live notifications from other replicas are delayed)");
            self.failing = true;
        }
    }

    async fn deliver(&mut self, payload: &str) {
        let Ok(id) = Uuid::try_parse(payload) else {
            tracing::warn!(payload, "ignoring a malformed notification announcement");
            return;
        };
        match store::by_id(self.hub.database().conn(), id).await {
            Ok(Some(notification)) => self.broadcast(notification),
            Ok(None) => tracing::debug!(%id, "an announced notification is gone"),
            Err(err) => {
                tracing::warn!(%err, %id, "cannot load an announced notification; will catch up");
                self.missed = true;
            }
        }
    }

    fn broadcast(&mut self, notification: Notification) {
        self.last = self.last.max(Position::of(&notification));
        self.hub.broadcast(notification);
    }

    /// Broadcasts everything created since a little before the last delivered notification.
    async fn catch_up(&mut self) {
        let mut from = Position {
            create_us: self.last.create_us.saturating_sub(CATCH_UP_MARGIN_US),
            id: Uuid::nil(),
        };
        loop {
            let batch =
                match store::after(self.hub.database().conn(), None, from, CATCH_UP_BATCH).await {
                    Ok(batch) => batch,
                    Err(err) => {
                        tracing::warn!(%err, "cannot catch up on notifications; will retry");
                        return;
                    }
                };
            let done = (batch.len() as u64) < CATCH_UP_BATCH;
            for notification in batch {
                from = Position::of(&notification);
                self.broadcast(notification);
            }
            if done {
                self.missed = false;
                return;
            }
        }
    }
}
