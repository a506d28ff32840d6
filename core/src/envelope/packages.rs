//! Sealing one DARE package at a time, between buffers the caller owns: the plaintext is borrowed and
//! the sealed bytes go straight into the caller's output buffer. Bindings use it to stream through
//! their own file objects without a package buffer of core's in between; the stream writers' buffer
//! (`SealCore`) uses its in-place half.

use super::dare::{self, Sealer, HEADER_LEN, MAX_PACKAGE, MAX_PAYLOAD, TAG_LEN};
use super::header::{self, Header, MessageKeys, FLAG_EMPTY};
use crate::Error;

/// Seals an envelope one package at a time, from plaintext the caller holds into a buffer the caller
/// holds: one copy per package (the AEAD seals in place, so the plaintext is copied into `out` and
/// encrypted there), and no allocation but the header's.
///
/// Every package but the last holds exactly [`ENVELOPE_PACKAGE_LEN`](crate::ENVELOPE_PACKAGE_LEN)
/// bytes, and the last one says so (`is_final`): a caller reads ahead to know. Without a final
/// package the envelope does not open (truncated). After any error the sealer is spent.
///
/// Built by [`Envelope::package_sealer`](crate::Envelope::package_sealer).
pub struct PackageSealer {
    /// The header and the keys to tag it, until it is written: held back because only the end tells
    /// whether the message is empty (a header flag).
    header: Option<(Header, MessageKeys)>,
    sealer: Sealer,
    state: SealState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SealState {
    Open,
    Finished,
    Failed,
}

impl PackageSealer {
    /// The most bytes one [`PackageSealer::seal`] writes: the envelope header (first call only) and a
    /// full package. An `out` this long always suffices.
    pub const MAX_OUTPUT: usize = header::MAX_LEN + MAX_PACKAGE;

    pub(super) fn new(
        header: Header,
        keys: MessageKeys,
        nonce: [u8; dare::NONCE_LEN],
    ) -> Result<Self, Error> {
        Ok(Self {
            sealer: Sealer::new(&keys.payload, nonce)?,
            header: Some((header, keys)),
            state: SealState::Open,
        })
    }

    /// Seals `plaintext` as the next package into the start of `out`, after the envelope header on
    /// the first call, and returns how many bytes of `out` to write. `plaintext` is
    /// `ENVELOPE_PACKAGE_LEN` bytes unless `is_final`; an empty final `plaintext` is allowed only as
    /// the first call, and makes the empty message (its header alone).
    pub fn seal(
        &mut self,
        plaintext: &[u8],
        is_final: bool,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.check_open()?;
        if plaintext.len() > MAX_PAYLOAD || (!is_final && plaintext.len() != MAX_PAYLOAD) {
            return Err(self.refuse(format!(
                "a package holds {MAX_PAYLOAD} plaintext bytes, the final one 1 to {MAX_PAYLOAD}; \
                 got {} (final: {is_final})",
                plaintext.len()
            )));
        }
        if plaintext.is_empty() && self.header.is_none() {
            return Err(self.refuse(
                "an empty final package is only the whole (empty) message; mark the last full \
                 package final instead"
                    .into(),
            ));
        }
        let header = self.take_header(plaintext.is_empty());
        let header_len = header.as_ref().map_or(0, Vec::len);
        let total = header_len + HEADER_LEN + plaintext.len() + TAG_LEN;
        let out_len = out.len();
        let Some((head, package)) = out
            .get_mut(..total)
            .and_then(|used| used.split_at_mut_checked(header_len))
        else {
            return Err(self.refuse(format!(
                "the output buffer holds {out_len} bytes; this package needs {total}"
            )));
        };
        if let Some(header) = &header {
            head.copy_from_slice(header);
        }
        if plaintext.is_empty() {
            self.state = SealState::Finished;
            return Ok(header_len);
        }
        package
            .get_mut(HEADER_LEN..HEADER_LEN + plaintext.len())
            .ok_or(Error::Encrypt)?
            .copy_from_slice(plaintext);
        self.seal_in_place(package, is_final)?;
        Ok(total)
    }

    /// Seals `package` (`header space[16] ‖ payload ‖ tag space[16]`) in place. The envelope header
    /// must be taken first ([`PackageSealer::take_header`]) and written before the package.
    pub(super) fn seal_in_place(
        &mut self,
        package: &mut [u8],
        is_final: bool,
    ) -> Result<(), Error> {
        self.check_open()?;
        if let Err(err) = self.sealer.seal(package, is_final) {
            self.state = SealState::Failed;
            return Err(err);
        }
        if is_final {
            self.state = SealState::Finished;
        }
        Ok(())
    }

    /// The encoded envelope header if it is still to be written (once): flagged empty if `empty`.
    pub(super) fn take_header(&mut self, empty: bool) -> Option<Vec<u8>> {
        self.header.take().map(|(mut header, keys)| {
            if empty {
                header.flags |= FLAG_EMPTY;
            }
            header.encode(&keys)
        })
    }

    /// Marks the message done without another package: the empty message, whose header
    /// [`PackageSealer::take_header`] gave.
    pub(super) fn finish_empty(&mut self) {
        self.state = SealState::Finished;
    }

    /// Writing failed part-way: the stream cannot continue.
    pub(super) fn fail(&mut self) {
        self.state = SealState::Failed;
    }

    pub(super) fn check_open(&self) -> Result<(), Error> {
        match self.state {
            SealState::Open => Ok(()),
            // Sealing after the end, or after a failure, is a caller bug or follows an error already
            // reported; never a panic, and never a second final package.
            SealState::Finished | SealState::Failed => Err(Error::Encrypt),
        }
    }

    /// A caller's mistake: reported precisely, and the sealer is spent (what was written so far is
    /// not a message that can be continued).
    fn refuse(&mut self, message: String) -> Error {
        self.state = SealState::Failed;
        Error::InvalidArgument(message)
    }
}

impl std::fmt::Debug for PackageSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackageSealer")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
