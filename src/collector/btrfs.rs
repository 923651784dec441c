//! `btrfs`: /sys/fs/btrfs/<uuid>/ → node_btrfs_*, as node_exporter 1.5 reports them, plus the
//! commit statistics newer node_exporter releases export; for mounted filesystems, the device
//! statistics of the btrfs ioctls.
//!
//! What sysfs shows (any filesystem the kernel knows, mounted or not): the label, the global
//! reserve, per block group type (data, metadata, system) the reserved bytes and per profile
//! (`single`, `dup`, `raid1`, ...: the subdirectories) the used and allocated bytes, and the
//! size of each device (`devices/<name>/size`, in 512-byte sectors). As in procfs 0.8, a missing
//! value file is 0 and a missing `devices` or `allocation/<type>` directory fails the collector;
//! unlike it, a value that is not a number fails the collector instead of reading as 0. The
//! allocation ratio is procfs 0.8's: 1 for single and raid0, 2 for dup, raid1 and raid10,
//! n/(n-1) and n/(n-2) for raid5 and raid6 over n devices, 0 otherwise (raid1c3, raid1c4).
//!
//! What needs the mounted filesystem: for each btrfs mount in /proc/1/mounts (or /proc/mounts),
//! the mount point under --path.rootfs is opened and asked with BTRFS_IOC_FS_INFO,
//! BTRFS_IOC_DEV_INFO and BTRFS_IOC_GET_DEV_STATS for each device's size, used bytes, device UUID
//! and error counters. When that works, node_exporter labels device_size_bytes with the device's
//! name from its path and its `btrfs_dev_uuid`, and adds device_unused_bytes and
//! device_errors_total; proctap does the same. When it does not (not mounted, not visible under
//! --path.rootfs, or a fixture tree), the sysfs sizes are reported, as node_exporter does.
use std::fs::File;
use std::os::fd::AsRawFd;

use crate::collector::filesystem::{parse_mounts, unescape_into};
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind, Label};
use crate::source::{Error, NameList, ParseError, Root, Source};

/// A list whose items are kept between scrapes (their strings and vectors keep their
/// capacity), so that refilling it every scrape does not allocate.
#[derive(Default)]
pub struct Slots<T> {
    items: Vec<T>,
    len: usize,
}

impl<T: Default> Slots<T> {
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The next item, as it was left by an earlier scrape: the caller resets what it uses.
    pub fn next(&mut self) -> &mut T {
        if self.len == self.items.len() {
            self.items.push(T::default());
        }
        self.len += 1;
        // At least `len` items exist: the push above made sure.
        &mut self.items[self.len - 1]
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter().take(self.len)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Calls `f` on the items from index `first` on.
    pub fn for_each_from(&mut self, first: usize, f: impl FnMut(&mut T)) {
        self.items.iter_mut().take(self.len).skip(first).for_each(f);
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.items.get(i).filter(|_| i < self.len)
    }
}

const TYPES: [&str; 3] = ["data", "metadata", "system"];

#[derive(Default)]
struct Layout {
    /// Index into [`TYPES`].
    kind: usize,
    mode: String,
    used: u64,
    total: u64,
    ratio: f64,
}

#[derive(Default)]
struct Device {
    name: String,
    /// From sysfs, in bytes.
    size: u64,
}

/// A device as the ioctls describe it.
#[derive(Default)]
struct IoctlDevice {
    name: String,
    uuid: String,
    total: u64,
    used: u64,
    /// write, read, flush, corruption, generation
    errors: [u64; 5],
}

const ERROR_TYPES: [&str; 5] = ["write", "read", "flush", "corruption", "generation"];

#[derive(Default)]
struct Fs {
    uuid: String,
    label: String,
    global_rsv_size: u64,
    reserved: [u64; 3],
    layouts: Slots<Layout>,
    devices: Slots<Device>,
    /// commits, last, max and total commit time in ms, when `commit_stats` exists.
    commits: Option<[u64; 4]>,
    /// The ioctl view, when the filesystem is mounted and answered.
    ioctl: Option<Slots<IoctlDevice>>,
    /// The filesystem UUID without dashes, as BTRFS_IOC_FS_INFO gives it.
    fsid: String,
}

/// procfs 0.8's allocation ratio of a profile over `devices` devices.
pub fn ratio(mode: &str, devices: usize) -> f64 {
    let n = devices as f64;
    match mode {
        "single" | "raid0" => 1.0,
        "dup" | "raid1" | "raid10" => 2.0,
        "raid5" => n / (n - 1.0),
        "raid6" => n / (n - 2.0),
        _ => 0.0,
    }
}

/// A sysfs value: trimmed text as an unsigned integer.
pub fn parse_value(text: &str) -> Result<u64, ParseError> {
    let t = text.trim();
    t.parse::<u64>()
        .map_err(|_| ParseError::new(1, format!("expected an unsigned integer, found {t:?}")))
}

/// `commit_stats` (Linux 6.0+): `commits N`, `last_commit_ms N`, `max_commit_ms N`,
/// `total_commit_ms N`, in any order; other lines are skipped.
pub fn parse_commit_stats(text: &str) -> Result<[u64; 4], ParseError> {
    const KEYS: [&str; 4] = [
        "commits",
        "last_commit_ms",
        "max_commit_ms",
        "total_commit_ms",
    ];
    let mut v = [0u64; 4];
    for (i, line) in text.lines().enumerate() {
        let mut f = line.split_whitespace();
        let (Some(key), value) = (f.next(), f.next()) else {
            continue;
        };
        if let Some(k) = KEYS.iter().position(|k| *k == key) {
            let value = value.unwrap_or("");
            v[k] = crate::parse::u64_at(value, i + 1, key)?;
        }
    }
    Ok(v)
}

/// Reads `rel` as a value: 0 when the file is missing.
fn read_value(src: &mut Source, rel: &[&str], buf: &mut String) -> Result<u64, Error> {
    if !src.read_optional(Root::Sys, rel, buf)? {
        return Ok(0);
    }
    parse_value(buf).map_err(|e| src.parse_error(e))
}

/// Reads `rel` trimmed into `out`: empty when the file is missing.
fn read_text(
    src: &mut Source,
    rel: &[&str],
    buf: &mut String,
    out: &mut String,
) -> Result<(), Error> {
    out.clear();
    if src.read_optional(Root::Sys, rel, buf)? {
        out.push_str(buf.trim());
    }
    Ok(())
}

pub const COLLECTOR: Collector = Collector {
    name: "btrfs",
    enabled_by_default: true,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[
            What::Dir(Root::Sys, "fs/btrfs"),
            What::Optional(Root::Proc, "1/mounts"),
        ],
        hint: "a btrfs filesystem (the btrfs module creates /sys/fs/btrfs/<uuid>); device errors need it mounted and its mount point visible under --path.rootfs",
    },
    build: Build::New(|_| Ok(Box::<Btrfs>::default())),
};

#[derive(Default)]
pub struct Btrfs {
    names: NameList,
    sub: NameList,
    fs: Slots<Fs>,
    path: String,
}

impl Collect for Btrfs {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        if !ctx
            .src
            .list_dir_optional(Root::Sys, &["fs/btrfs"], &mut self.names)?
        {
            return Ok(());
        }
        self.fs.clear();
        for dir in self.names.iter() {
            // The UUID directories; `features` beside them is the kernel's feature list.
            if !dir.contains('-') {
                continue;
            }
            let fs = self.fs.next();
            read_fs(&mut ctx.src, dir, fs, &mut self.sub, &mut ctx.buf)?;
        }
        if self.fs.is_empty() {
            return Ok(());
        }
        self.ioctl_stats(ctx);
        write(&self.fs, out);
        Ok(())
    }
}

fn read_fs(
    src: &mut Source,
    dir: &str,
    fs: &mut Fs,
    sub: &mut NameList,
    buf: &mut String,
) -> Result<(), Error> {
    let base = "fs/btrfs/";
    src.list_dir(Root::Sys, &[base, dir, "/devices"], sub)?;
    fs.devices.clear();
    for name in sub.iter() {
        let sectors = read_value(src, &[base, dir, "/devices/", name, "/size"], buf)?;
        let d = fs.devices.next();
        d.name.clear();
        d.name.push_str(name);
        d.size = sectors.saturating_mul(512);
    }
    let n_devices = fs.devices.iter().count();
    let mut label = std::mem::take(&mut fs.label);
    read_text(src, &[base, dir, "/label"], buf, &mut label)?;
    fs.label = label;
    let mut uuid = std::mem::take(&mut fs.uuid);
    read_text(src, &[base, dir, "/metadata_uuid"], buf, &mut uuid)?;
    if uuid.is_empty() {
        uuid.push_str(dir);
    }
    fs.uuid = uuid;
    fs.fsid.clear();
    fs.fsid.extend(fs.uuid.chars().filter(|c| *c != '-'));
    fs.ioctl = fs.ioctl.take().map(|mut s| {
        s.clear();
        s
    });
    fs.global_rsv_size = read_value(src, &[base, dir, "/allocation/global_rsv_size"], buf)?;
    fs.layouts.clear();
    for (kind, t) in TYPES.iter().enumerate() {
        fs.reserved[kind] =
            read_value(src, &[base, dir, "/allocation/", t, "/bytes_reserved"], buf)?;
        src.list_dir(Root::Sys, &[base, dir, "/allocation/", t], sub)?;
        for mode in sub.iter() {
            let is_dir = std::fs::symlink_metadata(
                src.path(Root::Sys, &[base, dir, "/allocation/", t, "/", mode]),
            )
            .is_ok_and(|m| m.is_dir());
            if !is_dir {
                continue;
            }
            let total = read_value(
                src,
                &[base, dir, "/allocation/", t, "/", mode, "/total_bytes"],
                buf,
            )?;
            let used = read_value(
                src,
                &[base, dir, "/allocation/", t, "/", mode, "/used_bytes"],
                buf,
            )?;
            let l = fs.layouts.next();
            l.kind = kind;
            l.mode.clear();
            l.mode.push_str(mode);
            l.total = total;
            l.used = used;
            l.ratio = ratio(mode, n_devices);
        }
    }
    fs.commits = if src.read_optional(Root::Sys, &[base, dir, "/commit_stats"], buf)? {
        Some(parse_commit_stats(buf).map_err(|e| src.parse_error(e))?)
    } else {
        None
    };
    Ok(())
}

impl Btrfs {
    /// Fills `Fs::ioctl` for the filesystems mounted and visible under the rootfs. Failures are
    /// not errors: the sysfs view is reported instead, as node_exporter does.
    fn ioctl_stats(&mut self, ctx: &mut Ctx) {
        let found = match ctx
            .src
            .read_optional(Root::Proc, &["1/mounts"], &mut ctx.buf)
        {
            Ok(true) => true,
            _ => matches!(
                ctx.src.read_optional(Root::Proc, &["mounts"], &mut ctx.buf),
                Ok(true)
            ),
        };
        if !found {
            return;
        }
        let rootfs = ctx.src.rootfs.to_string_lossy();
        for mount in parse_mounts(&ctx.buf).flatten() {
            if mount.fstype != "btrfs" {
                continue;
            }
            self.path.clear();
            self.path.push_str(rootfs.trim_end_matches('/'));
            unescape_into(mount.mount_point, &mut self.path);
            let Ok(dir) = File::open(&self.path) else {
                continue;
            };
            let mut fsid = [0u8; 16];
            let Ok((max_id, num_devices)) = fs_info(&dir, &mut fsid) else {
                continue;
            };
            let mut hex = [0u8; 32];
            let fsid = hex_of(&fsid, &mut hex);
            let Some(fs) = self
                .fs
                .items
                .iter_mut()
                .take(self.fs.len)
                .find(|f| f.fsid == fsid)
            else {
                continue;
            };
            if fs.ioctl.as_ref().is_some_and(|d| d.iter().next().is_some()) {
                continue; // the same filesystem at another mount point
            }
            let devs = fs.ioctl.get_or_insert_with(Slots::default);
            devs.clear();
            if devices(&dir, max_id, num_devices, devs).is_err() {
                devs.clear();
            }
        }
    }
}

/// Lowercase hex of 16 bytes into `out`.
fn hex_of<'a>(bytes: &[u8; 16], out: &'a mut [u8; 32]) -> &'a str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    std::str::from_utf8(out).unwrap_or("")
}

/// A device UUID as `8-4-4-4-12` lowercase hex.
fn uuid_text(bytes: &[u8], out: &mut String) {
    out.clear();
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(b"0123456789abcdef"[(b >> 4) as usize]));
        out.push(char::from(b"0123456789abcdef"[(b & 15) as usize]));
    }
}

/// The ioctl request number: Linux's `_IOC(dir, 0x94, nr, size)`.
const fn ioc(read: bool, write: bool, nr: u64, size: u64) -> u64 {
    // MIPS and PowerPC encode the direction in three bits from bit 29, and the size in 13.
    #[cfg(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "powerpc",
        target_arch = "powerpc64"
    ))]
    let (r, w, dir_shift) = (2u64, 4u64, 29);
    #[cfg(not(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "powerpc",
        target_arch = "powerpc64"
    )))]
    let (r, w, dir_shift) = (2u64, 1u64, 30);
    let dir = (if read { r } else { 0 }) | (if write { w } else { 0 });
    (dir << dir_shift) | (size << 16) | (0x94 << 8) | nr
}

const FS_INFO_SIZE: usize = 1024;
const DEV_INFO_SIZE: usize = 4096;
const DEV_STATS_SIZE: usize = 1032;
const IOC_FS_INFO: u64 = ioc(true, false, 31, FS_INFO_SIZE as u64);
const IOC_DEV_INFO: u64 = ioc(true, true, 30, DEV_INFO_SIZE as u64);
const IOC_GET_DEV_STATS: u64 = ioc(true, true, 52, DEV_STATS_SIZE as u64);
const ENODEV: i32 = 19;

/// The 8-byte-aligned argument buffers of the ioctls.
#[repr(C, align(8))]
struct Arg<const N: usize>([u8; N]);

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        w.copy_from_slice(s);
    }
    u64::from_ne_bytes(w)
}

fn call<const N: usize>(dir: &File, req: u64, arg: &mut Arg<N>) -> Result<(), i32> {
    // SAFETY: `arg` is a buffer of exactly the size encoded in `req`, which the kernel reads
    // and writes within; the descriptor is open.
    let r = unsafe { libc::ioctl(dir.as_raw_fd(), req as _, arg.0.as_mut_ptr()) };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(())
    }
}

/// BTRFS_IOC_FS_INFO: (max_id, num_devices), and the fsid.
fn fs_info(dir: &File, fsid: &mut [u8; 16]) -> Result<(u64, u64), i32> {
    let mut a = Arg([0u8; FS_INFO_SIZE]);
    call(dir, IOC_FS_INFO, &mut a)?;
    if let Some(f) = a.0.get(16..32) {
        fsid.copy_from_slice(f);
    }
    Ok((u64_at(&a.0, 0), u64_at(&a.0, 8)))
}

/// Every device of the filesystem: BTRFS_IOC_DEV_INFO and BTRFS_IOC_GET_DEV_STATS for the ids up
/// to `max_id` (ids are not contiguous: ENODEV is a gap), stopping at `num_devices`.
fn devices(
    dir: &File,
    max_id: u64,
    num_devices: u64,
    out: &mut Slots<IoctlDevice>,
) -> Result<(), i32> {
    let mut info = Arg([0u8; DEV_INFO_SIZE]);
    let mut stats = Arg([0u8; DEV_STATS_SIZE]);
    let mut n = 0;
    for id in 0..=max_id.min(1 << 16) {
        info.0.fill(0);
        info.0[..8].copy_from_slice(&id.to_ne_bytes());
        match call(dir, IOC_DEV_INFO, &mut info) {
            Err(ENODEV) => continue,
            r => r?,
        }
        stats.0.fill(0);
        stats.0[..8].copy_from_slice(&id.to_ne_bytes());
        stats.0[8..16].copy_from_slice(&5u64.to_ne_bytes());
        call(dir, IOC_GET_DEV_STATS, &mut stats)?;
        let d = out.next();
        let path = info.0.get(3072..).unwrap_or(&[]);
        let path = path.split(|&b| b == 0).next().unwrap_or(&[]);
        let base = path.rsplit(|&b| b == b'/').next().unwrap_or(&[]);
        d.name.clear();
        d.name.push_str(&String::from_utf8_lossy(base));
        uuid_text(info.0.get(8..24).unwrap_or(&[]), &mut d.uuid);
        d.used = u64_at(&info.0, 24);
        d.total = u64_at(&info.0, 32);
        for (k, e) in d.errors.iter_mut().enumerate() {
            *e = u64_at(&stats.0, 24 + 8 * k);
        }
        n += 1;
        if n == num_devices {
            break;
        }
    }
    Ok(())
}

/// A family of profiles: name, help, how to write one sample.
type LayoutFamily = (
    &'static str,
    &'static str,
    fn(&Layout, &[Label], &mut Encoder),
);

fn write(all: &Slots<Fs>, out: &mut Encoder) {
    let g = Kind::Gauge;
    out.family("node_btrfs_info", "Filesystem information", g);
    for fs in all.iter() {
        out.u64(&[("label", &fs.label), ("uuid", &fs.uuid)], 1);
    }
    out.family(
        "node_btrfs_global_rsv_size_bytes",
        "Size of global reserve.",
        g,
    );
    for fs in all.iter() {
        out.u64(&[("uuid", &fs.uuid)], fs.global_rsv_size);
    }
    out.family(
        "node_btrfs_reserved_bytes",
        "Amount of space reserved for a data type",
        g,
    );
    for fs in all.iter() {
        for (t, v) in TYPES.iter().zip(fs.reserved) {
            out.u64(&[("block_group_type", t), ("uuid", &fs.uuid)], v);
        }
    }
    let layouts: [LayoutFamily; 3] = [
        (
            "node_btrfs_used_bytes",
            "Amount of used space by a layout/data type",
            |l, labels, out| out.u64(labels, l.used),
        ),
        (
            "node_btrfs_size_bytes",
            "Amount of space allocated for a layout/data type",
            |l, labels, out| out.u64(labels, l.total),
        ),
        (
            "node_btrfs_allocation_ratio",
            "Data allocation ratio for a layout/data type",
            |l, labels, out| out.f64(labels, l.ratio),
        ),
    ];
    for (name, help, sample) in layouts {
        out.family(name, help, g);
        for fs in all.iter() {
            for l in fs.layouts.iter() {
                let kind = TYPES.get(l.kind).copied().unwrap_or("");
                let labels = [
                    ("block_group_type", kind),
                    ("mode", &l.mode),
                    ("uuid", &fs.uuid),
                ];
                sample(l, &labels, out);
            }
        }
    }
    out.family(
        "node_btrfs_device_size_bytes",
        "Size of a device that is part of the filesystem.",
        g,
    );
    for fs in all.iter() {
        match &fs.ioctl {
            Some(devs) if devs.iter().next().is_some() => {
                for d in devs.iter() {
                    out.u64(
                        &[
                            ("btrfs_dev_uuid", &d.uuid),
                            ("device", &d.name),
                            ("uuid", &fs.uuid),
                        ],
                        d.total,
                    );
                }
            }
            _ => {
                for d in fs.devices.iter() {
                    out.u64(&[("device", &d.name), ("uuid", &fs.uuid)], d.size);
                }
            }
        }
    }
    let mounted = || {
        all.iter()
            .filter_map(|fs| fs.ioctl.as_ref().map(|d| (fs, d)))
            .filter(|(_, d)| d.iter().next().is_some())
    };
    if mounted().next().is_some() {
        out.family(
            "node_btrfs_device_unused_bytes",
            "Unused bytes unused on a device that is part of the filesystem.",
            g,
        );
        for (fs, devs) in mounted() {
            for d in devs.iter() {
                out.u64(
                    &[
                        ("btrfs_dev_uuid", &d.uuid),
                        ("device", &d.name),
                        ("uuid", &fs.uuid),
                    ],
                    d.total.saturating_sub(d.used),
                );
            }
        }
        out.family(
            "node_btrfs_device_errors_total",
            "Errors reported for the device",
            Kind::Counter,
        );
        for (fs, devs) in mounted() {
            for d in devs.iter() {
                for (t, v) in ERROR_TYPES.iter().zip(d.errors) {
                    out.u64(
                        &[
                            ("btrfs_dev_uuid", &d.uuid),
                            ("device", &d.name),
                            ("type", t),
                            ("uuid", &fs.uuid),
                        ],
                        v,
                    );
                }
            }
        }
    }
    // Newer node_exporter releases (procfs 0.13+) read commit_stats (Linux 6.0+).
    let with_commits = || all.iter().filter_map(|fs| fs.commits.map(|c| (fs, c)));
    if with_commits().next().is_none() {
        return;
    }
    let commits: [(&str, &str, Kind, usize); 4] = [
        (
            "node_btrfs_commits_total",
            "The total number of commits that have occurred.",
            Kind::Counter,
            0,
        ),
        (
            "node_btrfs_last_commit_seconds",
            "Duration of the most recent commit, in seconds.",
            g,
            1,
        ),
        (
            "node_btrfs_max_commit_seconds",
            "Duration of the slowest commit, in seconds.",
            g,
            2,
        ),
        (
            "node_btrfs_commit_seconds_total",
            "Sum of the duration of all commits, in seconds.",
            Kind::Counter,
            3,
        ),
    ];
    for (name, help, kind, i) in commits {
        out.family(name, help, kind);
        for (fs, c) in with_commits() {
            let v = c[i];
            if i == 0 {
                out.u64(&[("uuid", &fs.uuid)], v);
            } else {
                out.f64(&[("uuid", &fs.uuid)], v as f64 / 1000.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_as_procfs() {
        assert_eq!(ratio("single", 1), 1.0);
        assert_eq!(ratio("raid10", 4), 2.0);
        assert_eq!(ratio("raid5", 3), 1.5);
        assert_eq!(ratio("raid6", 4), 2.0);
        assert_eq!(ratio("raid1c3", 3), 0.0);
    }

    #[test]
    fn values_and_commit_stats() {
        assert_eq!(parse_value("4096\n"), Ok(4096));
        assert_eq!(
            parse_value("4k\n").unwrap_err().to_string(),
            "line 1: expected an unsigned integer, found \"4k\""
        );
        let text =
            "commits 48213\nlast_commit_ms 37\nmax_commit_ms 2310\ntotal_commit_ms 1962214\n";
        assert_eq!(parse_commit_stats(text), Ok([48213, 37, 2310, 1962214]));
        assert_eq!(parse_commit_stats("future_ms 3\n\n"), Ok([0; 4]));
        assert_eq!(
            parse_commit_stats("commits -1\n").unwrap_err().to_string(),
            "line 1: expected an unsigned integer for commits, found \"-1\""
        );
        assert!(parse_commit_stats("commits\n").is_err());
    }

    #[test]
    fn ioctl_numbers_are_linux_uapi() {
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(IOC_FS_INFO, 0x8400_941f);
            assert_eq!(IOC_DEV_INFO, 0xd000_941e);
            assert_eq!(IOC_GET_DEV_STATS, 0xc408_9434);
        }
        let mut s = String::new();
        uuid_text(&[0xab; 16], &mut s);
        assert_eq!(s, "abababab-abab-abab-abab-abababababab");
        let mut hex = [0u8; 32];
        assert_eq!(hex_of(&[0x0f; 16], &mut hex), "0f".repeat(16));
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        let mut b = Btrfs::default();
        for _ in 0..2 {
            out.clear();
            b.collect(&mut ctx, &mut out).unwrap();
        }
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        let a = "uuid=\"7f1c4a6e-2a7b-4e0b-9a51-3c8d2f6e1b0a\"";
        for line in [
            format!("node_btrfs_info{{label=\"data-mirror\",{a}}} 1\n"),
            format!("node_btrfs_device_size_bytes{{device=\"sdc\",{a}}} 2000398934016\n"),
            format!("node_btrfs_allocation_ratio{{block_group_type=\"metadata\",mode=\"raid1\",{a}}} 2\n"),
            format!("node_btrfs_used_bytes{{block_group_type=\"data\",mode=\"raid1\",{a}}} 1689876180992\n"),
            format!("node_btrfs_commit_seconds_total{{{a}}} 1962.214\n"),
            "node_btrfs_info{label=\"\",uuid=\"0d5e9c2b-18f4-4c77-b6a3-9e2f71d40c55\"} 1\n".into(),
        ] {
            assert!(text.contains(&line), "{line} missing from\n{text}");
        }
        assert!(
            !text.contains("node_btrfs_device_errors_total"),
            "not mounted: no ioctl view"
        );
        assert_eq!(
            text.lines().filter(|l| !l.starts_with('#')).count(),
            2 + 2 + 6 + 18 + 3 + 4
        );
    }
}
