//! Issue 16: no file a local user can create and no hung source stops proctap from answering.
//! A FIFO, a socket, a character device and a symlink to each in the textfile directory are
//! skipped with one warning each; the scrape and `proctap once` finish at once.
mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, fixture_args};

/// The fixture flags with the textfile directory replaced by `dir`.
fn args_with_textfile(dir: &Path) -> Vec<String> {
    let mut args: Vec<String> = fixture_args()
        .into_iter()
        .filter(|a| !a.starts_with("--collector.textfile.directory="))
        .collect();
    args.push(format!("--collector.textfile.directory={}", dir.display()));
    args
}

/// A textfile directory with two good files and every kind of file that is not regular,
/// each also behind a symlink. The socket's listener is returned to keep it bound.
fn hostile_dir(test: &str) -> (PathBuf, std::os::unix::net::UnixListener, Vec<&'static str>) {
    let dir = std::env::temp_dir().join(format!("proctap-stuck-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("good.prom"), "cron_job_ok 1\n").unwrap();
    std::fs::write(dir.join("zz_good.prom"), "backup_age_seconds 42\n").unwrap();
    let ok = Command::new("mkfifo")
        .arg(dir.join("fifo.prom"))
        .status()
        .unwrap();
    assert!(ok.success(), "mkfifo");
    let sock = std::os::unix::net::UnixListener::bind(dir.join("sock.prom")).unwrap();
    // A character device of its own needs mknod (root); /dev/null is one for everybody.
    let mut bad = vec!["fifo.prom", "sock.prom", "link-fifo.prom", "link-sock.prom"];
    let mknod = Command::new("mknod")
        .arg(dir.join("zero.prom"))
        .args(["c", "1", "5"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if mknod {
        bad.push("zero.prom");
    } else {
        eprintln!("mknod not permitted: the character device is tested behind symlinks only");
    }
    symlink(dir.join("fifo.prom"), dir.join("link-fifo.prom")).unwrap();
    symlink(dir.join("sock.prom"), dir.join("link-sock.prom")).unwrap();
    symlink("/dev/zero", dir.join("link-zero.prom")).unwrap();
    symlink("/dev/null", dir.join("link-null.prom")).unwrap();
    bad.extend(["link-zero.prom", "link-null.prom"]);
    (dir, sock, bad)
}

fn check_output(text: &str, log: &str, dir: &Path, bad: &[&str]) {
    assert!(text.contains("\ncron_job_ok 1\n"), "good file merged");
    assert!(
        text.contains("\nbackup_age_seconds 42\n"),
        "good file merged"
    );
    assert!(
        text.contains("\nnode_textfile_scrape_error 1\n"),
        "{}",
        text.lines()
            .filter(|l| l.starts_with("node_textfile"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(text.contains("node_textfile_mtime_seconds{file=\""));
    assert_eq!(
        text.matches("node_textfile_mtime_seconds{").count(),
        2,
        "only the good files have an mtime"
    );
    for name in bad {
        let path = dir.join(name);
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(&format!("{}:", path.display())))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "one warning naming {name}: {lines:?}\n{log}"
        );
        assert!(lines[0].contains("expected a regular file"), "{}", lines[0]);
    }
    let fifo = dir.join("fifo.prom");
    assert!(log.contains(&format!(
        "{}: a FIFO: expected a regular file",
        fifo.display()
    )));
    let sock = dir.join("sock.prom");
    assert!(log.contains(&format!(
        "{}: a socket: expected a regular file",
        sock.display()
    )));
    let zero = dir.join("link-zero.prom");
    assert!(log.contains(&format!(
        "{}: a character device: expected a regular file",
        zero.display()
    )));
}

#[test]
fn once_skips_fifos_sockets_and_devices_and_exits() {
    let (dir, _sock, bad) = hostile_dir("once");
    let start = Instant::now();
    let child = Command::new(bin())
        .arg("once")
        .args(args_with_textfile(&dir))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    // Before the fix this never exited (blocked in open(2) on the FIFO).
    let Ok(out) = rx.recv_timeout(Duration::from_secs(10)) else {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        panic!("proctap once did not exit within 10 s");
    };
    let out = out.unwrap();
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    check_output(&text, &log, &dir, &bad);
    assert!(took < Duration::from_secs(5), "once took {took:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn server_scrape_skips_fifos_sockets_and_devices_within_a_second() {
    let (dir, _sock, bad) = hostile_dir("server");
    let args = args_with_textfile(&dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = common::Server::start(&args);
    let start = Instant::now();
    let (status, text) = common::get(&server.addr, "/metrics").unwrap();
    let took = start.elapsed();
    assert_eq!(status, 200);
    // The budget is generous for a shared 2-core machine; the hang it rules out is forever.
    assert!(took < Duration::from_secs(1), "scrape took {took:?}");
    let (status, _) = common::get(&server.addr, "/health").unwrap();
    assert_eq!(status, 200);
    let log = server.stop_and_log().join("\n");
    check_output(&text, &log, &dir, &bad);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The FUSE file system of tests/support/stuckfs.py, mounted for one test; released,
/// unmounted and stopped on drop, whatever the test did.
struct StuckFs {
    child: std::process::Child,
    dir: PathBuf,
    mnt: PathBuf,
}

impl StuckFs {
    /// `None` (after saying why) where FUSE cannot be mounted here.
    fn mount(test: &str) -> Option<StuckFs> {
        if !Path::new("/dev/fuse").exists() {
            eprintln!("SKIPPED: no /dev/fuse on this machine; the FUSE parts of issue 16's tests did not run");
            return None;
        }
        let ok = Command::new("/usr/bin/python3")
            .args(["-c", "import fusepy"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "python3-fusepy is missing: run `make deps` (make test does)"
        );
        let dir = std::env::temp_dir().join(format!("proctap-fuse-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mnt = dir.join("mnt");
        std::fs::create_dir_all(&mnt).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/stuckfs.py");
        let child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(&mnt)
            .arg(dir.join("release"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut fs = StuckFs { child, dir, mnt };
        let start = Instant::now();
        loop {
            if std::fs::read_to_string(fs.mnt.join("name")).is_ok_and(|t| t == "stuck\n") {
                return Some(fs);
            }
            if fs.child.try_wait().unwrap().is_some() || start.elapsed() > Duration::from_secs(20) {
                eprintln!("SKIPPED: mounting a FUSE file system is not permitted here; the FUSE parts of issue 16's tests did not run");
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn release(&self) {
        std::fs::write(self.dir.join("release"), "").unwrap();
    }
}

struct Release<'a>(&'a StuckFs);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0.dir.join("release"), "");
    }
}

impl Drop for StuckFs {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("release"), "");
        let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// GET /metrics as Prometheus sends it (with its scrape timeout); the body and how long it took.
fn scrape(addr: &str, timeout_header: &str) -> (String, Duration) {
    use std::io::{Read, Write};
    let start = Instant::now();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.0\r\nHost: {addr}\r\nX-Prometheus-Scrape-Timeout-Seconds: {timeout_header}\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let took = start.elapsed();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{head}"
    );
    (body.to_string(), took)
}

fn success(text: &str, collector: &str) -> &'static str {
    let line = format!("node_scrape_collector_success{{collector=\"{collector}\"}} ");
    match text.lines().find_map(|l| l.strip_prefix(line.as_str())) {
        Some("1") => "1",
        Some("0") => "0",
        other => panic!("{collector}: {other:?}"),
    }
}

fn count_entries(path: String) -> usize {
    std::fs::read_dir(path).unwrap().count()
}

#[test]
fn a_fuse_mount_whose_reads_never_return_does_not_stop_the_exporter() {
    let Some(fs) = StuckFs::mount("server") else {
        return;
    };
    // A sysfs whose only hwmon device is the FUSE mount; the textfile directory is it too.
    let sys = fs.dir.join("sys");
    std::fs::create_dir_all(sys.join("class/hwmon")).unwrap();
    symlink(&fs.mnt, sys.join("class/hwmon/hwmon0")).unwrap();
    let mut args = args_with_textfile(&fs.mnt);
    args.retain(|a| !a.starts_with("--path.sysfs="));
    args.push(format!("--path.sysfs={}", sys.display()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = common::Server::start(&args);
    // Dropped before the server, so that a failing assertion releases the stuck reads first
    // (a process with a thread in a FUSE read cannot be reaped until it returns).
    let _release = Release(&fs);
    let addr = server.addr.clone();
    let pid = server.child.id();

    // The first scrape waits for the stuck reads until the deadline: 3 s less the 0.5 s margin.
    let first = std::thread::spawn({
        let addr = addr.clone();
        move || scrape(&addr, "3")
    });
    let mut health = Vec::new();
    while !first.is_finished() {
        let start = Instant::now();
        let (status, body) = common::get(&addr, "/health").unwrap();
        health.push(start.elapsed());
        assert_eq!(status, 200, "{body}");
        let (status, _) = common::get(&addr, "/").unwrap();
        assert_eq!(status, 200);
    }
    let (text, took) = first.join().unwrap();
    let slowest = health.iter().max().copied().unwrap_or_default();
    eprintln!(
        "stuck scrape: {took:?}; /health during it: {} answers, slowest {slowest:?}",
        health.len()
    );
    assert!(
        health.len() >= 2,
        "/health answered while the collection ran"
    );
    assert!(slowest < Duration::from_secs(1), "/health took {slowest:?}");
    assert!(
        took >= Duration::from_millis(2000),
        "it waited for the stuck reads: {took:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "answered within the scrape timeout: {took:?}"
    );
    assert_eq!(success(&text, "hwmon"), "0");
    assert_eq!(success(&text, "textfile"), "0");
    assert_eq!(success(&text, "cpu"), "1", "the rest of the scrape goes on");
    assert!(text.contains("\nnode_cpu_seconds_total{"));

    // Later scrapes skip the stuck collectors at once; no threads or descriptors pile up.
    let (text, took) = scrape(&addr, "3");
    eprintln!("scrape while the source is stuck: {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(success(&text, "hwmon"), "0");
    let threads = count_entries(format!("/proc/{pid}/task"));
    let fds = count_entries(format!("/proc/{pid}/fd"));
    let mut slowest = Duration::ZERO;
    for _ in 0..50 {
        let (text, took) = scrape(&addr, "3");
        slowest = slowest.max(took);
        assert_eq!(success(&text, "textfile"), "0");
    }
    eprintln!("50 scrapes while stuck: slowest {slowest:?}; {threads} threads, {fds} fds");
    assert_eq!(
        count_entries(format!("/proc/{pid}/task")),
        threads,
        "threads flat"
    );
    // The last answer's connection may still be open for a moment after the client saw EOF (and
    // one may have been at the first count): no growth is what counts.
    let start = Instant::now();
    loop {
        let now = count_entries(format!("/proc/{pid}/fd"));
        if now <= fds {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "descriptors flat: {now} open, {fds} before the 50 scrapes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Released, the collectors come back on a following scrape.
    fs.release();
    let start = Instant::now();
    let text = loop {
        let (text, _) = scrape(&addr, "3");
        if success(&text, "hwmon") == "1" && success(&text, "textfile") == "1" {
            break text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no recovery: {text}"
        );
    };
    assert!(text.contains("\nstuck_ok 1\n"), "the textfile is merged");
    // The two helpers that were stuck end once their collectors are back on the shared one.
    let start = Instant::now();
    while count_entries(format!("/proc/{pid}/task")) != threads - 2 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} threads, {threads} while stuck",
            count_entries(format!("/proc/{pid}/task"))
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        text.contains("node_hwmon_temp_celsius{chip=\""),
        "hwmon reads again"
    );
    let log = server.stop_and_log().join("\n");
    let stuck_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("did not return within the scrape deadline"))
        .collect();
    assert_eq!(
        stuck_lines.len(),
        2,
        "one line per stuck collector: {stuck_lines:?}"
    );
    let mnt = fs.mnt.display().to_string();
    assert!(
        stuck_lines.iter().any(
            |l| l.contains("collector=hwmon") && l.contains("/class/hwmon/hwmon0/temp1_input:")
        ),
        "{stuck_lines:?}"
    );
    assert!(
        stuck_lines
            .iter()
            .any(|l| l.contains("collector=textfile") && l.contains(&format!("{mnt}/stuck.prom"))),
        "{stuck_lines:?}"
    );
}
