//! What verifying identity-provider tokens costs: CreateTask with RS256 tokens checked against
//! a JWKS (served by a small HTTP responder in this process, which counts its requests) beside
//! CreateTask with HS256 tokens checked with the shared secret, on fresh servers; each kind
//! twice (HS256, RS256, RS256, HS256) and averaged. Once the keys are cached no call fetches
//! them: the requests the JWKS gets during the loads are counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tonic::metadata::MetadataValue;

use crate::Error;
use crate::client::{self, Tasks};
use crate::load::{self, Until};
use crate::profile::Profile;
use crate::rpc::caller_user;
use crate::server::Server;

const KID: &str = "bench-rsa";
const SECRET: &str = "a-shared-secret-for-the-bench-of-at-least-32-bytes";

/// CreateTask per second with each kind of token, and the key fetches during the loads.
pub struct TokenCost {
    pub hs256_tps: f64,
    pub jwks_tps: f64,
    pub fetches_during_loads: u64,
}

/// Answers every request with the key set (HTTP/1.1, one request per connection), counting them.
async fn serve_key_set(listener: TcpListener, body: Arc<String>, requests: Arc<AtomicU64>) {
    while let Ok((mut socket, _)) = listener.accept().await {
        requests.fetch_add(1, Ordering::SeqCst);
        let body = body.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 16 * 1024 {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 cache-control: max-age=3600\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

fn bearer_tokens(callers: usize, alg: Algorithm, key: &EncodingKey) -> Result<Vec<String>, Error> {
    let exp = jsonwebtoken::get_current_timestamp() + 3600;
    (0..callers)
        .map(|caller| {
            let mut header = Header::new(alg);
            if alg != Algorithm::HS256 {
                header.kid = Some(KID.to_owned());
            }
            let claims = serde_json::json!({"sub": caller_user(caller), "exp": exp});
            Ok(format!("Bearer {}", encode(&header, &claims, key)?))
        })
        .collect()
}

async fn create_rate(
    binary: &std::path::Path,
    env: &[(&str, String)],
    tokens: &Arc<Vec<String>>,
    profile: &Profile,
) -> Result<f64, Error> {
    let server = Server::start(binary, env).await?;
    let clients: Vec<Tasks> = client::task_clients(&server.endpoint(), tokens.len()).await?;
    let run = |until| {
        let (clients, tokens) = (clients.clone(), tokens.clone());
        load::closed_loop(tokens.len(), until, move |caller, n| {
            let mut client = clients[caller % clients.len()].clone();
            let token = tokens[caller].clone();
            async move {
                let mut request =
                    tonic::Request::new(client::create_request(&caller_user(caller), n));
                let value = MetadataValue::try_from(token.as_str())
                    .map_err(|_| tonic::Status::internal("a token is ASCII"))?;
                request.metadata_mut().insert("authorization", value);
                client.create_task(request).await?;
                Ok(())
            }
        })
    };
    if !profile.warmup.is_zero() {
        run(Until::Elapsed(profile.warmup)).await?;
    }
    let measured = run(Until::Elapsed(profile.create)).await?;
    if let Some(error) = &measured.first_error {
        return Err(format!("a call failed: {error}").into());
    }
    drop(clients);
    server.stop().await?;
    Ok(measured.per_second())
}

pub async fn cost(
    binary: &std::path::Path,
    url: &str,
    profile: &Profile,
    callers: usize,
) -> Result<TokenCost, Error> {
    let rsa = EncodingKey::from_rsa_pem(include_bytes!("../fixtures/rsa.pem"))?;
    let mut jwk = Jwk::from_encoding_key(&rsa, Algorithm::RS256)?;
    jwk.common.key_id = Some(KID.to_owned());
    let body = Arc::new(serde_json::json!({ "keys": [jwk] }).to_string());
    let requests = Arc::new(AtomicU64::new(0));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let jwks_url = format!("http://{}/jwks", listener.local_addr()?);
    let serving = tokio::spawn(serve_key_set(listener, body, requests.clone()));

    let hs256 = Arc::new(bearer_tokens(
        callers,
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )?);
    let rs256 = Arc::new(bearer_tokens(callers, Algorithm::RS256, &rsa)?);
    // Embedded delivery keeps the sidecar out of the comparison.
    let hs_env = vec![
        ("TASKFLOW_DATABASE_URL", url.to_owned()),
        ("TASKFLOW_JWT_SECRET", SECRET.to_owned()),
    ];
    let jwks_env = vec![
        ("TASKFLOW_DATABASE_URL", url.to_owned()),
        ("TASKFLOW_JWT_JWKS_URL", jwks_url),
    ];
    let mut rates = [0.0; 2];
    let mut fetches_during_loads = 0;
    for kind in [0, 1, 1, 0] {
        rates[kind] += if kind == 0 {
            create_rate(binary, &hs_env, &hs256, profile).await?
        } else {
            // The server fetched the keys at start; whatever comes after is a call's doing.
            let before = requests.load(Ordering::SeqCst);
            let server_env = jwks_env.clone();
            let rate = create_rate(binary, &server_env, &rs256, profile).await?;
            let after = requests.load(Ordering::SeqCst);
            // Each start fetches once.
            fetches_during_loads += after.saturating_sub(before).saturating_sub(1);
            rate
        } / 2.0;
    }
    serving.abort();
    Ok(TokenCost {
        hs256_tps: rates[0],
        jwks_tps: rates[1],
        fetches_during_loads,
    })
}
