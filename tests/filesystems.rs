//! btrfs and xfs on real, mounted filesystems against node_exporter 1.5: what a fixture tree
//! cannot show (the btrfs device statistics come from ioctls on the mount point). A raid1 btrfs
//! on two loop devices and an XFS on a third are made and mounted in a private mount namespace
//! (tests/live-filesystems.sh; the mounts die with it, the loop devices are detached on exit).
//!
//! Needs root, loop devices and the kernel's btrfs and xfs; `make deps` installs mkfs.btrfs and
//! mkfs.xfs. Without them this test fails, never skips.
#![cfg(feature = "server")]
mod common;

use std::process::Command;

use common::{name_of, parse_exposition};

#[test]
fn mounted_btrfs_and_xfs_match_node_exporter() {
    let node_exporter = common::require("prometheus-node-exporter");
    common::require("mkfs.btrfs");
    common::require("mkfs.xfs");
    common::require("unshare");
    let dir = std::env::temp_dir().join(format!("proctap-livefs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/live-filesystems.sh");
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", script])
        .arg(&dir)
        .arg(common::bin())
        .arg(&node_exporter)
        .arg(common::free_addr())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "live-filesystems.sh failed (root, loop devices, btrfs and xfs needed):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let devices = read("devices.txt");
    let (theirs, their_types) = parse_exposition(&read("node_exporter.txt"));
    let (ours, our_types) = parse_exposition(&read("proctap.txt"));
    std::fs::remove_dir_all(&dir).unwrap();

    // Only the filesystems the script made: the host may have others that change meanwhile.
    let loops: Vec<String> = devices
        .split_whitespace()
        .map(|d| d.trim_start_matches("/dev/").to_string())
        .collect();
    let uuid = theirs
        .keys()
        .find(|k| k.starts_with("node_btrfs_info{") && k.contains("label=\"live-raid1\""))
        .and_then(|k| k.split("uuid=\"").nth(1))
        .and_then(|u| u.split('"').next())
        .expect("node_exporter sees the btrfs the script made")
        .to_string();
    let ours_too = |k: &&String| {
        let n = name_of(k);
        (n.starts_with("node_btrfs_") && k.contains(&uuid))
            || (n.starts_with("node_xfs_") && k.contains(&format!("device=\"{}\"", loops[2])))
    };
    let mut compared = 0;
    let mut unequal = Vec::new();
    for key in theirs.keys().filter(ours_too) {
        compared += 1;
        match ours.get(key) {
            Some(v) if *v == theirs[key] => {}
            other => unequal.push(format!(
                "{key}: node_exporter {}, proctap {other:?}",
                theirs[key]
            )),
        }
    }
    assert!(unequal.is_empty(), "differ:\n{}", unequal.join("\n"));
    for (fam, t) in &their_types {
        if let Some(o) = our_types.get(fam) {
            assert_eq!(o, t, "type of {fam}");
        }
    }
    // The ioctl view: per device of the raid1, its errors (5 types) and unused bytes.
    for dev in &loops[..2] {
        let errors = ours
            .keys()
            .filter(|k| k.starts_with("node_btrfs_device_errors_total{"))
            .filter(|k| k.contains(&format!("device=\"{dev}\"")) && k.contains(&uuid))
            .count();
        assert_eq!(errors, 5, "device errors of {dev}");
    }
    assert!(
        compared >= 28 + 39,
        "only {compared} series compared: 28 btrfs, 39 xfs expected"
    );
    println!(
        "mounted btrfs (raid1, 2 devices) and xfs: {compared} series equal to node_exporter 1.5"
    );
}
