//! The stand-in for Kafka behind the pubsub component: stored messages with their key,
//! partition and offset, handed to delivery.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::DaprDouble;
use crate::double::Shared;
use crate::record::{Published, WaitTimeout, lock};

/// Offsets per topic and partition.
#[derive(Default)]
pub(crate) struct Broker {
    offsets: Mutex<HashMap<(String, u32), u64>>,
    keyless: AtomicU32,
}

impl Broker {
    /// The partition of a message: sarama's default hash partitioner (FNV-1a of the key, as a
    /// signed 32-bit value modulo the partition count, made positive). Messages without a key
    /// go round-robin (sarama picks at random).
    pub(crate) fn partition(&self, key: Option<&str>, partitions: u32) -> u32 {
        let partitions = partitions.max(1);
        match key {
            Some(key) => {
                let mut hash: u32 = 0x811c_9dc5;
                for byte in key.bytes() {
                    hash ^= u32::from(byte);
                    hash = hash.wrapping_mul(0x0100_0193);
                }
                let signed = hash.cast_signed() % partitions.cast_signed();
                signed.unsigned_abs()
            }
            None => self.keyless.fetch_add(1, Ordering::Relaxed) % partitions,
        }
    }

    /// Takes `n` consecutive offsets of a topic's partition and returns the first.
    pub(crate) fn reserve_offsets(&self, topic: &str, partition: u32, n: u64) -> u64 {
        let mut offsets = lock(&self.offsets);
        let next = offsets.entry((topic.to_owned(), partition)).or_insert(0);
        let first = *next;
        *next += n;
        first
    }
}

/// The Kafka key the component sets: metadata `partitionKey`, else `__key` (exact names).
pub(crate) fn kafka_key(metadata: &HashMap<String, String>) -> Option<String> {
    metadata
        .get("partitionKey")
        .or_else(|| metadata.get("__key"))
        .cloned()
}

impl Shared {
    /// Stores a message as the component would write it to Kafka, records it and queues it
    /// for delivery. `force_delivery` queues it even when auto-delivery is off (dead-letter
    /// copies, which are part of a delivery already under way).
    pub(crate) fn store(self: &std::sync::Arc<Self>, mut message: Published, force_delivery: bool) {
        message.key = kafka_key(&message.metadata);
        message.partition = self
            .broker
            .partition(message.key.as_deref(), self.config.partitions);
        message.offset = self
            .broker
            .reserve_offsets(&message.topic, message.partition, 1);
        message.received_at = Instant::now();
        self.published.push(message.clone());
        if force_delivery || self.delivery.auto_deliver() {
            self.enqueue(message);
        }
    }
}

impl DaprDouble {
    /// Every stored message so far, in arrival order (dead-letter copies included).
    pub fn published(&self) -> Vec<Published> {
        self.shared.published.snapshot()
    }

    /// The stored messages on one topic, in arrival order.
    pub fn published_on(&self, topic: &str) -> Vec<Published> {
        self.published()
            .into_iter()
            .filter(|p| p.topic == topic)
            .collect()
    }

    /// Waits (woken on every arrival, no polling) until at least `n` messages are stored, and
    /// returns all of them; on timeout the error carries what arrived.
    pub async fn wait_for_published(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<Published>, WaitTimeout<Published>> {
        self.shared.published.wait_for(n, timeout).await
    }

    /// Forgets the recorded publishes, deliveries and job triggers (queued deliveries, jobs and
    /// offsets stay).
    pub fn clear(&self) {
        self.shared.published.clear();
        self.shared.deliveries.clear();
        self.shared.job_triggers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_like_sarama() {
        let broker = Broker::default();
        // FNV-1a("alice") = 0x872213e7, as i32 -2027809817; % 6 = -5, made positive: 5.
        assert_eq!(broker.partition(Some("alice"), 6), 5);
        assert_eq!(broker.partition(Some("alice"), 1), 0);
        assert_eq!(broker.partition(None, 3), 0);
        assert_eq!(broker.partition(None, 3), 1);
    }
}
