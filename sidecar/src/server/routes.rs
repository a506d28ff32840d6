//! The 22 KES routes, and Go `http.ServeMux`'s way of finding one (kes-protocol.md 1.3 and 2.1).
//!
//! A request is matched once: the path is cleaned (non-canonical paths are redirected before any
//! authentication, so policies only ever see clean paths), the subtree roots without their slash are
//! redirected, and the rest is matched against the table segment by segment on the percent-decoded
//! segments, as Go 1.22's mux does. The handler then works on the fully decoded path.

use std::time::Duration;

use http::Method;

/// Which of the 22 routes a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum RouteId {
    Version,
    Ready,
    Status,
    Metrics,
    Api,
    KeyCreate,
    KeyImport,
    KeyDescribe,
    KeyList,
    KeyDelete,
    KeyGenerate,
    KeyEncrypt,
    KeyDecrypt,
    KeyHmac,
    PolicyDescribe,
    PolicyRead,
    PolicyList,
    IdentityDescribe,
    IdentityList,
    SelfDescribe,
    LogError,
    LogAudit,
}

/// How a route authenticates its caller by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// No identity is computed (`/version`).
    None,
    /// The identity is computed if possible; no policy check.
    IdentifyOnly,
    /// Admin, or an identity whose policy allows the path.
    Verify,
}

/// One registered route.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) id: RouteId,
    /// The registered path; a trailing `/` makes it a subtree route.
    pub(crate) path: &'static str,
    pub(crate) method: Method,
    /// The largest body read, in bytes.
    pub(crate) max_body: u64,
    /// The default timeout; zero means none.
    pub(crate) timeout: Duration,
    pub(crate) auth: Auth,
    /// Whether the request counters and the latency histogram observe this route.
    pub(crate) metered: bool,
}

const MB: u64 = 1_000_000;

const fn route(
    id: RouteId,
    path: &'static str,
    method: Method,
    max_body: u64,
    timeout_secs: u64,
    auth: Auth,
    metered: bool,
) -> Route {
    Route {
        id,
        path,
        method,
        max_body,
        timeout: Duration::from_secs(timeout_secs),
        auth,
        metered,
    }
}

/// KES's route table (`state.go` `initRoutes`).
pub(crate) static ROUTES: [Route; 22] = {
    use Auth::{IdentifyOnly, None, Verify};
    use RouteId::*;
    [
        route(Version, "/version", Method::GET, 0, 10, None, false),
        route(Ready, "/v1/ready", Method::GET, 0, 15, Verify, false),
        route(Status, "/v1/status", Method::GET, 0, 15, Verify, false),
        route(Metrics, "/v1/metrics", Method::GET, 0, 15, Verify, false),
        route(Api, "/v1/api", Method::GET, 0, 10, Verify, false),
        route(
            KeyCreate,
            "/v1/key/create/",
            Method::PUT,
            0,
            15,
            Verify,
            true,
        ),
        route(
            KeyImport,
            "/v1/key/import/",
            Method::PUT,
            MB,
            15,
            Verify,
            true,
        ),
        route(
            KeyDescribe,
            "/v1/key/describe/",
            Method::GET,
            0,
            15,
            Verify,
            true,
        ),
        route(KeyList, "/v1/key/list/", Method::GET, 0, 15, Verify, true),
        route(
            KeyDelete,
            "/v1/key/delete/",
            Method::DELETE,
            0,
            15,
            Verify,
            true,
        ),
        route(
            KeyGenerate,
            "/v1/key/generate/",
            Method::PUT,
            MB,
            15,
            Verify,
            true,
        ),
        route(
            KeyEncrypt,
            "/v1/key/encrypt/",
            Method::PUT,
            MB,
            15,
            Verify,
            true,
        ),
        route(
            KeyDecrypt,
            "/v1/key/decrypt/",
            Method::PUT,
            MB,
            15,
            Verify,
            true,
        ),
        route(KeyHmac, "/v1/key/hmac/", Method::PUT, MB, 15, Verify, true),
        route(
            PolicyDescribe,
            "/v1/policy/describe/",
            Method::GET,
            0,
            15,
            Verify,
            true,
        ),
        route(
            PolicyRead,
            "/v1/policy/read/",
            Method::GET,
            0,
            15,
            Verify,
            true,
        ),
        route(
            PolicyList,
            "/v1/policy/list/",
            Method::GET,
            0,
            15,
            Verify,
            true,
        ),
        route(
            IdentityDescribe,
            "/v1/identity/describe/",
            Method::GET,
            0,
            15,
            Verify,
            true,
        ),
        route(
            IdentityList,
            "/v1/identity/list/",
            Method::GET,
            0,
            15,
            Verify,
            true,
        ),
        route(
            SelfDescribe,
            "/v1/identity/self/describe",
            Method::GET,
            0,
            15,
            IdentifyOnly,
            true,
        ),
        route(LogError, "/v1/log/error", Method::GET, 0, 0, Verify, false),
        route(LogAudit, "/v1/log/audit", Method::GET, 0, 0, Verify, false),
    ]
};

impl Route {
    /// KES accepts POST wherever it declares PUT; every other method must match exactly.
    pub(crate) fn accepts(&self, method: &Method) -> bool {
        *method == self.method || (self.method == Method::PUT && *method == Method::POST)
    }

    /// The index of this route in [`ROUTES`].
    pub(crate) fn index(&self) -> usize {
        self.id as usize
    }
}

/// What the mux decided for a request target.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Match {
    /// A route, with the decoded path and the resource (the decoded path after the route's path).
    Route {
        route: &'static Route,
        path: String,
        resource: String,
    },
    /// 301 to this location (a cleaned path, or a subtree root with its slash).
    Redirect(String),
    /// No route: Go's plain-text 404.
    NotFound,
    /// The path does not percent-decode: Go's server refuses the request line.
    BadRequest,
    /// `OPTIONS *`: Go's server answers it itself, 200 with no body.
    ServerOptions,
    /// The target `*` with another method: Go's mux answers 400 with no body.
    Asterisk,
}

/// Finds the route for a method and a raw (still percent-encoded) request path and query.
pub(crate) fn find(method: &Method, raw_path: &str, query: Option<&str>) -> Match {
    if raw_path == "*" {
        return if *method == Method::OPTIONS {
            Match::ServerOptions
        } else {
            Match::Asterisk
        };
    }
    find_plain(raw_path).unwrap_or_else(|| find_general(method, raw_path, query))
}

/// The common case, every request MinIO sends: a path that is already clean and has nothing to
/// decode matches on its bytes, with the result `find_general` gives it. Cleaning, decoding and
/// splitting every path into owned segments cost about a tenth of a request's instructions in kesrs
/// under MinIO's client (docs/performance.md).
fn find_plain(raw_path: &str) -> Option<Match> {
    if !is_plain(raw_path) {
        return None;
    }
    // For a clean path, a subtree route's parts are its leading segments exactly when the route's
    // path (which ends in `/`) is a prefix of it; an exact route must equal it.
    let route = ROUTES.iter().find(|route| {
        if route.path.ends_with('/') {
            raw_path.starts_with(route.path)
        } else {
            raw_path == route.path
        }
    })?;
    Some(Match::Route {
        route,
        path: raw_path.to_owned(),
        resource: raw_path.get(route.path.len()..)?.to_owned(),
    })
}

/// Rooted, with no empty segment but a last one, no `.` or `..` segment (so Go's `cleanPath` keeps it
/// as it is), and only bytes that need no decoding.
fn is_plain(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        let plain_bytes = segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*'));
        if !plain_bytes || (segment.is_empty() && !last) || segment == "." || segment == ".." {
            return false;
        }
    }
    true
}

/// Go's `ServeMux` on any request target: clean, redirect, percent-decode, match.
fn find_general(method: &Method, raw_path: &str, query: Option<&str>) -> Match {
    // Go's mux neither cleans nor redirects a CONNECT target; an authority (`host:port`), which has
    // no path, matches no route.
    let cleaned = if *method == Method::CONNECT {
        raw_path.to_owned()
    } else {
        clean_path(raw_path)
    };
    if cleaned.is_empty() {
        return Match::NotFound;
    }
    let with_query = |path: &str| match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    };
    let Some(segments) = decode_segments(&cleaned) else {
        return Match::BadRequest;
    };
    let found = match_segments(&segments);
    if found.is_none() && !cleaned.ends_with('/') {
        let slashed = format!("{cleaned}/");
        if let Some(route) = decode_segments(&slashed)
            .as_deref()
            .and_then(match_segments)
            .filter(|route| route.path == segments_path(&segments, true))
        {
            // kesrs serves `/v1/key/list` itself: the Go client lists all keys there and would
            // otherwise need the redirect (see decisions.md). Policies and the audit log see the
            // path KES would after the redirect, so `/v1/key/list/*` allows it.
            if route.id == RouteId::KeyList && cleaned == raw_path {
                return Match::Route {
                    route,
                    path: "/v1/key/list/".to_owned(),
                    resource: String::new(),
                };
            }
            return Match::Redirect(with_query(&slashed));
        }
    }
    if cleaned != raw_path {
        return Match::Redirect(with_query(&cleaned));
    }
    let Some(route) = found else {
        return Match::NotFound;
    };
    let Some(path) = percent_decode(raw_path) else {
        return Match::BadRequest;
    };
    let resource = path.strip_prefix(route.path).unwrap_or_default().to_owned();
    Match::Route {
        route,
        path,
        resource,
    }
}

/// Go's `http.cleanPath`: `path.Clean` with a leading `/`, keeping a trailing slash.
pub(crate) fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return "/".to_owned();
    }
    let rooted = if p.starts_with('/') {
        p.to_owned()
    } else {
        format!("/{p}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in rooted.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    let mut cleaned = String::with_capacity(rooted.len());
    for part in &parts {
        cleaned.push('/');
        cleaned.push_str(part);
    }
    // The root stays `/`; any other path keeps the trailing slash it came with.
    if cleaned.is_empty() || rooted.ends_with('/') {
        cleaned.push('/');
    }
    cleaned
}

/// Matches decoded path segments against the table: exact routes must equal the path, subtree routes
/// must equal its leading segments.
fn match_segments(segments: &[String]) -> Option<&'static Route> {
    ROUTES.iter().find(|route| {
        // `/v1/key/create/` has the parts ["v1", "key", "create"]; the trailing slash makes it a
        // subtree, which needs at least one more segment (possibly empty) for its resource.
        let mut have = segments.iter();
        let parts_match = route
            .path
            .trim_matches('/')
            .split('/')
            .all(|want| have.next().is_some_and(|have| have == want));
        let subtree = route.path.ends_with('/');
        parts_match && have.next().is_some() == subtree
    })
}

/// The decoded segments of a clean path (without the leading `/`).
fn decode_segments(path: &str) -> Option<Vec<String>> {
    path.strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .map(percent_decode)
        .collect()
}

fn segments_path(segments: &[String], slash: bool) -> String {
    let mut path = String::new();
    for segment in segments {
        path.push('/');
        path.push_str(segment);
    }
    if slash {
        path.push('/');
    }
    path
}

/// Percent-decodes a path as Go's `url.PathUnescape` does; `None` for a malformed escape.
///
/// Bytes that are not UTF-8 after decoding are replaced by U+FFFD (Go keeps the raw bytes; such names
/// are invalid either way).
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|c| char::from(*c).to_digit(16))?;
            let lo = bytes.get(i + 2).and_then(|c| char::from(*c).to_digit(16))?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route_of(path: &str) -> (RouteId, String, String) {
        match find(&Method::GET, path, None) {
            Match::Route {
                route,
                path,
                resource,
            } => (route.id, path, resource),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn plain_paths_match_as_the_general_path_does() {
        let resources = [
            "", "k", "my-key", "a.b", "a*", "*", ".", "..", "a/b", "a//b", "a/", "a%2Fb", "%41",
            "a b", "é", "a/./b", "a/../b",
        ];
        let mut plain = 0;
        for route in &ROUTES {
            for resource in resources {
                for tail in ["", "/", "/x"] {
                    let path = format!("{}{resource}{tail}", route.path);
                    let general = find_general(&Method::GET, &path, None);
                    if let Some(fast) = find_plain(&path) {
                        assert_eq!(fast, general, "{path}");
                        plain += 1;
                    }
                }
            }
        }
        // Every MinIO request takes the fast path; the test must not pass by never taking it.
        for path in [
            "/version",
            "/v1/status",
            "/v1/key/generate/minio-key",
            "/v1/key/decrypt/minio-key",
            "/v1/key/create/a.b_c-d",
            "/v1/key/list/*",
        ] {
            assert!(find_plain(path).is_some(), "{path}");
            assert_eq!(
                find_plain(path),
                Some(find_general(&Method::GET, path, None)),
                "{path}"
            );
        }
        assert!(plain > ROUTES.len() * 5, "only {plain} paths were plain");
        for path in [
            "/v1//status",
            "/v1/key/create/a%41",
            "/v1/./status",
            "v1/status",
            "/v1/key/create/..",
        ] {
            assert_eq!(find_plain(path), None, "{path}");
        }
    }

    #[test]
    fn the_table_has_22_distinct_routes_in_index_order() {
        assert_eq!(ROUTES.len(), 22);
        for (i, route) in ROUTES.iter().enumerate() {
            assert_eq!(route.index(), i, "{}", route.path);
            assert_eq!(route_of(route.path).0, route.id);
        }
    }

    #[test]
    fn routes_and_resources() {
        assert_eq!(
            route_of("/v1/key/create/my-key"),
            (
                RouteId::KeyCreate,
                "/v1/key/create/my-key".into(),
                "my-key".into()
            )
        );
        assert_eq!(route_of("/v1/key/list/").2, "");
        assert_eq!(route_of("/v1/key/list/my%2A").2, "my*");
        // %2F decodes to a `/` inside the resource, which then fails name validation (400).
        assert_eq!(route_of("/v1/key/create/a%2Fb").2, "a/b");
        // Go's mux matches decoded segments.
        assert_eq!(route_of("/v1/%6Bey/create/x").0, RouteId::KeyCreate);
        assert_eq!(
            route_of("/v1/identity/self/describe").0,
            RouteId::SelfDescribe
        );
    }

    #[test]
    fn unknown_paths_are_404() {
        for path in [
            "/",
            "/v1/status/",
            "/v1/identity/self/describe/",
            "/v1/unknown",
            "/V1/status",
            "/v1/log/audit/",
            "/v1/key/create%2Fx",
        ] {
            assert_eq!(find(&Method::GET, path, None), Match::NotFound, "{path}");
        }
    }

    #[test]
    fn subtree_roots_redirect_but_key_list_is_served() {
        assert_eq!(
            find(&Method::GET, "/v1/key/create", Some("a=b")),
            Match::Redirect("/v1/key/create/?a=b".into())
        );
        assert_eq!(
            find(&Method::GET, "/v1/policy/list", None),
            Match::Redirect("/v1/policy/list/".into())
        );
        assert_eq!(
            route_of("/v1/key/list"),
            (RouteId::KeyList, "/v1/key/list/".into(), "".into())
        );
    }

    #[test]
    fn non_canonical_paths_redirect_to_the_clean_path() {
        assert_eq!(
            find(&Method::GET, "/v1/key/create/../x", None),
            Match::Redirect("/v1/key/x".into())
        );
        assert_eq!(
            find(&Method::GET, "/v1//key/describe/k", Some("q")),
            Match::Redirect("/v1/key/describe/k?q".into())
        );
        assert_eq!(
            find(&Method::GET, "/v1/./status", None),
            Match::Redirect("/v1/status".into())
        );
        assert_eq!(
            find(&Method::GET, "/v1/key/../key/list", None),
            Match::Redirect("/v1/key/list/".into())
        );
    }

    #[test]
    fn clean_path_is_gos() {
        for (input, want) in [
            ("", "/"),
            ("/", "/"),
            ("a/b", "/a/b"),
            ("/a//b/", "/a/b/"),
            ("/a/./b/.", "/a/b"),
            ("/a/../..", "/"),
            ("/../a/", "/a/"),
            ("/a/b/../c/", "/a/c/"),
        ] {
            assert_eq!(clean_path(input), want, "{input}");
        }
    }

    #[test]
    fn bad_escapes_are_bad_requests() {
        assert_eq!(
            find(&Method::GET, "/v1/key/create/%zz", None),
            Match::BadRequest
        );
        assert_eq!(
            find(&Method::GET, "/v1/key/create/%4", None),
            Match::BadRequest
        );
    }

    /// Go's server answers `OPTIONS *` itself, its mux refuses `*` otherwise, and CONNECT targets
    /// are neither cleaned nor redirected (found by a differential run against Go KES).
    #[test]
    fn asterisk_and_connect_targets_are_gos() {
        assert_eq!(find(&Method::OPTIONS, "*", None), Match::ServerOptions);
        assert_eq!(find(&Method::GET, "*", None), Match::Asterisk);
        assert_eq!(find(&Method::CONNECT, "", None), Match::NotFound);
        assert_eq!(find(&Method::CONNECT, "/v1//status", None), Match::NotFound);
        assert_eq!(
            find(&Method::CONNECT, "/v1/key/create", None),
            Match::Redirect("/v1/key/create/".into())
        );
        assert_eq!(route_of("/v1/status").0, RouteId::Status);
    }

    #[test]
    fn methods() {
        let create = &ROUTES[RouteId::KeyCreate as usize];
        assert!(create.accepts(&Method::PUT));
        assert!(create.accepts(&Method::POST));
        assert!(!create.accepts(&Method::GET));
        let status = &ROUTES[RouteId::Status as usize];
        assert!(!status.accepts(&Method::HEAD));
        assert!(!status.accepts(&Method::POST));
    }
}
