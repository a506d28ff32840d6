//! The key cache: parsed keys, so that steady traffic on a key never touches the key store.
//!
//! KES expires its cache with periodic whole-cache sweeps run by background tickers. kesrs checks the
//! same rules per entry when the entry is used, so the cache spawns no background task (the bindings
//! embed `Kms` in programs whose runtime they do not own). Its calls still run on a tokio runtime with a
//! timer: the offline probe has a deadline. The rules:
//! - `any`: an entry is refreshed from the store once it is this old;
//! - `unused`: an entry not used for this long is refreshed;
//! - `offline`: while the store is unreachable, an entry keeps serving until it is this old.
//!
//! Concurrent misses for one key wait for a single key-store read and share its answer. A read that
//! fails is not cached, but the callers that were waiting for it share its failure instead of
//! queueing more reads.
//!
//! Creating or deleting a key bumps a generation counter. A read that was in flight across such a
//! change does not fill the cache, and only the callers that were already waiting before the change
//! share its answer: it may have seen the store before the change, and a deleted key must not be
//! served again, nor a "not found" outlive the key's creation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::config::CacheConfig;
use crate::format::KeyVersion;
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
    fetches: DashMap<KeyName, Arc<Fetch>>,
    /// Bumped by every create and delete, under the name's `entries` shard lock.
    generation: AtomicU64,
    health: Health,
    last_sweep: AtomicU64,
}

struct Entry {
    version: Arc<KeyVersion>,
    fetched_at: Instant,
    /// Milliseconds since the cache epoch of the last use.
    used_at: AtomicU64,
}

/// The single key-store read for one name, and the answer of the last one.
type Fetch = tokio::sync::Mutex<Option<Answer>>;

/// The answer of a key-store read, kept only for the callers that waited for it.
struct Answer {
    at: Instant,
    /// The cache's generation when the read started.
    generation: u64,
    outcome: Result<Arc<KeyVersion>, FailureKind>,
}

#[derive(Clone)]
enum FailureKind {
    /// The store has no such key: waiters must see 404 too (MinIO creates its key on exactly that).
    NotFound,
    /// The store could not be reached: waiters may be served from the offline cache.
    Unreachable(String),
    /// The store failed.
    Failed(String),
    /// The stored value is not a key.
    Corrupt(&'static str),
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
            generation: AtomicU64::new(0),
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
        let arrived_in = self.generation.load(Ordering::SeqCst);
        let fetch = FetchGuard::new(self, name);
        let mut last = fetch.lock().await;
        // Whoever held the lock before us may have read the key, or failed while we waited.
        if let Some(version) = self.fresh(name, Instant::now()) {
            return Ok(version);
        }
        if let Some(answer) = last
            .as_ref()
            .filter(|a| a.at >= now && a.generation >= arrived_in)
        {
            return match &answer.outcome {
                Ok(version) => Ok(Arc::clone(version)),
                Err(kind) => {
                    let unreachable = matches!(kind, FailureKind::Unreachable(_));
                    self.stale_or(name, kind.to_error(), unreachable)
                }
            };
        }
        if self.health.recently_offline() {
            if let Some(version) = self.offline_entry(name) {
                return Ok(version);
            }
        }

        let generation = self.generation.load(Ordering::SeqCst);
        let result = self.read(name, store).await;
        *last = Some(Answer {
            at: Instant::now(),
            generation,
            outcome: match &result {
                Ok(version) => Ok(Arc::clone(version)),
                Err(kind) => Err(kind.clone()),
            },
        });
        match result {
            Ok(version) => {
                let now = Instant::now();
                // The shard lock orders this check against `invalidate`'s bump. It must be released
                // before the sweep, which locks every shard.
                let slot = self.entries.entry(name.clone());
                if self.generation.load(Ordering::SeqCst) == generation {
                    slot.insert(Arc::new(Entry {
                        version: Arc::clone(&version),
                        fetched_at: now,
                        used_at: AtomicU64::new(self.millis(now)),
                    }));
                } else {
                    drop(slot);
                }
                self.sweep(now);
                Ok(version)
            }
            Err(kind @ FailureKind::Unreachable(_)) => self.stale_or(name, kind.to_error(), true),
            Err(kind) => {
                self.entries.remove(name);
                Err(kind.to_error())
            }
        }
    }

    /// One read of `name` from the store, decoded.
    async fn read(
        &self,
        name: &KeyName,
        store: &dyn KeyStore,
    ) -> Result<Arc<KeyVersion>, FailureKind> {
        match store.get(name).await {
            Ok(value) => {
                self.health.set_online();
                KeyVersion::decode(&value)
                    .map(Arc::new)
                    .map_err(|err| match err {
                        Error::CorruptKey(why) => FailureKind::Corrupt(why),
                        other => FailureKind::Failed(other.to_string()),
                    })
            }
            Err(StoreError::Unreachable(err)) => {
                self.health.set_offline();
                Err(FailureKind::Unreachable(err.to_string()))
            }
            Err(StoreError::NotFound) => Err(FailureKind::NotFound),
            Err(StoreError::Failed(err)) => Err(FailureKind::Failed(err.to_string())),
            Err(err @ StoreError::Exists) => Err(FailureKind::Failed(err.to_string())),
        }
    }

    /// Drops `name` from the cache after it was created or deleted in the store, and keeps reads that
    /// were in flight from filling it again (see the module comment).
    pub(crate) fn invalidate(&self, name: &KeyName) {
        let slot = self.entries.entry(name.clone());
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let dashmap::Entry::Occupied(entry) = slot {
            entry.remove();
        }
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

/// A caller's handle on the single read of a name. The last one to let go removes the name from
/// [`Cache::fetches`], whether the read succeeded, failed or its caller was cancelled; otherwise
/// every name ever asked for would stay in the map.
struct FetchGuard<'a> {
    cache: &'a Cache,
    name: &'a KeyName,
    fetch: Arc<Fetch>,
}

impl<'a> FetchGuard<'a> {
    fn new(cache: &'a Cache, name: &'a KeyName) -> Self {
        let fetch = cache
            .fetches
            .entry(name.clone())
            .or_insert_with(|| Arc::new(Fetch::new(None)))
            .clone();
        Self { cache, name, fetch }
    }
}

impl std::ops::Deref for FetchGuard<'_> {
    type Target = Fetch;

    fn deref(&self) -> &Fetch {
        &self.fetch
    }
}

impl Drop for FetchGuard<'_> {
    fn drop(&mut self) {
        // Two references: the map's and this guard's. More means another caller still waits on it.
        self.cache.fetches.remove_if(self.name, |_, fetch| {
            Arc::ptr_eq(fetch, &self.fetch) && Arc::strong_count(fetch) <= 2
        });
    }
}

impl FailureKind {
    /// The error the failed read returned, rebuilt for a waiter.
    fn to_error(&self) -> Error {
        let source = match self {
            Self::NotFound => return Error::KeyNotFound,
            Self::Corrupt(why) => return Error::CorruptKey(why),
            Self::Unreachable(cause) => StoreError::Unreachable(cause.clone().into()),
            Self::Failed(cause) => StoreError::Failed(cause.clone().into()),
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
                n if n.starts_with("missing") => Err(StoreError::NotFound),
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

    /// Every name ever asked for must not stay in `fetches`: failed reads (a client can ask for
    /// any number of missing names) and cancelled callers leave nothing behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_leave_no_fetch_state_behind() {
        let store = Arc::new(TestStore::default());
        let cache = Arc::new(Cache::new(CacheConfig::default()));
        for i in 0..1000 {
            let err = cache
                .get(&name(&format!("missing-{i}")), store.as_ref())
                .await;
            assert_eq!(err.map(drop).unwrap_err().status(), 404);
        }
        assert!(cache.get(&name("corrupt"), store.as_ref()).await.is_err());
        cache.get(&name("k"), store.as_ref()).await.unwrap();
        store.unreachable.store(true, Ordering::SeqCst);
        assert!(cache.get(&name("down"), store.as_ref()).await.is_err());
        assert!(cache.fetches.is_empty(), "{} left", cache.fetches.len());

        // Callers given up on (a client that hung up) while they read or waited.
        let slow = Arc::new(TestStore {
            delay: Duration::from_secs(5),
            ..Default::default()
        });
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (cache, slow) = (Arc::clone(&cache), Arc::clone(&slow));
                tokio::spawn(async move {
                    let slow_name = name("slow");
                    let read = cache.get(&slow_name, slow.as_ref());
                    tokio::time::timeout(Duration::from_millis(50), read).await
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap().is_err(), "timed out");
        }
        assert!(cache.fetches.is_empty(), "{} left", cache.fetches.len());
    }

    /// A read that overlapped a create or delete, finishing when a sweep is due: the sweep locks
    /// every shard, so the read must not still hold its own (it did, and hung).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_that_is_not_cached_can_still_sweep() {
        let store = Arc::new(TestStore {
            delay: Duration::from_millis(100),
            ..Default::default()
        });
        let mut cache = Cache::new(CacheConfig::default());
        cache.epoch -= SWEEP_EVERY * 2;
        let cache = Arc::new(cache);
        let read = tokio::spawn({
            let (cache, store) = (Arc::clone(&cache), Arc::clone(&store));
            async move { cache.get(&name("k"), store.as_ref()).await.map(drop) }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        cache.invalidate(&name("other"));
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("the read hung")
            .unwrap()
            .unwrap();
        assert!(
            cache.entries.is_empty(),
            "a read across a change is not cached"
        );
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

    /// What examples/config.yaml says of `offline: 0s`: a fresh key keeps serving through an outage,
    /// an expired one fails until the key store is back.
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
        // The same for a key that `unused` expired, however recently it was read.
        let store = TestStore::default();
        let cache = Cache::new(config(0, 30, 0));
        cache.get(&name("k"), &store).await.unwrap();
        store.unreachable.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let err = cache.get(&name("k"), &store).await.map(drop).unwrap_err();
        assert_eq!(err.status(), 502);
    }
}
