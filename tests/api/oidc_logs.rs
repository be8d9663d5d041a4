//! The operator's side of authentication: `taskflow dev-token` mints a token that a server
//! with the same secret (and issuer and audience) accepts, and refused calls are logged — why,
//! never the token — at most once per kind of failure per minute, while the access log still
//! has a line for every call.

use taskflow::proto::v1::task_service_client::TaskServiceClient;

use super::auth::{now, token};
use super::oidc::list;
use crate::helpers::{Backend, Binary, JWT_SECRET, Metadata, TestApp};

async fn client_at(addr: &str, metadata: &[(&str, &str)]) -> crate::helpers::Client {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    TaskServiceClient::with_interceptor(channel, Metadata::new(metadata))
}

#[tokio::test]
async fn dev_token_mints_a_token_the_server_accepts() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let env = [
        ("TASKFLOW_JWT_SECRET", JWT_SECRET),
        ("TASKFLOW_JWT_ISSUER", "https://auth.example"),
        ("TASKFLOW_JWT_AUDIENCE", "taskflow"),
    ];
    let (status, output) = Binary::spawn(dir.path(), &["dev-token", "--user", "alice"], &env)
        .wait()
        .await;
    assert!(status.success(), "{output}");
    let minted = output
        .lines()
        .find(|l| l.starts_with("eyJ") && l.split('.').count() == 3)
        .unwrap_or_else(|| panic!("a token in:\n{output}"))
        .to_owned();
    let app = TestApp::spawn_jwt(
        Backend::Sqlite,
        Some("https://auth.example"),
        Some("taskflow"),
    )
    .await;
    assert_eq!(
        list(&mut app.bearer(&minted), "alice")
            .await
            .map_err(|s| s.code()),
        Ok(0)
    );
    let bob = list(&mut app.bearer(&minted), "bob")
        .await
        .expect_err("alice's token");
    assert_eq!(bob.code(), tonic::Code::PermissionDenied);

    // Without the secret it says what is missing; a bad user id is refused.
    let (status, output) = Binary::spawn(dir.path(), &["dev-token", "--user", "alice"], &[])
        .wait()
        .await;
    assert!(!status.success());
    assert!(output.contains("TASKFLOW_JWT_SECRET"), "{output}");
    let (status, output) = Binary::spawn(
        dir.path(),
        &["dev-token", "--user", "not a user"],
        &env[..1],
    )
    .wait()
    .await;
    assert!(!status.success());
    assert!(output.contains("--user"), "{output}");
}

#[tokio::test]
async fn refused_calls_are_logged_once_per_kind_without_the_token() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut binary = Binary::spawn(dir.path(), &[], &[("TASKFLOW_JWT_SECRET", JWT_SECRET)]);
    let addr = binary.field("addr").await;
    let forged = token(
        serde_json::json!({"sub": "alice", "exp": now() + 600}),
        "a-secret-that-is-not-the-servers",
    );
    let bearer = format!("Bearer {forged}");
    let mut forger = client_at(&addr, &[("authorization", &bearer)]).await;
    let mut anonymous = client_at(&addr, &[]).await;
    for _ in 0..25 {
        let status = list(&mut forger, "alice").await.expect_err("forged");
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
    }
    for _ in 0..10 {
        let status = list(&mut anonymous, "alice").await.expect_err("anonymous");
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
    }
    let (status, output) = binary.terminate().await;
    assert!(status.success(), "{output}");
    let lines: Vec<serde_json::Value> = output
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let refusals = |reason: &str| {
        lines
            .iter()
            .filter(|l| l["target"] == "taskflow::auth" && l["reason"] == reason)
            .count()
    };
    assert_eq!(refusals("invalid_token"), 1, "{output}");
    assert_eq!(refusals("missing_credentials"), 1, "{output}");
    let signature = forged.rsplit('.').next().expect("a signature");
    assert!(!output.contains(signature), "the token is never logged");
    let access = lines
        .iter()
        .filter(|l| l["target"] == "taskflow::access" && l["code"] == "UNAUTHENTICATED")
        .count();
    assert_eq!(access, 35, "the access log has every call");
}
