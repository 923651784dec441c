#!/usr/bin/env python3
"""Where a proctap server's resident pages are: `make rss` (DESIGN.md: "Resident memory").

Starts BINARY on fixtures/ (default collectors; extra arguments after the binary are passed on),
scrapes /metrics N times over one keep-alive connection (RSS_SCRAPES, default 10000), then reads
/proc/PID/smaps and prints VmRSS and the resident kilobytes of each mapping: the binary's
segments (text, read-only data, data), heap, stacks (the main thread's and each worker's), and
the rest. With RSS_DETAIL=1 also every resident mapping, naming the threads whose stack pointer
is in it (/proc/PID/task/TID/syscall). Usage: rss.py BINARY [ARGS...]
"""
import os
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")
SCRAPES = int(os.environ.get("RSS_SCRAPES", "10000"))
DETAIL = os.environ.get("RSS_DETAIL") == "1"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_response(sock, buf):
    """Reads one HTTP/1.1 response with Content-Length; returns (body, rest of buf)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise RuntimeError("connection closed in the head")
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if b" 200 " not in status + b" ":
        raise RuntimeError("answer %r" % status)
    length = None
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    if length is None:
        raise RuntimeError("no Content-Length")
    while len(buf) < length:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise RuntimeError("connection closed in the body")
        buf += chunk
    return buf[:length], buf[length:]


def connect(port, proc):
    deadline = time.time() + 30
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                sys.exit("proctap did not start (exit %s)" % proc.poll())
            time.sleep(0.02)


def smaps(pid, exe):
    """Resident KiB per kind of mapping, and VmRSS."""
    kinds = {}
    with open("/proc/%d/smaps" % pid) as f:
        lines = f.read().splitlines()
    name, kind = None, None
    for line in lines:
        fields = line.split()
        if fields and "-" in fields[0] and len(fields) >= 5 and ":" not in fields[0]:
            perms = fields[1]
            path = fields[5] if len(fields) > 5 else ""
            if path and os.path.realpath(path) == os.path.realpath(exe):
                kind = {"r-xp": "binary: text (r-x)", "r--p": "binary: read-only data (r--)",
                        "rw-p": "binary: data, relro (rw-)"}.get(perms, "binary: " + perms)
            elif path == "[heap]":
                kind = "heap (brk)"
            elif path == "[stack]":
                kind = "main thread stack"
            elif path in ("[vdso]", "[vvar]", "[vsyscall]", "[vvar_vclock]"):
                kind = "vdso, vvar"
            elif path:
                kind = "file " + path
            else:
                # musl: threads' stacks and guard pages, and mmap'd malloc chunks (>= 128 KiB
                # with mallocng's brk-less groups) are anonymous.
                kind = "anonymous rw (mmap'd heap, worker stacks)" if "rw" in perms else "anonymous " + perms
            continue
        if line.startswith("Rss:"):
            kinds[kind] = kinds.get(kind, 0) + int(fields[1])
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                vmrss = int(line.split()[1])
    return vmrss, kinds


def detail(pid):
    """Every resident mapping: address, size, permissions, resident and anonymous KiB, file,
    and the threads whose stack pointer is in it."""
    sps = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                sps.append((name, int(f.read().split()[-2], 16)))
        except (OSError, ValueError, IndexError):
            pass
    rows, cur = [], None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            fields = line.split()
            if fields and "-" in fields[0] and len(fields) >= 5 and ":" not in fields[0]:
                lo, hi = (int(x, 16) for x in fields[0].split("-"))
                cur = [lo, hi, fields[1], fields[5] if len(fields) > 5 else "", 0, 0]
                rows.append(cur)
            elif line.startswith("Rss:"):
                cur[4] = int(fields[1])
            elif line.startswith("Anonymous:"):
                cur[5] = int(fields[1])
    for lo, hi, perms, path, rss, anon in rows:
        if rss:
            who = ",".join(n for n, sp in sps if lo <= sp < hi)
            print("    %12x %6d KiB %s  rss %4d anon %4d  %s %s"
                  % (lo, (hi - lo) >> 10, perms, rss, anon, os.path.basename(path), who))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    exe, extra = sys.argv[1], sys.argv[2:]
    port = free_port()
    argv = [exe, "--listen", "127.0.0.1:%d" % port, "--log-level", "warn",
            "--path.procfs=%s/proc" % FIXTURES, "--path.sysfs=%s/sys" % FIXTURES,
            "--path.rootfs=%s" % FIXTURES,
            "--collector.textfile.directory=%s/textfile" % FIXTURES] + extra
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    try:
        sock = connect(port, proc)
        buf = b""
        t0 = time.time()
        rss_1k = None
        for i in range(1, SCRAPES + 1):
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: rss\r\n\r\n")
            body, buf = read_response(sock, buf)
            if i == 1000:
                rss_1k = smaps(proc.pid, exe)[0]
        elapsed = time.time() - t0
        vmrss, kinds = smaps(proc.pid, exe)
        print("%s: %d keep-alive scrapes of %d bytes in %.1f s; VmRSS %d KiB (%s KiB after 1,000)"
              % (os.path.basename(os.path.dirname(os.path.dirname(exe))) + "/" + os.path.basename(exe),
                 SCRAPES, len(body), elapsed, vmrss, rss_1k if rss_1k is not None else "-"))
        for kind, kib in sorted(kinds.items(), key=lambda kv: -kv[1]):
            if kib:
                print("  %6d KiB  %s" % (kib, kind))
        if DETAIL:
            detail(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
