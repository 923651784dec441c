//! Swapping proctap in for node_exporter: `collect[]`/`exclude[]`, node_exporter_build_info,
//! `--web.disable-exporter-metrics`, `--web.max-requests`, debug logging, and kernels that lack
//! a collector's source.
mod common;
#[path = "common/json.rs"]
mod json;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::{parse_exposition, Server};

/// The metric families of an exposition.
fn families(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect()
}

/// The collectors of `node_scrape_collector_success`, in output order.
fn collectors(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("node_scrape_collector_success{collector=\""))
        .filter_map(|l| l.split('"').next())
        .map(str::to_string)
        .collect()
}

/// Families every answer carries whatever was asked: the meta-metrics and the exporter's own.
fn is_meta(family: &str) -> bool {
    family.starts_with("node_scrape_collector_")
        || family.ends_with("_build_info")
        || family.starts_with("process_")
}

fn check_filters(server: &Server) {
    let all = server.get("/metrics").text();
    let every = families(&all);
    let r = server.get("/metrics?collect[]=loadavg&collect%5B%5D=meminfo");
    assert_eq!(r.status, 200);
    let text = r.text();
    assert_eq!(collectors(&text), ["loadavg", "meminfo"]);
    let got: BTreeSet<String> = families(&text)
        .into_iter()
        .filter(|f| !is_meta(f))
        .collect();
    let want: BTreeSet<String> = every
        .iter()
        .filter(|f| f.starts_with("node_load") || f.starts_with("node_memory_"))
        .cloned()
        .collect();
    assert!(want.len() > 10, "{want:?}");
    assert_eq!(got, want, "exactly the named collectors' families");
    assert!(text.contains("\nnode_exporter_build_info{"));

    let text = server
        .get("/metrics?exclude[]=namedprocess&exclude[]=interrupts")
        .text();
    let names = collectors(&text);
    // The default collectors less uname (off in these tests), less the 2 excluded.
    let enabled = common::default_collectors() - 1;
    assert_eq!(
        names.len(),
        enabled - 2,
        "{enabled} enabled less 2: {names:?}"
    );
    assert!(!names
        .iter()
        .any(|n| n == "namedprocess" || n == "interrupts"));
    assert!(!text.contains("namedprocess_namegroup_") && !text.contains("node_interrupts_total"));
    assert!(text.contains("\nnode_load1 ") && text.contains("\nnode_cpu_seconds_total{"));

    for (query, want) in [
        ("collect[]=cpu&collect[]=gpu", "unknown collector \"gpu\""),
        ("exclude[]=nosuch", "unknown collector \"nosuch\""),
        ("collect[]=cpu&exclude[]=meminfo", "cannot be combined"),
        ("collect[]=uname", "collector \"uname\" is not enabled"),
    ] {
        let r = server.get(&format!("/metrics?{query}"));
        assert_eq!(r.status, 400, "{query}");
        assert!(r.text().contains(want), "{query}: {}", r.text());
    }
    // An unfiltered scrape afterwards has everything again.
    assert_eq!(collectors(&server.get("/metrics").text()), collectors(&all));
}

#[test]
fn collect_and_exclude_pick_collectors() {
    check_filters(&Server::start(&["--no-collector.uname"]));
}

#[test]
fn collect_and_exclude_within_the_interval_use_the_cached_collection() {
    let server = Server::start(&["--no-collector.uname", "--interval=1h"]);
    check_filters(&server);
    // Every answer came from one collection: the first scrape's durations are repeated.
    let d = |t: &str| {
        t.lines()
            .find(|l| {
                l.starts_with("node_scrape_collector_duration_seconds{collector=\"meminfo\"}")
            })
            .map(str::to_string)
    };
    let all = server.get("/metrics").text();
    let one = server.get("/metrics?collect[]=meminfo").text();
    assert!(d(&all).is_some());
    assert_eq!(d(&all), d(&one));
}

#[test]
fn build_info_under_both_names_and_exporter_metrics_can_be_left_out() {
    let text = common::once(&[]).stdout;
    let text = String::from_utf8(text).unwrap();
    let (s, _) = parse_exposition(&text);
    let labels = |name: &str| {
        s.keys()
            .find(|k| k.starts_with(&format!("{name}{{")))
            .map(|k| k.split_once('{').unwrap().1.to_string())
    };
    assert!(labels("proctap_build_info").is_some());
    assert_eq!(
        labels("node_exporter_build_info"),
        labels("proctap_build_info")
    );
    assert!(text.contains("\nprocess_resident_memory_bytes "));
    let out = common::once(&["--web.disable-exporter-metrics"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("\nprocess_"), "{text}");
    assert!(text.contains("\nnode_exporter_build_info{"));
    assert!(text.contains("\nnode_load1 "));
}

/// A fixture tree without /proc/schedstat and /proc/pressure, as on a kernel built without
/// CONFIG_SCHEDSTATS and CONFIG_PSI.
fn tree_without_kernel_features() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("proctap-swapin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let st = Command::new("cp")
        .arg("-a")
        .arg(common::fixtures().join("proc"))
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::remove_file(dir.join("proc/schedstat")).unwrap();
    std::fs::remove_dir_all(dir.join("proc/pressure")).unwrap();
    dir
}

#[test]
fn a_kernel_without_a_feature_is_not_a_failure() {
    let dir = tree_without_kernel_features();
    let procfs = format!("--path.procfs={}", dir.join("proc").display());
    let out = common::once(&[&procfs]);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{log}");
    let text = String::from_utf8(out.stdout).unwrap();
    for c in ["schedstat", "pressure"] {
        // node_exporter's semantics for success, and proctap says why.
        assert!(text.contains(&format!(
            "node_scrape_collector_success{{collector=\"{c}\"}} 0\n"
        )));
        assert!(text.contains(&format!(
            "proctap_scrape_collector_unavailable{{collector=\"{c}\"}} 1\n"
        )));
        let line = log
            .lines()
            .find(|l| l.contains(&format!("collector={c} ")))
            .unwrap_or_else(|| panic!("no log line for {c}: {log}"));
        assert!(
            line.contains("level=info") && line.contains("no source on this kernel"),
            "{line}"
        );
    }
    assert!(!log.contains("level=error"), "{log}");
    assert_eq!(
        text.matches("proctap_scrape_collector_unavailable{")
            .count(),
        2
    );

    let out = Command::new(common::bin())
        .arg("check")
        .args(common::fixture_args())
        .arg(&procfs)
        .output()
        .unwrap();
    let report = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        report.contains("schedstat     absent       0 series\n"),
        "{report}"
    );
    assert!(
        report.contains("a kernel with CONFIG_SCHEDSTATS"),
        "{report}"
    );
    assert!(report.contains("a kernel with CONFIG_PSI"), "{report}");
    let enabled = common::default_collectors();
    let summary = format!(
        "{} of {enabled} enabled collectors work; 2 have no source on this kernel",
        enabled - 2
    );
    assert!(report.contains(&summary), "{report}");

    // A server logs it once, not on every scrape.
    let server = Server::start(&[&procfs]);
    for _ in 0..3 {
        assert_eq!(server.get("/metrics").status, 200);
    }
    let log = server.stop_and_log();
    let lines = log
        .iter()
        .filter(|l| l.contains("collector=schedstat"))
        .count();
    assert_eq!(lines, 1, "{log:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The fields of a logfmt line: `key=value` or `key="quoted value"`.
fn logfmt(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').expect("key=value");
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let mut end = 0;
            let bytes = q.as_bytes();
            while end < bytes.len()
                && !(bytes[end] == b'"' && (end == 0 || bytes[end - 1] != b'\\'))
            {
                end += 1;
            }
            (q[..end].to_string(), q.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        out.push((key.to_string(), value));
        rest = next.trim_start();
    }
    out
}

fn field<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn debug_logs_each_request_and_each_collector_as_logfmt() {
    let server = Server::start(&["--log.level=debug", "--collectors=loadavg,meminfo"]);
    assert_eq!(server.get("/metrics?x=1").status, 200);
    assert_eq!(server.get("/nope").status, 404);
    let log = server.stop_and_log();
    let parsed: Vec<Vec<(String, String)>> = log.iter().map(|l| logfmt(l)).collect();
    let requests: Vec<&Vec<(String, String)>> = parsed
        .iter()
        .filter(|f| field(f, "msg") == Some("request"))
        .collect();
    assert_eq!(requests.len(), 2, "{log:?}");
    let r = requests[0];
    assert_eq!(field(r, "level"), Some("debug"));
    assert_eq!(field(r, "method"), Some("GET"));
    assert_eq!(field(r, "path"), Some("/metrics?x=1"));
    assert_eq!(field(r, "status"), Some("200"));
    assert!(field(r, "bytes").unwrap().parse::<u64>().unwrap() > 1000);
    assert!(
        field(r, "duration_seconds")
            .unwrap()
            .parse::<f64>()
            .unwrap()
            > 0.0
    );
    assert!(
        field(r, "remote").unwrap().starts_with("127.0.0.1:"),
        "{r:?}"
    );
    assert_eq!(field(requests[1], "status"), Some("404"));
    let collectors: Vec<&str> = parsed
        .iter()
        .filter(|f| field(f, "msg") == Some("collector"))
        .filter_map(|f| field(f, "collector"))
        .collect();
    assert_eq!(collectors, ["loadavg", "meminfo"]);
    let c = parsed
        .iter()
        .find(|f| field(f, "msg") == Some("collector"))
        .unwrap();
    assert_eq!(field(c, "success"), Some("true"));
    assert!(field(c, "duration_seconds").unwrap().parse::<f64>().is_ok());
}

#[test]
fn debug_logs_parse_as_json() {
    let out = Command::new(common::bin())
        .args([
            "once",
            "--log.level=debug",
            "--log.format=json",
            "--collectors=loadavg",
        ])
        .args(common::fixture_args())
        .output()
        .unwrap();
    let log = String::from_utf8(out.stderr).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("\"msg\":\"collector\""))
        .unwrap_or_else(|| panic!("{log}"));
    let v = json::parse(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v.get("collector").and_then(|c| c.str()), Some("loadavg"));
    assert_eq!(v.get("level").and_then(|c| c.str()), Some("debug"));
    assert!(
        v.get("duration_seconds").is_some() && v.get("success").is_some(),
        "{line}"
    );
    // Nothing more at info.
    let out = common::once(&["--collectors=loadavg"]);
    assert!(String::from_utf8_lossy(&out.stderr).trim().is_empty());
}

/// One collection takes long enough (a big textfile) for three more requests to queue behind it.
#[test]
fn max_requests_refuses_requests_queued_beyond_it() {
    let dir = std::env::temp_dir().join(format!("proctap-maxreq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut big = String::from("# TYPE app_value gauge\n");
    for i in 0..60_000 {
        big.push_str(&format!("app_value{{i=\"{i}\"}} {i}\n"));
    }
    std::fs::write(dir.join("big.prom"), big).unwrap();
    let server = Server::start_live(&[
        "--web.max-requests=1",
        "--collectors=textfile",
        &format!("--collector.textfile.directory={}", dir.display()),
    ]);
    let send = || {
        let mut s = TcpStream::connect(&server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        s
    };
    // Whether the first request is read alone or with the others, at least one request finds
    // more than one waiting (503) and the last one waiting is answered (200).
    let mut conns: Vec<TcpStream> = (0..4).map(|_| send()).collect();
    let status = |s: &mut TcpStream| {
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        String::from_utf8_lossy(&raw[..12.min(raw.len())]).into_owned()
    };
    let statuses: Vec<String> = conns.iter_mut().map(status).collect();
    assert!(statuses.iter().any(|s| s == "HTTP/1.1 503"), "{statuses:?}");
    assert!(statuses.iter().any(|s| s == "HTTP/1.1 200"), "{statuses:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
