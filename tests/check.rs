//! `proctap check` on the fixtures (every collector works: exit 0) and on a damaged copy
//! (exit 1, the failing collector and its file named).
mod common;

use std::process::Command;

#[test]
fn check_on_fixtures_lists_every_collector_and_exits_0() {
    let out = Command::new(common::bin())
        .arg("check")
        .args(common::fixture_args())
        .output()
        .unwrap();
    let report = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report}");
    // The collectors of the `server` feature (default on).
    let server = cfg!(feature = "server");
    let enabled = common::default_collectors();
    let summary = format!("all {enabled} enabled collectors work\n");
    if server {
        for want in [
            "nfs           ok         105 series\n    readable    ",
            "/fixtures/proc/net/rpc/nfsd\n",
            "zfs           ok         102 series\n",
            "/fixtures/proc/spl/kstat/zfs (11 entries)\n",
            "btrfs         ok          35 series\n",
            "selinux       ok          14 series\n",
        ] {
            assert!(report.contains(want), "missing {want:?} in\n{report}");
        }
    }
    for want in [
        "loadavg       ok           3 series\n",
        "cpu           ok          46 series\n",
        "uname         ok           1 series\n",
        "/fixtures/proc/loadavg\n",
        "/fixtures/sys/class/hwmon (8 entries)\n",
        "/fixtures/textfile (",
        "namedprocess  ok         335 series\n",
        "/fixtures/proc/[pid]/stat: 15 readable, 0 denied\n",
        &summary,
        "powersupplyclass ok          19 series\n",
        "/fixtures/run/udev/data/ (11 entries)\n",
        "mdadm         ok          26 series\n",
    ] {
        assert!(report.contains(want), "missing {want:?} in\n{report}");
    }
    let collectors = report.lines().filter(|l| !l.starts_with(' ')).count();
    assert_eq!(
        collectors,
        enabled + 2,
        "a header, {enabled} collectors, a summary:\n{report}"
    );
    assert!(
        !report.contains("FAILED") && !report.contains("missing"),
        "{report}"
    );
}

#[test]
fn check_names_the_broken_file_and_exits_1() {
    let dir = std::env::temp_dir().join(format!("proctap-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let st = Command::new("cp")
        .arg("-a")
        .arg(common::fixtures())
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    let root = dir.join("fixtures");
    std::fs::remove_file(root.join("proc/meminfo")).unwrap();
    std::fs::write(root.join("proc/loadavg"), "0.52 x\n").unwrap();
    let out = Command::new(common::bin())
        .arg("check")
        .arg(format!("--path.procfs={}", root.join("proc").display()))
        .arg(format!("--path.sysfs={}", root.join("sys").display()))
        .arg(format!("--path.rootfs={}", root.display()))
        .arg("--collectors=loadavg,meminfo,stat,textfile")
        .output()
        .unwrap();
    let report = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{report}");
    let meminfo = root.join("proc/meminfo");
    for want in [
        "meminfo       FAILED       0 series\n".to_string(),
        format!("    missing     {}\n", meminfo.display()),
        format!(
            "    error       {}: No such file or directory (os error 2)\n",
            meminfo.display()
        ),
        "loadavg       FAILED       0 series\n".to_string(),
        format!("    error       {}/proc/loadavg:1:", root.display()),
        "stat          ok           6 series\n".to_string(),
        "    not set     --collector.textfile.directory\n".to_string(),
        "    to enable   set --collector.textfile.directory to a directory of *.prom files\n"
            .to_string(),
        "2 of 4 enabled collectors failed\n".to_string(),
    ] {
        assert!(report.contains(&want), "missing {want:?} in\n{report}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
