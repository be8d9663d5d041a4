//! An identity provider's signing keys: fetched from its JWKS (found directly or through OIDC
//! discovery), cached, refreshed in the background as the provider's `Cache-Control` allows,
//! and fetched again when a token names a key not yet known — one fetch at a time, and never
//! more often than the configured minimum interval, whatever the tokens say.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The longest a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest discovery document or key set read.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// When the provider says nothing about caching: refresh this often.
const DEFAULT_REFRESH: Duration = Duration::from_secs(300);
/// The bounds of a provider's `max-age`.
const REFRESH_BOUNDS: (Duration, Duration) = (Duration::from_secs(60), Duration::from_secs(86_400));
/// After a failed background fetch, the next one comes this soon.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// Where the key set is found.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// The JWKS URL itself.
    Jwks(String),
    /// An OIDC issuer: `<issuer>/.well-known/openid-configuration` names the JWKS.
    Discovery(String),
}

/// One usable key.
struct Key {
    key: Arc<DecodingKey>,
    /// The algorithm the key is published for, when the JWK names one.
    alg: Option<Algorithm>,
}

/// The keys of the last good fetch, by `kid` (keys without one under "").
#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Vec<Key>>,
    loaded: bool,
}

/// Why no key verifies a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLookup {
    /// The provider publishes no key with this `kid` (for this algorithm).
    Unknown,
    /// No key set could be fetched yet.
    Unavailable(String),
}

#[derive(Default)]
struct Refresh {
    last_attempt: Option<Instant>,
    /// The JWKS URL found through discovery.
    jwks_url: Option<String>,
    last_error: Option<String>,
}

/// The provider's keys; cheap to share.
pub struct ProviderKeys {
    source: KeySource,
    /// Counts the key sets installed: a token verified under an older one is checked again.
    generation: std::sync::atomic::AtomicU64,
    http: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    refresh: Mutex<Refresh>,
    min_refresh: Duration,
}

impl std::fmt::Debug for ProviderKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeys")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl ProviderKeys {
    pub fn new(source: KeySource, min_refresh: Duration) -> Result<Arc<Self>, String> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Arc::new(Self {
            source,
            generation: std::sync::atomic::AtomicU64::new(0),
            http,
            keys: RwLock::new(Arc::new(KeySet::default())),
            refresh: Mutex::new(Refresh::default()),
            min_refresh,
        }))
    }

    /// Fetches the keys now (at start-up); a failure is logged, and calls that need the keys
    /// answer `UNAVAILABLE` until a later fetch succeeds.
    pub async fn load(self: &Arc<Self>) {
        let mut refresh = self.refresh.lock().await;
        if let Err(err) = self.fetch(&mut refresh).await {
            tracing::warn!(%err, "cannot fetch the identity provider's keys yet; calls with its tokens answer UNAVAILABLE until they come");
        }
    }

    /// Refreshes the keys in the background for as long as anything holds them.
    pub fn refresh_in_background(self: &Arc<Self>) {
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut wait = DEFAULT_REFRESH;
            loop {
                tokio::time::sleep(wait).await;
                let Some(keys) = weak.upgrade() else {
                    return;
                };
                let mut refresh = keys.refresh.lock().await;
                wait = match keys.fetch(&mut refresh).await {
                    Ok(max_age) => max_age,
                    Err(err) => {
                        tracing::warn!(%err, "refreshing the identity provider's keys failed; keeping the ones fetched before");
                        RETRY_AFTER_FAILURE
                    }
                };
            }
        });
    }

    /// The key for a token signed with `alg` under `kid`, fetching the key set again first
    /// when `kid` is unknown (unless a fetch happened less than the minimum interval ago).
    pub async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<DecodingKey>, KeyLookup> {
        if let Some(key) = self.lookup(kid, alg) {
            return Ok(key);
        }
        {
            let mut refresh = self.refresh.lock().await;
            // Another call may have fetched while this one waited for the lock.
            if let Some(key) = self.lookup(kid, alg) {
                return Ok(key);
            }
            let due = refresh
                .last_attempt
                .is_none_or(|at| at.elapsed() >= self.min_refresh);
            if due && let Err(err) = self.fetch(&mut refresh).await {
                tracing::warn!(%err, "fetching the identity provider's keys failed");
            }
            if !self.loaded() {
                return Err(KeyLookup::Unavailable(
                    refresh
                        .last_error
                        .clone()
                        .unwrap_or_else(|| "not fetched yet".to_owned()),
                ));
            }
        }
        self.lookup(kid, alg).ok_or(KeyLookup::Unknown)
    }

    /// Which key set is in use (it changes with every fetch).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn loaded(&self) -> bool {
        self.current().loaded
    }

    fn current(&self) -> Arc<KeySet> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Option<Arc<DecodingKey>> {
        let keys = self.current();
        let fits = |k: &&Key| k.alg.is_none_or(|a| a == alg) && family(alg) == k.key.family();
        match kid {
            Some(kid) => keys
                .by_kid
                .get(kid)?
                .iter()
                .find(fits)
                .map(|k| k.key.clone()),
            // No `kid`: only when exactly one published key fits.
            None => {
                let mut fitting = keys.by_kid.values().flatten().filter(fits);
                let key = fitting.next()?;
                fitting.next().is_none().then(|| key.key.clone())
            }
        }
    }

    /// Fetches the key set (through discovery when so configured) and installs it; returns how
    /// long it may be cached.
    async fn fetch(&self, refresh: &mut Refresh) -> Result<Duration, String> {
        refresh.last_attempt = Some(Instant::now());
        let result = self.fetch_keys(refresh).await;
        match &result {
            Ok((set, _)) => {
                tracing::info!(
                    keys = set.by_kid.values().map(Vec::len).sum::<usize>(),
                    "fetched the identity provider's keys"
                );
                refresh.last_error = None;
            }
            Err(err) => {
                refresh.last_error = Some(err.clone());
                // A failure may mean the JWKS moved: discover it again next time.
                if matches!(self.source, KeySource::Discovery(_)) {
                    refresh.jwks_url = None;
                }
            }
        }
        let (set, max_age) = result?;
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(set);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(max_age)
    }

    async fn fetch_keys(&self, refresh: &mut Refresh) -> Result<(KeySet, Duration), String> {
        let url = match (&self.source, &refresh.jwks_url) {
            (KeySource::Jwks(url), _) => url.clone(),
            (KeySource::Discovery(_), Some(url)) => url.clone(),
            (KeySource::Discovery(issuer), None) => {
                let url = self.discover(issuer).await?;
                refresh.jwks_url = Some(url.clone());
                url
            }
        };
        let (body, max_age) = self.get(&url).await?;
        let set = parse_key_set(&body).map_err(|e| format!("the key set at {url}: {e}"))?;
        Ok((set, max_age))
    }

    async fn discover(&self, issuer: &str) -> Result<String, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let (body, _) = self.get(&url).await?;
        let document: Discovery = serde_json::from_slice(&body)
            .map_err(|e| format!("{url} is not an OpenID provider configuration: {e}"))?;
        if document.issuer != issuer {
            return Err(format!(
                "{url} names the issuer {:?}, not {issuer:?}",
                excerpt(&document.issuer)
            ));
        }
        Ok(document.jwks_uri)
    }

    async fn get(&self, url: &str) -> Result<(Vec<u8>, Duration), String> {
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", response.status()));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age_of)
            .map_or(DEFAULT_REFRESH, |age| {
                age.clamp(REFRESH_BOUNDS.0, REFRESH_BOUNDS.1)
            });
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("GET {url}: larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, max_age))
    }
}

/// The `max-age` of a `Cache-Control` value.
fn max_age_of(value: &str) -> Option<Duration> {
    value.split(',').find_map(|part| {
        let (name, seconds) = part.trim().split_once('=')?;
        name.eq_ignore_ascii_case("max-age")
            .then(|| seconds.trim().parse::<u64>().ok())
            .flatten()
            .map(Duration::from_secs)
    })
}

fn family(alg: Algorithm) -> jsonwebtoken::AlgorithmFamily {
    alg.family()
}

fn excerpt(text: &str) -> String {
    text.chars().take(100).collect()
}

/// The signing keys of a JWKS document. Keys for encryption (`use: enc`), symmetric keys
/// (`kty: oct`: a published key must never verify an HMAC token) and keys of a type this
/// service cannot use are left out; a document with no usable key is refused.
fn parse_key_set(body: &[u8]) -> Result<KeySet, String> {
    #[derive(Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    let document: Document =
        serde_json::from_slice(body).map_err(|e| format!("not a JSON Web Key Set: {e}"))?;
    let mut set = KeySet {
        by_kid: HashMap::new(),
        loaded: true,
    };
    for value in document.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            continue;
        }
        if matches!(
            jwk.algorithm,
            AlgorithmParameters::OctetKey(_) | AlgorithmParameters::Other(_)
        ) {
            continue;
        }
        let alg = match jwk.common.key_algorithm {
            // Keys for other purposes (`RSA-OAEP`, …) name algorithms no token is signed with.
            Some(alg) => match alg.to_string().parse::<Algorithm>() {
                Ok(alg) => Some(alg),
                Err(_) => continue,
            },
            None => None,
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        let kid = jwk.common.key_id.clone().unwrap_or_default();
        set.by_kid.entry(kid).or_default().push(Key {
            key: Arc::new(key),
            alg,
        });
    }
    if set.by_kid.is_empty() {
        return Err("it holds no signing key this service can use".to_owned());
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            super::max_age_of("public, max-age=3600, must-revalidate"),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(super::max_age_of("no-cache"), None);
        assert_eq!(super::max_age_of("max-age=soon"), None);
    }

    #[test]
    fn symmetric_and_encryption_keys_are_left_out() {
        let body = br#"{"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "RSA", "use": "enc", "kid": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "weird", "kid": "odd"}
        ]}"#;
        assert!(super::parse_key_set(body).is_err());
        assert!(super::parse_key_set(b"not json").is_err());
    }
}
