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
use crate::sidecar::{Sidecar, SidecarError};
use crate::store::outbox::OutboxRow;

const BULK_STABLE: u8 = 0;
const BULK_ALPHA: u8 = 1;
const SINGLE: u8 = 2;

/// What a bulk request's size costs besides its events' bodies: the pubsub and topic names,
/// entry ids, content types, metadata and protobuf framing (generously).
const REQUEST_OVERHEAD: usize = 4096;
const ENTRY_OVERHEAD: usize = 256;

/// How many of `bodies` (at least one) fit one request of at most `limit` bytes.
fn fitting(bodies: &[Vec<u8>], limit: usize) -> usize {
    let mut total = REQUEST_OVERHEAD;
    let count = bodies
        .iter()
        .take_while(|body| {
            total += body.len() + ENTRY_OVERHEAD;
            total <= limit
        })
        .count();
    count.max(1).min(bodies.len())
}

/// Why a request did not publish everything.
enum Refusal {
    /// The sidecar refused the request as larger than its `max-body-size` (daprd answers
    /// `ResourceExhausted`, grpc-go's "received message larger than max").
    TooLarge(String),
    /// This many leading events were published, then publishing failed.
    Failed(usize, String),
}

impl Refusal {
    fn of(published: usize, err: SidecarError) -> Self {
        match &err {
            SidecarError::Status(status) if status.code() == tonic::Code::ResourceExhausted => {
                Self::TooLarge(err.to_string())
            }
            _ => Self::Failed(published, err.to_string()),
        }
    }
}

pub struct DaprSink {
    sidecar: Sidecar,
    config: Arc<EventsConfig>,
    /// The largest request the sidecar takes (its `max-body-size`).
    max_request_bytes: usize,
    /// Which publish call the sidecar supports, learnt from the sidecar's "missing RPC" answers.
    mode: AtomicU8,
}

fn metadata(row: &OutboxRow) -> HashMap<String, String> {
    HashMap::from([("partitionKey".to_owned(), row.partition_key.clone())])
}

impl DaprSink {
    pub fn new(sidecar: Sidecar, config: Arc<EventsConfig>, max_request_bytes: usize) -> Self {
        Self {
            sidecar,
            config,
            max_request_bytes,
            mode: AtomicU8::new(BULK_STABLE),
        }
    }

    fn body(&self, row: &OutboxRow) -> Vec<u8> {
        serde_json::to_vec(&structured(row, &self.config)).unwrap_or_default()
    }

    /// Publishes events of one topic, in bulk requests that fit the sidecar's body limit;
    /// returns how many leading ones were published.
    async fn publish_run(&self, run: &[OutboxRow]) -> Result<usize, (usize, String)> {
        let bodies: Vec<Vec<u8>> = run.iter().map(|row| self.body(row)).collect();
        let mut done = 0;
        while done < run.len() {
            let mut end = done + fitting(&bodies[done..], self.max_request_bytes);
            loop {
                match self
                    .publish_chunk(&run[done..end], &bodies[done..end])
                    .await
                {
                    Ok(()) => break,
                    Err(Refusal::TooLarge(error)) if end - done > 1 => {
                        // The sidecar's limit is lower than configured: halve until it fits.
                        tracing::warn!(
                            events = end - done,
                            %error,
                            "the sidecar refused a bulk request as too large; splitting it \
                             (set TASKFLOW_DAPR_MAX_REQUEST_BYTES to its max-body-size)"
                        );
                        end = done + (end - done) / 2;
                    }
                    Err(Refusal::TooLarge(error)) => {
                        return Err((
                            done,
                            format!(
                                "event {} alone is larger than the sidecar accepts: {error}",
                                run[done].event_id
                            ),
                        ));
                    }
                    Err(Refusal::Failed(published, error)) => {
                        return Err((done + published, error));
                    }
                }
            }
            done = end;
        }
        Ok(run.len())
    }

    /// Publishes one bulk request (or the events one by one on a sidecar without bulk calls).
    async fn publish_chunk(&self, run: &[OutboxRow], bodies: &[Vec<u8>]) -> Result<(), Refusal> {
        loop {
            let mode = self.mode.load(Ordering::Relaxed);
            if mode == SINGLE {
                return self.publish_one_by_one(run, bodies).await;
            }
            let Some(first) = run.first() else {
                return Ok(());
            };
            let request = dapr_pb::BulkPublishRequest {
                pubsub_name: self.config.pubsub_name.clone(),
                topic: first.topic.clone(),
                entries: run
                    .iter()
                    .zip(bodies)
                    .map(|(row, body)| dapr_pb::BulkPublishRequestEntry {
                        entry_id: row.seq.to_string(),
                        event: body.clone(),
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
                        None => Ok(()),
                        Some(index) => {
                            let error = failed
                                .get(run[index].seq.to_string().as_str())
                                .copied()
                                .unwrap_or_default();
                            Err(Refusal::Failed(
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
                Err(err) => return Err(Refusal::of(0, err)),
            }
        }
    }

    async fn publish_one_by_one(
        &self,
        run: &[OutboxRow],
        bodies: &[Vec<u8>],
    ) -> Result<(), Refusal> {
        for (index, (row, body)) in run.iter().zip(bodies).enumerate() {
            let request = dapr_pb::PublishEventRequest {
                pubsub_name: self.config.pubsub_name.clone(),
                topic: row.topic.clone(),
                data: body.clone(),
                data_content_type: CLOUDEVENTS_JSON.to_owned(),
                metadata: metadata(row),
            };
            if let Err(err) = self.sidecar.publish_event(request).await {
                return Err(Refusal::of(index, err));
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::{ENTRY_OVERHEAD, REQUEST_OVERHEAD, fitting};

    #[test]
    fn requests_are_cut_to_the_byte_limit() {
        let bodies = vec![vec![0u8; 1000]; 10];
        let per = 1000 + ENTRY_OVERHEAD;
        assert_eq!(fitting(&bodies, REQUEST_OVERHEAD + 3 * per), 3);
        assert_eq!(fitting(&bodies, REQUEST_OVERHEAD + 3 * per - 1), 2);
        assert_eq!(fitting(&bodies, usize::MAX / 2), 10);
        assert_eq!(fitting(&bodies, 10), 1, "one event always goes");
        assert_eq!(fitting(&[], 10), 0);
    }
}
