//! The retention worker: every replica deletes, from time to time, the rows kept only for a
//! while (`store/retention.rs` says which), in small batches with a pause between them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::{Clock, now};
use crate::config::RetentionConfig;
use crate::error::AppError;
use crate::metrics::{TableLabels, metrics};
use crate::outbox::{Cause, EventKind, Outbox, task_event};
use crate::store::retention::{Kept, prune_batch};
use crate::store::{Database, tasks, to_micros};

/// A pause between two batches, so that a long backlog of old rows is deleted as a trickle
/// of short statements rather than one long one.
const BATCH_PAUSE: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, Copy)]
pub struct RetentionSettings {
    pub published_events: Duration,
    pub processed_events: Duration,
    pub read_notifications: Duration,
    pub resolved_dead_letters: Duration,
    pub activities: Duration,
    pub every: Duration,
    pub batch_size: u64,
}

fn hours(h: u64) -> Duration {
    Duration::from_secs(h.saturating_mul(3600))
}

impl From<&RetentionConfig> for RetentionSettings {
    fn from(config: &RetentionConfig) -> Self {
        Self {
            published_events: hours(config.outbox_retention_hours),
            processed_events: hours(config.processed_events_retention_hours),
            read_notifications: hours(config.read_notifications_retention_hours),
            resolved_dead_letters: hours(config.resolved_dead_letters_retention_hours),
            activities: hours(config.activities_retention_hours),
            every: Duration::from_secs(config.retention_interval_seconds.max(1)),
            batch_size: config.retention_batch_size.max(1),
        }
    }
}

impl RetentionSettings {
    fn keep(&self, kept: Kept) -> Duration {
        match kept {
            Kept::ProcessedEvents => self.processed_events,
            Kept::ReadNotifications => self.read_notifications,
            Kept::ResolvedDeadLetters => self.resolved_dead_letters,
            Kept::PublishedEvents => self.published_events,
            Kept::Activities | Kept::ActivityDays => self.activities,
        }
    }
}

/// What one pass deleted, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub processed_events: u64,
    pub read_notifications: u64,
    pub resolved_dead_letters: u64,
    pub published_events: u64,
    pub activities: u64,
    pub activity_days: u64,
    /// Deleted tasks past their purge time, removed with a `task.purged` event each.
    pub purged_tasks: u64,
    /// The statements the pass ran (a batch that found fewer rows than the limit ends a kind).
    pub batches: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.processed_events
            + self.read_notifications
            + self.resolved_dead_letters
            + self.published_events
            + self.activities
            + self.activity_days
            + self.purged_tasks
    }

    fn add(&mut self, kept: Kept, n: u64) {
        let count = match kept {
            Kept::ProcessedEvents => &mut self.processed_events,
            Kept::ReadNotifications => &mut self.read_notifications,
            Kept::ResolvedDeadLetters => &mut self.resolved_dead_letters,
            Kept::PublishedEvents => &mut self.published_events,
            Kept::Activities => &mut self.activities,
            Kept::ActivityDays => &mut self.activity_days,
        };
        *count += n;
        self.batches += 1;
    }
}

#[derive(Clone)]
pub struct Retention {
    db: Database,
    outbox: Outbox,
    clock: Arc<dyn Clock>,
    settings: RetentionSettings,
}

impl Retention {
    pub fn new(
        db: Database,
        outbox: Outbox,
        clock: Arc<dyn Clock>,
        settings: RetentionSettings,
    ) -> Self {
        Self {
            db,
            outbox,
            clock,
            settings,
        }
    }

    /// Purges deleted tasks past their purge time: a batch per transaction, each task removed
    /// with its `task.purged` event in the same transaction.
    async fn purge(&self, now_us: i64, pruned: &mut Pruned) -> Result<(), AppError> {
        loop {
            let purged = {
                let (_turn, txn) = self.db.begin_write().await?;
                let due = tasks::purgeable(&txn, now_us, self.settings.batch_size).await?;
                for task in &due {
                    tasks::delete(&txn, &task.name()).await?;
                    let mut gone = task.clone();
                    gone.update_time = now().max(gone.update_time);
                    let cause = Cause::Automation {
                        causation_id: String::new(),
                    };
                    let event = task_event(EventKind::TaskPurged, &gone, &cause, &[]);
                    self.outbox.enqueue(&txn, event).await?;
                }
                txn.commit().await?;
                due.len() as u64
            };
            if purged > 0 {
                self.outbox.wake();
                metrics()
                    .retention_deleted
                    .get_or_create(&TableLabels {
                        table: "purged_tasks",
                    })
                    .inc_by(purged);
            }
            pruned.purged_tasks += purged;
            pruned.batches += 1;
            if purged < self.settings.batch_size {
                return Ok(());
            }
            tokio::time::sleep(BATCH_PAUSE).await;
        }
    }

    /// Deletes every row past its retention, batch after batch, until none is left.
    pub async fn run_once(&self) -> Result<Pruned, AppError> {
        let mut pruned = Pruned::default();
        let now = to_micros(self.clock.now());
        self.purge(now, &mut pruned).await?;
        for kept in Kept::ALL {
            let keep = i64::try_from(self.settings.keep(kept).as_micros()).unwrap_or(i64::MAX);
            let before = now.saturating_sub(keep);
            loop {
                let deleted = {
                    let _turn = self.db.write_turn().await?;
                    prune_batch(self.db.conn(), kept, before, self.settings.batch_size).await?
                };
                pruned.add(kept, deleted);
                if deleted > 0 {
                    metrics()
                        .retention_deleted
                        .get_or_create(&TableLabels { table: kept.name() })
                        .inc_by(deleted);
                }
                if deleted < self.settings.batch_size {
                    break;
                }
                tokio::time::sleep(BATCH_PAUSE).await;
            }
        }
        Ok(pruned)
    }

    /// Prunes every `settings.every` (the first pass at a random point of the first interval,
    /// so that replicas started together do not prune together) until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let first = crate::clock::jitter(self.settings.every * 2) - self.settings.every / 2;
        let mut next = tokio::time::Instant::now() + first;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(next) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            next = tokio::time::Instant::now() + self.settings.every;
            let pass = tokio::select! {
                pass = self.run_once() => pass,
                _ = shutdown.wait_for(|stop| *stop) => return,
            };
            match pass {
                Ok(pruned) if pruned.total() > 0 => {
                    tracing::info!(?pruned, "deleted rows past their retention")
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(%err, "pruning rows past their retention failed"),
            }
        }
    }
}
