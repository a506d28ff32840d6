//! Cross-checks with an independent client, the official Python SDK (`azure-keyvault-secrets`):
//! what kesrs stores, Python reads and decodes as a KES value; what Python stores the way Go KES
//! does, kesrs serves. Needs `tests/azure-python/requirements.txt` installed; `./scripts/test` does
//! that and sets `KESRS_TEST_PYTHON`. Fails, never skips, when Python or the SDK is missing.

// The helpers below are not `#[test]` functions, so clippy.toml's test allowances do not reach them;
// a panic in a test helper is a failed test, not a crashed server.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use fake_keyvault::{FakeKeyVault, CLIENT_SECRET};
use kesrs_core::config::CacheConfig;
use kesrs_core::keystore::AzureStore;
use kesrs_core::{Identity, KeyName, Kms};
use serde_json::Value;

const HMAC_MESSAGE: &[u8] = b"kesrs cross-check";

struct Setup {
    fake: FakeKeyVault,
    kms: Kms,
    ca: tempfile::NamedTempFile,
}

async fn setup() -> Setup {
    let fake = FakeKeyVault::start().await.unwrap();
    let mut options = common::options(&fake);
    options.resolve = fake.resolve();
    let store = AzureStore::connect(&options).unwrap();
    let kms = Kms::new(Arc::new(store), CacheConfig::default());
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), fake.ca_pem()).unwrap();
    Setup { fake, kms, ca }
}

/// Runs crosscheck.py off the runtime (the fake keeps serving) and parses its JSON output.
async fn python(setup: &Setup, command: &str, name: &str) -> Value {
    let interpreter = std::env::var("KESRS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/azure-python/crosscheck.py");
    let mut cmd = Command::new(&interpreter);
    cmd.arg(script)
        .args([command, name])
        .env("KV_ENDPOINT", setup.fake.endpoint())
        .env("KV_AUTHORITY", setup.fake.authority())
        .env("KV_CLIENT_SECRET", CLIENT_SECRET)
        .env("KV_CA", setup.ca.path())
        .env("KV_ADDR", setup.fake.addr().to_string());
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || cmd.output()),
    )
    .await
    .expect("crosscheck.py timed out")
    .unwrap()
    .unwrap_or_else(|err| panic!("cannot run {interpreter}: {err} (run ./scripts/test)"));
    assert!(
        output.status.success(),
        "crosscheck.py {command} {name} failed (is azure-keyvault-secrets installed? \
         pip install -r tests/azure-python/requirements.txt):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn name(s: &str) -> KeyName {
    KeyName::new(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_reads_what_kesrs_stores_as_a_kes_value() {
    let setup = setup().await;
    let creator = Identity::of_spki(b"a test public key");
    for (key, secret) in [
        ("from-kesrs", "from-kesrs"),
        ("from_kesrs", "kesrs--from-ukesrs"),
    ] {
        setup
            .kms
            .create_key(&name(key), Some(&creator))
            .await
            .unwrap();
        let info = setup.kms.describe_key(&name(key)).await.unwrap();
        let read = python(&setup, "read", secret).await;
        assert_eq!(read["tags"]["kes-name"], key);
        assert_eq!(read["key_len"], 32);
        assert_eq!(read["key_type"], 1, "AES256");
        assert_eq!(read["hmac_key_len"], 32);
        assert_eq!(read["hmac_hash"], 1, "SHA256");
        assert_eq!(read["created_by"], creator.as_str());
        assert_eq!(read["created_seconds"], info.created_at.unix_timestamp());
        assert_eq!(read["created_nanos"], info.created_at.nanosecond());
        let hmac = setup.kms.hmac(&name(key), HMAC_MESSAGE).await.unwrap();
        assert_eq!(read["hmac"], hex::encode(hmac));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kesrs_serves_what_python_stores_the_way_go_kes_does() {
    let setup = setup().await;
    let written = python(&setup, "write-kes", "from-go-kes").await;
    // Go KES stores under the raw name with no tags; kesrs must accept it as is.
    let (_, tags) = setup.fake.secret("from-go-kes").unwrap();
    assert!(tags.get("kes-name").is_none(), "{tags}");
    let hmac = setup
        .kms
        .hmac(&name("from-go-kes"), HMAC_MESSAGE)
        .await
        .unwrap();
    assert_eq!(written["hmac"], hex::encode(hmac));
    let info = setup.kms.describe_key(&name("from-go-kes")).await.unwrap();
    assert_eq!(info.created_at.unix_timestamp(), 1_700_000_000);
    assert_eq!(info.created_by.as_deref(), Some("go-kes-identity"));
    let ciphertext = setup
        .kms
        .encrypt(&name("from-go-kes"), b"data", b"ctx")
        .await
        .unwrap();
    let plaintext = setup
        .kms
        .decrypt(&name("from-go-kes"), &ciphertext, b"ctx")
        .await
        .unwrap();
    assert_eq!(&*plaintext, b"data");

    python(&setup, "write-legacy", "legacy-key").await;
    let info = setup.kms.describe_key(&name("legacy-key")).await.unwrap();
    assert_eq!(info.created_by.as_deref(), Some("legacy-identity"));
    assert_eq!(info.algorithm, kesrs_core::KeyType::Aes256);
    let err = setup
        .kms
        .hmac(&name("legacy-key"), HMAC_MESSAGE)
        .await
        .unwrap_err();
    assert_eq!(err.status(), 409);
}
