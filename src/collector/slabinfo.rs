//! `slabinfo` (off by default, feature `server`): /proc/slabinfo (version 2.1; readable by
//! root only) → node_slabinfo_{active_objects,objects,object_size_bytes,objects_per_slab,
//! pages_per_slab}{slab}, as node_exporter 1.5 reports them, with the
//! `--collector.slabinfo.slabs-include`/`-exclude` filters newer node_exporter releases added
//! (both may be given: a slab is kept if it matches the include pattern and not the exclude one).
use crate::collector::{Build, Collect, Collector, Ctx, Pattern, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::flag::{CliError, Flag, Kind as FlagKind, Settings};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

const INCLUDE: &str = "collector.slabinfo.slabs-include";
const EXCLUDE: &str = "collector.slabinfo.slabs-exclude";

/// One cache: its name and the five numbers node_exporter exports, in FAMILIES' order.
#[derive(Debug, PartialEq, Eq)]
pub struct Slab<'a> {
    pub name: &'a str,
    pub values: [u64; 5],
}

/// Parses /proc/slabinfo, giving each cache to `each`. The first line must announce version
/// 2.1 (every kernel since 2.6.10); comment lines (`# name ...`) are skipped.
pub fn parse_slabinfo<'a>(text: &'a str, mut each: impl FnMut(Slab<'a>)) -> Result<(), ParseError> {
    let mut lines = text.lines();
    match lines.next().map(str::trim) {
        Some("slabinfo - version: 2.1") => {}
        _ => return Err(ParseError::new(1, "expected \"slabinfo - version: 2.1\"")),
    }
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut f = line.split_ascii_whitespace();
        let Some(name) = f.next() else {
            continue;
        };
        let mut values = [0u64; 5];
        for (v, what) in values.iter_mut().zip([
            "active_objs",
            "num_objs",
            "objsize",
            "objperslab",
            "pagesperslab",
        ]) {
            let Some(text) = f.next() else {
                return Err(ParseError::new(
                    n,
                    "expected \"name active_objs num_objs objsize objperslab pagesperslab ...\"",
                ));
            };
            *v = u64_at(text, n, what)?;
        }
        each(Slab { name, values });
    }
    Ok(())
}

const FAMILIES: [(&str, &str); 5] = [
    (
        "node_slabinfo_active_objects",
        "The number of objects that are currently active (i.e., in use).",
    ),
    (
        "node_slabinfo_objects",
        "The total number of allocated objects (i.e., objects that are both in use and not in use).",
    ),
    (
        "node_slabinfo_object_size_bytes",
        "The size of objects in this slab, in bytes.",
    ),
    (
        "node_slabinfo_objects_per_slab",
        "The number of objects stored in each slab.",
    ),
    (
        "node_slabinfo_pages_per_slab",
        "The number of pages allocated for each slab.",
    ),
];

pub const COLLECTOR: Collector = Collector {
    name: "slabinfo",
    enabled_by_default: false,
    flags: &[
        Flag::new(
            INCLUDE,
            FlagKind::OptRegex,
            "RE",
            "",
            "Only the slab caches whose names match.",
        )
        .unset_all(),
        Flag::new(
            EXCLUDE,
            FlagKind::OptRegex,
            "RE",
            "",
            "Slab caches to skip (checked with the include pattern: both may be given).",
        )
        .unset_none(),
    ],
    help_section: None,
    sources: Sources {
        reads: &[What::File(Root::Proc, "slabinfo")],
        hint: "/proc/slabinfo is readable by root only (mode 0400)",
    },
    build: Build::New(|s| Ok(Box::new(Slabinfo::new(s)?))),
};

pub struct Slabinfo {
    include: Option<Pattern>,
    exclude: Option<Pattern>,
}

impl Slabinfo {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<Slabinfo, CliError> {
        Ok(Slabinfo {
            include: s.opt_regex(INCLUDE)?.map(Pattern::new),
            exclude: s.opt_regex(EXCLUDE)?.map(Pattern::new),
        })
    }

    fn keeps(&mut self, name: &str) -> bool {
        self.include.as_mut().map_or(true, |p| p.is_match(name))
            && !self.exclude.as_mut().is_some_and(|p| p.is_match(name))
    }
}

impl Collect for Slabinfo {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        ctx.src.read(Root::Proc, &["slabinfo"], &mut ctx.buf)?;
        parse_slabinfo(&ctx.buf, drop).map_err(|e| ctx.src.parse_error(e))?;
        for (k, (name, help)) in FAMILIES.iter().enumerate() {
            out.family(name, help, Kind::Gauge);
            // Checked above.
            let _ = parse_slabinfo(&ctx.buf, |s| {
                if self.keeps(s.name) {
                    out.u64(&[("slab", s.name)], s.values.get(k).copied().unwrap_or(0));
                }
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slabs(text: &str) -> Result<Vec<Slab<'_>>, String> {
        let mut v = Vec::new();
        parse_slabinfo(text, |s| v.push(s))
            .map(|()| v)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn caches_with_odd_names() {
        let text = "slabinfo - version: 2.1\n\
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n\
kmalloc-rcl-96      2604   2604     96   42    1 : tunables    0    0    0 : slabdata     62     62      0\n\
fuse_request:x.1       0      0    152   26    1 : tunables    0    0    0 : slabdata      0      0      0\n";
        assert_eq!(
            slabs(text),
            Ok(vec![
                Slab {
                    name: "kmalloc-rcl-96",
                    values: [2604, 2604, 96, 42, 1]
                },
                Slab {
                    name: "fuse_request:x.1",
                    values: [0, 0, 152, 26, 1]
                },
            ])
        );
    }

    #[test]
    fn garbage() {
        assert_eq!(
            slabs("slabinfo - version: 1.1\n"),
            Err("line 1: expected \"slabinfo - version: 2.1\"".into())
        );
        assert_eq!(
            slabs(""),
            Err("line 1: expected \"slabinfo - version: 2.1\"".into())
        );
        assert_eq!(
            slabs("slabinfo - version: 2.1\ndentry 1 2 3\n"),
            Err("line 2: expected \"name active_objs num_objs objsize objperslab pagesperslab ...\"".into())
        );
        assert_eq!(
            slabs("slabinfo - version: 2.1\ndentry 1 2 x 4 5\n"),
            Err("line 2: expected an unsigned integer for objsize, found \"x\"".into())
        );
    }

    fn collector(include: &str, exclude: &str) -> Slabinfo {
        let mut s = crate::collector::default_settings();
        let flag = |n| COLLECTOR.flags.iter().find(|f| f.name == n).unwrap();
        s.set(flag(INCLUDE), crate::config::Value::Str(include.into()))
            .unwrap();
        s.set(flag(EXCLUDE), crate::config::Value::Str(exclude.into()))
            .unwrap();
        Slabinfo::new(&s).unwrap()
    }

    #[test]
    fn collect_fixture_and_filters() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collector("", "").collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 5 * 8);
        assert!(text.contains(
            "# TYPE node_slabinfo_object_size_bytes gauge\n\
             node_slabinfo_object_size_bytes{slab=\"nf_conntrack\"} 320\n"
        ));
        assert!(text.contains("node_slabinfo_objects{slab=\"dentry\"} 146160\n"));

        let mut out = Encoder::new();
        collector("^kmalloc", "-8k$")
            .collect(&mut ctx, &mut out)
            .unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        let kept: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("node_slabinfo_pages_per_slab{slab=\""))
            .collect();
        assert_eq!(kept, ["kmalloc-rcl-96\"} 1", "kmalloc-8\"} 1"]);
    }
}
