//! Creating a key so that exactly one create of a name succeeds.
//!
//! Key Vault has no conditional create: setting a secret that exists adds a version, so every racing
//! creator "succeeds" and the vault keeps one version per creator. kesrs decides the race itself:
//!
//! - In one process, creates of one secret name run one at a time. A create that waited while
//!   another one succeeded answers `Exists` without asking Azure; one that waited while another
//!   failed tries for itself (the failure was the other's: a timeout or a throttled call), within
//!   its own deadline.
//! - Across processes (servers sharing a vault), a creator reads the versions back after its write.
//!   Versions are ordered by creation time, then version ID, and the oldest enabled one is the key:
//!   every reader uses it. A creator whose version is not that one disables its version (Key Vault
//!   cannot delete one version) and answers `Exists`.
//! - Key Vault records creation times in whole seconds, so a version written later in the same
//!   second with a smaller ID would still come first. A creator that comes first therefore reads
//!   back once more [`SETTLE`] after its write, when every version of its second has been written,
//!   and answers only then.
//!
//! The oldest version never disables itself, so readers always agree on it, Go KES included (it
//! reads the oldest version; see docs/azure.md for versions created in the same second).

use std::sync::Arc;
use std::time::Duration;

use azure_core::http::RequestContent;
use azure_security_keyvault_secrets::models::{
    SecretAttributes, SecretClientUpdateSecretPropertiesOptions, SecretProperties,
    UpdateSecretPropertiesParameters,
};
use dashmap::DashMap;
use tokio::time::Instant;

use super::retry::{retry, Failure, Permission};
use super::{is_enabled, sleep_within, version_of, AzureStore};
use crate::{KeyName, StoreError};

/// How long after its write a creator reads the versions back a second time. Key Vault timestamps
/// versions in whole seconds: one second after the write returned, the vault's clock has left the
/// second of our version, so a later write cannot tie with it any more.
const SETTLE: Duration = Duration::from_secs(1);

/// The creates in flight in this process, per secret name in lower case (Key Vault ignores case,
/// so `KEY` and `key` race for one secret).
#[derive(Default)]
pub(super) struct Flights {
    names: DashMap<String, Arc<Flight>>,
}

/// Held by the create running for a name; holds when a create of the name last succeeded, so that
/// the creates that waited for it answer at once.
type Flight = tokio::sync::Mutex<Option<Instant>>;

/// What reading the versions back after a write found.
#[derive(Debug, PartialEq, Eq)]
enum Standing {
    /// Our version is the oldest enabled one (or the secret is gone: deleted after our write).
    First,
    /// Another version comes first: the key is someone else's.
    Behind,
}

impl AzureStore {
    /// Creates `secret` holding `value` unless it exists, as the only successful creator.
    pub(super) async fn create_once(
        &self,
        name: &KeyName,
        secret: &str,
        value: &str,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        let flight = FlightGuard::new(&self.creates, secret);
        let arrived = Instant::now();
        // A tokio mutex held across the create is the single flight itself: the waiters must not
        // start their own create while this one runs. The cache's reads are single-flight alike.
        let mut last_success = tokio::time::timeout_at(deadline, flight.flight.lock())
            .await
            .map_err(|_| Failure::Deadline.into_store_error())?;
        if last_success.is_some_and(|at| at >= arrived) {
            return Err(StoreError::Exists);
        }
        let created = self.create_secret(name, secret, value, deadline).await;
        if created.is_ok() {
            *last_success = Some(Instant::now());
        }
        created
    }

    async fn create_secret(
        &self,
        name: &KeyName,
        secret: &str,
        value: &str,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        let versions = self
            .versions(secret, deadline)
            .await
            .map_err(Failure::into_store_error)?;
        if !versions.is_empty() {
            return Err(StoreError::Exists);
        }
        let ours = self.write(name, secret, value, deadline).await?;
        if self.standing(secret, &ours, deadline).await? == Standing::Behind {
            return Err(self.withdraw(secret, &ours).await);
        }
        if Instant::now() + SETTLE >= deadline {
            // Our version may still be the key; the client learns that from its next create.
            return Err(Failure::Deadline.into_store_error());
        }
        tokio::time::sleep(SETTLE).await;
        if self.standing(secret, &ours, deadline).await? == Standing::Behind {
            return Err(self.withdraw(secret, &ours).await);
        }
        Ok(())
    }

    /// Sets the secret, purging a soft-deleted one of the same name first (as KES does); returns
    /// the new version's ID.
    async fn write(
        &self,
        name: &KeyName,
        secret: &str,
        value: &str,
        deadline: Instant,
    ) -> Result<String, StoreError> {
        let mut attempt = 0;
        loop {
            let conflict = match self.set_tagged(name, secret, value, deadline).await {
                Ok(written) => {
                    return written
                        .id
                        .as_deref()
                        .and_then(version_of)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            StoreError::Failed(
                                format!(
                                    "Azure Key Vault stored secret '{secret}' without reporting \
                                     its version"
                                )
                                .into(),
                            )
                        });
                }
                Err(conflict @ Failure::Conflict(_)) => conflict,
                Err(failure) => return Err(failure.into_store_error()),
            };
            // A soft-deleted secret holds the name: purge it, then set again.
            if !conflict.is_being_deleted() {
                self.purge(secret, deadline)
                    .await
                    .map_err(Failure::into_store_error)?;
            }
            if !sleep_within(self.backoff, attempt, deadline).await {
                return Err(conflict.into_store_error());
            }
            attempt += 1;
        }
    }

    /// Whether version `ours` is the oldest enabled version of `secret`.
    async fn standing(
        &self,
        secret: &str,
        ours: &str,
        deadline: Instant,
    ) -> Result<Standing, StoreError> {
        let versions = self
            .versions(secret, deadline)
            .await
            .map_err(Failure::into_store_error)?;
        Ok(standing(&versions, ours))
    }

    /// Disables our losing version, so that no reader (Go KES in a same-second tie included) can
    /// take it for the key, and answers `Exists`. A version left enabled is harmless to kesrs (it is
    /// not the oldest), so failing to disable it only logs.
    ///
    /// It has an operation's time of its own: the read-backs before it may have used up the
    /// create's deadline (a slow vault), and a version written must not stay enabled for that.
    async fn withdraw(&self, secret: &str, ours: &str) -> StoreError {
        let deadline = self.deadline();
        let disable = || {
            let parameters = UpdateSecretPropertiesParameters {
                secret_attributes: Some(SecretAttributes {
                    enabled: Some(false),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let options = SecretClientUpdateSecretPropertiesOptions {
                secret_version: Some(ours.to_owned()),
                ..Default::default()
            };
            async move {
                let body: RequestContent<UpdateSecretPropertiesParameters> =
                    parameters.try_into()?;
                self.clients
                    .secrets
                    .update_secret_properties(secret, body, Some(options))
                    .await
            }
        };
        match retry(Permission::Set, self.backoff, deadline, disable).await {
            Ok(_) => tracing::info!(
                secret,
                version = ours,
                "another server created this key first; disabled this server's version"
            ),
            Err(failure) => tracing::warn!(
                secret,
                version = ours,
                %failure,
                "another server created this key first; this server's version stays enabled \
                 (kesrs readers ignore it: it is not the oldest)"
            ),
        }
        StoreError::Exists
    }
}

/// Where version `ours` stands among `versions` (oldest first).
fn standing(versions: &[SecretProperties], ours: &str) -> Standing {
    let first = versions
        .iter()
        .find(|v| is_enabled(v))
        .and_then(|v| v.id.as_deref())
        .and_then(version_of);
    match first {
        Some(first) if first == ours => Standing::First,
        Some(_) => Standing::Behind,
        // Gone: deleted after our write, so our create came first and succeeded.
        None if versions.is_empty() => Standing::First,
        // Ours disabled by someone else, nothing enabled: not a key we can claim.
        None => Standing::Behind,
    }
}

/// A create's handle on the flight of a name. The last one to let go removes the name, whether the
/// create succeeded, failed or was cancelled; otherwise every name ever created would stay.
struct FlightGuard<'a> {
    flights: &'a Flights,
    key: String,
    flight: Arc<Flight>,
}

impl<'a> FlightGuard<'a> {
    fn new(flights: &'a Flights, secret: &str) -> Self {
        let key = secret.to_ascii_lowercase();
        let flight = flights
            .names
            .entry(key.clone())
            .or_insert_with(|| Arc::new(Flight::new(None)))
            .clone();
        Self {
            flights,
            key,
            flight,
        }
    }
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        // Two references: the map's and this guard's. More means another create still waits on it.
        self.flights.names.remove_if(&self.key, |_, flight| {
            Arc::ptr_eq(flight, &self.flight) && Arc::strong_count(flight) <= 2
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str, enabled: bool) -> SecretProperties {
        // `SecretProperties` is non-exhaustive: filled field by field.
        let attributes = SecretAttributes {
            enabled: Some(enabled),
            ..Default::default()
        };
        let mut version = SecretProperties::default();
        version.id = Some(format!("https://v.vault.azure.net/secrets/k/{id}"));
        version.attributes = Some(attributes);
        version
    }

    #[test]
    fn the_oldest_enabled_version_stands_first() {
        let ours = "bb";
        assert_eq!(standing(&[version("bb", true)], ours), Standing::First);
        assert_eq!(
            standing(&[version("aa", true), version("bb", true)], ours),
            Standing::Behind
        );
        // A version that withdrew (disabled) does not count.
        assert_eq!(
            standing(&[version("aa", false), version("bb", true)], ours),
            Standing::First
        );
        // Gone after our write: deleted, so our create happened before the delete.
        assert_eq!(standing(&[], ours), Standing::First);
        // Ours disabled by someone else, nothing enabled: not a key we can claim.
        assert_eq!(standing(&[version("bb", false)], ours), Standing::Behind);
    }
}
