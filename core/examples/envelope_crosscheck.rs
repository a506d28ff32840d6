//! Opens envelopes another implementation sealed, with the data keys it used: the kesrs half of the
//! cross-check of docs/envelope.md. `tests/envelope-python/crosscheck.py seal FILE` writes such a
//! file with fresh randomness; scripts/test then runs
//!
//! ```text
//! cargo run -p kesrs-core --example envelope_crosscheck -- FILE
//! ```
//!
//! FILE is JSON: `{"messages": [{"key_name", "context_hex", "data_key_hex",
//! "data_key_ciphertext_hex", "plaintext_b64", "sealed_b64"}, ...]}`. Every message must open, with
//! its data key handed out only for exactly its key name, ciphertext and context, to exactly its
//! plaintext; and must not open with one byte of its context changed. Fails on a missing or empty
//! file.

use std::error::Error as StdError;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;
use zeroize::Zeroizing;

use kesrs_core::{Context, DataKey, DataKeys, Envelope, Error, KeyName};

type Result<T> = std::result::Result<T, Box<dyn StdError>>;

fn main() -> Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: envelope_crosscheck FILE")?;
    let text = std::fs::read_to_string(&path).map_err(|err| format!("reading '{path}': {err}"))?;
    let file: Value = serde_json::from_str(&text)?;
    let messages = file
        .get("messages")
        .and_then(Value::as_array)
        .filter(|messages| !messages.is_empty())
        .ok_or_else(|| format!("'{path}' has no messages"))?;
    for (i, message) in messages.iter().enumerate() {
        check(message).map_err(|err| format!("message {i}: {err}"))?;
    }
    println!("kesrs opened all {} envelopes of '{path}'", messages.len());
    Ok(())
}

fn check(message: &Value) -> Result<()> {
    let keys = GivenKey {
        name: KeyName::new(field(message, "key_name")?)?,
        ciphertext: hex::decode(field(message, "data_key_ciphertext_hex")?)?,
        context: hex::decode(field(message, "context_hex")?)?,
        data_key: Zeroizing::new(hex::decode(field(message, "data_key_hex")?)?),
    };
    let plaintext = B64.decode(field(message, "plaintext_b64")?)?;
    let sealed = B64.decode(field(message, "sealed_b64")?)?;
    let context = Context::from_bytes(keys.context.clone());
    let envelope = Envelope::new(keys);

    let opened = envelope.open(&sealed, &context)?;
    if *opened != plaintext {
        return Err("opened to other bytes than were sealed".into());
    }
    let mut streamed = Vec::new();
    std::io::Read::read_to_end(
        &mut envelope.open_reader(sealed.as_slice(), &context)?,
        &mut streamed,
    )?;
    if streamed != plaintext {
        return Err("the stream reader opened to other bytes than were sealed".into());
    }

    // The derivation binds the context, even with a key source that ignores it.
    let mut other = context.as_bytes().to_vec();
    match other.first_mut() {
        Some(byte) => *byte ^= 1,
        None => other.push(0),
    }
    let relaxed = Envelope::new(IgnoresContext(envelope.keys()));
    match relaxed.open(&sealed, &Context::from_bytes(other)) {
        Err(Error::Envelope(err)) if err.to_string() == "header authentication failed" => Ok(()),
        Err(err) => Err(format!("another context: {err}, not header authentication").into()),
        Ok(_) => Err("opened with another context".into()),
    }
}

fn field<'a>(message: &'a Value, name: &str) -> Result<&'a str> {
    message
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no string '{name}'").into())
}

/// What KES would answer: the data key, for exactly the name, ciphertext and context it was made for.
struct GivenKey {
    name: KeyName,
    ciphertext: Vec<u8>,
    context: Vec<u8>,
    data_key: Zeroizing<Vec<u8>>,
}

impl DataKeys for GivenKey {
    fn generate(&self, _: &KeyName, _: &[u8]) -> std::result::Result<DataKey, Error> {
        Err(Error::InvalidArgument("this check only opens".into()))
    }

    fn decrypt(
        &self,
        key: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> std::result::Result<Zeroizing<Vec<u8>>, Error> {
        if *key != self.name || ciphertext != self.ciphertext || context != self.context {
            return Err(Error::Decrypt);
        }
        Ok(self.data_key.clone())
    }
}

/// [`GivenKey`] with any context accepted, as a careless key source would.
struct IgnoresContext<'a>(&'a GivenKey);

impl DataKeys for IgnoresContext<'_> {
    fn generate(&self, key: &KeyName, context: &[u8]) -> std::result::Result<DataKey, Error> {
        self.0.generate(key, context)
    }

    fn decrypt(
        &self,
        key: &KeyName,
        ciphertext: &[u8],
        _: &[u8],
    ) -> std::result::Result<Zeroizing<Vec<u8>>, Error> {
        self.0.decrypt(key, ciphertext, &self.0.context)
    }
}
