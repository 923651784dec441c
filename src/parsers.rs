//! Every pure parser by name, as a `fn(&str)` that runs it to the end and drops the result.
//! The in-tree randomized test below and the cargo-fuzz targets in fuzz/ drive this one table,
//! so a new parser is fuzzed once it has a line here (and `make fuzz-targets` writes its target).
use std::path::Path;

use crate::collector::{
    arp, conntrack, cpu, cpufreq, diskstats, entropy, filefd, filesystem, hwmon, interrupts,
    loadavg, meminfo, namedprocess, netclass, netdev, netstat, pressure, selfproc, sockstat,
    softnet, stat, textfile, thermal_zone, time, udev, vmstat,
};
#[cfg(feature = "server")]
use crate::collector::{
    bcache, btrfs, buddyinfo, edac, kernel_hung, ksmd, lnstat, meminfo_numa, mountstats, nfs, nfsd,
    selinux, slabinfo, sysctl, xfs, zfs, zoneinfo,
};
#[cfg(feature = "extras")]
use crate::collector::{
    bonding, cpuinfo, mdadm, os, powersupplyclass, processes, schedstat, softirqs, udp_queues,
    watchdog,
};

pub type Parser = fn(&str);

/// Takes any result and drops it (`drop` on a Copy or borrowed value draws a lint).
fn sink<T>(_: T) {}

pub const ALL: &[(&str, Parser)] = &[
    ("arp", |t| arp::parse_arp(t).for_each(drop)),
    ("conntrack_count", |t| {
        sink(conntrack::parse_count(t, "count"))
    }),
    ("conntrack_stat", |t| {
        sink(conntrack::parse_conntrack_stat(t))
    }),
    ("conntrack_hex", |t| sink(conntrack::hex_at(t, 1, "hex"))),
    ("cpu_lines", |t| cpu::cpu_lines(t).for_each(drop)),
    ("cpu_state", |t| {
        sink(cpu::State::default().update(t, 100.0))
    }),
    ("cpu_list", |t| sink(cpu::for_each_listed_cpu(t, drop))),
    ("cpufreq_khz", |t| sink(cpufreq::parse_khz(t))),
    ("diskstats", |t| {
        diskstats::parse_diskstats(t).for_each(drop)
    }),
    ("entropy_bits", |t| sink(entropy::parse_bits(t, "bits"))),
    ("filefd", |t| sink(filefd::parse_file_nr(t))),
    ("mounts", |t| filesystem::parse_mounts(t).for_each(drop)),
    ("hwmon_float", |t| sink(hwmon::go_parse_float(t))),
    ("interrupts", |t| {
        if let Ok((_, rows)) = interrupts::parse_interrupts(t) {
            rows.for_each(drop);
        }
    }),
    ("loadavg", |t| sink(loadavg::parse_loadavg(t))),
    ("meminfo", |t| meminfo::parse_meminfo(t).for_each(drop)),
    ("netclass_int", |t| sink(netclass::parse_attr_int(t))),
    ("netdev", |t| netdev::parse_net_dev(t).for_each(drop)),
    ("netstat_pairs", |t| {
        sink(netstat::parse_pairs(t, &mut |_, _, _, _| {}))
    }),
    ("netstat_snmp6", |t| {
        netstat::parse_snmp6(t, &mut |_, _, _, _| {})
    }),
    ("netstat_value", |t| {
        sink(netstat::parse_value(t, "Tcp", "InSegs", 1))
    }),
    #[cfg(feature = "extras")]
    ("os_release", |t| {
        sink(os::parse_os_release(t, &mut String::new()))
    }),
    ("pressure", |t| sink(pressure::parse_psi(t))),
    #[cfg(feature = "extras")]
    ("schedstat", |t| {
        schedstat::parse_schedstat(t).for_each(drop)
    }),
    ("selfproc_stat", |t| sink(selfproc::parse_stat(t))),
    ("sockstat", |t| sockstat::parse_sockstat(t).for_each(drop)),
    ("softnet", |t| softnet::parse_softnet(t).for_each(drop)),
    ("stat", |t| sink(stat::parse_stat(t))),
    ("textfile", |t| sink(textfile::parse::parse(t))),
    ("textfile_value", |t| sink(textfile::parse::parse_value(t))),
    ("thermal_int", |t| sink(thermal_zone::parse_int(t, "temp"))),
    ("clocksources", |t| time::parse_available(t).for_each(drop)),
    ("vmstat", |t| vmstat::parse_vmstat(t).for_each(drop)),
    ("pid_stat", |t| sink(namedprocess::parse::parse_stat(t))),
    ("pid_status", |t| sink(namedprocess::parse::parse_status(t))),
    ("pid_io", |t| sink(namedprocess::parse::parse_io(t))),
    ("pid_sched", |t| sink(namedprocess::parse::parse_sched(t))),
    ("pid_smaps_rollup", |t| {
        sink(namedprocess::parse::parse_smaps_rollup(t))
    }),
    ("pid_limits", |t| {
        sink(namedprocess::parse::parse_limits_max_open_files(t))
    }),
    ("net_sockets", |t| {
        namedprocess::parse::parse_net_sockets(t, namedprocess::parse::Proto::Tcp6).for_each(drop)
    }),
    ("passwd", |t| {
        namedprocess::parse::parse_passwd(t).for_each(drop)
    }),
    ("comm", |t| sink(namedprocess::parse::parse_comm(t))),
    ("proc_rules", |t| {
        sink(namedprocess::classify::parse_rules(Path::new("rules"), t))
    }),
    ("config", |t| {
        sink(crate::config::parse(Path::new("proctap.conf"), t))
    }),
    ("yaml", |t| sink(crate::yaml::parse(t))),
    ("pe_config", |t| {
        sink(namedprocess::naming::parse_config(Path::new("pe.yml"), t))
    }),
    ("number", |t| {
        sink(crate::parse::u64_at(t, 1, "n"));
        sink(crate::parse::i64_at(t, 1, "n"));
        sink(crate::parse::f64_at(t, 1, "n"));
    }),
    #[cfg(feature = "extras")]
    ("mdstat", |t| mdadm::parse_mdstat(t).for_each(drop)),
    #[cfg(feature = "extras")]
    ("bonding_names", |t| bonding::parse_names(t).for_each(drop)),
    #[cfg(feature = "extras")]
    ("power_supply_value", |t| {
        sink(powersupplyclass::parse_value(t, "capacity"))
    }),
    #[cfg(feature = "extras")]
    ("watchdog_value", |t| {
        sink(watchdog::parse_value(t, "timeout"))
    }),
    #[cfg(feature = "extras")]
    ("udp_queues", |t| sink(udp_queues::parse_udp(t))),
    #[cfg(feature = "extras")]
    ("cpuinfo", |t| {
        cpuinfo::parse_cpuinfo(t).for_each(drop);
        cpuinfo::first_list(t, &["flags", "Features"]).for_each(drop);
    }),
    ("stat_softirq", |t| sink(stat::parse_softirq(t))),
    #[cfg(feature = "extras")]
    ("softirqs", |t| softirqs::parse_softirqs(t).for_each(drop)),
    ("udev_properties", |t| udev::for_each_property(t, |_, _| {})),
    #[cfg(feature = "extras")]
    ("processes_stat", |t| {
        sink(processes::parse_stat(t.as_bytes()))
    }),
    ("http_head", |t| {
        sink(crate::http::parse_head(t.as_bytes(), 8 << 10, 100))
    }),
    #[cfg(feature = "server")]
    ("mountstats", |t| {
        sink(mountstats::parse_mountstats(t, t, &mut Vec::new()))
    }),
    ("nfs", |t| sink(nfs::parse_nfs(t))),
    #[cfg(feature = "server")]
    ("nfsd", |t| sink(nfsd::parse_nfsd(t))),
    #[cfg(feature = "server")]
    ("xfs", |t| sink(xfs::parse_xfs(t))),
    #[cfg(feature = "server")]
    ("btrfs_value", |t| sink(btrfs::parse_value(t))),
    #[cfg(feature = "server")]
    ("btrfs_commit_stats", |t| sink(btrfs::parse_commit_stats(t))),
    #[cfg(feature = "server")]
    ("zfs_kstat", |t| sink(zfs::parse_kstat(t, |_, _| {}))),
    #[cfg(feature = "server")]
    ("zfs_io", |t| sink(zfs::parse_io(t))),
    #[cfg(feature = "server")]
    ("bcache_size", |t| {
        sink(bcache::dehumanize(t));
        sink(bcache::dehumanize_signed(t));
    }),
    #[cfg(feature = "server")]
    ("bcache_writeback", |t| {
        sink(bcache::parse_writeback_rate_debug(t))
    }),
    #[cfg(feature = "server")]
    ("bcache_priority", |t| sink(bcache::parse_priority_stats(t))),
    #[cfg(feature = "server")]
    ("edac_count", |t| sink(edac::parse_count(t))),
    #[cfg(feature = "server")]
    ("selinux_cache_stats", |t| {
        sink(selinux::parse_cache_stats(t))
    }),
    #[cfg(feature = "server")]
    ("selinux_hash_stats", |t| sink(selinux::parse_hash_stats(t))),
    #[cfg(feature = "server")]
    ("selinux_config", |t| sink(selinux::parse_config_mode(t))),
    #[cfg(feature = "server")]
    ("buddyinfo", |t| sink(buddyinfo::parse_buddyinfo(t, |_| {}))),
    #[cfg(feature = "server")]
    ("ksmd_value", |t| sink(ksmd::parse_value(t, "run"))),
    #[cfg(feature = "server")]
    ("kernel_hung", |t| sink(kernel_hung::parse_count(t))),
    #[cfg(feature = "server")]
    ("meminfo_numa", |t| {
        sink(meminfo_numa::parse_node_meminfo(t, drop))
    }),
    #[cfg(feature = "server")]
    ("numastat", |t| {
        sink(meminfo_numa::parse_numastat(t, |_, _| {}))
    }),
    #[cfg(feature = "server")]
    ("sysctl_ints", |t| {
        sink(sysctl::sanitize(t));
        let w = sysctl::Wanted::new("a.b:x,y");
        sink(sysctl::parse_ints(t, &w, |_, _| {}))
    }),
    #[cfg(feature = "server")]
    ("zoneinfo", |t| {
        sink(zoneinfo::parse_zoneinfo(t, &mut Vec::new()))
    }),
    #[cfg(feature = "server")]
    ("slabinfo", |t| sink(slabinfo::parse_slabinfo(t, |_| {}))),
    #[cfg(feature = "server")]
    ("lnstat", |t| sink(lnstat::parse_stat(t, |_, _, _| {}))),
    ("listen_addr", |t| sink(crate::listen::parse(t))),
];

/// The entry of the fuzz targets.
#[allow(dead_code)]
/// Runs parser `name` on `data` (lossily UTF-8, as every read is checked UTF-8 first).
pub fn run(name: &str, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some((_, f)) = ALL.iter().find(|(n, _)| *n == name) {
        f(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corrupt::Rng;

    /// Fixture files: captured kernel text that the mutations start from.
    fn corpus() -> Vec<Vec<u8>> {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"));
        let mut files = Vec::new();
        let mut dirs = vec![root.join("proc"), root.join("textfile"), root.join("etc")];
        dirs.push(root.join("sys/class/net/eth0"));
        dirs.push(root.join("proc/1"));
        dirs.push(root.join("proc/net"));
        dirs.push(root.join("proc/pressure"));
        dirs.push(root.join("proc/net/rpc"));
        dirs.push(root.join("proc/spl/kstat/zfs"));
        dirs.push(root.join("sys/fs/xfs/sdb1/stats"));
        for d in dirs {
            for e in std::fs::read_dir(d).unwrap().flatten() {
                if e.file_type().is_ok_and(|t| t.is_file()) {
                    files.push(std::fs::read(e.path()).unwrap());
                }
            }
        }
        files.push(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n".to_vec());
        files.push(std::fs::read(root.join("../examples/proctap.conf")).unwrap_or_default());
        files.push(std::fs::read(root.join("../examples/web-config.yml")).unwrap_or_default());
        files.push(
            b"process_names:\n  - name: \"{{.Comm}}:{{.Matches.x}}\"\n    comm: [a, 'b c']\n    cmdline:\n    - '(?P<x>\\w+)'\n  - exe:\n    - /usr/bin/x\n".to_vec(),
        );
        files
    }

    fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
        let mut b = base.to_vec();
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(b.len() + 1);
            match rng.below(8) {
                0 => b.truncate(at),
                1 => {
                    let n = rng.below(16);
                    let r = rng.bytes(n);
                    b.splice(at..at, r);
                }
                2 => {
                    let end = (at + rng.below(64)).min(b.len());
                    b.drain(at..end);
                }
                3 => {
                    b.splice(at..at, *b"99999999999999999999999");
                }
                4 => {
                    b.splice(at..at, *b"-");
                }
                5 => {
                    // Repeats a chunk: duplicate lines, fields and names.
                    let end = (at + rng.below(200)).min(b.len());
                    let chunk = b.get(at..end).unwrap_or(&[]).to_vec();
                    b.splice(at..at, chunk);
                }
                6 => {
                    b.splice(at..at, *b" \t\n:{}\"=\\,#");
                }
                _ => {
                    if let Some(c) = b.get_mut(at) {
                        *c = rng.next() as u8;
                    }
                }
            }
        }
        b
    }

    /// Runs every parser on random bytes and on mutated fixture text; a panic fails the test
    /// (and names the seed). `PROCTAP_FUZZ_ITERS` raises the count (`make fuzz` without
    /// cargo-fuzz does).
    #[test]
    fn parsers_survive_random_and_mutated_input() {
        let iters: u64 = std::env::var("PROCTAP_FUZZ_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300);
        let corpus = corpus();
        let started = std::time::Instant::now();
        for seed in 0..iters {
            let mut rng = Rng::new(seed);
            let input = if rng.below(4) == 0 {
                let n = rng.below(512);
                rng.bytes(n)
            } else {
                let base = &corpus[rng.below(corpus.len())];
                mutate(&mut rng, base)
            };
            let text = String::from_utf8_lossy(&input);
            for (name, f) in ALL {
                let r = std::panic::catch_unwind(|| f(&text));
                assert!(r.is_ok(), "parser {name} panicked on seed {seed}: {text:?}");
            }
        }
        println!(
            "{iters} inputs × {} parsers in {:.1?}",
            ALL.len(),
            started.elapsed()
        );
    }

    #[test]
    fn every_parser_has_a_fuzz_target() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/fuzz_targets"));
        for (name, _) in ALL {
            let target = dir.join(format!("{name}.rs"));
            assert!(
                target.exists(),
                "{} missing: run `make fuzz-targets`",
                target.display()
            );
        }
    }
}
