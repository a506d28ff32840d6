//! Black-box tests of `kesrs server` with an Azure Key Vault key store: the real binary, configured
//! by a KES YAML file, against the in-repo fake Key Vault (`tests/fake-keyvault`), over real mTLS.
//!
//! The fake serves as `vault.localhost` and `login.localhost` on 127.0.0.1, which kesrs resolves
//! itself (RFC 6761), so the server needs no resolver set-up; it trusts the fake's per-run CA through
//! the kesrs extension `keystore.azure.keyvault.tls.ca` and authenticates with a client secret
//! against the fake's Entra ID endpoint, found through `AZURE_AUTHORITY_HOST`.

// The helpers below are not `#[test]` functions, so clippy.toml's test allowances do not reach them;
// a panic in a test helper is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{spawn_and_wait, unb64, Client, ClientCert, Lines, Proto, Reply, TestBody, BIN};
use fake_keyvault::{FakeKeyVault, Op};

/// A `kesrs server` on the fake's vault; killed on drop.
struct AzureServer {
    child: Child,
    addr: std::net::SocketAddr,
    stderr: Lines,
    admin: ClientCert,
    _dir: tempfile::TempDir,
}

impl Drop for AzureServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AzureServer {
    /// Starts `kesrs server` with `keystore.azure.keyvault` pointing at `fake`; `extra` is more
    /// top-level YAML (cache settings, say).
    fn start(fake: &FakeKeyVault, extra: &str) -> Self {
        Self::start_with_secret(fake, extra, fake_keyvault::CLIENT_SECRET)
    }

    /// [`Self::start`] authenticating with `client_secret`.
    fn start_with_secret(fake: &FakeKeyVault, extra: &str, client_secret: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = common::server_cert();
        std::fs::write(dir.path().join("server.cert"), cert).unwrap();
        std::fs::write(dir.path().join("server.key"), key).unwrap();
        std::fs::write(dir.path().join("azure-ca.pem"), fake.ca_pem()).unwrap();
        let admin = ClientCert::ed25519();
        std::fs::write(
            dir.path().join("config.yml"),
            config(dir.path(), &admin.identity, &fake.endpoint(), extra),
        )
        .unwrap();
        let mut command = Command::new(BIN);
        command
            .arg("server")
            .arg("--config")
            .arg(dir.path().join("config.yml"))
            .arg("--addr")
            .arg("127.0.0.1:0");
        common::fake_azure_env(&mut command, fake);
        command.env("KV_CLIENT_SECRET", client_secret);
        let (child, addr, _stdout, stderr) = spawn_and_wait(command);
        Self {
            child,
            addr,
            stderr,
            admin,
            _dir: dir,
        }
    }

    async fn admin(&self) -> Client {
        Client::connect(self.addr, Some(&self.admin), Proto::Http2).await
    }

    fn stderr_contains(&self, needle: &str) -> bool {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains(needle))
    }

    /// Waits up to 5 s for a log line containing `needle`.
    async fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.stderr_contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no log line contains {needle:?}:\n{}",
                self.stderr.lock().unwrap().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A KES config: only the Azure section and the kesrs extensions differ from what Go KES reads.
fn config(dir: &Path, admin: &str, endpoint: &str, extra: &str) -> String {
    format!(
        "version: v1
address: 0.0.0.0:7373
admin:
  identity: {admin}
tls:
  key: {dir}/server.key
  cert: {dir}/server.cert
keystore:
  azure:
    keyvault:
      endpoint: {endpoint}
      credentials:
        tenant_id: fake-tenant
        client_id: kesrs-sidecar-tests
        client_secret: ${{KV_CLIENT_SECRET}}
      # kesrs extensions, ignored by Go KES:
      tls:
        ca: {dir}/azure-ca.pem
      timeout: 3s
{extra}
",
        dir = dir.display()
    )
}

async fn create(c: &mut Client, name: &str) -> Reply {
    c.send("PUT", &format!("/v1/key/create/{name}"), TestBody::empty())
        .await
}

async fn describe(c: &mut Client, name: &str) -> Reply {
    c.get(&format!("/v1/key/describe/{name}")).await
}

async fn delete(c: &mut Client, name: &str) -> Reply {
    c.send(
        "DELETE",
        &format!("/v1/key/delete/{name}"),
        TestBody::empty(),
    )
    .await
}

/// Generates a data key under `name` and checks that it decrypts; returns the ciphertext.
async fn generate_and_decrypt(c: &mut Client, name: &str) -> String {
    let r = c
        .json(
            "POST",
            &format!("/v1/key/generate/{name}"),
            r#"{"context":"Y3R4"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "generate {name}: {}", r.text());
    let dek = r.json();
    let plaintext = unb64(dek["plaintext"].as_str().unwrap());
    assert_eq!(plaintext.len(), 32);
    let ciphertext = dek["ciphertext"].as_str().unwrap().to_owned();
    let r = c
        .json(
            "POST",
            &format!("/v1/key/decrypt/{name}"),
            &format!(r#"{{"ciphertext":"{ciphertext}","context":"Y3R4"}}"#),
        )
        .await;
    assert_eq!(r.status, 200, "decrypt {name}: {}", r.text());
    assert_eq!(unb64(r.json()["plaintext"].as_str().unwrap()), plaintext);
    ciphertext
}

fn names(r: &Reply) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_routes_work_against_key_vault() {
    let fake = FakeKeyVault::start().await.unwrap();
    let server = AzureServer::start(&fake, "");
    let mut c = server.admin().await;

    let r = create(&mut c, "minio-key").await;
    assert_eq!((r.status, r.body.len()), (200, 0), "{}", r.text());
    create(&mut c, "minio-key")
        .await
        .assert_error(400, "key already exists");
    // Stored as KES stores it: a secret of the same name, tagged with the exact KES name.
    let (values, tags) = fake.secret("minio-key").unwrap();
    assert_eq!(values.len(), 1);
    assert_eq!(tags["kes-name"], "minio-key");

    let r = describe(&mut c, "minio-key").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let info = r.json();
    assert_eq!(info["name"], "minio-key");
    assert_eq!(info["algorithm"], "AES256");
    assert_eq!(info["created_by"], server.admin.identity.as_str());
    generate_and_decrypt(&mut c, "minio-key").await;

    // `_` is not a Key Vault name character: the documented mapping stores it as `kesrs--…`.
    let r = create(&mut c, "my_key").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (_, tags) = fake.secret("kesrs--my-ukey").unwrap();
    assert_eq!(tags["kes-name"], "my_key");
    generate_and_decrypt(&mut c, "my_key").await;
    assert_eq!(describe(&mut c, "my_key").await.json()["name"], "my_key");

    // Key Vault ignores case; kesrs never lets `KEY` and `key` reach each other's key.
    assert_eq!(create(&mut c, "key").await.status, 200);
    describe(&mut c, "KEY")
        .await
        .assert_error(404, "key does not exist");
    c.json("POST", "/v1/key/generate/KEY", "{}")
        .await
        .assert_error(404, "key does not exist");
    create(&mut c, "KEY")
        .await
        .assert_error(400, "key already exists");
    delete(&mut c, "KEY")
        .await
        .assert_error(404, "key does not exist");
    assert_eq!(describe(&mut c, "key").await.json()["name"], "key");

    assert_eq!(
        names(&c.get("/v1/key/list/").await),
        ["key", "minio-key", "my_key"]
    );
    assert_eq!(names(&c.get("/v1/key/list/my%2A").await), ["my_key"]);

    // Delete deletes and purges; deleting again, or a key that never existed, is 404 as in the
    // fs store (Go KES's Azure store answers 200: docs/compatibility.md).
    let r = delete(&mut c, "my_key").await;
    assert_eq!((r.status, r.body.len()), (200, 0), "{}", r.text());
    assert!(fake.secret("kesrs--my-ukey").is_none());
    assert!(!fake.is_soft_deleted("kesrs--my-ukey"));
    delete(&mut c, "my_key")
        .await
        .assert_error(404, "key does not exist");
    delete(&mut c, "never-created")
        .await
        .assert_error(404, "key does not exist");
    describe(&mut c, "my_key")
        .await
        .assert_error(404, "key does not exist");
    // The name is free again.
    assert_eq!(create(&mut c, "my_key").await.status, 200);
    assert_eq!(
        names(&c.get("/v1/key/list/").await),
        ["key", "minio-key", "my_key"]
    );

    let r = c.get("/v1/ready").await;
    assert_eq!((r.status, r.body.len()), (200, 0));
    let status = c.get("/v1/status").await.json();
    assert!(
        status["keystore_latency"].as_u64().unwrap() >= 1,
        "{status}"
    );
    assert!(status.get("keystore_unreachable").is_none(), "{status}");
    // One token for the whole run: kesrs caches it.
    assert_eq!(fake.count(Op::Token), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_serves_cached_keys_reports_unreachable_and_resumes_by_itself() {
    let fake = FakeKeyVault::start().await.unwrap();
    // `any: 1s`: after a second a cached key is served only because `offline` allows it.
    let server = AzureServer::start(
        &fake,
        "cache:\n  expiry:\n    any: 1s\n    unused: 0s\n    offline: 5m\n",
    );
    let mut c = server.admin().await;
    assert_eq!(create(&mut c, "cached").await.status, 200);
    assert_eq!(create(&mut c, "uncached").await.status, 200);
    let ciphertext = generate_and_decrypt(&mut c, "cached").await;

    fake.outage(true);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Expired in the cache, Key Vault unreachable: the cached key keeps serving.
    generate_and_decrypt(&mut c, "cached").await;
    let r = c
        .json(
            "POST",
            "/v1/key/decrypt/cached",
            &format!(r#"{{"ciphertext":"{ciphertext}","context":"Y3R4"}}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A key that is not cached cannot be read: a server error, never a false "does not exist".
    describe(&mut c, "uncached")
        .await
        .assert_error(502, "failed to read key");
    create(&mut c, "new-key")
        .await
        .assert_error(502, "failed to create key");

    c.get("/v1/ready")
        .await
        .assert_error(504, "key store is not reachable");
    let r = c.get("/v1/status").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let status = r.json();
    assert_eq!(status["keystore_unreachable"], true, "{status}");
    assert_eq!(status["keystore_unavailable"], true, "{status}");
    assert!(status.get("keystore_latency").is_none(), "{status}");

    // The outage ends. With no key traffic at all, readiness comes back by itself: kesrs asks Key
    // Vault again at most every 10 s after it found it unreachable (KES probes every 10 s too).
    fake.outage(false);
    let start = Instant::now();
    loop {
        let ready = c.get("/v1/ready").await.status;
        if ready == 200 {
            break;
        }
        assert_eq!(ready, 504);
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "readiness did not come back"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let r = describe(&mut c, "uncached").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let status = c.get("/v1/status").await.json();
    assert!(status.get("keystore_unreachable").is_none(), "{status}");
    assert_eq!(create(&mut c, "new-key").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_permission_is_a_502_and_the_error_log_names_it() {
    let fake = FakeKeyVault::start().await.unwrap();
    let server = AzureServer::start(&fake, "");
    let mut c = server.admin().await;
    assert_eq!(create(&mut c, "k").await.status, 200);

    // The identity lost the `get` secret permission (403 ForbiddenByPolicy).
    fake.deny(Op::Get);
    let r = describe(&mut c, "k").await;
    // The client sees KES's generic message only; the cause is in the server's error log.
    r.assert_error(502, "failed to read key");
    server
        .wait_for_log("denied the 'get' secret permission")
        .await;
    assert!(server.stderr_contains("ForbiddenByPolicy"));
    assert!(server.stderr_contains("/v1/key/describe/k"));
    // Not an outage: readiness is unaffected (the probe needs no permission).
    let r = c.get("/v1/ready").await;
    assert_eq!(r.status, 200, "{}", r.text());

    fake.clear_faults();
    assert_eq!(describe(&mut c, "k").await.status, 200);
}

/// Regression (issue 13): concurrent creates of one name on two servers sharing a vault all answered
/// 200. Now exactly one does, whichever server it reached, and both servers serve that key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_on_two_servers_make_exactly_one_key() {
    const CLIENTS_PER_SERVER: usize = 8;
    let fake = FakeKeyVault::start().await.unwrap();
    let servers = [AzureServer::start(&fake, ""), AzureServer::start(&fake, "")];
    // Each server writes once (creates of a name are single-flight in a server); hold both writes
    // until both have arrived, so that each server's check before writing found no key.
    fake.hold_sets(servers.len());
    let mut tasks = Vec::new();
    for server in &servers {
        for _ in 0..CLIENTS_PER_SERVER {
            let mut c = server.admin().await;
            tasks.push(tokio::spawn(async move { create(&mut c, "shared").await }));
        }
    }
    let mut created = 0;
    for task in tasks {
        let r = task.await.unwrap();
        if r.status == 200 {
            created += 1;
        } else {
            r.assert_error(400, "key already exists");
        }
    }
    assert_eq!(created, 1);
    let versions = fake.versions("shared");
    assert_eq!(versions.len(), servers.len(), "{versions:?}");
    assert_eq!(
        versions.iter().filter(|v| v.enabled).count(),
        1,
        "{versions:?}"
    );
    // What one server generates, the other decrypts.
    let mut first = servers[0].admin().await;
    let mut second = servers[1].admin().await;
    let ciphertext = generate_and_decrypt(&mut first, "shared").await;
    let r = second
        .json(
            "POST",
            "/v1/key/decrypt/shared",
            &format!(r#"{{"ciphertext":"{ciphertext}","context":"Y3R4"}}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Regression (issue 13): a wrong client secret was logged as `invalid type: string
/// "AADSTS7000215: ...", expected a borrowed string`; the log now says what Entra ID said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_secret_is_logged_with_entras_code_and_message() {
    let fake = FakeKeyVault::start().await.unwrap();
    let server = AzureServer::start_with_secret(&fake, "", "not-the-secret");
    let mut c = server.admin().await;
    describe(&mut c, "k")
        .await
        .assert_error(502, "failed to read key");
    server
        .wait_for_log(&format!(
            "Entra ID refused the client credentials: {}",
            fake_keyvault::INVALID_SECRET_DESCRIPTION
        ))
        .await;
    assert!(!server.stderr_contains("borrowed"));
    assert!(!server.stderr_contains("not-the-secret"));
}
