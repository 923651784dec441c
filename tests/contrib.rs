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
    assert!(plain <= 2.0, "exposure {plain}");
    assert!(
        with_caps <= 2.5 && with_caps > plain,
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
    assert!(score <= 2.0, "exposure {score}");
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
    for f in ["contrib/openwrt/proctap.init", "contrib/openrc/proctap"] {
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
"#;

/// Sources proctap.init under the stubs with `uci` as /etc/config/proctap and runs
/// start_service and service_triggers; returns (success, output) for dash and busybox sh.
fn openwrt(uci: &str) -> Vec<(String, bool, String)> {
    let tmp = TempDir::new(&format!("openwrt-{}", uci.len()));
    std::fs::create_dir_all(tmp.0.join("lib/functions")).unwrap();
    std::fs::write(
        tmp.0.join("lib/functions/network.sh"),
        "network_get_ipaddr() { case \"$2\" in lan) eval \"$1=192.168.1.1\" ;; \
         loopback) eval \"$1=127.0.0.1\" ;; *) eval \"$1=\"; return 1 ;; esac; }\n",
    )
    .unwrap();
    std::fs::write(tmp.0.join("proctap"), uci).unwrap();
    let script = format!(
        "IPKG_INSTROOT={root:?}; UCI_FILE={root:?}/proctap\n{OPENWRT_STUBS}\n. {init:?}\n\
         start_service; echo \"status: $?\"; service_triggers",
        root = tmp.0.display().to_string(),
        init = repo()
            .join("contrib/openwrt/proctap.init")
            .display()
            .to_string(),
    );
    in_shells(&script)
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

#[test]
fn openwrt_init_starts_proctap_with_the_uci_settings() {
    let shipped = std::fs::read_to_string(repo().join("contrib/openwrt/proctap.config")).unwrap();
    let expected = "command: [/usr/bin/proctap][--listen][192.168.1.1:9100][--interval][10s]\
                    [--no-collector.interrupts]\n\
                    params: respawn= stdout=1 stderr=1\n\
                    status: 0\n\
                    reload trigger: proctap\n\
                    interface trigger: interface.*.up lan /etc/init.d/proctap reload\n";
    for (shell, ok, out) in openwrt(&shipped) {
        assert!(ok, "{shell}: {out}");
        assert_eq!(out, expected, "{shell}, shipped config");
    }
    proctap_accepts(&flags(
        "[p][--listen][192.168.1.1:9100][--interval][10s][--no-collector.interrupts]",
    ));

    let custom = "config proctap 'main'\n\
                  \toption listen_interface '*'\n\
                  \toption port '9200'\n\
                  \toption collectors 'cpu,meminfo,hwmon'\n\
                  \toption disable_collectors 'interrupts arp'\n\
                  \toption textfile_directory '/var/prometheus'\n\
                  \toption extra_args '--log-level warn'\n";
    let cmd = "[/usr/bin/proctap][--listen][0.0.0.0:9200][--collectors][cpu,meminfo,hwmon]\
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
    for (shell, ok, out) in openwrt("config proctap 'main'\n\toption listen_interface 'wan'\n") {
        assert!(
            ok && !out.contains("command:"),
            "{shell}, no address: {out}"
        );
        assert!(
            out.contains("interface wan has no IPv4 address\nstatus: 1"),
            "{shell}: {out}"
        );
    }
}

/// Sources /etc/conf.d/proctap (`confd`) and the OpenRC script the way openrc-run does, prints
/// the command line start-stop-daemon would get, and runs depend, start_pre and reload
/// against stubs. `bin` replaces /usr/bin/proctap for start_pre.
fn openrc(confd: &str, bin: &str) -> Vec<(String, bool, String)> {
    let tmp = TempDir::new(&format!("openrc-{}", confd.len()));
    std::fs::write(tmp.0.join("proctap.confd"), confd).unwrap();
    let ssd = tmp.0.join("start-stop-daemon");
    std::fs::write(
        &ssd,
        "#!/bin/sh\nprintf 'start-stop-daemon'; printf ' [%s]' \"$@\"; echo\n",
    )
    .unwrap();
    run(Command::new("chmod").arg("755").arg(&ssd));
    let script = format!(
        "PATH={dir:?}:$PATH; RC_SVCNAME=proctap\n. {dir:?}/proctap.confd\n. {init:?}\n\
         eval \"set -- $command $command_args\"; printf 'command:'; printf ' [%s]' \"$@\"; echo\n\
         echo \"user: $command_user background: $command_background pidfile: $pidfile\"\n\
         echo \"extra: $extra_started_commands logger: $error_logger\"\n\
         need() {{ echo \"need $*\"; }}; after() {{ echo \"after $*\"; }}; use() {{ echo \"use $*\"; }}\n\
         ebegin() {{ echo \"ebegin $*\"; }}; eend() {{ echo \"eend $*\"; }}\n\
         depend; reload\n\
         command={bin:?}; if start_pre; then echo start_pre ok; else echo start_pre failed; fi",
        dir = tmp.0.display().to_string(),
        init = repo().join("contrib/openrc/proctap").display().to_string(),
    );
    in_shells(&script)
}

#[test]
fn openrc_script_starts_proctap_with_the_conf_d_settings() {
    let conf = repo().join("examples/proctap.conf").display().to_string();
    let shipped = std::fs::read_to_string(repo().join("contrib/openrc/proctap.confd")).unwrap();
    // The shipped conf.d only has comments: the defaults apply.
    for (shell, ok, out) in openrc(&shipped, common::bin()) {
        assert!(ok, "{shell}: {out}");
        let expected = "command: [/usr/bin/proctap] [--config] [/etc/proctap.conf]\n\
                        user: nobody background: yes pidfile: /run/proctap.pid\n\
                        extra: reload logger: logger -t proctap -p daemon.info\n\
                        need net\nafter firewall\nuse logger\n\
                        ebegin Reloading proctap configuration\n\
                        start-stop-daemon [--signal] [HUP] [--pidfile] [/run/proctap.pid]\n\
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
             user: root "
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

#[test]
#[ignore = "needs the static build: make test runs it"]
fn make_deb_builds_a_package_dpkg_installs() {
    let dpkg_deb = common::require("dpkg-deb");
    let dpkg = common::require("dpkg");
    make(&["deb"]);
    let version = env!("CARGO_PKG_VERSION");
    let deb = common::target_dir().join(format!("deb/proctap_{version}_amd64.deb"));

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
    let field = |f: &str| {
        let out = run(Command::new(&dpkg_deb).arg("-f").arg(&deb).arg(f));
        text(&out).trim().to_string()
    };
    assert_eq!(field("Package"), "proctap");
    assert_eq!(field("Version"), version);
    assert_eq!(field("Architecture"), "amd64");

    // Install into an empty root: the files land, /etc/proctap.conf is a conffile, the
    // installed binary runs.
    let root = TempDir::new("dpkg-root");
    std::fs::create_dir_all(root.0.join("var/lib/dpkg/info")).unwrap();
    std::fs::create_dir_all(root.0.join("var/lib/dpkg/updates")).unwrap();
    std::fs::write(root.0.join("var/lib/dpkg/status"), "").unwrap();
    let rootarg = format!("--root={}", root.0.display());
    run(Command::new(&dpkg)
        .args([
            &rootarg,
            "--force-script-chrootless",
            "--force-architecture",
            "-i",
        ])
        .arg(&deb));
    let status = text(&run(Command::new(&dpkg).args([&rootarg, "-s", "proctap"])));
    assert!(status.contains("Status: install ok installed"), "{status}");
    assert!(
        status.contains("Conffiles:\n /etc/proctap.conf "),
        "{status}"
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
}
