//! `ksmd` (off by default, feature `server`): the kernel samepage merging daemon's state from
//! /sys/kernel/mm/ksm → node_ksmd_{full_scans_total,merge_across_nodes,pages_shared,
//! pages_sharing,pages_to_scan,pages_unshared,pages_volatile,run,sleep_seconds}, the nine
//! files node_exporter 1.5 reads (sleep_millisecs in seconds). Every one must be there: a
//! kernel without CONFIG_KSM has no directory, which fails the collector as in node_exporter.
use crate::collector::{Build, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

/// A file of one unsigned number.
pub fn parse_value(text: &str, file: &str) -> Result<u64, ParseError> {
    u64_at(text.trim(), 1, file)
}

/// (file, family name, help as node_exporter's, type)
const FILES: [(&str, &str, &str, Kind); 9] = [
    (
        "full_scans",
        "node_ksmd_full_scans_total",
        "ksmd 'full_scans' file.",
        Kind::Counter,
    ),
    (
        "merge_across_nodes",
        "node_ksmd_merge_across_nodes",
        "ksmd 'merge_across_nodes' file.",
        Kind::Gauge,
    ),
    (
        "pages_shared",
        "node_ksmd_pages_shared",
        "ksmd 'pages_shared' file.",
        Kind::Gauge,
    ),
    (
        "pages_sharing",
        "node_ksmd_pages_sharing",
        "ksmd 'pages_sharing' file.",
        Kind::Gauge,
    ),
    (
        "pages_to_scan",
        "node_ksmd_pages_to_scan",
        "ksmd 'pages_to_scan' file.",
        Kind::Gauge,
    ),
    (
        "pages_unshared",
        "node_ksmd_pages_unshared",
        "ksmd 'pages_unshared' file.",
        Kind::Gauge,
    ),
    (
        "pages_volatile",
        "node_ksmd_pages_volatile",
        "ksmd 'pages_volatile' file.",
        Kind::Gauge,
    ),
    ("run", "node_ksmd_run", "ksmd 'run' file.", Kind::Gauge),
    (
        "sleep_millisecs",
        "node_ksmd_sleep_seconds",
        "ksmd 'sleep_millisecs' file.",
        Kind::Gauge,
    ),
];

pub const COLLECTOR: Collector = Collector {
    name: "ksmd",
    enabled_by_default: false,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "kernel/mm/ksm")],
        hint: "a kernel with CONFIG_KSM; no privilege is needed",
    },
    build: Build::Plain(collect),
};

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    for (file, name, help, kind) in FILES {
        ctx.src
            .read(Root::Sys, &["kernel/mm/ksm/", file], &mut ctx.buf)?;
        let v = parse_value(&ctx.buf, file).map_err(|e| ctx.src.parse_error(e))?;
        out.family(name, help, kind);
        if file == "sleep_millisecs" {
            out.f64(&[], v as f64 / 1000.0);
        } else {
            out.u64(&[], v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_garbage() {
        assert_eq!(parse_value("18305\n", "pages_sharing"), Ok(18305));
        assert_eq!(
            parse_value("-1\n", "run").unwrap_err().to_string(),
            "line 1: expected an unsigned integer for run, found \"-1\""
        );
        assert_eq!(
            parse_value("", "run").unwrap_err().to_string(),
            "line 1: expected an unsigned integer for run, found \"\""
        );
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert_eq!(text.lines().count(), 27);
        assert!(text.contains(
            "# HELP node_ksmd_full_scans_total ksmd 'full_scans' file.\n\
             # TYPE node_ksmd_full_scans_total counter\n\
             node_ksmd_full_scans_total 12\n"
        ));
        assert!(text.contains("node_ksmd_sleep_seconds 0.02\n"));
        assert!(text.contains("node_ksmd_pages_sharing 18305\n"));
    }

    #[test]
    fn no_ksm_fails_naming_the_file() {
        let mut ctx = crate::collector::Ctx::new(crate::source::Source::new(
            "/nonexistent/proc".into(),
            "/nonexistent/sys".into(),
            "/nonexistent".into(),
        ));
        let err = collect(&mut ctx, &mut Encoder::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("/nonexistent/sys/kernel/mm/ksm/full_scans"),
            "{err}"
        );
    }
}
