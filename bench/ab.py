#!/usr/bin/env python3
"""CPU per scrape of two proctap binaries on the same tree, in interleaved rounds.

    bench/ab.py BIN_A BIN_B TREE [SCRAPES [ROUNDS]] [-- ARGS...]

Each round starts BIN_A, then BIN_B, on TREE (fixtures/ or a bench/gen_tree.py tree) on a
loopback port, scrapes it 20 times to warm up and SCRAPES times (default 400) measured, and stops
it; ROUNDS (default 4) rounds alternate the two so both see the same machine. ARGS go to both
(e.g. `--no-collector.hwmon`). CPU is the server's utime + stime from /proc/PID/stat (every
thread). Prints each binary's CPU per scrape per round and the median. The netdev collector reads
the tree's /proc/net/dev (`--no-collector.netdev.netlink`), not the live host's interfaces.
Used for the before/after figures of DESIGN.md ("Never stuck").
"""
import os
import socket
import statistics
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def scrape(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    got = 0
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        got += len(chunk)
    s.close()
    return got


def run(binary, tree, extra, scrapes):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    argv = [binary, f"--listen=127.0.0.1:{port}", f"--path.procfs={tree}/proc",
            f"--path.sysfs={tree}/sys", f"--path.rootfs={tree}",
            f"--collector.textfile.directory={tree}/textfile",
            "--no-collector.netdev.netlink"] + extra
    p = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                scrape(port)
                break
            except OSError:
                time.sleep(0.05)
        for _ in range(20):
            scrape(port)
        before = cpu_seconds(p.pid)
        for _ in range(scrapes):
            scrape(port)
        return (cpu_seconds(p.pid) - before) / scrapes * 1e3
    finally:
        p.terminate()
        p.wait()


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        at = args.index("--")
        args, extra = args[:at], args[at + 1:]
    a, b, tree = args[0], args[1], args[2]
    scrapes = int(args[3]) if len(args) > 3 else 400
    rounds = int(args[4]) if len(args) > 4 else 4
    got = {a: [], b: []}
    for _ in range(rounds):
        for binary in (a, b):
            got[binary].append(run(binary, tree, extra, scrapes))
    for binary in (a, b):
        ms = " ".join(f"{x:.2f}" for x in got[binary])
        print(f"{binary}: {ms} ms CPU per scrape; median {statistics.median(got[binary]):.2f}")
    print(f"({scrapes} scrapes per round, {rounds} rounds, {HZ} Hz ticks)")


if __name__ == "__main__":
    main()
