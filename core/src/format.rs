//! KES's stored-key format (kes-protocol.md section 6). STUB: helper A owns this.

use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::crypto::{HmacKey, SecretKey};
use crate::Error;

/// One stored key: the value a key store holds under a key name.
pub(crate) struct KeyVersion {
    pub(crate) key: SecretKey,
    /// `None` for legacy JSON keys, which cannot compute HMACs.
    pub(crate) hmac_key: Option<HmacKey>,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) created_by: Option<String>,
}

impl KeyVersion {
    /// Parses a stored value: legacy JSON if it is valid JSON, otherwise base64 protobuf.
    pub(crate) fn decode(value: &[u8]) -> Result<Self, Error> {
        let _ = value;
        unimplemented!()
    }

    /// Encodes as base64 of the protobuf `KeyVersion`, as KES writes it.
    pub(crate) fn encode(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        unimplemented!()
    }
}

/// Formats a time as Go's `time.Time` JSON encoding does: RFC 3339 with trailing fractional zeros trimmed.
pub fn rfc3339(t: &OffsetDateTime) -> String {
    let _ = t;
    unimplemented!()
}
