//! The one tokio runtime that handles without a runtime of their own run on, per process.
//!
//! The bindings' callers (a C program, a Python script, a Node worker) have no tokio runtime, and the
//! key stores need one (the fs store's blocking reads, the Azure SDK's HTTP client, the cache's
//! timers). Every handle shares one multi-threaded runtime, started on first use.
//!
//! `fork()` copies the runtime's memory but none of its threads: a runtime inherited from the parent
//! would accept work and never run it. So the runtime belongs to the process that started it; a forked
//! child starts its own on first use, and a handle made before the fork refuses to work in the child
//! ([`Error::Forked`]) rather than hang on locks or connections that belong to the parent.

use std::future::Future;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use tokio::runtime::{Handle, Runtime};

use crate::Error;

/// Worker threads of the shared runtime: key-store I/O is light, and crypto runs on the caller's
/// thread in blocking calls.
const WORKER_THREADS: usize = 2;

/// The runtime of this process, with the pid that started it. Lock-free: a fork while another thread
/// holds a lock would leave the child's copy of that lock held forever.
static RUNTIME: ArcSwapOption<ProcessRuntime> = ArcSwapOption::const_empty();

struct ProcessRuntime {
    pid: u32,
    runtime: Runtime,
}

/// The shared runtime's handle, started (again, after a fork) on first use in this process.
pub(super) fn handle() -> Result<Handle, Error> {
    let pid = std::process::id();
    let current = RUNTIME.load_full();
    if let Some(shared) = current.as_ref().filter(|shared| shared.pid == pid) {
        return Ok(shared.runtime.handle().clone());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("kesrs-keys")
        .enable_all()
        .build()
        .map_err(|err| Error::Runtime(err.to_string()))?;
    let handle = runtime.handle().clone();
    let fresh = Arc::new(ProcessRuntime { pid, runtime });
    let previous = RUNTIME.compare_and_swap(&current, Some(Arc::clone(&fresh)));
    let installed = match (&*previous, &current) {
        (Some(previous), Some(current)) => Arc::ptr_eq(previous, current),
        (None, None) => true,
        _ => false,
    };
    if !installed {
        // Another thread of this process started one first. Ours goes without waiting for its
        // threads: this may run on a runtime thread, where waiting is not allowed.
        drop(previous);
        if let Ok(ours) = Arc::try_unwrap(fresh) {
            ours.runtime.shutdown_background();
        }
        let theirs = handle_of_this_process(pid);
        return theirs.ok_or_else(|| Error::Runtime("the shared runtime changed".into()));
    }
    if let Some(inherited) = current {
        // The parent's runtime: its threads do not exist here, and dropping it would wait for them.
        // It is left behind, unused.
        std::mem::forget(inherited);
    }
    Ok(handle)
}

fn handle_of_this_process(pid: u32) -> Option<Handle> {
    RUNTIME
        .load()
        .as_ref()
        .filter(|shared| shared.pid == pid)
        .map(|shared| shared.runtime.handle().clone())
}

/// Polls `future` inside the shared runtime's context (its I/O and timer drivers, its blocking pool,
/// `tokio::spawn`), from whatever executor awaits it: tokio, another runtime, or none.
pub(super) async fn enter<F: Future>(handle: &Handle, future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        let _context = handle.enter();
        future.as_mut().poll(cx)
    })
    .await
}

/// Runs `future` to completion on the calling thread, which only waits: it works in a program without
/// a tokio runtime and on a thread of one (where tokio's own `block_on` would panic).
pub(super) fn block_on<F: Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}
