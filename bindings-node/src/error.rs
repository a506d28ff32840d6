//! Core's [`Error`] as a JS error: the one place the binding converts errors.
//!
//! The object is a plain `Error` with `code` (core's [`ErrorCode::name`](kesrs_core::ErrorCode),
//! e.g. `KES_KEY_NOT_FOUND`), `status` (the KES HTTP status) and `message` (KES's exact message).
//! napi's own statuses (`GenericFailure`, ...) cannot carry a KES code, so the object is made here
//! and handed to napi as the error to throw or reject with. `index.js` turns it into a `KesError`.

use kesrs_core::Error;
use napi::bindgen_prelude::{Env, JsObjectValue, Status};
use napi::JsValue;

/// The JS error for `error`. If the object cannot even be built (the environment is going away),
/// napi's own error says why, with the KES message.
pub(crate) fn to_js(env: &Env, error: &Error) -> napi::Error {
    build(env, error).unwrap_or_else(|failure| {
        napi::Error::new(
            Status::GenericFailure,
            format!("{}: {}", error.message(), failure.reason),
        )
    })
}

fn build(env: &Env, error: &Error) -> napi::Result<napi::Error> {
    let message = error.message();
    let mut object = env.create_error(napi::Error::new(Status::GenericFailure, message.clone()))?;
    object.set_named_property("code", error.code().name())?;
    object.set_named_property("status", u32::from(error.status()))?;
    // KES gives internal failures a generic message (the exact bytes MinIO expects). In-process, the
    // caller owns the key store, so the cause (a path, an OS error) is theirs to see: keep it.
    let detail = error.to_string();
    if detail != message {
        object.set_named_property("detail", detail)?;
    }
    Ok(napi::Error::from(object.to_unknown()))
}
