//! Live fan-out of new notifications to the watchers in this process, and on PostgreSQL to
//! the watchers of every replica.
//!
//! A writer records a notification and announces it in two steps:
//! [`Hub::notify_in_txn`] inside its transaction, then [`Hub::committed`] after the commit.
//! On SQLite (one process) the second step broadcasts locally. On PostgreSQL the first step
//! issues `pg_notify`, which the database delivers on commit to the listener of every
//! replica (see [`Hub::listen`]); each listener loads the notification and broadcasts it to
//! its own watchers, so every watcher receives it exactly once, whichever replica wrote it.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tokio::sync::broadcast;

use super::Notification;
use crate::error::AppError;
use crate::store::{Backend, Database};

/// How many notifications a slow watcher may fall behind before it re-reads from the database.
pub const CAPACITY: usize = 1024;

/// The PostgreSQL channel that announces new notifications; the payload is the id.
pub const CHANNEL: &str = "taskflow_notifications";

/// Cheap to clone; every clone feeds the same watchers.
#[derive(Debug, Clone)]
pub struct Hub {
    sender: broadcast::Sender<Notification>,
    db: Database,
}

impl Hub {
    /// A hub for the notifications stored in `db` (whose backend decides how they travel).
    pub fn new(db: Database) -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            db,
        }
    }

    /// Announces `notification` to every replica when the transaction on `conn` commits
    /// (PostgreSQL `pg_notify`; nothing happens if it rolls back). Does nothing on SQLite,
    /// where [`Hub::committed`] delivers it.
    pub async fn notify_in_txn(
        &self,
        conn: &impl ConnectionTrait,
        notification: &Notification,
    ) -> Result<(), AppError> {
        if self.db.backend() != Backend::Postgres {
            return Ok(());
        }
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [
                CHANNEL.into(),
                notification.id.hyphenated().to_string().into(),
            ],
        ))
        .await?;
        Ok(())
    }

    /// Call after the transaction that recorded `notification` committed: on SQLite it
    /// reaches this process's watchers now; on PostgreSQL the listener delivers it (from the
    /// `pg_notify` of [`Hub::notify_in_txn`]), so this does nothing and nothing arrives twice.
    pub fn committed(&self, notification: &Notification) {
        if self.db.backend() != Backend::Postgres {
            self.broadcast(notification.clone());
        }
    }

    /// A receiver of every notification announced from now on, of every user. It holds at
    /// most [`CAPACITY`] unread ones; beyond that it reports `Lagged`.
    pub fn subscribe(&self) -> broadcast::Receiver<Notification> {
        self.sender.subscribe()
    }

    /// How many receivers (live watchers) are subscribed.
    pub fn receiver_count(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Hands `notification` to this process's watchers.
    pub(super) fn broadcast(&self, notification: Notification) {
        // No receivers is fine: nobody is watching.
        let _ = self.sender.send(notification);
    }

    pub(super) fn database(&self) -> &Database {
        &self.db
    }
}
