//! WatchNotifications: backlog then live, the seam between them, isolation, disconnects, slow
//! watchers, shutdown, and delivery across replicas on PostgreSQL.

use std::time::Duration;

use taskflow::domain::Notification;
use tokio::time::timeout;
use tonic::{Code, transport::Channel};

use crate::both_backends;
use crate::helpers::*;
use crate::helpers::{Backend, TestApp, eventually, ts};

async fn watchers_get_the_backlog_then_live_ones_and_only_their_own(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (db, hub) = (app.db().await, app.hub());
    let _too_old = record(&db, &hub, "alice", "too old", ago(180)).await;
    let a1 = record(&db, &hub, "alice", "a1", ago(120)).await;
    let a2 = record(&db, &hub, "alice", "a2", ago(60)).await;
    let _bobs_old = record(&db, &hub, "bob", "bob old", ago(90)).await;

    let mut alice = notifications(&app, "alice");
    let since = ago(150).to_rfc3339();
    let mut with_backlog = watch(&mut alice, "users/alice", Some(ts(&since)))
        .await
        .expect("watch");
    let mut live_only = watch(&mut alice, "users/alice", None).await.expect("watch");
    let mut bobs = watch(&mut notifications(&app, "bob"), "users/bob", None)
        .await
        .expect("bob watches");

    assert_eq!(next(&mut with_backlog).await.name, a1.name());
    assert_eq!(next(&mut with_backlog).await.name, a2.name());

    // Announced again now (as a late announcement would be): stored before the watches
    // began, so no watcher sends it again.
    hub.notify_in_txn(db.conn(), &a2).await.expect("announces");
    hub.committed(&a2);
    // Created after the watchers subscribed: delivered live.
    let a3 = record(&db, &hub, "alice", "a3", taskflow::clock::now()).await;
    let got = next(&mut with_backlog).await;
    assert_eq!(got.name, a3.name());
    assert_eq!(got.title, "a3");
    assert_eq!(got.body, "Due soon");
    assert_eq!(
        next(&mut live_only).await.name,
        a3.name(),
        "without since, no backlog: the first one is the live one"
    );
    stays_quiet(&mut bobs, "bob's").await;

    let b1 = record(&db, &hub, "bob", "b1", taskflow::clock::now()).await;
    assert_eq!(next(&mut bobs).await.name, b1.name());
    stays_quiet(&mut with_backlog, "alice's").await;
    stays_quiet(&mut live_only, "alice's").await;
}

async fn a_disconnected_watcher_is_freed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hub = app.hub();
    let (idle, idle_users) = (hub.receiver_count(), hub.watched_users());
    let mut alice = notifications(&app, "alice");
    let stream = watch(&mut alice, "users/alice", Some(ts("2020-01-01T00:00:00Z")))
        .await
        .expect("watch");
    let second = watch(&mut alice, "users/alice", None)
        .await
        .expect("a second watch");
    assert_eq!(
        hub.receiver_count(),
        idle + 2,
        "the watchers subscribed before answering"
    );
    assert_eq!(
        hub.watched_users(),
        idle_users + 1,
        "one bell for the user's two watchers"
    );
    drop(stream);
    eventually("the first watcher to be freed", || async {
        (hub.receiver_count() == idle + 1).then_some(())
    })
    .await;
    assert_eq!(
        hub.watched_users(),
        idle_users + 1,
        "the bell stays while a watcher of the user is left"
    );
    drop(second);
    eventually("the watchers and the user's bell to be freed", || async {
        (hub.receiver_count() == idle && hub.watched_users() == idle_users).then_some(())
    })
    .await;
    // The connection is still good for another watch.
    let (db, hub) = (app.db().await, app.hub());
    let mut again = watch(&mut alice, "users/alice", None).await.expect("watch");
    let n = record(&db, &hub, "alice", "after", taskflow::clock::now()).await;
    assert_eq!(next(&mut again).await.name, n.name());
}

async fn a_slow_watcher_loses_nothing_and_holds_up_no_one(backend: Backend) {
    const COUNT: usize = 2000;
    const PER_TRANSACTION: usize = 100;
    let app = TestApp::spawn(backend).await;
    let (db, hub) = (app.db().await, app.hub());
    // The slow client's own connection, with a small flow-control window, so that the
    // transport soaks up little and the hub really runs ahead of its watcher.
    let slow_channel = Channel::from_shared(format!("http://{}", app.addr()))
        .expect("a valid uri")
        .initial_stream_window_size(16 * 1024)
        .connect()
        .await
        .expect("connects");
    let mut slow = watch(&mut client_on(slow_channel, "alice"), "users/alice", None)
        .await
        .expect("the slow watch");
    let mut fast = watch(&mut notifications(&app, "alice"), "users/alice", None)
        .await
        .expect("the fast watch");
    let fast_reader = tokio::spawn(async move {
        let mut got = Vec::with_capacity(COUNT);
        while got.len() < COUNT {
            got.push(next(&mut fast).await.name);
        }
        got
    });

    // Large bodies, so the transport's buffers hold few of them.
    let body = "x".repeat(4000);
    let start = taskflow::clock::now();
    let mut expected = Vec::with_capacity(COUNT);
    for batch in 0..COUNT / PER_TRANSACTION {
        let items = (0..PER_TRANSACTION).map(|i| {
            let k = batch * PER_TRANSACTION + i;
            let at = start + chrono::Duration::milliseconds(i64::try_from(k).unwrap_or(0));
            (format!("n{k}"), at)
        });
        let recorded = record_all(&db, &hub, "alice", items, &body).await;
        expected.extend(recorded.iter().map(Notification::name));
    }

    let fast_got = timeout(Duration::from_secs(120), fast_reader)
        .await
        .expect("the fast watcher keeps up while the slow one does not read")
        .expect("the fast reader");
    assert_eq!(
        fast_got, expected,
        "the fast watcher got every one, in order"
    );

    let mut slow_got = Vec::with_capacity(COUNT);
    while slow_got.len() < COUNT {
        slow_got.push(next(&mut slow).await.name);
    }
    assert_eq!(
        slow_got, expected,
        "the slow watcher lost nothing, in order"
    );
    stays_quiet(&mut slow, "the slow").await;
}

/// Only a user's own watchers are woken for a notification; one that slept while others'
/// notifications overran the hub's ring (1,024) finds its own by reading what it missed.
async fn a_quiet_watcher_gets_its_own_after_others_overran_the_ring(backend: Backend) {
    const OTHERS: usize = 1_100;
    let app = TestApp::spawn(backend).await;
    let (db, hub) = (app.db().await, app.hub());
    let mut bobs = watch(&mut notifications(&app, "bob"), "users/bob", None)
        .await
        .expect("bob watches");
    let mut alices = watch(&mut notifications(&app, "alice"), "users/alice", None)
        .await
        .expect("alice watches");
    let start = taskflow::clock::now();
    let mut expected = Vec::with_capacity(OTHERS);
    for batch in 0..OTHERS / 100 {
        let items = (0..100).map(|i| {
            let k = batch * 100 + i;
            let at = start + chrono::Duration::milliseconds(i64::try_from(k).unwrap_or(0));
            (format!("a{k}"), at)
        });
        let recorded = record_all(&db, &hub, "alice", items, "for alice").await;
        expected.extend(recorded.iter().map(Notification::name));
    }
    let mut alice_got = Vec::with_capacity(OTHERS);
    while alice_got.len() < OTHERS {
        alice_got.push(next(&mut alices).await.name);
    }
    assert_eq!(alice_got, expected, "alice got hers, in order");
    stays_quiet(&mut bobs, "bob's").await;

    let at = start + chrono::Duration::seconds(10);
    let b1 = record(&db, &hub, "bob", "b1", at).await;
    assert_eq!(next(&mut bobs).await.name, b1.name(), "bob got his own");
    stays_quiet(&mut bobs, "bob's").await;
}

async fn watches_end_unavailable_when_the_server_stops(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut stream = watch(&mut notifications(&app, "alice"), "users/alice", None)
        .await
        .expect("watch");
    let stopping = tokio::spawn(app.stop());
    let ended = timeout(ARRIVES_WITHIN, stream.message())
        .await
        .expect("the watch ends promptly")
        .expect_err("the watch ends with a status");
    assert_eq!(ended.code(), Code::Unavailable, "{ended:?}");
    timeout(Duration::from_secs(4), stopping)
        .await
        .expect("an open watch does not hold up the shutdown")
        .expect("the server stops");
}

both_backends!(
    watchers_get_the_backlog_then_live_ones_and_only_their_own,
    a_disconnected_watcher_is_freed,
    a_slow_watcher_loses_nothing_and_holds_up_no_one,
    a_quiet_watcher_gets_its_own_after_others_overran_the_ring,
    watches_end_unavailable_when_the_server_stops,
);

/// On PostgreSQL each replica has its own hub: a notification recorded through one reaches
/// the watchers of the other through LISTEN/NOTIFY, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_deliver_each_others_notifications() {
    let first = TestApp::spawn(Backend::Postgres).await;
    let second = first.replica(|_| {}).await;
    let mut on_first = watch(&mut notifications(&first, "alice"), "users/alice", None)
        .await
        .expect("watch on the first replica");
    let mut on_second = watch(&mut notifications(&second, "alice"), "users/alice", None)
        .await
        .expect("watch on the second replica");

    let db = second.db().await;
    let recorded = record(
        &db,
        &second.hub(),
        "alice",
        "from afar",
        taskflow::clock::now(),
    )
    .await;
    assert_eq!(next(&mut on_first).await.name, recorded.name());
    assert_eq!(next(&mut on_second).await.name, recorded.name());
    stays_quiet(&mut on_first, "the first replica's").await;
    stays_quiet(&mut on_second, "the second replica's").await;
}
