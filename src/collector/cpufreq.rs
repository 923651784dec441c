//! `cpufreq`: /sys/devices/system/cpu/cpuN/cpufreq → node_cpu_frequency_{,min_,max_}hertz and
//! node_cpu_scaling_frequency_{,min_,max_}hertz{cpu}, as node_exporter 1.5 reports them.
//!
//! node_exporter 1.5 (procfs 0.8) takes every `cpu[0-9]*` directory that has a `cpufreq`
//! entry. A frequency file that is missing or unreadable (`cpuinfo_cur_freq` is root-only)
//! gives no sample; one that does not parse fails the collector. The five text files
//! (`scaling_available_governors`, `scaling_driver`, `scaling_governor`, `related_cpus`,
//! `scaling_setspeed`) are not exported by 1.5, but a missing one fails the collector, so they
//! are read too. 1.5 has no `node_cpu_scaling_governor`.
use std::io::ErrorKind;

use crate::collector::{Collector, Ctx, Sources, What};
use crate::expo::{u64_str, Encoder, Kind};
use crate::source::{open_dir, read_at, Error, ParseError, Root};

/// The kHz files, metric names and HELP, in output order.
const FREQS: [(&str, &str, &str); 6] = [
    (
        "cpuinfo_cur_freq",
        "node_cpu_frequency_hertz",
        "Current cpu thread frequency in hertz.",
    ),
    (
        "cpuinfo_max_freq",
        "node_cpu_frequency_max_hertz",
        "Maximum cpu thread frequency in hertz.",
    ),
    (
        "cpuinfo_min_freq",
        "node_cpu_frequency_min_hertz",
        "Minimum cpu thread frequency in hertz.",
    ),
    (
        "scaling_cur_freq",
        "node_cpu_scaling_frequency_hertz",
        "Current scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_max_freq",
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_min_freq",
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
    ),
];

/// Read by procfs (and required by it) although node_exporter 1.5 exports neither of them.
const OTHER_UINTS: [&str; 1] = ["cpuinfo_transition_latency"];
const REQUIRED_TEXT: [&str; 5] = [
    "scaling_available_governors",
    "scaling_driver",
    "scaling_governor",
    "related_cpus",
    "scaling_setspeed",
];

/// The CPU number of a `cpu[0-9]*` entry (`cpu12` → `12`), as the glob procfs uses selects them.
pub fn cpu_name(entry: &str) -> Option<&str> {
    entry
        .strip_prefix("cpu")
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// Parses a kHz file as procfs's `ReadUintFromFile` does: trimmed, decimal.
pub fn parse_khz(text: &str) -> Result<u64, ParseError> {
    let t = text.trim();
    t.parse::<u64>().map_err(|_| {
        ParseError::new(
            1,
            format!("expected an unsigned decimal frequency in kHz, found {t:?}"),
        )
    })
}

pub const COLLECTOR: Collector = Collector::plain(
    "cpufreq",
    collect,
    Sources {
        reads: &[What::Dir(Root::Sys, "devices/system/cpu")],
        hint: "a kernel with CONFIG_CPU_FREQ; VMs often have none",
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    ctx.src
        .list_dir(Root::Sys, &["devices/system/cpu"], &mut ctx.names)?;
    // One line per CPU in buf2: its number, then each of FREQS in kHz or `-`, so each family
    // is written from what one pass read.
    ctx.buf2.clear();
    let mut any = [false; FREQS.len()];
    let mut attr = [0u8; 128];
    let mut digits = [0u8; 20];
    for entry in ctx.names.iter() {
        let Some(cpu) = cpu_name(entry) else { continue };
        let dir = "devices/system/cpu/";
        // The files are read relative to the opened `cpufreq` directory: the kernel resolves
        // the path and its symlink to the policy once per CPU, not once per file.
        let freq_dir = match open_dir(ctx.src.path(Root::Sys, &[dir, entry, "/cpufreq"])) {
            Ok(d) => d,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(err) => {
                return Err(Error::Io {
                    path: ctx.src.last_path().to_path_buf(),
                    err,
                })
            }
        };
        ctx.buf2.push_str(cpu);
        let files = FREQS.iter().map(|f| f.0).chain(OTHER_UINTS);
        for (i, file) in files.enumerate() {
            match read_at(&freq_dir, file, &mut attr) {
                Ok(n) => {
                    let khz = std::str::from_utf8(attr.get(..n).unwrap_or_default())
                        .map_err(|_| ParseError::new(1, "expected UTF-8 text"))
                        .and_then(parse_khz)
                        .map_err(|e| {
                            ctx.src.path(Root::Sys, &[dir, entry, "/cpufreq/", file]);
                            ctx.src.parse_error(e)
                        })?;
                    if let Some(seen) = any.get_mut(i) {
                        *seen = true;
                        ctx.buf2.push(' ');
                        ctx.buf2.push_str(u64_str(&mut digits, khz));
                    }
                }
                Err(err)
                    if matches!(
                        err.kind(),
                        ErrorKind::NotFound | ErrorKind::PermissionDenied
                    ) =>
                {
                    if i < FREQS.len() {
                        ctx.buf2.push_str(" -");
                    }
                }
                Err(err) => {
                    return Err(Error::Io {
                        path: ctx
                            .src
                            .path(Root::Sys, &[dir, entry, "/cpufreq/", file])
                            .to_path_buf(),
                        err,
                    })
                }
            }
        }
        for file in REQUIRED_TEXT {
            read_at(&freq_dir, file, &mut attr).map_err(|err| Error::Io {
                path: ctx
                    .src
                    .path(Root::Sys, &[dir, entry, "/cpufreq/", file])
                    .to_path_buf(),
                err,
            })?;
        }
        ctx.buf2.push('\n');
    }

    for (i, (_, name, help)) in FREQS.iter().enumerate() {
        if !any.get(i).copied().unwrap_or(false) {
            continue;
        }
        out.family(name, help, Kind::Gauge);
        for line in ctx.buf2.lines() {
            let mut fields = line.split(' ');
            let cpu = fields.next().unwrap_or_default();
            // Written above from a parsed u64, so only `-` fails to parse.
            if let Some(Ok(khz)) = fields.nth(i).map(str::parse::<u64>) {
                match khz.checked_mul(1000) {
                    Some(hz) => out.u64(&[("cpu", cpu)], hz),
                    None => out.f64(&[("cpu", cpu)], khz as f64 * 1000.0),
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_entries_like_the_procfs_glob() {
        assert_eq!(cpu_name("cpu0"), Some("0"));
        assert_eq!(cpu_name("cpu127"), Some("127"));
        assert_eq!(cpu_name("cpufreq"), None);
        assert_eq!(cpu_name("cpuidle"), None);
        assert_eq!(cpu_name("cpu"), None);
        assert_eq!(cpu_name("isolated"), None);
    }

    #[test]
    fn khz_intel_pstate_debian12() {
        assert_eq!(parse_khz("2799974\n"), Ok(2_799_974));
        assert_eq!(parse_khz(" 1200000 \n"), Ok(1_200_000));
        assert_eq!(
            parse_khz("abc\n").unwrap_err().to_string(),
            "line 1: expected an unsigned decimal frequency in kHz, found \"abc\""
        );
        assert!(parse_khz("").is_err());
        assert!(parse_khz("-1").is_err());
    }

    fn scrape(ctx: &mut Ctx) -> Result<String, Error> {
        let mut out = Encoder::new();
        collect(ctx, &mut out)?;
        Ok(String::from_utf8(out.as_bytes().to_vec()).unwrap())
    }

    #[test]
    fn collect_fixtures() {
        let text = scrape(&mut crate::collector::fixture_ctx()).unwrap();
        for line in [
            "# HELP node_cpu_frequency_hertz Current cpu thread frequency in hertz.\n",
            "node_cpu_frequency_hertz{cpu=\"2\"} 3400012000\n",
            "node_cpu_frequency_min_hertz{cpu=\"3\"} 800000000\n",
            "# HELP node_cpu_scaling_frequency_hertz Current scaled CPU thread frequency in hertz.\n",
            "node_cpu_scaling_frequency_hertz{cpu=\"3\"} 800021000\n",
            "node_cpu_scaling_frequency_min_hertz{cpu=\"3\"} 1600000000\n",
            "node_cpu_scaling_frequency_max_hertz{cpu=\"0\"} 3400000000\n",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        assert_eq!(text.matches("# TYPE ").count(), 6, "{text}");
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 24);
    }

    /// A temporary sysfs tree with one CPU, removed on drop.
    struct Tree(std::path::PathBuf);

    impl Tree {
        fn new(tag: &str) -> Tree {
            let root =
                std::env::temp_dir().join(format!("proctap-cpufreq-{tag}-{}", std::process::id()));
            let dir = root.join("sys/devices/system/cpu/cpu0/cpufreq");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::create_dir_all(root.join("sys/devices/system/cpu/cpu1")).unwrap();
            for (f, v) in [
                ("cpuinfo_max_freq", "1800000"),
                ("cpuinfo_min_freq", "600000"),
                ("cpuinfo_transition_latency", "50000"),
                ("scaling_cur_freq", "1500000"),
                ("scaling_max_freq", "1800000"),
                ("scaling_min_freq", "600000"),
                (
                    "scaling_available_governors",
                    "ondemand schedutil performance",
                ),
                ("scaling_driver", "cpufreq-dt"),
                ("scaling_governor", "schedutil"),
                ("related_cpus", "0 1 2 3"),
                ("scaling_setspeed", "<unsupported>"),
            ] {
                std::fs::write(dir.join(f), format!("{v}\n")).unwrap();
            }
            Tree(root)
        }

        fn ctx(&self) -> Ctx {
            let src =
                crate::source::Source::new(self.0.join("proc"), self.0.join("sys"), self.0.clone());
            Ctx::new(src)
        }

        fn file(&self, name: &str) -> std::path::PathBuf {
            self.0
                .join("sys/devices/system/cpu/cpu0/cpufreq")
                .join(name)
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn raspberry_pi_without_cpuinfo_cur_freq() {
        let tree = Tree::new("rpi");
        let text = scrape(&mut tree.ctx()).unwrap();
        assert!(!text.contains("node_cpu_frequency_hertz"), "{text}");
        assert!(text.contains("node_cpu_scaling_frequency_hertz{cpu=\"0\"} 1500000000\n"));
        assert!(text.contains("node_cpu_frequency_min_hertz{cpu=\"0\"} 600000000\n"));
        assert!(!text.contains("cpu=\"1\""), "cpu1 has no cpufreq: {text}");
    }

    #[test]
    fn garbage_or_missing_text_file_fails_like_node_exporter() {
        let tree = Tree::new("bad");
        std::fs::write(tree.file("scaling_max_freq"), "abc\n").unwrap();
        let e = scrape(&mut tree.ctx()).unwrap_err().to_string();
        assert!(
            e.ends_with(
                "cpu0/cpufreq/scaling_max_freq:1: expected an unsigned decimal frequency in kHz, found \"abc\""
            ),
            "{e}"
        );
        std::fs::write(tree.file("scaling_max_freq"), "1800000\n").unwrap();
        std::fs::remove_file(tree.file("scaling_setspeed")).unwrap();
        let e = scrape(&mut tree.ctx()).unwrap_err();
        assert!(e.is_not_found(), "{e}");
        assert!(
            e.to_string().contains("cpu0/cpufreq/scaling_setspeed: "),
            "{e}"
        );
    }
}
