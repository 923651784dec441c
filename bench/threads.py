#!/usr/bin/env python3
"""The cost of reading threads: CPU time per scrape of the namedprocess collector, on this
machine's /proc, before and after starting 20 processes with 50 sleeping threads each.

    bench/threads.py target/release/proctap [prometheus-process-exporter]

CPU time (utime + stime of the exporter's process over 100 scrapes) rather than scrape latency,
so that other work on the machine inflates it less. Prints one line per setting and the cost per
added thread. Not part of `make test` or `make bench`.
"""
import os
import socket
import statistics
import subprocess
import sys
import time

WORKER = r'''
import threading, time
ev = threading.Event()
for i in range(49):
    threading.Thread(target=ev.wait, daemon=True).start()
print("ready", flush=True)
time.sleep(3600)
'''
HZ = os.sysconf("SC_CLK_TCK")
SCRAPES = 100


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    while s.recv(1 << 16):
        pass


def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / HZ


def cpu_per_scrape(argv, port):
    srv = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            get(port)
            break
        except OSError:
            time.sleep(0.05)
    get(port)
    get(port)
    c0 = cpu(srv.pid)
    for _ in range(SCRAPES):
        get(port)
    c1 = cpu(srv.pid)
    srv.kill()
    srv.wait()
    return (c1 - c0) / SCRAPES * 1000


def host_threads():
    n = 0
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                n += len(os.listdir("/proc/%s/task" % p))
            except OSError:
                pass
    return n


def main():
    proctap = sys.argv[1]
    pe = sys.argv[2] if len(sys.argv) > 2 else None
    config = "/tmp/proctap-threads-bench.yml"
    with open(config, "w") as f:
        f.write("process_names:\n  - name: \"{{.Comm}}\"\n    cmdline:\n    - '.*'\n")
    settings = [("threads on", lambda p: [proctap, "--listen", "127.0.0.1:%d" % p,
                                          "--collectors", "namedprocess"]),
                ("--no-proc-threads", lambda p: [proctap, "--listen", "127.0.0.1:%d" % p,
                                                 "--collectors", "namedprocess",
                                                 "--no-proc-threads"])]
    if pe:
        settings.append(("process-exporter", lambda p: [pe, "-config.path", config,
                                                        "-web.listen-address", "127.0.0.1:%d" % p,
                                                        "-gather-smaps=false"]))
    workers, results = [], {}
    for k in [0, 20]:
        while len(workers) < k:
            w = subprocess.Popen([sys.executable, "-c", WORKER], stdout=subprocess.PIPE)
            w.stdout.readline()
            workers.append(w)
        threads = host_threads()
        for name, argv in settings:
            runs = []
            for _ in range(3):
                port = free_port()
                runs.append(cpu_per_scrape(argv(port), port))
            results[(k, name)] = (threads, statistics.median(runs))
            print("%d threads, %s: %.1f ms CPU per scrape (runs %s)"
                  % (threads, name, statistics.median(runs), ", ".join("%.1f" % r for r in runs)),
                  flush=True)
    for w in workers:
        w.kill()
    for name, _ in settings:
        (t0, c0), (t1, c1) = results[(0, name)], results[(20, name)]
        print("%s: +%.1f ms for %d more threads, %.0f us per thread"
              % (name, c1 - c0, t1 - t0, (c1 - c0) * 1000 / (t1 - t0)))


if __name__ == "__main__":
    main()
