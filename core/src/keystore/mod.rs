//! Key stores: where stored key values live.
//!
//! A key store only stores opaque values under key names; it knows nothing about crypto. That keeps
//! each backend small and makes its on-disk (or in-vault) bytes exactly what KES writes, so kesrs and Go
//! KES can share a key store.

use std::fmt;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::KeyName;

mod fs;
mod memory;

pub use fs::FsStore;
pub use memory::MemoryStore;

/// A backend that stores KES key values.
///
/// Implementations must be safe to call concurrently and must not block the async runtime.
#[async_trait::async_trait]
pub trait KeyStore: Send + Sync + fmt::Debug + 'static {
    /// Stores `value` under `name`; [`StoreError::Exists`] if the name is taken.
    async fn create(&self, name: &KeyName, value: &[u8]) -> Result<(), StoreError>;

    /// The value stored under `name`; [`StoreError::NotFound`] if there is none.
    async fn get(&self, name: &KeyName) -> Result<Zeroizing<Vec<u8>>, StoreError>;

    /// Removes `name`; [`StoreError::NotFound`] if there is none.
    async fn delete(&self, name: &KeyName) -> Result<(), StoreError>;

    /// All key names starting with `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// Whether the store is reachable, and how long it took to find out.
    async fn status(&self) -> Result<Duration, StoreError>;
}

/// What a key store reports when an operation fails.
#[non_exhaustive]
#[derive(Debug)]
pub enum StoreError {
    /// No value is stored under the name.
    NotFound,
    /// A value is already stored under the name.
    Exists,
    /// The store could not be reached (network, DNS, missing directory); the cache may serve offline.
    Unreachable(Box<dyn std::error::Error + Send + Sync>),
    /// The store was reached and failed.
    Failed(Box<dyn std::error::Error + Send + Sync>),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("key does not exist"),
            Self::Exists => f.write_str("key already exists"),
            Self::Unreachable(err) => write!(f, "key store is not reachable: {err}"),
            Self::Failed(err) => write!(f, "key store failed: {err}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unreachable(err) | Self::Failed(err) => Some(err.as_ref()),
            Self::NotFound | Self::Exists => None,
        }
    }
}
