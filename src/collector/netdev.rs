//! `netdev`: node_network_{receive,transmit}_*_total{device}, as node_exporter 1.5 reports
//! them: by default from an RTM_GETLINK dump (`--collector.netdev.netlink`, node_exporter's
//! default), whose 64-bit link statistics add node_network_receive_nohandler_total; with
//! `--no-collector.netdev.netlink` from /proc/net/dev. The netlink counters are folded into
//! /proc/net/dev's sixteen columns the way the kernel prints that file (net/core/net-procfs.c),
//! so both ways give the same values.
use crate::collector::{Build, Collect, Collector, Ctx, Filter, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::flag::{CliError, Flag, Kind as FlagKind, Settings};
use crate::netlink::{self, Family, NlError, Socket};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

/// Counters per interface line: 8 receive, then 8 transmit.
pub const COUNTERS: usize = 16;

/// Builds the column table: node_exporter's name and its HELP text.
macro_rules! columns {
    ($($name:literal),* $(,)?) => {
        [$(($name, concat!("Network device statistic ", $name, "."))),*]
    };
}

/// The columns in file order, as node_exporter names them (`node_network_<name>_total`).
const COLUMNS: [(&str, &str); COUNTERS] = columns!(
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
);

/// One interface line of /proc/net/dev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface<'a> {
    pub name: &'a str,
    pub counters: [u64; COUNTERS],
}

/// Parses one interface line. The name is everything before the last `:`, trimmed, as in
/// node_exporter; old kernels printed `%6s:%8lu`, so the first number may touch the colon.
pub fn parse_line(line: &str, lineno: usize) -> Result<Iface<'_>, ParseError> {
    let (name, rest) = line.rsplit_once(':').ok_or_else(|| {
        ParseError::new(lineno, format!("expected \"<interface>:\", found {line:?}"))
    })?;
    let name = name.trim();
    if name.is_empty() {
        return Err(ParseError::new(
            lineno,
            "expected an interface name before ':'",
        ));
    }
    let found = rest.split_ascii_whitespace().count();
    if found < COUNTERS {
        return Err(ParseError::new(
            lineno,
            format!("expected {COUNTERS} counters after \"{name}:\", found {found}"),
        ));
    }
    let mut counters = [0; COUNTERS];
    for ((slot, field), what) in counters
        .iter_mut()
        .zip(rest.split_ascii_whitespace())
        .zip(COLUMNS)
    {
        *slot = u64_at(field, lineno, what.0)?;
    }
    Ok(Iface { name, counters })
}

/// The interfaces of a whole /proc/net/dev; the two header lines are skipped unread.
pub fn parse_net_dev(text: &str) -> impl Iterator<Item = Result<Iface<'_>, ParseError>> {
    text.lines()
        .enumerate()
        .skip(2)
        .map(|(i, line)| parse_line(line, i + 1))
}

/// The family netlink adds to the sixteen of /proc/net/dev.
const NOHANDLER: (&str, &str) = (
    "receive_nohandler",
    "Network device statistic receive_nohandler.",
);

const RTM_GETLINK: u16 = 18;
const RTM_NEWLINK: u16 = 16;
/// `struct ifinfomsg`: u8 family, u8 pad, u16 type, i32 index, u32 flags, u32 change.
const IFINFOMSG_LEN: usize = 16;
const IFLA_IFNAME: u16 = 3;
const IFLA_STATS: u16 = 7;
const IFLA_STATS64: u16 = 23;
/// `struct rtnl_link_stats64` up to tx_compressed (Linux 2.6.35); rx_nohandler (4.6) follows.
const STATS_FIELDS: usize = 23;

/// One link of an RTM_GETLINK dump: its name and statistics in /proc/net/dev's columns, then
/// rx_nohandler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link<'a> {
    pub name: &'a [u8],
    pub counters: [u64; COUNTERS + 1],
}

/// Parses one RTM_NEWLINK message. A link without statistics is `None`, as node_exporter
/// skips it. IFLA_STATS64 is preferred; IFLA_STATS (32-bit) is the fallback.
pub fn parse_link(payload: &[u8]) -> Result<Option<Link<'_>>, NlError> {
    let attrs = payload
        .get(IFINFOMSG_LEN..)
        .ok_or_else(|| netlink::short("ifinfomsg", IFINFOMSG_LEN, payload.len()))?;
    let (mut name, mut s64, mut s32) = (None, None, None);
    netlink::for_each_attr(attrs, |a| {
        match a.ty {
            IFLA_IFNAME => name = Some(netlink::c_str(a.data)),
            IFLA_STATS64 => s64 = Some(a.data),
            IFLA_STATS => s32 = Some(a.data),
            _ => {}
        }
        Ok(())
    })?;
    let name = name.ok_or_else(|| NlError::malformed("RTM_NEWLINK without IFLA_IFNAME"))?;
    // rtnl_link_stats64's fields in kernel order, widened.
    let mut f = [0u64; STATS_FIELDS + 1];
    match (s64, s32) {
        (Some(d), _) => fill(&mut f, d, 8, "IFLA_STATS64")?,
        (None, Some(d)) => fill(&mut f, d, 4, "IFLA_STATS")?,
        (None, None) => return Ok(None),
    }
    let [rx_packets, tx_packets, rx_bytes, tx_bytes, rx_errors, tx_errors, rx_dropped, tx_dropped, multicast, collisions, rx_length, rx_over, rx_crc, rx_frame, rx_fifo, rx_missed, tx_aborted, tx_carrier, tx_fifo, tx_heartbeat, tx_window, rx_compressed, tx_compressed, rx_nohandler] =
        f;
    let sum = |v: &[u64]| v.iter().fold(0u64, |a, &b| a.wrapping_add(b));
    Ok(Some(Link {
        name,
        counters: [
            rx_bytes,
            rx_packets,
            rx_errors,
            sum(&[rx_dropped, rx_missed]),
            rx_fifo,
            sum(&[rx_length, rx_over, rx_crc, rx_frame]),
            rx_compressed,
            multicast,
            tx_bytes,
            tx_packets,
            tx_errors,
            tx_dropped,
            tx_fifo,
            collisions,
            sum(&[tx_carrier, tx_aborted, tx_window, tx_heartbeat]),
            tx_compressed,
            rx_nohandler,
        ],
    }))
}

/// Reads `width`-byte counters from `data` into `f`; a kernel older than the field leaves 0.
fn fill(f: &mut [u64], data: &[u8], width: usize, what: &str) -> Result<(), NlError> {
    if data.len() < STATS_FIELDS * width {
        return Err(netlink::short(what, STATS_FIELDS * width, data.len()));
    }
    for (slot, chunk) in f.iter_mut().zip(data.chunks_exact(width)) {
        *slot = match width {
            8 => netlink::u64_at(chunk, 0),
            _ => netlink::u32_at(chunk, 0).map(u64::from),
        }
        .unwrap_or(0);
    }
    Ok(())
}

pub const COLLECTOR: Collector = Collector {
    name: "netdev",
    enabled_by_default: true,
    flags: &[
        Flag::new(
            "collector.netdev.netlink",
            FlagKind::Switch,
            "",
            "true",
            "Read the counters from netlink (RTM_GETLINK), as node_exporter does by default: adds node_network_receive_nohandler_total. --no-collector.netdev.netlink reads /proc/net/dev.",
        ),
        Flag::new(
            "collector.netdev.device-include",
            FlagKind::OptRegex,
            "RE",
            "",
            "Only these interfaces.",
        )
        .unset_none()
        .partner("collector.netdev.device-exclude"),
        Flag::new(
            "collector.netdev.device-exclude",
            FlagKind::OptRegex,
            "RE",
            "",
            "Interfaces to skip (mutually exclusive with -include).",
        )
        .unset_none(),
    ],
    help_section: None,
    sources: Sources {
        reads: &[
            What::Netlink(Family::Route, "RTM_GETLINK dump"),
            What::File(Root::Proc, "net/dev"),
        ],
        hint: "netlink is the default; --no-collector.netdev.netlink reads /proc/net/dev instead",
    },
    build: Build::New(|s| Ok(Box::new(Netdev::new(s)?))),
};

pub struct Netdev {
    opt: Filter,
    /// With `--collector.netdev.netlink`: the socket (opened at the first scrape) and the
    /// request, kept.
    netlink: Option<(Option<Socket>, Vec<u8>)>,
}

impl Netdev {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<Netdev, CliError> {
        Ok(Netdev {
            opt: Filter::from_settings(
                s,
                "collector.netdev.device-include",
                "collector.netdev.device-exclude",
            )?,
            netlink: s
                .switch("collector.netdev.netlink")
                .then(|| (None, Vec::new())),
        })
    }
}

impl Collect for Netdev {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        match &mut self.netlink {
            None => collect(&mut self.opt, ctx, out),
            Some((sock, req)) => collect_netlink(&mut self.opt, sock, req, ctx, out)
                .map_err(|e| e.into_error("netlink RTM_GETLINK dump")),
        }
    }
}

fn collect_netlink(
    filter: &mut Filter,
    sock: &mut Option<Socket>,
    req: &mut Vec<u8>,
    ctx: &mut Ctx,
    out: &mut Encoder,
) -> Result<(), NlError> {
    let sock = match sock {
        Some(s) => s,
        None => sock.insert(Socket::open(netlink::NETLINK_ROUTE)?),
    };
    netlink::request(
        req,
        RTM_GETLINK,
        netlink::NLM_F_REQUEST | netlink::NLM_F_DUMP,
        &[0; IFINFOMSG_LEN],
    );
    // One dump: names into ctx.names, COUNTERS + 1 counters per wanted link into ctx.u64s.
    ctx.names.clear();
    ctx.u64s.clear();
    sock.exchange(req, |m| {
        if m.ty != RTM_NEWLINK {
            return Ok(());
        }
        let Some(link) = parse_link(m.payload)? else {
            return Ok(());
        };
        let name = std::str::from_utf8(link.name)
            .map_err(|_| NlError::malformed("an interface name that is not UTF-8"))?;
        if filter.allows(name) {
            ctx.names.push(name);
            ctx.u64s.extend_from_slice(&link.counters);
        }
        Ok(())
    })?;
    let columns = COLUMNS.iter().chain(std::iter::once(&NOHANDLER));
    for (i, (name, help)) in columns.enumerate() {
        out.family_parts(&["node_network_", name, "_total"], help, Kind::Counter);
        for (dev, counters) in ctx.names.iter().zip(ctx.u64s.chunks_exact(COUNTERS + 1)) {
            if let Some(&v) = counters.get(i) {
                out.u64(&[("device", dev)], v);
            }
        }
    }
    Ok(())
}

fn collect(opt: &mut Filter, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    ctx.src.read(Root::Proc, &["net/dev"], &mut ctx.buf)?;
    let filter = opt;
    // One parse: the counters of the wanted interfaces, COUNTERS per interface, in file order.
    ctx.flags.clear();
    ctx.u64s.clear();
    for iface in parse_net_dev(&ctx.buf) {
        let iface = iface.map_err(|e| ctx.src.parse_error(e))?;
        let wanted = filter.allows(iface.name);
        ctx.flags.push(wanted);
        if wanted {
            ctx.u64s.extend_from_slice(&iface.counters);
        }
    }
    if ctx.u64s.is_empty() {
        return Ok(());
    }
    for (i, (name, help)) in COLUMNS.iter().enumerate() {
        out.family_parts(&["node_network_", name, "_total"], help, Kind::Counter);
        // The names again, as parse_line finds them, without the numbers: every line parsed.
        let names = ctx
            .buf
            .lines()
            .skip(2)
            .map(|l| l.rsplit_once(':').map_or("", |(n, _)| n.trim()));
        let wanted = names.zip(&ctx.flags).filter(|(_, &w)| w);
        for ((name, _), counters) in wanted.zip(ctx.u64s.chunks_exact(COUNTERS)) {
            if let Some(&v) = counters.get(i) {
                out.u64(&[("device", name)], v);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN_6_1: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:   65573      73    0    0    0     0          0         0    65573      73    0    0    0     0       0          0
  eth0: 57317397    1303    0    0    0     0          0         0    71898     817    0    0    0     0       0          0
";

    fn ifaces(text: &str) -> Vec<Iface<'_>> {
        parse_net_dev(text).collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn net_dev_debian12_kernel_6_1() {
        let v = ifaces(DEBIAN_6_1);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].name, "lo");
        assert_eq!(
            v[0].counters,
            [65573, 73, 0, 0, 0, 0, 0, 0, 65573, 73, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(v[1].name, "eth0");
        assert_eq!(v[1].counters[0], 57317397);
        assert_eq!(v[1].counters[9], 817);
    }

    #[test]
    fn net_dev_old_kernel_number_touches_colon() {
        // 2.6-era format `%6s:%8lu`: a 13-digit byte count leaves no space after the colon.
        let text = "h1\nh2\n  eth0:1234567890123 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
        let v = ifaces(text);
        assert_eq!(v[0].name, "eth0");
        assert_eq!(v[0].counters[0], 1234567890123);
        assert_eq!(v[0].counters[15], 16);
    }

    #[test]
    fn net_dev_names_with_dots_dashes_and_colons() {
        let text = "h1\nh2\neth0.100: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\nbr-lan: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n a:b: 9007199254740993 0 0 0 0 0 0 0 18446744073709551615 0 0 0 0 0 0 0 17\n";
        let v = ifaces(text);
        let names: Vec<_> = v.iter().map(|i| i.name).collect();
        assert_eq!(names, ["eth0.100", "br-lan", "a:b"]);
        // Exact beyond 2^53; a 17th column (none today) is ignored as node_exporter does.
        assert_eq!(v[2].counters[0], 9007199254740993);
        assert_eq!(v[2].counters[8], u64::MAX);
    }

    #[test]
    fn net_dev_empty_and_headers_only() {
        assert!(ifaces("").is_empty());
        assert!(ifaces(&DEBIAN_6_1[..DEBIAN_6_1.find("    lo").unwrap()]).is_empty());
    }

    #[test]
    fn net_dev_garbage() {
        let err = |t| parse_net_dev(t).find_map(Result::err).unwrap().to_string();
        assert_eq!(
            err("h1\nh2\n  eth0 1 2 3\n"),
            "line 3: expected \"<interface>:\", found \"  eth0 1 2 3\""
        );
        assert_eq!(
            err("h1\nh2\n   : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"),
            "line 3: expected an interface name before ':'"
        );
        assert_eq!(
            err("h1\nh2\n  eth0: 1 2 3 4 5 6 7 8 9\n"),
            "line 3: expected 16 counters after \"eth0:\", found 9"
        );
        // node_exporter parses base 10 only, so 0x10 is an error there too.
        assert_eq!(
            err("h1\nh2\n  eth0: 1 2 3 4 5 6 7 8 0x10 2 3 4 5 6 7 8\n"),
            "line 3: expected an unsigned integer for transmit_bytes, found \"0x10\""
        );
    }

    #[test]
    fn collect_fixtures() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut Filter::default(), &mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        for line in [
            "# HELP node_network_receive_bytes_total Network device statistic receive_bytes.\n# TYPE node_network_receive_bytes_total counter\n",
            "node_network_receive_bytes_total{device=\"eth0\"} 12385944275812357\n",
            "node_network_receive_packets_total{device=\"eth0\"} 9712483920\n",
            "node_network_transmit_bytes_total{device=\"eth0.100\"} 219384756102\n",
            "node_network_transmit_drop_total{device=\"wg0\"} 12\n",
            "node_network_receive_multicast_total{device=\"br-lan\"} 2039487\n",
            "node_network_transmit_compressed_total{device=\"lo\"} 0\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert_eq!(text.matches("# TYPE ").count(), 16);
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 16 * 9);
    }

    use crate::netlink::build::{attr, str_a};

    /// An RTM_NEWLINK payload as the kernel builds it: ifinfomsg, then IFLA_IFNAME and the
    /// statistics attributes given.
    fn link_msg(name: &str, stats: &[Vec<u8>]) -> Vec<u8> {
        let mut p = vec![0u8; IFINFOMSG_LEN];
        p[4..8].copy_from_slice(&7i32.to_ne_bytes());
        p.extend(attr(4, &1500u32.to_ne_bytes())); // IFLA_MTU, ignored
        p.extend(str_a(IFLA_IFNAME, name));
        for s in stats {
            p.extend_from_slice(s);
        }
        p
    }

    /// rtnl_link_stats64 with field i = base + i, `n` fields long.
    fn stats64(base: u64, n: usize) -> Vec<u8> {
        let v: Vec<u8> = (0..n)
            .flat_map(|i| (base + i as u64).to_ne_bytes())
            .collect();
        attr(IFLA_STATS64, &v)
    }

    #[test]
    fn netlink_link_stats64_fold_into_proc_net_dev_columns() {
        let p = link_msg("eth0.100", &[stats64(1000, 25)]);
        let l = parse_link(&p).unwrap().unwrap();
        assert_eq!(l.name, b"eth0.100");
        // rx_packets=1000 tx_packets=1001 rx_bytes=1002 tx_bytes=1003 rx_errors=1004
        // tx_errors=1005 rx_dropped=1006 tx_dropped=1007 multicast=1008 collisions=1009
        // rx_length..rx_missed=1010..1015 tx_aborted..tx_window=1016..1020
        // rx_compressed=1021 tx_compressed=1022 rx_nohandler=1023 (rx_otherhost_dropped ignored)
        assert_eq!(
            l.counters,
            [
                1002,
                1000,
                1004,
                1006 + 1015,
                1014,
                1010 + 1011 + 1012 + 1013,
                1021,
                1008,
                1003,
                1001,
                1005,
                1007,
                1018,
                1009,
                1017 + 1016 + 1020 + 1019,
                1022,
                1023,
            ]
        );
    }

    fn counters(p: &[u8]) -> [u64; COUNTERS + 1] {
        parse_link(p).unwrap().unwrap().counters
    }

    #[test]
    fn netlink_old_kernels_and_32_bit_stats() {
        // Before Linux 4.6: 23 fields, no rx_nohandler.
        let c = counters(&link_msg("eth0", &[stats64(1, 23)]));
        assert_eq!((c[0], c[16]), (3, 0));
        // Only IFLA_STATS (u32): read and widened; IFLA_STATS64 wins when both are there.
        let v32: Vec<u8> = (0..24u32)
            .flat_map(|i| (u32::MAX - i).to_ne_bytes())
            .collect();
        let c = counters(&link_msg("wan", &[attr(IFLA_STATS, &v32)]));
        assert_eq!(c[0], u64::from(u32::MAX - 2));
        assert_eq!(c[16], u64::from(u32::MAX - 23));
        let both = link_msg("wan", &[attr(IFLA_STATS, &v32), stats64(5, 24)]);
        assert_eq!(counters(&both)[0], 7);
        // Counters near 2^64 wrap when summed, as the kernel's own sums do.
        let mut big = [0u64; 24];
        big[6] = u64::MAX;
        big[15] = 2;
        let v: Vec<u8> = big.iter().flat_map(|x| x.to_ne_bytes()).collect();
        assert_eq!(counters(&link_msg("x", &[attr(IFLA_STATS64, &v)]))[3], 1);
        // No statistics at all: skipped, as node_exporter does.
        assert_eq!(parse_link(&link_msg("can0", &[])).unwrap(), None);
    }

    #[test]
    fn netlink_garbage() {
        let e = |p: &[u8]| parse_link(p).unwrap_err().to_string();
        assert_eq!(e(&[0; 8]), "ifinfomsg: expected at least 16 bytes, found 8");
        assert_eq!(
            e(&link_msg("eth0", &[stats64(0, 20)])),
            "IFLA_STATS64: expected at least 184 bytes, found 160"
        );
        let mut p = vec![0u8; IFINFOMSG_LEN];
        p.extend(stats64(0, 24));
        assert_eq!(e(&p), "RTM_NEWLINK without IFLA_IFNAME");
        let mut p = link_msg("eth0", &[]);
        p.extend_from_slice(&[200, 0, 1, 0]);
        assert_eq!(e(&p), "attribute 1 of 200 bytes in 4 left");
    }

    #[test]
    fn live_netlink_equals_proc_net_dev_where_the_counters_stand_still() {
        // Both ways on this machine's own interfaces: the same interfaces, and for each
        // counter netlink's value lies between two reads of /proc/net/dev around it.
        let mut ctx = Ctx::new(crate::source::Source::new(
            "/proc".into(),
            "/sys".into(),
            "/".into(),
        ));
        let read = |ctx: &mut Ctx, netlink: bool| {
            let mut s = crate::collector::default_settings();
            let flag = COLLECTOR
                .flags
                .iter()
                .find(|f| f.name == "collector.netdev.netlink");
            s.set(flag.unwrap(), crate::config::Value::Bool(netlink))
                .unwrap();
            let mut out = Encoder::new();
            Netdev::new(&s).unwrap().collect(ctx, &mut out).unwrap();
            crate::collector::tests::samples(out.as_bytes())
        };
        let before = read(&mut ctx, false);
        let nl = read(&mut ctx, true);
        let after = read(&mut ctx, false);
        let mut compared = 0;
        for (key, v) in &nl {
            if key.starts_with("node_network_receive_nohandler_total") {
                continue;
            }
            let (a, b) = (before[key], after[key]);
            assert!(a <= *v && *v <= b, "{key}: proc {a}, netlink {v}, proc {b}");
            compared += 1;
        }
        assert_eq!(compared + nl.len() / 17, nl.len());
        assert_eq!(compared, before.len());
    }

    #[test]
    fn collect_excludes_devices() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut filter = Filter {
            include: None,
            exclude: Some(crate::collector::Pattern::new(
                regex_lite::Regex::new("^(lo|wg.*)$").unwrap(),
            )),
        };
        let mut out = Encoder::new();
        collect(&mut filter, &mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(
            !text.contains("\"lo\"") && !text.contains("\"wg0\""),
            "{text}"
        );
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 16 * 7);
    }
}
