//! Sealed messages over Python file objects: `seal_stream` through core's
//! [`PackageSealer`](kesrs_core::PackageSealer), the `Read`/`Write`/`Seek` adapters that let core's
//! [`OpenReader`](kesrs_core::OpenReader) stream through anything with `.read(n)` and `.write(b)`
//! (and `.seek`, for ranges), and the data-key-reuse sealers.
//!
//! The stream functions run without the GIL. Each file call attaches to the interpreter only for the
//! one `read`, `write` or `seek`, so the crypto of each 64 KiB package runs while other Python threads
//! do. At most two chunks (the one being sealed and the one read ahead) and one sealed package (the
//! `bytearray` given to `write`) are in memory at a time.
//!
//! An exception raised by the file object (an `OSError`, a `TypeError` from `read` returning `str`)
//! is kept and raised as it is once core has given up, rather than as core's `KES_IO`; `KesIOError`
//! is left for what the file object did wrong without raising (`read` returning `None`, `write`
//! writing nothing).

use std::cell::RefCell;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyByteArray, PyBytes};
use pyo3::IntoPyObjectExt as _;
use zeroize::{Zeroize as _, Zeroizing};

use kesrs_core::{
    BlockingKeys, Context, DataKey, DataKeys, Envelope, Error, KeyName, Keys, PackageSealer,
    Pattern, ReuseLimits,
};

use crate::bridge;
use crate::error::to_py;
use crate::input;
use crate::keys::CLOSED;

/// How much plaintext `seal_stream` and `open_stream` move per Python call: one DARE package.
pub(crate) const CHUNK: usize = kesrs_core::ENVELOPE_PACKAGE_LEN;

/// Why a stream call failed: core's error, or the exception the file object raised.
pub(crate) enum Failure {
    Kes(Error),
    Py(PyErr),
}

impl Failure {
    pub(crate) fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            Self::Kes(err) => to_py(py, err),
            Self::Py(err) => err,
        }
    }
}

/// A stream call's outcome on its way to Python (from `py.detach`, or from a worker thread to the
/// event loop).
pub(crate) struct Outcome<T>(pub(crate) Result<T, Failure>);

impl<'py, T: IntoPyObject<'py>> IntoPyObject<'py> for Outcome<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        match self.0 {
            Ok(value) => value.into_bound_py_any(py),
            Err(err) => Err(err.into_py(py)),
        }
    }
}

/// Which thread a stream runs on, and where the file object's exception is kept.
struct Calls<'a> {
    raised: &'a RefCell<Option<PyErr>>,
    /// A worker thread (AsyncKeys): it attaches only while the interpreter is not exiting, and leaves
    /// signals to the main thread. The caller's thread (Keys) checks for Ctrl-C at every chunk.
    worker: bool,
}

impl Calls<'_> {
    fn call<T>(&self, f: impl FnOnce(Python<'_>) -> PyResult<T>) -> io::Result<T> {
        let run = |py: Python<'_>| {
            if !self.worker {
                py.check_signals()?;
            }
            f(py)
        };
        let result = if self.worker {
            bridge::attach_unless_exiting(run)
                .ok_or_else(|| io::Error::other("the Python interpreter is exiting"))?
        } else {
            Python::attach(run)
        };
        result.map_err(|err| {
            *self.raised.borrow_mut() = Some(err);
            io::Error::other("the file object raised an exception")
        })
    }

    /// Core's error, unless the file object raised: then its exception.
    fn failure(&self, err: Error) -> Failure {
        match self.raised.borrow_mut().take() {
            Some(raised) => Failure::Py(raised),
            None => Failure::Kes(err),
        }
    }
}

/// `Read` (and `Seek`) over a Python binary file object.
struct PyReader<'a> {
    file: &'a Py<PyAny>,
    calls: &'a Calls<'a>,
}

impl Read for PyReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let chunk = self.calls.read(self.file, out.len())?;
        filled_mut(out, chunk.len())?.copy_from_slice(&chunk);
        Ok(chunk.len())
    }
}

/// What one `read(n)` gave: the `bytes` object itself, borrowed without a copy (it is immutable, so
/// it can be read with the GIL released), or a copy of another buffer type or of several short reads.
enum Chunk {
    Bytes(PyBackedBytes),
    Copied(Zeroizing<Vec<u8>>),
}

impl Deref for Chunk {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Bytes(bytes) => bytes,
            Self::Copied(copy) => copy,
        }
    }
}

/// What `read(n)` answered, before it is checked.
enum Got {
    Chunk(Chunk),
    Nothing,
}

impl Calls<'_> {
    /// One `file.read(n)`: at most `n` bytes, empty at end of file.
    fn read(&self, file: &Py<PyAny>, n: usize) -> io::Result<Chunk> {
        let got = self.call(|py| {
            let answer = file.bind(py).call_method1(intern!(py, "read"), (n,))?;
            if answer.is_none() {
                return Ok(Got::Nothing);
            }
            Ok(Got::Chunk(match answer.cast::<PyBytes>() {
                Ok(bytes) => Chunk::Bytes(bytes.clone().into()),
                Err(_) => Chunk::Copied(Zeroizing::new(input::bytes(&answer)?.into_owned())),
            }))
        })?;
        match got {
            // A non-blocking raw file with no data ready: streams need blocking files.
            Got::Nothing => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "read() returned None: the file is non-blocking",
            )),
            Got::Chunk(chunk) if chunk.len() > n => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "read(n) returned more than n bytes",
            )),
            Got::Chunk(chunk) => Ok(chunk),
        }
    }

    /// The next `CHUNK` bytes of `file`, fewer only at its end: usually one `read`, whose `bytes` are
    /// used as they are; short reads (a pipe, a socket) are gathered into one copy.
    fn read_chunk(&self, file: &Py<PyAny>) -> io::Result<Chunk> {
        let first = self.read(file, CHUNK)?;
        if first.len() == CHUNK || first.is_empty() {
            return Ok(first);
        }
        let mut gathered = Zeroizing::new(Vec::with_capacity(CHUNK));
        gathered.extend_from_slice(&first);
        while gathered.len() < CHUNK {
            let more = self.read(file, CHUNK - gathered.len())?;
            if more.is_empty() {
                break;
            }
            gathered.extend_from_slice(&more);
        }
        Ok(Chunk::Copied(gathered))
    }
}

impl Seek for PyReader<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.calls.call(|py| {
            let file = self.file.bind(py);
            let at = match pos {
                SeekFrom::Start(n) => file.call_method1("seek", (n, 0))?,
                SeekFrom::Current(n) => file.call_method1("seek", (n, 1))?,
                SeekFrom::End(n) => file.call_method1("seek", (n, 2))?,
            };
            at.extract::<u64>()
        })
    }
}

/// `Write` over a Python binary file object. `write` may return the count written (a raw file may
/// write less) or `None` (many file-likes do), which means all of it.
struct PyWriter<'a> {
    file: &'a Py<PyAny>,
    calls: &'a Calls<'a>,
    written: u64,
}

impl PyWriter<'_> {
    /// Writes the first `len` bytes of a sealed `package`: the bytearray itself, cut to `len`. A
    /// short write (a raw file) goes on with a `bytes` copy of the rest.
    fn write_package(&mut self, package: Package, len: usize) -> io::Result<()> {
        let n = self.calls.call(|py| {
            let object = package.object.bind(py);
            object.resize(len)?;
            let answer = self
                .file
                .bind(py)
                .call_method1(intern!(py, "write"), (object,))?;
            if answer.is_none() {
                Ok(len)
            } else {
                Ok(answer.extract::<usize>()?.min(len))
            }
        })?;
        if n == 0 {
            // `write_all`'s own error, as for every other write that writes nothing.
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "failed to write whole buffer",
            ));
        }
        self.written += n as u64;
        if n < len {
            let rest = self.calls.call(|py| Ok(package.object.bind(py).to_vec()))?;
            self.write_all(filled(&rest, len)?.get(n..).unwrap_or_default())?;
        }
        Ok(())
    }
}

impl Write for PyWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let n = self.calls.call(|py| {
            let answer = self
                .file
                .bind(py)
                .call_method1(intern!(py, "write"), (PyBytes::new(py, data),))?;
            if answer.is_none() {
                Ok(data.len())
            } else {
                Ok(answer.extract::<usize>()?.min(data.len()))
            }
        })?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.calls.call(|py| {
            let file = self.file.bind(py);
            if file.hasattr("flush")? {
                file.call_method0("flush")?;
            }
            Ok(())
        })
    }
}

/// A fresh `bytearray` to seal one package into, and where its bytes are.
struct Package {
    object: Py<PyByteArray>,
    data: *mut u8,
}

impl Calls<'_> {
    /// A new `bytearray` as long as the longest sealed package.
    fn package(&self) -> io::Result<Package> {
        self.call(|py| {
            // Zeroed, not uninitialized: the seal writes through a `&mut [u8]` over all of it.
            let object = PyByteArray::new_with(py, PackageSealer::MAX_OUTPUT, |_| Ok(()))?;
            let data = object.data();
            Ok(Package {
                object: object.unbind(),
                data,
            })
        })
    }
}

impl Package {
    /// Seals `plaintext` into the bytearray without the GIL; returns the sealed length.
    fn seal(
        &self,
        sealer: &mut PackageSealer,
        plaintext: &[u8],
        is_final: bool,
    ) -> Result<usize, Error> {
        // SAFETY: `self.object` was created by `Calls::package` and only this function's caller
        // holds a reference to it: no Python code has seen it yet, so none can resize it (which
        // would move its bytes), read it or write it while we do, with or without the GIL. Its
        // `MAX_OUTPUT` bytes, zeroed, stay at `self.data` while `self.object` is alive.
        let out = unsafe { std::slice::from_raw_parts_mut(self.data, PackageSealer::MAX_OUTPUT) };
        let sealed = sealer.seal(plaintext, is_final, out);
        if sealed.is_err() {
            // The plaintext may have been copied in and not encrypted.
            out.zeroize();
        }
        sealed
    }
}

/// Seals everything `src` reads into `dst`; returns the bytes written to `dst`.
///
/// One package per `read` and `write`, without core's stream buffer: each chunk is sealed from the
/// `bytes` that `read` returned straight into a fresh `bytearray` (core's [`PackageSealer`]), which
/// is what `write` gets: no copy of the sealed package. A package is final when
/// the read after it finds the end, so the stream reads one chunk ahead.
pub(crate) fn seal_stream<K: DataKeys>(
    envelope: &Envelope<K>,
    key: &KeyName,
    context: &Context,
    src: &Py<PyAny>,
    dst: &Py<PyAny>,
    worker: bool,
) -> Result<u64, Failure> {
    let raised = RefCell::new(None);
    let calls = Calls {
        raised: &raised,
        worker,
    };
    let run = || -> Result<u64, Error> {
        let mut sealer = envelope.package_sealer(key, context)?;
        let mut writer = PyWriter {
            file: dst,
            calls: &calls,
            written: 0,
        };
        let mut current = calls.read_chunk(src)?;
        loop {
            // `read_chunk` returns a short chunk only at the end, so only a full one needs a look
            // ahead.
            let next = if current.len() == CHUNK {
                Some(calls.read_chunk(src)?).filter(|next| !next.is_empty())
            } else {
                None
            };
            let package = calls.package()?;
            let n = package.seal(&mut sealer, &current, next.is_none())?;
            writer.write_package(package, n)?;
            match next {
                Some(next) => current = next,
                None => break,
            }
        }
        writer.flush()?;
        Ok(writer.written)
    };
    run().map_err(|err| calls.failure(err))
}

/// Opens the envelope `src` reads into `dst`; returns the plaintext bytes written to `dst`.
pub(crate) fn open_stream<K: DataKeys>(
    envelope: &Envelope<K>,
    context: &Context,
    src: &Py<PyAny>,
    dst: &Py<PyAny>,
    worker: bool,
) -> Result<u64, Failure> {
    let raised = RefCell::new(None);
    let calls = Calls {
        raised: &raised,
        worker,
    };
    let run = || -> Result<u64, Error> {
        let reader = PyReader {
            file: src,
            calls: &calls,
        };
        let mut writer = PyWriter {
            file: dst,
            calls: &calls,
            written: 0,
        };
        let mut opener = envelope.open_reader(reader, context)?;
        let mut chunk = Zeroizing::new(vec![0u8; CHUNK]);
        loop {
            let n = read_retrying(&mut opener, &mut chunk)?;
            if n == 0 {
                break;
            }
            writer.write_all(filled(&chunk, n)?)?;
        }
        writer.flush()?;
        Ok(writer.written)
    };
    run().map_err(|err| calls.failure(err))
}

/// `length` plaintext bytes from `offset` of the envelope that `src` holds from its current position
/// to its end. Reads the header and only the packages the range covers.
pub(crate) fn open_range<K: DataKeys>(
    envelope: &Envelope<K>,
    context: &Context,
    src: &Py<PyAny>,
    offset: u64,
    length: u64,
    worker: bool,
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let raised = RefCell::new(None);
    let calls = Calls {
        raised: &raised,
        worker,
    };
    let run = || -> Result<Zeroizing<Vec<u8>>, Error> {
        let reader = PyReader {
            file: src,
            calls: &calls,
        };
        let mut opener = envelope.open_range(reader, context, offset, length)?;
        // Never more than the range, however large a length was asked for: core bounds-checks it.
        let mut plaintext = Zeroizing::new(Vec::with_capacity(length.min(1 << 26) as usize));
        opener.read_to_end(&mut plaintext)?;
        Ok(plaintext)
    };
    run().map_err(|err| calls.failure(err))
}

/// The first `n` bytes of `buf`, which a `read` into it (or a seal) said it filled.
fn filled(buf: &[u8], n: usize) -> io::Result<&[u8]> {
    buf.get(..n)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "read more than its buffer"))
}

fn filled_mut(buf: &mut [u8], n: usize) -> io::Result<&mut [u8]> {
    buf.get_mut(..n)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "read more than its buffer"))
}

fn read_retrying(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The `accept=` patterns: key names an `open` accepts.
pub(crate) fn accepted(
    py: Python<'_>,
    accept: Option<Vec<String>>,
) -> PyResult<Option<Vec<Pattern>>> {
    accept
        .map(|patterns| {
            patterns
                .iter()
                .map(|pattern| input::pattern(py, pattern))
                .collect()
        })
        .transpose()
}

/// Envelopes over `keys`, restricted to the accepted key names if there are any.
pub(crate) fn envelope<K>(keys: K, accept: Option<Vec<Pattern>>) -> Envelope<K> {
    match accept {
        Some(patterns) => Envelope::new(keys).accept_keys(patterns),
        None => Envelope::new(keys),
    }
}

/// A handle's slot, shared with the sealers made from it, so that closing the handle closes them.
pub(crate) type Slot<T> = Arc<ArcSwapOption<T>>;

/// The open handle in `slot`, or the error a closed one gives.
pub(crate) fn load<T>(slot: &Slot<T>) -> Result<Arc<T>, Error> {
    slot.load_full()
        .ok_or_else(|| Error::InvalidArgument(CLOSED.into()))
}

/// Data keys from a `Keys` handle's slot.
pub(crate) struct SharedBlocking(pub(crate) Slot<BlockingKeys>);

impl DataKeys for SharedBlocking {
    fn generate(&self, key: &KeyName, context: &[u8]) -> Result<DataKey, Error> {
        load(&self.0)?.generate_key(key, context)
    }

    fn decrypt(
        &self,
        key: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        load(&self.0)?.decrypt(key, ciphertext, context)
    }
}

/// Data keys from an `AsyncKeys` handle's slot.
pub(crate) struct SharedAsync(pub(crate) Slot<Keys>);

#[async_trait::async_trait]
impl kesrs_core::AsyncDataKeys for SharedAsync {
    async fn generate(&self, key: &KeyName, context: &[u8]) -> Result<DataKey, Error> {
        load(&self.0)?.generate_key(key, context).await
    }

    async fn decrypt(
        &self,
        key: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        load(&self.0)?.decrypt(key, ciphertext, context).await
    }
}

/// `with_data_key_reuse`'s limits: all three required and non-zero.
pub(crate) fn reuse_limits(
    py: Python<'_>,
    messages: u64,
    bytes: u64,
    seconds: f64,
) -> PyResult<ReuseLimits> {
    let age = Duration::try_from_secs_f64(seconds).map_err(|_| {
        to_py(
            py,
            Error::InvalidArgument("seconds must be a positive, finite number".into()),
        )
    })?;
    ReuseLimits::new(messages, bytes, age).map_err(|err| to_py(py, err))
}

/// What `Keys.with_data_key_reuse` returns: `seal` like the handle's, but one data key serves up to
/// `messages` messages, `bytes` plaintext bytes and `seconds` seconds per (key name, context).
///
/// Fewer KES calls, at a cost: a leaked data key opens up to `messages` messages, and KES's audit log
/// shows one `generate` for all of them. Every message still has keys of its own (docs/envelope.md,
/// section 6), and opens with the handle's `open` as any other. Closing the handle closes this too.
#[pyclass(module = "kesrs", frozen)]
pub(crate) struct Sealer {
    pub(crate) envelope: Envelope<SharedBlocking>,
}

#[pymethods]
impl Sealer {
    /// Seals `data` under the key `name`, bound to `context`, reusing a data key within the limits.
    #[pyo3(signature = (name, data, context=None))]
    fn seal<'py>(
        &self,
        py: Python<'py>,
        name: String,
        data: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        // A cached data key needs no call to the handle: refuse here once it is closed.
        load(&self.envelope.keys().0).map_err(|err| to_py(py, err))?;
        let name = input::key_name(py, &name)?;
        let data = input::bytes(data)?;
        let context = Context::from_bytes(input::context(context)?.into_owned());
        py.detach(|| self.envelope.seal(&name, &data, &context))
            .map(|sealed| PyBytes::new(py, &sealed))
            .map_err(|err| to_py(py, err))
    }

    fn __repr__(&self) -> &'static str {
        "Sealer(data_key_reuse)"
    }
}

/// `AsyncKeys.with_data_key_reuse`: a `Sealer` whose `seal` is a coroutine.
#[pyclass(module = "kesrs", frozen)]
pub(crate) struct AsyncSealer {
    pub(crate) envelope: Arc<Envelope<SharedAsync>>,
}

#[pymethods]
impl AsyncSealer {
    /// Seals `data` under the key `name`, bound to `context`, reusing a data key within the limits.
    #[pyo3(signature = (name, data, context=None))]
    fn seal<'py>(
        &self,
        py: Python<'py>,
        name: String,
        data: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        load(&self.envelope.keys().0).map_err(|err| to_py(py, err))?;
        let name = input::key_name(py, &name)?;
        let data = Zeroizing::new(input::bytes(data)?.into_owned());
        let context = Context::from_bytes(input::context(context)?.into_owned());
        let envelope = Arc::clone(&self.envelope);
        bridge::spawn(py, async move {
            envelope.seal_async(&name, &data, &context).await
        })
    }

    fn __repr__(&self) -> &'static str {
        "AsyncSealer(data_key_reuse)"
    }
}
