//! Contexts: the associated data of `generate_key`, `encrypt`, `decrypt` and sealed messages, as
//! opaque bytes or a string map in MinIO's canonical JSON.
//!
//! KES treats a context as bytes. MinIO holds its contexts as `map[string]string` and turns them into
//! JSON with `Context.MarshalText`, and the bindings let callers pass a map too (Python's `dict`, a
//! JavaScript object). Doing that once here means a data key made with a map in any binding opens with
//! the same map in every other one, and with MinIO's bytes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// The context (associated data) a sealed message is bound to. It is the KES context passed to
/// `generate` and `decrypt`, and it goes into the derivation of the message's keys: `open` succeeds
/// only with the bytes `seal` had.
///
/// A string map becomes the canonical JSON MinIO builds for its KES contexts (`internal/kms`
/// `Context.MarshalText`): keys sorted by their bytes, no whitespace, `{}` when empty, and strings
/// escaped as Go's `encoding/json` escapes them with HTML escaping on. So a map used by MinIO and by
/// kesrs gives the same bytes.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Context(Vec<u8>);

impl Context {
    /// The empty context (no bytes; not the same as an empty map, which is `{}`).
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// A context of arbitrary bytes, used as they are.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// A context from a string map, as canonical JSON. A key given twice keeps its last value.
    pub fn from_map<K, V>(map: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        // BTreeMap orders `str` by its bytes, which is Go's `sort.Strings` order.
        let sorted: BTreeMap<String, V> = map
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v))
            .collect();
        let mut out = Vec::with_capacity(2 + sorted.len() * 16);
        out.push(b'{');
        for (i, (key, value)) in sorted.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_string(&mut out, key);
            out.push(b':');
            write_json_string(&mut out, value.as_ref());
        }
        out.push(b'}');
        Self(out)
    }

    /// The context's bytes, as KES sees them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The context's bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl From<&[u8]> for Context {
    fn from(bytes: &[u8]) -> Self {
        Self::from_bytes(bytes)
    }
}

impl From<Vec<u8>> for Context {
    fn from(bytes: Vec<u8>) -> Self {
        Self::from_bytes(bytes)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> From<&BTreeMap<K, V>> for Context {
    fn from(map: &BTreeMap<K, V>) -> Self {
        Self::from_map(map)
    }
}

impl<K: AsRef<str>, V: AsRef<str>, S> From<&HashMap<K, V, S>> for Context {
    fn from(map: &HashMap<K, V, S>) -> Self {
        Self::from_map(map)
    }
}

/// Contexts are not secret (they are associated data, sent to KES in the clear); shown as text.
impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Context")
            .field(&String::from_utf8_lossy(&self.0))
            .finish()
    }
}

/// Writes `s` as a JSON string the way Go's `encoding/json` does with HTML escaping on.
fn write_json_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            // Other controls and the HTML characters as \u00XX; U+2028 and U+2029 as \u202X, since
            // JavaScript treats them as line ends.
            '\u{0}'..='\u{1f}' | '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let code = u32::from(c);
                out.extend_from_slice(b"\\u");
                for shift in [12, 8, 4, 0] {
                    let nibble = usize::try_from((code >> shift) & 0xf).unwrap_or(0);
                    out.push(HEX.get(nibble).copied().unwrap_or(b'0'));
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contexts of minio-client.md section 3.2, byte for byte.
    #[test]
    fn minio_contexts() {
        let empty: [(&str, &str); 0] = [];
        assert_eq!(Context::from_map(empty).as_bytes(), b"{}");
        assert_eq!(
            Context::from_map([("healthcheck", "")]).as_bytes(),
            br#"{"healthcheck":""}"#
        );
        assert_eq!(
            Context::from_map([("project", "x"), ("bkt", "bkt/obj")]).as_bytes(),
            br#"{"bkt":"bkt/obj","project":"x"}"#
        );
        assert_eq!(
            Context::from_map([(".minio.sys", ".minio.sys/config/config.json")]).as_bytes(),
            br#"{".minio.sys":".minio.sys/config/config.json"}"#
        );
    }

    #[test]
    fn strings_are_escaped_as_go_does() {
        let context =
            Context::from_map([("k", "a\"b\\c\nd\re\tf\u{1}g\u{8}h<i>j&k\u{2028}l\u{2029}é")]);
        assert_eq!(
            context.as_bytes(),
            "{\"k\":\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u0008h\\u003ci\\u003ej\\u0026k\\u2028l\\u2029é\"}"
                .as_bytes()
        );
    }

    #[test]
    fn keys_sort_by_bytes_and_the_last_duplicate_wins() {
        let context = Context::from_map([("b", "1"), ("B", "2"), ("a", "3"), ("b", "4")]);
        assert_eq!(context.as_bytes(), br#"{"B":"2","a":"3","b":"4"}"#);
        let map: HashMap<String, String> =
            [("z".into(), "1".into()), ("y".into(), "2".into())].into();
        assert_eq!(Context::from(&map).as_bytes(), br#"{"y":"2","z":"1"}"#);
    }

    #[test]
    fn bytes_are_used_as_they_are() {
        assert_eq!(Context::from(&b"\xff\x00"[..]).as_bytes(), b"\xff\x00");
        assert!(Context::empty().as_bytes().is_empty());
    }

    /// More contexts MinIO sends (minio-client.md 3.2), byte for byte.
    #[test]
    fn more_minio_contexts() {
        let map = |entries: &[(&str, &str)]| Context::from_map(entries.iter().copied());
        assert_eq!(
            map(&[("MinIO admin API", "KMSKeyStatusHandler")]).as_bytes(),
            br#"{"MinIO admin API":"KMSKeyStatusHandler"}"#
        );
        assert_eq!(
            map(&[("bkt", "bkt/obj1")]).as_bytes(),
            br#"{"bkt":"bkt/obj1"}"#
        );
        assert_eq!(
            map(&[("bucket-targets.json", "bucket-targets.json"), ("b", "b")]).as_bytes(),
            br#"{"b":"b","bucket-targets.json":"bucket-targets.json"}"#
        );
        // Go's sort.Strings: upper case before lower, a shorter prefix first, non-ASCII last.
        assert_eq!(
            map(&[("b", "1"), ("a", "2"), ("B", "3"), ("ab", "4"), ("é", "5")]).as_bytes(),
            "{\"B\":\"3\",\"a\":\"2\",\"ab\":\"4\",\"b\":\"1\",\"é\":\"5\"}".as_bytes()
        );
        // DEL, `/` and `'` are written as they are.
        assert_eq!(
            map(&[("k", "\u{7f}/'")]).as_bytes(),
            "{\"k\":\"\u{7f}/'\"}".as_bytes()
        );
    }
}
