//! Client identities (kes-protocol.md 4.1): the SHA-256 of a certificate's public key.
//!
//! KES hashes the DER SubjectPublicKeyInfo, not the whole certificate, so re-issuing a certificate for
//! the same key keeps the identity, and an API key's identity can be computed without any certificate.

use std::fmt;

use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::Error;

/// The length of an identity that a certificate can have: 64 lowercase hex digits.
const HASH_IDENTITY_LEN: usize = 64;

/// An identity: the lowercase hex SHA-256 of a certificate's SubjectPublicKeyInfo, or (for the admin
/// only) any other string, which disables admin access.
///
/// Identities compare as exact strings, as in KES: an upper-case hex identity never matches.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity(String);

impl Identity {
    /// The identity of a DER certificate.
    ///
    /// Fails with [`Error::InvalidCertificate`] if `der` is not exactly one X.509 certificate.
    pub fn of_certificate(der: &[u8]) -> Result<Self, Error> {
        let cert = parse_certificate(der)?;
        Ok(Self::of_spki(cert.public_key().raw))
    }

    /// The identity of a DER SubjectPublicKeyInfo.
    pub fn of_spki(spki_der: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(spki_der)))
    }

    /// Whether `der` is a CA certificate (basicConstraints cA=true); KES skips those in a client chain.
    ///
    /// A certificate that does not parse, or whose basicConstraints extension is malformed or
    /// duplicated, is not a CA: it then counts as a leaf, and computing its identity reports the error.
    pub fn is_ca_certificate(der: &[u8]) -> bool {
        parse_certificate(der)
            .ok()
            .and_then(|cert| {
                cert.basic_constraints()
                    .ok()
                    .flatten()
                    .map(|bc| bc.value.ca)
            })
            .unwrap_or(false)
    }

    /// Whether this identity can be a certificate's: 64 lowercase hex digits.
    ///
    /// An admin identity that is not is how a config disables admin access; KES prints it as
    /// `<disabled>` at start-up.
    pub fn is_public_key_hash(&self) -> bool {
        self.0.len() == HASH_IDENTITY_LEN
            && self
                .0
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    /// An identity as written in a config file (validated there).
    pub(crate) fn from_config(s: &str) -> Self {
        Self(s.to_owned())
    }

    /// The identity as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Parses exactly one DER certificate; like Go's `x509.ParseCertificate`, trailing bytes are an error.
fn parse_certificate(der: &[u8]) -> Result<X509Certificate<'_>, Error> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok((_, _)) => Err(Error::InvalidCertificate(
            "trailing data after the certificate".into(),
        )),
        Err(err) => Err(Error::InvalidCertificate(err.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors() -> serde_json::Value {
        serde_json::from_str(include_str!("../../tests/vectors/kes-vectors.json")).unwrap()
    }

    #[test]
    fn certificate_identity_vectors_with_an_spki() {
        let vectors = vectors();
        let cases = vectors["certificate_identity"].as_array().unwrap();
        let mut checked = 0;
        for case in cases {
            let Some(spki) = case.get("spki_der_hex") else {
                // Vector #0 gives only the identity of KES's root.cert; apikey.rs checks it through the
                // API key whose seed is root.key.
                continue;
            };
            let spki = hex::decode(spki.as_str().unwrap()).unwrap();
            let identity = Identity::of_spki(&spki);
            assert_eq!(identity.as_str(), case["identity"].as_str().unwrap());
            assert!(identity.is_public_key_hash());
            if let Some(whole) = case.get("not_the_identity_sha256_of_whole_cert_der") {
                assert_ne!(identity.as_str(), whole.as_str().unwrap());
            }
            checked += 1;
        }
        assert_eq!(checked, 1);
    }

    #[test]
    fn certificate_identity_hashes_the_spki_only() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let identity = Identity::of_certificate(cert.der()).unwrap();
        assert_eq!(identity, Identity::of_spki(&key.public_key_der()));
        assert!(!Identity::is_ca_certificate(cert.der()));
    }

    #[test]
    fn ca_certificates_are_recognised() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).unwrap();
        assert!(Identity::is_ca_certificate(ca.der()));

        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        let leaf = params.self_signed(&key).unwrap();
        assert!(!Identity::is_ca_certificate(leaf.der()));
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        for input in [&b""[..], b"\x30\x03\x02\x01\x00", b"not a certificate"] {
            let err = Identity::of_certificate(input).unwrap_err();
            assert!(matches!(err, Error::InvalidCertificate(_)), "{err:?}");
            assert!(!Identity::is_ca_certificate(input));
        }
    }

    #[test]
    fn trailing_data_is_rejected() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec![])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let mut der = cert.der().to_vec();
        der.push(0);
        let err = Identity::of_certificate(&der).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid certificate: trailing data after the certificate"
        );
    }

    #[test]
    fn public_key_hash_shape() {
        assert!(Identity::from_config(&"a".repeat(64)).is_public_key_hash());
        assert!(!Identity::from_config(&"A".repeat(64)).is_public_key_hash());
        assert!(!Identity::from_config(&"a".repeat(63)).is_public_key_hash());
        assert!(!Identity::from_config("disabled").is_public_key_hash());
    }
}
