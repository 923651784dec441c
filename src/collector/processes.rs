//! `processes`: node_exporter's collector of that name (off by default) — not proctap's
//! process groups, which are the `namedprocess` collector. /proc/[pid]/stat and
//! /proc/[pid]/task/[tid]/stat → node_processes_pids, node_processes_threads (the sum of
//! `num_threads`), node_processes_state{state}, node_processes_threads_state{thread_state};
//! /proc/sys/kernel/pid_max and threads-max → node_processes_max_processes and
//! node_processes_max_threads, as node_exporter 1.5 reports them.
//!
//! A process or thread that exits between the listing and the read is skipped.
use std::fs::File;
use std::io::{self, Read};

use crate::collector::{Build, Collect, Collector, Ctx, Sources, What, ROOT_ONLY};
use crate::expo::{Encoder, Kind};
use crate::parse::u64_at;
use crate::source::{Error, NameList, ParseError, Root, Source, PROC_CAP};

/// The state letter (field 3) and `num_threads` (field 20) of a /proc/<pid>/stat line. The
/// command name in parentheses may hold any bytes, `)` and invalid UTF-8 included, so fields
/// count from the last `)`.
pub fn parse_stat(raw: &[u8]) -> Result<(u8, u64), ParseError> {
    let after = raw
        .iter()
        .rposition(|&b| b == b')')
        .and_then(|i| raw.get(i + 1..))
        .and_then(|rest| std::str::from_utf8(rest).ok())
        .ok_or_else(|| ParseError::new(1, "expected `pid (comm) state ...`"))?;
    let mut fields = after.split_ascii_whitespace();
    let state = match fields.next().map(str::as_bytes) {
        Some([c]) if c.is_ascii_alphabetic() => *c,
        other => {
            return Err(ParseError::new(
                1,
                format!(
                    "expected a one-letter state after the command name, found {:?}",
                    other.map(String::from_utf8_lossy).unwrap_or_default()
                ),
            ))
        }
    };
    // num_threads is the 17th field after the state.
    let threads = fields.nth(16).ok_or_else(|| {
        ParseError::new(
            1,
            "expected num_threads (field 20), found the end of the line",
        )
    })?;
    Ok((state, u64_at(threads, 1, "num_threads")?))
}

/// The numeric entries of /proc: the PIDs.
pub fn is_pid(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
}

pub const COLLECTOR: Collector = Collector {
    name: "processes",
    enabled_by_default: false,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[
            What::PerProcess("stat"),
            What::File(Root::Proc, "sys/kernel/pid_max"),
            What::File(Root::Proc, "sys/kernel/threads-max"),
        ],
        hint: ROOT_ONLY,
    },
    build: Build::New(|_| Ok(Box::<State>::default())),
};

/// Counts by state letter, and the buffers for task directories and stat files; kept between
/// scrapes.
pub struct State {
    procs: [u64; 128],
    threads: [u64; 128],
    tasks: NameList,
    /// The stat file being read (bytes: a command name need not be UTF-8).
    raw: Vec<u8>,
}

impl Default for State {
    fn default() -> Self {
        State {
            procs: [0; 128],
            threads: [0; 128],
            tasks: NameList::default(),
            raw: Vec::with_capacity(1024),
        }
    }
}

/// A file of a process that exited meanwhile: gone (ENOENT) or a dead task (ESRCH).
fn vanished_io(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH)
}

fn vanished(e: &Error) -> bool {
    matches!(e, Error::Io { err, .. } if vanished_io(err))
}

/// Reads the stat file `rel` into `raw`; false when the process or thread has gone.
fn read_stat(src: &mut Source, rel: &[&str], raw: &mut Vec<u8>) -> Result<bool, Error> {
    raw.clear();
    let r = File::open(src.path(Root::Proc, rel))
        .and_then(|f| f.take(PROC_CAP).read_to_end(raw).map(drop));
    match r {
        Ok(()) => Ok(true),
        Err(e) if vanished_io(&e) => Ok(false),
        Err(err) => Err(Error::Io {
            path: src.last_path().to_path_buf(),
            err,
        }),
    }
}

fn count(counts: &mut [u64; 128], state: u8) {
    if let Some(c) = counts.get_mut(usize::from(state)) {
        *c += 1;
    }
}

impl Collect for State {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        self.procs = [0; 128];
        self.threads = [0; 128];
        let (mut pids, mut threads) = (0u64, 0u64);
        ctx.src.list_dir(Root::Proc, &[""], &mut ctx.names)?;
        for pid in ctx.names.iter().filter(|n| is_pid(n)) {
            if !read_stat(&mut ctx.src, &[pid, "/stat"], &mut self.raw)? {
                continue;
            }
            let (state, n) = parse_stat(&self.raw).map_err(|e| ctx.src.parse_error(e))?;
            pids += 1;
            threads += n;
            count(&mut self.procs, state);
            match ctx
                .src
                .list_dir(Root::Proc, &[pid, "/task"], &mut self.tasks)
            {
                Err(e) if vanished(&e) => continue,
                r => r?,
            }
            for tid in self.tasks.iter() {
                // The main thread is the process; its state was read above.
                if tid == pid {
                    count(&mut self.threads, state);
                    continue;
                }
                if !read_stat(&mut ctx.src, &[pid, "/task/", tid, "/stat"], &mut self.raw)? {
                    continue;
                }
                let (state, _) = parse_stat(&self.raw).map_err(|e| ctx.src.parse_error(e))?;
                count(&mut self.threads, state);
            }
        }
        let max_threads = read_limit(ctx, "sys/kernel/threads-max")?;
        let max_pids = read_limit(ctx, "sys/kernel/pid_max")?;

        out.family(
            "node_processes_threads",
            "Allocated threads in system",
            Kind::Gauge,
        );
        out.u64(&[], threads);
        out.family(
            "node_processes_max_threads",
            "Limit of threads in the system",
            Kind::Gauge,
        );
        out.u64(&[], max_threads);
        let by_state = [
            (
                "node_processes_state",
                "Number of processes in each state.",
                "state",
                &self.procs,
            ),
            (
                "node_processes_threads_state",
                "Number of threads in each state.",
                "thread_state",
                &self.threads,
            ),
        ];
        for (name, help, label, counts) in by_state {
            out.family(name, help, Kind::Gauge);
            for (letter, &n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
                let letter = [letter as u8];
                out.u64(&[(label, std::str::from_utf8(&letter).unwrap_or("?"))], n);
            }
        }
        out.family("node_processes_pids", "Number of PIDs", Kind::Gauge);
        out.u64(&[], pids);
        out.family(
            "node_processes_max_processes",
            "Number of max PIDs limit",
            Kind::Gauge,
        );
        out.u64(&[], max_pids);
        Ok(())
    }
}

fn read_limit(ctx: &mut Ctx, file: &str) -> Result<u64, Error> {
    ctx.src.read(Root::Proc, &[file], &mut ctx.buf)?;
    u64_at(ctx.buf.trim(), 1, file).map_err(|e| ctx.src.parse_error(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    #[test]
    fn stat_lines() {
        let java = "1205 (java) S 1 1205 1205 0 -1 4194560 2345678 0 3456 0 987654 123456 0 0 20 0 87 0 3456 5495128064 263378\n";
        assert_eq!(parse_stat(java.as_bytes()), Ok((b'S', 87)));
        let odd = "1999 (my (weird) name) R 1 1999 1999 0 -1 4194560 1200 0 3 0 250 75 0 0 25 5 3 0 123096789\n";
        assert_eq!(parse_stat(odd.as_bytes()), Ok((b'R', 3)));
        let paren = b"77 (a) b) Z 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1\n";
        assert_eq!(parse_stat(paren), Ok((b'Z', 1)));
        // prctl(PR_SET_NAME) takes any bytes.
        let bytes = b"78 (\xff\xfe) S 1 78 78 0 -1 0 0 0 0 0 0 0 0 0 20 0 4 0 1\n";
        assert_eq!(parse_stat(bytes), Ok((b'S', 4)));
        assert!(parse_stat(b"").is_err());
        assert_eq!(
            parse_stat(b"1 (init) S 0 1").unwrap_err().to_string(),
            "line 1: expected num_threads (field 20), found the end of the line"
        );
        assert!(
            parse_stat(b"1 (init) 7 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1\n")
                .unwrap_err()
                .to_string()
                .contains("one-letter state")
        );
        assert!(is_pid("1205") && !is_pid("self") && !is_pid(""));
    }

    #[test]
    fn collect_fixtures() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        let mut st = State::default();
        st.collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        let want = "\
# HELP node_processes_threads Allocated threads in system
# TYPE node_processes_threads gauge
node_processes_threads 29
# HELP node_processes_max_threads Limit of threads in the system
# TYPE node_processes_max_threads gauge
node_processes_max_threads 61712
# HELP node_processes_state Number of processes in each state.
# TYPE node_processes_state gauge
node_processes_state{state=\"I\"} 1
node_processes_state{state=\"R\"} 1
node_processes_state{state=\"S\"} 12
node_processes_state{state=\"Z\"} 1
# HELP node_processes_threads_state Number of threads in each state.
# TYPE node_processes_threads_state gauge
node_processes_threads_state{thread_state=\"D\"} 1
node_processes_threads_state{thread_state=\"I\"} 1
node_processes_threads_state{thread_state=\"R\"} 3
node_processes_threads_state{thread_state=\"S\"} 23
node_processes_threads_state{thread_state=\"Z\"} 1
# HELP node_processes_pids Number of PIDs
# TYPE node_processes_pids gauge
node_processes_pids 15
# HELP node_processes_max_processes Number of max PIDs limit
# TYPE node_processes_max_processes gauge
node_processes_max_processes 4194304
";
        assert_eq!(text, want);
        // The counts start again on every scrape.
        out.clear();
        st.collect(&mut ctx, &mut out).unwrap();
        assert_eq!(String::from_utf8(out.as_bytes().to_vec()).unwrap(), want);
    }

    #[test]
    fn vanished_tasks_are_skipped_and_garbage_fails() {
        let dir =
            std::env::temp_dir().join(format!("proctap-node-processes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sys/kernel")).unwrap();
        std::fs::write(dir.join("sys/kernel/pid_max"), "32768\n").unwrap();
        std::fs::write(dir.join("sys/kernel/threads-max"), "15000\n").unwrap();
        // 10 lists a thread whose directory is gone; 11 has exited (no stat); 12 has no task/.
        std::fs::create_dir_all(dir.join("10/task/10")).unwrap();
        std::fs::create_dir_all(dir.join("10/task/13")).unwrap();
        std::fs::create_dir_all(dir.join("11")).unwrap();
        std::fs::create_dir_all(dir.join("12")).unwrap();
        let line = |state| format!("10 (x) {state} 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 2 0 1\n");
        std::fs::write(dir.join("10/stat"), line("S")).unwrap();
        std::fs::write(dir.join("12/stat"), line("D")).unwrap();
        let mut ctx = Ctx::new(Source::new(dir.clone(), "/nonexistent".into(), "/".into()));
        let mut out = Encoder::new();
        State::default().collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(text.contains("node_processes_pids 2\n"), "{text}");
        assert!(text.contains("node_processes_threads 4\n"), "{text}");
        assert!(
            text.contains("node_processes_threads_state{thread_state=\"S\"} 1\n# HELP"),
            "{text}"
        );
        std::fs::write(dir.join("12/stat"), "12 (x) S 1\n").unwrap();
        let e = State::default()
            .collect(&mut ctx, &mut Encoder::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("/12/stat:1: expected num_threads (field 20), found the end of the line"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
