//! `thermal_zone`: /sys/class/thermal → node_thermal_zone_temp{type,zone} and
//! node_cooling_device_{cur,max}_state{name,type}, as node_exporter 1.5 reports them.
//!
//! node_exporter 1.5 (procfs 0.8) takes the `thermal_zone[0-9]*` and `cooling_device[0-9]*`
//! entries; the label `zone` (or `name`) is the rest of the entry name, so two zones of the
//! same type never collide. A zone or cooling device whose files are missing or do not parse
//! fails the collector; a zone whose `temp` answers ENODATA (a wifi card that is down) is
//! skipped.
use std::io;

use crate::collector::hwmon::read_attr;
use crate::collector::{Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::source::{Error, ParseError, Root, Source};

const ZONE: &str = "thermal_zone";
const COOLING: &str = "cooling_device";

/// The number of an entry `<prefix>[0-9]*`: `thermal_zone12` → `12`.
pub fn entry_number<'a>(entry: &'a str, prefix: &str) -> Option<&'a str> {
    entry
        .strip_prefix(prefix)
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// Parses a decimal integer value as procfs does (after trimming): millidegrees Celsius in
/// `temp`, states in `cur_state` and `max_state` (intel_powerclamp shows -1 when idle).
pub fn parse_int(text: &str, what: &str) -> Result<i64, ParseError> {
    let t = text.trim();
    t.parse::<i64>()
        .map_err(|_| ParseError::new(1, format!("expected an integer {what}, found {t:?}")))
}

fn io_error(src: &Source, err: io::Error) -> Error {
    Error::Io {
        path: src.last_path().to_path_buf(),
        err,
    }
}

/// Reads the trimmed text of `<class/thermal/>entry/file` into `buf`.
fn read_value<'b>(
    src: &mut Source,
    entry: &str,
    file: &str,
    buf: &'b mut [u8; 128],
) -> Result<&'b str, Error> {
    let n =
        read_attr(src, &["class/thermal/", entry, "/", file], buf).map_err(|e| io_error(src, e))?;
    let raw = buf.get(..n).unwrap_or_default();
    std::str::from_utf8(raw).map(str::trim).map_err(|_| {
        src.parse_error(ParseError::new(
            1,
            format!("expected UTF-8 text in {file}, found invalid bytes"),
        ))
    })
}

/// A zone's temperature in millidegrees, or `None` when the kernel has no reading (ENODATA).
/// `type` and `policy` must exist, as procfs requires them.
fn zone_temp(src: &mut Source, zone: &str, buf: &mut [u8; 128]) -> Result<Option<i64>, Error> {
    read_value(src, zone, "policy", buf)?;
    match read_value(src, zone, "temp", buf) {
        Ok(text) => parse_int(text, "temperature in millidegrees Celsius")
            .map(Some)
            .map_err(|e| src.parse_error(e)),
        Err(Error::Io { err, .. }) if err.raw_os_error() == Some(ENODATA) => Ok(None),
        Err(e) => Err(e),
    }
}

/// ENODATA is 61 on every Linux architecture.
const ENODATA: i32 = 61;

pub const COLLECTOR: Collector = Collector::plain(
    "thermal_zone",
    collect,
    Sources {
        reads: &[What::Dir(Root::Sys, "class/thermal")],
        hint: "thermal drivers (ACPI, SoC); VMs often have none",
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    if !ctx
        .src
        .list_dir_optional(Root::Sys, &["class/thermal"], &mut ctx.names)?
    {
        return Ok(());
    }
    let mut buf = [0u8; 128];
    let mut type_buf = [0u8; 128];

    let mut first = true;
    for entry in ctx.names.iter() {
        let Some(zone) = entry_number(entry, ZONE) else {
            continue;
        };
        let ty = read_value(&mut ctx.src, entry, "type", &mut type_buf)?;
        let Some(milli) = zone_temp(&mut ctx.src, entry, &mut buf)? else {
            continue;
        };
        if first {
            out.family(
                "node_thermal_zone_temp",
                "Zone temperature in Celsius",
                Kind::Gauge,
            );
            first = false;
        }
        out.f64(&[("type", ty), ("zone", zone)], milli as f64 / 1000.0);
    }

    let families = [
        (
            "cur_state",
            "node_cooling_device_cur_state",
            "Current throttle state of the cooling device",
        ),
        (
            "max_state",
            "node_cooling_device_max_state",
            "Maximum throttle state of the cooling device",
        ),
    ];
    for (file, metric, help) in families {
        let mut first = true;
        for entry in ctx.names.iter() {
            let Some(name) = entry_number(entry, COOLING) else {
                continue;
            };
            let ty = read_value(&mut ctx.src, entry, "type", &mut type_buf)?;
            let text = read_value(&mut ctx.src, entry, file, &mut buf)?;
            let state = parse_int(text, "state").map_err(|e| ctx.src.parse_error(e))?;
            if first {
                out.family(metric, help, Kind::Gauge);
                first = false;
            }
            out.i64(&[("name", name), ("type", ty)], state);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_like_the_procfs_globs() {
        assert_eq!(entry_number("thermal_zone0", ZONE), Some("0"));
        assert_eq!(entry_number("thermal_zone12", ZONE), Some("12"));
        assert_eq!(entry_number("cooling_device5", COOLING), Some("5"));
        assert_eq!(entry_number("thermal_zone", ZONE), None);
        assert_eq!(entry_number("cooling_device0", ZONE), None);
    }

    #[test]
    fn values_debian12_x86() {
        assert_eq!(parse_int("27800\n", "t"), Ok(27800));
        assert_eq!(parse_int("-1\n", "state"), Ok(-1));
        assert_eq!(parse_int("-12500\n", "t"), Ok(-12500));
        assert_eq!(
            parse_int("hot\n", "state").unwrap_err().to_string(),
            "line 1: expected an integer state, found \"hot\""
        );
        assert!(parse_int("", "t").is_err());
    }

    fn scrape(ctx: &mut Ctx) -> Result<String, Error> {
        let mut out = Encoder::new();
        collect(ctx, &mut out)?;
        Ok(String::from_utf8(out.as_bytes().to_vec()).unwrap())
    }

    #[test]
    fn collect_fixtures() {
        let text = scrape(&mut crate::collector::fixture_ctx()).unwrap();
        for line in [
            "# HELP node_thermal_zone_temp Zone temperature in Celsius\n",
            "node_thermal_zone_temp{type=\"acpitz\",zone=\"0\"} 27.8\n",
            "node_thermal_zone_temp{type=\"acpitz\",zone=\"1\"} 29.8\n",
            "node_thermal_zone_temp{type=\"x86_pkg_temp\",zone=\"2\"} 48\n",
            "node_cooling_device_cur_state{name=\"4\",type=\"intel_powerclamp\"} -1\n",
            "node_cooling_device_cur_state{name=\"2\",type=\"Processor\"} 1\n",
            "node_cooling_device_max_state{name=\"5\",type=\"TCC Offset\"} 63\n",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 15);
    }

    #[test]
    fn missing_class_is_empty_and_garbage_fails() {
        let root = std::env::temp_dir().join(format!("proctap-thermal-{}", std::process::id()));
        let src = Source::new(root.join("proc"), root.join("sys"), root.clone());
        let mut ctx = Ctx::new(src);
        assert_eq!(scrape(&mut ctx).unwrap(), "");

        let zone = root.join("sys/class/thermal/thermal_zone0");
        std::fs::create_dir_all(&zone).unwrap();
        std::fs::write(zone.join("type"), "soc-thermal\n").unwrap();
        std::fs::write(zone.join("policy"), "step_wise\n").unwrap();
        std::fs::write(zone.join("temp"), "n/a\n").unwrap();
        let e = scrape(&mut ctx).unwrap_err().to_string();
        std::fs::write(zone.join("temp"), "-5000\n").unwrap();
        let ok = scrape(&mut ctx).unwrap();
        std::fs::remove_file(zone.join("policy")).unwrap();
        let missing = scrape(&mut ctx).unwrap_err();
        let _ = std::fs::remove_dir_all(&root);

        assert!(
            e.ends_with(
                "thermal_zone0/temp:1: expected an integer temperature in millidegrees Celsius, found \"n/a\""
            ),
            "{e}"
        );
        assert!(ok.contains("node_thermal_zone_temp{type=\"soc-thermal\",zone=\"0\"} -5\n"));
        assert!(missing.is_not_found(), "{missing}");
    }
}
