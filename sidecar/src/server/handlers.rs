//! One small handler per route: parse a typed request, call `Kms`, shape KES's response
//! (kes-protocol.md 2.3). Authentication already happened; nothing here holds a lock across an await.

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use hyper::body::Incoming;

use kesrs_core::{Identity, KeyName, Pattern};

use super::api_error::ApiError;
use super::body::{self, Fields};
use super::connection_threads;
use super::gojson::{self, Object};
use super::metrics::{self, Process};
use super::response::{self, Response};
use super::routes::{RouteId, ROUTES};
use super::state::{Shared, State};

/// The server version `/version` and `/v1/status` report.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit the binary was built from, if the build set `KESRS_COMMIT`.
const COMMIT: &str = match option_env!("KESRS_COMMIT") {
    Some(commit) => commit,
    None => "<unknown>",
};

/// What a handler gets: the state it runs against, the caller and the request's resource and body.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub(crate) state: Arc<State>,
    pub(crate) shared: Arc<Shared>,
    /// The caller's identity, if the route computed one.
    pub(crate) caller: Option<Identity>,
    /// The percent-decoded path after the route's path.
    pub(crate) resource: String,
    /// Borrowed: what a handler leaves unread is drained before the answer (`body::drain`).
    pub(crate) body: &'a mut Incoming,
    /// The route's body limit.
    pub(crate) max_body: u64,
}

impl Request<'_> {
    /// The body's effective length as KES computes it: the Content-Length, capped at the route's
    /// limit; an unknown length (chunked) counts as the limit.
    fn effective_length(&self) -> u64 {
        let hint = http_body::Body::size_hint(&self.body);
        hint.exact()
            .map_or(self.max_body, |len| len.min(self.max_body))
    }

    /// Reads and decodes the JSON body; any failure (too large, malformed) is `bad`.
    async fn fields(self, schema: body::Schema, bad: ApiError) -> Result<(Fields, Ctx), ApiError> {
        let Self {
            state,
            shared,
            caller,
            resource,
            body,
            max_body,
        } = self;
        let ctx = Ctx {
            state,
            shared,
            caller,
            resource,
        };
        let Ok(bytes) = body::read_limited(body, max_body).await else {
            return Err(bad);
        };
        let fields = Fields::parse(&bytes, schema).map_err(|_| bad)?;
        Ok((fields, ctx))
    }

    fn key_name(&self) -> Result<KeyName, ApiError> {
        Ok(KeyName::new(&self.resource)?)
    }

    fn ctx(self) -> Ctx {
        Ctx {
            state: self.state,
            shared: self.shared,
            caller: self.caller,
            resource: self.resource,
        }
    }
}

/// A request whose body has been consumed.
struct Ctx {
    state: Arc<State>,
    shared: Arc<Shared>,
    caller: Option<Identity>,
    resource: String,
}

/// Runs the handler of `route`.
pub(crate) async fn handle(route: RouteId, req: Request<'_>) -> Result<Response, ApiError> {
    match route {
        RouteId::Version => Ok(version()),
        RouteId::Ready => ready(req.ctx()).await,
        RouteId::Status => Ok(status(req.ctx()).await),
        RouteId::Metrics => Ok(metrics(&req.ctx()).await),
        RouteId::Api => Ok(api(&req.ctx())),
        RouteId::KeyCreate => create_key(req).await,
        RouteId::KeyImport => import_key(req).await,
        RouteId::KeyDescribe => describe_key(req).await,
        RouteId::KeyList => list_keys(req.ctx()).await,
        RouteId::KeyDelete => delete_key(req).await,
        RouteId::KeyGenerate => generate_key(req).await,
        RouteId::KeyEncrypt => encrypt(req).await,
        RouteId::KeyDecrypt => decrypt(req).await,
        RouteId::KeyHmac => hmac(req).await,
        RouteId::PolicyDescribe => describe_policy(&req.ctx()),
        RouteId::PolicyRead => read_policy(&req.ctx()),
        RouteId::PolicyList => list_policies(&req.ctx()),
        RouteId::IdentityDescribe => describe_identity(&req.ctx()),
        RouteId::IdentityList => list_identities(&req.ctx()),
        RouteId::SelfDescribe => describe_self(&req.ctx()),
        RouteId::LogError => {
            let ctx = req.ctx();
            Ok(ctx.shared.logs.error_stream(ctx.shared.shutdown.clone()))
        }
        RouteId::LogAudit => {
            let ctx = req.ctx();
            Ok(ctx.shared.logs.audit_stream(ctx.shared.shutdown.clone()))
        }
    }
}

fn version() -> Response {
    response::json(
        Object::new()
            .str("version", VERSION)
            .str("commit", COMMIT)
            .finish_line(),
    )
}

async fn ready(ctx: Ctx) -> Result<Response, ApiError> {
    ctx.state.kms.status().await?;
    Ok(response::empty(StatusCode::OK))
}

async fn status(ctx: Ctx) -> Response {
    let store = ctx.state.kms.status().await;
    let proc_status = metrics::ProcStatus::read();
    let mut json = Object::new()
        .str("version", VERSION)
        .str("os", go_os())
        .str("arch", go_arch())
        .int("uptime", metrics::uptime_secs(ctx.shared.started))
        .int("num_cpu", connection_threads::machine_cpus())
        .int("num_cpu_used", connection_threads::count())
        .int("mem_heap_used", proc_status.heap_bytes)
        .int("mem_stack_used", proc_status.stack_bytes);
    match store {
        // Nanoseconds, as the Go client decodes it (decisions.md); omitempty never hides a real probe.
        Ok(status) => json = json.int("keystore_latency", status.latency.as_nanos().max(1)),
        // Both flags: the Go client rejects `unreachable` without `unavailable` (decisions.md).
        Err(_) => {
            json = json
                .bool("keystore_unreachable", true)
                .bool("keystore_unavailable", true);
        }
    }
    response::json(json.finish_line())
}

async fn metrics(ctx: &Ctx) -> Response {
    let shared = &ctx.shared;
    // Bounded, so that a hung key store cannot stall the scrape; the route's own deadline is longer.
    let probe = tokio::time::timeout(std::time::Duration::from_secs(5), ctx.state.kms.status());
    let keystore_latency = match probe.await {
        Ok(Ok(status)) => Some(status.latency),
        _ => None,
    };
    let process = Process {
        started: shared.started,
        start_unix: shared.started_at.unix_timestamp_nanos() as f64 / 1e9,
        audit_events: shared
            .logs
            .audit_events
            .load(std::sync::atomic::Ordering::Relaxed),
        error_events: shared
            .logs
            .error_events
            .load(std::sync::atomic::Ordering::Relaxed),
        cert_not_after: ctx
            .state
            .cert_not_after
            .map(|t| t.unix_timestamp_nanos() as f64 / 1e9),
        keystore_latency,
    };
    let text = shared.metrics.render(&process);
    response::with_body(StatusCode::OK, metrics::CONTENT_TYPE, Bytes::from(text))
}

fn api(ctx: &Ctx) -> Response {
    let mut body = String::from("[");
    for (i, route) in ROUTES.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        let timeout = ctx.state.route(route).timeout.as_secs();
        body.push_str(
            &Object::new()
                .str("method", route.method.as_str())
                .str("path", route.path)
                .int("max_body", route.max_body)
                .int("timeout", timeout)
                .finish(),
        );
    }
    body.push_str("]\n");
    response::json(body)
}

async fn create_key(req: Request<'_>) -> Result<Response, ApiError> {
    let name = req.key_name()?;
    req.state.kms.create_key(&name, req.caller.as_ref()).await?;
    Ok(response::empty(StatusCode::OK))
}

async fn import_key(req: Request<'_>) -> Result<Response, ApiError> {
    let name = req.key_name()?;
    let (fields, ctx) = req
        .fields(body::IMPORT, ApiError::InvalidImportBody)
        .await?;
    let (key, cipher) = (fields.bytes("key"), fields.string("cipher"));
    ctx.state
        .kms
        .import_key(&name, key, cipher, ctx.caller.as_ref())
        .await?;
    Ok(response::empty(StatusCode::OK))
}

async fn describe_key(req: Request<'_>) -> Result<Response, ApiError> {
    let name = req.key_name()?;
    let info = req.state.kms.describe_key(&name).await?;
    let created_by = info.created_by.unwrap_or_default();
    Ok(response::json(
        Object::new()
            .str("name", info.name.as_str())
            .str("algorithm", info.algorithm.as_str())
            .str("created_at", &kesrs_core::rfc3339(&info.created_at))
            .str_omitempty("created_by", &created_by)
            .finish_line(),
    ))
}

async fn list_keys(ctx: Ctx) -> Result<Response, ApiError> {
    let pattern = Pattern::new(&ctx.resource)?;
    let list = ctx.state.kms.list_keys(&pattern).await?;
    Ok(response::json(
        Object::new()
            .strings("names", list.names.iter().map(String::as_str))
            .str_omitempty(
                "continue_at",
                list.continue_at.as_deref().unwrap_or_default(),
            )
            .finish_line(),
    ))
}

async fn delete_key(req: Request<'_>) -> Result<Response, ApiError> {
    let name = req.key_name()?;
    req.state.kms.delete_key(&name).await?;
    Ok(response::empty(StatusCode::OK))
}

async fn generate_key(req: Request<'_>) -> Result<Response, ApiError> {
    let name = req.key_name()?;
    // KES parses the body only when its effective length is positive: an empty body means no context.
    let (fields, ctx) = if req.effective_length() > 0 {
        let (fields, ctx) = req.fields(body::GENERATE, ApiError::InvalidBody).await?;
        (Some(fields), ctx)
    } else {
        (None, req.ctx())
    };
    let context = fields.as_ref().map_or(&[][..], |f| f.bytes("context"));
    let key = ctx.state.kms.generate_key(&name, context).await?;
    Ok(response::secret_json(gojson::secret_line(&[
        ("plaintext", key.plaintext()),
        ("ciphertext", key.ciphertext()),
    ])))
}

async fn encrypt(req: Request<'_>) -> Result<Response, ApiError> {
    let name = req.key_name()?;
    let (fields, ctx) = req.fields(body::ENCRYPT, ApiError::InvalidBody).await?;
    let (plaintext, context) = (fields.bytes("plaintext"), fields.bytes("context"));
    let ciphertext = ctx.state.kms.encrypt(&name, plaintext, context).await?;
    Ok(response::json(
        Object::new().bytes("ciphertext", &ciphertext).finish_line(),
    ))
}

async fn decrypt(req: Request<'_>) -> Result<Response, ApiError> {
    let name = req.key_name()?;
    let (fields, ctx) = req.fields(body::DECRYPT, ApiError::InvalidBody).await?;
    let (ciphertext, context) = (fields.bytes("ciphertext"), fields.bytes("context"));
    let plaintext = ctx.state.kms.decrypt(&name, ciphertext, context).await?;
    Ok(response::secret_json(gojson::secret_line(&[(
        "plaintext",
        &plaintext,
    )])))
}

async fn hmac(req: Request<'_>) -> Result<Response, ApiError> {
    let name = req.key_name()?;
    let (fields, ctx) = req.fields(body::HMAC, ApiError::InvalidBody).await?;
    let mac = ctx.state.kms.hmac(&name, fields.bytes("message")).await?;
    Ok(response::json(
        Object::new().bytes("hmac", &mac).finish_line(),
    ))
}

fn policy_name(ctx: &Ctx) -> Result<&str, ApiError> {
    if kesrs_core::valid_name(&ctx.resource) {
        Ok(&ctx.resource)
    } else {
        Err(kesrs_core::Error::InvalidPolicyName(ctx.resource.clone()).into())
    }
}

fn describe_policy(ctx: &Ctx) -> Result<Response, ApiError> {
    let name = policy_name(ctx)?;
    ctx.state
        .policy(name)
        .ok_or(kesrs_core::Error::PolicyNotFound)?;
    Ok(response::json(
        Object::new()
            .str("name", name)
            .str("created_at", &created_at(ctx))
            .str("created_by", ctx.state.settings.admin.as_str())
            .finish_line(),
    ))
}

fn read_policy(ctx: &Ctx) -> Result<Response, ApiError> {
    let name = policy_name(ctx)?;
    let policy = ctx
        .state
        .policy(name)
        .ok_or(kesrs_core::Error::PolicyNotFound)?;
    Ok(response::json(
        Object::new()
            .str("name", name)
            .set_omitempty("allow", &policy.allow)
            .set_omitempty("deny", &policy.deny)
            .str("created_at", &created_at(ctx))
            .str("created_by", ctx.state.settings.admin.as_str())
            .finish_line(),
    ))
}

fn list_policies(ctx: &Ctx) -> Result<Response, ApiError> {
    let pattern = Pattern::new(&ctx.resource)?;
    let names = sorted(ctx.state.policy_names().filter(|n| pattern.matches(n)));
    Ok(response::json(
        Object::new()
            .strings("names", names)
            .str("continue_at", "")
            .finish_line(),
    ))
}

fn describe_identity(ctx: &Ctx) -> Result<Response, ApiError> {
    if !kesrs_core::valid_name(&ctx.resource) {
        return Err(kesrs_core::Error::InvalidIdentity(ctx.resource.clone()).into());
    }
    let state = &ctx.state;
    if ctx.resource == state.settings.admin.as_str() {
        return Ok(response::json(
            Object::new()
                .bool("admin", true)
                .str("created_at", &created_at(ctx))
                .finish_line(),
        ));
    }
    let policy = state
        .settings
        .policies
        .iter()
        .find(|(_, p)| p.identities.iter().any(|id| id.as_str() == ctx.resource))
        .map(|(name, _)| name.as_str())
        .ok_or(ApiError::IdentityNotFound)?;
    Ok(response::json(
        Object::new()
            .str("policy", policy)
            .str("created_at", &created_at(ctx))
            .str("created_by", state.settings.admin.as_str())
            .finish_line(),
    ))
}

fn list_identities(ctx: &Ctx) -> Result<Response, ApiError> {
    let pattern = Pattern::new(&ctx.resource)?;
    let identities = sorted(ctx.state.identity_names().filter(|n| pattern.matches(n)));
    Ok(response::json(
        Object::new()
            .strings("identities", identities)
            .str("continue_at", "")
            .finish_line(),
    ))
}

/// The caller, in the shape kms-go's `DescribeSelf` parses: the policy's name plus its allow and deny
/// sets at the top level (decisions.md; KES answers 404 to every non-admin here).
fn describe_self(ctx: &Ctx) -> Result<Response, ApiError> {
    let state = &ctx.state;
    let identity = ctx.caller.as_ref().ok_or(ApiError::IdentityNotFound)?;
    if state.is_admin(identity) {
        return Ok(response::json(
            Object::new()
                .str("identity", identity.as_str())
                .bool("admin", true)
                .str("created_at", &created_at(ctx))
                .finish_line(),
        ));
    }
    let (name, policy) = state
        .policy_of(identity)
        .ok_or(ApiError::IdentityNotFound)?;
    Ok(response::json(
        Object::new()
            .str("identity", identity.as_str())
            .str("policy", name)
            .set_omitempty("allow", &policy.allow)
            .set_omitempty("deny", &policy.deny)
            .str("created_at", &created_at(ctx))
            .str("created_by", state.settings.admin.as_str())
            .finish_line(),
    ))
}

/// Policies and identities are "created" when the server started, in its local zone, as in KES.
fn created_at(ctx: &Ctx) -> String {
    kesrs_core::rfc3339(&ctx.shared.started_at)
}

fn sorted<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut names: Vec<&str> = names.collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Go's `runtime.GOOS` for this build.
fn go_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        os => os,
    }
}

/// Go's `runtime.GOARCH` for this build.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "arm" => "arm",
        arch => arch,
    }
}
