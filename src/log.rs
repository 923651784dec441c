//! Logging to stderr as logfmt text or JSON lines, one line per event.
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "debug" => Level::Debug,
            "info" => Level::Info,
            "warn" => Level::Warn,
            "error" => Level::Error,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static JSON: AtomicBool = AtomicBool::new(false);

#[cfg_attr(proctap_size, optimize(size))]
pub fn init(level: Level, json: bool) {
    LEVEL.store(level as u8, Ordering::Relaxed);
    JSON.store(json, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 >= LEVEL.load(Ordering::Relaxed)
}

/// Writes one event with key/value fields, e.g. `log(Level::Info, "listening", &[("address", &addr)])`.
#[cfg_attr(proctap_size, optimize(size))]
pub fn log(level: Level, msg: &str, fields: &[(&str, &dyn fmt::Display)]) {
    if !enabled(level) {
        return;
    }
    let line = format_line(
        SystemTime::now(),
        level,
        msg,
        fields,
        JSON.load(Ordering::Relaxed),
    );
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

pub fn info(msg: &str, fields: &[(&str, &dyn fmt::Display)]) {
    log(Level::Info, msg, fields);
}

pub fn warn(msg: &str, fields: &[(&str, &dyn fmt::Display)]) {
    log(Level::Warn, msg, fields);
}

pub fn error(msg: &str, fields: &[(&str, &dyn fmt::Display)]) {
    log(Level::Error, msg, fields);
}

#[cfg_attr(proctap_size, optimize(size))]
fn format_line(
    now: SystemTime,
    level: Level,
    msg: &str,
    fields: &[(&str, &dyn fmt::Display)],
    json: bool,
) -> String {
    let mut ts = String::with_capacity(24);
    rfc3339(&mut ts, now);
    let mut line = String::with_capacity(128);
    let mut val = String::new();
    if json {
        let _ = write!(
            line,
            "{{\"ts\":\"{ts}\",\"level\":\"{}\",\"msg\":",
            level.as_str()
        );
        json_str(&mut line, msg);
        for (k, v) in fields {
            val.clear();
            let _ = write!(val, "{v}");
            line.push(',');
            json_str(&mut line, k);
            line.push(':');
            json_str(&mut line, &val);
        }
        line.push_str("}\n");
    } else {
        let _ = write!(line, "ts={ts} level={} msg=", level.as_str());
        logfmt_value(&mut line, msg);
        for (k, v) in fields {
            val.clear();
            let _ = write!(val, "{v}");
            let _ = write!(line, " {k}=");
            logfmt_value(&mut line, &val);
        }
        line.push('\n');
    }
    line
}

#[cfg_attr(proctap_size, optimize(size))]
fn logfmt_value(out: &mut String, v: &str) {
    let plain = !v.is_empty()
        && v.bytes()
            .all(|b| b > b' ' && b != b'"' && b != b'=' && b < 0x7f);
    if plain {
        out.push_str(v);
    } else {
        json_str(out, v);
    }
}

#[cfg_attr(proctap_size, optimize(size))]
fn json_str(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Formats a UTC timestamp with milliseconds, e.g. `2026-11-21T23:33:31.184Z`.
#[cfg_attr(proctap_size, optimize(size))]
fn rfc3339(out: &mut String, t: SystemTime) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    let _ = write!(
        out,
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        d.subsec_millis()
    );
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
#[cfg_attr(proctap_size, optimize(size))]
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_413), (2025, 11, 21));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn text_and_json_lines() {
        let t = UNIX_EPOCH + Duration::from_millis(1_763_767_211_184);
        let addr = "0.0.0.0:9100";
        let err = "/proc/stat: \"bad\"";
        let f: &[(&str, &dyn fmt::Display)] = &[("address", &addr), ("err", &err)];
        assert_eq!(
            format_line(t, Level::Info, "listening", f, false),
            "ts=2025-11-21T23:20:11.184Z level=info msg=listening address=0.0.0.0:9100 err=\"/proc/stat: \\\"bad\\\"\"\n"
        );
        assert_eq!(
            format_line(t, Level::Warn, "a b", f, true),
            "{\"ts\":\"2025-11-21T23:20:11.184Z\",\"level\":\"warn\",\"msg\":\"a b\",\"address\":\"0.0.0.0:9100\",\"err\":\"/proc/stat: \\\"bad\\\"\"}\n"
        );
    }
}
