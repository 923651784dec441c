//! `tapestats` (feature `server`; on by default as in node_exporter): the I/O statistics of
//! each SCSI tape drive, /sys/class/scsi_tape/st<N>/stats/ → node_tape_*{device}, as
//! node_exporter 1.5 reports them. Only `st<N>` entries are drives; the kernel's other names
//! for the same drive (`nst0`, `st0a`, `nst0l`: rewind and mode variants) are left out.
//! `--collector.tapestats.ignored-devices` leaves out drives by name. Every one of the ten
//! files must be there and hold an unsigned integer; times are nanoseconds. No
//! /sys/class/scsi_tape is no series and success.
use crate::collector::btrfs::Slots;
use crate::collector::edac::{count, entry_number};
use crate::collector::{Build, Collect, Collector, Ctx, Pattern, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::flag::{CliError, Flag, Kind as FlagKind, Settings};
use crate::source::{Error, NameList, Root};

/// stats/ files: (file, metric name after `node_tape_`, help). The `_ns` ones are seconds.
#[rustfmt::skip]
const STATS: [(&str, &str, &str); 10] = [
    ("in_flight", "io_now", "The number of I/Os currently outstanding to this device."),
    ("io_ns", "io_time_seconds_total", "The amount of time spent waiting for all I/O to complete (including read and write). This includes tape movement commands such as seeking between file or set marks and implicit tape movement such as when rewind on close tape devices are used."),
    ("other_cnt", "io_others_total", "The number of I/Os issued to the tape drive other than read or write commands. The time taken to complete these commands uses the following calculation io_time_seconds_total-read_time_seconds_total-write_time_seconds_total"),
    ("read_byte_cnt", "read_bytes_total", "The number of bytes read from the tape drive."),
    ("read_cnt", "reads_completed_total", "The number of read requests issued to the tape drive."),
    ("read_ns", "read_time_seconds_total", "The amount of time spent waiting for read requests to complete."),
    ("resid_cnt", "residual_total", "The number of times during a read or write we found the residual amount to be non-zero. This should mean that a program is issuing a read larger thean the block size on tape. For write not all data made it to tape."),
    ("write_byte_cnt", "written_bytes_total", "The number of bytes written to the tape drive."),
    ("write_cnt", "writes_completed_total", "The number of write requests issued to the tape drive."),
    ("write_ns", "write_time_seconds_total", "The amount of time spent waiting for write requests to complete."),
];

/// Whether a /sys/class/scsi_tape entry is a drive (`st` and digits only).
pub fn is_drive(name: &str) -> bool {
    entry_number(name, "st").is_some_and(|n| n.len() + 2 == name.len())
}

#[derive(Default)]
struct Drive {
    name: String,
    stats: [u64; 10],
}

pub const COLLECTOR: Collector = Collector {
    name: "tapestats",
    enabled_by_default: true,
    flags: &[Flag::new(
        "collector.tapestats.ignored-devices",
        FlagKind::Regex,
        "RE",
        "^$",
        "Tape drives (st0, ...) the tapestats collector ignores.",
    )],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "class/scsi_tape")],
        hint: "a SCSI tape drive and the st driver (kernel 4.19 or later for stats/)",
    },
    build: Build::New(|s| Ok(Box::new(Tapestats::new(s)?))),
};

pub struct Tapestats {
    ignored: Pattern,
    drives: Slots<Drive>,
    names: NameList,
}

impl Tapestats {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<Tapestats, CliError> {
        Ok(Tapestats {
            ignored: Pattern::new(s.regex("collector.tapestats.ignored-devices")?),
            drives: Slots::default(),
            names: NameList::default(),
        })
    }
}

impl Collect for Tapestats {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        const DIR: &str = "class/scsi_tape/";
        if !ctx
            .src
            .list_dir_optional(Root::Sys, &[DIR], &mut self.names)?
        {
            return Ok(());
        }
        self.drives.clear();
        let (src, buf) = (&mut ctx.src, &mut ctx.buf);
        for name in self.names.iter() {
            if !is_drive(name) || self.ignored.is_match(name) {
                continue;
            }
            let d = self.drives.next();
            d.name.clear();
            d.name.push_str(name);
            for (v, (file, _, _)) in d.stats.iter_mut().zip(STATS) {
                *v = count(src, &[DIR, name, "/stats/", file], buf)?;
            }
        }
        for (k, (file, name, help)) in STATS.iter().enumerate() {
            if self.drives.is_empty() {
                break;
            }
            let kind = if k == 0 { Kind::Gauge } else { Kind::Counter };
            out.family_parts(&["node_tape_", name], help, kind);
            for d in self.drives.iter() {
                let v = d.stats.get(k).copied().unwrap_or(0);
                let labels = [("device", d.name.as_str())];
                if file.ends_with("_ns") {
                    out.f64(&labels, v as f64 * 1e-9);
                } else {
                    out.u64(&labels, v);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drive_names() {
        assert!(is_drive("st0"));
        assert!(is_drive("st127"));
        assert!(!is_drive("nst0"));
        assert!(!is_drive("st0a"));
        assert!(!is_drive("st"));
        assert!(!is_drive("stx"));
    }

    fn collect(ignored: &str) -> String {
        let mut t = Tapestats::new(&crate::collector::default_settings()).unwrap();
        t.ignored = Pattern::new(regex_lite::Regex::new(ignored).unwrap());
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        for _ in 0..2 {
            out.clear();
            t.collect(&mut ctx, &mut out).unwrap();
        }
        String::from_utf8(out.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn collect_fixture() {
        let text = collect("^$");
        for line in [
            "node_tape_io_now{device=\"st0\"} 1\n",
            "node_tape_io_time_seconds_total{device=\"st0\"} 9876.543210123\n",
            "node_tape_written_bytes_total{device=\"st0\"} 1099511627776\n",
            "node_tape_writes_completed_total{device=\"st1\"} 82060\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(!text.contains("nst0") && !text.contains("st0a"), "{text}");
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 20);
        let text = collect("^st1$");
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 10);
        assert!(collect("^st").is_empty());
    }

    #[test]
    fn garbage_fails_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("proctap-tape-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let stats = dir.join("sys/class/scsi_tape/st0/stats");
        std::fs::create_dir_all(&stats).unwrap();
        for (f, _, _) in STATS {
            std::fs::write(stats.join(f), "3\n").unwrap();
        }
        std::fs::write(stats.join("read_ns"), "-3\n").unwrap();
        let mut ctx = crate::collector::Ctx::new(crate::source::Source::new(
            dir.join("proc"),
            dir.join("sys"),
            dir.clone(),
        ));
        let mut t = Tapestats::new(&crate::collector::default_settings()).unwrap();
        let err = t.collect(&mut ctx, &mut Encoder::new()).unwrap_err();
        assert!(err.to_string().contains("st0/stats/read_ns"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
