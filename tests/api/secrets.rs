//! Secrets never leak: not in the `Debug` output of the configuration, not in `--help`, not
//! in the logs of the real binary at its most verbose (serving, refusing bad credentials,
//! losing its database, failing to start), and not in errors returned to clients.

use std::time::Duration;

use clap::Parser;
use serde_json::json;
use taskflow::config::{Cli, Command};
use taskflow::proto::v1::{self as pb, task_service_client::TaskServiceClient};
use tonic::Code;

use super::auth::{now, token};
use crate::helpers::{Backend, Binary, Metadata, TestDb, eventually, postgres_admin, water_plants};

const JWT_SECRET: &str = "jwtSecretQ7v2Lk9Xw3Rt5Zp8Hn4Bm6";
const DAPR_TOKEN: &str = "daprTokenA1s2D3f4G5h6J7k8";
const APP_TOKEN: &str = "appTokenZ9x8C7v6B5n4M3q2";
const DB_PASSWORD: &str = "dbPasswordP4ss9Wq7Er2Ty";
const SSL_PASSWORD: &str = "sslPasswordK3y8Uj5Ik1";
const PAGE_TOKEN_KEY: &str = "pageTokenKeyN8b4Vc6Xz2Lk7Jh3Gf5Ds9Aq1";

const SECRETS: [&str; 6] = [
    JWT_SECRET,
    DAPR_TOKEN,
    APP_TOKEN,
    DB_PASSWORD,
    SSL_PASSWORD,
    PAGE_TOKEN_KEY,
];

#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{what} shows the secret {secret:?}:\n{text}"
        );
    }
}

/// `url` with `password` in its credentials (trust authentication ignores it).
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (credentials, host) = rest.split_once('@').expect("credentials in the URL");
    let user = credentials.split(':').next().unwrap_or(credentials);
    format!("{scheme}://{user}:{password}@{host}")
}

#[test]
fn the_parsed_configuration_never_shows_a_secret() {
    let url = format!(
        "postgres://app:{DB_PASSWORD}@db.internal:5432/tasks?sslmode=require&sslpassword={SSL_PASSWORD}"
    );
    let cli = Cli::try_parse_from([
        "taskflow",
        "--database-url",
        &url,
        "--jwt-secret",
        JWT_SECRET,
        "--dapr-api-token",
        DAPR_TOKEN,
        "--app-api-token",
        APP_TOKEN,
        "--page-token-key",
        PAGE_TOKEN_KEY,
    ])
    .expect("parses");
    for text in [format!("{cli:?}"), format!("{cli:#?}")] {
        assert_no_secret("the configuration", &text);
        // Redacted, not dropped: the rest of the URL is there to debug with.
        assert!(
            text.contains(
                "postgres://app:***@db.internal:5432/tasks?sslmode=require&sslpassword=***"
            ),
            "{text}"
        );
        assert!(text.contains("Secret(***)"), "{text}");
    }
    let (command, log) = cli.into_command();
    let Command::Serve(serve) = &command else {
        panic!("expected serve");
    };
    assert_eq!(
        serve.database.database_url.expose(),
        url,
        "the value is kept"
    );
    for text in [
        format!("{command:?}"),
        format!("{command:#?}"),
        format!("{log:?}"),
        format!("{:?}", serve.dapr),
        format!("{:#?}", serve.database),
    ] {
        assert_no_secret("the serve command", &text);
    }
    let secret = serve.jwt_secret.as_ref().expect("a JWT secret");
    let auth = taskflow::auth::Authenticator::jwt(secret, None, None);
    assert_no_secret("the authenticator", &format!("{auth:#?}"));

    let migrate =
        Cli::try_parse_from(["taskflow", "migrate", "--database-url", &url]).expect("parses");
    assert_no_secret("the migrate command", &format!("{migrate:#?}"));
}

/// The environment of a binary that holds every secret.
fn secret_env<'a>(database_url: &'a str, sidecar: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("TASKFLOW_DATABASE_URL", database_url),
        ("TASKFLOW_JWT_SECRET", JWT_SECRET),
        ("DAPR_API_TOKEN", DAPR_TOKEN),
        ("APP_API_TOKEN", APP_TOKEN),
        ("TASKFLOW_PAGE_TOKEN_KEY", PAGE_TOKEN_KEY),
        ("DAPR_GRPC_ENDPOINT", sidecar),
        ("TASKFLOW_EVENT_SINK", "dapr"),
        ("TASKFLOW_LOG", "trace"),
        ("TASKFLOW_RELAY_POLL_MS", "100"),
    ]
}

async fn client_at(addr: &str, metadata: &[(&str, &str)]) -> crate::helpers::Client {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    TaskServiceClient::with_interceptor(channel, Metadata::new(metadata))
}

async fn list(client: &mut crate::helpers::Client) -> Result<Vec<pb::Task>, tonic::Status> {
    client
        .list_tasks(pb::ListTasksRequest {
            parent: "users/alice".into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().tasks)
}

/// Serves real work through the sidecar double, refuses bad credentials, loses its database:
/// at trace level, nothing it writes holds a secret, nor does anything a client receives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_never_logs_a_secret_even_at_trace_level() {
    let (_db, url) = TestDb::create(Backend::Postgres).await;
    let TestDb::Postgres { name, .. } = &_db else {
        panic!("a PostgreSQL database");
    };
    let database_url = format!(
        "{}?sslpassword={SSL_PASSWORD}",
        with_password(&url, DB_PASSWORD)
    );
    let mut config = dapr_double::DaprDoubleConfig::fast(Duration::from_millis(5));
    config.dapr_api_token = Some(DAPR_TOKEN.into());
    config.app_api_token = Some(APP_TOKEN.into());
    let double = dapr_double::DaprDouble::start(config)
        .await
        .expect("the sidecar double starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sidecar = double.endpoint();
    let mut binary = Binary::spawn(dir.path(), &[], &secret_env(&database_url, &sidecar));
    let addr = binary.field("addr").await;
    let callback_addr = binary.field("callback_addr").await;
    double.set_app_addr(callback_addr.parse().expect("an address"));

    // Real work: the completion goes out through the sidecar (with DAPR_API_TOKEN) and comes
    // back as a delivery (with APP_API_TOKEN) that creates the next occurrence.
    let good = token(json!({"sub": "alice", "exp": now() + 600}), JWT_SECRET);
    let mut alice = client_at(&addr, &[("authorization", &format!("Bearer {good}"))]).await;
    let task = alice
        .create_task(pb::CreateTaskRequest {
            parent: "users/alice".into(),
            task: Some(water_plants(pb::Frequency::Daily)),
            request_id: String::new(),
        })
        .await
        .expect("create")
        .into_inner();
    alice
        .complete_task(pb::CompleteTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("complete");
    eventually("the next occurrence", || {
        let mut alice = alice.clone();
        async move { (list(&mut alice).await.ok()?.len() == 2).then_some(()) }
    })
    .await;

    // Refusals: a token signed with another secret, a token under the wrong key, callbacks
    // without or with a wrong app token.
    let forged = token(
        json!({"sub": "alice", "exp": now() + 600}),
        "not-the-secret",
    );
    for metadata in [
        [("authorization", format!("Bearer {forged}"))],
        [("x-authorization", format!("Bearer {good}"))],
    ] {
        let pairs: Vec<(&str, &str)> = metadata.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let status = list(&mut client_at(&addr, &pairs).await)
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        assert_no_secret("a refusal", &format!("{status:?}"));
    }
    let mut callback = crate::helpers::callback_client_at(&callback_addr).await;
    for app_token in [None, Some("wrong-app-token")] {
        let event = crate::helpers::delivery(
            "tasks",
            "forged",
            "task.completed",
            "application/protobuf",
            vec![1],
        );
        let status = crate::helpers::deliver(&mut callback, event, Some("alice"), app_token)
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        assert_no_secret("a callback refusal", &format!("{status:?}"));
    }

    // The database goes away: the client learns that, and nothing about where it was.
    let admin = postgres_admin().await;
    use sea_orm::ConnectionTrait;
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .await
        .expect("cuts the server off");
    let status = eventually("a call to fail", || {
        let mut alice = alice.clone();
        async move { list(&mut alice).await.err() }
    })
    .await;
    let shown = format!("{status:?}");
    assert_no_secret("an error returned to a client", &shown);
    for fragment in ["postgres://", name.as_str(), "5432"] {
        assert!(!shown.contains(fragment), "{fragment} in {shown}");
    }
    admin
        .execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
        .await
        .expect("lets the server back in");
    let _ = admin.close().await;

    let (_, output) = binary.terminate().await;
    assert!(
        output.contains("\"level\":\"DEBUG\"") || output.contains("\"level\":\"TRACE\""),
        "the binary logged at its most verbose:\n{output}"
    );
    assert!(output.contains("created the next occurrence"), "{output}");
    assert_no_secret("the binary's output", &output);
    assert!(!output.contains(&good), "the bearer token was logged");
    assert!(
        !double.published().is_empty(),
        "events went through the sidecar"
    );
}

/// A binary that cannot reach its database says so without the password, as does `--help`
/// with every secret in the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_to_start_and_help_show_no_secret() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Nothing listens on port 1: the connection is refused.
    let unreachable =
        format!("postgres://taskflow:{DB_PASSWORD}@127.0.0.1:1/tasks?sslpassword={SSL_PASSWORD}");
    let env = secret_env(&unreachable, "http://127.0.0.1:9");
    for args in [&[][..], &["migrate"][..]] {
        let (status, output) = Binary::spawn(dir.path(), args, &env).wait().await;
        assert!(!status.success(), "{args:?} fails without a database");
        assert!(output.contains("database"), "{args:?} says why:\n{output}");
        assert_no_secret("a failed start", &output);
    }
    let (status, output) = Binary::spawn(dir.path(), &["--help"], &env).wait().await;
    assert!(status.success(), "{output}");
    assert!(output.contains("TASKFLOW_DATABASE_URL"), "{output}");
    assert_no_secret("--help", &output);
}
