//! Listen addresses as node_exporter takes them (`:P`, `[::1]:P`, `[127.0.0.1]:P`,
//! `localhost:P`, the flag repeated; bad ones exit 2), and `--web.systemd-socket` with
//! Debian's `systemd-socket-activate` and with descriptors passed by hand.
//!
//! Binding every address (`:P`) happens only inside a private network namespace: the test
//! runs itself again under `unshare -n` (or `unshare -rn` without root) with the loopback up.
//! Where neither is permitted, that test says so and skips.
mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A proctap (or a launcher that becomes one), killed on drop, with the addresses its
/// "listening" lines name.
struct Running {
    child: Child,
    /// (address bound, listen value as given), one per "listening" line.
    listening: Vec<(String, String)>,
    log: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Running {
    /// Waits for `lines` "listening" lines, or for the first request, or for the exit.
    fn wait(mut child: Child, lines: usize) -> Running {
        let stderr = child.stderr.take().expect("stderr");
        let mut log = BufReader::new(stderr).lines();
        let mut listening = Vec::new();
        while listening.len() < lines {
            let line = log
                .next()
                .expect("proctap exited before listening")
                .expect("read log");
            if !line.contains("msg=listening") {
                continue;
            }
            let field = |k: &str| {
                line.split(&format!(" {k}="))
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .unwrap_or("")
                    .trim_matches('"')
                    .to_string()
            };
            listening.push((field("address"), field("listen")));
        }
        let log = std::thread::spawn(move || log.map_while(Result::ok).collect());
        Running {
            child,
            listening,
            log: Some(log),
        }
    }

    fn start(args: &[&str], lines: usize) -> Running {
        let child = Command::new(common::bin())
            .args(common::fixture_args())
            .args(["--collectors", "loadavg"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn proctap");
        Running::wait(child, lines)
    }

    fn addresses(&self) -> Vec<&str> {
        self.listening.iter().map(|(a, _)| a.as_str()).collect()
    }

    /// SIGTERM, then every log line after the "listening" ones.
    fn stop(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        self.log
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scrape of `addr` succeeds with the fixture's load average.
fn serves(addr: &str) -> bool {
    match common::get(addr, "/metrics") {
        Ok((200, body)) => body.contains("\nnode_load1 0.52\n"),
        _ => false,
    }
}

fn refused(addr: &str) -> bool {
    std::net::TcpStream::connect(addr)
        .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
}

fn ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

fn port_of(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap_or("")
}

#[test]
fn bracketed_ipv4_and_ipv6_literals_and_a_host_name() {
    let r = Running::start(&["--web.listen-address=[127.0.0.1]:0"], 1);
    let addr = r.addresses()[0].to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_eq!(r.listening[0].1, "[127.0.0.1]:0");
    assert!(serves(&addr));
    drop(r);

    // Go's rule: the first IPv4 address the name resolves to, else the first.
    let r = Running::start(&["--web.listen-address=localhost:0"], 1);
    let addr = r.addresses()[0].to_string();
    assert!(
        addr.starts_with("127.0.0.1:") || addr.starts_with("[::1]:"),
        "{addr}"
    );
    assert!(serves(&addr));
    drop(r);

    if !ipv6_loopback() {
        println!("skipped [::1]: this machine has no IPv6 loopback");
        return;
    }
    let r = Running::start(&["--listen", "[::1]:0"], 1);
    let addr = r.addresses()[0].to_string();
    assert!(addr.starts_with("[::1]:"), "{addr}");
    assert!(serves(&addr));
    // Only ::1: the same port on IPv4 loopback is not ours.
    assert!(refused(&format!("127.0.0.1:{}", port_of(&addr))));
}

#[test]
fn a_repeated_flag_listens_on_each_address() {
    let six = ipv6_loopback();
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--web.listen-address",
        "127.0.0.1:0",
    ];
    if six {
        args.extend(["--listen", "[::1]:0"]);
    }
    let r = Running::start(&args, args.len() / 2);
    let addrs = r.addresses();
    assert_eq!(addrs.len(), args.len() / 2, "{addrs:?}");
    assert_ne!(addrs[0], addrs[1], "two sockets");
    for a in &addrs {
        assert!(serves(a), "{a}");
    }
    if six {
        assert!(addrs[2].starts_with("[::1]:"), "{addrs:?}");
    }
    // A failure on any address stops the start, naming it (as node_exporter's does).
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = held.local_addr().unwrap().to_string();
    let out = Command::new(common::bin())
        .args(common::fixture_args())
        .args(["--listen", "127.0.0.1:0", "--listen", &taken])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {taken}")), "{err}");
}

#[test]
fn what_cannot_be_an_address_exits_2_at_parse_time() {
    for (value, why) in [
        ("9105", ":9105 listens on every address"),
        ("[::1", "missing ']'"),
        ("[::1]", "expected :PORT"),
        ("::1:9100", "needs brackets"),
        (":65536", "out of range"),
        (":http", "not a number"),
        ("", "empty"),
        ("localhost", "missing :PORT"),
        ("300.1.2.3:9100", "not an IPv4 address"),
    ] {
        for cmd in [&[][..], &["config"][..], &["once"][..]] {
            let out = Command::new(common::bin())
                .args(cmd)
                .arg(format!("--web.listen-address={value}"))
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd:?} {value:?}: {err}");
            assert_eq!(err.lines().count(), 1, "one line: {err}");
            assert!(
                err.contains("--web.listen-address") && err.contains(why),
                "{value:?}: {err}"
            );
        }
    }
    // The config file's list is checked the same way, by `proctap config` too.
    let dir = std::env::temp_dir().join(format!("proctap-listen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("proctap.conf");
    std::fs::write(&conf, "listen = [\":9100\", \"9105\"]\n").unwrap();
    let out = Command::new(common::bin())
        .args(["config", "--config"])
        .arg(&conf)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(":1: key listen: \"9105\": missing the ':'"),
        "{err}"
    );
    std::fs::write(&conf, "listen = [\"[::1]:9100\", \"127.0.0.1:9100\"]\n").unwrap();
    let out = Command::new(common::bin())
        .args(["config", "--config"])
        .arg(&conf)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\nlisten = [\"[::1]:9100\", \"127.0.0.1:9100\"]\n"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sighup_keeps_the_sockets() {
    let dir = std::env::temp_dir().join(format!("proctap-listen-hup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("proctap.conf");
    std::fs::write(&conf, "listen = [\"127.0.0.1:0\", \"127.0.0.1:0\"]\n").unwrap();
    let r = Running::start(&["--config", conf.to_str().unwrap()], 2);
    let addrs: Vec<String> = r.addresses().iter().map(|a| a.to_string()).collect();
    std::fs::write(
        &conf,
        "listen = \"127.0.0.1:1\"\nweb.telemetry-path = \"/reloaded\"\n",
    )
    .unwrap();
    let _ = Command::new("kill")
        .args(["-HUP", &r.child.id().to_string()])
        .status();
    // Reloaded (the new path serves) and still on both sockets.
    let start = Instant::now();
    for a in &addrs {
        loop {
            let body = common::get(a, "/reloaded")
                .map(|(_, b)| b)
                .unwrap_or_default();
            if body.contains("\nnode_load1 0.52\n") {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "not reloaded on {a}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let log = r.stop().join("\n");
    assert!(log.contains("new listen addresses take a restart"), "{log}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `unshare` arguments that give a private network namespace here, if any.
fn unshare_args() -> Option<Vec<&'static str>> {
    let unshare = common::require("unshare");
    for args in [vec!["-n"], vec!["-r", "-n"]] {
        let ok = Command::new(&unshare)
            .args(&args)
            .arg("true")
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(args);
        }
    }
    None
}

#[test]
fn every_address_is_dual_stack_in_a_private_network_namespace() {
    if std::env::var_os("PROCTAP_TEST_IN_NETNS").is_none() {
        let ip = common::require("ip");
        let Some(args) = unshare_args() else {
            println!("skipped: neither `unshare -n` nor `unshare -rn` is permitted here");
            return;
        };
        let out = Command::new(common::require("unshare"))
            .args(&args)
            .args(["--", "sh", "-c", "\"$0\" link set lo up && exec \"$@\""])
            .arg(ip)
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "every_address_is_dual_stack_in_a_private_network_namespace",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("PROCTAP_TEST_IN_NETNS", "1")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "inside unshare {args:?}:\n{text}");
        assert!(text.contains("1 passed"), "{text}");
        assert!(text.contains("dual-stack checked"), "{text}");
        for line in text.lines().filter(|l| l.contains("skipped")) {
            println!("in the namespace: {line}");
        }
        return;
    }
    // In the namespace: only lo, with 127.0.0.1 and ::1; every port is free.
    // The default, node_exporter's ":9100".
    let r = Running::start(&[], 1);
    assert_eq!(r.addresses(), ["[::]:9100"]);
    assert_eq!(r.listening[0].1, ":9100");
    assert!(serves("127.0.0.1:9100"), "IPv4 on the dual-stack socket");
    assert!(serves("[::1]:9100"), "IPv6");
    drop(r);
    // 0.0.0.0 and [::] are every address too, as in Go.
    for (value, port) in [(":9101", 9101), ("0.0.0.0:9102", 9102), ("[::]:9103", 9103)] {
        let r = Running::start(&["--listen", value], 1);
        assert_eq!(r.addresses(), [format!("[::]:{port}")], "{value}");
        assert!(serves(&format!("127.0.0.1:{port}")), "{value} on IPv4");
        assert!(serves(&format!("[::1]:{port}")), "{value} on IPv6");
    }
    // One socket takes both families: a second on 127.0.0.1 finds the port in use.
    let out = Command::new(common::bin())
        .args(common::fixture_args())
        .args(["--listen", ":9104", "--listen", "127.0.0.1:9104"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot listen on 127.0.0.1:9104"), "{err}");
    // A host name binds one address, the first IPv4 one, as Go does.
    let r = Running::start(&["--listen", "localhost:9105"], 1);
    assert_eq!(r.addresses(), ["127.0.0.1:9105"]);
    assert!(serves("127.0.0.1:9105"));
    assert!(refused("[::1]:9105"));
    drop(r);
    // Specific addresses, repeated, on the same port.
    let r = Running::start(
        &["--listen", "[127.0.0.1]:9106", "--listen", "[::1]:9106"],
        2,
    );
    assert_eq!(r.addresses(), ["127.0.0.1:9106", "[::1]:9106"]);
    assert!(serves("127.0.0.1:9106") && serves("[::1]:9106"));
    drop(r);
    // IPv6 switched off on every interface (sysctl): :P still serves IPv4.
    let knob = "/proc/sys/net/ipv6/conf/all/disable_ipv6";
    if std::fs::write(knob, "1").is_ok() {
        let r = Running::start(&["--listen", ":9107"], 1);
        assert!(serves("127.0.0.1:9107"), "IPv4 with IPv6 disabled");
        drop(r);
        std::fs::write(knob, "0").unwrap();
    } else {
        println!("skipped the disable_ipv6 case: {knob} is not writable");
    }
    println!("dual-stack checked");
}

/// Spawns proctap with `listeners` as descriptors 3, 4, … and LISTEN_PID set to its pid (by a
/// shell that execs it), LISTEN_FDS to `fds`.
fn with_passed_fds(listeners: &[&TcpListener], fds: &str, args: &[&str]) -> Child {
    let mut raw = [-1; 4];
    for (r, l) in raw.iter_mut().zip(listeners) {
        *r = l.as_raw_fd();
    }
    let n = listeners.len().min(raw.len());
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "export LISTEN_PID=$$; exec \"$0\" \"$@\""])
        .arg(common::bin())
        .args(common::fixture_args())
        .args(["--collectors", "loadavg", "--web.systemd-socket"])
        .args(args)
        .env("LISTEN_FDS", fds)
        .env("LISTEN_FDNAMES", "a:b")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec only fcntl and dup2, which are async-signal-safe; the
    // descriptors are first moved above 100 so that placing one at 3 cannot close another.
    unsafe {
        cmd.pre_exec(move || {
            let mut high = [-1; 4];
            for (h, &fd) in high.iter_mut().zip(&raw[..n]) {
                *h = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100);
            }
            for (i, &fd) in high[..n].iter().enumerate() {
                if fd < 0 || libc::dup2(fd, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.spawn().unwrap()
}

#[test]
fn systemd_sockets_passed_by_hand() {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = if ipv6_loopback() {
        TcpListener::bind("[::1]:0").unwrap()
    } else {
        TcpListener::bind("127.0.0.1:0").unwrap()
    };
    let want = [
        a.local_addr().unwrap().to_string(),
        b.local_addr().unwrap().to_string(),
    ];
    // --listen is ignored with --web.systemd-socket, as in exporter-toolkit.
    let r = Running::wait(
        with_passed_fds(&[&a, &b], "2", &["--listen", "127.0.0.1:1"]),
        2,
    );
    assert_eq!(r.addresses(), want);
    assert!(
        r.listening.iter().all(|(_, l)| l == "systemd"),
        "{:?}",
        r.listening
    );
    for addr in &want {
        assert!(serves(addr), "{addr}");
    }
    drop(r);

    // The sockets are someone else's when LISTEN_PID names another process.
    let out = Command::new(common::bin())
        .args(["--web.systemd-socket", "--collectors", "loadavg"])
        .env("LISTEN_PID", "1")
        .env("LISTEN_FDS", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--web.systemd-socket: LISTEN_PID=1 names another process"),
        "{err}"
    );
    let out = Command::new(common::bin())
        .args(["--web.systemd-socket", "--collectors", "loadavg"])
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDS")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no sockets passed"), "{err}");

    // Without the flag, passed sockets are named in a warning and the listen address is bound.
    let child = Command::new("sh")
        .args([
            "-c",
            "export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" \"$@\"",
        ])
        .arg(common::bin())
        .args(common::fixture_args())
        .args(["--collectors", "loadavg", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let lines: Vec<String> = stderr
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.contains("msg=listening"))
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("--web.systemd-socket is not set")),
        "{lines:?}"
    );
}

#[test]
fn a_passed_descriptor_that_is_no_listening_socket_is_refused() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = std::net::TcpStream::connect(held.local_addr().unwrap()).unwrap();
    let raw = stream.as_raw_fd();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "export LISTEN_PID=$$; exec \"$0\" \"$@\""])
        .arg(common::bin())
        .args(["--web.systemd-socket", "--collectors", "loadavg"])
        .env("LISTEN_FDS", "1");
    // SAFETY: only fcntl and dup2 between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::fcntl(raw, libc::F_DUPFD_CLOEXEC, 100);
            if fd < 0 || libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("descriptor 3: not a listening stream socket"),
        "{err}"
    );
}

#[test]
fn systemd_socket_activate_starts_proctap_on_the_first_connection() {
    let activate = common::require("systemd-socket-activate");
    let addr = common::free_addr();
    let child = Command::new(activate)
        .args(["-l", &addr, "--"])
        .arg(common::bin())
        .args(common::fixture_args())
        .args(["--collectors", "loadavg", "--web.systemd-socket"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // systemd-socket-activate listens at once and starts proctap when a client connects.
    let pid = child.id();
    let target = addr.clone();
    let client = std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if serves(&target) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Unblocks the wait below.
        let _ = Command::new("kill").arg(pid.to_string()).status();
        false
    });
    let r = Running::wait(child, 1);
    assert!(
        client.join().unwrap(),
        "no scrape through the passed socket"
    );
    assert_eq!(r.listening, [(addr.clone(), "systemd".to_string())]);
    assert!(serves(&addr));
}
