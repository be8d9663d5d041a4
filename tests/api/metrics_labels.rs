//! `/metrics` cannot be grown by strangers: calls to paths the server does not serve are
//! counted under one fixed method label, while every served method keeps its own.

use std::collections::BTreeSet;

use tonic::Code;

use crate::both_backends;
use crate::helpers::raw_call;
use crate::helpers::{Backend, TestApp, create, titled};
use crate::helpers::{sample, scrape};

/// The values of the `method` label among the RPC series of a scrape.
fn method_labels(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| line.starts_with("taskflow_rpc_"))
        .filter_map(|line| {
            let (_, rest) = line.split_once("method=\"")?;
            let (method, _) = rest.split_once('"')?;
            Some(method.to_owned())
        })
        .collect()
}

/// Calls counted under `method="other"`, whatever their code.
fn other_calls(text: &str) -> f64 {
    text.lines()
        .filter_map(|line| line.strip_prefix(r#"taskflow_rpc_requests_total{method="other","#))
        .filter_map(|rest| rest.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// Every method the API port serves.
const SERVED: &[&str] = &[
    "taskflow.v1.TaskService/CreateTask",
    "taskflow.v1.TaskService/GetTask",
    "taskflow.v1.TaskService/ListTasks",
    "taskflow.v1.TaskService/UpdateTask",
    "taskflow.v1.TaskService/CompleteTask",
    "taskflow.v1.TaskService/ReopenTask",
    "taskflow.v1.TaskService/DeleteTask",
    "taskflow.v1.TaskService/UndeleteTask",
    "taskflow.v1.ListService/CreateList",
    "taskflow.v1.ListService/GetList",
    "taskflow.v1.ListService/ListLists",
    "taskflow.v1.ListService/UpdateList",
    "taskflow.v1.ListService/DeleteList",
    "taskflow.v1.ActivityService/ListActivities",
    "taskflow.v1.ActivityService/GetInsights",
    "taskflow.v1.NotificationService/ListNotifications",
    "taskflow.v1.NotificationService/MarkNotificationRead",
    "taskflow.v1.NotificationService/WatchNotifications",
    "grpc.health.v1.Health/Check",
    "grpc.health.v1.Health/Watch",
    "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

async fn junk_paths_do_not_grow_the_metrics(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = scrape(&app).await;

    let junk: Vec<String> = (0..200)
        .map(|i| match i % 3 {
            0 => format!("/taskflow.v1.TaskService/Nope{i}"),
            1 => format!("/taskflow.x{i}.Svc/M"),
            _ => format!("/grpc.x{i}/y"),
        })
        .collect();
    for path in &junk {
        // Unauthenticated, as a stranger would call: a made-up method of a served service
        // meets its authentication first.
        let status = raw_call(app.channel(), path, Vec::new(), None)
            .await
            .expect_err("no such method");
        assert!(
            matches!(status.code(), Code::Unimplemented | Code::Unauthenticated),
            "{path}: {status:?}"
        );
    }
    let mut alice = app.user("alice");
    let task = create(&mut alice, "alice", titled("counted")).await;
    alice
        .get_task(taskflow::proto::v1::GetTaskRequest { name: task.name })
        .await
        .expect("get");
    let after = scrape(&app).await;

    for line in after.lines() {
        assert!(
            !(line.contains("Nope") || line.contains("taskflow.x") || line.contains("grpc.x")),
            "a junk path has a series of its own: {line}"
        );
    }
    // The method labels are the served methods and `other`, however many junk calls came
    // (other tests in this process may have called more of the served ones).
    for method in method_labels(&after) {
        assert!(
            method == "other" || SERVED.contains(&method.as_str()),
            "unexpected method label {method:?}"
        );
    }
    assert!(
        other_calls(&after) >= other_calls(&before) + junk.len() as f64,
        "junk calls are counted under method=\"other\":\n{after}"
    );
    let get = r#"taskflow_rpc_requests_total{method="taskflow.v1.TaskService/GetTask",code="OK"}"#;
    assert!(sample(&after, get) >= 1.0, "{after}");
}

both_backends!(junk_paths_do_not_grow_the_metrics);
