//! `kesrs._kesrs`: the Rust half of the `kesrs` Python package.
//!
//! Glue only, in the manner of pyca/cryptography's Rust core: Python values become kesrs-core values,
//! every call goes to [`kesrs_core::Keys`], and core's [`kesrs_core::Error`] comes back as the
//! exception class its [`kesrs_core::ErrorCode`] names (the classes live in `kesrs/exceptions.py`).
//! Nothing here decides anything about keys, formats or errors; if two bindings could differ on it,
//! it belongs in core.
//!
//! - [`keys::Keys`] is the blocking handle: every call releases the GIL while core works.
//! - [`async_keys::AsyncKeys`] is the asyncio handle: calls return awaitables driven by core's own
//!   runtime ([`bridge`]), without a thread per call.
//! - [`values`] holds what calls return (`DataKey`, `KeyInfo`, `StoreStatus`), [`input`] what they
//!   take (names, patterns, contexts), [`open`] how handles are opened.
//!
//! - [`envelope`] binds core's sealed messages (`seal`, `open`, streams and ranges over Python file
//!   objects, data-key reuse) for both handles.

// pyo3's #[pyclass], #[pymethods] and #[pymodule] expand to `unsafe` FFI glue (the C-API calls behind
// every Python-visible function). This crate's own `unsafe` is one block, in `envelope::Package::seal`
// (sealing into a fresh `bytearray` without the GIL); the workspace denies it everywhere else.
#![allow(unsafe_code)]

use pyo3::prelude::*;

mod async_keys;
mod bridge;
mod envelope;
mod error;
mod input;
mod keys;
mod open;
mod values;

/// The extension module, imported as `kesrs._kesrs` and re-exported by `kesrs/__init__.py`.
#[pymodule]
fn _kesrs(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<keys::Keys>()?;
    module.add_class::<async_keys::AsyncKeys>()?;
    module.add_class::<envelope::Sealer>()?;
    module.add_class::<envelope::AsyncSealer>()?;
    module.add_class::<values::DataKey>()?;
    module.add_class::<values::KeyInfo>()?;
    module.add_class::<values::StoreStatus>()?;
    module.add_function(wrap_pyfunction!(input::context_from_map, module)?)?;
    bridge::register_hooks(module)?;
    Ok(())
}
