//! `network_route` (off by default): the kernel's routes from an RTM_GETROUTE dump of every
//! table and family → node_network_route_info{device,src,dest,gw,priority,proto,weight,table,type}
//! and node_network_routes{device}, as node_exporter reports them: unicast routes (one series
//! per next hop of a multipath route, its weight as a label) counted per device, and, since
//! after 1.5, blackhole and unreachable routes (no device, not counted) and the `table` and
//! `type` labels, with table names from iproute2's rt_tables under --path.rootfs.
use std::fmt::Write as _;
use std::os::fd::OwnedFd;

use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{u64_str, Encoder, Kind};
use crate::netlink::{self, Family, NlError, Socket};
use crate::source::{Error, ParseError, Root};

const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
/// `struct rtmsg`: family, dst_len, src_len, tos, table, protocol, scope, type (u8), flags u32.
const RTMSG_LEN: usize = 12;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
/// `struct rtnexthop`: u16 len, u8 flags, u8 hops, i32 ifindex, then attributes.
const RTNH_LEN: usize = 8;
pub const RTN_UNICAST: u8 = 1;
pub const RTN_BLACKHOLE: u8 = 6;
pub const RTN_UNREACHABLE: u8 = 7;

/// An address of a route as the kernel sent it (4 or 16 bytes; empty when absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Addr {
    bytes: [u8; 16],
    len: u8,
}

impl Addr {
    fn from(data: &[u8]) -> Addr {
        let mut a = Addr::default();
        let n = data.len().min(16);
        a.bytes[..n].copy_from_slice(&data[..n]);
        a.len = n as u8;
        a
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// One series of node_network_route_info: a route, or one next hop of a multipath route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Row {
    /// The output interface's index (0: none).
    pub oif: i32,
    pub src: Addr,
    pub dst: Addr,
    pub dst_len: u8,
    pub gw: Addr,
    pub priority: u32,
    pub proto: u8,
    /// The next hop's weight (rtnh_hops + 1) of a multipath route.
    pub weight: Option<u16>,
    pub table: u32,
    pub rtype: u8,
}

/// Parses one RTM_NEWROUTE message and calls `f` with its rows: none for a route type
/// node_exporter does not export (local, broadcast, multicast, ...), one per next hop.
pub fn parse_route(payload: &[u8], mut f: impl FnMut(Row)) -> Result<(), NlError> {
    let head = payload
        .get(..RTMSG_LEN)
        .ok_or_else(|| netlink::short("rtmsg", RTMSG_LEN, payload.len()))?;
    let rtype = head[7];
    if ![RTN_UNICAST, RTN_BLACKHOLE, RTN_UNREACHABLE].contains(&rtype) {
        return Ok(());
    }
    let mut r = Row {
        dst_len: head[1],
        table: u32::from(head[4]),
        proto: head[5],
        rtype,
        ..Row::default()
    };
    let mut multipath = None;
    netlink::for_each_attr(payload.get(RTMSG_LEN..).unwrap_or(&[]), |a| {
        match a.ty {
            RTA_DST => r.dst = Addr::from(a.data),
            RTA_PREFSRC => r.src = Addr::from(a.data),
            RTA_GATEWAY => r.gw = Addr::from(a.data),
            RTA_OIF => r.oif = netlink::u32_attr(&a, "RTA_OIF")? as i32,
            RTA_PRIORITY => r.priority = netlink::u32_attr(&a, "RTA_PRIORITY")?,
            RTA_TABLE => r.table = netlink::u32_attr(&a, "RTA_TABLE")?,
            RTA_MULTIPATH => multipath = Some(a.data),
            _ => {}
        }
        Ok(())
    })?;
    match multipath {
        Some(hops) if rtype == RTN_UNICAST => {
            let mut rest = hops;
            while rest.len() >= RTNH_LEN {
                let len = netlink::u16_at(rest, 0).map_or(0, usize::from);
                let hop = rest.get(..len).filter(|_| len >= RTNH_LEN).ok_or_else(|| {
                    NlError::malformed(format!(
                        "RTA_MULTIPATH: a next hop of {len} bytes in {} left",
                        rest.len()
                    ))
                })?;
                let mut h = Row {
                    oif: netlink::u32_at(hop, 4).unwrap_or(0) as i32,
                    weight: Some(u16::from(hop[3]) + 1),
                    gw: Addr::default(),
                    ..r
                };
                netlink::for_each_attr(&hop[RTNH_LEN..], |a| {
                    if a.ty == RTA_GATEWAY {
                        h.gw = Addr::from(a.data);
                    }
                    Ok(())
                })?;
                f(h);
                rest = rest.get(netlink::align(len)..).unwrap_or(&[]);
            }
        }
        _ => f(r),
    }
    Ok(())
}

/// An address as Go's net.IP prints it: dotted quad for IPv4 and IPv4-mapped IPv6, RFC 5952
/// for the rest, empty for none.
pub fn write_ip(a: &Addr, out: &mut Text) {
    match *a.as_bytes() {
        [] => {}
        [a, b, c, d] | [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d] => {
            let _ = write!(out, "{}", std::net::Ipv4Addr::new(a, b, c, d));
        }
        _ if a.len == 16 => {
            let _ = write!(out, "{}", std::net::Ipv6Addr::from(a.bytes));
        }
        _ => {
            let _ = out.write_str("?");
            for b in a.as_bytes() {
                let _ = write!(out, "{b:02x}");
            }
        }
    }
}

/// `dest`: "default" for a zero-length prefix, else address/length.
pub fn write_dest(r: &Row, out: &mut Text) {
    if r.dst_len == 0 {
        let _ = out.write_str("default");
        return;
    }
    write_ip(&r.dst, out);
    let _ = write!(out, "/{}", r.dst_len);
}

/// Route protocols as include/uapi/linux/rtnetlink.h names them (node_exporter's table).
pub fn proto_name(p: u8) -> &'static str {
    match p {
        0 => "unspec",
        1 => "redirect",
        2 => "kernel",
        3 => "boot",
        4 => "static",
        8 => "gated",
        9 => "ra",
        10 => "mrt",
        11 => "zebra",
        12 => "bird",
        13 => "dnrouted",
        14 => "xorp",
        15 => "ntk",
        16 => "dhcp",
        17 => "mrouted",
        42 => "babel",
        186 => "bgp",
        187 => "isis",
        188 => "ospf",
        189 => "rip",
        192 => "eigrp",
        _ => "unknown",
    }
}

fn type_name(t: u8) -> &'static str {
    match t {
        RTN_UNICAST => "unicast",
        RTN_BLACKHOLE => "blackhole",
        RTN_UNREACHABLE => "unreachable",
        _ => "unknown",
    }
}

/// The `id name` lines of rt_tables files, as node_exporter reads them: `#` starts a comment
/// line; a line is split on one tab, else on one space, into exactly two parts; other lines are
/// ignored; an id that is not a number is an error. Calls `f(id, name)` per line.
pub fn parse_rt_tables<'a>(
    text: &'a str,
    mut f: impl FnMut(i64, &'a str),
) -> Result<(), ParseError> {
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        let two = |sep| {
            let mut parts = line.split(sep);
            match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(b), None) => Some((a, b)),
                _ => None,
            }
        };
        let Some((id, name)) = two('\t').or_else(|| two(' ')) else {
            continue;
        };
        let id = id
            .parse::<i64>()
            .map_err(|_| ParseError::new(i + 1, format!("expected a table id, found {id:?}")))?;
        f(id, name);
    }
    Ok(())
}

/// A small text buffer for one label value, written with `write!` and never reallocated.
pub struct Text {
    buf: [u8; 64],
    len: usize,
}

impl Default for Text {
    fn default() -> Self {
        Text {
            buf: [0; 64],
            len: 0,
        }
    }
}

impl Text {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl std::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

pub const COLLECTOR: Collector = Collector {
    name: "network_route",
    enabled_by_default: false,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[
            What::Netlink(Family::Route, "RTM_GETROUTE dump"),
            What::Optional(Root::Rootfs, "etc/iproute2/rt_tables"),
        ],
        hint: "needs no privilege; table names come from rt_tables under --path.rootfs",
    },
    build: Build::New(|_| Ok(Box::<NetworkRoute>::default())),
};

#[derive(Default)]
pub struct NetworkRoute {
    sock: Option<(Socket, OwnedFd)>,
    req: Vec<u8>,
    rows: Vec<(Row, [u8; 16])>,
    /// Routes per device name, in the order devices first appear.
    per_device: Vec<([u8; 16], u64)>,
    /// Table names of rt_tables: id and the name's place in the kept text.
    tables: Vec<(i64, std::ops::Range<usize>)>,
    tables_text: String,
}

impl NetworkRoute {
    /// rt_tables, then rt_tables.d/*.conf in name order; a later name for an id wins.
    fn read_tables(&mut self, ctx: &mut Ctx) -> Result<(), Error> {
        self.tables.clear();
        self.tables_text.clear();
        if ctx
            .src
            .read_optional(Root::Rootfs, &["etc/iproute2/rt_tables"], &mut ctx.buf)?
        {
            self.add_tables(&ctx.buf, &ctx.src)?;
        }
        let dir = "etc/iproute2/rt_tables.d";
        // Asked first so that the usual absent directory costs no error value.
        if !ctx.src.path(Root::Rootfs, &[dir]).is_dir() {
            return Ok(());
        }
        ctx.src.list_dir(Root::Rootfs, &[dir], &mut ctx.names)?;
        for name in ctx.names.iter().filter(|n| n.ends_with(".conf")) {
            if ctx
                .src
                .read_optional(Root::Rootfs, &[dir, "/", name], &mut ctx.buf)?
            {
                self.add_tables(&ctx.buf, &ctx.src)?;
            }
        }
        Ok(())
    }

    fn add_tables(&mut self, text: &str, src: &crate::source::Source) -> Result<(), Error> {
        let base = self.tables_text.len();
        self.tables_text.push_str(text);
        self.tables_text.push('\n');
        let text = &self.tables_text[base..];
        let tables = &mut self.tables;
        parse_rt_tables(text, |id, name| {
            let start = base + (name.as_ptr() as usize - text.as_ptr() as usize);
            tables.push((id, start..start + name.len()));
        })
        .map_err(|e| src.parse_error(e))
    }

    fn table_name(&self, id: u32) -> Option<&str> {
        let (_, r) = self
            .tables
            .iter()
            .rev()
            .find(|(t, _)| *t == i64::from(id))?;
        self.tables_text.get(r.clone())
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
            RTM_GETROUTE,
            netlink::NLM_F_REQUEST | netlink::NLM_F_DUMP,
            &[0; RTMSG_LEN],
        );
        let (rows, per_device) = (&mut self.rows, &mut self.per_device);
        rows.clear();
        per_device.clear();
        let mut err = None;
        sock.exchange(&mut self.req, |m| {
            if m.ty != RTM_NEWROUTE {
                return Ok(());
            }
            parse_route(m.payload, |r| {
                let mut name = [0u8; 16];
                if r.oif != 0 {
                    match netlink::if_name(ioctl, r.oif, &mut name) {
                        Ok(_) => {}
                        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {}
                        Err(e) => err = Some(e),
                    }
                }
                if r.rtype == RTN_UNICAST {
                    match per_device.iter_mut().find(|(d, _)| *d == name) {
                        Some((_, n)) => *n += 1,
                        None => per_device.push((name, 1)),
                    }
                } else {
                    // node_exporter names no device for blackhole and unreachable routes.
                    name = [0; 16];
                }
                rows.push((r, name));
            })
        })?;
        err.map_or(Ok(()), |e| Err(e.into()))
    }
}

impl Collect for NetworkRoute {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        self.read_tables(ctx)?;
        self.dump()
            .map_err(|e| e.into_error("netlink RTM_GETROUTE dump"))?;
        out.family(
            "node_network_route_info",
            "network routing table information",
            Kind::Gauge,
        );
        let (mut src, mut dest, mut gw, mut table) = (
            Text::default(),
            Text::default(),
            Text::default(),
            Text::default(),
        );
        for (r, dev) in &self.rows {
            for t in [&mut src, &mut dest, &mut gw, &mut table] {
                t.clear();
            }
            write_ip(&r.src, &mut src);
            write_dest(r, &mut dest);
            write_ip(&r.gw, &mut gw);
            let (mut p, mut w) = ([0u8; 20], [0u8; 20]);
            let priority = u64_str(&mut p, u64::from(r.priority));
            let weight = r.weight.map_or("", |x| u64_str(&mut w, u64::from(x)));
            match self.table_name(r.table) {
                Some(name) => {
                    let _ = table.write_str(name);
                }
                None => {
                    let _ = write!(table, "{}", r.table);
                }
            }
            let dev = String::from_utf8_lossy(netlink::c_str(dev));
            out.u64(
                &[
                    ("device", &dev),
                    ("src", src.as_str()),
                    ("dest", dest.as_str()),
                    ("gw", gw.as_str()),
                    ("priority", priority),
                    ("proto", proto_name(r.proto)),
                    ("weight", weight),
                    ("table", table.as_str()),
                    ("type", type_name(r.rtype)),
                ],
                1,
            );
        }
        out.family(
            "node_network_routes",
            "network routes by interface",
            Kind::Gauge,
        );
        for (dev, n) in &self.per_device {
            out.u64(
                &[("device", &String::from_utf8_lossy(netlink::c_str(dev)))],
                *n,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::build::{attr, u32a};

    fn rtmsg(family: u8, dst_len: u8, table: u8, proto: u8, rtype: u8) -> Vec<u8> {
        let mut p = vec![family, dst_len, 0, 0, table, proto, 0, rtype];
        p.extend(0u32.to_ne_bytes());
        p
    }

    fn rows(p: &[u8]) -> Vec<Row> {
        let mut v = Vec::new();
        parse_route(p, |r| v.push(r)).unwrap();
        v
    }

    fn label(f: impl Fn(&mut Text)) -> String {
        let mut t = Text::default();
        f(&mut t);
        t.as_str().to_string()
    }

    #[test]
    fn ipv4_default_route_and_prefix_with_source() {
        // `default via 192.0.2.1 dev eth0 proto dhcp metric 100` in table main.
        let mut p = rtmsg(2, 0, 254, 16, RTN_UNICAST);
        p.extend(u32a(RTA_TABLE, 254));
        p.extend(u32a(RTA_PRIORITY, 100));
        p.extend(attr(RTA_GATEWAY, &[192, 0, 2, 1]));
        p.extend(u32a(RTA_OIF, 4));
        let r = rows(&p);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].oif, r[0].priority, r[0].table, r[0].weight),
            (4, 100, 254, None)
        );
        assert_eq!(label(|t| write_dest(&r[0], t)), "default");
        assert_eq!(label(|t| write_ip(&r[0].gw, t)), "192.0.2.1");
        assert_eq!(label(|t| write_ip(&r[0].src, t)), "");
        assert_eq!(proto_name(r[0].proto), "dhcp");
        // `192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2`
        let mut p = rtmsg(2, 24, 254, 2, RTN_UNICAST);
        p.extend(attr(RTA_DST, &[192, 0, 2, 0]));
        p.extend(attr(RTA_PREFSRC, &[192, 0, 2, 2]));
        let r = rows(&p);
        assert_eq!(label(|t| write_dest(&r[0], t)), "192.0.2.0/24");
        assert_eq!(label(|t| write_ip(&r[0].src, t)), "192.0.2.2");
    }

    #[test]
    fn ipv6_addresses_print_as_go_does() {
        let mut p = rtmsg(10, 64, 254, 2, RTN_UNICAST);
        let mut d = [0u8; 16];
        d[..2].copy_from_slice(&[0xfd, 0x00]);
        p.extend(attr(RTA_DST, &d));
        let gw = [
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0, 0, 0x01,
        ];
        p.extend(attr(RTA_GATEWAY, &gw));
        let r = rows(&p);
        assert_eq!(label(|t| write_dest(&r[0], t)), "fd00::/64");
        assert_eq!(label(|t| write_ip(&r[0].gw, t)), "fe80::211:22ff:fe00:1");
        let mapped = Addr::from(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]);
        assert_eq!(label(|t| write_ip(&mapped, t)), "10.0.0.1");
        let one_zero_group =
            Addr::from(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
        assert_eq!(
            label(|t| write_ip(&one_zero_group, t)),
            "2001:db8:0:1:1:1:1:1"
        );
        assert_eq!(label(|t| write_ip(&Addr::from(&[1, 2, 3]), t)), "?010203");
    }

    #[test]
    fn multipath_routes_give_one_row_per_next_hop() {
        // `10.2.0.0/16 nexthop via 10.0.0.2 dev v0 weight 2 nexthop via 10.0.0.3 dev v1 weight 1`
        let mut hops = Vec::new();
        for (gw, ifindex, hops_field) in [([10, 0, 0, 2], 5i32, 1u8), ([10, 0, 0, 3], 6, 0)] {
            let g = attr(RTA_GATEWAY, &gw);
            hops.extend(((RTNH_LEN + g.len()) as u16).to_ne_bytes());
            hops.extend([0, hops_field]);
            hops.extend(ifindex.to_ne_bytes());
            hops.extend(g);
        }
        let mut p = rtmsg(2, 16, 254, 3, RTN_UNICAST);
        p.extend(attr(RTA_DST, &[10, 2, 0, 0]));
        p.extend(attr(RTA_MULTIPATH, &hops));
        let r = rows(&p);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].oif, r[0].weight), (5, Some(2)));
        assert_eq!((r[1].oif, r[1].weight), (6, Some(1)));
        assert_eq!(label(|t| write_ip(&r[1].gw, t)), "10.0.0.3");
        assert_eq!(label(|t| write_dest(&r[1], t)), "10.2.0.0/16");
    }

    #[test]
    fn local_and_broadcast_routes_are_not_exported_but_blackholes_are() {
        for t in [2u8, 3, 4, 5, 8] {
            assert!(rows(&rtmsg(2, 32, 255, 2, t)).is_empty(), "type {t}");
        }
        let mut p = rtmsg(2, 16, 254, 4, RTN_BLACKHOLE);
        p.extend(attr(RTA_DST, &[10, 9, 0, 0]));
        let r = rows(&p);
        assert_eq!((r.len(), type_name(r[0].rtype)), (1, "blackhole"));
    }

    #[test]
    fn garbage() {
        let e = |p: &[u8]| parse_route(p, drop).unwrap_err().to_string();
        assert_eq!(e(&[0; 5]), "rtmsg: expected at least 12 bytes, found 5");
        let mut p = rtmsg(2, 0, 254, 2, RTN_UNICAST);
        p.extend(attr(RTA_OIF, &[1, 2]));
        assert_eq!(e(&p), "RTA_OIF: expected at least 4 bytes, found 2");
        let mut p = rtmsg(2, 0, 254, 2, RTN_UNICAST);
        p.extend(attr(RTA_MULTIPATH, &[40, 0, 0, 0, 1, 0, 0, 0]));
        assert_eq!(e(&p), "RTA_MULTIPATH: a next hop of 40 bytes in 8 left");
    }

    #[test]
    fn rt_tables_as_node_exporter_reads_them() {
        let text = "#\n# reserved values\n#\n255\tlocal\n254\tmain\n253 default\n0\tunspec\n\n#1\tinr.ruhep\n100 wan two words\n200\tvpn-mullvad\n";
        let mut got = Vec::new();
        parse_rt_tables(text, |id, n| got.push((id, n))).unwrap();
        assert_eq!(
            got,
            [
                (255, "local"),
                (254, "main"),
                (253, "default"),
                (0, "unspec"),
                (200, "vpn-mullvad")
            ]
        );
        let e = parse_rt_tables("1\tone\nx\ttwo\n", |_, _| {}).unwrap_err();
        assert_eq!(e.to_string(), "line 2: expected a table id, found \"x\"");
    }

    #[test]
    fn live_dump_names_the_main_table_from_the_fixture_rt_tables() {
        let mut c = NetworkRoute::default();
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        c.collect(&mut ctx, &mut out).unwrap();
        assert_eq!(c.table_name(254), Some("main"));
        assert_eq!(
            c.table_name(100),
            Some("wan"),
            "rt_tables.d/*.conf are read too"
        );
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(
            text.contains("# TYPE node_network_routes gauge\n"),
            "{text}"
        );
    }
}
