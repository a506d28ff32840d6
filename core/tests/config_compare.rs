//! Key-store configs compare by value, so that a reload keeps the open key store when it is unchanged.

#![allow(clippy::unwrap_used)]

use kesrs_core::config::Secret;
use kesrs_core::Config;

fn config(keystore: &str) -> Config {
    let text = format!(
        "admin:\n  identity: disabled\ntls:\n  key: ./key.pem\n  cert: ./cert.pem\nkeystore:\n{keystore}"
    );
    Config::from_yaml(&text, &|_| None).unwrap()
}

const AZURE: &str = "  azure:\n    keyvault:\n      endpoint: https://v.vault.azure.net\n      credentials:\n        tenant_id: t\n        client_id: c\n        client_secret: SECRET\n";

#[test]
fn key_store_configs_compare_by_value() {
    let fs = config("  fs:\n    path: ./keys\n");
    assert_eq!(fs.keystore, config("  fs:\n    path: ./keys\n").keystore);
    assert_ne!(fs.keystore, config("  fs:\n    path: ./other\n").keystore);
    let azure = config(AZURE);
    assert_eq!(azure.keystore, config(AZURE).keystore);
    assert_ne!(azure.keystore, fs.keystore);
    // A rotated client secret is a different key store config.
    assert_ne!(
        azure.keystore,
        config(&AZURE.replace("SECRET", "ROTATED")).keystore
    );
    assert_ne!(
        azure.keystore,
        config(&AZURE.replace("SECRET", "SECRET2")).keystore
    );
}

#[test]
fn secrets_compare_by_content() {
    assert_eq!(Secret::new("abc".into()), Secret::new("abc".into()));
    assert_ne!(Secret::new("abc".into()), Secret::new("abd".into()));
    assert_ne!(Secret::new("abc".into()), Secret::new("abcd".into()));
}
