//! `xfs`: /sys/fs/xfs/<device>/stats/stats → node_xfs_*{device}, as node_exporter 1.5 reports
//! them.
//!
//! Each line of a stats file is a label and unsigned 32-bit counters (`xpc` has 64-bit byte
//! counts); node_exporter 1.5 exports 39 of them, from `extent_alloc`, `abt`, `blk_map`, `bmbt`,
//! `dir`, `ig`, `rw` and `vnodes`. As in procfs 0.8, a line it knows with the wrong number of
//! values fails the collector (the kernel's counts are fixed per label; `vnodes` has 7 or 8 and
//! `qm` 8 or 9 across versions), and a line with fewer than two fields is skipped. Labels newer
//! kernels added (`fibt2`, `rmapbt`, `refcntbt`, `defer_relog`, ...) are skipped without looking
//! at their values, where node_exporter 1.5 still requires them to be 32-bit numbers. The
//! directory `stats` beside the devices holds the sum over all filesystems and is not a device.
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::source::{Error, ParseError, Root};

/// The exported counters of one filesystem, in the order of [`FAMILIES`].
pub type Counters = [u64; 39];

/// The labels procfs 0.8 checks: their allowed value counts and where their values go in
/// [`Counters`] (`None`: checked, not exported).
const LINES: &[(&str, &[usize], Option<usize>)] = &[
    ("extent_alloc", &[4], Some(0)),
    ("abt", &[4], Some(4)),
    ("blk_map", &[7], Some(8)),
    ("bmbt", &[4], Some(15)),
    ("dir", &[4], Some(19)),
    ("trans", &[3], None),
    ("ig", &[7], Some(23)),
    ("log", &[5], None),
    ("push_ail", &[10], None),
    ("xstrat", &[2], None),
    ("rw", &[2], Some(30)),
    ("attr", &[4], None),
    ("icluster", &[3], None),
    ("vnodes", &[7, 8], Some(32)),
    ("buf", &[9], None),
    ("xpc", &[3], None),
    ("abtb2", &[15], None),
    ("abtc2", &[15], None),
    ("bmbt2", &[15], None),
    ("ibt2", &[15], None),
    ("qm", &[8, 9], None),
    ("debug", &[1], None),
];

/// Parses one stats file.
pub fn parse_xfs(text: &str) -> Result<Counters, ParseError> {
    let mut c = [0u64; 39];
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let mut fields = line.split_whitespace();
        let Some(label) = fields.next() else { continue };
        let Some(&(_, counts, at)) = LINES.iter().find(|(l, _, _)| *l == label) else {
            continue;
        };
        let mut found = 0;
        for f in fields {
            let v = if label == "xpc" {
                f.parse::<u64>().ok()
            } else {
                f.parse::<u32>().ok().map(u64::from)
            };
            let v = v.ok_or_else(|| {
                let width = if label == "xpc" { 64 } else { 32 };
                ParseError::new(
                    n,
                    format!("expected an unsigned {width}-bit integer in {label:?}, found {f:?}"),
                )
            })?;
            // Only the first 7 of `vnodes` are exported.
            if let Some(slot) = at.and_then(|a| (found < 7).then(|| c.get_mut(a + found)).flatten())
            {
                *slot = v;
            }
            found += 1;
        }
        if found == 0 {
            continue;
        }
        if !counts.contains(&found) {
            return Err(ParseError::new(
                n,
                format!(
                    "expected {} values after {label:?}, found {found}",
                    counts
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ));
        }
    }
    Ok(c)
}

const FAMILIES: [(&str, &str); 39] = [
    (
        "node_xfs_extent_allocation_extents_allocated_total",
        "Number of extents allocated for a filesystem.",
    ),
    (
        "node_xfs_extent_allocation_blocks_allocated_total",
        "Number of blocks allocated for a filesystem.",
    ),
    (
        "node_xfs_extent_allocation_extents_freed_total",
        "Number of extents freed for a filesystem.",
    ),
    (
        "node_xfs_extent_allocation_blocks_freed_total",
        "Number of blocks freed for a filesystem.",
    ),
    (
        "node_xfs_allocation_btree_lookups_total",
        "Number of allocation B-tree lookups for a filesystem.",
    ),
    (
        "node_xfs_allocation_btree_compares_total",
        "Number of allocation B-tree compares for a filesystem.",
    ),
    (
        "node_xfs_allocation_btree_records_inserted_total",
        "Number of allocation B-tree records inserted for a filesystem.",
    ),
    (
        "node_xfs_allocation_btree_records_deleted_total",
        "Number of allocation B-tree records deleted for a filesystem.",
    ),
    (
        "node_xfs_block_mapping_reads_total",
        "Number of block map for read operations for a filesystem.",
    ),
    (
        "node_xfs_block_mapping_writes_total",
        "Number of block map for write operations for a filesystem.",
    ),
    (
        "node_xfs_block_mapping_unmaps_total",
        "Number of block unmaps (deletes) for a filesystem.",
    ),
    (
        "node_xfs_block_mapping_extent_list_insertions_total",
        "Number of extent list insertions for a filesystem.",
    ),
    (
        "node_xfs_block_mapping_extent_list_deletions_total",
        "Number of extent list deletions for a filesystem.",
    ),
    (
        "node_xfs_block_mapping_extent_list_lookups_total",
        "Number of extent list lookups for a filesystem.",
    ),
    (
        "node_xfs_block_mapping_extent_list_compares_total",
        "Number of extent list compares for a filesystem.",
    ),
    (
        "node_xfs_block_map_btree_lookups_total",
        "Number of block map B-tree lookups for a filesystem.",
    ),
    (
        "node_xfs_block_map_btree_compares_total",
        "Number of block map B-tree compares for a filesystem.",
    ),
    (
        "node_xfs_block_map_btree_records_inserted_total",
        "Number of block map B-tree records inserted for a filesystem.",
    ),
    (
        "node_xfs_block_map_btree_records_deleted_total",
        "Number of block map B-tree records deleted for a filesystem.",
    ),
    (
        "node_xfs_directory_operation_lookup_total",
        "Number of file name directory lookups which miss the operating systems directory name lookup cache.",
    ),
    (
        "node_xfs_directory_operation_create_total",
        "Number of times a new directory entry was created for a filesystem.",
    ),
    (
        "node_xfs_directory_operation_remove_total",
        "Number of times an existing directory entry was created for a filesystem.",
    ),
    (
        "node_xfs_directory_operation_getdents_total",
        "Number of times the directory getdents operation was performed for a filesystem.",
    ),
    (
        "node_xfs_inode_operation_attempts_total",
        "Number of times the OS looked for an XFS inode in the inode cache.",
    ),
    (
        "node_xfs_inode_operation_found_total",
        "Number of times the OS looked for and found an XFS inode in the inode cache.",
    ),
    (
        "node_xfs_inode_operation_recycled_total",
        "Number of times the OS found an XFS inode in the cache, but could not use it as it was being recycled.",
    ),
    (
        "node_xfs_inode_operation_missed_total",
        "Number of times the OS looked for an XFS inode in the cache, but did not find it.",
    ),
    (
        "node_xfs_inode_operation_duplicates_total",
        "Number of times the OS tried to add a missing XFS inode to the inode cache, but found it had already been added by another process.",
    ),
    (
        "node_xfs_inode_operation_reclaims_total",
        "Number of times the OS reclaimed an XFS inode from the inode cache to free memory for another purpose.",
    ),
    (
        "node_xfs_inode_operation_attribute_changes_total",
        "Number of times the OS explicitly changed the attributes of an XFS inode.",
    ),
    (
        "node_xfs_write_calls_total",
        "Number of write(2) system calls made to files in a filesystem.",
    ),
    (
        "node_xfs_read_calls_total",
        "Number of read(2) system calls made to files in a filesystem.",
    ),
    (
        "node_xfs_vnode_active_total",
        "Number of vnodes not on free lists for a filesystem.",
    ),
    (
        "node_xfs_vnode_allocate_total",
        "Number of times vn_alloc called for a filesystem.",
    ),
    (
        "node_xfs_vnode_get_total",
        "Number of times vn_get called for a filesystem.",
    ),
    (
        "node_xfs_vnode_hold_total",
        "Number of times vn_hold called for a filesystem.",
    ),
    (
        "node_xfs_vnode_release_total",
        "Number of times vn_rele called for a filesystem.",
    ),
    (
        "node_xfs_vnode_reclaim_total",
        "Number of times vn_reclaim called for a filesystem.",
    ),
    (
        "node_xfs_vnode_remove_total",
        "Number of times vn_remove called for a filesystem.",
    ),
];

pub const COLLECTOR: Collector = Collector {
    name: "xfs",
    enabled_by_default: true,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "fs/xfs")],
        hint: "a mounted XFS filesystem (the xfs module creates /sys/fs/xfs/<device>)",
    },
    build: Build::New(|_| Ok(Box::<Xfs>::default())),
};

/// Every filesystem's counters, kept between scrapes so that a scrape does not allocate.
#[derive(Default)]
pub struct Xfs {
    devices: Vec<Counters>,
}

impl Collect for Xfs {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        if !ctx
            .src
            .list_dir_optional(Root::Sys, &["fs/xfs"], &mut ctx.names)?
        {
            return Ok(());
        }
        self.devices.clear();
        ctx.flags.clear();
        for dev in ctx.names.iter() {
            // `stats` holds the sum over all filesystems (its `stats` is a file, so the
            // `*/stats/stats` node_exporter globs never matches it); skipping it by name saves
            // an error (and its allocation) per scrape.
            if dev == "stats" {
                ctx.flags.push(false);
                continue;
            }
            let rel = ["fs/xfs/", dev, "/stats/stats"];
            // A file beside the device directories (none today) is not a device.
            let found = match ctx.src.read_optional(Root::Sys, &rel, &mut ctx.buf) {
                Err(Error::Io { err, .. }) if err.raw_os_error() == Some(libc::ENOTDIR) => false,
                r => r?,
            };
            ctx.flags.push(found);
            if found {
                let c = parse_xfs(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
                self.devices.push(c);
            }
        }
        for (i, (name, help)) in FAMILIES.iter().enumerate() {
            out.family(name, help, Kind::Counter);
            let present = ctx.names.iter().zip(&ctx.flags).filter(|(_, f)| **f);
            for ((dev, _), c) in present.zip(&self.devices) {
                out.u64(&[("device", dev)], c.get(i).copied().unwrap_or(0));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xfs_kernel_6_1() {
        let text = "\
extent_alloc 92447 97589 92448 93751
abt 0 0 0 0
blk_map 1767055 188820 184891 92447 92448 2140766 0
bmbt 0 0 0 0
dir 185039 92447 92444 136422
trans 706 944304 0
ig 185045 58807 0 126238 0 33637 22
log 2883 113448 9 17360 739
push_ail 945014 0 134260 15483 0 3940 464 159985 0 40
xstrat 92447 0
rw 107739 94045
attr 4 0 0 0
icluster 8677 7849 135802
vnodes 92601 0 0 0 92444 92444 92444 0
buf 2666287 7122 2659202 3599 2 7085 0 10297 7085
abtb2 184941 1277345 13257 13278 0 0 0 0 0 0 0 0 0 0 2746147
abtc2 345295 2416764 172637 172658 0 0 0 0 0 0 0 0 0 0 21406023
bmbt2 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
ibt2 343004 1358467 0 0 0 0 0 0 0 0 0 0 0 0 0
fibt2 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
rmapbt 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
refcntbt 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
qm 0 0 0 0 0 0 0 0
xpc 399724544 92823103 86219234
defer_relog 0
debug 0
";
        let c = parse_xfs(text).unwrap();
        assert_eq!(&c[..4], [92447, 97589, 92448, 93751]);
        assert_eq!(
            &c[8..15],
            [1767055, 188820, 184891, 92447, 92448, 2140766, 0]
        );
        assert_eq!(&c[23..30], [185045, 58807, 0, 126238, 0, 33637, 22]);
        assert_eq!(&c[30..32], [107739, 94045], "rw is write, then read");
        assert_eq!(&c[32..], [92601, 0, 0, 0, 92444, 92444, 92444]);
    }

    #[test]
    fn xfs_old_kernel_seven_vnodes_and_nine_qm() {
        let c =
            parse_xfs("vnodes 36 1 2 3 4 5 6\nqm 0 0 0 0 0 0 0 0 0\nrw 4294967295 1\n").unwrap();
        assert_eq!(&c[30..], [4294967295, 1, 36, 1, 2, 3, 4, 5, 6]);
        assert_eq!(parse_xfs(""), Ok([0; 39]));
        assert_eq!(
            parse_xfs("abt\n\nrtrmapbt 99999999999 x\n"),
            Ok([0; 39]),
            "lines with no values and unknown labels are skipped"
        );
    }

    #[test]
    fn xfs_garbage() {
        let e = |t: &str| parse_xfs(t).unwrap_err().to_string();
        assert_eq!(
            e("dir 1 2 3\n"),
            "line 1: expected 4 values after \"dir\", found 3"
        );
        assert_eq!(
            e("trans 1 2 3\nvnodes 1 2 3\n"),
            "line 2: expected 7 or 8 values after \"vnodes\", found 3"
        );
        assert_eq!(
            e("rw 4294967296 0\n"),
            "line 1: expected an unsigned 32-bit integer in \"rw\", found \"4294967296\""
        );
        assert_eq!(
            e("xpc 1 -2 3\n"),
            "line 1: expected an unsigned 64-bit integer in \"xpc\", found \"-2\""
        );
        assert!(parse_xfs("xpc 18446744073709551615 0 0\n").is_ok());
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        let mut x = Xfs::default();
        for _ in 0..2 {
            out.clear();
            x.collect(&mut ctx, &mut out).unwrap();
        }
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        for line in [
            "node_xfs_read_calls_total{device=\"sdb1\"} 94045\n",
            "node_xfs_read_calls_total{device=\"dm-3\"} 1024\n",
            "node_xfs_write_calls_total{device=\"dm-3\"} 4294967295\n",
            "node_xfs_vnode_remove_total{device=\"sdb1\"} 92444\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(
            !text.contains("device=\"stats\""),
            "the global file is not a device"
        );
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 78);
    }
}
