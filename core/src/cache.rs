//! The key cache: parsed keys, so that steady traffic on a key never touches the key store.
//!
//! KES expires its cache with periodic whole-cache sweeps run by background tickers. kesrs checks the
//! same rules per entry when the entry is used, so the cache needs no background task and no runtime of
//! its own (the bindings embed `Kms` in programs that may not run one):
//! - `any`: an entry is refreshed from the store once it is this old;
//! - `unused`: an entry not used for this long is refreshed;
//! - `offline`: while the store is unreachable, an entry keeps serving until it is this old.
//!
//! Concurrent misses for one key wait for a single key-store read. A read that fails is not cached,
//! but the callers that were waiting for it share its failure instead of queueing more reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::config::CacheConfig;
use crate::format::KeyVersion;
use crate::kms::store_error;
use crate::{Error, KeyName, KeyStore, StoreError, StoreOp};

/// After the store was found unreachable, it is asked again at most this often (KES probes every 10 s).
const RETRY_OFFLINE_AFTER: Duration = Duration::from_secs(10);

/// How long a health probe may take while the store is known to be unreachable.
const OFFLINE_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Entries that cannot be served any more are dropped in a sweep at most this often.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

pub(crate) struct Cache {
    config: CacheConfig,
    epoch: Instant,
    entries: DashMap<KeyName, Arc<Entry>>,
    fetches: DashMap<KeyName, Arc<tokio::sync::Mutex<Option<Failure>>>>,
    health: Health,
    last_sweep: AtomicU64,
}

struct Entry {
    version: Arc<KeyVersion>,
    fetched_at: Instant,
    /// Milliseconds since the cache epoch of the last use.
    used_at: AtomicU64,
}

/// A failed key-store read, kept only to answer the callers that waited for it with the same error.
struct Failure {
    at: Instant,
    kind: FailureKind,
}

enum FailureKind {
    /// The store has no such key: waiters must see 404 too (MinIO creates its key on exactly that).
    NotFound,
    /// The store could not be reached: waiters may be served from the offline cache.
    Unreachable(String),
    /// The store failed, or the stored value is not a key.
    Failed(String),
}

/// Whether the key store was last seen unreachable, and when.
struct Health {
    offline_since: Mutex<Option<Instant>>,
    retry_after: Duration,
}

impl Cache {
    pub(crate) fn new(config: CacheConfig) -> Self {
        Self {
            config,
            epoch: Instant::now(),
            entries: DashMap::new(),
            fetches: DashMap::new(),
            health: Health {
                offline_since: Mutex::new(None),
                retry_after: RETRY_OFFLINE_AFTER,
            },
            last_sweep: AtomicU64::new(0),
        }
    }

    /// The key `name`, from the cache if it may be served, otherwise from the store.
    pub(crate) async fn get(
        &self,
        name: &KeyName,
        store: &dyn KeyStore,
    ) -> Result<Arc<KeyVersion>, Error> {
        let now = Instant::now();
        if let Some(version) = self.fresh(name, now) {
            return Ok(version);
        }
        let fetch = self
            .fetches
            .entry(name.clone())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(None)))
            .clone();
        let mut last_failure = fetch.lock().await;
        // Whoever held the lock before us may have read the key, or failed while we waited.
        if let Some(version) = self.fresh(name, Instant::now()) {
            return Ok(version);
        }
        if let Some(failure) = last_failure.as_ref().filter(|f| f.at >= now) {
            let unreachable = matches!(failure.kind, FailureKind::Unreachable(_));
            return self.stale_or(name, failure.to_error(), unreachable);
        }
        if self.health.recently_offline() {
            if let Some(version) = self.offline_entry(name) {
                return Ok(version);
            }
        }

        let result = store.get(name).await;
        let version = match result {
            Ok(value) => {
                self.health.set_online();
                KeyVersion::decode(&value).map(Arc::new)
            }
            Err(StoreError::Unreachable(err)) => {
                self.health.set_offline();
                let failure = Failure::new(FailureKind::Unreachable(err.to_string()));
                let error = failure.to_error();
                *last_failure = Some(failure);
                return self.stale_or(name, error, true);
            }
            Err(err) => {
                let kind = match &err {
                    StoreError::NotFound => FailureKind::NotFound,
                    other => FailureKind::Failed(other.to_string()),
                };
                *last_failure = Some(Failure::new(kind));
                self.entries.remove(name);
                return Err(store_error(StoreOp::Read, err));
            }
        };
        let version = match version {
            Ok(version) => version,
            Err(err) => {
                *last_failure = Some(Failure::new(FailureKind::Failed(err.to_string())));
                return Err(err);
            }
        };
        *last_failure = None;
        let now = Instant::now();
        self.entries.insert(
            name.clone(),
            Arc::new(Entry {
                version: Arc::clone(&version),
                fetched_at: now,
                used_at: AtomicU64::new(self.millis(now)),
            }),
        );
        drop(last_failure);
        self.fetches
            .remove_if(name, |_, m| Arc::strong_count(m) <= 2);
        self.sweep(now);
        Ok(version)
    }

    /// Drops `name` from the cache.
    pub(crate) fn remove(&self, name: &KeyName) {
        self.entries.remove(name);
    }

    /// The store's health. While the store is known to be unreachable, the probe gets only
    /// [`OFFLINE_PROBE_TIMEOUT`], so readiness checks answer quickly during an outage and turn
    /// healthy as soon as the store answers again.
    pub(crate) async fn status(&self, store: &dyn KeyStore) -> Result<Duration, Error> {
        let probe = store.status();
        let result = if self.health.recently_offline() {
            tokio::time::timeout(OFFLINE_PROBE_TIMEOUT, probe)
                .await
                .unwrap_or_else(|_| Err(StoreError::Unreachable("key store is offline".into())))
        } else {
            probe.await
        };
        match result {
            Ok(latency) => {
                self.health.set_online();
                Ok(latency)
            }
            Err(source) => {
                if matches!(source, StoreError::Unreachable(_)) {
                    self.health.set_offline();
                }
                Err(Error::KeyStore {
                    op: StoreOp::Status,
                    source,
                })
            }
        }
    }

    fn fresh(&self, name: &KeyName, now: Instant) -> Option<Arc<KeyVersion>> {
        let entry = self.entries.get(name)?;
        let age = now.saturating_duration_since(entry.fetched_at);
        if !self.config.any.is_zero() && age >= self.config.any {
            return None;
        }
        let now_ms = self.millis(now);
        let used_at = entry.used_at.load(Ordering::Relaxed);
        if !self.config.unused.is_zero()
            && Duration::from_millis(now_ms.saturating_sub(used_at)) >= self.config.unused
        {
            return None;
        }
        entry.used_at.fetch_max(now_ms, Ordering::Relaxed);
        Some(Arc::clone(&entry.version))
    }

    /// A cached entry that may still serve while the store is unreachable.
    fn offline_entry(&self, name: &KeyName) -> Option<Arc<KeyVersion>> {
        if self.config.offline.is_zero() {
            return None;
        }
        let entry = self.entries.get(name)?;
        (entry.fetched_at.elapsed() < self.config.offline).then(|| Arc::clone(&entry.version))
    }

    fn stale_or(
        &self,
        name: &KeyName,
        error: Error,
        unreachable: bool,
    ) -> Result<Arc<KeyVersion>, Error> {
        if unreachable {
            if let Some(version) = self.offline_entry(name) {
                return Ok(version);
            }
        }
        Err(error)
    }

    /// Drops entries that can be served neither online nor offline.
    fn sweep(&self, now: Instant) {
        let now_ms = self.millis(now);
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < SWEEP_EVERY.as_millis() as u64
            || self
                .last_sweep
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let keep_for = self.config.any.max(self.config.offline);
        if keep_for.is_zero() {
            return;
        }
        self.entries
            .retain(|_, entry| now.saturating_duration_since(entry.fetched_at) < keep_for);
    }

    fn millis(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }
}

impl Failure {
    fn new(kind: FailureKind) -> Self {
        Self {
            at: Instant::now(),
            kind,
        }
    }

    /// The error the failed read returned, rebuilt for a waiter.
    fn to_error(&self) -> Error {
        let source = match &self.kind {
            FailureKind::NotFound => return Error::KeyNotFound,
            FailureKind::Unreachable(cause) => StoreError::Unreachable(cause.clone().into()),
            FailureKind::Failed(cause) => StoreError::Failed(cause.clone().into()),
        };
        Error::KeyStore {
            op: StoreOp::Read,
            source,
        }
    }
}

impl Health {
    fn recently_offline(&self) -> bool {
        self.offline_since
            .lock()
            .map(|since| since.is_some_and(|t| t.elapsed() < self.retry_after))
            .unwrap_or(false)
    }

    fn set_offline(&self) {
        if let Ok(mut since) = self.offline_since.lock() {
            *since = Some(Instant::now());
        }
    }

    fn set_online(&self) {
        if let Ok(mut since) = self.offline_since.lock() {
            *since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    /// A store holding legacy JSON keys that counts reads and can be made slow or unreachable.
    #[derive(Debug, Default)]
    struct TestStore {
        reads: AtomicU64,
        unreachable: AtomicBool,
        delay: Duration,
    }

    const KEY: &[u8] = br#"{"bytes":"J8qmOyEV2ce2yoAC+5t0Y7CSP/hTMppL7XHpAnyc+0E="}"#;

    #[async_trait::async_trait]
    impl KeyStore for TestStore {
        async fn create(&self, _: &KeyName, _: &[u8]) -> Result<(), StoreError> {
            unimplemented!("not used by the cache")
        }

        async fn get(&self, name: &KeyName) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            if self.unreachable.load(Ordering::SeqCst) {
                return Err(StoreError::Unreachable("connection refused".into()));
            }
            match name.as_str() {
                "missing" => Err(StoreError::NotFound),
                "corrupt" => Ok(b"not a key".to_vec().into()),
                _ => Ok(KEY.to_vec().into()),
            }
        }

        async fn delete(&self, _: &KeyName) -> Result<(), StoreError> {
            unimplemented!("not used by the cache")
        }

        async fn list(&self, _: &str) -> Result<Vec<String>, StoreError> {
            unimplemented!("not used by the cache")
        }

        async fn status(&self) -> Result<Duration, StoreError> {
            if self.unreachable.load(Ordering::SeqCst) {
                return Err(StoreError::Unreachable("connection refused".into()));
            }
            Ok(Duration::from_millis(1))
        }
    }

    fn config(any_ms: u64, unused_ms: u64, offline_ms: u64) -> CacheConfig {
        CacheConfig {
            any: Duration::from_millis(any_ms),
            unused: Duration::from_millis(unused_ms),
            offline: Duration::from_millis(offline_ms),
        }
    }

    fn name(s: &str) -> KeyName {
        KeyName::new(s).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_read_the_store_once() {
        let store = Arc::new(TestStore {
            delay: Duration::from_millis(100),
            ..Default::default()
        });
        let cache = Arc::new(Cache::new(CacheConfig::default()));
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (cache, store) = (Arc::clone(&cache), Arc::clone(&store));
                tokio::spawn(async move { cache.get(&name("k"), store.as_ref()).await.map(drop) })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);
        // Steady traffic on a cached key does not touch the store at all.
        for _ in 0..1000 {
            cache.get(&name("k"), store.as_ref()).await.unwrap();
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_share_one_failure() {
        let store = Arc::new(TestStore {
            delay: Duration::from_millis(100),
            unreachable: AtomicBool::new(true),
            ..Default::default()
        });
        let cache = Arc::new(Cache::new(CacheConfig::default()));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, store) = (Arc::clone(&cache), Arc::clone(&store));
                tokio::spawn(async move { cache.get(&name("k"), store.as_ref()).await.map(drop) })
            })
            .collect();
        for task in tasks {
            let err = task.await.unwrap().unwrap_err();
            assert_eq!(
                (err.status(), err.message().as_str()),
                (502, "failed to read key")
            );
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);
    }

    /// Concurrent requests for a missing key all get 404: MinIO nodes starting together probe the
    /// default key at once and create it only on exactly that answer (found by tests/go-compat).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_of_a_missing_key_all_get_not_found() {
        let store = Arc::new(TestStore {
            delay: Duration::from_millis(50),
            ..Default::default()
        });
        let cache = Arc::new(Cache::new(CacheConfig::default()));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, store) = (Arc::clone(&cache), Arc::clone(&store));
                tokio::spawn(
                    async move { cache.get(&name("missing"), store.as_ref()).await.map(drop) },
                )
            })
            .collect();
        for task in tasks {
            let err = task.await.unwrap().unwrap_err();
            assert_eq!(
                (err.status(), err.message().as_str()),
                (404, "key does not exist")
            );
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn expired_entries_are_read_again() {
        let store = TestStore::default();
        let cache = Cache::new(config(50, 0, 0));
        cache.get(&name("k"), &store).await.unwrap();
        cache.get(&name("k"), &store).await.unwrap();
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(80)).await;
        cache.get(&name("k"), &store).await.unwrap();
        assert_eq!(store.reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn unused_entries_are_read_again_but_used_ones_are_not() {
        let store = TestStore::default();
        let cache = Cache::new(config(0, 120, 0));
        cache.get(&name("k"), &store).await.unwrap();
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            cache.get(&name("k"), &store).await.unwrap();
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(150)).await;
        cache.get(&name("k"), &store).await.unwrap();
        assert_eq!(store.reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn missing_and_corrupt_keys_are_not_cached() {
        let store = TestStore::default();
        let cache = Cache::new(CacheConfig::default());
        for _ in 0..2 {
            let err = cache
                .get(&name("missing"), &store)
                .await
                .map(drop)
                .unwrap_err();
            assert_eq!(
                (err.status(), err.message().as_str()),
                (404, "key does not exist")
            );
            let err = cache
                .get(&name("corrupt"), &store)
                .await
                .map(drop)
                .unwrap_err();
            assert_eq!(
                (err.status(), err.message().as_str()),
                (502, "failed to read key")
            );
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn cached_keys_serve_offline_for_the_offline_period() {
        let store = TestStore::default();
        let mut cache = Cache::new(config(30, 0, 400));
        cache.health.retry_after = Duration::from_millis(100);
        cache.get(&name("k"), &store).await.unwrap();
        store.unreachable.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;

        // Expired, the store is down: the cached key keeps serving and the outage is reported.
        cache.get(&name("k"), &store).await.unwrap();
        let err = cache.status(&store).await.map(drop).unwrap_err();
        assert_eq!(
            (err.status(), err.message().as_str()),
            (504, "key store is not reachable")
        );
        // While the store is known to be down, requests do not wait for it again.
        let reads = store.reads.load(Ordering::SeqCst);
        cache.get(&name("k"), &store).await.unwrap();
        assert_eq!(store.reads.load(Ordering::SeqCst), reads);
        // An uncached key cannot be served.
        let err = cache
            .get(&name("other"), &store)
            .await
            .map(drop)
            .unwrap_err();
        assert_eq!(err.status(), 502);

        // The store comes back: the next health probe sees it, and service resumes by itself.
        store.unreachable.store(false, Ordering::SeqCst);
        cache.status(&store).await.unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        cache.get(&name("other"), &store).await.unwrap();
    }

    #[tokio::test]
    async fn cached_keys_stop_serving_when_the_offline_period_ends() {
        let store = TestStore::default();
        let cache = Cache::new(config(30, 0, 100));
        cache.get(&name("k"), &store).await.unwrap();
        store.unreachable.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(150)).await;
        let err = cache.get(&name("k"), &store).await.map(drop).unwrap_err();
        assert_eq!(
            (err.status(), err.message().as_str()),
            (502, "failed to read key")
        );
    }

    #[tokio::test]
    async fn without_offline_caching_expired_keys_fail_during_an_outage() {
        let store = TestStore::default();
        let cache = Cache::new(config(30, 0, 0));
        cache.get(&name("k"), &store).await.unwrap();
        store.unreachable.store(true, Ordering::SeqCst);
        // Still fresh: served from the cache without asking the store.
        cache.get(&name("k"), &store).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            cache
                .get(&name("k"), &store)
                .await
                .map(drop)
                .unwrap_err()
                .status(),
            502
        );
    }
}
