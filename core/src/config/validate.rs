//! Stage two: the serde mirror into a validated [`Config`], with environment substitution.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use super::raw::{
    Entries, RawApi, RawAzure, RawCache, RawConfig, RawKey, RawKeyStore, RawPolicy, RawTls,
};
use super::{
    duration, scalar, ApiConfig, AzureConfig, AzureCredentials, CacheConfig, Config, ConfigError,
    ConfigErrorKind, Field, HttpConfig, KeyStoreConfig, KeysConfig, LogConfig, PolicyConfig,
    Secret, TlsConfig,
};
use crate::{valid_name, Identity, KeyName, Policy};

/// Validates `raw`, resolving `${NAME}` in the env-capable fields through `lookup_env`.
pub(super) fn config(
    raw: RawConfig,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let env = Env { lookup_env };

    // `version` is not env-capable.
    match raw.version.as_deref() {
        None | Some("" | "v1") => {}
        Some(version) => {
            return Err(error(
                ConfigErrorKind::UnsupportedVersion(version.to_owned()),
                Field::of(&["version"]),
            ))
        }
    }

    let field = Field::of(&["address"]);
    let address = match env.value(raw.address.as_deref(), &field)? {
        address if address.is_empty() => scalar::DEFAULT_ADDRESS,
        address => scalar::parse_address(&address)
            .map_err(|reason| error(ConfigErrorKind::InvalidAddress { address, reason }, field))?,
    };

    // Any admin string is allowed: one that is no certificate's hash disables admin access.
    let field = Field::of(&["admin", "identity"]);
    let admin = raw.admin.unwrap_or_default().identity;
    let admin = env.required(admin.as_deref(), &field)?;
    let admin = Identity::from_config(&admin);

    let tls = tls(&env, raw.tls.unwrap_or_default(), &admin)?;
    let policies = policies(&env, raw.policy.unwrap_or_default(), &admin, &tls)?;
    let cache = cache(&env, raw.cache)?;
    let api = api(&env, raw.api.unwrap_or_default())?;

    let raw_log = raw.log.unwrap_or_default();
    let log = LogConfig {
        error: env.level(raw_log.error.as_deref(), &Field::of(&["log", "error"]))?,
        audit: env.level(raw_log.audit.as_deref(), &Field::of(&["log", "audit"]))?,
    };

    // kesrs extension. A zero timeout keeps the default, as `api.<path>.timeout` does: turning the
    // idle timeout off would let idle connections hold file descriptors for good.
    let idle_timeout = env
        .duration(
            raw.http.unwrap_or_default().idle_timeout.as_deref(),
            &Field::of(&["http", "idle_timeout"]),
        )?
        .filter(|timeout| !timeout.is_zero())
        .unwrap_or(HttpConfig::default().idle_timeout);
    let http = HttpConfig { idle_timeout };

    let keys = keys(&env, raw.keys.unwrap_or_default())?;
    let keystore = keystore(&env, raw.keystore)?;

    Ok(Config {
        address,
        admin,
        tls,
        policies,
        cache,
        api,
        log,
        http,
        keys,
        keystore,
    })
}

/// Validates only the `keystore:` and `cache:` sections of `raw`, for an in-process handle.
pub(super) fn keys_config(
    raw: RawConfig,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Result<KeysConfig, ConfigError> {
    let env = Env { lookup_env };
    Ok(KeysConfig {
        keystore: keystore(&env, raw.keystore)?,
        cache: cache(&env, raw.cache)?,
    })
}

fn tls(env: &Env<'_>, raw: RawTls, admin: &Identity) -> Result<TlsConfig, ConfigError> {
    let path = Field::of(&["tls"]);
    let key = env.required(raw.key.as_deref(), &path.key("key"))?;
    let cert = env.required(raw.cert.as_deref(), &path.key("cert"))?;
    let password = env
        .value(raw.password.as_deref(), &path.key("password"))?
        .non_empty()
        .map(Secret::new);

    let field = path.key("auth");
    let auth = env.value(raw.auth.as_deref(), &field)?;
    let client_auth = scalar::parse_client_auth(&auth)
        .ok_or_else(|| error(ConfigErrorKind::InvalidTlsAuth(auth), field))?;

    let ca = env
        .value(raw.ca.as_deref(), &path.key("ca"))?
        .non_empty()
        .map(PathBuf::from);

    // tls.proxy is parsed and checked as KES does, and then unused (decisions.md).
    let proxy = raw.proxy.unwrap_or_default();
    let field = path.key("proxy").key("identities");
    let mut proxy_identities = Vec::new();
    for (index, identity) in env.items(proxy.identities, &field)? {
        if identity == *admin {
            return Err(error(
                ConfigErrorKind::IdentityIsAdmin(identity.to_string()),
                field.index(index),
            ));
        }
        proxy_identities.push(identity);
    }
    let header = proxy.header.unwrap_or_default().cert;
    let proxy_cert_header = env
        .value(
            header.as_deref(),
            &path.key("proxy").key("header").key("cert"),
        )?
        .non_empty();

    Ok(TlsConfig {
        key: PathBuf::from(key),
        cert: PathBuf::from(cert),
        password,
        client_auth,
        ca,
        proxy_identities,
        proxy_cert_header,
    })
}

fn policies(
    env: &Env<'_>,
    raw: Entries<Option<RawPolicy>>,
    admin: &Identity,
    tls: &TlsConfig,
) -> Result<BTreeMap<String, PolicyConfig>, ConfigError> {
    let mut policies = BTreeMap::new();
    // Which policy each identity is bound to: KES allows one per identity.
    let mut bound: BTreeMap<Identity, String> = BTreeMap::new();
    for (name, policy) in raw.0 {
        let path = Field::of(&["policy"]).key(&name);
        if policies.contains_key(&name) {
            return Err(error(ConfigErrorKind::Duplicate(name), path));
        }
        if !valid_name(&name) {
            return Err(error(ConfigErrorKind::InvalidPolicyName(name), path));
        }
        let policy = policy.unwrap_or_default();

        let field = path.key("identities");
        let mut identities = Vec::new();
        for (index, identity) in env.items(policy.identities, &field)? {
            let field = field.index(index);
            let kind = if !valid_name(identity.as_str()) {
                Some(ConfigErrorKind::InvalidIdentity(identity.to_string()))
            } else if identity == *admin {
                Some(ConfigErrorKind::IdentityIsAdmin(identity.to_string()))
            } else if tls.proxy_identities.contains(&identity) {
                Some(ConfigErrorKind::IdentityIsProxy(identity.to_string()))
            } else {
                match bound.get(&identity) {
                    // Listed twice in the same policy: harmless, keep it once.
                    Some(other) if *other == name => continue,
                    Some(other) => Some(ConfigErrorKind::IdentityHasPolicy {
                        identity: identity.to_string(),
                        policy: other.clone(),
                    }),
                    None => None,
                }
            };
            if let Some(kind) = kind {
                return Err(error(kind, field));
            }
            bound.insert(identity.clone(), name.clone());
            identities.push(identity);
        }

        // Patterns are not env-capable and not validated: KES matches them as written.
        let policy = Policy {
            allow: patterns(policy.allow),
            deny: patterns(policy.deny),
        };
        policies.insert(name, PolicyConfig { policy, identities });
    }
    Ok(policies)
}

fn patterns(raw: Option<Vec<Option<String>>>) -> BTreeSet<String> {
    raw.unwrap_or_default().into_iter().flatten().collect()
}

fn cache(env: &Env<'_>, raw: Option<RawCache>) -> Result<CacheConfig, ConfigError> {
    let expiry = raw.and_then(|cache| cache.expiry).unwrap_or_default();
    let path = Field::of(&["cache", "expiry"]);
    let defaults = CacheConfig::default();
    // Unset means the default; a configured value, `0s` included, is used as written (decisions.md).
    let setting = |value: Option<String>, name: &str, default: Duration| {
        Ok::<_, ConfigError>(
            env.duration(value.as_deref(), &path.key(name))?
                .unwrap_or(default),
        )
    };
    Ok(CacheConfig {
        any: setting(expiry.any, "any", defaults.any)?,
        unused: setting(expiry.unused, "unused", defaults.unused)?,
        offline: setting(expiry.offline, "offline", defaults.offline)?,
    })
}

/// `api.<path>`. Every path is kept; the server ignores paths that are not routes, as KES does.
fn api(
    env: &Env<'_>,
    raw: Entries<Option<RawApi>>,
) -> Result<BTreeMap<String, ApiConfig>, ConfigError> {
    let mut routes = BTreeMap::new();
    for (route, config) in raw.0 {
        let path = Field::of(&["api"]).key(&route);
        if routes.contains_key(&route) {
            return Err(error(ConfigErrorKind::Duplicate(route), path));
        }
        let config = config.unwrap_or_default();

        let field = path.key("skip_auth");
        let value = env.value(config.skip_auth.as_deref(), &field)?;
        let skip_auth = scalar::parse_bool(&value)
            .ok_or_else(|| error(ConfigErrorKind::InvalidBool(value), field))?;

        // A zero timeout keeps the route's own, as in KES.
        let timeout = env
            .duration(config.timeout.as_deref(), &path.key("timeout"))?
            .filter(|timeout| !timeout.is_zero());

        routes.insert(route, ApiConfig { skip_auth, timeout });
    }
    Ok(routes)
}

fn keys(env: &Env<'_>, raw: Vec<Option<RawKey>>) -> Result<Vec<KeyName>, ConfigError> {
    let mut keys: Vec<KeyName> = Vec::new();
    for (index, key) in raw.into_iter().enumerate() {
        let Some(key) = key else {
            continue; // An empty `-` item.
        };
        let field = Field::of(&["keys"]).index(index).key("name");
        let name = env.value(key.name.as_deref(), &field)?;
        // KES does not validate these names; kesrs does, because a key no API call can name (the
        // API validates every name) is useless, and an invalid name could escape the fs key store.
        let name = KeyName::new(&name)
            .map_err(|_| error(ConfigErrorKind::InvalidKeyName(name.clone()), field.clone()))?;
        if keys.contains(&name) {
            return Err(error(ConfigErrorKind::Duplicate(name.to_string()), field));
        }
        keys.push(name);
    }
    Ok(keys)
}

fn keystore(env: &Env<'_>, raw: Option<RawKeyStore>) -> Result<KeyStoreConfig, ConfigError> {
    let path = Field::of(&["keystore"]);
    let raw = raw.unwrap_or_default();
    let configured: Vec<&str> = [
        ("fs", raw.fs.is_some()),
        ("azure", raw.azure.is_some()),
        ("vault", raw.vault.is_some()),
        ("fortanix", raw.fortanix.is_some()),
        ("gemalto", raw.gemalto.is_some()),
        ("gcp", raw.gcp.is_some()),
        ("aws", raw.aws.is_some()),
        ("entrust", raw.entrust.is_some()),
        ("kes", raw.kes.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
    .collect();
    match configured.as_slice() {
        [] => Err(error(ConfigErrorKind::NoKeyStore, path)),
        [_] => {
            if let Some(fs) = raw.fs {
                let path = env.required(fs.path.as_deref(), &path.key("fs").key("path"))?;
                Ok(KeyStoreConfig::Fs {
                    path: PathBuf::from(path),
                })
            } else if let Some(azure) = raw.azure {
                azure_keystore(env, azure, &path.key("azure"))
            } else {
                let name = configured.concat();
                let field = path.key(&name);
                Err(error(ConfigErrorKind::UnsupportedKeyStore(name), field))
            }
        }
        _ => Err(error(
            ConfigErrorKind::MultipleKeyStores(
                configured.iter().map(|s| (*s).to_owned()).collect(),
            ),
            path,
        )),
    }
}

fn azure_keystore(
    env: &Env<'_>,
    raw: RawAzure,
    path: &Field,
) -> Result<KeyStoreConfig, ConfigError> {
    let path = path.key("keyvault");
    let Some(vault) = raw.keyvault else {
        return Err(error(ConfigErrorKind::Missing, path));
    };
    let endpoint = env.required(vault.endpoint.as_deref(), &path.key("endpoint"))?;
    let credentials = match (vault.credentials, vault.managed_identity) {
        (Some(_), Some(_)) => return Err(error(ConfigErrorKind::MultipleAzureAuth, path)),
        (Some(credentials), None) => {
            let path = path.key("credentials");
            AzureCredentials::ClientSecret {
                tenant_id: env
                    .required(credentials.tenant_id.as_deref(), &path.key("tenant_id"))?,
                client_id: env
                    .required(credentials.client_id.as_deref(), &path.key("client_id"))?,
                client_secret: Secret::new(env.required(
                    credentials.client_secret.as_deref(),
                    &path.key("client_secret"),
                )?),
            }
        }
        (None, Some(identity)) => AzureCredentials::ManagedIdentity {
            client_id: env.required(
                identity.client_id.as_deref(),
                &path.key("managed_identity").key("client_id"),
            )?,
        },
        (None, None) => AzureCredentials::Default,
    };
    // kesrs extensions. The CA is a path, read when the store is opened, as `tls.ca` is.
    let tls = vault.tls.unwrap_or_default();
    let ca = env
        .value(tls.ca.as_deref(), &path.key("tls").key("ca"))?
        .non_empty()
        .map(PathBuf::from);
    // A zero timeout keeps the default, as `api.<path>.timeout` does.
    let timeout = env
        .duration(vault.timeout.as_deref(), &path.key("timeout"))?
        .filter(|timeout| !timeout.is_zero());
    Ok(KeyStoreConfig::Azure(AzureConfig {
        endpoint,
        credentials,
        ca,
        timeout,
    }))
}

/// Environment substitution for the fields kes-protocol.md 8.1 marks (env).
struct Env<'a> {
    lookup_env: &'a dyn Fn(&str) -> Option<String>,
}

impl Env<'_> {
    /// The value of an env field: `${NAME}` (after trimming, with blanks allowed inside the braces)
    /// becomes the variable's value, anything else stays as written. There is no interpolation inside
    /// longer text. A missing field is empty, and so is a variable that is defined but empty.
    fn value(&self, raw: Option<&str>, field: &Field) -> Result<String, ConfigError> {
        let Some(raw) = raw else {
            return Ok(String::new());
        };
        let reference = raw
            .trim()
            .strip_prefix("${")
            .and_then(|rest| rest.strip_suffix('}'));
        match reference {
            Some(name) => {
                let name = name.trim();
                (self.lookup_env)(name).ok_or_else(|| {
                    error(
                        ConfigErrorKind::UndefinedEnv(name.to_owned()),
                        field.clone(),
                    )
                })
            }
            None => Ok(raw.to_owned()),
        }
    }

    /// [`Env::value`] for a required field: empty is [`ConfigErrorKind::Missing`].
    fn required(&self, raw: Option<&str>, field: &Field) -> Result<String, ConfigError> {
        let value = self.value(raw, field)?;
        if value.is_empty() {
            return Err(error(ConfigErrorKind::Missing, field.clone()));
        }
        Ok(value)
    }

    /// A Go duration, `None` if unset or empty. Negative durations are rejected.
    fn duration(&self, raw: Option<&str>, field: &Field) -> Result<Option<Duration>, ConfigError> {
        let value = self.value(raw, field)?;
        if value.is_empty() {
            return Ok(None);
        }
        match duration::parse(&value) {
            Ok(duration) => Ok(Some(duration)),
            Err(duration::DurationError::Invalid) => Err(error(
                ConfigErrorKind::InvalidDuration(value),
                field.clone(),
            )),
            Err(duration::DurationError::Negative) => Err(error(
                ConfigErrorKind::NegativeDuration(value),
                field.clone(),
            )),
        }
    }

    fn level(&self, raw: Option<&str>, field: &Field) -> Result<i32, ConfigError> {
        let value = self.value(raw, field)?;
        scalar::parse_level(&value)
            .ok_or_else(|| error(ConfigErrorKind::InvalidLogLevel(value), field.clone()))
    }

    /// A list of identities, each env-capable, with the positions they were written at. Empty items
    /// are skipped, so that a `${VAR}` that is defined but empty simply names no identity.
    fn items(
        &self,
        raw: Option<Vec<Option<String>>>,
        field: &Field,
    ) -> Result<Vec<(usize, Identity)>, ConfigError> {
        let mut identities = Vec::new();
        for (index, item) in raw.unwrap_or_default().into_iter().enumerate() {
            let value = self.value(item.as_deref(), &field.index(index))?;
            if !value.is_empty() {
                identities.push((index, Identity::from_config(&value)));
            }
        }
        Ok(identities)
    }
}

/// Small extension for optional text settings.
trait NonEmpty: Sized {
    fn non_empty(self) -> Option<Self>;
}

impl NonEmpty for String {
    fn non_empty(self) -> Option<Self> {
        (!self.is_empty()).then_some(self)
    }
}

fn error(kind: ConfigErrorKind, field: Field) -> ConfigError {
    ConfigError::new(kind, field)
}
