//! `kesrs noop-server`: the ceiling bench/compare measures kesrs against. It serves on the server's
//! own stack (the TLS config built from the same config file, the same handshake, hyper with the same
//! connection settings, requests run on their connection's task by the same executor, the same
//! runtime and allocator) and answers every request, once its body is read, with a fixed 32-byte body:
//! what is left of a request when the key server does nothing. It lives in the kesrs binary rather
//! than in an example because the server's modules are private to this binary; a copy of them would
//! measure a stack that can drift from the real one.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::warn;

use super::connection_threads::ConnectionThreads;
use super::http2_executor::Requests;
use super::serve;
use super::state::{Settings, SetupError};
use super::tls::{self, Resumption};

/// The answer to every request.
const BODY: &[u8; 32] = b"kesrs no-op server: nothing done";

/// Request bodies are read up to the server's own cap, as a handler would read them.
const MAX_BODY: usize = 1 << 20;

/// Serves until the process is killed.
pub(crate) async fn run(settings: Settings) -> Result<(), SetupError> {
    let resumption = Resumption::new().map_err(|e| SetupError::Other(e.to_string()))?;
    let tls = tls::server_config(&settings.tls, &resumption)?.config;
    let addr = settings.address;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SetupError::Bind { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);
    let threads = ConnectionThreads::start().map_err(|e| SetupError::Other(e.to_string()))?;
    println!("no-op server listening on https://{local}");
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                let tls = tls.clone();
                threads.serve(tcp, move |tcp| serve_connection(tcp, peer, tls));
            }
            Err(err) => warn!("failed to accept a connection: {err}"),
        }
    }
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
) {
    let Some(stream) = serve::handshake(tcp, peer, tls).await else {
        return;
    };
    let (executor, requests) = Requests::new();
    let builder = serve::connection_builder(executor);
    let conn = builder.serve_connection(TokioIo::new(stream), service_fn(answer));
    let _ = requests.run(conn).await;
}

/// Reads the request's body (a stream answered before its body is read ends in a reset, which the
/// real server never causes), then answers.
async fn answer(req: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let read = Limited::new(req.into_body(), MAX_BODY).collect().await;
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(BODY)));
    if read.is_err() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}
