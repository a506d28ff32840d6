//! The one error type of kesrs-core, and its mapping onto KES's HTTP status codes and messages.
//!
//! MinIO compares the status code *and* the message of every error with `errors.Is`, so the messages
//! below are part of the wire protocol and must stay byte-for-byte what KES sends.

use std::fmt;

/// Everything that can go wrong in kesrs-core.
///
/// [`Error::status`] and [`Error::message`] give the KES status code and message for each variant.
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// A key name failed KES's name validation. Carries the rejected input.
    InvalidKeyName(String),
    /// A listing pattern failed KES's pattern validation. Carries the rejected input.
    InvalidPattern(String),
    /// A policy name failed KES's name validation. Carries the rejected input.
    InvalidPolicyName(String),
    /// An identity failed KES's name validation. Carries the rejected input.
    InvalidIdentity(String),
    /// The key already exists in the key store.
    KeyExists,
    /// The key does not exist in the key store.
    KeyNotFound,
    /// No policy of that name is configured.
    PolicyNotFound,
    /// The identity is neither the admin nor bound to a policy.
    IdentityNotFound,
    /// The caller's policy does not allow the request.
    NotAllowed,
    /// A ciphertext is malformed, was tampered with, or the context differs from the one used to seal.
    Decrypt,
    /// An imported key names a cipher KES does not know. Carries the cipher as sent.
    UnsupportedAlgorithm(String),
    /// An imported key is not 32 bytes long. Carries the cipher as sent.
    InvalidKeySize(String),
    /// The key is a legacy key that has no HMAC key.
    HmacNotSupported,
    /// The key store failed during `op`.
    KeyStore {
        /// What the key store was asked to do.
        op: StoreOp,
        /// What went wrong.
        source: crate::StoreError,
    },
    /// A value read from the key store is not a valid KES key.
    CorruptKey(&'static str),
    /// The operating system's random source failed.
    Random,
    /// Encryption failed (it cannot for valid keys; kept so that it is never a panic).
    Encrypt,
    /// An API key could not be parsed. Carries the reason, in the Go client's words.
    InvalidApiKey(&'static str),
    /// A certificate could not be parsed or carries no usable public key.
    InvalidCertificate(String),
    /// A PEM private key could not be read or decrypted. Carries the reason.
    InvalidPrivateKey(&'static str),
    /// The configuration is invalid.
    Config(crate::config::ConfigError),
    /// A KES server answered with an error that has no variant of its own. Carries status and message.
    Server {
        /// The HTTP status code.
        status: u16,
        /// The message, as the server sent it.
        message: String,
    },
    /// No KES server could be reached, or the client could not be set up. Carries the cause.
    Connect(String),
    /// The TLS connection to a KES server failed: the server's certificate, the client's, or the
    /// protocol.
    Tls {
        /// The endpoint, `https://host:port`.
        endpoint: String,
        /// What failed, as a sentence with what to do about it.
        failure: crate::tls::TlsFailure,
    },
    /// A KES server sent a response that does not follow the protocol.
    Protocol(&'static str),
    /// A caller passed an argument that cannot be used (a missing endpoint, an unreadable file).
    /// Carries the reason.
    InvalidArgument(String),
    /// A [`Keys`](crate::Keys) handle was used in a process forked from the one that made it.
    Forked,
    /// The runtime that drives in-process key stores could not be started. Carries the cause.
    Runtime(String),
    /// A sealed envelope is malformed, not authentic, or was used wrongly (docs/envelope.md).
    Envelope(EnvelopeError),
    /// Reading or writing the data of an envelope stream failed.
    Io(std::io::Error),
}

/// Why an envelope could not be sealed or opened. Each check in docs/envelope.md names its variant.
///
/// The variants that an attacker can cause by changing authentic bytes ([`is_authentication`]) all
/// carry KES's decrypt message, so that a caller cannot tell more than "not authentic" from the message;
/// the variant (and [`fmt::Display`]) says which check failed, for logs and tests.
///
/// [`is_authentication`]: EnvelopeError::is_authentication
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The input does not start with the envelope's magic bytes.
    NotAnEnvelope,
    /// The header's format version is not one this library reads. Carries the version.
    UnsupportedVersion(u8),
    /// The header sets flag bits that this version does not define. Carries the flags.
    UnknownFlags(u8),
    /// The header's key name is not a valid KES key name.
    InvalidKeyName,
    /// The header's data-key ciphertext is empty or longer than the cap. Carries its length.
    CiphertextLength(u16),
    /// The input ends inside the header.
    TruncatedHeader,
    /// The named key decrypted the data key to something other than 32 bytes.
    DataKeyLength,
    /// The header names a key the caller does not accept.
    KeyNotAccepted,
    /// The header's tag does not match: the header was changed, or the context or data key differs.
    HeaderAuthentication,
    /// A DARE package header is not version 2.0 with AES-256-GCM, has an impossible length, or a
    /// nonce other than the stream's. Carries the package's sequence number.
    MalformedPackage(u32),
    /// A DARE package failed authentication: it was changed, reordered, duplicated, follows a dropped
    /// package, or belongs to another message. Carries the package's sequence number.
    PackageAuthentication(u32),
    /// The stream ends before its final package.
    Truncated,
    /// Bytes follow the final package (or the header of an empty message).
    TrailingData,
    /// The message is larger than DARE 2.0 can number (2^32 packages of 64 KiB).
    TooLarge,
    /// A range reaches past the end of the plaintext.
    RangeOutOfBounds,
    /// Data-key reuse limits must all be non-zero.
    InvalidReuseLimits,
}

/// The key-store operation during which an [`Error::KeyStore`] happened; it decides the KES message.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// Creating or importing a key.
    Create,
    /// Reading a key (describe, generate, encrypt, decrypt, hmac).
    Read,
    /// Listing keys.
    List,
    /// Deleting a key.
    Delete,
    /// Probing the key store's health.
    Status,
}

/// A stable number and name for each kind of [`Error`], for bindings whose errors are codes (C's
/// `kes_result`, Node's `err.code`, the Python exception classes). Numbers never change meaning; new
/// kinds get new numbers. `0` is kept for success and `100` for a caught panic (C only).
#[non_exhaustive]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A name, pattern, key, certificate, API key or other argument is invalid.
    InvalidArgument = 1,
    /// The key does not exist.
    KeyNotFound = 2,
    /// A key of that name already exists.
    KeyExists = 3,
    /// The server's policy does not allow the call (remote handles only).
    NotAllowed = 4,
    /// A ciphertext or sealed message is not authentic: tampered with, truncated, or the context or
    /// key differs from the one it was made with.
    DecryptFailed = 5,
    /// The key store (or, remotely, the server's key store) failed or cannot be reached.
    KeyStoreUnavailable = 6,
    /// The key is a legacy key without an HMAC key.
    HmacNotSupported = 7,
    /// An imported key names an algorithm that is not supported.
    UnsupportedAlgorithm = 8,
    /// A policy or identity does not exist (remote administration).
    NotFound = 9,
    /// No KES server could be reached, or its TLS or credentials were refused.
    Connection = 10,
    /// A KES server answered something that does not follow the protocol.
    Protocol = 11,
    /// The configuration is invalid.
    Config = 12,
    /// The handle was made in the parent of a forked process.
    Forked = 13,
    /// An internal failure (randomness, the runtime, a server error without a kind of its own).
    Internal = 14,
    /// Reading or writing a stream's data failed.
    Io = 15,
}

impl ErrorCode {
    /// Every code, in order.
    pub const ALL: [ErrorCode; 15] = [
        Self::InvalidArgument,
        Self::KeyNotFound,
        Self::KeyExists,
        Self::NotAllowed,
        Self::DecryptFailed,
        Self::KeyStoreUnavailable,
        Self::HmacNotSupported,
        Self::UnsupportedAlgorithm,
        Self::NotFound,
        Self::Connection,
        Self::Protocol,
        Self::Config,
        Self::Forked,
        Self::Internal,
        Self::Io,
    ];

    /// The code's name, as C's `kes_result` and Node's `err.code` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::InvalidArgument => "KES_INVALID_ARGUMENT",
            Self::KeyNotFound => "KES_KEY_NOT_FOUND",
            Self::KeyExists => "KES_KEY_EXISTS",
            Self::NotAllowed => "KES_NOT_ALLOWED",
            Self::DecryptFailed => "KES_DECRYPT_FAILED",
            Self::KeyStoreUnavailable => "KES_KEY_STORE_UNAVAILABLE",
            Self::HmacNotSupported => "KES_HMAC_NOT_SUPPORTED",
            Self::UnsupportedAlgorithm => "KES_UNSUPPORTED_ALGORITHM",
            Self::NotFound => "KES_NOT_FOUND",
            Self::Connection => "KES_CONNECTION",
            Self::Protocol => "KES_PROTOCOL",
            Self::Config => "KES_CONFIG",
            Self::Forked => "KES_FORKED",
            Self::Internal => "KES_INTERNAL",
            Self::Io => "KES_IO",
        }
    }
}

impl Error {
    /// The kind of this error, as a stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidKeyName(_)
            | Self::InvalidPattern(_)
            | Self::InvalidPolicyName(_)
            | Self::InvalidIdentity(_)
            | Self::InvalidKeySize(_)
            | Self::InvalidApiKey(_)
            | Self::InvalidCertificate(_)
            | Self::InvalidPrivateKey(_)
            | Self::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Self::KeyExists => ErrorCode::KeyExists,
            Self::KeyNotFound => ErrorCode::KeyNotFound,
            Self::PolicyNotFound | Self::IdentityNotFound => ErrorCode::NotFound,
            Self::NotAllowed => ErrorCode::NotAllowed,
            Self::Decrypt => ErrorCode::DecryptFailed,
            Self::UnsupportedAlgorithm(_) => ErrorCode::UnsupportedAlgorithm,
            Self::HmacNotSupported => ErrorCode::HmacNotSupported,
            Self::KeyStore { .. } | Self::CorruptKey(_) => ErrorCode::KeyStoreUnavailable,
            Self::Config(_) => ErrorCode::Config,
            Self::Connect(_) | Self::Tls { .. } => ErrorCode::Connection,
            Self::Protocol(_) => ErrorCode::Protocol,
            Self::Forked => ErrorCode::Forked,
            Self::Random | Self::Encrypt | Self::Runtime(_) => ErrorCode::Internal,
            Self::Envelope(err) if err.is_authentication() => ErrorCode::DecryptFailed,
            Self::Envelope(EnvelopeError::KeyNotAccepted) => ErrorCode::NotAllowed,
            Self::Envelope(_) => ErrorCode::InvalidArgument,
            Self::Io(_) => ErrorCode::Io,
            Self::Server { status, .. } => match status {
                400 | 406 | 413 | 414 => ErrorCode::InvalidArgument,
                401 | 403 => ErrorCode::NotAllowed,
                404 => ErrorCode::NotFound,
                502..=504 => ErrorCode::KeyStoreUnavailable,
                _ => ErrorCode::Internal,
            },
        }
    }

    /// The HTTP status code KES answers with for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidKeyName(_)
            | Self::InvalidPattern(_)
            | Self::InvalidPolicyName(_)
            | Self::InvalidIdentity(_)
            | Self::KeyExists
            | Self::Decrypt
            | Self::InvalidApiKey(_)
            | Self::InvalidCertificate(_)
            | Self::InvalidPrivateKey(_)
            | Self::InvalidArgument(_) => 400,
            Self::NotAllowed => 403,
            Self::KeyNotFound | Self::PolicyNotFound | Self::IdentityNotFound => 404,
            Self::UnsupportedAlgorithm(_) | Self::InvalidKeySize(_) => 406,
            Self::HmacNotSupported => 409,
            Self::KeyStore {
                op: StoreOp::Status,
                source: crate::StoreError::Unreachable(_),
            } => 504,
            Self::KeyStore { .. } | Self::CorruptKey(_) => 502,
            Self::Random | Self::Encrypt | Self::Config(_) | Self::Forked | Self::Runtime(_) => 500,
            Self::Server { status, .. } => *status,
            Self::Connect(_) | Self::Tls { .. } | Self::Protocol(_) => 502,
            Self::Envelope(EnvelopeError::KeyNotAccepted) => 403,
            Self::Envelope(_) => 400,
            Self::Io(_) => 500,
        }
    }

    /// The message KES answers with for this error, byte for byte.
    ///
    /// Internal failures get KES's generic message; their cause stays in [`fmt::Display`] and the logs.
    pub fn message(&self) -> String {
        match self {
            Self::InvalidKeyName(name) => {
                format!("key name '{name}' is empty, too long or contains invalid characters")
            }
            Self::InvalidPattern(pattern) => {
                format!("listing pattern '{pattern}' is empty, too long or is invalid")
            }
            Self::InvalidPolicyName(name) => {
                format!("policy name '{name}' is empty, too long or contains invalid characters")
            }
            Self::InvalidIdentity(identity) => {
                format!("identity '{identity}' is empty, too long or contains invalid characters")
            }
            Self::KeyExists => "key already exists".into(),
            Self::KeyNotFound => "key does not exist".into(),
            Self::PolicyNotFound => "policy does not exist".into(),
            Self::IdentityNotFound => "identity does not exist".into(),
            Self::NotAllowed => "not authorized: insufficient permissions".into(),
            Self::Decrypt => "decryption failed: ciphertext is not authentic".into(),
            Self::UnsupportedAlgorithm(cipher) => format!("algorithm '{cipher}' is not supported"),
            Self::InvalidKeySize(cipher) => format!("invalid key size for '{cipher}'"),
            Self::HmacNotSupported => "key does not support HMAC".into(),
            Self::KeyStore { op, source } => match (op, source) {
                (StoreOp::Create, _) => "failed to create key".into(),
                (StoreOp::Read, _) => "failed to read key".into(),
                (StoreOp::List, _) => "failed to list keys".into(),
                (StoreOp::Delete, _) => "failed to delete key".into(),
                (StoreOp::Status, crate::StoreError::Unreachable(_)) => {
                    "key store is not reachable".into()
                }
                (StoreOp::Status, _) => "key store is unavailable".into(),
            },
            Self::CorruptKey(_) => "failed to read key".into(),
            Self::Random => "failed to generate encryption key".into(),
            Self::Encrypt => "failed to encrypt plaintext".into(),
            Self::InvalidApiKey(reason) => format!("kes: invalid API key: {reason}"),
            Self::InvalidCertificate(reason) => format!("invalid certificate: {reason}"),
            Self::InvalidPrivateKey(reason) => format!("invalid private key: {reason}"),
            Self::Config(_) => "invalid configuration".into(),
            Self::Server { message, .. } => message.clone(),
            Self::Connect(cause) => format!("kes: connection failed: {cause}"),
            Self::Tls { endpoint, failure } => {
                format!("kes: connection failed: {endpoint}: {failure}")
            }
            Self::Protocol(reason) => format!("kes: invalid server response: {reason}"),
            Self::InvalidArgument(reason) => format!("invalid argument: {reason}"),
            Self::Forked => "this handle was opened in the parent process: open a new one after \
                             fork()"
                .into(),
            Self::Runtime(cause) => format!("failed to start the kesrs runtime: {cause}"),
            Self::Envelope(err) if err.is_authentication() => Self::Decrypt.message(),
            Self::Envelope(err) => format!("invalid envelope: {err}"),
            Self::Io(_) => "I/O failed".into(),
        }
    }

    /// The error a KES server meant by `status` and `message`: the variant whose status and message
    /// match exactly (as the Go client's `errors.Is` compares them), or [`Error::Server`].
    pub fn from_response(status: u16, message: String) -> Self {
        let known = match (status, message.as_str()) {
            (400, "key already exists" | "key does already exist") => Some(Self::KeyExists),
            (404, "key does not exist") => Some(Self::KeyNotFound),
            (404, "policy does not exist") => Some(Self::PolicyNotFound),
            (404, "identity does not exist") => Some(Self::IdentityNotFound),
            (403, "not authorized: insufficient permissions" | "prohibited by policy") => {
                Some(Self::NotAllowed)
            }
            (400, "decryption failed: ciphertext is not authentic") => Some(Self::Decrypt),
            (409, "key does not support HMAC") => Some(Self::HmacNotSupported),
            (406, message) => quoted(message, "invalid key size for '")
                .map(|cipher| Self::InvalidKeySize(cipher.to_owned()))
                .or_else(|| {
                    quoted(message, "algorithm '")
                        .filter(|_| message.ends_with("' is not supported"))
                        .map(|cipher| Self::UnsupportedAlgorithm(cipher.to_owned()))
                }),
            _ => None,
        };
        known.unwrap_or(Self::Server { status, message })
    }
}

/// The text between `prefix` and the next `'` in `message`, as in `invalid key size for 'AES256'`.
fn quoted<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split_once('\'').map(|(quoted, _)| quoted)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyStore { source, .. } => write!(f, "{}: {source}", self.message()),
            Self::CorruptKey(reason) => write!(f, "{}: {reason}", self.message()),
            Self::Config(err) => write!(f, "{err}"),
            Self::Envelope(err) if err.is_authentication() => {
                write!(f, "{}: {err}", self.message())
            }
            Self::Io(err) => write!(f, "{}: {err}", self.message()),
            _ => f.write_str(&self.message()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::KeyStore { source, .. } => Some(source),
            Self::Config(err) => Some(err),
            Self::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl EnvelopeError {
    /// Whether this is an authentication failure: something changed authentic bytes, or the context or
    /// key is not the one the envelope was sealed with. These carry KES's decrypt message.
    pub fn is_authentication(self) -> bool {
        matches!(
            self,
            Self::HeaderAuthentication
                | Self::MalformedPackage(_)
                | Self::PackageAuthentication(_)
                | Self::Truncated
                | Self::TrailingData
        )
    }
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnEnvelope => f.write_str("not a kesrs envelope"),
            Self::UnsupportedVersion(v) => write!(f, "unsupported version {v}"),
            Self::UnknownFlags(flags) => write!(f, "unknown flags 0x{flags:02x}"),
            Self::InvalidKeyName => f.write_str("invalid key name"),
            Self::CiphertextLength(len) => write!(f, "invalid data key ciphertext length {len}"),
            Self::TruncatedHeader => f.write_str("truncated header"),
            Self::DataKeyLength => f.write_str("data key is not 32 bytes"),
            Self::KeyNotAccepted => f.write_str("key is not accepted"),
            Self::HeaderAuthentication => f.write_str("header authentication failed"),
            Self::MalformedPackage(seq) => write!(f, "malformed package {seq}"),
            Self::PackageAuthentication(seq) => write!(f, "package {seq} authentication failed"),
            Self::Truncated => f.write_str("stream is truncated"),
            Self::TrailingData => f.write_str("data after the final package"),
            Self::TooLarge => f.write_str("message is too large"),
            Self::RangeOutOfBounds => f.write_str("range is out of bounds"),
            Self::InvalidReuseLimits => f.write_str("data key reuse limits must be non-zero"),
        }
    }
}

impl From<EnvelopeError> for Error {
    fn from(err: EnvelopeError) -> Self {
        Self::Envelope(err)
    }
}

/// An I/O error from a stream adapter gives back the kesrs error inside it, if it carries one.
impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        if err.get_ref().is_none() {
            return Self::Io(err); // An OS error: kept whole, with its code.
        }
        let kind = err.kind();
        match err.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(inner)) => *inner,
            Some(Err(other)) => Self::Io(std::io::Error::new(kind, other)),
            None => Self::Io(kind.into()),
        }
    }
}

impl From<Error> for std::io::Error {
    fn from(err: Error) -> Self {
        match err {
            Error::Io(err) => err,
            err => std::io::Error::new(std::io::ErrorKind::InvalidData, err),
        }
    }
}

impl From<crate::config::ConfigError> for Error {
    fn from(err: crate::config::ConfigError) -> Self {
        Self::Config(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreError;

    /// MinIO compares status and message with `errors.Is`: every variant's wire form is pinned here.
    #[test]
    fn every_variant_has_its_kes_status_and_message() {
        let unreachable = || StoreError::Unreachable("down".into());
        let failed = || StoreError::Failed("broken".into());
        let store = |op, source| Error::KeyStore { op, source };
        let table: Vec<(Error, u16, &str)> = vec![
            (
                Error::InvalidKeyName("a<b".into()),
                400,
                "key name 'a<b' is empty, too long or contains invalid characters",
            ),
            (
                Error::InvalidPattern("*-*".into()),
                400,
                "listing pattern '*-*' is empty, too long or is invalid",
            ),
            (
                Error::InvalidPolicyName("p.q".into()),
                400,
                "policy name 'p.q' is empty, too long or contains invalid characters",
            ),
            (
                Error::InvalidIdentity("".into()),
                400,
                "identity '' is empty, too long or contains invalid characters",
            ),
            (Error::KeyExists, 400, "key already exists"),
            (Error::KeyNotFound, 404, "key does not exist"),
            (Error::PolicyNotFound, 404, "policy does not exist"),
            (Error::IdentityNotFound, 404, "identity does not exist"),
            (
                Error::NotAllowed,
                403,
                "not authorized: insufficient permissions",
            ),
            (
                Error::Decrypt,
                400,
                "decryption failed: ciphertext is not authentic",
            ),
            (
                Error::UnsupportedAlgorithm("DES".into()),
                406,
                "algorithm 'DES' is not supported",
            ),
            (
                Error::InvalidKeySize("AES256".into()),
                406,
                "invalid key size for 'AES256'",
            ),
            (Error::HmacNotSupported, 409, "key does not support HMAC"),
            (
                store(StoreOp::Create, failed()),
                502,
                "failed to create key",
            ),
            (
                store(StoreOp::Read, unreachable()),
                502,
                "failed to read key",
            ),
            (store(StoreOp::List, failed()), 502, "failed to list keys"),
            (
                store(StoreOp::Delete, failed()),
                502,
                "failed to delete key",
            ),
            (
                store(StoreOp::Status, unreachable()),
                504,
                "key store is not reachable",
            ),
            (
                store(StoreOp::Status, failed()),
                502,
                "key store is unavailable",
            ),
            (Error::CorruptKey("bad"), 502, "failed to read key"),
            (Error::Random, 500, "failed to generate encryption key"),
            (Error::Encrypt, 500, "failed to encrypt plaintext"),
            (
                Error::InvalidArgument("no endpoint given".into()),
                400,
                "invalid argument: no endpoint given",
            ),
            (
                Error::Forked,
                500,
                "this handle was opened in the parent process: open a new one after fork()",
            ),
            (
                Error::Runtime("no threads".into()),
                500,
                "failed to start the kesrs runtime: no threads",
            ),
        ];
        let not_authentic = "decryption failed: ciphertext is not authentic";
        let envelope: Vec<(EnvelopeError, u16, &str)> = vec![
            (
                EnvelopeError::NotAnEnvelope,
                400,
                "invalid envelope: not a kesrs envelope",
            ),
            (
                EnvelopeError::UnsupportedVersion(2),
                400,
                "invalid envelope: unsupported version 2",
            ),
            (
                EnvelopeError::UnknownFlags(0x84),
                400,
                "invalid envelope: unknown flags 0x84",
            ),
            (
                EnvelopeError::InvalidKeyName,
                400,
                "invalid envelope: invalid key name",
            ),
            (
                EnvelopeError::CiphertextLength(0),
                400,
                "invalid envelope: invalid data key ciphertext length 0",
            ),
            (
                EnvelopeError::TruncatedHeader,
                400,
                "invalid envelope: truncated header",
            ),
            (
                EnvelopeError::DataKeyLength,
                400,
                "invalid envelope: data key is not 32 bytes",
            ),
            (
                EnvelopeError::KeyNotAccepted,
                403,
                "invalid envelope: key is not accepted",
            ),
            (EnvelopeError::HeaderAuthentication, 400, not_authentic),
            (EnvelopeError::MalformedPackage(3), 400, not_authentic),
            (EnvelopeError::PackageAuthentication(3), 400, not_authentic),
            (EnvelopeError::Truncated, 400, not_authentic),
            (EnvelopeError::TrailingData, 400, not_authentic),
            (
                EnvelopeError::TooLarge,
                400,
                "invalid envelope: message is too large",
            ),
            (
                EnvelopeError::RangeOutOfBounds,
                400,
                "invalid envelope: range is out of bounds",
            ),
            (
                EnvelopeError::InvalidReuseLimits,
                400,
                "invalid envelope: data key reuse limits must be non-zero",
            ),
        ];
        let table = table
            .into_iter()
            .chain(
                envelope
                    .into_iter()
                    .map(|(e, s, m)| (Error::Envelope(e), s, m)),
            )
            .chain([(
                Error::Io(std::io::ErrorKind::Other.into()),
                500,
                "I/O failed",
            )]);
        for (error, status, message) in table {
            assert_eq!(
                (error.status(), error.message().as_str()),
                (status, message)
            );
            // What a server sends, a client maps back to the same variant.
            let back = Error::from_response(status, message.to_owned());
            assert_eq!(
                (back.status(), back.message()),
                (status, message.to_owned())
            );
        }
    }

    #[test]
    fn error_codes_are_stable() {
        let table = [
            (ErrorCode::InvalidArgument, 1, "KES_INVALID_ARGUMENT"),
            (ErrorCode::KeyNotFound, 2, "KES_KEY_NOT_FOUND"),
            (ErrorCode::KeyExists, 3, "KES_KEY_EXISTS"),
            (ErrorCode::NotAllowed, 4, "KES_NOT_ALLOWED"),
            (ErrorCode::DecryptFailed, 5, "KES_DECRYPT_FAILED"),
            (
                ErrorCode::KeyStoreUnavailable,
                6,
                "KES_KEY_STORE_UNAVAILABLE",
            ),
            (ErrorCode::HmacNotSupported, 7, "KES_HMAC_NOT_SUPPORTED"),
            (
                ErrorCode::UnsupportedAlgorithm,
                8,
                "KES_UNSUPPORTED_ALGORITHM",
            ),
            (ErrorCode::NotFound, 9, "KES_NOT_FOUND"),
            (ErrorCode::Connection, 10, "KES_CONNECTION"),
            (ErrorCode::Protocol, 11, "KES_PROTOCOL"),
            (ErrorCode::Config, 12, "KES_CONFIG"),
            (ErrorCode::Forked, 13, "KES_FORKED"),
            (ErrorCode::Internal, 14, "KES_INTERNAL"),
            (ErrorCode::Io, 15, "KES_IO"),
        ];
        assert_eq!(table.len(), ErrorCode::ALL.len());
        for ((code, number, name), listed) in table.into_iter().zip(ErrorCode::ALL) {
            assert_eq!(code, listed);
            assert_eq!((code as u32, code.name()), (number, name));
        }
        let errors = [
            (Error::KeyNotFound, ErrorCode::KeyNotFound),
            (Error::KeyExists, ErrorCode::KeyExists),
            (Error::NotAllowed, ErrorCode::NotAllowed),
            (Error::Decrypt, ErrorCode::DecryptFailed),
            (
                Error::InvalidKeySize("AES256".into()),
                ErrorCode::InvalidArgument,
            ),
            (Error::Forked, ErrorCode::Forked),
            (
                Error::Envelope(EnvelopeError::HeaderAuthentication),
                ErrorCode::DecryptFailed,
            ),
            (
                Error::Envelope(EnvelopeError::KeyNotAccepted),
                ErrorCode::NotAllowed,
            ),
            (
                Error::Envelope(EnvelopeError::NotAnEnvelope),
                ErrorCode::InvalidArgument,
            ),
            (Error::Connect("refused".into()), ErrorCode::Connection),
            (
                Error::Tls {
                    endpoint: "https://127.0.0.1:7373".into(),
                    failure: crate::tls::TlsFailure::UnknownIssuer,
                },
                ErrorCode::Connection,
            ),
            (
                Error::KeyStore {
                    op: StoreOp::Read,
                    source: StoreError::Unreachable("down".into()),
                },
                ErrorCode::KeyStoreUnavailable,
            ),
            (
                Error::from_response(502, "failed to read key".into()),
                ErrorCode::KeyStoreUnavailable,
            ),
        ];
        for (error, code) in errors {
            assert_eq!(error.code(), code, "{error:?}");
        }
    }

    #[test]
    fn known_server_errors_become_their_variants() {
        assert!(matches!(
            Error::from_response(404, "key does not exist".into()),
            Error::KeyNotFound
        ));
        assert!(matches!(
            Error::from_response(400, "key does already exist".into()),
            Error::KeyExists
        ));
        assert!(matches!(
            Error::from_response(403, "prohibited by policy".into()),
            Error::NotAllowed
        ));
        assert!(matches!(
            Error::from_response(406, "invalid key size for 'AES256'".into()),
            Error::InvalidKeySize(cipher) if cipher == "AES256"
        ));
        assert!(matches!(
            Error::from_response(406, "algorithm 'DES' is not supported".into()),
            Error::UnsupportedAlgorithm(cipher) if cipher == "DES"
        ));
        assert!(matches!(
            Error::from_response(406, "algorithm 'DES' is fine".into()),
            Error::Server { status: 406, .. }
        ));
        // Same message, other status: not the sentinel (errors.Is compares both).
        assert!(matches!(
            Error::from_response(500, "key does not exist".into()),
            Error::Server { status: 500, .. }
        ));
    }

    #[test]
    fn internal_causes_stay_out_of_the_message() {
        let error = Error::KeyStore {
            op: StoreOp::Read,
            source: StoreError::Failed("disk /dev/sda1 on fire".into()),
        };
        assert_eq!(error.message(), "failed to read key");
        assert!(error.to_string().contains("on fire"));
    }
}
