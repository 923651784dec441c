//! The config file end to end: it combines with flags, `proctap config` prints what is in
//! effect, and a bad file stops proctap with exit 2 before it binds.
mod common;

use std::path::PathBuf;
use std::process::Command;

fn temp_conf(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("proctap-config-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("proctap.conf");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn example_config_loads() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/proctap.conf");
    let out = Command::new(common::bin())
        .args(["config", "--config", example])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\nlisten = [\":9100\"]\n"), "{text}");
    assert!(
        !text.contains("\"interrupts\""),
        "the example disables interrupts: {text}"
    );
    assert!(text.contains("zram"), "{text}");
}

#[test]
fn file_and_flags_combine_in_a_scrape() {
    let conf = temp_conf(
        "scrape",
        "collectors = [\"loadavg\", \"filefd\"]\ncollector.entropy = true\n",
    );
    let out = common::once(&["--config", conf.to_str().unwrap(), "--no-collector.filefd"]);
    std::fs::remove_dir_all(conf.parent().unwrap()).unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let collectors: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("node_scrape_collector_success{collector=\""))
        .map(|l| l.split('"').next().unwrap())
        .collect();
    assert_eq!(collectors, ["entropy", "loadavg"]);
}

#[test]
fn a_bad_config_exits_2_before_binding() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let conf = temp_conf(
        "bad",
        &format!(
            "listen = \"{addr}\"\n# fine so far\ncollector.diskstats.device-exclud = \"^loop\"\n"
        ),
    );
    let out = Command::new(common::bin())
        .args(["--config", conf.to_str().unwrap()])
        .output()
        .unwrap();
    std::fs::remove_dir_all(conf.parent().unwrap()).unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err,
        format!(
            "proctap: {}:3: key collector.diskstats.device-exclud: unknown key (see proctap config for the known keys)\n",
            conf.display()
        )
    );
}

/// The default build has no TLS: the flag says so instead of serving plain HTTP unprotected.
#[cfg(not(feature = "tls"))]
#[test]
fn web_config_file_needs_the_tls_feature() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/web-config.yml");
    let out = Command::new(common::bin())
        .args(["--listen", "127.0.0.1:0", "--web.config-file", example])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("flag --web.config-file: invalid value")
            && err.contains("built without TLS and basic auth (cargo feature tls)"),
        "{err}"
    );
}
