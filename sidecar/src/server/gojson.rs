//! JSON exactly as Go's `encoding/json` writes it (kes-protocol.md 1.6).
//!
//! MinIO compares error messages byte for byte and KES echoes user input into them, so string escaping
//! must match Go's: `<`, `>` and `&` become `\u003c`, `\u003e`, `\u0026`, U+2028/U+2029 are escaped, and
//! control characters use Go's short escapes (`\b`, `\f`, `\n`, `\r`, `\t`) or `\u00XX` in lowercase hex.
//! Objects are written field by field in declaration order, so no serializer decides the order.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use zeroize::Zeroizing;

/// Appends `s` as a Go-JSON string literal, quotes included.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Runs that need no escape are found by `run_end` and copied whole: every audit line goes
    // through here, and almost nothing in one needs escaping. A run ends before an ASCII byte that
    // may need an escape or before 0xE2, the first byte of U+2028 and U+2029: both char boundaries.
    let mut rest = s;
    while let Some((run, tail)) = run_end(rest.as_bytes()).and_then(|at| rest.split_at_checked(at))
    {
        out.push_str(run);
        let mut chars = tail.chars();
        match chars.next() {
            Some(c) if needs_escape(c) => write_escape(out, c),
            Some(c) => out.push(c),
            None => {}
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
    out.push('"');
}

/// Where the first byte that ends a run is, if any.
///
/// Sixteen bytes at a time, without a branch per byte: the strings of an audit line (times, paths,
/// identities) rarely hold one, and testing byte by byte took about 9 instructions per byte.
fn run_end(bytes: &[u8]) -> Option<usize> {
    const CHUNK: usize = 16;
    // Every byte indexes the 256-entry table: the fallback is never taken.
    let ends = |b: &u8| RUN_ENDS.get(usize::from(*b)).copied().unwrap_or(true);
    let mut chunks = bytes.chunks_exact(CHUNK);
    let mut start = 0;
    for chunk in &mut chunks {
        if chunk.iter().fold(false, |found, b| found | ends(b)) {
            break;
        }
        start += CHUNK;
    }
    let rest = bytes.get(start..)?;
    rest.iter().position(ends).map(|at| start + at)
}

/// The bytes that end a run, as a table: one load per byte, where testing the ranges took about
/// four times the instructions.
#[allow(clippy::indexing_slicing)] // `byte` < 256 by the loop's bound; `get_mut` is not const.
static RUN_ENDS: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < table.len() {
        table[byte] = matches!(
            byte as u8,
            b'"' | b'\\' | b'<' | b'>' | b'&' | 0x00..=0x1f | 0xe2
        );
        byte += 1;
    }
    table
};

fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '"' | '\\' | '<' | '>' | '&' | '\u{0}'..='\u{1f}' | '\u{2028}' | '\u{2029}'
    )
}

fn write_escape(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{2028}' => out.push_str("\\u2028"),
        '\u{2029}' => out.push_str("\\u2029"),
        c => {
            let b = c as u32;
            out.push_str("\\u00");
            // Go writes lowercase hex digits; from_digit below 16 always succeeds.
            out.push(char::from_digit((b >> 4) & 0xf, 16).unwrap_or('0'));
            out.push(char::from_digit(b & 0xf, 16).unwrap_or('0'));
        }
    }
}

/// A Go-JSON string literal.
pub(crate) fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_str(&mut out, s);
    out
}

/// Builds one JSON object, field by field, in the order Go's struct declares them.
#[derive(Debug)]
pub(crate) struct Object {
    buf: String,
    empty: bool,
}

impl Object {
    pub(crate) fn new() -> Self {
        Self::with_capacity(64)
    }

    /// An object whose text is expected to be about `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let mut buf = String::with_capacity(capacity);
        buf.push('{');
        Self { buf, empty: true }
    }

    /// A string field.
    pub(crate) fn str(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        write_str(&mut self.buf, value);
        self
    }

    /// A string field with Go's `omitempty`: left out when empty.
    pub(crate) fn str_omitempty(self, key: &str, value: &str) -> Self {
        if value.is_empty() {
            self
        } else {
            self.str(key, value)
        }
    }

    /// A `[]byte` field: standard base64 with padding.
    pub(crate) fn bytes(mut self, key: &str, value: &[u8]) -> Self {
        self.key(key);
        self.buf.push('"');
        STANDARD.encode_string(value, &mut self.buf);
        self.buf.push('"');
        self
    }

    /// An integer field.
    pub(crate) fn int(mut self, key: &str, value: impl itoa::Integer) -> Self {
        self.key(key);
        self.buf.push_str(itoa::Buffer::new().format(value));
        self
    }

    /// A bool field.
    pub(crate) fn bool(mut self, key: &str, value: bool) -> Self {
        self.key(key);
        self.buf.push_str(if value { "true" } else { "false" });
        self
    }

    /// A `[]string` field; written as `[]` when empty (KES's lists are never nil).
    pub(crate) fn strings<'a>(
        mut self,
        key: &str,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        self.key(key);
        self.buf.push('[');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            write_str(&mut self.buf, value);
        }
        self.buf.push(']');
        self
    }

    /// A `map[string]struct{}` field with `omitempty`: `{"a":{},"b":{}}`, keys sorted, left out when empty.
    pub(crate) fn set_omitempty<'a>(
        mut self,
        key: &str,
        values: impl IntoIterator<Item = &'a String>,
    ) -> Self {
        let mut values: Vec<&String> = values.into_iter().collect();
        if values.is_empty() {
            return self;
        }
        values.sort();
        self.key(key);
        self.buf.push('{');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            write_str(&mut self.buf, value);
            self.buf.push_str(":{}");
        }
        self.buf.push('}');
        self
    }

    /// An object field, written in place by `fields`.
    pub(crate) fn object(mut self, key: &str, fields: impl FnOnce(Self) -> Self) -> Self {
        self.key(key);
        self.buf.push('{');
        let inner = fields(Self {
            buf: std::mem::take(&mut self.buf),
            empty: true,
        });
        self.buf = inner.finish();
        self
    }

    /// The object, without a trailing newline.
    pub(crate) fn finish(mut self) -> String {
        self.buf.push('}');
        self.buf
    }

    /// The object followed by `\n`, as Go's `json.Encoder.Encode` writes it.
    pub(crate) fn finish_line(self) -> String {
        let mut s = self.finish();
        s.push('\n');
        s
    }

    fn key(&mut self, key: &str) {
        if !self.empty {
            self.buf.push(',');
        }
        self.empty = false;
        write_str(&mut self.buf, key);
        self.buf.push(':');
    }
}

/// A JSON line of `[]byte` fields only, for the responses that carry key material (data keys,
/// plaintexts). It is written into one allocation of exactly its size, so no growing buffer leaves a
/// copy behind, base64 goes straight into it, and it is wiped when dropped. `fields` are
/// `(name, value)`; names are plain identifiers that need no escaping.
pub(crate) fn secret_line(fields: &[(&'static str, &[u8])]) -> Zeroizing<Vec<u8>> {
    // `{` `}` `\n`, a comma between fields, and `"name":"value"` for each.
    let len = 3
        + fields.len().saturating_sub(1)
        + fields
            .iter()
            .map(|(name, value)| name.len() + 5 + base64_len(value))
            .sum::<usize>();
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    out.push(b'{');
    for (i, (name, value)) in fields.iter().enumerate() {
        debug_assert!(!name.bytes().any(|b| needs_escape(char::from(b))));
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":\"");
        let start = out.len();
        out.resize(start + base64_len(value), 0);
        if let Some(slot) = out.get_mut(start..) {
            let written = STANDARD.encode_slice(value, slot);
            debug_assert_eq!(written.ok(), Some(slot.len()));
        }
        out.push(b'"');
    }
    out.extend_from_slice(b"}\n");
    debug_assert_eq!(out.len(), len);
    out
}

/// The length of `value` in padded standard base64.
fn base64_len(value: &[u8]) -> usize {
    value.len().div_ceil(3) * 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_lines_fill_exactly_one_allocation() {
        for (plaintext, ciphertext) in [(&[][..], &[][..]), (&[7; 32][..], &[1; 61][..])] {
            let line = secret_line(&[("plaintext", plaintext), ("ciphertext", ciphertext)]);
            let expected = Object::new()
                .bytes("plaintext", plaintext)
                .bytes("ciphertext", ciphertext)
                .finish_line();
            assert_eq!(line.as_slice(), expected.as_bytes());
            assert_eq!(line.capacity(), line.len(), "no growth, so no stale copy");
        }
        assert_eq!(
            secret_line(&[("p", b"ab")]).as_slice(),
            b"{\"p\":\"YWI=\"}\n"
        );
        assert_eq!(secret_line(&[]).as_slice(), b"{}\n");
    }

    #[test]
    fn escapes_like_go() {
        assert_eq!(string("hel<lo"), r#""hel\u003clo""#);
        assert_eq!(string("a>b&c"), r#""a\u003eb\u0026c""#);
        assert_eq!(string("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        assert_eq!(string("\"\\/"), r#""\"\\/""#);
        assert_eq!(string("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(string("\u{0}\u{1f}\u{7f}"), "\"\\u0000\\u001f\u{7f}\"");
        assert_eq!(string("ü€😀"), "\"ü€😀\"");
        assert_eq!(
            string("a\u{2028}b<\u{0}€\u{2029}"),
            r#""a\u2028b\u003c\u0000€\u2029""#
        );
        assert_eq!(string("<"), r#""\u003c""#);
        assert_eq!(string(""), r#""""#);
        // Escapes on each side of the 16-byte chunks the scan reads at a time.
        for len in [15, 16, 17, 31, 32, 33, 48] {
            for at in [0, 1, len / 2, len - 2, len - 1] {
                let mut text = "a".repeat(len);
                text.replace_range(at..=at, "<");
                let expected = format!("\"{}\\u003c{}\"", &text[..at], &text[at + 1..]);
                assert_eq!(string(&text), expected, "{len} {at}");
            }
        }
    }

    /// Against an independent oracle: serde_json's escaping plus the five characters Go escapes too.
    #[test]
    fn escapes_random_strings_like_go() {
        const ALPHABET: &[char] = &[
            'a', 'Z', '0', ' ', '/', '"', '\\', '<', '>', '&', '\n', '\r', '\t', '\u{0}', '\u{8}',
            '\u{c}', '\u{1f}', '\u{7f}', 'é', '€', '\u{2027}', '\u{2028}', '\u{2029}', '\u{202a}',
            '😀',
        ];
        let oracle = |s: &str| {
            serde_json::to_string(s)
                .unwrap()
                .replace('<', "\\u003c")
                .replace('>', "\\u003e")
                .replace('&', "\\u0026")
                .replace('\u{2028}', "\\u2028")
                .replace('\u{2029}', "\\u2029")
        };
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..5000 {
            // xorshift64: a reproducible sequence without a dependency.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = usize::try_from(seed % 12).unwrap();
            let text: String = (0..len)
                .map(|i| {
                    let pick = (seed >> (i * 5)) % ALPHABET.len() as u64;
                    ALPHABET[usize::try_from(pick).unwrap()]
                })
                .collect();
            assert_eq!(string(&text), oracle(&text), "{text:?}");
        }
    }

    #[test]
    fn objects_keep_field_order_and_go_shapes() {
        let json = Object::new()
            .str("name", "k")
            .str_omitempty("created_by", "")
            .bytes("plaintext", &[0, 1, 2, 3])
            .bytes("empty", &[])
            .int("n", 5u64)
            .bool("admin", true)
            .strings("names", [])
            .set_omitempty("deny", &Vec::new())
            .set_omitempty("allow", &["/v1/b".to_owned(), "/v1/a".to_owned()])
            .object("empty_object", |o| o)
            .object("nested", |o| {
                o.int("big", u128::MAX)
                    .object("inner", |o| o.int("i", -1i32))
            })
            .finish_line();
        assert_eq!(
            json,
            "{\"name\":\"k\",\"plaintext\":\"AAECAw==\",\"empty\":\"\",\"n\":5,\"admin\":true,\
             \"names\":[],\"allow\":{\"/v1/a\":{},\"/v1/b\":{}},\"empty_object\":{},\
             \"nested\":{\"big\":340282366920938463463374607431768211455,\"inner\":{\"i\":-1}}}\n"
        );
    }
}
