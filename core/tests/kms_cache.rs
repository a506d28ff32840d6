//! The key cache against creates and deletes that race with a key-store read in flight.

// `setup` is not a `#[test]` function, so clippy.toml's test allowances do not reach it.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kesrs_core::config::CacheConfig;
use kesrs_core::keystore::MemoryStore;
use kesrs_core::{KeyName, KeyStore, Kms, StoreError};
use zeroize::Zeroizing;

/// A memory store whose reads see the store when they start and answer 200 ms later, like a slow
/// round trip to Azure. Counts its reads.
#[derive(Debug, Default)]
struct SlowReads {
    store: MemoryStore,
    reads: AtomicUsize,
}

#[async_trait::async_trait]
impl KeyStore for SlowReads {
    async fn create(&self, name: &KeyName, value: &[u8]) -> Result<(), StoreError> {
        self.store.create(name, value).await
    }

    async fn get(&self, name: &KeyName) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let value = self.store.get(name).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        value
    }

    async fn delete(&self, name: &KeyName) -> Result<(), StoreError> {
        self.store.delete(name).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.store.list(prefix).await
    }

    async fn status(&self) -> Result<Duration, StoreError> {
        self.store.status().await
    }
}

fn setup() -> (Arc<SlowReads>, Kms, KeyName) {
    let store = Arc::new(SlowReads::default());
    let kms = Kms::new(
        Arc::clone(&store) as Arc<dyn KeyStore>,
        CacheConfig::default(),
    );
    (store, kms, KeyName::new("k").unwrap())
}

/// A read that began before a delete must not put the deleted key back into the cache: once the
/// name is created again, data would be sealed with a key no node can find any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_in_flight_across_a_delete_does_not_cache_the_deleted_key() {
    let (store, kms, name) = setup();
    kms.create_key(&name, None).await.unwrap();
    let reader = tokio::spawn({
        let (kms, name) = (kms.clone(), name.clone());
        async move { kms.encrypt(&name, b"x", b"").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    kms.delete_key(&name).await.unwrap();
    // The request overlapped the delete, so either answer is right for it.
    let _ = reader.await.unwrap();
    kms.create_key(&name, None).await.unwrap();

    let ciphertext = kms.encrypt(&name, b"data", b"").await.unwrap();
    let other_node = Kms::new(store as Arc<dyn KeyStore>, CacheConfig::default());
    let plaintext = other_node.decrypt(&name, &ciphertext, b"").await.unwrap();
    assert_eq!(plaintext.as_slice(), b"data");
}

/// A request that starts after `create_key` returned must find the key, even while an older read
/// that found nothing is still answering its waiters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_not_found_from_before_a_create_is_not_shared_after_it() {
    let (_, kms, name) = setup();
    let early = tokio::spawn({
        let (kms, name) = (kms.clone(), name.clone());
        async move { kms.describe_key(&name).await.map(drop) }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    kms.create_key(&name, None).await.unwrap();
    kms.describe_key(&name).await.unwrap();
    assert_eq!(early.await.unwrap().unwrap_err().status(), 404);
}

/// Callers that were waiting before a create of another key still share the one read's answer;
/// only the cache fill is given up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_elsewhere_costs_one_more_read_not_one_per_waiter() {
    let (store, kms, name) = setup();
    kms.create_key(&name, None).await.unwrap();
    let readers: Vec<_> = (0..16)
        .map(|_| {
            let (kms, name) = (kms.clone(), name.clone());
            tokio::spawn(async move { kms.describe_key(&name).await.map(drop) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    kms.create_key(&KeyName::new("other").unwrap(), None)
        .await
        .unwrap();
    for reader in readers {
        reader.await.unwrap().unwrap();
    }
    assert_eq!(store.reads.load(Ordering::SeqCst), 1);
    // That read was not cached (a create happened meanwhile); the next one is.
    for _ in 0..3 {
        kms.describe_key(&name).await.unwrap();
    }
    assert_eq!(store.reads.load(Ordering::SeqCst), 2);
}
