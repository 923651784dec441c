//! `ipvs` (feature `server`; on by default as in node_exporter): the IPVS load balancer's
//! totals from /proc/net/ip_vs_stats → node_ipvs_{connections,incoming_packets,
//! outgoing_packets,incoming_bytes,outgoing_bytes}_total, and each real server (backend) of
//! /proc/net/ip_vs → node_ipvs_backend_{connections_active,connections_inactive,weight}, as
//! node_exporter 1.5 reports them.
//!
//! The backend series carry the labels `--collector.ipvs.backend-labels` names (default all
//! six: local_address, local_port, remote_address, remote_port, proto, local_mark); backends
//! with the same values of the chosen labels are summed. The kernel writes addresses and ports
//! in hex (`0A000064:0050`, `[fd00:...:0064]:0050`); they are exported as text (`10.0.0.100`,
//! `80`, `fd00::64`). A firewall-mark service (`FWM 0000001A`) has local_mark as the kernel
//! writes it, no local address and local port 0. No /proc/net/ip_vs_stats (ip_vs not loaded)
//! is no series and success.
use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::flag::{bad, CliError, Flag, Kind as FlagKind, Settings};
use crate::source::{Error, ParseError, Root};

/// The backend labels, in output (sorted) order, and the default flag's order.
const LABELS: [&str; 6] = [
    "local_address",
    "local_mark",
    "local_port",
    "proto",
    "remote_address",
    "remote_port",
];
const DEFAULT_LABELS: &str = "local_address,local_port,remote_address,remote_port,proto,local_mark";

#[rustfmt::skip]
const TOTALS: [(&str, &str); 5] = [
    ("connections_total", "The total number of connections made."),
    ("incoming_packets_total", "The total number of incoming packets."),
    ("outgoing_packets_total", "The total number of outgoing packets."),
    ("incoming_bytes_total", "The total amount of incoming data."),
    ("outgoing_bytes_total", "The total amount of outgoing data."),
];

/// The five totals of /proc/net/ip_vs_stats: the hex numbers of its third line.
pub fn parse_stats(text: &str) -> Result<[u64; 5], ParseError> {
    let bad = || {
        ParseError::new(
            3,
            "expected five hex totals (conns, packets in/out, bytes in/out)",
        )
    };
    let mut v = [0u64; 5];
    let mut fields = text.lines().nth(2).ok_or_else(bad)?.split_whitespace();
    for slot in &mut v {
        *slot = fields
            .next()
            .and_then(|f| u64::from_str_radix(f, 16).ok())
            .ok_or_else(bad)?;
    }
    Ok(v)
}

/// Writes the address and port of `HEX:PORT` or `[IPV6]:PORT` (both hex, as the kernel prints
/// them) as text into `addr` and `port`.
pub fn parse_endpoint(field: &str, addr: &mut String, port: &mut String) -> Option<()> {
    let (a, p) = field.rsplit_once(':')?;
    let p = u16::from_str_radix(p, 16).ok()?;
    addr.clear();
    port.clear();
    match a.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        Some(v6) => write!(addr, "{}", v6.parse::<Ipv6Addr>().ok()?),
        None if a.len() == 8 => {
            write!(addr, "{}", Ipv4Addr::from(u32::from_str_radix(a, 16).ok()?))
        }
        None => return None,
    }
    .ok()?;
    write!(port, "{p}").ok()
}

/// The values of the chosen labels of a backend, what backends are grouped by.
fn key(b: &Backend, chosen: [bool; 6]) -> impl Iterator<Item = &str> {
    b.labels
        .iter()
        .zip(chosen)
        .filter(|(_, c)| *c)
        .map(|(l, _)| l.as_str())
}

struct Backend {
    /// Values in [`LABELS`] order.
    labels: [String; 6],
    /// active, inactive, weight
    values: [u64; 3],
}

impl Default for Backend {
    /// Sorting moves backends between slots, so each label has room for the longest value
    /// (an IPv6 address is at most 39 bytes) and a later scrape does not grow it.
    fn default() -> Backend {
        Backend {
            labels: std::array::from_fn(|_| String::with_capacity(40)),
            values: [0; 3],
        }
    }
}

pub const COLLECTOR: Collector = Collector {
    name: "ipvs",
    enabled_by_default: true,
    flags: &[Flag::new(
        "collector.ipvs.backend-labels",
        FlagKind::Str,
        "LABELS",
        DEFAULT_LABELS,
        "Comma-separated labels of the IPVS backend series (of local_address, local_port, remote_address, remote_port, proto, local_mark); backends alike in these are summed.",
    )],
    help_section: None,
    sources: Sources {
        reads: &[
            What::Optional(Root::Proc, "net/ip_vs_stats"),
            What::Optional(Root::Proc, "net/ip_vs"),
        ],
        hint: "the ip_vs kernel module (IPVS load balancing, kube-proxy's ipvs mode)",
    },
    build: Build::New(|s| Ok(Box::new(Ipvs::new(s)?))),
};

pub struct Ipvs {
    /// Which of [`LABELS`] the backend series carry.
    chosen: [bool; 6],
    backends: Vec<Backend>,
    len: usize,
}

impl Ipvs {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<Ipvs, CliError> {
        const FLAG: &str = "collector.ipvs.backend-labels";
        let value = s.str(FLAG);
        let mut chosen = [false; 6];
        for name in value.split(',').filter(|n| !n.is_empty()) {
            let Some(i) = LABELS.iter().position(|l| *l == name) else {
                return Err(bad(FLAG, value, format!("unknown label {name:?}")));
            };
            if let Some(c) = chosen.get_mut(i) {
                *c = true;
            }
        }
        Ok(Ipvs {
            chosen,
            backends: Vec::new(),
            len: 0,
        })
    }

    /// Sums the parsed backends alike in the chosen labels into the first of each kind, in
    /// file order, and returns how many there are. With all six labels every backend is its
    /// own (the kernel keeps one destination per address and port of a service), so nothing
    /// is compared; with fewer, the few groups are searched for each backend.
    fn merge(&mut self) -> usize {
        let chosen = self.chosen;
        if chosen == [true; 6] {
            return self.len;
        }
        let mut groups = 0;
        for i in 0..self.len {
            let (head, tail) = self.backends.split_at_mut(i);
            let Some(b) = tail.first() else {
                break;
            };
            let group = head
                .get_mut(..groups)
                .unwrap_or_default()
                .iter_mut()
                .find(|g| key(g, chosen).eq(key(b, chosen)));
            if let Some(g) = group {
                for (sum, v) in g.values.iter_mut().zip(b.values) {
                    *sum = sum.wrapping_add(v);
                }
            } else {
                self.backends.swap(groups, i);
                groups += 1;
            }
        }
        groups
    }

    /// Parses /proc/net/ip_vs into `self.backends[..self.len]`.
    fn parse(&mut self, text: &str) -> Result<(), ParseError> {
        self.len = 0;
        let mut in_service = false;
        for (n, line) in text.lines().enumerate().skip(3) {
            self.line(line, &mut in_service)
                .map_err(|what| ParseError::new(n + 1, format!("expected {what}")))?;
        }
        Ok(())
    }

    /// One line of /proc/net/ip_vs after the header; the error says what was expected.
    fn line(&mut self, line: &str, in_service: &mut bool) -> Result<(), &'static str> {
        let mut f = line.split_whitespace();
        let (Some(first), Some(second)) = (f.next(), f.next()) else {
            return Ok(());
        };
        const ENDPOINT: &str = "ADDR:PORT in hex";
        if first != "->" {
            // A service: `PROTO ADDR:PORT scheduler [flags]` or `FWM MARK scheduler`.
            if !matches!(first, "TCP" | "UDP" | "SCTP" | "FWM") {
                return Err("a service (TCP, UDP, SCTP or FWM) or a backend (->)");
            }
            *in_service = true;
            if self.len == self.backends.len() {
                self.backends.push(Backend::default());
            }
            // The service's labels are kept in the next free slot, which its first backend
            // takes over (and copies on).
            let s = self.backends.get_mut(self.len).ok_or("a slot")?;
            let [addr, mark, port, proto, _, _] = &mut s.labels;
            proto.clear();
            proto.push_str(first);
            mark.clear();
            if first == "FWM" {
                mark.push_str(second);
                addr.clear();
                port.clear();
                port.push('0');
            } else {
                parse_endpoint(second, addr, port).ok_or(ENDPOINT)?;
            }
            return Ok(());
        }
        if !*in_service {
            return Err("a service before its backends");
        }
        let mut values = [0u64; 3];
        let _forward = f.next();
        for v in &mut values {
            *v = f
                .next()
                .and_then(|x| x.parse().ok())
                .ok_or("-> ADDR:PORT FORWARD WEIGHT ACTIVE INACTIVE")?;
        }
        let [weight, active, inactive] = values;
        if self.len + 1 >= self.backends.len() {
            self.backends.push(Backend::default());
        }
        let (done, rest) = self.backends.split_at_mut(self.len + 1);
        let (Some(b), Some(next)) = (done.last_mut(), rest.first_mut()) else {
            return Err("a slot");
        };
        let [_, _, _, _, addr, port] = &mut b.labels;
        parse_endpoint(second, addr, port).ok_or(ENDPOINT)?;
        b.values = [active, inactive, weight];
        // The next backend of the same service starts from this one's service labels.
        for (to, from) in next.labels.iter_mut().zip(&b.labels).take(4) {
            to.clear();
            to.push_str(from);
        }
        self.len += 1;
        Ok(())
    }
}

impl Collect for Ipvs {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        if !ctx
            .src
            .read_optional(Root::Proc, &["net/ip_vs_stats"], &mut ctx.buf)?
        {
            return Ok(());
        }
        let totals = parse_stats(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
        ctx.src.read(Root::Proc, &["net/ip_vs"], &mut ctx.buf)?;
        self.parse(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
        for ((name, help), v) in TOTALS.iter().zip(totals) {
            out.family_parts(&["node_ipvs_", name], help, Kind::Counter);
            out.u64(&[], v);
        }
        let chosen = self.chosen;
        let groups = self.merge();
        let used = self.backends.get(..groups).unwrap_or_default();
        let families = [
            (
                "connections_active",
                "The current active connections by local and remote address.",
            ),
            (
                "connections_inactive",
                "The current inactive connections by local and remote address.",
            ),
            (
                "weight",
                "The current backend weight by local and remote address.",
            ),
        ];
        for (k, (name, help)) in families.iter().enumerate() {
            if used.is_empty() {
                break;
            }
            out.family_parts(&["node_ipvs_backend_", name], help, Kind::Gauge);
            for b in used {
                let mut labels = [("", ""); 6];
                let mut n = 0;
                for ((l, v), c) in LABELS.iter().zip(&b.labels).zip(chosen) {
                    if let (true, Some(slot)) = (c, labels.get_mut(n)) {
                        *slot = (l, v.as_str());
                        n += 1;
                    }
                }
                let v = b.values.get(k).copied().unwrap_or(0);
                out.u64(labels.get(..n).unwrap_or_default(), v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipvs(labels: &str) -> Ipvs {
        let mut s = crate::collector::default_settings();
        let f = crate::collector::flags()
            .find(|f| f.name == "collector.ipvs.backend-labels")
            .unwrap();
        s.set(f, crate::config::Value::Str(labels.into())).unwrap();
        Ipvs::new(&s).unwrap()
    }

    #[test]
    fn stats_and_endpoints() {
        let stats = "   Total Incoming Outgoing         Incoming         Outgoing\n   Conns  Packets  Packets            Bytes            Bytes\n      1A       FF        0      100000000        2\n";
        assert_eq!(parse_stats(stats), Ok([26, 255, 0, 1 << 32, 2]));
        assert!(parse_stats("a\nb\n 1 2 3\n").is_err());
        assert!(parse_stats("a\nb\n 1 2 3 4 XYZ\n").is_err());
        assert!(parse_stats("").is_err());
        let (mut a, mut p) = (String::new(), String::new());
        assert!(parse_endpoint("0A000064:0050", &mut a, &mut p).is_some());
        assert_eq!((a.as_str(), p.as_str()), ("10.0.0.100", "80"));
        assert!(parse_endpoint(
            "[2620:0000:0000:0000:0000:0000:0000:0001]:01BB",
            &mut a,
            &mut p
        )
        .is_some());
        assert_eq!((a.as_str(), p.as_str()), ("2620::1", "443"));
        assert!(parse_endpoint("0A0064:0050", &mut a, &mut p).is_none());
        assert!(parse_endpoint("0A000064:10000", &mut a, &mut p).is_none());
        assert!(parse_endpoint("[fd00::zz]:0050", &mut a, &mut p).is_none());
        assert!(parse_endpoint("0A000064", &mut a, &mut p).is_none());
    }

    #[test]
    fn garbage_is_an_error_with_its_line() {
        let head = "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n";
        let mut c = ipvs(DEFAULT_LABELS);
        assert_eq!(c.parse(head).map(|()| c.len), Ok(0));
        let e = c
            .parse(&format!("{head}  -> 0A00010B:1F90 Masq 1 2 3\n"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 4: expected a service before its backends"
        );
        let e = c
            .parse(&format!("{head}ICMP 0A000064:0050 rr\n"))
            .unwrap_err();
        assert!(
            e.to_string().starts_with("line 4: expected a service"),
            "{e}"
        );
        let e = c
            .parse(&format!(
                "{head}TCP 0A000064:0050 rr\n  -> 0A00010B:1F90 Masq 1 x 3\n"
            ))
            .unwrap_err();
        assert!(e.to_string().starts_with("line 5: expected -> ADDR"), "{e}");
    }

    fn scrape(c: &mut Ipvs) -> String {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        for _ in 0..2 {
            out.clear();
            c.collect(&mut ctx, &mut out).unwrap();
        }
        String::from_utf8(out.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn collect_fixture() {
        let text = scrape(&mut ipvs(DEFAULT_LABELS));
        for line in [
            "node_ipvs_connections_total 3100187\n",
            "node_ipvs_incoming_bytes_total 65536000990765\n",
            "node_ipvs_backend_connections_active{local_address=\"10.0.0.100\",local_mark=\"\",local_port=\"80\",proto=\"TCP\",remote_address=\"10.0.1.12\",remote_port=\"8080\"} 251\n",
            "node_ipvs_backend_connections_inactive{local_address=\"fd00::64\",local_mark=\"\",local_port=\"80\",proto=\"TCP\",remote_address=\"fd00::1:b\",remote_port=\"8080\"} 4\n",
            "node_ipvs_backend_weight{local_address=\"\",local_mark=\"0000001A\",local_port=\"0\",proto=\"FWM\",remote_address=\"10.0.3.11\",remote_port=\"3306\"} 2\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 32);
        assert_eq!(
            text.matches("# TYPE node_ipvs_backend_weight gauge")
                .count(),
            1
        );
        let text = scrape(&mut ipvs("remote_port,proto"));
        assert!(
            text.contains(
                "node_ipvs_backend_connections_active{proto=\"TCP\",remote_port=\"8080\"} 553\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("node_ipvs_backend_weight{proto=\"FWM\",remote_port=\"3306\"} 4\n"),
            "{text}"
        );
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 14);
        let text = scrape(&mut ipvs(""));
        assert!(
            text.contains("node_ipvs_backend_connections_inactive 2420\n"),
            "{text}"
        );
    }

    #[test]
    fn no_ip_vs_is_no_series_but_stats_without_services_fail() {
        let dir = std::env::temp_dir().join(format!("proctap-ipvs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("proc/net")).unwrap();
        let mut ctx = Ctx::new(crate::source::Source::new(
            dir.join("proc"),
            dir.join("sys"),
            dir.clone(),
        ));
        let mut out = Encoder::new();
        let mut c = ipvs(DEFAULT_LABELS);
        c.collect(&mut ctx, &mut out).unwrap();
        assert!(out.as_bytes().is_empty());
        std::fs::write(dir.join("proc/net/ip_vs_stats"), "h\nh\n 1 2 3 4 5\n").unwrap();
        let err = c.collect(&mut ctx, &mut out).unwrap_err();
        assert!(err.to_string().contains("net/ip_vs:"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_label_is_refused() {
        let mut s = crate::collector::default_settings();
        let f = crate::collector::flags()
            .find(|f| f.name == "collector.ipvs.backend-labels")
            .unwrap();
        s.set(f, crate::config::Value::Str("proto,bogus".into()))
            .unwrap();
        assert!(Ipvs::new(&s).is_err());
    }
}
