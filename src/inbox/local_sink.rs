//! Embedded mode's delivery: the relay hands each event straight to the subscriber, as a
//! delivery from the sidecar would arrive.

use std::sync::Arc;

use super::envelope::IncomingEvent;
use super::subscriber::{Subscriber, Verdict};
use crate::outbox::{EventSink, SinkResult};
use crate::store::outbox::OutboxRow;

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
