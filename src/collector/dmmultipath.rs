//! `dmmultipath` (feature `server`; off by default, as in node_exporter, whose collector came
//! after 1.5): each device-mapper device `/sys/block/dm-*` whose `dm/uuid` starts with `mpath-`
//! (a map multipathd made) → node_dmmultipath_device_{info,active,size_bytes,paths,
//! paths_active,paths_failed}{device,sysfs_name} and node_dmmultipath_path_state{device,path,
//! state} 1 for each path in its `slaves/`, whose state is `/sys/block/<path>/device/state`.
//!
//! As node_exporter reads them: a dm device without `dm/uuid` is skipped, as is one whose uuid
//! is another target's (`LVM-`, `CRYPT-`); `dm/name`, `dm/suspended` and `size` (512-byte
//! sectors) must be there; no `slaves/` is no paths. A path is active when its state is
//! `running` (SCSI) or `live` (NVMe), failed otherwise.
use crate::collector::btrfs::Slots;
use crate::collector::edac::parse_count;
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::source::{Error, NameList, Root};

/// Whether a dm device's `dm/uuid` is a multipath map's.
pub fn is_multipath(uuid: &str) -> bool {
    uuid.trim().starts_with("mpath-")
}

/// Whether a path's `device/state` is one that carries I/O.
pub fn path_active(state: &str) -> bool {
    matches!(state.trim(), "running" | "live")
}

/// The device families, sorted, with their HELP (node_exporter's).
#[rustfmt::skip]
const FAMILIES: [(&str, &str); 6] = [
    ("active", "Whether the multipath device-mapper device is active (1) or suspended (0)."),
    ("info", "Non-numeric information about a DM-multipath device."),
    ("paths", "Number of paths for a multipath device."),
    ("paths_active", "Number of paths in active state (SCSI running or NVMe live) for a multipath device."),
    ("paths_failed", "Number of paths not in active state for a multipath device."),
    ("size_bytes", "Size of the multipath device in bytes, read from /sys/block/<dm>/size."),
];

#[derive(Default)]
struct Map {
    sysfs_name: String,
    name: String,
    uuid: String,
    /// active, paths, paths_active, size_bytes
    values: [u64; 4],
}

#[derive(Default)]
struct PathState {
    map: usize,
    path: String,
    state: String,
}

pub const COLLECTOR: Collector = Collector {
    name: "dmmultipath",
    enabled_by_default: false,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "block")],
        hint: "device-mapper multipath maps (dm-multipath, multipathd); no privilege is needed",
    },
    build: Build::New(|_| Ok(Box::<DmMultipath>::default())),
};

#[derive(Default)]
pub struct DmMultipath {
    maps: Slots<Map>,
    paths: Slots<PathState>,
    names: NameList,
    slaves: NameList,
}

impl Collect for DmMultipath {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        const DIR: &str = "block/";
        self.maps.clear();
        self.paths.clear();
        let (src, buf) = (&mut ctx.src, &mut ctx.buf);
        src.list_dir(Root::Sys, &[DIR], &mut self.names)?;
        for dev in self.names.iter().filter(|n| n.starts_with("dm-")) {
            if !src.read_optional(Root::Sys, &[DIR, dev, "/dm/uuid"], buf)? || !is_multipath(buf) {
                continue;
            }
            let i = self.maps.len();
            let m = self.maps.next();
            m.uuid.clear();
            m.uuid.push_str(buf.trim());
            m.sysfs_name.clear();
            m.sysfs_name.push_str(dev);
            src.read(Root::Sys, &[DIR, dev, "/dm/name"], buf)?;
            m.name.clear();
            m.name.push_str(buf.trim());
            src.read(Root::Sys, &[DIR, dev, "/dm/suspended"], buf)?;
            let suspended = parse_count(buf).map_err(|e| src.parse_error(e))?;
            src.read(Root::Sys, &[DIR, dev, "/size"], buf)?;
            let sectors = parse_count(buf).map_err(|e| src.parse_error(e))?;
            src.list_dir_optional(Root::Sys, &[DIR, dev, "/slaves"], &mut self.slaves)?;
            let mut n = [0u64; 2];
            for path in self.slaves.iter() {
                src.read(Root::Sys, &[DIR, path, "/device/state"], buf)?;
                let p = self.paths.next();
                p.map = i;
                p.path.clear();
                p.path.push_str(path);
                p.state.clear();
                p.state.push_str(buf.trim());
                n[0] += 1;
                n[1] += u64::from(path_active(buf));
            }
            m.values = [
                u64::from(suspended != 1),
                n[0],
                n[1],
                sectors.wrapping_mul(512),
            ];
        }
        if self.maps.is_empty() {
            return Ok(());
        }
        for (k, (name, help)) in FAMILIES.iter().enumerate() {
            out.family_parts(&["node_dmmultipath_device_", name], help, Kind::Gauge);
            for m in self.maps.iter() {
                let [active, paths, up, size] = m.values;
                let v = [active, 1, paths, up, paths - up, size];
                let labels = [
                    ("device", m.name.as_str()),
                    ("sysfs_name", m.sysfs_name.as_str()),
                    ("uuid", m.uuid.as_str()),
                ];
                let n = if k == 1 { 3 } else { 2 };
                out.u64(
                    labels.get(..n).unwrap_or(&labels),
                    v.get(k).copied().unwrap_or(0),
                );
            }
        }
        if self.paths.is_empty() {
            return Ok(());
        }
        out.family(
            "node_dmmultipath_path_state",
            "Reports the underlying device state for a multipath path, as read from /sys/block/<dev>/device/state.",
            Kind::Gauge,
        );
        for p in self.paths.iter() {
            let Some(m) = self.maps.get(p.map) else {
                continue;
            };
            out.u64(
                &[("device", &m.name), ("path", &p.path), ("state", &p.state)],
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
    fn uuids_and_states() {
        assert!(is_multipath("mpath-3600a098038303634722b4d59646c4436\n"));
        assert!(!is_multipath("LVM-Wq3cfjX0xGvLk2X2NVqAfRZ5v6yTwZ8b\n"));
        assert!(!is_multipath("CRYPT-LUKS2-0b1a2c3d-luks\n"));
        assert!(!is_multipath("\n"));
        assert!(path_active("running\n"));
        assert!(path_active("live\n"));
        assert!(!path_active("offline\n"));
        assert!(!path_active("blocked\n"));
        assert!(!path_active("transport-offline\n"));
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        let mut c = DmMultipath::default();
        for _ in 0..2 {
            out.clear();
            c.collect(&mut ctx, &mut out).unwrap();
        }
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        let l = "{device=\"mpatha\",sysfs_name=\"dm-0\"}";
        for line in [
            format!("node_dmmultipath_device_active{l} 1\n"),
            "node_dmmultipath_device_info{device=\"mpatha\",sysfs_name=\"dm-0\",uuid=\"mpath-3600a098038303634722b4d59646c4436\"} 1\n".into(),
            format!("node_dmmultipath_device_paths{l} 2\n"),
            format!("node_dmmultipath_device_paths_active{l} 1\n"),
            format!("node_dmmultipath_device_paths_failed{l} 1\n"),
            format!("node_dmmultipath_device_size_bytes{l} 107374182400\n"),
            "node_dmmultipath_path_state{device=\"mpatha\",path=\"sdc\",state=\"running\"} 1\n".into(),
            "node_dmmultipath_path_state{device=\"mpatha\",path=\"sdd\",state=\"offline\"} 1\n".into(),
        ] {
            assert!(text.contains(&line), "{line} missing from\n{text}");
        }
        // dm-1 is an LVM volume: not a multipath map.
        assert!(!text.contains("dm-1"), "{text}");
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 8);
    }

    fn write(root: &std::path::Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn odd_maps() {
        let dir = std::env::temp_dir().join(format!("proctap-dmmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ctx = crate::collector::tree_ctx;
        let mut out = Encoder::new();
        // No dm devices at all: no series.
        std::fs::create_dir_all(dir.join("sys/block/sda")).unwrap();
        DmMultipath::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap();
        assert!(out.as_bytes().is_empty());
        // A dm device without dm/uuid is skipped; a suspended NVMe map without slaves/ has no
        // paths and no path_state family; an NVMe path that is live counts as active.
        std::fs::create_dir_all(dir.join("sys/block/dm-9")).unwrap();
        write(
            &dir,
            "sys/block/dm-2/dm/uuid",
            "mpath-eui.0025388b91b2c3d4\n",
        );
        write(&dir, "sys/block/dm-2/dm/name", "nvmpath\n");
        write(&dir, "sys/block/dm-2/dm/suspended", "1\n");
        write(&dir, "sys/block/dm-2/size", "8\n");
        DmMultipath::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        assert!(
            text.contains(
                "node_dmmultipath_device_active{device=\"nvmpath\",sysfs_name=\"dm-2\"} 0\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "node_dmmultipath_device_size_bytes{device=\"nvmpath\",sysfs_name=\"dm-2\"} 4096\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "node_dmmultipath_device_paths{device=\"nvmpath\",sysfs_name=\"dm-2\"} 0\n"
            ),
            "{text}"
        );
        assert!(
            !text.contains("dm-9") && !text.contains("path_state"),
            "{text}"
        );
        std::fs::create_dir_all(dir.join("sys/block/dm-2/slaves/nvme0c0n1")).unwrap();
        write(&dir, "sys/block/nvme0c0n1/device/state", "live\n");
        out.clear();
        DmMultipath::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        assert!(
            text.contains(
                "node_dmmultipath_device_paths_active{device=\"nvmpath\",sysfs_name=\"dm-2\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains("node_dmmultipath_path_state{device=\"nvmpath\",path=\"nvme0c0n1\",state=\"live\"} 1\n"), "{text}");
        // A path whose state cannot be read, and garbage in dm/suspended, fail naming the file.
        std::fs::create_dir_all(dir.join("sys/block/dm-2/slaves/sdz")).unwrap();
        let err = DmMultipath::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("sdz/device/state"), "{err}");
        std::fs::remove_dir_all(dir.join("sys/block/dm-2/slaves/sdz")).unwrap();
        write(&dir, "sys/block/dm-2/dm/suspended", "yes\n");
        let err = DmMultipath::default()
            .collect(&mut ctx(&dir), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("dm-2/dm/suspended"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
