//! Streaming seal and open over tokio's `AsyncWrite` and `AsyncRead`: the state machines of
//! stream.rs, driven by polls. At most one package (64 KiB + 32 bytes) is in memory.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::stream::{OpenCore, SealCore};
use crate::KeyName;

/// Seals what is written to it into an envelope written to `W`. Shut it down
/// (`AsyncWriteExt::shutdown`) at the end: that writes the final package. Without it the envelope
/// does not open (truncated).
///
/// Built by [`Envelope::seal_writer_async`](crate::Envelope::seal_writer_async).
pub struct AsyncSealWriter<W> {
    dst: W,
    core: SealCore,
    /// The header while it is written, and how much of it is out.
    header: Vec<u8>,
    header_pos: usize,
    /// How much of the sealed package is out.
    package_pos: usize,
    finished: bool,
}

/// Opens an envelope read from `R`; see [`OpenReader`](crate::OpenReader), which it mirrors.
///
/// Built by [`Envelope::open_reader_async`](crate::Envelope::open_reader_async).
pub struct AsyncOpenReader<R> {
    src: R,
    core: OpenCore,
}

impl<W: AsyncWrite + Unpin> AsyncSealWriter<W> {
    pub(super) fn new(dst: W, core: SealCore) -> Self {
        Self {
            dst,
            core,
            header: Vec::new(),
            header_pos: 0,
            package_pos: 0,
            finished: false,
        }
    }

    /// The destination. Only complete once the writer has been shut down.
    pub fn into_inner(self) -> W {
        self.dst
    }

    /// Writes out the pending header and sealed package, if any.
    fn poll_drain(&mut self, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let result = ready!(self.drain(cx));
        if result.is_err() {
            self.core.fail();
        }
        Poll::Ready(result)
    }

    fn drain(&mut self, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        while let Some(rest) = self.header.get(self.header_pos..).filter(|r| !r.is_empty()) {
            let n = ready!(Pin::new(&mut self.dst).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.header_pos += n;
        }
        if let Some(package) = self.core.sealed() {
            while let Some(rest) = package.get(self.package_pos..).filter(|r| !r.is_empty()) {
                let n = ready!(Pin::new(&mut self.dst).poll_write(cx, rest))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.package_pos += n;
            }
            self.core.written();
            self.package_pos = 0;
        }
        Poll::Ready(Ok(()))
    }

    fn queue_header(&mut self, header: Option<Vec<u8>>) {
        if let Some(header) = header {
            self.header = header;
            self.header_pos = 0;
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for AsyncSealWriter<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.core.is_full() {
            // More data follows the buffered package, so it is not the final one.
            let header = this.core.seal_next()?;
            this.queue_header(header);
            ready!(this.poll_drain(cx))?;
        }
        Poll::Ready(Ok(this.core.buffer(data)?))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.dst).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if !this.finished {
            let header = this.core.finish()?;
            this.queue_header(header);
            this.finished = true;
        }
        ready!(this.poll_drain(cx))?;
        ready!(Pin::new(&mut this.dst).poll_flush(cx))?;
        Pin::new(&mut this.dst).poll_shutdown(cx)
    }
}

impl<R: AsyncRead + Unpin> AsyncOpenReader<R> {
    pub(super) fn new(src: R, core: OpenCore) -> Self {
        Self { src, core }
    }

    /// The name of the key the envelope was sealed under (authenticated).
    pub fn key(&self) -> &KeyName {
        &self.core.key
    }

    /// The source.
    pub fn into_inner(self) -> R {
        self.src
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for AsyncOpenReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            let n = this.core.take_plaintext(buf.initialize_unfilled());
            if n > 0 {
                buf.advance(n);
                return Poll::Ready(Ok(()));
            }
            let Some(space) = this.core.space()? else {
                return Poll::Ready(Ok(()));
            };
            let mut read = ReadBuf::new(space);
            ready!(Pin::new(&mut this.src).poll_read(cx, &mut read))?;
            let n = read.filled().len();
            this.core.filled(n)?;
        }
    }
}

impl<W> fmt::Debug for AsyncSealWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncSealWriter").finish_non_exhaustive()
    }
}

impl<R> fmt::Debug for AsyncOpenReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncOpenReader")
            .field("key", &self.core.key)
            .finish_non_exhaustive()
    }
}
