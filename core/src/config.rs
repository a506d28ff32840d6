//! The KES YAML configuration file (kes-protocol.md section 8).
//!
//! Loaded in two stages: a serde mirror of the YAML (`raw`), then this validated [`Config`]
//! (`validate`). Nothing after start-up reads the raw YAML. A file that KES accepts loads here with the
//! same meaning, with these deliberate differences (docs/compatibility.md):
//!
//! - A config without a key store is an error; KES silently used memory and lost every key.
//! - The cache defaults are any=5m, unused=30s, offline=off, and configured values are used as written
//!   (KES overrode `any` with 30s whenever `unused` was unset).
//! - `keys[].name` must be a valid key name, as every key API requires.
//! - Only the fs and Azure Key Vault key stores exist; the others are named in the error.
//!
//! Every error names the field (`cache.expiry.any: invalid duration '5 minutes' (line 12)`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::{Identity, KeyName, Policy};

mod duration;

pub use duration::InvalidDuration;

/// Parses Go duration syntax (`5m`, `1h30m`, `720h`, `300ms`) as KES config files write it.
///
/// Negative durations are rejected. The error reads `invalid duration '...'`, so the command line
/// takes this function as its parser for every duration flag.
pub fn parse_duration(s: &str) -> Result<Duration, InvalidDuration> {
    duration::parse(s).map_err(|_| InvalidDuration(s.to_owned()))
}
mod locate;
mod raw;
mod scalar;
mod validate;

use locate::Segment;

/// A validated kesrs configuration.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the server listens. The CLI's `--addr` overrides it.
    pub address: SocketAddr,
    /// The admin identity; any value that is not a 64-character hex hash disables admin access.
    pub admin: Identity,
    /// Server TLS settings.
    pub tls: TlsConfig,
    /// Policies by name.
    pub policies: BTreeMap<String, PolicyConfig>,
    /// Key cache expiry.
    pub cache: CacheConfig,
    /// Per-route overrides, keyed by the registered route path (for example `/v1/key/create/`).
    pub api: BTreeMap<String, ApiConfig>,
    /// Log levels.
    pub log: LogConfig,
    /// HTTP connection settings (`http`, a kesrs extension).
    pub http: HttpConfig,
    /// Keys created at start-up and on reload.
    pub keys: Vec<KeyName>,
    /// The key store.
    pub keystore: KeyStoreConfig,
}

impl Config {
    /// Reads and validates a config file; `${NAME}` references read the process environment.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = read_config_file(path)?;
        Self::from_yaml(&text, &|name| std::env::var(name).ok())
    }

    /// Parses and validates config text. `lookup_env` resolves `${NAME}` references.
    ///
    /// Only the first YAML document is read and unknown keys are ignored, as in KES.
    pub fn from_yaml(
        text: &str,
        lookup_env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let raw = raw_config(text)?;
        validate::config(raw, lookup_env).map_err(|err| err.locate(text))
    }

    /// The configuration of `kesrs server --dev`: an in-memory key store, `admin` as the only identity
    /// with access, the server certificate and key at the given paths, any client certificate accepted,
    /// and everything else at its default.
    pub fn dev(admin: Identity, tls_cert: PathBuf, tls_key: PathBuf) -> Self {
        Self {
            address: scalar::DEFAULT_ADDRESS,
            admin,
            tls: TlsConfig {
                key: tls_key,
                cert: tls_cert,
                password: None,
                client_auth: ClientAuth::DangerAnyCertificate,
                ca: None,
                proxy_identities: Vec::new(),
                proxy_cert_header: None,
            },
            policies: BTreeMap::new(),
            cache: CacheConfig::default(),
            api: BTreeMap::new(),
            log: LogConfig::default(),
            http: HttpConfig::default(),
            keys: Vec::new(),
            keystore: KeyStoreConfig::Memory,
        }
    }

    /// The name and policy bound to `identity`, if any. (The admin has none: it bypasses policies.)
    pub fn policy_for(&self, identity: &Identity) -> Option<(&str, &Policy)> {
        self.policies.iter().find_map(|(name, config)| {
            config
                .identities
                .contains(identity)
                .then_some((name.as_str(), &config.policy))
        })
    }

    /// Whether some route has `skip_auth`, which makes client certificates optional at the TLS layer
    /// for every route (kes-protocol.md 1.1): requests without one then fail in HTTP instead.
    pub fn relaxes_client_auth(&self) -> bool {
        self.api.values().any(|api| api.skip_auth)
    }
}

/// The key-store part of a KES config: what an in-process [`Keys`](crate::Keys) handle needs.
///
/// Read from the same file the server reads, but only its `keystore:` and `cache:` sections are
/// validated: a library has no address, admin, TLS or policies.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct KeysConfig {
    /// The key store.
    pub keystore: KeyStoreConfig,
    /// Key cache expiry.
    pub cache: CacheConfig,
}

impl KeysConfig {
    /// Reads a KES config file's `keystore:` and `cache:` sections; `${NAME}` references read the
    /// process environment.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = read_config_file(path)?;
        Self::from_yaml(&text, &|name| std::env::var(name).ok())
    }

    /// Parses the `keystore:` and `cache:` sections of config text. `lookup_env` resolves `${NAME}`.
    pub fn from_yaml(
        text: &str,
        lookup_env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let raw = raw_config(text)?;
        validate::keys_config(raw, lookup_env).map_err(|err| err.locate(text))
    }
}

/// Server TLS settings.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// PEM private key file.
    pub key: PathBuf,
    /// PEM certificate (chain) file.
    pub cert: PathBuf,
    /// Password of an encrypted PEM private key.
    pub password: Option<Secret>,
    /// How client certificates are checked.
    pub client_auth: ClientAuth,
    /// Extra CA certificates (a file or a directory) for verifying client certificates.
    pub ca: Option<PathBuf>,
    /// Parsed and validated for compatibility, not used (as in KES).
    pub proxy_identities: Vec<Identity>,
    /// `tls.proxy.header.cert`: parsed for compatibility, not used (as in KES).
    pub proxy_cert_header: Option<String>,
}

/// How client certificates are checked (`tls.auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `off` (default): any certificate, chain and expiry not verified, possession still proven.
    DangerAnyCertificate,
    /// `on`: the chain must verify against the system roots and `tls.ca`.
    Verify,
}

/// One policy and the identities bound to it.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct PolicyConfig {
    /// The allow and deny patterns.
    pub policy: Policy,
    /// Identities bound to this policy (each identity to one policy only).
    pub identities: Vec<Identity>,
}

/// Key cache expiry (`cache.expiry`). A zero duration disables that rule.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Every cached key is dropped this long after it was read from the key store.
    pub any: Duration,
    /// A cached key not used for this long is dropped.
    pub unused: Duration,
    /// While the key store is unreachable, cached keys keep serving for this long. Zero: off.
    pub offline: Duration,
}

impl CacheConfig {
    /// Expiry rules as `cache.expiry` writes them: `any`, `unused`, `offline` (zero disables a rule).
    pub fn new(any: Duration, unused: Duration, offline: Duration) -> Self {
        Self {
            any,
            unused,
            offline,
        }
    }
}

impl Default for CacheConfig {
    /// kesrs's defaults: any=5m, unused=30s, offline off (see docs/compatibility.md).
    fn default() -> Self {
        Self {
            any: Duration::from_secs(300),
            unused: Duration::from_secs(30),
            offline: Duration::ZERO,
        }
    }
}

/// A per-route override (`api.<path>`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiConfig {
    /// Skip authorisation on this route (identify only). Relaxes client-certificate checks globally.
    pub skip_auth: bool,
    /// Replaces the route's timeout when set; a configured `0s` leaves the route's default, as in KES.
    pub timeout: Option<Duration>,
}

/// Log levels (`log.error`, `log.audit`), in slog numbering: debug -4, info 0, warn 4, error 8, off 9.
///
/// The default is info (0) for both, which means auditing is on.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogConfig {
    /// Minimum level of the error log.
    pub error: i32,
    /// Minimum level of the audit log; audit events are INFO (0), so > 0 turns auditing off.
    pub audit: i32,
}

/// HTTP connection settings (`http`): a kesrs extension, which Go KES ignores.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpConfig {
    /// A connection with no request in flight for this long is closed (`http.idle_timeout`).
    pub idle_timeout: Duration,
}

impl Default for HttpConfig {
    /// Go KES's fixed `IdleTimeout`: 90 s.
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(90),
        }
    }
}

/// The key store (`keystore`).
///
/// Comparable, so that a reload can keep the open key store (and its cache) when it did not change.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStoreConfig {
    /// `keystore.fs.path`: one file per key.
    Fs {
        /// The directory holding the keys.
        path: PathBuf,
    },
    /// In-memory keys, lost on exit. Only `kesrs server --dev` and tests use it.
    Memory,
    /// `keystore.azure.keyvault`.
    Azure(AzureConfig),
}

/// `keystore.azure.keyvault`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureConfig {
    /// The vault URL, for example `https://my-vault.vault.azure.net`.
    pub endpoint: String,
    /// How to authenticate.
    pub credentials: AzureCredentials,
    /// `tls.ca` (kesrs extension): a PEM file, or a directory whose files all are PEM certificates,
    /// trusted in addition to the system roots for the vault and the Entra ID authority.
    pub ca: Option<PathBuf>,
    /// `timeout` (kesrs extension): the longest one key-store operation may take, retries included.
    /// `None`: the default (10 s).
    pub timeout: Option<Duration>,
}

/// How kesrs authenticates to Azure.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureCredentials {
    /// An Entra ID application with a client secret.
    ClientSecret {
        /// The tenant (directory) ID.
        tenant_id: String,
        /// The application (client) ID.
        client_id: String,
        /// The client secret.
        client_secret: Secret,
    },
    /// A user-assigned managed identity, selected by its client ID.
    ManagedIdentity {
        /// The managed identity's client ID.
        client_id: String,
    },
    /// Neither `credentials` nor `managed_identity` is configured: the first credential the
    /// environment configures, of client secret (`AZURE_*`), workload identity and managed identity.
    /// Developer tools (Azure CLI) are not tried.
    Default,
}

/// A secret string from the config (a password or client secret): zeroized on drop, hidden in `Debug`.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: String) -> Self {
        Self(Zeroizing::new(s))
    }

    /// The secret text. Declassifies it: only hand it to the component that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Compared in constant time: a reload compares the old and new client secret.
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq as _;
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        a.len() == b.len() && bool::from(a.ct_eq(b))
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Why a configuration is invalid: what is wrong ([`ConfigErrorKind`]), in which field, and on which
/// line of the file when that can be found.
///
/// It displays as `<field>: <what> (line <n>)`, for example
/// `cache.expiry.any: invalid duration '5 minutes' (line 12)`.
#[derive(Debug)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    field: Field,
    line: Option<usize>,
}

impl ConfigError {
    /// What is wrong.
    pub fn kind(&self) -> &ConfigErrorKind {
        &self.kind
    }

    /// The path of the offending field, such as `tls.auth`, `policy.my-app.identities[1]` or
    /// `api./v1/status.timeout`; empty when the error is not about one field (an unreadable file).
    pub fn field(&self) -> String {
        self.field.to_string()
    }

    /// The 1-based line in the file, when known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    fn new(kind: ConfigErrorKind, field: Field) -> Self {
        Self {
            kind,
            field,
            line: None,
        }
    }

    /// Adds the line of the field in `text`.
    fn locate(mut self, text: &str) -> Self {
        if self.line.is_none() && !self.field.0.is_empty() {
            self.line = locate::line_of(text, &self.field.0);
        }
        self
    }

    /// Converts a serde error, which knows its path and (mostly) its position.
    fn from_yaml(err: serde_path_to_error::Error<serde_yaml_ng::Error>) -> Self {
        let field = Field(
            err.path()
                .iter()
                .filter_map(|segment| match segment {
                    serde_path_to_error::Segment::Seq { index } => Some(Segment::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => Some(Segment::Key(key.clone())),
                    serde_path_to_error::Segment::Enum { .. }
                    | serde_path_to_error::Segment::Unknown => None,
                })
                .collect(),
        );
        let inner = err.into_inner();
        let line = inner.location().map(|location| location.line());
        // serde_yaml_ng writes "<path>: <message> at line L column C"; the path and line are kept
        // separately here, so only the message stays.
        let mut message = inner.to_string();
        if let Some(location) = inner.location() {
            let suffix = format!(" at line {} column {}", location.line(), location.column());
            if let Some(stripped) = message.strip_suffix(&suffix) {
                message = stripped.to_owned();
            }
        }
        if let Some((prefix, rest)) = message.split_once(": ") {
            // serde_yaml_ng spells paths as `a.b[0].c`, like `Field`.
            if !field.0.is_empty() && prefix == field.to_string() {
                message = rest.to_owned();
            }
        }
        Self {
            kind: ConfigErrorKind::Yaml(message),
            field,
            line,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.field.0.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.kind)?;
        let has_line =
            matches!(&self.kind, ConfigErrorKind::Yaml(message) if message.contains(" at line "));
        match self.line {
            Some(line) if !has_line => write!(f, " (line {line})"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ConfigErrorKind::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What is wrong with a configuration. The [`ConfigError`] around it names the field.
#[non_exhaustive]
#[derive(Debug)]
pub enum ConfigErrorKind {
    /// The config file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not YAML, or a value has the wrong shape (a list where text belongs, say).
    Yaml(String),
    /// `version` is set to something other than `v1`.
    UnsupportedVersion(String),
    /// A `${NAME}` reference names an environment variable that is not set.
    UndefinedEnv(String),
    /// A required field is missing or empty.
    Missing,
    /// `address` is not an `ip:port` address.
    InvalidAddress {
        /// The address as written.
        address: String,
        /// Why it was rejected.
        reason: String,
    },
    /// `tls.auth` is neither `on` nor `off`.
    InvalidTlsAuth(String),
    /// A duration is not Go duration syntax (`30s`, `5m`, `1h30m`).
    InvalidDuration(String),
    /// A duration is negative.
    NegativeDuration(String),
    /// A boolean is not one of YAML's boolean words.
    InvalidBool(String),
    /// A log level is not a level name, a name with an offset, or an integer.
    InvalidLogLevel(String),
    /// A policy name fails KES's name rules.
    InvalidPolicyName(String),
    /// A policy identity fails KES's name rules.
    InvalidIdentity(String),
    /// A policy or proxy identity is the admin identity.
    IdentityIsAdmin(String),
    /// A policy identity is also a TLS proxy identity.
    IdentityIsProxy(String),
    /// An identity is bound to a second policy.
    IdentityHasPolicy {
        /// The identity.
        identity: String,
        /// The policy it was bound to first.
        policy: String,
    },
    /// A `keys[].name` fails KES's key name rules.
    InvalidKeyName(String),
    /// A policy, route or key name appears more than once.
    Duplicate(String),
    /// No key store is configured.
    NoKeyStore,
    /// More than one key store is configured.
    MultipleKeyStores(Vec<String>),
    /// A key store that KES supports and kesrs does not.
    UnsupportedKeyStore(String),
    /// Both Azure `credentials` and `managed_identity` are configured.
    MultipleAzureAuth,
}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => {
                write!(f, "cannot read config file '{}': {source}", path.display())
            }
            Self::Yaml(message) => f.write_str(message),
            Self::UnsupportedVersion(version) => {
                write!(f, "unsupported version '{version}': only 'v1' is supported")
            }
            Self::UndefinedEnv(name) => {
                write!(f, "referenced environment variable '{name}' is not defined")
            }
            Self::Missing => f.write_str("required, but missing or empty"),
            Self::InvalidAddress { address, reason } => {
                write!(f, "invalid address '{address}': {reason}")
            }
            Self::InvalidTlsAuth(auth) => write!(f, "invalid auth '{auth}': use 'on' or 'off'"),
            Self::InvalidDuration(value) => {
                write!(f, "invalid duration '{value}'")?;
                if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
                    write!(f, ": a unit is required, for example '{value}s'")?;
                }
                Ok(())
            }
            Self::NegativeDuration(value) => {
                write!(f, "invalid duration '{value}': must not be negative")
            }
            Self::InvalidBool(value) => {
                write!(f, "invalid boolean '{value}': use true or false")
            }
            Self::InvalidLogLevel(value) => write!(
                f,
                "invalid log level '{value}': use debug, info, warn, error, on or off"
            ),
            Self::InvalidPolicyName(name) => write!(
                f,
                "policy name '{name}' is empty, too long or contains invalid characters"
            ),
            Self::InvalidIdentity(identity) => write!(
                f,
                "identity '{identity}' is too long or contains invalid characters"
            ),
            Self::IdentityIsAdmin(identity) => write!(f, "identity '{identity}' is already admin"),
            Self::IdentityIsProxy(identity) => write!(
                f,
                "identity '{identity}' is a TLS proxy and cannot have a policy"
            ),
            Self::IdentityHasPolicy { identity, policy } => write!(
                f,
                "identity '{identity}' already has policy '{policy}'; an identity can have one policy only"
            ),
            Self::InvalidKeyName(name) => write!(
                f,
                "key name '{name}' is empty, too long or contains invalid characters"
            ),
            Self::Duplicate(name) => write!(f, "'{name}' is defined more than once"),
            Self::NoKeyStore => f.write_str(
                "no key store specified: configure exactly one (fs or azure); \
                 kesrs never falls back to an in-memory store, which loses every key on restart",
            ),
            Self::MultipleKeyStores(names) => write!(
                f,
                "more than one key store specified ({}): configure exactly one",
                names.join(", ")
            ),
            Self::UnsupportedKeyStore(name) => write!(
                f,
                "keystore '{name}' is not supported by kesrs (supported: fs, azure)"
            ),
            Self::MultipleAzureAuth => f.write_str(
                "more than one authentication method specified: keep either 'credentials' or 'managed_identity'",
            ),
        }
    }
}

/// The path of a config field: keys and sequence indices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Field(Vec<Segment>);

impl Field {
    /// A path of mapping keys.
    fn of(keys: &[&str]) -> Self {
        Self(
            keys.iter()
                .map(|key| Segment::Key((*key).to_owned()))
                .collect(),
        )
    }

    /// This path, then `key`.
    fn key(&self, key: &str) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_owned()));
        path
    }

    /// This path, then sequence position `index`.
    fn index(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if position == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

fn read_config_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| {
        ConfigError::new(
            ConfigErrorKind::Io {
                path: path.to_owned(),
                source,
            },
            Field::default(),
        )
    })
}

/// Stage one: the first YAML document into the serde mirror.
fn raw_config(text: &str) -> Result<raw::RawConfig, ConfigError> {
    let Some(document) = serde_yaml_ng::Deserializer::from_str(text).next() else {
        return Ok(raw::RawConfig::default());
    };
    let raw: Option<raw::RawConfig> =
        serde_path_to_error::deserialize(document).map_err(ConfigError::from_yaml)?;
    Ok(raw.unwrap_or_default())
}
