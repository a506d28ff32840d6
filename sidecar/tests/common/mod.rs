//! Harness for the black-box tests: runs the real `kesrs` binary over real mTLS.
//!
//! Certificates are made here with rcgen (an RSA key comes from `tests/fixtures`, since ring cannot
//! generate RSA keys). The server runs with a temporary fs key store and is killed when the test's
//! [`Server`] is dropped.

// Each test binary uses a different part of the harness, and it is public to them.
#![allow(dead_code, unreachable_pub)]
// Helpers are not `#[test]` functions, so clippy.toml's test allowances do not reach them; a panic
// here is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, SanType};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use kesrs_core::tls::DangerAnyServerCertificate;

pub const BIN: &str = env!("CARGO_BIN_EXE_kesrs");

/// A client certificate and its key.
#[derive(Clone)]
pub struct ClientCert {
    pub cert: CertificateDer<'static>,
    /// Further certificates sent after `cert` in the Certificate message.
    pub chain: Vec<CertificateDer<'static>>,
    pub key: Arc<PrivateKeyDer<'static>>,
    pub identity: String,
}

impl ClientCert {
    pub fn ed25519() -> Self {
        Self::from_key(KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap())
    }

    pub fn ecdsa() -> Self {
        Self::from_key(KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap())
    }

    pub fn rsa() -> Self {
        let pem = include_str!("../fixtures/rsa-client.key");
        Self::from_key(KeyPair::from_pem_and_sign_algo(pem, &rcgen::PKCS_RSA_SHA256).unwrap())
    }

    /// A certificate and key from PEM fixtures (see fixtures/README.md).
    pub fn from_pem(cert: &str, key: &str) -> Self {
        Self::new(
            CertificateDer::from_pem_slice(cert.as_bytes()).unwrap(),
            PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
        )
    }

    /// A certificate and its key, with the identity KES computes for the certificate.
    fn new(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> Self {
        let identity = kesrs_core::Identity::of_certificate(&cert)
            .unwrap()
            .to_string();
        Self {
            cert,
            chain: Vec::new(),
            key: Arc::new(key),
            identity,
        }
    }

    /// The certificate the Go client makes for an API key.
    pub fn api_key(key: &str) -> Self {
        let api_key = kesrs_core::ApiKey::parse(key).unwrap();
        let (cert, key) = api_key.client_certificate().unwrap();
        let cert = Self::new(
            CertificateDer::from(cert),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_vec())),
        );
        assert_eq!(cert.identity, api_key.identity().as_str());
        cert
    }

    fn from_key(key_pair: KeyPair) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, "client");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        // Long expired: kesrs must not check the validity of client certificates by default.
        params.not_before = time::macros::datetime!(2000-01-01 0:00 UTC);
        params.not_after = time::macros::datetime!(2001-01-01 0:00 UTC);
        let cert = params.self_signed(&key_pair).unwrap();
        Self::new(
            cert.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der())),
        )
    }

    /// A currently valid ECDSA client certificate issued by `ca`.
    pub fn issued_by(ca: &Ca) -> Self {
        let key_pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "issued client");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key_pair, &ca.cert, &ca.key).unwrap();
        Self::new(
            cert.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der())),
        )
    }

    /// This certificate followed by `extra` in the chain it presents.
    pub fn with_chain(mut self, extra: Vec<CertificateDer<'static>>) -> Self {
        self.chain = extra;
        self
    }
}

/// A CA for `tls.auth: on` tests.
pub struct Ca {
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
}

impl Ca {
    pub fn new() -> Self {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "kesrs test CA");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// The CA's own certificate and key as a client certificate: a chain that starts with a CA.
    pub fn as_client(&self) -> ClientCert {
        ClientCert::new(
            self.der(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der())),
        )
    }

    /// A certificate not marked as a CA that carries the Ed25519 public key of `victim` (a certificate
    /// only: no private key is needed) and is signed by this CA: a forged leaf.
    pub fn forge_ed25519_leaf(&self, victim: &CertificateDer<'_>) -> CertificateDer<'static> {
        let (_, parsed) = x509_parser::parse_x509_certificate(victim).unwrap();
        let public_key = RawPublicKey {
            raw: parsed.public_key().subject_public_key.data.to_vec(),
            algorithm: &rcgen::PKCS_ED25519,
        };
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, "forged");
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        let forged = params
            .signed_by(&public_key, &self.cert, &self.key)
            .unwrap();
        let forged = forged.der().clone();
        assert_eq!(
            kesrs_core::Identity::of_certificate(&forged).unwrap(),
            kesrs_core::Identity::of_certificate(victim).unwrap(),
            "the forged leaf must carry the victim's identity"
        );
        forged
    }
}

/// A bare public key, for rcgen to put into a certificate.
struct RawPublicKey {
    raw: Vec<u8>,
    algorithm: &'static rcgen::SignatureAlgorithm,
}

impl rcgen::PublicKeyData for RawPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }

    fn algorithm(&self) -> &rcgen::SignatureAlgorithm {
        self.algorithm
    }
}

/// The server's certificate and key as PEM.
pub fn server_cert() -> (String, String) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Sends the signal `name` (`HUP`, `TERM`) to `child`.
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Points `command` (a kesrs server or check) at the fake Key Vault's Entra ID endpoint with its
/// client secret in `KV_CLIENT_SECRET`, and removes the ambient Azure credentials and CA overrides
/// of the machine running the tests.
pub fn fake_azure_env(command: &mut Command, fake: &fake_keyvault::FakeKeyVault) {
    // Sovereign clouds set it the same way; here it is the fake's Entra ID endpoint.
    command
        .env("AZURE_AUTHORITY_HOST", fake.authority())
        .env("KV_CLIENT_SECRET", fake_keyvault::CLIENT_SECRET);
    for var in [
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "SSL_CERT_FILE",
    ] {
        command.env_remove(var);
    }
}

/// A running `kesrs` child process; killed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub stderr: Arc<Mutex<Vec<String>>>,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub admin: ClientCert,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts a server whose config is `base_config` plus `extra` YAML (policies, api, keys...).
    pub fn start(extra: &str) -> Self {
        let admin = ClientCert::ed25519();
        Self::start_with_admin(admin, extra)
    }

    pub fn start_with_admin(admin: ClientCert, extra: &str) -> Self {
        Self::start_full(admin, |_| String::new(), extra)
    }

    /// Starts a server; `tls_extra` gets the temp dir and returns more `tls:` lines (two-space indented).
    pub fn start_full(
        admin: ClientCert,
        tls_extra: impl FnOnce(&Path) -> String,
        extra: &str,
    ) -> Self {
        Self::start_with_env(admin, tls_extra, extra, &[])
    }

    /// [`Server::start_full`] with more environment variables for the server.
    pub fn start_with_env(
        admin: ClientCert,
        tls_extra: impl FnOnce(&Path) -> String,
        extra: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = server_cert();
        std::fs::write(dir.path().join("server.cert"), cert).unwrap();
        std::fs::write(dir.path().join("server.key"), key).unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        let tls = tls_extra(dir.path());
        let config = config_text(dir.path(), &admin.identity, extra)
            .replace("\nkeystore:", &format!("\n{tls}keystore:"));
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let mut command = Command::new(BIN);
        command
            .arg("server")
            .arg("--config")
            .arg(dir.path().join("config.yml"))
            .arg("--addr")
            .arg("127.0.0.1:0")
            .envs(env.iter().copied());
        let (child, addr, stdout, stderr) = spawn_and_wait(command);
        Self {
            child,
            addr,
            dir,
            stderr,
            stdout,
            admin,
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yml")
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    /// Rewrites the config (keeping the admin) and sends SIGHUP.
    pub fn reload(&self, extra: &str) {
        let config = config_text(self.dir.path(), &self.admin.identity, extra);
        std::fs::write(self.config_path(), config).unwrap();
        self.signal("HUP");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, name: &str) {
        signal(&self.child, name);
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn stderr_contains(&self, needle: &str) -> bool {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
    }

    pub async fn admin(&self) -> Client {
        Client::connect(self.addr, Some(&self.admin), Proto::Http2).await
    }
}

pub fn config_text(dir: &Path, admin: &str, extra: &str) -> String {
    format!(
        "version: v1\n\
         address: 0.0.0.0:7373\n\
         admin:\n  identity: {admin}\n\
         tls:\n  key: {dir}/server.key\n  cert: {dir}/server.cert\n\
         keystore:\n  fs:\n    path: {dir}/keys\n\
         {extra}\n",
        dir = dir.display()
    )
}

/// The lines a child process wrote so far, collected by a thread.
pub type Lines = Arc<Mutex<Vec<String>>>;

/// Spawns a `kesrs server` command and waits until it logs its listen address.
pub fn spawn_and_wait(mut command: Command) -> (Child, SocketAddr, Lines, Lines) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = collect_lines(child.stdout.take().unwrap());
    let stderr = collect_lines(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = stderr.lock().unwrap().iter().find_map(|line| {
            let rest = line.split("listening on https://").nth(1)?;
            let addr: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '"')
                .collect();
            addr.parse::<SocketAddr>().ok()
        });
        if let Some(addr) = found {
            return (child, addr, stdout, stderr);
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "kesrs exited with {status} before listening; stderr:\n{}",
                stderr.lock().unwrap().join("\n")
            );
        }
        assert!(
            Instant::now() < deadline,
            "kesrs did not start; stderr:\n{}",
            stderr.lock().unwrap().join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn collect_lines(reader: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Http1,
    Http2,
}

/// What the server's CertificateRequest listed as acceptable CAs, as a client sees it.
#[derive(Debug, Default)]
pub struct Hints {
    pub asked: bool,
    pub root_hint_subjects: Vec<Vec<u8>>,
    pub schemes: Vec<SignatureScheme>,
}

/// Presents a certificate the way Go's `tls.Config.Certificates` does: only if the server lists no
/// CA names (or one that issued it) and offers a scheme the key can sign with.
#[derive(Debug)]
struct GoLikeResolver {
    key: Option<Arc<CertifiedKey>>,
    hints: Arc<Mutex<Hints>>,
}

impl ResolvesClientCert for GoLikeResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let mut hints = self.hints.lock().unwrap();
        hints.asked = true;
        hints.root_hint_subjects = root_hint_subjects.iter().map(|s| s.to_vec()).collect();
        hints.schemes = sigschemes.to_vec();
        let key = self.key.clone()?;
        // Self-signed certificates are issued by no listed CA: a Go client would send nothing.
        if !root_hint_subjects.is_empty() {
            return None;
        }
        key.key.choose_scheme(sigschemes)?;
        Some(key)
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

pub struct TlsOptions<'a> {
    pub cert: Option<&'a ClientCert>,
    pub alpn: Vec<Vec<u8>>,
    pub tls12_only: bool,
    pub hints: Arc<Mutex<Hints>>,
}

pub async fn tls_connect(
    addr: SocketAddr,
    options: TlsOptions<'_>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = options.cert.map(|cert| {
        let signer = provider
            .key_provider
            .load_private_key(cert.key.clone_key())
            .unwrap();
        let mut chain = vec![cert.cert.clone()];
        chain.extend(cert.chain.iter().cloned());
        Arc::new(CertifiedKey::new(chain, signer))
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone());
    let builder = if options.tls12_only {
        builder
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
    } else {
        builder.with_safe_default_protocol_versions().unwrap()
    };
    let mut config = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(DangerAnyServerCertificate::new(&provider)))
        .with_client_cert_resolver(Arc::new(GoLikeResolver {
            key,
            hints: options.hints,
        }));
    config.alpn_protocols = options.alpn;
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// An HTTP/2 connection as the admin, made with the h2 crate so that a test sees frames and settings.
pub async fn h2_connect(
    server: &Server,
    builder: &h2::client::Builder,
) -> (
    h2::client::SendRequest<bytes::Bytes>,
    h2::client::Connection<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, bytes::Bytes>,
) {
    let stream = tls_connect(
        server.addr,
        TlsOptions {
            cert: Some(&server.admin),
            alpn: vec![b"h2".to_vec()],
            tls12_only: false,
            hints: Default::default(),
        },
    )
    .await
    .unwrap();
    builder.handshake(stream).await.unwrap()
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }

    /// Asserts a KES error: status, Content-Type and the exact body bytes.
    #[track_caller]
    pub fn assert_error(&self, status: u16, message_json: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.header("content-type"), "application/json");
        let expected = format!("{{\"message\":\"{message_json}\"\n}}");
        assert_eq!(self.text(), expected);
        assert_eq!(self.header("content-length"), expected.len().to_string());
    }
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<TestBody>),
    H2(hyper::client::conn::http2::SendRequest<TestBody>),
}

/// One connection to the server.
pub struct Client {
    sender: Sender,
    pub hints: Arc<Mutex<Hints>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr, cert: Option<&ClientCert>, proto: Proto) -> Self {
        Self::try_connect(addr, cert, proto, false).await.unwrap()
    }

    pub async fn try_connect(
        addr: SocketAddr,
        cert: Option<&ClientCert>,
        proto: Proto,
        tls12_only: bool,
    ) -> Result<Self, String> {
        let hints = Arc::new(Mutex::new(Hints::default()));
        let alpn = match proto {
            Proto::Http1 => vec![b"http/1.1".to_vec()],
            Proto::Http2 => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        };
        let stream = tls_connect(
            addr,
            TlsOptions {
                cert,
                alpn,
                tls12_only,
                hints: hints.clone(),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        let negotiated = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        let io = TokioIo::new(stream);
        let sender = match proto {
            Proto::Http1 => {
                assert_eq!(negotiated.as_deref(), Some(&b"http/1.1"[..]));
                let (sender, conn) = hyper::client::conn::http1::handshake(io)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                Sender::H1(sender)
            }
            Proto::Http2 => {
                assert_eq!(
                    negotiated.as_deref(),
                    Some(&b"h2"[..]),
                    "server must offer h2"
                );
                let (sender, conn) =
                    hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                        .await
                        .map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                Sender::H2(sender)
            }
        };
        Ok(Self { sender, hints })
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, TestBody::empty()).await
    }

    pub async fn json(&mut self, method: &str, path: &str, body: &str) -> Reply {
        self.send(method, path, TestBody::full(body.as_bytes().to_vec()))
            .await
    }

    pub async fn send(&mut self, method: &str, path: &str, body: TestBody) -> Reply {
        self.try_send(method, path, body).await.unwrap()
    }

    pub async fn try_send(
        &mut self,
        method: &str,
        path: &str,
        body: TestBody,
    ) -> Result<Reply, hyper::Error> {
        let uri = match self.sender {
            Sender::H1(_) => path.to_owned(),
            // HTTP/2 requests carry an authority.
            Sender::H2(_) => format!("https://localhost{path}"),
        };
        let mut request = http::Request::builder().method(method).uri(uri);
        if let Sender::H1(_) = self.sender {
            request = request.header("host", "localhost");
        }
        let request = request.body(body).unwrap();
        let response = match &mut self.sender {
            Sender::H1(s) => {
                s.ready().await?;
                s.send_request(request).await?
            }
            Sender::H2(s) => {
                s.ready().await?;
                s.send_request(request).await?
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes().to_vec();
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// A handle for more requests on this HTTP/2 connection, to send them concurrently.
    pub fn h2_sender(&self) -> hyper::client::conn::http2::SendRequest<TestBody> {
        let Sender::H2(s) = &self.sender else {
            panic!("not an HTTP/2 connection");
        };
        s.clone()
    }

    /// Sends a GET and returns the streaming response body, unread.
    pub async fn stream(&mut self, path: &str) -> (u16, hyper::body::Incoming) {
        let request = http::Request::builder()
            .method("GET")
            .uri(path)
            .header("host", "localhost")
            .body(TestBody::empty())
            .unwrap();
        let Sender::H1(s) = &mut self.sender else {
            panic!("streams use HTTP/1.1 in these tests");
        };
        s.ready().await.unwrap();
        let response = s.send_request(request).await.unwrap();
        (response.status().as_u16(), response.into_body())
    }
}

/// A request body: full (with a Content-Length) or chunked (no length known up front).
pub enum TestBody {
    Full(Full<Bytes>),
    Chunked(Vec<Bytes>),
}

impl TestBody {
    pub fn empty() -> Self {
        Self::Full(Full::new(Bytes::new()))
    }

    pub fn full(bytes: Vec<u8>) -> Self {
        Self::Full(Full::new(Bytes::from(bytes)))
    }

    pub fn chunked(chunks: Vec<Vec<u8>>) -> Self {
        let mut chunks: Vec<Bytes> = chunks.into_iter().map(Bytes::from).collect();
        chunks.reverse();
        Self::Chunked(chunks)
    }
}

impl http_body::Body for TestBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            TestBody::Full(full) => std::pin::Pin::new(full).poll_frame(cx),
            TestBody::Chunked(chunks) => {
                std::task::Poll::Ready(chunks.pop().map(|c| Ok(http_body::Frame::data(c))))
            }
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            TestBody::Full(full) => full.size_hint(),
            TestBody::Chunked(_) => http_body::SizeHint::default(),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            TestBody::Full(full) => full.is_end_stream(),
            TestBody::Chunked(chunks) => chunks.is_empty(),
        }
    }
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// The repository's KES test vectors.
pub fn vectors() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/kes-vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A response read off a raw HTTP/1.1 connection.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    /// The header lines, as sent.
    pub head: String,
    pub body: Vec<u8>,
}

impl RawReply {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Sends `request` byte for byte over a TLS connection (ALPN `http/1.1`) as the admin, and reads
/// until the server closes the connection: the request must make it close (`Connection: close`, or
/// a request the server refuses).
pub async fn raw_http1(server: &Server, request: &[u8]) -> RawReply {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tls_connect(
        server.addr,
        TlsOptions {
            cert: Some(&server.admin),
            alpn: vec![b"http/1.1".to_vec()],
            tls12_only: false,
            hints: Default::default(),
        },
    )
    .await
    .unwrap();
    // A server that refuses a request may close before it is all written.
    let _ = stream.write_all(request).await;
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        // A reset after the answer (the server closed with request bytes unread) ends it as well.
        let _ = stream.read_to_end(&mut received).await;
    })
    .await
    .unwrap_or_else(|_| panic!("the server kept the connection open 10 s"));
    let end = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head: {}", String::from_utf8_lossy(&received)));
    let head = String::from_utf8(received[..end].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    RawReply {
        status,
        head,
        body: received[end + 4..].to_vec(),
    }
}
