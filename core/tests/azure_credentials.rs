//! Credentials that read the environment: managed identity, the default chain and
//! `AZURE_AUTHORITY_HOST`. The environment is process-wide, so this binary runs a single test that
//! sets and clears variables step by step.

// The helpers below are not `#[test]` functions, so clippy.toml's test allowances do not reach them;
// a panic in a test helper is a failed test, not a crashed server.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::time::Duration;

use fake_keyvault::{FakeKeyVault, Op, CLIENT_SECRET, IDENTITY_HEADER};
use kesrs_core::config::AzureCredentials;
use kesrs_core::keystore::{AzureOptions, AzureStore};
use kesrs_core::{KeyName, KeyStore};

const VARS: [&str; 8] = [
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "MSI_ENDPOINT",
];

fn options(fake: &FakeKeyVault, credentials: AzureCredentials) -> AzureOptions {
    let mut options = AzureOptions::new(fake.endpoint(), credentials);
    options.ca_certificates.push(fake.ca_der());
    options.resolve = fake.resolve();
    options.request_timeout = Duration::from_secs(1);
    options.timeout = Duration::from_secs(3);
    options
}

fn set(vars: &[(&str, &str)]) {
    for var in VARS {
        std::env::remove_var(var);
    }
    for (name, value) in vars {
        std::env::set_var(name, value);
    }
}

async fn round_trip(store: &AzureStore, key: &str) {
    let name = KeyName::new(key).unwrap();
    store.create(&name, b"value").await.unwrap();
    assert_eq!(&*store.get(&name).await.unwrap(), b"value");
}

#[tokio::test]
async fn credentials_from_config_and_environment() {
    let fake = FakeKeyVault::start().await.unwrap();

    // Client secret from the config, authority from AZURE_AUTHORITY_HOST (sovereign clouds).
    set(&[("AZURE_AUTHORITY_HOST", &fake.authority())]);
    let store = AzureStore::connect(&options(
        &fake,
        AzureCredentials::ClientSecret {
            tenant_id: "fake-tenant".into(),
            client_id: "app".into(),
            client_secret: kesrs_core::config::Secret::new(CLIENT_SECRET.into()),
        },
    ))
    .unwrap();
    round_trip(&store, "client-secret").await;
    assert_eq!(fake.count(Op::Token), 1);

    // User-assigned managed identity from the config (App Service style endpoint).
    set(&[
        ("IDENTITY_ENDPOINT", &fake.identity_endpoint()),
        ("IDENTITY_HEADER", IDENTITY_HEADER),
    ]);
    let store = AzureStore::connect(&options(
        &fake,
        AzureCredentials::ManagedIdentity {
            client_id: "mi-client".into(),
        },
    ))
    .unwrap();
    round_trip(&store, "managed-identity").await;
    assert_eq!(fake.count(Op::ManagedIdentity), 1);
    assert!(format!("{store:?}").contains("user-assigned managed identity"));

    // Default chain, environment client secret first.
    set(&[
        ("AZURE_TENANT_ID", "fake-tenant"),
        ("AZURE_CLIENT_ID", "app"),
        ("AZURE_CLIENT_SECRET", CLIENT_SECRET),
        ("AZURE_AUTHORITY_HOST", &fake.authority()),
        ("IDENTITY_ENDPOINT", &fake.identity_endpoint()),
        ("IDENTITY_HEADER", IDENTITY_HEADER),
    ]);
    let store = AzureStore::connect(&options(&fake, AzureCredentials::Default)).unwrap();
    round_trip(&store, "default-env").await;
    assert_eq!(fake.count(Op::Token), 2);
    assert!(format!("{store:?}").contains("AZURE_* environment"));

    // Default chain, workload identity (AKS) next.
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "federated-service-account-token").unwrap();
    set(&[
        ("AZURE_TENANT_ID", "fake-tenant"),
        ("AZURE_CLIENT_ID", "app"),
        ("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AZURE_AUTHORITY_HOST", &fake.authority()),
    ]);
    let store = AzureStore::connect(&options(&fake, AzureCredentials::Default)).unwrap();
    round_trip(&store, "default-workload").await;
    assert_eq!(fake.count(Op::Token), 3);
    assert!(format!("{store:?}").contains("workload identity"));

    // Default chain, managed identity last.
    set(&[
        ("IDENTITY_ENDPOINT", &fake.identity_endpoint()),
        ("IDENTITY_HEADER", IDENTITY_HEADER),
    ]);
    let store = AzureStore::connect(&options(&fake, AzureCredentials::Default)).unwrap();
    round_trip(&store, "default-managed-identity").await;
    assert_eq!(fake.count(Op::ManagedIdentity), 2);
    set(&[]);
}
