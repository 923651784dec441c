//! `schedstat`: /proc/schedstat → node_schedstat_{running,waiting}_seconds_total{cpu} and
//! node_schedstat_timeslices_total{cpu}.
//!
//! Only the `cpu<N>` lines are read (versions 15–17 print them alike); their last three fields
//! are the run-queue's `rq_cpu_time` and `run_delay` in nanoseconds and `pcount`. Kernels built
//! without CONFIG_SCHEDSTATS have no such file and the collector fails, as node_exporter's does.
use crate::collector::{Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

/// The fields of one `cpu<N>` line that node_exporter exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedCpu<'a> {
    /// The digits after `cpu`, as written.
    pub cpu: &'a str,
    pub rq_cpu_time_ns: u64,
    pub run_delay_ns: u64,
    pub pcount: u64,
}

/// Fields after `cpu<N>`: yld_count, sched_switch (both legacy zeros), sched_count,
/// sched_goidle, ttwu_count, ttwu_local, rq_cpu_time, run_delay, pcount.
const CPU_FIELDS: usize = 9;

/// The `cpu<N>` lines of /proc/schedstat; `version`, `timestamp` and `domain<N>` lines are skipped.
pub fn parse_schedstat(text: &str) -> impl Iterator<Item = Result<SchedCpu<'_>, ParseError>> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let mut fields = line.split_ascii_whitespace();
        let cpu = fields
            .next()?
            .strip_prefix("cpu")
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))?;
        Some(parse_cpu_line(cpu, fields, i + 1))
    })
}

fn parse_cpu_line<'a>(
    cpu: &'a str,
    fields: impl Iterator<Item = &'a str>,
    n: usize,
) -> Result<SchedCpu<'a>, ParseError> {
    let mut v = [0u64; CPU_FIELDS];
    let mut found = 0;
    for field in fields {
        if let Some(slot) = v.get_mut(found) {
            *slot = u64_at(field, n, "a cpu counter")?;
        }
        found += 1;
    }
    match v {
        [.., rq_cpu_time_ns, run_delay_ns, pcount] if found >= CPU_FIELDS => Ok(SchedCpu {
            cpu,
            rq_cpu_time_ns,
            run_delay_ns,
            pcount,
        }),
        _ => Err(ParseError::new(
            n,
            format!("expected {CPU_FIELDS} numbers after cpu{cpu}, found {found}"),
        )),
    }
}

pub const COLLECTOR: Collector = Collector::plain(
    "schedstat",
    collect,
    Sources {
        reads: &[What::File(Root::Proc, "schedstat")],
        hint: "a kernel with CONFIG_SCHEDSTATS, or --no-collector.schedstat",
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    // A kernel without CONFIG_SCHEDSTATS has no /proc/schedstat.
    ctx.src
        .read(Root::Proc, &["schedstat"], &mut ctx.buf)
        .map_err(Error::absent_feature)?;
    out.family(
        "node_schedstat_running_seconds_total",
        "Number of seconds CPU spent running a process.",
        Kind::Counter,
    );
    for c in parse_schedstat(&ctx.buf) {
        let c = c.map_err(|e| ctx.src.parse_error(e))?;
        out.f64(&[("cpu", c.cpu)], c.rq_cpu_time_ns as f64 / 1e9);
    }
    out.family(
        "node_schedstat_waiting_seconds_total",
        "Number of seconds spent by processing waiting for this CPU.",
        Kind::Counter,
    );
    for c in parse_schedstat(&ctx.buf).flatten() {
        out.f64(&[("cpu", c.cpu)], c.run_delay_ns as f64 / 1e9);
    }
    out.family(
        "node_schedstat_timeslices_total",
        "Number of timeslices executed by CPU.",
        Kind::Counter,
    );
    for c in parse_schedstat(&ctx.buf).flatten() {
        out.u64(&[("cpu", c.cpu)], c.pcount);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpus(text: &str) -> Result<Vec<SchedCpu<'_>>, ParseError> {
        parse_schedstat(text).collect()
    }

    #[test]
    fn schedstat_version_15_kernel_5_15_two_cpus() {
        let text = "\
version 15
timestamp 4295017413
cpu0 0 0 0 0 0 0 2345678901234 123456789012 987654
domain0 03 1234 1230 2 4567 1 0 0 1230 12 12 0 23 0 0 0 12 345 340 3 678 5 0 4 336 0 0 0 0 0 0 0 0 0 12 0 0
cpu1 0 0 0 0 0 0 2234567890123 113456789012 887654
domain0 03 1134 1130 2 4467 1 0 0 1130 11 11 0 22 0 0 0 11 335 330 3 668 5 0 4 326 0 0 0 0 0 0 0 0 0 11 0 0
";
        assert_eq!(
            cpus(text),
            Ok(vec![
                SchedCpu {
                    cpu: "0",
                    rq_cpu_time_ns: 2345678901234,
                    run_delay_ns: 123456789012,
                    pcount: 987654
                },
                SchedCpu {
                    cpu: "1",
                    rq_cpu_time_ns: 2234567890123,
                    run_delay_ns: 113456789012,
                    pcount: 887654
                },
            ])
        );
    }

    #[test]
    fn schedstat_128_cpus_and_empty() {
        let text: String = (0..128)
            .map(|i| format!("cpu{i} 0 0 1 2 3 4 5 6 {i}\n"))
            .collect();
        let v = cpus(&text).unwrap();
        assert_eq!(v.len(), 128);
        assert_eq!(
            v[127],
            SchedCpu {
                cpu: "127",
                rq_cpu_time_ns: 5,
                run_delay_ns: 6,
                pcount: 127
            }
        );
        assert_eq!(cpus(""), Ok(vec![]));
        assert_eq!(cpus("version 15\ntimestamp 1\n"), Ok(vec![]));
    }

    #[test]
    fn schedstat_garbage() {
        assert_eq!(
            cpus("version 15\ncpu0 0 0 0 0 0 0 1 2\n")
                .unwrap_err()
                .to_string(),
            "line 2: expected 9 numbers after cpu0, found 8"
        );
        assert_eq!(
            cpus("cpu3 0 0 0 0 0 0 x 2 3\n").unwrap_err().to_string(),
            "line 1: expected an unsigned integer for a cpu counter, found \"x\""
        );
        // A line that only starts like a CPU line is not one.
        assert_eq!(cpus("cpufreq 1 2\ncpu 1\n"), Ok(vec![]));
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        for line in [
            "# TYPE node_schedstat_running_seconds_total counter\n",
            "node_schedstat_running_seconds_total{cpu=\"0\"} 9007199.254740993\n",
            "node_schedstat_waiting_seconds_total{cpu=\"3\"} 365432.109876543\n",
            "node_schedstat_timeslices_total{cpu=\"1\"} 74567890123\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 12);
    }
}
