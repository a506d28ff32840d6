//! [`BlockingKeys`]: `Keys` for callers that do not `await` (C, Python's sync API, scripts).

use std::future::Future;

use zeroize::Zeroizing;

use super::{runtime, Keys};
use crate::{
    Context, DataKey, DataKeys, Envelope, Error, KeyInfo, KeyList, KeyName, KeyType, Pattern,
    StoreStatus,
};

/// A [`Keys`] handle whose operations block the calling thread until they are done.
///
/// The calling thread waits while the shared runtime does the I/O; crypto on cached keys runs on the
/// calling thread itself. Safe to call from any thread, including a tokio runtime's (where it blocks
/// that worker, as any blocking call does). Cheap to clone.
#[derive(Debug, Clone)]
pub struct BlockingKeys {
    keys: Keys,
}

impl BlockingKeys {
    pub(super) fn new(keys: Keys) -> Self {
        Self { keys }
    }

    /// The async handle this one blocks on.
    pub fn as_async(&self) -> &Keys {
        &self.keys
    }

    /// Whether this handle asks a KES server.
    pub fn is_remote(&self) -> bool {
        self.keys.is_remote()
    }

    /// [`Keys::create_key`].
    pub fn create_key(&self, name: &KeyName) -> Result<(), Error> {
        wait(self.keys.create_key(name))
    }

    /// [`Keys::import_key`].
    pub fn import_key(&self, name: &KeyName, key: &[u8], algorithm: KeyType) -> Result<(), Error> {
        wait(self.keys.import_key(name, key, algorithm))
    }

    /// [`Keys::describe_key`].
    pub fn describe_key(&self, name: &KeyName) -> Result<KeyInfo, Error> {
        wait(self.keys.describe_key(name))
    }

    /// [`Keys::delete_key`].
    pub fn delete_key(&self, name: &KeyName) -> Result<(), Error> {
        wait(self.keys.delete_key(name))
    }

    /// [`Keys::list_keys`].
    pub fn list_keys(&self, pattern: &Pattern) -> Result<KeyList, Error> {
        wait(self.keys.list_keys(pattern))
    }

    /// [`Keys::generate_key`].
    pub fn generate_key(&self, name: &KeyName, context: &[u8]) -> Result<DataKey, Error> {
        wait(self.keys.generate_key(name, context))
    }

    /// [`Keys::encrypt`].
    pub fn encrypt(
        &self,
        name: &KeyName,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<Vec<u8>, Error> {
        wait(self.keys.encrypt(name, plaintext, context))
    }

    /// [`Keys::decrypt`].
    pub fn decrypt(
        &self,
        name: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        wait(self.keys.decrypt(name, ciphertext, context))
    }

    /// [`Keys::hmac`].
    pub fn hmac(&self, name: &KeyName, message: &[u8]) -> Result<[u8; 32], Error> {
        wait(self.keys.hmac(name, message))
    }

    /// [`Keys::status`].
    pub fn status(&self) -> Result<StoreStatus, Error> {
        wait(self.keys.status())
    }

    /// [`Keys::seal`].
    pub fn seal(
        &self,
        name: &KeyName,
        plaintext: &[u8],
        context: &Context,
    ) -> Result<Vec<u8>, Error> {
        Envelope::new(self).seal(name, plaintext, context)
    }

    /// [`Keys::open`].
    pub fn open(&self, sealed: &[u8], context: &Context) -> Result<Zeroizing<Vec<u8>>, Error> {
        Envelope::new(self).open(sealed, context)
    }
}

/// Data keys for envelopes (and their streams), blocking.
impl DataKeys for BlockingKeys {
    fn generate(&self, key: &KeyName, context: &[u8]) -> Result<DataKey, Error> {
        self.generate_key(key, context)
    }

    fn decrypt(
        &self,
        key: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        BlockingKeys::decrypt(self, key, ciphertext, context)
    }
}

fn wait<T>(operation: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    runtime::block_on(operation)
}
