//! The in-process reminder loop (embedded mode): fires due reminders, then sleeps until the
//! next one is due, a reminder changes, or the clock jumps. Overdue reminders (the service was
//! down) fire at start, marked late.

use std::time::Duration as StdDuration;

use tokio::sync::watch;

use super::Reminders;
use crate::store::{reminders as store, to_micros};

/// The longest sleep: reminders armed by other replicas are noticed at least this often.
const MAX_SLEEP: StdDuration = StdDuration::from_secs(30);

impl Reminders {
    /// Runs until `shutdown` turns true.
    pub async fn run_local(self, mut shutdown: watch::Receiver<bool>) {
        let jumps = self.clock.jumps();
        loop {
            if *shutdown.borrow() {
                break;
            }
            if let Err(err) = self.fire_due().await {
                tracing::warn!(%err, "firing reminders failed; retrying");
            }
            let sleep = match store::next_fire_at(self.db.conn()).await {
                Ok(Some(next)) => {
                    let wait = next.saturating_sub(to_micros(self.clock.now())).max(0);
                    StdDuration::from_micros(u64::try_from(wait).unwrap_or(0)).min(MAX_SLEEP)
                }
                Ok(None) => MAX_SLEEP,
                Err(_) => StdDuration::from_secs(1),
            };
            let jumped = async {
                match &jumps {
                    Some(notify) => notify.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = self.changed.notified() => {}
                () = jumped => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
