#!/usr/bin/env bash
# Packaging checks (docs/packaging.md), called by .ci/run; runs alone too:
#   bash .ci/packaging.sh
#
# 1. The C SDK as a user gets it: `make install` into a temporary prefix
#    (and once more under DESTDIR), the files, symlinks, SONAME and export
#    list, then the examples built against the installed copy with
#    pkg-config, shared (LD_LIBRARY_PATH and rpath) and static.
# 2. The documentation: rustdoc with warnings as errors, for the workspace
#    and for vmem-core without `std`.
# 3. vmem-core under every feature combination, on the host and for bare
#    metal (x86_64-unknown-none), with the no_std example.
# 4. The declared minimum Rust versions, with those exact toolchains.
# 5. cargo package and cargo publish --dry-run.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
step() { echo "== packaging: $* ($((SECONDS - start)) s)"; }

step "tools"
missing=()
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v cc >/dev/null || missing+=(gcc)
command -v make >/dev/null || missing+=(make)
command -v readelf >/dev/null || missing+=(binutils)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update && $sudo apt-get install -y "${missing[@]}"
fi
rustup target add x86_64-unknown-none >/dev/null 2>&1

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# ---- 1. The C SDK ------------------------------------------------------------
step "make install into a temporary prefix"
prefix="$tmp/prefix"
make --no-print-directory install PREFIX="$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; exit 1; }
libdir="$prefix/lib"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
major="${version%%.*}"
for f in include/vmem.h include/sys/vmem.h lib/libvmem.a "lib/libvmem.so.$version" \
  lib/pkgconfig/vmem.pc; do
  [ -f "$prefix/$f" ] || { echo "make install did not install $f" >&2; exit 1; }
done
[ "$(readlink "$libdir/libvmem.so")" = "libvmem.so.$major" ] &&
  [ "$(readlink "$libdir/libvmem.so.$major")" = "libvmem.so.$version" ] ||
  { echo "libvmem.so symlinks are wrong:" >&2; ls -l "$libdir" >&2; exit 1; }
readelf -d "$libdir/libvmem.so.$version" | grep -q "Library soname: \[libvmem.so.$major\]" ||
  { echo "libvmem.so.$version lacks SONAME libvmem.so.$major" >&2; exit 1; }

step "libvmem.so exports exactly the header's functions, as VMEM_0"
# One declaration per line in the generated header: `type name(args);`.
sed -nE 's/^[a-z][^(#]*[ *](_?vmem_[a-z_]+)\(.*\);$/\1/p' include/vmem.h | sort >"$tmp/header"
nm -D --defined-only "$libdir/libvmem.so.$version" | awk '$2 != "A" { print $3 }' \
  | sort >"$tmp/exported"
if grep -qv '@@VMEM_0$' "$tmp/exported"; then
  echo "symbols outside the VMEM_0 version:" >&2
  grep -v '@@VMEM_0$' "$tmp/exported" >&2
  exit 1
fi
sed -i 's/@@VMEM_0$//' "$tmp/exported"
[ -s "$tmp/header" ] || { echo "found no function in include/vmem.h" >&2; exit 1; }
if ! diff -u "$tmp/header" "$tmp/exported"; then
  echo "libvmem.so's exports differ from include/vmem.h (- header, + library);" >&2
  echo "update vmem-ffi/libvmem.map" >&2
  exit 1
fi
echo "$(wc -l <"$tmp/exported") functions, nothing else"

step "the examples against the installed SDK, with pkg-config"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cflags=(-std=c99 -O1 -Wall -Wextra -Werror -D_DEFAULT_SOURCE)
for ex in pids dma nested walk; do
  # shellcheck disable=SC2046
  cc "${cflags[@]}" -o "$tmp/$ex-shared" "examples-c/$ex.c" $(pkg-config --cflags --libs vmem)
  LD_LIBRARY_PATH="$libdir" "$tmp/$ex-shared" >/dev/null
  # shellcheck disable=SC2046
  cc "${cflags[@]}" -o "$tmp/$ex-rpath" "examples-c/$ex.c" $(pkg-config --cflags --libs vmem) \
    -Wl,-rpath,"$(pkg-config --variable=libdir vmem)"
  "$tmp/$ex-rpath" >/dev/null
  # shellcheck disable=SC2046
  cc -static "${cflags[@]}" -o "$tmp/$ex-static" "examples-c/$ex.c" \
    $(pkg-config --static --cflags --libs vmem)
  "$tmp/$ex-static" >/dev/null
done
# Only libvmem static, libc shared: the documented `-l:libvmem.a` line.
# shellcheck disable=SC2046
cc "${cflags[@]}" -o "$tmp/pids-mixed" examples-c/pids.c $(pkg-config --cflags --libs-only-L vmem) \
  -l:libvmem.a -lpthread -ldl -lm
"$tmp/pids-mixed" >/dev/null
if readelf -d "$tmp/pids-mixed" | grep -q "libvmem"; then
  echo "the -l:libvmem.a build still loads libvmem.so" >&2
  exit 1
fi
readelf -d "$tmp/pids-shared" | grep -q "Shared library: \[libvmem.so.$major\]" ||
  { echo "the shared build does not load libvmem.so.$major" >&2; exit 1; }
if readelf -d "$tmp/pids-static" 2>/dev/null | grep -q NEEDED; then
  echo "the static build still needs shared libraries" >&2
  exit 1
fi
# The illumos include name, from the installed headers.
cat >"$tmp/sys.c" <<'EOF'
#include <sys/vmem.h>
int main(void)
{
    vmem_t *ids = vmem_create("ids", (void *)1, 100, 1, NULL, NULL, NULL, 0, VM_SLEEP);
    void *id = vmem_alloc(ids, 1, VM_NOSLEEP);
    int first = id == (void *)1;
    vmem_free(ids, id, 1);
    vmem_destroy(ids);
    return !first;
}
EOF
# shellcheck disable=SC2046
cc "${cflags[@]}" -o "$tmp/sys" "$tmp/sys.c" $(pkg-config --cflags --libs vmem)
LD_LIBRARY_PATH="$libdir" "$tmp/sys"
size() { stat -c %s "$1"; }
echo "installed libvmem.a $(size "$libdir/libvmem.a") B, libvmem.so $(size "$libdir/libvmem.so.$version") B;" \
  "pids: all static $(size "$tmp/pids-static") B, libvmem static $(size "$tmp/pids-mixed") B," \
  "shared $(size "$tmp/pids-shared") B"

step "make install under DESTDIR (a package's staging area)"
make --no-print-directory install PREFIX=/usr DESTDIR="$tmp/stage" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; exit 1; }
grep -qx 'prefix=/usr' "$tmp/stage/usr/lib/pkgconfig/vmem.pc" ||
  { echo "DESTDIR leaked into vmem.pc" >&2; exit 1; }
# pkg-config's sysroot maps /usr/... to the staging area.
# shellcheck disable=SC2046
PKG_CONFIG_PATH="$tmp/stage/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$tmp/stage" \
  cc -static "${cflags[@]}" -o "$tmp/pids-staged" examples-c/pids.c \
  $(PKG_CONFIG_PATH="$tmp/stage/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$tmp/stage" \
    pkg-config --static --cflags --libs vmem)
"$tmp/pids-staged" >/dev/null
make --no-print-directory uninstall PREFIX=/usr DESTDIR="$tmp/stage" >/dev/null
if [ -n "$(find "$tmp/stage" -type f -o -type l)" ]; then
  echo "make uninstall left files behind:" >&2
  find "$tmp/stage" -type f -o -type l >&2
  exit 1
fi

# ---- 2. Documentation -----------------------------------------------------------
step "rustdoc, warnings as errors"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --quiet
for features in "--no-default-features" "--no-default-features --features alloc"; do
  # shellcheck disable=SC2086
  RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p vmem-core $features --quiet
done

# ---- 3. vmem-core's feature combinations ----------------------------------------
# What `cargo hack test --feature-powerset` would run, without building
# cargo-hack (about 90 s of CPU on a fresh machine): vmem-core's features
# are `std`, `alloc` and `tracing`; `std` implies `alloc`, and `std` with
# `tracing` is the default, which the workspace test run above already
# tested; here run the combinations without `std`. A new feature fails this
# step until it is added to the list.
step "vmem-core: tests under every feature combination"
features="$(awk '/^\[features\]/ { f = 1; next } /^\[/ { f = 0 }
  f && /^[a-z0-9_-]+ *=/ { print $1 }' vmem-core/Cargo.toml | sort | tr '\n' ' ')"
if [ "$features" != "alloc default std tracing " ]; then
  echo "vmem-core's features are now: $features; update the combinations here" >&2
  exit 1
fi
combinations=("--no-default-features" "--no-default-features --features alloc"
  "--no-default-features --features tracing" "--no-default-features --features alloc,tracing")
for c in "${combinations[@]}"; do
  echo "-- cargo test -p vmem-core $c"
  # shellcheck disable=SC2086
  # The doc examples build arenas with `Arena::new` (std); they run in the
  # workspace test above.
  cargo test -p vmem-core $c --lib --tests --quiet
done
step "vmem-core: bare metal (x86_64-unknown-none), every combination without std"
for c in "${combinations[@]}"; do
  # shellcheck disable=SC2086
  cargo build -p vmem-core $c --target x86_64-unknown-none --quiet
done
cargo build -p vmem-core --example no_std_bump --no-default-features \
  --target x86_64-unknown-none --quiet
cargo run -p vmem-core --example no_std_bump --no-default-features --quiet

# ---- 4. Minimum Rust versions ---------------------------------------------------
# The declared versions, read back from the manifests: the libraries inherit
# the workspace's, vmem-cli has its own. Only `build`: the dev-dependencies
# (criterion, insta) need newer toolchains than the crates themselves.
msrv="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)"
cli_msrv="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' vmem-cli/Cargo.toml)"
for v in "$msrv" "$cli_msrv"; do
  step "toolchain $v"
  rustup toolchain install "$v" --profile minimal >/dev/null 2>&1 ||
    rustup toolchain install "$v" --profile minimal
done
step "vmem-core, vmem-slab and vmem-ffi with Rust $msrv"
cargo "+$msrv" build -p vmem-core -p vmem-slab -p vmem-ffi --quiet
cargo "+$msrv" build -p vmem-core --no-default-features --quiet
step "vmem-cli with Rust $cli_msrv"
cargo "+$cli_msrv" build -p vmem-cli --quiet

# ---- 5. Packages ----------------------------------------------------------------
# vmem-core packages on its own. The other crates depend on unpublished path
# crates, which only a workspace-wide run can resolve (cargo packs them
# together and verifies each against the others' packages).
step "cargo package -p vmem-core"
cargo package -p vmem-core --allow-dirty --quiet
step "cargo publish --dry-run --workspace"
cargo publish --dry-run --workspace --allow-dirty --quiet
# The header reaches the package through vmem-ffi/include's links, which
# cargo replaces by the files they point to.
cargo package -p vmem-ffi --list --allow-dirty >"$tmp/ffi-files"
for f in include/vmem.h include/sys/vmem.h libvmem.map LICENSE-MIT LICENSE-APACHE README.md; do
  grep -qx "$f" "$tmp/ffi-files" || { echo "the vmem-ffi package lacks $f" >&2; exit 1; }
done
step "done"
