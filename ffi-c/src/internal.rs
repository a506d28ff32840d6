//! Exported for libkes's own tests and bench, and left out of kes.h (cbindgen.toml excludes them):
//! not API, may change or go at any time.

use std::ffi::c_char;
use std::time::Instant;

use crate::boundary::{self, boundary, Out};
use crate::error::{kes_error, kes_result};
use crate::keys::kes_keys;

/// Panics inside the boundary, so that the C tests can see `KES_PANIC` and its message arrive.
#[no_mangle]
#[allow(clippy::panic)] // The point of the function.
pub unsafe extern "C" fn kes_internal_test_panic(err_out: *mut *mut kes_error) -> kes_result {
    boundary!(err_out, panic!("kes_internal_test_panic was called"))
}

/// Calls core's `BlockingKeys::generate_key` on the handle's core handle `iterations` times, with no
/// C boundary in between, and sets `*elapsed_ns_out` to the time taken: the baseline the bench
/// compares `kes_generate_key` with, in the same process, on the same handle.
#[no_mangle]
pub unsafe extern "C" fn kes_internal_bench_core_generate_key(
    keys: *const kes_keys,
    name: *const c_char,
    iterations: u64,
    elapsed_ns_out: *mut u64,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: as for every operation: `keys` NULL or a live handle, `name` NULL or a
        // NUL-terminated string, `elapsed_ns_out` NULL or writable.
        let (keys, name, elapsed_ns_out) = unsafe {
            (
                boundary::reference(keys, "keys")?,
                boundary::key_name(name)?,
                Out::new(elapsed_ns_out, "elapsed_ns_out")?,
            )
        };
        let keys = keys.blocking();
        let start = Instant::now();
        for _ in 0..iterations {
            drop(std::hint::black_box(keys.generate_key(&name, b"")?));
        }
        elapsed_ns_out.put(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
        Ok(())
    })
}
