//! Streaming seal and open over `std::io`, with at most one DARE package (64 KiB + 32 bytes) in
//! memory, and the two state machines the blocking and the tokio adapters share.
//!
//! The state machines do no I/O: the sealing one says what to write next, the opening one where to
//! read the next bytes into. Each has a permanent failed state: after an error nothing more is
//! written or returned, since a half-written package or half-checked stream cannot be resumed.

use std::fmt;
use std::io::{self, Read, Write};

use zeroize::Zeroizing;

use super::dare::{self, Opener, HEADER_LEN, MAX_PACKAGE, MAX_PAYLOAD, TAG_LEN};
use super::header::{MessageKeys, FLAG_EMPTY};
use super::packages::PackageSealer;
use crate::{EnvelopeError, Error, KeyName};

/// Seals what is written to it into an envelope written to `W`. Call [`SealWriter::finish`] at the
/// end: without it the last package is never written, and the envelope does not open (truncated).
///
/// Built by [`Envelope::seal_writer`](crate::Envelope::seal_writer). `flush` passes only complete
/// packages on: DARE packages other than the last are always 64 KiB.
pub struct SealWriter<W: Write> {
    dst: W,
    core: SealCore,
}

/// Opens an envelope read from `R`, returning its plaintext as it is read and authenticated, one
/// package at a time. It returns end of file only after the final package and, for a whole
/// envelope, after checking that nothing follows it; every failure is an `io::Error` that converts
/// into the [`Error`] it carries with `Error::from`.
///
/// Built by [`Envelope::open_reader`](crate::Envelope::open_reader) and
/// [`Envelope::open_range`](crate::Envelope::open_range).
pub struct OpenReader<R: Read> {
    src: R,
    core: OpenCore,
}

impl<W: Write> SealWriter<W> {
    pub(super) fn new(dst: W, core: SealCore) -> Self {
        Self { dst, core }
    }

    /// Seals and writes the final package (or, if nothing was written, an empty message), flushes,
    /// and returns the destination.
    pub fn finish(mut self) -> Result<W, Error> {
        if let Some(header) = self.core.finish()? {
            self.dst.write_all(&header)?;
        }
        if let Some(package) = self.core.sealed() {
            self.dst.write_all(package)?;
        }
        self.core.written();
        self.dst.flush()?;
        Ok(self.dst)
    }

    /// Seals the full buffered package as not final and writes it, header first if still due.
    fn write_package(&mut self) -> Result<(), Error> {
        let header = self.core.seal_next()?;
        let result = (|| {
            if let Some(header) = header {
                self.dst.write_all(&header)?;
            }
            if let Some(package) = self.core.sealed() {
                self.dst.write_all(package)?;
            }
            Ok::<_, io::Error>(())
        })();
        match result {
            Ok(()) => {
                self.core.written();
                Ok(())
            }
            Err(err) => {
                self.core.fail();
                Err(err.into())
            }
        }
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if self.core.is_full() {
            // More data follows the buffered package, so it is not the final one.
            self.write_package()?;
        }
        Ok(self.core.buffer(data)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.dst.flush()
    }
}

impl<R: Read> OpenReader<R> {
    pub(super) fn new(src: R, core: OpenCore) -> Self {
        Self { src, core }
    }

    /// The name of the key the envelope was sealed under (authenticated).
    pub fn key(&self) -> &KeyName {
        &self.core.key
    }

    /// The source, for example to read what follows a range.
    pub fn into_inner(self) -> R {
        self.src
    }
}

impl<R: Read> Read for OpenReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let n = self.core.take_plaintext(out);
            if n > 0 {
                return Ok(n);
            }
            let Some(space) = self.core.space()? else {
                return Ok(0);
            };
            let n = match self.src.read(space) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            self.core.filled(n)?;
        }
    }
}

impl<W: Write> fmt::Debug for SealWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealWriter").finish_non_exhaustive()
    }
}

impl<R: Read> fmt::Debug for OpenReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenReader")
            .field("key", &self.core.key)
            .finish_non_exhaustive()
    }
}

/// Sealing, without I/O: plaintext is buffered into one package; a package is sealed in place when it
/// is full and more data follows, or at the end. [`PackageSealer`] holds the header back and keeps the
/// state; this adds the buffer.
pub(super) struct SealCore {
    packages: PackageSealer,
    /// `header space ‖ payload ‖ tag space`; after sealing, the package to write.
    buf: Vec<u8>,
    /// Payload bytes buffered.
    len: usize,
    /// Whether `buf` holds a sealed package not yet written.
    sealed: bool,
}

impl SealCore {
    pub(super) fn new(packages: PackageSealer) -> Self {
        Self {
            packages,
            buf: vec![0; MAX_PACKAGE],
            len: 0,
            sealed: false,
        }
    }

    /// Whether the buffer holds a full package, which must be sealed before more is buffered.
    pub(super) fn is_full(&self) -> bool {
        self.len == MAX_PAYLOAD
    }

    /// Buffers as much of `data` as fits and returns how much that was.
    pub(super) fn buffer(&mut self, data: &[u8]) -> Result<usize, Error> {
        self.check_open()?;
        let start = HEADER_LEN + self.len;
        let space = self
            .buf
            .get_mut(start..HEADER_LEN + MAX_PAYLOAD)
            .ok_or(Error::Encrypt)?;
        let n = space.len().min(data.len());
        if let (Some(dst), Some(src)) = (space.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.len += n;
        Ok(n)
    }

    /// Seals the full buffer as a non-final package. Returns the header if it is still to be written.
    pub(super) fn seal_next(&mut self) -> Result<Option<Vec<u8>>, Error> {
        self.check_open()?;
        self.seal(false)
    }

    /// Seals the buffer as the final package, or marks the message empty if nothing was written.
    /// Returns the header if it is still to be written; [`SealCore::sealed`] then gives the package.
    pub(super) fn finish(&mut self) -> Result<Option<Vec<u8>>, Error> {
        self.check_open()?;
        if self.len > 0 {
            return self.seal(true);
        }
        // Nothing was ever written: packages go out only when more data follows them.
        let header = self.packages.take_header(true).ok_or(Error::Encrypt)?;
        self.packages.finish_empty();
        Ok(Some(header))
    }

    /// The sealed package waiting to be written.
    pub(super) fn sealed(&self) -> Option<&[u8]> {
        if self.sealed {
            self.buf.get(..HEADER_LEN + self.len + TAG_LEN)
        } else {
            None
        }
    }

    /// The sealed package was written; the buffer is free.
    pub(super) fn written(&mut self) {
        self.sealed = false;
        self.len = 0;
    }

    /// Writing failed part-way: the stream cannot continue.
    pub(super) fn fail(&mut self) {
        self.packages.fail();
    }

    fn seal(&mut self, is_final: bool) -> Result<Option<Vec<u8>>, Error> {
        let package = self
            .buf
            .get_mut(..HEADER_LEN + self.len + TAG_LEN)
            .ok_or(Error::Encrypt)?;
        self.packages.seal_in_place(package, is_final)?;
        self.sealed = true;
        Ok(self.packages.take_header(false))
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.sealed {
            // A sealed package not yet written: a caller bug, never a panic.
            return Err(Error::Encrypt);
        }
        self.packages.check_open()
    }
}

/// Opening, without I/O: reads each package header, then its body, into one buffer; authenticates and
/// decrypts it in place; hands out its plaintext; and after the final package checks for trailing
/// bytes. A range reader starts at a later package, skips into it, and stops after its bytes.
pub(super) struct OpenCore {
    pub(super) key: KeyName,
    opener: Opener,
    buf: Zeroizing<Vec<u8>>,
    /// Bytes of the current package read so far, and how many are needed next: the header's 16,
    /// then the whole package.
    filled: usize,
    want: usize,
    /// The plaintext not yet handed out: `buf[pos..end]`.
    pos: usize,
    end: usize,
    /// Range reads: plaintext bytes to drop from the first package, and to hand out in all.
    skip: usize,
    remaining: Option<u64>,
    /// Range reads: the sequence number of the stream's last package, which must be final.
    last: Option<u32>,
    state: OpenState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenState {
    /// Reading packages.
    Packages,
    /// After the final package (or the header of an empty message): one read must find end of file.
    Trailing,
    Done,
    Failed(EnvelopeError),
}

/// Where the next package of a range starts and how much of it to use.
#[derive(Debug, Clone, Copy)]
pub(super) struct RangeStart {
    pub(super) first: u32,
    pub(super) skip: usize,
    pub(super) len: u64,
    pub(super) last: u32,
}

impl OpenCore {
    /// Opens a whole stream; `flags` are the authenticated header's.
    pub(super) fn new(key: KeyName, keys: &MessageKeys, flags: u8) -> Result<Self, Error> {
        let state = if flags & FLAG_EMPTY != 0 {
            OpenState::Trailing
        } else {
            OpenState::Packages
        };
        Self::build(key, keys, 0, state)
    }

    /// Opens the packages of a range. The source must be positioned at package `range.first`.
    pub(super) fn range(
        key: KeyName,
        keys: &MessageKeys,
        range: RangeStart,
    ) -> Result<Self, Error> {
        let state = if range.len == 0 {
            OpenState::Done
        } else {
            OpenState::Packages
        };
        let mut core = Self::build(key, keys, range.first, state)?;
        core.skip = range.skip;
        core.remaining = Some(range.len);
        core.last = Some(range.last);
        Ok(core)
    }

    fn build(
        key: KeyName,
        keys: &MessageKeys,
        first: u32,
        state: OpenState,
    ) -> Result<Self, Error> {
        Ok(Self {
            key,
            opener: Opener::new(&keys.payload, first)?,
            buf: Zeroizing::new(vec![0; MAX_PACKAGE]),
            filled: 0,
            want: HEADER_LEN,
            pos: 0,
            end: 0,
            skip: 0,
            remaining: None,
            last: None,
            state,
        })
    }

    /// Copies plaintext that is ready into `out` and returns how much.
    pub(super) fn take_plaintext(&mut self, out: &mut [u8]) -> usize {
        let mut n = out.len().min(self.end - self.pos);
        if let Some(remaining) = self.remaining {
            n = n.min(usize::try_from(remaining).unwrap_or(usize::MAX));
        }
        if let (Some(dst), Some(src)) = (out.get_mut(..n), self.buf.get(self.pos..self.pos + n)) {
            dst.copy_from_slice(src);
        } else {
            return 0;
        }
        self.pos += n;
        if let Some(remaining) = &mut self.remaining {
            *remaining -= n as u64;
        }
        n
    }

    /// Where to read the next source bytes into; `None` once the stream (or range) is complete.
    /// Only called when no plaintext is waiting.
    pub(super) fn space(&mut self) -> Result<Option<&mut [u8]>, EnvelopeError> {
        if self.remaining == Some(0) {
            return Ok(None);
        }
        match self.state {
            OpenState::Done => Ok(None),
            OpenState::Failed(err) => Err(err),
            // One byte is enough to tell end of file from trailing data.
            OpenState::Trailing => Ok(self.buf.get_mut(..1)),
            OpenState::Packages => Ok(self.buf.get_mut(self.filled..self.want)),
        }
    }

    /// `n` bytes were read into [`OpenCore::space`]; 0 means end of file.
    pub(super) fn filled(&mut self, n: usize) -> Result<(), EnvelopeError> {
        let result = self.advance(n);
        if let Err(err) = result {
            self.state = OpenState::Failed(err);
        }
        result
    }

    fn advance(&mut self, n: usize) -> Result<(), EnvelopeError> {
        match self.state {
            OpenState::Done => return Ok(()),
            OpenState::Failed(err) => return Err(err),
            OpenState::Trailing if n == 0 => {
                self.state = OpenState::Done;
                return Ok(());
            }
            OpenState::Trailing => return Err(EnvelopeError::TrailingData),
            OpenState::Packages if n == 0 => return Err(EnvelopeError::Truncated),
            OpenState::Packages => {}
        }
        self.filled += n;
        if self.filled < self.want {
            return Ok(());
        }
        let (header, body) = self
            .buf
            .split_first_chunk_mut::<HEADER_LEN>()
            .ok_or(EnvelopeError::Truncated)?;
        if self.want == HEADER_LEN {
            let seq = self.opener.seq();
            let parsed = dare::parse_header(header, seq)?;
            if self.last == Some(seq) && !parsed.is_final {
                return Err(EnvelopeError::Truncated); // The source was cut at a package boundary.
            }
            self.want = parsed.package_len();
            return Ok(());
        }
        let body = body
            .get_mut(..self.want - HEADER_LEN)
            .ok_or(EnvelopeError::Truncated)?;
        let parsed = self.opener.open(header, body)?;
        self.pos = HEADER_LEN + self.skip.min(parsed.payload_len);
        self.end = HEADER_LEN + parsed.payload_len;
        self.skip = 0;
        self.filled = 0;
        self.want = HEADER_LEN;
        if self.opener.is_finished() {
            // A range's source ends with the final package by construction (its length was taken
            // from it); a whole envelope must be followed by nothing.
            self.state = if self.last.is_some() {
                OpenState::Done
            } else {
                OpenState::Trailing
            };
        }
        Ok(())
    }
}

impl From<EnvelopeError> for io::Error {
    fn from(err: EnvelopeError) -> Self {
        Error::Envelope(err).into()
    }
}
