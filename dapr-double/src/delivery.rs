//! The delivery side: daprd's subscriber (`dapr:pkg/runtime/subscription/subscription.go`) and
//! gRPC postman (`postman/grpc/grpc.go`) calling the app's `OnTopicEvent`.
//!
//! Stored messages are queued into lanes, one per topic partition, each worked through in
//! arrival order: a message is not delivered before the previous one on the same partition (so
//! with the same topic and key) has finished, its retries included — one message in flight per
//! partition, as daprd's Kafka consumer works (`contrib:common/component/kafka/consumer.go`
//! `ConsumeClaim`). Partitions are delivered concurrently.
//!
//! Retries: daprd retries a delivery only under a Resiliency inbound policy
//! (`DaprDoubleConfig::delivery_retry`, none by default). When the attempts run out, or daprd
//! cannot decode or route the message, it goes to the dead-letter topic if the subscription has
//! one; otherwise daprd hands the error back to the Kafka consumer, which hands the same message
//! to daprd again after its back-off, forever (`consumeRetryEnabled`, kit's unlimited constant
//! back-off), and the partition stalls behind it. Each such round is recorded as a delivery
//! with `Outcome::GaveUp`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use dapr::dapr::proto::runtime::v1::TopicSubscription;
use dapr::dapr::proto::runtime::v1::app_callback_client::AppCallbackClient;
use dapr::dapr::proto::runtime::v1::topic_event_response::TopicEventResponseStatus;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tonic::{Code, Request};

use crate::DaprDouble;
use crate::broker::kafka_key;
use crate::double::Shared;
use crate::envelope;
use crate::error::DoubleError;
use crate::metadata::{add_message_metadata, query_escape};
use crate::publish::parse_go_bool;
use crate::record::{AppAnswer, Delivery, Outcome, Published, WaitTimeout, lock};
use crate::routes::find_route;

type Lanes = HashMap<(String, u32), mpsc::UnboundedSender<Published>>;

/// The cached subscription list, the auto-delivery switch and the delivery lanes.
pub(crate) struct DeliveryState {
    auto: AtomicBool,
    pub(crate) subscriptions: tokio::sync::Mutex<Option<Vec<TopicSubscription>>>,
    lanes: Mutex<Lanes>,
}

impl DeliveryState {
    pub(crate) fn new(auto: bool) -> Self {
        Self {
            auto: AtomicBool::new(auto),
            subscriptions: tokio::sync::Mutex::new(None),
            lanes: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn auto_deliver(&self) -> bool {
        self.auto.load(Ordering::SeqCst)
    }

    /// A new daprd process asks `ListTopicSubscriptions` again.
    pub(crate) async fn forget_subscriptions(&self) {
        *self.subscriptions.lock().await = None;
    }
}

/// A message as the Kafka consumer hands it to daprd.
struct Consumed {
    topic: String,
    value: Vec<u8>,
    /// The producer's metadata (the Kafka headers).
    headers: HashMap<String, String>,
    key: Option<String>,
    partition: u32,
    offset: u64,
    timestamp_ms: u128,
}

impl Consumed {
    fn from_published(message: &Published) -> Self {
        let produced_at = SystemTime::now()
            .checked_sub(message.received_at.elapsed())
            .unwrap_or_else(SystemTime::now);
        Self {
            topic: message.topic.clone(),
            value: message.kafka_value(),
            headers: message.metadata.clone(),
            key: message.key.clone(),
            partition: message.partition,
            offset: message.offset,
            timestamp_ms: millis(produced_at),
        }
    }
}

pub(crate) fn millis(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

/// Why the app was not called, or how it answered, reduced to what daprd does next.
enum Verdict {
    Ack,
    Drop,
    Retry,
}

fn verdict(answer: &AppAnswer) -> Verdict {
    match answer {
        AppAnswer::Status(TopicEventResponseStatus::Success) => Verdict::Ack,
        AppAnswer::Status(TopicEventResponseStatus::Drop) => Verdict::Drop,
        AppAnswer::Grpc {
            code: Code::Unimplemented,
            ..
        } => Verdict::Ack,
        _ => Verdict::Retry,
    }
}

impl Shared {
    /// Queues a stored message on its lane (topic + partition), starting the lane if needed.
    pub(crate) fn enqueue(self: &Arc<Self>, message: Published) {
        let lane = (message.topic.clone(), message.partition);
        let mut lanes = lock(&self.delivery.lanes);
        let message = match lanes.get(&lane) {
            Some(sender) => match sender.send(message) {
                Ok(()) => return,
                Err(mpsc::error::SendError(message)) => message,
            },
            None => message,
        };
        let (sender, receiver) = mpsc::unbounded_channel();
        // The receiver is alive: the lane task has not started yet.
        let _ = sender.send(message);
        lanes.insert(lane, sender);
        self.spawn(run_lane(self.clone(), receiver));
    }

    /// The metadata daprd sees for a consumed message (`contrib:common/component/kafka/
    /// consumer.go` `GetEventMetadata`, then `subscription.go` adds `pubsubName`): the Kafka
    /// consumer's `__key`, `__offset`, `__topic`, `__timestamp`, `__partition`, then every header
    /// (overwriting), then `pubsubName`. With `escapeHeaders` the key and every header value are
    /// `url.QueryEscape`d, so the key reaches the app escaped both as `__key` and as the
    /// producer's `partitionKey` header (lowercased to `partitionkey` by
    /// `WithCustomGRPCMetadata`). A dead-letter copy is published with this escaped metadata, so
    /// its key is escaped once more when it is consumed again.
    fn consumer_metadata(&self, message: &Consumed) -> HashMap<String, String> {
        let escape = |v: &str| {
            if self.config.escape_headers {
                query_escape(v)
            } else {
                v.to_owned()
            }
        };
        let mut metadata = HashMap::new();
        if let Some(key) = &message.key {
            metadata.insert("__key".to_owned(), escape(key));
        }
        metadata.insert("__offset".to_owned(), message.offset.to_string());
        metadata.insert("__topic".to_owned(), message.topic.clone());
        metadata.insert("__timestamp".to_owned(), message.timestamp_ms.to_string());
        metadata.insert("__partition".to_owned(), message.partition.to_string());
        for (key, value) in &message.headers {
            metadata.insert(key.clone(), escape(value));
        }
        metadata.insert("pubsubName".to_owned(), self.config.pubsub_name.clone());
        metadata
    }

    /// Turns the Kafka value into the CloudEvent daprd works with.
    fn consumed_event(
        &self,
        message: &Consumed,
        metadata: &HashMap<String, String>,
        subscription: &TopicSubscription,
    ) -> Result<Map<String, Value>, String> {
        let raw = match subscription.metadata.get("rawPayload").map(String::as_str) {
            None | Some("") => false,
            Some(value) => parse_go_bool(value).ok_or_else(|| {
                format!("error deserializing pubsub metadata: rawPayload={value}")
            })?,
        };
        let mut event = if raw {
            envelope::from_raw_payload(&message.value, &message.topic, &self.config.pubsub_name)
        } else if metadata
            .get("content-type")
            .is_some_and(|ct| envelope::is_binary(ct))
        {
            // daprd 1.17 "binary mode": attributes from `ce_*` headers, data as bytes.
            let mut event: Map<String, Value> = metadata
                .iter()
                .filter_map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    lower
                        .strip_prefix("ce_")
                        .map(|name| (name.to_owned(), Value::String(v.clone())))
                })
                .collect();
            event.insert("data".into(), Value::String(BASE64.encode(&message.value)));
            event.insert(
                "datacontenttype".into(),
                Value::String("application/octet-stream".into()),
            );
            event
        } else {
            match serde_json::from_slice::<Value>(&message.value) {
                Ok(Value::Object(event)) => event,
                Ok(Value::Null) => Map::new(),
                Ok(_) | Err(_) => {
                    return Err("error deserializing cloud event: not a JSON object".to_owned());
                }
            }
        };
        // Trace fields fall back to the message metadata.
        if !event.contains_key("traceid")
            && let Some(traceid) = metadata.get("traceid")
        {
            event.insert("traceid".into(), Value::String(traceid.clone()));
        }
        if !event.contains_key("traceparent")
            && let Some(parent) = metadata.get("traceparent")
        {
            event.insert("traceparent".into(), Value::String(parent.clone()));
            event.insert("traceid".into(), Value::String(parent.clone()));
        }
        if !event.contains_key("tracestate")
            && let Some(state) = metadata.get("tracestate")
        {
            event.insert("tracestate".into(), Value::String(state.clone()));
        }
        Ok(event)
    }

    /// One `OnTopicEvent` call.
    async fn attempt(
        &self,
        event: &Map<String, Value>,
        topic: &str,
        path: &str,
        metadata: &HashMap<String, String>,
    ) -> AppAnswer {
        let envelope =
            match envelope::topic_event_request(event, topic, &self.config.pubsub_name, path) {
                Ok(envelope) => envelope,
                Err(reason) => return AppAnswer::NotSent(reason),
            };
        let mut request = Request::new(envelope);
        if let Err(answer) = add_message_metadata(&mut request, metadata) {
            return answer;
        }
        self.add_app_token(&mut request);
        if let Some(timeout) = self.config.delivery_timeout {
            request.set_timeout(timeout);
        }
        let channel = match self.app.channel() {
            Ok(channel) => channel,
            Err(err) => return AppAnswer::NotSent(err.to_string()),
        };
        let mut client = AppCallbackClient::new(channel);
        let call = client.on_topic_event(request);
        let result = match self.config.delivery_timeout {
            Some(timeout) => tokio::time::timeout(timeout, call)
                .await
                .unwrap_or_else(|_| {
                    Err(tonic::Status::deadline_exceeded("inbound timeout policy"))
                }),
            None => call.await,
        };
        match result {
            Ok(response) => {
                let status = response.into_inner().status;
                match TopicEventResponseStatus::try_from(status) {
                    Ok(known) => AppAnswer::Status(known),
                    Err(_) => AppAnswer::UnknownStatus(status),
                }
            }
            Err(status) => AppAnswer::Grpc {
                code: status.code(),
                message: status.message().to_owned(),
            },
        }
    }

    /// Handles one consumed message (one round of the Kafka consumer handing it to daprd),
    /// records the delivery and then stores the dead-letter copy if there is one (so the record
    /// of a message comes before its copy's).
    async fn deliver_consumed(
        self: &Arc<Self>,
        message: &Consumed,
        subscription: &TopicSubscription,
        redelivery: u32,
    ) -> Delivery {
        let mut delivery = self.process(message, subscription).await;
        delivery.redelivery = redelivery;
        self.deliveries.push(delivery.clone());
        if let Some(topic) = &delivery.dead_letter_topic {
            self.dead_letter(message, &self.consumer_metadata(message), topic);
        }
        delivery
    }

    /// The Kafka consumer's loop for one message (`consumer.go` `ConsumeClaim` with
    /// `consumeRetryEnabled`): while daprd hands the error back (`Outcome::GaveUp`), wait the
    /// consumer's back-off and hand the same message to daprd again — forever, as the
    /// component's default back-off has no limit. Starts at round `first_round`.
    async fn consume(
        self: &Arc<Self>,
        message: &Consumed,
        subscription: &TopicSubscription,
        first_round: u32,
    ) {
        let mut round = first_round;
        loop {
            let delivery = self.deliver_consumed(message, subscription, round).await;
            match delivery.outcome {
                Outcome::GaveUp => self.kafka_backoff().await,
                // Consumed again by the next subscription, once the app is healthy.
                Outcome::Interrupted => self.wait_healthy().await,
                _ => return,
            }
            round = round.saturating_add(1);
        }
    }

    /// The Kafka consumer's back-off between two rounds (never under 1 ms, so a stuck message
    /// cannot spin).
    async fn kafka_backoff(&self) {
        tokio::time::sleep(self.config.kafka_backoff.max(Duration::from_millis(1))).await;
    }

    /// Everything daprd does with one consumed message, up to ack, drop, dead letter or giving
    /// up (the dead-letter copy is left to the caller).
    async fn process(&self, message: &Consumed, subscription: &TopicSubscription) -> Delivery {
        let metadata = self.consumer_metadata(message);
        let dead_letter_topic =
            Some(subscription.dead_letter_topic.clone()).filter(|t| !t.is_empty());
        let mut delivery = Delivery {
            topic: message.topic.clone(),
            event_id: String::new(),
            attempts: 0,
            outcome: Outcome::Acked,
            last_status: None,
            key: message.key.clone(),
            path: String::new(),
            dead_letter_topic: None,
            redelivery: 0,
            finished_at: Instant::now(),
        };
        // `subscription.go`: what daprd does not acknowledge goes to the dead-letter topic;
        // without one it is handed back to Kafka (`failed`: an error, redelivered) or
        // acknowledged (`dropped`: expired events, no matching route, DROP).
        let give_up = |delivery: &mut Delivery, dropped: bool| {
            if let Some(dlq) = &dead_letter_topic {
                delivery.outcome = Outcome::DeadLettered;
                delivery.dead_letter_topic = Some(dlq.clone());
            } else {
                delivery.outcome = if dropped {
                    Outcome::Dropped
                } else {
                    Outcome::GaveUp
                };
            }
            delivery.finished_at = Instant::now();
        };

        let event = match self.consumed_event(message, &metadata, subscription) {
            Ok(event) => event,
            Err(reason) => {
                delivery.last_status = Some(AppAnswer::NotSent(reason));
                give_up(&mut delivery, false);
                return delivery;
            }
        };
        delivery.event_id = event
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if envelope::has_expired(&event) {
            delivery.last_status = Some(AppAnswer::NotSent("the event has expired".to_owned()));
            give_up(&mut delivery, true);
            return delivery;
        }
        let path = match find_route(subscription, &event) {
            Ok(Some(path)) => path,
            Ok(None) => {
                delivery.last_status = Some(AppAnswer::NotSent("no matching route".to_owned()));
                give_up(&mut delivery, true);
                return delivery;
            }
            Err(reason) => {
                delivery.last_status = Some(AppAnswer::NotSent(reason));
                give_up(&mut delivery, false);
                return delivery;
            }
        };
        delivery.path = path.clone();

        let policy = self.config.delivery_retry;
        let first_attempt = Instant::now();
        loop {
            self.wait_running().await;
            delivery.attempts += 1;
            let answer = self.attempt(&event, &message.topic, &path, &metadata).await;
            let next = verdict(&answer);
            delivery.last_status = Some(answer);
            match next {
                Verdict::Ack => {
                    delivery.outcome = Outcome::Acked;
                    delivery.finished_at = Instant::now();
                    return delivery;
                }
                Verdict::Drop => {
                    give_up(&mut delivery, true);
                    return delivery;
                }
                Verdict::Retry
                    if !policy.allows_retry(delivery.attempts, first_attempt.elapsed()) =>
                {
                    if !self.health.is_healthy() {
                        // The subscription was stopped meanwhile: the handler blocks instead of
                        // failing, so the message is neither dead-lettered nor marked
                        // (`subscription.go`, "block on the handler context").
                        delivery.outcome = Outcome::Interrupted;
                        delivery.finished_at = Instant::now();
                        return delivery;
                    }
                    give_up(&mut delivery, false);
                    return delivery;
                }
                Verdict::Retry => tokio::time::sleep(policy.backoff(delivery.attempts - 1)).await,
            }
        }
    }

    /// `sendToDeadLetter`: the original Kafka value with the consumed message's metadata
    /// (so `__key` keeps the key), published to the dead-letter topic.
    fn dead_letter(
        self: &Arc<Self>,
        message: &Consumed,
        metadata: &HashMap<String, String>,
        topic: &str,
    ) {
        let cloud_event = serde_json::from_slice(&message.value).unwrap_or(Value::Null);
        self.store(
            Published {
                pubsub_name: self.config.pubsub_name.clone(),
                topic: topic.to_owned(),
                data: message.value.clone(),
                data_content_type: "application/cloudevents+json".to_owned(),
                metadata: metadata.clone(),
                bulk: false,
                received_at: Instant::now(),
                cloud_event,
                raw_payload: false,
                key: None,
                partition: 0,
                offset: 0,
                entry_id: None,
                dead_letter_of: Some(message.topic.clone()),
            },
            true,
        );
    }
}

/// Works through one lane in order.
async fn run_lane(shared: Arc<Shared>, mut receiver: mpsc::UnboundedReceiver<Published>) {
    while let Some(message) = receiver.recv().await {
        shared.wait_running().await;
        // No subscription while the app is unhealthy (`health.rs`).
        shared.wait_healthy().await;
        shared.app.wait_addr().await;
        let Some(subscription) = shared.subscription_for(&message.topic).await else {
            continue;
        };
        let consumed = Consumed::from_published(&message);
        shared.consume(&consumed, &subscription, 0).await;
    }
}

impl DaprDouble {
    /// Turns auto-delivery on or off. Only messages stored while it is on are delivered
    /// (dead-letter copies always are).
    pub fn set_auto_deliver(&self, on: bool) {
        self.shared.delivery.auto.store(on, Ordering::SeqCst);
    }

    /// Every finished delivery so far, in the order they finished.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.deliveries.snapshot()
    }

    /// How many deliveries have finished (since the last clear), without copying them.
    pub fn delivery_count(&self) -> usize {
        self.shared.deliveries.len()
    }

    /// Waits (woken on every finished delivery) until at least `n` deliveries have finished.
    pub async fn wait_for_deliveries(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<Delivery>, WaitTimeout<Delivery>> {
        self.shared.deliveries.wait_for(n, timeout).await
    }

    /// Waits (woken on every finished delivery) until at least `n` deliveries match `matches`,
    /// and returns those. Unlike [`wait_for_deliveries`](Self::wait_for_deliveries) it is not
    /// fooled by the extra records of messages being redelivered.
    pub async fn wait_for_deliveries_matching(
        &self,
        n: usize,
        matches: impl Fn(&Delivery) -> bool,
        timeout: Duration,
    ) -> Result<Vec<Delivery>, WaitTimeout<Delivery>> {
        let all = self
            .shared
            .deliveries
            .wait_until(
                |all| all.iter().filter(|d| matches(d)).count() >= n,
                n,
                timeout,
            )
            .await?;
        Ok(all.into_iter().filter(|d| matches(d)).collect())
    }

    /// Delivers a hand-made envelope (any bytes, e.g. malformed JSON or a bad `data_base64`) as
    /// if it had been consumed from `topic` with these Kafka headers, through the same routing,
    /// retries and dead-lettering as a stored message; waits for the outcome of that first round
    /// and records it. A message that ends `Outcome::GaveUp` (no dead-letter topic) is then
    /// redelivered in the background after each Kafka back-off, as the consumer would, until it
    /// ends otherwise (it does not hold up a lane: it was never stored).
    pub async fn deliver_raw(
        &self,
        topic: &str,
        envelope_json: impl AsRef<[u8]>,
        metadata: HashMap<String, String>,
    ) -> Result<Delivery, DoubleError> {
        let shared = &self.shared;
        if !shared.is_running() {
            return Err(DoubleError::Stopped);
        }
        if shared.app.addr().is_none() {
            return Err(DoubleError::NoAppAddr);
        }
        let subscription = shared
            .subscription_for(topic)
            .await
            .ok_or_else(|| DoubleError::NotSubscribed(topic.to_owned()))?;
        let key = kafka_key(&metadata);
        let partition = shared
            .broker
            .partition(key.as_deref(), shared.config.partitions);
        let consumed = Consumed {
            topic: topic.to_owned(),
            value: envelope_json.as_ref().to_vec(),
            key,
            headers: metadata,
            partition,
            offset: shared.broker.reserve_offsets(topic, partition, 1),
            timestamp_ms: millis(SystemTime::now()),
        };
        let delivery = shared.deliver_consumed(&consumed, &subscription, 0).await;
        if delivery.outcome == Outcome::GaveUp {
            let shared = shared.clone();
            self.shared.spawn(async move {
                shared.kafka_backoff().await;
                shared.consume(&consumed, &subscription, 1).await;
            });
        }
        Ok(delivery)
    }
}
