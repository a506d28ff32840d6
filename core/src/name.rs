//! Validated names: key names and listing patterns, checked exactly as KES checks them.

use std::fmt;

use crate::Error;

/// The longest name or pattern KES accepts, in bytes.
const MAX_LEN: usize = 80;

/// Whether `s` is a valid KES name (key, policy or identity path argument).
///
/// 1 to 80 bytes of `0-9 A-Z a-z _ -`, not `_` alone, and `-` neither first nor last.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_LEN
        && s != "_"
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes().all(is_name_byte)
}

/// A key name that passed KES's validation. It is safe to use as a file name or URL segment.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(String);

impl KeyName {
    /// Validates `name` as a key name.
    pub fn new(name: &str) -> Result<Self, Error> {
        if valid_name(name) {
            Ok(Self(name.to_owned()))
        } else {
            Err(Error::InvalidKeyName(name.to_owned()))
        }
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Lets maps keyed by `KeyName` be searched with a `&str` (hashing and ordering are the string's).
impl std::borrow::Borrow<str> for KeyName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for KeyName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A listing pattern that passed KES's validation: empty, `*`, or a name prefix with an optional
/// trailing `*`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pattern(String);

impl Pattern {
    /// Validates `pattern` as a listing pattern.
    pub fn new(pattern: &str) -> Result<Self, Error> {
        // Without a `*` a pattern is a whole name; with one, the part before it is a name prefix,
        // which may end in `-` (`my-*`) but not start with one.
        let valid = pattern.is_empty()
            || pattern.len() <= MAX_LEN
                && match pattern.strip_suffix('*') {
                    None => valid_name(pattern),
                    // Only `_` alone is refused; `_*` lists the names that start with `_`.
                    Some(prefix) => !prefix.starts_with('-') && prefix.bytes().all(is_name_byte),
                };
        if valid {
            Ok(Self(pattern.to_owned()))
        } else {
            Err(Error::InvalidPattern(pattern.to_owned()))
        }
    }

    /// The prefix this pattern selects: the pattern without a trailing `*`, so `*` alone selects all.
    ///
    /// KES keeps the `*` for key listings, so `my*` lists nothing there; kesrs treats it as the prefix
    /// wildcard everyone expects (see docs/compatibility.md).
    pub fn prefix(&self) -> &str {
        self.0.strip_suffix('*').unwrap_or(&self.0)
    }

    /// The pattern as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `name` is selected by this pattern.
    pub fn matches(&self, name: &str) -> bool {
        name.starts_with(self.prefix())
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_star_is_a_prefix() {
        let pattern = Pattern::new("my*").unwrap();
        assert_eq!(pattern.prefix(), "my");
        assert!(pattern.matches("my-key"));
        assert!(!pattern.matches("other"));
        assert_eq!(Pattern::new("*").unwrap().prefix(), "");
        assert_eq!(Pattern::new("").unwrap().prefix(), "");
        assert_eq!(Pattern::new("my-*").unwrap().prefix(), "my-");
        // As KES's validPattern: only `_` alone is refused (found by adversarial testing).
        let underscore = Pattern::new("_*").unwrap();
        assert!(underscore.matches("_internal") && !underscore.matches("key"));
    }

    /// Go KES answers 400 for these (found by the Go client conformance suite).
    #[test]
    fn patterns_without_a_star_are_whole_names() {
        for invalid in ["list-", "-x", "_", "a*b", "**", "-*"] {
            assert!(Pattern::new(invalid).is_err(), "{invalid}");
        }
    }

    #[test]
    fn invalid_names_are_echoed_in_the_error() {
        let err = KeyName::new("../x").unwrap_err();
        assert_eq!(
            err.message(),
            "key name '../x' is empty, too long or contains invalid characters"
        );
        assert!(KeyName::new(&"a".repeat(81)).is_err());
        assert!(KeyName::new(&"a".repeat(80)).is_ok());
    }
}
