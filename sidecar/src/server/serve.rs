//! Start-up, the accept loop, and one request from top to bottom:
//! accept → spawn → TLS handshake (with a deadline) → peer identity → route → auth → handler → response
//! (HTTP/2 requests run on their connection's task, see `http2_executor`).

use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::HOST;
use http::{Method, StatusCode, Version};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use time::UtcOffset;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, error, info, warn};

use kesrs_core::{ClientChainError, Identity};

use super::api_error::{ApiError, ErrorCause};
use super::body;
use super::connection_threads::ConnectionThreads;
use super::handlers;
use super::http2_executor::{self, Executor, Requests};
use super::idle;
use super::logs::{AuditEvent, ErrorLevel, Logs};
use super::metrics::Metrics;
use super::reload;
use super::response::{self, Response, TimedOut};
use super::routes::{self, Auth, Match, Route};
use super::state::{build_state, RouteSettings, Settings, SetupError, Shared, State};
use super::tcp;
use super::tls::{self, Resumption};

/// Go's `ReadHeaderTimeout`; also bounds the TLS handshake, as Go derives that deadline from it.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Requests in flight on one HTTP/2 connection, as Go's HTTP/2 server (and so KES) allows; a Go
/// client that wants more opens another connection.
const HTTP2_MAX_CONCURRENT_STREAMS: u32 = 250;

/// Streams a client may open and reset before the server accepted them, at once, on one connection
/// (h2's default, written out because it is the rapid-reset guard, CVE-2023-44487): a client that
/// cancels a request in flight frees its slot long before 20 more pile up; an attacker that opens and
/// resets streams in a burst gets GOAWAY ENHANCE_YOUR_CALM.
const HTTP2_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;

/// Resets the server may be forced to send over a connection's life for the peer's protocol errors
/// (malformed headers, DATA past a Content-Length, frames on closed streams) before h2 closes it with
/// GOAWAY ENHANCE_YOUR_CALM "too_many_internal_resets". h2 never lowers the count, so the guard ends
/// connections that make the server reset streams on purpose (CVE-2025-8671, "MadeYouReset", where
/// each such reset frees a stream slot while its handler runs on). Well-formed requests cost none:
/// every answered stream has its body drained first (`body::drain`), so even a long mix of invalid
/// requests from MinIO's client keeps its connection. hyper's default, written out for that reason.
const HTTP2_MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;

/// At most this many connections at once from peers that are neither the admin nor bound to a
/// policy: API keys nobody configured, and clients without a certificate where `skip_auth` allows
/// them. They can call only `/version`, the routes that skip authorisation and self-describe, yet
/// each holds a file descriptor; without a bound, thousands of self-signed identities held all of
/// them and locked out the configured clients. Connections of the admin and of identities with a
/// policy are never counted, so a flood of unknown identities cannot lock them out. Health probes
/// and metrics scrapers that connect without a policy share the bound; each needs one connection.
const MAX_UNPRIVILEGED_CONNECTIONS: usize = 64;

/// The most of an unread request body drained before the answer: the largest body a route reads. A
/// longer body (or one announced longer) is not waited for; its stream is reset.
const BODY_DRAIN_LIMIT: u64 = 1_000_000;

/// How long an answer waits for the rest of an unread request body. Clients send the body right
/// after the headers; one still missing after this is not coming for this answer.
const BODY_DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// How long in-flight requests may take to finish after SIGTERM or SIGINT.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server needs besides its settings.
#[derive(Debug)]
pub(crate) struct Options<'a> {
    /// The config file to re-read on SIGHUP; `None` in `--dev` mode.
    pub(crate) config_path: Option<PathBuf>,
    pub(crate) addr_override: Option<SocketAddr>,
    /// Reload when the files change (besides SIGHUP).
    pub(crate) watch: bool,
    pub(crate) error_level: ErrorLevel,
    pub(crate) error_stream: tokio::sync::broadcast::Sender<Bytes>,
    pub(crate) local_offset: UtcOffset,
    /// `--dev`: printed on stdout once the port is known.
    pub(crate) dev_banner: Option<&'a super::dev::Banner>,
}

/// Runs the server until SIGTERM or SIGINT.
pub(crate) async fn run(settings: Settings, options: Options<'_>) -> Result<(), SetupError> {
    // 1. Open the key store and build the TLS config (the config itself was loaded by the CLI).
    let resumption = Resumption::new().map_err(|e| SetupError::Other(e.to_string()))?;
    let state = build_state(settings, resumption.clone(), None).await?;
    // 2. Create the config's keys.
    state.create_keys().await?;
    // 3. Bind.
    let addr = state.settings.address;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SetupError::Bind { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);
    // 4. Serve.
    options.error_level.set(state.settings.log.error);
    let (shutdown_tx, shutdown) = watch::channel(false);
    let logs = Logs::new(options.error_stream, options.local_offset);
    logs.set_audit_level(state.settings.log.audit);
    let shared = Arc::new(Shared {
        state: ArcSwap::from_pointee(state),
        logs,
        metrics: Metrics::new(),
        started: Instant::now(),
        started_at: time::OffsetDateTime::now_utc().to_offset(options.local_offset),
        resumption,
        error_level: options.error_level,
        shutdown,
        config_path: options.config_path,
        addr_override: options.addr_override,
        reload_lock: tokio::sync::Mutex::new(()),
        unprivileged_connections: Arc::new(tokio::sync::Semaphore::new(
            MAX_UNPRIVILEGED_CONNECTIONS,
        )),
    });
    // The start-up load is the first generation.
    shared.metrics.reload.succeeded();
    tokio::spawn(reload::on_sighup(shared.clone()));
    if options.watch {
        tokio::spawn(reload::watch_files(shared.clone()));
    }
    {
        let state = shared.state.load();
        let admin = &state.settings.admin;
        // A value that is no SPKI hash can never match a client: KES shows it as disabled.
        if admin.is_public_key_hash() {
            info!("admin identity: {admin}");
        } else {
            info!("admin identity: <disabled>");
        }
    }
    if let Some(config) = &shared.config_path {
        // The preflight items that need no key-store call; `kesrs check` also probes the key store.
        for finding in super::check::static_findings(&shared.state.load().settings, config) {
            finding.log();
        }
    }
    if let Some(banner) = options.dev_banner {
        print_banner(&banner.text(local));
    }
    let threads = ConnectionThreads::start().map_err(|e| SetupError::Other(e.to_string()))?;
    info!("listening on https://{local}");
    serve(listener, &threads, shared, shutdown_tx).await;
    Ok(())
}

/// Prints the dev banner on stdout; a closed stdout does not stop the server.
fn print_banner(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        warn!("cannot print the dev banner: {err}");
    }
}

/// Accepts connections until a termination signal, then drains them.
async fn serve(
    listener: TcpListener,
    threads: &ConnectionThreads,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
) {
    // Every connection task holds a clone; when all are gone, `recv` returns `None`.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    let terminate = terminate_signal();
    tokio::pin!(terminate);
    loop {
        tokio::select! {
            () = &mut terminate => break,
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Usually out of file descriptors: back off instead of spinning.
                        warn!("failed to accept a connection: {err}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let shared = shared.clone();
                let alive = alive.clone();
                threads.serve(tcp, move |tcp| async move {
                    serve_connection(tcp, peer, shared).await;
                    drop(alive);
                });
            }
        }
    }
    info!("shutting down: draining in-flight requests");
    drop(listener);
    let _ = shutdown.send(true);
    drop(alive);
    if tokio::time::timeout(DRAIN_TIMEOUT, all_done.recv())
        .await
        .is_err()
    {
        warn!("shutdown deadline passed; closing the remaining connections");
    }
}

/// What a connection knows about its peer, for every request on it.
#[derive(Debug)]
struct Peer {
    /// The peer's address as the logs write it, formatted once rather than for every request.
    ip: String,
    identity: Result<Identity, ClientChainError>,
}

async fn serve_connection(tcp: TcpStream, addr: SocketAddr, shared: Arc<Shared>) {
    // Each connection takes the TLS config current at its start: a reload never drops a connection.
    let tls = shared.state.load().tls.clone();
    let Some(stream) = handshake(tcp, addr, tls).await else {
        return;
    };
    let peer = Arc::new(Peer {
        ip: addr.ip().to_string(),
        identity: tls::peer_identity(stream.get_ref().1.peer_certificates()),
    });
    // Settings current at the connection's start, as its TLS config.
    let (privileged, idle_timeout) = {
        let state = shared.state.load();
        let privileged = peer
            .identity
            .as_ref()
            .is_ok_and(|identity| state.is_privileged(identity));
        (privileged, state.settings.http.idle_timeout)
    };
    // Held until the connection closes.
    let _permit = if privileged {
        None
    } else {
        match shared.unprivileged_connections.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                info!(
                    ip = %addr.ip(),
                    "closing a connection: {MAX_UNPRIVILEGED_CONNECTIONS} connections of identities \
                     without a policy are open"
                );
                return;
            }
        }
    };
    let activity = idle::Activity::new();
    let watcher = activity.clone();
    let service = {
        let shared = shared.clone();
        service_fn(move |req| {
            let shared = shared.clone();
            let peer = peer.clone();
            let in_flight = activity.start();
            // Boxed: hyper moves each request's future several times (into its stream's state,
            // then into the connection's request queue), and the handler's future is kilobytes
            // large, so moving a pointer beats copying it.
            Box::pin(async move {
                let response = handle(req, &peer, shared).await?;
                Ok::<_, TimedOut>(response.map(|body| idle::track(body, in_flight)))
            })
        })
    };
    let (executor, requests) = Requests::new();
    let builder = connection_builder(executor);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut shutdown = shared.shutdown.clone();
    // The watch guard is dropped at once (`is_ok`), so no lock guard lives across an await.
    let stopping = async move { shutdown.wait_for(|stop| *stop).await.is_ok() };
    let serving = async {
        tokio::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    debug!(ip = %addr.ip(), "connection closed: {err}");
                }
            }
            _ = stopping => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
            () = watcher.idle(idle_timeout) => {
                debug!(ip = %addr.ip(), "closing an idle connection");
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    };
    requests.run(serving).await;
}

/// The TLS handshake of a new connection, within Go's deadline; `None` when it failed (logged).
pub(super) async fn handshake(
    tcp: TcpStream,
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
) -> Option<TlsStream<TcpStream>> {
    tcp::tune(&tcp);
    match tokio::time::timeout(HEADER_TIMEOUT, TlsAcceptor::from(tls).accept(tcp)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(err)) => {
            // Go logs failed handshakes at INFO; they are the client's problem, not the server's.
            info!(ip = %addr.ip(), "TLS handshake failed: {err}");
            None
        }
        Err(_) => {
            debug!(ip = %addr.ip(), "TLS handshake timed out");
            None
        }
    }
}

/// hyper's settings for one connection, HTTP/1.1 or HTTP/2, with its requests run by `executor`.
pub(super) fn connection_builder(executor: Executor) -> auto::Builder<Executor> {
    let mut builder = auto::Builder::new(executor);
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    // HTTP/2 connections have no header timeout between requests: the idle timeout closes those
    // with nothing in flight, and TCP keepalive finds peers that vanished during a long request
    // (`tcp`). No HTTP/2 pings, as in Go's server.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(HTTP2_MAX_CONCURRENT_STREAMS)
        .max_pending_accept_reset_streams(HTTP2_MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(HTTP2_MAX_LOCAL_ERROR_RESET_STREAMS);
    builder
}

/// One request: route, authenticate, handle, drain what the handler left of the body, then log and
/// audit it.
async fn handle(
    req: hyper::Request<Incoming>,
    peer: &Peer,
    shared: Arc<Shared>,
) -> Result<Response, TimedOut> {
    let received = Instant::now();
    let state = shared.state.load_full();
    let (head, mut body) = req.into_parts();
    let method = head.method.clone();
    let raw_path = head.uri.path();
    let mut found =
        if head.version < Version::HTTP_2 && head.headers.get_all(HOST).iter().count() > 1 {
            // Go's HTTP/1 server refuses the request before any handler runs.
            Match::BadRequest
        } else {
            routes::find(&method, raw_path, head.uri.query())
        };
    let result = match &mut found {
        Match::NotFound => Ok(response::not_found()),
        Match::BadRequest => Ok(response::bad_request(head.version)),
        Match::Asterisk => Ok(response::asterisk(head.version)),
        Match::ServerOptions => Ok(response::empty(StatusCode::OK)),
        Match::Redirect(location) => Ok(response::moved_permanently(&method, location)),
        Match::Route {
            route,
            path,
            resource,
        } => {
            let route: &'static Route = route;
            if route.accepts(&method) {
                let settings = state.route(route);
                let resource = std::mem::take(resource);
                let work = serve_route(
                    route, settings, path, resource, &mut body, peer, &shared, state, received,
                );
                if settings.timeout.is_zero() {
                    Ok(work.await)
                } else {
                    // Like Go's write deadline: it covers the handler and writing the whole body.
                    let deadline = tokio::time::Instant::from_std(received) + settings.timeout;
                    if http2_executor::set_deadline(deadline) {
                        // The connection's executor ends the stream, body included.
                        http2_executor::until_deadline(work).await
                    } else {
                        tokio::time::timeout_at(deadline, work)
                            .await
                            .map(|response| {
                                response.map(|body| response::with_deadline(body, deadline))
                            })
                            .map_err(|_| TimedOut)
                    }
                }
            } else {
                Ok(ApiError::MethodNotAllowed {
                    received: method.clone(),
                    expected: route.method.clone(),
                }
                .into_response())
            }
        }
    };
    // HTTP/2 streams answered with their body unread would be reset (see `body::drain`). HTTP/1
    // needs nothing: hyper reads the rest itself or closes the connection, and sends no
    // `100 Continue` for a body nobody reads, as Go does.
    if result.is_ok() && head.version == Version::HTTP_2 {
        let _ = tokio::time::timeout(BODY_DRAIN_TIMEOUT, body::drain(&mut body, BODY_DRAIN_LIMIT))
            .await;
    }
    // A HEAD response carries the headers of the GET answer and no body: hyper leaves that to the
    // service over HTTP/2, and Go's and curl's clients treat DATA after HEAD as a protocol error.
    let result = if method == Method::HEAD {
        result.map(|response| response.map(|_| response::full(Bytes::new())))
    } else {
        result
    };
    let log_path: Cow<'_, str> = match &found {
        Match::Route { path, .. } => Cow::Borrowed(path),
        _ => routes::percent_decode(raw_path).map_or(Cow::Borrowed(raw_path), Cow::Owned),
    };
    let identity = peer.identity.as_ref().ok().map(Identity::as_str);
    let status = match &result {
        Ok(response) => {
            if let Some(ErrorCause(cause)) = response.extensions().get::<ErrorCause>() {
                error!(
                    req.method = %method,
                    req.path = %log_path,
                    req.ip = %peer.ip,
                    req.identity = identity.unwrap_or("<unknown>"),
                    "{cause}"
                );
            }
            response.status().as_u16()
        }
        Err(TimedOut) => {
            error!(
                req.method = %method,
                req.path = %log_path,
                req.ip = %peer.ip,
                req.identity = identity.unwrap_or("<unknown>"),
                "request timed out; closing the connection"
            );
            return result;
        }
    };
    shared.logs.audit(&AuditEvent {
        time: shared.logs.now(),
        ip: &peer.ip,
        method: method.as_str(),
        path: &log_path,
        identity,
        status,
        latency: received.elapsed(),
    });
    result
}

/// A matched route with the right method: authenticate, then run its handler. The body is not read
/// before the policy allowed the request.
#[allow(clippy::too_many_arguments)] // One call site; a struct would only rename these.
async fn serve_route(
    route: &'static Route,
    settings: RouteSettings,
    path: &str,
    resource: String,
    body: &mut Incoming,
    peer: &Peer,
    shared: &Arc<Shared>,
    state: Arc<State>,
    received: Instant,
) -> Response {
    let caller = match settings.auth {
        Auth::None => None,
        Auth::IdentifyOnly => peer.identity.as_ref().ok().cloned(),
        Auth::Verify => match authorize(&state, peer, path) {
            Ok(identity) => Some(identity),
            Err(err) => return err.into_response(),
        },
    };
    // A declared length past the route's limit is refused before anything is read: KES reads up to
    // the limit first, so a client announcing 10 GB and sending nothing held its request until the
    // route timeout. Routes without a body (limit 0) ignore any, as in KES.
    let declared = http_body::Body::size_hint(body).lower();
    if route.max_body > 0 && declared > route.max_body {
        return ApiError::BodyTooLarge {
            limit: route.max_body,
        }
        .into_response();
    }
    let active = route.metered.then(|| shared.metrics.start(received));
    let request = handlers::Request {
        state,
        shared: shared.clone(),
        caller,
        resource,
        body,
        max_body: route.max_body,
    };
    let response = handlers::handle(route.id, request)
        .await
        .unwrap_or_else(ApiError::into_response);
    if let Some(active) = active {
        active.finish(response.status().as_u16());
    }
    response
}

/// KES's "verify": the admin passes; anyone else needs a policy that allows the (clean, decoded) path.
fn authorize(state: &State, peer: &Peer, path: &str) -> Result<Identity, ApiError> {
    let identity = peer.identity.clone().map_err(ApiError::from)?;
    if state.is_admin(&identity) {
        return Ok(identity);
    }
    match state.policy_of(&identity) {
        Some((_, policy)) if policy.verify(path) => Ok(identity),
        _ => Err(ApiError::NotAllowed),
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn terminate_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(err) => {
                warn!("cannot listen for SIGTERM: {err}");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
