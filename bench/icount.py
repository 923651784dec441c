#!/usr/bin/env python3
"""Instructions per scrape of proctap binaries on a tree, counted by valgrind's callgrind.

    bench/icount.py TREE SCRAPES BIN... [-- ARGS...]

Each binary is started under `valgrind --tool=callgrind` on TREE (fixtures/ or a
bench/gen_tree.py tree) with bench/ab.py's flags and ARGS, scraped 5 times to warm up; then
the counters are zeroed (`callgrind_control -z`), SCRAPES scrapes are made and the counters
dumped (`callgrind_control -d`). Prints the user-space instructions of every thread per
scrape. Unlike CPU time these do not depend on what else the machine runs: repeated runs agree
to ~0.02%, so a before/after comparison of two builds is not noise (DESIGN.md: "Size"). They
are not time: a cache miss or a syscall counts as what it executes in user space.
Needs valgrind (Debian: `apt-get install valgrind`).
"""
import glob
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ab import scrape  # noqa: E402


def count(binary, tree, extra, scrapes, workdir):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    out = os.path.join(workdir, f"callgrind.{port}")
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary,
            f"--listen=127.0.0.1:{port}", f"--path.procfs={tree}/proc",
            f"--path.sysfs={tree}/sys", f"--path.rootfs={tree}",
            f"--collector.textfile.directory={tree}/textfile",
            "--no-collector.netdev.netlink"] + extra
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                scrape(port)
                break
            except OSError:
                time.sleep(0.1)
        for _ in range(5):
            scrape(port)
        subprocess.run(["callgrind_control", "-z", str(p.pid)], capture_output=True, check=True)
        for _ in range(scrapes):
            scrape(port)
        subprocess.run(["callgrind_control", "-d", str(p.pid)], capture_output=True, check=True)
        # callgrind_control can return before the dump is written out: poll for its totals.
        for _ in range(200):
            for dump in glob.glob(out + ".*"):
                with open(dump) as f:
                    for line in f:
                        if line.startswith(("summary:", "totals:")):
                            return int(line.split()[1]) / scrapes
            time.sleep(0.05)
        raise SystemExit(f"no totals in {out}.*")
    finally:
        p.terminate()
        p.wait()


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        at = args.index("--")
        args, extra = args[:at], args[at + 1:]
    if len(args) < 3:
        raise SystemExit(__doc__)
    tree, scrapes, binaries = args[0], int(args[1]), args[2:]
    with tempfile.TemporaryDirectory() as workdir:
        for binary in binaries:
            n = count(binary, tree, extra, scrapes, workdir)
            print(f"{binary}: {n / 1e6:.4f} M instructions per scrape ({scrapes} scrapes)", flush=True)


if __name__ == "__main__":
    main()
