//! Identity providers: tokens signed with RS256, ES256 and EdDSA are verified against the keys
//! a JWKS endpoint publishes (directly, or found through OIDC discovery), a rotated key is
//! picked up with one fetch, and the provider being down answers UNAVAILABLE until it is back.
//! The endpoint is a small HTTP server in the test, serving keys it can change.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use taskflow::proto::v1 as pb;
use tonic::Code;

use super::auth::now;
use crate::both_backends;
use crate::helpers::{Backend, Client, JWT_SECRET, TestApp};

/// A key pair of the fixtures, and the `kid` and algorithm it is published under.
#[derive(Clone)]
pub(crate) struct Signer {
    pub kid: &'static str,
    pub alg: Algorithm,
    key: EncodingKey,
}

impl Signer {
    fn new(kid: &'static str, alg: Algorithm, pem: &[u8]) -> Self {
        let key = match alg {
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
            _ => EncodingKey::from_rsa_pem(pem),
        }
        .expect("a fixture key");
        Self { kid, alg, key }
    }

    pub fn rsa_a() -> Self {
        Self::new(
            "rsa-a",
            Algorithm::RS256,
            include_bytes!("fixtures/jwks/rsa-a.pem"),
        )
    }

    pub fn rsa_b() -> Self {
        Self::new(
            "rsa-b",
            Algorithm::RS256,
            include_bytes!("fixtures/jwks/rsa-b.pem"),
        )
    }

    pub fn ec() -> Self {
        Self::new(
            "ec-1",
            Algorithm::ES256,
            include_bytes!("fixtures/jwks/ec-p256.pem"),
        )
    }

    pub fn ed() -> Self {
        Self::new(
            "ed-1",
            Algorithm::EdDSA,
            include_bytes!("fixtures/jwks/ed25519.pem"),
        )
    }

    /// The public half, as a JWKS entry.
    pub fn jwk(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.alg).expect("a JWK");
        jwk.common.key_id = Some(self.kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        serde_json::to_value(jwk).expect("JSON")
    }

    /// A token with `claims`, signed with this key under its `kid`.
    pub fn token(&self, claims: &Value) -> String {
        self.token_as(self.alg, Some(self.kid), claims)
    }

    /// A token signed with this key but naming `alg` and `kid` as given.
    pub fn token_as(&self, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        encode(&header, claims, &self.key).expect("a token")
    }
}

/// What the test's provider serves.
#[derive(Default)]
pub(crate) struct Served {
    keys: Mutex<Vec<Value>>,
    down: AtomicBool,
    /// The issuer its discovery document names (the provider's own URL unless set).
    issuer: Mutex<Option<String>>,
    pub jwks_fetches: AtomicUsize,
    base: Mutex<String>,
}

/// An identity provider on loopback: `/.well-known/openid-configuration` and `/jwks`.
pub(crate) struct Provider {
    pub base: String,
    pub served: Arc<Served>,
}

async fn jwks(State(served): State<Arc<Served>>) -> Response {
    served.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if served.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = served.keys.lock().expect("keys").clone();
    (
        [("cache-control", "public, max-age=3600")],
        axum::Json(json!({ "keys": keys })),
    )
        .into_response()
}

async fn discovery(State(served): State<Arc<Served>>) -> Response {
    if served.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let base = served.base.lock().expect("base").clone();
    let issuer = served
        .issuer
        .lock()
        .expect("issuer")
        .clone()
        .unwrap_or_else(|| base.clone());
    axum::Json(json!({ "issuer": issuer, "jwks_uri": format!("{base}/jwks") })).into_response()
}

impl Provider {
    pub async fn start(keys: &[&Signer]) -> Self {
        let served = Arc::new(Served::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        *served.base.lock().expect("base") = base.clone();
        let router = axum::Router::new()
            .route("/jwks", axum::routing::get(jwks))
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(discovery),
            )
            .with_state(served.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let provider = Self { base, served };
        provider.publish(keys);
        provider
    }

    /// Publishes exactly `keys` from now on.
    pub fn publish(&self, keys: &[&Signer]) {
        *self.served.keys.lock().expect("keys") = keys.iter().map(|k| k.jwk()).collect();
    }

    pub fn set_down(&self, down: bool) {
        self.served.down.store(down, Ordering::SeqCst);
    }

    pub fn fetches(&self) -> usize {
        self.served.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.base)
    }
}

pub(crate) fn claims(user: &str) -> Value {
    json!({"sub": user, "exp": now() + 600})
}

pub(crate) async fn list(client: &mut Client, user: &str) -> Result<usize, tonic::Status> {
    client
        .list_tasks(pb::ListTasksRequest {
            parent: format!("users/{user}"),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().tasks.len())
}

/// A server verifying tokens with `provider`'s JWKS; refreshes on unknown keys at once.
pub(crate) async fn spawn_with_jwks(backend: Backend, provider: &Provider) -> TestApp {
    let url = provider.jwks_url();
    TestApp::spawn_with(backend, move |c| {
        c.identity.jwt_jwks_url = Some(url);
        c.identity.jwks_min_refresh_ms = 0;
    })
    .await
}

async fn tokens_of_each_algorithm_verify_against_the_published_keys(backend: Backend) {
    let (rsa, ec, ed) = (Signer::rsa_a(), Signer::ec(), Signer::ed());
    let provider = Provider::start(&[&rsa, &ec, &ed]).await;
    let app = spawn_with_jwks(backend, &provider).await;
    for signer in [&rsa, &ec, &ed] {
        let token = signer.token(&claims("alice"));
        assert_eq!(
            list(&mut app.bearer(&token), "alice")
                .await
                .map_err(|s| s.code()),
            Ok(0),
            "{:?}",
            signer.alg
        );
        // The subject is the caller: another user's tasks stay out of reach.
        let denied = list(&mut app.bearer(&token), "bob")
            .await
            .expect_err("not bob's");
        assert_eq!(denied.code(), Code::PermissionDenied);
    }
    // One fetch at start served every call.
    assert_eq!(provider.fetches(), 1);
    // A key is used only for the algorithm it is published for: the RSA key does not
    // verify a PS256 token, however well signed (nor after looking again).
    let pss = rsa.token_as(Algorithm::PS256, Some(rsa.kid), &claims("alice"));
    let refused = list(&mut app.bearer(&pss), "alice")
        .await
        .expect_err("PS256 under an RS256 key");
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(provider.fetches(), 2);
}

async fn a_rotated_key_is_fetched_once_and_a_retired_one_refused(backend: Backend) {
    let (old, new) = (Signer::rsa_a(), Signer::rsa_b());
    let provider = Provider::start(&[&old]).await;
    let app = spawn_with_jwks(backend, &provider).await;
    let (old_token, new_token) = (old.token(&claims("alice")), new.token(&claims("alice")));
    assert!(list(&mut app.bearer(&old_token), "alice").await.is_ok());
    // Before the provider publishes it, the new key is unknown even after a fetch.
    let unknown = list(&mut app.bearer(&new_token), "alice")
        .await
        .expect_err("not published yet");
    assert_eq!(unknown.code(), Code::Unauthenticated);
    assert!(unknown.message().contains("rsa-b"), "{}", unknown.message());
    assert!(!unknown.message().contains(&new_token));
    assert_eq!(provider.fetches(), 2);

    provider.publish(&[&new]);
    assert!(list(&mut app.bearer(&new_token), "alice").await.is_ok());
    assert_eq!(provider.fetches(), 3, "one fetch for the new kid");
    assert!(list(&mut app.bearer(&new_token), "alice").await.is_ok());
    assert_eq!(provider.fetches(), 3, "then it is cached");
    // The old key left the set with that fetch.
    let retired = list(&mut app.bearer(&old_token), "alice")
        .await
        .expect_err("retired key");
    assert_eq!(retired.code(), Code::Unauthenticated);
}

async fn tokens_naming_unknown_keys_cannot_make_the_server_hammer_the_provider(backend: Backend) {
    let rsa = Signer::rsa_a();
    let provider = Provider::start(&[&rsa]).await;
    let url = provider.jwks_url();
    let app = TestApp::spawn_with(backend, move |c| {
        c.identity.jwt_jwks_url = Some(url);
        c.identity.jwks_min_refresh_ms = 600_000;
    })
    .await;
    let mut calls = Vec::new();
    for i in 0..40 {
        let token = rsa.token_as(
            Algorithm::RS256,
            Some(&format!("forged-{i}")),
            &claims("alice"),
        );
        let mut client = app.bearer(&token);
        calls.push(tokio::spawn(
            async move { list(&mut client, "alice").await },
        ));
    }
    for call in calls {
        let status = call.await.expect("joins").expect_err("unknown key");
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    assert_eq!(
        provider.fetches(),
        1,
        "only the start-up fetch: the last one is more recent than the minimum interval"
    );
    // Good tokens go on working, without a fetch each.
    for _ in 0..5 {
        assert!(
            list(&mut app.bearer(&rsa.token(&claims("alice"))), "alice")
                .await
                .is_ok()
        );
    }
    assert_eq!(provider.fetches(), 1);
}

async fn a_provider_down_at_start_answers_unavailable_until_it_is_back(backend: Backend) {
    let rsa = Signer::rsa_a();
    let provider = Provider::start(&[&rsa]).await;
    provider.set_down(true);
    let app = spawn_with_jwks(backend, &provider).await;
    let token = rsa.token(&claims("alice"));
    let status = list(&mut app.bearer(&token), "alice")
        .await
        .expect_err("no keys yet");
    assert_eq!(status.code(), Code::Unavailable, "{}", status.message());
    provider.set_down(false);
    assert_eq!(
        list(&mut app.bearer(&token), "alice")
            .await
            .map_err(|s| s.code()),
        Ok(0)
    );
    // Once fetched, keys outlive a later outage of the provider.
    provider.set_down(true);
    assert_eq!(
        list(&mut app.bearer(&token), "alice")
            .await
            .map_err(|s| s.code()),
        Ok(0)
    );
}

async fn discovery_finds_the_keys_and_the_issuer_is_required(backend: Backend) {
    let ec = Signer::ec();
    let provider = Provider::start(&[&ec]).await;
    let issuer = provider.base.clone();
    let configured = issuer.clone();
    let app = TestApp::spawn_with(backend, move |c| {
        c.identity.oidc_issuer_url = Some(configured);
        c.jwt_audience = Some("taskflow".into());
    })
    .await;
    let good = json!({"sub": "alice", "exp": now() + 600, "iss": issuer, "aud": "taskflow"});
    assert_eq!(
        list(&mut app.bearer(&ec.token(&good)), "alice")
            .await
            .map_err(|s| s.code()),
        Ok(0)
    );
    for (what, claims) in [
        (
            "no issuer",
            json!({"sub": "alice", "exp": now() + 600, "aud": "taskflow"}),
        ),
        (
            "another issuer",
            json!({"sub": "alice", "exp": now() + 600, "iss": "https://evil.example", "aud": "taskflow"}),
        ),
        (
            "another audience",
            json!({"sub": "alice", "exp": now() + 600, "iss": issuer, "aud": "other"}),
        ),
        (
            "expired beyond the leeway",
            json!({"sub": "alice", "exp": now() - 120, "iss": issuer, "aud": "taskflow"}),
        ),
        (
            "not valid yet",
            json!({"sub": "alice", "exp": now() + 600, "nbf": now() + 120, "iss": issuer, "aud": "taskflow"}),
        ),
    ] {
        let status = list(&mut app.bearer(&ec.token(&claims)), "alice")
            .await
            .expect_err(what);
        assert_eq!(status.code(), Code::Unauthenticated, "{what}");
    }
    // Within the 30 s of clock leeway.
    let late = json!({"sub": "alice", "exp": now() - 10, "iss": issuer, "aud": "taskflow"});
    assert!(
        list(&mut app.bearer(&ec.token(&late)), "alice")
            .await
            .is_ok()
    );
}

async fn a_discovery_document_naming_another_issuer_is_not_trusted(backend: Backend) {
    let ec = Signer::ec();
    let provider = Provider::start(&[&ec]).await;
    *provider.served.issuer.lock().expect("issuer") = Some("https://impostor.example".into());
    let issuer = provider.base.clone();
    let configured = issuer.clone();
    let app = TestApp::spawn_with(backend, move |c| {
        c.identity.oidc_issuer_url = Some(configured);
    })
    .await;
    let token = ec.token(&json!({"sub": "alice", "exp": now() + 600, "iss": issuer}));
    let status = list(&mut app.bearer(&token), "alice")
        .await
        .expect_err("keys of an untrusted document");
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(provider.fetches(), 0, "its JWKS was never fetched");
}

async fn shared_secret_and_provider_tokens_work_side_by_side(backend: Backend) {
    let rsa = Signer::rsa_a();
    let provider = Provider::start(&[&rsa]).await;
    let url = provider.jwks_url();
    let app = TestApp::spawn_with(backend, move |c| {
        c.identity.jwt_jwks_url = Some(url);
        c.jwt_secret = Some(taskflow::config::Secret::new(JWT_SECRET));
    })
    .await;
    let hs = super::auth::token(claims("alice"), JWT_SECRET);
    assert!(list(&mut app.bearer(&hs), "alice").await.is_ok());
    assert!(
        list(&mut app.bearer(&rsa.token(&claims("alice"))), "alice")
            .await
            .is_ok()
    );
    // Algorithm confusion: an HS256 token whose secret is the provider's public key.
    let public = serde_json::to_string(&rsa.jwk()).expect("JSON");
    let confused = super::auth::token(claims("alice"), &public);
    let status = list(&mut app.bearer(&confused), "alice")
        .await
        .expect_err("HMAC with a public key");
    assert_eq!(status.code(), Code::Unauthenticated);
    // Other HMAC algorithms and `none` are refused outright.
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let token = encode(
            &Header::new(alg),
            &claims("alice"),
            &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
        )
        .expect("a token");
        assert_eq!(
            list(&mut app.bearer(&token), "alice")
                .await
                .map_err(|s| s.code()),
            Err(Code::Unauthenticated)
        );
    }
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims("alice").to_string())
    );
    assert_eq!(
        list(&mut app.bearer(&none), "alice")
            .await
            .map_err(|s| s.code()),
        Err(Code::Unauthenticated)
    );
}

both_backends!(
    tokens_of_each_algorithm_verify_against_the_published_keys,
    a_rotated_key_is_fetched_once_and_a_retired_one_refused,
    tokens_naming_unknown_keys_cannot_make_the_server_hammer_the_provider,
    a_provider_down_at_start_answers_unavailable_until_it_is_back,
    discovery_finds_the_keys_and_the_issuer_is_required,
    a_discovery_document_naming_another_issuer_is_not_trusted,
    shared_secret_and_provider_tokens_work_side_by_side,
);
