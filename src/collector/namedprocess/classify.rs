//! Classification of processes into `group`/`subgroup` (postgres → db/postgres) from a built-in
//! table of well-known programs, extended or overridden by the `--proc-rules` file.
//!
//! A rule matches on any of: the process's comm (exact, after Linux's truncation to 15 bytes),
//! the basename of argv[0] (exact), and a regex on the command line (unanchored). Every part a
//! rule names must match. When several rules match, the most specific wins:
//! 1. a rule with a cmdline pattern beats one without (`java` running Kafka is messaging/kafka,
//!    plain `java` is language-runtime/java);
//! 2. then the rule naming more of comm and argv0;
//! 3. then a rules-file rule beats a built-in one;
//! 4. then the earlier rule (table order, file line).
//!
//! A rules-file rule with the same comm, argv0 and pattern as a built-in one replaces it.
//! A process no rule matches is `other/<comm>`.
//!
//! The rules file uses the config file's syntax (a TOML subset), one rule per line:
//! ```toml
//! # comm (a bare key, or quoted when it holds other characters)
//! myapp-api = "myapp/api"
//! "my worker" = "myapp/worker"
//! # selectors: comm:NAME, argv0:NAME, cmdline:REGEX, joined by single spaces; cmdline: last
//! 'cmdline:kafka\.Kafka' = "messaging/kafka"
//! 'comm:java cmdline:-jar /opt/billing\.jar' = "myapp/billing"
//! 'comm:containerd-shim argv0:containerd-shim-runc-v2' = "container/runc-shim"
//! ```
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use regex_lite::Regex;

use crate::config::{self, ConfigError, Value};

/// The groups of the built-in table, as literals for `concat!`.
#[rustfmt::skip]
macro_rules! group {
    (DB) => { "db" };
    (WEB) => { "web" };
    (CONTAINER) => { "container" };
    (MONITORING) => { "monitoring" };
    (MESSAGING) => { "messaging" };
    (LOGGING) => { "logging" };
    (BACKUP) => { "backup" };
    (SYSTEM) => { "system" };
    (SECURITY) => { "security" };
    (NETWORK) => { "network" };
    (RUNTIME) => { "language-runtime" };
}

/// The groups of the built-in table (the tests check every rule uses one). A rules file may add
/// others.
#[cfg(test)]
#[rustfmt::skip]
pub const GROUPS: &[&str] = &[
    group!(DB), group!(WEB), group!(CONTAINER), group!(MONITORING), group!(MESSAGING),
    group!(LOGGING), group!(BACKUP), group!(SYSTEM), group!(SECURITY), group!(NETWORK),
    group!(RUNTIME),
];

/// The group of a process no rule matches; its subgroup is the comm.
pub const OTHER: &str = "other";

/// Linux keeps at most 15 bytes of a program name in comm (TASK_COMM_LEN 16 with the NUL).
pub const COMM_LEN: usize = 15;

/// One row of the built-in table. `comm` is stored as Linux shows it: names longer than 15
/// bytes are written truncated, with the full name in a comment.
struct Builtin {
    comm: Option<&'static str>,
    argv0: Option<&'static str>,
    cmdline: Option<&'static str>,
    group: &'static str,
    subgroup: &'static str,
}

// The built-in table is one string, a row per line and its five fields (comm, argv0, cmdline,
// group, subgroup; empty for none) between tabs, read into rules once at start-up: as an array
// of `Builtin`s (five `&str`s, 80 bytes a row) its 309 rows took 24,720 bytes of relocated
// data (DESIGN.md: "Size").

/// A row with a comm only.
macro_rules! c {
    ($comm:literal, $group:ident, $subgroup:literal) => {
        concat!($comm, "\t\t\t", group!($group), "\t", $subgroup, "\n")
    };
}

/// comm plus a cmdline pattern, for programs run by an interpreter (`java`, `beam.smp`).
macro_rules! re {
    ($comm:literal, $cmdline:literal, $group:ident, $subgroup:literal) => {
        concat!(
            $comm,
            "\t\t",
            $cmdline,
            "\t",
            group!($group),
            "\t",
            $subgroup,
            "\n"
        )
    };
}

/// comm plus argv[0], for programs whose names are equal once truncated to 15 bytes.
macro_rules! a0 {
    ($comm:literal, $argv0:literal, $group:ident, $subgroup:literal) => {
        concat!(
            $comm,
            "\t",
            $argv0,
            "\t\t",
            group!($group),
            "\t",
            $subgroup,
            "\n"
        )
    };
}

/// The rows of the built-in table, in order.
fn builtin() -> impl Iterator<Item = Builtin> {
    fn some(field: &'static str) -> Option<&'static str> {
        (!field.is_empty()).then_some(field)
    }
    BUILTIN.lines().map(|row| {
        let mut f = row.split('\t');
        let mut next = || f.next().unwrap_or("");
        Builtin {
            comm: some(next()),
            argv0: some(next()),
            cmdline: some(next()),
            group: next(),
            subgroup: next(),
        }
    })
}

#[rustfmt::skip]
const BUILTIN: &str = concat!(
    // Databases and their proxies.
    c!("postgres", DB, "postgres"),
    c!("postmaster", DB, "postgres"),
    c!("pgbouncer", DB, "pgbouncer"),
    c!("pgpool", DB, "pgpool"),
    c!("patroni", DB, "patroni"),
    c!("mysqld", DB, "mysql"),
    c!("mariadbd", DB, "mysql"),
    c!("mysqld_safe", DB, "mysql"),
    c!("mysqlrouter", DB, "mysql-router"),
    c!("mongod", DB, "mongodb"),
    c!("mongos", DB, "mongodb"),
    c!("redis-server", DB, "redis"),
    c!("redis-sentinel", DB, "redis"),
    c!("valkey-server", DB, "valkey"),
    c!("keydb-server", DB, "keydb"),
    c!("dragonfly", DB, "dragonfly"),
    c!("memcached", DB, "memcached"),
    c!("clickhouse-serv", DB, "clickhouse"), // clickhouse-server
    c!("clickhouse", DB, "clickhouse"),
    c!("influxd", DB, "influxdb"),
    c!("etcd", DB, "etcd"),
    c!("cockroach", DB, "cockroachdb"),
    c!("scylla", DB, "scylla"),
    c!("tarantool", DB, "tarantool"),
    c!("rethinkdb", DB, "rethinkdb"),
    c!("mysql-proxy", DB, "mysql-proxy"),
    c!("proxysql", DB, "proxysql"),
    re!("java", r"org\.apache\.cassandra", DB, "cassandra"),
    re!("java", r"org\.elasticsearch", DB, "elasticsearch"),
    re!("java", r"org\.opensearch", DB, "opensearch"),
    re!("java", r"org\.neo4j", DB, "neo4j"),
    re!("java", r"org\.apache\.solr|solr\.solr\.home", DB, "solr"),
    re!("java", r"org\.apache\.hadoop\.hbase", DB, "hbase"),
    re!("beam.smp", r"couchdb", DB, "couchdb"),
    // Web servers, proxies and application servers.
    c!("nginx", WEB, "nginx"),
    c!("openresty", WEB, "nginx"),
    c!("apache2", WEB, "apache"),
    c!("httpd", WEB, "apache"),
    c!("lighttpd", WEB, "lighttpd"),
    c!("caddy", WEB, "caddy"),
    c!("haproxy", WEB, "haproxy"),
    c!("traefik", WEB, "traefik"),
    c!("envoy", WEB, "envoy"),
    c!("varnishd", WEB, "varnish"),
    c!("squid", WEB, "squid"),
    c!("uhttpd", WEB, "uhttpd"),
    c!("mini_httpd", WEB, "mini_httpd"),
    c!("thttpd", WEB, "thttpd"),
    c!("h2o", WEB, "h2o"),
    c!("nghttpx", WEB, "nghttpx"),
    c!("gunicorn", WEB, "gunicorn"),
    c!("uwsgi", WEB, "uwsgi"),
    c!("puma", WEB, "puma"),
    re!("java", r"org\.apache\.catalina", WEB, "tomcat"),
    re!("java", r"-Djetty\.home=", WEB, "jetty"),
    re!("python3", r"/gunicorn\b", WEB, "gunicorn"),
    // Containers and orchestration.
    c!("dockerd", CONTAINER, "docker"),
    c!("docker-proxy", CONTAINER, "docker"),
    c!("buildkitd", CONTAINER, "buildkit"),
    c!("containerd", CONTAINER, "containerd"),
    c!("containerd-shim", CONTAINER, "containerd-shim"), // containerd-shim-runc-v2 and kin
    c!("runc", CONTAINER, "runc"),
    c!("crun", CONTAINER, "crun"),
    c!("crio", CONTAINER, "cri-o"),
    c!("conmon", CONTAINER, "podman"),
    c!("podman", CONTAINER, "podman"),
    c!("rootlessport", CONTAINER, "podman"),
    c!("slirp4netns", CONTAINER, "podman"),
    c!("tini", CONTAINER, "init"),
    c!("dumb-init", CONTAINER, "init"),
    c!("catatonit", CONTAINER, "init"),
    c!("kubelet", CONTAINER, "kubernetes"),
    c!("kube-proxy", CONTAINER, "kubernetes"),
    c!("kube-apiserver", CONTAINER, "kubernetes"),
    c!("kube-controller", CONTAINER, "kubernetes"), // kube-controller-manager
    c!("kube-scheduler", CONTAINER, "kubernetes"),
    c!("k3s", CONTAINER, "k3s"),
    c!("k3s-server", CONTAINER, "k3s"),
    c!("k3s-agent", CONTAINER, "k3s"),
    c!("lxc-start", CONTAINER, "lxc"),
    c!("lxd", CONTAINER, "lxd"),
    c!("incusd", CONTAINER, "incus"),
    // Monitoring.
    c!("prometheus", MONITORING, "prometheus"),
    c!("alertmanager", MONITORING, "alertmanager"),
    c!("pushgateway", MONITORING, "pushgateway"),
    c!("node_exporter", MONITORING, "node_exporter"),
    c!("prometheus-node", MONITORING, "node_exporter"), // prometheus-node-exporter (Debian)
    c!("blackbox_export", MONITORING, "blackbox_exporter"), // blackbox_exporter
    c!("process-exporte", MONITORING, "process-exporter"), // process-exporter
    c!("proctap", MONITORING, "proctap"),
    c!("grafana-server", MONITORING, "grafana"),
    c!("grafana", MONITORING, "grafana"),
    c!("grafana-agent", MONITORING, "grafana-agent"),
    c!("alloy", MONITORING, "alloy"),
    c!("otelcol", MONITORING, "otelcol"),
    c!("otelcol-contrib", MONITORING, "otelcol"),
    c!("telegraf", MONITORING, "telegraf"),
    c!("collectd", MONITORING, "collectd"),
    c!("netdata", MONITORING, "netdata"),
    c!("zabbix_agentd", MONITORING, "zabbix"),
    c!("zabbix_agent2", MONITORING, "zabbix"),
    c!("zabbix_server", MONITORING, "zabbix"),
    c!("munin-node", MONITORING, "munin"),
    c!("nagios", MONITORING, "nagios"),
    c!("icinga2", MONITORING, "icinga"),
    c!("nrpe", MONITORING, "nrpe"),
    c!("monit", MONITORING, "monit"),
    c!("snmpd", MONITORING, "snmpd"),
    c!("vmagent", MONITORING, "victoriametrics"),
    c!("victoria-metric", MONITORING, "victoriametrics"), // victoria-metrics
    c!("cadvisor", MONITORING, "cadvisor"),
    c!("metricbeat", MONITORING, "metricbeat"),
    // Messaging and mail.
    re!("java", r"kafka\.Kafka", MESSAGING, "kafka"),
    re!("java", r"org\.apache\.zookeeper", MESSAGING, "zookeeper"),
    re!("java", r"activemq\.jar|org\.apache\.activemq", MESSAGING, "activemq"),
    re!("java", r"org\.apache\.pulsar", MESSAGING, "pulsar"),
    re!("beam.smp", r"rabbit", MESSAGING, "rabbitmq"),
    re!("beam.smp", r"emqx", MESSAGING, "emqx"),
    re!("beam.smp", r"ejabberd", MESSAGING, "ejabberd"),
    c!("mosquitto", MESSAGING, "mosquitto"),
    c!("nats-server", MESSAGING, "nats"),
    c!("redpanda", MESSAGING, "redpanda"),
    c!("nsqd", MESSAGING, "nsq"),
    c!("beanstalkd", MESSAGING, "beanstalkd"),
    c!("celery", MESSAGING, "celery"),
    re!("master", r"postfix", MESSAGING, "postfix"),
    c!("qmgr", MESSAGING, "postfix"),
    c!("pickup", MESSAGING, "postfix"),
    c!("exim4", MESSAGING, "exim"),
    c!("exim", MESSAGING, "exim"),
    c!("dovecot", MESSAGING, "dovecot"),
    c!("opendkim", MESSAGING, "opendkim"),
    // Logging.
    c!("rsyslogd", LOGGING, "rsyslog"),
    c!("syslog-ng", LOGGING, "syslog-ng"),
    c!("syslogd", LOGGING, "syslogd"),
    c!("klogd", LOGGING, "klogd"),
    c!("logd", LOGGING, "logd"),
    c!("systemd-journal", LOGGING, "journald"), // systemd-journald
    a0!("systemd-journal", "systemd-journal-remote", LOGGING, "journal-remote"),
    a0!("systemd-journal", "systemd-journal-upload", LOGGING, "journal-upload"),
    c!("fluent-bit", LOGGING, "fluent-bit"),
    c!("fluentd", LOGGING, "fluentd"),
    re!("ruby", r"fluentd", LOGGING, "fluentd"),
    c!("td-agent", LOGGING, "fluentd"),
    c!("vector", LOGGING, "vector"),
    c!("promtail", LOGGING, "promtail"),
    c!("loki", LOGGING, "loki"),
    c!("filebeat", LOGGING, "filebeat"),
    c!("logrotate", LOGGING, "logrotate"),
    re!("java", r"org\.logstash\.Logstash", LOGGING, "logstash"),
    re!("java", r"graylog\.jar|org\.graylog2", LOGGING, "graylog"),
    // Backup.
    c!("restic", BACKUP, "restic"),
    c!("rest-server", BACKUP, "restic"),
    c!("borg", BACKUP, "borg"),
    c!("borgmatic", BACKUP, "borgmatic"),
    c!("rsync", BACKUP, "rsync"),
    c!("rclone", BACKUP, "rclone"),
    c!("duplicity", BACKUP, "duplicity"),
    c!("kopia", BACKUP, "kopia"),
    c!("rsnapshot", BACKUP, "rsnapshot"),
    c!("bacula-fd", BACKUP, "bacula"),
    c!("bacula-sd", BACKUP, "bacula"),
    c!("bacula-dir", BACKUP, "bacula"),
    c!("bareos-fd", BACKUP, "bareos"),
    c!("zrepl", BACKUP, "zrepl"),
    c!("sanoid", BACKUP, "sanoid"),
    c!("syncoid", BACKUP, "sanoid"),
    c!("velero", BACKUP, "velero"),
    c!("urbackupsrv", BACKUP, "urbackup"),
    // System daemons (OpenWrt's procd, ubusd and rpcd among them).
    c!("systemd", SYSTEM, "systemd"),
    c!("init", SYSTEM, "init"),
    c!("procd", SYSTEM, "procd"),
    c!("ubusd", SYSTEM, "ubus"),
    c!("rpcd", SYSTEM, "rpcd"),
    c!("kthreadd", SYSTEM, "kernel"),
    c!("systemd-logind", SYSTEM, "logind"),
    c!("systemd-udevd", SYSTEM, "udev"),
    c!("udevd", SYSTEM, "udev"),
    c!("systemd-oomd", SYSTEM, "oomd"),
    c!("systemd-timesyn", SYSTEM, "timesyncd"), // systemd-timesyncd
    c!("earlyoom", SYSTEM, "earlyoom"),
    c!("cron", SYSTEM, "cron"),
    c!("crond", SYSTEM, "cron"),
    c!("atd", SYSTEM, "atd"),
    c!("dbus-daemon", SYSTEM, "dbus"),
    c!("dbus-broker", SYSTEM, "dbus"),
    c!("polkitd", SYSTEM, "polkit"),
    c!("udisksd", SYSTEM, "udisks"),
    c!("upowerd", SYSTEM, "upower"),
    c!("irqbalance", SYSTEM, "irqbalance"),
    c!("acpid", SYSTEM, "acpid"),
    c!("thermald", SYSTEM, "thermald"),
    c!("smartd", SYSTEM, "smartd"),
    c!("cupsd", SYSTEM, "cups"),
    c!("agetty", SYSTEM, "getty"),
    c!("getty", SYSTEM, "getty"),
    c!("login", SYSTEM, "login"),
    c!("snapd", SYSTEM, "snapd"),
    c!("packagekitd", SYSTEM, "packagekit"),
    c!("unattended-upgr", SYSTEM, "unattended-upgrades"), // unattended-upgrade(s)
    c!("multipathd", SYSTEM, "multipathd"),
    c!("dmeventd", SYSTEM, "lvm"),
    c!("mdadm", SYSTEM, "mdadm"),
    c!("zed", SYSTEM, "zfs"),
    c!("rngd", SYSTEM, "rngd"),
    c!("haveged", SYSTEM, "haveged"),
    c!("watchdog", SYSTEM, "watchdog"),
    // Security.
    c!("sshd", SECURITY, "ssh"),
    c!("dropbear", SECURITY, "ssh"),
    c!("ssh-agent", SECURITY, "ssh"),
    c!("fail2ban-server", SECURITY, "fail2ban"),
    c!("crowdsec", SECURITY, "crowdsec"),
    c!("crowdsec-firewa", SECURITY, "crowdsec"), // crowdsec-firewall-bouncer
    c!("auditd", SECURITY, "audit"),
    c!("auditbeat", SECURITY, "auditbeat"),
    c!("clamd", SECURITY, "clamav"),
    c!("freshclam", SECURITY, "clamav"),
    c!("wazuh-agentd", SECURITY, "wazuh"),
    c!("falco", SECURITY, "falco"),
    c!("sssd", SECURITY, "sssd"),
    c!("vault", SECURITY, "vault"),
    c!("gpg-agent", SECURITY, "gpg"),
    c!("suricata", SECURITY, "suricata"),
    c!("Suricata-Main", SECURITY, "suricata"),
    c!("snort", SECURITY, "snort"),
    c!("osqueryd", SECURITY, "osquery"),
    c!("teleport", SECURITY, "teleport"),
    c!("slapd", SECURITY, "ldap"),
    c!("krb5kdc", SECURITY, "kerberos"),
    c!("usbguard-daemon", SECURITY, "usbguard"),
    c!("firewalld", SECURITY, "firewalld"),
    re!("java", r"keycloak", SECURITY, "keycloak"),
    // Network daemons (OpenWrt's netifd, odhcpd, hostapd among them).
    c!("dnsmasq", NETWORK, "dnsmasq"),
    c!("hostapd", NETWORK, "hostapd"),
    c!("wpa_supplicant", NETWORK, "wpa_supplicant"),
    c!("netifd", NETWORK, "netifd"),
    c!("odhcpd", NETWORK, "odhcpd"),
    c!("odhcp6c", NETWORK, "dhcp-client"),
    c!("udhcpc", NETWORK, "dhcp-client"),
    c!("dhclient", NETWORK, "dhcp-client"),
    c!("dhcpcd", NETWORK, "dhcp-client"),
    c!("dhcpd", NETWORK, "dhcp-server"),
    c!("kea-dhcp4", NETWORK, "kea"),
    c!("kea-dhcp6", NETWORK, "kea"),
    c!("radvd", NETWORK, "radvd"),
    c!("NetworkManager", NETWORK, "networkmanager"),
    c!("ModemManager", NETWORK, "modemmanager"),
    c!("systemd-network", NETWORK, "networkd"), // systemd-networkd
    a0!("systemd-network", "systemd-networkd-wait-online", NETWORK, "networkd-wait-online"),
    c!("systemd-resolve", NETWORK, "resolved"), // systemd-resolved
    c!("unbound", NETWORK, "unbound"),
    c!("named", NETWORK, "bind"),
    c!("pdns_server", NETWORK, "powerdns"),
    c!("pdns_recursor", NETWORK, "powerdns"),
    c!("coredns", NETWORK, "coredns"),
    c!("knotd", NETWORK, "knot"),
    c!("nsd", NETWORK, "nsd"),
    c!("avahi-daemon", NETWORK, "avahi"),
    c!("chronyd", NETWORK, "chrony"),
    c!("ntpd", NETWORK, "ntp"),
    c!("bird", NETWORK, "bird"),
    c!("zebra", NETWORK, "frr"),
    c!("bgpd", NETWORK, "frr"),
    c!("ospfd", NETWORK, "frr"),
    c!("keepalived", NETWORK, "keepalived"),
    c!("openvpn", NETWORK, "openvpn"),
    c!("charon", NETWORK, "strongswan"),
    c!("tailscaled", NETWORK, "tailscale"),
    c!("zerotier-one", NETWORK, "zerotier"),
    c!("pppd", NETWORK, "ppp"),
    c!("miniupnpd", NETWORK, "miniupnpd"),
    c!("conntrackd", NETWORK, "conntrackd"),
    c!("lldpd", NETWORK, "lldpd"),
    c!("cloudflared", NETWORK, "cloudflared"),
    c!("stunnel4", NETWORK, "stunnel"),
    c!("stunnel", NETWORK, "stunnel"),
    c!("ptp4l", NETWORK, "ptp"),
    c!("flanneld", NETWORK, "flannel"),
    c!("calico-node", NETWORK, "calico"),
    // Language runtimes, when no rule above names the program they run.
    c!("python", RUNTIME, "python"),
    c!("python2", RUNTIME, "python"),
    c!("python2.7", RUNTIME, "python"),
    c!("python3", RUNTIME, "python"),
    c!("python3.9", RUNTIME, "python"),
    c!("python3.10", RUNTIME, "python"),
    c!("python3.11", RUNTIME, "python"),
    c!("python3.12", RUNTIME, "python"),
    c!("python3.13", RUNTIME, "python"),
    c!("node", RUNTIME, "node"),
    c!("nodejs", RUNTIME, "node"),
    c!("bun", RUNTIME, "bun"),
    c!("deno", RUNTIME, "deno"),
    c!("java", RUNTIME, "java"),
    c!("ruby", RUNTIME, "ruby"),
    c!("perl", RUNTIME, "perl"),
    c!("php", RUNTIME, "php"),
    c!("php-fpm", RUNTIME, "php-fpm"),
    c!("php-fpm7.4", RUNTIME, "php-fpm"),
    c!("php-fpm8.1", RUNTIME, "php-fpm"),
    c!("php-fpm8.2", RUNTIME, "php-fpm"),
    c!("php-fpm8.3", RUNTIME, "php-fpm"),
    c!("php-cgi", RUNTIME, "php"),
    c!("beam.smp", RUNTIME, "erlang"),
    c!("epmd", RUNTIME, "erlang"),
    c!("dotnet", RUNTIME, "dotnet"),
    c!("mono", RUNTIME, "mono"),
    c!("lua", RUNTIME, "lua"),
    c!("luajit", RUNTIME, "lua"),
    c!("julia", RUNTIME, "julia"),
);

/// Where a rule comes from, for `proctap subgroups`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    Builtin,
    RulesFile,
}

/// One rule of the rules file, checked and compiled; feed them to [`Classifier::with_rules`].
#[derive(Debug, Clone)]
pub struct UserRule {
    line: usize,
    rule: Rule,
}

#[derive(Debug, Clone)]
struct Rule {
    comm: Option<Box<str>>,
    argv0: Option<Box<str>>,
    /// The pattern as written, and compiled; boxed, as a Regex is ~300 bytes and most rules
    /// have none.
    cmdline: Option<Box<(Box<str>, Regex)>>,
    group: Box<str>,
    subgroup: Box<str>,
    origin: Origin,
    /// Position in the table or line in the file, the last tie-breaker.
    order: usize,
}

impl Rule {
    fn same_selector(&self, other: &Rule) -> bool {
        self.comm == other.comm
            && self.argv0 == other.argv0
            && self.cmdline.as_ref().map(|c| &c.0) == other.cmdline.as_ref().map(|c| &c.0)
    }

    /// Higher is more specific; see the module documentation.
    fn rank(&self) -> (bool, u8, Origin, std::cmp::Reverse<usize>) {
        let names = u8::from(self.comm.is_some()) + u8::from(self.argv0.is_some());
        (
            self.cmdline.is_some(),
            names,
            self.origin,
            std::cmp::Reverse(self.order),
        )
    }

    /// The comm is checked by the index; this checks the rest.
    fn matches_rest(&self, argv0: &str, cmdline: &str) -> bool {
        self.argv0.as_deref().map_or(true, |a| a == argv0)
            && self
                .cmdline
                .as_ref()
                .map_or(true, |c| c.1.is_match(cmdline))
    }

    /// The selector in the rules file's key syntax.
    fn selector(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = &self.comm {
            parts.push(format!("comm:{c}"));
        }
        if let Some(a) = &self.argv0 {
            parts.push(format!("argv0:{a}"));
        }
        if let Some(c) = &self.cmdline {
            parts.push(format!("cmdline:{}", c.0));
        }
        parts.join(" ")
    }
}

/// Maps a process to its `group`/`subgroup`. Built once at start-up; a lookup does not allocate.
#[derive(Debug, Clone)]
pub struct Classifier {
    /// Most specific first.
    rules: Vec<Rule>,
    /// For each comm some rule names: the rules naming it or no comm at all, most specific first.
    by_comm: HashMap<Box<str>, Vec<u32>>,
    /// The rules naming no comm, for every other comm.
    generic: Vec<u32>,
}

impl Classifier {
    /// The built-in table plus the rules file, if one is given.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(rules_file: Option<&Path>) -> Result<Classifier, ConfigError> {
        let user = match rules_file {
            Some(path) => read_rules(path)?,
            None => Vec::new(),
        };
        Classifier::with_rules(user)
    }

    /// The built-in table plus rules already read by [`parse_rules`].
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn with_rules(user: Vec<UserRule>) -> Result<Classifier, ConfigError> {
        let mut rules: Vec<Rule> = Vec::with_capacity(builtin().count() + user.len());
        for (i, b) in builtin().enumerate() {
            let cmdline = match b.cmdline {
                Some(p) => Some(Box::new((
                    p.into(),
                    compile(p).map_err(|msg| builtin_error(i, msg))?,
                ))),
                None => None,
            };
            rules.push(Rule {
                comm: b.comm.map(|c| truncate_comm(c).into()),
                argv0: b.argv0.map(Into::into),
                cmdline,
                group: b.group.into(),
                subgroup: b.subgroup.into(),
                origin: Origin::Builtin,
                order: i,
            });
        }
        for u in user {
            rules.retain(|r| !(r.origin == Origin::Builtin && r.same_selector(&u.rule)));
            rules.push(u.rule);
        }
        rules.sort_by_key(|r| std::cmp::Reverse(r.rank()));

        let mut by_comm: HashMap<Box<str>, Vec<u32>> = HashMap::new();
        let mut generic = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            match &r.comm {
                Some(c) => by_comm.entry(c.clone()).or_default().push(i),
                None => generic.push(i),
            }
        }
        for list in by_comm.values_mut() {
            list.extend_from_slice(&generic);
            list.sort_unstable();
        }
        Ok(Classifier {
            rules,
            by_comm,
            generic,
        })
    }

    /// The `(group, subgroup)` of a process: `comm` as in /proc/<pid>/comm (truncated here if
    /// longer than 15 bytes), `argv0` the first word of its command line (only the basename
    /// counts), `cmdline` its command line with the NULs between arguments turned into
    /// spaces. Unmatched processes are `("other", comm)`.
    pub fn classify<'a>(&'a self, comm: &'a str, argv0: &str, cmdline: &str) -> (&'a str, &'a str) {
        let comm = truncate_comm(comm);
        let argv0 = argv0.rsplit('/').next().unwrap_or(argv0);
        let list = self.by_comm.get(comm).unwrap_or(&self.generic);
        for &i in list {
            if let Some(r) = self.rules.get(i as usize) {
                if r.matches_rest(argv0, cmdline) {
                    return (&r.group, &r.subgroup);
                }
            }
        }
        (OTHER, comm)
    }

    /// The groups of the effective table, sorted.
    pub fn groups(&self) -> Vec<&str> {
        let mut g: Vec<&str> = self.rules.iter().map(|r| &*r.group).collect();
        g.sort_unstable();
        g.dedup();
        g
    }

    /// The effective table for `proctap subgroups [--group G]`: one aligned row per rule,
    /// sorted by group, subgroup and selector.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn print_table(&self, group: Option<&str>) -> String {
        let mut rows: Vec<[String; 4]> = self
            .rules
            .iter()
            .filter(|r| group.map_or(true, |g| *r.group == *g))
            .map(|r| {
                let origin = match r.origin {
                    Origin::Builtin => "builtin",
                    Origin::RulesFile => "rules-file",
                };
                [
                    r.group.to_string(),
                    r.subgroup.to_string(),
                    r.selector(),
                    origin.to_string(),
                ]
            })
            .collect();
        rows.sort();
        let header = ["GROUP", "SUBGROUP", "MATCH", "SOURCE"].map(String::from);
        let mut widths = [0; 4];
        for row in std::iter::once(&header).chain(&rows) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let _ = write!(line, "{cell:<w$}  ");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Reads and checks a rules file; errors name the file and the line.
#[cfg_attr(proctap_size, optimize(size))]
pub fn read_rules(path: &Path) -> Result<Vec<UserRule>, ConfigError> {
    let text = crate::source::read_user_file(path, 1 << 20).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: 0,
        key: None,
        msg: format!("cannot read: {e}"),
    })?;
    parse_rules(path, &text)
}

/// Checks the text of a rules file; `file` only names it in errors.
#[cfg_attr(proctap_size, optimize(size))]
pub fn parse_rules(file: &Path, text: &str) -> Result<Vec<UserRule>, ConfigError> {
    let mut rules: Vec<UserRule> = Vec::new();
    for e in config::parse(file, text)? {
        let err = |msg: String| ConfigError {
            file: file.to_path_buf(),
            line: e.line,
            key: Some(e.key.clone()),
            msg,
        };
        let (comm, argv0, pattern) = parse_selector(&e.key).map_err(err)?;
        let Value::Str(value) = &e.value else {
            return Err(err(format!(
                "expected a string \"group/subgroup\", found {}",
                e.value.kind()
            )));
        };
        let (group, subgroup) = parse_class(value).map_err(err)?;
        let cmdline = match pattern {
            Some(p) => Some(Box::new((p.into(), compile(p).map_err(err)?))),
            None => None,
        };
        let rule = Rule {
            comm: comm.map(|c| truncate_comm(c).into()),
            argv0: argv0.map(Into::into),
            cmdline,
            group: group.into(),
            subgroup: subgroup.into(),
            origin: Origin::RulesFile,
            order: e.line,
        };
        if let Some(first) = rules.iter().find(|u| u.rule.same_selector(&rule)) {
            return Err(err(format!(
                "the same rule as line {} ({})",
                first.line,
                rule.selector()
            )));
        }
        rules.push(UserRule { line: e.line, rule });
    }
    Ok(rules)
}

type Selector<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>);

/// `NAME` (a comm), or `comm:NAME`, `argv0:NAME`, `cmdline:REGEX` joined by single spaces,
/// `cmdline:` last because its pattern runs to the end of the key.
#[cfg_attr(proctap_size, optimize(size))]
fn parse_selector(key: &str) -> Result<Selector<'_>, String> {
    const KINDS: [&str; 3] = ["comm:", "argv0:", "cmdline:"];
    let looks_like_selector = key.split_once(':').is_some_and(|(word, _)| {
        !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if !looks_like_selector {
        return Ok((Some(key), None, None));
    }
    let (mut comm, mut argv0, mut cmdline) = (None, None, None);
    let mut rest = key;
    while !rest.is_empty() {
        let Some(kind) = KINDS.iter().find(|k| rest.starts_with(**k)) else {
            let word = rest.split(':').next().unwrap_or(rest);
            return Err(format!(
                "unknown selector {word:?}: expected a process name, or comm:NAME, argv0:NAME \
                 and cmdline:REGEX joined by spaces (write comm:NAME for a name with ':')"
            ));
        };
        let after = rest.get(kind.len()..).unwrap_or("");
        let (value, next) = if *kind == "cmdline:" {
            (after, "")
        } else {
            let end = KINDS
                .iter()
                .filter_map(|k| after.find(&format!(" {k}")))
                .min()
                .unwrap_or(after.len());
            (
                after.get(..end).unwrap_or(""),
                after.get(end..).unwrap_or("").trim_start_matches(' '),
            )
        };
        if value.is_empty() {
            return Err(format!("expected a value after {kind}"));
        }
        let slot = match *kind {
            "comm:" => &mut comm,
            "argv0:" => &mut argv0,
            _ => &mut cmdline,
        };
        if slot.replace(value).is_some() {
            return Err(format!("{kind} given twice"));
        }
        rest = next;
    }
    Ok((comm, argv0, cmdline))
}

/// `group/subgroup`, both non-empty, of letters, digits and `_ - . + : @`.
#[cfg_attr(proctap_size, optimize(size))]
fn parse_class(value: &str) -> Result<(&str, &str), String> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | ':' | '@')
            })
    };
    match value.split_once('/') {
        Some((g, s)) if ok(g) && ok(s) => Ok((g, s)),
        _ => Err(format!(
            "expected \"group/subgroup\" (each non-empty: letters, digits, '_', '-', '.', '+', \
             ':', '@'), found {value:?}"
        )),
    }
}

#[cfg_attr(proctap_size, optimize(size))]
fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("invalid cmdline pattern {pattern:?}: {e}"))
}

#[cfg_attr(proctap_size, optimize(size))]
fn builtin_error(i: usize, msg: String) -> ConfigError {
    ConfigError {
        file: "<built-in process table>".into(),
        line: i + 1,
        key: None,
        msg,
    }
}

/// The first 15 bytes of a name, as Linux keeps them in comm (cut back to a character boundary).
pub fn truncate_comm(name: &str) -> &str {
    let mut end = name.len().min(COMM_LEN);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.get(..end).unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/etc/proctap/rules.toml";

    fn with(text: &str) -> Classifier {
        let rules = parse_rules(Path::new(FILE), text).unwrap();
        Classifier::with_rules(rules).unwrap()
    }

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    fn table_rows(table: &str) -> Vec<Vec<String>> {
        table.lines().map(words).collect()
    }

    fn rules_err(text: &str) -> String {
        parse_rules(Path::new(FILE), text).unwrap_err().to_string()
    }

    #[test]
    fn table_size_groups_and_comms() {
        assert!(builtin().count() >= 120, "{} rules", builtin().count());
        for b in builtin() {
            assert!(GROUPS.contains(&b.group), "{} in {}", b.subgroup, b.group);
            assert!(parse_class(&format!("{}/{}", b.group, b.subgroup)).is_ok());
            if let Some(c) = b.comm {
                assert!(c.len() <= COMM_LEN, "{c:?} is longer than Linux keeps");
                assert!(!c.is_empty() && !c.contains('/'), "{c:?}");
            }
        }
        for g in GROUPS {
            assert!(builtin().any(|b| b.group == *g), "group {g} is empty");
        }
    }

    #[test]
    fn table_rows_have_five_fields() {
        assert!(BUILTIN.ends_with('\n'));
        for row in BUILTIN.lines() {
            assert_eq!(row.split('\t').count(), 5, "{row:?}");
        }
        let first = builtin().next().unwrap();
        assert_eq!(
            (
                first.comm,
                first.argv0,
                first.cmdline,
                first.group,
                first.subgroup
            ),
            (Some("postgres"), None, None, "db", "postgres")
        );
        let kafka = builtin()
            .find(|b| b.cmdline == Some(r"kafka\.Kafka"))
            .unwrap();
        assert_eq!(
            (kafka.comm, kafka.argv0, kafka.group, kafka.subgroup),
            (Some("java"), None, "messaging", "kafka")
        );
        assert!(builtin().any(|b| b.argv0.is_some() && b.cmdline.is_none()));
    }

    #[test]
    fn table_has_no_duplicate_selectors() {
        let mut seen = std::collections::HashSet::new();
        for b in builtin() {
            assert!(
                seen.insert((b.comm, b.argv0, b.cmdline)),
                "duplicate {:?} {:?} {:?}",
                b.comm,
                b.argv0,
                b.cmdline
            );
        }
    }

    #[test]
    fn builtin_classes() {
        let c = Classifier::new(None).unwrap();
        let cases = [
            ("postgres", "postgres:", "postgres: checkpointer ", ("db", "postgres")),
            ("mysqld", "/usr/sbin/mysqld", "/usr/sbin/mysqld", ("db", "mysql")),
            ("mariadbd", "mariadbd", "mariadbd", ("db", "mysql")),
            ("redis-server", "redis-server", "redis-server 127.0.0.1:6379", ("db", "redis")),
            ("nginx", "nginx:", "nginx: worker process", ("web", "nginx")),
            ("dockerd", "dockerd", "/usr/bin/dockerd -H fd://", ("container", "docker")),
            ("procd", "/sbin/procd", "/sbin/procd", ("system", "procd")),
            ("dropbear", "dropbear", "/usr/sbin/dropbear -F -P /var/run/dropbear.1.pid", ("security", "ssh")),
            ("odhcpd", "odhcpd", "/usr/sbin/odhcpd", ("network", "odhcpd")),
            ("python3", "python3", "python3 /usr/local/bin/tool.py", ("language-runtime", "python")),
            ("beam.smp", "beam.smp", "/usr/lib/erlang/erts-13.1.5/bin/beam.smp -W w -- -root /usr/lib/erlang -boot start_sasl -s rabbit boot", ("messaging", "rabbitmq")),
            ("beam.smp", "beam.smp", "/usr/lib/erlang/erts-13.1.5/bin/beam.smp -- -root /usr/lib/erlang", ("language-runtime", "erlang")),
            ("java", "java", "/usr/bin/java -Dzookeeper.log.dir=/var/log org.apache.zookeeper.server.quorum.QuorumPeerMain /etc/zookeeper/zoo.cfg", ("messaging", "zookeeper")),
            ("java", "java", "/usr/share/elasticsearch/jdk/bin/java -Xms1g org.elasticsearch.bootstrap.Elasticsearch", ("db", "elasticsearch")),
        ];
        for (comm, argv0, cmdline, want) in cases {
            assert_eq!(c.classify(comm, argv0, cmdline), want, "{comm} {cmdline}");
        }
    }

    #[test]
    fn kafka_versus_plain_java() {
        let c = Classifier::new(None).unwrap();
        let kafka = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java -Xmx1G -Xms1G -server \
                     -cp /opt/kafka/libs/* kafka.Kafka /opt/kafka/config/server.properties";
        assert_eq!(c.classify("java", "java", kafka), ("messaging", "kafka"));
        // Kafka's start script spells out its classpath, jetty and zookeeper jars included.
        let kafka_cp = "java -Xmx1G -cp /opt/kafka/bin/../libs/jetty-server-9.4.51.jar:\
                        /opt/kafka/bin/../libs/zookeeper-3.6.4.jar:/opt/kafka/bin/../libs/\
                        kafka_2.13-3.5.1.jar kafka.Kafka config/kraft/server.properties";
        assert_eq!(c.classify("java", "java", kafka_cp), ("messaging", "kafka"));
        assert_eq!(
            c.classify("java", "java", "java -jar /opt/app/app.jar"),
            ("language-runtime", "java")
        );
        // The pattern only applies to its comm: a shell script mentioning kafka.Kafka is not Kafka.
        assert_eq!(c.classify("bash", "bash", kafka), ("other", "bash"));
    }

    #[test]
    fn long_comm_is_truncated() {
        let c = Classifier::new(None).unwrap();
        // Linux shows systemd-journald as systemd-journal (15 bytes).
        let journald = ("logging", "journald");
        assert_eq!(
            c.classify("systemd-journal", "/usr/lib/systemd/systemd-journald", ""),
            journald
        );
        assert_eq!(
            c.classify("systemd-journald", "systemd-journald", ""),
            journald
        );
        // The same truncated comm with another argv0 is another program.
        assert_eq!(
            c.classify("systemd-journal", "/lib/systemd/systemd-journal-remote", ""),
            ("logging", "journal-remote")
        );
        assert_eq!(
            c.classify("containerd-shim", "/usr/bin/containerd-shim-runc-v2", ""),
            ("container", "containerd-shim")
        );
        // An unmatched long name comes back as its comm would be.
        assert_eq!(
            c.classify("my-very-long-daemon-name", "x", ""),
            ("other", "my-very-long-da")
        );
        assert_eq!(
            truncate_comm("ééééééééé"),
            "ééééééé",
            "cut at a char boundary"
        );
        // A rules-file comm is truncated the same way.
        let c = with("my-application-server = \"myapp/server\"\n");
        assert_eq!(c.classify("my-application-", "", ""), ("myapp", "server"));
    }

    #[test]
    fn user_rule_overrides_builtin() {
        let c = with("nginx = \"frontend/nginx\"\n");
        assert_eq!(c.classify("nginx", "nginx", ""), ("frontend", "nginx"));
        let rows = table_rows(&c.print_table(None));
        assert!(rows.contains(&words("frontend nginx comm:nginx rules-file")));
        assert!(!rows.contains(&words("web nginx comm:nginx builtin")));
        // A comm-only user rule for java leaves the more specific Kafka rule in place.
        let c = with("java = \"apps/java\"\n");
        assert_eq!(
            c.classify("java", "java", "java -jar x.jar"),
            ("apps", "java")
        );
        assert_eq!(
            c.classify("java", "java", "java kafka.Kafka"),
            ("messaging", "kafka")
        );
        // The same selector written another way replaces the built-in Kafka rule.
        let c = with("'comm:java cmdline:kafka\\.Kafka' = \"queue/kafka\"\n");
        assert_eq!(
            c.classify("java", "java", "java kafka.Kafka"),
            ("queue", "kafka")
        );
    }

    #[test]
    fn new_user_rules() {
        let text = r#"
# our own services
myapp-api = "myapp/api"
"my worker" = "myapp/worker"
'cmdline:-jar /opt/billing\.jar' = "myapp/billing"
'comm:python3 cmdline:manage\.py runserver' = "myapp/django"
'argv0:gitlab-runner' = "ci/runner"
"#;
        let c = with(text);
        assert_eq!(c.classify("myapp-api", "myapp-api", ""), ("myapp", "api"));
        assert_eq!(c.classify("my worker", "", ""), ("myapp", "worker"));
        assert_eq!(
            c.classify("java", "java", "java -Xmx2g -jar /opt/billing.jar"),
            ("myapp", "billing")
        );
        // A pattern without a comm applies to every comm, built-in ones included.
        assert_eq!(
            c.classify("unknownd", "x", "x -jar /opt/billing.jar"),
            ("myapp", "billing")
        );
        assert_eq!(
            c.classify("python3", "python3", "python3 manage.py runserver 0:8000"),
            ("myapp", "django")
        );
        assert_eq!(
            c.classify("python3", "python3", "python3 other.py"),
            ("language-runtime", "python")
        );
        assert_eq!(
            c.classify("gitlab-runner", "/usr/bin/gitlab-runner", ""),
            ("ci", "runner")
        );
        // Everything else is untouched.
        assert_eq!(c.classify("nginx", "nginx", ""), ("web", "nginx"));
        assert_eq!(c.classify("bash", "bash", ""), ("other", "bash"));
    }

    #[test]
    fn rules_file_errors_name_file_and_line() {
        assert_eq!(
            rules_err("ok = \"a/b\"\nthis is not a rule\n"),
            "/etc/proctap/rules.toml:2: expected `key = value`, found \"this is not a rule\""
        );
        assert_eq!(
            rules_err("\n'cmd:kafka' = \"messaging/kafka\"\n"),
            "/etc/proctap/rules.toml:2: key cmd:kafka: unknown selector \"cmd\": expected a \
             process name, or comm:NAME, argv0:NAME and cmdline:REGEX joined by spaces \
             (write comm:NAME for a name with ':')"
        );
        assert_eq!(
            rules_err("x = 3\n"),
            "/etc/proctap/rules.toml:1: key x: expected a string \"group/subgroup\", found an integer"
        );
        for bad in ["myapp", "myapp/", "/api", "my app/api", "a/b/c", ""] {
            let e = rules_err(&format!("# c\nx = \"{bad}\"\n"));
            assert_eq!(
                e,
                format!(
                    "/etc/proctap/rules.toml:2: key x: expected \"group/subgroup\" (each \
                     non-empty: letters, digits, '_', '-', '.', '+', ':', '@'), found {bad:?}"
                )
            );
        }
        let e = rules_err("a = \"x/y\"\nb = \"x/y\"\n'cmdline:kafka(' = \"m/k\"\n");
        assert!(
            e.starts_with(
                "/etc/proctap/rules.toml:3: key cmdline:kafka(: invalid cmdline pattern \"kafka(\": "
            ),
            "{e}"
        );
        assert_eq!(
            rules_err("'comm:' = \"a/b\"\n"),
            "/etc/proctap/rules.toml:1: key comm:: expected a value after comm:"
        );
        assert_eq!(
            rules_err("'comm:a comm:b' = \"a/b\"\n"),
            "/etc/proctap/rules.toml:1: key comm:a comm:b: comm: given twice"
        );
        assert_eq!(
            rules_err("java = \"a/b\"\n'comm:java' = \"a/c\"\n"),
            "/etc/proctap/rules.toml:2: key comm:java: the same rule as line 1 (comm:java)"
        );
        let e = read_rules(Path::new("/nonexistent/rules.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/rules.toml: cannot read: "),
            "{e}"
        );
    }

    #[test]
    fn selector_syntax() {
        assert_eq!(parse_selector("nginx"), Ok((Some("nginx"), None, None)));
        assert_eq!(
            parse_selector("kworker/0:1"),
            Ok((Some("kworker/0:1"), None, None))
        );
        assert_eq!(parse_selector("comm:a:b"), Ok((Some("a:b"), None, None)));
        assert_eq!(
            parse_selector("comm:my app argv0:x cmdline:a b"),
            Ok((Some("my app"), Some("x"), Some("a b")))
        );
        assert_eq!(
            parse_selector("cmdline:comm:x"),
            Ok((None, None, Some("comm:x"))),
            "a pattern runs to the end of the key"
        );
    }

    #[test]
    fn print_table_all_and_one_group() {
        let c = with("'cmdline:billing\\.jar' = \"myapp/billing\"\n");
        let all = c.print_table(None);
        let lines: Vec<&str> = all.lines().collect();
        assert_eq!(lines.len(), 1 + builtin().count() + 1);
        assert!(lines[0].starts_with("GROUP"), "{all}");
        let mut sorted = lines[1..].to_vec();
        sorted.sort();
        assert_eq!(sorted, lines[1..], "rows sorted by group, subgroup, match");
        assert!(table_rows(&all).contains(&words("myapp billing cmdline:billing\\.jar rules-file")));
        let backup = c.print_table(Some("backup"));
        let expected_head = "\
GROUP   SUBGROUP   MATCH             SOURCE
backup  bacula     comm:bacula-dir   builtin
backup  bacula     comm:bacula-fd    builtin
";
        assert!(backup.starts_with(expected_head), "{backup}");
        assert_eq!(
            backup.lines().count(),
            1 + builtin().filter(|b| b.group == "backup").count()
        );
        let messaging = c.print_table(Some("messaging"));
        assert!(table_rows(&messaging).contains(&words(
            "messaging kafka comm:java cmdline:kafka\\.Kafka builtin"
        )));
        let mine = c.print_table(Some("myapp"));
        assert_eq!(
            mine,
            "GROUP  SUBGROUP  MATCH                 SOURCE\n\
             myapp  billing   cmdline:billing\\.jar  rules-file\n"
        );
        assert_eq!(c.print_table(Some("nope")).lines().count(), 1);
        assert!(c.groups().contains(&"myapp") && c.groups().contains(&"db"));
    }
}
