//! Where the relay hands events: the Dapr sidecar, or taskflow's own subscriber in-process.

use std::sync::Arc;

use super::envelope::IncomingEvent;
use super::outbox::OutboxRow;
use super::subscriber::{Subscriber, Verdict};

/// The result of publishing a batch: the events are published in order, and `published`
/// counts the leading ones that made it. `error` says why the rest did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkResult {
    pub published: usize,
    pub error: Option<String>,
}

impl SinkResult {
    pub fn all(count: usize) -> Self {
        Self {
            published: count,
            error: None,
        }
    }
}

#[tonic::async_trait]
pub trait EventSink: Send + Sync + 'static {
    /// Publishes `events` in order; stops at the first one that fails.
    async fn publish(&self, events: &[OutboxRow]) -> SinkResult;

    /// A name for logs.
    fn name(&self) -> &'static str;
}

/// Embedded mode: each event goes straight to the subscriber, as a delivery from the sidecar
/// would. A dropped event is dead-lettered locally; a retry stops the batch.
pub struct LocalSink {
    subscriber: Arc<Subscriber>,
}

impl LocalSink {
    pub fn new(subscriber: Arc<Subscriber>) -> Self {
        Self { subscriber }
    }
}

#[tonic::async_trait]
impl EventSink for LocalSink {
    async fn publish(&self, events: &[OutboxRow]) -> SinkResult {
        for (index, row) in events.iter().enumerate() {
            let event = IncomingEvent::from_row(row);
            match self.subscriber.handle(&event).await {
                Verdict::Success => {}
                Verdict::Drop(reason) => {
                    if let Err(err) = self
                        .subscriber
                        .dead_letter(&event, &reason.to_string())
                        .await
                    {
                        return SinkResult {
                            published: index,
                            error: Some(format!("dead-lettering {}: {err}", event.id)),
                        };
                    }
                }
                Verdict::Retry(reason) => {
                    return SinkResult {
                        published: index,
                        error: Some(reason),
                    };
                }
            }
        }
        SinkResult::all(events.len())
    }

    fn name(&self) -> &'static str {
        "local"
    }
}
