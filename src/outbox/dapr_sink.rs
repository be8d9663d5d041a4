//! Publishing outbox events through the Dapr sidecar as structured CloudEvents: batches of
//! one topic go out with `BulkPublishEvent` (falling back to `BulkPublishEventAlpha1`, then
//! to one `PublishEvent` per event, when the sidecar lacks the call).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use dapr::dapr::proto::runtime::v1 as dapr_pb;

use super::cloudevent::{CLOUDEVENTS_JSON, structured};
use super::sink::{EventSink, SinkResult};
use crate::config::EventsConfig;
use crate::sidecar::Sidecar;
use crate::store::outbox::OutboxRow;

const BULK_STABLE: u8 = 0;
const BULK_ALPHA: u8 = 1;
const SINGLE: u8 = 2;

pub struct DaprSink {
    sidecar: Sidecar,
    config: Arc<EventsConfig>,
    /// Which publish call the sidecar supports, learnt from the sidecar's "missing RPC" answers.
    mode: AtomicU8,
}

fn metadata(row: &OutboxRow) -> HashMap<String, String> {
    HashMap::from([("partitionKey".to_owned(), row.partition_key.clone())])
}

impl DaprSink {
    pub fn new(sidecar: Sidecar, config: Arc<EventsConfig>) -> Self {
        Self {
            sidecar,
            config,
            mode: AtomicU8::new(BULK_STABLE),
        }
    }

    fn body(&self, row: &OutboxRow) -> Vec<u8> {
        serde_json::to_vec(&structured(row, &self.config)).unwrap_or_default()
    }

    /// Publishes events of one topic; returns how many leading ones were published.
    async fn publish_run(&self, run: &[OutboxRow]) -> Result<usize, (usize, String)> {
        loop {
            let mode = self.mode.load(Ordering::Relaxed);
            if mode == SINGLE {
                return self.publish_one_by_one(run).await;
            }
            let Some(first) = run.first() else {
                return Ok(0);
            };
            let request = dapr_pb::BulkPublishRequest {
                pubsub_name: self.config.pubsub_name.clone(),
                topic: first.topic.clone(),
                entries: run
                    .iter()
                    .map(|row| dapr_pb::BulkPublishRequestEntry {
                        entry_id: row.seq.to_string(),
                        event: self.body(row),
                        content_type: CLOUDEVENTS_JSON.to_owned(),
                        metadata: metadata(row),
                    })
                    .collect(),
                metadata: HashMap::new(),
            };
            match self.sidecar.bulk_publish(request, mode == BULK_ALPHA).await {
                Ok(response) => {
                    // Everything before the first failed entry is published; the rest is
                    // sent again (subscribers are idempotent), which keeps per-key order.
                    let failed: HashMap<&str, &str> = response
                        .failed_entries
                        .iter()
                        .map(|f| (f.entry_id.as_str(), f.error.as_str()))
                        .collect();
                    return match run
                        .iter()
                        .position(|row| failed.contains_key(row.seq.to_string().as_str()))
                    {
                        None => Ok(run.len()),
                        Some(index) => {
                            let error = failed
                                .get(run[index].seq.to_string().as_str())
                                .copied()
                                .unwrap_or_default();
                            Err((
                                index,
                                format!(
                                    "the sidecar failed event {}: {error}",
                                    run[index].event_id
                                ),
                            ))
                        }
                    };
                }
                Err(err) if err.is_missing_method() => {
                    let next = if mode == BULK_STABLE {
                        BULK_ALPHA
                    } else {
                        SINGLE
                    };
                    tracing::info!(
                        from = mode,
                        to = next,
                        "the sidecar lacks this publish call; falling back"
                    );
                    self.mode.store(next, Ordering::Relaxed);
                }
                Err(err) => return Err((0, err.to_string())),
            }
        }
    }

    async fn publish_one_by_one(&self, run: &[OutboxRow]) -> Result<usize, (usize, String)> {
        for (index, row) in run.iter().enumerate() {
            let request = dapr_pb::PublishEventRequest {
                pubsub_name: self.config.pubsub_name.clone(),
                topic: row.topic.clone(),
                data: self.body(row),
                data_content_type: CLOUDEVENTS_JSON.to_owned(),
                metadata: metadata(row),
            };
            if let Err(err) = self.sidecar.publish_event(request).await {
                return Err((index, err.to_string()));
            }
        }
        Ok(run.len())
    }
}

#[tonic::async_trait]
impl EventSink for DaprSink {
    async fn publish(&self, events: &[OutboxRow]) -> SinkResult {
        let mut published = 0;
        for run in events.chunk_by(|a, b| a.topic == b.topic) {
            match self.publish_run(run).await {
                Ok(count) => published += count,
                Err((count, error)) => {
                    return SinkResult {
                        published: published + count,
                        error: Some(error),
                    };
                }
            }
        }
        SinkResult::all(published)
    }

    fn name(&self) -> &'static str {
        "dapr"
    }
}
