//! `promtool check metrics` (Debian's `prometheus` package) on the fixture output: no parse
//! errors, and no lint problems outside the families node_exporter's own CI also ignores.
mod common;

use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn promtool_check_metrics_on_fixture_output() {
    check(&[]);
}

/// With the collectors and options that are off by default.
#[test]
fn promtool_check_metrics_with_off_by_default_collectors() {
    check(&[
        "--collector.processes",
        "--collector.softirqs",
        "--collector.cpu.info",
        "--collector.cpu.info.flags-include=.",
        "--collector.cpu.info.bugs-include=.",
        "--collector.stat.softirq",
    ]);
}

/// With every per-process feature on: selected processes, sched, smaps, listening ports.
#[test]
fn promtool_check_metrics_with_selected_processes() {
    check(&[
        "--proc-name=postgres",
        "--proc-pattern=kafka",
        "--top-n=3",
        "--proc-smaps",
        "--group-by=class,user",
    ]);
}

fn check(flags: &[&str]) {
    let promtool = common::require("promtool");
    let out = common::once(flags);
    assert!(out.status.success());
    if flags.iter().any(|f| f.starts_with("--proc-")) {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("proctap_process_listening_port{"), "{text}");
    }
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let res = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    let problems: Vec<&str> = report
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| {
            !common::PROMTOOL_LINT_EXEMPT
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "promtool check metrics:\n{}",
        problems.join("\n")
    );
    assert!(!report.contains("error while linting"), "{report}");
}
