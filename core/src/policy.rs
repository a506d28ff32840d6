//! KES policies (kes-protocol.md 5): which request paths an identity may call.

use std::collections::BTreeSet;

/// A policy: allow and deny path patterns. Deny wins; a pattern ending in `*` is a prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Allowed path patterns (sorted, as KES shows them).
    pub allow: BTreeSet<String>,
    /// Denied path patterns (sorted).
    pub deny: BTreeSet<String>,
}

impl Policy {
    /// Whether the request path (decoded and cleaned) is allowed.
    ///
    /// A request is allowed when no deny pattern matches and some allow pattern does, so an empty
    /// policy allows nothing. The HTTP method plays no part.
    pub fn verify(&self, path: &str) -> bool {
        !self.deny.iter().any(|pattern| matches(pattern, path))
            && self.allow.iter().any(|pattern| matches(pattern, path))
    }
}

/// KES's pattern match: equality, or a prefix match when the pattern ends in `*`.
///
/// This is deliberately not a glob (KES dropped `path.Match` in 2023): `?`, `[` and a `*` anywhere but
/// last are literal characters, and a trailing `*` matches across `/`. An empty pattern matches nothing,
/// not even the empty path.
fn matches(pattern: &str, path: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => path == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str]) -> Policy {
        Policy {
            allow: allow.iter().map(|s| (*s).to_owned()).collect(),
            deny: deny.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn strings(value: &serde_json::Value) -> Vec<&str> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect()
    }

    #[test]
    fn policy_verify_vectors() {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/kes-vectors.json")).unwrap();
        let cases = vectors["policy_verify"].as_array().unwrap();
        assert_eq!(cases.len(), 4);
        for case in cases {
            let policy = policy(&strings(&case["allow"]), &strings(&case["deny"]));
            for (path, allowed) in case["requests"].as_object().unwrap() {
                assert_eq!(
                    policy.verify(path),
                    allowed.as_bool().unwrap(),
                    "{policy:?} {path}"
                );
            }
        }
    }

    #[test]
    fn deny_wins() {
        let policy = policy(&["/v1/key/*"], &["/v1/key/delete/*"]);
        assert!(policy.verify("/v1/key/create/a"));
        assert!(!policy.verify("/v1/key/delete/a"));
        assert!(!policy.verify("/v1/status"));
    }

    #[test]
    fn star_is_a_prefix_only_at_the_end() {
        assert!(matches("*", ""));
        assert!(matches("*", "/anything/at/all"));
        assert!(matches("/v1/key/create/my*", "/v1/key/create/my"));
        assert!(matches("/v1/key/*", "/v1/key/create/a/b"));
        assert!(!matches("/v1/*/create/a", "/v1/key/create/a"));
        assert!(matches("/v1/*/create/a", "/v1/*/create/a"));
        assert!(!matches("/v1/key/create/?", "/v1/key/create/a"));
        assert!(!matches("/v1/key/create/[a-z]", "/v1/key/create/a"));
        assert!(matches("/v1/key/create/**", "/v1/key/create/*x"));
        assert!(!matches("/v1/key/create/**", "/v1/key/create/x"));
    }

    #[test]
    fn exact_patterns_must_equal() {
        assert!(matches("/v1/status", "/v1/status"));
        assert!(!matches("/v1/status", "/v1/status/"));
        assert!(!matches("/v1/status", "/v1/statu"));
        assert!(!matches("/v1/Status", "/v1/status"));
    }

    #[test]
    fn empty_pattern_never_matches() {
        assert!(!matches("", ""));
        assert!(!matches("", "/v1/status"));
        assert!(!policy(&[""], &[]).verify(""));
        assert!(policy(&["*"], &[""]).verify(""));
    }
}
