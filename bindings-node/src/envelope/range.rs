//! `openRange`'s sources: a path, opened here, or a file JS reads for us (a `fs.promises`
//! `FileHandle`, through index.js) with positioned reads. Either way core's `open_range` decides
//! what to read (the header, then only the packages the range covers), so random access works the
//! same on every platform.

use std::io::{self, BufReader, Read, Seek, SeekFrom};

use kesrs_core::{BlockingKeys, Context, Envelope, Error};
use napi::bindgen_prelude::{Buffer, FnArgs, Promise};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::Status;
use tokio::runtime::Handle;
use zeroize::Zeroizing;

/// `read(position, length)` from index.js: resolves to at most `length` bytes of the file from
/// `position` (fewer only at its end).
pub(super) type ReadAt =
    ThreadsafeFunction<FnArgs<(f64, u32)>, Promise<Buffer>, FnArgs<(f64, u32)>, Status, false>;

/// Where the sealed message is: the whole of a file.
pub(super) enum Source {
    Path(String),
    /// A file JS reads, `size` bytes long.
    Js {
        read: ReadAt,
        size: u64,
    },
}

/// `length` plaintext bytes from `offset` of the message in `source`. Blocks: run it off the
/// runtime's workers.
pub(super) fn open_range(
    envelope: &Envelope<BlockingKeys>,
    source: Source,
    context: &Context,
    offset: u64,
    length: u64,
    runtime: Handle,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    match source {
        Source::Path(path) => read_range(
            envelope,
            std::fs::File::open(path)?,
            context,
            offset,
            length,
        ),
        Source::Js { read, size } => {
            let file = JsFile {
                read,
                size,
                pos: 0,
                runtime,
            };
            // Core reads the header in two small pieces and each package in one: a buffer of one
            // package serves the header's pieces with one read, and larger reads go past it.
            let file = BufReader::with_capacity(kesrs_core::ENVELOPE_PACKAGE_LEN, file);
            read_range(envelope, file, context, offset, length)
        }
    }
}

fn read_range(
    envelope: &Envelope<BlockingKeys>,
    file: impl Read + Seek,
    context: &Context,
    offset: u64,
    length: u64,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut reader = envelope.open_range(file, context, offset, length)?;
    // Never more than the range: core has checked it against the message's length.
    let capacity = usize::try_from(length.min(1 << 26)).unwrap_or(0);
    let mut plaintext = Zeroizing::new(Vec::with_capacity(capacity));
    reader.read_to_end(&mut plaintext)?;
    Ok(plaintext)
}

/// `Read` and `Seek` over a file JS reads: each read is one call of `read` on the JS thread, which
/// this (blocking) thread waits for.
struct JsFile {
    read: ReadAt,
    size: u64,
    pos: u64,
    runtime: Handle,
}

impl Read for JsFile {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let left = self.size.saturating_sub(self.pos);
        let want = u32::try_from(out.len().min(1 << 30))
            .unwrap_or(u32::MAX)
            .min(u32::try_from(left).unwrap_or(u32::MAX));
        if want == 0 {
            return Ok(0);
        }
        // Exact: positions stay below the file's size, which JS gave as a number.
        #[allow(clippy::cast_precision_loss)]
        let position = self.pos as f64;
        let read = &self.read;
        let bytes = self
            .runtime
            .block_on(async move {
                read.call_async_catch(FnArgs::from((position, want)))
                    .await?
                    .await
            })
            .map_err(|err| io::Error::other(err.reason))?;
        let n = bytes.len().min(want as usize);
        let (Some(to), Some(from)) = (out.get_mut(..n), bytes.get(..n)) else {
            return Err(io::Error::other("read past its buffer"));
        };
        to.copy_from_slice(from);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for JsFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(pos) => Some(pos),
            SeekFrom::End(delta) => self.size.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.pos.checked_add_signed(delta),
        };
        self.pos = pos.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "seek before the file's start")
        })?;
        Ok(self.pos)
    }
}
