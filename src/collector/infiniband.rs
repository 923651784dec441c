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
//! says `N/A (no PMA)` is left out. No /sys/class/infiniband is no series and success.
//!
//! Later node_exporter releases also read the port's `hw_counters/` (Linux 4.6+, mlx5 and
//! other RDMA drivers; optional): one counter per file they know, and `lifespan` (the driver's
//! aging period of counter reads, in ms) as node_infiniband_lifespan_seconds, divided by 1000
//! in integers as they do.
use crate::collector::btrfs::Slots;
use crate::collector::edac::parse_count;
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::source::{Error, NameList, ParseError, Root};

/// Counter files: (directory, file, metric name after `node_infiniband_`, help); the
/// directory is an index into [`DIRS`]. The data counters (file names with `_data`) are in
/// 4-octet units.
#[rustfmt::skip]
const COUNTERS: &[(u8, &str, &str, &str)] = &[
    (1, "port_rcv_data_64", "legacy_data_received_bytes_total", "Number of data octets received on all links"),
    (1, "port_xmit_data_64", "legacy_data_transmitted_bytes_total", "Number of data octets transmitted on all links"),
    (1, "port_multicast_rcv_packets", "legacy_multicast_packets_received_total", "Number of multicast packets received"),
    (1, "port_multicast_xmit_packets", "legacy_multicast_packets_transmitted_total", "Number of multicast packets transmitted"),
    (1, "port_rcv_packets_64", "legacy_packets_received_total", "Number of data packets received on all links"),
    (1, "port_xmit_packets_64", "legacy_packets_transmitted_total", "Number of data packets received on all links"),
    (1, "port_unicast_rcv_packets", "legacy_unicast_packets_received_total", "Number of unicast packets received"),
    (1, "port_unicast_xmit_packets", "legacy_unicast_packets_transmitted_total", "Number of unicast packets transmitted"),
    (0, "excessive_buffer_overrun_errors", "excessive_buffer_overrun_errors_total", "Number of times that OverrunErrors consecutive flow control update periods occurred, each having at least one overrun error."),
    (0, "link_downed", "link_downed_total", "Number of times the link failed to recover from an error state and went down"),
    (0, "link_error_recovery", "link_error_recovery_total", "Number of times the link successfully recovered from an error state"),
    (0, "local_link_integrity_errors", "local_link_integrity_errors_total", "Number of times that the count of local physical errors exceeded the threshold specified by LocalPhyErrors."),
    (0, "multicast_rcv_packets", "multicast_packets_received_total", "Number of multicast packets received (including errors)"),
    (0, "multicast_xmit_packets", "multicast_packets_transmitted_total", "Number of multicast packets transmitted (including errors)"),
    (0, "port_rcv_constraint_errors", "port_constraint_errors_received_total", "Number of packets received on the switch physical port that are discarded"),
    (0, "port_xmit_constraint_errors", "port_constraint_errors_transmitted_total", "Number of packets not transmitted from the switch physical port"),
    (0, "port_rcv_data", "port_data_received_bytes_total", "Number of data octets received on all links"),
    (0, "port_xmit_data", "port_data_transmitted_bytes_total", "Number of data octets transmitted on all links"),
    (0, "port_rcv_discards", "port_discards_received_total", "Number of inbound packets discarded by the port because the port is down or congested"),
    (0, "port_xmit_discards", "port_discards_transmitted_total", "Number of outbound packets discarded by the port because the port is down or congested"),
    (0, "port_rcv_errors", "port_errors_received_total", "Number of packets containing an error that were received on this port"),
    (0, "port_rcv_packets", "port_packets_received_total", "Number of packets received on all VLs by this port (including errors)"),
    (0, "port_xmit_packets", "port_packets_transmitted_total", "Number of packets transmitted on all VLs from this port (including errors)"),
    (0, "port_rcv_remote_physical_errors", "port_receive_remote_physical_errors_total", "Number of packets marked with the EBP (End of Bad Packet) delimiter received on the port."),
    (0, "port_rcv_switch_relay_errors", "port_receive_switch_relay_errors_total", "Number of packets that could not be forwarded by the switch."),
    (0, "port_xmit_wait", "port_transmit_wait_total", "Number of ticks during which the port had data to transmit but no data was sent during the entire tick"),
    (0, "symbol_error", "symbol_error_total", "Number of minor link errors detected on one or more physical lanes."),
    (0, "unicast_rcv_packets", "unicast_packets_received_total", "Number of unicast packets received (including errors)"),
    (0, "unicast_xmit_packets", "unicast_packets_transmitted_total", "Number of unicast packets transmitted (including errors)"),
    (0, "VL15_dropped", "vl15_dropped_total", "Number of incoming VL15 packets dropped due to resource limitations."),
    (2, "duplicate_request", "duplicate_requests_packets_total", "Number of duplicate requests received"),
    (2, "implied_nak_seq_err", "implied_nak_seq_errors_total", "Number of ACKs with a PSN larger than expected for an RDMA read or response"),
    (2, "lifespan", "lifespan_seconds", "Aging period of the counter reads (hw_counters/lifespan in ms, divided by 1000)"),
    (2, "local_ack_timeout_err", "local_ack_timeout_errors_total", "Number of times a QP's ACK timer expired at the sender (retry limit not exceeded)"),
    (2, "np_cnp_sent", "np_cnp_packets_sent_total", "Number of CNP packets the notification point sent on RoCEv2 congestion"),
    (2, "np_ecn_marked_roce_packets", "np_ecn_marked_roce_packets_received_total", "Number of RoCEv2 packets received marked for congestion (ECN)"),
    (2, "out_of_buffer", "out_of_buffer_drops_total", "Number of drops for lack of a WQE on the receiving QP"),
    (2, "out_of_sequence", "out_of_sequence_packets_received_total", "Number of out-of-sequence packets received"),
    (2, "packet_seq_err", "packet_sequence_errors_total", "Number of NAK sequence error packets received (retry limit not exceeded)"),
    (2, "req_cqe_error", "req_cqes_errors_total", "Number of requester CQEs completed with errors"),
    (2, "req_cqe_flush_error", "req_cqes_flush_errors_total", "Number of requester CQEs completed with flush errors"),
    (2, "req_remote_access_errors", "req_remote_access_errors_total", "Number of remote access errors the requester detected"),
    (2, "req_remote_invalid_request", "req_remote_invalid_request_errors_total", "Number of remote invalid request errors the requester detected"),
    (2, "resp_cqe_error", "resp_cqes_errors_total", "Number of responder CQEs completed with errors"),
    (2, "resp_cqe_flush_error", "resp_cqes_flush_errors_total", "Number of responder CQEs completed with flush errors"),
    (2, "resp_local_length_error", "resp_local_length_errors_total", "Number of local length errors the responder detected"),
    (2, "resp_remote_access_errors", "resp_remote_access_errors_total", "Number of remote access errors the responder detected"),
    (2, "rnr_nak_retry_err", "rnr_nak_retry_packets_received_total", "Number of RNR NAK packets received (retry limit not exceeded)"),
    (2, "roce_adp_retrans", "roce_adp_retransmits_total", "Number of adaptive retransmissions of RoCE traffic"),
    (2, "roce_adp_retrans_to", "roce_adp_retransmits_timeout_total", "Number of adaptive retransmission timeouts of RoCE traffic"),
    (2, "roce_slow_restart", "roce_slow_restart_used_total", "Number of times RoCE slow restart was used"),
    (2, "roce_slow_restart_cnps", "roce_slow_restart_cnps_total", "Number of CNP packets RoCE slow restart generated"),
    (2, "roce_slow_restart_trans", "roce_slow_restart_total", "Number of times RoCE changed state to slow restart"),
    (2, "rp_cnp_handled", "rp_cnp_packets_handled_total", "Number of CNP packets the reaction point handled to throttle its rate"),
    (2, "rp_cnp_ignored", "rp_cnp_ignored_packets_received_total", "Number of CNP packets the reaction point received and ignored"),
    (2, "rx_atomic_requests", "rx_atomic_requests_total", "Number of ATOMIC requests received"),
    (2, "rx_dct_connect", "rx_dct_connect_requests_total", "Number of DCT connection requests received"),
    (2, "rx_icrc_encapsulated", "rx_icrc_encapsulated_errors_total", "Number of RoCE packets received with ICRC errors"),
    (2, "rx_read_requests", "rx_read_requests_total", "Number of READ requests received"),
    (2, "rx_write_requests", "rx_write_requests_total", "Number of WRITE requests received"),
];
const N: usize = COUNTERS.len();
/// The port's counter directories; only the first must be there.
const DIRS: [&str; 3] = ["/counters", "/counters_ext", "/hw_counters"];

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

struct Port {
    device: usize,
    port: String,
    /// state_id, physical_state_id, rate_bytes_per_second
    gauges: [u64; 3],
    counters: [Option<u64>; N],
}

// By hand: std derives Default for arrays of at most 32 items.
impl Default for Port {
    fn default() -> Self {
        Port {
            device: 0,
            port: String::new(),
            gauges: [0; 3],
            counters: [None; N],
        }
    }
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
                for (d, sub) in (0..).zip(DIRS) {
                    let dir = [DIR, dev, "/ports/", port, sub];
                    if d > 0 {
                        if !src.list_dir_optional(Root::Sys, &dir, &mut self.files)? {
                            continue;
                        }
                    } else {
                        src.list_dir(Root::Sys, &dir, &mut self.files)?;
                    }
                    for file in self.files.iter() {
                        let Some(k) = COUNTERS
                            .iter()
                            .position(|&(e, f, _, _)| e == d && f == file)
                        else {
                            continue;
                        };
                        src.read(Root::Sys, &[DIR, dev, "/ports/", port, sub, "/", file], buf)?;
                        let v = parse_counter(buf).map_err(|e| src.parse_error(e))?;
                        if let Some(slot) = p.counters.get_mut(k) {
                            *slot = v.map(|v| match file {
                                "lifespan" => v / 1000,
                                _ if file.contains("_data") => v.wrapping_mul(4),
                                _ => v,
                            });
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
            .chain(COUNTERS.iter().map(|&(_, _, name, help)| {
                let kind = if name.ends_with("_total") {
                    Kind::Counter
                } else {
                    Kind::Gauge
                };
                (name, help, kind)
            }));
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
            // hw_counters/
            "# TYPE node_infiniband_lifespan_seconds gauge\nnode_infiniband_lifespan_seconds{device=\"mlx5_0\",port=\"1\"} 0\n",
            "# TYPE node_infiniband_out_of_buffer_drops_total counter\n",
            "node_infiniband_out_of_buffer_drops_total{device=\"mlx5_0\",port=\"1\"} 12\n",
            "node_infiniband_np_ecn_marked_roce_packets_received_total{device=\"mlx5_0\",port=\"1\"} 1502\n",
            "node_infiniband_rp_cnp_packets_handled_total{device=\"mlx5_0\",port=\"1\"} 1433\n",
            "node_infiniband_roce_adp_retransmits_timeout_total{device=\"mlx5_0\",port=\"1\"} 1\n",
            "node_infiniband_rx_write_requests_total{device=\"mlx5_0\",port=\"1\"} 4120937\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        // symbol_error of mlx4_0 says N/A (no PMA): only mlx5_0's.
        assert_eq!(
            text.matches("node_infiniband_symbol_error_total{").count(),
            1
        );
        // 54 of node_exporter 1.5, and mlx5_0's 30 known hw_counters (not
        // req_transport_retries_exceeded, which node_exporter does not know).
        assert!(!text.contains("retries_exceeded"));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 84);
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
        // hw_counters/: lifespan in whole seconds (ms / 1000, rounded down); garbage fails.
        std::fs::create_dir_all(port.join("hw_counters")).unwrap();
        std::fs::write(port.join("hw_counters/lifespan"), "2500\n").unwrap();
        out.clear();
        Infiniband::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        let want = "node_infiniband_lifespan_seconds{device=\"qib0\",port=\"1\"} 2\n";
        assert!(text.contains(want), "{text}");
        std::fs::write(port.join("hw_counters/np_cnp_sent"), "0x10\n").unwrap();
        let err = Infiniband::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("hw_counters/np_cnp_sent"), "{err}");
        std::fs::remove_file(port.join("hw_counters/np_cnp_sent")).unwrap();
        std::fs::write(port.join("rate"), "\n").unwrap();
        let err = Infiniband::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("ports/1/rate"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
