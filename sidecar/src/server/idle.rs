//! Closes connections that sit idle, as Go's `http.Server` does with its `IdleTimeout` (90 s in KES).
//!
//! hyper has no idle timeout for HTTP/2, and the pings that find vanished peers (`server`) keep an idle
//! connection of a live peer open for good: thousands of idle connections held a file descriptor and
//! about 45 KB each, until the process ran out of descriptors and legitimate clients were locked out.
//!
//! A connection is idle while no request is in flight, from the moment hyper hands the request to the
//! service until its response body is written or dropped, so a live log stream or a slow body keeps
//! its connection. Once it has been idle for the timeout, the server shuts it down gracefully: an
//! HTTP/2 client gets a GOAWAY and opens a new connection for its next request (Go's client does so
//! transparently, as it must with Go KES); an idle HTTP/1.1 connection is closed.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use tokio::sync::watch;

use super::response::{Body, TimedOut};

/// The requests in flight on one connection.
#[derive(Debug, Clone)]
pub(crate) struct Activity(Arc<watch::Sender<usize>>);

impl Activity {
    /// A new connection's activity, and the receiver [`idle`] watches.
    pub(crate) fn new() -> (Self, watch::Receiver<usize>) {
        let (tx, rx) = watch::channel(0);
        (Self(Arc::new(tx)), rx)
    }

    /// Counts a request as in flight until the returned guard is dropped.
    pub(crate) fn start(&self) -> InFlight {
        self.0.send_modify(|n| *n = n.saturating_add(1));
        InFlight(self.0.clone())
    }
}

/// One request in flight; dropping it ends the request.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<watch::Sender<usize>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
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

/// Resolves once no request has been in flight, and none has started or ended, for `timeout`.
pub(crate) async fn idle(mut requests: watch::Receiver<usize>, timeout: Duration) {
    loop {
        if requests
            .wait_for(|in_flight| *in_flight == 0)
            .await
            .is_err()
        {
            // The connection's service is gone, and with it the connection: nothing to watch.
            return std::future::pending().await;
        }
        // Any change, a request starting or ending, starts the wait over.
        match tokio::time::timeout(timeout, requests.changed()).await {
            Err(_elapsed) => return,
            Ok(Ok(())) => {}
            Ok(Err(_closed)) => return std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_only_after_the_timeout_with_no_request_in_flight() {
        let timeout = Duration::from_secs(2);
        let (activity, rx) = Activity::new();
        let idle = tokio::spawn(idle(rx, timeout));

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
