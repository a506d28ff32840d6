//! The sidecar's one error type, and the one place it becomes a response.

use std::fmt;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};

use super::gojson;
use super::response::{self, Response};

/// Everything a request can fail with. Each variant answers with KES's exact status and message.
#[non_exhaustive]
#[derive(Debug)]
pub(crate) enum ApiError {
    /// A kesrs-core error: its `status()` and `message()` are KES's.
    Core(kesrs_core::Error),
    /// 405 `received method '<M>' expected '<R>'`, with the header `Accept: <R>`.
    MethodNotAllowed {
        /// The request's method.
        received: Method,
        /// The route's method.
        expected: Method,
    },
    /// 400 `invalid request body`: the body is not the expected JSON, or is too large.
    InvalidBody,
    /// 400 `invalid import key request body`: as [`ApiError::InvalidBody`], on `/v1/key/import/`.
    InvalidImportBody,
    /// 413 `request body too large: the limit is <n> bytes`: the Content-Length exceeds the route's limit (a kesrs
    /// addition: KES reads up to the limit and then answers 400).
    BodyTooLarge {
        /// The route's limit in bytes.
        limit: u64,
    },
    /// 400 `tls: client certificate is required`: no non-CA certificate was presented.
    NoClientCertificate,
    /// 400 `tls: received more than one client certificate`.
    TooManyClientCertificates,
    /// 400 `tls: client certificate is a CA certificate`: the certificate that signed the handshake is
    /// marked as a CA and a later one is not (KES would name the later one; docs/security.md).
    CaClientCertificate,
    /// 400 with kesrs-core's message: the client certificate carries no usable public key.
    InvalidPeerCertificate(String),
    /// 403 `not authorized: insufficient permissions`: neither admin nor allowed by a policy.
    NotAllowed,
    /// 404 `identity does not exist`.
    IdentityNotFound,
}

impl From<kesrs_core::ClientChainError> for ApiError {
    fn from(err: kesrs_core::ClientChainError) -> Self {
        use kesrs_core::ClientChainError as Chain;
        match err {
            Chain::NoCertificate => Self::NoClientCertificate,
            Chain::TooMany => Self::TooManyClientCertificates,
            Chain::CaEndEntity => Self::CaClientCertificate,
            Chain::Invalid(message) => Self::InvalidPeerCertificate(message),
            // A reason core adds later is still a client certificate kesrs cannot take.
            _ => Self::InvalidPeerCertificate("tls: invalid client certificate".into()),
        }
    }
}

/// The cause of a 5xx answer, attached to the response so that the request's log line can name it.
#[derive(Debug, Clone)]
pub(crate) struct ErrorCause(pub(crate) String);

impl ApiError {
    /// The status code KES answers with.
    pub(crate) fn status(&self) -> StatusCode {
        let code = match self {
            Self::Core(err) => err.status(),
            Self::MethodNotAllowed { .. } => 405,
            Self::InvalidBody
            | Self::InvalidImportBody
            | Self::NoClientCertificate
            | Self::TooManyClientCertificates
            | Self::CaClientCertificate
            | Self::InvalidPeerCertificate(_) => 400,
            Self::NotAllowed => 403,
            Self::IdentityNotFound => 404,
            Self::BodyTooLarge { .. } => 413,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The message KES answers with, byte for byte.
    pub(crate) fn message(&self) -> String {
        match self {
            Self::Core(err) => err.message(),
            Self::MethodNotAllowed { received, expected } => {
                format!("received method '{received}' expected '{expected}'")
            }
            Self::InvalidBody => "invalid request body".into(),
            Self::InvalidImportBody => "invalid import key request body".into(),
            Self::BodyTooLarge { limit } => {
                format!("request body too large: the limit is {limit} bytes")
            }
            Self::NoClientCertificate => "tls: client certificate is required".into(),
            Self::TooManyClientCertificates => {
                "tls: received more than one client certificate".into()
            }
            Self::CaClientCertificate => "tls: client certificate is a CA certificate".into(),
            Self::InvalidPeerCertificate(message) => message.clone(),
            Self::NotAllowed => "not authorized: insufficient permissions".into(),
            Self::IdentityNotFound => "identity does not exist".into(),
        }
    }

    /// The response: `{"message":<msg>` + `\n}` with an explicit Content-Length, as KES's `api.Fail`.
    ///
    /// Server-side failures (5xx) carry their cause in the response extensions for the error log.
    pub(crate) fn into_response(self) -> Response {
        let status = self.status();
        let body = error_body(&self.message());
        let mut response = response::with_body(status, "application/json", Bytes::from(body));
        if let Self::MethodNotAllowed { expected, .. } = &self {
            if let Ok(value) = HeaderValue::from_str(expected.as_str()) {
                response.headers_mut().insert(http::header::ACCEPT, value);
            }
        }
        if status.is_server_error() {
            response
                .extensions_mut()
                .insert(ErrorCause(self.to_string()));
        }
        response
    }
}

/// The bytes of a KES error body. The newline sits inside the object: Go's encoder appends it to the
/// message's JSON and KES then closes the brace.
pub(crate) fn error_body(message: &str) -> String {
    let mut body = String::from("{\"message\":");
    gojson::write_str(&mut body, message);
    body.push_str("\n}");
    body
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Core's Display includes the cause of store failures; its message() does not.
            Self::Core(err) => write!(f, "{err}"),
            other => f.write_str(&other.message()),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<kesrs_core::Error> for ApiError {
    fn from(err: kesrs_core::Error) -> Self {
        Self::Core(err)
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    /// The error vectors in `tests/vectors/kes-vectors.json` (copied from shared/ into the repository).
    fn vectors() -> serde_json::Value {
        let text = include_str!("../../../tests/vectors/kes-vectors.json");
        serde_json::from_str(text).unwrap()
    }

    async fn body(response: Response) -> Vec<u8> {
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec()
    }

    fn error_for(status: u16, body: &str) -> ApiError {
        let message = body
            .strip_prefix("{\"message\":\"")
            .and_then(|s| s.strip_suffix("\"\n}"))
            .unwrap();
        match (status, message) {
            (404, "key does not exist") => ApiError::Core(kesrs_core::Error::KeyNotFound),
            (400, "key already exists") => ApiError::Core(kesrs_core::Error::KeyExists),
            (403, _) => ApiError::NotAllowed,
            (400, "decryption failed: ciphertext is not authentic") => {
                ApiError::Core(kesrs_core::Error::Decrypt)
            }
            (409, _) => ApiError::Core(kesrs_core::Error::HmacNotSupported),
            (400, m) if m.starts_with("key name") => {
                ApiError::Core(kesrs_core::Error::InvalidKeyName("hel<lo".into()))
            }
            (405, _) => ApiError::MethodNotAllowed {
                received: Method::GET,
                expected: Method::PUT,
            },
            other => panic!("no error for vector {other:?}"),
        }
    }

    #[tokio::test]
    async fn error_bodies_match_the_wire_vectors() {
        let vectors = vectors();
        let cases = vectors["wire_error_examples"]["cases"].as_array().unwrap();
        assert!(cases.len() >= 7);
        for case in cases {
            let status = case["status"].as_u64().unwrap() as u16;
            let text = case["body_text"].as_str().unwrap();
            let expected = hex::decode(case["body_hex"].as_str().unwrap()).unwrap();
            let response = error_for(status, text).into_response();
            assert_eq!(response.status().as_u16(), status);
            let headers = response.headers().clone();
            assert_eq!(
                headers["content-type"],
                case["content_type"].as_str().unwrap()
            );
            assert_eq!(
                headers["content-length"],
                case["content_length"]
                    .as_u64()
                    .unwrap()
                    .to_string()
                    .as_str()
            );
            if status == 405 {
                assert_eq!(headers["accept"], "PUT");
            }
            assert_eq!(body(response).await, expected, "{text}");
        }
    }

    #[tokio::test]
    async fn misc_responses_match_the_wire_vectors() {
        let vectors = vectors();
        let cases = vectors["wire_misc_examples"]["cases"].as_array().unwrap();
        for case in cases {
            let request = case["request"].as_str().unwrap();
            let response = match request {
                "GET /v1/key/list" => response::moved_permanently(&Method::GET, "/v1/key/list/"),
                "GET /v1/unknown" => response::not_found(),
                r if r.starts_with("PUT /v1/key/create/") => response::empty(StatusCode::OK),
                other => panic!("unknown vector {other}"),
            };
            assert_eq!(
                response.status().as_u16() as u64,
                case["status"].as_u64().unwrap()
            );
            for (name, value) in case["headers"].as_object().unwrap() {
                assert_eq!(response.headers()[name.as_str()], value.as_str().unwrap());
            }
            let expected = case["body_text"].as_str().unwrap().as_bytes().to_vec();
            assert_eq!(body(response).await, expected, "{request}");
        }
    }

    #[tokio::test]
    async fn server_errors_hide_their_cause_in_the_body_and_keep_it_for_the_log() {
        let err = ApiError::Core(kesrs_core::Error::KeyStore {
            op: kesrs_core::StoreOp::Read,
            source: kesrs_core::StoreError::Failed("disk on fire".into()),
        });
        let response = err.into_response();
        assert_eq!(response.status(), 502);
        let cause = response.extensions().get::<ErrorCause>().unwrap().0.clone();
        assert!(cause.contains("disk on fire"), "{cause}");
        assert_eq!(
            body(response).await,
            b"{\"message\":\"failed to read key\"\n}"
        );
    }
}
