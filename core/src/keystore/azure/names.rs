//! KES key names as Key Vault secret names, and back.
//!
//! Key Vault secret names allow only `[0-9A-Za-z-]` (1 to 127 characters) and ignore case; KES names
//! also allow `_` and are case-sensitive. The mapping (documented in docs/azure.md):
//!
//! - A name Go KES could store (no `_`) keeps its raw secret name, so both servers share a vault.
//!   Names starting with the reserved prefix `kesrs--` (in any case) are the one exception: they
//!   take the escaped form below, so that no raw name can ever look like an escaped one.
//! - Any other name becomes `kesrs--` followed by the name with `-` written as `-d` and `_` as `-u`.
//!   A `-` in the escaped part always starts a two-character escape, so the form decodes uniquely.
//! - An escaped form longer than Key Vault's 127 characters becomes `kesrs---h` followed by the hex
//!   SHA-256 of the name. The escaped part never starts with `-h`, so the two forms cannot meet.
//!
//! Raw names never start with `kesrs--`, escaped and hashed names always do: the three sets are
//! disjoint, even ignoring case. Two KES names that differ only in case share one secret in raw and
//! escaped form, as Key Vault leaves no other choice; the exact KES name is therefore stored in the
//! secret's [`NAME_TAG`] and compared on every read, so a request for `KEY` never returns the key
//! stored as `key`.

use sha2::{Digest, Sha256};

use crate::{valid_name, KeyName};

/// The secret tag holding the exact, case-preserved KES name.
pub(super) const NAME_TAG: &str = "kes-name";

/// Starts every secret name that is not a raw KES name.
const PREFIX: &str = "kesrs--";

/// Starts every hashed secret name (the prefix, then `-h`, which no escaped name starts with).
const HASHED_PREFIX: &str = "kesrs---h";

/// Key Vault's limit on secret names.
const MAX_SECRET_NAME: usize = 127;

/// The secret name under which `name` is stored.
pub(super) fn secret_name(name: &KeyName) -> String {
    let name = name.as_str();
    if !name.contains('_') && !starts_with_ignore_case(name, PREFIX) {
        return name.to_owned();
    }
    let mut escaped = String::with_capacity(PREFIX.len() + 2 * name.len());
    escaped.push_str(PREFIX);
    for c in name.chars() {
        match c {
            '-' => escaped.push_str("-d"),
            '_' => escaped.push_str("-u"),
            c => escaped.push(c),
        }
    }
    if escaped.len() <= MAX_SECRET_NAME {
        return escaped;
    }
    format!(
        "{HASHED_PREFIX}{}",
        hex::encode(Sha256::digest(name.as_bytes()))
    )
}

/// The KES name of a secret, from its secret name and its [`NAME_TAG`], if the secret holds a KES key.
///
/// A tag is trusted only if it maps back to the secret's name, so a copied or edited tag cannot make
/// a secret answer to another key's name. Hashed names cannot be decoded without their tag.
pub(super) fn key_name(secret: &str, tag: Option<&str>) -> Option<String> {
    if let Some(tag) = tag {
        if let Ok(name) = KeyName::new(tag) {
            if secret_name(&name).eq_ignore_ascii_case(secret) {
                return Some(name.as_str().to_owned());
            }
        }
    }
    if starts_with_ignore_case(secret, HASHED_PREFIX) {
        return None;
    }
    let Some(escaped) = secret
        .get(PREFIX.len()..)
        .filter(|_| starts_with_ignore_case(secret, PREFIX))
    else {
        return valid_name(secret).then(|| secret.to_owned());
    };
    let mut name = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        match c {
            '-' => match chars.next()?.to_ascii_lowercase() {
                'd' => name.push('-'),
                'u' => name.push('_'),
                _ => return None,
            },
            c => name.push(c),
        }
    }
    // Only the canonical form decodes: it rejects, say, an escaped name that needed no escaping.
    let name = KeyName::new(&name).ok()?;
    secret_name(&name)
        .eq_ignore_ascii_case(secret)
        .then(|| name.as_str().to_owned())
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn map(s: &str) -> String {
        secret_name(&KeyName::new(s).unwrap())
    }

    /// Raw names are passed through as Go KES does; every name kesrs makes up starts with a letter.
    fn is_key_vault_name(name: &str, s: &str) -> bool {
        (1..=MAX_SECRET_NAME).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && (s == name || s.as_bytes()[0].is_ascii_alphabetic())
    }

    #[test]
    fn names_go_kes_can_store_stay_raw() {
        for name in [
            "my-key",
            "MinIO-Default-Key",
            "a",
            "key--with--dashes",
            "0-Z",
        ] {
            assert_eq!(map(name), name);
            assert_eq!(key_name(name, None).as_deref(), Some(name));
        }
    }

    #[test]
    fn underscores_are_escaped_readably() {
        assert_eq!(map("minio_default-key"), "kesrs--minio-udefault-dkey");
        assert_eq!(map("_-___---_"), "kesrs---u-d-u-u-u-d-d-d-u");
        assert_eq!(map("kesrs--x"), "kesrs--kesrs-d-dx");
        assert_eq!(map("KESRS--x"), "kesrs--KESRS-d-dx");
        for name in ["minio_default-key", "_-___---_", "kesrs--x", "A_b"] {
            assert_eq!(key_name(&map(name), None).as_deref(), Some(name));
            // Key Vault may report the name in another case; the escapes still decode.
            assert_eq!(
                key_name(&map(name).to_ascii_uppercase(), Some(name)).as_deref(),
                Some(name)
            );
        }
    }

    #[test]
    fn long_escaped_names_are_hashed() {
        let name = "_-".repeat(39) + "_";
        let secret = map(&name);
        assert!(secret.starts_with("kesrs---h"), "{secret}");
        assert_eq!(secret.len(), 9 + 64);
        assert_eq!(key_name(&secret, None), None);
        assert_eq!(
            key_name(&secret, Some(&name)).as_deref(),
            Some(name.as_str())
        );
        // The longest name that still escapes: 7 + 80 + 40 = 127.
        let name = "a_".repeat(40);
        assert_eq!(map(&name).len(), 127);
    }

    #[test]
    fn tags_that_do_not_match_the_secret_name_are_ignored() {
        assert_eq!(key_name("my-key", Some("other")).as_deref(), Some("my-key"));
        assert_eq!(
            key_name("my-key", Some("MY-KEY")).as_deref(),
            Some("MY-KEY")
        );
        assert_eq!(key_name("kesrs--a-ub", Some("a_c")).as_deref(), Some("a_b"));
        assert_eq!(key_name("kesrs--a-xb", None), None);
        assert_eq!(key_name("kesrs--a-", None), None);
        // Not canonical: "ab" would be stored raw, so this secret is not a KES key.
        assert_eq!(key_name("kesrs--ab", None), None);
        assert_eq!(key_name("-raw", None), None);
        assert_eq!(key_name(&"a".repeat(81), None), None);
    }

    /// Every name in a large, adversarial sample maps to a valid Key Vault name, and no two names
    /// that differ other than in case share a secret name, even ignoring case as Key Vault does.
    #[test]
    fn the_mapping_is_injective_up_to_case_and_never_meets_a_raw_name() {
        const ALPHABET: &[u8] = b"aB0_-";
        let mut names = Vec::new();
        for len in 1..=6u32 {
            for mut n in 0..ALPHABET.len().pow(len) {
                let mut s = String::new();
                for _ in 0..len {
                    s.push(ALPHABET[n % ALPHABET.len()] as char);
                    n /= ALPHABET.len();
                }
                names.push(s);
            }
        }
        for prefix in ["kesrs--", "KesRS--", "kesrs---h", "kesrs---u"] {
            for suffix in ["a", "a_b", "ab-d", "-ua"] {
                names.push(format!("{prefix}{suffix}"));
            }
        }
        names.push("x_".repeat(40));
        names.push("x-".repeat(39) + "x");
        names.push("_".repeat(80));
        names.push("_".repeat(79) + "a");

        let mut seen: HashMap<String, String> = HashMap::new();
        let mut checked = 0;
        for name in names.iter().filter(|n| valid_name(n)) {
            let secret = map(name);
            assert!(is_key_vault_name(name, &secret), "{name} -> {secret}");
            let folded = secret.to_ascii_lowercase();
            if let Some(other) = seen.insert(folded, name.clone()) {
                assert!(
                    other.eq_ignore_ascii_case(name),
                    "{other} and {name} both map to {secret}"
                );
            }
            let hashed = secret.starts_with(HASHED_PREFIX);
            let expected = (!hashed).then(|| name.clone());
            assert_eq!(key_name(&secret, None), expected, "{name} -> {secret}");
            assert_eq!(
                key_name(&secret, Some(name)).as_deref(),
                Some(name.as_str())
            );
            checked += 1;
        }
        assert!(checked > 10_000, "{checked}");
    }
}
