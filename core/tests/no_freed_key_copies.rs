//! Freed heap memory must not hold key material. Zeroizing the final buffers is not enough: a
//! buffer that grows, or a library's temporary copy, frees memory with the key still in it, and a
//! later heap disclosure, swap or core dump finds it there.
//!
//! The allocator below checks every block freed while a section is watched for the secret bytes.

// A global allocator needs `unsafe`; test helpers are not `#[test]` functions, so clippy.toml's
// test allowances do not reach them.
#![allow(unsafe_code, clippy::unwrap_used, clippy::indexing_slicing)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use std::io::{Cursor, Read, Write};

use kesrs_core::config::CacheConfig;
use kesrs_core::internal::envelope_vectors;
use kesrs_core::keystore::{FsStore, MemoryStore};
use kesrs_core::{
    Context, DataKey, DataKeys, Envelope, Error, KeyName, KeyStore, Kms, ReuseLimits,
};
use zeroize::Zeroizing;

/// The secret searched for, and whether a watched section is running.
static NEEDLE: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static WATCHING: AtomicBool = AtomicBool::new(false);
static FOUND: AtomicUsize = AtomicUsize::new(0);
/// One watched section at a time: the test harness runs tests on several threads.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

thread_local! {
    /// Set while this thread checks a block, so that frees made by the check are not checked.
    static CHECKING: Cell<bool> = const { Cell::new(false) };
}

struct Watching;

unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    // `realloc` keeps GlobalAlloc's default, which goes through `dealloc`: grown buffers are checked.
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let enter = || CHECKING.try_with(|c| !c.replace(true)).unwrap_or(false);
        if WATCHING.load(Ordering::SeqCst) && enter() {
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if let Ok(needle) = NEEDLE.lock() {
                if !needle.is_empty() && block.windows(needle.len()).any(|w| w == needle.as_slice())
                {
                    FOUND.fetch_add(1, Ordering::SeqCst);
                }
            }
            let _ = CHECKING.try_with(|c| c.set(false));
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Watching = Watching;

/// Runs `section` and returns how many freed blocks held `secret`.
async fn freed_copies_of<F: std::future::Future<Output = ()>>(secret: &[u8], section: F) -> usize {
    *NEEDLE.lock().unwrap() = secret.to_vec();
    FOUND.store(0, Ordering::SeqCst);
    WATCHING.store(true, Ordering::SeqCst);
    section.await;
    WATCHING.store(false, Ordering::SeqCst);
    NEEDLE.lock().unwrap().clear();
    FOUND.load(Ordering::SeqCst)
}

const KEY: [u8; 32] = [
    0x5a, 0xc3, 0x11, 0x7e, 0x99, 0x01, 0xfe, 0x42, 0x13, 0x37, 0xbe, 0xef, 0xca, 0xfe, 0xba, 0xbe,
    0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89,
];

/// Every operation on a key, with the key read from the store into a cold cache first.
async fn use_the_key(store: Arc<dyn KeyStore>, name: &KeyName) {
    let kms = Kms::new(store, CacheConfig::default());
    kms.describe_key(name).await.unwrap();
    let ciphertext = kms.encrypt(name, b"data", b"ctx").await.unwrap();
    drop(kms.decrypt(name, &ciphertext, b"ctx").await.unwrap());
    drop(kms.generate_key(name, b"ctx").await.unwrap());
    kms.hmac(name, b"message").await.unwrap();
}

#[tokio::test]
async fn reading_a_key_from_the_fs_store_leaves_no_copy_in_freed_memory() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn KeyStore> = Arc::new(FsStore::open(dir.path()).unwrap());
    let name = KeyName::new("k").unwrap();
    let kms = Kms::new(Arc::clone(&store), CacheConfig::default());
    kms.import_key(&name, &KEY, "AES256", None).await.unwrap();

    // The raw key, and the stored value (base64 of the protobuf that holds it).
    assert_eq!(
        freed_copies_of(&KEY, use_the_key(Arc::clone(&store), &name)).await,
        0
    );
    let stored = std::fs::read(dir.path().join("k")).unwrap();
    assert_eq!(
        freed_copies_of(&stored[..40], use_the_key(store, &name)).await,
        0
    );
}

#[tokio::test]
async fn importing_and_using_a_key_leaves_no_copy_in_freed_memory() {
    let _one = ONE_AT_A_TIME.lock().await;
    let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::new());
    let name = KeyName::new("k").unwrap();
    let found = freed_copies_of(&KEY, async {
        let kms = Kms::new(Arc::clone(&store), CacheConfig::default());
        kms.import_key(&name, &KEY, "AES256", None).await.unwrap();
        use_the_key(Arc::clone(&store), &name).await;
        kms.delete_key(&name).await.unwrap();
    })
    .await;
    assert_eq!(found, 0);
}

/// The check itself: a plain `Vec` that is dropped is found.
#[tokio::test]
async fn the_allocator_finds_a_dropped_copy() {
    let _one = ONE_AT_A_TIME.lock().await;
    let found = freed_copies_of(&KEY, async { drop(std::hint::black_box(KEY.to_vec())) }).await;
    assert_eq!(found, 1);
}

#[tokio::test]
async fn decrypting_a_tls_private_key_leaves_no_copy_in_freed_memory() {
    let _one = ONE_AT_A_TIME.lock().await;
    let encrypted = include_str!("fixtures/encrypted-ec.key");
    let plain = include_str!("fixtures/plain-ec.key");
    // The first line of the key's base64, and 24 bytes from the middle of its DER (the scalar).
    let base64_line = plain.lines().nth(1).unwrap().as_bytes();
    let der = pem::parse(plain).unwrap().contents().to_vec();
    for secret in [base64_line, &der[8..32]] {
        let found = freed_copies_of(secret, async {
            let pem = kesrs_core::decrypt_private_key_pem(encrypted.as_bytes(), b"kesrs-test");
            assert_eq!(pem.unwrap().as_str(), plain);
        })
        .await;
        assert_eq!(found, 0);
    }
}

/// A data-key source with one known data key, so that the envelope's copies of it can be searched for.
struct FixedDataKey;

const DATA_KEY: [u8; 32] = [
    0xd4, 0x7a, 0x01, 0x93, 0x5e, 0xee, 0x10, 0x2b, 0xc8, 0x66, 0x3f, 0x71, 0x0a, 0xb5, 0x4d, 0x92,
    0x18, 0xf0, 0x27, 0x6c, 0xa9, 0x33, 0xde, 0x45, 0x8b, 0x02, 0x7f, 0xe1, 0x5c, 0x96, 0x3a, 0xc0,
];

impl DataKeys for FixedDataKey {
    fn generate(&self, _: &KeyName, _: &[u8]) -> Result<DataKey, Error> {
        Ok(DataKey::from_parts(
            Zeroizing::new(DATA_KEY),
            b"kes ciphertext".to_vec(),
        ))
    }

    fn decrypt(&self, _: &KeyName, _: &[u8], _: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        Ok(Zeroizing::new(DATA_KEY.to_vec()))
    }
}

/// Every way to seal and open, each at three sizes, with the fixed data key.
fn seal_and_open_every_way(envelope: &Envelope<FixedDataKey>) {
    let name = KeyName::new("k").unwrap();
    let context = Context::from_map([("bucket", "bucket/object")]);
    for len in [0, 1000, 200_000] {
        let plaintext = vec![0x42; len];
        let sealed = envelope.seal(&name, &plaintext, &context).unwrap();
        assert_eq!(*envelope.open(&sealed, &context).unwrap(), plaintext);

        let mut writer = envelope.seal_writer(&name, &context, Vec::new()).unwrap();
        writer.write_all(&plaintext).unwrap();
        let streamed = writer.finish().unwrap();
        let mut out = Vec::new();
        let mut reader = envelope.open_reader(&streamed[..], &context).unwrap();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, plaintext);

        let mut out = Vec::new();
        let range = envelope.open_range(
            Cursor::new(&sealed),
            &context,
            len as u64 / 2,
            len as u64 / 3,
        );
        range.unwrap().read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), len / 3);
    }
}

#[tokio::test]
async fn sealing_and_opening_leave_no_copy_of_the_data_key_in_freed_memory() {
    let _one = ONE_AT_A_TIME.lock().await;
    let found = freed_copies_of(&DATA_KEY, async {
        seal_and_open_every_way(&Envelope::new(FixedDataKey));
        // With reuse: the cache holds the data key, and wipes it when the envelope goes.
        let limits = ReuseLimits::new(2, 1 << 30, std::time::Duration::from_secs(60)).unwrap();
        let reusing = Envelope::new(FixedDataKey).reuse_data_keys(limits);
        seal_and_open_every_way(&reusing);
        drop(reusing);
    })
    .await;
    assert_eq!(found, 0);
}

#[tokio::test]
async fn opening_leaves_no_copy_of_the_message_keys_in_freed_memory() {
    let _one = ONE_AT_A_TIME.lock().await;
    let name = KeyName::new("k").unwrap();
    let context = Context::from_bytes(b"ctx".to_vec());
    let salt = [0x33; 32];
    let plaintext = vec![0x42; 150_000];
    let data_key = FixedDataKey.generate(&name, b"").unwrap();
    let sealed = envelope_vectors::seal(
        &data_key, false, &name, &plaintext, &context, &salt, &[7; 12],
    )
    .unwrap();
    let (header_key, payload_key) = envelope_vectors::keys(&DATA_KEY, &salt, &context);
    for secret in [&*header_key, &*payload_key] {
        let found = freed_copies_of(secret, async {
            let envelope = Envelope::new(FixedDataKey);
            assert_eq!(*envelope.open(&sealed, &context).unwrap(), plaintext);
            let mut out = Vec::new();
            let mut reader = envelope.open_reader(&sealed[..], &context).unwrap();
            reader.read_to_end(&mut out).unwrap();
            let mut range = envelope
                .open_range(Cursor::new(&sealed), &context, 70_000, 10)
                .unwrap();
            range.read_to_end(&mut out).unwrap();
            let again = envelope_vectors::seal(
                &data_key, false, &name, &plaintext, &context, &salt, &[7; 12],
            );
            assert_eq!(again.unwrap(), sealed);
        })
        .await;
        assert_eq!(found, 0);
    }
}

#[tokio::test]
async fn sealing_with_a_kms_leaves_no_copy_of_its_key_in_freed_memory() {
    let _one = ONE_AT_A_TIME.lock().await;
    let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::new());
    let name = KeyName::new("k").unwrap();
    let found = freed_copies_of(&KEY, async {
        let kms = Kms::new(Arc::clone(&store), CacheConfig::default());
        kms.import_key(&name, &KEY, "AES256", None).await.unwrap();
        let envelope = Envelope::new(kms);
        let context = Context::empty();
        let sealed = envelope.seal_async(&name, b"data", &context).await.unwrap();
        assert_eq!(
            *envelope.open_async(&sealed, &context).await.unwrap(),
            b"data"
        );
    })
    .await;
    assert_eq!(found, 0);
}
