//! The incremental `SealStream` and `OpenStream` that index.js wraps as Node `Transform` streams.
//!
//! Each drives core's tokio adapters ([`AsyncSealWriter`], [`AsyncOpenReader`]) over in-memory
//! buffers, on a task of its own ([`Worker`]): a batch of chunks goes in, and whatever core has
//! sealed (or opened and authenticated) by then comes out. A batch is many chunks, so one round trip
//! to JS serves many DARE packages. Only the data key's generate or decrypt waits on I/O; the rest
//! never waits, so the reader is polled by hand and `Pending` means "needs more input". A stream
//! holds at most one DARE package plus the batches index.js has sent.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex, MutexGuard, PoisonError};
use std::task::{Context as TaskContext, Poll, Waker};

use kesrs_core::{AsyncOpenReader, AsyncSealWriter, Context, Envelope, Error, KeyName};
use napi::bindgen_prelude::{Buffer, Env, PromiseRaw, Uint8ArraySlice};
use napi_derive::napi;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::worker::{over, Secret, Step, Worker};

/// How much plaintext one poll of the opening reader may hand out: one DARE package.
const CHUNK: usize = kesrs_core::ENVELOPE_PACKAGE_LEN;

/// Seals a message batch by batch: `update` resolves to the sealed bytes ready so far, `finish` to
/// the rest. `Keys.sealStream` wraps one as a `Transform`.
#[napi]
pub struct SealStream {
    worker: Worker,
}

#[napi]
impl SealStream {
    /// Seals `chunks`, in order and after every earlier batch; resolves to the sealed bytes now
    /// ready (none until a 64 KiB package is full).
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn update<'env>(
        &self,
        env: &'env Env,
        chunks: Vec<Uint8ArraySlice<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        self.worker.submit(env, concat(&chunks), false)
    }

    /// Seals the final package; resolves to the last sealed bytes.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn finish<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Buffer>> {
        self.worker.submit(env, Secret::default(), true)
    }
}

impl SealStream {
    /// A stream sealing under `name` with a data key generated when the first batch arrives (or at
    /// the end, for an empty message).
    pub(super) fn new(keys: kesrs_core::Keys, name: KeyName, context: Context) -> Self {
        let state = Sealing {
            state: SealState::Pending {
                keys,
                name,
                context,
            },
            sink: Sink::default(),
        };
        Self {
            worker: Worker::spawn(state),
        }
    }
}

/// Opens a sealed message batch by batch: `update` resolves to the plaintext authenticated so far,
/// `finish` to the rest, once it has checked that the message is complete. `Keys.openStream` wraps
/// one as a `Transform`.
#[napi]
pub struct OpenStream {
    worker: Worker,
}

#[napi]
impl OpenStream {
    /// Takes the next sealed `chunks`, after every earlier batch; resolves to the plaintext
    /// authenticated so far.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn update<'env>(
        &self,
        env: &'env Env,
        chunks: Vec<Uint8ArraySlice<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        self.worker.submit(env, concat(&chunks), false)
    }

    /// Ends the input; resolves to the last plaintext once the message is known to be complete.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn finish<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Buffer>> {
        self.worker.submit(env, Secret::default(), true)
    }
}

impl OpenStream {
    /// A stream opening with `envelope` (which may restrict the accepted key names).
    pub(super) fn new(envelope: Envelope<kesrs_core::Keys>, context: Context) -> Self {
        let state = Opening {
            state: OpenState::Header { envelope, context },
            feed: Feed::default(),
        };
        Self {
            worker: Worker::spawn(state),
        }
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

/// A batch of JS chunks as one owned buffer, wiped when dropped (it may be plaintext). This is the
/// one copy of the input: the JS buffers are not read once this call has returned.
fn concat(chunks: &[Uint8ArraySlice<'_>]) -> Secret {
    let len = chunks.iter().map(|chunk| chunk.len()).sum();
    let mut input = Secret(Vec::with_capacity(len));
    for chunk in chunks {
        input.0.extend_from_slice(chunk);
    }
    input
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

    /// Room for what sealing `len` more bytes may write, so that a batch's output is one allocation
    /// handed to JS as it is rather than a buffer grown (and copied) package by package. The sealed
    /// bytes are the package carried over from the last batch (under 64 KiB), the input, 32 bytes
    /// per package (1/2048) and the header once (under 1.2 KiB); a low guess only costs a regrowth.
    fn reserve(&self, len: usize) {
        let room = len.saturating_add(len / 1024).saturating_add(CHUNK + 4096);
        lock(&self.0).reserve(room);
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

enum SealState {
    /// No data key yet: it is generated with the first batch (or at the end, for an empty message).
    Pending {
        keys: kesrs_core::Keys,
        name: KeyName,
        context: Context,
    },
    Writing(Box<AsyncSealWriter<Sink>>),
}

struct Sealing {
    state: SealState,
    sink: Sink,
}

impl Sealing {
    /// The writer, made (with a fresh data key) on first use.
    async fn writer(&mut self) -> Result<&mut AsyncSealWriter<Sink>, Error> {
        if let SealState::Pending {
            keys,
            name,
            context,
        } = &self.state
        {
            let writer = Envelope::new(keys.clone())
                .seal_writer_async(name, context, self.sink.clone())
                .await?;
            self.state = SealState::Writing(Box::new(writer));
        }
        match &mut self.state {
            SealState::Writing(writer) => Ok(writer),
            SealState::Pending { .. } => Err(over()),
        }
    }
}

impl Step for Sealing {
    async fn step(&mut self, input: Secret, end: bool) -> Result<Vec<u8>, Error> {
        self.sink.reserve(input.0.len());
        let writer = self.writer().await?;
        writer.write_all(&input.0).await?;
        if end {
            writer.shutdown().await?;
        }
        Ok(self.sink.take())
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
    /// Appends `input`; takes it as it is when everything before it has been read, which is the
    /// usual case (the reader reads all it can after every batch).
    fn push(&self, input: Vec<u8>) {
        let mut feed = lock(&self.0);
        if feed.pos >= feed.data.len() {
            feed.data = input;
        } else {
            let pos = feed.pos;
            feed.data.drain(..pos);
            feed.data.extend_from_slice(&input);
        }
        feed.pos = 0;
    }

    /// The header's length once the bytes that give it are here (core reads them), or why the
    /// input is no envelope.
    fn header_len(&self) -> Option<Result<usize, Error>> {
        let feed = lock(&self.0);
        kesrs_core::envelope_header_len(feed.data.get(feed.pos..)?)
    }

    fn buffered(&self) -> usize {
        let feed = lock(&self.0);
        feed.data.len().saturating_sub(feed.pos)
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

enum OpenState {
    /// Waiting for the whole header.
    Header {
        envelope: Envelope<kesrs_core::Keys>,
        context: Context,
    },
    Reading(Box<AsyncOpenReader<Feed>>),
}

struct Opening {
    state: OpenState,
    feed: Feed,
}

impl Step for Opening {
    async fn step(&mut self, mut input: Secret, end: bool) -> Result<Vec<u8>, Error> {
        // Sealed bytes are no secret: the feed keeps them without wiping.
        self.feed.push(std::mem::take(&mut input.0));
        if end {
            self.feed.set(|feed| feed.ended = true);
        }
        if let OpenState::Header { envelope, context } = &self.state {
            let whole = match self.feed.header_len() {
                Some(len) => self.feed.buffered() >= len?,
                None => false,
            };
            if !whole && !end {
                return Ok(Vec::new());
            }
            // The header is all here (or the input ended): core reads and authenticates it, checks
            // the key name against `accept`, and has the data key decrypted.
            self.feed.set(|feed| feed.empty_is_end = true);
            let opened = envelope.open_reader_async(self.feed.clone(), context).await;
            self.feed.set(|feed| feed.empty_is_end = false);
            self.state = OpenState::Reading(Box::new(opened?));
        }
        let OpenState::Reading(reader) = &mut self.state else {
            return Err(over());
        };
        drain(reader, self.feed.buffered())
    }
}

/// The plaintext the reader can authenticate from the input so far; at the end of the input, all of
/// it, after core has checked that the message is complete. `sealed` (the input buffered) bounds
/// the plaintext, so the output is allocated once.
fn drain(reader: &mut AsyncOpenReader<Feed>, sealed: usize) -> Result<Vec<u8>, Error> {
    let mut cx = TaskContext::from_waker(Waker::noop());
    let mut out = Vec::with_capacity(sealed + CHUNK);
    let mut chunk = Secret(vec![0u8; CHUNK]);
    loop {
        let mut buf = ReadBuf::new(&mut chunk.0);
        match Pin::new(&mut *reader).poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => return Ok(out),
            Poll::Ready(Ok(())) => out.extend_from_slice(buf.filled()),
            Poll::Ready(Err(err)) => return Err(err.into()),
            Poll::Pending => return Ok(out),
        }
    }
}
