#!/usr/bin/env python3
"""The small-tree row of `make bench` alone, for before/after work on the host collectors.

    bench/small.py [SCRAPES [BIN...]]

node_exporter and each proctap BIN (default: target/release/proctap) serve fixtures/ with
bench.py's collectors and flags; after 5 warm-up scrapes each, SCRAPES rounds (default 300)
scrape every exporter once, in a rotating order, on a new HTTP/1.0 connection (connect to EOF,
as bench.py). Prints each one's median and p99 latency, CPU per 1,000 scrapes, and the ratio of
node_exporter's median to its own. SMALL_LIVE=1: the live /proc and /sys instead (textfile
left out), where proctap keeps its host files open (DESIGN.md, "Kept host files").
"""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    bins = sys.argv[2:] or [bench.PROCTAP]
    live = os.environ.get("SMALL_LIVE") == "1"
    tree = os.path.join(bench.ROOT, "fixtures")
    cols = [c for c in bench.COLLECTORS if not (live and c == "textfile")]
    args = ["--no-collector.netdev.netlink"] if live else bench.tree_args(tree)
    if live:
        bench.COLLECTORS[:] = cols
        bench.tree_args = lambda _tree: []
    exps = [bench.node_exporter(tree, bench.free_port())]
    for i, b in enumerate(bins):
        exps.append(bench.proctap(["--collectors", ",".join(cols)] + args,
                                  bench.free_port(), b, "%d:%s" % (i, b)))
    try:
        for e in exps:
            for _ in range(5):
                bench.scrape(e.port)
        times = {e.name: [] for e in exps}
        cpu0 = {e.name: e.cpu_seconds() for e in exps}
        for i in range(n):
            k = i % len(exps)
            for e in exps[k:] + exps[:k]:
                times[e.name].append(bench.scrape(e.port)[0])
        ne = statistics.median(times[exps[0].name])
        for e in exps:
            ts = sorted(times[e.name])
            med = statistics.median(ts)
            cpu = (e.cpu_seconds() - cpu0[e.name]) * 1000 / n
            print("%-60s median %6.2f ms  p99 %6.2f ms  CPU %6.2f s/1000  1/%.1f of node_exporter"
                  % (e.name, med * 1e3, ts[int(0.99 * (len(ts) - 1))] * 1e3, cpu, ne / med))
        print("(%d rounds, load average %s)" % (n, open("/proc/loadavg").read().split()[:3]))
    finally:
        for e in exps:
            e.stop()


if __name__ == "__main__":
    main()
