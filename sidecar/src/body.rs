//! Request bodies: read with a hard limit, decoded the way Go's `json.NewDecoder(body).Decode` does.
//!
//! Go rules kept here (kes-protocol.md 1.6): only the first JSON value is read and trailing bytes are
//! ignored; unknown fields are ignored; field names match case-insensitively and the last duplicate wins;
//! `[]byte` fields are standard padded base64 (`\r`/`\n` ignored), `null`, or an array of 0-255;
//! `null` for the whole body decodes to the zero value; an empty body is an error.

use std::fmt;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Limited};
use serde::de::{self, MapAccess, Visitor};
use serde_json::Value;
use zeroize::Zeroizing;

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

/// The fields of the first JSON value of a body, in order, with their names as sent.
pub(crate) struct Fields(Vec<(String, Value)>);

impl Fields {
    /// Decodes the first JSON value of `body`, which must be an object or `null`.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, BadBody> {
        let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<ObjectOrNull>();
        match stream.next() {
            Some(Ok(ObjectOrNull(fields))) => Ok(Self(fields)),
            _ => Err(BadBody),
        }
    }

    /// A `[]byte` field; absent and `null` are empty, as KES treats a nil slice.
    pub(crate) fn bytes(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, BadBody> {
        match self.last(name) {
            None | Some(Value::Null) => Ok(Zeroizing::new(Vec::new())),
            Some(Value::String(s)) => {
                // Go's base64 decoder skips CR and LF anywhere in the input.
                let cleaned: Zeroizing<Vec<u8>> =
                    Zeroizing::new(s.bytes().filter(|b| *b != b'\r' && *b != b'\n').collect());
                GO_STD
                    .decode(cleaned.as_slice())
                    .map(Zeroizing::new)
                    .map_err(|_| BadBody)
            }
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_u64()
                        .and_then(|n| u8::try_from(n).ok())
                        .ok_or(BadBody)
                })
                .collect::<Result<Vec<u8>, BadBody>>()
                .map(Zeroizing::new),
            Some(_) => Err(BadBody),
        }
    }

    /// A string field; absent and `null` are empty.
    pub(crate) fn string(&self, name: &str) -> Result<String, BadBody> {
        match self.last(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(BadBody),
        }
    }

    /// The value of the last field whose name equals `name` ignoring case, as Go's decoder picks it.
    fn last(&self, name: &str) -> Option<&Value> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| fold_eq(key, name))
            .map(|(_, value)| value)
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Field values are plaintexts and keys: show only the names.
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

/// Case-insensitive comparison as Go's `bytes.EqualFold` (simple Unicode folding for the cases that
/// matter: ASCII, the Kelvin sign and the long s).
fn fold_eq(a: &str, b: &str) -> bool {
    fn fold(c: char) -> char {
        match c {
            '\u{212A}' => 'k',
            '\u{17F}' => 's',
            c => c.to_lowercase().next().unwrap_or(c),
        }
    }
    a.chars().map(fold).eq(b.chars().map(fold))
}

/// A JSON object read in order (duplicates kept), or `null` as an empty object.
struct ObjectOrNull(Vec<(String, Value)>);

impl<'de> de::Deserialize<'de> for ObjectOrNull {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ObjectOrNull;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_unit<E: de::Error>(self) -> Result<ObjectOrNull, E> {
                Ok(ObjectOrNull(Vec::new()))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ObjectOrNull, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    fields.push(entry);
                }
                Ok(ObjectOrNull(fields))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::Full;

    use super::*;

    #[test]
    fn go_decoding_rules() {
        let f =
            Fields::parse(br#"{"Plaintext":"AAE=","unknown":[1,{"x":2}]} trailing junk"#).unwrap();
        assert_eq!(f.bytes("plaintext").unwrap().as_slice(), &[0, 1]);
        assert_eq!(f.bytes("context").unwrap().as_slice(), &[] as &[u8]);

        let f = Fields::parse(br#"{"context":"AAE=","CONTEXT":"AgM="}"#).unwrap();
        assert_eq!(f.bytes("context").unwrap().as_slice(), &[2, 3]);

        let f = Fields::parse(b"{\"message\":\"AA\\r\\nE=\",\"key\":[1,2,255]}").unwrap();
        assert_eq!(f.bytes("message").unwrap().as_slice(), &[0, 1]);
        assert_eq!(f.bytes("key").unwrap().as_slice(), &[1, 2, 255]);

        assert!(Fields::parse(b"null")
            .unwrap()
            .bytes("x")
            .unwrap()
            .is_empty());
        assert!(Fields::parse(b"").is_err());
        assert!(Fields::parse(b"   ").is_err());
        assert!(Fields::parse(b"[1]").is_err());
        assert!(Fields::parse(b"\"x\"").is_err());
        assert!(Fields::parse(b"{\"a\":").is_err());

        let f = Fields::parse(br#"{"plaintext":"AAE","n":[256],"s":1,"cipher":"AES256"}"#).unwrap();
        assert!(f.bytes("plaintext").is_err(), "padding is required");
        assert!(f.bytes("n").is_err());
        assert!(f.bytes("s").is_err());
        assert!(f.string("s").is_err());
        assert_eq!(f.string("CIPHER").unwrap(), "AES256");
        assert!(fold_eq("\u{212A}ey", "key"));
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
