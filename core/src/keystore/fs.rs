//! A key store in a directory: one file per key, holding exactly the stored value, as KES's fs store.
//!
//! Files are created 0600 and written crash-safely: the value goes to a temporary file that is synced
//! and then hard-linked to the key's name. `link` fails if the name exists, so creation is atomic and
//! exclusive, and a crash never leaves a half-written key (KES writes in place with O_EXCL, which can).
//! A crash can leave a temporary file behind; opening the store removes those older than a minute.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::{KeyStore, StoreError};
use crate::{valid_name, KeyName};

/// KES refuses to read key files larger than this; so do we.
const MAX_VALUE_LEN: u64 = 1 << 20;

/// Temporary files are named `.tmp-` and 16 hex digits; a '.' never occurs in a key name.
const TMP_PREFIX: &str = ".tmp-";

/// A temporary file older than this was left by a crash, not by a create still running.
const STALE_TMP_AGE: Duration = Duration::from_secs(60);

/// Keys as files in one directory.
#[derive(Debug)]
pub struct FsStore {
    dir: PathBuf,
}

impl FsStore {
    /// Opens the store at `dir`, creating the directory (0700) if it does not exist.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        create_dir(&dir).map_err(|err| StoreError::Failed(err.into()))?;
        remove_stale_temporaries(&dir);
        Ok(Self { dir })
    }

    fn path_of(&self, name: &KeyName) -> PathBuf {
        // A KeyName contains only [0-9A-Za-z_-], so it cannot escape the directory.
        self.dir.join(name.as_str())
    }
}

#[async_trait::async_trait]
impl KeyStore for FsStore {
    async fn create(&self, name: &KeyName, value: &[u8]) -> Result<(), StoreError> {
        let dir = self.dir.clone();
        let path = self.path_of(name);
        let value = Zeroizing::new(value.to_vec());
        blocking(move || create_file(&dir, &path, &value)).await
    }

    async fn get(&self, name: &KeyName) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let path = self.path_of(name);
        let dir = self.dir.clone();
        blocking(move || read_file(&dir, &path)).await
    }

    async fn delete(&self, name: &KeyName) -> Result<(), StoreError> {
        let path = self.path_of(name);
        let dir = self.dir.clone();
        blocking(move || match fs::remove_file(&path) {
            Ok(()) => sync_dir(&dir).map_err(io_error),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                Err(not_found_or_unreachable(&dir))
            }
            Err(err) => Err(io_error(err)),
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let dir = self.dir.clone();
        let prefix = prefix.to_owned();
        blocking(move || {
            let mut names = Vec::new();
            for entry in fs::read_dir(&dir).map_err(unreachable)? {
                let entry = entry.map_err(io_error)?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                // Skips temporary files and anything else that cannot be a key. The entry's own
                // type (not followed): `get` refuses symbolic links, FIFOs and devices, so listing
                // them would name keys that cannot be read.
                let regular = entry.file_type().is_ok_and(|kind| kind.is_file());
                if valid_name(&name) && name.starts_with(&prefix) && regular {
                    names.push(name);
                }
            }
            names.sort_unstable();
            Ok(names)
        })
        .await
    }

    async fn status(&self) -> Result<Duration, StoreError> {
        let dir = self.dir.clone();
        blocking(move || {
            let start = Instant::now();
            let meta = fs::metadata(&dir).map_err(unreachable)?;
            if !meta.is_dir() {
                return Err(StoreError::Unreachable(
                    format!("'{}' is not a directory", dir.display()).into(),
                ));
            }
            Ok(start.elapsed())
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|err| StoreError::Failed(err.into()))?
}

fn create_file(dir: &Path, path: &Path, value: &[u8]) -> Result<(), StoreError> {
    if !dir.is_dir() {
        return Err(StoreError::Unreachable(
            format!("key directory '{}' does not exist", dir.display()).into(),
        ));
    }
    if path.exists() {
        return Err(StoreError::Exists);
    }
    let mut nonce = [0u8; 8];
    crate::crypto::random(&mut nonce).map_err(|err| StoreError::Failed(err.into()))?;
    let tmp = dir.join(format!("{TMP_PREFIX}{}", hex::encode(nonce)));
    let result = write_synced(&tmp, value).and_then(|()| fs::hard_link(&tmp, path));
    let _ = fs::remove_file(&tmp);
    match result {
        Ok(()) => sync_dir(dir).map_err(io_error),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Err(StoreError::Exists),
        Err(err) => Err(io_error(err)),
    }
}

/// Removes the temporary files a crash left between writing a key and removing its temporary name:
/// each holds a key (one that was created, or one that never was) that `delete` would not remove.
/// Best effort: a file that cannot be removed now is tried again at the next start.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let is_tmp = entry.file_name().to_string_lossy().starts_with(TMP_PREFIX);
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age >= STALE_TMP_AGE));
        if is_tmp && stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn write_synced(path: &Path, value: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(value)?;
    file.sync_all()
}

fn read_file(dir: &Path, path: &Path) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let file = match open_key_file(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err(not_found_or_unreachable(dir))
        }
        Err(err) if is_symlink_refusal(&err) => {
            return Err(StoreError::Failed(
                format!("key file '{}' is a symbolic link", path.display()).into(),
            ))
        }
        Err(err) => return Err(io_error(err)),
    };
    // The open file's own type (fstat), so nothing can swap the entry between check and read.
    let meta = file.metadata().map_err(io_error)?;
    if !meta.is_file() {
        return Err(StoreError::Failed(
            format!("key file '{}' is not a regular file", path.display()).into(),
        ));
    }
    // Sized from the file up front: a buffer that grew while reading would leave freed copies of
    // the key behind. Key files are replaced whole (linked into place), never appended to.
    let size = meta.len().min(MAX_VALUE_LEN + 1);
    let mut value = Zeroizing::new(Vec::with_capacity(usize::try_from(size).unwrap_or(0)));
    file.take(MAX_VALUE_LEN + 1)
        .read_to_end(&mut value)
        .map_err(io_error)?;
    if value.len() as u64 > MAX_VALUE_LEN {
        return Err(StoreError::Failed(
            format!("key file '{}' is larger than 1 MiB", path.display()).into(),
        ));
    }
    Ok(value)
}

/// Opens a key file for reading, refusing to follow a symbolic link and never blocking in `open`.
///
/// A symbolic link in the key directory would serve whatever it points to (another store's key
/// file) as this key. Opening a FIFO for reading blocks until a writer appears, which pinned a
/// blocking thread and its request for good; with O_NONBLOCK it returns at once, and the caller's
/// fstat then refuses it. On a regular file O_NONBLOCK changes nothing.
fn open_key_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NOFOLLOW | libc::O_NONBLOCK,
    );
    options.open(path)
}

/// Whether `open` failed because O_NOFOLLOW met a symbolic link (ELOOP; EMLINK on the BSDs).
fn is_symlink_refusal(err: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(err.raw_os_error(), Some(code) if code == libc::ELOOP || code == libc::EMLINK)
    }
    #[cfg(not(unix))]
    {
        let _ = err;
        false
    }
}

/// A missing key in a missing directory means the store is gone (an unmounted volume), not the key.
fn not_found_or_unreachable(dir: &Path) -> StoreError {
    if dir.is_dir() {
        StoreError::NotFound
    } else {
        StoreError::Unreachable(format!("key directory '{}' does not exist", dir.display()).into())
    }
}

fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes a created or removed directory entry durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    Ok(())
}

fn io_error(err: io::Error) -> StoreError {
    StoreError::Failed(err.into())
}

fn unreachable(err: io::Error) -> StoreError {
    StoreError::Unreachable(err.into())
}
