//! The exporter's own `process_*` metrics (the client libraries' standard names).
//!
//! These always describe the running proctap, so they read the real `/proc/self`, never
//! `--path.procfs`; a failure here only leaves the affected series out.
use std::path::Path;

use crate::collector::Ctx;
use crate::expo::{Encoder, Kind};
use crate::source::ParseError;

/// Fields of `/proc/<pid>/stat` used here, times in clock ticks and rss in pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub utime: u64,
    pub stime: u64,
    pub starttime: u64,
    pub vsize: u64,
    pub rss: u64,
}

/// Parses `/proc/<pid>/stat`. The command name may hold spaces and parentheses, so the fields
/// start after the *last* `)`.
pub fn parse_stat(text: &str) -> Result<Stat, ParseError> {
    let rest = text
        .rfind(')')
        .and_then(|i| text.get(i + 1..))
        .ok_or_else(|| ParseError::new(1, "expected \"pid (comm) state ...\""))?;
    let mut f = [0u64; 22];
    let mut n = 0;
    for (i, field) in rest.split_ascii_whitespace().enumerate().skip(1).take(21) {
        // Field 0 after the comm is the one-letter state; the rest are numbers, some signed.
        let v = field.parse::<i64>().map_err(|_| {
            ParseError::new(
                1,
                format!("expected a number in field {}, found {field:?}", i + 3),
            )
        })?;
        if let Some(slot) = f.get_mut(i) {
            *slot = v.max(0) as u64;
        }
        n = i;
    }
    if n < 21 {
        return Err(ParseError::new(
            1,
            format!("expected at least 24 fields, found {}", n + 3),
        ));
    }
    Ok(Stat {
        utime: f[11],
        stime: f[12],
        starttime: f[19],
        vsize: f[20],
        rss: f[21],
    })
}

pub struct State {
    buf: String,
    dirents: Vec<u8>,
    /// Computed once: the start time does not change.
    start_time_seconds: Option<f64>,
}

impl State {
    pub fn new() -> Self {
        State {
            buf: String::with_capacity(1024),
            dirents: Vec::new(),
            start_time_seconds: None,
        }
    }

    pub fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) {
        let stat = read(Path::new("/proc/self/stat"), &mut self.buf)
            .and_then(|()| parse_stat(&self.buf).ok());
        if self.start_time_seconds.is_none() {
            if let (Some(s), Some(btime)) = (stat, boot_time(&mut self.buf)) {
                self.start_time_seconds = Some(btime as f64 + s.starttime as f64 / ctx.user_hz);
            }
        }
        if let Some(s) = stat {
            out.family(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                Kind::Counter,
            );
            out.f64(&[], (s.utime + s.stime) as f64 / ctx.user_hz);
        }
        if let Some(n) = count_fds(&mut self.dirents) {
            out.family(
                "process_open_fds",
                "Number of open file descriptors.",
                Kind::Gauge,
            );
            out.u64(&[], n);
        }
        if let Some(n) = max_fds() {
            out.family(
                "process_max_fds",
                "Maximum number of open file descriptors.",
                Kind::Gauge,
            );
            out.u64(&[], n);
        }
        if let Some(s) = stat {
            out.family(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                Kind::Gauge,
            );
            out.u64(&[], s.vsize);
            out.family(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                Kind::Gauge,
            );
            out.u64(&[], s.rss.saturating_mul(ctx.page_size));
        }
        if let Some(t) = self.start_time_seconds {
            out.family(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                Kind::Gauge,
            );
            out.f64(&[], t);
        }
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

fn read(path: &Path, buf: &mut String) -> Option<()> {
    use std::io::Read;
    buf.clear();
    std::fs::File::open(path).ok()?.read_to_string(buf).ok()?;
    Some(())
}

fn boot_time(buf: &mut String) -> Option<u64> {
    read(Path::new("/proc/stat"), buf)?;
    buf.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn count_fds(dirents: &mut Vec<u8>) -> Option<u64> {
    // Linux 6.2+ gives the number of open fds as the directory's size: one stat instead of a
    // listing, which namedprocess's kept descriptors make 10,000 entries long.
    let size = std::fs::metadata("/proc/self/fd").map_or(0, |m| m.len());
    if size > 0 {
        return Some(size);
    }
    let dir = crate::source::open_dir(Path::new("/proc/self/fd")).ok()?;
    let mut n = 0u64;
    crate::source::for_each_dir_entry(&dir, dirents, |_| n += 1).ok()?;
    // The directory handle itself is one of the entries; leave it out.
    Some(n.saturating_sub(1))
}

fn max_fds() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and has no other effect.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0).then_some(lim.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from Debian 12, kernel 6.1, then the comm edited to be hostile.
    const STAT: &str = "4242 (my (weird) name) S 1 4242 4242 0 -1 4194560 1016 0 0 0 7 3 0 0 20 0 1 0 1893 10346496 1150 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn stat_with_parentheses_in_comm() {
        let s = parse_stat(STAT).unwrap();
        assert_eq!(
            s,
            Stat {
                utime: 7,
                stime: 3,
                starttime: 1893,
                vsize: 10346496,
                rss: 1150
            }
        );
    }

    #[test]
    fn stat_truncated_or_garbage() {
        assert!(parse_stat("4242 (x) S 1 2 3").is_err());
        assert!(parse_stat("no parenthesis here").is_err());
        assert!(
            parse_stat("1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 x 21 22").is_err()
        );
    }

    #[test]
    fn live_self_metrics() {
        let src = crate::source::Source::new("/proc".into(), "/sys".into(), "/".into());
        let mut ctx = Ctx::new(src);
        let mut out = Encoder::new();
        State::new().collect(&mut ctx, &mut out);
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        for name in [
            "process_cpu_seconds_total ",
            "process_open_fds ",
            "process_max_fds ",
            "process_virtual_memory_bytes ",
            "process_resident_memory_bytes ",
            "process_start_time_seconds ",
        ] {
            assert!(
                text.contains(&format!("\n{name}")),
                "{name} missing in {text}"
            );
        }
    }
}
