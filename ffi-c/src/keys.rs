//! `kes_keys`, the handle: how to open one, and every key operation on it.

use std::ffi::c_char;
use std::fmt;
use std::path::Path;

use kesrs_core::client::Credentials;
use kesrs_core::{ApiKey, BlockingKeys, Error, KeyType, Keys, Pattern, RemoteOptions};
use zeroize::Zeroizing;

use crate::boundary::{self, boundary, Out};
use crate::error::{kes_error, kes_result};
use crate::values::{kes_buf, kes_data_key, kes_key_info, kes_key_iter};

/// The length of a data key's plaintext, in bytes.
pub const KES_DATA_KEY_LEN: usize = 32;

/// The length of an HMAC from `kes_hmac`, in bytes.
pub const KES_HMAC_LEN: usize = 32;

/// A handle to keys: in this process (a KES config file's key store, an fs key directory, or memory)
/// or behind a KES server (`kes_keys_connect`). The operations and their errors are the same either
/// way.
///
/// Owned by the caller, freed with `kes_keys_free`. Thread-safe: any number of threads may call
/// operations on one handle at once (they share its key cache and connections). A handle is only
/// valid in the process that opened it: after `fork()`, every operation in the child fails at once with
/// `KES_FORKED`; open a new handle there.
pub struct kes_keys {
    keys: BlockingKeys,
}

impl kes_keys {
    /// The core handle, for the crate's internal functions.
    pub(crate) fn blocking(&self) -> &BlockingKeys {
        &self.keys
    }

    fn open(keys: Result<Keys, Error>, keys_out: Out<*mut kes_keys>) -> Result<(), Error> {
        let keys = keys?.blocking();
        keys_out.put(boundary::into_raw(kes_keys { keys }));
        Ok(())
    }
}

impl fmt::Debug for kes_keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("kes_keys")
            .field("remote", &self.keys.is_remote())
            .finish_non_exhaustive()
    }
}

// Every operation takes `&kes_keys` from many threads at once.
const _: () = {
    const fn thread_safe<T: Send + Sync>() {}
    thread_safe::<kes_keys>();
};

/// Opens the key store a KES server config file names: its `keystore:` section (fs or Azure Key
/// Vault) and `cache:` section; `${NAME}` references read the environment, as the server does. Other
/// sections are ignored.
///
/// `path` is a NUL-terminated UTF-8 path. On success, `*keys_out` is a new handle for
/// `kes_keys_free`. `KES_CONFIG` if the file cannot be read or is invalid (`kes_error_detail` says
/// why).
#[no_mangle]
pub unsafe extern "C" fn kes_keys_from_config(
    path: *const c_char,
    keys_out: *mut *mut kes_keys,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `path` to be NULL or a NUL-terminated string.
        let path = unsafe { boundary::text(path, "path") }?;
        // SAFETY: kes.h requires `keys_out` to be NULL or writable.
        let keys_out = unsafe { Out::new(keys_out, "keys_out") }?;
        kes_keys::open(Keys::from_config(Path::new(path)), keys_out)
    })
}

/// Opens a KES fs key store: one file per key in the directory `path`, which is created if missing.
///
/// `path` is a NUL-terminated UTF-8 path. On success, `*keys_out` is a new handle for
/// `kes_keys_free`. `KES_KEY_STORE_UNAVAILABLE` if the directory cannot be created or used.
#[no_mangle]
pub unsafe extern "C" fn kes_keys_from_fs(
    path: *const c_char,
    keys_out: *mut *mut kes_keys,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `path` to be NULL or a NUL-terminated string.
        let path = unsafe { boundary::text(path, "path") }?;
        // SAFETY: kes.h requires `keys_out` to be NULL or writable.
        let keys_out = unsafe { Out::new(keys_out, "keys_out") }?;
        kes_keys::open(Keys::from_fs(Path::new(path)), keys_out)
    })
}

/// Opens an empty key store in memory, gone when the handle is freed. For tests.
///
/// On success, `*keys_out` is a new handle for `kes_keys_free`.
#[no_mangle]
pub unsafe extern "C" fn kes_keys_in_memory(
    keys_out: *mut *mut kes_keys,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys_out` to be NULL or writable.
        let keys_out = unsafe { Out::new(keys_out, "keys_out") }?;
        kes_keys::open(Keys::in_memory(), keys_out)
    })
}

/// Opens a handle that asks a KES server (kesrs or MinIO's KES) over mutual TLS; the server's policies
/// apply to every call.
///
/// - `endpoints`: `endpoints_len` (at least one) NUL-terminated URLs (`https://host:port`) of servers
///   that share their keys; each call goes to the first that answers.
/// - Credentials, exactly one of: `api_key`, a `kes:v1:` API key (MinIO's `MINIO_KMS_KES_API_KEY`);
///   or `cert_file` and `key_file`, paths of a PEM client certificate and its PEM private key. The
///   other (or others) NULL.
/// - `ca_file`: a PEM file of the CA certificates the server's certificate must chain to (MinIO's
///   `MINIO_KMS_KES_CAPATH`), or NULL to trust the system's roots.
///
/// Nothing is sent yet: an unreachable server shows as `KES_CONNECTION` from the first operation.
/// libkes copies what it needs; the caller's strings are not kept. On success, `*keys_out` is a new
/// handle for `kes_keys_free`. `KES_INVALID_ARGUMENT` for a malformed API key, an unreadable file,
/// or not exactly one kind of credentials.
#[no_mangle]
pub unsafe extern "C" fn kes_keys_connect(
    endpoints: *const *const c_char,
    endpoints_len: usize,
    api_key: *const c_char,
    cert_file: *const c_char,
    key_file: *const c_char,
    ca_file: *const c_char,
    keys_out: *mut *mut kes_keys,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `endpoints` to be NULL or `endpoints_len` readable pointers, each
        // NULL or a NUL-terminated string.
        let endpoints = unsafe { boundary::strings(endpoints, endpoints_len, "endpoints") }?;
        if endpoints.is_empty() {
            return Err(Error::InvalidArgument("no endpoint given".into()));
        }
        let endpoints = endpoints.into_iter().map(str::to_owned).collect();
        // SAFETY: kes.h requires each of these to be NULL or a NUL-terminated string.
        let (api_key, cert_file, key_file, ca_file) = unsafe {
            (
                boundary::optional_text(api_key, "api_key")?,
                boundary::optional_text(cert_file, "cert_file")?,
                boundary::optional_text(key_file, "key_file")?,
                boundary::optional_text(ca_file, "ca_file")?,
            )
        };
        // SAFETY: kes.h requires `keys_out` to be NULL or writable.
        let keys_out = unsafe { Out::new(keys_out, "keys_out") }?;
        let credentials = match (api_key, cert_file, key_file) {
            (Some(api_key), None, None) => Credentials::ApiKey(ApiKey::parse(api_key)?),
            (None, Some(cert), Some(key)) => {
                RemoteOptions::certificate_files(Path::new(cert), Path::new(key))?
            }
            _ => {
                return Err(Error::InvalidArgument(
                    "give either api_key, or cert_file and key_file".into(),
                ))
            }
        };
        let mut options = RemoteOptions::new(endpoints, credentials);
        if let Some(ca_file) = ca_file {
            let pem = std::fs::read(ca_file)
                .map_err(|err| Error::InvalidArgument(format!("cannot read '{ca_file}': {err}")))?;
            options = options.with_ca_pem(pem);
        }
        kes_keys::open(Keys::connect(options), keys_out)
    })
}

/// Frees a handle. NULL is fine. Once per handle, after every thread is done with it; data keys,
/// buffers and errors it returned stay valid.
#[no_mangle]
pub unsafe extern "C" fn kes_keys_free(keys: *mut kes_keys) {
    // SAFETY: kes.h requires `keys` to be NULL or a handle from libkes that was not freed and that no
    // other thread uses any more; the caller gives it up here.
    unsafe { boundary::free(keys) }
}

/// Creates a new AES256 key named `name` (NUL-terminated; KES's key names: letters, digits, `-`, `_`
/// and `.`, at most 80 bytes).
///
/// `KES_KEY_EXISTS` if a key of that name exists.
#[no_mangle]
pub unsafe extern "C" fn kes_create_key(
    keys: *const kes_keys,
    name: *const c_char,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys` to be NULL or a live handle, and `name` NULL or a
        // NUL-terminated string.
        let (keys, name) = unsafe { (handle(keys)?, boundary::key_name(name)?) };
        keys.create_key(&name)
    })
}

/// Imports `key` (`key_len` bytes, which must be 32) as a key named `name` for `algorithm`
/// (NUL-terminated: `"AES256"` or `"ChaCha20"`, or KES's long forms `"AES256-GCM_SHA256"` and
/// `"XCHACHA20-POLY1305"`).
///
/// The caller's bytes are copied, not kept. `KES_KEY_EXISTS` if a key of that name exists,
/// `KES_UNSUPPORTED_ALGORITHM` for another algorithm, `KES_INVALID_ARGUMENT` for another length.
#[no_mangle]
pub unsafe extern "C" fn kes_import_key(
    keys: *const kes_keys,
    name: *const c_char,
    key: *const u8,
    key_len: usize,
    algorithm: *const c_char,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys` to be NULL or a live handle, `name` and `algorithm` NULL or
        // NUL-terminated strings, and `key` NULL or `key_len` readable bytes.
        let (keys, name, key, algorithm) = unsafe {
            (
                handle(keys)?,
                boundary::key_name(name)?,
                boundary::bytes(key, key_len, "key")?,
                boundary::text(algorithm, "algorithm")?,
            )
        };
        keys.import_key(&name, key, KeyType::from_cipher(algorithm)?)
    })
}

/// Describes the key `name`. On success, `*info_out` is a new `kes_key_info` for
/// `kes_key_info_free`.
///
/// `KES_KEY_NOT_FOUND` if there is no such key.
#[no_mangle]
pub unsafe extern "C" fn kes_describe_key(
    keys: *const kes_keys,
    name: *const c_char,
    info_out: *mut *mut kes_key_info,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys` to be NULL or a live handle, `name` NULL or a NUL-terminated
        // string, and `info_out` NULL or writable.
        let (keys, name, info_out) = unsafe {
            (
                handle(keys)?,
                boundary::key_name(name)?,
                Out::new(info_out, "info_out")?,
            )
        };
        let info = kes_key_info::new(keys.describe_key(&name)?)?;
        info_out.put(boundary::into_raw(info));
        Ok(())
    })
}

/// Deletes the key `name`. Everything encrypted under it can no longer be decrypted.
///
/// `KES_KEY_NOT_FOUND` if there is no such key.
#[no_mangle]
pub unsafe extern "C" fn kes_delete_key(
    keys: *const kes_keys,
    name: *const c_char,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys` to be NULL or a live handle, and `name` NULL or a
        // NUL-terminated string.
        let (keys, name) = unsafe { (handle(keys)?, boundary::key_name(name)?) };
        keys.delete_key(&name)
    })
}

/// Lists the keys `pattern` selects (NUL-terminated: `"*"` for all, `"prefix*"` for those starting
/// with `prefix`, or an exact name). On success, `*iter_out` is a new `kes_key_iter` over the names,
/// sorted, for `kes_key_iter_next` and `kes_key_iter_free`.
#[no_mangle]
pub unsafe extern "C" fn kes_list_keys(
    keys: *const kes_keys,
    pattern: *const c_char,
    iter_out: *mut *mut kes_key_iter,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys` to be NULL or a live handle, `pattern` NULL or a
        // NUL-terminated string, and `iter_out` NULL or writable.
        let (keys, pattern, iter_out) = unsafe {
            (
                handle(keys)?,
                boundary::text(pattern, "pattern")?,
                Out::new(iter_out, "iter_out")?,
            )
        };
        let list = keys.list_keys(&Pattern::new(pattern)?)?;
        iter_out.put(boundary::into_raw(kes_key_iter::new(list)?));
        Ok(())
    })
}

/// Generates a fresh data key under the key `name`, bound to `context` (`context_len` bytes; NULL
/// with 0 for none): the same context must be given to decrypt its ciphertext. On success,
/// `*data_key_out` is a new `kes_data_key` for `kes_data_key_free`.
///
/// `KES_KEY_NOT_FOUND` if there is no such key.
#[no_mangle]
pub unsafe extern "C" fn kes_generate_key(
    keys: *const kes_keys,
    name: *const c_char,
    context: *const u8,
    context_len: usize,
    data_key_out: *mut *mut kes_data_key,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys` to be NULL or a live handle, `name` NULL or a NUL-terminated
        // string, `context` NULL or `context_len` readable bytes, and `data_key_out` NULL or
        // writable.
        let (keys, name, context, data_key_out) = unsafe {
            (
                handle(keys)?,
                boundary::key_name(name)?,
                boundary::bytes(context, context_len, "context")?,
                Out::new(data_key_out, "data_key_out")?,
            )
        };
        let data_key = keys.generate_key(&name, context)?;
        data_key_out.put(boundary::into_raw(kes_data_key::new(data_key)));
        Ok(())
    })
}

/// Encrypts `plaintext` (`plaintext_len` bytes, small: KES servers take at most 1 MiB) under the key
/// `name`, bound to `context` (`context_len` bytes; NULL with 0 for none), in KES's ciphertext
/// format. On success, `*ciphertext_out` is a new `kes_buf` for `kes_buf_free`.
///
/// `KES_KEY_NOT_FOUND` if there is no such key.
#[no_mangle]
pub unsafe extern "C" fn kes_encrypt(
    keys: *const kes_keys,
    name: *const c_char,
    plaintext: *const u8,
    plaintext_len: usize,
    context: *const u8,
    context_len: usize,
    ciphertext_out: *mut *mut kes_buf,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys` to be NULL or a live handle, `name` NULL or a NUL-terminated
        // string, `plaintext` and `context` NULL or as many readable bytes as their lengths say, and
        // `ciphertext_out` NULL or writable.
        let (keys, name, plaintext, context, ciphertext_out) = unsafe {
            (
                handle(keys)?,
                boundary::key_name(name)?,
                boundary::bytes(plaintext, plaintext_len, "plaintext")?,
                boundary::bytes(context, context_len, "context")?,
                Out::new(ciphertext_out, "ciphertext_out")?,
            )
        };
        let ciphertext = keys.encrypt(&name, plaintext, context)?;
        ciphertext_out.put(boundary::into_raw(kes_buf::new(Zeroizing::new(ciphertext))));
        Ok(())
    })
}

/// Decrypts a KES ciphertext (`ciphertext_len` bytes: from `kes_encrypt`, a data key's ciphertext,
/// or any format KES ever wrote) under the key `name` with `context` (`context_len` bytes; NULL with
/// 0 for none). On success, `*plaintext_out` is a new `kes_buf` for `kes_buf_free`, which wipes it.
///
/// `KES_DECRYPT_FAILED` if the ciphertext is not authentic or the key or context differs from the
/// one it was made with; `KES_KEY_NOT_FOUND` if there is no such key.
#[no_mangle]
pub unsafe extern "C" fn kes_decrypt(
    keys: *const kes_keys,
    name: *const c_char,
    ciphertext: *const u8,
    ciphertext_len: usize,
    context: *const u8,
    context_len: usize,
    plaintext_out: *mut *mut kes_buf,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys` to be NULL or a live handle, `name` NULL or a NUL-terminated
        // string, `ciphertext` and `context` NULL or as many readable bytes as their lengths say, and
        // `plaintext_out` NULL or writable.
        let (keys, name, ciphertext, context, plaintext_out) = unsafe {
            (
                handle(keys)?,
                boundary::key_name(name)?,
                boundary::bytes(ciphertext, ciphertext_len, "ciphertext")?,
                boundary::bytes(context, context_len, "context")?,
                Out::new(plaintext_out, "plaintext_out")?,
            )
        };
        let plaintext = keys.decrypt(&name, ciphertext, context)?;
        plaintext_out.put(boundary::into_raw(kes_buf::new(plaintext)));
        Ok(())
    })
}

/// Computes the HMAC-SHA256 of `message` (`message_len` bytes; NULL with 0 for none) under the
/// HMAC key of the key `name` (the same message always gives the same HMAC under one key), and writes
/// its `KES_HMAC_LEN` (32) bytes to `mac_out`, a caller's buffer of `mac_out_len` bytes.
///
/// `KES_INVALID_ARGUMENT` if `mac_out_len` is less than `KES_HMAC_LEN`; `KES_HMAC_NOT_SUPPORTED` for
/// a legacy key without an HMAC key; `KES_KEY_NOT_FOUND` if there is no such key.
#[no_mangle]
pub unsafe extern "C" fn kes_hmac(
    keys: *const kes_keys,
    name: *const c_char,
    message: *const u8,
    message_len: usize,
    mac_out: *mut u8,
    mac_out_len: usize,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys` to be NULL or a live handle, `name` NULL or a NUL-terminated
        // string, and `message` NULL or `message_len` readable bytes.
        let (keys, name, message) = unsafe {
            (
                handle(keys)?,
                boundary::key_name(name)?,
                boundary::bytes(message, message_len, "message")?,
            )
        };
        if mac_out.is_null() {
            return Err(Error::InvalidArgument("mac_out is NULL".into()));
        }
        if mac_out_len < KES_HMAC_LEN {
            return Err(Error::InvalidArgument(format!(
                "mac_out has {mac_out_len} bytes, an HMAC needs {KES_HMAC_LEN}"
            )));
        }
        // SAFETY: kes.h requires `mac_out` to be NULL (excluded above) or `mac_out_len` writable
        // bytes, which are at least the `KES_HMAC_LEN` the array is; the cast is to `u8`'s array of
        // alignment 1.
        let mac_out = unsafe { Out::new(mac_out.cast::<[u8; KES_HMAC_LEN]>(), "mac_out") }?;
        mac_out.put(keys.hmac(&name, message)?);
        Ok(())
    })
}

/// Checks that the key store (for a remote handle: the server and its key store) answers, and sets
/// `*latency_ns_out`, unless it is NULL, to how long it took, in nanoseconds.
///
/// `KES_KEY_STORE_UNAVAILABLE` if the key store cannot be reached; `KES_CONNECTION` if the server
/// cannot.
#[no_mangle]
pub unsafe extern "C" fn kes_status(
    keys: *const kes_keys,
    latency_ns_out: *mut u64,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys` to be NULL or a live handle, and `latency_ns_out` NULL or
        // writable.
        let (keys, latency_ns_out) = unsafe { (handle(keys)?, Out::optional(latency_ns_out)) };
        let status = keys.status()?;
        if let Some(out) = latency_ns_out {
            out.put(u64::try_from(status.latency.as_nanos()).unwrap_or(u64::MAX));
        }
        Ok(())
    })
}

/// The core handle of `keys`.
///
/// # Safety
/// `keys` is NULL or a handle from libkes that is not freed while the reference lives.
unsafe fn handle<'a>(keys: *const kes_keys) -> Result<&'a BlockingKeys, Error> {
    // SAFETY: this function's contract is `reference`'s.
    unsafe { boundary::reference(keys, "keys") }.map(kes_keys::blocking)
}
