//! Authentication: JWTs (what is accepted, and every way a token is refused), development
//! mode's `x-user-id`, and a valid token's reach (only its subject's resources).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;
use taskflow::proto::v1 as pb;
use tonic::Code;

use super::cross_user::{assert_notification_calls_denied, assert_task_calls_denied};
use crate::both_backends;
use crate::helpers::{Backend, Client, JWT_SECRET, Metadata, TestApp, create, titled};
use crate::helpers::{ago, record};

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(crate) fn token(claims: serde_json::Value, secret: &str) -> String {
    token_with(Algorithm::HS256, claims, secret)
}

fn token_with(algorithm: Algorithm, claims: serde_json::Value, secret: &str) -> String {
    encode(
        &Header::new(algorithm),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("a token")
}

/// A token whose header claims `alg` but which is signed with HS256 and `secret` (the
/// algorithm-confusion attack).
fn token_claiming(alg: &str, claims: &serde_json::Value, secret: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(secret.as_bytes()),
        Algorithm::HS256,
    )
    .expect("a signature");
    format!("{signing_input}.{signature}")
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
        (
            "not valid before ten minutes from now",
            with(
                json!({"sub": "alice", "exp": now() + 3600, "nbf": now() + 600, "iss": "https://issuer.example", "aud": "taskflow"}),
            ),
        ),
        (
            "HS384 with the right secret",
            app.bearer(&token_with(Algorithm::HS384, good.clone(), JWT_SECRET)),
        ),
        (
            "HS512 with the right secret",
            app.bearer(&token_with(Algorithm::HS512, good.clone(), JWT_SECRET)),
        ),
        (
            "an RS256 header over an HS256 signature",
            app.bearer(&token_claiming("RS256", &good, JWT_SECRET)),
        ),
        ("alg none", app.bearer(&alg_none)),
        (
            "empty bearer",
            app.client_with(&[("authorization", "Bearer")]),
        ),
        (
            "blank bearer",
            app.client_with(&[("authorization", "Bearer    ")]),
        ),
        (
            "empty authorization",
            app.client_with(&[("authorization", "")]),
        ),
        (
            "a bare token without Bearer",
            app.client_with(&[("authorization", &token(good.clone(), JWT_SECRET))]),
        ),
        (
            "token under x-authorization",
            app.client_with(&[(
                "x-authorization",
                &format!("Bearer {}", token(good.clone(), JWT_SECRET)),
            )]),
        ),
        (
            "token under authentication",
            app.client_with(&[(
                "authentication",
                &format!("Bearer {}", token(good.clone(), JWT_SECRET)),
            )]),
        ),
        (
            "token under x-user-id",
            app.client_with(&[("x-user-id", &token(good.clone(), JWT_SECRET))]),
        ),
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

async fn tokens_are_valid_from_nbf_with_a_small_leeway(backend: Backend) {
    let app = TestApp::spawn_jwt(backend, None, None).await;
    let leeway = i64::try_from(taskflow::config::DEFAULT_JWT_LEEWAY_SECONDS).expect("small");
    assert!(
        (1..=60).contains(&leeway),
        "the leeway stays small: {leeway} s"
    );
    let with_nbf = |nbf: i64| {
        app.bearer(&token(
            json!({"sub": "alice", "exp": now() + 3600, "nbf": nbf}),
            JWT_SECRET,
        ))
    };
    for (why, nbf) in [
        ("valid since a minute", now() - 60),
        ("valid from now", now()),
        ("valid within the leeway", now() + leeway / 2),
    ] {
        list_status(&mut with_nbf(nbf), "users/alice")
            .await
            .unwrap_or_else(|e| panic!("{why}: {e:?}"));
    }
    for (why, nbf) in [
        ("valid just beyond the leeway", now() + leeway + 10),
        ("valid from tomorrow", now() + 86_400),
    ] {
        let status = list_status(&mut with_nbf(nbf), "users/alice")
            .await
            .expect_err(why);
        assert_eq!(status.code(), Code::Unauthenticated, "{why}: {status:?}");
    }
}

/// `TASKFLOW_JWT_LEEWAY_SECONDS` widens (or narrows) the skew tolerated on `exp` and `nbf`, for
/// a token seen the first time and for one verified before.
async fn the_clock_leeway_is_configurable(backend: Backend) {
    let spawn = |leeway: u64| {
        TestApp::spawn_with(backend, move |c| {
            c.jwt_secret = Some(taskflow::config::Secret::new(JWT_SECRET));
            c.identity.jwt_leeway_seconds = leeway;
        })
    };
    let expired_a_minute_ago = token(json!({"sub": "alice", "exp": now() - 60}), JWT_SECRET);
    let valid_in_a_minute = token(
        json!({"sub": "alice", "exp": now() + 3600, "nbf": now() + 60}),
        JWT_SECRET,
    );
    let expired_just_now = token(json!({"sub": "alice", "exp": now() - 5}), JWT_SECRET);

    let default = TestApp::spawn_jwt(backend, None, None).await;
    for (why, bearer) in [
        ("expired a minute ago", &expired_a_minute_ago),
        ("valid in a minute", &valid_in_a_minute),
    ] {
        let status = list_status(&mut default.bearer(bearer), "users/alice")
            .await
            .expect_err(why);
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "default leeway, {why}"
        );
    }

    let wide = spawn(120).await;
    for (why, bearer) in [
        ("expired a minute ago", &expired_a_minute_ago),
        ("valid in a minute", &valid_in_a_minute),
    ] {
        for attempt in ["first", "remembered"] {
            list_status(&mut wide.bearer(bearer), "users/alice")
                .await
                .unwrap_or_else(|e| panic!("leeway 120, {why}, {attempt}: {e:?}"));
        }
    }

    // Without leeway a token expired five seconds ago is refused; the default takes it.
    list_status(&mut default.bearer(&expired_just_now), "users/alice")
        .await
        .expect("within the default leeway");
    let strict = spawn(0).await;
    let status = list_status(&mut strict.bearer(&expired_just_now), "users/alice")
        .await
        .expect_err("no leeway");
    assert_eq!(status.code(), Code::Unauthenticated);
}

async fn a_valid_token_reaches_only_its_subjects_resources(backend: Backend) {
    let app = TestApp::spawn_jwt(backend, None, None).await;
    let bearer_of = |user: &str| token(json!({"sub": user, "exp": now() + 600}), JWT_SECRET);
    let mut bob = app.bearer(&bearer_of("bob"));
    let task = create(&mut bob, "bob", titled("Bob's secret")).await;
    let (db, hub) = (app.db().await, app.hub());
    let notification = record(&db, &hub, "bob", "Bob's reminder", ago(5)).await;

    let eve_token = bearer_of("eve");
    // Naming bob in x-user-id next to eve's token changes nothing: the token decides.
    let mut eve = app.client_with(&[
        ("authorization", &format!("Bearer {eve_token}")),
        ("x-user-id", "bob"),
    ]);
    assert_task_calls_denied(&mut eve, &task).await;
    let mut eve_notifications =
        taskflow::proto::v1::notification_service_client::NotificationServiceClient::with_interceptor(
            app.channel(),
            Metadata::new(&[("authorization", &format!("Bearer {eve_token}"))]),
        );
    assert_notification_calls_denied(&mut eve_notifications, &notification.name()).await;

    let untouched = bob
        .get_task(pb::GetTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("bob reads his task")
        .into_inner();
    assert_eq!(untouched, task);
}

both_backends!(
    valid_jwt_names_the_caller,
    bad_tokens_are_unauthenticated,
    development_mode_needs_a_valid_user_header,
    tokens_are_valid_from_nbf_with_a_small_leeway,
    the_clock_leeway_is_configurable,
    a_valid_token_reaches_only_its_subjects_resources,
);
