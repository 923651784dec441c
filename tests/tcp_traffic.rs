//! namedprocess's per-process TCP bytes on the live machine (tests/support/tcp.py does the
//! work over 127.0.0.1): a selected process that sends and receives 4 MiB each way shows them
//! within 2 bytes per socket (its SYN and FIN in tcpi_bytes_acked); a socket closed between
//! scrapes keeps its bytes in the totals; another user's process is a read error, not fatal.
mod common;

use std::process::Command;

fn run(args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/tcp.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(common::bin())
        .args(args)
        .output()
        .expect("run tests/support/tcp.py");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "tcp.py {args:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn a_selected_process_has_its_tcp_bytes_and_keeps_them_when_a_socket_closes() {
    let out = run(&[]);
    assert!(
        out.contains("ok 4 MiB each way: receive 4194304, transmit 419430"),
        "{out}"
    );
    assert!(out.contains("ok closed socket kept"), "{out}");
    assert!(
        out.contains("ok another 1 MiB on a new socket: receive 5242880"),
        "{out}"
    );
}

/// As root, proctap runs as nobody (setpriv) so that the child is another user's process;
/// as another user there is no process of someone else that the test can start, so it skips.
#[test]
fn another_users_process_is_a_read_error_not_a_failed_scrape() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("skipped: needs root to run proctap as another user (setpriv)");
        return;
    }
    common::require("setpriv");
    let out = run(&["--as-nobody"]);
    assert!(out.contains("ok another user's process: no bytes"), "{out}");
}
