//! Core's futures as asyncio awaitables, through pyo3-async-runtimes, on core's own runtime.
//!
//! pyo3-async-runtimes' `tokio` module would run them on a second runtime of its own, started once per
//! process and kept in a static. After `os.fork()` the child would inherit that runtime without its
//! threads, and every awaitable it made would wait forever, even for a handle opened in the child.
//! Core's runtime ([`kesrs_core::Keys::runtime`]) is started again in a forked child, so spawning on it
//! keeps the promise that a forked child either works or fails at once. [`CoreRuntime`] is the
//! `tokio` module's runtime shape, pointed there.
//!
//! Results reach Python from a runtime thread that attaches to the interpreter. A thread that does so
//! while the interpreter shuts down is stopped by CPython mid-call, and the process aborts. So every
//! attach from a runtime thread goes through [`Completions`], and an `atexit` hook (registered with
//! the module) waits for those in flight and turns later ones away, before the interpreter goes.

use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{self, ContextExt, Runtime};
use pyo3_async_runtimes::TaskLocals;

use kesrs_core::Keys;

use crate::error::to_py;
use crate::values::Answer;

/// An awaitable for `call`: it runs on core's runtime, and its result (or core's error, as the
/// matching exception) is set on the asyncio future from the event loop's thread.
pub(crate) fn spawn<'py, T>(
    py: Python<'py>,
    call: impl Future<Output = Result<T, kesrs_core::Error>> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let runtime = Keys::runtime().map_err(|err| to_py(py, err))?;
    let locals = generic::get_current_locals::<CoreRuntime>(py)?;
    // `CoreRuntime::spawn` spawns on the runtime whose context is entered; here that is core's.
    let _context = runtime.enter();
    generic::future_into_py_with_locals::<CoreRuntime, _, _>(py, locals, async move {
        Ok(Answer(call.await))
    })
}

/// pyo3-async-runtimes' view of core's runtime. Only ever used inside that runtime's context: from
/// [`spawn`], which enters it, or from tasks running on it.
struct CoreRuntime;

tokio::task_local! {
    /// The event loop and contextvars of the Python task that started a call.
    static TASK_LOCALS: OnceCell<TaskLocals>;
}

impl Runtime for CoreRuntime {
    type JoinError = tokio::task::JoinError;
    type JoinHandle = tokio::task::JoinHandle<()>;

    fn spawn<F>(future: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(future)
    }

    /// pyo3-async-runtimes calls this only to set a result on the event loop, attached to Python.
    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        tokio::task::spawn_blocking(move || {
            if let Some(_completion) = Completions::start() {
                f();
            }
            // Otherwise the interpreter is exiting: the result is dropped unseen (its Python
            // references are left to pyo3's pool of deferred releases, which needs no interpreter).
        })
    }
}

impl ContextExt for CoreRuntime {
    fn scope<F, R>(locals: TaskLocals, future: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        Box::pin(TASK_LOCALS.scope(OnceCell::from(locals), future))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS
            .try_with(|cell| cell.get().cloned())
            .unwrap_or_default()
    }
}

/// Results being handed to Python from runtime threads, and whether the interpreter is exiting.
struct Completions;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static EXITING: AtomicBool = AtomicBool::new(false);

/// How long the exit hook waits for results already being handed over; they take microseconds.
const EXIT_WAIT: Duration = Duration::from_secs(5);

impl Completions {
    /// Admits one hand-over, unless the interpreter is exiting. It counts until the guard drops.
    fn start() -> Option<CompletionGuard> {
        // Counted before the flag is read, and the exit hook sets the flag before it reads the
        // count: either the hook waits for this one, or this one sees the flag.
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        let guard = CompletionGuard;
        (!EXITING.load(Ordering::SeqCst)).then_some(guard)
    }
}

struct CompletionGuard;

impl Drop for CompletionGuard {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The `atexit` hook: turns away results from now on and waits, without the GIL, for those being
/// handed over. Bounded, so that exit never hangs.
#[pyfunction]
pub(crate) fn _at_exit(py: Python<'_>) {
    EXITING.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = Instant::now() + EXIT_WAIT;
        while IN_FLIGHT.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// The `os.register_at_fork` child hook: hand-overs counted in the parent have no thread here.
#[pyfunction]
pub(crate) fn _after_fork_in_child() {
    IN_FLIGHT.store(0, Ordering::SeqCst);
    EXITING.store(false, Ordering::SeqCst);
}

/// Registers the exit and fork hooks with the interpreter; called once, when the module loads.
pub(crate) fn register_hooks(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let at_exit = wrap_pyfunction!(_at_exit, module)?;
    py.import("atexit")?.call_method1("register", (at_exit,))?;
    let after_fork = wrap_pyfunction!(_after_fork_in_child, module)?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("after_in_child", after_fork)?;
    py.import("os")?
        .call_method("register_at_fork", (), Some(&kwargs))?;
    Ok(())
}

/// Runs `f` attached to the interpreter from a thread of ours (a stream's worker), unless the
/// interpreter is exiting: then `None`, and the stream fails instead of being stopped mid-call.
pub(crate) fn attach_unless_exiting<T>(f: impl FnOnce(Python<'_>) -> T) -> Option<T> {
    let _completion = Completions::start()?;
    Some(Python::attach(f))
}
