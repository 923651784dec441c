#!/usr/bin/env python3
"""Live checks of namedprocess's kept descriptors, run by tests/kept.rs.

    kept.py pid-reuse PROCTAP   inside `unshare -Urpf --mount-proc` (a PID namespace of our
                                own, where /proc/sys/kernel/ns_last_pid picks the next PID)
    kept.py cap PROCTAP N       N sleepers, proctap under `prlimit --nofile=64:64`

Prints "ok ..." lines and exits 0, or prints what differed and exits 1.
"""
import errno
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TMP = tempfile.mkdtemp(prefix="proctap-kept-")
started = []


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def sleeper(comm):
    """A sleep(1) whose comm is `comm` (a symlink of that name)."""
    exe = os.path.join(TMP, comm)
    if not os.path.exists(exe):
        os.symlink(shutil.which("sleep"), exe)
    p = subprocess.Popen([exe, "600"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    started.append(p)
    return p


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
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n")[0] + b" ":
        fail("answer %r" % head[:100])
    return body.decode()


def value(out, prefix):
    for line in out.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


def links(pid, under):
    """How many of `pid`'s descriptors point under `under`."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith(under):
                n += 1
        except OSError:
            pass
    return n


def proctap(binary, args, prefix=()):
    port = free_port()
    p = subprocess.Popen(list(prefix) + [binary, "--collectors", "namedprocess", "--listen",
                                         "127.0.0.1:%d" % port, "--log-level", "warn"] + args)
    started.append(p)
    return p, port


def spawn_at(pid, comm):
    """A sleeper with this pid. A thread proctap starts between the write and the fork would
    take the pid first (threads share the numbers): then again."""
    for _ in range(10):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        p = sleeper(comm)
        if p.pid == pid:
            return p
        p.kill()
        p.wait()
    fail("could not have pid %d for %s" % (pid, comm))


def pid_reuse(binary, pid):
    pt, port = proctap(binary, ["--proc-include", "^kpt(old|new)$", "--proc-name", "kptold",
                                "--proc-name", "kptnew"])
    scrape(port)  # proctap is up, its threads started
    old = spawn_at(pid, "kptold")
    scrape(port)
    out = scrape(port)
    sel = 'proctap_process_start_time_seconds{pid="%d",name="%s"'
    if value(out, sel % (pid, "kptold")) is None:
        fail("kptold not selected:\n" + out)
    held_before = links(pt.pid, "/proc/%d/" % pid)
    if held_before < 4:
        fail("proctap keeps %d descriptors of pid %d, expected stat, status, io, wchan, fd, sched"
             % (held_before, pid))
    # Our own kept descriptor of the old process, to show what the kernel does with it.
    mine = os.open("/proc/%d/stat" % pid, os.O_RDONLY)
    old_start = os.pread(mine, 4096, 0).rsplit(b")", 1)[1].split()[19]
    old.kill()
    old.wait()
    new = spawn_at(pid, "kptnew")
    try:
        os.pread(mine, 4096, 0)
        fail("the kept stat of a reaped task still reads")
    except OSError as e:
        if e.errno != errno.ESRCH:
            fail("the kept stat of a reaped task: %s, expected ESRCH" % e)
    fresh = open("/proc/%d/stat" % pid).read()
    if "(kptnew)" not in fresh:
        fail("the path does not name the new process: " + fresh)
    print("ok the kernel: the old task's kept stat reads ESRCH; the path reads (kptnew)")
    out = scrape(port)
    groups = 'namedprocess_namegroup_num_procs{groupname="%s"}'
    if value(out, groups % "kptnew") != 1 or value(out, groups % "kptold") != 0:
        fail("groups after the PID was reused:\n" + out)
    if value(out, sel % (pid, "kptnew")) is None or value(out, sel % (pid, "kptold")) is not None:
        fail("selected series after the PID was reused:\n" + out)
    stat = fresh.rsplit(")", 1)[1].split()
    btime = int(re.search(r"^btime (\d+)", open("/proc/stat").read(), re.M).group(1))
    want = btime + int(stat[19]) / os.sysconf("SC_CLK_TCK")
    if abs(value(out, sel % (pid, "kptnew")) - want) > 1e-6:
        fail("start time %s, expected the new process's %s" % (value(out, sel % (pid, "kptnew")), want))
    held_after = links(pt.pid, "/proc/%d/" % pid)
    if held_after > 6:
        fail("proctap holds %d descriptors of pid %d: the old process's were not closed"
             % (held_after, pid))
    # Within one clock tick the two have the same start time, and only the kept descriptor's
    # ESRCH tells them apart.
    same = old_start == stat[19].encode()
    print("ok proctap: group kptold 0, kptnew 1, pid %d is kptnew with its start time (%s); "
          "descriptors of /proc/%d: %d before, %d after"
          % (pid, "the same start tick as the old one" if same else "a later tick", pid,
             held_before, held_after))
    new.kill()
    new.wait()
    pt.kill()
    pt.wait()


def cap(binary, n):
    kids = [sleeper("kptcap") for _ in range(n)]
    # 64 files: 4 waiting requests, a listener and 32 for the rest leave 27 to keep (21 per
    # process, 6 host files: source::host_kept_cap).
    pt, port = proctap(binary, ["--proc-include", "^kptcap$", "--web.max-requests", "4"],
                       prefix=["prlimit", "--nofile=64:64"])
    for _ in range(3):
        out = scrape(port)
        fds = len(os.listdir("/proc/%d/fd" % pt.pid))
        kept = links(pt.pid, "/proc/")
        if fds > 64 - 4 or kept > 27:
            fail("%d descriptors open, %d of them under /proc: more than the cap" % (fds, kept))
    if kept < 20:
        fail("only %d descriptors kept under a cap of 27" % kept)
    if value(out, 'namedprocess_namegroup_num_procs{groupname="kptcap"}') != n:
        fail("num_procs with the cap:\n" + out)
    threads = value(out, 'namedprocess_namegroup_num_threads{groupname="kptcap"}')
    if threads != n:
        fail("num_threads %s, expected %d" % (threads, n))
    # The ones beyond the cap are read with open/read/close, and still right: kill half.
    for k in kids[: n // 2]:
        k.kill()
        k.wait()
    out = scrape(port)
    if value(out, 'namedprocess_namegroup_num_procs{groupname="kptcap"}') != n - n // 2:
        fail("num_procs after half exited:\n" + out)
    print("ok cap: %d sleepers, %d descriptors open in all, %d kept under /proc (cap 27)"
          % (n, fds, kept))


def main():
    try:
        if sys.argv[1] == "pid-reuse":
            # Three times: each has a fair chance to reuse the PID within the old process's
            # start tick, the case a start-time check alone cannot tell.
            for pid in (500, 600, 700):
                pid_reuse(sys.argv[2], pid)
        elif sys.argv[1] == "cap":
            cap(sys.argv[2], int(sys.argv[3]))
        else:
            fail("unknown check %s" % sys.argv[1])
    finally:
        for p in started:
            p.kill()
            p.wait()
        shutil.rmtree(TMP, ignore_errors=True)


main()
