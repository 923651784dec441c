//! `proctap check`: runs one collection and reports, per enabled collector, whether it worked,
//! how many series it exports, and which of its sources exist and are readable here, with what
//! would enable the missing ones (a capability, a flag, a kernel option).
//!
//! Each collector's sources are in its table entry (`Collector::sources`).
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use crate::collector::{Scraper, What, ALL};
use crate::netlink::NlError;
use crate::source::open_dir;

/// The state of one source.
enum Found {
    Readable(Option<usize>),
    Missing,
    Denied,
    Broken(io::Error),
}

#[cfg_attr(proctap_size, optimize(size))]
fn probe_file(path: &Path) -> Found {
    match std::fs::File::open(path) {
        Ok(f) if f.metadata().is_ok_and(|m| m.is_dir()) => {
            Found::Broken(io::Error::other("a directory, expected a file"))
        }
        Ok(_) => Found::Readable(None),
        Err(e) => classify(e),
    }
}

#[cfg_attr(proctap_size, optimize(size))]
fn probe_dir(path: &Path) -> Found {
    match open_dir(path) {
        Ok(_) => Found::Readable(std::fs::read_dir(path).ok().map(|d| d.count())),
        Err(e) => classify(e),
    }
}

/// Tries `/proc/<pid>/<file>` for every process: (readable, denied, missing).
#[cfg_attr(proctap_size, optimize(size))]
fn probe_per_process(procfs: &Path, file: &str) -> (usize, usize, usize) {
    let (mut ok, mut denied, mut missing) = (0, 0, 0);
    let Ok(entries) = std::fs::read_dir(procfs) else {
        return (0, 0, 0);
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if !name
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let p = e.path().join(file);
        let opened = if file == "fd" {
            open_dir(&p).map(drop)
        } else {
            std::fs::File::open(&p).map(drop)
        };
        match opened {
            Ok(()) => ok += 1,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => denied += 1,
            // A kernel without the file, when its process is still there.
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                if std::fs::symlink_metadata(e.path()).is_ok() {
                    missing += 1;
                }
            }
            Err(_) => {} // gone in between
        }
    }
    (ok, denied, missing)
}

#[cfg_attr(proctap_size, optimize(size))]
fn classify(e: io::Error) -> Found {
    match e.kind() {
        io::ErrorKind::NotFound => Found::Missing,
        io::ErrorKind::PermissionDenied => Found::Denied,
        _ => Found::Broken(e),
    }
}

/// Runs one collection and writes the report; true when every enabled collector succeeded.
#[cfg_attr(proctap_size, optimize(size))]
pub fn report(scraper: &mut Scraper, textfile_dir: Option<&Path>, out: &mut String) -> bool {
    let all_ok = scraper.scrape();
    let text = scraper.out.as_bytes();
    let src = &mut scraper.ctx.src;
    let _ = writeln!(
        out,
        "proctap check: --path.procfs={} --path.sysfs={} --path.rootfs={} --path.udev.data={}",
        src.procfs.display(),
        src.sysfs.display(),
        src.rootfs.display(),
        src.udev.display()
    );
    let (mut failed, mut absent) = (0, 0);
    for (outcome, &i) in scraper.outcomes.iter().zip(&scraper.enabled) {
        let Some(c) = ALL.get(i) else { continue };
        let series = text
            .get(outcome.span.clone())
            .unwrap_or(&[])
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
            .count();
        failed += usize::from(!outcome.ok && !outcome.unavailable);
        absent += usize::from(outcome.unavailable);
        let status = match (outcome.ok, outcome.unavailable) {
            (true, _) => "ok",
            // The kernel lacks the feature: reported, but not a failure.
            (false, true) => "absent",
            (false, false) => "FAILED",
        };
        let _ = writeln!(out, "{:<13} {status:<8}{series:>6} series", c.name);
        let sources = &c.sources;
        let mut need_hint = false;
        for what in sources.reads {
            let (path, found, optional) = match *what {
                What::File(root, rel) => {
                    let p = src.path(root, &[rel]).to_path_buf();
                    let f = probe_file(&p);
                    (p, f, false)
                }
                What::Optional(root, rel) => {
                    let p = src.path(root, &[rel]).to_path_buf();
                    let f = probe_file(&p);
                    (p, f, true)
                }
                What::Dir(root, rel) => {
                    let p = src.path(root, &[rel]).to_path_buf();
                    let f = probe_dir(&p);
                    (p, f, false)
                }
                What::PerProcess(file) => {
                    let (ok, denied, missing) = probe_per_process(&src.procfs, file);
                    if ok == 0 && denied == 0 && missing > 0 {
                        // Reported here once; the collector does without it.
                        let _ = writeln!(
                            out,
                            "    absent      {}/[pid]/{file}: not provided by this kernel",
                            src.procfs.display()
                        );
                        continue;
                    }
                    let _ = writeln!(
                        out,
                        "    {:<11} {}/[pid]/{file}: {ok} readable, {denied} denied",
                        if denied == 0 { "readable" } else { "partly" },
                        src.procfs.display()
                    );
                    need_hint |= denied > 0;
                    continue;
                }
                What::Netlink(family, asks) => {
                    let state = match family.probe() {
                        Ok(()) => "readable   ",
                        Err(NlError::Io(e)) if e.raw_os_error() == Some(libc::ENOENT) => {
                            need_hint = true;
                            "missing    "
                        }
                        Err(NlError::Io(e)) if e.kind() == io::ErrorKind::PermissionDenied => {
                            need_hint = true;
                            "denied     "
                        }
                        Err(_) => {
                            need_hint = true;
                            "unreadable "
                        }
                    };
                    let _ = writeln!(out, "    {state} netlink {} ({asks})", family.name());
                    continue;
                }
                What::TextfileDir => match textfile_dir {
                    Some(d) => (d.to_path_buf(), probe_dir(d), false),
                    None => {
                        let _ = writeln!(out, "    not set     --collector.textfile.directory");
                        need_hint = true;
                        continue;
                    }
                },
            };
            let state = match &found {
                Found::Readable(Some(n)) => format!("readable    {} ({n} entries)", path.display()),
                Found::Readable(None) => format!("readable    {}", path.display()),
                Found::Missing if optional => format!("absent      {} (optional)", path.display()),
                Found::Missing => format!("missing     {}", path.display()),
                Found::Denied => format!("denied      {}", path.display()),
                Found::Broken(e) => format!("unreadable  {}: {e}", path.display()),
            };
            let fine = match found {
                Found::Readable(_) => true,
                Found::Missing => optional,
                Found::Denied | Found::Broken(_) => false,
            };
            need_hint |= !fine;
            let _ = writeln!(out, "    {state}");
        }
        if let Some(err) = outcome.error.as_deref().filter(|_| !outcome.ok) {
            let _ = writeln!(out, "    error       {err}");
        }
        if need_hint || !outcome.ok {
            if let Some(h) = Some(sources.hint).filter(|h| !h.is_empty()) {
                let _ = writeln!(out, "    to enable   {h}");
            }
        }
    }
    let n = scraper.enabled.len();
    if failed == 0 && absent == 0 {
        let _ = writeln!(out, "all {n} enabled collectors work");
    } else if failed == 0 {
        let _ = writeln!(
            out,
            "{} of {n} enabled collectors work; {absent} {} no source on this kernel (see \"to enable\")",
            n - absent,
            if absent == 1 { "has" } else { "have" }
        );
    } else {
        let _ = writeln!(out, "{failed} of {n} enabled collectors failed");
    }
    all_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_process_files_are_counted() {
        let procfs = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/proc"));
        let (ok, denied, missing) = probe_per_process(procfs, "stat");
        assert_eq!(
            (ok, denied, missing),
            (15, 0, 1),
            "the 15 fixture PIDs; 1 has only mounts"
        );
        let dir = std::env::temp_dir().join(format!("proctap-check-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("12/fd")).unwrap();
        std::fs::create_dir_all(dir.join("13")).unwrap();
        std::fs::write(dir.join("13/io"), "rchar: 1\n").unwrap();
        assert_eq!(probe_per_process(&dir, "fd"), (1, 0, 1));
        assert_eq!(
            probe_per_process(&dir, "io"),
            (1, 0, 1),
            "a missing file is not denied"
        );
        assert_eq!(
            probe_per_process(&dir, "sched"),
            (0, 0, 2),
            "no process has it"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
