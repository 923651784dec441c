//! Command-line options: the lexopt loop, defaults, validation and the `--help` text.
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use crate::collector::{self, Opts};
use crate::log::Level;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Serve,
    /// Print one scrape to stdout and exit.
    Once,
    Help,
    Version,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub command: Command,
    pub listen: String,
    pub telemetry_path: String,
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
    /// One entry per [`collector::ALL`].
    pub enabled: Vec<bool>,
    pub diskstats_exclude: Option<String>,
    pub diskstats_include: Option<String>,
    pub netdev_exclude: Option<String>,
    pub netdev_include: Option<String>,
    pub netclass_ignored: String,
    pub netstat_fields: String,
    pub vmstat_fields: String,
    pub log_json: bool,
    pub log_level: Level,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            command: Command::Serve,
            listen: "0.0.0.0:9100".into(),
            telemetry_path: "/metrics".into(),
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: "/".into(),
            enabled: collector::ALL
                .iter()
                .map(|c| c.enabled_by_default)
                .collect(),
            diskstats_exclude: None,
            diskstats_include: None,
            netdev_exclude: None,
            netdev_include: None,
            netclass_ignored: collector::NETCLASS_IGNORED_DEFAULT.into(),
            netstat_fields: collector::NETSTAT_FIELDS_DEFAULT.into(),
            vmstat_fields: collector::VMSTAT_FIELDS_DEFAULT.into(),
            log_json: false,
            log_level: Level::Info,
        }
    }
}

/// A bad command line. Every variant names the flag; the process exits 2.
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
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::UnknownFlag(flag) => write!(f, "unknown flag {flag} (see --help)"),
            CliError::UnexpectedArgument(a) => write!(f, "unexpected argument {a:?} (see --help)"),
            CliError::MissingValue(flag) => write!(f, "flag {flag} needs a value"),
            CliError::BadValue { flag, value, why } => {
                write!(f, "flag {flag}: invalid value {value:?}: {why}")
            }
            CliError::Conflict(a, b) => write!(f, "flags {a} and {b} are mutually exclusive"),
        }
    }
}

pub fn bad(flag: &str, value: &str, why: impl fmt::Display) -> CliError {
    CliError::BadValue {
        flag: flag.into(),
        value: value.into(),
        why: why.to_string(),
    }
}

impl Config {
    /// Compiles the per-collector options; an invalid pattern names its flag.
    pub fn opts(&self) -> Result<Opts, CliError> {
        Opts::new(self)
    }

    /// Indexes into [`collector::ALL`] of the enabled collectors, in table order.
    pub fn enabled_collectors(&self) -> Vec<usize> {
        (0..collector::ALL.len())
            .filter(|&i| self.enabled.get(i) == Some(&true))
            .collect()
    }
}

fn string(flag: &str, v: OsString) -> Result<String, CliError> {
    v.into_string()
        .map_err(|v| bad(flag, &v.to_string_lossy(), "not valid UTF-8"))
}

/// Parses the arguments after the program name.
pub fn parse<I>(args: I) -> Result<Config, CliError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::Arg::{Long, Short, Value};
    let mut cfg = Config::default();
    let mut parser = lexopt::Parser::from_args(args);
    loop {
        let arg = match parser.next() {
            Ok(Some(arg)) => arg,
            Ok(None) => break,
            Err(e) => return Err(lexopt_error(e)),
        };
        let flag = match &arg {
            Long(name) => format!("--{name}"),
            Short(c) => format!("-{c}"),
            Value(v) => {
                let v = v.to_string_lossy().into_owned();
                match (v.as_str(), cfg.command) {
                    ("once", Command::Serve) => cfg.command = Command::Once,
                    _ => return Err(CliError::UnexpectedArgument(v)),
                }
                continue;
            }
        };
        let mut value = || -> Result<String, CliError> {
            let v = parser
                .value()
                .map_err(|_| CliError::MissingValue(flag.clone()))?;
            string(&flag, v)
        };
        match flag.as_str() {
            "-h" | "--help" => cfg.command = Command::Help,
            "-V" | "--version" => cfg.command = Command::Version,
            "--listen" | "--web.listen-address" => cfg.listen = value()?,
            "--web.telemetry-path" => {
                let v = value()?;
                if !v.starts_with('/') {
                    return Err(bad(&flag, &v, "must start with /"));
                }
                cfg.telemetry_path = v;
            }
            "--path.procfs" => cfg.procfs = value()?.into(),
            "--path.sysfs" => cfg.sysfs = value()?.into(),
            "--path.rootfs" => cfg.rootfs = value()?.into(),
            "--collectors" | "--monitor" => {
                let v = value()?;
                cfg.enabled.iter_mut().for_each(|e| *e = false);
                for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    let i = collector::by_name(name)
                        .ok_or_else(|| bad(&flag, &v, format!("unknown collector {name:?}")))?;
                    if let Some(e) = cfg.enabled.get_mut(i) {
                        *e = true;
                    }
                }
            }
            "--collector.disable-defaults" => cfg.enabled.iter_mut().for_each(|e| *e = false),
            "--collector.diskstats.device-exclude" => cfg.diskstats_exclude = Some(value()?),
            "--collector.diskstats.device-include" => cfg.diskstats_include = Some(value()?),
            "--collector.netdev.device-exclude" => cfg.netdev_exclude = Some(value()?),
            "--collector.netdev.device-include" => cfg.netdev_include = Some(value()?),
            "--collector.netclass.ignored-devices" => cfg.netclass_ignored = value()?,
            "--collector.netstat.fields" => cfg.netstat_fields = value()?,
            "--collector.vmstat.fields" => cfg.vmstat_fields = value()?,
            "--log-format" | "--log.format" => {
                let v = value()?;
                cfg.log_json = match v.as_str() {
                    "text" | "logfmt" => false,
                    "json" => true,
                    _ => return Err(bad(&flag, &v, "expected text or json")),
                };
            }
            "--log-level" | "--log.level" => {
                let v = value()?;
                cfg.log_level = Level::parse(&v)
                    .ok_or_else(|| bad(&flag, &v, "expected debug, info, warn or error"))?;
            }
            other => {
                let toggle = other
                    .strip_prefix("--collector.")
                    .map(|n| (n, true))
                    .or_else(|| other.strip_prefix("--no-collector.").map(|n| (n, false)));
                match toggle.and_then(|(n, on)| Some((collector::by_name(n)?, on))) {
                    Some((i, on)) => {
                        if let Some(e) = cfg.enabled.get_mut(i) {
                            *e = on;
                        }
                    }
                    None => return Err(CliError::UnknownFlag(flag)),
                }
            }
        }
    }
    cfg.opts()?;
    Ok(cfg)
}

fn lexopt_error(e: lexopt::Error) -> CliError {
    match e {
        lexopt::Error::MissingValue { option } => {
            CliError::MissingValue(option.unwrap_or_else(|| "?".into()))
        }
        lexopt::Error::UnexpectedValue { option, value } => bad(
            &option,
            &value.to_string_lossy(),
            "this flag takes no value",
        ),
        lexopt::Error::UnexpectedOption(o) => CliError::UnknownFlag(o),
        lexopt::Error::UnexpectedArgument(a) => {
            CliError::UnexpectedArgument(a.to_string_lossy().into_owned())
        }
        other => CliError::UnexpectedArgument(other.to_string()),
    }
}

pub fn version() -> String {
    format!(
        "proctap {} (revision {}, rustc {})\n",
        env!("CARGO_PKG_VERSION"),
        env!("PROCTAP_REVISION"),
        env!("PROCTAP_RUSTC")
    )
}

pub fn help() -> String {
    let d = Config::default();
    let mut on = Vec::new();
    let mut off = Vec::new();
    for c in collector::ALL {
        if c.enabled_by_default {
            on.push(c.name)
        } else {
            off.push(c.name)
        }
    }
    format!(
        "\
proctap {version}: a tiny node_exporter-compatible Prometheus exporter for Linux.

Usage: proctap [once] [FLAGS]

Commands:
  (none)                         Serve metrics over HTTP.
  once                           Print one scrape to stdout and exit: 0 when every enabled
                                 collector succeeded, 1 otherwise.

Server:
  --listen ADDR                  Address to listen on (alias --web.listen-address).
                                 [default: {listen}]
  --web.telemetry-path PATH      Path under which metrics are served. [default: {path}]

Paths:
  --path.procfs DIR              procfs mount point. [default: {procfs}]
  --path.sysfs DIR               sysfs mount point. [default: {sysfs}]
  --path.rootfs DIR              Root filesystem (for the host's files). [default: {rootfs}]

Collectors:
  --collectors a,b,c             Enable exactly these collectors (alias --monitor).
  --collector.NAME               Enable collector NAME.
  --no-collector.NAME            Disable collector NAME.
  --collector.disable-defaults   Disable every collector; enable some with --collector.NAME.
                                 [default on: {on}]
                                 [default off: {off}]

Collector options:
  --collector.diskstats.device-exclude RE
                                 Devices to exclude (mutually exclusive with -include).
                                 [default: {disk_ex}]
  --collector.diskstats.device-include RE
                                 Only these devices. [default: none]
  --collector.netdev.device-exclude RE
                                 Interfaces to exclude. [default: none]
  --collector.netdev.device-include RE
                                 Only these interfaces. [default: none]
  --collector.netclass.ignored-devices RE
                                 Interfaces the netclass collector ignores. [default: {nc}]
  --collector.netstat.fields RE  Fields of /proc/net/{{snmp,netstat,snmp6}} to export, as
                                 Proto_Field. [default: {ns}]
  --collector.vmstat.fields RE   Fields of /proc/vmstat to export. [default: {vm}]

Logging (to stderr):
  --log-format text|json         Log line format (alias --log.format). [default: text]
  --log-level LEVEL              debug, info, warn or error (alias --log.level). [default: info]

  -h, --help                     Print this help.
  -V, --version                  Print version, git revision and rustc version.

Bad flags or values exit with status 2.
",
        version = env!("CARGO_PKG_VERSION"),
        listen = d.listen,
        path = d.telemetry_path,
        procfs = d.procfs.display(),
        sysfs = d.sysfs.display(),
        rootfs = d.rootfs.display(),
        on = on.join(","),
        off = if off.is_empty() {
            "none".to_string()
        } else {
            off.join(",")
        },
        disk_ex = collector::DISKSTATS_EXCLUDE_DEFAULT,
        nc = collector::NETCLASS_IGNORED_DEFAULT,
        ns = collector::NETSTAT_FIELDS_DEFAULT,
        vm = collector::VMSTAT_FIELDS_DEFAULT,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Config, CliError> {
        parse(args.iter().copied())
    }

    fn enabled_names(c: &Config) -> Vec<&'static str> {
        c.enabled_collectors()
            .into_iter()
            .map(|i| collector::ALL[i].name)
            .collect()
    }

    #[test]
    fn defaults() {
        let c = p(&[]).unwrap();
        assert_eq!(c.command, Command::Serve);
        assert_eq!(c.listen, "0.0.0.0:9100");
        assert_eq!(c.telemetry_path, "/metrics");
        assert_eq!(c.procfs, PathBuf::from("/proc"));
        assert_eq!(enabled_names(&c).len(), collector::ALL.len());
        let mut o = c.opts().unwrap();
        assert!(!o.diskstats.allows("sda1"));
        assert!(!o.diskstats.allows("loop0"));
        assert!(!o.diskstats.allows("nvme0n1p2"));
        assert!(o.diskstats.allows("sda"));
        assert!(o.diskstats.allows("nvme0n1"));
        assert!(o.diskstats.allows("mmcblk0p1"));
        assert!(o.diskstats.allows("dm-0"));
        assert!(o.netdev.allows("lo"));
    }

    #[test]
    fn flags_and_aliases() {
        let c = p(&[
            "once",
            "--web.listen-address=127.0.0.1:9999",
            "--path.procfs",
            "fixtures/proc",
            "--monitor",
            "cpu,meminfo",
            "--collector.loadavg",
            "--no-collector.cpu",
            "--collector.netdev.device-include",
            "^eth",
            "--log.level=debug",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(c.command, Command::Once);
        assert_eq!(c.listen, "127.0.0.1:9999");
        assert_eq!(c.procfs, PathBuf::from("fixtures/proc"));
        assert_eq!(enabled_names(&c), ["loadavg", "meminfo"]);
        assert!(c.log_json);
        assert_eq!(c.log_level, Level::Debug);
        let mut o = c.opts().unwrap();
        assert!(o.netdev.allows("eth0.100"));
        assert!(!o.netdev.allows("wlan0"));
    }

    #[test]
    fn errors_name_the_flag() {
        let e = p(&["--bogus"]).unwrap_err();
        assert_eq!(e, CliError::UnknownFlag("--bogus".into()));
        assert_eq!(e.to_string(), "unknown flag --bogus (see --help)");
        let e = p(&["--collector.nosuch"]).unwrap_err();
        assert_eq!(e, CliError::UnknownFlag("--collector.nosuch".into()));
        let e = p(&["--collectors", "cpu,nope"]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("flag --collectors: invalid value \"cpu,nope\""),
            "{e}"
        );
        let e = p(&["--collector.netstat.fields", "(unclosed"]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("flag --collector.netstat.fields: "),
            "{e}"
        );
        let e = p(&["--listen"]).unwrap_err();
        assert_eq!(e, CliError::MissingValue("--listen".into()));
        let e = p(&["--log-level", "loud"]).unwrap_err();
        assert!(e.to_string().contains("--log-level"), "{e}");
        let e = p(&["--collector.cpu=yes"]).unwrap_err();
        assert!(e.to_string().contains("--collector.cpu"), "{e}");
        let e = p(&["serve"]).unwrap_err();
        assert_eq!(e, CliError::UnexpectedArgument("serve".into()));
        let e = p(&[
            "--collector.diskstats.device-include=sd",
            "--collector.diskstats.device-exclude=loop",
        ])
        .unwrap_err();
        assert!(matches!(e, CliError::Conflict(..)));
    }

    #[test]
    fn help_lists_every_flag_with_defaults() {
        let h = help();
        for flag in [
            "--listen",
            "--web.telemetry-path",
            "--path.procfs",
            "--path.sysfs",
            "--path.rootfs",
            "--collectors",
            "--no-collector.NAME",
            "--collector.diskstats.device-exclude",
            "--collector.netdev.device-include",
            "--collector.netstat.fields",
            "--collector.vmstat.fields",
            "--log-format",
            "--log-level",
            "--version",
        ] {
            assert!(h.contains(flag), "{flag} missing from --help");
        }
        assert!(h.contains("[default: 0.0.0.0:9100]"));
        assert!(h.contains(collector::DISKSTATS_EXCLUDE_DEFAULT));
    }
}
