//! `infiniband` (feature `server`; on by default as in node_exporter): each port of each
//! device in /sys/class/infiniband → node_infiniband_{state_id,physical_state_id,
//! rate_bytes_per_second}{device,port}, one counter per file of the port's `counters/` (and
//! of `counters_ext/`, the 64-bit counters of kernels before 4.5, as `legacy_*`), and
//! node_infiniband_info{device,board_id,firmware_version,hca_type} 1, as node_exporter 1.5
//! reports them.
//!
//! `fw_ver`, `ports/`, each port's `state`, `phys_state`, `rate` and `counters/` must be there;
//! `board_id`, `hca_type` and `counters_ext/` may be absent. The data counters count 4-octet
//! words (one per lane), so they are multiplied by 4, as node_exporter does; a counter that
//! says `N/A (no PMA)` is left out. `hw_counters/` (newer node_exporter releases) is not read.
//! No /sys/class/infiniband is no series and success.
use crate::collector::btrfs::Slots;
use crate::collector::edac::parse_count;
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::source::{Error, NameList, ParseError, Root};

/// Counter files: (in `counters_ext/`, file, metric name after `node_infiniband_`, help).
/// The data counters (file names with `_data`) are in 4-octet units.
#[rustfmt::skip]
const COUNTERS: &[(bool, &str, &str, &str)] = &[
    (true, "port_rcv_data_64", "legacy_data_received_bytes_total", "Number of data octets received on all links"),
    (true, "port_xmit_data_64", "legacy_data_transmitted_bytes_total", "Number of data octets transmitted on all links"),
    (true, "port_multicast_rcv_packets", "legacy_multicast_packets_received_total", "Number of multicast packets received"),
    (true, "port_multicast_xmit_packets", "legacy_multicast_packets_transmitted_total", "Number of multicast packets transmitted"),
    (true, "port_rcv_packets_64", "legacy_packets_received_total", "Number of data packets received on all links"),
    (true, "port_xmit_packets_64", "legacy_packets_transmitted_total", "Number of data packets received on all links"),
    (true, "port_unicast_rcv_packets", "legacy_unicast_packets_received_total", "Number of unicast packets received"),
    (true, "port_unicast_xmit_packets", "legacy_unicast_packets_transmitted_total", "Number of unicast packets transmitted"),
    (false, "excessive_buffer_overrun_errors", "excessive_buffer_overrun_errors_total", "Number of times that OverrunErrors consecutive flow control update periods occurred, each having at least one overrun error."),
    (false, "link_downed", "link_downed_total", "Number of times the link failed to recover from an error state and went down"),
    (false, "link_error_recovery", "link_error_recovery_total", "Number of times the link successfully recovered from an error state"),
    (false, "local_link_integrity_errors", "local_link_integrity_errors_total", "Number of times that the count of local physical errors exceeded the threshold specified by LocalPhyErrors."),
    (false, "multicast_rcv_packets", "multicast_packets_received_total", "Number of multicast packets received (including errors)"),
    (false, "multicast_xmit_packets", "multicast_packets_transmitted_total", "Number of multicast packets transmitted (including errors)"),
    (false, "port_rcv_constraint_errors", "port_constraint_errors_received_total", "Number of packets received on the switch physical port that are discarded"),
    (false, "port_xmit_constraint_errors", "port_constraint_errors_transmitted_total", "Number of packets not transmitted from the switch physical port"),
    (false, "port_rcv_data", "port_data_received_bytes_total", "Number of data octets received on all links"),
    (false, "port_xmit_data", "port_data_transmitted_bytes_total", "Number of data octets transmitted on all links"),
    (false, "port_rcv_discards", "port_discards_received_total", "Number of inbound packets discarded by the port because the port is down or congested"),
    (false, "port_xmit_discards", "port_discards_transmitted_total", "Number of outbound packets discarded by the port because the port is down or congested"),
    (false, "port_rcv_errors", "port_errors_received_total", "Number of packets containing an error that were received on this port"),
    (false, "port_rcv_packets", "port_packets_received_total", "Number of packets received on all VLs by this port (including errors)"),
    (false, "port_xmit_packets", "port_packets_transmitted_total", "Number of packets transmitted on all VLs from this port (including errors)"),
    (false, "port_rcv_remote_physical_errors", "port_receive_remote_physical_errors_total", "Number of packets marked with the EBP (End of Bad Packet) delimiter received on the port."),
    (false, "port_rcv_switch_relay_errors", "port_receive_switch_relay_errors_total", "Number of packets that could not be forwarded by the switch."),
    (false, "port_xmit_wait", "port_transmit_wait_total", "Number of ticks during which the port had data to transmit but no data was sent during the entire tick"),
    (false, "symbol_error", "symbol_error_total", "Number of minor link errors detected on one or more physical lanes."),
    (false, "unicast_rcv_packets", "unicast_packets_received_total", "Number of unicast packets received (including errors)"),
    (false, "unicast_xmit_packets", "unicast_packets_transmitted_total", "Number of unicast packets transmitted (including errors)"),
    (false, "VL15_dropped", "vl15_dropped_total", "Number of incoming VL15 packets dropped due to resource limitations."),
];
const N: usize = COUNTERS.len();

/// The number of a `state` or `phys_state` file (`4: ACTIVE` → 4): exactly one colon.
pub fn parse_state(text: &str) -> Result<u64, ParseError> {
    let bad = || ParseError::new(1, format!("expected \"<id>: <name>\", found {text:?}"));
    match text.split_once(':') {
        Some((id, rest)) if !rest.contains(':') => id.trim().parse().map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// A `rate` file (`100 Gb/sec (4X EDR)`) in bytes per second. node_exporter parses the
/// number as a 32-bit float; this rounds the 64-bit parse to 32 bits (the same for the
/// kernel's rates, which are short decimals) rather than link a 32-bit float parser.
pub fn parse_rate(text: &str) -> Result<u64, ParseError> {
    let bad = || ParseError::new(1, format!("expected \"<Gb/s> Gb/sec ...\", found {text:?}"));
    let (n, _) = text.split_once(' ').ok_or_else(bad)?;
    let gbps: f64 = n.parse().map_err(|_| bad())?;
    Ok((f64::from(gbps as f32) * 125e6) as u64)
}

/// A counter file: `None` for a counter the driver cannot read (`N/A (no PMA)`).
pub fn parse_counter(text: &str) -> Result<Option<u64>, ParseError> {
    // Checked first: a failed parse builds its message, an allocation on every scrape.
    if text.contains("N/A (no PMA)") {
        return Ok(None);
    }
    parse_count(text).map(Some)
}

#[derive(Default)]
struct Device {
    name: String,
    /// fw_ver, board_id, hca_type
    info: [String; 3],
}

#[derive(Default)]
struct Port {
    device: usize,
    port: String,
    /// state_id, physical_state_id, rate_bytes_per_second
    gauges: [u64; 3],
    counters: [Option<u64>; N],
}

pub const COLLECTOR: Collector = Collector {
    name: "infiniband",
    enabled_by_default: true,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "class/infiniband")],
        hint: "an InfiniBand or RDMA adapter and its driver (mlx4_ib, mlx5_ib, ...)",
    },
    build: Build::New(|_| Ok(Box::<Infiniband>::default())),
};

#[derive(Default)]
pub struct Infiniband {
    devices: Slots<Device>,
    ports: Slots<Port>,
    names: NameList,
    port_names: NameList,
    files: NameList,
}

impl Collect for Infiniband {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        const DIR: &str = "class/infiniband/";
        if !ctx
            .src
            .list_dir_optional(Root::Sys, &[DIR], &mut self.names)?
        {
            return Ok(());
        }
        self.devices.clear();
        self.ports.clear();
        let (src, buf) = (&mut ctx.src, &mut ctx.buf);
        for (i, dev) in self.names.iter().enumerate() {
            let d = self.devices.next();
            d.name.clear();
            d.name.push_str(dev);
            for (v, file) in d.info.iter_mut().zip(["/fw_ver", "/board_id", "/hca_type"]) {
                v.clear();
                if file == "/fw_ver" {
                    src.read(Root::Sys, &[DIR, dev, file], buf)?;
                } else if !src.read_optional(Root::Sys, &[DIR, dev, file], buf)? {
                    continue;
                }
                v.push_str(buf.trim());
            }
            src.list_dir(Root::Sys, &[DIR, dev, "/ports"], &mut self.port_names)?;
            for port in self.port_names.iter() {
                let p = self.ports.next();
                p.device = i;
                let number: u32 = port.parse().map_err(|_| {
                    src.path(Root::Sys, &[DIR, dev, "/ports/", port]);
                    src.parse_error(ParseError::new(0, "expected a port number"))
                })?;
                p.port.clear();
                p.port
                    .push_str(crate::expo::u64_str(&mut [0; 20], number.into()));
                for (g, file) in p.gauges.iter_mut().zip(["/state", "/phys_state", "/rate"]) {
                    src.read(Root::Sys, &[DIR, dev, "/ports/", port, file], buf)?;
                    let parse = if file == "/rate" {
                        parse_rate
                    } else {
                        parse_state
                    };
                    *g = parse(buf).map_err(|e| src.parse_error(e))?;
                }
                p.counters = [None; N];
                for ext in [false, true] {
                    let sub = if ext { "/counters_ext" } else { "/counters" };
                    let dir = [DIR, dev, "/ports/", port, sub];
                    if ext {
                        if !src.list_dir_optional(Root::Sys, &dir, &mut self.files)? {
                            continue;
                        }
                    } else {
                        src.list_dir(Root::Sys, &dir, &mut self.files)?;
                    }
                    for file in self.files.iter() {
                        let Some(k) = COUNTERS
                            .iter()
                            .position(|&(e, f, _, _)| e == ext && f == file)
                        else {
                            continue;
                        };
                        src.read(Root::Sys, &[DIR, dev, "/ports/", port, sub, "/", file], buf)?;
                        let v = parse_counter(buf).map_err(|e| src.parse_error(e))?;
                        let words = if file.contains("_data") { 4 } else { 1 };
                        if let Some(slot) = p.counters.get_mut(k) {
                            *slot = v.map(|v| v.wrapping_mul(words));
                        }
                    }
                }
            }
        }
        if self.devices.is_empty() {
            return Ok(());
        }
        out.family(
            "node_infiniband_info",
            "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
            Kind::Gauge,
        );
        for d in self.devices.iter() {
            let [fw, board, hca] = &d.info;
            out.u64(
                &[
                    ("board_id", board),
                    ("device", &d.name),
                    ("firmware_version", fw),
                    ("hca_type", hca),
                ],
                1,
            );
        }
        let gauges = [
            ("state_id", "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer)"),
            ("physical_state_id", "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, 4: shift, 5: link up, 6: link error recover, 7: phytest)"),
            ("rate_bytes_per_second", "Maximum signal transfer rate"),
        ];
        let families = gauges
            .iter()
            .map(|&(name, help)| (name, help, Kind::Gauge))
            .chain(
                COUNTERS
                    .iter()
                    .map(|&(_, _, name, help)| (name, help, Kind::Counter)),
            );
        for (k, (name, help, kind)) in families.enumerate() {
            let mut first = true;
            for p in self.ports.iter() {
                let v = match k.checked_sub(3) {
                    None => p.gauges.get(k).copied(),
                    Some(c) => p.counters.get(c).copied().flatten(),
                };
                let (Some(v), Some(d)) = (v, self.devices.get(p.device)) else {
                    continue;
                };
                if first {
                    out.family_parts(&["node_infiniband_", name], help, kind);
                    first = false;
                }
                out.u64(&[("device", &d.name), ("port", &p.port)], v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_rates_and_counters() {
        assert_eq!(parse_state("4: ACTIVE\n"), Ok(4));
        assert_eq!(parse_state("5: LinkUp\n"), Ok(5));
        assert!(parse_state("ACTIVE\n").is_err());
        assert!(parse_state("4: A: B\n").is_err());
        assert!(parse_state("x: ACTIVE\n").is_err());
        assert_eq!(parse_rate("100 Gb/sec (4X EDR)\n"), Ok(12_500_000_000));
        assert_eq!(parse_rate("2.5 Gb/sec (1X SDR)\n"), Ok(312_500_000));
        assert_eq!(parse_rate("10 Gb/sec\n"), Ok(1_250_000_000));
        assert!(parse_rate("fast\n").is_err());
        assert!(parse_rate("").is_err());
        assert_eq!(parse_counter("17\n"), Ok(Some(17)));
        assert_eq!(parse_counter("N/A (no PMA)\n"), Ok(None));
        assert!(parse_counter("-3\n").is_err());
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        let mut c = Infiniband::default();
        for _ in 0..2 {
            out.clear();
            c.collect(&mut ctx, &mut out).unwrap();
        }
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        for line in [
            "node_infiniband_info{board_id=\"SM_2221000001000\",device=\"mlx4_0\",firmware_version=\"2.42.5000\",hca_type=\"\"} 1\n",
            "node_infiniband_state_id{device=\"mlx4_0\",port=\"2\"} 1\n",
            "node_infiniband_physical_state_id{device=\"mlx4_0\",port=\"2\"} 2\n",
            "node_infiniband_rate_bytes_per_second{device=\"mlx4_0\",port=\"2\"} 312500000\n",
            "node_infiniband_rate_bytes_per_second{device=\"mlx5_0\",port=\"1\"} 12500000000\n",
            "node_infiniband_legacy_data_received_bytes_total{device=\"mlx4_0\",port=\"2\"} 32000000056\n",
            "node_infiniband_port_data_received_bytes_total{device=\"mlx5_0\",port=\"1\"} 11687485804928\n",
            "node_infiniband_link_downed_total{device=\"mlx5_0\",port=\"1\"} 1\n",
            "node_infiniband_vl15_dropped_total{device=\"mlx5_0\",port=\"1\"} 7\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        // symbol_error of mlx4_0 says N/A (no PMA): only mlx5_0's.
        assert_eq!(
            text.matches("node_infiniband_symbol_error_total{").count(),
            1
        );
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 54);
    }

    #[test]
    fn no_class_is_no_series_and_garbage_fails() {
        let dir = std::env::temp_dir().join(format!("proctap-ib-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ctx = crate::collector::tree_ctx;
        let mut out = Encoder::new();
        Infiniband::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap();
        assert!(out.as_bytes().is_empty());
        let port = dir.join("sys/class/infiniband/qib0/ports/1");
        std::fs::create_dir_all(port.join("counters")).unwrap();
        std::fs::write(dir.join("sys/class/infiniband/qib0/fw_ver"), "1\n").unwrap();
        std::fs::write(port.join("state"), "4: ACTIVE\n").unwrap();
        std::fs::write(port.join("phys_state"), "5: LinkUp\n").unwrap();
        std::fs::write(port.join("rate"), "40 Gb/sec (4X QDR)\n").unwrap();
        std::fs::write(port.join("counters/link_downed"), "lots\n").unwrap();
        let err = Infiniband::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("counters/link_downed"), "{err}");
        std::fs::write(port.join("counters/link_downed"), "2\n").unwrap();
        std::fs::write(port.join("rate"), "\n").unwrap();
        let err = Infiniband::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("ports/1/rate"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
