#!/usr/bin/env bash
# `make bench`: proctap against node_exporter and process-exporter on loopback; writes
# BENCHMARKS.md. BENCH_SCRAPES (default 1000) scales every count; see bench/bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."

for cmd in python3 strace cat tar sha256sum prometheus-node-exporter prometheus-process-exporter; do
    command -v "$cmd" >/dev/null || { echo "bench: $cmd not found (make deps installs the exporters)" >&2; exit 1; }
done

# cargo's target directory (CARGO_TARGET_DIR honoured); `make bench` passes it down.
TARGET_DIR=${TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}
export TARGET_DIR
cargo build --release --locked
# `make bench` has built the static release and tiny binaries (what users deploy); bench.py
# measures them beside the host build when they are there.
tree=${BENCH_TREE:-$TARGET_DIR/bench-tree}
# The tree is a function of the generator and fixtures/ only: regenerate when either changed.
stamp=$( (cat bench/gen_tree.py; tar -C fixtures --sort=name --mtime=@0 --owner=0 --group=0 -cf - .) | sha256sum | cut -c1-16)
if [ "$(cat "$tree/.stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "$(date +%T) == generating $tree" >&2
    python3 bench/gen_tree.py "$tree"
    echo "$stamp" > "$tree/.stamp"
fi
export BENCH_TREE="$(cd "$tree" && pwd)"
export BENCH_COMMAND=${BENCH_COMMAND:-"make bench${BENCH_SCRAPES:+ BENCH_SCRAPES=$BENCH_SCRAPES}"}
exec python3 bench/bench.py
