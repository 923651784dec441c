//! `proctap check`: runs one collection and reports, per enabled collector, whether it worked,
//! how many series it exports, and which of its sources exist and are readable here, with what
//! would enable the missing ones (a capability, a flag, a kernel option).
//!
//! The sources are a table, so a new collector (the processes collector) is one more entry.
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use crate::collector::{Scraper, ALL};
use crate::source::{open_dir, Root};

/// What a collector reads, for the report.
#[derive(Clone, Copy)]
pub enum What {
    /// A file it cannot do without.
    File(Root, &'static str),
    /// A file that may be absent (the collector then exports less).
    Optional(Root, &'static str),
    /// A directory whose entries it reads.
    Dir(Root, &'static str),
    /// The `--collector.textfile.directory` directory.
    TextfileDir,
    /// `/proc/<pid>/<file>` of every process: how many are readable and how many denied
    /// (another user's io, smaps_rollup, fd need CAP_SYS_PTRACE). The processes collector's
    /// entry lists these.
    PerProcess(&'static str),
}

pub struct Sources {
    pub collector: &'static str,
    pub reads: &'static [What],
    /// What enables a missing or unreadable source.
    pub hint: &'static str,
}

/// Denied reads of files under /proc and /sys that are not per-process are root-only files.
const ROOT_ONLY: &str = "run as root or grant CAP_DAC_READ_SEARCH";

pub const SOURCES: &[Sources] = &[
    Sources {
        collector: "arp",
        reads: &[What::File(Root::Proc, "net/arp")],
        hint: ROOT_ONLY,
    },
    Sources {
        collector: "conntrack",
        reads: &[
            What::File(Root::Proc, "net/stat/nf_conntrack"),
            What::File(Root::Proc, "sys/net/netfilter/nf_conntrack_count"),
            What::File(Root::Proc, "sys/net/netfilter/nf_conntrack_max"),
        ],
        hint: "load the nf_conntrack module (modprobe nf_conntrack) or disable with --no-collector.conntrack",
    },
    Sources {
        collector: "cpu",
        reads: &[
            What::File(Root::Proc, "stat"),
            What::Dir(Root::Sys, "devices/system/cpu"),
        ],
        hint: ROOT_ONLY,
    },
    Sources {
        collector: "cpufreq",
        reads: &[What::Dir(Root::Sys, "devices/system/cpu")],
        hint: "a kernel with CONFIG_CPU_FREQ; VMs often have none",
    },
    Sources {
        collector: "diskstats",
        reads: &[What::File(Root::Proc, "diskstats")],
        hint: ROOT_ONLY,
    },
    Sources {
        collector: "entropy",
        reads: &[
            What::File(Root::Proc, "sys/kernel/random/entropy_avail"),
            What::File(Root::Proc, "sys/kernel/random/poolsize"),
        ],
        hint: ROOT_ONLY,
    },
    Sources {
        collector: "filefd",
        reads: &[What::File(Root::Proc, "sys/fs/file-nr")],
        hint: ROOT_ONLY,
    },
    Sources {
        collector: "filesystem",
        reads: &[
            What::Optional(Root::Proc, "1/mounts"),
            What::Optional(Root::Proc, "mounts"),
            What::Dir(Root::Rootfs, ""),
        ],
        hint: "mount points that are not readable are reported with node_filesystem_device_error 1",
    },
    Sources {
        collector: "hwmon",
        reads: &[What::Dir(Root::Sys, "class/hwmon")],
        hint: "sensor drivers (lm-sensors' sensors-detect); VMs often have none",
    },
    Sources {
        collector: "interrupts",
        reads: &[What::File(Root::Proc, "interrupts")],
        hint: ROOT_ONLY,
    },
    Sources {
        collector: "loadavg",
        reads: &[What::File(Root::Proc, "loadavg")],
        hint: ROOT_ONLY,
    },
    Sources {
        collector: "meminfo",
        reads: &[What::File(Root::Proc, "meminfo")],
        hint: ROOT_ONLY,
    },
    Sources {
        collector: "netclass",
        reads: &[What::Dir(Root::Sys, "class/net")],
        hint: ROOT_ONLY,
    },
    Sources {
        collector: "netdev",
        reads: &[What::File(Root::Proc, "net/dev")],
        hint: ROOT_ONLY,
    },
    Sources {
        collector: "netstat",
        reads: &[
            What::File(Root::Proc, "net/netstat"),
            What::File(Root::Proc, "net/snmp"),
            What::Optional(Root::Proc, "net/snmp6"),
        ],
        hint: "net/snmp6 exists only with IPv6 enabled",
    },
    Sources {
        collector: "os",
        reads: &[
            What::Optional(Root::Rootfs, "etc/os-release"),
            What::Optional(Root::Rootfs, "usr/lib/os-release"),
        ],
        hint: "point --path.rootfs at the host's / when running in a container",
    },
    Sources {
        collector: "pressure",
        reads: &[
            What::File(Root::Proc, "pressure/cpu"),
            What::File(Root::Proc, "pressure/io"),
            What::File(Root::Proc, "pressure/memory"),
        ],
        hint: "a kernel with CONFIG_PSI (and psi=1 on its command line where it is off by default), or --no-collector.pressure",
    },
    Sources {
        collector: "schedstat",
        reads: &[What::File(Root::Proc, "schedstat")],
        hint: "a kernel with CONFIG_SCHEDSTATS, or --no-collector.schedstat",
    },
    Sources {
        collector: "sockstat",
        reads: &[
            What::Optional(Root::Proc, "net/sockstat"),
            What::Optional(Root::Proc, "net/sockstat6"),
        ],
        hint: "net/sockstat6 exists only with IPv6 enabled",
    },
    Sources {
        collector: "softnet",
        reads: &[What::File(Root::Proc, "net/softnet_stat")],
        hint: ROOT_ONLY,
    },
    Sources {
        collector: "stat",
        reads: &[What::File(Root::Proc, "stat")],
        hint: ROOT_ONLY,
    },
    Sources {
        collector: "textfile",
        reads: &[What::TextfileDir],
        hint: "set --collector.textfile.directory to a directory of *.prom files",
    },
    Sources {
        collector: "thermal_zone",
        reads: &[What::Dir(Root::Sys, "class/thermal")],
        hint: "thermal drivers (ACPI, SoC); VMs often have none",
    },
    Sources {
        collector: "time",
        reads: &[What::Optional(
            Root::Sys,
            "devices/system/clocksource/clocksource0/available_clocksource",
        )],
        hint: ROOT_ONLY,
    },
    Sources {
        collector: "uname",
        reads: &[],
        hint: "",
    },
    Sources {
        collector: "vmstat",
        reads: &[What::File(Root::Proc, "vmstat")],
        hint: ROOT_ONLY,
    },
    Sources {
        collector: "processes",
        reads: &[
            What::Dir(Root::Proc, ""),
            What::PerProcess("stat"),
            What::PerProcess("status"),
            What::PerProcess("io"),
            What::PerProcess("fd"),
            What::PerProcess("limits"),
        ],
        hint: "other users' io and fd need CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (root, or the \
               systemd drop-in contrib/systemd/proctap-process-details.conf)",
    },
];

/// The state of one source.
enum Found {
    Readable(Option<usize>),
    Missing,
    Denied,
    Broken(io::Error),
}

fn probe_file(path: &Path) -> Found {
    match std::fs::File::open(path) {
        Ok(f) if f.metadata().is_ok_and(|m| m.is_dir()) => {
            Found::Broken(io::Error::other("a directory, expected a file"))
        }
        Ok(_) => Found::Readable(None),
        Err(e) => classify(e),
    }
}

fn probe_dir(path: &Path) -> Found {
    match open_dir(path) {
        Ok(_) => Found::Readable(std::fs::read_dir(path).ok().map(|d| d.count())),
        Err(e) => classify(e),
    }
}

/// Tries `/proc/<pid>/<file>` for every process: (readable, denied).
fn probe_per_process(procfs: &Path, file: &str) -> (usize, usize) {
    let (mut ok, mut denied) = (0, 0);
    let Ok(entries) = std::fs::read_dir(procfs) else {
        return (0, 0);
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if !name
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let p = e.path().join(file);
        let opened = if file == "fd" {
            open_dir(&p).map(drop)
        } else {
            std::fs::File::open(&p).map(drop)
        };
        match opened {
            Ok(()) => ok += 1,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => denied += 1,
            Err(_) => {} // gone in between, or a kernel without the file
        }
    }
    (ok, denied)
}

fn classify(e: io::Error) -> Found {
    match e.kind() {
        io::ErrorKind::NotFound => Found::Missing,
        io::ErrorKind::PermissionDenied => Found::Denied,
        _ => Found::Broken(e),
    }
}

/// Runs one collection and writes the report; true when every enabled collector succeeded.
pub fn report(scraper: &mut Scraper, textfile_dir: Option<&Path>, out: &mut String) -> bool {
    let all_ok = scraper.scrape();
    let text = scraper.out.as_bytes();
    let src = &mut scraper.ctx.src;
    let _ = writeln!(
        out,
        "proctap check: --path.procfs={} --path.sysfs={} --path.rootfs={}",
        src.procfs.display(),
        src.sysfs.display(),
        src.rootfs.display()
    );
    let mut failed = 0;
    for (outcome, &i) in scraper.outcomes.iter().zip(&scraper.enabled) {
        let Some(c) = ALL.get(i) else { continue };
        let series = text
            .get(outcome.span.clone())
            .unwrap_or(&[])
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
            .count();
        failed += usize::from(!outcome.ok);
        let _ = writeln!(
            out,
            "{:<14}{:<8}{series:>6} series",
            c.name,
            if outcome.ok { "ok" } else { "FAILED" }
        );
        let sources = SOURCES.iter().find(|s| s.collector == c.name);
        let mut need_hint = false;
        for what in sources.map_or(&[][..], |s| s.reads) {
            let (path, found, optional) = match *what {
                What::File(root, rel) => {
                    let p = src.path(root, &[rel]).to_path_buf();
                    let f = probe_file(&p);
                    (p, f, false)
                }
                What::Optional(root, rel) => {
                    let p = src.path(root, &[rel]).to_path_buf();
                    let f = probe_file(&p);
                    (p, f, true)
                }
                What::Dir(root, rel) => {
                    let p = src.path(root, &[rel]).to_path_buf();
                    let f = probe_dir(&p);
                    (p, f, false)
                }
                What::PerProcess(file) => {
                    let (ok, denied) = probe_per_process(&src.procfs, file);
                    let _ = writeln!(
                        out,
                        "    {:<11} {}/[pid]/{file}: {ok} readable, {denied} denied",
                        if denied == 0 { "readable" } else { "partly" },
                        src.procfs.display()
                    );
                    need_hint |= denied > 0;
                    continue;
                }
                What::TextfileDir => match textfile_dir {
                    Some(d) => (d.to_path_buf(), probe_dir(d), false),
                    None => {
                        let _ = writeln!(out, "    not set     --collector.textfile.directory");
                        need_hint = true;
                        continue;
                    }
                },
            };
            let state = match &found {
                Found::Readable(Some(n)) => format!("readable    {} ({n} entries)", path.display()),
                Found::Readable(None) => format!("readable    {}", path.display()),
                Found::Missing if optional => format!("absent      {} (optional)", path.display()),
                Found::Missing => format!("missing     {}", path.display()),
                Found::Denied => format!("denied      {}", path.display()),
                Found::Broken(e) => format!("unreadable  {}: {e}", path.display()),
            };
            let fine = match found {
                Found::Readable(_) => true,
                Found::Missing => optional,
                Found::Denied | Found::Broken(_) => false,
            };
            need_hint |= !fine;
            let _ = writeln!(out, "    {state}");
        }
        if let Some(err) = outcome.error.as_deref().filter(|_| !outcome.ok) {
            let _ = writeln!(out, "    error       {err}");
        }
        if need_hint || !outcome.ok {
            if let Some(h) = sources.map(|s| s.hint).filter(|h| !h.is_empty()) {
                let _ = writeln!(out, "    to enable   {h}");
            }
        }
    }
    let n = scraper.enabled.len();
    if failed == 0 {
        let _ = writeln!(out, "all {n} enabled collectors work");
    } else {
        let _ = writeln!(out, "{failed} of {n} enabled collectors failed");
    }
    all_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_process_files_are_counted() {
        let procfs = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/proc"));
        let (ok, denied) = probe_per_process(procfs, "stat");
        assert_eq!((ok, denied), (15, 0), "the 15 fixture PIDs");
        let dir = std::env::temp_dir().join(format!("proctap-check-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("12/fd")).unwrap();
        std::fs::create_dir_all(dir.join("13")).unwrap();
        std::fs::write(dir.join("13/io"), "rchar: 1\n").unwrap();
        assert_eq!(probe_per_process(&dir, "fd"), (1, 0));
        assert_eq!(
            probe_per_process(&dir, "io"),
            (1, 0),
            "a missing file is not denied"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_collector_has_a_sources_entry() {
        for c in ALL {
            assert!(
                SOURCES.iter().any(|s| s.collector == c.name),
                "{} has no entry in check::SOURCES",
                c.name
            );
        }
    }
}
