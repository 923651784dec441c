//! `diskstats`: /proc/diskstats → node_disk_* as node_exporter 1.5 reports them.
//!
//! Each line is `major minor name` followed by 11 counters (kernels before 4.18), 15 (4.18+,
//! adds discards) or 17 (5.5+, adds flushes). A family is written only for the columns the
//! kernel prints, as node_exporter does.
//!
//! udev's database (`--path.udev.data`, see udev.rs) gives node_disk_info its model, serial,
//! path, revision and wwn, and node_disk_filesystem_info, node_disk_device_mapper_info and
//! node_disk_ata_*. A disk udev knows nothing of (containers without /run/udev, our
//! fixtures' loop device) has those labels empty, as in node_exporter.
use crate::collector::hwmon::go_parse_float;
use crate::collector::udev::{self, Props};
use crate::collector::{Build, Collect, Collector, Ctx, Filter, Sources, What};
use crate::expo::{u64_str, Encoder, Kind};
use crate::flag::{CliError, Flag, Kind as FlagKind, Settings};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

/// How many counters after the name we know about (kernel 5.5+).
pub const MAX_STATS: usize = 17;

/// Linux counts sectors of 512 bytes in /proc/diskstats whatever the device's sector size.
const SECTOR_BYTES: u64 = 512;

/// One line of /proc/diskstats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk<'a> {
    pub major: u64,
    pub minor: u64,
    pub name: &'a str,
    /// The counters in kernel order; only the first `count` are meaningful.
    pub stats: [u64; MAX_STATS],
    pub count: usize,
}

/// Parses one line. `Ok(None)` for lines node_exporter skips: blank lines and the 7-field
/// partition lines of 2.6 kernels before 2.6.25 (4 counters only).
pub fn parse_line(line: &str, lineno: usize) -> Result<Option<Disk<'_>>, ParseError> {
    let nfields = line.split_ascii_whitespace().count();
    if nfields == 0 || nfields == 7 {
        return Ok(None);
    }
    if nfields < 14 {
        return Err(ParseError::new(
            lineno,
            format!("expected at least 14 fields, found {nfields}"),
        ));
    }
    let mut fields = line.split_ascii_whitespace();
    let mut next = || fields.next().unwrap_or("");
    let major = u64_at(next(), lineno, "the major number")?;
    let minor = u64_at(next(), lineno, "the minor number")?;
    let name = next();
    let count = (nfields - 3).min(MAX_STATS);
    let mut stats = [0; MAX_STATS];
    for (slot, col) in stats.iter_mut().take(count).zip(COLUMNS) {
        *slot = u64_at(next(), lineno, col.what)?;
    }
    Ok(Some(Disk {
        major,
        minor,
        name,
        stats,
        count,
    }))
}

/// The disks of a whole /proc/diskstats, in file order.
pub fn parse_diskstats(text: &str) -> impl Iterator<Item = Result<Disk<'_>, ParseError>> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| parse_line(line, i + 1).transpose())
}

#[derive(Clone, Copy)]
enum Unit {
    Count,
    Sectors,
    Millis,
}

struct Column {
    /// The kernel's name for the column, for error messages.
    what: &'static str,
    metric: &'static str,
    help: &'static str,
    kind: Kind,
    unit: Unit,
}

const fn col(
    what: &'static str,
    metric: &'static str,
    help: &'static str,
    kind: Kind,
    unit: Unit,
) -> Column {
    Column {
        what,
        metric,
        help,
        kind,
        unit,
    }
}

/// The counters in kernel order (Documentation/admin-guide/iostats.rst) with node_exporter's
/// names. Discarded sectors stay sectors: node_exporter 1.5 does not convert them to bytes.
#[rustfmt::skip]
const COLUMNS: [Column; MAX_STATS] = [
    col("reads completed", "node_disk_reads_completed_total", "The total number of reads completed successfully.", Kind::Counter, Unit::Count),
    col("reads merged", "node_disk_reads_merged_total", "The total number of reads merged.", Kind::Counter, Unit::Count),
    col("sectors read", "node_disk_read_bytes_total", "The total number of bytes read successfully.", Kind::Counter, Unit::Sectors),
    col("time reading", "node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.", Kind::Counter, Unit::Millis),
    col("writes completed", "node_disk_writes_completed_total", "The total number of writes completed successfully.", Kind::Counter, Unit::Count),
    col("writes merged", "node_disk_writes_merged_total", "The number of writes merged.", Kind::Counter, Unit::Count),
    col("sectors written", "node_disk_written_bytes_total", "The total number of bytes written successfully.", Kind::Counter, Unit::Sectors),
    col("time writing", "node_disk_write_time_seconds_total", "This is the total number of seconds spent by all writes.", Kind::Counter, Unit::Millis),
    col("I/Os in progress", "node_disk_io_now", "The number of I/Os currently in progress.", Kind::Gauge, Unit::Count),
    col("time doing I/Os", "node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", Kind::Counter, Unit::Millis),
    col("weighted time doing I/Os", "node_disk_io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.", Kind::Counter, Unit::Millis),
    col("discards completed", "node_disk_discards_completed_total", "The total number of discards completed successfully.", Kind::Counter, Unit::Count),
    col("discards merged", "node_disk_discards_merged_total", "The total number of discards merged.", Kind::Counter, Unit::Count),
    col("sectors discarded", "node_disk_discarded_sectors_total", "The total number of sectors discarded successfully.", Kind::Counter, Unit::Count),
    col("time discarding", "node_disk_discard_time_seconds_total", "This is the total number of seconds spent by all discards.", Kind::Counter, Unit::Millis),
    col("flush requests completed", "node_disk_flush_requests_total", "The total number of flush requests completed successfully", Kind::Counter, Unit::Count),
    col("time flushing", "node_disk_flush_requests_time_seconds_total", "This is the total number of seconds spent by all flush requests.", Kind::Counter, Unit::Millis),
];

fn write_value(out: &mut Encoder, device: &str, unit: Unit, v: u64) {
    let labels = [("device", device)];
    match unit {
        Unit::Count => out.u64(&labels, v),
        Unit::Sectors => match v.checked_mul(SECTOR_BYTES) {
            Some(bytes) => out.u64(&labels, bytes),
            None => out.f64(&labels, v as f64 * SECTOR_BYTES as f64),
        },
        Unit::Millis => out.f64(&labels, v as f64 / 1000.0),
    }
}

/// node_exporter's default: partitions, RAM disks, loop and floppy devices.
pub const DEVICE_EXCLUDE_DEFAULT: &str = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

pub const COLLECTOR: Collector = Collector {
    name: "diskstats",
    enabled_by_default: true,
    flags: &[
        Flag::new(
            "collector.diskstats.device-include",
            FlagKind::OptRegex,
            "RE",
            "",
            "Only these disks.",
        )
        .unset_none()
        .partner("collector.diskstats.device-exclude"),
        Flag::new(
            "collector.diskstats.device-exclude",
            FlagKind::OptRegex,
            "RE",
            DEVICE_EXCLUDE_DEFAULT,
            "Disks to skip (mutually exclusive with -include).",
        ),
    ],
    help_section: None,
    sources: Sources {
        reads: &[
            What::File(Root::Proc, "diskstats"),
            What::Dir(Root::Udev, ""),
        ],
        hint: "/proc/diskstats is world-readable; disk models and serials need udev's database (--path.udev.data; mount the host's /run/udev read-only in a container)",
    },
    build: Build::New(|s| Ok(Box::new(Diskstats::new(s)?))),
};

pub struct Diskstats {
    opt: Filter,
    /// The udev properties of the disks of this scrape, in file order.
    props: Props,
    /// This scrape's wanted disks, parsed once (the families loop over them 20 times).
    rows: Vec<Row>,
}

/// A wanted disk of this scrape: its name as a byte range of the text read.
#[derive(Clone, Copy)]
struct Row {
    name: (usize, usize),
    stats: [u64; MAX_STATS],
    count: usize,
}

impl Row {
    fn name<'a>(&self, text: &'a str) -> &'a str {
        text.get(self.name.0..self.name.1).unwrap_or("")
    }
}

impl Diskstats {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<Diskstats, CliError> {
        Ok(Diskstats {
            opt: Filter::from_settings(
                s,
                "collector.diskstats.device-include",
                "collector.diskstats.device-exclude",
            )?,
            props: Props::default(),
            rows: Vec::new(),
        })
    }
}

impl Collect for Diskstats {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        collect(self, ctx, out)
    }
}

/// Labels after `device` and the udev property (index into `udev::NAMES`) of each.
type Labels = &'static [(&'static str, usize)];

/// The families from udev properties: (name, help, property whose value selects a disk,
/// labels).
#[rustfmt::skip]
const UDEV_INFO: [(&str, &str, usize, Labels); 2] = [
    ("node_disk_filesystem_info", "Info about disk filesystem.", udev::FS_TYPE,
        &[("type", 5), ("usage", 6), ("uuid", 7), ("version", 8)]),
    ("node_disk_device_mapper_info", "Info about disk device mapper.", udev::DM_NAME,
        &[("name", 9), ("uuid", 10), ("vg_name", 11), ("lv_name", 12), ("lv_layer", 13)]),
];

/// node_disk_ata_*: (name, help, property), exported for ATA disks when the value parses.
#[rustfmt::skip]
const ATA: [(&str, &str, usize); 3] = [
    ("node_disk_ata_write_cache", "ATA disk has a write cache.", 15),
    ("node_disk_ata_write_cache_enabled", "ATA disk has its write cache enabled.", 16),
    ("node_disk_ata_rotation_rate_rpm", "ATA disk rotation rate in RPMs (0 for SSDs).", 17),
];

fn collect(ds: &mut Diskstats, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    ctx.src.read(Root::Proc, &["diskstats"], &mut ctx.buf)?;
    let filter = &mut ds.opt;
    let props = &mut ds.props;
    let rows = &mut ds.rows;
    props.clear();
    rows.clear();
    let text = ctx.buf.as_str();

    let mut widest = 0;
    for disk in parse_diskstats(text) {
        let disk = disk.map_err(|e| {
            // The last path read is a udev entry's.
            ctx.src.path(Root::Proc, &["diskstats"]);
            ctx.src.parse_error(e)
        })?;
        if !filter.allows(disk.name) {
            continue;
        }
        if widest == 0 {
            out.family(
                "node_disk_info",
                "Info of /sys/block/<block_device>.",
                Kind::Gauge,
            );
        }
        widest = widest.max(disk.count);
        // The name is a slice of `text`: kept as its range.
        let start = (disk.name.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
        rows.push(Row {
            name: (start, start + disk.name.len()),
            stats: disk.stats,
            count: disk.count,
        });
        let (mut major, mut minor) = ([0u8; 20], [0u8; 20]);
        let (major, minor) = (
            u64_str(&mut major, disk.major),
            u64_str(&mut minor, disk.minor),
        );
        // Like node_exporter, a disk without a readable entry just has empty labels.
        let entry = ctx
            .src
            .read_optional(Root::Udev, &["b", major, ":", minor], &mut ctx.buf2);
        if !matches!(entry, Ok(true)) {
            ctx.buf2.clear();
        }
        props.push(&ctx.buf2);
        let d = props.len().saturating_sub(1);
        out.u64(
            &[
                ("device", disk.name),
                ("major", major),
                ("minor", minor),
                ("model", props.get(d, udev::MODEL)),
                ("path", props.get(d, udev::PATH)),
                ("revision", props.get(d, udev::REVISION)),
                ("serial", props.serial(d)),
                ("wwn", props.get(d, udev::WWN)),
            ],
            1,
        );
    }

    for (i, col) in COLUMNS.iter().enumerate().take(widest) {
        out.family(col.metric, col.help, col.kind);
        for row in rows.iter().filter(|r| i < r.count) {
            if let Some(&v) = row.stats.get(i) {
                write_value(out, row.name(text), col.unit, v);
            }
        }
    }

    // The wanted disks again, numbered as their udev properties were pushed.
    for (name, help, key, labels) in UDEV_INFO {
        let mut first = true;
        for (d, row) in rows.iter().enumerate() {
            if props.get(d, key).is_empty() {
                continue;
            }
            if first {
                out.family(name, help, Kind::Gauge);
                first = false;
            }
            let mut l = [("", ""); 6];
            l[0] = ("device", row.name(text));
            for (slot, &(label, i)) in l.iter_mut().skip(1).zip(labels) {
                *slot = (label, props.get(d, i));
            }
            out.u64(l.get(..labels.len() + 1).unwrap_or_default(), 1);
        }
    }
    for (name, help, key) in ATA {
        let mut first = true;
        for (d, row) in rows.iter().enumerate() {
            if props.get(d, udev::ATA).is_empty() {
                continue;
            }
            let Some(v) = go_parse_float(props.get(d, key)) else {
                continue;
            };
            if first {
                out.family(name, help, Kind::Gauge);
                first = false;
            }
            out.f64(&[("device", row.name(text))], v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::Ctx;
    use crate::source::Source;

    fn disks(text: &str) -> Vec<Disk<'_>> {
        parse_diskstats(text).collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn diskstats_kernel_6_18_twenty_fields() {
        // Captured on this machine (6.18, virtio disk), 17 counters per line.
        let text = " 254       0 vda 31905 7802 3550402 18293 6490 7483 1442760 3757 0 6752 22336 3637 49 193520 248 896 36\n";
        let d = disks(text);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].major, d[0].minor, d[0].name), (254, 0, "vda"));
        assert_eq!(d[0].count, 17);
        assert_eq!(
            d[0].stats,
            [
                31905, 7802, 3550402, 18293, 6490, 7483, 1442760, 3757, 0, 6752, 22336, 3637, 49,
                193520, 248, 896, 36
            ]
        );
    }

    #[test]
    fn diskstats_kernel_4_19_eighteen_fields() {
        let text = "   8       0 sda 9123 12 401234 5120 8812 930 771002 20931 0 11230 26051 41 0 81920 7\n";
        let d = disks(text);
        assert_eq!(d[0].count, 15);
        assert_eq!(d[0].stats[11..15], [41, 0, 81920, 7]);
        assert_eq!(d[0].stats[15..], [0, 0]);
    }

    #[test]
    fn diskstats_kernel_4_9_fourteen_fields_and_old_partitions() {
        // Kernels before 2.6.25 printed partitions with 4 counters; node_exporter skips them.
        let text = "   3    0 hda 446216 784926 9550688 4382310 424847 312726 5922052 19310380 0 3376340 23705160\n   3    1 hda1 35486 38030 38030 38030\n";
        let d = disks(text);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].name, "hda");
        assert_eq!(d[0].count, 11);
        assert_eq!(d[0].stats[10], 23705160);
    }

    #[test]
    fn diskstats_future_columns_are_ignored() {
        let d = disks("8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19\n");
        assert_eq!(d[0].count, 17);
        assert_eq!(d[0].stats[16], 17);
    }

    #[test]
    fn diskstats_names_with_dashes_and_huge_counters() {
        let d = disks("253 3 dm-3 18446744073709551615 0 36028797018963968 0 0 0 0 0 0 0 0\n\n");
        assert_eq!(d[0].name, "dm-3");
        assert_eq!(d[0].stats[0], u64::MAX);
        let mut out = Encoder::new();
        out.family("x", "h", Kind::Counter);
        // 2^55 sectors overflow u64 as bytes: written as a float rather than wrapped.
        write_value(&mut out, "dm-3", Unit::Sectors, d[0].stats[2]);
        write_value(&mut out, "dm-3", Unit::Sectors, 9_007_199_254_740_993);
        write_value(&mut out, "dm-3", Unit::Millis, 5467);
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(
            text.contains("x{device=\"dm-3\"} 1.8446744073709552e19\n"),
            "{text}"
        );
        assert!(
            text.contains("x{device=\"dm-3\"} 4611686018427388416\n"),
            "{text}"
        );
        assert!(text.contains("x{device=\"dm-3\"} 5.467\n"), "{text}");
    }

    #[test]
    fn diskstats_empty() {
        assert!(disks("").is_empty());
    }

    #[test]
    fn diskstats_garbage() {
        let err = |t| {
            parse_diskstats(t)
                .find_map(Result::err)
                .unwrap()
                .to_string()
        };
        assert_eq!(
            err("8 0 sda 1 2 3 4 5 6\n"),
            "line 1: expected at least 14 fields, found 9"
        );
        assert_eq!(
            err("8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n8 1 sda1 1 2 x 4 5 6 7 8 9 10 11\n"),
            "line 2: expected an unsigned integer for sectors read, found \"x\""
        );
        assert_eq!(
            err("sda 8 0 1 2 3 4 5 6 7 8 9 10 11\n"),
            "line 1: expected an unsigned integer for the major number, found \"sda\""
        );
    }

    fn stats() -> Diskstats {
        Diskstats::new(&crate::collector::default_settings()).unwrap()
    }

    #[test]
    fn collect_fixtures() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut ds = stats();
        let mut out = Encoder::new();
        collect(&mut ds, &mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        // The second scrape reuses the udev buffers and says the same.
        let mut again = Encoder::new();
        collect(&mut ds, &mut ctx, &mut again).unwrap();
        assert_eq!(again.as_bytes(), out.as_bytes());
        for line in [
            "node_disk_info{device=\"nvme0n1\",major=\"259\",minor=\"0\",model=\"WD Red SN700 500GB\",path=\"pci-0000:04:00.0-nvme-1\",revision=\"111150WD\",serial=\"22123A801234\",wwn=\"eui.e8238fa6bf530001001b448b4a1b2c3d\"} 1\n",
            // The short serial, not SCSI_IDENT_SERIAL: node_exporter 1.5 does not read it.
            "node_disk_info{device=\"sdb\",major=\"8\",minor=\"16\",model=\"WDC_WD20EFRX-68EUZN0\",path=\"pci-0000:00:17.0-ata-2.0\",revision=\"82.00A82\",serial=\"WD-WCC4M1ABCDEF\",wwn=\"0x50014ee2b5a1c3d4\"} 1\n",
            "node_disk_info{device=\"md0\",major=\"9\",minor=\"0\",model=\"\",path=\"\",revision=\"\",serial=\"\",wwn=\"\"} 1\n",
            "node_disk_filesystem_info{device=\"mmcblk0p1\",type=\"vfat\",usage=\"filesystem\",uuid=\"5DE4-665C\",version=\"FAT32\"} 1\n",
            "# TYPE node_disk_device_mapper_info gauge\nnode_disk_device_mapper_info{device=\"dm-0\",name=\"vg0-root\",uuid=\"LVM-Xk2bq7VnR1cT9sLmPq3wZ8yH4uJ6aD0eF5gN1oB2pC3rE7tS8vW9xY0zA1bC2dE3\",vg_name=\"vg0\",lv_name=\"root\",lv_layer=\"\"} 1\n# HELP",
            "# TYPE node_disk_ata_write_cache_enabled gauge\nnode_disk_ata_write_cache_enabled{device=\"sda\"} 1\nnode_disk_ata_write_cache_enabled{device=\"sdb\"} 1\nnode_disk_ata_write_cache_enabled{device=\"sdc\"} 1\nnode_disk_ata_write_cache_enabled{device=\"sdd\"} 0\n",
            // sdd's rotation rate is `unknown`: no sample, as in node_exporter.
            "node_disk_ata_rotation_rate_rpm{device=\"sdb\"} 5400\nnode_disk_ata_rotation_rate_rpm{device=\"sdc\"} 5900\n",
            "node_disk_reads_completed_total{device=\"sda\"} 4831209655\n",
            "node_disk_read_bytes_total{device=\"sda\"} 50302268474368\n",
            "node_disk_io_time_weighted_seconds_total{device=\"dm-0\"} 346317.399\n",
            "node_disk_io_now{device=\"sda\"} 2\n",
            "node_disk_discarded_sectors_total{device=\"nvme0n1\"} 4812340021\n",
            "node_disk_flush_requests_time_seconds_total{device=\"sda\"} 5219.842\n",
            // mmcblk partitions are not in node_exporter's default exclude pattern.
            "node_disk_written_bytes_total{device=\"mmcblk0p1\"} 9128624128\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("\"sda1\""));
        assert!(!text.contains("\"loop0\""));
        assert!(!text.contains("rotation_rate_rpm{device=\"sdd\""));
        assert_eq!(text.matches("# TYPE ").count(), 18 + 5);
        let per_disk = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.contains("_info{") && !l.contains("_ata_"))
            .count();
        assert_eq!(
            per_disk,
            17 * 10,
            "17 counters for each of the 10 wanted disks"
        );
    }

    #[test]
    fn udev_tables_name_their_properties() {
        for (_, _, key, labels) in UDEV_INFO {
            assert!(udev::NAMES[key].starts_with("ID_FS_") || udev::NAMES[key].starts_with("DM_"));
            for &(label, i) in labels {
                assert!(udev::NAMES[i].ends_with(&label.to_uppercase()), "{label}");
            }
        }
        for (name, _, i) in ATA {
            let prop = name.trim_start_matches("node_disk_").to_uppercase();
            assert_eq!(udev::NAMES[i], format!("ID_{prop}"));
        }
    }

    #[test]
    fn without_udev_the_labels_are_empty() {
        let mut ctx = crate::collector::fixture_ctx();
        ctx.src = ctx.src.clone().with_udev("/nonexistent-udev".into());
        let mut out = Encoder::new();
        collect(&mut stats(), &mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(text.contains("node_disk_info{device=\"sda\",major=\"8\",minor=\"0\",model=\"\",path=\"\",revision=\"\",serial=\"\",wwn=\"\"} 1\n"));
        assert!(!text.contains("filesystem_info") && !text.contains("_ata_"));
    }

    #[test]
    fn collect_fails_naming_file_and_line() {
        let dir = std::env::temp_dir().join(format!("proctap-diskstats-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("diskstats"),
            "8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n8 1 sda1 1 2\n",
        )
        .unwrap();
        let mut ctx = Ctx::new(Source::new(dir.clone(), dir.clone(), dir.clone()));
        let err = collect(&mut stats(), &mut ctx, &mut Encoder::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:2: expected at least 14 fields, found 5",
                dir.join("diskstats").display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
