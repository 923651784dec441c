//! `textfile`: metrics that other programs (cron jobs, backup scripts) write into `*.prom`
//! files in `--collector.textfile.directory`, merged into the scrape, plus
//! node_textfile_mtime_seconds{file} and node_textfile_scrape_error.
//!
//! Every file is parsed and checked completely before anything from it is used: a file with a
//! syntax error, a timestamp, a family that proctap already exports, a TYPE or HELP that
//! contradicts an earlier file, or a series an earlier file already has is skipped whole,
//! logged with its line, and sets node_textfile_scrape_error to 1. node_exporter 1.5 instead
//! lets the registry drop the offending samples one by one, which half-merges a file and can
//! even drop a real collector's metric in favour of a file's (it depends on which comes first).
//!
//! This collector must run after every other host collector (it is last in `ALL`) so that
//! [`Encoder::has_family`] sees their families.
//!
//! A scrape in which every file is as it was at the last clean scrape writes that scrape's
//! output again instead of reading and parsing the files (see [`Cache`]): the steady state
//! does not allocate, however many series the files hold.
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::flag::{Flag, Kind as FlagKind};
use crate::log;
use crate::source::{Error, MAX_FILE_BYTES};

pub mod parse;

use parse::{Family, Type};

/// Directory entries looked at per scrape; the rest are ignored (and counted as an error).
pub const MAX_DIR_ENTRIES: usize = 4096;
/// `*.prom` files read per scrape.
pub const MAX_FILES: usize = 256;
/// All files together; a file that would go past this is skipped.
pub const MAX_TOTAL_BYTES: u64 = 32 << 20;

/// Families a file may not define: the meta-metrics written after the collectors run.
const RESERVED_PREFIXES: &[&str] = &[
    "node_scrape_collector_",
    "node_textfile_",
    "process_",
    "proctap_",
];

/// A file that was read, before it is parsed.
#[derive(Debug)]
struct TextFile {
    /// The directory joined with the file name and cleaned, as node_exporter's `file` label.
    path: String,
    text: String,
    mtime: i64,
    /// The identity of what was read, from the open descriptor.
    stamp: Stamp,
    /// Changed so shortly before it was read that a later change could leave `stamp` as it is.
    racy: bool,
}

/// What tells one version of a file from another without reading it: the file itself (device,
/// inode), its size and its mtime and ctime in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Self {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    /// Whether the mtime or ctime is less than [`RACY_NS`] before `read_ns` (or after it): a
    /// rewrite right after the read could then keep the same timestamps (filesystems keep
    /// them at a granularity from nanoseconds to 2 s), so the file is read again next time,
    /// as git treats a "racily clean" index entry.
    fn racy(&self, read_ns: i128) -> bool {
        let ns = |(s, n): (i64, i64)| i128::from(s) * 1_000_000_000 + i128::from(n);
        ns(self.mtime).max(ns(self.ctime)) > read_ns - RACY_NS
    }
}

/// How much older than the moment it was read a file's timestamps must be for the file to be
/// trusted as unchanged while its [`Stamp`] is.
const RACY_NS: i128 = 2_000_000_000;

/// The last scrape that listed the directory and read every file: the files' stamps, the
/// questions it asked [`Encoder::has_family`] with their answers, the files it rejected and its
/// output. While the directory lists the same names, each stats to the same [`Stamp`], none was
/// racily clean and every question gets the same answer, the output would be the same bytes:
/// they are written again and the rejections logged again. A scrape that could not list the
/// directory or read a file is never kept.
#[derive(Default)]
struct Cache {
    valid: bool,
    names: Vec<String>,
    stamps: Vec<(Stamp, bool)>,
    asked: Vec<(String, bool)>,
    /// The warnings for the files it rejected, logged again with every reuse.
    rejected: Vec<String>,
    out: Encoder,
    /// Reused for the stat of each file.
    path: PathBuf,
    /// Reused for the directory's getdents64 records.
    dirents: Vec<u8>,
    /// Whether the last scrape wrote the kept output.
    #[cfg(test)]
    reused: bool,
}

impl Cache {
    /// Whether the files in `dir`, listed in `names`, are those of the kept output, and the
    /// families already in `out` are those it saw.
    fn still_fits(
        &mut self,
        dir: &Path,
        names: &crate::source::NameList,
        out: &Encoder,
        src: &crate::source::Source,
    ) -> bool {
        if !self.valid || names.iter().count() != self.names.len() {
            return false;
        }
        for ((name, kept), &(stamp, racy)) in names.iter().zip(&self.names).zip(&self.stamps) {
            if racy || name != kept {
                return false;
            }
            self.path.clear();
            self.path.push(dir);
            self.path.push(name);
            // A stat can block too (NFS, FUSE): say which file, as a read does.
            src.publish_in(dir, name);
            match std::fs::metadata(&self.path) {
                Ok(m) if m.is_file() && Stamp::of(&m) == stamp => {}
                _ => return false,
            }
        }
        self.asked.iter().all(|(n, a)| out.has_family(n) == *a)
    }

    /// Keeps what was written into `out` from `mark` on, read from `files` (named `names`).
    fn keep(
        &mut self,
        dir: &Path,
        names: &crate::source::NameList,
        files: &[TextFile],
        out: &Encoder,
        mark: usize,
    ) {
        self.names.clear();
        self.names.extend(names.iter().map(str::to_owned));
        self.stamps.clear();
        self.stamps.extend(files.iter().map(|f| (f.stamp, f.racy)));
        self.out.clear();
        self.out.append_from(out, mark);
        self.valid = self.names.len() == self.stamps.len();
        // Room for every file's path now, so that the next scrape does not allocate.
        let longest = self.names.iter().map(String::len).max().unwrap_or(0);
        self.path.clear();
        self.path.reserve(dir.as_os_str().len() + 1 + longest);
    }
}

/// A family merged over the accepted files.
struct Merged<'a> {
    name: &'a str,
    help: Option<&'a str>,
    typ: Type,
    /// (file, family) indexes into the parsed files, in file order.
    parts: Vec<(usize, usize)>,
}

pub const COLLECTOR: Collector = Collector {
    name: "textfile",
    enabled_by_default: true,
    flags: &[Flag::new(
        "collector.textfile.directory",
        FlagKind::Str,
        "DIR",
        "",
        "Directory of *.prom files to merge into the output (taken as given, not under --path.rootfs).",
    )
    .unset_none()],
    help_section: None,
    sources: Sources {
        reads: &[What::TextfileDir],
        hint: "set --collector.textfile.directory to a directory of *.prom files",
    },
    build: Build::New(|s| {
        Ok(Box::new(Textfile {
            directory: s.path("collector.textfile.directory"),
            cache: Cache::default(),
        }))
    }),
};

/// `--collector.textfile.directory`, taken as given (not under --path.rootfs); `None`
/// (node_exporter's default, "") means no textfiles.
pub struct Textfile {
    pub directory: Option<PathBuf>,
    cache: Cache,
}

impl Collect for Textfile {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        collect(self.directory.as_deref(), &mut self.cache, ctx, out)
    }
}

fn collect(
    dir: Option<&Path>,
    cache: &mut Cache,
    ctx: &mut Ctx,
    out: &mut Encoder,
) -> Result<(), Error> {
    let mut errored = false;
    let mark = out.mark();
    let dir = dir.filter(|d| !d.as_os_str().is_empty());
    let mut kept = None;
    if let Some(dir) = dir {
        ctx.src.publish(dir);
        let listed = list_prom_files(dir, &mut ctx.names, &mut cache.dirents);
        if listed && cache.still_fits(dir, &ctx.names, out, &ctx.src) {
            for err in &cache.rejected {
                log::warn("skipping textfile", &[("err", err)]);
            }
            out.append_from(&cache.out, 0);
            #[cfg(test)]
            {
                cache.reused = true;
            }
            return Ok(());
        }
        cache.valid = false;
        #[cfg(test)]
        {
            cache.reused = false;
        }
        errored |= !listed;
        let dir_str = dir.to_string_lossy();
        let mut files: Vec<TextFile> = Vec::new();
        let mut total = 0u64;
        for name in ctx.names.iter() {
            let path = clean_join(&dir_str, name);
            ctx.src.publish(Path::new(&path));
            match read_file(&path, MAX_TOTAL_BYTES.saturating_sub(total)) {
                Ok(f) => {
                    total += f.text.len() as u64;
                    files.push(f);
                }
                Err(msg) => {
                    errored = true;
                    log::warn("skipping textfile", &[("err", &msg)]);
                }
            }
        }
        let read_all = !errored;
        errored |= !merge_and_write(&files, &mut cache.asked, &mut cache.rejected, out);
        // Only a scrape that listed the directory and read every file can be reused.
        kept = Some(files).filter(|_| read_all);
    }
    out.family(
        "node_textfile_scrape_error",
        "1 if there was an error opening or reading a file, 0 otherwise",
        Kind::Gauge,
    );
    out.u64(&[], u64::from(errored));
    if let (Some(dir), Some(files)) = (dir, kept) {
        cache.keep(dir, &ctx.names, &files, out, mark);
    }
    Ok(())
}

/// Lists the `*.prom` names in `dir` into `names`, sorted, with getdents64 into `dirents`
/// (`std::fs::read_dir` allocates for every entry); false (after logging) on a problem.
fn list_prom_files(dir: &Path, names: &mut crate::source::NameList, dirents: &mut Vec<u8>) -> bool {
    names.clear();
    let listed = crate::source::open_dir(dir).and_then(|d| {
        let mut ok = true;
        let (mut seen, mut count) = (0, 0);
        crate::source::for_each_dir_entry(&d, dirents, |name| {
            seen += 1;
            if seen == MAX_DIR_ENTRIES + 1 {
                let err = format!(
                    "{}: more than {MAX_DIR_ENTRIES} entries, the rest are ignored; expected a directory of a few .prom files",
                    dir.display()
                );
                log::warn("textfile directory too large", &[("err", &err)]);
                ok = false;
            }
            if seen > MAX_DIR_ENTRIES || !name.ends_with(b".prom") {
                return;
            }
            let Ok(name) = std::str::from_utf8(name) else {
                let err = format!(
                    "{}: {}: expected a UTF-8 file name",
                    dir.display(),
                    String::from_utf8_lossy(name)
                );
                log::warn("skipping textfile", &[("err", &err)]);
                ok = false;
                return;
            };
            count += 1;
            if count == MAX_FILES + 1 {
                let err = format!(
                    "{}: more than {MAX_FILES} .prom files, the rest are ignored",
                    dir.display()
                );
                log::warn("too many textfiles", &[("err", &err)]);
                ok = false;
            }
            if count <= MAX_FILES {
                names.push(name);
            }
        })?;
        Ok(ok)
    });
    names.sort();
    match listed {
        Ok(ok) => ok,
        Err(e) => {
            let err = format!("{}: {e}; expected a readable directory", dir.display());
            log::warn(
                "failed to read textfile collector directory",
                &[("err", &err)],
            );
            false
        }
    }
}

/// Reads one file of at most `budget` bytes (and at most MAX_FILE_BYTES); the error is a line
/// for the log.
#[cfg_attr(proctap_size, optimize(size))]
fn read_file(path: &str, budget: u64) -> Result<TextFile, String> {
    let limit = budget.min(MAX_FILE_BYTES);
    let fail = |e: std::io::Error| format!("{path}: {e}");
    // A FIFO, socket or device (or a symlink to one) is refused before it is opened; opening a
    // FIFO would block the scrape until a writer came.
    let file = crate::source::open_regular(Path::new(path)).map_err(fail)?;
    // node_exporter stats the file after parsing it; the descriptor's is the same file's.
    let meta = file.metadata().map_err(fail)?;
    let modified = meta.modified().map_err(fail)?;
    let mut text = String::new();
    let n = file
        .take(limit + 1)
        .read_to_string(&mut text)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => format!("{path}: expected UTF-8 text"),
            _ => fail(e),
        })?;
    if n as u64 > limit {
        return Err(if limit < MAX_FILE_BYTES {
            format!("{path}: all textfiles together are larger than {MAX_TOTAL_BYTES} bytes; this one is skipped")
        } else {
            format!("{path}: larger than {MAX_FILE_BYTES} bytes; expected a small file of metrics")
        });
    }
    let mtime = match modified.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    let stamp = Stamp::of(&meta);
    Ok(TextFile {
        path: path.to_owned(),
        text,
        mtime,
        stamp,
        racy: stamp.racy(now),
    })
}

/// Parses and checks every file, writes the families of the accepted ones and their mtimes;
/// false when any file was rejected.
///
/// `asked` gets every family name looked up with [`Encoder::has_family`] and the answer,
/// `rejected` the warning logged for each rejected file.
#[cfg_attr(proctap_size, optimize(size))]
fn merge_and_write(
    files: &[TextFile],
    asked: &mut Vec<(String, bool)>,
    rejected: &mut Vec<String>,
    out: &mut Encoder,
) -> bool {
    asked.clear();
    rejected.clear();
    let mut all_ok = true;
    let mut parsed: Vec<Option<Vec<Family>>> = Vec::with_capacity(files.len());
    for f in files {
        match parse::parse(&f.text) {
            Ok(families) => parsed.push(Some(families)),
            Err(e) => {
                rejected.push(reject(&f.path, e.line, &e.msg));
                all_ok = false;
                parsed.push(None);
            }
        }
    }

    let mut merged: Vec<Merged> = Vec::new();
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    // Series key (name and non-empty labels, sorted) → the file that has it.
    let mut series: HashMap<String, usize> = HashMap::new();
    let mut accepted = vec![false; files.len()];
    for (fi, (file, families)) in files.iter().zip(&parsed).enumerate() {
        let Some(families) = families else { continue };
        match check_file(
            fi,
            families,
            files,
            &merged,
            &by_name,
            &mut series,
            &mut Exported {
                out,
                asked: &mut *asked,
            },
        ) {
            Ok(()) => {
                for (ti, fam) in families.iter().enumerate() {
                    if fam.samples.is_empty() {
                        continue;
                    }
                    let help = fam.help.as_deref();
                    match by_name.get(fam.name).and_then(|&m| merged.get_mut(m)) {
                        Some(m) => {
                            m.help = m.help.or(help);
                            m.parts.push((fi, ti));
                        }
                        None => {
                            by_name.insert(fam.name, merged.len());
                            merged.push(Merged {
                                name: fam.name,
                                help,
                                typ: fam.typ,
                                parts: vec![(fi, ti)],
                            });
                        }
                    }
                }
                accepted[fi] = true;
            }
            Err((line, msg)) => {
                // Its series were entered as they were checked: out with them again.
                series.retain(|_, f| *f != fi);
                rejected.push(reject(&file.path, line, &msg));
                all_ok = false;
            }
        }
    }

    let mut label_names: Vec<&str> = Vec::new();
    let mut labels: Vec<(&str, &str)> = Vec::new();
    let mut default_help = String::new();
    for m in &merged {
        let fams = m.parts.iter().filter_map(|&(fi, ti)| {
            let fam = parsed.get(fi)?.as_ref()?.get(ti)?;
            Some((fi, fam))
        });
        let help = match m.help {
            Some(h) => h,
            None => {
                // node_exporter's text for a family without HELP names every file it is in.
                default_help.clear();
                default_help.push_str("Metric read from ");
                for (i, (fi, _)) in fams.clone().enumerate() {
                    if i > 0 {
                        default_help.push_str(", ");
                    }
                    default_help.push_str(files.get(fi).map_or("", |f| f.path.as_str()));
                }
                &default_help
            }
        };
        let kind = match m.typ {
            Type::Counter => Kind::Counter,
            Type::Gauge => Kind::Gauge,
            _ => Kind::Untyped,
        };
        out.family(m.name, help, kind);
        // Like node_exporter, every sample carries every label name of its family ("" when
        // absent, which Prometheus reads as absent), sorted.
        label_names.clear();
        for (_, fam) in fams.clone() {
            for s in &fam.samples {
                label_names.extend(s.labels.iter().map(|(l, _)| *l));
            }
        }
        label_names.sort_unstable();
        label_names.dedup();
        for (_, fam) in fams {
            for s in &fam.samples {
                labels.clear();
                for &l in &label_names {
                    let v = s.labels.iter().find(|(k, _)| *k == l);
                    labels.push((l, v.map_or("", |(_, v)| v.as_ref())));
                }
                out.f64(&labels, s.value);
            }
        }
    }

    let mut first = true;
    for (f, _) in files.iter().zip(&accepted).filter(|(_, &a)| a) {
        if first {
            out.family(
                "node_textfile_mtime_seconds",
                "Unixtime mtime of textfiles successfully read.",
                Kind::Gauge,
            );
            first = false;
        }
        out.i64(&[("file", &f.path)], f.mtime);
    }
    all_ok
}

/// [`Encoder::has_family`], noting each question and answer for [`Cache`].
struct Exported<'a> {
    out: &'a Encoder,
    asked: &'a mut Vec<(String, bool)>,
}

impl Exported<'_> {
    fn has_family(&mut self, name: &str) -> bool {
        let answer = self.out.has_family(name);
        self.asked.push((name.to_owned(), answer));
        answer
    }
}

/// Logs that the file at `path` is skipped; returns the warning's text.
#[cfg_attr(proctap_size, optimize(size))]
fn reject(path: &str, line: usize, msg: &str) -> String {
    let err = if line > 0 {
        format!("{path}:{line}: {msg}")
    } else {
        format!("{path}: {msg}")
    };
    log::warn("skipping textfile", &[("err", &err)]);
    err
}

/// Checks parsed file number `fi` against what is already exported and the files accepted
/// before it, entering the keys of its series into `series` as it goes (the caller takes them
/// out again when it rejects the file). Returns the line and reason to reject it whole.
#[cfg_attr(proctap_size, optimize(size))]
fn check_file(
    fi: usize,
    families: &[Family],
    files: &[TextFile],
    merged: &[Merged],
    by_name: &HashMap<&str, usize>,
    series: &mut HashMap<String, usize>,
    exported: &mut Exported,
) -> Result<(), (usize, String)> {
    let path_of = |i: usize| files.get(i).map_or("", |f| f.path.as_str());
    for fam in families.iter().filter(|f| !f.samples.is_empty()) {
        let first_line = fam.samples.first().map_or(0, |s| s.line);
        let name = fam.name;
        if let Some(s) = fam.samples.iter().find(|s| s.timestamp.is_some()) {
            return Err((
                s.line,
                "expected no timestamp after the value: client-side timestamps are not supported (node_exporter skips such files too)".into(),
            ));
        }
        if matches!(fam.typ, Type::Histogram | Type::Summary) {
            return Err((
                first_line,
                format!(
                    "{name} is a {}; proctap's textfile collector supports counter, gauge and untyped families",
                    fam.typ.as_str()
                ),
            ));
        }
        if RESERVED_PREFIXES.iter().any(|p| name.starts_with(p)) {
            return Err((
                first_line,
                format!("{name} is reserved for proctap's own metrics; expected another name"),
            ));
        }
        match by_name.get(name).and_then(|&m| merged.get(m)) {
            None => {
                if exported.has_family(name) {
                    return Err((
                        first_line,
                        format!(
                            "{name} is already exported by a proctap collector; expected another name"
                        ),
                    ));
                }
            }
            Some(m) => {
                let earlier = m.parts.first().map_or("", |&(f, _)| path_of(f));
                if m.typ != fam.typ {
                    return Err((
                        first_line,
                        format!(
                            "{name} is {} here but {} in {earlier}; expected the same TYPE in every file",
                            fam.typ.as_str(),
                            m.typ.as_str()
                        ),
                    ));
                }
                if let (Some(a), Some(b)) = (m.help, fam.help.as_deref()) {
                    if a != b {
                        return Err((
                            first_line,
                            format!("{name} has HELP {b:?} here but {a:?} in {earlier}; expected the same HELP in every file"),
                        ));
                    }
                }
            }
        }
        for s in &fam.samples {
            let key = series_key(s);
            // Hashed: a file of 150,000 series must not take 150,000² comparisons.
            let dup = match series.get(&key) {
                Some(&f) if f == fi => Some("earlier in this file"),
                Some(&f) => Some(path_of(f)),
                None => None,
            };
            if let Some(where_) = dup {
                return Err((
                    s.line,
                    format!(
                        "series {} is already read from {where_}; expected each series once",
                        show_series(s)
                    ),
                ));
            }
            series.insert(key, fi);
        }
    }
    Ok(())
}

/// `name` then the labels with non-empty values sorted by name: series that Prometheus would
/// store as one series get the same key.
#[cfg_attr(proctap_size, optimize(size))]
fn series_key(s: &parse::Sample) -> String {
    let mut labels: Vec<(&str, &str)> = s
        .labels
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (*k, v.as_ref()))
        .collect();
    labels.sort_unstable();
    let mut key = String::from(s.name);
    for (k, v) in labels {
        key.push('\u{1}');
        key.push_str(k);
        key.push('\u{2}');
        key.push_str(v);
    }
    key
}

/// `name{a="1",b="x"}` for messages.
#[cfg_attr(proctap_size, optimize(size))]
fn show_series(s: &parse::Sample) -> String {
    let mut out = String::from(s.name);
    for (i, (k, v)) in s.labels.iter().enumerate() {
        out.push(if i == 0 { '{' } else { ',' });
        out.push_str(k);
        out.push('=');
        out.push_str(&format!("{v:?}"));
    }
    if !s.labels.is_empty() {
        out.push('}');
    }
    out
}

/// `dir/name` cleaned like Go's filepath.Join (which node_exporter uses for the `file` label):
/// no doubled slashes, no `.` components, `..` resolved lexically.
fn clean_join(dir: &str, name: &str) -> String {
    let rooted = dir.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for p in dir.split('/').chain(std::iter::once(name)) {
        match p {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_ctx;
    use std::path::PathBuf;

    /// A fresh directory with `files` in it, under the system temp dir.
    fn dir_with(test: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("proctap-textfile-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        dir
    }

    /// Runs the collector on `dir` after `before` wrote into the encoder; returns the output.
    fn run(dir: Option<PathBuf>, before: impl FnOnce(&mut Encoder)) -> String {
        let mut ctx = fixture_ctx();
        let mut out = Encoder::new();
        before(&mut out);
        collect(dir.as_deref(), &mut Cache::default(), &mut ctx, &mut out).unwrap();
        String::from_utf8(out.as_bytes().to_vec()).unwrap()
    }

    /// The output without the mtime samples, whose values depend on when the test ran.
    fn without_mtimes(out: &str) -> String {
        out.lines()
            .filter(|l| !l.starts_with("node_textfile_mtime_seconds{"))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    #[test]
    fn no_directory_writes_only_the_error_gauge() {
        let want = "# HELP node_textfile_scrape_error 1 if there was an error opening or reading a file, 0 otherwise\n# TYPE node_textfile_scrape_error gauge\nnode_textfile_scrape_error 0\n";
        assert_eq!(run(None, |_| {}), want);
        assert_eq!(run(Some(PathBuf::new()), |_| {}), want);
    }

    #[test]
    fn missing_directory_is_an_error_not_a_failure() {
        let out = run(Some("/nonexistent-proctap-textfile".into()), |_| {});
        assert!(out.ends_with("node_textfile_scrape_error 1\n"), "{out}");
    }

    #[test]
    fn repo_fixtures() {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/textfile"));
        let out = run(Some(dir.clone()), |_| {});
        let d = dir.display();
        let want = "\
# HELP backup_last_success_timestamp_seconds Unix time the last successful backup finished.
# TYPE backup_last_success_timestamp_seconds gauge
backup_last_success_timestamp_seconds{repository=\"nas\",target=\"/etc\"} 1795300012
backup_last_success_timestamp_seconds{repository=\"nas\",target=\"/srv/data\"} 1795301847.25
# HELP backup_bytes_added_total Bytes added to the repository by backups.
# TYPE backup_bytes_added_total counter
backup_bytes_added_total{repository=\"nas\"} 18446744073709
backup_bytes_added_total{repository=\"usb\"} 5368709120
# HELP app_queue_depth Jobs waiting in the app's queue.
# TYPE app_queue_depth gauge
app_queue_depth{queue=\"mail\"} 3
app_queue_depth{queue=\"thumbnails \\\"hi-res\\\"\"} 0
# HELP app_last_error_ratio Share of failed jobs in the last hour.
# TYPE app_last_error_ratio gauge
app_last_error_ratio NaN
# HELP node_textfile_mtime_seconds Unixtime mtime of textfiles successfully read.
# TYPE node_textfile_mtime_seconds gauge
# HELP node_textfile_scrape_error 1 if there was an error opening or reading a file, 0 otherwise
# TYPE node_textfile_scrape_error gauge
node_textfile_scrape_error 0
";
        assert_eq!(without_mtimes(&out), want);
        assert!(out.contains(&format!(
            "node_textfile_mtime_seconds{{file=\"{d}/backup.prom\"}} "
        )));
        assert!(out.contains(&format!(
            "node_textfile_mtime_seconds{{file=\"{d}/sensors-app.prom\"}} "
        )));
    }

    #[test]
    fn mtime_is_whole_seconds_of_the_full_path() {
        let dir = dir_with("mtime", &[("a.prom", "a 1\n"), ("notes.txt", "not 1\n")]);
        let f = std::fs::File::options()
            .write(true)
            .open(dir.join("a.prom"))
            .unwrap();
        f.set_modified(UNIX_EPOCH + std::time::Duration::from_millis(1_795_302_000_750))
            .unwrap();
        // A trailing slash and a "." are cleaned away like Go's filepath.Join does.
        let out = run(Some(dir.join(".").join("")), |_| {});
        let want = format!(
            "node_textfile_mtime_seconds{{file=\"{}/a.prom\"}} 1795302000\n",
            dir.display()
        );
        assert!(out.contains(&want), "{out}");
        assert!(out.contains("# HELP a Metric read from "), "{out}");
        assert!(!out.contains("not 1"), "only *.prom files are read");
        assert!(out.ends_with("node_textfile_scrape_error 0\n"));
    }

    #[test]
    fn bad_file_is_skipped_whole_and_the_others_merged() {
        let dir = dir_with(
            "bad",
            &[
                ("a.prom", "good_a 1\n"),
                ("b.prom", "half_merged 1\nbroken{ 2\n"),
                ("c.prom", "stamped 1 1700000000000\n"),
                ("d.prom", "good_d 4\n"),
            ],
        );
        let out = run(Some(dir.clone()), |_| {});
        assert!(
            out.contains("\ngood_a 1\n") && out.contains("\ngood_d 4\n"),
            "{out}"
        );
        assert!(
            !out.contains("half_merged") && !out.contains("stamped"),
            "{out}"
        );
        let d = dir.display();
        assert!(out.contains(&format!("{{file=\"{d}/a.prom\"}}")));
        assert!(!out.contains(&format!("{{file=\"{d}/b.prom\"}}")));
        assert!(!out.contains(&format!("{{file=\"{d}/c.prom\"}}")));
        assert!(out.ends_with("node_textfile_scrape_error 1\n"));
    }

    #[test]
    fn shared_family_is_merged_with_one_help_and_type() {
        let dir = dir_with(
            "merge",
            &[
                ("a.prom", "# HELP jobs_total Jobs run.\n# TYPE jobs_total counter\njobs_total{job=\"a\"} 1\nsolo 5\n"),
                ("b.prom", "# TYPE jobs_total counter\njobs_total{job=\"b\",host=\"x\"} 2\n"),
                ("c.prom", "# HELP jobs_total Jobs run.\n# TYPE jobs_total counter\njobs_total{job=\"c\"} 3\n"),
                ("d.prom", "nohelp 1\n"),
                ("e.prom", "nohelp{x=\"1\"} 2\n"),
            ],
        );
        let out = without_mtimes(&run(Some(dir.clone()), |_| {}));
        let d = dir.display();
        let want = format!(
            "\
# HELP jobs_total Jobs run.
# TYPE jobs_total counter
jobs_total{{host=\"\",job=\"a\"}} 1
jobs_total{{host=\"x\",job=\"b\"}} 2
jobs_total{{host=\"\",job=\"c\"}} 3
# HELP solo Metric read from {d}/a.prom
# TYPE solo untyped
solo 5
# HELP nohelp Metric read from {d}/d.prom, {d}/e.prom
# TYPE nohelp untyped
nohelp{{x=\"\"}} 1
nohelp{{x=\"1\"}} 2
# HELP node_textfile_mtime_seconds Unixtime mtime of textfiles successfully read.
# TYPE node_textfile_mtime_seconds gauge
# HELP node_textfile_scrape_error 1 if there was an error opening or reading a file, 0 otherwise
# TYPE node_textfile_scrape_error gauge
node_textfile_scrape_error 0
"
        );
        assert_eq!(out, want);
    }

    #[test]
    fn conflicting_type_or_help_rejects_the_later_file() {
        let dir = dir_with(
            "conflict",
            &[
                ("a.prom", "# HELP m First.\n# TYPE m gauge\nm{f=\"a\"} 1\n"),
                ("b.prom", "# TYPE m counter\nm{f=\"b\"} 2\nother_b 1\n"),
                ("c.prom", "# HELP m Second.\nm{f=\"c\"} 3\n"),
                ("d.prom", "# TYPE m gauge\nm{f=\"d\"} 4\n"),
            ],
        );
        let out = run(Some(dir), |_| {});
        assert!(
            out.contains("# HELP m First.\n# TYPE m gauge\nm{f=\"a\"} 1\nm{f=\"d\"} 4\n"),
            "{out}"
        );
        assert!(
            !out.contains("other_b") && !out.contains("f=\"c\""),
            "{out}"
        );
        assert!(out.ends_with("node_textfile_scrape_error 1\n"));
    }

    #[test]
    fn family_proctap_already_exports_is_rejected() {
        let dir = dir_with(
            "collide",
            &[
                ("a.prom", "node_load1 7\nmine 1\n"),
                ("b.prom", "proctap_build_info 1\n"),
                ("c.prom", "process_open_fds 1\n"),
                ("d.prom", "node_textfile_scrape_error 0\n"),
                ("e.prom", "node_load15 2\n"),
            ],
        );
        let out = run(Some(dir.clone()), |out| {
            out.family("node_load1", "1m load average.", Kind::Gauge);
            out.f64(&[], 0.5);
        });
        assert!(out.starts_with("# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\nnode_load1 0.5\n# HELP node_load15 "), "{out}");
        assert!(!out.contains("node_load1 7") && !out.contains("mine"));
        assert!(!out.contains("proctap_build_info") && !out.contains("process_open_fds"));
        assert_eq!(out.matches("node_textfile_scrape_error 0").count(), 0);
        let d = dir.display();
        assert!(out.contains(&format!("{{file=\"{d}/e.prom\"}}")));
        assert!(out.ends_with("node_textfile_scrape_error 1\n"));
    }

    #[test]
    fn duplicate_series_rejects_the_later_file() {
        let dir = dir_with(
            "dup",
            &[
                ("a.prom", "up_jobs{b=\"2\",a=\"1\"} 1\n"),
                // The same series: label order and empty labels do not make it another one.
                ("b.prom", "up_jobs{a=\"1\",b=\"2\",c=\"\"} 9\nfrom_b 1\n"),
                ("c.prom", "twice 1\ntwice 2\n"),
                ("d.prom", "up_jobs{a=\"2\"} 3\n"),
            ],
        );
        let out = run(Some(dir), |_| {});
        assert!(
            out.contains("up_jobs{a=\"1\",b=\"2\"} 1\nup_jobs{a=\"2\",b=\"\"} 3\n"),
            "{out}"
        );
        assert!(!out.contains(" 9\n") && !out.contains("from_b") && !out.contains("twice"));
        assert!(out.ends_with("node_textfile_scrape_error 1\n"));
    }

    #[test]
    fn a_rejected_files_series_do_not_count_against_later_files() {
        let dir = dir_with(
            "dup-rejected",
            &[
                // Rejected at its third line, after `kept` and `other` were checked.
                ("a.prom", "kept 1\nother 1\nother 2\n"),
                ("b.prom", "kept 5\nother 6\n"),
            ],
        );
        let out = run(Some(dir), |_| {});
        assert!(
            out.contains("\nkept 5\n") && out.contains("\nother 6\n"),
            "{out}"
        );
        assert!(!out.contains("kept 1") && !out.contains("other 1"), "{out}");
        assert!(out.ends_with("node_textfile_scrape_error 1\n"), "{out}");
    }

    #[test]
    fn histograms_and_summaries_are_refused_for_now() {
        let dir = dir_with(
            "hist",
            &[(
                "h.prom",
                "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
            )],
        );
        let out = run(Some(dir), |_| {});
        assert!(!out.contains("h_bucket"));
        assert!(out.ends_with("node_textfile_scrape_error 1\n"));
    }

    #[test]
    fn oversized_and_unreadable_files_are_counted() {
        let big = "x 1\n".repeat((MAX_FILE_BYTES / 4 + 1) as usize);
        let dir = dir_with("big", &[("big.prom", &big), ("ok.prom", "ok 1\n")]);
        std::fs::create_dir(dir.join("dir.prom")).unwrap();
        std::fs::write(dir.join("latin1.prom"), b"m{a=\"\xe9\"} 1\n").unwrap();
        let out = run(Some(dir), |_| {});
        assert!(out.contains("\nok 1\n") && !out.contains("\nx 1\n"));
        assert_eq!(
            out.matches("node_textfile_mtime_seconds{").count(),
            1,
            "{out}"
        );
        assert!(out.ends_with("node_textfile_scrape_error 1\n"));
        assert!(read_file("/nonexistent/a.prom", 1)
            .unwrap_err()
            .starts_with("/nonexistent/a.prom: "));
    }

    #[test]
    fn paths_are_cleaned_like_go() {
        assert_eq!(
            clean_join("/var/lib/node/", "a.prom"),
            "/var/lib/node/a.prom"
        );
        assert_eq!(
            clean_join("/var//lib/./x/../node", "a.prom"),
            "/var/lib/node/a.prom"
        );
        assert_eq!(clean_join("./tf", "a.prom"), "tf/a.prom");
        assert_eq!(clean_join("../tf", "a.prom"), "../tf/a.prom");
        assert_eq!(clean_join("/", "a.prom"), "/a.prom");
    }

    /// Scrapes `dir` with `cache` after `before` wrote into the encoder; the output and whether
    /// the cache's output was written (the files were not read).
    fn scrape(dir: &Path, cache: &mut Cache, before: impl FnOnce(&mut Encoder)) -> (String, bool) {
        let mut ctx = fixture_ctx();
        let mut out = Encoder::new();
        before(&mut out);
        collect(Some(dir), cache, &mut ctx, &mut out).unwrap();
        let out = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        (out, cache.reused)
    }

    /// As if the files had been read long after they were last changed.
    fn age(cache: &mut Cache) {
        for (_, racy) in &mut cache.stamps {
            *racy = false;
        }
    }

    #[test]
    fn a_file_changed_just_before_it_was_read_is_read_again() {
        let s = 1_795_302_000_i64;
        let at = |sec: i64, ns: i64| Stamp {
            dev: 1,
            ino: 2,
            size: 3,
            mtime: (sec, ns),
            ctime: (sec, ns),
        };
        let read = |sec: i64, ns: i64| i128::from(sec) * 1_000_000_000 + i128::from(ns);
        assert!(!at(s, 0).racy(read(s + 2, 1)));
        assert!(!at(s, 0).racy(read(s + 2, 0)));
        assert!(at(s, 1).racy(read(s + 2, 0)));
        assert!(at(s, 0).racy(read(s, 0)));
        // A timestamp in the future (a skewed clock) is never trusted.
        assert!(at(s + 60, 0).racy(read(s, 0)));
        // The ctime counts too: set_modified can put the mtime back, not the ctime.
        let back = Stamp {
            mtime: (s - 3600, 0),
            ..at(s, 0)
        };
        assert!(back.racy(read(s + 1, 0)));

        // Files just written are racily clean: every scrape reads them.
        let dir = dir_with("racy", &[("a.prom", "a 1\n")]);
        let mut cache = Cache::default();
        let (first, _) = scrape(&dir, &mut cache, |_| {});
        assert!(cache.valid && cache.stamps.iter().all(|&(_, r)| r));
        std::fs::write(dir.join("a.prom"), "a 2\n").unwrap();
        let (second, reused) = scrape(&dir, &mut cache, |_| {});
        assert!(!reused && first.contains("\na 1\n") && second.contains("\na 2\n"));
    }

    #[test]
    fn unchanged_files_are_written_from_the_last_scrape() {
        let dir = dir_with(
            "cache",
            &[
                ("a.prom", "# HELP jobs_total Jobs run.\n# TYPE jobs_total counter\njobs_total{job=\"a\"} 1\n"),
                ("b.prom", "# TYPE jobs_total counter\njobs_total{job=\"b\"} 2\nnohelp 1\n"),
            ],
        );
        let mut cache = Cache::default();
        let (first, reused) = scrape(&dir, &mut cache, |_| {});
        assert!(
            !reused && first.contains("jobs_total{job=\"b\"} 2\n"),
            "{first}"
        );
        assert!(first.ends_with("node_textfile_scrape_error 0\n"));
        age(&mut cache);
        let (second, reused) = scrape(&dir, &mut cache, |_| {});
        assert!(reused);
        assert_eq!(second, first);

        // A rewritten file is read again (the new inode, size and times differ).
        std::fs::write(
            dir.join("b.prom"),
            "# TYPE jobs_total counter\njobs_total{job=\"b\"} 3\nnohelp 1\n",
        )
        .unwrap();
        let (third, reused) = scrape(&dir, &mut cache, |_| {});
        assert!(
            !reused && third.contains("jobs_total{job=\"b\"} 3\n"),
            "{third}"
        );

        // An added file, then a removed one.
        age(&mut cache);
        std::fs::write(dir.join("c.prom"), "added 1\n").unwrap();
        let (fourth, reused) = scrape(&dir, &mut cache, |_| {});
        assert!(!reused && fourth.contains("\nadded 1\n"), "{fourth}");
        age(&mut cache);
        assert!(scrape(&dir, &mut cache, |_| {}).1);
        std::fs::remove_file(dir.join("a.prom")).unwrap();
        let (fifth, reused) = scrape(&dir, &mut cache, |_| {});
        assert!(!reused && !fifth.contains("job=\"a\"") && !fifth.contains("a.prom"));
        assert!(
            fifth.contains("# HELP jobs_total Metric read from "),
            "{fifth}"
        );

        // A family that another collector starts exporting rejects the file that has it.
        age(&mut cache);
        let (sixth, reused) = scrape(&dir, &mut cache, |out| {
            out.family("added", "Now a proctap metric.", Kind::Gauge);
            out.f64(&[], 0.0);
        });
        assert!(!reused && !sixth.contains("\nadded 1\n"), "{sixth}");
        assert!(sixth.ends_with("node_textfile_scrape_error 1\n"));
    }

    #[test]
    fn a_rejected_file_stays_rejected_when_reused() {
        let dir = dir_with(
            "cache-rejected",
            &[
                ("good.prom", "good 1\n"),
                (
                    "h.prom",
                    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
                ),
            ],
        );
        let mut cache = Cache::default();
        let (first, _) = scrape(&dir, &mut cache, |_| {});
        assert!(first.contains("\ngood 1\n") && !first.contains("h_bucket"));
        assert!(first.ends_with("node_textfile_scrape_error 1\n"));
        assert_eq!(cache.rejected.len(), 1, "{:?}", cache.rejected);
        assert!(cache.rejected[0].ends_with("/h.prom:2: h is a histogram; proctap's textfile collector supports counter, gauge and untyped families"), "{:?}", cache.rejected);
        age(&mut cache);
        let (second, reused) = scrape(&dir, &mut cache, |_| {});
        assert!(reused);
        assert_eq!(second, first);
    }

    #[test]
    fn a_file_that_cannot_be_read_is_not_reused() {
        let dir = dir_with("cache-unreadable", &[("ok.prom", "ok 1\n")]);
        std::fs::write(dir.join("latin1.prom"), b"m{a=\"\xe9\"} 1\n").unwrap();
        let mut cache = Cache::default();
        let (first, _) = scrape(&dir, &mut cache, |_| {});
        assert!(first.contains("\nok 1\n") && first.ends_with("node_textfile_scrape_error 1\n"));
        assert!(!cache.valid);
    }
}
