//! Which server certificates the client accepts: webpki's verdict, plus the one case Go's
//! crypto/x509 accepts and webpki refuses.
//!
//! `openssl req -x509` makes a self-signed certificate with `basicConstraints CA:TRUE` by default.
//! Given that file as the CA (`--ca`, `MINIO_KMS_KES_CAPATH`), MinIO and the `kes` CLI connect: Go
//! trusts a certificate found among its roots as is, the chain being the certificate alone. webpki
//! refuses any CA certificate presented as the end entity (`CaUsedAsEndEntity`). So when webpki
//! refuses exactly that, and the server's certificate is byte for byte one the caller gave as a CA,
//! the certificate is checked as Go checks a one-certificate chain: validity period, extended key
//! usage and the name dialed. Nothing else changes: every other certificate, chain and failure
//! takes webpki's verdict, and handshake signatures are webpki's.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// webpki's verifier, which also accepts a configured CA certificate presented as the end entity.
#[derive(Debug)]
pub(super) struct ServerVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    /// The CA certificates the caller gave (not the system's): the only ones trusted as is.
    given: Vec<CertificateDer<'static>>,
}

impl ServerVerifier {
    pub(super) fn new(
        webpki: Arc<WebPkiServerVerifier>,
        given: Vec<CertificateDer<'static>>,
    ) -> Self {
        Self { webpki, given }
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verdict {
            Err(err) if is_ca_used_as_end_entity(&err) && self.is_given(end_entity) => {
                verify_as_root(end_entity, server_name, now)
            }
            verdict => verdict,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

impl ServerVerifier {
    fn is_given(&self, cert: &CertificateDer<'_>) -> bool {
        self.given
            .iter()
            .any(|given| given.as_ref() == cert.as_ref())
    }
}

fn is_ca_used_as_end_entity(err: &rustls::Error) -> bool {
    matches!(
        err,
        rustls::Error::InvalidCertificate(CertificateError::Other(other))
            if matches!(
                other.0.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            )
    )
}

/// Go's checks of a chain that is one trusted certificate: it is valid now, its extended key usage
/// (if any) allows server authentication, and it names the host dialed.
fn verify_as_root(
    cert: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<ServerCertVerified, rustls::Error> {
    let bad_encoding = || rustls::Error::InvalidCertificate(CertificateError::BadEncoding);
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).map_err(|_| bad_encoding())?;
    let validity = parsed.validity();
    let not_before = unix_time(validity.not_before.timestamp());
    let not_after = unix_time(validity.not_after.timestamp());
    if now.as_secs() < not_before.as_secs() {
        return Err(CertificateError::NotValidYetContext {
            time: now,
            not_before,
        }
        .into());
    }
    if now.as_secs() > not_after.as_secs() {
        return Err(CertificateError::ExpiredContext {
            time: now,
            not_after,
        }
        .into());
    }
    match parsed.extended_key_usage() {
        Ok(None) => {}
        Ok(Some(eku)) if eku.value.server_auth || eku.value.any => {}
        Ok(Some(_)) => return Err(CertificateError::InvalidPurpose.into()),
        Err(_) => return Err(bad_encoding()),
    }
    let end_entity = webpki::EndEntityCert::try_from(cert).map_err(|_| bad_encoding())?;
    end_entity
        .verify_is_valid_for_subject_name(server_name)
        .map_err(|err| match err {
            webpki::Error::CertNotValidForName(context) => {
                CertificateError::NotValidForNameContext {
                    expected: context.expected,
                    presented: context.presented,
                }
                .into()
            }
            _ => rustls::Error::from(CertificateError::NotValidForName),
        })?;
    Ok(ServerCertVerified::assertion())
}

/// A certificate time; times before 1970 are the epoch, as they are long past either way.
fn unix_time(timestamp: i64) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(timestamp).unwrap_or(0),
    ))
}
