//! The static musl builds: statically linked, and the aarch64 one, run under qemu against the
//! fixtures, prints the golden output. `make test` builds both (`make static static-aarch64`)
//! and runs these; plain `cargo test` lists them as ignored.
mod common;

use std::path::PathBuf;
use std::process::Command;

fn binary(target: &str) -> PathBuf {
    let path = common::target_dir().join(format!("{target}/release/proctap"));
    assert!(
        path.is_file(),
        "{} is missing: run `make static static-aarch64` (make test does)",
        path.display()
    );
    path
}

fn assert_static(target: &str) {
    common::require("file");
    let out = Command::new("file").arg(binary(target)).output().unwrap();
    let desc = String::from_utf8(out.stdout).unwrap();
    assert!(
        desc.contains("statically linked") || desc.contains("static-pie linked"),
        "{desc}"
    );
    assert!(
        desc.contains("stripped") && !desc.contains("not stripped"),
        "{desc}"
    );
}

#[test]
#[ignore = "needs the static builds: make test runs it"]
fn x86_64_musl_is_static_and_stripped() {
    assert_static("x86_64-unknown-linux-musl");
}

#[test]
#[ignore = "needs the static builds: make test runs it"]
fn aarch64_musl_is_static_and_stripped() {
    assert_static("aarch64-unknown-linux-musl");
}

/// No line differs by architecture: page size and USER_HZ are the same on both, and the
/// volatile families (uname, the process's own metrics) are filtered as in the e2e test.
#[test]
#[ignore = "needs the static builds: make test runs it"]
fn aarch64_under_qemu_prints_the_golden_output() {
    let qemu = common::require("qemu-aarch64-static");
    let out = Command::new(qemu)
        .arg(binary("aarch64-unknown-linux-musl"))
        .arg("once")
        .args(common::fixture_args())
        .args(common::GOLDEN_FLAGS)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = common::stable_lines(&String::from_utf8(out.stdout).unwrap());
    let want = std::fs::read_to_string(common::fixtures().join("e2e-output.txt")).unwrap();
    assert!(
        got == want,
        "aarch64 output differs from fixtures/e2e-output.txt"
    );
}
