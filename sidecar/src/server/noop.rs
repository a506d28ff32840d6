//! `kesrs noop-server`: the ceiling bench/compare measures kesrs against. It serves on the server's
//! own stack (the TLS config built from the same config file, the same handshake, hyper with the same
//! connection settings, requests run on their connection's task by the same executor, the same
//! runtime and allocator) and answers every request, once its body is read, with a fixed 32-byte body:
//! what is left of a request when the key server does nothing. It lives in the kesrs binary rather
//! than in an example because the server's modules are private to this binary; a copy of them would
//! measure a stack that can drift from the real one.
//!
//! With `--kes-answers` it answers generate and decrypt requests instead with fixed bodies of
//! kesrs's own shape and length, so that MinIO's client can call it as it calls kesrs and do all of
//! its work: with the 32 bytes, the load generator skips the client's JSON encoding and decoding,
//! and a client that spends less CPU per request sends its requests in bigger bursts, which the
//! server then reads, and wakes for, fewer times per request (docs/performance.md).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::warn;

use kesrs_core::config::CacheConfig;
use kesrs_core::keystore::MemoryStore;
use kesrs_core::{KeyName, Kms};

use super::connection_threads::ConnectionThreads;
use super::gojson;
use super::http2_executor::Requests;
use super::response::{self, Response};
use super::serve;
use super::state::{Settings, SetupError};
use super::tls::{self, Resumption};

/// The answer to every request.
const BODY: &[u8; 32] = b"kesrs no-op server: nothing done";

/// Request bodies are read up to the server's own cap, as a handler would read them.
const MAX_BODY: usize = 1 << 20;

/// What `--kes-answers` answers with: a data key generated once at start-up, from a key in memory,
/// answers every generate request, and its plaintext every decrypt request, in the JSON the server's
/// handlers write.
#[derive(Debug)]
struct KesAnswers {
    generate: Bytes,
    decrypt: Bytes,
}

impl KesAnswers {
    async fn new() -> Result<Self, SetupError> {
        let kms = Kms::new(Arc::new(MemoryStore::new()), CacheConfig::default());
        let name = KeyName::new("noop").map_err(SetupError::KeyStore)?;
        kms.create_key(&name, None)
            .await
            .map_err(SetupError::KeyStore)?;
        let key = kms
            .generate_key(&name, b"")
            .await
            .map_err(SetupError::KeyStore)?;
        Ok(Self {
            generate: Bytes::from_owner(gojson::secret_line(&[
                ("plaintext", key.plaintext()),
                ("ciphertext", key.ciphertext()),
            ])),
            decrypt: Bytes::from_owner(gojson::secret_line(&[("plaintext", key.plaintext())])),
        })
    }

    fn for_path(&self, path: &str) -> Option<&Bytes> {
        if path.starts_with("/v1/key/generate/") {
            Some(&self.generate)
        } else if path.starts_with("/v1/key/decrypt/") {
            Some(&self.decrypt)
        } else {
            None
        }
    }
}

/// Serves until the process is killed; with `kes_answers`, see [`KesAnswers`].
pub(crate) async fn run(settings: Settings, kes_answers: bool) -> Result<(), SetupError> {
    let answers = if kes_answers {
        Some(Arc::new(KesAnswers::new().await?))
    } else {
        None
    };
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
                let answers = answers.clone();
                threads.serve(tcp, move |tcp| serve_connection(tcp, peer, tls, answers));
            }
            Err(err) => warn!("failed to accept a connection: {err}"),
        }
    }
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    answers: Option<Arc<KesAnswers>>,
) {
    let Some(stream) = serve::handshake(tcp, peer, tls).await else {
        return;
    };
    let (executor, requests) = Requests::new();
    let builder = serve::connection_builder(executor);
    let service = service_fn(move |req| answer(req, answers.clone()));
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let _ = requests.run(conn).await;
}

/// Reads the request's body (a stream answered before its body is read ends in a reset, which the
/// real server never causes), then answers.
async fn answer(
    req: hyper::Request<Incoming>,
    answers: Option<Arc<KesAnswers>>,
) -> Result<Response, Infallible> {
    let kes_answer = answers
        .as_deref()
        .and_then(|a| a.for_path(req.uri().path()).cloned());
    let read = Limited::new(req.into_body(), MAX_BODY).collect().await;
    let mut response = match kes_answer {
        None => hyper::Response::new(response::full(Bytes::from_static(BODY))),
        // The server's own answer: `response::secret_json` writes these headers the same way.
        Some(body) => response::with_body(StatusCode::OK, "application/json", body),
    };
    if read.is_err() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}
