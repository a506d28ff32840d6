//! The envelope header: which key, the data key as KES ciphertext, the per-message salt, and a tag;
//! and the per-message keys derived from the data key.
//!
//! ```text
//! magic "KESE" | version 1 | flags | name_len u8 | ciphertext_len u16 LE
//! | name | ciphertext | salt[32] | tag[32] = HMAC-SHA256(header_key, every byte before it)
//! ```

use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::crypto::hmac_sha256;
use crate::{EnvelopeError, KeyName};

/// The first four bytes of every envelope.
pub(super) const MAGIC: [u8; 4] = *b"KESE";
/// The format version this module writes and reads.
pub(super) const VERSION: u8 = 1;
/// The data key may be shared with other messages (data-key reuse was on). Informational: opening
/// does not depend on it, but it is authenticated, so an auditor can trust it.
pub(super) const FLAG_SHARED_KEY: u8 = 0x01;
/// No DARE packages follow: the plaintext is empty. DARE cannot encode an empty package, and without
/// this flag a message cut right after its header would open as an empty one.
pub(super) const FLAG_EMPTY: u8 = 0x02;
/// magic, version, flags, name length, ciphertext length.
pub(super) const PREFIX_LEN: usize = 4 + 1 + 1 + 1 + 2;
/// The longest data-key ciphertext accepted. KES's own are 76 bytes; its legacy JSON form about 150.
pub(super) const MAX_CIPHERTEXT: usize = 1024;
/// The salt and the tag.
const SALT_LEN: usize = 32;
const TAG_LEN: usize = 32;
/// The longest header: the prefix, an 80-byte name, the longest ciphertext, salt and tag.
pub(super) const MAX_LEN: usize = PREFIX_LEN + 80 + MAX_CIPHERTEXT + SALT_LEN + TAG_LEN;

/// HKDF `info` labels; each is followed by SHA-256(context).
const HEADER_LABEL: &[u8] = b"kesrs envelope v1 header key";
const PAYLOAD_LABEL: &[u8] = b"kesrs envelope v1 payload key";

/// A parsed header, not yet authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Header {
    pub(super) flags: u8,
    pub(super) key: KeyName,
    pub(super) ciphertext: Vec<u8>,
    pub(super) salt: [u8; SALT_LEN],
}

/// A header as read: the fields and the tag that must authenticate them.
#[derive(Debug)]
pub(super) struct SignedHeader {
    pub(super) header: Header,
    tag: [u8; TAG_LEN],
}

/// The two keys of one message, derived from its data key, salt and context.
pub(super) struct MessageKeys {
    header: Zeroizing<[u8; 32]>,
    pub(super) payload: Zeroizing<[u8; 32]>,
}

impl Header {
    /// The header's full length, from its fixed-size prefix; checks magic, version, flags and lengths,
    /// so that a reader knows how much more to read (at most [`MAX_LEN`]) before reading it.
    pub(super) fn len_from_prefix(prefix: &[u8; PREFIX_LEN]) -> Result<usize, EnvelopeError> {
        let [m0, m1, m2, m3, version, flags, name_len, ct_lo, ct_hi] = *prefix;
        if [m0, m1, m2, m3] != MAGIC {
            return Err(EnvelopeError::NotAnEnvelope);
        }
        if version != VERSION {
            return Err(EnvelopeError::UnsupportedVersion(version));
        }
        if flags & !(FLAG_SHARED_KEY | FLAG_EMPTY) != 0 {
            return Err(EnvelopeError::UnknownFlags(flags));
        }
        let name_len = usize::from(name_len);
        if name_len == 0 || name_len > 80 {
            return Err(EnvelopeError::InvalidKeyName);
        }
        let ct_len = u16::from_le_bytes([ct_lo, ct_hi]);
        if ct_len == 0 || usize::from(ct_len) > MAX_CIPHERTEXT {
            return Err(EnvelopeError::CiphertextLength(ct_len));
        }
        Ok(PREFIX_LEN + name_len + usize::from(ct_len) + SALT_LEN + TAG_LEN)
    }

    /// Encodes the header with its tag under `keys`.
    pub(super) fn encode(&self, keys: &MessageKeys) -> Vec<u8> {
        let mut out = self.encode_unsigned();
        let tag = keys.tag(&out);
        out.extend_from_slice(&tag);
        out
    }

    /// Everything the tag covers. Names are at most 80 bytes and ciphertexts are capped when the
    /// header is built, so the length fields cannot overflow.
    fn encode_unsigned(&self) -> Vec<u8> {
        let name = self.key.as_str().as_bytes();
        let mut out = Vec::with_capacity(MAX_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(self.flags);
        out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        let ct_len = u16::try_from(self.ciphertext.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&ct_len.to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&self.ciphertext);
        out.extend_from_slice(&self.salt);
        out
    }
}

impl SignedHeader {
    /// Parses the header at the start of `bytes`; returns it and the bytes after it.
    pub(super) fn parse(bytes: &[u8]) -> Result<(Self, &[u8]), EnvelopeError> {
        let prefix = bytes.first_chunk().ok_or(EnvelopeError::TruncatedHeader)?;
        let len = Header::len_from_prefix(prefix)?;
        let (bytes, after) = split(bytes, len)?;
        let [_, _, _, _, _, flags, name_len, ct_lo, ct_hi] = *prefix;
        let rest = bytes
            .get(PREFIX_LEN..)
            .ok_or(EnvelopeError::TruncatedHeader)?;
        let (name, rest) = split(rest, usize::from(name_len))?;
        let (ciphertext, rest) = split(rest, usize::from(u16::from_le_bytes([ct_lo, ct_hi])))?;
        let (salt, tag) = rest
            .split_first_chunk::<SALT_LEN>()
            .ok_or(EnvelopeError::TruncatedHeader)?;
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| EnvelopeError::TruncatedHeader)?;
        let key = std::str::from_utf8(name)
            .ok()
            .and_then(|name| KeyName::new(name).ok())
            .ok_or(EnvelopeError::InvalidKeyName)?;
        let header = Header {
            flags,
            key,
            ciphertext: ciphertext.to_vec(),
            salt: *salt,
        };
        Ok((Self { header, tag }, after))
    }

    /// The header as it was read: the fields, re-encoded, and the tag.
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header.encode_unsigned();
        out.extend_from_slice(&self.tag);
        out
    }

    /// Checks the tag under `keys`, in constant time. The tag covers the re-encoded fields, which are
    /// the bytes read: the encoding has a single form.
    pub(super) fn verify(&self, keys: &MessageKeys) -> Result<(), EnvelopeError> {
        let expected = keys.tag(&self.header.encode_unsigned());
        if bool::from(expected.ct_eq(&self.tag)) {
            Ok(())
        } else {
            Err(EnvelopeError::HeaderAuthentication)
        }
    }
}

impl MessageKeys {
    /// HKDF-SHA256 with the data key as input key material and the header's salt; `info` is a label
    /// and SHA-256(context), so each key is bound to the context even where KES would not check it.
    pub(super) fn derive(data_key: &[u8; 32], salt: &[u8; SALT_LEN], context: &[u8]) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(salt), data_key);
        let context_hash = Sha256::digest(context);
        let expand = |label: &[u8]| {
            let mut key = Zeroizing::new([0u8; 32]);
            // Infallible: 32 bytes is far below HKDF-SHA256's 8160-byte limit.
            let _ = hkdf.expand_multi_info(&[label, &context_hash], key.as_mut());
            key
        };
        Self {
            header: expand(HEADER_LABEL),
            payload: expand(PAYLOAD_LABEL),
        }
    }

    /// The header key and the payload key. Declassifies them: for the envelope vectors only.
    pub(super) fn declassify(&self) -> (&[u8; 32], &[u8; 32]) {
        (&self.header, &self.payload)
    }

    fn tag(&self, unsigned: &[u8]) -> [u8; TAG_LEN] {
        *hmac_sha256(&self.header, unsigned)
    }
}

fn split(bytes: &[u8], at: usize) -> Result<(&[u8], &[u8]), EnvelopeError> {
    bytes
        .split_at_checked(at)
        .ok_or(EnvelopeError::TruncatedHeader)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            flags: 0,
            key: KeyName::new("my-key").unwrap(),
            ciphertext: vec![0xc7; 76],
            salt: [0x5a; 32],
        }
    }

    fn keys() -> MessageKeys {
        MessageKeys::derive(&[0x42; 32], &[0x5a; 32], b"ctx")
    }

    #[test]
    fn encodes_parses_and_verifies() {
        let encoded = header().encode(&keys());
        assert_eq!(encoded.len(), PREFIX_LEN + 6 + 76 + 32 + 32);
        assert_eq!(&encoded[..9], b"KESE\x01\x00\x06\x4c\x00");
        let prefix = encoded.first_chunk().unwrap();
        assert_eq!(Header::len_from_prefix(prefix), Ok(encoded.len()));
        let (signed, rest) = SignedHeader::parse(&encoded).unwrap();
        assert!(rest.is_empty());
        assert_eq!(signed.header, header());
        signed.verify(&keys()).unwrap();
    }

    #[test]
    fn every_changed_byte_is_detected() {
        let encoded = header().encode(&keys());
        for i in 0..encoded.len() {
            let mut bad = encoded.clone();
            bad[i] ^= 0x01;
            let result = SignedHeader::parse(&bad).and_then(|(h, _)| h.verify(&keys()));
            assert!(result.is_err(), "byte {i}");
        }
    }

    #[test]
    fn another_context_or_data_key_fails_authentication() {
        let (signed, _) = SignedHeader::parse(&header().encode(&keys())).unwrap();
        let other_context = MessageKeys::derive(&[0x42; 32], &[0x5a; 32], b"ctx2");
        let other_key = MessageKeys::derive(&[0x43; 32], &[0x5a; 32], b"ctx");
        for keys in [other_context, other_key] {
            assert_eq!(
                signed.verify(&keys),
                Err(EnvelopeError::HeaderAuthentication)
            );
        }
    }

    #[test]
    fn prefix_checks() {
        let good = *header()
            .encode(&keys())
            .first_chunk::<PREFIX_LEN>()
            .unwrap();
        let with = |i: usize, v: u8| {
            let mut p = good;
            p[i] = v;
            Header::len_from_prefix(&p)
        };
        assert_eq!(with(0, b'k'), Err(EnvelopeError::NotAnEnvelope));
        assert_eq!(with(4, 2), Err(EnvelopeError::UnsupportedVersion(2)));
        assert_eq!(with(5, 0x04), Err(EnvelopeError::UnknownFlags(0x04)));
        assert_eq!(with(6, 0), Err(EnvelopeError::InvalidKeyName));
        assert_eq!(with(6, 81), Err(EnvelopeError::InvalidKeyName));
        assert_eq!(with(7, 0), Err(EnvelopeError::CiphertextLength(0)));
        let mut p = good;
        p[7..9].copy_from_slice(&1025u16.to_le_bytes());
        assert_eq!(
            Header::len_from_prefix(&p),
            Err(EnvelopeError::CiphertextLength(1025))
        );
    }

    #[test]
    fn invalid_names_and_lengths_are_rejected() {
        let mut encoded = header().encode(&keys());
        encoded[PREFIX_LEN] = b'-'; // "-y-key": a leading dash.
        assert_eq!(
            SignedHeader::parse(&encoded).err(),
            Some(EnvelopeError::InvalidKeyName)
        );
        let encoded = header().encode(&keys());
        assert_eq!(
            SignedHeader::parse(&encoded[..encoded.len() - 1]).err(),
            Some(EnvelopeError::TruncatedHeader)
        );
        let longer = [&encoded[..], b"x"].concat();
        assert_eq!(SignedHeader::parse(&longer).unwrap().1, b"x");
        assert_eq!(
            SignedHeader::parse(b"KESE").err(),
            Some(EnvelopeError::TruncatedHeader)
        );
    }
}
