//! The corrupted-/proc test: a copy of the fixture tree is damaged in thousands of seeded ways and
//! collected in-process after each, asserting no panic, valid exposition text, and
//! `node_scrape_collector_success` 0 exactly where the damage must be noticed.
//!
//! In-process (a test module of the binary crate) rather than `proctap once` per variant: 2,000
//! process spawns cost more than the whole time budget, and one long-lived [`Scraper`] across all
//! variants is what a server sees: a collector must also recover after its file is repaired.
//!
//! `PROCTAP_CORRUPT_SEED=N` replays from another master seed, `PROCTAP_CORRUPT_VARIANTS=N` runs
//! more variants (`make fuzz` does); a failure prints the variant's seed and its damage.
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::collector::{self, Scraper};
use crate::server::scraper_for;

/// xorshift64*: enough randomness for choosing damage, reproducible from one u64.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Damage {
    /// Cut at a random byte: may leave a valid shorter file, so success is not determined.
    Truncate,
    /// Cut just after a newline: a valid shorter file is the point, success not determined.
    TruncateAtLine,
    /// Random bytes; when they are not UTF-8 this is [`Damage::NonUtf8`] in effect.
    Random,
    Empty,
    /// A number replaced with 99999999999999999999999 (overflows u64, fine as f64), u64::MAX
    /// or 2^32.
    HugeNumber,
    /// A number made negative (fails as u64, fine as i64/f64).
    Negative,
    /// 0xff 0xfe inserted: never UTF-8.
    NonUtf8,
    Remove,
    Directory,
    /// The file replaced with a symlink to itself: open fails with ELOOP.
    SymlinkLoop,
    /// A 100 MB sparse file: over every cap.
    Huge,
}

const KINDS: &[Damage] = &[
    Damage::Truncate,
    Damage::TruncateAtLine,
    Damage::Random,
    Damage::Empty,
    Damage::HugeNumber,
    Damage::Negative,
    Damage::NonUtf8,
    Damage::Remove,
    Damage::Directory,
    Damage::SymlinkLoop,
];

/// How the collectors reading a file must react to damage to it.
#[derive(Clone, Copy, Debug)]
enum Policy {
    /// Read with `Source::read`: any damage that makes the bytes unreadable (not UTF-8, a
    /// directory, a loop, over the cap) or removes the file must fail the collectors; an empty
    /// file must fail them when `empty_fails`.
    Required { empty_fails: bool },
    /// Read with `Source::read_optional`: like `Required`, except that a missing file is fine.
    Optional { empty_fails: bool },
    /// Read and skipped when unreadable or malformed (sysfs attributes that many drivers do not
    /// implement, textfiles that only set node_textfile_scrape_error): the collector may
    /// succeed whatever the damage, but no other collector may fail.
    Tolerant,
}

/// Which collectors read a fixture file (relative to the fixture root), and how they react.
/// Files no collector reads map to none: damaging them must not fail anything.
fn readers(rel: &str) -> (&'static [&'static str], Policy) {
    use Policy::*;
    const REQ: Policy = Required { empty_fails: true };
    let proc_file: &[(&str, &[&str], Policy)] = &[
        // Empty: no CPUs for cpu, zeros for stat (node_exporter's parser also accepts it).
        (
            "proc/stat",
            &["cpu", "stat"],
            Required { empty_fails: false },
        ),
        (
            "proc/meminfo",
            &["meminfo"],
            Required { empty_fails: false },
        ),
        ("proc/loadavg", &["loadavg"], REQ),
        (
            "proc/diskstats",
            &["diskstats"],
            Required { empty_fails: false },
        ),
        ("proc/interrupts", &["interrupts"], REQ),
        ("proc/vmstat", &["vmstat"], Required { empty_fails: false }),
        (
            "proc/schedstat",
            &["schedstat"],
            Required { empty_fails: false },
        ),
        ("proc/net/arp", &["arp"], Required { empty_fails: false }),
        ("proc/net/dev", &["netdev"], Required { empty_fails: false }),
        (
            "proc/net/netstat",
            &["netstat"],
            Required { empty_fails: false },
        ),
        (
            "proc/net/snmp",
            &["netstat"],
            Required { empty_fails: false },
        ),
        (
            "proc/net/snmp6",
            &["netstat"],
            Optional { empty_fails: false },
        ),
        (
            "proc/net/sockstat",
            &["sockstat"],
            Optional { empty_fails: false },
        ),
        (
            "proc/net/sockstat6",
            &["sockstat"],
            Optional { empty_fails: false },
        ),
        (
            "proc/net/softnet_stat",
            &["softnet"],
            Required { empty_fails: false },
        ),
        (
            "proc/net/stat/nf_conntrack",
            &["conntrack"],
            Required { empty_fails: false },
        ),
        (
            "proc/sys/net/netfilter/nf_conntrack_count",
            &["conntrack"],
            REQ,
        ),
        (
            "proc/sys/net/netfilter/nf_conntrack_max",
            &["conntrack"],
            REQ,
        ),
        ("proc/pressure/cpu", &["pressure"], REQ),
        ("proc/pressure/io", &["pressure"], REQ),
        ("proc/pressure/memory", &["pressure"], REQ),
        ("proc/sys/fs/file-nr", &["filefd"], REQ),
        ("proc/sys/kernel/random/entropy_avail", &["entropy"], REQ),
        ("proc/sys/kernel/random/poolsize", &["entropy"], REQ),
        (
            "proc/1/mounts",
            &["filesystem"],
            Required { empty_fails: false },
        ),
        ("etc/os-release", &["os"], Optional { empty_fails: false }),
        #[cfg(feature = "server")]
        (
            "proc/net/rpc/nfs",
            &["nfs"],
            Optional { empty_fails: false },
        ),
        #[cfg(feature = "server")]
        (
            "proc/net/rpc/nfsd",
            &["nfsd"],
            Optional { empty_fails: false },
        ),
        // No arrays is not an error.
        ("proc/mdstat", &["mdadm"], Optional { empty_fails: false }),
    ];
    if let Some((_, cs, p)) = proc_file.iter().find(|(f, _, _)| *f == rel) {
        return (cs, *p);
    }
    // The namedprocess collector: a per-PID file that is gone (the process exited) or unreadable
    // (EACCES, EISDIR, ELOOP) is skipped and counted in proctap_process_read_errors_total; one
    // that reads but does not parse fails the collector. Whether damage parses depends on the
    // file (comm and cmdline take any bytes), so these may go either way; every other collector
    // must still succeed.
    let under_pid = rel
        .strip_prefix("proc/")
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()));
    if rel.starts_with("proc/net/udp") {
        return (&["udp_queues", "namedprocess"], Tolerant);
    }
    if under_pid || rel == "proc/uptime" || rel == "etc/passwd" || rel.starts_with("proc/net/tcp") {
        return (&["namedprocess"], Tolerant);
    }
    if rel.contains("/power_supply/") {
        return (&["powersupplyclass"], Tolerant);
    }
    if rel.contains("/watchdog/") {
        return (&["watchdog"], Tolerant);
    }
    #[cfg(feature = "server")]
    if rel.starts_with("proc/net/ip_vs") {
        return (&["ipvs"], Tolerant);
    }
    let prefixes: &[(&str, &[&str])] = &[
        // Server collectors: damage fails them or not depending on the file (a value file that
        // is missing is 0, as in node_exporter).
        #[cfg(feature = "server")]
        ("proc/spl/kstat/zfs/", &["zfs"]),
        #[cfg(feature = "server")]
        ("sys/fs/xfs/", &["xfs"]),
        #[cfg(feature = "server")]
        ("sys/fs/btrfs/", &["btrfs"]),
        #[cfg(feature = "server")]
        ("sys/fs/bcache/", &["bcache"]),
        #[cfg(feature = "server")]
        ("sys/devices/system/edac/", &["edac"]),
        #[cfg(feature = "server")]
        ("sys/fs/selinux/", &["selinux"]),
        #[cfg(feature = "server")]
        ("etc/selinux/", &["selinux"]),
        #[cfg(feature = "server")]
        ("sys/class/dmi/", &["dmi"]),
        #[cfg(feature = "server")]
        ("sys/class/nvme/", &["nvme"]),
        #[cfg(feature = "server")]
        ("sys/class/powercap/", &["rapl"]),
        #[cfg(feature = "server")]
        ("sys/class/infiniband/", &["infiniband"]),
        #[cfg(feature = "server")]
        ("sys/class/fc_host/", &["fibrechannel"]),
        #[cfg(feature = "server")]
        ("sys/class/scsi_tape/", &["tapestats"]),
        ("sys/class/net/", &["netclass", "bonding"]),
        ("sys/devices/virtual/net/", &["netclass", "bonding"]),
        ("sys/block/", &["mdadm", "dmmultipath"]),
        ("sys/devices/virtual/block/", &["mdadm", "dmmultipath"]),
        ("sys/class/hwmon/", &["hwmon"]),
        ("sys/devices/virtual/hwmon/", &["hwmon"]),
        ("sys/class/thermal/", &["thermal_zone"]),
        ("sys/devices/virtual/thermal/", &["thermal_zone"]),
        ("sys/devices/system/cpu/cpufreq/", &["cpufreq"]),
        ("sys/devices/system/clocksource/", &["time"]),
        ("textfile/", &["textfile"]),
    ];
    if let Some((_, cs)) = prefixes.iter().find(|(p, _)| rel.starts_with(p)) {
        return (cs, Tolerant);
    }
    if rel.starts_with("sys/devices/system/cpu/cpu") {
        return (
            if rel.contains("/thermal_throttle/") {
                &["cpu"]
            } else {
                &["cpufreq"]
            },
            Tolerant,
        );
    }
    if rel.starts_with("sys/devices/") && (rel.contains("/hwmon/") || rel.contains("/net/")) {
        return (&["hwmon", "netclass", "bonding"], Tolerant);
    }
    if rel.starts_with("sys/") {
        return (
            &["hwmon", "netclass", "thermal_zone", "cpufreq", "cpu"],
            Tolerant,
        );
    }
    (&[], Tolerant)
}

/// Which of the `readers` must fail under `damage` (with `content` written, for the kinds that
/// write): those in the first list; the second list may fail or succeed.
fn expect(
    readers: &'static [&'static str],
    policy: Policy,
    damage: Damage,
    content: Option<&[u8]>,
) -> (&'static [&'static str], &'static [&'static str]) {
    let (required, empty_fails) = match policy {
        Policy::Required { empty_fails } => (true, empty_fails),
        Policy::Optional { empty_fails } => (false, empty_fails),
        Policy::Tolerant => return (&[], readers),
    };
    let empty = damage == Damage::Empty || content.is_some_and(<[u8]>::is_empty);
    let fails = match damage {
        Damage::NonUtf8 | Damage::Directory | Damage::SymlinkLoop | Damage::Huge => true,
        Damage::Remove => required,
        _ if empty => empty_fails,
        _ => content.is_some_and(|c| std::str::from_utf8(c).is_err()),
    };
    if fails {
        (readers, &[])
    } else {
        (&[], readers)
    }
}

/// Every regular file under `dir`, relative to `root`, sorted. Symlinks are not followed (the
/// sysfs tree has cycles).
fn files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let Ok(t) = e.file_type() else { continue };
        let p = e.path();
        if t.is_dir() {
            files(root, &p, out);
        } else if t.is_file() {
            if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
}

fn remove_any(p: &Path) {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p).unwrap(),
        Ok(_) => fs::remove_file(p).unwrap(),
        Err(_) => {}
    }
}

/// Applies `damage` to `path`; returns the bytes written for the kinds that write some.
fn apply(rng: &mut Rng, path: &Path, damage: Damage) -> Option<Vec<u8>> {
    let orig = fs::read(path).unwrap_or_default();
    let write = |bytes: Vec<u8>| {
        fs::write(path, &bytes).unwrap();
        Some(bytes)
    };
    match damage {
        Damage::Truncate => {
            let n = rng.below(orig.len());
            write(orig.get(..n).unwrap_or(&[]).to_vec())
        }
        Damage::TruncateAtLine => {
            let ends: Vec<usize> = (0..orig.len()).filter(|&i| orig[i] == b'\n').collect();
            let n = ends.get(rng.below(ends.len())).map_or(0, |&i| i + 1);
            write(orig[..n].to_vec())
        }
        Damage::Random => {
            let n = rng.below(600);
            let mut b = rng.bytes(n);
            // Half of the time printable ASCII with separators, which gets past UTF-8 checks
            // and into the parsers.
            if rng.below(2) == 0 {
                for c in &mut b {
                    const SET: &[u8] = b"0123456789 :-.\nabcxyzABC_{}\"=,";
                    *c = SET[(*c as usize) % SET.len()];
                }
            }
            write(b)
        }
        Damage::Empty => {
            if std::env::var_os("DBG").is_some() {
                eprintln!("EMPTY {}", path.display());
            }
            write(Vec::new())
        }
        Damage::HugeNumber | Damage::Negative => {
            let digits: Vec<usize> = (0..orig.len())
                .filter(|&i| orig[i].is_ascii_digit() && (i == 0 || !orig[i - 1].is_ascii_digit()))
                .collect();
            let mut b = orig.clone();
            if let Some(&at) = digits.get(rng.below(digits.len())) {
                if damage == Damage::Negative {
                    b.insert(at, b'-');
                } else {
                    let end = (at..b.len())
                        .find(|&i| !b[i].is_ascii_digit())
                        .unwrap_or(b.len());
                    // Past u64, u64::MAX, and a count that fits but must not size anything.
                    let big: &[u8] = match rng.below(3) {
                        0 => b"99999999999999999999999",
                        1 => b"18446744073709551615",
                        _ => b"4294967296",
                    };
                    b.splice(at..end, big.iter().copied());
                }
            }
            write(b)
        }
        Damage::NonUtf8 => {
            let mut b = orig.clone();
            let at = rng.below(b.len() + 1);
            b.splice(at..at, [0xff, 0xfe]);
            write(b)
        }
        Damage::Remove => {
            fs::remove_file(path).unwrap();
            None
        }
        Damage::Directory => {
            fs::remove_file(path).unwrap();
            fs::create_dir(path).unwrap();
            fs::write(path.join("inside"), "1\n").unwrap();
            None
        }
        Damage::SymlinkLoop => {
            fs::remove_file(path).unwrap();
            std::os::unix::fs::symlink(path.file_name().unwrap(), path).unwrap();
            None
        }
        Damage::Huge => {
            let f = fs::OpenOptions::new().write(true).open(path).unwrap();
            f.set_len(100_000_000).unwrap();
            None
        }
    }
}

/// Checks exposition text: every line a comment or a sample of a family declared just before,
/// valid names, escaped label values, a number as value, no family declared twice, no series
/// twice. Returns the samples of node_scrape_collector_success by collector.
pub fn check_exposition(text: &str) -> Result<Vec<(String, f64)>, String> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut families = std::collections::HashSet::new();
    let mut series = std::collections::HashSet::new();
    let mut current = String::new();
    let mut success = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let err = |what: &str| Err(format!("line {}: {what}: {line:?}", i + 1));
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            if !name_ok(name)
                || !["counter", "gauge", "untyped", "summary", "histogram"].contains(&kind)
            {
                return err("bad TYPE");
            }
            if !families.insert(name.to_string()) {
                return err("family declared twice");
            }
            current = name.to_string();
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.find('{') {
            Some(open) => {
                let mut in_quote = false;
                let mut esc = false;
                let mut close = None;
                for (j, c) in line.char_indices().skip(open + 1) {
                    if esc {
                        if !matches!(c, '\\' | '"' | 'n') {
                            return err("bad escape");
                        }
                        esc = false;
                    } else if in_quote && c == '\\' {
                        esc = true;
                    } else if c == '"' {
                        in_quote = !in_quote;
                    } else if c == '\n' {
                        return err("newline in label");
                    } else if !in_quote && c == '}' {
                        close = Some(j);
                        break;
                    }
                }
                let Some(close) = close else {
                    return err("no }");
                };
                (&line[..=close], line[close + 1..].trim())
            }
            None => match line.split_once(' ') {
                Some((k, v)) => (k, v.trim()),
                None => return err("no value"),
            },
        };
        let name = key.split('{').next().unwrap_or("");
        let base_ok = name == current
            || ["_total", "_sum", "_count", "_bucket"]
                .iter()
                .any(|s| name.strip_suffix(s) == Some(current.as_str()));
        if !name_ok(name) || !base_ok {
            return err("sample outside its family");
        }
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => match v.parse() {
                Ok(v) => v,
                Err(_) => return err("value not a number"),
            },
        };
        if !series.insert(key.to_string()) {
            return err("series twice");
        }
        if let Some(c) = key
            .strip_prefix("node_scrape_collector_success{collector=\"")
            .and_then(|r| r.strip_suffix("\"}"))
        {
            success.push((c.to_string(), v));
        }
    }
    Ok(success)
}

fn promtool_problems(text: &[u8]) -> Vec<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: run `make deps` (make test does)");
    child.stdin.take().unwrap().write_all(text).unwrap();
    let res = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    // The lint exemptions of tests/promtool.rs (node_exporter's own CI), plus textfile names,
    // which are the user's.
    report
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| {
            ![
                "node_memory_",
                "node_netstat_",
                "node_entropy_",
                "namedprocess_scrape_",
                "namedprocess_namegroup_thread_count",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .filter(|l| !l.contains("error while linting") || !res.status.success())
        .map(str::to_string)
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

pub fn scraper_on(root: &Path) -> Scraper {
    let arg = |flag: &str, p: &Path| format!("--{flag}={}", p.display());
    let cfg = crate::cli::parse([
        arg("path.procfs", &root.join("proc")),
        arg("path.sysfs", &root.join("sys")),
        arg("path.rootfs", root),
        arg("path.udev.data", &root.join("run/udev/data")),
        arg("collector.textfile.directory", &root.join("textfile")),
        // netdev's default asks this machine's kernel; the tree has /proc/net/dev.
        "--no-collector.netdev.netlink".into(),
    ])
    .unwrap();
    scraper_for(&cfg).unwrap()
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn corrupted_fixture_variants() {
    let started = std::time::Instant::now();
    let fixtures = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"));
    let tmp = std::env::temp_dir().join(format!("proctap-corrupt-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).unwrap();
    let root = tmp.join("fixtures");
    copy_tree(&fixtures, &root);
    let mut targets = Vec::new();
    files(&root, &root, &mut targets);
    targets.retain(|t| !t.ends_with("e2e-output.txt") && !t.ends_with(".keep"));
    targets.sort();
    // The table must cover what the collectors read: proc files by name, a few by prefix.
    let mapped = targets.iter().filter(|t| !readers(t).0.is_empty()).count();
    assert!(
        mapped > 300,
        "only {mapped} of {} files mapped",
        targets.len()
    );

    let mut scraper = scraper_on(&root);
    assert!(scraper.scrape(), "the undamaged copy collects cleanly");
    let names: Vec<&str> = scraper
        .enabled
        .iter()
        .map(|&i| collector::ALL[i].name)
        .collect();

    let master = env_u64("PROCTAP_CORRUPT_SEED", 0x005E_ED0F_C022_u64);
    let variants = env_u64("PROCTAP_CORRUPT_VARIANTS", 2_000);
    let promtool_every = (variants / 20).max(1);
    let mut failed_expected = 0usize;
    let mut textfile_checks = 0usize;
    let mut outcomes_seen = std::collections::BTreeMap::<String, (usize, usize)>::new();
    let report = std::env::var_os("PROCTAP_CORRUPT_REPORT").is_some();
    let mut mismatches = Vec::new();
    let mut mismatch = |m: String| {
        if report {
            mismatches.push(m);
        } else {
            panic!("{m}");
        }
    };
    for v in 0..variants {
        let seed = master ^ v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = Rng::new(seed);
        let n = 1 + rng.below(3);
        let mut damaged: Vec<(String, Damage)> = Vec::new();
        let mut must: Vec<&str> = Vec::new();
        let mut may: Vec<&str> = Vec::new();
        let mut desc = String::new();
        for k in 0..n {
            // Half of the picks among the files with a strict policy and one in eight among the
            // textfiles, so that these are hit often, not a few times in 450 picks.
            let pool: Vec<&String> = match rng.below(8) {
                0..=3 => targets
                    .iter()
                    .filter(|t| !matches!(readers(t).1, Policy::Tolerant))
                    .collect(),
                4 => targets
                    .iter()
                    .filter(|t| t.starts_with("textfile/"))
                    .collect(),
                _ => targets.iter().collect(),
            };
            let mut rel = pool[rng.below(pool.len())].clone();
            // Once, a 100 MB sparse /proc/interrupts (over every cap).
            let huge = v == 7 && k == 0;
            if huge {
                rel = "proc/interrupts".into();
            }
            if damaged.iter().any(|(r, _)| *r == rel) {
                continue;
            }
            let damage = if huge {
                Damage::Huge
            } else {
                KINDS[rng.below(KINDS.len())]
            };
            let content = apply(&mut rng, &root.join(&rel), damage);
            let (cs, policy) = readers(&rel);
            let (m, maybe) = expect(cs, policy, damage, content.as_deref());
            must.extend_from_slice(m);
            may.extend_from_slice(maybe);
            let _ = write!(desc, "{rel}: {damage:?}; ");
            damaged.push((rel, damage));
        }
        let ctx = || format!("variant {v} seed {seed:#x} (PROCTAP_CORRUPT_SEED={master}): {desc}");
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scraper.scrape()));
        if result.is_err() {
            panic!("a collector panicked: {}", ctx());
        }
        let text = std::str::from_utf8(scraper.out.as_bytes())
            .unwrap_or_else(|e| panic!("output not UTF-8 ({e}): {}", ctx()));
        let success = check_exposition(text).unwrap_or_else(|e| panic!("{e}: {}", ctx()));
        assert_eq!(success.len(), names.len(), "{}", ctx());
        for (c, ok) in &success {
            let c = c.as_str();
            let entry = outcomes_seen.entry(c.to_string()).or_default();
            if must.contains(&c) {
                failed_expected += 1;
                if *ok != 0.0 {
                    mismatch(format!("{c} must fail: {}", ctx()));
                }
            } else if !may.contains(&c) {
                if *ok != 1.0 {
                    let err = scraper
                        .enabled
                        .iter()
                        .position(|&i| collector::ALL[i].name == c)
                        .and_then(|j| scraper.outcomes[j].error.clone());
                    mismatch(format!(
                        "{c} read nothing damaged, yet failed ({err:?}): {}",
                        ctx()
                    ));
                }
            } else if *ok == 0.0 {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
        // A textfile that cannot be read is skipped and flagged, the collector itself succeeds.
        let unreadable_textfile = damaged.iter().any(|(rel, d)| {
            rel.starts_with("textfile/")
                && matches!(
                    d,
                    Damage::NonUtf8 | Damage::Directory | Damage::SymlinkLoop | Damage::Huge
                )
        });
        textfile_checks += usize::from(unreadable_textfile);
        if unreadable_textfile && !text.contains("\nnode_textfile_scrape_error 1\n") {
            mismatch(format!("node_textfile_scrape_error is not 1: {}", ctx()));
        }
        if v % promtool_every == 0 {
            let problems = promtool_problems(scraper.out.as_bytes());
            assert!(problems.is_empty(), "promtool: {problems:?}: {}", ctx());
        }
        for (rel, _) in &damaged {
            let p = root.join(rel);
            remove_any(&p);
            fs::copy(fixtures.join(rel), &p).unwrap();
        }
    }
    for m in &mismatches {
        println!("{m}");
    }
    assert!(mismatches.is_empty(), "{} mismatches", mismatches.len());
    assert!(
        scraper.scrape(),
        "every collector recovers once its files are repaired"
    );
    println!(
        "{variants} corrupted variants in {:.1?}: {failed_expected} required failures seen, \
         {textfile_checks} unreadable textfiles flagged; \
         undetermined (failed, succeeded) per collector: {outcomes_seen:?}",
        started.elapsed()
    );
    fs::remove_dir_all(&tmp).unwrap();
}
