//! `kes_envelope`: sealed messages with options, built by a `kes_envelope_builder` as rustls-ffi
//! builds a config: set options on a builder (one thread), build it once into an immutable,
//! thread-safe object, and pass that to the operations (`kes_envelope_seal`, ... in envelope.rs).
//!
//! The options are core's `Envelope::accept_keys` and `Envelope::reuse_data_keys`, as the Python
//! binding's `accept=` and `with_data_key_reuse` offer them. A built object rather than more
//! arguments on `kes_seal`/`kes_open`: data-key reuse needs state that outlives one call (the shared
//! keys and their counters), and an accept list checked once at build time is not re-parsed per call.

use std::ffi::c_char;
use std::fmt;
use std::time::Duration;

use kesrs_core::{BlockingKeys, Envelope, Error, Pattern, ReuseLimits};

use crate::boundary::{self, boundary, Out};
use crate::error::{kes_error, kes_result};
use crate::keys::kes_keys;

/// Options for a `kes_envelope`, set one call at a time, then built with `kes_envelope_builder_build`.
///
/// Made by `kes_envelope_builder_new`, owned by the caller, freed with `kes_envelope_builder_free`
/// (also after it was built). Not thread-safe: one thread at a time may use a builder.
pub struct kes_envelope_builder {
    /// `None` once built: a builder builds one envelope.
    options: Option<Options>,
}

/// What a builder has been told so far.
#[derive(Debug, Default)]
struct Options {
    accept: Option<Vec<Pattern>>,
    reuse: Option<ReuseLimits>,
}

impl fmt::Debug for kes_envelope_builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("kes_envelope_builder")
            .field("options", &self.options)
            .finish()
    }
}

/// Seals and opens envelopes with the options it was built with, over the keys of the handle given to
/// `kes_envelope_builder_build`. The operations are `kes_envelope_seal`, `kes_envelope_open`,
/// `kes_envelope_seal_stream`, `kes_envelope_open_stream` and `kes_envelope_open_range`.
///
/// Owned by the caller, freed with `kes_envelope_free`. Immutable and thread-safe: any number of
/// threads may use one envelope at once (with data-key reuse they share its data keys). It holds its
/// own reference to the handle's keys: the handle may be freed first. Like the handle, it belongs to
/// the process that built it (`KES_FORKED` in a forked child).
pub struct kes_envelope {
    envelope: Envelope<BlockingKeys>,
}

impl kes_envelope {
    /// The core envelope, for the operations in envelope.rs.
    pub(crate) fn core(&self) -> &Envelope<BlockingKeys> {
        &self.envelope
    }
}

impl fmt::Debug for kes_envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("kes_envelope")
            .field("envelope", &self.envelope)
            .finish()
    }
}

// The operations take `&kes_envelope` from many threads at once.
const _: () = {
    const fn thread_safe<T: Send + Sync>() {}
    thread_safe::<kes_envelope>();
};

/// A new builder with the defaults: every key name accepted, a fresh data key for every message (what
/// `kes_seal` and `kes_open` do). On success, `*builder_out` is a new builder for
/// `kes_envelope_builder_free`.
#[no_mangle]
pub unsafe extern "C" fn kes_envelope_builder_new(
    builder_out: *mut *mut kes_envelope_builder,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `builder_out` to be NULL or writable.
        let builder_out = unsafe { Out::new(builder_out, "builder_out") }?;
        builder_out.put(boundary::into_raw(kes_envelope_builder {
            options: Some(Options::default()),
        }));
        Ok(())
    })
}

/// Opens only envelopes whose header names a key that matches one of `patterns` (`patterns_len`
/// NUL-terminated KES patterns: `"my-app-*"` for names starting with `my-app-`, or an exact name);
/// any other fails with `KES_NOT_ALLOWED` (403, "invalid envelope: key is not accepted") before KES
/// is asked for its key. So a message cannot make the program use a key it did not mean to.
///
/// Each call replaces the list of the one before. An empty list (`NULL`, 0) accepts no key at all.
/// libkes copies the patterns. `KES_INVALID_ARGUMENT` for an invalid pattern, or a builder already
/// built (nothing changes then).
#[no_mangle]
pub unsafe extern "C" fn kes_envelope_builder_accept_keys(
    builder: *mut kes_envelope_builder,
    patterns: *const *const c_char,
    patterns_len: usize,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `builder` to be NULL or a live builder no other thread uses, and
        // `patterns` NULL or `patterns_len` readable pointers, each NULL or a NUL-terminated string.
        let (options, patterns) = unsafe {
            (
                unbuilt(builder)?,
                boundary::strings(patterns, patterns_len, "patterns")?,
            )
        };
        let patterns = patterns
            .into_iter()
            .map(Pattern::new)
            .collect::<Result<_, _>>()?;
        options.accept = Some(patterns);
        Ok(())
    })
}

/// Lets `kes_envelope_seal` reuse one data key for several messages with the same key name and
/// context: up to `messages` messages and `bytes` plaintext bytes in all, for up to `max_age_ms`
/// milliseconds from when KES made it. Then the next message gets a fresh data key. All three must
/// be non-zero. Off by default.
///
/// Fewer KES calls, at a cost: a leaked data key opens every message it sealed, and KES's audit log
/// shows one `generate` for all of them. Every message still derives keys of its own from the data
/// key and a random salt (docs/envelope.md section 6), and opens with any handle's `kes_open`; its
/// header's SHARED_KEY flag says it was sealed this way. Streams always get a fresh data key.
///
/// Each call replaces the limits of the one before. `KES_INVALID_ARGUMENT` if a limit is 0 ("invalid
/// envelope: data key reuse limits must be non-zero"), or the builder was already built (nothing
/// changes then).
#[no_mangle]
pub unsafe extern "C" fn kes_envelope_builder_reuse_data_keys(
    builder: *mut kes_envelope_builder,
    messages: u64,
    bytes: u64,
    max_age_ms: u64,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `builder` to be NULL or a live builder no other thread uses.
        let options = unsafe { unbuilt(builder) }?;
        let limits = ReuseLimits::new(messages, bytes, Duration::from_millis(max_age_ms))?;
        options.reuse = Some(limits);
        Ok(())
    })
}

/// Builds the envelope over the keys of `keys`, with the builder's options. On success,
/// `*envelope_out` is a new envelope for `kes_envelope_free`, and the builder is used up: the caller
/// still frees it with `kes_envelope_builder_free`, and any other call on it fails with
/// `KES_INVALID_ARGUMENT` ("the builder was already built"). On failure the builder is unchanged.
#[no_mangle]
pub unsafe extern "C" fn kes_envelope_builder_build(
    builder: *mut kes_envelope_builder,
    keys: *const kes_keys,
    envelope_out: *mut *mut kes_envelope,
    err_out: *mut *mut kes_error,
) -> kes_result {
    boundary!(err_out, {
        // SAFETY: kes.h requires `builder` to be NULL or a live builder no other thread uses, `keys`
        // NULL or a live handle, and `envelope_out` NULL or writable.
        let (builder, keys, envelope_out) = unsafe {
            (
                boundary::exclusive(builder, "builder")?,
                boundary::reference(keys, "keys")?,
                Out::new(envelope_out, "envelope_out")?,
            )
        };
        let options = builder.options.take().ok_or_else(already_built)?;
        let mut envelope = Envelope::new(keys.blocking().clone());
        if let Some(patterns) = options.accept {
            envelope = envelope.accept_keys(patterns);
        }
        if let Some(limits) = options.reuse {
            envelope = envelope.reuse_data_keys(limits);
        }
        envelope_out.put(boundary::into_raw(kes_envelope { envelope }));
        Ok(())
    })
}

/// Frees a builder, built or not. NULL is fine. Once per builder.
#[no_mangle]
pub unsafe extern "C" fn kes_envelope_builder_free(builder: *mut kes_envelope_builder) {
    // SAFETY: kes.h requires `builder` to be NULL or a builder from libkes that was not freed; the
    // caller gives it up here.
    unsafe { boundary::free(builder) }
}

/// Frees an envelope and wipes the data keys it kept for reuse. NULL is fine. Once per envelope,
/// after every thread is done with it; what it returned stays valid.
#[no_mangle]
pub unsafe extern "C" fn kes_envelope_free(envelope: *mut kes_envelope) {
    // SAFETY: kes.h requires `envelope` to be NULL or an envelope from libkes that was not freed and
    // that no other thread uses any more; the caller gives it up here.
    unsafe { boundary::free(envelope) }
}

/// The options of a builder that was not built yet.
///
/// # Safety
/// `builder` is NULL or a live builder that nobody else uses during `'a`.
unsafe fn unbuilt<'a>(builder: *mut kes_envelope_builder) -> Result<&'a mut Options, Error> {
    // SAFETY: this function's contract is `exclusive`'s.
    let builder = unsafe { boundary::exclusive(builder, "builder") }?;
    builder.options.as_mut().ok_or_else(already_built)
}

fn already_built() -> Error {
    Error::InvalidArgument("the builder was already built".into())
}
