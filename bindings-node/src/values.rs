//! The JS shapes of core's inputs and results: plain objects, `Buffer`s, contexts.

use std::collections::HashMap;
use std::fmt;

use kesrs_core::{DataKey as CoreDataKey, KeyInfo as CoreKeyInfo, KeyList as CoreKeyList};
use napi::bindgen_prelude::{Buffer, Either, Uint8ArraySlice};
use napi_derive::napi;
use zeroize::Zeroizing;

/// The associated-data bytes of a context: bytes as they are, or a string map as MinIO makes it
/// (JSON, keys sorted); none is the empty context.
///
/// Callers spell the type out rather than use an alias: napi-derive writes the TypeScript type from
/// the tokens it sees, and an alias would become an undefined name in `native.d.ts`.
pub(crate) fn context_bytes(
    context: Option<Either<Uint8ArraySlice<'_>, HashMap<String, String>>>,
) -> Vec<u8> {
    match context {
        None => Vec::new(),
        Some(Either::A(bytes)) => bytes.to_vec(),
        Some(Either::B(map)) => kesrs_core::Context::from_map(&map).into_bytes(),
    }
}

/// A copy of JS bytes that is wiped when dropped: it may be a key or a plaintext.
pub(crate) fn secret_bytes(bytes: &Uint8ArraySlice<'_>) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(bytes.to_vec())
}

/// Where `Keys.connect` connects, and as whom: `apiKey`, or `cert` and `key`.
#[napi(object)]
pub struct ConnectOptions {
    /// KES servers serving the same keys (`https://host:port`); the first that answers is used.
    pub endpoints: Vec<String>,
    /// A `kes:v1:` API key (the client certificate is made from it).
    pub api_key: Option<String>,
    /// Path to the PEM client certificate (with `key`).
    pub cert: Option<String>,
    /// Path to the PEM private key of `cert`.
    pub key: Option<String>,
    /// Path to PEM CA certificates the server must chain to; the system's roots if absent.
    pub ca: Option<String>,
}

/// Without the API key, which is a secret.
impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("endpoints", &self.endpoints)
            .field("api_key", &self.api_key.as_ref().map(|_| ".."))
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("ca", &self.ca)
            .finish()
    }
}

/// A fresh data key: use `plaintext` (32 bytes) to encrypt, store `ciphertext` beside the data.
///
/// The object the package returns hides `plaintext` from `util.inspect` and `JSON.stringify`.
#[napi(object)]
pub struct DataKey {
    /// The 32-byte key. Do not store it; decrypt `ciphertext` to get it back.
    pub plaintext: Buffer,
    /// The key encrypted under the named key, in KES's format: what MinIO and Go KES store.
    pub ciphertext: Buffer,
}

/// Without the plaintext key.
impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

impl From<CoreDataKey> for DataKey {
    fn from(key: CoreDataKey) -> Self {
        let (plaintext, ciphertext) = key.into_parts();
        // JS owns the copy from here on; ours is wiped when `plaintext` drops.
        Self {
            plaintext: Buffer::from(plaintext.to_vec()),
            ciphertext: Buffer::from(ciphertext),
        }
    }
}

/// A key's metadata.
#[napi(object)]
#[derive(Debug)]
pub struct KeyInfo {
    /// The key's name.
    pub name: String,
    /// `AES256` or `ChaCha20`.
    pub algorithm: String,
    /// When the key was made (RFC 3339, as KES reports it).
    pub created_at: String,
    /// The identity that made it, if recorded.
    pub created_by: Option<String>,
}

impl From<CoreKeyInfo> for KeyInfo {
    fn from(info: CoreKeyInfo) -> Self {
        Self {
            name: info.name.as_str().to_owned(),
            algorithm: info.algorithm.as_str().to_owned(),
            created_at: kesrs_core::rfc3339(&info.created_at),
            created_by: info.created_by,
        }
    }
}

/// Key names that matched a pattern, sorted.
#[napi(object)]
#[derive(Debug)]
pub struct KeyList {
    /// The names.
    pub names: Vec<String>,
    /// Set when a server returned only part of the list: where the next page starts.
    pub continue_at: Option<String>,
}

impl From<CoreKeyList> for KeyList {
    fn from(list: CoreKeyList) -> Self {
        Self {
            names: list.names,
            continue_at: list.continue_at,
        }
    }
}

/// The key store's health.
#[napi(object)]
#[derive(Debug)]
pub struct StoreStatus {
    /// How long the key store took to answer, in milliseconds.
    pub latency_ms: f64,
}
