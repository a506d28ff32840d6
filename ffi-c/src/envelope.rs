//! Sealed messages (docs/envelope.md): `kes_seal` and `kes_open` on buffers, `kes_seal_stream` and
//! `kes_open_stream` over read and write callbacks, and `kes_open_range` over a read-at callback; and
//! the same five as `kes_envelope_*` on a built `kes_envelope` (envelope_builder.rs), which adds
//! accepted key names and data-key reuse. Each pair shares one body: the handle's functions are an
//! envelope with the defaults.
//!
//! Core's streaming interface is `std::io`: `Envelope::seal_writer` is a `Write`, `open_reader` and
//! `open_range` are `Read`s. The callbacks are that interface in C, adapted one to one (`CReader`,
//! `CWriter`, `CReadAt`): the package framing, the hold-back of the last package and the rule that
//! only authenticated packages are handed out all stay in core, in one place for every binding.

use std::ffi::{c_char, c_int, c_void};
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};

use kesrs_core::{BlockingKeys, Context, DataKeys, Envelope, Error};
use zeroize::Zeroizing;

use crate::boundary::{self, boundary, Out};
use crate::envelope_builder::kes_envelope;
use crate::error::{kes_error, kes_result};
use crate::keys::kes_keys;
use crate::values::kes_buf;

/// The most bytes libkes asks a read callback for, and hands a write callback, at once: one DARE
/// package's plaintext (64 KiB).
pub const KES_STREAM_CHUNK: usize = 65536;

// Written out above for cbindgen, which cannot read core's constant; the two must agree.
const _: () = assert!(KES_STREAM_CHUNK == kesrs_core::ENVELOPE_PACKAGE_LEN);

/// Reads the next bytes of a stream into `buf`, which has room for `len` (at least 1) bytes: returns
/// how many it read (1 to `len`; fewer is fine), 0 at the end of the stream, or a negative number on
/// failure (the libkes call then stops and returns `KES_IO`; the number, such as `-errno`, is in
/// `kes_error_detail`). `user` is the pointer given to the libkes call. Called only during that call,
/// from the calling thread.
pub type kes_read_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, buf: *mut u8, len: usize) -> isize>;

/// Takes all `len` bytes at `buf` (valid only during the callback; `len` is at least 1 and at most
/// `KES_STREAM_CHUNK` + 32, one DARE package): returns 0 when it has, or any other number on failure
/// (the libkes call then stops and returns `KES_IO`). `user` is the pointer given to the libkes call.
/// Called only during that call, from the calling thread.
pub type kes_write_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, buf: *const u8, len: usize) -> c_int>;

/// Reads bytes of a stored envelope from `offset` (counted from the envelope's first byte) into `buf`,
/// which has room for `len` bytes: returns how many it read (1 to `len`; fewer is fine), 0 if `offset`
/// is at or past the end, or a negative number on failure (`KES_IO`; the number is in
/// `kes_error_detail`). `pread(2)` on a file descriptor is such a function, given the fd through
/// `user`. Called only during the libkes call, from the calling thread.
pub type kes_read_at_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, offset: u64, buf: *mut u8, len: usize) -> isize>;

/// Seals `plaintext` (`plaintext_len` bytes) into an envelope under the key `name`, bound to `context`
/// (`context_len` bytes; NULL with 0 for none): a header that names the key and holds a fresh data key
/// as KES ciphertext, then the plaintext as a DARE 2.0 stream (docs/envelope.md). One KES `generate`
/// per call. On success, `*sealed_out` is a new `kes_buf` for `kes_buf_free`; the envelope is
/// `plaintext_len` bytes plus a header of 73 + the key name's length + the data key ciphertext's
/// length, plus 32 bytes per started 64 KiB. Thread-safe, as every operation on a handle.
///
/// To bind an envelope to a string map as MinIO does, pass the map's canonical bytes:
/// `kes_context_from_map` makes them (docs/envelope.md section 1). `KES_KEY_NOT_FOUND` if there is no
/// such key.
#[no_mangle]
pub unsafe extern "C" fn kes_seal(
    keys: *const kes_keys,
    name: *const c_char,
    plaintext: *const u8,
    plaintext_len: usize,
    context: *const u8,
    context_len: usize,
    sealed_out: *mut *mut kes_buf,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys` to be NULL or a live handle, and the other arguments to be
        // as `seal` requires.
        unsafe {
            seal(
                &defaults(keys)?,
                name,
                plaintext,
                plaintext_len,
                context,
                context_len,
                sealed_out,
            )
        }
    })
}

/// Opens an envelope (`sealed_len` bytes) with the `context` (`context_len` bytes; NULL with 0 for
/// none) it was sealed with: the key is the one its header names. Every byte is authenticated before
/// anything is returned. On success, `*plaintext_out` is a new `kes_buf` for `kes_buf_free` (which
/// wipes it). Thread-safe.
///
/// `KES_DECRYPT_FAILED` if the envelope was changed, cut or extended, or the context is not the one it
/// was sealed with (`kes_error_detail` says which check failed); `KES_INVALID_ARGUMENT` for bytes that
/// are no envelope; KES's errors for its key (`KES_KEY_NOT_FOUND`, `KES_NOT_ALLOWED`).
#[no_mangle]
pub unsafe extern "C" fn kes_open(
    keys: *const kes_keys,
    sealed: *const u8,
    sealed_len: usize,
    context: *const u8,
    context_len: usize,
    plaintext_out: *mut *mut kes_buf,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys` to be NULL or a live handle, and the other arguments to be
        // as `open` requires.
        unsafe {
            open(
                &defaults(keys)?,
                sealed,
                sealed_len,
                context,
                context_len,
                plaintext_out,
            )
        }
    })
}

/// Seals a stream: reads the plaintext with `read` until it returns 0, and writes the envelope with
/// `write`, as it goes. The envelope is the one `kes_seal` makes of the same plaintext (a fresh data
/// key and salt each time, so not the same bytes). `user` is passed to both callbacks (NULL is fine).
/// Thread-safe: the callbacks run on the calling thread, before the call returns.
///
/// Memory is bounded whatever the stream's length: libkes holds one 64 KiB read buffer and one DARE
/// package (64 KiB + 32 bytes), which it writes only when the next byte arrives (only then does it
/// know the package is not the last). `read` is asked for at most `KES_STREAM_CHUNK` bytes at a time;
/// `write` gets the header, then one package per call.
///
/// Why callbacks rather than `_new`/`_update`/`_finish` calls: libkes adapts core's streams (Rust's
/// `Write` and `Read`) one to one, so the hold-back of the last package and, on the open side, the
/// rule that only authenticated packages are handed out are core's code, shared by every binding, not
/// a second state machine in the C glue. A push-style caller (an event loop) can run the call on a
/// thread of its own and feed it through a pipe.
///
/// On failure the envelope is incomplete: the caller discards what `write` received. `KES_IO` if a
/// callback failed, `KES_KEY_NOT_FOUND` if there is no such key (before either callback is called).
#[no_mangle]
pub unsafe extern "C" fn kes_seal_stream(
    keys: *const kes_keys,
    name: *const c_char,
    context: *const u8,
    context_len: usize,
    read: kes_read_fn,
    write: kes_write_fn,
    user: *mut c_void,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys` to be NULL or a live handle, and the other arguments to be
        // as `seal_stream` requires.
        unsafe {
            seal_stream(
                &defaults(keys)?,
                name,
                context,
                context_len,
                read,
                write,
                user,
            )
        }
    })
}

/// Opens a stream: reads the envelope with `read` until it returns 0, and writes the plaintext with
/// `write` as each 64 KiB package is authenticated. Only authenticated plaintext is ever written, one
/// whole package at a time (in one or more calls); the header is authenticated before the first.
/// `user` is passed to both callbacks. Thread-safe: the callbacks run on the calling thread, before the
/// call returns. Memory is bounded: one package (64 KiB + 32 bytes) and one 64 KiB plaintext buffer,
/// wiped at the end. Why callbacks: see `kes_seal_stream`.
///
/// `KES_OK` only once the final package was authenticated and `read` returned 0 after it. On failure
/// (a package changed, the stream cut or extended: `KES_DECRYPT_FAILED`; a callback failed: `KES_IO`)
/// the packages written before it were authentic but the message is not whole: the caller discards
/// (or at least distrusts) what `write` received. Errors as `kes_open`.
#[no_mangle]
pub unsafe extern "C" fn kes_open_stream(
    keys: *const kes_keys,
    context: *const u8,
    context_len: usize,
    read: kes_read_fn,
    write: kes_write_fn,
    user: *mut c_void,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys` to be NULL or a live handle, and the other arguments to be
        // as `open_stream` requires.
        unsafe { open_stream(&defaults(keys)?, context, context_len, read, write, user) }
    })
}

/// Opens `len` plaintext bytes from `offset` of a stored envelope of `source_len` bytes, which
/// `read_at` reads, and writes them with `write`. `user` is passed to both callbacks. Thread-safe: the
/// callbacks run on the calling thread, before the call returns.
///
/// Reads only the header and the packages the range covers: at most `len` + 2 * 65,568 bytes of
/// payload (the first and last package may be partly outside the range) plus the header. Only the
/// covered packages are authenticated: a stream changed or cut outside them is not noticed here
/// (docs/envelope.md section 5). The plaintext of the first and last package outside the range is
/// never handed out; memory as `kes_open_stream`.
///
/// `KES_INVALID_ARGUMENT` if `offset + len` is beyond the plaintext ("range is out of bounds");
/// `KES_DECRYPT_FAILED` if a covered package, or the header, is not authentic, or `source_len` is no
/// possible envelope length; `KES_IO` if a callback failed or `read_at` returned 0 before
/// `source_len`. `len` 0 reads and checks the header only.
#[no_mangle]
pub unsafe extern "C" fn kes_open_range(
    keys: *const kes_keys,
    context: *const u8,
    context_len: usize,
    read_at: kes_read_at_fn,
    source_len: u64,
    offset: u64,
    len: u64,
    write: kes_write_fn,
    user: *mut c_void,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `keys` to be NULL or a live handle, and the other arguments to be
        // as `Range::new` requires.
        unsafe {
            open_range(
                &defaults(keys)?,
                Range::new(
                    context,
                    context_len,
                    read_at,
                    source_len,
                    offset,
                    len,
                    write,
                    user,
                )?,
            )
        }
    })
}

/// `kes_seal` with an envelope's options: its data-key reuse, if it has any. Otherwise as `kes_seal`
/// on the handle the envelope was built with. Thread-safe: any number of threads may seal with one
/// envelope, and share its data keys.
#[no_mangle]
pub unsafe extern "C" fn kes_envelope_seal(
    envelope: *const kes_envelope,
    name: *const c_char,
    plaintext: *const u8,
    plaintext_len: usize,
    context: *const u8,
    context_len: usize,
    sealed_out: *mut *mut kes_buf,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `envelope` to be NULL or a live envelope, and the other arguments to
        // be as `seal` requires.
        unsafe {
            seal(
                configured(envelope)?,
                name,
                plaintext,
                plaintext_len,
                context,
                context_len,
                sealed_out,
            )
        }
    })
}

/// `kes_open` with an envelope's options: `KES_NOT_ALLOWED` (403, "invalid envelope: key is not
/// accepted") for an envelope whose header names a key its accepted patterns do not match, before
/// KES is asked for the key. Otherwise as `kes_open`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn kes_envelope_open(
    envelope: *const kes_envelope,
    sealed: *const u8,
    sealed_len: usize,
    context: *const u8,
    context_len: usize,
    plaintext_out: *mut *mut kes_buf,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `envelope` to be NULL or a live envelope, and the other arguments to
        // be as `open` requires.
        unsafe {
            open(
                configured(envelope)?,
                sealed,
                sealed_len,
                context,
                context_len,
                plaintext_out,
            )
        }
    })
}

/// `kes_seal_stream` on the envelope's handle. Streams always get a fresh data key, also from an
/// envelope that reuses them: a stream's length is unknown when its key is chosen. Here so that a
/// program holding an envelope needs nothing else. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn kes_envelope_seal_stream(
    envelope: *const kes_envelope,
    name: *const c_char,
    context: *const u8,
    context_len: usize,
    read: kes_read_fn,
    write: kes_write_fn,
    user: *mut c_void,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `envelope` to be NULL or a live envelope, and the other arguments to
        // be as `seal_stream` requires.
        unsafe {
            seal_stream(
                configured(envelope)?,
                name,
                context,
                context_len,
                read,
                write,
                user,
            )
        }
    })
}

/// `kes_open_stream` with an envelope's accepted key names: `KES_NOT_ALLOWED` as `kes_envelope_open`
/// says, before either callback writes anything. Otherwise as `kes_open_stream`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn kes_envelope_open_stream(
    envelope: *const kes_envelope,
    context: *const u8,
    context_len: usize,
    read: kes_read_fn,
    write: kes_write_fn,
    user: *mut c_void,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `envelope` to be NULL or a live envelope, and the other arguments to
        // be as `open_stream` requires.
        unsafe {
            open_stream(
                configured(envelope)?,
                context,
                context_len,
                read,
                write,
                user,
            )
        }
    })
}

/// `kes_open_range` with an envelope's accepted key names: `KES_NOT_ALLOWED` as `kes_envelope_open`
/// says. Otherwise as `kes_open_range`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn kes_envelope_open_range(
    envelope: *const kes_envelope,
    context: *const u8,
    context_len: usize,
    read_at: kes_read_at_fn,
    source_len: u64,
    offset: u64,
    len: u64,
    write: kes_write_fn,
    user: *mut c_void,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `envelope` to be NULL or a live envelope, and the other arguments to
        // be as `Range::new` requires.
        unsafe {
            open_range(
                configured(envelope)?,
                Range::new(
                    context,
                    context_len,
                    read_at,
                    source_len,
                    offset,
                    len,
                    write,
                    user,
                )?,
            )
        }
    })
}

/// A handle's envelopes with the defaults: a fresh data key per message, every key name accepted.
///
/// # Safety
/// `keys` is NULL or a handle from libkes that is not freed while the envelope lives.
unsafe fn defaults<'a>(keys: *const kes_keys) -> Result<Envelope<&'a BlockingKeys>, Error> {
    // SAFETY: this function's contract is `reference`'s.
    let keys = unsafe { boundary::reference(keys, "keys") }?;
    Ok(Envelope::new(keys.blocking()))
}

/// A built `kes_envelope`'s core envelope.
///
/// # Safety
/// `envelope` is NULL or an envelope from libkes that is not freed while the reference lives.
unsafe fn configured<'a>(
    envelope: *const kes_envelope,
) -> Result<&'a Envelope<BlockingKeys>, Error> {
    // SAFETY: this function's contract is `reference`'s.
    unsafe { boundary::reference(envelope, "envelope") }.map(kes_envelope::core)
}

/// The body of `kes_seal` and `kes_envelope_seal`.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `plaintext` and `context` NULL or as many readable
/// bytes as their lengths say, and `sealed_out` NULL or writable.
unsafe fn seal<K: DataKeys>(
    envelope: &Envelope<K>,
    name: *const c_char,
    plaintext: *const u8,
    plaintext_len: usize,
    context: *const u8,
    context_len: usize,
    sealed_out: *mut *mut kes_buf,
) -> Result<(), Error> {
    // SAFETY: this function's contract.
    let (name, plaintext, context, sealed_out) = unsafe {
        (
            boundary::key_name(name)?,
            boundary::bytes(plaintext, plaintext_len, "plaintext")?,
            boundary::bytes(context, context_len, "context")?,
            Out::new(sealed_out, "sealed_out")?,
        )
    };
    let sealed = envelope.seal(&name, plaintext, &Context::from_bytes(context))?;
    sealed_out.put(boundary::into_raw(kes_buf::new(Zeroizing::new(sealed))));
    Ok(())
}

/// The body of `kes_open` and `kes_envelope_open`.
///
/// # Safety
/// `sealed` and `context` are NULL or as many readable bytes as their lengths say, and
/// `plaintext_out` NULL or writable.
unsafe fn open<K: DataKeys>(
    envelope: &Envelope<K>,
    sealed: *const u8,
    sealed_len: usize,
    context: *const u8,
    context_len: usize,
    plaintext_out: *mut *mut kes_buf,
) -> Result<(), Error> {
    // SAFETY: this function's contract.
    let (sealed, context, plaintext_out) = unsafe {
        (
            boundary::bytes(sealed, sealed_len, "sealed")?,
            boundary::bytes(context, context_len, "context")?,
            Out::new(plaintext_out, "plaintext_out")?,
        )
    };
    let plaintext = envelope.open(sealed, &Context::from_bytes(context))?;
    plaintext_out.put(boundary::into_raw(kes_buf::new(plaintext)));
    Ok(())
}

/// The body of `kes_seal_stream` and `kes_envelope_seal_stream`.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string and `context` NULL or `context_len` readable bytes.
unsafe fn seal_stream<K: DataKeys>(
    envelope: &Envelope<K>,
    name: *const c_char,
    context: *const u8,
    context_len: usize,
    read: kes_read_fn,
    write: kes_write_fn,
    user: *mut c_void,
) -> Result<(), Error> {
    // SAFETY: this function's contract.
    let (name, context) = unsafe {
        (
            boundary::key_name(name)?,
            boundary::bytes(context, context_len, "context")?,
        )
    };
    let mut src = CReader::new(read, user)?;
    let dst = CWriter::new(write, user)?;
    let mut sealer = envelope.seal_writer(&name, &Context::from_bytes(context), dst)?;
    let mut buf = Zeroizing::new(vec![0u8; KES_STREAM_CHUNK]);
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sealer.write_all(buf.get(..n).unwrap_or_default())?;
    }
    sealer.finish()?;
    Ok(())
}

/// The body of `kes_open_stream` and `kes_envelope_open_stream`.
///
/// # Safety
/// `context` is NULL or `context_len` readable bytes.
unsafe fn open_stream<K: DataKeys>(
    envelope: &Envelope<K>,
    context: *const u8,
    context_len: usize,
    read: kes_read_fn,
    write: kes_write_fn,
    user: *mut c_void,
) -> Result<(), Error> {
    // SAFETY: this function's contract.
    let context = unsafe { boundary::bytes(context, context_len, "context") }?;
    let src = CReader::new(read, user)?;
    let mut dst = CWriter::new(write, user)?;
    let opener = envelope.open_reader(src, &Context::from_bytes(context))?;
    copy_plaintext(opener, &mut dst)
}

/// `kes_open_range`'s arguments after the handle, checked: the context, where the envelope is and
/// how long, the range, and where its plaintext goes.
struct Range<'a> {
    context: &'a [u8],
    src: CReadAt,
    dst: CWriter,
    offset: u64,
    len: u64,
}

impl<'a> Range<'a> {
    /// The one place that turns the range functions' C arguments into a range, so that both check
    /// them in the same order and with the same messages: `KES_INVALID_ARGUMENT` for a context
    /// pointer that is NULL with a length, or a NULL callback.
    ///
    /// # Safety
    /// `context` is NULL or `context_len` readable bytes, unchanged during `'a`.
    unsafe fn new(
        context: *const u8,
        context_len: usize,
        read_at: kes_read_at_fn,
        source_len: u64,
        offset: u64,
        len: u64,
        write: kes_write_fn,
        user: *mut c_void,
    ) -> Result<Self, Error> {
        Ok(Self {
            // SAFETY: this function's contract.
            context: unsafe { boundary::bytes(context, context_len, "context") }?,
            src: CReadAt::new(read_at, source_len, user)?,
            dst: CWriter::new(write, user)?,
            offset,
            len,
        })
    }
}

/// The body of `kes_open_range` and `kes_envelope_open_range`.
fn open_range<K: DataKeys>(envelope: &Envelope<K>, range: Range<'_>) -> Result<(), Error> {
    let Range {
        context,
        src,
        mut dst,
        offset,
        len,
    } = range;
    let opener = envelope.open_range(src, &Context::from_bytes(context), offset, len)?;
    copy_plaintext(opener, &mut dst)
}

/// Copies what `opener` returns (authenticated plaintext) to `dst`, through one buffer wiped at the end.
fn copy_plaintext(mut opener: impl Read, dst: &mut CWriter) -> Result<(), Error> {
    let mut buf = Zeroizing::new(vec![0u8; KES_STREAM_CHUNK]);
    loop {
        let n = match opener.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err.into()),
        };
        dst.write_all(buf.get(..n).unwrap_or_default())?;
    }
}

/// A `kes_read_fn` as a `Read`.
struct CReader {
    read: unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> isize,
    user: *mut c_void,
}

impl CReader {
    fn new(read: kes_read_fn, user: *mut c_void) -> Result<Self, Error> {
        let read = read.ok_or_else(|| Error::InvalidArgument("read is NULL".into()))?;
        Ok(Self { read, user })
    }
}

impl Read for CReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len().min(KES_STREAM_CHUNK);
        // SAFETY: kes.h requires `read` to write at most `len` bytes to `buf`, which has room for
        // them, and to accept the caller's `user` pointer.
        let n = unsafe { (self.read)(self.user, buf.as_mut_ptr(), len) };
        callback_count(n, len, "read")
    }
}

/// A `kes_write_fn` as a `Write`.
struct CWriter {
    write: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> c_int,
    user: *mut c_void,
}

impl CWriter {
    fn new(write: kes_write_fn, user: *mut c_void) -> Result<Self, Error> {
        let write = write.ok_or_else(|| Error::InvalidArgument("write is NULL".into()))?;
        Ok(Self { write, user })
    }
}

impl Write for CWriter {
    /// Core writes the header, then whole packages; plaintext goes out at most 64 KiB at a time.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // SAFETY: kes.h requires `write` to only read the `buf.len()` bytes at `buf`, which are valid
        // for the call, and to accept the caller's `user` pointer.
        let status = unsafe { (self.write)(self.user, buf.as_ptr(), buf.len()) };
        if status != 0 {
            return Err(io::Error::other(format!(
                "the write callback returned {status}"
            )));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A `kes_read_at_fn` over `len` bytes as a `Read + Seek`.
struct CReadAt {
    read_at: unsafe extern "C" fn(*mut c_void, u64, *mut u8, usize) -> isize,
    user: *mut c_void,
    pos: u64,
    len: u64,
}

impl CReadAt {
    fn new(read_at: kes_read_at_fn, len: u64, user: *mut c_void) -> Result<Self, Error> {
        let read_at = read_at.ok_or_else(|| Error::InvalidArgument("read_at is NULL".into()))?;
        Ok(Self {
            read_at,
            user,
            pos: 0,
            len,
        })
    }
}

impl Read for CReadAt {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let len = buf
            .len()
            .min(KES_STREAM_CHUNK)
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        if len == 0 {
            return Ok(0);
        }
        // SAFETY: kes.h requires `read_at` to write at most `len` bytes to `buf`, which has room for
        // them, and to accept the caller's `user` pointer.
        let n = unsafe { (self.read_at)(self.user, self.pos, buf.as_mut_ptr(), len) };
        let n = callback_count(n, len, "read_at")?;
        if n == 0 {
            // Not `UnexpectedEof`, which core reads as a truncated envelope: the caller's
            // `source_len` and `read_at` disagree, an I/O failure.
            return Err(io::Error::other(format!(
                "read_at returned 0 at offset {} of source_len {}",
                self.pos, self.len
            )));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for CReadAt {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let to = match pos {
            SeekFrom::Start(to) => Some(to),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.pos.checked_add_signed(delta),
        };
        self.pos = to.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the envelope's start",
            )
        })?;
        Ok(self.pos)
    }
}

/// A read callback's result as a count of bytes, or the `io::Error` (`KES_IO`) for a failure.
fn callback_count(n: isize, len: usize, what: &str) -> io::Result<usize> {
    match usize::try_from(n) {
        Ok(n) if n <= len => Ok(n),
        Ok(n) => Err(io::Error::other(format!(
            "the {what} callback returned {n}, more than the {len} bytes asked for"
        ))),
        Err(_) => Err(io::Error::other(format!(
            "the {what} callback returned {n}"
        ))),
    }
}

impl fmt::Debug for CReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CReader")
    }
}

impl fmt::Debug for CWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CWriter")
    }
}

impl fmt::Debug for CReadAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CReadAt")
            .field("pos", &self.pos)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}
