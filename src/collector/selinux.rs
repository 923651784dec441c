//! `selinux`: node_selinux_enabled, config_mode, current_mode and the access vector cache's
//! statistics, as node_exporter 1.5 reports them, read without libselinux.
//!
//! - enabled: selinuxfs is there (`<sysfs>/fs/selinux/enforce` is readable) and the exporter's
//!   own label (`<procfs>/self/attr/current`, when readable) is not `kernel` (no policy
//!   loaded). node_exporter asks go-selinux, which looks at its own mounts and the real
//!   /sys/fs/selinux whatever --path.sysfs says; proctap follows --path.sysfs and
//!   --path.procfs, so a container with the host's /sys at /host/sys sees the host's state.
//!   Disabled, only node_selinux_enabled 0 is exported, as node_exporter does.
//! - config_mode: `SELINUX=` in `<rootfs>/etc/selinux/config`: enforcing 1, permissive 0,
//!   anything else or no file -1. current_mode: the number in `enforce`, -1 if it is not one.
//! - avc/cache_stats (a header, then one row of six counters per CPU, summed),
//!   avc/hash_stats (`entries: N`, `buckets used: U/A`, `longest chain: N`),
//!   avc/cache_threshold. A malformed one fails the collector, as in node_exporter.
use crate::collector::{Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

/// lookups, hits, misses, allocations, reclaims, frees: summed over the CPU rows.
pub fn parse_cache_stats(text: &str) -> Result<[u64; 6], ParseError> {
    let mut sum = [0u64; 6];
    for (i, line) in text.lines().enumerate().skip(1) {
        let mut n = 0;
        // node_exporter takes the runs of digits of each row (`\d+`).
        for run in line
            .split(|c: char| !c.is_ascii_digit())
            .filter(|r| !r.is_empty())
        {
            let v = u64_at(run, i + 1, "an AVC counter")?;
            if let Some(s) = sum.get_mut(n) {
                *s = s.wrapping_add(v);
            }
            n += 1;
        }
        if n != 6 {
            return Err(ParseError::new(
                i + 1,
                format!("expected 6 AVC counters, found {n}"),
            ));
        }
    }
    Ok(sum)
}

/// entries, buckets used, buckets available, longest chain.
pub fn parse_hash_stats(text: &str) -> Result<[u64; 4], ParseError> {
    let mut lines = text.lines();
    let mut field = |n: usize, prefix: &str| -> Result<&str, ParseError> {
        let line = lines.next().unwrap_or("");
        line.strip_prefix(prefix)
            .ok_or_else(|| ParseError::new(n, format!("expected {prefix:?}, found {line:?}")))
    };
    let entries = field(1, "entries: ")?;
    let buckets = field(2, "buckets used: ")?;
    let chain = field(3, "longest chain: ")?;
    let (used, avail) = buckets
        .split_once('/')
        .ok_or_else(|| ParseError::new(2, format!("expected USED/AVAILABLE, found {buckets:?}")))?;
    Ok([
        u64_at(entries.trim(), 1, "hash entries")?,
        u64_at(used.trim(), 2, "hash buckets used")?,
        u64_at(avail.trim(), 2, "hash buckets available")?,
        u64_at(chain.trim(), 3, "hash longest chain")?,
    ])
}

/// The mode `SELINUX=` sets in /etc/selinux/config: 1 enforcing, 0 permissive, else -1.
pub fn parse_config_mode(text: &str) -> i64 {
    let value = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("SELINUX="))
        .map(|v| v.trim().trim_matches('"'));
    match value {
        Some("enforcing") => 1,
        Some("permissive") => 0,
        _ => -1,
    }
}

pub const COLLECTOR: Collector = Collector::plain(
    "selinux",
    collect,
    Sources {
        reads: &[
            What::File(Root::Sys, "fs/selinux/enforce"),
            What::Optional(Root::Sys, "fs/selinux/avc/cache_stats"),
            What::Optional(Root::Rootfs, "etc/selinux/config"),
        ],
        hint: "SELinux enabled in the kernel and a policy loaded (selinuxfs at /sys/fs/selinux)",
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    let mut enabled = ctx
        .src
        .read_optional(Root::Sys, &["fs/selinux/enforce"], &mut ctx.buf2)?;
    let current_mode = ctx.buf2.trim().parse::<i64>().unwrap_or(-1);
    if enabled
        && matches!(
            ctx.src
                .read_optional(Root::Proc, &["self/attr/current"], &mut ctx.buf),
            Ok(true)
        )
    {
        enabled = ctx.buf.trim_end_matches(['\0', '\n']) != "kernel";
    }
    let gauge = |out: &mut Encoder, name, help, v: i64| {
        out.family(name, help, Kind::Gauge);
        out.i64(&[], v);
    };
    gauge(
        out,
        "node_selinux_enabled",
        "SELinux is enabled, 1 is true, 0 is false",
        i64::from(enabled),
    );
    if !enabled {
        return Ok(());
    }
    let config = if ctx
        .src
        .read_optional(Root::Rootfs, &["etc/selinux/config"], &mut ctx.buf)?
    {
        parse_config_mode(&ctx.buf)
    } else {
        -1
    };
    ctx.src
        .read(Root::Sys, &["fs/selinux/avc/cache_stats"], &mut ctx.buf)?;
    let cache = parse_cache_stats(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
    ctx.src
        .read(Root::Sys, &["fs/selinux/avc/hash_stats"], &mut ctx.buf)?;
    let hash = parse_hash_stats(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
    ctx.src
        .read(Root::Sys, &["fs/selinux/avc/cache_threshold"], &mut ctx.buf)?;
    let threshold =
        u64_at(ctx.buf.trim(), 1, "the cache threshold").map_err(|e| ctx.src.parse_error(e))?;

    gauge(
        out,
        "node_selinux_config_mode",
        "Configured SELinux enforcement mode",
        config,
    );
    gauge(
        out,
        "node_selinux_current_mode",
        "Current SELinux enforcement mode",
        current_mode,
    );
    let counters = [
        ("node_selinux_avc_lookups_total", "SELinux AVC lookups", 0),
        ("node_selinux_avc_hits_total", "SELinux AVC hits", 1),
        ("node_selinux_avc_misses_total", "SELinux AVC misses", 2),
        (
            "node_selinux_avc_allocations_total",
            "SELinux AVC allocations",
            3,
        ),
        ("node_selinux_avc_reclaims_total", "SELinux AVC reclaims", 4),
        ("node_selinux_avc_frees_total", "SELinux AVC frees", 5),
    ];
    for (name, help, i) in counters {
        out.family(name, help, Kind::Counter);
        out.u64(&[], cache.get(i).copied().unwrap_or(0));
    }
    let gauges = [
        (
            "node_selinux_avc_hash_entries",
            "SELinux AVC hash entries",
            0,
        ),
        (
            "node_selinux_avc_hash_buckets_used",
            "SELinux AVC hash buckets used",
            1,
        ),
        (
            "node_selinux_avc_hash_buckets_available",
            "SELinux AVC hash buckets available",
            2,
        ),
        (
            "node_selinux_avc_hash_longest_chain",
            "SELinux AVC hash longest chain",
            3,
        ),
    ];
    for (name, help, i) in gauges {
        out.family(name, help, Kind::Gauge);
        out.u64(&[], hash.get(i).copied().unwrap_or(0));
    }
    out.family(
        "node_selinux_avc_threshold",
        "SELinux AVC threshold",
        Kind::Gauge,
    );
    out.u64(&[], threshold);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_stats_two_cpus_and_garbage() {
        let text = "lookups hits misses allocations reclaims frees\n10391843 10388112 3731 3731 0 3228\n9288116 9285432 2684 2684 0 2177\n";
        assert_eq!(
            parse_cache_stats(text),
            Ok([19679959, 19673544, 6415, 6415, 0, 5405])
        );
        assert_eq!(parse_cache_stats("lookups hits\n"), Ok([0; 6]));
        assert_eq!(
            parse_cache_stats("h\n1 2 3 4 5\n").unwrap_err().to_string(),
            "line 2: expected 6 AVC counters, found 5"
        );
    }

    #[test]
    fn hash_stats_and_config() {
        let text = "entries: 503\nbuckets used: 286/512\nlongest chain: 5\n";
        assert_eq!(parse_hash_stats(text), Ok([503, 286, 512, 5]));
        assert_eq!(
            parse_hash_stats("entries: 1\nbuckets used: 2\nlongest chain: 3\n")
                .unwrap_err()
                .to_string(),
            "line 2: expected USED/AVAILABLE, found \"2\""
        );
        assert!(parse_hash_stats("").is_err());
        assert_eq!(
            parse_config_mode("# c\nSELINUX=enforcing\nSELINUXTYPE=targeted\n"),
            1
        );
        assert_eq!(parse_config_mode("SELINUX=permissive\n"), 0);
        assert_eq!(parse_config_mode("SELINUX=disabled\n"), -1);
        assert_eq!(parse_config_mode(""), -1);
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        for line in [
            "node_selinux_enabled 1\n",
            "node_selinux_config_mode 1\n",
            "node_selinux_current_mode 1\n",
            "node_selinux_avc_lookups_total 19679959\n",
            "node_selinux_avc_hash_buckets_available 512\n",
            "node_selinux_avc_threshold 512\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 14);
    }

    #[test]
    fn disabled_without_selinuxfs() {
        let dir = std::env::temp_dir().join(format!("proctap-selinux-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = crate::source::Source::new(dir.clone(), dir.clone(), dir.clone());
        let mut ctx = Ctx::new(src);
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        assert!(text.ends_with("node_selinux_enabled 0\n"), "{text}");
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
