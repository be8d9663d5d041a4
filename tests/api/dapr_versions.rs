//! The Dapr scenario on every supported daprd line (1.16.2+, 1.17, 1.18), for users whose ids
//! hold `@` and `:`: events are published (bulk or Alpha1 bulk), the reminder's job is armed
//! (stable or Alpha1 Jobs API), a completion creates the next occurrence, and a deletion
//! cancels the job.

use std::time::Duration as StdDuration;

use chrono::Duration;
use dapr_double::{DaprDouble, DaprDoubleConfig, DaprVersion};
use taskflow::domain::TaskName;
use taskflow::proto::v1 as pb;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, create, eventually, list_all, ts, wired_to};

async fn double_at(version: DaprVersion) -> DaprDouble {
    let mut config = DaprDoubleConfig::fast(StdDuration::from_millis(5)).with_version(version);
    config.dapr_api_token = Some("dapr-token".into());
    config.app_api_token = Some("app-token".into());
    DaprDouble::start(config)
        .await
        .expect("the sidecar double starts")
}

async fn every_supported_daprd_line_runs_the_whole_scenario(backend: Backend) {
    for version in [DaprVersion::V1_16, DaprVersion::V1_17, DaprVersion::V1_18] {
        for user in ["alice@example.com", "urn:bob:1"] {
            scenario(backend, version, user).await;
        }
    }
}

async fn scenario(backend: Backend, version: DaprVersion, user: &str) {
    let double = double_at(version).await;
    let app = TestApp::spawn_with(backend, wired_to(&double)).await;
    double.set_app_addr(app.callback_addr());
    let mut client = app.user(user);
    let due = taskflow::clock::now() + Duration::hours(30);
    let first = create(
        &mut client,
        user,
        pb::Task {
            title: "Water plants".into(),
            due_time: Some(ts(&due.to_rfc3339())),
            recurrence: Some(pb::Recurrence {
                frequency: pb::Frequency::Daily as i32,
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    let job_of = |task: &pb::Task| {
        format!(
            "reminder-{}",
            TaskName::parse(&task.name).expect("a name").task
        )
    };
    // The sidecar delivers task.created back; the job worker arms the reminder.
    eventually(&format!("{version:?}: {user}'s reminder job"), || async {
        double.job(&job_of(&first))
    })
    .await;

    client
        .complete_task(pb::CompleteTaskRequest {
            name: first.name.clone(),
        })
        .await
        .expect("complete");
    let next = eventually(&format!("{version:?}: {user}'s next occurrence"), || {
        let mut client = client.clone();
        let series = first.series.clone();
        async move {
            list_all(&mut client, user)
                .await
                .into_iter()
                .find(|t| t.series == series && t.occurrence == 2)
        }
    })
    .await;
    eventually(
        &format!("{version:?}: the next occurrence's job"),
        || async { double.job(&job_of(&next)) },
    )
    .await;
    eventually(
        &format!("{version:?}: the completed one's job deleted"),
        || async { double.job(&job_of(&first)).is_none().then_some(()) },
    )
    .await;

    client
        .delete_task(pb::DeleteTaskRequest {
            name: next.name.clone(),
            ..Default::default()
        })
        .await
        .expect("delete");
    eventually(
        &format!("{version:?}: the deleted one's job cancelled"),
        || async { double.job(&job_of(&next)).is_none().then_some(()) },
    )
    .await;
    let dropped: Vec<_> = double
        .deliveries()
        .into_iter()
        .filter(|d| !matches!(d.outcome, dapr_double::Outcome::Acked))
        .collect();
    assert!(
        dropped.is_empty(),
        "{version:?}: every delivery acknowledged: {dropped:?}"
    );
}

both_backends!(every_supported_daprd_line_runs_the_whole_scenario);

/// The sidecar's version is read at start: one older than 1.16.2 (it sends no app token on
/// deliveries) is an error in the log; a supported one is logged as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sidecar_s_version_is_checked_at_start() {
    for (version, expected) in [
        (DaprVersion::V1_16_0, "older than 1.16.2"),
        (DaprVersion::V1_18, "the Dapr sidecar's version"),
    ] {
        let double = double_at(version).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database_url = format!("sqlite://{}/taskflow.db?mode=rwc", dir.path().display());
        let endpoint = double.endpoint();
        let mut binary = crate::helpers::Binary::spawn(
            dir.path(),
            &[],
            &[
                ("TASKFLOW_DATABASE_URL", database_url.as_str()),
                ("TASKFLOW_EVENT_SINK", "dapr"),
                ("DAPR_GRPC_ENDPOINT", endpoint.as_str()),
                ("DAPR_API_TOKEN", "dapr-token"),
            ],
        );
        let daprd = binary.field("daprd").await;
        assert_eq!(daprd, version.runtime_version(), "{version:?}");
        let (_, output) = binary.terminate().await;
        let line = output
            .lines()
            .find(|l| l.contains("\"daprd\""))
            .expect("the version line");
        assert!(line.contains(expected), "{version:?}: {line}");
        if version == DaprVersion::V1_16_0 {
            assert!(line.contains("\"ERROR\""), "{line}");
        }
    }
}
