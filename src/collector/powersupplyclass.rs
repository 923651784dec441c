//! `powersupplyclass`: /sys/class/power_supply/<supply>/ (batteries, mains adapters, USB
//! ports, UPSes) → node_power_supply_<attribute>{power_supply} for every numeric attribute
//! and node_power_supply_info{power_supply,...} with the text ones, as node_exporter 1.5
//! reports them: microunits become amperes, volts, watts, watt-hours and ampere-hours,
//! tenths of a degree become degrees.
//!
//! No /sys/class/power_supply (most servers and VMs) is no supplies, not an error.
use std::fs::File;
use std::io;

use crate::collector::hwmon::push_valid_utf8;
use crate::collector::netclass::parse_attr_int;
use crate::collector::{Build, Collect, Collector, Ctx, Pattern, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::flag::{CliError, Flag, Kind as FlagKind, Settings};
use crate::source::{read_at, Error, NameList, ParseError, Root};

/// How a file's integer becomes the metric's value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scale {
    One,
    /// µA, µV, µW, µWh, µAh.
    Micro,
    /// Tenths of a degree Celsius.
    Deci,
}

/// The numeric attributes (power_supply sysfs ABI) sorted by file name: file, metric suffix,
/// scale.
#[rustfmt::skip]
const NUMERIC: [(&str, &str, Scale); 49] = [
    ("authentic", "authentic", Scale::One),
    ("calibrate", "calibrate", Scale::One),
    ("capacity", "capacity", Scale::One),
    ("capacity_alert_max", "capacity_alert_max", Scale::One),
    ("capacity_alert_min", "capacity_alert_min", Scale::One),
    ("charge_control_limit", "charge_control_limit", Scale::Micro),
    ("charge_control_limit_max", "charge_control_limit_max", Scale::Micro),
    ("charge_counter", "charge_counter", Scale::Micro),
    ("charge_empty", "charge_empty", Scale::Micro),
    ("charge_empty_design", "charge_empty_design", Scale::Micro),
    ("charge_full", "charge_full", Scale::Micro),
    ("charge_full_design", "charge_full_design", Scale::Micro),
    ("charge_now", "charge_ampere", Scale::Micro),
    ("charge_term_current", "charge_term_current", Scale::Micro),
    ("constant_charge_current", "constant_charge_current", Scale::Micro),
    ("constant_charge_current_max", "constant_charge_current_max", Scale::Micro),
    ("constant_charge_voltage", "constant_charge_voltage", Scale::Micro),
    ("constant_charge_voltage_max", "constant_charge_voltage_max", Scale::Micro),
    ("current_boot", "current_boot", Scale::Micro),
    ("current_max", "current_max", Scale::Micro),
    ("current_now", "current_ampere", Scale::Micro),
    ("cycle_count", "cyclecount", Scale::One),
    ("energy_empty", "energy_empty", Scale::Micro),
    ("energy_empty_design", "energy_empty_design", Scale::Micro),
    ("energy_full", "energy_full", Scale::Micro),
    ("energy_full_design", "energy_full_design", Scale::Micro),
    ("energy_now", "energy_watthour", Scale::Micro),
    ("input_current_limit", "input_current_limit", Scale::Micro),
    ("online", "online", Scale::One),
    ("power_now", "power_watt", Scale::Micro),
    ("precharge_current", "precharge_current", Scale::Micro),
    ("present", "present", Scale::One),
    ("temp", "temp_celsius", Scale::Deci),
    ("temp_alert_max", "temp_alert_max_celsius", Scale::Deci),
    ("temp_alert_min", "temp_alert_min_celsius", Scale::Deci),
    ("temp_ambient", "temp_ambient_celsius", Scale::Deci),
    ("temp_ambient_max", "temp_ambient_max_celsius", Scale::Deci),
    ("temp_ambient_min", "temp_ambient_min_celsius", Scale::Deci),
    ("temp_max", "temp_max_celsius", Scale::Deci),
    ("temp_min", "temp_min_celsius", Scale::Deci),
    ("time_to_empty_now", "time_to_empty_seconds", Scale::One),
    ("time_to_full_now", "time_to_full_seconds", Scale::One),
    ("voltage_boot", "voltage_boot", Scale::Micro),
    ("voltage_max", "voltage_max", Scale::Micro),
    ("voltage_max_design", "voltage_max_design", Scale::Micro),
    ("voltage_min", "voltage_min", Scale::Micro),
    ("voltage_min_design", "voltage_min_design", Scale::Micro),
    ("voltage_now", "voltage_volt", Scale::Micro),
    ("voltage_ocv", "voltage_ocv", Scale::Micro),
];

/// The text attributes: the labels of node_power_supply_info after `power_supply`, each
/// present only when the file says something.
const TEXT: [&str; 11] = [
    "capacity_level",
    "charge_type",
    "health",
    "manufacturer",
    "model_name",
    "serial_number",
    "status",
    "technology",
    "type",
    "usb_type",
    "scope",
];

/// What procfs's one read of a sysfs attribute gives: at most 128 bytes, trimmed.
const ATTR_MAX_BYTES: usize = 128;

/// Where a file of a supply's directory goes: a numeric attribute, a text one, or nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    Numeric(usize),
    Text(usize),
}

pub fn attr_of(file: &str) -> Option<Attr> {
    if let Ok(i) = NUMERIC.binary_search_by(|(f, _, _)| (*f).cmp(file)) {
        return Some(Attr::Numeric(i));
    }
    TEXT.iter().position(|t| *t == file).map(Attr::Text)
}

/// A numeric attribute: trimmed, then Go's `ParseInt(s, 0, 64)` as procfs parses it.
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

fn scaled(v: i64, scale: Scale) -> f64 {
    match scale {
        Scale::One => v as f64,
        Scale::Micro => v as f64 / 1e6,
        Scale::Deci => v as f64 / 10.0,
    }
}

pub const COLLECTOR: Collector = Collector {
    name: "powersupplyclass",
    enabled_by_default: true,
    flags: &[Flag::new(
        "collector.powersupply.ignored-supplies",
        FlagKind::Regex,
        "RE",
        "^$",
        "Power supplies the powersupplyclass collector ignores.",
    )],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "class/power_supply")],
        hint: "batteries, mains adapters and USB supplies appear with their drivers (ACPI battery/ac, a PMIC, ucsi)",
    },
    build: Build::New(|s| Ok(Box::new(PowerSupplyClass::new(s)?))),
};

pub struct PowerSupplyClass {
    ignored: Pattern,
    /// The supplies exported this scrape, in name order.
    supplies: NameList,
    /// The files of the supply being read.
    files: NameList,
    /// NUMERIC values, NUMERIC.len() per supply.
    values: Vec<Option<i64>>,
    /// TEXT values of all supplies, concatenated; `ends` says where each ends.
    text: String,
    ends: Vec<usize>,
    /// One supply's text values in file order, before they are laid out in TEXT order.
    scratch: String,
    help: String,
}

impl PowerSupplyClass {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<Self, CliError> {
        Ok(PowerSupplyClass {
            ignored: Pattern::new(s.regex("collector.powersupply.ignored-supplies")?),
            supplies: NameList::default(),
            files: NameList::default(),
            values: Vec::new(),
            text: String::new(),
            ends: Vec::new(),
            scratch: String::new(),
            help: String::new(),
        })
    }

    fn text_of(&self, supply: usize, j: usize) -> &str {
        let i = supply * TEXT.len() + j;
        let start = i
            .checked_sub(1)
            .and_then(|p| self.ends.get(p))
            .copied()
            .unwrap_or(0);
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.text.get(start..end).unwrap_or_default()
    }

    /// Reads every attribute of one supply into `values` and `text`.
    fn read_supply(&mut self, ctx: &mut Ctx, name: &str) -> Result<(), Error> {
        let base = self.values.len();
        self.values.resize(base + NUMERIC.len(), None);
        let dir =
            ctx.src
                .list_dir_open(Root::Sys, &["class/power_supply/", name], &mut self.files)?;
        self.scratch.clear();
        let mut texts = [(0usize, 0usize); TEXT.len()];
        let mut buf = [0u8; ATTR_MAX_BYTES];
        for file in self.files.iter() {
            let Some(attr) = attr_of(file) else { continue };
            ctx.src.publish_in(ctx.src.last_path(), file);
            let Some(value) = read_value(&dir, file, &mut buf).map_err(|err| Error::Io {
                path: ctx
                    .src
                    .path(Root::Sys, &["class/power_supply/", name, "/", file])
                    .to_path_buf(),
                err,
            })?
            else {
                continue;
            };
            match attr {
                Attr::Numeric(i) => {
                    let v = std::str::from_utf8(value)
                        .map_err(|_| {
                            ParseError::new(
                                1,
                                format!(
                                    "{file}: expected an integer, found bytes that are not UTF-8"
                                ),
                            )
                        })
                        .and_then(|t| parse_value(t, file))
                        .map_err(|e| {
                            ctx.src
                                .path(Root::Sys, &["class/power_supply/", name, "/", file]);
                            ctx.src.parse_error(e)
                        })?;
                    if let Some(slot) = self.values.get_mut(base + i) {
                        *slot = Some(v);
                    }
                }
                Attr::Text(j) => {
                    let start = self.scratch.len();
                    // Firmware strings: invalid bytes become U+FFFD, as node_exporter does.
                    push_valid_utf8(&mut self.scratch, value);
                    if let Some(slot) = texts.get_mut(j) {
                        *slot = (start, self.scratch.len());
                    }
                }
            }
        }
        // Text values come in file order; lay them out in TEXT order.
        for (start, end) in texts {
            self.text
                .push_str(self.scratch.get(start..end).unwrap_or_default());
            self.ends.push(self.text.len());
        }
        Ok(())
    }
}

/// One read of at most 128 bytes of a regular file of the open directory, trimmed; `None` for
/// what procfs skips: a directory or link, a file that is gone, a driver that answers EINVAL,
/// EOPNOTSUPP, ENODEV or ENODATA (a battery that is not there).
fn read_value<'b>(
    dir: &File,
    file: &str,
    buf: &'b mut [u8; ATTR_MAX_BYTES],
) -> io::Result<Option<&'b [u8]>> {
    const ENODEV: i32 = 19;
    const EISDIR: i32 = 21;
    const ENODATA: i32 = 61;
    match read_at(dir, file, buf) {
        Ok(n) => Ok(Some(trim(buf.get(..n).unwrap_or_default()))),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) || matches!(e.raw_os_error(), Some(ENODEV | EISDIR | ENODATA)) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// ASCII whitespace off both ends (`<[u8]>::trim_ascii` is newer than our MSRV).
fn trim(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if !first.is_ascii_whitespace() {
            break;
        }
        b = rest;
    }
    while let [rest @ .., last] = b {
        if !last.is_ascii_whitespace() {
            break;
        }
        b = rest;
    }
    b
}

impl Collect for PowerSupplyClass {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        if !ctx
            .src
            .list_dir_optional(Root::Sys, &["class/power_supply"], &mut ctx.names)?
        {
            return Ok(());
        }
        self.supplies.clear();
        for name in ctx.names.iter() {
            if !self.ignored.is_match(name) {
                self.supplies.push(name);
            }
        }
        self.values.clear();
        self.text.clear();
        self.ends.clear();
        let supplies = std::mem::take(&mut self.supplies);
        let read = supplies
            .iter()
            .try_for_each(|name| self.read_supply(ctx, name));
        self.supplies = supplies;
        read?;

        for (k, (_, metric, scale)) in NUMERIC.iter().enumerate() {
            let mut any = false;
            for (s, name) in self.supplies.iter().enumerate() {
                let Some(Some(v)) = self.values.get(s * NUMERIC.len() + k) else {
                    continue;
                };
                if !any {
                    self.help.clear();
                    self.help.push_str(metric);
                    self.help
                        .push_str(" value of /sys/class/power_supply/<power_supply>.");
                    out.family_parts(&["node_power_supply_", metric], &self.help, Kind::Gauge);
                    any = true;
                }
                let labels = [("power_supply", name)];
                match scale {
                    Scale::One => out.i64(&labels, *v),
                    _ => out.f64(&labels, scaled(*v, *scale)),
                }
            }
        }
        if self.supplies.iter().next().is_some() {
            out.family(
                "node_power_supply_info",
                "info of /sys/class/power_supply/<power_supply>.",
                Kind::Gauge,
            );
        }
        for (s, name) in self.supplies.iter().enumerate() {
            let mut labels = [("", ""); TEXT.len() + 1];
            labels[0] = ("power_supply", name);
            let mut n = 1;
            for (j, label) in TEXT.iter().enumerate() {
                let value = self.text_of(s, j);
                if let (false, Some(slot)) = (value.is_empty(), labels.get_mut(n)) {
                    *slot = (label, value);
                    n += 1;
                }
            }
            out.u64(labels.get(..n).unwrap_or_default(), 1);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    #[test]
    fn the_table_is_sorted_and_files_map() {
        assert!(NUMERIC.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(attr_of("voltage_now"), Some(Attr::Numeric(47)));
        assert_eq!(attr_of("status"), Some(Attr::Text(6)));
        assert_eq!(attr_of("uevent"), None);
        assert_eq!(
            attr_of("charge_avg"),
            None,
            "node_exporter exports no *_avg"
        );
        assert_eq!(scaled(12_132_000, Scale::Micro), 12.132);
        assert_eq!(scaled(-55, Scale::Deci), -5.5);
        assert_eq!(parse_value("0x10", "capacity"), Ok(16));
        assert!(parse_value("Full", "capacity").is_err());
    }

    fn run(ps: &mut PowerSupplyClass, sys: &std::path::Path) -> Result<String, Error> {
        let mut ctx = Ctx::new(Source::new("/nonexistent".into(), sys.into(), "/".into()));
        let mut out = Encoder::new();
        ps.collect(&mut ctx, &mut out)?;
        Ok(String::from_utf8(out.as_bytes().to_vec()).unwrap())
    }

    fn collector(ignored: &str) -> PowerSupplyClass {
        let mut s = crate::collector::default_settings();
        let flag = &COLLECTOR.flags[0];
        s.set(flag, crate::config::Value::Str(ignored.into()))
            .unwrap();
        PowerSupplyClass::new(&s).unwrap()
    }

    #[test]
    fn discharging_battery_mains_and_usb_c() {
        let sys = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sys"));
        let mut ps = collector("^$");
        let text = run(&mut ps, sys).unwrap();
        for want in [
            "# HELP node_power_supply_capacity capacity value of /sys/class/power_supply/<power_supply>.\n# TYPE node_power_supply_capacity gauge\nnode_power_supply_capacity{power_supply=\"BAT0\"} 76\n",
            "node_power_supply_cyclecount{power_supply=\"BAT0\"} 213\n",
            "node_power_supply_energy_watthour{power_supply=\"BAT0\"} 31.6\n",
            "node_power_supply_power_watt{power_supply=\"BAT0\"} 7.89\n",
            "node_power_supply_voltage_volt{power_supply=\"BAT0\"} 12.132\nnode_power_supply_voltage_volt{power_supply=\"ucsi-source-psy-USBC000:001\"} 5\n",
            "node_power_supply_online{power_supply=\"AC\"} 0\n",
            "node_power_supply_info{power_supply=\"AC\",type=\"Mains\"} 1\n",
            "node_power_supply_info{power_supply=\"BAT0\",capacity_level=\"Normal\",manufacturer=\"SMP\",model_name=\"5B10W13930\",serial_number=\"412\",status=\"Discharging\",technology=\"Li-poly\",type=\"Battery\"} 1\n",
            "node_power_supply_info{power_supply=\"ucsi-source-psy-USBC000:001\",type=\"USB\",usb_type=\"[C] PD PD_PPS\",scope=\"System\"} 1\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("charge_control_end_threshold") && !text.contains("alarm"));
        // Reused state, same answer; the ignore pattern drops whole supplies.
        assert_eq!(run(&mut ps, sys).unwrap(), text);
        let only_bat = run(&mut collector("^(AC|ucsi-.*)$"), sys).unwrap();
        assert!(only_bat.contains("power_supply=\"BAT0\""));
        assert!(!only_bat.contains("power_supply=\"AC\"") && !only_bat.contains("ucsi"));
    }

    #[test]
    fn garbage_and_missing_class() {
        let dir = std::env::temp_dir().join(format!("proctap-psu-{}", std::process::id()));
        let bat = dir.join("class/power_supply/axp20x-battery");
        std::fs::create_dir_all(bat.join("power")).unwrap();
        std::fs::write(bat.join("temp"), "-55\n").unwrap();
        std::fs::write(bat.join("status"), b"Disch\xffarging\n").unwrap();
        std::fs::write(bat.join("model_name"), "\n").unwrap();
        let mut ps = collector("^$");
        let text = run(&mut ps, &dir).unwrap();
        assert!(
            text.contains("node_power_supply_temp_celsius{power_supply=\"axp20x-battery\"} -5.5\n"),
            "{text}"
        );
        assert!(text.contains("node_power_supply_info{power_supply=\"axp20x-battery\",status=\"Disch\u{FFFD}arging\"} 1\n"), "{text}");
        std::fs::write(bat.join("capacity"), "full\n").unwrap();
        let e = run(&mut ps, &dir).unwrap_err().to_string();
        assert!(
            e.contains("axp20x-battery/capacity:1: capacity: expected an integer"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(run(&mut ps, &dir).unwrap(), "");
    }
}
