//! Paths under `--path.procfs`, `--path.sysfs` and `--path.rootfs`, and reads into reused buffers.
//!
//! Every file proctap reads goes through [`Source`], so the whole exporter runs against a fixture
//! tree, and an error always names the file it came from.
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Reads larger than this are an error rather than an unbounded allocation; the largest real
/// file we read (/proc/interrupts on a 128-CPU machine with 200 IRQs) is about 300 KiB.
pub const MAX_FILE_BYTES: u64 = 8 << 20;

/// Which configured root a relative path is under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    Proc,
    Sys,
    Rootfs,
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
    Io { path: PathBuf, err: io::Error },
    TooLarge { path: PathBuf },
    Parse { path: PathBuf, err: ParseError },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, err } => write!(f, "{}: {}", path.display(), err),
            Error::TooLarge { path } => write!(
                f,
                "{}: larger than {} bytes, refusing to read it",
                path.display(),
                MAX_FILE_BYTES
            ),
            Error::Parse { path, err } if err.line > 0 => {
                write!(f, "{}:{}: {}", path.display(), err.line, err.msg)
            }
            Error::Parse { path, err } => write!(f, "{}: {}", path.display(), err.msg),
        }
    }
}

impl Error {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { err, .. } if err.kind() == io::ErrorKind::NotFound)
    }
}

/// The three roots and one scratch path buffer reused for every file name.
#[derive(Debug, Clone)]
pub struct Source {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
    scratch: PathBuf,
    /// getdents64 buffer for [`Source::list_dir`].
    dirents: Vec<u8>,
}

impl Source {
    pub fn new(procfs: PathBuf, sysfs: PathBuf, rootfs: PathBuf) -> Self {
        Source {
            procfs,
            sysfs,
            rootfs,
            scratch: PathBuf::with_capacity(256),
            dirents: Vec::new(),
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
        read_path(&self.scratch, buf)
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
        // Checked before building an Error, whose path would be an allocation on every scrape
        // for files that are routinely absent.
        match File::open(&self.scratch) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            opened => read_opened(&self.scratch, opened, buf).map(|()| true),
        }
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
        let dir = open_dir(&self.scratch).map_err(|err| Error::Io {
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
    if buf.len() < 32 << 10 {
        buf.resize(32 << 10, 0);
    }
    loop {
        // SAFETY: getdents64 writes at most `buf.len()` bytes into `buf`, which we own.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
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
        let mut records = buf.get(..n as usize).unwrap_or(&[]);
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

fn read_path(path: &Path, buf: &mut String) -> Result<(), Error> {
    read_opened(path, File::open(path), buf)
}

/// Reads the file `open` gave for `path`; errors name `path`.
fn read_opened(path: &Path, opened: io::Result<File>, buf: &mut String) -> Result<(), Error> {
    let io_err = |err| Error::Io {
        path: path.to_path_buf(),
        err,
    };
    let file = opened.map_err(io_err)?;
    let n = file
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(buf)
        .map_err(io_err)?;
    if n as u64 > MAX_FILE_BYTES {
        buf.clear();
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(())
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
