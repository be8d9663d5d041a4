//! The subscriber: decides what each delivered event is, runs its handler exactly once (the
//! handler and the `processed_events` record share one transaction), and answers whether
//! the delivery succeeded, should be retried, or must be dropped to the dead-letter topic.

use super::activity::activity_of;
use super::drop_reason::{DropReason, Rejection};
use super::envelope::IncomingEvent;
use super::failures::FailureLog;
use super::handlers;
use super::inspect::{Accepted, inspect};
use super::subscriptions::Subscriptions;
use crate::clock::now;
use crate::error::AppError;
use crate::outbox::Outbox;
use crate::reminders::Reminders;
use crate::store::Database;
use crate::store::activities;
use crate::store::dead_letters::{self, NewDeadLetter};
use crate::store::deliveries::{self, Record, RecordWriter, processed_row, record_processed};
use tracing::Instrument;

/// The consumer name under which handled events are recorded.
pub const CONSUMER: &str = "taskflow";
/// The consumer name under which dead letters are recorded.
pub const DEAD_LETTER_CONSUMER: &str = "taskflow-dead-letters";

/// How long [`Subscriber::ready`] waits for the database: daprd's app health probe gives a
/// gRPC check 500 ms by default (`dapr.io/app-health-probe-timeout`).
const READY_WITHIN: std::time::Duration = std::time::Duration::from_millis(400);

/// What a delivery comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Handled now or before.
    Success,
    /// A transient fault (the database is unavailable): deliver it again later.
    Retry(String),
    /// It can never be handled (malformed, unknown, not ours): send it to the dead-letter topic.
    Drop(Rejection),
}

#[derive(Debug, Clone)]
pub struct Subscriber {
    db: Database,
    outbox: Outbox,
    reminders: Reminders,
    /// What is subscribed to, and what each topic carries.
    subscriptions: Subscriptions,
    /// The records of deliveries that change nothing else, written in batches.
    records: RecordWriter,
    /// Deliveries answered RETRY or DROP, for the dead letters they may become.
    failures: std::sync::Arc<FailureLog>,
}

impl Subscriber {
    /// Starts the subscriber (and the batch writer of its records).
    pub fn new(db: Database, outbox: Outbox, reminders: Reminders) -> Self {
        let records = deliveries::record_writer(db.clone());
        Self {
            subscriptions: Subscriptions::new(outbox.config()),
            records,
            db,
            outbox,
            reminders,
            failures: Default::default(),
        }
    }

    pub fn reminders(&self) -> &Reminders {
        &self.reminders
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    pub fn subscriptions(&self) -> &Subscriptions {
        &self.subscriptions
    }

    /// Whether deliveries can be handled now: the database answers. While it does not, every
    /// delivery would only be answered RETRY.
    pub async fn ready(&self) -> bool {
        self.db.reachable(READY_WITHIN).await
    }

    /// Handles one delivery, in a span that continues the event's trace. Never panics; every
    /// refusal is logged with its reason.
    pub async fn handle(&self, event: &IncomingEvent) -> Verdict {
        let span = tracing::info_span!(
            "delivery",
            otel.name = %format!("deliver {}", event.event_type),
            otel.kind = "consumer",
            event_id = %event.id,
            event_type = %event.event_type,
            topic = %event.topic,
            verdict = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        );
        crate::tracecontext::adopt(
            &span,
            crate::tracecontext::from_traceparent(event.traceparent.as_deref()),
        );
        let verdict = self.handle_in_span(event).instrument(span.clone()).await;
        let label = match &verdict {
            Verdict::Success => "success",
            Verdict::Retry(_) => "retry",
            Verdict::Drop(_) => "drop",
        };
        span.record("verdict", label);
        verdict
    }

    async fn handle_in_span(&self, event: &IncomingEvent) -> Verdict {
        if self.subscriptions.is_dead_letters(&event.topic) {
            return match self
                .dead_letter(event, "delivered to the dead-letter topic")
                .await
            {
                Ok(()) => Verdict::Success,
                Err(err) => Verdict::Retry(err.to_string()),
            };
        }
        let verdict = match inspect(event, &self.subscriptions) {
            Ok(accepted) => match self.apply(&accepted).await {
                Ok(()) => Verdict::Success,
                Err(err) if err.is_transient() => Verdict::Retry(err.to_string()),
                Err(err @ (AppError::InvalidArgument(_) | AppError::NotFound(_))) => {
                    Verdict::Drop(Rejection::new(
                        DropReason::NotApplicable,
                        format!("cannot be applied: {err}"),
                    ))
                }
                Err(err) => Verdict::Retry(err.to_string()),
            },
            Err(rejection) => Verdict::Drop(rejection),
        };
        match &verdict {
            Verdict::Success => {
                crate::metrics::metrics().delivery("success");
                self.failures.forget(&event.id);
                tracing::debug!("event handled");
            }
            Verdict::Retry(reason) => {
                crate::metrics::metrics().delivery("retry");
                self.failures.record(&event.id, reason);
                tracing::warn!(reason = %reason, "event will be retried");
            }
            Verdict::Drop(rejection) => {
                self.failures.record(&event.id, &rejection.message);
                Self::count_drop(rejection);
            }
        }
        verdict
    }

    /// Refuses a delivery that never reached [`Subscriber::handle`] (a bulk entry without a
    /// CloudEvent): counted and logged like any other drop.
    pub fn refuse(&self, rejection: Rejection) -> Verdict {
        Self::count_drop(&rejection);
        Verdict::Drop(rejection)
    }

    fn count_drop(rejection: &Rejection) {
        crate::metrics::metrics().dropped(rejection.reason.as_label());
        tracing::warn!(
            reason = rejection.reason.as_label(),
            detail = %rejection.message,
            "event dropped to the dead-letter topic"
        );
    }

    async fn apply(&self, event: &Accepted) -> Result<(), AppError> {
        self.apply_in_transaction(event)
            .instrument(crate::telemetry::db_transaction("apply event"))
            .await
    }

    async fn apply_in_transaction(&self, event: &Accepted) -> Result<(), AppError> {
        let (id, kind, user) = (&event.id, event.kind.as_type(), event.user.as_str());
        // The history entry, written with the record: exactly once per event.
        let entry =
            activity_of(id, &event.user, &event.payload, now()).map(|a| activities::row(&a));
        if !handlers::may_change_anything(&event.payload) {
            // Only the record (and the entry) to write: written with those of concurrent
            // deliveries.
            self.records
                .submit(Record {
                    processed: processed_row(CONSUMER, id, kind, user),
                    activity: entry,
                })
                .await?;
            return Ok(());
        }
        let (_turn, txn) = self.db.begin_write().await?;
        if !record_processed(&txn, CONSUMER, id, kind, user).await? {
            // Delivered before: a no-op that still answers SUCCESS.
            txn.rollback().await?;
            return Ok(());
        }
        if let Some(entry) = entry {
            activities::record(&txn, vec![entry]).await?;
        }
        let wrote_events =
            handlers::dispatch(&txn, &self.outbox, &self.reminders, id, &event.payload).await?;
        txn.commit().await?;
        if wrote_events {
            self.outbox.wake();
            self.reminders.changed();
        }
        Ok(())
    }

    /// Keeps a dead letter for review and raises an alert. Never re-published: an operator
    /// replays it (`taskflow dead-letters replay`) once its cause is mended.
    pub async fn dead_letter(&self, event: &IncomingEvent, reason: &str) -> Result<(), AppError> {
        let (_turn, txn) = self.db.begin_write().await?;
        let cut = |text: &str, n: usize| -> String { text.chars().take(n).collect() };
        let id = cut(&event.id, 128);
        let event_type = cut(&event.event_type, 255);
        let user = cut(event.partition_key.as_deref().unwrap_or_default(), 128);
        if !record_processed(&txn, DEAD_LETTER_CONSUMER, &id, &event_type, &user).await? {
            txn.rollback().await?;
            return Ok(());
        }
        let topic = cut(&event.topic, 255);
        let original_topic = event
            .original_topic()
            .filter(|original| *original != event.topic)
            .map(|original| cut(original, 255));
        let subject = event.subject.as_deref().map(|s| cut(s, 512));
        let attributes = (!event.attributes.is_empty()).then(|| {
            let map: serde_json::Map<String, serde_json::Value> = event
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            serde_json::Value::Object(map).to_string()
        });
        let failures = self.failures.get(&event.id);
        let reason = failures
            .as_ref()
            .map_or(reason.to_owned(), |f| f.last_reason.clone());
        dead_letters::keep(
            &txn,
            NewDeadLetter {
                event_id: &id,
                topic: &topic,
                original_topic: original_topic.as_deref(),
                event_type: &event_type,
                user_id: &user,
                subject: subject.as_deref(),
                attributes,
                payload: &event.data,
                reason: &reason,
                attempts: failures.map_or(0, |f| f.attempts),
            },
        )
        .await?;
        txn.commit().await?;
        self.failures.forget(&event.id);
        crate::metrics::metrics().dead_letters.inc();
        tracing::error!(
            alert = true,
            event_id = %id,
            event_type = %event_type,
            topic = %event.topic,
            original_topic = original_topic.as_deref().unwrap_or_default(),
            reason,
            "ALERT: dead letter kept for review (taskflow dead-letters list)"
        );
        Ok(())
    }
}
