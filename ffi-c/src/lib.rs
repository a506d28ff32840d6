//! libkes: kesrs's key handle for C programs, as `libkes.so` and `libkes.a` with `include/kes.h`.
//!
//! This crate is glue and nothing else: it checks C arguments, calls `kesrs_core::BlockingKeys`, and
//! turns core's [`kesrs_core::Error`] into a `kes_result` code and an optional `kes_error`. Anything a
//! C program and a Rust, Python or Node program could disagree on belongs in core.
//!
//! The shape is rustls-ffi's: opaque handles each owned by one `Box` and freed by one `_free`
//! function; every fallible call returns a `kes_result` and may hand out a `kes_error`; every body
//! runs inside one panic boundary (`boundary!`) and checks its pointers with one family of helpers
//! (`boundary::{reference, text, bytes, Out}`); outputs are written only on success. kes.h is generated
//! from the doc comments here by cbindgen (`ffi-c/cbindgen.toml`) and committed.
//!
//! The public interface is the `extern "C"` functions and types of:
//! - `error`: `kes_result`, `kes_result_name`, `kes_error` and its accessors;
//! - `keys`: `kes_keys`, how to open one, and every key operation;
//! - `context`: `kes_context_from_map`, a string map as context bytes;
//! - `envelope`: sealed messages: `kes_seal`, `kes_open`, their streams over callbacks, and ranges,
//!   on a handle's defaults or on a `kes_envelope`;
//! - `envelope_builder`: `kes_envelope_builder` and `kes_envelope`: accepted key names and data-key
//!   reuse;
//! - `values`: `kes_buf`, `kes_data_key`, `kes_key_info`, `kes_key_iter`.

// A C library cannot be written without `unsafe`: every function receives raw pointers from C. The
// workspace denies `unsafe_code`; this crate alone allows it, denies unsafe operations outside an
// `unsafe` block even in an `unsafe fn`, and wants a `// SAFETY:` comment on every block.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
// Every `extern "C"` function is `unsafe` because it takes raw pointers; the contract is the same for
// all (each pointer NULL or valid as the function's doc says, never freed during the call) and is
// stated once, at the top of kes.h, rather than in a `# Safety` section per function.
#![allow(clippy::missing_safety_doc)]
// The C names (`kes_keys`, `KES_OK`) are the Rust names, as in rustls-ffi: cbindgen copies them.
#![allow(non_camel_case_types)]
// Each operation takes the handle, its inputs (a buffer with its length) and its outputs, as C does.
#![allow(clippy::too_many_arguments)]

mod boundary;
pub mod context;
pub mod envelope;
pub mod envelope_builder;
pub mod error;
pub mod internal;
pub mod keys;
pub mod values;

use std::ffi::c_char;

/// libkes's major version. The library's soname is `libkes.so.<major>`.
pub const KES_VERSION_MAJOR: u32 = 0;
/// libkes's minor version.
pub const KES_VERSION_MINOR: u32 = 1;
/// libkes's patch version.
pub const KES_VERSION_PATCH: u32 = 0;

/// The version of the library the program runs with, such as `"0.1.0"` (kes.h's `KES_VERSION_*` are
/// those it was compiled against). Static: never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn kes_version() -> *const c_char {
    VERSION.as_ptr()
}

const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
) {
    Ok(version) => version,
    Err(_) => c"",
};

#[cfg(test)]
mod tests {
    use super::*;

    /// kes.h's version macros are Cargo.toml's version.
    #[test]
    fn version_constants_match_cargo_toml() {
        let version = format!("{KES_VERSION_MAJOR}.{KES_VERSION_MINOR}.{KES_VERSION_PATCH}");
        assert_eq!(version, env!("CARGO_PKG_VERSION"));
        assert_eq!(VERSION.to_str().unwrap(), version);
    }
}
