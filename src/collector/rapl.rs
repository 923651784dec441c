//! `rapl` (feature `server`; on by default as in node_exporter 1.5): the energy counters of
//! the powercap zones in /sys/class/powercap (Intel RAPL, AMD's rapl since Linux 5.8) →
//! node_rapl_<zone>_joules_total{index,path}, or with `--collector.rapl.enable-zone-label`
//! node_rapl_joules_total{index,path,rapl_zone}, as node_exporter 1.5 reports them: a zone
//! named `package-1` is zone `package` with index 1; other names are indexed in the order
//! they appear; `path` is the zone's directory under --path.sysfs.
//!
//! energy_uj is root's only since Linux 5.10 (CVE-2020-8694): without root the collector
//! fails naming the file. No /sys/class/powercap is no series and success.
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{u64_str, Encoder, Kind};
use crate::flag::{Flag, Settings};
use crate::parse::u64_at;
use crate::source::{Error, NameList, ParseError, Root};

const ZONE_LABEL: &str = "collector.rapl.enable-zone-label";

/// A zone's name split as node_exporter's procfs does: `package-1` → (`package`, Some(1)).
pub fn split_name(name: &str) -> (&str, Option<u64>) {
    match name.split_once('-') {
        Some((base, n)) => match n.parse() {
            Ok(i) => (base, Some(i)),
            Err(_) => (name, None),
        },
        None => (name, None),
    }
}

/// A counter file (`energy_uj`): one unsigned number.
pub fn parse_uj(text: &str, file: &str) -> Result<u64, ParseError> {
    u64_at(text.trim(), 1, file)
}

pub const COLLECTOR: Collector = Collector {
    name: "rapl",
    enabled_by_default: true,
    flags: &[Flag::switch(
        ZONE_LABEL,
        "One family node_rapl_joules_total with a rapl_zone label instead of a family per zone.",
    )],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "class/powercap")],
        hint: "an x86 CPU with RAPL (intel_rapl_msr, or rapl on AMD); energy_uj needs root",
    },
    build: Build::New(|s| Ok(Box::new(Rapl::new(s)))),
};

#[derive(Default)]
struct Zone {
    name: String,
    /// `name` sanitized for the family name.
    metric: String,
    index: String,
    path: String,
    joules: f64,
}

pub struct Rapl {
    zone_label: bool,
    names: NameList,
    zones: Vec<Zone>,
    used: usize,
    help: String,
}

impl Rapl {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Rapl {
        Rapl {
            zone_label: s.switch(ZONE_LABEL),
            names: NameList::default(),
            zones: Vec::new(),
            used: 0,
            help: String::new(),
        }
    }
}

impl Collect for Rapl {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        const DIR: &str = "class/powercap/";
        if !ctx
            .src
            .list_dir_optional(Root::Sys, &[DIR], &mut self.names)?
        {
            return Ok(());
        }
        self.used = 0;
        let mut tmp = [0u8; 20];
        for entry in self.names.iter() {
            if !ctx
                .src
                .read_optional(Root::Sys, &[DIR, entry, "/name"], &mut ctx.buf)?
            {
                continue;
            }
            let (base, index) = split_name(ctx.buf.trim());
            let index = match index {
                Some(i) => i,
                None => self
                    .zones
                    .iter()
                    .take(self.used)
                    .filter(|z| z.name == base)
                    .count() as u64,
            };
            if self.zones.len() == self.used {
                self.zones.push(Zone::default());
            }
            let Some(z) = self.zones.get_mut(self.used) else {
                continue;
            };
            self.used += 1;
            z.name.clear();
            z.name.push_str(base);
            crate::collector::sysctl::sanitize_into(base, &mut z.metric);
            z.index.clear();
            z.index.push_str(u64_str(&mut tmp, index));
            z.path.clear();
            z.path
                .push_str(&ctx.src.path(Root::Sys, &[DIR, entry]).to_string_lossy());
            for file in ["/max_energy_range_uj", "/energy_uj"] {
                ctx.src.read(Root::Sys, &[DIR, entry, file], &mut ctx.buf)?;
                let uj = parse_uj(&ctx.buf, &file[1..]).map_err(|e| ctx.src.parse_error(e))?;
                z.joules = uj as f64 / 1_000_000.0;
            }
        }
        let zones = self.zones.get(..self.used).unwrap_or_default();
        if self.zone_label {
            if !zones.is_empty() {
                out.family(
                    "node_rapl_joules_total",
                    "Current RAPL value in joules",
                    Kind::Counter,
                );
            }
            for z in zones {
                out.f64(
                    &[
                        ("index", &z.index),
                        ("path", &z.path),
                        ("rapl_zone", &z.name),
                    ],
                    z.joules,
                );
            }
            return Ok(());
        }
        for (i, z) in zones.iter().enumerate() {
            if zones.iter().take(i).any(|e| e.name == z.name) {
                continue;
            }
            self.help.clear();
            self.help.push_str("Current RAPL ");
            self.help.push_str(&z.name);
            self.help.push_str(" value in joules");
            // As node_exporter: SanitizeMetricName(name + "_joules_total").
            out.family_parts(
                &["node_rapl_", &z.metric, "_joules_total"],
                &self.help,
                Kind::Counter,
            );
            for same in zones.iter().skip(i).filter(|e| e.name == z.name) {
                out.f64(&[("index", &same.index), ("path", &same.path)], same.joules);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_counters() {
        assert_eq!(split_name("package-1"), ("package", Some(1)));
        assert_eq!(split_name("core"), ("core", None));
        assert_eq!(split_name("package-x"), ("package-x", None));
        assert_eq!(split_name("psys"), ("psys", None));
        assert_eq!(parse_uj("84381922571\n", "energy_uj"), Ok(84381922571));
        assert_eq!(
            parse_uj("", "energy_uj").unwrap_err().to_string(),
            "line 1: expected an unsigned integer for energy_uj, found \"\""
        );
    }

    fn run(zone_label: bool) -> String {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        let mut r = Rapl::new(&crate::collector::default_settings());
        r.zone_label = zone_label;
        r.collect(&mut ctx, &mut out).unwrap();
        // Twice: the second scrape reuses the zones and writes the same.
        let first = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        out.clear();
        r.collect(&mut ctx, &mut out).unwrap();
        assert_eq!(first.as_bytes(), out.as_bytes());
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sys/class/powercap/");
        first.replace(root, "P/")
    }

    #[test]
    fn collect_fixture() {
        assert_eq!(
            run(false),
            "\
# HELP node_rapl_package_joules_total Current RAPL package value in joules
# TYPE node_rapl_package_joules_total counter
node_rapl_package_joules_total{index=\"0\",path=\"P/intel-rapl-mmio:0\"} 84380.112009
node_rapl_package_joules_total{index=\"0\",path=\"P/intel-rapl:0\"} 84381.922571
node_rapl_package_joules_total{index=\"1\",path=\"P/intel-rapl:1\"} 79020.114001
# HELP node_rapl_core_joules_total Current RAPL core value in joules
# TYPE node_rapl_core_joules_total counter
node_rapl_core_joules_total{index=\"0\",path=\"P/intel-rapl:0:0\"} 40129.410342
node_rapl_core_joules_total{index=\"1\",path=\"P/intel-rapl:1:0\"} 38811.037126
# HELP node_rapl_uncore_joules_total Current RAPL uncore value in joules
# TYPE node_rapl_uncore_joules_total counter
node_rapl_uncore_joules_total{index=\"0\",path=\"P/intel-rapl:0:1\"} 1.210399
"
        );
        let one = run(true);
        assert!(one.starts_with("# HELP node_rapl_joules_total Current RAPL value in joules\n"));
        assert!(one.contains("node_rapl_joules_total{index=\"1\",path=\"P/intel-rapl:1:0\",rapl_zone=\"core\"} 38811.037126\n"));
        assert_eq!(one.lines().count(), 2 + 6);
    }
}
