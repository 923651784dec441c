#!/usr/bin/env python3
"""Generates the large synthetic fixture tree for `make bench`.

    bench/gen_tree.py OUT_DIR

OUT_DIR gets proc/, sys/ and the rootfs files of fixtures/ (etc/, textfile/, ...), with the
per-CPU, per-disk, per-interface, per-IRQ and per-process parts made big: 128 CPUs, 64 disks,
256 interfaces, 200 IRQs x 128 CPUs, 2,000 processes. Everything comes from one seeded PRNG, so
two runs produce identical trees (bench/run.sh checks a digest).
"""
import os
import random
import shutil
import sys

CPUS = 128
DISKS = 64
IFACES = 256
IRQS = 200
PROCS = 2000
FIRST_PID = 10000

R = random.Random(20260501)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def n(lo, hi):
    return R.randint(lo, hi)


def copy_fixtures(src, out):
    """Copies fixtures/ except the parts this script replaces."""
    def ignore(d, names):
        rel = os.path.relpath(d, src)
        skip = set()
        if rel == "proc":
            # pid 1 stays: the filesystem collector reads /proc/1/mounts.
            skip |= {x for x in names if x.isdigit() and x != "1"}
        if rel == os.path.join("sys", "class"):
            skip.add("net")
        if rel == os.path.join("sys", "devices", "system"):
            skip.add("cpu")
        if rel == os.path.join("sys", "devices", "virtual"):
            skip.add("net")
        return skip

    shutil.copytree(src, out, symlinks=True, ignore=ignore)


def proc_stat(p):
    def cpu_line(name, scale):
        f = [n(1, 9) * scale * 10**7 + n(0, 10**7) for _ in range(3)]
        return "%s %d %d %d %d %d 0 %d %d %d %d\n" % (
            name, f[0], n(0, 10**6) * scale, f[1], n(10**9, 5 * 10**9) * scale,
            n(0, 10**6) * scale, n(0, 10**7) * scale, n(0, 10**4), n(0, 10**6), n(0, 10**4))
    out = [cpu_line("cpu ", CPUS)] + [cpu_line("cpu%d" % i, 1) for i in range(CPUS)]
    intr = [n(0, 10**8) if i < IRQS else 0 for i in range(IRQS + 56)]
    out.append("intr %d %s\n" % (sum(intr), " ".join(map(str, intr))))
    out.append("ctxt %d\nbtime 1743426000\nprocesses %d\nprocs_running %d\nprocs_blocked %d\n"
               % (n(10**10, 10**11), n(10**7, 10**8), n(1, 64), n(0, 4)))
    soft = [n(0, 10**10) for _ in range(10)]
    out.append("softirq %d %s\n" % (sum(soft), " ".join(map(str, soft))))
    write(p + "/stat", "".join(out))


def proc_interrupts(p):
    rows = ["     " + "".join("%-11s" % ("CPU%d" % c) for c in range(CPUS)) + "\n"]
    for i in range(IRQS):
        label = "%4d:" % i
        counts = "".join("%11d" % (n(0, 10**9) if R.random() < 0.3 else 0) for _ in range(CPUS))
        dev = R.choice(["IR-IO-APIC    %d-edge      i8042" % i,
                        "IR-PCI-MSIX-0000:%02x:00.0 %d-edge      nvme%dq%d" % (i % 64, i, i % 32, i % 9),
                        "IR-PCI-MSI-0000:00:%02x.0 %d-edge      eth%d-TxRx-%d" % (i % 32, i, i % 8, i % 16)])
        rows.append(label + counts + "  " + dev + "\n")
    for name, text in (("NMI", "Non-maskable interrupts"), ("LOC", "Local timer interrupts"),
                       ("RES", "Rescheduling interrupts"), ("CAL", "Function call interrupts"),
                       ("TLB", "TLB shootdowns")):
        rows.append("%4s:" % name + "".join("%11d" % n(0, 10**9) for _ in range(CPUS))
                    + "   " + text + "\n")
    rows.append(" ERR:          0\n MIS:          0\n")
    write(p + "/interrupts", "".join(rows))


def disk_names():
    names = ["nvme%dn1" % i for i in range(32)]
    letters = "abcdefghijklmnopqrstuvwxyz"
    names += ["sd" + letters[i] for i in range(26)] + ["sda" + letters[i] for i in range(6)]
    return names


def proc_diskstats(p):
    rows = []
    for i, d in enumerate(disk_names()):
        major = 259 if d.startswith("nvme") else 8
        f = [n(0, 10**10) for _ in range(11)] + [n(0, 10**6) for _ in range(6)]
        f[8] = n(0, 4)  # in flight
        rows.append("%4d %7d %s %s\n" % (major, i * 16, d, " ".join(map(str, f))))
    write(p + "/diskstats", "".join(rows))


def iface_names():
    names = ["lo"] + ["eth%d" % i for i in range(64)] + ["veth%06x" % (i * 7919) for i in range(128)]
    names += ["br%d" % i for i in range(31)] + ["eth%d.%d" % (i % 8, 100 + i) for i in range(32)]
    return names[:IFACES]


def net(p, s):
    head = ("Inter-|   Receive                                                |  Transmit\n"
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n")
    rows = []
    for i, name in enumerate(iface_names()):
        v = [n(0, 10**13), n(0, 10**10), n(0, 99), n(0, 999), 0, n(0, 9), 0, n(0, 10**6),
             n(0, 10**13), n(0, 10**10), 0, n(0, 99), 0, 0, 0, 0]
        rows.append("%6s: %s\n" % (name, " ".join(map(str, v))))
        d = "%s/devices/virtual/net/%s" % (s, name)
        mac = "02:00:%02x:%02x:%02x:%02x" % (i >> 8, i & 255, n(0, 255), n(0, 255))
        up = name == "lo" or R.random() < 0.8
        attrs = {
            "addr_assign_type": "0", "addr_len": "6", "address": mac,
            "broadcast": "ff:ff:ff:ff:ff:ff", "carrier": "1" if up else "0",
            "carrier_changes": str(n(0, 20)), "carrier_down_count": str(n(0, 10)),
            "carrier_up_count": str(n(0, 10)), "dev_id": "0x0", "dev_port": "0", "dormant": "0",
            "duplex": "full", "flags": "0x1003", "ifalias": "", "ifindex": str(i + 1),
            "iflink": str(i + 1), "link_mode": "0", "mtu": "1500" if i % 5 else "9000",
            "name_assign_type": "4", "netdev_group": "0", "operstate": "up" if up else "down",
            "proto_down": "0", "speed": "10000" if name.startswith("eth") else "-1",
            "testing": "0", "tx_queue_len": "1000", "type": "772" if name == "lo" else "1",
            "uevent": "INTERFACE=%s\nIFINDEX=%d" % (name, i + 1),
        }
        for k, v2 in attrs.items():
            write(d + "/" + k, v2 + "\n")
        os.makedirs(s + "/class/net", exist_ok=True)
        os.symlink("../../devices/virtual/net/" + name, s + "/class/net/" + name)
    write(p + "/net/dev", head + "".join(rows))
    write(s + "/class/net/bonding_masters", "\n")
    soft = ["%08x %08x %08x 00000000 00000000 00000000 00000000 00000000 00000000 %08x 00000000 %08x %08x\n"
            % (n(0, 2**31), n(0, 99), n(0, 2**16), n(0, 2**16), n(0, 9), c) for c in range(CPUS)]
    write(p + "/net/softnet_stat", "".join(soft))


def sys_cpu(s, p):
    base = s + "/devices/system/cpu"
    for c in range(CPUS):
        write("%s/cpu%d/topology/core_id" % (base, c), "%d\n" % (c % 32))
        write("%s/cpu%d/topology/physical_package_id" % (base, c), "%d\n" % (c // 32))
        write("%s/cpu%d/thermal_throttle/core_throttle_count" % (base, c), "%d\n" % n(0, 9))
        write("%s/cpu%d/thermal_throttle/package_throttle_count" % (base, c), "%d\n" % n(0, 9))
        pol = "%s/cpufreq/policy%d" % (base, c)
        for k, v in (("related_cpus", str(c)), ("affected_cpus", str(c)),
                     ("cpuinfo_transition_latency", "0"), ("scaling_min_freq", "800000"),
                     ("scaling_max_freq", "3400000"), ("scaling_cur_freq", str(n(800000, 3400000))),
                     ("cpuinfo_cur_freq", str(n(800000, 3400000))), ("cpuinfo_min_freq", "800000"),
                     ("cpuinfo_max_freq", "3400000"), ("scaling_driver", "intel_pstate"),
                     ("scaling_governor", "powersave"),
                     ("scaling_available_governors", "performance powersave"),
                     ("energy_performance_preference", "balance_performance"),
                     ("base_frequency", "2000000"), ("scaling_setspeed", "<unsupported>")):
            write(pol + "/" + k, v + "\n")
        os.symlink("../cpufreq/policy%d" % c, "%s/cpu%d/cpufreq" % (base, c))
    write(base + "/isolated", "\n")
    sched = ["version 15\ntimestamp 15178305914\n"]
    for c in range(CPUS):
        sched.append("cpu%d 0 0 0 0 0 0 %d %d %d\n" % (c, n(0, 10**16), n(0, 10**15), n(0, 10**11)))
    write(p + "/schedstat", "".join(sched))


COMMS = ["nginx", "postgres", "java", "python3", "node", "sshd", "bash", "sleep", "containerd-shim",
         "dockerd", "redis-server", "mysqld", "php-fpm", "gunicorn", "celery", "kworker-user",
         "systemd", "rsyslogd", "cron", "haproxy", "envoy", "etcd", "kubelet", "prometheus",
         "grafana", "memcached", "mongod", "rabbitmq", "vault", "consul"]


def processes(p):
    hz = 100
    for k in range(PROCS):
        pid = FIRST_PID + k
        comm = COMMS[k % len(COMMS)] if k % 3 else COMMS[(k * 7) % 11]
        d = "%s/%d" % (p, pid)
        state = R.choice("SSSSSSSSRD")
        threads = R.choice([1, 1, 1, 2, 4, 8, 32])
        utime, stime = n(0, 10**6), n(0, 10**5)
        vsize = n(10**6, 10**10)
        rss_pages = n(100, 10**5)
        start = n(100, 10**6)
        ppid = 1 if k < 50 else FIRST_PID + (k % 50)
        write(d + "/stat",
              "%d (%s) %s %d %d %d 0 -1 4194560 %d 0 %d 0 %d %d 0 0 20 0 %d 0 %d %d %d "
              "18446744073709551615 94371948371968 94371948923561 140724532410768 0 0 0 0 4096 "
              "81923 1 0 0 17 %d 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
              % (pid, comm, state, ppid, pid, pid, n(0, 10**6), n(0, 10**3), utime, stime,
                 threads, start, vsize, rss_pages, k % CPUS))
        uid = R.choice([0, 0, 33, 999, 1000, 1001])
        st = {"S": "S (sleeping)", "R": "R (running)", "D": "D (disk sleep)"}[state]
        write(d + "/status",
              "Name:\t%s\nUmask:\t0022\nState:\t%s\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\n"
              "TracerPid:\t0\nUid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\nFDSize:\t64\nGroups:\t \n"
              "NStgid:\t%d\nNSpid:\t%d\nNSpgid:\t%d\nNSsid:\t%d\nKthread:\t0\n"
              "VmPeak:\t%8d kB\nVmSize:\t%8d kB\nVmLck:\t       0 kB\nVmPin:\t       0 kB\n"
              "VmHWM:\t%8d kB\nVmRSS:\t%8d kB\nRssAnon:\t%8d kB\nRssFile:\t%8d kB\n"
              "RssShmem:\t       0 kB\nVmData:\t%8d kB\nVmStk:\t     132 kB\nVmExe:\t    1024 kB\n"
              "VmLib:\t    8192 kB\nVmPTE:\t     212 kB\nVmSwap:\t%8d kB\nHugetlbPages:\t       0 kB\n"
              "CoreDumping:\t0\nTHP_enabled:\t1\nThreads:\t%d\nSigQ:\t0/15243\n"
              "Cpus_allowed:\tffffffff,ffffffff,ffffffff,ffffffff\nCpus_allowed_list:\t0-127\n"
              "Mems_allowed_list:\t0\nvoluntary_ctxt_switches:\t%d\nnonvoluntary_ctxt_switches:\t%d\n"
              % (comm, st, pid, pid, ppid, uid, uid, uid, uid, uid, uid, uid, uid, pid, pid, pid,
                 pid, vsize // 1024, vsize // 1024, rss_pages * 4, rss_pages * 4,
                 rss_pages * 3, rss_pages, vsize // 4096, n(0, 9) * 1024, threads,
                 n(0, 10**7), n(0, 10**5)))
        rb, wb = n(0, 10**11), n(0, 10**11)
        write(d + "/io",
              "rchar: %d\nwchar: %d\nsyscr: %d\nsyscw: %d\nread_bytes: %d\nwrite_bytes: %d\n"
              "cancelled_write_bytes: %d\n"
              % (rb * 2, wb * 2, n(0, 10**8), n(0, 10**8), rb, wb, n(0, 10**6) * 4096))
        args = {"java": ["java", "-Xmx4g", "-jar", "/opt/app/app-%d.jar" % k],
                "python3": ["/usr/bin/python3", "/srv/worker.py", "--id", str(k)],
                "node": ["node", "/srv/app/server.js"],
                "sleep": ["sleep", "infinity"]}.get(comm, ["/usr/sbin/" + comm, "-c", "/etc/%s.conf" % comm])
        write(d + "/cmdline", "\0".join(args) + "\0")
        write(d + "/comm", comm + "\n")
        nofile = R.choice([1024, 65536, 1048576])
        write(d + "/limits",
              "Limit                     Soft Limit           Hard Limit           Units     \n"
              "Max cpu time              unlimited            unlimited            seconds   \n"
              "Max file size             unlimited            unlimited            bytes     \n"
              "Max data size             unlimited            unlimited            bytes     \n"
              "Max stack size            8388608              unlimited            bytes     \n"
              "Max core file size        0                    unlimited            bytes     \n"
              "Max resident set          unlimited            unlimited            bytes     \n"
              "Max processes             63413                63413                processes \n"
              "Max open files            %-20d %-20d files     \n"
              "Max locked memory         8388608              8388608              bytes     \n"
              "Max address space         unlimited            unlimited            bytes     \n"
              "Max file locks            unlimited            unlimited            locks     \n"
              "Max pending signals       63413                63413                signals   \n"
              "Max msgqueue size         819200               819200               bytes     \n"
              "Max nice priority         0                    0                    \n"
              "Max realtime priority     0                    0                    \n"
              "Max realtime timeout      unlimited            unlimited            us        \n"
              % (nofile, nofile))
        cg = R.choice(["0::/system.slice/%s.service" % comm,
                       "0::/system.slice/docker-%064x.scope" % R.getrandbits(256),
                       "0::/user.slice/user-1000.slice/session-3.scope"])
        write(d + "/cgroup", cg + "\n")
        fds = R.choice([3, 4, 8, 16, 64])
        os.makedirs(d + "/fd")
        for fd in range(fds):
            target = "/dev/null" if fd < 3 else (
                "socket:[%d]" % (100000 + k * 64 + fd) if fd % 2 else "/var/log/%s.log" % comm)
            os.symlink(target, "%s/fd/%d" % (d, fd))
        write(d + "/sched",
              "%s (%d, #threads: %d)\n"
              "-------------------------------------------------------------------\n"
              "se.exec_start                                :    %d.%06d\n"
              "se.vruntime                                  :    %d.%06d\n"
              "se.sum_exec_runtime                          :    %d.%06d\n"
              "se.nr_migrations                             :    %d\n"
              "nr_switches                                  :    %d\n"
              "nr_voluntary_switches                        :    %d\n"
              "nr_involuntary_switches                      :    %d\n"
              "se.load.weight                               :    1048576\n"
              "policy                                       :    0\n"
              "prio                                         :    120\n"
              % (comm, pid, threads, n(0, 10**9), n(0, 999999), n(0, 10**7), n(0, 999999),
                 n(0, 10**7), n(0, 999999), n(0, 10**5), n(0, 10**6), n(0, 10**6), n(0, 10**5)))
        rss = rss_pages * 4
        write(d + "/smaps_rollup",
              "55d1a2b3c000-7ffd4e5f6000 ---p 00000000 00:00 0                          [rollup]\n"
              "Rss:            %8d kB\nPss:            %8d kB\nPss_Anon:       %8d kB\n"
              "Pss_File:       %8d kB\nPss_Shmem:             0 kB\nShared_Clean:   %8d kB\n"
              "Shared_Dirty:          0 kB\nPrivate_Clean:  %8d kB\nPrivate_Dirty:  %8d kB\n"
              "Referenced:     %8d kB\nAnonymous:      %8d kB\nSwap:                  0 kB\n"
              "SwapPss:               0 kB\n"
              % (rss, rss * 9 // 10, rss * 6 // 10, rss * 3 // 10, rss // 10, rss // 2,
                 rss * 4 // 10, rss, rss * 6 // 10))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_tree.py OUT_DIR")
    out = sys.argv[1]
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
    if os.path.exists(out):
        shutil.rmtree(out)
    copy_fixtures(src, out)
    p, s = out + "/proc", out + "/sys"
    proc_stat(p)
    proc_interrupts(p)
    proc_diskstats(p)
    net(p, s)
    sys_cpu(s, p)
    processes(p)


if __name__ == "__main__":
    main()
