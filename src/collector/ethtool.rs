//! `ethtool` (off by default, feature `server`): for each interface of --path.sysfs/class/net,
//! the driver's statistics, its driver info and its link modes from the SIOCETHTOOL ioctl →
//! node_ethtool_<stat>{device} (untyped, names as node_exporter builds them: sanitized,
//! lower-case, `rx`/`tx` words spelled `received`/`transmitted`), node_ethtool_info{bus_info,
//! device,driver,expansion_rom_version,firmware_version,version} and node_network_{supported,
//! advertised}_speed_bytes, node_network_supported_port_info, node_network_{autonegotiate,
//! pause,asymmetricpause}_{supported,advertised} and node_network_autonegotiate, as
//! node_exporter 1.5 reads them (ETHTOOL_GDRVINFO, GSTRINGS/GSTATS, the legacy GSET).
//!
//! The ioctls go to the running kernel by name, so this collector always reports the live
//! host's interfaces; an interface the kernel does not know (a name from a copied sysfs tree)
//! or whose driver has no ethtool support (EOPNOTSUPP) has no series, as in node_exporter.
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use crate::collector::{Build, Collect, Collector, Ctx, Filter, Pattern, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::flag::{CliError, Flag, Kind as FlagKind, Settings};
use crate::netlink;
use crate::source::{Error, Root};

const ETHTOOL_GSET: u32 = 0x1;
const ETHTOOL_GDRVINFO: u32 = 0x3;
const ETHTOOL_GSTRINGS: u32 = 0x1b;
const ETHTOOL_GSTATS: u32 = 0x1d;
const ETH_SS_STATS: u32 = 1;
const ETH_GSTRING_LEN: usize = 32;
/// `struct ethtool_drvinfo`: cmd, five 32-byte strings, 12 reserved bytes, five u32 counts.
const DRVINFO_LEN: usize = 196;
/// `struct ethtool_cmd` (the legacy GSET).
const CMD_LEN: usize = 44;
/// More statistics than this from one driver are refused (a mlx5 with many queues has a few
/// thousand; node_exporter 1.5's library stops at 1,000).
const MAX_STATS: usize = 16384;

/// `struct ethtool_drvinfo`'s strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrvInfo<'a> {
    pub driver: &'a [u8],
    pub version: &'a [u8],
    pub fw_version: &'a [u8],
    pub bus_info: &'a [u8],
    pub erom_version: &'a [u8],
    pub n_stats: u32,
}

pub fn parse_drvinfo(b: &[u8]) -> Option<DrvInfo<'_>> {
    let s = |at: usize| b.get(at..at + 32).map(netlink::c_str);
    Some(DrvInfo {
        driver: s(4)?,
        version: s(36)?,
        fw_version: s(68)?,
        bus_info: s(100)?,
        erom_version: s(132)?,
        n_stats: netlink::u32_at(b, 180)?,
    })
}

/// The link modes of `struct ethtool_cmd`: supported, advertising (bitmaps of
/// ethtool_link_mode_bit_indices 0..31) and autoneg.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkModes {
    pub supported: u32,
    pub advertising: u32,
    pub autoneg: u8,
}

pub fn parse_cmd(b: &[u8]) -> Option<LinkModes> {
    Some(LinkModes {
        supported: netlink::u32_at(b, 4)?,
        advertising: netlink::u32_at(b, 8)?,
        autoneg: *b.get(18)?,
    })
}

/// The metric name node_exporter builds from a driver's statistic: invalid characters (with
/// the underscores around them) become one `_`, lower case, leading `_` trimmed, then the
/// words `rx` and `tx` spelled out. The seven common counters have fixed names.
pub fn metric_name(stat: &str, out: &mut String) -> &'static str {
    out.clear();
    out.push_str("node_ethtool_");
    if let Some((name, help)) = WELL_KNOWN
        .iter()
        .find(|(s, _, _)| *s == stat)
        .map(|(_, n, h)| (n, h))
    {
        out.push_str(name);
        return help;
    }
    let base = out.len();
    // Go's `_*[^0-9A-Za-z_]+_*` → `_`, scanning left to right.
    let mut copied_underscores = 0;
    let mut chars = stat.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c.to_ascii_lowercase());
            copied_underscores = if c == '_' { copied_underscores + 1 } else { 0 };
            continue;
        }
        for _ in 0..copied_underscores {
            out.pop();
        }
        while chars
            .next_if(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
            .is_some()
        {}
        while chars.next_if(|c| *c == '_').is_some() {}
        out.push('_');
        copied_underscores = 0;
    }
    // Go lower-cases after sanitizing; non-ASCII is gone by then, so ASCII lower case is it.
    let trimmed = out[base..].trim_start_matches('_').len();
    out.drain(base..out.len() - trimmed);
    for (short, long) in [("rx", "received"), ("tx", "transmitted")] {
        spell_out(out, base, short, long);
    }
    ""
}

/// Replaces the non-overlapping matches of `(^|_)SHORT(_|$)` in `out[base..]`, as Go's
/// ReplaceAllString does, keeping the surrounding underscores.
fn spell_out(out: &mut String, base: usize, short: &str, long: &str) {
    let mut i = base;
    while i < out.len() {
        let b = out.as_bytes();
        let word_at = if i == base { i } else { i + 1 };
        let sep_ok = i == base || b.get(i) == Some(&b'_');
        let end = word_at + short.len();
        let word_ok = b.get(word_at..end) == Some(short.as_bytes());
        let ends_word = end == b.len() || b.get(end) == Some(&b'_');
        if sep_ok && word_ok && ends_word {
            out.replace_range(word_at..end, long);
            // The match took the separator after the word, if any.
            i = word_at + long.len() + usize::from(word_at + long.len() < out.len());
        } else {
            i += 1;
        }
    }
}

/// node_exporter's fixed names and HELP for common statistics.
const WELL_KNOWN: [(&str, &str, &str); 7] = [
    (
        "rx_bytes",
        "received_bytes_total",
        "Network interface bytes received",
    ),
    (
        "rx_dropped",
        "received_dropped_total",
        "Number of received frames dropped",
    ),
    (
        "rx_errors",
        "received_errors_total",
        "Number of received frames with errors",
    ),
    (
        "rx_packets",
        "received_packets_total",
        "Network interface packets received",
    ),
    (
        "tx_bytes",
        "transmitted_bytes_total",
        "Network interface bytes sent",
    ),
    (
        "tx_errors",
        "transmitted_errors_total",
        "Number of sent frames with errors",
    ),
    (
        "tx_packets",
        "transmitted_packets_total",
        "Network interface packets sent",
    ),
];

/// Speeds in bytes per second, as netclass reports them.
const MBPS: f64 = 1_000_000.0 / 8.0;

/// ethtool_link_mode_bit_indices 0..31 that node_exporter names: bit, speed, duplex, mode.
const SPEEDS: [(u32, f64, &str, &str); 23] = [
    (0, 10.0 * MBPS, "half", "10baseT"),
    (1, 10.0 * MBPS, "full", "10baseT"),
    (2, 100.0 * MBPS, "half", "100baseT"),
    (3, 100.0 * MBPS, "full", "100baseT"),
    (4, 1000.0 * MBPS, "half", "1000baseT"),
    (5, 1000.0 * MBPS, "full", "1000baseT"),
    (12, 10000.0 * MBPS, "full", "10000baseT"),
    (15, 2500.0 * MBPS, "full", "2500baseX"),
    (17, 1000.0 * MBPS, "full", "1000baseKX"),
    (18, 10000.0 * MBPS, "full", "10000baseKX4"),
    (19, 10000.0 * MBPS, "full", "10000baseKR"),
    (20, 10000.0 * MBPS, "full", "10000baseR_FEC"),
    (21, 20000.0 * MBPS, "full", "20000baseMLD2"),
    (22, 20000.0 * MBPS, "full", "20000baseKR2"),
    (23, 40000.0 * MBPS, "full", "40000baseKR4"),
    (24, 40000.0 * MBPS, "full", "40000baseCR4"),
    (25, 40000.0 * MBPS, "full", "40000baseSR4"),
    (26, 40000.0 * MBPS, "full", "40000baseLR4"),
    (27, 56000.0 * MBPS, "full", "56000baseKR4"),
    (28, 56000.0 * MBPS, "full", "56000baseCR4"),
    (29, 56000.0 * MBPS, "full", "56000baseSR4"),
    (30, 56000.0 * MBPS, "full", "56000baseLR4"),
    (31, 25000.0 * MBPS, "full", "25000baseCR"),
];

const PORTS: [(u32, &str); 6] = [
    (7, "TP"),
    (8, "AUI"),
    (9, "MII"),
    (10, "FIBRE"),
    (11, "BNC"),
    (16, "Backplane"),
];

const AUTONEG_BIT: u32 = 6;
const PAUSE_BIT: u32 = 13;
const ASYM_PAUSE_BIT: u32 = 14;

fn bit(modes: u32, b: u32) -> bool {
    b < 32 && modes & (1 << b) != 0
}

pub const COLLECTOR: Collector = Collector {
    name: "ethtool",
    enabled_by_default: false,
    flags: &[
        Flag::new(
            "collector.ethtool.device-include",
            FlagKind::OptRegex,
            "RE",
            "",
            "Only these interfaces.",
        )
        .unset_none()
        .partner("collector.ethtool.device-exclude"),
        Flag::new(
            "collector.ethtool.device-exclude",
            FlagKind::OptRegex,
            "RE",
            "",
            "Interfaces to skip (mutually exclusive with -include).",
        )
        .unset_none(),
        Flag::new(
            "collector.ethtool.metrics-include",
            FlagKind::Regex,
            "RE",
            ".*",
            "The driver statistics to export (matched against the driver's own names).",
        ),
    ],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "class/net")],
        hint: "SIOCETHTOOL needs no privilege; a driver without ethtool support has no series",
    },
    build: Build::New(|s| Ok(Box::new(Ethtool::new(s)?))),
};

/// One interface's results of a scrape.
struct Device {
    name: String,
    link: Option<LinkModes>,
    /// bus_info, driver, erom, firmware, version: ranges into `Ethtool::info_text`.
    info: Option<[std::ops::Range<usize>; 5]>,
}

/// One statistic of one device: its metric name and the driver's name in `Ethtool::names`.
struct Stat {
    name: std::ops::Range<usize>,
    stat: std::ops::Range<usize>,
    help: &'static str,
    device: usize,
    value: u64,
}

pub struct Ethtool {
    filter: Filter,
    metrics: Pattern,
    sock: Option<OwnedFd>,
    /// Reused ioctl buffers: strings and values.
    strings: Vec<u8>,
    values: Vec<u8>,
    devices: Vec<Device>,
    used: usize,
    info_text: String,
    names: String,
    name: String,
    stats: Vec<Stat>,
}

impl Ethtool {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<Ethtool, CliError> {
        Ok(Ethtool {
            filter: Filter::from_settings(
                s,
                "collector.ethtool.device-include",
                "collector.ethtool.device-exclude",
            )?,
            metrics: Pattern::new(s.regex("collector.ethtool.metrics-include")?),
            sock: None,
            strings: Vec::new(),
            values: Vec::new(),
            devices: Vec::new(),
            used: 0,
            info_text: String::new(),
            names: String::new(),
            name: String::new(),
            stats: Vec::new(),
        })
    }

    /// Reads one interface; an interface or driver without support leaves its parts out.
    fn device(&mut self, sock: &OwnedFd, name: &str) -> io::Result<()> {
        let k = self.used;
        if self.devices.len() <= k {
            self.devices.push(Device {
                name: String::new(),
                link: None,
                info: None,
            });
        }
        self.used += 1;
        let mut cmd = [0u8; CMD_LEN];
        cmd[..4].copy_from_slice(&ETHTOOL_GSET.to_ne_bytes());
        let link = match ethtool(sock, name, &mut cmd) {
            Ok(()) => parse_cmd(&cmd),
            Err(e) if unsupported(&e) => None,
            Err(e) => return Err(e),
        };
        let mut drv = [0u8; DRVINFO_LEN];
        drv[..4].copy_from_slice(&ETHTOOL_GDRVINFO.to_ne_bytes());
        let info = match ethtool(sock, name, &mut drv) {
            Ok(()) => parse_drvinfo(&drv),
            Err(e) if unsupported(&e) => None,
            Err(e) => return Err(e),
        };
        let mut ranges = None;
        if let Some(i) = &info {
            let mut put = |b: &[u8]| {
                let start = self.info_text.len();
                self.info_text.push_str(&String::from_utf8_lossy(b));
                start..self.info_text.len()
            };
            ranges = Some([
                put(i.bus_info),
                put(i.driver),
                put(i.erom_version),
                put(i.fw_version),
                put(i.version),
            ]);
        }
        if let Some(d) = self.devices.get_mut(k) {
            d.name.clear();
            d.name.push_str(name);
            d.link = link;
            d.info = ranges;
        }
        let n = info.map_or(0, |i| i.n_stats as usize);
        if n == 0 || n > MAX_STATS {
            return Ok(());
        }
        self.strings.clear();
        self.strings.resize(12 + n * ETH_GSTRING_LEN, 0);
        self.strings[..4].copy_from_slice(&ETHTOOL_GSTRINGS.to_ne_bytes());
        self.strings[4..8].copy_from_slice(&ETH_SS_STATS.to_ne_bytes());
        self.strings[8..12].copy_from_slice(&(n as u32).to_ne_bytes());
        self.values.clear();
        self.values.resize(8 + n * 8, 0);
        self.values[..4].copy_from_slice(&ETHTOOL_GSTATS.to_ne_bytes());
        self.values[4..8].copy_from_slice(&(n as u32).to_ne_bytes());
        for buf in [&mut self.strings, &mut self.values] {
            match ethtool(sock, name, buf) {
                Ok(()) => {}
                Err(e) if unsupported(&e) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        // The kernel says how many it filled in.
        let n = n
            .min(netlink::u32_at(&self.strings, 8).unwrap_or(0) as usize)
            .min(netlink::u32_at(&self.values, 4).unwrap_or(0) as usize);
        for i in 0..n {
            let Some(raw) = self
                .strings
                .get(12 + i * ETH_GSTRING_LEN..12 + (i + 1) * ETH_GSTRING_LEN)
            else {
                break;
            };
            let stat = String::from_utf8_lossy(netlink::c_str(raw));
            if stat.is_empty() || !self.metrics.is_match(&stat) {
                continue;
            }
            let value = netlink::u64_at(&self.values, 8 + i * 8).unwrap_or(0);
            let help = metric_name(&stat, &mut self.name);
            let start = self.names.len();
            self.names.push_str(&self.name);
            let mid = self.names.len();
            self.names.push_str(&stat);
            self.stats.push(Stat {
                name: start..mid,
                stat: mid..self.names.len(),
                help,
                device: k,
                value,
            });
        }
        Ok(())
    }

    fn write(&mut self, out: &mut Encoder) {
        let devices = self.devices.get(..self.used).unwrap_or(&[]);
        let link = || {
            devices
                .iter()
                .filter_map(|d| d.link.map(|l| (d.name.as_str(), l)))
        };
        let speeds = |out: &mut Encoder, fam: &str, help: &str, pick: fn(&LinkModes) -> u32| {
            out.family(fam, help, Kind::Gauge);
            for (dev, l) in link() {
                for (b, bytes, duplex, mode) in SPEEDS {
                    if bit(pick(&l), b) {
                        out.f64(
                            &[("device", dev), ("duplex", duplex), ("mode", mode)],
                            bytes,
                        );
                    }
                }
            }
        };
        let flag =
            |out: &mut Encoder, fam: &str, help: &str, pick: fn(&LinkModes) -> u32, b: u32| {
                out.family(fam, help, Kind::Gauge);
                for (dev, l) in link() {
                    out.u64(&[("device", dev)], u64::from(bit(pick(&l), b)));
                }
            };
        if link().next().is_some() {
            let sup = |l: &LinkModes| l.supported;
            let adv = |l: &LinkModes| l.advertising;
            speeds(
                out,
                "node_network_supported_speed_bytes",
                "Combination of speeds and features supported by network device",
                sup,
            );
            out.family(
                "node_network_supported_port_info",
                "Type of ports or PHYs supported by network device",
                Kind::Gauge,
            );
            for (dev, l) in link() {
                for (b, port) in PORTS {
                    if bit(l.supported, b) {
                        out.u64(&[("device", dev), ("type", port)], 1);
                    }
                }
            }
            flag(
                out,
                "node_network_autonegotiate_supported",
                "If this port device supports autonegotiate",
                sup,
                AUTONEG_BIT,
            );
            flag(
                out,
                "node_network_pause_supported",
                "If this port device supports pause frames",
                sup,
                PAUSE_BIT,
            );
            flag(
                out,
                "node_network_asymmetricpause_supported",
                "If this port device supports asymmetric pause frames",
                sup,
                ASYM_PAUSE_BIT,
            );
            speeds(
                out,
                "node_network_advertised_speed_bytes",
                "Combination of speeds and features offered by network device",
                adv,
            );
            flag(
                out,
                "node_network_autonegotiate_advertised",
                "If this port device offers autonegotiate",
                adv,
                AUTONEG_BIT,
            );
            flag(
                out,
                "node_network_pause_advertised",
                "If this port device offers pause capability",
                adv,
                PAUSE_BIT,
            );
            flag(
                out,
                "node_network_asymmetricpause_advertised",
                "If this port device offers asymmetric pause capability",
                adv,
                ASYM_PAUSE_BIT,
            );
            out.family(
                "node_network_autonegotiate",
                "If this port is using autonegotiate",
                Kind::Gauge,
            );
            for (dev, l) in link() {
                out.u64(&[("device", dev)], u64::from(l.autoneg));
            }
        }
        if devices.iter().any(|d| d.info.is_some()) {
            out.family(
                "node_ethtool_info",
                "A metric with a constant '1' value labeled by bus_info, device, driver, expansion_rom_version, firmware_version, version.",
                Kind::Gauge,
            );
            for d in devices {
                let Some([bus, driver, erom, fw, version]) = &d.info else {
                    continue;
                };
                let t = |r: &std::ops::Range<usize>| self.info_text.get(r.clone()).unwrap_or("");
                out.u64(
                    &[
                        ("bus_info", t(bus)),
                        ("device", &d.name),
                        ("driver", t(driver)),
                        ("expansion_rom_version", t(erom)),
                        ("firmware_version", t(fw)),
                        ("version", t(version)),
                    ],
                    1,
                );
            }
        }
        // Group the statistics by metric name (devices in order), without allocating.
        let names = &self.names;
        self.stats.sort_unstable_by(|a, b| {
            names
                .get(a.name.clone())
                .cmp(&names.get(b.name.clone()))
                .then(a.device.cmp(&b.device))
                .then(a.stat.start.cmp(&b.stat.start))
        });
        let mut current: Option<&str> = None;
        let mut it = self.stats.iter().peekable();
        while let Some(s) = it.next() {
            let name = names.get(s.name.clone()).unwrap_or("");
            // A driver that repeats a name: the last value counts, as in node_exporter's map.
            if it
                .peek()
                .is_some_and(|n| names.get(n.name.clone()) == Some(name) && n.device == s.device)
            {
                continue;
            }
            if current != Some(name) {
                let stat = names.get(s.stat.clone()).unwrap_or("");
                let help = if s.help.is_empty() {
                    self.name.clear();
                    self.name.push_str("Network interface ");
                    self.name.push_str(stat);
                    &self.name
                } else {
                    s.help
                };
                out.family(name, help, Kind::Untyped);
                current = Some(name);
            }
            let dev = devices.get(s.device).map_or("", |d| d.name.as_str());
            out.u64(&[("device", dev)], s.value);
        }
    }
}

/// An ioctl the driver or the interface does not support: no series, not an error.
fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::EOPNOTSUPP
                | libc::ENODEV
                | libc::EINVAL
                | libc::ENXIO
                | libc::EPERM
                | libc::EACCES
                | libc::EBUSY
        )
    )
}

/// SIOCETHTOOL on interface `name` with the command in `data`.
fn ethtool(sock: &OwnedFd, name: &str, data: &mut [u8]) -> io::Result<()> {
    // SAFETY: all-zero bytes are a valid ifreq.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= ifr.ifr_name.len() || name.contains('\0') {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    for (dst, b) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = b as libc::c_char;
    }
    ifr.ifr_ifru.ifru_data = data.as_mut_ptr().cast();
    // SAFETY: `ifr` names the interface and points at `data`, which is as large as the
    // command in its first word makes the kernel read and write (the caller sized it).
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL as _, &mut ifr) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Collect for Ethtool {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        let sock = match self.sock.take() {
            Some(s) => s,
            None => netlink::ioctl_socket().map_err(|err| Error::Io {
                path: "socket(AF_INET) for SIOCETHTOOL".into(),
                err,
            })?,
        };
        self.used = 0;
        self.info_text.clear();
        self.names.clear();
        self.stats.clear();
        let r = ctx
            .src
            .list_dir(Root::Sys, &["class/net"], &mut ctx.names)
            .map_err(Error::absent_feature);
        let result = r.and_then(|()| {
            for name in ctx.names.iter() {
                // Interfaces are directories (symlinks to them); bonding_masters is a file.
                if !ctx.src.path(Root::Sys, &["class/net/", name]).is_dir()
                    || !self.filter.allows(name)
                {
                    continue;
                }
                self.device(&sock, name).map_err(|err| Error::Io {
                    path: format!("SIOCETHTOOL {name}").into(),
                    err,
                })?;
            }
            Ok(())
        });
        self.sock = Some(sock);
        result?;
        self.write(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(stat: &str) -> String {
        let mut s = String::new();
        metric_name(stat, &mut s);
        s
    }

    #[test]
    fn metric_names_as_node_exporter_builds_them() {
        for (stat, want) in [
            ("rx_bytes", "node_ethtool_received_bytes_total"),
            ("tx_packets", "node_ethtool_transmitted_packets_total"),
            ("rx_queue_0_bytes", "node_ethtool_received_queue_0_bytes"),
            ("tx_tx_timeouts", "node_ethtool_transmitted_tx_timeouts"),
            ("tx0_tx_timeouts", "node_ethtool_tx0_transmitted_timeouts"),
            ("rx_xdp_tx", "node_ethtool_received_xdp_transmitted"),
            ("rx0_kicks", "node_ethtool_rx0_kicks"),
            ("port.rx_bytes", "node_ethtool_port_received_bytes"),
            ("rx-errors", "node_ethtool_received_errors"),
            ("RX CRC Errors", "node_ethtool_received_crc_errors"),
            ("__a__-b", "node_ethtool_a_b"),
            ("a-_-b", "node_ethtool_a__b"),
            ("rx", "node_ethtool_received"),
            ("rx_rx", "node_ethtool_received_rx"),
            ("tx_rx_tx", "node_ethtool_transmitted_received_transmitted"),
            ("veb.tc_3_rx_pkts", "node_ethtool_veb_tc_3_received_pkts"),
            ("rxtx", "node_ethtool_rxtx"),
            ("ch0_arm", "node_ethtool_ch0_arm"),
            ("tx_queue_0_bytes", "node_ethtool_transmitted_queue_0_bytes"),
        ] {
            assert_eq!(name(stat), want, "{stat}");
        }
        let mut s = String::new();
        assert_eq!(
            metric_name("rx_errors", &mut s),
            "Number of received frames with errors"
        );
        assert_eq!(metric_name("rx_kicks", &mut s), "");
    }

    #[test]
    fn drvinfo_and_link_modes_from_their_structs() {
        let mut d = [0u8; DRVINFO_LEN];
        d[4..14].copy_from_slice(b"virtio_net");
        d[36..41].copy_from_slice(b"1.0.0");
        d[100..112].copy_from_slice(b"0000:00:03.0");
        d[180..184].copy_from_slice(&20u32.to_ne_bytes());
        let i = parse_drvinfo(&d).unwrap();
        assert_eq!(
            (i.driver, i.version, i.bus_info),
            (&b"virtio_net"[..], &b"1.0.0"[..], &b"0000:00:03.0"[..])
        );
        assert_eq!(
            (i.fw_version, i.erom_version, i.n_stats),
            (&b""[..], &b""[..], 20)
        );
        assert!(parse_drvinfo(&d[..180]).is_none());
        // An igb port: 10/100/1000 half and full, TP, autoneg, pause; advertising all but 1000 half.
        let mut c = [0u8; CMD_LEN];
        c[4..8].copy_from_slice(&0b110_0000_1111_1111u32.to_ne_bytes());
        c[8..12].copy_from_slice(&0b010_0000_0110_1111u32.to_ne_bytes());
        c[18] = 1;
        let l = parse_cmd(&c).unwrap();
        assert_eq!(
            (l.autoneg, bit(l.supported, 13), bit(l.advertising, 14)),
            (1, true, false)
        );
    }

    fn device(
        e: &mut Ethtool,
        name: &str,
        link: Option<LinkModes>,
        info: bool,
        stats: &[(&str, u64)],
    ) {
        let k = e.devices.len();
        let mut ranges = None;
        if info {
            let start = e.info_text.len();
            e.info_text.push_str("igb");
            let r = start..e.info_text.len();
            ranges = Some([0..0, r.clone(), 0..0, 0..0, r]);
        }
        e.devices.push(Device {
            name: name.into(),
            link,
            info: ranges,
        });
        e.used = e.devices.len();
        for (stat, value) in stats {
            let help = metric_name(stat, &mut e.name);
            let start = e.names.len();
            e.names.push_str(&e.name.clone());
            let mid = e.names.len();
            e.names.push_str(stat);
            e.stats.push(Stat {
                name: start..mid,
                stat: mid..e.names.len(),
                help,
                device: k,
                value: *value,
            });
        }
    }

    #[test]
    fn families_are_grouped_across_devices() {
        let mut e = Ethtool::new(&crate::collector::default_settings()).unwrap();
        let igb = LinkModes {
            supported: 0x60ff,
            advertising: 0x206f,
            autoneg: 1,
        };
        device(
            &mut e,
            "eth0",
            Some(igb),
            true,
            &[("tx_queue_0_bytes", 7), ("rx_bytes", 100), ("rx_kicks", 1)],
        );
        device(
            &mut e,
            "eth1",
            None,
            true,
            &[("rx_kicks", 2), ("rx-kicks", 3), ("rx_bytes", 200)],
        );
        device(&mut e, "lo", None, false, &[]);
        let mut out = Encoder::new();
        e.write(&mut out);
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        for want in [
            "node_network_supported_speed_bytes{device=\"eth0\",duplex=\"full\",mode=\"1000baseT\"} 125000000\n",
            "node_network_supported_port_info{device=\"eth0\",type=\"TP\"} 1\n",
            "node_network_pause_supported{device=\"eth0\"} 1\n",
            "node_network_asymmetricpause_advertised{device=\"eth0\"} 0\n",
            "node_network_autonegotiate{device=\"eth0\"} 1\n",
            "node_ethtool_info{bus_info=\"\",device=\"eth1\",driver=\"igb\",expansion_rom_version=\"\",firmware_version=\"\",version=\"igb\"} 1\n",
            "# HELP node_ethtool_received_bytes_total Network interface bytes received\n# TYPE node_ethtool_received_bytes_total untyped\nnode_ethtool_received_bytes_total{device=\"eth0\"} 100\nnode_ethtool_received_bytes_total{device=\"eth1\"} 200\n",
            "# HELP node_ethtool_received_kicks Network interface rx_kicks\n",
            "node_ethtool_received_kicks{device=\"eth0\"} 1\nnode_ethtool_received_kicks{device=\"eth1\"} 3\n",
            "node_ethtool_transmitted_queue_0_bytes{device=\"eth0\"} 7\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("half\",mode=\"1000baseT\"} 125000000\nnode_network_supported_speed_bytes{device=\"eth0\",duplex=\"half\",mode=\"1000baseT\"}"));
        let advertised: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("node_network_advertised_speed_bytes"))
            .collect();
        assert_eq!(advertised.len(), 5, "{advertised:?}");
        assert_eq!(text.matches("# TYPE ").count(), 10 + 1 + 3);
    }

    #[test]
    fn live_interfaces_answer_or_are_skipped() {
        // This machine's own interfaces: loopback has no ethtool driver info; whatever the
        // others have, the collector succeeds and every family is whole.
        let mut ctx = crate::collector::Ctx::new(crate::source::Source::new(
            "/proc".into(),
            "/sys".into(),
            "/".into(),
        ));
        let mut e = Ethtool::new(&crate::collector::default_settings()).unwrap();
        let mut out = Encoder::new();
        e.collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(
            !text.contains("node_ethtool_info{bus_info=\"\",device=\"lo\""),
            "{text}"
        );
        let again = {
            let mut out = Encoder::new();
            e.collect(&mut ctx, &mut out).unwrap();
            String::from_utf8(out.as_bytes().to_vec()).unwrap()
        };
        assert_eq!(
            text.matches("# TYPE ").count(),
            again.matches("# TYPE ").count()
        );
    }
}
