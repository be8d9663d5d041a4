//! The outbox relay: publishes committed events in sequence order, in batches, marks them
//! published, and backs off (exponentially, with jitter) while the sink fails. Nothing is
//! lost and no API call waits for it. On PostgreSQL one replica at a time is the relay (a
//! session advisory lock); on SQLite there is one process per database.
//!
//! Events committed on another replica reach the relay at once: that replica's relay, in
//! standby, sends a `NOTIFY` on the outbox channel when its own writers wake it, and the
//! relay `LISTEN`s while it leads (the poll remains for a lost notification).
//!
//! A batch's mark is written while the next batch is read and published (one mark in flight
//! at a time, its events left out of the next read), so the database's write and the sink's
//! round trip overlap. Publishing itself stays one batch at a time, which keeps the order.

use std::{collections::HashSet, sync::Arc, time::Duration};

use sea_orm::sqlx::postgres::PgListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use super::sink::EventSink;
use crate::config::EventsConfig;
use crate::error::AppError;
use crate::store::outbox::{mark_failed, mark_published, unpublished};
use crate::store::{Backend, Database, LeaderLock, announcements, to_micros};

/// The advisory-lock key of the relay ("taskflow" in ASCII).
pub const RELAY_LOCK_KEY: i64 = 0x7461_736b_666c_6f77;

const BACKOFF_START: Duration = Duration::from_millis(100);

/// How long the leader trusts its lock's session without checking it is alive. Until a check
/// notices a lost session, another replica may publish the same events too (same ids:
/// subscribers drop the copies).
const LEADER_CHECK_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
pub struct RelaySettings {
    pub batch_size: u64,
    pub poll: Duration,
    pub backoff_max: Duration,
}

impl From<&EventsConfig> for RelaySettings {
    fn from(config: &EventsConfig) -> Self {
        Self {
            batch_size: config.relay_batch_size.clamp(1, 10_000),
            poll: Duration::from_millis(config.relay_poll_ms.max(1)),
            backoff_max: Duration::from_millis(config.relay_backoff_max_ms.max(1)),
        }
    }
}

pub struct Relay {
    db: Database,
    sink: Arc<dyn EventSink>,
    waker: Arc<Notify>,
    settings: RelaySettings,
    /// The relay lock, while this replica holds it (PostgreSQL).
    leader: Option<LeaderLock>,
    /// Counts the rounds that found nothing left to publish (see [`Relay::idle_rounds`]).
    idle: watch::Sender<u64>,
    /// While leading on PostgreSQL: the other replicas' wake-ups.
    wakes: Option<PgListener>,
    /// When the leader's session was last seen alive.
    leader_checked: Instant,
    /// When this replica, standing by, last asked for the relay lock: it asks once per poll,
    /// not on every wake-up of its own writers (which only need passing on to the leader).
    lock_asked: Option<Instant>,
    /// The mark of the last published batch, still being written, and its events.
    marking: Option<Marking>,
}

/// A batch's mark being written, and the events it marks.
type Marking = (JoinHandle<Result<(), AppError>>, HashSet<i64>);

/// What one round of the relay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// Published this many events (0: nothing was waiting).
    Published(usize),
    /// The sink failed after publishing this many.
    Failed(usize),
    /// Another replica is the relay.
    Standby,
}

impl Relay {
    pub fn new(
        db: Database,
        sink: Arc<dyn EventSink>,
        waker: Arc<Notify>,
        settings: RelaySettings,
    ) -> Self {
        Self {
            db,
            sink,
            waker,
            settings,
            leader: None,
            idle: watch::channel(0).0,
            wakes: None,
            leader_checked: Instant::now(),
            lock_asked: None,
            marking: None,
        }
    }

    /// Holds (or takes) the relay lock. SQLite needs none.
    async fn lead(&mut self) -> Result<bool, AppError> {
        if self.db.backend() == Backend::Sqlite {
            return Ok(true);
        }
        if let Some(lock) = self.leader.as_mut() {
            if self.leader_checked.elapsed() < LEADER_CHECK_EVERY {
                return Ok(true);
            }
            // The lock lives as long as its session: check the session is alive.
            if lock.is_alive().await {
                self.leader_checked = Instant::now();
                return Ok(true);
            }
            tracing::warn!("lost the relay lock's connection; trying to lead again");
            self.leader = None;
            self.wakes = None;
        }
        if self
            .lock_asked
            .is_some_and(|asked| asked.elapsed() < self.settings.poll)
        {
            return Ok(false);
        }
        self.lock_asked = Some(Instant::now());
        let Some(lock) = LeaderLock::try_acquire(&self.db, RELAY_LOCK_KEY).await? else {
            return Ok(false);
        };
        tracing::info!("this replica is now the outbox relay");
        let pool = announcements::listener_pool(&self.db);
        match announcements::listen_on(&pool, announcements::OUTBOX_CHANNEL).await {
            Ok(listener) => self.wakes = Some(listener),
            Err(err) => tracing::warn!(%err, "cannot listen for other replicas' events; polling"),
        }
        self.leader = Some(lock);
        self.leader_checked = Instant::now();
        Ok(true)
    }

    /// Counts the rounds that found the outbox empty (every earlier batch published and
    /// marked). A round that starts after a commit and reports idle has published that
    /// commit's events; in embedded mode it has also handled them, and whatever they caused.
    pub fn idle_rounds(&self) -> watch::Receiver<u64> {
        self.idle.subscribe()
    }

    /// What wakes the relay for a round (the outbox's waker).
    pub fn waker(&self) -> Arc<Notify> {
        self.waker.clone()
    }

    /// One batch: read, publish, and start marking it (the previous batch's mark finishes
    /// first when the next batch is published). Tests drive the relay with this.
    pub async fn run_once(&mut self) -> Result<Round, AppError> {
        if !self.lead().await? {
            self.finish_marking().await?;
            return Ok(Round::Standby);
        }
        let marking = self.marking.as_ref().map_or(0, |(_, seqs)| seqs.len());
        let limit = self.settings.batch_size + marking as u64;
        let mut batch = unpublished(self.db.conn(), limit).await?;
        if let Some((_, seqs)) = &self.marking {
            batch.retain(|row| !seqs.contains(&row.seq));
        }
        if batch.is_empty() {
            self.finish_marking().await?;
            self.idle.send_modify(|rounds| *rounds += 1);
            return Ok(Round::Published(0));
        }
        let span = tracing::info_span!(
            "relay.batch",
            otel.name = "relay batch",
            otel.kind = "producer",
            events = batch.len(),
            sink = self.sink.name(),
            published = tracing::field::Empty,
        );
        // When spans leave the process, each event's publish is a span of the event's own
        // trace too, so a trace shows the call, the relay and the delivery together.
        let publishes: Vec<tracing::Span> = if crate::telemetry::exporting() {
            batch
                .iter()
                .map(|row| {
                    let publish = tracing::info_span!(
                        parent: None,
                        "publish",
                        otel.name = %format!("publish {}", row.event_type),
                        otel.kind = "producer",
                        event_id = %row.event_id,
                        trace_id = tracing::field::Empty,
                    );
                    crate::tracecontext::adopt(
                        &publish,
                        crate::tracecontext::from_traceparent(row.traceparent.as_deref()),
                    );
                    publish
                })
                .collect()
        } else {
            Vec::new()
        };
        let result = self.sink.publish(&batch).instrument(span.clone()).await;
        drop(publishes);
        let count = result.published.min(batch.len());
        span.record("published", count);
        let (done, rest) = batch.split_at(count);
        self.finish_marking().await?;
        if !done.is_empty() {
            let seqs: Vec<i64> = done.iter().map(|r| r.seq).collect();
            let db = self.db.clone();
            let now = to_micros(crate::clock::now());
            let set = seqs.iter().copied().collect();
            let mark = tokio::spawn(async move {
                let _turn = db.write_turn().await?;
                mark_published(db.conn(), &seqs, now).await
            });
            self.marking = Some((mark, set));
        }
        crate::metrics::metrics()
            .events_published
            .inc_by(count as u64);
        match result.error {
            None => Ok(Round::Published(count)),
            Some(error) => {
                self.finish_marking().await?;
                crate::metrics::metrics().events_failed.inc();
                let failed: Vec<i64> = rest.iter().take(1).map(|r| r.seq).collect();
                let _turn = self.db.write_turn().await?;
                mark_failed(self.db.conn(), &failed, &error).await?;
                tracing::debug!(sink = self.sink.name(), %error, published = count, "publishing stopped");
                Ok(Round::Failed(count))
            }
        }
    }

    /// Waits for the mark in flight, if any. A mark that failed leaves its events unpublished
    /// in the outbox: they are published again (at least once; the ids stay the same).
    pub async fn finish_marking(&mut self) -> Result<(), AppError> {
        let Some((mark, _)) = self.marking.take() else {
            return Ok(());
        };
        match mark.await {
            Ok(result) => result,
            Err(err) => Err(AppError::Internal(format!(
                "marking events published: {err}"
            ))),
        }
    }

    /// Publishes until `shutdown` turns true.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = BACKOFF_START;
        let mut failing = false;
        loop {
            if *shutdown.borrow() {
                tracing::debug!("the relay is stopping");
                break;
            }
            let round = self.run_once().await;
            let standby = matches!(round, Ok(Round::Standby));
            let pause = match round {
                Ok(Round::Published(n)) if n > 0 => {
                    if failing {
                        tracing::info!(sink = self.sink.name(), "publishing again");
                        failing = false;
                    }
                    backoff = BACKOFF_START;
                    continue;
                }
                Ok(Round::Published(_)) | Ok(Round::Standby) => self.settings.poll,
                Ok(Round::Failed(_)) | Err(_) => {
                    if !failing {
                        tracing::warn!(
                            sink = self.sink.name(),
                            "cannot publish events; retrying with backoff (nothing is lost)"
                        );
                        failing = true;
                    }
                    let pause = crate::clock::jitter(backoff);
                    backoff = (backoff * 2).min(self.settings.backoff_max);
                    pause
                }
            };
            if self.wait(pause, failing, &mut shutdown).await == Wake::Local && standby {
                // Events were committed here while another replica is the relay: tell it.
                if let Err(err) = announcements::wake_relay(&self.db).await {
                    tracing::debug!(%err, "cannot wake the relay; it polls");
                }
            }
        }
        if let Err(err) = self.finish_marking().await {
            tracing::warn!(%err, "marking the last batch published failed; it will be sent again");
        }
        if let Some(lock) = self.leader.take() {
            tracing::debug!("releasing the relay lock");
            lock.release().await;
        }
        tracing::debug!("the relay stopped");
    }
}

/// What ended a wait of the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// This replica's writers committed events.
    Local,
    /// Another replica did.
    Remote,
    /// The pause ran out, or shutdown began.
    Other,
}

impl Relay {
    /// Waits up to `pause` for events to publish (not for this replica's own while the sink
    /// is failing: the back-off rules then).
    async fn wait(
        &mut self,
        pause: Duration,
        failing: bool,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Wake {
        let remote = async {
            match self.wakes.as_mut() {
                Some(listener) => Some(listener.try_recv().await),
                None => std::future::pending().await,
            }
        };
        let woken = tokio::select! {
            () = self.waker.notified(), if !failing => return Wake::Local,
            received = remote => received,
            () = tokio::time::sleep(pause) => return Wake::Other,
            _ = shutdown.changed() => return Wake::Other,
        };
        match woken {
            Some(Ok(Some(_))) => {
                // One round answers every wake-up already received.
                if let Some(listener) = self.wakes.as_mut() {
                    while listener.next_buffered().is_some() {}
                }
                Wake::Remote
            }
            // Reconnected: a wake-up may have been lost; look now.
            Some(Ok(None)) => Wake::Remote,
            Some(Err(err)) => {
                tracing::debug!(%err, "lost the relay's wake-up listener; polling");
                self.wakes = None;
                Wake::Other
            }
            None => Wake::Other,
        }
    }
}
