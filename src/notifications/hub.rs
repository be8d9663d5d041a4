//! Live fan-out of new notifications to the watchers in this process, and on PostgreSQL to
//! the watchers of every replica.
//!
//! A writer records a notification and announces it in two steps:
//! [`Hub::notify_in_txn`] inside its transaction, then [`Hub::committed`] after the commit.
//! On SQLite (one process) the second step broadcasts locally. On PostgreSQL the first step
//! issues `pg_notify`, which the database delivers on commit to the listener of every
//! replica (see [`Hub::listen`]); each listener loads the notification and broadcasts it to
//! its own watchers, so every watcher receives it exactly once, whichever replica wrote it.
//!
//! Every notification goes into one broadcast ring, but only the watchers of its user are
//! woken (each watched user has a bell): with thousands of watchers open, a notification
//! costs a wake-up of its own user's watchers, not of all of them. A watcher reads the ring
//! only when its bell rings; one that was not woken for longer than the ring holds finds it
//! has lagged and reads what it missed from the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use sea_orm::ConnectionTrait;
use tokio::sync::{Notify, broadcast};

use crate::domain::{Notification, UserId};
use crate::error::AppError;
use crate::store::{Backend, Database, announcements};

/// How many notifications the ring holds; a watcher further behind re-reads from the database.
pub const CAPACITY: usize = 1024;

/// Cheap to clone; every clone feeds the same watchers.
#[derive(Debug, Clone)]
pub struct Hub {
    sender: broadcast::Sender<Arc<Notification>>,
    bells: Arc<Bells>,
    db: Database,
}

/// The watched users of this process and their bells.
#[derive(Debug, Default)]
struct Bells(Mutex<HashMap<UserId, Bell>>);

#[derive(Debug)]
struct Bell {
    notify: Arc<Notify>,
    /// How many subscriptions ring this bell; it goes when the last one does.
    watchers: usize,
}

impl Bells {
    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, Bell>> {
        // The map stays consistent whatever panicked while holding it.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One watcher's place at the hub: the ring from the moment it subscribed, and its user's
/// bell, rung after each of the user's notifications enters the ring. Leaving (drop) takes the
/// bell down with the user's last watcher.
#[derive(Debug)]
pub struct Subscription {
    pub(super) live: broadcast::Receiver<Arc<Notification>>,
    pub(super) bell: Arc<Notify>,
    user: UserId,
    bells: Arc<Bells>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut bells = self.bells.lock();
        if let Some(bell) = bells.get_mut(&self.user) {
            bell.watchers = bell.watchers.saturating_sub(1);
            if bell.watchers == 0 {
                bells.remove(&self.user);
            }
        }
    }
}

impl Hub {
    /// A hub for the notifications stored in `db` (whose backend decides how they travel).
    pub fn new(db: Database) -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            bells: Arc::default(),
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
        announcements::announce(conn, notification.id).await
    }

    /// [`Hub::notify_in_txn`] for many notifications, in one statement.
    pub async fn notify_many_in_txn(
        &self,
        conn: &impl ConnectionTrait,
        notifications: &[Notification],
    ) -> Result<(), AppError> {
        if self.db.backend() != Backend::Postgres {
            return Ok(());
        }
        let ids: Vec<_> = notifications.iter().map(|n| n.id).collect();
        announcements::announce_many(conn, &ids).await
    }

    /// Call after the transaction that recorded `notification` committed: on SQLite it
    /// reaches this process's watchers now; on PostgreSQL the listener delivers it (from the
    /// `pg_notify` of [`Hub::notify_in_txn`]), so this does nothing and nothing arrives twice.
    pub fn committed(&self, notification: &Notification) {
        if self.db.backend() != Backend::Postgres {
            self.broadcast(notification.clone());
        }
    }

    /// Subscribes a watcher of `user`: it receives every notification announced from now on
    /// (of every user, in one ring of at most [`CAPACITY`]; beyond that it reports `Lagged`),
    /// and its bell rings after each of `user`'s.
    pub fn subscribe(&self, user: &UserId) -> Subscription {
        let live = self.sender.subscribe();
        let mut bells = self.bells.lock();
        let bell = bells.entry(user.clone()).or_insert_with(|| Bell {
            notify: Arc::new(Notify::new()),
            watchers: 0,
        });
        bell.watchers += 1;
        Subscription {
            live,
            bell: bell.notify.clone(),
            user: user.clone(),
            bells: self.bells.clone(),
        }
    }

    /// How many receivers (live watchers) are subscribed.
    pub fn receiver_count(&self) -> usize {
        self.sender.receiver_count()
    }

    /// How many users have a watcher in this process.
    pub fn watched_users(&self) -> usize {
        self.bells.lock().len()
    }

    /// Hands `notification` to this process's watchers: puts it in the ring, then rings its
    /// user's bell.
    pub(super) fn broadcast(&self, notification: Notification) {
        let notification = Arc::new(notification);
        // No receivers is fine: nobody is watching.
        let _ = self.sender.send(notification.clone());
        if let Some(bell) = self.bells.lock().get(&notification.user) {
            bell.notify.notify_waiters();
        }
    }

    pub(super) fn database(&self) -> &Database {
        &self.db
    }
}
