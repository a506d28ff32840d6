//! `kes_context_from_map`: a MinIO-style string map as the context bytes every other call takes.
//!
//! A function that returns bytes, rather than a context type the operations take: KES's context is
//! bytes, every operation already takes it as a buffer, and a map made here and the same bytes made
//! anywhere else (MinIO, the Python and Node bindings, core's `Context::from_map`) are then one and
//! the same argument.

use std::ffi::c_char;

use kesrs_core::Context;
use zeroize::Zeroizing;

use crate::boundary::{self, boundary, Out};
use crate::error::{kes_error, kes_result};
use crate::values::kes_buf;

/// The context bytes of a string map, as MinIO makes them for KES (`internal/kms` `Context`): JSON
/// with the keys sorted by their bytes, no whitespace, Go's escaping (`{"bucket":"b","object":"o"}`;
/// `{}` for no pairs). Pass `kes_buf_data` and `kes_buf_len` of the result as the `context` of any
/// call (`kes_generate_key`, `kes_seal`, ...): the map and its bytes are the same context.
///
/// The map is `len` pairs: `names[i]` and `values[i]`, NUL-terminated UTF-8 strings (NULL arrays with
/// `len` 0 for the empty map). A name given twice keeps its last value. libkes copies them. On
/// success, `*context_out` is a new `kes_buf` for `kes_buf_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn kes_context_from_map(
    names: *const *const c_char,
    values: *const *const c_char,
    len: usize,
    context_out: *mut *mut kes_buf,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `names` and `values` to be NULL or `len` readable pointers, each NULL
        // or a NUL-terminated string, and `context_out` NULL or writable.
        let (names, values, context_out) = unsafe {
            (
                boundary::strings(names, len, "names")?,
                boundary::strings(values, len, "values")?,
                Out::new(context_out, "context_out")?,
            )
        };
        let context = Context::from_map(names.into_iter().zip(values));
        context_out.put(boundary::into_raw(kes_buf::new(Zeroizing::new(
            context.into_bytes(),
        ))));
        Ok(())
    })
}
