#!/usr/bin/env bash
# Installs libkes (built by cargo) with its header, pkg-config file and CMake package under PREFIX.
#
#   cargo build --release -p kesrs-ffi-c
#   ffi-c/install.sh PREFIX [debug|release]      (default: release)
#
# Installs PREFIX/include/kes.h, PREFIX/lib/libkes.so.MAJOR (+ the libkes.so link), libkes.a,
# PREFIX/lib/pkgconfig/kes.pc and PREFIX/lib/cmake/kes/kesConfig{,Version}.cmake.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 PREFIX [debug|release]" >&2; exit 2; }
repo="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$1"
prefix="$(cd "$1" && pwd)"
profile="${2:-release}"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac
built="$target_dir/$profile"
for f in libkes.so libkes.a; do
  [ -f "$built/$f" ] || { echo "no $built/$f: run cargo build $([ "$profile" = release ] && echo --release) -p kesrs-ffi-c" >&2; exit 1; }
done

# The version is the header's (generated from Cargo.toml's, and checked against it by the tests).
version_part() { sed -n "s/^#define KES_VERSION_$1 \([0-9]*\)$/\1/p" "$repo/include/kes.h"; }
major="$(version_part MAJOR)" minor="$(version_part MINOR)" patch="$(version_part PATCH)"
version="$major.$minor.$patch"
subst() { sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|$major|g" -e "s|@MINOR@|$minor|g" "$1"; }

install -d "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/cmake/kes"
install -m 0644 "$repo/include/kes.h" "$prefix/include/kes.h"
install -m 0755 "$built/libkes.so" "$prefix/lib/libkes.so.$major"
ln -sf "libkes.so.$major" "$prefix/lib/libkes.so"
install -m 0644 "$built/libkes.a" "$prefix/lib/libkes.a"
subst "$repo/ffi-c/kes.pc.in" >"$prefix/lib/pkgconfig/kes.pc"
subst "$repo/ffi-c/cmake/kesConfig.cmake.in" >"$prefix/lib/cmake/kes/kesConfig.cmake"
subst "$repo/ffi-c/cmake/kesConfigVersion.cmake.in" >"$prefix/lib/cmake/kes/kesConfigVersion.cmake"
echo "installed libkes $version ($profile) in $prefix"
