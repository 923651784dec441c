//! `qdisc` (off by default): every interface's queueing disciplines from an RTM_GETQDISC dump →
//! node_qdisc_{bytes,packets,drops,requeues,overlimits}_total, node_qdisc_current_queue_length
//! and node_qdisc_backlog {device,kind}, as node_exporter reports them: root qdiscs only, or
//! every qdisc with `--collector.qdisc.include-child` (then also {parent,handle}, as
//! node_exporter does since that flag came, after 1.5).
//!
//! The statistics are the kernel's TCA_STATS2 (gen_stats.h: basic, queue and, since 5.x, the
//! 64-bit packet count), or the legacy `struct tc_stats` of TCA_STATS on kernels that send only
//! that. Where node_exporter 1.5 reads packets as 32 bits, the 64-bit count is used when the
//! kernel gives it (they are equal below 2^32).
use std::os::fd::OwnedFd;

use crate::collector::{Build, Collect, Collector, Ctx, Filter, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::flag::{CliError, Flag, Kind as FlagKind, Settings};
use crate::netlink::{self, Family, NlError, Socket};
use crate::source::Error;

const RTM_NEWQDISC: u16 = 36;
const RTM_GETQDISC: u16 = 38;
/// `struct tcmsg`: u8 family, u8 + u16 pad, i32 ifindex, u32 handle, u32 parent, u32 info.
const TCMSG_LEN: usize = 20;
const TCA_KIND: u16 = 1;
const TCA_STATS: u16 = 3;
const TCA_STATS2: u16 = 7;
const TCA_STATS_BASIC: u16 = 1;
const TCA_STATS_QUEUE: u16 = 3;
const TCA_STATS_PKT64: u16 = 8;
/// A root qdisc's parent (TC_H_ROOT); node_exporter's library reports it as 0.
const TC_H_ROOT: u32 = u32::MAX;

/// One qdisc of the dump.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Qdisc {
    pub ifindex: i32,
    pub handle: u32,
    /// 0 for a root qdisc.
    pub parent: u32,
    kind: [u8; 16],
    kind_len: u8,
    pub bytes: u64,
    pub packets: u64,
    pub drops: u32,
    pub requeues: u32,
    pub overlimits: u32,
    pub qlen: u32,
    pub backlog: u32,
}

impl Qdisc {
    pub fn kind(&self) -> &[u8] {
        self.kind.get(..usize::from(self.kind_len)).unwrap_or(&[])
    }
}

/// Parses one RTM_NEWQDISC message (tcmsg and attributes).
pub fn parse_qdisc(payload: &[u8]) -> Result<Qdisc, NlError> {
    let head = payload
        .get(..TCMSG_LEN)
        .ok_or_else(|| netlink::short("tcmsg", TCMSG_LEN, payload.len()))?;
    let word = |at| netlink::u32_at(head, at).unwrap_or(0);
    let parent = word(12);
    let mut q = Qdisc {
        ifindex: word(4) as i32,
        handle: word(8),
        parent: if parent == TC_H_ROOT { 0 } else { parent },
        ..Qdisc::default()
    };
    let (mut stats2, mut legacy) = (None, None);
    netlink::for_each_attr(payload.get(TCMSG_LEN..).unwrap_or(&[]), |a| {
        match a.ty {
            TCA_KIND => {
                let k = netlink::c_str(a.data);
                let n = k.len().min(q.kind.len());
                q.kind[..n].copy_from_slice(&k[..n]);
                q.kind_len = n as u8;
            }
            TCA_STATS2 => stats2 = Some(a.data),
            TCA_STATS => legacy = Some(a.data),
            _ => {}
        }
        Ok(())
    })?;
    match (stats2, legacy) {
        (Some(s), _) => parse_stats2(s, &mut q)?,
        (None, Some(s)) => parse_tc_stats(s, &mut q)?,
        (None, None) => {}
    }
    Ok(q)
}

/// TCA_STATS2's nested gnet_stats_basic, gnet_stats_queue and 64-bit packet count.
fn parse_stats2(data: &[u8], q: &mut Qdisc) -> Result<(), NlError> {
    let mut pkt64 = None;
    netlink::for_each_attr(data, |a| {
        let d = a.data;
        match a.ty {
            TCA_STATS_BASIC => {
                let (Some(bytes), Some(packets)) = (netlink::u64_at(d, 0), netlink::u32_at(d, 8))
                else {
                    return Err(netlink::short("TCA_STATS_BASIC", 12, d.len()));
                };
                q.bytes = bytes;
                q.packets = u64::from(packets);
            }
            TCA_STATS_QUEUE => {
                let f = |i: usize| netlink::u32_at(d, 4 * i);
                let (Some(qlen), Some(backlog), Some(drops), Some(requeues), Some(over)) =
                    (f(0), f(1), f(2), f(3), f(4))
                else {
                    return Err(netlink::short("TCA_STATS_QUEUE", 20, d.len()));
                };
                (q.qlen, q.backlog, q.drops, q.requeues, q.overlimits) =
                    (qlen, backlog, drops, requeues, over);
            }
            TCA_STATS_PKT64 => pkt64 = Some(netlink::u64_attr(&a, "TCA_STATS_PKT64")?),
            _ => {}
        }
        Ok(())
    })?;
    if let Some(p) = pkt64 {
        q.packets = p;
    }
    Ok(())
}

/// The legacy `struct tc_stats` (pkt_sched.h): bytes, packets, drops, overlimits, bps, pps,
/// qlen, backlog; no requeues.
fn parse_tc_stats(d: &[u8], q: &mut Qdisc) -> Result<(), NlError> {
    let f = |at| netlink::u32_at(d, at).unwrap_or(0);
    let bytes = netlink::u64_at(d, 0)
        .filter(|_| d.len() >= 36)
        .ok_or_else(|| netlink::short("TCA_STATS", 36, d.len()))?;
    (q.bytes, q.packets, q.drops, q.overlimits, q.qlen, q.backlog) =
        (bytes, u64::from(f(8)), f(12), f(16), f(28), f(32));
    Ok(())
}

/// A tc handle as `tc` writes it: major and minor in hex (`1:10`, `8001:0`).
pub fn handle_str(handle: u32, buf: &mut [u8; 16]) -> &str {
    let mut n = 0;
    for (i, part) in [handle >> 16, handle & 0xffff].into_iter().enumerate() {
        if i == 1 {
            buf[n] = b':';
            n += 1;
        }
        let digits = (32 - part.leading_zeros()).div_ceil(4).max(1);
        for d in (0..digits).rev() {
            buf[n] = b"0123456789abcdef"[((part >> (4 * d)) & 0xf) as usize];
            n += 1;
        }
    }
    std::str::from_utf8(&buf[..n]).unwrap_or("")
}

pub const COLLECTOR: Collector = Collector {
    name: "qdisc",
    enabled_by_default: false,
    flags: &[
        Flag::new(
            "collector.qdisc.device-include",
            FlagKind::OptRegex,
            "RE",
            "",
            "Only the qdiscs of these interfaces.",
        )
        .aliases(&["collector.qdisk.device-include"])
        .unset_none()
        .partner("collector.qdisc.device-exclude"),
        Flag::new(
            "collector.qdisc.device-exclude",
            FlagKind::OptRegex,
            "RE",
            "",
            "Interfaces whose qdiscs to skip (mutually exclusive with -include).",
        )
        .aliases(&["collector.qdisk.device-exclude"])
        .unset_none(),
        Flag::switch(
            "collector.qdisc.include-child",
            "Every qdisc, not only the root ones, with parent and handle labels (a child's packets are counted by its parents too).",
        ),
    ],
    help_section: None,
    sources: Sources {
        reads: &[What::Netlink(Family::Route, "RTM_GETQDISC dump")],
        hint: "needs no privilege; a kernel without CONFIG_NET_SCHED has no qdiscs",
    },
    build: Build::New(|s| Ok(Box::new(QdiscCollector::new(s)?))),
};

pub struct QdiscCollector {
    filter: Filter,
    children: bool,
    sock: Option<(Socket, OwnedFd)>,
    req: Vec<u8>,
    /// The qdiscs of the last dump that are exported, with their interface names.
    rows: Vec<(Qdisc, [u8; 16])>,
}

impl QdiscCollector {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<Self, CliError> {
        Ok(QdiscCollector {
            filter: Filter::from_settings(
                s,
                "collector.qdisc.device-include",
                "collector.qdisc.device-exclude",
            )?,
            children: s.switch("collector.qdisc.include-child"),
            sock: None,
            req: Vec::new(),
            rows: Vec::new(),
        })
    }

    fn dump(&mut self) -> Result<(), NlError> {
        let (sock, ioctl) = match &mut self.sock {
            Some(s) => s,
            None => self.sock.insert((
                Socket::open(netlink::NETLINK_ROUTE)?,
                netlink::ioctl_socket()?,
            )),
        };
        netlink::request(
            &mut self.req,
            RTM_GETQDISC,
            netlink::NLM_F_REQUEST | netlink::NLM_F_DUMP,
            &[0; TCMSG_LEN],
        );
        let (rows, filter, children) = (&mut self.rows, &mut self.filter, self.children);
        rows.clear();
        let mut last: Option<(i32, [u8; 16])> = None;
        sock.exchange(&mut self.req, |m| {
            if m.ty != RTM_NEWQDISC {
                return Ok(());
            }
            let q = parse_qdisc(m.payload)?;
            if q.parent != 0 && !children {
                return Ok(());
            }
            let name = match last {
                Some((i, name)) if i == q.ifindex => name,
                _ => {
                    let mut name = [0u8; 16];
                    match netlink::if_name(ioctl, q.ifindex, &mut name) {
                        Ok(_) => {}
                        // The interface went away during the dump.
                        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Ok(()),
                        Err(e) => return Err(e.into()),
                    }
                    last = Some((q.ifindex, name));
                    name
                }
            };
            if filter.allows(&String::from_utf8_lossy(netlink::c_str(&name))) {
                rows.push((q, name));
            }
            Ok(())
        })
    }
}

type Field = fn(&Qdisc) -> u64;

const FAMILIES: [(&str, &str, Kind, Field); 7] = [
    (
        "node_qdisc_bytes_total",
        "Number of bytes sent.",
        Kind::Counter,
        |q| q.bytes,
    ),
    (
        "node_qdisc_packets_total",
        "Number of packets sent.",
        Kind::Counter,
        |q| q.packets,
    ),
    (
        "node_qdisc_drops_total",
        "Number of packets dropped.",
        Kind::Counter,
        |q| q.drops.into(),
    ),
    (
        "node_qdisc_requeues_total",
        "Number of packets dequeued, not transmitted, and requeued.",
        Kind::Counter,
        |q| q.requeues.into(),
    ),
    (
        "node_qdisc_overlimits_total",
        "Number of overlimit packets.",
        Kind::Counter,
        |q| q.overlimits.into(),
    ),
    (
        "node_qdisc_current_queue_length",
        "Number of packets currently in queue to be sent.",
        Kind::Gauge,
        |q| q.qlen.into(),
    ),
    (
        "node_qdisc_backlog",
        "Number of bytes currently in queue to be sent.",
        Kind::Gauge,
        |q| q.backlog.into(),
    ),
];

impl Collect for QdiscCollector {
    fn collect(&mut self, _ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        self.dump()
            .map_err(|e| e.into_error("netlink RTM_GETQDISC dump"))?;
        for (name, help, kind, field) in FAMILIES {
            out.family(name, help, kind);
            for (q, dev) in &self.rows {
                let dev = String::from_utf8_lossy(netlink::c_str(dev));
                let kind = String::from_utf8_lossy(q.kind());
                let (mut p, mut h) = ([0u8; 16], [0u8; 16]);
                if self.children {
                    let parent = match q.parent {
                        0 => "root",
                        p_ => handle_str(p_, &mut p),
                    };
                    let labels = [
                        ("device", &*dev),
                        ("kind", &*kind),
                        ("parent", parent),
                        ("handle", handle_str(q.handle, &mut h)),
                    ];
                    out.u64(&labels, field(q));
                } else {
                    out.u64(&[("device", &dev), ("kind", &kind)], field(q));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::build::{attr, nest, str_a};

    /// An RTM_NEWQDISC payload: tcmsg, TCA_KIND, then the given attributes.
    fn qdisc_msg(ifindex: i32, handle: u32, parent: u32, kind: &str, rest: &[Vec<u8>]) -> Vec<u8> {
        let mut p = vec![0u8; TCMSG_LEN];
        p[4..8].copy_from_slice(&ifindex.to_ne_bytes());
        p[8..12].copy_from_slice(&handle.to_ne_bytes());
        p[12..16].copy_from_slice(&parent.to_ne_bytes());
        p[16..20].copy_from_slice(&2u32.to_ne_bytes()); // tcm_info (refcount)
        p.extend(str_a(TCA_KIND, kind));
        p.extend(attr(2, &[0; 8])); // TCA_OPTIONS, not read
        for r in rest {
            p.extend_from_slice(r);
        }
        p
    }

    fn basic(bytes: u64, packets: u32) -> Vec<u8> {
        // gnet_stats_basic is 12 bytes of fields padded to 16 by the compiler.
        let mut d = bytes.to_ne_bytes().to_vec();
        d.extend(packets.to_ne_bytes());
        d.extend([0; 4]);
        attr(TCA_STATS_BASIC, &d)
    }

    fn queue(v: [u32; 5]) -> Vec<u8> {
        attr(
            TCA_STATS_QUEUE,
            &v.iter().flat_map(|x| x.to_ne_bytes()).collect::<Vec<_>>(),
        )
    }

    fn tc_stats(bytes: u64, rest: [u32; 7]) -> Vec<u8> {
        let mut d = bytes.to_ne_bytes().to_vec();
        d.extend(rest.iter().flat_map(|x| x.to_ne_bytes()));
        d.extend([0; 4]);
        attr(TCA_STATS, &d)
    }

    #[test]
    fn root_fq_codel_with_stats2_and_legacy_stats() {
        // What a 6.x kernel sends for `fq_codel 0: dev eth0 root`: TCA_STATS2 (basic, the
        // rate estimator, queue, 64-bit packets), then the compat TCA_STATS.
        let stats2 = nest(
            TCA_STATS2,
            &[
                basic(7_000_000_000, 5_000_000),
                attr(2, &[0; 8]), // TCA_STATS_RATE_EST
                queue([3, 4542, 12, 5, 17]),
                attr(TCA_STATS_PKT64, &5_000_000_000u64.to_ne_bytes()),
            ],
        );
        let legacy = tc_stats(7_000_000_000, [705_032_704, 12, 17, 0, 0, 3, 4542]);
        let q = parse_qdisc(&qdisc_msg(2, 0, TC_H_ROOT, "fq_codel", &[stats2, legacy])).unwrap();
        assert_eq!((q.ifindex, q.handle, q.parent), (2, 0, 0));
        assert_eq!(q.kind(), b"fq_codel");
        assert_eq!((q.bytes, q.packets), (7_000_000_000, 5_000_000_000));
        assert_eq!((q.drops, q.requeues, q.overlimits), (12, 5, 17));
        assert_eq!((q.qlen, q.backlog), (3, 4542));
    }

    #[test]
    fn child_qdisc_and_legacy_only_stats() {
        let q = parse_qdisc(&qdisc_msg(
            9,
            0x10_0000,
            0x1_0010,
            "pfifo",
            &[tc_stats(1500, [1, 0, 2, 0, 0, 0, 0])],
        ))
        .unwrap();
        assert_eq!((q.handle, q.parent), (0x10_0000, 0x1_0010));
        assert_eq!(
            (q.bytes, q.packets, q.overlimits, q.requeues),
            (1500, 1, 2, 0)
        );
        let (mut a, mut b) = ([0; 16], [0; 16]);
        assert_eq!(handle_str(q.parent, &mut a), "1:10");
        assert_eq!(handle_str(q.handle, &mut b), "10:0");
        assert_eq!(handle_str(0xffff_fff1, &mut a), "ffff:fff1");
        assert_eq!(handle_str(0x8001_0000, &mut a), "8001:0");
        // A qdisc without statistics (noop) reports zeros.
        let q = parse_qdisc(&qdisc_msg(3, 0, TC_H_ROOT, "noqueue", &[])).unwrap();
        assert_eq!((q.bytes, q.packets, q.qlen), (0, 0, 0));
    }

    #[test]
    fn garbage() {
        let e = |p: &[u8]| parse_qdisc(p).unwrap_err().to_string();
        assert_eq!(e(&[0; 19]), "tcmsg: expected at least 20 bytes, found 19");
        let short_basic = nest(TCA_STATS2, &[attr(TCA_STATS_BASIC, &[0; 8])]);
        assert_eq!(
            e(&qdisc_msg(1, 0, 0, "htb", &[short_basic])),
            "TCA_STATS_BASIC: expected at least 12 bytes, found 8"
        );
        let short_queue = nest(TCA_STATS2, &[attr(TCA_STATS_QUEUE, &[0; 16])]);
        assert_eq!(
            e(&qdisc_msg(1, 0, 0, "htb", &[short_queue])),
            "TCA_STATS_QUEUE: expected at least 20 bytes, found 16"
        );
        assert_eq!(
            e(&qdisc_msg(1, 0, 0, "htb", &[attr(TCA_STATS, &[0; 12])])),
            "TCA_STATS: expected at least 36 bytes, found 12"
        );
        // A kind longer than the kernel allows is cut, not a panic.
        let q = parse_qdisc(&qdisc_msg(1, 0, 0, "a-very-long-qdisc-kind", &[])).unwrap();
        assert_eq!(q.kind(), b"a-very-long-qdis");
    }

    #[test]
    fn live_dump_has_a_root_qdisc_for_loopback() {
        let mut c = QdiscCollector::new(&crate::collector::default_settings()).unwrap();
        let mut out = Encoder::new();
        c.collect(&mut crate::collector::fixture_ctx(), &mut out)
            .unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert_eq!(text.matches("# TYPE node_qdisc_").count(), 7, "{text}");
        assert!(
            c.rows.iter().all(|(q, _)| q.parent == 0),
            "root qdiscs only by default"
        );
        assert!(
            text.contains("node_qdisc_packets_total{device=\"lo\",kind=\""),
            "{text}"
        );
    }
}
