//! The namedprocess collector on the live machine: a spawned process's sched counters, and a
//! differential test against Debian's prometheus-process-exporter grouping by comm.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
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

/// The test workload, in Python so that it has real threads with names of their own: `threads`
/// names itself pe-threads and runs three workers that sleep 5 ms in a loop (so their context
/// switches grow: two named pe-worker-a, one pe-worker-b) and one that blocks (pe-idle);
/// `parent` names itself pe-parent and starts `/bin/sleep` and a shell (`pe-sh`, a symlink to
/// /bin/sh, so that no other shell on the machine shares its name) running a sleep.
const WORKLOAD: &str = r#"
import ctypes, subprocess, sys, threading, time
libc = ctypes.CDLL(None)
def name(n):
    libc.prctl(15, n.encode(), 0, 0, 0)  # PR_SET_NAME: this thread's comm
def work(n):
    name(n)
    while True:
        time.sleep(0.005)
def idle(n):
    name(n)
    threading.Event().wait()
if sys.argv[1] == "threads":
    name("pe-threads")
    for n, f in [("pe-worker-a", work), ("pe-worker-a", work), ("pe-worker-b", work), ("pe-idle", idle)]:
        threading.Thread(target=f, args=(n,), daemon=True).start()
else:
    name("pe-parent")
    kids = [subprocess.Popen(["/bin/sleep", "600"]),
            subprocess.Popen([sys.argv[2], "-c", "/bin/sleep 600; exit 0"])]
print("ready", flush=True)
time.sleep(600)
"#;

/// Starts the workload and waits until its threads and children are there.
fn workload(dir: &std::path::Path) -> Vec<common::KilledGroup> {
    use std::io::BufRead;
    let python = common::require("python3");
    let script = dir.join("workload.py");
    std::fs::write(&script, WORKLOAD).unwrap();
    let sh = dir.join("pe-sh");
    std::os::unix::fs::symlink("/bin/sh", &sh).unwrap();
    let mut procs = Vec::new();
    for (mode, tasks) in [("threads", 5), ("parent", 1)] {
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(mode)
            .arg(&sh)
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("start the python workload");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n", "workload {mode}");
        let pid = child.id();
        let n = std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .count();
        assert_eq!(n, tasks, "threads of the {mode} workload");
        procs.push(common::KilledGroup(child));
    }
    // The parent's children (and the shell's sleep) exist once /bin/sh has forked.
    let sleeps = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == b"/bin/sleep\x00600\x00")
            })
            .count()
    };
    let start = Instant::now();
    while sleeps() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "children never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    procs
}

/// Per group: the values compared exactly, and the counters compared as rates.
#[derive(Debug, Default, Clone, PartialEq)]
struct Group {
    exact: BTreeMap<String, f64>,
    counters: BTreeMap<String, f64>,
    states: BTreeMap<String, f64>,
}

/// groupname → what the differential compares, from one scrape.
fn by_group(text: &str) -> BTreeMap<String, Group> {
    let (s, _) = parse_exposition(text);
    let mut out: BTreeMap<String, Group> = BTreeMap::new();
    for (k, v) in &s {
        let Some(g) = k
            .split("groupname=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        else {
            continue;
        };
        let fam = common::name_of(k).trim_start_matches("namedprocess_namegroup_");
        let thread = k
            .split("threadname=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(|t| format!("{{{t}}}"))
            .unwrap_or_default();
        let entry = out.entry(g.to_string()).or_default();
        match fam {
            "num_procs" | "num_threads" => {
                entry.exact.insert(fam.into(), *v);
            }
            "thread_count" => {
                entry.exact.insert(format!("thread_count{thread}"), *v);
            }
            "states" => {
                let state = k
                    .split("state=\"")
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .unwrap_or("");
                entry.states.insert(state.into(), *v);
            }
            "context_switches_total" | "thread_context_switches_total"
                if k.contains("ctxswitchtype=\"voluntary\"") =>
            {
                entry.counters.insert(format!("{fam}{thread}"), *v);
            }
            _ => {}
        }
    }
    out
}

/// One exporter's two readings of the same groups, `secs` apart.
struct Reading {
    first: BTreeMap<String, Group>,
    second: BTreeMap<String, Group>,
    secs: f64,
}

impl Reading {
    /// Groups whose exact values did not change between the two readings.
    fn stable(&self, g: &str) -> Option<&Group> {
        let a = self.first.get(g)?;
        let b = self.second.get(g)?;
        (a.exact == b.exact).then_some(b)
    }

    fn rate(&self, g: &str, counter: &str) -> Option<f64> {
        let a = self.first.get(g)?.counters.get(counter)?;
        let b = self.second.get(g)?.counters.get(counter)?;
        Some((b - a) / self.secs)
    }
}

/// Runs process-exporter with `args` and proctap with the same arguments (process-exporter's
/// own spelling), reads both twice about two seconds apart, and compares every group stable in
/// both: process, thread and per-thread-name counts and the sum of the states exactly (each
/// state when both exporters saw it unchanged), and context switch rates within 15% or 30/s.
/// Returns the table rows and the compared groups.
fn differential(args: &[String], label: &str) -> (Vec<String>, BTreeSet<String>) {
    let exe = common::require("prometheus-process-exporter");
    let addr = common::free_addr();
    let _pe = common::Killed(
        Command::new(&exe)
            .args(args)
            .args(["-web.listen-address", &addr, "-gather-smaps=false"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start process-exporter"),
    );
    let start = Instant::now();
    while common::get_metrics(&addr).is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "process-exporter did not answer"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let ours = || proctap_live(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let timed = |f: &(dyn Fn() -> String + Sync)| {
        let t0 = Instant::now();
        let text = f();
        (t0 + (Instant::now() - t0) / 2, text)
    };
    let pe = || common::get_metrics(&addr).expect("process-exporter scrape");
    // Both exporters read at the same time, so that their rates cover nearly the same window:
    // the workload's switch rate moves with the machine's load (Python threads and the GIL),
    // and reads taken one after the other compared windows shifted by a scrape.
    let both = || {
        std::thread::scope(|s| {
            let a = s.spawn(|| timed(&pe));
            let b = s.spawn(|| timed(&ours));
            (a.join().unwrap(), b.join().unwrap())
        })
    };
    let ((pe_t1, pe1), (pt_t1, pt1)) = both();
    std::thread::sleep(Duration::from_secs(2));
    let ((pe_t2, pe2), (pt_t2, pt2)) = both();
    let pe = Reading {
        first: by_group(&pe1),
        second: by_group(&pe2),
        secs: (pe_t2 - pe_t1).as_secs_f64(),
    };
    let pt = Reading {
        first: by_group(&pt1),
        second: by_group(&pt2),
        secs: (pt_t2 - pt_t1).as_secs_f64(),
    };
    let mut rows = Vec::new();
    let mut diffs = Vec::new();
    let mut compared = BTreeSet::new();
    // The exporters themselves and the test harness change between reads.
    let skip = ["prometheus-proc", "proctap", "processes-", "cargo", "rustc"];
    for g in pe.second.keys() {
        if skip
            .iter()
            .any(|s| g.starts_with(s) || g.contains("prometheus-process-exporter"))
        {
            continue;
        }
        let (Some(a), Some(b)) = (pe.stable(g), pt.stable(g)) else {
            continue;
        };
        compared.insert(g.clone());
        if a.exact != b.exact {
            diffs.push(format!(
                "{g}: process-exporter {:?}, proctap {:?}",
                a.exact, b.exact
            ));
        }
        let total = |gr: &Group| gr.states.values().sum::<f64>();
        if total(a) != total(b) {
            diffs.push(format!(
                "{g}: states process-exporter {:?}, proctap {:?}",
                a.states, b.states
            ));
        }
        let states_steady =
            |r: &Reading| r.first.get(g).map(|x| &x.states) == r.second.get(g).map(|x| &x.states);
        if states_steady(&pe) && states_steady(&pt) && a.states != b.states {
            diffs.push(format!(
                "{g}: states process-exporter {:?}, proctap {:?}",
                a.states, b.states
            ));
        }
        for counter in a.counters.keys() {
            let (Some(ra), Some(rb)) = (pe.rate(g, counter), pt.rate(g, counter)) else {
                diffs.push(format!("{g}: {counter} missing in proctap"));
                continue;
            };
            if (ra - rb).abs() > (0.15 * ra.max(rb)).max(30.0) {
                diffs.push(format!(
                    "{g}: {counter} rate process-exporter {ra:.0}/s, proctap {rb:.0}/s"
                ));
            }
            if ra > 50.0 {
                rows.push(format!(
                    "| {label} | {g} | {counter} | {ra:.0}/s | {rb:.0}/s |"
                ));
            }
        }
        rows.push(format!(
            "| {label} | {g} | {} | {} | equal |",
            a.exact
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            b.states
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    assert!(
        diffs.is_empty(),
        "{label}: {} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    (rows, compared)
}

/// The config examples of process-exporter's README, rewritten for the workload above (its
/// comm and exe names in place of bash, postgres, upstart), and -procnames/-namemapping, give
/// the same groups and numbers from proctap, run with the same arguments, as from Debian's
/// process-exporter 0.7.10 on this machine.
#[test]
fn process_exporter_configs_give_the_same_groups_and_numbers() {
    let dir = std::env::temp_dir().join(format!("proctap-pediff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _workload = workload(&dir);
    let pe = common::require("prometheus-process-exporter");
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let package_default = write(
        "default.yml",
        "process_names:\n  - name: \"{{.Comm}}\"\n    cmdline:\n    - '.+'\n",
    );
    let selectors = write(
        "selectors.yml",
        &format!(
            r#"process_names:
  # comm is the second field of /proc/<pid>/stat minus parens.
  - comm:
    - pe-threads

  # exe is argv[0]. If no slashes, only basename of argv[0] need match.
  # If exe contains slashes, argv[0] must match exactly.
  - exe:
    - sleep
    - {sh}

  # cmdline is a list of regexps applied to argv.
  # Each must match, and any captures are added to the .Matches map.
  - name: "{{{{.ExeFull}}}}:{{{{.Matches.Cfgfile}}}}"
    exe:
    - {pe}
    cmdline:
    - -config.path\s+(?P<Cfgfile>\S+)
"#,
            sh = dir.join("pe-sh").display()
        ),
    );
    let home = write(
        "home.yml",
        &format!(
            r#"process_names:
  - comm:
    - pe-threads
    - pe-parent
  - exe:
    - {sh}
    cmdline:
    - -c
    name: sh:-c
"#,
            sh = dir.join("pe-sh").display()
        ),
    );
    let cases: Vec<(&str, Vec<String>, &[&str])> = vec![
        (
            "package default",
            vec!["-config.path".into(), package_default],
            &["pe-threads", "pe-parent", "pe-sh"],
        ),
        (
            "README selectors",
            vec!["-config.path".into(), selectors],
            &["python3", "pe-sh"],
        ),
        (
            "README home machine",
            vec!["-config.path".into(), home, "-children=true".into()],
            &["python3", "sh:-c"],
        ),
        (
            "-procnames/-namemapping",
            vec![
                "-procnames".into(),
                "pe-threads,pe-parent".into(),
                "-namemapping".into(),
                r"pe-parent,(parent)".into(),
            ],
            &["pe-threads", "pe-parent:parent"],
        ),
    ];
    let mut table = vec![
        "| config | group | compared | process-exporter | proctap |".to_string(),
        "| --- | --- | --- | --- | --- |".to_string(),
    ];
    for (label, args, ours) in cases {
        let (rows, compared) = differential(&args, label);
        for g in ours {
            assert!(
                compared.contains(*g),
                "{label}: group {g} was not compared (compared: {compared:?})"
            );
        }
        table.extend(rows);
    }
    std::fs::remove_dir_all(&dir).unwrap();
    eprintln!("{}", table.join("\n"));
}

/// A process that exits between the listing of /proc and the reading of one of its files is
/// skipped, whatever the file: no scrape fails while short-lived processes come and go (a
/// shell loop forking ten /bin/true at a time, as on a build host).
#[test]
fn no_scrape_fails_while_processes_come_and_go() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let server = common::Server::start_live(&["--collectors", "namedprocess"]);
    let stop = Arc::new(AtomicBool::new(false));
    let forked = Arc::new(AtomicUsize::new(0));
    let churn = {
        let (stop, forked) = (stop.clone(), forked.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let kids: Vec<_> = (0..10)
                    .filter_map(|_| Command::new("/bin/true").spawn().ok())
                    .collect();
                forked.fetch_add(kids.len(), Ordering::Relaxed);
                for mut k in kids {
                    let _ = k.wait();
                }
            }
        })
    };
    let mut failed = Vec::new();
    // At least 300 scrapes, and on until 1,000 processes came and went (a faster scrape
    // sees fewer forks in 300; bounded in time).
    let start = Instant::now();
    let mut scrapes = 0;
    while scrapes < 300
        || (forked.load(Ordering::Relaxed) < 1000 && start.elapsed() < Duration::from_secs(60))
    {
        let i = scrapes;
        scrapes += 1;
        let r = server.get("/metrics");
        assert_eq!(r.status, 200);
        let text = r.text();
        if !text.contains("node_scrape_collector_success{collector=\"namedprocess\"} 1\n") {
            failed.push(i);
        }
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    let log = server.stop_and_log();
    let n = forked.load(Ordering::Relaxed);
    eprintln!("{scrapes} scrapes while {n} processes came and went");
    assert!(
        n >= 1000,
        "too little churn to mean anything: {n} processes"
    );
    assert!(
        failed.is_empty(),
        "{} of {scrapes} scrapes failed: {:?}\n{}",
        failed.len(),
        failed,
        log.join("\n")
    );
}

/// A broken process-exporter config stops proctap before it serves: exit status 2 and one line
/// naming the file, the line and what was expected.
#[test]
fn a_malformed_process_exporter_config_stops_proctap() {
    let dir = std::env::temp_dir().join(format!("proctap-pebad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pe.yml");
    for (text, want) in [
        (
            "process_names:\n  - comm:\n    - bash\n   - sh\n",
            "pe.yml:4: indentation of 3 spaces",
        ),
        (
            "process_names:\n\t- comm: [bash]\n",
            "pe.yml:2: tabs are not allowed",
        ),
        (
            "process_names:\n  - comm: [bash]\n    users: [root]\n",
            "pe.yml:3: key users: unknown key in a process_names entry",
        ),
        (
            "process_names:\n  - cmdline:\n    - '(?P<x>'\n",
            "pe.yml:3: key cmdline: bad regex",
        ),
        (
            "process_names:\n  - name: '{{.Exe}}'\n    comm: [bash]\n",
            "pe.yml:2: key name: template \"{{.Exe}}\": unknown field \".Exe\"",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let out = Command::new(common::bin())
            .arg(format!("-config.path={}", path.display()))
            .args(["--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
        assert!(
            err.contains(want),
            "{text:?}: {err:?} should contain {want:?}"
        );
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// README's "process-exporter's config, unchanged": its YAML block, written to a file as it
/// stands, and the command line shown with it (process-exporter's one-dash flags) give on the
/// fixture tree the series the README shows; so does Debian's package config for the Java lines.
#[test]
fn readme_process_exporter_config_is_used_unchanged() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("### process-exporter's config, unchanged")
        .expect("the README section");
    let end = start + readme[start..].find("\n### ").expect("the next section");
    // The fenced blocks of the section, with their language tags.
    let blocks: Vec<(&str, &str)> = readme[start..end]
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|b| b.split_once('\n').unwrap_or((b, "")))
        .collect();
    let [("yaml", yaml), ("sh", command), ("", postgres), ("", java)] = blocks[..] else {
        panic!("expected a yaml, a sh and two output blocks, found {blocks:?}");
    };
    let dir = std::env::temp_dir().join(format!("proctap-pereadme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let readme_yml = dir.join("config.yml");
    std::fs::write(&readme_yml, yaml).unwrap();
    let debian_yml = dir.join("debian.yml");
    std::fs::write(
        &debian_yml,
        "process_names:\n  - name: \"{{.Comm}}\"\n    cmdline:\n    - '.+'\n",
    )
    .unwrap();
    // The README's command line, with the fixture tree for /host/proc and its threads left on
    // (the thread families are what the Java lines show).
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(
        words,
        [
            "proctap",
            "-config.path",
            "/etc/process-exporter/config.yml",
            "-procfs",
            "/host/proc",
            "-threads=false"
        ]
    );
    let proc = common::fixtures().join("proc").display().to_string();
    for (config, threads, want) in [
        (&readme_yml, "-threads=false", postgres),
        (&debian_yml, "-threads=true", java),
    ] {
        let out = Command::new(common::bin())
            .args(["once", "--collectors", "namedprocess"])
            .args(["-config.path", &config.display().to_string()])
            .args(["-procfs", &proc, threads])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: BTreeSet<&str> = text.lines().collect();
        for line in want.lines() {
            assert!(
                lines.contains(line),
                "{config:?}: README shows {line:?}, proctap wrote:\n{text}"
            );
        }
        if threads == "-threads=false" {
            assert!(
                !text.contains("namedprocess_namegroup_thread_count"),
                "{text}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
