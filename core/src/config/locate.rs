//! Finds the line of a field in the YAML text, for error messages.
//!
//! serde_yaml_ng reports positions only for its own errors, not for the values that validation rejects
//! later, so this module re-reads the text for keys. It understands block mappings and sequences (the
//! style every KES config uses) and skips block scalars and multi-line values. Inside flow collections
//! (`{...}`, `[...]`) it gives the line of the key that holds the collection. Anything it cannot place
//! gets no line, never a wrong one it could know to be wrong.

/// One step of a field path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    /// A mapping key.
    Key(String),
    /// A position in a sequence, from 0.
    Index(usize),
}

/// The 1-based line of the field at `path` in the first YAML document of `text`.
pub(super) fn line_of(text: &str, path: &[Segment]) -> Option<usize> {
    let entries = index(text);
    if let Some(entry) = entries.iter().find(|entry| entry.path == path) {
        return Some(entry.line);
    }
    // Inside a one-line flow collection the field is on the line of the key that holds it.
    entries
        .iter()
        .filter(|entry| entry.flow && path.starts_with(&entry.path))
        .max_by_key(|entry| entry.path.len())
        .map(|entry| entry.line)
}

/// A key or sequence item found in the text.
#[derive(Debug)]
struct Entry {
    path: Vec<Segment>,
    line: usize,
    /// Whether its value is a flow collection starting on the same line.
    flow: bool,
}

/// An open mapping key or sequence item, with the column it starts at.
#[derive(Debug)]
struct Frame {
    column: usize,
    segment: Segment,
    is_item: bool,
    /// How many sequence items have been seen directly under this frame.
    items: usize,
}

#[derive(Debug, Default)]
struct Indexer {
    stack: Vec<Frame>,
    entries: Vec<Entry>,
    /// Lines indented deeper than this column continue a value (a block scalar, a multi-line plain or
    /// quoted scalar, or a flow collection) and hold no keys.
    skip_deeper_than: Option<usize>,
}

fn index(text: &str) -> Vec<Entry> {
    let mut indexer = Indexer::default();
    let mut seen_content = false;
    for (number, line) in text.lines().enumerate() {
        let content = line.trim_start_matches(' ');
        let column = line.len() - content.len();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if let Some(limit) = indexer.skip_deeper_than {
            if column > limit {
                continue;
            }
            indexer.skip_deeper_than = None;
        }
        if column == 0 && (is_marker(content, "---") || is_marker(content, "...")) {
            if seen_content {
                break; // Only the first document counts.
            }
            continue;
        }
        if column == 0 && content.starts_with('%') {
            continue; // A directive.
        }
        seen_content = true;
        indexer.scan(content, column, number + 1);
    }
    indexer.entries
}

impl Indexer {
    fn scan(&mut self, content: &str, column: usize, line: usize) {
        if let Some(rest) = content.strip_prefix('-') {
            if rest.is_empty() || rest.starts_with(' ') {
                self.item(rest, column, line);
                return;
            }
        }
        let Some((key, value)) = split_key(content) else {
            return;
        };
        while self.stack.last().is_some_and(|top| top.column >= column) {
            self.stack.pop();
        }
        self.stack.push(Frame {
            column,
            segment: Segment::Key(key),
            is_item: false,
            items: 0,
        });
        let value = strip_comment(value.trim_start_matches(' '));
        self.push_entry(line, value.starts_with(['{', '[']));
        // A value on the key's line means deeper lines only continue it: block scalars, multi-line
        // scalars and flow collections. Only an anchor or a tag may precede a nested block.
        if !value.is_empty() && !is_node_property(value) {
            self.skip_deeper_than = Some(column);
        }
    }

    /// A `- ` sequence item at `column`; `rest` is what follows the dash.
    fn item(&mut self, rest: &str, column: usize, line: usize) {
        // A sequence may sit at its parent key's column (`keys:` then `- name: x`), so only deeper
        // frames and earlier items at the same column close here.
        while self
            .stack
            .last()
            .is_some_and(|top| top.column > column || (top.column == column && top.is_item))
        {
            self.stack.pop();
        }
        let Some(parent) = self.stack.last_mut() else {
            return; // A top-level sequence is not a config file; there is nothing to place.
        };
        let index = parent.items;
        parent.items += 1;
        self.stack.push(Frame {
            column,
            segment: Segment::Index(index),
            is_item: true,
            items: 0,
        });
        let value = rest.trim_start_matches(' ');
        let value_column = column + 1 + (rest.len() - value.len());
        let value = strip_comment(value);
        self.push_entry(line, value.starts_with(['{', '[']));
        if value.is_empty() || is_node_property(value) {
            return;
        }
        let before = self.entries.len();
        self.scan(value, value_column, line);
        if self.entries.len() == before {
            // A scalar or flow item: deeper lines continue it.
            self.skip_deeper_than = Some(column);
        }
    }

    fn push_entry(&mut self, line: usize, flow: bool) {
        let path = self
            .stack
            .iter()
            .map(|frame| frame.segment.clone())
            .collect();
        self.entries.push(Entry { path, line, flow });
    }
}

/// `---` or `...` alone or followed by a space.
fn is_marker(content: &str, marker: &str) -> bool {
    content
        .strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// An anchor (`&a`) or tag (`!t`) with nothing after it on the line.
fn is_node_property(value: &str) -> bool {
    value.starts_with(['&', '!']) && !value.contains(' ')
}

/// Removes a trailing ` # comment` (a `#` after whitespace). Good enough for deciding whether a value
/// is present; quoted values containing ` #` still count as present.
fn strip_comment(value: &str) -> &str {
    if value.starts_with('#') {
        return "";
    }
    match value.find(" #") {
        Some(at) => value.get(..at).unwrap_or(value).trim_end(),
        None => value.trim_end(),
    }
}

/// Splits `key: value` into the key (unquoted) and the text after the colon.
fn split_key(content: &str) -> Option<(String, &str)> {
    let (key, after_key) = match content.chars().next()? {
        '"' => quoted(content, '"')?,
        '\'' => quoted(content, '\'')?,
        // Indicators that cannot start a plain key, including flow collections and complex keys.
        '{' | '[' | '?' | '&' | '*' | '!' | '|' | '>' | '%' | '@' | '`' | '#' | ',' => return None,
        _ => {
            let colon = find_key_colon(content)?;
            let (key, rest) = content.split_at_checked(colon)?;
            (key.trim_end().to_owned(), rest)
        }
    };
    let value = after_key.trim_start_matches(' ').strip_prefix(':')?;
    if value.is_empty() || value.starts_with([' ', '\t']) {
        Some((key, value))
    } else {
        None
    }
}

/// The byte offset of the `:` that ends a plain key: the first followed by a space or the line end.
fn find_key_colon(content: &str) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = from + content.get(from..)?.find(':')?;
        let next = content.get(at + 1..)?;
        if next.is_empty() || next.starts_with([' ', '\t']) {
            return Some(at);
        }
        from = at + 1;
    }
}

/// A quoted key at the start of `content`: its text and what follows the closing quote.
fn quoted(content: &str, quote: char) -> Option<(String, &str)> {
    let body = content.get(1..)?;
    let mut key = String::new();
    let mut chars = body.char_indices();
    while let Some((at, c)) = chars.next() {
        if c == quote {
            // In single quotes '' is an escaped quote.
            if quote == '\'' && body.get(at + 1..)?.starts_with('\'') {
                key.push('\'');
                chars.next();
                continue;
            }
            return Some((key, body.get(at + 1..)?));
        }
        if quote == '"' && c == '\\' {
            if let Some((_, escaped)) = chars.next() {
                key.push(escaped);
            }
            continue;
        }
        key.push(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(spec: &str) -> Vec<Segment> {
        spec.split('.')
            .map(|part| match part.parse::<usize>() {
                Ok(index) => Segment::Index(index),
                Err(_) => Segment::Key(part.to_owned()),
            })
            .collect()
    }

    fn line(text: &str, spec: &str) -> Option<usize> {
        line_of(text, &path(spec))
    }

    const CONFIG: &str = "\
# A comment
version: v1
address: 0.0.0.0:7373   # where to listen

admin:
  identity: disabled
tls:
  key: ./key.pem
  cert: \"./cert.pem\"
  proxy:
    identities:
    - a
    -   b
policy:
  my-app:
    allow:
      - /v1/key/create/my-app*
      - /v1/key/generate/my-app*
    identities: [ x, y ]
  other: { allow: [ /v1/status ] }
cache:
  expiry:
    any: |
      not: a key
    unused: 30s
api:
  /v1/status:
    skip_auth: true
  \"/v1/key/create/\":
    timeout: 15s
keys:
- name: one
- name: two
  extra: x
-
  name: three
keystore:
  fs:
    path: ./keys
";

    #[test]
    fn block_keys() {
        assert_eq!(line(CONFIG, "version"), Some(2));
        assert_eq!(line(CONFIG, "address"), Some(3));
        assert_eq!(line(CONFIG, "admin"), Some(5));
        assert_eq!(line(CONFIG, "admin.identity"), Some(6));
        assert_eq!(line(CONFIG, "tls.key"), Some(8));
        assert_eq!(line(CONFIG, "tls.cert"), Some(9));
        assert_eq!(line(CONFIG, "cache.expiry.unused"), Some(25));
        assert_eq!(line(CONFIG, "keystore.fs.path"), Some(39));
    }

    #[test]
    fn sequences() {
        assert_eq!(line(CONFIG, "tls.proxy.identities.0"), Some(12));
        assert_eq!(line(CONFIG, "tls.proxy.identities.1"), Some(13));
        assert_eq!(line(CONFIG, "policy.my-app.allow.1"), Some(18));
        assert_eq!(line(CONFIG, "keys.0.name"), Some(32));
        assert_eq!(line(CONFIG, "keys.1.name"), Some(33));
        assert_eq!(line(CONFIG, "keys.1.extra"), Some(34));
        assert_eq!(line(CONFIG, "keys.2"), Some(35));
        assert_eq!(line(CONFIG, "keys.2.name"), Some(36));
    }

    #[test]
    fn flow_collections_give_the_holding_key() {
        assert_eq!(line(CONFIG, "policy.my-app.identities.1"), Some(19));
        assert_eq!(line(CONFIG, "policy.other.allow.0"), Some(20));
    }

    #[test]
    fn quoted_and_route_keys() {
        assert_eq!(line(CONFIG, "api./v1/status.skip_auth"), Some(28));
        assert_eq!(
            line_of(
                CONFIG,
                &[
                    Segment::Key("api".into()),
                    Segment::Key("/v1/key/create/".into()),
                    Segment::Key("timeout".into()),
                ]
            ),
            Some(30)
        );
    }

    #[test]
    fn block_scalars_hold_no_keys() {
        assert_eq!(line(CONFIG, "cache.expiry.any"), Some(23));
        assert_eq!(line(CONFIG, "cache.expiry.any.not"), None);
        assert_eq!(line(CONFIG, "not"), None);
    }

    #[test]
    fn missing_fields_have_no_line() {
        assert_eq!(line(CONFIG, "log.error"), None);
        assert_eq!(line(CONFIG, "tls.password"), None);
        assert_eq!(line(CONFIG, "keys.3.name"), None);
    }

    #[test]
    fn only_the_first_document() {
        let text = "---\nadmin:\n  identity: a\n---\nlog:\n  error: on\n";
        assert_eq!(line(text, "admin.identity"), Some(3));
        assert_eq!(line(text, "log.error"), None);
    }

    #[test]
    fn multi_line_scalars_hold_no_keys() {
        let text = "a: this is\n  b: not a key\nc:\n  - item\n    d: continued\n  - e: 1\n";
        assert_eq!(line(text, "a"), Some(1));
        assert_eq!(line(text, "a.b"), None);
        assert_eq!(line(text, "c.0.d"), None);
        assert_eq!(line(text, "c.1.e"), Some(6));
    }

    #[test]
    fn anchors_and_tags_allow_nested_blocks() {
        let text = "tls: &tls\n  key: k\npolicy: !!map\n  p:\n    allow: []\n";
        assert_eq!(line(text, "tls.key"), Some(2));
        assert_eq!(line(text, "policy.p.allow"), Some(5));
    }

    #[test]
    fn key_syntax() {
        assert_eq!(split_key("a: b"), Some(("a".into(), " b")));
        assert_eq!(split_key("a:"), Some(("a".into(), "")));
        assert_eq!(split_key("a :  b"), Some(("a".into(), "  b")));
        assert_eq!(split_key("http://x: y"), Some(("http://x".into(), " y")));
        assert_eq!(split_key("a:b"), None);
        assert_eq!(split_key("plain text"), None);
        assert_eq!(split_key("{a: b}"), None);
        assert_eq!(split_key("\"a: b\": c"), Some(("a: b".into(), " c")));
        assert_eq!(split_key("'it''s': c"), Some(("it's".into(), " c")));
        assert_eq!(split_key("\"a\\\"b\": c"), Some(("a\"b".into(), " c")));
        assert_eq!(split_key("\"unterminated: c"), None);
        assert_eq!(
            split_key("ключ: значение"),
            Some(("ключ".into(), " значение"))
        );
    }

    #[test]
    fn odd_input_does_not_panic() {
        for text in [
            "",
            "-",
            "- - -",
            ":",
            "::",
            "\"",
            "'",
            "a:\n-\n- b:\n  -\n",
            "- a: b\n",
            "\t- a",
            "é: ü\n  ö: ä",
            "a: [\n  b: c\n]\nd: e",
        ] {
            let _ = line(text, "a.0.b");
        }
        assert_eq!(line("a: [\n  b: c\n]\nd: e", "d"), Some(4));
    }
}
