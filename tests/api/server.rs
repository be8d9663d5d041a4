//! The server as a whole: health, reflection (v1 and v1alpha), start-up rules, the binary's
//! commands, and shutdown that loses nothing.

use std::{path::Path, time::Duration};

use taskflow::proto::v1 as pb;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::both_backends;
use crate::helpers::{Backend, Binary, TestApp, TestDb, test_config, titled};

async fn health_reports_serving_without_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut health = HealthClient::new(app.channel());
    for service in ["", "taskflow.v1.TaskService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health check")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "nope.Service".into(),
        })
        .await
        .expect_err("unknown service");
    assert_eq!(unknown.code(), tonic::Code::NotFound);
}

async fn reflection_v1_and_v1alpha_list_the_services(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    use tonic_reflection::pb::{v1, v1alpha};
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(app.channel());
    let mut stream = client
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("v1 reflection")
        .into_inner();
    let response = stream.message().await.expect("a reply").expect("a message");
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("unexpected reply {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"taskflow.v1.TaskService".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_owned()),
        "{names:?}"
    );

    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(app.channel());
    let mut stream = client
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("v1alpha reflection")
        .into_inner();
    let response = stream.message().await.expect("a reply").expect("a message");
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("unexpected reply {response:?}");
    };
    assert!(
        list.service
            .iter()
            .any(|s| s.name == "taskflow.v1.TaskService")
    );
}

async fn development_mode_refuses_a_public_address(backend: Backend) {
    let (_db, url) = TestDb::create(backend).await;
    let mut config = test_config(&url);
    config.listen = "0.0.0.0:0".into();
    let err = taskflow::startup::Application::build(&config)
        .await
        .err()
        .expect("refused without a JWT secret");
    let message = err.to_string();
    assert!(
        message.contains("TASKFLOW_JWT_SECRET") && message.contains("0.0.0.0"),
        "{message}"
    );

    config.jwt_secret = Some(taskflow::config::Secret::new("s3cret"));
    let app = taskflow::startup::Application::build(&config)
        .await
        .expect("allowed with a secret");
    assert!(!app.api_addr().ip().is_loopback());
}

async fn stopping_loses_no_acknowledged_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = app.database_url.clone();
    let alice = app.user("alice");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut writers = Vec::new();
    for w in 0..8 {
        let (mut client, tx) = (alice.clone(), tx.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let created = client
                    .create_task(pb::CreateTaskRequest {
                        parent: "users/alice".into(),
                        task: Some(titled(&format!("w{w} {i}"))),
                        request_id: String::new(),
                    })
                    .await;
                match created {
                    Ok(task) => {
                        let _ = tx.send(task.into_inner().name);
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    drop(tx);
    // Let writes flow, then stop the server while calls are in flight.
    let mut acknowledged = Vec::new();
    while acknowledged.len() < 40 {
        acknowledged.push(rx.recv().await.expect("writes flow"));
    }
    let _db = tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("stops in time");
    for writer in writers {
        writer.await.expect("writer ends");
    }
    while let Some(name) = rx.recv().await {
        acknowledged.push(name);
    }

    // Every acknowledged task is in the database.
    let db = taskflow::store::Database::connect(&url, 1)
        .await
        .expect("reopen");
    let tasks = crate::helpers::tasks_on(db);
    for name in &acknowledged {
        let name = taskflow::domain::TaskName::parse(name).expect("a name");
        tasks.get(&name).await.expect("acknowledged task persisted");
    }
}

both_backends!(
    health_reports_serving_without_credentials,
    reflection_v1_and_v1alpha_list_the_services,
    development_mode_refuses_a_public_address,
    stopping_loses_no_acknowledged_write,
);

/// Starts the real binary and returns it with the address it logged.
async fn start_binary(dir: &Path, args: &[&str]) -> (Binary, String) {
    let mut binary = Binary::spawn(dir, args, &[]);
    let addr = binary.field("addr").await;
    (binary, addr)
}

/// A client acting as alice against a server at `addr`.
async fn alice_at(addr: &str) -> crate::helpers::Client {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    pb::task_service_client::TaskServiceClient::with_interceptor(
        channel,
        crate::helpers::Metadata::new(&[("x-user-id", "alice")]),
    )
}

#[tokio::test]
async fn the_binary_serves_by_default_on_sqlite_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (child, addr) = start_binary(dir.path(), &[]).await;
    assert!(
        dir.path().join("taskflow.db").exists(),
        "the default database is ./taskflow.db"
    );

    let mut client = alice_at(&addr).await;
    let task = client
        .create_task(pb::CreateTaskRequest {
            parent: "users/alice".into(),
            task: Some(titled("from the binary")),
            request_id: String::new(),
        })
        .await
        .expect("create")
        .into_inner();
    assert_eq!(task.title, "from the binary");

    let (status, output) = child.terminate().await;
    assert!(status.success(), "{status:?}\n{output}");

    // The data is still there after a restart.
    let (_child, addr) = start_binary(dir.path(), &["serve"]).await;
    let mut client = alice_at(&addr).await;
    let again = client
        .get_task(pb::GetTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(again, task);
}

#[tokio::test]
async fn the_migrate_command_creates_the_schema() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}/m.db?mode=rwc", dir.path().display());
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_taskflow"))
        .args(["migrate", "--database-url", &url])
        .output()
        .await
        .expect("migrate runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let db = taskflow::store::Database::connect(&url, 1)
        .await
        .expect("connect");
    let task = create_probe(db).await;
    assert_eq!(task.fields.title.as_str(), "probe");
}

async fn create_probe(db: taskflow::store::Database) -> taskflow::domain::Task {
    let tasks = crate::helpers::tasks_on(db);
    let user = taskflow::domain::UserId::parse("alice").expect("user");
    let patch = taskflow::domain::TaskPatch {
        title: Some(taskflow::domain::Title::parse("probe").expect("a title")),
        ..Default::default()
    };
    tasks
        .create(&user, patch, None)
        .await
        .expect("the migrated schema takes a task")
}

#[tokio::test]
async fn the_binary_refuses_a_public_address_in_development_mode() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_taskflow"))
        .args(["--listen", "0.0.0.0:0", "--database-url", "sqlite::memory:"])
        .env_remove("TASKFLOW_JWT_SECRET")
        .output()
        .await
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TASKFLOW_JWT_SECRET"), "{stderr}");
}

/// Runs the binary with `args` and `env`, in JWT mode with `APP_API_TOKEN` unset.
async fn run_with_callback(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_taskflow"));
    command
        .args(["--database-url", "sqlite::memory:"])
        .args(args)
        .env("TASKFLOW_JWT_SECRET", crate::helpers::JWT_SECRET)
        .env_remove("APP_API_TOKEN")
        .env_remove("TASKFLOW_ALLOW_UNAUTHENTICATED_CALLBACKS")
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().await.expect("runs")
}

#[tokio::test]
async fn the_binary_refuses_a_public_callback_address_without_an_app_token() {
    let output = run_with_callback(
        &["--listen", "127.0.0.1:0", "--callback-listen", "0.0.0.0:0"],
        &[],
    )
    .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("APP_API_TOKEN"), "{stderr}");
    assert!(
        stderr.contains("TASKFLOW_ALLOW_UNAUTHENTICATED_CALLBACKS"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_public_callback_address_starts_with_a_token_or_the_explicit_opt_out() {
    let mut config = crate::helpers::test_config("sqlite::memory:");
    config.jwt_secret = Some(taskflow::config::Secret::new(crate::helpers::JWT_SECRET));
    config.callback_listen = "0.0.0.0:0".into();
    let refused = taskflow::startup::Application::build(&config).await;
    assert!(
        matches!(
            refused,
            Err(taskflow::startup::StartupError::InsecureCallback(_))
        ),
        "refused without a token"
    );
    config.dapr.app_api_token = Some(taskflow::config::Secret::new("app-token"));
    let with_token = taskflow::startup::Application::build(&config).await;
    assert!(with_token.is_ok(), "starts with APP_API_TOKEN");
    drop(with_token);
    config.dapr.app_api_token = None;
    config.dapr.allow_unauthenticated_callbacks = true;
    assert!(
        taskflow::startup::Application::build(&config).await.is_ok(),
        "starts with the explicit opt-out"
    );
}
