//! TLS on the API port: the configured certificate is served (to grpcurl and to a rustls
//! client that trusts only its CA), plaintext is refused, a renewed pair is used from the next
//! handshake on, a half-written renewal (certificate changed, key not yet) keeps the previous
//! pair, and unusable files stop the start-up with the path in the message. The database
//! connection itself can be TLS too (`sslmode=require`).

use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{
    ClientConfig, RootCertStore,
    crypto::ring,
    pki_types::{CertificateDer, ServerName, pem::PemObject},
};

use crate::both_backends;
use crate::helpers::{Backend, Binary, TestDb, grpcurl, stdout_json};

/// A certificate authority of the test's own.
struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Authority {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("a CA certificate");
        Self {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `localhost` and 127.0.0.1: (certificate PEM, key PEM, DER).
    fn server(&self) -> (String, String, Vec<u8>) {
        let key = KeyPair::generate().expect("a server key");
        let params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("server parameters");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("a server certificate");
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }
}

fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents).expect("writes the file");
}

/// The certificate the server presents to a client that trusts `ca_pem` only, or the
/// handshake's error.
async fn presented(addr: &str, ca_pem: &str) -> Result<Vec<u8>, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("a CA certificate")).expect("a root");
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(addr).await.expect("connects");
    let name = ServerName::try_from("localhost").expect("a server name");
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (_, session) = tls.get_ref();
    assert_eq!(
        session.alpn_protocol(),
        Some(&b"h2"[..]),
        "gRPC needs HTTP/2"
    );
    Ok(session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .expect("a certificate")
        .to_vec())
}

async fn create_over_tls(addr: &str, ca: &Path, title: &str) -> std::process::Output {
    let body = format!(r#"{{"parent": "users/alice", "task": {{"title": "{title}"}}}}"#);
    grpcurl(&[
        "-cacert",
        ca.to_str().expect("a UTF-8 path"),
        "-servername",
        "localhost",
        "-H",
        "x-user-id: alice",
        "-d",
        &body,
        addr,
        "taskflow.v1.TaskService/CreateTask",
    ])
    .await
}

async fn the_api_serves_tls_and_reads_a_renewed_certificate(backend: Backend) {
    let (_db, database_url) = TestDb::create(backend).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let (first_ca, second_ca) = (Authority::new("first CA"), Authority::new("second CA"));
    let (first_ca_path, second_ca_path) = (
        dir.path().join("first-ca.pem"),
        dir.path().join("second-ca.pem"),
    );
    write(&first_ca_path, &first_ca.pem);
    write(&second_ca_path, &second_ca.pem);
    let (cert, key, first_der) = first_ca.server();
    write(&cert_path, &cert);
    write(&key_path, &key);

    let env = [
        ("TASKFLOW_DATABASE_URL", database_url.as_str()),
        ("TASKFLOW_TLS_CERT", cert_path.to_str().expect("UTF-8")),
        ("TASKFLOW_TLS_KEY", key_path.to_str().expect("UTF-8")),
    ];
    let mut binary = Binary::spawn(dir.path(), &[], &env);
    let addr = binary.field("addr").await;

    // grpcurl trusting the first CA works; plaintext and a stranger's CA do not.
    let created = stdout_json(&create_over_tls(&addr, &first_ca_path, "Over TLS").await);
    assert_eq!(created["title"], "Over TLS");
    let plaintext = grpcurl(&[
        "-plaintext",
        "-H",
        "x-user-id: alice",
        "-d",
        r#"{"parent": "users/alice"}"#,
        &addr,
        "taskflow.v1.TaskService/ListTasks",
    ])
    .await;
    assert!(!plaintext.status.success(), "plaintext must be refused");
    assert!(
        !String::from_utf8_lossy(&plaintext.stderr).contains("InvalidArgument"),
        "refused before any call reaches a service"
    );
    let stranger = create_over_tls(&addr, &second_ca_path, "Not trusted").await;
    assert!(!stranger.status.success());
    assert!(
        String::from_utf8_lossy(&stranger.stderr).contains("certificate"),
        "{}",
        String::from_utf8_lossy(&stranger.stderr)
    );
    assert_eq!(presented(&addr, &first_ca.pem).await, Ok(first_der.clone()));

    // A renewal from another CA, written one file at a time: while only the certificate is
    // new, the pair does not match and the previous one stays in use.
    let (cert, key, second_der) = second_ca.server();
    write(&cert_path, &cert);
    assert_eq!(presented(&addr, &first_ca.pem).await, Ok(first_der));
    assert!(
        binary
            .output()
            .contains("cannot be used; still serving the previous one"),
        "the refused pair is reported:\n{}",
        binary.output()
    );
    write(&key_path, &key);
    assert_eq!(presented(&addr, &second_ca.pem).await, Ok(second_der));
    assert!(presented(&addr, &first_ca.pem).await.is_err());
    let created = stdout_json(&create_over_tls(&addr, &second_ca_path, "Renewed").await);
    assert_eq!(created["title"], "Renewed");
    assert!(binary.output().contains("read the changed TLS certificate"));

    let (status, _) = binary.terminate().await;
    assert!(status.success());
}

async fn unusable_certificate_files_stop_the_start_naming_them(backend: Backend) {
    let (_db, database_url) = TestDb::create(backend).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ca = Authority::new("CA");
    let (cert, key, _) = ca.server();
    let (_, other_key, _) = ca.server();
    let good_cert = dir.path().join("good.crt");
    let good_key = dir.path().join("good.key");
    let wrong_key = dir.path().join("wrong.key");
    let not_pem = dir.path().join("not-pem.crt");
    let missing = dir.path().join("missing.crt");
    write(&good_cert, &cert);
    write(&good_key, &key);
    write(&wrong_key, &other_key);
    write(&not_pem, "just some text\n");
    let path = |p: &Path| p.to_str().expect("UTF-8").to_owned();
    let cases = [
        (path(&missing), path(&good_key), "cannot read"),
        (path(&not_pem), path(&good_key), "holds no PEM certificate"),
        (
            path(&good_cert),
            path(&good_cert),
            "holds no PEM private key",
        ),
        (
            path(&good_cert),
            path(&wrong_key),
            "does not belong to the certificate",
        ),
    ];
    for (cert, key, expected) in cases {
        let env = [
            ("TASKFLOW_DATABASE_URL", database_url.as_str()),
            ("TASKFLOW_TLS_CERT", cert.as_str()),
            ("TASKFLOW_TLS_KEY", key.as_str()),
        ];
        let (status, output) = Binary::spawn(dir.path(), &[], &env).wait().await;
        assert!(!status.success(), "{cert} + {key} must not start");
        assert!(output.contains(expected), "{expected}:\n{output}");
        let named = if expected.contains("key") && !expected.contains("belong") {
            &key
        } else {
            &cert
        };
        assert!(output.contains(named.as_str()), "names {named}:\n{output}");
    }
    // One file without the other is a configuration error, before anything starts.
    let env = [
        ("TASKFLOW_DATABASE_URL", database_url.as_str()),
        ("TASKFLOW_TLS_CERT", good_cert.to_str().expect("UTF-8")),
    ];
    let (status, output) = Binary::spawn(dir.path(), &[], &env).wait().await;
    assert!(!status.success());
    assert!(output.contains("--tls-key"), "{output}");
}

both_backends!(
    the_api_serves_tls_and_reads_a_renewed_certificate,
    unusable_certificate_files_stop_the_start_naming_them,
);

/// `sslmode=require` in the database URL: every connection the server opens is TLS.
#[tokio::test]
async fn postgres_connections_use_tls_with_sslmode_require() {
    let (_db, database_url) = TestDb::create(Backend::Postgres).await;
    let admin = crate::helpers::postgres_admin().await;
    use sea_orm::{ConnectionTrait, Statement};
    let ssl = admin
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SHOW ssl",
        ))
        .await
        .expect("SHOW ssl")
        .expect("a row")
        .try_get_by_index::<String>(0)
        .expect("text");
    assert_eq!(ssl, "on", "this test needs PostgreSQL with ssl = on");
    let name = crate::helpers::database_name(&database_url);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("{database_url}?sslmode=require");
    let mut binary = Binary::spawn(dir.path(), &[], &[("TASKFLOW_DATABASE_URL", &url)]);
    let addr = binary.field("addr").await;
    let listed = grpcurl(&[
        "-plaintext",
        "-H",
        "x-user-id: alice",
        "-d",
        r#"{"parent": "users/alice"}"#,
        &addr,
        "taskflow.v1.TaskService/ListTasks",
    ])
    .await;
    stdout_json(&listed);
    let counts = admin
        .query_one_raw(Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = $1",
            [name.into()],
        ))
        .await
        .expect("pg_stat_ssl")
        .expect("a row");
    let with_tls: i64 = counts.try_get_by_index(0).expect("a count");
    let without: i64 = counts.try_get_by_index(1).expect("a count");
    assert!(with_tls > 0, "the server's connections are TLS");
    assert_eq!(without, 0, "no plaintext connection");
    let (status, _) = binary.terminate().await;
    assert!(status.success());
}
