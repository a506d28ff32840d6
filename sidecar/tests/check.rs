//! `kesrs check`: a good config passes with exit code 0, and each broken one fails naming the item
//! and the exact fault.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ClientCert, Server, BIN};
use rcgen::{CertificateParams, KeyPair, SanType};

/// A certificate for `dns` and 127.0.0.1, valid from `from` to `until` days from now.
fn cert(dns: &str, from: i64, until: i64) -> (String, String) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(vec![dns.to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(from);
    params.not_after = now + time::Duration::days(until);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

struct Setup {
    dir: tempfile::TempDir,
    minio: ClientCert,
}

const POLICY: &str = "\
policy:
  minio:
    allow:
      - /v1/key/create/minio-*
      - /v1/key/generate/minio-*
      - /v1/key/decrypt/minio-*
      - /v1/key/describe/minio-*
      - /v1/key/hmac/minio-*
      - /v1/key/list/*
      - /v1/status
      - /v1/api
    identities:
      - MINIO
keys:
  - name: minio-default-key
";

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = cert("kes.example.net", -1, 90);
        std::fs::write(dir.path().join("server.cert"), c).unwrap();
        std::fs::write(dir.path().join("server.key"), k).unwrap();
        let setup = Self {
            dir,
            minio: ClientCert::ed25519(),
        };
        setup.config(POLICY);
        setup
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes the config with `extra` (policies, keys) and the fs key store.
    fn config(&self, extra: &str) {
        let text = format!(
            "address: 0.0.0.0:7373\nadmin:\n  identity: disabled\ntls:\n  key: {d}/server.key\n  \
             cert: {d}/server.cert\n{extra}keystore:\n  fs:\n    path: {d}/keys\n",
            d = self.dir.path().display(),
            extra = extra.replace("MINIO", &self.minio.identity),
        );
        std::fs::write(self.path("config.yml"), text).unwrap();
    }

    fn check(&self, args: &[&str]) -> (bool, String) {
        check(&self.path("config.yml"), args)
    }
}

fn check(config: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(BIN)
        .arg("check")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    (output.status.success(), stdout)
}

/// The line of `item` with status `status`.
#[track_caller]
fn line<'a>(out: &'a str, status: &str, item: &str) -> &'a str {
    let prefix = format!("[{status:>4}] {item}: ");
    out.lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no '{prefix}' in:\n{out}"))
}

#[track_caller]
fn fails(setup: &Setup, args: &[&str], item: &str, needle: &str) -> String {
    let (ok, out) = setup.check(args);
    assert!(!ok, "check passed:\n{out}");
    let line = line(&out, "FAIL", item);
    assert!(line.contains(needle), "'{needle}' not in: {line}\n{out}");
    out
}

#[test]
fn a_good_config_passes_every_item() {
    let setup = Setup::new();
    let (ok, out) = setup.check(&["--dial", "kes.example.net", "--dial", "127.0.0.1"]);
    assert!(ok, "{out}");
    for item in [
        "config",
        "tls.cert",
        "tls.key",
        "keystore.fs.path",
        "certificate/key",
        "certificate SANs (kes.example.net)",
        "certificate SANs (127.0.0.1)",
        "certificate validity",
        "tls",
        "policy 'minio'",
        "key store",
        "key store permission 'create'",
        "key store permission 'get'",
        "key store permission 'list'",
        "key store permission 'delete'",
        "key 'minio-default-key'",
    ] {
        line(&out, "ok", item);
    }
    assert!(!out.contains("FAIL") && !out.contains("warn"), "{out}");
    assert!(out.contains("all 16 checks passed"), "{out}");
    // The probe key is gone; the config's key was not created by the check.
    assert_eq!(std::fs::read_dir(setup.path("keys")).unwrap().count(), 0);
}

#[test]
fn an_invalid_config_names_the_field_and_line() {
    let setup = Setup::new();
    setup.config("cache:\n  expiry:\n    any: 5 minutes\n");
    let out = fails(&setup, &[], "config", "cache.expiry.any");
    assert!(out.contains("line"), "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with('[')).count(), 1);
}

#[test]
fn a_missing_file_is_named() {
    let setup = Setup::new();
    std::fs::remove_file(setup.path("server.key")).unwrap();
    fails(&setup, &[], "tls.key", "server.key");
    let (_, out) = setup.check(&[]);
    line(&out, "ok", "tls.cert");
}

#[test]
fn a_certificate_that_does_not_match_its_key_is_named() {
    let setup = Setup::new();
    let (_, other_key) = cert("kes.example.net", -1, 90);
    std::fs::write(setup.path("server.key"), other_key).unwrap();
    fails(
        &setup,
        &[],
        "certificate/key",
        "does not match the private key",
    );
}

#[test]
fn a_name_clients_dial_must_be_in_the_certificate() {
    let setup = Setup::new();
    let out = fails(
        &setup,
        &["--dial", "kes.other.net"],
        "certificate SANs (kes.other.net)",
        "does not name 'kes.other.net' (it names kes.example.net, 127.0.0.1)",
    );
    assert!(!out.contains("[FAIL] certificate validity"), "{out}");
}

#[test]
fn expired_and_soon_expiring_certificates_fail() {
    let setup = Setup::new();
    let (c, k) = cert("kes.example.net", -10, -1);
    std::fs::write(setup.path("server.cert"), c).unwrap();
    std::fs::write(setup.path("server.key"), k).unwrap();
    fails(&setup, &[], "certificate validity", "expired at");

    let (c, k) = cert("kes.example.net", -10, 2);
    std::fs::write(setup.path("server.cert"), c).unwrap();
    std::fs::write(setup.path("server.key"), k).unwrap();
    fails(
        &setup,
        &[],
        "certificate validity",
        "sooner than the 168h asked for",
    );
    // The threshold is the operator's.
    let (ok, out) = setup.check(&["--min-validity", "24h"]);
    assert!(ok, "{out}");
}

/// An encrypted PEM key (`kes identity new --encrypt`, `openssl ec -aes256`) is read with
/// tls.password, as KES reads it; a missing or wrong password is named.
#[test]
fn encrypted_keys_are_read_with_tls_password() {
    let setup = Setup::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::copy(
        fixtures.join("encrypted-server.cert"),
        setup.path("server.cert"),
    )
    .unwrap();
    std::fs::copy(
        fixtures.join("encrypted-server.key"),
        setup.path("server.key"),
    )
    .unwrap();
    let text = std::fs::read_to_string(setup.path("config.yml")).unwrap();

    fails(&setup, &[], "tls.key", "is encrypted: set tls.password");

    std::fs::write(
        setup.path("config.yml"),
        text.replace("tls:\n", "tls:\n  password: wrong\n"),
    )
    .unwrap();
    fails(&setup, &[], "tls.key", "incorrect password");

    std::fs::write(
        setup.path("config.yml"),
        text.replace("tls:\n", "tls:\n  password: kesrs-test\n"),
    )
    .unwrap();
    let (ok, out) = setup.check(&["--dial", "kes.example.net"]);
    assert!(ok, "{out}");
}

#[test]
fn a_policy_missing_a_minio_route_says_which() {
    let setup = Setup::new();
    setup.config(&POLICY.replace("      - /v1/key/generate/minio-*\n", ""));
    let out = fails(
        &setup,
        &[],
        "policy 'minio'",
        "does not allow POST /v1/key/generate/ for any key name",
    );
    assert!(out.contains("insufficient permissions"), "{out}");

    // A deny rule counts too, and keys given with --key are checked.
    setup.config(&POLICY.replace(
        "    identities:",
        "    deny:\n      - /v1/key/decrypt/minio-archive\n    identities:",
    ));
    fails(
        &setup,
        &["--key", "minio-archive"],
        "policy 'minio'",
        "does not allow POST /v1/key/decrypt/minio-archive",
    );

    // Routes MinIO can live without are warnings, not failures.
    setup.config(&POLICY.replace("      - /v1/api\n", ""));
    let (ok, out) = setup.check(&[]);
    assert!(ok, "{out}");
    assert!(line(&out, "warn", "policy 'minio'").contains("GET /v1/api"));

    // --minio-policy leaves other policies (say, for monitoring) alone.
    let monitoring = "  monitoring:\n    allow:\n      - /v1/metrics\n    identities: []\n";
    setup.config(&POLICY.replace("keys:", &format!("{monitoring}keys:")));
    fails(&setup, &[], "policy 'monitoring'", "/v1/key/generate/");
    let (ok, out) = setup.check(&["--minio-policy", "minio"]);
    assert!(ok, "{out}");
}

/// A route MinIO needs that the policy allows for no key name fails with or without `--key`; a
/// pattern that may or may not match MinIO's key needs the key to decide (issue 13).
#[test]
fn a_route_allowed_for_no_key_name_fails_without_a_key() {
    let setup = Setup::new();
    let without_keys = POLICY.replace("keys:\n  - name: minio-default-key\n", "");
    setup.config(&without_keys.replace("      - /v1/key/decrypt/minio-*\n", ""));
    for args in [&[][..], &["--key", "minio-default-key"][..]] {
        let out = fails(
            &setup,
            args,
            "policy 'minio'",
            "does not allow POST /v1/key/decrypt/ for any key name (needed by every read of an \
             encrypted object)",
        );
        assert!(!out.contains("/v1/key/decrypt/minio-default-key"), "{out}");
    }

    // A deny that takes every name away counts the same.
    setup.config(&without_keys.replace(
        "    identities:",
        "    deny:\n      - /v1/key/generate/*\n    identities:",
    ));
    fails(
        &setup,
        &[],
        "policy 'minio'",
        "does not allow POST /v1/key/generate/ for any key name",
    );

    // `minio-*` may or may not match MinIO's key: a warning asking for it, then a verdict.
    setup.config(&without_keys);
    let (ok, out) = setup.check(&[]);
    assert!(ok, "{out}");
    let warning = line(&out, "warn", "policy 'minio'");
    assert!(
        warning.contains("allows POST /v1/key/generate/ (e.g. minio-a)")
            && warning.contains("for some key names only")
            && warning.contains("pass MinIO's MINIO_KMS_KES_KEY_NAME as --key NAME"),
        "{warning}"
    );
    let (ok, out) = setup.check(&["--key", "minio-default-key"]);
    assert!(ok, "{out}");
    line(&out, "ok", "policy 'minio'");
    fails(
        &setup,
        &["--key", "other-key"],
        "policy 'minio'",
        "does not allow POST /v1/key/generate/other-key",
    );

    // A pattern that covers every name needs no key at all.
    setup.config(
        "policy:\n  minio:\n    allow:\n      - /v1/key/*\n      - /v1/status\n      - /v1/api\n\
         \x20   identities:\n      - MINIO\n",
    );
    let (ok, out) = setup.check(&[]);
    assert!(ok, "{out}");
    assert!(
        line(&out, "ok", "policy 'minio'").contains("for every key name"),
        "{out}"
    );
}

/// MinIO with MINIO_API_ROOT_ACCESS=off derives its root credentials from `/v1/key/hmac`; denied,
/// it keeps minioadmin:minioadmin without a word, so `check` names the route and that consequence.
#[test]
fn a_policy_without_hmac_names_the_root_credentials() {
    let setup = Setup::new();
    setup.config(&POLICY.replace("      - /v1/key/hmac/minio-*\n", ""));
    let (ok, out) = setup.check(&[]);
    assert!(ok, "{out}");
    let warning = line(&out, "warn", "policy 'minio'");
    assert!(
        warning.contains("PUT /v1/key/hmac/ for any key name")
            && warning.contains("MINIO_API_ROOT_ACCESS=off")
            && warning.contains("silently keeps minioadmin:minioadmin"),
        "{warning}"
    );
}

#[test]
fn a_key_store_that_cannot_be_opened_is_named() {
    let setup = Setup::new();
    let text = std::fs::read_to_string(setup.path("config.yml")).unwrap();
    let text = text.replace("/keys\n", "/server.key/keys\n");
    std::fs::write(setup.path("config.yml"), text).unwrap();
    fails(
        &setup,
        &[],
        "keystore.fs.path",
        "server.key' is not a directory",
    );
    let (_, out) = setup.check(&[]);
    line(&out, "FAIL", "key store");
    // Without the key store, the rest passes.
    let (ok, out) = setup.check(&["--no-key-store"]);
    assert!(!ok, "{out}");
    assert!(!out.contains("[FAIL] key store"), "{out}");
}

#[test]
fn the_server_logs_the_same_findings_at_start() {
    let user = ClientCert::ed25519();
    let policy = format!(
        "policy:\n  minio:\n    allow:\n      - /v1/key/decrypt/*\n    identities:\n      - {}\n\
         keys:\n  - name: minio-key\n",
        user.identity
    );
    let server = Server::start(&policy);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !server.stderr_contains("does not allow POST /v1/key/generate/ for any key name") {
        assert!(std::time::Instant::now() < deadline, "finding not logged");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(server.stderr_contains("certificate/key"));
}

/// The server has no `--key`: its hint names the `kesrs check` command to run.
#[test]
fn the_server_hint_names_a_command() {
    let user = ClientCert::ed25519();
    let policy = format!(
        "policy:\n  minio:\n    allow:\n      - /v1/key/*\n      - /v1/status\n    deny:\n      \
         - /v1/key/decrypt/minio-archive*\n    identities:\n      - {}\n",
        user.identity
    );
    let server = Server::start(&policy);
    let command = format!(
        "run `kesrs check --config {} --key NAME`",
        server.config_path().display()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !server.stderr_contains(&command) {
        assert!(
            std::time::Instant::now() < deadline,
            "hint not logged: {:?}",
            server.stderr.lock().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!server.stderr_contains("as --key NAME"));
}
