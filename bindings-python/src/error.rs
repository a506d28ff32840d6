//! Core's [`Error`] as a Python exception: one class per [`ErrorCode`], each carrying the KES status,
//! the exact KES message and the code's name.
//!
//! The classes are written in Python (`kesrs/exceptions.py`) rather than made here, so that they have
//! ordinary docstrings, constructors and pickling (an exception raised in a `multiprocessing` worker
//! reaches the parent whole), and so that `InvalidArgumentError` can also be a `ValueError`.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use kesrs_core::{Error, ErrorCode};

/// `kesrs.exceptions`, imported once per interpreter.
static EXCEPTIONS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The Python exception for `err`: `KesError(message, status, code)` or the subclass for its code.
pub(crate) fn to_py(py: Python<'_>, err: Error) -> PyErr {
    match exception(py, &err) {
        Ok(exception) => exception,
        // Only if `kesrs.exceptions` cannot be imported (a broken install): say what core said.
        Err(import) => {
            let fallback = PyRuntimeError::new_err(format!("{}: {err}", err.code().name()));
            fallback.set_cause(py, Some(import));
            fallback
        }
    }
}

fn exception(py: Python<'_>, err: &Error) -> PyResult<PyErr> {
    let module =
        EXCEPTIONS.get_or_try_init(py, || PyResult::Ok(py.import("kesrs.exceptions")?.unbind()))?;
    let code = err.code();
    let class = module.bind(py).getattr(class_name(code))?;
    let class = class.cast_into::<PyType>()?;
    // Core's message is KES's wire message; `Display` adds a cause (a key store's, a config's) where
    // it has one, which is what a Python traceback should show.
    let detail = err.to_string();
    let instance = class.call1((err.message(), err.status(), code.name(), detail))?;
    Ok(PyErr::from_value(instance))
}

/// The class in `kesrs/exceptions.py` for each code. A code added to core later reaches Python as the
/// base class until it gets a class of its own.
fn class_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::InvalidArgument => "InvalidArgumentError",
        ErrorCode::KeyNotFound => "KeyNotFoundError",
        ErrorCode::KeyExists => "KeyExistsError",
        ErrorCode::NotAllowed => "NotAllowedError",
        ErrorCode::DecryptFailed => "DecryptError",
        ErrorCode::KeyStoreUnavailable => "KeyStoreUnavailableError",
        ErrorCode::HmacNotSupported => "HmacNotSupportedError",
        ErrorCode::UnsupportedAlgorithm => "UnsupportedAlgorithmError",
        ErrorCode::NotFound => "NotFoundError",
        ErrorCode::Connection => "ConnectionFailedError",
        ErrorCode::Protocol => "ProtocolError",
        ErrorCode::Config => "ConfigError",
        ErrorCode::Forked => "ForkedError",
        ErrorCode::Internal => "InternalError",
        ErrorCode::Io => "KesIOError",
        _ => "KesError",
    }
}
