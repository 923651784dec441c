//! `watchdog`: /sys/class/watchdog/<name>/ → node_watchdog_{bootstatus, fw_version, nowayout,
//! timeleft_seconds, timeout_seconds, pretimeout_seconds, access_cs0}{name} and
//! node_watchdog_info{name,options,identity,state,status,pretimeout_governor}, as
//! node_exporter 1.8 (which added the collector) reports them.
//!
//! The attributes exist with CONFIG_WATCHDOG_SYSFS; a driver shows only what it supports, so a
//! missing file is a missing series. No /sys/class/watchdog is no watchdog, not an error.
use std::io;

use crate::collector::hwmon::{read_attr, ATTR_MAX_BYTES};
use crate::collector::netclass::parse_attr_int;
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::source::{Error, ParseError, Root, Source};

/// The numeric attributes, in output order: file, metric, help.
#[rustfmt::skip]
const NUMERIC: [(&str, &str, &str); 7] = [
    ("bootstatus", "node_watchdog_bootstatus", "Value of /sys/class/watchdog/<watchdog>/bootstatus"),
    ("fw_version", "node_watchdog_fw_version", "Value of /sys/class/watchdog/<watchdog>/fw_version"),
    ("nowayout", "node_watchdog_nowayout", "Value of /sys/class/watchdog/<watchdog>/nowayout"),
    ("timeleft", "node_watchdog_timeleft_seconds", "Value of /sys/class/watchdog/<watchdog>/timeleft"),
    ("timeout", "node_watchdog_timeout_seconds", "Value of /sys/class/watchdog/<watchdog>/timeout"),
    ("pretimeout", "node_watchdog_pretimeout_seconds", "Value of /sys/class/watchdog/<watchdog>/pretimeout"),
    ("access_cs0", "node_watchdog_access_cs0", "Value of /sys/class/watchdog/<watchdog>/access_cs0"),
];

/// The text attributes: the labels of node_watchdog_info after `name` (an absent file is "").
const TEXT: [&str; 5] = [
    "options",
    "identity",
    "state",
    "status",
    "pretimeout_governor",
];

/// A numeric attribute as procfs reads it: trimmed, then Go's `ParseInt(s, 0, 64)` (so
/// `0x8000` is hexadecimal); an empty file is not a number.
pub fn parse_value(text: &str, file: &str) -> Result<i64, ParseError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ParseError::new(
            1,
            format!("expected an integer in {file}, found nothing"),
        ));
    }
    parse_attr_int(t).map_err(|e| ParseError::new(1, format!("{file}: {}", e.msg)))
}

pub const COLLECTOR: Collector = Collector {
    name: "watchdog",
    enabled_by_default: true,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "class/watchdog")],
        hint: "a watchdog driver (iTCO_wdt, softdog, a SoC's) and CONFIG_WATCHDOG_SYSFS",
    },
    build: Build::New(|_| Ok(Box::<State>::default())),
};

/// Every device's attributes, read in one pass so the families come from memory; kept
/// between scrapes.
#[derive(Default)]
pub struct State {
    /// NUMERIC values, NUMERIC.len() per device.
    values: Vec<Option<i64>>,
    /// TEXT values of all devices, concatenated; `ends` says where each one ends.
    text: String,
    ends: Vec<usize>,
}

impl State {
    fn text(&self, device: usize, j: usize) -> &str {
        let i = device * TEXT.len() + j;
        let start = i
            .checked_sub(1)
            .and_then(|p| self.ends.get(p))
            .copied()
            .unwrap_or(0);
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.text.get(start..end).unwrap_or_default()
    }
}

/// The trimmed text of `class/watchdog/<dev>/<file>`, or `None` when the driver does not
/// show it.
fn read_value<'b>(
    src: &mut Source,
    dev: &str,
    file: &str,
    buf: &'b mut [u8; ATTR_MAX_BYTES],
) -> Result<Option<&'b str>, Error> {
    match read_attr(src, &["class/watchdog/", dev, "/", file], buf) {
        Ok(n) => std::str::from_utf8(buf.get(..n).unwrap_or_default())
            .map(|t| Some(t.trim()))
            .map_err(|_| {
                src.parse_error(ParseError::new(
                    1,
                    format!("expected UTF-8 text in {file}, found invalid bytes"),
                ))
            }),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            Ok(None)
        }
        Err(err) => Err(Error::Io {
            path: src.last_path().to_path_buf(),
            err,
        }),
    }
}

impl Collect for State {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        if !ctx
            .src
            .list_dir_optional(Root::Sys, &["class/watchdog"], &mut ctx.names)?
        {
            return Ok(());
        }
        self.values.clear();
        self.text.clear();
        self.ends.clear();
        let mut buf = [0u8; ATTR_MAX_BYTES];
        let src = &mut ctx.src;
        for dev in ctx.names.iter() {
            for (file, _, _) in NUMERIC {
                let v = match read_value(src, dev, file, &mut buf)? {
                    Some(t) => Some(parse_value(t, file).map_err(|e| src.parse_error(e))?),
                    None => None,
                };
                self.values.push(v);
            }
            for file in TEXT {
                if let Some(t) = read_value(src, dev, file, &mut buf)? {
                    self.text.push_str(t);
                }
                self.ends.push(self.text.len());
            }
        }
        let devices = || ctx.names.iter().enumerate();
        for (k, (_, metric, help)) in NUMERIC.iter().enumerate() {
            let mut any = false;
            for (d, dev) in devices() {
                let Some(Some(v)) = self.values.get(d * NUMERIC.len() + k) else {
                    continue;
                };
                if !any {
                    out.family(metric, help, Kind::Gauge);
                    any = true;
                }
                out.i64(&[("name", dev)], *v);
            }
        }
        if ctx.names.iter().next().is_some() {
            out.family(
                "node_watchdog_info",
                "Info of /sys/class/watchdog/<watchdog>",
                Kind::Gauge,
            );
        }
        for (d, dev) in devices() {
            let t = |j| self.text(d, j);
            out.u64(
                &[
                    ("name", dev),
                    ("options", t(0)),
                    ("identity", t(1)),
                    ("state", t(2)),
                    ("status", t(3)),
                    ("pretimeout_governor", t(4)),
                ],
                1,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_go_integers() {
        assert_eq!(parse_value("30\n", "timeout"), Ok(30));
        assert_eq!(parse_value("0x8000", "status"), Ok(0x8000));
        assert_eq!(parse_value("-1", "timeleft"), Ok(-1));
        assert_eq!(
            parse_value("\n", "timeout").unwrap_err().to_string(),
            "line 1: expected an integer in timeout, found nothing"
        );
        assert!(parse_value("soon", "timeleft")
            .unwrap_err()
            .to_string()
            .starts_with("line 1: timeleft: expected an integer"));
    }

    fn run(sys: &std::path::Path) -> Result<String, Error> {
        let mut ctx = Ctx::new(Source::new("/nonexistent".into(), sys.into(), "/".into()));
        let mut out = Encoder::new();
        let mut st = State::default();
        st.collect(&mut ctx, &mut out)?;
        let first = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        // The second scrape reuses the state and says the same.
        out.clear();
        st.collect(&mut ctx, &mut out)?;
        assert_eq!(String::from_utf8(out.as_bytes().to_vec()).unwrap(), first);
        Ok(first)
    }

    #[test]
    fn collect_fixtures() {
        let text = run(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sys").as_ref()).unwrap();
        for want in [
            "# TYPE node_watchdog_bootstatus gauge\nnode_watchdog_bootstatus{name=\"watchdog0\"} 0\nnode_watchdog_bootstatus{name=\"watchdog1\"} 0\n",
            "# TYPE node_watchdog_fw_version gauge\nnode_watchdog_fw_version{name=\"watchdog0\"} 6\n# HELP",
            "node_watchdog_nowayout{name=\"watchdog1\"} 1\n",
            "# TYPE node_watchdog_timeleft_seconds gauge\nnode_watchdog_timeleft_seconds{name=\"watchdog0\"} 27\n# HELP",
            "node_watchdog_timeout_seconds{name=\"watchdog1\"} 60\n",
            "# TYPE node_watchdog_pretimeout_seconds gauge\nnode_watchdog_pretimeout_seconds{name=\"watchdog1\"} 10\n# HELP",
            "node_watchdog_info{name=\"watchdog0\",options=\"0x8180\",identity=\"iTCO_wdt\",state=\"active\",status=\"0x8000\",pretimeout_governor=\"\"} 1\n",
            "node_watchdog_info{name=\"watchdog1\",options=\"0x8180\",identity=\"Software Watchdog\",state=\"inactive\",status=\"0x0\",pretimeout_governor=\"noop\"} 1\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("access_cs0"), "no driver here shows it");
    }

    #[test]
    fn a_bare_watchdog_and_garbage() {
        let dir = std::env::temp_dir().join(format!("proctap-wdt-{}", std::process::id()));
        let wd = dir.join("class/watchdog/watchdog0");
        std::fs::create_dir_all(&wd).unwrap();
        // Without CONFIG_WATCHDOG_SYSFS a device has no attributes: an info series of blanks.
        assert_eq!(
            run(&dir).unwrap(),
            "# HELP node_watchdog_info Info of /sys/class/watchdog/<watchdog>\n# TYPE node_watchdog_info gauge\nnode_watchdog_info{name=\"watchdog0\",options=\"\",identity=\"\",state=\"\",status=\"\",pretimeout_governor=\"\"} 1\n"
        );
        std::fs::write(wd.join("timeout"), "sixty\n").unwrap();
        let e = run(&dir).unwrap_err().to_string();
        assert!(
            e.contains("watchdog0/timeout:1: timeout: expected an integer"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(run(&dir).unwrap(), "", "no watchdog class");
    }
}
