//! HTTPS transport for the client: mutual TLS, endpoint failover and retries as the Go client does them.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;
use serde::de::DeserializeOwned;
use serde::Serialize;
use zeroize::Zeroizing;

use super::trust::ServerVerifier;
use super::{wire, Client, LogStream};
use crate::tls::{pem_certificates, DangerAnyServerCertificate, TlsFailure};
use crate::{ApiKey, CertificateOptions, Error};

/// A response body larger than this is refused (the Go client reads at most 1 MiB too).
const MAX_RESPONSE: usize = 1 << 20;
/// Retries within one endpoint after a network error or a 503, as the Go client.
const RETRIES: usize = 2;
/// An endpoint that failed is skipped for this long, as the Go client.
const BENCH_FOR: Duration = Duration::from_secs(30);
/// How long after its last answer an endpoint's pooled connection is taken to be open: well within
/// the 90 s after which hyper's pool and KES servers close idle connections.
const CONNECTION_FRESH_FOR: Duration = Duration::from_secs(30);
/// How long a request that opens an endpoint's connection goes alone at most: connecting and the
/// handshake take milliseconds.
const ALONE_FOR: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the client proves its identity.
pub enum Credentials {
    /// A `kes:v1:` API key; a self-signed client certificate is made from it.
    ApiKey(ApiKey),
    /// A PEM certificate (chain) and its PEM private key.
    Certificate {
        /// PEM certificate chain, leaf first.
        cert_pem: Vec<u8>,
        /// PEM private key (PKCS#8, PKCS#1 or SEC1).
        key_pem: Zeroizing<Vec<u8>>,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ApiKey(key) => f.debug_tuple("ApiKey").field(key).finish(),
            Self::Certificate { .. } => f.write_str("Certificate { .. }"),
        }
    }
}

/// Configures a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    endpoints: Vec<String>,
    credentials: Option<Credentials>,
    ca_pem: Vec<Vec<u8>>,
    system_roots: bool,
    danger_accept_any_server_certificate: bool,
    http2: bool,
}

impl ClientBuilder {
    pub(super) fn new<I, S>(endpoints: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            credentials: None,
            ca_pem: Vec::new(),
            system_roots: true,
            danger_accept_any_server_certificate: false,
            http2: true,
        }
    }

    /// Authenticates with these credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Trusts the CA certificates in this PEM (in addition to the system roots).
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem.push(pem.into());
        self
    }

    /// Whether to trust the operating system's CA certificates (default: yes).
    pub fn system_roots(mut self, enabled: bool) -> Self {
        self.system_roots = enabled;
        self
    }

    /// Accepts any server certificate (`--insecure`): the server's identity is NOT checked, only that
    /// it holds the key of the certificate it presents. For development only.
    pub fn danger_accept_any_server_certificate(mut self, enabled: bool) -> Self {
        self.danger_accept_any_server_certificate = enabled;
        self
    }

    /// Offers HTTP/2 by ALPN (default: yes); off forces HTTP/1.1.
    pub fn http2(mut self, enabled: bool) -> Self {
        self.http2 = enabled;
        self
    }

    /// Builds the client. Fails on unusable credentials, CA files or endpoints.
    pub fn build(self) -> Result<Client, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|err| config_error(err.to_string()))?;
        let builder = if self.danger_accept_any_server_certificate {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(DangerAnyServerCertificate::new(
                    &provider,
                )))
        } else {
            let (roots, given) = self.roots()?;
            if roots.is_empty() {
                // webpki's verifier builder refuses an empty store; with nothing trusted, every
                // server certificate fails as "not trusted", which is the sentence to show.
                builder.with_root_certificates(roots)
            } else {
                let webpki = WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::clone(&provider),
                )
                .build()
                .map_err(|err| config_error(format!("CA certificate: {err}")))?;
                // Not dangerous: webpki's verifier, plus Go's acceptance of a given CA certificate
                // presented as the server's own (see `trust`).
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ServerVerifier::new(webpki, given)))
            }
        };
        // ALPN (h2, http/1.1) is set by the connector builder below.
        let tls = match self.credentials {
            None => builder.with_no_client_auth(),
            Some(credentials) => {
                let (chain, key) = client_certificate(credentials)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|err| config_error(format!("client certificate: {err}")))?
            }
        };

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only();
        let connector = if self.http2 {
            connector.enable_all_versions().wrap_connector(http)
        } else {
            connector.enable_http1().wrap_connector(http)
        };
        let http = HttpClient::builder(TokioExecutor::new()).build(connector);

        let endpoints = self
            .endpoints
            .iter()
            .map(|e| Endpoint::parse(e))
            .collect::<Result<Vec<_>, _>>()?;
        if endpoints.is_empty() {
            return Err(config_error("no endpoint given".into()));
        }
        Ok(Client {
            transport: Transport {
                inner: Arc::new(Inner {
                    http,
                    endpoints,
                    next: AtomicUsize::new(0),
                }),
            },
        })
    }

    /// The trusted roots, and among them the CA certificates the caller gave.
    fn roots(&self) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), Error> {
        let mut roots = RootCertStore::empty();
        let mut given = Vec::new();
        if self.system_roots {
            // Unreadable system certificates are skipped, as Go's x509.SystemCertPool does.
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
        for pem in &self.ca_pem {
            let certs = pem_certificates(pem)
                .map_err(|err| config_error(format!("CA certificate: {err}")))?;
            for cert in certs {
                roots
                    .add(cert.clone())
                    .map_err(|err| config_error(format!("CA certificate: {err}")))?;
                given.push(cert);
            }
        }
        Ok((roots, given))
    }
}

#[derive(Clone)]
pub(super) struct Transport {
    inner: Arc<Inner>,
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

struct Inner {
    http: HttpClient<Connector, Full<Bytes>>,
    endpoints: Vec<Endpoint>,
    next: AtomicUsize,
}

struct Endpoint {
    /// `https://host:port`
    base: String,
    benched_until: Mutex<Option<Instant>>,
    /// When a request here was last answered (see [`Endpoint::alone`]).
    answered_at: Mutex<Option<Instant>>,
    /// Held by the request that goes alone.
    first: tokio::sync::Mutex<()>,
}

impl Transport {
    pub(super) fn endpoints(&self) -> Vec<&str> {
        self.inner
            .endpoints
            .iter()
            .map(|e| e.base.as_str())
            .collect()
    }

    pub(super) async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let body = self.send("GET", path, None).await?;
        wire::parse(&body)
    }

    pub(super) async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        let body = self.send("POST", path, Some(wire::json(body)?)).await?;
        wire::parse(&body)
    }

    /// Sends a request and returns the body of a 2xx response; a KES error otherwise.
    pub(super) async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Zeroizing<Vec<u8>>>,
    ) -> Result<Bytes, Error> {
        let response = self.request(method, path, body).await?;
        read_body(response).await
    }

    pub(super) async fn stream(&self, path: &str) -> Result<LogStream, Error> {
        let response = self.request("GET", path, None).await?;
        Ok(LogStream {
            body: response.into_body(),
            buffer: Vec::new(),
        })
    }

    /// Tries the endpoints in turn, starting at a rotating offset and skipping benched ones (unless all
    /// are benched). 4xx answers return at once; network errors and 5xx (except 501) move on.
    async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Zeroizing<Vec<u8>>>,
    ) -> Result<Response<Incoming>, Error> {
        let endpoints = &self.inner.endpoints;
        let start = self.inner.next.fetch_add(1, Ordering::Relaxed);
        // Wiped once every attempt's copy of the handle is dropped.
        let body = body.map_or_else(Bytes::new, Bytes::from_owner);
        let mut last_error = None;
        for pass in 0..2 {
            for i in 0..endpoints.len() {
                let Some(endpoint) = endpoints.get((start + i) % endpoints.len()) else {
                    continue;
                };
                if pass == 0 && endpoint.is_benched() {
                    continue;
                }
                match self.try_endpoint(endpoint, method, path, &body).await {
                    Ok(response) if response.status().is_success() => return Ok(response),
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let error = error_from_response(response).await;
                        if status < 500 || status == 501 || endpoints.len() == 1 {
                            return Err(error);
                        }
                        endpoint.bench();
                        last_error = Some(error);
                    }
                    Err(error) => {
                        endpoint.bench();
                        last_error = Some(error);
                    }
                }
            }
            if last_error.is_some() {
                break; // Every endpoint was tried and failed: no second pass.
            }
        }
        Err(last_error.unwrap_or_else(|| Error::Connect("no endpoint available".into())))
    }

    async fn try_endpoint(
        &self,
        endpoint: &Endpoint,
        method: &str,
        path: &str,
        body: &Bytes,
    ) -> Result<Response<Incoming>, Error> {
        let mut attempt = 0;
        loop {
            let request = Request::builder()
                .method(method)
                .uri(format!("{}{path}", endpoint.base))
                .header("content-type", "application/json")
                .body(Full::new(body.clone()))
                .map_err(|_| Error::Protocol("invalid request"))?;
            let result = self.send_on(endpoint, request).await;
            let retry = match &result {
                Ok(response) => response.status() == hyper::StatusCode::SERVICE_UNAVAILABLE,
                // A refused certificate is refused again: report it at once. A connection closed
                // mid-handshake may be a server restarting, so that one is retried.
                Err(err) => matches!(
                    TlsFailure::find(err),
                    None | Some(TlsFailure::ClosedDuringHandshake)
                ),
            };
            if !retry || attempt >= RETRIES {
                return result.map_err(|err| connection_error(&endpoint.base, &err));
            }
            attempt += 1;
            tokio::time::sleep(retry_delay()).await;
        }
    }

    /// Sends `request`, alone while `endpoint` may have no open connection ([`Endpoint::alone`]), and
    /// for [`ALONE_FOR`] at most: a slow answer (a key created in a remote vault) must not hold the
    /// others up once its connection is open.
    async fn send_on(
        &self,
        endpoint: &Endpoint,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
        let mut sending = std::pin::pin!(self.inner.http.request(request));
        let mut alone = endpoint.alone().await;
        let result = if alone.is_none() {
            sending.await
        } else {
            match tokio::time::timeout(ALONE_FOR, sending.as_mut()).await {
                Ok(result) => result,
                Err(_) => {
                    alone = None;
                    sending.await
                }
            }
        };
        // Before `alone` lets the others go: they look at when the endpoint last answered.
        if result.is_ok() {
            endpoint.answered();
        }
        drop(alone);
        result
    }
}

impl Endpoint {
    fn parse(endpoint: &str) -> Result<Self, Error> {
        let trimmed = endpoint.trim().trim_end_matches('/');
        let host = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"))
            .unwrap_or(trimmed);
        if host.is_empty() || host.contains('/') {
            return Err(config_error(format!("invalid endpoint '{endpoint}'")));
        }
        let base = format!("https://{host}");
        base.parse::<hyper::Uri>()
            .map_err(|_| config_error(format!("invalid endpoint '{endpoint}'")))?;
        Ok(Self {
            base,
            benched_until: Mutex::new(None),
            answered_at: Mutex::new(None),
            first: tokio::sync::Mutex::new(()),
        })
    }

    /// Makes a request go alone when the endpoint may have no open connection: hyper cannot know
    /// that a new connection will speak HTTP/2 before its handshake ends, so it opens one connection,
    /// with a handshake each, for every request waiting meanwhile (32 for a service whose 32 threads
    /// start at once). The requests queued behind this one then share its connection. `None` once a
    /// request was answered recently.
    async fn alone(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.answered_recently() {
            return None;
        }
        let guard = self.first.lock().await;
        (!self.answered_recently()).then_some(guard)
    }

    fn answered_recently(&self) -> bool {
        self.answered_at
            .lock()
            .map(|at| at.is_some_and(|at| at.elapsed() < CONNECTION_FRESH_FOR))
            .unwrap_or(false)
    }

    fn answered(&self) {
        if let Ok(mut at) = self.answered_at.lock() {
            *at = Some(Instant::now());
        }
    }

    fn is_benched(&self) -> bool {
        self.benched_until
            .lock()
            .map(|until| until.is_some_and(|t| Instant::now() < t))
            .unwrap_or(false)
    }

    fn bench(&self) {
        if let Ok(mut until) = self.benched_until.lock() {
            *until = Some(Instant::now() + BENCH_FOR);
        }
    }
}

async fn read_body(response: Response<Incoming>) -> Result<Bytes, Error> {
    Limited::new(response.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map(|body| body.to_bytes())
        .map_err(|_| Error::Protocol("response body unreadable or larger than 1 MiB"))
}

/// Reads a KES error response: `{"message": ...}` (or `"error"`) for JSON, the raw body otherwise.
async fn error_from_response(response: Response<Incoming>) -> Error {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        message: String,
        #[serde(default)]
        error: String,
    }
    let status = response.status().as_u16();
    let is_json = response
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().starts_with("application/json"));
    let body = read_body(response).await.unwrap_or_default();
    let message = if is_json {
        match serde_json::from_slice::<Body>(&body) {
            Ok(b) if !b.error.is_empty() => b.error,
            Ok(b) => b.message,
            Err(_) => String::from_utf8_lossy(&body).into_owned(),
        }
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    Error::from_response(status, message)
}

/// A failed connection: a TLS failure as its sentence, anything else with its chain of causes.
pub(super) fn connection_error(endpoint: &str, err: &(dyn std::error::Error + 'static)) -> Error {
    transport_error(endpoint, err, TlsFailure::find(err))
}

/// A response body cut short on an established connection: only a real TLS error is one.
pub(super) fn body_error(what: &str, err: &(dyn std::error::Error + 'static)) -> Error {
    transport_error(what, err, TlsFailure::find_after_handshake(err))
}

fn transport_error(
    endpoint: &str,
    err: &(dyn std::error::Error + 'static),
    tls: Option<TlsFailure>,
) -> Error {
    if let Some(failure) = tls {
        return Error::Tls {
            endpoint: endpoint.to_owned(),
            failure,
        };
    }
    let mut message = format!("{endpoint}: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    Error::Connect(message)
}

/// 200 ms plus up to 800 ms of jitter, as the Go client waits between retries.
fn retry_delay() -> Duration {
    let mut jitter = [0u8; 2];
    let jitter = match crate::crypto::random(&mut jitter) {
        Ok(()) => u64::from(u16::from_le_bytes(jitter)) % 800,
        Err(_) => 400,
    };
    Duration::from_millis(200 + jitter)
}

fn client_certificate(
    credentials: Credentials,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    match credentials {
        Credentials::ApiKey(key) => {
            let cert = key.certificate(&CertificateOptions::default())?;
            let key_der = PrivateKeyDer::try_from(cert.key_der().to_vec())
                .map_err(|err| config_error(format!("API key: {err}")))?;
            Ok((
                vec![CertificateDer::from(cert.cert_der().to_vec())],
                key_der,
            ))
        }
        Credentials::Certificate { cert_pem, key_pem } => {
            let chain = pem_certificates(&cert_pem)
                .map_err(|err| config_error(format!("client certificate: {err}")))?;
            if chain.is_empty() {
                return Err(config_error(
                    "client certificate: no CERTIFICATE block".into(),
                ));
            }
            let key = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|err| config_error(format!("client private key: {err}")))?;
            Ok((chain, key))
        }
    }
}

fn config_error(message: String) -> Error {
    Error::Connect(message)
}
