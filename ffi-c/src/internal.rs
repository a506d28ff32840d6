//! Exported for libkes's own tests and bench, and left out of kes.h (cbindgen.toml excludes them):
//! not API, may change or go at any time.

use std::ffi::c_char;
use std::io::{self, Read, Write};
use std::time::Instant;

use kesrs_core::{Context, Envelope, Error};

use crate::boundary::{self, boundary, Out};
use crate::envelope::KES_STREAM_CHUNK;
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

/// The Rust side of `ffi-c/bench/envelope.c`: with core's `Envelope` over the handle's
/// `BlockingKeys` and no C boundary, seals `plaintext_len` bytes of `pattern` (`pattern_len` bytes,
/// repeated; copied into a 64 KiB read buffer as a C read callback would) into a sink, and opens
/// `sealed` (`sealed_len` bytes, a stream of the same size) into a 64 KiB buffer. Sets
/// `*seal_ns_out` and `*open_ns_out` to the time each took.
#[no_mangle]
pub unsafe extern "C" fn kes_internal_bench_core_envelope(
    keys: *const kes_keys,
    name: *const c_char,
    pattern: *const u8,
    pattern_len: usize,
    plaintext_len: u64,
    sealed: *const u8,
    sealed_len: usize,
    seal_ns_out: *mut u64,
    open_ns_out: *mut u64,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: `keys` NULL or a live handle, `name` NULL or a NUL-terminated string, `pattern` and
        // `sealed` NULL or as many readable bytes as their lengths say, the outputs NULL or writable.
        let (keys, name, pattern, sealed, seal_ns_out, open_ns_out) = unsafe {
            (
                boundary::reference(keys, "keys")?,
                boundary::key_name(name)?,
                boundary::bytes(pattern, pattern_len, "pattern")?,
                boundary::bytes(sealed, sealed_len, "sealed")?,
                Out::new(seal_ns_out, "seal_ns_out")?,
                Out::new(open_ns_out, "open_ns_out")?,
            )
        };
        if pattern.is_empty() {
            return Err(Error::InvalidArgument("pattern is empty".into()));
        }
        let envelope = Envelope::new(keys.blocking());
        let context = Context::from_bytes(b"bench".as_slice());
        let mut buf = vec![0u8; KES_STREAM_CHUNK];

        let start = Instant::now();
        let mut sealer = envelope.seal_writer(&name, &context, io::sink())?;
        let mut left = plaintext_len;
        while left > 0 {
            let n = buf
                .len()
                .min(pattern.len())
                .min(left.try_into().unwrap_or(usize::MAX));
            if let (Some(dst), Some(src)) = (buf.get_mut(..n), pattern.get(..n)) {
                dst.copy_from_slice(src);
            }
            sealer.write_all(buf.get(..n).unwrap_or_default())?;
            left -= n as u64;
        }
        std::hint::black_box(sealer.finish()?);
        seal_ns_out.put(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));

        let start = Instant::now();
        let mut opener = envelope.open_reader(sealed, &context)?;
        loop {
            let n = opener.read(&mut buf)?;
            if n == 0 {
                break;
            }
            std::hint::black_box(buf.get(..n));
        }
        open_ns_out.put(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
        Ok(())
    })
}
