//! The boundary every `extern "C"` body runs inside: panics are caught, pointers checked before use,
//! and failures handed to the caller as a code and an optional `kes_error`.
//!
//! The checks turn the C caller's mistakes that can be seen (NULL, a length without a buffer, a string
//! that is not UTF-8) into `KES_INVALID_ARGUMENT`. Those that cannot be seen (a dangling pointer, a
//! length longer than its buffer) are the caller's side of the contract kes.h states.

use std::any::Any;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

use kesrs_core::{Error, KeyName};

use crate::error::{kes_error, kes_result};

/// Runs `$body` (an expression of type `Result<(), kesrs_core::Error>`) with panics caught, and
/// reports its outcome through `$err_out` (a `*mut *mut kes_error`, NULL or writable): the body of
/// every fallible `extern "C"` function.
macro_rules! boundary {
    ($err_out:expr, $body:expr) => {{
        let err_out: *mut *mut $crate::error::kes_error = $err_out;
        let outcome = $crate::boundary::catch(|| $body);
        // SAFETY: every function that takes `err_out` documents it in kes.h as NULL or a pointer the
        // caller lets libkes write one `kes_error *` to.
        unsafe { $crate::boundary::report(err_out, outcome) }
    }};
}
pub(crate) use boundary;

/// Runs `body`, turning a panic into a `KES_PANIC` error that carries the panic's message.
pub(crate) fn catch(body: impl FnOnce() -> Result<(), Error>) -> Result<(), kes_error> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(kes_error::from_core(&err)),
        Err(payload) => Err(kes_error::panic(panic_message(&*payload))),
    }
}

/// The code for `outcome`, with its error written to `*err_out` when it failed and `err_out` is not
/// NULL.
///
/// # Safety
/// `err_out` is NULL or valid for writing one pointer.
pub(crate) unsafe fn report(
    err_out: *mut *mut kes_error,
    outcome: Result<(), kes_error>,
) -> kes_result {
    match outcome {
        Ok(()) => kes_result::KES_OK,
        Err(err) => {
            let code = err.code();
            if !err_out.is_null() {
                // SAFETY: not NULL, and writable by this function's contract. `write` does not read
                // the (possibly uninitialised) old value.
                unsafe { err_out.write(Box::into_raw(Box::new(err))) };
            }
            code
        }
    }
}

/// An output parameter checked not to be NULL, written at most once, on success.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// `ptr` as an output, or `KES_INVALID_ARGUMENT` naming `what` if it is NULL.
    ///
    /// # Safety
    /// `ptr` is NULL or valid for writing one `T` until the `Out` is dropped.
    pub(crate) unsafe fn new(ptr: *mut T, what: &str) -> Result<Self, Error> {
        NonNull::new(ptr).map(Self).ok_or_else(|| null(what))
    }

    /// `ptr` as an output if it is not NULL: an optional output.
    ///
    /// # Safety
    /// As [`Out::new`].
    pub(crate) unsafe fn optional(ptr: *mut T) -> Option<Self> {
        NonNull::new(ptr).map(Self)
    }

    /// Writes `value` without reading or dropping what was there.
    pub(crate) fn put(self, value: T) {
        // SAFETY: `new` was promised the pointer is valid for one write while `self` lives.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// `ptr` as a shared reference, or `KES_INVALID_ARGUMENT` naming `what` if it is NULL.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` that nobody mutates or frees during `'a`.
pub(crate) unsafe fn reference<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Error> {
    // SAFETY: NULL or valid for `'a`, by this function's contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| null(what))
}

/// `ptr` as an exclusive reference, or `KES_INVALID_ARGUMENT` naming `what` if it is NULL.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` that nobody else reads, mutates or frees during `'a`.
pub(crate) unsafe fn exclusive<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: NULL or valid and unaliased for `'a`, by this function's contract.
    unsafe { ptr.as_mut() }.ok_or_else(|| null(what))
}

/// A NUL-terminated UTF-8 string, or `KES_INVALID_ARGUMENT` if `ptr` is NULL or not UTF-8.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string that stays unchanged during `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(null(what));
    }
    // SAFETY: not NULL, NUL-terminated and unchanged during `'a`, by this function's contract.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str()
        .map_err(|_| Error::InvalidArgument(format!("{what} is not UTF-8")))
}

/// A string that may be NULL (an optional argument).
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn optional_text<'a>(
    ptr: *const c_char,
    what: &str,
) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: this function's contract is `text`'s.
    unsafe { text(ptr, what) }.map(Some)
}

/// A validated key name.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn key_name(ptr: *const c_char) -> Result<KeyName, Error> {
    // SAFETY: this function's contract is `text`'s.
    KeyName::new(unsafe { text(ptr, "name") }?)
}

/// `len` bytes at `ptr`; NULL is allowed for an empty buffer only.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes that stay unchanged during `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], Error> {
    if ptr.is_null() {
        return match len {
            0 => Ok(&[]),
            _ => Err(Error::InvalidArgument(format!(
                "{what} is NULL but its length is {len}"
            ))),
        };
    }
    if isize::try_from(len).is_err() {
        return Err(Error::InvalidArgument(format!(
            "{what}'s length is too large"
        )));
    }
    // SAFETY: not NULL, `len` readable bytes that stay unchanged during `'a` by this function's
    // contract, and `len` fits an isize.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// `len` NUL-terminated UTF-8 strings at `ptr` (an array of pointers, as `char **argv`); NULL is
/// allowed for an empty array only. `what` names the array in errors.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable pointers, each NULL or a NUL-terminated string, all
/// unchanged during `'a`.
pub(crate) unsafe fn strings<'a>(
    ptr: *const *const c_char,
    len: usize,
    what: &str,
) -> Result<Vec<&'a str>, Error> {
    if ptr.is_null() {
        return match len {
            0 => Ok(Vec::new()),
            _ => Err(Error::InvalidArgument(format!(
                "{what} is NULL but its length is {len}"
            ))),
        };
    }
    if len > isize::MAX as usize / std::mem::size_of::<*const c_char>() {
        return Err(Error::InvalidArgument(format!(
            "{what}'s length is too large"
        )));
    }
    // SAFETY: not NULL, `len` readable pointers by this function's contract, and their size in bytes
    // fits an isize.
    let pointers = unsafe { std::slice::from_raw_parts(ptr, len) };
    pointers
        .iter()
        .enumerate()
        // SAFETY: each pointer is NULL or a NUL-terminated string, by this function's contract.
        .map(|(i, &string)| unsafe { text(string, &format!("{what}[{i}]")) })
        .collect()
}

/// Frees a `Box` handed to the caller with `Box::into_raw`; NULL is fine.
///
/// # Safety
/// `ptr` is NULL or came from `Box::into_raw` for this `T` and was not freed; nobody uses it after.
pub(crate) unsafe fn free<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: from `Box::into_raw` and not freed, by this function's contract.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// Hands `value` to the caller as an owned pointer, freed by the type's `_free` function.
pub(crate) fn into_raw<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

fn null(what: &str) -> Error {
    Error::InvalidArgument(format!("{what} is NULL"))
}

/// The text of a panic: `panic!`'s message when it has one.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}
