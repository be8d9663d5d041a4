//! What the double records (publishes, deliveries, job triggers) and how tests wait for it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dapr::dapr::proto::runtime::v1::topic_event_response::TopicEventResponseStatus;
use tokio::sync::watch;

/// One message daprd handed to the pubsub component (what would now sit in Kafka).
#[derive(Debug, Clone)]
pub struct Published {
    /// The pubsub component's name.
    pub pubsub_name: String,
    /// The topic it was published to.
    pub topic: String,
    /// The bytes the app sent (the request's `data`, or the bulk entry's `event`). For a message
    /// re-published to a dead-letter topic: the original Kafka value (the envelope's JSON).
    pub data: Vec<u8>,
    /// The content type the app sent (`application/cloudevents+json` for dead-letter copies).
    pub data_content_type: String,
    /// The metadata that goes to Kafka as headers (request metadata, merged for bulk entries;
    /// the consumed message's metadata for dead-letter copies, so `__key` keeps the key).
    pub metadata: HashMap<String, String>,
    /// Whether it came through `BulkPublishEvent`/`BulkPublishEventAlpha1`.
    pub bulk: bool,
    /// When the double stored it.
    pub received_at: Instant,
    /// The CloudEvent envelope daprd would write to Kafka; `Null` with `rawPayload=true`.
    pub cloud_event: serde_json::Value,
    /// `rawPayload=true`: the bytes go to Kafka unchanged, without an envelope.
    pub raw_payload: bool,
    /// The Kafka message key (metadata `partitionKey`, else `__key`).
    pub key: Option<String>,
    /// The partition it went to (see `DaprDoubleConfig::partitions`).
    pub partition: u32,
    /// The offset within its topic's partition (a counter from 0).
    pub offset: u64,
    /// The bulk entry's `entry_id`.
    pub entry_id: Option<String>,
    /// For a dead-letter copy: the topic the message failed on.
    pub dead_letter_of: Option<String>,
}

impl Published {
    /// The envelope's `id` attribute, if it has one.
    pub fn event_id(&self) -> Option<&str> {
        self.cloud_event
            .get("id")
            .and_then(serde_json::Value::as_str)
    }

    /// The bytes the pubsub component would write to Kafka as the message value.
    pub fn kafka_value(&self) -> Vec<u8> {
        if self.raw_payload || self.dead_letter_of.is_some() {
            self.data.clone()
        } else {
            serde_json::to_vec(&self.cloud_event).unwrap_or_default()
        }
    }
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The app answered SUCCESS (or `Unimplemented`, which daprd also acknowledges).
    Acked,
    /// Re-published to the subscription's dead-letter topic (DROP, exhausted retries, no
    /// matching route, expired, or an undecodable message).
    DeadLettered,
    /// Acknowledged and discarded without a dead-letter topic (DROP, no matching route, expired).
    Dropped,
    /// Not acknowledged, and no dead-letter topic: the retries ran out (or there were none, or
    /// daprd could not decode or route the message), so daprd handed the error back to the
    /// Kafka consumer. The consumer hands the same message to daprd again after its back-off,
    /// forever, and its partition stalls meanwhile; each such round is one more delivery record
    /// (see [`Delivery::redelivery`]).
    GaveUp,
    /// Not acknowledged: the retries ran out while the app was unhealthy, so its subscription
    /// was stopped and the handler did not fail the message; the Kafka consumer left the offset
    /// unmarked and the message is delivered again once the app is healthy (one more delivery
    /// record). Never dead-lettered.
    Interrupted,
}

/// The app's last answer to a delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppAnswer {
    /// A `TopicEventResponse` with a known status.
    Status(TopicEventResponseStatus),
    /// A `TopicEventResponse` with a status value the proto does not know (retried by daprd).
    UnknownStatus(i32),
    /// The call failed with this gRPC status.
    Grpc {
        /// The status code.
        code: tonic::Code,
        /// The status message.
        message: String,
    },
    /// daprd could not build or send the request, so the app was not called (bad
    /// `data_base64`, undecodable message, metadata that is not valid gRPC metadata, no route…).
    NotSent(String),
}

/// One message's way through `OnTopicEvent`.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The topic it was consumed from.
    pub topic: String,
    /// The envelope's `id` ("" if it has none).
    pub event_id: String,
    /// Delivery attempts made, retries included. An attempt can fail before the app is called
    /// ([`AppAnswer::NotSent`], e.g. a bad `data_base64`); 0 means none was made (the message
    /// could not be decoded or routed, or had expired).
    pub attempts: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// The last answer (`None` when nothing was attempted).
    pub last_status: Option<AppAnswer>,
    /// The Kafka key.
    pub key: Option<String>,
    /// The route path sent in `TopicEventRequest.path`.
    pub path: String,
    /// The dead-letter topic it went to, for [`Outcome::DeadLettered`].
    pub dead_letter_topic: Option<String>,
    /// How many times the Kafka consumer had handed this message to daprd before this round
    /// (0 on the first delivery; more after rounds that ended [`Outcome::GaveUp`]).
    pub redelivery: u32,
    /// When it finished.
    pub finished_at: Instant,
}

/// How one job trigger ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobOutcome {
    /// The app answered OK.
    Succeeded,
    /// The app answered `NotFound`, which daprd counts as done (no retrigger).
    NotFound,
    /// The failure policy gave up (or was `drop`).
    Failed,
}

/// One trigger of a job (with its retries).
#[derive(Debug, Clone)]
pub struct JobTrigger {
    /// The job's name.
    pub name: String,
    /// Callback attempts made.
    pub attempts: u32,
    /// How it ended.
    pub outcome: JobOutcome,
    /// The last attempt's status code (`Ok` on success).
    pub last_code: tonic::Code,
    /// The RPC that gave the last answer: `OnJobEvent` or `OnJobEventAlpha1`.
    pub method: &'static str,
    /// When it finished.
    pub finished_at: Instant,
}

/// What one bulk delivery returned, entry by entry.
#[derive(Debug, Clone)]
pub struct BulkDelivery {
    /// The RPC that answered: `OnBulkTopicEvent` or `OnBulkTopicEventAlpha1`.
    pub method: &'static str,
    /// `(entry_id, status)` for every entry sent, in order; an entry the app left out counts as
    /// RETRY, as daprd counts it.
    pub statuses: Vec<(String, i32)>,
}

/// A wait that ended before enough records arrived.
#[derive(Debug, Clone)]
pub struct WaitTimeout<T> {
    /// How many records were awaited.
    pub wanted: usize,
    /// The records there were when the wait gave up.
    pub got: Vec<T>,
    /// How long it waited.
    pub waited: Duration,
}

impl<T: fmt::Debug> fmt::Display for WaitTimeout<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "waited {:?} for {} records, got {}: {:#?}",
            self.waited,
            self.wanted,
            self.got.len(),
            self.got
        )
    }
}

impl<T: fmt::Debug> std::error::Error for WaitTimeout<T> {}

/// A list that tells waiters when it grows.
pub(crate) struct Recorder<T> {
    items: Mutex<Vec<T>>,
    len: watch::Sender<usize>,
}

impl<T: Clone> Recorder<T> {
    pub(crate) fn new() -> Self {
        Self {
            items: Mutex::new(Vec::new()),
            len: watch::Sender::new(0),
        }
    }

    pub(crate) fn push(&self, item: T) {
        let len = {
            let mut items = lock(&self.items);
            items.push(item);
            items.len()
        };
        self.len.send_replace(len);
    }

    /// How many records there are, without copying them.
    pub(crate) fn len(&self) -> usize {
        lock(&self.items).len()
    }

    pub(crate) fn snapshot(&self) -> Vec<T> {
        lock(&self.items).clone()
    }

    pub(crate) fn clear(&self) {
        lock(&self.items).clear();
        self.len.send_replace(0);
    }

    /// Waits until `done` holds for the records, and returns all of them.
    pub(crate) async fn wait_until(
        &self,
        done: impl Fn(&[T]) -> bool,
        wanted: usize,
        timeout: Duration,
    ) -> Result<Vec<T>, WaitTimeout<T>> {
        let mut rx = self.len.subscribe();
        let started = Instant::now();
        let reached = tokio::time::timeout(timeout, async {
            loop {
                if done(&lock(&self.items)) {
                    return;
                }
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        })
        .await;
        match reached {
            Ok(()) => Ok(self.snapshot()),
            Err(_) => Err(WaitTimeout {
                wanted,
                got: self.snapshot(),
                waited: started.elapsed(),
            }),
        }
    }

    /// Waits until at least `n` records exist and returns all of them.
    pub(crate) async fn wait_for(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<T>, WaitTimeout<T>> {
        let mut rx = self.len.subscribe();
        let started = Instant::now();
        match tokio::time::timeout(timeout, rx.wait_for(|len| *len >= n)).await {
            Ok(Ok(_)) => Ok(self.snapshot()),
            _ => Err(WaitTimeout {
                wanted: n,
                got: self.snapshot(),
                waited: started.elapsed(),
            }),
        }
    }
}

/// Locks a mutex, ignoring poisoning (a panicking test thread must not break every later call).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
