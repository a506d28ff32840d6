//! Sealed messages (docs/envelope.md): one-shot `seal` and `open`, `openRange` over a file, the
//! incremental streams that index.js wraps as Node `Transform`s, and the envelope's options: the key
//! names `open` accepts, and data-key reuse (`withDataKeyReuse`).

mod range;
mod streams;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kesrs_core::{Context, Envelope, Error, KeyName, Pattern, ReuseLimits};
use napi::bindgen_prelude::{Buffer, Either, Env, PromiseRaw, Uint8ArraySlice};
use napi_derive::napi;

use crate::error;
use crate::keys::{settle, Keys};
use crate::values::{context_bytes, secret_bytes};
use range::{ReadAt, Source};
use streams::{OpenStream, SealStream};

/// Options of `open`, `openStream` and `openRange`.
#[napi(object)]
#[derive(Debug, Default)]
pub struct OpenOptions {
    /// KES patterns (`my-app`, `backup-*`) of the key names to accept. A message sealed under any
    /// other key rejects with `KES_NOT_ALLOWED` before its data key is asked for. All by default.
    pub accept: Option<Vec<String>>,
}

/// The limits of `withDataKeyReuse`: all three required, none zero.
#[napi(object)]
#[derive(Debug)]
pub struct DataKeyReuse {
    /// How many messages one data key may seal.
    pub messages: f64,
    /// How many plaintext bytes one data key may seal, in all.
    pub bytes: f64,
    /// How long a data key may be used after it was generated, in seconds.
    pub seconds: f64,
}

#[napi]
impl Keys {
    /// Seals `data` under the key `name`, bound to `context`: a fresh data key and the envelope of
    /// docs/envelope.md, which `open` (or any kesrs binding) opens with the same context.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn seal<'env>(
        &self,
        env: &'env Env,
        name: String,
        data: Uint8ArraySlice<'_>,
        context: Option<Either<Uint8ArraySlice<'_>, HashMap<String, String>>>,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let keys = self.inner.clone();
        let data = secret_bytes(&data);
        let context = Context::from_bytes(context_bytes(context));
        settle(
            env,
            async move { keys.seal(&KeyName::new(&name)?, &data, &context).await },
            |_, sealed| Ok(Buffer::from(sealed)),
        )
    }

    /// Opens a sealed message with the context it was sealed with. A wrong context or key, or a
    /// changed or cut message, rejects with `KES_DECRYPT_FAILED`; a key `options.accept` does not
    /// match with `KES_NOT_ALLOWED`.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn open<'env>(
        &self,
        env: &'env Env,
        sealed: Uint8ArraySlice<'_>,
        context: Option<Either<Uint8ArraySlice<'_>, HashMap<String, String>>>,
        options: Option<OpenOptions>,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let keys = self.inner.clone();
        let sealed = sealed.to_vec();
        let context = Context::from_bytes(context_bytes(context));
        settle(
            env,
            async move {
                let envelope = accepting(keys, options)?;
                envelope.open_async(&sealed, &context).await
            },
            // JS owns the copy from here on; ours is wiped when `plaintext` drops.
            |_, plaintext| Ok(Buffer::from(plaintext.to_vec())),
        )
    }

    /// A `Transform` stream that seals what is written to it under `name`, bound to `context`.
    #[napi(ts_return_type = "import('node:stream').Transform")]
    pub fn seal_stream(
        &self,
        env: Env,
        name: String,
        context: Option<Either<Uint8ArraySlice<'_>, HashMap<String, String>>>,
    ) -> napi::Result<SealStream> {
        let name = KeyName::new(&name).map_err(|err| error::to_js(&env, &err))?;
        let context = Context::from_bytes(context_bytes(context));
        Ok(SealStream::new(self.inner.clone(), name, context))
    }

    /// A `Transform` stream that opens the sealed message written to it, with `context`; only keys
    /// `options.accept` matches, if given.
    #[napi(ts_return_type = "import('node:stream').Transform")]
    pub fn open_stream(
        &self,
        env: Env,
        context: Option<Either<Uint8ArraySlice<'_>, HashMap<String, String>>>,
        options: Option<OpenOptions>,
    ) -> napi::Result<OpenStream> {
        let envelope =
            accepting(self.inner.clone(), options).map_err(|err| error::to_js(&env, &err))?;
        let context = Context::from_bytes(context_bytes(context));
        Ok(OpenStream::new(envelope, context))
    }

    /// `length` plaintext bytes from `offset` of the sealed message in `file` (a path or a
    /// `fs.promises` `FileHandle`; the message runs from the file's start to its end). Reads the
    /// header and only the packages the range covers.
    #[napi(
        ts_args_type = "file: string | import('node:fs/promises').FileHandle, offset: number, length: number, context?: Uint8Array | Record<string, string>, options?: OpenOptions",
        ts_return_type = "Promise<Buffer>"
    )]
    // One parameter per JS argument: the five of the JS signature, and the file's size, which
    // index.js adds for a FileHandle.
    #[allow(clippy::too_many_arguments)]
    pub fn open_range<'env>(
        &self,
        env: &'env Env,
        source: Either<String, ReadAt>,
        size: Option<f64>,
        offset: f64,
        length: f64,
        context: Option<Either<Uint8ArraySlice<'_>, HashMap<String, String>>>,
        options: Option<OpenOptions>,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let keys = self.inner.blocking();
        let context = Context::from_bytes(context_bytes(context));
        settle(
            env,
            async move {
                let offset = whole_number(offset, "offset")?;
                let length = whole_number(length, "length")?;
                let envelope = accepting(keys, options)?;
                let source = match source {
                    Either::A(path) => Source::Path(path),
                    Either::B(read) => Source::Js {
                        read,
                        size: whole_number(size.unwrap_or(f64::NAN), "the file's size")?,
                    },
                };
                let runtime = tokio::runtime::Handle::current();
                // File reads and the data key's decrypt block: off napi's async workers.
                tokio::task::spawn_blocking(move || {
                    range::open_range(&envelope, source, &context, offset, length, runtime)
                })
                .await
                .map_err(|err| Error::Runtime(err.to_string()))?
            },
            // JS owns the copy from here on; ours is wiped when `plaintext` drops.
            |_, plaintext| Ok(Buffer::from(plaintext.to_vec())),
        )
    }

    /// A `Sealer` whose `seal` reuses one data key for up to `messages` messages, `bytes` plaintext
    /// bytes and `seconds` seconds per key name and context. Off unless asked for: it trades fewer
    /// key-store calls for more messages exposed if one data key leaks. Streams always get a fresh
    /// data key. The messages open with `open`, like any other.
    #[napi]
    pub fn with_data_key_reuse(&self, env: Env, limits: DataKeyReuse) -> napi::Result<Sealer> {
        let limits = reuse_limits(&limits).map_err(|err| error::to_js(&env, &err))?;
        Ok(Sealer {
            envelope: Arc::new(Envelope::new(self.inner.clone()).reuse_data_keys(limits)),
        })
    }
}

/// `seal` with data-key reuse, from `Keys.withDataKeyReuse`.
#[napi]
pub struct Sealer {
    envelope: Arc<Envelope<kesrs_core::Keys>>,
}

#[napi]
impl Sealer {
    /// Seals `data` under the key `name`, bound to `context`, with the data key of an earlier
    /// message of the same key name and context while it is within the limits, or a fresh one.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn seal<'env>(
        &self,
        env: &'env Env,
        name: String,
        data: Uint8ArraySlice<'_>,
        context: Option<Either<Uint8ArraySlice<'_>, HashMap<String, String>>>,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let envelope = Arc::clone(&self.envelope);
        let data = secret_bytes(&data);
        let context = Context::from_bytes(context_bytes(context));
        settle(
            env,
            async move {
                envelope
                    .seal_async(&KeyName::new(&name)?, &data, &context)
                    .await
            },
            |_, sealed| Ok(Buffer::from(sealed)),
        )
    }
}

/// Without the cached data keys.
impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").finish_non_exhaustive()
    }
}

/// Envelopes over `keys` that open only the key names `options.accept` matches, if given.
fn accepting<K>(keys: K, options: Option<OpenOptions>) -> Result<Envelope<K>, Error> {
    let envelope = Envelope::new(keys);
    match options.and_then(|options| options.accept) {
        None => Ok(envelope),
        Some(patterns) => {
            let patterns = patterns
                .iter()
                .map(|pattern| Pattern::new(pattern))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(envelope.accept_keys(patterns))
        }
    }
}

fn reuse_limits(limits: &DataKeyReuse) -> Result<ReuseLimits, Error> {
    let age = Duration::try_from_secs_f64(limits.seconds)
        .map_err(|_| Error::InvalidArgument("seconds must be a positive, finite number".into()))?;
    ReuseLimits::new(
        whole_number(limits.messages, "messages")?,
        whole_number(limits.bytes, "bytes")?,
        age,
    )
}

/// A count, offset or length from JS: a whole number from 0 to 2^53 − 1.
fn whole_number(value: f64, what: &str) -> Result<u64, Error> {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    if value.is_finite() && value.fract() == 0.0 && (0.0..=MAX_SAFE).contains(&value) {
        // Exact: a whole number in u64's range.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(value as u64)
    } else {
        Err(Error::InvalidArgument(format!(
            "{what} must be a whole number from 0 to 2^53 - 1"
        )))
    }
}
