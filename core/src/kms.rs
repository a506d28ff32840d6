//! The `Kms` facade: every key operation kesrs offers, with no HTTP in it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::cache::Cache;
use crate::config::{CacheConfig, KeyStoreConfig};
use crate::crypto::{HmacKey, SecretKey};
use crate::format::KeyVersion;
use crate::keystore::{AzureOptions, AzureStore, FsStore, MemoryStore};
use crate::{Error, Identity, KeyName, KeyStore, KeyType, Pattern, StoreError, StoreOp};

/// Key management over one key store, with KES's formats and a key cache.
///
/// Cheap to clone; clones share the store and the cache. Every method is `async` but does its crypto
/// inline: the only awaits are key-store I/O, and cached keys never touch the store.
#[derive(Clone)]
pub struct Kms {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn KeyStore>,
    cache: Cache,
}

/// A fresh data key: the plaintext to encrypt data with, and its ciphertext under a named key.
pub struct DataKey {
    plaintext: Zeroizing<[u8; 32]>,
    ciphertext: Vec<u8>,
}

/// What `describe_key` tells about a key.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct KeyInfo {
    /// The key's name.
    pub name: KeyName,
    /// The cipher the key is used with.
    pub algorithm: KeyType,
    /// When the key was created (the zero time for legacy keys without one).
    pub created_at: OffsetDateTime,
    /// Who created the key, if recorded.
    pub created_by: Option<String>,
}

/// A page of key names.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct KeyList {
    /// Matching names, sorted.
    pub names: Vec<String>,
    /// Where the next page starts, if the listing was cut short.
    pub continue_at: Option<String>,
}

/// The key store's health.
#[non_exhaustive]
#[derive(Debug, Clone, Copy)]
pub struct StoreStatus {
    /// How long the key store took to answer the probe.
    pub latency: Duration,
}

impl Kms {
    /// A `Kms` over `store`, caching keys as `cache` says.
    pub fn new(store: Arc<dyn KeyStore>, cache: CacheConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                cache: Cache::new(cache),
            }),
        }
    }

    /// Opens the key store a config names.
    pub fn open(keystore: &KeyStoreConfig, cache: CacheConfig) -> Result<Self, Error> {
        let store: Arc<dyn KeyStore> = match keystore {
            KeyStoreConfig::Fs { path } => {
                Arc::new(FsStore::open(path).map_err(|source| Error::KeyStore {
                    op: StoreOp::Status,
                    source,
                })?)
            }
            KeyStoreConfig::Memory => Arc::new(MemoryStore::new()),
            KeyStoreConfig::Azure(config) => {
                let store = AzureOptions::from_config(config)
                    .and_then(|options| AzureStore::connect(&options))
                    .map_err(|source| Error::KeyStore {
                        op: StoreOp::Status,
                        source,
                    })?;
                Arc::new(store)
            }
        };
        Ok(Self::new(store, cache))
    }

    /// Creates a new AES256 key. `created_by` is recorded in the key.
    pub async fn create_key(
        &self,
        name: &KeyName,
        created_by: Option<&Identity>,
    ) -> Result<(), Error> {
        let key = SecretKey::generate(KeyType::Aes256)?;
        self.store_new(name, key, created_by).await
    }

    /// Imports a 32-byte key. `cipher` is one of KES's four spellings; a fresh HMAC key is generated.
    pub async fn import_key(
        &self,
        name: &KeyName,
        key: &[u8],
        cipher: &str,
        created_by: Option<&Identity>,
    ) -> Result<(), Error> {
        let kind = KeyType::from_cipher(cipher)?;
        let key = SecretKey::from_bytes(kind, key, cipher)?;
        self.store_new(name, key, created_by).await
    }

    /// Describes a key.
    pub async fn describe_key(&self, name: &KeyName) -> Result<KeyInfo, Error> {
        let version = self.key(name).await?;
        Ok(KeyInfo {
            name: name.clone(),
            algorithm: version.key.kind(),
            created_at: version.created_at,
            created_by: version.created_by.clone(),
        })
    }

    /// Deletes a key from the store and from this cache.
    pub async fn delete_key(&self, name: &KeyName) -> Result<(), Error> {
        let result = self.inner.store.delete(name).await;
        // Evict even on failure: a half-failed delete must not leave a key usable here.
        self.inner.cache.invalidate(name);
        result.map_err(|source| store_error(StoreOp::Delete, source))
    }

    /// Lists the keys a pattern selects (a trailing `*` is a prefix wildcard).
    pub async fn list_keys(&self, pattern: &Pattern) -> Result<KeyList, Error> {
        let names = self
            .inner
            .store
            .list(pattern.prefix())
            .await
            .map_err(|source| store_error(StoreOp::List, source))?;
        Ok(KeyList {
            names,
            continue_at: None,
        })
    }

    /// Generates a 32-byte data key and its ciphertext under `name`, bound to `context`.
    pub async fn generate_key(&self, name: &KeyName, context: &[u8]) -> Result<DataKey, Error> {
        let (plaintext, ciphertext) = self.key(name).await?.key.generate_data_key(context)?;
        Ok(DataKey::new(plaintext, ciphertext))
    }

    /// Encrypts `plaintext` under `name`, bound to `context`.
    pub async fn encrypt(
        &self,
        name: &KeyName,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<Vec<u8>, Error> {
        self.key(name).await?.key.seal(plaintext, context)
    }

    /// Decrypts a KES ciphertext (current or legacy format) under `name` with `context`.
    pub async fn decrypt(
        &self,
        name: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.key(name).await?.key.open(ciphertext, context)
    }

    /// HMAC-SHA256 of `message` with the key's HMAC key; legacy keys have none.
    pub async fn hmac(&self, name: &KeyName, message: &[u8]) -> Result<[u8; 32], Error> {
        let version = self.key(name).await?;
        let hmac_key = version.hmac_key.as_ref().ok_or(Error::HmacNotSupported)?;
        Ok(hmac_key.mac(message))
    }

    /// Probes the key store (through the cache's view of its health).
    pub async fn status(&self) -> Result<StoreStatus, Error> {
        let latency = self.inner.cache.status(self.inner.store.as_ref()).await?;
        Ok(StoreStatus { latency })
    }

    /// Tries every key-store operation on the temporary key `name` and removes it again
    /// ([`KeyStore::probe`]). Bypasses the cache. For `kesrs check`, never for client requests.
    pub async fn probe_key_store(&self, name: &KeyName) -> Vec<crate::keystore::ProbeStep> {
        self.inner.store.probe(name).await
    }

    async fn key(&self, name: &KeyName) -> Result<Arc<KeyVersion>, Error> {
        self.inner.cache.get(name, self.inner.store.as_ref()).await
    }

    async fn store_new(
        &self,
        name: &KeyName,
        key: SecretKey,
        created_by: Option<&Identity>,
    ) -> Result<(), Error> {
        let version = KeyVersion {
            key,
            hmac_key: Some(HmacKey::generate()?),
            created_at: OffsetDateTime::now_utc(),
            created_by: created_by.map(|id| id.as_str().to_owned()),
        };
        let value = version.encode()?;
        let result = self.inner.store.create(name, &value).await;
        // Even a failed create may have reached the store (a timeout, say): in-flight reads of the
        // name may be older than the key, so none of them may answer for it.
        self.inner.cache.invalidate(name);
        result.map_err(|source| store_error(StoreOp::Create, source))
    }
}

impl fmt::Debug for Kms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kms")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl DataKey {
    pub(crate) fn new(plaintext: Zeroizing<[u8; 32]>, ciphertext: Vec<u8>) -> Self {
        Self {
            plaintext,
            ciphertext,
        }
    }

    /// A data key from its parts: for [`DataKeys`](crate::DataKeys) implementations outside kesrs.
    pub fn from_parts(plaintext: Zeroizing<[u8; 32]>, ciphertext: Vec<u8>) -> Self {
        Self::new(plaintext, ciphertext)
    }

    /// The plaintext data key. Declassifies it: use it to encrypt data, then drop it.
    pub fn plaintext(&self) -> &[u8; 32] {
        &self.plaintext
    }

    /// The data key encrypted under the named key, as KES returns it.
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// The plaintext (wiped when dropped) and the ciphertext, for callers that keep them apart.
    pub fn into_parts(self) -> (Zeroizing<[u8; 32]>, Vec<u8>) {
        (self.plaintext, self.ciphertext)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// Maps a key-store failure to the API error for `op`; not-found and exists keep their KES meaning.
fn store_error(op: StoreOp, source: StoreError) -> Error {
    match source {
        StoreError::NotFound => Error::KeyNotFound,
        StoreError::Exists => Error::KeyExists,
        source => Error::KeyStore { op, source },
    }
}
