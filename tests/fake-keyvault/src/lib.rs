//! A fake Azure Key Vault (secrets API) with Entra ID and managed-identity token endpoints, for tests.
//!
//! It reproduces what no emulator does: asynchronous deletion (409 `ObjectIsBeingDeleted`), names held
//! by soft-deleted secrets (409 `ObjectIsDeletedButRecoverable`), throttling (429 with `Retry-After`),
//! missing permissions (403 `ForbiddenByPolicy`), server errors, slow answers and outages, expiring
//! tokens, and case-insensitive names. Secrets keep every version (created in whole seconds, as in
//! Azure), which can be listed and updated (PATCH, to disable one); Entra ID refuses a wrong client
//! secret with Entra's exact body. It speaks HTTPS with a certificate from a CA made at start.
//!
//! Host names: the vault is `https://vault.localhost:<port>`, Entra ID
//! `https://login.localhost:<port>`, and the challenge resource `https://localhost`, so clients can
//! keep challenge-resource verification on (the resource must be a parent domain of the vault).
//! `*.localhost` are loopback names (RFC 6761): kesrs resolves them to `localhost`'s addresses
//! itself, so a fake on `127.0.0.1` needs no resolver set-up. Clients that do not (glibc without
//! systemd-resolved, Python) can map the names to [`FakeKeyVault::addr`] (see `resolve`).
//!
//! Test-only: tokens are counters, and anyone may change faults through `/_fake/*`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

mod vault;

use vault::State;
pub use vault::{Op, VersionInfo, INVALID_SECRET_DESCRIPTION};

/// The vault's host name.
pub const VAULT_HOST: &str = "vault.localhost";
/// The Entra ID authority's host name.
pub const LOGIN_HOST: &str = "login.localhost";
/// The client secret the token endpoint accepts.
pub const CLIENT_SECRET: &str = "fake-client-secret";
/// The `X-IDENTITY-HEADER` value the managed-identity endpoint accepts.
pub const IDENTITY_HEADER: &str = "fake-identity-header";

/// A running fake; it stops when dropped.
#[derive(Debug)]
pub struct FakeKeyVault {
    addr: SocketAddr,
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeKeyVault {
    /// Starts a fake on `127.0.0.1`, on a free port.
    pub async fn start() -> std::io::Result<Self> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a fake on `addr`.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let (ca_pem, ca_der, tls) = tls_config().map_err(std::io::Error::other)?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::new(addr.port()));
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let server = tokio::spawn(serve(listener, acceptor, Arc::clone(&state)));
        Ok(Self {
            addr,
            ca_pem,
            ca_der,
            state,
            server,
        })
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The vault URL.
    pub fn endpoint(&self) -> String {
        format!("https://{VAULT_HOST}:{}", self.addr.port())
    }

    /// The Entra ID authority host URL.
    pub fn authority(&self) -> String {
        format!("https://{LOGIN_HOST}:{}", self.addr.port())
    }

    /// The App Service style managed-identity endpoint (`IDENTITY_ENDPOINT`).
    pub fn identity_endpoint(&self) -> String {
        format!("https://{LOGIN_HOST}:{}/msi/token", self.addr.port())
    }

    /// Host names a client must resolve to [`Self::addr`].
    pub fn resolve(&self) -> Vec<(String, SocketAddr)> {
        [VAULT_HOST, LOGIN_HOST]
            .iter()
            .map(|host| ((*host).to_owned(), self.addr))
            .collect()
    }

    /// The CA certificate (PEM) that issued the fake's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA certificate (DER).
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.ca_der.clone()
    }

    /// How many requests of a kind were answered (challenges excepted).
    pub fn count(&self, op: Op) -> u64 {
        self.state.count(op)
    }

    /// Forgets all counts.
    pub fn reset_counts(&self) {
        self.state.reset_counts();
    }

    /// The next `count` vault requests answer 429 with `Retry-After: retry_after_secs`.
    pub fn throttle(&self, count: u32, retry_after_secs: u64) {
        self.state.faults(|f| {
            f.throttle = count;
            f.retry_after = retry_after_secs;
        });
    }

    /// The next `count` vault requests answer `status` (a 5xx).
    pub fn fail(&self, count: u32, status: u16) {
        self.state.faults(|f| {
            f.fail = count;
            f.fail_status = status;
        });
    }

    /// Requests needing `op`'s permission answer 403 ForbiddenByPolicy (until [`Self::clear_faults`]).
    pub fn deny(&self, op: Op) {
        self.state.faults(|f| f.deny.push(op));
    }

    /// Every vault request waits this long before it is answered.
    pub fn delay(&self, delay: Duration) {
        self.state.faults(|f| f.delay = delay);
    }

    /// While on, every connection is closed without an answer, as when the vault is unreachable.
    pub fn outage(&self, on: bool) {
        self.state.faults(|f| f.outage = on);
    }

    /// Soft deletion completes this long after a delete; until then the name answers 409
    /// ObjectIsBeingDeleted to set and purge, as Azure does.
    pub fn delete_lag(&self, lag: Duration) {
        self.state.faults(|f| f.delete_lag = lag);
    }

    /// Purge is refused with 403 (a vault with purge protection).
    pub fn purge_protection(&self, on: bool) {
        self.state.faults(|f| f.purge_protection = on);
    }

    /// Tokens issued from now on expire after this long.
    pub fn token_lifetime(&self, lifetime: Duration) {
        self.state.faults(|f| f.token_lifetime = lifetime);
    }

    /// Ends all faults; counts and secrets stay.
    pub fn clear_faults(&self) {
        self.state.faults(|f| *f = vault::Faults::default());
    }

    /// Stores a secret version directly, without tags, as Go KES or another tool would have.
    pub fn insert(&self, name: &str, value: &str) {
        self.state.insert(name, value);
    }

    /// Stores a secret version with a chosen ID and creation time (Unix seconds), as if another
    /// server's write had landed then.
    pub fn insert_version(&self, name: &str, value: &str, id: &str, created: i64) {
        self.state.insert_version(name, value, id, created);
    }

    /// Every version of a secret in the order written, with its ID, value, creation time and state.
    pub fn versions(&self, name: &str) -> Vec<VersionInfo> {
        self.state.versions(name)
    }

    /// The next `count` set requests are held until all `count` have arrived (at most 5 s), so that
    /// concurrent creators all write before any of them reads back: the race Key Vault allows.
    pub fn hold_sets(&self, count: usize) {
        self.state.hold_sets(count);
    }

    /// Sets the attributes of a secret's newest version; times are Unix seconds.
    pub fn set_attributes(
        &self,
        name: &str,
        enabled: Option<bool>,
        not_before: Option<i64>,
        expires: Option<i64>,
    ) {
        self.state
            .set_attributes(name, enabled, not_before, expires);
    }

    /// The values of a secret's versions, oldest first, and its tags.
    pub fn secret(&self, name: &str) -> Option<(Vec<String>, serde_json::Value)> {
        self.state.secret(name)
    }

    /// Whether a soft-deleted secret of this name exists.
    pub fn is_soft_deleted(&self, name: &str) -> bool {
        self.state.is_soft_deleted(name)
    }
}

impl Drop for FakeKeyVault {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, state: Arc<State>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = service_fn(move |request| {
                let state = Arc::clone(&state);
                async move { state.handle(request).await }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

type TlsParts = (String, CertificateDer<'static>, rustls::ServerConfig);

fn tls_config() -> Result<TlsParts, Box<dyn std::error::Error + Send + Sync>> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "fake-keyvault test CA");
    let ca = ca_params.self_signed(&ca_key)?;

    let key = rcgen::KeyPair::generate()?;
    let params = rcgen::CertificateParams::new(vec![
        VAULT_HOST.to_owned(),
        LOGIN_HOST.to_owned(),
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
    ])?;
    let cert = params.signed_by(&key, &ca, &ca_key)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), ca.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )?;
    Ok((ca.pem(), ca.der().clone(), config))
}
