//! `netdev`: /proc/net/dev → node_network_{receive,transmit}_*_total{device}, as node_exporter
//! 1.5 reports them with `--no-collector.netdev.netlink` (the default).
use crate::collector::{Build, Collect, Collector, Ctx, Filter, Sources, What, ROOT_ONLY};
use crate::expo::{Encoder, Kind};
use crate::flag::{CliError, Flag, Kind as FlagKind, Settings};
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

pub const COLLECTOR: Collector = Collector {
    name: "netdev",
    enabled_by_default: true,
    flags: &[
        Flag::new(
            "collector.netdev.device-include",
            FlagKind::OptRegex,
            "RE",
            "",
            "Only these interfaces.",
        )
        .unset("none")
        .partner("collector.netdev.device-exclude"),
        Flag::new(
            "collector.netdev.device-exclude",
            FlagKind::OptRegex,
            "RE",
            "",
            "Interfaces to skip (mutually exclusive with -include).",
        )
        .unset("none"),
    ],
    help_section: None,
    sources: Sources {
        reads: &[What::File(Root::Proc, "net/dev")],
        hint: ROOT_ONLY,
    },
    build: Build::New(|s| Ok(Box::new(Netdev::new(s)?))),
};

pub struct Netdev {
    opt: Filter,
}

impl Netdev {
    pub fn new(s: &Settings) -> Result<Netdev, CliError> {
        Ok(Netdev {
            opt: Filter::from_settings(
                s,
                "collector.netdev.device-include",
                "collector.netdev.device-exclude",
            )?,
        })
    }
}

impl Collect for Netdev {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        collect(&mut self.opt, ctx, out)
    }
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
