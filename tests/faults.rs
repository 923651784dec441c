//! Signals: SIGHUP reloads the config file (a bad one is refused and the old kept), SIGINT
//! during scrapes finishes the response in flight and exits 0 within 1 s. (SIGTERM mid-scrape:
//! tests/hostile.rs.)
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Server;

fn signal(server: &Server, sig: &str) {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn sighup_reloads_the_config_file_and_keeps_the_old_one_when_it_is_bad() {
    let dir = std::env::temp_dir().join(format!("proctap-sighup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("proctap.conf");
    std::fs::write(&conf, "collectors = [\"loadavg\", \"meminfo\"]\n").unwrap();
    let server = Server::start(&["--config", conf.to_str().unwrap()]);
    let body = server.get("/metrics").text();
    assert!(body.contains("\nnode_load1 0.52\n"), "{body}");
    assert!(!body.contains("collector=\"cpu\""), "{body}");

    std::fs::write(&conf, "collectors = [\"meminfo\", \"cpu\"]\n").unwrap();
    signal(&server, "HUP");
    // The loop reloads before it takes the next request; poll in case the signal is slow.
    let start = Instant::now();
    let body = loop {
        let body = server.get("/metrics").text();
        if !body.contains("node_load1") || start.elapsed() > Duration::from_secs(5) {
            break body;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        !body.contains("node_load1"),
        "loadavg disabled by the reload"
    );
    assert!(
        body.contains("node_scrape_collector_success{collector=\"cpu\"} 1\n"),
        "cpu enabled by the reload"
    );

    std::fs::write(&conf, "collectors = [\"loadavg\"\nnot a line\n").unwrap();
    signal(&server, "HUP");
    let body = server.get("/metrics").text();
    assert!(
        body.contains("node_scrape_collector_success{collector=\"cpu\"} 1\n")
            && !body.contains("node_load1"),
        "the old configuration is kept"
    );
    let log = server.stop_and_log().join("\n");
    assert!(log.contains("msg=\"reloaded the configuration\""), "{log}");
    let refused = log
        .lines()
        .find(|l| l.contains("SIGHUP: keeping the old configuration"))
        .unwrap_or_else(|| panic!("no error logged for the bad config:\n{log}"));
    assert!(refused.contains("level=error"), "{refused}");
    assert!(
        refused.contains(conf.to_str().unwrap()),
        "names the file: {refused}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigint_during_scrapes_finishes_the_response_and_exits_0_within_1_s() {
    let mut server = Server::start(&[]);
    let addr = server.addr.clone();
    let client = std::thread::spawn(move || {
        let mut complete = 0;
        loop {
            let Ok(mut s) = TcpStream::connect(&addr) else {
                return complete;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            if s.write_all(b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
                .is_err()
            {
                return complete;
            }
            let mut raw = Vec::new();
            let _ = s.read_to_end(&mut raw);
            if raw.is_empty() {
                return complete;
            }
            let text = String::from_utf8_lossy(&raw);
            let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
            assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.parse().ok())
                .expect("Content-Length");
            assert_eq!(body.len(), len, "the response in flight is finished");
            complete += 1;
        }
    });
    // Wait until scrapes are flowing, then interrupt one.
    let start = Instant::now();
    while server.get("/health").text().contains("\"none\"")
        && start.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(&server, "INT");
    let sent = Instant::now();
    let status = loop {
        if let Some(st) = server.child.try_wait().unwrap() {
            break Some(st);
        }
        if sent.elapsed() > Duration::from_secs(1) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = sent.elapsed();
    let status = status.expect("exit within 1 s of SIGINT");
    let complete = client.join().expect("every response was whole");
    println!(
        "SIGINT mid-scrape: exit {:?} after {took:?}, {complete} complete responses",
        status.code()
    );
    assert_eq!(status.code(), Some(0));
    assert!(complete > 0);
}
