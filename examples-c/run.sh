#!/usr/bin/env bash
# The C SDK's CI: builds libvmem, checks that include/vmem.h is exactly what
# the pinned cbindgen generates, writes vmem.pc, then builds and runs every
# example (also under Valgrind), the API test under Valgrind and the death
# tests, and checks that the header builds cleanly as C89/C99/C11 and C++
# with gcc and clang (examples-c/header-check.sh). Called by .ci/run; runs
# alone too: bash examples-c/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# cbindgen's output changes between releases: the header is checked against
# this exact version.
CBINDGEN_VERSION=0.29.4
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
LIBDIR="$TARGET_DIR/release"

echo "== C SDK: tools"
missing=()
command -v valgrind >/dev/null || missing+=(valgrind)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v cc >/dev/null || missing+=(gcc)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update && $sudo apt-get install -y "${missing[@]}"
fi
if ! cbindgen --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION"; then
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked
fi

echo "== C SDK: libvmem.a and libvmem.so"
cargo build -p vmem-ffi --release
ls "$LIBDIR/libvmem.a" "$LIBDIR/libvmem.so" >/dev/null

echo "== C SDK: include/vmem.h is up to date (cbindgen $CBINDGEN_VERSION)"
fresh="$(mktemp)"
trap 'rm -f "$fresh"' EXIT
cbindgen --quiet --config vmem-ffi/cbindgen.toml --crate vmem-ffi --output "$fresh"
if ! diff -u include/vmem.h "$fresh"; then
  echo "include/vmem.h differs from cbindgen's output; regenerate it with:" >&2
  echo "  cbindgen --config vmem-ffi/cbindgen.toml --crate vmem-ffi --output include/vmem.h" >&2
  exit 1
fi

echo "== C SDK: include/vmem.h and include/sys/vmem.h as C89/C99/C11 and C++"
bash examples-c/header-check.sh "$LIBDIR"

echo "== C SDK: vmem.pc"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
sed -e "s|@PREFIX@|$PWD|" -e "s|@LIBDIR@|$LIBDIR|" -e "s|@VERSION@|$version|" \
  vmem-ffi/vmem.pc.in >"$LIBDIR/vmem.pc"
export PKG_CONFIG_PATH="$LIBDIR${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
mkdir -p examples-c/build
# The documented link line, against libvmem.so.
# shellcheck disable=SC2046
cc -std=c99 -Wall -Wextra -Werror -o examples-c/build/pids-pkgconfig examples-c/pids.c \
  $(pkg-config --cflags --libs vmem)
./examples-c/build/pids-pkgconfig

echo "== C SDK: examples, API test, death tests"
make -C examples-c LIBDIR="$LIBDIR" all run check valgrind-examples
