//! HTTPS and basic auth (`--web.config-file`, cargo feature `tls`): a self-signed certificate
//! made with openssl for each test, curl as the client. `make test` runs this with
//! `cargo test --features tls --test tls`.
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::Server;

/// bcrypt test vectors (OpenBSD / OpenWall): password and hash, cost 5 so the tests are quick.
const ALICE: (&str, &str) = (
    "U*U",
    "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
);
const BOB: (&str, &str) = (
    "U*U*",
    "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK",
);

/// A directory with a fresh P-256 certificate for 127.0.0.1 and its key.
fn tls_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("proctap-tls-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(common::require("openssl"))
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=proctap-test", "-addext"])
        .args(["subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-keyout", "key.pem", "-out", "cert.pem"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn write_web_config(dir: &Path, users: &[(&str, &str)]) -> PathBuf {
    let mut text = String::from(
        "# proctap test\ntls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n",
    );
    if !users.is_empty() {
        text.push_str("basic_auth_users:\n");
        for (user, hash) in users {
            text.push_str(&format!("  {user}: '{hash}'\n"));
        }
    }
    let path = dir.join("web.yml");
    std::fs::write(&path, text).unwrap();
    path
}

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

/// One request per URL with curl, over one connection where curl can keep it; each reply's
/// status, headers and body.
fn curl(dir: &Path, user: Option<(&str, &str)>, urls: &[&str]) -> Vec<Reply> {
    let mut cmd = Command::new(common::require("curl"));
    cmd.args(["-s", "-S", "--max-time", "10", "--cacert"])
        .arg(dir.join("cert.pem"));
    if let Some((u, p)) = user {
        cmd.arg("-u").arg(format!("{u}:{p}"));
    }
    let mut replies = Vec::new();
    let mut files = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let (h, b) = (dir.join(format!("h{i}")), dir.join(format!("b{i}")));
        if i > 0 {
            cmd.arg("--next")
                .args(["-s", "-S", "--cacert"])
                .arg(dir.join("cert.pem"));
            if let Some((u, p)) = user {
                cmd.arg("-u").arg(format!("{u}:{p}"));
            }
        }
        cmd.arg("-D").arg(&h).arg("-o").arg(&b).arg(url);
        files.push((h, b));
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (h, b) in files {
        let headers = std::fs::read_to_string(h).unwrap();
        let status = headers
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let body = std::fs::read_to_string(b).unwrap();
        replies.push(Reply {
            status,
            headers,
            body,
        });
    }
    replies
}

fn url(server: &Server, path: &str) -> String {
    format!("https://{}{path}", server.addr)
}

#[test]
fn https_with_basic_auth() {
    let dir = tls_dir("auth");
    let web = write_web_config(&dir, &[("alice", ALICE.1), ("bob", BOB.1)]);
    let server = Server::start(&["--web.config-file", web.to_str().unwrap()]);
    let metrics = url(&server, "/metrics");

    // Two scrapes on one kept-alive TLS connection: the second comes from the credential cache.
    let ok = curl(&dir, Some(("alice", ALICE.0)), &[&metrics, &metrics]);
    for r in &ok {
        assert_eq!(r.status, 200, "{}", r.headers);
        assert!(r.body.contains("\nnode_load1 0.52\n"), "{}", r.body);
        // The whole body (far more than one TLS record) arrived, up to the last family.
        assert!(
            r.body.contains("\nprocess_start_time_seconds "),
            "{}",
            r.body
        );
        let len = format!("Content-Length: {}\r\n", r.body.len());
        assert!(r.headers.contains(&len), "{}", r.headers);
    }
    assert!(ok[1].headers.contains("Connection: keep-alive"));
    assert_eq!(curl(&dir, Some(("bob", BOB.0)), &[&metrics])[0].status, 200);

    let cases: [(Option<(&str, &str)>, &str); 5] = [
        (Some(("alice", "wrong")), "/metrics"),
        (Some(("alice", BOB.0)), "/metrics"),
        (Some(("mallory", ALICE.0)), "/metrics"),
        (None, "/metrics"),
        (None, "/health"),
    ];
    for (user, path) in cases {
        let r = &curl(&dir, user, &[&url(&server, path)])[0];
        assert_eq!(r.status, 401, "{user:?} {path}: {}", r.headers);
        assert!(
            r.headers
                .contains("WWW-Authenticate: Basic realm=\"proctap\"\r\n"),
            "{}",
            r.headers
        );
        assert!(!r.body.contains("node_"), "nothing leaks: {}", r.body);
    }
    let log = server.stop_and_log().join("\n");
    assert!(!log.contains(ALICE.0) && !log.contains("wrong"), "{log}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn plain_http_to_the_tls_port_is_closed_and_the_server_goes_on() {
    let dir = tls_dir("plain");
    let web = write_web_config(&dir, &[]);
    let server = Server::start(&["--web.config-file", web.to_str().unwrap()]);
    for request in [
        &b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"\x16\x03\x01\x00\x05hello",
        b"\x16\x03\x01\xff\xff",
    ] {
        let mut s = TcpStream::connect(&server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request).unwrap();
        let mut got = Vec::new();
        let start = Instant::now();
        // Closed by proctap, not by our timeout: read_to_end ends with EOF or a reset.
        let _ = s.read_to_end(&mut got);
        assert!(
            start.elapsed() < Duration::from_secs(9),
            "{request:?} held open"
        );
        assert!(!got.starts_with(b"HTTP/"), "{request:?} got {got:?}");
        // At most a TLS alert record (content type 21).
        assert!(got.is_empty() || got[0] == 21, "{request:?} got {got:?}");
    }
    // No users configured: TLS alone, no auth.
    let r = &curl(&dir, None, &[&url(&server, "/metrics")])[0];
    assert_eq!(r.status, 200);
    assert!(r.body.contains("\nnode_load1 0.52\n"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn pipelined_requests_over_tls_are_all_answered() {
    let dir = tls_dir("pipeline");
    let web = write_web_config(&dir, &[]);
    let server = Server::start(&["--web.config-file", web.to_str().unwrap()]);
    let mut child = Command::new(common::require("openssl"))
        .args(["s_client", "-quiet", "-verify_return_error", "-CAfile"])
        .arg(dir.join("cert.pem"))
        .args(["-connect", &server.addr])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Three requests in one write, so in one TLS record, the first padded past the 4 KiB that
    // proctap reads at once: the rest waits in the TLS session while the first is answered.
    let requests = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\nHEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "p".repeat(4000)
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(requests.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let statuses: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("HTTP/1.1 "))
        .collect();
    assert_eq!(
        statuses,
        [
            "HTTP/1.1 200 OK",
            "HTTP/1.1 200 OK",
            "HTTP/1.1 404 Not Found"
        ],
        "{text}"
    );
    assert!(text.contains("\"last_scrape\":\"none\""), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_stalled_handshake_meets_the_head_timeout() {
    let dir = tls_dir("stall");
    let web = write_web_config(&dir, &[]);
    let server = Server::start(&["--web.config-file", web.to_str().unwrap()]);
    let mut s = TcpStream::connect(&server.addr).unwrap();
    // The first bytes of a ClientHello record that announces 64 bytes, then nothing.
    s.write_all(b"\x16\x03\x01\x00\x40\x01\x00\x00\x3c\x03\x03")
        .unwrap();
    let start = Instant::now();
    // Other clients are served while it stalls.
    assert_eq!(
        curl(&dir, None, &[&url(&server, "/metrics")])[0].status,
        200
    );
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    // proctap closed it (the 10 s head timeout), not our 30 s read timeout.
    assert!(start.elapsed() < Duration::from_secs(25), "held open");
    assert!(got.is_empty(), "{got:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sighup_rereads_the_web_config() {
    let dir = tls_dir("reload");
    let web = write_web_config(&dir, &[("alice", ALICE.1)]);
    let server = Server::start(&["--web.config-file", web.to_str().unwrap()]);
    let metrics = url(&server, "/metrics");
    assert_eq!(
        curl(&dir, Some(("alice", ALICE.0)), &[&metrics])[0].status,
        200
    );
    assert_eq!(curl(&dir, Some(("bob", BOB.0)), &[&metrics])[0].status, 401);

    let hup = |server: &Server| {
        let pid = server.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success());
    };
    write_web_config(&dir, &[("bob", BOB.1)]);
    hup(&server);
    let start = Instant::now();
    while curl(&dir, Some(("bob", BOB.0)), &[&metrics])[0].status != 200 {
        assert!(start.elapsed() < Duration::from_secs(5), "bob never let in");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        curl(&dir, Some(("alice", ALICE.0)), &[&metrics])[0].status,
        401
    );

    // A broken file keeps the configuration in force.
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: cert.pem\n  nonsense: 1\n",
    )
    .unwrap();
    hup(&server);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(curl(&dir, Some(("bob", BOB.0)), &[&metrics])[0].status, 200);
    let log = server.stop_and_log().join("\n");
    assert!(
        log.contains("SIGHUP: keeping the old configuration"),
        "{log}"
    );
    assert!(
        log.contains("web.yml:3: tls_server_config: key \\\"nonsense\\\""),
        "{log}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_web_configs_exit_2_naming_the_file() {
    let dir = tls_dir("bad");
    let web = dir.join("web.yml");
    let cases = [
        (
            "tls_server_config:\n  cert_file: cert.pem\n  key_file: missing.pem\n",
            "missing.pem: cannot read",
        ),
        (
            "tls_server_config:\n  cert_file: key.pem\n  key_file: key.pem\n",
            "key.pem: no CERTIFICATE block",
        ),
        (
            "tls_server_config:\n  cert_file: cert.pem\n  key_file: cert.pem\n",
            "cert.pem: no usable private key",
        ),
        (
            "basic_auth_users:\n  u: plaintext\n",
            "web.yml:2: basic_auth_users: user \"u\": expected a bcrypt hash",
        ),
        (
            "http_server_config:\n  http2: true\n",
            "web.yml:1: http_server_config is not supported",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(&web, text).unwrap();
        let out = Command::new(common::bin())
            .args(["--listen", "127.0.0.1:0", "--web.config-file"])
            .arg(&web)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
        assert!(
            err.contains(want),
            "{text:?}: {err:?} should contain {want:?}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}
