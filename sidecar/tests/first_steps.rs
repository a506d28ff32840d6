//! First steps with the CLI (issue 13): the `--dev` banner works when pasted, every TLS failure of
//! the client reads as a sentence naming what failed and what to do, and a self-signed server
//! certificate made by `openssl req -x509` (CA:TRUE) works as `--ca`, as it does for Go clients.
//!
//! The failures come from real TLS servers: the kesrs binary, or a bare rustls server holding a
//! crafted certificate. The client is the real `kesrs` CLI, with the system CAs replaced by an
//! empty directory (or a crafted one), so that the machine's trust store plays no part.

// Helpers are not `#[test]` functions, so clippy.toml's test allowances do not reach them; a panic
// here is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use common::{spawn_and_wait, ClientCert, BIN};

/// A `kesrs` client command with no ambient KES or MinIO settings, and `cas` as its only system CAs.
fn cli(cas: &Path) -> Command {
    let mut command = Command::new(BIN);
    isolate(&mut command, cas);
    command
}

/// Removes ambient KES, MinIO and CA settings from `command`'s environment, and makes `cas` its
/// only system CAs (rustls-native-certs reads `SSL_CERT_DIR`).
fn isolate(command: &mut Command, cas: &Path) {
    for (name, _) in std::env::vars() {
        if name.starts_with("KES_") || name.starts_with("MINIO_") || name.starts_with("SSL_CERT") {
            command.env_remove(name);
        }
    }
    command.env("SSL_CERT_DIR", cas);
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `kesrs key create my-key` against `addr` with an API key and `extra` arguments; returns
/// its stderr and requires it to fail.
#[track_caller]
fn create_fails(cas: &Path, addr: SocketAddr, extra: &[&str]) -> String {
    let api_key = kesrs_core::ApiKey::generate().unwrap();
    let out = cli(cas)
        .args(["key", "create", "my-key", "--server"])
        .arg(addr.to_string())
        .arg("--api-key")
        .arg(api_key.to_secret_string().as_str())
        .args(extra)
        .output()
        .unwrap();
    assert!(!out.status.success(), "succeeded: {}", stderr(&out));
    stderr(&out)
}

#[track_caller]
fn assert_sentence(stderr: &str, sentence: &str) {
    assert!(stderr.contains(sentence), "'{sentence}' not in:\n{stderr}");
    // The sentence replaces rustls's debug output.
    assert!(!stderr.contains("invalid peer certificate"), "{stderr}");
}

/// A certificate for `names` (DNS names or IPs), valid from `from` to `until` days from now,
/// self-signed or issued by `issuer`.
struct Cert {
    der: CertificateDer<'static>,
    pem: String,
    key: KeyPair,
}

impl Cert {
    fn new(names: &[&str], from: i64, until: i64, is_ca: bool) -> Self {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "kesrs test server");
        for name in names {
            params.subject_alt_names.push(match name.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*name).try_into().unwrap()),
            });
        }
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(from);
        params.not_after = now + time::Duration::days(until);
        if is_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        let cert = params.self_signed(&key).unwrap();
        Self {
            der: cert.der().clone(),
            pem: cert.pem(),
            key,
        }
    }

    fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.pem).unwrap();
        path
    }
}

/// A TLS server presenting `cert` that accepts connections until the test ends; with `client_ca`, it
/// requires client certificates issued by that CA (as `tls.auth: on` does).
fn tls_server(cert: &Cert, client_ca: Option<&Cert>) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.der.clone()).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key.serialize_der()));
    let config = Arc::new(
        builder
            .with_single_cert(vec![cert.der.clone()], key)
            .unwrap(),
    );
    serve(move |mut tcp| {
        let mut tls = rustls::ServerConnection::new(config.clone()).unwrap();
        // Handshake and read the request; a failure queues an alert, which is then sent.
        let mut buf = [0u8; 4096];
        let mut stream = rustls::Stream::new(&mut tls, &mut tcp);
        let _ = stream.read(&mut buf);
        let _ = tls.write_tls(&mut tcp);
    })
}

/// A plain-HTTP server, as on a port that is not KES's.
fn http_server() -> SocketAddr {
    serve(|mut tcp| {
        let mut buf = [0u8; 4096];
        let _ = tcp.read(&mut buf);
        let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    })
}

fn serve(handle: impl Fn(std::net::TcpStream) + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            handle(tcp);
        }
    });
    addr
}

#[test]
fn an_untrusted_server_certificate_says_how_to_trust_it() {
    let dir = tempfile::tempdir().unwrap();
    let cert = Cert::new(&["127.0.0.1"], -1, 30, false);
    let addr = tls_server(&cert, None);
    let err = create_fails(dir.path(), addr, &[]);
    assert_sentence(
        &err,
        "the server's certificate is not trusted: no trusted CA issued it. To connect, trust its CA",
    );
    assert!(
        err.contains("--ca FILE") && err.contains("-k/--insecure"),
        "{err}"
    );
}

#[test]
fn a_name_mismatch_names_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let cert = Cert::new(&["kes.example.net"], -1, 30, false);
    let ca = cert.write(dir.path(), "ca.pem");
    let addr = tls_server(&cert, None);
    let err = create_fails(dir.path(), addr, &["--ca", ca.to_str().unwrap()]);
    assert_sentence(
        &err,
        "the server's certificate is not valid for '127.0.0.1' (it names kes.example.net)",
    );
    assert!(err.contains("as a subject alternative name"), "{err}");
}

#[test]
fn expired_and_future_certificates_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let expired = Cert::new(&["127.0.0.1"], -10, -1, false);
    let ca = expired.write(dir.path(), "expired.pem");
    let err = create_fails(
        dir.path(),
        tls_server(&expired, None),
        &["--ca", ca.to_str().unwrap()],
    );
    assert_sentence(&err, "the server's certificate expired at ");
    assert!(err.contains("Renew it on the server"), "{err}");

    let future = Cert::new(&["127.0.0.1"], 2, 30, false);
    let ca = future.write(dir.path(), "future.pem");
    let err = create_fails(
        dir.path(),
        tls_server(&future, None),
        &["--ca", ca.to_str().unwrap()],
    );
    assert_sentence(&err, "the server's certificate is not valid yet (from ");
}

#[test]
fn a_refused_client_certificate_says_which_credentials_to_use() {
    let dir = tempfile::tempdir().unwrap();
    let cert = Cert::new(&["127.0.0.1"], -1, 30, false);
    let ca = cert.write(dir.path(), "ca.pem");
    let client_ca = Cert::new(&[], -1, 30, true);
    let addr = tls_server(&cert, Some(&client_ca));
    let err = create_fails(dir.path(), addr, &["--ca", ca.to_str().unwrap()]);
    assert_sentence(
        &err,
        "the server refused this client's certificate (TLS alert",
    );
    assert!(err.contains("--cert and --key"), "{err}");
}

#[test]
fn a_server_that_speaks_no_tls_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = create_fails(dir.path(), http_server(), &[]);
    assert_sentence(
        &err,
        "the server does not speak TLS (it answered in plain text, maybe HTTP)",
    );
}

/// `openssl req -x509` with its defaults makes `basicConstraints critical, CA:TRUE`; Go trusts such
/// a certificate given as a root when the server presents it, so kesrs must too. Name and expiry are
/// still checked.
#[test]
fn an_openssl_self_signed_ca_certificate_works_as_ca() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "30", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.path().join("server.key"))
        .arg("-out")
        .arg(dir.path().join("server.cert"))
        .output()
        .expect("the openssl CLI is needed to make the certificate as users make it");
    assert!(status.status.success(), "{}", stderr(&status));
    let pem = std::fs::read(dir.path().join("server.cert")).unwrap();
    let der = CertificateDer::from_pem_slice(&pem).unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert!(
        parsed.basic_constraints().unwrap().unwrap().value.ca,
        "openssl's default is CA:TRUE"
    );

    // A kesrs server with that certificate, and an admin API key.
    let api_key = kesrs_core::ApiKey::generate().unwrap();
    let admin = ClientCert::api_key(api_key.to_secret_string().as_str());
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    let config = common::config_text(dir.path(), &admin.identity, "");
    std::fs::write(dir.path().join("config.yml"), config).unwrap();
    let mut server = Command::new(BIN);
    server
        .args(["server", "--addr", "127.0.0.1:0", "--config"])
        .arg(dir.path().join("config.yml"));
    let (mut child, addr, _, _) = spawn_and_wait(server);

    let cas = tempfile::tempdir().unwrap();
    let run = |server: &str| {
        cli(cas.path())
            .args(["key", "create", "my-key", "--server", server, "--api-key"])
            .arg(api_key.to_secret_string().as_str())
            .arg("--ca")
            .arg(dir.path().join("server.cert"))
            .output()
            .unwrap()
    };
    let out = run(&addr.to_string());
    // The name is still checked: the certificate does not name localhost.
    let mismatch = run(&format!("localhost:{}", addr.port()));
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!mismatch.status.success());
    assert_sentence(
        &stderr(&mismatch),
        "the server's certificate is not valid for 'localhost'",
    );
}

/// Trusting a CA certificate as the server's own does not trust it past its expiry.
#[test]
fn an_expired_ca_certificate_given_as_ca_is_still_expired() {
    let dir = tempfile::tempdir().unwrap();
    let cert = Cert::new(&["127.0.0.1"], -10, -1, true);
    let ca = cert.write(dir.path(), "ca.pem");
    let err = create_fails(
        dir.path(),
        tls_server(&cert, None),
        &["--ca", ca.to_str().unwrap()],
    );
    assert_sentence(&err, "the server's certificate expired at ");
    // Not given as the CA, it is a CA certificate presented as the server's own.
    let other = tempfile::tempdir().unwrap();
    let fresh = Cert::new(&["127.0.0.1"], -1, 30, true);
    let err = create_fails(other.path(), tls_server(&fresh, None), &[]);
    assert_sentence(
        &err,
        "the server presents a CA certificate as its own, and it is not trusted as is",
    );
}

/// The banner's `export` lines, pasted into a shell, make `kesrs key create` work. With a
/// `localhost` CA of another key among the system CAs (Debian's ssl-cert-snakeoil.pem), the dev
/// certificate used to fail with `UnsupportedSignatureAlgorithmForPublicKeyContext`; without the CA
/// line the failure now reads "not trusted".
#[test]
fn the_dev_banner_works_when_pasted() {
    let cas = tempfile::tempdir().unwrap();
    let rsa = KeyPair::from_pem_and_sign_algo(
        include_str!("fixtures/rsa-client.key"),
        &rcgen::PKCS_RSA_SHA256,
    )
    .unwrap();
    let mut snakeoil = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    snakeoil
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let snakeoil = snakeoil.self_signed(&rsa).unwrap();
    std::fs::write(cas.path().join("ssl-cert-snakeoil.pem"), snakeoil.pem()).unwrap();

    let mut command = Command::new(BIN);
    command.args(["server", "--dev", "--addr", "127.0.0.1:0"]);
    let (mut child, _addr, stdout, _stderr) = spawn_and_wait(command);
    let deadline = Instant::now() + Duration::from_secs(10);
    let exports = loop {
        let lines = stdout.lock().unwrap().clone();
        let exports: Vec<String> = lines
            .into_iter()
            .filter(|l| l.starts_with("export "))
            .collect();
        if exports.len() >= 3 {
            break exports;
        }
        assert!(Instant::now() < deadline, "no banner: {exports:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let ca_file = exports
        .iter()
        .find_map(|l| l.strip_prefix("export MINIO_KMS_KES_CAPATH="))
        .map(PathBuf::from)
        .expect("no CA line");
    // The lines as a shell runs them, then the command.
    let script = |exports: &[String], command: &str| {
        let mut sh = Command::new("sh");
        isolate(&mut sh, cas.path());
        sh.env("KESRS", BIN)
            .arg("-c")
            .arg(format!(
                "{}\nexec \"$KESRS\" {command}\n",
                exports.join("\n")
            ))
            .output()
            .unwrap()
    };
    let created = script(&exports, "key create my-key");
    let listed = script(&exports, "key ls");
    let without_ca: Vec<String> = exports
        .iter()
        .filter(|l| !l.contains("CAPATH"))
        .cloned()
        .collect();
    let untrusted = script(&without_ca, "key info my-key");
    assert!(ca_file.is_file(), "{}", ca_file.display());
    common::signal(&child, "TERM");
    let _ = child.wait();

    assert!(created.status.success(), "{}", stderr(&created));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("my-key"));
    assert!(!untrusted.status.success());
    assert_sentence(
        &stderr(&untrusted),
        "the server's certificate is not trusted: no trusted CA issued it",
    );
    assert!(
        !ca_file.exists(),
        "the certificate file outlived the server"
    );
}
