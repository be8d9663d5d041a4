//! The one table of what taskflow subscribes to: each topic, its dead-letter topic, and what
//! is handled on it. `ListTopicSubscriptions`, the topic gate of every delivery and the
//! dead-letter branch all read it, so they cannot drift apart; the event kinds a topic
//! accepts are the ones the catalog publishes there.

use crate::config::EventsConfig;
use crate::outbox::EventKind;

/// What a subscribed topic carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handling {
    /// taskflow's own events of these kinds, handled by the subscriber.
    Events(Vec<EventKind>),
    /// Events that could not be handled, kept for review.
    DeadLetters,
}

/// One subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub topic: String,
    /// Where the sidecar sends what is dropped here (none for the dead-letter topic itself).
    pub dead_letter_topic: Option<String>,
    pub handling: Handling,
}

/// Every subscription, in the order they are listed to the sidecar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriptions {
    pub pubsub_name: String,
    list: Vec<Subscription>,
}

impl Subscriptions {
    /// The subscriptions of `config`: the tasks and reminders topics (dropping to the
    /// dead-letter topic) and the dead-letter topic itself.
    pub fn new(config: &EventsConfig) -> Self {
        let mut list: Vec<Subscription> = Vec::new();
        for kind in EventKind::ALL {
            let topic = kind.topic(config);
            match list.iter_mut().find(|s| s.topic == topic) {
                Some(Subscription {
                    handling: Handling::Events(kinds),
                    ..
                }) => kinds.push(kind),
                Some(_) => {}
                None => list.push(Subscription {
                    topic: topic.to_owned(),
                    dead_letter_topic: Some(config.dead_letter_topic.clone()),
                    handling: Handling::Events(vec![kind]),
                }),
            }
        }
        if !list.iter().any(|s| s.topic == config.dead_letter_topic) {
            list.push(Subscription {
                topic: config.dead_letter_topic.clone(),
                dead_letter_topic: None,
                handling: Handling::DeadLetters,
            });
        }
        Self {
            pubsub_name: config.pubsub_name.clone(),
            list,
        }
    }

    /// The subscription of `topic`, if taskflow has one.
    pub fn get(&self, topic: &str) -> Option<&Subscription> {
        self.list.iter().find(|s| s.topic == topic)
    }

    pub fn all(&self) -> &[Subscription] {
        &self.list
    }

    /// Whether `topic` is the dead-letter topic.
    pub fn is_dead_letters(&self, topic: &str) -> bool {
        self.get(topic)
            .is_some_and(|s| s.handling == Handling::DeadLetters)
    }

    /// The kinds handled on `topic` (none on a topic that is not subscribed).
    pub fn accepts(&self, topic: &str) -> &[EventKind] {
        match self.get(topic) {
            Some(Subscription {
                handling: Handling::Events(kinds),
                ..
            }) => kinds,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_published_kind_is_accepted_on_its_own_topic_only() {
        let config = EventsConfig::default();
        let subs = Subscriptions::new(&config);
        for kind in EventKind::ALL {
            for sub in subs.all() {
                assert_eq!(
                    subs.accepts(&sub.topic).contains(&kind),
                    sub.topic == kind.topic(&config),
                    "{kind:?} on {}",
                    sub.topic
                );
            }
        }
        assert!(subs.is_dead_letters(&config.dead_letter_topic));
        assert!(!subs.is_dead_letters(&config.tasks_topic));
        assert!(subs.accepts(&config.dead_letter_topic).is_empty());
        assert!(subs.get("elsewhere").is_none());
        let listed: Vec<(&str, Option<&str>)> = subs
            .all()
            .iter()
            .map(|s| (s.topic.as_str(), s.dead_letter_topic.as_deref()))
            .collect();
        assert_eq!(
            listed,
            vec![
                ("tasks", Some("tasks-dlq")),
                ("reminders", Some("tasks-dlq")),
                ("tasks-dlq", None)
            ]
        );
    }

    #[test]
    fn one_topic_for_both_kinds_is_listed_once() {
        let config = EventsConfig {
            reminders_topic: "tasks".into(),
            ..EventsConfig::default()
        };
        let subs = Subscriptions::new(&config);
        assert_eq!(subs.all().len(), 2);
        assert_eq!(subs.accepts("tasks").len(), EventKind::ALL.len());
    }
}
