//! The static musl builds (`make static-all tiny`; DESIGN.md: "Size"): each statically linked
//! and stripped; each release build, run natively or under qemu with the CPU its routers have,
//! prints the golden output on the fixtures, which is where a byte-order bug of a parser would
//! show on big-endian MIPS; each tiny build prints what the default build prints with the same
//! collectors. `make test` builds them all (through `make size-check`) and runs these; plain
//! `cargo test` lists them as ignored.
mod common;

use std::path::PathBuf;
use std::process::Command;

/// How to run a target's binary here: natively, or with this qemu and `-cpu`.
fn runner(target: &str) -> Option<(&'static str, &'static str)> {
    match target {
        "x86_64-unknown-linux-musl" => None,
        "aarch64-unknown-linux-musl" => Some(("qemu-aarch64-static", "cortex-a53")),
        "armv7-unknown-linux-musleabihf" => Some(("qemu-arm-static", "cortex-a7")),
        "arm-unknown-linux-musleabihf" => Some(("qemu-arm-static", "arm1176")),
        "mipsel-unknown-linux-musl" => Some(("qemu-mipsel-static", "24Kc")),
        "mips-unknown-linux-musl" => Some(("qemu-mips-static", "24Kc")),
        other => panic!("no runner for {other}"),
    }
}

/// The collectors a router or single-board computer uses (issue 11's list and the process
/// groups): every build keeps them.
const TINY_COLLECTORS: &[&str] = &[
    "arp",
    "conntrack",
    "cpu",
    "cpufreq",
    "diskstats",
    "entropy",
    "filefd",
    "filesystem",
    "hwmon",
    "interrupts",
    "loadavg",
    "meminfo",
    "namedprocess",
    "netclass",
    "netdev",
    "netstat",
    "pressure",
    "sockstat",
    "softnet",
    "stat",
    "textfile",
    "thermal_zone",
    "time",
    "uname",
    "vmstat",
];

/// The host and router collectors of the cargo feature `extras`: the router CPUs' release
/// builds keep them, the tiny build leaves them out.
const EXTRAS_COLLECTORS: &[&str] = &[
    "bonding",
    "mdadm",
    "os",
    "powersupplyclass",
    "processes",
    "schedstat",
    "softirqs",
    "timex",
    "udp_queues",
    "watchdog",
];

/// The server collectors (cargo feature `server`), which the tiny build leaves out.
const SERVER_COLLECTORS: &[&str] = &[
    "bcache",
    "btrfs",
    "buddyinfo",
    "dmi",
    "dmmultipath",
    "edac",
    "ethtool",
    "fibrechannel",
    "infiniband",
    "ipvs",
    "kernel_hung",
    "ksmd",
    "lnstat",
    "meminfo_numa",
    "mountstats",
    "nfs",
    "nfsd",
    "nvme",
    "rapl",
    "selinux",
    "slabinfo",
    "sysctl",
    "tapestats",
    "tcpstat",
    "xfs",
    "zfs",
    "zoneinfo",
];

fn binary(target: &str, profile: &str) -> PathBuf {
    let path = common::target_dir().join(format!("{target}/{profile}/proctap"));
    assert!(
        path.is_file(),
        "{} is missing: run `make static-all tiny` (make test does)",
        path.display()
    );
    path
}

fn assert_static(target: &str, profile: &str) {
    common::require("file");
    let out = Command::new("file")
        .arg(binary(target, profile))
        .output()
        .unwrap();
    let desc = String::from_utf8(out.stdout).unwrap();
    assert!(
        desc.contains("statically linked") || desc.contains("static-pie linked"),
        "{desc}"
    );
    assert!(
        desc.contains("stripped") && !desc.contains("not stripped"),
        "{desc}"
    );
}

/// `proctap once` of a target's build on the fixtures, with `extra` arguments.
fn run_once(target: &str, profile: &str, extra: &[&str]) -> std::process::Output {
    let bin = binary(target, profile);
    let mut cmd = match runner(target) {
        None => Command::new(bin),
        Some((qemu, cpu)) => {
            let mut c = Command::new(common::require(qemu));
            c.args(["-cpu", cpu]).arg(bin);
            c
        }
    };
    cmd.arg("once")
        .args(common::fixture_args())
        .args(extra)
        .output()
        .unwrap()
}

/// The output of a `proctap once` with the golden test's flags in which every collector
/// succeeded.
fn once(target: &str, profile: &str) -> String {
    let out = run_once(target, profile, common::GOLDEN_FLAGS);
    assert!(
        out.status.success(),
        "{target} {profile}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// No line differs by architecture: page size and USER_HZ are the same on all of them, and the
/// volatile families (uname, the process's own metrics) are filtered as in the e2e test.
fn assert_golden(target: &str) {
    let got = common::stable_lines(&once(target, "release"));
    let want = std::fs::read_to_string(common::fixtures().join("e2e-output.txt")).unwrap();
    if got != want {
        let first = got
            .lines()
            .zip(want.lines())
            .find(|(g, w)| g != w)
            .map(|(g, w)| format!("got  {g}\nwant {w}"))
            .unwrap_or_else(|| "one output is a prefix of the other".into());
        panic!("{target} output differs from fixtures/e2e-output.txt:\n{first}");
    }
}

/// The collectors whose `node_scrape_collector_success` a scrape reports, in output order.
fn collectors_of(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| l.strip_prefix("node_scrape_collector_success{collector=\""))
        .filter_map(|l| l.split('"').next())
        .map(str::to_string)
        .collect()
}

/// The tiny build keeps every tiny collector, leaves out the `extras` ones, and prints what the
/// default build prints with the same collectors; asking for a left-out one is a warning.
fn assert_tiny(target: &str) {
    assert_router_build(target, "tiny", false);
    let out = run_once(
        target,
        "tiny",
        &["--collector.qdisc", "--collector.cpu.info"],
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stdout.contains("node_qdisc_") && !stdout.contains("node_cpu_info{"),
        "{stdout}"
    );
    for want in [
        "--collector.qdisc: proctap has no qdisc collector (this tiny build leaves it out); ignored",
        "--collector.cpu.info: this tiny build has no node_cpu_info; ignored",
    ] {
        assert!(stderr.contains(want), "missing {want:?} in\n{stderr}");
    }
}

/// A build without the server collectors (the tiny ones, and the router CPUs' release builds):
/// every tiny collector is there, the `extras` ones where `extras` says, no server one, and the
/// output is the default build's with the same collectors (where a byte-order bug of a parser
/// would show on big-endian MIPS).
fn assert_router_build(target: &str, profile: &str, extras: bool) {
    let tiny = once(target, profile);
    let collectors = collectors_of(&tiny);
    for c in TINY_COLLECTORS {
        assert!(
            collectors.iter().any(|k| k == c),
            "{target} {profile} lacks {c}: {collectors:?}"
        );
    }
    for c in EXTRAS_COLLECTORS {
        assert_eq!(
            collectors.iter().any(|k| k == c),
            extras,
            "{target} {profile}: {c} in {collectors:?}"
        );
    }
    for c in SERVER_COLLECTORS {
        assert!(
            !collectors.iter().any(|k| k == c),
            "{target} {profile} has the server collector {c}: {collectors:?}"
        );
    }
    let list = format!("--collectors={}", collectors.join(","));
    // The default build is not asked for what the build under test ignores: a server collector
    // (`--collector.mountstats` would turn it on next to --collectors) and, without `extras`, an
    // `extras` collector or the cpu collector's node_cpu_info.
    let named = |f: &str, cs: &[&str]| cs.iter().any(|c| f.strip_prefix("--collector.") == Some(c));
    let left_out = |f: &&&str| {
        named(f, SERVER_COLLECTORS)
            || (!extras && (f.starts_with("--collector.cpu.info") || named(f, EXTRAS_COLLECTORS)))
    };
    let flags = common::GOLDEN_FLAGS.iter().filter(|f| !left_out(f));
    let default = Command::new(common::bin())
        .arg("once")
        .args(common::fixture_args())
        .arg(&list)
        .args(flags)
        .output()
        .unwrap();
    assert!(default.status.success());
    let default = String::from_utf8(default.stdout).unwrap();
    assert!(
        common::stable_lines(&tiny) == common::stable_lines(&default),
        "{target} {profile} output differs from the default build's with {list}"
    );

    // Asking for a left-out collector is node_exporter's flag for a collector this build has
    // not: a warning naming why, and the scrape goes on without it.
    let left_out = run_once(target, profile, &["--collector.nfs"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&left_out.stdout),
        String::from_utf8_lossy(&left_out.stderr),
    );
    assert!(left_out.status.success(), "{stderr}");
    assert!(
        !stdout.contains("collector=\"nfs\"") && !stdout.contains("node_nfs_"),
        "{stdout}"
    );
    assert!(
        stderr.contains("--collector.nfs: proctap has no nfs collector (this build has no server collectors); ignored"),
        "{stderr}"
    );
}

macro_rules! release {
    ($($name:ident: $target:literal $kind:ident,)*) => {$(
        mod $name {
            #[test]
            #[ignore = "needs the static builds: make test runs it"]
            fn is_static_and_stripped() {
                super::assert_static($target, "release");
            }

            #[test]
            #[ignore = "needs the static builds: make test runs it"]
            fn prints_the_golden_output() {
                super::assert_release($target, stringify!($kind));
            }
        }
    )*};
}

release! {
    x86_64: "x86_64-unknown-linux-musl" golden,
    aarch64: "aarch64-unknown-linux-musl" golden,
    armv7: "armv7-unknown-linux-musleabihf" router,
    armv6: "arm-unknown-linux-musleabihf" router,
    mipsel: "mipsel-unknown-linux-musl" router,
    mips: "mips-unknown-linux-musl" router,
}

/// What a release build prints on the fixtures: the golden file (x86_64, aarch64) or, for the
/// router CPUs built without the server collectors, the default build's with their collectors.
fn assert_release(target: &str, kind: &str) {
    match kind {
        "golden" => assert_golden(target),
        _ => assert_router_build(target, "release", true),
    }
}

#[test]
#[ignore = "needs the static builds: make test runs it"]
fn tiny_x86_64() {
    assert_static("x86_64-unknown-linux-musl", "tiny");
    assert_tiny("x86_64-unknown-linux-musl");
}

#[test]
#[ignore = "needs the static builds: make test runs it"]
fn tiny_aarch64() {
    assert_static("aarch64-unknown-linux-musl", "tiny");
    assert_tiny("aarch64-unknown-linux-musl");
}
