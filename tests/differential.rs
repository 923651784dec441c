//! Differential test against the real node_exporter (Debian's `prometheus-node-exporter`, 1.5):
//! both read the same fixture tree with the same collectors; every series both emit must have
//! the same value, and at least 95% of node_exporter's series must exist in ours.
//!
//! `make test` installs node_exporter (`make deps`); without it this test fails, never skips.
mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{name_of, parse_exposition, Series};

const COLLECTORS: &[&str] = &[
    "arp",
    "bcache",
    "bonding",
    "btrfs",
    "buddyinfo",
    "conntrack",
    "cpu",
    "cpufreq",
    "diskstats",
    "dmi",
    "edac",
    "entropy",
    "fibrechannel",
    "filefd",
    "filesystem",
    "hwmon",
    "infiniband",
    "interrupts",
    "ipvs",
    "ksmd",
    "lnstat",
    "loadavg",
    "mdadm",
    "meminfo",
    "meminfo_numa",
    "mountstats",
    "netclass",
    "netdev",
    "netstat",
    "nfs",
    "nfsd",
    "nvme",
    "os",
    "powersupplyclass",
    "pressure",
    "processes",
    "rapl",
    "schedstat",
    "selinux",
    "slabinfo",
    "sockstat",
    "softnet",
    "stat",
    "sysctl",
    "tapestats",
    "textfile",
    "thermal_zone",
    "time",
    "timex",
    "udp_queues",
    "uname",
    "vmstat",
    "xfs",
    "zfs",
    "zoneinfo",
];

/// Options of collectors above that are off by default, given to both exporters.
const OPTIONS: &[&str] = &[
    "--collector.cpu.info",
    "--collector.cpu.info.flags-include=^(aes|avx.*|sse4_2|sha_ni|vmx)$",
    "--collector.cpu.info.bugs-include=.",
    "--collector.stat.softirq",
    "--collector.sysctl.include=vm.swappiness",
    "--collector.sysctl.include=net.ipv4.ip_forward",
    "--collector.sysctl.include=net.ipv4.tcp_rmem",
    "--collector.sysctl.include=net.ipv4.ip_local_port_range:low,high",
    "--collector.sysctl.include-info=net.ipv4.tcp_available_congestion_control",
    "--collector.sysctl.include-info=net.ipv4.tcp_congestion_control",
];

/// Collectors node_exporter 1.5 does not have (watchdog came in 1.8, softirqs in 1.6,
/// kernel_hung and dmmultipath later): their rows show proctap's series only; unit tests check them on
/// captured text.
const NEWER: &[(&str, &str)] = &[
    ("dmmultipath", "node_dmmultipath_"),
    ("kernel_hung", "node_kernel_hung_"),
    ("watchdog", "node_watchdog_"),
    ("softirqs", "node_softirqs_functions_total"),
];

/// Families later node_exporters added to collectors 1.5 has (proctap exports them too): the
/// differential has no values for them; unit tests check them on captured text.
const LATER: &[&str] = &[
    "node_mountstats_nfs_operations_errors_total",
    "node_mountstats_nfs_mountpoint_info",
    "node_nvme_namespace_info",
    "node_nvme_namespace_capacity_bytes",
    "node_nvme_namespace_logical_block_size_bytes",
    "node_nvme_namespace_size_bytes",
    "node_nvme_namespace_used_bytes",
    // infiniband's hw_counters/
    "node_infiniband_duplicate_requests_packets_total",
    "node_infiniband_implied_nak_seq_errors_total",
    "node_infiniband_lifespan_seconds",
    "node_infiniband_local_ack_timeout_errors_total",
    "node_infiniband_np_cnp_packets_sent_total",
    "node_infiniband_np_ecn_marked_roce_packets_received_total",
    "node_infiniband_out_of_buffer_drops_total",
    "node_infiniband_out_of_sequence_packets_received_total",
    "node_infiniband_packet_sequence_errors_total",
    "node_infiniband_req_cqes_errors_total",
    "node_infiniband_req_cqes_flush_errors_total",
    "node_infiniband_req_remote_access_errors_total",
    "node_infiniband_req_remote_invalid_request_errors_total",
    "node_infiniband_resp_cqes_errors_total",
    "node_infiniband_resp_cqes_flush_errors_total",
    "node_infiniband_resp_local_length_errors_total",
    "node_infiniband_resp_remote_access_errors_total",
    "node_infiniband_rnr_nak_retry_packets_received_total",
    "node_infiniband_roce_adp_retransmits_total",
    "node_infiniband_roce_adp_retransmits_timeout_total",
    "node_infiniband_roce_slow_restart_used_total",
    "node_infiniband_roce_slow_restart_cnps_total",
    "node_infiniband_roce_slow_restart_total",
    "node_infiniband_rp_cnp_packets_handled_total",
    "node_infiniband_rp_cnp_ignored_packets_received_total",
    "node_infiniband_rx_atomic_requests_total",
    "node_infiniband_rx_dct_connect_requests_total",
    "node_infiniband_rx_icrc_encapsulated_errors_total",
    "node_infiniband_rx_read_requests_total",
    "node_infiniband_rx_write_requests_total",
];

/// Series whose values come from the clock, or from the live disk under fixtures/ (free space
/// changes between the two exporters' reads).
const CLOCK: &[&str] = &[
    "node_time_seconds",
    // adjtimex(2) of the live kernel: live_timex_matches_node_exporter compares these.
    "node_timex_estimated_error_seconds",
    "node_timex_frequency_adjustment_ratio",
    "node_timex_maxerror_seconds",
    "node_timex_offset_seconds",
    "node_timex_status",
    "node_timex_sync_status",
    "node_filesystem_avail_bytes",
    "node_filesystem_files_free",
    "node_filesystem_free_bytes",
];

/// Series node_exporter 1.5 takes from the live host whatever --path.* say: go-selinux looks
/// for selinuxfs in the exporter's own mounts, proctap under --path.sysfs (the fixtures have an
/// enforcing SELinux host). The live test below compares it.
const LIVE_HOST: &[&str] = &["node_selinux_enabled"];

/// Runs node_exporter with exactly `collectors` enabled and returns one scrape.
/// `paths` is common::fixture_args() or nothing; with the fixtures it has
/// --no-collector.netdev.netlink (1.5 reads netdev through netlink by default, which sees the
/// live host), which kingpin takes only once.
fn node_exporter(collectors: &[&str], paths: &[String]) -> String {
    let exe = common::require("prometheus-node-exporter");
    let addr = common::free_addr();
    let mut cmd = Command::new(exe);
    cmd.arg(format!("--web.listen-address={addr}"))
        .arg("--collector.disable-defaults")
        // Debian's build excludes ^lo$ by default; proctap (like upstream) excludes nothing.
        .arg("--collector.netdev.device-exclude=")
        .args(paths)
        .args(OPTIONS)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for c in collectors {
        cmd.arg(format!("--collector.{c}"));
    }
    let _child = common::Killed(cmd.spawn().expect("start node_exporter"));
    let start = Instant::now();
    loop {
        if let Some(body) = common::get_metrics(&addr) {
            return body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "node_exporter did not answer on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn proctap(collectors: &[&str], paths: &[String]) -> String {
    let out = Command::new(common::bin())
        .arg("once")
        .arg(format!("--collectors={}", collectors.join(",")))
        .args(paths)
        .args(OPTIONS)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn comparable(key: &str) -> bool {
    let name = name_of(key);
    !(name.starts_with("go_")
        || name.starts_with("process_")
        || name.starts_with("promhttp_")
        || name.starts_with("node_exporter_")
        || name.starts_with("proctap_")
        || name == "node_scrape_collector_duration_seconds")
}

/// Which collector a node_exporter family belongs to, for the per-collector counts.
fn collector_of(name: &str) -> &'static str {
    const PREFIXES: &[(&str, &str)] = &[
        ("node_arp_", "arp"),
        ("node_buddyinfo_", "buddyinfo"),
        ("node_ksmd_", "ksmd"),
        ("node_sysctl_", "sysctl"),
        ("node_nvme_", "nvme"),
        ("node_infiniband_", "infiniband"),
        ("node_fibrechannel_", "fibrechannel"),
        ("node_tape_", "tapestats"),
        ("node_ipvs_", "ipvs"),
        ("node_lnstat_", "lnstat"),
        ("node_rapl_", "rapl"),
        ("node_dmi_", "dmi"),
        ("node_slabinfo_", "slabinfo"),
        ("node_zoneinfo_", "zoneinfo"),
        ("node_memory_numa_", "meminfo_numa"),
        ("node_bcache_", "bcache"),
        ("node_btrfs_", "btrfs"),
        ("node_edac_", "edac"),
        ("node_mountstats_", "mountstats"),
        ("node_nfs_", "nfs"),
        ("node_nfsd_", "nfsd"),
        ("node_selinux_", "selinux"),
        ("node_xfs_", "xfs"),
        ("node_zfs_", "zfs"),
        ("node_bonding_", "bonding"),
        ("node_md_", "mdadm"),
        ("node_power_supply_", "powersupplyclass"),
        ("node_processes_", "processes"),
        ("node_timex_", "timex"),
        ("node_udp_queues", "udp_queues"),
        ("node_cpu_info", "cpu.info"),
        ("node_cpu_flag_info", "cpu.info"),
        ("node_cpu_bug_info", "cpu.info"),
        ("node_softirqs_total", "stat.softirq"),
        ("node_disk_info", "disk.udev"),
        ("node_disk_ata_", "disk.udev"),
        ("node_disk_device_mapper_info", "disk.udev"),
        ("node_disk_filesystem_info", "disk.udev"),
        ("node_hwmon_", "hwmon"),
        ("node_thermal_zone_", "thermal_zone"),
        ("node_cooling_device_", "thermal_zone"),
        ("node_cpu_frequency_", "cpufreq"),
        ("node_cpu_scaling_frequency_", "cpufreq"),
        ("node_nf_conntrack_", "conntrack"),
        ("node_filesystem_", "filesystem"),
        ("node_os_", "os"),
        ("node_schedstat_", "schedstat"),
        ("node_softnet_", "softnet"),
        ("node_textfile_", "textfile"),
        ("node_cpu_", "cpu"),
        ("node_disk_", "diskstats"),
        ("node_entropy_", "entropy"),
        ("node_filefd_", "filefd"),
        ("node_interrupts_", "interrupts"),
        ("node_load", "loadavg"),
        ("node_memory_", "meminfo"),
        ("node_network_receive_", "netdev"),
        ("node_network_transmit_", "netdev"),
        ("node_network_", "netclass"),
        ("node_netstat_", "netstat"),
        ("node_pressure_", "pressure"),
        ("node_sockstat_", "sockstat"),
        ("node_time_", "time"),
        ("node_uname_", "uname"),
        ("node_vmstat_", "vmstat"),
        ("node_scrape_", "meta"),
    ];
    // Series from the textfile collector's *.prom files have names of their own.
    if !name.starts_with("node_") {
        return "textfile";
    }
    // netclass's transmit_queue_length is not a netdev counter.
    if name == "node_network_transmit_queue_length" {
        return "netclass";
    }
    PREFIXES
        .iter()
        .find(|(p, _)| name.starts_with(p))
        .map(|(_, c)| *c)
        .unwrap_or("stat")
}

fn same_value(a: f64, b: f64) -> bool {
    if a == b || (a.is_nan() && b.is_nan()) {
        return true;
    }
    // node_exporter prints integers through float64, so only non-integers get a tolerance.
    if a.fract() == 0.0 && b.fract() == 0.0 {
        return false;
    }
    ((a - b) / a.abs().max(b.abs())).abs() <= 1e-9
}

#[derive(Default, Debug)]
struct Counts {
    theirs: usize,
    matched: usize,
    equal: usize,
}

#[test]
fn fixtures_match_node_exporter() {
    let paths = common::fixture_args();
    let (theirs, their_types) = parse_exposition(&node_exporter(COLLECTORS, &paths));
    let mut ours_collectors = COLLECTORS.to_vec();
    ours_collectors.extend(NEWER.iter().map(|(c, _)| *c));
    let (ours, our_types) = parse_exposition(&proctap(&ours_collectors, &paths));
    let newer = |k: &str| {
        NEWER
            .iter()
            .any(|(c, p)| name_of(k).starts_with(p) || k.contains(&format!("collector=\"{c}\"")))
    };

    let mut per: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut missing = Vec::new();
    let mut unequal = Vec::new();
    for (key, &want) in theirs.iter().filter(|(k, _)| comparable(k)) {
        let c = per.entry(collector_of(name_of(key))).or_default();
        c.theirs += 1;
        let Some(&got) = ours.get(key) else {
            missing.push(key.clone());
            continue;
        };
        c.matched += 1;
        if CLOCK.contains(&name_of(key))
            || LIVE_HOST.contains(&name_of(key))
            || same_value(want, got)
        {
            c.equal += 1;
        } else {
            unequal.push(format!("{key}: node_exporter {want}, proctap {got}"));
        }
    }
    let extra: Vec<&String> = ours
        .keys()
        .filter(|k| {
            comparable(k) && !newer(k) && !LATER.contains(&name_of(k)) && !theirs.contains_key(*k)
        })
        .collect();
    let mut type_diffs = Vec::new();
    for (fam, t) in &their_types {
        if let Some(ours_t) = our_types.get(fam) {
            if ours_t != t {
                type_diffs.push(format!("{fam}: node_exporter {t}, proctap {ours_t}"));
            }
        }
    }

    let total: Counts = per.values().fold(Counts::default(), |a, c| Counts {
        theirs: a.theirs + c.theirs,
        matched: a.matched + c.matched,
        equal: a.equal + c.equal,
    });
    println!("differential vs node_exporter 1.5 on fixtures/ (series: node_exporter / present in proctap / equal value):");
    for (c, n) in &per {
        println!("  {c:<16} {:>5} {:>5} {:>5}", n.theirs, n.matched, n.equal);
    }
    println!(
        "  {:<16} {:>5} {:>5} {:>5}",
        "total", total.theirs, total.matched, total.equal
    );
    for (c, prefix) in NEWER {
        let n = ours
            .keys()
            .filter(|k| name_of(k).starts_with(prefix))
            .count();
        println!("  {c:<16}     - {n:>5}     -   (not in node_exporter 1.5)");
        assert!(n > 0, "{c}: no series on the fixtures");
    }
    for name in LATER {
        let n = ours.keys().filter(|k| name_of(k) == *name).count();
        println!("  {name}: {n} series (not in node_exporter 1.5)");
        assert!(n > 0, "{name}: no series on the fixtures");
    }
    println!("  proctap-only series: {}", extra.len());
    for k in extra.iter().take(20) {
        println!("    + {k}");
    }
    for k in missing.iter().take(40) {
        println!("    - {k}");
    }

    assert!(
        total.theirs > 500,
        "node_exporter produced too few series: {}",
        total.theirs
    );
    assert!(unequal.is_empty(), "values differ:\n{}", unequal.join("\n"));
    assert!(
        type_diffs.is_empty(),
        "types differ:\n{}",
        type_diffs.join("\n")
    );
    let ratio = total.matched as f64 / total.theirs as f64;
    assert!(
        ratio >= 0.95,
        "only {:.1}% of node_exporter's series are in proctap's output; missing:\n{}",
        ratio * 100.0,
        missing.join("\n")
    );
    let failed: Vec<_> = ours
        .iter()
        .filter(|(k, v)| k.starts_with("node_scrape_collector_success") && **v != 1.0)
        .collect();
    assert!(
        failed.is_empty(),
        "collectors failed on the fixtures: {failed:?}"
    );
}

/// `timex` reads adjtimex(2) of this kernel: proctap, node_exporter, proctap again. Offset
/// and status must equal one of proctap's two readings; every other value must lie between
/// them (the error bounds grow and counters count between reads).
#[test]
fn live_timex_matches_node_exporter() {
    let before = parse_exposition(&proctap(&["timex"], &[])).0;
    let (theirs, their_types) = parse_exposition(&node_exporter(&["timex"], &[]));
    let (after, our_types) = parse_exposition(&proctap(&["timex"], &[]));
    let timex = |s: &Series| -> Vec<String> {
        s.keys()
            .filter(|k| k.starts_with("node_timex_"))
            .cloned()
            .collect()
    };
    let mut ours = timex(&after);
    // node_exporter 1.10 added it; 1.5 does not have it.
    ours.retain(|k| k != "node_timex_offset_overflow_total");
    assert_eq!(ours, timex(&theirs), "the same node_timex_* series");
    assert_eq!(ours.len(), 17);
    for key in &ours {
        let (a, b, t) = (before[key], after[key], theirs[key]);
        if key == "node_timex_offset_seconds" || key == "node_timex_status" {
            assert!(
                t == a || t == b,
                "{key}: node_exporter {t}, proctap {a} then {b}"
            );
        } else {
            assert!(
                a.min(b) <= t && t <= a.max(b),
                "{key}: node_exporter {t}, proctap {a} then {b}"
            );
        }
        assert_eq!(their_types.get(key), our_types.get(key), "{key}: type");
    }
    println!(
        "timex: {} series equal node_exporter's (offset {} s, status {}, sync {})",
        ours.len(),
        theirs["node_timex_offset_seconds"],
        theirs["node_timex_status"],
        theirs["node_timex_sync_status"]
    );
}

/// `uname` and `time` read syscalls and the clock, and node_exporter decides `selinux`'s
/// enabled from the live host: compare them on the live host by series.
#[test]
fn live_uname_and_time_match_node_exporter() {
    let collectors = ["uname", "time", "selinux"];
    let (theirs, _) = parse_exposition(&node_exporter(&collectors, &[]));
    let (ours, _) = parse_exposition(&proctap(&collectors, &[]));
    let keys =
        |s: &Series| -> Vec<String> { s.keys().filter(|k| comparable(k)).cloned().collect() };
    assert_eq!(keys(&ours), keys(&theirs));
    let uname = theirs
        .keys()
        .find(|k| k.starts_with("node_uname_info{"))
        .expect("uname series");
    assert_eq!(ours.get(uname), Some(&1.0));
    assert_eq!(
        ours.get("node_selinux_enabled"),
        theirs.get("node_selinux_enabled")
    );
    let now_theirs = theirs["node_time_seconds"];
    let now_ours = ours["node_time_seconds"];
    assert!(
        (now_theirs - now_ours).abs() < 30.0,
        "{now_theirs} vs {now_ours}"
    );
}
