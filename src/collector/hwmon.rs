//! `hwmon`: /sys/class/hwmon/hwmonN → node_hwmon_* as node_exporter 1.5 reports them.
//!
//! Every file of a chip directory (and of its `device` directory) named
//! `<type><number>_<property>` for a known sensor type becomes one sample; node_exporter 1.5
//! builds the metric name from the type and property and scales the value by the unit the
//! kernel uses (millivolts, millidegrees, microwatts, ...). The `chip` label comes from the
//! resolved `device` link (`platform_coretemp_0`, `nvme_nvme0`), so two chips with the same
//! `name` stay apart; without a device it is the `name`, then the `hwmonN` directory name.
//!
//! Sample families depend on which files exist, so the samples of all chips are gathered
//! first, then sorted by family and written; a series seen twice is written once.
use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;

use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::source::{read_at, Error, NameList, Root, Source};

/// node_exporter (and procfs) read a sysfs attribute with one read of at most 128 bytes: some
/// hwmon drivers answer EAGAIN forever to a read loop.
pub const ATTR_MAX_BYTES: usize = 128;

/// One `read` of at most [`ATTR_MAX_BYTES`] of the sysfs file `rel`; the number of bytes read.
pub fn read_attr(
    src: &mut Source,
    rel: &[&str],
    buf: &mut [u8; ATTR_MAX_BYTES],
) -> io::Result<usize> {
    File::open(src.path(Root::Sys, rel)).and_then(|mut f| f.read(buf))
}

/// The sensor types node_exporter 1.5 looks at; other files are ignored.
const SENSOR_TYPES: [&str; 13] = [
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
];

/// The property after a sensor's number: nothing, or `_` and at least one character (no
/// newline: `.` in a Go regex does not match one).
fn property(after: &str) -> Option<&str> {
    if after.is_empty() {
        return Some("");
    }
    after
        .strip_prefix('_')
        .filter(|p| !p.is_empty() && !p.contains('\n'))
}

/// A sensor file name split into `<type><number>_<property>`.
#[derive(Debug, PartialEq, Eq)]
pub struct SensorFile<'a> {
    pub kind: &'a str,
    pub num: u64,
    pub prop: &'a str,
}

/// Splits `name` as node_exporter's `^([^0-9]+)([0-9]*)?(_(.+))?$` does, backtracking
/// included (`temp_x1y` is type `temp`, property `x1y`). A missing number is 0.
pub fn split_sensor_file(name: &str) -> Option<SensorFile<'_>> {
    let type_end = name
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(name.len());
    if type_end == 0 {
        return None;
    }
    let rest = name.get(type_end..).unwrap_or_default();
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, after) = rest.split_at(digits_end);
    let (kind, digits, prop) = match property(after) {
        Some(prop) => (name.get(..type_end)?, digits, prop),
        // The type gives back characters up to an `_`, the longest type first.
        None => {
            let head = name.get(..type_end)?;
            let split = head
                .char_indices()
                .rev()
                .filter(|&(i, c)| c == '_' && i > 0)
                .find_map(|(i, _)| property(name.get(i..)?).map(|p| (i, p)))?;
            (head.get(..split.0)?, "", split.1)
        }
    };
    // Go's strconv.Atoi: an int64.
    let num = if digits.is_empty() {
        0
    } else {
        let n = digits.parse::<u64>().ok()?;
        if n > i64::MAX as u64 {
            return None;
        }
        n
    };
    Some(SensorFile { kind, num, prop })
}

/// Appends `s` as node_exporter's `cleanMetricName` makes it: lower case, every character other
/// than `[a-z0-9:_]` replaced by `_`, and `_` trimmed at both ends. Bytes that are not UTF-8
/// become one `_` each.
pub fn push_clean(out: &mut String, s: &[u8]) {
    let start = out.len();
    for_utf8_chunks(s, |valid, invalid| {
        for c in valid.chars() {
            let l = c.to_lowercase().next().unwrap_or(c);
            if l.is_ascii_lowercase() || l.is_ascii_digit() || l == ':' || l == '_' {
                out.push(l);
            } else {
                out.push('_');
            }
        }
        for _ in 0..invalid {
            out.push('_');
        }
    });
    let trimmed_end = out.trim_end_matches('_').len().max(start);
    out.truncate(trimmed_end);
    let lead = out
        .get(start..)
        .map_or(0, |t| t.len() - t.trim_start_matches('_').len());
    out.replace_range(start..start + lead, "");
}

/// Appends `s` with each run of bytes that are not UTF-8 replaced by one U+FFFD, as Go's
/// `strings.ToValidUTF8` (label values must be UTF-8).
pub fn push_valid_utf8(out: &mut String, s: &[u8]) {
    let mut last_invalid = false;
    for_utf8_chunks(s, |valid, invalid| {
        out.push_str(valid);
        if invalid > 0 && !(last_invalid && valid.is_empty()) {
            out.push('\u{FFFD}');
        }
        last_invalid = invalid > 0;
    });
}

/// Calls `f` with each valid UTF-8 stretch of `s` and the length of the invalid sequence after
/// it (0 at the end), like `<[u8]>::utf8_chunks`, which is newer than our MSRV.
fn for_utf8_chunks(mut s: &[u8], mut f: impl FnMut(&str, usize)) {
    loop {
        match std::str::from_utf8(s) {
            Ok(valid) => return f(valid, 0),
            Err(e) => {
                let (valid, rest) = s.split_at(e.valid_up_to());
                let bad = e.error_len().unwrap_or(rest.len());
                f(std::str::from_utf8(valid).unwrap_or_default(), bad);
                s = rest.get(bad..).unwrap_or_default();
                if s.is_empty() {
                    return;
                }
            }
        }
    }
}

/// Parses a value as Go's `strconv.ParseFloat(s, 64)`: `Inf`/`Infinity` with a sign, `NaN`
/// without, `_` between digits, no surrounding space, out-of-range numbers refused.
/// Hexadecimal floats (`0x1p-2`, which no hwmon driver writes) are refused as well.
pub fn go_parse_float(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if unsigned.eq_ignore_ascii_case("nan") {
        return (unsigned.len() == s.len()).then_some(f64::NAN);
    }
    let b = unsigned.as_bytes();
    if b.len() > 1 && b.first() == Some(&b'0') && matches!(b.get(1), Some(b'x' | b'X')) {
        return None;
    }
    let v = if s.contains('_') {
        let bytes = s.as_bytes();
        let digit = |i: Option<usize>| i.and_then(|i| bytes.get(i)).is_some_and(u8::is_ascii_digit);
        let mut tmp = [0u8; ATTR_MAX_BYTES];
        let mut n = 0;
        for (i, &c) in bytes.iter().enumerate() {
            if c == b'_' {
                if !digit(i.checked_sub(1)) || !digit(Some(i + 1)) {
                    return None;
                }
                continue;
            }
            *tmp.get_mut(n)? = c;
            n += 1;
        }
        std::str::from_utf8(tmp.get(..n)?)
            .ok()?
            .parse::<f64>()
            .ok()?
    } else {
        s.parse::<f64>().ok()?
    };
    v.is_finite().then_some(v)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span(u32, u32);

/// One sensor file: its type (index into [`SENSOR_TYPES`]), number, property and value.
struct Entry {
    kind: u8,
    num: u64,
    prop: Span,
    value: Span,
    /// Read order: a file in `device/` replaces the same one in the chip directory.
    seq: u32,
}

/// One sample waiting to be written.
struct Sample {
    family: Span,
    help: Span,
    kind: Kind,
    labels: [(&'static str, Span); 3],
    n_labels: u8,
    value: f64,
}

/// A chip label derived from a path, remembered while the entry points to the same inode, so
/// that resolving links (which allocates) happens once per chip.
struct CachedChip {
    entry: Box<str>,
    device: bool,
    dev: u64,
    ino: u64,
    chip: Box<str>,
}

/// What the collector keeps between scrapes; all of it is reused.
#[derive(Default)]
pub struct State {
    arena: String,
    files: NameList,
    entries: Vec<Entry>,
    samples: Vec<Sample>,
    chips: Vec<CachedChip>,
}

fn text(arena: &str, s: Span) -> &str {
    arena.get(s.0 as usize..s.1 as usize).unwrap_or_default()
}

fn span_from(arena: &str, start: usize) -> Span {
    Span(start as u32, arena.len() as u32)
}

fn push_parts(arena: &mut String, parts: &[&str]) -> Span {
    let start = arena.len();
    for p in parts {
        arena.push_str(p);
    }
    span_from(arena, start)
}

impl State {
    /// The chip label of `class/hwmon/<entry>` from its resolved `device` link
    /// (`<parent>_<device>`, cleaned), or from the resolved directory name.
    fn path_chip(&mut self, src: &mut Source, entry: &str, device: bool) -> Span {
        let rel: &[&str] = if device {
            &["class/hwmon/", entry, "/device"]
        } else {
            &["class/hwmon/", entry]
        };
        let start = self.arena.len();
        let Ok(meta) = std::fs::metadata(src.path(Root::Sys, rel)) else {
            return span_from(&self.arena, start);
        };
        let (dev, ino) = (meta.dev(), meta.ino());
        let cached = self
            .chips
            .iter()
            .position(|c| &*c.entry == entry && c.device == device);
        if let Some(c) = cached.and_then(|i| self.chips.get(i)) {
            if c.dev == dev && c.ino == ino {
                self.arena.push_str(&c.chip);
                return span_from(&self.arena, start);
            }
        }
        if let Ok(real) = std::fs::canonicalize(src.last_path()) {
            let name = real.file_name().map_or(&b""[..], |n| n.as_encoded_bytes());
            if device {
                // `<parent>_<name>`, or `<name>` when the parent cleans to nothing.
                let parent = real.parent().and_then(|p| p.file_name());
                push_clean(
                    &mut self.arena,
                    parent.map_or(&b""[..], |p| p.as_encoded_bytes()),
                );
                let parent_len = self.arena.len() - start;
                self.arena.push('_');
                let name_start = self.arena.len();
                push_clean(&mut self.arena, name);
                if self.arena.len() == name_start {
                    self.arena.truncate(start);
                } else if parent_len == 0 {
                    self.arena.replace_range(start..start + 1, "");
                }
            } else {
                push_clean(&mut self.arena, name);
            }
        }
        let chip: Box<str> = self.arena.get(start..).unwrap_or_default().into();
        let fresh = CachedChip {
            entry: entry.into(),
            device,
            dev,
            ino,
            chip,
        };
        match cached.and_then(|i| self.chips.get_mut(i)) {
            Some(slot) => *slot = fresh,
            None => self.chips.push(fresh),
        }
        span_from(&self.arena, start)
    }

    /// Reads the sensor files of `class/hwmon/<entry><sub>` into `entries`.
    fn scan(&mut self, src: &mut Source, entry: &str, sub: &str) -> Result<(), Error> {
        let dir = src.list_dir_open(Root::Sys, &["class/hwmon/", entry, sub], &mut self.files)?;
        let mut raw = [0u8; ATTR_MAX_BYTES];
        for file in self.files.iter() {
            let Some(f) = split_sensor_file(file) else {
                continue;
            };
            let Some(kind) = SENSOR_TYPES.iter().position(|&t| t == f.kind) else {
                continue;
            };
            // Relative to the listed directory: one name to resolve, not the path and symlink.
            src.publish_in(src.last_path(), file);
            let Ok(n) = read_at(&dir, file, &mut raw) else {
                continue;
            };
            let value = raw.get(..n).unwrap_or_default();
            let value = value.strip_suffix(b"\n").unwrap_or(value);
            let start = self.arena.len();
            self.arena.push_str(f.prop);
            let prop = span_from(&self.arena, start);
            let start = self.arena.len();
            push_valid_utf8(&mut self.arena, trim_newlines(value));
            let value = span_from(&self.arena, start);
            let seq = self.entries.len() as u32;
            self.entries.push(Entry {
                kind: kind as u8,
                num: f.num,
                prop,
                value,
                seq,
            });
        }
        Ok(())
    }

    /// Gathers the samples of one chip directory.
    fn chip(&mut self, ctx: &mut Ctx, entry: &str) -> Result<(), Error> {
        match std::fs::metadata(ctx.src.path(Root::Sys, &["class/hwmon/", entry])) {
            Ok(m) if m.is_dir() => {}
            _ => return Ok(()),
        }
        // The human-readable name: the cleaned `name` file, if any.
        let start = self.arena.len();
        if ctx
            .src
            .read_optional(Root::Sys, &["class/hwmon/", entry, "/name"], &mut ctx.buf)
            .unwrap_or(false)
        {
            push_clean(&mut self.arena, ctx.buf.as_bytes());
        }
        let chip_name = span_from(&self.arena, start);
        let mut chip = self.path_chip(&mut ctx.src, entry, true);
        if chip.0 == chip.1 {
            chip = chip_name;
        }
        if chip.0 == chip.1 {
            chip = self.path_chip(&mut ctx.src, entry, false);
        }
        if chip.0 == chip.1 {
            return Ok(());
        }
        if chip_name.0 != chip_name.1 {
            let family = push_parts(&mut self.arena, &["node_hwmon_chip_names"]);
            let help = push_parts(
                &mut self.arena,
                &["Annotation metric for human-readable chip names"],
            );
            self.samples.push(Sample {
                family,
                help,
                kind: Kind::Gauge,
                labels: [("chip", chip), ("chip_name", chip_name), ("", Span(0, 0))],
                n_labels: 2,
                value: 1.0,
            });
        }

        self.entries.clear();
        self.scan(&mut ctx.src, entry, "")?;
        if std::fs::metadata(ctx.src.path(Root::Sys, &["class/hwmon/", entry, "/device"])).is_ok() {
            self.scan(&mut ctx.src, entry, "/device")?;
        }
        // Later files win, as in node_exporter's map of sensor → property → value.
        let arena = &self.arena;
        self.entries.sort_unstable_by(|a, b| {
            (a.kind, a.num)
                .cmp(&(b.kind, b.num))
                .then_with(|| text(arena, a.prop).cmp(text(arena, b.prop)))
                .then(b.seq.cmp(&a.seq))
        });
        self.entries.dedup_by(|later, first| {
            (later.kind, later.num) == (first.kind, first.num)
                && text(arena, later.prop) == text(arena, first.prop)
        });

        let mut i = 0;
        while let Some(first) = self.entries.get(i) {
            let (kind, num) = (first.kind, first.num);
            let n = self
                .entries
                .get(i..)
                .unwrap_or_default()
                .iter()
                .take_while(|e| (e.kind, e.num) == (kind, num))
                .count();
            self.sensor(chip, i, n);
            i += n;
        }
        Ok(())
    }

    /// Turns the properties `entries[from..from + n]` of one sensor into samples.
    fn sensor(&mut self, chip: Span, from: usize, n: usize) {
        let Some(first) = self.entries.get(from) else {
            return;
        };
        let ty = SENSOR_TYPES.get(first.kind as usize).copied().unwrap_or("");
        let mut digits = [0u8; 20];
        let num = crate::expo::u64_str(&mut digits, first.num);
        let sensor = push_parts(&mut self.arena, &[ty, num]);
        let labels = [("chip", chip), ("sensor", sensor), ("", Span(0, 0))];
        let props = from..from + n;
        let find = |st: &State, p: &str| {
            st.entries
                .get(props.clone())
                .and_then(|es| es.iter().find(|e| text(&st.arena, e.prop) == p))
                .map(|e| e.value)
        };
        let has_bare = find(self, "").is_some();

        if let Some(label) = find(self, "label") {
            let family = push_parts(&mut self.arena, &["node_hwmon_sensor_label"]);
            let help = push_parts(&mut self.arena, &["Label for given chip and sensor"]);
            self.samples.push(Sample {
                family,
                help,
                kind: Kind::Gauge,
                labels: [("chip", chip), ("label", label), ("sensor", sensor)],
                n_labels: 3,
                value: 1.0,
            });
        }
        let special = match ty {
            "beep_enable" => {
                let on = find(self, "").is_some_and(|v| text(&self.arena, v) == "1");
                Some((
                    "node_hwmon_beep_enabled",
                    "Hardware beep enabled",
                    Some(f64::from(u8::from(on))),
                ))
            }
            "vrm" => Some((
                "node_hwmon_voltage_regulator_version",
                "Hardware voltage regulator",
                find(self, "").and_then(|v| go_parse_float(text(&self.arena, v))),
            )),
            "update_interval" => Some((
                "node_hwmon_update_interval_seconds",
                "Hardware monitor update interval",
                find(self, "")
                    .and_then(|v| go_parse_float(text(&self.arena, v)))
                    .map(|v| v * 0.001),
            )),
            _ => None,
        };
        if let Some((family, help, value)) = special {
            if let Some(value) = value {
                let family = push_parts(&mut self.arena, &[family]);
                let help = push_parts(&mut self.arena, &[help]);
                self.samples.push(Sample {
                    family,
                    help,
                    kind: Kind::Gauge,
                    labels,
                    n_labels: 2,
                    value,
                });
            }
            return;
        }

        for idx in props {
            let Some(e) = self.entries.get(idx) else {
                continue;
            };
            // The property is copied out of the arena, which grows below.
            let mut prop_buf = [0u8; 256];
            let prop_bytes = text(&self.arena, e.prop).as_bytes();
            let prop_len = prop_bytes.len().min(prop_buf.len());
            if let (Some(d), Some(s)) = (prop_buf.get_mut(..prop_len), prop_bytes.get(..prop_len)) {
                d.copy_from_slice(s);
            }
            let prop = std::str::from_utf8(prop_buf.get(..prop_len).unwrap_or_default())
                .unwrap_or_default();
            if prop == "label" {
                continue;
            }
            let Some(raw) = go_parse_float(text(&self.arena, e.value)) else {
                continue;
            };
            let (suffix, help, value, kind) = unit(ty, prop, raw);
            // node_hwmon_<type>[_input | _<clean property>]<suffix>
            let start = self.arena.len();
            self.arena.push_str("node_hwmon_");
            self.arena.push_str(ty);
            if prop == "input" {
                if has_bare {
                    self.arena.push_str("_input");
                }
            } else if !prop.is_empty() {
                self.arena.push('_');
                push_clean(&mut self.arena, prop.as_bytes());
            }
            self.arena.push_str(suffix);
            let family = span_from(&self.arena, start);
            let help = push_parts(&mut self.arena, &help);
            self.samples.push(Sample {
                family,
                help,
                kind,
                labels,
                n_labels: 2,
                value,
            });
        }
    }

    /// Writes the gathered samples, sorted by family and labels, each series once.
    fn write(&mut self, out: &mut Encoder) {
        let arena = &self.arena;
        let key = |s: &Sample| (text(arena, s.family), s.labels.map(|(_, v)| text(arena, v)));
        // Unstable (a stable sort allocates); the value breaks ties so that the series kept
        // among duplicates does not depend on directory order.
        self.samples
            .sort_unstable_by(|a, b| key(a).cmp(&key(b)).then(a.value.total_cmp(&b.value)));
        let mut last: Option<&Sample> = None;
        for s in &self.samples {
            if let Some(prev) = last {
                match key(prev).cmp(&key(s)) {
                    Ordering::Equal => continue,
                    _ if text(arena, prev.family) == text(arena, s.family) => {}
                    _ => out.family(text(arena, s.family), text(arena, s.help), s.kind),
                }
            } else {
                out.family(text(arena, s.family), text(arena, s.help), s.kind);
            }
            let labels = s.labels.map(|(k, v)| (k, text(arena, v)));
            out.f64(
                labels.get(..s.n_labels as usize).unwrap_or_default(),
                s.value,
            );
            last = Some(s);
        }
    }
}

/// The metric suffix, HELP (in parts), scaled value and type of property `prop` of a sensor of
/// type `ty`, as node_exporter 1.5 chooses them.
fn unit<'a>(ty: &'a str, prop: &'a str, raw: f64) -> (&'static str, [&'a str; 5], f64, Kind) {
    const G: Kind = Kind::Gauge;
    let plain = |h: &'static str| [h, "", "", "", ""];
    match (ty, prop) {
        (_, "fault" | "alarm") => ("", ["Hardware sensor ", prop, " status (", ty, ")"], raw, G),
        (_, "beep") => (
            "_enabled",
            plain("Hardware monitor sensor has beeping enabled"),
            raw,
            G,
        ),
        ("in" | "cpu", _) => (
            "_volts",
            ["Hardware monitor for voltage (", prop, ")", "", ""],
            raw * 0.001,
            G,
        ),
        ("temp", p) if p != "type" => {
            let element = if p.is_empty() { "input" } else { p };
            (
                "_celsius",
                ["Hardware monitor for temperature (", element, ")", "", ""],
                raw * 0.001,
                G,
            )
        }
        ("curr", _) => (
            "_amps",
            ["Hardware monitor for current (", prop, ")", "", ""],
            raw * 0.001,
            G,
        ),
        ("energy", _) => (
            "_joule_total",
            ["Hardware monitor for joules used so far (", prop, ")", "", ""],
            raw / 1000000.0,
            Kind::Counter,
        ),
        ("power", "accuracy") => (
            "",
            plain("Hardware monitor power meter accuracy, as a ratio"),
            raw / 1000000.0,
            G,
        ),
        ("power", "average_interval" | "average_interval_min" | "average_interval_max") => (
            "_seconds",
            ["Hardware monitor power usage update interval (", prop, ")", "", ""],
            raw * 0.001,
            G,
        ),
        ("power", _) => (
            "_watt",
            ["Hardware monitor for power usage in watts (", prop, ")", "", ""],
            raw / 1000000.0,
            G,
        ),
        ("humidity", _) => (
            "",
            [
                "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) (",
                prop,
                ")",
                "",
                "",
            ],
            raw / 1000000.0,
            G,
        ),
        ("fan", "input" | "min" | "max" | "target") => (
            "_rpm",
            ["Hardware monitor for fan revolutions per minute (", prop, ")", "", ""],
            raw,
            G,
        ),
        _ => ("", ["Hardware monitor ", ty, " element ", prop, ""], raw, G),
    }
}

/// node_exporter trims newlines (only) from both ends of a value.
fn trim_newlines(mut v: &[u8]) -> &[u8] {
    while let [b'\n', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b'\n'] = v {
        v = rest;
    }
    v
}

pub const COLLECTOR: Collector = Collector {
    name: "hwmon",
    enabled_by_default: true,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "class/hwmon")],
        hint: "sensor drivers (lm-sensors' sensors-detect); VMs often have none",
    },
    build: Build::New(|_| Ok(Box::<State>::default())),
};

impl Collect for State {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        collect_with(self, ctx, out)
    }
}

/// The collector on an explicit state.
pub fn collect_with(state: &mut State, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    state.arena.clear();
    state.samples.clear();
    if !ctx
        .src
        .list_dir_optional(Root::Sys, &["class/hwmon"], &mut ctx.names)?
    {
        return Ok(());
    }
    let names = std::mem::take(&mut ctx.names);
    let result = names.iter().try_for_each(|entry| state.chip(ctx, entry));
    ctx.names = names;
    result?;
    state.write(out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(name: &str) -> Option<(&str, u64, &str)> {
        split_sensor_file(name).map(|f| (f.kind, f.num, f.prop))
    }

    #[test]
    fn sensor_file_names_like_node_exporter_regex() {
        assert_eq!(split("temp1_input"), Some(("temp", 1, "input")));
        assert_eq!(split("temp1_crit_alarm"), Some(("temp", 1, "crit_alarm")));
        assert_eq!(split("in0_input"), Some(("in", 0, "input")));
        assert_eq!(split("fan01_input"), Some(("fan", 1, "input")));
        assert_eq!(split("pwm1"), Some(("pwm", 1, "")));
        assert_eq!(split("temp"), Some(("temp", 0, "")));
        assert_eq!(split("beep_enable"), Some(("beep_enable", 0, "")));
        assert_eq!(split("cpu0_vid"), Some(("cpu", 0, "vid")));
        assert_eq!(split("temp1_Max-Hyst"), Some(("temp", 1, "Max-Hyst")));
        // Backtracking: the type gives back up to an `_`.
        assert_eq!(split("temp_x1y"), Some(("temp", 0, "x1y")));
        assert_eq!(split("trip_point_0_temp"), Some(("trip_point_", 0, "temp")));
        assert_eq!(split("fan1_"), None);
        assert_eq!(split("0temp"), None);
        assert_eq!(split("in0input"), None);
        assert_eq!(split(""), None);
        assert_eq!(split("temp99999999999999999999_input"), None);
    }

    #[test]
    fn clean_names() {
        let clean = |s: &[u8]| {
            let mut out = String::from("x");
            push_clean(&mut out, s);
            out
        };
        assert_eq!(clean(b"coretemp\n"), "xcoretemp");
        assert_eq!(clean(b"Package id 0"), "xpackage_id_0");
        assert_eq!(clean(b"0000:03:00.0"), "x0000:03:00_0");
        assert_eq!(clean(b"__I2C-1__"), "xi2c_1");
        assert_eq!(clean(b"\xff\xfeab"), "xab");
        assert_eq!(clean(b"a\xff\xfeb"), "xa__b");
        assert_eq!(clean(b"\n"), "x");
    }

    #[test]
    fn labels_keep_text_and_replace_invalid_utf8() {
        let mut out = String::new();
        push_valid_utf8(&mut out, b"\xc3\x9cn\xc3\xafcode\xff\xfe!");
        assert_eq!(out, "Ünïcode\u{FFFD}!");
        assert_eq!(trim_newlines(b"\nAmbient \n\n"), b"Ambient ");
    }

    #[test]
    fn floats_like_go_parse_float() {
        assert_eq!(go_parse_float("45000"), Some(45000.0));
        assert_eq!(go_parse_float("-273150"), Some(-273150.0));
        assert_eq!(go_parse_float("13.0"), Some(13.0));
        assert_eq!(go_parse_float("12e3"), Some(12000.0));
        assert_eq!(go_parse_float("1_000"), Some(1000.0));
        assert_eq!(go_parse_float("Inf"), Some(f64::INFINITY));
        assert_eq!(go_parse_float("-infinity"), Some(f64::NEG_INFINITY));
        assert!(go_parse_float("NaN").is_some_and(f64::is_nan));
        for bad in [
            "", " 1", "41000 ", "0x10", "1__0", "_1", "1_", "+nan", "1e400", "abc",
        ] {
            assert_eq!(go_parse_float(bad), None, "{bad:?}");
        }
    }

    fn scrape(ctx: &mut Ctx) -> String {
        let mut out = Encoder::new();
        collect_with(&mut State::default(), ctx, &mut out).unwrap();
        String::from_utf8(out.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn collect_fixtures() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut state = State::default();
        let mut out = Encoder::new();
        collect_with(&mut state, &mut ctx, &mut out).unwrap();
        // A second scrape answers from the chip cache and gives the same output.
        let first = out.as_bytes().to_vec();
        out.clear();
        collect_with(&mut state, &mut ctx, &mut out).unwrap();
        assert_eq!(first, out.as_bytes());
        let text = String::from_utf8(first).unwrap();
        for line in [
            "node_hwmon_chip_names{chip=\"thermal_thermal_zone0\",chip_name=\"acpitz\"} 1\n",
            "node_hwmon_chip_names{chip=\"thermal_thermal_zone1\",chip_name=\"acpitz\"} 1\n",
            "node_hwmon_chip_names{chip=\"0000:00:1c_1_0000:03:00_0\",chip_name=\"iwlwifi_1\"} 1\n",
            "node_hwmon_chip_names{chip=\"dell_smm\",chip_name=\"dell_smm\"} 1\n",
            "# HELP node_hwmon_temp_celsius Hardware monitor for temperature (input)\n",
            "node_hwmon_temp_celsius{chip=\"platform_coretemp_0\",sensor=\"temp1\"} 48\n",
            "node_hwmon_temp_celsius{chip=\"thermal_thermal_zone1\",sensor=\"temp0\"} 29.8\n",
            "node_hwmon_temp_crit_alarm_celsius{chip=\"platform_coretemp_0\",sensor=\"temp5\"} 0\n",
            "node_hwmon_temp_min_celsius{chip=\"nvme_nvme0\",sensor=\"temp2\"} -273.15000000000003\n",
            "node_hwmon_sensor_label{chip=\"platform_coretemp_0\",label=\"Package id 0\",sensor=\"temp1\"} 1\n",
            "node_hwmon_in_volts{chip=\"platform_it87_2592\",sensor=\"in3\"} 3.2640000000000002\n",
            "node_hwmon_fan_rpm{chip=\"platform_it87_2592\",sensor=\"fan1\"} 1925\n",
            "node_hwmon_power_watt{chip=\"i2c_1_1_0040\",sensor=\"power1\"} 18.004\n",
            "# TYPE node_hwmon_energy_joule_total counter\n",
            "# HELP node_hwmon_pwm Hardware monitor pwm element \n",
            "node_hwmon_beep_enabled{chip=\"platform_it87_2592\",sensor=\"beep_enable0\"} 1\n",
            "node_hwmon_update_interval_seconds{chip=\"i2c_1_1_0040\",sensor=\"update_interval0\"} 1.1\n",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(samples.len(), 120);
        let mut series: Vec<&str> = samples
            .iter()
            .map(|l| l.rsplit_once(' ').unwrap().0)
            .collect();
        series.sort_unstable();
        series.dedup();
        assert_eq!(series.len(), samples.len(), "duplicate series");
    }

    #[test]
    fn same_chip_twice_without_device_is_written_once() {
        let root = std::env::temp_dir().join(format!("proctap-hwmon-{}", std::process::id()));
        for (dir, temp) in [
            ("hwmon0", "41000\n"),
            ("hwmon1", "43000\n"),
            ("hwmon2", "1\n"),
        ] {
            let d = root.join("sys/class/hwmon").join(dir);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("temp1_input"), temp).unwrap();
            if dir != "hwmon2" {
                std::fs::write(d.join("name"), "Sensor-X\n").unwrap();
            }
        }
        std::fs::write(root.join("sys/class/hwmon/hwmon2/temp1_label"), "").unwrap();
        let src = Source::new(root.join("proc"), root.join("sys"), root.clone());
        let mut ctx = Ctx::new(src);
        let text = scrape(&mut ctx);
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(
            text,
            "# HELP node_hwmon_chip_names Annotation metric for human-readable chip names\n\
             # TYPE node_hwmon_chip_names gauge\n\
             node_hwmon_chip_names{chip=\"sensor_x\",chip_name=\"sensor_x\"} 1\n\
             # HELP node_hwmon_sensor_label Label for given chip and sensor\n\
             # TYPE node_hwmon_sensor_label gauge\n\
             node_hwmon_sensor_label{chip=\"hwmon2\",label=\"\",sensor=\"temp1\"} 1\n\
             # HELP node_hwmon_temp_celsius Hardware monitor for temperature (input)\n\
             # TYPE node_hwmon_temp_celsius gauge\n\
             node_hwmon_temp_celsius{chip=\"hwmon2\",sensor=\"temp1\"} 0.001\n\
             node_hwmon_temp_celsius{chip=\"sensor_x\",sensor=\"temp1\"} 41\n"
        );
    }

    #[test]
    fn missing_class_is_empty() {
        let src = Source::new(
            "/nonexistent".into(),
            "/nonexistent-proctap".into(),
            "/".into(),
        );
        let mut ctx = Ctx::new(src);
        assert_eq!(scrape(&mut ctx), "");
    }
}
