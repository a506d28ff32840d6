//! KES's key types and its authenticated encryption (kes-protocol.md section 7). STUB: helper A owns this.

use std::fmt;

use crate::Error;

/// The cipher a secret key is used with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// AES-256-GCM with the per-message key HMAC-SHA256(key, iv).
    Aes256,
    /// ChaCha20-Poly1305 with the per-message key HChaCha20(key, iv).
    ChaCha20,
}

impl KeyType {
    /// Parses a cipher as KES's import accepts it: `AES256`, `AES256-GCM_SHA256`, `ChaCha20`,
    /// `XCHACHA20-POLY1305`; anything else is [`Error::UnsupportedAlgorithm`].
    pub fn from_cipher(cipher: &str) -> Result<Self, Error> {
        let _ = cipher;
        unimplemented!()
    }

    /// The name KES shows for this type: `AES256` or `ChaCha20`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aes256 => "AES256",
            Self::ChaCha20 => "ChaCha20",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A 32-byte secret key and its type. Zeroized on drop; its `Debug` shows no key bytes.
pub(crate) struct SecretKey {
    _private: (),
}

impl SecretKey {
    /// A fresh random key.
    pub(crate) fn generate(kind: KeyType) -> Result<Self, Error> {
        let _ = kind;
        unimplemented!()
    }

    /// A key from caller-supplied bytes; anything but 32 bytes is [`Error::InvalidKeySize`].
    pub(crate) fn from_bytes(kind: KeyType, bytes: &[u8], cipher: &str) -> Result<Self, Error> {
        let _ = (kind, bytes, cipher);
        unimplemented!()
    }

    pub(crate) fn kind(&self) -> KeyType {
        unimplemented!()
    }

    /// Encrypts `plaintext` with `context` as associated data: sealed ‖ iv16 ‖ nonce12.
    pub(crate) fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, Error> {
        let _ = (plaintext, context);
        unimplemented!()
    }

    /// Decrypts any KES ciphertext format (current, legacy msgpack, legacy JSON).
    pub(crate) fn open(
        &self,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
        let _ = (ciphertext, context);
        unimplemented!()
    }
}

/// A 32-byte HMAC-SHA256 key. Zeroized on drop; its `Debug` shows no key bytes.
pub(crate) struct HmacKey {
    _private: (),
}

impl HmacKey {
    pub(crate) fn generate() -> Result<Self, Error> {
        unimplemented!()
    }

    pub(crate) fn mac(&self, message: &[u8]) -> [u8; 32] {
        let _ = message;
        unimplemented!()
    }
}

/// Fills `buf` from the operating system's random source.
pub(crate) fn random(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::getrandom(buf).map_err(|_| Error::Random)
}
