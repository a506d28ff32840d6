//! `kesrs check`'s key-store probe on Azure, against the fake Key Vault: every secret permission is
//! tried on a temporary secret that is gone afterwards, and a missing one is named.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use fake_keyvault::{FakeKeyVault, Op};
use kesrs_core::keystore::{AzureStore, ProbeStep};
use kesrs_core::{KeyName, KeyStore};

async fn start() -> (FakeKeyVault, AzureStore) {
    let fake = FakeKeyVault::start().await.unwrap();
    let mut options = common::fast_options(&fake);
    options.resolve = fake.resolve();
    let store = AzureStore::connect(&options).unwrap();
    (fake, store)
}

fn outcome(steps: &[ProbeStep]) -> Vec<(&'static str, &'static str)> {
    steps
        .iter()
        .map(|step| {
            let result = match &step.result {
                Some(Ok(())) => "ok",
                Some(Err(_)) => "failed",
                None => "not tried",
            };
            (step.permission, result)
        })
        .collect()
}

fn error(steps: &[ProbeStep], permission: &str) -> String {
    let step = steps.iter().find(|s| s.permission == permission).unwrap();
    match &step.result {
        Some(Err(err)) => err.to_string(),
        other => panic!("{permission}: {other:?}"),
    }
}

#[tokio::test]
async fn every_permission_passes_and_nothing_is_left_behind() {
    let (fake, store) = start().await;
    let name = KeyName::new("kesrs-check-probe").unwrap();
    let steps = store.probe(&name).await;
    assert_eq!(
        outcome(&steps),
        [
            ("list", "ok"),
            ("set", "ok"),
            ("get", "ok"),
            ("delete", "ok"),
            ("purge", "ok")
        ]
    );
    assert!(fake.secret("kesrs-check-probe").is_none());
    assert!(!fake.is_soft_deleted("kesrs-check-probe"));
    assert!(store.list("").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_missing_permission_is_named() {
    let (fake, store) = start().await;
    let name = KeyName::new("kesrs-check-probe").unwrap();
    for (op, permission) in [
        (Op::List, "list"),
        (Op::Set, "set"),
        (Op::Get, "get"),
        (Op::Delete, "delete"),
        (Op::Purge, "purge"),
    ] {
        fake.clear_faults();
        fake.deny(op);
        let steps = store.probe(&name).await;
        let failed: Vec<_> = outcome(&steps)
            .into_iter()
            .filter(|(_, r)| *r == "failed")
            .map(|(p, _)| p)
            .collect();
        assert_eq!(failed, [permission], "{steps:?}");
        let text = error(&steps, permission);
        assert!(
            text.contains(&format!("denied the '{permission}' secret permission")),
            "{text}"
        );
        match permission {
            "set" => assert_eq!(
                outcome(&steps)[2..],
                [
                    ("get", "not tried"),
                    ("delete", "not tried"),
                    ("purge", "not tried")
                ]
            ),
            "delete" => {
                assert!(text.contains("remove the probe secret"), "{text}");
                fake.clear_faults();
                store.delete(&name).await.unwrap();
            }
            "purge" => {
                assert!(text.contains("soft-deleted"), "{text}");
                assert!(fake.is_soft_deleted("kesrs-check-probe"));
                fake.clear_faults();
                // Purge the leftover so the next round starts clean.
                store.create(&name, b"x").await.unwrap();
                store.delete(&name).await.unwrap();
            }
            _ => {}
        }
        assert!(fake.secret("kesrs-check-probe").is_none(), "{permission}");
    }
}
