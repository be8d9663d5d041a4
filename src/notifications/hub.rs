//! Live fan-out of new notifications to the watchers in this process.

use tokio::sync::broadcast;

use super::Notification;

/// How many notifications a slow watcher may fall behind before it re-reads from the database.
const CAPACITY: usize = 1024;

/// Cheap to clone; every clone feeds the same watchers.
#[derive(Debug, Clone)]
pub struct Hub {
    sender: broadcast::Sender<Notification>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
        }
    }

    /// Announces a committed notification to this process's watchers.
    pub fn committed(&self, notification: &Notification) {
        // No receivers is fine: nobody is watching.
        let _ = self.sender.send(notification.clone());
    }

    /// A receiver of every notification announced from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notification> {
        self.sender.subscribe()
    }
}
