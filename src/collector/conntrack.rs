//! `conntrack`: /proc/sys/net/netfilter/nf_conntrack_{count,max} → node_nf_conntrack_entries and
//! node_nf_conntrack_entries_limit, and /proc/net/stat/nf_conntrack (one hex row per CPU, summed)
//! → node_nf_conntrack_stat_*.
//!
//! Without the nf_conntrack module none of the files exist and the collector fails, as
//! node_exporter 1.5's does (it returns "no data", which also reports success 0). node_exporter
//! 1.5 exports the stat counters as gauges; so do we.
use crate::collector::{Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::source::{Error, ParseError, Root};

/// Parses a hexadecimal field as the kernel prints it (`%08x`): hex digits only, no `0x`, no
/// sign, like Go's `strconv.ParseUint(s, 16, 64)` that node_exporter uses.
pub fn hex_at(s: &str, line: usize, what: &str) -> Result<u64, ParseError> {
    let digits_only = !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    digits_only
        .then(|| u64::from_str_radix(s, 16).ok())
        .flatten()
        .ok_or_else(|| {
            ParseError::new(
                line,
                format!("expected a hexadecimal number for {what}, found {s:?}"),
            )
        })
}

/// Parses nf_conntrack_count / nf_conntrack_max: one decimal number, surrounding white space
/// allowed (node_exporter trims it, then parses strictly).
pub fn parse_count(text: &str, what: &str) -> Result<u64, ParseError> {
    let s = text.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::new(
            1,
            format!("expected an unsigned integer for {what}, found {s:?}"),
        ));
    }
    crate::parse::u64_at(s, 1, what)
}

/// The columns of /proc/net/stat/nf_conntrack that node_exporter exports, by position: the
/// header names changed across kernels (`searched` became `clashres`), the positions did not.
const STATS: [(usize, &str, &str); 8] = [
    (
        2,
        "node_nf_conntrack_stat_found",
        "Number of searched entries which were successful.",
    ),
    (
        4,
        "node_nf_conntrack_stat_invalid",
        "Number of packets seen which can not be tracked.",
    ),
    (
        5,
        "node_nf_conntrack_stat_ignore",
        "Number of packets seen which are already connected to a conntrack entry.",
    ),
    (
        8,
        "node_nf_conntrack_stat_insert",
        "Number of entries inserted into the list.",
    ),
    (
        9,
        "node_nf_conntrack_stat_insert_failed",
        "Number of entries for which list insertion was attempted but failed.",
    ),
    (
        10,
        "node_nf_conntrack_stat_drop",
        "Number of packets dropped due to conntrack failure.",
    ),
    (
        11,
        "node_nf_conntrack_stat_early_drop",
        "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
    ),
    (
        16,
        "node_nf_conntrack_stat_search_restart",
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
    ),
];

/// node_exporter 1.5 (procfs 0.8) accepts only rows of exactly this many columns.
const COLUMNS: usize = 17;

/// Parses /proc/net/stat/nf_conntrack and sums each exported column over the CPU rows, in the
/// order of [`STATS`]. The first line is the header and is skipped whatever it says.
pub fn parse_conntrack_stat(text: &str) -> Result<[u64; STATS.len()], ParseError> {
    let mut sums = [0u64; STATS.len()];
    for (i, line) in text.lines().enumerate().skip(1) {
        let n = i + 1;
        let mut row = [0u64; COLUMNS];
        let mut found = 0;
        for field in line.split_whitespace() {
            // Like node_exporter 1.5, only `entries` and the exported columns must be numbers.
            let parsed = found == 0 || STATS.iter().any(|&(col, _, _)| col == found);
            if let (true, Some(slot)) = (parsed, row.get_mut(found)) {
                *slot = hex_at(field, n, "a conntrack counter")?;
            }
            found += 1;
        }
        if found != COLUMNS {
            return Err(ParseError::new(
                n,
                format!("expected {COLUMNS} hexadecimal columns, found {found}"),
            ));
        }
        for (sum, &(col, _, _)) in sums.iter_mut().zip(&STATS) {
            // Go's uint64 sum wraps; so does ours rather than panicking.
            *sum = sum.wrapping_add(row.get(col).copied().unwrap_or(0));
        }
    }
    Ok(sums)
}

pub const COLLECTOR: Collector = Collector::plain(
    "conntrack",
    collect,
    Sources {
    reads: &[
        What::File(Root::Proc, "net/stat/nf_conntrack"),
        What::File(Root::Proc, "sys/net/netfilter/nf_conntrack_count"),
        What::File(Root::Proc, "sys/net/netfilter/nf_conntrack_max"),
    ],
    hint: "load the nf_conntrack module (modprobe nf_conntrack) or disable with --no-collector.conntrack",
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    let counts = [
        (
            "nf_conntrack_count",
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
        ),
        (
            "nf_conntrack_max",
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
        ),
    ];
    for (file, name, help) in counts {
        // Without the nf_conntrack module there is no sys/net/netfilter/nf_conntrack_*.
        ctx.src
            .read(Root::Proc, &["sys/net/netfilter/", file], &mut ctx.buf)
            .map_err(Error::absent_feature)?;
        let v = parse_count(&ctx.buf, file).map_err(|e| ctx.src.parse_error(e))?;
        out.family(name, help, Kind::Gauge);
        out.u64(&[], v);
    }
    ctx.src
        .read(Root::Proc, &["net/stat/nf_conntrack"], &mut ctx.buf)?;
    let sums = parse_conntrack_stat(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
    for (&(_, name, help), v) in STATS.iter().zip(sums) {
        out.family(name, help, Kind::Gauge);
        out.u64(&[], v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER_5_15: &str = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n";

    #[test]
    fn conntrack_stat_kernel_6_18_two_cpus() {
        let text = format!(
            "{HEADER_5_15}\
0000001e  00000001 00000010 00000000 00000003 ffffffff 00000000 00000000 00000020 00000001 00000002 00000004 00000000  00000000 00000000 00000000 00000007
0000001e  00000000 00000001 00000000 00000000 ffffffff 00000000 00000000 00000001 00000000 00000000 00000001 00000000  00000000 00000000 00000000 00000001
"
        );
        // found invalid ignore insert insert_failed drop early_drop search_restart
        assert_eq!(
            parse_conntrack_stat(&text),
            Ok([0x11, 3, 0x1_ffff_fffe, 0x21, 1, 2, 5, 8])
        );
    }

    #[test]
    fn conntrack_stat_old_header_and_empty() {
        let old = "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
00000005  0000000a 00000002 00000000 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n";
        assert_eq!(parse_conntrack_stat(old), Ok([2, 0, 1, 0, 0, 0, 0, 0]));
        assert_eq!(parse_conntrack_stat(HEADER_5_15), Ok([0; 8]));
        assert_eq!(parse_conntrack_stat(""), Ok([0; 8]));
    }

    #[test]
    fn conntrack_stat_garbage() {
        let sixteen = format!("{HEADER_5_15}00000001 00000002 00000003 00000004 00000005 00000006 00000007 00000008 00000009 0000000a 0000000b 0000000c 0000000d 0000000e 0000000f 00000010\n");
        assert_eq!(
            parse_conntrack_stat(&sixteen).unwrap_err().to_string(),
            "line 2: expected 17 hexadecimal columns, found 16"
        );
        let blank = format!("{HEADER_5_15}\n");
        assert_eq!(
            parse_conntrack_stat(&blank).unwrap_err().to_string(),
            "line 2: expected 17 hexadecimal columns, found 0"
        );
        let unused = format!("{HEADER_5_15}1 zz 1 zz 1 1 zz zz 1 1 1 1 zz zz zz zz 1\n");
        assert_eq!(parse_conntrack_stat(&unused), Ok([1; 8]));
        let bad = format!("{HEADER_5_15}0x1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
        assert_eq!(
            parse_conntrack_stat(&bad).unwrap_err().to_string(),
            "line 2: expected a hexadecimal number for a conntrack counter, found \"0x1\""
        );
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("262144\n", "nf_conntrack_max"), Ok(262144));
        assert_eq!(parse_count(" 0 \n", "nf_conntrack_count"), Ok(0));
        assert_eq!(
            parse_count("+5\n", "nf_conntrack_count")
                .unwrap_err()
                .to_string(),
            "line 1: expected an unsigned integer for nf_conntrack_count, found \"+5\""
        );
        assert!(parse_count("", "nf_conntrack_count").is_err());
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        for line in [
            "node_nf_conntrack_entries 1837\n",
            "node_nf_conntrack_entries_limit 65536\n",
            "node_nf_conntrack_stat_found 458203\n",
            "node_nf_conntrack_stat_ignore 14763884529\n",
            "node_nf_conntrack_stat_search_restart 10474\n",
            "# TYPE node_nf_conntrack_stat_drop gauge\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert_eq!(text.matches("# TYPE").count(), 10);
    }

    #[test]
    fn collect_without_module_is_unavailable_naming_the_file() {
        let mut ctx = crate::collector::fixture_ctx();
        ctx.src.procfs = "/nonexistent-proctap".into();
        let e = collect(&mut ctx, &mut Encoder::new()).unwrap_err();
        assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
        assert!(e
            .to_string()
            .starts_with("/nonexistent-proctap/sys/net/netfilter/nf_conntrack_count: "));
    }
}
