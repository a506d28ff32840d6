//! Why a client's TLS connection failed, as a sentence: what failed and what to do about it.
//!
//! rustls reports typed errors (`InvalidCertificate(UnknownIssuer)`, `AlertReceived(..)`) whose
//! `Display` reads like a stack trace to someone who just pasted an endpoint. The client maps them
//! here, in one place, so the CLI and the bindings' remote mode show the same sentences.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use rustls::pki_types::UnixTime;
use rustls::{AlertDescription, CertificateError, InvalidMessage};
use time::OffsetDateTime;

/// Why a TLS connection to a KES server failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// No CA the client trusts issued the server's certificate.
    UnknownIssuer,
    /// A trusted CA certificate carries the name of the certificate's issuer but another key (or the
    /// signature does not verify), so it is not the issuer.
    IssuerMismatch,
    /// The server's certificate does not name the host the client dialed.
    NameMismatch {
        /// The host the client dialed and the names the certificate has, when rustls said.
        names: Option<(String, Vec<String>)>,
    },
    /// The server's certificate has expired.
    Expired {
        /// When it expired, if rustls said.
        not_after: Option<OffsetDateTime>,
    },
    /// The server's certificate is not valid yet.
    NotYetValid {
        /// When it becomes valid, if rustls said.
        not_before: Option<OffsetDateTime>,
    },
    /// The server's certificate is not meant for server authentication (extended key usage).
    NotForServerAuth,
    /// The server presents a CA certificate as its own, and that certificate is not trusted as is.
    CaAsEndEntity,
    /// The server's certificate cannot be used for another reason. Carries rustls's words.
    BadCertificate(String),
    /// The server refused the client's certificate. Carries the alert it sent.
    ClientCertificateRefused(AlertDescription),
    /// The server refused the handshake for a reason other than the client's certificate.
    HandshakeRefused(AlertDescription),
    /// The peer answered with something that is not TLS (a plain-HTTP port, another protocol).
    NotTls,
    /// The server closed the connection during the handshake without saying why.
    ClosedDuringHandshake,
    /// The server shares no TLS version, cipher suite or signature scheme with the client. Carries
    /// rustls's words.
    Incompatible(String),
    /// Any other TLS error. Carries rustls's words.
    Other(String),
}

/// What the client's settings are called, for the sentences' "what to do".
const TRUST: &str = "trust its CA, or the certificate itself if it is self-signed (the CLI's --ca \
                     FILE or MINIO_KMS_KES_CAPATH, the bindings' `ca`)";

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownIssuer => write!(
                f,
                "the server's certificate is not trusted: no trusted CA issued it. To connect, \
                 {TRUST}; the CLI's -k/--insecure skips the check, for testing only"
            ),
            Self::IssuerMismatch => write!(
                f,
                "the server's certificate is not trusted: a trusted CA certificate has its \
                 issuer's name but not the key that signed it (another certificate of the same \
                 name). To connect, {TRUST}"
            ),
            Self::NameMismatch {
                names: Some((expected, presented)),
            } => {
                let names = if presented.is_empty() {
                    "no DNS or IP name".to_owned()
                } else {
                    presented.join(", ")
                };
                write!(
                    f,
                    "the server's certificate is not valid for '{expected}' (it names {names}). \
                     Connect to a name it has (--server, KES_SERVER), or reissue it with \
                     '{expected}' as a subject alternative name"
                )
            }
            Self::NameMismatch { names: None } => f.write_str(
                "the server's certificate is not valid for the name connected to. Connect to a \
                 name it has (--server, KES_SERVER), or reissue it with that name as a subject \
                 alternative name",
            ),
            Self::Expired { not_after } => {
                f.write_str("the server's certificate expired")?;
                if let Some(at) = not_after {
                    write!(f, " at {}", crate::rfc3339(at))?;
                }
                f.write_str(". Renew it on the server (kesrs reloads it by itself), or check this machine's clock")
            }
            Self::NotYetValid { not_before } => {
                f.write_str("the server's certificate is not valid yet")?;
                if let Some(at) = not_before {
                    write!(f, " (from {})", crate::rfc3339(at))?;
                }
                f.write_str(". Check the clocks of this machine and of whatever issued it")
            }
            Self::NotForServerAuth => f.write_str(
                "the server's certificate is not for server authentication (its extended key \
                 usage lacks serverAuth). Reissue it with serverAuth",
            ),
            Self::CaAsEndEntity => write!(
                f,
                "the server presents a CA certificate as its own, and it is not trusted as is. \
                 Trust exactly that certificate (the CLI's --ca FILE, the bindings' `ca`), or \
                 give the server a certificate issued by the CA"
            ),
            Self::BadCertificate(detail) => write!(
                f,
                "the server's certificate cannot be used ({detail}). Reissue it"
            ),
            Self::ClientCertificateRefused(alert) => write!(
                f,
                "the server refused this client's certificate (TLS alert {alert:?}): with \
                 tls.auth: on it accepts only certificates issued by its tls.ca. Use a \
                 certificate it accepts (--cert and --key, KES_CLIENT_CERT and KES_CLIENT_KEY) \
                 or an API key on a server with tls.auth: off"
            ),
            Self::HandshakeRefused(alert) => write!(
                f,
                "the server refused the TLS handshake (TLS alert {alert:?}): it shares no TLS \
                 version or cipher suite with this client (TLS 1.2 or 1.3), or refuses this client"
            ),
            Self::NotTls => f.write_str(
                "the server does not speak TLS (it answered in plain text, maybe HTTP): check \
                 the endpoint's host and port (--server, KES_SERVER)",
            ),
            Self::ClosedDuringHandshake => f.write_str(
                "the server closed the connection during the TLS handshake: check that the \
                 endpoint is a KES server speaking TLS, and its logs",
            ),
            Self::Incompatible(detail) => write!(
                f,
                "the server shares no TLS version, cipher suite or signature scheme with this \
                 client ({detail})"
            ),
            Self::Other(detail) => write!(f, "the TLS handshake failed: {detail}"),
        }
    }
}

impl TlsFailure {
    /// The TLS failure somewhere in `err`'s chain of causes, if there is one, for an error while
    /// connecting: there an early end of the connection means the handshake did not finish.
    ///
    /// rustls's error reaches the client inside an `io::Error` (hyper-rustls wraps tokio-rustls's
    /// `io::Error` in another), and `io::Error::source()` skips the error it wraps, so each one is
    /// opened by hand.
    pub(crate) fn find(err: &(dyn StdError + 'static)) -> Option<Self> {
        Self::search(err, true)
    }

    /// [`find`](Self::find) for an error on a connection whose handshake finished (a response body
    /// cut short): an early end there is not a TLS failure.
    pub(crate) fn find_after_handshake(err: &(dyn StdError + 'static)) -> Option<Self> {
        Self::search(err, false)
    }

    fn search(err: &(dyn StdError + 'static), handshaking: bool) -> Option<Self> {
        let mut current = Some(err);
        while let Some(err) = current {
            if let Some(tls) = err.downcast_ref::<rustls::Error>() {
                return Some(Self::from_rustls(tls));
            }
            if let Some(io) = err.downcast_ref::<io::Error>() {
                // tokio-rustls's kind for a connection closed before the handshake finished.
                if handshaking && io.kind() == io::ErrorKind::UnexpectedEof {
                    return Some(Self::ClosedDuringHandshake);
                }
                if let Some(inner) = io.get_ref() {
                    current = Some(inner);
                    continue;
                }
            }
            current = err.source();
        }
        None
    }

    /// The failure a rustls error stands for.
    pub(crate) fn from_rustls(err: &rustls::Error) -> Self {
        match err {
            rustls::Error::InvalidCertificate(cert) => Self::from_certificate(cert),
            rustls::Error::AlertReceived(alert) => match alert {
                AlertDescription::BadCertificate
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateRevoked
                | AlertDescription::CertificateExpired
                | AlertDescription::CertificateUnknown
                | AlertDescription::UnknownCA
                | AlertDescription::AccessDenied
                | AlertDescription::CertificateRequired => Self::ClientCertificateRefused(*alert),
                _ => Self::HandshakeRefused(*alert),
            },
            rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType)
            | rustls::Error::InvalidMessage(InvalidMessage::UnknownProtocolVersion) => Self::NotTls,
            rustls::Error::PeerIncompatible(why) => Self::Incompatible(format!("{why:?}")),
            other => Self::Other(other.to_string()),
        }
    }

    fn from_certificate(err: &CertificateError) -> Self {
        match err {
            CertificateError::UnknownIssuer => Self::UnknownIssuer,
            CertificateError::BadSignature
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                Self::IssuerMismatch
            }
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => Self::NameMismatch {
                names: Some((
                    expected.to_str().into_owned(),
                    presented.iter().map(|name| plain_name(name)).collect(),
                )),
            },
            CertificateError::NotValidForName => Self::NameMismatch { names: None },
            CertificateError::ExpiredContext { not_after, .. } => Self::Expired {
                not_after: datetime(*not_after),
            },
            CertificateError::Expired => Self::Expired { not_after: None },
            CertificateError::NotValidYetContext { not_before, .. } => Self::NotYetValid {
                not_before: datetime(*not_before),
            },
            CertificateError::NotValidYet => Self::NotYetValid { not_before: None },
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                Self::NotForServerAuth
            }
            CertificateError::Other(other)
                if matches!(
                    other.0.downcast_ref::<webpki::Error>(),
                    Some(webpki::Error::CaUsedAsEndEntity)
                ) =>
            {
                Self::CaAsEndEntity
            }
            other => {
                Self::BadCertificate(rustls::Error::InvalidCertificate(other.clone()).to_string())
            }
        }
    }
}

/// A name as webpki shows it (`DnsName("kes.example.net")`, `IpAddress(127.0.0.1)`), as the name.
fn plain_name(shown: &str) -> String {
    let unwrapped = shown
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .or_else(|| {
            shown
                .strip_prefix("IpAddress(")
                .and_then(|rest| rest.strip_suffix(')'))
        });
    unwrapped.unwrap_or(shown).to_owned()
}

fn datetime(time: UnixTime) -> Option<OffsetDateTime> {
    let secs = i64::try_from(time.as_secs()).ok()?;
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rustls_error_inside_an_io_error_is_found() {
        let io = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        assert_eq!(TlsFailure::find(&io), Some(TlsFailure::UnknownIssuer));
        // As hyper-rustls hands it on.
        let wrapped = io::Error::other(io);
        assert_eq!(TlsFailure::find(&wrapped), Some(TlsFailure::UnknownIssuer));
        let name = rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            presented: vec![
                "DnsName(\"kes.example.net\")".into(),
                "IpAddress(10.0.0.1)".into(),
            ],
        });
        assert_eq!(
            TlsFailure::from_rustls(&name).to_string(),
            "the server's certificate is not valid for 'localhost' (it names kes.example.net, \
             10.0.0.1). Connect to a name it has (--server, KES_SERVER), or reissue it with \
             'localhost' as a subject alternative name"
        );
        // Without rustls's context there is no name to quote, and no empty one is quoted.
        let unnamed = rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
        assert_eq!(
            TlsFailure::from_rustls(&unnamed).to_string(),
            "the server's certificate is not valid for the name connected to. Connect to a name \
             it has (--server, KES_SERVER), or reissue it with that name as a subject alternative \
             name"
        );
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(TlsFailure::find(&refused), None);
    }

    #[test]
    fn an_early_end_is_a_handshake_failure_only_while_connecting() {
        // A log stream cut mid-body reaches the client as an UnexpectedEof inside hyper's error.
        let cut = io::Error::other(io::Error::from(io::ErrorKind::UnexpectedEof));
        assert_eq!(
            TlsFailure::find(&cut),
            Some(TlsFailure::ClosedDuringHandshake)
        );
        assert_eq!(TlsFailure::find_after_handshake(&cut), None);
        // A real TLS error after the handshake is still one.
        let alert = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::InternalError),
        );
        assert!(TlsFailure::find_after_handshake(&alert).is_some());
    }
}
