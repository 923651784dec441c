//! `pressure`: /proc/pressure/{cpu,io,memory} → node_pressure_*_seconds_total.
//!
//! node_exporter 1.5 exports `some` for all three and `full` for io and memory only; the `full`
//! line that kernels since 5.13 print for cpu is not exported. Totals are in microseconds.
use crate::collector::{Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::parse::{f64_at, u64_at};
use crate::source::{Error, ParseError, Root};

/// The cumulative stall times of one /proc/pressure file, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Psi {
    pub some: Option<u64>,
    pub full: Option<u64>,
}

/// Parses `some avg10=1.89 avg60=1.14 avg300=0.71 total=5163447` and the `full` line; lines
/// with another first word are ignored so that a future kernel's additions do not break it.
pub fn parse_psi(text: &str) -> Result<Psi, ParseError> {
    let mut psi = Psi::default();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let mut fields = line.split_ascii_whitespace();
        let slot = match fields.next() {
            Some("some") => &mut psi.some,
            Some("full") => &mut psi.full,
            _ => continue,
        };
        for key in ["avg10", "avg60", "avg300"] {
            let value = field(fields.next(), key, n)?;
            f64_at(value, n, key)?;
        }
        *slot = Some(u64_at(field(fields.next(), "total", n)?, n, "total")?);
    }
    Ok(psi)
}

/// The value of the next `key=value` field, which must be `key`.
fn field<'a>(found: Option<&'a str>, key: &str, n: usize) -> Result<&'a str, ParseError> {
    found
        .and_then(|f| f.strip_prefix(key)?.strip_prefix('='))
        .ok_or_else(|| {
            ParseError::new(
                n,
                format!("expected {key}=<number>, found {:?}", found.unwrap_or("")),
            )
        })
}

struct Family {
    name: &'static str,
    help: &'static str,
    full: bool,
}

const RESOURCES: [(&str, &[Family]); 3] = [
    (
        "cpu",
        &[Family {
            name: "node_pressure_cpu_waiting_seconds_total",
            help: "Total time in seconds that processes have waited for CPU time",
            full: false,
        }],
    ),
    (
        "io",
        &[
            Family {
                name: "node_pressure_io_waiting_seconds_total",
                help: "Total time in seconds that processes have waited due to IO congestion",
                full: false,
            },
            Family {
                name: "node_pressure_io_stalled_seconds_total",
                help: "Total time in seconds no process could make progress due to IO congestion",
                full: true,
            },
        ],
    ),
    (
        "memory",
        &[
            Family {
                name: "node_pressure_memory_waiting_seconds_total",
                help: "Total time in seconds that processes have waited for memory",
                full: false,
            },
            Family {
                name: "node_pressure_memory_stalled_seconds_total",
                help:
                    "Total time in seconds no process could make progress due to memory congestion",
                full: true,
            },
        ],
    ),
];

pub const COLLECTOR: Collector = Collector::plain(
    "pressure",
    collect,
    Sources {
    reads: &[
        What::File(Root::Proc, "pressure/cpu"),
        What::File(Root::Proc, "pressure/io"),
        What::File(Root::Proc, "pressure/memory"),
    ],
    hint: "a kernel with CONFIG_PSI (and psi=1 on its command line where it is off by default), or --no-collector.pressure",
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    for (resource, families) in RESOURCES {
        // A kernel without CONFIG_PSI has no /proc/pressure; with psi=0 reads fail with
        // EOPNOTSUPP.
        ctx.src
            .read(Root::Proc, &["pressure/", resource], &mut ctx.buf)
            .map_err(Error::absent_feature)?;
        let psi = parse_psi(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
        for f in families {
            let (line, total) = if f.full {
                ("full", psi.full)
            } else {
                ("some", psi.some)
            };
            let total = total.ok_or_else(|| {
                ctx.src
                    .parse_error(ParseError::new(0, format!("expected a {line:?} line")))
            })?;
            out.family(f.name, f.help, Kind::Counter);
            // Two divisions, exactly as node_exporter computes it.
            out.f64(&[], total as f64 / 1000.0 / 1000.0);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    #[test]
    fn psi_cpu_kernel_6_18_has_full() {
        let text = "\
some avg10=1.89 avg60=1.14 avg300=0.71 total=5163447
full avg10=0.00 avg60=0.00 avg300=0.00 total=0
";
        assert_eq!(
            parse_psi(text),
            Ok(Psi {
                some: Some(5163447),
                full: Some(0)
            })
        );
    }

    #[test]
    fn psi_cpu_kernel_5_10_some_only() {
        let text = "some avg10=0.00 avg60=0.12 avg300=0.30 total=18446744073709551615\n";
        assert_eq!(
            parse_psi(text),
            Ok(Psi {
                some: Some(u64::MAX),
                full: None
            })
        );
    }

    #[test]
    fn psi_unknown_lines_and_empty() {
        assert_eq!(parse_psi(""), Ok(Psi::default()));
        assert_eq!(
            parse_psi("peak avg10=1\nsome avg10=0.00 avg60=0.00 avg300=0.00 total=7\n"),
            Ok(Psi {
                some: Some(7),
                full: None
            })
        );
    }

    #[test]
    fn psi_garbage() {
        let err = |t| parse_psi(t).unwrap_err().to_string();
        assert_eq!(
            err("some avg10=0.00 avg60=0.00\n"),
            "line 1: expected avg300=<number>, found \"\""
        );
        assert_eq!(
            err("some avg10=0.00 avg60=0.00 avg300=0.00 sum=3\n"),
            "line 1: expected total=<number>, found \"sum=3\""
        );
        assert_eq!(
            err("some avg10=0.00 avg60=x avg300=0.00 total=3\n"),
            "line 1: expected a number for avg60, found \"x\""
        );
        assert_eq!(
            err("full avg10=0 avg60=0 avg300=0 total=-3\n"),
            "line 1: expected an unsigned integer for total, found \"-3\""
        );
    }

    fn ctx_at(proc: &str) -> Ctx {
        let src = Source::new(proc.into(), "/nonexistent".into(), "/".into());
        Ctx::new(src)
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = ctx_at(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/proc"));
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        let samples: Vec<_> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "node_pressure_cpu_waiting_seconds_total 5163.447201",
                "node_pressure_io_waiting_seconds_total 98765.432109",
                "node_pressure_io_stalled_seconds_total 87654.321098",
                "node_pressure_memory_waiting_seconds_total 1.234567",
                "node_pressure_memory_stalled_seconds_total 0.987654",
            ]
        );
        assert!(text.starts_with(
            "# HELP node_pressure_cpu_waiting_seconds_total Total time in seconds that processes have waited for CPU time\n# TYPE node_pressure_cpu_waiting_seconds_total counter\n"
        ));
    }

    #[test]
    fn collect_missing_full_line() {
        let dir = std::env::temp_dir().join(format!("proctap-psi-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("pressure")).unwrap();
        let some = "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n";
        std::fs::write(dir.join("pressure/cpu"), some).unwrap();
        std::fs::write(dir.join("pressure/io"), some).unwrap();
        let mut ctx = ctx_at(dir.to_str().unwrap());
        let e = collect(&mut ctx, &mut Encoder::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: expected a \"full\" line",
                dir.join("pressure/io").display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
