//! `buddyinfo` (off by default, feature `server`): /proc/buddyinfo (free blocks of each order
//! per memory zone) → node_buddyinfo_blocks{node,zone,size}, as node_exporter 1.5 reports it:
//! `size` is the order (a block of 2^order pages), counted from 0.
use crate::collector::{Collector, Ctx, Sources, What};
use crate::expo::{u64_str, Encoder, Kind};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

/// One line of /proc/buddyinfo: `Node 0, zone   Normal  31237  12880 ...`.
#[derive(Debug, PartialEq, Eq)]
pub struct Zone<'a> {
    pub node: &'a str,
    pub zone: &'a str,
    /// The text of the per-order counts, checked by [`parse_buddyinfo`].
    counts: &'a str,
}

impl<'a> Zone<'a> {
    /// The free block counts, order 0 first.
    pub fn counts(&self) -> impl Iterator<Item = u64> + 'a {
        // Checked when parsed.
        self.counts
            .split_ascii_whitespace()
            .map(|c| c.parse().unwrap_or(0))
    }
}

/// Parses /proc/buddyinfo, giving each zone to `each` in file order. Every line must have the
/// same number of orders (MAX_ORDER + 1 of the kernel: 11 on most), as procfs requires; an
/// error may come after some zones were given (the scraper then drops the collector's output).
pub fn parse_buddyinfo<'a>(
    text: &'a str,
    mut each: impl FnMut(&Zone<'a>),
) -> Result<(), ParseError> {
    let mut orders = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let mut f = line.split_ascii_whitespace();
        let (Some("Node"), Some(node), Some("zone"), Some(zone)) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            return Err(ParseError::new(
                n,
                "expected \"Node N, zone NAME COUNT...\"",
            ));
        };
        let node = node.strip_suffix(',').unwrap_or(node);
        let counts = line
            .find(zone)
            .and_then(|at| line.get(at + zone.len()..))
            .unwrap_or("");
        let mut k = 0;
        for c in counts.split_ascii_whitespace() {
            u64_at(c, n, "a free block count")?;
            k += 1;
        }
        if k == 0 || orders.is_some_and(|o| o != k) {
            return Err(ParseError::new(
                n,
                format!(
                    "expected {} free block counts, found {k}",
                    orders.map_or("some".into(), |o: usize| o.to_string())
                ),
            ));
        }
        orders = Some(k);
        each(&Zone { node, zone, counts });
    }
    Ok(())
}

pub const COLLECTOR: Collector = Collector {
    name: "buddyinfo",
    enabled_by_default: false,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::File(Root::Proc, "buddyinfo")],
        hint: "every kernel has it; no privilege is needed",
    },
    build: crate::collector::Build::Plain(collect),
};

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    ctx.src.read(Root::Proc, &["buddyinfo"], &mut ctx.buf)?;
    out.family(
        "node_buddyinfo_blocks",
        "Count of free blocks according to size.",
        Kind::Gauge,
    );
    let mut tmp = [0u8; 20];
    parse_buddyinfo(&ctx.buf, |z| {
        for (order, count) in z.counts().enumerate() {
            let size = u64_str(&mut tmp, order as u64);
            out.u64(&[("node", z.node), ("size", size), ("zone", z.zone)], count);
        }
    })
    .map_err(|e| ctx.src.parse_error(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Zone<'_>>, ParseError> {
        let mut v = Vec::new();
        parse_buddyinfo(text, |z| {
            v.push(Zone {
                node: z.node,
                zone: z.zone,
                counts: z.counts,
            })
        })
        .map(|()| v)
    }

    #[test]
    fn two_nodes_eleven_orders() {
        let text = "Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      2 \n\
                    Node 1, zone   Normal  18502   9021   3990   2213   1022    460    201     88     31     12    988 \n";
        let z = parse(text).unwrap();
        assert_eq!(z.len(), 2);
        assert_eq!((z[0].node, z[0].zone), ("0", "DMA"));
        assert_eq!(
            z[0].counts().collect::<Vec<_>>(),
            [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2]
        );
        assert_eq!((z[1].node, z[1].zone), ("1", "Normal"));
        assert_eq!(z[1].counts().last(), Some(988));
    }

    #[test]
    fn zone_names_with_dashes_and_many_orders() {
        // arm64 with 64 KiB pages has fewer orders; some kernels name zones Movable or Device.
        let text = "Node 127, zone Movable-x 1 2 3 4 5 6 7 8 9 10 11 12 13 14\n";
        let z = parse(text).unwrap();
        assert_eq!((z[0].node, z[0].zone), ("127", "Movable-x"));
        assert_eq!(z[0].counts().count(), 14);
    }

    #[test]
    fn garbage() {
        assert_eq!(
            parse("Node 0 DMA 1 2\n").unwrap_err().to_string(),
            "line 1: expected \"Node N, zone NAME COUNT...\""
        );
        assert_eq!(
            parse("Node 0, zone DMA 1 x\n").unwrap_err().to_string(),
            "line 1: expected an unsigned integer for a free block count, found \"x\""
        );
        assert_eq!(
            parse("Node 0, zone DMA 1 2\nNode 0, zone Normal 1\n")
                .unwrap_err()
                .to_string(),
            "line 2: expected 2 free block counts, found 1"
        );
        assert_eq!(
            parse("Node 0, zone DMA\n").unwrap_err().to_string(),
            "line 1: expected some free block counts, found 0"
        );
        assert_eq!(parse(""), Ok(vec![]));
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert_eq!(text.lines().count(), 2 + 4 * 11);
        assert!(
            text.contains("node_buddyinfo_blocks{node=\"0\",size=\"10\",zone=\"Normal\"} 103\n")
        );
        assert!(
            text.contains("node_buddyinfo_blocks{node=\"1\",size=\"0\",zone=\"Normal\"} 18502\n")
        );
    }
}
