//! Where the relay hands events: the Dapr sidecar ([`super::dapr_sink`]), or taskflow's own
//! subscriber in-process (the inbox's local sink).

use crate::store::outbox::OutboxRow;

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
