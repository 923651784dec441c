//! The files in contrib/ and the packaging, each checked by the tool that consumes it:
//! promtool (alert rules with their unit tests, scrape config), systemd-analyze (unit file),
//! dash and busybox sh (OpenWrt and OpenRC scripts run against stubs), make install and
//! make deb with dpkg. The Grafana dashboard is checked against a real Prometheus in
//! tests/prometheus.rs.
mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("proctap-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}", text(&out));
    out
}

#[test]
fn promtool_checks_the_alert_rules_and_runs_their_unit_tests() {
    let promtool = common::require("promtool");
    let dir = repo().join("contrib/prometheus");
    let out = run(Command::new(&promtool)
        .args(["check", "rules", "alerts.yml"])
        .current_dir(&dir));
    assert!(
        text(&out).contains("SUCCESS: 8 rules found"),
        "{}",
        text(&out)
    );
    let out = run(Command::new(&promtool)
        .args(["test", "rules", "alerts_test.yml"])
        .current_dir(&dir));
    assert!(text(&out).contains("SUCCESS"), "{}", text(&out));

    // Every alert has a unit test that expects it to fire.
    let rules = std::fs::read_to_string(dir.join("alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(dir.join("alerts_test.yml")).unwrap();
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert_eq!(alerts.len(), 8);
    for a in alerts {
        let firing = tests.split("alertname: ").skip(1).any(|rest| {
            rest.starts_with(&format!("{a}\n")) && {
                let case = rest.split("alertname:").next().unwrap_or("");
                case.contains("exp_labels")
            }
        });
        assert!(firing, "alert {a} has no unit test in which it fires");
    }
}

#[test]
fn promtool_checks_the_scrape_config_and_its_target_files() {
    let promtool = common::require("promtool");
    let out = run(Command::new(promtool)
        .args(["check", "config", "scrape.yml"])
        .current_dir(repo().join("contrib/prometheus")));
    let report = text(&out);
    assert!(report.contains("SUCCESS: scrape.yml is valid"), "{report}");
    assert!(report.contains("SUCCESS: 8 rules found"), "{report}");
}

/// The unit as `make install` writes it, with ExecStart pointing at `bin`, and optionally the
/// capability drop-in, in `dir`.
fn write_unit(dir: &Path, bin: &Path, dropin: bool) -> PathBuf {
    let unit = std::fs::read_to_string(repo().join("contrib/systemd/proctap.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/proctap --config /etc/proctap.conf\n"));
    let path = dir.join("proctap.service");
    let unit = unit.replace("/usr/local/bin/proctap", &bin.display().to_string());
    std::fs::write(&path, unit).unwrap();
    let d = dir.join("proctap.service.d");
    let _ = std::fs::remove_dir_all(&d);
    if dropin {
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(
            repo().join("contrib/systemd/proctap-process-details.conf"),
            d.join("proctap-process-details.conf"),
        )
        .unwrap();
    }
    path
}

/// `systemd-analyze verify` prints nothing for the unit and the drop-in; `systemd-analyze
/// security --offline` scores the unit (no running systemd needed). It prints warnings with
/// exit status 0, so the output must be empty.
fn verify_unit(unit: &Path) {
    verify_units(&[unit]);
}

fn verify_units(units: &[&Path]) {
    let sa = common::require("systemd-analyze");
    let out = run(Command::new(&sa)
        .args(["verify", "--man=false"])
        .args(units));
    assert_eq!(text(&out), "", "systemd-analyze verify {units:?}");
}

/// The "Overall exposure level" of `systemd-analyze security --offline=true`, and the lines
/// about CAP_SYS_PTRACE.
fn security(unit: &Path) -> (f64, String) {
    let sa = common::require("systemd-analyze");
    let out = run(Command::new(sa)
        .args(["security", "--offline=true", "--man=false", "--no-pager"])
        .arg(unit));
    let report = text(&out);
    let score = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for proctap.service: ")
                .nth(1)
        })
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    let ptrace = report
        .lines()
        .filter(|l| l.contains("CapabilityBoundingSet=~CAP_SYS_PTRACE"))
        .collect::<Vec<_>>()
        .join("\n");
    (score, ptrace)
}

#[test]
fn systemd_unit_verifies_and_is_hardened() {
    let tmp = TempDir::new("systemd");
    let bin = Path::new(common::bin());
    let unit = write_unit(&tmp.0, bin, false);
    verify_unit(&unit);
    let (plain, ptrace) = security(&unit);
    assert!(ptrace.starts_with('✓'), "{ptrace}");

    let unit = write_unit(&tmp.0, bin, true);
    verify_unit(&unit);
    let (with_caps, ptrace) = security(&unit);
    // The drop-in is read: the capability shows up, and costs exposure.
    assert!(ptrace.starts_with('✗'), "{ptrace}");
    println!("systemd-analyze security: {plain} without the drop-in, {with_caps} with it");
    // 1.8 with ProtectClock=yes, which would fail the timex collector (see the unit).
    assert!(plain <= 2.2, "exposure {plain}");
    assert!(
        with_caps <= 2.7 && with_caps > plain,
        "exposure {with_caps}"
    );

    // A key systemd does not know is reported, so the empty output above means something.
    let unit_text = std::fs::read_to_string(&unit).unwrap();
    std::fs::write(
        &unit,
        unit_text.replace("[Service]\n", "[Service]\nProtectSytem=strict\n"),
    )
    .unwrap();
    let sa = common::require("systemd-analyze");
    let out = Command::new(sa)
        .args(["verify", "--man=false"])
        .arg(&unit)
        .output()
        .unwrap();
    assert!(text(&out).contains("Unknown key"), "{}", text(&out));
}

/// proctap.socket and the drop-in that makes proctap.service serve on it verify with the
/// service; the drop-in starts proctap as the unit does, plus --web.systemd-socket; the socket
/// listens where proctap's default does (port 9100, IPv6 and IPv4).
#[test]
fn systemd_socket_unit_and_its_drop_in_verify() {
    let tmp = TempDir::new("systemd-socket");
    let bin = Path::new(common::bin());
    let unit = write_unit(&tmp.0, bin, false);
    let socket = tmp.0.join("proctap.socket");
    let socket_text =
        std::fs::read_to_string(repo().join("contrib/systemd/proctap.socket")).unwrap();
    assert!(socket_text.contains("\nListenStream=9100\nBindIPv6Only=both\n"));
    std::fs::write(&socket, &socket_text).unwrap();
    let service = std::fs::read_to_string(repo().join("contrib/systemd/proctap.service")).unwrap();
    let dropin =
        std::fs::read_to_string(repo().join("contrib/systemd/proctap-socket.conf")).unwrap();
    let exec = service
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .unwrap();
    assert!(
        dropin.contains(&format!("\nExecStart=\n{exec} --web.systemd-socket\n")),
        "{dropin}"
    );
    let d = tmp.0.join("proctap.service.d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("proctap-socket.conf"),
        dropin.replace("/usr/local/bin/proctap", &bin.display().to_string()),
    )
    .unwrap();
    verify_units(&[&unit, &socket]);
    // Activation adds no exposure to the service.
    let (score, _) = security(&unit);
    assert!(score <= 2.2, "exposure {score}");
    // A key systemd does not know is reported, so the empty output above means something.
    std::fs::write(
        &socket,
        socket_text.replace("ListenStream=", "ListenStrem="),
    )
    .unwrap();
    let out = Command::new(common::require("systemd-analyze"))
        .args(["verify", "--man=false"])
        .arg(&socket)
        .output()
        .unwrap();
    assert!(text(&out).contains("Unknown key"), "{}", text(&out));
}

/// Runs `script` with dash and with busybox sh (OpenWrt's and Alpine's /bin/sh is busybox ash);
/// returns (shell, success, stdout and stderr interleaved) for each.
fn in_shells(script: &str) -> Vec<(String, bool, String)> {
    let mut res = Vec::new();
    for shell in [
        vec![common::require("dash")],
        vec![common::require("busybox"), "sh".into()],
    ] {
        let out = Command::new(&shell[0])
            .args(&shell[1..])
            .args(["-c", &format!("exec 2>&1\n{script}")])
            .output()
            .unwrap();
        res.push((shell.join(" "), out.status.success(), text(&out)));
    }
    res
}

#[test]
fn init_scripts_parse_with_sh_n() {
    for f in [OPENWRT_INIT, "contrib/openrc/proctap"] {
        let path = repo().join(f);
        for shell in [common::require("dash"), common::require("busybox")] {
            let mut cmd = Command::new(&shell);
            if shell.ends_with("busybox") {
                cmd.arg("sh");
            }
            run(cmd.arg("-n").arg(&path));
        }
    }
}

const OPENWRT_INIT: &str = "contrib/openwrt/proctap/files/proctap.init";
const OPENWRT_CONFIG: &str = "contrib/openwrt/proctap/files/proctap.config";

/// OpenWrt's /lib/functions.sh and procd, reduced to what proctap.init calls: config_load
/// reads the UCI file given in $UCI_FILE; procd_* print the instance they would start.
const OPENWRT_STUBS: &str = r#"
config_load() {
	section=
	while read -r kw key value; do
		value=${value#\'}; value=${value%\'}
		case "$kw" in
			config) section=$value ;;
			option) eval "CONFIG_${section}_${key}=\$value" ;;
		esac
	done < "$UCI_FILE"
}
config_get() {
	eval "isset=\${CONFIG_${2}_${3}+x}"
	if [ -n "$isset" ]; then eval "$1=\${CONFIG_${2}_${3}}"; else eval "$1=\${4-}"; fi
}
config_get_bool() {
	config_get _b "$2" "$3" "$4"
	case "$_b" in 1|on|true|yes|enabled) _b=1 ;; *) _b=0 ;; esac
	eval "$1=\$_b"
}
procd_open_instance() { CMD=; PARAMS=; }
procd_set_param() {
	p=$1; shift
	if [ "$p" = command ]; then CMD=; procd_append_param command "$@"; else PARAMS="$PARAMS $p=$*"; fi
}
procd_append_param() { shift; for a in "$@"; do CMD="$CMD[$a]"; done; }
procd_close_instance() { echo "command: $CMD"; echo "params:$PARAMS"; }
procd_add_reload_trigger() { echo "reload trigger: $*"; }
procd_add_interface_trigger() { echo "interface trigger: $*"; }
logger() { echo "logger $*"; }
"#;

/// Sources the init script `init` under the stubs with `uci` as /etc/config/proctap and runs
/// start_service and service_triggers; returns (success, output) for dash and busybox sh. The
/// interfaces: lan (192.168.1.1 and fd00::1), loopback (127.0.0.1 and ::1), v6only (fd00::6
/// only); any other has no address.
fn openwrt_with(init: &Path, uci: &str) -> Vec<(String, bool, String)> {
    let tmp = TempDir::new(&format!("openwrt-{}", uci.len()));
    std::fs::create_dir_all(tmp.0.join("lib/functions")).unwrap();
    std::fs::write(
        tmp.0.join("lib/functions/network.sh"),
        "network_get_ipaddr() { case \"$2\" in lan) eval \"$1=192.168.1.1\" ;; \
         loopback) eval \"$1=127.0.0.1\" ;; *) eval \"$1=\"; return 1 ;; esac; }\n\
         network_get_ipaddr6() { case \"$2\" in lan) eval \"$1=fd00::1\" ;; \
         loopback) eval \"$1=::1\" ;; v6only) eval \"$1=fd00::6\" ;; *) eval \"$1=\"; return 1 ;; esac; }\n",
    )
    .unwrap();
    std::fs::write(tmp.0.join("proctap"), uci).unwrap();
    let script = format!(
        "IPKG_INSTROOT={root:?}; UCI_FILE={root:?}/proctap\n{OPENWRT_STUBS}\n. {init:?}\n\
         start_service; echo \"status: $?\"; service_triggers",
        root = tmp.0.display().to_string(),
        init = init.display().to_string(),
    );
    in_shells(&script)
}

fn openwrt(uci: &str) -> Vec<(String, bool, String)> {
    openwrt_with(&repo().join(OPENWRT_INIT), uci)
}

/// The flags of a `[a][b]` command line, less the program.
fn flags(cmd: &str) -> Vec<String> {
    cmd.trim_start_matches('[')
        .trim_end_matches(']')
        .split("][")
        .skip(1)
        .map(str::to_string)
        .collect()
}

/// proctap accepts the flags: `proctap config FLAGS` parses them like the server does.
fn proctap_accepts(args: &[String]) {
    run(Command::new(common::bin()).arg("config").args(args));
}

/// What the init script starts with the shipped /etc/config/proctap.
const OPENWRT_SHIPPED: &str = "command: [/usr/bin/proctap][--web.listen-address][192.168.1.1:9100]\
                               [--interval][10s][--no-collector.interrupts]\n\
                               params: respawn= stdout=1 stderr=1\n\
                               status: 0\n\
                               reload trigger: proctap\n\
                               interface trigger: interface.*.up lan /etc/init.d/proctap reload\n";

#[test]
fn openwrt_init_starts_proctap_with_the_uci_settings() {
    let shipped = std::fs::read_to_string(repo().join(OPENWRT_CONFIG)).unwrap();
    for (shell, ok, out) in openwrt(&shipped) {
        assert!(ok, "{shell}: {out}");
        assert_eq!(out, OPENWRT_SHIPPED, "{shell}, shipped config");
    }
    proctap_accepts(&flags(OPENWRT_SHIPPED.lines().next().unwrap()));

    // prometheus-node-exporter-lua's options mean what they mean there.
    let lua = |iface: &str, ipv6: &str, port: &str| {
        format!(
            "config proctap 'main'\n\toption listen_interface '{iface}'\n\
             \toption listen_ipv6 '{ipv6}'\n\toption listen_port '{port}'\n"
        )
    };
    for (uci, listen) in [
        (
            lua("*", "0", "9200"),
            "[--web.listen-address][0.0.0.0:9200]",
        ),
        (lua("*", "1", "9200"), "[--web.listen-address][:9200]"),
        (
            lua("lan", "1", "9100"),
            "[--web.listen-address][192.168.1.1:9100][--web.listen-address][[fd00::1]:9100]",
        ),
        (
            lua("loopback", "0", "9100"),
            "[--web.listen-address][127.0.0.1:9100]",
        ),
        (
            lua("v6only", "1", "9100"),
            "[--web.listen-address][[fd00::6]:9100]",
        ),
    ] {
        let cmd = format!("[/usr/bin/proctap]{listen}");
        for (shell, ok, out) in openwrt(&uci) {
            assert!(ok, "{shell}: {out}");
            assert!(
                out.starts_with(&format!("command: {cmd}\n")),
                "{shell}, {uci}: {out}"
            );
        }
        proctap_accepts(&flags(&cmd));
    }

    let custom = "config proctap 'main'\n\
                  \toption listen_interface '*'\n\
                  \toption listen_port '9200'\n\
                  \toption collectors 'cpu,meminfo,hwmon'\n\
                  \toption disable_collectors 'interrupts arp'\n\
                  \toption textfile_directory '/var/prometheus'\n\
                  \toption extra_args '--log-level warn'\n";
    let cmd =
        "[/usr/bin/proctap][--web.listen-address][0.0.0.0:9200][--collectors][cpu,meminfo,hwmon]\
               [--no-collector.interrupts][--no-collector.arp]\
               [--collector.textfile.directory][/var/prometheus][--log-level][warn]";
    for (shell, ok, out) in openwrt(custom) {
        assert!(ok, "{shell}: {out}");
        assert!(
            out.starts_with(&format!("command: {cmd}\n")),
            "{shell}: {out}"
        );
        assert!(!out.contains("interface trigger"), "{shell}: {out}");
    }
    proctap_accepts(&flags(cmd));

    for (shell, ok, out) in openwrt("config proctap 'main'\n\toption enabled '0'\n") {
        assert!(ok && !out.contains("command:"), "{shell}, disabled: {out}");
        assert!(out.contains("status: 0"), "{shell}: {out}");
    }
    // An interface without an address (wan before its DHCP lease; v6only without
    // listen_ipv6): no instance yet, a log line, and the interface trigger starts it later.
    for iface in ["wan", "v6only"] {
        let uci = format!("config proctap 'main'\n\toption listen_interface '{iface}'\n");
        for (shell, ok, out) in openwrt(&uci) {
            assert!(
                ok && !out.contains("command:"),
                "{shell}, no address: {out}"
            );
            assert!(
                out.starts_with(&format!(
                    "logger -t proctap -p daemon.notice interface {iface} has no address yet; \
                     starting when it is up\nstatus: 0\n"
                )),
                "{shell}: {out}"
            );
            assert!(
                out.contains(&format!("interface trigger: interface.*.up {iface} ")),
                "{shell}: {out}"
            );
        }
    }
}

/// Sources /etc/conf.d/proctap (`confd`) and the OpenRC script `init` the way openrc-run does,
/// prints the command line and settings supervise-daemon would get, and runs depend, reload
/// (supervise-daemon a stub) and start_pre. `bin` replaces /usr/bin/proctap for start_pre.
fn openrc_with(init: &Path, confd: &str, bin: &str) -> Vec<(String, bool, String)> {
    let tmp = TempDir::new(&format!("openrc-{}", confd.len()));
    std::fs::write(tmp.0.join("proctap.confd"), confd).unwrap();
    let sd = tmp.0.join("supervise-daemon");
    std::fs::write(
        &sd,
        "#!/bin/sh\nprintf 'supervise-daemon'; printf ' [%s]' \"$@\"; echo\n",
    )
    .unwrap();
    run(Command::new("chmod").arg("755").arg(&sd));
    let script = format!(
        "PATH={dir:?}:$PATH; RC_SVCNAME=proctap\n. {dir:?}/proctap.confd\n. {init:?}\n\
         eval \"set -- $command $command_args\"; printf 'command:'; printf ' [%s]' \"$@\"; echo\n\
         echo \"supervisor: $supervisor user: $command_user\"\n\
         echo \"respawn: delay $respawn_delay max $respawn_max period $respawn_period\"\n\
         echo \"extra: $extra_started_commands\"\n\
         echo \"loggers: $output_logger, $error_logger\"\n\
         need() {{ echo \"need $*\"; }}; after() {{ echo \"after $*\"; }}; use() {{ echo \"use $*\"; }}\n\
         ebegin() {{ echo \"ebegin $*\"; }}; eend() {{ echo \"eend $*\"; }}\n\
         depend; reload\n\
         command={bin:?}; if start_pre; then echo start_pre ok; else echo start_pre failed; fi",
        dir = tmp.0.display().to_string(),
        init = init.display().to_string(),
    );
    in_shells(&script)
}

fn openrc(confd: &str, bin: &str) -> Vec<(String, bool, String)> {
    openrc_with(&repo().join("contrib/openrc/proctap"), confd, bin)
}

#[test]
fn openrc_script_starts_proctap_with_the_conf_d_settings() {
    let conf = repo().join("examples/proctap.conf").display().to_string();
    let shipped = std::fs::read_to_string(repo().join("contrib/openrc/proctap.confd")).unwrap();
    // The shipped conf.d only has comments: the defaults apply.
    for (shell, ok, out) in openrc(&shipped, common::bin()) {
        assert!(ok, "{shell}: {out}");
        let expected = "command: [/usr/bin/proctap] [--config] [/etc/proctap.conf]\n\
                        supervisor: supervise-daemon user: nobody\n\
                        respawn: delay 2 max 5 period 60\n\
                        extra: reload\n\
                        loggers: logger -t proctap -p daemon.info, logger -t proctap -p daemon.info\n\
                        need net\nafter firewall\nuse logger\n\
                        ebegin Reloading proctap configuration\n\
                        supervise-daemon [proctap] [--signal] [HUP]\n\
                        eend 0\n";
        assert!(out.starts_with(expected), "{shell}:\n{out}");
    }

    let confd = format!(
        "proctap_config={conf:?}\nproctap_args=\"--interval 10s --no-collector.arp\"\nproctap_user=root\n"
    );
    for (shell, ok, out) in openrc(&confd, common::bin()) {
        assert!(ok, "{shell}: {out}");
        let cmd = format!(
            "command: [/usr/bin/proctap] [--config] [{conf}] [--interval] [10s] [--no-collector.arp]\n\
             supervisor: supervise-daemon user: root\n"
        );
        assert!(out.starts_with(&cmd), "{shell}:\n{out}");
        assert!(out.ends_with("start_pre ok\n"), "{shell}:\n{out}");
    }
    proctap_accepts(&[
        "--config".into(),
        conf.clone(),
        "--interval".into(),
        "10s".into(),
    ]);

    // start_pre catches a bad flag before the service is backgrounded.
    let confd = format!("proctap_config={conf:?}\nproctap_args=\"--no-such-flag\"\n");
    for (shell, ok, out) in openrc(&confd, common::bin()) {
        assert!(ok, "{shell}: {out}");
        assert!(
            out.contains("--no-such-flag") && out.ends_with("start_pre failed\n"),
            "{shell}:\n{out}"
        );
    }
}

fn musl_binary() -> String {
    let path = common::target_dir().join("x86_64-unknown-linux-musl/release/proctap");
    assert!(
        path.is_file(),
        "{} is missing: run `make static` (make test does)",
        path.display()
    );
    path.display().to_string()
}

/// `make` in the repository with the static binary as it is (`-o`: no nested cargo build).
fn make(args: &[&str]) -> Output {
    let bin = musl_binary();
    run(Command::new("make")
        .args(["--no-print-directory", "-o", &bin])
        .args(args)
        .current_dir(repo()))
}

fn files_under(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out
}

#[test]
#[ignore = "needs the static build: make test runs it"]
fn make_install_installs_a_unit_that_verifies() {
    let tmp = TempDir::new("install");
    let prefix = tmp.0.join("usr").display().to_string();
    let etc = tmp.0.join("etc").display().to_string();
    let bin = musl_binary();
    make(&[
        "install",
        &format!("BIN={bin}"),
        &format!("PREFIX={prefix}"),
        &format!("SYSCONFDIR={etc}"),
    ]);
    let files = files_under(&tmp.0);
    let expected: BTreeSet<String> = [
        "etc/proctap.conf",
        "usr/bin/proctap",
        "usr/lib/systemd/system/proctap.service",
        "usr/lib/systemd/system/proctap.socket",
        "usr/share/doc/proctap/examples/proctap-process-details.conf",
        "usr/share/doc/proctap/examples/proctap-socket.conf",
        "usr/share/doc/proctap/examples/proctap.conf",
        "usr/share/man/man1/proctap.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(files, expected);
    let unit_path = tmp.0.join("usr/lib/systemd/system/proctap.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    assert!(
        unit.contains(&format!(
            "\nExecStart={prefix}/bin/proctap --config {etc}/proctap.conf\n"
        )),
        "{unit}"
    );
    // The unit as installed, pointing at the installed binary, verifies.
    verify_unit(&unit_path);
    // So do the socket unit and the service with the installed socket drop-in.
    let dropin = std::fs::read_to_string(
        tmp.0
            .join("usr/share/doc/proctap/examples/proctap-socket.conf"),
    )
    .unwrap();
    assert!(
        dropin.contains(&format!(
            "\nExecStart={prefix}/bin/proctap --config {etc}/proctap.conf --web.systemd-socket\n"
        )),
        "{dropin}"
    );
    let d = tmp.0.join("usr/lib/systemd/system/proctap.service.d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("proctap-socket.conf"), dropin).unwrap();
    verify_units(&[
        &unit_path,
        &tmp.0.join("usr/lib/systemd/system/proctap.socket"),
    ]);
    std::fs::remove_dir_all(&d).unwrap();
    // The installed binary accepts the installed config.
    run(Command::new(format!("{prefix}/bin/proctap")).args([
        "config",
        "--config",
        &format!("{etc}/proctap.conf"),
    ]));

    // A second install keeps an edited config.
    std::fs::write(
        tmp.0.join("etc/proctap.conf"),
        "listen = \"127.0.0.1:9100\"\n",
    )
    .unwrap();
    let out = make(&[
        "install",
        &format!("BIN={bin}"),
        &format!("PREFIX={prefix}"),
        &format!("SYSCONFDIR={etc}"),
    ]);
    assert!(text(&out).contains("keeping"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(tmp.0.join("etc/proctap.conf")).unwrap(),
        "listen = \"127.0.0.1:9100\"\n"
    );
}

/// Lintian tags `make deb` may raise; each is explained in DESIGN.md ("The Debian package").
const LINTIAN_ACCEPTED: &[&str] = &["shared-library-lacks-prerequisites"];

/// `make deb` with `vars`, the packager's DEBEMAIL and DEBFULLNAME unset; the .deb's path.
fn make_deb(vars: &[&str]) -> PathBuf {
    let bin = musl_binary();
    run(Command::new("make")
        .args(["--no-print-directory", "-o", &bin, "deb"])
        .args(vars)
        .env_remove("DEBEMAIL")
        .env_remove("DEBFULLNAME")
        .current_dir(repo()));
    let version = env!("CARGO_PKG_VERSION");
    common::target_dir().join(format!("deb/proctap_{version}_amd64.deb"))
}

/// lintian's tags for `deb` (errors, warnings and the rest), one `X: proctap: tag ...` each.
fn lintian(deb: &Path) -> Vec<String> {
    let out = Command::new(common::require("lintian"))
        .args(["--pedantic", "--no-tag-display-limit"])
        .arg(deb)
        .output()
        .unwrap();
    // lintian exits 2 when it finds errors (and 1 when it fails); the tags say which.
    assert!(
        out.status.code().is_some_and(|c| c != 1),
        "lintian failed: {}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
#[ignore = "needs the static build: make test runs it"]
fn make_deb_builds_a_package_lintian_accepts_and_dpkg_installs() {
    let dpkg_deb = common::require("dpkg-deb");
    let dpkg = common::require("dpkg");
    let deb = make_deb(&[]);
    let version = env!("CARGO_PKG_VERSION");

    let out = run(Command::new(&dpkg_deb).arg("-c").arg(&deb));
    let listing: BTreeSet<String> = text(&out)
        .lines()
        .filter(|l| l.starts_with('-'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {} {}", f[0], f[1], f[5])
        })
        .collect();
    let expected: BTreeSet<String> = [
        "-rw-r--r-- root/root ./etc/proctap.conf",
        "-rwxr-xr-x root/root ./usr/bin/proctap",
        "-rw-r--r-- root/root ./usr/lib/systemd/system/proctap.service",
        "-rw-r--r-- root/root ./usr/lib/systemd/system/proctap.socket",
        "-rw-r--r-- root/root ./usr/share/doc/proctap/changelog.gz",
        "-rw-r--r-- root/root ./usr/share/doc/proctap/copyright",
        "-rw-r--r-- root/root ./usr/share/doc/proctap/examples/proctap-process-details.conf",
        "-rw-r--r-- root/root ./usr/share/doc/proctap/examples/proctap-socket.conf",
        "-rw-r--r-- root/root ./usr/share/doc/proctap/examples/proctap.conf",
        "-rw-r--r-- root/root ./usr/share/man/man1/proctap.1.gz",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(listing, expected);
    let field = |deb: &Path, f: &str| {
        let out = run(Command::new(&dpkg_deb).arg("-f").arg(deb).arg(f));
        text(&out).trim().to_string()
    };
    assert_eq!(field(&deb, "Package"), "proctap");
    assert_eq!(field(&deb, "Version"), version);
    assert_eq!(field(&deb, "Architecture"), "amd64");
    assert_eq!(
        field(&deb, "Maintainer"),
        "proctap packager <packager@proctap.invalid>"
    );
    assert_eq!(field(&deb, "Homepage"), "");

    // No lintian error, and no warning that DESIGN.md does not explain.
    let tags = lintian(&deb);
    println!("lintian, default fields:\n{}", tags.join("\n"));
    let design = std::fs::read_to_string(repo().join("DESIGN.md")).unwrap();
    for tag in &tags {
        assert!(!tag.starts_with("E: "), "lintian error: {tag}");
        if let Some(rest) = tag.strip_prefix("W: proctap: ") {
            let name = rest.split_whitespace().next().unwrap_or("");
            assert!(LINTIAN_ACCEPTED.contains(&name), "lintian warning: {tag}");
        }
    }
    for name in LINTIAN_ACCEPTED {
        assert!(
            design.contains(&format!("`{name}`")),
            "DESIGN.md does not explain {name}"
        );
    }

    // The copyright file is machine-readable and names the license the LICENSE file has.
    let ctl = TempDir::new("deb-extract");
    run(Command::new(&dpkg_deb).arg("-x").arg(&deb).arg(&ctl.0));
    let copyright = std::fs::read_to_string(ctl.0.join("usr/share/doc/proctap/copyright")).unwrap();
    assert!(copyright.starts_with(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
    ));
    assert!(copyright.contains("\nLicense: Apache-2.0\n"), "{copyright}");
    assert!(
        copyright.contains("/usr/share/common-licenses/Apache-2.0"),
        "{copyright}"
    );
    let license = std::fs::read_to_string(repo().join("LICENSE")).unwrap();
    assert!(
        license.contains("Apache License\n                           Version 2.0, January 2004")
    );
    assert!(license.contains("END OF TERMS AND CONDITIONS"));
    // The changelog's entry is this version's, signed by the maintainer.
    let out = run(Command::new("sh").arg("-c").arg(format!(
        "zcat {}",
        ctl.0.join("usr/share/doc/proctap/changelog.gz").display()
    )));
    let changelog = text(&out);
    assert!(
        changelog.starts_with(&format!("proctap ({version}) unstable; urgency=medium\n")),
        "{changelog}"
    );
    assert!(
        changelog.contains("\n -- proctap packager <packager@proctap.invalid>  "),
        "{changelog}"
    );

    // Install into an empty root: the files land, /etc/proctap.conf is a conffile, the
    // unit is enabled there (deb-systemd-helper honours DPKG_ROOT), the installed binary runs.
    let root = TempDir::new("dpkg-root");
    std::fs::create_dir_all(root.0.join("var/lib/dpkg/info")).unwrap();
    std::fs::create_dir_all(root.0.join("var/lib/dpkg/updates")).unwrap();
    std::fs::write(root.0.join("var/lib/dpkg/status"), "").unwrap();
    let rootarg = format!("--root={}", root.0.display());
    let dpkg_in_root = |args: &[&str]| {
        run(Command::new(&dpkg)
            .args([
                &rootarg,
                "--force-script-chrootless",
                "--force-architecture",
            ])
            .args(args))
    };
    dpkg_in_root(&["-i", &deb.display().to_string()]);
    let status = text(&run(Command::new(&dpkg).args([&rootarg, "-s", "proctap"])));
    assert!(status.contains("Status: install ok installed"), "{status}");
    assert!(
        status.contains("Conffiles:\n /etc/proctap.conf "),
        "{status}"
    );
    let wants = root
        .0
        .join("etc/systemd/system/multi-user.target.wants/proctap.service");
    assert_eq!(
        std::fs::read_link(&wants).ok(),
        Some(PathBuf::from("/usr/lib/systemd/system/proctap.service")),
        "enabled on install"
    );
    let unit =
        std::fs::read_to_string(root.0.join("usr/lib/systemd/system/proctap.service")).unwrap();
    assert!(
        unit.contains("\nExecStart=/usr/bin/proctap --config /etc/proctap.conf\n"),
        "{unit}"
    );
    let out = run(Command::new(root.0.join("usr/bin/proctap")).arg("--version"));
    assert!(text(&out).contains(version), "{}", text(&out));
    let out = run(Command::new(root.0.join("usr/bin/proctap"))
        .args(["config", "--config"])
        .arg(root.0.join("etc/proctap.conf")));
    assert!(text(&out).contains("listen = "), "{}", text(&out));

    // Remove: the binary goes, the conffile and the admin's enable link stay, the unit is
    // masked. Purge: nothing of proctap is left under /etc.
    dpkg_in_root(&["-r", "proctap"]);
    assert!(!root.0.join("usr/bin/proctap").exists());
    assert!(root.0.join("etc/proctap.conf").exists());
    assert_eq!(
        std::fs::read_link(root.0.join("etc/systemd/system/proctap.service")).ok(),
        Some(PathBuf::from("/dev/null")),
        "masked after removal"
    );
    dpkg_in_root(&["--purge", "proctap"]);
    let left: Vec<String> = files_under(&root.0.join("etc"))
        .into_iter()
        .chain(
            std::fs::read_dir(root.0.join("etc/systemd/system"))
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .map(|e| e.path().display().to_string())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        )
        .collect();
    assert!(left.iter().all(|f| !f.contains("proctap")), "{left:?}");

    // A packager's own fields.
    let deb = make_deb(&[
        "DEB_MAINTAINER=Jane Packager <jane@corp.example.org>",
        "DEB_HOMEPAGE=https://proctap.corp.example.org/",
    ]);
    assert_eq!(
        field(&deb, "Maintainer"),
        "Jane Packager <jane@corp.example.org>"
    );
    assert_eq!(field(&deb, "Homepage"), "https://proctap.corp.example.org/");
    let tags = lintian(&deb);
    assert!(tags.iter().all(|t| !t.starts_with("E: ")), "{tags:?}");
}

/// Runs proctap's maintainer scripts `calls` (script and arguments) as on a host that runs
/// systemd: a private mount namespace with /run/systemd/system and an empty /usr/sbin (this
/// machine's policy-rc.d forbids every start, as in many containers), `systemctl` and
/// `deb-systemd-helper` replaced by stubs that log, Debian's real deb-systemd-invoke. `env` sets
/// the stubs' answers (STUB_WAS_ENABLED, STUB_ENABLED, STUB_ACTIVE 0/1) and POLICY (policy-rc.d's
/// exit status, none when empty). Returns the log.
fn maintainer_scripts(calls: &[&str], env: &[(&str, &str)]) -> String {
    common::require("deb-systemd-invoke");
    let unshare = common::require("unshare");
    let tmp = TempDir::new(&format!("maint-{}", calls.join("-").len() + env.len()));
    let stubs = tmp.0.join("bin");
    std::fs::create_dir_all(&stubs).unwrap();
    let log = tmp.0.join("log");
    std::fs::write(
        stubs.join("systemctl"),
        "#!/bin/sh\necho \"systemctl $*\" >> \"$LOG\"\ncase \"$*\" in\n\
         *is-enabled*) if [ \"$STUB_ENABLED\" = 1 ]; then echo enabled; else echo disabled; exit 1; fi ;;\n\
         *is-active*) [ \"$STUB_ACTIVE\" = 1 ] ;;\nesac\n",
    )
    .unwrap();
    std::fs::write(
        stubs.join("deb-systemd-helper"),
        "#!/bin/sh\necho \"deb-systemd-helper $*\" >> \"$LOG\"\n\
         case \"$*\" in *was-enabled*) [ \"$STUB_WAS_ENABLED\" = 1 ] ;; esac\n",
    )
    .unwrap();
    run(Command::new("chmod")
        .arg("755")
        .arg(stubs.join("systemctl"))
        .arg(stubs.join("deb-systemd-helper")));
    let mut script = String::from(
        "set -e\nmount -t tmpfs tmpfs /run\nmkdir -p /run/systemd/system\n\
         mount -t tmpfs tmpfs /usr/sbin\n\
         if [ -n \"$POLICY\" ]; then printf '#!/bin/sh\\nexit %s\\n' \"$POLICY\" > /usr/sbin/policy-rc.d; \
         chmod 755 /usr/sbin/policy-rc.d; fi\n",
    );
    for call in calls {
        script.push_str(&format!(
            "echo '== {call}' >> \"$LOG\"\nsh {}/contrib/debian/{call}\n",
            repo().display()
        ));
    }
    let mut cmd = Command::new(unshare);
    cmd.args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env(
            "PATH",
            format!(
                "{}:{}",
                stubs.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("LOG", &log)
        .env_remove("DPKG_ROOT")
        .env("POLICY", "");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd);
    std::fs::read_to_string(&log).unwrap_or_default()
}

#[test]
fn deb_maintainer_scripts_enable_start_restart_and_stop_as_debian_does() {
    let yes = [
        ("STUB_WAS_ENABLED", "1"),
        ("STUB_ENABLED", "1"),
        ("STUB_ACTIVE", "1"),
    ];
    // First install: enabled, then started.
    let log = maintainer_scripts(&["postinst configure"], &yes);
    assert_eq!(
        log,
        "== postinst configure\n\
         deb-systemd-helper unmask proctap.service\n\
         deb-systemd-helper --quiet was-enabled proctap.service\n\
         deb-systemd-helper enable proctap.service\n\
         systemctl --system daemon-reload\n\
         systemctl --system is-enabled -- proctap.service\n\
         systemctl --system --quiet is-active -- proctap.service\n\
         systemctl --quiet --system start proctap.service\n"
    );
    // Upgrade: prerm leaves it running, postinst restarts it on the new binary.
    let log = maintainer_scripts(&["prerm upgrade 0.1.0", "postinst configure 0.0.9"], &yes);
    assert!(
        log.starts_with("== prerm upgrade 0.1.0\n== postinst configure 0.0.9\n"),
        "{log}"
    );
    assert!(
        log.ends_with("systemctl --quiet --system restart proctap.service\n"),
        "{log}"
    );
    // An administrator who disabled and stopped it: the upgrade neither enables nor starts it.
    let no = [
        ("STUB_WAS_ENABLED", "0"),
        ("STUB_ENABLED", "0"),
        ("STUB_ACTIVE", "0"),
    ];
    let log = maintainer_scripts(&["postinst configure 0.0.9"], &no);
    assert!(
        log.contains("deb-systemd-helper update-state proctap.service\n"),
        "{log}"
    );
    assert!(
        !log.contains(" enable ") && !log.contains("restart") && !log.contains(" start "),
        "{log}"
    );
    // Removal stops it before the binary goes; postrm masks it, purge unmasks.
    let log = maintainer_scripts(&["prerm remove", "postrm remove", "postrm purge"], &yes);
    assert_eq!(
        log,
        "== prerm remove\n\
         systemctl stop proctap.service\n\
         == postrm remove\n\
         systemctl --system daemon-reload\n\
         deb-systemd-helper mask proctap.service\n\
         == postrm purge\n\
         systemctl --system daemon-reload\n\
         deb-systemd-helper purge proctap.service\n\
         deb-systemd-helper unmask proctap.service\n"
    );
    // policy-rc.d forbids starting services (a chroot, an image build): enabled, not started.
    let mut env = yes.to_vec();
    env.push(("POLICY", "101"));
    let log = maintainer_scripts(&["postinst configure"], &env);
    assert!(
        log.contains("deb-systemd-helper enable proctap.service\n"),
        "{log}"
    );
    assert!(!log.contains(" start "), "{log}");
}

/// `tar -tvzf` of a .tar.gz: "mode owner path" for each entry.
fn tar_listing(tgz: &Path) -> BTreeSet<String> {
    let out = run(Command::new("tar").arg("-tvzf").arg(tgz));
    text(&out)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {} {}", f[0], f[1], f[5])
        })
        .collect()
}

/// The `Key: value` fields of a control file.
fn control_fields(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// OpenWrt's build system, reduced to what the feed Makefile uses: rules.mk's install macros,
/// package.mk's BuildPackage as three targets (info, prepare, install into $(ROOT)), and the
/// packages feed's rust-package.mk. `make -C contrib/openwrt/proctap TOPDIR=...` runs it.
fn openwrt_buildroot_stub(top: &Path) {
    std::fs::create_dir_all(top.join("include")).unwrap();
    std::fs::create_dir_all(top.join("feeds/packages/lang/rust")).unwrap();
    std::fs::write(
        top.join("rules.mk"),
        "INCLUDE_DIR:=$(TOPDIR)/include\nBUILD_DIR?=$(TOPDIR)/build\nCP:=cp -fpR\n\
         INSTALL_DIR:=install -d -m0755\nINSTALL_BIN:=install -m0755\n\
         INSTALL_CONF:=install -m0600\nINSTALL_DATA:=install -m0644\n",
    )
    .unwrap();
    std::fs::write(
        top.join("include/package.mk"),
        "PKG_BUILD_DIR?=$(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)\n\
         PKG_INSTALL_DIR?=$(PKG_BUILD_DIR)/ipkg-install\n\
         define BuildPackage\ninfo:\n\
         \t@echo 'version $(PKG_VERSION)-$(PKG_RELEASE) license $(PKG_LICENSE) \
         files $(PKG_LICENSE_FILES) build-depends $(PKG_BUILD_DEPENDS) \
         conffiles $$(strip $$(Package/$(1)/conffiles))'\n\
         prepare:\n\t$$(Build/Prepare)\n\
         install:\n\t$$(call Package/$(1)/install,$$(ROOT))\nendef\n",
    )
    .unwrap();
    std::fs::write(
        top.join("feeds/packages/lang/rust/rust-package.mk"),
        "RUST_ARCH_DEPENDS:=@(aarch64||arm||mipsel||mips||x86_64)\n",
    )
    .unwrap();
}

#[test]
#[ignore = "needs the static builds: make test runs it"]
fn make_ipk_packs_what_opkg_reads_and_the_feed_package_installs() {
    let version = env!("CARGO_PKG_VERSION");
    for (arch, triple, machine, qemu) in [
        (
            "aarch64_cortex-a53",
            "aarch64-unknown-linux-musl",
            183u16,
            Some("qemu-aarch64-static"),
        ),
        ("x86_64", "x86_64-unknown-linux-musl", 62, None),
    ] {
        let bin = common::target_dir().join(triple).join("release/proctap");
        assert!(bin.is_file(), "{}: run make test", bin.display());
        run(Command::new("make")
            .args(["--no-print-directory", "-o"])
            .arg(&bin)
            .args(["ipk", &format!("ARCH={arch}")])
            .env_remove("DEBEMAIL")
            .current_dir(repo()));
        let ipk = common::target_dir().join(format!("ipk/proctap_{version}-1_{arch}.ipk"));

        // An ar archive of debian-binary, control.tar.gz and data.tar.gz, in that order.
        let members = text(&run(Command::new("ar").arg("t").arg(&ipk)));
        assert_eq!(
            members, "debian-binary\ncontrol.tar.gz\ndata.tar.gz\n",
            "{arch}"
        );
        let tmp = TempDir::new(&format!("ipk-{arch}"));
        run(Command::new("ar").arg("x").arg(&ipk).current_dir(&tmp.0));
        assert_eq!(
            std::fs::read_to_string(tmp.0.join("debian-binary")).unwrap(),
            "2.0\n"
        );

        let data = tar_listing(&tmp.0.join("data.tar.gz"));
        let expected: BTreeSet<String> = [
            "drwxr-xr-x 0/0 ./",
            "drwxr-xr-x 0/0 ./etc/",
            "drwxr-xr-x 0/0 ./etc/config/",
            "-rw------- 0/0 ./etc/config/proctap",
            "drwxr-xr-x 0/0 ./etc/init.d/",
            "-rwxr-xr-x 0/0 ./etc/init.d/proctap",
            "drwxr-xr-x 0/0 ./usr/",
            "drwxr-xr-x 0/0 ./usr/bin/",
            "-rwxr-xr-x 0/0 ./usr/bin/proctap",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(data, expected, "{arch}");
        let control = tar_listing(&tmp.0.join("control.tar.gz"));
        let expected: BTreeSet<String> = [
            "drwxr-xr-x 0/0 ./",
            "-rw-r--r-- 0/0 ./conffiles",
            "-rw-r--r-- 0/0 ./control",
            "-rwxr-xr-x 0/0 ./postinst",
            "-rwxr-xr-x 0/0 ./prerm",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(control, expected, "{arch}");

        let ctl = tmp.0.join("control");
        let root = tmp.0.join("root");
        std::fs::create_dir_all(&ctl).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        run(Command::new("tar")
            .arg("-xzf")
            .arg(tmp.0.join("control.tar.gz"))
            .arg("-C")
            .arg(&ctl));
        run(Command::new("tar")
            .arg("-xzf")
            .arg(tmp.0.join("data.tar.gz"))
            .arg("-C")
            .arg(&root));
        let fields = control_fields(&std::fs::read_to_string(ctl.join("control")).unwrap());
        let field = |k: &str| {
            fields
                .iter()
                .find(|(f, _)| f == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(field("Package"), "proctap");
        assert_eq!(field("Version"), format!("{version}-1"));
        assert_eq!(field("Architecture"), arch);
        assert_eq!(field("License"), "Apache-2.0");
        assert_eq!(
            field("Maintainer"),
            "proctap packager <packager@proctap.invalid>"
        );
        assert!(!field("Description").is_empty());
        let unpacked = run(Command::new("sh").arg("-c").arg(format!(
            "gzip -dc {} | wc -c",
            tmp.0.join("data.tar.gz").display()
        )));
        assert_eq!(field("Installed-Size"), text(&unpacked).trim());
        assert_eq!(
            std::fs::read_to_string(ctl.join("conffiles")).unwrap(),
            "/etc/config/proctap\n"
        );
        let postinst = std::fs::read_to_string(ctl.join("postinst")).unwrap();
        assert!(
            postinst.contains("\ndefault_postinst \"$0\" \"$@\"\n"),
            "{postinst}"
        );
        let prerm = std::fs::read_to_string(ctl.join("prerm")).unwrap();
        assert!(prerm.contains("\ndefault_prerm \"$0\" \"$@\"\n"), "{prerm}");
        // dpkg reads the same format: a cross-check of the archive's structure.
        let out = run(Command::new(common::require("dpkg-deb"))
            .arg("-f")
            .arg(&ipk)
            .arg("Architecture"));
        // (dpkg warns on stderr that '_' is not in its architecture names.)
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), arch);

        // The packed binary is the static build of the right machine (ELF e_machine).
        let packed = std::fs::read(root.join("usr/bin/proctap")).unwrap();
        assert_eq!(
            packed,
            std::fs::read(&bin).unwrap(),
            "{arch}: the static binary"
        );
        assert_eq!(
            u16::from_le_bytes([packed[18], packed[19]]),
            machine,
            "{arch}"
        );

        // The packed init script, with the packed config, starts the packed binary with flags
        // it accepts (under qemu for aarch64).
        let uci = std::fs::read_to_string(root.join("etc/config/proctap")).unwrap();
        for (shell, ok, out) in openwrt_with(&root.join("etc/init.d/proctap"), &uci) {
            assert!(ok, "{shell}: {out}");
            assert_eq!(out, OPENWRT_SHIPPED, "{arch}, {shell}");
        }
        let packed_bin = root.join("usr/bin/proctap").display().to_string();
        let mut cmd = match qemu {
            Some(q) => {
                let mut c = Command::new(common::require(q));
                c.arg(&packed_bin);
                c
            }
            None => Command::new(&packed_bin),
        };
        run(cmd
            .arg("config")
            .args(flags(OPENWRT_SHIPPED.lines().next().unwrap())));

        if arch != "x86_64" {
            continue;
        }
        // The feed package (contrib/openwrt/proctap/Makefile) under a stub of OpenWrt's build
        // system: its version is Cargo.toml's, Build/Prepare copies a tree cargo can read,
        // and Package/proctap/install lays out exactly what the .ipk holds.
        let top = tmp.0.join("buildroot");
        openwrt_buildroot_stub(&top);
        let feed = |target: &str| {
            run(Command::new("make")
                .args(["--no-print-directory", "-C"])
                .arg(repo().join("contrib/openwrt/proctap"))
                .arg(format!("TOPDIR={}", top.display()))
                .arg(format!("ROOT={}", tmp.0.join("feed-root").display()))
                .arg(target))
        };
        let info = text(&feed("info"));
        assert_eq!(
            info.trim(),
            format!(
                "version {version}-1 license Apache-2.0 files LICENSE build-depends rust/host \
                 conffiles /etc/config/proctap"
            )
        );
        assert!(repo().join("LICENSE").is_file());
        feed("prepare");
        let build = top.join(format!("build/proctap-{version}"));
        let meta = run(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args([
                    "metadata",
                    "--offline",
                    "--no-deps",
                    "--format-version",
                    "1",
                    "--manifest-path",
                ])
                .arg(build.join("Cargo.toml")),
        );
        assert!(text(&meta).contains(&format!("\"version\":\"{version}\"")));
        std::fs::create_dir_all(build.join("ipkg-install/bin")).unwrap();
        std::fs::copy(&bin, build.join("ipkg-install/bin/proctap")).unwrap();
        feed("install");
        let installed = run(Command::new("sh").arg("-c").arg(format!(
            "cd {} && find . -printf '%M %p\\n' | sort",
            tmp.0.join("feed-root").display()
        )));
        let from_feed: BTreeSet<String> = text(&installed)
            .lines()
            .map(|l| {
                let (mode, path) = l.split_once(' ').unwrap();
                let slash = if mode.starts_with('d') { "/" } else { "" };
                format!("{mode} 0/0 {}{slash}", if path == "." { "." } else { path })
            })
            .collect();
        assert_eq!(
            from_feed, data,
            "the feed package installs what the .ipk holds"
        );
        for f in ["etc/init.d/proctap", "etc/config/proctap"] {
            assert_eq!(
                std::fs::read(tmp.0.join("feed-root").join(f)).unwrap(),
                std::fs::read(root.join(f)).unwrap(),
                "{f}"
            );
        }
    }
}

/// The first ```sh block after `heading` in README.md.
fn readme_block(heading: &str) -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let after = readme
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no {heading:?}"))
        .1;
    let start = after.find("```sh\n").expect("a sh block") + 6;
    let len = after[start..].find("```").expect("its end");
    after[start..start + len].to_string()
}

#[test]
#[ignore = "needs the static build: make test runs it"]
fn readme_openrc_steps_install_a_service_that_starts() {
    // The README's commands, run into a temporary root: /usr and /etc become $ROOT/usr and
    // $ROOT/etc, target/ is cargo's target directory, rc-update and rc-service log their
    // arguments, and `make static` is what `make test` already did.
    let block = readme_block("### Alpine and other OpenRC systems");
    let tmp = TempDir::new("readme-openrc");
    let root = tmp.0.join("root");
    let stubs = tmp.0.join("bin");
    std::fs::create_dir_all(&stubs).unwrap();
    for tool in ["rc-update", "rc-service"] {
        std::fs::write(stubs.join(tool), format!("#!/bin/sh\necho \"{tool} $*\"\n")).unwrap();
        run(Command::new("chmod").arg("755").arg(stubs.join(tool)));
    }
    musl_binary();
    let target = format!("{}/", common::target_dir().display());
    let script: String = block
        .lines()
        .filter(|l| *l != "make static")
        .map(|l| {
            let l = l
                .replace(" /usr/", &format!(" {}/usr/", root.display()))
                .replace(" /etc/", &format!(" {}/etc/", root.display()))
                .replace(" target/", &format!(" {target}"));
            format!("{l}\n")
        })
        .collect();
    assert!(script.contains("examples/proctap.conf"), "{script}");
    let out = run(Command::new("sh")
        .args(["-e", "-c", &script])
        .env(
            "PATH",
            format!(
                "{}:{}",
                stubs.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .current_dir(repo()));
    assert_eq!(
        text(&out),
        "rc-update add proctap default\nrc-service proctap start\n"
    );
    // What openrc-run would run: start_pre passes with the installed binary and config.
    let confd = std::fs::read_to_string(root.join("etc/conf.d/proctap")).unwrap();
    let confd = format!(
        "{confd}\nproctap_config={}\n",
        root.join("etc/proctap.conf").display()
    );
    let bin = root.join("usr/bin/proctap").display().to_string();
    for (shell, ok, out) in openrc_with(&root.join("etc/init.d/proctap"), &confd, &bin) {
        assert!(ok, "{shell}: {out}");
        assert!(out.ends_with("start_pre ok\n"), "{shell}:\n{out}");
    }
}
