//! Contexts (the associated data of `generate_key`, `encrypt` and `decrypt`) built from a string map,
//! byte for byte as MinIO builds them.
//!
//! KES treats a context as opaque bytes. MinIO holds its contexts as `map[string]string` and turns
//! them into JSON with `Context.MarshalText` (`internal/kms/context.go`), and the bindings let callers
//! pass a map too (Python's `dict`, a JavaScript object). Doing that once here means a data key made
//! with a map in any binding opens with the same map in every other one, and with MinIO's bytes.

/// The canonical JSON text of a string map, as MinIO's `Context.MarshalText` writes it: keys sorted
/// by their bytes, no whitespace, `{}` for no entries, and strings escaped as Go's `encoding/json`
/// escapes them with HTML escaping on.
///
/// Entries are taken as given: a key that occurs twice is written twice, so callers pass a map.
pub fn context_from_map<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut entries: Vec<(&str, &str)> = entries.into_iter().collect();
    // Go's sort.Strings compares bytes, as `str`'s `Ord` does.
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(b.1)));
    let mut out = Vec::with_capacity(
        2 + entries
            .iter()
            .map(|(key, value)| key.len() + value.len() + 6)
            .sum::<usize>(),
    );
    out.push(b'{');
    for (index, (key, value)) in entries.iter().enumerate() {
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

/// `s` as a quoted JSON string, escaped as MinIO's `escapeStringJSON` (Go's `encoding/json` with
/// HTML escaping): short escapes for `"`, `\`, `\n`, `\r`, `\t`; `\u00XX` for other controls and for
/// `<`, `>`, `&`; `\u2028` and `\u2029`; everything else, DEL and non-ASCII included, as it is.
/// (Go also writes invalid UTF-8 as `\ufffd`; a `&str` has none.)
fn push_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{0}'..='\u{1f}' | '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes());
            }
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&'static str, &'static str)]) -> Vec<u8> {
        context_from_map(entries.iter().copied())
    }

    /// The contexts MinIO sends, from minio-client.md 3.2, with their bytes as MinIO writes them.
    #[test]
    fn minio_contexts_byte_for_byte() {
        assert_eq!(map(&[]), b"{}");
        assert_eq!(map(&[("healthcheck", "")]), br#"{"healthcheck":""}"#);
        assert_eq!(
            map(&[("MinIO admin API", "KMSKeyStatusHandler")]),
            br#"{"MinIO admin API":"KMSKeyStatusHandler"}"#
        );
        assert_eq!(map(&[("bkt", "bkt/obj1")]), br#"{"bkt":"bkt/obj1"}"#);
        assert_eq!(
            map(&[("project", "x"), ("bkt", "bkt/obj")]),
            br#"{"bkt":"bkt/obj","project":"x"}"#
        );
        assert_eq!(
            map(&[("bucket-targets.json", "bucket-targets.json"), ("b", "b")]),
            br#"{"b":"b","bucket-targets.json":"bucket-targets.json"}"#
        );
    }

    /// Keys sort by bytes (Go's sort.Strings): upper case before lower, shorter prefix first.
    #[test]
    fn keys_sort_by_bytes() {
        assert_eq!(
            map(&[("b", "1"), ("a", "2"), ("B", "3"), ("ab", "4"), ("é", "5")]),
            "{\"B\":\"3\",\"a\":\"2\",\"ab\":\"4\",\"b\":\"1\",\"é\":\"5\"}".as_bytes()
        );
    }

    /// Go's encoding/json escapes with HTML escaping on, as MinIO's copy of it does.
    #[test]
    fn strings_escape_as_go_does() {
        assert_eq!(
            map(&[("k", "\"\\\n\r\t\u{1}\u{1f}<>&\u{7f}é\u{2028}\u{2029}/'")]),
            "{\"k\":\"\\\"\\\\\\n\\r\\t\\u0001\\u001f\\u003c\\u003e\\u0026\u{7f}é\\u2028\\u2029/'\"}"
                .as_bytes()
        );
    }
}
