//! The legacy ciphertext encodings (kes-protocol.md 7.2). Both carry the same three parts as the
//! current format, so normalising them to `bytes ‖ iv ‖ nonce` is all decryption needs.

use std::borrow::Cow;

use serde::de::{IgnoredAny, MapAccess};

use super::{KeyType, IV_LEN, NONCE_LEN};
use crate::go;

/// msgpack fixarray of 5: the first byte of every msgpack ciphertext KES wrote.
const MSGPACK_ARRAY_5: u8 = 0x95;

/// The legacy JSON `aead` values.
const JSON_AES: &str = "AES-256-GCM-HMAC-SHA-256";
const JSON_CHACHA: &str = "ChaCha20Poly1305";

/// Rewrites a legacy ciphertext as `bytes ‖ iv ‖ nonce`.
///
/// As in KES, a value that only looks legacy (right first byte, but it does not parse) is kept
/// unchanged and then tried as the current format, where it fails to authenticate.
pub(super) fn normalize(ciphertext: &[u8]) -> Cow<'_, [u8]> {
    let parsed = match ciphertext.first() {
        Some(&MSGPACK_ARRAY_5) => msgpack(ciphertext),
        Some(b'{') => json(ciphertext),
        _ => None,
    };
    parsed.map_or(Cow::Borrowed(ciphertext), Cow::Owned)
}

/// `[str algorithm, str id, bin iv, bin nonce, bin bytes]` and nothing after it.
///
/// KES decoded this with msgp, which insists on the str family for strings and the bin family for
/// byte fields; rmp's typed length readers enforce the same, and the bytes are borrowed, never
/// allocated from an untrusted length.
fn msgpack(input: &[u8]) -> Option<Vec<u8>> {
    let mut rd = input;
    if rmp::decode::read_array_len(&mut rd).ok()? != 5 {
        return None;
    }
    let algorithm = read_str(&mut rd)?;
    std::str::from_utf8(algorithm)
        .ok()
        .and_then(KeyType::parse)?;
    let _id = read_str(&mut rd)?; // Named the key once; ignored since.
    let iv: &[u8; IV_LEN] = read_bin(&mut rd)?.try_into().ok()?;
    let nonce: &[u8; NONCE_LEN] = read_bin(&mut rd)?.try_into().ok()?;
    let bytes = read_bin(&mut rd)?;
    if !rd.is_empty() {
        return None;
    }
    Some(concat(bytes, iv, nonce))
}

fn read_str<'a>(rd: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = rmp::decode::read_str_len(rd).ok()?;
    take(rd, len)
}

fn read_bin<'a>(rd: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = rmp::decode::read_bin_len(rd).ok()?;
    take(rd, len)
}

fn take<'a>(rd: &mut &'a [u8], len: u32) -> Option<&'a [u8]> {
    let (value, rest) = rd.split_at_checked(usize::try_from(len).ok()?)?;
    *rd = rest;
    Some(value)
}

/// `{"aead": ..., "id": ..., "iv": b64, "nonce": b64, "bytes": b64}`, decoded as Go's
/// encoding/json decoded it into a struct (see [`go`]).
fn json(input: &[u8]) -> Option<Vec<u8>> {
    let ciphertext: JsonCiphertext = go::decode_struct(input).ok()?;
    if ciphertext.aead != JSON_AES && ciphertext.aead != JSON_CHACHA {
        return None;
    }
    let iv: &[u8; IV_LEN] = ciphertext.iv.as_slice()?.try_into().ok()?;
    let nonce: &[u8; NONCE_LEN] = ciphertext.nonce.as_slice()?.try_into().ok()?;
    let bytes = ciphertext.bytes.as_slice().unwrap_or_default();
    Some(concat(bytes, iv, nonce))
}

fn concat(bytes: &[u8], iv: &[u8; IV_LEN], nonce: &[u8; NONCE_LEN]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len().saturating_add(IV_LEN + NONCE_LEN));
    out.extend_from_slice(bytes);
    out.extend_from_slice(iv);
    out.extend_from_slice(nonce);
    out
}

/// The fields of a legacy JSON ciphertext that matter; `id` is type-checked and dropped.
#[derive(Default)]
struct JsonCiphertext {
    aead: String,
    iv: go::Bytes,
    nonce: go::Bytes,
    bytes: go::Bytes,
}

impl go::Struct for JsonCiphertext {
    const EXPECTING: &'static str = "a legacy KES ciphertext object";
    const FIELDS: &'static [&'static str] = &["aead", "iv", "nonce", "bytes", "id"];

    fn set<'de, A: MapAccess<'de>>(&mut self, field: &str, map: &mut A) -> Result<(), A::Error> {
        match field {
            "aead" => go::set_string(&mut self.aead, map.next_value()?),
            "iv" => self.iv = map.next_value()?,
            "nonce" => self.nonce = map.next_value()?,
            "bytes" => self.bytes = map.next_value()?,
            // Ignored, but still a Go string: any other type failed the whole parse.
            "id" => {
                map.next_value::<Option<String>>()?;
            }
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}
