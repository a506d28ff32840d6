//! Socket options of an accepted connection.
//!
//! Peers that vanish (a crashed MinIO node, a dropped NAT entry) are found by the kernel: TCP
//! keepalive probes a connection that has been quiet for `KEEPALIVE_IDLE`, and `TCP_USER_TIMEOUT`
//! closes one whose data, or probes, have gone unacknowledged for `UNACKNOWLEDGED_LIMIT`, even in the
//! middle of a long request or a log stream. Go's server also enables keepalive on every accepted
//! connection (15 s); it sends no HTTP/2 pings. kesrs used to find such peers with hyper's HTTP/2
//! pings, which read the clock and take a lock on every frame of every request: 0.3 us of server CPU
//! per request under MinIO's client, for a check the kernel does for free (docs/performance.md).

use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};
use tokio::net::TcpStream;

/// Quiet time before the first keepalive probe.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// Time between unanswered probes.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// Probes left unanswered before the connection is closed.
const KEEPALIVE_PROBES: u32 = 4;
/// How long sent data or probes may go unacknowledged: a vanished peer is found within 50 s, idle
/// or not.
const UNACKNOWLEDGED_LIMIT: Duration = Duration::from_secs(50);

/// Sets the options every accepted connection gets. Failures are ignored: the connection still
/// works, only without the option (as Go's server does).
pub(super) fn tune(tcp: &TcpStream) {
    // Responses are written whole; Nagle's delay would only hold back their last segment.
    let _ = tcp.set_nodelay(true);
    let socket = SockRef::from(tcp);
    let keepalive = TcpKeepalive::new().with_time(KEEPALIVE_IDLE);
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    let keepalive = keepalive
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_PROBES);
    let _ = socket.set_tcp_keepalive(&keepalive);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = socket.set_tcp_user_timeout(Some(UNACKNOWLEDGED_LIMIT));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_connections_find_vanished_peers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let before = SockRef::from(&server);
        assert!(!before.keepalive().unwrap(), "keepalive is off by default");

        tune(&server);
        let socket = SockRef::from(&server);
        assert!(socket.tcp_nodelay().unwrap());
        assert!(socket.keepalive().unwrap());
        assert_eq!(socket.tcp_keepalive_time().unwrap(), KEEPALIVE_IDLE);
        #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
        {
            assert_eq!(socket.tcp_keepalive_interval().unwrap(), KEEPALIVE_INTERVAL);
            assert_eq!(socket.tcp_keepalive_retries().unwrap(), KEEPALIVE_PROBES);
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        assert_eq!(
            socket.tcp_user_timeout().unwrap(),
            Some(UNACKNOWLEDGED_LIMIT)
        );
        drop(client);
    }
}
