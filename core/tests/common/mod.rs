//! What the Azure suites share: a store's options for the in-repo fake Key Vault.

// Each test binary uses some of these helpers.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use fake_keyvault::{FakeKeyVault, CLIENT_SECRET};
use kesrs_core::config::{AzureCredentials, Secret};
use kesrs_core::keystore::AzureOptions;

/// Options that reach `fake`: its client secret, its CA and its Entra ID endpoint. No `resolve`: the
/// fake's `*.localhost` names resolve as `localhost` does (RFC 6761).
pub fn options(fake: &FakeKeyVault) -> AzureOptions {
    let mut options = AzureOptions::new(
        fake.endpoint(),
        AzureCredentials::ClientSecret {
            tenant_id: "fake-tenant".into(),
            client_id: "kesrs-tests".into(),
            client_secret: Secret::new(CLIENT_SECRET.into()),
        },
    );
    options.ca_certificates.push(fake.ca_der());
    options.authority_host = Some(fake.authority());
    options
}

/// [`options`] with short timeouts and retry delays, for tests that make the fake fail.
pub fn fast_options(fake: &FakeKeyVault) -> AzureOptions {
    let mut options = options(fake);
    options.request_timeout = Duration::from_secs(1);
    options.timeout = Duration::from_secs(3);
    options.retry_delay = Duration::from_millis(20);
    options.max_retry_delay = Duration::from_millis(200);
    options
}
