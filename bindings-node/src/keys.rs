//! The `Keys` class: core's handle, its factories and its operations, each returning a Promise.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;

use kesrs_core::client::Credentials;
use kesrs_core::{ApiKey, Error, KeyName, KeyType, Pattern, RemoteOptions};
use napi::bindgen_prelude::{Buffer, Either, Env, PromiseRaw, ToNapiValue, Uint8ArraySlice};
use napi_derive::napi;
use zeroize::Zeroizing;

use crate::error;
use crate::values::{
    context_bytes, secret_bytes, ConnectOptions, DataKey, KeyInfo, KeyList, StoreStatus,
};

/// Keys in this process (`fromConfig`, `fromFs`, `inMemory`) or behind a KES server (`connect`).
///
/// Every operation returns a Promise and does its work off the JS thread. Failures reject with a
/// `KesError` carrying `code` (`KES_KEY_NOT_FOUND`, ...), `status` and KES's `message`. A handle is
/// cheap to share: all calls on it share the key store, cache and connections.
#[napi]
#[derive(Debug)]
pub struct Keys {
    pub(crate) inner: kesrs_core::Keys,
}

// The factories are `configurable`, unlike napi-rs's default for statics, because index.js wraps
// them to throw `KesError`s; the instance methods are configurable by default.
#[napi]
impl Keys {
    /// Opens the key store a KES server config file names (its `keystore:` and `cache:` sections;
    /// `${NAME}` reads the environment, as the server does). Crypto runs in this process.
    #[napi(factory, configurable = true)]
    pub fn from_config(env: Env, path: String) -> napi::Result<Self> {
        open(&env, kesrs_core::Keys::from_config(Path::new(&path)))
    }

    /// Opens a KES fs key store: one file per key in the directory `path`, created if missing.
    #[napi(factory, configurable = true)]
    pub fn from_fs(env: Env, path: String) -> napi::Result<Self> {
        open(&env, kesrs_core::Keys::from_fs(Path::new(&path)))
    }

    /// Keys kept in memory only, lost with the handle. For tests.
    #[napi(factory, configurable = true)]
    pub fn in_memory(env: Env) -> napi::Result<Self> {
        open(&env, kesrs_core::Keys::in_memory())
    }

    /// Asks a KES server (kesrs or Go KES) over mutual TLS, as `apiKey` or as `cert` and `key`;
    /// the server's policies apply. Nothing is sent until the first call.
    #[napi(factory, configurable = true)]
    pub fn connect(env: Env, options: ConnectOptions) -> napi::Result<Self> {
        open(&env, connect(options))
    }

    /// Whether this handle asks a KES server.
    #[napi(getter)]
    pub fn is_remote(&self) -> bool {
        self.inner.is_remote()
    }

    /// Creates a new AES256 key `name`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn create_key<'env>(
        &self,
        env: &'env Env,
        name: String,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let keys = self.inner.clone();
        settle(
            env,
            async move { keys.create_key(&KeyName::new(&name)?).await },
            |_, ()| Ok(()),
        )
    }

    /// Imports a 32-byte key as `name`; `algorithm` is `AES256` (the default) or `ChaCha20`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn import_key<'env>(
        &self,
        env: &'env Env,
        name: String,
        key: Uint8ArraySlice<'_>,
        algorithm: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let keys = self.inner.clone();
        let key = secret_bytes(&key);
        settle(
            env,
            async move {
                let name = KeyName::new(&name)?;
                let algorithm = KeyType::from_cipher(algorithm.as_deref().unwrap_or("AES256"))?;
                keys.import_key(&name, &key, algorithm).await
            },
            |_, ()| Ok(()),
        )
    }

    /// Describes the key `name`.
    #[napi(ts_return_type = "Promise<KeyInfo>")]
    pub fn describe_key<'env>(
        &self,
        env: &'env Env,
        name: String,
    ) -> napi::Result<PromiseRaw<'env, KeyInfo>> {
        let keys = self.inner.clone();
        settle(
            env,
            async move { keys.describe_key(&KeyName::new(&name)?).await },
            |_, info| Ok(KeyInfo::from(info)),
        )
    }

    /// Deletes the key `name`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_key<'env>(
        &self,
        env: &'env Env,
        name: String,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let keys = self.inner.clone();
        settle(
            env,
            async move { keys.delete_key(&KeyName::new(&name)?).await },
            |_, ()| Ok(()),
        )
    }

    /// Lists the keys `pattern` selects: `*` (the default) all, a trailing `*` a prefix.
    #[napi(ts_return_type = "Promise<KeyList>")]
    pub fn list_keys<'env>(
        &self,
        env: &'env Env,
        pattern: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, KeyList>> {
        let keys = self.inner.clone();
        settle(
            env,
            async move {
                let pattern = Pattern::new(pattern.as_deref().unwrap_or("*"))?;
                keys.list_keys(&pattern).await
            },
            |_, list| Ok(KeyList::from(list)),
        )
    }

    /// A fresh 32-byte data key and its ciphertext under `name`, bound to `context`.
    #[napi(ts_return_type = "Promise<DataKey>")]
    pub fn generate_key<'env>(
        &self,
        env: &'env Env,
        name: String,
        context: Option<Either<Uint8ArraySlice<'_>, HashMap<String, String>>>,
    ) -> napi::Result<PromiseRaw<'env, DataKey>> {
        let keys = self.inner.clone();
        let context = context_bytes(context);
        settle(
            env,
            async move { keys.generate_key(&KeyName::new(&name)?, &context).await },
            |_, key| Ok(DataKey::from(key)),
        )
    }

    /// Encrypts a small `plaintext` under `name`, bound to `context`, in KES's ciphertext format.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn encrypt<'env>(
        &self,
        env: &'env Env,
        name: String,
        plaintext: Uint8ArraySlice<'_>,
        context: Option<Either<Uint8ArraySlice<'_>, HashMap<String, String>>>,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let keys = self.inner.clone();
        let plaintext = secret_bytes(&plaintext);
        let context = context_bytes(context);
        settle(
            env,
            async move {
                keys.encrypt(&KeyName::new(&name)?, &plaintext, &context)
                    .await
            },
            |_, ciphertext| Ok(Buffer::from(ciphertext)),
        )
    }

    /// Decrypts a KES ciphertext (any format KES ever wrote) under `name` with `context`. A wrong
    /// key, context or a tampered ciphertext rejects with `KES_DECRYPT_FAILED`.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn decrypt<'env>(
        &self,
        env: &'env Env,
        name: String,
        ciphertext: Uint8ArraySlice<'_>,
        context: Option<Either<Uint8ArraySlice<'_>, HashMap<String, String>>>,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let keys = self.inner.clone();
        let ciphertext = ciphertext.to_vec();
        let context = context_bytes(context);
        settle(
            env,
            async move {
                keys.decrypt(&KeyName::new(&name)?, &ciphertext, &context)
                    .await
            },
            // JS owns the copy from here on; ours is wiped when `plaintext` drops.
            |_, plaintext| Ok(Buffer::from(plaintext.to_vec())),
        )
    }

    /// HMAC-SHA256 of `message` under the key's HMAC key: 32 bytes, the same for the same message.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn hmac<'env>(
        &self,
        env: &'env Env,
        name: String,
        message: Uint8ArraySlice<'_>,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let keys = self.inner.clone();
        let message = secret_bytes(&message);
        settle(
            env,
            async move { keys.hmac(&KeyName::new(&name)?, &message).await },
            |_, mac| Ok(Buffer::from(mac.to_vec())),
        )
    }

    /// The key store's health (through the server, for a remote handle).
    #[napi(ts_return_type = "Promise<StoreStatus>")]
    pub fn status<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, StoreStatus>> {
        let keys = self.inner.clone();
        settle(env, async move { keys.status().await }, |_, status| {
            Ok(StoreStatus {
                latency_ms: status.latency.as_secs_f64() * 1000.0,
            })
        })
    }
}

/// The handle, or `error` thrown as the binding's JS error.
fn open(env: &Env, keys: Result<kesrs_core::Keys, Error>) -> napi::Result<Keys> {
    keys.map(|inner| Keys { inner })
        .map_err(|err| error::to_js(env, &err))
}

fn connect(options: ConnectOptions) -> Result<kesrs_core::Keys, Error> {
    let ConnectOptions {
        endpoints,
        api_key,
        cert,
        key,
        ca,
    } = options;
    let api_key = api_key.map(Zeroizing::new);
    let credentials = match (api_key, cert, key) {
        (Some(api_key), None, None) => Credentials::ApiKey(ApiKey::parse(&api_key)?),
        (None, Some(cert), Some(key)) => {
            RemoteOptions::certificate_files(Path::new(&cert), Path::new(&key))?
        }
        _ => {
            return Err(Error::InvalidArgument(
                "give either apiKey, or cert and key".into(),
            ))
        }
    };
    let mut options = RemoteOptions::new(endpoints, credentials);
    if let Some(ca) = ca {
        let pem = std::fs::read(&ca)
            .map_err(|err| Error::InvalidArgument(format!("cannot read '{ca}': {err}")))?;
        options = options.with_ca_pem(pem);
    }
    kesrs_core::Keys::connect(options)
}

/// A Promise for `work`, polled on napi's tokio runtime (core enters its own runtime for the I/O),
/// and settled on the JS thread: resolved through `resolve`, or rejected with the binding's error.
pub(crate) fn settle<'env, T, V>(
    env: &'env Env,
    work: impl Future<Output = Result<T, Error>> + Send + 'static,
    resolve: impl FnOnce(&Env, T) -> napi::Result<V> + 'static,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
{
    // The outer `Result` is napi's and always `Ok`: a core error is turned into a JS error by
    // `resolve`'s caller, on the JS thread, where the error object can be made.
    env.spawn_future_with_callback(
        async move { Ok(work.await) },
        move |env, outcome| match outcome {
            Ok(value) => resolve(env, value),
            Err(err) => Err(error::to_js(env, &err)),
        },
    )
}
