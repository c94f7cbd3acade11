# Builds and installs libvmem, the C SDK (docs/packaging.md):
#
#   make install                               # under /usr/local
#   make && sudo make install                  # the same, as root
#   make install PREFIX=$HOME/.local           # any prefix
#   make install PREFIX=/usr DESTDIR=/tmp/pkg  # staged, for a package
#
# What it installs, under $(DESTDIR)$(PREFIX):
#
#   include/vmem.h, include/sys/vmem.h
#   lib/libvmem.a                            (debug info stripped)
#   lib/libvmem.so.$(VERSION)                (SONAME libvmem.so.$(SOMAJOR))
#   lib/libvmem.so.$(SOMAJOR) -> libvmem.so.$(VERSION)
#   lib/libvmem.so -> libvmem.so.$(SOMAJOR)
#   lib/pkgconfig/vmem.pc
#
# Then, with PKG_CONFIG_PATH=<LIBDIR>/pkgconfig for a prefix pkg-config does
# not search by default:
#
#   cc app.c $(pkg-config --cflags --libs vmem)                   shared
#   cc -static app.c $(pkg-config --static --cflags --libs vmem)  static
#
# cargo builds libvmem.a with the `dist` profile (Cargo.toml: LTO, one
# codegen unit); libvmem.so is linked here from it, with the export list and
# symbol version of vmem-ffi/libvmem.map (rustc's own cdylib cannot take a
# version script). LIBDIR, INCLUDEDIR and PKGCONFIGDIR may be set on their
# own (e.g. LIBDIR=$(PREFIX)/lib64). `make uninstall` removes these files.

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

CARGO ?= cargo
PROFILE ?= dist
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
OUT := $(TARGET_DIR)/$(PROFILE)

INSTALL ?= install
STRIP ?= strip
MAP := vmem-ffi/libvmem.map

# The workspace version; the SONAME carries its major number (as does the
# one vmem-ffi's build.rs gives cargo's own libvmem.so).
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))

# What the static library needs from the C library beyond libc (Rust's std
# uses threads, dlsym and libm); listed in vmem.pc as Libs.private.
PRIVATE_LIBS := -lpthread -ldl -lm

.PHONY: all lib install uninstall
all: lib

# Only the static library: the shared one is linked below from it, so the
# LTO pass runs once, not once per crate type.
lib:
	$(CARGO) rustc -p vmem-ffi --lib --profile $(PROFILE) --crate-type staticlib
	$(CC) -shared -o $(OUT)/libvmem.so.$(VERSION) \
	    -Wl,--whole-archive $(OUT)/libvmem.a -Wl,--no-whole-archive \
	    -Wl,-soname,libvmem.so.$(SOMAJOR) -Wl,--version-script=$(MAP) \
	    -Wl,--gc-sections -Wl,-O1 -Wl,--as-needed -Wl,-z,relro,-z,now -Wl,-z,noexecstack \
	    -s $(LDFLAGS) $(PRIVATE_LIBS)

# `make install` builds first whenever cargo is on the PATH. Under sudo it
# usually is not (rustup installs it per user), so `make && sudo make
# install` installs what `make` built instead of failing.
BUILD_FIRST := $(if $(shell command -v $(CARGO) 2>/dev/null),lib)

install: $(BUILD_FIRST)
	@test -f $(OUT)/libvmem.so.$(VERSION) || \
	    { echo "no $(OUT)/libvmem.so.$(VERSION): run make first" >&2; exit 1; }
	$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR)/sys $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 644 include/vmem.h $(DESTDIR)$(INCLUDEDIR)/vmem.h
	$(INSTALL) -m 644 include/sys/vmem.h $(DESTDIR)$(INCLUDEDIR)/sys/vmem.h
	$(INSTALL) -m 644 $(OUT)/libvmem.a $(DESTDIR)$(LIBDIR)/libvmem.a
	$(STRIP) --strip-debug $(DESTDIR)$(LIBDIR)/libvmem.a
	$(INSTALL) -m 755 $(OUT)/libvmem.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libvmem.so.$(VERSION)
	ln -sf libvmem.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libvmem.so.$(SOMAJOR)
	ln -sf libvmem.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libvmem.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@PRIVATE_LIBS@|$(PRIVATE_LIBS)|' \
	    vmem-ffi/vmem.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/vmem.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/vmem.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/vmem.h $(DESTDIR)$(INCLUDEDIR)/sys/vmem.h \
	    $(DESTDIR)$(LIBDIR)/libvmem.a $(DESTDIR)$(LIBDIR)/libvmem.so \
	    $(DESTDIR)$(LIBDIR)/libvmem.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libvmem.so.$(VERSION) \
	    $(DESTDIR)$(PKGCONFIGDIR)/vmem.pc
	-rmdir $(DESTDIR)$(INCLUDEDIR)/sys 2>/dev/null
