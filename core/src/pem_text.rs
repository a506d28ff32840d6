//! PEM text for private keys, written into one buffer of exactly its size that is wiped on drop.
//!
//! The `pem` crate and a growing `String` both leave copies of the key behind in freed memory.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use zeroize::Zeroizing;

/// `der` as a PEM block labelled `label`, 64 base64 characters a line, as Go's `pem.Encode` and
/// OpenSSL write it.
pub(crate) fn private_key_pem(label: &str, der: &[u8]) -> Zeroizing<String> {
    let mut encoded = Zeroizing::new(vec![0u8; der.len().div_ceil(3) * 4]);
    let written = STANDARD
        .encode_slice(der, encoded.as_mut_slice())
        .unwrap_or(0);
    let encoded = encoded.get(..written).unwrap_or_default();
    let begin = format!("-----BEGIN {label}-----\n");
    let end = format!("-----END {label}-----\n");
    let lines = encoded.len().div_ceil(64);
    let mut pem = Zeroizing::new(String::with_capacity(
        begin.len() + encoded.len() + lines + end.len(),
    ));
    pem.push_str(&begin);
    for line in encoded.chunks(64) {
        // Base64 is ASCII.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(&end);
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_fill_exactly_one_allocation() {
        for len in [0, 1, 47, 48, 49, 121, 1190] {
            let der: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let pem = private_key_pem("PRIVATE KEY", &der);
            assert_eq!(
                pem.capacity(),
                pem.len(),
                "{len}: no growth, so no stale copy"
            );
            let parsed = pem::parse(pem.as_bytes()).unwrap();
            assert_eq!((parsed.tag(), parsed.contents()), ("PRIVATE KEY", &der[..]));
            assert!(pem
                .lines()
                .all(|line| line.len() <= 64 || line.starts_with("-----")));
        }
    }
}
