//! A counting global allocator for the test build: proves that a steady-state scrape does not
//! touch the heap. Only allocations made by a thread while it is counting are counted, so
//! tests running in parallel do not disturb each other.
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // try_with: the thread's locals may already be gone while it exits.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns how many allocations (and reallocations) this thread made in it.
pub fn allocations<T>(f: impl FnOnce() -> T) -> (u64, T) {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|on| on.set(true));
    let out = f();
    COUNTING.with(|on| on.set(false));
    (COUNT.with(Cell::get), out)
}

/// Counts `n` allocations made for this thread elsewhere (a guarded collector's helper thread
/// reports its own with [`allocations`]), when this thread is counting.
pub fn add(n: u64) {
    if COUNTING.with(Cell::get) {
        COUNT.with(|c| c.set(c.get() + n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::{self, default_settings, fixture_ctx, Scraper};

    #[test]
    fn the_counter_counts() {
        let (n, v) = allocations(|| vec![1u8; 10]);
        assert_eq!((n, v.len()), (1, 10));
        let (n, _) = allocations(|| 1 + 1);
        assert_eq!(n, 0);
    }

    #[test]
    fn a_steady_state_scrape_does_not_allocate() {
        let enabled = (0..collector::ALL.len())
            .filter(|&i| collector::ALL[i].enabled_by_default)
            .collect();
        // Per collector, so a regression names its culprit.
        for (i, c) in collector::ALL
            .iter()
            .enumerate()
            .filter(|(_, c)| c.enabled_by_default)
        {
            let mut s = Scraper::new(fixture_ctx(), &default_settings(), vec![i]).unwrap();
            s.scrape();
            s.scrape();
            let (n, _) = allocations(|| s.scrape());
            assert_eq!(
                n, 0,
                "collector {} allocates in a steady-state scrape",
                c.name
            );
        }
        let mut scraper = Scraper::new(fixture_ctx(), &default_settings(), enabled).unwrap();
        for _ in 0..2 {
            assert!(scraper.scrape(), "every collector succeeds on the fixtures");
        }
        let (n, ok) = allocations(|| scraper.scrape());
        assert!(ok);
        assert_eq!(
            n, 0,
            "heap allocations in the third scrape of the default collectors"
        );
    }

    #[test]
    fn live_host_files_through_kept_descriptors_do_not_allocate() {
        let names = [
            "stat",
            "meminfo",
            "vmstat",
            "loadavg",
            "netstat",
            "sockstat",
            "diskstats",
            "filefd",
        ];
        let enabled = names
            .iter()
            .map(|n| collector::ALL.iter().position(|c| c.name == *n).unwrap())
            .collect();
        let src = crate::source::Source::new("/proc".into(), "/sys".into(), "/".into());
        let mut s = Scraper::new(collector::Ctx::new(src), &default_settings(), enabled).unwrap();
        for _ in 0..2 {
            assert!(s.scrape(), "the live host's files read");
        }
        let (n, ok) = allocations(|| s.scrape());
        assert!(ok);
        assert_eq!(n, 0, "heap allocations in a third scrape of the live host");
        assert!(s.ctx.src.kept_files() >= 8, "{}", s.ctx.src.kept_files());
    }

    #[test]
    fn off_by_default_collectors_and_options_do_not_allocate() {
        let cfg = crate::cli::parse([
            "--collector.cpu.info",
            "--collector.cpu.info.flags-include=^(aes|avx.*|sha_ni)$",
            "--collector.cpu.info.bugs-include=.",
            "--collector.stat.softirq",
            #[cfg(feature = "server")]
            "--collector.sysctl.include=net.ipv4.tcp_rmem",
            #[cfg(feature = "server")]
            "--collector.sysctl.include=net.ipv4.ip_local_port_range:low,high",
            #[cfg(feature = "server")]
            "--collector.sysctl.include-info=net.ipv4.tcp_available_congestion_control",
        ])
        .unwrap();
        let server: &[&str] = if cfg!(feature = "server") {
            &[
                "buddyinfo",
                "ksmd",
                "kernel_hung",
                "meminfo_numa",
                "sysctl",
                "zoneinfo",
                "slabinfo",
            ]
        } else {
            &[]
        };
        let plain: &[&str] = if cfg!(feature = "extras") {
            &["cpu", "stat", "processes", "softirqs"]
        } else {
            &["cpu", "stat"]
        };
        for &name in plain.iter().chain(server) {
            let i = collector::by_name(name).unwrap();
            let mut s = Scraper::new(fixture_ctx(), &cfg.settings, vec![i]).unwrap();
            s.scrape();
            s.scrape();
            let (n, ok) = allocations(|| s.scrape());
            assert!(ok, "{name} fails on the fixtures");
            assert_eq!(n, 0, "collector {name} allocates in a steady-state scrape");
        }
    }

    #[test]
    fn selected_processes_do_not_allocate_once_known() {
        let cfg = crate::cli::parse([
            "--proc-name=postgres",
            "--proc-pattern=kafka",
            "--top-n=3",
            "--proc-smaps",
            "--group-by=class,user",
        ])
        .unwrap();
        let i = collector::by_name("namedprocess").unwrap();
        let mut s = Scraper::new(fixture_ctx(), &cfg.settings, vec![i]).unwrap();
        s.scrape();
        s.scrape();
        let (n, ok) = allocations(|| s.scrape());
        assert!(ok);
        let out = String::from_utf8_lossy(s.out.as_bytes());
        assert!(
            out.contains("proctap_process_listening_port{pid=\"812\""),
            "{out}"
        );
        assert_eq!(n, 0, "selected processes, sched, smaps and ports allocate");
    }

    #[test]
    fn unchanged_textfiles_do_not_allocate() {
        let dir = std::env::temp_dir().join(format!("proctap-alloc-tf-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let files = [
            ("backup.prom", "# HELP backup_last_success_timestamp_seconds Unix time of the last good backup.\n# TYPE backup_last_success_timestamp_seconds gauge\nbackup_last_success_timestamp_seconds{repository=\"nas\",target=\"/etc\"} 1795300012\nbackup_last_success_timestamp_seconds{repository=\"usb\",target=\"/srv/data\"} 1795301847.25\n"),
            ("jobs.prom", "# TYPE jobs_total counter\njobs_total{job=\"a\"} 1\nqueue_depth{queue=\"mail \\\"hi\\\"\"} 3\n"),
            ("more-jobs.prom", "# HELP jobs_total Jobs run.\n# TYPE jobs_total counter\njobs_total{job=\"b\",host=\"x\"} 2\nlast_ratio NaN\n"),
        ];
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        // A file changed less than 2 s before it is read is read again next time (racily
        // clean): wait until these are older than that by their mtime and ctime (which nothing
        // can set back).
        let newest_ns = || {
            use std::os::unix::fs::MetadataExt;
            let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
            files
                .iter()
                .map(|(n, _)| {
                    let m = std::fs::metadata(dir.join(n)).unwrap();
                    ns(m.mtime(), m.mtime_nsec()).max(ns(m.ctime(), m.ctime_nsec()))
                })
                .max()
                .unwrap()
        };
        let now_ns = || {
            let d = std::time::UNIX_EPOCH.elapsed().unwrap();
            d.as_nanos() as i128
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while now_ns() - newest_ns() < 2_100_000_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "the clock does not move"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let cfg = crate::cli::parse([format!("--collector.textfile.directory={}", dir.display())])
            .unwrap();
        let i = collector::by_name("textfile").unwrap();
        let mut s = Scraper::new(fixture_ctx(), &cfg.settings, vec![i]).unwrap();
        // The collector's output, without the meta-metrics (a duration) that follow it.
        let textfile_part = |s: &Scraper| {
            let out = String::from_utf8_lossy(s.out.as_bytes()).into_owned();
            let end = out.find("node_textfile_scrape_error 0\n").unwrap() + 29;
            out[..end].to_owned()
        };
        assert!(s.scrape());
        let first = textfile_part(&s);
        assert!(
            first.contains(
                "jobs_total{host=\"\",job=\"a\"} 1\njobs_total{host=\"x\",job=\"b\"} 2\n"
            ),
            "{first}"
        );
        assert!(
            first.ends_with("\nnode_textfile_scrape_error 0\n"),
            "{first}"
        );
        assert_eq!(
            first.matches("node_textfile_mtime_seconds{file=").count(),
            3
        );
        for scrape in 2..5 {
            let (n, ok) = allocations(|| s.scrape());
            assert!(ok);
            assert_eq!(
                n, 0,
                "textfile allocates in scrape {scrape} of unchanged files"
            );
            assert_eq!(textfile_part(&s), first);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
