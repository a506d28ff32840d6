//! What key operations hand back: buffers, data keys, key descriptions and key listings. Each is an
//! opaque object the caller owns and frees with its own `_free` function; accessors borrow from it.

use std::ffi::{c_char, CString};
use std::fmt;

use kesrs_core::{DataKey, Error, KeyInfo, KeyList};
use zeroize::Zeroizing;

use crate::boundary::{self, boundary, Out};
use crate::error::{kes_error, kes_result};

/// Bytes libkes made (a ciphertext, a decrypted plaintext), owned by the caller.
///
/// Read with `kes_buf_data` and `kes_buf_len`; free with `kes_buf_free`, which overwrites the bytes
/// with zeros first: a plaintext does not linger in freed memory. Immutable: any thread may read it, as
/// long as no thread frees it meanwhile.
pub struct kes_buf {
    bytes: Zeroizing<Vec<u8>>,
}

impl kes_buf {
    pub(crate) fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self { bytes }
    }
}

impl fmt::Debug for kes_buf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("kes_buf")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// The buffer's bytes, `kes_buf_len(buf)` of them, valid until `kes_buf_free(buf)`. NULL if `buf` is
/// NULL; not NULL (but not to be read) for an empty buffer.
#[no_mangle]
pub unsafe extern "C" fn kes_buf_data(buf: *const kes_buf) -> *const u8 {
    // SAFETY: kes.h requires `buf` to be NULL or a buffer from libkes that was not freed.
    unsafe { buf.as_ref() }.map_or(std::ptr::null(), |buf| buf.bytes.as_ptr())
}

/// The number of bytes in the buffer; 0 if `buf` is NULL.
#[no_mangle]
pub unsafe extern "C" fn kes_buf_len(buf: *const kes_buf) -> usize {
    // SAFETY: kes.h requires `buf` to be NULL or a buffer from libkes that was not freed.
    unsafe { buf.as_ref() }.map_or(0, |buf| buf.bytes.len())
}

/// Overwrites the buffer's bytes with zeros and frees it. NULL is fine. Once per buffer.
#[no_mangle]
pub unsafe extern "C" fn kes_buf_free(buf: *mut kes_buf) {
    // SAFETY: kes.h requires `buf` to be NULL or a buffer from libkes that was not freed; the caller
    // gives it up here.
    unsafe { boundary::free(buf) }
}

/// A fresh data key from `kes_generate_key`: a 32-byte plaintext key to encrypt data with, and its
/// KES ciphertext to store beside the data (`kes_decrypt` turns it back into the plaintext).
///
/// Owned by the caller; `kes_data_key_free` overwrites the plaintext with zeros and frees it.
/// Immutable: any thread may read it, as long as no thread frees it meanwhile.
pub struct kes_data_key {
    plaintext: Zeroizing<[u8; 32]>,
    ciphertext: Vec<u8>,
}

impl kes_data_key {
    pub(crate) fn new(key: DataKey) -> Self {
        let (plaintext, ciphertext) = key.into_parts();
        Self {
            plaintext,
            ciphertext,
        }
    }
}

impl fmt::Debug for kes_data_key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("kes_data_key { .. }")
    }
}

/// The plaintext key: `KES_DATA_KEY_LEN` (32) bytes, valid until `kes_data_key_free(key)`. NULL if
/// `key` is NULL. Secret: copy it only where it is wiped after use, too.
#[no_mangle]
pub unsafe extern "C" fn kes_data_key_plaintext(key: *const kes_data_key) -> *const u8 {
    // SAFETY: kes.h requires `key` to be NULL or a data key from libkes that was not freed.
    unsafe { key.as_ref() }.map_or(std::ptr::null(), |key| key.plaintext.as_ptr())
}

/// The length of the plaintext key: `KES_DATA_KEY_LEN`, or 0 if `key` is NULL.
#[no_mangle]
pub unsafe extern "C" fn kes_data_key_plaintext_len(key: *const kes_data_key) -> usize {
    // SAFETY: kes.h requires `key` to be NULL or a data key from libkes that was not freed.
    unsafe { key.as_ref() }.map_or(0, |key| key.plaintext.len())
}

/// The KES ciphertext of the plaintext key, `kes_data_key_ciphertext_len(key)` bytes, valid until
/// `kes_data_key_free(key)`. NULL if `key` is NULL. Not secret.
#[no_mangle]
pub unsafe extern "C" fn kes_data_key_ciphertext(key: *const kes_data_key) -> *const u8 {
    // SAFETY: kes.h requires `key` to be NULL or a data key from libkes that was not freed.
    unsafe { key.as_ref() }.map_or(std::ptr::null(), |key| key.ciphertext.as_ptr())
}

/// The length of the ciphertext; 0 if `key` is NULL.
#[no_mangle]
pub unsafe extern "C" fn kes_data_key_ciphertext_len(key: *const kes_data_key) -> usize {
    // SAFETY: kes.h requires `key` to be NULL or a data key from libkes that was not freed.
    unsafe { key.as_ref() }.map_or(0, |key| key.ciphertext.len())
}

/// Overwrites the plaintext key with zeros and frees the data key. NULL is fine. Once per key.
#[no_mangle]
pub unsafe extern "C" fn kes_data_key_free(key: *mut kes_data_key) {
    // SAFETY: kes.h requires `key` to be NULL or a data key from libkes that was not freed; the
    // caller gives it up here.
    unsafe { boundary::free(key) }
}

/// What `kes_describe_key` tells about a key. Owned by the caller, freed with `kes_key_info_free`;
/// the strings its accessors return belong to it. Immutable: any thread may read it, as long as no
/// thread frees it meanwhile.
pub struct kes_key_info {
    name: CString,
    algorithm: CString,
    created_at: i64,
    created_by: Option<CString>,
}

impl kes_key_info {
    pub(crate) fn new(info: KeyInfo) -> Result<Self, Error> {
        Ok(Self {
            name: c_string(info.name.as_str())?,
            algorithm: c_string(info.algorithm.as_str())?,
            created_at: info.created_at.unix_timestamp(),
            created_by: info.created_by.as_deref().map(c_string).transpose()?,
        })
    }
}

impl fmt::Debug for kes_key_info {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("kes_key_info")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The key's name, NUL-terminated, owned by `info`. NULL if `info` is NULL.
#[no_mangle]
pub unsafe extern "C" fn kes_key_info_name(info: *const kes_key_info) -> *const c_char {
    // SAFETY: kes.h requires `info` to be NULL or key info from libkes that was not freed.
    unsafe { info.as_ref() }.map_or(std::ptr::null(), |info| info.name.as_ptr())
}

/// The key's algorithm as KES names it, `"AES256"` or `"ChaCha20"`, owned by `info`. NULL if `info`
/// is NULL.
#[no_mangle]
pub unsafe extern "C" fn kes_key_info_algorithm(info: *const kes_key_info) -> *const c_char {
    // SAFETY: kes.h requires `info` to be NULL or key info from libkes that was not freed.
    unsafe { info.as_ref() }.map_or(std::ptr::null(), |info| info.algorithm.as_ptr())
}

/// When the key was created, in seconds since the Unix epoch (negative for legacy keys that recorded
/// no time: Go's zero time, year 1). 0 if `info` is NULL.
#[no_mangle]
pub unsafe extern "C" fn kes_key_info_created_at(info: *const kes_key_info) -> i64 {
    // SAFETY: kes.h requires `info` to be NULL or key info from libkes that was not freed.
    unsafe { info.as_ref() }.map_or(0, |info| info.created_at)
}

/// The identity that created the key, owned by `info`; NULL if none was recorded (local handles
/// record none) or `info` is NULL.
#[no_mangle]
pub unsafe extern "C" fn kes_key_info_created_by(info: *const kes_key_info) -> *const c_char {
    // SAFETY: kes.h requires `info` to be NULL or key info from libkes that was not freed.
    let created_by = unsafe { info.as_ref() }.and_then(|info| info.created_by.as_ref());
    created_by.map_or(std::ptr::null(), |by| by.as_ptr())
}

/// Frees key info and its strings. NULL is fine. Once per object.
#[no_mangle]
pub unsafe extern "C" fn kes_key_info_free(info: *mut kes_key_info) {
    // SAFETY: kes.h requires `info` to be NULL or key info from libkes that was not freed; the caller
    // gives it up here.
    unsafe { boundary::free(info) }
}

/// The names `kes_list_keys` found, sorted, read one at a time with `kes_key_iter_next`.
///
/// Owned by the caller, freed with `kes_key_iter_free`. Not thread-safe: one thread at a time may
/// call `kes_key_iter_next` on it.
pub struct kes_key_iter {
    names: Vec<CString>,
    next: usize,
}

impl kes_key_iter {
    pub(crate) fn new(list: KeyList) -> Result<Self, Error> {
        let names = list
            .names
            .iter()
            .map(|name| c_string(name))
            .collect::<Result<_, _>>()?;
        Ok(Self { names, next: 0 })
    }
}

impl fmt::Debug for kes_key_iter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("kes_key_iter")
            .field("len", &self.names.len())
            .field("next", &self.next)
            .finish()
    }
}

/// Sets `*name_out` to the next key name, or to NULL once every name was read.
///
/// The name is NUL-terminated and owned by `iter`: valid until `kes_key_iter_free(iter)`.
/// `KES_INVALID_ARGUMENT` if `iter` or `name_out` is NULL.
#[no_mangle]
pub unsafe extern "C" fn kes_key_iter_next(
    iter: *mut kes_key_iter,
    name_out: *mut *const c_char,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `iter` to be NULL or an iterator from libkes that was not freed and
        // that no other thread uses during this call.
        let iter = unsafe { boundary::exclusive(iter, "iter") }?;
        // SAFETY: kes.h requires `name_out` to be NULL or writable.
        let name_out = unsafe { Out::new(name_out, "name_out") }?;
        let name = iter.names.get(iter.next);
        if name.is_some() {
            iter.next = iter.next.saturating_add(1);
        }
        name_out.put(name.map_or(std::ptr::null(), |name| name.as_ptr()));
        Ok(())
    })
}

/// Frees the iterator and every name it returned. NULL is fine. Once per iterator.
#[no_mangle]
pub unsafe extern "C" fn kes_key_iter_free(iter: *mut kes_key_iter) {
    // SAFETY: kes.h requires `iter` to be NULL or an iterator from libkes that was not freed; the
    // caller gives it up here.
    unsafe { boundary::free(iter) }
}

/// Names and algorithms never hold a NUL (names are validated), but the check costs nothing.
fn c_string(text: &str) -> Result<CString, Error> {
    CString::new(text).map_err(|_| Error::Protocol("a name contains a NUL byte"))
}
