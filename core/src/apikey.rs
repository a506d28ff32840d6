//! KES API keys. STUB: helper B owns this.

use std::fmt;

use zeroize::Zeroizing;

use crate::{Error, Identity};

/// A KES API key: an Ed25519 seed, written `kes:v1:` + base64(0x00 ‖ seed). Its `Debug` hides the seed.
pub struct ApiKey {
    _private: (),
}

impl ApiKey {
    /// A fresh random API key.
    pub fn generate() -> Result<Self, Error> {
        unimplemented!()
    }

    /// Parses `kes:v1:...` (the prefix is optional, as in the Go client).
    pub fn parse(s: &str) -> Result<Self, Error> {
        let _ = s;
        unimplemented!()
    }

    /// The identity of this key's public key.
    pub fn identity(&self) -> Identity {
        unimplemented!()
    }

    /// The `kes:v1:...` text. Declassifies the secret: callers print it only where a user asked for it.
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        unimplemented!()
    }

    /// A self-signed client certificate for this key, as the Go client makes it: returns (cert DER,
    /// PKCS#8 private key DER).
    pub fn client_certificate(&self) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), Error> {
        unimplemented!()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey")
    }
}
