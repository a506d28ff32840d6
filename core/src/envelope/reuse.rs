//! Opt-in data-key reuse, like the AWS Encryption SDK's caching: one data key from KES serves up to
//! N messages, B bytes and T seconds per (key name, context). Each message still derives keys of its
//! own from the shared data key and its random salt (header.rs), so reuse never reuses a payload key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{DataKey, EnvelopeError, Error, KeyName};

/// Limits for data-key reuse; all three are required and must be non-zero. A data key is used for a
/// new message only while it has sealed fewer than `messages` messages, the message keeps its total
/// at or below `bytes`, and it is younger than `age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReuseLimits {
    messages: u64,
    bytes: u64,
    age: Duration,
}

impl ReuseLimits {
    /// Checks the limits: each must be non-zero ([`EnvelopeError::InvalidReuseLimits`]).
    pub fn new(messages: u64, bytes: u64, age: Duration) -> Result<Self, Error> {
        if messages == 0 || bytes == 0 || age.is_zero() {
            return Err(EnvelopeError::InvalidReuseLimits.into());
        }
        Ok(Self {
            messages,
            bytes,
            age,
        })
    }
}

/// The shared data keys, by key name and context bytes.
#[derive(Debug)]
pub(super) struct ReuseCache {
    limits: ReuseLimits,
    entries: Mutex<HashMap<(KeyName, Vec<u8>), Entry>>,
}

#[derive(Debug)]
struct Entry {
    key: Arc<DataKey>,
    created: Instant,
    messages: u64,
    bytes: u64,
}

/// At most this many (key, context) pairs are kept; beyond it, expired entries are dropped, and if
/// none are, new keys are not cached. Contexts are often per object: without a bound, a stream of
/// distinct contexts would grow the map for ever.
const MAX_ENTRIES: usize = 4096;

impl ReuseCache {
    pub(super) fn new(limits: ReuseLimits) -> Self {
        Self {
            limits,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// A cached data key for a message of `len` bytes, counted against its limits; `None` if there is
    /// none within them (an exhausted one is dropped and its key wiped).
    pub(super) fn take(&self, key: &KeyName, context: &[u8], len: u64) -> Option<Arc<DataKey>> {
        let mut entries = self.entries.lock().ok()?;
        let id = (key.clone(), context.to_vec());
        let entry = entries.get_mut(&id)?;
        let fits = entry.messages < self.limits.messages
            && entry.created.elapsed() < self.limits.age
            && entry
                .bytes
                .checked_add(len)
                .is_some_and(|b| b <= self.limits.bytes);
        if !fits {
            entries.remove(&id);
            return None;
        }
        entry.messages += 1;
        entry.bytes += len;
        Some(Arc::clone(&entry.key))
    }

    /// Caches a fresh data key that is about to seal a message of `len` bytes; returns whether it
    /// was cached (and so may be shared).
    pub(super) fn insert(
        &self,
        key: &KeyName,
        context: &[u8],
        data_key: Arc<DataKey>,
        len: u64,
    ) -> bool {
        if len > self.limits.bytes || self.limits.messages <= 1 {
            return false; // It could not be used again anyway.
        }
        let Ok(mut entries) = self.entries.lock() else {
            return false; // A poisoned cache only loses its reuse: each message gets a fresh key.
        };
        if entries.len() >= MAX_ENTRIES {
            let age = self.limits.age;
            entries.retain(|_, e| e.created.elapsed() < age);
            if entries.len() >= MAX_ENTRIES {
                return false;
            }
        }
        entries.insert(
            (key.clone(), context.to_vec()),
            Entry {
                key: data_key,
                created: Instant::now(),
                messages: 1,
                bytes: len,
            },
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use zeroize::Zeroizing;

    use super::*;

    fn data_key(byte: u8) -> Arc<DataKey> {
        Arc::new(DataKey::from_parts(
            Zeroizing::new([byte; 32]),
            vec![byte; 8],
        ))
    }

    fn name() -> KeyName {
        KeyName::new("k").unwrap()
    }

    #[test]
    fn limits_must_be_non_zero() {
        let day = Duration::from_secs(86400);
        assert!(ReuseLimits::new(0, 1, day).is_err());
        assert!(ReuseLimits::new(1, 0, day).is_err());
        assert!(ReuseLimits::new(1, 1, Duration::ZERO).is_err());
        assert!(ReuseLimits::new(1, 1, day).is_ok());
    }

    #[test]
    fn message_limit() {
        let cache = ReuseCache::new(ReuseLimits::new(3, 1 << 20, Duration::from_secs(60)).unwrap());
        assert!(cache.insert(&name(), b"c", data_key(1), 10));
        assert!(cache.take(&name(), b"c", 10).is_some());
        assert!(cache.take(&name(), b"c", 10).is_some());
        assert!(
            cache.take(&name(), b"c", 10).is_none(),
            "three messages used it"
        );
        assert!(cache.take(&name(), b"c", 10).is_none(), "and it is gone");
    }

    #[test]
    fn byte_limit_and_separate_contexts() {
        let cache = ReuseCache::new(ReuseLimits::new(100, 100, Duration::from_secs(60)).unwrap());
        cache.insert(&name(), b"c", data_key(1), 60);
        assert!(cache.take(&name(), b"other", 1).is_none());
        assert!(cache.take(&name(), b"c", 41).is_none(), "60 + 41 > 100");
        cache.insert(&name(), b"c", data_key(2), 60);
        assert_eq!(cache.take(&name(), b"c", 40).unwrap().plaintext(), &[2; 32]);
        assert!(!cache.insert(&name(), b"c", data_key(3), 101));
        assert!(
            cache.take(&name(), b"c", 1).is_none(),
            "larger than the limit: never cached"
        );
    }

    #[test]
    fn age_limit() {
        let cache = ReuseCache::new(ReuseLimits::new(100, 100, Duration::from_millis(20)).unwrap());
        cache.insert(&name(), b"c", data_key(1), 1);
        assert!(cache.take(&name(), b"c", 1).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(cache.take(&name(), b"c", 1).is_none());
    }
}
