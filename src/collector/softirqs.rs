//! `softirqs` (off by default): /proc/softirqs → node_softirqs_functions_total{cpu,type}, the
//! softirqs each CPU ran per kind, as node_exporter 1.6 (which added the collector) reports
//! them. The kinds are the kernel's ten (HI ... RCU); a row of another name is skipped, as
//! node_exporter skips it.
use crate::collector::{Collector, Ctx, Sources, What, ROOT_ONLY};
use crate::expo::{u64_str, Encoder, Kind};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

/// The rows node_exporter exports, in its order.
pub const KINDS: [&str; 10] = [
    "HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU",
];

/// The rows of /proc/softirqs after the `CPU0 CPU1 ...` header that are one of [`KINDS`]:
/// (kind, counts as text). Every count must be a number; a row may have fewer counts than the
/// header has CPUs.
pub fn parse_softirqs(
    text: &str,
) -> impl Iterator<Item = Result<(&str, std::str::SplitAsciiWhitespace<'_>), ParseError>> {
    text.lines().enumerate().skip(1).filter_map(|(i, line)| {
        let (kind, counts) = line.split_once(':')?;
        if !KINDS.contains(&kind.trim()) {
            return None;
        }
        let counts_ok = counts
            .split_ascii_whitespace()
            .try_for_each(|c| u64_at(c, i + 1, kind.trim()).map(drop));
        Some(counts_ok.map(|()| (kind.trim(), counts.split_ascii_whitespace())))
    })
}

pub const COLLECTOR: Collector = Collector {
    name: "softirqs",
    enabled_by_default: false,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::File(Root::Proc, "softirqs")],
        hint: ROOT_ONLY,
    },
    build: crate::collector::Build::Plain(collect),
};

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    ctx.src.read(Root::Proc, &["softirqs"], &mut ctx.buf)?;
    for row in parse_softirqs(&ctx.buf) {
        row.map_err(|e| ctx.src.parse_error(e))?;
    }
    out.family(
        "node_softirqs_functions_total",
        "Softirq counts per CPU.",
        Kind::Counter,
    );
    let mut n = [0u8; 20];
    for kind in KINDS {
        // The whole file parsed above.
        for (_, counts) in parse_softirqs(&ctx.buf)
            .flatten()
            .filter(|(k, _)| *k == kind)
        {
            for (cpu, count) in counts.enumerate() {
                let v = count.parse::<u64>().unwrap_or(0);
                out.u64(&[("cpu", u64_str(&mut n, cpu as u64)), ("type", kind)], v);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // A 2-CPU VM, kernel 6.18.
    const SOFTIRQS_KERNEL_6_18: &str = "                    CPU0       CPU1
          HI:          0          1
       TIMER:      11052      24361
      NET_TX:          4          2
      NET_RX:        995       1713
       BLOCK:      21118        230
    IRQ_POLL:          0          0
     TASKLET:         13          0
       SCHED:      51893      77820
     HRTIMER:          0          0
         RCU:      21402      36190
";

    #[test]
    fn rows() {
        let rows: Vec<(&str, Vec<&str>)> = parse_softirqs(SOFTIRQS_KERNEL_6_18)
            .map(|r| r.map(|(k, c)| (k, c.collect())).unwrap())
            .collect();
        assert_eq!(rows.len(), 10);
        assert_eq!(rows[1], ("TIMER", vec!["11052", "24361"]));
        assert_eq!(rows[9].0, "RCU");
    }

    fn text(input: &str) -> String {
        let dir = std::env::temp_dir().join(format!(
            "proctap-softirqs-{}-{}",
            std::process::id(),
            input.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("softirqs"), input).unwrap();
        let src = crate::source::Source::new(dir.clone(), "/nonexistent".into(), "/".into());
        let mut out = Encoder::new();
        let r = collect(&mut Ctx::new(src), &mut out);
        std::fs::remove_dir_all(&dir).unwrap();
        r.map(|()| String::from_utf8(out.as_bytes().to_vec()).unwrap())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn many_cpus_old_row_names_and_garbage() {
        let mut t = String::from("       ");
        for c in 0..128 {
            t.push_str(&format!(" CPU{c}"));
        }
        t.push_str("\n HI:");
        t.push_str(&" 7".repeat(128));
        // Kernels before 4.5 call IRQ_POLL BLOCK_IOPOLL; node_exporter skips that row.
        t.push_str("\n BLOCK_IOPOLL: 1 2\n");
        let out = text(&t);
        assert_eq!(out.matches("type=\"HI\"} 7\n").count(), 128);
        assert!(out.contains("{cpu=\"127\",type=\"HI\"} 7\n"));
        assert!(!out.contains("BLOCK_IOPOLL"));
        let out = text("    CPU0\n  NET_RX: 12 x\n");
        assert!(
            out.starts_with("error: ")
                && out
                    .ends_with("/softirqs:2: expected an unsigned integer for NET_RX, found \"x\""),
            "{out}"
        );
    }

    #[test]
    fn collect_fixtures() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(text.starts_with("# HELP node_softirqs_functions_total Softirq counts per CPU.\n# TYPE node_softirqs_functions_total counter\nnode_softirqs_functions_total{cpu=\"0\",type=\"HI\"} 3\n"), "{text}");
        assert!(
            text.contains("node_softirqs_functions_total{cpu=\"3\",type=\"RCU\"} 17777777779\n")
        );
        assert_eq!(text.lines().count(), 2 + 40);
    }
}
