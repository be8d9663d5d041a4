//! Authentication (JWT, development mode) and isolation between users.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{EncodingKey, Header, encode};
use prost_types::FieldMask;
use serde_json::json;
use taskflow::proto::v1 as pb;
use tonic::Code;

use crate::both_backends;
use crate::helpers::{Backend, Client, JWT_SECRET, TestApp, create, titled};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn token(claims: serde_json::Value, secret: &str) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("a token")
}

async fn list_status(client: &mut Client, parent: &str) -> Result<usize, tonic::Status> {
    client
        .list_tasks(pb::ListTasksRequest {
            parent: parent.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().tasks.len())
}

async fn valid_jwt_names_the_caller(backend: Backend) {
    let app = TestApp::spawn_jwt(backend, None, None).await;
    let mut alice = app.bearer(&token(
        json!({"sub": "alice", "exp": now() + 600}),
        JWT_SECRET,
    ));
    let task = create(&mut alice, "alice", titled("signed")).await;
    assert!(task.name.starts_with("users/alice/"));
    let status = list_status(&mut alice, "users/bob")
        .await
        .expect_err("not bob");
    assert_eq!(status.code(), Code::PermissionDenied);

    // With a secret configured, x-user-id is not trusted.
    let mut spoof = app.client_with(&[("x-user-id", "alice")]);
    let status = list_status(&mut spoof, "users/alice")
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
}

async fn bad_tokens_are_unauthenticated(backend: Backend) {
    let app = TestApp::spawn_jwt(backend, Some("https://issuer.example"), Some("taskflow")).await;
    let good = json!({"sub": "alice", "exp": now() + 600, "iss": "https://issuer.example", "aud": "taskflow"});
    let mut ok = app.bearer(&token(good.clone(), JWT_SECRET));
    assert_eq!(
        list_status(&mut ok, "users/alice")
            .await
            .expect("a good token works"),
        0
    );

    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    let with = |claims: serde_json::Value| app.bearer(&token(claims, JWT_SECRET));
    let cases: Vec<(&str, Client)> = vec![
        (
            "expired",
            with(
                json!({"sub": "alice", "exp": now() - 3600, "iss": "https://issuer.example", "aud": "taskflow"}),
            ),
        ),
        (
            "no exp",
            with(json!({"sub": "alice", "iss": "https://issuer.example", "aud": "taskflow"})),
        ),
        (
            "wrong issuer",
            with(
                json!({"sub": "alice", "exp": now() + 600, "iss": "https://evil.example", "aud": "taskflow"}),
            ),
        ),
        (
            "wrong audience",
            with(
                json!({"sub": "alice", "exp": now() + 600, "iss": "https://issuer.example", "aud": "other"}),
            ),
        ),
        (
            "bad subject",
            with(
                json!({"sub": "alice smith", "exp": now() + 600, "iss": "https://issuer.example", "aud": "taskflow"}),
            ),
        ),
        (
            "wrong secret",
            app.bearer(&token(good.clone(), "another-secret-entirely")),
        ),
        ("alg none", app.bearer(&alg_none)),
        ("garbage", app.bearer("not.a.jwt")),
        (
            "no bearer",
            app.client_with(&[("authorization", "Basic YWxpY2U6cHc=")]),
        ),
        ("no header", app.client_with(&[])),
    ];
    for (why, mut client) in cases {
        let status = list_status(&mut client, "users/alice")
            .await
            .expect_err(why);
        assert_eq!(status.code(), Code::Unauthenticated, "{why}: {status:?}");
    }
}

async fn development_mode_needs_a_valid_user_header(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for metadata in [
        &[][..],
        &[("x-user-id", "")],
        &[("x-user-id", "a/b")],
        &[("x-user-id", "has space")],
    ] {
        let mut client = app.client_with(metadata);
        let status = list_status(&mut client, "users/alice")
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::Unauthenticated, "{metadata:?}");
    }
}

async fn no_call_reaches_another_users_task(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut bob = app.user("bob");
    let task = create(&mut bob, "bob", titled("Bob's secret")).await;
    let mut eve = app.user("eve");
    let name = task.name.clone();
    let denied = [
        eve.get_task(pb::GetTaskRequest { name: name.clone() })
            .await
            .map(|_| ()),
        eve.complete_task(pb::CompleteTaskRequest { name: name.clone() })
            .await
            .map(|_| ()),
        eve.reopen_task(pb::ReopenTaskRequest { name: name.clone() })
            .await
            .map(|_| ()),
        eve.delete_task(pb::DeleteTaskRequest {
            name: name.clone(),
            etag: String::new(),
        })
        .await
        .map(|_| ()),
        eve.update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                name: name.clone(),
                title: "pwned".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["title".into()],
            }),
        })
        .await
        .map(|_| ()),
        eve.create_task(pb::CreateTaskRequest {
            parent: "users/bob".into(),
            task: Some(titled("x")),
            request_id: String::new(),
        })
        .await
        .map(|_| ()),
        list_status(&mut eve, "users/bob").await.map(|_| ()),
    ];
    for result in denied {
        let status = result.expect_err("denied");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    // A task id of bob's under eve's own name is simply not found: no query crosses users.
    let disguised = name.replace("users/bob/", "users/eve/");
    let status = eve
        .get_task(pb::GetTaskRequest {
            name: disguised.clone(),
        })
        .await
        .expect_err("not eve's");
    assert_eq!(status.code(), Code::NotFound);
    let status = eve
        .delete_task(pb::DeleteTaskRequest {
            name: disguised,
            etag: String::new(),
        })
        .await
        .expect_err("not eve's");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(
        list_status(&mut eve, "users/eve")
            .await
            .expect("eve's own list"),
        0
    );

    let untouched = bob
        .get_task(pb::GetTaskRequest { name })
        .await
        .expect("bob's")
        .into_inner();
    assert_eq!(untouched, task);
}

both_backends!(
    valid_jwt_names_the_caller,
    bad_tokens_are_unauthenticated,
    development_mode_needs_a_valid_user_header,
    no_call_reaches_another_users_task,
);
