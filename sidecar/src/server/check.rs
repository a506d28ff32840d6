//! `kesrs check`: a preflight of a config file, item by item, each with what to do about it.
//!
//! The config parses; every file it names exists; the server certificate matches its key, has the
//! names clients dial and is not about to expire; every policy allows what MinIO calls
//! (shared/spec/minio-client.md 0 and 2); the key store is reachable and the credentials have every
//! permission kesrs uses (tried on a temporary key that is removed again); the `keys:` exist or can
//! be created. `kesrs server` logs the items that need no key-store call at start and on reload.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::sign::CertifiedKey;
use time::OffsetDateTime;
use tracing::{error, info, warn};
use x509_parser::extensions::GeneralName;

use kesrs_core::config::{ClientAuth, KeyStoreConfig};
use kesrs_core::{Config, KeyName, Kms, NameCoverage};

use super::routes::{Auth, ROUTES};
use super::state::Settings;
use super::tls::{self, CertSource, Resumption};

/// How much validity a server certificate must have left by default.
pub(crate) const DEFAULT_MIN_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);

/// The outcome of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Pass,
    /// Worth knowing, but not a fault: does not fail the check.
    Warn,
    Fail,
    /// Not tried because an earlier item failed.
    Skip,
}

/// One checked item: what, how it went, and what to do about it.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub(crate) status: Status,
    pub(crate) item: String,
    pub(crate) message: String,
}

impl Finding {
    fn new(status: Status, item: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            item: item.into(),
            message: message.into(),
        }
    }

    fn pass(item: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Status::Pass, item, message)
    }

    fn warn(item: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Status::Warn, item, message)
    }

    fn fail(item: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Status::Fail, item, message)
    }

    /// Logs the finding as `kesrs server` does: passes at INFO, the rest at WARN.
    pub(crate) fn log(&self) {
        match self.status {
            Status::Pass => info!(check = %self.item, "{}", self.message),
            Status::Warn | Status::Skip => warn!(check = %self.item, "{}", self.message),
            Status::Fail => error!(check = %self.item, "check failed: {}", self.message),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.status {
            Status::Pass => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        };
        write!(f, "[{status:>4}] {}: {}", self.item, self.message)
    }
}

/// What to check beyond the config file itself.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Host names or IPs clients dial (MinIO's `MINIO_KMS_KES_ENDPOINT` hosts): the certificate must
    /// cover each.
    pub(crate) dial: Vec<String>,
    /// Key names MinIO uses (`MINIO_KMS_KES_KEY_NAME`, SSE-KMS key IDs), besides the config's `keys:`.
    pub(crate) keys: Vec<KeyName>,
    /// The policies MinIO's identities use; empty: every policy.
    pub(crate) minio_policies: Vec<String>,
    /// The least validity the server certificate must have left.
    pub(crate) min_validity: Duration,
    /// Whether to try the key store at all.
    pub(crate) key_store: bool,
    /// Set when the server logs the findings: the config file, so that a hint to check a key name
    /// names the `kesrs check` command to run rather than a flag the server does not have.
    pub(crate) server_config: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            dial: Vec::new(),
            keys: Vec::new(),
            minio_policies: Vec::new(),
            min_validity: DEFAULT_MIN_VALIDITY,
            key_store: true,
            server_config: None,
        }
    }
}

/// Whether every finding passed (warnings pass too).
pub(crate) fn all_pass(findings: &[Finding]) -> bool {
    findings
        .iter()
        .all(|f| matches!(f.status, Status::Pass | Status::Warn))
}

/// Runs every item on the config at `path`.
pub(crate) async fn run(path: &Path, options: &Options) -> Vec<Finding> {
    let config = {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || Config::from_file(&path)).await
    };
    let config = match config {
        Ok(Ok(config)) => config,
        Ok(Err(err)) => {
            return vec![Finding::fail(
                "config",
                format!("'{}' is invalid: {err}", path.display()),
            )]
        }
        Err(err) => return vec![Finding::fail("config", err.to_string())],
    };
    let mut findings = vec![Finding::pass(
        "config",
        format!("'{}' parses and is valid", path.display()),
    )];
    let settings = Settings::from_config(config, None);
    findings.extend(static_findings_with(&settings, options));
    if options.key_store {
        findings.extend(key_store(&settings, options).await);
    }
    findings
}

/// The items that read only local files: what `kesrs server` logs at start and on every reload
/// of the config at `config`.
pub(crate) fn static_findings(settings: &Settings, config: &Path) -> Vec<Finding> {
    let options = Options {
        server_config: Some(config.to_owned()),
        ..Options::default()
    };
    static_findings_with(settings, &options)
}

fn static_findings_with(settings: &Settings, options: &Options) -> Vec<Finding> {
    let mut findings = Vec::new();
    files(settings, &mut findings);
    certificate(settings, options, &mut findings);
    if all_pass(&findings) {
        findings.push(tls_builds(settings));
    }
    client_auth(settings, &mut findings);
    policies(settings, options, &mut findings);
    findings
}

/// Every file and directory the config names exists and is of the right kind.
fn files(settings: &Settings, findings: &mut Vec<Finding>) {
    if let CertSource::Files { cert, key, .. } = &settings.tls.cert {
        for (item, path) in [("tls.cert", cert), ("tls.key", key)] {
            findings.push(file(item, path));
        }
    }
    if let Some(ca) = &settings.tls.ca {
        findings.push(match std::fs::metadata(ca) {
            Ok(_) => Finding::pass("tls.ca", format!("'{}' exists", ca.display())),
            Err(err) => Finding::fail(
                "tls.ca",
                format!(
                    "cannot read '{}': {err}; fix the path or remove tls.ca",
                    ca.display()
                ),
            ),
        });
    }
    if let KeyStoreConfig::Fs { path } = &settings.keystore {
        let item = "keystore.fs.path";
        findings.push(match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                Finding::pass(item, format!("'{}' is a directory", path.display()))
            }
            Ok(_) => Finding::fail(item, format!("'{}' is not a directory", path.display())),
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                // kesrs creates the directory and its parents: the nearest existing ancestor must
                // be a directory.
                match path.ancestors().skip(1).find(|a| a.exists()) {
                    Some(ancestor) if !ancestor.as_os_str().is_empty() && !ancestor.is_dir() => {
                        Finding::fail(
                            item,
                            format!(
                                "'{}' cannot be created: '{}' is not a directory",
                                path.display(),
                                ancestor.display()
                            ),
                        )
                    }
                    _ => Finding::pass(
                        item,
                        format!("'{}' does not exist yet; kesrs creates it", path.display()),
                    ),
                }
            }
            Err(err) => Finding::fail(item, format!("cannot read '{}': {err}", path.display())),
        });
    }
}

fn file(item: &str, path: &Path) -> Finding {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Finding::pass(item, format!("'{}' exists", path.display())),
        Ok(_) => Finding::fail(item, format!("'{}' is not a file", path.display())),
        Err(err) => Finding::fail(
            item,
            format!(
                "cannot read '{}': {err}; fix the path in the config",
                path.display()
            ),
        ),
    }
}

/// The server certificate: parses, matches its key, names what clients dial, valid long enough.
fn certificate(settings: &Settings, options: &Options, findings: &mut Vec<Finding>) {
    let (chain, key) = match &settings.tls.cert {
        CertSource::InMemory { chain, key } => (chain.clone(), key.clone_key()),
        CertSource::Files {
            cert,
            key,
            password,
        } => {
            if !cert.is_file() || !key.is_file() {
                return; // Already reported by `files`.
            }
            let chain = match tls::read_certs(cert) {
                Ok(chain) => chain,
                Err(err) => {
                    findings.push(Finding::fail(
                        "tls.cert",
                        format!("{err}; it must hold PEM CERTIFICATE blocks"),
                    ));
                    return;
                }
            };
            let key = match tls::read_key(key, password.as_ref()) {
                Ok(key) => key,
                Err(err) => {
                    findings.push(Finding::fail(
                        "tls.key",
                        format!("{err}; it must hold one PEM private key (encrypted ones need the right tls.password)"),
                    ));
                    return;
                }
            };
            (chain, key)
        }
    };
    let signer = match rustls::crypto::ring::sign::any_supported_type(&key) {
        Ok(signer) => signer,
        Err(err) => {
            findings.push(Finding::fail(
                "tls.key",
                format!(
                    "unsupported private key: {err}; use an ECDSA P-256/P-384, Ed25519 or RSA key"
                ),
            ));
            return;
        }
    };
    findings.push(
        match CertifiedKey::new(chain.clone(), signer).keys_match() {
            Ok(()) => Finding::pass("certificate/key", "the certificate matches the private key"),
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
                Finding::warn(
                    "certificate/key",
                    "cannot tell whether the certificate matches the private key",
                )
            }
            Err(_) => Finding::fail(
                "certificate/key",
                "the certificate does not match the private key: tls.cert and tls.key are from \
                 different pairs (a rotation that replaced only one of them?)",
            ),
        },
    );
    let Some(leaf) = chain.first() else { return };
    leaf_certificate(leaf, options, findings);
}

fn leaf_certificate(leaf: &CertificateDer<'_>, options: &Options, findings: &mut Vec<Finding>) {
    let cert = match x509_parser::parse_x509_certificate(leaf) {
        Ok((_, cert)) => cert,
        Err(err) => {
            findings.push(Finding::fail(
                "certificate",
                format!("the certificate does not parse: {err}"),
            ));
            return;
        }
    };
    // Names.
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(name) => dns.push(name.to_ascii_lowercase()),
                GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                        _ => None,
                    };
                    ips.extend(ip);
                }
                _ => {}
            }
        }
    }
    let names: Vec<String> = dns
        .iter()
        .cloned()
        .chain(ips.iter().map(IpAddr::to_string))
        .collect();
    if names.is_empty() {
        findings.push(Finding::fail(
            "certificate SANs",
            "the certificate has no DNS or IP subject alternative name, which KES and kesrs \
             require; reissue it with the names MinIO dials (kesrs identity new --dns/--ip)",
        ));
    } else if options.dial.is_empty() {
        findings.push(Finding::pass(
            "certificate SANs",
            format!(
                "{}; MinIO's MINIO_KMS_KES_ENDPOINT must use one of these (check with --dial HOST)",
                names.join(", ")
            ),
        ));
    } else {
        for host in &options.dial {
            let covered = match host.parse::<IpAddr>() {
                Ok(ip) => ips.contains(&ip),
                Err(_) => dns.iter().any(|san| dns_matches(san, host)),
            };
            findings.push(if covered {
                Finding::pass(
                    format!("certificate SANs ({host})"),
                    format!("clients dialing '{host}' accept the certificate"),
                )
            } else {
                Finding::fail(
                    format!("certificate SANs ({host})"),
                    format!(
                        "the certificate does not name '{host}' (it names {}): clients dialing \
                         it fail with a certificate name error; reissue it with '{host}' as SAN",
                        names.join(", ")
                    ),
                )
            });
        }
    }
    // Validity.
    let now = OffsetDateTime::now_utc();
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    let expires = kesrs_core::rfc3339(&not_after);
    let left = not_after - now;
    let min = time::Duration::try_from(options.min_validity).unwrap_or(time::Duration::MAX);
    findings.push(if not_before > now {
        Finding::fail(
            "certificate validity",
            format!(
                "the certificate is not valid before {}; check the clock or the certificate",
                kesrs_core::rfc3339(&not_before)
            ),
        )
    } else if left <= time::Duration::ZERO {
        Finding::fail(
            "certificate validity",
            format!("the certificate expired at {expires}; renew it (kesrs reloads it by itself)"),
        )
    } else if left < min {
        Finding::fail(
            "certificate validity",
            format!(
                "the certificate expires at {expires}, in {}h, sooner than the {}h asked for; \
                 renew it",
                left.whole_hours(),
                options.min_validity.as_secs() / 3600
            ),
        )
    } else {
        Finding::pass(
            "certificate validity",
            format!("valid until {expires} ({} days left)", left.whole_days()),
        )
    });
}

/// `host` matches a SAN, with a leading `*.` matching exactly one label.
fn dns_matches(san: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let san = san.trim_end_matches('.');
    match san.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => san == host,
    }
}

/// `tls.auth: on` refuses the self-signed certificates MinIO makes for API keys.
fn client_auth(settings: &Settings, findings: &mut Vec<Finding>) {
    if settings.tls.client_auth == ClientAuth::Verify {
        findings.push(Finding::warn(
            "tls.auth",
            "on: client certificates must chain to the system roots or tls.ca, so MinIO's API-key \
             certificates (MINIO_KMS_KES_API_KEY, self-signed) are refused during the handshake; \
             give MinIO a certificate issued by tls.ca, or set tls.auth: off",
        ));
    }
    if settings.tls.optional_client_cert {
        findings.push(Finding::pass(
            "api skip_auth",
            "some routes skip authentication, so client certificates are optional for every \
             route (as in KES); the other routes still refuse requests without one",
        ));
    }
}

/// One route MinIO calls: method, path, what breaks without it, and whether MinIO can work without.
struct Needed {
    method: &'static str,
    path: String,
    breaks: &'static str,
    /// Without it, encryption itself fails (or MinIO does not start); the others cost a feature.
    required: bool,
}

/// A route MinIO calls with a key name after it.
struct KeyRoute {
    method: &'static str,
    route: &'static str,
    breaks: &'static str,
    required: bool,
}

impl KeyRoute {
    fn for_key(&self, key: &str) -> Needed {
        Needed {
            method: self.method,
            path: format!("{}{key}", self.route),
            breaks: self.breaks,
            required: self.required,
        }
    }
}

/// The routes MinIO calls for its keys (shared/spec/minio-client.md 0 and 2.2).
const KEY_ROUTES: [KeyRoute; 5] = [
    KeyRoute {
        method: "POST",
        route: "/v1/key/generate/",
        breaks: "every SSE-KMS and SSE-S3 write, and MinIO's start-up",
        required: true,
    },
    KeyRoute {
        method: "POST",
        route: "/v1/key/decrypt/",
        breaks: "every read of an encrypted object",
        required: true,
    },
    KeyRoute {
        method: "POST",
        route: "/v1/key/create/",
        breaks: "MinIO's start-up when the key is missing, and mc admin kms key create",
        required: true,
    },
    KeyRoute {
        method: "GET",
        route: "/v1/key/describe/",
        breaks: "MinIO's KMS keep-alive and mc admin kms key status",
        required: false,
    },
    // Only MinIO with MINIO_API_ROOT_ACCESS=off calls it, so it is a warning; but there a 403
    // does not stop MinIO, it quietly leaves the default root credentials in place.
    KeyRoute {
        method: "PUT",
        route: "/v1/key/hmac/",
        breaks: "MinIO with MINIO_API_ROOT_ACCESS=off, which derives its root credentials from \
                 it; denied, MinIO silently keeps minioadmin:minioadmin",
        required: false,
    },
];

fn needed(keys: &[KeyName]) -> Vec<Needed> {
    let mut needed: Vec<Needed> = keys
        .iter()
        .flat_map(|key| KEY_ROUTES.iter().map(|route| route.for_key(key.as_str())))
        .collect();
    for (path, breaks, required) in [
        ("/v1/status", "mc admin info (KMS status)", true),
        ("/v1/key/list/*", "mc admin kms key list", false),
        (
            "/v1/api",
            "MinIO's KMS API listing (/minio/kms/v1/apis)",
            false,
        ),
    ] {
        needed.push(Needed {
            method: "GET",
            path: path.into(),
            breaks,
            required,
        });
    }
    needed
}

/// Whether the route serving `path` needs a policy at all, after the config's `api` overrides.
fn needs_policy(settings: &Settings, path: &str) -> bool {
    let Some(route) = ROUTES.iter().find(|route| {
        if route.path.ends_with('/') {
            path.starts_with(route.path)
        } else {
            path == route.path
        }
    }) else {
        return true;
    };
    let skip = settings
        .api
        .get(route.path)
        .is_some_and(|api| api.skip_auth);
    route.auth == Auth::Verify && !skip
}

/// Every policy MinIO uses allows the routes MinIO calls, for every key MinIO uses. A key route the
/// policy allows for no key name at all fails whatever the key; only a route allowed for some names
/// needs the key name to decide.
fn policies(settings: &Settings, options: &Options, findings: &mut Vec<Finding>) {
    let mut keys: Vec<KeyName> = settings.keys.clone();
    for key in &options.keys {
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    for name in &options.minio_policies {
        if !settings.policies.contains_key(name) {
            findings.push(Finding::fail(
                format!("policy '{name}'"),
                format!("no policy '{name}' in the config (--minio-policy)"),
            ));
        }
    }
    let selected: Vec<_> = settings
        .policies
        .iter()
        .filter(|(name, _)| {
            options.minio_policies.is_empty() || options.minio_policies.contains(name)
        })
        .collect();
    if settings.policies.is_empty() {
        findings.push(Finding::warn(
            "policies",
            "the config has no policies: only the admin identity can use kesrs; bind MinIO's \
             identity (kesrs identity of <cert or API key>) to a policy",
        ));
    }
    let needed = needed(&keys);
    for (name, config) in selected {
        let item = format!("policy '{name}'");
        let checked = |path: &str| needs_policy(settings, path);
        // Routes allowed for no key name at all: no key MinIO could use works there.
        let no_name: Vec<&KeyRoute> = KEY_ROUTES
            .iter()
            .filter(|r| checked(r.route))
            .filter(|r| config.policy.key_names(r.route) == NameCoverage::None)
            .collect();
        let mut missing: Vec<Needed> = no_name
            .iter()
            .map(|r| Needed {
                method: r.method,
                path: format!("{} for any key name", r.route),
                breaks: r.breaks,
                required: r.required,
            })
            .collect();
        missing.extend(
            needed
                .iter()
                .filter(|n| checked(&n.path) && !config.policy.verify(&n.path))
                .filter(|n| !no_name.iter().any(|r| n.path.starts_with(r.route)))
                .map(|n| Needed {
                    method: n.method,
                    path: n.path.clone(),
                    breaks: n.breaks,
                    required: n.required,
                }),
        );
        let describe = |list: &[&Needed]| -> String {
            list.iter()
                .map(|n| format!("{} {} (needed by {})", n.method, n.path, n.breaks))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let (required, optional): (Vec<&Needed>, Vec<&Needed>) =
            missing.iter().partition(|n| n.required);
        const FIX: &str = "Add the path (or a pattern ending in *) under allow:, and check deny:";
        if !required.is_empty() {
            findings.push(Finding::fail(
                item.clone(),
                format!(
                    "does not allow {}; MinIO gets 'not authorized: insufficient permissions' \
                     there. {FIX}",
                    describe(&required)
                ),
            ));
        }
        if !optional.is_empty() {
            findings.push(Finding::warn(
                item.clone(),
                format!(
                    "does not allow {}; MinIO works without, but these fail. {FIX}",
                    describe(&optional)
                ),
            ));
        }
        // Without a key name, routes allowed for some names only are undecided.
        let undecided: Vec<String> = if keys.is_empty() {
            KEY_ROUTES
                .iter()
                .filter(|r| checked(r.route))
                .filter_map(|r| match config.policy.key_names(r.route) {
                    NameCoverage::Some(example) => {
                        Some(format!("{} {} (e.g. {example})", r.method, r.route))
                    }
                    _ => None,
                })
                .collect()
        } else {
            Vec::new()
        };
        if !undecided.is_empty() {
            findings.push(Finding::warn(
                item.clone(),
                format!(
                    "allows {} for some key names only: {}",
                    undecided.join(", "),
                    key_hint(options)
                ),
            ));
        }
        if missing.is_empty() && undecided.is_empty() {
            findings.push(Finding::pass(
                item.clone(),
                if keys.is_empty() {
                    "allows every route MinIO calls, for every key name".to_owned()
                } else {
                    format!(
                        "allows every route MinIO calls for key(s) {}",
                        keys.iter()
                            .map(KeyName::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            ));
        }
        if config.identities.is_empty() {
            findings.push(Finding::warn(
                item,
                "no identity is bound to it; add MinIO's identity under identities:",
            ));
        }
    }
}

/// How to give the key name MinIO uses: a flag of `kesrs check`, a command for `kesrs server`.
fn key_hint(options: &Options) -> String {
    match &options.server_config {
        None => "to decide, pass MinIO's MINIO_KMS_KES_KEY_NAME as --key NAME, or list it under \
                 keys:"
            .to_owned(),
        Some(config) => format!(
            "to decide, run `kesrs check --config {} --key NAME` with MinIO's \
             MINIO_KMS_KES_KEY_NAME as NAME, or list it under keys:",
            config.display()
        ),
    }
}

/// The key store: opens, answers, lets kesrs do everything it needs; the keys exist or can be made.
async fn key_store(settings: &Settings, options: &Options) -> Vec<Finding> {
    let mut findings = Vec::new();
    let item = "key store";
    let opened = {
        let keystore = settings.keystore.clone();
        let cache = settings.cache;
        tokio::task::spawn_blocking(move || Kms::open(&keystore, cache)).await
    };
    let kms = match opened {
        Ok(Ok(kms)) => kms,
        Ok(Err(err)) => {
            findings.push(Finding::fail(item, format!("cannot open it: {err}")));
            return findings;
        }
        Err(err) => {
            findings.push(Finding::fail(item, err.to_string()));
            return findings;
        }
    };
    match kms.status().await {
        Ok(status) => findings.push(Finding::pass(
            item,
            format!("reachable ({} ms)", status.latency.as_millis()),
        )),
        Err(err) => {
            findings.push(Finding::fail(
                item,
                format!("not reachable: {err}; check the endpoint, DNS, network and firewall"),
            ));
            return findings;
        }
    }
    let probe = match probe_name() {
        Some(name) => name,
        None => {
            findings.push(Finding::fail(item, "cannot make a random probe key name"));
            return findings;
        }
    };
    let mut can_create = true;
    for step in kms.probe_key_store(&probe).await {
        let item = format!("key store permission '{}'", step.permission);
        findings.push(match step.result {
            Some(Ok(())) => Finding::pass(item, "granted"),
            Some(Err(err)) => {
                if matches!(step.permission, "create" | "set" | "list") {
                    can_create = false;
                }
                Finding::fail(item, format!("{err}"))
            }
            None => Finding::new(Status::Skip, item, "not tried: an earlier step failed"),
        });
    }
    let mut keys = settings.keys.clone();
    for key in &options.keys {
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    for key in &keys {
        let item = format!("key '{key}'");
        findings.push(match kms.describe_key(key).await {
            Ok(info) => Finding::pass(item, format!("exists ({:?})", info.algorithm)),
            Err(kesrs_core::Error::KeyNotFound) if can_create => Finding::pass(
                item,
                "does not exist yet; it can be created (kesrs server creates the keys: at start)",
            ),
            Err(kesrs_core::Error::KeyNotFound) => Finding::fail(
                item,
                "does not exist, and the key store refused the probe key: it cannot be created",
            ),
            Err(err) => Finding::fail(item, format!("cannot be read: {err}")),
        });
    }
    findings
}

/// `kesrs-check-<16 hex digits>`: a name no real key has, valid for every key store.
fn probe_name() -> Option<KeyName> {
    let mut bytes = [0u8; 8];
    getrandom_bytes(&mut bytes)?;
    KeyName::new(&format!("kesrs-check-{}", hex(&bytes))).ok()
}

fn getrandom_bytes(buf: &mut [u8]) -> Option<()> {
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(buf)
        .ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds the TLS config exactly as the server would, as a last catch-all.
fn tls_builds(settings: &Settings) -> Finding {
    let resumption = match Resumption::new() {
        Ok(resumption) => resumption,
        Err(err) => return Finding::fail("tls", err.to_string()),
    };
    match tls::server_config(&settings.tls, &resumption) {
        Ok(_) => Finding::pass("tls", "the server TLS config builds"),
        Err(err) => Finding::fail("tls", err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_one_label() {
        assert!(dns_matches("kes.example.com", "KES.example.com"));
        assert!(dns_matches("*.example.com", "kes.example.com"));
        assert!(!dns_matches("*.example.com", "a.kes.example.com"));
        assert!(!dns_matches("*.example.com", "example.com"));
        assert!(!dns_matches("localhost", "127.0.0.1"));
    }

    #[test]
    fn minio_routes_need_a_policy_unless_skipped() {
        let settings = crate::server::dev::settings("127.0.0.1:0".parse().unwrap())
            .unwrap()
            .0;
        assert!(needs_policy(&settings, "/v1/key/generate/k"));
        assert!(needs_policy(&settings, "/v1/status"));
        assert!(!needs_policy(&settings, "/version"));
    }
}
