//! `kesrs.AsyncKeys`: the asyncio handle. The same constructors as `Keys`; every call returns an
//! awaitable that core's runtime drives ([`crate::bridge`]), with no thread per call and without the
//! GIL. Arguments are checked, and copied so that they outlive the call, before it starts.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use kesrs_core::{Context, Envelope, Error, Keys};

use crate::bridge::spawn;
use crate::envelope::{self as env, Outcome, SharedAsync, Slot};
use crate::error::to_py;
use crate::input::{self, bytes, key_name};
use crate::open::{self, Remote};
use crate::values::{DataKey, KeyInfo, Nothing, Secret, StoreStatus};

/// Keys in this process or behind a KES server, like `Keys`, whose calls are coroutines for asyncio.
///
/// Constructors are plain functions (they only read files). Usable with `async with`; thread-safe; a
/// handle made before `os.fork()` raises `ForkedError` in the child.
#[pyclass(module = "kesrs", frozen)]
pub(crate) struct AsyncKeys {
    inner: Slot<Keys>,
}

#[pymethods]
impl AsyncKeys {
    /// A local handle over the key store a KES config file names (its `keystore:` and `cache:`
    /// sections; `${NAME}` reads the environment, as the server does).
    #[staticmethod]
    fn from_config(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        Ok(Self::new(open::from_config(py, path)?))
    }

    /// A local handle over a KES fs key store: one file per key in the directory `path`, created if
    /// missing.
    #[staticmethod]
    fn from_fs(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        Ok(Self::new(open::from_fs(py, path)?))
    }

    /// A local handle over keys kept in memory, lost with the handle. For tests.
    #[staticmethod]
    fn in_memory(py: Python<'_>) -> PyResult<Self> {
        Ok(Self::new(open::in_memory(py)?))
    }

    /// A remote handle, asking the KES server at `endpoints` with `api_key`, or with the client
    /// certificate and key in the PEM files `cert` and `key`; `ca` is a PEM file of CA certificates
    /// to trust instead of the system's. See `Keys.connect`.
    #[staticmethod]
    #[pyo3(signature = (endpoints, *, api_key=None, cert=None, key=None, ca=None))]
    fn connect(
        py: Python<'_>,
        endpoints: Vec<String>,
        api_key: Option<String>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        ca: Option<PathBuf>,
    ) -> PyResult<Self> {
        let remote = Remote {
            endpoints,
            api_key,
            cert,
            key,
            ca,
        };
        Ok(Self::new(open::connect(py, remote)?))
    }

    /// Whether this handle asks a KES server (and so is subject to its policies).
    #[getter]
    fn is_remote(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.handle(py)?.is_remote())
    }

    /// Creates a new AES256 key called `name`. Raises `KeyExistsError` if there is one.
    fn create_key<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        spawn(
            py,
            async move { keys.create_key(&name).await.map(|()| Nothing) },
        )
    }

    /// Imports the 32-byte `key` as `name`, for `algorithm` (`"AES256"` or `"ChaCha20"`).
    #[pyo3(signature = (name, key, algorithm="AES256"))]
    fn import_key<'py>(
        &self,
        py: Python<'py>,
        name: String,
        key: &Bound<'py, PyAny>,
        algorithm: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        let algorithm = input::algorithm(py, algorithm)?;
        let key = zeroize::Zeroizing::new(bytes(key)?.into_owned());
        spawn(py, async move {
            keys.import_key(&name, &key, algorithm)
                .await
                .map(|()| Nothing)
        })
    }

    /// Describes the key `name`: its algorithm, when and by whom it was created.
    fn describe_key<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        spawn(py, async move {
            keys.describe_key(&name).await.map(KeyInfo::from)
        })
    }

    /// Deletes the key `name`. Everything encrypted under it can no longer be decrypted.
    fn delete_key<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        spawn(
            py,
            async move { keys.delete_key(&name).await.map(|()| Nothing) },
        )
    }

    /// The names of the keys `pattern` selects (`"*"` all, `"prefix*"` a prefix), sorted.
    #[pyo3(signature = (pattern="*"))]
    fn list_keys<'py>(&self, py: Python<'py>, pattern: &str) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.handle(py)?;
        let pattern = input::pattern(py, pattern)?;
        spawn(py, async move {
            keys.list_keys(&pattern).await.map(|list| list.names)
        })
    }

    /// A fresh 32-byte data key and its ciphertext under the key `name`, bound to `context` (bytes, or
    /// a dict of str to str as MinIO's contexts are).
    #[pyo3(signature = (name, context=None))]
    fn generate_key<'py>(
        &self,
        py: Python<'py>,
        name: String,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        let context = input::context(context)?.into_owned();
        spawn(py, async move {
            keys.generate_key(&name, &context).await.map(DataKey::from)
        })
    }

    /// Encrypts a small `plaintext` under the key `name`, bound to `context`, in KES's format.
    #[pyo3(signature = (name, plaintext, context=None))]
    fn encrypt<'py>(
        &self,
        py: Python<'py>,
        name: String,
        plaintext: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        // The plaintext is copied to outlive this call; the copy is wiped when the call ends.
        let plaintext = zeroize::Zeroizing::new(bytes(plaintext)?.into_owned());
        let context = input::context(context)?.into_owned();
        spawn(py, async move {
            keys.encrypt(&name, &plaintext, &context).await
        })
    }

    /// Decrypts a KES ciphertext under the key `name` with the `context` it was made with. Raises
    /// `DecryptError` if the ciphertext is not authentic or the context differs.
    #[pyo3(signature = (name, ciphertext, context=None))]
    fn decrypt<'py>(
        &self,
        py: Python<'py>,
        name: String,
        ciphertext: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        let ciphertext = bytes(ciphertext)?.into_owned();
        let context = input::context(context)?.into_owned();
        spawn(py, async move {
            keys.decrypt(&name, &ciphertext, &context).await.map(Secret)
        })
    }

    /// HMAC-SHA256 of `message` under the key's HMAC key: 32 bytes, the same for the same message.
    fn hmac<'py>(
        &self,
        py: Python<'py>,
        name: String,
        message: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        let message = bytes(message)?.into_owned();
        spawn(py, async move { keys.hmac(&name, &message).await })
    }

    /// Seals `data` under the key `name`, bound to `context`. See `Keys.seal`.
    #[pyo3(signature = (name, data, context=None))]
    fn seal<'py>(
        &self,
        py: Python<'py>,
        name: String,
        data: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        // Copied to outlive this call; wiped when the call ends.
        let data = zeroize::Zeroizing::new(bytes(data)?.into_owned());
        let context = Context::from_bytes(input::context(context)?.into_owned());
        spawn(py, async move { keys.seal(&name, &data, &context).await })
    }

    /// Opens a sealed message with the `context` it was sealed with; `accept` restricts the key
    /// names. See `Keys.open`.
    #[pyo3(signature = (sealed, context=None, *, accept=None))]
    fn open<'py>(
        &self,
        py: Python<'py>,
        sealed: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
        accept: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.handle(py)?;
        let sealed = bytes(sealed)?.into_owned();
        let context = Context::from_bytes(input::context(context)?.into_owned());
        let envelope = env::envelope(keys, env::accepted(py, accept)?);
        spawn(py, async move {
            envelope.open_async(&sealed, &context).await.map(Secret)
        })
    }

    /// `Keys.seal_stream` as a coroutine. File objects are blocking, so the stream runs on a worker
    /// thread of kesrs' runtime (its blocking pool), never on the event loop; the worker takes the GIL
    /// only for each `read` and `write` call.
    #[pyo3(signature = (name, src, dst, context=None))]
    fn seal_stream<'py>(
        &self,
        py: Python<'py>,
        name: String,
        src: Py<PyAny>,
        dst: Py<PyAny>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        let context = Context::from_bytes(input::context(context)?.into_owned());
        on_worker(py, move || {
            let envelope = Envelope::new(keys.blocking());
            env::seal_stream(&envelope, &name, &context, &src, &dst, true)
        })
    }

    /// `Keys.open_stream` as a coroutine, on a worker thread as `seal_stream`.
    #[pyo3(signature = (src, dst, context=None, *, accept=None))]
    fn open_stream<'py>(
        &self,
        py: Python<'py>,
        src: Py<PyAny>,
        dst: Py<PyAny>,
        context: Option<&Bound<'py, PyAny>>,
        accept: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.handle(py)?;
        let context = Context::from_bytes(input::context(context)?.into_owned());
        let accept = env::accepted(py, accept)?;
        on_worker(py, move || {
            let envelope = env::envelope(keys.blocking(), accept);
            env::open_stream(&envelope, &context, &src, &dst, true)
        })
    }

    /// `Keys.open_range` as a coroutine, on a worker thread as `seal_stream`.
    #[pyo3(signature = (src, offset, length, context=None, *, accept=None))]
    fn open_range<'py>(
        &self,
        py: Python<'py>,
        src: Py<PyAny>,
        offset: u64,
        length: u64,
        context: Option<&Bound<'py, PyAny>>,
        accept: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.handle(py)?;
        let context = Context::from_bytes(input::context(context)?.into_owned());
        let accept = env::accepted(py, accept)?;
        on_worker(py, move || {
            let envelope = env::envelope(keys.blocking(), accept);
            env::open_range(&envelope, &context, &src, offset, length, true).map(Secret)
        })
    }

    /// An `AsyncSealer`, whose `seal` reuses data keys within the limits. See
    /// `Keys.with_data_key_reuse`.
    #[pyo3(signature = (*, messages, bytes, seconds))]
    fn with_data_key_reuse(
        &self,
        py: Python<'_>,
        messages: u64,
        bytes: u64,
        seconds: f64,
    ) -> PyResult<env::AsyncSealer> {
        self.handle(py)?;
        let limits = env::reuse_limits(py, messages, bytes, seconds)?;
        Ok(env::AsyncSealer {
            envelope: Arc::new(
                Envelope::new(SharedAsync(Arc::clone(&self.inner))).reuse_data_keys(limits),
            ),
        })
    }

    /// The key store's health: a `StoreStatus` with its latency, or `KeyStoreUnavailableError`.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.handle(py)?;
        spawn(
            py,
            async move { keys.status().await.map(StoreStatus::from) },
        )
    }

    /// Lets go of the key store and connections. Later calls raise `InvalidArgumentError`; calls
    /// already running finish.
    fn close(&self) {
        self.inner.store(None);
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.unbind();
        spawn(py, async move { Ok(this) })
    }

    #[pyo3(signature = (*_args))]
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _args: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.close();
        spawn(py, async { Ok(Nothing) })
    }

    /// Local, remote or closed; never a key, path or credential.
    fn __repr__(&self) -> String {
        match self.inner.load().as_ref() {
            Some(keys) if keys.is_remote() => "AsyncKeys(remote)".into(),
            Some(_) => "AsyncKeys(local)".into(),
            None => "AsyncKeys(closed)".into(),
        }
    }
}

/// An awaitable for a blocking stream call, run on the runtime's blocking pool.
fn on_worker<'py, T>(
    py: Python<'py>,
    call: impl FnOnce() -> Result<T, env::Failure> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    spawn(py, async move {
        tokio::task::spawn_blocking(move || Outcome(call()))
            .await
            .map_err(|err| Error::Runtime(format!("stream worker failed: {err}")))
    })
}

impl AsyncKeys {
    fn new(keys: Keys) -> Self {
        Self {
            inner: Arc::new(ArcSwapOption::from_pointee(keys)),
        }
    }

    /// The open handle, or the error a closed one gives.
    fn handle(&self, py: Python<'_>) -> PyResult<Arc<Keys>> {
        env::load(&self.inner).map_err(|err| to_py(py, err))
    }
}
