//! `kes_result`, the code every call returns, and `kes_error`, the optional details of a failure.

use std::ffi::{c_char, CStr, CString};
use std::fmt;

use kesrs_core::{Error, ErrorCode};

/// What a call did: `KES_OK`, or why it failed.
///
/// The numbers are stable (the same as the Python and Node bindings' codes): a code is never reused
/// for another meaning, and new kinds of failure get new numbers. `0` is success, `1` to `14` are the
/// kinds of error kesrs-core knows, and `100` is a bug in libkes caught at its boundary. A program
/// should treat any value it does not know as a failure.
#[allow(non_camel_case_types)] // The C name, as kes.h spells it.
#[repr(u32)]
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kes_result {
    /// Success.
    KES_OK = 0,
    /// An argument is NULL, not UTF-8, or invalid: a key name, a pattern, an API key, a certificate,
    /// an unreadable file, a key of the wrong size, an output buffer that is too small.
    KES_INVALID_ARGUMENT = 1,
    /// The key does not exist.
    KES_KEY_NOT_FOUND = 2,
    /// A key of that name already exists.
    KES_KEY_EXISTS = 3,
    /// The KES server's policy does not allow the call (remote handles only).
    KES_NOT_ALLOWED = 4,
    /// A ciphertext is not authentic: tampered with, truncated, or decrypted with another key or
    /// context than it was made with.
    KES_DECRYPT_FAILED = 5,
    /// The key store (or, for a remote handle, the server's key store) failed or cannot be reached.
    KES_KEY_STORE_UNAVAILABLE = 6,
    /// The key is a legacy key without an HMAC key.
    KES_HMAC_NOT_SUPPORTED = 7,
    /// An imported key names an algorithm that is not supported.
    KES_UNSUPPORTED_ALGORITHM = 8,
    /// A policy or identity does not exist (a KES server's answer to administration calls; libkes
    /// makes none today, so only a server's unexpected 404 gives it).
    KES_NOT_FOUND = 9,
    /// No KES server could be reached, or it refused the TLS handshake or the credentials.
    KES_CONNECTION = 10,
    /// A KES server answered something that does not follow the KES protocol.
    KES_PROTOCOL = 11,
    /// A configuration file is invalid.
    KES_CONFIG = 12,
    /// The handle was opened in the parent of this (forked) process. Open a new one in the child.
    KES_FORKED = 13,
    /// An internal failure: the random source, the runtime, or a server error of no other kind.
    KES_INTERNAL = 14,
    /// Reading or writing a stream's data failed (a caller's callback reported an error).
    KES_IO = 15,
    /// A bug in libkes: a Rust panic, caught before it reached the caller. The error's message says
    /// what panicked. The library remains usable.
    KES_PANIC = 100,
}

impl kes_result {
    /// The code of a core error kind: the same number.
    fn of(code: ErrorCode) -> Self {
        match code {
            ErrorCode::InvalidArgument => Self::KES_INVALID_ARGUMENT,
            ErrorCode::KeyNotFound => Self::KES_KEY_NOT_FOUND,
            ErrorCode::KeyExists => Self::KES_KEY_EXISTS,
            ErrorCode::NotAllowed => Self::KES_NOT_ALLOWED,
            ErrorCode::DecryptFailed => Self::KES_DECRYPT_FAILED,
            ErrorCode::KeyStoreUnavailable => Self::KES_KEY_STORE_UNAVAILABLE,
            ErrorCode::HmacNotSupported => Self::KES_HMAC_NOT_SUPPORTED,
            ErrorCode::UnsupportedAlgorithm => Self::KES_UNSUPPORTED_ALGORITHM,
            ErrorCode::NotFound => Self::KES_NOT_FOUND,
            ErrorCode::Connection => Self::KES_CONNECTION,
            ErrorCode::Protocol => Self::KES_PROTOCOL,
            ErrorCode::Config => Self::KES_CONFIG,
            ErrorCode::Forked => Self::KES_FORKED,
            ErrorCode::Internal => Self::KES_INTERNAL,
            ErrorCode::Io => Self::KES_IO,
            // A kind newer than this library: still a failure, never success.
            _ => Self::KES_INTERNAL,
        }
    }

    /// The code's name, NUL-terminated.
    fn name(self) -> &'static CStr {
        match self {
            Self::KES_OK => c"KES_OK",
            Self::KES_INVALID_ARGUMENT => c"KES_INVALID_ARGUMENT",
            Self::KES_KEY_NOT_FOUND => c"KES_KEY_NOT_FOUND",
            Self::KES_KEY_EXISTS => c"KES_KEY_EXISTS",
            Self::KES_NOT_ALLOWED => c"KES_NOT_ALLOWED",
            Self::KES_DECRYPT_FAILED => c"KES_DECRYPT_FAILED",
            Self::KES_KEY_STORE_UNAVAILABLE => c"KES_KEY_STORE_UNAVAILABLE",
            Self::KES_HMAC_NOT_SUPPORTED => c"KES_HMAC_NOT_SUPPORTED",
            Self::KES_UNSUPPORTED_ALGORITHM => c"KES_UNSUPPORTED_ALGORITHM",
            Self::KES_NOT_FOUND => c"KES_NOT_FOUND",
            Self::KES_CONNECTION => c"KES_CONNECTION",
            Self::KES_PROTOCOL => c"KES_PROTOCOL",
            Self::KES_CONFIG => c"KES_CONFIG",
            Self::KES_FORKED => c"KES_FORKED",
            Self::KES_INTERNAL => c"KES_INTERNAL",
            Self::KES_IO => c"KES_IO",
            Self::KES_PANIC => c"KES_PANIC",
        }
    }

    /// Every code, for `kes_result_name` (which takes a plain number: a C caller may pass any).
    const ALL: [Self; 17] = [
        Self::KES_OK,
        Self::KES_INVALID_ARGUMENT,
        Self::KES_KEY_NOT_FOUND,
        Self::KES_KEY_EXISTS,
        Self::KES_NOT_ALLOWED,
        Self::KES_DECRYPT_FAILED,
        Self::KES_KEY_STORE_UNAVAILABLE,
        Self::KES_HMAC_NOT_SUPPORTED,
        Self::KES_UNSUPPORTED_ALGORITHM,
        Self::KES_NOT_FOUND,
        Self::KES_CONNECTION,
        Self::KES_PROTOCOL,
        Self::KES_CONFIG,
        Self::KES_FORKED,
        Self::KES_INTERNAL,
        Self::KES_IO,
        Self::KES_PANIC,
    ];
}

/// The name of a result code, such as `"KES_KEY_NOT_FOUND"`, or `"KES_UNKNOWN"` for a number that is
/// no code (one from a newer libkes, say).
///
/// The string is static: never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn kes_result_name(result: u32) -> *const c_char {
    kes_result::ALL
        .into_iter()
        .find(|code| *code as u32 == result)
        .map_or(c"KES_UNKNOWN", kes_result::name)
        .as_ptr()
}

/// The details of a failed call: its code, the KES HTTP status, and messages.
///
/// Made by a failing call that was given a non-NULL `kes_error **err_out`; owned by the caller, who
/// frees it with `kes_error_free`. Immutable: any thread may read it, as long as no thread frees it
/// meanwhile.
pub struct kes_error {
    code: kes_result,
    status: u16,
    message: CString,
    detail: CString,
}

impl kes_error {
    /// The details of a core error.
    pub(crate) fn from_core(err: &Error) -> Self {
        Self::new(
            kes_result::of(err.code()),
            err.status(),
            err.message(),
            err.to_string(),
        )
    }

    /// The details of a panic caught at the boundary.
    pub(crate) fn panic(what: &str) -> Self {
        let message = format!("libkes panicked: {what}");
        Self::new(kes_result::KES_PANIC, 500, message.clone(), message)
    }

    pub(crate) fn code(&self) -> kes_result {
        self.code
    }

    fn new(code: kes_result, status: u16, message: String, detail: String) -> Self {
        Self {
            code,
            status,
            message: c_string(message),
            detail: c_string(detail),
        }
    }
}

impl fmt::Debug for kes_error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("kes_error")
            .field("code", &self.code)
            .field("status", &self.status)
            .field("detail", &self.detail)
            .finish()
    }
}

/// The error's code: the same value the failing call returned. `KES_INVALID_ARGUMENT` if `err` is
/// NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn kes_error_code(err: *const kes_error) -> kes_result {
    // SAFETY: kes.h requires `err` to be NULL or an error from libkes that was not freed.
    unsafe { err.as_ref() }.map_or(kes_result::KES_INVALID_ARGUMENT, |err| err.code)
}

/// The HTTP status a KES server answers with for this error (404 for `KES_KEY_NOT_FOUND`, 403 for
/// `KES_NOT_ALLOWED`, ...): the same for a local and a remote handle. 500 for `KES_PANIC`, 0 if `err`
/// is NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn kes_error_status(err: *const kes_error) -> u16 {
    // SAFETY: kes.h requires `err` to be NULL or an error from libkes that was not freed.
    unsafe { err.as_ref() }.map_or(0, |err| err.status)
}

/// The message a KES server answers with for this error, byte for byte (`"key does not exist"`): the
/// text MinIO and the KES clients compare. A NUL-terminated UTF-8 string owned by `err`, valid until
/// `kes_error_free(err)`; never NULL (`""` if `err` is NULL). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn kes_error_message(err: *const kes_error) -> *const c_char {
    // SAFETY: kes.h requires `err` to be NULL or an error from libkes that was not freed.
    unsafe { err.as_ref() }.map_or(c"".as_ptr(), |err| err.message.as_ptr())
}

/// The message with its cause, for people and logs: what `kes_error_message` says, plus what the key
/// store, the network or the configuration parser reported (`"invalid configuration"` becomes which
/// field is wrong). Owned by `err` like `kes_error_message`; never NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn kes_error_detail(err: *const kes_error) -> *const c_char {
    // SAFETY: kes.h requires `err` to be NULL or an error from libkes that was not freed.
    unsafe { err.as_ref() }.map_or(c"".as_ptr(), |err| err.detail.as_ptr())
}

/// Frees an error and the strings it owns. `NULL` is fine. Call it once per error, after every other
/// thread is done with it.
#[no_mangle]
pub unsafe extern "C" fn kes_error_free(err: *mut kes_error) {
    if !err.is_null() {
        // SAFETY: kes.h requires `err` to be an error from libkes (made with `Box::into_raw`) that
        // was not freed; the caller gives up its pointer here.
        drop(unsafe { Box::from_raw(err) });
    }
}

/// `text` as a C string; a NUL inside (which no message has) ends it early rather than failing.
fn c_string(text: String) -> CString {
    CString::new(text).unwrap_or_else(|err| {
        let end = err.nul_position();
        let mut bytes = err.into_vec();
        bytes.truncate(end);
        CString::new(bytes).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The C codes are core's numbers: the bindings agree on them.
    #[test]
    fn every_core_code_keeps_its_number_and_name() {
        for code in ErrorCode::ALL {
            let ours = kes_result::of(code);
            assert_eq!(ours as u32, code as u32, "{code:?}");
            assert_eq!(ours.name().to_str().unwrap(), code.name());
        }
        assert_eq!(kes_result::KES_OK as u32, 0);
        assert_eq!(kes_result::KES_PANIC as u32, 100);
        for code in kes_result::ALL {
            // SAFETY: kes_result_name returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(kes_result_name(code as u32)) };
            assert_eq!(name, code.name());
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(kes_result_name(16)) };
        assert_eq!(unknown, c"KES_UNKNOWN");
    }
}
