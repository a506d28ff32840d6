//! `Keys`: the one handle every binding wraps, over keys in this process or behind a KES server.
//!
//! A *local* handle opens the key store itself (fs, Azure Key Vault, or memory) and does the crypto in
//! the calling process: no server, and so no policy check — the process holds the key store's
//! credentials and may do anything with its keys. A *remote* handle asks a KES server (kesrs or Go
//! KES) over mutual TLS, and the server's policies apply. Both answer the same operations with the same
//! [`Error`]s, so application code does not care which one it holds.
//!
//! Every operation is `async` here and blocking on [`BlockingKeys`]. Neither needs a tokio runtime
//! from the caller: handles share one runtime per process (`runtime`), whose context every
//! operation enters. A handle made before `fork()` fails at once in the child with [`Error::Forked`].

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use tokio::runtime::Handle;
use zeroize::Zeroizing;

#[cfg(feature = "client")]
use crate::client::{Client, Credentials};
use crate::config::{CacheConfig, KeyStoreConfig, KeysConfig};
use crate::keystore::{FsStore, MemoryStore};
#[cfg(feature = "client")]
use crate::StoreError;
use crate::{
    AsyncDataKeys, Context, DataKey, Envelope, Error, KeyInfo, KeyList, KeyName, KeyType, Kms,
    Pattern, StoreOp, StoreStatus,
};

mod blocking;
mod runtime;

pub use blocking::BlockingKeys;

/// Keys in this process ([`Keys::from_config`], [`Keys::from_fs`], [`Keys::in_memory`]) or behind a
/// KES server ([`Keys::connect`]). Cheap to clone; clones share the key store, cache and connections.
#[derive(Clone)]
pub struct Keys {
    engine: Engine,
    /// The shared runtime of the process that made the handle.
    runtime: Handle,
    /// The process that made the handle; any other one (a forked child) is refused.
    pid: u32,
}

#[derive(Clone)]
enum Engine {
    Local(Kms),
    #[cfg(feature = "client")]
    Remote(Client),
}

/// Where a remote handle connects, and as whom.
#[cfg(feature = "client")]
#[non_exhaustive]
#[derive(Debug)]
pub struct RemoteOptions {
    /// One or more endpoints serving the same keys (`https://host:port` or `host:port`); the first
    /// that answers is used, as the Go client does.
    pub endpoints: Vec<String>,
    /// An API key, or a client certificate and its key.
    pub credentials: Credentials,
    /// PEM CA certificates the server certificate must chain to; `None` trusts the system's roots.
    pub ca_pem: Option<Vec<u8>>,
}

#[cfg(feature = "client")]
impl RemoteOptions {
    /// Options for `endpoints` with `credentials`, trusting the system's CA roots.
    pub fn new(endpoints: Vec<String>, credentials: Credentials) -> Self {
        Self {
            endpoints,
            credentials,
            ca_pem: None,
        }
    }

    /// Trusts the CA certificates in `pem` instead of the system's roots (MinIO's
    /// `MINIO_KMS_KES_CAPATH`).
    pub fn with_ca_pem(mut self, pem: Vec<u8>) -> Self {
        self.ca_pem = Some(pem);
        self
    }

    /// Trusts the CA certificates in the PEM file at `path` instead of the system's roots (MinIO's
    /// `MINIO_KMS_KES_CAPATH` naming a file).
    pub fn with_ca_file(self, path: &Path) -> Result<Self, Error> {
        Ok(self.with_ca_pem(read_file(path)?))
    }

    /// The credentials MinIO's settings name: an API key (`MINIO_KMS_KES_API_KEY`) or a certificate
    /// and key file (`MINIO_KMS_KES_CERT_FILE`, `MINIO_KMS_KES_KEY_FILE`), exactly one of the two, as
    /// MinIO requires. For the bindings, whose callers pass these as optional arguments.
    pub fn credentials(
        api_key: Option<&str>,
        cert: Option<&Path>,
        key: Option<&Path>,
    ) -> Result<Credentials, Error> {
        match (api_key, cert, key) {
            (Some(api_key), None, None) => Ok(Credentials::ApiKey(crate::ApiKey::parse(api_key)?)),
            (None, Some(cert), Some(key)) => Self::certificate_files(cert, key),
            (None, None, None) => Err(Error::InvalidArgument(
                "no credentials: give an API key, or a certificate and its key".into(),
            )),
            (Some(_), _, _) => Err(Error::InvalidArgument(
                "an API key cannot be combined with a certificate or key file".into(),
            )),
            (None, _, _) => Err(Error::InvalidArgument(
                "a certificate file needs its key file, and a key file its certificate".into(),
            )),
        }
    }

    /// Reads the client certificate and key from PEM files (MinIO's `MINIO_KMS_KES_CERT_FILE` and
    /// `MINIO_KMS_KES_KEY_FILE`).
    pub fn certificate_files(cert: &Path, key: &Path) -> Result<Credentials, Error> {
        Ok(Credentials::Certificate {
            cert_pem: read_file(cert)?,
            key_pem: Zeroizing::new(read_file(key)?),
        })
    }
}

/// A file a caller named, or [`Error::InvalidArgument`] saying which one cannot be read and why.
#[cfg(feature = "client")]
fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|err| Error::InvalidArgument(format!("cannot read '{}': {err}", path.display())))
}

impl Keys {
    /// A local handle over the key store a KES config file names (its `keystore:` and `cache:`
    /// sections; `${NAME}` references read the environment, as the server does).
    pub fn from_config(path: &Path) -> Result<Self, Error> {
        let config = KeysConfig::from_file(path).map_err(Error::Config)?;
        Self::from_keystore(&config.keystore, config.cache)
    }

    /// A local handle over a KES fs key store: one file per key in `path`, created if missing.
    pub fn from_fs(path: &Path) -> Result<Self, Error> {
        let runtime = runtime::handle()?;
        let store = FsStore::open(path).map_err(|source| Error::KeyStore {
            op: StoreOp::Status,
            source,
        })?;
        Ok(Self::with_engine(
            Engine::Local(Kms::new(Arc::new(store), CacheConfig::default())),
            runtime,
        ))
    }

    /// A local handle over keys kept in memory only, lost when the last clone is dropped. For tests.
    pub fn in_memory() -> Result<Self, Error> {
        let runtime = runtime::handle()?;
        Ok(Self::with_engine(
            Engine::Local(Kms::new(
                Arc::new(MemoryStore::new()),
                CacheConfig::default(),
            )),
            runtime,
        ))
    }

    /// A local handle over a key store described in code.
    pub fn from_keystore(keystore: &KeyStoreConfig, cache: CacheConfig) -> Result<Self, Error> {
        let runtime = runtime::handle()?;
        // The Azure store builds its HTTP client here, inside the runtime that will drive it.
        let kms = {
            let _context = runtime.enter();
            Kms::open(keystore, cache)?
        };
        Ok(Self::with_engine(Engine::Local(kms), runtime))
    }

    /// A local handle over a [`Kms`] built in code (a store of one's own, Azure options beyond the
    /// config file's).
    pub fn from_kms(kms: Kms) -> Result<Self, Error> {
        Ok(Self::with_engine(Engine::Local(kms), runtime::handle()?))
    }

    /// A remote handle: the same operations, asked of a KES server over mutual TLS.
    #[cfg(feature = "client")]
    pub fn connect(options: RemoteOptions) -> Result<Self, Error> {
        if options.endpoints.is_empty() {
            return Err(Error::InvalidArgument("no endpoint given".into()));
        }
        let mut builder = Client::builder(options.endpoints).credentials(options.credentials);
        if let Some(pem) = options.ca_pem {
            builder = builder.ca_pem(pem).system_roots(false);
        }
        let runtime = runtime::handle()?;
        let client = {
            let _context = runtime.enter();
            builder.build()?
        };
        Ok(Self::with_engine(Engine::Remote(client), runtime))
    }

    /// The runtime that handles in this process run on, started (again, in a forked child) on first
    /// use. For bindings that bridge [`Keys`]' futures to another event loop (Python's asyncio): their
    /// tasks run here rather than on a second runtime, which a forked child would inherit dead.
    pub fn runtime() -> Result<Handle, Error> {
        runtime::handle()
    }

    /// Whether this handle asks a KES server (and so is subject to its policies).
    pub fn is_remote(&self) -> bool {
        !matches!(self.engine, Engine::Local(_))
    }

    /// The same handle with blocking methods.
    pub fn blocking(&self) -> BlockingKeys {
        BlockingKeys::new(self.clone())
    }

    /// Creates a new AES256 key.
    pub async fn create_key(&self, name: &KeyName) -> Result<(), Error> {
        self.run(async {
            match &self.engine {
                Engine::Local(kms) => kms.create_key(name, None).await,
                #[cfg(feature = "client")]
                Engine::Remote(client) => client.create_key(name).await,
            }
        })
        .await
    }

    /// Imports a 32-byte key for `algorithm`.
    pub async fn import_key(
        &self,
        name: &KeyName,
        key: &[u8],
        algorithm: KeyType,
    ) -> Result<(), Error> {
        self.run(async {
            match &self.engine {
                Engine::Local(kms) => kms.import_key(name, key, algorithm.as_str(), None).await,
                #[cfg(feature = "client")]
                Engine::Remote(client) => client.import_key(name, key, algorithm).await,
            }
        })
        .await
    }

    /// Describes a key.
    pub async fn describe_key(&self, name: &KeyName) -> Result<KeyInfo, Error> {
        self.run(async {
            match &self.engine {
                Engine::Local(kms) => kms.describe_key(name).await,
                #[cfg(feature = "client")]
                Engine::Remote(client) => client.describe_key(name).await,
            }
        })
        .await
    }

    /// Deletes a key.
    pub async fn delete_key(&self, name: &KeyName) -> Result<(), Error> {
        self.run(async {
            match &self.engine {
                Engine::Local(kms) => kms.delete_key(name).await,
                #[cfg(feature = "client")]
                Engine::Remote(client) => client.delete_key(name).await,
            }
        })
        .await
    }

    /// Lists the keys `pattern` selects (`*` all, a trailing `*` a prefix), sorted.
    pub async fn list_keys(&self, pattern: &Pattern) -> Result<KeyList, Error> {
        self.run(async {
            match &self.engine {
                Engine::Local(kms) => kms.list_keys(pattern).await,
                #[cfg(feature = "client")]
                Engine::Remote(client) => client.list_keys(pattern).await,
            }
        })
        .await
    }

    /// A fresh 32-byte data key and its KES ciphertext under `name`, bound to `context`.
    pub async fn generate_key(&self, name: &KeyName, context: &[u8]) -> Result<DataKey, Error> {
        self.run(async {
            match &self.engine {
                Engine::Local(kms) => kms.generate_key(name, context).await,
                #[cfg(feature = "client")]
                Engine::Remote(client) => client.generate_key(name, context).await,
            }
        })
        .await
    }

    /// Encrypts a small `plaintext` under `name`, bound to `context`, in KES's ciphertext format.
    pub async fn encrypt(
        &self,
        name: &KeyName,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<Vec<u8>, Error> {
        self.run(async {
            match &self.engine {
                Engine::Local(kms) => kms.encrypt(name, plaintext, context).await,
                #[cfg(feature = "client")]
                Engine::Remote(client) => client.encrypt(name, plaintext, context).await,
            }
        })
        .await
    }

    /// Decrypts a KES ciphertext (any format KES ever wrote) under `name` with `context`.
    pub async fn decrypt(
        &self,
        name: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.run(async {
            match &self.engine {
                Engine::Local(kms) => kms.decrypt(name, ciphertext, context).await,
                #[cfg(feature = "client")]
                Engine::Remote(client) => client.decrypt(name, ciphertext, context).await,
            }
        })
        .await
    }

    /// HMAC-SHA256 of `message` under the key's HMAC key (deterministic per key).
    pub async fn hmac(&self, name: &KeyName, message: &[u8]) -> Result<[u8; 32], Error> {
        self.run(async {
            match &self.engine {
                Engine::Local(kms) => kms.hmac(name, message).await,
                #[cfg(feature = "client")]
                Engine::Remote(client) => client.hmac(name, message).await,
            }
        })
        .await
    }

    /// The key store's health: its latency, or the error that it cannot be reached.
    pub async fn status(&self) -> Result<StoreStatus, Error> {
        self.run(async {
            match &self.engine {
                Engine::Local(kms) => kms.status().await,
                #[cfg(feature = "client")]
                Engine::Remote(client) => {
                    let status = client.status().await?;
                    match status.keystore_latency {
                        Some(latency) if !status.keystore_unreachable => {
                            Ok(StoreStatus { latency })
                        }
                        _ => Err(Error::KeyStore {
                            op: StoreOp::Status,
                            source: StoreError::Unreachable(
                                "the KES server cannot reach its key store".into(),
                            ),
                        }),
                    }
                }
            }
        })
        .await
    }

    /// Seals `plaintext` under the named key, bound to `context`: a fresh data key, the envelope of
    /// docs/envelope.md. [`Envelope`] over this handle adds streams, ranges, accepted key names and
    /// data-key reuse.
    pub async fn seal(
        &self,
        name: &KeyName,
        plaintext: &[u8],
        context: &Context,
    ) -> Result<Vec<u8>, Error> {
        Envelope::new(self.clone())
            .seal_async(name, plaintext, context)
            .await
    }

    /// Opens a sealed message with the context it was sealed with, using the key its header names.
    pub async fn open(
        &self,
        sealed: &[u8],
        context: &Context,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        Envelope::new(self.clone())
            .open_async(sealed, context)
            .await
    }

    fn with_engine(engine: Engine, runtime: Handle) -> Self {
        Self {
            engine,
            runtime,
            pid: std::process::id(),
        }
    }

    /// Runs an operation inside the shared runtime's context, in the process that made the handle.
    async fn run<T>(&self, operation: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        if std::process::id() != self.pid {
            return Err(Error::Forked);
        }
        runtime::enter(&self.runtime, operation).await
    }
}

/// Data keys for envelopes, from whichever engine the handle has.
#[async_trait::async_trait]
impl AsyncDataKeys for Keys {
    async fn generate(&self, key: &KeyName, context: &[u8]) -> Result<DataKey, Error> {
        self.generate_key(key, context).await
    }

    async fn decrypt(
        &self,
        key: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        Keys::decrypt(self, key, ciphertext, context).await
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("Keys");
        match &self.engine {
            Engine::Local(kms) => f.field("local", kms),
            #[cfg(feature = "client")]
            Engine::Remote(client) => f.field("remote", client),
        };
        f.finish_non_exhaustive()
    }
}
