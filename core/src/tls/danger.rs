//! DANGER: certificate verifiers that accept any certificate, for KES's default client-auth mode and
//! for `--insecure` clients.
//!
//! Both still check the handshake signature, so a peer proves it holds the private key of the
//! certificate it presents. That check uses the certificate's public key alone, as Go's TLS stack does
//! when it skips verification: rustls's certificate helpers first parse the certificate with webpki's
//! end-entity rules, which refuse X.509 v1 certificates (what `openssl x509 -req` makes without
//! extensions) and unknown critical extensions. KES accepts both, and so must kesrs.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{
    CertificateDer, ServerName, SignatureVerificationAlgorithm, SubjectPublicKeyInfoDer, UnixTime,
};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, PeerMisbehaved, SignatureScheme,
};

/// DANGER: accepts any client certificate without checking its chain or validity.
///
/// This is KES's default (`RequireAnyClientCert`): identities are pinned by public key, and MinIO never
/// renews its API-key certificate. The handshake signature is still verified.
#[derive(Debug)]
pub struct DangerAnyClientCertificate {
    signatures: HandshakeSignatures,
    mandatory: bool,
}

impl DangerAnyClientCertificate {
    /// A verifier using `provider`'s signature algorithms. Unless `mandatory`, a client may also
    /// connect without a certificate.
    pub fn new(provider: &CryptoProvider, mandatory: bool) -> Self {
        Self {
            signatures: HandshakeSignatures(provider.signature_verification_algorithms),
            mandatory,
        }
    }
}

impl ClientCertVerifier for DangerAnyClientCertificate {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.schemes()
    }
}

/// DANGER: accepts any server certificate (`--insecure`, and the black-box tests' clients): the
/// server's identity is NOT checked. The handshake signature is still verified.
#[derive(Debug)]
pub struct DangerAnyServerCertificate {
    signatures: HandshakeSignatures,
}

impl DangerAnyServerCertificate {
    /// A verifier using `provider`'s signature algorithms.
    pub fn new(provider: &CryptoProvider) -> Self {
        Self {
            signatures: HandshakeSignatures(provider.signature_verification_algorithms),
        }
    }
}

impl ServerCertVerifier for DangerAnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.schemes()
    }
}

/// Checks handshake signatures against a certificate's public key alone (see the module comment).
#[derive(Debug)]
struct HandshakeSignatures(WebPkiSupportedAlgorithms);

impl HandshakeSignatures {
    /// [`rustls::crypto::verify_tls12_signature`] against the public key alone. TLS 1.2 schemes do not
    /// name the curve: any algorithm the scheme maps to may verify, as rustls tries them.
    fn verify_tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let candidates = self.candidates(dss.scheme)?;
        let spki = public_key_of(cert)?;
        let key = webpki::RawPublicKeyEntity::try_from(&spki)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let verified = candidates.iter().any(|algorithm| {
            key.verify_signature(*algorithm, message, dss.signature())
                .is_ok()
        });
        if verified {
            Ok(HandshakeSignatureValid::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::BadSignature,
            ))
        }
    }

    /// [`rustls::crypto::verify_tls13_signature`] against the public key alone.
    fn verify_tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let spki = public_key_of(cert)?;
        rustls::crypto::verify_tls13_signature_with_raw_key(message, &spki, dss, &self.0)
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        // ring offers Ed25519, ECDSA (P-256, P-384) and RSA (PKCS#1 and PSS): what Go peers use.
        self.0.supported_schemes()
    }

    /// The signature algorithms `scheme` may stand for; an unsupported scheme is the peer's fault.
    fn candidates(
        &self,
        scheme: SignatureScheme,
    ) -> Result<&'static [&'static dyn SignatureVerificationAlgorithm], rustls::Error> {
        self.0
            .mapping
            .iter()
            .find(|(supported, _)| *supported == scheme)
            .map(|(_, algorithms)| *algorithms)
            .ok_or_else(|| PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme.into())
    }
}

/// A certificate's public key, taken with x509-parser's lenient rules rather than webpki's.
fn public_key_of(
    cert: &CertificateDer<'_>,
) -> Result<SubjectPublicKeyInfoDer<'static>, rustls::Error> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    Ok(SubjectPublicKeyInfoDer::from(
        parsed.tbs_certificate.subject_pki.raw.to_vec(),
    ))
}
