//! The KES YAML configuration file (kes-protocol.md section 8). STUB: helper B owns the parsing.
//!
//! Loaded in two stages: a serde mirror of the YAML, then this validated [`Config`]. Nothing after
//! start-up reads the raw YAML.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::{Identity, KeyName, Policy};

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
    /// Keys created at start-up and on reload.
    pub keys: Vec<KeyName>,
    /// The key store.
    pub keystore: KeyStoreConfig,
}

impl Config {
    /// Reads and validates a config file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let _ = path;
        unimplemented!()
    }

    /// Parses and validates config text. `lookup_env` resolves `${NAME}` references.
    pub fn from_yaml(
        text: &str,
        lookup_env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let _ = (text, lookup_env);
        unimplemented!()
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
    /// Replaces the route's timeout when set.
    pub timeout: Option<Duration>,
}

/// Log levels (`log.error`, `log.audit`), in slog numbering: debug -4, info 0, warn 4, error 8, off 9.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// Minimum level of the error log.
    pub error: i32,
    /// Minimum level of the audit log; audit events are INFO (0), so > 0 turns auditing off.
    pub audit: i32,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { error: 0, audit: 0 }
    }
}

/// The key store (`keystore`).
#[non_exhaustive]
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
pub struct AzureConfig {
    /// The vault URL, for example `https://my-vault.vault.azure.net`.
    pub endpoint: String,
    /// How to authenticate.
    pub credentials: AzureCredentials,
}

/// How kesrs authenticates to Azure.
#[non_exhaustive]
#[derive(Debug, Clone)]
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
    /// The default chain: environment, workload identity, managed identity.
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

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Why a configuration is invalid. Its message names the offending field.
#[derive(Debug)]
pub struct ConfigError {
    message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}
