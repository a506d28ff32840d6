//! Client identities. STUB: helper B owns this.

use std::fmt;

use crate::Error;

/// An identity: the lowercase hex SHA-256 of a certificate's SubjectPublicKeyInfo, or (for the admin
/// only) any other string, which disables admin access.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity(String);

impl Identity {
    /// The identity of a DER certificate.
    pub fn of_certificate(der: &[u8]) -> Result<Self, Error> {
        let _ = der;
        unimplemented!()
    }

    /// The identity of a DER SubjectPublicKeyInfo.
    pub fn of_spki(spki_der: &[u8]) -> Self {
        let _ = spki_der;
        unimplemented!()
    }

    /// Whether `der` is a CA certificate (basicConstraints cA=true); KES skips those in a client chain.
    pub fn is_ca_certificate(der: &[u8]) -> bool {
        let _ = der;
        unimplemented!()
    }

    /// An identity as written in a config file (validated there).
    pub(crate) fn from_config(s: &str) -> Self {
        Self(s.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}
