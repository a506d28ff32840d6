//! Runs the requests of an HTTP/2 connection on that connection's own task.
//!
//! hyper hands every HTTP/2 request to an executor. With `tokio::spawn` each request becomes a task
//! of its own that the runtime may start on another thread: a thread wake-up per request, and the
//! two threads then contend for the connection's stream lock. Requests here are short (a cache hit
//! and one AEAD operation), so that hand-off costs more than it buys. Instead the connection's
//! executor queues each request on the connection's task, which runs them all next to the connection
//! itself: a connection stays on one thread at a time, and separate connections still spread over all
//! threads. A request waiting on the key store only waits; it never holds up its neighbours.
//!
//! The executor also enforces a request's deadline on the whole stream. hyper polls a response body
//! only while the client's flow-control window has room, so a client that never opens its window
//! would keep the body, and the deadline inside it, waiting forever: 250 streams a connection of
//! pinned responses. A handler states its deadline with [`set_deadline`] and runs its work under
//! [`until_deadline`]; once the deadline passes, the executor polls the stream once more, telling the
//! work it has expired (the handler answers "timed out", and hyper resets the stream), then drops
//! whatever is left of it (a body the client's window holds up), which makes h2 reset it
//! (RST_STREAM CANCEL), as Go's write deadline tears it down.
//!
//! One timer per connection serves every deadline, not one per request: registering a tokio timer
//! that is due before every other timer of the thread (the connection's idle timeout is 90 s, a
//! request's deadline seconds) wakes the thread's driver through its eventfd, a system call per
//! request, and a request's timer was registered whenever its body or its response had to wait
//! (docs/performance.md, "one deadline timer per connection"). The connection's timer is armed at
//! the earliest deadline when one is set, never moved later while it waits, and when it fires the
//! executor ends the streams past their deadlines and re-arms it for the rest.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt as _;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use super::response::TimedOut;

type Request = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What the executor tells the stream it is polling, and hears back from it.
struct StreamState {
    /// The deadline its handler set, if any.
    deadline: Cell<Option<Instant>>,
    /// Whether the deadline has passed.
    expired: bool,
}

tokio::task_local! {
    /// Set while a stream is polled.
    static STREAM: StreamState;
    /// Set while the connection's streams are polled: the earliest deadline a stream set meanwhile.
    static NEW_DEADLINE: Cell<Option<Instant>>;
}

/// Ends the current HTTP/2 stream at `deadline`, whether or not hyper still polls its body, and
/// says so. Outside an HTTP/2 stream (an HTTP/1 request is polled by its connection) it does nothing
/// and returns false: the caller enforces its deadline itself.
pub(crate) fn set_deadline(deadline: Instant) -> bool {
    STREAM
        .try_with(|stream| stream.deadline.set(Some(deadline)))
        .is_ok()
}

/// Runs `work` until it finishes, or until the executor finds its stream past the deadline given to
/// [`set_deadline`].
pub(crate) async fn until_deadline<F: Future>(work: F) -> Result<F::Output, TimedOut> {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        if STREAM.try_with(|stream| stream.expired).unwrap_or(false) {
            return Poll::Ready(Err(TimedOut));
        }
        work.as_mut().poll(cx).map(Ok)
    })
    .await
}

/// One stream: hyper's future for it, and once its handler set one, the deadline.
struct Stream {
    future: Request,
    deadline: Option<Instant>,
}

impl Stream {
    fn poll_stream(&mut self, cx: &mut Context<'_>, expired: bool) -> Poll<()> {
        let state = StreamState {
            deadline: Cell::new(self.deadline),
            expired,
        };
        let (poll, deadline) = STREAM.sync_scope(state, || {
            (
                self.future.as_mut().poll(cx),
                STREAM.with(|stream| stream.deadline.get()),
            )
        });
        if let (None, Some(new)) = (self.deadline, deadline) {
            let _ = NEW_DEADLINE.try_with(|earliest| {
                if earliest.get().is_none_or(|earliest| new < earliest) {
                    earliest.set(Some(new));
                }
            });
        }
        self.deadline = deadline;
        poll
    }
}

impl Future for Stream {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_stream(cx, false)
    }
}

/// How many requests finish before their responses are written out.
const SLICE: usize = 8;

/// The executor a connection gives hyper: it queues every request for the connection's [`Requests`].
///
/// The queue needs no bound of its own: a connection admits at most 250 concurrent streams
/// (`HTTP2_MAX_CONCURRENT_STREAMS` in `server`), and each is one queued request.
#[derive(Debug, Clone)]
pub(crate) struct Executor(mpsc::UnboundedSender<Request>);

impl<F> hyper::rt::Executor<F> for Executor
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, request: F) {
        // The receiver lives as long as the connection that calls this, so sending cannot fail.
        let _ = self.0.send(Box::pin(request));
    }
}

/// The requests of one connection, queued by its [`Executor`].
pub(crate) struct Requests {
    queued: mpsc::UnboundedReceiver<Request>,
    running: FuturesUnordered<Stream>,
    /// The connection's one deadline timer, made when the first deadline is set.
    timer: Option<Pin<Box<Sleep>>>,
    /// When `timer` fires; `None` while no stream it knows of has a deadline.
    armed: Option<Instant>,
}

impl Requests {
    pub(crate) fn new() -> (Executor, Self) {
        let (tx, queued) = mpsc::unbounded_channel();
        let requests = Self {
            queued,
            running: FuturesUnordered::new(),
            timer: None,
            armed: None,
        };
        (Executor(tx), requests)
    }

    /// Runs `connection` and every request it queues, until the connection is done and each of
    /// its requests has finished.
    pub(crate) async fn run<T>(mut self, connection: impl Future<Output = T>) -> T {
        let mut connection = std::pin::pin!(connection);
        let mut done = None;
        std::future::poll_fn(|cx| {
            loop {
                // Polling the connection reads new requests and writes the responses of those
                // that finished; polling a request wakes the connection to send its response.
                if done.is_none() {
                    if let Poll::Ready(output) = connection.as_mut().poll(cx) {
                        done = Some(output);
                    }
                }
                while let Poll::Ready(Some(future)) = self.queued.poll_recv(cx) {
                    self.running.push(Stream {
                        future,
                        deadline: None,
                    });
                }
                let finished = self.poll_slice(cx);
                let expired = self.poll_timer(cx);
                // After a full slice, or streams ended at their deadline, the connection writes
                // those responses before the rest run: the client gets to work on them meanwhile
                // instead of waiting for the whole batch.
                if finished < SLICE && !expired {
                    break;
                }
            }
            match done.take() {
                Some(output) if self.running.is_empty() => Poll::Ready(output),
                output => {
                    done = output;
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Polls the running streams until [`SLICE`] of them finish or none is ready; returns how many
    /// finished, and arms the timer for deadlines set meanwhile.
    fn poll_slice(&mut self, cx: &mut Context<'_>) -> usize {
        let running = &mut self.running;
        let (finished, earliest) = NEW_DEADLINE.sync_scope(Cell::new(None), || {
            let mut finished = 0;
            while finished < SLICE {
                match running.poll_next_unpin(cx) {
                    Poll::Ready(Some(())) => finished += 1,
                    Poll::Ready(None) | Poll::Pending => break,
                }
            }
            (finished, NEW_DEADLINE.with(Cell::get))
        });
        if let Some(deadline) = earliest {
            self.arm(deadline);
        }
        finished
    }

    /// Makes the timer fire by `deadline`. A timer already due earlier stays: moving it later
    /// would cost as much as the per-request timers this replaces, and firing early costs one look.
    fn arm(&mut self, deadline: Instant) {
        if self.armed.is_some_and(|armed| armed <= deadline) {
            return;
        }
        self.armed = Some(deadline);
        match &mut self.timer {
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
    }

    /// Polls the timer; once it fires, ends every stream past its deadline and re-arms the timer
    /// for the earliest deadline left. Returns whether it fired.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let (Some(timer), Some(_)) = (&mut self.timer, self.armed) else {
            return false;
        };
        if timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        self.armed = None;
        let now = Instant::now();
        let mut earliest: Option<Instant> = None;
        for mut stream in std::mem::take(&mut self.running) {
            match stream.deadline {
                Some(deadline) if deadline <= now => {
                    // Ended whether this last poll finishes it or not.
                    let _ = stream.poll_stream(cx, true);
                }
                deadline => {
                    if let Some(deadline) = deadline {
                        earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
                    }
                    self.running.push(stream);
                }
            }
        }
        if let Some(deadline) = earliest {
            self.arm(deadline);
        }
        true
    }
}

impl std::fmt::Debug for Requests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Requests")
            .field("running", &self.running.len())
            .field("armed", &self.armed)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use hyper::rt::Executor as _;
    use tokio::sync::oneshot;

    use super::*;

    #[tokio::test]
    async fn requests_outlive_their_connection_and_never_wait_on_each_other() {
        let (executor, requests) = Requests::new();
        let finished = Arc::new(AtomicUsize::new(0));
        let (release, released) = oneshot::channel::<()>();
        let connection = {
            let finished = finished.clone();
            async move {
                // One request waits for the test; a hundred others must finish meanwhile.
                let slow = finished.clone();
                executor.execute(async move {
                    let _ = released.await;
                    slow.fetch_add(1, Ordering::SeqCst);
                });
                for _ in 0..100 {
                    let quick = finished.clone();
                    executor.execute(async move {
                        tokio::task::yield_now().await;
                        quick.fetch_add(1, Ordering::SeqCst);
                    });
                }
                "connection done"
            }
        };
        let run = tokio::spawn(requests.run(connection));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(finished.load(Ordering::SeqCst), 100);
        assert!(
            !run.is_finished(),
            "returned before its last request finished"
        );
        release.send(()).unwrap();
        assert_eq!(run.await.unwrap(), "connection done");
        assert_eq!(finished.load(Ordering::SeqCst), 101);
    }

    /// A request that sets `timeout` as its deadline, then waits for `release` under
    /// `until_deadline`; reports what it saw, or `None` if its stream was dropped first.
    async fn waiting(
        timeout: Duration,
        release: oneshot::Receiver<()>,
        seen: Arc<std::sync::Mutex<Vec<(Duration, &'static str)>>>,
    ) {
        set_deadline(Instant::now() + timeout);
        let outcome = match until_deadline(release).await {
            Ok(_) => "finished",
            Err(TimedOut) => "timed out",
        };
        seen.lock().unwrap().push((timeout, outcome));
    }

    #[tokio::test(start_paused = true)]
    async fn each_stream_ends_at_its_own_deadline_on_one_timer() {
        let (executor, requests) = Requests::new();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (finish_early, early) = oneshot::channel();
        let (_never_3, never_3) = oneshot::channel();
        let (_never_1, never_1) = oneshot::channel();
        let stuck_dropped = Arc::new(AtomicUsize::new(0));
        let (connection_done, connection) = oneshot::channel::<()>();
        {
            let seen = seen.clone();
            let stuck_dropped = stuck_dropped.clone();
            executor.execute(waiting(Duration::from_secs(5), early, seen.clone()));
            executor.execute(waiting(Duration::from_secs(3), never_3, seen.clone()));
            // Queued after the 3-second one, due before it: the timer must move earlier.
            executor.execute(async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                waiting(Duration::from_secs(1), never_1, seen).await;
            });
            // Past its deadline a stream that ignores it (a body the client's window holds up)
            // is dropped.
            executor.execute(async move {
                struct Dropped(Arc<AtomicUsize>);
                impl Drop for Dropped {
                    fn drop(&mut self) {
                        self.0.fetch_add(1, Ordering::SeqCst);
                    }
                }
                let _dropped = Dropped(stuck_dropped);
                set_deadline(Instant::now() + Duration::from_secs(2));
                std::future::pending::<()>().await;
            });
        }
        let run = tokio::spawn(requests.run(async move {
            let _ = connection.await;
        }));
        let at = |secs: u64, millis: u64| Duration::from_secs(secs) + Duration::from_millis(millis);
        let started = Instant::now();
        tokio::time::sleep_until(started + at(1, 50)).await;
        assert_eq!(
            *seen.lock().unwrap(),
            [(Duration::from_secs(1), "timed out")]
        );
        tokio::time::sleep_until(started + at(2, 50)).await;
        assert_eq!(stuck_dropped.load(Ordering::SeqCst), 1);
        tokio::time::sleep_until(started + at(3, 50)).await;
        assert_eq!(seen.lock().unwrap().len(), 2);
        finish_early.send(()).unwrap();
        tokio::time::sleep_until(started + at(4, 0)).await;
        assert_eq!(
            *seen.lock().unwrap(),
            [
                (Duration::from_secs(1), "timed out"),
                (Duration::from_secs(3), "timed out"),
                (Duration::from_secs(5), "finished"),
            ]
        );
        connection_done.send(()).unwrap();
        run.await.unwrap();
    }
}
