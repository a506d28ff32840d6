//! Closes connections that sit idle, as Go's `http.Server` does with its `IdleTimeout` (90 s in KES).
//!
//! hyper has no idle timeout for HTTP/2, and TCP keepalive (`tcp`) only closes connections whose peer
//! vanished: an idle connection of a live peer stayed open for good, and thousands of them held a file
//! descriptor and about 45 KB each, until the process ran out of descriptors and legitimate clients
//! were locked out.
//!
//! A connection is idle while no request is in flight, from the moment hyper hands the request to the
//! service until its response body is written or dropped, so a live log stream or a slow body keeps
//! its connection. Once it has been idle for the timeout, the server shuts it down gracefully: an
//! HTTP/2 client gets a GOAWAY and opens a new connection for its next request (Go's client does so
//! transparently, as it must with Go KES); an idle HTTP/1.1 connection is closed.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use tokio::time::Instant;

use super::response::{Body, TimedOut};

/// The requests in flight on one connection, and since when it has had none.
///
/// Two atomics rather than a channel: a request's start and end must not wake the connection's task.
/// A wake-up per request made the connection poll, and write to the socket, about twice as often as
/// its requests alone needed (docs/performance.md).
#[derive(Debug, Clone)]
pub(crate) struct Activity(Arc<Counts>);

#[derive(Debug)]
struct Counts {
    in_flight: AtomicUsize,
    /// When the last request ended, in nanoseconds since `epoch`.
    idle_since: AtomicU64,
    epoch: Instant,
}

impl Counts {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl Activity {
    /// A new connection's activity: idle from now on.
    pub(crate) fn new() -> Self {
        Self(Arc::new(Counts {
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            epoch: Instant::now(),
        }))
    }

    /// Counts a request as in flight until the returned guard is dropped.
    pub(crate) fn start(&self) -> InFlight {
        self.0.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.0.clone())
    }

    /// Resolves once no request has been in flight for `timeout`.
    ///
    /// It sleeps until the moment the connection would have been idle for `timeout` and looks again;
    /// the requests themselves never wake it.
    pub(crate) async fn idle(&self, timeout: Duration) {
        let counts = &self.0;
        let mut deadline = Instant::now() + timeout;
        loop {
            tokio::time::sleep_until(deadline).await;
            if counts.in_flight.load(Ordering::SeqCst) > 0 {
                deadline = Instant::now() + timeout;
                continue;
            }
            let idle_since =
                counts.epoch + Duration::from_nanos(counts.idle_since.load(Ordering::SeqCst));
            match idle_since.checked_add(timeout) {
                Some(at) if at > Instant::now() => deadline = at,
                _ => return,
            }
        }
    }
}

/// One request in flight; dropping it ends the request.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Counts>);

impl Drop for InFlight {
    fn drop(&mut self) {
        // Stamped before the count drops, and never moved back by a request that ended earlier but
        // stamped later: whoever sees nothing in flight also sees when the last request ended.
        let counts = &self.0;
        counts.idle_since.fetch_max(counts.now(), Ordering::SeqCst);
        counts.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Keeps `in_flight` alive until `body` is fully written or dropped.
pub(crate) fn track(body: Body, in_flight: InFlight) -> Body {
    Tracked {
        inner: body,
        _in_flight: in_flight,
    }
    .boxed_unsync()
}

struct Tracked {
    inner: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = TimedOut;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, TimedOut>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_only_after_the_timeout_with_no_request_in_flight() {
        let timeout = Duration::from_secs(2);
        let activity = Activity::new();
        let idle = tokio::spawn({
            let activity = activity.clone();
            async move { activity.idle(timeout).await }
        });

        // A request in flight for longer than the timeout keeps the connection.
        let request = activity.start();
        tokio::time::sleep(timeout * 2).await;
        assert!(!idle.is_finished());

        // The timeout counts from the last request, however short.
        drop(request);
        tokio::time::sleep(timeout / 2).await;
        drop(activity.start());
        tokio::time::sleep(timeout * 3 / 4).await;
        assert!(
            !idle.is_finished(),
            "a request just now must restart the wait"
        );
        tokio::time::timeout(timeout * 2, idle)
            .await
            .expect("idle after the timeout")
            .unwrap();
    }
}
