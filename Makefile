# proctap — see README.md. `make run` builds and runs on the real /proc; `make test` runs every test.
CARGO   ?= cargo
PREFIX  ?= /usr/local
DESTDIR ?=
ARGS    ?= --listen 127.0.0.1:9100
MUSL    := x86_64-unknown-linux-musl
MUSL_ARM := aarch64-unknown-linux-musl
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests run: promtool (prometheus) and the node_exporter oracle.
DEB_PKGS := prometheus prometheus-node-exporter

.PHONY: all build run test lint static static-aarch64 size install man deps golden clean fuzz fuzz-targets soak

all: build

build:
	$(CARGO) build --release --locked

run: build
	./target/release/proctap $(ARGS)

# Every test, including the ones that need the static builds (ignored by plain `cargo test`).
test: deps static static-aarch64
	$(CARGO) test --locked -- --include-ignored --show-output

lint: deps
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

# Static, stripped musl binaries, linked by rust-lld (.cargo/config.toml): no cross gcc needed.
static: deps
	$(CARGO) build --release --locked --target $(MUSL)
	@ls -l target/$(MUSL)/release/proctap

static-aarch64: deps
	$(CARGO) build --release --locked --target $(MUSL_ARM)
	@ls -l target/$(MUSL_ARM)/release/proctap

# Sizes of the static binaries and the largest symbols (from an unstripped build).
size: static static-aarch64
	@for t in $(MUSL) $(MUSL_ARM); do printf '%-28s %8d bytes\n' $$t $$(stat -c %s target/$$t/release/proctap); done
	@CARGO_PROFILE_RELEASE_STRIP=false $(CARGO) build --release --locked --target $(MUSL) --target-dir target/size -q
	@echo "largest symbols (x86_64, bytes):"
	@nm --size-sort --radix=d -C target/size/$(MUSL)/release/proctap | tail -25 | awk '{printf "%8d  %s\n", $$1, substr($$0, index($$0,$$3))}'

install: build
	install -Dm755 target/release/proctap $(DESTDIR)$(PREFIX)/bin/proctap
	install -Dm644 man/proctap.1 $(DESTDIR)$(PREFIX)/share/man/man1/proctap.1

# Renders the man page the way `man` shows it; fails on any groff warning.
man:
	@mkdir -p target
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l man/proctap.1 > target/proctap.1.txt 2> target/man-warnings.txt
	@if [ -s target/man-warnings.txt ]; then cat target/man-warnings.txt; exit 1; fi
	@echo "rendered man/proctap.1 to target/proctap.1.txt"

# Installs what the tests need, only where it is missing: Debian's promtool and node_exporter,
# the rustup components for fmt/clippy and the musl target for `make static`.
deps:
	@missing=""; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v prometheus-node-exporter >/dev/null || missing="$$missing prometheus-node-exporter"; \
	command -v man >/dev/null || missing="$$missing man-db"; \
	command -v file >/dev/null || missing="$$missing file"; \
	command -v qemu-aarch64-static >/dev/null || missing="$$missing qemu-user-static"; \
	command -v prometheus-process-exporter >/dev/null || missing="$$missing prometheus-process-exporter"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	command -v dpkg-deb >/dev/null || missing="$$missing dpkg"; \
	command -v dash >/dev/null || missing="$$missing dash"; \
	command -v busybox >/dev/null || missing="$$missing busybox"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing$$missing"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
		if [ -d /run/systemd/system ]; then \
			$(SUDO) systemctl disable --now prometheus prometheus-node-exporter prometheus-process-exporter >/dev/null 2>&1 || true; \
		fi; \
	fi
	@if command -v rustup >/dev/null; then \
		rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt; \
		rustup component list --installed | grep -q '^clippy' || rustup component add clippy; \
		rustup target list --installed | grep -qx '$(MUSL)' || rustup target add $(MUSL); \
		rustup target list --installed | grep -qx '$(MUSL_ARM)' || rustup target add $(MUSL_ARM); \
	fi

# Rewrites fixtures/e2e-output.txt from the current code; review the diff before committing.
golden:
	UPDATE_GOLDEN=1 $(CARGO) test --locked --test e2e golden_output

# Each cargo-fuzz target (fuzz/, one per parser in src/parsers.rs) for FUZZ_SECONDS, when
# nightly and cargo-fuzz are there (`cargo install cargo-fuzz`); otherwise the in-tree
# randomized parser test and the corrupted-fixture test with large counts. Not run by CI.
FUZZ_SECONDS ?= 20
fuzz:
	@if cargo +nightly fuzz --version >/dev/null 2>&1; then \
		for t in $$(sed -n 's/^    ("\([a-z0-9_]*\)",.*/\1/p' src/parsers.rs); do \
			echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
			mkdir -p target; \
			(cd fuzz && cargo +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) -max_len=65536) > target/fuzz-$$t.log 2>&1 \
				|| { tail -40 target/fuzz-$$t.log; exit 1; }; \
			grep '^Done' target/fuzz-$$t.log; \
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
