//! TLS on the API port (rustls): the certificate and key come from PEM files and are read
//! again when they change; only HTTP/2 is offered, as gRPC needs.

mod accept;
mod certificate;

use std::{path::PathBuf, sync::Arc};

use tokio_rustls::{
    TlsAcceptor,
    rustls::{ServerConfig, crypto::ring},
};

pub use accept::incoming;
pub use certificate::{CertificateFiles, TlsError};

/// An acceptor that presents the pair in `cert` and `key` (PEM), read now and again at the
/// first handshake after either file changes.
pub fn acceptor(cert: PathBuf, key: PathBuf) -> Result<TlsAcceptor, TlsError> {
    let provider = Arc::new(ring::default_provider());
    let files = CertificateFiles::open(cert, key, provider.clone())?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| TlsError::Settings(err.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(files));
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
