//! Soak: many keep-alive scrapes of one server on the fixtures over loopback. RSS after 1,000
//! scrapes and at the end must differ by less than 64 KiB, and the open fd count must not change.
//! `make test` runs 2,000 scrapes; `make soak` runs a release build with
//! PROCTAP_SOAK_SCRAPES=100000 and prints the numbers.
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// One GET /metrics on a kept-alive connection; returns the body length.
fn scrape(w: &mut TcpStream, r: &mut BufReader<TcpStream>, body: &mut Vec<u8>) -> usize {
    w.write_all(b"GET /metrics HTTP/1.1\r\nHost: soak\r\n\r\n")
        .unwrap();
    let mut line = String::new();
    let mut len = None;
    let mut status = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if status.is_empty() {
            status = line.clone();
        }
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            len = v.trim().parse().ok();
        }
    }
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let len = len.expect("Content-Length");
    body.resize(len, 0);
    r.read_exact(body).unwrap();
    len
}

#[test]
fn soak_rss_and_fds_stay_flat() {
    let total: usize = std::env::var("PROCTAP_SOAK_SCRAPES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    assert!(total > 1_000);
    let server = Server::start(&[]);
    let pid = server.child.id();
    let w = TcpStream::connect(&server.addr).unwrap();
    w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(w.try_clone().unwrap());
    let mut w = w;
    let mut body = Vec::new();
    let started = Instant::now();
    let mut first_len = 0;
    let (mut rss_1k, mut fds_1k) = (0, 0);
    for i in 1..=total {
        let len = scrape(&mut w, &mut r, &mut body);
        if i == 1 {
            first_len = len;
        }
        if i == 1_000 {
            rss_1k = status_kib(pid, "VmRSS:");
            fds_1k = open_fds(pid);
        }
    }
    let took = started.elapsed();
    let rss_end = status_kib(pid, "VmRSS:");
    let fds_end = open_fds(pid);
    let hwm = status_kib(pid, "VmHWM:");
    println!(
        "soak: {total} keep-alive scrapes in {took:.1?} ({:.0} µs each), body {first_len} bytes; \
         RSS after 1,000: {rss_1k} KiB, after {total}: {rss_end} KiB (peak {hwm} KiB); \
         open fds {fds_1k} → {fds_end}",
        took.as_micros() as f64 / total as f64
    );
    assert!(
        rss_end.abs_diff(rss_1k) < 64,
        "RSS after 1,000 scrapes {rss_1k} KiB, after {total} {rss_end} KiB"
    );
    assert_eq!(fds_end, fds_1k, "open fds changed");
}
