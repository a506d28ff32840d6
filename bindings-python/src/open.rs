//! Opening a handle, shared by `Keys` and `AsyncKeys`: the four ways core offers, with the GIL released
//! while core reads files and sets up clients.

use std::path::PathBuf;

use pyo3::prelude::*;

use kesrs_core::{Keys, RemoteOptions};

use crate::error::to_py;

/// A local handle over the key store a KES config file names.
pub(crate) fn from_config(py: Python<'_>, path: PathBuf) -> PyResult<Keys> {
    py.detach(|| Keys::from_config(&path))
        .map_err(|err| to_py(py, err))
}

/// A local handle over a KES fs key store (a directory, created if missing).
pub(crate) fn from_fs(py: Python<'_>, path: PathBuf) -> PyResult<Keys> {
    py.detach(|| Keys::from_fs(&path))
        .map_err(|err| to_py(py, err))
}

/// A local handle over keys in memory, for tests.
pub(crate) fn in_memory(py: Python<'_>) -> PyResult<Keys> {
    py.detach(Keys::in_memory).map_err(|err| to_py(py, err))
}

/// Where and as whom a remote handle connects, as MinIO's `MINIO_KMS_KES_*` settings say it.
pub(crate) struct Remote {
    pub(crate) endpoints: Vec<String>,
    pub(crate) api_key: Option<String>,
    pub(crate) cert: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
    pub(crate) ca: Option<PathBuf>,
}

/// A remote handle: the same calls, asked of a KES server over mutual TLS.
pub(crate) fn connect(py: Python<'_>, remote: Remote) -> PyResult<Keys> {
    py.detach(|| {
        let credentials = RemoteOptions::credentials(
            remote.api_key.as_deref(),
            remote.cert.as_deref(),
            remote.key.as_deref(),
        )?;
        let mut options = RemoteOptions::new(remote.endpoints, credentials);
        if let Some(ca) = &remote.ca {
            options = options.with_ca_file(ca)?;
        }
        Keys::connect(options)
    })
    .map_err(|err| to_py(py, err))
}
