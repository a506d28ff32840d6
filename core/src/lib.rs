//! kesrs-core: everything kesrs knows about keys.
//!
//! The central design decision: **every operation on keys goes through one type, [`Kms`]**, which has no
//! HTTP in it. The KES sidecar, the C library and the Python and Node bindings are thin layers that turn
//! their inputs into calls on `Kms` and its typed [`Error`] back into their own error shapes. Because the
//! formats live here once, a ciphertext produced in-process by a binding decrypts in the sidecar, in Go
//! KES, and back.
//!
//! The public interface is:
//! - [`Kms`], [`DataKey`], [`KeyInfo`], [`KeyList`], [`StoreStatus`]: the key operations.
//! - [`KeyStore`] and [`StoreError`]: what a backend (memory, fs, Azure Key Vault) must implement.
//! - [`Config`] and its parts: the KES YAML configuration, parsed and validated.
//! - [`KeyName`], [`Pattern`], [`Identity`], [`ApiKey`], [`Policy`]: validated values.
//! - [`CertificateOptions`], [`SelfSignedCertificate`]: certificates made from an API key.
//! - [`Error`]: the one error type, carrying the exact KES status and message.

mod apikey;
mod cache;
pub mod config;
mod crypto;
mod error;
mod format;
mod identity;
pub mod keystore;
mod kms;
mod name;
mod policy;

pub use apikey::{ApiKey, CertificateOptions, SelfSignedCertificate};
pub use config::Config;
pub use crypto::KeyType;
pub use error::{Error, StoreOp};
pub use format::rfc3339;
pub use identity::Identity;
pub use keystore::{KeyStore, StoreError};
pub use kms::{DataKey, KeyInfo, KeyList, Kms, StoreStatus};
pub use name::{valid_name, KeyName, Pattern};
pub use policy::Policy;
