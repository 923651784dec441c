//! `nvme` (feature `server`; on by default as in node_exporter 1.5): each NVMe controller of
//! /sys/class/nvme → node_nvme_info{device,firmware_revision,model,serial,state} 1, from its
//! `firmware_rev`, `model`, `serial` and `state` files (trimmed: the kernel pads them with
//! spaces). Every one of the four must be there. No /sys/class/nvme (no NVMe, or no driver)
//! is no series and success, proctap's rule for an absent driver (node_exporter 1.5 reports
//! "no data", success 0).
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

/// An attribute's value as node_exporter exports it: the file's text, trimmed.
pub fn attr(text: &str) -> &str {
    text.trim()
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
pub struct Nvme {
    names: NameList,
    /// One text per attribute file, kept between scrapes.
    values: [String; 4],
}

impl Collect for Nvme {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        const DIR: &str = "class/nvme/";
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
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        Nvme::default().collect(&mut ctx, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out.as_bytes().to_vec()).unwrap(),
            "# HELP node_nvme_info Non-numeric data from /sys/class/nvme/<device>, value is always 1.
# TYPE node_nvme_info gauge
node_nvme_info{device=\"nvme0\",firmware_revision=\"2B2QEXM7\",model=\"Samsung SSD 970 EVO Plus 1TB\",serial=\"S4EWNX0R123456\",state=\"live\"} 1
node_nvme_info{device=\"nvme1\",firmware_revision=\"VDV10131\",model=\"INTEL SSDPE2KX010T8\",serial=\"PHLJ912345AB1P0FGN\",state=\"resetting\"} 1
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
        std::fs::create_dir_all(dir.join("sys/class/nvme/nvme0")).unwrap();
        std::fs::write(dir.join("sys/class/nvme/nvme0/model"), "x\n").unwrap();
        let err = Nvme::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("nvme0/firmware_rev"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
