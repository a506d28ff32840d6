//! The Azure Key Vault key store against the in-repo fake Key Vault: KES semantics, the name mapping,
//! and what no emulator reproduces (async deletion, throttling, 403s, 5xx, slowness, outages, tokens).

// The helpers below are not `#[test]` functions, so clippy.toml's test allowances do not reach them;
// a panic in a test helper is a failed test, not a crashed server.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_keyvault::{FakeKeyVault, Op, VersionInfo, CLIENT_SECRET, INVALID_SECRET_DESCRIPTION};
use kesrs_core::config::{AzureCredentials, CacheConfig, KeyStoreConfig, Secret};
use kesrs_core::keystore::{AzureOptions, AzureStore};
use kesrs_core::{Config, KeyName, KeyStore, Kms, StoreError};

use common::fast_options as options;

async fn start() -> (FakeKeyVault, AzureStore) {
    let fake = FakeKeyVault::start().await.unwrap();
    let store = AzureStore::connect(&options(&fake)).unwrap();
    (fake, store)
}

fn name(s: &str) -> KeyName {
    KeyName::new(s).unwrap()
}

fn message(err: &StoreError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(" / ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn meets_the_key_store_contract() {
    let (fake, store) = start().await;
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
    store.delete(&name("a-key")).await.unwrap();
    assert!(matches!(
        store.delete(&name("a-key")).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.get(&name("a-key")).await,
        Err(StoreError::NotFound)
    ));
    // Deleted and purged: nothing soft-deleted is left to block the name.
    assert!(!fake.is_soft_deleted("a-key"));
    store.create(&name("a-key"), b"again").await.unwrap();
    assert_eq!(&*store.get(&name("a-key")).await.unwrap(), b"again");
    store.status().await.unwrap();
    // One token for the whole run: the challenge came once, the token is reused.
    assert_eq!(fake.count(Op::Token), 1);
    assert_eq!(fake.count(Op::Challenge), 1);
}

#[tokio::test]
async fn stores_exactly_the_value_and_the_exact_name_in_a_tag() {
    let (fake, store) = start().await;
    let value = "CiQKIKs6...base64 protobuf as KES stores it";
    store
        .create(&name("My-Key"), value.as_bytes())
        .await
        .unwrap();
    let (values, tags) = fake.secret("My-Key").unwrap();
    assert_eq!(values, [value]);
    assert_eq!(tags["kes-name"], "My-Key");
}

#[tokio::test]
async fn reads_secrets_written_by_go_kes_and_their_oldest_version() {
    let (fake, store) = start().await;
    // Go KES writes the value under the raw name, without tags.
    fake.insert("from-kes", "first");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    fake.insert("from-kes", "second");
    assert_eq!(&*store.get(&name("from-kes")).await.unwrap(), b"first");
    assert_eq!(store.list("").await.unwrap(), ["from-kes"]);
    assert!(matches!(
        store.create(&name("from-kes"), b"x").await,
        Err(StoreError::Exists)
    ));
}

#[tokio::test]
async fn names_differing_in_case_never_return_each_others_key() {
    let (fake, store) = start().await;
    store.create(&name("key"), b"lower").await.unwrap();
    // Key Vault would hand out `key` for `KEY`; a deny rule on `key` must not be bypassed so.
    assert!(matches!(
        store.get(&name("KEY")).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.create(&name("KEY"), b"upper").await,
        Err(StoreError::Exists)
    ));
    assert!(matches!(
        store.delete(&name("KEY")).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(&*store.get(&name("key")).await.unwrap(), b"lower");
    assert_eq!(store.list("").await.unwrap(), ["key"]);

    // The same for a secret written by Go KES, which carries no name tag: its ID decides.
    fake.insert("Legacy", "legacy");
    assert!(matches!(
        store.get(&name("legacy")).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(&*store.get(&name("Legacy")).await.unwrap(), b"legacy");
}

#[tokio::test]
async fn names_with_underscores_are_mapped_without_collisions() {
    let (fake, store) = start().await;
    let long = "_-".repeat(39) + "_";
    let names = [
        "my_key",
        "my-key",
        "my-ukey",
        "kesrs--my-ukey",
        "KESRS--my-ukey2",
        "_",
        long.as_str(),
    ];
    for (i, n) in names.iter().enumerate() {
        if *n == "_" {
            continue; // not a valid KES name
        }
        store
            .create(&name(n), format!("v{i}").as_bytes())
            .await
            .unwrap();
    }
    for (i, n) in names.iter().enumerate().filter(|(_, n)| **n != "_") {
        assert_eq!(
            &*store.get(&name(n)).await.unwrap(),
            format!("v{i}").as_bytes(),
            "{n}"
        );
    }
    assert_eq!(fake.secret("kesrs--my-ukey").unwrap().0, ["v0"]);
    assert_eq!(fake.secret("my-ukey").unwrap().0, ["v2"]);
    let mut expected: Vec<String> = names
        .iter()
        .filter(|n| **n != "_")
        .map(|n| n.to_string())
        .collect();
    expected.sort();
    assert_eq!(store.list("").await.unwrap(), expected);
    assert_eq!(store.list("my_").await.unwrap(), ["my_key"]);
    store.delete(&name("my_key")).await.unwrap();
    assert!(fake.secret("kesrs--my-ukey").is_none());
    assert_eq!(&*store.get(&name("my-key")).await.unwrap(), b"v1");
}

#[tokio::test]
async fn lists_follow_every_page() {
    let (fake, store) = start().await;
    for i in 0..60 {
        fake.insert(&format!("key-{i:02}"), "v");
    }
    let names = store.list("").await.unwrap();
    assert_eq!(names.len(), 60);
    assert_eq!(store.list("key-5").await.unwrap().len(), 10);
    assert!(fake.count(Op::List) >= 3 * 2);
}

#[tokio::test]
async fn create_waits_for_an_asynchronous_delete_and_purges_a_soft_deleted_name() {
    let (fake, store) = start().await;
    fake.delete_lag(Duration::from_millis(600));
    store.create(&name("k"), b"one").await.unwrap();
    let start = Instant::now();
    store.delete(&name("k")).await.unwrap();
    // The purge was retried while Azure answered 409 ObjectIsBeingDeleted.
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    assert!(fake.count(Op::Purge) >= 2);
    assert!(!fake.is_soft_deleted("k"));

    // A soft-deleted secret that was never purged (purge protection at the time) holds the name.
    fake.purge_protection(true);
    store.create(&name("k"), b"two").await.unwrap();
    store.delete(&name("k")).await.unwrap();
    assert!(fake.is_soft_deleted("k"));
    fake.purge_protection(false);
    fake.delete_lag(Duration::ZERO);
    store.create(&name("k"), b"three").await.unwrap();
    assert_eq!(&*store.get(&name("k")).await.unwrap(), b"three");
}

#[tokio::test]
async fn create_right_after_delete_retries_while_the_name_is_being_deleted() {
    let (fake, store) = start().await;
    store.create(&name("k"), b"one").await.unwrap();
    // Deleted by another server: the deletion is still in progress when we create.
    fake.delete_lag(Duration::from_millis(800));
    fake.purge_protection(true);
    store.delete(&name("k")).await.unwrap();
    fake.purge_protection(false);
    store.create(&name("k"), b"two").await.unwrap();
    assert_eq!(&*store.get(&name("k")).await.unwrap(), b"two");
}

#[tokio::test]
async fn throttling_is_retried_honouring_retry_after() {
    let (fake, store) = start().await;
    store.create(&name("k"), b"v").await.unwrap();
    fake.throttle(2, 1);
    let start = Instant::now();
    assert_eq!(&*store.get(&name("k")).await.unwrap(), b"v");
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );

    // A Retry-After beyond the deadline fails at once, as unreachable, instead of hanging.
    fake.throttle(1, 60);
    let start = Instant::now();
    let err = store.get(&name("k")).await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(err, StoreError::Unreachable(_)), "{err}");
    assert!(message(&err).contains("429"), "{}", message(&err));
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_as_unreachable() {
    let (fake, store) = start().await;
    store.create(&name("k"), b"v").await.unwrap();
    fake.fail(3, 503);
    assert_eq!(&*store.get(&name("k")).await.unwrap(), b"v");
    fake.fail(1000, 500);
    let start = Instant::now();
    let err = store.get(&name("k")).await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(err, StoreError::Unreachable(_)), "{err}");
    assert!(message(&err).contains("HTTP 500"), "{}", message(&err));
}

#[tokio::test]
async fn forbidden_names_the_missing_permission() {
    let (fake, store) = start().await;
    store.create(&name("k"), b"v").await.unwrap();
    for (op, permission) in [(Op::Get, "get"), (Op::List, "list"), (Op::Set, "set")] {
        fake.clear_faults();
        fake.deny(op);
        let err = match op {
            Op::Get => store.get(&name("k")).await.map(drop).unwrap_err(),
            Op::List => store.list("").await.map(drop).unwrap_err(),
            _ => store.create(&name("new"), b"v").await.unwrap_err(),
        };
        assert!(matches!(err, StoreError::Failed(_)), "{err}");
        let text = message(&err);
        assert!(
            text.contains(&format!("denied the '{permission}' secret permission")),
            "{text}"
        );
        assert!(text.contains("ForbiddenByPolicy"), "{text}");
    }
    fake.clear_faults();
    fake.deny(Op::Delete);
    let err = store.delete(&name("k")).await.unwrap_err();
    assert!(message(&err).contains("'delete'"), "{}", message(&err));

    // Without purge, a delete still deletes (as in KES); re-creating the name then needs purge.
    fake.clear_faults();
    fake.deny(Op::Purge);
    store.delete(&name("k")).await.unwrap();
    let err = store.create(&name("k"), b"v").await.unwrap_err();
    assert!(message(&err).contains("'purge'"), "{}", message(&err));
}

#[tokio::test]
async fn slow_and_hung_vaults_are_bounded_by_the_deadline() {
    let (fake, store) = start().await;
    store.create(&name("k"), b"v").await.unwrap();
    fake.delay(Duration::from_millis(300));
    assert_eq!(&*store.get(&name("k")).await.unwrap(), b"v");
    fake.delay(Duration::from_secs(30));
    let start = Instant::now();
    let err = store.get(&name("k")).await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_millis(3500),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(err, StoreError::Unreachable(_)), "{err}");
}

#[tokio::test]
async fn outages_are_unreachable_and_service_resumes() {
    let (fake, store) = start().await;
    store.create(&name("k"), b"v").await.unwrap();
    fake.outage(true);
    let err = store.get(&name("k")).await.unwrap_err();
    assert!(matches!(err, StoreError::Unreachable(_)), "{err}");
    assert!(matches!(
        store.status().await,
        Err(StoreError::Unreachable(_))
    ));
    fake.outage(false);
    assert_eq!(&*store.get(&name("k")).await.unwrap(), b"v");
    store.status().await.unwrap();
}

#[tokio::test]
async fn disabled_not_yet_valid_and_expired_secrets_are_refused() {
    let (fake, store) = start().await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let cases = [
        ("disabled", Some(false), None, None, "is disabled"),
        (
            "future",
            Some(true),
            Some(now + 3600),
            None,
            "is not valid yet",
        ),
        ("expired", Some(true), None, Some(now - 60), "has expired"),
    ];
    for (n, enabled, nbf, exp, problem) in cases {
        fake.insert(n, "v");
        fake.set_attributes(n, enabled, nbf, exp);
        let err = store.get(&name(n)).await.unwrap_err();
        assert!(matches!(err, StoreError::Failed(_)), "{err}");
        assert!(message(&err).contains(problem), "{}", message(&err));
    }
}

#[tokio::test]
async fn a_wrong_client_secret_is_a_clear_failure_not_an_outage() {
    let fake = FakeKeyVault::start().await.unwrap();
    let mut options = options(&fake);
    options.credentials = AzureCredentials::ClientSecret {
        tenant_id: "fake-tenant".into(),
        client_id: "kesrs-tests".into(),
        client_secret: Secret::new("wrong".into()),
    };
    let store = AzureStore::connect(&options).unwrap();
    let err = store.get(&name("k")).await.unwrap_err();
    assert!(matches!(err, StoreError::Failed(_)), "{err}");
    let text = message(&err);
    // Entra's code and first line, said plainly; the SDK alone gave serde's complaint about its
    // `\r\n` ("invalid type: string ..., expected a borrowed string").
    let refused = format!(
        "Azure authentication failed: Entra ID refused the client credentials: \
         {INVALID_SECRET_DESCRIPTION} (invalid_client, trace ID "
    );
    assert!(text.contains(&refused), "{text}");
    assert!(!text.contains("borrowed"), "{text}");
    assert!(!text.contains('\r') && !text.contains('\n'), "{text:?}");
    assert!(!text.contains("wrong"), "the secret leaked: {text}");
    assert!(!format!("{store:?}").contains(CLIENT_SECRET));
    assert!(!format!("{options:?}").contains("wrong"));
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    let (fake, store) = start().await;
    // The SDK refreshes a token five minutes before it expires.
    fake.token_lifetime(Duration::from_secs(302));
    store.create(&name("k"), b"v").await.unwrap();
    assert_eq!(fake.count(Op::Token), 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    store.get(&name("k")).await.unwrap();
    assert_eq!(fake.count(Op::Token), 2);
    // Never a request with an expired token: the only challenge was the first request's.
    assert_eq!(fake.count(Op::Challenge), 1);
}

#[tokio::test]
async fn challenge_resource_verification_is_on_by_default() {
    let fake = FakeKeyVault::start().await.unwrap();
    // The vault reached as `localhost`: the challenge's resource `localhost` is not a parent domain.
    let mut options = options(&fake);
    options.endpoint = format!("https://localhost:{}", fake.addr().port());
    let store = AzureStore::connect(&options).unwrap();
    let err = store.get(&name("k")).await.unwrap_err();
    assert!(
        message(&err).contains("doesn't match the requested domain"),
        "{}",
        message(&err)
    );
    assert_eq!(fake.count(Op::Token), 0);
}

#[tokio::test]
async fn plain_http_endpoints_are_refused() {
    let options = AzureOptions::new("http://vault.localhost", AzureCredentials::Default);
    let err = AzureStore::connect(&options).unwrap_err();
    assert!(err.to_string().contains("must use https"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_on_an_uncached_key_reads_key_vault_once_and_cached_keys_not_at_all() {
    let (fake, store) = start().await;
    let kms = Kms::new(Arc::new(store), CacheConfig::default());
    kms.create_key(&name("hot"), None).await.unwrap();
    fake.reset_counts();
    fake.delay(Duration::from_millis(200));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let kms = kms.clone();
            tokio::spawn(async move { kms.generate_key(&name("hot"), b"ctx").await.map(drop) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    // One read: list the versions, get the oldest.
    assert_eq!((fake.count(Op::Versions), fake.count(Op::Get)), (1, 1));
    fake.delay(Duration::ZERO);
    for _ in 0..500 {
        kms.generate_key(&name("hot"), b"ctx").await.unwrap();
        kms.describe_key(&name("hot")).await.unwrap();
    }
    assert_eq!((fake.count(Op::Versions), fake.count(Op::Get)), (1, 1));
    assert_eq!(fake.count(Op::Token), 0);
}

#[tokio::test]
async fn cached_keys_serve_through_an_outage_and_service_resumes_by_itself() {
    let (fake, store) = start().await;
    let mut cache = CacheConfig::default();
    cache.any = Duration::from_millis(200);
    cache.offline = Duration::from_secs(60);
    let kms = Kms::new(Arc::new(store), cache);
    kms.create_key(&name("cached"), None).await.unwrap();
    kms.create_key(&name("uncached"), None).await.unwrap();
    let ciphertext = kms.encrypt(&name("cached"), b"data", b"").await.unwrap();

    fake.outage(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Expired in the cache, Azure down: the cached key keeps serving, offline.
    assert_eq!(
        &*kms
            .decrypt(&name("cached"), &ciphertext, b"")
            .await
            .unwrap(),
        b"data"
    );
    let err = kms.status().await.unwrap_err();
    assert_eq!(
        (err.status(), err.message().as_str()),
        (504, "key store is not reachable")
    );
    let err = kms.describe_key(&name("uncached")).await.unwrap_err();
    assert_eq!(
        (err.status(), err.message().as_str()),
        (502, "failed to read key")
    );

    fake.outage(false);
    // The cache asks the store again at most every 10 s after an outage; then all is well again.
    let start = Instant::now();
    loop {
        if kms.status().await.is_ok() && kms.describe_key(&name("uncached")).await.is_ok() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "service did not resume"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Options from a YAML `keystore.azure.keyvault` section with the kesrs extensions `extra`.
fn options_from_yaml(fake: &FakeKeyVault, extra: &str) -> Result<AzureOptions, StoreError> {
    let yaml = format!(
        "admin: {{identity: disabled}}\ntls: {{key: k, cert: c}}\nkeystore:\n  azure:\n    keyvault:\n\
         \x20     endpoint: {}\n\
         \x20     credentials: {{tenant_id: fake-tenant, client_id: kesrs-tests, client_secret: {CLIENT_SECRET}}}\n\
         {extra}",
        fake.endpoint()
    );
    let config = Config::from_yaml(&yaml, &|_| None).unwrap();
    let KeyStoreConfig::Azure(vault) = &config.keystore else {
        panic!("{:?}", config.keystore)
    };
    let mut options = AzureOptions::from_config(vault)?;
    // Set in the process environment (AZURE_AUTHORITY_HOST) by the server; here, per store.
    options.authority_host = Some(fake.authority());
    options.retry_delay = Duration::from_millis(20);
    Ok(options)
}

#[tokio::test]
async fn the_config_trusts_a_private_ca_from_a_file_or_a_directory() {
    let fake = FakeKeyVault::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ca.pem");
    std::fs::write(&file, fake.ca_pem()).unwrap();
    let bundle = dir.path().join("bundle");
    std::fs::create_dir(&bundle).unwrap();
    std::fs::write(bundle.join("fake.pem"), fake.ca_pem()).unwrap();
    std::fs::write(bundle.join("other.crt"), kesrs_test_ca_pem()).unwrap();
    // Subdirectories are skipped, as for the server's `tls.ca`.
    std::fs::create_dir(bundle.join("old")).unwrap();

    for (n, ca) in [&file, &bundle].into_iter().enumerate() {
        let extra = format!(
            "      tls:\n        ca: {}\n      timeout: 2s\n",
            ca.display()
        );
        let options = options_from_yaml(&fake, &extra).unwrap();
        assert_eq!(options.timeout, Duration::from_secs(2));
        let store = AzureStore::connect(&options).unwrap();
        let key = name(&format!("ca-{n}"));
        store.create(&key, b"v").await.unwrap();
        assert_eq!(&*store.get(&key).await.unwrap(), b"v");
    }

    // Without the CA, the fake's certificate is not trusted: an outage, bounded by `timeout`.
    let options = options_from_yaml(&fake, "      timeout: 1s\n").unwrap();
    assert_eq!(
        (options.timeout, options.request_timeout),
        (Duration::from_secs(1), Duration::from_secs(1))
    );
    let store = AzureStore::connect(&options).unwrap();
    let start = Instant::now();
    let err = store.get(&name("ca-0")).await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(err, StoreError::Unreachable(_)), "{err}");
    assert!(message(&err).contains("UnknownIssuer"), "{}", message(&err));
    // The default timeouts stay when the config sets none.
    let options = options_from_yaml(&fake, "").unwrap();
    assert_eq!(
        (options.timeout, options.request_timeout),
        (Duration::from_secs(10), Duration::from_secs(5))
    );
}

#[tokio::test]
async fn an_unusable_ca_is_refused_when_the_store_opens_naming_the_field_and_file() {
    let fake = FakeKeyVault::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let not_pem = dir.path().join("notes.txt");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let bundle = dir.path().join("bundle");
    std::fs::create_dir(&bundle).unwrap();
    std::fs::write(bundle.join("a.pem"), fake.ca_pem()).unwrap();
    std::fs::write(
        bundle.join("b.key"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let cases = [
        (
            missing.clone(),
            missing.clone(),
            "No such file or directory",
        ),
        (
            not_pem.clone(),
            not_pem.clone(),
            "the CA file holds no PEM certificate",
        ),
        (
            bundle.clone(),
            bundle.join("b.key"),
            "the CA file holds no PEM certificate",
        ),
    ];
    for (ca, culprit, reason) in cases {
        let extra = format!("      tls:\n        ca: {}\n", ca.display());
        let err = options_from_yaml(&fake, &extra).unwrap_err();
        assert!(matches!(err, StoreError::Failed(_)), "{err}");
        let text = message(&err);
        let expected = format!(
            "keystore.azure.keyvault.tls.ca: cannot load CA certificates from '{}': ",
            culprit.display()
        );
        assert!(text.contains(&expected), "{text}");
        assert!(text.contains(reason), "{text}");
    }
}

/// Another CA's certificate, to show that a directory may hold several.
fn kesrs_test_ca_pem() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).unwrap().pem()
}

/// KES's Azure store answers 200 for deleting a missing key; its fs store and kesrs's stores answer
/// 404 `key does not exist` (docs/compatibility.md, "Key stores").
#[tokio::test]
async fn deleting_a_missing_key_is_not_found_as_in_every_kesrs_store() {
    let (fake, store) = start().await;
    assert!(matches!(
        store.delete(&name("never-created")).await,
        Err(StoreError::NotFound)
    ));
    // Decided without a DELETE: no soft-deleted secret, no purge.
    assert_eq!((fake.count(Op::Delete), fake.count(Op::Purge)), (0, 0));

    let kms = Kms::new(Arc::new(store), CacheConfig::default());
    let err = kms.delete_key(&name("never-created")).await.unwrap_err();
    assert_eq!(
        (err.status(), err.message().as_str()),
        (404, "key does not exist")
    );
    kms.create_key(&name("once"), None).await.unwrap();
    kms.delete_key(&name("once")).await.unwrap();
    let err = kms.delete_key(&name("once")).await.unwrap_err();
    assert_eq!(
        (err.status(), err.message().as_str()),
        (404, "key does not exist")
    );

    // The same answer as the memory (and fs) store gives.
    let memory = kesrs_core::keystore::MemoryStore::new();
    assert!(matches!(
        memory.delete(&name("never-created")).await,
        Err(StoreError::NotFound)
    ));
}

/// Creates run concurrently for `names` on each of `kmses`; the outcomes, per name, in `kmses` order.
async fn race(kmses: &[Kms], names: &[&str]) -> Vec<Vec<Result<(), kesrs_core::Error>>> {
    let tasks: Vec<Vec<_>> = names
        .iter()
        .map(|n| {
            kmses
                .iter()
                .map(|kms| {
                    let kms = kms.clone();
                    let key = name(n);
                    tokio::spawn(async move { kms.create_key(&key, None).await })
                })
                .collect()
        })
        .collect();
    let mut outcomes = Vec::new();
    for per_name in tasks {
        let mut results = Vec::new();
        for task in per_name {
            results.push(task.await.unwrap());
        }
        outcomes.push(results);
    }
    outcomes
}

/// Exactly one success; every other create answered KES's `key already exists`.
fn assert_one_winner(results: &[Result<(), kesrs_core::Error>]) -> usize {
    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for err in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(
            (err.status(), err.message().as_str()),
            (400, "key already exists")
        );
    }
    winners[0]
}

/// Regression (issue 13): 50 clients creating one name at once on one kesrs got up to 33 answers of
/// 200, and the vault kept a secret version per winner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_creates_in_one_server_make_one_key_and_one_version() {
    let fake = FakeKeyVault::start().await.unwrap();
    let kms = Kms::new(
        Arc::new(AzureStore::connect(&common::options(&fake)).unwrap()),
        CacheConfig::default(),
    );
    let outcomes = race(std::slice::from_ref(&kms), &["hot"; 50]).await;
    let results: Vec<_> = outcomes.into_iter().flatten().collect();
    assert_one_winner(&results);
    assert_eq!(fake.versions("hot").len(), 1);
    assert_eq!(fake.count(Op::Set), 1);
    // The waiters answered from the winner's outcome, without listing the vault themselves:
    // one list before the write, two after it.
    assert_eq!(fake.count(Op::Versions), 3);
    let ciphertext = kms.encrypt(&name("hot"), b"data", b"").await.unwrap();
    assert_eq!(
        &*kms.decrypt(&name("hot"), &ciphertext, b"").await.unwrap(),
        b"data"
    );
}

/// Two servers sharing a vault, every write landing before any creator reads back (the fake holds
/// the writes until all have arrived): one create succeeds, the other versions are disabled, and
/// both servers then use the winner's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_racing_on_one_name_make_one_key_and_agree_on_it() {
    let fake = FakeKeyVault::start().await.unwrap();
    let servers: Vec<Kms> = (0..2)
        .map(|_| {
            let store = AzureStore::connect(&common::options(&fake)).unwrap();
            Kms::new(Arc::new(store), CacheConfig::default())
        })
        .collect();
    let names = ["race-a", "race-b", "race-c", "race-d"];
    fake.hold_sets(names.len() * servers.len());
    let outcomes = race(&servers, &names).await;
    for (n, results) in names.iter().zip(&outcomes) {
        let winner = assert_one_winner(results);
        let versions = fake.versions(n);
        assert_eq!(versions.len(), servers.len(), "{n}: {versions:?}");
        // The winner's version is the oldest (creation second, then ID), the only one enabled:
        // Go KES, which reads the oldest version, agrees.
        let mut ordered = versions.clone();
        ordered.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        let enabled: Vec<&VersionInfo> = versions.iter().filter(|v| v.enabled).collect();
        assert_eq!(enabled, [&ordered[0]], "{n}: {versions:?}");
        // Each server reads the same key: what one encrypts, the other decrypts.
        let loser = 1 - winner;
        let sealed = servers[winner]
            .encrypt(&name(n), b"data", b"")
            .await
            .unwrap();
        let opened = servers[loser]
            .decrypt(&name(n), &sealed, b"")
            .await
            .unwrap();
        assert_eq!(&*opened, b"data");
        let sealed = servers[loser]
            .encrypt(&name(n), b"back", b"")
            .await
            .unwrap();
        let opened = servers[winner]
            .decrypt(&name(n), &sealed, b"")
            .await
            .unwrap();
        assert_eq!(&*opened, b"back");
    }
}

/// Waits until a creator has listed the versions twice, before its write and after it: it
/// is settling now.
async fn read_back_after_write(fake: &FakeKeyVault) {
    let start = Instant::now();
    while fake.count(Op::Versions) < 2 {
        assert!(start.elapsed() < Duration::from_secs(5), "no read-back");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Adds another server's version of `secret`, written in the same second as the creator's only
/// version but with a smaller ID, so that it sorts first; returns its ID.
fn tie(fake: &FakeKeyVault, secret: &str) -> String {
    let ours = fake.versions(secret);
    assert_eq!(ours.len(), 1, "{ours:?}");
    let other = "0".repeat(32);
    fake.insert_version(secret, "second to write", &other, ours[0].created);
    other
}

/// The IDs of `secret`'s enabled versions.
fn enabled(fake: &FakeKeyVault, secret: &str) -> Vec<String> {
    let versions = fake.versions(secret);
    versions
        .into_iter()
        .filter(|v| v.enabled)
        .map(|v| v.id)
        .collect()
}

/// Key Vault timestamps versions in whole seconds: a version another server writes later in the same
/// second, with a smaller ID, comes first. A creator reads back once more after that second before it
/// answers, so it loses instead of answering 200 for a key nobody reads.
#[tokio::test]
async fn a_creator_loses_to_a_same_second_version_written_after_its_first_read_back() {
    let (fake, store) = start().await;
    let store = Arc::new(store);
    let create = tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.create(&name("tied"), b"first to write").await }
    });
    read_back_after_write(&fake).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let other = tie(&fake, "tied");

    assert!(matches!(create.await.unwrap(), Err(StoreError::Exists)));
    assert_eq!(enabled(&fake, "tied"), [other]);
    assert_eq!(
        &*store.get(&name("tied")).await.unwrap(),
        b"second to write"
    );
}

/// A creator that loses only at its second read-back, after that read-back took most of the
/// operation's time (a slow vault), still disables its version: disabling is cleanup of a version it
/// wrote, and must not get only what the read-back left of the deadline. Left enabled, a Go KES
/// server that takes this same-second version reads a key no kesrs server uses.
#[tokio::test]
async fn a_creator_that_loses_after_a_slow_read_back_still_disables_its_version() {
    let fake = FakeKeyVault::start().await.unwrap();
    let mut options = options(&fake);
    options.request_timeout = Duration::from_secs(2);
    options.timeout = Duration::from_millis(2600);
    let store = Arc::new(AzureStore::connect(&options).unwrap());
    let create = tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.create(&name("slow-tie"), b"first to write").await }
    });
    read_back_after_write(&fake).await;
    let other = tie(&fake, "slow-tie");
    // The second read-back starts about 1 s after the write and ends 0.9 s later; disabling then
    // takes 0.9 s more, past the 2.6 s the create had.
    fake.delay(Duration::from_millis(900));

    assert!(matches!(create.await.unwrap(), Err(StoreError::Exists)));
    fake.clear_faults();
    assert_eq!(enabled(&fake, "slow-tie"), [other]);
}
