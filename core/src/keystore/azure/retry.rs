//! Why a Key Vault call failed, and retrying the failures that pass.
//!
//! The SDK's own retry policy is off: it sleeps for whatever `Retry-After` says and retries
//! transport errors for up to a minute, so a throttled or hung Azure would hold MinIO's request far
//! past its timeout. Here every operation has a deadline; a retry that cannot finish before it is not
//! started, and the error says why.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use azure_core::error::ErrorKind;
use azure_core::http::StatusCode;
use azure_security_keyvault_secrets::models::KeyVaultError;
use tokio::time::Instant;

use super::entra::Refusal;
use crate::StoreError;

/// The secret permission an operation needs; named in the error when Azure answers 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Permission {
    Get,
    List,
    Set,
    Delete,
    Purge,
}

/// A failed Key Vault call, classified.
#[derive(Debug)]
pub(super) enum Failure {
    /// 404: no such secret (or deleted secret).
    NotFound,
    /// 409, with Key Vault's inner error code (`ObjectIsBeingDeleted`, `ObjectIsDeletedButRecoverable`, …).
    Conflict(Option<String>),
    /// 403: the identity lacks a permission, or a policy (purge protection, firewall) forbids the call.
    Forbidden {
        permission: Permission,
        detail: String,
    },
    /// Entra ID (or the managed identity endpoint) refused to issue a token, or Key Vault refused it.
    Unauthenticated(String),
    /// 429: throttled.
    Throttled { retry_after: Option<Duration> },
    /// 408 or 5xx: Azure is having trouble.
    Unavailable {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No HTTP answer: DNS, connect, TLS, reset, or a request that timed out.
    Transport(String),
    /// The operation's deadline passed.
    Deadline,
    /// Another answer that retrying cannot fix (400, a malformed response, …).
    Rejected(String),
}

/// How an operation retries: exponential backoff from `initial` up to `max`, within a deadline.
#[derive(Debug, Clone, Copy)]
pub(super) struct Backoff {
    pub(super) initial: Duration,
    pub(super) max: Duration,
}

impl Backoff {
    pub(super) fn delay(&self, attempt: u32) -> Duration {
        let delay = self.initial.saturating_mul(1u32 << attempt.min(16));
        delay.min(self.max)
    }
}

/// Runs `call` until it succeeds, fails for good, or another attempt could not end before `deadline`.
pub(super) async fn retry<T, F, Fut>(
    permission: Permission,
    backoff: Backoff,
    deadline: Instant,
    mut call: F,
) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = azure_core::Result<T>>,
{
    let mut attempt = 0;
    loop {
        let failure = match tokio::time::timeout_at(deadline, call()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(err)) => Failure::classify(&err, permission),
            Err(_) => return Err(Failure::Deadline),
        };
        let Some(hint) = failure.retry_hint() else {
            return Err(failure);
        };
        let delay = hint.map_or_else(|| backoff.delay(attempt), |hint| hint.max(backoff.initial));
        if Instant::now() + delay >= deadline {
            tracing::debug!(%failure, ?delay, "not retrying Azure Key Vault call past its deadline");
            return Err(failure);
        }
        tracing::debug!(%failure, ?delay, "retrying Azure Key Vault call");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

impl Failure {
    /// Classifies an SDK error; `permission` is what the call needed.
    pub(super) fn classify(err: &azure_core::Error, permission: Permission) -> Self {
        match err.kind() {
            ErrorKind::HttpResponse {
                status,
                raw_response,
                error_code,
            } => {
                let (body_code, inner_code, message) = raw_response
                    .as_ref()
                    .and_then(|raw| serde_json::from_slice::<KeyVaultError>(raw.body()).ok())
                    .and_then(|body| body.error)
                    .map(|error| {
                        let inner = error.inner_error.and_then(|inner| inner.code);
                        (error.code, inner, error.message)
                    })
                    .unwrap_or_default();
                let retry_after = raw_response
                    .as_ref()
                    .and_then(|raw| retry_after(raw.headers()));
                let code = inner_code.or(body_code).or_else(|| error_code.clone());
                let detail = match (&code, message) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    (Some(code), None) => code.clone(),
                    (None, Some(message)) => message,
                    (None, None) => err.to_string(),
                };
                Self::from_status(*status, code, detail, retry_after, permission)
            }
            ErrorKind::Io | ErrorKind::Connection => Self::Transport(chain(err)),
            ErrorKind::Credential => match (refusal(err), inner(err)) {
                // Entra's own words, not the SDK's failure to parse them.
                (Some(refusal), _) => Self::Unauthenticated(refusal.to_string()),
                // A token endpoint that is down is an outage like any other; one that refuses us is not.
                (None, Some(cause)) => match Self::classify(cause, permission) {
                    failure @ (Self::Transport(_)
                    | Self::Throttled { .. }
                    | Self::Unavailable { .. }) => failure,
                    _ => Self::Unauthenticated(chain(err)),
                },
                (None, None) => Self::Unauthenticated(chain(err)),
            },
            _ => Self::Rejected(chain(err)),
        }
    }

    fn from_status(
        status: StatusCode,
        code: Option<String>,
        detail: String,
        retry_after: Option<Duration>,
        permission: Permission,
    ) -> Self {
        match u16::from(status) {
            404 => Self::NotFound,
            409 => Self::Conflict(code),
            401 => Self::Unauthenticated(detail),
            403 => Self::Forbidden { permission, detail },
            429 => Self::Throttled { retry_after },
            status @ (408 | 500..=599) => Self::Unavailable {
                status,
                retry_after,
            },
            status => Self::Rejected(format!("HTTP {status}: {detail}")),
        }
    }

    /// `Some` if the failure may pass: with the server's delay if it named one.
    fn retry_hint(&self) -> Option<Option<Duration>> {
        match self {
            Self::Throttled { retry_after } | Self::Unavailable { retry_after, .. } => {
                Some(*retry_after)
            }
            Self::Transport(_) => Some(None),
            _ => None,
        }
    }

    /// Whether this is the 409 Key Vault answers while a soft delete is still in progress.
    pub(super) fn is_being_deleted(&self) -> bool {
        matches!(self, Self::Conflict(Some(code)) if code == "ObjectIsBeingDeleted")
    }

    /// The key-store error: outages are `Unreachable`, so the cache keeps serving cached keys.
    pub(super) fn into_store_error(self) -> StoreError {
        match self {
            Self::NotFound => StoreError::NotFound,
            Self::Throttled { .. }
            | Self::Unavailable { .. }
            | Self::Transport(_)
            | Self::Deadline => StoreError::Unreachable(self.to_string().into()),
            Self::Conflict(_)
            | Self::Forbidden { .. }
            | Self::Unauthenticated(_)
            | Self::Rejected(_) => StoreError::Failed(self.to_string().into()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("Azure Key Vault: secret not found"),
            Self::Conflict(code) => write!(
                f,
                "Azure Key Vault: conflict ({})",
                code.as_deref().unwrap_or("no error code")
            ),
            Self::Forbidden { permission, detail } => write!(
                f,
                "Azure Key Vault denied the '{permission}' secret permission (403 {detail}): grant \
                 kesrs's identity the secret permissions get, list, set, delete and purge (access \
                 policy) or the 'Key Vault Secrets Officer' role (RBAC)"
            ),
            Self::Unauthenticated(detail) => {
                write!(f, "Azure authentication failed: {detail}")
            }
            Self::Throttled { retry_after } => match retry_after {
                Some(after) => write!(
                    f,
                    "Azure Key Vault is throttling requests (429, retry after {}s)",
                    after.as_secs()
                ),
                None => f.write_str("Azure Key Vault is throttling requests (429)"),
            },
            Self::Unavailable { status, .. } => {
                write!(f, "Azure Key Vault is unavailable (HTTP {status})")
            }
            Self::Transport(detail) => write!(f, "Azure Key Vault is not reachable: {detail}"),
            Self::Deadline => f.write_str("Azure Key Vault did not answer in time"),
            Self::Rejected(detail) => write!(f, "Azure Key Vault rejected the request: {detail}"),
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Get => "get",
            Self::List => "list",
            Self::Set => "set",
            Self::Delete => "delete",
            Self::Purge => "purge",
        })
    }
}

/// The delay a 429 or 503 asks for: `x-ms-retry-after-ms`, `retry-after-ms`, or `Retry-After` seconds.
fn retry_after(headers: &azure_core::http::headers::Headers) -> Option<Duration> {
    for name in ["x-ms-retry-after-ms", "retry-after-ms"] {
        if let Some(ms) = headers
            .get_optional_str(&azure_core::http::headers::HeaderName::from_static(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            return Some(Duration::from_millis(ms));
        }
    }
    headers
        .get_optional_str(&azure_core::http::headers::RETRY_AFTER)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// The token endpoint's refusal somewhere in a credential error's causes, as `entra` read it.
fn refusal(err: &azure_core::Error) -> Option<&Refusal> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(error) = cause {
        if let Some(refusal) = error.downcast_ref::<Refusal>() {
            return Some(refusal);
        }
        cause = error.source();
    }
    None
}

/// The SDK error a credential error wraps, if any.
fn inner(err: &azure_core::Error) -> Option<&azure_core::Error> {
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<azure_core::Error>())
}

/// An error and its causes on one line. SDK errors carry no secrets: no token, no client secret, no
/// secret value (only error responses, which never hold one, are kept).
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(700),
        };
        let delays: Vec<_> = (0..5).map(|n| backoff.delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 700, 700]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_millis(700));
    }

    #[test]
    fn outages_are_unreachable_and_refusals_are_failures() {
        let unreachable = [
            Failure::Throttled { retry_after: None },
            Failure::Unavailable {
                status: 503,
                retry_after: None,
            },
            Failure::Transport("connection refused".into()),
            Failure::Deadline,
        ];
        for failure in unreachable {
            assert!(matches!(
                failure.into_store_error(),
                StoreError::Unreachable(_)
            ));
        }
        let failed = [
            Failure::Conflict(None),
            Failure::Unauthenticated("AADSTS7000215".into()),
            Failure::Rejected("HTTP 400".into()),
        ];
        for failure in failed {
            assert!(matches!(failure.into_store_error(), StoreError::Failed(_)));
        }
    }

    #[test]
    fn forbidden_names_the_permission() {
        let failure = Failure::Forbidden {
            permission: Permission::Purge,
            detail: "ForbiddenByPolicy: no".into(),
        };
        let message = failure.to_string();
        assert!(
            message.contains("denied the 'purge' secret permission"),
            "{message}"
        );
        assert!(message.contains("Key Vault Secrets Officer"), "{message}");
    }
}
