//! `kesrs_core::Keys` in every mode, with one test body: local (memory, fs, a KES config file over fs
//! and over Azure Key Vault) and remote (a real `kesrs server` over mutual TLS). What one mode
//! encrypts, another decrypts.

// `contract` and the helpers are not `#[test]` functions, so clippy.toml's test allowances do not
// reach them; a panic there is a failed test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use kesrs_core::client::Credentials;
use kesrs_core::config::{KeyStoreConfig, KeysConfig};
use kesrs_core::keystore::{AzureOptions, AzureStore};
use std::io::{Read as _, Write as _};
use std::sync::Arc;

use kesrs_core::{
    ApiKey, Context, Envelope, Error, ErrorCode, KeyName, KeyType, Keys, Kms, Pattern,
    RemoteOptions,
};

use common::{ClientCert, Server};

// The README's remote example, run here against a real server. Its `main` reads the environment,
// which the test does not set: only `seal_remotely` is called.
#[allow(dead_code)]
#[path = "../../core/examples/keys_remote.rs"]
mod keys_remote_example;

fn name(s: &str) -> KeyName {
    KeyName::new(s).unwrap()
}

/// Every operation, and the errors application code handles, the same way in every mode.
async fn contract(keys: &Keys, prefix: &str) {
    let key = name(&format!("{prefix}-key"));
    keys.create_key(&key).await.unwrap();
    assert!(matches!(keys.create_key(&key).await, Err(Error::KeyExists)));
    let info = keys.describe_key(&key).await.unwrap();
    assert_eq!(info.name, key);
    assert_eq!(info.algorithm, KeyType::Aes256);

    let dek = keys.generate_key(&key, b"bucket/object").await.unwrap();
    assert_eq!(dek.plaintext().len(), 32);
    let plaintext = keys
        .decrypt(&key, dek.ciphertext(), b"bucket/object")
        .await
        .unwrap();
    assert_eq!(&plaintext[..], dek.plaintext());
    assert!(matches!(
        keys.decrypt(&key, dek.ciphertext(), b"another object")
            .await,
        Err(Error::Decrypt)
    ));

    let ciphertext = keys.encrypt(&key, b"a secret", b"ctx").await.unwrap();
    let opened = keys.decrypt(&key, &ciphertext, b"ctx").await.unwrap();
    assert_eq!(&opened[..], b"a secret");

    let mac = keys.hmac(&key, b"message").await.unwrap();
    assert_eq!(keys.hmac(&key, b"message").await.unwrap(), mac);
    assert_ne!(keys.hmac(&key, b"other message").await.unwrap(), mac);

    let imported = name(&format!("{prefix}-imported"));
    keys.import_key(&imported, &[7; 32], KeyType::Aes256)
        .await
        .unwrap();
    let ciphertext = keys.encrypt(&imported, b"x", b"").await.unwrap();
    assert_eq!(
        &keys.decrypt(&imported, &ciphertext, b"").await.unwrap()[..],
        b"x"
    );
    let short = keys
        .import_key(&name(&format!("{prefix}-short")), &[7; 31], KeyType::Aes256)
        .await;
    assert!(matches!(short, Err(Error::InvalidKeySize(_))), "{short:?}");

    let listed = keys
        .list_keys(&Pattern::new(&format!("{prefix}-*")).unwrap())
        .await
        .unwrap();
    assert_eq!(
        listed.names,
        vec![imported.as_str().to_owned(), key.as_str().to_owned()]
    );
    keys.status().await.unwrap();

    keys.delete_key(&imported).await.unwrap();
    for result in [
        keys.describe_key(&imported).await.map(drop),
        keys.generate_key(&imported, b"").await.map(drop),
        keys.delete_key(&imported).await,
    ] {
        assert!(matches!(result, Err(Error::KeyNotFound)), "{result:?}");
    }

    // Sealed messages, one-shot: bound to their context, opened by the key their header names.
    let context = Context::from_map([("bucket", "photos"), ("object", "cat.jpg")]);
    let sealed = keys.seal(&key, b"hello", &context).await.unwrap();
    assert_eq!(&keys.open(&sealed, &context).await.unwrap()[..], b"hello");
    let wrong = keys
        .open(&sealed, &Context::from_bytes(b"photos/dog.jpg".to_vec()))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), ErrorCode::DecryptFailed, "{wrong:?}");
    let mut tampered = sealed.clone();
    if let Some(last) = tampered.last_mut() {
        *last ^= 1;
    }
    let err = keys.open(&tampered, &context).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::DecryptFailed, "{err:?}");

    // Streams and ranges over the blocking handle, and the blocking one-shot form.
    let blocking = keys.blocking();
    let stream_key = key.clone();
    tokio::task::spawn_blocking(move || {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let envelope = Envelope::new(blocking.clone());
        let mut writer = envelope
            .seal_writer(&stream_key, &context, Vec::new())
            .unwrap();
        for chunk in data.chunks(7_000) {
            writer.write_all(chunk).unwrap();
        }
        let sealed = writer.finish().unwrap();
        let mut opened = Vec::new();
        envelope
            .open_reader(&sealed[..], &context)
            .unwrap()
            .read_to_end(&mut opened)
            .unwrap();
        assert_eq!(opened, data);
        let mut range = Vec::new();
        envelope
            .open_range(std::io::Cursor::new(&sealed), &context, 70_000, 1_000)
            .unwrap()
            .read_to_end(&mut range)
            .unwrap();
        assert_eq!(range, data[70_000..71_000]);
        // What the async handle sealed, the blocking one opens, and back.
        let sealed = blocking.seal(&stream_key, b"small", &context).unwrap();
        assert_eq!(&blocking.open(&sealed, &context).unwrap()[..], b"small");
    })
    .await
    .unwrap();

    // The blocking form, from a thread of its own, answers the same.
    let blocking = keys.blocking();
    let dek = tokio::task::spawn_blocking(move || {
        let dek = blocking.generate_key(&key, b"ctx").unwrap();
        let plaintext = blocking.decrypt(&key, dek.ciphertext(), b"ctx").unwrap();
        assert_eq!(&plaintext[..], dek.plaintext());
        dek
    })
    .await
    .unwrap();
    assert_eq!(dek.plaintext().len(), 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_memory() {
    contract(&Keys::in_memory().unwrap(), "memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_fs_and_a_kes_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let keys_dir = dir.path().join("keys");
    contract(&Keys::from_fs(&keys_dir).unwrap(), "fs").await;

    // A KES server's config file: only keystore: and cache: are read.
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "address: 0.0.0.0:7373\nadmin:\n  identity: disabled\ntls:\n  key: /nowhere/private.key\n  \
             cert: /nowhere/public.crt\ncache:\n  expiry:\n    any: 1m\nkeystore:\n  fs:\n    \
             path: {}\n",
            keys_dir.display()
        ),
    )
    .unwrap();
    let keys = Keys::from_config(&config).unwrap();
    // The same store: the key the fs handle made is there.
    keys.describe_key(&name("fs-key")).await.unwrap();
    contract(&keys, "config").await;

    // ${NAME} expands as in the server's config, through the lookup that `Keys::from_config` gives
    // the process environment. Given explicitly here: setting this multi-threaded test binary's
    // environment would race with every thread that reads it.
    let text = "keystore:\n  fs:\n    path: ${KESRS_KEYS_TEST_DIR}\n";
    let lookup =
        |var: &str| (var == "KESRS_KEYS_TEST_DIR").then(|| keys_dir.to_str().unwrap().to_owned());
    let expanded = KeysConfig::from_yaml(text, &lookup).unwrap();
    let keys = Keys::from_keystore(&expanded.keystore, expanded.cache).unwrap();
    keys.describe_key(&name("config-key")).await.unwrap();

    std::fs::write(&config, "keystore:\n  fs: {}\n").unwrap();
    let err = Keys::from_config(&config).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_azure_key_vault_from_a_kes_config_file() {
    let fake = fake_keyvault::FakeKeyVault::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("azure-ca.pem"), fake.ca_pem()).unwrap();
    let text = format!(
        "keystore:\n  azure:\n    keyvault:\n      endpoint: {endpoint}\n      credentials:\n        \
         tenant_id: fake-tenant\n        client_id: kesrs-keys-tests\n        client_secret: {secret}\n      \
         tls:\n        ca: {dir}/azure-ca.pem\n      timeout: 3s\n",
        endpoint = fake.endpoint(),
        secret = fake_keyvault::CLIENT_SECRET,
        dir = dir.path().display(),
    );
    // The config's store, with the fake's Entra ID authority given in code: what
    // `AZURE_AUTHORITY_HOST` does for `Keys::from_config`, without changing the environment under
    // this binary's other threads.
    let config = KeysConfig::from_yaml(&text, &|_| None).unwrap();
    let KeyStoreConfig::Azure(azure) = &config.keystore else {
        panic!("not an Azure key store: {:?}", config.keystore);
    };
    let mut options = AzureOptions::from_config(azure).unwrap();
    options.authority_host = Some(fake.authority());
    let store = {
        // The store's HTTP client belongs to the runtime the handle's calls run on.
        let _context = Keys::runtime().unwrap().enter();
        AzureStore::connect(&options).unwrap()
    };
    let keys = Keys::from_kms(Kms::new(Arc::new(store), config.cache)).unwrap();
    contract(&keys, "azure").await;
    // Stored as KES stores it: a secret named after the key.
    assert!(fake.secret("azure-key").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_against_a_kesrs_server_and_across_modes() {
    let api_key = ApiKey::generate().unwrap();
    let server = Server::start_with_admin(ClientCert::api_key(&api_key.to_secret_string()), "");
    let keys = connect(&server, &api_key);
    assert!(keys.is_remote());
    contract(&keys, "remote").await;

    // The server's fs store, opened in-process: what one mode seals, the other opens.
    let local = Keys::from_fs(&server.keys_dir()).unwrap();
    assert!(!local.is_remote());
    let key = name("remote-key");
    let dek = local.generate_key(&key, b"ctx").await.unwrap();
    let plaintext = keys.decrypt(&key, dek.ciphertext(), b"ctx").await.unwrap();
    assert_eq!(&plaintext[..], dek.plaintext());
    let dek = keys.generate_key(&key, b"ctx").await.unwrap();
    let plaintext = local.decrypt(&key, dek.ciphertext(), b"ctx").await.unwrap();
    assert_eq!(&plaintext[..], dek.plaintext());
    let context = Context::from_bytes(b"ctx".to_vec());
    let sealed = local.seal(&key, b"in-process", &context).await.unwrap();
    assert_eq!(
        &keys.open(&sealed, &context).await.unwrap()[..],
        b"in-process"
    );
    let sealed = keys.seal(&key, b"through kesrs", &context).await.unwrap();
    assert_eq!(
        &local.open(&sealed, &context).await.unwrap()[..],
        b"through kesrs"
    );

    // A server that trusts nobody for this key: the same NotAllowed as a policy denial.
    let stranger = connect(&server, &ApiKey::generate().unwrap());
    assert!(matches!(
        stranger.describe_key(&key).await,
        Err(Error::NotAllowed)
    ));
}

/// A burst of requests on a new remote handle shares one connection. hyper cannot know a new
/// connection will speak HTTP/2 before its handshake ends, so it opened one connection (and one
/// handshake) per request waiting meanwhile: 32 for a service whose 32 threads start at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_first_requests_shares_one_connection() {
    let api_key = ApiKey::generate().unwrap();
    let server = Server::start_with_admin(ClientCert::api_key(&api_key.to_secret_string()), "");
    let (proxy, connections) = counting_proxy(server.addr).await;
    let keys = connect_to(&server, proxy, &api_key);
    let key = name("burst-key");
    let burst = (0..32).map(|_| keys.describe_key(&key));
    for result in futures_util::future::join_all(burst).await {
        assert!(matches!(result, Err(Error::KeyNotFound)), "{result:?}");
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1);
    // And the connection serves what comes next.
    keys.create_key(&key).await.unwrap();
    let burst = (0..32).map(|_| keys.describe_key(&key));
    for result in futures_util::future::join_all(burst).await {
        result.unwrap();
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// A TCP proxy to `target` that counts the connections it accepts.
async fn counting_proxy(
    target: std::net::SocketAddr,
) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (addr, accepted)
}

/// A remote handle as the bindings make one: endpoints, an API key, and the server's certificate.
fn connect(server: &Server, api_key: &ApiKey) -> Keys {
    connect_to(server, server.addr, api_key)
}

/// [`connect`], through `addr` (a proxy in front of `server`).
fn connect_to(server: &Server, addr: std::net::SocketAddr, api_key: &ApiKey) -> Keys {
    let ca = std::fs::read(server.dir.path().join("server.cert")).unwrap();
    let endpoints = vec![format!("https://{addr}")];
    let api_key = ApiKey::parse(&api_key.to_secret_string()).unwrap();
    Keys::connect(RemoteOptions::new(endpoints, Credentials::ApiKey(api_key)).with_ca_pem(ca))
        .unwrap()
}

/// README.md's remote example (core/examples/keys_remote.rs) against a real kesrs server.
#[test]
fn the_readme_remote_example_runs() {
    let api_key = ApiKey::generate().unwrap();
    let server = Server::start_with_admin(ClientCert::api_key(&api_key.to_secret_string()), "");
    let local = Keys::from_fs(&server.keys_dir()).unwrap().blocking();
    local.create_key(&name("my-app-key")).unwrap();
    keys_remote_example::seal_remotely(
        &format!("https://{}", server.addr),
        &api_key.to_secret_string(),
        &server.dir.path().join("server.cert"),
    )
    .unwrap();
}
