//! namedprocess's kept descriptors on the live machine (tests/support/kept.py does the work):
//! a PID reused by a new process is read as that process, never through the old one's kept
//! descriptors; and under `prlimit --nofile=64:64` proctap keeps no more than its cap and its
//! values stay right.
mod common;

use std::process::Command;

fn run(prefix: &[&str], args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/kept.py");
    let (cmd, pre) = prefix.split_first().unwrap_or((&"python3", &[]));
    let out = Command::new(cmd)
        .args(pre)
        .args(if prefix.is_empty() {
            vec![]
        } else {
            vec!["python3"]
        })
        .arg(script)
        .args(args)
        .output()
        .expect("run tests/support/kept.py");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kept.py {args:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn a_reused_pid_is_read_as_the_new_process() {
    common::require("unshare");
    // A PID namespace of our own, where ns_last_pid hands the old PID to the new process.
    let out = run(
        &["unshare", "-Urpf", "--mount-proc"],
        &["pid-reuse", common::bin()],
    );
    assert!(out.contains("ok the kernel"), "{out}");
    assert!(out.contains("ok proctap"), "{out}");
}

#[test]
fn kept_descriptors_stay_under_the_cap() {
    common::require("prlimit");
    let out = run(&[], &["cap", common::bin(), "40"]);
    assert!(out.contains("ok cap: 40 sleepers"), "{out}");
}
