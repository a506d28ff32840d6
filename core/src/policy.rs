//! KES policies. STUB: helper B owns this.

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
    pub fn verify(&self, path: &str) -> bool {
        let _ = path;
        unimplemented!()
    }
}
