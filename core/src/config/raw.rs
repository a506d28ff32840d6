//! The serde mirror of the YAML file: what the text says, before environment substitution and checks.
//!
//! Every scalar is read as its raw text (`Option<String>`; YAML null is `None`), because the env fields
//! must see `${NAME}` before anything is decoded, and because KES reads `admin.identity: 123` or
//! `skip_auth: yes` as text too. Unknown keys are ignored, as in KES.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

/// The top level of the file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawConfig {
    pub(super) version: Option<String>,
    pub(super) address: Option<String>,
    pub(super) admin: Option<RawAdmin>,
    pub(super) tls: Option<RawTls>,
    pub(super) policy: Option<Entries<Option<RawPolicy>>>,
    pub(super) cache: Option<RawCache>,
    pub(super) api: Option<Entries<Option<RawApi>>>,
    pub(super) log: Option<RawLog>,
    /// kesrs extension; Go KES ignores the key.
    pub(super) http: Option<RawHttp>,
    pub(super) keys: Option<Vec<Option<RawKey>>>,
    pub(super) keystore: Option<RawKeyStore>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawAdmin {
    pub(super) identity: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawTls {
    pub(super) key: Option<String>,
    pub(super) cert: Option<String>,
    pub(super) password: Option<String>,
    pub(super) auth: Option<String>,
    pub(super) ca: Option<String>,
    pub(super) proxy: Option<RawProxy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawProxy {
    pub(super) identities: Option<Vec<Option<String>>>,
    pub(super) header: Option<RawProxyHeader>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawProxyHeader {
    pub(super) cert: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawPolicy {
    pub(super) allow: Option<Vec<Option<String>>>,
    pub(super) deny: Option<Vec<Option<String>>>,
    pub(super) identities: Option<Vec<Option<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawCache {
    pub(super) expiry: Option<RawExpiry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawExpiry {
    pub(super) any: Option<String>,
    pub(super) unused: Option<String>,
    pub(super) offline: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawApi {
    pub(super) skip_auth: Option<String>,
    pub(super) timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawLog {
    pub(super) error: Option<String>,
    pub(super) audit: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawHttp {
    pub(super) idle_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawKey {
    pub(super) name: Option<String>,
}

/// `keystore:`. A section that is absent or null is not configured, as with KES's pointers.
#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawKeyStore {
    pub(super) fs: Option<RawFs>,
    pub(super) azure: Option<RawAzure>,
    // The other KES key stores are recognised only to reject them by name.
    pub(super) vault: Option<IgnoredAny>,
    pub(super) fortanix: Option<IgnoredAny>,
    pub(super) gemalto: Option<IgnoredAny>,
    pub(super) gcp: Option<IgnoredAny>,
    pub(super) aws: Option<IgnoredAny>,
    pub(super) entrust: Option<IgnoredAny>,
    pub(super) kes: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawFs {
    pub(super) path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawAzure {
    pub(super) keyvault: Option<RawKeyVault>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawKeyVault {
    pub(super) endpoint: Option<String>,
    pub(super) credentials: Option<RawAzureCredentials>,
    pub(super) managed_identity: Option<RawManagedIdentity>,
    // kesrs extensions; Go KES ignores them, so one file still serves both servers.
    pub(super) tls: Option<RawKeyVaultTls>,
    pub(super) timeout: Option<String>,
}

/// `keystore.azure.keyvault.tls` (kesrs extension).
#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawKeyVaultTls {
    pub(super) ca: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawAzureCredentials {
    pub(super) tenant_id: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "a mapping")]
pub(super) struct RawManagedIdentity {
    pub(super) client_id: Option<String>,
}

/// A mapping read in file order with duplicate keys kept, so that validation can reject a policy or
/// route defined twice instead of silently keeping one (yaml.v3 rejects duplicate keys too).
#[derive(Debug)]
pub(super) struct Entries<T>(pub(super) Vec<(String, T)>);

impl<T> Default for Entries<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for EntriesVisitor<T> {
            type Value = Entries<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value::<T>()?;
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}
