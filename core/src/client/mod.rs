//! A client for KES servers (kesrs or Go KES): the remote counterpart of [`Kms`](crate::Kms).
//!
//! It speaks the KES v1 API over mutual TLS the way the Go client MinIO links does: an API key or a
//! certificate for authentication, several endpoints with failover, and retries of network errors and
//! 503s. Server errors come back as the same [`Error`] variants `Kms` returns, so code that handles a
//! missing key does not care whether the key lives in-process or behind a server.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::kms::{DataKey, KeyInfo, KeyList};
use crate::{Error, Identity, KeyName, KeyType, Pattern, Policy};

mod transport;
mod trust;
mod wire;

pub use transport::{ClientBuilder, Credentials};

use transport::Transport;
use wire::Base64;

/// A client for one KES deployment (one or more endpoints serving the same keys).
#[derive(Clone)]
pub struct Client {
    transport: Transport,
}

/// What `/version` reports.
#[non_exhaustive]
#[derive(Debug, Clone, Deserialize)]
pub struct ServerVersion {
    /// The server's version string.
    pub version: String,
    /// The commit it was built from.
    pub commit: String,
}

/// What `/v1/status` reports.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct ServerStatus {
    /// The server's version string.
    pub version: String,
    /// Operating system, in Go's naming (`linux`).
    pub os: String,
    /// CPU architecture, in Go's naming (`amd64`).
    pub arch: String,
    /// Time since the server started.
    pub uptime: Duration,
    /// Logical CPUs of the machine.
    pub num_cpu: u64,
    /// CPUs the server uses.
    pub num_cpu_used: u64,
    /// Heap bytes in use.
    pub mem_heap_used: u64,
    /// Stack bytes in use.
    pub mem_stack_used: u64,
    /// Key-store latency; `None` when the key store is unreachable.
    pub keystore_latency: Option<Duration>,
    /// Whether the key store is unreachable.
    pub keystore_unreachable: bool,
}

/// One route from `/v1/api`.
#[non_exhaustive]
#[derive(Debug, Clone, Deserialize)]
pub struct ApiRoute {
    /// HTTP method.
    pub method: String,
    /// Registered path (with its trailing slash for routes that take an argument).
    pub path: String,
    /// Largest accepted body, in bytes.
    pub max_body: u64,
    /// Route timeout in seconds (0: none).
    pub timeout: u64,
}

/// What `/v1/policy/describe` and `/v1/policy/read` report about a policy.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct PolicyInfo {
    /// The policy's name.
    pub name: String,
    /// Its allow and deny patterns (empty for `describe_policy`).
    pub policy: Policy,
    /// When it was loaded.
    pub created_at: Option<OffsetDateTime>,
    /// Who configured it (the admin identity).
    pub created_by: Option<String>,
}

/// What the identity endpoints report about an identity.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct IdentityInfo {
    /// The identity (filled in by `describe_self`).
    pub identity: Option<Identity>,
    /// The policy bound to it, if any.
    pub policy: Option<String>,
    /// Whether it is the admin.
    pub admin: bool,
    /// When it was configured.
    pub created_at: Option<OffsetDateTime>,
    /// Who configured it.
    pub created_by: Option<String>,
}

impl Client {
    /// Starts building a client for `endpoints` (`host:port` or `https://host:port`).
    pub fn builder<I, S>(endpoints: I) -> ClientBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ClientBuilder::new(endpoints)
    }

    /// `GET /version`.
    pub async fn version(&self) -> Result<ServerVersion, Error> {
        self.transport.get_json("/version").await
    }

    /// `GET /v1/ready`: whether the server and its key store can serve.
    pub async fn ready(&self) -> Result<(), Error> {
        self.transport
            .send("GET", "/v1/ready", None)
            .await
            .map(drop)
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<ServerStatus, Error> {
        let status: wire::Status = self.transport.get_json("/v1/status").await?;
        Ok(status.into())
    }

    /// `GET /v1/api`.
    pub async fn apis(&self) -> Result<Vec<ApiRoute>, Error> {
        self.transport.get_json("/v1/api").await
    }

    /// `GET /v1/metrics`: the Prometheus text exposition.
    pub async fn metrics(&self) -> Result<String, Error> {
        let body = self.transport.send("GET", "/v1/metrics", None).await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// Creates a key.
    pub async fn create_key(&self, name: &KeyName) -> Result<(), Error> {
        let path = join("/v1/key/create/", name.as_str());
        self.transport.send("POST", &path, None).await.map(drop)
    }

    /// Imports a 32-byte key for `cipher` (`AES256` or `ChaCha20`).
    pub async fn import_key(
        &self,
        name: &KeyName,
        key: &[u8],
        cipher: KeyType,
    ) -> Result<(), Error> {
        let body = wire::ImportKey {
            key: Base64(key),
            cipher: cipher.as_str(),
        };
        let path = join("/v1/key/import/", name.as_str());
        self.transport
            .send("POST", &path, Some(wire::json(&body)?))
            .await
            .map(drop)
    }

    /// Describes a key.
    pub async fn describe_key(&self, name: &KeyName) -> Result<KeyInfo, Error> {
        let path = join("/v1/key/describe/", name.as_str());
        let info: wire::KeyInfo = self.transport.get_json(&path).await?;
        Ok(KeyInfo {
            name: name.clone(),
            algorithm: KeyType::from_cipher(&info.algorithm)
                .map_err(|_| protocol_error("unknown key algorithm"))?,
            created_at: wire::parse_time(&info.created_at)
                .ok_or(protocol_error("invalid created_at"))?,
            created_by: info.created_by.filter(|s| !s.is_empty()),
        })
    }

    /// Deletes a key.
    pub async fn delete_key(&self, name: &KeyName) -> Result<(), Error> {
        let path = join("/v1/key/delete/", name.as_str());
        self.transport.send("DELETE", &path, None).await.map(drop)
    }

    /// Lists the keys a pattern selects, following `continue_at` until the listing is complete.
    pub async fn list_keys(&self, pattern: &Pattern) -> Result<KeyList, Error> {
        let mut names = Vec::new();
        // The prefix, not the pattern: Go KES takes a trailing `*` literally and would list nothing,
        // while a bare prefix selects the same keys on both servers. Both refuse a bare prefix that
        // ends in `-` (`my-`), so that asks for a shorter one and keeps the names that match.
        let prefix = pattern.prefix();
        let mut next = match prefix.trim_end_matches('-') {
            "_" => "",
            listable => listable,
        }
        .to_owned();
        loop {
            let page: wire::KeyNames = self
                .transport
                .get_json(&join("/v1/key/list/", &next))
                .await?;
            names.extend(page.names);
            match page.continue_at.filter(|c| !c.is_empty() && *c != next) {
                Some(continue_at) => next = continue_at,
                None => break,
            }
        }
        names.retain(|name| name.starts_with(prefix));
        Ok(KeyList {
            names,
            continue_at: None,
        })
    }

    /// Generates a data key under `name`, bound to `context`.
    pub async fn generate_key(&self, name: &KeyName, context: &[u8]) -> Result<DataKey, Error> {
        let body = wire::Context {
            context: wire::context(context),
        };
        let path = join("/v1/key/generate/", name.as_str());
        let response: wire::DataKey = self.transport.post_json(&path, &body).await?;
        let plaintext: Zeroizing<[u8; 32]> = Zeroizing::new(
            response
                .plaintext
                .as_slice()
                .try_into()
                .map_err(|_| protocol_error("data key is not 32 bytes"))?,
        );
        Ok(DataKey::new(plaintext, response.ciphertext.to_vec()))
    }

    /// Encrypts a small plaintext under `name`, bound to `context`.
    pub async fn encrypt(
        &self,
        name: &KeyName,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let body = wire::Encrypt {
            plaintext: Base64(plaintext),
            context: wire::context(context),
        };
        let path = join("/v1/key/encrypt/", name.as_str());
        let response: wire::Ciphertext = self.transport.post_json(&path, &body).await?;
        Ok(response.ciphertext.to_vec())
    }

    /// Decrypts a KES ciphertext under `name` with `context`.
    pub async fn decrypt(
        &self,
        name: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let body = wire::Decrypt {
            ciphertext: Base64(ciphertext),
            context: wire::context(context),
        };
        let path = join("/v1/key/decrypt/", name.as_str());
        let response: wire::Plaintext = self.transport.post_json(&path, &body).await?;
        Ok(response.plaintext)
    }

    /// HMAC-SHA256 of `message` with the key's HMAC key.
    pub async fn hmac(&self, name: &KeyName, message: &[u8]) -> Result<[u8; 32], Error> {
        let body = wire::Hmac {
            message: Base64(message),
        };
        let path = join("/v1/key/hmac/", name.as_str());
        let bytes = self
            .transport
            .send("PUT", &path, Some(wire::json(&body)?))
            .await?;
        let response: wire::HmacResponse = wire::parse(&bytes)?;
        response
            .hmac
            .as_slice()
            .try_into()
            .map_err(|_| protocol_error("HMAC is not 32 bytes"))
    }

    /// Describes a policy.
    pub async fn describe_policy(&self, name: &str) -> Result<PolicyInfo, Error> {
        let info: wire::PolicyInfo = self
            .transport
            .get_json(&join("/v1/policy/describe/", name))
            .await?;
        Ok(info.into())
    }

    /// Reads a policy with its allow and deny patterns.
    pub async fn get_policy(&self, name: &str) -> Result<PolicyInfo, Error> {
        let info: wire::PolicyInfo = self
            .transport
            .get_json(&join("/v1/policy/read/", name))
            .await?;
        Ok(info.into())
    }

    /// Lists policy names matching a pattern.
    pub async fn list_policies(&self, pattern: &str) -> Result<Vec<String>, Error> {
        let list: wire::PolicyNames = self
            .transport
            .get_json(&join("/v1/policy/list/", pattern))
            .await?;
        Ok(list.names)
    }

    /// Describes an identity.
    pub async fn describe_identity(&self, identity: &str) -> Result<IdentityInfo, Error> {
        let info: wire::IdentityInfo = self
            .transport
            .get_json(&join("/v1/identity/describe/", identity))
            .await?;
        Ok(info.into_info().0)
    }

    /// Lists identities matching a pattern.
    pub async fn list_identities(&self, pattern: &str) -> Result<Vec<String>, Error> {
        let list: wire::IdentityNames = self
            .transport
            .get_json(&join("/v1/identity/list/", pattern))
            .await?;
        Ok(list.identities)
    }

    /// Describes the caller's own identity and policy.
    pub async fn describe_self(&self) -> Result<(IdentityInfo, Policy), Error> {
        let info: wire::IdentityInfo = self
            .transport
            .get_json("/v1/identity/self/describe")
            .await?;
        Ok(info.into_info())
    }

    /// Subscribes to the audit log: one JSON line per request the server handles.
    pub async fn audit_log(&self) -> Result<LogStream, Error> {
        self.transport.stream("/v1/log/audit").await
    }

    /// Subscribes to the error log.
    pub async fn error_log(&self) -> Result<LogStream, Error> {
        self.transport.stream("/v1/log/error").await
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.transport.endpoints())
            .finish_non_exhaustive()
    }
}

/// A live log stream: one JSON object per line.
pub struct LogStream {
    body: hyper::body::Incoming,
    buffer: Vec<u8>,
}

impl LogStream {
    /// The next event line (without its newline); `None` when the server closed the stream.
    pub async fn next_line(&mut self) -> Result<Option<String>, Error> {
        use http_body_util::BodyExt;

        /// A line longer than this is not a log event; stop rather than buffer without bound.
        const MAX_LINE: usize = 1 << 20;
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).take(end).collect();
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            if self.buffer.len() > MAX_LINE {
                return Err(protocol_error("log line longer than 1 MiB"));
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(err)) => return Err(transport::body_error("log stream", &err)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}

impl fmt::Debug for LogStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogStream").finish_non_exhaustive()
    }
}

/// Joins a route and an argument the way the Go client does (`url.PathEscape` of the argument).
fn join(route: &str, argument: &str) -> String {
    let mut path = String::with_capacity(route.len() + argument.len());
    path.push_str(route);
    for b in argument.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            path.push(char::from(b));
        } else {
            path.push_str(&format!("%{b:02X}"));
        }
    }
    path
}

fn protocol_error(reason: &'static str) -> Error {
    Error::Protocol(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_escaped_like_go_path_escape() {
        assert_eq!(join("/v1/key/list/", "my*"), "/v1/key/list/my%2A");
        assert_eq!(join("/v1/key/list/", ""), "/v1/key/list/");
        assert_eq!(join("/v1/key/create/", "a_b-C"), "/v1/key/create/a_b-C");
        assert_eq!(join("/v1/key/create/", "../x"), "/v1/key/create/..%2Fx");
    }

    #[test]
    fn base64_helper_is_used_for_bytes() {
        assert_eq!(wire::b64(b"\x00\x01"), "AAE=");
    }
}
