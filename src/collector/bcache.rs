//! `bcache`: /sys/fs/bcache/<uuid>/ (a cache set, its backing devices `bdev*` and cache devices
//! `cache*`) → node_bcache_*, as node_exporter 1.5 reports them; the priority statistics only
//! with `--collector.bcache.priorityStats` (the kernel walks every bucket to print them).
//!
//! bcache prints sizes "human-readable" (bch_hprint: `9.2k`, `1.1M`, `-3.7k`): procfs 0.8 reads
//! the digit after the point as tenths of 1024 (`9.2k` = (9 + 2/10.24) × 1024 = 9416, truncated),
//! and so does proctap, so the values are node_exporter's. A missing value file is 0, as in procfs;
//! a backing device without `writeback_rate_debug` or (with the flag) a cache without
//! `priority_stats` fails the collector, as there. node_exporter 1.5 exports the btree read time,
//! which the kernel gives in microseconds, as that number × 1e-9 seconds; proctap keeps that, so
//! the series agree (the value is 1000 times too small).
use crate::collector::btrfs::Slots;
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::flag::{Flag, Settings};
use crate::source::{Error, NameList, ParseError, Root, Source};

const PRIORITY: &str = "collector.bcache.priorityStats";

/// procfs 0.8's reading of bch_hprint output: `int[.frac][kMGTPE]`, or a plain number.
pub fn dehumanize(text: &str) -> Result<u64, ParseError> {
    let bad = || ParseError::new(1, format!("expected a size such as 9.2k, found {text:?}"));
    if text.starts_with('-') {
        return Err(bad());
    }
    magnitude(text).ok_or_else(bad)
}

/// [`dehumanize`] with an optional leading minus.
pub fn dehumanize_signed(text: &str) -> Result<i64, ParseError> {
    let (neg, t) = match text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, text),
    };
    let v = dehumanize(t)? as i64;
    Ok(if neg { -v } else { v })
}

fn magnitude(t: &str) -> Option<u64> {
    let &last = t.as_bytes().last()?;
    if last.is_ascii_digit() || last == b'.' {
        return t
            .parse::<f64>()
            .ok()
            .filter(|v| *v >= 0.0)
            .map(|v| v as u64);
    }
    let shift = match last {
        b'k' => 10,
        b'M' => 20,
        b'G' => 30,
        b'T' => 40,
        b'P' => 50,
        b'E' => 60,
        _ => return None,
    };
    let num = t.get(..t.len() - 1)?;
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (num, None),
    };
    let plain = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<f64>().ok())
            .flatten()
    };
    let mut mant = plain(int)?;
    if let Some(f) = frac {
        mant += plain(f)? / 10.24;
    }
    Some((mant * (1u64 << shift) as f64) as u64)
}

/// `writeback_rate_debug` of a backing device: (rate, target, proportional, integral, change).
pub fn parse_writeback_rate_debug(text: &str) -> Result<(u64, u64, i64, i64, i64), ParseError> {
    let (mut rate, mut target, mut prop, mut integral, mut change) = (0, 0, 0, 0, 0);
    for (i, line) in text.lines().enumerate() {
        let last = line.split_whitespace().last().unwrap_or("");
        let at = |e: ParseError| ParseError::new(i + 1, e.msg);
        if line.starts_with("rate:") {
            rate = dehumanize(last.trim_end_matches("/sec")).map_err(at)?;
        } else if line.starts_with("target:") {
            target = dehumanize(last).map_err(at)?;
        } else if line.starts_with("proportional:") {
            prop = dehumanize_signed(last).map_err(at)?;
        } else if line.starts_with("integral:") {
            integral = dehumanize_signed(last).map_err(at)?;
        } else if line.starts_with("change:") {
            change = dehumanize_signed(last.trim_end_matches("/sec")).map_err(at)?;
        }
    }
    Ok((rate, target, prop, integral, change))
}

/// `priority_stats` of a cache device: (unused, metadata) percent.
pub fn parse_priority_stats(text: &str) -> Result<(u64, u64), ParseError> {
    let (mut unused, mut metadata) = (0, 0);
    for (i, line) in text.lines().enumerate() {
        let slot = if line.starts_with("Unused:") {
            &mut unused
        } else if line.starts_with("Metadata:") {
            &mut metadata
        } else {
            continue;
        };
        let last = line.split_whitespace().last().unwrap_or("");
        *slot = crate::parse::u64_at(last.trim_end_matches('%'), i + 1, "a percentage")?;
    }
    Ok((unused, metadata))
}

/// The cache set's values, in the order of [`SET`].
const SET_FILES: [&str; 10] = [
    "active_journal_entries",
    "average_key_size",
    "btree_cache_size",
    "btree_nodes",
    "btree_read_average_duration_us",
    "cache_available_percent",
    "cache_read_races",
    "congested",
    "root_usage_percent",
    "tree_depth",
];

const SET: [(&str, &str, Kind); 10] = [
    ("node_bcache_active_journal_entries", "Number of journal entries that are newer than the index.", Kind::Gauge),
    ("node_bcache_average_key_size_sectors", "Average data per key in the btree (sectors).", Kind::Gauge),
    ("node_bcache_btree_cache_size_bytes", "Amount of memory currently used by the btree cache.", Kind::Gauge),
    ("node_bcache_btree_nodes", "Total nodes in the btree.", Kind::Gauge),
    ("node_bcache_btree_read_average_duration_seconds", "Average btree read duration.", Kind::Gauge),
    ("node_bcache_cache_available_percent", "Percentage of cache device without dirty data, usable for writeback (may contain clean cached data).", Kind::Gauge),
    ("node_bcache_cache_read_races_total", "Counts instances where while data was being read from the cache, the bucket was reused and invalidated - i.e. where the pointer was stale after the read completed.", Kind::Counter),
    ("node_bcache_congested", "Congestion.", Kind::Gauge),
    ("node_bcache_root_usage_percent", "Percentage of the root btree node in use (tree depth increases if too high).", Kind::Gauge),
    ("node_bcache_tree_depth", "Depth of the btree.", Kind::Gauge),
];

/// A backing device's `stats_total`, in the order of [`PERIOD`].
const PERIOD_FILES: [&str; 7] = [
    "bypassed",
    "cache_bypass_hits",
    "cache_bypass_misses",
    "cache_hits",
    "cache_miss_collisions",
    "cache_misses",
    "cache_readaheads",
];

const PERIOD: [(&str, &str); 7] = [
    (
        "node_bcache_bypassed_bytes_total",
        "Amount of IO (both reads and writes) that has bypassed the cache.",
    ),
    (
        "node_bcache_cache_bypass_hits_total",
        "Hits for IO intended to skip the cache.",
    ),
    (
        "node_bcache_cache_bypass_misses_total",
        "Misses for IO intended to skip the cache.",
    ),
    (
        "node_bcache_cache_hits_total",
        "Hits counted per individual IO as bcache sees them.",
    ),
    (
        "node_bcache_cache_miss_collisions_total",
        "Instances where data insertion from cache miss raced with write (data already present).",
    ),
    (
        "node_bcache_cache_misses_total",
        "Misses counted per individual IO as bcache sees them.",
    ),
    (
        "node_bcache_cache_readaheads_total",
        "Count of times readahead occurred.",
    ),
];

#[derive(Default)]
struct Bdev {
    name: String,
    dirty_data: u64,
    rate: u64,
    target: u64,
    proportional: i64,
    integral: i64,
    change: i64,
    total: [u64; 7],
}

#[derive(Default)]
struct Cache {
    name: String,
    io_errors: u64,
    metadata_written: u64,
    written: u64,
    unused_percent: u64,
    metadata_percent: u64,
}

#[derive(Default)]
struct Set {
    uuid: String,
    values: [u64; 10],
    bdevs: Slots<Bdev>,
    caches: Slots<Cache>,
}

pub const COLLECTOR: Collector = Collector {
    name: "bcache",
    enabled_by_default: true,
    flags: &[Flag::switch(PRIORITY, "Expose expensive priority stats.")],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "fs/bcache")],
        hint: "a registered bcache cache set (the bcache module, make-bcache)",
    },
    build: Build::New(|s| Ok(Box::new(Bcache::new(s)))),
};

#[derive(Default)]
pub struct Bcache {
    priority_stats: bool,
    sets: Slots<Set>,
    names: NameList,
    sub: NameList,
}

impl Bcache {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Bcache {
        Bcache {
            priority_stats: s.switch(PRIORITY),
            ..Bcache::default()
        }
    }
}

/// A value file under /sys/fs/bcache: 0 when missing.
fn value(src: &mut Source, rel: &[&str], buf: &mut String) -> Result<u64, Error> {
    if !src.read_optional(Root::Sys, rel, buf)? {
        return Ok(0);
    }
    dehumanize(buf.trim()).map_err(|e| src.parse_error(e))
}

/// The names in `names` that are `prefix` followed by a digit (procfs's `bdev[0-9]*`).
fn numbered<'a>(names: &'a NameList, prefix: &'a str) -> impl Iterator<Item = &'a str> {
    names.iter().filter(move |n| {
        n.strip_prefix(prefix)
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    })
}

impl Collect for Bcache {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        const BASE: &str = "fs/bcache/";
        if !ctx
            .src
            .list_dir_optional(Root::Sys, &[BASE], &mut self.names)?
        {
            return Ok(());
        }
        self.sets.clear();
        let src = &mut ctx.src;
        let buf = &mut ctx.buf;
        for uuid in self.names.iter().filter(|n| n.contains('-')) {
            let set = self.sets.next();
            set.uuid.clear();
            set.uuid.push_str(uuid);
            for (i, file) in SET_FILES.iter().enumerate() {
                let dir = if i == 0 || i == 3 || i == 4 || i == 6 {
                    "/internal/"
                } else {
                    "/"
                };
                set.values[i] = value(src, &[BASE, uuid, dir, file], buf)?;
            }
            src.list_dir(Root::Sys, &[BASE, uuid], &mut self.sub)?;
            set.bdevs.clear();
            for name in numbered(&self.sub, "bdev") {
                let b = set.bdevs.next();
                b.name.clear();
                b.name.push_str(name);
                b.dirty_data = value(src, &[BASE, uuid, "/", name, "/dirty_data"], buf)?;
                src.read(
                    Root::Sys,
                    &[BASE, uuid, "/", name, "/writeback_rate_debug"],
                    buf,
                )?;
                (b.rate, b.target, b.proportional, b.integral, b.change) =
                    parse_writeback_rate_debug(buf).map_err(|e| src.parse_error(e))?;
                for (v, file) in b.total.iter_mut().zip(PERIOD_FILES) {
                    *v = value(src, &[BASE, uuid, "/", name, "/stats_total/", file], buf)?;
                }
            }
            set.caches.clear();
            for name in numbered(&self.sub, "cache") {
                let c = set.caches.next();
                c.name.clear();
                c.name.push_str(name);
                c.io_errors = value(src, &[BASE, uuid, "/", name, "/io_errors"], buf)?;
                c.metadata_written =
                    value(src, &[BASE, uuid, "/", name, "/metadata_written"], buf)?;
                c.written = value(src, &[BASE, uuid, "/", name, "/written"], buf)?;
                if self.priority_stats {
                    src.read(Root::Sys, &[BASE, uuid, "/", name, "/priority_stats"], buf)?;
                    (c.unused_percent, c.metadata_percent) =
                        parse_priority_stats(buf).map_err(|e| src.parse_error(e))?;
                }
            }
        }
        if !self.sets.is_empty() {
            write(&self.sets, self.priority_stats, out);
        }
        Ok(())
    }
}

/// A family of backing devices: name, help, value.
type BdevFamily = (&'static str, &'static str, fn(&Bdev) -> i64);
/// A family of cache devices: name, help, type, value.
type CacheFamily = (&'static str, &'static str, Kind, fn(&Cache) -> u64);

fn write(sets: &Slots<Set>, priority_stats: bool, out: &mut Encoder) {
    for (i, (name, help, kind)) in SET.iter().enumerate() {
        out.family(name, help, *kind);
        for s in sets.iter() {
            let v = s.values.get(i).copied().unwrap_or(0);
            if i == 4 {
                out.f64(&[("uuid", &s.uuid)], v as f64 * 1e-9);
            } else {
                out.u64(&[("uuid", &s.uuid)], v);
            }
        }
    }
    for (i, (name, help)) in PERIOD.iter().enumerate() {
        out.family(name, help, Kind::Counter);
        for s in sets.iter() {
            for b in s.bdevs.iter() {
                let v = b.total.get(i).copied().unwrap_or(0);
                out.u64(&[("backing_device", &b.name), ("uuid", &s.uuid)], v);
            }
        }
    }
    let bdev: [BdevFamily; 6] = [
        (
            "node_bcache_dirty_data_bytes",
            "Amount of dirty data for this backing device in the cache.",
            |b| b.dirty_data as i64,
        ),
        (
            "node_bcache_dirty_target_bytes",
            "Current dirty data target threshold for this backing device in bytes.",
            |b| b.target as i64,
        ),
        (
            "node_bcache_writeback_change",
            "Last writeback rate change step for this backing device.",
            |b| b.change,
        ),
        (
            "node_bcache_writeback_rate",
            "Current writeback rate for this backing device in bytes.",
            |b| b.rate as i64,
        ),
        (
            "node_bcache_writeback_rate_integral_term",
            "Current result of integral controller, part of writeback rate",
            |b| b.integral,
        ),
        (
            "node_bcache_writeback_rate_proportional_term",
            "Current result of proportional controller, part of writeback rate",
            |b| b.proportional,
        ),
    ];
    for (name, help, get) in bdev {
        out.family(name, help, Kind::Gauge);
        for s in sets.iter() {
            for b in s.bdevs.iter() {
                out.i64(&[("backing_device", &b.name), ("uuid", &s.uuid)], get(b));
            }
        }
    }
    let all: [CacheFamily; 5] = [
        (
            "node_bcache_io_errors",
            "Number of errors that have occurred, decayed by io_error_halflife.",
            Kind::Gauge,
            |c| c.io_errors,
        ),
        (
            "node_bcache_metadata_written_bytes_total",
            "Sum of all non data writes (btree writes and all other metadata).",
            Kind::Counter,
            |c| c.metadata_written,
        ),
        (
            "node_bcache_written_bytes_total",
            "Sum of all data that has been written to the cache.",
            Kind::Counter,
            |c| c.written,
        ),
        (
            "node_bcache_priority_stats_metadata_percent",
            "Bcache's metadata overhead.",
            Kind::Gauge,
            |c| c.metadata_percent,
        ),
        (
            "node_bcache_priority_stats_unused_percent",
            "The percentage of the cache that doesn't contain any data.",
            Kind::Gauge,
            |c| c.unused_percent,
        ),
    ];
    let n = if priority_stats { 5 } else { 3 };
    for (name, help, kind, get) in all.iter().take(n) {
        out.family(name, help, *kind);
        for s in sets.iter() {
            for c in s.caches.iter() {
                out.u64(&[("cache_device", &c.name), ("uuid", &s.uuid)], get(c));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dehumanize_as_procfs() {
        assert_eq!(dehumanize("9.2k"), Ok(9416));
        assert_eq!(dehumanize("3.2M"), Ok(3350528));
        assert_eq!(dehumanize("1.3G"), Ok(1388314624));
        assert_eq!(dehumanize("0.0k"), Ok(0));
        assert_eq!(dehumanize("512"), Ok(512));
        assert_eq!(dehumanize("98"), Ok(98));
        assert_eq!(dehumanize("20.4G"), Ok(21894266880));
        assert_eq!(dehumanize_signed("-3.7k"), Ok(-3772));
        assert_eq!(dehumanize_signed("-1.4M"), Ok(-1458176));
        for bad in ["", "k", "1.2%", "x1k", "1.-2k", "1.2.3k", "-5", "--1k"] {
            assert!(dehumanize(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writeback_rate_debug_kernel_5_15() {
        let text = "rate:\t\t1.1M/sec\ndirty:\t\t48.0k\ntarget:\t\t20.4G\nproportional:\t-1.4M\nintegral:\t-8.5k\nchange:\t\t-3.7k/sec\nnext io:\t-38ms\n";
        assert_eq!(
            parse_writeback_rate_debug(text),
            Ok((1150976, 21894266880, -1458176, -8692, -3772))
        );
        assert_eq!(
            parse_writeback_rate_debug("rate:\t\tfast/sec\n")
                .unwrap_err()
                .to_string(),
            "line 1: expected a size such as 9.2k, found \"fast\""
        );
    }

    #[test]
    fn priority_stats() {
        let text = "Unused:\t\t99%\nClean:\t\t0%\nDirty:\t\t0%\nMetadata:\t1%\nAverage:\t1305\nSectors per Q:\t36864\nQuantiles:\t[1 2 3]\n";
        assert_eq!(parse_priority_stats(text), Ok((99, 1)));
        assert!(parse_priority_stats("Unused: many\n").is_err());
    }

    fn collect(priority: bool) -> String {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        let mut b = Bcache {
            priority_stats: priority,
            ..Bcache::default()
        };
        for _ in 0..2 {
            out.clear();
            b.collect(&mut ctx, &mut out).unwrap();
        }
        String::from_utf8(out.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn collect_fixture() {
        let text = collect(false);
        let u = "uuid=\"5f0a8c47-26f1-4a18-9e6b-b2c0d1e3f4a5\"";
        for line in [
            format!("node_bcache_average_key_size_sectors{{{u}}} 9416\n"),
            format!("node_bcache_btree_read_average_duration_seconds{{{u}}} 1.305e-6\n"),
            format!("node_bcache_writeback_change{{backing_device=\"bdev0\",{u}}} -3772\n"),
            format!("node_bcache_written_bytes_total{{cache_device=\"cache0\",{u}}} 109563904\n"),
        ] {
            assert!(text.contains(&line), "{line} missing from\n{text}");
        }
        assert!(!text.contains("priority_stats"));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 26);
        let text = collect(true);
        assert!(text.contains(&format!(
            "node_bcache_priority_stats_unused_percent{{cache_device=\"cache0\",{u}}} 99\n"
        )));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 28);
    }
}
