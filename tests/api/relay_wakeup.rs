//! Events written on a replica that is not the outbox relay reach the sidecar at once: that
//! replica wakes the relay across the database instead of leaving the events to its poll.

use std::time::Duration;

use taskflow::config::ServeConfig;

use crate::helpers::{Backend, TestApp, create, double, titled, wired_to};

/// A poll so slow that only a wake-up can publish within the test.
const SLOW_POLL_MS: u64 = 600_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_written_on_any_replica_reach_the_sidecar_without_a_poll() {
    let double = double().await;
    let configure = |double: &dapr_double::DaprDouble| {
        let wire = wired_to(double);
        move |c: &mut ServeConfig| {
            wire(c);
            c.events.relay_poll_ms = SLOW_POLL_MS;
        }
    };
    let first = TestApp::spawn_with(Backend::Postgres, configure(&double)).await;
    create(&mut first.user("alice"), "alice", titled("on the relay")).await;
    double
        .wait_for_published(1, Duration::from_secs(10))
        .await
        .expect("the only replica is the relay");

    // The first replica holds the relay lock; the second stands by.
    let second = first.replica(configure(&double)).await;
    for i in 0..3 {
        create(
            &mut second.user("bob"),
            "bob",
            titled(&format!("elsewhere {i}")),
        )
        .await;
        let published = double
            .wait_for_published(2 + i, Duration::from_secs(10))
            .await
            .expect("published without waiting for the relay's poll");
        assert_eq!(published.len(), 2 + i);
    }
}
