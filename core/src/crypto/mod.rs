//! KES's key types and its authenticated encryption (kes-protocol.md section 7).
//!
//! A ciphertext is `AEAD.Seal(plaintext, nonce, AD = context) ‖ iv[16] ‖ nonce[12]`. Every message gets
//! its own AEAD key derived from the stored key and the random `iv`: HMAC-SHA256(K, iv) for AES256 keys,
//! HChaCha20(K, iv) for ChaCha20 keys. Decryption also accepts the two legacy encodings of the same
//! three parts (msgpack and JSON), see [`legacy`].

mod legacy;

use std::fmt;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::Aes256Gcm;
use chacha20::cipher::consts::U10;
use chacha20poly1305::ChaCha20Poly1305;
use hmac::digest::FixedOutput;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::Error;

/// The cipher a secret key is used with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// AES-256-GCM with the per-message key HMAC-SHA256(key, iv).
    Aes256,
    /// ChaCha20-Poly1305 with the per-message key HChaCha20(key, iv).
    ChaCha20,
}

impl KeyType {
    /// Parses a cipher as KES's import accepts it: `AES256`, `AES256-GCM_SHA256`, `ChaCha20`,
    /// `XCHACHA20-POLY1305`; anything else is [`Error::UnsupportedAlgorithm`].
    pub fn from_cipher(cipher: &str) -> Result<Self, Error> {
        Self::parse(cipher).ok_or_else(|| Error::UnsupportedAlgorithm(cipher.to_owned()))
    }

    /// The name KES shows for this type: `AES256` or `ChaCha20`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aes256 => "AES256",
            Self::ChaCha20 => "ChaCha20",
        }
    }

    /// The four spellings KES knows, exact and case-sensitive. Import, legacy msgpack ciphertexts and
    /// legacy JSON keys all accept the same set.
    pub(crate) fn parse(cipher: &str) -> Option<Self> {
        match cipher {
            "AES256" | "AES256-GCM_SHA256" => Some(Self::Aes256),
            "ChaCha20" | "XCHACHA20-POLY1305" => Some(Self::ChaCha20),
            _ => None,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A 32-byte secret key and its type. Zeroized on drop; its `Debug` shows no key bytes.
pub(crate) struct SecretKey {
    kind: KeyType,
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl SecretKey {
    /// A fresh random key.
    pub(crate) fn generate(kind: KeyType) -> Result<Self, Error> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        random(bytes.as_mut())?;
        Ok(Self { kind, bytes })
    }

    /// A key from caller-supplied bytes; anything but 32 bytes is [`Error::InvalidKeySize`].
    pub(crate) fn from_bytes(kind: KeyType, bytes: &[u8], cipher: &str) -> Result<Self, Error> {
        let bytes: &[u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| Error::InvalidKeySize(cipher.to_owned()))?;
        Ok(Self::from_array(kind, bytes))
    }

    /// A key from exactly 32 bytes, copied straight into a zeroizing buffer.
    pub(crate) fn from_array(kind: KeyType, bytes: &[u8; KEY_LEN]) -> Self {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(bytes);
        Self { kind, bytes: key }
    }

    pub(crate) fn kind(&self) -> KeyType {
        self.kind
    }

    /// The raw key bytes, for the stored-key encoding only.
    pub(crate) fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// Encrypts `plaintext` with `context` as associated data: sealed ‖ iv16 ‖ nonce12.
    pub(crate) fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, Error> {
        // One draw of 28 bytes per call, as KES does: iv = bytes 0..16, nonce = bytes 16..28.
        let mut suffix = [0u8; SUFFIX_LEN];
        random(&mut suffix)?;
        self.seal_with(plaintext, context, &suffix)
    }

    /// A fresh 32-byte data key and its ciphertext, from one draw of random bytes: generating data
    /// keys is what MinIO asks for on every write, and a second draw is a second system call.
    pub(crate) fn generate_data_key(
        &self,
        context: &[u8],
    ) -> Result<(Zeroizing<[u8; KEY_LEN]>, Vec<u8>), Error> {
        let mut random_bytes = Zeroizing::new([0u8; KEY_LEN + SUFFIX_LEN]);
        random(random_bytes.as_mut())?;
        let (key, suffix) = random_bytes
            .split_first_chunk::<KEY_LEN>()
            .ok_or(Error::Encrypt)?;
        let suffix: &[u8; SUFFIX_LEN] = suffix.try_into().map_err(|_| Error::Encrypt)?;
        let ciphertext = self.seal_with(key, context, suffix)?;
        let mut plaintext = Zeroizing::new([0u8; KEY_LEN]);
        plaintext.copy_from_slice(key);
        Ok((plaintext, ciphertext))
    }

    /// Encrypts with the given random `iv ‖ nonce`.
    fn seal_with(
        &self,
        plaintext: &[u8],
        context: &[u8],
        suffix: &[u8; SUFFIX_LEN],
    ) -> Result<Vec<u8>, Error> {
        let (iv, nonce) = split_suffix(suffix).ok_or(Error::Encrypt)?;
        let capacity = plaintext
            .len()
            .checked_add(TAG_LEN + SUFFIX_LEN)
            .ok_or(Error::Encrypt)?;
        // The buffer holds plaintext until it is encrypted in place, so it must be wiped if sealing
        // fails; sized up front so that appending tag, iv and nonce never reallocates.
        let mut out = Zeroizing::new(Vec::with_capacity(capacity));
        out.extend_from_slice(plaintext);
        let subkey = derive_subkey(self.kind, &self.bytes, iv);
        let tag = seal_in_place(self.kind, &subkey, nonce, context, &mut out)
            .map_err(|_| Error::Encrypt)?;
        out.extend_from_slice(&tag);
        out.extend_from_slice(suffix);
        Ok(std::mem::take(&mut *out))
    }

    /// Decrypts any KES ciphertext format (current, legacy msgpack, legacy JSON).
    ///
    /// The stored key's type decides the cipher; the algorithm named in a legacy ciphertext is only
    /// validated. Every failure is [`Error::Decrypt`], so a caller learns nothing about why.
    pub(crate) fn open(
        &self,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let ciphertext = legacy::normalize(ciphertext);
        // KES requires more than the iv and nonce; a short sealed part then fails to authenticate.
        let (sealed, suffix) = ciphertext
            .split_last_chunk::<SUFFIX_LEN>()
            .filter(|(sealed, _)| !sealed.is_empty())
            .ok_or(Error::Decrypt)?;
        let (iv, nonce) = split_suffix(suffix).ok_or(Error::Decrypt)?;
        let (encrypted, tag) = sealed.split_last_chunk::<TAG_LEN>().ok_or(Error::Decrypt)?;

        let subkey = derive_subkey(self.kind, &self.bytes, iv);
        let mut plaintext = Zeroizing::new(encrypted.to_vec());
        open_in_place(self.kind, &subkey, nonce, context, &mut plaintext, tag)
            .map_err(|_| Error::Decrypt)?;
        Ok(plaintext)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("kind", &self.kind)
            .finish()
    }
}

/// A 32-byte HMAC-SHA256 key. Zeroized on drop; its `Debug` shows no key bytes.
pub(crate) struct HmacKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl HmacKey {
    pub(crate) fn generate() -> Result<Self, Error> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        random(bytes.as_mut())?;
        Ok(Self { bytes })
    }

    /// A key from exactly 32 bytes, copied straight into a zeroizing buffer.
    pub(crate) fn from_array(bytes: &[u8; KEY_LEN]) -> Self {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(bytes);
        Self { bytes: key }
    }

    /// The raw key bytes, for the stored-key encoding only.
    pub(crate) fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    pub(crate) fn mac(&self, message: &[u8]) -> [u8; 32] {
        *hmac_sha256(&self.bytes, message)
    }
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacKey").finish_non_exhaustive()
    }
}

/// Fills `buf` from the operating system's random source.
///
/// On Linux this is glibc's `getrandom()` (getrandom 0.2 made the system call itself): with glibc 2.41
/// and Linux 6.11 or later it runs in the vDSO, as Go's `crypto/rand` does, and a data key costs no
/// system call (195 against 322 ns for 60 bytes here); the kernel still wipes its state on fork.
pub(crate) fn random(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|_| Error::Random)
}

/// The length of every KES key, secret and HMAC.
pub(crate) const KEY_LEN: usize = 32;
const IV_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// `iv ‖ nonce`, appended to every ciphertext.
const SUFFIX_LEN: usize = IV_LEN + NONCE_LEN;
/// HChaCha20 runs ChaCha20's 20 rounds; the chacha20 crate counts double rounds.
type HChaCha20DoubleRounds = U10;

/// Splits `iv ‖ nonce`.
fn split_suffix(suffix: &[u8; SUFFIX_LEN]) -> Option<(&[u8; IV_LEN], &[u8; NONCE_LEN])> {
    let (iv, nonce) = suffix.split_first_chunk::<IV_LEN>()?;
    Some((iv, nonce.try_into().ok()?))
}

/// The per-message AEAD key for `iv` (kes-protocol.md 7.1).
fn derive_subkey(
    kind: KeyType,
    key: &[u8; KEY_LEN],
    iv: &[u8; IV_LEN],
) -> Zeroizing<[u8; KEY_LEN]> {
    match kind {
        KeyType::Aes256 => hmac_sha256(key, iv),
        KeyType::ChaCha20 => {
            // The full 16-byte iv is HChaCha20's input, exactly as XChaCha20 derives its subkey.
            let mut derived = chacha20::hchacha::<HChaCha20DoubleRounds>(key.into(), iv.into());
            let mut subkey = Zeroizing::new([0u8; KEY_LEN]);
            subkey.copy_from_slice(&derived);
            derived.as_mut_slice().zeroize();
            subkey
        }
    }
}

/// HMAC-SHA256 with a 32-byte key, written straight into a zeroizing buffer.
pub(crate) fn hmac_sha256(key: &[u8; KEY_LEN], message: &[u8]) -> Zeroizing<[u8; 32]> {
    // HMAC zero-pads keys shorter than SHA-256's 64-byte block, so starting from the padded block
    // gives the same MAC as `new_from_slice` and makes the construction infallible (the slice is
    // always exactly one block long).
    let mut block = Zeroizing::new([0u8; 64]);
    for (b, k) in block.iter_mut().zip(key) {
        *b = *k;
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(block.as_slice().into());
    mac.update(message);
    let mut out = Zeroizing::new([0u8; 32]);
    mac.finalize_into((&mut *out).into());
    out
}

/// Encrypts `buf` in place and returns the tag.
fn seal_in_place(
    kind: KeyType,
    subkey: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    context: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], aes_gcm::aead::Error> {
    let tag = match kind {
        KeyType::Aes256 => {
            Aes256Gcm::new(subkey.into()).encrypt_in_place_detached(nonce.into(), context, buf)?
        }
        KeyType::ChaCha20 => ChaCha20Poly1305::new(subkey.into()).encrypt_in_place_detached(
            nonce.into(),
            context,
            buf,
        )?,
    };
    Ok(tag.into())
}

/// Authenticates and decrypts `buf` in place.
fn open_in_place(
    kind: KeyType,
    subkey: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    context: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), aes_gcm::aead::Error> {
    match kind {
        KeyType::Aes256 => Aes256Gcm::new(subkey.into()).decrypt_in_place_detached(
            nonce.into(),
            context,
            buf,
            tag.into(),
        ),
        KeyType::ChaCha20 => ChaCha20Poly1305::new(subkey.into()).decrypt_in_place_detached(
            nonce.into(),
            context,
            buf,
            tag.into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine;
    use serde_json::Value;

    use super::*;

    const VECTORS: &str = include_str!("../../../tests/vectors/kes-vectors.json");

    fn vectors() -> Value {
        serde_json::from_str(VECTORS).unwrap()
    }

    fn b64(value: &Value) -> Vec<u8> {
        B64.decode(value.as_str().unwrap()).unwrap()
    }

    fn key(case: &Value) -> SecretKey {
        let kind = KeyType::from_cipher(case["key_type"].as_str().unwrap()).unwrap();
        SecretKey::from_bytes(kind, &b64(&case["key_b64"]), "test").unwrap()
    }

    fn ciphertext(case: &Value) -> Vec<u8> {
        match case["ciphertext_json_text"].as_str() {
            Some(text) => text.as_bytes().to_vec(),
            None => b64(&case["ciphertext_b64"]),
        }
    }

    #[test]
    fn ciphertext_decrypt_vectors() {
        let vectors = vectors();
        let cases = vectors["ciphertext_decrypt"].as_array().unwrap();
        assert_eq!(cases.len(), 15);
        for case in cases {
            let source = case["source"].as_str().unwrap();
            let result = key(case).open(&ciphertext(case), &b64(&case["context_b64"]));
            match case["expected"].as_str().unwrap() {
                "ok" => {
                    let plaintext = result.unwrap_or_else(|err| panic!("{source}: {err}"));
                    assert_eq!(*plaintext, b64(&case["plaintext_b64"]), "{source}");
                }
                "error" => assert!(
                    matches!(result, Err(Error::Decrypt)),
                    "{source}: {result:?}"
                ),
                other => panic!("{source}: unknown expectation {other}"),
            }
        }
    }

    /// The intermediate values of every positive vector: normalisation, iv, nonce and the subkey.
    #[test]
    fn ciphertext_decrypt_breakdowns() {
        let vectors = vectors();
        for case in vectors["ciphertext_decrypt"].as_array().unwrap() {
            let Some(breakdown) = case["derived_breakdown"].as_object() else {
                continue;
            };
            let source = case["source"].as_str().unwrap();
            let hex_field = |prefix: &str| {
                let (_, value) = breakdown
                    .iter()
                    .find(|(name, _)| name.starts_with(prefix))
                    .unwrap();
                hex::decode(value.as_str().unwrap()).unwrap()
            };
            let raw = ciphertext(case);
            let normalized = legacy::normalize(&raw);
            let (sealed, suffix) = normalized.split_last_chunk::<SUFFIX_LEN>().unwrap();
            let (iv, nonce) = split_suffix(suffix).unwrap();
            assert_eq!(sealed, hex_field("sealed_hex"), "{source}");
            assert_eq!(iv.as_slice(), hex_field("iv_hex"), "{source}");
            assert_eq!(nonce.as_slice(), hex_field("nonce_hex"), "{source}");
            let key = key(case);
            let subkey = derive_subkey(key.kind(), key.as_bytes(), iv);
            assert_eq!(subkey.as_slice(), hex_field("aead_key_hex"), "{source}");
        }
    }

    #[test]
    fn generated_data_keys_open_to_their_plaintext() {
        for kind in [KeyType::Aes256, KeyType::ChaCha20] {
            let key = SecretKey::generate(kind).unwrap();
            let (plaintext, ciphertext) = key.generate_data_key(b"ctx").unwrap();
            assert_eq!(ciphertext.len(), KEY_LEN + 44);
            assert_eq!(
                key.open(&ciphertext, b"ctx").unwrap().as_slice(),
                &plaintext[..]
            );
            assert!(matches!(
                key.open(&ciphertext, b"other"),
                Err(Error::Decrypt)
            ));
            // The key and the iv and nonce come from one draw, but never overlap.
            let suffix = &ciphertext[ciphertext.len() - SUFFIX_LEN..];
            assert!(!suffix
                .windows(8)
                .any(|w| plaintext.windows(8).any(|p| p == w)));
            let (again, _) = key.generate_data_key(b"ctx").unwrap();
            assert_ne!(again, plaintext);
        }
    }

    #[test]
    fn ciphertext_encrypt_roundtrip_vectors() {
        let vectors = vectors();
        let cases = vectors["ciphertext_encrypt_roundtrip"]["cases"]
            .as_array()
            .unwrap();
        assert_eq!(cases.len(), 4);
        for case in cases {
            let key = key(case);
            let plaintext = b64(&case["plaintext_b64"]);
            let context = b64(&case["context_b64"]);
            let sealed = key.seal(&plaintext, &context).unwrap();
            assert_eq!(sealed.len(), plaintext.len() + 44);
            assert_eq!(*key.open(&sealed, &context).unwrap(), plaintext);
            // A different context must not authenticate.
            assert!(matches!(key.open(&sealed, b"other"), Err(Error::Decrypt)));
            // Fresh randomness per call.
            assert_ne!(key.seal(&plaintext, &context).unwrap(), sealed);
        }
    }

    #[test]
    fn roundtrip_both_types_and_sizes() {
        for kind in [KeyType::Aes256, KeyType::ChaCha20] {
            let key = SecretKey::generate(kind).unwrap();
            for len in [0, 1, 15, 16, 17, 1000] {
                let plaintext = vec![0x42; len];
                let sealed = key.seal(&plaintext, b"ctx").unwrap();
                assert_eq!(sealed.len(), len + 44);
                assert_eq!(*key.open(&sealed, b"ctx").unwrap(), plaintext);
            }
        }
    }

    #[test]
    fn the_stored_key_type_decides_the_cipher() {
        let bytes = [7u8; 32];
        let aes = SecretKey::from_array(KeyType::Aes256, &bytes);
        let chacha = SecretKey::from_array(KeyType::ChaCha20, &bytes);
        let sealed = aes.seal(b"data", b"").unwrap();
        assert!(matches!(chacha.open(&sealed, b""), Err(Error::Decrypt)));
    }

    #[test]
    fn short_and_tampered_ciphertexts_fail() {
        let key = SecretKey::generate(KeyType::Aes256).unwrap();
        for len in [0, 1, 27, 28, 29, 43] {
            assert!(matches!(key.open(&vec![0; len], b""), Err(Error::Decrypt)));
        }
        let sealed = key.seal(b"", b"").unwrap();
        assert_eq!(sealed.len(), 44);
        assert!(key.open(&sealed, b"").unwrap().is_empty());
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 1;
            assert!(matches!(key.open(&tampered, b""), Err(Error::Decrypt)));
        }
    }

    /// Encodes a ciphertext in the legacy msgpack layout, with the markers given by the caller.
    fn msgpack(str_marker: u8, bin_marker: u8, parts: (&[u8], &[u8], &[u8])) -> Vec<u8> {
        let (bytes, iv, nonce) = parts;
        let mut out = vec![0x95];
        for s in [&b"AES256"[..], b"id"] {
            if str_marker == 0xa0 {
                out.push(0xa0 | s.len() as u8);
            } else {
                out.extend([str_marker, s.len() as u8]);
            }
            out.extend_from_slice(s);
        }
        for b in [iv, nonce, bytes] {
            out.push(bin_marker);
            match bin_marker {
                0xc4 => out.push(b.len() as u8),
                0xc5 => out.extend((b.len() as u16).to_be_bytes()),
                _ => out.extend((b.len() as u32).to_be_bytes()),
            }
            out.extend_from_slice(b);
        }
        out
    }

    #[test]
    fn msgpack_accepts_every_str_and_bin_width() {
        let key = SecretKey::from_array(KeyType::Aes256, &[3; 32]);
        let sealed = key.seal(b"secret", b"").unwrap();
        let (body, suffix) = sealed.split_last_chunk::<SUFFIX_LEN>().unwrap();
        let (iv, nonce) = split_suffix(suffix).unwrap();
        for str_marker in [0xa0, 0xd9] {
            for bin_marker in [0xc4, 0xc5, 0xc6] {
                let encoded = msgpack(str_marker, bin_marker, (body, iv, nonce));
                assert_eq!(legacy::normalize(&encoded).as_ref(), sealed.as_slice());
                assert_eq!(key.open(&encoded, b"").unwrap().as_slice(), b"secret");
            }
        }
    }

    #[test]
    fn msgpack_type_rules_fall_through() {
        let key = SecretKey::from_array(KeyType::Aes256, &[3; 32]);
        let sealed = key.seal(b"secret", b"").unwrap();
        let (body, suffix) = sealed.split_last_chunk::<SUFFIX_LEN>().unwrap();
        let (iv, nonce) = split_suffix(suffix).unwrap();
        let good = msgpack(0xa0, 0xc4, (body, iv, nonce));

        // A bin where a str belongs, and a str where a bin belongs.
        let mut bin_as_str = good.clone();
        bin_as_str[1] = 0xc4;
        bin_as_str.insert(2, 6);
        let str_as_bin = {
            let mut out = good[..good.len() - body.len() - 2].to_vec();
            out.push(0xa0 | body.len() as u8);
            out.extend_from_slice(body);
            out
        };
        let mut trailing = good.clone();
        trailing.push(0xc0);
        let truncated = good[..good.len() - 1].to_vec();
        let unknown_algorithm = {
            let mut out = good.clone();
            out[2..8].copy_from_slice(b"AES128");
            out
        };
        let short_iv = msgpack(0xa0, 0xc4, (body, &iv[..15], nonce));
        for bad in [
            bin_as_str,
            str_as_bin,
            trailing,
            truncated,
            unknown_algorithm,
            short_iv,
        ] {
            assert_eq!(legacy::normalize(&bad).as_ref(), bad.as_slice());
            assert!(matches!(key.open(&bad, b""), Err(Error::Decrypt)));
        }
        // A bin32 length far beyond the input must not allocate or panic.
        let mut huge = good[..good.len() - body.len() - 2].to_vec();
        huge.extend([0xc6, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(legacy::normalize(&huge).as_ref(), huge.as_slice());
    }

    #[test]
    fn json_follows_go_decoding() {
        let key = SecretKey::from_array(KeyType::ChaCha20, &[9; 32]);
        let sealed = key.seal(b"secret", b"ad").unwrap();
        let (body, suffix) = sealed.split_last_chunk::<SUFFIX_LEN>().unwrap();
        let (iv, nonce) = split_suffix(suffix).unwrap();
        let (body, iv, nonce) = (B64.encode(body), B64.encode(iv), B64.encode(nonce));
        let ok = [
            // Case-insensitive field names, Unicode folding ("ſ" folds to "s") and unknown fields.
            format!(
                r#"{{"AEAD":"ChaCha20Poly1305","Iv":"{iv}","NONCE":"{nonce}","byteſ":"{body}","x":[1,{{}}]}}"#
            ),
            // The last of repeated keys wins; null leaves a string unchanged.
            format!(
                r#"{{"aead":"x","aead":"ChaCha20Poly1305","aead":null,"id":null,"iv":"AAAA","iv":"{iv}","nonce":"{nonce}","bytes":"{body}"}}"#
            ),
            // Go's std base64 ignores newlines; the algorithm name is validated but never used.
            format!(
                r#"{{"aead":"AES-256-GCM-HMAC-SHA-256","iv":"{iv}\r\n","nonce":"{nonce}","bytes":"{body}"}} "#
            ),
        ];
        for text in ok {
            assert_eq!(
                key.open(text.as_bytes(), b"ad").unwrap().as_slice(),
                b"secret",
                "{text}"
            );
        }
        let bad = [
            format!(
                r#"{{"aead":"chacha20poly1305","iv":"{iv}","nonce":"{nonce}","bytes":"{body}"}}"#
            ),
            format!(
                r#"{{"aead":"ChaCha20Poly1305","iv":"{iv}","nonce":"{nonce}","bytes":"{body}"}}x"#
            ),
            format!(
                r#"{{"aead":"ChaCha20Poly1305","iv":null,"nonce":"{nonce}","bytes":"{body}"}}"#
            ),
            format!(r#"{{"aead":"ChaCha20Poly1305","iv":"{iv}","nonce":"{nonce}","bytes":5}}"#),
            format!(
                r#"{{"aead":"ChaCha20Poly1305","id":5,"iv":"{iv}","nonce":"{nonce}","bytes":"{body}"}}"#
            ),
            format!(
                r#"{{"aead":"ChaCha20Poly1305","iv":"{iv}","nonce":"{nonce}","bytes":"{body}="}}"#
            ),
        ];
        for text in bad {
            assert!(
                matches!(key.open(text.as_bytes(), b"ad"), Err(Error::Decrypt)),
                "{text}"
            );
        }
        // Without bytes the result is just iv ‖ nonce: too short.
        let empty = format!(r#"{{"aead":"ChaCha20Poly1305","iv":"{iv}","nonce":"{nonce}"}}"#);
        assert_eq!(legacy::normalize(empty.as_bytes()).len(), 28);
        assert!(matches!(
            key.open(empty.as_bytes(), b"ad"),
            Err(Error::Decrypt)
        ));
    }

    #[test]
    fn key_type_spellings() {
        for (cipher, kind) in [
            ("AES256", KeyType::Aes256),
            ("AES256-GCM_SHA256", KeyType::Aes256),
            ("ChaCha20", KeyType::ChaCha20),
            ("XCHACHA20-POLY1305", KeyType::ChaCha20),
        ] {
            assert_eq!(KeyType::from_cipher(cipher).unwrap(), kind);
        }
        for cipher in [
            "",
            "aes256",
            "CHACHA20",
            "AES-256-GCM-HMAC-SHA-256",
            "AES256 ",
        ] {
            let err = KeyType::from_cipher(cipher).unwrap_err();
            assert_eq!(err.status(), 406);
            assert_eq!(
                err.message(),
                format!("algorithm '{cipher}' is not supported")
            );
        }
    }

    #[test]
    fn import_size_error() {
        for len in [0, 16, 31, 33, 64] {
            let err = SecretKey::from_bytes(KeyType::Aes256, &vec![0; len], "AES256").unwrap_err();
            assert_eq!(err.status(), 406);
            assert_eq!(err.message(), "invalid key size for 'AES256'");
        }
    }

    #[test]
    fn hmac_matches_the_crate_and_is_deterministic() {
        let key = HmacKey::from_array(&[0x0b; 32]);
        let mut expected = <Hmac<Sha256> as Mac>::new_from_slice(&[0x0b; 32]).unwrap();
        expected.update(b"message");
        assert_eq!(
            key.mac(b"message").as_slice(),
            expected.finalize().into_bytes().as_slice()
        );
        assert_eq!(key.mac(b"message"), key.mac(b"message"));
        assert_ne!(key.mac(b"message"), key.mac(b"messagf"));
        let fresh = HmacKey::generate().unwrap();
        assert_ne!(fresh.as_bytes(), HmacKey::generate().unwrap().as_bytes());
    }

    #[test]
    fn debug_shows_no_key_bytes() {
        let bytes = [0xa7u8; 32];
        let secret = SecretKey::from_array(KeyType::ChaCha20, &bytes);
        let hmac = HmacKey::from_array(&bytes);
        let shown = format!("{secret:?} {hmac:?} {secret:#?} {hmac:#?}");
        assert_eq!(format!("{secret:?}"), "SecretKey { kind: ChaCha20 }");
        assert_eq!(format!("{hmac:?}"), "HmacKey { .. }");
        for needle in ["167", "a7", "A7", &B64.encode(bytes)[..8]] {
            assert!(!shown.contains(needle), "{shown}");
        }
    }
}
