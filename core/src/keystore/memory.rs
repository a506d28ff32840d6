//! An in-memory key store, for `kesrs server --dev` and tests. Keys are lost on exit.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::Duration;

use zeroize::Zeroizing;

use super::{KeyStore, StoreError};
use crate::KeyName;

/// Keys in a map in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    keys: RwLock<BTreeMap<KeyName, Zeroizing<Vec<u8>>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl KeyStore for MemoryStore {
    async fn create(&self, name: &KeyName, value: &[u8]) -> Result<(), StoreError> {
        let mut keys = self.keys.write().map_err(poisoned)?;
        if keys.contains_key(name) {
            return Err(StoreError::Exists);
        }
        keys.insert(name.clone(), Zeroizing::new(value.to_vec()));
        Ok(())
    }

    async fn get(&self, name: &KeyName) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let keys = self.keys.read().map_err(poisoned)?;
        keys.get(name).cloned().ok_or(StoreError::NotFound)
    }

    async fn delete(&self, name: &KeyName) -> Result<(), StoreError> {
        let mut keys = self.keys.write().map_err(poisoned)?;
        keys.remove(name).map(drop).ok_or(StoreError::NotFound)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let keys = self.keys.read().map_err(poisoned)?;
        Ok(keys
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .map(|(name, _)| name.as_str())
            .take_while(|name| name.starts_with(prefix))
            .map(str::to_owned)
            .collect())
    }

    async fn status(&self) -> Result<Duration, StoreError> {
        Ok(Duration::ZERO)
    }
}

/// A panic while holding the lock cannot leave the map half-written (every write is one call), but
/// we still refuse to guess and report it.
fn poisoned<T>(_: std::sync::PoisonError<T>) -> StoreError {
    StoreError::Failed("in-memory key store lock poisoned".into())
}
