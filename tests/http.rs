//! The HTTP surface on a loopback port chosen by the kernel.
mod common;

use std::time::Duration;

use common::{http, Server};

#[test]
fn routes_status_codes_and_content_types() {
    let server = Server::start(&[]);
    let r = server.get("/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = r.text();
    assert!(
        body.contains("\nnode_load1 0.52\n"),
        "fixture value served: {body}"
    );
    assert_eq!(
        r.header("Content-Length"),
        Some(body.len().to_string().as_str())
    );

    let h = http(&server.addr, "HEAD", "/metrics");
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty(), "HEAD has no body");
    assert_eq!(
        h.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );

    let health = server.get("/health");
    assert_eq!(health.status, 200);
    assert_eq!(
        health.text(),
        "{\"status\":\"ok\",\"last_scrape\":\"success\"}\n"
    );

    let landing = server.get("/");
    assert_eq!(landing.status, 200);
    assert_eq!(
        landing.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let page = landing.text();
    assert!(page.contains("<a href=\"/metrics\">"), "{page}");
    assert!(
        page.contains("<tr><td>diskstats</td><td class=\"ok\">success</td>"),
        "{page}"
    );

    assert_eq!(server.get("/nope").status, 404);
    assert_eq!(server.get("/metrics/../metrics").status, 404);
    let post = http(&server.addr, "POST", "/metrics");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));
    assert_eq!(http(&server.addr, "DELETE", "/").status, 405);
}

#[test]
fn interval_reuses_the_last_collection() {
    let server = Server::start(&["--interval", "1h"]);
    let a = server.get("/metrics").text();
    let b = server.get("/metrics").text();
    assert_eq!(
        a, b,
        "within the interval the same output, durations included"
    );
    let server = Server::start(&[]);
    let a = server.get("/metrics").text();
    let b = server.get("/metrics").text();
    assert_ne!(
        a, b,
        "without an interval every scrape collects (durations differ)"
    );
}

#[test]
fn keep_alive_and_pipelining() {
    use std::io::{Read, Write};
    let server = Server::start(&[]);
    let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Two requests in one write, the second closing the connection.
    s.write_all(
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    assert_eq!(all.matches("HTTP/1.1 ").count(), 2, "{all}");
    assert!(all.starts_with("HTTP/1.1 200 OK\r\n"), "{all}");
    assert!(all.contains("Connection: keep-alive\r\n"), "{all}");
    assert!(all.contains("HTTP/1.1 404 Not Found\r\n"), "{all}");
}

#[test]
fn custom_telemetry_path() {
    let server = Server::start(&["--web.telemetry-path", "/custom"]);
    assert_eq!(server.get("/custom").status, 200);
    assert_eq!(server.get("/metrics").status, 404);
    assert!(server.get("/").text().contains("<a href=\"/custom\">"));
}

#[test]
fn sigterm_exits_zero() {
    let mut server = Server::start(&[]);
    assert_eq!(server.get("/metrics").status, 200);
    let status = server
        .terminate(Duration::from_secs(2))
        .expect("exits within 2 s of SIGTERM");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn health_reports_a_failed_collector() {
    let server = Server::start(&[
        "--path.procfs",
        "/nonexistent-proctap",
        "--collectors",
        "loadavg",
    ]);
    let r = server.get("/metrics");
    assert_eq!(r.status, 200, "a failed collector still answers the scrape");
    assert!(r
        .text()
        .contains("node_scrape_collector_success{collector=\"loadavg\"} 0\n"));
    assert_eq!(
        server.get("/health").text(),
        "{\"status\":\"ok\",\"last_scrape\":\"collector_failed\"}\n"
    );
}

#[test]
fn a_collector_failing_the_same_way_is_logged_once() {
    let server = Server::start(&[
        "--path.procfs",
        "/nonexistent-proctap",
        "--collectors",
        "loadavg",
    ]);
    for _ in 0..3 {
        assert_eq!(server.get("/metrics").status, 200);
    }
    let log = server.stop_and_log();
    let failures: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("collector failed"))
        .collect();
    assert_eq!(failures.len(), 1, "{log:?}");
    assert!(failures[0].contains("collector=loadavg"), "{log:?}");
    assert!(
        failures[0].contains("/nonexistent-proctap/loadavg"),
        "{log:?}"
    );
    assert!(
        log.last().is_some_and(|l| l.contains("shutting down")),
        "{log:?}"
    );
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    for (args, needle) in [
        (&["--bogus"][..], "--bogus"),
        (&["--collectors", "cpu,nope"][..], "--collectors"),
        (
            &["--collector.netstat.fields", "("][..],
            "--collector.netstat.fields",
        ),
        (&["--listen"][..], "--listen"),
    ] {
        let out = std::process::Command::new(common::bin())
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn listen_failure_is_reported() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let out = std::process::Command::new(common::bin())
        .args(["--listen", &addr])
        .args(common::fixture_args())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&addr));
}

#[test]
fn help_and_version() {
    let out = std::process::Command::new(common::bin())
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--path.procfs DIR"));
    let out = std::process::Command::new(common::bin())
        .arg("--version")
        .output()
        .unwrap();
    let v = String::from_utf8(out.stdout).unwrap();
    // node_exporter's layout, which scripts grep: the first line, then five build details.
    let first = v.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "proctap, version {} (branch: ",
            env!("CARGO_PKG_VERSION")
        )) && first.contains(", revision: ")
            && first.ends_with(')'),
        "{v}"
    );
    let keys: Vec<&str> = v
        .lines()
        .skip(1)
        .map(|l| l.split(':').next().unwrap().trim())
        .collect();
    assert_eq!(
        keys,
        ["build user", "build date", "rustc version", "platform"],
        "{v}"
    );
    assert!(v.contains("  platform:         linux/"), "{v}");
}
