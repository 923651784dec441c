//! `arp`: /proc/net/arp → node_arp_entries{device}, the number of neighbour entries per device.
//!
//! Like node_exporter 1.5, every row counts, incomplete ones (flags 0x0) included; the header is
//! any row whose first word is `IP`; the device is the last column; a row with fewer than 6
//! columns (a blank line included) makes the collector fail.
use crate::collector::{Build, Collect, Collector, Ctx, Filter, Sources, What, ROOT_ONLY};
use crate::expo::{Encoder, Kind};
use crate::flag::{CliError, Flag, Kind as FlagKind, Settings};
use crate::source::{Error, ParseError, Root};

const INCLUDE: &str = "collector.arp.device-include";
const EXCLUDE: &str = "collector.arp.device-exclude";

pub const COLLECTOR: Collector = Collector {
    name: "arp",
    enabled_by_default: true,
    flags: &[
        Flag::new(
            INCLUDE,
            FlagKind::OptRegex,
            "RE",
            "",
            "Only these ARP devices.",
        )
        .unset_none()
        .partner(EXCLUDE),
        Flag::new(
            EXCLUDE,
            FlagKind::OptRegex,
            "RE",
            "",
            "ARP devices to skip (mutually exclusive with -include).",
        )
        .unset_none(),
    ],
    help_section: None,
    sources: Sources {
        reads: &[What::File(Root::Proc, "net/arp")],
        hint: ROOT_ONLY,
    },
    build: Build::New(|s| Ok(Box::new(Arp::new(s)?))),
};

const MIN_COLUMNS: usize = 6;

/// The device of each entry of /proc/net/arp, in file order.
pub fn parse_arp(text: &str) -> impl Iterator<Item = Result<&str, ParseError>> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let mut fields = line.split_whitespace();
        let first = fields.next();
        let (found, last) = fields.fold((usize::from(first.is_some()), first), |(n, _), f| {
            (n + 1, Some(f))
        });
        match last {
            _ if found < MIN_COLUMNS => Some(Err(ParseError::new(
                i + 1,
                format!("expected at least {MIN_COLUMNS} columns, found {found}"),
            ))),
            _ if first == Some("IP") => None,
            Some(device) => Some(Ok(device)),
            None => None,
        }
    })
}

#[derive(Default)]
pub struct Arp {
    filter: Filter,
}

impl Arp {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<Arp, CliError> {
        Ok(Arp {
            filter: Filter::from_settings(s, INCLUDE, EXCLUDE)?,
        })
    }
}

impl Collect for Arp {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        collect(&mut self.filter, ctx, out)
    }
}

fn collect(filter: &mut Filter, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    ctx.src.read(Root::Proc, &["net/arp"], &mut ctx.buf)?;
    // Distinct devices, sorted; then one count per device. Tables are small (the kernel's
    // default gc_thresh3 is 1024 entries), so counting by re-reading the text is cheap.
    ctx.names.clear();
    for device in parse_arp(&ctx.buf) {
        let device = device.map_err(|e| ctx.src.parse_error(e))?;
        if !ctx.names.iter().any(|d| d == device) && filter.allows(device) {
            ctx.names.push(device);
        }
    }
    ctx.names.sort();
    out.family("node_arp_entries", "ARP entries by device", Kind::Gauge);
    for device in ctx.names.iter() {
        let count = parse_arp(&ctx.buf)
            .filter(|d| d.as_ref().is_ok_and(|d| *d == device))
            .count();
        out.u64(&[("device", device)], count as u64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "IP address       HW type     Flags       HW address            Mask     Device\n";

    #[test]
    fn arp_debian_12_kernel_6_1_with_incomplete_entries() {
        let text = format!(
            "{HEADER}\
192.168.1.23     0x1         0x2         3c:22:fb:8a:11:02     *        br-lan
10.100.0.1       0x1         0x2         52:54:00:ab:cd:ef     *        eth0.100
192.168.1.77     0x1         0x0         00:00:00:00:00:00     *        br-lan
"
        );
        let devices: Result<Vec<_>, _> = parse_arp(&text).collect();
        assert_eq!(devices, Ok(vec!["br-lan", "eth0.100", "br-lan"]));
    }

    #[test]
    fn arp_header_only_empty_and_no_header() {
        assert_eq!(parse_arp(HEADER).count(), 0);
        assert_eq!(parse_arp("").count(), 0);
        let v: Vec<_> = parse_arp("10.0.0.1 0x1 0x2 aa:bb:cc:dd:ee:ff * wg0\n").collect();
        assert_eq!(v, [Ok("wg0")]);
    }

    #[test]
    fn arp_device_is_the_last_column() {
        let v: Vec<_> = parse_arp("10.0.0.1 0x1 0x2 aa:bb:cc:dd:ee:ff * eth0 extra\n").collect();
        assert_eq!(v, [Ok("extra")]);
    }

    #[test]
    fn arp_garbage() {
        let e = |t: &str| parse_arp(t).find_map(Result::err).unwrap().to_string();
        assert_eq!(
            e(&format!(
                "{HEADER}10.0.0.1 0x1 0x2 aa:bb:cc:dd:ee:ff eth0\n"
            )),
            "line 2: expected at least 6 columns, found 5"
        );
        assert_eq!(
            e(&format!("{HEADER}\n")),
            "line 2: expected at least 6 columns, found 0"
        );
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        Arp::default().collect(&mut ctx, &mut out).unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        assert_eq!(
            text,
            "# HELP node_arp_entries ARP entries by device\n\
# TYPE node_arp_entries gauge\n\
node_arp_entries{device=\"br-lan\"} 4\n\
node_arp_entries{device=\"eth0\"} 1\n\
node_arp_entries{device=\"eth0.100\"} 2\n"
        );
    }

    #[test]
    fn collect_fixture_with_exclude() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut arp = Arp::default();
        arp.filter.exclude = Some(crate::collector::Pattern::new(
            regex_lite::Regex::new("^eth0$").unwrap(),
        ));
        let mut out = Encoder::new();
        arp.collect(&mut ctx, &mut out).unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        assert!(text.contains("node_arp_entries{device=\"eth0.100\"} 2\n"));
        assert!(!text.contains("device=\"eth0\""));
    }
}
