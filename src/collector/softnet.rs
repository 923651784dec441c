//! `softnet`: /proc/net/softnet_stat → node_softnet_{processed,dropped,times_squeezed}_total{cpu}.
//!
//! One row of `%08x` columns per online CPU; kernels print 9 (2.6), 10–11 (3.x/4.x), 13 (5.10)
//! or 15 (6.x) columns. node_exporter 1.5 reads only the first three and labels each row with its
//! position in the file, not with the CPU id column that 5.10+ prints (they differ only when a
//! CPU is offline); we do the same so the series match.
use crate::collector::conntrack::hex_at;
use crate::collector::{Collector, Ctx, Sources, What, ROOT_ONLY};
use crate::expo::{u64_str, Encoder, Kind};
use crate::source::{Error, ParseError, Root};

/// node_exporter 1.5 rejects rows with fewer columns than the oldest format has.
const MIN_COLUMNS: usize = 9;

/// `[processed, dropped, time_squeeze]` of one CPU row.
pub type Row = [u32; 3];

/// The rows of /proc/net/softnet_stat in file order.
pub fn parse_softnet(text: &str) -> impl Iterator<Item = Result<Row, ParseError>> + '_ {
    text.lines().enumerate().map(|(i, line)| {
        let n = i + 1;
        let mut row = [0u32; 3];
        let mut found = 0;
        for field in line.split_whitespace() {
            if let Some(slot) = row.get_mut(found) {
                let v = hex_at(field, n, "a softnet counter")?;
                *slot = u32::try_from(v).map_err(|_| {
                    ParseError::new(n, format!("expected a 32-bit counter, found {field:?}"))
                })?;
            }
            found += 1;
        }
        if found < MIN_COLUMNS {
            return Err(ParseError::new(
                n,
                format!("expected at least {MIN_COLUMNS} hexadecimal columns, found {found}"),
            ));
        }
        Ok(row)
    })
}

const FAMILIES: [(&str, &str); 3] = [
    (
        "node_softnet_processed_total",
        "Number of processed packets",
    ),
    ("node_softnet_dropped_total", "Number of dropped packets"),
    (
        "node_softnet_times_squeezed_total",
        "Number of times processing packets ran out of quota",
    ),
];

pub const COLLECTOR: Collector = Collector::plain(
    "softnet",
    collect,
    Sources {
        reads: &[What::File(Root::Proc, "net/softnet_stat")],
        hint: ROOT_ONLY,
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    ctx.src
        .read(Root::Proc, &["net/softnet_stat"], &mut ctx.buf)?;
    for (col, (name, help)) in FAMILIES.into_iter().enumerate() {
        out.family(name, help, Kind::Counter);
        for (cpu, row) in parse_softnet(&ctx.buf).enumerate() {
            let row = row.map_err(|e| ctx.src.parse_error(e))?;
            let mut tmp = [0u8; 20];
            let cpu = u64_str(&mut tmp, cpu as u64);
            out.u64(&[("cpu", cpu)], row.get(col).copied().map_or(0, u64::from));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Result<Vec<Row>, ParseError> {
        parse_softnet(text).collect()
    }

    #[test]
    fn softnet_kernel_6_18_fifteen_columns() {
        let text = "\
00009f87 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
0000a604 00000002 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 00000000 00000000
";
        assert_eq!(rows(text), Ok(vec![[0x9f87, 0, 1], [0xa604, 2, 1]]));
    }

    #[test]
    fn softnet_old_kernels_9_10_and_11_columns() {
        let text = "\
ffffffff 00000001 00000002 00000000 00000000 00000000 00000000 00000000 00000000
00000010 00000000 00000003 00000000 00000000 00000000 00000000 00000000 00000000 00000005
00000020 00000000 00000004 00000000 00000000 00000000 00000000 00000000 00000000 00000005 00000000
";
        assert_eq!(
            rows(text),
            Ok(vec![[u32::MAX, 1, 2], [0x10, 0, 3], [0x20, 0, 4]])
        );
    }

    #[test]
    fn softnet_128_cpus_and_empty() {
        let line = "00000001 00000002 00000003 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 0000007f\n";
        assert_eq!(rows(&line.repeat(128)).unwrap().len(), 128);
        assert_eq!(rows(""), Ok(vec![]));
    }

    #[test]
    fn softnet_garbage() {
        let e = |t: &str| rows(t).unwrap_err().to_string();
        assert_eq!(
            e("00000001 00000000 00000001 00000000 00000000 00000000 00000000 00000000\n"),
            "line 1: expected at least 9 hexadecimal columns, found 8"
        );
        let ok =
            "00000001 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000\n";
        assert_eq!(
            e(&format!("{ok}\n{ok}")),
            "line 2: expected at least 9 hexadecimal columns, found 0"
        );
        assert_eq!(
            e("+1 0 1 0 0 0 0 0 0\n"),
            "line 1: expected a hexadecimal number for a softnet counter, found \"+1\""
        );
        assert_eq!(
            e("100000000 0 1 0 0 0 0 0 0\n"),
            "line 1: expected a 32-bit counter, found \"100000000\""
        );
        // Columns after the third are not read, as in node_exporter 1.5.
        assert!(rows("1 0 1 0 0 0 0 zz 0\n").is_ok());
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        for line in [
            "# TYPE node_softnet_processed_total counter\n",
            "node_softnet_processed_total{cpu=\"0\"} 4265253906\n",
            "node_softnet_dropped_total{cpu=\"1\"} 18\n",
            "node_softnet_times_squeezed_total{cpu=\"3\"} 11127\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 12);
    }
}
