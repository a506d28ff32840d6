//! Black-box tests of the client commands (`kesrs key|policy|identity|status|metric|log|bench`)
//! against a real `kesrs server` over mTLS, authenticating with an API key as MinIO does.

// Helpers are not `#[test]` functions, so clippy.toml's test allowances do not reach them; a panic
// here is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Output, Stdio};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use common::{ClientCert, Server, BIN};

/// A server whose admin is an API key, and a way to run the CLI against it.
struct Cli {
    server: Server,
    api_key: String,
}

impl Cli {
    fn start(extra: &str) -> Self {
        let api_key = kesrs_core::ApiKey::generate()
            .unwrap()
            .to_secret_string()
            .to_string();
        let server = Server::start_with_admin(ClientCert::api_key(&api_key), extra);
        Self { server, api_key }
    }

    /// `kesrs <args>` with the server, API key and CA given as flags.
    fn run(&self, args: &[&str]) -> Output {
        self.run_as(&self.api_key, args)
    }

    fn run_as(&self, api_key: &str, args: &[&str]) -> Output {
        self.command(api_key, args).output().unwrap()
    }

    /// `kesrs <args>` as [`run`](Self::run), with `input` on stdin.
    fn pipe(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .command(&self.api_key, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
        let out = child.wait_with_output().unwrap();
        // The command may exit before reading everything (a bad header): a broken pipe is fine.
        let _ = writer.join().unwrap();
        out
    }

    fn command(&self, api_key: &str, args: &[&str]) -> Command {
        let ca = self.server.dir.path().join("server.cert");
        let mut command = Command::new(BIN);
        command
            .args(args)
            .arg("--server")
            .arg(self.server.addr.to_string())
            .arg("--api-key")
            .arg(api_key)
            .arg("--ca")
            .arg(ca)
            .env_clear();
        command
    }

    /// Runs and requires success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn key_commands_cover_the_key_lifecycle() {
    let cli = Cli::start("");
    cli.ok(&["key", "create", "app-a", "app-b", "other"]);

    let out = cli.run(&["key", "create", "app-a"]);
    assert_eq!(out.status.code(), Some(5), "exists: {}", stderr(&out));
    assert!(stderr(&out).contains("key already exists"));

    assert_eq!(cli.ok(&["key", "ls"]), "app-a\napp-b\nother\n");
    assert_eq!(
        json(&cli.ok(&["key", "ls", "app*", "--json"])),
        serde_json::json!(["app-a", "app-b"])
    );
    // KES refuses the bare prefix `app-`: the CLI asks for `app` and keeps what matches.
    cli.ok(&["key", "create", "apple"]);
    assert_eq!(cli.ok(&["key", "ls", "app-*"]), "app-a\napp-b\n");
    assert_eq!(cli.ok(&["key", "ls", "app*"]), "app-a\napp-b\napple\n");
    cli.ok(&["key", "rm", "apple"]);

    let info = json(&cli.ok(&["key", "info", "app-a", "--json"]));
    assert_eq!(info["name"], "app-a");
    assert_eq!(info["algorithm"], "AES256");
    assert!(info["created_by"].as_str().unwrap().len() == 64);

    // dek prints JSON when stdout is not a terminal, as `kes key dek` does.
    let context = STANDARD.encode(br#"{"bucket":"photos/cat.jpg"}"#);
    let dek = json(&cli.ok(&["key", "dek", "app-a", &context]));
    let plaintext = dek["plaintext"].as_str().unwrap();
    let ciphertext = dek["ciphertext"].as_str().unwrap();
    assert_eq!(STANDARD.decode(plaintext).unwrap().len(), 32);
    let decrypted = json(&cli.ok(&["key", "decrypt", "app-a", ciphertext, &context]));
    assert_eq!(decrypted["plaintext"], plaintext);

    let out = cli.run(&["key", "decrypt", "app-a", ciphertext, "b3RoZXI="]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("decryption failed: ciphertext is not authentic"));

    let sealed = json(&cli.ok(&["key", "encrypt", "app-b", "hello"]));
    let opened = json(&cli.ok(&[
        "key",
        "decrypt",
        "app-b",
        sealed["ciphertext"].as_str().unwrap(),
    ]));
    assert_eq!(opened["plaintext"], STANDARD.encode("hello"));

    let imported = STANDARD.encode([7u8; 32]);
    cli.ok(&["key", "import", "imported", &imported]);
    let out = cli.run(&["key", "import", "short", "AAAA"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid key size for 'AES256'"));

    cli.ok(&["key", "rm", "app-a"]);
    let out = cli.run(&["key", "info", "app-a"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("key does not exist"));

    // A name the server would refuse is a usage error, caught before any request.
    let out = cli.run(&["key", "create", "bad.name"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("key name 'bad.name' is empty, too long"));
}

#[test]
fn policy_identity_and_status_commands() {
    let app = kesrs_core::ApiKey::generate().unwrap();
    let app_key = app.to_secret_string().to_string();
    let cli = Cli::start(&format!(
        "policy:\n  app:\n    allow:\n    - /v1/key/generate/app-*\n    - /v1/identity/self/describe\n    deny:\n    - /v1/key/generate/app-secret*\n    identities:\n    - {}\n",
        app.identity()
    ));

    assert_eq!(cli.ok(&["policy", "ls"]), "app\n");
    let policy = json(&cli.ok(&["policy", "show", "app", "--json"]));
    assert_eq!(
        policy["allow"],
        serde_json::json!(["/v1/identity/self/describe", "/v1/key/generate/app-*"])
    );
    assert_eq!(
        policy["deny"],
        serde_json::json!(["/v1/key/generate/app-secret*"])
    );
    assert_eq!(
        json(&cli.ok(&["policy", "info", "app", "--json"]))["name"],
        "app"
    );
    let out = cli.run(&["policy", "info", "nope"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    let identities = cli.ok(&["identity", "ls"]);
    assert!(identities.contains(app.identity().as_str()), "{identities}");
    let me = json(&cli.ok(&["identity", "info", "--json"]));
    assert_eq!(me["admin"], true);
    let described = json(&cli.ok(&["identity", "info", app.identity().as_str(), "--json"]));
    assert_eq!(described["policy"], "app");

    // The policy identity: allowed what its policy allows, refused the rest with exit code 4.
    cli.ok(&["key", "create", "app-1", "app-secret"]);
    let out = cli.run_as(&app_key, &["key", "dek", "app-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli.run_as(&app_key, &["key", "dek", "app-secret"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("not authorized: insufficient permissions"));
    let out = cli.run_as(&app_key, &["key", "create", "app-2"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let out = cli.run_as(&app_key, &["identity", "info", "--json"]);
    let me = json(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(me["policy"], "app");

    let status = json(&cli.ok(&["status", "--json", "--api"]));
    assert_eq!(status["keystore_unreachable"], false);
    assert_eq!(status["api"].as_array().unwrap().len(), 22);
    assert!(cli
        .ok(&["metric"])
        .contains("# TYPE kes_http_request_success counter"));
}

#[test]
fn environment_variables_replace_flags() {
    let cli = Cli::start("");
    let run = |vars: &[(&str, String)]| {
        let mut command = Command::new(BIN);
        command.args(["key", "create", "from-env"]).env_clear();
        for (name, value) in vars {
            command.env(name, value);
        }
        command.output().unwrap()
    };
    let ca = cli
        .server
        .dir
        .path()
        .join("server.cert")
        .display()
        .to_string();
    // The kes CLI's names.
    let out = run(&[
        ("KES_SERVER", cli.server.addr.to_string()),
        ("KES_API_KEY", cli.api_key.clone()),
        ("MINIO_KMS_KES_CAPATH", ca.clone()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // MinIO's names, with an https:// endpoint.
    let out = run(&[
        (
            "MINIO_KMS_KES_ENDPOINT",
            format!("https://{}", cli.server.addr),
        ),
        ("MINIO_KMS_KES_API_KEY", cli.api_key.clone()),
        ("MINIO_KMS_KES_CAPATH", ca),
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    // No credentials at all: a clear error.
    let out = run(&[("KES_SERVER", cli.server.addr.to_string())]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no credentials"), "{}", stderr(&out));
}

#[test]
fn log_follows_the_audit_stream() {
    let cli = Cli::start("");
    let ca = cli.server.dir.path().join("server.cert");
    let mut follower = Command::new(BIN)
        .args(["log", "--audit", "--server", &cli.server.addr.to_string()])
        .args(["--api-key", &cli.api_key, "--ca"])
        .arg(&ca)
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    // The stream subscribes when its response starts: keep making requests until one is seen.
    let reader = std::thread::spawn(move || lines.next().unwrap().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !reader.is_finished() {
        assert!(std::time::Instant::now() < deadline, "no audit event");
        let _ = cli.run(&["key", "info", "audited"]);
    }
    let event = json(&reader.join().unwrap());
    let _ = follower.kill();
    let _ = follower.wait();
    assert!(event["request"]["path"].as_str().is_some(), "{event}");
    assert!(event["response"]["code"].as_u64().is_some(), "{event}");
}

#[test]
fn bench_runs_a_bounded_load_and_reports_json() {
    let cli = Cli::start("");
    for op in ["generate", "decrypt", "mix"] {
        let report = json(&cli.ok(&["bench", "--op", op, "-n", "200", "-c", "4", "--json"]));
        assert_eq!(report["requests"], 200, "{op}: {report}");
        assert_eq!(report["errors"], 0, "{op}: {report}");
        assert!(report["latency_ms"]["p99"].as_f64().unwrap() > 0.0);
    }
    let report = json(&cli.ok(&["bench", "--http1", "-n", "50", "-c", "2", "--json"]));
    assert_eq!(
        (report["requests"].as_u64(), report["http"].as_str()),
        (Some(50), Some("1.1"))
    );
    // Several load threads, more of them than requests in flight: the count is still exact.
    let report = json(&cli.ok(&["bench", "-t", "3", "-n", "90", "-c", "5", "--json"]));
    assert_eq!(
        (report["requests"].as_u64(), report["threads"].as_u64()),
        (Some(90), Some(3))
    );
    let report = json(&cli.ok(&["bench", "-t", "4", "-n", "10", "-c", "2", "--json"]));
    assert_eq!(report["requests"], 10, "{report}");
}

/// `kesrs seal` and `kesrs open`, against the server and over its key directory (`--fs`): what one
/// seals the other opens; a wrong context, a changed byte or a refused key name fails with its code.
#[test]
fn seal_and_open_stream_envelopes() {
    let cli = Cli::start("");
    cli.ok(&["key", "create", "sealing-key"]);
    let keys = cli.server.keys_dir();
    let fs = keys.to_str().unwrap();
    // Three packages, the last one short.
    let plaintext: Vec<u8> = (0..150_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let ctx = ["--context", "bucket/object"];

    let seal = |args: &[&str]| {
        let out = cli.pipe(
            &[&["seal", "sealing-key"], &ctx[..], args].concat(),
            &plaintext,
        );
        assert!(out.status.success(), "seal {args:?}: {}", stderr(&out));
        out.stdout
    };
    let open = |args: &[&str], sealed: &[u8]| cli.pipe(&[&["open"], args].concat(), sealed);
    for (seal_args, open_args) in [(&[][..], &["--fs", fs][..]), (&["--fs", fs][..], &[][..])] {
        let sealed = seal(seal_args);
        assert_eq!(&sealed[..4], b"KESE");
        let out = open(&[&ctx[..], open_args].concat(), &sealed);
        assert!(out.status.success(), "open: {}", stderr(&out));
        assert!(out.stdout == plaintext, "opened to other bytes");
    }

    let sealed = seal(&[]);
    let out = open(&["--context", "bucket/other"], &sealed);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let mut changed = sealed.clone();
    *changed.last_mut().unwrap() ^= 1;
    let out = open(&ctx, &changed);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("package 2 authentication failed"));
    let out = open(&ctx, b"not an envelope");
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let out = open(&[&ctx[..], &["--accept", "other-*"]].concat(), &sealed);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let out = open(&[&ctx[..], &["--accept", "sealing-*"]].concat(), &sealed);
    assert!(out.status.success(), "{}", stderr(&out));

    // An empty message is a header only, and opens empty.
    let out = cli.pipe(&["seal", "sealing-key"], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let opened = open(&[], &out.stdout);
    assert!(opened.status.success() && opened.stdout.is_empty());
    let out = cli.pipe(&["seal", "no-such-key"], b"x");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}
