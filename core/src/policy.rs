//! KES policies (kes-protocol.md 5): which request paths an identity may call.

use std::collections::BTreeSet;

use crate::valid_name;

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

/// Which key names a policy allows under a route that takes a key name (`/v1/key/decrypt/`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameCoverage {
    /// Every valid key name: an allow pattern covers the route and no deny pattern reaches into it.
    All,
    /// Some names but maybe not others. Carries one allowed name.
    Some(String),
    /// No valid key name at all.
    None,
}

impl Policy {
    /// Which key names this policy allows after `route` (a path ending in `/`).
    ///
    /// Patterns are prefixes or exact paths, so the answer is exact: a name is looked for under each
    /// allow pattern, stepping around the deny patterns one character at a time, and every name
    /// found is confirmed with [`Policy::verify`].
    pub fn key_names(&self, route: &str) -> NameCoverage {
        let covers_route = self.allow.iter().any(|p| {
            p.strip_suffix('*')
                .is_some_and(|prefix| route.starts_with(prefix))
        });
        if covers_route && !self.deny.iter().any(|d| reaches_into(d, route)) {
            return NameCoverage::All;
        }
        for pattern in &self.allow {
            let found = match pattern.strip_suffix('*') {
                None => pattern
                    .strip_prefix(route)
                    .filter(|name| valid_name(name) && self.verify(pattern))
                    .map(str::to_owned),
                Some(prefix) if route.starts_with(prefix) => self.name_under(route, String::new()),
                Some(prefix) => prefix
                    .strip_prefix(route)
                    .and_then(|stem| self.name_under(route, stem.to_owned())),
            };
            if let Some(name) = found {
                return NameCoverage::Some(name);
            }
        }
        NameCoverage::None
    }

    /// An allowed name that starts with `stem`, if there is one. The caller knows an allow pattern
    /// covers every name starting with `stem`; only deny patterns can take them away.
    fn name_under(&self, route: &str, stem: String) -> Option<String> {
        // `stem` + one character must be able to make a name.
        if !valid_name(&format!("{stem}a")) {
            return None;
        }
        let path = format!("{route}{stem}");
        let denied_below = |d: &String| d.strip_suffix('*').is_some_and(|p| path.starts_with(p));
        if self.deny.iter().any(denied_below) {
            return None;
        }
        if valid_name(&stem) && self.verify(&path) {
            return Some(stem);
        }
        // The next characters some deny pattern continues with. Any other character leads out of
        // every deny pattern at once, so only these need a deeper look (and the characters that
        // cannot end a name: `-`, and `_` alone).
        let constrained: BTreeSet<char> = self
            .deny
            .iter()
            .filter_map(|d| d.strip_suffix('*').unwrap_or(d).strip_prefix(path.as_str()))
            .filter_map(|rest| rest.chars().next())
            .collect();
        let chars = || {
            ('a'..='z')
                .chain('A'..='Z')
                .chain('0'..='9')
                .chain(['_', '-'])
        };
        let free = chars().find_map(|c| {
            let name = format!("{stem}{c}");
            (!constrained.contains(&c)
                && valid_name(&name)
                && self.verify(&format!("{route}{name}")))
            .then_some(name)
        });
        free.or_else(|| {
            chars()
                .filter(|c| constrained.contains(c) || !valid_name(&format!("{stem}{c}")))
                .find_map(|c| self.name_under(route, format!("{stem}{c}")))
        })
    }
}

/// Whether the deny pattern `deny` denies some valid key name after `route`.
fn reaches_into(deny: &str, route: &str) -> bool {
    match deny.strip_suffix('*') {
        Some(prefix) => {
            route.starts_with(prefix)
                || prefix
                    .strip_prefix(route)
                    .is_some_and(|stem| valid_name(&format!("{stem}a")))
        }
        None => deny.strip_prefix(route).is_some_and(valid_name),
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
    fn key_names_under_a_route() {
        const ROUTE: &str = "/v1/key/decrypt/";
        let names = |allow: &[&str], deny: &[&str]| policy(allow, deny).key_names(ROUTE);
        assert_eq!(names(&["/v1/key/*"], &[]), NameCoverage::All);
        assert_eq!(
            names(&["/v1/key/decrypt/*"], &["/v1/key/create/*"]),
            NameCoverage::All
        );
        assert_eq!(names(&[], &[]), NameCoverage::None);
        assert_eq!(names(&["/v1/key/generate/*"], &[]), NameCoverage::None);
        // Denied as a whole, whatever the allow says.
        assert_eq!(
            names(&["/v1/key/*"], &["/v1/key/decrypt/*"]),
            NameCoverage::None
        );
        assert_eq!(names(&["/v1/key/*"], &["/v1/key/d*"]), NameCoverage::None);
        // A prefix, an exact name, and names that cannot be key names.
        assert_eq!(
            names(&["/v1/key/decrypt/minio-*"], &[]),
            NameCoverage::Some("minio-a".into())
        );
        assert_eq!(
            names(&["/v1/key/decrypt/minio"], &[]),
            NameCoverage::Some("minio".into())
        );
        assert_eq!(names(&["/v1/key/decrypt/a b"], &[]), NameCoverage::None);
        assert_eq!(names(&["/v1/key/decrypt/-*"], &[]), NameCoverage::None);
        assert_eq!(names(&["/v1/key/decrypt/x/*"], &[]), NameCoverage::None);
        // Deny patterns inside the route leave some names.
        assert_eq!(
            names(&["/v1/key/*"], &["/v1/key/decrypt/a*", "/v1/key/decrypt/b"]),
            NameCoverage::Some("c".into())
        );
        assert_eq!(
            names(&["/v1/key/decrypt/m*"], &["/v1/key/decrypt/m"]),
            NameCoverage::Some("ma".into())
        );
        assert_eq!(
            names(&["/v1/key/decrypt/minio"], &["/v1/key/decrypt/minio"]),
            NameCoverage::None
        );
        // Every name with one letter or digit after `k` is denied: the search goes one deeper.
        let deny: Vec<String> = ('a'..='z')
            .chain('A'..='Z')
            .chain('0'..='9')
            .map(|c| format!("/v1/key/decrypt/k{c}*"))
            .collect();
        let deny: Vec<&str> = deny.iter().map(String::as_str).collect();
        assert_eq!(
            names(&["/v1/key/decrypt/k*"], &deny),
            NameCoverage::Some("k".into())
        );
        let mut deny = deny;
        deny.push("/v1/key/decrypt/k");
        assert_eq!(
            names(&["/v1/key/decrypt/k*"], &deny),
            NameCoverage::Some("k_".into())
        );
    }

    #[test]
    fn empty_pattern_never_matches() {
        assert!(!matches("", ""));
        assert!(!matches("", "/v1/status"));
        assert!(!policy(&[""], &[]).verify(""));
        assert!(policy(&["*"], &[""]).verify(""));
    }
}
