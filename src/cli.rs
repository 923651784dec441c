//! Options: one table of flags drives the command line (lexopt), the config file, `--help`
//! and `proctap config`, so the four never disagree. The table is the program's own flags
//! (below) plus each collector's, which live next to the collector (`Collector::flags`).
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::collector;
use crate::compat::{self, Found, Given, Takes};
use crate::config::{self, ConfigError, Value};
pub use crate::flag::{bad, CliError};
use crate::flag::{boolean, Flag, Kind, Settings};
use crate::listen;
use crate::log::{self, Level};

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
    /// kingpin's `--completion-script-bash` / `-zsh`, and `--completion-bash` (the words).
    Completion(Shell),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    /// One word per line, as kingpin's `--completion-bash` answers its scripts.
    Words,
}

/// The parsed command line and config file: every flag's value in `settings`, and the ones the
/// program itself uses (not the collectors) as typed fields derived from them.
#[derive(Debug, Clone)]
pub struct Config {
    pub command: Command,
    /// The `--config` file, if any.
    pub config_file: Option<PathBuf>,
    /// `proctap subgroups --group G`.
    pub subgroups_group: Option<String>,
    pub settings: Settings,
    /// node_exporter flags of the compat table that were given (src/compat.rs), each logged once
    /// at start and kept by `proctap config`.
    pub compat: Vec<Given>,
    /// Flags of [`compat::SINGLE`] given more than once on the command line.
    pub repeated: Vec<&'static str>,
    /// One entry per [`collector::ALL`].
    pub enabled: Vec<bool>,
    /// `--web.listen-address`, each checked by [`listen::parse`]; [`listen::DEFAULT`] when none.
    pub listen: Vec<String>,
    /// `--web.systemd-socket`: serve on the sockets systemd passes instead.
    pub systemd_socket: bool,
    pub telemetry_path: String,
    /// `--web.config-file`: TLS and basic auth (with the `tls` feature).
    pub web_config_file: Option<PathBuf>,
    /// At most one collection per interval; zero collects on every scrape.
    pub interval: Duration,
    /// `--once-to-stdout-delay`: print one collection taken this long after a first one.
    pub once_delay: Duration,
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
    pub udev: PathBuf,
    pub log_json: bool,
    pub log_level: Level,
}

impl Default for Config {
    #[cfg_attr(proctap_size, optimize(size))]
    fn default() -> Self {
        let mut cfg = Config {
            command: Command::Serve,
            config_file: None,
            subgroups_group: None,
            settings: Settings::new(all_flags()),
            compat: Vec::new(),
            repeated: Vec::new(),
            enabled: collector::ALL
                .iter()
                .map(|c| c.enabled_by_default)
                .collect(),
            listen: Vec::new(),
            systemd_socket: false,
            telemetry_path: String::new(),
            web_config_file: None,
            interval: Duration::ZERO,
            once_delay: Duration::ZERO,
            procfs: PathBuf::new(),
            sysfs: PathBuf::new(),
            rootfs: PathBuf::new(),
            udev: PathBuf::new(),
            log_json: false,
            log_level: Level::Info,
        };
        cfg.derive();
        cfg
    }
}

/// The help sections of the program's own flags, in `--help` order; the collectors' flags come
/// after `Collectors`, under "Collector options" or a heading of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Server,
    Paths,
    Collectors,
    Logging,
}

impl Section {
    #[cfg_attr(proctap_size, optimize(size))]
    fn title(self) -> &'static str {
        match self {
            Section::Server => "Server",
            Section::Paths => "Paths",
            Section::Collectors => "Collectors",
            Section::Logging => "Logging (to stderr)",
        }
    }
}

#[cfg_attr(proctap_size, optimize(size))]
fn telemetry_path(s: &str) -> Result<(), String> {
    if s.starts_with('/') {
        Ok(())
    } else {
        Err("must start with /".into())
    }
}

#[cfg_attr(proctap_size, optimize(size))]
fn web_config_file(s: &str) -> Result<(), String> {
    if !s.is_empty() && !cfg!(feature = "tls") {
        return Err("this proctap was built without TLS and basic auth (cargo feature tls)".into());
    }
    Ok(())
}

#[cfg_attr(proctap_size, optimize(size))]
fn log_format(s: &str) -> Result<(), String> {
    match s {
        "text" | "logfmt" | "json" => Ok(()),
        _ => Err("expected text or json".into()),
    }
}

#[cfg_attr(proctap_size, optimize(size))]
fn listen_address(s: &str) -> Result<(), String> {
    listen::parse(s).map(drop)
}

#[cfg_attr(proctap_size, optimize(size))]
fn log_level(s: &str) -> Result<(), String> {
    Level::parse(s)
        .map(drop)
        .ok_or_else(|| "expected debug, info, warn or error".into())
}

#[cfg_attr(proctap_size, optimize(size))]
fn collector_name(s: &str) -> Result<(), String> {
    collector::by_name(s)
        .map(drop)
        .ok_or_else(|| format!("unknown collector {s:?}"))
}

/// The program's own flags, by section.
#[rustfmt::skip]
const FLAGS: &[(Section, Flag)] = &[
    (Section::Server, Flag::new("listen", Kind::Repeat, "ADDR", listen::DEFAULT,
        "Address to listen on, as node_exporter takes it: :PORT (and 0.0.0.0:PORT, [::]:PORT) is every address, IPv6 and IPv4 on one socket; IP:PORT; [IPv6]:PORT; [IPv4]:PORT; HOST:PORT, resolved once at start to its first IPv4 address (else its first). Repeat the flag to listen on several; in the config file, a list.")
        .aliases(&["web.listen-address"]).check(listen_address)),
    (Section::Server, Flag::switch("web.systemd-socket",
        "Serve on the listening sockets systemd passes (LISTEN_FDS; a proctap.socket unit) instead of the listen addresses.")),
    (Section::Server, Flag::new("web.telemetry-path", Kind::Str, "PATH", "/metrics",
        "Path under which metrics are served; gzipped when the request's Accept-Encoding takes gzip (Prometheus's does).")
        .check(telemetry_path)),
    (Section::Server, Flag::new("web.config.file", Kind::Str, "FILE", "",
        "TLS and basic auth in node_exporter's web config format (YAML: tls_server_config with cert_file and key_file; basic_auth_users with bcrypt hashes). Re-read on SIGHUP. Needs a build with the tls feature.")
        .aliases(&["web.config-file"]).unset_none().check(web_config_file)),
    (Section::Server, Flag::new("interval", Kind::Duration, "DURATION", "0s",
        "Collect at most once per DURATION (e.g. 10s); scrapes within it get the last output. 0 collects on every scrape.")),
    (Section::Server, Flag::new("web.scrape-timeout", Kind::Duration, "DURATION", "10s",
        "A scrape answers within the X-Prometheus-Scrape-Timeout-Seconds its request carries (less 0.5 s, at most this), or within DURATION; a collector that can block in the kernel (textfile, hwmon, thermal_zone, powersupplyclass, namedprocess) and has not finished by then reports node_scrape_collector_success 0 and is skipped until its read returns.")),
    (Section::Server, Flag::switch("web.disable-exporter-metrics",
        "Leave out the exporter's own process_* metrics (node_exporter leaves out its process_*, go_* and promhttp_*).")),
    (Section::Server, Flag::new("web.max-requests", Kind::Count, "N", "40",
        "proctap answers one scrape at a time; when more than N scrape requests are waiting for their turn, the newest gets 503 (node_exporter: the maximum number of parallel scrapes). 0: no limit.")),
    (Section::Server, Flag::new("runtime.gomaxprocs", Kind::Count, "N", "1",
        "Accepted for node_exporter compatibility, no effect: proctap runs one collection at a time.")),
    (Section::Server, Flag::new("once-to-stdout-delay", Kind::Duration, "DURATION", "0s",
        "Do not serve: collect, wait DURATION, collect again and print that to stdout, as process-exporter's flag does (so rates between the two collections are meaningful). 0s: serve.")
        .action()),
    (Section::Paths, Flag::new("path.procfs", Kind::Str, "DIR", "/proc", "procfs mount point.")
        .aliases(&["procfs"])),
    (Section::Paths, Flag::new("path.sysfs", Kind::Str, "DIR", "/sys", "sysfs mount point.")),
    (Section::Paths, Flag::new("path.rootfs", Kind::Str, "DIR", "/", "Root filesystem (for the host's files).")),
    (Section::Paths, Flag::new("path.udev.data", Kind::Str, "DIR", crate::source::UDEV_DATA, "udev's database (disk model, serial, filesystem and device mapper labels).")),
    (Section::Collectors, Flag::new("collectors", Kind::List, "a,b,c", "", "Enable exactly these collectors.")
        .aliases(&["monitor"]).check(collector_name)),
    (Section::Collectors, Flag::switch("collector.disable-defaults", "Disable every collector; enable some with --collector.NAME.")
        .action()),
    (Section::Logging, Flag::new("log.format", Kind::Str, "text|json", "text", "Log line format (logfmt is text).")
        .aliases(&["log-format"]).check(log_format)),
    (Section::Logging, Flag::new("log.level", Kind::Str, "LEVEL", "info", "debug, info, warn or error.")
        .aliases(&["log-level"]).check(log_level)),
];

/// Every flag: the program's own, then each collector's.
#[cfg_attr(proctap_size, optimize(size))]
fn all_flags() -> impl Iterator<Item = &'static Flag> {
    FLAGS.iter().map(|(_, f)| f).chain(collector::flags())
}

/// Every real flag (not the compat table's rows).
#[cfg(test)]
pub fn flags() -> impl Iterator<Item = &'static Flag> {
    all_flags()
}

#[cfg_attr(proctap_size, optimize(size))]
fn flag_named(name: &str) -> Option<&'static Flag> {
    all_flags().find(|f| f.name == name)
}

/// The include flag of `f`'s pair when `f` is an exclude flag, or its exclude flag.
#[cfg_attr(proctap_size, optimize(size))]
fn partner_of(f: &Flag) -> Option<&'static Flag> {
    match f.partner {
        Some(p) => flag_named(p),
        None => all_flags().find(|g| g.partner == Some(f.name)),
    }
}

/// Which setting a key names: a flag of the table, a collector's on/off switch, or a
/// node_exporter flag of the compat table.
enum Target {
    Flag(&'static Flag),
    Collector(usize),
    Compat(Found),
}

impl Target {
    /// The real flag this sets: itself, or the one a compat alias names.
    #[cfg_attr(proctap_size, optimize(size))]
    fn flag(&self) -> Option<&'static Flag> {
        match self {
            Target::Flag(f) => Some(f),
            Target::Compat(found) => found.alias_of().and_then(flag_named),
            Target::Collector(_) => None,
        }
    }

    #[cfg_attr(proctap_size, optimize(size))]
    fn is_switch(&self) -> bool {
        match self {
            Target::Flag(f) => f.is_switch(),
            Target::Collector(_) => true,
            Target::Compat(found) => match self.flag() {
                Some(f) => f.is_switch(),
                None => matches!(found.takes(), Takes::Switch { .. }),
            },
        }
    }
}

/// A real flag wins over the compat table, so a row turns into a working flag by declaring it.
#[cfg_attr(proctap_size, optimize(size))]
fn lookup(key: &str) -> Option<Target> {
    if let Some(f) = all_flags().find(|f| f.known_as(key)) {
        return Some(Target::Flag(f));
    }
    if let Some(i) = key.strip_prefix("collector.").and_then(collector::by_name) {
        return Some(Target::Collector(i));
    }
    compat::find(key).map(Target::Compat)
}

/// Applies one setting. `key` is canonical or an alias, without dashes.
#[cfg_attr(proctap_size, optimize(size))]
fn apply(cfg: &mut Config, target: &Target, value: Value) -> Result<(), String> {
    match target {
        Target::Flag(f) => {
            cfg.settings.set(f, value)?;
            match f.name {
                "collectors" => {
                    let names = cfg.settings.list("collectors").to_vec();
                    cfg.enabled.iter_mut().for_each(|e| *e = false);
                    for name in names {
                        if let Some(e) =
                            collector::by_name(&name).and_then(|i| cfg.enabled.get_mut(i))
                        {
                            *e = true;
                        }
                    }
                }
                "collector.disable-defaults" if cfg.settings.switch(f.name) => {
                    cfg.enabled.iter_mut().for_each(|e| *e = false);
                }
                _ => {}
            }
            Ok(())
        }
        Target::Collector(i) => {
            let on = boolean(value)?;
            if let Some(e) = cfg.enabled.get_mut(*i) {
                *e = on;
            }
            Ok(())
        }
        Target::Compat(found) => {
            if let Some(f) = target.flag() {
                apply(cfg, &Target::Flag(f), value.clone())?;
            }
            let value = found.accept(value)?;
            Given::record(&mut cfg.compat, *found, value);
            Ok(())
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
#[cfg_attr(proctap_size, optimize(size))]
pub fn parse<I>(args: I) -> Result<Config, CliError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::Arg::{Long, Short, Value as Positional};
    let mut cfg = Config::default();
    let mut settings: Vec<Setting> = Vec::new();
    let args = crate::goflags::rewrite(args.into_iter().map(Into::into));
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
            // kingpin's own: node_exporter has --help-long and --help-man besides --help.
            "-h" | "--help" | "--help-long" | "--help-man" => cfg.command = Command::Help,
            "--completion-script-bash" => cfg.command = Command::Completion(Shell::Bash),
            "--completion-script-zsh" => cfg.command = Command::Completion(Shell::Zsh),
            // kingpin's scripts pass the words typed so far; the answer is every word anyway.
            "--completion-bash" => {
                return Ok(Config {
                    command: Command::Completion(Shell::Words),
                    ..cfg
                })
            }
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
                let value = if target.is_switch() {
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
    if matches!(
        cfg.command,
        Command::Help | Command::Version | Command::Completion(_)
    ) {
        return Ok(cfg);
    }
    if let Some(path) = cfg.config_file.clone() {
        apply_file(&mut cfg, &path)?;
    }
    cfg.repeated = compat::SINGLE
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| {
            let given = settings
                .iter()
                .filter(|s| s.target.flag().is_some_and(|f| f.name == *name));
            given.count() > 1
        })
        .collect();
    // A compat flag on the command line replaces the file's value, as real flags do.
    for s in &settings {
        if let Target::Compat(found) = s.target {
            cfg.compat.retain(|g| g.found != found);
        }
    }
    // A repeatable flag given here replaces the file's list (and the default); each use adds.
    for f in settings.iter().filter_map(|s| s.target.flag()) {
        if f.kind == Kind::Repeat {
            cfg.settings.clear(f);
        }
    }
    let mut set_here: Vec<&'static str> = Vec::new();
    for s in settings {
        if let Some(f) = s.target.flag() {
            if !is_empty(&s.value) {
                set_here.push(f.name);
            }
            // An include on the command line replaces the file's exclude, and the reverse.
            if let Some(p) = partner_of(f) {
                cfg.settings.reset(p);
            }
        }
        let shown = match &s.value {
            Value::Str(v) => v.clone(),
            other => other.to_toml(),
        };
        apply(&mut cfg, &s.target, s.value).map_err(|why| bad(&s.flag, &shown, why))?;
    }
    check_exclusive(&set_here)
        .map_err(|(a, b)| CliError::Conflict(format!("--{a}"), format!("--{b}")))?;
    cfg.derive();
    collector::validate(&cfg.settings)?;
    Ok(cfg)
}

/// An empty pattern means "not set", so it never conflicts with its partner.
#[cfg_attr(proctap_size, optimize(size))]
fn is_empty(v: &Value) -> bool {
    matches!(v, Value::Str(s) if s.is_empty())
}

/// Include/exclude pairs: setting both in one place is an error, as in node_exporter.
#[cfg_attr(proctap_size, optimize(size))]
fn check_exclusive(names: &[&str]) -> Result<(), (&'static str, &'static str)> {
    for f in all_flags() {
        if let Some(p) = f.partner {
            if names.contains(&f.name) && names.contains(&p) {
                return Err((f.name, p));
            }
        }
    }
    Ok(())
}

/// Reads a config file into `cfg`; every error names the file, the line and the key.
#[cfg_attr(proctap_size, optimize(size))]
pub fn apply_file(cfg: &mut Config, path: &Path) -> Result<(), CliError> {
    let file_err = |line: usize, key: Option<&str>, msg: String| {
        CliError::Config(ConfigError {
            file: path.to_path_buf(),
            line,
            key: key.map(str::to_string),
            msg,
        })
    };
    let text = crate::source::read_user_file(path, 1 << 20)
        .map_err(|e| file_err(0, None, format!("cannot read: {e}")))?;
    let entries = config::parse(path, &text).map_err(CliError::Config)?;
    let mut names = Vec::new();
    for e in entries {
        let target = lookup(&e.key).ok_or_else(|| {
            file_err(
                e.line,
                Some(&e.key),
                "unknown key (see proctap config for the known keys)".into(),
            )
        })?;
        if let (Some(f), false) = (target.flag(), is_empty(&e.value)) {
            names.push(f.name);
        }
        // The file's list replaces the default of a repeatable flag.
        if let Some(f) = target.flag().filter(|f| f.kind == Kind::Repeat) {
            cfg.settings.clear(f);
        }
        apply(cfg, &target, e.value).map_err(|why| file_err(e.line, Some(&e.key), why))?;
    }
    if let Err((a, b)) = check_exclusive(&names) {
        return Err(file_err(
            0,
            Some(b),
            format!("{a} and {b} are mutually exclusive"),
        ));
    }
    Ok(())
}

impl Config {
    /// The typed fields from the settings.
    #[cfg_attr(proctap_size, optimize(size))]
    fn derive(&mut self) {
        let s = &self.settings;
        self.listen = match s.list("listen") {
            [] => vec![listen::DEFAULT.to_string()],
            given => given.to_vec(),
        };
        self.systemd_socket = s.switch("web.systemd-socket");
        self.telemetry_path = s.str("web.telemetry-path").to_string();
        self.web_config_file = s.path("web.config.file");
        self.interval = s.duration("interval");
        self.once_delay = s.duration("once-to-stdout-delay");
        self.procfs = s.str("path.procfs").into();
        self.sysfs = s.str("path.sysfs").into();
        self.rootfs = s.str("path.rootfs").into();
        self.udev = s.str("path.udev.data").into();
        self.log_json = s.str("log.format") == "json";
        self.log_level = Level::parse(s.str("log.level")).unwrap_or(Level::Info);
    }

    /// Indexes into [`collector::ALL`] of the enabled collectors, in table order.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn enabled_collectors(&self) -> Vec<usize> {
        (0..collector::ALL.len())
            .filter(|&i| self.enabled.get(i) == Some(&true))
            .collect()
    }

    /// The value `proctap config` prints for a flag.
    #[cfg_attr(proctap_size, optimize(size))]
    fn shown(&self, f: &Flag) -> Value {
        if f.name == "collectors" {
            return Value::List(
                collector::ALL
                    .iter()
                    .zip(&self.enabled)
                    .filter(|(_, on)| **on)
                    .map(|(c, _)| c.name.to_string())
                    .collect(),
            );
        }
        self.settings
            .value(f.name)
            .cloned()
            .unwrap_or(Value::Str(String::new()))
    }

    /// The effective configuration in the config file's format: save it, edit it, load it
    /// with `--config`.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn to_file(&self) -> String {
        let mut out = String::from("# proctap configuration: `proctap config` printed this; load it with --config FILE.\n# Keys are the long flag names; flags on the command line win over this file.\n");
        for (title, flags) in sections() {
            out.push_str(&format!("\n# {title}\n"));
            for f in flags.iter().filter(|f| !f.action) {
                out.push_str(&format!("{} = {}\n", f.name, self.shown(f).to_toml()));
            }
        }
        // Kept as keys, so that the file starts proctap as the flags did and reads back the same.
        let kept: Vec<&Given> = self
            .compat
            .iter()
            .filter(|g| g.found.alias_of().is_none())
            .collect();
        if !kept.is_empty() {
            out.push_str("\n# node_exporter flags given that proctap accepts and does not use (see the log)\n");
            for g in kept {
                out.push_str(&format!(
                    "{} = {}   # {}\n",
                    g.found.name(),
                    g.value.to_toml(),
                    g.comment()
                ));
            }
        }
        out
    }

    /// Logs one line per node_exporter flag of the compat table that was given: a warning when
    /// proctap does not do what it asks for, info otherwise.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn log_compat(&self) {
        for g in &self.compat {
            let (level, line) = g.note();
            log::log(level, &line, &[]);
        }
        for name in &self.repeated {
            if let Some((_, why)) = compat::SINGLE.iter().find(|(n, _)| n == name) {
                log::warn(&format!("--{name} given more than once: {why}"), &[]);
            }
        }
    }
}

/// Every word a shell may complete: the commands, every flag (switches also as `--no-`), and
/// `--collector.NAME` / `--no-collector.NAME` for every collector.
#[cfg_attr(proctap_size, optimize(size))]
pub fn completion_words() -> Vec<String> {
    let mut words: Vec<String> = [
        "once",
        "check",
        "config",
        "subgroups",
        "--config",
        "--help",
        "--version",
    ]
    .iter()
    .map(|w| w.to_string())
    .collect();
    for f in all_flags() {
        words.push(format!("--{}", f.name));
        if f.is_switch() {
            words.push(format!("--no-{}", f.name));
        }
    }
    for c in collector::ALL {
        words.push(format!("--collector.{}", c.name));
        words.push(format!("--no-collector.{}", c.name));
    }
    words
}

/// The flags by `--help` section, in order: the program's own sections, with the collectors'
/// flags after "Collectors".
#[cfg_attr(proctap_size, optimize(size))]
fn sections() -> Vec<(&'static str, Vec<&'static Flag>)> {
    let own = |section: Section| {
        (
            section.title(),
            FLAGS
                .iter()
                .filter(|(s, _)| *s == section)
                .map(|(_, f)| f)
                .collect::<Vec<_>>(),
        )
    };
    let mut out = vec![
        own(Section::Server),
        own(Section::Paths),
        own(Section::Collectors),
    ];
    let shared: Vec<&Flag> = collector::ALL
        .iter()
        .filter(|c| c.help_section.is_none())
        .flat_map(|c| c.flags)
        .collect();
    out.push(("Collector options", shared));
    for c in collector::ALL {
        if let Some(title) = c.help_section {
            out.push((title, c.flags.iter().collect()));
        }
    }
    out.push(own(Section::Logging));
    out
}

#[cfg_attr(proctap_size, optimize(size))]
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

/// `--version` in node_exporter's layout (Prometheus' common version package), which scripts
/// grep: `proctap, version V (branch: B, revision: R)`, then the build details.
#[cfg_attr(proctap_size, optimize(size))]
pub fn version() -> String {
    // Go's names for the architectures, as node_exporter prints them.
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "mips" if cfg!(target_endian = "little") => "mipsle",
        other => other,
    };
    format!(
        "proctap, version {} (branch: {}, revision: {})\n  build user:       {}\n  build date:       {}\n  rustc version:    {}\n  platform:         {}/{arch}\n",
        env!("CARGO_PKG_VERSION"),
        env!("PROCTAP_BRANCH"),
        env!("PROCTAP_REVISION"),
        env!("PROCTAP_BUILD_USER"),
        env!("PROCTAP_BUILD_DATE"),
        env!("PROCTAP_RUSTC"),
        std::env::consts::OS,
    )
}

/// Appends one `--help` entry: the flag column, then the text (on the next line when the flag
/// is too wide), then the default.
#[cfg_attr(proctap_size, optimize(size))]
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

/// Appends `text` wrapped at 100 columns.
#[cfg_attr(proctap_size, optimize(size))]
fn paragraph(out: &mut String, text: &str) {
    let mut width = 0;
    for word in text.split(' ') {
        if width > 0 && width + 1 + word.len() > 100 {
            out.push('\n');
            width = 0;
        } else if width > 0 {
            out.push(' ');
            width += 1;
        }
        out.push_str(word);
        width += word.len();
    }
    out.push('\n');
}

#[cfg_attr(proctap_size, optimize(size))]
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
    for (title, flags) in sections() {
        if flags.is_empty() && title != Section::Collectors.title() {
            continue;
        }
        out.push_str(&format!("\n{title}:\n"));
        for f in flags {
            let mut flag = format!("--{}", f.name);
            if !f.is_switch() {
                flag = format!("{flag} {}", f.arg);
            }
            let mut text = f.help.to_string();
            for a in f.aliases {
                text.push_str(&format!(" (alias --{a})"));
            }
            let default = match (d.shown(f), f.is_switch()) {
                (_, true) => None,
                (Value::Str(s), _) if s.is_empty() => {
                    Some(f.unset.as_str().to_string()).filter(|u| !u.is_empty())
                }
                (Value::Str(s), _) => Some(s),
                (Value::List(l), _) if l.is_empty() => {
                    Some(f.unset.as_str().to_string()).filter(|u| !u.is_empty())
                }
                (Value::List(l), _) => Some(l.join(",")),
                (v, _) => Some(v.to_toml()),
            };
            help_entry(&mut out, &flag, &text, default.as_deref());
        }
        if title == Section::Collectors.title() {
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
            help_entry(
                &mut out,
                "",
                "processes is node_exporter's collector of that name (node_processes_*); namedprocess is proctap's process groups (namedprocess_namegroup_*, as process-exporter names them).",
                None,
            );
        }
    }
    out.push('\n');
    help_entry(&mut out, "--config FILE", "Read settings from FILE: one `key = value` per line, keys are the long flag names; flags given here win.", None);
    help_entry(
        &mut out,
        "-h, --help",
        "Print this help (also --help-long and --help-man, as node_exporter has them).",
        None,
    );
    help_entry(
        &mut out,
        "--completion-script-bash",
        "Print a bash completion script (--completion-script-zsh: for zsh).",
        None,
    );
    help_entry(
        &mut out,
        "-V, --version",
        "Print version, git revision and rustc version.",
        None,
    );
    out.push_str("\nEvery scrape ends with node_scrape_collector_duration_seconds and _success per collector,\nproctap_build_info and node_exporter_build_info (the same labels, under node_exporter's name\nbecause dashboards such as node_exporter's mixin list instances from it), and the exporter's\nprocess_* unless --web.disable-exporter-metrics. GET /metrics?collect[]=NAME runs only NAME,\n?exclude[]=NAME all but NAME, as in node_exporter.\n");
    out.push('\n');
    paragraph(
        &mut out,
        "node_exporter's flags work here: every flag of node_exporter 1.5 and later is accepted, \
         under node_exporter's spelling (proctap's own spellings are aliases). One for a collector or \
         option proctap does not have (e.g. --collector.zfs, --collector.ntp.server) is named in one \
         warning at start and ignored; older spellings (e.g. --collector.diskstats.ignored-devices) \
         set today's flag. Only a flag no node_exporter knows, a bad value or a bad config file exits \
         with status 2.",
    );
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

    fn filter(c: &Config, collector: &str) -> collector::Filter {
        let flag = |which: &str| format!("collector.{collector}.device-{which}");
        collector::Filter::from_settings(&c.settings, &flag("include"), &flag("exclude")).unwrap()
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
        assert_eq!(c.listen, [listen::DEFAULT]);
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
        let mut disks = filter(&c, "diskstats");
        assert!(!disks.allows("sda1"));
        assert!(!disks.allows("loop0"));
        assert!(!disks.allows("nvme0n1p2"));
        assert!(disks.allows("sda"));
        assert!(disks.allows("nvme0n1"));
        assert!(disks.allows("mmcblk0p1"));
        assert!(disks.allows("dm-0"));
        assert!(filter(&c, "netdev").allows("lo"));
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
        let mut netdev = filter(&c, "netdev");
        assert!(netdev.allows("eth0.100"));
        assert!(!netdev.allows("wlan0"));
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
        assert_eq!(
            c.settings.str("collector.diskstats.device-exclude"),
            "^loop"
        );
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
        let mut disks = filter(&c, "diskstats");
        assert!(disks.allows("sda") && !disks.allows("loop0") && !disks.allows("dm-0"));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn config_file_errors_name_file_line_and_key() {
        let cases = [
            ("unknown", "listen = \"x:1\"\nno.such.key = 1\n", ":2: key no.such.key: unknown key"),
            ("badvalue", "\nlisten = 5\n", ":2: key listen: expected a string or a list of strings, found an integer"),
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
        assert_eq!(
            back.settings.str("collector.netdev.device-exclude"),
            "^(lo|wg\\d+)$"
        );
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
        let s = &c.settings;
        assert_eq!(
            s.list("proc-name"),
            ["postgres", "systemd-resolved"],
            "repeatable"
        );
        assert_eq!(s.count("top-n"), 5);
        assert_eq!(s.list("group-by"), ["name", "user"]);
        assert!(s.switch("proc-smaps") && !s.switch("proc-kernel-threads"));
        let o = collector::namedprocess::ProcOpts::new(s).unwrap();
        assert_eq!(o.names, ["postgres", "systemd-resolve"]);
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
        assert_eq!(c.settings.list("proc-name"), ["nginx", "java"]);
        assert_eq!(c.settings.count("top-n"), 2);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn node_exporter_flags_of_the_compat_table_are_accepted() {
        let c = p(&[
            "--collector.drbd",
            "--no-collector.systemd",
            "--collector.ntp.server=10.0.0.1",
            "--collector.ntp.server",
            "10.0.0.2",
            "--collector.hwmon.chip-include=^coretemp",
            "--no-collector.arp.netlink",
        ])
        .unwrap();
        let notes: Vec<(Level, String)> = c.compat.iter().map(Given::note).collect();
        let levels: Vec<Level> = notes.iter().map(|n| n.0).collect();
        assert_eq!(
            levels,
            [
                Level::Warn,
                Level::Info,
                Level::Warn,
                Level::Warn,
                Level::Info
            ],
            "{notes:?}"
        );
        assert_eq!(
            notes[2].1,
            "--collector.ntp.server: proctap has no ntp collector; ignored"
        );
        assert_eq!(
            c.compat[2].value,
            Value::List(vec!["10.0.0.1".into(), "10.0.0.2".into()])
        );
        // Nothing else changed: the collectors proctap has are on as by default.
        assert_eq!(c.enabled, Config::default().enabled);
        for (args, want) in [
            (
                &["--no-collector.ntp.server"][..],
                "unknown flag --no-collector.ntp.server",
            ),
            (
                &["--collector.ntp.server"][..],
                "flag --collector.ntp.server needs a value",
            ),
            (&["--collector.drbd=yes"][..], "--collector.drbd"),
            (&["--collector.drbdx"][..], "unknown flag --collector.drbdx"),
        ] {
            let e = p(args).unwrap_err().to_string();
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }

    #[test]
    fn older_spellings_set_todays_flag() {
        let c = p(&[
            "--collector.diskstats.ignored-devices=^loop",
            "--collector.netdev.device-whitelist=^eth",
            "--web.config-file=",
            "--log-level=warn",
        ])
        .unwrap();
        assert!(!filter(&c, "diskstats").allows("loop0"));
        assert!(filter(&c, "diskstats").allows("sda"));
        assert!(!filter(&c, "netdev").allows("wlan0"));
        assert_eq!(c.log_level, Level::Warn);
        assert_eq!(c.compat.len(), 2);
        assert!(c.compat.iter().all(|g| g.note().0 == Level::Info));
        // Both spellings of one flag conflict with its partner as node_exporter's do.
        let e = p(&[
            "--collector.netdev.device-blacklist=^lo$",
            "--collector.netdev.device-include=^eth",
        ])
        .unwrap_err();
        assert!(matches!(e, CliError::Conflict(..)), "{e}");
        // The old spelling of a flag never shows up under its own name in `proctap config`.
        assert!(!c.to_file().contains("diskstats.ignored-devices"));
    }

    #[test]
    fn compat_flags_in_the_config_file_and_the_printed_config() {
        let path = temp_file(
            "compat",
            "collector.drbd = true
collector.systemd.unit-include = \"^ssh\"
collector.systemd = false
",
        );
        let file = path.to_str().unwrap();
        let c = p(&["--config", file, "--collector.perf.tracepoint=sched:x"]).unwrap();
        let text = c.to_file();
        assert!(
            text.contains("\ncollector.drbd = true   # ignored: proctap has no drbd collector\n"),
            "{text}"
        );
        assert!(text.contains("\ncollector.systemd = false   # accepted, no effect here: "));
        assert!(text.contains("\ncollector.perf.tracepoint = \"sched:x\""));
        // The printed file starts proctap as the flags did and prints itself again.
        std::fs::write(&path, &text).unwrap();
        let back = p(&["--config", file]).unwrap();
        assert_eq!(back.to_file(), text);
        assert_eq!(back.compat.len(), 4);
        let c = p(&["--config", file, "--collector.systemd.unit-include=^cron"]).unwrap();
        let unit = c
            .compat
            .iter()
            .find(|g| g.found.name() == "collector.systemd.unit-include");
        assert_eq!(unit.map(|g| &g.value), Some(&Value::Str("^cron".into())));
        std::fs::write(&path, "collector.drbd = \"on\"\n").unwrap();
        let e = p(&["--config", file]).unwrap_err().to_string();
        assert!(
            e.contains(":1: key collector.drbd: expected true or false"),
            "{e}"
        );
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn kingpins_own_flags() {
        assert_eq!(p(&["--help-long"]).unwrap().command, Command::Help);
        assert_eq!(p(&["--help-man"]).unwrap().command, Command::Help);
        assert_eq!(
            p(&["--completion-script-zsh"]).unwrap().command,
            Command::Completion(Shell::Zsh)
        );
        assert_eq!(
            p(&["--completion-bash", "--collector.", "x"])
                .unwrap()
                .command,
            Command::Completion(Shell::Words)
        );
        let words = completion_words();
        for w in [
            "--no-collector.cpu",
            "--collector.textfile.directory",
            "--no-proc-smaps",
            "once",
        ] {
            assert!(words.iter().any(|x| x == w), "{w} missing");
        }
    }

    #[test]
    fn a_repeated_single_flag_is_named() {
        let c = p(&[
            "--collector.textfile.directory=a",
            "--collector.textfile.directory=b",
        ])
        .unwrap();
        assert_eq!(c.repeated, ["collector.textfile.directory"]);
        assert_eq!(c.settings.str("collector.textfile.directory"), "b");
        assert!(p(&["--collector.textfile.directory=a"])
            .unwrap()
            .repeated
            .is_empty());
    }

    #[test]
    fn help_lists_every_flag_with_defaults() {
        let h = help();
        for f in all_flags() {
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
        assert!(h.contains(collector::diskstats::DEVICE_EXCLUDE_DEFAULT));
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
        // One string in the file is one address, and replaces the default.
        std::fs::write(&path, "listen = \"127.0.0.1:3\"\n").unwrap();
        assert_eq!(p(&["--config", file]).unwrap().listen, ["127.0.0.1:3"]);
        for (args, want) in [
            (&["--web.listen-address=9105"][..], "flag --web.listen-address: invalid value \"9105\": missing the ':' before the port; :9105 listens on every address"),
            (&["--listen=:1", "--listen=[::1"][..], "flag --listen: invalid value \"[::1\": missing ']'"),
            (&["--listen=:70000"][..], "out of range"),
            (&["--listen="][..], "flag --listen: invalid value \"\": empty"),
            (&["--listen=:1,:2"][..], "needs brackets"),
        ] {
            let e = p(args).unwrap_err().to_string();
            assert!(e.starts_with(want) || e.contains(want), "{args:?}: {e}");
        }
        std::fs::write(&path, "listen = [\":1\", \"x\"]\n").unwrap();
        let e = p(&["--config", file]).unwrap_err().to_string();
        assert!(e.ends_with(":1: key listen: \"x\": missing :PORT"), "{e}");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        assert!(p(&["--web.systemd-socket"]).unwrap().systemd_socket);
    }
}
