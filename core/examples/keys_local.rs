//! Seal and open in-process, over a KES fs key directory: no server. (README.md, "Use it as a library")

use kesrs_core::{Context, KeyName, Keys};

fn main() -> Result<(), kesrs_core::Error> {
    let dir = std::env::temp_dir().join(format!("kesrs-example-{}", std::process::id()));
    // The same directory a KES or kesrs server with `keystore: fs:` uses.
    let keys = Keys::from_fs(&dir)?.blocking();
    let key = KeyName::new("my-app-key")?;
    keys.create_key(&key)?;

    let context = Context::from_map([("bucket", "photos/cat.jpg")]);
    let sealed = keys.seal(&key, b"a secret", &context)?;
    let plaintext = keys.open(&sealed, &context)?;
    assert_eq!(&plaintext[..], b"a secret");

    // Another context does not open it.
    let other = Context::from_map([("bucket", "photos/dog.jpg")]);
    assert!(keys.open(&sealed, &other).is_err());
    println!(
        "sealed {} bytes into {}, opened them again",
        plaintext.len(),
        sealed.len()
    );
    std::fs::remove_dir_all(&dir).map_err(kesrs_core::Error::from)
}
