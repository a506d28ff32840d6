//! DARE 2.0, the package format of MinIO's `github.com/minio/sio` (v0.4.1), as sio writes it by
//! default on CPUs with AES instructions: AES-256-GCM packages of at most 64 KiB of plaintext.
//!
//! A package is `header[16] ‖ ciphertext ‖ tag[16]`. The header is `0x20 ‖ cipher ‖ (len - 1) as u16 LE
//! ‖ nonce[12]`; the first four header bytes are the associated data. Every package of a stream carries
//! the same random nonce, except that the top bit of its first byte is set on the final package only.
//! The AEAD nonce is that nonce with its last four bytes, read as a little-endian u32, XORed with the
//! package's sequence number. So a package is bound to its position and to being final or not, and a
//! stream ends only with a package that says so.
//!
//! This module holds no I/O: the stream adapters feed it whole packages.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

use crate::{EnvelopeError, Error};

/// Package header length.
pub(super) const HEADER_LEN: usize = 16;
/// AES-GCM tag length.
pub(super) const TAG_LEN: usize = 16;
/// The largest payload of a package, and the size of every package but the final one.
pub(super) const MAX_PAYLOAD: usize = 64 * 1024;
/// The largest package.
pub(super) const MAX_PACKAGE: usize = HEADER_LEN + MAX_PAYLOAD + TAG_LEN;
/// The DARE nonce length.
pub(super) const NONCE_LEN: usize = 12;

/// DARE version 2.0.
const VERSION: u8 = 0x20;
/// sio's `AES_256_GCM` cipher suite. kesrs writes and reads only this one (docs/envelope.md says why).
const AES_256_GCM_ID: u8 = 0x00;
/// The final-package bit, in the first nonce byte.
const FINAL: u8 = 0x80;
/// How many header bytes are associated data: version, cipher and length.
const AAD_LEN: usize = 4;

/// What a package header says, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PackageHeader {
    /// The plaintext length, 1 to 64 KiB.
    pub(super) payload_len: usize,
    /// Whether this is the stream's last package.
    pub(super) is_final: bool,
}

impl PackageHeader {
    /// The whole package's length.
    pub(super) fn package_len(self) -> usize {
        HEADER_LEN + self.payload_len + TAG_LEN
    }
}

/// Checks a package header, before its body is read. `seq` only names the package in errors.
pub(super) fn parse_header(
    header: &[u8; HEADER_LEN],
    seq: u32,
) -> Result<PackageHeader, EnvelopeError> {
    let malformed = EnvelopeError::MalformedPackage(seq);
    let [version, cipher, len_lo, len_hi, nonce_first, ..] = *header;
    if version != VERSION || cipher != AES_256_GCM_ID {
        return Err(malformed);
    }
    let payload_len = usize::from(u16::from_le_bytes([len_lo, len_hi])) + 1;
    let is_final = nonce_first & FINAL != 0;
    // sio never writes a short package that is not the last: random access depends on it.
    if !is_final && payload_len != MAX_PAYLOAD {
        return Err(malformed);
    }
    Ok(PackageHeader {
        payload_len,
        is_final,
    })
}

/// The plaintext length of a DARE stream of `stream_len` bytes, as sio's `DecryptedSize` computes it;
/// `None` when no stream has that length (its last package would have no payload).
pub(super) fn plaintext_len(stream_len: u64) -> Option<u64> {
    let full = stream_len / MAX_PACKAGE as u64;
    let rest = stream_len % MAX_PACKAGE as u64;
    let last = match rest {
        0 => 0,
        r if r <= (HEADER_LEN + TAG_LEN) as u64 => return None,
        r => r - (HEADER_LEN + TAG_LEN) as u64,
    };
    full.checked_mul(MAX_PAYLOAD as u64)?.checked_add(last)
}

/// The DARE stream length of `plaintext_len` bytes, as sio's `EncryptedSize` computes it.
pub(super) fn stream_len(plaintext_len: u64) -> Option<u64> {
    let full = plaintext_len / MAX_PAYLOAD as u64;
    let rest = plaintext_len % MAX_PAYLOAD as u64;
    let last = if rest == 0 {
        0
    } else {
        rest + (HEADER_LEN + TAG_LEN) as u64
    };
    full.checked_mul(MAX_PACKAGE as u64)?.checked_add(last)
}

/// Seals the packages of one stream, numbering them from 0.
pub(super) struct Sealer {
    key: LessSafeKey,
    nonce: [u8; NONCE_LEN],
    /// The next package's sequence number; `None` once the final package is sealed or all 2^32
    /// numbers are used.
    next: Option<u32>,
}

impl Sealer {
    /// A sealer for a stream under `key` whose packages carry `nonce` (its final bit is ignored).
    pub(super) fn new(key: &[u8; 32], nonce: [u8; NONCE_LEN]) -> Result<Self, Error> {
        Ok(Self {
            key: aead_key(key).ok_or(Error::Encrypt)?,
            nonce,
            next: Some(0),
        })
    }

    /// Seals a package in place. `package` is `header space[16] ‖ payload ‖ tag space[16]`, with a
    /// payload of 1 to 64 KiB (exactly 64 KiB unless `is_final`).
    pub(super) fn seal(&mut self, package: &mut [u8], is_final: bool) -> Result<(), Error> {
        let seq = self.next.ok_or(EnvelopeError::TooLarge)?;
        let (header, rest) = package
            .split_first_chunk_mut::<HEADER_LEN>()
            .ok_or(Error::Encrypt)?;
        let (payload, tag_space) = rest
            .split_last_chunk_mut::<TAG_LEN>()
            .ok_or(Error::Encrypt)?;
        let len_field = payload
            .len()
            .checked_sub(1)
            .and_then(|l| u16::try_from(l).ok())
            .ok_or(Error::Encrypt)?;
        if !is_final && payload.len() != MAX_PAYLOAD {
            return Err(Error::Encrypt); // A caller bug; sio's readers would reject the stream.
        }
        let [len_lo, len_hi] = len_field.to_le_bytes();
        let mut nonce = self.nonce;
        set_final(&mut nonce, is_final);
        *header = package_header(len_lo, len_hi, &nonce);
        let aad = header.first_chunk::<AAD_LEN>().ok_or(Error::Encrypt)?;
        let tag = self
            .key
            .seal_in_place_separate_tag(package_nonce(&nonce, seq), Aad::from(aad), payload)
            .map_err(|_| Error::Encrypt)?;
        tag_space.copy_from_slice(tag.as_ref());
        self.next = if is_final { None } else { seq.checked_add(1) };
        Ok(())
    }
}

/// Opens the packages of one stream, in order, from a given sequence number.
pub(super) struct Opener {
    key: LessSafeKey,
    /// The nonce of the first package opened, without the final bit; all others must match it.
    reference: Option<[u8; NONCE_LEN]>,
    /// The next package's sequence number; 2^32 once all are used.
    next: u64,
    finished: bool,
}

impl Opener {
    /// An opener under `key` whose first package is number `first`.
    pub(super) fn new(key: &[u8; 32], first: u32) -> Result<Self, Error> {
        Ok(Self {
            key: aead_key(key).ok_or(Error::Encrypt)?,
            reference: None,
            next: u64::from(first),
            finished: false,
        })
    }

    /// The next package's sequence number, for errors.
    pub(super) fn seq(&self) -> u32 {
        u32::try_from(self.next).unwrap_or(u32::MAX)
    }

    /// Whether the final package has been opened.
    pub(super) fn is_finished(&self) -> bool {
        self.finished
    }

    /// Checks and decrypts one package in place: `body` is ciphertext ‖ tag and becomes plaintext ‖
    /// tag. Returns the header's fields; the plaintext is `body[..payload_len]`.
    pub(super) fn open(
        &mut self,
        header: &[u8; HEADER_LEN],
        body: &mut [u8],
    ) -> Result<PackageHeader, EnvelopeError> {
        if self.finished {
            return Err(EnvelopeError::TrailingData);
        }
        let seq = u32::try_from(self.next).map_err(|_| EnvelopeError::TooLarge)?;
        let malformed = EnvelopeError::MalformedPackage(seq);
        let parsed = parse_header(header, seq)?;
        if body.len() != parsed.payload_len + TAG_LEN {
            return Err(malformed);
        }
        let (aad, nonce) = header.split_first_chunk::<AAD_LEN>().ok_or(malformed)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| malformed)?;
        let mut unflagged = nonce;
        set_final(&mut unflagged, false);
        let reference = *self.reference.get_or_insert(unflagged);
        // Not secret, so no constant-time compare: the nonce is in the clear in every package.
        if unflagged != reference {
            return Err(malformed);
        }
        self.key
            .open_in_place(package_nonce(&nonce, seq), Aad::from(aad), body)
            .map_err(|_| EnvelopeError::PackageAuthentication(seq))?;
        self.next += 1;
        self.finished = parsed.is_final;
        Ok(parsed)
    }
}

/// An aws-lc AES-256-GCM key. aws-lc keeps the key schedule in a heap block of its own, which it
/// wipes when the key is dropped (docs/security.md).
fn aead_key(key: &[u8; 32]) -> Option<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, key)
        .ok()
        .map(LessSafeKey::new)
}

fn package_header(len_lo: u8, len_hi: u8, nonce: &[u8; NONCE_LEN]) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    let (fixed, rest) = header.split_at_mut(AAD_LEN);
    fixed.copy_from_slice(&[VERSION, AES_256_GCM_ID, len_lo, len_hi]);
    rest.copy_from_slice(nonce);
    header
}

fn set_final(nonce: &mut [u8; NONCE_LEN], is_final: bool) {
    if let Some(first) = nonce.first_mut() {
        if is_final {
            *first |= FINAL;
        } else {
            *first &= !FINAL;
        }
    }
}

/// The AEAD nonce of package `seq`: the header's nonce, last four bytes XORed with `seq` (LE).
fn package_nonce(nonce: &[u8; NONCE_LEN], seq: u32) -> Nonce {
    let mut out = *nonce;
    if let Some(counter) = out.last_chunk_mut::<4>() {
        *counter = (u32::from_le_bytes(*counter) ^ seq).to_le_bytes();
    }
    Nonce::assume_unique_for_key(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [0x11; 32];
    const NONCE: [u8; 12] = [0xa5; 12];

    /// Seals `plaintext` into packages as sio does: full packages, then a final one.
    fn seal_stream(plaintext: &[u8]) -> Vec<u8> {
        let mut sealer = Sealer::new(&KEY, NONCE).unwrap();
        let mut out = Vec::new();
        let count = plaintext.chunks(MAX_PAYLOAD).count();
        for (i, chunk) in plaintext.chunks(MAX_PAYLOAD).enumerate() {
            let mut package = vec![0u8; HEADER_LEN];
            package.extend_from_slice(chunk);
            package.extend_from_slice(&[0; TAG_LEN]);
            sealer.seal(&mut package, i + 1 == count).unwrap();
            out.extend_from_slice(&package);
        }
        out
    }

    fn open_stream(stream: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let mut opener = Opener::new(&KEY, 0).unwrap();
        let mut out = Vec::new();
        let mut rest = stream;
        while !rest.is_empty() {
            let header: &[u8; HEADER_LEN] = rest.first_chunk().ok_or(EnvelopeError::Truncated)?;
            let len = parse_header(header, opener.seq())?.package_len();
            let mut body = rest
                .get(HEADER_LEN..len)
                .ok_or(EnvelopeError::Truncated)?
                .to_vec();
            let parsed = opener.open(header, &mut body)?;
            out.extend_from_slice(&body[..parsed.payload_len]);
            rest = &rest[len..];
        }
        if !opener.is_finished() {
            return Err(EnvelopeError::Truncated);
        }
        Ok(out)
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn round_trips_at_package_boundaries() {
        for len in [
            1,
            2,
            MAX_PAYLOAD - 1,
            MAX_PAYLOAD,
            MAX_PAYLOAD + 1,
            3 * MAX_PAYLOAD,
        ] {
            let plaintext = data(len);
            let stream = seal_stream(&plaintext);
            assert_eq!(stream.len() as u64, stream_len(len as u64).unwrap());
            assert_eq!(plaintext_len(stream.len() as u64), Some(len as u64));
            assert_eq!(open_stream(&stream).unwrap(), plaintext);
        }
    }

    #[test]
    fn headers_follow_sio() {
        let stream = seal_stream(&data(MAX_PAYLOAD + 5));
        // First package: version, cipher, 0xffff, nonce without the final bit.
        assert_eq!(&stream[..4], &[0x20, 0x00, 0xff, 0xff]);
        assert_eq!(stream[4], 0xa5 & 0x7f);
        assert_eq!(&stream[5..16], &NONCE[1..]);
        // Final package: length 5 - 1, final bit set.
        let last = &stream[MAX_PACKAGE..];
        assert_eq!(&last[..4], &[0x20, 0x00, 0x04, 0x00]);
        assert_eq!(last[4], 0xa5 | 0x80);
        assert_eq!(last.len(), HEADER_LEN + 5 + TAG_LEN);
    }

    /// The first package's ciphertext is AES-256-GCM under the nonce itself (sequence 0), the second's
    /// under the nonce with its last four bytes XORed with 1: checked against aes-gcm, not aws-lc.
    #[test]
    fn nonce_is_xored_with_the_sequence_number() {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let plaintext = data(MAX_PAYLOAD + 3);
        let stream = seal_stream(&plaintext);
        let gcm = aes_gcm::Aes256Gcm::new(&KEY.into());
        let mut nonce = NONCE;
        nonce[0] |= 0x80;
        nonce[8] ^= 1;
        let last = &stream[MAX_PACKAGE..];
        let opened = gcm
            .decrypt(
                (&nonce).into(),
                Payload {
                    msg: &last[HEADER_LEN..],
                    aad: &last[..4],
                },
            )
            .unwrap();
        assert_eq!(opened, &plaintext[MAX_PAYLOAD..]);
    }

    #[test]
    fn reordered_duplicated_dropped_and_truncated_packages_fail() {
        let plaintext = data(3 * MAX_PAYLOAD + 10);
        let stream = seal_stream(&plaintext);
        let p = |i: usize| &stream[i * MAX_PACKAGE..((i + 1) * MAX_PACKAGE).min(stream.len())];
        let swapped = [p(1), p(0), p(2), p(3)].concat();
        assert_eq!(
            open_stream(&swapped),
            Err(EnvelopeError::PackageAuthentication(0))
        );
        let duplicated = [p(0), p(0), p(1), p(2), p(3)].concat();
        assert_eq!(
            open_stream(&duplicated),
            Err(EnvelopeError::PackageAuthentication(1))
        );
        let dropped = [p(0), p(2), p(3)].concat();
        assert_eq!(
            open_stream(&dropped),
            Err(EnvelopeError::PackageAuthentication(1))
        );
        let no_final = [p(0), p(1), p(2)].concat();
        assert_eq!(open_stream(&no_final), Err(EnvelopeError::Truncated));
        let cut = &stream[..stream.len() - 1];
        assert_eq!(open_stream(cut), Err(EnvelopeError::Truncated));
        let extra = [&stream[..], p(3)].concat();
        assert_eq!(open_stream(&extra), Err(EnvelopeError::TrailingData));
    }

    #[test]
    fn malformed_headers_fail_before_decryption() {
        let stream = seal_stream(&data(MAX_PAYLOAD + 1));
        for (index, value) in [(0, 0x10), (1, 0x01), (2, 0xfe)] {
            let mut bad = stream.clone();
            bad[index] = value;
            assert_eq!(
                open_stream(&bad),
                Err(EnvelopeError::MalformedPackage(0)),
                "{index}"
            );
        }
        // A non-final package with the nonce of another stream.
        let mut bad = stream.clone();
        bad[MAX_PACKAGE + 5] ^= 1;
        assert_eq!(open_stream(&bad), Err(EnvelopeError::MalformedPackage(1)));
        // The final bit cleared on the last package: it is short, so malformed.
        let mut bad = stream.clone();
        bad[MAX_PACKAGE + 4] &= 0x7f;
        assert_eq!(open_stream(&bad), Err(EnvelopeError::MalformedPackage(1)));
        // The final bit set on the first package: authentication fails (the nonce is covered).
        let mut bad = stream;
        bad[4] |= 0x80;
        assert_eq!(
            open_stream(&bad),
            Err(EnvelopeError::PackageAuthentication(0))
        );
    }

    #[test]
    fn sizes_match_sio() {
        assert_eq!(plaintext_len(0), Some(0));
        assert_eq!(plaintext_len(32), None);
        assert_eq!(plaintext_len(33), Some(1));
        assert_eq!(plaintext_len(MAX_PACKAGE as u64 + 32), None);
        assert_eq!(stream_len(0), Some(0));
        assert_eq!(stream_len(1), Some(33));
        assert_eq!(stream_len(MAX_PAYLOAD as u64), Some(MAX_PACKAGE as u64));
    }

    #[test]
    fn the_sequence_number_space_ends() {
        let mut sealer = Sealer::new(&KEY, NONCE).unwrap();
        sealer.next = Some(u32::MAX);
        let mut package = vec![0u8; MAX_PACKAGE];
        sealer.seal(&mut package, false).unwrap();
        assert!(matches!(
            sealer.seal(&mut package, false),
            Err(Error::Envelope(EnvelopeError::TooLarge))
        ));
    }
}
