//! node_exporter's flags work: every flag Debian's node_exporter 1.5 knows (and those added
//! since) is accepted, one no node_exporter knows exits 2, and the argument lists of real
//! deployments (node_exporter's systemd example, Debian's package, kube-prometheus, the
//! prometheus-community Helm chart) start proctap, which logs what it ignores and serves /metrics.
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const NODE_EXPORTER: &str = "prometheus-node-exporter";

/// A flag of node_exporter's `--help`: its name and, for a value flag, a value it accepts.
#[derive(Debug)]
struct NeFlag {
    name: String,
    value: Option<String>,
}

/// The flags of `prometheus-node-exporter --help`, with the default it shows as the value (or a
/// pattern when it shows a placeholder).
fn node_exporter_help_flags() -> Vec<NeFlag> {
    common::require(NODE_EXPORTER);
    let out = Command::new(NODE_EXPORTER).arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap() + &String::from_utf8_lossy(&out.stderr);
    let mut flags = Vec::new();
    for line in text.lines() {
        let Some(rest) = line
            .trim_start()
            .strip_prefix("-h, ")
            .or(Some(line.trim_start()))
        else {
            continue;
        };
        let Some(spec) = rest.strip_prefix("--") else {
            continue;
        };
        let spec = spec.split_whitespace().next().unwrap_or("");
        let (name, value) = match spec.split_once('=') {
            Some((name, shown)) => {
                let value = match shown.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                    // kingpin shows the default Go-quoted: "^(ram|loop)\\d+$".
                    Some(quoted) => quoted.replace("\\\\", "\\"),
                    // A placeholder (COLLECTOR.ARP.DEVICE-INCLUDE): any pattern will do.
                    None if shown.starts_with(|c: char| c.is_ascii_uppercase())
                        && shown
                            .chars()
                            .all(|c| c.is_ascii_uppercase() || "._-".contains(c)) =>
                    {
                        "^x$".into()
                    }
                    None => shown.to_string(),
                };
                (name, Some(value))
            }
            None => (spec, None),
        };
        // kingpin's --help-long and --help-man are commands: kingpins_help_and_completion_flags.
        if !matches!(name, "help" | "help-long" | "help-man" | "version") {
            flags.push(NeFlag {
                name: name.to_string(),
                value,
            });
        }
    }
    flags
}

/// `proctap config ARGS`: exit status, stdout, stderr.
fn config(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(common::bin())
        .arg("config")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Each flag in every form node_exporter takes it is accepted, and a value flag's value is in
/// the printed configuration under its name (or under proctap's name for it).
fn assert_accepted(name: &str, value: Option<&str>) {
    let forms: Vec<Vec<String>> = match value {
        Some(v) => vec![
            vec![format!("--{name}={v}")],
            vec![format!("--{name}"), v.to_string()],
        ],
        None => vec![vec![format!("--{name}")], vec![format!("--no-{name}")]],
    };
    for args in forms {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = config(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
        if let Some(v) = value {
            let key = OLD_NAMES
                .iter()
                .find(|(old, _)| *old == name)
                .map_or(name, |(_, new)| new);
            let line = out.lines().find(|l| l.starts_with(&format!("{key} = ")));
            assert!(
                line.is_some_and(|l| l.contains(v)),
                "{args:?}: {line:?} in {out}"
            );
        }
    }
}

/// node_exporter's names that are another name of a proctap flag, which `proctap config` prints.
const OLD_NAMES: &[(&str, &str)] = &[
    ("web.listen-address", "listen"),
    (
        "collector.diskstats.ignored-devices",
        "collector.diskstats.device-exclude",
    ),
    (
        "collector.filesystem.ignored-fs-types",
        "collector.filesystem.fs-types-exclude",
    ),
    (
        "collector.filesystem.ignored-mount-points",
        "collector.filesystem.mount-points-exclude",
    ),
    (
        "collector.netdev.device-blacklist",
        "collector.netdev.device-exclude",
    ),
    (
        "collector.netdev.device-whitelist",
        "collector.netdev.device-include",
    ),
];

#[test]
fn every_flag_of_node_exporter_1_5_is_accepted() {
    let flags = node_exporter_help_flags();
    assert!(flags.len() > 120, "{flags:?}");
    let shown = |name: &str| {
        flags
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.clone())
    };
    assert_eq!(shown("collector.zfs"), Some(None));
    assert_eq!(
        shown("collector.ntp.server"),
        Some(Some("127.0.0.1".into()))
    );
    assert_eq!(shown("web.listen-address"), Some(Some(":9100".into())));
    assert_eq!(
        shown("collector.diskstats.device-exclude"),
        Some(Some(
            "^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$".into()
        ))
    );
    for f in &flags {
        assert_accepted(&f.name, f.value.as_deref());
    }
}

/// Flags node_exporter 1.5 takes that its --help does not show (deprecated or hidden).
const HIDDEN_IN_1_5: &[(&str, Option<&str>)] = &[
    ("collector.diskstats.ignored-devices", Some("^loop\\d+$")),
    ("collector.filesystem.ignored-fs-types", Some("^tmpfs$")),
    (
        "collector.filesystem.ignored-mount-points",
        Some("^/run($|/)"),
    ),
    ("collector.filesystem.mount-timeout", Some("5s")),
    ("collector.systemd.private", None),
];

#[test]
fn hidden_flags_of_node_exporter_1_5_are_accepted() {
    common::require(NODE_EXPORTER);
    for (name, value) in HIDDEN_IN_1_5 {
        let arg = match value {
            Some(v) => format!("--{name}={v}"),
            None => format!("--{name}"),
        };
        // They are node_exporter's: it starts far enough to print its version with them.
        let out = Command::new(NODE_EXPORTER)
            .args([&arg, "--version"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{arg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_accepted(name, *value);
    }
}

/// Flags of node_exporter 1.6 to the current release (and its master), and older spellings it
/// still takes, read in node_exporter's collector/*_linux.go and CHANGELOG.md; no oracle here.
const SINCE_1_6: &[(&str, Option<&str>)] = &[
    ("collector.arp.netlink", None),
    ("collector.cpufreq.enable-cpufreq-prefix", None),
    ("collector.filesystem.fs-types-include", Some("^ext4$")),
    ("collector.filesystem.mount-points-include", Some("^/$")),
    ("collector.filesystem.stat-workers", Some("4")),
    ("collector.hwmon.chip-exclude", Some("^acpi")),
    ("collector.hwmon.chip-include", Some("^coretemp")),
    ("collector.hwmon.sensor-exclude", Some("^fan")),
    ("collector.hwmon.sensor-include", Some("^temp")),
    ("collector.interrupts.include-zeros", None),
    ("collector.interrupts.name-exclude", Some("^LOC$")),
    ("collector.interrupts.name-include", Some("^eth")),
    ("collector.netdev.device-blacklist", Some("^lo$")),
    ("collector.netdev.device-whitelist", Some("^eth")),
    ("collector.netdev.label-ifalias", None),
    (
        "collector.pcidevice.idsfile",
        Some("/usr/share/misc/pci.ids"),
    ),
    ("collector.pcidevice.names", None),
    ("collector.perf.cache-profilers", Some("L1-dcache-loads")),
    ("collector.perf.disable-cache-profilers", None),
    ("collector.perf.disable-hardware-profilers", None),
    ("collector.perf.disable-software-profilers", None),
    ("collector.perf.hardware-profilers", Some("CpuCycles")),
    ("collector.perf.software-profilers", Some("PageFaults")),
    ("collector.qdisc.device-exclude", Some("^lo$")),
    ("collector.qdisc.device-include", Some("^eth")),
    ("collector.qdisc.include-child", None),
    ("collector.slabinfo.slabs-exclude", Some("^kmalloc")),
    ("collector.slabinfo.slabs-include", Some(".*")),
    ("collector.systemd.unit-blacklist", Some(".+\\.scope")),
    ("collector.systemd.unit-whitelist", Some(".+")),
    ("collector.systemd.user", None),
    ("collector.bcachefs", None),
    ("collector.cpu_vulnerabilities", None),
    ("collector.dmmultipath", None),
    ("collector.kernel_hung", None),
    ("collector.pcidevice", None),
    ("collector.softirqs", None),
    ("collector.swap", None),
    ("collector.watchdog", None),
    ("collector.xfrm", None),
];

#[test]
fn flags_added_since_1_6_are_accepted() {
    for (name, value) in SINCE_1_6 {
        assert_accepted(name, *value);
    }
}

#[test]
fn a_flag_no_node_exporter_knows_exits_2() {
    common::require(NODE_EXPORTER);
    for args in [
        &["--collector.bogus"][..],
        &["--no-collector.bogus"],
        &["--web.listen-adress=:9100"],
        &["--collector.ntp.servr=x"],
        &["--no-collector.ntp.server"],
        &["--collector.ntp.server"],
        &["--collector.zfs=true"],
        // node_exporter's sysconfig example once said this, from before kingpin; it fails there too.
        &["-collector.textfile.directory", "/tmp"],
    ] {
        let ne = Command::new(NODE_EXPORTER)
            .args(args)
            .arg("--version")
            .output()
            .unwrap();
        assert!(!ne.status.success(), "node_exporter takes {args:?}");
        let (code, _, err) = config(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.starts_with("proctap: ") && err.lines().count() == 1,
            "{err}"
        );
    }
}

#[test]
fn kingpins_help_and_completion_flags() {
    let help = Command::new(common::bin()).arg("--help").output().unwrap();
    for flag in ["--help-long", "--help-man"] {
        let out = Command::new(common::bin()).arg(flag).output().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, help.stdout, "{flag}");
    }
    let out = Command::new(common::bin())
        .arg("--completion-script-bash")
        .output()
        .unwrap();
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    // bash itself takes the script, and completes proctap's flags with it.
    let probe = format!("{script}\ncomplete -p proctap");
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let spec = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success()
            && spec.contains(" --no-collector.cpu ")
            && spec.ends_with(" proctap\n"),
        "{spec}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let zsh = Command::new(common::bin())
        .arg("--completion-script-zsh")
        .output()
        .unwrap();
    assert!(String::from_utf8(zsh.stdout)
        .unwrap()
        .starts_with("#compdef proctap\n"));
}

/// A proctap started with a deployment's arguments, its log up to "listening" and after.
struct Started {
    _child: common::Killed,
    addr: String,
    log: Vec<String>,
}

fn start(args: &[String], envs: &[(&str, String)], prefix: &[String]) -> Started {
    let (program, args): (String, Vec<String>) = match prefix.split_first() {
        Some((p, rest)) => (
            p.clone(),
            rest.iter()
                .cloned()
                .chain([common::bin().to_string()])
                .chain(args.iter().cloned())
                .collect(),
        ),
        None => (common::bin().to_string(), args.to_vec()),
    };
    let mut child = Command::new(program)
        .args(&args)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn proctap");
    let stderr = child.stderr.take().unwrap();
    let child = common::Killed(child);
    let mut log = Vec::new();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = match lines.next() {
            Some(Ok(line)) => line,
            _ => panic!("proctap exited before listening: {log:#?}"),
        };
        log.push(line.clone());
        if line.contains("msg=listening ") {
            if let Some(rest) = line.split(" address=").nth(1) {
                break rest.split_whitespace().next().unwrap_or("").to_string();
            }
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Started {
        _child: child,
        addr,
        log,
    }
}

/// `/host/...` as a DaemonSet mounts the host, pointed at the fixture tree.
fn on_fixtures(arg: &str) -> String {
    let f = common::fixtures();
    arg.replace("/host/root", &f.display().to_string())
        .replace("/host/sys", &f.join("sys").display().to_string())
        .replace("/host/proc", &f.join("proc").display().to_string())
}

/// Starts proctap with a deployment's arguments and checks what it logs about node_exporter
/// flags (`warn`: the warnings, in order; `info`: the flags that get an info line) and which
/// collectors answer /metrics. Returns the collectors of the scrape.
fn deployment(
    published: &[&str],
    listen: &str,
    warn: &[&str],
    info: &[&str],
    off: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> = published.iter().map(|a| on_fixtures(a)).collect();
    let listen = format!("--web.listen-address={listen}");
    match args
        .iter_mut()
        .find(|a| a.starts_with("--web.listen-address"))
    {
        Some(a) => *a = listen,
        None => args.push(listen),
    }
    let s = start(&args, &[], &[]);
    scrape_and_check(&s, warn, info, off)
}

fn scrape_and_check(s: &Started, warn: &[&str], info: &[&str], off: &[&str]) -> Vec<String> {
    let compat = |level: &str| -> Vec<String> {
        s.log
            .iter()
            .filter(|l| l.contains(&format!("level={level} msg=\"--")))
            .map(|l| {
                l.split("msg=\"")
                    .nth(1)
                    .unwrap_or("")
                    .trim_end_matches('"')
                    .to_string()
            })
            .collect()
    };
    assert_eq!(compat("warn"), warn, "{:#?}", s.log);
    let infos = compat("info");
    let named: Vec<&str> = infos
        .iter()
        .map(|l| l.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(named, info, "{infos:#?}");
    let (status, body) = common::get(&s.addr, "/metrics").unwrap();
    assert_eq!(status, 200);
    let collectors: Vec<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("node_scrape_collector_success{collector=\""))
        .filter_map(|l| l.split('"').next())
        .map(str::to_string)
        .collect();
    for c in [
        "cpu",
        "meminfo",
        "filesystem",
        "netdev",
        "diskstats",
        "textfile",
    ] {
        assert!(
            collectors.iter().any(|x| x == c),
            "{c} is off: {collectors:?}"
        );
    }
    for c in off {
        assert!(
            !collectors.iter().any(|x| x == c),
            "{c} is on: {collectors:?}"
        );
    }
    assert!(body.contains("\nnode_cpu_seconds_total{"), "{body}");
    collectors
}

/// node_exporter's examples/systemd/node_exporter.service runs
/// `/usr/sbin/node_exporter --web.systemd-socket $OPTIONS`, with OPTIONS from
/// examples/systemd/sysconfig.node_exporter (split on spaces, as systemd does).
const NODE_EXPORTER_UNIT: &[&str] = &[
    "--web.systemd-socket",
    "--collector.textfile.directory",
    "/var/lib/node_exporter/textfile_collector",
];

/// The unit as systemd runs it: node_exporter.socket (`ListenStream=9100`, here a free loopback
/// port) hands the socket over. systemd-socket-activate execs proctap at the first connection,
/// which proctap then answers.
#[test]
fn node_exporters_systemd_example_with_its_socket() {
    common::require("systemd-socket-activate");
    let addr = common::free_addr();
    let mut child = Command::new("systemd-socket-activate")
        .args(["-l", &addr, common::bin()])
        .args(NODE_EXPORTER_UNIT)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let child = common::Killed(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let first = loop {
        match common::get(&addr, "/metrics") {
            Ok(answer) => break answer,
            Err(e) if std::time::Instant::now() > deadline => panic!("{addr}: {e}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    };
    assert_eq!(first.0, 200);
    // proctap logged all it logs at start before it answered; read it, bounded in time.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(|l| drop(tx.send(l))));
    let mut log = Vec::new();
    while !log.iter().any(|l: &String| l.contains("msg=listening ")) {
        match rx.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(line) => log.push(line),
            Err(e) => panic!("no listening line ({e}): {log:#?}"),
        }
    }
    let s = Started {
        _child: child,
        addr,
        log,
    };
    scrape_and_check(&s, &[], &[], &[]);
}

#[test]
fn debians_default_arguments() {
    // /etc/default/prometheus-node-exporter as Debian ships it; the unit runs
    // `/usr/bin/prometheus-node-exporter $ARGS`.
    const ARGS: &str = "ARGS=\"\"";
    let installed = std::fs::read_to_string("/etc/default/prometheus-node-exporter")
        .expect("make deps installs prometheus-node-exporter");
    assert!(
        installed.lines().any(|l| l == ARGS),
        "Debian's ARGS changed: {installed}"
    );
    // Debian's default listen address is node_exporter's (:9100, every address): a test
    // binds loopback only.
    deployment(&[], "127.0.0.1:0", &[], &[], &[]);
}

/// kube-prometheus, manifests/nodeExporter-daemonset.yaml (node-exporter v1.6.1), the
/// node-exporter container's args; kube-rbac-proxy in front of it listens on the pod's port.
const KUBE_PROMETHEUS: &[&str] = &[
    "--web.listen-address=127.0.0.1:9100",
    "--path.sysfs=/host/sys",
    "--path.rootfs=/host/root",
    "--path.udev.data=/host/root/run/udev/data",
    "--no-collector.wifi",
    "--no-collector.hwmon",
    "--no-collector.btrfs",
    "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run/k3s/containerd/.+|var/lib/docker/.+|var/lib/kubelet/pods/.+)($|/)",
    "--collector.netclass.ignored-devices=^(veth.*|[a-f0-9]{15})$",
    "--collector.netdev.device-exclude=^(veth.*|[a-f0-9]{15})$",
];

#[test]
fn kube_prometheus_daemonset() {
    // Its 127.0.0.1:9100 becomes a free loopback port: 9100 may be taken on a test machine.
    let collectors = deployment(
        KUBE_PROMETHEUS,
        "127.0.0.1:0",
        &[],
        &["--no-collector.wifi"],
        &["hwmon", "btrfs"],
    );
    assert!(collectors.iter().any(|c| c == "netclass"));
}

/// The prometheus-community chart, charts/prometheus-node-exporter/templates/daemonset.yaml
/// with the default values (hostRootFsMount enabled, service.port 9100, no extraArgs); Kubernetes
/// expands $(HOST_IP), here to 127.0.0.1.
fn helm_chart(listen: &str) -> Vec<String> {
    vec![
        "--path.procfs=/host/proc".into(),
        "--path.sysfs=/host/sys".into(),
        "--path.rootfs=/host/root".into(),
        "--path.udev.data=/host/root/run/udev/data".into(),
        format!("--web.listen-address={listen}"),
    ]
}

const HELM_WARNINGS: &[&str] = &[];

#[test]
fn helm_chart_default_arguments_with_its_listen_form() {
    let port = common::free_addr().rsplit(':').next().unwrap().to_string();
    let args: Vec<String> = helm_chart(&format!("[127.0.0.1]:{port}"))
        .iter()
        .map(|a| on_fixtures(a))
        .collect();
    let s = start(&args, &[], &[]);
    scrape_and_check(&s, HELM_WARNINGS, &[], &[]);
}
