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
