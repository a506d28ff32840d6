//! `kesrs check` on an Azure Key Vault config, against the in-repo fake Key Vault: every secret
//! permission is tried on a temporary secret that is gone afterwards, and a missing permission or an
//! unreachable vault is named.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::BIN;
use fake_keyvault::{FakeKeyVault, Op};

fn write_config(dir: &Path, fake: &FakeKeyVault) -> PathBuf {
    let (cert, key) = common::server_cert();
    std::fs::write(dir.join("server.cert"), cert).unwrap();
    std::fs::write(dir.join("server.key"), key).unwrap();
    std::fs::write(dir.join("azure-ca.pem"), fake.ca_pem()).unwrap();
    let config = format!(
        "admin:\n  identity: disabled\ntls:\n  key: {d}/server.key\n  cert: {d}/server.cert\n\
         keys:\n  - name: minio-key\n\
         keystore:\n  azure:\n    keyvault:\n      endpoint: {endpoint}\n      credentials:\n        \
         tenant_id: fake-tenant\n        client_id: kesrs-check-tests\n        \
         client_secret: ${{KV_CLIENT_SECRET}}\n      tls:\n        ca: {d}/azure-ca.pem\n      \
         timeout: 3s\n",
        d = dir.display(),
        endpoint = fake.endpoint(),
    );
    let path = dir.join("config.yml");
    std::fs::write(&path, config).unwrap();
    path
}

async fn check(config: &Path, fake: &FakeKeyVault) -> (bool, String) {
    let mut command = Command::new(BIN);
    command.arg("check").arg("--config").arg(config);
    common::fake_azure_env(&mut command, fake);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_tries_every_azure_permission_and_names_a_missing_one() {
    let fake = FakeKeyVault::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake);

    let (ok, out) = check(&config, &fake).await;
    assert!(ok, "{out}");
    for permission in ["list", "set", "get", "delete", "purge"] {
        assert!(
            out.contains(&format!(
                "[  ok] key store permission '{permission}': granted"
            )),
            "{out}"
        );
    }
    assert!(
        out.contains("[  ok] key 'minio-key': does not exist yet"),
        "{out}"
    );
    // The temporary secret is gone, purged too.
    assert_eq!(fake.count(Op::Set), 1);
    assert_eq!(fake.count(Op::Purge), 1);

    // Without purge: named, with the fix.
    fake.deny(Op::Purge);
    let (ok, out) = check(&config, &fake).await;
    assert!(!ok, "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("[FAIL] key store permission 'purge'"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("denied the 'purge' secret permission"),
        "{line}"
    );
    assert!(line.contains("Key Vault Secrets Officer"), "{line}");
    assert_eq!(out.matches("[FAIL]").count(), 1, "{out}");

    // Without set: the keys cannot be created.
    fake.clear_faults();
    fake.deny(Op::Set);
    let (ok, out) = check(&config, &fake).await;
    assert!(!ok, "{out}");
    assert!(out.contains("[FAIL] key store permission 'set'"), "{out}");
    assert!(out.contains("[skip] key store permission 'purge'"), "{out}");
    assert!(
        out.contains("[FAIL] key 'minio-key': does not exist, and the key store refused"),
        "{out}"
    );

    // An unreachable vault.
    fake.clear_faults();
    fake.outage(true);
    let (ok, out) = check(&config, &fake).await;
    assert!(!ok, "{out}");
    assert!(out.contains("[FAIL] key store: not reachable"), "{out}");
}
