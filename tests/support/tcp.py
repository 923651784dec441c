#!/usr/bin/env python3
"""Live checks of namedprocess's per-process TCP bytes, run by tests/tcp_traffic.rs.

    tcp.py PROCTAP    a child named pt-tcp sends and receives 4 MiB each way with us over
                      127.0.0.1, closes the socket, then 1 MiB each way on a new one; proctap
                      (--proc-name pt-tcp) scraped after each step
    tcp.py PROCTAP --as-nobody   the same child, proctap run as uid 65534 (we are root)

Prints "ok ..." lines and exits 0, or prints what differed and exits 1.
"""
import os
import socket
import subprocess
import sys
import threading
import time

MIB = 1 << 20
# bytes_acked counts the SYN and, once closed, the FIN: one byte each per socket.
OVERHEAD = 2
started = []

CHILD = r"""
import ctypes, socket, sys, threading
ctypes.CDLL(None).prctl(15, b"pt-tcp", 0, 0, 0)  # PR_SET_NAME
port = int(sys.argv[1])
print("ready", flush=True)
s = None
for line in sys.stdin:
    cmd, n = line.split()
    n = int(n)
    if cmd == "conn":
        s = socket.create_connection(("127.0.0.1", port))
        t = threading.Thread(target=s.sendall, args=(b"c" * n,))
        t.start()
        got = 0
        while got < n:
            got += len(s.recv(1 << 16))
        t.join()
        print("done", flush=True)
    elif cmd == "close":
        s.close()
        print("closed", flush=True)
"""


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def scrape(port):
    deadline = time.time() + 20
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=20)
            break
        except OSError:
            if time.time() > deadline:
                fail("proctap does not answer on %d" % port)
            time.sleep(0.02)
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    chunks = []
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        chunks.append(b)
    s.close()
    return b"".join(chunks).partition(b"\r\n\r\n")[2].decode()


def value(out, prefix):
    for line in out.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


def traffic(out, pid):
    sel = 'proctap_process_network_%s_bytes_total{pid="%d",'
    return value(out, sel % ("receive", pid)), value(out, sel % ("transmit", pid))


class Peer:
    """Our end: accepts the child's connections and exchanges n bytes each way."""

    def __init__(self):
        self.lst = socket.socket()
        self.lst.bind(("127.0.0.1", 0))
        self.lst.listen(4)
        self.port = self.lst.getsockname()[1]

    def exchange(self, child, n):
        child.stdin.write("conn %d\n" % n)
        child.stdin.flush()
        c, _ = self.lst.accept()
        t = threading.Thread(target=c.sendall, args=(b"p" * n,))
        t.start()
        got = 0
        while got < n:
            got += len(c.recv(1 << 16))
        t.join()
        if child.stdout.readline().strip() != "done":
            fail("the child did not finish its exchange")
        return c


def start_child(peer):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(peer.port)], text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    started.append(child)
    if child.stdout.readline().strip() != "ready":
        fail("the child did not start")
    return child


def proctap(binary, prefix=()):
    port = free_port()
    p = subprocess.Popen(list(prefix) + [binary, "--collectors", "namedprocess", "--listen",
                                         "127.0.0.1:%d" % port, "--log-level", "warn",
                                         "--proc-name", "pt-tcp"])
    started.append(p)
    return port


def until(port, pid, want):
    """Scrapes until both totals reach `want` (the peer's last ACK may be delayed), then
    checks they are within the overhead."""
    deadline = time.time() + 10
    while True:
        out = scrape(port)
        rx, tx = traffic(out, pid)
        if rx is not None and tx is not None and rx >= want and tx >= want:
            break
        if time.time() > deadline:
            fail("receive %s, transmit %s, expected %d each:\n%s" % (rx, tx, want, out))
    if rx > want + OVERHEAD or tx > want + OVERHEAD:
        fail("receive %d, transmit %d: more than %d + %d" % (rx, tx, want, OVERHEAD))
    return rx, tx


def counted(binary):
    peer = Peer()
    child = start_child(peer)
    port = proctap(binary)
    out = scrape(port)
    if traffic(out, child.pid) != (0, 0):
        fail("before any connection: %s\n%s" % (traffic(out, child.pid), out))
    c = peer.exchange(child, 4 * MIB)
    rx, tx = until(port, child.pid, 4 * MIB)
    print("ok 4 MiB each way: receive %d, transmit %d" % (rx, tx))
    child.stdin.write("close 0\n")
    child.stdin.flush()
    if child.stdout.readline().strip() != "closed":
        fail("the child did not close")
    c.close()
    out = scrape(port)
    rx2, tx2 = traffic(out, child.pid)
    if rx2 < rx or tx2 < tx or rx2 > 4 * MIB + OVERHEAD or tx2 > 4 * MIB + OVERHEAD:
        fail("after the socket closed: receive %s, transmit %s" % (rx2, tx2))
    print("ok closed socket kept: receive %d, transmit %d" % (rx2, tx2))
    c = peer.exchange(child, MIB)
    rx3, tx3 = until(port, child.pid, 5 * MIB)
    print("ok another 1 MiB on a new socket: receive %d, transmit %d" % (rx3, tx3))


def as_nobody(binary):
    peer = Peer()
    child = start_child(peer)
    port = proctap(binary, prefix=["setpriv", "--reuid=65534", "--regid=65534",
                                   "--clear-groups"])
    peer.exchange(child, MIB)
    out = scrape(port)
    if 'proctap_process_start_time_seconds{pid="%d",' % child.pid not in out:
        fail("pt-tcp not selected:\n" + out)
    if traffic(out, child.pid) != (None, None):
        fail("bytes of another user's process: %s" % (traffic(out, child.pid),))
    errors = value(out, 'proctap_process_read_errors_total{file="fd"}')
    ok = value(out, 'node_scrape_collector_success{collector="namedprocess"}')
    if not errors or ok != 1:
        fail("fd read errors %s, success %s:\n%s" % (errors, ok, out))
    print("ok another user's process: no bytes, %d fd read errors, scrape succeeded" % errors)


def main():
    try:
        if sys.argv[2:] == ["--as-nobody"]:
            as_nobody(sys.argv[1])
        else:
            counted(sys.argv[1])
    finally:
        for p in started:
            p.kill()
            p.wait()


main()
