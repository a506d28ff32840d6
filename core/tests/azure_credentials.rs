//! Credentials that read the environment: managed identity, the default chain and
//! `AZURE_AUTHORITY_HOST`. The environment is process-wide and setting it races with any thread
//! reading it, so each step runs `step_in_child` (this binary's one ignored test) in a child process
//! given exactly the variables of the step; the parent checks what the fake saw.

// The helpers below are not `#[test]` functions, so clippy.toml's test allowances do not reach them;
// a panic in a test helper is a failed test, not a crashed server.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::Command;
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

/// The child's instructions, in variables of its own: the vault, its CA file, the credentials the
/// config names (`client-secret`, `managed-identity` or `default`) and the key to round-trip.
const STEP_VAULT: &str = "KESRS_TEST_STEP_VAULT";
const STEP_CA: &str = "KESRS_TEST_STEP_CA";
const STEP_CREDENTIALS: &str = "KESRS_TEST_STEP_CREDENTIALS";
const STEP_KEY: &str = "KESRS_TEST_STEP_KEY";

/// Runs one step in a child process with `vars` as its only Azure variables, and returns what it
/// printed: the store's `Debug`, which names the credential it chose.
async fn step(
    fake: &FakeKeyVault,
    ca: &Path,
    credentials: &str,
    key: &str,
    vars: &[(&str, &str)],
) -> String {
    let mut child = Command::new(std::env::current_exe().unwrap());
    child.args([
        "--exact",
        "step_in_child",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for var in VARS {
        child.env_remove(var);
    }
    child
        .envs(vars.iter().copied())
        .env(STEP_VAULT, fake.endpoint())
        .env(STEP_CA, ca)
        .env(STEP_CREDENTIALS, credentials)
        .env(STEP_KEY, key);
    // The fake answers on this test's runtime thread: wait for the child on another.
    let out = tokio::task::spawn_blocking(move || child.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "step {key} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // The child ran the step, not nothing: libtest says so when `--exact` matched no test.
    assert!(
        stdout.contains("1 passed"),
        "step {key} did not run:\n{stdout}"
    );
    stdout
}

#[tokio::test]
async fn credentials_from_config_and_environment() {
    let fake = FakeKeyVault::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, fake.ca_pem()).unwrap();

    // Client secret from the config, authority from AZURE_AUTHORITY_HOST (sovereign clouds).
    step(
        &fake,
        &ca,
        "client-secret",
        "client-secret",
        &[("AZURE_AUTHORITY_HOST", &fake.authority())],
    )
    .await;
    assert_eq!(fake.count(Op::Token), 1);

    // User-assigned managed identity from the config (App Service style endpoint).
    let debug = step(
        &fake,
        &ca,
        "managed-identity",
        "managed-identity",
        &[
            ("IDENTITY_ENDPOINT", &fake.identity_endpoint()),
            ("IDENTITY_HEADER", IDENTITY_HEADER),
        ],
    )
    .await;
    assert_eq!(fake.count(Op::ManagedIdentity), 1);
    assert!(debug.contains("user-assigned managed identity"), "{debug}");

    // Default chain, environment client secret first.
    let debug = step(
        &fake,
        &ca,
        "default",
        "default-env",
        &[
            ("AZURE_TENANT_ID", "fake-tenant"),
            ("AZURE_CLIENT_ID", "app"),
            ("AZURE_CLIENT_SECRET", CLIENT_SECRET),
            ("AZURE_AUTHORITY_HOST", &fake.authority()),
            ("IDENTITY_ENDPOINT", &fake.identity_endpoint()),
            ("IDENTITY_HEADER", IDENTITY_HEADER),
        ],
    )
    .await;
    assert_eq!(fake.count(Op::Token), 2);
    assert!(debug.contains("AZURE_* environment"), "{debug}");

    // Default chain, workload identity (AKS) next.
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "federated-service-account-token").unwrap();
    let debug = step(
        &fake,
        &ca,
        "default",
        "default-workload",
        &[
            ("AZURE_TENANT_ID", "fake-tenant"),
            ("AZURE_CLIENT_ID", "app"),
            ("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap()),
            ("AZURE_AUTHORITY_HOST", &fake.authority()),
        ],
    )
    .await;
    assert_eq!(fake.count(Op::Token), 3);
    assert!(debug.contains("workload identity"), "{debug}");

    // Default chain, managed identity last.
    step(
        &fake,
        &ca,
        "default",
        "default-managed-identity",
        &[
            ("IDENTITY_ENDPOINT", &fake.identity_endpoint()),
            ("IDENTITY_HEADER", IDENTITY_HEADER),
        ],
    )
    .await;
    assert_eq!(fake.count(Op::ManagedIdentity), 2);
}

/// One step, in the process `step` started: connects with the credentials it names, in the
/// environment it was given, and round-trips a key through the parent's fake vault.
#[tokio::test]
#[ignore = "a step of credentials_from_config_and_environment, run by it in a child process"]
async fn step_in_child() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let credentials = match var(STEP_CREDENTIALS).as_str() {
        "client-secret" => AzureCredentials::ClientSecret {
            tenant_id: "fake-tenant".into(),
            client_id: "app".into(),
            client_secret: kesrs_core::config::Secret::new(CLIENT_SECRET.into()),
        },
        "managed-identity" => AzureCredentials::ManagedIdentity {
            client_id: "mi-client".into(),
        },
        "default" => AzureCredentials::Default,
        other => panic!("unknown credentials {other:?}"),
    };
    let mut options = AzureOptions::new(var(STEP_VAULT), credentials);
    options.add_ca_path(Path::new(&var(STEP_CA))).unwrap();
    // No `resolve`: the fake's host names are `*.localhost`, which the store resolves as localhost.
    options.request_timeout = Duration::from_secs(1);
    options.timeout = Duration::from_secs(3);
    let store = AzureStore::connect(&options).unwrap();

    let name = KeyName::new(&var(STEP_KEY)).unwrap();
    store.create(&name, b"value").await.unwrap();
    assert_eq!(&*store.get(&name).await.unwrap(), b"value");
    println!("{store:?}");
}
