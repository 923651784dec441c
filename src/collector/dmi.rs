//! `dmi` (feature `server`; on by default as in node_exporter 1.5): the firmware's DMI strings
//! from /sys/class/dmi/id → node_dmi_info{bios_date,...,system_vendor} 1, a label for each
//! file that is there and readable (the serials and the UUID are root's only: without root
//! they are left out, as in node_exporter). No /sys/class/dmi/id (most ARM and MIPS boards)
//! is no series and success, proctap's rule for an absent source (1.5: "no data").
use std::io;

use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind, Label};
use crate::source::{Error, Root};

/// (file, label), in label order.
const FILES: [(&str, &str); 20] = [
    ("bios_date", "bios_date"),
    ("bios_release", "bios_release"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("product_family", "product_family"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_sku", "product_sku"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("sys_vendor", "system_vendor"),
];

pub const COLLECTOR: Collector = Collector {
    name: "dmi",
    enabled_by_default: true,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "class/dmi/id")],
        hint: "firmware with DMI/SMBIOS (x86, most arm64 servers); the serials need root",
    },
    build: Build::New(|_| Ok(Box::<Dmi>::default())),
};

#[derive(Default)]
pub struct Dmi {
    /// Each file's text, and whether it was there and readable, kept between scrapes.
    values: [(String, bool); 20],
}

impl Collect for Dmi {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        let mut any = false;
        for ((file, _), (text, have)) in FILES.iter().zip(self.values.iter_mut()) {
            *have = match ctx
                .src
                .read_optional(Root::Sys, &["class/dmi/id/", file], text)
            {
                Ok(there) => there,
                Err(Error::Io { err, .. }) if err.kind() == io::ErrorKind::PermissionDenied => {
                    false
                }
                Err(e) => return Err(e),
            };
            any |= *have;
        }
        if !any {
            return Ok(());
        }
        let mut labels: [Label; 20] = [("", ""); 20];
        let mut n = 0;
        for ((_, label), (text, have)) in FILES.iter().zip(self.values.iter()) {
            if let (true, Some(slot)) = (*have, labels.get_mut(n)) {
                *slot = (label, text.trim());
                n += 1;
            }
        }
        out.family(
            "node_dmi_info",
            "A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, bios_version, board_asset_tag, board_name, board_serial, board_vendor, board_version, chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, product_family, product_name, product_serial, product_sku, product_uuid, product_version, system_vendor if provided by DMI.",
            Kind::Gauge,
        );
        out.u64(labels.get(..n).unwrap_or_default(), 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dir: &std::path::Path) -> Ctx {
        Ctx::new(crate::source::Source::new(
            dir.join("proc"),
            dir.join("sys"),
            dir.to_path_buf(),
        ))
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        Dmi::default().collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(text.ends_with(
            "node_dmi_info{bios_date=\"03/14/2024\",bios_release=\"5.27\",bios_vendor=\"American Megatrends International, LLC.\",bios_version=\"2.1a\",board_asset_tag=\"Default string\",board_name=\"X12STH-F\",board_serial=\"ZM21AS012345\",board_vendor=\"Supermicro\",board_version=\"1.02\",chassis_asset_tag=\"Default string\",chassis_serial=\"C8150LK45AB0123\",chassis_vendor=\"Supermicro\",chassis_version=\"0123456789\",product_family=\"Family\",product_name=\"SYS-5019C-MR\",product_serial=\"S4321987654321\",product_sku=\"To be filled by O.E.M.\",product_uuid=\"3a9f1c20-5b7e-11ee-8c99-0242ac120002\",product_version=\"0123456789\",system_vendor=\"Supermicro\"} 1\n"
        ), "{text}");
    }

    #[test]
    fn missing_files_leave_their_labels_out_and_no_dmi_is_nothing() {
        let dir = std::env::temp_dir().join(format!("proctap-dmi-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut out = Encoder::new();
        Dmi::default().collect(&mut ctx(&dir), &mut out).unwrap();
        assert!(out.as_bytes().is_empty());
        std::fs::create_dir_all(dir.join("sys/class/dmi/id")).unwrap();
        std::fs::write(dir.join("sys/class/dmi/id/sys_vendor"), "QEMU\n").unwrap();
        std::fs::write(dir.join("sys/class/dmi/id/bios_date"), "04/01/2014 \n").unwrap();
        Dmi::default().collect(&mut ctx(&dir), &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(
            text.ends_with("node_dmi_info{bios_date=\"04/01/2014\",system_vendor=\"QEMU\"} 1\n"),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
