//! Black-box tests of the HTTP layer as a client sees it on the wire: HEAD answers, HTTP/2 streams
//! that end cleanly under a long malformed mix, the reset-flood guard, and request targets that Go's
//! `net/http` (and so KES) answers in its own way. Found by fuzzing and by a differential run
//! against Go KES (issue 13).

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{raw_http1, Client, ClientCert, Proto, Server, TestBody};

/// curl answered a HEAD over HTTP/2 with PROTOCOL_ERROR and Go's client logged "received DATA on a
/// HEAD request": hyper sent the 405's JSON body after its headers. A HEAD answer is headers only,
/// over HTTP/2 and HTTP/1.1, and the connection stays usable.
#[tokio::test]
async fn head_answers_carry_no_body_over_http2_and_http1() {
    let server = Server::start("");
    let (mut sender, connection) = common::h2_connect(&server, &h2::client::Builder::new()).await;
    let connection = tokio::spawn(connection);
    for (path, status) in [
        ("/v1/status", 405),
        ("/v1/key/create/k", 405),
        ("/v1/nope", 404),
        ("/v1/key/create", 301),
    ] {
        let request = http::Request::head(format!("https://localhost{path}"))
            .body(())
            .unwrap();
        let (response, _) = sender.send_request(request, true).unwrap();
        let response = response.await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let mut body = response.into_body();
        // No DATA frame: the HEADERS frame ended the stream (h2 fails `data()` on DATA after HEAD).
        assert!(
            body.is_end_stream(),
            "{path}: the headers did not end the stream"
        );
        assert!(body.data().await.is_none(), "{path}");
    }
    let request = http::Request::get("https://localhost/v1/status")
        .body(())
        .unwrap();
    let (response, _) = sender.send_request(request, true).unwrap();
    assert_eq!(response.await.unwrap().status(), 200);
    assert!(!connection.is_finished());

    // HTTP/1.1: the next response starts right after the HEAD's headers.
    let reply = raw_http1(
        &server,
        b"HEAD /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n\
          GET /version HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 405);
    let next = String::from_utf8_lossy(&reply.body);
    assert!(next.starts_with("HTTP/1.1 200 OK\r\n"), "{next}");
}

/// About 1 request in 1,000 of a fuzzer's random mix over 16 concurrent HTTP/2 streams failed at the
/// transport: streams answered before their body was read were reset, the body's DATA frames still
/// on the way arrived for forgotten streams, and h2 counted its STREAM_CLOSED answers until its
/// reset-flood guard closed the connection (GOAWAY ENHANCE_YOUR_CALM "too_many_internal_resets")
/// with every request on it. MinIO sends all its KMS calls over one connection: one client's bad
/// requests must never cost its good ones.
#[tokio::test]
async fn a_long_malformed_mix_over_one_http2_connection_keeps_it() {
    const REQUESTS: usize = 20_000;
    const STREAMS: usize = 16;
    let user = ClientCert::ecdsa();
    let config = format!(
        "policy:\n  mix:\n    allow:\n      - /v1/key/create/ok*\n      - /v1/key/generate/ok*\n      \
         - /v1/key/encrypt/ok*\n      - /v1/key/decrypt/ok*\n      - /v1/key/describe/ok*\n      \
         - /v1/status\n    identities:\n      - {}\n",
        user.identity
    );
    let server = Server::start(&config);
    let client = Client::connect(server.addr, Some(&user), Proto::Http2).await;
    assert_eq!(
        client
            .h2_sender()
            .send_request(
                http::Request::put("https://localhost/v1/key/create/ok")
                    .body(TestBody::empty())
                    .unwrap()
            )
            .await
            .unwrap()
            .status(),
        200
    );
    let failures = Arc::new(AtomicUsize::new(0));
    let statuses = Arc::new(Mutex::new(BTreeMap::<u16, usize>::new()));
    let mut tasks = Vec::new();
    for worker in 0..STREAMS {
        let mut sender = client.h2_sender();
        let failures = failures.clone();
        let statuses = statuses.clone();
        tasks.push(tokio::spawn(async move {
            // A fixed seed per worker: a failure reproduces.
            let mut random = XorShift(0x9E37_79B9_7F4A_7C15 ^ (worker as u64 + 1));
            for _ in 0..REQUESTS / STREAMS {
                let request = random_request(&mut random);
                let sent = async {
                    sender.ready().await?;
                    let response = sender.send_request(request).await?;
                    let status = response.status();
                    http_body_util::BodyExt::collect(response.into_body()).await?;
                    Ok::<_, hyper::Error>(status)
                };
                match sent.await {
                    Ok(status) => {
                        *statuses.lock().unwrap().entry(status.as_u16()).or_default() += 1
                    }
                    Err(err) => {
                        // Once the connection is gone every request fails alike: show the first.
                        if failures.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("first transport failure: {err:?}");
                        }
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "requests failed at the transport out of {REQUESTS}"
    );
    // The mix reached every kind of answer, and none was a server error.
    let statuses = statuses.lock().unwrap();
    eprintln!("answers by status: {statuses:?}");
    for status in [200, 301, 400, 403, 404, 405] {
        assert!(
            statuses.contains_key(&status),
            "no {status} in {statuses:?}"
        );
    }
    assert!(statuses.keys().all(|status| *status < 500), "{statuses:?}");
}

/// One request of the mix: every method, valid and malformed paths (denied, unknown, redirected,
/// invalid names, bad escapes), and bodies from none to several DATA frames of JSON or junk.
// Not a `#[test]` function, so clippy.toml's test allowances do not reach it; a panic here is a
// failed test.
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
fn random_request(random: &mut XorShift) -> http::Request<TestBody> {
    const METHODS: [&str; 5] = ["GET", "HEAD", "POST", "PUT", "DELETE"];
    const PATHS: [&str; 12] = [
        "/v1/key/generate/ok",
        "/v1/key/encrypt/ok",
        "/v1/key/decrypt/ok",
        "/v1/key/describe/ok",
        "/v1/key/create/ok-new",
        "/v1/key/encrypt/denied",
        "/v1/status",
        "/v1/unknown",
        "/v1/key/create",
        "/v1//status",
        "/v1/key/create/bad%3Cname",
        "/v1/key/hmac/%zz",
    ];
    let method = METHODS[random.below(METHODS.len())];
    let path = PATHS[random.below(PATHS.len())];
    let body = match random.below(5) {
        0 => TestBody::empty(),
        1 => TestBody::full(br#"{"plaintext":"AAE=","context":"AAE="}"#.to_vec()),
        2 => TestBody::full(b"{\"plaintext\":".to_vec()),
        // Up to four 16 KB DATA frames of junk.
        3 => TestBody::full(vec![b'x'; random.below(64 * 1024)]),
        _ => TestBody::chunked(vec![
            b"{\"context\":".to_vec(),
            vec![b' '; random.below(40_000)],
        ]),
    };
    http::Request::builder()
        .method(method)
        .uri(format!("https://localhost{path}"))
        .body(body)
        .unwrap()
}

/// A small deterministic generator: the mix needs variety, not cryptographic randomness.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The reset-flood guard stays for real attacks (CVE-2023-44487, "rapid reset"): a client that opens
/// streams and resets them at once gets the connection closed with ENHANCE_YOUR_CALM.
#[tokio::test]
async fn a_rapid_reset_attack_still_closes_the_connection() {
    let server = Server::start("");
    let (sender, connection) = common::h2_connect(&server, &h2::client::Builder::new()).await;
    let connection = tokio::spawn(connection);
    // Bursts of 100 streams, each opened and reset at once, written in one go (the test's runtime
    // runs the connection task only between bursts), until the server closes the connection.
    let attack = async {
        loop {
            for _ in 0..100 {
                let request = http::Request::get("https://localhost/v1/status")
                    .body(())
                    .unwrap();
                let Ok((_, mut stream)) = sender.clone().send_request(request, false) else {
                    // The connection is closing: the attack is over.
                    return std::future::pending().await;
                };
                stream.send_reset(h2::Reason::CANCEL);
            }
            tokio::task::yield_now().await;
        }
    };
    let closed = tokio::select! {
        closed = connection => closed.unwrap(),
        () = attack => unreachable!(),
        () = tokio::time::sleep(Duration::from_secs(10)) => {
            panic!("the connection is still open after 10 s of attack")
        }
    };
    let err = closed.expect_err("the connection ended without an error");
    // The client may see the socket close before it reads the GOAWAY; the server says why it closed.
    if err.is_go_away() {
        assert_eq!(err.reason(), Some(h2::Reason::ENHANCE_YOUR_CALM), "{err:?}");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !server.stderr_contains("remotely-reset pending-accept streams reached limit (20)") {
        assert!(
            std::time::Instant::now() < deadline,
            "the connection closed ({err:?}), but not by the reset guard"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Request targets a differential run answered unlike Go KES (`net/http` in front of its mux): each
/// now gets Go's status and body, or the difference is listed in docs/compatibility.md, which this
/// test keeps honest.
#[tokio::test]
async fn request_targets_are_answered_as_go_kes_answers_them() {
    let server = Server::start("");
    let reply = |request: &'static [u8]| raw_http1(&server, request);

    // Go's server answers `OPTIONS *` itself; its mux refuses `*` with any other method. Both were
    // redirected to `/*`.
    let r = reply(b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
    assert_eq!((r.status, r.header("content-length")), (200, Some("0")));
    assert!(r.body.is_empty());
    let r = reply(b"GET * HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert_eq!((r.status, r.header("connection")), (400, Some("close")));
    assert!(r.body.is_empty());

    // CONNECT targets are neither cleaned nor redirected: an authority matches no route.
    let r = reply(
        b"CONNECT localhost:7373 HTTP/1.1\r\nHost: localhost:7373\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body, b"404 page not found\n");

    // Requests Go's HTTP/1 server refuses before any handler: two Host headers (they were served)
    // and a path that does not percent-decode.
    for request in [
        &b"GET /version HTTP/1.1\r\nHost: localhost\r\nHost: example.com\r\n\r\n"[..],
        b"GET /v1/key/describe/%zz HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ] {
        let r = raw_http1(&server, request).await;
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(request));
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(r.header("connection"), Some("close"));
        assert_eq!(r.body, b"400 Bad Request");
    }

    // `#` as clients send it (kms-go escapes every name with url.PathEscape): part of the name,
    // which is then invalid, as in Go KES.
    let r = reply(
        b"POST /v1/key/create/a%23b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        b"{\"message\":\"key name 'a#b' is empty, too long or contains invalid characters\"\n}"
    );

    // Listed in docs/compatibility.md: hyper answers these itself, with an empty body, before kesrs
    // sees the request (Go routes the first three and answers 400 with KES's message or its own
    // text, and 431 with a text body).
    let long_name = format!(
        "POST /v1/key/create/{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(70_000)
    );
    let long_header = format!(
        "GET /version HTTP/1.1\r\nHost: localhost\r\nX-Long: {}\r\n\r\n",
        "a".repeat(2_000_000)
    );
    for (request, status) in [
        (
            b"GET /v1/key/describe/\xff HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
            400,
        ),
        (
            b"GET v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
            400,
        ),
        (long_name.into_bytes(), 414),
        (long_header.into_bytes(), 431),
    ] {
        let r = raw_http1(&server, &request).await;
        assert_eq!(
            r.status,
            status,
            "{}",
            String::from_utf8_lossy(&request[..40])
        );
        assert!(r.body.is_empty());
    }
    // Also listed: the http crate drops `#` and what follows before the server sees the target, so a
    // raw `#` acts on the name before it (and the policy is checked on that same name).
    let r =
        reply(b"POST /v1/key/create/a#b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await;
    assert_eq!(r.status, 200);
    let r =
        reply(b"POST /v1/key/create/a HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body, b"{\"message\":\"key already exists\"\n}");
}
