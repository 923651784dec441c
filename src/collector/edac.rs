//! `edac`: /sys/devices/system/edac/mc/mc<N>/ (memory controllers' error counters) →
//! node_edac_{correctable,uncorrectable}_errors_total{controller} and
//! node_edac_csrow_{correctable,uncorrectable}_errors_total{controller,csrow}, as node_exporter
//! 1.5 reports them.
//!
//! A controller's `ce_count`/`ue_count` count every error; the errors the driver could not
//! place on a chip-select row (`ce_noinfo_count`/`ue_noinfo_count`) are the csrow "unknown".
//! As in node_exporter, every one of these files must be there and hold an unsigned integer,
//! else the collector fails; no `mc` directory (no EDAC driver) is no series.
use crate::collector::btrfs::Slots;
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::source::{Error, NameList, ParseError, Root, Source};

/// The number after `prefix` in an entry name (`mc12` → `12`), as node_exporter's
/// `mc([0-9]*)` takes it; `None` when no digit follows.
pub fn entry_number<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = name.strip_prefix(prefix)?;
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest.get(..end).filter(|d| !d.is_empty())
}

/// A counter file: trimmed text as an unsigned integer.
pub fn parse_count(text: &str) -> Result<u64, ParseError> {
    let t = text.trim();
    t.parse::<u64>()
        .map_err(|_| ParseError::new(1, format!("expected an unsigned integer, found {t:?}")))
}

#[derive(Default)]
struct Row {
    number: String,
    ce: u64,
    ue: u64,
}

#[derive(Default)]
struct Controller {
    number: String,
    /// ce_count, ce_noinfo_count, ue_count, ue_noinfo_count
    counts: [u64; 4],
    rows: Slots<Row>,
}

pub const COLLECTOR: Collector = Collector {
    name: "edac",
    enabled_by_default: true,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "devices/system/edac/mc")],
        hint: "an EDAC driver for the memory controller (ECC memory; e.g. skx_edac, amd64_edac)",
    },
    build: Build::New(|_| Ok(Box::<Edac>::default())),
};

#[derive(Default)]
pub struct Edac {
    controllers: Slots<Controller>,
    names: NameList,
    rows: NameList,
}

/// A counter file under /sys (see [`parse_count`]); errors name the file.
pub fn count(src: &mut Source, rel: &[&str], buf: &mut String) -> Result<u64, Error> {
    src.read(Root::Sys, rel, buf)?;
    parse_count(buf).map_err(|e| src.parse_error(e))
}

impl Collect for Edac {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        const MC: &str = "devices/system/edac/mc/";
        if !ctx
            .src
            .list_dir_optional(Root::Sys, &[MC], &mut self.names)?
        {
            return Ok(());
        }
        self.controllers.clear();
        let (src, buf) = (&mut ctx.src, &mut ctx.buf);
        for entry in self.names.iter() {
            let Some(number) = entry_number(entry, "mc") else {
                continue;
            };
            let c = self.controllers.next();
            c.number.clear();
            c.number.push_str(number);
            for (v, file) in c.counts.iter_mut().zip([
                "/ce_count",
                "/ce_noinfo_count",
                "/ue_count",
                "/ue_noinfo_count",
            ]) {
                *v = count(src, &[MC, entry, file], buf)?;
            }
            src.list_dir(Root::Sys, &[MC, entry], &mut self.rows)?;
            c.rows.clear();
            for row in self.rows.iter() {
                let Some(n) = entry_number(row, "csrow") else {
                    continue;
                };
                let ce = count(src, &[MC, entry, "/", row, "/ce_count"], buf)?;
                let ue = count(src, &[MC, entry, "/", row, "/ue_count"], buf)?;
                let r = c.rows.next();
                r.number.clear();
                r.number.push_str(n);
                (r.ce, r.ue) = (ce, ue);
            }
        }
        if self.controllers.is_empty() {
            return Ok(());
        }
        let families = [
            (
                "correctable",
                "Total correctable memory errors.",
                0,
                "Total correctable memory errors for this csrow.",
            ),
            (
                "uncorrectable",
                "Total uncorrectable memory errors.",
                2,
                "Total uncorrectable memory errors for this csrow.",
            ),
        ];
        for (what, help, at, _) in families {
            out.family_parts(&["node_edac_", what, "_errors_total"], help, Kind::Counter);
            for c in self.controllers.iter() {
                let v = c.counts.get(at).copied().unwrap_or(0);
                out.u64(&[("controller", &c.number)], v);
            }
        }
        for (what, _, at, help) in families {
            out.family_parts(
                &["node_edac_csrow_", what, "_errors_total"],
                help,
                Kind::Counter,
            );
            for c in self.controllers.iter() {
                for r in c.rows.iter() {
                    let v = if at == 0 { r.ce } else { r.ue };
                    out.u64(&[("controller", &c.number), ("csrow", &r.number)], v);
                }
                let noinfo = c.counts.get(at + 1).copied().unwrap_or(0);
                out.u64(&[("controller", &c.number), ("csrow", "unknown")], noinfo);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_counts() {
        assert_eq!(entry_number("mc12", "mc"), Some("12"));
        assert_eq!(entry_number("csrow3", "csrow"), Some("3"));
        assert_eq!(entry_number("mc", "mc"), None);
        assert_eq!(entry_number("power", "mc"), None);
        assert_eq!(entry_number("mc1x", "mc"), Some("1"));
        assert_eq!(parse_count("17\n"), Ok(17));
        assert_eq!(
            parse_count("-1\n").unwrap_err().to_string(),
            "line 1: expected an unsigned integer, found \"-1\""
        );
        assert!(parse_count("").is_err());
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        let mut e = Edac::default();
        for _ in 0..2 {
            out.clear();
            e.collect(&mut ctx, &mut out).unwrap();
        }
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        for line in [
            "node_edac_correctable_errors_total{controller=\"0\"} 3\n",
            "node_edac_uncorrectable_errors_total{controller=\"0\"} 1\n",
            "node_edac_csrow_correctable_errors_total{controller=\"0\",csrow=\"1\"} 1\n",
            "node_edac_csrow_correctable_errors_total{controller=\"1\",csrow=\"unknown\"} 5\n",
            "node_edac_csrow_uncorrectable_errors_total{controller=\"1\",csrow=\"unknown\"} 2\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 14);
    }
}
