//! Sealed messages ("envelopes"): a small authenticated header naming a KES key and holding a fresh
//! data key as KES ciphertext, then the payload as a DARE 2.0 stream (MinIO's sio format).
//!
//! The design decision: **every message derives its own payload key with HKDF from the data key and a
//! random salt in the header**, whether or not the data key is shared with other messages. So opt-in
//! data-key reuse is one code path with the default, and the header can be authenticated with a key
//! of its own before any payload is read. docs/envelope.md is the specification.
//!
//! Where data keys come from is a trait, [`DataKeys`] (or [`AsyncDataKeys`]): `Kms` in-process, a
//! remote KES through `Client`, or anything that generates and decrypts KES data keys.

mod async_stream;
mod dare;
mod header;
mod packages;
mod range;
mod reuse;
mod stream;

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use zeroize::Zeroizing;

use crate::context::Context;
pub use async_stream::{AsyncOpenReader, AsyncSealWriter};
pub use packages::PackageSealer;
pub use reuse::ReuseLimits;
pub use stream::{OpenReader, SealWriter};

use header::{Header, MessageKeys, SignedHeader, FLAG_SHARED_KEY, MAX_CIPHERTEXT, PREFIX_LEN};
use reuse::ReuseCache;
use stream::{OpenCore, SealCore};

use crate::{DataKey, EnvelopeError, Error, KeyName, Pattern};

/// The plaintext one DARE package holds (64 KiB): the unit streams move, and so the natural size of
/// the chunks a binding hands to them.
pub const ENVELOPE_PACKAGE_LEN: usize = dare::MAX_PAYLOAD;

/// How many bytes the header of the envelope that `start` begins with takes, for callers that buffer
/// pushed input before opening it: `None` while `start` is too short to tell, the error that opening
/// would give when it is no header this library reads (docs/envelope.md section 2).
pub fn envelope_header_len(start: &[u8]) -> Option<Result<usize, Error>> {
    let prefix = start.first_chunk::<PREFIX_LEN>()?;
    Some(Header::len_from_prefix(prefix).map_err(Error::Envelope))
}

/// Where envelopes get data keys: KES's `generate` and `decrypt` on a named key, with the context
/// as KES's associated data. Blocking.
pub trait DataKeys {
    /// A fresh 32-byte data key and its KES ciphertext under `key`, bound to `context`.
    fn generate(&self, key: &KeyName, context: &[u8]) -> Result<DataKey, Error>;

    /// The plaintext of a data key's KES ciphertext under `key`, with the `context` it was bound to.
    fn decrypt(
        &self,
        key: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error>;
}

/// [`DataKeys`] for async callers, such as `Kms` and `Client`.
#[async_trait::async_trait]
pub trait AsyncDataKeys: Send + Sync {
    /// A fresh 32-byte data key and its KES ciphertext under `key`, bound to `context`.
    async fn generate(&self, key: &KeyName, context: &[u8]) -> Result<DataKey, Error>;

    /// The plaintext of a data key's KES ciphertext under `key`, with the `context` it was bound to.
    async fn decrypt(
        &self,
        key: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error>;
}

/// Seals and opens envelopes with the data keys of `K`.
///
/// By default every message gets a fresh data key from `K`, and `open` accepts any key name.
/// [`Envelope::accept_keys`] restricts the names `open` accepts; [`Envelope::reuse_data_keys`] turns
/// on data-key reuse for one-shot `seal`.
pub struct Envelope<K> {
    keys: K,
    accept: Option<Vec<Pattern>>,
    reuse: Option<ReuseCache>,
}

impl<K> Envelope<K> {
    /// Envelopes with data keys from `keys`.
    pub fn new(keys: K) -> Self {
        Self {
            keys,
            accept: None,
            reuse: None,
        }
    }

    /// Opens only envelopes whose header names a key matching one of `patterns`; others fail with
    /// [`EnvelopeError::KeyNotAccepted`] before any key is asked for.
    pub fn accept_keys(mut self, patterns: impl IntoIterator<Item = Pattern>) -> Self {
        self.accept = Some(patterns.into_iter().collect());
        self
    }

    /// Reuses a data key for several one-shot `seal`s with the same key name and context, within
    /// `limits`. Off by default. Streams always get a fresh data key: their length is unknown when
    /// the key is chosen, as the AWS Encryption SDK's caching also decides.
    pub fn reuse_data_keys(mut self, limits: ReuseLimits) -> Self {
        self.reuse = Some(ReuseCache::new(limits));
        self
    }

    /// The data-key source.
    pub fn keys(&self) -> &K {
        &self.keys
    }
}

impl<K: DataKeys> Envelope<K> {
    /// Seals `plaintext` under the named key, bound to `context`.
    pub fn seal(
        &self,
        key: &KeyName,
        plaintext: &[u8],
        context: &Context,
    ) -> Result<Vec<u8>, Error> {
        let len = plaintext.len() as u64;
        let (data_key, shared) = match self.cached(key, context, len) {
            Some(data_key) => (data_key, true),
            None => {
                let fresh = Arc::new(self.keys.generate(key, context.as_bytes())?);
                let shared = self.remember(key, context, &fresh, len);
                (fresh, shared)
            }
        };
        seal_bytes(
            &data_key,
            shared,
            key,
            plaintext,
            context,
            &message_random()?,
        )
    }

    /// Opens a sealed message with the `context` it was sealed with.
    pub fn open(&self, sealed: &[u8], context: &Context) -> Result<Zeroizing<Vec<u8>>, Error> {
        let (signed, stream) = SignedHeader::parse(sealed)?;
        self.check_accepted(&signed.header.key)?;
        let data_key = self.keys.decrypt(
            &signed.header.key,
            &signed.header.ciphertext,
            context.as_bytes(),
        )?;
        let keys = unlock(&signed, &data_key, context)?;
        open_bytes(&keys, signed.header.flags, stream)
    }

    /// A writer that seals everything written to it into `dst`. See [`SealWriter`].
    pub fn seal_writer<W: Write>(
        &self,
        key: &KeyName,
        context: &Context,
        dst: W,
    ) -> Result<SealWriter<W>, Error> {
        let data_key = self.keys.generate(key, context.as_bytes())?;
        Ok(SealWriter::new(dst, seal_core(&data_key, key, context)?))
    }

    /// A sealer that takes the message one package at a time, from the caller's plaintext into the
    /// caller's buffer, for callers that do their own I/O. See [`PackageSealer`].
    pub fn package_sealer(&self, key: &KeyName, context: &Context) -> Result<PackageSealer, Error> {
        let data_key = self.keys.generate(key, context.as_bytes())?;
        package_sealer(&data_key, key, context)
    }

    /// A reader of the plaintext of the envelope read from `src`. Reads and authenticates the header
    /// now, and the payload as it is read. See [`OpenReader`].
    pub fn open_reader<R: Read>(
        &self,
        mut src: R,
        context: &Context,
    ) -> Result<OpenReader<R>, Error> {
        let (signed, _) = read_header(&mut src)?;
        let keys = self.unlock_blocking(&signed, context)?;
        let core = OpenCore::new(signed.header.key, &keys, signed.header.flags)?;
        Ok(OpenReader::new(src, core))
    }

    /// A reader of `len` plaintext bytes from `offset`, of the envelope that starts at `src`'s current
    /// position and ends at its end. Reads and authenticates the header, then only the packages the
    /// range covers.
    pub fn open_range<R: Read + Seek>(
        &self,
        mut src: R,
        context: &Context,
        offset: u64,
        len: u64,
    ) -> Result<OpenReader<R>, Error> {
        let start = src.stream_position()?;
        let (signed, header_len) = read_header(&mut src)?;
        let keys = self.unlock_blocking(&signed, context)?;
        let payload_start = start + header_len as u64;
        let end = src.seek(SeekFrom::End(0))?;
        let stream_len = end
            .checked_sub(payload_start)
            .ok_or(EnvelopeError::Truncated)?;
        let empty = signed.header.flags & header::FLAG_EMPTY != 0;
        let (at, range) = range::plan(stream_len, empty, offset, len)?;
        src.seek(SeekFrom::Start(payload_start + at))?;
        let core = OpenCore::range(signed.header.key, &keys, range)?;
        Ok(OpenReader::new(src, core))
    }

    fn unlock_blocking(
        &self,
        signed: &SignedHeader,
        context: &Context,
    ) -> Result<MessageKeys, Error> {
        self.check_accepted(&signed.header.key)?;
        let data_key = self.keys.decrypt(
            &signed.header.key,
            &signed.header.ciphertext,
            context.as_bytes(),
        )?;
        unlock(signed, &data_key, context)
    }
}

impl<K: AsyncDataKeys> Envelope<K> {
    /// [`Envelope::seal`] for async data-key sources.
    pub async fn seal_async(
        &self,
        key: &KeyName,
        plaintext: &[u8],
        context: &Context,
    ) -> Result<Vec<u8>, Error> {
        let len = plaintext.len() as u64;
        let (data_key, shared) = match self.cached(key, context, len) {
            Some(data_key) => (data_key, true),
            None => {
                let fresh = Arc::new(self.keys.generate(key, context.as_bytes()).await?);
                let shared = self.remember(key, context, &fresh, len);
                (fresh, shared)
            }
        };
        seal_bytes(
            &data_key,
            shared,
            key,
            plaintext,
            context,
            &message_random()?,
        )
    }

    /// [`Envelope::open`] for async data-key sources.
    pub async fn open_async(
        &self,
        sealed: &[u8],
        context: &Context,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let (signed, stream) = SignedHeader::parse(sealed)?;
        let keys = self.unlock_async(&signed, context).await?;
        open_bytes(&keys, signed.header.flags, stream)
    }

    /// [`Envelope::seal_writer`] as a tokio `AsyncWrite`: shut it down to write the final package.
    pub async fn seal_writer_async<W: AsyncWrite + Unpin>(
        &self,
        key: &KeyName,
        context: &Context,
        dst: W,
    ) -> Result<AsyncSealWriter<W>, Error> {
        let data_key = self.keys.generate(key, context.as_bytes()).await?;
        Ok(AsyncSealWriter::new(
            dst,
            seal_core(&data_key, key, context)?,
        ))
    }

    /// [`Envelope::open_reader`] as a tokio `AsyncRead`.
    pub async fn open_reader_async<R: AsyncRead + Unpin>(
        &self,
        mut src: R,
        context: &Context,
    ) -> Result<AsyncOpenReader<R>, Error> {
        let (signed, _) = read_header_async(&mut src).await?;
        let keys = self.unlock_async(&signed, context).await?;
        let core = OpenCore::new(signed.header.key, &keys, signed.header.flags)?;
        Ok(AsyncOpenReader::new(src, core))
    }

    async fn unlock_async(
        &self,
        signed: &SignedHeader,
        context: &Context,
    ) -> Result<MessageKeys, Error> {
        self.check_accepted(&signed.header.key)?;
        let data_key = self
            .keys
            .decrypt(
                &signed.header.key,
                &signed.header.ciphertext,
                context.as_bytes(),
            )
            .await?;
        unlock(signed, &data_key, context)
    }
}

impl<K> Envelope<K> {
    fn check_accepted(&self, key: &KeyName) -> Result<(), EnvelopeError> {
        match &self.accept {
            Some(patterns) if !patterns.iter().any(|p| p.matches(key.as_str())) => {
                Err(EnvelopeError::KeyNotAccepted)
            }
            _ => Ok(()),
        }
    }

    /// A shared data key for a message of `len` bytes, if reuse is on and one is within its limits.
    fn cached(&self, key: &KeyName, context: &Context, len: u64) -> Option<Arc<DataKey>> {
        self.reuse.as_ref()?.take(key, context.as_bytes(), len)
    }

    /// Offers a fresh data key to the reuse cache; returns whether it may now be shared.
    fn remember(
        &self,
        key: &KeyName,
        context: &Context,
        data_key: &Arc<DataKey>,
        len: u64,
    ) -> bool {
        match &self.reuse {
            Some(cache) => cache.insert(key, context.as_bytes(), Arc::clone(data_key), len),
            None => false,
        }
    }
}

impl<K: fmt::Debug> fmt::Debug for Envelope<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("keys", &self.keys)
            .field("accept", &self.accept)
            .field("reuse", &self.reuse.is_some())
            .finish()
    }
}

impl<T: DataKeys + ?Sized> DataKeys for &T {
    fn generate(&self, key: &KeyName, context: &[u8]) -> Result<DataKey, Error> {
        (**self).generate(key, context)
    }

    fn decrypt(
        &self,
        key: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        (**self).decrypt(key, ciphertext, context)
    }
}

impl<T: DataKeys + ?Sized> DataKeys for Arc<T> {
    fn generate(&self, key: &KeyName, context: &[u8]) -> Result<DataKey, Error> {
        (**self).generate(key, context)
    }

    fn decrypt(
        &self,
        key: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        (**self).decrypt(key, ciphertext, context)
    }
}

#[async_trait::async_trait]
impl<T: AsyncDataKeys + ?Sized> AsyncDataKeys for Arc<T> {
    async fn generate(&self, key: &KeyName, context: &[u8]) -> Result<DataKey, Error> {
        (**self).generate(key, context).await
    }

    async fn decrypt(
        &self,
        key: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        (**self).decrypt(key, ciphertext, context).await
    }
}

/// An in-process `Kms` hands out its data keys directly.
#[async_trait::async_trait]
impl AsyncDataKeys for crate::Kms {
    async fn generate(&self, key: &KeyName, context: &[u8]) -> Result<DataKey, Error> {
        self.generate_key(key, context).await
    }

    async fn decrypt(
        &self,
        key: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        crate::Kms::decrypt(self, key, ciphertext, context).await
    }
}

/// A KES server's data keys, through the client.
#[cfg(feature = "client")]
#[async_trait::async_trait]
impl AsyncDataKeys for crate::Client {
    async fn generate(&self, key: &KeyName, context: &[u8]) -> Result<DataKey, Error> {
        self.generate_key(key, context).await
    }

    async fn decrypt(
        &self,
        key: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        crate::Client::decrypt(self, key, ciphertext, context).await
    }
}

/// What a new message needs: its header (untagged), its keys, and its DARE nonce.
struct NewMessage {
    header: Header,
    keys: MessageKeys,
    nonce: [u8; dare::NONCE_LEN],
}

/// The random values of one message: its salt and its DARE nonce, drawn in one system call.
pub(crate) type MessageRandom = [u8; 32 + dare::NONCE_LEN];

fn message_random() -> Result<MessageRandom, Error> {
    let mut random = [0u8; 32 + dare::NONCE_LEN];
    crate::crypto::random(&mut random)?;
    Ok(random)
}

/// Builds a message's header and derives its keys, from its salt and DARE nonce in `random`.
fn new_message(
    data_key: &DataKey,
    shared: bool,
    key: &KeyName,
    context: &Context,
    random: &MessageRandom,
) -> Result<NewMessage, Error> {
    let ciphertext = data_key.ciphertext();
    if ciphertext.is_empty() || ciphertext.len() > MAX_CIPHERTEXT {
        let len = u16::try_from(ciphertext.len()).unwrap_or(u16::MAX);
        return Err(EnvelopeError::CiphertextLength(len).into());
    }
    let (salt, nonce) = random.split_first_chunk::<32>().ok_or(Error::Random)?;
    let nonce: [u8; dare::NONCE_LEN] = nonce.try_into().map_err(|_| Error::Random)?;
    let keys = MessageKeys::derive(data_key.plaintext(), salt, context.as_bytes());
    let header = Header {
        flags: if shared { FLAG_SHARED_KEY } else { 0 },
        key: key.clone(),
        ciphertext: ciphertext.to_vec(),
        salt: *salt,
    };
    Ok(NewMessage {
        header,
        keys,
        nonce,
    })
}

fn seal_core(data_key: &DataKey, key: &KeyName, context: &Context) -> Result<SealCore, Error> {
    Ok(SealCore::new(package_sealer(data_key, key, context)?))
}

fn package_sealer(
    data_key: &DataKey,
    key: &KeyName,
    context: &Context,
) -> Result<PackageSealer, Error> {
    let message = new_message(data_key, false, key, context, &message_random()?)?;
    PackageSealer::new(message.header, message.keys, message.nonce)
}

/// Seals a whole message into one buffer of exactly the right size, packages sealed in place.
pub(crate) fn seal_bytes(
    data_key: &DataKey,
    shared: bool,
    key: &KeyName,
    plaintext: &[u8],
    context: &Context,
    random: &MessageRandom,
) -> Result<Vec<u8>, Error> {
    let mut message = new_message(data_key, shared, key, context, random)?;
    if plaintext.is_empty() {
        message.header.flags |= header::FLAG_EMPTY;
    }
    let header = message.header.encode(&message.keys);
    let stream_len = dare::stream_len(plaintext.len() as u64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(EnvelopeError::TooLarge)?;
    let mut out = Vec::with_capacity(header.len() + stream_len);
    out.extend_from_slice(&header);
    let mut sealer = dare::Sealer::new(&message.keys.payload, message.nonce)?;
    let mut chunks = plaintext.chunks(dare::MAX_PAYLOAD).peekable();
    while let Some(chunk) = chunks.next() {
        let start = out.len();
        out.extend_from_slice(&[0; dare::HEADER_LEN]);
        out.extend_from_slice(chunk);
        out.extend_from_slice(&[0; dare::TAG_LEN]);
        let package = out.get_mut(start..).ok_or(Error::Encrypt)?;
        sealer.seal(package, chunks.peek().is_none())?;
    }
    Ok(out)
}

/// Opens the DARE stream of a whole message.
fn open_bytes(keys: &MessageKeys, flags: u8, stream: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    if flags & header::FLAG_EMPTY != 0 {
        if !stream.is_empty() {
            return Err(EnvelopeError::TrailingData.into());
        }
        return Ok(Zeroizing::new(Vec::new()));
    }
    if stream.is_empty() {
        return Err(EnvelopeError::Truncated.into());
    }
    open_dare(&keys.payload, stream)
}

/// Opens a DARE stream into one buffer; each package's ciphertext is copied in once and decrypted
/// in place.
fn open_dare(payload_key: &[u8; 32], stream: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    // Plaintext plus one tag never exceeds the stream: capacity enough never to reallocate, so no
    // freed block holds plaintext.
    let mut out = Zeroizing::new(Vec::with_capacity(stream.len()));
    let mut opener = dare::Opener::new(payload_key, 0)?;
    let mut rest = stream;
    while !rest.is_empty() {
        if opener.is_finished() {
            return Err(EnvelopeError::TrailingData.into());
        }
        let header = rest
            .first_chunk::<{ dare::HEADER_LEN }>()
            .ok_or(EnvelopeError::Truncated)?;
        let package_len = dare::parse_header(header, opener.seq())?.package_len();
        let (package, after) = rest
            .split_at_checked(package_len)
            .ok_or(EnvelopeError::Truncated)?;
        let body = package
            .get(dare::HEADER_LEN..)
            .ok_or(EnvelopeError::Truncated)?;
        let start = out.len();
        out.extend_from_slice(body);
        let opened = opener.open(header, out.get_mut(start..).ok_or(Error::Encrypt)?)?;
        out.truncate(start + opened.payload_len);
        rest = after;
    }
    if !opener.is_finished() {
        return Err(EnvelopeError::Truncated.into());
    }
    Ok(out)
}

/// Derives a message's keys from its decrypted data key and checks the header's tag with them.
fn unlock(signed: &SignedHeader, data_key: &[u8], context: &Context) -> Result<MessageKeys, Error> {
    let data_key: &[u8; 32] = data_key
        .try_into()
        .map_err(|_| EnvelopeError::DataKeyLength)?;
    let keys = MessageKeys::derive(data_key, &signed.header.salt, context.as_bytes());
    signed.verify(&keys)?;
    Ok(keys)
}

/// Reads exactly one header from `src`: its fixed prefix, then the length the prefix gives.
fn read_header<R: Read>(src: &mut R) -> Result<(SignedHeader, usize), Error> {
    let mut prefix = [0u8; PREFIX_LEN];
    src.read_exact(&mut prefix).map_err(truncated_header)?;
    let len = Header::len_from_prefix(&prefix)?;
    let mut bytes = vec![0u8; len];
    let (head, rest) = bytes
        .split_at_mut_checked(PREFIX_LEN)
        .ok_or(EnvelopeError::TruncatedHeader)?;
    head.copy_from_slice(&prefix);
    src.read_exact(rest).map_err(truncated_header)?;
    let (signed, _) = SignedHeader::parse(&bytes)?;
    Ok((signed, len))
}

async fn read_header_async<R: AsyncRead + Unpin>(
    src: &mut R,
) -> Result<(SignedHeader, usize), Error> {
    let mut prefix = [0u8; PREFIX_LEN];
    src.read_exact(&mut prefix)
        .await
        .map_err(truncated_header)?;
    let len = Header::len_from_prefix(&prefix)?;
    let mut bytes = vec![0u8; len];
    let (head, rest) = bytes
        .split_at_mut_checked(PREFIX_LEN)
        .ok_or(EnvelopeError::TruncatedHeader)?;
    head.copy_from_slice(&prefix);
    src.read_exact(rest).await.map_err(truncated_header)?;
    let (signed, _) = SignedHeader::parse(&bytes)?;
    Ok((signed, len))
}

/// A bare DARE stream under a given key and nonce, for the vectors (and sio's own).
pub(crate) fn dare_seal(
    key: &[u8; 32],
    nonce: &[u8; dare::NONCE_LEN],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut sealer = dare::Sealer::new(key, *nonce)?;
    let mut out = Vec::new();
    let mut chunks = plaintext.chunks(dare::MAX_PAYLOAD).peekable();
    while let Some(chunk) = chunks.next() {
        let start = out.len();
        out.extend_from_slice(&[0; dare::HEADER_LEN]);
        out.extend_from_slice(chunk);
        out.extend_from_slice(&[0; dare::TAG_LEN]);
        sealer.seal(
            out.get_mut(start..).ok_or(Error::Encrypt)?,
            chunks.peek().is_none(),
        )?;
    }
    Ok(out)
}

/// Opens a bare DARE stream under a given key, for the vectors.
pub(crate) fn dare_open(key: &[u8; 32], stream: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    open_dare(key, stream)
}

/// The header key and payload key of a message, for the envelope vectors.
pub(crate) fn derive_keys(
    data_key: &[u8; 32],
    salt: &[u8; 32],
    context: &Context,
) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>) {
    let keys = MessageKeys::derive(data_key, salt, context.as_bytes());
    let (header, payload) = keys.declassify();
    (Zeroizing::new(*header), Zeroizing::new(*payload))
}

/// The fuzz entry: a header decodes only to what re-encodes to the same bytes, and the one-shot and
/// streaming readers agree on every input (a zero data key, so that a fuzzer may find valid tags
/// only by chance; the DARE stream is also tried on its own, without the header's tag in the way).
pub(crate) fn fuzz(data: &[u8]) {
    struct ZeroKeys;
    impl DataKeys for ZeroKeys {
        fn generate(&self, _: &KeyName, _: &[u8]) -> Result<DataKey, Error> {
            Err(Error::Encrypt)
        }
        fn decrypt(&self, _: &KeyName, _: &[u8], _: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
            Ok(Zeroizing::new(vec![0; 32]))
        }
    }
    if let Ok((signed, rest)) = SignedHeader::parse(data) {
        let header_len = data.len() - rest.len();
        assert_eq!(Some(&*signed.to_bytes()), data.get(..header_len));
    }
    let envelope = Envelope::new(ZeroKeys);
    let context = Context::empty();
    let one_shot = envelope.open(data, &context);
    let streamed = envelope.open_reader(data, &context).and_then(|mut reader| {
        let mut out = Vec::new();
        reader.read_to_end(&mut out)?;
        Ok(out)
    });
    same_result(one_shot, streamed);

    let keys = MessageKeys::derive(&[0; 32], &[0; 32], b"");
    let key = KeyName::new("k").ok();
    let streamed = key.ok_or(Error::Encrypt).and_then(|key| {
        let mut reader = OpenReader::new(data, OpenCore::new(key, &keys, 0)?);
        let mut out = Vec::new();
        reader.read_to_end(&mut out)?;
        Ok(out)
    });
    same_result(open_bytes(&keys, 0, data), streamed);
}

fn same_result(one_shot: Result<Zeroizing<Vec<u8>>, Error>, streamed: Result<Vec<u8>, Error>) {
    match (one_shot, streamed) {
        (Ok(a), Ok(b)) => assert_eq!(*a, b),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => unreachable!("one-shot and streaming open disagree: {a:?} / {b:?}"),
    }
}

fn truncated_header(err: io::Error) -> Error {
    if err.kind() == io::ErrorKind::UnexpectedEof {
        EnvelopeError::TruncatedHeader.into()
    } else {
        err.into()
    }
}
