#!/usr/bin/env bash
# Regenerates include/kes.h from ffi-c/src with the pinned cbindgen, installing it under the target
# directory when missing (from crates.io, with its lock file).
#
#   ffi-c/gen-header.sh            write include/kes.h
#   ffi-c/gen-header.sh --check    fail if the committed include/kes.h differs from a fresh one
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.29.4
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
cbindgen="$target_dir/tools/bin/cbindgen"
if ! { [ -x "$cbindgen" ] && "$cbindgen" --version | grep -qx "cbindgen $CBINDGEN_VERSION"; }; then
  cargo install --quiet --locked --root "$target_dir/tools" cbindgen --version "$CBINDGEN_VERSION"
fi

fresh="$(mktemp)"
trap 'rm -f "$fresh"' EXIT
"$cbindgen" --quiet --config ffi-c/cbindgen.toml --crate kesrs-ffi-c --output "$fresh" ffi-c

if [ "${1:-}" = "--check" ]; then
  if ! diff -u include/kes.h "$fresh"; then
    echo "include/kes.h is stale: run ffi-c/gen-header.sh and commit it" >&2
    exit 1
  fi
else
  mkdir -p include
  cp "$fresh" include/kes.h
fi
