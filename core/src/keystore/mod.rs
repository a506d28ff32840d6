//! Key stores: where stored key values live.
//!
//! A key store only stores opaque values under key names; it knows nothing about crypto. That keeps
//! each backend small and makes its on-disk (or in-vault) bytes exactly what KES writes, so kesrs and Go
//! KES can share a key store.

use std::fmt;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::KeyName;

mod azure;
mod fs;
mod memory;

pub use azure::{AzureOptions, AzureStore};
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

    /// Tries every operation kesrs needs on a temporary key `name` that must not exist, and removes
    /// it again: for `kesrs check`, to find missing permissions before a client request does.
    ///
    /// The steps are named in the store's own terms. The default creates, reads back, lists and
    /// deletes `name`; a step after a failed create is reported as not tried.
    async fn probe(&self, name: &KeyName) -> Vec<ProbeStep> {
        const VALUE: &[u8] = b"kesrs check: temporary probe value, safe to delete";
        let mut steps = Vec::with_capacity(4);
        let created = self.create(name, VALUE).await;
        let ok = created.is_ok();
        steps.push(ProbeStep::done("create", created));
        if !ok {
            steps.extend(["get", "list", "delete"].map(ProbeStep::not_tried));
            return steps;
        }
        let read = self.get(name).await.and_then(|value| {
            if value.as_slice() == VALUE {
                Ok(())
            } else {
                Err(StoreError::Failed(
                    "the probe key read back with a different value".into(),
                ))
            }
        });
        steps.push(ProbeStep::done("get", read));
        let listed = self.list(name.as_str()).await.and_then(|names| {
            if names.iter().any(|n| n == name.as_str()) {
                Ok(())
            } else {
                Err(StoreError::Failed(
                    "the probe key was created but is missing from the listing".into(),
                ))
            }
        });
        steps.push(ProbeStep::done("list", listed));
        steps.push(ProbeStep::done("delete", self.delete(name).await));
        steps
    }
}

/// One operation of [`KeyStore::probe`] and its outcome.
#[non_exhaustive]
#[derive(Debug)]
pub struct ProbeStep {
    /// The operation or permission, such as `get` or `purge`.
    pub permission: &'static str,
    /// `None` if the step was not tried because an earlier one failed.
    pub result: Option<Result<(), StoreError>>,
}

impl ProbeStep {
    /// A step that ran.
    pub fn done(permission: &'static str, result: Result<(), StoreError>) -> Self {
        Self {
            permission,
            result: Some(result),
        }
    }

    /// A step left out because an earlier one failed.
    pub fn not_tried(permission: &'static str) -> Self {
        Self {
            permission,
            result: None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> KeyName {
        KeyName::new(s).unwrap()
    }

    /// The contract every key store must meet, run against each backend.
    async fn contract(store: &dyn KeyStore) {
        assert!(store.list("").await.unwrap().is_empty());
        store.create(&name("b-key"), b"value-b").await.unwrap();
        store.create(&name("a-key"), b"value-a").await.unwrap();
        store.create(&name("other"), b"value-o").await.unwrap();
        assert!(matches!(
            store.create(&name("a-key"), b"x").await,
            Err(StoreError::Exists)
        ));
        assert_eq!(&*store.get(&name("a-key")).await.unwrap(), b"value-a");
        assert!(matches!(
            store.get(&name("missing")).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.list("").await.unwrap(), ["a-key", "b-key", "other"]);
        assert_eq!(store.list("a").await.unwrap(), ["a-key"]);
        assert_eq!(store.list("-").await.unwrap(), Vec::<String>::new());
        store.delete(&name("a-key")).await.unwrap();
        assert!(matches!(
            store.delete(&name("a-key")).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.get(&name("a-key")).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.list("").await.unwrap(), ["b-key", "other"]);
        store.status().await.unwrap();
        let steps = store.probe(&name("probe-key")).await;
        let names: Vec<_> = steps.iter().map(|s| s.permission).collect();
        assert_eq!(names, ["create", "get", "list", "delete"]);
        assert!(
            steps.iter().all(|s| matches!(s.result, Some(Ok(())))),
            "{steps:?}"
        );
        assert_eq!(store.list("").await.unwrap(), ["b-key", "other"]);
    }

    #[tokio::test]
    async fn memory_store_meets_the_contract() {
        contract(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn fs_store_meets_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        contract(&FsStore::open(dir.path().join("keys")).unwrap()).await;
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn fs_store_writes_exactly_the_value_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        store
            .create(&name("my-key"), b"stored value")
            .await
            .unwrap();
        let path = dir.path().join("my-key");
        assert_eq!(std::fs::read(&path).unwrap(), b"stored value");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn fs_store_reads_files_written_by_others_and_skips_non_keys() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("from-kes"), b"abc").unwrap();
        std::fs::write(dir.path().join(".tmp-123"), b"partial").unwrap();
        std::fs::write(dir.path().join("not.a.key"), b"x").unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        assert_eq!(&*store.get(&name("from-kes")).await.unwrap(), b"abc");
        assert_eq!(store.list("").await.unwrap(), ["from-kes"]);
    }

    /// A crash between linking a key into place and removing its temporary name leaves a second
    /// copy of the key that `delete` cannot reach; opening the store removes it. A fresh one may
    /// belong to a create still running and stays.
    #[tokio::test]
    async fn fs_store_removes_temporary_files_left_by_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(".tmp-00112233aabbccdd");
        let fresh = dir.path().join(".tmp-0123456789abcdef");
        std::fs::write(&stale, b"a key").unwrap();
        std::fs::write(&fresh, b"a key").unwrap();
        let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();
        std::fs::write(dir.path().join("key"), b"kept").unwrap();
        FsStore::open(dir.path()).unwrap();
        assert!(!stale.exists());
        assert!(fresh.exists());
        assert!(dir.path().join("key").exists());
    }

    /// A FIFO named like a key made `get` hang in `open` for good, pinning a blocking thread.
    #[cfg(unix)]
    #[tokio::test]
    async fn fs_store_refuses_a_fifo_at_once_and_does_not_list_it() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo-key");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        std::fs::write(dir.path().join("real-key"), b"abc").unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let read =
            tokio::time::timeout(Duration::from_secs(10), store.get(&name("fifo-key"))).await;
        let Ok(read) = read else {
            // Release the blocked reader (a writer that closes at once), so the test ends.
            let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
            panic!("reading a FIFO hung");
        };
        match read {
            Err(StoreError::Failed(err)) => {
                assert!(err.to_string().contains("not a regular file"), "{err}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(store.list("").await.unwrap(), ["real-key"]);
    }

    /// A symbolic link in the key directory served whatever it pointed to (another store's key
    /// file) as a key of this store.
    #[cfg(unix)]
    #[tokio::test]
    async fn fs_store_refuses_symbolic_links_and_does_not_list_them() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("secret"), b"another store's key").unwrap();
        let keys = dir.path().join("keys");
        let store = FsStore::open(&keys).unwrap();
        std::os::unix::fs::symlink(other.path().join("secret"), keys.join("linked")).unwrap();
        std::fs::write(keys.join("real-key"), b"abc").unwrap();
        match store.get(&name("linked")).await {
            Err(StoreError::Failed(err)) => {
                assert!(err.to_string().contains("symbolic link"), "{err}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(store.list("").await.unwrap(), ["real-key"]);
        assert_eq!(&*store.get(&name("real-key")).await.unwrap(), b"abc");
    }

    #[tokio::test]
    async fn fs_store_refuses_oversized_values() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("huge"), vec![b'a'; (1 << 20) + 1]).unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        assert!(matches!(
            store.get(&name("huge")).await,
            Err(StoreError::Failed(_))
        ));
    }

    #[tokio::test]
    async fn fs_store_reports_a_vanished_directory_as_unreachable() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let store = FsStore::open(&keys).unwrap();
        std::fs::remove_dir(&keys).unwrap();
        assert!(matches!(
            store.status().await,
            Err(StoreError::Unreachable(_))
        ));
        assert!(matches!(
            store.get(&name("k")).await,
            Err(StoreError::Unreachable(_))
        ));
        assert!(matches!(
            store.create(&name("k"), b"v").await,
            Err(StoreError::Unreachable(_))
        ));
    }
}
