//! The table of collectors, the state they share, and the meta-metrics of a scrape.
//!
//! A collector is a plain function `fn(&mut Ctx, &mut Encoder) -> Result<(), Error>`, or, when it
//! has options or state, a type implementing [`Collect`] built from its flags' [`Settings`]: it
//! reads its files through the buffers in [`Ctx`] and writes its families straight into the
//! encoder.
//! If it fails, whatever it wrote is rolled back and `node_scrape_collector_success` is 0.
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use regex_lite::Regex;

use crate::expo::{Encoder, Kind};
use crate::flag::{CliError, Flag, Settings};
use crate::guard::{Away, Guard};
use crate::log;
use crate::source::{Error, NameList, Root, Source};

pub mod arp;
#[cfg(feature = "server")]
pub mod bcache;
#[cfg(feature = "extras")]
pub mod bonding;
#[cfg(feature = "server")]
pub mod btrfs;
#[cfg(feature = "server")]
pub mod buddyinfo;
pub mod conntrack;
pub mod cpu;
pub mod cpufreq;
#[cfg(feature = "extras")]
pub mod cpuinfo;
pub mod diskstats;
#[cfg(feature = "server")]
pub mod dmi;
#[cfg(feature = "server")]
pub mod dmmultipath;
#[cfg(feature = "server")]
pub mod edac;
pub mod entropy;
#[cfg(feature = "server")]
pub mod ethtool;
#[cfg(feature = "server")]
pub mod fibrechannel;
pub mod filefd;
pub mod filesystem;
pub mod hwmon;
#[cfg(feature = "server")]
pub mod infiniband;
pub mod interrupts;
#[cfg(feature = "server")]
pub mod ipvs;
#[cfg(feature = "server")]
pub mod kernel_hung;
#[cfg(feature = "server")]
pub mod ksmd;
#[cfg(feature = "server")]
pub mod lnstat;
pub mod loadavg;
#[cfg(feature = "extras")]
pub mod mdadm;
pub mod meminfo;
#[cfg(feature = "server")]
pub mod meminfo_numa;
#[cfg(feature = "server")]
pub mod mountstats;
pub mod namedprocess;
pub mod netclass;
pub mod netdev;
pub mod netstat;
#[cfg(feature = "extras")]
pub mod network_route;
#[cfg(feature = "server")]
pub mod nfs;
#[cfg(feature = "server")]
pub mod nfsd;
#[cfg(feature = "server")]
pub mod nvme;
#[cfg(feature = "extras")]
pub mod os;
#[cfg(feature = "extras")]
pub mod powersupplyclass;
pub mod pressure;
#[cfg(feature = "extras")]
pub mod processes;
#[cfg(feature = "extras")]
pub mod qdisc;
#[cfg(feature = "server")]
pub mod rapl;
#[cfg(feature = "extras")]
pub mod schedstat;
pub mod selfproc;
#[cfg(feature = "server")]
pub mod selinux;
#[cfg(feature = "server")]
pub mod slabinfo;
pub mod sockstat;
#[cfg(feature = "extras")]
pub mod softirqs;
pub mod softnet;
pub mod stat;
#[cfg(feature = "server")]
pub mod sysctl;
#[cfg(feature = "server")]
pub mod tapestats;
#[cfg(feature = "server")]
pub mod tcpstat;
pub mod textfile;
pub mod thermal_zone;
pub mod time;
#[cfg(feature = "extras")]
pub mod timex;
pub mod udev;
#[cfg(feature = "extras")]
pub mod udp_queues;
pub mod uname;
pub mod vmstat;
#[cfg(feature = "extras")]
pub mod watchdog;
pub mod wifi;
#[cfg(feature = "server")]
pub mod xfs;
#[cfg(feature = "server")]
pub mod zfs;
#[cfg(feature = "server")]
pub mod zoneinfo;

/// Every collector, in output order. Adding a collector is its file (with its `COLLECTOR`
/// entry: name, default, flags, sources, how it is built) and one line here.
pub const ALL: &[Collector] = &[
    arp::COLLECTOR,
    #[cfg(feature = "server")]
    bcache::COLLECTOR,
    #[cfg(feature = "extras")]
    bonding::COLLECTOR,
    #[cfg(feature = "server")]
    btrfs::COLLECTOR,
    #[cfg(feature = "server")]
    buddyinfo::COLLECTOR,
    conntrack::COLLECTOR,
    cpu::COLLECTOR,
    cpufreq::COLLECTOR,
    diskstats::COLLECTOR,
    #[cfg(feature = "server")]
    dmi::COLLECTOR,
    #[cfg(feature = "server")]
    dmmultipath::COLLECTOR,
    #[cfg(feature = "server")]
    edac::COLLECTOR,
    entropy::COLLECTOR,
    #[cfg(feature = "server")]
    ethtool::COLLECTOR,
    #[cfg(feature = "server")]
    fibrechannel::COLLECTOR,
    filefd::COLLECTOR,
    filesystem::COLLECTOR,
    hwmon::COLLECTOR,
    #[cfg(feature = "server")]
    infiniband::COLLECTOR,
    interrupts::COLLECTOR,
    #[cfg(feature = "server")]
    ipvs::COLLECTOR,
    #[cfg(feature = "server")]
    kernel_hung::COLLECTOR,
    #[cfg(feature = "server")]
    ksmd::COLLECTOR,
    #[cfg(feature = "server")]
    lnstat::COLLECTOR,
    loadavg::COLLECTOR,
    #[cfg(feature = "extras")]
    mdadm::COLLECTOR,
    meminfo::COLLECTOR,
    #[cfg(feature = "server")]
    meminfo_numa::COLLECTOR,
    #[cfg(feature = "server")]
    mountstats::COLLECTOR,
    namedprocess::COLLECTOR,
    netclass::COLLECTOR,
    netdev::COLLECTOR,
    netstat::COLLECTOR,
    #[cfg(feature = "extras")]
    network_route::COLLECTOR,
    #[cfg(feature = "server")]
    nfs::COLLECTOR,
    #[cfg(feature = "server")]
    nfsd::COLLECTOR,
    #[cfg(feature = "server")]
    nvme::COLLECTOR,
    #[cfg(feature = "extras")]
    os::COLLECTOR,
    #[cfg(feature = "extras")]
    powersupplyclass::COLLECTOR,
    pressure::COLLECTOR,
    #[cfg(feature = "extras")]
    processes::COLLECTOR,
    #[cfg(feature = "extras")]
    qdisc::COLLECTOR,
    #[cfg(feature = "server")]
    rapl::COLLECTOR,
    #[cfg(feature = "extras")]
    schedstat::COLLECTOR,
    #[cfg(feature = "server")]
    selinux::COLLECTOR,
    #[cfg(feature = "server")]
    slabinfo::COLLECTOR,
    sockstat::COLLECTOR,
    #[cfg(feature = "extras")]
    softirqs::COLLECTOR,
    softnet::COLLECTOR,
    stat::COLLECTOR,
    #[cfg(feature = "server")]
    sysctl::COLLECTOR,
    #[cfg(feature = "server")]
    tapestats::COLLECTOR,
    #[cfg(feature = "server")]
    tcpstat::COLLECTOR,
    thermal_zone::COLLECTOR,
    time::COLLECTOR,
    #[cfg(feature = "extras")]
    timex::COLLECTOR,
    #[cfg(feature = "extras")]
    udp_queues::COLLECTOR,
    uname::COLLECTOR,
    vmstat::COLLECTOR,
    #[cfg(feature = "extras")]
    watchdog::COLLECTOR,
    wifi::COLLECTOR,
    #[cfg(feature = "server")]
    xfs::COLLECTOR,
    #[cfg(feature = "server")]
    zfs::COLLECTOR,
    #[cfg(feature = "server")]
    zoneinfo::COLLECTOR,
    // Out of alphabetical order on purpose: textfile must run after every other collector so
    // that it can refuse families they already wrote (Encoder::has_family).
    textfile::COLLECTOR,
];

/// Collectors whose reads can block in the kernel: a textfile directory on a hung NFS or FUSE
/// mount, a sysfs attribute whose driver waits on a dead I2C or ACPI bus, a process's cmdline
/// or smaps_rollup while its mmap lock is held. They run one after the other on a helper
/// thread with a [`Ctx`] of their own (see [`Guarded`]): one thread hop per collector and
/// scrape, never one per read; a fresh helper only when one is stuck. A collector that may
/// block adds its name here.
pub const MAY_BLOCK: &[&str] = &[
    "hwmon",
    "namedprocess",
    "powersupplyclass",
    "textfile",
    "thermal_zone",
];

/// How long a scrape may take when the request does not say (`--web.scrape-timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// When a guarded collector starting at `start` gives up, with `left` guarded collectors (it
/// included) still to run before `deadline`: the time left less half an equal share for each
/// one after it. One that blocks leaves each later one at least half an equal share; a slow one
/// among quick ones (namedprocess on a big host beside hwmon, textfile, thermal_zone) is not
/// cut to 1/N of the time when the others need a millisecond (with Prometheus's 1 s timeout:
/// 0.31 s of the 0.5 s for the first of four, where an equal share was 0.125 s).
fn guarded_limit(start: Instant, deadline: Instant, left: u32) -> Instant {
    let time = deadline.saturating_duration_since(start);
    let left = left.max(1);
    start + time.saturating_sub(time / (2 * left) * (left - 1))
}

/// A collector without options or state between scrapes.
pub type CollectFn = fn(&mut Ctx, &mut Encoder) -> Result<(), Error>;

/// A collector with options compiled from its flags, or state kept between scrapes.
pub trait Collect: Send {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error>;
}

/// How a collector is made, once at start and again on SIGHUP.
pub enum Build {
    Plain(CollectFn),
    /// Compiles the collector's options from the settings; an error names the flag.
    New(fn(&Settings) -> Result<Box<dyn Collect>, CliError>),
}

/// One entry of [`ALL`]: everything the rest of the program needs to know of a collector.
pub struct Collector {
    pub name: &'static str,
    pub enabled_by_default: bool,
    /// Its flags besides `--collector.NAME`, gathered by cli.rs for the command line, the
    /// config file and `--help`.
    pub flags: &'static [Flag],
    /// A `--help` heading of their own for its flags (otherwise "Collector options").
    pub help_section: Option<&'static str>,
    /// What it reads, for `proctap check`.
    pub sources: Sources,
    pub build: Build,
}

impl Collector {
    /// A collector of node_exporter's with no flags of its own.
    pub const fn plain(name: &'static str, collect: CollectFn, sources: Sources) -> Collector {
        Collector {
            name,
            enabled_by_default: true,
            flags: &[],
            help_section: None,
            sources,
            build: Build::Plain(collect),
        }
    }
}

/// What a collector reads, for `proctap check`.
pub struct Sources {
    pub reads: &'static [What],
    /// What enables a missing or unreadable source.
    pub hint: &'static str,
}

/// Denied reads of files under /proc and /sys that are not per-process are root-only files.
pub const ROOT_ONLY: &str = "run as root or grant CAP_DAC_READ_SEARCH";

/// One source of a collector.
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
    /// A netlink family the collector asks, and what it asks (`RTM_GETQDISC dump`).
    Netlink(crate::netlink::Family, &'static str),
    /// `/proc/<pid>/<file>` of every process: how many are readable and how many denied
    /// (another user's io, smaps_rollup, fd need CAP_SYS_PTRACE).
    PerProcess(&'static str),
}

#[cfg_attr(proctap_size, optimize(size))]
pub fn by_name(name: &str) -> Option<usize> {
    ALL.iter().position(|c| c.name == name)
}

/// Every collector's flags.
#[cfg_attr(proctap_size, optimize(size))]
pub fn flags() -> impl Iterator<Item = &'static Flag> {
    ALL.iter().flat_map(|c| c.flags)
}

/// A running collector.
enum Instance {
    Plain(CollectFn),
    Built(Box<dyn Collect>),
}

impl Instance {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        match self {
            Instance::Plain(f) => f(ctx, out),
            Instance::Built(c) => c.collect(ctx, out),
        }
    }
}

/// What the guarded collectors share while none is stuck: a context and an output encoder
/// (seeded with the scrape's family names before each run), and the file the context's
/// [`Source`] is reading (see [`Source::publish_to`]).
struct Kit {
    ctx: Ctx,
    out: Encoder,
    reading: Arc<Mutex<PathBuf>>,
}

impl Kit {
    fn new(src: &Source) -> Self {
        let reading = Arc::new(Mutex::new(PathBuf::new()));
        let mut src = src.clone();
        src.publish_to(Arc::clone(&reading));
        let mut ctx = Ctx::new(src);
        // Grown to what the guarded collectors read, not the shared context's 64 KiB up front.
        ctx.buf = String::new();
        ctx.buf2 = String::new();
        Kit {
            ctx,
            out: Encoder::new(),
            reading,
        }
    }
}

/// What a guarded collector takes to a helper thread and brings back: the collector and the
/// kit it runs with.
struct Job {
    instance: Instance,
    kit: Kit,
    result: Result<(), Error>,
    /// What the last run allocated, counted on the helper thread so that the zero-allocation
    /// test sees it.
    #[cfg(test)]
    allocations: u64,
}

fn run_job(job: &mut Job) {
    #[cfg(test)]
    {
        let (n, ()) = crate::alloc_count::allocations(|| run_job_counted(job));
        job.allocations = n;
    }
    #[cfg(not(test))]
    run_job_counted(job);
}

fn run_job_counted(job: &mut Job) {
    if let Ok(mut p) = job.kit.reading.lock() {
        p.as_mut_os_string().clear();
    }
    job.result = job.instance.collect(&mut job.kit.ctx, &mut job.kit.out);
}

/// The helper thread and kit that the guarded collectors ([`MAY_BLOCK`]) take turns with,
/// one after the other, while none is stuck: one thread for all of them.
struct Helper {
    guard: Guard<Job>,
    kit: Kit,
}

impl Helper {
    fn new(src: &Source) -> Self {
        Helper {
            guard: Guard::new("proctap-guard", run_job),
            kit: Kit::new(src),
        }
    }
}

/// A collector of [`MAY_BLOCK`], run on the shared [`Helper`]. When a run passes its deadline
/// the job stays with that helper (blocked in the kernel), the next guarded collector gets a
/// fresh helper and kit, and later scrapes skip this one at once, reporting success 0, until
/// the helper hands the job back: at most one thread per stuck collector, and no descriptors
/// beyond what that one run holds.
struct Guarded {
    /// The collector, while it is not on a helper.
    home: Option<Instance>,
    /// The helper a run that passed its deadline is still on, and the file it was reading.
    away: Option<(Guard<Job>, Arc<Mutex<PathBuf>>)>,
}

fn stuck(reading: &Mutex<PathBuf>) -> Error {
    let path = reading.lock().map(|p| p.clone()).unwrap_or_default();
    Error::Stuck { path }
}

impl Guarded {
    /// The collector of a job that came back is home again; its helper becomes the spare
    /// unless there is one (then the helper's thread ends when `guard` drops).
    fn settle(&mut self, spare: &mut Option<Helper>, guard: Guard<Job>, job: Job) {
        self.home = Some(job.instance);
        if spare.is_none() {
            *spare = Some(Helper {
                guard,
                kit: job.kit,
            });
        }
    }

    /// Runs the collector into `out` on the spare helper (made from `src` when there is none),
    /// waiting for it until `deadline` at most.
    fn collect(
        &mut self,
        spare: &mut Option<Helper>,
        src: &Source,
        out: &mut Encoder,
        deadline: Instant,
    ) -> Result<(), Error> {
        if let Some((mut guard, reading)) = self.away.take() {
            let Some(job) = guard.take_back() else {
                let err = stuck(&reading);
                self.away = Some((guard, reading));
                return Err(err);
            };
            // Back from being stuck: its helper is the spare unless a fresh one took over
            // (then this one's thread ends here).
            self.settle(spare, guard, job);
        }
        let Some(instance) = self.home.take() else {
            return Err(Error::Io {
                path: PathBuf::from("(helper thread)"),
                err: std::io::Error::other("the collector is on no thread"),
            });
        };
        let Helper { mut guard, mut kit } = spare.take().unwrap_or_else(|| Helper::new(src));
        kit.out.seed_families(out);
        let from = kit.out.mark();
        let reading = Arc::clone(&kit.reading);
        let job = Job {
            instance,
            kit,
            result: Ok(()),
            #[cfg(test)]
            allocations: 0,
        };
        match guard.run(job, deadline) {
            Ok(mut job) => {
                #[cfg(test)]
                crate::alloc_count::add(job.allocations);
                let result = std::mem::replace(&mut job.result, Ok(()));
                if result.is_ok() {
                    out.append_from(&job.kit.out, from);
                }
                self.settle(spare, guard, job);
                result
            }
            Err((Away::TimedOut, _)) => {
                let err = stuck(&reading);
                self.away = Some((guard, reading));
                Err(err)
            }
            Err((away, back)) => {
                if let Some(job) = back {
                    self.settle(spare, guard, job);
                }
                let err = match away {
                    Away::Spawn(e) => e,
                    _ => std::io::Error::other("the helper thread is busy"),
                };
                Err(Error::Io {
                    path: PathBuf::from("(helper thread)"),
                    err,
                })
            }
        }
    }
}

/// An enabled collector: run on the scraping thread, or through its guard.
enum Running {
    Direct(Instance),
    Guarded(Guarded),
}

#[cfg_attr(proctap_size, optimize(size))]
fn build(c: &Collector, settings: &Settings) -> Result<Instance, CliError> {
    Ok(match c.build {
        Build::Plain(f) => Instance::Plain(f),
        Build::New(new) => Instance::Built(new(settings)?),
    })
}

/// Builds every collector once, enabled or not, so that a bad option is an error at start
/// whichever collectors are on.
#[cfg_attr(proctap_size, optimize(size))]
pub fn validate(settings: &Settings) -> Result<(), CliError> {
    ALL.iter().try_for_each(|c| build(c, settings).map(drop))
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
    /// For [`Pattern::is_match_nth`]: where in `seen` the nth subject of the last scrape was.
    hints: Vec<u32>,
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
            hints: Vec::new(),
        }
    }

    /// Like [`Pattern::is_match`] for the `nth` subject of a file whose subjects come in the
    /// same order every scrape (vmstat's and netstat's fields): the answer of the subject
    /// that was nth last time is checked with one comparison before any search.
    pub fn is_match_nth(&mut self, nth: usize, subject: &str) -> bool {
        let hint = self.hints.get(nth).map_or(usize::MAX, |&h| h as usize);
        if let Some((s, m)) = self.seen.get(hint) {
            if **s == *subject {
                let m = *m;
                self.answered();
                return m;
            }
        }
        let m = self.is_match(subject);
        if nth < Self::MAX_REMEMBERED {
            if let Ok(i) = self.seen.binary_search_by(|(s, _)| (**s).cmp(subject)) {
                if self.hints.len() <= nth {
                    self.hints.resize(nth + 1, u32::MAX);
                }
                if let Some(h) = self.hints.get_mut(nth) {
                    *h = u32::try_from(i).unwrap_or(u32::MAX);
                }
            }
        }
        m
    }

    /// A remembered answer was given: the regex's match cache goes (see `is_match`).
    fn answered(&mut self) {
        if self.ran && self.seen.len() < Self::MAX_REMEMBERED {
            self.re = self.re.clone();
            self.ran = false;
        }
    }

    pub fn is_match(&mut self, subject: &str) -> bool {
        match self.seen.binary_search_by(|(s, _)| (**s).cmp(subject)) {
            Ok(i) => {
                // Answers are remembered again: give the match cache back (a clone of a
                // regex-lite Regex shares the compiled program and starts with no cache). Not
                // once the memory is full, when the regex runs on every scrape.
                self.answered();
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
    /// From an include/exclude pair of flags: the include pattern wins when set.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn from_settings(s: &Settings, include: &str, exclude: &str) -> Result<Filter, CliError> {
        if let Some(re) = s.opt_regex(include)? {
            return Ok(Filter {
                include: Some(Pattern::new(re)),
                exclude: None,
            });
        }
        Ok(Filter {
            include: None,
            exclude: s.opt_regex(exclude)?.map(Pattern::new),
        })
    }

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

/// What every collector may use: the paths and the buffers reused on every scrape. A
/// collector's own options and state live in the collector (see [`Collect`]).
pub struct Ctx {
    pub src: Source,
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
}

impl Ctx {
    pub fn new(src: Source) -> Self {
        Ctx {
            src,
            user_hz: sysconf(libc::_SC_CLK_TCK, 100) as f64,
            page_size: sysconf(libc::_SC_PAGESIZE, 4096),
            buf: String::with_capacity(64 << 10),
            buf2: String::with_capacity(4 << 10),
            names: NameList::default(),
            flags: Vec::new(),
            u64s: Vec::new(),
        }
    }
}

#[cfg_attr(proctap_size, optimize(size))]
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
    /// Its source is absent because the kernel lacks the feature ([`Error::Unavailable`]):
    /// `ok` is false, as in node_exporter, but this is not a failure.
    pub unavailable: bool,
    /// The last error, kept so that a collector failing the same way on every scrape is
    /// logged once, not every 15 seconds.
    pub error: Option<String>,
    /// The last error was [`Error::Stuck`]: it is not logged again until the collector has
    /// come back.
    pub stuck: bool,
    /// Where this collector's samples are in the output of the last scrape (empty when it
    /// failed or did not run), so `proctap check` can count them and a filtered request can
    /// be answered from them.
    pub span: std::ops::Range<usize>,
}

/// Runs the enabled collectors into one reused encoder and appends the meta-metrics.
pub struct Scraper {
    pub ctx: Ctx,
    /// Indexes into [`ALL`] of the enabled collectors, in table order.
    pub enabled: Vec<usize>,
    instances: Vec<Running>,
    /// The helper thread and kit the guarded collectors run with, made on first use; `None`
    /// while one of them runs.
    spare: Option<Helper>,
    /// How long a scrape may take when the caller gives no deadline (`--web.scrape-timeout`).
    pub timeout: Duration,
    pub outcomes: Vec<Outcome>,
    pub out: Encoder,
    /// A `collect[]`/`exclude[]` answer assembled from the last scrape ([`Scraper::filter_last`]).
    pub filtered: Encoder,
    pub selfproc: selfproc::State,
    /// The exporter's own `process_*` series (off with `--web.disable-exporter-metrics`).
    pub exporter_metrics: bool,
}

impl Scraper {
    /// Builds the enabled collectors (indexes into [`ALL`]) from the settings.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(ctx: Ctx, settings: &Settings, enabled: Vec<usize>) -> Result<Self, CliError> {
        let instances = enabled
            .iter()
            .filter_map(|&i| ALL.get(i))
            .map(|c| {
                let instance = build(c, settings)?;
                Ok(if MAY_BLOCK.contains(&c.name) {
                    Running::Guarded(Guarded {
                        home: Some(instance),
                        away: None,
                    })
                } else {
                    Running::Direct(instance)
                })
            })
            .collect::<Result<Vec<_>, CliError>>()?;
        let outcomes = vec![Outcome::default(); enabled.len()];
        Ok(Scraper {
            ctx,
            enabled,
            instances,
            spare: None,
            timeout: DEFAULT_TIMEOUT,
            outcomes,
            out: Encoder::new(),
            filtered: Encoder::new(),
            selfproc: selfproc::State::new(),
            exporter_metrics: true,
        })
    }

    /// Collects everything into `self.out`; true when no enabled collector failed (one whose
    /// source the kernel lacks does not count).
    pub fn scrape(&mut self) -> bool {
        self.scrape_some(None)
    }

    /// Collects the enabled collectors that `only` marks (indexed as `enabled`; all of them
    /// when `None`) into `self.out`, with the meta-metrics of those.
    pub fn scrape_some(&mut self, only: Option<&[bool]>) -> bool {
        self.scrape_within(only, Instant::now() + self.timeout)
    }

    /// [`Scraper::scrape_some`] by `deadline`: each guarded collector ([`MAY_BLOCK`]) may use
    /// the time left less a reserve of half an equal share for each guarded collector after it
    /// ([`guarded_limit`]).
    pub fn scrape_within(&mut self, only: Option<&[bool]>, deadline: Instant) -> bool {
        self.out.clear();
        let mut all_ok = true;
        let mut guarded_left = self
            .instances
            .iter()
            .enumerate()
            .filter(|(k, r)| selected(only, *k) && matches!(r, Running::Guarded(_)))
            .count() as u32;
        let running = self.outcomes.iter_mut().zip(&mut self.instances);
        for (k, ((slot, instance), &i)) in running.zip(&self.enabled).enumerate() {
            let Some(c) = ALL.get(i) else { continue };
            let mark = self.out.mark();
            if !selected(only, k) {
                slot.span = mark..mark;
                continue;
            }
            let start = Instant::now();
            let result = match instance {
                Running::Direct(instance) => instance.collect(&mut self.ctx, &mut self.out),
                Running::Guarded(g) => {
                    let limit = guarded_limit(start, deadline, guarded_left);
                    guarded_left = guarded_left.saturating_sub(1);
                    let (spare, src) = (&mut self.spare, &self.ctx.src);
                    g.collect(spare, src, &mut self.out, limit)
                }
            };
            let seconds = start.elapsed().as_secs_f64();
            slot.seconds = seconds;
            slot.ok = result.is_ok();
            if result.is_err() {
                self.out.rollback(mark);
            }
            slot.span = mark..self.out.mark();
            log::log(
                log::Level::Debug,
                "collector",
                &[
                    ("collector", &c.name),
                    ("duration_seconds", &seconds),
                    ("success", &slot.ok),
                ],
            );
            let was_unavailable = std::mem::replace(
                &mut slot.unavailable,
                matches!(result, Err(Error::Unavailable { .. })),
            );
            match result {
                Err(Error::Unavailable { path, .. }) => {
                    if !was_unavailable {
                        log::info(
                            "collector has no source on this kernel",
                            &[
                                ("collector", &c.name),
                                ("path", &path.display()),
                                ("enable", &c.sources.hint),
                            ],
                        );
                    }
                    slot.error = None;
                    slot.stuck = false;
                }
                // One line per stuck run: the helper may still be moving from file to file
                // when the deadline passes, so the path named can change while it is stuck.
                Err(Error::Stuck { .. }) if slot.stuck => all_ok = false,
                Err(e) => {
                    all_ok = false;
                    slot.stuck = matches!(e, Error::Stuck { .. });
                    let msg = e.to_string();
                    if slot.error.as_deref() != Some(msg.as_str()) {
                        log::error("collector failed", &[("collector", &c.name), ("err", &msg)]);
                        slot.error = Some(msg);
                    }
                }
                Ok(()) => {
                    slot.stuck = false;
                    if slot.error.take().is_some() || was_unavailable {
                        log::info("collector recovered", &[("collector", &c.name)]);
                    }
                }
            }
        }
        let ctx = &mut self.ctx;
        ctx.src.trim(&mut [&mut ctx.buf, &mut ctx.buf2]);
        if let Some(Helper { kit, .. }) = &mut self.spare {
            let ctx = &mut kit.ctx;
            ctx.src.trim(&mut [&mut ctx.buf, &mut ctx.buf2]);
        }
        let meta = Meta {
            outcomes: &self.outcomes,
            enabled: &self.enabled,
            only,
            exporter_metrics: self.exporter_metrics,
        };
        meta.write(&mut self.selfproc, &mut self.ctx, &mut self.out);
        all_ok
    }

    /// Answers a filtered request from the last scrape: the families of the collectors `only`
    /// marks, then their meta-metrics, into `self.filtered`. The last scrape must have run
    /// them (a full scrape did).
    pub fn filter_last(&mut self, only: &[bool]) {
        self.filtered.clear();
        for (k, o) in self.outcomes.iter().enumerate() {
            if selected(Some(only), k) {
                self.filtered
                    .raw(self.out.as_bytes().get(o.span.clone()).unwrap_or(&[]));
            }
        }
        let meta = Meta {
            outcomes: &self.outcomes,
            enabled: &self.enabled,
            only: Some(only),
            exporter_metrics: self.exporter_metrics,
        };
        meta.write(&mut self.selfproc, &mut self.ctx, &mut self.filtered);
    }
}

fn selected(only: Option<&[bool]>, k: usize) -> bool {
    only.map_or(true, |o| o.get(k).copied().unwrap_or(false))
}

/// The series every scrape ends with: per collector its duration, success and (when the kernel
/// lacks its source) unavailability; the build info; the exporter's own process metrics.
struct Meta<'a> {
    outcomes: &'a [Outcome],
    enabled: &'a [usize],
    only: Option<&'a [bool]>,
    exporter_metrics: bool,
}

impl Meta<'_> {
    fn collectors(&self) -> impl Iterator<Item = (&Outcome, &'static Collector)> + '_ {
        self.outcomes
            .iter()
            .zip(self.enabled)
            .enumerate()
            .filter(|(k, _)| selected(self.only, *k))
            .filter_map(|(_, (o, &i))| ALL.get(i).map(|c| (o, c)))
    }

    fn write(&self, selfproc: &mut selfproc::State, ctx: &mut Ctx, out: &mut Encoder) {
        out.family(
            "node_scrape_collector_duration_seconds",
            "node_exporter: Duration of a collector scrape.",
            Kind::Gauge,
        );
        for (o, c) in self.collectors() {
            out.f64(&[("collector", c.name)], o.seconds);
        }
        out.family(
            "node_scrape_collector_success",
            "node_exporter: Whether a collector succeeded.",
            Kind::Gauge,
        );
        for (o, c) in self.collectors() {
            out.u64(&[("collector", c.name)], u64::from(o.ok));
        }
        if self.collectors().any(|(o, _)| o.unavailable) {
            out.family(
                "proctap_scrape_collector_unavailable",
                "1 when the collector's source is absent because the kernel lacks the feature (its node_scrape_collector_success is 0, as in node_exporter); `proctap check` says what enables it.",
                Kind::Gauge,
            );
            for (_, c) in self.collectors().filter(|(o, _)| o.unavailable) {
                out.u64(&[("collector", c.name)], 1);
            }
        }
        let build = [
            ("revision", env!("PROCTAP_REVISION")),
            ("rustc", env!("PROCTAP_RUSTC")),
            ("version", env!("CARGO_PKG_VERSION")),
        ];
        out.family(
            "proctap_build_info",
            "A metric with a constant '1' value labeled by version, revision, and rustc version from which proctap was built.",
            Kind::Gauge,
        );
        out.u64(&build, 1);
        // Dashboards fill their instance variable from node_exporter_build_info (the node-mixin's
        // "USE Method / Node" among them).
        out.family(
            "node_exporter_build_info",
            "proctap's build info under node_exporter's name, for dashboards that look for it: a constant '1' labeled by version, revision, and rustc version from which proctap was built.",
            Kind::Gauge,
        );
        out.u64(&build, 1);
        if self.exporter_metrics {
            selfproc.collect(ctx, out);
        }
    }
}

/// A context on the repository's fixture tree, for collector tests.
#[cfg(test)]
pub fn fixture_ctx() -> Ctx {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    Ctx::new(
        Source::new(
            format!("{root}/proc").into(),
            format!("{root}/sys").into(),
            root.into(),
        )
        .with_udev(format!("{root}/run/udev/data").into()),
    )
}

/// A context on a tree a test built under `root` (`root/proc`, `root/sys`, `root` itself).
#[cfg(test)]
pub fn tree_ctx(root: &std::path::Path) -> Ctx {
    Ctx::new(Source::new(
        root.join("proc"),
        root.join("sys"),
        root.to_path_buf(),
    ))
}

/// Every collector flag at its default, for collector tests on the fixture tree, except that
/// netdev reads the fixtures' /proc/net/dev rather than this machine's links over netlink.
#[cfg(test)]
pub fn default_settings() -> Settings {
    let mut s = Settings::new(flags());
    if let Some(f) = flags().find(|f| f.name == "collector.netdev.netlink") {
        let _ = s.set(f, crate::config::Value::Bool(false));
    }
    s
}

#[cfg(test)]
pub mod tests {
    use super::*;

    #[test]
    fn guarded_limits_leave_half_a_share_to_each_later_collector() {
        let start = Instant::now();
        let ms = |t: Instant| (t - start).as_millis();
        let deadline = start + Duration::from_millis(800);
        assert_eq!(ms(guarded_limit(start, deadline, 1)), 800);
        assert_eq!(ms(guarded_limit(start, deadline, 2)), 600);
        assert_eq!(ms(guarded_limit(start, deadline, 4)), 500);
        assert_eq!(ms(guarded_limit(start, deadline, 0)), 800);
        // Four that all block: each leaves the next something, and the last ends at the deadline.
        let (mut t, mut ends) = (start, Vec::new());
        for left in (1..=4).rev() {
            t = guarded_limit(t, deadline, left);
            ends.push(ms(t));
        }
        assert_eq!(ends, [500, 700, 775, 800]);
        assert_eq!(
            guarded_limit(deadline, start, 3),
            deadline,
            "a deadline already past"
        );
    }

    /// The samples of an output, by `name{labels}`, for tests that compare values.
    pub fn samples(out: &[u8]) -> std::collections::BTreeMap<String, f64> {
        let text = std::str::from_utf8(out).unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (k, v) = l.rsplit_once(' ').unwrap();
                (k.to_string(), v.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn the_table_is_sorted_unique_and_ends_with_textfile() {
        let names: Vec<&str> = ALL.iter().map(|c| c.name).collect();
        let (last, rest) = names.split_last().unwrap();
        assert_eq!(*last, "textfile");
        assert!(rest.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    }

    #[test]
    fn every_collector_builds_from_the_defaults() {
        validate(&default_settings()).unwrap();
        let names: Vec<&str> = flags().map(|f| f.name).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "a flag is declared twice");
    }

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
    fn pattern_by_position_answers_as_the_regex_does_when_the_order_changes() {
        let mut p = Pattern::new(Regex::new("^(eth|wlan)").unwrap());
        let rounds: [&[&str]; 4] = [
            &["eth0", "lo", "wlan0"],
            &["eth0", "lo", "wlan0"],
            // A field came in between, one went, and the order changed.
            &["lo", "eth0", "br0", "wlan1"],
            &["eth0", "lo", "wlan0"],
        ];
        for subjects in rounds {
            let got: Vec<bool> = subjects
                .iter()
                .enumerate()
                .map(|(i, s)| p.is_match_nth(i, s))
                .collect();
            let want: Vec<bool> = subjects
                .iter()
                .map(|s| s.starts_with("eth") || s.starts_with("wlan"))
                .collect();
            assert_eq!(got, want, "{subjects:?}");
        }
        // Remembered: br0 eth0 lo wlan0 wlan1; the last round's eth0 lo wlan0 are 1 2 3, and
        // the third round's fourth (wlan1) is still 4.
        assert_eq!(p.hints, [1, 2, 3, 4]);
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
