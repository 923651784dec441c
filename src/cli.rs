//! Options: one table of flags drives the command line (lexopt), the config file, `--help`
//! and `proctap config`, so the four never disagree.
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::collector::processes::group;
use crate::collector::{self, filesystem, Opts};
use crate::config::{self, ConfigError, Value};
use crate::listen;
use crate::log::Level;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Serve,
    /// Print one scrape to stdout and exit.
    Once,
    /// Print the effective configuration in the config file's format.
    PrintConfig,
    /// Collect once and report per collector what works here and what would enable the rest.
    Check,
    Help,
    Version,
    /// Print the process classification table (`proctap subgroups [--group G]`).
    Subgroups,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub command: Command,
    /// The `--config` file, if any.
    pub config_file: Option<PathBuf>,
    /// `--web.listen-address`, each checked by [`listen::parse`]; empty means [`listen::DEFAULT`].
    pub listen: Vec<String>,
    /// `--web.systemd-socket`: serve on the sockets systemd passes instead.
    pub systemd_socket: bool,
    pub telemetry_path: String,
    /// `--web.config-file`: TLS and basic auth (with the `tls` feature).
    pub web_config_file: Option<PathBuf>,
    /// At most one collection per interval; zero collects on every scrape.
    pub interval: Duration,
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
    /// One entry per [`collector::ALL`].
    pub enabled: Vec<bool>,
    /// `None`: node_exporter's default pattern.
    pub diskstats_exclude: Option<String>,
    pub diskstats_include: Option<String>,
    pub netdev_exclude: Option<String>,
    pub netdev_include: Option<String>,
    pub netclass_ignored: String,
    pub netstat_fields: String,
    pub vmstat_fields: String,
    pub arp_exclude: Option<String>,
    pub arp_include: Option<String>,
    pub filesystem_mount_points_exclude: String,
    pub filesystem_fs_types_exclude: String,
    pub filesystem_mount_timeout: Duration,
    /// `None`: no textfile directory (node_exporter's default).
    pub textfile_directory: Option<PathBuf>,
    /// `--proc-name`, as given (repeatable).
    pub proc_names: Vec<String>,
    pub proc_pattern: Option<String>,
    pub top_n: usize,
    /// Parts of `--group-by`: name, user, cmdline, class.
    pub group_by: Vec<String>,
    pub proc_include: Option<String>,
    pub proc_exclude: Option<String>,
    pub proc_rules: Option<PathBuf>,
    pub proc_smaps: bool,
    pub proc_kernel_threads: bool,
    /// `proctap subgroups --group G`.
    pub subgroups_group: Option<String>,
    pub log_json: bool,
    pub log_level: Level,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            command: Command::Serve,
            config_file: None,
            listen: Vec::new(),
            systemd_socket: false,
            telemetry_path: "/metrics".into(),
            web_config_file: None,
            interval: Duration::ZERO,
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
            arp_exclude: None,
            arp_include: None,
            filesystem_mount_points_exclude: filesystem::MOUNT_POINTS_EXCLUDE_DEFAULT.into(),
            filesystem_fs_types_exclude: filesystem::FS_TYPES_EXCLUDE_DEFAULT.into(),
            filesystem_mount_timeout: filesystem::MOUNT_TIMEOUT_DEFAULT,
            textfile_directory: None,
            proc_names: Vec::new(),
            proc_pattern: None,
            top_n: 0,
            group_by: vec!["name".into()],
            proc_include: None,
            proc_exclude: None,
            proc_rules: None,
            proc_smaps: false,
            proc_kernel_threads: false,
            subgroups_group: None,
            log_json: false,
            log_level: Level::Info,
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

pub fn bad(flag: &str, value: &str, why: impl fmt::Display) -> CliError {
    CliError::BadValue {
        flag: flag.into(),
        value: value.into(),
        why: why.to_string(),
    }
}

/// The help sections, in `--help` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Server,
    Paths,
    Collectors,
    CollectorOptions,
    Processes,
    Logging,
}

impl Section {
    const ALL: [Section; 6] = [
        Section::Server,
        Section::Paths,
        Section::Collectors,
        Section::CollectorOptions,
        Section::Processes,
        Section::Logging,
    ];

    fn title(self) -> &'static str {
        match self {
            Section::Server => "Server",
            Section::Paths => "Paths",
            Section::Collectors => "Collectors",
            Section::CollectorOptions => "Collector options",
            Section::Processes => "Processes (the processes collector)",
            Section::Logging => "Logging (to stderr)",
        }
    }
}

type Getter = fn(&Config) -> Value;
type Setter = fn(&mut Config, Value) -> Result<(), String>;

/// One long flag; its name without the dashes is also its config file key.
struct Flag {
    name: &'static str,
    aliases: &'static [&'static str],
    /// The value's placeholder in `--help`; `None` for a switch.
    arg: Option<&'static str>,
    section: Section,
    help: &'static str,
    get: Getter,
    set: Setter,
    /// Shown instead of the current value in `--help` when the value is empty.
    unset: &'static str,
}

fn string(v: Value) -> Result<String, String> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(format!("expected a string, found {}", other.kind())),
    }
}

fn regex(v: Value) -> Result<String, String> {
    let s = string(v)?;
    regex_lite::Regex::new(&s).map_err(|e| e.to_string())?;
    Ok(s)
}

/// An optional pattern: the empty string means "not set".
fn opt_regex(v: Value) -> Result<Option<String>, String> {
    let s = regex(v)?;
    Ok((!s.is_empty()).then_some(s))
}

fn boolean(v: Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(b),
        Value::Str(s) if s == "true" => Ok(true),
        Value::Str(s) if s == "false" => Ok(false),
        other => Err(format!("expected true or false, found {}", other.kind())),
    }
}

/// A list from the file (`["a", "b"]`) or the command line (`a,b`).
fn list(v: Value) -> Result<Vec<String>, String> {
    let items = match v {
        Value::List(items) => items,
        Value::Str(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
        other => return Err(format!("expected a list, found {}", other.kind())),
    };
    Ok(items.into_iter().filter(|s| !s.is_empty()).collect())
}

/// A count: an integer in the file, digits on the command line.
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
fn duration(v: Value) -> Result<Duration, String> {
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

fn duration_str(d: Duration) -> Value {
    let ms = d.as_millis();
    Value::Str(if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    })
}

fn opt_str(v: &Option<String>) -> Value {
    Value::Str(v.clone().unwrap_or_default())
}

fn path_str(p: &Path) -> Value {
    Value::Str(p.display().to_string())
}

#[rustfmt::skip]
const FLAGS: &[Flag] = &[
    Flag { name: "listen", aliases: &["web.listen-address"], arg: Some("ADDR"), section: Section::Server,
        help: "Address to listen on, as node_exporter takes it: :PORT (and 0.0.0.0:PORT, [::]:PORT) is every address, IPv6 and IPv4 on one socket; IP:PORT; [IPv6]:PORT; [IPv4]:PORT; HOST:PORT, resolved once at start to its first IPv4 address (else its first). Repeat the flag to listen on several; in the config file, a list.", unset: "",
        get: |c| Value::List(if c.listen.is_empty() { vec![listen::DEFAULT.into()] } else { c.listen.clone() }),
        set: |c, v| {
            // From the command line one value per flag, appended (parse() clears the list
            // first); from the file a string or a list.
            let (items, from_list) = match v {
                Value::List(items) if items.is_empty() => return Err("expected at least one address".into()),
                Value::List(items) => (items, true),
                other => (vec![string(other)?], false),
            };
            if from_list {
                c.listen.clear();
            }
            for a in items {
                listen::parse(&a).map_err(|why| if from_list { format!("{a:?}: {why}") } else { why })?;
                c.listen.push(a);
            }
            Ok(())
        } },
    Flag { name: "web.systemd-socket", aliases: &[], arg: None, section: Section::Server,
        help: "Serve on the listening sockets systemd passes (LISTEN_FDS; a proctap.socket unit) instead of the listen addresses.", unset: "",
        get: |c| Value::Bool(c.systemd_socket), set: |c, v| { c.systemd_socket = boolean(v)?; Ok(()) } },
    Flag { name: "web.telemetry-path", aliases: &[], arg: Some("PATH"), section: Section::Server,
        help: "Path under which metrics are served; gzipped when the request's Accept-Encoding takes gzip (Prometheus's does).", unset: "",
        get: |c| Value::Str(c.telemetry_path.clone()),
        set: |c, v| {
            let s = string(v)?;
            if !s.starts_with('/') {
                return Err("must start with /".into());
            }
            c.telemetry_path = s;
            Ok(())
        } },
    Flag { name: "web.config-file", aliases: &[], arg: Some("FILE"), section: Section::Server,
        help: "TLS and basic auth in node_exporter's web config format (YAML: tls_server_config with cert_file and key_file; basic_auth_users with bcrypt hashes). Re-read on SIGHUP. Needs a build with the tls feature.", unset: "none",
        get: |c| Value::Str(c.web_config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
        set: |c, v| {
            let s = string(v)?;
            if !s.is_empty() && !cfg!(feature = "tls") {
                return Err("this proctap was built without TLS and basic auth (cargo feature tls)".into());
            }
            c.web_config_file = (!s.is_empty()).then(|| s.into());
            Ok(())
        } },
    Flag { name: "interval", aliases: &[], arg: Some("DURATION"), section: Section::Server,
        help: "Collect at most once per DURATION (e.g. 10s); scrapes within it get the last output. 0 collects on every scrape.", unset: "",
        get: |c| duration_str(c.interval),
        set: |c, v| { c.interval = duration(v)?; Ok(()) } },
    Flag { name: "path.procfs", aliases: &[], arg: Some("DIR"), section: Section::Paths,
        help: "procfs mount point.", unset: "",
        get: |c| path_str(&c.procfs), set: |c, v| { c.procfs = string(v)?.into(); Ok(()) } },
    Flag { name: "path.sysfs", aliases: &[], arg: Some("DIR"), section: Section::Paths,
        help: "sysfs mount point.", unset: "",
        get: |c| path_str(&c.sysfs), set: |c, v| { c.sysfs = string(v)?.into(); Ok(()) } },
    Flag { name: "path.rootfs", aliases: &[], arg: Some("DIR"), section: Section::Paths,
        help: "Root filesystem (for the host's files).", unset: "",
        get: |c| path_str(&c.rootfs), set: |c, v| { c.rootfs = string(v)?.into(); Ok(()) } },
    Flag { name: "collectors", aliases: &["monitor"], arg: Some("a,b,c"), section: Section::Collectors,
        help: "Enable exactly these collectors.", unset: "",
        get: |c| Value::List(
            collector::ALL.iter().zip(&c.enabled).filter(|(_, on)| **on).map(|(k, _)| k.name.to_string()).collect(),
        ),
        set: |c, v| {
            let names = list(v)?;
            c.enabled.iter_mut().for_each(|e| *e = false);
            for name in names {
                let i = collector::by_name(&name).ok_or_else(|| format!("unknown collector {name:?}"))?;
                if let Some(e) = c.enabled.get_mut(i) {
                    *e = true;
                }
            }
            Ok(())
        } },
    Flag { name: "collector.disable-defaults", aliases: &[], arg: None, section: Section::Collectors,
        help: "Disable every collector; enable some with --collector.NAME.", unset: "",
        get: |_| Value::Bool(false),
        set: |c, v| {
            if boolean(v)? {
                c.enabled.iter_mut().for_each(|e| *e = false);
            }
            Ok(())
        } },
    Flag { name: "collector.diskstats.device-exclude", aliases: &[], arg: Some("RE"), section: Section::CollectorOptions,
        help: "Disks to skip (mutually exclusive with -include).", unset: "",
        get: |c| Value::Str(c.diskstats_exclude.clone().unwrap_or_else(|| collector::DISKSTATS_EXCLUDE_DEFAULT.into())),
        set: |c, v| { c.diskstats_exclude = Some(regex(v)?); Ok(()) } },
    Flag { name: "collector.diskstats.device-include", aliases: &[], arg: Some("RE"), section: Section::CollectorOptions,
        help: "Only these disks.", unset: "none",
        get: |c| opt_str(&c.diskstats_include), set: |c, v| { c.diskstats_include = opt_regex(v)?; Ok(()) } },
    Flag { name: "collector.netdev.device-exclude", aliases: &[], arg: Some("RE"), section: Section::CollectorOptions,
        help: "Interfaces to skip (mutually exclusive with -include).", unset: "none",
        get: |c| opt_str(&c.netdev_exclude), set: |c, v| { c.netdev_exclude = opt_regex(v)?; Ok(()) } },
    Flag { name: "collector.netdev.device-include", aliases: &[], arg: Some("RE"), section: Section::CollectorOptions,
        help: "Only these interfaces.", unset: "none",
        get: |c| opt_str(&c.netdev_include), set: |c, v| { c.netdev_include = opt_regex(v)?; Ok(()) } },
    Flag { name: "collector.netclass.ignored-devices", aliases: &[], arg: Some("RE"), section: Section::CollectorOptions,
        help: "Interfaces the netclass collector ignores.", unset: "",
        get: |c| Value::Str(c.netclass_ignored.clone()), set: |c, v| { c.netclass_ignored = regex(v)?; Ok(()) } },
    Flag { name: "collector.netstat.fields", aliases: &[], arg: Some("RE"), section: Section::CollectorOptions,
        help: "Fields of /proc/net/{snmp,netstat,snmp6} to export, as Proto_Field.", unset: "",
        get: |c| Value::Str(c.netstat_fields.clone()), set: |c, v| { c.netstat_fields = regex(v)?; Ok(()) } },
    Flag { name: "collector.vmstat.fields", aliases: &[], arg: Some("RE"), section: Section::CollectorOptions,
        help: "Fields of /proc/vmstat to export.", unset: "",
        get: |c| Value::Str(c.vmstat_fields.clone()), set: |c, v| { c.vmstat_fields = regex(v)?; Ok(()) } },
    Flag { name: "collector.arp.device-exclude", aliases: &[], arg: Some("RE"), section: Section::CollectorOptions,
        help: "ARP devices to skip (mutually exclusive with -include).", unset: "none",
        get: |c| opt_str(&c.arp_exclude), set: |c, v| { c.arp_exclude = opt_regex(v)?; Ok(()) } },
    Flag { name: "collector.arp.device-include", aliases: &[], arg: Some("RE"), section: Section::CollectorOptions,
        help: "Only these ARP devices.", unset: "none",
        get: |c| opt_str(&c.arp_include), set: |c, v| { c.arp_include = opt_regex(v)?; Ok(()) } },
    Flag { name: "collector.filesystem.mount-points-exclude", aliases: &["collector.filesystem.ignored-mount-points"],
        arg: Some("RE"), section: Section::CollectorOptions,
        help: "Mount points to skip.", unset: "",
        get: |c| Value::Str(c.filesystem_mount_points_exclude.clone()),
        set: |c, v| { c.filesystem_mount_points_exclude = regex(v)?; Ok(()) } },
    Flag { name: "collector.filesystem.fs-types-exclude", aliases: &["collector.filesystem.ignored-fs-types"],
        arg: Some("RE"), section: Section::CollectorOptions,
        help: "Filesystem types to skip.", unset: "",
        get: |c| Value::Str(c.filesystem_fs_types_exclude.clone()),
        set: |c, v| { c.filesystem_fs_types_exclude = regex(v)?; Ok(()) } },
    Flag { name: "collector.filesystem.mount-timeout", aliases: &[], arg: Some("DURATION"), section: Section::CollectorOptions,
        help: "How long a scrape waits for a mount's statvfs; a mount that takes longer (a dead NFS server) is reported with node_filesystem_device_error 1 until it answers.", unset: "",
        get: |c| duration_str(c.filesystem_mount_timeout),
        set: |c, v| { c.filesystem_mount_timeout = duration(v)?; Ok(()) } },
    Flag { name: "collector.textfile.directory", aliases: &[], arg: Some("DIR"), section: Section::CollectorOptions,
        help: "Directory of *.prom files to merge into the output (taken as given, not under --path.rootfs).", unset: "none",
        get: |c| Value::Str(c.textfile_directory.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
        set: |c, v| {
            let s = string(v)?;
            c.textfile_directory = (!s.is_empty()).then(|| s.into());
            Ok(())
        } },
    Flag { name: "group-by", aliases: &[], arg: Some("PARTS"), section: Section::Processes,
        help: "What makes a namedprocess_namegroup group: name (comm), user, cmdline (basename of argv[0]) or class (group/subgroup of the classification), combined with commas; the groupname joins the parts with /.", unset: "",
        get: |c| Value::List(c.group_by.clone()),
        set: |c, v| {
            let parts = list(v)?;
            if let Some(p) = parts.iter().find(|p| group::GroupBy::parse(p).is_none()) {
                return Err(format!("unknown part {p:?}: expected name, user, cmdline or class"));
            }
            c.group_by = if parts.is_empty() { vec!["name".into()] } else { parts };
            Ok(())
        } },
    Flag { name: "proc-include", aliases: &[], arg: Some("RE"), section: Section::Processes,
        help: "Look only at processes whose name (comm) matches.", unset: "all",
        get: |c| opt_str(&c.proc_include), set: |c, v| { c.proc_include = opt_regex(v)?; Ok(()) } },
    Flag { name: "proc-exclude", aliases: &[], arg: Some("RE"), section: Section::Processes,
        help: "Skip processes whose name (comm) matches; checked before --proc-include.", unset: "none",
        get: |c| opt_str(&c.proc_exclude), set: |c, v| { c.proc_exclude = opt_regex(v)?; Ok(()) } },
    Flag { name: "proc-kernel-threads", aliases: &[], arg: None, section: Section::Processes,
        help: "Include kernel threads (excluded by default).", unset: "",
        get: |c| Value::Bool(c.proc_kernel_threads), set: |c, v| { c.proc_kernel_threads = boolean(v)?; Ok(()) } },
    Flag { name: "proc-name", aliases: &[], arg: Some("NAME"), section: Section::Processes,
        help: "Export proctap_process_* series for every process whose comm equals NAME; repeatable. Linux truncates comm to 15 bytes, so NAME is compared truncated to 15 bytes too.", unset: "none",
        get: |c| Value::List(c.proc_names.clone()),
        set: |c, v| {
            match v {
                Value::List(names) => c.proc_names.extend(names.into_iter().filter(|n| !n.is_empty())),
                other => {
                    let n = string(other)?;
                    if !n.is_empty() {
                        c.proc_names.push(n);
                    }
                }
            }
            Ok(())
        } },
    Flag { name: "proc-pattern", aliases: &[], arg: Some("RE"), section: Section::Processes,
        help: "Export proctap_process_* series for every process whose comm or command line (arguments joined by spaces) matches.", unset: "none",
        get: |c| opt_str(&c.proc_pattern), set: |c, v| { c.proc_pattern = opt_regex(v)?; Ok(()) } },
    Flag { name: "top-n", aliases: &[], arg: Some("N"), section: Section::Processes,
        help: "Also export proctap_process_* series for the top N processes by CPU percent, by resident memory and by I/O bytes per second, each list chosen separately (0: none).", unset: "",
        get: |c| Value::Int(c.top_n as i64), set: |c, v| { c.top_n = count(v)?; Ok(()) } },
    Flag { name: "proc-rules", aliases: &[], arg: Some("FILE"), section: Section::Processes,
        help: "Classification rules that add to or override the built-in table, one `comm = \"group/subgroup\"` per line (see proctap subgroups).", unset: "none",
        get: |c| Value::Str(c.proc_rules.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
        set: |c, v| {
            let s = string(v)?;
            c.proc_rules = (!s.is_empty()).then(|| s.into());
            Ok(())
        } },
    Flag { name: "proc-smaps", aliases: &[], arg: None, section: Section::Processes,
        help: "Read /proc/<pid>/smaps_rollup for proportional (pss) and unique (uss) memory; costly on big hosts.", unset: "",
        get: |c| Value::Bool(c.proc_smaps), set: |c, v| { c.proc_smaps = boolean(v)?; Ok(()) } },
    Flag { name: "log-format", aliases: &["log.format"], arg: Some("text|json"), section: Section::Logging,
        help: "Log line format.", unset: "",
        get: |c| Value::Str(if c.log_json { "json" } else { "text" }.into()),
        set: |c, v| {
            c.log_json = match string(v)?.as_str() {
                "text" | "logfmt" => false,
                "json" => true,
                _ => return Err("expected text or json".into()),
            };
            Ok(())
        } },
    Flag { name: "log-level", aliases: &["log.level"], arg: Some("LEVEL"), section: Section::Logging,
        help: "debug, info, warn or error.", unset: "",
        get: |c| Value::Str(c.log_level.as_str().into()),
        set: |c, v| {
            c.log_level = Level::parse(&string(v)?).ok_or("expected debug, info, warn or error")?;
            Ok(())
        } },
];

/// Include/exclude pairs: setting both in one place is an error, as in node_exporter; a
/// command-line flag overrides its partner from the config file.
const EXCLUSIVE: &[(&str, &str)] = &[
    (
        "collector.arp.device-include",
        "collector.arp.device-exclude",
    ),
    (
        "collector.diskstats.device-include",
        "collector.diskstats.device-exclude",
    ),
    (
        "collector.netdev.device-include",
        "collector.netdev.device-exclude",
    ),
];

fn reset_partner(cfg: &mut Config, key: &str) {
    for (a, b) in EXCLUSIVE {
        let partner = if key == *a {
            b
        } else if key == *b {
            a
        } else {
            continue;
        };
        match *partner {
            "collector.diskstats.device-include" => cfg.diskstats_include = None,
            "collector.diskstats.device-exclude" => cfg.diskstats_exclude = None,
            "collector.netdev.device-include" => cfg.netdev_include = None,
            "collector.netdev.device-exclude" => cfg.netdev_exclude = None,
            "collector.arp.device-include" => cfg.arp_include = None,
            "collector.arp.device-exclude" => cfg.arp_exclude = None,
            _ => {}
        }
    }
}

/// Which setting a key names: a flag of the table, or a collector's on/off switch.
enum Target {
    Flag(&'static Flag),
    Collector(usize),
}

fn lookup(key: &str) -> Option<Target> {
    if let Some(f) = FLAGS
        .iter()
        .find(|f| f.name == key || f.aliases.contains(&key))
    {
        return Some(Target::Flag(f));
    }
    let name = key.strip_prefix("collector.")?;
    collector::by_name(name).map(Target::Collector)
}

/// Applies one setting. `key` is canonical or an alias, without dashes.
fn apply(cfg: &mut Config, target: &Target, value: Value) -> Result<(), String> {
    match target {
        Target::Flag(f) => (f.set)(cfg, value),
        Target::Collector(i) => {
            let on = boolean(value)?;
            if let Some(e) = cfg.enabled.get_mut(*i) {
                *e = on;
            }
            Ok(())
        }
    }
}

fn canonical(target: &Target) -> String {
    match target {
        Target::Flag(f) => f.name.to_string(),
        Target::Collector(i) => {
            format!(
                "collector.{}",
                collector::ALL.get(*i).map_or("", |c| c.name)
            )
        }
    }
}

/// One setting from the command line, kept until the config file has been applied.
struct Setting {
    flag: String,
    target: Target,
    value: Value,
}

/// Parses the arguments after the program name, reads `--config` if given, and applies the
/// file first and the command line over it.
pub fn parse<I>(args: I) -> Result<Config, CliError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::Arg::{Long, Short, Value as Positional};
    let mut cfg = Config::default();
    let mut settings: Vec<Setting> = Vec::new();
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next().map_err(lexopt_error)? {
        let flag = match &arg {
            Long(name) => format!("--{name}"),
            Short(c) => format!("-{c}"),
            Positional(v) => {
                let v = v.to_string_lossy().into_owned();
                cfg.command = match (v.as_str(), cfg.command) {
                    ("once", Command::Serve) => Command::Once,
                    ("config", Command::Serve) => Command::PrintConfig,
                    ("subgroups", Command::Serve) => Command::Subgroups,
                    ("check", Command::Serve) => Command::Check,
                    _ => return Err(CliError::UnexpectedArgument(v)),
                };
                continue;
            }
        };
        match flag.as_str() {
            "-h" | "--help" => cfg.command = Command::Help,
            "-V" | "--version" => cfg.command = Command::Version,
            "--group" if cfg.command == Command::Subgroups => {
                let v = parser
                    .value()
                    .map_err(|_| CliError::MissingValue(flag.clone()))?;
                cfg.subgroups_group = Some(v.to_string_lossy().into_owned());
            }
            "--config" => {
                let v = parser
                    .value()
                    .map_err(|_| CliError::MissingValue(flag.clone()))?;
                cfg.config_file = Some(v.into());
            }
            _ => {
                let key = flag.trim_start_matches('-');
                let (target, negated) = match (lookup(key), key.strip_prefix("no-")) {
                    (Some(t), _) => (t, false),
                    (None, Some(k)) => (
                        lookup(k).ok_or_else(|| CliError::UnknownFlag(flag.clone()))?,
                        true,
                    ),
                    (None, None) => return Err(CliError::UnknownFlag(flag)),
                };
                let switch = match &target {
                    Target::Flag(f) => f.arg.is_none(),
                    Target::Collector(_) => true,
                };
                let value = if switch {
                    Value::Bool(!negated)
                } else if negated {
                    return Err(CliError::UnknownFlag(flag));
                } else {
                    let v = parser
                        .value()
                        .map_err(|_| CliError::MissingValue(flag.clone()))?;
                    Value::Str(
                        v.into_string()
                            .map_err(|v| bad(&flag, &v.to_string_lossy(), "not valid UTF-8"))?,
                    )
                };
                settings.push(Setting {
                    flag,
                    target,
                    value,
                });
            }
        }
    }
    if matches!(cfg.command, Command::Help | Command::Version) {
        return Ok(cfg);
    }
    if let Some(path) = cfg.config_file.clone() {
        apply_file(&mut cfg, &path)?;
    }
    // A repeated --web.listen-address listens on each; the command line's replace the file's.
    if settings.iter().any(|s| canonical(&s.target) == "listen") {
        cfg.listen.clear();
    }
    let mut set_here: Vec<String> = Vec::new();
    for s in settings {
        let key = canonical(&s.target);
        if !is_empty(&s.value) {
            set_here.push(key.clone());
        }
        let shown = match &s.value {
            Value::Str(v) => v.clone(),
            other => other.to_toml(),
        };
        reset_partner(&mut cfg, &key);
        apply(&mut cfg, &s.target, s.value).map_err(|why| bad(&s.flag, &shown, why))?;
    }
    check_exclusive(&set_here)
        .map_err(|(a, b)| CliError::Conflict(format!("--{a}"), format!("--{b}")))?;
    cfg.opts()?;
    Ok(cfg)
}

/// An empty pattern means "not set", so it never conflicts with its partner.
fn is_empty(v: &Value) -> bool {
    matches!(v, Value::Str(s) if s.is_empty())
}

fn check_exclusive(keys: &[String]) -> Result<(), (&'static str, &'static str)> {
    for (a, b) in EXCLUSIVE {
        if keys.iter().any(|k| k == a) && keys.iter().any(|k| k == b) {
            return Err((a, b));
        }
    }
    Ok(())
}

/// Reads a config file into `cfg`; every error names the file, the line and the key.
pub fn apply_file(cfg: &mut Config, path: &Path) -> Result<(), CliError> {
    let file_err = |line: usize, key: Option<&str>, msg: String| {
        CliError::Config(ConfigError {
            file: path.to_path_buf(),
            line,
            key: key.map(str::to_string),
            msg,
        })
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| file_err(0, None, format!("cannot read: {e}")))?;
    let entries = config::parse(path, &text).map_err(CliError::Config)?;
    let mut keys = Vec::new();
    for e in entries {
        let target = lookup(&e.key).ok_or_else(|| {
            file_err(
                e.line,
                Some(&e.key),
                "unknown key (see proctap config for the known keys)".into(),
            )
        })?;
        if !is_empty(&e.value) {
            keys.push(canonical(&target));
        }
        apply(cfg, &target, e.value).map_err(|why| file_err(e.line, Some(&e.key), why))?;
    }
    if let Err((a, b)) = check_exclusive(&keys) {
        return Err(file_err(
            0,
            Some(b),
            format!("{a} and {b} are mutually exclusive"),
        ));
    }
    Ok(())
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

    /// The effective configuration in the config file's format: save it, edit it, load it
    /// with `--config`.
    pub fn to_file(&self) -> String {
        let mut out = String::from("# proctap configuration: `proctap config` printed this; load it with --config FILE.\n# Keys are the long flag names; flags on the command line win over this file.\n");
        for section in Section::ALL {
            out.push_str(&format!("\n# {}\n", section.title()));
            for f in FLAGS
                .iter()
                .filter(|f| f.section == section && f.name != "collector.disable-defaults")
            {
                out.push_str(&format!("{} = {}\n", f.name, (f.get)(self).to_toml()));
            }
        }
        out
    }
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

/// Appends one `--help` entry: the flag column, then the text (on the next line when the flag
/// is too wide), then the default.
fn help_entry(out: &mut String, flag: &str, text: &str, default: Option<&str>) {
    const COL: usize = 33;
    out.push_str("  ");
    out.push_str(flag);
    if flag.len() + 2 < COL {
        out.push_str(&" ".repeat(COL - 2 - flag.len()));
    } else {
        out.push('\n');
        out.push_str(&" ".repeat(COL));
    }
    let mut width = COL;
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 && width + 1 + word.len() > 100 {
            out.push('\n');
            out.push_str(&" ".repeat(COL));
            width = COL;
        } else if i > 0 {
            out.push(' ');
            width += 1;
        }
        out.push_str(word);
        width += word.len();
    }
    out.push('\n');
    if let Some(d) = default {
        out.push_str(&" ".repeat(COL));
        out.push_str(&format!("[default: {d}]\n"));
    }
}

pub fn help() -> String {
    let d = Config::default();
    let mut out = format!(
        "proctap {}: a tiny node_exporter-compatible Prometheus exporter for Linux.\n\n\
         Usage: proctap [once | check | config | subgroups [--group G]] [FLAGS]\n\n\
         Commands:\n",
        env!("CARGO_PKG_VERSION")
    );
    help_entry(&mut out, "(none)", "Serve metrics over HTTP.", None);
    help_entry(&mut out, "once", "Print one scrape to stdout and exit: 0 when every enabled collector succeeded, 1 otherwise.", None);
    help_entry(
        &mut out,
        "check",
        "Collect once and list, per enabled collector, whether it works, its series count, which of its sources exist and are readable, and what would enable the rest (a capability, a flag, a kernel option). Exit 0 when every enabled collector works, 1 otherwise.",
        None,
    );
    help_entry(
        &mut out,
        "config",
        "Print the effective configuration in the --config file format.",
        None,
    );
    help_entry(
        &mut out,
        "subgroups",
        "Print the effective process classification table (built-in plus --proc-rules); --group G shows one group.",
        None,
    );
    for section in Section::ALL {
        out.push_str(&format!("\n{}:\n", section.title()));
        for f in FLAGS.iter().filter(|f| f.section == section) {
            let mut flag = format!("--{}", f.name);
            if let Some(arg) = f.arg {
                flag = format!("{flag} {arg}");
            }
            let mut text = f.help.to_string();
            for a in f.aliases {
                text.push_str(&format!(" (alias --{a})"));
            }
            let default = match ((f.get)(&d), f.arg) {
                (_, None) => None,
                (Value::Str(s), _) if s.is_empty() => {
                    Some(f.unset.to_string()).filter(|u| !u.is_empty())
                }
                (Value::Str(s), _) => Some(s),
                (Value::List(l), _) => Some(l.join(",")),
                (v, _) => Some(v.to_toml()),
            };
            help_entry(&mut out, &flag, &text, default.as_deref());
        }
        if section == Section::Collectors {
            help_entry(&mut out, "--collector.NAME", "Enable collector NAME.", None);
            help_entry(
                &mut out,
                "--no-collector.NAME",
                "Disable collector NAME.",
                None,
            );
            let off: Vec<&str> = collector::ALL
                .iter()
                .filter(|c| !c.enabled_by_default)
                .map(|c| c.name)
                .collect();
            if !off.is_empty() {
                help_entry(&mut out, "", "Off by default:", Some(&off.join(",")));
            }
        }
    }
    out.push('\n');
    help_entry(&mut out, "--config FILE", "Read settings from FILE: one `key = value` per line, keys are the long flag names; flags given here win.", None);
    help_entry(&mut out, "-h, --help", "Print this help.", None);
    help_entry(
        &mut out,
        "-V, --version",
        "Print version, git revision and rustc version.",
        None,
    );
    out.push_str("\nBad flags, values or config files exit with status 2.\n");
    out
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

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("proctap-cli-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("proctap.conf");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn defaults() {
        let c = p(&[]).unwrap();
        assert_eq!(c.command, Command::Serve);
        assert!(c.listen.is_empty(), "the default, {}", listen::DEFAULT);
        assert!(!c.systemd_socket);
        assert_eq!(c.telemetry_path, "/metrics");
        assert_eq!(c.procfs, PathBuf::from("/proc"));
        assert_eq!(
            enabled_names(&c).len(),
            collector::ALL
                .iter()
                .filter(|c| c.enabled_by_default)
                .count()
        );
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
        assert_eq!(c.listen, ["127.0.0.1:9999"]);
        assert_eq!(c.procfs, PathBuf::from("fixtures/proc"));
        assert_eq!(enabled_names(&c), ["loadavg", "meminfo"]);
        assert!(c.log_json);
        assert_eq!(c.log_level, Level::Debug);
        let mut o = c.opts().unwrap();
        assert!(o.netdev.allows("eth0.100"));
        assert!(!o.netdev.allows("wlan0"));
        let c = p(&["--collector.disable-defaults", "--collector.stat"]).unwrap();
        assert_eq!(enabled_names(&c), ["stat"]);
    }

    #[test]
    fn errors_name_the_flag() {
        let e = p(&["--bogus"]).unwrap_err();
        assert_eq!(e, CliError::UnknownFlag("--bogus".into()));
        assert_eq!(e.to_string(), "unknown flag --bogus (see --help)");
        let e = p(&["--collector.nosuch"]).unwrap_err();
        assert_eq!(e, CliError::UnknownFlag("--collector.nosuch".into()));
        let e = p(&["--no-listen"]).unwrap_err();
        assert_eq!(e, CliError::UnknownFlag("--no-listen".into()));
        let e = p(&["--collectors", "cpu,nope"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "flag --collectors: invalid value \"cpu,nope\": unknown collector \"nope\""
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
        assert_eq!(
            e.to_string(),
            "flag --log-level: invalid value \"loud\": expected debug, info, warn or error"
        );
        let e = p(&["--collector.cpu=yes"]).unwrap_err();
        assert!(e.to_string().contains("--collector.cpu"), "{e}");
        let e = p(&["--web.telemetry-path", "metrics"]).unwrap_err();
        assert!(e.to_string().contains("must start with /"), "{e}");
        let e = p(&["serve"]).unwrap_err();
        assert_eq!(e, CliError::UnexpectedArgument("serve".into()));
        let e = p(&[
            "--collector.diskstats.device-include=sd",
            "--collector.diskstats.device-exclude=loop",
        ])
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "flags --collector.diskstats.device-include and --collector.diskstats.device-exclude are mutually exclusive"
        );
    }

    #[test]
    fn config_file_and_flags_combine() {
        let path = temp_file(
            "combine",
            "# test\nlisten = \"127.0.0.1:9200\"\ncollectors = [\"cpu\", \"meminfo\", \"diskstats\"]\n\
             collector.diskstats.device-exclude = '^loop'\nlog-level = \"warn\"\ncollector.meminfo = false\n",
        );
        let file = path.to_str().unwrap();
        let c = p(&["--config", file]).unwrap();
        assert_eq!(c.listen, ["127.0.0.1:9200"]);
        assert_eq!(enabled_names(&c), ["cpu", "diskstats"]);
        assert_eq!(c.diskstats_exclude.as_deref(), Some("^loop"));
        assert_eq!(c.log_level, Level::Warn);
        // The command line wins, wherever it stands relative to --config.
        let c = p(&[
            "--listen",
            "127.0.0.1:1",
            "--config",
            file,
            "--collector.meminfo",
            "--log-level=debug",
        ])
        .unwrap();
        assert_eq!(c.listen, ["127.0.0.1:1"]);
        assert_eq!(enabled_names(&c), ["cpu", "diskstats", "meminfo"]);
        assert_eq!(c.log_level, Level::Debug);
        // An include on the command line replaces the file's exclude instead of conflicting.
        let c = p(&["--config", file, "--collector.diskstats.device-include=^sd"]).unwrap();
        let mut o = c.opts().unwrap();
        assert!(
            o.diskstats.allows("sda")
                && !o.diskstats.allows("loop0")
                && !o.diskstats.allows("dm-0")
        );
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn config_file_errors_name_file_line_and_key() {
        let cases = [
            ("unknown", "listen = \"x:1\"\nno.such.key = 1\n", ":2: key no.such.key: unknown key"),
            ("badvalue", "\nlisten = 5\n", ":2: key listen: expected a string, found an integer"),
            ("badregex", "collector.vmstat.fields = \"(\"\n", ":1: key collector.vmstat.fields: "),
            ("badcollector", "collectors = [\"cpu\", \"gpu\"]\n", ":1: key collectors: unknown collector \"gpu\""),
            ("badbool", "collector.cpu = \"maybe\"\n", ":1: key collector.cpu: expected true or false"),
            ("syntax", "listen \"x\"\n", ":1: expected `key = value`"),
            ("twice", "listen = \"a\"\nlisten = \"b\"\n", ":2: key listen: set twice (first on line 1)"),
            ("both", "collector.netdev.device-include = \"^e\"\ncollector.netdev.device-exclude = \"^l\"\n", "mutually exclusive"),
        ];
        for (name, text, want) in cases {
            let path = temp_file(name, text);
            let e = p(&["--config", path.to_str().unwrap()]).unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with(path.to_str().unwrap()), "{name}: {msg}");
            assert!(msg.contains(want), "{name}: {msg} should contain {want}");
            std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        }
        let e = p(&["--config", "/nonexistent-proctap.conf"]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent-proctap.conf: cannot read: "),
            "{e}"
        );
    }

    #[test]
    fn printed_config_reads_back_to_the_same_config() {
        let c = p(&[
            "--listen=127.0.0.1:9300",
            "--collectors=cpu,netdev",
            "--collector.netdev.device-exclude=^(lo|wg\\d+)$",
            "--log-format=json",
        ])
        .unwrap();
        let text = c.to_file();
        assert!(text.contains("\nlisten = [\"127.0.0.1:9300\"]\n"), "{text}");
        assert!(
            text.contains("\ncollectors = [\"cpu\", \"netdev\"]\n"),
            "{text}"
        );
        let path = temp_file("roundtrip", &text);
        let back = p(&["--config", path.to_str().unwrap()]).unwrap();
        assert_eq!(back.to_file(), text);
        assert_eq!(enabled_names(&back), ["cpu", "netdev"]);
        assert_eq!(back.netdev_exclude.as_deref(), Some("^(lo|wg\\d+)$"));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        // The defaults read back too.
        let d = Config::default().to_file();
        let path = temp_file("defaults", &d);
        assert_eq!(
            p(&["--config", path.to_str().unwrap()]).unwrap().to_file(),
            d
        );
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn process_flags() {
        let c = p(&[
            "--proc-name",
            "postgres",
            "--proc-name=systemd-resolved",
            "--top-n",
            "5",
            "--group-by",
            "name,user",
            "--proc-smaps",
            "--proc-exclude=^sh$",
        ])
        .unwrap();
        assert_eq!(c.proc_names, ["postgres", "systemd-resolved"], "repeatable");
        assert_eq!(c.top_n, 5);
        assert_eq!(c.group_by, ["name", "user"]);
        assert!(c.proc_smaps && !c.proc_kernel_threads);
        let o = c.opts().unwrap();
        assert_eq!(o.processes.names, ["postgres", "systemd-resolve"]);
        let e = p(&["--group-by", "name,comm"]).unwrap_err();
        assert!(e.to_string().contains("unknown part \"comm\""), "{e}");
        let e = p(&["--top-n", "-1"]).unwrap_err();
        assert!(e.to_string().starts_with("flag --top-n: "), "{e}");
        let e = p(&["--proc-pattern", "("]).unwrap_err();
        assert!(e.to_string().starts_with("flag --proc-pattern: "), "{e}");
        let c = p(&["subgroups", "--group", "db"]).unwrap();
        assert_eq!(c.command, Command::Subgroups);
        assert_eq!(c.subgroups_group.as_deref(), Some("db"));
        assert!(
            p(&["--group", "db"]).is_err(),
            "--group belongs to subgroups"
        );
        let path = temp_file("procs", "proc-name = [\"nginx\"]\ntop-n = 2\n");
        let c = p(&["--config", path.to_str().unwrap(), "--proc-name", "java"]).unwrap();
        assert_eq!(c.proc_names, ["nginx", "java"]);
        assert_eq!(c.top_n, 2);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn help_lists_every_flag_with_defaults() {
        let h = help();
        for f in FLAGS {
            assert!(
                h.contains(&format!("--{} ", f.name)) || h.contains(&format!("--{}\n", f.name)),
                "--{} missing",
                f.name
            );
        }
        for flag in [
            "--collector.NAME",
            "--no-collector.NAME",
            "--config FILE",
            "--version",
            "--web.listen-address",
        ] {
            assert!(h.contains(flag), "{flag} missing from --help");
        }
        assert!(h.contains("[default: :9100]"));
        assert!(h.contains(collector::DISKSTATS_EXCLUDE_DEFAULT));
    }

    #[test]
    fn listen_addresses_repeat_and_are_checked_at_parse_time() {
        let c = p(&["--web.listen-address=[::1]:1", "--listen", "127.0.0.1:2"]).unwrap();
        assert_eq!(c.listen, ["[::1]:1", "127.0.0.1:2"]);
        let path = temp_file("listen", "listen = [\":9100\", \"[127.0.0.1]:9101\"]\n");
        let file = path.to_str().unwrap();
        assert_eq!(
            p(&["--config", file]).unwrap().listen,
            [":9100", "[127.0.0.1]:9101"]
        );
        // The command line's addresses replace the file's.
        let c = p(&["--config", file, "--listen=:1", "--listen=:2"]).unwrap();
        assert_eq!(c.listen, [":1", ":2"]);
        assert!(c.to_file().contains("\nlisten = [\":1\", \":2\"]\n"));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        for (args, want) in [
            (&["--web.listen-address=9105"][..], "flag --web.listen-address: invalid value \"9105\": missing the ':' before the port; :9105 listens on every address"),
            (&["--listen=:1", "--listen=[::1"][..], "flag --listen: invalid value \"[::1\": missing ']'"),
            (&["--listen=:70000"][..], "out of range"),
            (&["--listen="][..], "flag --listen: invalid value \"\": empty"),
        ] {
            let e = p(args).unwrap_err().to_string();
            assert!(e.starts_with(want) || e.contains(want), "{args:?}: {e}");
        }
        let path = temp_file("listen-bad", "listen = [\":1\", \"x\"]\n");
        let e = p(&["--config", path.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(e.ends_with(":1: key listen: \"x\": missing :PORT"), "{e}");
        std::fs::write(&path, "listen = []\n").unwrap();
        let e = p(&["--config", path.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected at least one address"), "{e}");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        assert!(p(&["--web.systemd-socket"]).unwrap().systemd_socket);
    }
}
