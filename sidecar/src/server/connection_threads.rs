//! The threads connections run on: one single-threaded tokio runtime per CPU.
//!
//! A connection needs one thread at a time (its requests run on its own task, `http2_executor`),
//! and tokio's work-stealing runtime kept waking a second worker for every batch of requests to steal
//! work that was not there: under MinIO's client (one HTTP/2 connection) a server on the default
//! runtime made 0.38-0.39 context switches and spent 20.3-21.0 µs of CPU per request, against
//! 0.14-0.15 and 16.6-17.7 µs on these threads (docs/performance.md, "one thread per connection").
//! Here each accepted connection is handed to one of these threads for its whole life, so it never
//! wakes another thread, and separate connections still use every CPU. Blocking work (key-store I/O)
//! goes to each runtime's blocking pool as before; nothing in the server uses `block_in_place`,
//! which a single-threaded runtime refuses.
//!
//! A connection goes to the thread with the fewest open connections, not round robin: MinIO keeps
//! one long-lived connection per node, while health probes and CLI calls come and go in between, so
//! round robin could put two MinIO nodes on one thread and leave another idle for their whole life.
//!
//! `TOKIO_WORKER_THREADS` sets the number of threads, as it set tokio's worker count before.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::warn;

/// Runs on the receiving thread, inside its runtime; it spawns the connection's task there.
type Job = Box<dyn FnOnce() + Send>;

/// The connection threads; dropping this ends them once their connections are dropped too.
#[derive(Debug)]
pub(crate) struct ConnectionThreads {
    threads: Vec<Thread>,
}

#[derive(Debug)]
struct Thread {
    jobs: mpsc::UnboundedSender<Job>,
    open: Arc<AtomicUsize>,
}

/// One open connection of a thread, counted until its task ends, is dropped unrun, or its runtime
/// goes.
struct Open(Arc<AtomicUsize>);

impl Open {
    fn new(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(open))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ConnectionThreads {
    /// Starts [`count`] threads, each with a runtime of its own.
    pub(crate) fn start() -> io::Result<Self> {
        Self::with_threads(count())
    }

    fn with_threads(count: usize) -> io::Result<Self> {
        let mut threads = Vec::new();
        for index in 0..count {
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
            threads.push(Thread {
                jobs: tx,
                open: Arc::new(AtomicUsize::new(0)),
            });
        }
        Ok(Self { threads })
    }

    /// Serves an accepted connection with `serve` on the thread with the fewest open connections:
    /// the socket leaves the accepting runtime and is registered with that thread's.
    pub(crate) fn serve<F, Fut>(&self, tcp: TcpStream, serve: F)
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let tcp = match tcp.into_std() {
            Ok(tcp) => tcp,
            Err(err) => {
                warn!("failed to hand over a connection: {err}");
                return;
            }
        };
        self.spawn(move || async move {
            match TcpStream::from_std(tcp) {
                Ok(tcp) => serve(tcp).await,
                Err(err) => warn!("failed to take over a connection: {err}"),
            }
        });
    }

    /// Runs the future `make` builds on the thread with the fewest open connections (the first of
    /// those on a tie). `make` runs on that thread, so what it registers with a runtime (a socket, a
    /// timer) belongs to that thread's runtime.
    fn spawn<F, Fut>(&self, make: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Some(thread) = self
            .threads
            .iter()
            .min_by_key(|thread| thread.open.load(Ordering::Relaxed))
        else {
            return;
        };
        let open = Open::new(&thread.open);
        // A thread's loop ends only when this sender is dropped, so the send cannot fail while
        // `self` lives.
        let _ = thread.jobs.send(Box::new(move || {
            tokio::spawn(async move {
                make().await;
                drop(open);
            });
        }));
    }
}

/// Logical CPUs of the machine (Go's `runtime.NumCPU`), 1 where that is not known.
pub(crate) fn machine_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How many connection threads run: `TOKIO_WORKER_THREADS` if set to a positive number, else one per
/// CPU (Go's GOMAXPROCS, reported as `num_cpu_used`).
pub(crate) fn count() -> usize {
    std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|n| n.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(machine_cpus)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tokio::sync::oneshot;

    use super::*;

    /// Where a connection ran: its thread's name and its runtime's flavor.
    type Place = (String, tokio::runtime::RuntimeFlavor);

    /// Spawns a connection that reports where it runs, then stays open until `close` fires.
    async fn connect(threads: &ConnectionThreads, close: oneshot::Receiver<()>) -> Place {
        let (tx, rx) = oneshot::channel();
        threads.spawn(move || async move {
            tokio::task::yield_now().await;
            let name = std::thread::current().name().unwrap_or_default().to_owned();
            let flavor = tokio::runtime::Handle::current().runtime_flavor();
            let _ = tx.send((name, flavor));
            let _ = close.await;
        });
        rx.await.unwrap()
    }

    fn open(threads: &ConnectionThreads) -> Vec<usize> {
        let counts = threads.threads.iter();
        counts.map(|t| t.open.load(Ordering::Relaxed)).collect()
    }

    /// Waits (at most 5 s) until the threads' open connections are `expected`: a connection's count
    /// drops on its own thread just after its task ends.
    async fn wait_open(threads: &ConnectionThreads, expected: &[usize]) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while open(threads) != expected {
            assert!(Instant::now() < deadline, "open {:?}", open(threads));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn each_connection_runs_on_a_single_threaded_runtime_of_a_connection_thread() {
        let threads = ConnectionThreads::with_threads(2).unwrap();
        let (_keep, close) = oneshot::channel();
        let (name, flavor) = connect(&threads, close).await;
        assert_eq!(flavor, tokio::runtime::RuntimeFlavor::CurrentThread);
        assert_eq!(name, "kesrs-conn-0");
    }

    #[tokio::test]
    async fn a_long_lived_connection_goes_to_the_thread_with_fewest_open_connections() {
        let threads = ConnectionThreads::with_threads(2).unwrap();
        let (_keep_a, close_a) = oneshot::channel();
        let (a, _) = connect(&threads, close_a).await;

        // A probe in between comes and goes: round robin would put the next connection next to `a`.
        let (probe_done, close_probe) = oneshot::channel();
        let (probe, _) = connect(&threads, close_probe).await;
        assert_ne!(probe, a);
        drop(probe_done);
        wait_open(&threads, &[1, 0]).await;

        let (_keep_b, close_b) = oneshot::channel();
        let (b, _) = connect(&threads, close_b).await;
        assert_ne!(b, a);
        assert_eq!(open(&threads), [1, 1]);
    }
}
