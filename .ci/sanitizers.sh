#!/usr/bin/env bash
# Sanitizer runs (nightly Rust with rust-src, a C compiler with ASan/UBSan):
#
#   tsan   the multi-threaded stress tests of vmem-core and vmem-slab
#          (`--test stress`) under ThreadSanitizer, std rebuilt with it;
#   asan   libvmem.a built with AddressSanitizer (Rust side, std rebuilt),
#          then examples-c/tests/test_vmem.c and every examples-c/*.c built
#          with -fsanitize=address,undefined against it, and run.
#
#   bash .ci/sanitizers.sh            # both
#   bash .ci/sanitizers.sh asan       # one of them (tsan | asan)
#
# Each part prints how long it took. The sanitized builds go to
# target/sanitizers/<part>, apart from the ordinary ones. docs/testing.md
# has the figures and what the runs found.
set -euo pipefail
cd "$(dirname "$0")/.."

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(tsan asan)
ROOT="${CARGO_TARGET_DIR:-$PWD/target}/sanitizers"
TRIPLE=x86_64-unknown-linux-gnu

need_nightly() {
  if ! rustup toolchain list | grep -q nightly; then
    rustup toolchain install nightly --profile minimal
  fi
  rustup component add --toolchain nightly rust-src >/dev/null
}

timed() { # name command...
  local name=$1 start
  shift
  start=$(date +%s)
  "$@"
  echo "== sanitizers: $name took $(($(date +%s) - start)) s"
}

tsan() {
  # Without this, the test harness's own threads would be instrumented
  # but libstd's would not, and every channel would look racy.
  RUSTFLAGS="-Zsanitizer=thread" RUSTDOCFLAGS="-Zsanitizer=thread" \
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
    CARGO_TARGET_DIR="$ROOT/tsan" \
    cargo +nightly test -Zbuild-std --target "$TRIPLE" --release \
    -p vmem-core -p vmem-slab --test stress
}

asan() {
  RUSTFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR="$ROOT/asan" \
    cargo +nightly build -Zbuild-std --target "$TRIPLE" --release -p vmem-ffi
  local lib="$ROOT/asan/$TRIPLE/release/libvmem.a" out="$ROOT/asan/c"
  mkdir -p "$out"
  # clang: the same sanitizer runtime family as rustc's instrumentation.
  local cc=${SANITIZER_CC:-clang}
  local flags=(-std=c99 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined
    -fno-sanitize-recover=undefined -Iinclude -D_DEFAULT_SOURCE)
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
  # The boundary-tag pool keeps its pages for the life of the process, on
  # a list it holds: LeakSanitizer sees them as reachable, not leaked.
  for src in examples-c/tests/test_vmem.c examples-c/*.c; do
    local name
    name=$(basename "$src" .c)
    "$cc" "${flags[@]}" -o "$out/$name" "$src" "$lib" -lpthread -ldl -lm
    echo "== sanitizers: asan+ubsan $name"
    "$out/$name" >"$out/$name.out"
  done
}

for part in "${parts[@]}"; do
  case "$part" in
    tsan | asan) need_nightly; timed "$part" "$part" ;;
    *) echo "unknown part '$part' (tsan | asan)" >&2; exit 2 ;;
  esac
done
echo "== sanitizers passed: ${parts[*]}"
