//! Retries as daprd and the Kafka component do them: none without a Resiliency policy, the
//! policy's when configured, and endless Kafka redelivery (with its back-off) when a message
//! without a dead-letter topic is not acknowledged.

use std::time::{Duration, Instant};

use dapr::dapr::proto::runtime::v1::topic_event_response::TopicEventResponseStatus::Retry;
use dapr_double::{AppAnswer, DaprDouble, DaprDoubleConfig, Outcome, RetryPolicy};
use tonic::Code;

use crate::app::{Answer, AppOptions, FakeApp, WAIT, subscription};
use crate::{client, publish_request, start, task_event};

const BACKOFF: Duration = Duration::from_millis(40);

/// daprd's defaults — no Resiliency policy — with a short Kafka back-off.
fn no_policy() -> DaprDoubleConfig {
    DaprDoubleConfig {
        kafka_backoff: BACKOFF,
        ..DaprDoubleConfig::default()
    }
}

fn options() -> AppOptions {
    AppOptions {
        subscriptions: vec![
            subscription("tasks", Some("tasks-dlq")),
            subscription("tasks-dlq", None),
            subscription("plain", None),
        ],
        ..Default::default()
    }
}

async fn publish(double: &DaprDouble, topic: &str, id: &str, key: &str) {
    client(double)
        .await
        .publish_event(publish_request(
            topic,
            "application/cloudevents+json",
            task_event(id, b"x"),
            &[("partitionKey", key)],
        ))
        .await
        .expect("publish");
}

fn ids(app: &FakeApp) -> Vec<String> {
    app.state
        .topic_events
        .all()
        .into_iter()
        .map(|e| e.request.id)
        .collect()
}

#[tokio::test]
async fn without_a_policy_the_first_retry_goes_to_the_dead_letter_topic() {
    let (double, app) = start(no_policy(), options()).await;
    app.answer([Answer::Status(Retry)]);
    publish(&double, "tasks", "evt-1", "alice").await;
    let deliveries = double
        .wait_for_deliveries(2, WAIT)
        .await
        .expect("delivered and dead-lettered");
    assert_eq!(deliveries[0].topic, "tasks");
    assert_eq!(deliveries[0].attempts, 1, "no built-in retry");
    assert_eq!(deliveries[0].outcome, Outcome::DeadLettered);
    assert_eq!(deliveries[1].topic, "tasks-dlq");
    assert_eq!(deliveries[1].outcome, Outcome::Acked);

    // A transient gRPC error is no different.
    app.answer([Answer::Error(Code::Unavailable)]);
    publish(&double, "tasks", "evt-2", "alice").await;
    let deliveries = double
        .wait_for_deliveries(4, WAIT)
        .await
        .expect("delivered and dead-lettered");
    assert_eq!(deliveries[2].attempts, 1);
    assert_eq!(deliveries[2].outcome, Outcome::DeadLettered);
    assert_eq!(ids(&app), ["evt-1", "evt-1", "evt-2", "evt-2"]);
}

#[tokio::test]
async fn a_policy_retries_then_dead_letters() {
    let config = DaprDoubleConfig {
        delivery_retry: RetryPolicy::constant(2, Duration::from_millis(5)),
        ..no_policy()
    };
    let (double, app) = start(config, options()).await;
    app.answer([Answer::Status(Retry); 3]);
    publish(&double, "tasks", "evt-1", "alice").await;
    let deliveries = double
        .wait_for_deliveries(2, WAIT)
        .await
        .expect("delivered and dead-lettered");
    assert_eq!(deliveries[0].attempts, 3, "maxRetries 2 means 3 attempts");
    assert_eq!(deliveries[0].outcome, Outcome::DeadLettered);

    app.answer([Answer::Status(Retry); 2]);
    publish(&double, "tasks", "evt-2", "alice").await;
    let deliveries = double
        .wait_for_deliveries(3, WAIT)
        .await
        .expect("delivered");
    assert_eq!(deliveries[2].attempts, 3);
    assert_eq!(deliveries[2].outcome, Outcome::Acked);
}

#[tokio::test]
async fn fast_mirrors_taskflows_resiliency_policy() {
    let config = DaprDoubleConfig::fast(Duration::from_millis(5));
    // k8s/dapr.yaml: inboundRetry exponential, maxRetries 3, maxInterval 4s (×1/100 here);
    // timeout deliver 30s.
    assert_eq!(config.delivery_retry.max_retries, 3);
    assert_eq!(
        config.delivery_retry.initial_interval,
        Duration::from_millis(5)
    );
    assert_eq!(
        config.delivery_retry.max_interval,
        Duration::from_millis(40)
    );
    assert_eq!(config.delivery_timeout, Some(Duration::from_secs(30)));
    // daprd's own defaults.
    let default = DaprDoubleConfig::default();
    assert_eq!(default.delivery_retry, RetryPolicy::none());
    assert_eq!(default.delivery_timeout, None);
    assert_eq!(default.kafka_backoff, Duration::from_secs(5));
}

#[tokio::test]
async fn without_a_dead_letter_topic_kafka_redelivers_forever_and_the_partition_stalls() {
    let (double, app) = start(no_policy(), options()).await;
    // Six rounds of RETRY, then the app recovers.
    app.answer_for("stuck", [Answer::Status(Retry); 6]);
    let started = Instant::now();
    publish(&double, "plain", "stuck", "alice").await;
    publish(&double, "plain", "behind", "alice").await;
    let published = double.wait_for_published(2, WAIT).await.expect("stored");
    assert_eq!(published[0].partition, published[1].partition);
    // Another key on another partition is not held up.
    let other_key = (0..100)
        .map(|i| format!("user-{i}"))
        .find(|key| partition_of(&double, key) != published[0].partition)
        .expect("a key on another partition");
    publish(&double, "plain", "elsewhere", &other_key).await;
    let published = double.wait_for_published(3, WAIT).await.expect("stored");
    assert_ne!(published[2].partition, published[0].partition);

    let stuck = double
        .wait_for_deliveries_matching(
            1,
            |d| d.event_id == "stuck" && d.outcome == Outcome::Acked,
            WAIT,
        )
        .await
        .expect("acknowledged once the app recovers");
    let elapsed = started.elapsed();
    let rounds: Vec<_> = double
        .deliveries()
        .into_iter()
        .filter(|d| d.event_id == "stuck")
        .collect();
    assert_eq!(
        rounds.len(),
        7,
        "six rounds handed back to Kafka, then acknowledged"
    );
    for (n, round) in rounds.iter().enumerate() {
        assert_eq!(round.redelivery as usize, n);
        assert_eq!(round.attempts, 1, "no policy: one attempt per round");
        let expected = if n < 6 {
            Outcome::GaveUp
        } else {
            Outcome::Acked
        };
        assert_eq!(round.outcome, expected);
    }
    assert_eq!(stuck[0].redelivery, 6);
    // The consumer's back-off applies between rounds: no hot loop.
    assert!(elapsed >= BACKOFF * 6, "{elapsed:?}");
    for pair in rounds.windows(2) {
        assert!(pair[1].finished_at - pair[0].finished_at >= BACKOFF);
    }

    double
        .wait_for_deliveries_matching(1, |d| d.event_id == "behind", WAIT)
        .await
        .expect("delivered after the stuck one");
    let order = ids(&app);
    let first_elsewhere = order.iter().position(|id| id == "elsewhere");
    let last_stuck = order.iter().rposition(|id| id == "stuck");
    let behind = order.iter().position(|id| id == "behind");
    assert!(first_elsewhere < last_stuck, "{order:?}");
    assert!(last_stuck < behind, "{order:?}");
    assert_eq!(order.iter().filter(|id| *id == "behind").count(), 1);
}

#[tokio::test]
async fn a_policy_runs_again_on_every_kafka_redelivery() {
    let config = DaprDoubleConfig {
        delivery_retry: RetryPolicy::constant(1, Duration::from_millis(5)),
        ..no_policy()
    };
    let (double, app) = start(config, options()).await;
    app.answer([Answer::Error(Code::Internal); 4]);
    publish(&double, "plain", "stuck", "alice").await;
    let deliveries = double
        .wait_for_deliveries_matching(1, |d| d.outcome == Outcome::Acked, WAIT)
        .await
        .expect("acknowledged in the third round");
    assert_eq!(deliveries[0].redelivery, 2);
    let all = double.deliveries();
    assert_eq!(all.len(), 3);
    assert_eq!(
        all.iter().map(|d| d.attempts).collect::<Vec<_>>(),
        [2, 2, 1]
    );
    assert!(matches!(
        all[0].last_status,
        Some(AppAnswer::Grpc {
            code: Code::Internal,
            ..
        })
    ));
    assert_eq!(app.state.topic_events.len(), 5);
}

#[tokio::test]
async fn an_undecodable_message_without_a_dead_letter_topic_is_redelivered_too() {
    let (double, _app) = start(no_policy(), options()).await;
    let delivery = double
        .deliver_raw("plain", "{not json", Default::default())
        .await
        .expect("delivered");
    assert_eq!(delivery.outcome, Outcome::GaveUp);
    assert_eq!(delivery.attempts, 0);
    let rounds = double
        .wait_for_deliveries_matching(3, |d| d.topic == "plain", WAIT)
        .await
        .expect("redelivered in the background");
    assert_eq!(
        rounds.iter().map(|d| d.redelivery).collect::<Vec<_>>()[..3],
        [0, 1, 2]
    );
    assert!(rounds.iter().all(|d| d.outcome == Outcome::GaveUp));
}

/// The partition a key goes to (sarama's hash partitioner, as the double computes it).
fn partition_of(double: &DaprDouble, key: &str) -> u32 {
    let partitions = double.config().partitions.max(1);
    let mut hash: u32 = 0x811c_9dc5;
    for byte in key.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash.cast_signed() % partitions.cast_signed()).unsigned_abs()
}
