//! gzip on /metrics, as node_exporter answers `Accept-Encoding: gzip` (Prometheus always sends
//! it): the body decompresses, with Debian's `gzip -d` and python3's gzip module, to exactly
//! the plain body, and promtool is clean on it; clients that do not ask get the plain body.
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Response, Server};

/// One request for /metrics with extra header lines, `Connection: close`, read to EOF.
fn request(addr: &str, method: &str, headers: &[&str]) -> Response {
    request_path(addr, method, "/metrics", headers)
}

fn request_path(addr: &str, method: &str, path: &str, headers: &[&str]) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// Runs `cmd` with `input` on stdin: success, stdout, stderr.
fn run(cmd: &mut Command, input: &[u8]) -> (bool, Vec<u8>, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), out.stdout, err)
}

/// Its stdout, after asserting success.
fn pipe(cmd: &mut Command, input: &[u8]) -> Vec<u8> {
    let (ok, out, err) = run(cmd, input);
    assert!(ok, "{cmd:?}: {err}");
    out
}

fn gzip_d(body: &[u8]) -> Vec<u8> {
    pipe(Command::new(common::require("gzip")).arg("-dc"), body)
}

fn python_gunzip(body: &[u8]) -> Vec<u8> {
    let script =
        "import gzip, sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))";
    pipe(
        Command::new(common::require("python3")).args(["-c", script]),
        body,
    )
}

fn assert_gzip(r: &Response) {
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(
        r.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(
        r.header("Content-Length"),
        Some(r.body.len().to_string().as_str())
    );
    assert_eq!(&r.body[..3], &[0x1f, 0x8b, 8], "a gzip member");
}

fn assert_plain(r: &Response) {
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Encoding"), None);
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    assert!(r.body.starts_with(b"# HELP "), "plain text");
}

#[test]
fn gzip_body_is_the_plain_body_and_promtool_is_clean_on_it() {
    // One collection for the whole test, so plain and gzip bodies come from the same bytes.
    let server = Server::start(&["--interval", "1h"]);
    let plain = request(&server.addr, "GET", &[]);
    assert_plain(&plain);
    let gz = request(&server.addr, "GET", &["Accept-Encoding: gzip"]);
    assert_gzip(&gz);
    assert!(
        gz.body.len() * 4 < plain.body.len(),
        "{} of {}",
        gz.body.len(),
        plain.body.len()
    );
    let unzipped = gzip_d(&gz.body);
    assert!(unzipped == plain.body, "gzip -d gives the plain body");
    assert!(
        python_gunzip(&gz.body) == plain.body,
        "python3 gives the plain body"
    );
    // What Prometheus sends: the same compressed bytes again (compressed once per collection).
    let prom = request(
        &server.addr,
        "GET",
        &[
            "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            "Accept-Encoding: gzip",
            "User-Agent: Prometheus/2.45.0",
            "X-Prometheus-Scrape-Timeout-Seconds: 10",
        ],
    );
    assert_gzip(&prom);
    assert!(prom.body == gz.body);

    let promtool = common::require("promtool");
    let (_, out, err) = run(Command::new(promtool).args(["check", "metrics"]), &unzipped);
    let report = format!("{}{err}", String::from_utf8_lossy(&out));
    assert!(!report.contains("error while linting"), "{report}");
    let problems: Vec<&str> = report
        .lines()
        .filter(|l| !l.trim().is_empty())
        // The families node_exporter's own CI exempts and process-exporter's names.
        .filter(|l| {
            !common::PROMTOOL_LINT_EXEMPT
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect();
    assert!(problems.is_empty(), "promtool: {problems:?}");
}

#[test]
fn only_clients_that_accept_gzip_get_it() {
    let server = Server::start(&["--interval", "1h", "--collectors", "loadavg,meminfo"]);
    for accept in [
        "gzip",
        "GZIP",
        "x-gzip",
        "gzip, deflate, br",
        "deflate;q=1, gzip;q=0.5",
        "*",
        "br, *;q=0.1",
    ] {
        let r = request(
            &server.addr,
            "GET",
            &[&format!("Accept-Encoding: {accept}")],
        );
        assert_gzip(&r);
        assert!(gzip_d(&r.body).starts_with(b"# HELP "), "{accept}");
    }
    let absent = request(&server.addr, "GET", &[]);
    assert_plain(&absent);
    for accept in [
        "identity",
        "gzip;q=0",
        "gzip; q=0.000",
        "deflate, br",
        "*;q=0",
        "gzip;q=0, *",
        "",
    ] {
        let r = request(
            &server.addr,
            "GET",
            &[&format!("Accept-Encoding: {accept}")],
        );
        assert_plain(&r);
        assert!(r.body == absent.body, "{accept:?}");
    }
    // HEAD: the headers GET would send, with the compressed length, and no body.
    let get = request(&server.addr, "GET", &["Accept-Encoding: gzip"]);
    let head = request(&server.addr, "HEAD", &["Accept-Encoding: gzip"]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("Content-Encoding"), Some("gzip"));
    assert_eq!(
        head.header("Content-Length"),
        Some(get.body.len().to_string().as_str())
    );
    let head = request(&server.addr, "HEAD", &[]);
    assert!(head.body.is_empty());
    assert_eq!(head.header("Content-Encoding"), None);
    assert_eq!(
        head.header("Content-Length"),
        Some(absent.body.len().to_string().as_str())
    );
    // collect[] and exclude[]: the filtered body, gzipped; the full one's gzip is still right.
    for query in ["collect[]=loadavg", "exclude[]=loadavg"] {
        let path = format!("/metrics?{query}");
        let plain = request_path(&server.addr, "GET", &path, &[]);
        assert_plain(&plain);
        let gz = request_path(&server.addr, "GET", &path, &["Accept-Encoding: gzip"]);
        assert_gzip(&gz);
        assert!(gzip_d(&gz.body) == plain.body, "{query}");
        assert!(plain.body != absent.body, "{query} filters");
    }
    assert!(gzip_d(&request(&server.addr, "GET", &["Accept-Encoding: gzip"]).body) == absent.body);
    // Other pages stay plain, as node_exporter's.
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(
        raw.ends_with("\"status\":\"ok\",\"last_scrape\":\"success\"}\n"),
        "{raw}"
    );
}

/// Many megabytes of exposition through the textfile collector: every block type, matches at
/// every distance, several blocks.
#[test]
fn a_large_body_round_trips() {
    let dir = std::env::temp_dir().join(format!("proctap-gzip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for f in 0..3 {
        let mut text = String::from(
            "# HELP big_series_total A generated family.\n# TYPE big_series_total counter\n",
        );
        let mut i = 0;
        while text.len() < 1_500_000 {
            let r = next();
            text.push_str(&format!(
                "big_series_total{{file=\"{f}\",device=\"dev{}\",id=\"{:x}\"}} {}\n",
                i % 300,
                r >> 40,
                r % 1_000_000_007
            ));
            i += 1;
        }
        let name = format!("big{f}.prom");
        std::fs::write(
            dir.join(&name),
            text.replace("big_series_total", &format!("big{f}_series_total")),
        )
        .unwrap();
    }
    let textfile = format!("--collector.textfile.directory={}", dir.display());
    let server = Server::start(&["--interval", "1h", &textfile]);
    let plain = request(&server.addr, "GET", &[]);
    assert_plain(&plain);
    assert!(plain.body.len() > 4_000_000, "{}", plain.body.len());
    let gz = request(&server.addr, "GET", &["Accept-Encoding: gzip"]);
    assert_gzip(&gz);
    println!(
        "{} bytes plain, {} gzipped",
        plain.body.len(),
        gz.body.len()
    );
    assert!(
        gzip_d(&gz.body) == plain.body,
        "gzip -d gives the plain body"
    );
    assert!(
        python_gunzip(&gz.body) == plain.body,
        "python3 gives the plain body"
    );
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}
