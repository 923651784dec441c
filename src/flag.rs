//! Flags as data: name, aliases, kind, default and help. The program's own flags (cli.rs) and
//! each collector's (in its `Collector` entry, next to its code, as node_exporter's collectors
//! register theirs) are described with this one type. cli.rs gathers them into one table for the
//! command line, the config file, `--help` and `proctap config`; a collector reads its values
//! from [`Settings`] when it is built, so collectors never see the CLI.
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use regex_lite::Regex;

use crate::config::{ConfigError, Value};

/// What a flag's value is, and so how it is checked and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--X` / `--no-X`, `true`/`false` in the file.
    Switch,
    Str,
    /// A pattern that must compile; the empty pattern is a pattern.
    Regex,
    /// A pattern that must compile; empty means "not set".
    OptRegex,
    /// `5s`, `500ms`, `2m`, `1h` (a number of seconds in the file).
    Duration,
    /// A non-negative integer.
    Count,
    /// `a,b` on the command line, `["a", "b"]` in the file; a later setting replaces it.
    List,
    /// Like `List`, but each use adds to it (a repeatable flag such as `--proc-name`).
    Append,
    /// One item per use, taken whole (no splitting at commas; an empty value is an item its
    /// check sees); the first use in the config file or on the command line replaces the list
    /// (cli.rs clears it), later uses add: kingpin's repeatable `Strings()` flags, such as
    /// `--web.listen-address`.
    Repeat,
}

/// Checks one value (or one list item) beyond its kind; the message says what was expected.
pub type Check = fn(&str) -> Result<(), String>;

/// What `--help` shows for a flag's empty default: one byte, not a `&str` (16) in each of the
/// ~90 flags (DESIGN.md: "Size").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unset {
    /// Nothing.
    Blank,
    None,
    All,
}

impl Unset {
    pub fn as_str(self) -> &'static str {
        match self {
            Unset::Blank => "",
            Unset::None => "none",
            Unset::All => "all",
        }
    }
}

/// One long flag; its name without the dashes is also its config file key.
#[derive(Debug)]
pub struct Flag {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    /// The value's placeholder in `--help` (empty for a switch).
    pub arg: &'static str,
    /// The default in the command line's syntax; empty for none.
    pub default: &'static str,
    pub help: &'static str,
    /// Shown in `--help` instead of an empty default.
    pub unset: Unset,
    pub check: Option<Check>,
    /// For the include flag of an include/exclude pair, its exclude flag: setting both in one
    /// place is an error (as in node_exporter), and one given on the command line replaces the
    /// other from the config file.
    pub partner: Option<&'static str>,
    /// Left out of `proctap config` (an action such as `--collector.disable-defaults`).
    pub action: bool,
}

impl Flag {
    pub const fn new(
        name: &'static str,
        kind: Kind,
        arg: &'static str,
        default: &'static str,
        help: &'static str,
    ) -> Flag {
        Flag {
            name,
            aliases: &[],
            kind,
            arg,
            default,
            help,
            unset: Unset::Blank,
            check: None,
            partner: None,
            action: false,
        }
    }

    pub const fn switch(name: &'static str, help: &'static str) -> Flag {
        Flag::new(name, Kind::Switch, "", "false", help)
    }

    pub const fn aliases(self, aliases: &'static [&'static str]) -> Flag {
        Flag { aliases, ..self }
    }

    /// `--help` shows an empty default as "none".
    pub const fn unset_none(self) -> Flag {
        Flag {
            unset: Unset::None,
            ..self
        }
    }

    /// `--help` shows an empty default as "all".
    pub const fn unset_all(self) -> Flag {
        Flag {
            unset: Unset::All,
            ..self
        }
    }

    pub const fn check(self, check: Check) -> Flag {
        Flag {
            check: Some(check),
            ..self
        }
    }

    pub const fn partner(self, partner: &'static str) -> Flag {
        Flag {
            partner: Some(partner),
            ..self
        }
    }

    pub const fn action(self) -> Flag {
        Flag {
            action: true,
            ..self
        }
    }

    #[cfg_attr(proctap_size, optimize(size))]
    pub fn is_switch(&self) -> bool {
        self.kind == Kind::Switch
    }

    #[cfg_attr(proctap_size, optimize(size))]
    pub fn known_as(&self, key: &str) -> bool {
        self.name == key || self.aliases.contains(&key)
    }

    /// Checks a value given for this flag and brings it to the form [`Settings`] keeps.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn accept(&self, v: Value) -> Result<Value, String> {
        let check = |s: &str| self.check.map_or(Ok(()), |c| c(s));
        Ok(match self.kind {
            Kind::Switch => Value::Bool(boolean(v)?),
            Kind::Str => {
                let s = string(v)?;
                check(&s)?;
                Value::Str(s)
            }
            Kind::Regex | Kind::OptRegex => {
                let s = string(v)?;
                if !(s.is_empty() && self.kind == Kind::OptRegex) {
                    Regex::new(&s).map_err(|e| e.to_string())?;
                    check(&s)?;
                }
                Value::Str(s)
            }
            Kind::Duration => Value::Str(duration_text(duration(v)?)),
            Kind::Count => Value::Int(i64::try_from(count(v)?).map_err(|e| e.to_string())?),
            Kind::List | Kind::Append => {
                let items = list(v)?;
                items.iter().try_for_each(|i| check(i))?;
                Value::List(items)
            }
            Kind::Repeat => match v {
                Value::Str(s) => {
                    check(&s)?;
                    Value::List(vec![s])
                }
                // In a list, the error names the item.
                Value::List(items) => {
                    for i in &items {
                        check(i).map_err(|e| format!("{i:?}: {e}"))?;
                    }
                    Value::List(items)
                }
                other => {
                    return Err(format!(
                        "expected a string or a list of strings, found {}",
                        other.kind()
                    ))
                }
            },
        })
    }

    /// The default, as [`Settings`] keeps it.
    #[cfg_attr(proctap_size, optimize(size))]
    fn default_value(&self) -> Value {
        let text = Value::Str(self.default.to_string());
        match self.kind {
            // An empty default list is no items, not one empty item.
            Kind::List | Kind::Append | Kind::Repeat if self.default.is_empty() => {
                Value::List(Vec::new())
            }
            _ => self.accept(text.clone()).unwrap_or(text),
        }
    }
}

/// A bad command line or config file; the process exits 2 with this one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    UnknownFlag(String),
    UnexpectedArgument(String),
    MissingValue(String),
    BadValue {
        flag: String,
        value: String,
        why: String,
    },
    Conflict(String, String),
    Config(ConfigError),
}

impl fmt::Display for CliError {
    #[cfg_attr(proctap_size, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::UnknownFlag(flag) => write!(f, "unknown flag {flag} (see --help)"),
            CliError::UnexpectedArgument(a) => write!(f, "unexpected argument {a:?} (see --help)"),
            CliError::MissingValue(flag) => write!(f, "flag {flag} needs a value"),
            CliError::BadValue { flag, value, why } => {
                write!(f, "flag {flag}: invalid value {value:?}: {why}")
            }
            CliError::Conflict(a, b) => write!(f, "flags {a} and {b} are mutually exclusive"),
            CliError::Config(e) => write!(f, "{e}"),
        }
    }
}

#[cfg_attr(proctap_size, optimize(size))]
pub fn bad(flag: &str, value: &str, why: impl fmt::Display) -> CliError {
    CliError::BadValue {
        flag: flag.into(),
        value: value.into(),
        why: why.to_string(),
    }
}

/// The value of every flag, by canonical name. Filled with the defaults, then the config file,
/// then the command line; read when collectors are built, never during a scrape.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Sorted by name.
    values: Vec<(&'static str, Value)>,
}

impl Settings {
    /// The defaults of these flags.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new<'a>(flags: impl IntoIterator<Item = &'a Flag>) -> Settings {
        let mut values: Vec<(&'static str, Value)> = flags
            .into_iter()
            .map(|f| (f.name, f.default_value()))
            .collect();
        values.sort_by(|a, b| a.0.cmp(b.0));
        values.dedup_by(|a, b| a.0 == b.0);
        Settings { values }
    }

    #[cfg_attr(proctap_size, optimize(size))]
    fn slot(&mut self, name: &str) -> Option<&mut Value> {
        let i = self.values.binary_search_by(|(n, _)| (*n).cmp(name)).ok()?;
        self.values.get_mut(i).map(|(_, v)| v)
    }

    /// Sets `flag` to `v` (checked); a repeatable flag adds to what it has.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn set(&mut self, flag: &Flag, v: Value) -> Result<(), String> {
        let v = flag.accept(v)?;
        let Some(slot) = self.slot(flag.name) else {
            return Err(format!("{} is not a flag of this build", flag.name));
        };
        match (flag.kind, slot, v) {
            (Kind::Append | Kind::Repeat, Value::List(have), Value::List(more)) => {
                have.extend(more)
            }
            (_, slot, v) => *slot = v,
        }
        Ok(())
    }

    /// Empties a list flag, so that the next [`Settings::set`] starts it afresh.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn clear(&mut self, flag: &Flag) {
        if let Some(slot) = self.slot(flag.name) {
            *slot = Value::List(Vec::new());
        }
    }

    /// Puts `flag` back to its default.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn reset(&mut self, flag: &Flag) {
        if let Some(slot) = self.slot(flag.name) {
            *slot = flag.default_value();
        }
    }

    pub fn value(&self, name: &str) -> Option<&Value> {
        let found = self
            .values
            .binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .and_then(|i| self.values.get(i))
            .map(|(_, v)| v);
        debug_assert!(found.is_some(), "flag {name} is not declared");
        found
    }

    pub fn str(&self, name: &str) -> &str {
        match self.value(name) {
            Some(Value::Str(s)) => s,
            _ => "",
        }
    }

    pub fn switch(&self, name: &str) -> bool {
        matches!(self.value(name), Some(Value::Bool(true)))
    }

    pub fn count(&self, name: &str) -> usize {
        match self.value(name) {
            Some(Value::Int(i)) => usize::try_from(*i).unwrap_or(0),
            _ => 0,
        }
    }

    pub fn duration(&self, name: &str) -> Duration {
        self.value(name)
            .and_then(|v| duration(v.clone()).ok())
            .unwrap_or_default()
    }

    pub fn list(&self, name: &str) -> &[String] {
        match self.value(name) {
            Some(Value::List(l)) => l,
            _ => &[],
        }
    }

    /// A path flag; the empty string is "not set".
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        Some(self.str(name))
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    }

    /// A pattern; the error names the flag.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn regex(&self, name: &str) -> Result<Regex, CliError> {
        let p = self.str(name);
        Regex::new(p).map_err(|e| bad(&format!("--{name}"), p, e))
    }

    /// A pattern that may be unset (empty).
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn opt_regex(&self, name: &str) -> Result<Option<Regex>, CliError> {
        if self.str(name).is_empty() {
            return Ok(None);
        }
        self.regex(name).map(Some)
    }
}

#[cfg_attr(proctap_size, optimize(size))]
fn string(v: Value) -> Result<String, String> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(format!("expected a string, found {}", other.kind())),
    }
}

#[cfg_attr(proctap_size, optimize(size))]
pub fn boolean(v: Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(b),
        Value::Str(s) if s == "true" => Ok(true),
        Value::Str(s) if s == "false" => Ok(false),
        other => Err(format!("expected true or false, found {}", other.kind())),
    }
}

/// A list from the file (`["a", "b"]`) or the command line (`a,b`).
#[cfg_attr(proctap_size, optimize(size))]
fn list(v: Value) -> Result<Vec<String>, String> {
    let items = match v {
        Value::List(items) => items,
        Value::Str(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
        other => return Err(format!("expected a list, found {}", other.kind())),
    };
    Ok(items.into_iter().filter(|s| !s.is_empty()).collect())
}

/// A count: an integer in the file, digits on the command line.
#[cfg_attr(proctap_size, optimize(size))]
fn count(v: Value) -> Result<usize, String> {
    match v {
        Value::Int(i) if i >= 0 => usize::try_from(i).map_err(|e| e.to_string()),
        Value::Str(s) => s
            .parse()
            .map_err(|_| format!("expected a non-negative integer, found {s:?}")),
        other => Err(format!(
            "expected a non-negative integer, found {}",
            other.kind()
        )),
    }
}

/// A duration like node_exporter's flags take: `5s`, `500ms`, `2m`, `1h` (or a number of seconds
/// in the config file).
#[cfg_attr(proctap_size, optimize(size))]
pub fn duration(v: Value) -> Result<Duration, String> {
    let s = match v {
        Value::Int(i) if i >= 0 => return Ok(Duration::from_secs(i as u64)),
        Value::Float(f) if f >= 0.0 && f.is_finite() => return Ok(Duration::from_secs_f64(f)),
        Value::Str(s) => s,
        other => {
            return Err(format!(
                "expected a duration such as \"5s\", found {}",
                other.kind()
            ))
        }
    };
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("expected a duration such as \"5s\", found {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("expected a unit ms, s, m or h in {s:?}")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

#[cfg_attr(proctap_size, optimize(size))]
pub fn duration_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] = &[
        Flag::new("a.re", Kind::Regex, "RE", "^x$", "a pattern"),
        Flag::new("a.opt", Kind::OptRegex, "RE", "", "maybe a pattern"),
        Flag::new("a.wait", Kind::Duration, "DURATION", "5s", "a wait"),
        Flag::new("a.n", Kind::Count, "N", "3", "a count"),
        Flag::new("a.names", Kind::Append, "NAME", "", "names").check(|s| {
            if s.contains(' ') {
                Err("no spaces".into())
            } else {
                Ok(())
            }
        }),
        Flag::switch("a.on", "a switch"),
        Flag::new("a.addr", Kind::Repeat, "ADDR", ":1", "addresses").check(|s| {
            if s.is_empty() {
                Err("empty".into())
            } else {
                Ok(())
            }
        }),
    ];

    #[test]
    fn defaults_are_kept_in_their_kind() {
        let s = Settings::new(FLAGS);
        assert_eq!(s.str("a.re"), "^x$");
        assert!(s.regex("a.re").unwrap().is_match("x"));
        assert!(s.opt_regex("a.opt").unwrap().is_none());
        assert_eq!(s.duration("a.wait"), Duration::from_secs(5));
        assert_eq!(s.count("a.n"), 3);
        assert!(s.list("a.names").is_empty());
        assert!(!s.switch("a.on"));
    }

    #[test]
    fn values_are_checked_and_repeatable_flags_add() {
        let mut s = Settings::new(FLAGS);
        let f = |n: &str| FLAGS.iter().find(|f| f.name == n).unwrap();
        assert!(s.set(f("a.re"), Value::Str("(".into())).is_err());
        s.set(f("a.wait"), Value::Str("250ms".into())).unwrap();
        assert_eq!(s.duration("a.wait"), Duration::from_millis(250));
        assert_eq!(
            s.set(f("a.n"), Value::Str("-1".into())),
            Err("expected a non-negative integer, found \"-1\"".into())
        );
        s.set(f("a.names"), Value::Str("x".into())).unwrap();
        s.set(f("a.names"), Value::List(vec!["y".into(), "z".into()]))
            .unwrap();
        assert_eq!(s.list("a.names"), ["x", "y", "z"]);
        assert_eq!(
            s.set(f("a.names"), Value::Str("p q".into())),
            Err("no spaces".into())
        );
        // Repeat: whole values, the empty one checked, list items named in errors.
        s.set(f("a.addr"), Value::Str("x,y".into())).unwrap();
        assert_eq!(s.list("a.addr"), [":1", "x,y"], "adds to the default");
        s.clear(f("a.addr"));
        s.set(f("a.addr"), Value::List(vec!["p".into(), "q".into()]))
            .unwrap();
        assert_eq!(s.list("a.addr"), ["p", "q"]);
        assert_eq!(
            s.set(f("a.addr"), Value::Str(String::new())),
            Err("empty".into())
        );
        assert_eq!(
            s.set(f("a.addr"), Value::List(vec!["r".into(), String::new()])),
            Err("\"\": empty".into())
        );
        s.set(f("a.on"), Value::Bool(true)).unwrap();
        assert!(s.switch("a.on"));
        s.reset(f("a.on"));
        assert!(!s.switch("a.on"));
    }

    #[test]
    fn durations() {
        for (text, ms) in [
            ("5s", 5000),
            ("500ms", 500),
            ("2m", 120_000),
            ("1.5s", 1500),
        ] {
            let d = duration(Value::Str(text.into())).unwrap();
            assert_eq!(d.as_millis(), ms, "{text}");
        }
        assert_eq!(duration_text(Duration::from_millis(1500)), "1500ms");
        assert_eq!(duration_text(Duration::from_secs(10)), "10s");
        assert!(duration(Value::Str("5".into())).is_err());
        assert!(duration(Value::Str("5d".into())).is_err());
    }
}
