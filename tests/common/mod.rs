//! Shared helpers for the integration tests: running the binary, fetching over HTTP, and
//! reading the exposition format.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_proctap")
}

/// cargo's target directory (CARGO_TARGET_DIR and build.target-dir honoured), asked of
/// `cargo metadata` once per test binary.
pub fn target_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run cargo metadata");
        assert!(out.status.success(), "cargo metadata failed");
        let json = String::from_utf8(out.stdout).expect("cargo metadata prints UTF-8");
        let key = "\"target_directory\":\"";
        let start = json
            .find(key)
            .expect("cargo metadata names target_directory")
            + key.len();
        let len = json[start..].find('"').expect("a closing quote");
        PathBuf::from(&json[start..start + len])
    })
}

/// How many collectors are on by default in this build (`proctap config` lists them), so that
/// tests counting collectors follow the table and the cargo features.
pub fn default_collectors() -> usize {
    let out = Command::new(bin())
        .arg("config")
        .output()
        .expect("run proctap config");
    let text = String::from_utf8(out.stdout).expect("utf-8 config");
    let line = text
        .lines()
        .find(|l| l.starts_with("collectors = ["))
        .expect("a collectors line");
    line.matches('"').count() / 2
}

/// The families node_exporter's end-to-end test exempts from `promtool check metrics`, and
/// process-exporter's names that promtool's lint dislikes (counters without `_total`, a gauge
/// ending in `_count`): its dashboards use these names.
pub const PROMTOOL_LINT_EXEMPT: &[&str] = &[
    "node_memory_",
    "node_netstat_",
    "node_entropy_",
    "namedprocess_scrape_",
    "namedprocess_namegroup_thread_count",
];

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The flags that point every root at the fixture tree.
pub fn fixture_args() -> Vec<String> {
    let f = fixtures();
    vec![
        format!("--path.procfs={}", f.join("proc").display()),
        format!("--path.sysfs={}", f.join("sys").display()),
        format!("--path.rootfs={}", f.display()),
        format!("--path.udev.data={}", f.join("run/udev/data").display()),
        // netdev's default asks the live kernel over netlink; the fixtures have /proc/net/dev.
        "--no-collector.netdev.netlink".into(),
        format!(
            "--collector.textfile.directory={}",
            f.join("textfile").display()
        ),
    ]
}

/// The flags of the golden output (fixtures/e2e-output.txt): it also covers the collectors
/// and options that are off by default.
pub const GOLDEN_FLAGS: &[&str] = &[
    "--collector.processes",
    "--collector.softirqs",
    "--collector.cpu.info",
    "--collector.cpu.info.flags-include=^(aes|avx.*|sse4_2|sha_ni|vmx)$",
    "--collector.cpu.info.bugs-include=.",
    "--collector.stat.softirq",
    "--collector.mountstats",
    "--collector.dmmultipath",
];

/// `proctap once` against the fixtures with extra flags.
pub fn once(extra: &[&str]) -> Output {
    Command::new(bin())
        .arg("once")
        .args(fixture_args())
        .args(extra)
        .output()
        .expect("run proctap once")
}

/// A command the tests need that `make deps` installs; a clear failure when it is missing.
pub fn require(cmd: &str) -> String {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(cmd))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => p.display().to_string(),
        None => panic!("{cmd} not found in PATH: run `make deps` (make test does) to install it"),
    }
}

/// A running proctap server on a loopback port chosen by the kernel; killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: String,
    log: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let mut args = fixture_args();
        args.extend(extra.iter().map(|a| a.to_string()));
        Server::spawn(&args)
    }

    /// A server on this machine's own /proc and /sys (no fixture flags).
    pub fn start_live(extra: &[&str]) -> Server {
        let args: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        Server::spawn(&args)
    }

    fn spawn(args: &[String]) -> Server {
        let mut child = Command::new(bin())
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn proctap");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("proctap exited before listening")
                .expect("read log");
            if let Some(rest) = line.split(" address=").nth(1) {
                break rest.split_whitespace().next().unwrap_or("").to_string();
            }
        };
        // Keep draining the log so the child never blocks on a full pipe.
        let log = std::thread::spawn(move || lines.map_while(Result::ok).collect());
        Server {
            child,
            addr,
            log: Some(log),
        }
    }

    /// Stops the server with SIGTERM and returns every log line after the "listening" one.
    pub fn stop_and_log(mut self) -> Vec<String> {
        self.terminate(Duration::from_secs(5))
            .expect("exit after SIGTERM");
        self.log
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> Response {
        http(&self.addr, "GET", path)
    }

    /// Sends SIGTERM and waits up to `limit` for the exit status.
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A minimal HTTP/1.1 client: one request, `Connection: close`, read to EOF.
pub fn http(addr: &str, method: &str, path: &str) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body,
    }
}

/// A series key: the metric name and its labels sorted by name, e.g.
/// `node_disk_io_now{device="sda"}`.
pub type Series = BTreeMap<String, f64>;

/// Parses exposition text into `series key → value` and `family → type`.
pub fn parse_exposition(text: &str) -> (Series, BTreeMap<String, String>) {
    let mut series = Series::new();
    let mut types = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            types.insert(
                it.next().unwrap().to_string(),
                it.next().unwrap_or("").to_string(),
            );
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (key, value) = split_sample(line);
        let v = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        assert!(
            series.insert(key.clone(), v).is_none(),
            "duplicate series {key}"
        );
    }
    (series, types)
}

/// Splits a sample line into a canonical key (labels sorted) and the value text.
fn split_sample(line: &str) -> (String, &str) {
    let (name, labels, rest) = match line.find('{') {
        Some(open) => {
            let close = find_label_end(line, open).unwrap_or_else(|| panic!("no }} in {line:?}"));
            (
                &line[..open],
                parse_labels(&line[open + 1..close]),
                &line[close + 1..],
            )
        }
        None => {
            let sp = line
                .find(' ')
                .unwrap_or_else(|| panic!("no value in {line:?}"));
            (&line[..sp], Vec::new(), &line[sp..])
        }
    };
    let value = rest
        .split_whitespace()
        .next()
        .unwrap_or_else(|| panic!("no value in {line:?}"));
    (series_key(name, labels), value)
}

fn find_label_end(line: &str, open: usize) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut in_str = false;
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'}' if !in_str => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq].trim_start_matches(',').trim().to_string();
        let after = &rest[eq + 1..];
        assert!(
            after.starts_with('"'),
            "label value must be quoted in {s:?}"
        );
        let mut val = String::new();
        let mut chars = after[1..].char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => val.push('\n'),
                    Some((_, c)) => val.push(c),
                    None => {}
                },
                '"' => {
                    end = i + 2;
                    break;
                }
                c => val.push(c),
            }
        }
        out.push((name, val));
        rest = &after[end.min(after.len())..];
    }
    out
}

pub fn series_key(name: &str, mut labels: Vec<(String, String)>) -> String {
    labels.sort();
    if labels.is_empty() {
        return name.to_string();
    }
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// The metric name of a series key.
pub fn name_of(key: &str) -> &str {
    key.split('{').next().unwrap_or(key)
}

/// Families whose values come from the clock, the exporter process or syscalls, not the fixtures.
const VOLATILE: &[&str] = &[
    "node_scrape_collector_duration_seconds",
    // statvfs of the directories under fixtures/ reports the disk the checkout is on.
    "node_filesystem_avail_bytes",
    "node_filesystem_files",
    "node_filesystem_files_free",
    "node_filesystem_free_bytes",
    "node_filesystem_size_bytes",
    // The checkout time.
    "node_textfile_mtime_seconds",
    "node_time_seconds",
    "node_time_zone_offset_seconds",
    "node_uname_info",
    // The revision.
    "node_exporter_build_info",
    "proctap_build_info",
];

fn family_of(line: &str) -> &str {
    let rest = line
        .strip_prefix("# HELP ")
        .or_else(|| line.strip_prefix("# TYPE "))
        .unwrap_or(line);
    rest.split(['{', ' ']).next().unwrap_or("")
}

/// The output less the volatile families: what the golden file holds.
pub fn stable_lines(text: &str) -> String {
    let mut out = String::new();
    // rapl's `path` label is the zone's directory under --path.sysfs, wherever the clone is.
    let root = fixtures().display().to_string();
    for line in text.lines() {
        let fam = family_of(line);
        // adjtimex(2) of the machine running the test.
        if VOLATILE.contains(&fam) || fam.starts_with("process_") || fam.starts_with("node_timex_")
        {
            continue;
        }
        out.push_str(&line.replace(&root, "FIXTURES"));
        out.push('\n');
    }
    out
}

/// Scrapes `addr` back to back (a new connection each) until the server is gone, asserting
/// that every answer that arrives is whole; returns how many complete responses came.
pub fn scrape_until_closed(addr: String) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut complete = 0;
        loop {
            let Ok(mut s) = TcpStream::connect(&addr) else {
                return complete;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            if s.write_all(b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
                .is_err()
            {
                return complete;
            }
            let mut raw = Vec::new();
            let _ = s.read_to_end(&mut raw);
            if raw.is_empty() {
                return complete; // accepted by the kernel, closed at shutdown
            }
            let text = String::from_utf8_lossy(&raw);
            let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
            assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.parse().ok())
                .expect("Content-Length");
            assert_eq!(body.len(), len, "the response in flight is finished");
            complete += 1;
        }
    })
}

/// A child process (another exporter, a test program) killed and reaped on drop.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child started as the leader of its own process group (`Command::process_group(0)`): the
/// whole group is killed when dropped, so grandchildren do not outlive the test holding its
/// output pipes.
pub struct KilledGroup(pub Child);

impl Drop for KilledGroup {
    fn drop(&mut self) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// A loopback address with a port the kernel says is free; the server binds it a moment later.
pub fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// One HTTP/1.0 GET (so the answer is never chunked) to any server: status and body, or why
/// not (not listening yet, cut short).
pub fn get(addr: &str, path: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).map_err(|e| e.to_string())?;
    let (head, body) = raw.split_once("\r\n\r\n").ok_or("no end of headers")?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status")?;
    Ok((status, body.to_string()))
}

/// The body of `addr`'s /metrics when it answers 200.
pub fn get_metrics(addr: &str) -> Option<String> {
    get(addr, "/metrics")
        .ok()
        .filter(|(status, _)| *status == 200)
        .map(|(_, body)| body)
}
