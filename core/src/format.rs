//! KES's stored-key format (kes-protocol.md section 6), and Go's `time.Time` text.
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

/// Formats a time as Go's `time.Time` JSON encoding does: RFC 3339 with trailing fractional zeros trimmed.
///
/// `Z` stands for a zero UTC offset, any other offset is `±hh:mm`. Go's zero time prints as
/// `0001-01-01T00:00:00Z`.
pub fn rfc3339(t: &OffsetDateTime) -> String {
    let mut out = String::with_capacity(35);
    if t.year() < 0 {
        out.push('-');
    }
    push_padded(&mut out, t.year().unsigned_abs(), 4);
    out.push('-');
    push_padded(&mut out, u8::from(t.month()).into(), 2);
    out.push('-');
    push_padded(&mut out, t.day().into(), 2);
    out.push('T');
    push_padded(&mut out, t.hour().into(), 2);
    out.push(':');
    push_padded(&mut out, t.minute().into(), 2);
    out.push(':');
    push_padded(&mut out, t.second().into(), 2);
    let mut nanos = t.nanosecond();
    if nanos != 0 {
        // Nine digits with the trailing zeros left off.
        let mut digits = 9;
        while nanos % 10 == 0 {
            nanos /= 10;
            digits -= 1;
        }
        out.push('.');
        push_padded(&mut out, nanos, digits);
    }
    // Go prints the offset in whole minutes, truncated toward zero, and `Z` only for offset zero.
    let offset = t.offset().whole_seconds();
    if offset == 0 {
        out.push('Z');
    } else {
        let minutes = offset / 60;
        out.push(if minutes < 0 { '-' } else { '+' });
        let minutes = minutes.unsigned_abs();
        push_padded(&mut out, minutes / 60, 2);
        out.push(':');
        push_padded(&mut out, minutes % 60, 2);
    }
    out
}

/// Appends `value` in decimal, with leading zeros up to `width` digits. Every audit line has a
/// time, so this avoids the formatting machinery.
fn push_padded(out: &mut String, value: u32, width: usize) {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(value);
    out.extend(std::iter::repeat_n('0', width.saturating_sub(digits.len())));
    out.push_str(digits);
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
    use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
    use time::OffsetDateTime;

    use super::{go, KeyVersion};
    use crate::crypto::{KeyType, SecretKey, KEY_LEN};
    use crate::Error;

    /// Go's zero `time.Time`, which a legacy key without `created_at` has.
    const ZERO_TIME: OffsetDateTime = time::macros::datetime!(0001-01-01 00:00 UTC);

    pub(super) fn decode(value: &[u8]) -> Result<KeyVersion, Error> {
        let key: JsonKey =
            serde_json::from_slice(value).map_err(|_| Error::CorruptKey("invalid JSON key"))?;
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

    impl<'de> Deserialize<'de> for JsonKey {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(JsonKeyVisitor)
        }
    }

    struct JsonKeyVisitor;

    impl<'de> Visitor<'de> for JsonKeyVisitor {
        type Value = JsonKey;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a legacy KES key object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = JsonKey::default();
            // Go visits keys in order, so a repeated key (in any spelling) overwrites earlier ones.
            while let Some(key) = map.next_key::<String>()? {
                if go::field_matches(&key, "bytes") {
                    out.bytes = map.next_value()?;
                } else if go::field_matches(&key, "algorithm") {
                    go::set_string(&mut out.algorithm, map.next_value()?);
                } else if go::field_matches(&key, "created_at") {
                    // time.Time leaves itself unchanged for null, like a string.
                    if let Some(text) = map.next_value::<Option<String>>()? {
                        let parsed = go::parse_rfc3339(&text)
                            .ok_or_else(|| de::Error::custom("invalid created_at"))?;
                        out.created_at = Some(parsed);
                    }
                } else if go::field_matches(&key, "created_by") {
                    go::set_string(&mut out.created_by, map.next_value()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(out)
        }
    }
}

/// What Go's standard library did when KES decoded legacy JSON (keys and ciphertexts): the field
/// matching and value rules of `encoding/json`, `base64.StdEncoding`, and `time.Time`'s strict RFC 3339.
pub(crate) mod go {
    use std::fmt;

    use base64::alphabet;
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::DecodePaddingMode;
    use base64::Engine;
    use serde::de::{self, Deserialize, Deserializer, Visitor};
    use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
    use zeroize::Zeroizing;

    /// `base64.StdEncoding`: padding required, but non-zero trailing bits are accepted.
    const STD_ENCODING: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );

    /// Whether encoding/json assigns the JSON object key `key` to the struct field named `field`
    /// (lowercase ASCII).
    ///
    /// Go matches an exact name first, then any name equal under Unicode simple case folding. The
    /// only non-ASCII characters that fold onto ASCII letters are `ſ` (s) and the Kelvin sign (k).
    pub(crate) fn field_matches(key: &str, field: &str) -> bool {
        let mut field = field.chars();
        let all_match = key.chars().all(|c| {
            let folded = match c {
                '\u{17f}' => 's',
                '\u{212a}' => 'k',
                c => c.to_ascii_lowercase(),
            };
            field.next() == Some(folded)
        });
        all_match && field.next().is_none()
    }

    /// Assigns a decoded JSON string to a Go `string` field: `null` leaves the field unchanged.
    pub(crate) fn set_string(field: &mut String, value: Option<String>) {
        if let Some(value) = value {
            *field = value;
        }
    }

    /// `base64.StdEncoding.DecodeString`, which skips `\r` and `\n` anywhere in the input.
    ///
    /// The result may be key material, so it is zeroizing, and so is the copy made to drop newlines.
    pub(crate) fn decode_base64(input: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let newline = |b: &u8| *b == b'\r' || *b == b'\n';
        if !input.iter().any(newline) {
            return STD_ENCODING.decode(input).ok().map(Zeroizing::new);
        }
        // Sized up front: a copy that grew would leave freed pieces of it behind.
        let mut copy = Zeroizing::new(Vec::with_capacity(input.len()));
        copy.extend(input.iter().filter(|b| !newline(b)));
        STD_ENCODING
            .decode(copy.as_slice())
            .ok()
            .map(Zeroizing::new)
    }

    /// A Go `[]byte` field: a base64 string, or `null` for nil.
    ///
    /// Go would also take an array of numbers; no KES version ever wrote one, so it is rejected.
    #[derive(Default)]
    pub(crate) struct Bytes(Option<Zeroizing<Vec<u8>>>);

    impl Bytes {
        /// The bytes, or `None` for nil (null or absent).
        pub(crate) fn as_slice(&self) -> Option<&[u8]> {
            self.0.as_ref().map(|bytes| bytes.as_slice())
        }
    }

    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(BytesVisitor)
        }
    }

    struct BytesVisitor;

    impl Visitor<'_> for BytesVisitor {
        type Value = Bytes;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a base64 string or null")
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<Bytes, E> {
            decode_base64(value.as_bytes())
                .map(|bytes| Bytes(Some(bytes)))
                .ok_or_else(|| E::custom("illegal base64 data"))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Bytes, E> {
            Ok(Bytes(None))
        }

        fn visit_none<E: de::Error>(self) -> Result<Bytes, E> {
            Ok(Bytes(None))
        }
    }

    /// `time.Time.UnmarshalJSON`'s strict RFC 3339: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)`, upper-case
    /// `T` and `Z`, every field in range (no leap second, no hour 24), any number of fraction digits
    /// of which the first nine count. A numeric offset is kept as written.
    ///
    /// (Go does not unescape the JSON string first; no valid timestamp needs escapes, so parsing the
    /// unescaped text only differs for inputs no writer produces.)
    pub(crate) fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
        let s = s.as_bytes();
        let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
        if !separators.iter().all(|&(i, c)| s.get(i) == Some(&c)) {
            return None;
        }
        let year = number(s, 0, 4)?;
        let month = Month::try_from(u8::try_from(number(s, 5, 2)?).ok()?).ok()?;
        let day = u8::try_from(number(s, 8, 2)?).ok()?;
        let hour = u8::try_from(number(s, 11, 2)?).ok()?;
        let minute = u8::try_from(number(s, 14, 2)?).ok()?;
        let second = u8::try_from(number(s, 17, 2)?).ok()?;
        // `Date` checks the day against the month (leap years included), `Time` hour < 24,
        // minute < 60 and second < 60.
        let date = Date::from_calendar_date(i32::try_from(year).ok()?, month, day).ok()?;

        let mut rest = s.get(19..)?;
        let mut nanos = 0u32;
        if rest.first() == Some(&b'.') && rest.get(1).is_some_and(u8::is_ascii_digit) {
            let digits = rest
                .get(1..)?
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            for i in 0..9 {
                let digit = if i < digits {
                    rest.get(1 + i)? - b'0'
                } else {
                    0
                };
                nanos = nanos * 10 + u32::from(digit);
            }
            rest = rest.get(1 + digits..)?;
        }
        let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;

        let offset = match rest {
            b"Z" => UtcOffset::UTC,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let hours = i8::try_from(number(rest, 1, 2)?).ok()?;
                let minutes = i8::try_from(number(rest, 4, 2)?).ok()?;
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let (hours, minutes) = if *sign == b'-' {
                    (-hours, -minutes)
                } else {
                    (hours, minutes)
                };
                UtcOffset::from_hms(hours, minutes, 0).ok()?
            }
            _ => return None,
        };
        Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
    }

    /// The decimal number in `s[at..at + len]`, all ASCII digits.
    fn number(s: &[u8], at: usize, len: usize) -> Option<u32> {
        let digits = s.get(at..at.checked_add(len)?)?;
        digits.iter().try_fold(0u32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD as B64;
    use serde_json::Value;
    use time::macros::datetime;
    use time::UtcOffset;

    use super::*;

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
    fn rfc3339_like_go() {
        let cases = [
            (datetime!(0001-01-01 00:00 UTC), "0001-01-01T00:00:00Z"),
            (
                datetime!(2024-01-12 10:39:20.886816 UTC),
                "2024-01-12T10:39:20.886816Z",
            ),
            (
                datetime!(2024-01-12 10:39:20.100 UTC),
                "2024-01-12T10:39:20.1Z",
            ),
            (
                datetime!(2024-01-12 10:39:20.000000001 UTC),
                "2024-01-12T10:39:20.000000001Z",
            ),
            (
                datetime!(2024-01-12 11:39:20.886816 +01:00),
                "2024-01-12T11:39:20.886816+01:00",
            ),
            (
                datetime!(2009-11-10 18:30:00 -05:30),
                "2009-11-10T18:30:00-05:30",
            ),
            (
                datetime!(2009-11-10 23:00:00 +00:00),
                "2009-11-10T23:00:00Z",
            ),
            (
                datetime!(9999-12-31 23:59:59.999999999 +23:59),
                "9999-12-31T23:59:59.999999999+23:59",
            ),
        ];
        for (time, text) in cases {
            assert_eq!(rfc3339(&time), text);
            assert_eq!(go::parse_rfc3339(text), Some(time), "{text}");
        }
        // Go prints whole minutes of the offset, truncated toward zero.
        let odd =
            datetime!(2000-01-01 00:00 UTC).to_offset(UtcOffset::from_hms(0, 0, -30).unwrap());
        assert_eq!(rfc3339(&odd), "1999-12-31T23:59:30+00:00");
    }

    /// Random times and whole-minute offsets survive formatting and strict parsing, and the text
    /// has Go's shape: no trailing zeros in the fraction, `Z` only for a zero offset.
    #[test]
    fn rfc3339_roundtrips_random_times() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            // 0001-01-01 to 9999-12-31, in seconds from the Unix epoch.
            let seconds = (next() % 315_537_897_600) as i64 - 62_135_596_800;
            let nanos = match next() % 4 {
                0 => 0,
                1 => (next() % 1000) as u32 * 1_000_000,
                _ => (next() % 1_000_000_000) as u32,
            };
            let minutes = (next() % (2 * 1439 + 1)) as i32 - 1439;
            let offset = UtcOffset::from_whole_seconds(minutes * 60).unwrap();
            let utc = OffsetDateTime::from_unix_timestamp(seconds).unwrap()
                + time::Duration::nanoseconds(nanos.into());
            let Some(time) = utc.checked_to_offset(offset) else {
                continue;
            };
            let text = rfc3339(&time);
            assert_eq!(go::parse_rfc3339(&text), Some(time), "{text}");
            assert_eq!(text.ends_with('Z'), minutes == 0, "{text}");
            if let Some((_, fraction)) = text.split_once('.') {
                let digits = fraction.split(|c: char| !c.is_ascii_digit()).next();
                assert!(
                    digits.is_some_and(|d| !d.is_empty() && !d.ends_with('0')),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn strict_rfc3339_parsing() {
        let ok = [
            ("2009-11-10T23:00:00Z", datetime!(2009-11-10 23:00:00 UTC)),
            ("0000-01-01T00:00:00Z", datetime!(0000-01-01 00:00:00 UTC)),
            ("2024-02-29T00:00:00Z", datetime!(2024-02-29 00:00:00 UTC)),
            // More than nine fraction digits: the rest are ignored.
            (
                "2009-11-10T23:00:00.1234567891Z",
                datetime!(2009-11-10 23:00:00.123456789 UTC),
            ),
            (
                "2009-11-10T23:00:00-23:59",
                datetime!(2009-11-10 23:00:00 -23:59),
            ),
        ];
        for (text, time) in ok {
            let parsed = go::parse_rfc3339(text).unwrap();
            assert_eq!(parsed, time, "{text}");
            assert_eq!(parsed.offset(), time.offset(), "{text}");
        }
        let bad = [
            "",
            "2009-11-10T23:00:00",
            "2009-11-10t23:00:00Z",
            "2009-11-10T23:00:00z",
            "2009-11-10 23:00:00Z",
            "2009-11-10T24:00:00Z",
            "2009-11-10T23:60:00Z",
            "2009-11-10T23:00:60Z",
            "2023-02-29T00:00:00Z",
            "2009-00-10T23:00:00Z",
            "2009-11-00T23:00:00Z",
            "2009-11-10T23:00:00.Z",
            "2009-11-10T23:00:00,5Z",
            "2009-11-10T23:00:00+24:00",
            "2009-11-10T23:00:00+01:60",
            "2009-11-10T23:00:00+0100",
            "2009-11-10T23:00:00+01:00:00",
            "2009-11-10T23:00:00ZZ",
            "10000-11-10T23:00:00Z",
            "+009-11-10T23:00:00Z",
            "2009-11-10T3:00:00Z",
            "2009-11-10T23:00:00.5",
            "２009-11-10T23:00:00Z",
        ];
        for text in bad {
            assert_eq!(go::parse_rfc3339(text), None, "{text}");
        }
    }

    #[test]
    fn go_field_matching() {
        assert!(go::field_matches("bytes", "bytes"));
        assert!(go::field_matches("BYTES", "bytes"));
        assert!(go::field_matches("byteſ", "bytes"));
        assert!(go::field_matches("Created_AT", "created_at"));
        assert!(go::field_matches("\u{212a}", "k"));
        assert!(!go::field_matches("byte", "bytes"));
        assert!(!go::field_matches("bytess", "bytes"));
        assert!(!go::field_matches("created-at", "created_at"));
        assert!(!go::field_matches("", "iv"));
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
