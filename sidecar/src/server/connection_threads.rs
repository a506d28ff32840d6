//! The threads connections run on: one single-threaded tokio runtime per CPU.
//!
//! A connection needs one thread at a time (its requests run on its own task, `http2_executor`),
//! and tokio's work-stealing runtime kept waking a second worker for every batch of requests to steal
//! work that was not there: under MinIO's client (one HTTP/2 connection) a server on the default
//! runtime made 0.35-0.45 context switches and spent 18.5-20.4 µs of CPU per request, against
//! 0.12-0.16 and 16.3-17.4 µs on one worker (docs/performance.md). Here each accepted connection is
//! handed to one of these threads for its whole life, round robin (connections are long-lived and
//! alike, and MinIO opens one per node), so it never wakes another thread, and separate connections
//! still use every CPU. Blocking work (key-store I/O) goes to each runtime's blocking pool as before.
//!
//! `TOKIO_WORKER_THREADS` sets the number of threads, as it set tokio's worker count before.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

/// Runs on the receiving thread, inside its runtime; it spawns the connection's task there.
type Job = Box<dyn FnOnce() + Send>;

/// The connection threads; dropping this ends them once their connections are dropped too.
#[derive(Debug)]
pub(crate) struct ConnectionThreads {
    threads: Vec<mpsc::UnboundedSender<Job>>,
    next: AtomicUsize,
}

impl ConnectionThreads {
    /// Starts [`count`] threads, each with a runtime of its own.
    pub(crate) fn start() -> io::Result<Self> {
        let mut threads = Vec::new();
        for index in 0..count() {
            let (tx, mut jobs) = mpsc::unbounded_channel::<Job>();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            std::thread::Builder::new()
                .name(format!("kesrs-conn-{index}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        while let Some(job) = jobs.recv().await {
                            job();
                        }
                    });
                })?;
            threads.push(tx);
        }
        Ok(Self {
            threads,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs the future `make` builds on the next thread, round robin. `make` runs on that thread, so
    /// what it registers with a runtime (a socket, a timer) belongs to that thread's runtime.
    pub(crate) fn spawn<F, Fut>(&self, make: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.threads.len().max(1);
        if let Some(thread) = self.threads.get(index) {
            // A thread's loop ends only when this sender is dropped, so the send cannot fail while
            // `self` lives.
            let _ = thread.send(Box::new(move || {
                tokio::spawn(make());
            }));
        }
    }
}

/// How many connection threads run: `TOKIO_WORKER_THREADS` if set to a positive number, else one per
/// CPU (Go's GOMAXPROCS, reported as `num_cpu_used`).
pub(crate) fn count() -> usize {
    std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|n| n.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_go_round_robin_each_to_a_thread_of_its_own() {
        let threads = ConnectionThreads::start().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        for _ in 0..threads.threads.len() * 2 {
            let tx = tx.clone();
            threads.spawn(move || async move {
                tokio::task::yield_now().await;
                let name = std::thread::current().name().unwrap_or_default().to_owned();
                let flavor = tokio::runtime::Handle::current().runtime_flavor();
                let _ = tx.send((name, flavor));
            });
        }
        drop(tx);
        let mut seen = std::collections::BTreeMap::new();
        while let Some((name, flavor)) = rx.recv().await {
            assert_eq!(flavor, tokio::runtime::RuntimeFlavor::CurrentThread);
            *seen.entry(name).or_insert(0) += 1;
        }
        assert_eq!(seen.len(), threads.threads.len(), "{seen:?}");
        assert!(seen.values().all(|n| *n == 2), "{seen:?}");
        assert!(seen.keys().all(|name| name.starts_with("kesrs-conn-")));
    }
}
