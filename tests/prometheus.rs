//! A real Prometheus (Debian's `prometheus` package) scrapes proctap every second: the target is
//! up, values arrive intact, Prometheus reports no ingestion problems, the alert rules evaluate
//! cleanly, and every query of the Grafana dashboard parses and returns data.
mod common;
#[path = "common/json.rs"]
mod json;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use json::Json;

/// Dashboard panels that may return no data here, each with the reason. The test fails if a
/// title here is not in the dashboard, so the list cannot go stale silently.
const ALLOWED_EMPTY: &[(&str, &str)] = &[];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A Prometheus server in its own temporary directory; killed and removed on drop.
struct Prometheus {
    child: Child,
    dir: PathBuf,
    addr: String,
}

impl Prometheus {
    fn start(config: &str) -> Prometheus {
        let bin = common::require("prometheus");
        let dir = std::env::temp_dir().join(format!("proctap-prometheus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let addr = common::free_addr();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(bin)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn prometheus");
        let mut p = Prometheus { child, dir, addr };
        p.wait_for("ready", Duration::from_secs(10), |p| {
            common::get(&p.addr, "/-/ready").is_ok_and(|(status, _)| status == 200)
        });
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// Polls `done` every 100 ms until it holds; fails the test after `limit`.
    fn wait_for(&mut self, what: &str, limit: Duration, mut done: impl FnMut(&Self) -> bool) {
        let start = Instant::now();
        while !done(self) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "prometheus exited ({status}) waiting for {what}:\n{}",
                    self.log()
                );
            }
            assert!(
                start.elapsed() < limit,
                "prometheus: no {what} within {limit:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An instant query; panics unless Prometheus answers 200 with status "success".
    fn query(&self, expr: &str) -> Vec<Json> {
        let (status, body) =
            common::get(&self.addr, &format!("/api/v1/query?query={}", encode(expr)))
                .unwrap_or_else(|e| panic!("query {expr}: {e}"));
        let j = json::parse(&body).unwrap_or_else(|e| panic!("query {expr}: {e}: {body}"));
        assert_eq!(
            (status, j.get("status").and_then(Json::str)),
            (200, Some("success")),
            "query {expr}: {body}"
        );
        j.at(&["data", "result"])
            .map(|r| r.arr().to_vec())
            .unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Percent-encodes a query parameter.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn label<'a>(sample: &'a Json, name: &str) -> Option<&'a str> {
    sample.at(&["metric", name]).and_then(Json::str)
}

fn value(sample: &Json) -> f64 {
    let v = sample.get("value").map(Json::arr).unwrap_or(&[]);
    v.get(1)
        .and_then(Json::str)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no value in {sample:?}"))
}

/// MemTotal of /proc/meminfo in bytes.
fn meminfo_total() -> f64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = text.lines().find(|l| l.starts_with("MemTotal:")).unwrap();
    let kb: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024.0
}

/// The CPUs /proc/stat lists (the `cpuN` lines), as node_cpu_seconds_total's `cpu` label values.
fn proc_stat_cpus() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|w| w.strip_prefix("cpu"))
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

/// The metric family names in one scrape of a proctap server.
fn family_names(server: &common::Server) -> BTreeSet<String> {
    let (series, _) = common::parse_exposition(&server.get("/metrics").text());
    series
        .keys()
        .map(|k| common::name_of(k).to_string())
        .collect()
}

#[test]
fn prometheus_scrapes_proctap_and_dashboard_queries_return_data() {
    // The live machine (with top-N processes) and the fixture tree (it has sensors a VM lacks).
    let live = common::Server::start_live(&["--top-n", "5"]);
    let fixtures = common::Server::start(&[]);
    let alerts = repo().join("contrib/prometheus/alerts.yml");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files: [{alerts:?}]\n\
         scrape_configs:\n\
         \x20 - job_name: proctap\n    static_configs: [{{targets: [{live:?}]}}]\n\
         \x20 - job_name: proctap-fixtures\n    static_configs: [{{targets: [{fix:?}]}}]\n\
",
        alerts = alerts.display().to_string(),
        live = live.addr,
        fix = fixtures.addr,
    );
    let mut prom = Prometheus::start(&config);

    // Prometheus applies new targets after up to 5 s; then one scrape per second.
    prom.wait_for("up{job=\"proctap\"} == 1", Duration::from_secs(15), |p| {
        p.query("up == 1").len() == 2
    });

    let cpus = proc_stat_cpus();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("CPUs in /proc/stat: {}, nproc: {nproc}", cpus.len());
    let mut got = BTreeSet::new();
    prom.wait_for("rate() over two scrapes", Duration::from_secs(10), |p| {
        got = p
            .query("rate(node_cpu_seconds_total{job=\"proctap\"}[5s])")
            .iter()
            .filter_map(|s| label(s, "cpu").map(str::to_string))
            .collect();
        !got.is_empty()
    });
    assert_eq!(
        got, cpus,
        "rate(node_cpu_seconds_total[5s]): one series set per CPU"
    );
    // No CPU spends more than a second per second in a mode. (Their sum is not checked: a
    // tickless VM's idle counter can stand still for seconds, as on the Firecracker VM here.)
    for s in prom.query("rate(node_cpu_seconds_total{job=\"proctap\"}[5s])") {
        let v = value(&s);
        assert!((0.0..=1.5).contains(&v), "{s:?}: rate {v}");
    }

    let mem = prom.query("node_memory_MemTotal_bytes{job=\"proctap\"}");
    assert_eq!(mem.len(), 1, "{mem:?}");
    assert_eq!(value(&mem[0]), meminfo_total(), "MemTotal vs /proc/meminfo");

    // No target has a scrape error.
    let (_, targets) = common::get(&prom.addr, "/api/v1/targets").unwrap();
    let targets = json::parse(&targets).unwrap();
    let active = targets
        .at(&["data", "activeTargets"])
        .map(Json::arr)
        .unwrap_or(&[]);
    assert_eq!(active.len(), 2, "{targets:?}");
    for t in active {
        assert_eq!(t.get("health").and_then(Json::str), Some("up"), "{t:?}");
        assert_eq!(t.get("lastError").and_then(Json::str), Some(""), "{t:?}");
    }

    // Prometheus's own counters of rejected samples stay at zero.
    let (_, own) = common::get(&prom.addr, "/metrics").unwrap();
    let (own, _) = common::parse_exposition(&own);
    for name in [
        "prometheus_target_scrapes_sample_duplicate_timestamp_total",
        "prometheus_target_scrapes_sample_out_of_order_total",
        "prometheus_target_scrapes_exceeded_sample_limit_total",
        "prometheus_target_scrapes_sample_out_of_bounds_total",
    ] {
        assert_eq!(own.get(name), Some(&0.0), "{name}");
    }

    check_rules(&mut prom);
    check_mixin_alerts(&prom);
    check_dashboard(&prom, &live, &fixtures);
    drop(prom);
    assert!(live.stop_and_log().iter().all(|l| !l.contains("panic")));
}

/// Every rule of contrib/prometheus/alerts.yml is loaded and evaluates without an error.
fn check_rules(prom: &mut Prometheus) {
    let mut groups = Json::Null;
    prom.wait_for("a rule evaluation", Duration::from_secs(5), |p| {
        let (_, body) = common::get(&p.addr, "/api/v1/rules").unwrap();
        groups = json::parse(&body).unwrap();
        let rules: Vec<&Json> = rule_list(&groups);
        !rules.is_empty()
            && rules.iter().all(|r| {
                r.get("lastEvaluation")
                    .and_then(Json::str)
                    .is_some_and(|t| !t.starts_with("0001"))
            })
    });
    let rules = rule_list(&groups);
    println!("alert rules evaluated by Prometheus: {}", rules.len());
    for r in rules {
        assert_eq!(r.get("health").and_then(Json::str), Some("ok"), "{r:?}");
    }
}

/// The alerts of node_exporter's node-mixin (docs/node-mixin/alerts/alerts.libsonnet) but the
/// two systemd ones, with the mixin's default selectors and thresholds and proctap's jobs as
/// `nodeExporterSelector`.
const MIXIN_ALERTS: &[(&str, &str)] = &[
    (
        "NodeFilesystemSpaceFillingUp (warning)",
        r#"(node_filesystem_avail_bytes{job=~"proctap.*",fstype!="",mountpoint!=""} / node_filesystem_size_bytes{job=~"proctap.*",fstype!="",mountpoint!=""} * 100 < 15 and predict_linear(node_filesystem_avail_bytes{job=~"proctap.*",fstype!="",mountpoint!=""}[6h], 24*60*60) < 0 and node_filesystem_readonly{job=~"proctap.*",fstype!="",mountpoint!=""} == 0)"#,
    ),
    (
        "NodeFilesystemSpaceFillingUp (critical)",
        r#"(node_filesystem_avail_bytes{job=~"proctap.*",fstype!="",mountpoint!=""} / node_filesystem_size_bytes{job=~"proctap.*",fstype!="",mountpoint!=""} * 100 < 10 and predict_linear(node_filesystem_avail_bytes{job=~"proctap.*",fstype!="",mountpoint!=""}[6h], 4*60*60) < 0 and node_filesystem_readonly{job=~"proctap.*",fstype!="",mountpoint!=""} == 0)"#,
    ),
    (
        "NodeFilesystemAlmostOutOfSpace (warning)",
        r#"(node_filesystem_avail_bytes{job=~"proctap.*",fstype!="",mountpoint!=""} / node_filesystem_size_bytes{job=~"proctap.*",fstype!="",mountpoint!=""} * 100 < 5 and node_filesystem_readonly{job=~"proctap.*",fstype!="",mountpoint!=""} == 0)"#,
    ),
    (
        "NodeFilesystemAlmostOutOfSpace (critical)",
        r#"(node_filesystem_avail_bytes{job=~"proctap.*",fstype!="",mountpoint!=""} / node_filesystem_size_bytes{job=~"proctap.*",fstype!="",mountpoint!=""} * 100 < 3 and node_filesystem_readonly{job=~"proctap.*",fstype!="",mountpoint!=""} == 0)"#,
    ),
    (
        "NodeFilesystemFilesFillingUp (warning)",
        r#"(node_filesystem_files_free{job=~"proctap.*",fstype!="",mountpoint!=""} / node_filesystem_files{job=~"proctap.*",fstype!="",mountpoint!=""} * 100 < 40 and predict_linear(node_filesystem_files_free{job=~"proctap.*",fstype!="",mountpoint!=""}[6h], 24*60*60) < 0 and node_filesystem_readonly{job=~"proctap.*",fstype!="",mountpoint!=""} == 0)"#,
    ),
    (
        "NodeFilesystemFilesFillingUp (critical)",
        r#"(node_filesystem_files_free{job=~"proctap.*",fstype!="",mountpoint!=""} / node_filesystem_files{job=~"proctap.*",fstype!="",mountpoint!=""} * 100 < 20 and predict_linear(node_filesystem_files_free{job=~"proctap.*",fstype!="",mountpoint!=""}[6h], 4*60*60) < 0 and node_filesystem_readonly{job=~"proctap.*",fstype!="",mountpoint!=""} == 0)"#,
    ),
    (
        "NodeFilesystemAlmostOutOfFiles (warning)",
        r#"(node_filesystem_files_free{job=~"proctap.*",fstype!="",mountpoint!=""} / node_filesystem_files{job=~"proctap.*",fstype!="",mountpoint!=""} * 100 < 5 and node_filesystem_readonly{job=~"proctap.*",fstype!="",mountpoint!=""} == 0)"#,
    ),
    (
        "NodeFilesystemAlmostOutOfFiles (critical)",
        r#"(node_filesystem_files_free{job=~"proctap.*",fstype!="",mountpoint!=""} / node_filesystem_files{job=~"proctap.*",fstype!="",mountpoint!=""} * 100 < 3 and node_filesystem_readonly{job=~"proctap.*",fstype!="",mountpoint!=""} == 0)"#,
    ),
    (
        "NodeNetworkReceiveErrs",
        r#"rate(node_network_receive_errs_total{job=~"proctap.*"}[2m]) / rate(node_network_receive_packets_total{job=~"proctap.*"}[2m]) > 0.01"#,
    ),
    (
        "NodeNetworkTransmitErrs",
        r#"rate(node_network_transmit_errs_total{job=~"proctap.*"}[2m]) / rate(node_network_transmit_packets_total{job=~"proctap.*"}[2m]) > 0.01"#,
    ),
    (
        "NodeHighNumberConntrackEntriesUsed",
        r#"(node_nf_conntrack_entries{job=~"proctap.*"} / node_nf_conntrack_entries_limit) > 0.75"#,
    ),
    (
        "NodeTextFileCollectorScrapeError",
        r#"node_textfile_scrape_error{job=~"proctap.*"} == 1"#,
    ),
    (
        "NodeClockSkewDetected",
        r#"(node_timex_offset_seconds{job=~"proctap.*"} > 0.05 and deriv(node_timex_offset_seconds{job=~"proctap.*"}[5m]) >= 0) or (node_timex_offset_seconds{job=~"proctap.*"} < -0.05 and deriv(node_timex_offset_seconds{job=~"proctap.*"}[5m]) <= 0)"#,
    ),
    (
        "NodeClockNotSynchronising",
        r#"min_over_time(node_timex_sync_status{job=~"proctap.*"}[5m]) == 0 and node_timex_maxerror_seconds{job=~"proctap.*"} >= 16"#,
    ),
    (
        "NodeRAIDDegraded",
        r#"node_md_disks_required{job=~"proctap.*",device=~"(/dev/)?(mmcblk.p.+|nvme.+|rbd.+|sd.+|vd.+|xvd.+|dm-.+|md.+|dasd.+)"} - ignoring (state) (node_md_disks{state="active",job=~"proctap.*",device=~"(/dev/)?(mmcblk.p.+|nvme.+|rbd.+|sd.+|vd.+|xvd.+|dm-.+|md.+|dasd.+)"}) > 0"#,
    ),
    (
        "NodeRAIDDiskFailure",
        r#"node_md_disks{state="failed",job=~"proctap.*",device=~"(/dev/)?(mmcblk.p.+|nvme.+|rbd.+|sd.+|vd.+|xvd.+|dm-.+|md.+|dasd.+)"} > 0"#,
    ),
    (
        "NodeFileDescriptorLimit (warning)",
        r#"(node_filefd_allocated{job=~"proctap.*"} * 100 / node_filefd_maximum{job=~"proctap.*"} > 70)"#,
    ),
    (
        "NodeFileDescriptorLimit (critical)",
        r#"(node_filefd_allocated{job=~"proctap.*"} * 100 / node_filefd_maximum{job=~"proctap.*"} > 90)"#,
    ),
    (
        "NodeCPUHighUsage",
        r#"sum without(mode) (avg without (cpu) (rate(node_cpu_seconds_total{job=~"proctap.*", mode!~"idle|iowait"}[2m]))) * 100 > 90"#,
    ),
    (
        "NodeSystemSaturation",
        r#"node_load1{job=~"proctap.*"} / count without (cpu, mode) (node_cpu_seconds_total{job=~"proctap.*", mode="idle"}) > 2"#,
    ),
    (
        "NodeMemoryMajorPagesFaults",
        r#"rate(node_vmstat_pgmajfault{job=~"proctap.*"}[5m]) > 500"#,
    ),
    (
        "NodeMemoryHighUtilization",
        r#"100 - (node_memory_MemAvailable_bytes{job=~"proctap.*"} / node_memory_MemTotal_bytes{job=~"proctap.*"} * 100) > 90"#,
    ),
    (
        "NodeDiskIOSaturation",
        r#"rate(node_disk_io_time_weighted_seconds_total{job=~"proctap.*", device=~"(/dev/)?(mmcblk.p.+|nvme.+|rbd.+|sd.+|vd.+|xvd.+|dm-.+|md.+|dasd.+)"}[5m]) > 10"#,
    ),
    (
        "NodeBondingDegraded",
        r#"(node_bonding_slaves{job=~"proctap.*"} - node_bonding_active{job=~"proctap.*"}) != 0"#,
    ),
];

/// Every mixin alert's expression evaluates, and every metric it reads has series from the
/// live machine or the fixture tree. On the fixtures, the degraded RAID5 (md1, a failed disk)
/// and the bond with a slave down must make their alerts' expressions true.
fn check_mixin_alerts(prom: &Prometheus) {
    assert_eq!(
        MIXIN_ALERTS.len(),
        24,
        "26 mixin alerts less the 2 systemd ones"
    );
    let mut report = BTreeMap::new();
    for (alert, expr) in MIXIN_ALERTS {
        prom.query(expr);
        for name in metric_names(expr) {
            let jobs: BTreeSet<String> = prom
                .query(&format!("{name}{{job=~\"proctap.*\"}}"))
                .iter()
                .filter_map(|s| label(s, "job").map(str::to_string))
                .collect();
            assert!(!jobs.is_empty(), "{alert}: no series of {name}");
            let where_ = if jobs.contains("proctap") {
                "live"
            } else {
                "fixtures"
            };
            report.insert(name.to_string(), where_);
        }
    }
    println!("metrics of the node-mixin alerts with series: {report:?}");
    for (alert, device, label_name) in [
        ("NodeRAIDDegraded", "md1", "device"),
        ("NodeRAIDDiskFailure", "md1", "device"),
        ("NodeBondingDegraded", "bond0", "master"),
    ] {
        let expr = MIXIN_ALERTS.iter().find(|(a, _)| *a == alert).unwrap().1;
        let firing: Vec<String> = prom
            .query(expr)
            .iter()
            .filter(|s| label(s, "job") == Some("proctap-fixtures"))
            .filter_map(|s| label(s, label_name).map(str::to_string))
            .collect();
        assert_eq!(firing, [device], "{alert} on the fixtures");
    }
}

fn rule_list(rules: &Json) -> Vec<&Json> {
    let groups = rules.at(&["data", "groups"]).map(Json::arr).unwrap_or(&[]);
    groups
        .iter()
        .flat_map(|g| g.get("rules").map(Json::arr).unwrap_or(&[]))
        .collect()
}

/// Collects `(panel title, expr)` for every query in the dashboard, and `label_values()`
/// queries of the template variables as `(variable name, expr)`.
fn dashboard_queries(j: &Json, title: &str, out: &mut Vec<(String, String)>) {
    match j {
        Json::Obj(fields) => {
            let title = j.get("title").and_then(Json::str).unwrap_or(title);
            if let Some(expr) = j.get("expr").and_then(Json::str) {
                out.push((title.to_string(), expr.to_string()));
            }
            for (k, v) in fields {
                if k == "templating" {
                    for var in v.get("list").map(Json::arr).unwrap_or(&[]) {
                        let name = var.get("name").and_then(Json::str).unwrap_or("?");
                        let q = var
                            .get("query")
                            .and_then(|q| q.str().or(q.get("query").and_then(Json::str)));
                        if let Some(q) = q.filter(|q| q.starts_with("label_values(")) {
                            out.push((format!("variable {name}"), q.to_string()));
                        }
                    }
                } else {
                    dashboard_queries(v, title, out);
                }
            }
        }
        Json::Arr(items) => items.iter().for_each(|i| dashboard_queries(i, title, out)),
        _ => {}
    }
}

/// The PromQL Prometheus runs for a Grafana query on `job`/`instance`.
fn substitute(expr: &str, job: &str, instance: &str) -> String {
    let mut e = expr.to_string();
    for (var, val) in [
        ("${job}", job),
        ("$job", job),
        ("${instance}", instance),
        ("$instance", instance),
        ("$__rate_interval", "5s"),
        ("$__interval", "2s"),
        ("$__range", "1m"),
    ] {
        e = e.replace(var, val);
    }
    // label_values(selector, label) becomes the selector itself.
    if let Some(inner) = e
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
    {
        e = match inner.rsplit_once(',') {
            Some((sel, _label)) => sel.trim().to_string(),
            None => inner.trim().to_string(),
        };
    }
    e
}

fn metric_names(expr: &str) -> Vec<&str> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| {
            ["node_", "namedprocess_", "proctap_", "process_"]
                .iter()
                .any(|p| w.starts_with(p))
        })
        .collect()
}

fn check_dashboard(prom: &Prometheus, live: &common::Server, fixtures: &common::Server) {
    let path = repo().join("contrib/grafana/proctap.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let dash = json::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    check_dashboard_shape(&dash, &text);
    let mut queries = Vec::new();
    dashboard_queries(&dash, "", &mut queries);
    assert!(
        queries.len() >= 20,
        "only {} queries in the dashboard",
        queries.len()
    );

    let mut exported = family_names(live);
    exported.extend(family_names(fixtures));

    let titles: BTreeSet<&str> = queries.iter().map(|(t, _)| t.as_str()).collect();
    for (t, _) in ALLOWED_EMPTY {
        assert!(
            titles.contains(t),
            "ALLOWED_EMPTY names {t:?}, not in the dashboard"
        );
    }
    let mut report = BTreeMap::new();
    for (title, expr) in &queries {
        for name in metric_names(expr) {
            assert!(
                exported.contains(name),
                "{title}: {name} is not a series proctap exports"
            );
        }
        let on_live = prom.query(&substitute(expr, "proctap", &live.addr));
        let on_fixtures = prom.query(&substitute(expr, "proctap-fixtures", &fixtures.addr));
        let verdict = match (on_live.is_empty(), on_fixtures.is_empty()) {
            (false, _) => "data (live)",
            (true, false) => "data (fixtures)",
            (true, true) => {
                let reason = ALLOWED_EMPTY
                    .iter()
                    .find(|(t, _)| t == title)
                    .map(|(_, r)| *r);
                assert!(reason.is_some(), "{title}: no data for {expr}");
                "empty (allowed)"
            }
        };
        if verdict != "empty (allowed)" && ALLOWED_EMPTY.iter().any(|(t, _)| t == title) {
            println!("{title}: returns data now; remove it from ALLOWED_EMPTY");
        }
        *report.entry(verdict).or_insert(0) += 1;
    }
    println!("dashboard queries: {report:?}");
}

/// Units a query of an obvious kind must be drawn in: (what the expression looks like, units).
/// Ratios (`/`, `1 - `) are left to the panel's author.
const UNITS_OF: &[(&str, &[&str])] = &[
    ("rate(*_bytes_total", &["Bps", "binBps"]),
    ("rate(*_seconds_total", &["percentunit", "percent", "s"]),
    ("*_bytes", &["bytes", "decbytes"]),
    ("*_celsius", &["celsius"]),
    ("*_temp", &["celsius"]),
    ("*_rpm", &["rotrpm"]),
    ("*_watt", &["watt"]),
    ("*_hertz", &["hertz"]),
    ("*_fds", &["short", "none"]),
];

/// Each query of a panel: (refId, expr, unit, axis placement), from the field defaults and the
/// overrides matched by refId; Grafana's "auto" placement is the left axis.
fn query_units(panel: &Json) -> Vec<(String, String, String, String)> {
    let defaults = panel.at(&["fieldConfig", "defaults"]);
    let default_unit = defaults
        .and_then(|d| d.get("unit"))
        .and_then(Json::str)
        .unwrap_or("");
    let default_axis = defaults
        .and_then(|d| d.at(&["custom", "axisPlacement"]))
        .and_then(Json::str)
        .unwrap_or("auto");
    let overrides = panel
        .at(&["fieldConfig", "overrides"])
        .map(Json::arr)
        .unwrap_or(&[]);
    let mut out = Vec::new();
    for t in panel.get("targets").map(Json::arr).unwrap_or(&[]) {
        let r = t.get("refId").and_then(Json::str).unwrap_or("").to_string();
        let expr = t.get("expr").and_then(Json::str).unwrap_or("").to_string();
        let (mut unit, mut axis) = (default_unit.to_string(), default_axis.to_string());
        for o in overrides {
            let by_ref = o.at(&["matcher", "id"]).and_then(Json::str) == Some("byFrameRefID")
                && o.at(&["matcher", "options"]).and_then(Json::str) == Some(r.as_str());
            if !by_ref {
                continue;
            }
            for p in o.get("properties").map(Json::arr).unwrap_or(&[]) {
                let v = p.get("value").and_then(Json::str).unwrap_or("").to_string();
                match p.get("id").and_then(Json::str) {
                    Some("unit") => unit = v,
                    Some("custom.axisPlacement") => axis = v,
                    _ => {}
                }
            }
        }
        if axis == "auto" {
            axis = "left".into();
        }
        out.push((r, expr, unit, axis));
    }
    out
}

/// The units UNITS_OF requires for `expr`, if it is of an obvious kind.
fn required_units(expr: &str) -> Option<&'static [&'static str]> {
    if expr.contains(" / ") || expr.starts_with("1 - ") {
        return None;
    }
    let names = metric_names(expr);
    let name = names.first()?;
    UNITS_OF.iter().find_map(|(pattern, units)| {
        let (prefix, suffix) = pattern.split_once('*').unwrap_or(("", pattern));
        let wrapped = prefix.is_empty() || expr.contains(&format!("{prefix}{name}"));
        (wrapped && name.ends_with(suffix)).then_some(*units)
    })
}

/// What Grafana needs to import the dashboard: a title, a uid, a Prometheus data source
/// variable and the job/instance variables every query is filtered by; no declared input that
/// nothing uses; one unit per axis, the right unit for the obvious kinds of query; and panels
/// that need proctap's flags say so where their data would be.
fn check_dashboard_shape(dash: &Json, text: &str) {
    for input in dash.get("__inputs").map(Json::arr).unwrap_or(&[]) {
        let name = input.get("name").and_then(Json::str).unwrap_or("?");
        assert!(
            text.contains(&format!("${{{name}}}")),
            "__inputs declares {name}, unused"
        );
    }
    for panel in dash.get("panels").map(Json::arr).unwrap_or(&[]) {
        let title = panel.get("title").and_then(Json::str).unwrap_or("?");
        let queries = query_units(panel);
        let mut axes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (r, expr, unit, axis) in &queries {
            assert!(!unit.is_empty(), "{title} {r}: no unit");
            if let Some(units) = required_units(expr) {
                assert!(
                    units.contains(&unit.as_str()),
                    "{title} {r}: {expr} drawn in {unit}, not one of {units:?}"
                );
            }
            axes.entry(axis.clone()).or_default().insert(unit.clone());
        }
        for (axis, units) in &axes {
            assert_eq!(
                units.len(),
                1,
                "{title}: units {units:?} share the {axis} axis"
            );
        }
        if queries
            .iter()
            .any(|(_, e, _, _)| e.contains("proctap_process_"))
        {
            let no_value = panel
                .at(&["fieldConfig", "defaults", "noValue"])
                .and_then(Json::str)
                .unwrap_or("");
            assert!(
                no_value.contains("--top-n"),
                "{title}: nothing says it needs --top-n"
            );
        }
    }
    assert!(dash.get("title").and_then(Json::str).is_some());
    assert!(dash.get("uid").and_then(Json::str).is_some());
    let vars: Vec<&str> = dash
        .at(&["templating", "list"])
        .map(Json::arr)
        .unwrap_or(&[])
        .iter()
        .filter_map(|v| v.get("name").and_then(Json::str))
        .collect();
    assert_eq!(vars, ["datasource", "job", "instance"]);
    let mut queries = Vec::new();
    dashboard_queries(dash, "", &mut queries);
    for (title, expr) in queries.iter().filter(|(t, _)| !t.starts_with("variable ")) {
        assert!(
            expr.contains("job=~\"$job\"") && expr.contains("instance=~\"$instance\""),
            "{title}: query not filtered by $job and $instance: {expr}"
        );
    }
}

#[test]
fn substitution_turns_grafana_queries_into_promql() {
    assert_eq!(
        substitute(
            "rate(x{job=~\"$job\",instance=~\"$instance\"}[$__rate_interval])",
            "j",
            "h:1"
        ),
        "rate(x{job=~\"j\",instance=~\"h:1\"}[5s])"
    );
    assert_eq!(
        substitute("label_values(up{job=~\"$job\"}, instance)", "j", ""),
        "up{job=~\"j\"}"
    );
    assert_eq!(
        metric_names("sum(rate(node_cpu_seconds_total{mode!=\"idle\"}[5s]))"),
        ["node_cpu_seconds_total"]
    );
    assert_eq!(
        required_units("rate(process_cpu_seconds_total[5s])"),
        Some(&["percentunit", "percent", "s"][..])
    );
    assert_eq!(
        required_units("process_resident_memory_bytes{job=\"j\"}"),
        Some(&["bytes", "decbytes"][..])
    );
    assert_eq!(
        required_units("rate(node_disk_read_bytes_total[5s])"),
        Some(&["Bps", "binBps"][..])
    );
    assert_eq!(required_units("1 - a_bytes / b_bytes"), None);
}

#[test]
fn dashboard_shape_checks_catch_mixed_axes_and_silent_panels() {
    let path = repo().join("contrib/grafana/proctap.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let dash = json::parse(&text).unwrap();
    check_dashboard_shape(&dash, &text);
    // The dashboard as it was: bytes, CPU and fds of the exporter on one "short" axis, a
    // declared input nothing used, top-process panels that stay empty without a word.
    for (what, from, to) in [
        (
            "one axis",
            "\"id\": \"custom.axisPlacement\",\n                \"value\": \"right\"",
            "\"id\": \"custom.axisPlacement\",\n                \"value\": \"auto\"",
        ),
        (
            "input",
            "\"annotations\": {",
            "\"__inputs\": [{\"name\": \"DS_PROMETHEUS\"}],\n  \"annotations\": {",
        ),
        ("noValue", "\"noValue\":", "\"noValueX\":"),
        ("unit", "\"unit\": \"bytes\"", "\"unit\": \"short\""),
    ] {
        assert!(text.contains(from), "{what}: {from}");
        let broken = text.replacen(from, to, 1);
        let dash = json::parse(&broken).unwrap();
        let caught = std::panic::catch_unwind(|| check_dashboard_shape(&dash, &broken));
        assert!(caught.is_err(), "{what}: not caught");
    }
}
