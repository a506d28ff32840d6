//! Gives libkes.so a SONAME (`libkes.so.<major>`), as a C library installed system-wide has; cargo
//! sets none. The major version is the ABI: it changes when kes.h changes incompatibly.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
    if os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libkes.so.{major}");
    }
}
