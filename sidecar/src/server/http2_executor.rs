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
//! pinned responses. A handler states its deadline with [`set_deadline`]; once it passes, the stream
//! is dropped, and h2 resets it (RST_STREAM CANCEL), as Go's write deadline tears it down.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt as _;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

type Request = Pin<Box<dyn Future<Output = ()> + Send>>;

tokio::task_local! {
    /// Set by a request's handler while its stream is polled: the deadline of the whole stream.
    static STREAM_DEADLINE: Cell<Option<Instant>>;
}

/// Ends the current HTTP/2 stream at `deadline`, whether or not hyper still polls its body. Does
/// nothing outside an HTTP/2 stream (HTTP/1 requests are polled by their connection).
pub(crate) fn set_deadline(deadline: Instant) {
    let _ = STREAM_DEADLINE.try_with(|slot| slot.set(Some(deadline)));
}

/// One stream: hyper's future for it, and once its handler set one, the deadline.
struct Stream {
    future: Request,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl Future for Stream {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let (poll, deadline) = STREAM_DEADLINE.sync_scope(Cell::new(None), || {
            (
                this.future.as_mut().poll(cx),
                STREAM_DEADLINE.with(Cell::get),
            )
        });
        if poll.is_ready() {
            return Poll::Ready(());
        }
        if let Some(deadline) = deadline {
            this.deadline = Some(Box::pin(tokio::time::sleep_until(deadline)));
        }
        // Past the deadline the stream is dropped, which makes h2 reset it.
        match &mut this.deadline {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
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
}

impl Requests {
    pub(crate) fn new() -> (Executor, Self) {
        let (tx, queued) = mpsc::unbounded_channel();
        let requests = Self {
            queued,
            running: FuturesUnordered::new(),
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
                let mut finished = 0;
                while finished < SLICE {
                    match self.running.poll_next_unpin(cx) {
                        Poll::Ready(Some(())) => finished += 1,
                        Poll::Ready(None) | Poll::Pending => break,
                    }
                }
                // After a full slice, the connection writes those responses before the rest run:
                // the client gets to work on them meanwhile instead of waiting for the whole batch.
                if finished < SLICE {
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
}

impl std::fmt::Debug for Requests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Requests")
            .field("running", &self.running.len())
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
}
