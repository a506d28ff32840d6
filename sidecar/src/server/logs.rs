//! The audit log and the error log: written to stdout and stderr, and streamed live on
//! `/v1/log/audit` and `/v1/log/error` (kes-protocol.md 10; decisions.md: real events, every request).
//!
//! Neither log ever carries a key, a plaintext, a ciphertext or a secret: an audit event holds only the
//! request line, the caller and the outcome, and error messages are built from those and from causes.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use http_body::Frame;
use http_body_util::BodyExt as _;
use time::{OffsetDateTime, UtcOffset};
use tokio::sync::{broadcast, mpsc, watch};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::Layer;

use super::gojson::{self, Object};
use super::response::Response;

/// slog's level numbers, which KES's `log.error` and `log.audit` use.
pub(crate) const LEVEL_INFO: i32 = 0;

/// The minimum slog level of the error log, shared with the terminal filter and changed on reload.
#[derive(Debug, Clone)]
pub(crate) struct ErrorLevel(Arc<AtomicI32>);

impl ErrorLevel {
    pub(crate) fn new(level: i32) -> Self {
        Self(Arc::new(AtomicI32::new(level)))
    }

    pub(crate) fn set(&self, level: i32) {
        self.0.store(level, Ordering::Relaxed);
    }

    /// Whether a tracing event of `level` passes.
    pub(crate) fn enabled(&self, level: &Level) -> bool {
        slog_level(level) >= self.0.load(Ordering::Relaxed)
    }
}

/// One request, as the audit log records it.
#[derive(Debug)]
pub(crate) struct AuditEvent<'a> {
    pub(crate) time: OffsetDateTime,
    /// The peer's address as text (formatted once per connection), empty when unknown.
    pub(crate) ip: &'a str,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) identity: Option<&'a str>,
    pub(crate) status: u16,
    pub(crate) latency: Duration,
}

impl AuditEvent<'_> {
    /// The JSON line: KES's 10.2 shape plus the method; `response.time` in nanoseconds, as the Go client
    /// reads it (decisions.md).
    pub(crate) fn to_line(&self) -> String {
        Object::with_capacity(256)
            .str("time", &kesrs_core::rfc3339(&self.time))
            .object("request", |request| {
                request
                    .str_omitempty("ip", self.ip)
                    .str("method", self.method)
                    .str("path", self.path)
                    .str_omitempty("identity", self.identity.unwrap_or_default())
            })
            .object("response", |response| {
                response
                    .int("code", self.status)
                    .int("time", self.latency.as_nanos())
            })
            .finish_line()
    }
}

/// Both logs, their live subscribers and their counters.
#[derive(Debug)]
pub(crate) struct Logs {
    audit: broadcast::Sender<Bytes>,
    errors: broadcast::Sender<Bytes>,
    audit_level: AtomicI32,
    stdout: std::sync::mpsc::SyncSender<Bytes>,
    /// Audit events written to stream subscribers (`kes_log_audit_events`).
    pub(crate) audit_events: Arc<AtomicU64>,
    /// Error events written to stream subscribers (`kes_log_error_events`).
    pub(crate) error_events: Arc<AtomicU64>,
    local_offset: UtcOffset,
}

impl Logs {
    /// The logs, with the audit log written to stdout by a task of its own (so that a slow stdout
    /// never blocks a request), and the error stream fed by [`ErrorStreamLayer`].
    pub(crate) fn new(errors: broadcast::Sender<Bytes>, local_offset: UtcOffset) -> Self {
        let (stdout, lines) = std::sync::mpsc::sync_channel::<Bytes>(4096);
        // A thread of its own, writing in batches: a tokio stdout write is a hop to the blocking
        // pool, and waking a writer per line is a context switch per request; either cost more
        // than the request itself. The thread wakes for the first line, then collects for a few
        // milliseconds and writes everything through one buffer, so the audit log lags by at most
        // that much.
        let spawned = std::thread::Builder::new()
            .name("kesrs-audit-stdout".into())
            .spawn(move || {
                use std::io::Write as _;
                const COLLECT_FOR: Duration = Duration::from_millis(5);
                let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
                while let Ok(line) = lines.recv() {
                    std::thread::sleep(COLLECT_FOR);
                    let mut result = out.write_all(&line);
                    while let (Ok(()), Ok(line)) = (&result, lines.try_recv()) {
                        result = out.write_all(&line);
                    }
                    if result.and_then(|()| out.flush()).is_err() {
                        break;
                    }
                }
            });
        if let Err(err) = spawned {
            tracing::error!("failed to start the audit log writer: {err}");
        }
        Self {
            audit: broadcast::channel(1024).0,
            errors,
            audit_level: AtomicI32::new(LEVEL_INFO),
            stdout,
            audit_events: Arc::new(AtomicU64::new(0)),
            error_events: Arc::new(AtomicU64::new(0)),
            local_offset,
        }
    }

    pub(crate) fn set_audit_level(&self, level: i32) {
        self.audit_level.store(level, Ordering::Relaxed);
    }

    /// The current time in the server's local zone (KES writes local times).
    pub(crate) fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc().to_offset(self.local_offset)
    }

    /// Records one request: to stdout and to the audit stream, if the audit level lets INFO through.
    pub(crate) fn audit(&self, event: &AuditEvent<'_>) {
        if self.audit_level.load(Ordering::Relaxed) > LEVEL_INFO {
            return;
        }
        let line = Bytes::from(event.to_line());
        if self.audit.receiver_count() > 0 {
            let _ = self.audit.send(line.clone());
        }
        // A full queue means stdout is stuck; dropping a line beats stalling every request.
        let _ = self.stdout.try_send(line);
    }

    /// A live `/v1/log/audit` response.
    pub(crate) fn audit_stream(&self, shutdown: watch::Receiver<bool>) -> Response {
        stream(self.audit.subscribe(), self.audit_events.clone(), shutdown)
    }

    /// A live `/v1/log/error` response.
    pub(crate) fn error_stream(&self, shutdown: watch::Receiver<bool>) -> Response {
        stream(self.errors.subscribe(), self.error_events.clone(), shutdown)
    }
}

/// 200 `application/x-ndjson`, one event per line, each sent as soon as it happens, until the client
/// leaves or the server shuts down.
fn stream(
    mut events: broadcast::Receiver<Bytes>,
    counter: Arc<AtomicU64>,
    mut shutdown: watch::Receiver<bool>,
) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tx.closed() => break,
                _ = shutdown.changed() => break,
                event = events.recv() => match event {
                    Ok(line) => {
                        if tx.send(line).await.is_err() {
                            break;
                        }
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    // A subscriber that fell behind misses events rather than slowing the server.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
        }
    });
    let body = ChannelBody(rx).map_err(|never: Infallible| match never {});
    let mut response = http::Response::new(body.boxed_unsync());
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    response
}

/// A body fed by a channel; each message is one frame, flushed as it comes.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|line| line.map(|l| Ok(Frame::data(l))))
    }
}

/// A tracing layer that sends every event at or above the error level to `/v1/log/error` subscribers
/// as `{"message":"<slog-style text line>"}`.
#[derive(Debug)]
pub(crate) struct ErrorStreamLayer {
    sender: broadcast::Sender<Bytes>,
    level: ErrorLevel,
}

impl ErrorStreamLayer {
    pub(crate) fn new(sender: broadcast::Sender<Bytes>, level: ErrorLevel) -> Self {
        Self { sender, level }
    }
}

impl<S: Subscriber> Layer<S> for ErrorStreamLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
        let level = event.metadata().level();
        if self.sender.receiver_count() == 0 || !self.level.enabled(level) {
            return;
        }
        let mut visitor = TextLine::default();
        event.record(&mut visitor);
        let now = OffsetDateTime::now_utc();
        let mut line = format!(
            "time={} level={} msg={}",
            kesrs_core::rfc3339(&now),
            slog_name(level),
            quote_if_needed(&visitor.message)
        );
        line.push_str(&visitor.fields);
        let json = Object::new().str("message", &line).finish_line();
        let _ = self.sender.send(Bytes::from(json));
    }
}

/// Collects an event's message and `key=value` fields as slog's text handler writes them.
#[derive(Default)]
struct TextLine {
    message: String,
    fields: String,
}

impl Visit for TextLine {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let text = format!("{value:?}");
            let _ = write!(self.fields, " {}={}", field.name(), quote_if_needed(&text));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), quote_if_needed(value));
        }
    }
}

/// slog quotes a value that is empty or contains spaces, quotes, `=` or control characters.
fn quote_if_needed(s: &str) -> String {
    let needs = s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '=' || c.is_control());
    if needs {
        gojson::string(s)
    } else {
        s.to_owned()
    }
}

fn slog_level(level: &Level) -> i32 {
    match *level {
        Level::TRACE => -8,
        Level::DEBUG => -4,
        Level::INFO => 0,
        Level::WARN => 4,
        Level::ERROR => 8,
    }
}

fn slog_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE | Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_lines_have_the_go_client_shape() {
        let event = AuditEvent {
            time: time::macros::datetime!(2024-01-12 10:39:20.5 UTC),
            ip: "127.0.0.1",
            method: "PUT",
            path: "/v1/key/create/k<",
            identity: Some("abc"),
            status: 200,
            latency: Duration::from_micros(1500),
        };
        assert_eq!(
            event.to_line(),
            concat!(
                r#"{"time":"2024-01-12T10:39:20.5Z","#,
                r#""request":{"ip":"127.0.0.1","method":"PUT","path":"/v1/key/create/k\u003c","identity":"abc"},"#,
                r#""response":{"code":200,"time":1500000}}"#,
                "\n"
            )
        );
        let no_ip = AuditEvent {
            ip: "",
            identity: None,
            ..event
        };
        assert!(no_ip
            .to_line()
            .contains(r#""request":{"method":"PUT","path""#));
    }

    #[test]
    fn slog_quoting() {
        assert_eq!(quote_if_needed("plain"), "plain");
        assert_eq!(quote_if_needed("two words"), "\"two words\"");
        assert_eq!(quote_if_needed(""), "\"\"");
    }
}
