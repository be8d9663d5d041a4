//! The database stops under load (a private PostgreSQL cluster, so other tests are not
//! disturbed): calls fail fast with `UNAVAILABLE`, deliveries are answered RETRY, the process
//! stays up, and once the cluster is back the service recovers by itself with nothing
//! acknowledged lost.

use std::time::{Duration, Instant};

use base64::{Engine, engine::general_purpose::STANDARD};
use dapr::dapr::proto::runtime::v1::{
    TopicEventRequest, app_callback_client::AppCallbackClient,
    app_callback_health_check_client::AppCallbackHealthCheckClient,
    topic_event_response::TopicEventResponseStatus as Answer,
};
use dapr_double::{DaprDouble, Published};
use taskflow::proto::v1 as pb;
use taskflow::store::{DEFAULT_ACQUIRE_TIMEOUT_MS, Database};
use tonic::{Code, Request, transport::Channel};

use crate::helpers::{eventually_within, outbox_rows, titled};
use crate::support::events::field;
use crate::support::{
    ChildServer, Figures, Ledger, Load, LoadConfig, Mix, PrivateCluster, patient_double,
    tasks_by_name,
};

const OUTAGE: Duration = Duration::from_secs(3);
const WAIT: Duration = Duration::from_secs(60);
/// A failing call may wait for a connection this long (the default acquire timeout), plus a
/// margin for a loaded machine.
const FAIL_FAST: Duration = Duration::from_millis(DEFAULT_ACQUIRE_TIMEOUT_MS + 1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_fails_calls_fast_and_the_service_recovers_by_itself() {
    let cluster = PrivateCluster::start().await;
    let double = patient_double().await;
    let mut server = ChildServer::start(&cluster.url(), &double).await;
    let mut config = LoadConfig::new(4, Mix::Creates);
    config.retry = true;
    config.pace = Duration::from_millis(2);
    let load = Load::start(&server, &config);
    load.wait_more(30, WAIT).await;
    let (probe, completion) = completed_probe(&server, &double).await;
    let mut callback = AppCallbackClient::connect(format!("http://{}", server.callback_addr()))
        .await
        .expect("connects to the callback port");

    let mut health =
        AppCallbackHealthCheckClient::connect(format!("http://{}", server.callback_addr()))
            .await
            .expect("connects to the callback port");
    health
        .health_check(())
        .await
        .expect("healthy before the outage");

    cluster.stop_immediate().await;
    let down = Instant::now();
    // daprd's app health probe sees the outage, and pauses the deliveries.
    let unhealthy = health
        .health_check(())
        .await
        .expect_err("unhealthy without a database");
    assert_eq!(unhealthy.code(), Code::Unavailable, "{unhealthy:?}");
    let (answer, retry_latency) = deliver(&mut callback, &completion).await;
    assert_eq!(
        answer,
        Answer::Retry as i32,
        "a delivery without a database"
    );
    eventually_within("calls failing during the outage", WAIT, || async {
        let failed = load
            .calls()
            .iter()
            .filter(|c| c.started >= down && c.error.is_some())
            .count();
        (failed >= 4).then_some(())
    })
    .await;
    tokio::time::sleep_until((down + OUTAGE).into()).await;
    assert!(
        server.exited().is_none(),
        "the server keeps running without its database:\n{}",
        server.log_tail()
    );

    cluster.start_again().await;
    let up = Instant::now();
    let recovery = eventually_within("a successful call after the database returns", WAIT, || {
        let calls = load.calls();
        async move {
            calls
                .iter()
                .filter(|c| c.error.is_none() && c.ended() >= up)
                .map(|c| c.ended() - up)
                .min()
        }
    })
    .await;
    health
        .health_check(())
        .await
        .expect("healthy again once the database is back");
    let (answer, _) = deliver(&mut callback, &completion).await;
    assert_eq!(
        answer,
        Answer::Success as i32,
        "the same delivery once it is back"
    );
    load.wait_more(20, WAIT).await;
    let report = load.finish().await;
    assert!(server.exited().is_none(), "{}", server.log_tail());

    // Calls that failed, failed fast and as UNAVAILABLE.
    let failures = report.errors();
    assert!(!failures.is_empty());
    for call in &failures {
        assert_eq!(call.error, Some(Code::Unavailable), "{call:?}");
    }
    let slowest = failures.iter().map(|c| c.latency).max().unwrap_or_default();
    assert!(
        slowest <= FAIL_FAST,
        "the slowest failing call took {slowest:?}"
    );

    // Nothing acknowledged is lost, the probe has exactly one next instance, every event
    // committed is published.
    let db = Database::connect(&cluster.url(), 2)
        .await
        .expect("connects");
    let tasks = tasks_by_name(&db).await;
    let created = report.created();
    for (_, name, _) in &created {
        assert!(
            tasks.contains_key(name),
            "acknowledged task {name} is missing"
        );
    }
    let next: Vec<_> = tasks
        .values()
        .filter(|t| t.series_id.to_string() == probe.series && t.occurrence == 2)
        .collect();
    assert_eq!(next.len(), 1, "one next instance of the probe");
    let outbox = eventually_within("the outbox to be published", WAIT, || async {
        let rows = outbox_rows(&db).await;
        rows.iter()
            .all(|r| r.published_us.is_some())
            .then_some(rows)
    })
    .await;
    let ledger = Ledger::of(&double.published());
    let lost = ledger.lost(&outbox);
    assert_eq!(lost, 0);

    Figures::new("database_outage")
        .ms("outage_ms", up - down)
        .add("acked_writes", created.len())
        .add("failed_calls", failures.len())
        .ms("slowest_failure_ms", slowest)
        .ms("retry_answer_ms", retry_latency)
        .ms("recovery_ms", recovery)
        .add("produced", outbox.len())
        .add("published", ledger.ids.len())
        .add("lost", lost)
        .add("duplicates", ledger.duplicates())
        .ms("p99_ok_ms", report.ok_percentile(99.0))
        .print();
}

/// A daily task completed while auto-delivery is off: its `task.completed` event is
/// published but not delivered, for the test to deliver by hand.
async fn completed_probe(server: &ChildServer, double: &DaprDouble) -> (pb::Task, Published) {
    let mut probe = server.user("probe");
    double.set_auto_deliver(false);
    let task = probe
        .create_task(pb::CreateTaskRequest {
            parent: "users/probe".into(),
            task: Some(pb::Task {
                recurrence: Some(pb::Recurrence {
                    frequency: pb::Frequency::Daily as i32,
                    ..Default::default()
                }),
                ..titled("probe")
            }),
            request_id: String::new(),
        })
        .await
        .expect("create")
        .into_inner();
    probe
        .complete_task(pb::CompleteTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("complete");
    let completion = eventually_within("the probe's completion published", WAIT, || async {
        double
            .published()
            .into_iter()
            .find(|p| field(p, "type") == "task.completed" && field(p, "subject") == task.name)
    })
    .await;
    double.set_auto_deliver(true);
    (task, completion)
}

/// Delivers a published event to the callback port as the sidecar would; returns the answer
/// and how long it took.
async fn deliver(client: &mut AppCallbackClient<Channel>, event: &Published) -> (i32, Duration) {
    let data = STANDARD
        .decode(field(event, "data_base64"))
        .expect("base64 data");
    let mut request = Request::new(TopicEventRequest {
        id: field(event, "id"),
        source: field(event, "source"),
        r#type: field(event, "type"),
        spec_version: field(event, "specversion"),
        data_content_type: field(event, "datacontenttype"),
        data,
        topic: event.topic.clone(),
        pubsub_name: event.pubsub_name.clone(),
        ..Default::default()
    });
    let key = event.key.clone().unwrap_or_default();
    request
        .metadata_mut()
        .insert("partitionkey", key.parse().expect("an ASCII key"));
    request
        .metadata_mut()
        .insert("dapr-api-token", "app-token".parse().expect("ASCII"));
    let started = Instant::now();
    let answer = client
        .on_topic_event(request)
        .await
        .expect("answered, not an error")
        .into_inner()
        .status;
    (answer, started.elapsed())
}
