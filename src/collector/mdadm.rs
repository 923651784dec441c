//! `mdadm`: Linux software RAID. /proc/mdstat → node_md_disks_required, node_md_disks{state},
//! node_md_state{state}, node_md_blocks, node_md_blocks_synced as node_exporter 1.5 reports
//! them; /sys/block/md*/md/ → node_md_raid_disks and node_md_degraded, which node_exporter
//! added after 1.5.
//!
//! Without the md driver there is no /proc/mdstat: that is no arrays, not an error.
use crate::collector::{Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root, Source};

/// One array of /proc/mdstat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Md<'a> {
    pub name: &'a str,
    /// `active` or `inactive` from the device line, or `recovering`, `resyncing`,
    /// `checking` while a sync runs.
    pub state: &'a str,
    pub disks_active: u64,
    /// The disks the array needs (`[3/2]` → 3).
    pub disks_total: u64,
    pub disks_failed: u64,
    pub disks_spare: u64,
    /// Down (`_`) slots of the `[U_U]` map.
    pub disks_down: u64,
    /// 1 KiB blocks.
    pub blocks: u64,
    pub blocks_synced: u64,
}

/// The arrays of /proc/mdstat (md.c's `md_seq_show`), with procfs 0.8's reading of it, which
/// node_exporter 1.5 uses: a device line `mdN : state [personality] disk[n][(F|S)]...`, then
/// a status line with the size and the `[n/m] [UU_]` map, optionally a `bitmap:` line, and
/// a sync progress line while a resync, recovery or check runs.
pub fn parse_mdstat(text: &str) -> impl Iterator<Item = Result<Md<'_>, ParseError>> {
    let mut lines = text.split('\n').enumerate();
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        loop {
            let (i, line) = lines.next()?;
            if line.trim().is_empty()
                || line.starts_with(' ')
                || line.starts_with("Personalities")
                || line.starts_with("unused")
            {
                continue;
            }
            let r = parse_array(line, i + 1, lines.clone().map(|(_, l)| l));
            failed = r.is_err();
            return Some(r);
        }
    })
}

fn parse_array<'a>(
    line: &'a str,
    n: usize,
    mut after: impl Iterator<Item = &'a str>,
) -> Result<Md<'a>, ParseError> {
    let mut fields = line.split_ascii_whitespace();
    let (Some(name), Some(_colon), Some(mut state)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(ParseError::new(
            n,
            format!("expected `mdN : state ...`, found {line:?}"),
        ));
    };
    let (Some(status), Some(third), Some(fourth)) = (after.next(), after.next(), after.next())
    else {
        return Err(ParseError::new(
            n,
            format!("expected the status lines of {name} after its device line"),
        ));
    };
    let disks_failed = line.matches("(F)").count() as u64;
    let disks_spare = line.matches("(S)").count() as u64;
    let size = status.split_ascii_whitespace().next().unwrap_or("");
    let blocks = u64_at(size, n + 1, "the size in blocks")?;
    let (disks_active, disks_total, disks_down) = if line.contains("raid0")
        || line.contains("linear")
    {
        // Only member disks carry `[n]` on the device line.
        let disks = line.matches('[').count() as u64;
        (disks, disks, 0)
    } else if line.contains("inactive") {
        (0, 0, 0)
    } else {
        disk_map(status).ok_or_else(|| {
            ParseError::new(
                n + 1,
                format!("expected `N blocks ... [total/active] [U_]` for {name}, found {status:?}"),
            )
        })?
    };
    let sync = if third.contains("bitmap") {
        fourth
    } else {
        third
    };
    let mut blocks_synced = blocks;
    let (recovering, resyncing, checking) = (
        sync.contains("recovery"),
        sync.contains("resync"),
        sync.contains("check"),
    );
    if recovering || resyncing || checking {
        state = if recovering {
            "recovering"
        } else if checking {
            "checking"
        } else {
            "resyncing"
        };
        blocks_synced = if sync.contains("PENDING") || sync.contains("DELAYED") {
            0
        } else {
            synced_blocks(sync).ok_or_else(|| {
                ParseError::new(
                    n,
                    format!("expected `(done/total)` in the sync line of {name}, found {sync:?}"),
                )
            })?
        };
    }
    Ok(Md {
        name,
        state,
        disks_active,
        disks_total,
        disks_failed,
        disks_spare,
        disks_down,
        blocks,
        blocks_synced,
    })
}

/// `... blocks ... [3/2] [_UU]` → (active 2, total 3, down 1): the last such pair, as the
/// greedy regex procfs uses finds it.
fn disk_map(status: &str) -> Option<(u64, u64, u64)> {
    let after_blocks = status.find(" blocks ")?;
    let tail = status.get(after_blocks..)?;
    tail.match_indices('[').rev().find_map(|(at, _)| {
        let rest = tail.get(at + 1..)?;
        let (counts, rest) = rest.split_once("] [")?;
        let (total, active) = counts.split_once('/')?;
        let map = rest.split(']').next()?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let well_formed = digits(total)
            && digits(active)
            && !map.is_empty()
            && map.bytes().all(|b| b == b'U' || b == b'_')
            && rest.get(map.len()..)?.starts_with(']');
        if !well_formed {
            return None;
        }
        let down = map.bytes().filter(|&b| b == b'_').count() as u64;
        Some((active.parse().ok()?, total.parse().ok()?, down))
    })
}

/// The `(done/total)` of a progress line such as
/// `[====>...]  resync = 31.5% (330112/1046528) finish=0.8min speed=13204K/sec`.
fn synced_blocks(line: &str) -> Option<u64> {
    line.match_indices('(').find_map(|(at, _)| {
        let (done, rest) = line.get(at + 1..)?.split_once('/')?;
        let total = rest.split(')').next()?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if digits(done) && digits(total) && rest.get(total.len()..)?.starts_with(')') {
            done.parse().ok()
        } else {
            None
        }
    })
}

/// The `node_md_state` series: label and the state that sets it to 1.
const STATES: [(&str, &str); 5] = [
    ("active", "active"),
    ("inactive", "inactive"),
    ("recovering", "recovering"),
    ("resync", "resyncing"),
    ("check", "checking"),
];

/// Levels whose arrays have a `degraded` count in sysfs (md.c `array_state` docs).
const REDUNDANT: [&str; 5] = ["raid1", "raid4", "raid5", "raid6", "raid10"];

pub const COLLECTOR: Collector = Collector::plain(
    "mdadm",
    collect,
    Sources {
        reads: &[
            What::Optional(Root::Proc, "mdstat"),
            What::Dir(Root::Sys, "block"),
        ],
        hint: "software RAID arrays need the md driver (CONFIG_BLK_DEV_MD; modprobe md_mod)",
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    if ctx
        .src
        .read_optional(Root::Proc, &["mdstat"], &mut ctx.buf)?
    {
        write_mdstat(ctx, out)?;
    }
    collect_sysfs(ctx, out)
}

fn write_mdstat(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    let mut any = false;
    for md in parse_mdstat(&ctx.buf) {
        md.map_err(|e| ctx.src.parse_error(e))?;
        any = true;
    }
    if !any {
        return Ok(());
    }
    // The whole file parsed above, so the arrays below are all there are.
    let arrays = || parse_mdstat(&ctx.buf).flatten();
    out.family(
        "node_md_disks_required",
        "Total number of disks of device.",
        Kind::Gauge,
    );
    for md in arrays() {
        out.u64(&[("device", md.name)], md.disks_total);
    }
    out.family(
        "node_md_disks",
        "Number of active/failed/spare disks of device.",
        Kind::Gauge,
    );
    for md in arrays() {
        for (state, n) in [
            ("active", md.disks_active),
            ("failed", md.disks_failed),
            ("spare", md.disks_spare),
        ] {
            out.u64(&[("device", md.name), ("state", state)], n);
        }
    }
    out.family(
        "node_md_state",
        "Indicates the state of md-device.",
        Kind::Gauge,
    );
    for md in arrays() {
        for (label, state) in STATES {
            out.u64(
                &[("device", md.name), ("state", label)],
                u64::from(md.state == state),
            );
        }
    }
    out.family(
        "node_md_blocks",
        "Total number of blocks on device.",
        Kind::Gauge,
    );
    for md in arrays() {
        out.u64(&[("device", md.name)], md.blocks);
    }
    out.family(
        "node_md_blocks_synced",
        "Number of blocks synced on device.",
        Kind::Gauge,
    );
    for md in arrays() {
        out.u64(&[("device", md.name)], md.blocks_synced);
    }
    Ok(())
}

/// /sys/block/md*/md/: raid_disks and, for redundant levels, degraded. A block device whose
/// name starts with `md` but has no `md/` directory is not an array.
fn collect_sysfs(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    if !ctx
        .src
        .list_dir_optional(Root::Sys, &["block"], &mut ctx.names)?
    {
        return Ok(());
    }
    // (raid_disks, degraded) per listed array, in name order.
    ctx.u64s.clear();
    ctx.flags.clear();
    for dev in ctx.names.iter() {
        let is_array = dev.starts_with("md")
            && ctx
                .src
                .read_optional(Root::Sys, &["block/", dev, "/md/level"], &mut ctx.buf)?;
        ctx.flags.push(is_array);
        if !is_array {
            continue;
        }
        let redundant = REDUNDANT.contains(&ctx.buf.trim());
        let raid_disks = read_count(&mut ctx.src, &mut ctx.buf, dev, "raid_disks")?;
        let degraded = if redundant {
            read_count(&mut ctx.src, &mut ctx.buf, dev, "degraded")?
        } else {
            0
        };
        ctx.u64s.push(raid_disks);
        ctx.u64s.push(degraded);
    }
    if ctx.u64s.is_empty() {
        return Ok(());
    }
    let families = [
        ("node_md_raid_disks", "Number of raid disks on device."),
        ("node_md_degraded", "Number of degraded disks on device."),
    ];
    for (k, (name, help)) in families.into_iter().enumerate() {
        out.family(name, help, Kind::Gauge);
        let arrays = ctx.names.iter().zip(&ctx.flags).filter(|(_, a)| **a);
        for (j, (dev, _)) in arrays.enumerate() {
            if let Some(&v) = ctx.u64s.get(2 * j + k) {
                out.u64(&[("device", dev)], v);
            }
        }
    }
    Ok(())
}

fn read_count(src: &mut Source, buf: &mut String, dev: &str, file: &str) -> Result<u64, Error> {
    src.read(Root::Sys, &["block/", dev, "/md/", file], buf)?;
    u64_at(buf.trim(), 1, file).map_err(|e| src.parse_error(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Md<'_>> {
        parse_mdstat(text).map(Result::unwrap).collect()
    }

    fn md<'a>(name: &'a str, state: &'a str, counts: [u64; 5], blocks: [u64; 2]) -> Md<'a> {
        Md {
            name,
            state,
            disks_active: counts[0],
            disks_total: counts[1],
            disks_failed: counts[2],
            disks_spare: counts[3],
            disks_down: counts[4],
            blocks: blocks[0],
            blocks_synced: blocks[1],
        }
    }

    // A NAS, kernel 6.1: a degraded RAID5 (its first disk failed, bitmap line) and a RAID1
    // in the middle of its initial resync. The expected values are node_exporter 1.5's.
    const DEGRADED_AND_RESYNC: &str = "\
Personalities : [raid1] [raid6] [raid5] [raid4] [linear] [multipath] [raid0] [raid10]
md1 : active raid5 sdd1[3] sdc1[1] sdb1[0](F)
      3906762752 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/2] [_UU]
      bitmap: 4/15 pages [16KB], 65536KB chunk

md0 : active raid1 sdb2[1] sda2[0]
      1046528 blocks super 1.2 [2/2] [UU]
      [======>..............]  resync = 31.5% (330112/1046528) finish=0.8min speed=13204K/sec

unused devices: <none>
";

    #[test]
    fn degraded_raid5_and_resyncing_raid1() {
        assert_eq!(
            parse(DEGRADED_AND_RESYNC),
            [
                md("md1", "active", [2, 3, 1, 0, 1], [3906762752, 3906762752]),
                md("md0", "resyncing", [2, 2, 0, 0, 0], [1046528, 330112]),
            ]
        );
    }

    // Odd arrays, each with the values node_exporter 1.5 reports for it: a RAID10 being
    // checked (bitmap first), a recovery onto a spare, a resync waiting its turn, a RAID0
    // and a linear array (no disk map), an inactive array of spares, and a read-only one.
    const ODD: &str = "\
Personalities : [raid1] [raid10] [raid0] [linear] [raid6] [raid5] [raid4]
md3 : active raid10 sde[3] sdd[2] sdc[1] sdb[0]
      1953260544 blocks super 1.2 512K chunks 2 near-copies [4/4] [UUUU]
      bitmap: 1/15 pages [4KB], 65536KB chunk
      [====>................]  check = 22.1% (431783936/1953260544) finish=130.2min speed=194752K/sec

md4 : active raid6 sdj[5] sdi[4](S) sdh[3] sdg[2] sdf[1]
      5860270080 blocks super 1.2 level 6, 512k chunk, algorithm 2 [5/4] [UUUU_]
      [=>...................]  recovery =  9.2% (180253696/1953423360) finish=200.1min speed=147662K/sec

md5 : active raid1 nvme1n1p3[1] nvme0n1p3[0]
      498880512 blocks super 1.2 [2/2] [UU]
      \tresync=DELAYED

md126 : active raid0 sdl[1] sdk[0]
      3906764800 blocks super 1.2 512k chunks

md127 : active linear loop1[1] loop0[0]
      204800 blocks super 1.2 0k rounding

md9 : inactive sdm[0](S) sdn[1](S)
      3906764976 blocks super 1.2

md_d0 : active (auto-read-only) raid1 sdo1[0] sdp1[1]
      1048512 blocks [2/2] [UU]
\x20\x20\x20\x20\x20\x20
unused devices: <none>
";

    #[test]
    fn checks_recoveries_raid0_linear_inactive() {
        assert_eq!(
            parse(ODD),
            [
                md("md3", "checking", [4, 4, 0, 0, 0], [1953260544, 431783936]),
                md(
                    "md4",
                    "recovering",
                    [4, 5, 0, 1, 1],
                    [5860270080, 180253696]
                ),
                md("md5", "resyncing", [2, 2, 0, 0, 0], [498880512, 0]),
                md("md126", "active", [2, 2, 0, 0, 0], [3906764800, 3906764800]),
                md("md127", "active", [2, 2, 0, 0, 0], [204800, 204800]),
                md("md9", "inactive", [0, 0, 0, 2, 0], [3906764976, 3906764976]),
                md("md_d0", "active", [2, 2, 0, 0, 0], [1048512, 1048512]),
            ]
        );
    }

    #[test]
    fn many_disks_and_an_empty_file() {
        let members: Vec<String> = (0..128).map(|i| format!("sd{i}[{i}]")).collect();
        let text = format!(
            "md0 : active raid6 {}\n      1 blocks super 1.2 [128/127] [{}_]\n\n",
            members.join(" "),
            "U".repeat(127)
        );
        let got = parse(&text);
        assert_eq!(
            (got[0].disks_total, got[0].disks_active, got[0].disks_down),
            (128, 127, 1)
        );
        assert!(parse("").is_empty());
        assert!(parse("Personalities : \nunused devices: <none>\n").is_empty());
    }

    #[test]
    fn garbage_is_an_error_naming_the_line() {
        let err = |t| parse_mdstat(t).find_map(Result::err).unwrap().to_string();
        assert_eq!(
            err("Personalities : [raid1]\nmd0 active\n\n\n\n"),
            "line 2: expected `mdN : state ...`, found \"md0 active\""
        );
        assert_eq!(
            err("md0 : active raid1 sda[0]\n      1024 blocks\n"),
            "line 1: expected the status lines of md0 after its device line"
        );
        assert_eq!(
            err("md0 : active raid1 sda[0]\n      lots blocks [2/1] [U_]\n\n\n"),
            "line 2: expected an unsigned integer for the size in blocks, found \"lots\""
        );
        assert!(
            err("md0 : active raid1 sda[0]\n      1024 blocks [2/x] [U_]\n\n\n")
                .starts_with("line 2: expected `N blocks ... [total/active] [U_]` for md0")
        );
        assert!(err(
            "md0 : active raid1 a[0]\n      8 blocks [2/2] [UU]\n   resync = 1% (n/8)\n\n"
        )
        .starts_with("line 1: expected `(done/total)` in the sync line of md0"));
        // After an error the iterator stops.
        assert_eq!(parse_mdstat("x\n\n\n").count(), 1);
    }

    #[test]
    fn disk_maps() {
        assert_eq!(disk_map("1 blocks super 1.2 [2/2] [UU]"), Some((2, 2, 0)));
        assert_eq!(disk_map("1 blocks [3/1] [U__]"), Some((1, 3, 2)));
        assert_eq!(disk_map("1 blocks [3/1] [UxU]"), None);
        assert_eq!(disk_map("[3/1] [U__] without the word"), None);
        assert_eq!(synced_blocks("x (7/8) y"), Some(7));
        assert_eq!(synced_blocks("(a) (7/8)"), Some(7));
        assert_eq!(synced_blocks("(7/8"), None);
    }

    #[test]
    fn collect_fixtures() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        for want in [
            "node_md_disks_required{device=\"md1\"} 3\n",
            "node_md_disks{device=\"md1\",state=\"active\"} 2\n",
            "node_md_disks{device=\"md1\",state=\"failed\"} 1\n",
            "node_md_state{device=\"md0\",state=\"resync\"} 1\n",
            "node_md_state{device=\"md0\",state=\"active\"} 0\n",
            "node_md_blocks_synced{device=\"md0\"} 330112\n",
            "# TYPE node_md_raid_disks gauge\nnode_md_raid_disks{device=\"md0\"} 2\nnode_md_raid_disks{device=\"md1\"} 3\n",
            "# TYPE node_md_degraded gauge\nnode_md_degraded{device=\"md0\"} 0\nnode_md_degraded{device=\"md1\"} 1\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert_eq!(text.matches("# TYPE").count(), 7);
    }

    #[test]
    fn no_md_driver_is_no_arrays() {
        let src =
            crate::source::Source::new("/nonexistent".into(), "/nonexistent".into(), "/".into());
        let mut out = Encoder::new();
        collect(&mut Ctx::new(src), &mut out).unwrap();
        assert!(out.as_bytes().is_empty());
    }
}
