//! Signals: SIGHUP reloads the config file (a bad one is refused and the old kept), SIGINT
//! during scrapes finishes the response in flight and exits 0 within 1 s. (SIGTERM mid-scrape:
//! tests/hostile.rs.)
mod common;

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
    let client = common::scrape_until_closed(addr);
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
