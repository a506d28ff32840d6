//! Envelope encryption in-process with an fs key store: no server involved.
//!
//! A program creates a key, asks for a data key, keeps only its ciphertext next to the data, and later
//! recovers the data key. Any KES (kesrs or Go KES) reading the same key directory can decrypt it too.
//!
//! Run with `cargo run -p kesrs-core --example envelope`.

use std::sync::Arc;

use kesrs_core::config::CacheConfig;
use kesrs_core::keystore::FsStore;
use kesrs_core::{KeyName, Kms};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = FsStore::open(dir.path().join("keys"))?;
    let kms = Kms::new(Arc::new(store), CacheConfig::default());

    let name = KeyName::new("my-app-key")?;
    kms.create_key(&name, None).await?;
    println!("created key '{name}': {:?}", kms.describe_key(&name).await?);

    // The context is associated data: decryption needs the same bytes.
    let context = br#"{"bucket":"photos/cat.jpg"}"#;
    let data_key = kms.generate_key(&name, context).await?;
    println!("data key ciphertext: {} bytes", data_key.ciphertext().len());

    let recovered = kms.decrypt(&name, data_key.ciphertext(), context).await?;
    assert_eq!(recovered.as_slice(), data_key.plaintext());
    println!("data key recovered from its ciphertext");

    let err = kms
        .decrypt(&name, data_key.ciphertext(), b"another context")
        .await
        .err()
        .ok_or("decrypting with the wrong context must fail")?;
    println!("wrong context: {} {}", err.status(), err.message());

    let ciphertext = kms.encrypt(&name, b"a small secret", b"").await?;
    let plaintext = kms.decrypt(&name, &ciphertext, b"").await?;
    assert_eq!(plaintext.as_slice(), b"a small secret");
    println!("encrypt/decrypt round trip ok");
    Ok(())
}
