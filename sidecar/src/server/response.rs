//! The response shapes KES sends (kes-protocol.md 1.3 and 1.5), and nothing else.

use std::convert::Infallible;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::{HeaderValue, Method, StatusCode, Version};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Full};
use std::future::Future as _;
use zeroize::Zeroizing;

/// Every response body: a full buffer or a live log stream. Its only error is a route timeout, which
/// makes hyper abort the connection (HTTP/1) or reset the stream (HTTP/2).
pub(crate) type Body = UnsyncBoxBody<Bytes, TimedOut>;

/// A route ran past its timeout (Go's write deadline). Never answered with a status: a 503 would make
/// the Go client retry, repeating non-idempotent calls.
#[derive(Debug)]
pub(crate) struct TimedOut;

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("route timed out")
    }
}

impl std::error::Error for TimedOut {}

/// Ends `body` with [`TimedOut`] if it is not fully written by `deadline`, as Go's write deadline
/// covers the whole response, not only its headers.
pub(crate) fn with_deadline(body: Body, deadline: tokio::time::Instant) -> Body {
    DeadlineBody {
        inner: body,
        sleep: Box::pin(tokio::time::sleep_until(deadline)),
    }
    .boxed_unsync()
}

struct DeadlineBody {
    inner: Body,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = TimedOut;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, TimedOut>>> {
        if let std::task::Poll::Ready(frame) = std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            return std::task::Poll::Ready(frame);
        }
        self.sleep.as_mut().poll(cx).map(|()| Some(Err(TimedOut)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response of the server.
pub(crate) type Response = http::Response<Body>;

/// `api.Reply`: the status only, `Content-Length: 0` and no Content-Type.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut response = http::Response::new(full(Bytes::new()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

/// `api.ReplyWith`: 200, `application/json`, the body ending in `\n` (the caller's [`Object::finish_line`]).
///
/// [`Object::finish_line`]: super::gojson::Object::finish_line
pub(crate) fn json(body: String) -> Response {
    with_body(StatusCode::OK, "application/json", body.into())
}

/// [`json`] for a body that carries key material ([`gojson::secret_line`]): its buffer is wiped once
/// hyper has written and dropped it.
///
/// [`gojson::secret_line`]: super::gojson::secret_line
pub(crate) fn secret_json(body: Zeroizing<Vec<u8>>) -> Response {
    with_body(StatusCode::OK, "application/json", Bytes::from_owner(body))
}

/// A body with an explicit Content-Type and Content-Length.
pub(crate) fn with_body(status: StatusCode, content_type: &'static str, body: Bytes) -> Response {
    let len = body.len();
    let mut response = http::Response::new(full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    response
}

/// Go's `http.NotFound`, which `ServeMux` answers unknown paths with.
pub(crate) fn not_found() -> Response {
    let mut response = with_body(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        Bytes::from_static(b"404 page not found\n"),
    );
    response.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// What Go's HTTP/1 server answers a request it cannot parse (a target that does not decode, two
/// `Host` headers), before any handler runs; it then closes the connection.
pub(crate) fn bad_request(version: Version) -> Response {
    let response = with_body(
        StatusCode::BAD_REQUEST,
        "text/plain; charset=utf-8",
        Bytes::from_static(b"400 Bad Request"),
    );
    closing(response, version)
}

/// Go's `ServeMux` for the target `*` with any method but OPTIONS: 400, no body, and the connection
/// closed.
pub(crate) fn asterisk(version: Version) -> Response {
    closing(empty(StatusCode::BAD_REQUEST), version)
}

/// `response` with `Connection: close` over HTTP/1, where hyper then closes the connection. HTTP/2
/// has no such header (hyper would drop it with a warning); its stream simply ends.
fn closing(mut response: Response, version: Version) -> Response {
    if version < Version::HTTP_2 {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Go's `http.Redirect(w, r, location, 301)`: an HTML body for GET only, the Content-Type for GET and HEAD.
pub(crate) fn moved_permanently(method: &Method, location: &str) -> Response {
    let mut response = if *method == Method::GET {
        let body = format!(
            "<a href=\"{}\">Moved Permanently</a>.\n\n",
            html_escape(location)
        );
        with_body(
            StatusCode::MOVED_PERMANENTLY,
            "text/html; charset=utf-8",
            body.into(),
        )
    } else {
        let mut response = empty(StatusCode::MOVED_PERMANENTLY);
        if *method == Method::HEAD {
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
        }
        response
    };
    // The location is built from an already percent-encoded path and query, so it is a valid header;
    // if it were not, a redirect without Location is still better than a panic.
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

pub(crate) fn full(bytes: Bytes) -> Body {
    Full::new(bytes)
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

/// Go's `html.EscapeString` subset that `http.Redirect` applies.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
