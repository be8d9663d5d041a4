//! TLS on the public API.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct TlsConfig {
    /// PEM file with the API's certificate chain (its own certificate first). With
    /// `TASKFLOW_TLS_KEY` the API serves TLS only (HTTP/2 via ALPN); both files are read again
    /// at the first handshake after either changes. Without them the API is plaintext.
    #[arg(long, env = "TASKFLOW_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM file with the private key of `TASKFLOW_TLS_CERT` (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "TASKFLOW_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}
