//! The namedprocess collector on the live machine: a spawned process's sched counters, and a
//! differential test against Debian's prometheus-process-exporter grouping by comm.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{parse_exposition, Series};

/// `proctap once` on the real /proc with only the namedprocess collector.
fn proctap_live(extra: &[&str]) -> String {
    let out = Command::new(common::bin())
        .args(["once", "--collectors", "namedprocess"])
        .args(extra)
        .output()
        .expect("run proctap");
    assert!(
        out.status.success(),
        "proctap once failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `key : value` fields of /proc/<pid>/sched.
fn sched(pid: u32) -> BTreeMap<String, f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/sched")).expect("read sched");
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .filter_map(|(k, v)| Some((k.trim().to_string(), v.trim().parse().ok()?)))
        .collect()
}

/// Series of `family` whose labels include `pid="<pid>"` (and `extra`), by their full key.
fn of_pid<'a>(s: &'a Series, family: &str, pid: u32, extra: &str) -> Vec<(&'a String, f64)> {
    let pid = format!("pid=\"{pid}\"");
    s.iter()
        .filter(|(k, _)| common::name_of(k) == family && k.contains(&pid) && k.contains(extra))
        .map(|(k, v)| (k, *v))
        .collect()
}

#[test]
fn a_named_process_has_its_pid_and_sched_counters() {
    let dir = std::env::temp_dir().join(format!("proctap-pinger-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("pinger");
    std::fs::copy("/bin/sleep", &exe).expect("copy /bin/sleep");
    // Another test thread forking while the copy was open for writing holds that descriptor
    // until its exec, and exec of the copy fails with ETXTBSY meanwhile: retry briefly.
    let start = Instant::now();
    let child = loop {
        match Command::new(&exe).arg("60").spawn() {
            Err(e)
                if e.raw_os_error() == Some(libc::ETXTBSY)
                    && start.elapsed() < Duration::from_secs(5) =>
            {
                std::thread::sleep(Duration::from_millis(20))
            }
            spawned => break common::Killed(spawned.expect("spawn pinger")),
        }
    };
    let pid = child.0.id();
    // Poll until the exec happened and comm is ours.
    let start = Instant::now();
    while std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .as_deref()
        != Some("pinger\n")
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "pinger never started"
        );
        std::thread::yield_now();
    }
    let before = sched(pid);
    let out = proctap_live(&["--proc-name", "pinger"]);
    let after = sched(pid);
    drop(child);
    std::fs::remove_dir_all(&dir).unwrap();
    let (s, _) = parse_exposition(&out);
    let threads = of_pid(&s, "proctap_process_threads", pid, "name=\"pinger\"");
    assert_eq!(threads.len(), 1, "one series for pid {pid}:\n{out}");
    assert_eq!(threads[0].1, 1.0);
    let others: BTreeSet<&str> = s
        .keys()
        .filter(|k| common::name_of(k) == "proctap_process_threads")
        .map(|k| k.as_str())
        .collect();
    assert_eq!(others.len(), 1, "only pinger is selected: {others:?}");
    let within = |key: &str, got: f64, scale: f64| {
        let lo = before[key] * scale;
        let hi = after[key] * scale;
        assert!(
            got >= lo - 1e-9 && got <= hi + 1e-9,
            "{key}: proctap says {got}, /proc/{pid}/sched {lo}..{hi}"
        );
    };
    for (ty, key) in [
        ("voluntary", "nr_voluntary_switches"),
        ("involuntary", "nr_involuntary_switches"),
    ] {
        let v = of_pid(
            &s,
            "proctap_process_sched_switches_total",
            pid,
            &format!("type=\"{ty}\""),
        );
        assert_eq!(v.len(), 1, "{ty} switches of {pid}:\n{out}");
        within(key, v[0].1, 1.0);
    }
    let run = of_pid(&s, "proctap_process_sched_run_seconds_total", pid, "");
    assert_eq!(run.len(), 1);
    assert!(run[0].1 > 0.0, "a process that ran has run time");
    within("se.sum_exec_runtime", run[0].1, 1e-3);
    let migrations = of_pid(&s, "proctap_process_sched_migrations_total", pid, "");
    within("se.nr_migrations", migrations[0].1, 1.0);
}

const COMPARED: [&str; 4] = [
    "namedprocess_namegroup_num_procs",
    "namedprocess_namegroup_num_threads",
    "namedprocess_namegroup_open_filedesc",
    "namedprocess_namegroup_memory_bytes",
];

/// groupname → the compared values, [procs, threads, fds, resident bytes].
fn groups(text: &str) -> BTreeMap<String, [f64; 4]> {
    let (s, _) = parse_exposition(text);
    let mut out: BTreeMap<String, [f64; 4]> = BTreeMap::new();
    for (k, v) in &s {
        let Some(i) = COMPARED.iter().position(|f| *f == common::name_of(k)) else {
            continue;
        };
        if i == 3 && !k.contains("memtype=\"resident\"") {
            continue;
        }
        let Some(g) = k
            .split("groupname=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        else {
            continue;
        };
        out.entry(g.to_string()).or_default()[i] = *v;
    }
    out
}

/// Both exporters group by comm on the live machine, each read twice, alternately. Groups whose
/// values did not change between either exporter's two reads must agree: process, thread and fd
/// counts exactly, resident memory within 1% or 256 KiB (a page fault between reads). A group
/// that changes while the test runs (a package manager's trigger, a cron job) is left out.
#[test]
fn groups_match_process_exporter_on_the_live_machine() {
    let exe = common::require("prometheus-process-exporter");
    let dir = std::env::temp_dir().join(format!("proctap-pe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.yml");
    // '.*' also matches the empty command line of zombies, which proctap counts too.
    std::fs::write(
        &config,
        "process_names:\n  - name: \"{{.Comm}}\"\n    cmdline:\n    - '.*'\n",
    )
    .unwrap();
    let addr = common::free_addr();
    let _pe = common::Killed(
        Command::new(exe)
            .arg(format!("-config.path={}", config.display()))
            .arg(format!("-web.listen-address={addr}"))
            .args(["-threads=false", "-children=false", "-gather-smaps=false"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start process-exporter"),
    );
    let start = Instant::now();
    let first = loop {
        if let Some(body) = common::get_metrics(&addr) {
            break body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "process-exporter did not answer on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let ours = proctap_live(&[]);
    let second = common::get_metrics(&addr).expect("second process-exporter scrape");
    let ours_again = proctap_live(&[]);
    std::fs::remove_dir_all(&dir).unwrap();
    let (a, b, p, q) = (
        groups(&first),
        groups(&second),
        groups(&ours),
        groups(&ours_again),
    );
    // The exporters themselves and the test harness change between reads.
    let skip = ["prometheus-proc", "proctap", "processes-", "cargo", "rustc"];
    let mut compared = 0;
    let mut diffs = Vec::new();
    for (g, va) in &a {
        if skip.iter().any(|s| g.starts_with(s)) || b.get(g) != Some(va) {
            continue;
        }
        let Some(vp) = p.get(g) else { continue };
        if q.get(g).map(|vq| &vq[..3]) != Some(&vp[..3]) {
            continue;
        }
        compared += 1;
        for i in 0..3 {
            if vp[i] != va[i] {
                diffs.push(format!(
                    "{g}: {} proctap {} process-exporter {}",
                    COMPARED[i], vp[i], va[i]
                ));
            }
        }
        let tol = (va[3] * 0.01).max(256.0 * 1024.0);
        if (vp[3] - va[3]).abs() > tol {
            diffs.push(format!(
                "{g}: resident proctap {} process-exporter {}",
                vp[3], va[3]
            ));
        }
    }
    eprintln!("compared {compared} groups stable in process-exporter");
    assert!(
        diffs.is_empty(),
        "{} of {compared} groups differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    assert!(
        compared >= 3,
        "too few stable groups to compare ({compared}): process-exporter {:?}, proctap {:?}",
        a.keys().collect::<Vec<_>>(),
        p.keys().collect::<Vec<_>>()
    );
}

#[test]
fn subgroups_prints_the_effective_table() {
    let run = |args: &[&str]| {
        Command::new(common::bin())
            .arg("subgroups")
            .args(args)
            .output()
            .expect("run proctap subgroups")
    };
    let out = run(&["--group", "db"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("GROUP") && first.contains("SUBGROUP"),
        "{first}"
    );
    assert!(text.lines().skip(1).all(|l| l.starts_with("db ")), "{text}");
    assert!(text.contains("comm:postgres"), "{text}");
    let dir = std::env::temp_dir().join(format!("proctap-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, "myapp-api = \"myapp/api\"\n").unwrap();
    let out = run(&["--proc-rules", rules.to_str().unwrap(), "--group", "myapp"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("myapp") && text.contains("rules-file"),
        "{text}"
    );
    std::fs::write(&rules, "myapp-api = \"no slash\"\n").unwrap();
    let out = run(&["--proc-rules", rules.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("rules.toml:1"),
        "the error names file and line: {err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let out = run(&["--group", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Another user's /proc/<pid>/io is unreadable: counted, never a failed scrape. As root the
/// test drops to nobody (setpriv) so that every root process is another user's.
#[test]
fn unreadable_files_are_counted_not_fatal() {
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    let mut cmd = if root {
        let mut c = Command::new(common::require("setpriv"));
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            common::bin(),
        ]);
        c
    } else {
        Command::new(common::bin())
    };
    let out = cmd
        .args(["once", "--collectors", "namedprocess"])
        .output()
        .expect("run proctap");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (s, _) = parse_exposition(&String::from_utf8(out.stdout).unwrap());
    let io_errors = s["proctap_process_read_errors_total{file=\"io\"}"];
    let procs: f64 = s
        .iter()
        .filter(|(k, _)| common::name_of(k) == "namedprocess_namegroup_num_procs")
        .map(|(_, v)| v)
        .sum();
    assert!(
        io_errors >= 1.0 && io_errors <= procs,
        "io read errors {io_errors} of {procs} processes"
    );
    assert_eq!(
        s["node_scrape_collector_success{collector=\"namedprocess\"}"],
        1.0
    );
}
