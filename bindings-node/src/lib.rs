//! kesrs for Node.js: [`kesrs_core::Keys`] as a napi-rs class, and nothing more.
//!
//! This crate is glue. It turns JS values into core's types (names, byte buffers, contexts), runs
//! core's async operations off the JS thread, and turns core's [`kesrs_core::Error`] into a JS error
//! that carries the stable code (`KES_KEY_NOT_FOUND`, ...) and the KES status. Anything two bindings
//! could disagree on (context canonicalisation, error codes, formats) lives in core.
//!
//! `index.js` beside this crate wraps the native class: it turns those errors into instances of
//! the package's `KesError` class and keeps data-key plaintext out of `util.inspect` and JSON.

// napi-derive expands every `#[napi]` item into `extern "C"` callbacks that call N-API's C functions
// in `unsafe` blocks; the workspace denies `unsafe_code`, so the expansion needs this. There is no
// hand-written `unsafe` in this crate.
#![allow(unsafe_code)]

mod envelope;
mod error;
mod keys;
mod values;
