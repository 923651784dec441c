#!/usr/bin/env python3
"""proctap vs node_exporter / process-exporter: the measuring half of `make bench`.

bench/run.sh builds proctap and the large tree, then runs this. Environment:
  BENCH_SCRAPES  interleaved scrape pairs on the small tree (default 1000), after which proctap
                 alone is scraped up to 10x that for the RSS figure; the large tree and the
                 process section a twentieth and a fortieth (process-exporter takes seconds
                 per scrape with 2,000 processes); proctap on the large tree goes to a quarter.
  BENCH_OUT      where the markdown goes besides stdout (default BENCHMARKS.md).
  BENCH_TREE     the large tree (default target/bench-tree).
  BENCH_COMMAND  the command line to print in the report (run.sh sets it).
  BENCH_PROCS    0 skips the per-process section at scale (bench/procs.py: 2,000 and 10,000
                 sleepers and the many-threads case against the kept-descriptor floor and
                 process-exporter; its PROCS_* variables apply).

Every scrape is a fresh HTTP/1.0 connection timed with time.perf_counter from connect() to EOF.
The two exporters are scraped alternately (A B, then B A, ...), so both see the same machine.
"""
import datetime
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_DIR = os.environ.get("TARGET_DIR") or os.path.join(ROOT, "target")
PROCTAP = os.path.join(TARGET_DIR, "release", "proctap")
# The binaries users deploy (`make static`, `make tiny`): measured beside the host build when
# they exist. The tiny build has no `extras` collectors (os, schedstat), so it is given the
# others.
STATIC = os.path.join(TARGET_DIR, "x86_64-unknown-linux-musl", "release", "proctap")
TINY = os.path.join(TARGET_DIR, "x86_64-unknown-linux-musl", "tiny", "proctap")
NOT_IN_TINY = ["os", "schedstat"]
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"
PROCESS_EXPORTER = shutil.which("prometheus-process-exporter") or "/usr/bin/prometheus-process-exporter"
HZ = os.sysconf("SC_CLK_TCK")

# The collectors both exporters have and that run against a fixture tree: the differential
# test's set.
COLLECTORS = ["arp", "conntrack", "cpu", "cpufreq", "diskstats", "entropy", "filefd",
              "filesystem", "hwmon", "interrupts", "loadavg", "meminfo", "netclass", "netdev",
              "netstat", "os", "pressure", "schedstat", "sockstat", "softnet", "stat", "textfile",
              "thermal_zone", "time", "uname", "vmstat"]

SCRAPES = int(os.environ.get("BENCH_SCRAPES", "1000"))
RSS_SCRAPES = 10 * SCRAPES
SLEEPERS = 2000

started = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def scrape(port, path="/metrics"):
    """One scrape on a new connection: (seconds, body bytes)."""
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" % path.encode())
    chunks = []
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        chunks.append(b)
    s.close()
    t = time.perf_counter() - t0
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n")[0] + b" ":
        raise RuntimeError("port %d answered %r" % (port, head[:80]))
    return t, body


class Exporter:
    def __init__(self, name, argv, port):
        self.name, self.port = name, port
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=self.log)
        started.append(self.proc)
        deadline = time.time() + 20
        while True:
            try:
                self.body = scrape(port)[1]
                break
            except (OSError, RuntimeError):
                if self.proc.poll() is not None or time.time() > deadline:
                    self.log.seek(0)
                    sys.exit("%s did not start: %s" % (name, self.log.read()[-2000:].decode(errors="replace")))
                time.sleep(0.05)
        self.scrapes = 1

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / HZ  # utime, stime

    def rss_bytes(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def proctap(argv_extra, port, exe=None, name="proctap"):
    return Exporter(name, [exe or PROCTAP, "--listen", "127.0.0.1:%d" % port, "--log-level", "warn"]
                    + argv_extra, port)


def tree_args(tree):
    return ["--path.procfs=%s/proc" % tree, "--path.sysfs=%s/sys" % tree,
            "--path.rootfs=%s" % tree, "--collector.textfile.directory=%s/textfile" % tree]


def node_exporter(tree, port):
    argv = [NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % port,
            "--collector.disable-defaults", "--no-collector.netdev.netlink",
            "--collector.netdev.device-exclude=", "--log.level=warn"]
    argv += tree_args(tree) + ["--collector.%s" % c for c in COLLECTORS]
    return Exporter("node_exporter", argv, port)


def interleaved(a, b, n):
    """n scrapes of each, alternating; returns {name: stats}."""
    times = {a.name: [], b.name: []}
    cpu0 = {e.name: e.cpu_seconds() for e in (a, b)}
    for i in range(n):
        for e in ((a, b) if i % 2 == 0 else (b, a)):
            t, body = scrape(e.port)
            times[e.name].append(t)
            e.body = body
    out = {}
    for e in (a, b):
        ts = sorted(times[e.name])
        e.scrapes += n
        out[e.name] = {
            "n": n,
            "median": statistics.median(ts),
            "p99": ts[min(len(ts) - 1, int(0.99 * len(ts)))],
            "cpu_per_1000": (e.cpu_seconds() - cpu0[e.name]) * 1000 / n,
            "bytes": len(e.body),
            "series": sum(1 for l in e.body.split(b"\n") if l and not l.startswith(b"#")),
        }
    return out


def steady_file_set(argv, tree):
    """Files proctap opens and directories it lists under `tree` during one steady-state scrape
    (the third), from strace of the running server."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(suffix=".strace", delete=False)
    log.close()
    tracer = subprocess.Popen(["strace", "-f", "-qq", "-y", "-e", "trace=openat,getdents64,accept4,accept",
                               "-o", log.name, PROCTAP, "--listen", "127.0.0.1:%d" % port,
                               "--log-level", "warn"] + argv,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started.append(tracer)
    deadline = time.time() + 20
    ok = 0
    while ok < 3:
        try:
            scrape(port)
            ok += 1
        except (OSError, RuntimeError):
            if time.time() > deadline:
                sys.exit("proctap under strace did not answer")
            time.sleep(0.05)
    # SIGTERM to the traced proctap, not to strace (which would detach and leave it running).
    with open("/proc/%d/task/%d/children" % (tracer.pid, tracer.pid)) as f:
        for child in f.read().split():
            os.kill(int(child), signal.SIGTERM)
    tracer.wait(10)
    with open(log.name) as f:
        text = f.read()
    os.unlink(log.name)
    scrapes = re.split(r"^\d+\s+accept4?\(.*= \d+.*$", text, flags=re.M)
    last = scrapes[-1] if len(scrapes) > 1 else text
    prefix = os.path.realpath(tree) + "/"
    files, dirs = [], []
    # -y prints the path of the returned descriptor, also for opens relative to a directory fd.
    for m in re.finditer(r'openat\([^,]+, "[^"]*", ([A-Z_|]+)[^)]*\) = \d+<([^>]+)>', last):
        flags, path = m.group(1), m.group(2)
        if not os.path.realpath(path).startswith(prefix) and not path.startswith(tree):
            continue
        if not ("O_DIRECTORY" in flags or os.path.isdir(path)):
            files.append(path)
    # Directories count when they were listed; one opened only to open files relative to it
    # costs the raw loop nothing extra, as it opens those files by their full paths.
    for m in re.finditer(r'getdents64\(\d+<([^>]+)>', last):
        path = m.group(1)
        if os.path.realpath(path).startswith(prefix) and path not in dirs:
            dirs.append(path)
    return files, dirs


def raw_read(files, dirs, reps):
    """Median seconds to open+read+close every file and list every directory once, from a Python
    loop over os.open/os.read/os.scandir (no buffering layer, 1 MiB reads)."""
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for d in dirs:
            with os.scandir(d) as it:
                for _ in it:
                    pass
        for p in files:
            try:
                fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            while os.read(fd, 1 << 20):
                pass
            os.close(fd)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def cat_read(files, reps):
    """Median seconds for one `cat FILES... > /dev/null` (includes one fork+exec of cat)."""
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run(["cat"] + files, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def ms(s):
    return "%.2f" % (s * 1000) if s < 1 else "%.0f" % (s * 1000)


def mib(b):
    return "%.2f" % (b / 1048576)


def say(msg):
    print("%s %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def host_section(label, tree, n, rss_total, rows, raws, notes):
    say("== %s: %d interleaved scrape pairs, proctap to %d scrapes" % (label, n, rss_total))
    ne = node_exporter(tree, free_port())
    pt = proctap(["--collectors", ",".join(COLLECTORS)] + tree_args(tree), free_port())
    for e in (ne, pt):  # warm up: caches, hwmon inode cache, buffers at full size
        for _ in range(5):
            scrape(e.port)
        e.scrapes += 5
    res = interleaved(ne, pt, n)
    extras = []
    for exe, name, skip in ((STATIC, "proctap (static musl)", []),
                            (TINY, "proctap (tiny)", NOT_IN_TINY)):
        if os.path.exists(exe):
            cols = [c for c in COLLECTORS if c not in skip]
            e = proctap(["--collectors", ",".join(cols)] + tree_args(tree), free_port(), exe, name)
            for _ in range(5):
                scrape(e.port)
            e.scrapes += 5
            extras.append((e, [], e.cpu_seconds(), e.rss_bytes()))
    say("   proctap alone up to %d scrapes" % rss_total
        + "".join(" and %s" % e.name for e, _, _, _ in extras))
    rss_warm = pt.rss_bytes()
    warm_scrapes = pt.scrapes
    while pt.scrapes < rss_total:
        scrape(pt.port)
        pt.scrapes += 1
        for e, times, _, _ in extras:
            t, e.body = scrape(e.port)
            times.append(t)
            e.scrapes += 1
    rss_after = pt.rss_bytes()
    extra_rows = []
    for e, times, cpu0, warm in extras:
        ts = sorted(times) or [0.0]
        extra_rows.append((e.name, {
            "n": len(times), "median": statistics.median(ts),
            "p99": ts[min(len(ts) - 1, int(0.99 * len(ts)))],
            "cpu_per_1000": (e.cpu_seconds() - cpu0) * 1000 / max(1, len(times)),
            "bytes": len(e.body),
            "series": sum(1 for l in e.body.split(b"\n") if l and not l.startswith(b"#")),
            "rss": e.rss_bytes(), "rss_n": e.scrapes, "rss_growth": e.rss_bytes() - warm,
            "rss_growth_from": 5,
        }))
        e.stop()
    res["proctap"]["rss"] = rss_after
    res["proctap"]["rss_n"] = pt.scrapes
    res["proctap"]["rss_growth"] = rss_after - rss_warm
    res["proctap"]["rss_growth_from"] = warm_scrapes
    res["node_exporter"]["rss"] = ne.rss_bytes()
    res["node_exporter"]["rss_n"] = ne.scrapes
    ne.stop()
    pt.stop()
    say("   raw read of the file set")
    files, dirs = steady_file_set(["--collectors", ",".join(COLLECTORS)] + tree_args(tree), tree)
    raw = raw_read(files, dirs, max(20, n // 10))
    cat = cat_read(files, max(10, n // 20))
    raws.append((label, len(files), len(dirs), raw, cat))
    for name in ("node_exporter", "proctap"):
        rows.append((label, name, res[name]))
    for name, r in extra_rows:
        rows.append((label, name, r))
        res[name] = r
    notes[label] = (res, raw)


def sleepers_start(count):
    procs = []
    for _ in range(count):
        procs.append(subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    started.extend(procs)
    return procs


def processes_built():
    try:
        h = subprocess.run([PROCTAP, "--help"], capture_output=True, text=True).stdout
        r = subprocess.run([PROCTAP, "once", "--collectors", "namedprocess"],
                           capture_output=True, text=True)
    except OSError:
        return False, ""
    return r.returncode in (0, 1) and "namedprocess" in h, h


def process_section(n, rows, proc_notes):
    built, help_text = processes_built()
    if not built:
        say("== processes: skipped: namedprocess collector not built")
        proc_notes.append("skipped: namedprocess collector not built")
        return
    extra = ["--top-n", "5"] if "--top-n" in help_text else []
    cfg = tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False)
    cfg.write('process_names:\n  - name: "{{.Comm}}"\n    cmdline:\n    - \'.+\'\n')
    cfg.close()
    tree = os.environ.get("BENCH_TREE", os.path.join(TARGET_DIR, "bench-tree"))
    cases = [("live, %d sleepers" % SLEEPERS, "/proc", "/"), ("large tree, 2,000 PIDs", tree + "/proc", tree)]
    sleepers = sleepers_start(SLEEPERS)
    try:
        for label, procfs, rootfs in cases:
            say("== processes (%s): %d interleaved scrape pairs" % (label, n))
            pe_port = free_port()
            pe = Exporter("process-exporter",
                          [PROCESS_EXPORTER, "-web.listen-address", "127.0.0.1:%d" % pe_port,
                           "-config.path", cfg.name, "-procfs", procfs, "-threads=false",
                           "-gather-smaps=false"], pe_port)
            pt = proctap(["--collectors", "namedprocess", "--path.procfs", procfs,
                          "--path.rootfs", rootfs] + extra, free_port())
            for e in (pe, pt):
                for _ in range(3):
                    scrape(e.port)
            res = interleaved(pe, pt, n)
            for e in (pe, pt):
                res[e.name]["rss"] = e.rss_bytes()
                res[e.name]["rss_n"] = e.scrapes + 3
                rows.append(("processes: " + label, e.name, res[e.name]))
            pe.stop()
            pt.stop()
        proc_notes.append("proctap flags: `--collectors namedprocess %s`; process-exporter: "
                          "`-threads=false -gather-smaps=false` and a config grouping by "
                          "`{{.Comm}}` (proctap reads no smaps by default either)." % " ".join(extra))
    finally:
        for p in sleepers:
            p.kill()
        for p in sleepers:
            p.wait()
        os.unlink(cfg.name)


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ver = subprocess.run([PROCTAP, "--version"], capture_output=True, text=True).stdout.strip()
    nev = subprocess.run([NODE_EXPORTER, "--version"], capture_output=True, text=True)
    nev = (nev.stdout + nev.stderr).splitlines()[0] if (nev.stdout + nev.stderr) else "?"
    pev = subprocess.run([PROCESS_EXPORTER, "-version"], capture_output=True, text=True)
    pev = (pev.stdout + pev.stderr).splitlines()[0] if (pev.stdout + pev.stderr) else "?"
    return model, os.cpu_count(), os.uname().release, ver, nev, pev


def report(rows, raws, notes, proc_notes, started_at, elapsed, procs=None):
    model, ncpu, kernel, ver, nev, pev = machine()
    cmd = os.environ.get("BENCH_COMMAND", "make bench")
    o = []
    o.append("# Benchmarks\n")
    o.append("Generated by `%s` (bench/run.sh); do not edit by hand.\n" % cmd)
    o.append("- date: %s UTC, %d s total" % (started_at.strftime("%Y-%m-%d %H:%M"), elapsed))
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    o.append("- machine: %s, nproc %d, Linux %s; load average at the end: %s" % (model, ncpu, kernel, load))
    o.append("- %s; %s; %s" % (ver, nev, pev))
    o.append("- collectors (both exporters): %s" % ",".join(COLLECTORS))
    o.append("- small tree: `fixtures/`; large tree: `bench/gen_tree.py` (128 CPUs, 64 disks, "
             "256 interfaces, 200 IRQs x 128 CPUs, 2,000 PIDs)")
    o.append("- latency: new HTTP/1.0 connection per scrape, connect to EOF, exporters scraped "
             "alternately; CPU: utime+stime of the exporter over the interleaved scrapes; "
             "RSS: VmRSS after the number of scrapes shown\n")
    o.append("| tree | exporter | scrapes | series | bytes | median ms | p99 ms | CPU s / 1000 scrapes | RSS MiB (after n scrapes) |")
    o.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, name, r in rows:
        o.append("| %s | %s | %d | %d | %d | %s | %s | %.2f | %s (%d) |" % (
            label, name, r["n"], r["series"], r["bytes"], ms(r["median"]), ms(r["p99"]),
            r["cpu_per_1000"], mib(r["rss"]), r["rss_n"]))
    o.append("")
    o.append("Raw read of the same files: the files proctap opens and the directories it lists under the tree "
             "during its third scrape (strace of the running server), read by a Python loop at the paths strace reports (symlinks resolved) "
             "(os.open, os.read of 1 MiB until EOF, os.close; os.scandir for directories), and by "
             "one `cat FILES > /dev/null` (includes fork+exec of cat).\n")
    o.append("| tree | files | dirs | Python loop ms | cat ms |")
    o.append("| --- | ---: | ---: | ---: | ---: |")
    for label, nf, nd, raw, cat in raws:
        o.append("| %s | %d | %d | %s | %s |" % (label, nf, nd, ms(raw), ms(cat)))
    o.append("")
    o.append("## Against the goals\n")
    o.append("| goal | tree | measured | met |")
    o.append("| --- | --- | --- | --- |")
    for label, (res, raw) in notes.items():
        ne, pt = res["node_exporter"], res["proctap"]
        ratio = pt["median"] / ne["median"]
        o.append("| scrape time <= 1/10 of node_exporter's | %s | %s / %s ms = 1/%.1f | %s |" % (
            label, ms(pt["median"]), ms(ne["median"]), 1 / ratio, "yes" if ratio <= 0.1 else "no"))
        rr = pt["median"] / raw
        o.append("| scrape time <= 1.5x raw read | %s | %s / %s ms = %.2fx | %s |" % (
            label, ms(pt["median"]), ms(raw), rr, "yes" if rr <= 1.5 else "no"))
    for label, (res, raw) in notes.items():
        for name in ("proctap", "proctap (static musl)", "proctap (tiny)"):
            pt = res.get(name)
            if not pt:
                continue
            o.append("| RSS <= 1 MiB after 10,000 scrapes, no growth | %s, %s | %s MiB after %d; %+d KiB from scrape %d to %d | %s |" % (
                label, name, mib(pt["rss"]), pt["rss_n"], pt["rss_growth"] // 1024,
                pt["rss_growth_from"], pt["rss_n"],
                "yes" if pt["rss"] <= 1 << 20 and pt["rss_growth"] <= 0 else "no"))
    proc_rows = [(l, n, r) for l, n, r in rows if l.startswith("processes") and n == "proctap"]
    for label, _, r in proc_rows:
        o.append("| 2,000 processes <= 50 ms | %s | %s ms median | %s |" % (
            label[len("processes: "):], ms(r["median"]), "yes" if r["median"] <= 0.05 else "no"))
    if not proc_rows:
        o.append("| 2,000 processes <= 50 ms | live | skipped: namedprocess collector not built | - |")
    goals, cases = procs_goals(procs or "")
    o.extend(goals)
    o.append("")
    for n in proc_notes:
        o.append("Processes: " + n + "\n")
    if procs:
        o.append("## Processes at scale (bench/procs.py)\n")
        o.append("`python3 bench/procs.py %s` in the same run: CPU per process charged from the contestants' "
                 "schedstat run times, one collection of each per round in a rotating order; the floor is "
                 "bench/kept_floor.c (preads of stat, status, io, wchan and an fstat of fd/ per PID, "
                 "nothing parsed or written).\n" % os.path.relpath(PROCTAP, ROOT))
        o.append(procs.strip())
        o.append("")
    return "\n".join(o).rstrip() + "\n"


def procs_rows(text):
    """{case label: {contestant: (median µs per process, RSS KiB)}} from bench/procs.py's tables."""
    cases, label = {}, None
    for line in text.splitlines():
        if line.startswith("### "):
            label = line[4:].split(" (")[0]
            cases[label] = {}
        elif label and line.startswith("| ") and not line.startswith("| |"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            try:
                cases[label][cells[0]] = (float(cells[1]), int(cells[4]))
            except (ValueError, IndexError):
                pass
    return cases


def procs_goals(text):
    """issue 15's budgets, from bench/procs.py's tables: 2,000 processes within 1.25x of the kept
    floor and 15x cheaper than process-exporter; 10,000 no dearer per process, in 8 MiB."""
    out, cases = [], procs_rows(text)
    pt = "proctap --proc-kept-files 20000"
    small, large = cases.get("2000 sleepers", {}), cases.get("10000 sleepers", {})
    if pt in small and "floor: kept preads" in small and "process-exporter" in small:
        us, floor, pe = small[pt][0], small["floor: kept preads"][0], small["process-exporter"][0]
        out.append("| 2,000 processes <= 1.25x the kept-descriptor floor | live, 2000 sleepers | %.2f / %.2f µs per process = %.2fx | %s |" % (
            us, floor, us / floor, "yes" if us <= 1.25 * floor else "no"))
        out.append("| 2,000 processes >= 15x cheaper than process-exporter | live, 2000 sleepers | %.2f / %.2f µs per process = 1/%.1f | %s |" % (
            us, pe, pe / us, "yes" if pe >= 15 * us else "no"))
    if pt in small and pt in large:
        out.append("| 10,000 processes: cost per process no higher than at 2,000 | live, 10000 sleepers | %.2f vs %.2f µs | %s |" % (
            large[pt][0], small[pt][0], "yes" if large[pt][0] <= small[pt][0] * 1.1 else "no"))
        out.append("| 10,000 processes: RSS <= 8 MiB | live, 10000 sleepers | %.2f MiB | %s |" % (
            large[pt][1] / 1024, "yes" if large[pt][1] <= 8 * 1024 else "no"))
    return out, cases


def procs_section():
    if os.environ.get("BENCH_PROCS", "1") == "0" or not os.path.exists(PROCTAP):
        return None
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "procs.py"), PROCTAP],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        return "bench/procs.py failed (exit %d): %s" % (r.returncode, r.stderr.strip()[-400:])
    return r.stdout


def main():
    started_at = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.time()
    tree = os.environ.get("BENCH_TREE", os.path.join(TARGET_DIR, "bench-tree"))
    rows, raws, notes, proc_notes, procs = [], [], {}, [], None
    try:
        host_section("small (fixtures/)", os.path.join(ROOT, "fixtures"), SCRAPES, RSS_SCRAPES,
                     rows, raws, notes)
        host_section("large (bench-tree)", tree, max(10, SCRAPES // 20), max(20, SCRAPES // 4),
                     rows, raws, notes)
        process_section(max(10, SCRAPES // 40), rows, proc_notes)
        procs = procs_section()
    finally:
        for p in started:
            if p.poll() is None:
                p.kill()
                p.wait()
    text = report(rows, raws, notes, proc_notes, started_at, time.time() - t0, procs)
    sys.stdout.write(text)
    out = os.environ.get("BENCH_OUT", os.path.join(ROOT, "BENCHMARKS.md"))
    if out:
        with open(out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
