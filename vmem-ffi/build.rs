//! The SONAME of `libvmem.so` on ELF systems: `libvmem.so.<major>`, the name
//! a program records at link time and the runtime loader then looks for. It
//! applies to the `cdylib` only.
//!
//! The export list is not set here: rustc hands the linker its own version
//! script for a `cdylib` (every `#[no_mangle]` function, nothing of Rust's),
//! and GNU ld ignores a second one. The shared library that `make install`
//! ships is linked by the top-level Makefile from `libvmem.a` with
//! `libvmem.map`, which also versions the symbols (`VMEM_0`).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let family = std::env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    // Apple's linker spells it -install_name; Windows has no such thing.
    if family != "unix" || os == "macos" || os == "ios" {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libvmem.so.{major}");
}
