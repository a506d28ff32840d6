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

    /// The identity of a TLS client from the certificate chain it presented: the SPKI hash of the
    /// end-entity certificate, the first of the chain, whose private key signed the handshake.
    ///
    /// KES takes the first certificate *not* marked as a CA instead. That lets anyone act as anyone whose
    /// public certificate they hold: they sign the handshake with a self-made CA certificate of their own
    /// key and send the victim's certificate after it, and KES names the victim. So kesrs refuses every
    /// chain in which KES's rule and the handshake's signer could disagree:
    /// - an end entity marked as a CA is refused ([`ClientChainError::NoCertificate`] when no other
    ///   certificate could be taken for the client, as KES answers then; otherwise
    ///   [`ClientChainError::CaEndEntity`]);
    /// - any further certificate not marked as a CA is refused ([`ClientChainError::TooMany`], as KES).
    ///
    /// CA certificates after the end entity (intermediates a client sends along) are allowed, as in KES.
    pub fn of_client_chain<C: AsRef<[u8]>>(chain: &[C]) -> Result<Self, ClientChainError> {
        let (end_entity, rest) = chain.split_first().ok_or(ClientChainError::NoCertificate)?;
        let another_leaf = rest
            .iter()
            .any(|cert| !Self::is_ca_certificate(cert.as_ref()));
        if Self::is_ca_certificate(end_entity.as_ref()) {
            return Err(if another_leaf {
                ClientChainError::CaEndEntity
            } else {
                ClientChainError::NoCertificate
            });
        }
        if another_leaf {
            return Err(ClientChainError::TooMany);
        }
        Self::of_certificate(end_entity.as_ref())
            .map_err(|err| ClientChainError::Invalid(err.message()))
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

/// Why a TLS client's certificate chain gives no identity ([`Identity::of_client_chain`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientChainError {
    /// No certificate, or only certificates marked as a CA (KES: `tls: client certificate is required`).
    NoCertificate,
    /// More than one certificate not marked as a CA (KES: `tls: received more than one client
    /// certificate`).
    TooMany,
    /// The certificate that signed the handshake is marked as a CA while a later one is not: the chain
    /// KES would name after a certificate whose private key the client never proved it holds.
    CaEndEntity,
    /// The end-entity certificate does not parse; carries [`Error::InvalidCertificate`]'s message.
    Invalid(String),
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

    fn self_signed(key: &rcgen::KeyPair, is_ca: bool) -> rcgen::Certificate {
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params.is_ca = if is_ca {
            rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained)
        } else {
            rcgen::IsCa::ExplicitNoCa
        };
        params.self_signed(key).unwrap()
    }

    #[test]
    fn a_client_chain_is_named_after_its_end_entity_only() {
        let attacker = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let victim = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let attacker_leaf = self_signed(&attacker, false);
        let attacker_ca = self_signed(&attacker, true);
        let victim_leaf = self_signed(&victim, false);
        let other_ca = self_signed(
            &rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
            true,
        );
        let attacker_id = Identity::of_spki(&attacker.public_key_der());
        let of = |chain: &[&rcgen::Certificate]| {
            let ders: Vec<&[u8]> = chain.iter().map(|c| c.der().as_ref()).collect();
            Identity::of_client_chain(&ders)
        };

        assert_eq!(of(&[&attacker_leaf]), Ok(attacker_id.clone()));
        // Intermediates after the end entity do not change who it is.
        assert_eq!(of(&[&attacker_leaf, &other_ca]), Ok(attacker_id.clone()));
        assert_eq!(
            of(&[&attacker_leaf, &other_ca, &attacker_ca]),
            Ok(attacker_id)
        );
        // The spoof: a CA certificate of the attacker's key signs, the victim's certificate follows.
        assert_eq!(
            of(&[&attacker_ca, &victim_leaf]),
            Err(ClientChainError::CaEndEntity)
        );
        assert_eq!(
            of(&[&attacker_ca, &other_ca, &victim_leaf]),
            Err(ClientChainError::CaEndEntity)
        );
        // A second leaf after the end entity, as KES.
        assert_eq!(
            of(&[&attacker_leaf, &victim_leaf]),
            Err(ClientChainError::TooMany)
        );
        // Nothing but CA certificates, or nothing at all: KES's "client certificate is required".
        assert_eq!(of(&[&attacker_ca]), Err(ClientChainError::NoCertificate));
        assert_eq!(
            of(&[&attacker_ca, &other_ca]),
            Err(ClientChainError::NoCertificate)
        );
        assert_eq!(of(&[]), Err(ClientChainError::NoCertificate));
        // An end entity that does not parse is reported, whatever follows it.
        let garbage: &[u8] = b"not a certificate";
        assert!(matches!(
            Identity::of_client_chain(&[garbage]),
            Err(ClientChainError::Invalid(_))
        ));
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
