//! The pure logic of the namedprocess collector, tested on numbers instead of /proc: group names,
//! per-group sums with the totals of exited members, and top-N selection.
use std::fmt;

/// What `--group-by` may combine; the parts of a group name are joined with `/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// comm, as /proc/<pid>/comm shows it (process-exporter's `{{.Comm}}`).
    Name,
    /// The user name of the real uid (numeric when /etc/passwd does not know it).
    User,
    /// The basename of argv[0] (comm when the command line is empty).
    Cmdline,
    /// The classification, `group/subgroup`.
    Class,
}

impl GroupBy {
    pub fn parse(s: &str) -> Option<GroupBy> {
        match s {
            "name" => Some(GroupBy::Name),
            "user" => Some(GroupBy::User),
            "cmdline" => Some(GroupBy::Cmdline),
            "class" => Some(GroupBy::Class),
            _ => None,
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GroupBy::Name => "name",
            GroupBy::User => "user",
            GroupBy::Cmdline => "cmdline",
            GroupBy::Class => "class",
        })
    }
}

/// What a process contributes to the parts of a group name.
pub struct Identity<'a> {
    pub comm: &'a str,
    pub user: &'a str,
    pub argv0: Option<&'a str>,
    pub class: (&'a str, &'a str),
}

/// Writes the group name of a process into `out` (cleared first).
pub fn group_name(by: &[GroupBy], id: &Identity, out: &mut String) {
    out.clear();
    for (i, part) in by.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        match part {
            GroupBy::Name => out.push_str(id.comm),
            GroupBy::User => out.push_str(id.user),
            GroupBy::Cmdline => out.push_str(id.argv0.unwrap_or(id.comm)),
            GroupBy::Class => {
                out.push_str(id.class.0);
                out.push('/');
                out.push_str(id.class.1);
            }
        }
    }
}

/// The monotonic counters of one process (cpu in clock ticks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub utime: u64,
    pub stime: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub majflt: u64,
    pub minflt: u64,
    pub voluntary_ctxt: u64,
    pub nonvoluntary_ctxt: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.utime = self.utime.saturating_add(o.utime);
        self.stime = self.stime.saturating_add(o.stime);
        self.read_bytes = self.read_bytes.saturating_add(o.read_bytes);
        self.write_bytes = self.write_bytes.saturating_add(o.write_bytes);
        self.majflt = self.majflt.saturating_add(o.majflt);
        self.minflt = self.minflt.saturating_add(o.minflt);
        self.voluntary_ctxt = self.voluntary_ctxt.saturating_add(o.voluntary_ctxt);
        self.nonvoluntary_ctxt = self.nonvoluntary_ctxt.saturating_add(o.nonvoluntary_ctxt);
    }

    /// What grew since `prev`; a counter that went backwards contributes 0.
    pub fn since(&self, prev: &Counters) -> Counters {
        Counters {
            utime: self.utime.saturating_sub(prev.utime),
            stime: self.stime.saturating_sub(prev.stime),
            read_bytes: self.read_bytes.saturating_sub(prev.read_bytes),
            write_bytes: self.write_bytes.saturating_sub(prev.write_bytes),
            majflt: self.majflt.saturating_sub(prev.majflt),
            minflt: self.minflt.saturating_sub(prev.minflt),
            voluntary_ctxt: self.voluntary_ctxt.saturating_sub(prev.voluntary_ctxt),
            nonvoluntary_ctxt: self
                .nonvoluntary_ctxt
                .saturating_sub(prev.nonvoluntary_ctxt),
        }
    }
}

/// process-exporter's state buckets, in output order.
pub const STATES: [&str; 5] = ["Other", "Running", "Sleeping", "Waiting", "Zombie"];

/// Index into [`STATES`] of a /proc/<pid>/stat state letter.
pub fn state_index(state: u8) -> usize {
    let bucket = super::parse::state_bucket(state);
    STATES.iter().position(|s| *s == bucket).unwrap_or(0)
}

/// The gauges of one process in this scrape, as a group sums them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Member {
    pub rss: u64,
    pub vsize: u64,
    pub swap: u64,
    pub pss: u64,
    /// `SwapPss` of smaps_rollup.
    pub swap_pss: u64,
    pub open_fds: u64,
    /// Soft `Max open files`; `u64::MAX` when unlimited or unknown.
    pub fd_limit: u64,
    pub threads: u64,
    pub state: u8,
    /// The states of its threads (/proc/<pid>/task/*) when it has more than one, which
    /// process-exporter counts in `states` besides the process's own.
    pub thread_states: [u32; 5],
    /// Clock ticks after boot.
    pub starttime: u64,
}

/// Sums over the members of a group present in this scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gauges {
    pub num_procs: u64,
    pub rss: u64,
    pub vsize: u64,
    pub swap: u64,
    pub pss: u64,
    pub swap_pss: u64,
    pub open_fds: u64,
    pub worst_fd_ratio: f64,
    /// Earliest start in clock ticks after boot; None without members.
    pub oldest_start: Option<u64>,
    pub threads: u64,
    pub states: [u64; 5],
}

/// A thread name (comm, at most 15 bytes for a user thread) without an allocation; ordered
/// as its text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Comm {
    len: u8,
    bytes: [u8; 15],
}

impl Comm {
    /// The first 15 bytes of `name` (only kernel threads have longer names, and they have one
    /// thread).
    pub fn new(name: &str) -> Comm {
        let mut c = Comm::default();
        let mut n = name.len().min(c.bytes.len());
        while !name.is_char_boundary(n) {
            n -= 1;
        }
        if let (Some(dst), Some(src)) = (c.bytes.get_mut(..n), name.as_bytes().get(..n)) {
            dst.copy_from_slice(src);
        }
        c.len = n as u8;
        c
    }

    pub fn as_str(&self) -> &str {
        let b = self.bytes.get(..usize::from(self.len)).unwrap_or(&[]);
        std::str::from_utf8(b).unwrap_or("")
    }
}

impl Ord for Comm {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Comm {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The threads of a group that share a name (process-exporter's `threadname`).
#[derive(Debug, Clone, Copy)]
pub struct ThreadName {
    pub name: Comm,
    /// Threads with this name in this scrape.
    pub count: u64,
    /// Everything they did while seen under this name.
    pub acc: Counters,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    /// The last counters of members that have exited: kept so the group's counters never drop.
    pub exited: Counters,
    /// The counters of this scrape's members.
    pub live: Counters,
    pub gauges: Gauges,
    /// Threads waiting in each wait channel in this scrape, indexed by [`Wchans`] id.
    pub wchans: Vec<u64>,
    /// Sorted by name; a name without threads in a scrape is forgotten, as process-exporter
    /// does (thread names such as `pool-3-thread-17` come and go).
    pub threads: Vec<ThreadName>,
}

impl Group {
    /// What the group exports: exited members plus the current ones.
    pub fn total(&self) -> Counters {
        let mut t = self.exited;
        t.add(&self.live);
        t
    }
}

/// Every group seen since start. Groups are never dropped (like process-exporter), so their
/// counters stay monotonic when the last member exits and a new one starts.
#[derive(Debug, Default)]
pub struct Groups {
    list: Vec<Group>,
    /// Indices into `list`, sorted by name: the output order.
    order: Vec<u32>,
}

impl Groups {
    /// The index of the group called `name`, created if new (the only allocation here).
    pub fn index_of(&mut self, name: &str) -> u32 {
        let list = &self.list;
        match self
            .order
            .binary_search_by(|&i| list.get(i as usize).map_or("", |g| &g.name).cmp(name))
        {
            Ok(pos) => self.order.get(pos).copied().unwrap_or(0),
            Err(pos) => {
                let i = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
                self.list.push(Group {
                    name: name.to_string(),
                    exited: Counters::default(),
                    live: Counters::default(),
                    gauges: Gauges::default(),
                    wchans: Vec::new(),
                    threads: Vec::new(),
                });
                self.order.insert(pos, i);
                i
            }
        }
    }

    /// Starts a scrape: no members yet.
    pub fn begin(&mut self) {
        for g in &mut self.list {
            g.live = Counters::default();
            g.gauges = Gauges::default();
            g.wchans.iter_mut().for_each(|n| *n = 0);
            g.threads.iter_mut().for_each(|t| t.count = 0);
        }
    }

    /// Ends a scrape's sums: thread names without threads are forgotten; with
    /// `remove_empty` (process-exporter's -remove-empty-groups) a group without members is
    /// hidden and its counters start again from 0 when a member comes back.
    pub fn end(&mut self, remove_empty: bool) {
        for g in &mut self.list {
            g.threads.retain(|t| t.count > 0);
            if remove_empty && g.gauges.num_procs == 0 {
                g.exited = Counters::default();
            }
        }
    }

    /// Counts a thread (or a process) waiting in wait channel `id` (0: none).
    pub fn add_wchan(&mut self, group: u32, id: u32) {
        let Some(g) = self.list.get_mut(group as usize).filter(|_| id > 0) else {
            return;
        };
        let i = id as usize;
        if g.wchans.len() <= i {
            g.wchans.resize(i + 1, 0);
        }
        if let Some(n) = g.wchans.get_mut(i) {
            *n += 1;
        }
    }

    /// Adds a thread of a multi-threaded member with what it did since the last scrape.
    pub fn add_thread(&mut self, group: u32, name: Comm, delta: &Counters) {
        let Some(g) = self.list.get_mut(group as usize) else {
            return;
        };
        let i = match g.threads.binary_search_by(|t| t.name.cmp(&name)) {
            Ok(i) => i,
            Err(i) => {
                g.threads.insert(
                    i,
                    ThreadName {
                        name,
                        count: 0,
                        acc: Counters::default(),
                    },
                );
                i
            }
        };
        if let Some(t) = g.threads.get_mut(i) {
            t.count += 1;
            t.acc.add(delta);
        }
    }

    /// Adds a member present in this scrape.
    pub fn add_member(&mut self, group: u32, c: &Counters, m: &Member) {
        let Some(g) = self.list.get_mut(group as usize) else {
            return;
        };
        g.live.add(c);
        let s = &mut g.gauges;
        s.num_procs += 1;
        s.rss = s.rss.saturating_add(m.rss);
        s.vsize = s.vsize.saturating_add(m.vsize);
        s.swap = s.swap.saturating_add(m.swap);
        s.pss = s.pss.saturating_add(m.pss);
        s.swap_pss = s.swap_pss.saturating_add(m.swap_pss);
        s.open_fds = s.open_fds.saturating_add(m.open_fds);
        s.threads = s.threads.saturating_add(m.threads);
        if m.fd_limit > 0 && m.fd_limit != u64::MAX {
            s.worst_fd_ratio = s.worst_fd_ratio.max(m.open_fds as f64 / m.fd_limit as f64);
        }
        s.oldest_start = Some(s.oldest_start.map_or(m.starttime, |t| t.min(m.starttime)));
        if let Some(n) = s.states.get_mut(state_index(m.state)) {
            *n += 1;
        }
        for (n, t) in s.states.iter_mut().zip(m.thread_states) {
            *n += u64::from(t);
        }
    }

    /// Keeps the last counters of a member that is gone (or whose PID was reused).
    pub fn exited(&mut self, group: u32, c: &Counters) {
        if let Some(g) = self.list.get_mut(group as usize) {
            g.exited.add(c);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The groups sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &Group> {
        self.order.iter().filter_map(|&i| self.list.get(i as usize))
    }
}

/// Wait channels (the kernel function a task sleeps in, /proc/<pid>/wchan) seen since start,
/// each with a small id; a few dozen kernel functions, so kept for good.
#[derive(Debug, Default)]
pub struct Wchans {
    /// Id `i` is `names[i - 1]`.
    names: Vec<String>,
    /// Ids sorted by name: the output order.
    order: Vec<u32>,
}

impl Wchans {
    /// The id of a wchan as the file reads; 0 for none (`0` or empty: running, or no symbol).
    pub fn id(&mut self, text: &str) -> u32 {
        let text = text.trim_end();
        if text.is_empty() || text == "0" {
            return 0;
        }
        let names = &self.names;
        let name_of = |id: u32| {
            (id as usize)
                .checked_sub(1)
                .and_then(|i| names.get(i))
                .map_or("", String::as_str)
        };
        match self.order.binary_search_by(|&id| name_of(id).cmp(text)) {
            Ok(pos) => self.order.get(pos).copied().unwrap_or(0),
            Err(pos) => {
                self.names.push(text.to_string());
                let id = u32::try_from(self.names.len()).unwrap_or(0);
                self.order.insert(pos, id);
                id
            }
        }
    }

    /// (name, id) in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u32)> {
        self.order
            .iter()
            .filter_map(|&id| Some((self.names.get((id as usize).checked_sub(1)?)?.as_str(), id)))
    }
}

/// Marks the indices of the `n` largest positive `values` in `selected` (ties go to the lower
/// index, i.e. the lower PID). A zero is never "top": an idle process is not in the CPU list.
pub fn mark_top_n(values: &[f64], n: usize, scratch: &mut Vec<(f64, u32)>, selected: &mut [bool]) {
    if n == 0 {
        return;
    }
    scratch.clear();
    for (i, &v) in values.iter().enumerate() {
        if v > 0.0 {
            scratch.push((v, u32::try_from(i).unwrap_or(u32::MAX)));
        }
    }
    let order = |a: &(f64, u32), b: &(f64, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if scratch.len() > n {
        scratch.select_nth_unstable_by(n - 1, order);
        scratch.truncate(n);
    }
    for &(_, i) in scratch.iter() {
        if let Some(s) = selected.get_mut(i as usize) {
            *s = true;
        }
    }
}

/// Marks, for every key, the indices of the `n` largest positive `values` among the entries
/// with that key (herakles' top N per subgroup); entries whose key is `None` take no part.
pub fn mark_top_n_per_key(
    keys: &[Option<u32>],
    values: &[f64],
    n: usize,
    scratch: &mut Vec<(u32, f64, u32)>,
    selected: &mut [bool],
) {
    if n == 0 {
        return;
    }
    scratch.clear();
    for (i, (k, &v)) in keys.iter().zip(values).enumerate() {
        if let (Some(k), true) = (k, v > 0.0) {
            scratch.push((*k, v, u32::try_from(i).unwrap_or(u32::MAX)));
        }
    }
    scratch.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(&b.2)));
    let mut run = (u32::MAX, 0usize);
    for &(k, _, i) in scratch.iter() {
        if k != run.0 {
            run = (k, 0);
        }
        if run.1 < n {
            if let Some(s) = selected.get_mut(i as usize) {
                *s = true;
            }
        }
        run.1 += 1;
    }
}

/// Percent of one CPU (100 = one full core) used between two readings; 0 when the counter went
/// backwards or no time passed.
pub fn percent(prev_ticks: u64, ticks: u64, user_hz: f64, seconds: f64) -> f64 {
    if ticks < prev_ticks || seconds <= 0.0 || user_hz <= 0.0 {
        return 0.0;
    }
    (ticks - prev_ticks) as f64 / user_hz / seconds * 100.0
}

/// Bytes per second between two readings; 0 when the counter went backwards or no time passed.
pub fn rate(prev: u64, now: u64, seconds: f64) -> f64 {
    if now < prev || seconds <= 0.0 {
        return 0.0;
    }
    (now - prev) as f64 / seconds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id<'a>(comm: &'a str, user: &'a str, argv0: Option<&'a str>) -> Identity<'a> {
        Identity {
            comm,
            user,
            argv0,
            class: ("db", "postgres"),
        }
    }

    #[test]
    fn group_names_join_parts_with_slashes() {
        let mut out = String::from("stale");
        let p = id("postgres", "postgres", Some("postgres"));
        group_name(&[GroupBy::Name], &p, &mut out);
        assert_eq!(out, "postgres");
        group_name(&[GroupBy::Name, GroupBy::User], &p, &mut out);
        assert_eq!(out, "postgres/postgres");
        group_name(&[GroupBy::Class, GroupBy::User], &p, &mut out);
        assert_eq!(out, "db/postgres/postgres");
        let z = id("sh", "1234", None);
        group_name(&[GroupBy::User, GroupBy::Cmdline], &z, &mut out);
        assert_eq!(
            out, "1234/sh",
            "a zombie's empty cmdline falls back to comm"
        );
        assert_eq!(GroupBy::parse("class"), Some(GroupBy::Class));
        assert_eq!(GroupBy::parse("comm"), None);
    }

    fn counters(utime: u64, read: u64) -> Counters {
        Counters {
            utime,
            stime: 1,
            read_bytes: read,
            ..Counters::default()
        }
    }

    fn member(state: u8, start: u64, fds: u64, limit: u64) -> Member {
        Member {
            rss: 4096,
            vsize: 8192,
            threads: 2,
            state,
            starttime: start,
            open_fds: fds,
            fd_limit: limit,
            ..Member::default()
        }
    }

    #[test]
    fn groups_sum_members_and_sort_by_name() {
        let mut g = Groups::default();
        let nginx = g.index_of("nginx");
        let bash = g.index_of("bash");
        assert_eq!(g.index_of("nginx"), nginx, "found, not created again");
        g.begin();
        g.add_member(nginx, &counters(10, 100), &member(b'S', 500, 10, 1024));
        g.add_member(nginx, &counters(5, 50), &member(b'R', 300, 512, 1024));
        g.add_member(bash, &counters(1, 0), &member(b'Z', 900, 0, u64::MAX));
        let names: Vec<&str> = g.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["bash", "nginx"]);
        let n = g.iter().nth(1).unwrap();
        assert_eq!(n.gauges.num_procs, 2);
        assert_eq!(n.gauges.rss, 8192);
        assert_eq!(n.gauges.threads, 4);
        assert_eq!(n.gauges.open_fds, 522);
        assert_eq!(n.gauges.worst_fd_ratio, 0.5);
        assert_eq!(n.gauges.oldest_start, Some(300));
        assert_eq!(n.gauges.states, [0, 1, 1, 0, 0]);
        assert_eq!(n.total().utime, 15);
        assert_eq!(n.total().read_bytes, 150);
        let b = g.iter().next().unwrap();
        assert_eq!(b.gauges.worst_fd_ratio, 0.0, "unlimited counts as no ratio");
        assert_eq!(b.gauges.states[4], 1);
    }

    #[test]
    fn counters_stay_monotonic_when_members_exit() {
        let mut g = Groups::default();
        let w = g.index_of("worker");
        let m = member(b'S', 1, 1, 1024);
        // Scrape 1: two workers.
        g.begin();
        g.add_member(w, &counters(100, 1000), &m);
        g.add_member(w, &counters(50, 500), &m);
        let first = g.iter().next().unwrap().total();
        // Scrape 2: the second one exited after its last reading, the first ran on.
        g.begin();
        g.exited(w, &counters(50, 500));
        g.add_member(w, &counters(101, 1001), &m);
        let second = g.iter().next().unwrap().total();
        assert_eq!(second.utime, 151);
        assert_eq!(second.read_bytes, 1501);
        assert!(second.utime >= first.utime && second.read_bytes >= first.read_bytes);
        // Scrape 3: nobody left; the group stays with its counters and no members.
        g.begin();
        g.exited(w, &counters(101, 1001));
        let third = g.iter().next().unwrap();
        assert_eq!(third.total().utime, 151);
        assert_eq!(third.gauges.num_procs, 0);
        assert_eq!(third.gauges.oldest_start, None);
    }

    #[test]
    fn top_n_per_list_skips_zero_and_breaks_ties_by_index() {
        let mut scratch = Vec::new();
        let mut sel = vec![false; 6];
        mark_top_n(&[0.0, 5.0, 1.0, 5.0, 9.0, 0.5], 2, &mut scratch, &mut sel);
        assert_eq!(
            sel,
            [false, true, false, false, true, false],
            "9, then the first 5"
        );
        let mut sel = vec![false; 3];
        mark_top_n(&[0.0, 0.0, 2.0], 5, &mut scratch, &mut sel);
        assert_eq!(sel, [false, false, true], "fewer positive values than n");
        let mut sel = vec![false; 3];
        mark_top_n(&[3.0, 2.0, 1.0], 0, &mut scratch, &mut sel);
        assert_eq!(sel, [false; 3]);
        // Union of lists: memory-heavy but idle process 0 is selected by the memory list.
        let mut sel = vec![false; 3];
        mark_top_n(&[0.0, 7.0, 0.0], 1, &mut scratch, &mut sel);
        mark_top_n(&[900.0, 1.0, 2.0], 1, &mut scratch, &mut sel);
        assert_eq!(sel, [true, true, false]);
    }

    #[test]
    fn top_n_per_key_takes_n_of_each_key() {
        let mut scratch = Vec::new();
        let mut sel = vec![false; 7];
        // keys: db db db web web (none) web
        let keys = [Some(1), Some(1), Some(1), Some(2), Some(2), None, Some(2)];
        let vals = [5.0, 9.0, 7.0, 0.0, 3.0, 100.0, 3.0];
        mark_top_n_per_key(&keys, &vals, 2, &mut scratch, &mut sel);
        assert_eq!(
            sel,
            [false, true, true, false, true, false, true],
            "db: 9 and 7; web: both 3s, not the 0; the keyless 100 takes no part"
        );
        let mut sel = vec![false; 7];
        mark_top_n_per_key(&keys, &vals, 1, &mut scratch, &mut sel);
        assert_eq!(
            sel,
            [false, true, false, false, true, false, false],
            "ties: lower index"
        );
    }

    #[test]
    fn threads_and_wchans_per_group() {
        let mut g = Groups::default();
        let java = g.index_of("java");
        let mut w = Wchans::default();
        let futex = w.id("futex_wait_queue\n");
        assert_eq!(w.id("0"), 0, "running: no wchan");
        assert_eq!(w.id(""), 0);
        let poll = w.id("do_sys_poll");
        assert_eq!(
            w.id("futex_wait_queue\n"),
            futex,
            "the same name, the same id"
        );
        let names: Vec<&str> = w.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["do_sys_poll", "futex_wait_queue"]);
        let c = |u| Counters {
            utime: u,
            ..Counters::default()
        };
        for scrape in 0..2 {
            g.begin();
            g.add_wchan(java, futex);
            g.add_wchan(java, futex);
            g.add_wchan(java, poll);
            g.add_wchan(java, 0);
            g.add_thread(java, Comm::new("C2 CompilerThread0"), &c(10));
            g.add_thread(java, Comm::new("GC Thread#0"), &c(3));
            g.add_thread(java, Comm::new("GC Thread#0"), &c(4));
            if scrape == 1 {
                g.add_thread(java, Comm::new("new"), &c(1));
            }
            g.end(false);
        }
        let grp = g.iter().next().unwrap();
        assert_eq!(grp.wchans[futex as usize], 2);
        assert_eq!(grp.wchans[poll as usize], 1);
        let t: Vec<(&str, u64, u64)> = grp
            .threads
            .iter()
            .map(|t| (t.name.as_str(), t.count, t.acc.utime))
            .collect();
        assert_eq!(
            t,
            [
                ("C2 CompilerThre", 1, 20),
                ("GC Thread#0", 2, 14),
                ("new", 1, 1)
            ],
            "comm is 15 bytes; counts per scrape, counters accumulated"
        );
        g.begin();
        g.add_thread(java, Comm::new("new"), &c(1));
        g.end(false);
        let names: Vec<&str> = g
            .iter()
            .next()
            .unwrap()
            .threads
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["new"], "names without threads are forgotten");
    }

    #[test]
    fn percent_and_rate() {
        assert_eq!(percent(100, 250, 100.0, 3.0), 50.0);
        assert_eq!(percent(100, 500, 100.0, 2.0), 200.0, "two cores");
        assert_eq!(percent(500, 100, 100.0, 2.0), 0.0, "backwards (PID reuse)");
        assert_eq!(percent(1, 2, 100.0, 0.0), 0.0);
        assert_eq!(rate(1000, 4000, 1.5), 2000.0);
        assert_eq!(rate(4000, 1000, 1.5), 0.0);
    }
}
