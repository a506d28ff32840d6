//! Legacy encrypted PEM private keys (RFC 1423 `Proc-Type: 4,ENCRYPTED`), which KES reads with
//! `tls.password` and `kes identity new --encrypt` writes.
//!
//! The scheme is weak (one round of MD5 to derive the key, no integrity check beyond the padding), so
//! kesrs only reads it, for compatibility with existing KES configs, and never writes it.

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use md5::{Digest, Md5};
use zeroize::Zeroizing;

use crate::Error;

/// Decrypts a legacy encrypted PEM private key with `password` and returns it as unencrypted PEM with
/// the same label. A PEM that is not encrypted is returned unchanged.
pub fn decrypt_private_key_pem(pem: &[u8], password: &[u8]) -> Result<Zeroizing<String>, Error> {
    let block = pem::parse(pem).map_err(|_| Error::InvalidPrivateKey("not a PEM block"))?;
    let encrypted = block
        .headers()
        .get("Proc-Type")
        .is_some_and(|v| v.trim() == "4,ENCRYPTED");
    let contents = Zeroizing::new(block.contents().to_vec());
    let der = if encrypted {
        let dek_info = block
            .headers()
            .get("DEK-Info")
            .ok_or(Error::InvalidPrivateKey("encrypted PEM without DEK-Info"))?;
        decrypt(dek_info, &contents, password)?
    } else {
        contents
    };
    Ok(crate::pem_text::private_key_pem(block.tag(), &der))
}

fn decrypt(dek_info: &str, data: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    let (cipher, iv_hex) = dek_info
        .split_once(',')
        .ok_or(Error::InvalidPrivateKey("malformed DEK-Info"))?;
    let iv = hex::decode(iv_hex.trim()).map_err(|_| Error::InvalidPrivateKey("malformed IV"))?;
    let (key_len, iv_len) = match cipher.trim() {
        "AES-128-CBC" => (16, 16),
        "AES-192-CBC" => (24, 16),
        "AES-256-CBC" => (32, 16),
        "DES-EDE3-CBC" => (24, 8),
        "DES-CBC" => (8, 8),
        _ => return Err(Error::InvalidPrivateKey("unsupported PEM cipher")),
    };
    let salt = iv
        .get(..8)
        .filter(|_| iv.len() == iv_len)
        .ok_or(Error::InvalidPrivateKey("IV has the wrong length"))?;
    let key = derive_key(password, salt, key_len);
    let mut buf = Zeroizing::new(data.to_vec());
    let len = match cipher.trim() {
        "AES-128-CBC" => unpad::<cbc::Decryptor<aes::Aes128>>(&key, &iv, &mut buf),
        "AES-192-CBC" => unpad::<cbc::Decryptor<aes::Aes192>>(&key, &iv, &mut buf),
        "AES-256-CBC" => unpad::<cbc::Decryptor<aes::Aes256>>(&key, &iv, &mut buf),
        "DES-EDE3-CBC" => unpad::<cbc::Decryptor<des::TdesEde3>>(&key, &iv, &mut buf),
        _ => unpad::<cbc::Decryptor<des::Des>>(&key, &iv, &mut buf),
    }?;
    buf.truncate(len);
    Ok(buf)
}

/// OpenSSL's `EVP_BytesToKey` with MD5 and one iteration, as RFC 1423 PEM encryption uses it.
fn derive_key(password: &[u8], salt: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut key = Zeroizing::new(Vec::with_capacity(len + 16));
    let mut previous: Option<Zeroizing<[u8; 16]>> = None;
    while key.len() < len {
        let mut md5 = Md5::new();
        if let Some(previous) = &previous {
            md5.update(previous.as_ref());
        }
        md5.update(password);
        md5.update(salt);
        let digest = Zeroizing::new(<[u8; 16]>::from(md5.finalize()));
        key.extend_from_slice(digest.as_ref());
        previous = Some(digest);
    }
    key.truncate(len);
    key
}

/// Decrypts in place and returns the length without padding. A wrong password shows as bad padding.
fn unpad<C: KeyIvInit + BlockDecryptMut>(
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
) -> Result<usize, Error> {
    let decryptor =
        C::new_from_slices(key, iv).map_err(|_| Error::InvalidPrivateKey("bad key or IV size"))?;
    decryptor
        .decrypt_padded_mut::<Pkcs7>(buf)
        .map(|plain| plain.len())
        .map_err(|_| Error::InvalidPrivateKey("incorrect password"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl ec -aes256 -passout pass:kesrs-test` of a P-256 key (OpenSSL writes the legacy form for EC).
    const ENCRYPTED: &str = include_str!("../tests/fixtures/encrypted-ec.key");
    const PLAIN: &str = include_str!("../tests/fixtures/plain-ec.key");

    #[test]
    fn decrypts_an_openssl_encrypted_key() {
        let pem = decrypt_private_key_pem(ENCRYPTED.as_bytes(), b"kesrs-test").unwrap();
        let got = pem::parse(pem.as_bytes()).unwrap();
        let want = pem::parse(PLAIN).unwrap();
        assert_eq!(got.tag(), "EC PRIVATE KEY");
        assert_eq!(got.contents(), want.contents());
    }

    #[test]
    fn decrypts_triple_des() {
        let encrypted = include_str!("../tests/fixtures/encrypted-des3-ec.key");
        let pem = decrypt_private_key_pem(encrypted.as_bytes(), b"kesrs-test").unwrap();
        let got = pem::parse(pem.as_bytes()).unwrap();
        assert_eq!(got.contents(), pem::parse(PLAIN).unwrap().contents());
    }

    #[test]
    fn a_wrong_password_is_an_error() {
        let err = decrypt_private_key_pem(ENCRYPTED.as_bytes(), b"wrong").unwrap_err();
        assert!(matches!(err, Error::InvalidPrivateKey(_)), "{err}");
    }

    #[test]
    fn an_unencrypted_key_passes_through() {
        let pem = decrypt_private_key_pem(PLAIN.as_bytes(), b"").unwrap();
        assert_eq!(
            pem::parse(pem.as_bytes()).unwrap().contents(),
            pem::parse(PLAIN).unwrap().contents()
        );
    }
}
