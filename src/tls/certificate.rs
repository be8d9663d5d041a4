//! The API's certificate and private key, read from PEM files and read again at the first
//! handshake after either file changes (a renewed certificate, a Kubernetes secret whose
//! mount was swapped). A pair that cannot be read, or whose key does not belong to its
//! certificate (one file rewritten, the other not yet), is refused and the last good pair
//! stays in use.

use std::{
    fmt, fs,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
    time::SystemTime,
};

use tokio_rustls::rustls::{
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};

/// Why a certificate or key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: PathBuf },
    #[error("{path} is not valid PEM: {reason}")]
    Pem { path: PathBuf, reason: String },
    #[error("the private key in {key} cannot sign ({reason})")]
    UnusableKey { key: PathBuf, reason: String },
    #[error("the private key in {key} does not belong to the certificate in {cert}")]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("TLS settings: {0}")]
    Settings(String),
}

/// What identifies one version of a file without reading it: a rewrite or a swapped link
/// changes at least one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
    device: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode: meta.ino(),
        device: meta.dev(),
    })
}

/// The certificate chain and key in `cert` and `key`, checked to belong together.
fn load(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let read = |path: &Path| {
        fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let pem_error = |path: &Path| {
        let path = path.to_owned();
        move |err: tokio_rustls::rustls::pki_types::pem::Error| TlsError::Pem {
            path,
            reason: err.to_string(),
        }
    };
    let chain = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error(cert))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_owned(),
        });
    }
    let private = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|err| match err {
        tokio_rustls::rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
            path: key.to_owned(),
        },
        other => pem_error(key)(other),
    })?;
    let signing = provider
        .key_provider
        .load_private_key(private)
        .map_err(|err| TlsError::UnusableKey {
            key: key.to_owned(),
            reason: err.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|_| TlsError::Mismatch {
        cert: cert.to_owned(),
        key: key.to_owned(),
    })?;
    Ok(certified)
}

/// The pair in use, and what the files looked like when it was read.
struct Current {
    stamps: (Option<Stamp>, Option<Stamp>),
    key: Arc<CertifiedKey>,
    /// The stamps of a version that was refused, so it is reported once, not per handshake.
    refused: Option<(Option<Stamp>, Option<Stamp>)>,
}

/// Serves the pair in two PEM files, reading them again when they change.
pub struct CertificateFiles {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: Mutex<Current>,
}

impl fmt::Debug for CertificateFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateFiles")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl CertificateFiles {
    /// Reads the pair now; an error when it cannot be used.
    pub fn open(
        cert: PathBuf,
        key: PathBuf,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, TlsError> {
        let stamps = (stamp(&cert), stamp(&key));
        let loaded = load(&cert, &key, &provider)?;
        Ok(Self {
            cert,
            key,
            provider,
            current: Mutex::new(Current {
                stamps,
                key: Arc::new(loaded),
                refused: None,
            }),
        })
    }

    /// The pair to present: the one in use, read again first if a file changed since.
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        let stamps = (stamp(&self.cert), stamp(&self.key));
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if stamps == current.stamps || Some(stamps) == current.refused {
            return current.key.clone();
        }
        match load(&self.cert, &self.key, &self.provider) {
            Ok(loaded) => {
                tracing::info!(cert = %self.cert.display(), "read the changed TLS certificate");
                current.key = Arc::new(loaded);
                current.stamps = stamps;
                current.refused = None;
            }
            Err(err) => {
                tracing::warn!(%err, "the changed TLS certificate or key cannot be used; still serving the previous one");
                current.refused = Some(stamps);
            }
        }
        current.key.clone()
    }
}

impl ResolvesServerCert for CertificateFiles {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.certified_key())
    }
}
