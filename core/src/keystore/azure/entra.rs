//! Entra ID's refusals, read by kesrs.
//!
//! The SDK parses Entra's error body into a borrowed `&str`, which fails whenever the description
//! holds an escape, and Entra's always do (`\r\n` before its trace ID). The SDK then reports only
//! serde's complaint, `invalid type: string "AADSTS7000215: ...", expected a borrowed string`. A
//! policy on the credential's pipeline reads client-error answers first and turns Entra's body
//! (`error`, `error_description`, `error_codes`, `trace_id`, `correlation_id`) into a [`Refusal`]
//! that says plainly who refused what, and why.

use std::fmt;
use std::sync::Arc;

use azure_core::error::ErrorKind;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{AsyncRawResponse, Context, Request};
use serde::Deserialize;

/// The longest description kept: Entra's first line is about 200 characters; the rest is not logged.
const MAX_DESCRIPTION: usize = 512;
/// The longest error code, trace or correlation ID kept.
const MAX_FIELD: usize = 64;
/// The most of a client-error body read: Entra's are under 2 KB. A longer one is no refusal of
/// Entra's, and a token endpoint (a configured authority host, or whatever answers in its place)
/// must not make kesrs buffer an answer without end.
const MAX_BODY: usize = 64 * 1024;

/// A token endpoint's refusal, with Entra's code and message.
#[derive(Debug)]
pub(super) struct Refusal {
    refuser: &'static str,
    error: String,
    description: String,
    trace_id: Option<String>,
    correlation_id: Option<String>,
}

/// Reads the token endpoint's client-error answers (see the module comment).
#[derive(Debug)]
pub(super) struct RefusalPolicy {
    /// Who refused what, for example "Entra ID refused the client credentials".
    refuser: &'static str,
}

impl RefusalPolicy {
    pub(super) fn new(refuser: &'static str) -> Arc<Self> {
        Arc::new(Self { refuser })
    }
}

#[async_trait::async_trait]
impl Policy for RefusalPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let Some((policy, rest)) = next.split_first() else {
            return Err(azure_core::Error::with_message(
                ErrorKind::Other,
                "the token pipeline has no transport after the refusal policy",
            ));
        };
        let response = policy.send(ctx, request, rest).await?;
        // 408 and 429 are not refusals: they pass on, to be retried as outages are.
        let status = u16::from(response.status());
        if !(400..500).contains(&status) || status == 408 || status == 429 {
            return Ok(response);
        }
        let (status, headers, body) = response.deconstruct();
        let Some(body) = read_at_most(body, MAX_BODY).await? else {
            return Err(azure_core::Error::with_message(
                ErrorKind::Credential,
                format!(
                    "{}: the token endpoint answered {} with a body over {MAX_BODY} bytes",
                    self.refuser,
                    u16::from(status)
                ),
            ));
        };
        match Refusal::parse(self.refuser, &body) {
            Some(refusal) => Err(azure_core::Error::new(ErrorKind::Credential, refusal)),
            None => Ok(AsyncRawResponse::from_bytes(status, headers, body)),
        }
    }
}

/// The whole of `body`, or `None` once it runs past `max` bytes (the rest is never read).
async fn read_at_most<E>(
    body: impl futures::Stream<Item = Result<bytes::Bytes, E>>,
    max: usize,
) -> Result<Option<bytes::Bytes>, E> {
    use futures::StreamExt as _;
    let mut body = std::pin::pin!(body);
    let mut read = bytes::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if chunk.len() > max.saturating_sub(read.len()) {
            return Ok(None);
        }
        read.extend_from_slice(&chunk);
    }
    Ok(Some(read.freeze()))
}

impl Refusal {
    /// Entra's error body, if `body` is one.
    fn parse(refuser: &'static str, body: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        struct Body {
            error: String,
            #[serde(default)]
            error_description: Option<String>,
            #[serde(default)]
            error_codes: Vec<i64>,
            #[serde(default)]
            trace_id: Option<String>,
            #[serde(default)]
            correlation_id: Option<String>,
        }
        let body: Body = serde_json::from_slice(body).ok()?;
        let description = match body.error_description.as_deref() {
            // Entra's first line is the message; the lines after it repeat the IDs and a timestamp.
            Some(text) => text.lines().next().unwrap_or_default().to_owned(),
            None => body
                .error_codes
                .iter()
                .map(|code| format!("AADSTS{code}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        Some(Self {
            refuser,
            error: printable(&body.error, MAX_FIELD),
            description: printable(&description, MAX_DESCRIPTION),
            trace_id: body.trace_id.map(|id| printable(&id, MAX_FIELD)),
            correlation_id: body.correlation_id.map(|id| printable(&id, MAX_FIELD)),
        })
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.refuser)?;
        if self.description.is_empty() {
            f.write_str("no reason given")?;
        } else {
            f.write_str(&self.description)?;
        }
        write!(f, " ({}", self.error)?;
        if let Some(id) = &self.trace_id {
            write!(f, ", trace ID {id}")?;
        }
        if let Some(id) = &self.correlation_id {
            write!(f, ", correlation ID {id}")?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for Refusal {}

/// `text` without control characters (it goes to logs) and at most `max` characters long.
fn printable(text: &str, max: usize) -> String {
    let mut kept: String = text.chars().filter(|c| !c.is_control()).take(max).collect();
    if text.chars().filter(|c| !c.is_control()).nth(max).is_some() {
        kept.push('…');
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_bodies_read_as_a_sentence() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: t-1\r\nCorrelation ID: c-1\r\nTimestamp: 2026-12-01 10:00:00Z","error_codes":[7000215],"timestamp":"2026-12-01 10:00:00Z","trace_id":"t-1","correlation_id":"c-1"}"#;
        let refusal = Refusal::parse("Entra ID refused the client credentials", body).unwrap();
        assert_eq!(
            refusal.to_string(),
            "Entra ID refused the client credentials: AADSTS7000215: Invalid client secret \
             provided. (invalid_client, trace ID t-1, correlation ID c-1)"
        );
        let codes_only = Refusal::parse("x", br#"{"error":"e","error_codes":[1,2]}"#).unwrap();
        assert_eq!(codes_only.to_string(), "x: AADSTS1, AADSTS2 (e)");
        assert!(Refusal::parse("x", br#"{"statusCode":400,"message":"no"}"#).is_none());
        assert!(Refusal::parse("x", b"<html>").is_none());
    }

    #[tokio::test]
    async fn client_error_bodies_are_read_up_to_a_bound() {
        let chunks = |sizes: &[usize]| {
            let chunks: Vec<Result<bytes::Bytes, std::convert::Infallible>> = sizes
                .iter()
                .map(|n| Ok(bytes::Bytes::from(vec![b'x'; *n])))
                .collect();
            futures::stream::iter(chunks)
        };
        let whole = read_at_most(chunks(&[10, 20]), 30).await.unwrap();
        assert_eq!(whole.map(|b| b.len()), Some(30));
        assert!(read_at_most(chunks(&[10, 21]), 30).await.unwrap().is_none());
        assert!(read_at_most(chunks(&[31]), 30).await.unwrap().is_none());
        // An endless body ends the read once past the bound.
        let endless = futures::stream::repeat_with(|| {
            Ok::<_, std::convert::Infallible>(bytes::Bytes::from_static(&[b'x'; 1024]))
        });
        assert!(read_at_most(endless, MAX_BODY).await.unwrap().is_none());
    }

    #[test]
    fn refusals_are_printable_and_bounded() {
        let long = "a".repeat(2 * MAX_DESCRIPTION);
        let body = serde_json::json!({"error": "bad\u{1b}[31m", "error_description": long});
        let refusal = Refusal::parse("x", body.to_string().as_bytes()).unwrap();
        let text = refusal.to_string();
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert!(text.len() < MAX_DESCRIPTION + 50, "{}", text.len());
        assert!(text.contains("…"), "{text}");
    }
}
