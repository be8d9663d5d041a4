//! App health checks: while the app's probes fail, daprd hands it no new message and no job;
//! a delivery whose retries run out meanwhile is delivered again later, never dead-lettered.

use std::time::Duration;

use dapr::dapr::proto::runtime::v1::topic_event_response::TopicEventResponseStatus::Retry;
use dapr::dapr::proto::runtime::v1::{Job, ScheduleJobRequest};
use dapr_double::{
    AppHealthProbe, DaprDouble, DaprDoubleConfig, DoubleError, Outcome, RetryPolicy,
};

use crate::app::{Answer, AppOptions, FakeApp, WAIT, subscription};
use crate::{client, fast, publish_request, start, task_event};

fn probed(retry: RetryPolicy) -> DaprDoubleConfig {
    DaprDoubleConfig {
        app_health: Some(AppHealthProbe {
            interval: Duration::from_millis(20),
            timeout: Duration::from_millis(20),
            threshold: 3,
        }),
        delivery_retry: retry,
        ..fast()
    }
}

fn options() -> AppOptions {
    AppOptions {
        subscriptions: vec![subscription("tasks", Some("tasks-dlq"))],
        ..Default::default()
    }
}

async fn publish(double: &DaprDouble, id: &str) {
    client(double)
        .await
        .publish_event(publish_request(
            "tasks",
            "application/cloudevents+json",
            task_event(id, b"\x0a\x01x"),
            &[("partitionKey", "alice")],
        ))
        .await
        .expect("publish");
}

/// Waits until the app has been probed `more` more times (each probe is a call it records).
async fn probed_again(app: &FakeApp, more: usize) {
    let seen = app.state.health_checks.len();
    app.state.health_checks.wait_for(seen + more).await;
}

#[tokio::test]
async fn nothing_is_delivered_or_triggered_while_unhealthy_and_all_of_it_after() {
    let (double, app) = start(probed(RetryPolicy::none()), options()).await;
    assert!(!double.app_healthy(), "unhealthy until a probe succeeds");
    assert!(double.wait_for_health(true, WAIT).await);
    publish(&double, "before").await;
    double
        .wait_for_deliveries(1, WAIT)
        .await
        .expect("delivered while healthy");
    assert_eq!(app.state.list_calls.len(), 1);

    app.set_healthy(false);
    assert!(double.wait_for_health(false, WAIT).await);
    publish(&double, "during").await;
    client(&double)
        .await
        .schedule_job(ScheduleJobRequest {
            job: Some(Job {
                name: "due-now".to_owned(),
                due_time: Some("0s".to_owned()),
                ..Default::default()
            }),
            overwrite: false,
        })
        .await
        .expect("schedule");
    // Five more probes (all failing): long enough for both to have gone out if they could.
    probed_again(&app, 5).await;
    assert_eq!(
        app.state.topic_events.len(),
        1,
        "no delivery while unhealthy"
    );
    assert_eq!(app.state.job_events.len(), 0, "no job while unhealthy");
    assert!(double.job_triggers().is_empty());

    app.set_healthy(true);
    assert!(double.wait_for_health(true, WAIT).await);
    let deliveries = double
        .wait_for_deliveries(2, WAIT)
        .await
        .expect("delivered once healthy");
    assert_eq!(deliveries[1].event_id, "during");
    assert_eq!(deliveries[1].outcome, Outcome::Acked);
    let triggers = double
        .wait_for_job_triggers(1, WAIT)
        .await
        .expect("the staged job fires once healthy");
    assert_eq!(triggers[0].attempts, 1, "staging is not a failed attempt");
    assert_eq!(
        app.state.list_calls.len(),
        2,
        "healthy again, daprd subscribes anew"
    );
    let changes: Vec<bool> = double.health_changes().iter().map(|c| c.healthy).collect();
    assert_eq!(changes, [true, false, true]);
}

#[tokio::test]
async fn retries_that_run_out_while_unhealthy_are_redelivered_not_dead_lettered() {
    // A second of retries: the app turns unhealthy (three probes of 20 ms) long before.
    let (double, app) = start(
        probed(RetryPolicy::constant(100, Duration::from_millis(10))),
        options(),
    )
    .await;
    assert!(double.wait_for_health(true, WAIT).await);
    app.answer([Answer::Status(Retry); 101]);
    app.set_healthy(false);
    publish(&double, "evt-1").await;

    let first = double
        .wait_for_deliveries(1, WAIT)
        .await
        .expect("the retries end")
        .remove(0);
    assert_eq!(first.outcome, Outcome::Interrupted, "{first:?}");
    let went_unhealthy = double.health_changes()[1];
    assert!(!went_unhealthy.healthy);
    assert!(
        went_unhealthy.at < first.finished_at,
        "the app was unhealthy before the retries ran out"
    );
    assert!(
        double.published_on("tasks-dlq").is_empty(),
        "not dead-lettered"
    );

    app.set_healthy(true);
    let all = double
        .wait_for_deliveries(2, WAIT)
        .await
        .expect("delivered again once healthy");
    assert_eq!(all[1].event_id, "evt-1");
    assert_eq!(all[1].outcome, Outcome::Acked);
    assert_eq!(all[1].redelivery, 1);
    assert!(double.published_on("tasks-dlq").is_empty());
}

#[tokio::test]
async fn a_probe_timeout_longer_than_the_interval_is_refused_as_daprd_does() {
    let config = DaprDoubleConfig {
        app_health: Some(AppHealthProbe {
            interval: Duration::from_millis(200),
            timeout: Duration::from_millis(500),
            threshold: 3,
        }),
        ..fast()
    };
    assert!(matches!(
        DaprDouble::start(config).await,
        Err(DoubleError::Config(_))
    ));
}
