//! `nvme` (feature `server`; on by default as in node_exporter 1.5): each NVMe controller of
//! /sys/class/nvme → node_nvme_info{device,firmware_revision,model,serial,state} 1, from its
//! `firmware_rev`, `model`, `serial` and `state` files (trimmed: the kernel pads them with
//! spaces). Every one of the four must be there. No /sys/class/nvme (no NVMe, or no driver)
//! is no series and success, proctap's rule for an absent driver (node_exporter 1.5 reports
//! "no data", success 0).
//!
//! And, as later node_exporter releases have them, each namespace directory of a controller
//! (`nvme0c0n1`: node_exporter's pattern `nvme<N>c<N>n<N>`) → node_nvme_namespace_{info{
//! ana_state,device,nsid},capacity_bytes,size_bytes,used_bytes,logical_block_size_bytes}{
//! device,nsid} from its `size`, `nuse`, `queue/logical_block_size` (required) and `ana_state`
//! (`unknown` without it). Sizes are node_exporter's: `size` and `nuse` times the logical block
//! size.
use crate::collector::btrfs::Slots;
use crate::collector::edac::parse_count;
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::source::{Error, NameList, Root};

/// The attribute files, in label order after `device`.
const FILES: [(&str, &str); 4] = [
    ("firmware_rev", "firmware_revision"),
    ("model", "model"),
    ("serial", "serial"),
    ("state", "state"),
];

/// A namespace's numeric families after `node_nvme_namespace_`, sorted, and their HELP.
const NS_FAMILIES: [(&str, &str); 4] = [
    (
        "capacity_bytes",
        "Capacity of the NVMe namespace in bytes (size times logical block size).",
    ),
    (
        "logical_block_size_bytes",
        "Logical block size of the NVMe namespace in bytes.",
    ),
    (
        "size_bytes",
        "Size of the NVMe namespace in bytes (size times logical block size).",
    ),
    (
        "used_bytes",
        "Used space of the NVMe namespace in bytes (nuse times logical block size).",
    ),
];

/// An attribute's value as node_exporter exports it: the file's text, trimmed.
pub fn attr(text: &str) -> &str {
    text.trim()
}

/// The namespace id of a controller's entry (`nvme0c0n1` → `1`): node_exporter's unanchored
/// `nvme\d+c\d+n(\d+)`, so `nvme0n1` (no native multipath) and `power` are not namespaces.
pub fn namespace_id(name: &str) -> Option<&str> {
    let b = name.as_bytes();
    let digits = |i: usize| {
        b.get(i..)
            .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count())
    };
    for (start, _) in name.match_indices("nvme") {
        let mut i = start + 4;
        let mut ok = true;
        for sep in [b'c', b'n'] {
            let n = digits(i);
            ok &= n > 0 && b.get(i + n) == Some(&sep);
            i += n + 1;
        }
        let n = digits(i);
        if ok && n > 0 {
            return name.get(i..i + n);
        }
    }
    None
}

pub const COLLECTOR: Collector = Collector {
    name: "nvme",
    enabled_by_default: true,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "class/nvme")],
        hint: "an NVMe controller (driver nvme); no privilege is needed",
    },
    build: Build::New(|_| Ok(Box::<Nvme>::default())),
};

#[derive(Default)]
struct Namespace {
    device: String,
    nsid: String,
    ana_state: String,
    /// In NS_FAMILIES order.
    values: [u64; 4],
}

#[derive(Default)]
pub struct Nvme {
    names: NameList,
    entries: NameList,
    namespaces: Slots<Namespace>,
    /// One text per attribute file, kept between scrapes.
    values: [String; 4],
}

impl Collect for Nvme {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        const DIR: &str = "class/nvme/";
        self.namespaces.clear();
        if !ctx
            .src
            .list_dir_optional(Root::Sys, &[DIR], &mut self.names)?
        {
            return Ok(());
        }
        let mut first = true;
        for device in self.names.iter() {
            for ((file, _), v) in FILES.iter().zip(self.values.iter_mut()) {
                ctx.src.read(Root::Sys, &[DIR, device, "/", file], v)?;
            }
            if first {
                out.family(
                    "node_nvme_info",
                    "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
                    Kind::Gauge,
                );
                first = false;
            }
            let [fw, model, serial, state] = &self.values;
            out.u64(
                &[
                    ("device", device),
                    ("firmware_revision", attr(fw)),
                    ("model", attr(model)),
                    ("serial", attr(serial)),
                    ("state", attr(state)),
                ],
                1,
            );
            let (src, buf) = (&mut ctx.src, &mut ctx.buf);
            src.list_dir(Root::Sys, &[DIR, device], &mut self.entries)?;
            for entry in self.entries.iter() {
                let Some(id) = namespace_id(entry) else {
                    continue;
                };
                let ns = self.namespaces.next();
                ns.device.clear();
                ns.device.push_str(device);
                ns.nsid.clear();
                ns.nsid.push_str(id);
                let mut n = [0u64; 3];
                for (v, file) in n
                    .iter_mut()
                    .zip(["/queue/logical_block_size", "/size", "/nuse"])
                {
                    src.read(Root::Sys, &[DIR, device, "/", entry, file], buf)?;
                    *v = parse_count(buf).map_err(|e| src.parse_error(e))?;
                }
                let [lbs, size, nuse] = n;
                let size = size.wrapping_mul(lbs);
                ns.values = [size, lbs, size, nuse.wrapping_mul(lbs)];
                ns.ana_state.clear();
                let ana =
                    src.read_optional(Root::Sys, &[DIR, device, "/", entry, "/ana_state"], buf)?;
                ns.ana_state
                    .push_str(if ana { buf.trim() } else { "unknown" });
            }
        }
        if self.namespaces.is_empty() {
            return Ok(());
        }
        out.family(
            "node_nvme_namespace_info",
            "Information about NVMe namespaces. Value is always 1",
            Kind::Gauge,
        );
        for ns in self.namespaces.iter() {
            out.u64(
                &[
                    ("ana_state", &ns.ana_state),
                    ("device", &ns.device),
                    ("nsid", &ns.nsid),
                ],
                1,
            );
        }
        for (k, (name, help)) in NS_FAMILIES.iter().enumerate() {
            out.family_parts(&["node_nvme_namespace_", name], help, Kind::Gauge);
            for ns in self.namespaces.iter() {
                let v = ns.values.get(k).copied().unwrap_or(0);
                out.u64(&[("device", &ns.device), ("nsid", &ns.nsid)], v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_attributes_are_trimmed() {
        assert_eq!(attr("S4EWNX0R123456      \n"), "S4EWNX0R123456");
        assert_eq!(attr("\n"), "");
    }

    #[test]
    fn namespace_directories() {
        assert_eq!(namespace_id("nvme0c0n1"), Some("1"));
        assert_eq!(namespace_id("nvme12c3n45"), Some("45"));
        // Unanchored, as node_exporter's regexp: the first match anywhere.
        assert_eq!(namespace_id("xnvme1c1n2p1"), Some("2"));
        assert_eq!(namespace_id("nvmenvme1c2n3"), Some("3"));
        for not in [
            "nvme0n1", "nvme0", "power", "nvme0c0n", "nvmec0n1", "nvme0cn1", "",
        ] {
            assert_eq!(namespace_id(not), None, "{not}");
        }
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        let mut c = Nvme::default();
        for _ in 0..2 {
            out.clear();
            c.collect(&mut ctx, &mut out).unwrap();
        }
        assert_eq!(
            String::from_utf8(out.as_bytes().to_vec()).unwrap(),
            "# HELP node_nvme_info Non-numeric data from /sys/class/nvme/<device>, value is always 1.
# TYPE node_nvme_info gauge
node_nvme_info{device=\"nvme0\",firmware_revision=\"2B2QEXM7\",model=\"Samsung SSD 970 EVO Plus 1TB\",serial=\"S4EWNX0R123456\",state=\"live\"} 1
node_nvme_info{device=\"nvme1\",firmware_revision=\"VDV10131\",model=\"INTEL SSDPE2KX010T8\",serial=\"PHLJ912345AB1P0FGN\",state=\"resetting\"} 1
# HELP node_nvme_namespace_info Information about NVMe namespaces. Value is always 1
# TYPE node_nvme_namespace_info gauge
node_nvme_namespace_info{ana_state=\"unknown\",device=\"nvme0\",nsid=\"1\"} 1
node_nvme_namespace_info{ana_state=\"optimized\",device=\"nvme1\",nsid=\"1\"} 1
node_nvme_namespace_info{ana_state=\"inaccessible\",device=\"nvme1\",nsid=\"2\"} 1
# HELP node_nvme_namespace_capacity_bytes Capacity of the NVMe namespace in bytes (size times logical block size).
# TYPE node_nvme_namespace_capacity_bytes gauge
node_nvme_namespace_capacity_bytes{device=\"nvme0\",nsid=\"1\"} 1000204886016
node_nvme_namespace_capacity_bytes{device=\"nvme1\",nsid=\"1\"} 7681576992768
node_nvme_namespace_capacity_bytes{device=\"nvme1\",nsid=\"2\"} 1073741824
# HELP node_nvme_namespace_logical_block_size_bytes Logical block size of the NVMe namespace in bytes.
# TYPE node_nvme_namespace_logical_block_size_bytes gauge
node_nvme_namespace_logical_block_size_bytes{device=\"nvme0\",nsid=\"1\"} 512
node_nvme_namespace_logical_block_size_bytes{device=\"nvme1\",nsid=\"1\"} 4096
node_nvme_namespace_logical_block_size_bytes{device=\"nvme1\",nsid=\"2\"} 4096
# HELP node_nvme_namespace_size_bytes Size of the NVMe namespace in bytes (size times logical block size).
# TYPE node_nvme_namespace_size_bytes gauge
node_nvme_namespace_size_bytes{device=\"nvme0\",nsid=\"1\"} 1000204886016
node_nvme_namespace_size_bytes{device=\"nvme1\",nsid=\"1\"} 7681576992768
node_nvme_namespace_size_bytes{device=\"nvme1\",nsid=\"2\"} 1073741824
# HELP node_nvme_namespace_used_bytes Used space of the NVMe namespace in bytes (nuse times logical block size).
# TYPE node_nvme_namespace_used_bytes gauge
node_nvme_namespace_used_bytes{device=\"nvme0\",nsid=\"1\"} 536209260544
node_nvme_namespace_used_bytes{device=\"nvme1\",nsid=\"1\"} 870400000000
node_nvme_namespace_used_bytes{device=\"nvme1\",nsid=\"2\"} 0
"
        );
    }

    #[test]
    fn no_class_is_no_series_and_a_missing_file_fails() {
        let dir = std::env::temp_dir().join(format!("proctap-nvme-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ctx = crate::collector::tree_ctx;
        let mut out = Encoder::new();
        Nvme::default().collect(&mut ctx(&dir), &mut out).unwrap();
        assert!(out.as_bytes().is_empty());
        let c = dir.join("sys/class/nvme/nvme0");
        std::fs::create_dir_all(&c).unwrap();
        std::fs::write(c.join("model"), "x\n").unwrap();
        let err = Nvme::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("nvme0/firmware_rev"), "{err}");
        for f in ["firmware_rev", "serial", "state"] {
            std::fs::write(c.join(f), "x\n").unwrap();
        }
        // nvme0n1 (a namespace without native multipath) is not read; nvme0c0n1 must have
        // its files, and numbers in them.
        std::fs::create_dir_all(c.join("nvme0n1")).unwrap();
        std::fs::create_dir_all(c.join("nvme0c0n1/queue")).unwrap();
        std::fs::write(c.join("nvme0c0n1/queue/logical_block_size"), "512\n").unwrap();
        std::fs::write(c.join("nvme0c0n1/size"), "8\n").unwrap();
        let err = Nvme::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("nvme0c0n1/nuse"), "{err}");
        std::fs::write(c.join("nvme0c0n1/nuse"), "many\n").unwrap();
        let err = Nvme::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("nvme0c0n1/nuse"), "{err}");
        std::fs::write(c.join("nvme0c0n1/nuse"), "2\n").unwrap();
        out.clear();
        Nvme::default().collect(&mut ctx(&dir), &mut out).unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        assert!(
            text.contains("node_nvme_namespace_used_bytes{device=\"nvme0\",nsid=\"1\"} 1024\n"),
            "{text}"
        );
        assert_eq!(text.matches("nsid=").count(), 5, "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
