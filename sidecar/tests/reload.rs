//! Hot reload: a rotated certificate is served to new connections after SIGHUP, and after the files
//! change on disk (as cert-manager rotates a Kubernetes secret), while clients on HTTP/1.1 keep-alive
//! and HTTP/2 connections keep going without a single failed request. Reloads show in the metrics.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    config_text, server_cert, spawn_and_wait, tls_connect, Client, ClientCert, Hints, Lines, Proto,
    TlsOptions, BIN,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;

struct Running {
    child: Child,
    addr: SocketAddr,
    stderr: Lines,
    admin: ClientCert,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn start(config: &Path, admin: ClientCert, extra_args: &[&str]) -> Self {
        let mut command = Command::new(BIN);
        command
            .arg("server")
            .arg("--config")
            .arg(config)
            .arg("--addr")
            .arg("127.0.0.1:0")
            .args(extra_args);
        let (child, addr, _stdout, stderr) = spawn_and_wait(command);
        Self {
            child,
            addr,
            stderr,
            admin,
        }
    }

    fn signal(&self, name: &str) {
        common::signal(&self.child, name);
    }

    /// The certificate a new connection is served.
    async fn served_cert(&self) -> CertificateDer<'static> {
        let stream = tls_connect(
            self.addr,
            TlsOptions {
                cert: Some(&self.admin),
                alpn: vec![b"h2".to_vec()],
                tls12_only: false,
                hints: Arc::new(Mutex::new(Hints::default())),
            },
        )
        .await
        .unwrap();
        stream.get_ref().1.peer_certificates().unwrap()[0]
            .clone()
            .into_owned()
    }

    async fn wait_served(&self, want: &CertificateDer<'_>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.served_cert().await != *want {
            assert!(
                Instant::now() < deadline,
                "the new certificate is not served; stderr:\n{}",
                self.stderr.lock().unwrap().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn metric(&self, name: &str) -> f64 {
        let mut admin = Client::connect(self.addr, Some(&self.admin), Proto::Http2).await;
        let text = admin.get("/v1/metrics").await.text();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
            .parse()
            .unwrap()
    }

    fn stderr_contains(&self, needle: &str) -> bool {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
    }
}

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

/// Clients that keep sending requests on one HTTP/1.1 keep-alive and one HTTP/2 connection each,
/// plus one that opens a new connection per request, and count what fails.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    errors: Arc<Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    async fn start(addr: SocketAddr, admin: &ClientCert) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (proto, reconnect) in [
            (Proto::Http1, false),
            (Proto::Http2, false),
            (Proto::Http2, true),
        ] {
            let (stop, ok, failed, errors) =
                (stop.clone(), ok.clone(), failed.clone(), errors.clone());
            let admin = admin.clone();
            let mut client = Client::connect(addr, Some(&admin), proto).await;
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if reconnect {
                        match Client::try_connect(addr, Some(&admin), proto, false).await {
                            Ok(c) => client = c,
                            Err(err) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                errors.lock().unwrap().push(format!("connect: {err}"));
                                continue;
                            }
                        }
                    }
                    let result = client
                        .try_send("GET", "/v1/status", common::TestBody::empty())
                        .await;
                    match result {
                        Ok(reply) if reply.status == 200 => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(reply) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            errors
                                .lock()
                                .unwrap()
                                .push(format!("{proto:?}: {}", reply.status));
                        }
                        Err(err) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            errors.lock().unwrap().push(format!("{proto:?}: {err}"));
                        }
                    }
                }
            }));
        }
        Self {
            stop,
            ok,
            failed,
            errors,
            tasks,
        }
    }

    /// Stops the clients; asserts none failed and that they were busy.
    async fn finish(self, before: u64) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        let failed = self.failed.load(Ordering::Relaxed);
        assert_eq!(
            failed,
            0,
            "failed requests: {:?}",
            self.errors.lock().unwrap()
        );
        let ok = self.ok.load(Ordering::Relaxed);
        assert!(ok > before + 30, "only {ok} requests");
    }
}

/// Writes `content` to `path` atomically (write a temporary file, rename it over).
fn replace(path: &Path, content: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_serves_a_rotated_certificate_without_dropping_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let admin = ClientCert::ed25519();
    let (cert, key) = server_cert();
    std::fs::write(dir.path().join("server.cert"), &cert).unwrap();
    std::fs::write(dir.path().join("server.key"), &key).unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(&config, config_text(dir.path(), &admin.identity, "")).unwrap();
    // SIGHUP alone: the file watcher is off.
    let server = Running::start(&config, admin.clone(), &["--no-watch"]);
    assert_eq!(server.served_cert().await, der(&cert));
    assert_eq!(server.metric("kesrs_reload_generation").await, 1.0);

    let load = Load::start(server.addr, &server.admin).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = load.ok.load(Ordering::Relaxed);

    let (new_cert, new_key) = server_cert();
    replace(&dir.path().join("server.key"), &new_key);
    replace(&dir.path().join("server.cert"), &new_cert);
    // Without the watcher nothing changes until SIGHUP.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(server.served_cert().await, der(&cert));
    server.signal("HUP");
    server.wait_served(&der(&new_cert)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    load.finish(before).await;

    assert_eq!(server.metric("kesrs_reload_generation").await, 2.0);
    assert_eq!(server.metric("kesrs_reload_failures_total").await, 0.0);
    let expiry = server
        .metric("kesrs_tls_certificate_expiry_timestamp_seconds")
        .await;
    assert!(expiry > 4e9, "{expiry}"); // rcgen's default notAfter is 4096.
    assert!(server.stderr_contains("configuration reloaded"));
    assert!(server.stderr_contains("\"key_store\":\"kept\""));

    // A broken certificate is refused: the current one stays, and the failure is counted.
    replace(&dir.path().join("server.cert"), "not a certificate");
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.metric("kesrs_reload_failures_total").await < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the failed reload is not counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(server.stderr_contains("failed to reload"));
    assert_eq!(server.served_cert().await, der(&new_cert));
    assert_eq!(server.metric("kesrs_reload_generation").await, 2.0);
    assert!(
        server
            .metric("kesrs_reload_last_failure_timestamp_seconds")
            .await
            > 0.0
    );
}

/// A Kubernetes secret volume: the files are symlinks through `..data`, which is swapped atomically.
struct SecretVolume {
    dir: PathBuf,
    n: u32,
}

impl SecretVolume {
    fn new(dir: PathBuf, cert: &str, key: &str) -> Self {
        std::fs::create_dir(&dir).unwrap();
        let mut volume = Self { dir, n: 0 };
        volume.update(cert, key);
        for name in ["tls.crt", "tls.key"] {
            std::os::unix::fs::symlink(format!("..data/{name}"), volume.dir.join(name)).unwrap();
        }
        volume
    }

    fn update(&mut self, cert: &str, key: &str) {
        self.n += 1;
        let version = format!("..2025_01_01_00_00_0{}", self.n);
        let data = self.dir.join(&version);
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("tls.crt"), cert).unwrap();
        std::fs::write(data.join("tls.key"), key).unwrap();
        let tmp = self.dir.join("..data_tmp");
        std::os::unix::fs::symlink(&version, &tmp).unwrap();
        std::fs::rename(&tmp, self.dir.join("..data")).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_files_are_reloaded_without_sighup_or_a_dropped_request() {
    let dir = tempfile::tempdir().unwrap();
    let admin = ClientCert::ed25519();
    let (cert, key) = server_cert();
    let mut volume = SecretVolume::new(dir.path().join("tls"), &cert, &key);
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    let config = dir.path().join("config.yml");
    let text = config_text(dir.path(), &admin.identity, "")
        .replace("server.key", "tls/tls.key")
        .replace("server.cert", "tls/tls.crt");
    std::fs::write(&config, text).unwrap();
    let server = Running::start(&config, admin.clone(), &[]);
    assert_eq!(server.served_cert().await, der(&cert));

    let load = Load::start(server.addr, &server.admin).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = load.ok.load(Ordering::Relaxed);

    // cert-manager renews the certificate: the kubelet swaps `..data`.
    let (new_cert, new_key) = server_cert();
    volume.update(&new_cert, &new_key);
    server.wait_served(&der(&new_cert)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    load.finish(before).await;
    assert!(server.stderr_contains("file changed"));
    assert_eq!(server.metric("kesrs_reload_failures_total").await, 0.0);
    let generation = server.metric("kesrs_reload_generation").await;
    assert!(generation >= 2.0, "{generation}");

    // Rewriting files in place works too: the config file here, which adds a policy.
    let user = ClientCert::ecdsa();
    let mut u = Client::connect(server.addr, Some(&user), Proto::Http1).await;
    assert_eq!(u.get("/v1/status").await.status, 403);
    let policy = format!(
        "policy:\n  p:\n    allow:\n      - /v1/status\n    identities:\n      - {}\n",
        user.identity
    );
    let text = std::fs::read_to_string(&config).unwrap() + &policy;
    std::fs::write(&config, text).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while u.get("/v1/status").await.status != 200 {
        assert!(
            Instant::now() < deadline,
            "the changed config was not reloaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(server.metric("kesrs_reload_generation").await > generation);
}
