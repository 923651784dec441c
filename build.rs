//! Records the git revision, branch and commit date and the rustc version for
//! `proctap_build_info` and `--version`.
use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = output(&rustc, &["--version"])
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    let revision = std::env::var("PROCTAP_REVISION")
        .ok()
        .or_else(|| output("git", &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let branch = std::env::var("PROCTAP_BRANCH")
        .ok()
        .or_else(|| output("git", &["rev-parse", "--abbrev-ref", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    // The commit's date, not the clock's, so that a rebuild of the same commit is the same.
    let date = std::env::var("PROCTAP_BUILD_DATE")
        .ok()
        .or_else(|| {
            output(
                "env",
                &[
                    "TZ=UTC",
                    "git",
                    "-c",
                    "log.showSignature=false",
                    "log",
                    "-1",
                    "--format=%cd",
                    "--date=format-local:%Y%m%d-%H:%M:%S",
                ],
            )
        })
        .unwrap_or_else(|| "unknown".into());
    let user = std::env::var("PROCTAP_BUILD_USER").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=PROCTAP_RUSTC={version}");
    println!("cargo:rustc-env=PROCTAP_BRANCH={branch}");
    println!("cargo:rustc-env=PROCTAP_BUILD_DATE={date}");
    println!("cargo:rustc-env=PROCTAP_BUILD_USER={user}");
    println!("cargo:rerun-if-env-changed=PROCTAP_BRANCH");
    println!("cargo:rerun-if-env-changed=PROCTAP_BUILD_DATE");
    println!("cargo:rerun-if-env-changed=PROCTAP_BUILD_USER");
    println!("cargo:rustc-env=PROCTAP_REVISION={revision}");
    println!("cargo:rerun-if-env-changed=PROCTAP_REVISION");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
