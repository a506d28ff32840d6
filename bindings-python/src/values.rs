//! What calls return: [`DataKey`], [`KeyInfo`], [`StoreStatus`], and [`Answer`], the shape async
//! results take until they reach the event loop's thread.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::IntoPyObjectExt as _;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::error::to_py;

/// A fresh data key: `plaintext` (32 bytes) to encrypt with now, `ciphertext` to store beside the
/// data and decrypt later with `decrypt(name, ciphertext, context)`.
///
/// Its repr shows the ciphertext's length only, never key bytes. The Rust copy of the plaintext is
/// wiped when the object is collected; the `bytes` that `plaintext` returns are ordinary Python
/// objects, which Python cannot wipe, so keep them no longer than needed.
#[pyclass(module = "kesrs", frozen)]
pub(crate) struct DataKey {
    plaintext: Zeroizing<[u8; 32]>,
    ciphertext: Vec<u8>,
}

impl From<kesrs_core::DataKey> for DataKey {
    fn from(key: kesrs_core::DataKey) -> Self {
        let (plaintext, ciphertext) = key.into_parts();
        Self {
            plaintext,
            ciphertext,
        }
    }
}

#[pymethods]
impl DataKey {
    /// The 32-byte data key. A secret: encrypt with it, never store it.
    #[getter]
    fn plaintext<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.plaintext.as_slice())
    }

    /// The data key encrypted under the master key, in KES's format: store it with the data.
    #[getter]
    fn ciphertext<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.ciphertext)
    }

    /// The ciphertext's length only: never key bytes.
    fn __repr__(&self) -> String {
        format!("DataKey(ciphertext=<{} bytes>)", self.ciphertext.len())
    }
}

/// What `describe_key` tells about a key.
#[pyclass(module = "kesrs", frozen)]
pub(crate) struct KeyInfo {
    name: String,
    algorithm: &'static str,
    created_at: OffsetDateTime,
    created_by: Option<String>,
}

impl From<kesrs_core::KeyInfo> for KeyInfo {
    fn from(info: kesrs_core::KeyInfo) -> Self {
        Self {
            name: info.name.as_str().to_owned(),
            algorithm: info.algorithm.as_str(),
            created_at: info.created_at,
            created_by: info.created_by,
        }
    }
}

#[pymethods]
impl KeyInfo {
    /// The key's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// `"AES256"` or `"ChaCha20"`.
    #[getter]
    fn algorithm(&self) -> &'static str {
        self.algorithm
    }

    /// When the key was created, as a timezone-aware `datetime`.
    #[getter]
    fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }

    /// The identity that created the key, if the key store recorded one.
    #[getter]
    fn created_by(&self) -> Option<&str> {
        self.created_by.as_deref()
    }

    /// All fields; a key's description holds no secret.
    fn __repr__(&self) -> String {
        format!(
            "KeyInfo(name={:?}, algorithm={:?}, created_at={:?}, created_by={:?})",
            self.name,
            self.algorithm,
            kesrs_core::rfc3339(&self.created_at),
            self.created_by
        )
    }
}

/// What `status` tells about the key store: it answered, in `latency`.
#[pyclass(module = "kesrs", frozen)]
pub(crate) struct StoreStatus {
    latency: Duration,
}

impl From<kesrs_core::StoreStatus> for StoreStatus {
    fn from(status: kesrs_core::StoreStatus) -> Self {
        Self {
            latency: status.latency,
        }
    }
}

#[pymethods]
impl StoreStatus {
    /// How long the key store took to answer, as a `datetime.timedelta`.
    #[getter]
    fn latency(&self) -> Duration {
        self.latency
    }

    /// The latency.
    fn __repr__(&self) -> String {
        format!("StoreStatus(latency={:?})", self.latency)
    }
}

/// An async call's outcome on its way to the event loop. Core's error becomes a Python exception only
/// once it is there, holding the GIL: the runtime thread that finished the call never waits for it.
pub(crate) struct Answer<T>(pub(crate) Result<T, kesrs_core::Error>);

impl<'py, T: IntoPyObject<'py>> IntoPyObject<'py> for Answer<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        match self.0 {
            Ok(value) => value.into_bound_py_any(py),
            Err(err) => Err(to_py(py, err)),
        }
    }
}

/// Bytes to return; `Vec<u8>` would do, but decrypted plaintexts are wiped after the copy.
pub(crate) struct Secret(pub(crate) Zeroizing<Vec<u8>>);

impl<'py> IntoPyObject<'py> for Secret {
    type Target = PyBytes;
    type Output = Bound<'py, PyBytes>;
    type Error = std::convert::Infallible;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(PyBytes::new(py, self.0.as_slice()))
    }
}

/// `None`, for calls that return nothing: pyo3 would turn `()` into an empty tuple.
pub(crate) struct Nothing;

impl<'py> IntoPyObject<'py> for Nothing {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = std::convert::Infallible;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(py.None().into_bound(py))
    }
}
