#!/usr/bin/env bash
# Checks that include/vmem.h (and include/sys/vmem.h) build cleanly in every
# dialect a C project may use: examples-c/tests/header_check.c as C89, C99
# and C11, examples-c/tests/header_check.cpp as C++98, C++11 and C++17, each
# with gcc/g++ and clang/clang++ and -Wall -Wextra -Werror -pedantic. Each
# build is linked against libvmem.a (for C++ that proves the functions have
# C linkage) and run. Installs g++ and clang if they are missing.
#
# Called by examples-c/run.sh once libvmem.a is built; runs alone too:
#   cargo build -p vmem-ffi --release && bash examples-c/header-check.sh [LIBDIR]
# LIBDIR holds libvmem.a (default: $CARGO_TARGET_DIR/release, or target/release).
set -euo pipefail
cd "$(dirname "$0")/.."

LIBDIR="${1:-${CARGO_TARGET_DIR:-$PWD/target}/release}"
if [ ! -f "$LIBDIR/libvmem.a" ]; then
  echo "header-check: no $LIBDIR/libvmem.a; build it with cargo build -p vmem-ffi --release" >&2
  exit 1
fi

missing=()
command -v gcc >/dev/null || missing+=(gcc)
command -v g++ >/dev/null || missing+=(g++)
{ command -v clang >/dev/null && command -v clang++ >/dev/null; } || missing+=(clang)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update && $sudo apt-get install -y "${missing[@]}"
fi

out=examples-c/build/header-check
mkdir -p "$out"
warnings=(-Wall -Wextra -Werror -pedantic)
libs=("$LIBDIR/libvmem.a" -lpthread -ldl -lm)

# build COMPILER STD SOURCE [EXTRA FLAG...]: compile, link, run.
build() {
  local cc=$1 std=$2 src=$3
  shift 3
  local bin="$out/header_check-$cc-$std"
  echo "== header check: $cc -std=$std ($($cc -dumpversion))"
  "$cc" -std="$std" "${warnings[@]}" "$@" -Iinclude -o "$bin" "$src" "${libs[@]}"
  "$bin" >/dev/null
}

for cc in gcc clang; do
  for std in c89 c99 c11; do
    # A prototype-less declaration in the header would fail here.
    build "$cc" "$std" examples-c/tests/header_check.c -Wstrict-prototypes
  done
done
for cxx in g++ clang++; do
  for std in c++98 c++11 c++17; do
    build "$cxx" "$std" examples-c/tests/header_check.cpp
  done
done
echo "== header check: all 12 builds compiled cleanly and passed"
