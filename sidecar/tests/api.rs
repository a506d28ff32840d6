//! Black-box tests of the KES v1 API: the real `kesrs` binary, a temporary fs key store, real mTLS.

mod common;

use std::time::Duration;

use common::{b64, unb64, vectors, Client, ClientCert, Proto, Server, TestBody};

const NOT_ALLOWED: &str = "not authorized: insufficient permissions";
const TOO_LARGE: &str = "request body too large: the limit is 1000000 bytes";

#[tokio::test]
async fn every_key_route_works_for_the_admin_over_http2_and_http1() {
    let server = Server::start("");
    for proto in [Proto::Http2, Proto::Http1] {
        let mut c = Client::connect(server.addr, Some(&server.admin), proto).await;
        let key = format!("key-{proto:?}");

        let r = c
            .send("PUT", &format!("/v1/key/create/{key}"), TestBody::empty())
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-length"), "0");
        assert_eq!(r.header("content-type"), "");
        // POST is accepted where KES declares PUT; a second create is KES's "exists" sentinel.
        c.send("POST", &format!("/v1/key/create/{key}"), TestBody::empty())
            .await
            .assert_error(400, "key already exists");

        let r = c.get(&format!("/v1/key/describe/{key}")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), "application/json");
        assert!(r.body.ends_with(b"}\n"));
        let info = r.json();
        assert_eq!(info["name"], key.as_str());
        assert_eq!(info["algorithm"], "AES256");
        assert_eq!(info["created_by"], server.admin.identity.as_str());
        assert!(info["created_at"].as_str().unwrap().ends_with('Z'));

        // Generate: 32-byte plaintext, and its ciphertext decrypts with the same context.
        let r = c
            .json(
                "POST",
                &format!("/v1/key/generate/{key}"),
                r#"{"context":"Y3R4"}"#,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let dek = r.json();
        let plaintext = unb64(dek["plaintext"].as_str().unwrap());
        assert_eq!(plaintext.len(), 32);
        let ciphertext = dek["ciphertext"].as_str().unwrap().to_owned();
        let body = format!(r#"{{"ciphertext":"{ciphertext}","context":"Y3R4"}}"#);
        let r = c
            .json("POST", &format!("/v1/key/decrypt/{key}"), &body)
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(unb64(r.json()["plaintext"].as_str().unwrap()), plaintext);
        // The wrong context, a tampered and a truncated ciphertext are all ErrDecrypt.
        let body = format!(r#"{{"ciphertext":"{ciphertext}","context":"b3RoZXI="}}"#);
        c.json("POST", &format!("/v1/key/decrypt/{key}"), &body)
            .await
            .assert_error(400, "decryption failed: ciphertext is not authentic");
        let mut tampered = unb64(&ciphertext);
        tampered[0] ^= 1;
        let body = format!(r#"{{"ciphertext":"{}","context":"Y3R4"}}"#, b64(&tampered));
        c.json("POST", &format!("/v1/key/decrypt/{key}"), &body)
            .await
            .assert_error(400, "decryption failed: ciphertext is not authentic");
        let body = format!(r#"{{"ciphertext":"{}"}}"#, b64(&unb64(&ciphertext)[..20]));
        c.json("POST", &format!("/v1/key/decrypt/{key}"), &body)
            .await
            .assert_error(400, "decryption failed: ciphertext is not authentic");

        // Generate with no body at all: KES skips parsing when the length is 0.
        let r = c
            .send("PUT", &format!("/v1/key/generate/{key}"), TestBody::empty())
            .await;
        assert_eq!(r.status, 200, "{}", r.text());

        // Encrypt/decrypt round trip, case-insensitive field names, trailing bytes ignored.
        let r = c
            .json(
                "PUT",
                &format!("/v1/key/encrypt/{key}"),
                r#"{"Plaintext":"aGVsbG8=","unknown":1} junk"#,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let ct = r.json()["ciphertext"].as_str().unwrap().to_owned();
        let r = c
            .json(
                "PUT",
                &format!("/v1/key/decrypt/{key}"),
                &format!(r#"{{"ciphertext":"{ct}"}}"#),
            )
            .await;
        assert_eq!(r.text(), "{\"plaintext\":\"aGVsbG8=\"}\n");

        // HMAC is deterministic and 32 bytes; the Go client sends PUT.
        let r1 = c
            .json(
                "PUT",
                &format!("/v1/key/hmac/{key}"),
                r#"{"message":"bXNn"}"#,
            )
            .await;
        let r2 = c
            .json(
                "PUT",
                &format!("/v1/key/hmac/{key}"),
                r#"{"message":"bXNn"}"#,
            )
            .await;
        assert_eq!(r1.status, 200, "{}", r1.text());
        assert_eq!(r1.body, r2.body);
        assert_eq!(unb64(r1.json()["hmac"].as_str().unwrap()).len(), 32);

        // Listing: with and without the slash, with a prefix wildcard (%2A is `*`).
        let r = c.get("/v1/key/list").await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.json()["names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == key.as_str()));
        assert!(r.json().get("continue_at").is_none());
        let r = c.get("/v1/key/list/").await;
        assert!(r.json()["names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == key.as_str()));
        let r = c.get(&format!("/v1/key/list/{}%2A", &key[..5])).await;
        assert_eq!(
            r.json()["names"].as_array().unwrap(),
            &vec![serde_json::json!(key)]
        );
        let r = c.get("/v1/key/list/nothing-here%2A").await;
        assert_eq!(r.text(), "{\"names\":[]}\n");

        // Delete, then the key is gone.
        let r = c
            .send(
                "DELETE",
                &format!("/v1/key/delete/{key}"),
                TestBody::empty(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        c.get(&format!("/v1/key/describe/{key}"))
            .await
            .assert_error(404, "key does not exist");
        c.send(
            "DELETE",
            &format!("/v1/key/delete/{key}"),
            TestBody::empty(),
        )
        .await
        .assert_error(404, "key does not exist");
        c.json("POST", &format!("/v1/key/generate/{key}"), "{}")
            .await
            .assert_error(404, "key does not exist");
    }
}

#[tokio::test]
async fn import_and_legacy_formats() {
    let server = Server::start("");
    let mut c = server.admin().await;

    // Import checks the cipher first, then the size (406), and rejects a bad body.
    c.json(
        "PUT",
        "/v1/key/import/imp",
        r#"{"key":"AAAA","cipher":"DES"}"#,
    )
    .await
    .assert_error(406, "algorithm 'DES' is not supported");
    c.json(
        "PUT",
        "/v1/key/import/imp",
        r#"{"key":"AAAA","cipher":"AES256"}"#,
    )
    .await
    .assert_error(406, "invalid key size for 'AES256'");
    c.json(
        "PUT",
        "/v1/key/import/imp",
        r#"{"key":"not base64!","cipher":"AES256"}"#,
    )
    .await
    .assert_error(400, "invalid import key request body");
    c.send("PUT", "/v1/key/import/imp", TestBody::empty())
        .await
        .assert_error(400, "invalid import key request body");

    // Every KES decrypt vector: import its key, decrypt its (legacy or current) ciphertext.
    let vectors = vectors();
    let cases = vectors["ciphertext_decrypt"].as_array().unwrap();
    let mut ok = 0;
    for (i, case) in cases.iter().enumerate() {
        let name = format!("vec-{i}");
        let cipher = case["key_type"].as_str().unwrap();
        let body = format!(
            r#"{{"key":"{}","cipher":"{cipher}"}}"#,
            case["key_b64"].as_str().unwrap()
        );
        let r = c
            .json("POST", &format!("/v1/key/import/{name}"), &body)
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let ciphertext = match case["ciphertext_json_text"].as_str() {
            Some(json) => b64(json.as_bytes()),
            None => case["ciphertext_b64"].as_str().unwrap().to_owned(),
        };
        let body = format!(
            r#"{{"ciphertext":"{ciphertext}","context":"{}"}}"#,
            case["context_b64"].as_str().unwrap()
        );
        let r = c
            .json("POST", &format!("/v1/key/decrypt/{name}"), &body)
            .await;
        if case["expected"] == "ok" {
            assert_eq!(r.status, 200, "vector {i}: {}", r.text());
            assert_eq!(r.json()["plaintext"], case["plaintext_b64"], "vector {i}");
            ok += 1;
        } else {
            r.assert_error(400, "decryption failed: ciphertext is not authentic");
        }
    }
    assert!(ok >= 8, "only {ok} vectors decrypted");
    let info = c.get("/v1/key/describe/vec-1").await.json();
    assert_eq!(info["algorithm"], "ChaCha20");

    // A legacy JSON key written by old KES: describable, usable, but no HMAC (409).
    std::fs::write(
        server.keys_dir().join("legacy"),
        r#"{"bytes":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#,
    )
    .unwrap();
    let r = c.get("/v1/key/describe/legacy").await;
    assert_eq!(
        r.text(),
        "{\"name\":\"legacy\",\"algorithm\":\"AES256\",\"created_at\":\"0001-01-01T00:00:00Z\"}\n"
    );
    c.json("PUT", "/v1/key/hmac/legacy", r#"{"message":""}"#)
        .await
        .assert_error(409, "key does not support HMAC");
}

#[tokio::test]
async fn malformed_requests_get_kes_errors() {
    let server = Server::start("");
    let mut c = server.admin().await;
    c.send("PUT", "/v1/key/create/k", TestBody::empty()).await;

    for body in [
        "",
        "{",
        "[1]",
        r#"{"plaintext":"AAE"}"#,
        r#"{"plaintext":5}"#,
    ] {
        c.json("PUT", "/v1/key/encrypt/k", body)
            .await
            .assert_error(400, "invalid request body");
    }
    c.json("PUT", "/v1/key/decrypt/k", r#"{"ciphertext":"***"}"#)
        .await
        .assert_error(400, "invalid request body");
    c.send("PUT", "/v1/key/hmac/k", TestBody::empty())
        .await
        .assert_error(400, "invalid request body");

    // Invalid names are echoed with Go's HTML-safe escaping; %2F decodes to `/`, which is invalid.
    let long = "a".repeat(81);
    c.send("PUT", &format!("/v1/key/create/{long}"), TestBody::empty())
        .await
        .assert_error(
            400,
            &format!("key name '{long}' is empty, too long or contains invalid characters"),
        );
    c.send("PUT", "/v1/key/create/hel%3Clo", TestBody::empty())
        .await
        .assert_error(
            400,
            "key name 'hel\\u003clo' is empty, too long or contains invalid characters",
        );
    c.send("PUT", "/v1/key/create/a%2Fb", TestBody::empty())
        .await
        .assert_error(
            400,
            "key name 'a/b' is empty, too long or contains invalid characters",
        );
    c.get("/v1/key/list/*-*").await.assert_error(
        400,
        "listing pattern '*-*' is empty, too long or is invalid",
    );

    // Oversized bodies are refused: with a Content-Length at once with a 413 (a kesrs addition),
    // chunked once they pass 1,000,000 bytes, as KES does.
    let big = format!(r#"{{"plaintext":"{}"}}"#, "A".repeat(1_000_000));
    c.send(
        "PUT",
        "/v1/key/encrypt/k",
        TestBody::full(big.clone().into_bytes()),
    )
    .await
    .assert_error(413, TOO_LARGE);
    let chunks = big
        .as_bytes()
        .chunks(64 * 1024)
        .map(<[u8]>::to_vec)
        .collect();
    c.send("PUT", "/v1/key/encrypt/k", TestBody::chunked(chunks))
        .await
        .assert_error(400, "invalid request body");
    // A chunked body under the limit is fine.
    let chunks = vec![b"{\"plaintext\":".to_vec(), b"\"AAE=\"}".to_vec()];
    let r = c
        .send("PUT", "/v1/key/encrypt/k", TestBody::chunked(chunks))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn go_servemux_routing() {
    let server = Server::start("");
    let mut c = Client::connect(server.addr, Some(&server.admin), Proto::Http1).await;

    for path in [
        "/",
        "/v1/unknown",
        "/v1/status/",
        "/v1/identity/self/describe/",
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.text(), "404 page not found\n");
        assert_eq!(r.header("content-type"), "text/plain; charset=utf-8");
        assert_eq!(r.header("x-content-type-options"), "nosniff");
    }

    let r = c.get("/v1/key/create").await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), "/v1/key/create/");
    assert_eq!(
        r.text(),
        "<a href=\"/v1/key/create/\">Moved Permanently</a>.\n\n"
    );
    let r = c
        .send("POST", "/v1/policy/list?x=1", TestBody::empty())
        .await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), "/v1/policy/list/?x=1");
    assert!(r.body.is_empty());

    // Non-canonical paths redirect before authentication, so policies see clean paths only.
    let r = c.get("/v1/key/describe/../x").await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), "/v1/key/x");
    assert_eq!(c.get("/v1/key/x").await.status, 404);
    let r = c.get("/v1//status").await;
    assert_eq!((r.status, r.header("location")), (301, "/v1/status"));
    let r = c.get("/v1/./status").await;
    assert_eq!((r.status, r.header("location")), (301, "/v1/status"));

    // The wrong method: 405 with `Accept`, HEAD included.
    let r = c.get("/v1/key/create/k").await;
    r.assert_error(405, "received method 'GET' expected 'PUT'");
    assert_eq!(r.header("accept"), "PUT");
    let r = c.send("HEAD", "/v1/status", TestBody::empty()).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("accept"), "GET");
    c.send("POST", "/v1/key/delete/k", TestBody::empty())
        .await
        .assert_error(405, "received method 'POST' expected 'DELETE'");
}

#[tokio::test]
async fn server_endpoints_version_status_ready_api_metrics() {
    let server = Server::start("api:\n  /v1/key/create/:\n    timeout: 42s\n");
    let mut c = server.admin().await;

    let r = c.get("/version").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert!(v["version"].is_string() && v["commit"].is_string());

    let r = c.get("/v1/ready").await;
    assert_eq!((r.status, r.body.len()), (200, 0));

    let r = c.get("/v1/status").await;
    assert_eq!(r.status, 200);
    let s = r.json();
    for field in [
        "version",
        "os",
        "arch",
        "uptime",
        "num_cpu",
        "num_cpu_used",
        "mem_heap_used",
        "mem_stack_used",
    ] {
        assert!(s.get(field).is_some(), "{field}: {s}");
    }
    assert!(s["uptime"].is_u64());
    // Memory in use, not address space reserved (VmData made an idle server look like 1 GB).
    let heap = s["mem_heap_used"].as_u64().unwrap();
    assert!(heap > 0 && heap < 256 << 20, "mem_heap_used {heap}");
    assert!(s["keystore_latency"].as_u64().unwrap() >= 1);
    assert!(s.get("keystore_unreachable").is_none());
    assert_eq!(s["os"], "linux");

    let r = c.get("/v1/api").await;
    let routes = r.json();
    let routes = routes.as_array().unwrap();
    assert_eq!(routes.len(), 22);
    let create = routes
        .iter()
        .find(|r| r["path"] == "/v1/key/create/")
        .unwrap();
    assert_eq!(
        create,
        &serde_json::json!({"method":"PUT","path":"/v1/key/create/","max_body":0,"timeout":42})
    );
    let import = routes
        .iter()
        .find(|r| r["path"] == "/v1/key/import/")
        .unwrap();
    assert_eq!(import["max_body"], 1_000_000);
    assert_eq!(import["timeout"], 15);
    let audit = routes
        .iter()
        .find(|r| r["path"] == "/v1/log/audit")
        .unwrap();
    assert_eq!(audit["timeout"], 0);

    // Metrics: text format 0.0.4; request counters appear once a key route answered.
    c.send("PUT", "/v1/key/create/m", TestBody::empty()).await;
    c.get("/v1/key/describe/missing").await;
    let r = c.get("/v1/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"
    );
    let text = r.text();
    let mut families = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap();
            let kind = parts.next().unwrap();
            assert!(["gauge", "counter", "histogram"].contains(&kind), "{line}");
            families.push(name.to_owned());
        } else if !line.starts_with('#') {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(!name.is_empty());
            let value = value.replace("+Inf", "inf");
            value
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("bad sample: {line}"));
        }
    }
    for family in [
        "kes_http_request_active",
        "kes_http_request_error",
        "kes_http_request_success",
        "kes_http_response_time",
        "kes_log_audit_events",
        "kes_log_error_events",
        "kes_system_num_cpu",
        "kes_system_up_time",
    ] {
        assert!(
            families.iter().any(|f| f == family),
            "{family} missing:\n{text}"
        );
    }
    assert!(!families.iter().any(|f| f == "kes_http_request_failure"));
    assert!(
        text.contains("kes_http_request_success{code=\"200\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("kes_http_request_error{code=\"404\"} 1\n"),
        "{text}"
    );
}

#[tokio::test]
async fn policies_admin_bypass_and_identities() {
    let user = ClientCert::ecdsa();
    let stranger = ClientCert::ed25519();
    let config = format!(
        "policy:\n  app:\n    allow:\n      - /v1/key/create/app-*\n      - /v1/key/generate/app-*\n      - /v1/key/describe/app-*\n    deny:\n      - /v1/key/generate/app-secret*\n    identities:\n      - {}\n",
        user.identity
    );
    let server = Server::start(&config);
    let mut admin = server.admin().await;
    let mut u = Client::connect(server.addr, Some(&user), Proto::Http2).await;
    let mut s = Client::connect(server.addr, Some(&stranger), Proto::Http2).await;

    assert_eq!(
        u.send("PUT", "/v1/key/create/app-1", TestBody::empty())
            .await
            .status,
        200
    );
    assert_eq!(
        u.send("PUT", "/v1/key/create/app-secret", TestBody::empty())
            .await
            .status,
        200
    );
    assert_eq!(
        u.json("PUT", "/v1/key/generate/app-1", "{}").await.status,
        200
    );
    // Deny wins over allow.
    u.json("PUT", "/v1/key/generate/app-secret", "{}")
        .await
        .assert_error(403, NOT_ALLOWED);
    u.send("PUT", "/v1/key/create/other", TestBody::empty())
        .await
        .assert_error(403, NOT_ALLOWED);
    u.get("/v1/status").await.assert_error(403, NOT_ALLOWED);
    // The creator is recorded.
    let info = u.get("/v1/key/describe/app-1").await.json();
    assert_eq!(info["created_by"], user.identity.as_str());

    // An identity without a policy gets 403 on every verify route, but may call /version.
    for path in [
        "/v1/status",
        "/v1/ready",
        "/v1/metrics",
        "/v1/api",
        "/v1/key/list/",
        "/v1/key/describe/app-1",
        "/v1/policy/list/",
        "/v1/identity/list/",
        "/v1/log/audit",
    ] {
        s.get(path).await.assert_error(403, NOT_ALLOWED);
    }
    assert_eq!(s.get("/version").await.status, 200);
    s.get("/v1/identity/self/describe")
        .await
        .assert_error(404, "identity does not exist");

    // The admin bypasses policies.
    assert_eq!(
        admin
            .json("PUT", "/v1/key/generate/app-secret", "{}")
            .await
            .status,
        200
    );

    // Self-describe: the admin, and a policy user in the shape kms-go's DescribeSelf parses.
    let me = admin.get("/v1/identity/self/describe").await.json();
    assert_eq!(me["identity"], server.admin.identity.as_str());
    assert_eq!(me["admin"], true);
    let r = u.get("/v1/identity/self/describe").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let me = r.json();
    assert_eq!(me["identity"], user.identity.as_str());
    assert_eq!(me["policy"], "app");
    assert_eq!(me["allow"]["/v1/key/create/app-*"], serde_json::json!({}));
    assert_eq!(
        me["deny"]["/v1/key/generate/app-secret*"],
        serde_json::json!({})
    );
    assert_eq!(me["created_by"], server.admin.identity.as_str());

    // Policy and identity endpoints.
    let p = admin.get("/v1/policy/describe/app").await.json();
    assert_eq!(p["name"], "app");
    assert_eq!(p["created_by"], server.admin.identity.as_str());
    let p = admin.get("/v1/policy/read/app").await;
    assert!(p.text().contains("\"allow\":{\"/v1/key/create/app-*\":{},\"/v1/key/describe/app-*\":{},\"/v1/key/generate/app-*\":{}},\"deny\":{\"/v1/key/generate/app-secret*\":{}}"), "{}", p.text());
    admin
        .get("/v1/policy/read/nope")
        .await
        .assert_error(404, "policy does not exist");
    admin.get("/v1/policy/describe/a.b").await.assert_error(
        400,
        "policy name 'a.b' is empty, too long or contains invalid characters",
    );
    assert_eq!(
        admin.get("/v1/policy/list/").await.text(),
        "{\"names\":[\"app\"],\"continue_at\":\"\"}\n"
    );
    assert_eq!(
        admin.get("/v1/policy/list/x%2A").await.text(),
        "{\"names\":[],\"continue_at\":\"\"}\n"
    );

    let i = admin
        .get(&format!("/v1/identity/describe/{}", user.identity))
        .await
        .json();
    assert_eq!(i["policy"], "app");
    let i = admin
        .get(&format!("/v1/identity/describe/{}", server.admin.identity))
        .await
        .json();
    assert_eq!(i["admin"], true);
    admin
        .get(&format!("/v1/identity/describe/{}", stranger.identity))
        .await
        .assert_error(404, "identity does not exist");
    let list = admin.get("/v1/identity/list/").await.json();
    let mut expected = vec![server.admin.identity.clone(), user.identity.clone()];
    expected.sort();
    assert_eq!(list["identities"], serde_json::json!(expected));
    assert_eq!(list["continue_at"], "");
}

#[tokio::test]
async fn client_certificates_ed25519_ecdsa_rsa_tls12_and_none() {
    let ecdsa = ClientCert::ecdsa();
    let rsa = ClientCert::rsa();
    let api = ClientCert::api_key("kes:v1:AD9E7FSYWrMD+VjhI6q545cYT9YOyFxZb7UnjEepYDRc");
    // Certificates webpki refuses and Go accepts (found by adversarial testing).
    let key = include_str!("fixtures/odd-client.key");
    let v1 = ClientCert::from_pem(include_str!("fixtures/v1-client.cert"), key);
    let critical = ClientCert::from_pem(include_str!("fixtures/critical-ext-client.cert"), key);
    let config = format!(
        "policy:\n  status:\n    allow:\n      - /v1/status\n    identities:\n      - {}\n      - {}\n      - {}\n      - {}\n      - {}\n",
        ecdsa.identity, rsa.identity, api.identity, v1.identity, critical.identity
    );
    let server = Server::start(&config);
    for cert in [&server.admin, &ecdsa, &rsa, &api, &v1, &critical] {
        for tls12 in [false, true] {
            let mut c = Client::try_connect(server.addr, Some(cert), Proto::Http2, tls12)
                .await
                .unwrap();
            let r = c.get("/v1/status").await;
            if r.status != 200 {
                eprintln!("HINTS {:?}", c.hints.lock().unwrap().asked);
                eprintln!("STDERR {:?}", server.stderr.lock().unwrap());
            }
            assert_eq!(
                r.status,
                200,
                "{} tls12={tls12}: {}",
                cert.identity,
                r.text()
            );
            // The server sends no CA names, so Go's `Certificates` selection presents the cert.
            let hints = c.hints.lock().unwrap();
            assert!(hints.asked, "no CertificateRequest");
            assert!(hints.root_hint_subjects.is_empty(), "CA hints sent");
            assert!(hints.schemes.contains(&rustls::SignatureScheme::ED25519));
            assert!(hints
                .schemes
                .contains(&rustls::SignatureScheme::ECDSA_NISTP256_SHA256));
            assert!(hints
                .schemes
                .contains(&rustls::SignatureScheme::RSA_PSS_SHA256));
        }
    }

    // No certificate: the handshake (or the first request, with TLS 1.3) fails.
    assert!(
        rejected(&server, None, false).await,
        "a client without a certificate was served"
    );
    // A certificate without its private key: the handshake signature does not verify.
    let stolen = ClientCert {
        key: ecdsa.key.clone(),
        ..ClientCert::from_pem(include_str!("fixtures/v1-client.cert"), key)
    };
    for tls12 in [false, true] {
        assert!(
            rejected(&server, Some(&stolen), tls12).await,
            "tls12={tls12}: a certificate was accepted without its key"
        );
    }
}

/// Whether the server refuses `cert`: in the handshake, or with TLS 1.3 at the first request.
async fn rejected(server: &Server, cert: Option<&ClientCert>, tls12: bool) -> bool {
    match Client::try_connect(server.addr, cert, Proto::Http1, tls12).await {
        Err(_) => true,
        Ok(mut c) => c
            .try_send("GET", "/version", TestBody::empty())
            .await
            .is_err(),
    }
}

#[tokio::test]
async fn slow_clients_are_cut_off_without_blocking_others() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let server = Server::start("");
    let mut slow = common::tls_connect(
        server.addr,
        common::TlsOptions {
            cert: Some(&server.admin),
            alpn: vec![b"http/1.1".to_vec()],
            tls12_only: false,
            hints: Default::default(),
        },
    )
    .await
    .unwrap();
    slow.write_all(b"GET /v1/status HTTP/1.1\r\nHost: local")
        .await
        .unwrap();
    let started = std::time::Instant::now();

    // Others are served meanwhile.
    let mut c = server.admin().await;
    assert_eq!(c.get("/v1/status").await.status, 200);

    // The slow one is closed after the 5 s header timeout.
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "slow client was never cut off");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(4),
        "cut off too early: {elapsed:?}"
    );
    assert!(!String::from_utf8_lossy(&buf).contains("503"));
}

#[tokio::test]
async fn route_timeouts_close_the_stream_never_503() {
    let server = Server::start("api:\n  /v1/log/audit:\n    timeout: 1s\n");
    let mut c = Client::connect(server.addr, Some(&server.admin), Proto::Http1).await;
    // The audit stream would never end; with a 1 s timeout the connection is torn down instead.
    let result = tokio::time::timeout(
        Duration::from_secs(5),
        c.try_send("GET", "/v1/log/audit", TestBody::empty()),
    )
    .await
    .expect("timeout did not fire");
    match result {
        Err(_) => {}
        Ok(reply) => assert_ne!(reply.status, 503, "{}", reply.text()),
    }
}

#[tokio::test]
async fn client_chains_skip_ca_certificates_and_reject_two_leaves() {
    let ca = common::Ca::new();
    let leaf = ClientCert::ed25519();
    let server = Server::start_with_admin(leaf.clone(), "");
    // A CA certificate in the presented chain is skipped: the identity is the leaf's (the admin).
    let with_ca = leaf.clone().with_chain(vec![ca.der()]);
    let mut c = Client::connect(server.addr, Some(&with_ca), Proto::Http2).await;
    assert_eq!(c.get("/v1/status").await.status, 200);
    // Two non-CA certificates: KES's 400, on every verify route.
    let two = leaf.with_chain(vec![ClientCert::ecdsa().cert]);
    let mut c = Client::connect(server.addr, Some(&two), Proto::Http2).await;
    c.get("/v1/status")
        .await
        .assert_error(400, "tls: received more than one client certificate");
}

/// Issue 15: the identity is the certificate whose key signed the handshake, the first one. No chain may
/// borrow the identity of a certificate (or public key) the client does not hold the private key of.
#[tokio::test]
async fn a_client_chain_never_borrows_an_identity_it_cannot_sign_for() {
    const CA_FIRST: &str = "tls: client certificate is a CA certificate";
    const TWO_LEAVES: &str = "tls: received more than one client certificate";
    let victim = ClientCert::ed25519();
    let attacker = common::Ca::new();
    let attacker_leaf = ClientCert::ecdsa();
    let other_ca = common::Ca::new();
    let config = format!(
        "policy:\n  own:\n    allow:\n      - /v1/identity/self/describe\n    identities:\n      - {}\n",
        attacker_leaf.identity
    );
    let server = Server::start_with_admin(victim.clone(), &config);
    let mut admin = server.admin().await;
    assert_eq!(admin.json("POST", "/v1/key/create/k", "").await.status, 200);

    let spoofs = [
        (
            "the attacker's CA certificate, then the victim's certificate",
            attacker.as_client().with_chain(vec![victim.cert.clone()]),
            CA_FIRST,
        ),
        (
            "the attacker's CA certificate, another CA, then the victim's certificate",
            attacker
                .as_client()
                .with_chain(vec![other_ca.der(), victim.cert.clone()]),
            CA_FIRST,
        ),
        (
            "the attacker's CA certificate, then a forged leaf with the victim's public key",
            attacker
                .as_client()
                .with_chain(vec![attacker.forge_ed25519_leaf(&victim.cert)]),
            CA_FIRST,
        ),
        (
            "the attacker's CA certificate before the attacker's own leaf",
            attacker
                .as_client()
                .with_chain(vec![attacker_leaf.cert.clone()]),
            CA_FIRST,
        ),
        (
            "the attacker's leaf, then the victim's certificate",
            attacker_leaf.clone().with_chain(vec![victim.cert.clone()]),
            TWO_LEAVES,
        ),
        (
            "the attacker's leaf, a CA, then the victim's certificate",
            attacker_leaf
                .clone()
                .with_chain(vec![other_ca.der(), victim.cert.clone()]),
            TWO_LEAVES,
        ),
    ];
    for tls12 in [false, true] {
        for proto in [Proto::Http1, Proto::Http2] {
            for (what, chain, message) in &spoofs {
                let context = format!("{what} (tls12={tls12}, {proto:?})");
                let mut c = Client::try_connect(server.addr, Some(chain), proto, tls12)
                    .await
                    .unwrap_or_else(|err| panic!("{context}: handshake failed: {err}"));
                let me = c.get("/v1/identity/self/describe").await;
                me.assert_error(404, "identity does not exist");
                c.json("PUT", "/v1/key/generate/k", "{}")
                    .await
                    .assert_error(400, message);
                c.send("DELETE", "/v1/key/delete/k", TestBody::empty())
                    .await
                    .assert_error(400, message);
                c.get("/v1/status").await.assert_error(400, message);
                assert_eq!(
                    admin.get("/v1/key/describe/k").await.status,
                    200,
                    "{context}: the key is gone"
                );
            }
            // The victim's certificate first, signed for with another key: the handshake fails.
            let stolen = ClientCert {
                cert: victim.cert.clone(),
                chain: vec![attacker.der()],
                key: attacker_leaf.key.clone(),
                identity: victim.identity.clone(),
            };
            let refused = match Client::try_connect(server.addr, Some(&stolen), proto, tls12).await
            {
                Err(_) => true,
                Ok(mut c) => c
                    .try_send("GET", "/v1/status", TestBody::empty())
                    .await
                    .is_err(),
            };
            assert!(
                refused,
                "tls12={tls12}: the victim's certificate was accepted without its key"
            );
            // A leaf followed by CA certificates is the leaf, its own identity and nobody else's.
            let honest = attacker_leaf
                .clone()
                .with_chain(vec![other_ca.der(), attacker.der()]);
            let mut c = Client::try_connect(server.addr, Some(&honest), proto, tls12)
                .await
                .unwrap();
            let me = c.get("/v1/identity/self/describe").await.json();
            assert_eq!(me["identity"], attacker_leaf.identity.as_str());
            assert_eq!(me["policy"], "own");
            assert!(me.get("admin").is_none(), "{me}");
        }
    }
}

#[tokio::test]
async fn skip_auth_makes_client_certificates_optional() {
    let server = Server::start("api:\n  /v1/status:\n    skip_auth: true\n");
    let mut c = Client::connect(server.addr, None, Proto::Http1).await;
    assert_eq!(c.get("/version").await.status, 200);
    assert_eq!(c.get("/v1/status").await.status, 200);
    c.get("/v1/key/list/")
        .await
        .assert_error(400, "tls: client certificate is required");
    // An identity without a policy passes the skip_auth route, and only that one.
    let mut s = Client::connect(server.addr, Some(&ClientCert::ecdsa()), Proto::Http2).await;
    assert_eq!(s.get("/v1/status").await.status, 200);
    s.get("/v1/ready").await.assert_error(403, NOT_ALLOWED);
}

#[tokio::test]
async fn tls_auth_on_verifies_the_chain_without_sending_ca_names() {
    let ca = common::Ca::new();
    let issued = ClientCert::issued_by(&ca);
    let ca_pem = ca.cert.pem();
    let server = Server::start_full(
        issued.clone(),
        |dir| {
            std::fs::write(dir.join("ca.pem"), &ca_pem).unwrap();
            format!("  auth: on\n  ca: {}/ca.pem\n", dir.display())
        },
        "",
    );
    let mut c = Client::connect(server.addr, Some(&issued), Proto::Http2).await;
    assert_eq!(c.get("/v1/status").await.status, 200);
    assert!(c.hints.lock().unwrap().root_hint_subjects.is_empty());
    // A self-signed certificate does not verify.
    let stranger = ClientCert::ecdsa();
    let rejected =
        match Client::try_connect(server.addr, Some(&stranger), Proto::Http1, false).await {
            Err(_) => true,
            Ok(mut c) => c
                .try_send("GET", "/version", TestBody::empty())
                .await
                .is_err(),
        };
    assert!(
        rejected,
        "an unverified certificate was accepted with tls.auth: on"
    );
}

/// A request announcing a 10 GB body and sending none of it was held until the route timeout (15 s),
/// over HTTP/2 and HTTP/1.1; it is refused at once, before the body is read.
#[tokio::test]
async fn content_lengths_past_the_limit_are_refused_at_once() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let server = Server::start("");
    let ten_gb = "10000000000";

    let (mut sender, connection) = common::h2_connect(&server, &h2::client::Builder::new()).await;
    tokio::spawn(connection);
    for path in [
        "/v1/key/encrypt/k",
        "/v1/key/import/k",
        "/v1/key/generate/k",
    ] {
        let request = http::Request::put(format!("https://localhost{path}"))
            .header("content-length", ten_gb)
            .body(())
            .unwrap();
        // The body is never sent: the stream stays open on the client's side.
        let (response, _body) = sender.send_request(request, false).unwrap();
        let response = tokio::time::timeout(Duration::from_secs(5), response)
            .await
            .unwrap_or_else(|_| panic!("{path}: no answer within 5 s"))
            .unwrap();
        assert_eq!(response.status(), 413, "{path}");
        let mut body = response.into_body();
        let mut text = Vec::new();
        while let Some(chunk) = body.data().await {
            text.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(
            text,
            format!("{{\"message\":\"{TOO_LARGE}\"\n}}").as_bytes()
        );
    }

    let mut h1 = common::tls_connect(
        server.addr,
        common::TlsOptions {
            cert: Some(&server.admin),
            alpn: vec![b"http/1.1".to_vec()],
            tls12_only: false,
            hints: Default::default(),
        },
    )
    .await
    .unwrap();
    h1.write_all(
        format!(
            "PUT /v1/key/encrypt/k HTTP/1.1\r\nHost: localhost\r\nContent-Length: {ten_gb}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = h1.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed without an answer");
            head.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    assert!(read.is_ok(), "HTTP/1.1: no answer within 5 s");
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 413 "), "{head}");

    // A route without a body ignores the Content-Length, as in KES.
    let request = http::Request::get("https://localhost/v1/key/list/*")
        .header("content-length", "5")
        .body(())
        .unwrap();
    let (response, mut body) = sender.send_request(request, false).unwrap();
    body.send_data(bytes::Bytes::from_static(b"hello"), true)
        .unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.status(), 200);
}

/// 3,000 idle HTTP/2 connections stayed open for good (a file descriptor and about 45 KB each);
/// like Go KES, kesrs closes a connection once it has had no request in flight for the idle timeout
/// (`http.idle_timeout`, 1 s here), but never while a request, even a log stream, is running.
#[tokio::test]
async fn idle_connections_are_closed_and_busy_ones_kept() {
    let server = Server::start("http:\n  idle_timeout: 1s\n");

    // An idle HTTP/2 connection gets a GOAWAY and ends.
    let (mut sender, connection) = common::h2_connect(&server, &h2::client::Builder::new()).await;
    let connection = tokio::spawn(connection);
    let request = http::Request::get("https://localhost/version")
        .body(())
        .unwrap();
    let (response, _) = sender.send_request(request, true).unwrap();
    assert_eq!(response.await.unwrap().status(), 200);
    let closed = tokio::time::timeout(Duration::from_secs(10), connection).await;
    assert!(
        closed.is_ok(),
        "idle HTTP/2 connection still open after 10 s"
    );

    // One with a log stream open stays, and serves more requests.
    let (mut sender, connection) = common::h2_connect(&server, &h2::client::Builder::new()).await;
    let connection = tokio::spawn(connection);
    let request = http::Request::get("https://localhost/v1/log/error")
        .body(())
        .unwrap();
    let (_stream, _) = sender.send_request(request, true).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !connection.is_finished(),
        "a connection with a stream open was closed"
    );
    let request = http::Request::get("https://localhost/version")
        .body(())
        .unwrap();
    let (response, _) = sender.send_request(request, true).unwrap();
    assert_eq!(response.await.unwrap().status(), 200);
}

/// Connections of identities with no policy are bounded (64 at once), so a flood of self-signed
/// identities cannot take every file descriptor; the admin and identities with a policy still
/// connect, and a freed slot is reused.
#[tokio::test]
async fn connections_without_a_policy_are_bounded_and_never_lock_out_configured_clients() {
    let user = ClientCert::ed25519();
    let server = Server::start(&format!(
        "policy:\n  app:\n    allow:\n      - /v1/status\n    identities:\n      - {}\n",
        user.identity
    ));
    let stranger = ClientCert::ed25519();
    let mut held = Vec::new();
    for _ in 0..64 {
        let mut c = Client::connect(server.addr, Some(&stranger), Proto::Http2).await;
        assert_eq!(c.get("/version").await.status, 200);
        held.push(c);
    }
    // The 65th is closed after its handshake.
    assert!(!served(&server, &stranger).await, "65th connection served");
    // Configured clients are not counted.
    let mut admin = server.admin().await;
    assert_eq!(admin.get("/v1/status").await.status, 200);
    let mut u = Client::connect(server.addr, Some(&user), Proto::Http2).await;
    assert_eq!(u.get("/v1/status").await.status, 200);
    // A closed connection frees its slot.
    held.pop();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !served(&server, &stranger).await {
        assert!(std::time::Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether a new connection with `cert` gets an answer.
async fn served(server: &Server, cert: &ClientCert) -> bool {
    let Ok(mut c) = Client::try_connect(server.addr, Some(cert), Proto::Http2, false).await else {
        return false;
    };
    matches!(
        tokio::time::timeout(
            Duration::from_secs(5),
            c.try_send("GET", "/version", TestBody::empty())
        )
        .await,
        Ok(Ok(reply)) if reply.status == 200
    )
}
