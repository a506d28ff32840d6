//! A key store in Azure Key Vault: one secret per key, its value exactly what KES stores.
//!
//! Semantics follow KES's Azure key store, so Go KES and kesrs can share a vault:
//! - create refuses an existing secret, and purges a soft-deleted secret of the same name first;
//!   exactly one of racing creates succeeds, in one server and across servers (see `create`);
//! - get reads the *oldest enabled* version (the key that won the create race; losing versions
//!   are disabled) and refuses disabled, not-yet-valid and expired secrets;
//! - delete deletes, then purges, so the name can be used again;
//! - list pages through every secret; status measures an unauthenticated round trip.
//!
//! Where kesrs differs, it is safer: names with `_` are stored (see `names`), the exact KES name
//! is checked on every read (Key Vault ignores case), each operation has a deadline, and failures
//! are classified so that the key cache keeps serving cached keys while Azure is unreachable.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use azure_core::http::RequestContent;
use azure_security_keyvault_secrets::models::{
    Secret, SecretAttributes, SecretClientGetSecretOptions, SecretProperties, SetSecretParameters,
};
use futures::TryStreamExt;
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use tokio::time::Instant;
use zeroize::Zeroizing;

use super::{KeyStore, StoreError};
use crate::config::{AzureConfig, AzureCredentials};
use crate::{tls, KeyName};
use retry::{retry, Backoff, Failure, Permission};

mod client;
mod create;
mod entra;
mod names;
mod probe;
mod retry;

/// More versions than this of one secret is not a KES key (KES itself stops at 25).
const MAX_VERSIONS: usize = 500;

/// How to reach and authenticate to a vault, and how long to wait for it.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct AzureOptions {
    /// The vault URL, for example `https://my-vault.vault.azure.net`.
    pub endpoint: String,
    /// How to authenticate.
    pub credentials: AzureCredentials,
    /// CA certificates trusted in addition to the system roots, for the vault and the authority
    /// (a private CA, or a TLS-inspecting proxy).
    pub ca_certificates: Vec<CertificateDer<'static>>,
    /// The Entra ID authority for client secret and workload identity credentials. Unset: the
    /// `AZURE_AUTHORITY_HOST` environment variable, else the public cloud.
    pub authority_host: Option<String>,
    /// Fixed addresses for host names (split-horizon DNS, private endpoints, tests).
    pub resolve: Vec<(String, SocketAddr)>,
    /// The longest one HTTP request (connect included) may take.
    pub request_timeout: Duration,
    /// The longest one key-store operation may take, retries included.
    pub timeout: Duration,
    /// The first delay between retries; it doubles up to `max_retry_delay`.
    pub retry_delay: Duration,
    /// The longest delay between retries, unless Azure's `Retry-After` asks for more.
    pub max_retry_delay: Duration,
    /// Accepts an authentication challenge for a resource that is not a parent domain of the vault.
    /// Only for emulators: on a real vault it lets a spoofed vault obtain tokens for another resource.
    pub danger_skip_challenge_resource_verification: bool,
}

impl AzureOptions {
    /// Options for `endpoint` with default timeouts: 5 s per request, 10 s per operation.
    ///
    /// 10 s stays below KES's and MinIO's request timeouts, so a hung Azure ends in a key-store error
    /// (and offline serving from the cache) rather than in a timed-out MinIO request.
    pub fn new(endpoint: impl Into<String>, credentials: AzureCredentials) -> Self {
        Self {
            endpoint: endpoint.into(),
            credentials,
            ca_certificates: Vec::new(),
            authority_host: None,
            resolve: Vec::new(),
            request_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            retry_delay: Duration::from_millis(200),
            max_retry_delay: Duration::from_secs(2),
            danger_skip_challenge_resource_verification: false,
        }
    }

    /// Options for a `keystore.azure.keyvault` config section; reads the `tls.ca` certificates.
    pub fn from_config(config: &AzureConfig) -> Result<Self, StoreError> {
        let mut options = Self::new(config.endpoint.clone(), config.credentials.clone());
        if let Some(ca) = &config.ca {
            options.add_ca_path(ca).map_err(|err| match err {
                StoreError::Failed(reason) => {
                    StoreError::Failed(format!("keystore.azure.keyvault.tls.ca: {reason}").into())
                }
                other => other,
            })?;
        }
        if let Some(timeout) = config.timeout {
            options.timeout = timeout;
            // One request may take the whole operation's time, but not more.
            options.request_timeout = options.request_timeout.min(timeout);
        }
        Ok(options)
    }

    /// Trusts the certificates in a PEM file, or in every file of a directory (each must hold PEM
    /// certificates), in addition to the system roots: the rules of the server's `tls.ca`.
    pub fn add_ca_path(&mut self, path: &Path) -> Result<(), StoreError> {
        let failed = |file: &Path, reason: &dyn fmt::Display| {
            StoreError::Failed(
                format!(
                    "cannot load CA certificates from '{}': {reason}",
                    file.display()
                )
                .into(),
            )
        };
        let files = tls::ca_files(path).map_err(|err| failed(path, &err))?;
        for file in files {
            let pem = std::fs::read(&file).map_err(|err| failed(&file, &err))?;
            self.add_ca_pem(&pem).map_err(|err| match err {
                StoreError::Failed(reason) => failed(&file, &reason),
                other => other,
            })?;
        }
        Ok(())
    }

    /// Trusts the certificates of a PEM file's contents in addition to the system roots.
    pub fn add_ca_pem(&mut self, pem: &[u8]) -> Result<(), StoreError> {
        let certs = tls::pem_certificates(pem).map_err(|err| {
            StoreError::Failed(format!("invalid CA certificate PEM: {err}").into())
        })?;
        if certs.is_empty() {
            return Err(StoreError::Failed(
                "the CA file holds no PEM certificate".into(),
            ));
        }
        self.ca_certificates.extend(certs);
        Ok(())
    }
}

/// Keys as secrets in an Azure Key Vault.
pub struct AzureStore {
    clients: client::Clients,
    creates: create::Flights,
    backoff: Backoff,
    timeout: Duration,
}

impl AzureStore {
    /// Builds the store. No request is sent: an unreachable vault shows in `status`, not here.
    pub fn connect(options: &AzureOptions) -> Result<Self, StoreError> {
        let env = |name: &str| std::env::var(name).ok();
        let clients = client::connect(options, &env)?;
        tracing::info!(
            endpoint = %clients.endpoint,
            credential = clients.credential,
            "using Azure Key Vault key store"
        );
        Ok(Self {
            clients,
            creates: create::Flights::default(),
            backoff: Backoff {
                initial: options.retry_delay,
                max: options.max_retry_delay,
            },
            timeout: options.timeout,
        })
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout
    }

    /// All versions of a secret, oldest first. Empty if the secret does not exist.
    async fn versions(
        &self,
        secret: &str,
        deadline: Instant,
    ) -> Result<Vec<SecretProperties>, Failure> {
        let list = || async {
            let mut pager = self
                .clients
                .secrets
                .list_secret_properties_versions(secret, None)?;
            let mut versions = Vec::new();
            while let Some(version) = pager.try_next().await? {
                versions.push(version);
                if versions.len() > MAX_VERSIONS {
                    return Err(azure_core::Error::with_message(
                        azure_core::error::ErrorKind::DataConversion,
                        format!("secret '{secret}' has more than {MAX_VERSIONS} versions"),
                    ));
                }
            }
            Ok(versions)
        };
        let mut versions = match retry(Permission::List, self.backoff, deadline, list).await {
            Ok(versions) => versions,
            // Azure lists the versions of a missing secret as empty; emulators may answer 404.
            Err(Failure::NotFound) => Vec::new(),
            Err(failure) => return Err(failure),
        };
        // Ties (timestamps are in seconds) break on the version ID, so every server picks the same.
        versions.sort_by_cached_key(|v| {
            let created = v.attributes.as_ref().and_then(|a| a.created);
            let version = v.id.as_deref().and_then(version_of).map(str::to_owned);
            (created.is_none(), created, version)
        });
        Ok(versions)
    }

    /// Purges a soft-deleted secret, retrying while Azure is still deleting it.
    async fn purge(&self, secret: &str, deadline: Instant) -> Result<(), Failure> {
        let mut attempt = 0;
        loop {
            let purge = || self.clients.secrets.purge_deleted_secret(secret, None);
            match retry(Permission::Purge, self.backoff, deadline, purge).await {
                Ok(_) | Err(Failure::NotFound) => return Ok(()),
                // Still being deleted (or, on emulators, any conflict): wait and try again.
                Err(conflict @ Failure::Conflict(_)) => {
                    if !sleep_within(self.backoff, attempt, deadline).await {
                        return Err(conflict);
                    }
                    attempt += 1;
                }
                Err(failure) => return Err(failure),
            }
        }
    }

    /// Sets `secret` to `value`, tagged with the exact KES name that every read compares; returns
    /// the new version (without its value).
    async fn set_tagged(
        &self,
        name: &KeyName,
        secret: &str,
        value: &str,
        deadline: Instant,
    ) -> Result<Secret, Failure> {
        let set = || {
            let parameters = SetSecretParameters {
                value: Some(value.to_owned()),
                tags: Some(HashMap::from([(
                    names::NAME_TAG.to_owned(),
                    name.as_str().to_owned(),
                )])),
                ..Default::default()
            };
            async move {
                let body: RequestContent<SetSecretParameters> = parameters.try_into()?;
                let mut written = self
                    .clients
                    .secrets
                    .set_secret(secret, body, None)
                    .await?
                    .into_model()?;
                // The value is ours already; keep no second copy of the key around.
                if let Some(value) = written.value.take() {
                    drop(Zeroizing::new(value));
                }
                Ok(written)
            }
        };
        retry(Permission::Set, self.backoff, deadline, set).await
    }

    async fn read_secret(
        &self,
        name: &KeyName,
        secret: &str,
        deadline: Instant,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let versions = self
            .versions(secret, deadline)
            .await
            .map_err(Failure::into_store_error)?;
        let Some(current) = current(&versions) else {
            return Err(StoreError::NotFound);
        };
        let version = current.id.as_deref().and_then(version_of).ok_or_else(|| {
            StoreError::Failed(
                format!("Azure Key Vault listed a version of '{secret}' without ID").into(),
            )
        })?;
        check_usable(current.attributes.as_ref(), secret)?;
        let get = || {
            let options = SecretClientGetSecretOptions {
                secret_version: Some(version.to_owned()),
                ..Default::default()
            };
            async move {
                self.clients
                    .secrets
                    .get_secret(secret, Some(options))
                    .await?
                    .into_model()
            }
        };
        let stored = retry(Permission::Get, self.backoff, deadline, get)
            .await
            .map_err(Failure::into_store_error)?;
        if !holds(name, stored.id.as_deref(), stored.tags.as_ref()) {
            return Err(StoreError::NotFound);
        }
        check_usable(stored.attributes.as_ref(), secret)?;
        let value = stored.value.ok_or_else(|| {
            StoreError::Failed(
                format!("Azure Key Vault returned secret '{secret}' without a value").into(),
            )
        })?;
        Ok(Zeroizing::new(value.into_bytes()))
    }

    async fn delete_secret(
        &self,
        name: &KeyName,
        secret: &str,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        let versions = self
            .versions(secret, deadline)
            .await
            .map_err(Failure::into_store_error)?;
        let Some(current) = current(&versions) else {
            return Err(StoreError::NotFound);
        };
        // Key Vault ignores case: deleting `KEY` must not delete the key stored as `key`.
        if !holds(name, current.id.as_deref(), current.tags.as_ref()) {
            return Err(StoreError::NotFound);
        }
        let delete = || self.clients.secrets.delete_secret(secret, None);
        retry(Permission::Delete, self.backoff, deadline, delete)
            .await
            .map_err(Failure::into_store_error)?;
        // The key is gone; failing to purge only keeps its name reserved, as in KES.
        if let Err(failure) = self.purge(secret, deadline).await {
            tracing::warn!(
                secret,
                %failure,
                "deleted key's secret not purged: its name stays reserved until Azure purges it"
            );
        }
        Ok(())
    }

    async fn list_names(&self, prefix: &str, deadline: Instant) -> Result<Vec<String>, Failure> {
        let list = || async {
            let mut pager = self.clients.secrets.list_secret_properties(None)?;
            let mut names = Vec::new();
            while let Some(secret) = pager.try_next().await? {
                let tag = secret
                    .tags
                    .as_ref()
                    .and_then(|tags| tags.get(names::NAME_TAG));
                let name = secret
                    .id
                    .as_deref()
                    .and_then(secret_name_of)
                    .and_then(|secret| names::key_name(secret, tag.map(String::as_str)));
                if let Some(name) = name.filter(|name| name.starts_with(prefix)) {
                    names.push(name);
                }
            }
            Ok(names)
        };
        let mut names = retry(Permission::List, self.backoff, deadline, list).await?;
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }
}

#[async_trait::async_trait]
impl KeyStore for AzureStore {
    async fn create(&self, name: &KeyName, value: &[u8]) -> Result<(), StoreError> {
        let value = std::str::from_utf8(value).map_err(|_| {
            StoreError::Failed("Key Vault secrets hold text; the key value is not UTF-8".into())
        })?;
        let secret = names::secret_name(name);
        self.create_once(name, &secret, value, self.deadline())
            .await
    }

    async fn get(&self, name: &KeyName) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let secret = names::secret_name(name);
        self.read_secret(name, &secret, self.deadline()).await
    }

    async fn delete(&self, name: &KeyName) -> Result<(), StoreError> {
        let secret = names::secret_name(name);
        self.delete_secret(name, &secret, self.deadline()).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.list_names(prefix, self.deadline())
            .await
            .map_err(Failure::into_store_error)
    }

    async fn probe(&self, name: &KeyName) -> Vec<super::ProbeStep> {
        self.probe_permissions(name).await
    }

    async fn status(&self) -> Result<Duration, StoreError> {
        // As KES: an unauthenticated GET of the vault URL. It costs no token and no throttling
        // budget; any answer but a server error means Key Vault is there.
        let start = Instant::now();
        let probe = self.clients.http.get(self.clients.endpoint.clone()).send();
        match tokio::time::timeout(self.timeout, probe).await {
            Ok(Ok(response)) if response.status().is_server_error() => {
                Err(StoreError::Unreachable(
                    format!(
                        "Azure Key Vault answered HTTP {}",
                        response.status().as_u16()
                    )
                    .into(),
                ))
            }
            Ok(Ok(_)) => Ok(start.elapsed()),
            Ok(Err(err)) => Err(StoreError::Unreachable(
                format!("Azure Key Vault is not reachable: {}", error_chain(&err)).into(),
            )),
            Err(_) => Err(StoreError::Unreachable(
                "Azure Key Vault did not answer in time".into(),
            )),
        }
    }
}

impl fmt::Debug for AzureStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureStore")
            .field("endpoint", &self.clients.endpoint.as_str())
            .field("credential", &self.clients.credential)
            .finish_non_exhaustive()
    }
}

/// The version that is the key, of `versions` sorted oldest first: the oldest enabled one (later
/// enabled versions, and disabled ones before it, lost a create race), else the oldest, which
/// reads then refuse as disabled.
fn current(versions: &[SecretProperties]) -> Option<&SecretProperties> {
    versions
        .iter()
        .find(|v| is_enabled(v))
        .or_else(|| versions.first())
}

/// Whether a version is enabled; Key Vault omits the attribute only where it is the default, true.
fn is_enabled(version: &SecretProperties) -> bool {
    version.attributes.as_ref().and_then(|a| a.enabled) != Some(false)
}

/// Whether a stored secret holds `name` exactly: by its name tag, or for secrets written by Go KES
/// (which have none) by the name in its ID, compared case-sensitively.
fn holds(name: &KeyName, id: Option<&str>, tags: Option<&HashMap<String, String>>) -> bool {
    let tag = tags.and_then(|tags| tags.get(names::NAME_TAG));
    id.and_then(secret_name_of)
        .and_then(|secret| names::key_name(secret, tag.map(String::as_str)))
        .is_some_and(|stored| stored == name.as_str())
}

/// Refuses secrets that Key Vault would not hand out, as KES does (it answers 422, then 502).
fn check_usable(attributes: Option<&SecretAttributes>, secret: &str) -> Result<(), StoreError> {
    let Some(attributes) = attributes else {
        return Ok(());
    };
    let now = OffsetDateTime::now_utc();
    let problem = if attributes.enabled == Some(false) {
        "is disabled"
    } else if attributes.not_before.is_some_and(|nbf| nbf > now) {
        "is not valid yet"
    } else if attributes.expires.is_some_and(|exp| exp <= now) {
        "has expired"
    } else {
        return Ok(());
    };
    Err(StoreError::Failed(
        format!("Azure Key Vault secret '{secret}' {problem}").into(),
    ))
}

/// `name` from a secret ID `https://<vault>/secrets/<name>[/<version>]`.
fn secret_name_of(id: &str) -> Option<&str> {
    id_segments(id).and_then(|(name, _)| Some(name).filter(|n| !n.is_empty()))
}

/// `version` from a secret ID `https://<vault>/secrets/<name>/<version>`.
fn version_of(id: &str) -> Option<&str> {
    id_segments(id).and_then(|(_, version)| version.filter(|v| !v.is_empty()))
}

fn id_segments(id: &str) -> Option<(&str, Option<&str>)> {
    let (_, rest) = id.split_once("://")?;
    let (_, path) = rest.split_once('/')?;
    let path = path.split(['?', '#']).next()?;
    let mut segments = path.split('/');
    if segments.next()? != "secrets" {
        return None;
    }
    let name = segments.next()?;
    Some((name, segments.next()))
}

/// Sleeps for the `attempt`th backoff delay, unless that would pass `deadline`.
async fn sleep_within(backoff: Backoff, attempt: u32, deadline: Instant) -> bool {
    let delay = backoff.delay(attempt);
    if Instant::now() + delay >= deadline {
        return false;
    }
    tokio::time::sleep(delay).await;
    true
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_give_name_and_version() {
        let id = "https://v.vault.azure.net/secrets/My-Key/0123abcd";
        assert_eq!(secret_name_of(id), Some("My-Key"));
        assert_eq!(version_of(id), Some("0123abcd"));
        assert_eq!(
            secret_name_of("https://v.vault.azure.net/secrets/k"),
            Some("k")
        );
        assert_eq!(version_of("https://v.vault.azure.net/secrets/k"), None);
        assert_eq!(secret_name_of("https://v.vault.azure.net/keys/k/1"), None);
        assert_eq!(secret_name_of("not a url"), None);
    }

    #[test]
    fn a_secret_holds_only_its_exact_name() {
        let id = Some("https://v/secrets/key/1");
        let key = KeyName::new("key").unwrap();
        let upper = KeyName::new("KEY").unwrap();
        let tag = |n: &str| HashMap::from([(names::NAME_TAG.to_owned(), n.to_owned())]);
        // Written by Go KES: no tag, the ID decides.
        assert!(holds(&key, id, None));
        assert!(!holds(&upper, id, None));
        // Written by kesrs: the tag decides, whatever case Azure reports.
        assert!(holds(&upper, id, Some(&tag("KEY"))));
        assert!(!holds(&key, id, Some(&tag("KEY"))));
        assert!(!holds(&key, None, None));
    }

    #[test]
    fn disabled_future_and_expired_secrets_are_refused() {
        let now = OffsetDateTime::now_utc();
        let hour = time::Duration::hours(1);
        let cases = [
            (Some(false), None, None, false),
            (Some(true), Some(now + hour), None, false),
            (None, None, Some(now - hour), false),
            (Some(true), Some(now - hour), Some(now + hour), true),
        ];
        for (enabled, not_before, expires, ok) in cases {
            let attributes = SecretAttributes {
                enabled,
                not_before,
                expires,
                ..Default::default()
            };
            assert_eq!(check_usable(Some(&attributes), "s").is_ok(), ok);
        }
        assert!(check_usable(None, "s").is_ok());
    }
}
