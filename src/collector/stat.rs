//! `stat`: /proc/stat → node_boot_time_seconds, node_context_switches_total, node_forks_total,
//! node_intr_total, node_procs_running, node_procs_blocked; with `--collector.stat.softirq`
//! also node_softirqs_total{vector} from the `softirq` line.
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What, ROOT_ONLY};
use crate::expo::{Encoder, Kind};
use crate::flag::{Flag, Settings};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

/// The system-wide lines of /proc/stat. A missing line reads as 0, as in node_exporter, which
/// always exports all six.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub btime: u64,
    pub ctxt: u64,
    pub processes: u64,
    pub intr: u64,
    pub procs_running: u64,
    pub procs_blocked: u64,
}

/// Parses the `key value` lines of /proc/stat; `cpu*`, `softirq` and unknown keys are skipped.
pub fn parse_stat(text: &str) -> Result<Stat, ParseError> {
    let mut stat = Stat::default();
    for (i, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(key), Some(value)) = (fields.next(), fields.next()) else {
            continue;
        };
        let slot = match key {
            "btime" => &mut stat.btime,
            "ctxt" => &mut stat.ctxt,
            "processes" => &mut stat.processes,
            // The first number is the total; per-IRQ counts are the interrupts collector's job.
            "intr" => &mut stat.intr,
            "procs_running" => &mut stat.procs_running,
            "procs_blocked" => &mut stat.procs_blocked,
            _ => continue,
        };
        *slot = u64_at(value, i + 1, key)?;
    }
    Ok(stat)
}

/// The vectors of the `softirq` line after its total, with node_exporter's names (the kernel
/// calls the sixth IRQ_POLL since 4.5; node_exporter kept the old name).
pub const SOFTIRQ_VECTORS: [&str; 10] = [
    "hi",
    "timer",
    "net_tx",
    "net_rx",
    "block",
    "block_iopoll",
    "tasklet",
    "sched",
    "hrtimer",
    "rcu",
];

/// The per-vector counts of the `softirq total v1 v2 ...` line and how many there are (an old
/// kernel prints fewer); `None` without such a line.
pub fn parse_softirq(text: &str) -> Result<Option<([u64; 10], usize)>, ParseError> {
    let Some((i, line)) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with("softirq "))
    else {
        return Ok(None);
    };
    let mut counts = [0u64; 10];
    let mut n = 0;
    for (slot, (field, vector)) in counts
        .iter_mut()
        .zip(line.split_ascii_whitespace().skip(2).zip(SOFTIRQ_VECTORS))
    {
        *slot = u64_at(field, i + 1, vector)?;
        n += 1;
    }
    Ok(Some((counts, n)))
}

pub const COLLECTOR: Collector = Collector {
    name: "stat",
    enabled_by_default: true,
    flags: &[Flag::switch(
        "collector.stat.softirq",
        "Export the softirq calls per vector (node_softirqs_total{vector}) from /proc/stat.",
    )],
    help_section: None,
    sources: Sources {
        reads: &[What::File(Root::Proc, "stat")],
        hint: ROOT_ONLY,
    },
    build: Build::New(|s| Ok(Box::new(StatCollector::new(s)))),
};

pub struct StatCollector {
    softirq: bool,
}

impl StatCollector {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Self {
        StatCollector {
            softirq: s.switch("collector.stat.softirq"),
        }
    }
}

impl Collect for StatCollector {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        collect(ctx, out)?;
        if !self.softirq {
            return Ok(());
        }
        let Some((counts, n)) = parse_softirq(&ctx.buf).map_err(|e| ctx.src.parse_error(e))? else {
            return Ok(());
        };
        out.family(
            "node_softirqs_total",
            "Number of softirq calls.",
            Kind::Counter,
        );
        for (vector, v) in SOFTIRQ_VECTORS.iter().zip(counts).take(n) {
            out.u64(&[("vector", vector)], v);
        }
        Ok(())
    }
}

/// The six system-wide families; leaves /proc/stat in `ctx.buf`.
pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    ctx.src.read(Root::Proc, &["stat"], &mut ctx.buf)?;
    let s = parse_stat(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
    let families = [
        (
            "node_boot_time_seconds",
            "Node boot time, in unixtime.",
            Kind::Gauge,
            s.btime,
        ),
        (
            "node_context_switches_total",
            "Total number of context switches.",
            Kind::Counter,
            s.ctxt,
        ),
        (
            "node_forks_total",
            "Total number of forks.",
            Kind::Counter,
            s.processes,
        ),
        (
            "node_intr_total",
            "Total number of interrupts serviced.",
            Kind::Counter,
            s.intr,
        ),
        (
            "node_procs_running",
            "Number of processes in runnable state.",
            Kind::Gauge,
            s.procs_running,
        ),
        (
            "node_procs_blocked",
            "Number of processes blocked waiting for I/O to complete.",
            Kind::Gauge,
            s.procs_blocked,
        ),
    ];
    for (name, help, kind, v) in families {
        out.family(name, help, kind);
        out.u64(&[], v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured on a 2-CPU VM, kernel 6.18 (intr line shortened).
    const STAT_KERNEL_6_18: &str = "\
cpu  2743 0 2075 71880 421 0 34 29 0 0
cpu0 966 0 763 36844 28 0 6 11 0 0
cpu1 1777 0 1311 35035 393 0 27 17 0 0
intr 145176 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 15 0 0 0 0 77 38 0 18
ctxt 285229
btime 1795303909
processes 5790
procs_running 2
procs_blocked 0
softirq 85842 0 9472 4 1703 34293 0 13 21348 0 19009
";

    #[test]
    fn stat_kernel_6_18() {
        assert_eq!(
            parse_stat(STAT_KERNEL_6_18),
            Ok(Stat {
                btime: 1795303909,
                ctxt: 285229,
                processes: 5790,
                intr: 145176,
                procs_running: 2,
                procs_blocked: 0,
            })
        );
    }

    #[test]
    fn stat_128_cpus_and_large_counters() {
        let mut text = String::from("cpu  1 2 3 4 5 6 7 8 9 10\n");
        for cpu in 0..128 {
            text.push_str(&format!("cpu{cpu} 1 2 3 4 5 6 7 8 9 10\n"));
        }
        text.push_str("intr 18446744073709551615 1 2\nctxt 9007199254740993\nbtime 1\n");
        let s = parse_stat(&text).unwrap();
        assert_eq!(s.intr, u64::MAX);
        assert_eq!(s.ctxt, 9007199254740993);
        assert_eq!(s.btime, 1);
        // Missing lines read as 0, as node_exporter reports them.
        assert_eq!(s.processes, 0);
        assert_eq!(s.procs_blocked, 0);
    }

    #[test]
    fn stat_empty_and_garbage() {
        assert_eq!(parse_stat(""), Ok(Stat::default()));
        assert_eq!(
            parse_stat("cpu 1 2\nctxt lots\n").unwrap_err().to_string(),
            "line 2: expected an unsigned integer for ctxt, found \"lots\""
        );
        assert_eq!(
            parse_stat("btime -1\n").unwrap_err().to_string(),
            "line 1: expected an unsigned integer for btime, found \"-1\""
        );
        // A key without a value is skipped, as procfs does.
        assert_eq!(parse_stat("ctxt\n"), Ok(Stat::default()));
    }

    #[test]
    fn softirq_line() {
        assert_eq!(
            parse_softirq(STAT_KERNEL_6_18),
            Ok(Some((
                [0, 9472, 4, 1703, 34293, 0, 13, 21348, 0, 19009],
                10
            )))
        );
        assert_eq!(parse_softirq("cpu 1 2\n"), Ok(None));
        // A 2.6.30 kernel printed eight vectors.
        assert_eq!(
            parse_softirq("softirq 10 1 2 3 4 5 6 7 8\n"),
            Ok(Some(([1, 2, 3, 4, 5, 6, 7, 8, 0, 0], 8)))
        );
        assert_eq!(
            parse_softirq("ctxt 1\nsoftirq 10 1 x\n")
                .unwrap_err()
                .to_string(),
            "line 2: expected an unsigned integer for timer, found \"x\""
        );
    }

    #[test]
    fn softirq_flag() {
        let mut settings = crate::collector::default_settings();
        let run = |s: &Settings| {
            let mut ctx = crate::collector::fixture_ctx();
            let mut out = Encoder::new();
            StatCollector::new(s).collect(&mut ctx, &mut out).unwrap();
            String::from_utf8(out.as_bytes().to_vec()).unwrap()
        };
        assert!(!run(&settings).contains("softirq"));
        settings
            .set(&COLLECTOR.flags[0], crate::config::Value::Bool(true))
            .unwrap();
        let text = run(&settings);
        assert!(
            text.ends_with(
                "# TYPE node_softirqs_total counter
node_softirqs_total{vector=\"hi\"} 12
node_softirqs_total{vector=\"timer\"} 56789012345
node_softirqs_total{vector=\"net_tx\"} 456789
node_softirqs_total{vector=\"net_rx\"} 45678901234
node_softirqs_total{vector=\"block\"} 12345678
node_softirqs_total{vector=\"block_iopoll\"} 0
node_softirqs_total{vector=\"tasklet\"} 98765432
node_softirqs_total{vector=\"sched\"} 67890123456
node_softirqs_total{vector=\"hrtimer\"} 0
node_softirqs_total{vector=\"rcu\"} 98765432101
"
            ),
            "{text}"
        );
    }

    #[test]
    fn collect_fixtures() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        for want in [
            "# TYPE node_boot_time_seconds gauge\nnode_boot_time_seconds 1743426000\n",
            "# TYPE node_context_switches_total counter\nnode_context_switches_total 98765432109\n",
            "node_forks_total 87654321\n",
            "# TYPE node_intr_total counter\nnode_intr_total 167432109876\n",
            "# TYPE node_procs_running gauge\nnode_procs_running 3\n",
            "node_procs_blocked 1\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }
}
