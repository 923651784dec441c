//! `zoneinfo` (off by default, feature `server`): /proc/zoneinfo → node_zoneinfo_*{node,zone},
//! as node_exporter 1.5 reports it: the watermarks and sizes of each zone (`min`, `low`,
//! `high`, `spanned`, `present`, `managed`), its `protection` array (`protection_<i>`), and the
//! vmstat counters procfs knows. Since Linux 4.8 most of those counters are the node's
//! ("per-node stats", printed under the node's first populated zone), and, as in node_exporter,
//! they are exported with that zone's label. A zone without memory has only its sizes.
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{u64_str, Encoder, Kind};
use crate::parse::i64_at;
use crate::source::{Error, ParseError, Root};

/// (key in the file, family name, help as node_exporter's, type)
const FIELDS: [(&str, &str, &str, Kind); 34] = [
    (
        "nr_free_pages",
        "nr_free_pages",
        "Total number of free pages in the zone",
        Kind::Gauge,
    ),
    ("min", "min_pages", "Zone watermark pages_min", Kind::Gauge),
    ("low", "low_pages", "Zone watermark pages_low", Kind::Gauge),
    (
        "high",
        "high_pages",
        "Zone watermark pages_high",
        Kind::Gauge,
    ),
    (
        "scanned",
        "scanned_pages",
        "Pages scanned since last reclaim",
        Kind::Gauge,
    ),
    (
        "spanned",
        "spanned_pages",
        "Total pages spanned by the zone, including holes",
        Kind::Gauge,
    ),
    (
        "present",
        "present_pages",
        "Physical pages existing within the zone",
        Kind::Gauge,
    ),
    (
        "managed",
        "managed_pages",
        "Present pages managed by the buddy system",
        Kind::Gauge,
    ),
    (
        "nr_active_anon",
        "nr_active_anon_pages",
        "Number of anonymous pages recently more used",
        Kind::Gauge,
    ),
    (
        "nr_inactive_anon",
        "nr_inactive_anon_pages",
        "Number of anonymous pages recently less used",
        Kind::Gauge,
    ),
    (
        "nr_isolated_anon",
        "nr_isolated_anon_pages",
        "Temporary isolated pages from anon lru",
        Kind::Gauge,
    ),
    (
        "nr_anon_pages",
        "nr_anon_pages",
        "Number of anonymous pages currently used by the system",
        Kind::Gauge,
    ),
    (
        "nr_anon_transparent_hugepages",
        "nr_anon_transparent_hugepages",
        "Number of anonymous transparent huge pages currently used by the system",
        Kind::Gauge,
    ),
    (
        "nr_active_file",
        "nr_active_file_pages",
        "Number of active pages with file-backing",
        Kind::Gauge,
    ),
    (
        "nr_inactive_file",
        "nr_inactive_file_pages",
        "Number of inactive pages with file-backing",
        Kind::Gauge,
    ),
    (
        "nr_isolated_file",
        "nr_isolated_file_pages",
        "Temporary isolated pages from file lru",
        Kind::Gauge,
    ),
    (
        "nr_file_pages",
        "nr_file_pages",
        "Number of file pages",
        Kind::Gauge,
    ),
    (
        "nr_slab_reclaimable",
        "nr_slab_reclaimable_pages",
        "Number of reclaimable slab pages",
        Kind::Gauge,
    ),
    (
        "nr_slab_unreclaimable",
        "nr_slab_unreclaimable_pages",
        "Number of unreclaimable slab pages",
        Kind::Gauge,
    ),
    (
        "nr_mlock_stack",
        "nr_mlock_stack_pages",
        "mlock()ed pages found and moved off LRU",
        Kind::Gauge,
    ),
    (
        "nr_kernel_stack",
        "nr_kernel_stacks",
        "Number of kernel stacks",
        Kind::Gauge,
    ),
    (
        "nr_mapped",
        "nr_mapped_pages",
        "Number of mapped pages",
        Kind::Gauge,
    ),
    (
        "nr_dirty",
        "nr_dirty_pages",
        "Number of dirty pages",
        Kind::Gauge,
    ),
    (
        "nr_writeback",
        "nr_writeback_pages",
        "Number of writeback pages",
        Kind::Gauge,
    ),
    (
        "nr_unevictable",
        "nr_unevictable_pages",
        "Number of unevictable pages",
        Kind::Gauge,
    ),
    (
        "nr_shmem",
        "nr_shmem_pages",
        "Number of shmem pages (included tmpfs/GEM pages)",
        Kind::Gauge,
    ),
    (
        "nr_dirtied",
        "nr_dirtied_total",
        "Page dirtyings since bootup",
        Kind::Counter,
    ),
    (
        "nr_written",
        "nr_written_total",
        "Page writings since bootup",
        Kind::Counter,
    ),
    (
        "numa_hit",
        "numa_hit_total",
        "Allocated in intended node",
        Kind::Counter,
    ),
    (
        "numa_miss",
        "numa_miss_total",
        "Allocated in non intended node",
        Kind::Counter,
    ),
    (
        "numa_foreign",
        "numa_foreign_total",
        "Was intended here, hit elsewhere",
        Kind::Counter,
    ),
    (
        "numa_interleave",
        "numa_interleave_total",
        "Interleaver preferred this zone",
        Kind::Counter,
    ),
    (
        "numa_local",
        "numa_local_total",
        "Allocation from local node",
        Kind::Counter,
    ),
    (
        "numa_other",
        "numa_other_total",
        "Allocation from other node",
        Kind::Counter,
    ),
];
const N: usize = FIELDS.len();
/// The kernel's MAX_NR_ZONES is at most 6 (DMA, DMA32, Normal, HighMem, Movable, Device).
const MAX_PROTECTION: usize = 8;

/// One zone of /proc/zoneinfo; `node` and `zone` are byte ranges of the parsed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone {
    pub node: (usize, usize),
    pub zone: (usize, usize),
    pub values: [Option<i64>; N],
    pub protection: [i64; MAX_PROTECTION],
    pub protection_len: usize,
}

fn range(text: &str, part: &str) -> (usize, usize) {
    let start = part.as_ptr() as usize - text.as_ptr() as usize;
    (start, start + part.len())
}

/// The text of a range from [`Zone`].
pub fn at(text: &str, r: (usize, usize)) -> &str {
    text.get(r.0..r.1).unwrap_or("")
}

/// Parses /proc/zoneinfo into `zones` (cleared first; its capacity is kept between scrapes).
/// A line `Node N, zone NAME` starts a zone; `key value` lines of the keys node_exporter knows
/// set its values (a later one wins), `protection: (a, b, ...)` its protection array; every
/// other line (pagesets, `pages free`, thresholds) is skipped.
pub fn parse_zoneinfo(text: &str, zones: &mut Vec<Zone>) -> Result<(), ParseError> {
    zones.clear();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let mut f = line.split_ascii_whitespace();
        let Some(key) = f.next() else {
            continue;
        };
        if key == "Node" {
            let (Some(node), Some("zone"), Some(zone), None) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                return Err(ParseError::new(n, "expected \"Node N, zone NAME\""));
            };
            let Some(node) = node
                .strip_suffix(',')
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            else {
                return Err(ParseError::new(n, "expected \"Node N, zone NAME\""));
            };
            zones.push(Zone {
                node: range(text, node),
                zone: range(text, zone),
                values: [None; N],
                protection: [0; MAX_PROTECTION],
                protection_len: 0,
            });
            continue;
        }
        let Some(z) = zones.last_mut() else {
            continue;
        };
        if key == "protection:" {
            let list = line
                .split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
                .map(|(l, _)| l)
                .ok_or_else(|| ParseError::new(n, "expected \"protection: (N, N, ...)\""))?;
            z.protection_len = 0;
            for v in list.split(',') {
                let slot = z.protection.get_mut(z.protection_len).ok_or_else(|| {
                    ParseError::new(
                        n,
                        format!("expected at most {MAX_PROTECTION} protection values"),
                    )
                })?;
                *slot = i64_at(v.trim(), n, "a protection value")?;
                z.protection_len += 1;
            }
            continue;
        }
        let Some(k) = FIELDS.iter().position(|(name, ..)| *name == key) else {
            continue;
        };
        let Some(value) = f.next() else {
            continue;
        };
        if let Some(slot) = z.values.get_mut(k) {
            *slot = Some(i64_at(value, n, key)?);
        }
    }
    Ok(())
}

pub const COLLECTOR: Collector = Collector {
    name: "zoneinfo",
    enabled_by_default: false,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::File(Root::Proc, "zoneinfo")],
        hint: "every kernel has it; no privilege is needed",
    },
    build: Build::New(|_| Ok(Box::<Zoneinfo>::default())),
};

#[derive(Default)]
pub struct Zoneinfo {
    zones: Vec<Zone>,
    name: String,
    help: String,
}

impl Collect for Zoneinfo {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        ctx.src.read(Root::Proc, &["zoneinfo"], &mut ctx.buf)?;
        parse_zoneinfo(&ctx.buf, &mut self.zones).map_err(|e| ctx.src.parse_error(e))?;
        write(&ctx.buf, &self.zones, &mut self.name, &mut self.help, out);
        Ok(())
    }
}

fn write(text: &str, zones: &[Zone], name: &mut String, help: &mut String, out: &mut Encoder) {
    for (k, (_, family, family_help, kind)) in FIELDS.iter().enumerate() {
        let mut first = true;
        for z in zones {
            let Some(v) = z.values.get(k).copied().flatten() else {
                continue;
            };
            if first {
                out.family_parts(&["node_zoneinfo_", family], family_help, *kind);
                first = false;
            }
            out.i64(&[("node", at(text, z.node)), ("zone", at(text, z.zone))], v);
        }
    }
    let longest = zones.iter().map(|z| z.protection_len).max().unwrap_or(0);
    let mut tmp = [0u8; 20];
    for p in 0..longest {
        let i = u64_str(&mut tmp, p as u64);
        name.clear();
        name.push_str(i);
        help.clear();
        help.push_str("Protection array ");
        help.push_str(i);
        help.push_str(". field");
        out.family_parts(&["node_zoneinfo_protection_", name], help, Kind::Gauge);
        for z in zones.iter().filter(|z| z.protection_len > p) {
            let v = z.protection.get(p).copied().unwrap_or(0);
            out.i64(&[("node", at(text, z.node)), ("zone", at(text, z.zone))], v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(z: &Zone, key: &str) -> Option<i64> {
        let k = FIELDS.iter().position(|(n, ..)| *n == key).unwrap();
        z.values[k]
    }

    #[test]
    fn zones_values_and_protection() {
        let text = "\
Node 0, zone      DMA
  per-node stats
      nr_inactive_anon 103144
  pages free     3840
        min      33
        protection: (0, 2877, 15852, 15852)
      nr_free_pages 3840
      numa_hit 3
  pagesets
    cpu: 0
              count: 12
              high:  378
Node 12, zone   Normal-x
  pages free     0
        min      -1
        protection: (0)
";
        let mut zones = Vec::new();
        parse_zoneinfo(text, &mut zones).unwrap();
        assert_eq!(zones.len(), 2);
        assert_eq!(
            (at(text, zones[0].node), at(text, zones[0].zone)),
            ("0", "DMA")
        );
        assert_eq!(value(&zones[0], "nr_inactive_anon"), Some(103144));
        assert_eq!(value(&zones[0], "nr_free_pages"), Some(3840));
        assert_eq!(value(&zones[0], "min"), Some(33));
        // The pageset's `high:` is not the watermark.
        assert_eq!(value(&zones[0], "high"), None);
        assert_eq!(
            &zones[0].protection[..zones[0].protection_len],
            [0, 2877, 15852, 15852]
        );
        assert_eq!(
            (at(text, zones[1].node), at(text, zones[1].zone)),
            ("12", "Normal-x")
        );
        assert_eq!(value(&zones[1], "min"), Some(-1));
        assert_eq!(value(&zones[1], "nr_free_pages"), None);
        assert_eq!(zones[1].protection_len, 1);
    }

    #[test]
    fn garbage() {
        let mut zones = Vec::new();
        let err =
            |t: &str, zones: &mut Vec<Zone>| parse_zoneinfo(t, zones).unwrap_err().to_string();
        assert_eq!(
            err("Node 0 DMA\n", &mut zones),
            "line 1: expected \"Node N, zone NAME\""
        );
        assert_eq!(
            err("Node x, zone DMA\n", &mut zones),
            "line 1: expected \"Node N, zone NAME\""
        );
        assert_eq!(
            err("Node 0, zone DMA\n  min lots\n", &mut zones),
            "line 2: expected an integer for min, found \"lots\""
        );
        assert_eq!(
            err("Node 0, zone DMA\n  protection: 0, 1\n", &mut zones),
            "line 2: expected \"protection: (N, N, ...)\""
        );
        assert_eq!(
            err(
                "Node 0, zone DMA\n  protection: (0, 1, 2, 3, 4, 5, 6, 7, 8)\n",
                &mut zones
            ),
            "line 2: expected at most 8 protection values"
        );
        parse_zoneinfo("", &mut zones).unwrap();
        assert!(zones.is_empty());
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        Zoneinfo::default().collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(
            text.contains(
                "# HELP node_zoneinfo_numa_hit_total Allocated in intended node\n\
             # TYPE node_zoneinfo_numa_hit_total counter\n\
             node_zoneinfo_numa_hit_total{node=\"0\",zone=\"DMA\"} 3\n"
            ),
            "{text}"
        );
        assert!(text
            .contains("node_zoneinfo_nr_active_anon_pages{node=\"1\",zone=\"Normal\"} 791737\n"));
        assert!(text.contains(
            "# HELP node_zoneinfo_protection_4 Protection array 4. field\n\
             # TYPE node_zoneinfo_protection_4 gauge\n\
             node_zoneinfo_protection_4{node=\"0\",zone=\"DMA\"} 15852\n"
        ));
        assert!(text.contains("node_zoneinfo_managed_pages{node=\"1\",zone=\"Movable\"} 0\n"));
        assert!(!text.contains("nr_free_pages{node=\"0\",zone=\"Movable\"}"));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 132);
    }
}
