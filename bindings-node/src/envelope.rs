//! Sealed messages (docs/envelope.md): one-shot `seal` and `open`, `openRange` over a file, and the
//! incremental `SealStream` and `OpenStream` that index.js wraps as Node `Transform` streams.
//!
//! The incremental objects drive core's tokio adapters ([`AsyncSealWriter`], [`AsyncOpenReader`])
//! over in-memory buffers: a chunk goes in, and whatever core has sealed (or opened and
//! authenticated) by then comes out. Only the data key's generate or decrypt waits on I/O; the rest
//! never waits, so the reader is polled by hand and `Pending` means "needs more input". At most one
//! DARE package plus one input chunk is held per stream.

use std::collections::HashMap;
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex, MutexGuard, PoisonError};
use std::task::{Context as TaskContext, Poll, Waker};

use kesrs_core::{AsyncOpenReader, AsyncSealWriter, Context, Envelope, Error, KeyName};
use napi::bindgen_prelude::{Buffer, Either, Env, PromiseRaw, Uint8ArraySlice};
use napi_derive::napi;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::error;
use crate::keys::{settle, Keys};
use crate::values::{context_bytes, secret_bytes};

/// How much plaintext one poll of the opening reader may hand out: one DARE package.
const CHUNK: usize = kesrs_core::ENVELOPE_PACKAGE_LEN;

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
    /// changed or cut message, rejects with `KES_DECRYPT_FAILED`.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn open<'env>(
        &self,
        env: &'env Env,
        sealed: Uint8ArraySlice<'_>,
        context: Option<Either<Uint8ArraySlice<'_>, HashMap<String, String>>>,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let keys = self.inner.clone();
        let sealed = sealed.to_vec();
        let context = Context::from_bytes(context_bytes(context));
        settle(
            env,
            async move { keys.open(&sealed, &context).await },
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
        let sink = Sink::default();
        let state = Sealing::Pending {
            keys: self.inner.clone(),
            name,
            context: Context::from_bytes(context_bytes(context)),
        };
        Ok(SealStream {
            inner: Arc::new(Mutex::new(SealInner { state, sink })),
        })
    }

    /// A `Transform` stream that opens the sealed message written to it, with `context`.
    #[napi(ts_return_type = "import('node:stream').Transform")]
    pub fn open_stream(
        &self,
        context: Option<Either<Uint8ArraySlice<'_>, HashMap<String, String>>>,
    ) -> OpenStream {
        let state = Opening::Header {
            keys: self.inner.clone(),
            context: Context::from_bytes(context_bytes(context)),
        };
        OpenStream {
            inner: Arc::new(Mutex::new(OpenInner {
                state,
                feed: Feed::default(),
            })),
        }
    }

    /// `length` plaintext bytes from `offset` of the sealed message in the file `path` (from its
    /// start to its end). Reads the header and only the packages the range covers.
    #[napi(
        ts_args_type = "source: string | import('node:fs/promises').FileHandle, offset: number, length: number, context?: Uint8Array | Record<string, string>",
        ts_return_type = "Promise<Buffer>"
    )]
    pub fn open_range<'env>(
        &self,
        env: &'env Env,
        path: String,
        offset: f64,
        length: f64,
        context: Option<Either<Uint8ArraySlice<'_>, HashMap<String, String>>>,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let keys = self.inner.blocking();
        let context = Context::from_bytes(context_bytes(context));
        settle(
            env,
            async move {
                let offset = whole_number(offset, "offset")?;
                let length = whole_number(length, "length")?;
                let read = move || -> Result<Vec<u8>, Error> {
                    let file = std::fs::File::open(&path)?;
                    let mut reader =
                        Envelope::new(keys).open_range(file, &context, offset, length)?;
                    // Never more than the range: core has checked it against the message's length.
                    let mut plaintext =
                        Vec::with_capacity(usize::try_from(length.min(1 << 26)).unwrap_or(0));
                    reader.read_to_end(&mut plaintext)?;
                    Ok(plaintext)
                };
                // File reads and the data key's decrypt block: off napi's async workers.
                tokio::task::spawn_blocking(read)
                    .await
                    .map_err(|err| Error::Runtime(err.to_string()))?
            },
            |_, plaintext| Ok(Buffer::from(plaintext)),
        )
    }
}

/// A byte offset or length from JS: a whole number from 0 to 2^53 − 1.
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

fn lock<T>(mutex: &StdMutex<T>) -> MutexGuard<'_, T> {
    // The data under these locks stays consistent across a panic (plain byte buffers).
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where the sealing writer writes: sealed bytes waiting to be handed to JS. Never blocks.
#[derive(Debug, Clone, Default)]
struct Sink(Arc<StdMutex<Vec<u8>>>);

impl Sink {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *lock(&self.0))
    }
}

impl AsyncWrite for Sink {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        lock(&self.0).extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

enum Sealing {
    /// No data key yet: it is generated with the first chunk (or at the end, for an empty message).
    Pending {
        keys: kesrs_core::Keys,
        name: KeyName,
        context: Context,
    },
    Writing(Box<AsyncSealWriter<Sink>>),
    /// Finished, or failed: a failed stream cannot be resumed.
    Over,
}

struct SealInner {
    state: Sealing,
    sink: Sink,
}

impl SealInner {
    /// The writer, made (with a fresh data key) on first use.
    async fn writer(&mut self) -> Result<&mut AsyncSealWriter<Sink>, Error> {
        if let Sealing::Pending {
            keys,
            name,
            context,
        } = &self.state
        {
            let writer = Envelope::new(keys.clone())
                .seal_writer_async(name, context, self.sink.clone())
                .await?;
            self.state = Sealing::Writing(Box::new(writer));
        }
        match &mut self.state {
            Sealing::Writing(writer) => Ok(writer),
            _ => Err(over()),
        }
    }

    async fn update(&mut self, chunk: &[u8]) -> Result<Vec<u8>, Error> {
        self.writer().await?.write_all(chunk).await?;
        Ok(self.sink.take())
    }

    async fn finish(&mut self) -> Result<Vec<u8>, Error> {
        self.writer().await?.shutdown().await?;
        self.state = Sealing::Over;
        Ok(self.sink.take())
    }
}

fn over() -> Error {
    Error::InvalidArgument("the stream is finished, or failed".into())
}

/// Seals a message chunk by chunk: `update` returns the sealed bytes ready so far, `finish` the rest.
/// `Keys.sealStream` wraps one as a `Transform`.
#[napi]
pub struct SealStream {
    inner: Arc<Mutex<SealInner>>,
}

#[napi]
impl SealStream {
    /// Seals `chunk`; resolves to the sealed bytes now ready (often none: packages are 64 KiB).
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn update<'env>(
        &self,
        env: &'env Env,
        chunk: Uint8ArraySlice<'_>,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let inner = Arc::clone(&self.inner);
        let chunk = secret_bytes(&chunk);
        settle(
            env,
            async move {
                let mut inner = inner.lock().await;
                let result = inner.update(&chunk).await;
                if result.is_err() {
                    inner.state = Sealing::Over;
                }
                result
            },
            |_, sealed| Ok(Buffer::from(sealed)),
        )
    }

    /// Seals the final package; resolves to the last sealed bytes.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn finish<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let inner = Arc::clone(&self.inner);
        settle(
            env,
            async move {
                let mut inner = inner.lock().await;
                let result = inner.finish().await;
                inner.state = Sealing::Over;
                result
            },
            |_, sealed| Ok(Buffer::from(sealed)),
        )
    }
}

/// Sealed bytes not yet read by the opening reader. Empty means "wait for more", unless the input
/// has ended (or the header is being read: it is only read once all of it is here).
#[derive(Debug, Clone, Default)]
struct Feed(Arc<StdMutex<FeedState>>);

#[derive(Debug, Default)]
struct FeedState {
    data: Vec<u8>,
    pos: usize,
    ended: bool,
    empty_is_end: bool,
}

impl Feed {
    fn push(&self, chunk: &[u8]) {
        let mut feed = lock(&self.0);
        let pos = feed.pos;
        feed.data.drain(..pos);
        feed.pos = 0;
        feed.data.extend_from_slice(chunk);
    }

    /// The header's length once the bytes that give it are here (core reads them), or why the
    /// input is no envelope.
    fn header_len(&self) -> Option<Result<usize, Error>> {
        let feed = lock(&self.0);
        kesrs_core::envelope_header_len(feed.data.get(feed.pos..)?)
    }

    fn buffered(&self) -> usize {
        let feed = lock(&self.0);
        feed.data.len() - feed.pos
    }

    fn set(&self, f: impl FnOnce(&mut FeedState)) {
        f(&mut lock(&self.0));
    }
}

impl AsyncRead for Feed {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut feed = lock(&self.0);
        let pos = feed.pos;
        let ready = feed.data.get(pos..).unwrap_or_default();
        if ready.is_empty() {
            // Nothing registers a waker: the reader is polled again when more input arrives.
            return if feed.ended || feed.empty_is_end {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            };
        }
        let n = ready.len().min(buf.remaining());
        buf.put_slice(ready.get(..n).unwrap_or_default());
        feed.pos += n;
        Poll::Ready(Ok(()))
    }
}

enum Opening {
    /// Waiting for the whole header.
    Header {
        keys: kesrs_core::Keys,
        context: Context,
    },
    Reading(Box<AsyncOpenReader<Feed>>),
    /// Finished, or failed.
    Over,
}

struct OpenInner {
    state: Opening,
    feed: Feed,
}

impl OpenInner {
    async fn update(&mut self, chunk: &[u8], end: bool) -> Result<Vec<u8>, Error> {
        self.feed.push(chunk);
        if end {
            self.feed.set(|feed| feed.ended = true);
        }
        if let Opening::Header { keys, context } = &self.state {
            let whole = match self.feed.header_len() {
                Some(len) => self.feed.buffered() >= len?,
                None => false,
            };
            if !whole && !end {
                return Ok(Vec::new());
            }
            // The header is all here (or the input ended): core reads and authenticates it, and
            // has the data key decrypted.
            self.feed.set(|feed| feed.empty_is_end = true);
            let opened = Envelope::new(keys.clone())
                .open_reader_async(self.feed.clone(), context)
                .await;
            self.feed.set(|feed| feed.empty_is_end = false);
            self.state = Opening::Reading(Box::new(opened?));
        }
        let Opening::Reading(reader) = &mut self.state else {
            return Err(over());
        };
        let plaintext = drain(reader)?;
        if end {
            self.state = Opening::Over;
        }
        Ok(plaintext)
    }
}

/// The plaintext the reader can authenticate from the input so far; at the end of the input, all of
/// it, after core has checked that the message is complete.
fn drain(reader: &mut AsyncOpenReader<Feed>) -> Result<Vec<u8>, Error> {
    let mut cx = TaskContext::from_waker(Waker::noop());
    let mut out = Vec::new();
    let mut chunk = Zeroizing::new(vec![0u8; CHUNK]);
    loop {
        let mut buf = ReadBuf::new(&mut chunk);
        match Pin::new(&mut *reader).poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => return Ok(out),
            Poll::Ready(Ok(())) => out.extend_from_slice(buf.filled()),
            Poll::Ready(Err(err)) => return Err(err.into()),
            Poll::Pending => return Ok(out),
        }
    }
}

/// Opens a sealed message chunk by chunk: `update` returns the plaintext authenticated so far,
/// `finish` the rest, once it has checked that the message is complete. `Keys.openStream` wraps one
/// as a `Transform`.
#[napi]
pub struct OpenStream {
    inner: Arc<Mutex<OpenInner>>,
}

#[napi]
impl OpenStream {
    /// Takes the next sealed bytes; resolves to the plaintext authenticated so far.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn update<'env>(
        &self,
        env: &'env Env,
        chunk: Uint8ArraySlice<'_>,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        self.step(env, chunk.to_vec(), false)
    }

    /// Ends the input; resolves to the last plaintext once the message is known to be complete.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn finish<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Buffer>> {
        self.step(env, Vec::new(), true)
    }
}

impl OpenStream {
    fn step<'env>(
        &self,
        env: &'env Env,
        chunk: Vec<u8>,
        end: bool,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let inner = Arc::clone(&self.inner);
        settle(
            env,
            async move {
                let mut inner = inner.lock().await;
                let result = inner.update(&chunk, end).await;
                if result.is_err() {
                    inner.state = Opening::Over;
                }
                result
            },
            |_, plaintext| Ok(Buffer::from(plaintext)),
        )
    }
}

impl std::fmt::Debug for SealStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealStream").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for OpenStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenStream").finish_non_exhaustive()
    }
}
