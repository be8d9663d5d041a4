//! The sidecar goes away under load and comes back: the API never notices (no errors), the
//! backlog is published once the sidecar returns, nothing is lost, and each user's events
//! arrive in the order they were committed. It runs on a private PostgreSQL cluster: a stall
//! of the common server (other tests creating and dropping databases force checkpoints) is
//! not the fault under test.

use std::time::{Duration, Instant};

use taskflow::store::Database;

use crate::helpers::{eventually_within, outbox_rows};
use crate::support::{
    Acked, ChildServer, Figures, Ledger, Load, LoadConfig, Mix, PrivateCluster, drain,
    patient_double, per_key_order,
};

const OUTAGE: Duration = Duration::from_secs(3);
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_keeps_answering_while_the_sidecar_is_down_and_the_backlog_follows() {
    let cluster = PrivateCluster::start().await;
    let url = cluster.url();
    let double = patient_double().await;
    let server = ChildServer::start(&url, &double).await;
    let db = Database::connect(&url, 2).await.expect("connects");
    let mut config = LoadConfig::new(5, Mix::CreatesAndCompletes);
    config.pace = Duration::from_millis(2);
    let load = Load::start(&server, &config);

    load.wait_more(50, WAIT).await;
    double.stop().await;
    let stopped = Instant::now();
    let published_at_stop = double.published().len();
    load.wait_more(50, WAIT).await;
    // The outage lasts OUTAGE however fast the load runs.
    tokio::time::sleep_until((stopped + OUTAGE).into()).await;
    assert_eq!(
        double.published().len(),
        published_at_stop,
        "nothing reaches a stopped sidecar"
    );
    let backlog: Vec<i64> = outbox_rows(&db)
        .await
        .iter()
        .filter(|r| r.published_us.is_none())
        .map(|r| r.seq)
        .collect();
    assert!(!backlog.is_empty(), "events waited for the sidecar");
    let restarted_at = Instant::now();
    double.restart().await.expect("the sidecar is back");
    let last = backlog.iter().max().copied().unwrap_or_default();
    eventually_within("the backlog to be published", WAIT, || async {
        let rows = outbox_rows(&db).await;
        rows.iter()
            .filter(|r| r.seq <= last)
            .all(|r| r.published_us.is_some())
            .then_some(())
    })
    .await;
    let backlog_published = restarted_at.elapsed();
    load.wait_more(50, WAIT).await;
    let report = load.finish().await;

    let errors = report.errors();
    assert!(errors.is_empty(), "the API answered throughout: {errors:?}");
    let outbox = drain(&db, &double, WAIT).await;
    let published = double.published_on("tasks");
    let ledger = Ledger::of(&published);
    let lost = ledger.lost(&outbox);
    assert_eq!(lost, 0);
    assert_eq!(ledger.ids.len(), outbox.len());

    // Each user's events were published in the order that user's writes were acknowledged
    // (one client per user, so that is their commit order).
    let mut order = per_key_order(&published);
    for client in &report.clients {
        let expected: Vec<(String, String)> = client
            .acked
            .iter()
            .map(|acked| match acked {
                Acked::Created { name, .. } => ("task.created".to_owned(), name.clone()),
                Acked::Completed { name } => ("task.completed".to_owned(), name.clone()),
            })
            .collect();
        let committed: Vec<(String, String)> = outbox
            .iter()
            .filter(|row| row.partition_key == client.user)
            .map(|row| (row.event_type.clone(), row.subject.clone()))
            .collect();
        assert_eq!(
            committed, expected,
            "{}'s outbox in commit order",
            client.user
        );
        let got = order.remove(&client.user).unwrap_or_default();
        assert_eq!(got, expected, "{}'s events in commit order", client.user);
    }

    let during: Vec<Duration> = report
        .calls
        .iter()
        .filter(|c| c.started >= stopped && c.started < restarted_at)
        .map(|c| c.latency)
        .collect();
    assert!(!during.is_empty(), "the load ran during the outage");
    Figures::new("sidecar_outage")
        .ms("outage_ms", restarted_at - stopped)
        .add("calls", report.calls.len())
        .add("errors", report.errors().len())
        .add("backlog", backlog.len())
        .ms("recovery_ms", backlog_published)
        .add("produced", outbox.len())
        .add("published", ledger.ids.len())
        .add("lost", lost)
        .add("duplicates", ledger.duplicates())
        .ms(
            "p99_outage_ms",
            crate::support::figures::percentile(during, 99.0),
        )
        .ms("p99_ms", report.ok_percentile(99.0))
        .print();
}
