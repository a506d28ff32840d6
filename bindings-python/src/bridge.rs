//! Core's futures as asyncio awaitables, through pyo3-async-runtimes, on core's own runtime.
//!
//! pyo3-async-runtimes' `tokio` module would run them on a second runtime of its own, started once per
//! process and kept in a static. After `os.fork()` the child would inherit that runtime without its
//! threads, and every awaitable it made would wait forever, even for a handle opened in the child.
//! Core's runtime ([`kesrs_core::Keys::runtime`]) is started again in a forked child, so spawning on it
//! keeps the promise that a forked child either works or fails at once. [`CoreRuntime`] is the
//! `tokio` module's runtime shape, pointed there.

use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;

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

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        tokio::task::spawn_blocking(f)
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
