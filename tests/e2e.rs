//! End-to-end: `proctap once` against `fixtures/` must equal `fixtures/e2e-output.txt`, less the
//! families that depend on the clock, the running process or the live kernel.
//!
//! Regenerate the golden file after an intended change with
//! `UPDATE_GOLDEN=1 cargo test --test e2e` and review the diff.
mod common;

use common::{stable_lines, GOLDEN_FLAGS};

use std::fs;

#[test]
fn golden_output() {
    let out = common::once(GOLDEN_FLAGS);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "proctap once failed on the fixtures:\n{stderr}"
    );
    let got = stable_lines(&String::from_utf8(out.stdout).expect("utf-8 output"));
    let path = common::fixtures().join("e2e-output.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(&path, &got).expect("write golden");
        return;
    }
    let want = fs::read_to_string(&path).expect("read fixtures/e2e-output.txt");
    if got != want {
        let diff: Vec<String> = diff_lines(&want, &got).into_iter().take(40).collect();
        panic!(
            "output differs from fixtures/e2e-output.txt (UPDATE_GOLDEN=1 cargo test --test e2e \
             rewrites it):\n{}",
            diff.join("\n")
        );
    }
}

#[test]
fn output_is_byte_stable() {
    let a = stable_lines(&String::from_utf8(common::once(GOLDEN_FLAGS).stdout).unwrap());
    let b = stable_lines(&String::from_utf8(common::once(GOLDEN_FLAGS).stdout).unwrap());
    assert_eq!(a, b);
}

#[test]
fn every_enabled_collector_succeeds_on_the_fixtures() {
    let out = String::from_utf8(common::once(&[]).stdout).unwrap();
    let (series, _) = common::parse_exposition(&out);
    let failed: Vec<&String> = series
        .iter()
        .filter(|(k, v)| k.starts_with("node_scrape_collector_success{") && **v != 1.0)
        .map(|(k, _)| k)
        .collect();
    assert!(failed.is_empty(), "failed collectors: {failed:?}");
    let n = series
        .keys()
        .filter(|k| k.starts_with("node_scrape_collector_success{"))
        .count();
    let default = common::default_collectors();
    assert!(default > 30, "{default}");
    assert_eq!(n, default, "one success series per default collector");
}

#[test]
fn a_missing_file_fails_only_its_collector() {
    let tmp = std::env::temp_dir().join(format!("proctap-e2e-{}", std::process::id()));
    let proc_dir = tmp.join("proc");
    fs::create_dir_all(&proc_dir).unwrap();
    fs::write(proc_dir.join("loadavg"), "0.5 0.25 0.125 1/2 3\n").unwrap();
    fs::write(proc_dir.join("meminfo"), "MemTotal: garbage\n").unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["once", "--collectors", "loadavg,meminfo,filefd"])
        .arg(format!("--path.procfs={}", proc_dir.display()))
        .output()
        .unwrap();
    fs::remove_dir_all(&tmp).unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed collector makes `once` exit 1"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("node_load1 0.5\n"));
    assert!(text.contains("node_scrape_collector_success{collector=\"loadavg\"} 1\n"));
    assert!(text.contains("node_scrape_collector_success{collector=\"meminfo\"} 0\n"));
    assert!(text.contains("node_scrape_collector_success{collector=\"filefd\"} 0\n"));
    assert!(
        !text.contains("node_memory_"),
        "a failed collector leaves no partial output"
    );
    let log = String::from_utf8(out.stderr).unwrap();
    assert!(
        log.contains("meminfo:1: "),
        "the log names file and line: {log}"
    );
    assert!(
        log.contains("sys/fs/file-nr"),
        "the log names the missing file: {log}"
    );
}

fn diff_lines(want: &str, got: &str) -> Vec<String> {
    let w: std::collections::BTreeSet<&str> = want.lines().collect();
    let g: std::collections::BTreeSet<&str> = got.lines().collect();
    let mut out: Vec<String> = w.difference(&g).map(|l| format!("- {l}")).collect();
    out.extend(g.difference(&w).map(|l| format!("+ {l}")));
    out
}
