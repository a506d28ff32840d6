//! Random access: which packages a plaintext byte range covers, found from the stream's length alone.
//!
//! Every package but the last holds exactly 64 KiB, so plaintext byte `i` is in package `i / 64 KiB`,
//! which starts `(i / 64 KiB) × (64 KiB + 32)` bytes into the DARE stream. The stream's length gives
//! the plaintext length (as sio's `DecryptedSize`), and with it which package must be the final one.

use super::dare::{self, MAX_PACKAGE, MAX_PAYLOAD};
use super::stream::RangeStart;
use crate::EnvelopeError;

/// For `len` plaintext bytes from `offset`, in a DARE stream of `stream_len` bytes (none if the
/// header says the message is empty): where in the stream to start reading, and what to read.
pub(super) fn plan(
    stream_len: u64,
    empty: bool,
    offset: u64,
    len: u64,
) -> Result<(u64, RangeStart), EnvelopeError> {
    let plaintext_len = match (empty, stream_len) {
        (true, 0) => 0,
        (true, _) => return Err(EnvelopeError::TrailingData),
        (false, 0) => return Err(EnvelopeError::Truncated),
        (false, n) => dare::plaintext_len(n).ok_or(EnvelopeError::Truncated)?,
    };
    let end = offset
        .checked_add(len)
        .ok_or(EnvelopeError::RangeOutOfBounds)?;
    if end > plaintext_len {
        return Err(EnvelopeError::RangeOutOfBounds);
    }
    let payload = MAX_PAYLOAD as u64;
    let packages = plaintext_len.div_ceil(payload);
    let last = u32::try_from(packages.saturating_sub(1)).map_err(|_| EnvelopeError::TooLarge)?;
    let (first, skip) = if len == 0 {
        (0, 0)
    } else {
        (offset / payload, offset % payload)
    };
    let start = RangeStart {
        first: u32::try_from(first).map_err(|_| EnvelopeError::TooLarge)?,
        skip: usize::try_from(skip).map_err(|_| EnvelopeError::TooLarge)?,
        len,
        last,
    };
    Ok((first * MAX_PACKAGE as u64, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u64 = MAX_PAYLOAD as u64;
    const K: u64 = MAX_PACKAGE as u64;

    #[test]
    fn ranges_map_to_packages() {
        // 3 packages: 64 KiB, 64 KiB, 10 bytes.
        let stream = 2 * K + 10 + 32;
        let (at, r) = plan(stream, false, P + 5, 20).unwrap();
        assert_eq!((at, r.first, r.skip, r.len, r.last), (K, 1, 5, 20, 2));
        let (at, r) = plan(stream, false, 2 * P + 9, 1).unwrap();
        assert_eq!((at, r.first, r.skip, r.last), (2 * K, 2, 9, 2));
        let (_, r) = plan(stream, false, 2 * P + 10, 0).unwrap();
        assert_eq!(r.len, 0);
    }

    #[test]
    fn out_of_bounds_and_bad_lengths() {
        let stream = K + 33;
        assert_eq!(
            plan(stream, false, P, 2).err(),
            Some(EnvelopeError::RangeOutOfBounds)
        );
        assert_eq!(
            plan(stream, false, u64::MAX, 2).err(),
            Some(EnvelopeError::RangeOutOfBounds)
        );
        assert_eq!(
            plan(K + 32, false, 0, 1).err(),
            Some(EnvelopeError::Truncated)
        );
        assert_eq!(plan(0, false, 0, 0).err(), Some(EnvelopeError::Truncated));
        assert_eq!(plan(1, true, 0, 0).err(), Some(EnvelopeError::TrailingData));
        assert!(plan(0, true, 0, 0).is_ok());
        assert_eq!(
            plan(0, true, 0, 1).err(),
            Some(EnvelopeError::RangeOutOfBounds)
        );
    }
}
