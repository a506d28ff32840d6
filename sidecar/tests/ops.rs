//! Black-box tests of operations: log streams, SIGHUP reload, shutdown, `--dev` and the identity CLI.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use http_body_util::BodyExt as _;

use common::{spawn_and_wait, Client, ClientCert, Proto, Server, TestBody, BIN};

#[tokio::test]
async fn audit_stream_and_stdout_receive_every_request() {
    let server = Server::start("");
    let mut streamer = Client::connect(server.addr, Some(&server.admin), Proto::Http1).await;
    let (status, mut body) = streamer.stream("/v1/log/audit").await;
    assert_eq!(status, 200);

    let mut c = server.admin().await;
    // Keep requesting until the subscriber sees an event: it subscribes when its response starts.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut received = String::new();
    let event = loop {
        c.get("/v1/key/describe/nope").await;
        match tokio::time::timeout(Duration::from_millis(200), body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    received.push_str(std::str::from_utf8(&data).unwrap());
                }
            }
            Ok(other) => panic!("audit stream ended: {other:?}"),
            Err(_) => assert!(Instant::now() < deadline, "no audit event: {received}"),
        }
        // Each event is one line; the stream's own request is audited too.
        let found = received
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|e| e["request"]["path"] == "/v1/key/describe/nope");
        if let Some(event) = found {
            break event;
        }
    };
    assert_eq!(event["request"]["method"], "GET");
    assert_eq!(event["request"]["identity"], server.admin.identity.as_str());
    assert_eq!(event["request"]["ip"], "127.0.0.1");
    assert_eq!(event["response"]["code"], 404);
    assert!(event["response"]["time"].as_u64().unwrap() > 0);
    assert!(event["time"].is_string());

    // The same events go to stdout, one JSON object per line.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server
        .stdout
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("/v1/key/describe/nope"))
    {
        assert!(Instant::now() < deadline, "no audit line on stdout");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stdout = server.stdout.lock().unwrap().clone();
    for line in stdout {
        serde_json::from_str::<serde_json::Value>(&line).unwrap();
    }

    // The metrics count the events written to the stream.
    let text = c.get("/v1/metrics").await.text();
    let count = text
        .lines()
        .find_map(|l| l.strip_prefix("kes_log_audit_events "))
        .unwrap();
    assert!(count.parse::<f64>().unwrap() >= 1.0, "{count}");
}

#[tokio::test]
async fn error_stream_receives_log_records() {
    let server = Server::start("");
    let mut streamer = Client::connect(server.addr, Some(&server.admin), Proto::Http1).await;
    let (status, mut body) = streamer.stream("/v1/log/error").await;
    assert_eq!(status, 200);
    // A failed handshake is logged at INFO, which the default error level lets through.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut received = String::new();
    while !received.contains("TLS handshake failed") {
        let _ = Client::try_connect(server.addr, None, Proto::Http1, false).await;
        if let Ok(Some(Ok(frame))) =
            tokio::time::timeout(Duration::from_millis(200), body.frame()).await
        {
            if let Ok(data) = frame.into_data() {
                received.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
        assert!(Instant::now() < deadline, "no error event: {received}");
    }
    for line in received.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        let message = event["message"].as_str().unwrap();
        assert!(message.starts_with("time="), "{message}");
    }
}

#[tokio::test]
async fn sighup_reloads_policies_and_keeps_the_old_config_when_the_new_one_is_bad() {
    let user = ClientCert::ecdsa();
    let deny = format!(
        "policy:\n  p:\n    allow:\n      - /v1/key/list/*\n    identities:\n      - {}\n",
        user.identity
    );
    let allow = deny.replace("/v1/key/list/*", "/v1/status");
    let server = Server::start(&deny);
    // A connection opened before the reload keeps working after it.
    let mut u = Client::connect(server.addr, Some(&user), Proto::Http2).await;
    assert_eq!(u.get("/v1/status").await.status, 403);
    assert_eq!(u.get("/v1/key/list/").await.status, 200);

    server.reload(&format!("{allow}keys:\n  - name: from-reload\n"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while u.get("/v1/status").await.status != 200 {
        assert!(Instant::now() < deadline, "reload did not take effect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(u.get("/v1/key/list/").await.status, 403);
    // Startup keys are created on reload, by the admin.
    let mut admin = server.admin().await;
    let info = admin.get("/v1/key/describe/from-reload").await.json();
    assert_eq!(info["created_by"], server.admin.identity.as_str());

    // A broken config is rejected; the old one stays.
    std::fs::write(server.config_path(), "admin: [this is not valid").unwrap();
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.stderr_contains("failed to reload") {
        assert!(Instant::now() < deadline, "no reload error logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(u.get("/v1/status").await.status, 200);
    let mut fresh = Client::connect(server.addr, Some(&user), Proto::Http1).await;
    assert_eq!(fresh.get("/v1/status").await.status, 200);
}

/// kesrs runs the requests of an HTTP/2 connection on the connection's own task: a response that
/// never ends (a log stream) must not hold up the other requests on that connection, and shutdown
/// must still end it.
#[tokio::test]
async fn one_http2_connection_carries_a_log_stream_and_concurrent_requests() {
    let mut server = Server::start("");
    let mut c = Client::connect(server.addr, Some(&server.admin), Proto::Http2).await;
    assert_eq!(
        c.json("POST", "/v1/key/create/multiplexed", "")
            .await
            .status,
        200
    );

    let sender = c.h2_sender();
    let get = |path: &str| {
        http::Request::get(format!("https://localhost{path}"))
            .body(TestBody::empty())
            .unwrap()
    };
    let stream = sender
        .clone()
        .send_request(get("/v1/log/audit"))
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut audit = stream.into_body();

    let requests = (0..64).map(|i| {
        let mut sender = sender.clone();
        async move {
            let request = http::Request::post("https://localhost/v1/key/generate/multiplexed")
                .body(TestBody::full(
                    format!(r#"{{"context":"{}"}}"#, common::b64(&[i])).into_bytes(),
                ))
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            )
        }
    });
    let replies = tokio::time::timeout(
        Duration::from_secs(20),
        futures_util::future::join_all(requests),
    )
    .await
    .expect("requests next to a log stream did not finish");
    for (status, reply) in &replies {
        assert_eq!(*status, 200, "{reply}");
        assert_eq!(
            common::unb64(reply["plaintext"].as_str().unwrap()).len(),
            32
        );
    }

    // The stream, on the same connection, saw them all.
    let mut seen = 0;
    let mut pending = String::new();
    while seen < 64 {
        let frame = tokio::time::timeout(Duration::from_secs(10), audit.frame())
            .await
            .expect("audit events stopped")
            .expect("audit stream ended")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            pending.push_str(std::str::from_utf8(&data).unwrap());
        }
        while let Some((line, rest)) = pending.split_once('\n') {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            if event["request"]["path"] == "/v1/key/generate/multiplexed" {
                assert_eq!(event["response"]["code"], 200);
                seen += 1;
            }
            pending = rest.to_owned();
        }
    }

    // Shutdown ends the stream, then the connection, then the process.
    server.signal("TERM");
    let end = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(Ok(_)) = audit.frame().await {}
    });
    end.await.expect("the log stream outlived shutdown");
    let status = server
        .wait_exit(Duration::from_secs(15))
        .expect("kesrs did not exit on SIGTERM");
    assert!(status.success(), "{status}");
}

/// A client that never opens its HTTP/2 flow-control window cannot keep a response pinned past its
/// route's timeout (hyper does not poll a body without window): the stream is reset, as Go's write
/// deadline tears it down. Found by adversarial testing: 4 such connections pinned 4 GB.
#[tokio::test]
async fn http2_streams_end_at_their_deadline_even_when_the_client_withholds_its_window() {
    let server = Server::start("api:\n  /v1/api:\n    timeout: 1s\n");
    let (mut sender, connection) =
        common::h2_connect(&server, h2::client::Builder::new().initial_window_size(0)).await;
    tokio::spawn(connection);
    let request = http::Request::get("https://localhost/v1/api")
        .body(())
        .unwrap();
    let (response, _) = sender.send_request(request, true).unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let next = tokio::time::timeout(Duration::from_secs(10), body.data())
        .await
        .expect("the stream is still open 10 s after its 1 s deadline");
    let err = next.expect("a reset, not the end of the body").unwrap_err();
    assert_eq!(err.reason(), Some(h2::Reason::CANCEL));
}

/// A handler still waiting at its deadline (here for a body that never ends) loses its stream, and
/// only its stream: the connection's other requests go on, and the error log says it timed out. Every
/// deadline is enforced on its own stream, so several streams expire together and nothing else.
#[tokio::test]
async fn http2_handlers_past_their_deadline_lose_their_stream_not_the_connection() {
    let server = Server::start("api:\n  /v1/key/generate/:\n    timeout: 1s\n");
    let mut admin = server.admin().await;
    assert_eq!(admin.json("POST", "/v1/key/create/k", "").await.status, 200);
    let (mut sender, connection) = common::h2_connect(&server, &h2::client::Builder::new()).await;
    tokio::spawn(connection);
    let started = std::time::Instant::now();
    let mut stuck = Vec::new();
    for _ in 0..3 {
        let request = http::Request::put("https://localhost/v1/key/generate/k")
            .body(())
            .unwrap();
        let (response, mut body) = sender.send_request(request, false).unwrap();
        // Half a body, and never its end.
        body.send_data(bytes::Bytes::from_static(b"{\"context\":"), false)
            .unwrap();
        stuck.push((response, body));
    }
    // Meanwhile the connection serves others.
    let request = http::Request::get("https://localhost/version")
        .body(())
        .unwrap();
    let (response, _) = sender.send_request(request, true).unwrap();
    assert_eq!(response.await.unwrap().status(), 200);
    for (response, _body) in stuck {
        let reset = tokio::time::timeout(Duration::from_secs(10), response)
            .await
            .expect("the stream is still open 10 s after its 1 s deadline")
            .expect_err("a reset, not an answer");
        assert!(reset.is_reset(), "{reset}");
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "reset early: {elapsed:?}"
    );
    let request = http::Request::get("https://localhost/version")
        .body(())
        .unwrap();
    let (response, _) = sender.send_request(request, true).unwrap();
    assert_eq!(
        response.await.unwrap().status(),
        200,
        "the connection went with the streams"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !server.stderr_contains("request timed out") {
        assert!(
            std::time::Instant::now() < deadline,
            "no 'request timed out' in the error log"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Go's HTTP/2 server, and so KES, allows 250 concurrent streams per connection; MinIO's client opens
/// another connection beyond that. kesrs announces the same limit.
#[tokio::test]
async fn http2_allows_as_many_concurrent_streams_as_go() {
    let server = Server::start("");
    let (mut sender, mut connection) =
        common::h2_connect(&server, &h2::client::Builder::new()).await;
    // The server's SETTINGS arrive once the connection is polled; a request makes sure they did.
    let request = http::Request::get("https://localhost/version")
        .body(())
        .unwrap();
    let (response, _) = sender.send_request(request, true).unwrap();
    let response = tokio::select! {
        response = response => response.unwrap(),
        _ = &mut connection => panic!("connection closed"),
    };
    assert_eq!(response.status(), 200);
    assert_eq!(sender.current_max_send_streams(), 250);
}

#[tokio::test]
async fn sigterm_drains_and_exits_zero() {
    let mut server = Server::start("");
    let mut c = server.admin().await;
    assert_eq!(c.get("/v1/status").await.status, 200);
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(15))
        .expect("kesrs did not exit on SIGTERM");
    assert!(status.success(), "{status}");
}

// Multi-threaded: the test thread blocks in `wait` below, and the client connections' tasks must
// still run to close (and answer the server's shutdown ping), or the server's drain waits them out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_prints_an_api_key_that_works() {
    let mut command = Command::new(BIN);
    command.args(["server", "--dev", "--addr", "127.0.0.1:0"]);
    let (mut child, addr, stdout, _stderr) = spawn_and_wait(command);
    let guard = KillOnDrop(&mut child);
    let key = stdout
        .lock()
        .unwrap()
        .iter()
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("kes:v1:"))
                .map(str::to_owned)
        })
        .expect("no API key printed");
    let cert = ClientCert::api_key(&key);
    let mut c = Client::connect(addr, Some(&cert), Proto::Http2).await;
    assert_eq!(
        c.send("POST", "/v1/key/create/dev", TestBody::empty())
            .await
            .status,
        200
    );
    let r = c.json("POST", "/v1/key/generate/dev", "{}").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let me = c.get("/v1/identity/self/describe").await.json();
    assert_eq!(me["admin"], true);
    // Any other certificate is not the admin.
    let other = ClientCert::ed25519();
    let mut o = Client::connect(addr, Some(&other), Proto::Http2).await;
    assert_eq!(o.get("/v1/key/list/").await.status, 403);
    // SIGTERM, not a kill: the dev server removes the certificate file it wrote.
    drop((c, o));
    common::signal(guard.0, "TERM");
    let _ = guard.0.wait();
    drop(guard);

    let out = Command::new(BIN)
        .args(["server", "--dev", "--config", "x.yml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

struct KillOnDrop<'a>(&'a mut std::process::Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn identity_cli() {
    let key = "kes:v1:AD9E7FSYWrMD+VjhI6q545cYT9YOyFxZb7UnjEepYDRc";
    let expected = kesrs_core::ApiKey::parse(key)
        .unwrap()
        .identity()
        .to_string();
    let out = Command::new(BIN)
        .args(["identity", "of", key])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Not a TTY: no trailing newline.
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);

    let out = Command::new(BIN)
        .args(["identity", "new"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let new_key = text
        .split_whitespace()
        .find(|w| w.starts_with("kes:v1:"))
        .unwrap();
    let id = kesrs_core::ApiKey::parse(new_key)
        .unwrap()
        .identity()
        .to_string();
    assert!(text.contains(&id));

    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("client.key");
    let cert_file = dir.path().join("client.crt");
    let out = Command::new(BIN)
        .args([
            "identity",
            "new",
            "--ip",
            "127.0.0.1",
            "--dns",
            "localhost",
            "--key",
        ])
        .arg(&key_file)
        .arg("--cert")
        .arg(&cert_file)
        .arg("my-client")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let out = Command::new(BIN)
        .arg("identity")
        .arg("of")
        .arg(&cert_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), printed);
    // A chain the server would refuse gets no identity: a CA certificate first, then the client's.
    let ca = common::Ca::new();
    let chain_file = dir.path().join("ca-first.crt");
    let client_pem = std::fs::read_to_string(&cert_file).unwrap();
    std::fs::write(&chain_file, format!("{}{client_pem}", ca.cert.pem())).unwrap();
    let out = Command::new(BIN)
        .args(["identity", "of"])
        .arg(&chain_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("is a CA certificate (basicConstraints CA:TRUE)"),
        "{stderr}"
    );
    // The client's certificate followed by its CA is the client's identity.
    std::fs::write(&chain_file, format!("{client_pem}{}", ca.cert.pem())).unwrap();
    let out = Command::new(BIN)
        .args(["identity", "of"])
        .arg(&chain_file)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), printed);
    // The files are refused a second time without --force.
    let out = Command::new(BIN)
        .args(["identity", "new", "--key"])
        .arg(&key_file)
        .arg("--cert")
        .arg(&cert_file)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// A server key encrypted with legacy PEM encryption starts with `tls.password`, as in KES.
#[tokio::test]
async fn an_encrypted_server_key_is_read_with_tls_password() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::copy(
        fixtures.join("encrypted-server.cert"),
        dir.path().join("server.cert"),
    )
    .unwrap();
    std::fs::copy(
        fixtures.join("encrypted-server.key"),
        dir.path().join("server.key"),
    )
    .unwrap();
    let admin = ClientCert::ed25519();
    let config = common::config_text(dir.path(), &admin.identity, "")
        .replace("tls:\n", "tls:\n  password: kesrs-test\n");
    std::fs::write(dir.path().join("config.yml"), config).unwrap();
    let mut command = Command::new(BIN);
    command
        .args(["server", "--no-watch", "--addr", "127.0.0.1:0", "--config"])
        .arg(dir.path().join("config.yml"));
    let (mut child, addr, _, _) = spawn_and_wait(command);
    let guard = KillOnDrop(&mut child);
    let mut c = Client::connect(addr, Some(&admin), Proto::Http2).await;
    assert_eq!(c.get("/v1/status").await.status, 200);
    drop(guard);
}

/// Logs are JSON lines when stderr is not a terminal (a service manager, a container runtime), one
/// object per event with its level, at the level the config sets.
#[test]
fn logs_are_json_lines_when_not_on_a_terminal() {
    let server = Server::start("log:\n  error: debug\n");
    let lines = server.stderr.lock().unwrap().clone();
    assert!(!lines.is_empty(), "no log lines");
    for line in &lines {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(event["level"].is_string(), "{line}");
        assert!(event["fields"]["message"].is_string(), "{line}");
    }
    assert!(
        lines.iter().any(|l| l.contains("listening on https://")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn tokio_worker_threads_sets_the_connection_threads_and_num_cpu_used() {
    let admin = ClientCert::ed25519();
    let env = [("TOKIO_WORKER_THREADS", "3")];
    let server = Server::start_with_env(admin, |_| String::new(), "", &env);

    let tasks = std::fs::read_dir(format!("/proc/{}/task", server.pid())).unwrap();
    let names: Vec<String> = tasks
        .map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).unwrap())
        .collect();
    let mut connection_threads: Vec<&str> = names
        .iter()
        .map(|name| name.trim_end())
        .filter(|name| name.starts_with("kesrs-conn-"))
        .collect();
    connection_threads.sort_unstable();
    assert_eq!(
        connection_threads,
        ["kesrs-conn-0", "kesrs-conn-1", "kesrs-conn-2"],
        "{names:?}"
    );

    // Connections on several threads at once are all served.
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(server.admin().await);
    }
    for c in &mut clients {
        let status = c.get("/v1/status").await.json();
        assert_eq!(status["num_cpu_used"], 3, "{status}");
    }
    let text = clients[0].get("/v1/metrics").await.text();
    assert!(
        text.lines().any(|l| l == "kes_system_num_cpu_used 3"),
        "{text}"
    );
}
