//! Go's `encoding/json`, as KES decoded legacy JSON keys and ciphertexts into structs: how an object
//! key finds its field, and what `null` and a base64 string do to a field.

use std::fmt;

use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use zeroize::Zeroizing;

use super::base64::decode_base64;

/// A Go struct as `encoding/json` fills it from an object.
pub(crate) trait Struct: Default {
    /// What the decoder expected, for its error message.
    const EXPECTING: &'static str;
    /// The fields' names, lowercase ASCII.
    const FIELDS: &'static [&'static str];

    /// Reads the next value of `map` into `field`, one of [`Self::FIELDS`] (any other name only skips
    /// the value).
    fn set<'de, A: MapAccess<'de>>(&mut self, field: &str, map: &mut A) -> Result<(), A::Error>;
}

/// Decodes a JSON object into `T` as `encoding/json` decodes it into a struct: keys are taken in
/// order, so a repeated key (in any spelling) overwrites earlier ones; unknown keys are skipped; only
/// whitespace may follow the object.
pub(crate) fn decode_struct<T: Struct>(input: &[u8]) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(input);
    let value = deserializer.deserialize_map(StructVisitor(PhantomData))?;
    deserializer.end()?;
    Ok(value)
}

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

struct StructVisitor<T>(PhantomData<T>);

impl<'de, T: Struct> Visitor<'de> for StructVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut out = T::default();
        while let Some(key) = map.next_key::<String>()? {
            match T::FIELDS.iter().find(|field| field_matches(&key, field)) {
                Some(field) => out.set(field, &mut map)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_field_matching() {
        assert!(field_matches("bytes", "bytes"));
        assert!(field_matches("BYTES", "bytes"));
        assert!(field_matches("byteſ", "bytes"));
        assert!(field_matches("Created_AT", "created_at"));
        assert!(field_matches("\u{212a}", "k"));
        assert!(!field_matches("byte", "bytes"));
        assert!(!field_matches("bytess", "bytes"));
        assert!(!field_matches("created-at", "created_at"));
        assert!(!field_matches("", "iv"));
    }
}
