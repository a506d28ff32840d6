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

/// Whether Go's encoding/json assigns the JSON object key `key` to the struct field named `field`,
/// an ASCII name (as all of KES's are). The one home of this rule: KES's stored keys and ciphertexts
/// (here) and its request bodies (the sidecar) are decoded with it.
///
/// Go matches an exact name first, then any name equal under simple Unicode case folding
/// (`foldName`: each character becomes the smallest of its `unicode.SimpleFold` orbit). Against an
/// ASCII name that is ASCII case plus two characters, the only non-ASCII ones whose orbit holds an
/// ASCII letter: `ſ` (U+017F) folds with `s` and the Kelvin sign `K` (U+212A) with `k`. Any other
/// character matches only itself: `İ` (U+0130) lowercases to `i` plus a dot but is not `i`.
pub fn json_field_matches(key: &str, field: &str) -> bool {
    fn fold(c: char) -> char {
        match c {
            '\u{17f}' => 's',
            '\u{212a}' => 'k',
            c => c.to_ascii_lowercase(),
        }
    }
    // Clients send the names as KES writes them: compare the bytes before folding each char.
    key == field || key.chars().map(fold).eq(field.chars().map(fold))
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
            match T::FIELDS
                .iter()
                .find(|field| json_field_matches(&key, field))
            {
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

    /// encoding/json's answers (go1.26: `json.Unmarshal` of `{KEY:"v"}` into a struct whose fields
    /// are tagged with these names), and Go's `unicode.SimpleFold` orbits: U+017F and U+212A are the
    /// only non-ASCII characters that fold with an ASCII letter.
    #[test]
    fn go_field_matching() {
        for (key, field, go) in [
            ("key", "key", true),
            ("KEY", "key", true),
            ("\u{212a}ey", "key", true),
            ("\u{212a}EY", "key", true),
            ("ma\u{17f}k", "mask", true),
            ("MA\u{17f}K", "mask", true),
            ("s\u{212a}", "sk", true),
            ("\u{17f}\u{212a}", "sk", true),
            ("ID", "id", true),
            ("\u{130}d", "id", false),
            ("\u{131}d", "id", false),
            ("k\u{435}y", "key", false),
            ("ke", "key", false),
            ("keyy", "key", false),
            ("Created_AT", "created_at", true),
            ("created-at", "created_at", false),
            ("", "iv", false),
        ] {
            assert_eq!(
                json_field_matches(key, field),
                go,
                "{key:?} for field {field:?}"
            );
        }
    }
}
