//! The server as a grpcurl user meets it: reflection, JSON in and out, readable errors.

use crate::both_backends;
use crate::helpers::{Backend, TestApp, grpcurl, stdout_json};

async fn grpcurl_lists_describes_creates_and_gets(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let addr = app.addr().to_string();

    let listed = grpcurl(&["-plaintext", &addr, "list"]).await;
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let services = String::from_utf8_lossy(&listed.stdout);
    assert!(
        services.lines().any(|l| l == "taskflow.v1.TaskService"),
        "{services}"
    );
    assert!(
        services.lines().any(|l| l == "grpc.health.v1.Health"),
        "{services}"
    );

    let described = grpcurl(&["-plaintext", &addr, "describe", "taskflow.v1.TaskService"]).await;
    let description = String::from_utf8_lossy(&described.stdout);
    assert!(
        description.contains("rpc CreateTask") && description.contains("rpc ListTasks"),
        "{description}"
    );

    let health = stdout_json(
        &grpcurl(&[
            "-plaintext",
            "-d",
            r#"{"service":""}"#,
            &addr,
            "grpc.health.v1.Health/Check",
        ])
        .await,
    );
    assert_eq!(health["status"], "SERVING");

    let created = stdout_json(
        &grpcurl(&[
            "-plaintext",
            "-H",
            "x-user-id: alice",
            "-d",
            r#"{"parent":"users/alice","task":{"title":"Buy milk","priority":"PRIORITY_HIGH","tags":["Home","errands"],"dueTime":"2027-01-02T09:00:00Z","timeZone":"Europe/Berlin"}}"#,
            &addr,
            "taskflow.v1.TaskService/CreateTask",
        ])
        .await,
    );
    let name = created["name"].as_str().expect("a name").to_owned();
    assert!(name.starts_with("users/alice/tasks/"), "{created}");
    assert_eq!(created["title"], "Buy milk");
    assert_eq!(created["priority"], "PRIORITY_HIGH");
    assert_eq!(created["tags"], serde_json::json!(["errands", "home"]));
    assert_eq!(created["dueTime"], "2027-01-02T09:00:00Z");

    let body = serde_json::json!({ "name": name }).to_string();
    let fetched = stdout_json(
        &grpcurl(&[
            "-plaintext",
            "-H",
            "x-user-id: alice",
            "-d",
            &body,
            &addr,
            "taskflow.v1.TaskService/GetTask",
        ])
        .await,
    );
    assert_eq!(fetched, created);

    let listed = stdout_json(
        &grpcurl(&[
            "-plaintext",
            "-H",
            "x-user-id: alice",
            "-d",
            r#"{"parent":"users/alice","filter":"tags:\"home\" AND priority >= HIGH"}"#,
            &addr,
            "taskflow.v1.TaskService/ListTasks",
        ])
        .await,
    );
    assert_eq!(listed["tasks"][0]["name"], created["name"]);

    // Errors come back with their field violations decoded.
    let refused = grpcurl(&[
        "-plaintext",
        "-H",
        "x-user-id: alice",
        "-d",
        r#"{"parent":"users/alice","task":{"title":"   "}}"#,
        &addr,
        "taskflow.v1.TaskService/CreateTask",
    ])
    .await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("InvalidArgument") && stderr.contains("task.title"),
        "{stderr}"
    );
    assert!(
        stderr.contains("google.rpc.BadRequest") && !stderr.contains("not recognized"),
        "{stderr}"
    );
}

both_backends!(grpcurl_lists_describes_creates_and_gets);
