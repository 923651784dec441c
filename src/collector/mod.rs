//! The table of collectors, the state they share, and the meta-metrics of a scrape.
//!
//! A collector is a plain function `fn(&mut Ctx, &mut Encoder) -> Result<(), Error>`: it reads
//! its files through the buffers in [`Ctx`] and writes its families straight into the encoder.
//! If it fails, whatever it wrote is rolled back and `node_scrape_collector_success` is 0.
use std::time::Instant;

use regex_lite::Regex;

use crate::cli::{CliError, Config};
use crate::expo::{Encoder, Kind};
use crate::log;
use crate::source::{Error, NameList, Source};

pub mod arp;
pub mod conntrack;
pub mod cpu;
pub mod cpufreq;
pub mod diskstats;
pub mod entropy;
pub mod filefd;
pub mod filesystem;
pub mod hwmon;
pub mod interrupts;
pub mod loadavg;
pub mod meminfo;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod os;
pub mod pressure;
pub mod processes;
#[cfg(feature = "server")]
pub mod schedstat;
pub mod selfproc;
pub mod sockstat;
pub mod softnet;
pub mod stat;
pub mod textfile;
pub mod thermal_zone;
pub mod time;
pub mod uname;
pub mod vmstat;

pub type CollectFn = fn(&mut Ctx, &mut Encoder) -> Result<(), Error>;

/// Whether the server-only collectors are compiled in: the `server` feature, on by default;
/// `make tiny` leaves it out (DESIGN.md: "Collector features"). A left-out collector keeps its
/// table entry, off by default, so every flag that names it still parses; enabled, it fails
/// with "not in this build".
const SERVER: bool = cfg!(feature = "server");

/// `collect` of a server-only collector: its function, or [`not_built`] without the feature.
macro_rules! server_only {
    ($collect:path) => {{
        #[cfg(feature = "server")]
        let f: CollectFn = $collect;
        #[cfg(not(feature = "server"))]
        let f: CollectFn = not_built;
        f
    }};
}

#[cfg(not(feature = "server"))]
fn not_built(_: &mut Ctx, _: &mut Encoder) -> Result<(), Error> {
    Err(Error::NotBuilt { feature: "server" })
}

pub struct Collector {
    pub name: &'static str,
    pub enabled_by_default: bool,
    pub collect: CollectFn,
}

/// Every collector, in output order.
pub const ALL: &[Collector] = &[
    Collector {
        name: "arp",
        enabled_by_default: true,
        collect: arp::collect,
    },
    Collector {
        name: "conntrack",
        enabled_by_default: true,
        collect: conntrack::collect,
    },
    Collector {
        name: "cpu",
        enabled_by_default: true,
        collect: cpu::collect,
    },
    Collector {
        name: "cpufreq",
        enabled_by_default: true,
        collect: cpufreq::collect,
    },
    Collector {
        name: "diskstats",
        enabled_by_default: true,
        collect: diskstats::collect,
    },
    Collector {
        name: "entropy",
        enabled_by_default: true,
        collect: entropy::collect,
    },
    Collector {
        name: "filefd",
        enabled_by_default: true,
        collect: filefd::collect,
    },
    Collector {
        name: "filesystem",
        enabled_by_default: true,
        collect: filesystem::collect,
    },
    Collector {
        name: "hwmon",
        enabled_by_default: true,
        collect: hwmon::collect,
    },
    Collector {
        name: "interrupts",
        enabled_by_default: true,
        collect: interrupts::collect,
    },
    Collector {
        name: "loadavg",
        enabled_by_default: true,
        collect: loadavg::collect,
    },
    Collector {
        name: "meminfo",
        enabled_by_default: true,
        collect: meminfo::collect,
    },
    Collector {
        name: "netclass",
        enabled_by_default: true,
        collect: netclass::collect,
    },
    Collector {
        name: "netdev",
        enabled_by_default: true,
        collect: netdev::collect,
    },
    Collector {
        name: "netstat",
        enabled_by_default: true,
        collect: netstat::collect,
    },
    Collector {
        name: "os",
        enabled_by_default: true,
        collect: os::collect,
    },
    Collector {
        name: "pressure",
        enabled_by_default: true,
        collect: pressure::collect,
    },
    Collector {
        name: "processes",
        enabled_by_default: true,
        collect: processes::collect,
    },
    Collector {
        name: "schedstat",
        enabled_by_default: SERVER,
        collect: server_only!(schedstat::collect),
    },
    Collector {
        name: "sockstat",
        enabled_by_default: true,
        collect: sockstat::collect,
    },
    Collector {
        name: "softnet",
        enabled_by_default: true,
        collect: softnet::collect,
    },
    Collector {
        name: "stat",
        enabled_by_default: true,
        collect: stat::collect,
    },
    Collector {
        name: "thermal_zone",
        enabled_by_default: true,
        collect: thermal_zone::collect,
    },
    Collector {
        name: "time",
        enabled_by_default: true,
        collect: time::collect,
    },
    Collector {
        name: "uname",
        enabled_by_default: true,
        collect: uname::collect,
    },
    Collector {
        name: "vmstat",
        enabled_by_default: true,
        collect: vmstat::collect,
    },
    // Out of alphabetical order on purpose: textfile must run after every other collector so
    // that it can refuse families they already wrote (Encoder::has_family).
    Collector {
        name: "textfile",
        enabled_by_default: true,
        collect: textfile::collect,
    },
];

pub fn by_name(name: &str) -> Option<usize> {
    ALL.iter().position(|c| c.name == name)
}

/// A user's regex with its answers remembered per subject. Device names and field names repeat
/// on every scrape, so after the first scrape a match is a binary search instead of a regex
/// run (regex-lite runs take microseconds; netstat alone asks about 200 fields).
#[derive(Debug, Clone)]
pub struct Pattern {
    re: Regex,
    /// Sorted by subject.
    seen: Vec<(Box<str>, bool)>,
    /// The regex ran since the last remembered answer was given, so its match cache (regex-lite
    /// keeps one per regex, ~50 KiB for the netstat and vmstat defaults) is allocated.
    ran: bool,
}

impl Pattern {
    /// More distinct subjects than this are answered by the regex without being remembered,
    /// so a hostile file cannot grow the cache without bound.
    const MAX_REMEMBERED: usize = 4096;

    pub fn new(re: Regex) -> Self {
        Pattern {
            re,
            seen: Vec::new(),
            ran: false,
        }
    }

    pub fn is_match(&mut self, subject: &str) -> bool {
        match self.seen.binary_search_by(|(s, _)| (**s).cmp(subject)) {
            Ok(i) => {
                // Answers are remembered again: give the match cache back (a clone of a
                // regex-lite Regex shares the compiled program and starts with no cache). Not
                // once the memory is full, when the regex runs on every scrape.
                if self.ran && self.seen.len() < Self::MAX_REMEMBERED {
                    self.re = self.re.clone();
                    self.ran = false;
                }
                self.seen.get(i).is_some_and(|(_, m)| *m)
            }
            Err(i) => {
                self.ran = true;
                let m = self.re.is_match(subject);
                if self.seen.len() < Self::MAX_REMEMBERED {
                    self.seen.insert(i, (subject.into(), m));
                }
                m
            }
        }
    }
}

/// An include or exclude pattern on device names (at most one of the two is set).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub include: Option<Pattern>,
    pub exclude: Option<Pattern>,
}

impl Filter {
    pub fn allows(&mut self, name: &str) -> bool {
        if let Some(p) = &mut self.include {
            return p.is_match(name);
        }
        match &mut self.exclude {
            Some(p) => !p.is_match(name),
            None => true,
        }
    }
}

/// Per-collector options, compiled once at start-up.
#[derive(Debug, Clone)]
pub struct Opts {
    pub arp: Filter,
    pub diskstats: Filter,
    pub netdev: Filter,
    /// Devices the netclass collector skips.
    pub netclass_ignored: Pattern,
    /// `node_netstat_<Proto>_<Field>` names (without the prefix) that are exported.
    pub netstat_fields: Pattern,
    /// `/proc/vmstat` keys that are exported.
    pub vmstat_fields: Pattern,
    pub filesystem_mount_points_exclude: Pattern,
    pub filesystem_fs_types_exclude: Pattern,
    /// How long a scrape waits for one mount's statvfs before reporting it as stuck.
    pub filesystem_mount_timeout: std::time::Duration,
    /// `--collector.textfile.directory`, taken as given (not under --path.rootfs); `None`
    /// (node_exporter's default, "") means no textfiles.
    pub textfile_directory: Option<std::path::PathBuf>,
    pub processes: processes::ProcOpts,
}

impl Opts {
    /// Compiles the collectors' options from the configuration; an error names the flag.
    pub fn new(cfg: &Config) -> Result<Opts, CliError> {
        Ok(Opts {
            arp: filter(
                "--collector.arp.device-include",
                &cfg.arp_include,
                "--collector.arp.device-exclude",
                &cfg.arp_exclude,
                None,
            )?,
            diskstats: filter(
                "--collector.diskstats.device-include",
                &cfg.diskstats_include,
                "--collector.diskstats.device-exclude",
                &cfg.diskstats_exclude,
                Some(DISKSTATS_EXCLUDE_DEFAULT),
            )?,
            netdev: filter(
                "--collector.netdev.device-include",
                &cfg.netdev_include,
                "--collector.netdev.device-exclude",
                &cfg.netdev_exclude,
                None,
            )?,
            netclass_ignored: compile(
                "--collector.netclass.ignored-devices",
                &cfg.netclass_ignored,
            )?,
            netstat_fields: compile("--collector.netstat.fields", &cfg.netstat_fields)?,
            vmstat_fields: compile("--collector.vmstat.fields", &cfg.vmstat_fields)?,
            filesystem_mount_points_exclude: compile(
                "--collector.filesystem.mount-points-exclude",
                &cfg.filesystem_mount_points_exclude,
            )?,
            filesystem_fs_types_exclude: compile(
                "--collector.filesystem.fs-types-exclude",
                &cfg.filesystem_fs_types_exclude,
            )?,
            filesystem_mount_timeout: cfg.filesystem_mount_timeout,
            textfile_directory: cfg.textfile_directory.clone(),
            processes: processes::ProcOpts::new(cfg)?,
        })
    }
}

fn compile(flag: &str, pattern: &str) -> Result<Pattern, CliError> {
    Regex::new(pattern)
        .map(Pattern::new)
        .map_err(|e| crate::cli::bad(flag, pattern, e))
}

/// An include pattern wins over an exclude pattern; the command line and config file make sure
/// a user does not set both in one place.
fn filter(
    include_flag: &str,
    include: &Option<String>,
    exclude_flag: &str,
    exclude: &Option<String>,
    default_exclude: Option<&str>,
) -> Result<Filter, CliError> {
    if let Some(inc) = include.as_deref().filter(|p| !p.is_empty()) {
        return Ok(Filter {
            include: Some(compile(include_flag, inc)?),
            exclude: None,
        });
    }
    let pattern = exclude
        .as_deref()
        .or(default_exclude)
        .filter(|p| !p.is_empty());
    let exclude = pattern.map(|p| compile(exclude_flag, p)).transpose()?;
    Ok(Filter {
        include: None,
        exclude,
    })
}

pub const DISKSTATS_EXCLUDE_DEFAULT: &str = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";
pub const NETCLASS_IGNORED_DEFAULT: &str = "^$";
pub const NETSTAT_FIELDS_DEFAULT: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";
pub const VMSTAT_FIELDS_DEFAULT: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

/// Everything a collector may use: the paths, options, and buffers reused on every scrape.
pub struct Ctx {
    pub src: Source,
    pub opts: Opts,
    /// Clock ticks per second (USER_HZ) from sysconf, for /proc/stat times.
    pub user_hz: f64,
    /// Page size in bytes from sysconf (sockstat's `mem` is in pages).
    pub page_size: u64,
    /// General file buffers. A collector may use any of them; none survives a collector.
    pub buf: String,
    pub buf2: String,
    pub names: NameList,
    pub flags: Vec<bool>,
    pub u64s: Vec<u64>,
    pub cpu: cpu::State,
    /// The statvfs worker and the mounts that are stuck.
    pub filesystem: filesystem::State,
    /// Reused buffers and the chip labels already resolved.
    pub hwmon: hwmon::State,
    /// The interfaces' attributes of the current scrape.
    pub netclass: netclass::State,
    /// Known processes, their groups and the processes collector's buffers.
    pub processes: processes::State,
}

impl Ctx {
    pub fn new(src: Source, opts: Opts) -> Self {
        Ctx {
            src,
            opts,
            user_hz: sysconf(libc::_SC_CLK_TCK, 100) as f64,
            page_size: sysconf(libc::_SC_PAGESIZE, 4096),
            buf: String::with_capacity(64 << 10),
            buf2: String::with_capacity(4 << 10),
            names: NameList::default(),
            flags: Vec::new(),
            u64s: Vec::new(),
            cpu: cpu::State::default(),
            filesystem: filesystem::State::default(),
            hwmon: hwmon::State::default(),
            netclass: netclass::State::default(),
            processes: processes::State::default(),
        }
    }
}

fn sysconf(name: libc::c_int, fallback: u64) -> u64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for unknown names.
    let v = unsafe { libc::sysconf(name) };
    if v > 0 {
        v as u64
    } else {
        fallback
    }
}

/// The outcome of one collector in the last scrape.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub seconds: f64,
    pub ok: bool,
    /// The last error, kept so that a collector failing the same way on every scrape is
    /// logged once, not every 15 seconds.
    pub error: Option<String>,
    /// Where this collector's samples are in the output of the last scrape (empty when it
    /// failed), so `proctap check` can count them.
    pub span: std::ops::Range<usize>,
}

/// Runs the enabled collectors into one reused encoder and appends the meta-metrics.
pub struct Scraper {
    pub ctx: Ctx,
    pub enabled: Vec<usize>,
    pub outcomes: Vec<Outcome>,
    pub out: Encoder,
    pub selfproc: selfproc::State,
}

impl Scraper {
    pub fn new(ctx: Ctx, enabled: Vec<usize>) -> Self {
        let outcomes = vec![Outcome::default(); enabled.len()];
        Scraper {
            ctx,
            enabled,
            outcomes,
            out: Encoder::new(),
            selfproc: selfproc::State::new(),
        }
    }

    /// Collects everything into `self.out`; true when every enabled collector succeeded.
    pub fn scrape(&mut self) -> bool {
        self.out.clear();
        let mut all_ok = true;
        for (slot, &i) in self.outcomes.iter_mut().zip(&self.enabled) {
            let Some(c) = ALL.get(i) else { continue };
            let mark = self.out.mark();
            let start = Instant::now();
            let result = (c.collect)(&mut self.ctx, &mut self.out);
            let seconds = start.elapsed().as_secs_f64();
            slot.seconds = seconds;
            slot.ok = result.is_ok();
            if result.is_err() {
                self.out.rollback(mark);
            }
            slot.span = mark..self.out.mark();
            match result {
                Err(e) => {
                    all_ok = false;
                    let msg = e.to_string();
                    if slot.error.as_deref() != Some(msg.as_str()) {
                        log::error("collector failed", &[("collector", &c.name), ("err", &msg)]);
                        slot.error = Some(msg);
                    }
                }
                Ok(()) => {
                    if slot.error.take().is_some() {
                        log::info("collector recovered", &[("collector", &c.name)]);
                    }
                }
            }
        }
        let ctx = &mut self.ctx;
        ctx.src.trim(&mut [&mut ctx.buf, &mut ctx.buf2]);
        self.meta();
        all_ok
    }

    fn meta(&mut self) {
        let out = &mut self.out;
        out.family(
            "node_scrape_collector_duration_seconds",
            "node_exporter: Duration of a collector scrape.",
            Kind::Gauge,
        );
        for (o, &i) in self.outcomes.iter().zip(&self.enabled) {
            if let Some(c) = ALL.get(i) {
                out.f64(&[("collector", c.name)], o.seconds);
            }
        }
        out.family(
            "node_scrape_collector_success",
            "node_exporter: Whether a collector succeeded.",
            Kind::Gauge,
        );
        for (o, &i) in self.outcomes.iter().zip(&self.enabled) {
            if let Some(c) = ALL.get(i) {
                out.u64(&[("collector", c.name)], u64::from(o.ok));
            }
        }
        out.family(
            "proctap_build_info",
            "A metric with a constant '1' value labeled by version, revision, and rustc version from which proctap was built.",
            Kind::Gauge,
        );
        out.u64(
            &[
                ("revision", env!("PROCTAP_REVISION")),
                ("rustc", env!("PROCTAP_RUSTC")),
                ("version", env!("CARGO_PKG_VERSION")),
            ],
            1,
        );
        self.selfproc.collect(&mut self.ctx, out);
    }
}

/// A context on the repository's fixture tree with default options, for collector tests.
#[cfg(test)]
pub fn fixture_ctx() -> Ctx {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let src = Source::new(
        format!("{root}/proc").into(),
        format!("{root}/sys").into(),
        root.into(),
    );
    Ctx::new(
        src,
        Opts::new(&Config::default()).expect("default options compile"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_remembers_answers() {
        let mut p = Pattern::new(Regex::new("^(eth|wlan)").unwrap());
        for _ in 0..2 {
            assert!(p.is_match("eth0.100"));
            assert!(!p.is_match("br-lan"));
            assert!(p.is_match("wlan0"));
        }
        assert_eq!(p.seen.len(), 3);
        assert!(p.seen.windows(2).all(|w| w[0].0 < w[1].0), "kept sorted");
    }

    #[test]
    fn pattern_gives_the_match_cache_back_once_answers_are_remembered() {
        let mut p = Pattern::new(Regex::new("^(eth|wlan)").unwrap());
        assert!(p.is_match("eth0") && p.ran, "a new subject runs the regex");
        assert!(
            p.is_match("eth0") && !p.ran,
            "a remembered one drops its cache"
        );
        assert!(
            !p.is_match("lo") && p.ran,
            "the regex still runs after that"
        );
        assert!(p.is_match("wlan1"));
        assert!(!p.is_match("lo") && !p.ran);
        assert_eq!(p.seen.len(), 3);
    }

    #[test]
    fn pattern_cache_is_bounded() {
        let mut p = Pattern::new(Regex::new("7$").unwrap());
        for i in 0..Pattern::MAX_REMEMBERED + 100 {
            assert_eq!(p.is_match(&format!("dev{i}")), i % 10 == 7);
        }
        assert_eq!(p.seen.len(), Pattern::MAX_REMEMBERED);
        assert!(
            p.is_match("not-remembered-7"),
            "past the bound the regex still answers"
        );
        assert_eq!(p.seen.len(), Pattern::MAX_REMEMBERED);
    }

    #[test]
    fn filter_include_wins_over_exclude() {
        let re = |s| Some(Pattern::new(Regex::new(s).unwrap()));
        let mut f = Filter {
            include: re("^sd"),
            exclude: None,
        };
        assert!(f.allows("sda") && !f.allows("nvme0n1"));
        let mut f = Filter {
            include: None,
            exclude: re("^loop"),
        };
        assert!(!f.allows("loop0") && f.allows("dm-0"));
        assert!(Filter::default().allows("anything"));
    }
}
