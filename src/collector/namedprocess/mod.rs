//! Per-process metrics (SPEC section 3): process-exporter's `namedprocess_namegroup_*` groups
//! and `proctap_process_*` series for selected processes, from one scan of `<procfs>/[0-9]*`.
//!
//! A process is known by pid + start time. What cannot change while it lives (command line,
//! cgroup, user, classification, group) is worked out once, when it is first seen; a scrape
//! then reads stat, status, io, wchan (not again while it sleeps where it did: see
//! [`still_blocked`]), the fd/ count (and limits now and then) into reused buffers and updates
//! the entry in place, so known processes cost no allocation. A process
//! with more than one thread also has its threads read (task/<tid>/status and wchan, and
//! stat and io for the thread families), as process-exporter counts them; one with a single
//! thread costs nothing more.
//!
//! Every per-PID read goes through [`Reader::read`]: a file that is gone, or that does not
//! parse because its process exited meanwhile, skips the process (or the thread); a file the
//! kernel does not have at all is found out once and not asked for again.
pub mod classify;
pub mod group;
pub mod naming;
pub mod parse;
pub mod traffic;

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use regex_lite::Regex;

use super::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{u64_str, Encoder, Kind, Label};
use crate::flag::{self, CliError, Flag, Kind as FlagKind, Settings};
use crate::netlink::{self, NlError};
use crate::source::{self, for_each_dir_entry, open_dir, Error, ParseError, Root, Source};
use classify::{truncate_comm, Classifier, OTHER};
use group::{Comm, Counters, GroupBy, Groups, Identity, Member, Wchans, STATES};
use naming::{Attrs, Namer};
use parse::{Proto, Sched};

/// Options of the namedprocess collector, compiled once at start-up.
#[derive(Debug, Clone)]
pub struct ProcOpts {
    pub group_by: Vec<GroupBy>,
    /// process-exporter's grouping (`--config.path`, `--procnames`/`--namemapping`): only
    /// processes it names are grouped. None: every process is, by `group_by`.
    pub namer: Option<Namer>,
    /// An unmatched process joins its nearest grouped ancestor's group (with `namer`).
    pub children: bool,
    /// Unmatched processes are matched again on every scrape, while younger than
    /// `recheck_limit` when that is not zero.
    pub recheck: bool,
    pub recheck_limit: Duration,
    pub remove_empty_groups: bool,
    /// The per-thread-name families.
    pub threads: bool,
    /// On comm; exclude is checked first.
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
    /// On the classification group; exclude is checked first.
    pub groups_include: Option<Regex>,
    pub groups_exclude: Option<Regex>,
    /// `--proc-name`, truncated to 15 bytes as Linux truncates comm.
    pub names: Vec<String>,
    /// `--proc-pattern`, on comm and on the command line.
    pub pattern: Option<Regex>,
    pub top_n: usize,
    pub top_n_subgroup: usize,
    pub top_n_others: usize,
    /// Bytes of USS below which a process is in no top-N list (0: no minimum).
    pub min_uss: u64,
    pub smaps: bool,
    /// `--proc-kept-files`: at most this many per-PID descriptors kept between scrapes.
    pub kept_files: usize,
    pub kernel_threads: bool,
    pub classifier: Classifier,
}

pub const COLLECTOR: Collector = Collector {
    name: "namedprocess",
    enabled_by_default: true,
    flags: &[
        Flag::new(
            "group-by",
            FlagKind::List,
            "PARTS",
            "name",
            "What makes a namedprocess_namegroup group: name (comm), user, cmdline (basename of argv[0]) or class (group/subgroup of the classification), combined with commas; the groupname joins the parts with /.",
        )
        .check(|p| match GroupBy::parse(p) {
            Some(_) => Ok(()),
            None => Err(format!("unknown part {p:?}: expected name, user, cmdline or class")),
        }),
        Flag::new(
            "config.path",
            FlagKind::Str,
            "FILE",
            "",
            "process-exporter's YAML config, used unchanged: process_names with comm, exe and cmdline matchers and name templates ({{.Comm}}, {{.ExeBase}}, {{.ExeFull}}, {{.Username}}, {{.PID}}, {{.StartTime}}, {{.Cgroups}}, {{.Matches.NAME}}). The first matching entry names a process's group; processes no entry matches are not in any group. Replaces --group-by.",
        )
        .unset_none(),
        Flag::new(
            "procnames",
            FlagKind::List,
            "NAMES",
            "",
            "process-exporter's -procnames: group only the processes whose comm is one of NAMES, by comm. Replaces --group-by; not with --config.path.",
        )
        .unset_none(),
        Flag::new(
            "namemapping",
            FlagKind::Str,
            "NAME,RE,...",
            "",
            "process-exporter's -namemapping: a process whose comm is NAME is grouped as NAME:CAPTURE, the first non-empty capture of RE on its command line (left out when RE does not match). Replaces --group-by; not with --config.path.",
        )
        .unset_none(),
        Flag::new(
            "proc-children",
            FlagKind::Switch,
            "",
            "true",
            "With --config.path, --procnames or --namemapping: a new process that no matcher names joins the group of its nearest grouped ancestor (process-exporter's -children). On by default; --no-proc-children turns it off.",
        )
        .aliases(&["children"]),
        Flag::new(
            "proc-threads",
            FlagKind::Switch,
            "",
            "true",
            "Export the per-thread-name families namedprocess_namegroup_thread_* for multi-threaded processes (process-exporter's -threads); reads task/<tid>/stat and io of each of their threads. On by default; --no-proc-threads turns it off.",
        )
        .aliases(&["threads"]),
        Flag::switch(
            "proc-recheck",
            "Match the processes no matcher named again on every scrape (process-exporter's -recheck), for programs that change their name after they start.",
        )
        .aliases(&["recheck"]),
        Flag::new(
            "proc-recheck-with-time-limit",
            FlagKind::Duration,
            "DURATION",
            "0s",
            "Like --proc-recheck, but only while a process is younger than DURATION (process-exporter's -recheck-with-time-limit); 0s: no limit.",
        )
        .aliases(&["recheck-with-time-limit"]),
        Flag::switch(
            "proc-remove-empty-groups",
            "Stop exporting a group when its last process has exited (process-exporter's -remove-empty-groups); its counters start again from 0 when a member comes back.",
        )
        .aliases(&["remove-empty-groups"]),
        Flag::new(
            "proc-include",
            FlagKind::OptRegex,
            "RE",
            "",
            "Look only at processes whose name (comm) matches.",
        )
        .unset_all(),
        Flag::new(
            "proc-exclude",
            FlagKind::OptRegex,
            "RE",
            "",
            "Skip processes whose name (comm) matches; checked before --proc-include.",
        )
        .unset_none(),
        Flag::new(
            "proc-groups-include",
            FlagKind::OptRegex,
            "RE",
            "",
            "Look only at processes whose classification group (db, web, container, ..., other; see proctap subgroups) matches (herakles' search_groups).",
        )
        .unset_all(),
        Flag::new(
            "proc-groups-exclude",
            FlagKind::OptRegex,
            "RE",
            "",
            "Skip processes whose classification group matches; checked before --proc-groups-include.",
        )
        .unset_none(),
        Flag::switch(
            "proc-kernel-threads",
            "Include kernel threads (excluded by default; with --config.path or --procnames the matchers decide, as in process-exporter).",
        ),
        Flag::new(
            "proc-name",
            FlagKind::Append,
            "NAME",
            "",
            "Export proctap_process_* series for every process whose comm equals NAME; repeatable. Linux truncates comm to 15 bytes, so NAME is compared truncated to 15 bytes too.",
        )
        .unset_none(),
        Flag::new(
            "proc-pattern",
            FlagKind::OptRegex,
            "RE",
            "",
            "Export proctap_process_* series for every process whose comm or command line (arguments joined by spaces) matches.",
        )
        .unset_none(),
        Flag::new(
            "top-n",
            FlagKind::Count,
            "N",
            "0",
            "Also export proctap_process_* series for the top N processes by CPU percent, by resident memory and by I/O bytes per second, each list chosen separately (0: none).",
        ),
        Flag::new(
            "top-n-per-subgroup",
            FlagKind::Count,
            "N",
            "0",
            "Also export proctap_process_* series for the top N by CPU percent and the top N by resident memory of every classification subgroup (herakles' top_n_subgroup; 0: none).",
        ),
        Flag::new(
            "top-n-others",
            FlagKind::Count,
            "N",
            "0",
            "The same for the processes no classification rule knows (group other): the top N by CPU percent and by resident memory among them (herakles' top_n_others; 0: none).",
        ),
        Flag::new(
            "proc-min-uss",
            FlagKind::Count,
            "BYTES",
            "0",
            "Leave processes with less unique memory (USS) than BYTES out of every top-N list (herakles' min_uss_kb, in bytes); needs --proc-smaps. 0: no minimum.",
        ),
        Flag::new(
            "proc-rules",
            FlagKind::Str,
            "FILE",
            "",
            "Classification rules that add to or override the built-in table, one `comm = \"group/subgroup\"` per line (see proctap subgroups).",
        )
        .unset_none(),
        Flag::new(
            "proc-kept-files",
            FlagKind::Count,
            "N",
            "1024",
            "Keep up to N per-process files (stat, status, io, wchan, fd/, sched) open between scrapes and read them again with pread, which saves open(2)'s path walk: about 30% of a scrape's CPU when every file is kept. Each costs about 5 KiB of kernel memory (the seq_file page), charged to proctap's memory cgroup; beyond N, and beyond the open files limit less a reserve for HTTP, files are opened and closed each scrape. 0: keep none.",
        ),
        Flag::switch(
            "proc-smaps",
            "Read /proc/<pid>/smaps_rollup for proportional (pss, proportionalResident, proportionalSwapped) and unique (uss) memory; costly on big hosts.",
        )
        .aliases(&["gather-smaps"]),
    ],
    help_section: Some("Process groups and selected processes (the namedprocess collector)"),
    sources: Sources {
        reads: &[
            What::Dir(Root::Proc, ""),
            What::PerProcess("stat"),
            What::PerProcess("status"),
            What::PerProcess("io"),
            What::PerProcess("fd"),
            What::PerProcess("limits"),
            What::PerProcess("wchan"),
            What::PerProcess("task"),
            What::PerProcess("sched"),
            What::PerProcess("smaps_rollup"),
            What::Netlink(
                crate::netlink::Family::SockDiag,
                "SOCK_DIAG_BY_FAMILY dump, IPPROTO_TCP: the selected processes' TCP bytes and \
                 listening TCP ports (else /proc/net/tcp, tcp6)",
            ),
        ],
        hint: "other users' io and fd need CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (root, or the \
               systemd drop-in contrib/systemd/proctap-process-details.conf); io needs \
               CONFIG_TASK_IO_ACCOUNTING, sched CONFIG_SCHED_DEBUG, smaps_rollup Linux 4.14",
    },
    build: Build::New(|s| Ok(Box::new(Processes::new(s)?))),
};

/// The namedprocess collector: its options and what it keeps between scrapes.
pub struct Processes {
    pub opts: ProcOpts,
    pub st: State,
}

impl Processes {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<Processes, CliError> {
        Ok(Processes {
            opts: ProcOpts::new(s)?,
            st: State::default(),
        })
    }
}

impl Collect for Processes {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        let r = collect(&self.opts, &mut self.st, ctx, out);
        // process-exporter's "no proc metrics collected during a cycle"; shown by the next
        // scrape that succeeds.
        if r.is_err() {
            self.st.scrape_errors += 1;
        }
        r
    }
}

impl ProcOpts {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<ProcOpts, CliError> {
        let parts = s.list("group-by");
        let mut group_by = Vec::new();
        for part in parts {
            let g = GroupBy::parse(part).ok_or_else(|| {
                flag::bad(
                    "--group-by",
                    &parts.join(","),
                    format!("unknown part {part:?}: expected name, user, cmdline or class"),
                )
            })?;
            group_by.push(g);
        }
        if group_by.is_empty() {
            group_by.push(GroupBy::Name);
        }
        let (procnames, namemapping) = (s.list("procnames"), s.str("namemapping"));
        let namer = match s.path("config.path") {
            Some(_) if !procnames.is_empty() => {
                return Err(CliError::Conflict(
                    "--config.path".into(),
                    "--procnames".into(),
                ))
            }
            Some(_) if !namemapping.is_empty() => {
                return Err(CliError::Conflict(
                    "--config.path".into(),
                    "--namemapping".into(),
                ))
            }
            Some(path) => Some(naming::read_config(&path).map_err(CliError::Config)?),
            None if procnames.is_empty() && namemapping.is_empty() => None,
            None => Some(
                naming::mapping(procnames, namemapping)
                    .map_err(|why| flag::bad("--namemapping", namemapping, why))?,
            ),
        };
        let smaps = s.switch("proc-smaps");
        let min_uss = s.count("proc-min-uss") as u64;
        if min_uss > 0 && !smaps {
            return Err(flag::bad(
                "--proc-min-uss",
                &min_uss.to_string(),
                "needs --proc-smaps (USS comes from /proc/<pid>/smaps_rollup)",
            ));
        }
        let rules = s.path("proc-rules");
        let classifier = Classifier::new(rules.as_deref()).map_err(CliError::Config)?;
        let recheck_limit = s.duration("proc-recheck-with-time-limit");
        Ok(ProcOpts {
            group_by,
            namer,
            kept_files: s.count("proc-kept-files"),
            children: s.switch("proc-children"),
            recheck: s.switch("proc-recheck") || !recheck_limit.is_zero(),
            recheck_limit,
            remove_empty_groups: s.switch("proc-remove-empty-groups"),
            threads: s.switch("proc-threads"),
            include: s.opt_regex("proc-include")?,
            exclude: s.opt_regex("proc-exclude")?,
            groups_include: s.opt_regex("proc-groups-include")?,
            groups_exclude: s.opt_regex("proc-groups-exclude")?,
            names: s
                .list("proc-name")
                .iter()
                .map(|n| truncate_comm(n).to_string())
                .collect(),
            pattern: s.opt_regex("proc-pattern")?,
            top_n: s.count("top-n"),
            top_n_subgroup: s.count("top-n-per-subgroup"),
            top_n_others: s.count("top-n-others"),
            min_uss,
            smaps,
            kernel_threads: s.switch("proc-kernel-threads"),
            classifier,
        })
    }

    fn allows(&self, comm: &str) -> bool {
        if self.exclude.as_ref().is_some_and(|re| re.is_match(comm)) {
            return false;
        }
        self.include.as_ref().map_or(true, |re| re.is_match(comm))
    }

    fn allows_group(&self, class_group: &str) -> bool {
        if self
            .groups_exclude
            .as_ref()
            .is_some_and(|re| re.is_match(class_group))
        {
            return false;
        }
        self.groups_include
            .as_ref()
            .map_or(true, |re| re.is_match(class_group))
    }

    /// Whether a process in no group can still be selected (by a top-N list).
    fn ranks_all(&self) -> bool {
        self.top_n > 0 || self.top_n_subgroup > 0 || self.top_n_others > 0
    }
}

/// The per-PID files: read errors are counted per file in `proctap_process_read_errors_total`.
const FILES: [&str; 11] = [
    "cgroup",
    "cmdline",
    "fd",
    "io",
    "limits",
    "sched",
    "smaps_rollup",
    "stat",
    "status",
    "task",
    "wchan",
];

/// A per-PID file; its discriminant indexes [`FILES`] and the counts of [`Reader`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum PidFile {
    Cgroup,
    Cmdline,
    Fd,
    Io,
    Limits,
    Sched,
    Smaps,
    Stat,
    Status,
    Task,
    Wchan,
}

impl PidFile {
    fn name(self) -> &'static str {
        FILES.get(self as usize).copied().unwrap_or("")
    }

    /// Files a kernel may be built without (CONFIG_TASK_IO_ACCOUNTING, CONFIG_SCHED_DEBUG,
    /// CONFIG_CGROUPS, smaps_rollup before 4.14, wchan), and task/, which a copied tree such
    /// as bench/'s may lack; the others exist for every process.
    fn optional(self) -> bool {
        matches!(
            self,
            PidFile::Cgroup
                | PidFile::Io
                | PidFile::Sched
                | PidFile::Smaps
                | PidFile::Task
                | PidFile::Wchan
        )
    }
}

/// `limits` is read when a process is new and then every this many scrapes.
const LIMITS_EVERY: u64 = 16;

/// One thread of a multi-threaded process.
#[derive(Debug, Clone, Copy)]
struct Thread {
    tid: u32,
    /// From task/<tid>/stat (0 without --proc-threads): a reused tid is a new thread.
    starttime: u64,
    /// The scrape whose task/ listing had it.
    seen: u64,
    /// Its files were read in that scrape (it counts in the group's sums).
    read: bool,
    name: Comm,
    /// Its counters at the last reading (cpu, faults and io with --proc-threads).
    cur: Counters,
    /// What it did since the reading before (everything, when first seen).
    delta: Counters,
    wchan: u32,
}

/// One known process.
#[derive(Debug)]
struct Proc {
    pid: u32,
    starttime: u64,
    ppid: u32,
    /// The scrape it was last seen in.
    seen: u64,
    /// The scrape whose reading it has (0: never read in full, only identified).
    read: u64,
    /// Its group; None when process-exporter's matchers name nothing (it is not reported).
    group: Option<u32>,
    /// Waiting for its parent's group (--proc-children), decided after the scan.
    pending: bool,
    /// Left out by --proc-groups-include/-exclude; kept so that it is not classified again.
    excluded: bool,
    /// Its comm, user, classification group and subgroup and container id (the labels of a
    /// selected process): see [`Labels`].
    labels: Labels,
    /// The (group, subgroup) of the classification as a small number, for the top N per
    /// subgroup; None for the processes of group other.
    class_id: Option<u32>,
    /// Chosen by --proc-name or --proc-pattern (decided once).
    pinned: bool,
    counters: Counters,
    member: Member,
    /// The main thread's context switches at the last reading (/proc/<pid>/status).
    leader_ctxt: (u64, u64),
    /// Sorted by tid; empty for a single-threaded process.
    threads: Threads,
    wchan: u32,
    /// A file of this scrape's reading could not be read (process-exporter's partial error).
    partial: bool,
    uss: u64,
    /// Stat's priority and nice (-100..139 and -20..19).
    priority: i32,
    nice: i32,
    /// /proc/uptime at the last reading, for the rates.
    uptime: f64,
    cpu_percent: f64,
    io_rate: f64,
    /// Read for selected processes only (boxed: most processes never are).
    sched: Option<Box<Sched>>,
    kept: Kept,
    /// Its TCP bytes, once it was selected on a live procfs.
    traffic: Option<Box<traffic::Traffic>>,
}

/// The five strings of a process's identity (comm, user, classification group, subgroup,
/// container id) in one allocation of their joined text and where each ends: 24 bytes in
/// [`Proc`] instead of five `String`s' 120, and one small block on the heap instead of up to
/// five (at 10,000 processes, 1.2 MiB less RSS). The subgroup of a process of class other is
/// its comm, and is not stored twice: the top bit of `ends[SUBGROUP]` says so.
#[derive(Debug, Default)]
struct Labels {
    text: Box<str>,
    ends: [u16; 4],
}

/// The top bit of `Labels::ends[SUBGROUP]`: the subgroup is the comm.
const SAME: u16 = 1 << 15;

const COMM: usize = 0;
const USER: usize = 1;
const CLASS_GROUP: usize = 2;
const SUBGROUP: usize = 3;
const CONTAINER_ID: usize = 4;

impl Labels {
    fn new(parts: [&str; 5]) -> Labels {
        let mut text = String::new();
        let mut ends = [0u16; 4];
        let same = parts.get(SUBGROUP) == parts.get(COMM);
        for (k, &part) in parts.iter().enumerate() {
            let part = if k == SUBGROUP && same { "" } else { part };
            // A part cut at a char boundary below 32 KiB, so that its end fits 15 bits.
            let room = usize::from(SAME - 1).saturating_sub(text.len());
            let mut n = part.len().min(room);
            while !part.is_char_boundary(n) {
                n -= 1;
            }
            text.push_str(part.get(..n).unwrap_or(""));
            if let Some(e) = ends.get_mut(k) {
                *e = u16::try_from(text.len()).unwrap_or(u16::MAX);
            }
        }
        if let Some(e) = ends.get_mut(SUBGROUP).filter(|_| same) {
            *e |= SAME;
        }
        Labels {
            text: text.into_boxed_str(),
            ends,
        }
    }

    /// Part `k` ([`COMM`], [`USER`], [`CLASS_GROUP`], [`SUBGROUP`] or [`CONTAINER_ID`]).
    fn get(&self, k: usize) -> &str {
        if k > self.ends.len() {
            return "";
        }
        if k == SUBGROUP && self.ends.get(SUBGROUP).is_some_and(|&e| e & SAME != 0) {
            return self.get(COMM);
        }
        let at = |j: usize| self.ends.get(j).map(|&e| usize::from(e & !SAME));
        let start = k.checked_sub(1).and_then(at).unwrap_or(0);
        let end = at(k).unwrap_or(self.text.len());
        self.text.get(start..end).unwrap_or("")
    }

    fn comm(&self) -> &str {
        self.get(COMM)
    }

    /// A process renamed itself (prctl, or an exec that kept its PID).
    fn set_comm(&mut self, comm: &str) {
        let parts = [comm, self.get(1), self.get(2), self.get(3), self.get(4)];
        *self = Labels::new(parts);
    }
}

/// The threads of a multi-threaded process, boxed: 8 bytes in a single-threaded one's [`Proc`]
/// rather than an empty `Vec`'s 24. The box stays once made (a process whose thread count
/// goes up and down does not allocate each time).
#[derive(Debug, Default)]
// The box is the point: 8 bytes where most processes have no threads to list.
#[allow(clippy::box_collection)]
struct Threads(Option<Box<Vec<Thread>>>);

impl std::ops::Deref for Threads {
    type Target = [Thread];

    fn deref(&self) -> &[Thread] {
        self.0.as_deref().map_or(&[], |v| v.as_slice())
    }
}

impl std::ops::DerefMut for Threads {
    fn deref_mut(&mut self) -> &mut [Thread] {
        match self.0.as_deref_mut() {
            Some(v) => v.as_mut_slice(),
            None => &mut [],
        }
    }
}

impl Threads {
    fn clear(&mut self) {
        if let Some(v) = self.0.as_deref_mut() {
            v.clear();
        }
    }

    fn insert(&mut self, at: usize, t: Thread) {
        let v = self.0.get_or_insert_with(Box::default);
        v.insert(at.min(v.len()), t);
    }

    fn retain(&mut self, keep: impl FnMut(&Thread) -> bool) {
        if let Some(v) = self.0.as_deref_mut() {
            v.retain(keep);
        }
    }
}

/// Whether the kernel has a per-PID file, found out on its first read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Have {
    #[default]
    Unknown,
    Yes,
    No,
}

/// The per-PID read path: one place that opens and reads a file of `<procfs>/<pid>/` (or of
/// `<procfs>/<pid>/task/<tid>/`) into a reused buffer and says what became of it.
#[derive(Default)]
struct Reader {
    raw: Raw,
    /// getdents64 buffer for fd/ and task/.
    dirents: Vec<u8>,
    tids: Vec<u32>,
    /// The task/ directory listed last: thread files are opened relative to it, so the kernel
    /// resolves `<tid>/status` rather than the whole path (8% less time per thread here).
    task_dir: Option<File>,
    errors: [u64; FILES.len()],
    have: [Have; FILES.len()],
    /// Descriptors held in the processes' [`Kept`] sets, and how many may be (0 off procfs).
    kept: usize,
    cap: usize,
    /// The last [`Reader::read_kept`] found its kept descriptor's task reaped (ESRCH): whatever
    /// the path read is another process, even one started in the same clock tick.
    reaped: bool,
}

/// The per-PID files of one process kept open between scrapes (real procfs only): read
/// again with pread at offset 0, where procfs regenerates them, so a scrape skips open(2)'s
/// path walk and close(2). A kept descriptor belongs to the task it was opened for: once that
/// task is reaped it reads as ESRCH (fd/: ENOENT), never as a new process given the same PID.
/// Any read that fails or comes back empty drops it, and the path is opened again.
#[derive(Debug, Default)]
struct Kept([Option<File>; KEPT.len()]);

/// The files read on every scrape (sched and fd/ for selected processes): what [`Kept`] holds.
const KEPT: [PidFile; 6] = [
    PidFile::Stat,
    PidFile::Status,
    PidFile::Io,
    PidFile::Wchan,
    PidFile::Fd,
    PidFile::Sched,
];

impl Kept {
    fn slot(&mut self, file: PidFile) -> Option<&mut Option<File>> {
        let i = KEPT.iter().position(|&f| f == file)?;
        self.0.get_mut(i)
    }

    /// Closes them all; returns how many were open.
    fn close(&mut self) -> usize {
        self.0.iter_mut().filter_map(Option::take).count()
    }
}

impl Reader {
    /// Reads `file` of `pid` (of its thread `tid`) into `self.raw`.
    fn read(&mut self, src: &mut Source, pid: &str, tid: Option<&str>, file: PidFile) -> Got {
        self.raw.clear();
        if self.have.get(file as usize) == Some(&Have::No) {
            return Got::Absent;
        }
        let opened = match (tid, &self.task_dir) {
            (None, _) => File::open(src.path(Root::Proc, &[pid, "/", file.name()])),
            (Some(t), Some(dir)) => open_at(dir, &[t, "/", file.name()]),
            (Some(t), None) => {
                File::open(src.path(Root::Proc, &[pid, "/task/", t, "/", file.name()]))
            }
        };
        let r = opened.and_then(|f| self.raw.read_from(&f));
        self.judge(src, pid, tid, file, r)
    }

    /// Reads `file` of `pid` into `self.raw` through its descriptor in `kept` when there is
    /// one, else opens it and keeps the descriptor while fewer than the cap are kept.
    fn read_kept(&mut self, src: &mut Source, pid: &str, file: PidFile, kept: &mut Kept) -> Got {
        self.raw.clear();
        self.reaped = false;
        if self.have.get(file as usize) == Some(&Have::No) {
            return Got::Absent;
        }
        let Some(slot) = kept.slot(file) else {
            return self.read(src, pid, None, file);
        };
        if let Some(f) = slot.as_ref() {
            match self.raw.read_from(f) {
                Ok(()) if !self.raw.is_empty() => return Got::Ok,
                // Reaped (ESRCH), exiting (empty) or failing: the path tells which, and
                // whether the PID is another process's now.
                r => {
                    self.reaped = r.is_err_and(|e| e.raw_os_error() == Some(libc::ESRCH));
                    *slot = None;
                    self.kept = self.kept.saturating_sub(1);
                }
            }
        }
        let r = File::open(src.path(Root::Proc, &[pid, "/", file.name()])).and_then(|f| {
            self.raw.read_from(&f)?;
            if self.kept < self.cap && !self.raw.is_empty() {
                *slot = Some(f);
                self.kept += 1;
            }
            Ok(())
        });
        self.judge(src, pid, None, file, r)
    }

    /// The number of open fds of `pid`: fstat of its fd/ directory when its size is the count
    /// (`by_size`), else a listing; through the descriptor kept for fd/ when there is one.
    fn count_fds(
        &mut self,
        src: &mut Source,
        pid: &str,
        by_size: bool,
        kept: &mut Kept,
    ) -> io::Result<u64> {
        let Some(slot) = kept.slot(PidFile::Fd) else {
            return Err(io::ErrorKind::InvalidInput.into());
        };
        if let Some(dir) = slot.as_ref() {
            match count_open_fds(dir, by_size, &mut self.dirents) {
                Ok(n) => return Ok(n),
                Err(_) => {
                    *slot = None;
                    self.kept = self.kept.saturating_sub(1);
                }
            }
        }
        let dir = open_dir(src.path(Root::Proc, &[pid, "/fd"]))?;
        let n = count_open_fds(&dir, by_size, &mut self.dirents)?;
        if self.kept < self.cap {
            *slot = Some(dir);
            self.kept += 1;
        }
        Ok(n)
    }

    /// Closes the descriptors of a process that is gone.
    fn forget(&mut self, kept: &mut Kept) {
        self.kept = self.kept.saturating_sub(kept.close());
    }

    /// Sorts out a read's result: gone with its process, not in this kernel, or an error to
    /// count (such as another user's io without privileges).
    fn judge(
        &mut self,
        src: &mut Source,
        pid: &str,
        tid: Option<&str>,
        file: PidFile,
        r: io::Result<()>,
    ) -> Got {
        let i = file as usize;
        match r {
            Ok(()) => {
                if let Some(h) = self.have.get_mut(i) {
                    *h = Have::Yes;
                }
                Got::Ok
            }
            Err(e) if is_gone(&e) => {
                let unknown = self.have.get(i) == Some(&Have::Unknown);
                if e.kind() == io::ErrorKind::NotFound
                    && unknown
                    && file.optional()
                    && !vanished(src, pid, tid)
                {
                    if let Some(h) = self.have.get_mut(i) {
                        *h = Have::No;
                    }
                    crate::log::info(
                        "this kernel has no such per-process file; namedprocess leaves it out",
                        &[("file", &file.name())],
                    );
                    return Got::Absent;
                }
                Got::Gone
            }
            Err(_) => {
                // A thread's file fails for the reason its process's did, which is counted.
                if let (Some(n), None) = (self.errors.get_mut(i), tid) {
                    *n += 1;
                }
                Got::Failed
            }
        }
    }

    /// Lists `<procfs>/<pid>/task` into `self.tids`, sorted.
    fn list_tasks(&mut self, src: &mut Source, pid: &str) -> Got {
        self.tids.clear();
        self.task_dir = None;
        let tids = &mut self.tids;
        let r = open_dir(src.path(Root::Proc, &[pid, "/task"])).and_then(|dir| {
            for_each_dir_entry(&dir, &mut self.dirents, |name| {
                if let Some(t) = std::str::from_utf8(name).ok().and_then(|s| s.parse().ok()) {
                    tids.push(t);
                }
            })?;
            Ok(dir)
        });
        tids.sort_unstable();
        let r = r.map(|dir| self.task_dir = Some(dir));
        self.judge(src, pid, None, PidFile::Task, r)
    }

    /// A file that read but did not parse: nothing to report when its process (or thread) has
    /// exited meanwhile (an exiting process's files come back empty or short); otherwise the
    /// error, naming the file and line.
    fn parse_failed(
        src: &mut Source,
        pid: &str,
        tid: Option<&str>,
        file: PidFile,
        err: ParseError,
    ) -> Result<(), Error> {
        if vanished(src, pid, tid) {
            return Ok(());
        }
        let mut path = src.procfs.clone();
        path.push(pid);
        if let Some(t) = tid {
            path.push("task");
            path.push(t);
        }
        path.push(file.name());
        Err(Error::Parse { path, err })
    }
}

/// Opens the file at the relative path `parts` (joined) under the open directory `dir`.
fn open_at(dir: &File, parts: &[&str]) -> io::Result<File> {
    use std::os::fd::FromRawFd;
    const CAP: usize = 64;
    let mut c_path = [0u8; CAP];
    let mut len = 0;
    for part in parts {
        let dst = c_path
            .get_mut(len..len + part.len())
            .filter(|_| len + part.len() < CAP && !part.contains('\0'))
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        dst.copy_from_slice(part.as_bytes());
        len += part.len();
    }
    // SAFETY: `c_path` is NUL-terminated (fewer than 64 bytes were copied into 64 zeroes) and
    // outlives the call; `dir` is an open descriptor.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c_path.as_ptr().cast(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openat just returned this descriptor and nothing else owns it.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Whether `<procfs>/<pid>` (or its `task/<tid>`) is gone.
fn vanished(src: &mut Source, pid: &str, tid: Option<&str>) -> bool {
    let path = match tid {
        None => src.path(Root::Proc, &[pid]),
        Some(t) => src.path(Root::Proc, &[pid, "/task/", t]),
    };
    std::fs::symlink_metadata(path).is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
}

/// What the collector keeps between scrapes.
#[derive(Default)]
pub struct State {
    /// Sorted by pid.
    procs: Vec<Proc>,
    generation: u64,
    pids: Vec<u32>,
    dirents: Vec<u8>,
    rd: Reader,
    /// The descriptors of a process being read for the first time, until it has an entry.
    fresh: Kept,
    groups: Groups,
    wchans: Wchans,
    /// `group/subgroup` of the classification → its id.
    classes: HashMap<String, u32>,
    /// Whether `stat` of /proc/<pid>/fd gives the number of open fds (procfs on Linux 6.2+),
    /// which saves listing the directory; found out on the first scrape.
    fd_count_in_size: Option<bool>,
    users: Option<HashMap<u32, String>>,
    btime: Option<u64>,
    /// process-exporter's namedprocess_scrape_* counters.
    scrape_errors: u64,
    partial_errors: u64,
    procread_errors: u64,
    /// Scratch for top-N and the selected processes.
    values: Vec<f64>,
    keys: Vec<Option<u32>>,
    top: Vec<(f64, u32)>,
    top_keyed: Vec<(u32, f64, u32)>,
    flags: Vec<bool>,
    candidates: Vec<bool>,
    selected: Vec<u32>,
    /// (socket inode, index into procs) of the selected processes.
    sockets: Vec<(u64, u32)>,
    /// This scrape's kept descriptors, sorted, when proctap itself is selected.
    own_kept: Vec<i32>,
    /// proctap's own pid as `<procfs>` names it (`<procfs>/self`); 0 when it is not there.
    me: u32,
    /// (index into procs, protocol, port) of listening sockets.
    ports: Vec<(u32, usize, u16)>,
    /// --path.procfs is the kernel's procfs, so the sockets of a sock_diag dump are its own.
    live: bool,
    /// The selected processes whose fd/ was listed in this scrape.
    listed: Vec<u32>,
    /// The sock_diag socket and request (None: not opened yet); `no_diag`: the kernel has no
    /// inet_diag (CONFIG_INET_DIAG off) or refused.
    diag: Option<netlink::Socket>,
    diag_req: Vec<u8>,
    no_diag: bool,
    /// This dump's bytes of each of `sockets` (None: not in the dump).
    seen: Vec<Option<traffic::Bytes>>,
}

/// Process-wide values of one scrape.
struct Clock {
    uptime: f64,
    user_hz: f64,
    page_size: u64,
}

fn collect(opts: &ProcOpts, st: &mut State, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    let src = &mut ctx.src;
    if st.btime.is_none() {
        src.read(Root::Proc, &["stat"], &mut ctx.buf)?;
        st.btime = Some(parse_btime(&ctx.buf).map_err(|e| src.parse_error(e))?);
    }
    let btime = st.btime.unwrap_or(0);
    // process-exporter needs no /proc/uptime; without it, the time since boot from the clock.
    let uptime = if src.read_optional(Root::Proc, &["uptime"], &mut ctx.buf)? {
        parse_uptime(&ctx.buf).map_err(|e| src.parse_error(e))?
    } else {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        (now - btime as f64).max(0.0)
    };
    let clock = Clock {
        uptime,
        user_hz: ctx.user_hz,
        page_size: ctx.page_size,
    };
    if st.fd_count_in_size.is_none() {
        let procfs = is_procfs(src);
        st.live = procfs;
        st.fd_count_in_size = Some(procfs && fd_count_in_size(src));
        // A copied tree's files are not regenerated by the kernel: nothing is kept there.
        st.rd.cap = if procfs {
            source::kept_fd_cap().min(opts.kept_files)
        } else {
            0
        };
        st.me = std::fs::read_link(src.path(Root::Proc, &["self"]))
            .ok()
            .and_then(|l| l.to_str().and_then(|l| l.parse().ok()))
            .unwrap_or(0);
    }
    st.generation += 1;
    st.groups.begin();
    list_pids(src, &mut st.dirents, &mut st.pids)?;
    for i in 0..st.pids.len() {
        let Some(&pid) = st.pids.get(i) else { break };
        scan(st, src, opts, pid, &clock)?;
    }
    st.rd.forget(&mut st.fresh);
    adopt(st);
    sweep(st);
    sum(st, opts);
    select(st, opts);
    detail(st, src, &mut ctx.buf)?;
    write_groups(st, opts, &clock, out);
    write_selected(st, opts, &clock, out);
    out.family(
        "proctap_process_read_errors_total",
        "Per-process files proctap could not read (such as another user's io without privileges), by file.",
        Kind::Counter,
    );
    for (file, n) in FILES.iter().zip(st.rd.errors) {
        out.u64(&[("file", file)], n);
    }
    let errors: [(&str, &str, u64); 3] = [
        (
            "namedprocess_scrape_errors",
            "Collections of the namedprocess collector that failed as a whole.",
            st.scrape_errors,
        ),
        (
            "namedprocess_scrape_partial_errors",
            "Readings of a grouped process that missed some of its files (io, fd, smaps_rollup, wchan, task), per scrape.",
            st.partial_errors,
        ),
        (
            "namedprocess_scrape_procread_errors",
            "Processes left out of a scrape because their stat or status could not be read (not because they exited).",
            st.procread_errors,
        ),
    ];
    for (name, help, n) in errors {
        out.family(name, help, Kind::Counter);
        out.u64(&[], n);
    }
    Ok(())
}

fn list_pids(src: &mut Source, dirents: &mut Vec<u8>, pids: &mut Vec<u32>) -> Result<(), Error> {
    pids.clear();
    let path = src.path(Root::Proc, &[""]);
    let io_err = |err| Error::Io {
        path: path.to_path_buf(),
        err,
    };
    let dir = open_dir(path).map_err(io_err)?;
    for_each_dir_entry(&dir, dirents, |name| {
        if !name.is_empty() && name.iter().all(u8::is_ascii_digit) {
            let pid = std::str::from_utf8(name).ok().and_then(|s| s.parse().ok());
            if let Some(pid) = pid {
                pids.push(pid);
            }
        }
    })
    .map_err(io_err)?;
    // /proc lists in pid order; a fixture directory may not.
    pids.sort_unstable();
    Ok(())
}

fn is_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH)
}

/// A reused read buffer for the small per-PID files.
#[derive(Default)]
struct Raw {
    buf: Vec<u8>,
    len: usize,
}

impl std::ops::Deref for Raw {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

impl Raw {
    fn clear(&mut self) {
        self.len = 0;
    }

    /// Reads the whole file from offset 0 (pread, so a kept descriptor reads afresh), usually
    /// with a single call: a per-PID procfs file (a single_open seq_file) hands out everything
    /// it has in one read when the buffer is large enough, so a short read is the end. That
    /// halves the reads of a scan, its main cost.
    fn read_from(&mut self, f: &File) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.len = 0;
        if self.buf.len() < 16 << 10 {
            self.buf.resize(16 << 10, 0);
        }
        loop {
            let Some(spare) = self.buf.get_mut(self.len..) else {
                return Ok(());
            };
            let want = spare.len();
            let n = match f.read_at(spare, self.len as u64) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.len += n;
            if n == 0 || n < want {
                return Ok(());
            }
            if self.buf.len() as u64 >= source::MAX_FILE_BYTES {
                return Err(io::ErrorKind::InvalidData.into());
            }
            let grown = self.buf.len() * 2;
            self.buf.resize(grown, 0);
        }
    }
}

/// Whether `<procfs>` is a procfs (fixture trees are not).
fn is_procfs(src: &mut Source) -> bool {
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    let Ok(root) = std::ffi::CString::new(src.procfs.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes into the zeroed struct we pass; the path is NUL-terminated.
    unsafe {
        let mut fs: libc::statfs = std::mem::zeroed();
        libc::statfs(root.as_ptr(), &mut fs) == 0 && fs.f_type as i64 == PROC_SUPER_MAGIC
    }
}

/// Whether a procfs's /proc/<pid>/fd report their number of entries as their size (Linux
/// 6.2+). Fixture trees are not procfs: their directories have a block size.
fn fd_count_in_size(src: &mut Source) -> bool {
    // This process has fds open, so an old kernel shows up as a size of 0.
    std::fs::metadata(src.path(Root::Proc, &["self/fd"])).is_ok_and(|m| m.len() > 0)
}

/// The number of open fds of a process from its open fd/ directory: its size (`by_size`), or
/// a listing from the start.
fn count_open_fds(dir: &File, by_size: bool, dirents: &mut Vec<u8>) -> io::Result<u64> {
    if by_size {
        return dir.metadata().map(|m| m.len());
    }
    // SAFETY: lseek on a descriptor we own.
    if unsafe { libc::lseek(dir.as_raw_fd(), 0, libc::SEEK_SET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut n = 0u64;
    for_each_dir_entry(dir, dirents, |_| n += 1)?;
    Ok(n)
}

/// The result of reading one per-PID file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Got {
    Ok,
    /// The file or the process is gone.
    Gone,
    /// Counted in the read errors.
    Failed,
    /// This kernel does not have the file (found out once).
    Absent,
}

/// Text of a per-PID file; comm may hold any bytes, so invalid UTF-8 is replaced, not an error.
fn text(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    // from_utf8 first: its ASCII fast path checks a word at a time, where from_utf8_lossy's
    // chunks go byte by byte (3% of a scrape's CPU).
    match std::str::from_utf8(raw) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(raw),
    }
}

/// The numbers of /proc/<pid>/stat and status, copied out so the buffer can be reused.
struct StatVals {
    uid: u32,
    euid: u32,
    voluntary: u64,
    nonvoluntary: u64,
    swap: u64,
    state: u8,
    ppid: u32,
    minflt: u64,
    majflt: u64,
    utime: u64,
    stime: u64,
    priority: i64,
    nice: i64,
    threads: u64,
    starttime: u64,
    vsize: u64,
    rss_pages: u64,
}

/// Reads one PID and folds it into its entry; a process that vanished is skipped.
fn scan(
    st: &mut State,
    src: &mut Source,
    opts: &ProcOpts,
    pid: u32,
    clock: &Clock,
) -> Result<(), Error> {
    let mut tmp = [0u8; 20];
    let pid_s = u64_str(&mut tmp, u64::from(pid));
    st.rd.forget(&mut st.fresh);
    let pos = st.procs.binary_search_by_key(&pid, |p| p.pid);
    let kept = match pos {
        Ok(i) => st.procs.get_mut(i).map(|p| &mut p.kept),
        Err(_) => None,
    };
    match st
        .rd
        .read_kept(src, pid_s, PidFile::Stat, kept.unwrap_or(&mut st.fresh))
    {
        Got::Ok => {}
        Got::Failed => {
            st.procread_errors += 1;
            return Ok(());
        }
        Got::Gone | Got::Absent => return Ok(()),
    }
    let stat_text = text(&st.rd.raw);
    let s = match parse::parse_stat(&stat_text) {
        Ok(s) => s,
        Err(e) => return Reader::parse_failed(src, pid_s, None, PidFile::Stat, e),
    };
    // process-exporter looks at kernel threads too, and its matchers decide.
    if s.is_kernel_thread() && !opts.kernel_threads && opts.namer.is_none() {
        return Ok(());
    }
    if !opts.allows(s.comm) {
        return Ok(());
    }
    let mut v = StatVals {
        uid: 0,
        euid: 0,
        voluntary: 0,
        nonvoluntary: 0,
        swap: 0,
        state: s.state,
        ppid: s.ppid,
        minflt: s.minflt,
        majflt: s.majflt,
        utime: s.utime,
        stime: s.stime,
        priority: s.priority,
        nice: s.nice,
        threads: s.num_threads,
        starttime: s.starttime,
        vsize: s.vsize,
        rss_pages: s.rss,
    };
    let generation = st.generation;
    // The known entry's task is gone even if the new one started in the same tick.
    let reaped = st.rd.reaped;
    // Known: its entry; new (or the PID was reused): where it goes, and its comm.
    let mut recheck = false;
    let slot = match pos {
        Ok(i) if !reaped && st.procs.get(i).is_some_and(|p| p.starttime == v.starttime) => {
            let Some(p) = st.procs.get_mut(i) else {
                return Ok(());
            };
            if p.labels.comm() != s.comm {
                p.labels.set_comm(s.comm);
            }
            if p.excluded {
                p.seen = generation;
                return Ok(());
            }
            if p.group.is_none() {
                let age = clock.uptime - v.starttime as f64 / clock.user_hz;
                recheck = opts.recheck
                    && (opts.recheck_limit.is_zero() || age < opts.recheck_limit.as_secs_f64());
                // Not grouped and never selected: the stat read told it is still there.
                if !recheck && !p.pinned && !opts.ranks_all() {
                    p.seen = generation;
                    return Ok(());
                }
            }
            Ok(i)
        }
        found => Err((found, s.comm.to_string())),
    };
    drop(stat_text);
    // A reused PID: what was kept for the old process goes (its stat was opened afresh, as
    // the old descriptor read ESRCH, but into the old entry).
    if let Err((Ok(i), _)) = &slot {
        if let Some(old) = st.procs.get_mut(*i) {
            st.rd.forget(&mut old.kept);
        }
    }
    let kept = match slot {
        Ok(i) => st.procs.get_mut(i).map(|p| &mut p.kept),
        Err(_) => None,
    };
    match st
        .rd
        .read_kept(src, pid_s, PidFile::Status, kept.unwrap_or(&mut st.fresh))
    {
        Got::Ok => {}
        Got::Failed => {
            st.procread_errors += 1;
            return Ok(());
        }
        // Vanished after stat: a known entry stays unseen and the sweep takes it.
        Got::Gone | Got::Absent => return Ok(()),
    }
    {
        let t = text(&st.rd.raw);
        let s = match parse::parse_status(&t) {
            Ok(s) => s,
            Err(e) => return Reader::parse_failed(src, pid_s, None, PidFile::Status, e),
        };
        v.uid = s.uid;
        v.euid = s.euid;
        v.voluntary = s.voluntary_ctxt_switches;
        v.nonvoluntary = s.nonvoluntary_ctxt_switches;
        v.swap = s.vm_swap.unwrap_or(0);
    }
    let idx = match slot {
        Ok(i) => {
            if recheck {
                let comm = st.procs.get(i).map(|p| p.labels.comm().to_string());
                let comm = comm.unwrap_or_default();
                if let Some(id) = identify(st, src, opts, pid, pid_s, &comm, &v, clock)? {
                    if let Some(p) = st.procs.get_mut(i) {
                        p.group = id.group;
                        p.pending = id.pending;
                    }
                }
            }
            i
        }
        Err((found, comm)) => {
            let Some(id) = identify(st, src, opts, pid, pid_s, &comm, &v, clock)? else {
                return Ok(());
            };
            let skip = id.excluded
                || (id.group.is_none() && !id.pending && !id.pinned && !opts.ranks_all());
            let mut p = new_proc(pid, comm, &v, id);
            p.kept = std::mem::take(&mut st.fresh);
            if skip {
                p.seen = generation;
            }
            let i = match found {
                Ok(i) => {
                    if let Some(slot) = st.procs.get_mut(i) {
                        // The old process's last counters stay in its group.
                        let mut old = std::mem::replace(slot, p);
                        st.rd.forget(&mut old.kept);
                        if let Some(g) = old.group {
                            st.groups.exited(g, &old.counters);
                        }
                    }
                    i
                }
                Err(i) => {
                    st.procs.insert(i, p);
                    i
                }
            };
            if skip {
                return Ok(());
            }
            i
        }
    };
    update(st, src, opts, idx, pid_s, &v, clock)
}

/// Who a process is, worked out when it is first seen (and again with --proc-recheck).
struct Ident {
    user: String,
    class_group: String,
    subgroup: String,
    class_id: Option<u32>,
    container_id: String,
    group: Option<u32>,
    pending: bool,
    pinned: bool,
    excluded: bool,
}

/// Reads the command line and cgroup of a process, classifies it and names its group. None
/// when it vanished meanwhile.
#[allow(clippy::too_many_arguments)]
fn identify(
    st: &mut State,
    src: &mut Source,
    opts: &ProcOpts,
    pid: u32,
    pid_s: &str,
    comm: &str,
    v: &StatVals,
    clock: &Clock,
) -> Result<Option<Ident>, Error> {
    let cgroup = match st.rd.read(src, pid_s, None, PidFile::Cgroup) {
        Got::Ok => text(&st.rd.raw).into_owned(),
        Got::Gone => return Ok(None),
        Got::Failed | Got::Absent => String::new(),
    };
    let container_id = parse::container_id(&cgroup).unwrap_or("").to_string();
    match st.rd.read(src, pid_s, None, PidFile::Cmdline) {
        Got::Ok => {}
        Got::Gone => return Ok(None),
        Got::Failed | Got::Absent => st.rd.raw.clear(),
    }
    let raw_owned = st.rd.raw.to_vec();
    let raw = &raw_owned[..];
    let argv0 = parse::argv0_basename(raw).map(str::to_string);
    let mut cmdline = String::from_utf8_lossy(raw).replace('\0', " ");
    cmdline.truncate(cmdline.trim_end().len());
    let (class_group, subgroup) =
        opts.classifier
            .classify(comm, argv0.as_deref().unwrap_or(comm), &cmdline);
    let excluded = !opts.allows_group(class_group);
    let pinned = !excluded
        && (opts.names.iter().any(|n| n == comm)
            || opts
                .pattern
                .as_ref()
                .is_some_and(|re| re.is_match(comm) || re.is_match(&cmdline)));
    let mut name = None;
    if !excluded {
        match &opts.namer {
            None => {
                let user = user_name(st, src, v.uid);
                let mut n = String::new();
                group::group_name(
                    &opts.group_by,
                    &Identity {
                        comm,
                        user: &user,
                        argv0: argv0.as_deref(),
                        class: (class_group, subgroup),
                    },
                    &mut n,
                );
                name = Some(n);
            }
            Some(namer) => {
                // process-exporter's view: argv split at NULs after dropping trailing ones.
                let trimmed = {
                    let end = raw.iter().rposition(|&b| b != 0).map_or(0, |e| e + 1);
                    String::from_utf8_lossy(raw.get(..end).unwrap_or(&[])).into_owned()
                };
                let argv: Vec<&str> = if raw.is_empty() {
                    Vec::new()
                } else {
                    trimmed.split('\0').collect()
                };
                let joined = argv.join(" ");
                let username = user_name(st, src, v.euid);
                let cgroups: Vec<&str> = if namer.wants_cgroups() {
                    parse::cgroup_paths(&cgroup).collect()
                } else {
                    Vec::new()
                };
                let start_ns = st
                    .btime
                    .unwrap_or(0)
                    .saturating_mul(1_000_000_000)
                    .saturating_add((v.starttime as f64 / clock.user_hz * 1e9) as u64);
                name = namer.name(&Attrs {
                    comm,
                    argv: &argv,
                    cmdline: &joined,
                    username: &username,
                    pid,
                    start_ns,
                    cgroups: &cgroups,
                });
            }
        }
    }
    let pending = name.is_none() && !excluded && opts.children && opts.namer.is_some();
    let class_id = (class_group != OTHER).then(|| {
        let next = u32::try_from(st.classes.len()).unwrap_or(u32::MAX);
        *st.classes
            .entry(format!("{class_group}/{subgroup}"))
            .or_insert(next)
    });
    Ok(Some(Ident {
        user: user_name(st, src, v.uid),
        class_group: class_group.to_string(),
        subgroup: subgroup.to_string(),
        class_id,
        container_id,
        group: name.map(|n| st.groups.index_of(&n)),
        pending,
        pinned,
        excluded,
    }))
}

/// A process seen for the first time.
fn new_proc(pid: u32, comm: String, v: &StatVals, id: Ident) -> Proc {
    Proc {
        pid,
        starttime: v.starttime,
        ppid: v.ppid,
        seen: 0,
        read: 0,
        group: id.group,
        pending: id.pending,
        excluded: id.excluded,
        labels: Labels::new([
            &comm,
            &id.user,
            &id.class_group,
            &id.subgroup,
            &id.container_id,
        ]),
        class_id: id.class_id,
        pinned: id.pinned,
        counters: Counters::default(),
        member: Member {
            fd_limit: u64::MAX,
            ..Member::default()
        },
        leader_ctxt: (0, 0),
        threads: Threads::default(),
        wchan: 0,
        partial: false,
        uss: 0,
        priority: 0,
        nice: 0,
        uptime: -1.0,
        cpu_percent: 0.0,
        io_rate: 0.0,
        sched: None,
        kept: Kept::default(),
        traffic: None,
    }
}

/// The user name of a uid from /etc/passwd under --path.rootfs (read once), else the number.
fn user_name(st: &mut State, src: &mut Source, uid: u32) -> String {
    let users = st.users.get_or_insert_with(|| {
        let mut text = String::new();
        let mut map = HashMap::new();
        if src
            .read_optional(Root::Rootfs, &["etc/passwd"], &mut text)
            .unwrap_or(false)
        {
            for (name, uid) in parse::parse_passwd(&text) {
                map.entry(uid).or_insert_with(|| name.to_string());
            }
        }
        map
    });
    users.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
}

/// This scrape's reading of a known process: stat values, status, io, fd count, limits,
/// smaps, wchan and its threads.
fn update(
    st: &mut State,
    src: &mut Source,
    opts: &ProcOpts,
    idx: usize,
    pid_s: &str,
    v: &StatVals,
    clock: &Clock,
) -> Result<(), Error> {
    let generation = st.generation;
    let rd = &mut st.rd;
    let Some(p) = st.procs.get_mut(idx) else {
        return Ok(());
    };
    let is_new = p.read == 0;
    let prev = p.counters;
    let was_partial = std::mem::replace(&mut p.partial, false);
    let mut c = Counters {
        utime: v.utime,
        stime: v.stime,
        majflt: v.majflt,
        minflt: v.minflt,
        // Kept from the last reading when io cannot be read, so the group never drops.
        read_bytes: prev.read_bytes,
        write_bytes: prev.write_bytes,
        // Summed below: the main thread's, plus the other threads' when there are any.
        voluntary_ctxt: prev.voluntary_ctxt,
        nonvoluntary_ctxt: prev.nonvoluntary_ctxt,
    };
    let leader = (v.voluntary, v.nonvoluntary);
    c.voluntary_ctxt = c
        .voluntary_ctxt
        .saturating_add(leader.0.saturating_sub(p.leader_ctxt.0));
    c.nonvoluntary_ctxt = c
        .nonvoluntary_ctxt
        .saturating_add(leader.1.saturating_sub(p.leader_ctxt.1));
    // A single-threaded process asleep now that was not switched out since the last reading
    // has not run since: its io counters and fd table are what that reading found (only the
    // task itself changes them), so io and fd/ are not read again (a pread and a statx, a
    // fifth of what a sleeper's files cost the kernel). Unless a file of that reading failed:
    // then they are read, and a failure counted, again.
    let idle = !is_new && !was_partial && v.threads == 1 && not_run(p.leader_ctxt, leader, v.state);
    let open_fds = if idle {
        p.member.open_fds
    } else {
        match rd.read_kept(src, pid_s, PidFile::Io, &mut p.kept) {
            Got::Ok => match parse::parse_io(&text(&rd.raw)) {
                Ok(io) => {
                    c.read_bytes = io.read_bytes;
                    c.write_bytes = io.write_bytes;
                }
                Err(e) => return Reader::parse_failed(src, pid_s, None, PidFile::Io, e),
            },
            Got::Failed => p.partial = true,
            Got::Gone | Got::Absent => {}
        }
        let by_size = st.fd_count_in_size.unwrap_or(false);
        match rd.count_fds(src, pid_s, by_size, &mut p.kept) {
            Ok(n) => n,
            Err(e) => {
                if rd.judge(src, pid_s, None, PidFile::Fd, Err(e)) == Got::Failed {
                    p.partial = true;
                }
                0
            }
        }
    };
    if is_new || (generation + u64::from(p.pid)) % LIMITS_EVERY == 0 {
        if let Got::Ok = rd.read(src, pid_s, None, PidFile::Limits) {
            match parse::parse_limits_max_open_files(&text(&rd.raw)) {
                Ok(l) => p.member.fd_limit = l,
                Err(e) => return Reader::parse_failed(src, pid_s, None, PidFile::Limits, e),
            }
        }
    }
    let (mut pss, mut swap_pss, mut uss) = (0, 0, 0);
    if opts.smaps && v.state != b'Z' {
        match rd.read(src, pid_s, None, PidFile::Smaps) {
            // Empty for tasks without an mm (the kernel answers such reads with nothing).
            Got::Ok if rd.raw.is_empty() => {}
            Got::Ok => match parse::parse_smaps_rollup(&text(&rd.raw)) {
                Ok(s) => (pss, swap_pss, uss) = (s.pss, s.swap_pss, s.uss),
                Err(e) => return Reader::parse_failed(src, pid_s, None, PidFile::Smaps, e),
            },
            Got::Failed => p.partial = true,
            Got::Gone | Got::Absent => {}
        }
    }
    if !is_new && still_blocked(p.wchan, p.leader_ctxt, leader, v.state) {
        // Where it was at the last reading: wchan is not read again (4 of the 18 µs a
        // sleeper's files cost the kernel here: a stack walk and a kallsyms lookup).
    } else {
        p.wchan = match rd.read_kept(src, pid_s, PidFile::Wchan, &mut p.kept) {
            Got::Ok => st.wchans.id(&text(&rd.raw)),
            Got::Failed => {
                p.partial = true;
                0
            }
            Got::Gone | Got::Absent => 0,
        };
    }
    let mut thread_states = [0u32; 5];
    if v.threads > 1 {
        match read_threads(rd, &mut st.wchans, src, opts, p, pid_s, v, generation)? {
            Some((states, vol, nonvol)) => {
                thread_states = states;
                c.voluntary_ctxt = c.voluntary_ctxt.saturating_add(vol);
                c.nonvoluntary_ctxt = c.nonvoluntary_ctxt.saturating_add(nonvol);
            }
            None => p.threads.clear(),
        }
    } else {
        p.threads.clear();
    }
    let ticks = c.utime.saturating_add(c.stime);
    let io_bytes = c.read_bytes.saturating_add(c.write_bytes);
    if is_new {
        // No earlier reading: the average since the process started, as ps(1) shows it.
        let age = clock.uptime - v.starttime as f64 / clock.user_hz;
        p.cpu_percent = group::percent(0, ticks, clock.user_hz, age);
        p.io_rate = group::rate(0, io_bytes, age);
    } else {
        let dt = clock.uptime - p.uptime;
        let prev_ticks = prev.utime.saturating_add(prev.stime);
        p.cpu_percent = group::percent(prev_ticks, ticks, clock.user_hz, dt);
        let prev_io = prev.read_bytes.saturating_add(prev.write_bytes);
        p.io_rate = group::rate(prev_io, io_bytes, dt);
    }
    p.uptime = clock.uptime;
    p.counters = c;
    p.leader_ctxt = leader;
    p.member = Member {
        rss: v.rss_pages.saturating_mul(clock.page_size),
        vsize: v.vsize,
        swap: v.swap,
        pss,
        swap_pss,
        open_fds,
        fd_limit: p.member.fd_limit,
        threads: v.threads,
        state: v.state,
        thread_states,
        starttime: v.starttime,
    };
    p.uss = uss;
    let clamp = |n: i64| i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX });
    p.priority = clamp(v.priority);
    p.nice = clamp(v.nice);
    p.seen = generation;
    p.read = generation;
    Ok(())
}

/// Reads the threads of a multi-threaded process: each thread's state, context switches and
/// wait channel (task/<tid>/status, wchan; the main thread's are the process's own), and with
/// --proc-threads its cpu, faults and io (task/<tid>/stat, io). Returns the thread states and
/// the context switches the other threads added since the last reading; None when task/
/// lists fewer than two threads (or cannot be read), so the process counts as one thread.
#[allow(clippy::too_many_arguments)]
fn read_threads(
    rd: &mut Reader,
    wchans: &mut Wchans,
    src: &mut Source,
    opts: &ProcOpts,
    p: &mut Proc,
    pid_s: &str,
    v: &StatVals,
    generation: u64,
) -> Result<Option<([u32; 5], u64, u64)>, Error> {
    match rd.list_tasks(src, pid_s) {
        Got::Ok => {}
        Got::Failed => {
            p.partial = true;
            return Ok(None);
        }
        Got::Gone | Got::Absent => return Ok(None),
    }
    if rd.tids.len() < 2 {
        rd.task_dir = None;
        return Ok(None);
    }
    let mut states = [0u32; 5];
    let (mut vol, mut nonvol) = (0u64, 0u64);
    for k in 0..rd.tids.len() {
        let Some(&tid) = rd.tids.get(k) else { break };
        let mut tmp = [0u8; 20];
        let tid_s = u64_str(&mut tmp, u64::from(tid));
        let (at, known) = match p.threads.binary_search_by_key(&tid, |t| t.tid) {
            Ok(i) => (i, true),
            Err(i) => (i, false),
        };
        let mut cur = p
            .threads
            .get(at)
            .filter(|_| known)
            .map_or(Counters::default(), |t| t.cur);
        let (state, wchan, mut name) = if tid == p.pid {
            cur.voluntary_ctxt = v.voluntary;
            cur.nonvoluntary_ctxt = v.nonvoluntary;
            (v.state, p.wchan, Comm::new(p.labels.comm()))
        } else {
            match rd.read(src, pid_s, Some(tid_s), PidFile::Status) {
                Got::Ok => {}
                // Exited (or unreadable): it keeps its entry until task/ stops listing it.
                _ => {
                    mark_seen(p, at, known, generation);
                    continue;
                }
            }
            let t = text(&rd.raw);
            let s = match parse::parse_status(&t) {
                Ok(s) => s,
                Err(e) => {
                    drop(t);
                    Reader::parse_failed(src, pid_s, Some(tid_s), PidFile::Status, e)?;
                    continue;
                }
            };
            cur.voluntary_ctxt = s.voluntary_ctxt_switches;
            cur.nonvoluntary_ctxt = s.nonvoluntary_ctxt_switches;
            let (state, name) = (s.state.unwrap_or(b'?'), Comm::new(s.name.unwrap_or("")));
            drop(t);
            let last = p.threads.get(at).filter(|_| known);
            let was = last.map_or((0, (0, 0)), |t| {
                (t.wchan, (t.cur.voluntary_ctxt, t.cur.nonvoluntary_ctxt))
            });
            let now = (cur.voluntary_ctxt, cur.nonvoluntary_ctxt);
            let wchan = if still_blocked(was.0, was.1, now, state) {
                was.0
            } else {
                match rd.read(src, pid_s, Some(tid_s), PidFile::Wchan) {
                    Got::Ok => wchans.id(&text(&rd.raw)),
                    _ => 0,
                }
            };
            (state, wchan, name)
        };
        let mut starttime = p
            .threads
            .get(at)
            .filter(|_| known)
            .map_or(0, |t| t.starttime);
        let mut reused = false;
        if opts.threads {
            match rd.read(src, pid_s, Some(tid_s), PidFile::Stat) {
                Got::Ok => {}
                _ => {
                    mark_seen(p, at, known, generation);
                    continue;
                }
            }
            let t = text(&rd.raw);
            match parse::parse_stat(&t) {
                Ok(s) => {
                    reused = known && starttime != s.starttime;
                    starttime = s.starttime;
                    name = Comm::new(s.comm);
                    cur.utime = s.utime;
                    cur.stime = s.stime;
                    cur.minflt = s.minflt;
                    cur.majflt = s.majflt;
                }
                Err(e) => {
                    drop(t);
                    Reader::parse_failed(src, pid_s, Some(tid_s), PidFile::Stat, e)?;
                    continue;
                }
            }
            drop(t);
            if let Got::Ok = rd.read(src, pid_s, Some(tid_s), PidFile::Io) {
                match parse::parse_io(&text(&rd.raw)) {
                    Ok(io) => {
                        cur.read_bytes = io.read_bytes;
                        cur.write_bytes = io.write_bytes;
                    }
                    Err(e) => {
                        Reader::parse_failed(src, pid_s, Some(tid_s), PidFile::Io, e)?;
                        continue;
                    }
                }
            }
        }
        let old = p
            .threads
            .get(at)
            .filter(|_| known && !reused)
            .map(|t| t.cur);
        let delta = old.map_or(cur, |o| cur.since(&o));
        if tid != p.pid {
            vol = vol.saturating_add(delta.voluntary_ctxt);
            nonvol = nonvol.saturating_add(delta.nonvoluntary_ctxt);
        }
        if let Some(n) = states.get_mut(group::state_index(state)) {
            *n += 1;
        }
        let t = Thread {
            tid,
            starttime,
            seen: generation,
            read: true,
            name,
            cur,
            delta,
            wchan,
        };
        match p.threads.get_mut(at).filter(|_| known) {
            Some(slot) => *slot = t,
            None => p.threads.insert(at, t),
        }
    }
    p.threads.retain(|t| t.seen == generation);
    rd.task_dir = None;
    Ok(Some((states, vol, nonvol)))
}

/// Whether a task still waits where its last wchan reading found it: that reading named a
/// function (the kernel answers 0 for a task on a run queue), it is asleep now (`state` of
/// this reading), and it has not been switched out since (its voluntary and involuntary
/// context switches, read before that wchan, are the same now). A task that ran in between
/// was switched out to sleep again, which counts; so its stack, and wchan, are as they were.
fn still_blocked(wchan: u32, then: (u64, u64), now: (u64, u64), state: u8) -> bool {
    wchan != 0 && not_run(then, now, state)
}

/// Whether a task has not run since a reading of its context switches `then`: it is asleep
/// now (`state`, read before `now`) and was not switched out in between. A task running at
/// that reading could only have gone to sleep by a switch, which counts.
fn not_run(then: (u64, u64), now: (u64, u64), state: u8) -> bool {
    then == now && matches!(state, b'S' | b'D' | b'I')
}

/// A listed thread whose files could not be read this time: it stays, with nothing new.
fn mark_seen(p: &mut Proc, at: usize, known: bool, generation: u64) {
    if let Some(t) = p.threads.get_mut(at).filter(|_| known) {
        t.seen = generation;
        t.read = false;
        t.delta = Counters::default();
    }
}

/// Gives the processes waiting for a group (--proc-children) their nearest grouped
/// ancestor's group, as process-exporter's checkAncestry: an ancestor that is unmatched, or
/// not known at all, leaves them unmatched.
fn adopt(st: &mut State) {
    let generation = st.generation;
    for i in 0..st.procs.len() {
        if st
            .procs
            .get(i)
            .is_some_and(|p| p.pending && p.seen == generation)
        {
            let g = ancestor_group(&st.procs, i, 0);
            let mut at = i;
            // The pending ancestors on the way get the same answer.
            for _ in 0..64 {
                let Some(p) = st.procs.get_mut(at) else { break };
                if !p.pending {
                    break;
                }
                p.pending = false;
                p.group = g;
                let ppid = p.ppid;
                match st.procs.binary_search_by_key(&ppid, |p| p.pid) {
                    Ok(j) => at = j,
                    Err(_) => break,
                }
            }
        }
    }
}

fn ancestor_group(procs: &[Proc], i: usize, depth: usize) -> Option<u32> {
    let ppid = procs.get(i)?.ppid;
    let j = procs.binary_search_by_key(&ppid, |p| p.pid).ok()?;
    let parent = procs.get(j)?;
    match (parent.group, parent.pending) {
        (Some(g), _) => Some(g),
        (None, true) if depth < 64 && j != i => ancestor_group(procs, j, depth + 1),
        _ => None,
    }
}

/// Drops the processes not seen in this scrape; their last counters stay in their groups.
fn sweep(st: &mut State) {
    let generation = st.generation;
    let groups = &mut st.groups;
    let rd = &mut st.rd;
    st.procs.retain_mut(|p| {
        if p.seen == generation {
            return true;
        }
        rd.forget(&mut p.kept);
        if let (Some(g), true) = (p.group, p.seen != 0) {
            groups.exited(g, &p.counters);
        }
        false
    });
}

/// The groups' sums of this scrape.
fn sum(st: &mut State, opts: &ProcOpts) {
    let generation = st.generation;
    for p in &st.procs {
        let Some(g) = p.group.filter(|_| p.read == generation) else {
            continue;
        };
        st.groups.add_member(g, &p.counters, &p.member);
        st.groups.add_wchan(g, p.wchan);
        for t in p.threads.iter().filter(|t| t.read) {
            st.groups.add_wchan(g, t.wchan);
            if opts.threads {
                st.groups.add_thread(g, t.name, &t.delta);
            }
        }
        st.partial_errors += u64::from(p.partial);
    }
    st.groups.end(opts.remove_empty_groups);
}

/// Marks the selected processes: pinned ones and the union of the top-N lists.
fn select(st: &mut State, opts: &ProcOpts) {
    let generation = st.generation;
    st.flags.clear();
    st.flags.extend(st.procs.iter().map(|p| p.pinned));
    st.candidates.clear();
    st.candidates.extend(st.procs.iter().map(|p| {
        !p.excluded && p.read == generation && (opts.min_uss == 0 || p.uss >= opts.min_uss)
    }));
    let lists: [fn(&Proc) -> f64; 3] = [|p| p.cpu_percent, |p| p.member.rss as f64, |p| p.io_rate];
    let memory_and_cpu: [fn(&Proc) -> f64; 2] = [|p| p.cpu_percent, |p| p.member.rss as f64];
    for key in lists {
        st.values.clear();
        let c = &st.candidates;
        st.values.extend(
            st.procs
                .iter()
                .zip(c)
                .map(|(p, &ok)| if ok { key(p) } else { 0.0 }),
        );
        group::mark_top_n(&st.values, opts.top_n, &mut st.top, &mut st.flags);
    }
    if opts.top_n_subgroup > 0 {
        st.keys.clear();
        st.keys.extend(st.procs.iter().map(|p| p.class_id));
        for key in memory_and_cpu {
            st.values.clear();
            let c = &st.candidates;
            st.values.extend(
                st.procs
                    .iter()
                    .zip(c)
                    .map(|(p, &ok)| if ok { key(p) } else { 0.0 }),
            );
            group::mark_top_n_per_key(
                &st.keys,
                &st.values,
                opts.top_n_subgroup,
                &mut st.top_keyed,
                &mut st.flags,
            );
        }
    }
    if opts.top_n_others > 0 {
        for key in memory_and_cpu {
            st.values.clear();
            let c = &st.candidates;
            st.values.extend(st.procs.iter().zip(c).map(|(p, &ok)| {
                if ok && p.class_id.is_none() {
                    key(p)
                } else {
                    0.0
                }
            }));
            group::mark_top_n(&st.values, opts.top_n_others, &mut st.top, &mut st.flags);
        }
    }
    st.selected.clear();
    for (i, &on) in st.flags.iter().enumerate() {
        let seen = st.procs.get(i).is_some_and(|p| p.read == generation);
        if on && seen {
            st.selected.push(u32::try_from(i).unwrap_or(u32::MAX));
        }
    }
}

/// What only selected processes get: sched, and the ports they listen on.
fn detail(st: &mut State, src: &mut Source, buf: &mut String) -> Result<(), Error> {
    st.sockets.clear();
    st.own_kept.clear();
    // proctap itself (busy, so often in a top-N list) holds every kept descriptor: listing
    // its fd/ and reading each link would cost 10,000 of each at 2,000 processes.
    let me = st.me;
    let procs = &st.procs;
    if st
        .selected
        .iter()
        .any(|&i| procs.get(i as usize).is_some_and(|p| p.pid == me))
    {
        let kept = procs.iter().flat_map(|q| q.kept.0.iter().flatten());
        st.own_kept.extend(kept.map(|f| f.as_raw_fd()));
        st.own_kept.sort_unstable();
    }
    st.ports.clear();
    st.listed.clear();
    for &i in &st.selected {
        let Some(p) = st.procs.get_mut(i as usize) else {
            continue;
        };
        let mut tmp = [0u8; 20];
        let pid_s = u64_str(&mut tmp, u64::from(p.pid));
        // The box of a process selected before is reused.
        let sched = match st.rd.read_kept(src, pid_s, PidFile::Sched, &mut p.kept) {
            Got::Ok => match parse::parse_sched(&text(&st.rd.raw)) {
                Ok(s) => Some(s),
                Err(e) => {
                    p.sched = None;
                    Reader::parse_failed(src, pid_s, None, PidFile::Sched, e)?;
                    None
                }
            },
            _ => None,
        };
        match (sched, &mut p.sched) {
            (Some(s), Some(b)) => **b = s,
            (s, slot) => *slot = s.map(Box::new),
        }
        if p.member.open_fds == 0 {
            continue;
        }
        let sockets = &mut st.sockets;
        if p.pid == me && !st.own_kept.is_empty() {
            own_socket_inodes(&st.own_kept, p.member.open_fds, |inode| {
                sockets.push((inode, i))
            });
            st.listed.push(i);
            continue;
        }
        let kept = p.kept.slot(PidFile::Fd).and_then(|d| d.as_ref());
        // SAFETY: lseek on a descriptor the process's entry owns.
        let rewound =
            kept.filter(|d| unsafe { libc::lseek(d.as_raw_fd(), 0, libc::SEEK_SET) } == 0);
        let opened;
        let dir = match rewound {
            Some(d) => d,
            None => match open_dir(src.path(Root::Proc, &[pid_s, "/fd"])) {
                Ok(d) => {
                    opened = d;
                    &opened
                }
                Err(_) => continue,
            },
        };
        if socket_inodes(dir, &mut st.rd.dirents, |inode| sockets.push((inode, i))).is_ok() {
            st.listed.push(i);
        }
    }
    st.sockets.sort_unstable();
    // A socket dup'ed within a process counts once (one shared across processes, for each).
    st.sockets.dedup();
    // The TCP ports come from the dump when it works; /proc/net/tcp{,6} otherwise.
    let tcp_dumped = tcp_traffic(st);
    if st.sockets.is_empty() {
        return Ok(());
    }
    for (k, proto) in Proto::ALL.iter().enumerate() {
        if proto.is_tcp() && tcp_dumped {
            continue;
        }
        if !src.read_optional(Root::Proc, &["net/", proto.file()], buf)? {
            continue;
        }
        for row in parse::parse_net_sockets(buf, *proto) {
            let s = row.map_err(|e| src.parse_error(e))?;
            if !s.is_listening() {
                continue;
            }
            let from = st.sockets.partition_point(|&(ino, _)| ino < s.inode);
            for &(ino, i) in st.sockets.get(from..).unwrap_or(&[]) {
                if ino != s.inode {
                    break;
                }
                st.ports.push((i, k, s.local_port));
            }
        }
    }
    st.ports.sort_unstable();
    st.ports.dedup();
    Ok(())
}
/// One sock_diag dump of the TCP sockets (IPv4 and IPv6) with their tcp_info, when a process
/// whose fd/ was listed is selected and --path.procfs is the kernel's: the listening sockets
/// among `sockets` go to `ports` (as /proc/net/tcp and tcp6 would give them), and each listed
/// process's totals take this dump's other sockets. True when the dump worked (its ports are
/// this scrape's TCP ports); a failed dump adds no ports and changes no totals (they are
/// written as they were); a kernel without inet_diag is not asked again.
fn tcp_traffic(st: &mut State) -> bool {
    if !st.live || st.no_diag || st.listed.is_empty() {
        return false;
    }
    st.seen.clear();
    st.seen.resize(st.sockets.len(), None);
    let sock = match &mut st.diag {
        Some(s) => s,
        None => match netlink::Socket::open(netlink::NETLINK_SOCK_DIAG) {
            Ok(s) => st.diag.insert(s),
            Err(e) => {
                no_diag(st, e.into());
                return false;
            }
        },
    };
    let ports_before = st.ports.len();
    let (sockets, seen, ports) = (&st.sockets, &mut st.seen, &mut st.ports);
    // Where `ino`'s entries start in `sockets`, and how many there are.
    let find = |ino: u64| {
        let from = sockets.partition_point(|&(s, _)| s < ino);
        let same = sockets.get(from..).unwrap_or(&[]);
        (from, same.iter().take_while(|s| s.0 == ino).count())
    };
    let mut on_msg = |m: &[u8]| {
        if let Some((ino, port)) = traffic::listening(m) {
            // The index of the socket's protocol in Proto::ALL: tcp, or tcp6 for AF_INET6.
            let k = usize::from(m.first() == Some(&(libc::AF_INET6 as u8)));
            let (from, n) = find(ino);
            for &(_, i) in sockets.get(from..from + n).unwrap_or(&[]) {
                ports.push((i, k, port));
            }
        } else if let Some((ino, b)) = traffic::parse_diag(m)? {
            let (from, n) = find(ino);
            for slot in seen.get_mut(from..from + n).unwrap_or(&mut []) {
                *slot = Some(b);
            }
        }
        Ok(())
    };
    // Both families in one dump: one walk of the kernel's socket tables instead of two.
    let (ext, states) = (traffic::EXT_INFO, traffic::STATES);
    if let Err(e) = netlink::dump_tcp(sock, &mut st.diag_req, 0, ext, states, &mut on_msg) {
        st.ports.truncate(ports_before);
        no_diag(st, e);
        return false;
    }
    for &i in &st.listed {
        let Some(p) = st.procs.get_mut(i as usize) else {
            continue;
        };
        // Its sockets, sorted by inode as `sockets` is.
        let now = st.sockets.iter().zip(&st.seen).filter(|(s, _)| s.1 == i);
        let now = now.filter_map(|(s, b)| Some((s.0, (*b)?)));
        p.traffic.get_or_insert_with(Box::default).update(now);
    }
    true
}

/// A failed dump: logged, and no totals change; a kernel without inet_diag (or a policy that
/// refuses the socket) is not asked again.
fn no_diag(st: &mut State, e: NlError) {
    if let NlError::Io(e) = &e {
        let codes = [libc::ENOENT, libc::EOPNOTSUPP, libc::EPERM, libc::EACCES];
        st.no_diag = e.raw_os_error().is_some_and(|c| codes.contains(&c));
    }
    crate::log::warn("no per-process TCP bytes", &[("err", &e)]);
}

/// Calls `f` with the inode of every socket among proctap's own descriptors but the `kept`
/// ones (sorted): an fstat of each other number up to past the highest kept one and the
/// `open_fds - kept` others (a socket's st_ino is the inode /proc/net/tcp lists), rather than
/// listing its fd/, which holds every kept descriptor.
fn own_socket_inodes(kept: &[i32], open_fds: u64, mut f: impl FnMut(u64)) {
    let others = usize::try_from(open_fds)
        .unwrap_or(0)
        .saturating_sub(kept.len());
    let top = kept.last().map_or(0, |&k| usize::try_from(k).unwrap_or(0));
    let end = i32::try_from(top + others + 64).unwrap_or(i32::MAX);
    for fd in 0..end {
        if kept.binary_search(&fd).is_ok() {
            continue;
        }
        // SAFETY: fstat writes into the zeroed struct we pass; a closed fd is EBADF.
        let sock = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            (libc::fstat(fd, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK)
                .then_some(st.st_ino)
        };
        if let Some(ino) = sock {
            f(ino);
        }
    }
}

/// Calls `f` with the inode of every socket among the fds of an open /proc/<pid>/fd.
fn socket_inodes(dir: &File, dirents: &mut Vec<u8>, mut f: impl FnMut(u64)) -> io::Result<()> {
    let fd = dir.as_raw_fd();
    for_each_dir_entry(dir, dirents, |name| {
        let mut cname = [0u8; 32];
        let Some(slot) = cname.get_mut(..name.len()).filter(|_| name.len() < 32) else {
            return;
        };
        slot.copy_from_slice(name);
        let mut target = [0u8; 64];
        // SAFETY: `cname` is NUL-terminated (it is longer than the name), and readlinkat writes
        // at most `target.len()` bytes into `target`.
        let n = unsafe {
            libc::readlinkat(
                fd,
                cname.as_ptr().cast(),
                target.as_mut_ptr().cast(),
                target.len(),
            )
        };
        let link = usize::try_from(n).ok().and_then(|n| target.get(..n));
        if let Some(ino) = link
            .and_then(|l| std::str::from_utf8(l).ok())
            .and_then(parse::socket_inode)
        {
            f(ino);
        }
    })
}

fn parse_btime(text: &str) -> Result<u64, ParseError> {
    for (i, line) in text.lines().enumerate() {
        if let Some(v) = line.strip_prefix("btime ") {
            return crate::parse::u64_at(v.trim(), i + 1, "btime");
        }
    }
    Err(ParseError::new(0, "expected a \"btime\" line"))
}

fn parse_uptime(text: &str) -> Result<f64, ParseError> {
    let first = text.split_ascii_whitespace().next().unwrap_or("");
    crate::parse::f64_at(first, 1, "the uptime in seconds")
}

/// How a group family gets its value: an exact integer, or a float (given USER_HZ).
#[derive(Clone, Copy)]
enum GroupGet {
    U(fn(&group::Group) -> u64),
    F(fn(&group::Group, f64) -> f64),
}

fn write_groups(st: &State, opts: &ProcOpts, clock: &Clock, out: &mut Encoder) {
    if st.groups.is_empty() {
        return;
    }
    let shown = || {
        st.groups
            .iter()
            .filter(|g| !opts.remove_empty_groups || g.gauges.num_procs > 0)
    };
    let hz = clock.user_hz;
    let btime = st.btime.unwrap_or(0) as f64;
    type GetU = fn(&group::Group) -> u64;
    let simple: [(&str, &str, Kind, GetU); 5] = [
        (
            "namedprocess_namegroup_num_procs",
            "Number of processes in this group.",
            Kind::Gauge,
            |g| g.gauges.num_procs,
        ),
        (
            "namedprocess_namegroup_read_bytes_total",
            "Bytes read from storage (/proc/<pid>/io read_bytes).",
            Kind::Counter,
            |g| g.total().read_bytes,
        ),
        (
            "namedprocess_namegroup_write_bytes_total",
            "Bytes written to storage (/proc/<pid>/io write_bytes).",
            Kind::Counter,
            |g| g.total().write_bytes,
        ),
        (
            "namedprocess_namegroup_major_page_faults_total",
            "Major page faults.",
            Kind::Counter,
            |g| g.total().majflt,
        ),
        (
            "namedprocess_namegroup_minor_page_faults_total",
            "Minor page faults.",
            Kind::Counter,
            |g| g.total().minflt,
        ),
    ];
    let more: [(&str, &str, Kind, GroupGet); 4] = [
        (
            "namedprocess_namegroup_open_filedesc",
            "Open file descriptors of the processes in this group.",
            Kind::Gauge,
            GroupGet::U(|g| g.gauges.open_fds),
        ),
        (
            "namedprocess_namegroup_worst_fd_ratio",
            "The highest ratio of open file descriptors to the soft limit among the group's processes.",
            Kind::Gauge,
            GroupGet::F(|g, _| g.gauges.worst_fd_ratio),
        ),
        (
            "namedprocess_namegroup_oldest_start_time_seconds",
            "Start time of the oldest process in this group, in seconds since the epoch.",
            Kind::Gauge,
            GroupGet::F(|g, hz| g.gauges.oldest_start.map_or(0.0, |t| t as f64 / hz)),
        ),
        (
            "namedprocess_namegroup_num_threads",
            "Threads of the processes in this group.",
            Kind::Gauge,
            GroupGet::U(|g| g.gauges.threads),
        ),
    ];
    for (name, help, kind, get) in simple {
        out.family(name, help, kind);
        for g in shown() {
            out.u64(&[("groupname", &g.name)], get(g));
        }
    }
    out.family(
        "namedprocess_namegroup_cpu_seconds_total",
        "CPU time of the processes in this group, by mode.",
        Kind::Counter,
    );
    for g in shown() {
        let t = g.total();
        out.f64(
            &[("groupname", &g.name), ("mode", "system")],
            t.stime as f64 / hz,
        );
        out.f64(
            &[("groupname", &g.name), ("mode", "user")],
            t.utime as f64 / hz,
        );
    }
    out.family(
        "namedprocess_namegroup_context_switches_total",
        "Context switches of the processes in this group, all threads (/proc/<pid>/task/*/status).",
        Kind::Counter,
    );
    for g in shown() {
        let t = g.total();
        out.u64(
            &[("groupname", &g.name), ("ctxswitchtype", "nonvoluntary")],
            t.nonvoluntary_ctxt,
        );
        out.u64(
            &[("groupname", &g.name), ("ctxswitchtype", "voluntary")],
            t.voluntary_ctxt,
        );
    }
    out.family(
        "namedprocess_namegroup_memory_bytes",
        "Memory of the processes in this group, by type (proportionalResident and proportionalSwapped with --proc-smaps).",
        Kind::Gauge,
    );
    for g in shown() {
        let m = &g.gauges;
        if opts.smaps {
            out.u64(
                &[("groupname", &g.name), ("memtype", "proportionalResident")],
                m.pss,
            );
            out.u64(
                &[("groupname", &g.name), ("memtype", "proportionalSwapped")],
                m.swap_pss,
            );
        }
        out.u64(&[("groupname", &g.name), ("memtype", "resident")], m.rss);
        out.u64(&[("groupname", &g.name), ("memtype", "swapped")], m.swap);
        out.u64(&[("groupname", &g.name), ("memtype", "virtual")], m.vsize);
    }
    for (name, help, kind, get) in more {
        out.family(name, help, kind);
        for g in shown() {
            let labels = [("groupname", g.name.as_str())];
            match get {
                GroupGet::U(get) => out.u64(&labels, get(g)),
                GroupGet::F(get) => {
                    let v = get(g, hz);
                    let oldest = name.ends_with("oldest_start_time_seconds");
                    out.f64(&labels, if oldest && v > 0.0 { btime + v } else { v });
                }
            }
        }
    }
    out.family(
        "namedprocess_namegroup_states",
        "Processes in this group by state (Running, Sleeping, Waiting, Zombie, Other), and the threads of its multi-threaded ones, as process-exporter counts them.",
        Kind::Gauge,
    );
    for g in shown() {
        for (state, n) in STATES.iter().zip(g.gauges.states) {
            out.u64(&[("groupname", &g.name), ("state", state)], n);
        }
    }
    if shown().any(|g| g.wchans.iter().any(|&n| n > 0)) {
        out.family(
            "namedprocess_namegroup_threads_wchan",
            "Processes and threads of this group waiting in each kernel function (/proc/<pid>/wchan, task/*/wchan).",
            Kind::Gauge,
        );
        for g in shown() {
            for (wchan, id) in st.wchans.iter() {
                let n = g.wchans.get(id as usize).copied().unwrap_or(0);
                if n > 0 {
                    out.u64(&[("groupname", &g.name), ("wchan", wchan)], n);
                }
            }
        }
    }
    if opts.threads {
        write_threads(&shown, hz, out);
    }
}

/// Writes the samples of one thread name: its labels, counters and thread count.
type ThreadSample<'a> = dyn Fn(&mut Encoder, [Label; 2], &Counters, u64) + 'a;

/// The per-thread-name families (process-exporter's -threads): the threads of the group's
/// multi-threaded processes, by name.
fn write_threads<'a, I: Iterator<Item = &'a group::Group>>(
    shown: &dyn Fn() -> I,
    hz: f64,
    out: &mut Encoder,
) {
    if !shown().any(|g| !g.threads.is_empty()) {
        return;
    }
    let each = |out: &mut Encoder, f: &ThreadSample<'_>| {
        for g in shown() {
            for t in &g.threads {
                f(
                    out,
                    [("groupname", &g.name), ("threadname", t.name.as_str())],
                    &t.acc,
                    t.count,
                );
            }
        }
    };
    out.family(
        "namedprocess_namegroup_thread_count",
        "Threads of this group's multi-threaded processes with this name.",
        Kind::Gauge,
    );
    each(out, &|out, l, _, n| out.u64(&l, n));
    out.family(
        "namedprocess_namegroup_thread_cpu_seconds_total",
        "CPU time of the threads with this name, by mode.",
        Kind::Counter,
    );
    each(out, &|out, [g, t], c, _| {
        out.f64(&[g, t, ("mode", "system")], c.stime as f64 / hz);
        out.f64(&[g, t, ("mode", "user")], c.utime as f64 / hz);
    });
    out.family(
        "namedprocess_namegroup_thread_io_bytes_total",
        "Bytes the threads with this name read from and wrote to storage, by iomode.",
        Kind::Counter,
    );
    each(out, &|out, [g, t], c, _| {
        out.u64(&[g, t, ("iomode", "read")], c.read_bytes);
        out.u64(&[g, t, ("iomode", "write")], c.write_bytes);
    });
    out.family(
        "namedprocess_namegroup_thread_major_page_faults_total",
        "Major page faults of the threads with this name.",
        Kind::Counter,
    );
    each(out, &|out, l, c, _| out.u64(&l, c.majflt));
    out.family(
        "namedprocess_namegroup_thread_minor_page_faults_total",
        "Minor page faults of the threads with this name.",
        Kind::Counter,
    );
    each(out, &|out, l, c, _| out.u64(&l, c.minflt));
    out.family(
        "namedprocess_namegroup_thread_context_switches_total",
        "Context switches of the threads with this name, by ctxswitchtype.",
        Kind::Counter,
    );
    each(out, &|out, [g, t], c, _| {
        out.u64(
            &[g, t, ("ctxswitchtype", "nonvoluntary")],
            c.nonvoluntary_ctxt,
        );
        out.u64(&[g, t, ("ctxswitchtype", "voluntary")], c.voluntary_ctxt);
    });
}

/// A sample value: counters and sizes are written as exact integers.
#[derive(Clone, Copy)]
enum V {
    U(u64),
    F(f64),
}

/// Writes one sample of a selected process with its identifying labels and `extra`.
fn sample(out: &mut Encoder, p: &Proc, extra: &[Label], v: V) {
    let mut tmp = [0u8; 20];
    let pid = u64_str(&mut tmp, u64::from(p.pid));
    let mut labels: [Label; 8] = [
        ("pid", pid),
        ("name", p.labels.comm()),
        ("user", p.labels.get(USER)),
        ("group", p.labels.get(CLASS_GROUP)),
        ("subgroup", p.labels.get(SUBGROUP)),
        ("container_id", p.labels.get(CONTAINER_ID)),
        ("", ""),
        ("", ""),
    ];
    let mut n = 6;
    for &l in extra.iter().take(2) {
        if let Some(slot) = labels.get_mut(n) {
            *slot = l;
            n += 1;
        }
    }
    let labels = labels.get(..n).unwrap_or(&[]);
    match v {
        V::U(v) => out.u64(labels, v),
        V::F(v) => out.f64(labels, v),
    }
}

fn write_selected(st: &State, opts: &ProcOpts, clock: &Clock, out: &mut Encoder) {
    if st.selected.is_empty() {
        return;
    }
    let sel = || st.selected.iter().filter_map(|&i| st.procs.get(i as usize));
    let hz = clock.user_hz;
    out.family(
        "proctap_process_cpu_seconds_total",
        "CPU time of a selected process, by mode.",
        Kind::Counter,
    );
    for p in sel() {
        sample(
            out,
            p,
            &[("mode", "system")],
            V::F(p.counters.stime as f64 / hz),
        );
        sample(
            out,
            p,
            &[("mode", "user")],
            V::F(p.counters.utime as f64 / hz),
        );
    }
    out.family(
        "proctap_process_cpu_percent",
        "CPU use since the previous collection (100 = one full core; since the start for a new process).",
        Kind::Gauge,
    );
    for p in sel() {
        sample(out, p, &[], V::F(p.cpu_percent));
    }
    out.family(
        "proctap_process_memory_bytes",
        "Memory of a selected process by type (pss and uss with --proc-smaps).",
        Kind::Gauge,
    );
    for p in sel() {
        let m = &p.member;
        if opts.smaps && p.member.state != b'Z' {
            sample(out, p, &[("type", "pss")], V::U(m.pss));
        }
        sample(out, p, &[("type", "rss")], V::U(m.rss));
        sample(out, p, &[("type", "swap")], V::U(m.swap));
        if opts.smaps && p.member.state != b'Z' {
            sample(out, p, &[("type", "uss")], V::U(p.uss));
        }
        sample(out, p, &[("type", "vms")], V::U(m.vsize));
    }
    out.family(
        "proctap_process_io_bytes_total",
        "Bytes a selected process read from and wrote to storage.",
        Kind::Counter,
    );
    for p in sel() {
        sample(
            out,
            p,
            &[("direction", "read")],
            V::U(p.counters.read_bytes),
        );
        sample(
            out,
            p,
            &[("direction", "write")],
            V::U(p.counters.write_bytes),
        );
    }
    type ProcGet = fn(&Proc) -> f64;
    let gauges: [(&str, &str, ProcGet); 5] = [
        (
            "proctap_process_open_fds",
            "Open file descriptors of a selected process.",
            |p| p.member.open_fds as f64,
        ),
        (
            "proctap_process_threads",
            "Threads of a selected process.",
            |p| p.member.threads as f64,
        ),
        (
            "proctap_process_priority",
            "Scheduling priority of a selected process (/proc/<pid>/stat field 18).",
            |p| p.priority as f64,
        ),
        (
            "proctap_process_nice",
            "Nice value of a selected process.",
            |p| p.nice as f64,
        ),
        (
            "proctap_process_start_time_seconds",
            "Start time of a selected process in seconds since the epoch.",
            |p| p.member.starttime as f64,
        ),
    ];
    let btime = st.btime.unwrap_or(0) as f64;
    for (name, help, get) in gauges {
        out.family(name, help, Kind::Gauge);
        for p in sel() {
            let mut v = get(p);
            if name == "proctap_process_start_time_seconds" {
                v = btime + v / hz;
            }
            sample(out, p, &[], V::F(v));
        }
    }
    out.family(
        "proctap_process_state",
        "1 for the state a selected process is in (Running, Sleeping, Waiting, Zombie, Other).",
        Kind::Gauge,
    );
    for p in sel() {
        let now = group::state_index(p.member.state);
        for (i, state) in STATES.iter().enumerate() {
            sample(out, p, &[("state", state)], V::U(u64::from(i == now)));
        }
    }
    write_sched(st, out);
    if sel().any(|p| p.traffic.is_some()) {
        let families = [
            (
                "proctap_process_network_receive_bytes_total",
                "Bytes a selected process received over TCP (tcpi_bytes_received of its sockets).",
            ),
            (
                "proctap_process_network_transmit_bytes_total",
                "Bytes a selected process sent over TCP that were acknowledged (tcpi_bytes_acked).",
            ),
        ];
        for (k, (name, help)) in families.iter().enumerate() {
            out.family(name, help, Kind::Counter);
            for p in sel() {
                if let Some(t) = &p.traffic {
                    sample(out, p, &[], V::U(t.total().get(k).copied().unwrap_or(0)));
                }
            }
        }
    }
    if !st.ports.is_empty() {
        out.family(
            "proctap_process_listening_port",
            "1 for each TCP port a selected process listens on and each UDP port it has bound.",
            Kind::Gauge,
        );
        for &(i, k, port) in &st.ports {
            let (Some(p), Some(proto)) = (st.procs.get(i as usize), Proto::ALL.get(k)) else {
                continue;
            };
            let mut tmp = [0u8; 20];
            let port = u64_str(&mut tmp, u64::from(port));
            sample(out, p, &[("proto", proto.file()), ("port", port)], V::U(1));
        }
    }
}

fn write_sched(st: &State, out: &mut Encoder) {
    let with_sched = || {
        st.selected
            .iter()
            .filter_map(|&i| st.procs.get(i as usize))
            .filter_map(|p| p.sched.as_ref().map(|s| (p, s)))
    };
    if with_sched().next().is_none() {
        return;
    }
    out.family(
        "proctap_process_sched_switches_total",
        "Context switches of a selected process's main thread (/proc/<pid>/sched), by type.",
        Kind::Counter,
    );
    for (p, s) in with_sched() {
        sample(
            out,
            p,
            &[("type", "involuntary")],
            V::U(s.nr_involuntary_switches),
        );
        sample(
            out,
            p,
            &[("type", "voluntary")],
            V::U(s.nr_voluntary_switches),
        );
    }
    out.family(
        "proctap_process_sched_migrations_total",
        "Migrations between CPUs of a selected process's main thread.",
        Kind::Counter,
    );
    for (p, s) in with_sched() {
        sample(out, p, &[], V::U(s.nr_migrations));
    }
    out.family(
        "proctap_process_sched_run_seconds_total",
        "Time a selected process's main thread ran on a CPU (se.sum_exec_runtime).",
        Kind::Counter,
    );
    for (p, s) in with_sched() {
        sample(out, p, &[], V::F(s.sum_exec_runtime_ns as f64 / 1e9));
    }
    if with_sched().any(|(_, s)| s.wait_sum_ns.is_some()) {
        out.family(
            "proctap_process_sched_wait_seconds_total",
            "Time a selected process's main thread waited for a CPU while runnable (needs schedstats).",
            Kind::Counter,
        );
        for (p, s) in with_sched() {
            if let Some(w) = s.wait_sum_ns {
                sample(out, p, &[], V::F(w as f64 / 1e9));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_ctx;
    use crate::config::Value;
    use std::path::{Path, PathBuf};

    /// The fixture tree and a namedprocess collector with these flags set.
    struct Fx {
        ctx: Ctx,
        p: Processes,
    }

    fn fx(flags: &[(&str, &str)]) -> Fx {
        let mut s = crate::collector::default_settings();
        for (name, v) in flags {
            let f = COLLECTOR.flags.iter().find(|f| f.name == *name).unwrap();
            s.set(f, Value::Str(v.to_string())).unwrap();
        }
        Fx {
            ctx: fixture_ctx(),
            p: Processes::new(&s).unwrap(),
        }
    }

    fn scrape(t: &mut Fx) -> String {
        let mut out = Encoder::new();
        t.p.collect(&mut t.ctx, &mut out).unwrap();
        String::from_utf8(out.as_bytes().to_vec()).unwrap()
    }

    /// The value of the one sample whose line starts with `prefix`.
    fn value(out: &str, prefix: &str) -> Option<f64> {
        let mut found = out.lines().filter(|l| l.starts_with(prefix));
        let line = found.next()?;
        assert!(found.next().is_none(), "{prefix} matches several lines");
        line.rsplit(' ').next()?.parse().ok()
    }

    fn selected_pids(out: &str) -> Vec<u32> {
        let mut pids: Vec<u32> = out
            .lines()
            .filter_map(|l| l.strip_prefix("proctap_process_threads{pid=\""))
            .filter_map(|l| l.split('"').next()?.parse().ok())
            .collect();
        pids.sort();
        pids
    }

    #[test]
    fn groups_by_comm_without_kernel_threads() {
        let out = scrape(&mut fx(&[]));
        let n = |g: &str| {
            value(
                &out,
                &format!("namedprocess_namegroup_num_procs{{groupname=\"{g}\"}}"),
            )
        };
        assert_eq!(n("postgres"), Some(4.0));
        assert_eq!(n("nginx"), Some(3.0));
        assert_eq!(n("java"), Some(1.0));
        assert_eq!(n("sh"), Some(1.0), "the zombie counts");
        assert_eq!(
            n("kworker/1:1H-kblockd"),
            None,
            "kernel threads are excluded"
        );
        assert_eq!(
            value(
                &out,
                "namedprocess_namegroup_states{groupname=\"sh\",state=\"Zombie\"}"
            ),
            Some(1.0)
        );
        // postgres: 812 3012+1544, 815 812+4321, 816 1511+2020, 818 2004+3003 ticks at 100 Hz.
        assert_eq!(
            value(
                &out,
                "namedprocess_namegroup_cpu_seconds_total{groupname=\"postgres\",mode=\"user\"}"
            ),
            Some(73.39)
        );
        assert!(
            !out.contains("proctap_process_threads"),
            "nothing selected by default"
        );
        let out = scrape(&mut fx(&[("proc-kernel-threads", "true")]));
        assert!(out.contains("{groupname=\"kworker/1:1H-kblockd\"} 1\n"));
    }

    #[test]
    fn include_exclude_and_group_by() {
        let out = scrape(&mut fx(&[
            ("proc-include", "^(postgres|nginx|java)$"),
            ("proc-exclude", "^nginx$"),
            ("group-by", "class,user"),
        ]));
        let groups: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("namedprocess_namegroup_num_procs{groupname=\""))
            .collect();
        assert_eq!(
            groups,
            ["db/postgres/postgres\"} 4", "messaging/kafka/kafka\"} 1"],
            "exclude wins over include; class and user joined with /"
        );
        let out = scrape(&mut fx(&[("group-by", "cmdline")]));
        // argv[0]'s basename as process-exporter's ExeBase takes it: a rewritten title without
        // NULs is one argv[0].
        for (g, n) in [
            ("systemd-resolved", 1),
            ("postgres", 1),
            ("nginx: worker process", 2),
        ] {
            let key = format!("namedprocess_namegroup_num_procs{{groupname=\"{g}\"}}");
            assert_eq!(value(&out, &key), Some(f64::from(n)), "{g}");
        }
    }

    #[test]
    fn selection_by_name_pattern_and_top_n() {
        let out = scrape(&mut fx(&[
            ("proc-name", "redis-server"),
            ("proc-name", "systemd-resolved"),
        ]));
        assert_eq!(
            selected_pids(&out),
            [1500, 1600],
            "systemd-resolved is compared as its 15-byte comm systemd-resolve"
        );
        assert!(out.contains("proctap_process_threads{pid=\"1500\",name=\"redis-server\",user=\"999\",group=\"db\",subgroup=\"redis\",container_id=\"8a1f3c5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a\"} 5\n"), "{out}");
        let out = scrape(&mut fx(&[("proc-pattern", "-Dkafka|weird")]));
        assert_eq!(selected_pids(&out), [1205, 1999]);
        // Top 1 by CPU and by RSS is java; by I/O the checkpointer (4.5e16 bytes written).
        let out = scrape(&mut fx(&[("top-n", "1")]));
        assert_eq!(selected_pids(&out), [815, 1205]);
        let out = scrape(&mut fx(&[("top-n", "2")]));
        assert!(selected_pids(&out).len() >= 2 && selected_pids(&out).len() <= 6);
        assert!(selected_pids(&out).contains(&1205));
    }

    #[test]
    fn selected_process_series_have_fixture_values() {
        let out = scrape(&mut fx(&[
            ("proc-name", "postgres"),
            ("proc-smaps", "true"),
        ]));
        let l = "{pid=\"812\",name=\"postgres\",user=\"postgres\",group=\"db\",subgroup=\"postgres\",container_id=\"\"";
        let v = |fam: &str, extra: &str| value(&out, &format!("{fam}{l}{extra}}}"));
        assert_eq!(
            v("proctap_process_cpu_seconds_total", ",mode=\"user\""),
            Some(30.12)
        );
        assert_eq!(v("proctap_process_open_fds", ""), Some(8.0));
        assert_eq!(
            v(
                "proctap_process_sched_switches_total",
                ",type=\"voluntary\""
            ),
            Some(123456.0)
        );
        assert_eq!(
            v("proctap_process_sched_migrations_total", ""),
            Some(2345.0)
        );
        assert_eq!(
            v("proctap_process_sched_run_seconds_total", ""),
            Some(45.561002008)
        );
        assert_eq!(v("proctap_process_state", ",state=\"Sleeping\""), Some(1.0));
        assert_eq!(
            v(
                "proctap_process_listening_port",
                ",proto=\"tcp\",port=\"5432\""
            ),
            Some(1.0)
        );
        assert!(v("proctap_process_memory_bytes", ",type=\"pss\"").is_some());
        // start time = btime + starttime / USER_HZ
        let btime = 1743426000.0;
        let st = v("proctap_process_start_time_seconds", "").unwrap();
        assert!((st - btime - 18.4).abs() < 1e-6, "{st}");
    }

    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            let dst = to.join(e.file_name());
            if t.is_dir() {
                copy_tree(&e.path(), &dst);
            } else if t.is_symlink() {
                std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), dst).unwrap();
            } else {
                std::fs::copy(e.path(), dst).unwrap();
            }
        }
    }

    #[test]
    fn group_counters_survive_exits_and_pid_reuse() {
        let fixtures = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/proc"));
        let tmp = std::env::temp_dir().join(format!("proctap-procs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        copy_tree(&fixtures, &tmp);
        let mut ctx = fx(&[("proc-name", "postgres")]);
        ctx.ctx.src.procfs = tmp.clone();
        let user = |out: &str| {
            value(
                out,
                "namedprocess_namegroup_cpu_seconds_total{groupname=\"postgres\",mode=\"user\"}",
            )
            .unwrap()
        };
        let first = scrape(&mut ctx);
        assert_eq!(user(&first), 73.39);
        // The checkpointer (815, 8.12 s user) exits.
        std::fs::remove_dir_all(tmp.join("815")).unwrap();
        let second = scrape(&mut ctx);
        assert_eq!(user(&second), 73.39, "an exited member's time stays");
        assert_eq!(
            value(
                &second,
                "namedprocess_namegroup_num_procs{groupname=\"postgres\"}"
            ),
            Some(3.0)
        );
        assert!(
            !second.contains("pid=\"815\""),
            "an exited PID leaves the output"
        );
        // PID 816 is reused by a new postgres that started later with less CPU time.
        let stat = std::fs::read_to_string(tmp.join("816/stat")).unwrap();
        let f: Vec<&str> = stat.split(' ').collect();
        let mut g: Vec<String> = f.iter().map(|s| s.to_string()).collect();
        g[13] = "100".into(); // utime
        g[21] = "123456789".into(); // starttime: the fixture's uptime, so no time has passed
        std::fs::write(tmp.join("816/stat"), g.join(" ")).unwrap();
        let third = scrape(&mut ctx);
        // 73.39 + the new process's 1 s; the old 816's 15.11 s stay with the group.
        assert!((user(&third) - 74.39).abs() < 1e-9, "{}", user(&third));
        assert_eq!(
            value(&third, "proctap_process_cpu_percent{pid=\"816\",name=\"postgres\",user=\"postgres\",group=\"db\",subgroup=\"postgres\",container_id=\"\"}"),
            Some(0.0),
            "a new process with no time since its start gets 0, not infinity"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn wchan_is_read_again_only_after_a_context_switch() {
        let fixtures = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/proc"));
        let tmp = std::env::temp_dir().join(format!("proctap-wchan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        copy_tree(&fixtures, &tmp);
        let mut ctx = fx(&[]);
        ctx.ctx.src.procfs = tmp.clone();
        let w = |out: &str, wchan: &str| {
            group_value(
                out,
                "namedprocess_namegroup_threads_wchan",
                "postgres",
                &format!(",wchan=\"{wchan}\""),
            )
        };
        assert_eq!(w(&scrape(&mut ctx), "do_epoll_wait"), Some(4.0));
        // 816 (asleep) has not been switched out since: it waits where it did.
        std::fs::write(tmp.join("816/wchan"), "pipe_read").unwrap();
        let out = scrape(&mut ctx);
        assert_eq!(w(&out, "do_epoll_wait"), Some(4.0));
        assert_eq!(w(&out, "pipe_read"), None);
        // One voluntary switch more: it ran, so its wchan is read again.
        let status = std::fs::read_to_string(tmp.join("816/status")).unwrap();
        let status = status.replace(
            "voluntary_ctxt_switches:\t234567",
            "voluntary_ctxt_switches:\t234568",
        );
        std::fs::write(tmp.join("816/status"), status).unwrap();
        let out = scrape(&mut ctx);
        assert_eq!(w(&out, "do_epoll_wait"), Some(3.0));
        assert_eq!(w(&out, "pipe_read"), Some(1.0));
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn io_and_fds_are_read_again_only_after_a_context_switch() {
        let fixtures = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/proc"));
        let tmp = std::env::temp_dir().join(format!("proctap-idle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        copy_tree(&fixtures, &tmp);
        let mut ctx = fx(&[]);
        ctx.ctx.src.procfs = tmp.clone();
        let v = |out: &str, family: &str| group_value(out, family, "postgres", "");
        let written = "namedprocess_namegroup_write_bytes_total";
        let fds = "namedprocess_namegroup_open_filedesc";
        let out = scrape(&mut ctx);
        let (w0, f0) = (v(&out, written).unwrap(), v(&out, fds).unwrap());
        // 816 (single-threaded, asleep) has not been switched out since: it has not run, so
        // what it wrote and its fds are as they were.
        let io = std::fs::read_to_string(tmp.join("816/io")).unwrap();
        let io = io.replace("write_bytes: 6691356672", "write_bytes: 6691360768");
        std::fs::write(tmp.join("816/io"), io).unwrap();
        std::os::unix::fs::symlink("/dev/null", tmp.join("816/fd/5")).unwrap();
        let out = scrape(&mut ctx);
        assert_eq!(v(&out, written), Some(w0));
        assert_eq!(v(&out, fds), Some(f0));
        // One involuntary switch more: it ran, so both are read again.
        let status = std::fs::read_to_string(tmp.join("816/status")).unwrap();
        let status = status.replace(
            "nonvoluntary_ctxt_switches:\t",
            "nonvoluntary_ctxt_switches:\t1",
        );
        std::fs::write(tmp.join("816/status"), status).unwrap();
        let out = scrape(&mut ctx);
        assert_eq!(v(&out, written), Some(w0 + 4096.0));
        assert_eq!(v(&out, fds), Some(f0 + 1.0));
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn not_run_needs_the_same_switches_and_sleep() {
        assert!(not_run((5, 1), (5, 1), b'S'));
        assert!(not_run((5, 1), (5, 1), b'D'));
        assert!(!not_run((5, 1), (5, 2), b'S'));
        assert!(!not_run((5, 1), (6, 1), b'S'));
        assert!(!not_run((5, 1), (5, 1), b'R'));
        assert!(!not_run((5, 1), (5, 1), b'Z'));
    }

    #[test]
    fn still_blocked_needs_a_wchan_the_same_switches_and_sleep() {
        assert!(still_blocked(3, (5, 1), (5, 1), b'S'));
        assert!(still_blocked(3, (5, 1), (5, 1), b'D'));
        assert!(
            !still_blocked(0, (5, 1), (5, 1), b'S'),
            "running at the last reading"
        );
        assert!(
            !still_blocked(3, (5, 1), (6, 1), b'S'),
            "switched out since"
        );
        assert!(!still_blocked(3, (5, 1), (5, 2), b'S'), "preempted since");
        assert!(!still_blocked(3, (5, 1), (5, 1), b'R'), "running now");
        assert!(!still_blocked(3, (5, 1), (5, 1), b'Z'));
    }

    #[test]
    fn labels_keep_four_parts_in_one_block() {
        let mut l = Labels::new(["postgres", "postgres", "db", "", "0123abcd"]);
        let parts: Vec<&str> = (0..5).map(|k| l.get(k)).collect();
        assert_eq!(parts, ["postgres", "postgres", "db", "", "0123abcd"]);
        assert_eq!(l.get(5), "");
        l.set_comm("pg: checkpointer");
        let parts: Vec<&str> = (0..5).map(|k| l.get(k)).collect();
        assert_eq!(
            parts,
            ["pg: checkpointer", "postgres", "db", "", "0123abcd"]
        );
        let empty = Labels::default();
        assert_eq!((empty.get(COMM), empty.get(CONTAINER_ID)), ("", ""));
        let long = "é".repeat(40_000);
        let l = Labels::new(["u", &long, "s", "c", "d"]);
        assert_eq!(l.get(0), "u");
        assert!(l.get(1).len() < long.len() && l.get(1).chars().all(|c| c == 'é'));
        // "u" and 32,766 bytes of é fill the 32,767 an end can say; the rest is cut.
        assert_eq!((l.get(1).len(), l.get(2), l.get(4)), (32_766, "", ""));
        // The subgroup of class other is the comm, and stays what it was when renamed.
        let mut l = Labels::new(["bash", "root", "other", "bash", ""]);
        assert_eq!((l.get(SUBGROUP), &*l.text), ("bash", "bashrootother"));
        l.set_comm("sh");
        assert_eq!(
            (l.get(COMM), l.get(SUBGROUP), l.get(CLASS_GROUP)),
            ("sh", "bash", "other")
        );
    }

    #[test]
    fn proc_entry_size() {
        // The per-process memory at 10,000 processes is mostly this (issue 15).
        assert!(
            std::mem::size_of::<Proc>() <= 368,
            "{}",
            std::mem::size_of::<Proc>()
        );
    }

    #[test]
    fn btime_and_uptime() {
        assert_eq!(parse_btime("cpu 1 2\nbtime 1743426000\n"), Ok(1743426000));
        assert!(parse_btime("cpu 1 2\n").is_err());
        assert_eq!(parse_uptime("1234567.89 4501234.56\n"), Ok(1234567.89));
        assert!(parse_uptime("").is_err());
    }

    /// A copy of the fixture /proc to change between scrapes; removed on drop.
    struct Tree(PathBuf);

    impl Tree {
        fn new(tag: &str) -> Tree {
            let fixtures = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/proc"));
            let tmp = std::env::temp_dir().join(format!("proctap-np-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&tmp);
            copy_tree(&fixtures, &tmp);
            Tree(tmp)
        }

        fn file(&self, rel: &str) -> PathBuf {
            self.0.join(rel)
        }

        /// Replaces 0-based field `i` after comm of a stat file.
        fn set_stat(&self, rel: &str, i: usize, v: &str) {
            let text = std::fs::read_to_string(self.file(rel)).unwrap();
            let close = text.rfind(')').unwrap();
            let mut rest: Vec<String> = text[close + 2..].split(' ').map(String::from).collect();
            rest[i] = v.to_string();
            std::fs::write(
                self.file(rel),
                format!("{} {}", &text[..close + 1], rest.join(" ")),
            )
            .unwrap();
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn fx_in(tree: &Tree, flags: &[(&str, &str)]) -> Fx {
        let mut t = fx(flags);
        t.ctx.src.procfs = tree.0.clone();
        t
    }

    fn group_value(out: &str, family: &str, group: &str, extra: &str) -> Option<f64> {
        value(out, &format!("{family}{{groupname=\"{group}\"{extra}}}"))
    }

    fn groups(out: &str) -> Vec<(String, f64)> {
        out.lines()
            .filter_map(|l| l.strip_prefix("namedprocess_namegroup_num_procs{groupname=\""))
            .filter_map(|l| {
                let (g, v) = l.split_once("\"} ")?;
                Some((g.to_string(), v.parse().ok()?))
            })
            .collect()
    }

    #[test]
    fn threads_are_counted_as_process_exporter_counts_them() {
        let out = scrape(&mut fx(&[]));
        let v = |fam: &str, extra: &str| group_value(&out, fam, "java", extra);
        // java (1205) has 6 threads in task/: the process's own state and each thread's.
        for (state, n) in [
            ("Running", 1.0),
            ("Sleeping", 5.0),
            ("Waiting", 1.0),
            ("Zombie", 0.0),
        ] {
            assert_eq!(
                v(
                    "namedprocess_namegroup_states",
                    &format!(",state=\"{state}\"")
                ),
                Some(n),
                "{state}"
            );
        }
        assert_eq!(v("namedprocess_namegroup_num_threads", ""), Some(6.0));
        // Context switches summed over the threads: 12345 (main) + 500000 + 480000 + 90000
        // + 1200000 + 1100000.
        let ctx = |t: &str| {
            v(
                "namedprocess_namegroup_context_switches_total",
                &format!(",ctxswitchtype=\"{t}\""),
            )
        };
        assert_eq!(ctx("voluntary"), Some(3_382_345.0));
        assert_eq!(ctx("nonvoluntary"), Some(59_189.0));
        // A single-threaded process keeps its own status line.
        assert_eq!(
            group_value(
                &out,
                "namedprocess_namegroup_context_switches_total",
                "sshd",
                ",ctxswitchtype=\"voluntary\""
            ),
            value(
                &std::fs::read_to_string(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/fixtures/proc/612/status"
                ))
                .unwrap()
                .replace(":\t", " "),
                "voluntary_ctxt_switches"
            )
        );
        let th = |fam: &str, name: &str, extra: &str| {
            value(
                &out,
                &format!("{fam}{{groupname=\"java\",threadname=\"{name}\"{extra}}}"),
            )
        };
        assert_eq!(
            th("namedprocess_namegroup_thread_count", "kafka-request-h", ""),
            Some(2.0)
        );
        assert_eq!(
            th("namedprocess_namegroup_thread_count", "C2 CompilerThre", ""),
            Some(1.0)
        );
        assert_eq!(
            th(
                "namedprocess_namegroup_thread_cpu_seconds_total",
                "GC Thread#0",
                ",mode=\"user\""
            ),
            Some(3000.0)
        );
        assert_eq!(
            th(
                "namedprocess_namegroup_thread_io_bytes_total",
                "kafka-request-h",
                ",iomode=\"write\""
            ),
            Some(876_543_210_987.0)
        );
        assert_eq!(
            th(
                "namedprocess_namegroup_thread_context_switches_total",
                "java",
                ",ctxswitchtype=\"voluntary\""
            ),
            Some(12345.0),
            "the main thread's are the process's status"
        );
        // The process's wait channel and each thread's (the main thread's again).
        let w = |wchan: &str| {
            group_value(
                &out,
                "namedprocess_namegroup_threads_wchan",
                "java",
                &format!(",wchan=\"{wchan}\""),
            )
        };
        assert_eq!(w("futex_wait_queue"), Some(4.0));
        assert_eq!(w("folio_wait_bit_common"), Some(1.0));
        assert_eq!(w("0"), None, "a running thread waits for nothing");
        assert_eq!(
            group_value(
                &out,
                "namedprocess_namegroup_threads_wchan",
                "sshd",
                ",wchan=\"poll_schedule_timeout.constprop.0\""
            ),
            Some(1.0)
        );
        let off = scrape(&mut fx(&[("proc-threads", "false")]));
        assert!(!off.contains("namedprocess_namegroup_thread_count"));
        assert!(off.contains("namedprocess_namegroup_context_switches_total{groupname=\"java\",ctxswitchtype=\"voluntary\"} 3382345\n"));
        assert!(off.contains("namedprocess_namegroup_threads_wchan{groupname=\"java\",wchan=\"futex_wait_queue\"} 4\n"));
    }

    #[test]
    fn exited_and_renamed_threads_keep_counters_monotonic() {
        let tree = Tree::new("threads");
        let mut t = fx_in(&tree, &[]);
        let first = scrape(&mut t);
        let ctx = |out: &str| {
            group_value(
                out,
                "namedprocess_namegroup_context_switches_total",
                "java",
                ",ctxswitchtype=\"voluntary\"",
            )
            .unwrap()
        };
        let th = |out: &str, name: &str, fam: &str, extra: &str| {
            value(out, &format!("namedprocess_namegroup_thread_{fam}{{groupname=\"java\",threadname=\"{name}\"{extra}}}"))
        };
        // One of the two kafka threads exits; GC Thread#0 renames itself and runs 1 s more.
        std::fs::remove_dir_all(tree.file("1205/task/1210")).unwrap();
        tree.set_stat("1205/stat", 17, "5");
        let stat = std::fs::read_to_string(tree.file("1205/task/1206/stat")).unwrap();
        std::fs::write(
            tree.file("1205/task/1206/stat"),
            stat.replace("(GC Thread#0)", "(GC Thread#9)"),
        )
        .unwrap();
        tree.set_stat("1205/task/1206/stat", 11, "300100");
        let second = scrape(&mut t);
        assert_eq!(
            ctx(&second),
            ctx(&first),
            "the exited thread's switches stay"
        );
        assert_eq!(th(&second, "kafka-request-h", "count", ""), Some(1.0));
        assert_eq!(
            th(
                &second,
                "kafka-request-h",
                "cpu_seconds_total",
                ",mode=\"user\""
            ),
            Some(400.0)
        );
        assert_eq!(
            th(&second, "GC Thread#0", "count", ""),
            None,
            "a name without threads is gone"
        );
        assert_eq!(
            th(
                &second,
                "GC Thread#9",
                "cpu_seconds_total",
                ",mode=\"user\""
            ),
            Some(1.0),
            "a renamed thread counts what it did under its new name"
        );
        assert_eq!(
            group_value(
                &second,
                "namedprocess_namegroup_states",
                "java",
                ",state=\"Waiting\""
            ),
            Some(0.0)
        );
    }

    /// Writes a process-exporter config and returns its path (in the tree, removed with it).
    fn pe_config(tree: &Tree, text: &str) -> String {
        let path = tree.file("pe.yml");
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    const FIXTURE_CONFIG: &str = r#"process_names:
  - name: "web-{{.Username}}"
    cmdline:
    - 'nginx: master'
  - name: "pg:{{.Matches.role}}"
    comm: [postgres]
    cmdline:
    - 'postgres: 15/main: (?P<role>\w+)'
  - exe:
    - postgres
  - name: "{{.ExeFull}}"
    exe: [/usr/bin/dockerd]
"#;

    #[test]
    fn process_exporter_config_groups_only_matched_processes_and_their_children() {
        let tree = Tree::new("config");
        let cfg = pe_config(&tree, FIXTURE_CONFIG);
        let out = scrape(&mut fx(&[("config.path", &cfg)]));
        assert_eq!(
            groups(&out),
            [
                ("/usr/bin/dockerd".to_string(), 2.0),
                ("pg:background".into(), 1.0),
                ("pg:checkpointer".into(), 1.0),
                ("pg:walwriter".into(), 1.0),
                ("postgres".into(), 1.0),
                ("web-root".into(), 3.0),
            ],
            "nginx's workers and dockerd's zombie join their parents' groups; sshd, java, redis are in none"
        );
        let out = scrape(&mut fx(&[
            ("config.path", &cfg),
            ("proc-children", "false"),
        ]));
        let g = groups(&out);
        assert!(
            g.contains(&("web-root".to_string(), 1.0))
                && g.contains(&("/usr/bin/dockerd".to_string(), 1.0)),
            "{g:?}"
        );
        let cfg = pe_config(&tree, "process_names:\n  - comm: [kworker/1:1H-kblockd]\n");
        let out = scrape(&mut fx(&[("config.path", &cfg)]));
        assert_eq!(
            groups(&out),
            [("kworker/1:1H-kblockd".to_string(), 1.0)],
            "kernel threads are matched too, as process-exporter does"
        );
    }

    #[test]
    fn procnames_and_namemapping_flags() {
        let out = scrape(&mut fx(&[
            ("procnames", "nginx,java"),
            ("namemapping", r"java,\s(kafka\.\w+)"),
        ]));
        assert_eq!(
            groups(&out),
            [("java:kafka.Kafka".to_string(), 1.0), ("nginx".into(), 3.0)],
            "the first non-empty capture"
        );
        let mut s = crate::collector::default_settings();
        let f = |n: &str| COLLECTOR.flags.iter().find(|f| f.name == n).unwrap();
        s.set(f("namemapping"), Value::Str("java".into())).unwrap();
        let e = Processes::new(&s).err().unwrap().to_string();
        assert!(
            e.contains("--namemapping") && e.contains("odd number"),
            "{e}"
        );
        s.set(f("namemapping"), Value::Str(String::new())).unwrap();
        s.set(f("procnames"), Value::Str("x".into())).unwrap();
        s.set(f("config.path"), Value::Str("/nonexistent.yml".into()))
            .unwrap();
        let e = Processes::new(&s).err().unwrap().to_string();
        assert!(
            e.contains("--config.path and --procnames are mutually exclusive"),
            "{e}"
        );
        s.set(f("procnames"), Value::List(Vec::new())).unwrap();
        let e = Processes::new(&s).err().unwrap().to_string();
        assert!(e.starts_with("/nonexistent.yml: cannot read"), "{e}");
    }

    #[test]
    fn recheck_matches_a_process_that_renamed_itself() {
        let tree = Tree::new("recheck");
        let cfg = pe_config(
            &tree,
            "process_names:\n  - comm: [renamed]\n    name: late\n",
        );
        let mut plain = fx_in(&tree, &[("config.path", &cfg)]);
        let mut rechecking = fx_in(&tree, &[("config.path", &cfg), ("proc-recheck", "true")]);
        assert!(groups(&scrape(&mut plain)).is_empty());
        assert!(groups(&scrape(&mut rechecking)).is_empty());
        let stat = std::fs::read_to_string(tree.file("1999/stat")).unwrap();
        std::fs::write(
            tree.file("1999/stat"),
            stat.replace("(my (weird) name)", "(renamed)"),
        )
        .unwrap();
        assert!(
            groups(&scrape(&mut plain)).is_empty(),
            "matched once, when first seen"
        );
        assert_eq!(
            groups(&scrape(&mut rechecking)),
            [("late".to_string(), 1.0)]
        );
        // 1999 started an hour before the fixture's uptime.
        for (limit, want) in [("1s", 0), ("2h", 1)] {
            let mut limited = fx_in(
                &tree,
                &[
                    ("config.path", &cfg),
                    ("proc-recheck-with-time-limit", limit),
                ],
            );
            std::fs::write(tree.file("1999/stat"), &stat).unwrap();
            scrape(&mut limited);
            std::fs::write(
                tree.file("1999/stat"),
                stat.replace("(my (weird) name)", "(renamed)"),
            )
            .unwrap();
            assert_eq!(groups(&scrape(&mut limited)).len(), want, "limit {limit}");
        }
    }

    #[test]
    fn top_n_per_subgroup_others_min_uss_and_class_filters() {
        // Per subgroup, the top one by CPU and the top one by memory: nginx's two workers
        // split them, the four postgres processes have one process on top of both.
        let out = scrape(&mut fx(&[("top-n-per-subgroup", "1")]));
        assert_eq!(
            selected_pids(&out),
            [612, 700, 815, 902, 903, 1205, 1500, 1600]
        );
        let out = scrape(&mut fx(&[("top-n-others", "1")]));
        assert_eq!(
            selected_pids(&out),
            [1999],
            "the unclassified: my (weird) name and the zombie sh"
        );
        let out = scrape(&mut fx(&[
            ("top-n", "20"),
            ("proc-smaps", "true"),
            ("proc-min-uss", "100000000"),
        ]));
        assert_eq!(
            selected_pids(&out),
            [1205],
            "only java has 100 MB of its own"
        );
        let mut s = crate::collector::default_settings();
        let f = COLLECTOR
            .flags
            .iter()
            .find(|f| f.name == "proc-min-uss")
            .unwrap();
        s.set(f, Value::Str("1".into())).unwrap();
        let e = Processes::new(&s).err().unwrap().to_string();
        assert!(
            e.contains("--proc-min-uss") && e.contains("needs --proc-smaps"),
            "{e}"
        );
        let out = scrape(&mut fx(&[("proc-groups-include", "^db$"), ("top-n", "5")]));
        assert_eq!(
            groups(&out),
            [("postgres".to_string(), 4.0), ("redis-server".into(), 1.0)]
        );
        assert!(selected_pids(&out)
            .iter()
            .all(|p| [812, 815, 816, 818, 1500].contains(p)));
        let out = scrape(&mut fx(&[("proc-groups-exclude", "^(db|web|other)$")]));
        let g: Vec<String> = groups(&out).into_iter().map(|(g, _)| g).collect();
        assert_eq!(g, ["dockerd", "java", "sshd", "systemd-resolve"]);
    }

    #[test]
    fn optional_files_and_the_uptime_may_be_missing() {
        let tree = Tree::new("optional");
        std::fs::remove_file(tree.file("uptime")).unwrap();
        for e in std::fs::read_dir(&tree.0).unwrap().flatten() {
            let _ = std::fs::remove_file(e.path().join("wchan"));
            let _ = std::fs::remove_file(e.path().join("io"));
            if let Ok(tasks) = std::fs::read_dir(e.path().join("task")) {
                for t in tasks.flatten() {
                    let _ = std::fs::remove_file(t.path().join("wchan"));
                    let _ = std::fs::remove_file(t.path().join("io"));
                }
            }
        }
        let mut t = fx_in(&tree, &[]);
        for _ in 0..2 {
            let out = scrape(&mut t);
            assert!(
                !out.contains("threads_wchan"),
                "a kernel without wchan: no family"
            );
            assert!(
                out.contains("proctap_process_read_errors_total{file=\"io\"} 0\n"),
                "absent, not an error"
            );
            assert!(out.contains("namedprocess_scrape_partial_errors 0\n"));
            assert_eq!(
                group_value(&out, "namedprocess_namegroup_num_procs", "postgres", ""),
                Some(4.0)
            );
        }
        assert_eq!(t.p.st.rd.have[PidFile::Wchan as usize], Have::No);
        assert_eq!(t.p.st.rd.have[PidFile::Stat as usize], Have::Yes);
    }

    #[test]
    fn a_file_that_does_not_parse_is_an_error_unless_its_process_exited() {
        let tree = Tree::new("vanished");
        let mut src = Source::new(tree.0.clone(), "/sys".into(), "/".into());
        let err = ParseError::new(
            1,
            "expected a line starting with \"Max open files\", found an empty file",
        );
        assert!(
            Reader::parse_failed(&mut src, "4242", None, PidFile::Limits, err.clone()).is_ok(),
            "no /proc/4242: it exited"
        );
        assert!(
            Reader::parse_failed(&mut src, "1205", Some("1299"), PidFile::Status, err.clone())
                .is_ok(),
            "a thread that exited"
        );
        let e = Reader::parse_failed(&mut src, "816", None, PidFile::Limits, err)
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("/816/limits:1: expected a line starting with \"Max open files\", found an empty file"), "{e}");
        // A process whose files are gone between listing and reading is skipped.
        std::fs::remove_file(tree.file("816/status")).unwrap();
        let out = scrape(&mut fx_in(&tree, &[]));
        assert_eq!(
            group_value(&out, "namedprocess_namegroup_num_procs", "postgres", ""),
            Some(3.0)
        );
    }

    #[test]
    fn empty_groups_can_be_removed() {
        let tree = Tree::new("empty");
        let mut keep = fx_in(&tree, &[]);
        let mut remove = fx_in(&tree, &[("proc-remove-empty-groups", "true")]);
        scrape(&mut keep);
        scrape(&mut remove);
        std::fs::remove_dir_all(tree.file("1600")).unwrap();
        let kept = scrape(&mut keep);
        let removed = scrape(&mut remove);
        assert_eq!(
            group_value(
                &kept,
                "namedprocess_namegroup_num_procs",
                "systemd-resolve",
                ""
            ),
            Some(0.0)
        );
        assert!(kept.contains("namedprocess_namegroup_cpu_seconds_total{groupname=\"systemd-resolve\",mode=\"user\"} 8.76\n"));
        assert!(!removed.contains("systemd-resolve"), "{removed}");
    }

    /// Sleepers on the live /proc whose comm is `comm` (a symlink to sleep(1) of that name), so
    /// that `--proc-include` sees only them; killed and reaped when dropped.
    struct Sleepers {
        dir: PathBuf,
        kids: Vec<std::process::Child>,
    }

    impl Sleepers {
        fn start(comm: &str, n: usize) -> Sleepers {
            let dir =
                std::env::temp_dir().join(format!("proctap-kept-{comm}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let exe = dir.join(comm);
            let sleep = ["/bin/sleep", "/usr/bin/sleep"]
                .into_iter()
                .find(|p| Path::new(p).exists())
                .unwrap();
            std::os::unix::fs::symlink(sleep, &exe).unwrap();
            let kids = (0..n)
                .map(|_| std::process::Command::new(&exe).arg("600").spawn().unwrap())
                .collect();
            Sleepers { dir, kids }
        }

        fn pids(&self) -> Vec<u32> {
            self.kids.iter().map(|k| k.id()).collect()
        }

        /// Kills and reaps the `i`th; returns its pid.
        fn end(&mut self, i: usize) -> u32 {
            let mut k = self.kids.remove(i);
            k.kill().unwrap();
            k.wait().unwrap();
            k.id()
        }
    }

    impl Drop for Sleepers {
        fn drop(&mut self) {
            for k in &mut self.kids {
                let _ = k.kill();
                let _ = k.wait();
            }
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn live(comm: &str, extra: &[(&str, &str)]) -> Fx {
        let mut s = crate::collector::default_settings();
        let include = format!("^{comm}$");
        for (name, v) in [("proc-include", include.as_str())].iter().chain(extra) {
            let f = COLLECTOR.flags.iter().find(|f| f.name == *name).unwrap();
            s.set(f, Value::Str(v.to_string())).unwrap();
        }
        Fx {
            ctx: Ctx::new(Source::new("/proc".into(), "/sys".into(), "/".into())),
            p: Processes::new(&s).unwrap(),
        }
    }

    /// The kept descriptors of `pid`, as file names, and whether the count adds up.
    fn kept_of(st: &State, pid: u32) -> Vec<&'static str> {
        let held: usize = st
            .procs
            .iter()
            .map(|p| p.kept.0.iter().flatten().count())
            .sum();
        assert_eq!(held, st.rd.kept, "the count of kept descriptors is exact");
        let Some(p) = st.procs.iter().find(|p| p.pid == pid) else {
            return Vec::new();
        };
        KEPT.iter()
            .zip(&p.kept.0)
            .filter(|(_, f)| f.is_some())
            .map(|(f, _)| f.name())
            .collect()
    }

    #[test]
    fn kept_descriptors_are_read_again_and_closed_when_their_process_exits() {
        if !Path::new("/proc/self/stat").exists() {
            return;
        }
        let mut kids = Sleepers::start("kptlife", 3);
        let pids = kids.pids();
        let mut t = live("kptlife", &[("proc-name", "kptlife")]);
        let first = scrape(&mut t);
        assert!(t.p.st.rd.cap > 100, "cap {}", t.p.st.rd.cap);
        for &pid in &pids {
            assert_eq!(
                kept_of(&t.p.st, pid),
                ["stat", "status", "io", "wchan", "fd", "sched"]
            );
        }
        let num = |out: &str| group_value(out, "namedprocess_namegroup_num_procs", "kptlife", "");
        assert_eq!(num(&first), Some(3.0), "{first}");
        // The second and third scrapes read through the same descriptors, afresh: the
        // sleepers' state and the values agree with a plain read of their files.
        t.p.st.pids.reserve(1 << 16);
        let mut enc = Encoder::new();
        t.p.collect(&mut t.ctx, &mut enc).unwrap();
        enc.clear();
        let (n, r) = crate::alloc_count::allocations(|| t.p.collect(&mut t.ctx, &mut enc));
        r.unwrap();
        assert_eq!(
            n, 0,
            "a steady-state scrape through kept descriptors allocates"
        );
        let out = String::from_utf8(enc.as_bytes().to_vec()).unwrap();
        assert_eq!(num(&out), Some(3.0));
        for &pid in &pids {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            let start: f64 = stat
                .rsplit(')')
                .next()
                .unwrap()
                .split_whitespace()
                .nth(19)
                .unwrap()
                .parse()
                .unwrap();
            let want = t.p.st.btime.unwrap() as f64 + start / t.ctx.user_hz;
            let got = value(
                &out,
                &format!("proctap_process_start_time_seconds{{pid=\"{pid}\""),
            );
            assert_eq!(got, Some(want), "{out}");
        }
        let gone = kids.end(1);
        let before = t.p.st.rd.kept;
        let out = scrape(&mut t);
        assert_eq!(num(&out), Some(2.0), "{out}");
        assert!(kept_of(&t.p.st, gone).is_empty());
        assert_eq!(t.p.st.rd.kept, before - KEPT.len());
        assert!(!out.contains(&format!("pid=\"{gone}\"")), "{out}");
    }

    #[test]
    fn proctap_itself_selected_finds_its_sockets_without_listing_its_kept_descriptors() {
        if !Path::new("/proc/self/stat").exists() {
            return;
        }
        let _kids = Sleepers::start("kptself", 3);
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        let me = me.trim_end();
        let include = format!("^(kptself|{})$", regex_lite::escape(me));
        let mut t = live("kptself", &[("proc-include", &include), ("proc-name", me)]);
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        scrape(&mut t);
        let out = scrape(&mut t);
        assert!(t.p.st.own_kept.len() >= 3 * 5, "{:?}", t.p.st.own_kept);
        assert!(
            t.p.st.own_kept.iter().all(|&fd| fd != l.as_raw_fd()),
            "the listener is not a kept descriptor"
        );
        let want = format!(",proto=\"tcp\",port=\"{port}\"}} 1\n");
        let pid = format!(
            "proctap_process_listening_port{{pid=\"{}\"",
            std::process::id()
        );
        assert!(
            out.lines()
                .any(|line| line.starts_with(&pid) && format!("{line}\n").ends_with(&want)),
            "{out}"
        );
    }

    /// A child that holds both ends of a loopback connection over which 1000 bytes went one
    /// way: its totals, and the dump and update of a steady-state scrape do not allocate.
    #[test]
    fn live_tcp_bytes_of_a_selected_process_without_allocating() {
        if !is_procfs(&mut Source::new("/proc".into(), "/sys".into(), "/".into())) {
            return;
        }
        const CHILD: &str = r#"
import ctypes, socket, sys, time
ctypes.CDLL(None).prctl(15, b"kpttcp", 0, 0, 0)
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
c.sendall(b"x" * 1000); got = 0
while got < 1000: got += len(a.recv(4096))
print("ready", flush=True)
time.sleep(600)
"#;
        let (mut child, line) = python_child(CHILD);
        assert_eq!(line, "ready\n");
        let mut t = live("kpttcp", &[("proc-name", "kpttcp")]);
        // The last ACK may come a moment later (delayed ACKs): poll.
        let (sel, start) = (
            format!("{{pid=\"{}\",", child.id()),
            std::time::Instant::now(),
        );
        let (rx, tx) = loop {
            let out = scrape(&mut t);
            let rx = value(
                &out,
                &format!("proctap_process_network_receive_bytes_total{sel}"),
            );
            let tx = value(
                &out,
                &format!("proctap_process_network_transmit_bytes_total{sel}"),
            );
            if tx >= Some(1001.0) || start.elapsed().as_secs() > 5 {
                break (rx, tx);
            }
        };
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(rx, Some(1000.0));
        // The client's 1000 bytes and SYN, and the server's SYN.
        assert!(matches!(tx, Some(1001.0 | 1002.0)), "{tx:?}");
        let st = &mut t.p.st;
        st.ports.clear();
        let (n, dumped) = crate::alloc_count::allocations(|| tcp_traffic(st));
        assert!(dumped);
        assert_eq!(n, 0, "a steady-state dump allocates");
    }

    /// Runs `src` in python3 and returns the child with the first line it printed.
    fn python_child(src: &str) -> (std::process::Child, String) {
        let mut child = std::process::Command::new("python3")
            .args(["-c", src])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let out = child.stdout.take().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).unwrap();
        (child, line)
    }

    /// A child listening on TCP 127.0.0.1 and [::1] and bound to a UDP port, with an
    /// established connection to its IPv4 listener: the listening ports of the sock_diag dump
    /// are those /proc/net/tcp and tcp6 give (labels and values), the dump takes them without
    /// allocating, and UDP still comes from /proc/net/udp.
    #[test]
    fn live_listening_ports_from_the_dump_are_those_of_proc_net() {
        if !is_procfs(&mut Source::new("/proc".into(), "/sys".into(), "/".into())) {
            return;
        }
        const CHILD: &str = r#"
import ctypes, socket, sys, time
ctypes.CDLL(None).prctl(15, b"kptlisten", 0, 0, 0)
l4 = socket.socket(); l4.bind(("127.0.0.1", 0)); l4.listen(1)
l6 = socket.socket(socket.AF_INET6); l6.bind(("::1", 0)); l6.listen(1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
c = socket.create_connection(l4.getsockname()); a, _ = l4.accept()
ports = (l4.getsockname()[1], l6.getsockname()[1], u.getsockname()[1])
print("%d %d %d" % ports, flush=True)
time.sleep(600)
"#;
        let (mut child, line) = python_child(CHILD);
        let want: Vec<u16> = line
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        let pid = child.id();
        let ports_of = |out: &str| -> Vec<(String, u16)> {
            let prefix = format!("proctap_process_listening_port{{pid=\"{pid}\",");
            let labels = out
                .lines()
                .filter_map(|l| l.strip_prefix(&prefix)?.strip_suffix("} 1"));
            labels
                .map(|l| {
                    let proto = l
                        .split("proto=\"")
                        .nth(1)
                        .unwrap()
                        .split('"')
                        .next()
                        .unwrap();
                    let port = l
                        .split("port=\"")
                        .nth(1)
                        .unwrap()
                        .split('"')
                        .next()
                        .unwrap();
                    (proto.to_string(), port.parse().unwrap())
                })
                .collect()
        };
        let mut t = live("kptlisten", &[("proc-name", "kptlisten")]);
        let dumped = ports_of(&scrape(&mut t));
        let st = &mut t.p.st;
        assert!(st.diag.is_some() && !st.no_diag, "the dump was not taken");
        st.ports.clear();
        let (n, took) = crate::alloc_count::allocations(|| tcp_traffic(st));
        assert!(took);
        assert_eq!(n, 0, "a steady-state dump allocates");
        // Only the child's: another process of the same name (a concurrent run of this test)
        // may listen too. One walk of both families gives them in hash order; sort them.
        let mut tcp: Vec<(usize, u16)> = st
            .ports
            .iter()
            .filter(|&&(i, _, _)| st.procs.get(i as usize).is_some_and(|p| p.pid == pid))
            .map(|&(_, k, p)| (k, p))
            .collect();
        tcp.sort_unstable();
        assert_eq!(tcp, [(0, want[0]), (1, want[1])], "the dump's TCP ports");
        // The same scrape through /proc/net/tcp and tcp6.
        st.no_diag = true;
        let read = ports_of(&scrape(&mut t));
        let _ = child.kill();
        let _ = child.wait();
        let expected = [("tcp", want[0]), ("tcp6", want[1]), ("udp", want[2])];
        let expected: Vec<(String, u16)> =
            expected.iter().map(|&(p, n)| (p.to_string(), n)).collect();
        assert_eq!(dumped, expected);
        assert_eq!(read, dumped);
    }
}
