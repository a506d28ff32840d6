//! The JSON bodies of the KES v1 API, as the client sends and reads them.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::ServerStatus;
use crate::{Error, Identity, Policy};

/// Borrowed bytes sent as standard padded base64.
pub(super) struct Base64<'a>(pub(super) &'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The bytes may be a plaintext or a key: the text is wiped too.
        serializer.serialize_str(&Zeroizing::new(b64(self.0)))
    }
}

/// Bytes received as base64; zeroized on drop because they may be key material.
pub(super) struct Bytes(Zeroizing<Vec<u8>>);

impl Bytes {
    pub(super) fn as_slice(&self) -> &[u8] {
        &self.0
    }

    pub(super) fn to_vec(&self) -> Vec<u8> {
        self.0.to_vec()
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(deserializer)?);
        STANDARD
            .decode(text.as_bytes())
            .map(|bytes| Self(Zeroizing::new(bytes)))
            .map_err(de::Error::custom)
    }
}

/// The optional `context` field: omitted when empty, as the Go client omits it.
pub(super) fn context(context: &[u8]) -> Option<Base64<'_>> {
    (!context.is_empty()).then_some(Base64(context))
}

pub(super) fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[derive(Serialize)]
pub(super) struct ImportKey<'a> {
    pub(super) key: Base64<'a>,
    pub(super) cipher: &'a str,
}

#[derive(Serialize)]
pub(super) struct Context<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) context: Option<Base64<'a>>,
}

#[derive(Serialize)]
pub(super) struct Encrypt<'a> {
    pub(super) plaintext: Base64<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) context: Option<Base64<'a>>,
}

#[derive(Serialize)]
pub(super) struct Decrypt<'a> {
    pub(super) ciphertext: Base64<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) context: Option<Base64<'a>>,
}

#[derive(Serialize)]
pub(super) struct Hmac<'a> {
    pub(super) message: Base64<'a>,
}

#[derive(Deserialize)]
pub(super) struct DataKey {
    pub(super) plaintext: Bytes,
    pub(super) ciphertext: Bytes,
}

#[derive(Deserialize)]
pub(super) struct Ciphertext {
    pub(super) ciphertext: Bytes,
}

#[derive(Deserialize)]
pub(super) struct Plaintext {
    #[serde(deserialize_with = "zeroizing_bytes")]
    pub(super) plaintext: Zeroizing<Vec<u8>>,
}

#[derive(Deserialize)]
pub(super) struct HmacResponse {
    pub(super) hmac: Bytes,
}

#[derive(Deserialize)]
pub(super) struct KeyInfo {
    pub(super) algorithm: String,
    #[serde(default)]
    pub(super) created_at: String,
    #[serde(default)]
    pub(super) created_by: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct KeyNames {
    #[serde(default)]
    pub(super) names: Vec<String>,
    #[serde(default)]
    pub(super) continue_at: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct PolicyNames {
    #[serde(default)]
    pub(super) names: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct IdentityNames {
    #[serde(default)]
    pub(super) identities: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct PolicyInfo {
    name: String,
    #[serde(default)]
    allow: Rules,
    #[serde(default)]
    deny: Rules,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    created_by: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct IdentityInfo {
    #[serde(default)]
    identity: Option<String>,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    allow: Rules,
    #[serde(default)]
    deny: Rules,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    created_by: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Status {
    #[serde(default)]
    version: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    arch: String,
    #[serde(default)]
    uptime: u64,
    #[serde(default)]
    num_cpu: u64,
    #[serde(default)]
    num_cpu_used: u64,
    #[serde(default)]
    mem_heap_used: u64,
    #[serde(default)]
    mem_stack_used: u64,
    /// Nanoseconds from kesrs, milliseconds from Go KES: reported as sent.
    #[serde(default)]
    keystore_latency: u64,
    #[serde(default)]
    keystore_unreachable: bool,
}

impl From<Status> for ServerStatus {
    fn from(s: Status) -> Self {
        Self {
            version: s.version,
            os: s.os,
            arch: s.arch,
            uptime: Duration::from_secs(s.uptime),
            num_cpu: s.num_cpu,
            num_cpu_used: s.num_cpu_used,
            mem_heap_used: s.mem_heap_used,
            mem_stack_used: s.mem_stack_used,
            keystore_latency: (!s.keystore_unreachable)
                .then(|| Duration::from_nanos(s.keystore_latency)),
            keystore_unreachable: s.keystore_unreachable,
        }
    }
}

impl From<PolicyInfo> for super::PolicyInfo {
    fn from(p: PolicyInfo) -> Self {
        Self {
            name: p.name,
            policy: policy(p.allow, p.deny),
            created_at: parse_time(&p.created_at),
            created_by: p.created_by.filter(|s| !s.is_empty()),
        }
    }
}

impl IdentityInfo {
    pub(super) fn into_info(self) -> (super::IdentityInfo, Policy) {
        let policy = policy(self.allow, self.deny);
        let info = super::IdentityInfo {
            identity: self
                .identity
                .filter(|s| !s.is_empty())
                .map(|s| Identity::from_config(&s)),
            policy: self.policy.filter(|s| !s.is_empty()),
            admin: self.admin,
            created_at: parse_time(&self.created_at),
            created_by: self.created_by.filter(|s| !s.is_empty()),
        };
        (info, policy)
    }
}

/// A policy from KES's `{"pattern":{}}` maps.
fn policy(allow: Rules, deny: Rules) -> Policy {
    Policy {
        allow: allow.into_keys().collect(),
        deny: deny.into_keys().collect(),
    }
}

/// KES's policy rules on the wire: a map from pattern to an empty object.
type Rules = BTreeMap<String, serde_json::Value>;

pub(super) fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// A request body. It may carry a plaintext or a key, so it is written into one buffer of exactly
/// its size (measured first: a growing buffer would leave copies behind) and wiped on drop.
pub(super) fn json<T: Serialize>(value: &T) -> Result<Zeroizing<Vec<u8>>, Error> {
    let unencodable = |_| Error::Protocol("request body not encodable");
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, value).map_err(unencodable)?;
    let mut body = Zeroizing::new(Vec::with_capacity(counter.0));
    serde_json::to_writer(&mut *body, value).map_err(unencodable)?;
    Ok(body)
}

/// Counts the bytes written to it.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(super) fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|_| Error::Protocol("malformed response body"))
}

fn zeroizing_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Zeroizing<Vec<u8>>, D::Error> {
    Ok(Bytes::deserialize(d)?.0)
}
