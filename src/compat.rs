//! node_exporter's flags that proctap has no flag of its own for, in one table, so that a unit
//! file, a DaemonSet or a Helm chart written for node_exporter starts proctap unchanged.
//!
//! Every Linux flag of node_exporter 1.5 through the current release (hidden and deprecated
//! ones too) is either a real flag (in cli.rs or a collector's `COLLECTOR.flags`, under
//! node_exporter's spelling) or a row here. A row is accepted on the command line and in the
//! config file with or without a value as node_exporter takes it, and logs one line at start
//! saying what it does here; it never stops the start. Only a flag that no node_exporter (nor
//! process-exporter) knows exits 2.
//!
//! Turning a row into a working flag: declare the flag (or the collector) for real and delete
//! the row. A real flag always wins over a row, and a unit test fails while both exist, so a
//! row cannot outlive the feature.
use crate::config::Value;
use crate::flag::boolean;
use crate::log::Level;

/// What a row's flag takes, as node_exporter takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// `--X` / `--no-X`, `true`/`false` in the file. `here` is what proctap does as it is, so
    /// only asking for the other is ignored (`--no-collector.systemd` gets what it asks for).
    Switch { here: bool },
    /// `--X VALUE` or `--X=VALUE` (repeatable where node_exporter's is); any value in the file.
    Value,
}

/// What proctap does with a row's flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// node_exporter's older spelling of this proctap flag: the same flag.
    Alias(&'static str),
    /// An option of a collector proctap does not have (yet), named here: ignored, with a warning.
    NoCollector(&'static str),
    /// Something proctap does not do (yet), and why: ignored, with a warning.
    Ignored(&'static str),
    /// Accepted, no effect here, and why: nothing is lost (an info line).
    NoEffect(&'static str),
}

#[derive(Debug, PartialEq, Eq)]
pub struct Row {
    /// node_exporter's name without the dashes (also the config file key).
    pub name: &'static str,
    pub takes: Takes,
    pub status: Status,
}

const OFF: Takes = Takes::Switch { here: false };
const ON: Takes = Takes::Switch { here: true };
const VALUE: Takes = Takes::Value;

const fn row(name: &'static str, takes: Takes, status: Status) -> Row {
    Row {
        name,
        takes,
        status,
    }
}

const fn of(name: &'static str, takes: Takes, collector: &'static str) -> Row {
    row(name, takes, Status::NoCollector(collector))
}

const fn ignored(name: &'static str, takes: Takes, why: &'static str) -> Row {
    row(name, takes, Status::Ignored(why))
}

const fn no_effect(name: &'static str, takes: Takes, why: &'static str) -> Row {
    row(name, takes, Status::NoEffect(why))
}

const fn alias(name: &'static str, of: &'static str) -> Row {
    row(name, VALUE, Status::Alias(of))
}

/// node_exporter's Linux collectors that proctap does not have (yet): `--collector.NAME` is
/// ignored with a warning, `--no-collector.NAME` is accepted (it gets what it asks for). With a
/// note where the name could mislead. Sorted; the collectors issue deletes names as it adds them.
pub const ABSENT_COLLECTORS: &[(&str, &str)] = &[
    #[cfg(not(feature = "server"))]
    ("bcache", "this build has no server collectors"),
    ("bcachefs", ""),
    #[cfg(not(feature = "extras"))]
    ("bonding", "this tiny build leaves it out"),
    #[cfg(not(feature = "server"))]
    ("btrfs", "this build has no server collectors"),
    #[cfg(not(feature = "server"))]
    ("buddyinfo", "this build has no server collectors"),
    ("cgroups", ""),
    ("cpu_vulnerabilities", ""),
    #[cfg(not(feature = "server"))]
    ("dmi", "this build has no server collectors"),
    #[cfg(not(feature = "server"))]
    ("dmmultipath", "this build has no server collectors"),
    ("drbd", ""),
    ("drm", ""),
    #[cfg(not(feature = "server"))]
    ("edac", "this build has no server collectors"),
    #[cfg(not(feature = "server"))]
    ("ethtool", "this build has no server collectors"),
    #[cfg(not(feature = "server"))]
    ("fibrechannel", "this build has no server collectors"),
    #[cfg(not(feature = "server"))]
    ("infiniband", "this build has no server collectors"),
    #[cfg(not(feature = "server"))]
    ("ipvs", "this build has no server collectors"),
    #[cfg(not(feature = "server"))]
    ("kernel_hung", "this build has no server collectors"),
    #[cfg(not(feature = "server"))]
    ("ksmd", "this build has no server collectors"),
    #[cfg(not(feature = "server"))]
    ("lnstat", "this build has no server collectors"),
    ("logind", ""),
    #[cfg(not(feature = "extras"))]
    ("mdadm", "this tiny build leaves it out"),
    #[cfg(not(feature = "server"))]
    ("meminfo_numa", "this build has no server collectors"),
    #[cfg(not(feature = "server"))]
    ("mountstats", "this build has no server collectors"),
    #[cfg(not(feature = "extras"))]
    ("network_route", "this tiny build leaves it out"),
    #[cfg(not(feature = "server"))]
    ("nfs", "this build has no server collectors"),
    #[cfg(not(feature = "server"))]
    ("nfsd", "this build has no server collectors"),
    ("ntp", ""),
    #[cfg(not(feature = "server"))]
    ("nvme", "this build has no server collectors"),
    #[cfg(not(feature = "extras"))]
    ("os", "this tiny build leaves it out"),
    ("pcidevice", ""),
    ("perf", ""),
    #[cfg(not(feature = "extras"))]
    ("powersupplyclass", "this tiny build leaves it out"),
    #[cfg(not(feature = "extras"))]
    ("processes", "this tiny build leaves it out"),
    #[cfg(not(feature = "extras"))]
    ("qdisc", "this tiny build leaves it out"),
    #[cfg(not(feature = "server"))]
    ("rapl", "this build has no server collectors"),
    ("runit", ""),
    #[cfg(not(feature = "extras"))]
    ("schedstat", "this tiny build leaves it out"),
    #[cfg(not(feature = "server"))]
    ("selinux", "this build has no server collectors"),
    #[cfg(not(feature = "server"))]
    ("slabinfo", "this build has no server collectors"),
    #[cfg(not(feature = "extras"))]
    ("softirqs", "this tiny build leaves it out"),
    ("supervisord", ""),
    ("swap", ""),
    #[cfg(not(feature = "server"))]
    ("sysctl", "this build has no server collectors"),
    ("systemd", ""),
    #[cfg(not(feature = "server"))]
    ("tapestats", "this build has no server collectors"),
    #[cfg(not(feature = "server"))]
    ("tcpstat", "this build has no server collectors"),
    #[cfg(not(feature = "extras"))]
    ("timex", "this tiny build leaves it out"),
    ("tls", ""),
    #[cfg(not(feature = "extras"))]
    ("udp_queues", "this tiny build leaves it out"),
    #[cfg(not(feature = "extras"))]
    ("watchdog", "this tiny build leaves it out"),
    ("xfrm", ""),
    #[cfg(not(feature = "server"))]
    ("xfs", "this build has no server collectors"),
    #[cfg(not(feature = "server"))]
    ("zfs", "this build has no server collectors"),
    #[cfg(not(feature = "server"))]
    ("zoneinfo", "this build has no server collectors"),
];

/// node_exporter's other flags without a proctap flag of the same name. Sorted by name.
#[rustfmt::skip]
pub const NODE_EXPORTER: &[Row] = &[
    no_effect("collector.arp.netlink", ON, "proctap reads /proc/net/arp, which has the same entries"),
    #[cfg(not(feature = "server"))]
    of("collector.bcache.priorityStats", OFF, "bcache"),
    ignored("collector.cpu.guest", ON, "proctap always exports node_cpu_guest_seconds_total"),
    #[cfg(not(feature = "extras"))]
    ignored("collector.cpu.info", OFF, "this tiny build has no node_cpu_info"),
    #[cfg(not(feature = "extras"))]
    ignored("collector.cpu.info.bugs-include", VALUE, "this tiny build has no node_cpu_info"),
    #[cfg(not(feature = "extras"))]
    ignored("collector.cpu.info.flags-include", VALUE, "this tiny build has no node_cpu_info"),
    ignored("collector.cpufreq.enable-cpufreq-prefix", OFF, "proctap's cpufreq series keep node_exporter's node_cpu_ prefix"),
    alias("collector.diskstats.ignored-devices", "collector.diskstats.device-exclude"),
    #[cfg(not(feature = "server"))]
    of("collector.ethtool.device-exclude", VALUE, "ethtool"),
    #[cfg(not(feature = "server"))]
    of("collector.ethtool.device-include", VALUE, "ethtool"),
    #[cfg(not(feature = "server"))]
    of("collector.ethtool.metrics-include", VALUE, "ethtool"),
    ignored("collector.filesystem.fs-types-include", VALUE, "proctap's filesystem collector has only the exclude patterns yet"),
    ignored("collector.filesystem.mount-points-include", VALUE, "proctap's filesystem collector has only the exclude patterns yet"),
    no_effect("collector.filesystem.stat-workers", VALUE, "proctap asks one mount at a time, on its own bounded worker"),
    ignored("collector.hwmon.chip-exclude", VALUE, "proctap's hwmon collector has no chip filter yet"),
    ignored("collector.hwmon.chip-include", VALUE, "proctap's hwmon collector has no chip filter yet"),
    ignored("collector.hwmon.sensor-exclude", VALUE, "proctap's hwmon collector has no sensor filter yet"),
    ignored("collector.hwmon.sensor-include", VALUE, "proctap's hwmon collector has no sensor filter yet"),
    ignored("collector.interrupts.include-zeros", ON, "proctap's interrupts collector always exports IRQs that counted nothing"),
    ignored("collector.interrupts.name-exclude", VALUE, "proctap's interrupts collector has no name filter yet"),
    ignored("collector.interrupts.name-include", VALUE, "proctap's interrupts collector has no name filter yet"),
    #[cfg(not(feature = "server"))]
    of("collector.ipvs.backend-labels", VALUE, "ipvs"),
    no_effect("collector.netclass.netlink", OFF, "proctap reads /sys/class/net, which has the same attributes"),
    no_effect("collector.netclass_rtnl.with-stats", OFF, "it applies to --collector.netclass.netlink only; the netdev collector has these counters"),
    ignored("collector.netdev.address-info", OFF, "proctap's netdev collector has no node_network_address_info yet"),
    alias("collector.netdev.device-blacklist", "collector.netdev.device-exclude"),
    alias("collector.netdev.device-whitelist", "collector.netdev.device-include"),
    ignored("collector.netdev.enable-detailed-metrics", OFF, "proctap's netdev collector has node_exporter's default metric names only"),
    ignored("collector.netdev.label-ifalias", OFF, "proctap's netdev collector has no ifalias label yet"),
    of("collector.ntp.ip-ttl", VALUE, "ntp"),
    of("collector.ntp.local-offset-tolerance", VALUE, "ntp"),
    of("collector.ntp.max-distance", VALUE, "ntp"),
    of("collector.ntp.protocol-version", VALUE, "ntp"),
    of("collector.ntp.server", VALUE, "ntp"),
    of("collector.ntp.server-is-local", OFF, "ntp"),
    of("collector.ntp.server-port", VALUE, "ntp"),
    of("collector.pcidevice.idsfile", VALUE, "pcidevice"),
    of("collector.pcidevice.names", OFF, "pcidevice"),
    of("collector.perf.cache-profilers", VALUE, "perf"),
    of("collector.perf.cpus", VALUE, "perf"),
    of("collector.perf.disable-cache-profilers", OFF, "perf"),
    of("collector.perf.disable-hardware-profilers", OFF, "perf"),
    of("collector.perf.disable-software-profilers", OFF, "perf"),
    of("collector.perf.hardware-profilers", VALUE, "perf"),
    of("collector.perf.software-profilers", VALUE, "perf"),
    of("collector.perf.tracepoint", VALUE, "perf"),
    #[cfg(not(feature = "extras"))]
    of("collector.powersupply.ignored-supplies", VALUE, "powersupplyclass"),
    #[cfg(not(feature = "extras"))]
    of("collector.qdisc.device-exclude", VALUE, "qdisc"),
    #[cfg(not(feature = "extras"))]
    of("collector.qdisc.device-include", VALUE, "qdisc"),
    no_effect("collector.qdisc.fixtures", VALUE, "node_exporter's own test data (JSON); proctap's tests build netlink messages instead"),
    #[cfg(not(feature = "extras"))]
    of("collector.qdisc.include-child", OFF, "qdisc"),
    #[cfg(not(feature = "extras"))]
    of("collector.qdisk.device-exclude", VALUE, "qdisc"),
    #[cfg(not(feature = "extras"))]
    of("collector.qdisk.device-include", VALUE, "qdisc"),
    #[cfg(not(feature = "server"))]
    of("collector.rapl.enable-zone-label", OFF, "rapl"),
    of("collector.runit.servicedir", VALUE, "runit"),
    #[cfg(not(feature = "server"))]
    of("collector.slabinfo.slabs-exclude", VALUE, "slabinfo"),
    #[cfg(not(feature = "server"))]
    of("collector.slabinfo.slabs-include", VALUE, "slabinfo"),
    of("collector.supervisord.url", VALUE, "supervisord"),
    #[cfg(not(feature = "server"))]
    of("collector.sysctl.include", VALUE, "sysctl"),
    #[cfg(not(feature = "server"))]
    of("collector.sysctl.include-info", VALUE, "sysctl"),
    of("collector.systemd.enable-restarts-metrics", OFF, "systemd"),
    of("collector.systemd.enable-start-time-metrics", OFF, "systemd"),
    of("collector.systemd.enable-task-metrics", OFF, "systemd"),
    of("collector.systemd.private", OFF, "systemd"),
    of("collector.systemd.unit-blacklist", VALUE, "systemd"),
    of("collector.systemd.unit-exclude", VALUE, "systemd"),
    of("collector.systemd.unit-include", VALUE, "systemd"),
    of("collector.systemd.unit-whitelist", VALUE, "systemd"),
    of("collector.systemd.user", OFF, "systemd"),
    #[cfg(not(feature = "server"))]
    of("collector.tapestats.ignored-devices", VALUE, "tapestats"),
    no_effect("collector.wifi.fixtures", VALUE, "node_exporter's own test data (JSON); proctap's tests build nl80211 messages instead"),
];

/// process-exporter's flags without a proctap flag. They are single-dash Go flags
/// (`-config.path`), rewritten to the long form before lexopt sees them (src/goflags.rs lists
/// them all). Every flag of process-exporter 0.7.10 (and the later -recheck-with-time-limit,
/// -remove-empty-groups) does something here, so each is a real flag (the namedprocess
/// collector's, `--path.procfs`, `--web.*`, `--once-to-stdout-delay`) and none is a row; a unit
/// test in goflags.rs fails if one is both. Rows here would behave as node_exporter's do.
pub const PROCESS_EXPORTER: &[Row] = &[];

/// A node_exporter flag that is repeatable there and single here, and what proctap does instead.
pub const SINGLE: &[(&str, &str)] = &[(
    "collector.textfile.directory",
    "node_exporter 1.9 reads every directory given; proctap reads the last one",
)];

/// Every row.
#[cfg_attr(proctap_size, optimize(size))]
pub fn rows() -> impl Iterator<Item = &'static Row> {
    NODE_EXPORTER.iter().chain(PROCESS_EXPORTER)
}

/// The row for a config key or long flag without dashes: a row of the table, or
/// `collector.NAME` for a collector proctap does not have.
#[cfg_attr(proctap_size, optimize(size))]
pub fn find(key: &str) -> Option<Found> {
    if let Some(row) = rows().find(|r| r.name == key) {
        return Some(Found::Row(row));
    }
    let name = key.strip_prefix("collector.")?;
    ABSENT_COLLECTORS
        .iter()
        .find(|(c, _)| *c == name)
        .map(|&(c, note)| Found::Collector(c, note))
}

/// What [`find`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Row(&'static Row),
    /// An absent collector's name and note.
    Collector(&'static str, &'static str),
}

impl Found {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn name(self) -> String {
        match self {
            Found::Row(r) => r.name.to_string(),
            Found::Collector(c, _) => format!("collector.{c}"),
        }
    }

    #[cfg_attr(proctap_size, optimize(size))]
    pub fn takes(self) -> Takes {
        match self {
            Found::Row(r) => r.takes,
            Found::Collector(..) => OFF,
        }
    }

    #[cfg_attr(proctap_size, optimize(size))]
    fn status(self) -> Status {
        match self {
            Found::Row(r) => r.status,
            Found::Collector(c, _) => Status::NoCollector(c),
        }
    }

    /// The proctap flag this is another name of.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn alias_of(self) -> Option<&'static str> {
        match self.status() {
            Status::Alias(of) => Some(of),
            _ => None,
        }
    }

    /// Checks a value given for the flag and brings it to the form [`Given`] keeps.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn accept(self, v: Value) -> Result<Value, String> {
        match self.takes() {
            Takes::Switch { .. } => boolean(v).map(Value::Bool),
            Takes::Value => Ok(v),
        }
    }
}

/// A row's flag given on the command line or in the config file, with its value (a list when a
/// value flag was given more than once).
#[derive(Debug, Clone, PartialEq)]
pub struct Given {
    pub found: Found,
    pub value: Value,
}

impl Given {
    /// Records `value` for `found` in `given`: a switch keeps its last value, a value flag
    /// collects every value.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn record(given: &mut Vec<Given>, found: Found, value: Value) {
        let Some(g) = given.iter_mut().find(|g| g.found == found) else {
            given.push(Given { found, value });
            return;
        };
        g.value = match (
            found.takes(),
            std::mem::replace(&mut g.value, Value::Bool(false)),
        ) {
            (Takes::Value, Value::List(mut have)) => {
                have.extend(items(value));
                Value::List(have)
            }
            (Takes::Value, old) => {
                let mut have = items(old);
                have.extend(items(value));
                Value::List(have)
            }
            (Takes::Switch { .. }, _) => value,
        };
    }

    /// The flag as an operator writes it: `--no-collector.zfs` for a switch set to false.
    #[cfg_attr(proctap_size, optimize(size))]
    fn shown(&self) -> String {
        match (self.found.takes(), &self.value) {
            (Takes::Switch { .. }, Value::Bool(false)) => format!("--no-{}", self.found.name()),
            _ => format!("--{}", self.found.name()),
        }
    }

    /// The line logged at start: a warning when proctap does not do what the flag asks for.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn note(&self) -> (Level, String) {
        let shown = self.shown();
        match self.reason() {
            (Level::Warn, why) => (Level::Warn, format!("{shown}: {why}; ignored")),
            (level, why) => (level, format!("{shown}: {why}")),
        }
    }

    /// What `proctap config` prints after the value, as a comment.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn comment(&self) -> String {
        match self.reason() {
            (Level::Warn, why) => format!("ignored: {why}"),
            (_, why) => why,
        }
    }

    #[cfg_attr(proctap_size, optimize(size))]
    fn reason(&self) -> (Level, String) {
        let why = match (self.found, self.found.status()) {
            (Found::Collector(c, note), _) if !note.is_empty() => {
                format!("proctap has no {c} collector ({note})")
            }
            (_, Status::NoCollector(c)) => format!("proctap has no {c} collector"),
            (_, Status::Ignored(why) | Status::NoEffect(why)) => why.to_string(),
            (_, Status::Alias(of)) => {
                return (
                    Level::Info,
                    format!("node_exporter's older name of --{of}, which it sets"),
                )
            }
        };
        let satisfied = match (self.found.status(), self.found.takes(), &self.value) {
            (Status::NoEffect(_), ..) => true,
            (_, Takes::Switch { here }, Value::Bool(v)) => *v == here,
            _ => false,
        };
        if satisfied {
            (Level::Info, format!("accepted, no effect here: {why}"))
        } else {
            (Level::Warn, why)
        }
    }
}

#[cfg_attr(proctap_size, optimize(size))]
fn items(v: Value) -> Vec<String> {
    match v {
        Value::List(items) => items,
        Value::Str(s) => vec![s],
        other => vec![other.to_toml()],
    }
}

/// A shell completion script, as kingpin's `--completion-script-bash` and `-zsh` print one: the
/// commands and every flag. zsh runs the bash one through bashcompinit, as kingpin's does.
#[cfg_attr(proctap_size, optimize(size))]
pub fn completion_script(zsh: bool, words: &[String]) -> String {
    let mut out = String::new();
    if zsh {
        out.push_str("#compdef proctap\nautoload -U +X bashcompinit && bashcompinit\n");
    }
    out.push_str(&format!(
        "# proctap completion: save as /etc/bash_completion.d/proctap (bash) or source it\ncomplete -W \"{}\" proctap\n",
        words.join(" ")
    ));
    out
}

/// The README's list of what is accepted and ignored, generated from the table (the compat
/// tests compare it with README.md).
// The README describes the default build (feature server).
#[cfg(all(test, feature = "server"))]
#[cfg_attr(proctap_size, optimize(size))]
fn readme_block() -> String {
    let flags = |pick: fn(&Row) -> bool| -> Vec<String> {
        rows()
            .filter(|r| pick(r))
            .map(|r| format!("`--{}`", r.name))
            .collect()
    };
    let collectors: Vec<String> = ABSENT_COLLECTORS
        .iter()
        .map(|(c, _)| format!("`{c}`"))
        .collect();
    let aliases: Vec<String> = rows()
        .filter_map(|r| match r.status {
            Status::Alias(of) => Some(format!("`--{}` (`--{of}`)", r.name)),
            _ => None,
        })
        .collect();
    let mut out = String::from(
        "<!-- generated from src/compat.rs: PROCTAP_UPDATE_README=1 cargo test --bin proctap compat:: -->\n",
    );
    let count = collectors.len();
    for (lead, items, tail) in [
        (
            format!("Collectors proctap does not have yet ({count}):"),
            collectors,
            ". `--collector.NAME` is ignored with a warning; `--no-collector.NAME` is accepted.",
        ),
        (
            "Their options, ignored with a warning:".to_string(),
            flags(|r| matches!(r.status, Status::NoCollector(_))),
            ".",
        ),
        (
            "Options of proctap's collectors and server that it does not have yet, ignored with a warning:"
                .to_string(),
            flags(|r| matches!(r.status, Status::Ignored(_))),
            ".",
        ),
        (
            "Accepted, no effect here (the log says why):".to_string(),
            flags(|r| matches!(r.status, Status::NoEffect(_))),
            ".",
        ),
        (
            "Older spellings that set today's flag:".to_string(),
            aliases,
            ".",
        ),
    ] {
        let text = format!("{lead} {}{tail}", items.join(", "));
        wrap_bullet(&mut out, &text);
    }
    wrap_bullet(
        &mut out,
        "Repeatable there, single here: `--collector.textfile.directory` (the last one counts, with a warning).",
    );
    out
}

/// Appends `text` as a markdown bullet wrapped at 100 columns.
// The README describes the default build (feature server).
#[cfg(all(test, feature = "server"))]
#[cfg_attr(proctap_size, optimize(size))]
fn wrap_bullet(out: &mut String, text: &str) {
    let mut width = 0;
    for word in text.split(' ') {
        if width == 0 {
            out.push_str("- ");
            width = 2;
        } else if width + 1 + word.len() > 100 {
            out.push_str("\n  ");
            width = 2;
        } else {
            out.push(' ');
            width += 1;
        }
        out.push_str(word);
        width += word.len();
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector;

    fn real_names() -> Vec<String> {
        let mut names: Vec<String> = crate::cli::flags()
            .flat_map(|f| std::iter::once(f.name).chain(f.aliases.iter().copied()))
            .map(str::to_string)
            .collect();
        names.extend(
            collector::ALL
                .iter()
                .map(|c| format!("collector.{}", c.name)),
        );
        names
    }

    #[test]
    fn no_row_shadows_a_real_flag_or_collector() {
        let real = real_names();
        for r in rows() {
            assert!(
                !real.iter().any(|n| n == r.name),
                "--{} is a real flag now: delete its row from src/compat.rs",
                r.name
            );
        }
        for (c, _) in ABSENT_COLLECTORS {
            assert!(
                collector::by_name(c).is_none(),
                "proctap has a {c} collector now: delete it from compat::ABSENT_COLLECTORS"
            );
        }
    }

    #[test]
    fn rows_are_sorted_and_unique() {
        for w in NODE_EXPORTER.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        for w in ABSENT_COLLECTORS.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0].0, w[1].0);
        }
        for r in rows() {
            assert!(
                find(r.name) == Some(Found::Row(r)),
                "{} is also an absent collector",
                r.name
            );
        }
    }

    #[test]
    fn aliases_name_real_value_flags() {
        for r in rows() {
            if let Status::Alias(of) = r.status {
                let f = crate::cli::flags().find(|f| f.name == of);
                assert!(
                    f.is_some_and(|f| !f.is_switch()),
                    "{} is an alias of {of}, which is not a value flag",
                    r.name
                );
            }
        }
        for (name, _) in SINGLE {
            assert!(crate::cli::flags().any(|f| f.name == *name), "{name}");
        }
    }

    #[test]
    fn notes_say_what_happens() {
        let drbd = find("collector.drbd").unwrap();
        let g = |found, value| Given { found, value }.note();
        assert_eq!(
            g(drbd, Value::Bool(true)),
            (
                Level::Warn,
                "--collector.drbd: proctap has no drbd collector; ignored".into()
            )
        );
        assert_eq!(
            g(drbd, Value::Bool(false)),
            (
                Level::Info,
                "--no-collector.drbd: accepted, no effect here: proctap has no drbd collector"
                    .into()
            )
        );
        let ntp = find("collector.ntp.server").unwrap();
        assert_eq!(
            g(ntp, Value::Str("10.0.0.1".into())),
            (
                Level::Warn,
                "--collector.ntp.server: proctap has no ntp collector; ignored".into()
            )
        );
        let guest = find("collector.cpu.guest").unwrap();
        assert_eq!(g(guest, Value::Bool(true)).0, Level::Info);
        assert_eq!(
            g(guest, Value::Bool(false)),
            (
                Level::Warn,
                "--no-collector.cpu.guest: proctap always exports node_cpu_guest_seconds_total; ignored"
                    .into()
            )
        );
        let netlink = find("collector.arp.netlink").unwrap();
        assert_eq!(g(netlink, Value::Bool(false)).0, Level::Info);
        let logind = find("collector.logind").unwrap();
        assert!(
            g(logind, Value::Bool(true))
                .1
                .contains("no logind collector"),
            "{:?}",
            g(logind, Value::Bool(true))
        );
        let old = find("collector.diskstats.ignored-devices").unwrap();
        assert_eq!(old.alias_of(), Some("collector.diskstats.device-exclude"));
        assert!(find("collector.nosuch").is_none());
        assert!(find("collector.cpu").is_none(), "a collector proctap has");
    }

    #[test]
    fn a_value_flag_given_twice_keeps_both() {
        let tp = find("collector.perf.tracepoint").unwrap();
        let mut given = Vec::new();
        Given::record(&mut given, tp, Value::Str("a:b".into()));
        Given::record(&mut given, tp, Value::Str("c:d".into()));
        let drbd = find("collector.drbd").unwrap();
        Given::record(&mut given, drbd, Value::Bool(true));
        Given::record(&mut given, drbd, Value::Bool(false));
        assert_eq!(
            given,
            [
                Given {
                    found: tp,
                    value: Value::List(vec!["a:b".into(), "c:d".into()])
                },
                Given {
                    found: drbd,
                    value: Value::Bool(false)
                },
            ]
        );
    }

    /// README.md's "Migrating from node_exporter" lists what is accepted and ignored; it must
    /// be what the table says. `PROCTAP_UPDATE_README=1` rewrites the block. README describes
    /// the default build.
    #[test]
    #[cfg(feature = "server")]
    fn readme_lists_the_table() {
        const START: &str = "<!-- compat:begin -->\n";
        const END: &str = "<!-- compat:end -->";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let (Some(a), Some(b)) = (readme.find(START), readme.find(END)) else {
            panic!("README.md lacks the {START:?} … {END:?} block");
        };
        let want = readme_block();
        let have = &readme[a + START.len()..b];
        if have != want && std::env::var_os("PROCTAP_UPDATE_README").is_some() {
            let new = format!("{}{START}{want}{}", &readme[..a], &readme[b..]);
            std::fs::write(path, new).unwrap();
            return;
        }
        assert_eq!(
            have, want,
            "README.md's compat block is stale: PROCTAP_UPDATE_README=1 cargo test --bin proctap compat::"
        );
    }
}
