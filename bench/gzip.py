#!/usr/bin/env python3
"""CPU per scrape of proctap with and without `Accept-Encoding: gzip` (DESIGN.md "gzip").

    bench/gzip.py BINARY TREE [SCRAPES]

Starts BINARY on TREE (a fixture tree: fixtures/, or one bench/gen_tree.py made) on a loopback
port and scrapes it SCRAPES times plain, then SCRAPES times as Prometheus does (gzip), then
plain again, alternating rounds of 10 so both modes see the same machine. CPU is the server's
utime + stime from /proc/PID/stat, so a busy machine adds less to it than to wall time. Prints
the CPU per scrape of each mode and the body sizes.
"""
import os
import socket
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def scrape(port, gzip):
    s = socket.create_connection(("127.0.0.1", port))
    head = "GET /metrics HTTP/1.0\r\n"
    if gzip:
        head += "Accept-Encoding: gzip\r\n"
    s.sendall((head + "\r\n").encode())
    data = bytearray()
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    s.close()
    body = data.split(b"\r\n\r\n", 1)[1]
    assert (body[:2] == b"\x1f\x8b") == gzip, "the encoding asked for"
    return len(body)


def main():
    binary, tree = sys.argv[1], sys.argv[2]
    scrapes = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    args = [binary, f"--listen=127.0.0.1:{port}", f"--path.procfs={tree}/proc",
            f"--path.sysfs={tree}/sys", f"--path.rootfs={tree}",
            f"--collector.textfile.directory={tree}/textfile",
            # The tree's /proc/net/dev, not the live host's interfaces over netlink.
            "--no-collector.netdev.netlink"]
    p = subprocess.Popen(args, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                scrape(port, False)
                break
            except OSError:
                time.sleep(0.05)
        for _ in range(5):
            scrape(port, False)
            scrape(port, True)
        cpu = {False: 0.0, True: 0.0}
        size = {}
        done = 0
        while done < scrapes:
            for gz in (False, True):
                before = cpu_seconds(p.pid)
                for _ in range(10):
                    size[gz] = scrape(port, gz)
                cpu[gz] += cpu_seconds(p.pid) - before
            done += 10
        for gz in (False, True):
            name = "gzip " if gz else "plain"
            print(f"{name}: {cpu[gz] / done * 1e3:7.2f} ms CPU per scrape, {size[gz]:>9} bytes")
        print(f"gzip adds {(cpu[True] - cpu[False]) / done * 1e3:.2f} ms per scrape "
              f"({done} scrapes each, {HZ} Hz ticks)")
    finally:
        p.terminate()
        p.wait()


if __name__ == "__main__":
    main()
