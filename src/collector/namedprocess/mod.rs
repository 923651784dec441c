//! Per-process metrics (SPEC section 3): process-exporter's `namedprocess_namegroup_*` groups
//! and `proctap_process_*` series for selected processes, from one scan of `<procfs>/[0-9]*`.
//!
//! A process is known by pid + start time. What cannot change while it lives (command line,
//! cgroup, user, classification, group) is worked out once, when it is first seen; a scrape
//! then reads stat, status, io, the fd/ listing (and limits now and then) into reused buffers
//! and updates the entry in place, so known processes cost no allocation.
pub mod classify;
pub mod group;
pub mod parse;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;

use regex_lite::Regex;

use super::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{u64_str, Encoder, Kind, Label};
use crate::flag::{self, CliError, Flag, Kind as FlagKind, Settings};
use crate::source::{self, for_each_dir_entry, open_dir, Error, ParseError, Root, Source};
use classify::{truncate_comm, Classifier};
use group::{Counters, GroupBy, Groups, Identity, Member, STATES};
use parse::{Proto, Sched};

/// Options of the namedprocess collector, compiled once at start-up.
#[derive(Debug, Clone)]
pub struct ProcOpts {
    pub group_by: Vec<GroupBy>,
    /// On comm; exclude is checked first.
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
    /// `--proc-name`, truncated to 15 bytes as Linux truncates comm.
    pub names: Vec<String>,
    /// `--proc-pattern`, on comm and on the command line.
    pub pattern: Option<Regex>,
    pub top_n: usize,
    pub smaps: bool,
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
            "proc-include",
            FlagKind::OptRegex,
            "RE",
            "",
            "Look only at processes whose name (comm) matches.",
        )
        .unset("all"),
        Flag::new(
            "proc-exclude",
            FlagKind::OptRegex,
            "RE",
            "",
            "Skip processes whose name (comm) matches; checked before --proc-include.",
        )
        .unset("none"),
        Flag::switch(
            "proc-kernel-threads",
            "Include kernel threads (excluded by default).",
        ),
        Flag::new(
            "proc-name",
            FlagKind::Append,
            "NAME",
            "",
            "Export proctap_process_* series for every process whose comm equals NAME; repeatable. Linux truncates comm to 15 bytes, so NAME is compared truncated to 15 bytes too.",
        )
        .unset("none"),
        Flag::new(
            "proc-pattern",
            FlagKind::OptRegex,
            "RE",
            "",
            "Export proctap_process_* series for every process whose comm or command line (arguments joined by spaces) matches.",
        )
        .unset("none"),
        Flag::new(
            "top-n",
            FlagKind::Count,
            "N",
            "0",
            "Also export proctap_process_* series for the top N processes by CPU percent, by resident memory and by I/O bytes per second, each list chosen separately (0: none).",
        ),
        Flag::new(
            "proc-rules",
            FlagKind::Str,
            "FILE",
            "",
            "Classification rules that add to or override the built-in table, one `comm = \"group/subgroup\"` per line (see proctap subgroups).",
        )
        .unset("none"),
        Flag::switch(
            "proc-smaps",
            "Read /proc/<pid>/smaps_rollup for proportional (pss) and unique (uss) memory; costly on big hosts.",
        ),
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
        ],
        hint: "other users' io and fd need CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (root, or the \
               systemd drop-in contrib/systemd/proctap-process-details.conf)",
    },
    build: Build::New(|s| Ok(Box::new(Processes::new(s)?))),
};

/// The namedprocess collector: its options and what it keeps between scrapes.
pub struct Processes {
    pub opts: ProcOpts,
    pub st: State,
}

impl Processes {
    pub fn new(s: &Settings) -> Result<Processes, CliError> {
        Ok(Processes {
            opts: ProcOpts::new(s)?,
            st: State::default(),
        })
    }
}

impl Collect for Processes {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        collect(&self.opts, &mut self.st, ctx, out)
    }
}

impl ProcOpts {
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
        let rules = s.path("proc-rules");
        let classifier = Classifier::new(rules.as_deref()).map_err(CliError::Config)?;
        Ok(ProcOpts {
            group_by,
            include: s.opt_regex("proc-include")?,
            exclude: s.opt_regex("proc-exclude")?,
            names: s
                .list("proc-name")
                .iter()
                .map(|n| truncate_comm(n).to_string())
                .collect(),
            pattern: s.opt_regex("proc-pattern")?,
            top_n: s.count("top-n"),
            smaps: s.switch("proc-smaps"),
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
}

/// The per-PID files whose read errors are counted, in `proctap_process_read_errors_total`.
const FILES: [&str; 9] = [
    "cgroup",
    "cmdline",
    "fd",
    "io",
    "limits",
    "sched",
    "smaps_rollup",
    "stat",
    "status",
];

/// A per-PID file; its discriminant indexes [`FILES`] and `State::read_errors`.
#[derive(Clone, Copy)]
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
}

/// `limits` is read when a process is new and then every this many scrapes.
const LIMITS_EVERY: u64 = 16;

/// One known process.
#[derive(Debug)]
struct Proc {
    pid: u32,
    starttime: u64,
    /// The scrape it was last seen in.
    seen: u64,
    group: u32,
    comm: String,
    user: String,
    class_group: String,
    subgroup: String,
    container_id: String,
    /// Chosen by --proc-name or --proc-pattern (decided once).
    pinned: bool,
    counters: Counters,
    member: Member,
    uss: u64,
    priority: i64,
    nice: i64,
    /// /proc/uptime at the last reading, for the rates.
    uptime: f64,
    cpu_percent: f64,
    io_rate: f64,
    /// Read for selected processes only.
    sched: Option<Sched>,
}

/// What the collector keeps between scrapes.
#[derive(Default)]
pub struct State {
    /// Sorted by pid.
    procs: Vec<Proc>,
    generation: u64,
    pids: Vec<u32>,
    dirents: Vec<u8>,
    fd_dirents: Vec<u8>,
    raw: Raw,
    groups: Groups,
    /// Whether `stat` of /proc/<pid>/fd gives the number of open fds (procfs on Linux 6.2+),
    /// which saves listing the directory; found out on the first scrape.
    fd_count_in_size: Option<bool>,
    users: Option<HashMap<u32, String>>,
    btime: Option<u64>,
    read_errors: [u64; FILES.len()],
    /// Scratch for top-N and the selected processes.
    values: Vec<f64>,
    top: Vec<(f64, u32)>,
    flags: Vec<bool>,
    selected: Vec<u32>,
    /// (socket inode, index into procs) of the selected processes.
    sockets: Vec<(u64, u32)>,
    /// (index into procs, protocol, port) of listening sockets.
    ports: Vec<(u32, usize, u16)>,
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
    src.read(Root::Proc, &["uptime"], &mut ctx.buf)?;
    let clock = Clock {
        uptime: parse_uptime(&ctx.buf).map_err(|e| src.parse_error(e))?,
        user_hz: ctx.user_hz,
        page_size: ctx.page_size,
    };
    if st.fd_count_in_size.is_none() {
        st.fd_count_in_size = Some(fd_count_in_size(src));
    }
    st.generation += 1;
    st.groups.begin();
    list_pids(src, &mut st.dirents, &mut st.pids)?;
    for i in 0..st.pids.len() {
        let Some(&pid) = st.pids.get(i) else { break };
        scan(st, src, opts, pid, &clock)?;
    }
    sweep(st);
    for p in &st.procs {
        st.groups.add_member(p.group, &p.counters, &p.member);
    }
    select(st, opts);
    detail(st, src, &mut ctx.buf)?;
    write_groups(st, opts, &clock, out);
    write_selected(st, opts, &clock, out);
    out.family(
        "proctap_process_read_errors_total",
        "Per-process files proctap could not read (such as another user's io without privileges), by file.",
        Kind::Counter,
    );
    for (file, n) in FILES.iter().zip(st.read_errors) {
        out.u64(&[("file", file)], n);
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

    /// Reads the whole file, usually with a single read(2): a per-PID procfs file (a
    /// single_open seq_file) hands out everything it has in one read when the buffer is large
    /// enough, so a short read is the end. That halves the reads of a scan, its main cost.
    fn read_from(&mut self, mut f: File) -> io::Result<()> {
        self.len = 0;
        if self.buf.len() < 16 << 10 {
            self.buf.resize(16 << 10, 0);
        }
        loop {
            let Some(spare) = self.buf.get_mut(self.len..) else {
                return Ok(());
            };
            let want = spare.len();
            let n = match f.read(spare) {
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

/// Reads `<procfs>/<pid>/<file>` into `raw` without building an error value (an `Error` holds
/// the path, an allocation, and unreadable files of other users' processes are routine).
fn read_pid(src: &mut Source, pid: &str, file: &str, raw: &mut Raw) -> io::Result<()> {
    raw.clear();
    let f = File::open(src.path(Root::Proc, &[pid, "/", file]))?;
    raw.read_from(f)
}

/// Whether `<procfs>` is a procfs whose /proc/<pid>/fd report their number of entries as
/// their size (Linux 6.2+). Fixture trees are not procfs: their directories have a block size.
fn fd_count_in_size(src: &mut Source) -> bool {
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    let Ok(root) = std::ffi::CString::new(src.procfs.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes into the zeroed struct we pass; the path is NUL-terminated.
    let is_procfs = unsafe {
        let mut fs: libc::statfs = std::mem::zeroed();
        libc::statfs(root.as_ptr(), &mut fs) == 0 && fs.f_type as i64 == PROC_SUPER_MAGIC
    };
    // This process has fds open, so an old kernel shows up as a size of 0.
    is_procfs && std::fs::metadata(src.path(Root::Proc, &["self/fd"])).is_ok_and(|m| m.len() > 0)
}

/// The number of open fds of a process, from the size of its fd/ directory or by listing it.
fn count_fds(src: &mut Source, pid: &str, by_size: bool, dirents: &mut Vec<u8>) -> io::Result<u64> {
    let path = src.path(Root::Proc, &[pid, "/fd"]);
    if by_size {
        return std::fs::metadata(path).map(|m| m.len());
    }
    let dir = open_dir(path)?;
    let mut n = 0u64;
    for_each_dir_entry(&dir, dirents, |_| n += 1)?;
    Ok(n)
}

/// The result of reading one per-PID file.
enum Got {
    Ok,
    /// The file or the process is gone.
    Gone,
    /// Counted in `read_errors`.
    Failed,
}

fn got(r: io::Result<()>, errors: &mut [u64], file: PidFile) -> Got {
    match r {
        Ok(()) => Got::Ok,
        Err(e) if is_gone(&e) => Got::Gone,
        Err(_) => {
            if let Some(n) = errors.get_mut(file as usize) {
                *n += 1;
            }
            Got::Failed
        }
    }
}

/// Text of a per-PID file; comm may hold any bytes, so invalid UTF-8 is replaced, not an error.
fn text(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(raw)
}

fn parse_err(src: &Source, pid: &str, file: &str, err: ParseError) -> Error {
    let mut path = src.procfs.clone();
    path.push(pid);
    path.push(file);
    Error::Parse { path, err }
}

/// The numbers of /proc/<pid>/stat and status, copied out so the buffer can be reused.
struct StatVals {
    uid: u32,
    voluntary: u64,
    nonvoluntary: u64,
    swap: u64,
    state: u8,
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
    let errors = &mut st.read_errors;
    let raw = &mut st.raw;
    match got(read_pid(src, pid_s, "stat", raw), errors, PidFile::Stat) {
        Got::Ok => {}
        Got::Gone | Got::Failed => return Ok(()),
    }
    let stat_text = text(raw);
    let s = parse::parse_stat(&stat_text).map_err(|e| parse_err(src, pid_s, "stat", e))?;
    if s.is_kernel_thread() && !opts.kernel_threads {
        return Ok(());
    }
    if !opts.allows(s.comm) {
        return Ok(());
    }
    let mut v = StatVals {
        uid: 0,
        voluntary: 0,
        nonvoluntary: 0,
        swap: 0,
        state: s.state,
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
    let pos = st.procs.binary_search_by_key(&pid, |p| p.pid);
    // Known: its entry; new (or the PID was reused): where it goes, and its comm.
    let slot = match pos {
        Ok(i) if st.procs.get(i).is_some_and(|p| p.starttime == v.starttime) => {
            if let Some(p) = st.procs.get_mut(i) {
                if p.comm != s.comm {
                    p.comm.clear();
                    p.comm.push_str(s.comm);
                }
            }
            Ok(i)
        }
        found => Err((found, s.comm.to_string())),
    };
    drop(stat_text);
    match got(read_pid(src, pid_s, "status", raw), errors, PidFile::Status) {
        Got::Ok => {}
        // Vanished after stat: a known entry stays unseen and the sweep takes it.
        Got::Gone | Got::Failed => return Ok(()),
    }
    {
        let t = text(raw);
        let s = parse::parse_status(&t).map_err(|e| parse_err(src, pid_s, "status", e))?;
        v.uid = s.uid;
        v.voluntary = s.voluntary_ctxt_switches;
        v.nonvoluntary = s.nonvoluntary_ctxt_switches;
        v.swap = s.vm_swap.unwrap_or(0);
    }
    let idx = match slot {
        Ok(i) => i,
        Err((found, comm)) => {
            let Some(p) = new_proc(st, src, opts, pid, pid_s, comm, &v)? else {
                return Ok(());
            };
            match found {
                Ok(i) => {
                    if let Some(slot) = st.procs.get_mut(i) {
                        // The old process's last counters stay in its group.
                        let old = std::mem::replace(slot, p);
                        st.groups.exited(old.group, &old.counters);
                    }
                    i
                }
                Err(i) => {
                    st.procs.insert(i, p);
                    i
                }
            }
        }
    };
    update(st, src, opts, idx, pid_s, &v, clock)
}

/// A process seen for the first time: command line, cgroup, user, class and group. None when it
/// vanished meanwhile.
fn new_proc(
    st: &mut State,
    src: &mut Source,
    opts: &ProcOpts,
    pid: u32,
    pid_s: &str,
    comm: String,
    v: &StatVals,
) -> Result<Option<Proc>, Error> {
    let (starttime, uid) = (v.starttime, v.uid);
    let errors = &mut st.read_errors;
    let raw = &mut st.raw;
    let container_id = match got(read_pid(src, pid_s, "cgroup", raw), errors, PidFile::Cgroup) {
        Got::Ok => parse::container_id(&text(raw)).unwrap_or("").to_string(),
        Got::Gone | Got::Failed => String::new(),
    };
    match got(
        read_pid(src, pid_s, "cmdline", raw),
        errors,
        PidFile::Cmdline,
    ) {
        Got::Ok => {}
        Got::Gone | Got::Failed => raw.clear(),
    }
    let argv0 = parse::argv0_basename(raw).map(str::to_string);
    let mut cmdline = String::from_utf8_lossy(raw).replace('\0', " ");
    cmdline.truncate(cmdline.trim_end().len());
    let user = user_name(st, src, uid);
    let (class_group, subgroup) =
        opts.classifier
            .classify(&comm, argv0.as_deref().unwrap_or(&comm), &cmdline);
    let mut name = String::new();
    group::group_name(
        &opts.group_by,
        &Identity {
            comm: &comm,
            user: &user,
            argv0: argv0.as_deref(),
            class: (class_group, subgroup),
        },
        &mut name,
    );
    let pinned = opts.names.contains(&comm)
        || opts
            .pattern
            .as_ref()
            .is_some_and(|re| re.is_match(&comm) || re.is_match(&cmdline));
    Ok(Some(Proc {
        pid,
        starttime,
        seen: 0,
        group: st.groups.index_of(&name),
        class_group: class_group.to_string(),
        subgroup: subgroup.to_string(),
        comm,
        user,
        container_id,
        pinned,
        counters: Counters::default(),
        member: Member {
            fd_limit: u64::MAX,
            ..Member::default()
        },
        uss: 0,
        priority: 0,
        nice: 0,
        uptime: -1.0,
        cpu_percent: 0.0,
        io_rate: 0.0,
        sched: None,
    }))
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

/// This scrape's reading of a known process: stat values, status, io, fd count, limits, smaps.
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
    let errors = &mut st.read_errors;
    let raw = &mut st.raw;
    let Some(p) = st.procs.get_mut(idx) else {
        return Ok(());
    };
    let is_new = p.seen == 0;
    let swap = v.swap;
    let prev = p.counters;
    let mut c = Counters {
        utime: v.utime,
        stime: v.stime,
        majflt: v.majflt,
        minflt: v.minflt,
        voluntary_ctxt: v.voluntary,
        nonvoluntary_ctxt: v.nonvoluntary,
        // Kept from the last reading when io cannot be read, so the group never drops.
        read_bytes: prev.read_bytes,
        write_bytes: prev.write_bytes,
    };
    if let Got::Ok = got(read_pid(src, pid_s, "io", raw), errors, PidFile::Io) {
        let io = parse::parse_io(&text(raw)).map_err(|e| parse_err(src, pid_s, "io", e))?;
        c.read_bytes = io.read_bytes;
        c.write_bytes = io.write_bytes;
    }
    let by_size = st.fd_count_in_size.unwrap_or(false);
    let open_fds = match count_fds(src, pid_s, by_size, &mut st.fd_dirents) {
        Ok(n) => n,
        Err(e) => {
            got(Err(e), errors, PidFile::Fd);
            0
        }
    };
    if is_new || (generation + u64::from(p.pid)) % LIMITS_EVERY == 0 {
        if let Got::Ok = got(read_pid(src, pid_s, "limits", raw), errors, PidFile::Limits) {
            p.member.fd_limit = parse::parse_limits_max_open_files(&text(raw))
                .map_err(|e| parse_err(src, pid_s, "limits", e))?;
        }
    }
    let (mut pss, mut uss) = (0, 0);
    if opts.smaps && v.state != b'Z' {
        if let Got::Ok = got(
            read_pid(src, pid_s, "smaps_rollup", raw),
            errors,
            PidFile::Smaps,
        ) {
            // Empty for tasks without an mm (the kernel answers such reads with nothing).
            if !raw.is_empty() {
                let s = parse::parse_smaps_rollup(&text(raw))
                    .map_err(|e| parse_err(src, pid_s, "smaps_rollup", e))?;
                pss = s.pss;
                uss = s.uss;
            }
        }
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
    p.member = Member {
        rss: v.rss_pages.saturating_mul(clock.page_size),
        vsize: v.vsize,
        swap,
        pss,
        open_fds,
        fd_limit: p.member.fd_limit,
        threads: v.threads,
        state: v.state,
        starttime: v.starttime,
    };
    p.uss = uss;
    p.priority = v.priority;
    p.nice = v.nice;
    p.sched = None;
    p.seen = generation;
    Ok(())
}

/// Drops the processes not seen in this scrape; their last counters stay in their groups.
fn sweep(st: &mut State) {
    let generation = st.generation;
    let groups = &mut st.groups;
    st.procs.retain(|p| {
        if p.seen == generation {
            return true;
        }
        if p.seen != 0 {
            groups.exited(p.group, &p.counters);
        }
        false
    });
}

/// Marks the selected processes: pinned ones and the union of the three top-N lists.
fn select(st: &mut State, opts: &ProcOpts) {
    st.flags.clear();
    st.flags.extend(st.procs.iter().map(|p| p.pinned));
    let lists: [fn(&Proc) -> f64; 3] = [|p| p.cpu_percent, |p| p.member.rss as f64, |p| p.io_rate];
    for key in lists {
        st.values.clear();
        st.values.extend(st.procs.iter().map(key));
        group::mark_top_n(&st.values, opts.top_n, &mut st.top, &mut st.flags);
    }
    st.selected.clear();
    for (i, &on) in st.flags.iter().enumerate() {
        if on {
            st.selected.push(u32::try_from(i).unwrap_or(u32::MAX));
        }
    }
}

/// What only selected processes get: sched, and the ports they listen on.
fn detail(st: &mut State, src: &mut Source, buf: &mut String) -> Result<(), Error> {
    st.sockets.clear();
    st.ports.clear();
    for &i in &st.selected {
        let Some(p) = st.procs.get_mut(i as usize) else {
            continue;
        };
        let mut tmp = [0u8; 20];
        let pid_s = u64_str(&mut tmp, u64::from(p.pid));
        let errors = &mut st.read_errors;
        if let Got::Ok = got(
            read_pid(src, pid_s, "sched", &mut st.raw),
            errors,
            PidFile::Sched,
        ) {
            p.sched = Some(
                parse::parse_sched(&text(&st.raw))
                    .map_err(|e| parse_err(src, pid_s, "sched", e))?,
            );
        }
        if p.member.open_fds == 0 {
            continue;
        }
        if let Ok(dir) = open_dir(src.path(Root::Proc, &[pid_s, "/fd"])) {
            let sockets = &mut st.sockets;
            let _ = socket_inodes(&dir, &mut st.fd_dirents, |inode| sockets.push((inode, i)));
        }
    }
    if st.sockets.is_empty() {
        return Ok(());
    }
    st.sockets.sort_unstable();
    for (k, proto) in Proto::ALL.iter().enumerate() {
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
        for g in st.groups.iter() {
            out.u64(&[("groupname", &g.name)], get(g));
        }
    }
    out.family(
        "namedprocess_namegroup_cpu_seconds_total",
        "CPU time of the processes in this group, by mode.",
        Kind::Counter,
    );
    for g in st.groups.iter() {
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
        "Context switches of the processes in this group (/proc/<pid>/status).",
        Kind::Counter,
    );
    for g in st.groups.iter() {
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
        "Memory of the processes in this group, by type (proportionalResident with --proc-smaps).",
        Kind::Gauge,
    );
    for g in st.groups.iter() {
        let m = &g.gauges;
        if opts.smaps {
            out.u64(
                &[("groupname", &g.name), ("memtype", "proportionalResident")],
                m.pss,
            );
        }
        out.u64(&[("groupname", &g.name), ("memtype", "resident")], m.rss);
        out.u64(&[("groupname", &g.name), ("memtype", "swapped")], m.swap);
        out.u64(&[("groupname", &g.name), ("memtype", "virtual")], m.vsize);
    }
    for (name, help, kind, get) in more {
        out.family(name, help, kind);
        for g in st.groups.iter() {
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
        "Processes in this group by state (Running, Sleeping, Waiting, Zombie, Other).",
        Kind::Gauge,
    );
    for g in st.groups.iter() {
        for (state, n) in STATES.iter().zip(g.gauges.states) {
            out.u64(&[("groupname", &g.name), ("state", state)], n);
        }
    }
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
        ("name", &p.comm),
        ("user", &p.user),
        ("group", &p.class_group),
        ("subgroup", &p.subgroup),
        ("container_id", &p.container_id),
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
    fn btime_and_uptime() {
        assert_eq!(parse_btime("cpu 1 2\nbtime 1743426000\n"), Ok(1743426000));
        assert!(parse_btime("cpu 1 2\n").is_err());
        assert_eq!(parse_uptime("1234567.89 4501234.56\n"), Ok(1234567.89));
        assert!(parse_uptime("").is_err());
    }
}
