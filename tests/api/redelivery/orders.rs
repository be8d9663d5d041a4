//! The orders a run delivers its events in: once in publish order, or twice with the users'
//! streams shuffled together (each user's own events keep their order, as one Kafka partition
//! per user key guarantees) and the second copies interleaved or held back to the end.

use std::collections::{BTreeMap, VecDeque};

use dapr_double::Published;

/// A small seeded generator (SplitMix64): the same seed gives the same shuffles on every run.
pub struct Rng(u64);

impl Rng {
    pub fn seeded(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// How a run's deliveries are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Every event once, in publish order.
    Clean,
    /// Every event twice: the users' streams shuffled together, each user's first copies in
    /// order, each second copy anywhere after its first.
    Interleaved,
    /// Every event once with the users' streams shuffled together, and every second copy
    /// after everything else: after the due reminder jobs have fired, too.
    SecondCopiesLast,
}

impl Order {
    /// Whether the order delivers everything twice.
    pub fn duplicates(self) -> bool {
        self != Self::Clean
    }

    /// What to deliver now, and what to hold back until everything else has settled.
    pub fn arrange(self, batch: &[Published], rng: &mut Rng) -> (Vec<Published>, Vec<Published>) {
        match self {
            Self::Clean => (batch.to_vec(), Vec::new()),
            Self::Interleaved => {
                let streams = by_user(batch)
                    .into_iter()
                    .map(|stream| with_second_copies(stream, rng))
                    .collect();
                (merge(streams, rng), Vec::new())
            }
            Self::SecondCopiesLast => (shuffled_across_users(batch, rng), batch.to_vec()),
        }
    }
}

/// The user an event is keyed by (its Kafka key).
fn user_of(event: &Published) -> String {
    event.key.clone().unwrap_or_default()
}

/// Each user's events, in publish order.
fn by_user(events: &[Published]) -> Vec<VecDeque<Published>> {
    let mut streams: BTreeMap<String, VecDeque<Published>> = BTreeMap::new();
    for event in events {
        streams
            .entry(user_of(event))
            .or_default()
            .push_back(event.clone());
    }
    streams.into_values().collect()
}

/// The users' streams shuffled together, each user's events in their order.
pub fn shuffled_across_users(events: &[Published], rng: &mut Rng) -> Vec<Published> {
    merge(by_user(events), rng)
}

/// Takes the next event from a stream chosen at random (weighted by what it has left), so
/// every interleaving that keeps each stream's order is possible.
fn merge(mut streams: Vec<VecDeque<Published>>, rng: &mut Rng) -> Vec<Published> {
    let mut left: usize = streams.iter().map(VecDeque::len).sum();
    let mut merged = Vec::with_capacity(left);
    while left > 0 {
        let mut pick = rng.below(left);
        for stream in &mut streams {
            if pick < stream.len() {
                merged.extend(stream.pop_front());
                break;
            }
            pick -= stream.len();
        }
        left -= 1;
    }
    merged
}

/// One user's stream with a second copy of every event inserted at random after its first.
fn with_second_copies(stream: VecDeque<Published>, rng: &mut Rng) -> VecDeque<Published> {
    let firsts: Vec<Published> = stream.into();
    let mut sequence = firsts.clone();
    for event in &firsts {
        let first = sequence
            .iter()
            .position(|e| e.event_id() == event.event_id())
            .unwrap_or_default();
        let at = first + 1 + rng.below(sequence.len() - first);
        sequence.insert(at, event.clone());
    }
    sequence.into()
}
