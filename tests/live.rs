//! The collectors that ask the running kernel rather than files (netdev's netlink default,
//! qdisc, network_route, tcpstat, ethtool's ioctls) against Debian's node_exporter 1.5 on live
//! kernel state: private network and mount namespaces (`unshare -nm`, sysfs mounted afresh so
//! /sys/class/net lists the namespace's links) with a veth pair, an htb tree with a child qdisc
//! and a tbf, unicast, multipath, blackhole, unreachable and policy-table routes, and TCP
//! sockets in known states, built by tests/support/netns.sh, which scrapes proctap,
//! node_exporter and proctap again.
//!
//! Counters must lie between proctap's two readings; what node_exporter itself adds to the
//! namespace (its listening socket and the scrape's connection) is accounted for; labels
//! node_exporter added after 1.5 (network_route's `table` and `type`, and its blackhole and
//! unreachable series) are left out of the comparison and checked on their own.
mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{name_of, parse_exposition, Series};

struct Run {
    before: Series,
    theirs: Series,
    after: Series,
    /// qdisc with --collector.qdisc.include-child.
    children: Series,
}

fn run(collectors: &str) -> Run {
    let ne = common::require("prometheus-node-exporter");
    for tool in ["unshare", "ip", "tc", "curl", "python3"] {
        common::require(tool);
    }
    let out =
        std::env::temp_dir().join(format!("proctap-netns-{}-{collectors}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/netns.sh");
    // As root a plain network namespace; otherwise one owned by a new user namespace, where
    // the test is root enough to make links and qdiscs.
    let root = unsafe_geteuid() == 0;
    let st = Command::new("unshare")
        .args(if root { &["-nm"][..] } else { &["-rnm"][..] })
        .args(["sh", script])
        .env("PROCTAP", common::bin())
        .env("NODE_EXPORTER", ne)
        .env("OUT", &out)
        .env("COLLECTORS", collectors)
        .env("ROOTFS", common::fixtures())
        .env("PORT", "19100")
        .status()
        .expect("run unshare");
    let read = |f: &str| {
        let text = std::fs::read_to_string(out.join(f)).unwrap_or_default();
        parse_exposition(&text).0
    };
    assert!(
        st.success(),
        "tests/support/netns.sh failed; node_exporter's log:\n{}",
        std::fs::read_to_string(out.join("node_exporter.log")).unwrap_or_default()
    );
    let r = Run {
        before: read("before"),
        theirs: read("node_exporter"),
        after: read("after"),
        children: read("children"),
    };
    let _ = std::fs::remove_dir_all(&out);
    r
}

fn unsafe_geteuid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|u| u.parse().ok())
        .unwrap_or(u32::MAX)
}

fn family<'a>(s: &'a Series, prefix: &str) -> BTreeMap<&'a str, f64> {
    s.iter()
        .filter(|(k, _)| name_of(k).starts_with(prefix))
        .map(|(k, v)| (k.as_str(), *v))
        .collect()
}

/// Every series node_exporter has is proctap's, and its value lies between proctap's two.
fn between(r: &Run, prefix: &str) -> usize {
    let theirs = family(&r.theirs, prefix);
    assert!(!theirs.is_empty(), "node_exporter has no {prefix}* series");
    let ours: Vec<_> = family(&r.before, prefix).into_keys().collect();
    assert_eq!(
        ours,
        theirs.keys().copied().collect::<Vec<_>>(),
        "{prefix}*: the same series"
    );
    for (k, t) in &theirs {
        let (a, b) = (r.before[*k], r.after[*k]);
        assert!(
            a.min(b) <= *t && *t <= a.max(b),
            "{k}: proctap {a} then {b}, node_exporter {t}"
        );
    }
    theirs.len()
}

#[test]
fn netdev_qdisc_and_routes_match_node_exporter_in_a_namespace() {
    let r = run("netdev,qdisc,network_route");
    let netdev = between(&r, "node_network_receive_");
    let netdev = netdev + between(&r, "node_network_transmit_");
    // lo, v0, v1 and the namespace's sit/tunnel devices if any: 17 families each.
    assert_eq!(netdev % 17, 0, "{netdev}");
    assert!(r
        .before
        .contains_key("node_network_receive_nohandler_total{device=\"v0\"}"));
    // ARP retries keep going through v0's htb between the scrapes: `between` bounds them.
    let qdisc = between(&r, "node_qdisc_");
    assert!(
        r.before["node_qdisc_packets_total{device=\"v0\",kind=\"htb\"}"] > 0.0,
        "the ARP requests went through v0's htb"
    );
    assert!(
        !r.before.keys().any(|k| k.contains("kind=\"pfifo\"")),
        "child qdiscs only with --collector.qdisc.include-child"
    );
    for want in [
        "node_qdisc_packets_total{device=\"v0\",handle=\"10:0\",kind=\"pfifo\",parent=\"1:10\"}",
        "node_qdisc_packets_total{device=\"v0\",handle=\"1:0\",kind=\"htb\",parent=\"root\"}",
        "node_qdisc_backlog{device=\"v1\",handle=\"2:0\",kind=\"tbf\",parent=\"root\"}",
    ] {
        assert!(
            r.children.contains_key(want),
            "missing {want} in {:?}",
            r.children
        );
    }
    // Routes: 1.5's labels, without what later releases added.
    let strip = |k: &str| -> Option<String> {
        if k.contains("type=\"blackhole\"") || k.contains("type=\"unreachable\"") {
            return None;
        }
        let (name, labels) = k.split_once('{')?;
        // `a="x",b=""}` → the pairs without their closing quotes, then put back together.
        let labels = labels.strip_suffix("\"}")?;
        let kept: Vec<String> = labels
            .split("\",")
            .filter(|l| !l.starts_with("table=") && !l.starts_with("type="))
            .map(|l| format!("{l}\""))
            .collect();
        Some(format!("{name}{{{}}}", kept.join(",")))
    };
    let ours: BTreeMap<String, f64> = family(&r.before, "node_network_route")
        .into_iter()
        .filter_map(|(k, v)| strip(k).map(|k| (k, v)))
        .collect();
    let theirs: BTreeMap<String, f64> = family(&r.theirs, "node_network_route")
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(ours, theirs, "routes as node_exporter 1.5 reports them");
    for want in [
        "node_network_route_info{dest=\"10.2.0.0/16\",device=\"v0\",gw=\"10.0.0.2\",priority=\"0\",proto=\"boot\",src=\"\",table=\"main\",type=\"unicast\",weight=\"2\"}",
        "node_network_route_info{dest=\"10.8.0.0/16\",device=\"v0\",gw=\"10.0.0.5\",priority=\"0\",proto=\"boot\",src=\"\",table=\"wan\",type=\"unicast\",weight=\"\"}",
        "node_network_route_info{dest=\"10.9.0.0/16\",device=\"\",gw=\"\",priority=\"0\",proto=\"boot\",src=\"\",table=\"main\",type=\"blackhole\",weight=\"\"}",
        "node_network_route_info{dest=\"fd02::/48\",device=\"v0\",gw=\"fd01::2\",priority=\"1024\",proto=\"bird\",src=\"\",table=\"main\",type=\"unicast\",weight=\"\"}",
    ] {
        assert!(r.before.contains_key(want), "missing {want}");
    }
    println!(
        "netlink in a namespace: netdev {netdev}, qdisc {qdisc}, network_route {} series equal node_exporter 1.5's",
        theirs.len()
    );
}

#[test]
fn tcpstat_matches_node_exporter_in_a_namespace() {
    let r = run("tcpstat");
    let state = |s: &Series, st: &str| {
        s.get(&format!("node_tcp_connection_states{{state=\"{st}\"}}"))
            .copied()
            .unwrap_or(0.0)
    };
    // The test's sockets: listeners on 127.0.0.1 and ::1, and a connected pair whose receiver
    // has not read the 1,000 bytes sent.
    for (st, want) in [
        ("listen", 2.0),
        ("established", 2.0),
        ("rx_queued_bytes", 1000.0),
    ] {
        assert_eq!(state(&r.before, st), want, "{st}: {:?}", r.before);
    }
    // node_exporter also sees its own listener and both ends of the scrape's connection.
    assert_eq!(state(&r.theirs, "listen"), 3.0);
    assert_eq!(state(&r.theirs, "established"), 4.0);
    assert!(state(&r.theirs, "rx_queued_bytes") >= 1000.0);
    for st in ["syn_sent", "syn_recv", "close", "last_ack", "closing"] {
        assert_eq!(state(&r.theirs, st), state(&r.before, st), "{st}");
    }
    println!("tcpstat in a namespace: listen, established and queued bytes as node_exporter 1.5 counts them");
}

#[test]
fn ethtool_matches_node_exporter_in_a_namespace() {
    let r = run("ethtool");
    // veth reports driver info, link modes and its per-queue statistics; loopback nothing.
    let n = between(&r, "node_ethtool_");
    let links = between(&r, "node_network_");
    assert!(r.before.contains_key(
        "node_ethtool_info{bus_info=\"\",device=\"v0\",driver=\"veth\",expansion_rom_version=\"\",firmware_version=\"\",version=\"1.0\"}"
    ), "{:?}", r.before.keys().collect::<Vec<_>>());
    assert!(!r.before.keys().any(|k| k.contains("device=\"lo\"")));
    println!("ethtool in a namespace: {n} node_ethtool_* and {links} node_network_* series equal node_exporter 1.5's");
}
