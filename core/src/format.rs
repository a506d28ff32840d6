//! KES's stored-key format (kes-protocol.md section 6).
//!
//! A stored value is standard base64 of a protobuf `KeyVersion`, or, for keys written by old KES
//! versions, a JSON object. The JSON form is read-only: it has no HMAC key, so it is never written.

use std::fmt;

use base64::Engine;
use prost::Message;
use serde::de::IgnoredAny;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::crypto::{HmacKey, KeyType, SecretKey, KEY_LEN};
use crate::go;
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
    ///
    /// Every failure is [`Error::CorruptKey`]; a malformed value never panics (KES itself panics on a
    /// protobuf value without a key sub-message).
    pub(crate) fn decode(value: &[u8]) -> Result<Self, Error> {
        // KES checks JSON validity first, so a value that is both valid JSON and valid base64 (such as
        // `1234`) is a (broken) JSON key, never a protobuf one.
        if serde_json::from_slice::<IgnoredAny>(value).is_ok() {
            legacy::decode(value)
        } else {
            decode_protobuf(value)
        }
    }

    /// Encodes as base64 of the protobuf `KeyVersion`, as KES writes it.
    ///
    /// A key without an HMAC key (a legacy JSON key) cannot be encoded: the format requires one, and
    /// KES never rewrites legacy keys. That is [`Error::HmacNotSupported`].
    pub(crate) fn encode(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        let hmac_key = self.hmac_key.as_ref().ok_or(Error::HmacNotSupported)?;
        let message = proto::KeyVersion {
            key: Some(proto::SecretKey {
                key: self.key.as_bytes().to_vec(),
                r#type: match self.key.kind() {
                    KeyType::Aes256 => proto::TYPE_AES256,
                    KeyType::ChaCha20 => proto::TYPE_CHACHA20,
                },
            }),
            hmac_key: Some(proto::HmacKey {
                key: hmac_key.as_bytes().to_vec(),
                hash: proto::HASH_SHA256,
            }),
            created_at: Some(proto::Timestamp {
                seconds: self.created_at.unix_timestamp(),
                // Always below 10^9, so it fits.
                nanos: i32::try_from(self.created_at.nanosecond())
                    .map_err(|_| Error::CorruptKey("created_at out of range"))?,
            }),
            created_by: self.created_by.clone().unwrap_or_default(),
        };
        // prost writes fields in number order and omits proto3 zero scalars, as Go's proto.Marshal.
        let bytes = Zeroizing::new(message.encode_to_vec());
        Ok(Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .encode(bytes.as_slice())
                .into_bytes(),
        ))
    }
}

impl fmt::Debug for KeyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVersion")
            .field("key", &self.key)
            .field("hmac_key", &self.hmac_key)
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .finish()
    }
}

/// The input of prost's decoder. prost reads a `bytes` field through `copy_to_bytes` and copies that
/// into the message; the default `copy_to_bytes` returns a plain copy that would be freed, key bytes
/// and all, without being wiped.
struct WipingBuf<'a>(&'a [u8]);

impl bytes::Buf for WipingBuf<'_> {
    fn remaining(&self) -> usize {
        self.0.len()
    }

    fn chunk(&self) -> &[u8] {
        self.0
    }

    fn advance(&mut self, count: usize) {
        self.0 = self.0.get(count..).unwrap_or_default();
    }

    fn copy_to_bytes(&mut self, len: usize) -> bytes::Bytes {
        // prost checks `len` against `remaining` first; clamping keeps a bad length from panicking.
        let (field, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        bytes::Bytes::from_owner(Zeroizing::new(field.to_vec()))
    }
}

/// The protobuf form: base64, then `KeyVersion` with both sub-messages required.
fn decode_protobuf(value: &[u8]) -> Result<KeyVersion, Error> {
    let bytes = go::decode_base64(value).ok_or(Error::CorruptKey("invalid base64"))?;
    let message = proto::KeyVersion::decode(WipingBuf(bytes.as_slice()))
        .map_err(|_| Error::CorruptKey("invalid protobuf"))?;

    let key = message
        .key
        .as_ref()
        .ok_or(Error::CorruptKey("missing secret key"))?;
    let kind = match key.r#type {
        proto::TYPE_AES256 => KeyType::Aes256,
        proto::TYPE_CHACHA20 => KeyType::ChaCha20,
        _ => return Err(Error::CorruptKey("unknown secret key type")),
    };
    let key_bytes: &[u8; KEY_LEN] = key
        .key
        .as_slice()
        .try_into()
        .map_err(|_| Error::CorruptKey("secret key is not 32 bytes"))?;

    let hmac_key = message
        .hmac_key
        .as_ref()
        .ok_or(Error::CorruptKey("missing HMAC key"))?;
    if hmac_key.hash != proto::HASH_SHA256 {
        return Err(Error::CorruptKey("unknown HMAC hash"));
    }
    let hmac_bytes: &[u8; KEY_LEN] = hmac_key
        .key
        .as_slice()
        .try_into()
        .map_err(|_| Error::CorruptKey("HMAC key is not 32 bytes"))?;

    // As Go's Timestamp.AsTime: nanos are added to the seconds (out-of-range nanos normalise) and the
    // result is UTC; a missing timestamp is the Unix epoch. i128 cannot overflow here.
    let created_at = match &message.created_at {
        None => OffsetDateTime::UNIX_EPOCH,
        Some(ts) => OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos),
        )
        .map_err(|_| Error::CorruptKey("created_at out of range"))?,
    };
    let created_by = Some(message.created_by.clone()).filter(|s| !s.is_empty());

    Ok(KeyVersion {
        key: SecretKey::from_array(kind, key_bytes),
        hmac_key: Some(HmacKey::from_array(hmac_bytes)),
        created_at,
        created_by,
    })
}

/// The protobuf messages of KES's `internal/protobuf/crypto.proto` (package `miniohq.kms`, proto3),
/// declared by hand so that no build script is needed.
mod proto {
    use std::fmt;

    use zeroize::{Zeroize, ZeroizeOnDrop};

    pub(super) const TYPE_AES256: u32 = 1;
    pub(super) const TYPE_CHACHA20: u32 = 2;
    pub(super) const HASH_SHA256: u32 = 1;

    #[derive(prost::Message)]
    pub(super) struct KeyVersion {
        #[prost(message, optional, tag = "1")]
        pub(super) key: Option<SecretKey>,
        #[prost(message, optional, tag = "2")]
        pub(super) hmac_key: Option<HmacKey>,
        #[prost(message, optional, tag = "3")]
        pub(super) created_at: Option<Timestamp>,
        #[prost(string, tag = "4")]
        pub(super) created_by: String,
    }

    /// Key bytes from the wire; wiped when dropped. Its `Debug` shows no key bytes.
    #[derive(prost::Message, Zeroize, ZeroizeOnDrop)]
    #[prost(skip_debug)]
    pub(super) struct SecretKey {
        #[prost(bytes = "vec", tag = "1")]
        pub(super) key: Vec<u8>,
        #[prost(uint32, tag = "2")]
        pub(super) r#type: u32,
    }

    /// Key bytes from the wire; wiped when dropped. Its `Debug` shows no key bytes.
    #[derive(prost::Message, Zeroize, ZeroizeOnDrop)]
    #[prost(skip_debug)]
    pub(super) struct HmacKey {
        #[prost(bytes = "vec", tag = "1")]
        pub(super) key: Vec<u8>,
        #[prost(uint32, tag = "2")]
        pub(super) hash: u32,
    }

    /// `google.protobuf.Timestamp`.
    #[derive(prost::Message)]
    pub(super) struct Timestamp {
        #[prost(int64, tag = "1")]
        pub(super) seconds: i64,
        #[prost(int32, tag = "2")]
        pub(super) nanos: i32,
    }

    impl fmt::Debug for SecretKey {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SecretKey")
                .field("type", &self.r#type)
                .finish_non_exhaustive()
        }
    }

    impl fmt::Debug for HmacKey {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("HmacKey")
                .field("hash", &self.hash)
                .finish_non_exhaustive()
        }
    }
}

/// The legacy JSON key: `{"bytes", "algorithm", "created_at", "created_by"}`.
mod legacy {
    use serde::de::{self, IgnoredAny, MapAccess};
    use time::OffsetDateTime;

    use super::KeyVersion;
    use crate::crypto::{KeyType, SecretKey, KEY_LEN};
    use crate::go;
    use crate::Error;

    /// Go's zero `time.Time`, which a legacy key without `created_at` has.
    const ZERO_TIME: OffsetDateTime = time::macros::datetime!(0001-01-01 00:00 UTC);

    pub(super) fn decode(value: &[u8]) -> Result<KeyVersion, Error> {
        let key: JsonKey =
            go::decode_struct(value).map_err(|_| Error::CorruptKey("invalid JSON key"))?;
        let kind = match key.algorithm.as_str() {
            "" => KeyType::Aes256,
            algorithm => {
                KeyType::parse(algorithm).ok_or(Error::CorruptKey("unknown key algorithm"))?
            }
        };
        let bytes: &[u8; KEY_LEN] = key
            .bytes
            .as_slice()
            .unwrap_or_default()
            .try_into()
            .map_err(|_| Error::CorruptKey("secret key is not 32 bytes"))?;
        Ok(KeyVersion {
            key: SecretKey::from_array(kind, bytes),
            hmac_key: None,
            created_at: key.created_at.unwrap_or(ZERO_TIME),
            created_by: Some(key.created_by).filter(|s| !s.is_empty()),
        })
    }

    #[derive(Default)]
    struct JsonKey {
        bytes: go::Bytes,
        algorithm: String,
        /// Keeps the offset it was written with; describe shows it unchanged.
        created_at: Option<OffsetDateTime>,
        created_by: String,
    }

    impl go::Struct for JsonKey {
        const EXPECTING: &'static str = "a legacy KES key object";
        const FIELDS: &'static [&'static str] = &["bytes", "algorithm", "created_at", "created_by"];

        fn set<'de, A: MapAccess<'de>>(
            &mut self,
            field: &str,
            map: &mut A,
        ) -> Result<(), A::Error> {
            match field {
                "bytes" => self.bytes = map.next_value()?,
                "algorithm" => go::set_string(&mut self.algorithm, map.next_value()?),
                // time.Time leaves itself unchanged for null, like a string.
                "created_at" => {
                    if let Some(text) = map.next_value::<Option<String>>()? {
                        let parsed = go::parse_rfc3339(&text)
                            .ok_or_else(|| de::Error::custom("invalid created_at"))?;
                        self.created_at = Some(parsed);
                    }
                }
                "created_by" => go::set_string(&mut self.created_by, map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD as B64;
    use serde_json::Value;
    use time::macros::datetime;

    use super::*;
    use crate::go::rfc3339;

    const VECTORS: &str = include_str!("../../tests/vectors/kes-vectors.json");

    fn vectors() -> Value {
        serde_json::from_str(VECTORS).unwrap()
    }

    fn b64(value: &Value) -> Vec<u8> {
        B64.decode(value.as_str().unwrap()).unwrap()
    }

    fn version(kind: KeyType, created_at: OffsetDateTime, created_by: Option<&str>) -> KeyVersion {
        KeyVersion {
            key: SecretKey::generate(kind).unwrap(),
            hmac_key: Some(HmacKey::generate().unwrap()),
            created_at,
            created_by: created_by.map(str::to_owned),
        }
    }

    #[test]
    fn stored_key_parse_vectors() {
        let vectors = vectors();
        let cases = vectors["stored_key_parse"].as_array().unwrap();
        assert_eq!(cases.len(), 10);
        for case in cases {
            let source = case["source"].as_str().unwrap();
            let value = case["stored_value_text"].as_str().unwrap().as_bytes();
            let result = KeyVersion::decode(value);
            if case["expected"] == "error" {
                assert!(
                    matches!(result, Err(Error::CorruptKey(_))),
                    "{source}: {result:?}"
                );
                continue;
            }
            let version = result.unwrap_or_else(|err| panic!("{source}: {err}"));
            let kind = KeyType::from_cipher(case["key_type"].as_str().unwrap()).unwrap();
            assert_eq!(version.key.kind(), kind, "{source}");
            assert_eq!(
                version.key.as_bytes().as_slice(),
                b64(&case["key_b64"]),
                "{source}"
            );
            assert_eq!(
                version.hmac_key.is_some(),
                case["has_hmac_key"].as_bool().unwrap(),
                "{source}"
            );
            if let Some(hmac) = case.get("hmac_key_b64") {
                assert_eq!(case["hmac_hash"], "SHA256", "{source}");
                let hmac_key = version.hmac_key.as_ref().unwrap();
                assert_eq!(hmac_key.as_bytes().as_slice(), b64(hmac), "{source}");
            }
            if let Some(created_at) = case.get("created_at") {
                assert_eq!(rfc3339(&version.created_at), *created_at, "{source}");
            }
            if let Some(created_by) = case.get("created_by") {
                let created_by = created_by.as_str().unwrap();
                let expected = Some(created_by).filter(|s| !s.is_empty());
                assert_eq!(version.created_by.as_deref(), expected, "{source}");
            }
            if let Some(hex) = case.get("derived_protobuf_hex") {
                let expected = hex::decode(hex.as_str().unwrap()).unwrap();
                assert_eq!(B64.decode(value).unwrap(), expected, "{source}");
                // What decodes re-encodes to the same bytes.
                assert_eq!(version.encode().unwrap().as_slice(), value, "{source}");
            }
        }
    }

    #[test]
    fn stored_key_encode_vectors() {
        let vectors = vectors();
        let cases = vectors["stored_key_encode"].as_array().unwrap();
        assert_eq!(cases.len(), 3);
        let mut encoded_any = None;
        for case in cases {
            let source = case["source"].as_str().unwrap();
            if let Some(expected) = case.get("expected_stored_value_text") {
                let created_at = go::parse_rfc3339(case["created_at"].as_str().unwrap()).unwrap();
                let kind = KeyType::from_cipher(case["key_type"].as_str().unwrap()).unwrap();
                let hmac_key = b64(&case["hmac_key_b64"]);
                let version = KeyVersion {
                    key: SecretKey::from_bytes(kind, &b64(&case["key_b64"]), "").unwrap(),
                    hmac_key: Some(HmacKey::from_array(hmac_key.as_slice().try_into().unwrap())),
                    created_at,
                    created_by: Some(case["created_by"].as_str().unwrap().to_owned()),
                };
                let encoded = version.encode().unwrap();
                assert_eq!(
                    encoded.as_slice(),
                    expected.as_str().unwrap().as_bytes(),
                    "{source}"
                );
                encoded_any = Some(version);
                continue;
            }
            assert_eq!(case["expected"], "error", "{source}");
            let note = case["note"].as_str().unwrap();
            if note.contains("without HMAC key") {
                let version = encoded_any.take().unwrap();
                let legacy = KeyVersion {
                    hmac_key: None,
                    ..version
                };
                assert!(
                    matches!(legacy.encode(), Err(Error::HmacNotSupported)),
                    "{source}"
                );
            } else {
                // "without secret key": `KeyVersion::key` is not optional, so that value cannot be
                // constructed; the type system is the check.
                assert!(note.contains("without secret key"), "{source}: {note}");
            }
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let times = [
            datetime!(2024-01-12 10:39:20.886816 UTC),
            datetime!(2024-01-12 10:39:20 UTC),
            datetime!(1970-01-01 00:00 UTC),
            datetime!(1969-12-31 23:59:59.999999999 UTC),
            datetime!(0001-01-01 00:00 UTC),
            datetime!(9999-12-31 23:59:59.000000001 UTC),
            OffsetDateTime::now_utc(),
        ];
        for kind in [KeyType::Aes256, KeyType::ChaCha20] {
            for created_at in times {
                for created_by in [None, Some("3ecfcdf38fcbe141ae26a1030f81e96b"), Some("ü")] {
                    let original = version(kind, created_at, created_by);
                    let encoded = original.encode().unwrap();
                    let decoded = KeyVersion::decode(&encoded).unwrap();
                    assert_eq!(decoded.key.kind(), kind);
                    assert_eq!(decoded.key.as_bytes(), original.key.as_bytes());
                    assert_eq!(
                        decoded.hmac_key.as_ref().unwrap().as_bytes(),
                        original.hmac_key.as_ref().unwrap().as_bytes()
                    );
                    assert_eq!(decoded.created_at, created_at);
                    assert_eq!(decoded.created_by.as_deref(), created_by);
                    assert_eq!(*decoded.encode().unwrap(), *encoded);
                }
            }
        }
    }

    #[test]
    fn encoding_layout_matches_go() {
        let mut version = version(KeyType::ChaCha20, datetime!(2024-01-12 10:39:20 UTC), None);
        let raw = B64.decode(version.encode().unwrap().as_slice()).unwrap();
        assert_eq!(raw[..4], [0x0a, 0x24, 0x0a, 0x20]);
        assert_eq!(raw[36..42], [0x10, 0x02, 0x12, 0x24, 0x0a, 0x20]);
        assert_eq!(raw[74..76], [0x10, 0x01]);
        // Whole seconds: no nanos field. No creator: no field 4.
        assert_eq!(raw[76..], [0x1a, 0x06, 0x08, 0xd8, 0xad, 0x84, 0xad, 0x06]);
        // The Unix epoch is an empty but present Timestamp, as Go writes a non-nil zero message.
        version.created_at = OffsetDateTime::UNIX_EPOCH;
        let raw = B64.decode(version.encode().unwrap().as_slice()).unwrap();
        assert_eq!(raw[76..], [0x1a, 0x00]);
    }

    /// A protobuf value assembled field by field, base64-encoded.
    fn stored(fields: &[&[u8]]) -> Vec<u8> {
        B64.encode(fields.concat()).into_bytes()
    }

    fn field(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag, body.len() as u8];
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn protobuf_rules() {
        let key = |len: usize, kind: u8| {
            field(
                0x0a,
                &[&field(0x0a, &vec![1; len])[..], &[0x10, kind]].concat(),
            )
        };
        let hmac = |len: usize, hash: u8| {
            field(
                0x12,
                &[&field(0x0a, &vec![2; len])[..], &[0x10, hash]].concat(),
            )
        };
        let good_key = key(32, 1);
        let good_hmac = hmac(32, 1);

        // No timestamp: the Unix epoch. Unknown fields are skipped, as Go does.
        let unknown = [0x28, 0x07];
        let version = KeyVersion::decode(&stored(&[&good_key, &good_hmac, &unknown])).unwrap();
        assert_eq!(version.created_at, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(version.created_by, None);
        assert_eq!(version.key.as_bytes(), &[1; 32]);
        assert_eq!(version.hmac_key.unwrap().as_bytes(), &[2; 32]);

        // Negative nanos normalise, as time.Unix does.
        let ts = field(0x1a, &[0x08, 0x02, 0x10, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        let version = KeyVersion::decode(&stored(&[&good_key, &good_hmac, &ts])).unwrap();
        assert_eq!(
            rfc3339(&version.created_at),
            "1970-01-01T00:00:01.999999999Z"
        );

        let chacha = KeyVersion::decode(&stored(&[&key(32, 2), &good_hmac])).unwrap();
        assert_eq!(chacha.key.kind(), KeyType::ChaCha20);

        let corrupt: [Vec<u8>; 12] = [
            stored(&[]),
            stored(&[&good_hmac]),
            stored(&[&good_key]),
            stored(&[&key(31, 1), &good_hmac]),
            stored(&[&key(33, 1), &good_hmac]),
            stored(&[&key(32, 0), &good_hmac]),
            stored(&[&key(32, 3), &good_hmac]),
            stored(&[&good_key, &hmac(16, 1)]),
            stored(&[&good_key, &hmac(32, 2)]),
            stored(&[&good_key, &good_hmac, &field(0x22, &[0xff])]),
            stored(&[&good_key, &good_hmac[..good_hmac.len() - 1]]),
            b"!!!!".to_vec(),
        ];
        for value in corrupt {
            let result = KeyVersion::decode(&value);
            assert!(matches!(result, Err(Error::CorruptKey(_))), "{value:?}");
        }
        // Base64 as Go decodes it: newlines skipped, padding required.
        let mut wrapped = stored(&[&good_key, &good_hmac]);
        wrapped.insert(10, b'\n');
        wrapped.extend_from_slice(b"\r\n");
        assert!(KeyVersion::decode(&wrapped).is_ok());
        let unpadded = B64.encode([&good_key[..], &good_hmac[..], &[0x28, 0x07, 0x28]].concat());
        assert!(unpadded.ends_with('='));
        assert!(KeyVersion::decode(unpadded.trim_end_matches('=').as_bytes()).is_err());
    }

    #[test]
    fn mangled_values_never_panic() {
        let vectors = vectors();
        let value = vectors["stored_key_parse"][5]["stored_value_text"]
            .as_str()
            .unwrap()
            .as_bytes()
            .to_vec();
        let raw = B64.decode(&value).unwrap();
        for i in 0..raw.len() {
            let _ = KeyVersion::decode(B64.encode(&raw[..i]).as_bytes());
            for bit in 0..8 {
                let mut flipped = raw.clone();
                flipped[i] ^= 1 << bit;
                let _ = KeyVersion::decode(B64.encode(&flipped).as_bytes());
            }
        }
        for i in 0..value.len() {
            let _ = KeyVersion::decode(&value[..i]);
        }
    }

    #[test]
    fn legacy_json_keys() {
        let bytes = B64.encode([5u8; 32]);
        let decode = |text: String| KeyVersion::decode(text.as_bytes());

        // Field names match case-insensitively; null leaves a field unset; the offset is kept.
        let version = decode(format!(
            r#" {{"Bytes":"{bytes}","ALGORITHM":"ChaCha20","Created_At":"2009-11-10T23:00:00.5+01:00","created_by":null,"extra":{{}}}} "#
        ))
        .unwrap();
        assert_eq!(version.key.kind(), KeyType::ChaCha20);
        assert_eq!(version.key.as_bytes(), &[5; 32]);
        assert!(version.hmac_key.is_none());
        assert_eq!(rfc3339(&version.created_at), "2009-11-10T23:00:00.5+01:00");
        assert_eq!(version.created_by, None);
        assert!(matches!(version.encode(), Err(Error::HmacNotSupported)));

        for (algorithm, kind) in [
            ("", KeyType::Aes256),
            ("AES256", KeyType::Aes256),
            ("AES256-GCM_SHA256", KeyType::Aes256),
            ("ChaCha20", KeyType::ChaCha20),
            ("XCHACHA20-POLY1305", KeyType::ChaCha20),
        ] {
            let version = decode(format!(
                r#"{{"bytes":"{bytes}","algorithm":"{algorithm}","created_at":null}}"#
            ))
            .unwrap();
            assert_eq!(version.key.kind(), kind);
            assert_eq!(rfc3339(&version.created_at), "0001-01-01T00:00:00Z");
        }

        let corrupt = [
            format!(r#"{{"bytes":"{bytes}","algorithm":"aes256"}}"#),
            format!(r#"{{"bytes":"{}"}}"#, B64.encode([5u8; 31])),
            r#"{"algorithm":"AES256"}"#.to_owned(),
            format!(r#"{{"bytes":"{bytes}","created_at":"2009-11-10 23:00:00Z"}}"#),
            format!(r#"{{"bytes":"{bytes}","created_at":5}}"#),
            format!(r#"{{"bytes":"{bytes}","algorithm":1}}"#),
            format!(r#"[{{"bytes":"{bytes}"}}]"#),
            "null".to_owned(),
            "1234".to_owned(),
            r#""AAAA""#.to_owned(),
        ];
        for text in corrupt {
            assert!(
                matches!(decode(text.clone()), Err(Error::CorruptKey(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn debug_shows_no_key_bytes() {
        let bytes = [0xa7u8; 32];
        let version = KeyVersion {
            key: SecretKey::from_array(KeyType::Aes256, &bytes),
            hmac_key: Some(HmacKey::from_array(&bytes)),
            created_at: OffsetDateTime::UNIX_EPOCH,
            created_by: None,
        };
        let wire = proto::SecretKey {
            key: bytes.to_vec(),
            r#type: 1,
        };
        let wire_hmac = proto::HmacKey {
            key: bytes.to_vec(),
            hash: 1,
        };
        let shown = format!("{version:?} {version:#?} {wire:?} {wire_hmac:?}");
        for needle in ["167", "a7", "A7", &B64.encode(bytes)[..8]] {
            assert!(!shown.contains(needle), "{shown}");
        }
        assert!(shown.contains("SecretKey { kind: Aes256 }"), "{shown}");
    }
}
