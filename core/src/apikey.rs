//! KES API keys (kes-protocol.md 4.5) and the certificates made from them.
//!
//! An API key is an Ed25519 seed. Its identity is the hash of its public key's SubjectPublicKeyInfo,
//! which is also the identity of every certificate made from it, so a client can present a fresh
//! self-signed certificate and still be the identity the server's config names.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use base64::alphabet;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, RemoteKeyPair, SanType, SerialNumber, SignatureAlgorithm,
};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::{Error, Identity};

/// The prefix of an API key's text form. Parsing strips it only if present, as the Go client does.
const PREFIX: &str = "kes:v1:";

/// The type byte that precedes the seed: Ed25519 is the only type.
const TYPE_ED25519: u8 = 0x00;

/// The DER SubjectPublicKeyInfo of an Ed25519 key, up to the 32 public key bytes (RFC 8410).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// PKCS#8 v1 `PrivateKeyInfo` for Ed25519 (RFC 8410), up to the 32 seed bytes.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// How long a certificate made from an API key is valid by default: 90 days, as in the Go client.
const DEFAULT_VALIDITY: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// Go's `base64.StdEncoding`: padded, and (unlike the `base64` crate's strict default) lenient about
/// unused trailing bits.
const BASE64_STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// A KES API key: an Ed25519 seed, written `kes:v1:` + base64(0x00 ‖ seed). Its `Debug` hides the seed.
pub struct ApiKey {
    seed: Zeroizing<[u8; 32]>,
    public_key: [u8; 32],
}

impl ApiKey {
    /// A fresh random API key.
    pub fn generate() -> Result<Self, Error> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|_| Error::Random)?;
        Ok(Self::from_seed(seed))
    }

    /// Parses `kes:v1:...` (the prefix is optional, as in the Go client).
    ///
    /// Errors are [`Error::InvalidApiKey`]: "invalid length" unless the text decodes to exactly 33
    /// bytes, "unsupported type" unless the first is the Ed25519 type byte 0x00.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let encoded = s.strip_prefix(PREFIX).unwrap_or(s);
        let decoded = Zeroizing::new(
            BASE64_STD
                .decode(encoded)
                .map_err(|_| Error::InvalidApiKey("invalid base64"))?,
        );
        let Some((&kind, seed)) = decoded.split_first() else {
            return Err(Error::InvalidApiKey("invalid length"));
        };
        let seed: &[u8; 32] = seed
            .try_into()
            .map_err(|_| Error::InvalidApiKey("invalid length"))?;
        if kind != TYPE_ED25519 {
            return Err(Error::InvalidApiKey("unsupported type"));
        }
        Ok(Self::from_seed(Zeroizing::new(*seed)))
    }

    /// The identity of this key's public key.
    pub fn identity(&self) -> Identity {
        let mut spki = [0u8; ED25519_SPKI_PREFIX.len() + 32];
        let (prefix, key) = spki.split_at_mut(ED25519_SPKI_PREFIX.len());
        prefix.copy_from_slice(&ED25519_SPKI_PREFIX);
        key.copy_from_slice(&self.public_key);
        Identity::of_spki(&spki)
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// The `kes:v1:...` text. Declassifies the secret: callers print it only where a user asked for it.
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new([0u8; 33]);
        let (kind, seed) = raw.split_at_mut(1);
        kind.copy_from_slice(&[TYPE_ED25519]);
        seed.copy_from_slice(self.seed.as_ref());
        let mut text = Zeroizing::new(String::with_capacity(PREFIX.len() + 44));
        text.push_str(PREFIX);
        BASE64_STD.encode_string(raw.as_ref(), &mut text);
        text
    }

    /// A self-signed client certificate for this key, as the Go client makes it: returns (cert DER,
    /// PKCS#8 private key DER).
    ///
    /// This is [`ApiKey::certificate`] with [`CertificateOptions::default`].
    pub fn client_certificate(&self) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), Error> {
        Ok(self.certificate(&CertificateOptions::default())?.into_der())
    }

    /// A self-signed Ed25519 certificate for this key, as `options` describe it.
    ///
    /// Every certificate gets a random serial below 2^128, is valid from now (UTC) for
    /// `options.validity`, and carries KeyUsage digitalSignature, basicConstraints cA=false and the
    /// clientAuth EKU (plus serverAuth if asked). Its identity is always [`ApiKey::identity`]. This is
    /// what `kes identity new --key/--cert` writes, and what the Go client presents for an API key.
    pub fn certificate(
        &self,
        options: &CertificateOptions,
    ) -> Result<SelfSignedCertificate, Error> {
        let mut params = CertificateParams::default();

        let mut serial = [0u8; 16];
        getrandom::fill(&mut serial).map_err(|_| Error::Random)?;
        params.serial_number = Some(SerialNumber::from_slice(&serial));

        let mut subject = DistinguishedName::new();
        match &options.common_name {
            Some(name) => subject.push(DnType::CommonName, name.as_str()),
            None => subject.push(DnType::CommonName, self.identity().as_str()),
        }
        params.distinguished_name = subject;

        // rcgen writes seconds only; truncating here keeps not_before and not_after consistent.
        let now = OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .map_err(|err| certificate_error(&err))?;
        let validity = time::Duration::try_from(options.validity)
            .map_err(|_| Error::InvalidCertificate("validity is too long".into()))?;
        params.not_before = now;
        params.not_after = now
            .checked_add(validity)
            .ok_or_else(|| Error::InvalidCertificate("validity is too long".into()))?;

        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if options.server_auth {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }

        for dns in &options.dns_names {
            let name = dns.clone().try_into().map_err(|_| {
                Error::InvalidCertificate(format!("'{dns}' is not a valid DNS name"))
            })?;
            params.subject_alt_names.push(SanType::DnsName(name));
        }
        params
            .subject_alt_names
            .extend(options.ip_addresses.iter().copied().map(SanType::IpAddress));

        let signer = KeyPair::from_remote(Box::new(Ed25519Signer {
            key: SigningKey::from_bytes(&self.seed),
            public_key: self.public_key,
        }))
        .map_err(|err| certificate_error(&err))?;
        let cert = params
            .self_signed(&signer)
            .map_err(|err| certificate_error(&err))?;

        Ok(SelfSignedCertificate {
            cert_der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            key_der: self.pkcs8_der(),
            key_pem: self.pkcs8_pem(),
        })
    }

    fn from_seed(seed: Zeroizing<[u8; 32]>) -> Self {
        let public_key = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        Self { seed, public_key }
    }

    /// The private key as PKCS#8 v1 DER (RFC 8410, no public key), byte for byte what Go's
    /// `x509.MarshalPKCS8PrivateKey` writes, so Go, OpenSSL and rustls read it.
    ///
    /// Written by hand because the encoding is a constant prefix and the seed, and because the
    /// `ed25519` crate's PKCS#8 type does not zeroize its copy of the seed in this build.
    fn pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        let mut der = Zeroizing::new(Vec::with_capacity(PKCS8_PREFIX.len() + 32));
        der.extend_from_slice(&PKCS8_PREFIX);
        der.extend_from_slice(self.seed.as_ref());
        der
    }

    /// [`ApiKey::pkcs8_der`] as a `PRIVATE KEY` PEM block.
    fn pkcs8_pem(&self) -> Zeroizing<String> {
        crate::pem_text::private_key_pem("PRIVATE KEY", self.pkcs8_der().as_slice())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("identity", &self.identity())
            .finish_non_exhaustive()
    }
}

/// What goes into a certificate made by [`ApiKey::certificate`].
///
/// The default is the client certificate the Go client makes for an API key: CN = the identity, no
/// SANs, valid for 90 days, clientAuth only. Change fields on a default value:
///
/// ```
/// # use kesrs_core::CertificateOptions;
/// let mut options = CertificateOptions::default();
/// options.dns_names.push("localhost".to_owned());
/// options.server_auth = true;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateOptions {
    /// The subject common name; `None` uses the identity hex, as the Go client does.
    pub common_name: Option<String>,
    /// DNS names for the subjectAltName extension (ASCII only).
    pub dns_names: Vec<String>,
    /// IP addresses for the subjectAltName extension.
    pub ip_addresses: Vec<IpAddr>,
    /// How long the certificate is valid, counted from now.
    pub validity: Duration,
    /// Whether the certificate may also authenticate a TLS server (adds the serverAuth EKU).
    pub server_auth: bool,
}

impl Default for CertificateOptions {
    fn default() -> Self {
        Self {
            common_name: None,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            validity: DEFAULT_VALIDITY,
            server_auth: false,
        }
    }
}

/// A certificate made by [`ApiKey::certificate`] and its private key. `Debug` hides the key.
pub struct SelfSignedCertificate {
    cert_der: Vec<u8>,
    cert_pem: String,
    key_der: Zeroizing<Vec<u8>>,
    key_pem: Zeroizing<String>,
}

impl SelfSignedCertificate {
    /// The certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The certificate as a `CERTIFICATE` PEM block.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PKCS#8 DER. Declassifies the secret.
    pub fn key_der(&self) -> &[u8] {
        &self.key_der
    }

    /// The private key as a PKCS#8 `PRIVATE KEY` PEM block. Declassifies the secret.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The certificate DER and the PKCS#8 private key DER.
    pub fn into_der(self) -> (Vec<u8>, Zeroizing<Vec<u8>>) {
        (self.cert_der, self.key_der)
    }
}

impl fmt::Debug for SelfSignedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelfSignedCertificate")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// Signs for rcgen with ed25519-dalek, whose key zeroizes itself on drop. Handing rcgen the PKCS#8
/// instead would leave copies of the seed in rcgen's and ring's key types, which are not zeroized.
struct Ed25519Signer {
    key: SigningKey,
    public_key: [u8; 32],
}

impl RemoteKeyPair for Ed25519Signer {
    fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        Ok(self.key.sign(msg).to_bytes().to_vec())
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_ED25519
    }
}

fn certificate_error(err: &dyn fmt::Display) -> Error {
    Error::InvalidCertificate(format!("cannot create certificate: {err}"))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use x509_parser::extensions::GeneralName;
    use x509_parser::prelude::{FromDer, X509Certificate};

    use super::*;

    fn vectors() -> serde_json::Value {
        serde_json::from_str(include_str!("../../tests/vectors/kes-vectors.json")).unwrap()
    }

    #[test]
    fn api_key_identity_vectors() {
        let vectors = vectors();
        let cases = vectors["api_key_identity"].as_array().unwrap();
        assert_eq!(cases.len(), 4);
        for case in cases {
            let key = ApiKey::parse(case["api_key"].as_str().unwrap()).unwrap();
            assert_eq!(
                hex::encode(key.public_key()),
                case["derived_ed25519_public_key_hex"].as_str().unwrap()
            );
            let spki = hex::decode(case["derived_spki_der_hex"].as_str().unwrap()).unwrap();
            assert_eq!(Identity::of_spki(&spki), key.identity());
            assert_eq!(key.identity().as_str(), case["identity"].as_str().unwrap());
        }
    }

    #[test]
    fn api_key_parse_vectors() {
        let vectors = vectors();
        let cases = vectors["api_key_parse"].as_array().unwrap();
        assert_eq!(cases.len(), 5);
        for case in cases {
            let input = case["input"].as_str().unwrap();
            match case["expected"].as_str().unwrap() {
                "ok" => {
                    let key = ApiKey::parse(input).unwrap();
                    assert_eq!(
                        key.to_secret_string().as_str(),
                        case["roundtrip_string"].as_str().unwrap()
                    );
                }
                "error" => {
                    let err = ApiKey::parse(input).unwrap_err();
                    assert!(matches!(err, Error::InvalidApiKey(_)), "{input}: {err:?}");
                }
                other => panic!("unknown expectation {other}"),
            }
        }
    }

    #[test]
    fn certificate_identity_vector_of_kes_root_cert() {
        // Vector certificate_identity #0 is KES's root.cert, whose key's seed is this API key
        // (api_key_identity #3). Any certificate made from the key has the identity of root.cert.
        let vectors = vectors();
        let case = &vectors["certificate_identity"][0];
        let root_seed = vectors["api_key_identity"][3]["api_key"].as_str().unwrap();
        let key = ApiKey::parse(root_seed).unwrap();
        let (der, _) = key.client_certificate().unwrap();
        assert_eq!(
            Identity::of_certificate(&der).unwrap().as_str(),
            case["identity"].as_str().unwrap()
        );
    }

    #[test]
    fn parse_errors_name_the_reason() {
        let cases = [
            (
                "kes:v1:sbDvZFqUPFFwxRS4EkuoEb2nyyInkdKSUEYHXFHeTouW",
                "unsupported type",
            ),
            ("kes:v1:AAAA", "invalid length"),
            ("", "invalid length"),
            ("kes:v1:", "invalid length"),
            (
                "kes:v1:AGaV6VXHasF0FnaB60WdCOeTZ8eTIDikL4zlN16c8NAsAAAA",
                "invalid length",
            ),
            (
                "kes:v1:AGaV6VXHasF0FnaB60WdCOeTZ8eTIDikL4zlN16c8NA!",
                "invalid base64",
            ),
            (
                "v1:AM0F5TP43FYEShMzA42f2drFYGnBOiNx7UH4DK0nm08E",
                "invalid base64",
            ),
        ];
        for (input, reason) in cases {
            let err = ApiKey::parse(input).unwrap_err();
            assert_eq!(
                err.message(),
                format!("kes: invalid API key: {reason}"),
                "{input}"
            );
            assert_eq!(err.status(), 400);
        }
    }

    #[test]
    fn prefix_is_optional() {
        let with = ApiKey::parse("kes:v1:AGaV6VXHasF0FnaB60WdCOeTZ8eTIDikL4zlN16c8NAs").unwrap();
        let without = ApiKey::parse("AGaV6VXHasF0FnaB60WdCOeTZ8eTIDikL4zlN16c8NAs").unwrap();
        assert_eq!(with.identity(), without.identity());
    }

    #[test]
    fn generated_keys_round_trip() {
        let key = ApiKey::generate().unwrap();
        let text = key.to_secret_string();
        assert_eq!(text.len(), 51);
        assert!(text.starts_with(PREFIX));
        let parsed = ApiKey::parse(&text).unwrap();
        assert_eq!(parsed.identity(), key.identity());
        assert_ne!(ApiKey::generate().unwrap().identity(), key.identity());
    }

    #[test]
    fn debug_hides_the_seed() {
        let key = ApiKey::parse("kes:v1:AGaV6VXHasF0FnaB60WdCOeTZ8eTIDikL4zlN16c8NAs").unwrap();
        let debug = format!("{key:?}");
        let seed_hex = hex::encode(key.seed.as_ref());
        assert!(!debug.contains(&seed_hex));
        assert!(!debug.contains("AGaV6VXHasF0FnaB60WdCOeTZ8eTIDikL4zlN16c8NAs"));
        assert!(debug.contains("ea9826089311fe44d7590408ede9150f7c637b6cab0a91ee6fe1aa5d9fb366f6"));

        let cert = key.certificate(&CertificateOptions::default()).unwrap();
        let debug = format!("{cert:?}");
        assert!(!debug.contains("PRIVATE KEY"));
        assert!(debug.contains("CERTIFICATE"));
    }

    #[test]
    fn client_certificate_is_what_the_go_client_makes() {
        let key = ApiKey::generate().unwrap();
        let (der, pkcs8) = key.client_certificate().unwrap();
        assert_eq!(Identity::of_certificate(&der).unwrap(), key.identity());
        assert!(!Identity::is_ca_certificate(&der));

        let (rest, cert) = X509Certificate::from_der(&der).unwrap();
        assert!(rest.is_empty());
        let cn = cert.subject().iter_common_name().next().unwrap();
        assert_eq!(cn.as_str().unwrap(), key.identity().as_str());
        assert_eq!(cert.issuer(), cert.subject());
        assert!(cert.raw_serial().len() <= 17, "serial must be below 2^128");
        assert!(cert.tbs_certificate.serial.bits() <= 128);

        let validity = cert.validity();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let not_before = validity.not_before.timestamp();
        assert!((now - not_before).abs() < 60);
        assert_eq!(validity.not_after.timestamp() - not_before, 90 * 24 * 3600);

        let usage = cert.key_usage().unwrap().unwrap();
        assert!(usage.value.digital_signature());
        assert!(!usage.value.key_cert_sign());
        let eku = cert.extended_key_usage().unwrap().unwrap();
        assert!(eku.value.client_auth);
        assert!(!eku.value.server_auth);
        let bc = cert.basic_constraints().unwrap().unwrap();
        assert!(!bc.value.ca);
        assert!(cert.subject_alternative_name().unwrap().is_none());

        // The certificate verifies under its own key: it really is self-signed.
        let public = ed25519_dalek::VerifyingKey::from_bytes(key.public_key()).unwrap();
        let signature = ed25519_dalek::Signature::from_slice(&cert.signature_value.data).unwrap();
        public
            .verify_strict(cert.tbs_certificate.as_ref(), &signature)
            .unwrap();

        // The private key is the RFC 8410 PKCS#8 v1 encoding Go writes, and decodes to the same key.
        assert_eq!(pkcs8.len(), 48);
        assert_eq!(
            hex::encode(&pkcs8[..16]),
            "302e020100300506032b657004220420"
        );
        assert_eq!(&pkcs8[16..], key.seed.as_ref());

        let reference = ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: *key.seed,
            public_key: None,
        };
        assert_eq!(
            reference.to_pkcs8_der().unwrap().as_bytes(),
            pkcs8.as_slice()
        );
        let pem = reference
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        assert_eq!(
            key.certificate(&CertificateOptions::default())
                .unwrap()
                .key_pem(),
            pem.as_str()
        );

        // ring (rustls's provider here) loads it as an Ed25519 key with the same public key.
        let loaded = KeyPair::from_pkcs8_der_and_sign_algo(
            &rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_slice()),
            &rcgen::PKCS_ED25519,
        )
        .unwrap();
        assert_eq!(loaded.public_key_raw(), key.public_key());
    }

    #[test]
    fn serials_are_random() {
        let key = ApiKey::generate().unwrap();
        let a = key.client_certificate().unwrap().0;
        let b = key.client_certificate().unwrap().0;
        let serial = |der: &[u8]| {
            X509Certificate::from_der(der)
                .unwrap()
                .1
                .raw_serial()
                .to_vec()
        };
        assert_ne!(serial(&a), serial(&b));
    }

    #[test]
    fn server_certificate_options() {
        let key = ApiKey::generate().unwrap();
        let options = CertificateOptions {
            common_name: Some("localhost".into()),
            dns_names: vec!["localhost".into(), "kes.example.com".into()],
            ip_addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            validity: Duration::from_secs(3600),
            server_auth: true,
        };
        let issued = key.certificate(&options).unwrap();

        assert_eq!(
            Identity::of_certificate(issued.cert_der()).unwrap(),
            key.identity()
        );
        let (_, cert) = X509Certificate::from_der(issued.cert_der()).unwrap();
        let cn = cert.subject().iter_common_name().next().unwrap();
        assert_eq!(cn.as_str().unwrap(), "localhost");
        let eku = cert.extended_key_usage().unwrap().unwrap();
        assert!(eku.value.client_auth && eku.value.server_auth);
        let validity = cert.validity();
        assert_eq!(
            validity.not_after.timestamp() - validity.not_before.timestamp(),
            3600
        );
        let san = cert.subject_alternative_name().unwrap().unwrap();
        let names: Vec<String> = san
            .value
            .general_names
            .iter()
            .map(|name| match name {
                GeneralName::DNSName(dns) => (*dns).to_owned(),
                GeneralName::IPAddress(ip) => format!("ip:{}", hex::encode(ip)),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["localhost", "kes.example.com", "ip:7f000001"]);

        assert!(issued
            .cert_pem()
            .starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(issued
            .key_pem()
            .starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(issued.key_pem().ends_with("-----END PRIVATE KEY-----\n"));
        let (der, key_der) = issued.into_der();
        assert!(!der.is_empty());
        assert_eq!(key_der.len(), 48);
    }

    #[test]
    fn bad_certificate_options_are_errors() {
        let key = ApiKey::generate().unwrap();
        let options = CertificateOptions {
            dns_names: vec!["bücher.example".into()],
            ..CertificateOptions::default()
        };
        let err = key.certificate(&options).unwrap_err();
        assert!(matches!(err, Error::InvalidCertificate(_)), "{err:?}");

        let options = CertificateOptions {
            validity: Duration::MAX,
            ..CertificateOptions::default()
        };
        let err = key.certificate(&options).unwrap_err();
        assert_eq!(err.to_string(), "invalid certificate: validity is too long");
    }
}
