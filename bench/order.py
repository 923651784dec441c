#!/usr/bin/env python3
"""The functions a steady-state scrape runs, for the linker to put first: `make tiny-order`
(DESIGN.md: "Resident memory").

Runs BINARY (an unstripped build: its symbol table names the functions) under valgrind's
callgrind on fixtures/ with the default collectors, scrapes /metrics 3 times with the
instrumentation off (start-up and the first scrapes' one-time work), then 5 times with it on,
and prints the mangled name of every function that ran, sorted: lld's --symbol-ordering-file
then places them at the start of .text, so that the code a scrape needs is a few contiguous
pages and the rest (options, --help, the config file) stays out of the resident set once it is
given back after start-up (server::page_out_code). Usage: order.py BINARY > FILE
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rss  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    exe = sys.argv[1]
    out = os.path.join(tempfile.mkdtemp(prefix="proctap-order-"), "callgrind.out")
    port = rss.free_port()
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, "--instr-atstart=no",
            "--demangle=no", exe, "--listen", "127.0.0.1:%d" % port, "--log-level", "warn",
            "--path.procfs=%s/proc" % rss.FIXTURES, "--path.sysfs=%s/sys" % rss.FIXTURES,
            "--path.rootfs=%s" % rss.FIXTURES,
            "--collector.textfile.directory=%s/textfile" % rss.FIXTURES]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sock, buf = rss.connect(port, proc), b""
        for i in range(8):
            if i == 3:
                subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True,
                               capture_output=True)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: order\r\n\r\n")
            _, buf = rss.read_response(sock, buf)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
    finally:
        proc.terminate()
        proc.wait(30)
    # callgrind names a function once, at its first fn= or cfn= line: "fn=(12) name".
    names, ran = {}, set()
    for dump in sorted(f for f in os.listdir(os.path.dirname(out)) if f.startswith("callgrind.out.")):
        with open(os.path.join(os.path.dirname(out), dump)) as f:
            for line in f:
                m = re.match(r"c?fn=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
                if m:
                    if m.group(2):
                        names[m.group(1)] = m.group(2)
                    ran.add(m.group(1))
    # Functions without a size (musl's assembly memcpy, memmove, memset) come as addresses: name
    # them from the symbol table.
    at = {}
    for line in subprocess.run(["nm", exe], check=True, capture_output=True, text=True).stdout.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] in "tT":
            at.setdefault(int(fields[0], 16), []).append(fields[2])
    syms = set()
    for i in ran:
        name = names.get(i, "")
        if name.startswith("0x"):
            syms.update(at.get(int(name, 16), []))
        elif name:
            syms.add(name)
    syms = sorted(syms)
    if len(syms) < 100:
        sys.exit("only %d functions ran: is %s unstripped?" % (len(syms), exe))
    sys.stdout.write("".join(s + "\n" for s in syms))


if __name__ == "__main__":
    main()
