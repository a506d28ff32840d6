//! TLS as KES does it (kes-protocol.md 1.1 and 4.1): client certificates required but, by default,
//! not verified beyond proof of possession; no CA names in the CertificateRequest; h2 and http/1.1.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ProducesTickets, StoresServerSessions, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig};
use tracing::warn;

use kesrs_core::config::ClientAuth;
use kesrs_core::tls::{ca_files, DangerAnyClientCertificate};
use kesrs_core::{ClientChainError, Identity};

/// Where the server certificate comes from.
#[derive(Debug)]
pub(crate) enum CertSource {
    /// PEM files from the config, re-read on every reload.
    Files {
        cert: std::path::PathBuf,
        key: std::path::PathBuf,
        /// `tls.password`: decrypts a legacy-encrypted PEM key.
        password: Option<kesrs_core::config::Secret>,
    },
    /// A certificate made in memory (`--dev`).
    InMemory {
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    },
}

/// Everything needed to build the server's TLS config.
#[derive(Debug)]
pub(crate) struct TlsSettings {
    pub(crate) cert: CertSource,
    pub(crate) client_auth: ClientAuth,
    /// `tls.ca`: a PEM file or a directory of them, added to the system roots in `Verify` mode.
    pub(crate) ca: Option<std::path::PathBuf>,
    /// Any `api.<path>.skip_auth`: client certificates become optional (KES relaxes the mode globally).
    pub(crate) optional_client_cert: bool,
}

/// State shared by every TLS config this process builds, so that resumption survives a reload.
#[derive(Debug, Clone)]
pub(crate) struct Resumption {
    sessions: Arc<dyn StoresServerSessions>,
    tickets: Arc<dyn ProducesTickets>,
}

impl Resumption {
    pub(crate) fn new() -> Result<Self, rustls::Error> {
        Ok(Self {
            sessions: rustls::server::ServerSessionMemoryCache::new(1024),
            tickets: rustls::crypto::ring::Ticketer::new()?,
        })
    }
}

/// Why a TLS config could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error("failed to read '{path}': {source}")]
    Pem {
        path: String,
        source: rustls::pki_types::pem::Error,
    },
    #[error("no certificate in '{0}'")]
    NoCertificate(String),
    #[error("invalid TLS certificate: certificate does not contain any DNS or IP address as SAN")]
    NoSan,
    #[error("invalid TLS certificate: {0}")]
    BadCertificate(String),
    #[error("the private key '{0}' is encrypted: set tls.password")]
    EncryptedKey(String),
    #[error("failed to decrypt the private key '{path}' with tls.password: {source}")]
    KeyPassword {
        path: String,
        #[source]
        source: kesrs_core::Error,
    },
    #[error("failed to read CA certificates from '{path}': {reason}")]
    Ca { path: String, reason: String },
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
    #[error("invalid client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// A server TLS config and the expiry of the certificate it serves.
#[derive(Debug)]
pub(crate) struct ServerTls {
    pub(crate) config: Arc<ServerConfig>,
    /// The leaf certificate's `notAfter`.
    pub(crate) not_after: Option<time::OffsetDateTime>,
}

/// Builds the server's TLS config: TLS 1.2 and 1.3, ALPN h2 and http/1.1, KES's client-auth mode.
pub(crate) fn server_config(
    settings: &TlsSettings,
    resumption: &Resumption,
) -> Result<ServerTls, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (chain, key) = match &settings.cert {
        CertSource::Files {
            cert,
            key,
            password,
        } => (read_certs(cert)?, read_key(key, password.as_ref())?),
        CertSource::InMemory { chain, key } => (chain.clone(), key.clone_key()),
    };
    check_san(&chain)?;
    let not_after = chain.first().and_then(|leaf| {
        x509_parser::parse_x509_certificate(leaf)
            .ok()
            .map(|(_, cert)| cert.validity().not_after.to_datetime())
    });
    let mandatory = !settings.optional_client_cert;
    let verifier: Arc<dyn ClientCertVerifier> = match settings.client_auth {
        ClientAuth::DangerAnyCertificate => {
            Arc::new(DangerAnyClientCertificate::new(&provider, mandatory))
        }
        ClientAuth::Verify => {
            let roots = client_roots(settings.ca.as_deref())?;
            // No CA names either: Go clients that pick their certificate from `Certificates` would
            // skip a self-signed one that no listed CA issued (kes-protocol.md 1.1).
            let builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .clear_root_hint_subjects();
            let builder = if mandatory {
                builder
            } else {
                builder.allow_unauthenticated()
            };
            builder.build()?
        }
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.session_storage = resumption.sessions.clone();
    config.ticketer = resumption.tickets.clone();
    Ok(ServerTls {
        config: Arc::new(config),
        not_after,
    })
}

/// The identity of the peer: the end-entity certificate's, and only if no other certificate in its chain
/// could be taken for it ([`Identity::of_client_chain`]; kes-protocol.md 4.1, docs/security.md).
pub(crate) fn peer_identity(
    chain: Option<&[CertificateDer<'_>]>,
) -> Result<Identity, ClientChainError> {
    Identity::of_client_chain(chain.unwrap_or_default())
}

pub(crate) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_err = |source| TlsError::Pem {
        path: path.display().to_string(),
        source,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(pem_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(path.display().to_string()));
    }
    Ok(chain)
}

/// Reads a PEM private key; a legacy-encrypted one (RFC 1423, as `kes identity new --encrypt` writes)
/// is decrypted with `tls.password`.
pub(crate) fn read_key(
    path: &Path,
    password: Option<&kesrs_core::config::Secret>,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem_error = |source| TlsError::Pem {
        path: path.display().to_string(),
        source,
    };
    let pem = zeroize::Zeroizing::new(
        std::fs::read(path).map_err(|err| pem_error(rustls_pki_types::pem::Error::Io(err)))?,
    );
    let encrypted = pem.windows(11).any(|w| w == b"4,ENCRYPTED");
    let decrypted = match (encrypted, password) {
        (false, _) => None,
        (true, None) => return Err(TlsError::EncryptedKey(path.display().to_string())),
        (true, Some(password)) => Some(
            kesrs_core::decrypt_private_key_pem(&pem, password.expose().as_bytes()).map_err(
                |source| TlsError::KeyPassword {
                    path: path.display().to_string(),
                    source,
                },
            )?,
        ),
    };
    let text: &[u8] = decrypted.as_ref().map_or(&pem[..], |d| d.as_bytes());
    PrivateKeyDer::from_pem_slice(text).map_err(pem_error)
}

/// KES refuses a server certificate without any DNS or IP SAN.
fn check_san(chain: &[CertificateDer<'_>]) -> Result<(), TlsError> {
    let leaf = chain
        .first()
        .ok_or_else(|| TlsError::NoCertificate("the certificate chain".into()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|err| TlsError::BadCertificate(err.to_string()))?;
    let has_san = cert
        .subject_alternative_name()
        .map_err(|err| TlsError::BadCertificate(err.to_string()))?
        .is_some_and(|san| {
            san.value.general_names.iter().any(|name| {
                matches!(
                    name,
                    x509_parser::extensions::GeneralName::DNSName(_)
                        | x509_parser::extensions::GeneralName::IPAddress(_)
                )
            })
        });
    if has_san {
        Ok(())
    } else {
        Err(TlsError::NoSan)
    }
}

/// The system roots plus `tls.ca` (a PEM file, or a directory whose files must all be PEM certificates).
fn client_roots(ca: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for err in &native.errors {
        warn!("failed to load a system root certificate: {err}");
    }
    // Unparsable system roots are skipped, as Go's SystemCertPool skips them.
    roots.add_parsable_certificates(native.certs);
    let Some(ca) = ca else {
        return Ok(roots);
    };
    let ca_err = |reason: String| TlsError::Ca {
        path: ca.display().to_string(),
        reason,
    };
    let files = ca_files(ca).map_err(|e| ca_err(e.to_string()))?;
    for file in files {
        for cert in read_certs(&file).map_err(|e| ca_err(e.to_string()))? {
            roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
        }
    }
    Ok(roots)
}
