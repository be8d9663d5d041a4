//! The job worker (cluster mode): after a delivery commits a change to a reminder, schedules
//! or deletes its Dapr job; and it sweeps up reminders whose trigger never came. Deliveries never call the sidecar themselves, so a slow or absent
//! sidecar holds no rows and no write turn; the mark on the row keeps the change until the
//! sidecar has it, across failures and restarts (any replica's worker carries it out).

use std::time::Duration;

use tokio::sync::watch;

use super::{Reminders, context};
use crate::convert::timestamp_out;
use crate::error::AppError;
use crate::proto::events::v1 as ev;
use crate::store::entity::reminder::{CANCELLED, SCHEDULED};
use crate::store::{from_micros, reminders as store};

/// Rows read per round.
const BATCH: u64 = 64;
/// How often pending rows are looked for without being told: rows marked by a replica that
/// stopped before its own worker got to them.
const POLL: Duration = Duration::from_secs(5);
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

impl Reminders {
    /// Brings every pending job in line with its reminder, outside any transaction; returns
    /// how many it carried out. Stops at the first sidecar failure (the rest stay pending).
    pub async fn sync_jobs(&self) -> Result<usize, AppError> {
        let mut done = 0;
        loop {
            let rows = store::pending_jobs(self.db.conn(), BATCH).await?;
            let full = rows.len() as u64 == BATCH;
            for row in rows {
                match store::task_of(&row) {
                    Ok(name) if row.state == SCHEDULED => {
                        let scheduled = ev::ReminderScheduled {
                            context: context(&name, from_micros(row.updated_us), ""),
                            task: name.to_string(),
                            fire_time: Some(timestamp_out(from_micros(row.fire_at_us))),
                            due_time: row.due_at_us.map(|due| timestamp_out(from_micros(due))),
                            reminder_id: row.reminder_id.clone(),
                        };
                        self.scheduler.schedule(&name, &scheduled).await?;
                    }
                    Ok(name) if row.state == CANCELLED => {
                        self.scheduler.cancel(&name, &row.reminder_id).await?;
                    }
                    // A fired reminder's job has run: nothing is left to do.
                    Ok(_) => {}
                    Err(err) => tracing::error!(%err, "a reminder row that cannot be synced"),
                }
                let _turn = self.db.write_turn().await?;
                if store::job_done(self.db.conn(), &row).await? {
                    done += 1;
                }
            }
            if !full {
                return Ok(done);
            }
        }
    }

    /// Runs the job worker until `shutdown` turns true.
    pub async fn run_jobs(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = BACKOFF_START;
        let mut failing = false;
        // The sweep runs once per poll, not on every wake-up: deliveries wake the worker often.
        let mut last_sweep: Option<tokio::time::Instant> = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if last_sweep.is_none_or(|at| at.elapsed() >= POLL) {
                last_sweep = Some(tokio::time::Instant::now());
                match self.fire_overdue().await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::warn!(fired = n, "fired reminders whose job trigger never came");
                    }
                    Err(err) => {
                        tracing::debug!(%err, "the overdue-reminder sweep failed; retrying")
                    }
                }
            }
            let pause = match self.sync_jobs().await {
                Ok(n) => {
                    if failing {
                        tracing::info!(synced = n, "reminder jobs are scheduled again");
                        failing = false;
                    }
                    backoff = BACKOFF_START;
                    POLL
                }
                Err(err) => {
                    if !failing {
                        tracing::warn!(%err, "cannot sync reminder jobs; retrying (nothing is lost)");
                        failing = true;
                    }
                    let pause = backoff;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    pause
                }
            };
            tokio::select! {
                () = self.changed.notified(), if !failing => {}
                () = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
