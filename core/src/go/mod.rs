//! What Go's standard library does, wherever KES's formats depend on it: `encoding/json`'s field
//! matching and value rules, `base64.StdEncoding`, and `time.Time`'s RFC 3339 text.
//!
//! KES is written in Go and wrote its stored keys, legacy ciphertexts and timestamps with these
//! packages. Reading them exactly as Go did is what keeps kesrs byte-compatible; each rule is kept
//! once here, not wherever a format needs it.

mod base64;
mod json;
mod time;

pub(crate) use self::base64::decode_base64;
pub use self::json::json_field_matches;
pub(crate) use self::json::{decode_struct, set_string, Bytes, Struct};
pub(crate) use self::time::parse_rfc3339;
pub use self::time::rfc3339;
