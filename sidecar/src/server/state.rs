//! The server's state: what a reload replaces ([`State`], swapped whole behind an `ArcSwap`) and what
//! lives as long as the process ([`Shared`]).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use time::OffsetDateTime;
use tokio::sync::watch;

use kesrs_core::config::{
    ApiConfig, CacheConfig, HttpConfig, KeyStoreConfig, LogConfig, PolicyConfig,
};
use kesrs_core::{Config, Identity, KeyName, Kms, Policy};

use super::logs::{ErrorLevel, Logs};
use super::metrics::Metrics;
use super::routes::{Auth, Route, ROUTES};
use super::tls::{self, CertSource, Resumption, TlsError, TlsSettings};

/// What the server runs with: a validated config file, or `--dev`'s settings.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) address: SocketAddr,
    pub(crate) admin: Identity,
    pub(crate) tls: TlsSettings,
    pub(crate) policies: BTreeMap<String, PolicyConfig>,
    pub(crate) api: BTreeMap<String, ApiConfig>,
    pub(crate) log: LogConfig,
    pub(crate) http: HttpConfig,
    pub(crate) keys: Vec<KeyName>,
    pub(crate) keystore: KeyStoreConfig,
    pub(crate) cache: CacheConfig,
}

impl Settings {
    /// The settings of a config file; `addr` (the CLI's `--addr`) wins over its `address`.
    pub(crate) fn from_config(config: Config, addr: Option<SocketAddr>) -> Self {
        let optional_client_cert = config.api.values().any(|api| api.skip_auth);
        Self {
            address: addr.unwrap_or(config.address),
            admin: config.admin,
            tls: TlsSettings {
                cert: CertSource::Files {
                    cert: config.tls.cert,
                    key: config.tls.key,
                    password: config.tls.password,
                },
                client_auth: config.tls.client_auth,
                ca: config.tls.ca,
                optional_client_cert,
            },
            policies: config.policies,
            api: config.api,
            log: config.log,
            http: config.http,
            keys: config.keys,
            keystore: config.keystore,
            cache: config.cache,
        }
    }
}

/// Why the server could not start, or a reload was rejected.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetupError {
    #[error("invalid config: {0}")]
    Config(#[from] kesrs_core::config::ConfigError),
    #[error("failed to open the key store: {0}")]
    KeyStore(#[source] kesrs_core::Error),
    #[error("failed to create key '{name}': {source}")]
    CreateKey {
        name: String,
        #[source]
        source: kesrs_core::Error,
    },
    #[error("failed to build the TLS config: {0}")]
    Tls(#[from] TlsError),
    #[error("failed to listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// One route's effective settings after the config's `api:` overrides.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteSettings {
    pub(crate) auth: Auth,
    /// Zero: no timeout.
    pub(crate) timeout: Duration,
}

/// Everything a reload replaces.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) settings: Settings,
    pub(crate) kms: Kms,
    pub(crate) tls: Arc<ServerConfig>,
    /// When the server certificate (the chain's first) expires.
    pub(crate) cert_not_after: Option<OffsetDateTime>,
    routes: Vec<RouteSettings>,
    /// Identity → policy name.
    identities: HashMap<Identity, String>,
}

/// Builds a [`State`] off the runtime: opening a key store and reading PEM files block. The key
/// store of `previous` is kept when its config did not change.
pub(crate) async fn build_state(
    settings: Settings,
    resumption: Resumption,
    previous: Option<Arc<State>>,
) -> Result<State, SetupError> {
    tokio::task::spawn_blocking(move || State::build(settings, &resumption, previous.as_deref()))
        .await
        .map_err(|e| SetupError::Other(format!("start-up task failed: {e}")))?
}

impl State {
    /// Opens the key store and builds the TLS config. Does blocking file I/O: run it off the runtime.
    ///
    /// The key store of `previous` (and with it the key cache) is kept if its config and the cache
    /// config are unchanged; otherwise a new one is opened.
    pub(crate) fn build(
        settings: Settings,
        resumption: &Resumption,
        previous: Option<&State>,
    ) -> Result<Self, SetupError> {
        let kept = previous.filter(|previous| previous.keeps_key_store(&settings));
        let kms = match kept {
            Some(previous) => previous.kms.clone(),
            None => Kms::open(&settings.keystore, settings.cache).map_err(SetupError::KeyStore)?,
        };
        let built = tls::server_config(&settings.tls, resumption)?;
        let (tls, cert_not_after) = (built.config, built.not_after);
        let routes = ROUTES
            .iter()
            .map(|route| route_settings(route, settings.api.get(route.path)))
            .collect();
        let identities = settings
            .policies
            .iter()
            .flat_map(|(name, policy)| {
                policy
                    .identities
                    .iter()
                    .map(move |identity| (identity.clone(), name.clone()))
            })
            .collect();
        Ok(Self {
            settings,
            kms,
            tls,
            cert_not_after,
            routes,
            identities,
        })
    }

    /// Whether a state built from `settings` reuses this one's key store: the key store and cache
    /// configs are unchanged.
    pub(crate) fn keeps_key_store(&self, settings: &Settings) -> bool {
        self.settings.keystore == settings.keystore && self.settings.cache == settings.cache
    }

    /// Creates the config's `keys:`, as the admin; keys that exist already are fine.
    pub(crate) async fn create_keys(&self) -> Result<(), SetupError> {
        for name in &self.settings.keys {
            match self.kms.create_key(name, Some(&self.settings.admin)).await {
                Ok(()) | Err(kesrs_core::Error::KeyExists) => {}
                Err(source) => {
                    return Err(SetupError::CreateKey {
                        name: name.to_string(),
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// A route's effective auth and timeout.
    pub(crate) fn route(&self, route: &Route) -> RouteSettings {
        self.routes
            .get(route.index())
            .copied()
            .unwrap_or_else(|| route_settings(route, None))
    }

    pub(crate) fn is_admin(&self, identity: &Identity) -> bool {
        *identity == self.settings.admin
    }

    /// Whether `identity` can be allowed anything beyond the routes that skip authorisation: it is
    /// the admin or bound to a policy.
    pub(crate) fn is_privileged(&self, identity: &Identity) -> bool {
        self.is_admin(identity) || self.identities.contains_key(identity)
    }

    /// The name and policy bound to an identity.
    pub(crate) fn policy_of(&self, identity: &Identity) -> Option<(&str, &Policy)> {
        let name = self.identities.get(identity)?;
        let config = self.settings.policies.get(name)?;
        Some((name.as_str(), &config.policy))
    }

    pub(crate) fn policy(&self, name: &str) -> Option<&Policy> {
        self.settings
            .policies
            .get(name)
            .map(|config| &config.policy)
    }

    pub(crate) fn policy_names(&self) -> impl Iterator<Item = &str> {
        self.settings.policies.keys().map(String::as_str)
    }

    /// All identities: the admin string and every policy-bound identity.
    pub(crate) fn identity_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.settings.admin.as_str())
            .chain(self.identities.keys().map(Identity::as_str))
    }
}

fn route_settings(route: &Route, api: Option<&ApiConfig>) -> RouteSettings {
    let mut settings = RouteSettings {
        auth: route.auth,
        timeout: route.timeout,
    };
    if let Some(api) = api {
        if api.skip_auth && route.auth == Auth::Verify {
            settings.auth = Auth::IdentifyOnly;
        }
        if let Some(timeout) = api.timeout.filter(|t| !t.is_zero()) {
            settings.timeout = timeout;
        }
    }
    settings
}

/// What lives as long as the process: the swappable state, logs, metrics and start time.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: ArcSwap<State>,
    pub(crate) logs: Logs,
    pub(crate) metrics: Metrics,
    pub(crate) started: Instant,
    /// The start time in the local zone: KES's `created_at` of policies and identities.
    pub(crate) started_at: OffsetDateTime,
    pub(crate) resumption: Resumption,
    pub(crate) error_level: ErrorLevel,
    /// Flips to `true` when the server shuts down; log streams end on it.
    pub(crate) shutdown: watch::Receiver<bool>,
    /// The config file to re-read on SIGHUP (none in `--dev` mode), and the CLI's `--addr`.
    pub(crate) config_path: Option<PathBuf>,
    pub(crate) addr_override: Option<SocketAddr>,
    /// One reload at a time: SIGHUP and the file watcher may fire together.
    pub(crate) reload_lock: tokio::sync::Mutex<()>,
    /// Permits for connections from peers that are neither the admin nor bound to a policy, one
    /// held per such connection (see `server::MAX_UNPRIVILEGED_CONNECTIONS`).
    pub(crate) unprivileged_connections: Arc<tokio::sync::Semaphore>,
}
