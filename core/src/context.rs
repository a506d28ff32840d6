//! Contexts given as string maps, turned into the associated-data bytes MinIO would send for them.
//!
//! KES treats a context as opaque bytes. MinIO builds them from a string map with
//! `internal/kms/context.go` `Context.MarshalText`: JSON with sorted keys, no whitespace, and Go's
//! `encoding/json` escaping with HTML escaping on. The bindings accept maps too (a Node
//! `Record<string, string>`, a Python `dict`), and must produce the same bytes as MinIO, and as each
//! other, or a data key made in one place would not decrypt in another. So the rule lives here, once.

use std::collections::BTreeMap;

/// The associated data MinIO makes of the string map `entries`: `{"k":"v",...}` with the keys sorted
/// by their bytes, no whitespace, and `{}` for no entries. A key given twice keeps its last value, as
/// inserting into a map would.
///
/// Escaping is MinIO's (a copy of Go's `encoding/json` string encoder): `"` and `\` and the controls
/// `\n` `\r` `\t` get short escapes; other controls, `<`, `>`, `&`, U+2028 and U+2029 become `\u00XX`
/// style escapes; all other text passes through as UTF-8.
pub fn context_from_map<K, V>(entries: impl IntoIterator<Item = (K, V)>) -> Vec<u8>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let entries: Vec<(K, V)> = entries.into_iter().collect();
    // `str`'s order is byte order, as Go's `sort.Strings`; inserting in order lets the last value win.
    let mut sorted = BTreeMap::new();
    for (key, value) in &entries {
        sorted.insert(key.as_ref(), value.as_ref());
    }

    let mut out = Vec::with_capacity(2 + sorted.len() * 16);
    out.push(b'{');
    for (index, (key, value)) in sorted.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        push_json_string(&mut out, key);
        out.push(b':');
        push_json_string(&mut out, value);
    }
    out.push(b'}');
    out
}

/// Appends `s` as a JSON string the way MinIO's `escapeStringJSON` writes it.
fn push_json_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{0}'..='\u{1f}' | '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let code = u32::from(c);
                out.extend_from_slice(b"\\u");
                for shift in [12, 8, 4, 0] {
                    // A nibble indexes a 16-entry table: `& 0xf` keeps it in range.
                    let nibble = ((code >> shift) & 0xf) as usize;
                    out.push(HEX.get(nibble).copied().unwrap_or(b'0'));
                }
            }
            _ => {
                let mut utf8 = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Contexts MinIO makes (its `Context.MarshalText`), byte for byte.
    #[test]
    fn minio_contexts() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(context_from_map(none), b"{}");
        assert_eq!(
            context_from_map([("healthcheck", "")]),
            br#"{"healthcheck":""}"#
        );
        assert_eq!(
            context_from_map([("project", "x"), ("bkt", "bkt/obj")]),
            br#"{"bkt":"bkt/obj","project":"x"}"#
        );
        let map: HashMap<String, String> = [
            (
                "bucket-targets.json".to_owned(),
                "bucket-targets.json".to_owned(),
            ),
            ("Bkt".to_owned(), "Bkt".to_owned()),
            ("a".to_owned(), "1".to_owned()),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            context_from_map(&map),
            br#"{"Bkt":"Bkt","a":"1","bucket-targets.json":"bucket-targets.json"}"#
        );
    }

    /// Go's encoder with HTML escaping, as MinIO copied it (before Go 1.22 added `\b` and `\f`).
    #[test]
    fn escapes_as_go_encoding_json() {
        assert_eq!(
            context_from_map([("q\"b\\", "<a&b>\n\r\t\u{8}\u{c}\u{1f}\u{2028}\u{2029}é😀")]),
            "{\"q\\\"b\\\\\":\"\\u003ca\\u0026b\\u003e\\n\\r\\t\\u0008\\u000c\\u001f\\u2028\\u2029é😀\"}"
                .as_bytes()
        );
    }

    #[test]
    fn keys_sort_by_bytes_and_the_last_value_wins() {
        assert_eq!(
            context_from_map([("é", "1"), ("z", "2"), ("Z", "3"), ("z", "4")]),
            r#"{"Z":"3","z":"4","é":"1"}"#.as_bytes()
        );
    }
}
