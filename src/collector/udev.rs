//! udev's database entry of a block device (`--path.udev.data`/b<major>:<minor>, written by
//! systemd-udevd; see udevadm(8)): the `E:KEY=VALUE` property lines the diskstats collector
//! turns into node_disk_info's model, serial, ... labels, node_disk_filesystem_info,
//! node_disk_device_mapper_info and node_disk_ata_*, as node_exporter 1.5 reads them.
//! Other lines (`S:` symlinks, `I:`, `G:`, `V:`, ...) are not properties.

/// The properties diskstats uses; [`Props`] keeps them by index into this table.
pub const NAMES: [&str; 18] = [
    "ID_PATH",
    "ID_WWN",
    "ID_MODEL",
    "ID_SERIAL_SHORT",
    "ID_REVISION",
    "ID_FS_TYPE",
    "ID_FS_USAGE",
    "ID_FS_UUID",
    "ID_FS_VERSION",
    "DM_NAME",
    "DM_UUID",
    "DM_VG_NAME",
    "DM_LV_NAME",
    "DM_LV_LAYER",
    "ID_ATA",
    "ID_ATA_WRITE_CACHE",
    "ID_ATA_WRITE_CACHE_ENABLED",
    "ID_ATA_ROTATION_RATE_RPM",
];

pub const PATH: usize = 0;
pub const WWN: usize = 1;
pub const MODEL: usize = 2;
pub const SERIAL_SHORT: usize = 3;
pub const REVISION: usize = 4;
pub const FS_TYPE: usize = 5;
pub const DM_NAME: usize = 9;
pub const ATA: usize = 14;

/// Calls `f(index into NAMES, value)` for each property line of a database entry whose name
/// is one diskstats uses. A later line for the same property wins, as in node_exporter's map.
pub fn for_each_property<'a>(text: &'a str, mut f: impl FnMut(usize, &'a str)) {
    for line in text.lines() {
        let Some((name, value)) = line.strip_prefix("E:").and_then(|p| p.split_once('=')) else {
            continue;
        };
        if let Some(i) = NAMES.iter().position(|n| *n == name) {
            f(i, value);
        }
    }
}

/// The properties of each disk of one scrape: values copied into one string, and per disk
/// and property where its value is. Reused between scrapes.
#[derive(Debug, Default)]
pub struct Props {
    text: String,
    spans: Vec<(usize, usize)>,
}

impl Props {
    pub fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    /// Adds the next disk with the properties of `entry` (empty when it has none).
    pub fn push(&mut self, entry: &str) {
        let base = self.spans.len();
        self.spans.resize(base + NAMES.len(), (0, 0));
        let (text, spans) = (&mut self.text, &mut self.spans);
        for_each_property(entry, |i, value| {
            let start = text.len();
            text.push_str(value);
            if let Some(span) = spans.get_mut(base + i) {
                *span = (start, text.len());
            }
        });
    }

    /// How many disks were pushed.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.spans.len() / NAMES.len()
    }

    /// The disk's short serial: node_disk_info's `serial` in node_exporter 1.5 (later releases
    /// prefer SCSI_IDENT_SERIAL, the serial printed on the label, when udev has it).
    pub fn serial(&self, disk: usize) -> &str {
        self.get(disk, SERIAL_SHORT)
    }

    /// Property `i` of disk `disk`, "" when the entry lacks it.
    pub fn get(&self, disk: usize, i: usize) -> &str {
        self.spans
            .get(disk * NAMES.len() + i)
            .and_then(|&(s, e)| self.text.get(s..e))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // An SSD's entry, systemd 252 (Debian 12), shortened.
    const SATA_SSD: &str = "S:disk/by-id/ata-Samsung_SSD_870_EVO_500GB_S6PXNM0T412345W
S:disk/by-path/pci-0000:00:17.0-ata-1.0
W:12
I:4187236
E:ID_ATA=1
E:ID_TYPE=disk
E:ID_MODEL=Samsung_SSD_870_EVO_500GB
E:ID_REVISION=SVT02B6Q
E:ID_SERIAL_SHORT=S6PXNM0T412345W
E:ID_ATA_WRITE_CACHE=1
E:ID_ATA_ROTATION_RATE_RPM=0
E:ID_WWN=0x5002538f41234567
E:ID_PATH=pci-0000:00:17.0-ata-1.0
G:systemd
V:1
";

    #[test]
    fn properties() {
        let mut p = Props::default();
        p.push(SATA_SSD);
        p.push("");
        p.push("E:DM_NAME=vg0-root\nE:DM_NAME=vg0-root2\nE:ID_FS_TYPE=\nE:BROKEN\nX:ID_MODEL=no\nE:SCSI_IDENT_SERIAL=LBL-1\nE:ID_SERIAL_SHORT=S1\n");
        assert_eq!(p.get(0, MODEL), "Samsung_SSD_870_EVO_500GB");
        assert_eq!(p.get(0, PATH), "pci-0000:00:17.0-ata-1.0");
        assert_eq!(p.get(0, ATA), "1");
        assert_eq!(p.serial(0), "S6PXNM0T412345W");
        assert_eq!(p.get(1, MODEL), "");
        assert_eq!(p.get(2, DM_NAME), "vg0-root2", "the last line wins");
        assert_eq!(p.get(2, FS_TYPE), "");
        assert_eq!(p.get(2, MODEL), "", "only E: lines are properties");
        assert_eq!(p.serial(2), "S1", "the short serial, as node_exporter 1.5");
        assert_eq!(p.get(9, MODEL), "", "no such disk");
        p.clear();
        assert_eq!(p.get(0, MODEL), "");
        // Values may hold `=` and spaces.
        p.push("E:ID_MODEL=WD Red SN700 500GB\nE:DM_UUID=LVM-a=b\n");
        assert_eq!(p.get(0, MODEL), "WD Red SN700 500GB");
        assert_eq!(p.get(0, 10), "LVM-a=b");
    }
}
