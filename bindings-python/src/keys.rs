//! `kesrs.Keys`: the blocking handle. Every call releases the GIL while core works (crypto, key-store
//! I/O, a server round trip), so other Python threads run meanwhile; the handle is shared freely
//! between threads.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use kesrs_core::{BlockingKeys, Context, Envelope};

use crate::envelope::{self as env, SharedBlocking, Slot};
use crate::error::to_py;
use crate::input::{self, bytes, key_name};
use crate::open::{self, Remote};
use crate::values::{DataKey, KeyInfo, StoreStatus};

/// Keys in this process (`from_config`, `from_fs`, `in_memory`) or behind a KES server (`connect`),
/// with blocking calls that release the GIL.
///
/// Thread-safe: share one handle between threads. A handle made before `os.fork()` raises
/// `ForkedError` in the child; open a new one there. Use it as a context manager, or call `close()`,
/// to let go of the key store and connections before the handle is collected.
#[pyclass(module = "kesrs", frozen)]
pub(crate) struct Keys {
    inner: Slot<BlockingKeys>,
}

#[pymethods]
impl Keys {
    /// A local handle over the key store a KES config file names (its `keystore:` and `cache:`
    /// sections; `${NAME}` reads the environment, as the server does). Crypto runs in this process.
    #[staticmethod]
    fn from_config(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        Ok(Self::new(open::from_config(py, path)?.blocking()))
    }

    /// A local handle over a KES fs key store: one file per key in the directory `path`, created if
    /// missing.
    #[staticmethod]
    fn from_fs(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        Ok(Self::new(open::from_fs(py, path)?.blocking()))
    }

    /// A local handle over keys kept in memory, lost with the handle. For tests.
    #[staticmethod]
    fn in_memory(py: Python<'_>) -> PyResult<Self> {
        Ok(Self::new(open::in_memory(py)?.blocking()))
    }

    /// A remote handle, asking the KES server at `endpoints` (a list of `https://host:port`; the
    /// first that answers is used) as MinIO does: with `api_key` (`kes:v1:...`), or with the client
    /// certificate and key in the PEM files `cert` and `key`. `ca` is a PEM file of the CA
    /// certificates to trust instead of the system's.
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
        Ok(Self::new(open::connect(py, remote)?.blocking()))
    }

    /// Whether this handle asks a KES server (and so is subject to its policies).
    #[getter]
    fn is_remote(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.handle(py)?.is_remote())
    }

    /// Creates a new AES256 key called `name`. Raises `KeyExistsError` if there is one.
    fn create_key(&self, py: Python<'_>, name: String) -> PyResult<()> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        py.detach(|| keys.create_key(&name))
            .map_err(|err| to_py(py, err))
    }

    /// Imports the 32-byte `key` as `name`, for `algorithm` (`"AES256"` or `"ChaCha20"`).
    #[pyo3(signature = (name, key, algorithm="AES256"))]
    fn import_key(
        &self,
        py: Python<'_>,
        name: String,
        key: &Bound<'_, PyAny>,
        algorithm: &str,
    ) -> PyResult<()> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        let algorithm = input::algorithm(py, algorithm)?;
        let key = bytes(key)?;
        py.detach(|| keys.import_key(&name, &key, algorithm))
            .map_err(|err| to_py(py, err))
    }

    /// Describes the key `name`: its algorithm, when and by whom it was created.
    fn describe_key(&self, py: Python<'_>, name: String) -> PyResult<KeyInfo> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        py.detach(|| keys.describe_key(&name))
            .map(KeyInfo::from)
            .map_err(|err| to_py(py, err))
    }

    /// Deletes the key `name`. Everything encrypted under it can no longer be decrypted.
    fn delete_key(&self, py: Python<'_>, name: String) -> PyResult<()> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        py.detach(|| keys.delete_key(&name))
            .map_err(|err| to_py(py, err))
    }

    /// The names of the keys `pattern` selects (`"*"` all, `"prefix*"` a prefix), sorted.
    #[pyo3(signature = (pattern="*"))]
    fn list_keys(&self, py: Python<'_>, pattern: &str) -> PyResult<Vec<String>> {
        let keys = self.handle(py)?;
        let pattern = input::pattern(py, pattern)?;
        py.detach(|| keys.list_keys(&pattern))
            .map(|list| list.names)
            .map_err(|err| to_py(py, err))
    }

    /// A fresh 32-byte data key and its ciphertext under the key `name`, bound to `context` (bytes, or
    /// a dict of str to str as MinIO's contexts are): decrypting the ciphertext needs the same one.
    #[pyo3(signature = (name, context=None))]
    fn generate_key(
        &self,
        py: Python<'_>,
        name: String,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<DataKey> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        let context = input::context(context)?;
        py.detach(|| keys.generate_key(&name, &context))
            .map(DataKey::from)
            .map_err(|err| to_py(py, err))
    }

    /// Encrypts a small `plaintext` (a data key, a password) under the key `name`, bound to `context`,
    /// in KES's ciphertext format.
    #[pyo3(signature = (name, plaintext, context=None))]
    fn encrypt<'py>(
        &self,
        py: Python<'py>,
        name: String,
        plaintext: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        let plaintext = bytes(plaintext)?;
        let context = input::context(context)?;
        py.detach(|| keys.encrypt(&name, &plaintext, &context))
            .map(|ciphertext| PyBytes::new(py, &ciphertext))
            .map_err(|err| to_py(py, err))
    }

    /// Decrypts a KES ciphertext (from `encrypt`, `generate_key`, a KES server, MinIO's metadata)
    /// under the key `name` with the `context` it was made with. Raises `DecryptError` if the
    /// ciphertext is not authentic or the context differs.
    #[pyo3(signature = (name, ciphertext, context=None))]
    fn decrypt<'py>(
        &self,
        py: Python<'py>,
        name: String,
        ciphertext: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        let ciphertext = bytes(ciphertext)?;
        let context = input::context(context)?;
        let plaintext = py
            .detach(|| keys.decrypt(&name, &ciphertext, &context))
            .map_err(|err| to_py(py, err))?;
        Ok(PyBytes::new(py, plaintext.as_slice()))
    }

    /// HMAC-SHA256 of `message` under the key's HMAC key: 32 bytes, the same for the same message.
    fn hmac<'py>(
        &self,
        py: Python<'py>,
        name: String,
        message: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        let message = bytes(message)?;
        py.detach(|| keys.hmac(&name, &message))
            .map(|mac| PyBytes::new(py, &mac))
            .map_err(|err| to_py(py, err))
    }

    /// Seals `data` under the key `name`, bound to `context` (bytes, or a dict of str to str): a fresh
    /// data key from the key, and the envelope of docs/envelope.md (a small header, then the data as
    /// DARE 2.0 packages of 64 KiB). `open` gives `data` back with the same context.
    #[pyo3(signature = (name, data, context=None))]
    fn seal<'py>(
        &self,
        py: Python<'py>,
        name: String,
        data: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        let data = bytes(data)?;
        let context = Context::from_bytes(input::context(context)?.into_owned());
        py.detach(|| keys.seal(&name, &data, &context))
            .map(|sealed| PyBytes::new(py, &sealed))
            .map_err(|err| to_py(py, err))
    }

    /// Opens a sealed message with the `context` it was sealed with, using the key its header names.
    /// `accept` (KES patterns, e.g. `["my-app-*"]`) restricts which key names are accepted; others
    /// raise `NotAllowedError` before any key is used. A tampered, truncated or wrongly bound message
    /// raises `DecryptError`.
    #[pyo3(signature = (sealed, context=None, *, accept=None))]
    fn open<'py>(
        &self,
        py: Python<'py>,
        sealed: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
        accept: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let keys = self.handle(py)?;
        let sealed = bytes(sealed)?;
        let context = Context::from_bytes(input::context(context)?.into_owned());
        let envelope = env::envelope(&*keys, env::accepted(py, accept)?);
        let plaintext = py
            .detach(|| envelope.open(&sealed, &context))
            .map_err(|err| to_py(py, err))?;
        Ok(PyBytes::new(py, plaintext.as_slice()))
    }

    /// Seals everything read from the binary file object `src` (`src.read(n)` until it returns
    /// `b""`) into `dst` (`dst.write(b)`), in chunks of 64 KiB: memory stays bounded whatever the
    /// size. Returns the number of bytes written to `dst`. The GIL is held only for each `read` and
    /// `write` call. An exception from `src` or `dst` is raised as it is; `dst` then holds a partial
    /// message that does not open.
    #[pyo3(signature = (name, src, dst, context=None))]
    fn seal_stream(
        &self,
        py: Python<'_>,
        name: String,
        src: Py<PyAny>,
        dst: Py<PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let keys = self.handle(py)?;
        let name = key_name(py, &name)?;
        let context = Context::from_bytes(input::context(context)?.into_owned());
        let envelope = Envelope::new(&*keys);
        py.detach(|| env::seal_stream(&envelope, &name, &context, &src, &dst, false))
            .map_err(|err| err.into_py(py))
    }

    /// Opens the sealed message read from `src` into `dst`, 64 KiB at a time; returns the number of
    /// plaintext bytes written. Each package is written only after it is authenticated, and the call
    /// succeeds only once the whole message is; if it raises (`DecryptError` for a tampered or
    /// truncated message), discard what `dst` received.
    #[pyo3(signature = (src, dst, context=None, *, accept=None))]
    fn open_stream(
        &self,
        py: Python<'_>,
        src: Py<PyAny>,
        dst: Py<PyAny>,
        context: Option<&Bound<'_, PyAny>>,
        accept: Option<Vec<String>>,
    ) -> PyResult<u64> {
        let keys = self.handle(py)?;
        let context = Context::from_bytes(input::context(context)?.into_owned());
        let envelope = env::envelope(&*keys, env::accepted(py, accept)?);
        py.detach(|| env::open_stream(&envelope, &context, &src, &dst, false))
            .map_err(|err| err.into_py(py))
    }

    /// `length` plaintext bytes from `offset` of the sealed message in the seekable binary file object
    /// `src`, from its current position to its end. Reads the header and only the packages the range
    /// covers (64 KiB each), and authenticates those; `InvalidArgumentError` if the range is beyond
    /// the message.
    #[pyo3(signature = (src, offset, length, context=None, *, accept=None))]
    fn open_range<'py>(
        &self,
        py: Python<'py>,
        src: Py<PyAny>,
        offset: u64,
        length: u64,
        context: Option<&Bound<'py, PyAny>>,
        accept: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let keys = self.handle(py)?;
        let context = Context::from_bytes(input::context(context)?.into_owned());
        let envelope = env::envelope(&*keys, env::accepted(py, accept)?);
        let plaintext = py
            .detach(|| env::open_range(&envelope, &context, &src, offset, length, false))
            .map_err(|err| err.into_py(py))?;
        Ok(PyBytes::new(py, plaintext.as_slice()))
    }

    /// A `Sealer` whose `seal` reuses one data key for up to `messages` messages, `bytes` plaintext
    /// bytes and `seconds` seconds per (key name, context); all three required and non-zero. Off
    /// unless asked for: it trades fewer KES calls for a larger loss if a data key leaks. Streams
    /// always get a fresh data key. Closing this handle closes the sealer.
    #[pyo3(signature = (*, messages, bytes, seconds))]
    fn with_data_key_reuse(
        &self,
        py: Python<'_>,
        messages: u64,
        bytes: u64,
        seconds: f64,
    ) -> PyResult<env::Sealer> {
        self.handle(py)?;
        let limits = env::reuse_limits(py, messages, bytes, seconds)?;
        Ok(env::Sealer {
            envelope: Envelope::new(SharedBlocking(Arc::clone(&self.inner)))
                .reuse_data_keys(limits),
        })
    }

    /// The key store's health: a `StoreStatus` with its latency, or `KeyStoreUnavailableError`.
    fn status(&self, py: Python<'_>) -> PyResult<StoreStatus> {
        let keys = self.handle(py)?;
        py.detach(|| keys.status())
            .map(StoreStatus::from)
            .map_err(|err| to_py(py, err))
    }

    /// Lets go of the key store and connections. Later calls raise `InvalidArgumentError`; calls
    /// already running finish.
    fn close(&self) {
        self.inner.store(None);
    }

    /// Returns the handle itself, for `with`.
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Closes the handle at the end of the `with` block.
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) {
        self.close();
    }

    /// Local, remote or closed; never a key, path or credential.
    fn __repr__(&self) -> String {
        match self.inner.load().as_ref() {
            Some(keys) if keys.is_remote() => "Keys(remote)".into(),
            Some(_) => "Keys(local)".into(),
            None => "Keys(closed)".into(),
        }
    }
}

impl Keys {
    fn new(keys: BlockingKeys) -> Self {
        Self {
            inner: Arc::new(ArcSwapOption::from_pointee(keys)),
        }
    }

    /// The open handle, or the error a closed one gives.
    fn handle(&self, py: Python<'_>) -> PyResult<Arc<BlockingKeys>> {
        env::load(&self.inner).map_err(|err| to_py(py, err))
    }
}

/// What a call on a closed handle says.
pub(crate) const CLOSED: &str = "the handle is closed";
