#!/usr/bin/env bash
# The C SDK's CI: builds libvmem, checks that include/vmem.h is exactly what
# the pinned cbindgen generates, then builds and runs every example (also
# under Valgrind), the API test under Valgrind and the death tests, and
# checks that the header builds cleanly as C89/C99/C11 and C++ with gcc and
# clang (examples-c/header-check.sh). The installed SDK (`make install`,
# vmem.pc, the export list) is checked by .ci/packaging.sh. Called by
# .ci/run; runs alone too: bash examples-c/run.sh
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

echo "== C SDK: examples, API test, death tests"
make -C examples-c LIBDIR="$LIBDIR" all run check valgrind-examples
