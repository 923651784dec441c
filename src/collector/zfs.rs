//! `zfs`: /proc/spl/kstat/zfs (OpenZFS's kstats) → node_zfs_*, as node_exporter 1.5 reports
//! them, plus the `suspended` pool state newer releases added.
//!
//! - The module's kstat files (`arcstats`, `abdstats`, `dbufstats`, `dmu_tx`, `dnodestats`, `fm`,
//!   `vdev_cache_stats`, `vdev_mirror_stats`, `xuio_stats`, `zfetchstats`, `zil`; each may be
//!   absent, as ZFS releases add and drop them): after the `name type data` header, every row of
//!   type 4 (uint64) or 3 (int64) is one untyped family `node_zfs_<subsystem>_<name>` (dashes
//!   become underscores) whose HELP is the kstat's name, `kstat.zfs.misc.arcstats.hits`.
//!   node_exporter 1.5 fails the collector on a negative int64 (arcstats' `memory_available_bytes`
//!   can be one); proctap reports it.
//! - Per pool (`<pool>/`): `io` (ZFS before 2.1: `nread ... rcnt` header and a row of values) →
//!   node_zfs_zpool_<field>{zpool}; every `objset-*` (a dataset: its `dataset_name` and uint64
//!   rows) → node_zfs_zpool_dataset_<name>{dataset,zpool}; `state` → node_zfs_zpool_state
//!   {state,zpool}, 1 for the pool's state and 0 for the others.
//!
//! A host without ZFS (no /proc/spl/kstat/zfs) has no series and, as in node_exporter 1.5
//! ("no data"), node_scrape_collector_success 0, with proctap_scrape_collector_unavailable 1.
use crate::collector::btrfs::Slots;
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::source::{Error, NameList, ParseError, Root};

/// (subsystem, kstat file), as node_exporter 1.5 maps them.
const FILES: [(&str, &str); 11] = [
    ("zfs_abd", "abdstats"),
    ("zfs_arc", "arcstats"),
    ("zfs_dbuf", "dbufstats"),
    ("zfs_dmu_tx", "dmu_tx"),
    ("zfs_dnode", "dnodestats"),
    ("zfs_fm", "fm"),
    ("zfs_vdev_cache", "vdev_cache_stats"),
    ("zfs_vdev_mirror", "vdev_mirror_stats"),
    ("zfs_xuio", "xuio_stats"),
    ("zfs_zfetch", "zfetchstats"),
    ("zfs_zil", "zil"),
];

/// The pool states, lowercase, as `state` files show them in uppercase.
const STATES: [&str; 7] = [
    "online",
    "degraded",
    "faulted",
    "offline",
    "removed",
    "unavail",
    "suspended",
];

/// The fields of a pool's `io` kstat (kstat_io_t), in the order of its header.
const IO_FIELDS: [&str; 12] = [
    "nread", "nwritten", "reads", "writes", "wtime", "wlentime", "wupdate", "rtime", "rlentime",
    "rupdate", "wcnt", "rcnt",
];

/// An integer kstat value: int64 rows may be negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    U(u64),
    I(i64),
}

/// The rows of a named kstat (`name type data`) with an integer type, in file order, and for
/// `objset-*` files the `dataset_name` (type 7, a string). `f` gets (name, value).
pub fn parse_kstat<'a>(
    text: &'a str,
    mut f: impl FnMut(&'a str, Value),
) -> Result<Option<&'a str>, ParseError> {
    let mut started = false;
    let mut dataset = None;
    for (i, line) in text.lines().enumerate() {
        let mut parts = line.split_whitespace();
        let (Some(name), Some(ty), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if !started {
            started = name == "name" && ty == "type" && data == "data" && parts.next().is_none();
            continue;
        }
        match ty {
            "4" => f(name, Value::U(crate::parse::u64_at(data, i + 1, name)?)),
            "3" => f(name, Value::I(crate::parse::i64_at(data, i + 1, name)?)),
            "7" if name == "dataset_name" => dataset = Some(data),
            _ => {}
        }
    }
    if !started {
        return Err(ParseError::new(
            0,
            "expected a \"name type data\" header line, found none",
        ));
    }
    Ok(dataset)
}

/// A pool's `io` kstat: the values under the `nread ...` header.
pub fn parse_io(text: &str) -> Result<Option<[u64; 12]>, ParseError> {
    let mut lines = text.lines().enumerate();
    let header = lines.find(|(_, l)| {
        let mut f = l.split_whitespace();
        f.next() == Some("nread") && l.split_whitespace().count() >= 12
    });
    let Some((h, header)) = header else {
        return Ok(None);
    };
    if !header.split_whitespace().eq(IO_FIELDS.iter().copied()) {
        return Err(ParseError::new(
            h + 1,
            format!(
                "expected the header {:?}, found {header:?}",
                IO_FIELDS.join(" ")
            ),
        ));
    }
    let Some((i, row)) = lines.next() else {
        return Ok(None);
    };
    let mut v = [0u64; 12];
    let mut n = 0;
    for (slot, field) in v.iter_mut().zip(row.split_whitespace()) {
        *slot = crate::parse::u64_at(field, i + 1, "an io counter")?;
        n += 1;
    }
    if n < 12 {
        return Err(ParseError::new(
            i + 1,
            format!("expected 12 values, found {n}"),
        ));
    }
    Ok(Some(v))
}

/// node_exporter's metric name of a kstat row: the part after the last dot, dashes as
/// underscores; `None` when that is not a valid name part.
fn metric_part<'a>(name: &'a str, out: &'a mut String) -> Option<&'a str> {
    let last = name.rsplit('.').next().unwrap_or(name);
    out.clear();
    out.extend(last.chars().map(|c| if c == '-' { '_' } else { c }));
    let valid = !out.is_empty() && out.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    valid.then_some(out.as_str())
}

#[derive(Default)]
struct Sample {
    family: String,
    help: String,
    zpool: String,
    dataset: String,
    /// A state of [`STATES`] for node_zfs_zpool_state; empty otherwise.
    state: &'static str,
    value: Option<Value>,
}

pub const COLLECTOR: Collector = Collector {
    name: "zfs",
    enabled_by_default: true,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[
            What::Dir(Root::Proc, "spl/kstat/zfs"),
            What::Optional(Root::Proc, "spl/kstat/zfs/arcstats"),
        ],
        hint: "ZFS: the zfs kernel module (OpenZFS) with a pool imported",
    },
    build: Build::New(|_| Ok(Box::<Zfs>::default())),
};

/// The samples of a scrape, gathered then sorted by family, since one family's samples come
/// from several files (one per pool or dataset). Kept between scrapes, so no allocation.
#[derive(Default)]
pub struct Zfs {
    samples: Slots<Sample>,
    /// The samples' indexes in output order: sorting indexes, not the samples, keeps each
    /// sample in its slot, so the slots' strings do not have to grow again every scrape.
    order: Vec<usize>,
    pools: NameList,
    files: NameList,
    name: String,
    pool: String,
}

/// Adds a sample; `name` is the kstat row's name, turned into the family's last part.
#[allow(clippy::too_many_arguments)]
fn push(
    samples: &mut Slots<Sample>,
    scratch: &mut String,
    family: &str,
    help: &str,
    name: &str,
    zpool: &str,
    dataset: &str,
    state: &'static str,
    value: Value,
) {
    let Some(part) = metric_part(name, scratch) else {
        return;
    };
    let s = samples.next();
    s.family.clear();
    s.family.push_str(family);
    s.family.push_str(part);
    s.help.clear();
    s.help.push_str(help);
    s.help.push_str(name);
    s.zpool.clear();
    s.zpool.push_str(zpool);
    s.dataset.clear();
    s.dataset.push_str(dataset);
    s.state = state;
    s.value = Some(value);
}

impl Collect for Zfs {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        const BASE: &str = "spl/kstat/zfs/";
        // No ZFS module: node_exporter's "no data" (success 0, and proctap says why).
        ctx.src
            .list_dir(Root::Proc, &[BASE], &mut self.pools)
            .map_err(Error::absent_feature)?;
        self.samples.clear();
        let (samples, scratch) = (&mut self.samples, &mut self.name);
        for (sub, file) in FILES {
            if !ctx
                .src
                .read_optional(Root::Proc, &[BASE, file], &mut ctx.buf)?
            {
                continue;
            }
            let family = &mut self.pool;
            family.clear();
            family.push_str("node_");
            family.push_str(sub);
            family.push('_');
            let help = &mut ctx.buf2;
            help.clear();
            help.push_str("kstat.zfs.misc.");
            help.push_str(file);
            help.push('.');
            parse_kstat(&ctx.buf, |name, v| {
                push(samples, scratch, family, help, name, "", "", "", v)
            })
            .map_err(|e| ctx.src.parse_error(e))?;
        }
        for pool in self.pools.iter() {
            if FILES.iter().any(|(_, f)| *f == pool) {
                continue;
            }
            // A pool is a directory; a file here (a kstat of a newer release) is not.
            let path = ctx.src.path(Root::Proc, &[BASE, pool]);
            if !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let listed = ctx.src.list_dir(Root::Proc, &[BASE, pool], &mut self.files);
            match listed {
                Ok(()) => {}
                Err(Error::Io { err, .. })
                    if err.raw_os_error() == Some(libc::ENOTDIR)
                        || err.kind() == std::io::ErrorKind::NotFound =>
                {
                    continue
                }
                Err(e) => return Err(e),
            }
            for file in self.files.iter() {
                let is_objset = file.starts_with("objset-");
                if !(file == "io" || file == "state" || is_objset) {
                    continue;
                }
                if !ctx
                    .src
                    .read_optional(Root::Proc, &[BASE, pool, "/", file], &mut ctx.buf)?
                {
                    continue;
                }
                if file == "io" {
                    let io = parse_io(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
                    for (field, v) in IO_FIELDS.iter().zip(io.unwrap_or_default()) {
                        if io.is_some() {
                            push(
                                samples,
                                scratch,
                                "node_zfs_zpool_",
                                "kstat.zfs.misc.io.",
                                field,
                                pool,
                                "",
                                "",
                                Value::U(v),
                            );
                        }
                    }
                } else if file == "state" {
                    let actual = ctx.buf.lines().next().unwrap_or("");
                    for st in STATES {
                        let on = actual.eq_ignore_ascii_case(st);
                        push(
                            samples,
                            scratch,
                            "node_zfs_zpool_",
                            "kstat.zfs.misc.",
                            "state",
                            pool,
                            "",
                            st,
                            Value::U(u64::from(on)),
                        );
                    }
                } else {
                    let first = samples.len();
                    let dataset = parse_kstat(&ctx.buf, |name, v| {
                        if let Value::U(_) = v {
                            push(
                                samples,
                                scratch,
                                "node_zfs_zpool_dataset_",
                                "kstat.zfs.misc.objset.",
                                name,
                                pool,
                                "",
                                "",
                                v,
                            )
                        }
                    })
                    .map_err(|e| ctx.src.parse_error(e))?;
                    samples.for_each_from(first, |s| {
                        s.dataset.clear();
                        s.dataset.push_str(dataset.unwrap_or(""));
                    });
                }
            }
        }
        write(&self.samples, &mut self.order, out);
        Ok(())
    }
}

fn write(samples: &Slots<Sample>, order: &mut Vec<usize>, out: &mut Encoder) {
    order.clear();
    order.extend(0..samples.len());
    let key = |i: &usize| {
        samples
            .get(*i)
            .map(|s| (&s.family, &s.zpool, &s.dataset, s.state))
    };
    order.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
    let mut last: Option<&str> = None;
    for s in order.iter().filter_map(|&i| samples.get(i)) {
        if last != Some(s.family.as_str()) {
            let kind = if s.state.is_empty() {
                Kind::Untyped
            } else {
                Kind::Gauge
            };
            out.family(&s.family, &s.help, kind);
            last = Some(&s.family);
        }
        let (pool, ds, st) = (s.zpool.as_str(), s.dataset.as_str(), s.state);
        let with_state = [("state", st), ("zpool", pool)];
        let with_dataset = [("dataset", ds), ("zpool", pool)];
        let labels: &[(&str, &str)] = match (pool.is_empty(), ds.is_empty(), st.is_empty()) {
            (true, _, _) => &[],
            (false, _, false) => &with_state,
            (false, false, true) => &with_dataset,
            (false, true, true) => &with_state[1..],
        };
        match s.value {
            Some(Value::U(v)) => out.u64(labels, v),
            Some(Value::I(v)) => out.i64(labels, v),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Rows = (Vec<(String, Value)>, Option<String>);

    fn rows(text: &str) -> Result<Rows, ParseError> {
        let mut v = Vec::new();
        let ds = parse_kstat(text, |n, x| v.push((n.to_string(), x)))?;
        Ok((v, ds.map(String::from)))
    }

    #[test]
    fn kstat_arcstats_openzfs_2_1() {
        let text = "\
13 1 0x01 123 33456 5394187312 184093742117
name                            type data
hits                            4    8772612
memory_available_bytes          3    -1213480960
arc_no_grow                     4    0
";
        let (v, ds) = rows(text).unwrap();
        assert_eq!(
            v,
            [
                ("hits".into(), Value::U(8772612)),
                ("memory_available_bytes".into(), Value::I(-1213480960)),
                ("arc_no_grow".into(), Value::U(0)),
            ]
        );
        assert_eq!(ds, None);
    }

    #[test]
    fn kstat_objset_and_odd_rows() {
        let text = "\
49 1 0x01 7 2160 221578688875 6665999035587
name                            type data
dataset_name                    7    tank/vm.disk-1
writes                          4    31
label                           7    x y
ratio                           2    5
short 4
";
        let (v, ds) = rows(text).unwrap();
        assert_eq!(v, [("writes".into(), Value::U(31))]);
        assert_eq!(ds.as_deref(), Some("tank/vm.disk-1"));
        let e = |t: &str| rows(t).unwrap_err().to_string();
        assert_eq!(
            e("x 1 2\n"),
            "expected a \"name type data\" header line, found none"
        );
        assert_eq!(
            e("name type data\nhits 4 -1\n"),
            "line 2: expected an unsigned integer for hits, found \"-1\""
        );
    }

    #[test]
    fn pool_io_zfs_0_8() {
        let text = "\
24 3 0x00 1 80 2225326830828 32953476980628
nread    nwritten   reads    writes   wtime    wlentime   wupdate  rtime    rlentime   rupdate    wcnt     rcnt
1884160  3206144    22       132      7155162  104112268  25347185 51155826 2140645812 2293380401 0        0
";
        let v = parse_io(text).unwrap().unwrap();
        assert_eq!((v[0], v[3], v[11]), (1884160, 132, 0));
        assert_eq!(parse_io("24 3 0x00 1 80 1 2\n"), Ok(None));
        let short = "nread nwritten reads writes wtime wlentime wupdate rtime rlentime rupdate wcnt rcnt\n1 2 3\n";
        assert_eq!(
            parse_io(short).unwrap_err().to_string(),
            "line 2: expected 12 values, found 3"
        );
        let other = "nread a b c d e f g h i j k\n";
        assert!(parse_io(other).is_err());
    }

    #[test]
    fn no_zfs_module_is_unavailable() {
        let dir = std::env::temp_dir().join(format!("proctap-nozfs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ctx = Ctx::new(crate::source::Source::new(
            dir.clone(),
            dir.clone(),
            dir.clone(),
        ));
        let mut out = Encoder::new();
        let e = Zfs::default().collect(&mut ctx, &mut out).unwrap_err();
        assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
        assert!(out.as_bytes().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn metric_names() {
        let mut s = String::new();
        assert_eq!(metric_part("erpt-dropped", &mut s), Some("erpt_dropped"));
        assert_eq!(metric_part("a.b-c", &mut s), Some("b_c"));
        assert_eq!(metric_part("bad name!", &mut s), None);
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        let mut z = Zfs::default();
        for _ in 0..2 {
            out.clear();
            z.collect(&mut ctx, &mut out).unwrap();
        }
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        for line in [
            "# HELP node_zfs_arc_hits kstat.zfs.misc.arcstats.hits\n# TYPE node_zfs_arc_hits untyped\nnode_zfs_arc_hits 8772612\n",
            "node_zfs_fm_erpt_dropped 18\n",
            "node_zfs_zpool_dataset_writes{dataset=\"tank/vm.disk-1\",zpool=\"tank\"} 31\n",
            "# TYPE node_zfs_zpool_state gauge\n",
            "node_zfs_zpool_state{state=\"degraded\",zpool=\"bkp-0\"} 1\n",
            "node_zfs_zpool_state{state=\"suspended\",zpool=\"tank\"} 0\n",
            "node_zfs_zpool_nread{zpool=\"tank\"} 1884160\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        // 95 as node_exporter 1.5, plus int64 memory_available_bytes, two suspended states and
        // four dbufstats rows, which newer releases export.
        assert_eq!(
            text.lines().filter(|l| !l.starts_with('#')).count(),
            95 + 1 + 2 + 4
        );
    }
}
