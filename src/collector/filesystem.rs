//! `filesystem`: the mounts of /proc/1/mounts and `statvfs` on each → node_filesystem_size_bytes,
//! free_bytes, avail_bytes, files, files_free, readonly and device_error{device,fstype,mountpoint}.
//!
//! `statvfs` on a dead NFS server blocks in the kernel, uninterruptibly, for as long as the
//! server is away. proctap has one thread that does the work, so the call must not run on it.
//! The design, in the spirit of node_exporter's `stuckMounts`:
//!
//! - One long-lived helper thread ([`Guard`], as for the guarded collectors) performs every
//!   `statvfs`; the scrape hands it a path and waits for the answer at most
//!   `--collector.filesystem.mount-timeout`. In the steady state no thread is started and
//!   nothing is allocated: the path buffer travels to the helper and back.
//! - When the wait times out, the mount is reported with device_error 1 and no size series, and
//!   the worker is abandoned to its system call: it is remembered as *stuck* on that mount
//!   point, and a new worker is started for the remaining mounts.
//! - While a mount point is stuck, later scrapes report it with device_error 1 at once and start
//!   no other `statvfs` on it, so a dead server costs one blocked thread, not one per scrape.
//! - When the stuck call returns, its thread exits and the next scrape stats the mount afresh.
//!
//! node_exporter 1.5 runs statfs on the scrape's own goroutine and only marks the mount as stuck
//! after the timeout, so its first scrape hangs with the mount; the later scrapes match ours.
use std::ffi::CStr;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::collector::{Build, Collect, Collector, Ctx, Pattern, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::flag::{CliError, Flag, Kind as FlagKind, Settings};
use crate::guard::{Away, Guard};
use crate::log::{self, Level};
use crate::source::{Error, ParseError, Root};

/// node_exporter 1.5's default `--collector.filesystem.mount-points-exclude` (as Debian ships it).
pub const MOUNT_POINTS_EXCLUDE_DEFAULT: &str =
    "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// node_exporter 1.5's default `--collector.filesystem.fs-types-exclude`.
pub const FS_TYPES_EXCLUDE_DEFAULT: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";
/// node_exporter 1.5's default `--collector.filesystem.mount-timeout` (a hidden flag there).
#[cfg(test)]
pub const MOUNT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);

pub const COLLECTOR: Collector = Collector {
    name: "filesystem",
    enabled_by_default: true,
    flags: &[
        Flag::new(
            "collector.filesystem.mount-points-exclude",
            FlagKind::Regex,
            "RE",
            MOUNT_POINTS_EXCLUDE_DEFAULT,
            "Mount points to skip.",
        )
        .aliases(&["collector.filesystem.ignored-mount-points"]),
        Flag::new(
            "collector.filesystem.fs-types-exclude",
            FlagKind::Regex,
            "RE",
            FS_TYPES_EXCLUDE_DEFAULT,
            "Filesystem types to skip.",
        )
        .aliases(&["collector.filesystem.ignored-fs-types"]),
        Flag::new(
            "collector.filesystem.mount-timeout",
            FlagKind::Duration,
            "DURATION",
            "5s",
            "How long a scrape waits for a mount's statvfs; a mount that takes longer (a dead NFS server) is reported with node_filesystem_device_error 1 until it answers.",
        ),
    ],
    help_section: None,
    sources: Sources {
        reads: &[
            What::Optional(Root::Proc, "1/mounts"),
            What::Optional(Root::Proc, "mounts"),
            What::Dir(Root::Rootfs, ""),
        ],
        hint: "mount points that are not readable are reported with node_filesystem_device_error 1",
    },
    build: Build::New(|s| Ok(Box::new(Filesystem::new(s)?))),
};

/// The collector's options, compiled from its flags.
pub struct Options {
    pub mount_points_exclude: Pattern,
    pub fs_types_exclude: Pattern,
    /// How long a scrape waits for one mount's statvfs before reporting it as stuck.
    pub timeout: Duration,
}

impl Options {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<Options, CliError> {
        Ok(Options {
            mount_points_exclude: Pattern::new(
                s.regex("collector.filesystem.mount-points-exclude")?,
            ),
            fs_types_exclude: Pattern::new(s.regex("collector.filesystem.fs-types-exclude")?),
            timeout: s.duration("collector.filesystem.mount-timeout"),
        })
    }
}

pub struct Filesystem {
    pub opts: Options,
    pub state: State,
}

impl Filesystem {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<Filesystem, CliError> {
        Ok(Filesystem {
            opts: Options::new(s)?,
            state: State::default(),
        })
    }
}

impl Collect for Filesystem {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        collect(&mut self.opts, &mut self.state, ctx, out)
    }
}

/// One line of /proc/<pid>/mounts: `device mountpoint fstype options dump pass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mount<'a> {
    pub device: &'a str,
    /// As in the file: spaces, tabs, newlines and backslashes are octal escapes (`\040`).
    pub mount_point: &'a str,
    pub fstype: &'a str,
    pub options: &'a str,
}

/// Parses the lines of a mounts file. Like node_exporter, a line with fewer than four fields
/// fails the whole file.
pub fn parse_mounts(text: &str) -> impl Iterator<Item = Result<Mount<'_>, ParseError>> {
    text.lines().enumerate().map(|(i, line)| {
        let mut f = line.split_ascii_whitespace();
        match (f.next(), f.next(), f.next(), f.next()) {
            (Some(device), Some(mount_point), Some(fstype), Some(options)) => Ok(Mount {
                device,
                mount_point,
                fstype,
                options,
            }),
            _ => Err(ParseError::new(
                i + 1,
                format!(
                    "expected at least 4 fields (device, mount point, type, options), found {}",
                    line.split_ascii_whitespace().count()
                ),
            )),
        }
    })
}

/// Appends `raw` to `out` with the kernel's escapes decoded: it writes space, tab, newline and
/// backslash as `\040`, `\011`, `\012` and `\134` (fs/proc_namespace.c). node_exporter 1.5
/// decodes only `\040` and `\011`.
pub fn unescape_into(raw: &str, out: &mut String) {
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let decoded = match tail.get(1..4) {
            Some("040") => Some(' '),
            Some("011") => Some('\t'),
            Some("012") => Some('\n'),
            Some("134") => Some('\\'),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = tail.get(4..).unwrap_or("");
            }
            None => {
                out.push('\\');
                rest = tail.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
}

/// Read-only as node_exporter 1.5 decides it: from the mount options, not the statvfs flags.
pub fn is_read_only(options: &str) -> bool {
    options.split(',').any(|o| o == "ro")
}

/// What `statvfs` says about a filesystem, in its own units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsStats {
    /// `f_bsize`, which node_exporter multiplies the block counts by.
    pub bsize: u64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
}

/// The call that stats a path; [`statvfs`] except in tests, which inject one that blocks.
pub type StatFn = Arc<dyn Fn(&CStr) -> io::Result<FsStats> + Send + Sync>;

pub fn statvfs(path: &CStr) -> io::Result<FsStats> {
    // SAFETY: statvfs is plain old data; zeroed is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: path is NUL-terminated and st is a valid statvfs to write into.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::useless_conversion)] // the field types differ between glibc and musl
    Ok(FsStats {
        bsize: u64::from(st.f_bsize),
        blocks: u64::from(st.f_blocks),
        bfree: u64::from(st.f_bfree),
        bavail: u64::from(st.f_bavail),
        files: u64::from(st.f_files),
        ffree: u64::from(st.f_ffree),
    })
}

/// What travels to the statvfs thread and back: the call, the path (NUL-terminated) and what
/// the call said.
struct StatJob {
    call: StatFn,
    path: Vec<u8>,
    result: io::Result<FsStats>,
}

impl StatJob {
    fn new(call: &StatFn) -> Self {
        StatJob {
            call: Arc::clone(call),
            path: Vec::with_capacity(256),
            result: Ok(FsStats::default()),
        }
    }
}

fn run_stat(job: &mut StatJob) {
    job.result = match CStr::from_bytes_with_nul(&job.path) {
        Ok(p) => (job.call)(p),
        Err(_) => Err(io::ErrorKind::InvalidInput.into()),
    };
}

/// A statvfs thread left in a call on `mount_point` that has not answered yet.
struct Stuck {
    mount_point: Box<str>,
    guard: Guard<StatJob>,
}

/// Why a mount has no statistics; each is device_error 1.
#[derive(Debug)]
pub enum StatError {
    /// An earlier `statvfs` on this mount point has still not returned.
    Stuck,
    /// This scrape's `statvfs` did not return within the mount timeout.
    TimedOut,
    /// The statvfs thread could not be started.
    Worker(io::Error),
    Os(io::Error),
}

impl fmt::Display for StatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatError::Stuck => f.write_str("an earlier statvfs has not returned yet"),
            StatError::TimedOut => f.write_str("statvfs timed out"),
            StatError::Worker(e) => write!(f, "statvfs worker thread: {e}"),
            StatError::Os(e) => e.fmt(f),
        }
    }
}

/// Runs `statvfs` calls on a helper thread ([`Guard`]) with a timeout (see the module
/// documentation).
pub struct Runner {
    call: StatFn,
    guard: Option<Guard<StatJob>>,
    /// The job (its path buffer), while it is not with the helper.
    job: Option<StatJob>,
    stuck: Vec<Stuck>,
    /// Helper threads started so far.
    spawned: usize,
}

impl Runner {
    pub fn new(call: StatFn) -> Self {
        Runner {
            job: Some(StatJob::new(&call)),
            call,
            guard: None,
            stuck: Vec::new(),
            spawned: 0,
        }
    }

    /// Forgets the stuck threads whose call has returned; they exit.
    fn reap(&mut self) {
        self.stuck.retain_mut(|s| {
            if s.guard.take_back().is_none() {
                return true;
            }
            log::info(
                "filesystem: statvfs returned, monitoring the mount point again",
                &[("mountpoint", &s.mount_point)],
            );
            false
        });
    }

    /// Stats `rootfs` joined with `mount_point`, waiting at most `timeout`.
    pub fn stat(
        &mut self,
        rootfs: &[u8],
        mount_point: &str,
        timeout: Duration,
    ) -> Result<FsStats, StatError> {
        if self.stuck.iter().any(|s| &*s.mount_point == mount_point) {
            return Err(StatError::Stuck);
        }
        let mut job = self.job.take().unwrap_or_else(|| StatJob::new(&self.call));
        let path = &mut job.path;
        path.clear();
        path.extend_from_slice(rootfs);
        let mp = mount_point.as_bytes();
        // node_exporter joins the two with filepath.Join: one slash between them.
        match (path.last(), mp.first()) {
            (Some(b'/'), Some(b'/')) => path.extend_from_slice(mp.get(1..).unwrap_or_default()),
            (Some(_), Some(b'/')) | (Some(b'/'), _) | (None, _) => path.extend_from_slice(mp),
            (Some(_), _) => {
                path.push(b'/');
                path.extend_from_slice(mp);
            }
        }
        path.push(0);

        let guard = self.guard.get_or_insert_with(|| {
            self.spawned += 1;
            Guard::new("statvfs", run_stat)
        });
        match guard.run(job, Instant::now() + timeout) {
            Ok(mut job) => {
                let result = std::mem::replace(&mut job.result, Ok(FsStats::default()));
                self.job = Some(job);
                result.map_err(StatError::Os)
            }
            Err((Away::TimedOut, _)) => {
                log::warn(
                    "filesystem: statvfs timed out, the mount point is not monitored until it returns",
                    &[("mountpoint", &mount_point), ("timeout", &format_args!("{timeout:?}"))],
                );
                if let Some(guard) = self.guard.take() {
                    self.stuck.push(Stuck {
                        mount_point: mount_point.into(),
                        guard,
                    });
                }
                Err(StatError::TimedOut)
            }
            Err((away, back)) => {
                self.job = back;
                Err(StatError::Worker(match away {
                    Away::Spawn(e) => e,
                    _ => io::ErrorKind::WouldBlock.into(),
                }))
            }
        }
    }
}

/// One mount to report: label ranges into [`State::labels`] and what statvfs said.
#[derive(Debug, Clone)]
struct Entry {
    device: (usize, usize),
    fstype: (usize, usize),
    mount_point: (usize, usize),
    read_only: bool,
    stats: Option<FsStats>,
}

/// The collector's state across scrapes: the statvfs runner and buffers reused per scrape.
/// Cloning gives a fresh state with the same call (no worker, nothing stuck).
pub struct State {
    pub runner: Runner,
    entries: Vec<Entry>,
    /// The label values of `entries`, back to back.
    labels: String,
}

impl State {
    pub fn new(call: StatFn) -> Self {
        State {
            runner: Runner::new(call),
            entries: Vec::new(),
            labels: String::new(),
        }
    }

    fn label(&self, (start, end): (usize, usize)) -> &str {
        self.labels.get(start..end).unwrap_or("")
    }
}

impl Default for State {
    fn default() -> Self {
        State::new(Arc::new(statvfs))
    }
}

impl Clone for State {
    fn clone(&self) -> Self {
        State::new(Arc::clone(&self.runner.call))
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("filesystem::State")
            .field("workers_started", &self.runner.spawned)
            .field("stuck", &self.runner.stuck.len())
            .finish()
    }
}

fn push_label(labels: &mut String, s: &str) -> (usize, usize) {
    let start = labels.len();
    labels.push_str(s);
    (start, labels.len())
}

fn collect(
    opts: &mut Options,
    state: &mut State,
    ctx: &mut Ctx,
    out: &mut Encoder,
) -> Result<(), Error> {
    // pid 1's mounts are the host's when the exporter runs in a container with the host's /proc;
    // /proc/1 is missing under hidepid, and then node_exporter falls back to our own view.
    if !ctx
        .src
        .read_optional(Root::Proc, &["1/mounts"], &mut ctx.buf)?
    {
        ctx.src.read(Root::Proc, &["mounts"], &mut ctx.buf)?;
    }
    let rootfs = ctx.src.rootfs.as_os_str().as_encoded_bytes();
    // node_exporter strips a leading rootfs from mount points (a container's own mounts file
    // shows the host's at /host/root/...), with a plain string prefix.
    let strip = match std::str::from_utf8(rootfs) {
        Ok("/") | Err(_) => "",
        Ok(r) => r,
    };
    state.runner.reap();
    state.entries.clear();
    state.labels.clear();
    for mount in parse_mounts(&ctx.buf) {
        let mount = mount.map_err(|e| ctx.src.parse_error(e))?;
        let start = state.labels.len();
        unescape_into(mount.mount_point, &mut state.labels);
        if !strip.is_empty()
            && state
                .labels
                .get(start..)
                .is_some_and(|m| m.starts_with(strip))
        {
            state.labels.replace_range(start..start + strip.len(), "");
            if state.labels.len() == start {
                state.labels.push('/');
            }
        }
        let mp = (start, state.labels.len());
        let excluded = opts.mount_points_exclude.is_match(state.label(mp))
            || opts.fs_types_exclude.is_match(mount.fstype);
        // node_exporter reports a mount once per label set (bind mounts, mounts made twice).
        let duplicate = || {
            state.entries.iter().any(|e| {
                state.label(e.mount_point) == state.label(mp)
                    && state.label(e.device) == mount.device
                    && state.label(e.fstype) == mount.fstype
            })
        };
        if excluded || duplicate() {
            state.labels.truncate(start);
            continue;
        }
        let device = push_label(&mut state.labels, mount.device);
        let fstype = push_label(&mut state.labels, mount.fstype);
        let mount_point = state.labels.get(mp.0..mp.1).unwrap_or("");
        let stats = match state.runner.stat(rootfs, mount_point, opts.timeout) {
            Ok(s) => Some(s),
            Err(e) => {
                log::log(
                    Level::Debug,
                    "filesystem: no statistics for mount point",
                    &[("mountpoint", &mount_point), ("err", &e)],
                );
                None
            }
        };
        state.entries.push(Entry {
            device,
            fstype,
            mount_point: mp,
            read_only: is_read_only(mount.options),
            stats,
        });
    }
    write_families(state, out);
    Ok(())
}

fn write_families(state: &State, out: &mut Encoder) {
    type Value = fn(&Entry, &FsStats) -> u64;
    let families: [(&str, &str, Value); 7] = [
        (
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
            |_, s| s.bavail.saturating_mul(s.bsize),
        ),
        (
            "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.",
            |_, _| 0,
        ),
        (
            "node_filesystem_files",
            "Filesystem total file nodes.",
            |_, s| s.files,
        ),
        (
            "node_filesystem_files_free",
            "Filesystem total free file nodes.",
            |_, s| s.ffree,
        ),
        (
            "node_filesystem_free_bytes",
            "Filesystem free space in bytes.",
            |_, s| s.bfree.saturating_mul(s.bsize),
        ),
        (
            "node_filesystem_readonly",
            "Filesystem read-only status.",
            |e, _| u64::from(e.read_only),
        ),
        (
            "node_filesystem_size_bytes",
            "Filesystem size in bytes.",
            |_, s| s.blocks.saturating_mul(s.bsize),
        ),
    ];
    let any_stats = state.entries.iter().any(|e| e.stats.is_some());
    for (name, help, value) in families {
        let device_error = name == "node_filesystem_device_error";
        // node_exporter writes no family without samples.
        if state.entries.is_empty() || !(device_error || any_stats) {
            continue;
        }
        out.family(name, help, Kind::Gauge);
        for e in &state.entries {
            let labels = [
                ("device", state.label(e.device)),
                ("fstype", state.label(e.fstype)),
                ("mountpoint", state.label(e.mount_point)),
            ];
            // Like node_exporter 1.5, a mount without statistics has only device_error.
            match (&e.stats, device_error) {
                (None, true) => out.u64(&labels, 1),
                (Some(s), _) => out.u64(&labels, value(e, s)),
                (None, false) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::{mpsc, Mutex};
    use std::thread;
    use std::time::Instant;

    use crate::source::Source;

    /// A context and a filesystem collector with the default options.
    struct Fx {
        ctx: Ctx,
        fs: Filesystem,
    }

    fn fixture() -> Fx {
        Fx {
            ctx: crate::collector::fixture_ctx(),
            fs: Filesystem::new(&crate::collector::default_settings()).unwrap(),
        }
    }

    /// /proc/1/mounts of an OpenWrt 23.05 x86 router (kernel 5.15), shortened.
    const OPENWRT_X86_5_15: &str = "\
/dev/root /rom squashfs ro,relatime,errors=continue 0 0
proc /proc proc rw,nosuid,nodev,noexec,noatime 0 0
/dev/loop0 /overlay f2fs rw,lazytime,noatime,background_gc=on 0 0
overlayfs:/overlay / overlay rw,noatime,lowerdir=/,upperdir=/overlay/upper,workdir=/overlay/work 0 0
/dev/sda1 /mnt/usb\\040stick vfat rw,relatime,fmask=0022 0 0
";

    fn scrape(t: &mut Fx) -> String {
        let mut out = Encoder::new();
        t.fs.collect(&mut t.ctx, &mut out).unwrap();
        String::from_utf8(out.as_bytes().to_vec()).unwrap()
    }

    const FIXED: FsStats = FsStats {
        bsize: 4096,
        blocks: 7_340_032,
        bfree: 5_242_880,
        bavail: 4_980_736,
        files: 1_835_008,
        ffree: 1_830_000,
    };

    /// A context on `procfs` and `rootfs` whose statvfs is `call`.
    fn ctx_with(procfs: &str, rootfs: &str, call: StatFn) -> Fx {
        let src = Source::new(procfs.into(), "/nonexistent/sys".into(), rootfs.into());
        let mut t = fixture();
        t.ctx = Ctx::new(src);
        t.fs.state = State::new(call);
        t
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("proctap-fs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn mounts_openwrt_x86_5_15() {
        let mounts: Vec<Mount> = parse_mounts(OPENWRT_X86_5_15)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(mounts.len(), 5);
        assert_eq!(
            mounts[3],
            Mount {
                device: "overlayfs:/overlay",
                mount_point: "/",
                fstype: "overlay",
                options: "rw,noatime,lowerdir=/,upperdir=/overlay/upper,workdir=/overlay/work",
            }
        );
        assert_eq!(mounts[4].mount_point, "/mnt/usb\\040stick");
        assert_eq!(mounts[4].options, "rw,relatime,fmask=0022");
    }

    #[test]
    fn mounts_without_dump_and_pass_are_fine() {
        let m = parse_mounts("tmpfs /tmp tmpfs rw\n")
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.device, m.mount_point, m.fstype, m.options),
            ("tmpfs", "/tmp", "tmpfs", "rw")
        );
        assert_eq!(parse_mounts("").count(), 0);
    }

    #[test]
    fn mounts_garbage() {
        let err = parse_mounts("tmpfs /tmp tmpfs rw 0 0\ntmpfs /run tmpfs\n")
            .collect::<Result<Vec<_>, _>>()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: expected at least 4 fields (device, mount point, type, options), found 3"
        );
        let err = parse_mounts("\n").next().unwrap().unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.msg.ends_with("found 0"), "{}", err.msg);
    }

    #[test]
    fn mount_point_escapes() {
        let un = |raw: &str| {
            let mut s = String::from("kept:");
            unescape_into(raw, &mut s);
            s
        };
        assert_eq!(un("/srv/usb\\040disk"), "kept:/srv/usb disk");
        assert_eq!(un("/a\\011b\\012c\\134d"), "kept:/a\tb\nc\\d");
        assert_eq!(un("\\040\\040"), "kept:  ");
        // Not escapes the kernel writes: kept as they are, never a panic.
        assert_eq!(un("/x\\101y"), "kept:/x\\101y");
        assert_eq!(un("/x\\04"), "kept:/x\\04");
        assert_eq!(un("/x\\"), "kept:/x\\");
        assert_eq!(un("/ü\\040é"), "kept:/ü é");
    }

    #[test]
    fn read_only_from_options() {
        assert!(is_read_only("ro,noatime"));
        assert!(is_read_only("noatime,ro"));
        assert!(!is_read_only("rw,errors=remount-ro"));
        assert!(!is_read_only("rw,rootcontext=ro"));
        assert!(!is_read_only(""));
    }

    #[test]
    fn default_excludes() {
        let o = &mut fixture().fs.opts;
        for mp in [
            "/proc",
            "/sys/fs/cgroup",
            "/dev",
            "/dev/shm",
            "/run",
            "/run/user/1000",
            "/mnt/usb stick",
            "/media/cdrom",
            "/var/lib/docker/overlay2/3f2a/merged",
            "/var/lib/containers/storage/overlay",
        ] {
            assert!(o.mount_points_exclude.is_match(mp), "{mp}");
        }
        for mp in [
            "/",
            "/boot",
            "/devices",
            "/srv/nas",
            "/var/lib/docker",
            "/overlay",
        ] {
            assert!(!o.mount_points_exclude.is_match(mp), "{mp}");
        }
        for t in [
            "overlay", "squashfs", "cgroup", "cgroup2", "proc", "sysfs", "bpf", "nsfs",
        ] {
            assert!(o.fs_types_exclude.is_match(t), "{t}");
        }
        for t in [
            "ext4", "f2fs", "ubifs", "jffs2", "vfat", "tmpfs", "nfs4", "cgroup3",
        ] {
            assert!(!o.fs_types_exclude.is_match(t), "{t}");
        }
        assert_eq!(o.timeout, Duration::from_secs(5));
    }

    #[test]
    fn collect_on_fixtures() {
        let mut t = fixture();
        let text = scrape(&mut t);
        let has = |line: &str| text.lines().any(|l| l == line);
        for line in [
            "# TYPE node_filesystem_size_bytes gauge",
            "# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.",
            r#"node_filesystem_device_error{device="/dev/mmcblk0p1",fstype="vfat",mountpoint="/boot"} 0"#,
            r#"node_filesystem_readonly{device="/dev/mmcblk0p1",fstype="vfat",mountpoint="/boot"} 1"#,
            r#"node_filesystem_readonly{device="/dev/sda1",fstype="ext4",mountpoint="/srv/usb disk"} 0"#,
            r#"node_filesystem_readonly{device="tmpfs",fstype="tmpfs",mountpoint="/tmp"} 0"#,
            r#"node_filesystem_readonly{device="/dev/loop0",fstype="f2fs",mountpoint="/overlay"} 0"#,
            // fixtures/srv/nas does not exist: ENOENT.
            r#"node_filesystem_device_error{device="192.168.1.10:/export/backup",fstype="nfs4",mountpoint="/srv/nas"} 1"#,
        ] {
            assert!(has(line), "missing {line:?} in\n{text}");
        }
        assert!(
            !text.contains(r#"mountpoint="/srv/nas"} 0"#),
            "no other series for a failed mount"
        );
        assert!(!text.contains("readonly{device=\"192.168.1.10"));
        // Mounted twice, reported once; / (overlay), /rom (squashfs), /proc, /sys, /dev, /run excluded.
        assert_eq!(text.matches(r#"mountpoint="/srv/data""#).count(), 7);
        for gone in ["/rom\"", "/\"", "/proc\"", "/sys", "/dev", "/run\""] {
            let gone = format!("mountpoint=\"{gone}");
            assert!(!text.contains(&gone), "{gone} should be excluded");
        }
        assert_eq!(text.matches("node_filesystem_device_error{").count(), 6);
        assert_eq!(text.matches("node_filesystem_size_bytes{").count(), 5);
    }

    #[test]
    fn falls_back_to_proc_mounts_and_strips_rootfs() {
        let proc = temp_dir("fallback");
        std::fs::write(
            proc.join("mounts"),
            "/dev/sda1 /host/root/boot ext4 ro 0 0\n/dev/sda2 /host/root ext4 rw 0 0\n",
        )
        .unwrap();
        let paths = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&paths);
        let call: StatFn = Arc::new(move |p: &CStr| {
            seen.lock().unwrap().push(p.to_str().unwrap().to_string());
            Ok(FIXED)
        });
        let mut t = ctx_with(proc.to_str().unwrap(), "/host/root", call);
        let text = scrape(&mut t);
        assert_eq!(*paths.lock().unwrap(), ["/host/root/boot", "/host/root/"]);
        for line in [
            r#"node_filesystem_size_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/boot"} 30064771072"#,
            r#"node_filesystem_free_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/boot"} 21474836480"#,
            r#"node_filesystem_avail_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/boot"} 20401094656"#,
            r#"node_filesystem_files{device="/dev/sda1",fstype="ext4",mountpoint="/boot"} 1835008"#,
            r#"node_filesystem_files_free{device="/dev/sda1",fstype="ext4",mountpoint="/boot"} 1830000"#,
            r#"node_filesystem_readonly{device="/dev/sda1",fstype="ext4",mountpoint="/boot"} 1"#,
            r#"node_filesystem_readonly{device="/dev/sda2",fstype="ext4",mountpoint="/"} 0"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        std::fs::remove_dir_all(proc).unwrap();
    }

    #[test]
    fn statvfs_error_is_device_error() {
        let call: StatFn = Arc::new(|p: &CStr| {
            if p.to_bytes().ends_with(b"/tmp") {
                Err(io::Error::from_raw_os_error(libc::EACCES))
            } else {
                Ok(FIXED)
            }
        });
        let mut t = fixture();
        t.fs.state = State::new(call);
        let text = scrape(&mut t);
        assert!(text.contains(
            "node_filesystem_device_error{device=\"tmpfs\",fstype=\"tmpfs\",mountpoint=\"/tmp\"} 1\n"
        ));
        assert!(!text.contains("readonly{device=\"tmpfs\""));
        // The injected call answers for /srv/nas, which the real statvfs cannot find.
        assert!(text.contains(
            "node_filesystem_files{device=\"192.168.1.10:/export/backup\",fstype=\"nfs4\",mountpoint=\"/srv/nas\"} 1835008\n"
        ));
    }

    #[test]
    fn real_statvfs_of_a_missing_path_is_enoent() {
        let err = statvfs(c"/nonexistent/proctap/mount").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        assert!(statvfs(c"/").unwrap().bsize > 0);
    }

    #[test]
    fn garbage_mounts_fail_the_collector() {
        let proc = temp_dir("garbage");
        std::fs::create_dir_all(proc.join("1")).unwrap();
        std::fs::write(proc.join("1/mounts"), "tmpfs /tmp tmpfs rw 0 0\nnonsense\n").unwrap();
        let mut t = ctx_with(proc.to_str().unwrap(), "/", Arc::new(|_: &CStr| Ok(FIXED)));
        let err =
            t.fs.collect(&mut t.ctx, &mut Encoder::new())
                .unwrap_err()
                .to_string();
        assert!(err.ends_with(
            "/1/mounts:2: expected at least 4 fields (device, mount point, type, options), found 1"
        ), "{err}");
        std::fs::remove_dir_all(proc).unwrap();
    }

    /// A dead NFS server: the first statvfs on /srv/nas blocks until the test releases it.
    #[test]
    fn stuck_mount_does_not_hang_the_scrape() {
        let (release, released) = mpsc::channel::<()>();
        let released = Mutex::new(released);
        let nas_calls = Arc::new(AtomicUsize::new(0));
        let calls = Arc::clone(&nas_calls);
        let call: StatFn = Arc::new(move |p: &CStr| {
            if p.to_bytes().ends_with(b"/srv/nas") && calls.fetch_add(1, SeqCst) == 0 {
                let _ = released.lock().unwrap().recv();
            }
            Ok(FIXED)
        });
        let timeout = Duration::from_millis(300);
        let mut t = fixture();
        t.fs.state = State::new(call);
        t.fs.opts.timeout = timeout;
        let nas = r#"{device="192.168.1.10:/export/backup",fstype="nfs4",mountpoint="/srv/nas"}"#;
        let size_boot = r#"node_filesystem_size_bytes{device="/dev/mmcblk0p1",fstype="vfat",mountpoint="/boot"} 30064771072"#;

        // (a) The scrape waits for the stuck mount at most the timeout.
        let start = Instant::now();
        let text = scrape(&mut t);
        let took = start.elapsed();
        assert!(took >= timeout && took < MOUNT_TIMEOUT_DEFAULT, "{took:?}");
        assert!(text.contains(&format!("node_filesystem_device_error{nas} 1\n")));
        assert!(!text.contains(&format!("size_bytes{nas}")));
        assert!(
            text.lines().any(|l| l == size_boot),
            "other mounts are reported"
        );
        assert_eq!(t.fs.state.runner.spawned, 1);

        // (b) While it is stuck, scrapes report it at once and start no second statvfs on it;
        // the other mounts get one replacement worker, not one per scrape.
        for _ in 0..3 {
            let start = Instant::now();
            let text = scrape(&mut t);
            assert!(start.elapsed() < timeout, "{:?}", start.elapsed());
            assert!(text.contains(&format!("node_filesystem_device_error{nas} 1\n")));
            assert!(text.lines().any(|l| l == size_boot));
        }
        assert_eq!(nas_calls.load(SeqCst), 1);
        assert_eq!(t.fs.state.runner.spawned, 2);

        // (c) Once the call returns, the next scrape stats the mount again and reports it.
        release.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !t.fs.state.runner.stuck.is_empty() {
            assert!(
                Instant::now() < deadline,
                "the released call never answered"
            );
            thread::sleep(Duration::from_millis(1));
            t.fs.state.runner.reap();
        }
        let text = scrape(&mut t);
        assert!(text.contains(&format!("node_filesystem_device_error{nas} 0\n")));
        assert!(text.contains(&format!("node_filesystem_size_bytes{nas} 30064771072\n")));
        assert_eq!(nas_calls.load(SeqCst), 2);
        assert_eq!(t.fs.state.runner.spawned, 2);
    }

    #[test]
    fn path_is_rootfs_joined_with_the_mount_point() {
        let paths = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&paths);
        let mut r = Runner::new(Arc::new(move |p: &CStr| {
            seen.lock().unwrap().push(p.to_str().unwrap().to_string());
            Ok(FIXED)
        }));
        let t = Duration::from_secs(5);
        for (rootfs, mp) in [
            ("/", "/boot"),
            ("/", "/"),
            ("/host/", "/boot"),
            ("fixtures", "/tmp"),
        ] {
            assert_eq!(r.stat(rootfs.as_bytes(), mp, t).unwrap(), FIXED);
        }
        assert_eq!(
            *paths.lock().unwrap(),
            ["/boot", "/", "/host/boot", "fixtures/tmp"]
        );
        assert_eq!(r.spawned, 1, "one worker serves every call");
    }

    /// Measures what the worker thread costs per mount: `cargo test --bins statvfs_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn statvfs_cost() {
        let n = 20_000;
        let start = Instant::now();
        for _ in 0..n {
            statvfs(c"/tmp").unwrap();
        }
        let direct = start.elapsed() / n;
        let mut r = Runner::new(Arc::new(statvfs));
        let start = Instant::now();
        for _ in 0..n {
            r.stat(b"/", "/tmp", MOUNT_TIMEOUT_DEFAULT).unwrap();
        }
        let worker = start.elapsed() / n;
        println!("statvfs per mount: direct {direct:?}, through the worker {worker:?}");
    }
}
