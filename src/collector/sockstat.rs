//! `sockstat`: /proc/net/sockstat and sockstat6 → node_sockstat_<PROTO>_<key>, plus
//! node_sockstat_<PROTO>_mem_bytes (`mem` is in pages) and node_sockstat_sockets_used.
use crate::collector::{Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::parse::i64_at;
use crate::source::{Error, ParseError, Root};

/// One line of a sockstat file: `TCP: inuse 37 orphan 2 tw 118 alloc 61 mem 29`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// `sockets`, `TCP`, `UDP6`, … without the colon.
    pub proto: &'a str,
    /// The `key value` pairs, already checked to be pairs with integer values.
    pairs: &'a str,
}

impl<'a> Line<'a> {
    /// The value of `key`, if the line has it.
    pub fn get(&self, key: &str) -> Option<i64> {
        let mut fields = self.pairs.split_ascii_whitespace();
        while let (Some(k), Some(v)) = (fields.next(), fields.next()) {
            if k == key {
                return v.parse().ok();
            }
        }
        None
    }
}

/// Parses a sockstat or sockstat6 file, checking each line completely.
pub fn parse_sockstat(text: &str) -> impl Iterator<Item = Result<Line<'_>, ParseError>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| parse_line(i + 1, line))
}

fn parse_line(n: usize, line: &str) -> Result<Line<'_>, ParseError> {
    let line = line.trim();
    let (proto, pairs) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let proto = proto
        .strip_suffix(':')
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .ok_or_else(|| {
            ParseError::new(
                n,
                format!("expected a protocol like \"TCP:\", found {proto:?}"),
            )
        })?;
    let mut fields = pairs.split_ascii_whitespace();
    let mut count = 0;
    loop {
        match (fields.next(), fields.next()) {
            (Some(key), Some(value)) => {
                i64_at(value, n, key)?;
                count += 1;
            }
            (None, _) if count > 0 => break,
            (None, _) => {
                return Err(ParseError::new(
                    n,
                    format!("expected key/value pairs after {proto}:, found none"),
                ))
            }
            (Some(key), None) => {
                return Err(ParseError::new(
                    n,
                    format!("expected a value after {key:?}, found the end of the line"),
                ))
            }
        }
    }
    Ok(Line { proto, pairs })
}

/// The keys node_exporter exports, in its order; `inuse` is written as 0 when missing.
const KEYS: [&str; 6] = ["inuse", "orphan", "tw", "alloc", "mem", "memory"];

pub const COLLECTOR: Collector = Collector::plain(
    "sockstat",
    collect,
    Sources {
        reads: &[
            What::Optional(Root::Proc, "net/sockstat"),
            What::Optional(Root::Proc, "net/sockstat6"),
        ],
        hint: "net/sockstat6 exists only with IPv6 enabled",
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    let page_size = i64::try_from(ctx.page_size).unwrap_or(4096);
    // Either file is missing when its IP version is disabled in the kernel.
    for (file, ipv6) in [("net/sockstat", false), ("net/sockstat6", true)] {
        if !ctx.src.read_optional(Root::Proc, &[file], &mut ctx.buf)? {
            continue;
        }
        let help = &mut ctx.buf2;
        for line in parse_sockstat(&ctx.buf) {
            let line = line.map_err(|e| ctx.src.parse_error(e))?;
            if line.proto == "sockets" {
                if !ipv6 {
                    out.family(
                        "node_sockstat_sockets_used",
                        "Number of IPv4 sockets in use.",
                        Kind::Gauge,
                    );
                    out.i64(&[], line.get("used").unwrap_or(0));
                }
                continue;
            }
            let mem_bytes = match line.get("mem") {
                Some(pages) => Some(pages.checked_mul(page_size).ok_or_else(|| {
                    ctx.src.parse_error(ParseError::new(
                        0,
                        format!("{}: mem {pages} pages overflows in bytes", line.proto),
                    ))
                })?),
                None => None,
            };
            let values = KEYS
                .iter()
                .map(|&key| (key, line.get(key).or((key == "inuse").then_some(0))))
                .chain([("mem_bytes", mem_bytes)]);
            for (key, value) in values {
                let Some(value) = value else { continue };
                help.clear();
                for part in ["Number of ", line.proto, " sockets in state ", key, "."] {
                    help.push_str(part);
                }
                out.family_parts(&["node_sockstat_", line.proto, "_", key], help, Kind::Gauge);
                out.i64(&[], value);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    fn values(text: &str) -> Vec<(&str, Vec<Option<i64>>)> {
        parse_sockstat(text)
            .map(|l| {
                let l = l.unwrap();
                let keys = ["used", "inuse", "orphan", "tw", "alloc", "mem", "memory"];
                (l.proto, keys.iter().map(|k| l.get(k)).collect())
            })
            .collect()
    }

    #[test]
    fn sockstat_kernel_6_18() {
        let text = "\
sockets: used 12
TCP: inuse 1 orphan 0 tw 1 alloc 1 mem 264
UDP: inuse 0 mem 0
UDPLITE: inuse 0
RAW: inuse 0
FRAG: inuse 0 memory 0
";
        let n = None;
        assert_eq!(
            values(text),
            [
                ("sockets", vec![Some(12), n, n, n, n, n, n]),
                (
                    "TCP",
                    vec![n, Some(1), Some(0), Some(1), Some(1), Some(264), n]
                ),
                ("UDP", vec![n, Some(0), n, n, n, Some(0), n]),
                ("UDPLITE", vec![n, Some(0), n, n, n, n, n]),
                ("RAW", vec![n, Some(0), n, n, n, n, n]),
                ("FRAG", vec![n, Some(0), n, n, n, n, Some(0)]),
            ]
        );
    }

    #[test]
    fn sockstat6_kernel_6_18() {
        let text = "TCP6: inuse 3\nUDP6: inuse 2\nUDPLITE6: inuse 0\nRAW6: inuse 1\nFRAG6: inuse 0 memory 0\n";
        let protos: Vec<_> = values(text).into_iter().map(|(p, _)| p).collect();
        assert_eq!(protos, ["TCP6", "UDP6", "UDPLITE6", "RAW6", "FRAG6"]);
        assert_eq!(parse_sockstat("").count(), 0);
    }

    #[test]
    fn sockstat_garbage() {
        let err = |t| parse_sockstat(t).find_map(Result::err).unwrap().to_string();
        assert_eq!(
            err("TCP: inuse 1 orphan\n"),
            "line 1: expected a value after \"orphan\", found the end of the line"
        );
        assert_eq!(
            err("sockets: used 1\nTCP:\n"),
            "line 2: expected key/value pairs after TCP:, found none"
        );
        assert_eq!(
            err("TCP inuse 1\n"),
            "line 1: expected a protocol like \"TCP:\", found \"TCP\""
        );
        assert_eq!(
            err("TCP: inuse many\n"),
            "line 1: expected an integer for inuse, found \"many\""
        );
    }

    fn ctx_at(proc: &str) -> Ctx {
        let src = Source::new(proc.into(), "/nonexistent".into(), "/".into());
        let mut ctx = Ctx::new(src);
        ctx.page_size = 4096;
        ctx
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
                "node_sockstat_sockets_used 412",
                "node_sockstat_TCP_inuse 37",
                "node_sockstat_TCP_orphan 2",
                "node_sockstat_TCP_tw 118",
                "node_sockstat_TCP_alloc 61",
                "node_sockstat_TCP_mem 29",
                "node_sockstat_TCP_mem_bytes 118784",
                "node_sockstat_UDP_inuse 14",
                "node_sockstat_UDP_mem 6",
                "node_sockstat_UDP_mem_bytes 24576",
                "node_sockstat_UDPLITE_inuse 0",
                "node_sockstat_RAW_inuse 1",
                "node_sockstat_FRAG_inuse 0",
                "node_sockstat_FRAG_memory 0",
                "node_sockstat_TCP6_inuse 9",
                "node_sockstat_UDP6_inuse 7",
                "node_sockstat_UDPLITE6_inuse 0",
                "node_sockstat_RAW6_inuse 2",
                "node_sockstat_FRAG6_inuse 0",
                "node_sockstat_FRAG6_memory 0",
            ]
        );
        assert!(text.contains(
            "# HELP node_sockstat_TCP_mem_bytes Number of TCP sockets in state mem_bytes.\n# TYPE node_sockstat_TCP_mem_bytes gauge\n"
        ));
    }

    #[test]
    fn collect_without_ipv6() {
        let dir = std::env::temp_dir().join(format!("proctap-sockstat-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("net")).unwrap();
        std::fs::write(
            dir.join("net/sockstat"),
            "sockets: used 3\nUDP: inuse 1 mem 2\n",
        )
        .unwrap();
        let mut ctx = ctx_at(dir.to_str().unwrap());
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            text.ends_with("node_sockstat_UDP_mem_bytes 8192\n"),
            "{text}"
        );
        assert_eq!(text.matches("# TYPE").count(), 4);
    }
}
