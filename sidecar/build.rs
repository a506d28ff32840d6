//! Lays out the release `kesrs` binary's code in the order of `link-order.txt`.
//!
//! The kernel maps an executable's code 64 KiB at a time around each page a fault touches, so the
//! code a running server uses, scattered over the whole text, maps nearly all of it: 6.2 of 7.4
//! MiB. With the functions the server executes first in the text, hottest first, it maps 2.9 MiB,
//! and idle RSS falls from about 11 to 7.5 MiB (docs/performance.md, "code layout").
//! `bench/layout` writes the file from a profiled run; symbols it names that a build no longer has
//! are skipped, so a stale file costs memory, never a build.
//!
//! Only lld takes the option, and rustc links with its own lld by default only on this target since
//! 1.90. Anything else (another target, an older rustc, a linker set in the configuration or in
//! RUSTFLAGS) links as before.

use std::env;
use std::path::Path;
use std::process::Command;

const ORDER_FILE: &str = "link-order.txt";

fn main() {
    println!("cargo:rerun-if-changed={ORDER_FILE}");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let rustflags = var("CARGO_ENCODED_RUSTFLAGS");
    if var("TARGET") != "x86_64-unknown-linux-gnu"
        || var("PROFILE") != "release"
        || env::var_os("RUSTC_LINKER").is_some()
        || rustflags.contains("link")
        || !rustc_links_with_lld(&var("RUSTC"))
    {
        return;
    }
    let order = Path::new(&var("CARGO_MANIFEST_DIR")).join(ORDER_FILE);
    if !order.is_file() {
        return;
    }
    println!(
        "cargo:rustc-link-arg-bin=kesrs=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo:rustc-link-arg-bin=kesrs=-Wl,--no-warn-symbol-ordering");
}

/// Whether `rustc` is 1.90 or later, which links through its own lld on x86_64 Linux.
fn rustc_links_with_lld(rustc: &str) -> bool {
    let Ok(output) = Command::new(rustc).arg("--version").output() else {
        return false;
    };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let text = String::from_utf8_lossy(&output.stdout);
    let mut numbers = text
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .split(['.', '-'])
        .map(|n| n.parse::<u32>().ok());
    matches!(
        (numbers.next(), numbers.next()),
        (Some(Some(major)), Some(Some(minor))) if (major, minor) >= (1, 90)
    )
}
