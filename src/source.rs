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
    // No collector reads under --path.rootfs yet; os and filesystem will.
    #[allow(dead_code)]
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
}

impl Source {
    pub fn new(procfs: PathBuf, sysfs: PathBuf, rootfs: PathBuf) -> Self {
        Source {
            procfs,
            sysfs,
            rootfs,
            scratch: PathBuf::with_capacity(256),
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
        match self.read(root, rel, buf) {
            Ok(()) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Lists the entry names of a directory into `names`, sorted, so output order is stable.
    pub fn list_dir(
        &mut self,
        root: Root,
        rel: &[&str],
        names: &mut NameList,
    ) -> Result<(), Error> {
        names.clear();
        self.path(root, rel);
        let io_err = |path: &Path, err| Error::Io {
            path: path.to_path_buf(),
            err,
        };
        let dir = std::fs::read_dir(&self.scratch).map_err(|e| io_err(&self.scratch, e))?;
        for entry in dir {
            let entry = entry.map_err(|e| io_err(&self.scratch, e))?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name);
            }
        }
        names.sort();
        Ok(())
    }
}

fn read_path(path: &Path, buf: &mut String) -> Result<(), Error> {
    let io_err = |err| Error::Io {
        path: path.to_path_buf(),
        err,
    };
    let file = File::open(path).map_err(io_err)?;
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
            self.names.push(name.to_string());
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
