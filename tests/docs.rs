//! Docs move with the code: every flag `--help` lists is in the man page and the README, and
//! the man page renders without warnings.
mod common;

use std::collections::BTreeSet;
use std::process::Command;

fn flags_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("--") {
        let rest = &text[i + 2..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
            .unwrap_or(rest.len());
        let flag = rest[..end].trim_end_matches('.');
        if flag.len() > 1 && flag.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.insert(format!("--{flag}"));
        }
    }
    out
}

fn help_flags() -> BTreeSet<String> {
    let out = Command::new(common::bin()).arg("--help").output().unwrap();
    let flags = flags_in(&String::from_utf8(out.stdout).unwrap());
    assert!(
        flags.contains("--path.procfs") && flags.len() > 15,
        "{flags:?}"
    );
    flags
}

#[test]
fn readme_documents_every_flag() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let documented = flags_in(&readme);
    let missing: Vec<_> = help_flags().difference(&documented).cloned().collect();
    assert!(missing.is_empty(), "README.md lacks {missing:?}");
}

#[test]
fn man_page_renders_and_documents_every_flag() {
    common::require("man");
    let out = Command::new("man")
        .args([
            "--warnings",
            "-E",
            "UTF-8",
            "-l",
            concat!(env!("CARGO_MANIFEST_DIR"), "/man/proctap.1"),
        ])
        .env("MANWIDTH", "200")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap();
    assert!(out.status.success());
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(warnings.trim().is_empty(), "man warnings: {warnings}");
    // Without a terminal, man may still embolden with overstrikes ("x\x08x"): drop them.
    let mut page = String::new();
    for c in String::from_utf8(out.stdout)
        .unwrap()
        .replace('\u{2010}', "-")
        .chars()
    {
        if c == '\x08' {
            page.pop();
        } else {
            page.push(c);
        }
    }
    let documented = flags_in(&page);
    let missing: Vec<_> = help_flags().difference(&documented).cloned().collect();
    assert!(missing.is_empty(), "man/proctap.1 lacks {missing:?}");
}
