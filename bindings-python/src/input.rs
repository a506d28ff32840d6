//! What calls take, from Python values to core's validated types: key names, listing patterns,
//! algorithms and contexts. Invalid values raise core's errors (`InvalidArgumentError`, ...), wrong
//! types raise `TypeError`.

use std::borrow::Cow;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMapping, PyMemoryView};

use kesrs_core::{KeyName, KeyType, Pattern};

use crate::error::to_py;

/// A key name, validated as KES validates it.
pub(crate) fn key_name(py: Python<'_>, name: &str) -> PyResult<KeyName> {
    KeyName::new(name).map_err(|err| to_py(py, err))
}

/// A listing pattern: `*` for all keys, a trailing `*` for a prefix.
pub(crate) fn pattern(py: Python<'_>, pattern: &str) -> PyResult<Pattern> {
    Pattern::new(pattern).map_err(|err| to_py(py, err))
}

/// An imported key's algorithm, in any spelling KES accepts (`AES256`, `ChaCha20`, ...).
pub(crate) fn algorithm(py: Python<'_>, algorithm: &str) -> PyResult<KeyType> {
    KeyType::from_cipher(algorithm).map_err(|err| to_py(py, err))
}

/// Data: `bytes` as they are (borrowed, not copied), or a `bytearray` or `memoryview` copied. A `str`
/// is refused: text has no single byte form.
pub(crate) fn bytes<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(bytes.as_bytes()));
    }
    if let Ok(array) = value.cast::<PyByteArray>() {
        return Ok(Cow::Owned(array.to_vec()));
    }
    if let Ok(view) = value.cast::<PyMemoryView>() {
        // abi3 for 3.9 has no buffer protocol: the view copies itself into `bytes`.
        let copy = view.call_method0("tobytes")?;
        return Ok(Cow::Owned(copy.cast::<PyBytes>()?.as_bytes().to_vec()));
    }
    Err(PyTypeError::new_err(format!(
        "expected bytes, not {}",
        value.get_type().name()?
    )))
}

/// A context: bytes (see [`bytes`]), or a `Mapping[str, str]` turned into MinIO's canonical JSON by
/// core ([`kesrs_core::Context::from_map`]), so that a dict gives the same bytes as MinIO's map and
/// every other binding's. `None` is the empty context.
pub(crate) fn context<'a>(value: Option<&'a Bound<'_, PyAny>>) -> PyResult<Cow<'a, [u8]>> {
    let Some(value) = value else {
        return Ok(Cow::Borrowed(&[]));
    };
    if let Ok(map) = value.cast::<PyMapping>() {
        return Ok(Cow::Owned(map_context(map)?));
    }
    bytes(value).map_err(|_| PyTypeError::new_err("a context is bytes or a dict of str to str"))
}

/// `context_from_map(context)`: the bytes a dict context stands for, as `kesrs` binds them (MinIO's
/// canonical JSON: keys sorted, no spaces, Go's escaping). For checking against other tools.
#[pyfunction]
pub(crate) fn context_from_map<'py>(
    py: Python<'py>,
    context: &Bound<'py, PyMapping>,
) -> PyResult<Bound<'py, PyBytes>> {
    Ok(PyBytes::new(py, &map_context(context)?))
}

fn map_context(map: &Bound<'_, PyMapping>) -> PyResult<Vec<u8>> {
    let mut entries = Vec::with_capacity(map.len()?);
    for item in map.items()?.iter() {
        let (key, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        let (Ok(key), Ok(value)) = (key.extract::<String>(), value.extract::<String>()) else {
            return Err(PyTypeError::new_err(
                "a context dict maps str to str, as MinIO's contexts do",
            ));
        };
        entries.push((key, value));
    }
    Ok(kesrs_core::Context::from_map(entries).into_bytes())
}
