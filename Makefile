# proctap — see README.md. `make run` builds and runs on the real /proc; `make test` runs every test.
CARGO   ?= cargo
PREFIX  ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
# The binary `make install` copies; BIN=$(TARGET_DIR)/x86_64-unknown-linux-musl/release/proctap
# for the static one.
BIN     ?= $(TARGET_DIR)/release/proctap
ARGS    ?= --listen 127.0.0.1:9100
MUSL    := x86_64-unknown-linux-musl
MUSL_ARM := aarch64-unknown-linux-musl
# Router CPUs: ARMv7 (most ARM routers, Raspberry Pi 2/3 in 32-bit), ARMv6 (Raspberry Pi Zero/1,
# older ARM routers), MIPS32 little-endian (MediaTek MT7621) and big-endian (Atheros/QCA ath79).
ARMV7   := armv7-unknown-linux-musleabihf
ARMV6   := arm-unknown-linux-musleabihf
MIPSEL  := mipsel-unknown-linux-musl
MIPS    := mips-unknown-linux-musl
# Linked by zig through cargo-zigbuild (zig brings musl for each); x86_64 links with rust-lld and
# Rust's own musl, as before.
ZIG_TARGETS := $(MUSL_ARM) $(ARMV7) $(ARMV6) $(MIPSEL) $(MIPS)
# The router CPUs' release builds leave out the server collectors (cargo feature `server`: NFS,
# ZFS, XFS, btrfs, NVMe, RAPL, DMI, ...), which no such board has; x86_64 and aarch64 keep them.
# They keep the host and router extras (feature `extras`), which the tiny build leaves out.
ROUTER_TARGETS := $(ARMV7) $(ARMV6) $(MIPSEL) $(MIPS)
FEATURES_router := --no-default-features --features extras
# The static builds rebuild std from source with this nightly (DESIGN.md: "Size"). The one place
# its date is written; `make deps` installs it.
NIGHTLY := nightly-2026-05-20
# `make size-check`: every release binary, and the tiny builds of x86_64 and aarch64.
BUDGET       := 1048576
TINY_BUDGET  := 524288
TINY_TARGETS := $(MUSL) $(MUSL_ARM)
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# cargo's target directory, asked of cargo once, so that CARGO_TARGET_DIR (and build.target-dir)
# is honoured; exported so that bench/ and nested makes use the same one.
TARGET_DIR := $(shell $(CARGO) metadata --format-version 1 --no-deps 2>/dev/null | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
TARGET_DIR := $(or $(TARGET_DIR),$(CURDIR)/target)
export TARGET_DIR
# Debian packages the tests run: promtool and prometheus, the node_exporter oracle.
DEB_PKGS := prometheus prometheus-node-exporter
# Python packages the builds and tests run, in $(VENV): zig and cargo-zigbuild (the linker of the
# aarch64 and router builds), the Kubernetes manifests' schemas.
VENV := $(TARGET_DIR)/venv
PIP_PKGS := ziglang==0.17.1 cargo-zigbuild==0.24.1 kubernetes-validate==1.37.0 cloudcoil-models-prometheus-operator==0.80.1.0

.PHONY: all build run test lint static static-aarch64 static-armv7 static-armv6 static-mipsel static-mips static-all tiny static-tls size size-check size-check-release rss tiny-order install deb image ipk ipk-unknown-arch man deps golden bench clean fuzz fuzz-targets soak FORCE

all: build

build:
	$(CARGO) build --release --locked

run: build
	$(TARGET_DIR)/release/proctap $(ARGS)

# Every test, including the ones that need the static builds (ignored by plain `cargo test`),
# then the unit and HTTPS tests of the optional `tls` feature. size-check-release builds every
# release binary first and holds them to the 1 MiB budget; the tiny builds are tested but not yet
# held to theirs (DESIGN.md: "Size": they are over it).
test: deps size-check-release tiny
	$(CARGO) test --locked -- --include-ignored --show-output
	$(CARGO) test --locked --features tls --bin proctap --test tls

lint: deps
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) clippy --locked --all-targets --features tls -- -D warnings

# The static binaries: nightly $(NIGHTLY) rebuilds std with panic=abort and without the
# backtrace symbolizer (DESIGN.md: "Size"). Two profiles:
# - release (`make static`, `static-aarch64`, the router targets): every default collector (the
#   router targets without the server ones), panics print their message, opt-level "s";
#   position-independent and identical code folded where linked by rust-lld (x86_64).
# - tiny (`make tiny`): without the server collectors and the extras (`--no-default-features`),
#   opt-level "z", panics abort at once without a message, not position-independent, identical
#   code folded.
BUILD_STD := -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size
FEATURES_release :=
FEATURES_tiny    := --no-default-features
# No unwind tables: nothing unwinds with panic=abort (-77 KB of .eh_frame at opt-level "z").
# --cfg proctap_size: the code that runs once (options, config files, --help) compiled for size
# with #[optimize(size)], which opt-level "z" already is in tiny (DESIGN.md: "Size").
# -Zlocation-detail=file: a panic names its source file without line and column, so the
# panic locations of one file are one (-8,160 bytes x86_64); the message is kept.
RUSTFLAGS_release := -Cforce-unwind-tables=no --cfg proctap_size -Zlocation-detail=file
RUSTFLAGS_tiny    := -Cforce-unwind-tables=no -Zunstable-options -Cpanic=immediate-abort -Crelocation-model=static
# The sources of std (rust-src) and of the crates from the registry under short names in panic
# locations: without it each of some 70 panic locations in the release builds holds the full
# path of the toolchain or of ~/.cargo (-4,960 bytes x86_64), and the size depended on $HOME.
REMAP = --remap-path-prefix=$(SYSROOT)/lib/rustlib/src/rust=/rust \
	--remap-path-prefix=$(or $(CARGO_HOME),$(HOME)/.cargo)/registry/src=/cargo
# Linker flags in rust-lld's spelling (x86_64) and zig cc's (which takes neither RELR nor ICF).
LINK_release_lld := -Clink-arg=-zpack-relative-relocs -Clink-arg=--icf=all
# tiny: the functions a scrape runs first in .text (bench/tiny-x86_64.order, `make tiny-order`),
# so that the code run only at start-up stays out of the resident set (DESIGN.md: "Resident
# memory"); names no longer in the binary are skipped.
LINK_tiny_lld    := -Clink-arg=--icf=all -Clink-arg=-znorelro \
	-Clink-arg=--symbol-ordering-file=$(CURDIR)/bench/tiny-x86_64.order -Clink-arg=--no-warn-symbol-ordering
LINK_release_zig :=
LINK_tiny_zig    := -Clink-arg=-Wl,-z,norelro
# zig supplies crt1.o, libc.a and libunwind; rustc's search path for the target's own (absent)
# self-contained objects only draws a warning from zig's linker. zig links a static executable
# (not PIE), so the code need not be position-independent either (MIPS: 8% smaller).
ZIG_RUSTFLAGS := -Clink-self-contained=no -Ctarget-feature=+crt-static -Crelocation-model=static -Alinker-messages
# ARMv7 in Thumb-2, which every ARMv7-A core runs: 23% smaller than ARM code. (ARMv6's Thumb-1
# cannot do what the ARM code does, so armv6 stays ARM.)
RUSTFLAGS_$(ARMV7) := -Ctarget-feature=+thumb-mode
# Flags per target (cargo's CARGO_TARGET_<TRIPLE>_RUSTFLAGS), so that one cargo run can build
# several targets.
target_env = CARGO_TARGET_$(shell echo '$(1)' | tr 'a-z-' 'A-Z_')_RUSTFLAGS
HOST    = $(shell rustc +$(NIGHTLY) -vV | sed -n 's/^host: //p')
# The toolchain's llvm-objcopy; its RUNPATH does not reach the toolchain's libLLVM in a fresh
# `--profile minimal` install, so the library path is given.
SYSROOT = $(shell rustc +$(NIGHTLY) --print sysroot)
OBJCOPY = env LD_LIBRARY_PATH=$(SYSROOT)/lib $(SYSROOT)/lib/rustlib/$(HOST)/bin/rust-objcopy
# cargo leaves the binary unstripped: it is kept as proctap.unstripped (the symbols `make size`
# and the size gate print) and stripped in place, which also drops MIPS's .pdr section. A binary
# cargo did not relink is already stripped and keeps the .unstripped of its build.
strip_bins = for b in $(1); do \
	if readelf -S $$b | grep -q ' \.symtab '; then cp $$b $$b.unstripped && $(OBJCOPY) --strip-all $$b || exit 1; fi; \
	ls -l $$b; done
# $(call build_lld,PROFILE): x86_64.  $(call build_zig,PROFILE,TARGETS[,FEATURES]): one cargo run
# for all of TARGETS, so that their std builds share the cores; FEATURES replaces the profile's.
build_lld = RUSTFLAGS="$(RUSTFLAGS_$(1)) $(REMAP) $(LINK_$(1)_lld)" \
	$(CARGO) +$(NIGHTLY) build --locked --profile $(1) --config 'profile.$(1).strip=false' $(FEATURES_$(1)) \
		--target $(MUSL) $(BUILD_STD) && \
	$(call strip_bins,$(TARGET_DIR)/$(MUSL)/$(1)/proctap)
build_zig = env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS PATH="$(VENV)/bin:$$PATH" \
	$(foreach t,$(2),$(call target_env,$(t))="$(RUSTFLAGS_$(1)) $(REMAP) $(ZIG_RUSTFLAGS) $(LINK_$(1)_zig) $(RUSTFLAGS_$(t))") \
	$(CARGO) +$(NIGHTLY) zigbuild --locked --profile $(1) --config 'profile.$(1).strip=false' $(or $(3),$(FEATURES_$(1))) \
		$(foreach t,$(2),--target $(t)) $(BUILD_STD) && \
	$(call strip_bins,$(foreach t,$(2),$(TARGET_DIR)/$(t)/$(1)/proctap))

static: deps
	$(call build_lld,release)
static-aarch64: deps
	$(call build_zig,release,$(MUSL_ARM))
static-armv7: deps
	$(call build_zig,release,$(ARMV7),$(FEATURES_router))
static-armv6: deps
	$(call build_zig,release,$(ARMV6),$(FEATURES_router))
static-mipsel: deps
	$(call build_zig,release,$(MIPSEL),$(FEATURES_router))
static-mips: deps
	$(call build_zig,release,$(MIPS),$(FEATURES_router))
# Every release binary: x86_64, aarch64, then the router targets in one cargo run.
static-all: static
	$(call build_zig,release,$(MUSL_ARM))
	$(call build_zig,release,$(ROUTER_TARGETS),$(FEATURES_router))

# The size-first build for routers, $(TINY_TARGETS) (any of the targets above):
# $(TARGET_DIR)/TARGET/tiny/proctap.
tiny: deps
	$(if $(filter $(MUSL),$(TINY_TARGETS)),$(call build_lld,tiny))
	$(if $(filter-out $(MUSL),$(TINY_TARGETS)),$(call build_zig,tiny,$(filter-out $(MUSL),$(TINY_TARGETS))))

# With HTTPS and basic auth (DESIGN.md: "TLS and basic auth"), on stable. ring builds C and
# assembly; for the x86_64 musl target the host's gcc does. aarch64 would need a C cross
# compiler, so the aarch64 build stays without the feature.
static-tls: deps
	CC_x86_64_unknown_linux_musl=$${CC_x86_64_unknown_linux_musl:-gcc} \
		$(CARGO) build --release --locked --target $(MUSL) --features tls --target-dir $(TARGET_DIR)/tls
	@ls -l $(TARGET_DIR)/tls/$(MUSL)/release/proctap

RELEASE_BINS = $(foreach t,$(MUSL) $(ZIG_TARGETS),$(TARGET_DIR)/$(t)/release/proctap)
TINY_BINS    = $(foreach t,$(MUSL) $(MUSL_ARM),$(TARGET_DIR)/$(t)/tiny/proctap)
# Fails when a binary is over its budget, printing its size, the budget and its largest symbols.
# size-check-release: the release binaries only (what `make test` holds to today).
size-check: static-all tiny
	python3 bench/size.py check $(BUDGET) $(RELEASE_BINS) -- $(TINY_BUDGET) $(TINY_BINS)
size-check-release: static-all
	python3 bench/size.py check $(BUDGET) $(RELEASE_BINS)

# Each static binary's size, and the bytes of each collector module (symbols under
# proctap::collector::NAME) and of the rest, per binary.
size: static-all tiny
	@python3 bench/size.py report $(RELEASE_BINS) $(TINY_BINS)

# Regenerates bench/tiny-x86_64.order from the x86_64 tiny build under valgrind's callgrind
# (after changes to what a scrape runs; a stale list costs resident pages, not correctness).
tiny-order: tiny
	python3 bench/order.py $(TARGET_DIR)/$(MUSL)/tiny/proctap.unstripped > bench/tiny-x86_64.order

# Resident memory of the tiny and release x86_64 builds after RSS_SCRAPES (default 10,000)
# keep-alive scrapes of fixtures/, with the breakdown from /proc/PID/smaps (DESIGN.md:
# "Resident memory").
rss: static tiny
	python3 bench/rss.py $(TARGET_DIR)/$(MUSL)/tiny/proctap --no-collector.namedprocess
	python3 bench/rss.py $(TARGET_DIR)/$(MUSL)/tiny/proctap
	python3 bench/rss.py $(TARGET_DIR)/$(MUSL)/release/proctap

# The host build; cargo decides whether it is up to date. The static ones come from the rules
# above (`make deb`, `make install BIN=...`).
$(TARGET_DIR)/release/proctap: FORCE
	$(CARGO) build --release --locked
$(TARGET_DIR)/$(MUSL)/release/proctap: static ; @:
$(TARGET_DIR)/$(MUSL_ARM)/release/proctap: static-aarch64 ; @:
# The other targets' binaries come from their own `make static-*` (static-armv7, ...).
$(TARGET_DIR)/%/release/proctap: FORCE
	$(MAKE) --no-print-directory $(or $(call lookup,$*,$(STATIC_TARGETS)),$(error no make target builds $*))
FORCE:

# Binary, man page, systemd unit (ExecStart pointing at the installed binary) and socket unit,
# the capability and socket-activation drop-ins as doc examples, and the example config unless
# one is already there.
install: $(BIN)
	install -Dm755 $(BIN) $(DESTDIR)$(PREFIX)/bin/proctap
	install -Dm644 man/proctap.1 $(DESTDIR)$(PREFIX)/share/man/man1/proctap.1
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/local/bin/proctap|$(PREFIX)/bin/proctap|' -e 's|/etc/proctap.conf|$(SYSCONFDIR)/proctap.conf|' \
		contrib/systemd/proctap.service > $(DESTDIR)$(UNITDIR)/proctap.service
	chmod 644 $(DESTDIR)$(UNITDIR)/proctap.service
	install -m644 contrib/systemd/proctap.socket $(DESTDIR)$(UNITDIR)/proctap.socket
	install -Dm644 contrib/systemd/proctap-process-details.conf \
		$(DESTDIR)$(PREFIX)/share/doc/proctap/examples/proctap-process-details.conf
	sed -e 's|/usr/local/bin/proctap|$(PREFIX)/bin/proctap|' -e 's|/etc/proctap.conf|$(SYSCONFDIR)/proctap.conf|' \
		contrib/systemd/proctap-socket.conf > $(DESTDIR)$(PREFIX)/share/doc/proctap/examples/proctap-socket.conf
	chmod 644 $(DESTDIR)$(PREFIX)/share/doc/proctap/examples/proctap-socket.conf
	install -Dm644 examples/proctap.conf $(DESTDIR)$(PREFIX)/share/doc/proctap/examples/proctap.conf
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/proctap.conf ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/proctap.conf"; \
	else \
		install -Dm644 examples/proctap.conf $(DESTDIR)$(SYSCONFDIR)/proctap.conf; \
	fi

# A Debian package of the static binary (it runs on any release), built with dpkg-deb alone:
# $(TARGET_DIR)/deb/proctap_VERSION_ARCH.deb. DEB_ARCH=arm64 packages the aarch64 build.
# A packager names themselves: make deb DEB_MAINTAINER='Name <mail>' DEB_HOMEPAGE=URL (the
# maintainer defaults to DEBFULLNAME/DEBEMAIL, as for dch; Homepage is left out when empty).
DEB_ARCH ?= amd64
DEB_TARGET = $(if $(filter arm64,$(DEB_ARCH)),$(MUSL_ARM),$(MUSL))
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
REVISION := $(or $(shell git rev-parse HEAD 2>/dev/null),unknown)
DEB_MAINTAINER ?= $(if $(DEBEMAIL),$(or $(DEBFULLNAME),proctap packager) <$(DEBEMAIL)>,proctap packager <packager@proctap.invalid>)
DEB_HOMEPAGE ?=
# The changelog's date is the commit's, so the same checkout gives the same package.
DEB_DATE := $(shell date -R -u -d @$$(git log -1 --format=%ct 2>/dev/null || date +%s))
DEB_ROOT = $(TARGET_DIR)/deb/proctap_$(VERSION)_$(DEB_ARCH)
deb: $(TARGET_DIR)/$(DEB_TARGET)/release/proctap
	rm -rf $(DEB_ROOT)
	$(MAKE) --no-print-directory -o $(TARGET_DIR)/$(DEB_TARGET)/release/proctap install \
		BIN=$(TARGET_DIR)/$(DEB_TARGET)/release/proctap DESTDIR=$(DEB_ROOT) PREFIX=/usr SYSCONFDIR=/etc
	gzip -9n $(DEB_ROOT)/usr/share/man/man1/proctap.1
	install -m644 contrib/debian/copyright $(DEB_ROOT)/usr/share/doc/proctap/copyright
	printf '%s\n' 'proctap ($(VERSION)) unstable; urgency=medium' '' \
		'  * proctap $(VERSION), packaged from revision $(shell printf %.12s $(REVISION)).' '' \
		' -- $(DEB_MAINTAINER)  $(DEB_DATE)' | gzip -9n > $(DEB_ROOT)/usr/share/doc/proctap/changelog.gz
	install -d $(DEB_ROOT)/DEBIAN
	echo /etc/proctap.conf > $(DEB_ROOT)/DEBIAN/conffiles
	printf '%s\n' \
		'Package: proctap' \
		'Version: $(VERSION)' \
		'Architecture: $(DEB_ARCH)' \
		'Maintainer: $(DEB_MAINTAINER)' \
		'Installed-Size: '$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1) \
		'Section: net' \
		'Priority: optional' \
		$(if $(DEB_HOMEPAGE),'Homepage: $(DEB_HOMEPAGE)') \
		'Description: tiny Prometheus exporter for Linux hosts and processes' \
		' proctap reads /proc and /sys and serves host metrics under the names of' \
		' node_exporter and per-process metrics under those of process-exporter,' \
		' from one small static binary.' \
		> $(DEB_ROOT)/DEBIAN/control
	cd $(DEB_ROOT) && find usr -type f | LC_ALL=C sort | xargs md5sum > DEBIAN/md5sums
	install -m755 contrib/debian/postinst contrib/debian/prerm contrib/debian/postrm $(DEB_ROOT)/DEBIAN/
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(TARGET_DIR)/deb/proctap_$(VERSION)_$(DEB_ARCH).deb

# The container image (Containerfile) of the static binary, tagged $(IMAGE), built with the
# first of podman, buildah and docker found (CONTAINER_TOOL= picks one). IMAGE_ARCH=arm64 packs
# the aarch64 build; FROM scratch needs no emulation for that.
IMAGE ?= proctap:$(VERSION)
IMAGE_ARCH ?= amd64
IMAGE_TARGET = $(if $(filter arm64,$(IMAGE_ARCH)),$(MUSL_ARM),$(MUSL))
CONTAINER_TOOL ?= $(firstword $(foreach t,podman buildah docker,$(shell command -v $(t))))
image: $(TARGET_DIR)/$(IMAGE_TARGET)/release/proctap
	@[ -n "$(CONTAINER_TOOL)" ] || { echo "make image: no podman, buildah or docker (make deps installs podman)"; exit 1; }
	rm -rf $(TARGET_DIR)/image-$(IMAGE_ARCH)
	install -Dm755 $< $(TARGET_DIR)/image-$(IMAGE_ARCH)/rootfs/bin/proctap
	install -Dm644 LICENSE $(TARGET_DIR)/image-$(IMAGE_ARCH)/rootfs/usr/share/doc/proctap/LICENSE
	$(CONTAINER_TOOL) build --platform linux/$(IMAGE_ARCH) -f Containerfile \
		--build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
		-t $(IMAGE) $(TARGET_DIR)/image-$(IMAGE_ARCH)

# An OpenWrt package of the static binary, packed by hand as opkg reads it (an ar archive of
# debian-binary, control.tar.gz and data.tar.gz), with the feed package's files
# (contrib/openwrt/proctap): $(TARGET_DIR)/ipk/proctap_VERSION-1_ARCH.ipk. ARCH is OpenWrt's
# package architecture (`opkg print-architecture` on the router); each maps to the Rust target
# whose static binary it gets, built by that target's `make static*`.
ARCH ?= x86_64
IPK_ARCHES := aarch64_generic=aarch64-unknown-linux-musl aarch64_cortex-a53=aarch64-unknown-linux-musl \
	aarch64_cortex-a72=aarch64-unknown-linux-musl arm_cortex-a7_neon-vfpv4=armv7-unknown-linux-musleabihf \
	arm_cortex-a9_vfpv3-d16=armv7-unknown-linux-musleabihf arm_arm1176jzf-s_vfp=arm-unknown-linux-musleabihf \
	mipsel_24kc=mipsel-unknown-linux-musl mips_24kc=mips-unknown-linux-musl x86_64=x86_64-unknown-linux-musl
STATIC_TARGETS := x86_64-unknown-linux-musl=static aarch64-unknown-linux-musl=static-aarch64 \
	armv7-unknown-linux-musleabihf=static-armv7 arm-unknown-linux-musleabihf=static-armv6 \
	mipsel-unknown-linux-musl=static-mipsel mips-unknown-linux-musl=static-mips
lookup = $(patsubst $(1)=%,%,$(filter $(1)=%,$(2)))
IPK_TRIPLE = $(call lookup,$(ARCH),$(IPK_ARCHES))
IPK_RELEASE := 1
IPK_DIR = $(TARGET_DIR)/ipk/$(ARCH)
IPK = $(TARGET_DIR)/ipk/proctap_$(VERSION)-$(IPK_RELEASE)_$(ARCH).ipk
IPK_TAR = tar --owner=0 --group=0 --numeric-owner --sort=name --mtime=@$$(git log -1 --format=%ct 2>/dev/null || date +%s)
ipk: $(if $(IPK_TRIPLE),$(TARGET_DIR)/$(IPK_TRIPLE)/release/proctap,ipk-unknown-arch)
	rm -rf $(IPK_DIR)
	install -Dm755 $< $(IPK_DIR)/data/usr/bin/proctap
	install -Dm755 contrib/openwrt/proctap/files/proctap.init $(IPK_DIR)/data/etc/init.d/proctap
	install -Dm600 contrib/openwrt/proctap/files/proctap.config $(IPK_DIR)/data/etc/config/proctap
	install -d $(IPK_DIR)/control
	echo /etc/config/proctap > $(IPK_DIR)/control/conffiles
	# As the buildroot's default scripts: enable and start the service, stop and disable it.
	printf '%s\n' '#!/bin/sh' '[ "$${IPKG_NO_SCRIPT}" = 1 ] && exit 0' \
		'[ -s "$${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0' '. "$${IPKG_INSTROOT}/lib/functions.sh"' \
		'default_postinst "$$0" "$$@"' > $(IPK_DIR)/control/postinst
	printf '%s\n' '#!/bin/sh' '[ -s "$${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0' \
		'. "$${IPKG_INSTROOT}/lib/functions.sh"' 'default_prerm "$$0" "$$@"' > $(IPK_DIR)/control/prerm
	chmod 755 $(IPK_DIR)/control/postinst $(IPK_DIR)/control/prerm
	cd $(IPK_DIR)/data && $(IPK_TAR) -cf - . | gzip -9n > ../data.tar.gz
	printf '%s\n' \
		'Package: proctap' \
		'Version: $(VERSION)-$(IPK_RELEASE)' \
		'Source: contrib/openwrt/proctap' \
		'SourceName: proctap' \
		'License: Apache-2.0' \
		'LicenseFiles: LICENSE' \
		'Section: utils' \
		'Maintainer: $(DEB_MAINTAINER)' \
		'Architecture: $(ARCH)' \
		'Installed-Size: '$$(gzip -dc $(IPK_DIR)/data.tar.gz | wc -c) \
		'Description: Tiny Prometheus exporter for host and process metrics (static build)' \
		> $(IPK_DIR)/control/control
	cd $(IPK_DIR)/control && $(IPK_TAR) -cf - . | gzip -9n > ../control.tar.gz
	echo 2.0 > $(IPK_DIR)/debian-binary
	rm -f $(IPK)
	cd $(IPK_DIR) && ar rc $(IPK) debian-binary control.tar.gz data.tar.gz
	@ls -l $(IPK)

ipk-unknown-arch:
	@echo "make ipk: unknown ARCH=$(ARCH); known: $(foreach a,$(IPK_ARCHES),$(firstword $(subst =, ,$(a))))"; exit 2

# Renders the man page the way `man` shows it; fails on any groff warning.
man:
	@mkdir -p $(TARGET_DIR)
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l man/proctap.1 > $(TARGET_DIR)/proctap.1.txt 2> $(TARGET_DIR)/man-warnings.txt
	@if [ -s $(TARGET_DIR)/man-warnings.txt ]; then cat $(TARGET_DIR)/man-warnings.txt; exit 1; fi
	@echo "rendered man/proctap.1 to $(TARGET_DIR)/proctap.1.txt"

# Installs what the tests need, only where it is missing: Debian's promtool and node_exporter,
# podman, lintian and the rest below (mkfs.btrfs and mkfs.xfs for tests/filesystems.rs, qemu for
# the cross builds' tests, gzip to decompress gzip bodies, unshare and ip for a private network
# namespace for the listen tests, tc for the qdisc test, fuse3 and python3-fusepy for
# tests/never_stuck's FUSE file system whose reads never return), the Python packages of PIP_PKGS
# in a virtualenv of the project's own, the rustup components for fmt/clippy, the musl targets,
# and the pinned nightly with rust-src for the static builds.
deps:
	@missing=""; \
	{ command -v promtool && command -v prometheus; } >/dev/null || missing="$$missing prometheus"; \
	command -v prometheus-node-exporter >/dev/null || missing="$$missing prometheus-node-exporter"; \
	command -v man >/dev/null || missing="$$missing man-db"; \
	command -v file >/dev/null || missing="$$missing file"; \
	for q in aarch64 arm mipsel mips; do command -v qemu-$$q-static >/dev/null || { missing="$$missing qemu-user-static"; break; }; done; \
	command -v readelf >/dev/null || missing="$$missing binutils"; \
	python3 -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	command -v prometheus-process-exporter >/dev/null || missing="$$missing prometheus-process-exporter"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	command -v dpkg-deb >/dev/null || missing="$$missing dpkg"; \
	command -v dash >/dev/null || missing="$$missing dash"; \
	command -v busybox >/dev/null || missing="$$missing busybox"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v python3 >/dev/null || missing="$$missing python3"; \
	command -v lintian >/dev/null || missing="$$missing lintian"; \
	command -v podman >/dev/null || missing="$$missing podman"; \
	command -v runc >/dev/null || missing="$$missing runc"; \
	command -v ar >/dev/null || missing="$$missing binutils"; \
	command -v tc >/dev/null || missing="$$missing iproute2"; \
	command -v mkfs.btrfs >/dev/null || missing="$$missing btrfs-progs"; \
	command -v mkfs.xfs >/dev/null || missing="$$missing xfsprogs"; \
	command -v gzip >/dev/null || missing="$$missing gzip"; \
	command -v unshare >/dev/null || missing="$$missing util-linux"; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	command -v fusermount3 >/dev/null || missing="$$missing fuse3"; \
	/usr/bin/python3 -c 'import fusepy' 2>/dev/null || missing="$$missing python3-fusepy"; \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing$$missing"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
		if [ -d /run/systemd/system ]; then \
			$(SUDO) systemctl disable --now prometheus prometheus-node-exporter prometheus-process-exporter >/dev/null 2>&1 || true; \
		fi; \
	fi
	@if [ "$$(cat $(VENV)/pip-pkgs 2>/dev/null)" != "$(PIP_PKGS)" ]; then \
		echo "make deps: installing $(PIP_PKGS) into $(VENV)"; \
		python3 -m venv $(VENV) && \
		$(VENV)/bin/pip install -q --disable-pip-version-check $(PIP_PKGS) && \
		echo "$(PIP_PKGS)" > $(VENV)/pip-pkgs; \
	fi
	@if command -v rustup >/dev/null; then \
		rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt; \
		rustup component list --installed | grep -q '^clippy' || rustup component add clippy; \
		rustup target list --installed | grep -qx '$(MUSL)' || rustup target add $(MUSL); \
		rustup run $(NIGHTLY) rustc --version >/dev/null 2>&1 || \
			rustup toolchain install $(NIGHTLY) --profile minimal --component rust-src --target $(MUSL) || exit 1; \
		rustup component list --installed --toolchain $(NIGHTLY) | grep -q '^rust-src' || \
			rustup component add rust-src --toolchain $(NIGHTLY) || exit 1; \
		rustup target list --installed --toolchain $(NIGHTLY) | grep -qx '$(MUSL)' || \
			rustup target add $(MUSL) --toolchain $(NIGHTLY) || exit 1; \
	fi

# Rewrites fixtures/e2e-output.txt from the current code; review the diff before committing.
golden:
	UPDATE_GOLDEN=1 $(CARGO) test --locked --test e2e golden_output

# proctap vs node_exporter and process-exporter on fixtures/, a generated large tree and 2,000
# live sleepers; writes BENCHMARKS.md. BENCH_SCRAPES=N scales the counts (default 1000).
bench: static
	$(MAKE) --no-print-directory tiny TINY_TARGETS=$(MUSL)
	bench/run.sh

# Each cargo-fuzz target (fuzz/, one per parser in src/parsers.rs) for FUZZ_SECONDS, when
# nightly and cargo-fuzz are there (`cargo install cargo-fuzz`); otherwise the in-tree
# randomized parser test and the corrupted-fixture test with large counts. Not run by CI.
FUZZ_SECONDS ?= 20
fuzz:
	@if cargo +nightly fuzz --version >/dev/null 2>&1; then \
		for t in $$(sed -n 's/^    ("\([a-z0-9_]*\)",.*/\1/p' src/parsers.rs); do \
			echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
			mkdir -p $(TARGET_DIR); \
			(cd fuzz && cargo +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) -max_len=65536) > $(TARGET_DIR)/fuzz-$$t.log 2>&1 \
				|| { tail -40 $(TARGET_DIR)/fuzz-$$t.log; exit 1; }; \
			grep '^Done' $(TARGET_DIR)/fuzz-$$t.log; \
		done; \
	else \
		echo "cargo-fuzz or nightly missing: randomized in-tree tests with large counts instead"; \
		PROCTAP_FUZZ_ITERS=200000 PROCTAP_CORRUPT_VARIANTS=20000 $(CARGO) test --locked --bin proctap -- parsers:: corrupt:: --show-output; \
	fi

# Rewrites fuzz/fuzz_targets/*.rs and their [[bin]] entries from the table in src/parsers.rs.
fuzz-targets:
	./fuzz/gen-targets.sh

# 100,000 keep-alive scrapes of a release build on the fixtures over loopback: RSS after 1,000
# and after 100,000 (must differ by < 64 KiB) and the open fd count (must stay the same).
SOAK_SCRAPES ?= 100000
soak:
	PROCTAP_SOAK_SCRAPES=$(SOAK_SCRAPES) $(CARGO) test --locked --release --test soak -- --nocapture

clean:
	$(CARGO) clean
