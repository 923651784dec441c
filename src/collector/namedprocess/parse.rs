//! Pure parsers for the per-process files under /proc/<pid>/ and the tables the processes
//! collector joins them with (/proc/net/{tcp,tcp6,udp,udp6}, /etc/passwd).
//!
//! No I/O and no heap allocation on success: results are plain numbers or borrow from the text.
//! Only the error paths allocate (the message of a [`ParseError`]).
use crate::parse::{i64_at, u64_at};
use crate::source::ParseError;

/// `PF_KTHREAD` in the `flags` field of /proc/<pid>/stat: the task is a kernel thread.
pub const PF_KTHREAD: u64 = 0x0020_0000;

/// The fields of /proc/<pid>/stat the collector uses (proc(5) numbering in the comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat<'a> {
    /// (1)
    pub pid: u32,
    /// (2) without the parentheses; may itself contain spaces and parentheses.
    pub comm: &'a str,
    /// (3) one of `RSDZTtXxKWPI`.
    pub state: u8,
    /// (4) 0 for init and kthreadd.
    pub ppid: u32,
    /// (9) `PF_*` bits, see [`PF_KTHREAD`].
    pub flags: u64,
    /// (10)
    pub minflt: u64,
    /// (12)
    pub majflt: u64,
    /// (14) clock ticks.
    pub utime: u64,
    /// (15) clock ticks.
    pub stime: u64,
    /// (18) negative for real-time policies.
    pub priority: i64,
    /// (19) -20..19.
    pub nice: i64,
    /// (20)
    pub num_threads: u64,
    /// (22) clock ticks since boot.
    pub starttime: u64,
    /// (23) bytes.
    pub vsize: u64,
    /// (24) pages. Printed with `%ld`, but the kernel clamps its counters at 0.
    pub rss: u64,
}

impl Stat<'_> {
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

/// process-exporter's `namedprocess_namegroup_states` bucket for a stat state letter.
pub fn state_bucket(state: u8) -> &'static str {
    match state {
        b'R' => "Running",
        b'S' => "Sleeping",
        b'D' => "Waiting",
        b'Z' => "Zombie",
        _ => "Other",
    }
}

/// Parses /proc/<pid>/stat. comm runs from the first `(` to the LAST `)`, because a task may
/// name itself `my (weird) name` or `a) b`; everything after it is split on whitespace.
pub fn parse_stat(text: &str) -> Result<Stat<'_>, ParseError> {
    let line = text.lines().next().unwrap_or("");
    let (Some(open), Some(close)) = (line.find('('), line.rfind(')')) else {
        return Err(ParseError::new(
            1,
            format!("expected \"pid (comm) state ...\", found {:?}", clip(line)),
        ));
    };
    let (Some(pid), Some(comm), Some(rest)) = (
        line.get(..open),
        line.get(open + 1..close),
        line.get(close + 1..),
    ) else {
        return Err(ParseError::new(1, "expected \"pid (comm) state ...\""));
    };
    let pid = u32_at(pid.trim(), 1, "pid")?;
    // Fields after comm, 0-based from state (field 3); rss (field 24) is the last one we need.
    let mut f = rest.split_ascii_whitespace();
    let mut next = |skip: usize| -> Result<&str, ParseError> {
        f.nth(skip).ok_or_else(|| {
            ParseError::new(
                1,
                format!(
                    "expected at least 22 fields after comm, found {}",
                    field_count(rest)
                ),
            )
        })
    };
    let state = next(0)?;
    let state = match state.as_bytes() {
        [c] => *c,
        _ => {
            return Err(ParseError::new(
                1,
                format!("expected a one-letter state after comm, found {state:?}"),
            ))
        }
    };
    let ppid = u32_at(next(0)?, 1, "ppid")?;
    let flags = u64_at(next(4)?, 1, "flags")?;
    let minflt = u64_at(next(0)?, 1, "minflt")?;
    let majflt = u64_at(next(1)?, 1, "majflt")?;
    let utime = u64_at(next(1)?, 1, "utime")?;
    let stime = u64_at(next(0)?, 1, "stime")?;
    let priority = i64_at(next(2)?, 1, "priority")?;
    let nice = i64_at(next(0)?, 1, "nice")?;
    let num_threads = u64_at(next(0)?, 1, "num_threads")?;
    let starttime = u64_at(next(1)?, 1, "starttime")?;
    let vsize = u64_at(next(0)?, 1, "vsize")?;
    let rss = u64_at(next(0)?, 1, "rss")?;
    Ok(Stat {
        pid,
        comm,
        state,
        ppid,
        flags,
        minflt,
        majflt,
        utime,
        stime,
        priority,
        nice,
        num_threads,
        starttime,
        vsize,
        rss,
    })
}

/// The fields of /proc/<pid>/status the collector uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status<'a> {
    /// `Name:` as the kernel escapes it (`\n` becomes `\\n`, `\\` becomes `\\\\`).
    pub name: Option<&'a str>,
    /// `State:`'s letter, as stat's field 3 (a thread's state, for task/<tid>/status).
    pub state: Option<u8>,
    /// Real uid: the first of the four numbers on `Uid:`.
    pub uid: u32,
    /// Effective uid, the second (process-exporter's `{{.Username}}`).
    pub euid: u32,
    pub voluntary_ctxt_switches: u64,
    pub nonvoluntary_ctxt_switches: u64,
    /// `VmSwap:` in bytes; absent for kernel threads and zombies (no mm).
    pub vm_swap: Option<u64>,
}

/// Parses /proc/<pid>/status. `Uid:` and both `*ctxt_switches:` lines are required.
pub fn parse_status(text: &str) -> Result<Status<'_>, ParseError> {
    let (mut name, mut uid, mut vol, mut nonvol, mut swap) = (None, None, None, None, None);
    let (mut state, mut euid) = (None, None);
    let bytes = text.as_bytes();
    let (mut at, mut n) = (0, 0);
    while at < bytes.len() {
        n += 1;
        let rest = bytes.get(at..).unwrap_or(&[]);
        let len = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let start = at;
        at += len + 1;
        // Of status's ~56 lines only six are wanted: the others are passed over by their first
        // bytes, compared in place (a call to memcmp per line and prefix was a fifth of this
        // function's time at 2,000 sleepers, the line iterator another).
        if !matches!(
            rest,
            [b'N', b'a', ..]
                | [b'S', b't', ..]
                | [b'U', b'i', ..]
                | [b'V', b'm', b'S', b'w', ..]
                | [b'v', b'o', ..]
                | [b'n', b'o', ..]
        ) {
            continue;
        }
        let line = text.get(start..start + len).unwrap_or("");
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "Name" => name = Some(value),
            "State" => state = value.bytes().next(),
            "Uid" => {
                let mut ids = value.split_ascii_whitespace();
                uid = Some(u32_at(ids.next().unwrap_or(""), n, "the real uid on Uid:")?);
                // Before 2.6.? the line had one number; then the real uid is the effective one.
                euid = match ids.next() {
                    Some(e) => Some(u32_at(e, n, "the effective uid on Uid:")?),
                    None => uid,
                };
            }
            "voluntary_ctxt_switches" => vol = Some(u64_at(value, n, key)?),
            "nonvoluntary_ctxt_switches" => nonvol = Some(u64_at(value, n, key)?),
            "VmSwap" => swap = Some(kb_bytes(value, n, key)?),
            _ => {}
        }
    }
    let uid = uid.ok_or_else(|| missing("Uid:", text))?;
    Ok(Status {
        name,
        state,
        uid,
        euid: euid.unwrap_or(uid),
        voluntary_ctxt_switches: vol.ok_or_else(|| missing("voluntary_ctxt_switches:", text))?,
        nonvoluntary_ctxt_switches: nonvol
            .ok_or_else(|| missing("nonvoluntary_ctxt_switches:", text))?,
        vm_swap: swap,
    })
}

/// /proc/<pid>/io (CONFIG_TASK_IO_ACCOUNTING). Readable only by the owner or with ptrace rights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Io {
    pub rchar: u64,
    pub wchar: u64,
    pub syscr: u64,
    pub syscw: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub cancelled_write_bytes: u64,
}

/// Parses /proc/<pid>/io; all seven keys are required.
pub fn parse_io(text: &str) -> Result<Io, ParseError> {
    const KEYS: [&str; 7] = [
        "rchar",
        "wchar",
        "syscr",
        "syscw",
        "read_bytes",
        "write_bytes",
        "cancelled_write_bytes",
    ];
    let mut v = [None::<u64>; 7];
    for (i, line) in text.lines().enumerate() {
        let Some((key, value)) = line.split_once(':') else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(ParseError::new(
                i + 1,
                format!("expected \"key: value\", found {:?}", clip(line)),
            ));
        };
        if let Some(k) = KEYS.iter().position(|k| *k == key) {
            if let Some(slot) = v.get_mut(k) {
                *slot = Some(u64_at(value.trim(), i + 1, key)?);
            }
        }
    }
    let mut out = [0u64; 7];
    for ((o, got), key) in out.iter_mut().zip(v).zip(KEYS) {
        *o = got.ok_or_else(|| missing(key, text))?;
    }
    let [rchar, wchar, syscr, syscw, read_bytes, write_bytes, cancelled_write_bytes] = out;
    Ok(Io {
        rchar,
        wchar,
        syscr,
        syscw,
        read_bytes,
        write_bytes,
        cancelled_write_bytes,
    })
}

/// The counters of /proc/<pid>/sched (CONFIG_SCHED_DEBUG) the collector uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sched {
    /// From the header line `comm (pid, #threads: n)`, in the reader's pid namespace.
    pub pid: u32,
    pub threads: u64,
    /// `se.sum_exec_runtime`, printed in ms with 6 decimals, kept as exact nanoseconds.
    pub sum_exec_runtime_ns: u64,
    pub nr_migrations: u64,
    pub nr_switches: u64,
    pub nr_voluntary_switches: u64,
    pub nr_involuntary_switches: u64,
    /// Total time spent runnable but waiting for a CPU, in ns. Only printed while schedstats
    /// are on (CONFIG_SCHEDSTATS and, since 4.6, sysctl kernel.sched_schedstats=1). Its key
    /// was `se.wait_sum` before 2.6.36, `se.statistics.wait_sum` from 2.6.36 to 5.14 and
    /// `wait_sum` since 5.15 (stats moved to `p->stats`); all three are accepted.
    pub wait_sum_ns: Option<u64>,
}

/// Parses /proc/<pid>/sched. Layout (kernel/sched/debug.c, `proc_sched_show_task`):
/// a header `comm (pid, #threads: n)`, a dashed rule, then `key : value` lines padded to
/// column 46; ms values are `%Ld.%06ld`. Lines without a colon (NUMA details) are skipped.
pub fn parse_sched(text: &str) -> Result<Sched, ParseError> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let (pid, threads) = sched_header(header).ok_or_else(|| {
        ParseError::new(
            1,
            format!(
                "expected \"comm (pid, #threads: n)\", found {:?}",
                clip(header)
            ),
        )
    })?;
    let pid = u32_at(pid, 1, "pid")?;
    let threads = u64_at(threads, 1, "#threads")?;
    let (mut run, mut mig, mut sw, mut vol, mut invol, mut wait) =
        (None, None, None, None, None, None);
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim_end(), value.trim());
        match key {
            "se.sum_exec_runtime" => run = Some(ms_ns(value, n, key)?),
            "se.nr_migrations" => mig = Some(u64_at(value, n, key)?),
            "nr_switches" => sw = Some(u64_at(value, n, key)?),
            "nr_voluntary_switches" => vol = Some(u64_at(value, n, key)?),
            "nr_involuntary_switches" => invol = Some(u64_at(value, n, key)?),
            "wait_sum" | "se.statistics.wait_sum" | "se.wait_sum" => {
                wait = Some(ms_ns(value, n, key)?)
            }
            _ => {}
        }
    }
    Ok(Sched {
        pid,
        threads,
        sum_exec_runtime_ns: run.ok_or_else(|| missing("se.sum_exec_runtime", text))?,
        nr_migrations: mig.ok_or_else(|| missing("se.nr_migrations", text))?,
        nr_switches: sw.ok_or_else(|| missing("nr_switches", text))?,
        nr_voluntary_switches: vol.ok_or_else(|| missing("nr_voluntary_switches", text))?,
        nr_involuntary_switches: invol.ok_or_else(|| missing("nr_involuntary_switches", text))?,
        wait_sum_ns: wait,
    })
}

/// `comm (pid, #threads: n)` → (pid, n). comm may contain ` (`, so split at the last one.
fn sched_header(line: &str) -> Option<(&str, &str)> {
    let inner = line.trim_end().strip_suffix(')')?;
    let (_, inner) = inner.rsplit_once(" (")?;
    let (pid, threads) = inner.split_once(", #threads:")?;
    Some((pid.trim(), threads.trim()))
}

/// `1234.567890` (ms, as `SPLIT_NS` prints it) → 1_234_567_890 ns, exactly, without floats.
fn ms_ns(s: &str, line: usize, what: &str) -> Result<u64, ParseError> {
    let bad = || {
        ParseError::new(
            line,
            format!("expected milliseconds like 12.345678 for {what}, found {s:?}"),
        )
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let int: u64 = int.parse().map_err(|_| bad())?;
    let mut ns: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    for _ in frac.len()..6 {
        ns *= 10;
    }
    int.checked_mul(1_000_000)
        .and_then(|v| v.checked_add(ns))
        .ok_or_else(bad)
}

/// /proc/<pid>/smaps_rollup (4.14+), in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SmapsRollup {
    pub rss: u64,
    pub pss: u64,
    pub swap: u64,
    /// `SwapPss` (4.3+; 0 when absent), process-exporter's `proportionalSwapped`.
    pub swap_pss: u64,
    /// Unique set size: `Private_Clean + Private_Dirty`.
    pub uss: u64,
}

/// Parses /proc/<pid>/smaps_rollup. The kernel refuses the read (ESRCH) for tasks without an
/// mm (kernel threads, zombies), so an empty text is an error here, not zeros.
pub fn parse_smaps_rollup(text: &str) -> Result<SmapsRollup, ParseError> {
    let (mut rss, mut pss, mut swap, mut pc, mut pd) = (None, None, None, None, None);
    let mut swap_pss = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match key {
            "Rss" => &mut rss,
            "Pss" => &mut pss,
            "Swap" => &mut swap,
            "SwapPss" => &mut swap_pss,
            "Private_Clean" => &mut pc,
            "Private_Dirty" => &mut pd,
            _ => continue,
        };
        *slot = Some(kb_bytes(value.trim(), n, key)?);
    }
    let rss = rss.ok_or_else(|| missing("Rss:", text))?;
    let pss = pss.ok_or_else(|| missing("Pss:", text))?;
    let swap = swap.ok_or_else(|| missing("Swap:", text))?;
    let pc = pc.ok_or_else(|| missing("Private_Clean:", text))?;
    let pd = pd.ok_or_else(|| missing("Private_Dirty:", text))?;
    Ok(SmapsRollup {
        rss,
        pss,
        swap,
        swap_pss: swap_pss.unwrap_or(0),
        uss: pc.saturating_add(pd),
    })
}

/// The soft limit on `Max open files` from /proc/<pid>/limits. `unlimited` is `u64::MAX`
/// (as prometheus/procfs reads it), so `open / limit` is ~0 without a special case.
pub fn parse_limits_max_open_files(text: &str) -> Result<u64, ParseError> {
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix("Max open files") else {
            continue;
        };
        let soft = rest.split_ascii_whitespace().next().unwrap_or("");
        if soft == "unlimited" {
            return Ok(u64::MAX);
        }
        return u64_at(soft, i + 1, "the soft limit of Max open files");
    }
    Err(missing("Max open files", text))
}

/// The 64-hex container id in /proc/<pid>/cgroup, if the process runs in a container of
/// docker, containerd (also under Kubernetes), cri-o or podman, for cgroup v1 and v2:
/// `/docker/<id>`, `/system.slice/docker-<id>.scope`, `/kubepods/burstable/pod<uid>/<id>`,
/// `.../cri-containerd-<id>.scope`, `.../crio-<id>.scope`, `/machine.slice/libpod-<id>.scope/container`.
/// The conmon monitors (`crio-conmon-<id>.scope`, `libpod-conmon-<id>.scope`) run outside the
/// container and get none. The first line naming an id wins; within a path, the innermost.
pub fn container_id(cgroup_text: &str) -> Option<&str> {
    cgroup_text.lines().find_map(|line| {
        // hierarchy-ID:controller-list:path; the path may itself contain ':'.
        let mut parts = line.splitn(3, ':');
        let path = parts.nth(2)?;
        path.rsplit('/').find_map(segment_container_id)
    })
}

fn segment_container_id(seg: &str) -> Option<&str> {
    let seg = seg.strip_suffix(".scope").unwrap_or(seg);
    let (prefix, id) = match seg.rsplit_once('-') {
        Some((prefix, id)) => (prefix, id),
        None => ("", seg),
    };
    if prefix.contains("conmon") {
        return None;
    }
    (id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(id)
}

/// The cgroup path of each line of /proc/<pid>/cgroup (`hierarchy-ID:controllers:path`), in
/// file order, as process-exporter's `{{.Cgroups}}` lists them.
pub fn cgroup_paths(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter_map(|line| line.splitn(3, ':').nth(2))
}

/// The inode of an fd symlink target `socket:[12345]`; None for files, pipes, anon inodes.
pub fn socket_inode(link_target: &str) -> Option<u64> {
    link_target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Which of /proc/net/{tcp,tcp6,udp,udp6} a table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Tcp6,
    Udp,
    Udp6,
}

impl Proto {
    pub const ALL: [Proto; 4] = [Proto::Tcp, Proto::Tcp6, Proto::Udp, Proto::Udp6];

    /// The file name under /proc/net.
    pub fn file(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Tcp6 => "tcp6",
            Proto::Udp => "udp",
            Proto::Udp6 => "udp6",
        }
    }

    pub fn is_tcp(self) -> bool {
        matches!(self, Proto::Tcp | Proto::Tcp6)
    }

    /// Hex digits of the address in `local_address`.
    fn addr_len(self) -> usize {
        match self {
            Proto::Tcp | Proto::Udp => 8,
            Proto::Tcp6 | Proto::Udp6 => 32,
        }
    }
}

/// TCP_LISTEN in include/net/tcp_states.h.
pub const TCP_LISTEN: u8 = 0x0A;
/// TCP_CLOSE: what an unconnected (bound) UDP socket shows.
pub const TCP_CLOSE: u8 = 0x07;

/// One row of a /proc/net socket table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Socket {
    pub proto: Proto,
    pub local_port: u16,
    /// `st`, a `TCP_*` state from include/net/tcp_states.h (UDP reuses them).
    pub state: u8,
    pub inode: u64,
}

impl Socket {
    /// A listening TCP socket, or a UDP socket bound to a port and not connected.
    pub fn is_listening(&self) -> bool {
        if self.proto.is_tcp() {
            self.state == TCP_LISTEN
        } else {
            self.state == TCP_CLOSE && self.local_port != 0
        }
    }
}

/// Rows of /proc/net/{tcp,tcp6,udp,udp6}. The first error ends the iteration.
pub fn parse_net_sockets(text: &str, proto: Proto) -> NetSockets<'_> {
    NetSockets {
        lines: text.lines(),
        proto,
        line: 0,
        done: false,
    }
}

pub struct NetSockets<'a> {
    lines: std::str::Lines<'a>,
    proto: Proto,
    line: usize,
    done: bool,
}

impl Iterator for NetSockets<'_> {
    type Item = Result<Socket, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let Some(line) = self.lines.next() else {
                self.done = true;
                if self.line == 0 {
                    return Some(Err(ParseError::new(
                        1,
                        "expected a header line starting with \"sl\", found an empty file",
                    )));
                }
                return None;
            };
            self.line += 1;
            if self.line == 1 {
                if line.trim_start().starts_with("sl") {
                    continue;
                }
                self.done = true;
                return Some(Err(ParseError::new(
                    1,
                    format!(
                        "expected a header line starting with \"sl\", found {:?}",
                        clip(line)
                    ),
                )));
            }
            if line.trim().is_empty() {
                continue;
            }
            let r = socket_row(line, self.line, self.proto);
            self.done = r.is_err();
            return Some(r);
        }
    }
}

fn socket_row(line: &str, n: usize, proto: Proto) -> Result<Socket, ParseError> {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    let mut f = line.split_ascii_whitespace();
    let (Some(_sl), Some(local), Some(st), Some(inode)) = (f.next(), f.next(), f.nth(1), f.nth(5))
    else {
        return Err(ParseError::new(
            n,
            format!("expected at least 10 fields, found {}", field_count(line)),
        ));
    };
    let port = match local.split_once(':') {
        Some((addr, port)) if addr.len() == proto.addr_len() && port.len() == 4 => {
            u16::from_str_radix(port, 16).ok()
        }
        _ => None,
    };
    let Some(local_port) = port else {
        return Err(ParseError::new(
            n,
            format!(
                "expected a local address of {} hex digits, ':' and a 4-digit hex port, found {local:?}",
                proto.addr_len()
            ),
        ));
    };
    let state = match st.len() {
        2 => u8::from_str_radix(st, 16).ok(),
        _ => None,
    };
    let Some(state) = state else {
        return Err(ParseError::new(
            n,
            format!("expected a 2-digit hex state, found {st:?}"),
        ));
    };
    let inode = u64_at(inode, n, "inode")?;
    Ok(Socket {
        proto,
        local_port,
        state,
        inode,
    })
}

/// (name, uid) for each well-formed line of /etc/passwd; comments, blank lines, NIS `+`/`-`
/// entries and lines without a numeric uid are skipped (an odd line must not hide the rest).
pub fn parse_passwd(text: &str) -> impl Iterator<Item = (&str, u32)> {
    text.lines().filter_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        if name.is_empty()
            || name.starts_with(['#', '+', '-'])
            || name.contains(char::is_whitespace)
        {
            return None;
        }
        let uid = f.nth(1)?.parse().ok()?;
        Some((name, uid))
    })
}

/// /proc/<pid>/comm without its newline (the collector takes comm from stat).
#[allow(dead_code)]
pub fn parse_comm(text: &str) -> &str {
    text.strip_suffix('\n').unwrap_or(text)
}

/// The basename of argv[0] from /proc/<pid>/cmdline (NUL-separated, usually NUL-terminated),
/// as process-exporter's `ExeBase` computes it with Go's `filepath.Base`: trailing NULs are
/// dropped, then argv[0] is everything up to the first NUL, trailing `/` are ignored, and the
/// part after the last `/` is returned (`-bash` stays `-bash`; an empty argv[0] is `.`).
///
/// None when the cmdline is empty (kernel threads, zombies): process-exporter then uses comm.
/// Also None when argv[0] is not UTF-8, so the caller falls back to comm there as well.
/// Processes that rewrite their title (`postgres: checkpointer`, `nginx: master process
/// /usr/sbin/nginx`) often have no NUL at all; the whole title is then argv[0], as for Go.
pub fn argv0_basename(cmdline: &[u8]) -> Option<&str> {
    let end = cmdline.iter().rposition(|&b| b != 0)?;
    let trimmed = cmdline.get(..=end)?;
    let argv0 = trimmed.split(|&b| b == 0).next()?;
    let argv0 = std::str::from_utf8(argv0).ok()?;
    if argv0.is_empty() {
        return Some(".");
    }
    let stripped = argv0.trim_end_matches('/');
    if stripped.is_empty() {
        return Some("/");
    }
    Some(stripped.rsplit('/').next().unwrap_or(stripped))
}

fn u32_at(s: &str, line: usize, what: &str) -> Result<u32, ParseError> {
    let v = u64_at(s, line, what)?;
    u32::try_from(v).map_err(|_| {
        ParseError::new(
            line,
            format!("expected a 32-bit unsigned integer for {what}, found {s:?}"),
        )
    })
}

/// `  1234 kB` → bytes.
fn kb_bytes(value: &str, line: usize, what: &str) -> Result<u64, ParseError> {
    let num = value.strip_suffix("kB").map(str::trim_end);
    let Some(num) = num else {
        return Err(ParseError::new(
            line,
            format!("expected \"<n> kB\" for {what}, found {value:?}"),
        ));
    };
    let kb = u64_at(num, line, what)?;
    kb.checked_mul(1024).ok_or_else(|| {
        ParseError::new(
            line,
            format!("{what} of {kb} kB does not fit in 64 bits as bytes"),
        )
    })
}

/// A required key was not found: the error points past the last line read.
fn missing(key: &str, text: &str) -> ParseError {
    let lines = text.lines().count();
    let found = if lines == 0 {
        "an empty file".to_string()
    } else {
        format!("{lines} lines without it")
    };
    ParseError::new(
        lines + 1,
        format!("expected a line starting with {key:?}, found {found}"),
    )
}

fn field_count(line: &str) -> usize {
    line.split_ascii_whitespace().count()
}

/// At most 60 bytes of a line for an error message.
fn clip(line: &str) -> &str {
    let mut end = line.len().min(60);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err<T: std::fmt::Debug>(r: Result<T, ParseError>) -> String {
        r.unwrap_err().to_string()
    }

    // Captured on this build VM (kernel 6.18, `cat /proc/self/stat`).
    const STAT_CAT_KERNEL_6_18: &str = "13762 (cat) R 13751 13751 11872 0 -1 4194304 97 0 0 0 0 0 0 0 20 0 1 0 125306 3133440 365 18446744073709551615 94176185487360 94176185507241 140730085730064 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94176185523248 94176185524864 94177141207040 140730085731024 140730085731044 140730085731044 140730085732331 0\n";

    #[test]
    fn stat_cat_kernel_6_18() {
        let s = parse_stat(STAT_CAT_KERNEL_6_18).unwrap();
        assert_eq!(
            s,
            Stat {
                pid: 13762,
                comm: "cat",
                state: b'R',
                ppid: 13751,
                flags: 4194304,
                minflt: 97,
                majflt: 0,
                utime: 0,
                stime: 0,
                priority: 20,
                nice: 0,
                num_threads: 1,
                starttime: 125306,
                vsize: 3133440,
                rss: 365,
            }
        );
        assert!(!s.is_kernel_thread());
        assert_eq!(state_bucket(s.state), "Running");
    }

    #[test]
    fn stat_kthreadd_kernel_6_18() {
        let s = parse_stat("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 24 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n").unwrap();
        assert_eq!((s.pid, s.comm, s.ppid, s.starttime), (2, "kthreadd", 0, 24));
        assert!(s.is_kernel_thread());
        assert_eq!((s.vsize, s.rss), (0, 0));
    }

    #[test]
    fn stat_comm_with_spaces_and_parentheses() {
        let s = parse_stat("1999 (my (weird) name) S 1 1999 1999 0 -1 4194560 1200 0 3 0 250 75 0 0 20 0 3 0 4200 224903168 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 2 0 0 0 0 0\n").unwrap();
        assert_eq!(s.comm, "my (weird) name");
        assert_eq!((s.state, s.ppid, s.minflt, s.majflt), (b'S', 1, 1200, 3));
        assert_eq!((s.utime, s.stime, s.num_threads, s.rss), (250, 75, 3, 2048));
        let s =
            parse_stat("7 (a) b) Z 1 7 7 0 -1 4227148 0 0 0 0 1 2 0 0 20 0 1 0 99 0 0").unwrap();
        assert_eq!((s.comm, s.state, s.starttime), ("a) b", b'Z', 99));
        assert_eq!(state_bucket(s.state), "Zombie");
        let s = parse_stat("8 () S 1 8 8 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0").unwrap();
        assert_eq!(s.comm, "");
    }

    #[test]
    fn stat_realtime_and_niced_signed_fields() {
        // A SCHED_FIFO rt priority 50 task shows priority -51; a niced one nice 19 / priority 39.
        let s =
            parse_stat("15 (migration/0) S 2 0 0 0 -1 69238848 0 0 0 0 0 33 0 0 -100 0 1 0 3 0 0")
                .unwrap();
        assert_eq!((s.priority, s.nice, s.stime), (-100, 0, 33));
        let s =
            parse_stat("900 (khugepaged) S 2 0 0 0 -1 2129984 0 0 0 0 0 9 0 0 39 19 1 0 88 0 0")
                .unwrap();
        assert_eq!((s.priority, s.nice), (39, 19));
        let s = parse_stat("901 (x) S 2 0 0 0 -1 0 0 0 0 0 0 9 0 0 0 -20 1 0 88 0 0").unwrap();
        assert_eq!(s.nice, -20);
    }

    #[test]
    fn stat_errors() {
        assert_eq!(
            err(parse_stat("")),
            "line 1: expected \"pid (comm) state ...\", found \"\""
        );
        assert_eq!(
            err(parse_stat("garbage")),
            "line 1: expected \"pid (comm) state ...\", found \"garbage\""
        );
        assert_eq!(
            err(parse_stat("1 )x( S 0")),
            "line 1: expected \"pid (comm) state ...\""
        );
        // Truncated after starttime: vsize and rss missing.
        assert_eq!(
            err(parse_stat(
                "1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 5"
            )),
            "line 1: expected at least 22 fields after comm, found 20"
        );
        assert_eq!(
            err(parse_stat(
                "x (init) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0"
            )),
            "line 1: expected an unsigned integer for pid, found \"x\""
        );
        assert_eq!(
            err(parse_stat(
                "1 (init) SS 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0"
            )),
            "line 1: expected a one-letter state after comm, found \"SS\""
        );
        assert_eq!(
            err(parse_stat(
                "1 (init) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 zero 1 0 5 0 0"
            )),
            "line 1: expected an integer for nice, found \"zero\""
        );
        assert_eq!(
            err(parse_stat(
                "99999999999 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0"
            )),
            "line 1: expected a 32-bit unsigned integer for pid, found \"99999999999\""
        );
    }

    const STATUS_CAT_KERNEL_6_18: &str = "\
Name:\tcat
Umask:\t0022
State:\tR (running)
Tgid:\t12861
Ngid:\t0
Pid:\t12861
PPid:\t12849
TracerPid:\t0
Uid:\t1000\t1001\t1002\t1003
Gid:\t0\t0\t0\t0
FDSize:\t256
Groups:\t 
NStgid:\t12861
NSpid:\t12861
NSpgid:\t12849
NSsid:\t11872
Kthread:\t0
VmPeak:\t    3060 kB
VmSize:\t    3060 kB
VmLck:\t       0 kB
VmPin:\t       0 kB
VmHWM:\t    1732 kB
VmRSS:\t    1732 kB
RssAnon:\t     108 kB
RssFile:\t    1624 kB
RssShmem:\t       0 kB
VmData:\t     360 kB
VmStk:\t     132 kB
VmExe:\t      20 kB
VmLib:\t    1528 kB
VmPTE:\t      48 kB
VmSwap:\t     112 kB
HugetlbPages:\t       0 kB
CoreDumping:\t0
THP_enabled:\t1
untag_mask:\t0xffffffffffffffff
Threads:\t1
SigQ:\t0/96365
Cpus_allowed_list:\t0-1
Mems_allowed_list:\t0
voluntary_ctxt_switches:\t7
nonvoluntary_ctxt_switches:\t1
";

    #[test]
    fn status_cat_kernel_6_18() {
        // uid edited to tell the four Uid: columns apart.
        let s = parse_status(STATUS_CAT_KERNEL_6_18).unwrap();
        assert_eq!(
            s,
            Status {
                name: Some("cat"),
                state: Some(b'R'),
                uid: 1000,
                euid: 1001,
                voluntary_ctxt_switches: 7,
                nonvoluntary_ctxt_switches: 1,
                vm_swap: Some(112 * 1024),
            }
        );
    }

    #[test]
    fn status_kernel_thread_debian12_6_1_has_no_vmswap() {
        let text = "Name:\tkworker/0:1H-kblockd\nUmask:\t0000\nState:\tI (idle)\nTgid:\t85\nPid:\t85\nPPid:\t2\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t1\nvoluntary_ctxt_switches:\t123456789012\nnonvoluntary_ctxt_switches:\t3\n";
        let s = parse_status(text).unwrap();
        assert_eq!(s.name, Some("kworker/0:1H-kblockd"));
        assert_eq!((s.uid, s.vm_swap), (0, None));
        assert_eq!(s.voluntary_ctxt_switches, 123456789012);
        assert_eq!(s.state, Some(b'I'));
    }

    #[test]
    fn status_errors() {
        assert_eq!(
            err(parse_status("")),
            "line 1: expected a line starting with \"Uid:\", found an empty file"
        );
        assert_eq!(
            err(parse_status("Name:\tx\nUid:\tabc\t0\t0\t0\n")),
            "line 2: expected an unsigned integer for the real uid on Uid:, found \"abc\""
        );
        assert_eq!(
            err(parse_status("Name:\tx\nUid:\t0\t0\t0\t0\nVmSwap:\t12 MB\n")),
            "line 3: expected \"<n> kB\" for VmSwap, found \"12 MB\""
        );
        // Truncated before the context switches.
        assert_eq!(
            err(parse_status("Name:\tx\nUid:\t0\t0\t0\t0\n")),
            "line 3: expected a line starting with \"voluntary_ctxt_switches:\", found 2 lines without it"
        );
    }

    const IO_CAT_KERNEL_6_18: &str = "\
rchar: 6976
wchar: 0
syscr: 10
syscw: 0
read_bytes: 0
write_bytes: 0
cancelled_write_bytes: 0
";

    #[test]
    fn io_cat_kernel_6_18_and_a_busy_database() {
        let io = parse_io(IO_CAT_KERNEL_6_18).unwrap();
        assert_eq!((io.rchar, io.syscr, io.wchar), (6976, 10, 0));
        let io = parse_io("rchar: 18446744073709551615\nwchar: 9007199254740993\nsyscr: 4294967296\nsyscw: 5\nread_bytes: 123456789012345\nwrite_bytes: 4096\ncancelled_write_bytes: 8192\n").unwrap();
        assert_eq!(
            io,
            Io {
                rchar: u64::MAX,
                wchar: 9007199254740993,
                syscr: 4294967296,
                syscw: 5,
                read_bytes: 123456789012345,
                write_bytes: 4096,
                cancelled_write_bytes: 8192,
            }
        );
    }

    #[test]
    fn io_errors() {
        assert_eq!(
            err(parse_io("")),
            "line 1: expected a line starting with \"rchar\", found an empty file"
        );
        assert_eq!(
            err(parse_io("rchar: 1\nwchar: 2\nsyscr: 3\n")),
            "line 4: expected a line starting with \"syscw\", found 3 lines without it"
        );
        assert_eq!(
            err(parse_io("rchar: 1\nwchar -2\n")),
            "line 2: expected \"key: value\", found \"wchar -2\""
        );
        assert_eq!(
            err(parse_io("rchar: 1\nwchar: -2\n")),
            "line 2: expected an unsigned integer for wchar, found \"-2\""
        );
    }

    // Captured on this build VM: kernel 6.18, CONFIG_SCHEDSTATS off (no wait_sum).
    const SCHED_PROCESS_API_KERNEL_6_18: &str = "\
process_api (1, #threads: 13)
-------------------------------------------------------------------
se.exec_start                                :       1373444.003009
se.vruntime                                  :        301757.473829
se.sum_exec_runtime                          :           183.127796
se.nr_migrations                             :                   76
nr_switches                                  :                  406
nr_voluntary_switches                        :                  377
nr_involuntary_switches                      :                   29
se.load.weight                               :              9777152
se.avg.load_sum                              :                   30
se.avg.runnable_sum                          :                29696
se.avg.util_sum                              :                29696
se.avg.load_avg                              :                    0
se.avg.runnable_avg                          :                    0
se.avg.util_avg                              :                    0
se.avg.last_update_time                      :        1373444002816
se.avg.util_est                              :                    8
policy                                       :                    0
prio                                         :                  110
se.slice                                     :              1400000
clock-delta                                  :                   70
mm->numa_scan_seq                            :                    0
numa_pages_migrated                          :                    0
numa_preferred_nid                           :                   -1
total_numa_faults                            :                    0
current_node=0, numa_group_id=0
numa_faults node=0 task_private=0 task_shared=0 group_private=0 group_shared=0
";
    // Written from kernel/sched/debug.c of each version (P: "%-45s:%21Ld", PN: "%-45s:%14Ld.%06ld").
    const SCHED_DEBIAN10_4_19_NO_SCHEDSTATS: &str = "\
kworker/u8:2-events_unbound (4711, #threads: 1)
-------------------------------------------------------------------
se.exec_start                                :       1234000.000000
se.vruntime                                  :           900.000000
se.sum_exec_runtime                          :         98765.432109
se.nr_migrations                             :                    3
nr_switches                                  :               120456
nr_voluntary_switches                        :               120000
nr_involuntary_switches                      :                  456
se.load.weight                               :              1048576
se.avg.load_sum                              :                 4120
se.avg.runnable_load_sum                     :                 4120
se.avg.util_sum                              :              4219904
se.avg.load_avg                              :                   88
se.avg.runnable_load_avg                     :                   88
se.avg.util_avg                              :                   88
se.avg.last_update_time                      :        1234000000000
policy                                       :                    0
prio                                         :                  120
clock-delta                                  :                   40
";
    const SCHED_UBUNTU20_5_4_SCHEDSTATS: &str = "\
postgres (812, #threads: 1)
-------------------------------------------------------------------
se.exec_start                                :       1234000.000000
se.vruntime                                  :           900.000000
se.sum_exec_runtime                          :          5123.456789
se.nr_migrations                             :                  210
se.statistics.sum_sleep_runtime              :         35864.197523
se.statistics.wait_start                     :             0.000000
se.statistics.sleep_start                    :             0.000000
se.statistics.block_start                    :             0.000000
se.statistics.sleep_max                      :             0.000000
se.statistics.block_max                      :             0.000000
se.statistics.exec_max                       :             4.012345
se.statistics.slice_max                      :             3.000000
se.statistics.wait_max                       :             2.501234
se.statistics.wait_sum                       :          2345.678901
se.statistics.wait_count                     :                94693
se.statistics.iowait_sum                     :            12.345678
se.statistics.iowait_count                   :                   17
se.statistics.nr_migrations_cold             :                    0
se.statistics.nr_failed_migrations_affine    :                    0
se.statistics.nr_failed_migrations_running   :                    0
se.statistics.nr_failed_migrations_hot       :                    0
se.statistics.nr_forced_migrations           :                    0
se.statistics.nr_wakeups                     :                90123
se.statistics.nr_wakeups_sync                :                    0
se.statistics.nr_wakeups_migrate             :                    0
se.statistics.nr_wakeups_local               :                    0
se.statistics.nr_wakeups_remote              :                    0
se.statistics.nr_wakeups_affine              :                    0
se.statistics.nr_wakeups_affine_attempts     :                    0
se.statistics.nr_wakeups_passive             :                    0
se.statistics.nr_wakeups_idle                :                    0
avg_atom                                     :             0.054107
avg_per_cpu                                  :            24.397413
nr_switches                                  :                94690
nr_voluntary_switches                        :                90123
nr_involuntary_switches                      :                 4567
se.load.weight                               :              1048576
se.avg.load_sum                              :                 4120
se.avg.runnable_load_sum                     :                 4120
se.avg.util_sum                              :              4219904
se.avg.load_avg                              :                   88
se.avg.runnable_load_avg                     :                   88
se.avg.util_avg                              :                   88
se.avg.last_update_time                      :        1234000000000
se.avg.util_est.ewma                         :                   91
se.avg.util_est.enqueued                     :                   88
policy                                       :                    0
prio                                         :                  120
clock-delta                                  :                   40
mm->numa_scan_seq                            :                    0
numa_pages_migrated                          :                    0
numa_preferred_nid                           :                   -1
total_numa_faults                            :                    0
current_node=0, numa_group_id=0
numa_faults node=0 task_private=0 task_shared=0 group_private=0 group_shared=0
";
    const SCHED_DEBIAN12_6_1_SCHEDSTATS: &str = "\
my (weird) name (1999, #threads: 3)
-------------------------------------------------------------------
se.exec_start                                :       1234000.000000
se.vruntime                                  :           900.000000
se.sum_exec_runtime                          :          1234.567890
se.nr_migrations                             :                   12
sum_sleep_runtime                            :          8641.975230
sum_block_runtime                            :             0.000000
wait_start                                   :             0.000000
sleep_start                                  :             0.000000
block_start                                  :             0.000000
sleep_max                                    :             0.000000
block_max                                    :             0.000000
exec_max                                     :             4.012345
slice_max                                    :             3.000000
wait_max                                     :             2.501234
wait_sum                                     :            98.765432
wait_count                                   :                 3537
iowait_sum                                   :            12.345678
iowait_count                                 :                   17
nr_migrations_cold                           :                    0
nr_failed_migrations_affine                  :                    0
nr_failed_migrations_running                 :                    0
nr_failed_migrations_hot                     :                    0
nr_forced_migrations                         :                    0
nr_wakeups                                   :                 3456
nr_wakeups_sync                              :                    0
nr_wakeups_migrate                           :                    0
nr_wakeups_local                             :                    0
nr_wakeups_remote                            :                    0
nr_wakeups_affine                            :                    0
nr_wakeups_affine_attempts                   :                    0
nr_wakeups_passive                           :                    0
nr_wakeups_idle                              :                    0
avg_atom                                     :             0.349340
avg_per_cpu                                  :           102.880657
core_forceidle_sum                           :             0.000000
nr_switches                                  :                 3534
nr_voluntary_switches                        :                 3456
nr_involuntary_switches                      :                   78
se.load.weight                               :              1048576
se.avg.load_sum                              :                 4120
se.avg.runnable_sum                          :              4219904
se.avg.util_sum                              :              4219904
se.avg.load_avg                              :                   88
se.avg.runnable_avg                          :                   88
se.avg.util_avg                              :                   88
se.avg.last_update_time                      :        1234000000000
se.avg.util_est.ewma                         :                   91
se.avg.util_est.enqueued                     :                   88
policy                                       :                    0
prio                                         :                  120
clock-delta                                  :                   40
mm->numa_scan_seq                            :                    0
numa_pages_migrated                          :                    0
numa_preferred_nid                           :                   -1
total_numa_faults                            :                    0
current_node=0, numa_group_id=0
numa_faults node=0 task_private=0 task_shared=0 group_private=0 group_shared=0
";

    #[test]
    fn sched_process_api_kernel_6_18() {
        let s = parse_sched(SCHED_PROCESS_API_KERNEL_6_18).unwrap();
        assert_eq!(
            s,
            Sched {
                pid: 1,
                threads: 13,
                sum_exec_runtime_ns: 183_127_796,
                nr_migrations: 76,
                nr_switches: 406,
                nr_voluntary_switches: 377,
                nr_involuntary_switches: 29,
                wait_sum_ns: None,
            }
        );
    }

    #[test]
    fn sched_debian10_4_19_no_schedstats() {
        let s = parse_sched(SCHED_DEBIAN10_4_19_NO_SCHEDSTATS).unwrap();
        assert_eq!((s.pid, s.threads), (4711, 1));
        assert_eq!(s.sum_exec_runtime_ns, 98_765_432_109);
        assert_eq!((s.nr_migrations, s.nr_switches), (3, 120456));
        assert_eq!(
            (s.nr_voluntary_switches, s.nr_involuntary_switches),
            (120000, 456)
        );
        assert_eq!(s.wait_sum_ns, None);
    }

    #[test]
    fn sched_ubuntu20_5_4_schedstats() {
        let s = parse_sched(SCHED_UBUNTU20_5_4_SCHEDSTATS).unwrap();
        assert_eq!((s.pid, s.sum_exec_runtime_ns), (812, 5_123_456_789));
        assert_eq!(s.wait_sum_ns, Some(2_345_678_901));
        assert_eq!((s.nr_migrations, s.nr_switches), (210, 94690));
    }

    #[test]
    fn sched_debian12_6_1_schedstats() {
        let s = parse_sched(SCHED_DEBIAN12_6_1_SCHEDSTATS).unwrap();
        assert_eq!((s.pid, s.threads), (1999, 3));
        assert_eq!(s.sum_exec_runtime_ns, 1_234_567_890);
        assert_eq!(s.wait_sum_ns, Some(98_765_432));
        assert_eq!(
            (s.nr_voluntary_switches, s.nr_involuntary_switches),
            (3456, 78)
        );
    }

    #[test]
    fn sched_centos6_2_6_32_old_wait_sum_key() {
        let text = "\
sshd (1042, #threads: 1)
---------------------------------------------------------
se.exec_start                      :     123456789.123456
se.vruntime                        :        112233.445566
se.sum_exec_runtime                :          9007199254.740993
se.wait_start                      :             0.000000
se.wait_sum                        :            17.000001
se.nr_migrations                   :                   44
nr_switches                        :                 1000
nr_voluntary_switches              :                  990
nr_involuntary_switches            :                   10
";
        let s = parse_sched(text).unwrap();
        // 9007199254.740993 ms is more than 2^53 ns: exact only without floats.
        assert_eq!(s.sum_exec_runtime_ns, 9_007_199_254_740_993);
        assert_eq!(s.wait_sum_ns, Some(17_000_001));
        assert_eq!(s.nr_migrations, 44);
    }

    #[test]
    fn sched_ms_to_ns_is_exact() {
        assert_eq!(ms_ns("0.000000", 1, "x"), Ok(0));
        assert_eq!(ms_ns("1234.567890", 1, "x"), Ok(1_234_567_890));
        assert_eq!(ms_ns("0.000001", 1, "x"), Ok(1));
        assert_eq!(ms_ns("7", 1, "x"), Ok(7_000_000));
        assert_eq!(ms_ns("7.5", 1, "x"), Ok(7_500_000));
        assert_eq!(ms_ns("18446744073709.551615", 1, "x"), Ok(u64::MAX));
        assert_eq!(
            ms_ns("18446744073709.551616", 4, "x")
                .unwrap_err()
                .to_string(),
            "line 4: expected milliseconds like 12.345678 for x, found \"18446744073709.551616\""
        );
        for bad in ["", ".5", "-1.000000", "1.0000001", "1.2.3", "1e3", "1. 5"] {
            assert!(ms_ns(bad, 1, "x").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sched_errors() {
        assert_eq!(
            err(parse_sched("")),
            "line 1: expected \"comm (pid, #threads: n)\", found \"\""
        );
        assert_eq!(
            err(parse_sched("garbage\n")),
            "line 1: expected \"comm (pid, #threads: n)\", found \"garbage\""
        );
        assert_eq!(
            err(parse_sched("x (12, #threads: many)\n")),
            "line 1: expected an unsigned integer for #threads, found \"many\""
        );
        // Truncated after the header and rule.
        assert_eq!(
            err(parse_sched("x (12, #threads: 1)\n-----\n")),
            "line 3: expected a line starting with \"se.sum_exec_runtime\", found 2 lines without it"
        );
        let bad = SCHED_PROCESS_API_KERNEL_6_18.replace("183.127796", "183,127796");
        assert_eq!(
            err(parse_sched(&bad)),
            "line 5: expected milliseconds like 12.345678 for se.sum_exec_runtime, found \"183,127796\""
        );
    }

    // Captured on this build VM (kernel 6.18, `cat /proc/self/smaps_rollup`).
    const SMAPS_ROLLUP_CAT_KERNEL_6_18: &str = "\
5575e5ecd000-7ffc8ba50000 ---p 00000000 00:00 0                          [rollup]
Rss:                1736 kB
Pss:                 348 kB
Pss_Dirty:           116 kB
Pss_Anon:            116 kB
Pss_File:            232 kB
Pss_Shmem:             0 kB
Shared_Clean:       1580 kB
Shared_Dirty:          0 kB
Private_Clean:        40 kB
Private_Dirty:       116 kB
Referenced:         1736 kB
Anonymous:           116 kB
KSM:                   0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:       0 kB
Swap:                 64 kB
SwapPss:               0 kB
Locked:                0 kB
";

    #[test]
    fn smaps_rollup_cat_kernel_6_18() {
        assert_eq!(
            parse_smaps_rollup(SMAPS_ROLLUP_CAT_KERNEL_6_18).unwrap(),
            SmapsRollup {
                rss: 1736 * 1024,
                pss: 348 * 1024,
                swap: 64 * 1024,
                swap_pss: 0,
                uss: (40 + 116) * 1024,
            }
        );
    }

    #[test]
    fn smaps_rollup_errors() {
        assert_eq!(
            err(parse_smaps_rollup("")),
            "line 1: expected a line starting with \"Rss:\", found an empty file"
        );
        assert_eq!(
            err(parse_smaps_rollup("Rss: 12 kB\nPss: x kB\n")),
            "line 2: expected an unsigned integer for Pss, found \"x\""
        );
        assert_eq!(
            err(parse_smaps_rollup("Rss: 18014398509481984 kB\n")),
            "line 1: Rss of 18014398509481984 kB does not fit in 64 bits as bytes"
        );
        let cut = SMAPS_ROLLUP_CAT_KERNEL_6_18.get(..300).unwrap();
        assert!(err(parse_smaps_rollup(cut)).contains("expected a line starting with \"Swap:\""));
    }

    const LIMITS_CAT_KERNEL_6_18: &str = "\
Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max data size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max core file size        0                    unlimited            bytes     
Max resident set          unlimited            unlimited            bytes     
Max processes             96365                96365                processes 
Max open files            20000                524288               files     
Max locked memory         8388608              8388608              bytes     
Max address space         unlimited            unlimited            bytes     
Max file locks            unlimited            unlimited            locks     
Max pending signals       96365                96365                signals   
Max msgqueue size         819200               819200               bytes     
Max nice priority         0                    0                    
Max realtime priority     0                    0                    
Max realtime timeout      unlimited            unlimited            us        
";

    #[test]
    fn limits_cat_kernel_6_18() {
        assert_eq!(
            parse_limits_max_open_files(LIMITS_CAT_KERNEL_6_18),
            Ok(20000)
        );
        let unlimited = LIMITS_CAT_KERNEL_6_18.replace(
            "Max open files            20000    ",
            "Max open files            unlimited",
        );
        assert_eq!(parse_limits_max_open_files(&unlimited), Ok(u64::MAX));
    }

    #[test]
    fn limits_errors() {
        assert_eq!(
            err(parse_limits_max_open_files("")),
            "line 1: expected a line starting with \"Max open files\", found an empty file"
        );
        assert_eq!(
            err(parse_limits_max_open_files("Limit Soft\nMax open files    lots   lots files\n")),
            "line 2: expected an unsigned integer for the soft limit of Max open files, found \"lots\""
        );
        assert_eq!(
            err(parse_limits_max_open_files("Limit Soft\nMax open files\n")),
            "line 2: expected an unsigned integer for the soft limit of Max open files, found \"\""
        );
    }

    const ID: &str = "3f9a5c2e8b7d41e6a0c9f8e7d6b5a4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7";

    #[test]
    fn cgroup_v1_docker_ubuntu18() {
        let text = format!(
            "12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n2:cpu,cpuacct:/docker/{ID}\n1:name=systemd:/docker/{ID}\n0::/system.slice/containerd.service\n"
        );
        assert_eq!(container_id(&text), Some(ID));
    }

    #[test]
    fn cgroup_v2_docker_systemd_driver_debian12() {
        let text = format!("0::/system.slice/docker-{ID}.scope\n");
        assert_eq!(container_id(&text), Some(ID));
    }

    #[test]
    fn cgroup_v1_kubepods_cgroupfs_containerd() {
        let text = format!(
            "11:cpuset:/kubepods/burstable/pod0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/{ID}\n1:name=systemd:/kubepods/burstable/pod0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/{ID}\n"
        );
        assert_eq!(container_id(&text), Some(ID));
    }

    #[test]
    fn cgroup_v2_kubepods_systemd_containerd() {
        let text = format!(
            "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/cri-containerd-{ID}.scope\n"
        );
        assert_eq!(container_id(&text), Some(ID));
    }

    #[test]
    fn cgroup_crio_v1_and_v2_and_conmon() {
        let v2 = format!("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podabc.slice/crio-{ID}.scope\n");
        assert_eq!(container_id(&v2), Some(ID));
        let v1 = format!("4:memory:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podabc.slice/crio-{ID}.scope\n");
        assert_eq!(container_id(&v1), Some(ID));
        let conmon = format!("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podabc.slice/crio-conmon-{ID}.scope\n");
        assert_eq!(container_id(&conmon), None);
    }

    #[test]
    fn cgroup_podman_v1_and_v2() {
        let v2 = format!("0::/machine.slice/libpod-{ID}.scope/container\n");
        assert_eq!(container_id(&v2), Some(ID));
        let v2_rootless = format!(
            "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope\n"
        );
        assert_eq!(container_id(&v2_rootless), Some(ID));
        let v1 = format!("10:memory:/machine.slice/libpod-{ID}.scope\n1:name=systemd:/machine.slice/libpod-{ID}.scope\n");
        assert_eq!(container_id(&v1), Some(ID));
        let conmon = format!("0::/machine.slice/libpod-conmon-{ID}.scope\n");
        assert_eq!(container_id(&conmon), None);
    }

    #[test]
    fn cgroup_not_in_a_container() {
        // This VM (v1 + v2 hybrid, all at the root).
        let here = "9:name=systemd:/\n8:pids:/\n4:memory:/\n1:cpu:/\n0::/\n";
        assert_eq!(container_id(here), None);
        assert_eq!(container_id("0::/system.slice/docker.service\n"), None);
        assert_eq!(container_id("0::/system.slice/ssh.service\n"), None);
        assert_eq!(
            container_id("0::/user.slice/user-1000.slice/session-3.scope\n"),
            None
        );
        assert_eq!(container_id("0::/init.scope\n"), None);
        assert_eq!(container_id(""), None);
        assert_eq!(container_id("garbage"), None);
        // 63 hex digits, upper case, or 64 non-hex characters are not ids.
        assert_eq!(
            container_id(&format!("0::/docker/{}\n", ID.get(1..).unwrap())),
            None
        );
        assert_eq!(
            container_id(&format!("0::/docker/{}\n", ID.to_uppercase())),
            None
        );
        assert_eq!(
            container_id(&format!("0::/docker/{}\n", "z".repeat(64))),
            None
        );
    }

    #[test]
    fn fd_link_socket_inode() {
        assert_eq!(socket_inode("socket:[40001]"), Some(40001));
        assert_eq!(
            socket_inode("socket:[18446744073709551615]"),
            Some(u64::MAX)
        );
        assert_eq!(socket_inode("/dev/null"), None);
        assert_eq!(socket_inode("pipe:[123]"), None);
        assert_eq!(socket_inode("anon_inode:[eventpoll]"), None);
        assert_eq!(socket_inode("socket:[]"), None);
        assert_eq!(socket_inode("socket:[12"), None);
        assert_eq!(socket_inode(""), None);
    }

    // Header and first rows captured on this build VM (kernel 6.18), more rows added by hand.
    const NET_TCP_KERNEL_6_18: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 628 1 000000007c75a999 100 0 0 10 0                       
   1: 0100007F:90D6 0100007F:58E6 06 00000000:00000000 03:00000D70 00000000     0        0 0 3 000000004fad7c9a                                      
   2: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   108        0 40001 1 0000000000000000 100 0 0 10 0
   3: 0A00000A:0016 0A000001:D431 01 00000000:00000000 02:000A7B1C 00000000     0        0 4294967296 4 0000000000000000 20 4 29 10 -1
";

    #[test]
    fn net_tcp_kernel_6_18() {
        let got: Vec<Socket> = parse_net_sockets(NET_TCP_KERNEL_6_18, Proto::Tcp)
            .map(Result::unwrap)
            .collect();
        let ports: Vec<(u16, u8, u64, bool)> = got
            .iter()
            .map(|s| (s.local_port, s.state, s.inode, s.is_listening()))
            .collect();
        assert_eq!(
            ports,
            [
                (2024, 0x0A, 628, true),
                (37078, 0x06, 0, false),
                (5432, 0x0A, 40001, true),
                (22, 0x01, 4294967296, false),
            ]
        );
        assert!(got.iter().all(|s| s.proto == Proto::Tcp));
    }

    #[test]
    fn net_tcp6_debian12_6_1() {
        let text = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 40011 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 52100 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000A00000A:0016 0000000000000000FFFF00000100000A:C350 01 00000000:00000000 02:00012E4C 00000000     0        0 61234 2 0000000000000000 20 4 30 10 -1
";
        let got: Vec<(u16, bool, u64)> = parse_net_sockets(text, Proto::Tcp6)
            .map(|r| r.map(|s| (s.local_port, s.is_listening(), s.inode)))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            got,
            [(80, true, 40011), (8080, true, 52100), (22, false, 61234)]
        );
    }

    #[test]
    fn net_udp_and_udp6_debian12_6_1() {
        let udp = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
  305: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 40031 2 0000000000000000 0         
  612: 0A00000A:D68E 08080808:0035 01 00000000:00000000 00:00000000 00000000     0        0 70001 2 0000000000000000 0         
  999: 00000000:0000 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 70002 2 0000000000000000 3         
";
        let got: Vec<(u16, u8, bool)> = parse_net_sockets(udp, Proto::Udp)
            .map(|r| r.map(|s| (s.local_port, s.state, s.is_listening())))
            .collect::<Result<_, _>>()
            .unwrap();
        // Bound :53; a connected client socket (01); an unbound socket (port 0) is not listening.
        assert_eq!(
            got,
            [(53, 0x07, true), (54926, 0x01, false), (0, 0x07, false)]
        );
        let udp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  305: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 40032 2 0000000000000000 0
";
        let s = parse_net_sockets(udp6, Proto::Udp6)
            .next()
            .unwrap()
            .unwrap();
        assert_eq!((s.local_port, s.inode, s.is_listening()), (53, 40032, true));
        assert_eq!(Proto::Udp6.file(), "udp6");
    }

    #[test]
    fn net_sockets_header_only_and_errors() {
        let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        assert_eq!(parse_net_sockets(header, Proto::Tcp).count(), 0);
        let e: Vec<String> = parse_net_sockets("", Proto::Tcp)
            .map(|r| r.unwrap_err().to_string())
            .collect();
        assert_eq!(
            e,
            ["line 1: expected a header line starting with \"sl\", found an empty file"]
        );
        let e = parse_net_sockets("garbage\n", Proto::Tcp)
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: expected a header line starting with \"sl\", found \"garbage\""
        );
        // Truncated row; the iterator stops after the first error.
        let text = format!("{header}   0: 00000000:07E8 00000000:0000 0A 00000000:00000000\n   1: 00000000:0016 00000000:0000 0A 0:0 0:0 0 0 0 7 1\n");
        let all: Vec<_> = parse_net_sockets(&text, Proto::Tcp).collect();
        assert_eq!(all.len(), 1);
        assert_eq!(
            all.into_iter().next().unwrap().unwrap_err().to_string(),
            "line 2: expected at least 10 fields, found 5"
        );
        // An IPv6 row read as IPv4.
        let v6row = format!("{header}   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 40011 1\n");
        assert_eq!(
            parse_net_sockets(&v6row, Proto::Tcp).next().unwrap().unwrap_err().to_string(),
            "line 2: expected a local address of 8 hex digits, ':' and a 4-digit hex port, found \"00000000000000000000000000000000:0050\""
        );
        let badstate =
            format!("{header}   0: 00000000:0050 00000000:0000 LISTEN 0:0 0:0 0 0 0 40011 1\n");
        assert_eq!(
            parse_net_sockets(&badstate, Proto::Tcp)
                .next()
                .unwrap()
                .unwrap_err()
                .to_string(),
            "line 2: expected a 2-digit hex state, found \"LISTEN\""
        );
        let badinode = format!("{header}   0: 00000000:0050 00000000:0000 0A 0:0 0:0 0 0 0 x 1\n");
        assert_eq!(
            parse_net_sockets(&badinode, Proto::Tcp)
                .next()
                .unwrap()
                .unwrap_err()
                .to_string(),
            "line 2: expected an unsigned integer for inode, found \"x\""
        );
    }

    #[test]
    fn passwd_debian12_with_odd_lines() {
        let text = "\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment:x:5:5::/:
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin

broken line without colons
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
baduid:x:minus1:0::/:
+@netgroup::::::
truncated:x
postgres:x:108:115:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash
big:x:4294967294:4294967294::/:
toobig:x:4294967296:0::/:
";
        let got: Vec<(&str, u32)> = parse_passwd(text).collect();
        assert_eq!(
            got,
            [
                ("root", 0),
                ("daemon", 1),
                ("www-data", 33),
                ("nobody", 65534),
                ("postgres", 108),
                ("big", 4294967294),
            ]
        );
        assert_eq!(parse_passwd("").count(), 0);
    }

    #[test]
    fn comm_file() {
        assert_eq!(parse_comm("postgres\n"), "postgres");
        assert_eq!(parse_comm("my (weird) name\n"), "my (weird) name");
        assert_eq!(parse_comm(""), "");
    }

    #[test]
    fn cmdline_argv0_basename_like_process_exporter() {
        assert_eq!(
            argv0_basename(b"/usr/bin/python3\0/opt/app/run.py\0--port\08080\0"),
            Some("python3")
        );
        assert_eq!(argv0_basename(b"-bash\0"), Some("-bash"));
        assert_eq!(
            argv0_basename(b"sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"),
            Some("sshd -D [listener] 0 of 10-100 startups")
        );
        assert_eq!(
            argv0_basename(b"postgres: checkpointer \0\0\0\0"),
            Some("postgres: checkpointer ")
        );
        assert_eq!(argv0_basename(b"java\0-Xmx1G\0kafka.Kafka\0"), Some("java"));
        assert_eq!(argv0_basename(b"/usr/sbin/nginx"), Some("nginx"));
        assert_eq!(argv0_basename(b"/opt/app/\0x\0"), Some("app"));
        assert_eq!(argv0_basename(b"///\0"), Some("/"));
        assert_eq!(argv0_basename(b"\0x\0"), Some("."));
        assert_eq!(argv0_basename(b""), None);
        assert_eq!(argv0_basename(b"\0\0"), None);
        assert_eq!(argv0_basename(b"\xff\xfe\0"), None);
    }

    /// Every fixture PID parses, and its files agree with each other and with /proc/net.
    #[test]
    fn fixture_pids_parse_and_agree() {
        use std::fs;
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
        let read = |rel: &str| fs::read_to_string(format!("{root}/{rel}")).ok();
        let uptime = read("proc/uptime").unwrap();
        let uptime_ticks: f64 = uptime.split(' ').next().unwrap().parse::<f64>().unwrap() * 100.0;
        let mut listening = Vec::new();
        for proto in Proto::ALL {
            let text = read(&format!("proc/net/{}", proto.file())).unwrap();
            for s in parse_net_sockets(&text, proto) {
                let s = s.unwrap();
                if s.is_listening() {
                    listening.push((s.inode, proto.file(), s.local_port));
                }
            }
        }
        let passwd = read("etc/passwd").unwrap();
        let users: Vec<(&str, u32)> = parse_passwd(&passwd).collect();
        let mut seen = Vec::new();
        for pid in [
            57, 612, 700, 812, 815, 816, 818, 901, 902, 903, 1205, 1500, 1600, 1777, 1999,
        ] {
            let dir = format!("proc/{pid}");
            let stat_text = read(&format!("{dir}/stat")).unwrap();
            let stat = parse_stat(&stat_text).unwrap();
            let status_text = read(&format!("{dir}/status")).unwrap();
            let status = parse_status(&status_text).unwrap();
            let sched = parse_sched(&read(&format!("{dir}/sched")).unwrap()).unwrap();
            let comm_text = read(&format!("{dir}/comm")).unwrap();
            assert_eq!(stat.pid, pid);
            assert_eq!(parse_comm(&comm_text), stat.comm);
            assert_eq!(status.name, Some(stat.comm));
            assert!((stat.starttime as f64) < uptime_ticks, "{pid}");
            assert_eq!(sched.nr_voluntary_switches, status.voluntary_ctxt_switches);
            assert_eq!(
                sched.nr_involuntary_switches,
                status.nonvoluntary_ctxt_switches
            );
            assert_eq!(sched.threads, stat.num_threads);
            assert!(sched.wait_sum_ns.is_some());
            assert!(
                parse_limits_max_open_files(&read(&format!("{dir}/limits")).unwrap()).unwrap()
                    >= 768
            );
            let kthread = stat.is_kernel_thread();
            let zombie = stat.state == b'Z';
            assert_eq!(status.vm_swap.is_none(), kthread || zombie, "{pid}");
            assert_eq!(read(&format!("{dir}/io")).is_none(), zombie, "{pid}");
            if let Some(io) = read(&format!("{dir}/io")) {
                parse_io(&io).unwrap();
            }
            match read(&format!("{dir}/smaps_rollup")) {
                Some(t) => {
                    let sm = parse_smaps_rollup(&t).unwrap();
                    assert_eq!(sm.rss, stat.rss * 4096, "{pid}");
                    assert!(sm.uss <= sm.pss.max(sm.rss));
                }
                None => assert!(kthread || zombie),
            }
            let cmdline = fs::read(format!("{root}/{dir}/cmdline")).unwrap();
            assert_eq!(
                argv0_basename(&cmdline).is_none(),
                kthread || zombie,
                "{pid}"
            );
            let cgroup = read(&format!("{dir}/cgroup")).unwrap();
            assert_eq!(container_id(&cgroup).is_some(), pid == 1500, "{pid}");
            if let Ok(fds) = fs::read_dir(format!("{root}/{dir}/fd")) {
                for fd in fds {
                    let target = fs::read_link(fd.unwrap().path()).unwrap();
                    let Some(inode) = socket_inode(target.to_str().unwrap()) else {
                        continue;
                    };
                    for (i, proto, port) in &listening {
                        if *i == inode {
                            seen.push((stat.comm.to_string(), *proto, *port));
                        }
                    }
                }
            }
            if status.uid != 999 {
                assert!(users.iter().any(|(_, u)| *u == status.uid), "{pid}");
            }
        }
        seen.sort();
        seen.dedup();
        let seen: Vec<(&str, &str, u16)> =
            seen.iter().map(|(c, p, n)| (c.as_str(), *p, *n)).collect();
        assert_eq!(
            seen,
            [
                ("java", "tcp6", 9092),
                ("nginx", "tcp", 80),
                ("nginx", "tcp", 443),
                ("nginx", "tcp6", 80),
                ("postgres", "tcp", 5432),
                ("postgres", "tcp6", 5432),
                ("sshd", "tcp", 22),
                ("sshd", "tcp6", 22),
                ("systemd-resolve", "tcp", 53),
                ("systemd-resolve", "udp", 53),
            ]
        );
    }
}
