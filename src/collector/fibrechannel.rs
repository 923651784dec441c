//! `fibrechannel` (feature `server`; on by default as in node_exporter): each Fibre Channel
//! host adapter port in /sys/class/fc_host → node_fibrechannel_info{fc_host,...} 1 from its
//! attribute files and one counter per file of its `statistics/`, as node_exporter 1.5
//! reports them.
//!
//! Every attribute file and `statistics/` must be there. A counter file is hex (`0x1a2b`,
//! the kernel's format) or decimal; a missing one is 0 and `0xffffffffffffffff` (the driver
//! cannot count it) is left out, as in node_exporter. The `0x` of port_id, port_name and
//! fabric_name is dropped. No /sys/class/fc_host is no series and success.
use crate::collector::btrfs::Slots;
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::source::{Error, NameList, ParseError, Root};

/// Attribute files in the order of their labels (sorted); node_name is read (node_exporter
/// requires it) but is no label.
const INFO: [(&str, &str); 11] = [
    ("dev_loss_tmo", "dev_loss_tmo"),
    ("fabric_name", "fabric_name"),
    ("node_name", ""),
    ("port_id", "port_id"),
    ("port_name", "port_name"),
    ("port_state", "port_state"),
    ("port_type", "port_type"),
    ("speed", "speed"),
    ("supported_classes", "supported_classes"),
    ("supported_speeds", "supported_speeds"),
    ("symbolic_name", "symbolic_name"),
];

/// statistics/ files: (file, metric name between `node_fibrechannel_` and `_total`, help).
#[rustfmt::skip]
const COUNTERS: [(&str, &str, &str); 14] = [
    ("dumped_frames", "dumped_frames", "Number of dumped frames"),
    ("error_frames", "error_frames", "Number of errors in frames"),
    ("fcp_packet_aborts", "fcp_packet_aborts", "Number of aborted packets"),
    ("invalid_crc_count", "invalid_crc", "Invalid Cyclic Redundancy Check count"),
    ("invalid_tx_word_count", "invalid_tx_words", "Number of invalid words transmitted by host port"),
    ("link_failure_count", "link_failure", "Number of times the host port link has failed"),
    ("loss_of_signal_count", "loss_of_signal", "Number of times signal has been lost"),
    ("loss_of_sync_count", "loss_of_sync", "Number of failures on either bit or transmission word boundaries"),
    ("nos_count", "nos", "Number Not_Operational Primitive Sequence received by host port"),
    ("rx_frames", "rx_frames", "Number of frames received"),
    ("rx_words", "rx_words", "Number of words received by host port"),
    ("seconds_since_last_reset", "seconds_since_last_reset", "Number of seconds since last host port reset"),
    ("tx_frames", "tx_frames", "Number of frames transmitted by host port"),
    ("tx_words", "tx_words", "Number of words transmitted by host port"),
];

/// A statistics file: `0x`-prefixed hex or decimal; `None` for all ones (not counted).
pub fn parse_stat(text: &str) -> Result<Option<u64>, ParseError> {
    let t = text.trim();
    let v = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    match v {
        Ok(u64::MAX) => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(_) => Err(ParseError::new(
            1,
            format!("expected a hex (0x...) or decimal counter, found {t:?}"),
        )),
    }
}

#[derive(Default)]
struct Host {
    name: String,
    info: [String; 11],
    counters: [Option<u64>; 14],
}

pub const COLLECTOR: Collector = Collector {
    name: "fibrechannel",
    enabled_by_default: true,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "class/fc_host")],
        hint: "a Fibre Channel host bus adapter and its driver (qla2xxx, lpfc, ...)",
    },
    build: Build::New(|_| Ok(Box::<Fibrechannel>::default())),
};

#[derive(Default)]
pub struct Fibrechannel {
    hosts: Slots<Host>,
    names: NameList,
    files: NameList,
}

impl Collect for Fibrechannel {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        const DIR: &str = "class/fc_host/";
        if !ctx
            .src
            .list_dir_optional(Root::Sys, &[DIR], &mut self.names)?
        {
            return Ok(());
        }
        self.hosts.clear();
        let (src, buf) = (&mut ctx.src, &mut ctx.buf);
        for host in self.names.iter() {
            let h = self.hosts.next();
            h.name.clear();
            h.name.push_str(host);
            for (v, (file, label)) in h.info.iter_mut().zip(INFO) {
                src.read(Root::Sys, &[DIR, host, "/", file], buf)?;
                let t = buf.trim();
                let t = match label {
                    "fabric_name" | "port_id" | "port_name" => t.strip_prefix("0x").unwrap_or(t),
                    _ => t,
                };
                v.clear();
                v.push_str(t);
            }
            src.list_dir(Root::Sys, &[DIR, host, "/statistics"], &mut self.files)?;
            for (v, (file, _, _)) in h.counters.iter_mut().zip(COUNTERS) {
                *v = if src.read_optional(Root::Sys, &[DIR, host, "/statistics/", file], buf)? {
                    parse_stat(buf).map_err(|e| src.parse_error(e))?
                } else {
                    Some(0)
                };
            }
        }
        if self.hosts.is_empty() {
            return Ok(());
        }
        out.family(
            "node_fibrechannel_info",
            "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
            Kind::Gauge,
        );
        for h in self.hosts.iter() {
            let mut labels = [("", ""); 11];
            for (l, ((_, label), v)) in labels.iter_mut().zip(INFO.iter().zip(&h.info)) {
                *l = (label, v.as_str());
            }
            // fc_host sorts between fabric_name and (node_name, which is no label) port_id.
            labels[2] = ("fc_host", &h.name);
            out.u64(&labels, 1);
        }
        for (k, (_, name, help)) in COUNTERS.iter().enumerate() {
            let mut first = true;
            for h in self.hosts.iter() {
                let Some(v) = h.counters.get(k).copied().flatten() else {
                    continue;
                };
                if first {
                    out.family_parts(&["node_fibrechannel_", name, "_total"], help, Kind::Counter);
                    first = false;
                }
                out.u64(&[("fc_host", &h.name)], v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters() {
        assert_eq!(parse_stat("0x1a2b\n"), Ok(Some(0x1a2b)));
        assert_eq!(parse_stat("  17 \n"), Ok(Some(17)));
        assert_eq!(parse_stat("0x0\n"), Ok(Some(0)));
        assert_eq!(parse_stat("0xffffffffffffffff\n"), Ok(None));
        assert!(parse_stat("0x\n").is_err());
        assert!(parse_stat("0xZZ\n").is_err());
        assert!(parse_stat("0x10000000000000000\n").is_err());
        assert!(parse_stat("").is_err());
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        let mut c = Fibrechannel::default();
        for _ in 0..2 {
            out.clear();
            c.collect(&mut ctx, &mut out).unwrap();
        }
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        for line in [
            "node_fibrechannel_info{dev_loss_tmo=\"30\",fabric_name=\"100050eb1a2b3c4d\",fc_host=\"host0\",port_id=\"010400\",port_name=\"21000024ff7ef9d1\",port_state=\"Online\",port_type=\"NPort (fabric via point-to-point)\",speed=\"16 Gbit\",supported_classes=\"Class 3\",supported_speeds=\"4 Gbit, 8 Gbit, 16 Gbit\",symbolic_name=\"QLE2692 FW:v9.06.02 DVR:v10.02.07.900-k\"} 1\n",
            "node_fibrechannel_rx_words_total{fc_host=\"host0\"} 125832997401\n",
            "node_fibrechannel_link_failure_total{fc_host=\"host7\"} 7\n",
            // host7 has no nos_count: 0.
            "node_fibrechannel_nos_total{fc_host=\"host7\"} 0\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        // host0's dumped_frames is all ones: host7's only.
        assert_eq!(
            text.matches("node_fibrechannel_dumped_frames_total{")
                .count(),
            1
        );
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 29);
    }

    #[test]
    fn no_class_is_no_series_and_a_missing_attribute_fails() {
        let dir = std::env::temp_dir().join(format!("proctap-fc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ctx = crate::collector::tree_ctx;
        let mut out = Encoder::new();
        Fibrechannel::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap();
        assert!(out.as_bytes().is_empty());
        let host = dir.join("sys/class/fc_host/host3");
        std::fs::create_dir_all(host.join("statistics")).unwrap();
        for (f, _) in INFO {
            if f != "speed" {
                std::fs::write(host.join(f), "x\n").unwrap();
            }
        }
        let err = Fibrechannel::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("host3/speed"), "{err}");
        std::fs::write(host.join("speed"), "8 Gbit\n").unwrap();
        std::fs::write(host.join("statistics/tx_frames"), "0xZZ\n").unwrap();
        let err = Fibrechannel::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("statistics/tx_frames"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
