//! `meminfo_numa` (off by default, feature `server`): each NUMA node's
//! /sys/devices/system/node/node<N>/{meminfo,numastat} → node_memory_numa_<Key>{node} (gauges;
//! kB values in bytes, `Active(anon)` spelled `Active_anon`) and node_memory_numa_<stat>_total
//! {node} (counters), as node_exporter 1.5 names them: unlike /proc/meminfo's collector, no
//! `_bytes` suffix.
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::parse::u64_at;
use crate::source::{Error, NameList, ParseError, Root};

/// One line of a node's meminfo: `Node 0 Active(anon):    3162948 kB`.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Field<'a> {
    pub node: &'a str,
    /// The key before any parenthesis (`Active`).
    pub key: &'a str,
    /// What the parentheses hold (`anon`), exported after an underscore.
    pub sub: Option<&'a str>,
    /// In bytes where the kernel gave kB.
    pub value: u64,
}

fn meminfo_line(line: &str, n: usize) -> Result<Option<Field<'_>>, ParseError> {
    let mut f = line.split_ascii_whitespace();
    let Some(first) = f.next() else {
        return Ok(None);
    };
    let (Some(node), Some(key), Some(value)) = (f.next(), f.next(), f.next()) else {
        return Err(ParseError::new(n, "expected \"Node N Key: value [kB]\""));
    };
    if first != "Node" {
        return Err(ParseError::new(n, "expected \"Node N Key: value [kB]\""));
    }
    let mut value = u64_at(value, n, "the value")?;
    match (f.next(), f.next()) {
        (None, _) => {}
        (Some("kB"), None) => value = value.saturating_mul(1024),
        _ => {
            return Err(ParseError::new(
                n,
                "expected \"kB\" or nothing after the value",
            ))
        }
    }
    let key = key.strip_suffix(':').unwrap_or(key);
    let (key, sub) = match key.split_once('(') {
        Some((k, rest)) => (k, Some(rest.strip_suffix(')').unwrap_or(rest))),
        None => (key, None),
    };
    if key.is_empty()
        || !key
            .bytes()
            .chain(sub.unwrap_or("").bytes())
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(ParseError::new(
            n,
            format!("expected a key of letters, digits and _, found {key:?}"),
        ));
    }
    Ok(Some(Field {
        node,
        key,
        sub,
        value,
    }))
}

/// Parses a node's meminfo, giving each field to `each`.
pub fn parse_node_meminfo<'a>(
    text: &'a str,
    mut each: impl FnMut(Field<'a>),
) -> Result<(), ParseError> {
    for (i, line) in text.lines().enumerate() {
        if let Some(f) = meminfo_line(line, i + 1)? {
            each(f);
        }
    }
    Ok(())
}

/// Parses a node's numastat (`numa_hit 1795204513`), giving each pair to `each`.
pub fn parse_numastat<'a>(
    text: &'a str,
    mut each: impl FnMut(&'a str, u64),
) -> Result<(), ParseError> {
    for (i, line) in text.lines().enumerate() {
        let mut f = line.split_ascii_whitespace();
        match (f.next(), f.next(), f.next()) {
            (None, _, _) => {}
            (Some(k), Some(v), None) => each(k, u64_at(v, i + 1, k)?),
            _ => return Err(ParseError::new(i + 1, "expected \"name value\"")),
        }
    }
    Ok(())
}

pub const COLLECTOR: Collector = Collector {
    name: "meminfo_numa",
    enabled_by_default: false,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "devices/system/node")],
        hint: "a kernel with CONFIG_NUMA (every node has meminfo and numastat)",
    },
    build: Build::New(|_| Ok(Box::<MeminfoNuma>::default())),
};

#[derive(Default)]
pub struct MeminfoNuma {
    names: NameList,
    /// Per node: its number, its meminfo text, its numastat text (kept between scrapes).
    nodes: Vec<(String, String, String)>,
    used: usize,
    help: String,
}

/// `node12` → `12`, as node_exporter's glob `node[0-9]*` and its regexp take it.
fn node_number(entry: &str) -> Option<&str> {
    let rest = entry.strip_prefix("node")?;
    rest.starts_with(|c: char| c.is_ascii_digit())
        .then(|| {
            rest.get(
                ..rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len()),
            )
        })
        .flatten()
}

impl Collect for MeminfoNuma {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        const DIR: &str = "devices/system/node/";
        ctx.src.list_dir(Root::Sys, &[DIR], &mut self.names)?;
        self.used = 0;
        for entry in self.names.iter() {
            let Some(number) = node_number(entry) else {
                continue;
            };
            if self.nodes.len() == self.used {
                self.nodes.push(Default::default());
            }
            let Some((num, meminfo, numastat)) = self.nodes.get_mut(self.used) else {
                continue;
            };
            self.used += 1;
            num.clear();
            num.push_str(number);
            ctx.src
                .read(Root::Sys, &[DIR, entry, "/meminfo"], meminfo)?;
            parse_node_meminfo(meminfo, drop).map_err(|e| ctx.src.parse_error(e))?;
            ctx.src
                .read(Root::Sys, &[DIR, entry, "/numastat"], numastat)?;
            parse_numastat(numastat, |_, _| {}).map_err(|e| ctx.src.parse_error(e))?;
        }
        write(
            self.nodes.get(..self.used).unwrap_or_default(),
            &mut self.help,
            out,
        );
        Ok(())
    }
}

/// Writes the families of parsed (checked) nodes: (number, meminfo, numastat). One family per
/// key, in the order keys first appear, with every node that has it.
fn write(nodes: &[(String, String, String)], help: &mut String, out: &mut Encoder) {
    let same = |a: &Field, b: &Field| a.key == b.key && a.sub == b.sub;
    for (i, (_, meminfo, _)) in nodes.iter().enumerate() {
        let _ = parse_node_meminfo(meminfo, |f| {
            let earlier = nodes.get(..i).unwrap_or_default().iter().any(|(_, m, _)| {
                let mut found = false;
                let _ = parse_node_meminfo(m, |g| found |= same(&f, &g));
                found
            });
            if earlier {
                return;
            }
            help.clear();
            help.push_str("Memory information field ");
            help.push_str(f.key);
            if let Some(sub) = f.sub {
                help.push('_');
                help.push_str(sub);
            }
            help.push('.');
            let sub = f.sub.unwrap_or("");
            let us = if f.sub.is_some() { "_" } else { "" };
            out.family_parts(&["node_memory_numa_", f.key, us, sub], help, Kind::Gauge);
            for (_, m, _) in nodes.get(i..).unwrap_or_default() {
                let _ = parse_node_meminfo(m, |g| {
                    if same(&f, &g) {
                        out.u64(&[("node", g.node)], g.value);
                    }
                });
            }
        });
    }
    for (i, (_, _, numastat)) in nodes.iter().enumerate() {
        let _ = parse_numastat(numastat, |k, _| {
            let earlier = nodes.get(..i).unwrap_or_default().iter().any(|(_, _, s)| {
                let mut found = false;
                let _ = parse_numastat(s, |k2, _| found |= k2 == k);
                found
            });
            if earlier {
                return;
            }
            help.clear();
            help.push_str("Memory information field ");
            help.push_str(k);
            help.push_str("_total.");
            out.family_parts(&["node_memory_numa_", k, "_total"], help, Kind::Counter);
            for (num, _, s) in nodes.get(i..).unwrap_or_default() {
                let _ = parse_numastat(s, |k2, v| {
                    if k2 == k {
                        out.u64(&[("node", num)], v);
                    }
                });
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Result<Vec<Field<'_>>, ParseError> {
        let mut v = Vec::new();
        parse_node_meminfo(text, |f| v.push(f)).map(|()| v)
    }

    #[test]
    fn meminfo_lines() {
        let f = fields(
            "Node 0 MemTotal:       16290236 kB\n\
             Node 0 Active(anon):    3162948 kB\n\
             Node 0 HugePages_Total:     0\n\n",
        )
        .unwrap();
        assert_eq!(
            f,
            [
                Field {
                    node: "0",
                    key: "MemTotal",
                    sub: None,
                    value: 16290236 * 1024
                },
                Field {
                    node: "0",
                    key: "Active",
                    sub: Some("anon"),
                    value: 3162948 * 1024
                },
                Field {
                    node: "0",
                    key: "HugePages_Total",
                    sub: None,
                    value: 0
                },
            ]
        );
    }

    #[test]
    fn meminfo_garbage() {
        assert_eq!(
            fields("Node 0 MemTotal:\n").unwrap_err().to_string(),
            "line 1: expected \"Node N Key: value [kB]\""
        );
        assert_eq!(
            fields("Node 0 MemTotal: 12 MB\n").unwrap_err().to_string(),
            "line 1: expected \"kB\" or nothing after the value"
        );
        assert_eq!(
            fields("Node 0 MemTotal: twelve kB\n")
                .unwrap_err()
                .to_string(),
            "line 1: expected an unsigned integer for the value, found \"twelve\""
        );
        assert_eq!(
            fields("Node 0 Mem{x}: 1 kB\n").unwrap_err().to_string(),
            "line 1: expected a key of letters, digits and _, found \"Mem{x}\""
        );
    }

    #[test]
    fn numastat_lines_and_garbage() {
        let mut v = Vec::new();
        parse_numastat("numa_hit 5\nother_node 7\n", |k, n| v.push((k, n))).unwrap();
        assert_eq!(v, [("numa_hit", 5), ("other_node", 7)]);
        assert_eq!(
            parse_numastat("numa_hit\n", |_, _| {})
                .unwrap_err()
                .to_string(),
            "line 1: expected \"name value\""
        );
        assert_eq!(
            parse_numastat("numa_hit -1\n", |_, _| {})
                .unwrap_err()
                .to_string(),
            "line 1: expected an unsigned integer for numa_hit, found \"-1\""
        );
    }

    #[test]
    fn node_numbers() {
        assert_eq!(node_number("node0"), Some("0"));
        assert_eq!(node_number("node127"), Some("127"));
        assert_eq!(node_number("node"), None);
        assert_eq!(node_number("possible"), None);
        assert_eq!(node_number("nodex1"), None);
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        let mut c = MeminfoNuma::default();
        c.collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(
            text.contains(
                "# HELP node_memory_numa_Active_anon Memory information field Active_anon.\n\
             # TYPE node_memory_numa_Active_anon gauge\n\
             node_memory_numa_Active_anon{node=\"0\"} 3238858752\n\
             node_memory_numa_Active_anon{node=\"1\"} 3238858752\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "# TYPE node_memory_numa_numa_hit_total counter\n\
             node_memory_numa_numa_hit_total{node=\"0\"} 1795204513\n\
             node_memory_numa_numa_hit_total{node=\"1\"} 903842107\n"
        ));
        assert!(text.contains("node_memory_numa_MemFree{node=\"1\"} 9535356928\n"));
        assert_eq!(text.matches("# TYPE ").count(), 36 + 6);
    }

    #[test]
    fn a_key_only_a_later_node_has() {
        let node = |n: &str, meminfo: &str, stat: &str| {
            (n.to_string(), meminfo.to_string(), stat.to_string())
        };
        let nodes = [
            node("0", "Node 0 MemFree: 1 kB\n", "numa_hit 1\n"),
            node(
                "1",
                "Node 1 MemFree: 2 kB\nNode 1 Zswap: 3 kB\n",
                "numa_hit 2\nnuma_x 4\n",
            ),
        ];
        let mut out = Encoder::new();
        write(&nodes, &mut String::new(), &mut out);
        assert_eq!(
            String::from_utf8(out.as_bytes().to_vec()).unwrap(),
            "# HELP node_memory_numa_MemFree Memory information field MemFree.
# TYPE node_memory_numa_MemFree gauge
node_memory_numa_MemFree{node=\"0\"} 1024
node_memory_numa_MemFree{node=\"1\"} 2048
# HELP node_memory_numa_Zswap Memory information field Zswap.
# TYPE node_memory_numa_Zswap gauge
node_memory_numa_Zswap{node=\"1\"} 3072
# HELP node_memory_numa_numa_hit_total Memory information field numa_hit_total.
# TYPE node_memory_numa_numa_hit_total counter
node_memory_numa_numa_hit_total{node=\"0\"} 1
node_memory_numa_numa_hit_total{node=\"1\"} 2
# HELP node_memory_numa_numa_x_total Memory information field numa_x_total.
# TYPE node_memory_numa_numa_x_total counter
node_memory_numa_numa_x_total{node=\"1\"} 4
"
        );
    }
}
