#!/usr/bin/env python3
"""Per-process cost at scale: proctap (kept descriptors), proctap with nothing kept, the
kept-descriptor floor, the open/read/close floor and process-exporter, interleaved.

    bench/procs.py [PROCTAP]      (default $TARGET_DIR/release/proctap)

Environment: PROCS_COUNTS (sleeper counts, default "2000,10000"), PROCS_ROUNDS (rounds per
case, default 5), PROCS_THREADS ("P,T": P processes of T threads for the many-threads case,
default "20,100"; "" skips it), PROCS_BASELINE (another proctap binary, e.g. main's build: run
with `--proc-kept-files 20000` as one more contestant, so a change is measured before and after
in the same interleaved rounds). Not part of `make test` or `make bench`: it starts 10,000
processes.

Each round takes one collection from every contestant, in a rotating order, and charges each
the CPU time its threads spent on it (the sum of /proc/<pid>/task/*/schedstat's run time, in
ns), so that other work on a shared machine inflates the figures less than wall time would.
Per-process cost is that CPU time over the number of PIDs in /proc at that round. The floor is
bench/kept_floor.c (built with cc), reading the files proctap reads on every scrape for every
process (stat, status, io, wchan, and an fstat of fd/), with no parsing and no output.
"""
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_DIR = os.environ.get("TARGET_DIR") or os.path.join(ROOT, "target")
PROCTAP = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TARGET_DIR, "release", "proctap")
PROCESS_EXPORTER = shutil.which("prometheus-process-exporter") or "/usr/bin/prometheus-process-exporter"
COUNTS = [int(c) for c in os.environ.get("PROCS_COUNTS", "2000,10000").split(",") if c]
ROUNDS = int(os.environ.get("PROCS_ROUNDS", "5"))
THREADS = os.environ.get("PROCS_THREADS", "20,100")
BASELINE = os.environ.get("PROCS_BASELINE", "")
FILES = "stat,status,io,wchan,fd"
TMP = tempfile.mkdtemp(prefix="proctap-procs-")
started = []

WORKER = r'''
import sys, threading, time
ev = threading.Event()
for i in range(int(sys.argv[1]) - 1):
    threading.Thread(target=ev.wait, daemon=True).start()
print("ready", flush=True)
time.sleep(3600)
'''


def cpu_ns(pid):
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    n = 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        n += len(b)
    s.close()
    return n


class Server:
    def __init__(self, name, argv, prefix=()):
        self.name, self.port = name, free_port()
        argv = [a.replace("PORT", str(self.port)) for a in argv]
        self.proc = subprocess.Popen(list(prefix) + argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        started.append(self.proc)
        deadline = time.time() + 60
        while True:
            try:
                get(self.port)
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    sys.exit("%s did not start" % name)
                time.sleep(0.05)
        get(self.port)

    def once(self):
        c0 = cpu_ns(self.proc.pid)
        get(self.port)
        return cpu_ns(self.proc.pid) - c0

    def rss(self):
        return rss_kib(self.proc.pid)


class Floor:
    def __init__(self, name, mode, exe):
        self.name = name
        self.proc = subprocess.Popen([exe, mode, FILES], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        started.append(self.proc)
        self.ready = self.proc.stdout.readline().split()
        self.once()

    def once(self):
        c0 = cpu_ns(self.proc.pid)
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()
        return cpu_ns(self.proc.pid) - c0

    def rss(self):
        return rss_kib(self.proc.pid)


def pids_now():
    return sum(1 for d in os.listdir("/proc") if d.isdigit())


def sleepers(n):
    exe = os.path.join(TMP, "benchsleep")
    if not os.path.exists(exe):
        os.symlink(shutil.which("sleep"), exe)
    out = []
    for _ in range(n):
        out.append(subprocess.Popen([exe, "3600"], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    started.extend(out)
    return out


def threaded(p, t):
    out = []
    for _ in range(p):
        w = subprocess.Popen([sys.executable, "-c", WORKER, str(t)], stdout=subprocess.PIPE, text=True)
        started.append(w)
        out.append(w)
    for w in out:
        w.stdout.readline()
    return out


def contestants(floor_exe, threads):
    cfg = os.path.join(TMP, "pe.yml")
    with open(cfg, "w") as f:
        f.write('process_names:\n  - name: "{{.Comm}}"\n    cmdline:\n    - \'.+\'\n')
    pt = [PROCTAP, "--collectors", "namedprocess", "--top-n", "5", "--listen", "127.0.0.1:PORT",
          "--log-level", "warn"] + (["--proc-threads"] if threads else [])
    base = [Server("baseline %s --proc-kept-files 20000" % os.path.basename(BASELINE),
                   [BASELINE] + pt[1:] + ["--proc-kept-files", "20000"])] if BASELINE else []
    return base + [
        Server("proctap --proc-kept-files 20000", pt + ["--proc-kept-files", "20000"]),
        Server("proctap (default: 1024 kept)", pt),
        # 64 files leave no room to keep any either (40 waiting requests, a listener, 32 others).
        Server("proctap, nothing kept", pt + ["--proc-kept-files", "0"], prefix=["prlimit", "--nofile=64:64"]),
        Floor("floor: kept preads", "kept", floor_exe),
        Floor("floor: open/read/close", "open", floor_exe),
        Server("process-exporter", [PROCESS_EXPORTER, "-web.listen-address", "127.0.0.1:PORT",
                                    "-config.path", cfg, "-threads=%s" % str(threads).lower(),
                                    "-gather-smaps=false"]),
    ]


def case(label, floor_exe, threads=False):
    cs = contestants(floor_exe, threads)
    cost = {c.name: [] for c in cs}
    npids = []
    for r in range(ROUNDS):
        n = pids_now()
        npids.append(n)
        order = cs[r % len(cs):] + cs[:r % len(cs)]
        for c in order:
            cost[c.name].append(c.once() / n)
    n = statistics.median(npids)
    print("\n### %s (%d PIDs in /proc, %d rounds)\n" % (label, n, ROUNDS))
    print("| | CPU per process, median (µs) | min | per scrape (ms) | RSS (KiB) | vs kept floor |")
    print("|---|---:|---:|---:|---:|---:|")
    floor = statistics.median(cost["floor: kept preads"])
    for c in cs:
        m = statistics.median(cost[c.name])
        print("| %s | %.2f | %.2f | %.1f | %d | %.2f× |" % (
            c.name, m / 1e3, min(cost[c.name]) / 1e3, m * n / 1e6, c.rss(), m / floor))
    kept = [c for c in cs if isinstance(c, Floor)][0].ready
    print("\nThe kept floor held %s descriptors for %s PIDs." % (kept[2], kept[1]))
    for c in cs:
        c.proc.kill()
        c.proc.wait()
    sys.stdout.flush()


def main():
    floor_exe = os.path.join(TMP, "kept_floor")
    subprocess.run(["cc", "-O2", "-o", floor_exe, os.path.join(ROOT, "bench", "kept_floor.c")], check=True)
    lim = (resource.getrlimit(resource.RLIMIT_NPROC)[0], resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = f.read().strip()
    print("Limits: ulimit -u %s, hard RLIMIT_NOFILE %s, pid_max %s, %d CPUs; proctap %s" % (
        lim[0], lim[1], pid_max, os.cpu_count(), PROCTAP))
    try:
        for n in COUNTS:
            s = sleepers(n)
            case("%d sleepers" % n, floor_exe)
            for p in s:
                p.kill()
            for p in s:
                p.wait()
        if THREADS:
            p, t = (int(x) for x in THREADS.split(","))
            w = threaded(p, t)
            case("%d processes of %d threads (--proc-threads, -threads=true)" % (p, t), floor_exe, True)
            for x in w:
                x.kill()
                x.wait()
    finally:
        for p in started:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(TMP, ignore_errors=True)


main()
