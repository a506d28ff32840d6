//! kesrs-core: everything kesrs knows about keys.
//!
//! The central design decision: **every operation on keys goes through one type, [`Kms`]**, which has no
//! HTTP in it. The KES sidecar, the C library and the Python and Node bindings are thin layers that turn
//! their inputs into calls on `Kms` and its typed [`Error`] back into their own error shapes. Because the
//! formats live here once, a ciphertext produced in-process by a binding decrypts in the sidecar, in Go
//! KES, and back.
//!
//! The public interface is:
//! - [`Keys`] (async) and [`BlockingKeys`]: the one handle over local or remote keys that every
//!   binding wraps; `RemoteOptions` (feature `client`) says where a remote one connects.
//! - [`Kms`], [`DataKey`], [`KeyInfo`], [`KeyList`], [`StoreStatus`], [`KeyType`]: the key operations.
//! - [`KeyStore`] and [`StoreError`]: what a backend must implement; [`keystore`]: the memory, fs and
//!   Azure Key Vault stores.
//! - [`Config`] and the rest of [`config`]: the KES YAML configuration, parsed and validated, and
//!   [`config::parse_duration`] for Go durations given elsewhere.
//! - [`KeyName`], [`Pattern`], [`Identity`], [`ApiKey`], [`Policy`]: validated values ([`valid_name`]
//!   checks a name without building one); [`ClientChainError`]: why a TLS client's certificate chain
//!   has no identity.
//! - [`CertificateOptions`], [`SelfSignedCertificate`]: certificates made from an API key;
//!   [`decrypt_private_key_pem`]: a legacy-encrypted PEM key (`tls.password`).
//! - [`Envelope`], [`Context`], [`DataKeys`], [`AsyncDataKeys`], [`ReuseLimits`] and the stream
//!   adapters [`SealWriter`], [`OpenReader`], [`AsyncSealWriter`], [`AsyncOpenReader`] (and
//!   [`envelope_header_len`], [`ENVELOPE_PACKAGE_LEN`] for callers that buffer pushed input;
//!   [`PackageSealer`] for callers that move the bytes themselves, one package at a time): sealed
//!   messages (docs/envelope.md), with data keys from any of the above. A [`Context`] is bytes or
//!   a string map, byte for byte as MinIO builds it.
//! - [`Error`] and [`EnvelopeError`]: the one error type, carrying the exact KES status and message;
//!   [`ErrorCode`]: its kind as a stable number and name, for the bindings; [`StoreOp`]: the key-store
//!   operation that failed.
//! - [`rfc3339`]: a time as Go's `time.Time` writes it in JSON; [`json_field_matches`]: which JSON
//!   object keys Go's `encoding/json` assigns to a struct field (for decoders of KES's request bodies).
//! - [`tls`]: CA loading and the verifiers that accept any certificate (KES's default client-auth
//!   mode, `--insecure`), shared by the client, the server and the tests.
//! - `Client` and the rest of `client` (feature `client`): the same key operations against a remote
//!   KES server.

mod apikey;
mod cache;
#[cfg(feature = "client")]
pub mod client;
pub mod config;
mod context;
mod crypto;
mod encrypted_pem;
mod envelope;
mod error;
mod format;
mod go;
mod identity;
mod keys;
pub mod keystore;
mod kms;
mod name;
mod pem_text;
mod policy;
pub mod tls;

pub use apikey::{ApiKey, CertificateOptions, SelfSignedCertificate};
#[cfg(feature = "client")]
pub use client::Client;
pub use config::Config;
pub use context::Context;
pub use crypto::KeyType;
pub use encrypted_pem::decrypt_private_key_pem;
pub use envelope::{
    envelope_header_len, AsyncDataKeys, AsyncOpenReader, AsyncSealWriter, DataKeys, Envelope,
    OpenReader, PackageSealer, ReuseLimits, SealWriter, ENVELOPE_PACKAGE_LEN,
};
pub use error::{EnvelopeError, Error, ErrorCode, StoreOp};
pub use go::{json_field_matches, rfc3339};
pub use identity::{ClientChainError, Identity};
#[cfg(feature = "client")]
pub use keys::RemoteOptions;
pub use keys::{BlockingKeys, Keys};
pub use keystore::{KeyStore, StoreError};
pub use kms::{DataKey, KeyInfo, KeyList, Kms, StoreStatus};
pub use name::{valid_name, KeyName, Pattern};
pub use policy::{NameCoverage, Policy};

/// Entry points for the fuzz targets in `fuzz/` and the envelope vectors. Not part of the public API;
/// may change at any time.
#[doc(hidden)]
pub mod internal {
    /// Sealing with given random values, and the keys a message derives: for `tests/vectors/envelope.json`.
    pub mod envelope_vectors {
        use zeroize::Zeroizing;

        use crate::{Context, DataKey, Error, KeyName};

        /// Seals as `Envelope::seal` does, with `salt` and the DARE `nonce` given instead of drawn.
        #[allow(clippy::too_many_arguments)] // Each value of a vector, one argument each.
        pub fn seal(
            data_key: &DataKey,
            shared: bool,
            key: &KeyName,
            plaintext: &[u8],
            context: &Context,
            salt: &[u8; 32],
            nonce: &[u8; 12],
        ) -> Result<Vec<u8>, Error> {
            let mut random = [0u8; 44];
            random[..32].copy_from_slice(salt);
            random[32..].copy_from_slice(nonce);
            crate::envelope::seal_bytes(data_key, shared, key, plaintext, context, &random)
        }

        /// A DARE 2.0 stream of `plaintext` under `key`, as sio writes it with that nonce.
        pub fn dare_seal(
            key: &[u8; 32],
            nonce: &[u8; 12],
            plaintext: &[u8],
        ) -> Result<Vec<u8>, Error> {
            crate::envelope::dare_seal(key, nonce, plaintext)
        }

        /// The plaintext of a whole DARE 2.0 stream under `key`.
        pub fn dare_open(key: &[u8; 32], stream: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
            crate::envelope::dare_open(key, stream)
        }

        /// The header key and payload key of a message.
        pub fn keys(
            data_key: &[u8; 32],
            salt: &[u8; 32],
            context: &Context,
        ) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>) {
            crate::envelope::derive_keys(data_key, salt, context)
        }
    }

    /// Each function feeds arbitrary bytes to one decoder and checks what must hold for any input.
    pub mod fuzzing {
        use crate::crypto::SecretKey;
        use crate::format::KeyVersion;
        use crate::KeyType;

        /// A stored key value: decoding never panics, and a decoded protobuf key re-encodes to a
        /// value that decodes to the same key.
        pub fn stored_key(data: &[u8]) {
            let Ok(version) = KeyVersion::decode(data) else {
                return;
            };
            if version.hmac_key.is_none() {
                return; // Legacy JSON keys are read-only; they are never re-encoded.
            }
            let Ok(encoded) = version.encode() else {
                return; // Times outside the encodable range; decode already accepted them.
            };
            let Ok(again) = KeyVersion::decode(&encoded) else {
                unreachable!("a re-encoded key must decode");
            };
            assert_eq!(again.key.as_bytes(), version.key.as_bytes());
            assert_eq!(again.key.kind(), version.key.kind());
            assert_eq!(again.created_at, version.created_at);
            assert_eq!(again.created_by, version.created_by);
            assert_eq!(again.encode().ok().as_deref(), Some(&*encoded));
        }

        /// A ciphertext in any format: opening never panics, and fails unless the input really was
        /// sealed under the key (all-zero keys are used, so fuzzers can craft such inputs).
        pub fn ciphertext(data: &[u8]) {
            for kind in [KeyType::Aes256, KeyType::ChaCha20] {
                let key = SecretKey::from_array(kind, &[0; 32]);
                if let Ok(plaintext) = key.open(data, b"") {
                    let Ok(sealed) = key.seal(&plaintext, b"") else {
                        unreachable!("sealing cannot fail");
                    };
                    assert_eq!(key.open(&sealed, b"").ok().as_deref(), Some(&*plaintext));
                }
            }
        }

        /// An envelope: parsing never panics, a header re-encodes to the bytes it was read from,
        /// and the one-shot and streaming readers agree on every input.
        pub fn envelope(data: &[u8]) {
            crate::envelope::fuzz(data);
        }

        /// A config file: parsing never panics.
        pub fn config(data: &[u8]) {
            if let Ok(text) = std::str::from_utf8(data) {
                let _ = crate::Config::from_yaml(text, &|_| Some(String::new()));
            }
        }
    }
}
