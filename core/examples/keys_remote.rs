//! The same calls against a KES server (kesrs or Go KES) over mutual TLS, with MinIO's settings.
//! (README.md, "Use it as a library"; sidecar/tests/keys.rs runs it against a real kesrs server.)
//!
//! KES_SERVER=https://127.0.0.1:7373 KES_API_KEY=kes:v1:... KES_CAPATH=public.crt \
//!     cargo run -p kesrs-core --features client --example keys_remote

use std::path::Path;

use kesrs_core::{Context, Error, KeyName, Keys, RemoteOptions};

fn main() -> Result<(), Error> {
    let var = |name: &str| {
        std::env::var(name).map_err(|_| Error::InvalidArgument(format!("{name} is not set")))
    };
    seal_remotely(
        &var("KES_SERVER")?,
        &var("KES_API_KEY")?,
        Path::new(&var("KES_CAPATH")?),
    )
}

pub(crate) fn seal_remotely(endpoint: &str, api_key: &str, ca: &Path) -> Result<(), Error> {
    let credentials = RemoteOptions::credentials(Some(api_key), None, None)?;
    let options = RemoteOptions::new(vec![endpoint.to_owned()], credentials).with_ca_file(ca)?;
    let keys = Keys::connect(options)?.blocking();

    // The server's policy must allow /v1/key/generate/my-app-key and /v1/key/decrypt/my-app-key.
    let key = KeyName::new("my-app-key")?;
    let context = Context::from_map([("bucket", "photos/cat.jpg")]);
    let sealed = keys.seal(&key, b"a secret", &context)?;
    assert_eq!(&keys.open(&sealed, &context)?[..], b"a secret");
    println!("sealed and opened through {endpoint}");
    Ok(())
}
