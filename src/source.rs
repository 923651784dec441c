//! Paths under `--path.procfs`, `--path.sysfs` and `--path.rootfs`, and reads into reused buffers.
//!
//! Every file proctap reads goes through [`Source`], so the whole exporter runs against a fixture
//! tree, and an error always names the file it came from.
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The cap on one textfile (`*.prom`), which users write and which may be large by design.
pub const MAX_FILE_BYTES: u64 = 8 << 20;

/// Caps on one read, by kind of file. A file larger than its cap is [`Error::TooLarge`], never an
/// unbounded allocation: a read stops one byte past the cap.
///
/// - sysfs attributes: the kernel's `show()` fills at most one page (4 KiB; 64 KiB on arm64
///   kernels with 64K pages), so 64 KiB is already more than a real attribute can hold.
/// - /proc tables that grow with CPUs, IRQs, devices, neighbours or mounts (interrupts, stat,
///   cpuinfo (~1.5 KiB per CPU), softirqs, softnet_stat, schedstat, diskstats, net/*, mounts): /proc/interrupts is about 11 bytes per
///   CPU per IRQ, so 1,024 CPUs × 500 IRQs is ~5.5 MiB and /proc/net/arp with gc_thresh3 at
///   100,000 is ~8 MiB; 16 MiB leaves room for both.
/// - other /proc files (loadavg, meminfo, vmstat, pressure/*, sys/…): fixed-size records of a
///   few KiB; 1 MiB.
/// - files under --path.rootfs (os-release) and --path.udev.data (a few KiB per device): 1 MiB.
pub const SYS_CAP: u64 = 64 << 10;
pub const PROC_TABLE_CAP: u64 = 16 << 20;
pub const PROC_CAP: u64 = 1 << 20;
pub const ROOTFS_CAP: u64 = 1 << 20;

/// Where udev keeps its database, as node_exporter's `--path.udev.data` defaults.
pub const UDEV_DATA: &str = "/run/udev/data";

/// A reused read buffer larger than this is shrunk back once a scrape no longer needs it
/// (see [`Source::trim`]), so one oversized or one-off large file does not pin megabytes.
pub const KEEP_BYTES: usize = 1 << 20;

/// Descriptors that kept files (see the namedprocess collector's `Kept`) leave for everything
/// else: the HTTP connections (`--web.max-requests`) and listeners, set by main, plus
/// [`OTHER_FDS`]. Before main sets it (tests), only [`OTHER_FDS`].
static FD_RESERVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// What the rest of the process holds open at most besides HTTP: stdio, the wake pipe, the
/// netlink sockets, and the directory and file each collector (and each guarded collector's
/// helper thread, even a stuck one) has open while it reads.
pub const OTHER_FDS: usize = 32;

/// Leaves `n` descriptors (HTTP connections and listeners) out of [`kept_fd_cap`].
pub fn reserve_fds(n: usize) {
    FD_RESERVE.store(n, std::sync::atomic::Ordering::Relaxed);
}

/// RLIMIT_NOFILE's soft and hard limits.
pub fn nofile_limit() -> Option<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct we pass.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
    ok.then_some((lim.rlim_cur, lim.rlim_max))
}

/// Raises RLIMIT_NOFILE's soft limit to the hard one (at most 1 << 20: a larger soft limit
/// only makes select(2)-era children and fd-closing loops slower, and no kept-file cap needs
/// more). Returns the soft limit before and after.
pub fn raise_nofile_limit() -> Option<(u64, u64)> {
    let (cur, max) = nofile_limit()?;
    let want = max.min(1 << 20);
    if want > cur {
        let lim = libc::rlimit {
            rlim_cur: want,
            rlim_max: max,
        };
        // SAFETY: setrlimit reads only the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } == 0 {
            return Some((cur, want));
        }
    }
    Some((cur, cur))
}

/// The soft RLIMIT_NOFILE less the reserve: what the two sets of kept descriptors share.
fn free_fds() -> usize {
    let soft = nofile_limit().map_or(0, |(cur, _)| usize::try_from(cur).unwrap_or(usize::MAX));
    let reserve = FD_RESERVE
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_add(OTHER_FDS);
    soft.saturating_sub(reserve)
}

/// At most this many host files (procfs tables, sysfs attributes read by full path) are kept
/// open by [`Source`]: a router reads ~100 such files a scrape, a big server a few hundred.
pub const HOST_KEPT_MAX: usize = 512;

/// How many host files [`Source`] may keep open: a quarter of what the open files limit
/// leaves free, at most [`HOST_KEPT_MAX`].
pub fn host_kept_cap() -> usize {
    (free_fds() / 4).min(HOST_KEPT_MAX)
}

/// How many per-process descriptors may be kept open between scrapes (namedprocess's `Kept`):
/// the soft RLIMIT_NOFILE less the reserve and less [`host_kept_cap`] (0 when the limit leaves
/// no room).
pub fn kept_fd_cap() -> usize {
    free_fds().saturating_sub(host_kept_cap())
}

/// The read cap for `rel` under `root`.
pub fn cap_for(root: Root, rel: &[&str]) -> u64 {
    match root {
        Root::Sys => SYS_CAP,
        Root::Rootfs | Root::Udev => ROOTFS_CAP,
        Root::Proc => {
            let first = rel.first().copied().unwrap_or("");
            let table = [
                "interrupts",
                "cpuinfo",
                "softirqs",
                "stat",
                "schedstat",
                "diskstats",
                "mounts",
                "net/",
            ];
            if table
                .iter()
                .any(|t| first == *t || (t.ends_with('/') && first.starts_with(t)))
                || first.ends_with("/mounts")
                || first.starts_with("self/mount")
            {
                PROC_TABLE_CAP
            } else {
                PROC_CAP
            }
        }
    }
}

/// Which configured root a relative path is under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    Proc,
    Sys,
    Rootfs,
    /// `--path.udev.data`: udev's database, one file per device (`b8:0` for a disk).
    Udev,
}

/// A parse failure: the 1-based line (0 when it is not about a line) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub msg: String,
}

impl ParseError {
    pub fn new(line: usize, msg: impl Into<String>) -> Self {
        ParseError {
            line,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for ParseError {
    #[cfg_attr(proctap_size, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.msg)
        } else {
            f.write_str(&self.msg)
        }
    }
}

/// Why a collector failed. `Display` gives one line an operator can act on.
#[derive(Debug)]
pub enum Error {
    Io {
        path: PathBuf,
        err: io::Error,
    },
    TooLarge {
        path: PathBuf,
        cap: u64,
    },
    Parse {
        path: PathBuf,
        err: ParseError,
    },
    /// The source is not there because the kernel lacks the feature (no CONFIG_SCHEDSTATS, PSI
    /// off, nf_conntrack not loaded). node_exporter's "no data": the collector reports
    /// success 0, but this is the host's configuration, not a failure.
    Unavailable {
        path: PathBuf,
        err: io::Error,
    },
    /// A guarded collector's run did not return by the scrape deadline; `path` is the file
    /// its helper thread was reading when last seen (it may move on before it blocks).
    Stuck {
        path: PathBuf,
    },
}

impl fmt::Display for Error {
    #[cfg_attr(proctap_size, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, err } => write!(f, "{}: {}", path.display(), err),
            Error::TooLarge { path, cap } => write!(
                f,
                "{}: larger than {} bytes, refusing to read it",
                path.display(),
                cap
            ),
            Error::Parse { path, err } if err.line > 0 => {
                write!(f, "{}:{}: {}", path.display(), err.line, err.msg)
            }
            Error::Parse { path, err } => write!(f, "{}: {}", path.display(), err.msg),
            Error::Unavailable { path, err } => {
                write!(
                    f,
                    "{}: {} (the kernel lacks the feature)",
                    path.display(),
                    err
                )
            }
            Error::Stuck { path } => write!(
                f,
                "{}: a read did not return within the scrape deadline; the collector is skipped until it does",
                path.display()
            ),
        }
    }
}

impl Error {
    #[cfg(test)]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { err, .. } if err.kind() == io::ErrorKind::NotFound)
    }

    /// For a collector's defining source: a file that does not exist (or that the kernel refuses
    /// with EOPNOTSUPP, as /proc/pressure does when booted with psi=0) means the kernel lacks the
    /// feature.
    pub fn absent_feature(self) -> Error {
        match self {
            Error::Io { path, err }
                if err.kind() == io::ErrorKind::NotFound
                    || err.raw_os_error() == Some(libc::EOPNOTSUPP) =>
            {
                Error::Unavailable { path, err }
            }
            other => other,
        }
    }
}

/// The roots and one scratch path buffer reused for every file name.
#[derive(Debug, Clone)]
pub struct Source {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
    /// udev's database, `/run/udev/data` unless set with [`Source::with_udev`].
    pub udev: PathBuf,
    scratch: PathBuf,
    /// getdents64 buffer for [`Source::list_dir`].
    dirents: Vec<u8>,
    /// The longest file read since the last [`Source::trim`].
    largest_read: usize,
    /// Where a collector running on a helper thread says which file it is reading, so that
    /// a read that never returns can be named (see [`Source::publish_to`]).
    published: Option<Arc<Mutex<PathBuf>>>,
    /// procfs and sysfs files kept open between scrapes.
    kept: KeptFiles,
}

/// Host files kept open between scrapes and read again with `pread(fd, buf, n, 0)`, which
/// saves open(2)'s path walk and close(2) on every scrape. Only files on a procfs or a sysfs
/// (fstatfs: PROC_SUPER_MAGIC, SYSFS_MAGIC) are kept: those regenerate their text on a read at
/// offset 0 (a seq_file, a kernfs attribute's `show()`), so a kept descriptor never reads
/// stale data. A regular file on disk (a fixture tree, a copied /proc) may be replaced by a
/// rename, after which a kept descriptor would read the old inode for ever: those are opened
/// each time, as before. A descriptor whose read fails (its device was removed: ENODEV; its
/// process exited: ESRCH) is closed and the path opened again at once, so the error a scrape
/// reports is the path's. Bounded by [`host_kept_cap`], first come first kept (the same files
/// are read every scrape); beyond it files are opened, read and closed.
#[derive(Debug, Default)]
struct KeptFiles {
    /// By path bytes, sorted: a kept descriptor, or None for a file that is not kept (on
    /// another filesystem, or over the cap), so it is not fstatfs'd again.
    files: Vec<(PathBuf, Option<File>)>,
    open: usize,
    /// None until the first read: then [`host_kept_cap`], or 0 when neither root is a procfs
    /// or sysfs (a fixture tree: nothing is ever looked up).
    cap: Option<usize>,
}

impl Clone for KeptFiles {
    /// A clone (a guarded collector's [`Source`]) keeps nothing: the cap is the original's.
    fn clone(&self) -> Self {
        KeptFiles {
            files: Vec::new(),
            open: 0,
            cap: Some(0),
        }
    }
}

const PROC_SUPER_MAGIC: i64 = 0x9fa0;
const SYSFS_MAGIC: i64 = 0x6265_6572;

/// The filesystem magic of what `path` (or, with `fd`, an open descriptor) is on.
fn fs_magic(path: Option<&Path>, fd: Option<&File>) -> Option<i64> {
    use std::os::fd::AsRawFd;
    // SAFETY: statfs/fstatfs write only into the zeroed struct we pass; the path is
    // NUL-terminated and outlives the call; the descriptor is open.
    unsafe {
        let mut fs: libc::statfs = std::mem::zeroed();
        let ok = match (path, fd) {
            (_, Some(f)) => libc::fstatfs(f.as_raw_fd(), &mut fs) == 0,
            (Some(p), None) => {
                let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).ok()?;
                libc::statfs(c.as_ptr(), &mut fs) == 0
            }
            (None, None) => false,
        };
        ok.then_some(fs.f_type as i64)
    }
}

/// Whether files on the filesystem with this magic regenerate their content on every read at
/// offset 0.
fn regenerates(magic: Option<i64>) -> bool {
    matches!(magic, Some(PROC_SUPER_MAGIC | SYSFS_MAGIC))
}

/// Reads all of `f` from offset 0 into `buf` (cleared first) with pread, at most `cap` bytes
/// (`Ok(false)` past it): `buf`'s capacity is used as it is, grown only for a longer file.
/// Before growing it the first time, a regular file larger than `cap` (its size is known up
/// front, unlike a procfs or sysfs file's) is `Ok(false)` without reading more, so a file
/// that fits the buffer costs no fstat.
fn pread_all(f: &File, cap: u64, buf: &mut String) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut bytes = std::mem::take(buf).into_bytes();
    bytes.clear();
    let limit = usize::try_from(cap).unwrap_or(usize::MAX).saturating_add(1);
    let mut checked = false;
    let r = loop {
        if bytes.len() >= limit {
            break Ok(false);
        }
        if bytes.len() == bytes.capacity() {
            if !checked {
                checked = true;
                if f.metadata().is_ok_and(|m| m.is_file() && m.len() > cap) {
                    break Ok(false);
                }
            }
            bytes.reserve((bytes.capacity().max(4096)).min(limit - bytes.len()));
        }
        let spare = (bytes.capacity() - bytes.len()).min(limit - bytes.len());
        // SAFETY: the kernel writes at most `spare` bytes into the vector's spare capacity,
        // starting at its length; `set_len` below covers only what it reported written.
        let n = unsafe {
            libc::pread(
                f.as_raw_fd(),
                bytes.as_mut_ptr().add(bytes.len()).cast(),
                spare,
                bytes.len() as libc::off_t,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break Err(e);
        }
        if n == 0 {
            break Ok(true);
        }
        // SAFETY: pread initialised these `n` bytes (n <= spare).
        unsafe { bytes.set_len(bytes.len() + n as usize) };
    };
    match (r, String::from_utf8(bytes)) {
        (Ok(fits), Ok(s)) => {
            *buf = s;
            if !fits {
                buf.clear();
            }
            Ok(fits)
        }
        (r, Err(e)) => {
            let mut b = e.into_bytes();
            b.clear();
            // SAFETY: empty, so valid UTF-8.
            *buf = unsafe { String::from_utf8_unchecked(b) };
            r.and(Err(io::ErrorKind::InvalidData.into()))
        }
        (Err(e), Ok(mut s)) => {
            s.clear();
            *buf = s;
            Err(e)
        }
    }
}

impl Source {
    pub fn new(procfs: PathBuf, sysfs: PathBuf, rootfs: PathBuf) -> Self {
        Source {
            procfs,
            sysfs,
            rootfs,
            udev: PathBuf::from(UDEV_DATA),
            scratch: PathBuf::with_capacity(256),
            dirents: Vec::new(),
            largest_read: 0,
            published: None,
            kept: KeptFiles::default(),
        }
    }

    /// Keeps at most `cap` host files open from now on (the default is [`host_kept_cap`]
    /// when a root is a procfs or sysfs).
    #[cfg(test)]
    pub fn set_kept_cap(&mut self, cap: usize) {
        self.kept.cap = Some(cap);
    }

    /// How many host files are kept open now.
    #[cfg(test)]
    pub fn kept_files(&self) -> usize {
        self.kept.open
    }

    /// Reads the file at the scratch path through its kept descriptor, or opens it (keeping it
    /// when it is on a procfs or sysfs and there is room). `Ok(false)`: it does not exist.
    fn read_scratch(&mut self, root: Root, rel: &[&str], buf: &mut String) -> Result<bool, Error> {
        let cap = cap_for(root, rel);
        let keep_cap = match self.kept.cap {
            Some(c) => c,
            None => {
                let c = if regenerates(fs_magic(Some(&self.procfs), None))
                    || regenerates(fs_magic(Some(&self.sysfs), None))
                {
                    host_kept_cap()
                } else {
                    0
                };
                self.kept.cap = Some(c);
                c
            }
        };
        if keep_cap == 0 || !matches!(root, Root::Proc | Root::Sys) {
            return match File::open(&self.scratch) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                opened => read_opened(&self.scratch, opened, cap, buf).map(|()| true),
            };
        }
        let key = self.scratch.as_os_str().as_encoded_bytes();
        let at = self
            .kept
            .files
            .binary_search_by(|(p, _)| p.as_os_str().as_encoded_bytes().cmp(key));
        if let Ok(i) = at {
            if let Some((_, slot)) = self.kept.files.get_mut(i) {
                if let Some(f) = slot.as_ref() {
                    match pread_all(f, cap, buf) {
                        Ok(true) => return Ok(true),
                        Ok(false) => {
                            return Err(Error::TooLarge {
                                path: self.scratch.clone(),
                                cap,
                            })
                        }
                        // Gone (ENODEV, ESRCH) or failing: the path says what it is now.
                        Err(_) => {
                            *slot = None;
                            self.kept.open = self.kept.open.saturating_sub(1);
                        }
                    }
                }
            }
        }
        let file = match File::open(&self.scratch) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(err) => {
                return Err(Error::Io {
                    path: self.scratch.clone(),
                    err,
                })
            }
            Ok(f) => f,
        };
        let regen = regenerates(fs_magic(None, Some(&file)));
        let keep = regen && self.kept.open < keep_cap;
        let (r, slot) = if !regen {
            // Not procfs or sysfs (a mount under /proc or /sys): read as before, its size
            // checked before anything is allocated for it.
            let r = read_opened(&self.scratch, Ok(file), cap, buf).map(|()| true);
            (r, None)
        } else {
            self.read_new(file, keep, cap, buf)
        };
        self.remember(at, keep_cap, slot);
        r
    }

    /// The first read of a file on procfs or sysfs; returns the descriptor when it is to be
    /// kept (`keep` and the read worked).
    fn read_new(
        &mut self,
        file: File,
        keep: bool,
        cap: u64,
        buf: &mut String,
    ) -> (Result<bool, Error>, Option<File>) {
        let r = match pread_all(&file, cap, buf) {
            Ok(true) => Ok(true),
            Ok(false) => Err(Error::TooLarge {
                path: self.scratch.clone(),
                cap,
            }),
            Err(err) => Err(Error::Io {
                path: self.scratch.clone(),
                err,
            }),
        };
        if keep && r.is_ok() {
            self.kept.open += 1;
            (r, Some(file))
        } else {
            (r, None)
        }
    }

    /// Records what was decided for the scratch path, at `at` of the sorted list.
    fn remember(&mut self, at: Result<usize, usize>, keep_cap: usize, slot: Option<File>) {
        match at {
            Ok(i) => {
                if let Some((_, s)) = self.kept.files.get_mut(i) {
                    *s = slot;
                }
            }
            // Bounded: kept ones by the cap, remembered others (not kept) by twice it.
            Err(i) if self.kept.files.len() < keep_cap.saturating_mul(2) => {
                self.kept.files.insert(i, (self.scratch.clone(), slot));
            }
            Err(_) => {
                if slot.is_some() {
                    self.kept.open -= 1;
                }
            }
        }
    }

    /// The same roots with udev's database at `udev` (`--path.udev.data`).
    pub fn with_udev(self, udev: PathBuf) -> Self {
        Source { udev, ..self }
    }

    /// From now on every path built here is also copied to `slot` (one uncontended lock and a
    /// copy into a reused buffer per file), for the scraper to name when a read does not return.
    pub fn publish_to(&mut self, slot: Arc<Mutex<PathBuf>>) {
        self.published = Some(slot);
    }

    /// Says that `path` is being read, for a collector that builds its own paths (textfile).
    pub fn publish(&self, path: &Path) {
        self.publish_in(path, "");
    }

    /// Says that `name` in the directory `dir` is being read, for a collector that reads
    /// relative to an open directory ([`read_at`]).
    pub fn publish_in(&self, dir: &Path, name: &str) {
        if let Some(slot) = &self.published {
            if let Ok(mut p) = slot.try_lock() {
                let mut s = std::mem::take(&mut *p).into_os_string();
                s.clear();
                s.push(dir);
                if !name.is_empty() {
                    s.push("/");
                    s.push(name);
                }
                *p = PathBuf::from(s);
            }
        }
    }

    /// Called once per scrape with the reused read buffers: one whose capacity is above
    /// [`KEEP_BYTES`] and four times what the largest read of this scrape needed is shrunk.
    /// A large file read on every scrape keeps its room (regrowing would allocate every time);
    /// one oversized or one-off file does not pin its megabytes forever.
    pub fn trim(&mut self, bufs: &mut [&mut String]) {
        let need = self.largest_read;
        self.largest_read = 0;
        for buf in bufs {
            if buf.capacity() > KEEP_BYTES && buf.capacity() / 4 > need {
                buf.clear();
                buf.shrink_to(need.max(64 << 10));
            }
        }
    }

    /// Sets the scratch path to `root` joined with the concatenation of `rel` and returns it.
    /// `rel` is relative to the root and its parts carry their own slashes:
    /// `&["class/net/", dev, "/mtu"]`.
    pub fn path(&mut self, root: Root, rel: &[&str]) -> &Path {
        let base = match root {
            Root::Proc => &self.procfs,
            Root::Sys => &self.sysfs,
            Root::Rootfs => &self.rootfs,
            Root::Udev => &self.udev,
        };
        let mut s = std::mem::take(&mut self.scratch).into_os_string();
        s.clear();
        s.push(base.as_os_str());
        if !base.as_os_str().as_encoded_bytes().ends_with(b"/") {
            s.push("/");
        }
        for part in rel {
            s.push(part);
        }
        self.scratch = PathBuf::from(s);
        self.publish(&self.scratch);
        &self.scratch
    }

    /// The path of the last file read or listed, for error messages.
    pub fn last_path(&self) -> &Path {
        &self.scratch
    }

    /// A parse error about the last file read.
    pub fn parse_error(&self, err: ParseError) -> Error {
        Error::Parse {
            path: self.scratch.clone(),
            err,
        }
    }

    /// Reads a whole file into `buf` (cleared first).
    pub fn read(&mut self, root: Root, rel: &[&str], buf: &mut String) -> Result<(), Error> {
        buf.clear();
        self.path(root, rel);
        let r = match self.read_scratch(root, rel, buf) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::Io {
                path: self.scratch.clone(),
                err: io::Error::from_raw_os_error(libc::ENOENT),
            }),
            Err(e) => Err(e),
        };
        self.largest_read = self.largest_read.max(buf.len());
        r
    }

    /// Like [`Source::read`], but a missing file is `Ok(false)` rather than an error.
    pub fn read_optional(
        &mut self,
        root: Root,
        rel: &[&str],
        buf: &mut String,
    ) -> Result<bool, Error> {
        buf.clear();
        self.path(root, rel);
        // A missing file is told apart before building an Error, whose path would be an
        // allocation on every scrape for files that are routinely absent.
        let r = self.read_scratch(root, rel, buf);
        self.largest_read = self.largest_read.max(buf.len());
        r
    }

    /// Lists the entry names of a directory into `names`, sorted, so output order is stable.
    /// Names that are not UTF-8 are left out; `.` and `..` too.
    pub fn list_dir(
        &mut self,
        root: Root,
        rel: &[&str],
        names: &mut NameList,
    ) -> Result<(), Error> {
        self.list_dir_open(root, rel, names).map(drop)
    }

    /// Like [`Source::list_dir`], but a missing directory is `Ok(false)` (with `names` empty)
    /// rather than an error: a class directory whose driver is not loaded. Checked before
    /// building an Error, as [`Source::read_optional`] does, so an absent directory costs no
    /// allocation per scrape.
    pub fn list_dir_optional(
        &mut self,
        root: Root,
        rel: &[&str],
        names: &mut NameList,
    ) -> Result<bool, Error> {
        names.clear();
        self.path(root, rel);
        match open_dir(&self.scratch) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            opened => self.list_opened(opened, names).map(|_| true),
        }
    }

    /// Like [`Source::list_dir`], and returns the open directory, for reading its files with
    /// [`read_at`] without resolving the directory's path again for each.
    pub fn list_dir_open(
        &mut self,
        root: Root,
        rel: &[&str],
        names: &mut NameList,
    ) -> Result<File, Error> {
        names.clear();
        self.path(root, rel);
        let opened = open_dir(&self.scratch);
        self.list_opened(opened, names)
    }

    /// Lists the directory `open_dir` opened at `self.scratch` into `names`, sorted.
    fn list_opened(
        &mut self,
        opened: io::Result<File>,
        names: &mut NameList,
    ) -> Result<File, Error> {
        let dir = opened.map_err(|err| Error::Io {
            path: self.scratch.clone(),
            err,
        })?;
        for_each_dir_entry(&dir, &mut self.dirents, |name| {
            if let Ok(name) = std::str::from_utf8(name) {
                names.push(name);
            }
        })
        .map_err(|err| Error::Io {
            path: self.scratch.clone(),
            err,
        })?;
        names.sort();
        Ok(dir)
    }
}

/// What a file is, for a message saying why it is not read: "a FIFO", "a socket"...
fn file_kind(mode: libc::mode_t) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFIFO => "a FIFO",
        libc::S_IFSOCK => "a socket",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        libc::S_IFDIR => "a directory",
        libc::S_IFLNK => "a symbolic link",
        _ => "not a regular file",
    }
}

/// Opens a file a user names or writes (a textfile, `--config`, `--proc-rules`,
/// `--web.config-file` and the certificate and key it names, a process-exporter config) only
/// if it is a regular file, symbolic links followed.
///
/// Opening a FIFO blocks until a writer comes, and reading a device may never end (or, for
/// some drivers, has side effects on open), so the path is checked with `stat` before it is
/// opened, opened with `O_NONBLOCK | O_CLOEXEC | O_NOCTTY` (a FIFO swapped in after the
/// check then opens at once instead of blocking), and the descriptor is checked again with
/// `fstat`. Anything else is `InvalidInput` saying what it is: "a FIFO: expected a regular
/// file".
pub fn open_regular(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let not_regular = |mode: u32| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}: expected a regular file",
                file_kind(mode as libc::mode_t)
            ),
        )
    };
    let before = std::fs::metadata(path)?;
    if !before.is_file() {
        return Err(not_regular(before.mode()));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)?;
    let opened = file.metadata()?;
    if !opened.is_file() {
        return Err(not_regular(opened.mode()));
    }
    Ok(file)
}

/// Reads a user-supplied file (see [`open_regular`]) of at most `cap` bytes. The error is
/// what an operator reads after the file's name.
pub fn read_user_bytes(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    let n = file.take(cap + 1).read_to_end(&mut bytes)?;
    if n as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {cap} bytes"),
        ));
    }
    Ok(bytes)
}

/// [`read_user_bytes`] as UTF-8 text.
pub fn read_user_file(path: &Path, cap: u64) -> io::Result<String> {
    String::from_utf8(read_user_bytes(path, cap)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "expected UTF-8 text"))
}

/// Opens a directory for [`for_each_dir_entry`].
pub fn open_dir(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)
}

/// Calls `f` with the name of every entry of an open directory except `.` and `..`.
///
/// `std::fs::read_dir` allocates for the handle and for every entry's name; listing /proc and
/// /sys on every scrape would then allocate thousands of times. getdents64 into a buffer the
/// caller keeps does not allocate at all once the buffer has grown.
pub fn for_each_dir_entry(
    dir: &File,
    buf: &mut Vec<u8>,
    mut f: impl FnMut(&[u8]),
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // Room, not zeroes: the pages getdents64 never writes (most of them for a small directory)
    // stay out of the resident set.
    buf.clear();
    buf.reserve(32 << 10);
    loop {
        buf.clear();
        // SAFETY: getdents64 writes at most `buf.capacity()` bytes into `buf`, which we own.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.capacity(),
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            return Ok(());
        }
        // SAFETY: the kernel wrote the first `n` bytes (at most the capacity).
        unsafe { buf.set_len((n as usize).min(buf.capacity())) };
        let mut records = buf.as_slice();
        // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
        while let Some(reclen) = records
            .get(16..18)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]) as usize)
        {
            let Some(record) = records.get(..reclen).filter(|_| reclen > 19) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "malformed getdents64 record",
                ));
            };
            let name = record.get(19..).unwrap_or(&[]);
            let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
            if name != b"." && name != b".." {
                f(name);
            }
            records = records.get(reclen..).unwrap_or(&[]);
        }
    }
}

/// Opens `name` relative to the open directory `dir` and reads at most `buf.len()` bytes with
/// one `read`. The kernel then resolves one name rather than a whole path from the root, which
/// for sysfs attributes (long paths through a symlink) is most of the cost of reading them.
/// `name` must be a plain file name (at most NAME_MAX, 255 bytes).
pub fn read_at(dir: &File, name: &str, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut c_name = [0u8; 256];
    match c_name.get_mut(..name.len()) {
        Some(dst) if name.len() < 256 && !name.contains(['\0', '/']) => {
            dst.copy_from_slice(name.as_bytes())
        }
        _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
    }
    // SAFETY: `c_name` is NUL-terminated (at most 255 bytes were copied into 256 zeroes) and
    // outlives the call; `dir` is an open descriptor.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c_name.as_ptr().cast(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openat just returned this descriptor and nothing else owns it.
    let mut file = unsafe { File::from_raw_fd(fd) };
    file.read(buf)
}

/// Reads at most `cap` bytes of the file `open` gave for `path`; errors name `path`.
fn read_opened(
    path: &Path,
    opened: io::Result<File>,
    cap: u64,
    buf: &mut String,
) -> Result<(), Error> {
    let file = opened.map_err(|err| Error::Io {
        path: path.to_path_buf(),
        err,
    })?;
    match pread_all(&file, cap, buf) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::TooLarge {
            path: path.to_path_buf(),
            cap,
        }),
        Err(err) => Err(Error::Io {
            path: path.to_path_buf(),
            err,
        }),
    }
}

/// A list of names whose `String`s are kept between uses, so listing the same directory on
/// every scrape does not allocate once the names have been seen.
#[derive(Default, Debug)]
pub struct NameList {
    names: Vec<String>,
    len: usize,
}

impl NameList {
    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn push(&mut self, name: &str) {
        if let Some(slot) = self.names.get_mut(self.len) {
            slot.clear();
            slot.push_str(name);
        } else {
            // Sorting moves names between slots, so a slot must fit the next name it gets:
            // give each room for typical names from the start.
            let mut slot = String::with_capacity(name.len().max(64));
            slot.push_str(name);
            self.names.push(slot);
        }
        self.len += 1;
    }

    pub fn sort(&mut self) {
        if let Some(used) = self.names.get_mut(..self.len) {
            used.sort_unstable();
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.names.iter().take(self.len).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_under_the_root() {
        let mut s = Source::new("/host/proc".into(), "/host/sys".into(), "/".into());
        assert_eq!(
            s.path(Root::Proc, &["net/dev"]),
            Path::new("/host/proc/net/dev")
        );
        assert_eq!(
            s.path(Root::Sys, &["class/net/", "eth0.100", "/mtu"]),
            Path::new("/host/sys/class/net/eth0.100/mtu")
        );
        let p = s.path(Root::Rootfs, &["etc/os-release"]);
        assert_eq!(p.as_os_str(), "/etc/os-release");
    }

    #[test]
    fn missing_file_names_the_path() {
        let mut s = Source::new("/nonexistent-proctap".into(), "/".into(), "/".into());
        let mut buf = String::new();
        let e = s.read(Root::Proc, &["stat"], &mut buf).unwrap_err();
        assert!(e.is_not_found());
        assert!(
            e.to_string().starts_with("/nonexistent-proctap/stat: "),
            "{e}"
        );
        assert!(!s.read_optional(Root::Proc, &["stat"], &mut buf).unwrap());
    }

    #[test]
    fn parse_error_names_file_and_line() {
        let mut s = Source::new("/proc".into(), "/sys".into(), "/".into());
        s.path(Root::Proc, &["diskstats"]);
        let e = s.parse_error(ParseError::new(7, "expected at least 14 fields, found 9"));
        assert_eq!(
            e.to_string(),
            "/proc/diskstats:7: expected at least 14 fields, found 9"
        );
    }

    #[test]
    fn list_dir_sorts_and_skips_dot_entries() {
        let dir = std::env::temp_dir().join(format!("proctap-listdir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let many: Vec<String> = (0..3000)
            .map(|i| format!("entry-with-a-long-name-{i:05}"))
            .collect();
        for name in many.iter().chain(["b.c", "a-b"].map(String::from).iter()) {
            std::fs::write(dir.join(name), "").unwrap();
        }
        std::fs::create_dir(dir.join("subdir")).unwrap();
        let mut s = Source::new(dir.clone(), "/sys".into(), "/".into());
        let mut names = NameList::default();
        s.list_dir(Root::Proc, &[""], &mut names).unwrap();
        let got: Vec<&str> = names.iter().collect();
        assert_eq!(
            got.len(),
            3003,
            "more entries than one getdents64 call returns"
        );
        assert_eq!(&got[..3], ["a-b", "b.c", "entry-with-a-long-name-00000"]);
        assert_eq!(got.last(), Some(&"subdir"));
        std::fs::remove_dir_all(&dir).unwrap();
        let e = s.list_dir(Root::Proc, &[""], &mut names).unwrap_err();
        assert!(e.is_not_found(), "{e}");
    }

    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap()
    }

    fn proc_and_sys() -> Source {
        Source::new("/proc".into(), "/sys".into(), "/".into())
    }

    #[test]
    fn procfs_files_are_kept_and_read_afresh() {
        let mut s = proc_and_sys();
        let mut buf = String::new();
        // rchar: the bytes this process has read, which only grows (other tests read too).
        let rchar = |t: &str| -> u64 {
            let v = t.lines().find_map(|l| l.strip_prefix("rchar: ")).unwrap();
            v.parse().unwrap()
        };
        s.read(Root::Proc, &["self/io"], &mut buf).unwrap();
        assert_eq!(s.kept_files(), 1);
        let before = rchar(&buf);
        let exe = std::fs::read("/proc/self/exe").unwrap();
        s.read(Root::Proc, &["self/io"], &mut buf).unwrap();
        let after = rchar(&buf);
        assert!(
            after >= before + exe.len() as u64,
            "{before} -> {after} after reading {} bytes",
            exe.len()
        );
        assert_eq!(s.kept_files(), 1, "the same descriptor, read again");
    }

    #[test]
    fn a_kept_file_whose_read_fails_is_opened_again() {
        let mut s = proc_and_sys();
        let mut buf = String::new();
        s.read(Root::Proc, &["loadavg"], &mut buf).unwrap();
        assert_eq!(s.kept_files(), 1);
        // A descriptor that fails to read (a directory: EISDIR) stands for one whose object went.
        let slot = s
            .kept
            .files
            .iter_mut()
            .find_map(|(_, f)| f.as_mut())
            .unwrap();
        *slot = File::open("/proc").unwrap();
        s.read(Root::Proc, &["loadavg"], &mut buf).unwrap();
        assert_eq!(buf.split_whitespace().count(), 5, "{buf}");
        assert_eq!(s.kept_files(), 1, "the path's descriptor is kept instead");
        s.read(Root::Proc, &["loadavg"], &mut buf).unwrap();
        assert_eq!(buf.split_whitespace().count(), 5, "{buf}");
    }

    #[test]
    fn a_kept_file_of_something_gone_reads_as_the_path_does() {
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let pid = child.id().to_string();
        let mut s = proc_and_sys();
        let mut buf = String::new();
        s.read(Root::Proc, &[&pid, "/stat"], &mut buf).unwrap();
        assert!(buf.starts_with(&format!("{pid} (sleep) ")), "{buf}");
        assert_eq!(s.kept_files(), 1);
        child.kill().unwrap();
        child.wait().unwrap();
        // The kept descriptor reads ESRCH; the path is gone: the error is the path's.
        let e = s.read(Root::Proc, &[&pid, "/stat"], &mut buf).unwrap_err();
        assert!(e.is_not_found(), "{e}");
        assert!(
            e.to_string()
                .ends_with("/stat: No such file or directory (os error 2)"),
            "{e}"
        );
        assert_eq!(s.kept_files(), 0);
        assert!(!s
            .read_optional(Root::Proc, &[&pid, "/stat"], &mut buf)
            .unwrap());
    }

    #[test]
    fn kept_host_files_stay_under_the_cap() {
        let mut s = proc_and_sys();
        s.set_kept_cap(2);
        let mut buf = String::new();
        let files = [
            "loadavg",
            "uptime",
            "meminfo",
            "vmstat",
            "stat",
            "diskstats",
        ];
        for _ in 0..3 {
            for f in files {
                s.read(Root::Proc, &[f], &mut buf).unwrap();
                assert!(!buf.is_empty(), "{f}");
            }
            assert_eq!(s.kept_files(), 2);
        }
        s.read(Root::Proc, &["meminfo"], &mut buf).unwrap();
        assert!(buf.starts_with("MemTotal:"), "{buf}");
        // Remembered entries are bounded too: twice the cap.
        assert_eq!(s.kept.files.len(), 4);
    }

    #[test]
    fn a_sysfs_attribute_kept_open_reads_its_current_value() {
        let mut s = proc_and_sys();
        let mut buf = String::new();
        let rel = ["class/net/lo/statistics/tx_packets"];
        if s.read(Root::Sys, &rel, &mut buf).is_err() {
            return; // no sysfs here
        }
        let before: u64 = buf.trim().parse().unwrap();
        assert_eq!(s.kept_files(), 1, "sysfs is kept");
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..20 {
            let _ = sock.send_to(b"x", "127.0.0.1:9");
        }
        s.read(Root::Sys, &rel, &mut buf).unwrap();
        let after: u64 = buf.trim().parse().unwrap();
        assert!(after >= before + 20, "{before} -> {after}");
        assert_eq!(s.kept_files(), 1);
    }

    #[test]
    fn a_regular_file_is_never_kept_so_a_renamed_replacement_is_read() {
        let dir = std::env::temp_dir().join(format!("proctap-kept-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        std::fs::write(dir.join("proc/loadavg"), "1 2 3 1/2 3\n").unwrap();
        for forced in [false, true] {
            let mut s = Source::new(dir.join("proc"), dir.join("sys"), dir.clone());
            if forced {
                s.set_kept_cap(10);
            }
            let mut buf = String::new();
            s.read(Root::Proc, &["loadavg"], &mut buf).unwrap();
            assert_eq!(buf, "1 2 3 1/2 3\n");
            std::fs::write(dir.join("proc/new"), "4 5 6 1/2 3\n").unwrap();
            std::fs::rename(dir.join("proc/new"), dir.join("proc/loadavg")).unwrap();
            s.read(Root::Proc, &["loadavg"], &mut buf).unwrap();
            assert_eq!(buf, "4 5 6 1/2 3\n", "forced cap: {forced}");
            assert_eq!(s.kept_files(), 0);
            std::fs::write(dir.join("proc/loadavg"), "1 2 3 1/2 3\n").unwrap();
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn caps_by_kind() {
        assert_eq!(cap_for(Root::Sys, &["class/net/", "eth0", "/mtu"]), SYS_CAP);
        assert_eq!(cap_for(Root::Proc, &["interrupts"]), PROC_TABLE_CAP);
        assert_eq!(cap_for(Root::Proc, &["net/dev"]), PROC_TABLE_CAP);
        assert_eq!(cap_for(Root::Proc, &["1/mounts"]), PROC_TABLE_CAP);
        assert_eq!(cap_for(Root::Proc, &["loadavg"]), PROC_CAP);
        assert_eq!(cap_for(Root::Proc, &["pressure/", "cpu"]), PROC_CAP);
        assert_eq!(cap_for(Root::Rootfs, &["etc/os-release"]), ROOTFS_CAP);
    }

    #[test]
    fn a_huge_file_is_an_error_naming_it_without_reading_it() {
        let dir = std::env::temp_dir().join(format!("proctap-huge-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        // 100 MB, sparse: it costs no disk, and reading it whole would cost 100 MB of RSS.
        let f = File::create(dir.join("proc/interrupts")).unwrap();
        f.set_len(100_000_000).unwrap();
        // An endless character device stands for a /proc file that does not say its size.
        std::os::unix::fs::symlink("/dev/zero", dir.join("proc/meminfo")).unwrap();
        let mut s = Source::new(dir.join("proc"), dir.join("sys"), dir.clone());
        let mut buf = String::new();
        let before = rss_kib();
        let e = s.read(Root::Proc, &["interrupts"], &mut buf).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}/proc/interrupts: larger than 16777216 bytes, refusing to read it",
                dir.display()
            )
        );
        assert!(
            buf.capacity() < 64 << 10,
            "refused before reading: {}",
            buf.capacity()
        );
        let e = s.read(Root::Proc, &["meminfo"], &mut buf).unwrap_err();
        assert!(matches!(e, Error::TooLarge { cap: PROC_CAP, .. }), "{e}");
        assert!(
            e.to_string()
                .contains("/proc/meminfo: larger than 1048576 bytes"),
            "{e}"
        );
        assert!(buf.is_empty());
        assert!(
            buf.capacity() <= 4 << 20,
            "bounded by the cap: {}",
            buf.capacity()
        );
        // Other tests run in this process at the same time, so the RSS bound is loose; what
        // it rules out is the 100 MB an unbounded read would have cost.
        let grown = rss_kib().saturating_sub(before);
        assert!(
            grown < 48 << 10,
            "RSS grew by {grown} KiB reading two endless/huge files"
        );
        // The buffer that held up to the cap shrinks back once a scrape needs less.
        assert!(buf.capacity() > KEEP_BYTES, "{}", buf.capacity());
        std::fs::write(dir.join("proc/loadavg"), "0.52 0.58 0.59 1/420 1234\n").unwrap();
        s.read(Root::Proc, &["loadavg"], &mut buf).unwrap();
        s.trim(&mut [&mut buf]);
        assert!(buf.capacity() <= 64 << 10, "{}", buf.capacity());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_large_file_read_every_scrape_keeps_its_buffer() {
        let mut s = Source::new("/proc".into(), "/sys".into(), "/".into());
        let mut buf = String::with_capacity(2 << 20);
        s.largest_read = (2 << 20) - 100;
        s.trim(&mut [&mut buf]);
        assert!(buf.capacity() >= 2 << 20, "needed this scrape: kept");
        s.trim(&mut [&mut buf]);
        assert!(
            buf.capacity() <= 64 << 10,
            "not needed by the next scrape: shrunk"
        );
    }

    #[test]
    fn read_at_reads_relative_to_the_listed_directory() {
        let dir = std::env::temp_dir().join(format!("proctap-readat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("temp1_input"), "41000\n").unwrap();
        let mut s = Source::new("/proc".into(), dir.clone(), "/".into());
        let mut names = NameList::default();
        let open = s.list_dir_open(Root::Sys, &[""], &mut names).unwrap();
        assert_eq!(names.iter().collect::<Vec<_>>(), ["temp1_input"]);
        let mut buf = [0u8; 4];
        assert_eq!(read_at(&open, "temp1_input", &mut buf).unwrap(), 4);
        assert_eq!(&buf, b"4100", "one read, at most the buffer");
        let mut kind = |name: &str| read_at(&open, name, &mut buf).unwrap_err().kind();
        assert_eq!(kind("temp2_input"), io::ErrorKind::NotFound);
        assert_eq!(kind("../temp1_input"), io::ErrorKind::InvalidInput);
        assert_eq!(kind(&"x".repeat(256)), io::ErrorKind::InvalidInput);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_listed_as_absent_not_as_an_error() {
        let mut src = Source::new(
            std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/proc")),
            std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sys")),
            std::path::PathBuf::from("/"),
        );
        let mut names = NameList::default();
        names.push("stale");
        assert!(!src
            .list_dir_optional(Root::Sys, &["class/no-such-class"], &mut names)
            .unwrap());
        assert_eq!(names.iter().count(), 0);
        assert!(src
            .list_dir_optional(Root::Sys, &["class/thermal"], &mut names)
            .unwrap());
        assert!(names.iter().any(|n| n == "thermal_zone0"), "{names:?}");
        // Anything but "no such file" is still an error naming the path.
        let e = src
            .list_dir_optional(Root::Proc, &["loadavg"], &mut names)
            .unwrap_err();
        assert!(e.to_string().contains("loadavg"), "{e}");
    }

    #[test]
    fn only_regular_files_are_opened_for_users() {
        let dir = std::env::temp_dir().join(format!("proctap-regular-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ok.conf"), "a = 1\n").unwrap();
        let fifo =
            std::ffi::CString::new(dir.join("fifo").into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let _sock = std::os::unix::net::UnixListener::bind(dir.join("sock")).unwrap();
        std::os::unix::fs::symlink(dir.join("ok.conf"), dir.join("link-ok")).unwrap();
        std::os::unix::fs::symlink(dir.join("fifo"), dir.join("link-fifo")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join("link-zero")).unwrap();
        let read = |name: &str| read_user_file(&dir.join(name), 1 << 20);
        assert_eq!(read("ok.conf").unwrap(), "a = 1\n");
        assert_eq!(
            read("link-ok").unwrap(),
            "a = 1\n",
            "symlinks to files are followed"
        );
        let refused = |name: &str| {
            let e = read(name).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{name}: {e}");
            e.to_string()
        };
        assert_eq!(refused("fifo"), "a FIFO: expected a regular file");
        assert_eq!(refused("link-fifo"), "a FIFO: expected a regular file");
        assert_eq!(refused("sock"), "a socket: expected a regular file");
        assert_eq!(
            refused("link-zero"),
            "a character device: expected a regular file"
        );
        assert_eq!(refused(""), "a directory: expected a regular file");
        let e = read_user_file(&dir.join("ok.conf"), 3).unwrap_err();
        assert_eq!(e.to_string(), "larger than 3 bytes");
        std::fs::write(dir.join("latin1"), b"\xe9\n").unwrap();
        assert_eq!(
            read("latin1").unwrap_err().to_string(),
            "expected UTF-8 text"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn name_list_reuses_slots_and_sorts() {
        let mut n = NameList::default();
        for name in ["wlan0", "eth0", "br-lan"] {
            n.push(name);
        }
        n.sort();
        assert_eq!(n.iter().collect::<Vec<_>>(), ["br-lan", "eth0", "wlan0"]);
        n.clear();
        n.push("lo");
        assert_eq!(n.iter().collect::<Vec<_>>(), ["lo"]);
    }
}
