//! Go's `base64.StdEncoding`, as KES decoded stored keys and legacy JSON values with it.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use zeroize::Zeroizing;

/// `base64.StdEncoding.DecodeString`, which skips `\r` and `\n` anywhere in the input.
///
/// The result may be key material, so it is zeroizing, and so is the copy made to drop newlines.
pub(crate) fn decode_base64(input: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let newline = |b: &u8| *b == b'\r' || *b == b'\n';
    if !input.iter().any(newline) {
        return STD_ENCODING.decode(input).ok().map(Zeroizing::new);
    }
    // Sized up front: a copy that grew would leave freed pieces of it behind.
    let mut copy = Zeroizing::new(Vec::with_capacity(input.len()));
    copy.extend(input.iter().filter(|b| !newline(b)));
    STD_ENCODING
        .decode(copy.as_slice())
        .ok()
        .map(Zeroizing::new)
}

/// `base64.StdEncoding`: padding required, but non-zero trailing bits are accepted.
const STD_ENCODING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);
