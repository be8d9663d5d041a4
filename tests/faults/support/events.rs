//! What the sidecar received and what the database holds, compared: each CloudEvent id
//! counted once, same-id re-sends counted as duplicates, per-user order, and the wait until
//! the outbox is empty and every delivery has settled.

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use dapr_double::{DaprDouble, Outcome, Published};
use taskflow::domain::{TaskId, TaskName, UserId};
use taskflow::store::outbox::OutboxRow;
use taskflow::store::{Database, entity::task};

use crate::helpers::{eventually_within, outbox_rows};

/// The messages the sidecar stored, by CloudEvent id.
pub struct Ledger {
    /// Messages stored, re-sends included.
    pub total: usize,
    /// Distinct CloudEvent ids.
    pub ids: HashSet<String>,
    /// `(subject, type)` → the distinct ids published for it.
    pub by_subject: HashMap<(String, String), BTreeSet<String>>,
}

impl Ledger {
    /// Reads `published`; a re-sent id must carry the very same event (type, subject, data).
    pub fn of(published: &[Published]) -> Self {
        let mut first: HashMap<String, &Published> = HashMap::new();
        let mut by_subject: HashMap<(String, String), BTreeSet<String>> = HashMap::new();
        for message in published {
            let id = message
                .event_id()
                .expect("every event has an id")
                .to_owned();
            if let Some(earlier) = first.get(&id) {
                assert_eq!(
                    earlier.cloud_event, message.cloud_event,
                    "a re-send of {id} is the same event"
                );
                continue;
            }
            first.insert(id.clone(), message);
            by_subject
                .entry((field(message, "subject"), field(message, "type")))
                .or_default()
                .insert(id);
        }
        Self {
            total: published.len(),
            ids: first.into_keys().collect(),
            by_subject,
        }
    }

    /// Same-id re-sends (at-least-once after a crash or a failed batch).
    pub fn duplicates(&self) -> usize {
        self.total - self.ids.len()
    }

    /// How many distinct events of `event_type` were published about `subject`.
    pub fn count(&self, subject: &str, event_type: &str) -> usize {
        self.by_subject
            .get(&(subject.to_owned(), event_type.to_owned()))
            .map_or(0, BTreeSet::len)
    }

    /// Outbox events that never reached the sidecar.
    pub fn lost(&self, outbox: &[OutboxRow]) -> usize {
        outbox
            .iter()
            .filter(|row| !self.ids.contains(&row.event_id.to_string()))
            .count()
    }
}

/// A CloudEvent attribute as text ("" if absent).
pub fn field(message: &Published, name: &str) -> String {
    message.cloud_event[name]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Per Kafka key (the user): `(type, subject)` of each distinct id, in first-arrival order.
pub fn per_key_order(published: &[Published]) -> HashMap<String, Vec<(String, String)>> {
    let mut seen = HashSet::new();
    let mut order: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for message in published {
        let id = message.event_id().unwrap_or_default().to_owned();
        if !seen.insert(id) {
            continue;
        }
        order
            .entry(message.key.clone().unwrap_or_default())
            .or_default()
            .push((field(message, "type"), field(message, "subject")));
    }
    order
}

/// Waits until every outbox event is published and every stored message has been delivered,
/// with the same counts on two checks in a row; returns the outbox.
pub async fn drain(db: &Database, double: &DaprDouble, timeout: Duration) -> Vec<OutboxRow> {
    let last = Cell::new((usize::MAX, usize::MAX, usize::MAX));
    eventually_within("the outbox and the deliveries to settle", timeout, || {
        let last = &last;
        async move {
            let rows = outbox_rows(db).await;
            let pending = rows.iter().filter(|r| r.published_us.is_none()).count();
            let counts = (
                rows.len(),
                double.published().len(),
                double.deliveries().len(),
            );
            let settled = pending == 0 && counts.1 == counts.2 && last.replace(counts) == counts;
            settled.then_some(rows)
        }
    })
    .await
}

/// Whether a delivery ended for good: acknowledged, dropped or dead-lettered. Any other
/// outcome (handed back to Kafka, cut short while the app was unhealthy) is delivered again.
pub fn is_final(outcome: Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Acked | Outcome::Dropped | Outcome::DeadLettered
    )
}

/// Stored messages (`(topic, event id)`, once per stored copy) still waiting for a delivery
/// that ends for good ([`is_final`]).
pub fn outstanding_deliveries(double: &DaprDouble) -> Vec<(String, String)> {
    let mut finished: HashMap<(String, String), usize> = HashMap::new();
    for delivery in double.deliveries() {
        if is_final(delivery.outcome) {
            *finished
                .entry((delivery.topic.clone(), delivery.event_id.clone()))
                .or_default() += 1;
        }
    }
    let mut outstanding = Vec::new();
    for message in double.published() {
        let key = (
            message.topic.clone(),
            message.event_id().unwrap_or_default().to_owned(),
        );
        match finished.get_mut(&key) {
            Some(n) if *n > 0 => *n -= 1,
            _ => outstanding.push(key),
        }
    }
    outstanding
}

/// Waits until every outbox event is published and every stored message has a delivery that
/// ended for good, with the same counts on two checks in a row; returns the outbox. Unlike
/// [`drain`] it is not fooled by the extra records of messages delivered again.
pub async fn settle(db: &Database, double: &DaprDouble, timeout: Duration) -> Vec<OutboxRow> {
    let last = Cell::new((usize::MAX, usize::MAX, usize::MAX));
    eventually_within(
        "every event published and delivered for good",
        timeout,
        || {
            let last = &last;
            async move {
                let rows = outbox_rows(db).await;
                let pending = rows.iter().filter(|r| r.published_us.is_none()).count();
                let outstanding = outstanding_deliveries(double).len();
                let counts = (
                    rows.len(),
                    double.published().len(),
                    double.deliveries().len(),
                );
                let settled = pending == 0 && outstanding == 0 && last.replace(counts) == counts;
                settled.then_some(rows)
            }
        },
    )
    .await
}

/// Deliveries that did not end acknowledged.
pub fn unacked_deliveries(double: &DaprDouble) -> Vec<dapr_double::Delivery> {
    double
        .deliveries()
        .into_iter()
        .filter(|d| d.outcome != Outcome::Acked)
        .collect()
}

/// Every task row, by resource name.
pub async fn tasks_by_name(db: &Database) -> HashMap<String, task::Model> {
    use sea_orm::EntityTrait;
    task::Entity::find()
        .all(db.conn())
        .await
        .expect("reads the tasks")
        .into_iter()
        .map(|row| {
            let name = TaskName {
                user: UserId::parse(&row.user_id).expect("a stored user id"),
                task: TaskId::from_uuid(row.id),
            };
            (name.to_string(), row)
        })
        .collect()
}
