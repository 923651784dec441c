//! Hostile clients on loopback, each bounded in count and time: proctap must keep answering a
//! normal scrape within 2 s, keep its memory bounded, and never crash.
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;

/// A normal scrape; panics unless it is complete and quick.
fn scrape_within(server: &Server, limit: Duration) -> usize {
    let start = Instant::now();
    let r = server.get("/metrics");
    let took = start.elapsed();
    println!("  scrape during the attack: {took:?}");
    assert_eq!(r.status, 200);
    assert!(took < limit, "scrape took {took:?}");
    assert!(r
        .text()
        .contains("\nnode_scrape_collector_success{collector=\"cpu\"} 1\n"));
    r.body.len()
}

fn status_field(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Peak resident memory of the server so far, in KiB.
fn peak_rss_kib(server: &Server) -> u64 {
    status_field(server.child.id(), "VmHWM:")
}

fn threads(server: &Server) -> u64 {
    status_field(server.child.id(), "Threads:")
}

/// Sends `bytes` and reads whatever comes back until the server closes or 5 s pass.
fn exchange(addr: &str, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn slowloris_500_half_requests_for_30_s() {
    let server = Server::start(&[]);
    let mut held = Vec::new();
    for _ in 0..500 {
        let mut s = TcpStream::connect(&server.addr).unwrap();
        s.write_all(b"GET /metr").unwrap();
        held.push(s);
    }
    let start = Instant::now();
    let mut scrapes = 0;
    while start.elapsed() < Duration::from_secs(30) {
        scrape_within(&server, Duration::from_secs(2));
        scrapes += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(scrapes >= 40);
    // The poll loop, the collection thread, the filesystem collector's statvfs worker and the
    // helper the guarded collectors (collector::MAY_BLOCK) share while none is stuck: a fixed
    // number, whatever the clients do.
    assert_eq!(
        threads(&server),
        4,
        "no thread per client, whatever the clients do"
    );
    let peak = peak_rss_kib(&server);
    println!("slowloris: {scrapes} scrapes all under 2 s, peak RSS {peak} KiB");
    assert!(peak < 16 << 10, "peak RSS {peak} KiB");
}

#[test]
fn a_client_that_never_reads_a_large_response() {
    // A textfile of ~7 MiB makes each response far larger than the socket buffers.
    let dir = std::env::temp_dir().join(format!("proctap-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut big = String::from("# HELP big_series A large textfile.\n# TYPE big_series gauge\n");
    // Long lines rather than many: the cost of a collection grows with the line count.
    let pad = "x".repeat(120);
    for i in 0..50_000 {
        big.push_str(&format!("big_series{{i=\"{i:08}\",pad=\"{pad}\"}} {i}\n"));
    }
    std::fs::write(dir.join("big.prom"), &big).unwrap();
    let arg = format!("--collector.textfile.directory={}", dir.display());
    let server = Server::start(&[arg.as_str()]);
    // Each stalled request costs one collection of the big textfile ahead of our scrape.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(&server.addr).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        stalled.push(s); // never read
    }
    for _ in 0..5 {
        let n = scrape_within(&server, Duration::from_secs(2));
        assert!(n > 7 << 20, "response of {n} bytes");
    }
    let peak = peak_rss_kib(&server);
    println!("stalled readers: scrapes under 2 s, peak RSS {peak} KiB");
    // Output buffer (~7.5 MiB) + at most 32 MiB queued for slow readers + the textfile's parse.
    assert!(peak < 80 << 10, "peak RSS {peak} KiB");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_64_mib_header_line_is_cut_off() {
    let server = Server::start(&[]);
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nX-Huge: ").unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut sent = 0;
    for _ in 0..64 {
        if s.write_all(&chunk).is_err() {
            break; // the server answered 431 and closed
        }
        sent += 1;
    }
    assert!(
        sent < 64,
        "the connection is dropped long before 64 MiB arrive"
    );
    scrape_within(&server, Duration::from_secs(2));
    let peak = peak_rss_kib(&server);
    println!("64 MiB header: dropped after {sent} MiB sent, peak RSS {peak} KiB");
    assert!(peak < 16 << 10, "peak RSS {peak} KiB");
}

#[test]
fn a_hundred_thousand_headers_are_refused() {
    let server = Server::start(&[]);
    let mut req = String::from("GET /metrics HTTP/1.1\r\n");
    for i in 0..100_000 {
        req.push_str(&format!("X-{i}: v\r\n"));
    }
    req.push_str("\r\n");
    let answer = exchange(&server.addr, req.as_bytes());
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431 "),
        "a 431 or a closed connection: {:?}",
        answer.get(..40)
    );
    scrape_within(&server, Duration::from_secs(2));
    let peak = peak_rss_kib(&server);
    println!("100,000 headers: peak RSS {peak} KiB");
    assert!(peak < 16 << 10, "peak RSS {peak} KiB");
}

#[test]
fn garbage_gets_4xx_or_a_closed_connection() {
    let server = Server::start(&[]);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    };
    let mut cases: Vec<Vec<u8>> = vec![
        b"GET /\r\n\r\n".to_vec(),
        b"GET /metrics\r\n\r\n".to_vec(),
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
        b"FOOBAR /metrics HTTP/1.1\r\n\r\n".to_vec(),
        b"GET /../../etc/passwd HTTP/1.1\r\n\r\n".to_vec(),
        b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\n\r\n".to_vec(),
        b"GET /%6detrics HTTP/1.1\r\n\r\n".to_vec(),
        b"GET /metrics%00 HTTP/1.1\r\n\r\n".to_vec(),
        b"GET //metrics HTTP/1.1\r\n\r\n".to_vec(),
        b"GET /metrics HTTP/9.9\r\n\r\n".to_vec(),
        b"GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n".to_vec(),
        b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
        format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(20_000)).into_bytes(),
        format!("{} / HTTP/1.1\r\n\r\n", "M".repeat(5_000)).into_bytes(),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(), // a TLS ClientHello
        b"\r\n\r\n\r\n".to_vec(),
    ];
    for n in [1, 16, 300, 5000] {
        for _ in 0..5 {
            cases.push(random(n));
        }
    }
    // Cases that stop mid-request wait out the 5 s client timeout; run them all at once.
    let answers: Vec<_> = cases
        .iter()
        .map(|case| {
            let (addr, case) = (server.addr.clone(), case.clone());
            std::thread::spawn(move || exchange(&addr, &case))
        })
        .collect();
    for (case, answer) in cases.iter().zip(answers) {
        let answer = answer.join().unwrap();
        let code = answer.get(9..12).unwrap_or("");
        let ok = answer.is_empty()
            || (answer.starts_with("HTTP/1.1 4") && code.starts_with('4'))
            || answer.starts_with("HTTP/1.1 200");
        assert!(
            ok,
            "{:?} → {:?}",
            String::from_utf8_lossy(&case[..case.len().min(40)]),
            answer.get(..60)
        );
        // Only the well-formed GETs of a known path may succeed.
        if answer.starts_with("HTTP/1.1 200") {
            assert!(
                case.starts_with(b"GET /metrics HTTP/1.1\r\n"),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
    }
    scrape_within(&server, Duration::from_secs(2));
    assert!(server.child.id() > 0);
}

#[test]
fn a_thousand_sequential_and_fifty_concurrent_scrapes() {
    // No limit on waiting scrapes: with node_exporter's default of 40, some of the 50 would be
    // answered 503 (tests/swapin.rs checks that).
    let server = Server::start(&[
        "--collectors",
        "loadavg,meminfo,stat",
        "--web.max-requests",
        "0",
    ]);
    for _ in 0..1000 {
        assert_eq!(server.get("/metrics").status, 200);
    }
    let addr = server.addr.clone();
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || common::http(&addr, "GET", "/metrics").status)
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 200);
    }
}

#[test]
fn sigterm_during_a_scrape_finishes_it_and_exits_0_within_1_s() {
    let mut server = Server::start(&[]);
    let addr = server.addr.clone();
    // Scrapes back to back until the server is gone; every answer that arrives must be whole.
    let client = common::scrape_until_closed(addr);
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    let status = server
        .terminate(Duration::from_secs(1))
        .expect("exit within 1 s of SIGTERM");
    let took = sent.elapsed();
    let complete = client.join().expect("every response was whole");
    println!(
        "SIGTERM mid-scrape: exit {:?} after {took:?}, {complete} complete responses",
        status.code()
    );
    assert_eq!(status.code(), Some(0));
    assert!(complete > 0);
}
