//! The fake's state and request handling.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

use crate::{CLIENT_SECRET, IDENTITY_HEADER, LOGIN_HOST, VAULT_HOST};

const API_VERSION: &str = "2025-07-01";
/// GA versions the fake accepts: kesrs pins 2025-07-01; Go KES's SDK sends 7.5; Python's 7.6 or newer.
const API_VERSIONS: [&str; 3] = ["7.5", "7.6", API_VERSION];
/// The challenge resource: a parent domain of [`VAULT_HOST`], as Azure's `vault.azure.net` is.
const RESOURCE: &str = "https://localhost";
const PAGE: usize = 25;
/// What Entra ID says about a wrong client secret (the first line of its `error_description`).
pub const INVALID_SECRET_DESCRIPTION: &str = "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app 'kesrs-tests'.";
const TRACE_ID: &str = "0d1f5a3e-4b7c-4c1e-9f00-6a2b3c4d5e6f";
const CORRELATION_ID: &str = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b";

/// A kind of request, for counting and for denying permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// Entra ID token request.
    Token,
    /// Managed-identity token request.
    ManagedIdentity,
    /// A vault request without a valid token, answered with a 401 challenge.
    Challenge,
    /// GET of the vault root (kesrs's status probe).
    Probe,
    /// GET of a secret (permission `get`).
    Get,
    /// GET of a secret's versions (permission `list`).
    Versions,
    /// GET of all secrets (permission `list`).
    List,
    /// PUT of a secret (permission `set`).
    Set,
    /// PATCH of a secret version's attributes or tags (permission `set`).
    Update,
    /// DELETE of a secret (permission `delete`).
    Delete,
    /// GET of a deleted secret (permission `get`).
    GetDeleted,
    /// DELETE of a deleted secret (permission `purge`).
    Purge,
}

impl Op {
    fn permission(self) -> Op {
        match self {
            Op::Versions => Op::List,
            Op::GetDeleted => Op::Get,
            Op::Update => Op::Set,
            op => op,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Op::Token => "token",
            Op::ManagedIdentity => "managed-identity",
            Op::Challenge => "challenge",
            Op::Probe => "probe",
            Op::Get => "get",
            Op::Versions => "versions",
            Op::List => "list",
            Op::Set => "set",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::GetDeleted => "get-deleted",
            Op::Purge => "purge",
        }
    }

    fn from_name(name: &str) -> Option<Op> {
        ALL_OPS.iter().copied().find(|op| op.name() == name)
    }
}

const ALL_OPS: [Op; 12] = [
    Op::Token,
    Op::ManagedIdentity,
    Op::Challenge,
    Op::Probe,
    Op::Get,
    Op::Versions,
    Op::List,
    Op::Set,
    Op::Update,
    Op::Delete,
    Op::GetDeleted,
    Op::Purge,
];

#[derive(Debug, Clone)]
pub(crate) struct Faults {
    pub(crate) throttle: u32,
    pub(crate) retry_after: u64,
    pub(crate) fail: u32,
    pub(crate) fail_status: u16,
    pub(crate) deny: Vec<Op>,
    pub(crate) delay: Duration,
    pub(crate) outage: bool,
    pub(crate) delete_lag: Duration,
    pub(crate) purge_protection: bool,
    pub(crate) token_lifetime: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            throttle: 0,
            retry_after: 0,
            fail: 0,
            fail_status: 503,
            deny: Vec::new(),
            delay: Duration::ZERO,
            outage: false,
            delete_lag: Duration::ZERO,
            purge_protection: false,
            token_lifetime: Duration::from_secs(3600),
        }
    }
}

/// One stored version of a secret, as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// The version ID (32 hex digits).
    pub id: String,
    /// The stored value.
    pub value: String,
    /// Creation time, Unix seconds (Key Vault's resolution).
    pub created: i64,
    /// Whether the version is enabled.
    pub enabled: bool,
}

#[derive(Debug, Clone)]
struct Version {
    id: String,
    value: String,
    created: i64,
    enabled: Option<bool>,
    not_before: Option<i64>,
    expires: Option<i64>,
    tags: Value,
}

#[derive(Debug, Clone)]
struct Secret {
    /// The name as first created; Key Vault keeps it, whatever case later requests use.
    name: String,
    versions: Vec<Version>,
}

#[derive(Debug)]
struct Deleted {
    secret: Secret,
    deleted: i64,
    /// Until then the deletion is "in progress".
    ready_at: Instant,
}

#[derive(Debug, Default)]
struct Vault {
    secrets: BTreeMap<String, Secret>,
    deleted: BTreeMap<String, Deleted>,
    tokens: HashMap<String, Instant>,
    next_token: u64,
    counts: HashMap<Op, u64>,
    faults: Faults,
}

#[derive(Debug)]
pub(crate) struct State {
    port: u16,
    vault: Mutex<Vault>,
    /// Set requests held until a number of them have arrived (see `hold_sets`).
    held_sets: Mutex<Option<HeldSets>>,
}

/// The next `remaining` set requests wait at `barrier` for each other.
#[derive(Debug)]
struct HeldSets {
    barrier: Arc<tokio::sync::Barrier>,
    remaining: usize,
}

/// The longest a held set waits for the others, so that a test that sends too few cannot hang.
const HOLD_AT_MOST: Duration = Duration::from_secs(5);

type Reply = Response<Full<Bytes>>;

impl State {
    pub(crate) fn new(port: u16) -> Self {
        Self {
            port,
            vault: Mutex::new(Vault::default()),
            held_sets: Mutex::new(None),
        }
    }

    pub(crate) fn hold_sets(&self, count: usize) {
        let held = (count > 1).then(|| HeldSets {
            barrier: Arc::new(tokio::sync::Barrier::new(count)),
            remaining: count,
        });
        *self.held_sets.lock().unwrap_or_else(|e| e.into_inner()) = held;
    }

    /// Waits, if this set request is one of those held, until all of them have arrived.
    async fn wait_for_held_sets(&self) {
        let barrier = {
            let mut held = self.held_sets.lock().unwrap_or_else(|e| e.into_inner());
            let Some(sets) = held.as_mut() else {
                return;
            };
            sets.remaining -= 1;
            let barrier = Arc::clone(&sets.barrier);
            if sets.remaining == 0 {
                *held = None;
            }
            barrier
        };
        let _ = tokio::time::timeout(HOLD_AT_MOST, barrier.wait()).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vault> {
        self.vault.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn count(&self, op: Op) -> u64 {
        self.lock().counts.get(&op).copied().unwrap_or(0)
    }

    pub(crate) fn reset_counts(&self) {
        self.lock().counts.clear();
    }

    pub(crate) fn faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.lock().faults);
    }

    pub(crate) fn insert(&self, name: &str, value: &str) {
        let mut vault = self.lock();
        let version = new_version(value.to_owned(), &json!({}), None, None, None);
        vault
            .secrets
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| Secret {
                name: name.to_owned(),
                versions: Vec::new(),
            })
            .versions
            .push(version);
    }

    pub(crate) fn insert_version(&self, name: &str, value: &str, id: &str, created: i64) {
        let mut vault = self.lock();
        let mut version = new_version(value.to_owned(), &json!({}), None, None, None);
        version.id = id.to_owned();
        version.created = created;
        vault
            .secrets
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| Secret {
                name: name.to_owned(),
                versions: Vec::new(),
            })
            .versions
            .push(version);
    }

    pub(crate) fn versions(&self, name: &str) -> Vec<VersionInfo> {
        let vault = self.lock();
        let Some(secret) = vault.secrets.get(&name.to_ascii_lowercase()) else {
            return Vec::new();
        };
        secret
            .versions
            .iter()
            .map(|v| VersionInfo {
                id: v.id.clone(),
                value: v.value.clone(),
                created: v.created,
                enabled: v.enabled != Some(false),
            })
            .collect()
    }

    pub(crate) fn set_attributes(
        &self,
        name: &str,
        enabled: Option<bool>,
        not_before: Option<i64>,
        expires: Option<i64>,
    ) {
        let mut vault = self.lock();
        if let Some(version) = vault
            .secrets
            .get_mut(&name.to_ascii_lowercase())
            .and_then(|s| s.versions.last_mut())
        {
            version.enabled = enabled;
            version.not_before = not_before;
            version.expires = expires;
        }
    }

    pub(crate) fn secret(&self, name: &str) -> Option<(Vec<String>, Value)> {
        let vault = self.lock();
        let secret = vault.secrets.get(&name.to_ascii_lowercase())?;
        let values = secret.versions.iter().map(|v| v.value.clone()).collect();
        let tags = secret
            .versions
            .last()
            .map(|v| v.tags.clone())
            .unwrap_or(Value::Null);
        Some((values, tags))
    }

    pub(crate) fn is_soft_deleted(&self, name: &str) -> bool {
        self.lock().deleted.contains_key(&name.to_ascii_lowercase())
    }

    pub(crate) async fn handle(
        &self,
        request: Request<hyper::body::Incoming>,
    ) -> Result<Reply, std::io::Error> {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path().to_owned();
        let query: HashMap<String, String> = parts
            .uri
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        let body = body
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes();

        if let Some(admin) = path.strip_prefix("/_fake/") {
            return Ok(self.admin(admin, &query));
        }
        let faults = self.lock().faults.clone();
        if faults.outage {
            // Closing the connection without an answer: the client sees a transport error.
            return Err(std::io::Error::other("fake outage"));
        }

        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (&parts.method, segments.as_slice()) {
            (&Method::POST, [_tenant, "oauth2", "v2.0", "token"]) => Ok(self.token(&body)),
            (&Method::GET, ["msi", "token"]) => {
                let header = parts
                    .headers
                    .get("x-identity-header")
                    .and_then(|v| v.to_str().ok());
                Ok(self.managed_identity(header, &query))
            }
            _ => {
                let authorization = parts
                    .headers
                    .get(http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                Ok(self
                    .vault(
                        &parts.method,
                        &segments,
                        &query,
                        authorization,
                        &body,
                        &faults,
                    )
                    .await)
            }
        }
    }

    fn admin(&self, what: &str, query: &HashMap<String, String>) -> Reply {
        let number = |key: &str| query.get(key).and_then(|v| v.parse::<u64>().ok());
        let op = query.get("op").and_then(|op| Op::from_name(op));
        let mut vault = self.lock();
        let faults = &mut vault.faults;
        match what {
            "throttle" => {
                faults.throttle = number("count").unwrap_or(1) as u32;
                faults.retry_after = number("retry_after").unwrap_or(1);
            }
            "fail" => {
                faults.fail = number("count").unwrap_or(1) as u32;
                faults.fail_status = number("status").unwrap_or(503) as u16;
            }
            "deny" => match op {
                Some(op) => faults.deny.push(op),
                None => return reply(StatusCode::BAD_REQUEST, json!({"error": "unknown op"})),
            },
            "delay" => faults.delay = Duration::from_millis(number("ms").unwrap_or(0)),
            "outage" => faults.outage = number("on").unwrap_or(1) != 0,
            "delete_lag" => faults.delete_lag = Duration::from_millis(number("ms").unwrap_or(0)),
            "clear" => *faults = Faults::default(),
            "counts" => {}
            _ => {
                return reply(
                    StatusCode::NOT_FOUND,
                    json!({"error": "unknown admin route"}),
                )
            }
        }
        let counts: serde_json::Map<String, Value> = ALL_OPS
            .iter()
            .map(|op| {
                (
                    op.name().to_owned(),
                    json!(vault.counts.get(op).copied().unwrap_or(0)),
                )
            })
            .collect();
        reply(StatusCode::OK, Value::Object(counts))
    }

    fn token(&self, body: &[u8]) -> Reply {
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        let field = |key: &str| form.get(key).map(String::as_str).unwrap_or("");
        let secret_ok = field("client_secret") == CLIENT_SECRET;
        let assertion_ok = field("client_assertion_type")
            == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            && !field("client_assertion").is_empty();
        if field("grant_type") != "client_credentials" || !field("scope").ends_with("/.default") {
            return reply(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_scope", "error_description": "AADSTS70011: invalid scope",
                       "error_codes": [70011]}),
            );
        }
        if !secret_ok && !assertion_ok {
            // Entra's exact shape: the description holds CR LF line breaks (escaped in JSON), which
            // is what the Rust SDK fails to parse into a borrowed string.
            return reply(
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_client",
                       "error_description": format!("{INVALID_SECRET_DESCRIPTION}\r\nTrace ID: {TRACE_ID}\r\nCorrelation ID: {CORRELATION_ID}\r\nTimestamp: 2026-12-01 10:00:00Z"),
                       "error_codes": [7000215],
                       "timestamp": "2026-12-01 10:00:00Z",
                       "trace_id": TRACE_ID,
                       "correlation_id": CORRELATION_ID,
                       "error_uri": format!("https://{LOGIN_HOST}/error?code=7000215")}),
            );
        }
        let (token, lifetime) = self.issue(Op::Token);
        reply(
            StatusCode::OK,
            json!({"token_type": "Bearer", "expires_in": lifetime.as_secs(),
                   "ext_expires_in": lifetime.as_secs(), "access_token": token}),
        )
    }

    fn managed_identity(&self, header: Option<&str>, query: &HashMap<String, String>) -> Reply {
        if header != Some(IDENTITY_HEADER)
            || query.get("resource").map(String::as_str) != Some(RESOURCE)
        {
            return reply(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_request", "error_description": "bad identity header or resource"}),
            );
        }
        let (token, lifetime) = self.issue(Op::ManagedIdentity);
        let expires_on = now() + lifetime.as_secs() as i64;
        reply(
            StatusCode::OK,
            json!({"access_token": token, "expires_on": expires_on.to_string(),
                   "resource": RESOURCE, "token_type": "Bearer",
                   "client_id": query.get("client_id")}),
        )
    }

    fn issue(&self, op: Op) -> (String, Duration) {
        let mut vault = self.lock();
        vault.next_token += 1;
        let token = format!("fake-token-{}", vault.next_token);
        let lifetime = vault.faults.token_lifetime;
        vault
            .tokens
            .insert(token.clone(), Instant::now() + lifetime);
        *vault.counts.entry(op).or_default() += 1;
        (token, lifetime)
    }

    async fn vault(
        &self,
        method: &Method,
        segments: &[&str],
        query: &HashMap<String, String>,
        authorization: Option<&str>,
        body: &[u8],
        faults: &Faults,
    ) -> Reply {
        let op = match (method, segments) {
            (&Method::GET, [""]) => Op::Probe,
            (&Method::GET, ["secrets"]) => Op::List,
            (&Method::GET, ["secrets", _, "versions"]) => Op::Versions,
            (&Method::GET, ["secrets", _]) | (&Method::GET, ["secrets", _, _]) => Op::Get,
            (&Method::PUT, ["secrets", _]) => Op::Set,
            (&Method::PATCH, ["secrets", _, _]) => Op::Update,
            (&Method::DELETE, ["secrets", _]) => Op::Delete,
            (&Method::GET, ["deletedsecrets", _]) => Op::GetDeleted,
            (&Method::DELETE, ["deletedsecrets", _]) => Op::Purge,
            _ => return error(StatusCode::NOT_FOUND, "NotFound", None, "no such route"),
        };
        let token = authorization.and_then(|a| a.strip_prefix("Bearer "));
        // The status probe is unauthenticated; it is counted as a probe, not as a challenge.
        let valid = op != Op::Probe
            && token.is_some_and(|t| {
                self.lock()
                    .tokens
                    .get(t)
                    .is_some_and(|expiry| *expiry > Instant::now())
            });
        if !valid {
            self.bump(if op == Op::Probe {
                Op::Probe
            } else {
                Op::Challenge
            });
            let challenge = format!(
                "Bearer authorization=\"https://{LOGIN_HOST}:{}/fake-tenant\", resource=\"{RESOURCE}\"",
                self.port
            );
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                None,
                "AKV10000: Request is missing a Bearer or PoP token.",
            );
            if let Ok(value) = http::HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(http::header::WWW_AUTHENTICATE, value);
            }
            return response;
        }
        self.bump(op);
        if !query
            .get("api-version")
            .is_some_and(|v| API_VERSIONS.contains(&v.as_str()))
        {
            return error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                None,
                "The specified version is not recognized.",
            );
        }
        if !faults.delay.is_zero() {
            tokio::time::sleep(faults.delay).await;
        }
        if let Some(response) = self.injected(op) {
            return response;
        }
        let name = segments.get(1).copied().unwrap_or("");
        if op != Op::List && !valid_secret_name(name) {
            return error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                None,
                &format!("The request URI contains an invalid name: {name}"),
            );
        }
        if op == Op::Set {
            self.wait_for_held_sets().await;
        }
        let page = |key: &str| query.get(key).and_then(|v| v.parse::<usize>().ok());
        let mut vault = self.lock();
        match op {
            Op::List => vault.list(self.port, page("maxresults"), page("$skiptoken")),
            Op::Versions => vault.versions(self.port, name, page("maxresults"), page("$skiptoken")),
            Op::Get => vault.get(
                self.port,
                name,
                segments.get(2).copied().filter(|v| !v.is_empty()),
            ),
            Op::Set => vault.set(self.port, name, body),
            Op::Update => vault.update(self.port, name, segments.get(2).copied(), body),
            Op::Delete => vault.delete(self.port, name),
            Op::GetDeleted => vault.get_deleted(self.port, name),
            Op::Purge => vault.purge(name),
            _ => error(StatusCode::NOT_FOUND, "NotFound", None, "no such route"),
        }
    }

    fn bump(&self, op: Op) {
        *self.lock().counts.entry(op).or_default() += 1;
    }

    /// A throttle, server error or denial that is due, if any.
    fn injected(&self, op: Op) -> Option<Reply> {
        let mut vault = self.lock();
        let faults = &mut vault.faults;
        if faults.throttle > 0 {
            faults.throttle -= 1;
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "Throttled",
                None,
                "Request was not processed because too many requests were received.",
            );
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, faults.retry_after.into());
            return Some(response);
        }
        if faults.fail > 0 {
            faults.fail -= 1;
            let status =
                StatusCode::from_u16(faults.fail_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return Some(error(
                status,
                "ServiceUnavailable",
                None,
                "injected failure",
            ));
        }
        if faults.deny.contains(&op.permission()) {
            return Some(error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                Some("ForbiddenByPolicy"),
                &format!(
                    "The user, group or application 'appid=fake' does not have secrets {} permission on key vault 'fake'.",
                    op.permission().name()
                ),
            ));
        }
        if op == Op::Purge && faults.purge_protection {
            return Some(error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                Some("ForbiddenByPolicy"),
                "Operation \"purge\" is not enabled for this vault.",
            ));
        }
        None
    }
}

impl Vault {
    fn list(&self, port: u16, max: Option<usize>, skip: Option<usize>) -> Reply {
        let items: Vec<Value> = self
            .secrets
            .values()
            .filter_map(|s| {
                s.versions
                    .last()
                    .map(|v| properties(port, &s.name, v, false, false))
            })
            .collect();
        paged(port, "/secrets", items, max, skip)
    }

    fn versions(&self, port: u16, name: &str, max: Option<usize>, skip: Option<usize>) -> Reply {
        // Azure lists the versions of a missing secret as an empty list.
        let items: Vec<Value> = self
            .secrets
            .get(&name.to_ascii_lowercase())
            .map(|s| {
                s.versions
                    .iter()
                    .map(|v| properties(port, &s.name, v, true, false))
                    .collect()
            })
            .unwrap_or_default();
        paged(port, &format!("/secrets/{name}/versions"), items, max, skip)
    }

    fn get(&self, port: u16, name: &str, version: Option<&str>) -> Reply {
        let Some(secret) = self.secrets.get(&name.to_ascii_lowercase()) else {
            return not_found(name);
        };
        let found = match version {
            Some(version) => secret.versions.iter().find(|v| v.id == version),
            None => secret.versions.last(),
        };
        let Some(found) = found else {
            return not_found(name);
        };
        if found.enabled == Some(false) {
            return error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                Some("SecretDisabled"),
                "Operation get is not allowed on a disabled secret.",
            );
        }
        reply(
            StatusCode::OK,
            properties(port, &secret.name, found, true, true),
        )
    }

    fn set(&mut self, port: u16, name: &str, body: &[u8]) -> Reply {
        let key = name.to_ascii_lowercase();
        if let Some(deleted) = self.deleted.get(&key) {
            return if deleted.ready_at > Instant::now() {
                being_deleted(name)
            } else {
                error(
                    StatusCode::CONFLICT,
                    "Conflict",
                    Some("ObjectIsDeletedButRecoverable"),
                    &format!("Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged."),
                )
            };
        }
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                None,
                "invalid JSON body",
            );
        };
        let Some(value) = body.get("value").and_then(Value::as_str) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                None,
                "missing value",
            );
        };
        let attributes = body.get("attributes");
        let attribute = |key: &str| attributes.and_then(|a| a.get(key));
        let version = new_version(
            value.to_owned(),
            body.get("tags").unwrap_or(&json!({})),
            attribute("enabled").and_then(Value::as_bool),
            attribute("nbf").and_then(Value::as_i64),
            attribute("exp").and_then(Value::as_i64),
        );
        let secret = self.secrets.entry(key).or_insert_with(|| Secret {
            name: name.to_owned(),
            versions: Vec::new(),
        });
        secret.versions.push(version.clone());
        reply(
            StatusCode::OK,
            properties(port, &secret.name, &version, true, true),
        )
    }

    /// PATCH `/secrets/{name}/{version}`: changes the attributes and tags given, keeps the rest, and
    /// answers the version without its value, as Azure does. An empty version is the newest.
    fn update(&mut self, port: u16, name: &str, version: Option<&str>, body: &[u8]) -> Reply {
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                None,
                "invalid JSON body",
            );
        };
        let Some(secret) = self.secrets.get_mut(&name.to_ascii_lowercase()) else {
            return not_found(name);
        };
        let found = match version.filter(|v| !v.is_empty()) {
            Some(version) => secret.versions.iter_mut().find(|v| v.id == version),
            None => secret.versions.last_mut(),
        };
        let Some(found) = found else {
            return not_found(name);
        };
        if let Some(attributes) = body.get("attributes") {
            if let Some(enabled) = attributes.get("enabled").and_then(Value::as_bool) {
                found.enabled = Some(enabled);
            }
            if let Some(nbf) = attributes.get("nbf").and_then(Value::as_i64) {
                found.not_before = Some(nbf);
            }
            if let Some(exp) = attributes.get("exp").and_then(Value::as_i64) {
                found.expires = Some(exp);
            }
        }
        if let Some(tags) = body.get("tags") {
            found.tags = tags.clone();
        }
        reply(
            StatusCode::OK,
            properties(port, &secret.name, found, true, false),
        )
    }

    fn delete(&mut self, port: u16, name: &str) -> Reply {
        let key = name.to_ascii_lowercase();
        let Some(secret) = self.secrets.remove(&key) else {
            return not_found(name);
        };
        let body = deleted_bundle(port, &secret, now());
        self.deleted.insert(
            key,
            Deleted {
                secret,
                deleted: now(),
                ready_at: Instant::now() + self.faults.delete_lag,
            },
        );
        reply(StatusCode::OK, body)
    }

    fn get_deleted(&self, port: u16, name: &str) -> Reply {
        match self.deleted.get(&name.to_ascii_lowercase()) {
            Some(d) if d.ready_at <= Instant::now() => {
                reply(StatusCode::OK, deleted_bundle(port, &d.secret, d.deleted))
            }
            _ => not_found(name),
        }
    }

    fn purge(&mut self, name: &str) -> Reply {
        let key = name.to_ascii_lowercase();
        match self.deleted.get(&key) {
            None => not_found(name),
            Some(d) if d.ready_at > Instant::now() => being_deleted(name),
            Some(_) => {
                self.deleted.remove(&key);
                let mut response = Response::new(Full::new(Bytes::new()));
                *response.status_mut() = StatusCode::NO_CONTENT;
                response
            }
        }
    }
}

fn new_version(
    value: String,
    tags: &Value,
    enabled: Option<bool>,
    not_before: Option<i64>,
    expires: Option<i64>,
) -> Version {
    let mut id = [0u8; 16];
    let _ = getrandom::fill(&mut id);
    Version {
        id: hex::encode(id),
        value,
        created: now(),
        enabled: enabled.or(Some(true)),
        not_before,
        expires,
        tags: tags.clone(),
    }
}

fn properties(port: u16, name: &str, v: &Version, with_version: bool, with_value: bool) -> Value {
    let id = if with_version {
        format!("https://{VAULT_HOST}:{port}/secrets/{name}/{}", v.id)
    } else {
        format!("https://{VAULT_HOST}:{port}/secrets/{name}")
    };
    let mut attributes = json!({
        "enabled": v.enabled.unwrap_or(true),
        "created": v.created,
        "updated": v.created,
        "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90,
    });
    if let Some(object) = attributes.as_object_mut() {
        if let Some(nbf) = v.not_before {
            object.insert("nbf".into(), json!(nbf));
        }
        if let Some(exp) = v.expires {
            object.insert("exp".into(), json!(exp));
        }
    }
    let mut bundle = json!({"id": id, "attributes": attributes, "tags": v.tags});
    if with_value {
        if let Some(object) = bundle.as_object_mut() {
            object.insert("value".into(), json!(v.value));
        }
    }
    bundle
}

fn deleted_bundle(port: u16, secret: &Secret, deleted: i64) -> Value {
    let latest = secret.versions.last();
    json!({
        "recoveryId": format!("https://{VAULT_HOST}:{port}/deletedsecrets/{}", secret.name),
        "deletedDate": deleted,
        "scheduledPurgeDate": deleted + 90 * 86400,
        "id": latest.map(|v| format!("https://{VAULT_HOST}:{port}/secrets/{}/{}", secret.name, v.id)),
        "tags": latest.map(|v| v.tags.clone()),
        "attributes": {"enabled": true, "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
    })
}

fn paged(
    port: u16,
    path: &str,
    items: Vec<Value>,
    max: Option<usize>,
    skip: Option<usize>,
) -> Reply {
    let max = max.unwrap_or(PAGE).clamp(1, PAGE);
    let skip = skip.unwrap_or(0);
    let page: Vec<Value> = items.iter().skip(skip).take(max).cloned().collect();
    let next = (skip + max < items.len()).then(|| {
        format!(
            "https://{VAULT_HOST}:{port}{path}?api-version={API_VERSION}&$skiptoken={}&maxresults={max}",
            skip + max
        )
    });
    reply(StatusCode::OK, json!({"value": page, "nextLink": next}))
}

fn valid_secret_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn not_found(name: &str) -> Reply {
    error(
        StatusCode::NOT_FOUND,
        "SecretNotFound",
        None,
        &format!("A secret with (name/id) {name} was not found in this key vault."),
    )
}

fn being_deleted(name: &str) -> Reply {
    error(
        StatusCode::CONFLICT,
        "Conflict",
        Some("ObjectIsBeingDeleted"),
        &format!("Secret {name} is currently being deleted."),
    )
}

fn error(status: StatusCode, code: &str, inner: Option<&str>, message: &str) -> Reply {
    let mut body = json!({"error": {"code": code, "message": message}});
    if let (Some(inner), Some(error)) =
        (inner, body.get_mut("error").and_then(Value::as_object_mut))
    {
        error.insert("innererror".into(), json!({"code": inner}));
    }
    reply(status, body)
}

fn reply(status: StatusCode, body: Value) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
