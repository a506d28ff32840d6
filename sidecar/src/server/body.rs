//! Request bodies: read with a hard limit, decoded the way Go's `json.NewDecoder(body).Decode` fills
//! KES's request structs (kes-protocol.md 1.6).
//!
//! Go rules kept here: only the first JSON value is read and trailing bytes are ignored; field names
//! match case-insensitively; every occurrence of a known field is decoded, so an invalid one fails
//! the body even when a later duplicate is valid, and the last one wins; unknown fields are only
//! checked for syntax; `[]byte` fields are standard padded base64 (`\r`/`\n` ignored), `null`, or an
//! array of 0-255; `null` leaves a string field as it was; `null` for the whole body is the zero
//! value; an empty body is an error.
//!
//! `[]byte` fields carry plaintexts and keys: they are decoded straight into zeroizing buffers sized
//! up front, never kept as JSON text.

use std::fmt;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Limited};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use zeroize::{Zeroize as _, Zeroizing};

use kesrs_core::json_field_matches;

/// Go's `base64.StdEncoding`: padding required, non-zero trailing bits tolerated.
const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// The body could not be read or decoded. Handlers turn it into their route's 400.
#[derive(Debug)]
pub(crate) struct BadBody;

/// Reads at most `limit` bytes of `body`; a longer body, whatever its framing, is an error.
pub(crate) async fn read_limited<B>(body: B, limit: u64) -> Result<Bytes, BadBody>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let limit = usize::try_from(limit).map_err(|_| BadBody)?;
    let collected = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|_| BadBody)?;
    Ok(collected.to_bytes())
}

/// Reads and discards what is left of `body`, up to `limit` bytes; a longer or failing body is left
/// as it is. Called before a request is answered.
///
/// An HTTP/2 stream answered before its request body was read ends with RST_STREAM(NO_ERROR), and
/// the client's DATA frames already on the way then arrive for a stream h2 may have forgotten (it
/// remembers at most 50 reset streams, for 1 s). h2 answers each such frame with RST_STREAM
/// STREAM_CLOSED and counts it towards `max_local_error_reset_streams`; a connection that reaches the
/// limit is closed with GOAWAY ENHANCE_YOUR_CALM, every request on it lost. A stream whose body was
/// read to its end closes without a reset.
pub(crate) async fn drain<B>(body: &mut B, limit: u64)
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    if body.is_end_stream() || body.size_hint().lower() > limit {
        return;
    }
    let mut read = 0u64;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            read = read.saturating_add(u64::try_from(data.len()).unwrap_or(u64::MAX));
            if read > limit {
                return;
            }
        }
    }
}

/// The type of a request struct's field.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// Go `[]byte`.
    Bytes,
    /// Go `string`.
    String,
}

/// A request struct: its fields' JSON names and types.
pub(crate) type Schema = &'static [(&'static str, Kind)];

/// `ImportKeyRequest`.
pub(crate) const IMPORT: Schema = &[("key", Kind::Bytes), ("cipher", Kind::String)];
/// `EncryptKeyRequest`.
pub(crate) const ENCRYPT: Schema = &[
    ("plaintext", Kind::Bytes),
    ("context", Kind::Bytes),
    ("version", Kind::String),
];
/// `GenerateKeyRequest`.
pub(crate) const GENERATE: Schema = &[("context", Kind::Bytes), ("version", Kind::String)];
/// `DecryptKeyRequest`.
pub(crate) const DECRYPT: Schema = &[
    ("ciphertext", Kind::Bytes),
    ("context", Kind::Bytes),
    ("version", Kind::String),
];
/// `HMACRequest`.
pub(crate) const HMAC: Schema = &[("message", Kind::Bytes), ("version", Kind::String)];

/// A decoded request struct: the value of each field of its schema, zero where absent.
pub(crate) struct Fields {
    schema: Schema,
    values: Vec<Value>,
}

enum Value {
    /// An absent field, `null` or `[]`: Go's zero value of either kind.
    ///
    /// Not an empty `Zeroizing<Vec<u8>>`: wiping one calls `memset` on its dangling pointer with
    /// length 0, and glibc's AVX-512 `memset` answers short lengths with a masked store, which at an
    /// unmapped address costs a microcode assist of hundreds of cycles; under kms-go's decrypt load
    /// that was 1 % of the server's CPU.
    Zero,
    Bytes(Zeroizing<Vec<u8>>),
    String(String),
}

impl Fields {
    /// Decodes the first JSON value of `body`, which must be an object or `null`, into `schema`.
    pub(crate) fn parse(body: &[u8], schema: Schema) -> Result<Self, BadBody> {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        // Deserialized without `end()`: whatever follows the first value is ignored, as in Go.
        let seed = Struct {
            schema,
            max_array_len: body.len() / 2,
        };
        let values = seed.deserialize(&mut deserializer).map_err(|_| BadBody)?;
        Ok(Self { schema, values })
    }

    /// The `[]byte` field `name` of the schema; empty when absent or `null`.
    pub(crate) fn bytes(&self, name: &str) -> &[u8] {
        match self.value(name) {
            Some(Value::Bytes(bytes)) => bytes,
            _ => &[],
        }
    }

    /// The string field `name` of the schema; empty when absent.
    pub(crate) fn string(&self, name: &str) -> &str {
        match self.value(name) {
            Some(Value::String(s)) => s,
            _ => "",
        }
    }

    fn value(&self, name: &str) -> Option<&Value> {
        let index = self.schema.iter().position(|(field, _)| *field == name)?;
        self.values.get(index)
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Field values are plaintexts and keys: show only the names.
        f.debug_list()
            .entries(self.schema.iter().map(|(name, _)| name))
            .finish()
    }
}

/// Decodes a JSON object (or `null`) into the values of a schema's fields.
struct Struct {
    schema: Schema,
    /// No JSON array in the body can be longer (each element takes at least two bytes): no array's
    /// buffer grows past it.
    max_array_len: usize,
}

impl<'de> DeserializeSeed<'de> for Struct {
    type Value = Vec<Value>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Vec<Value>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Struct {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<Value>, E> {
        Ok(zero_values(self.schema))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Value>, A::Error> {
        let mut values = zero_values(self.schema);
        while let Some(key) = map.next_key::<Name<'de>>()? {
            let field = self
                .schema
                .iter()
                .zip(values.iter_mut())
                .find(|((name, _), _)| json_field_matches(key.as_str(), name));
            match field {
                Some(((_, kind), value)) => {
                    let seed = Field {
                        kind: *kind,
                        max_array_len: self.max_array_len,
                    };
                    if let Some(decoded) = map.next_value_seed(seed)? {
                        *value = decoded;
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(values)
    }
}

/// A field name, borrowed from the body unless it holds escapes: serde's own `Cow<str>` always
/// copies, an allocation per field of every request.
enum Name<'de> {
    Borrowed(&'de str),
    Copied(String),
}

impl Name<'_> {
    fn as_str(&self) -> &str {
        match self {
            Self::Borrowed(name) => name,
            Self::Copied(name) => name,
        }
    }
}

impl<'de> de::Deserialize<'de> for Name<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(NameVisitor)
    }
}

struct NameVisitor;

impl<'de> Visitor<'de> for NameVisitor {
    type Value = Name<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E: de::Error>(self, name: &'de str) -> Result<Name<'de>, E> {
        Ok(Name::Borrowed(name))
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Name<'de>, E> {
        Ok(Name::Copied(name.to_owned()))
    }
}

fn zero_values(schema: Schema) -> Vec<Value> {
    schema.iter().map(|_| Value::Zero).collect()
}

/// One occurrence of a field; `None` where Go leaves the field as it was (`null` for a string).
struct Field {
    kind: Kind,
    max_array_len: usize,
}

impl<'de> DeserializeSeed<'de> for Field {
    type Value = Option<Value>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Field {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Bytes => f.write_str("base64, an array of bytes or null"),
            Kind::String => f.write_str("a string or null"),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(match self.kind {
            Kind::Bytes => Some(Value::Zero),
            Kind::String => None,
        })
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        match self.kind {
            Kind::Bytes => decode_base64(s.as_bytes())
                .map(|bytes| Some(Value::Bytes(bytes)))
                .ok_or_else(|| E::custom("invalid base64")),
            Kind::String => Ok(Some(Value::String(s.to_owned()))),
        }
    }

    fn visit_string<E: de::Error>(self, mut s: String) -> Result<Self::Value, E> {
        let value = self.visit_str(&s);
        s.zeroize();
        value
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if let Kind::String = self.kind {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        // No buffer until the first element, and then not an empty one (see `Value::Zero`).
        let mut bytes = None;
        while let Some(byte) = seq.next_element::<Option<u8>>()? {
            // `null` leaves an element at its zero value, as Go does.
            let bytes =
                bytes.get_or_insert_with(|| Zeroizing::new(Vec::with_capacity(MIN_ARRAY_CAPACITY)));
            push_wiped(bytes, byte.unwrap_or(0), self.max_array_len);
        }
        Ok(Some(bytes.map_or(Value::Zero, Value::Bytes)))
    }
}

/// The first buffer of a non-empty byte array: room for a key or a short context before growing.
const MIN_ARRAY_CAPACITY: usize = 64;

/// Appends `byte` to `bytes`, growing by doubling into a fresh buffer and wiping the old one, which
/// `Vec`'s own growth would free unwiped. Each array then costs time in proportion to its length.
/// Reserving the longest array the body can hold up front did not: a body of tens of thousands of
/// `"context":[]` fields reserved, and wiped, half the body for each one.
fn push_wiped(bytes: &mut Zeroizing<Vec<u8>>, byte: u8, max_len: usize) {
    if bytes.len() == bytes.capacity() {
        let capacity = bytes
            .capacity()
            .saturating_mul(2)
            .clamp(MIN_ARRAY_CAPACITY, max_len.max(MIN_ARRAY_CAPACITY));
        let mut grown = Zeroizing::new(Vec::with_capacity(capacity));
        grown.extend_from_slice(bytes);
        // The old buffer is wiped as it is dropped.
        *bytes = grown;
    }
    bytes.push(byte);
}

/// Go's `base64.StdEncoding.Decode`, which skips CR and LF anywhere in the input.
fn decode_base64(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let newline = |b: &u8| *b == b'\r' || *b == b'\n';
    let mut decoded = Zeroizing::new(Vec::with_capacity(text.len() / 4 * 3 + 3));
    let result = if text.iter().any(newline) {
        let mut cleaned = Zeroizing::new(Vec::with_capacity(text.len()));
        cleaned.extend(text.iter().filter(|b| !newline(b)));
        GO_STD.decode_vec(cleaned.as_slice(), &mut decoded)
    } else {
        GO_STD.decode_vec(text, &mut decoded)
    };
    result.ok().map(|()| decoded)
}

#[cfg(test)]
mod tests {
    use http_body::Body as _;
    use http_body_util::Full;

    use super::*;

    const TEST: Schema = &[
        ("plaintext", Kind::Bytes),
        ("context", Kind::Bytes),
        ("key", Kind::Bytes),
        ("cipher", Kind::String),
    ];

    fn parse(body: &[u8]) -> Result<Fields, BadBody> {
        Fields::parse(body, TEST)
    }

    #[test]
    fn go_decoding_rules() {
        let f = parse(br#"{"Plaintext":"AAE=","unknown":[1,{"x":2}]} trailing junk"#).unwrap();
        assert_eq!(f.bytes("plaintext"), &[0, 1]);
        assert_eq!(f.bytes("context"), &[] as &[u8]);

        let f = parse(br#"{"context":"AAE=","CONTEXT":"AgM="}"#).unwrap();
        assert_eq!(f.bytes("context"), &[2, 3]);

        let f = parse(b"{\"plaintext\":\"AA\\r\\nE=\",\"key\":[1,2,255,null]}").unwrap();
        assert_eq!(f.bytes("plaintext"), &[0, 1]);
        assert_eq!(f.bytes("key"), &[1, 2, 255, 0]);

        assert!(parse(b"null").unwrap().bytes("plaintext").is_empty());
        for bad in [&b""[..], b"   ", b"[1]", b"\"x\"", b"{\"a\":"] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        for bad in [
            &br#"{"plaintext":"AAE"}"#[..],
            br#"{"key":[256]}"#,
            br#"{"key":[1.5]}"#,
            br#"{"plaintext":1}"#,
            br#"{"cipher":1}"#,
            br#"{"cipher":["AES256"]}"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let f = parse(br#"{"CIPHER":"AES256"}"#).unwrap();
        assert_eq!(f.string("cipher"), "AES256");
        // Go's folding, kesrs_core::json_field_matches: the Kelvin sign is a k, `İ` is no i.
        let f = parse(
            "{\"\u{212A}ey\":\"AAE=\",\"plaintext\":\"AAE=\",\"pla\u{130}ntext\":\"AgM=\"}"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(f.bytes("key"), &[0, 1]);
        assert_eq!(f.bytes("plaintext"), &[0, 1]);
    }

    /// Found by comparing with Go's decoder and KES's request structs (adversarial testing).
    #[test]
    fn every_occurrence_of_a_known_field_is_checked_and_unknown_fields_only_for_syntax() {
        // Go decodes each duplicate into the field: an invalid one fails the body.
        assert!(parse(br#"{"plaintext":"!!","plaintext":"AAE="}"#).is_err());
        assert!(parse(br#"{"plaintext":true,"plaintext":"AAE="}"#).is_err());
        // `null` sets a []byte to nil, but leaves a string as it was.
        let f = parse(br#"{"plaintext":"AAE=","plaintext":null,"cipher":"AES256","cipher":null}"#)
            .unwrap();
        assert!(f.bytes("plaintext").is_empty());
        assert_eq!(f.string("cipher"), "AES256");
        // Unknown fields are skipped as Go's scanner does: any number, lone surrogates, deep nesting.
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for unknown in [r#""\ud800""#, "1e400", "-0.5e-999", deep.as_str()] {
            let body = format!(r#"{{"x":{unknown},"plaintext":"AAE="}}"#);
            let f = parse(body.as_bytes()).unwrap_or_else(|_| panic!("{body}"));
            assert_eq!(f.bytes("plaintext"), &[0, 1]);
        }
        let mut invalid_utf8 = br#"{"x":""#.to_vec();
        invalid_utf8.extend_from_slice(b"\xff\xfe");
        invalid_utf8.extend_from_slice(br#"","plaintext":"AAE="}"#);
        assert_eq!(parse(&invalid_utf8).unwrap().bytes("plaintext"), &[0, 1]);
        // The schema decides: `version` must be a string where KES's struct has it.
        assert!(Fields::parse(br#"{"version":1}"#, ENCRYPT).is_err());
        assert!(Fields::parse(br#"{"version":"v1"}"#, ENCRYPT).is_ok());
    }

    fn capacity(fields: &Fields, name: &str) -> usize {
        match fields.value(name) {
            Some(Value::Bytes(bytes)) => bytes.capacity(),
            Some(Value::Zero) => 0,
            _ => panic!("{name} is not a []byte field"),
        }
    }

    /// A 999 KB body of 76,844 `"context":[]` fields took 0.72 s of CPU (a normal 1 MB body 0.02 s):
    /// every array reserved half the body, and the buffer it replaced was wiped in full. Decoding
    /// must cost in proportion to the body, so an array reserves about what it holds.
    #[test]
    fn arrays_reserve_what_they_hold_not_the_size_of_the_body() {
        let mut body = String::from("{");
        for _ in 0..20_000 {
            body.push_str(r#""context":[],"#);
        }
        body.push_str(r#""key":[1,2,3],"plaintext":["#);
        body.push_str(&["7"; 1000].join(","));
        body.push_str("]}");
        let f = parse(body.as_bytes()).unwrap();
        assert_eq!(f.bytes("context"), &[] as &[u8]);
        assert_eq!(
            capacity(&f, "context"),
            0,
            "an empty array reserves nothing"
        );
        assert_eq!(f.bytes("key"), &[1, 2, 3]);
        assert_eq!(capacity(&f, "key"), MIN_ARRAY_CAPACITY);
        assert_eq!(f.bytes("plaintext"), &[7; 1000][..]);
        assert!(
            capacity(&f, "plaintext") < 2 * 1000,
            "{}",
            capacity(&f, "plaintext")
        );
    }

    #[tokio::test]
    async fn bodies_are_capped_whatever_their_framing() {
        let ok = read_limited(Full::new(Bytes::from(vec![b'a'; 10])), 10).await;
        assert_eq!(ok.unwrap().len(), 10);
        let too_long = read_limited(Full::new(Bytes::from(vec![b'a'; 11])), 10).await;
        assert!(too_long.is_err());

        // A body of unknown length (chunked) is cut off as soon as it passes the limit.
        assert!(read_limited(Chunks(20), 50).await.is_err());
        assert_eq!(read_limited(Chunks(5), 50).await.unwrap().len(), 20);
    }

    #[tokio::test]
    async fn drain_reads_a_body_to_its_end_up_to_the_limit() {
        let mut short = Chunks(5);
        drain(&mut short, 20).await;
        assert_eq!(short.0, 0, "a body within the limit is read to its end");
        let mut long = Chunks(100);
        drain(&mut long, 20).await;
        assert_eq!(long.0, 94, "reading stops once the limit is passed");
        let mut announced = Full::new(Bytes::from(vec![b'a'; 30]));
        drain(&mut announced, 20).await;
        assert!(
            !announced.is_end_stream(),
            "a body announced longer is not read"
        );
    }

    /// A body of `n` 4-byte frames with no size hint, like a chunked request.
    struct Chunks(usize);

    impl http_body::Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            if self.0 == 0 {
                return std::task::Poll::Ready(None);
            }
            self.0 -= 1;
            std::task::Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(
                b"aaaa",
            )))))
        }
    }
}
