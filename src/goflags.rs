//! process-exporter's flags as its users type them. Go's `flag` package takes one dash
//! (`-config.path x`, `-threads=false`) as well as two, and a boolean only as `-name` or
//! `-name=false`. Before lexopt sees the arguments, the names below are rewritten to proctap's
//! long form (`--config.path x`, `--no-threads`); every other argument is left alone, so `-h`,
//! `-V` and node_exporter's flags mean what they did. The flags themselves are real flags of
//! proctap (the namedprocess collector's, `--path.procfs`, `--web.*`), under these names as
//! aliases.
use std::ffi::OsString;

/// process-exporter 0.7.10's flags (and -recheck-with-time-limit, -remove-empty-groups and
/// -once-to-stdout-delay of later releases), and whether each is a boolean.
pub const PROCESS_EXPORTER: &[(&str, bool)] = &[
    ("children", true),
    ("config.path", false),
    ("debug", true),
    ("gather-smaps", true),
    ("man", true),
    ("namemapping", false),
    ("once-to-stdout-delay", false),
    ("procfs", false),
    ("procnames", false),
    ("recheck", true),
    ("recheck-with-time-limit", false),
    ("remove-empty-groups", true),
    ("threads", true),
    ("version", true),
    ("web.config.file", false),
    ("web.listen-address", false),
    ("web.telemetry-path", false),
];

/// Rewrites process-exporter's flags, in either spelling, to proctap's; stops at `--`.
#[cfg_attr(proctap_size, optimize(size))]
pub fn rewrite(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let Some(s) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if s == "--" {
            out.push(arg);
            out.extend(args);
            break;
        }
        let Some(body) = s.strip_prefix("--").or_else(|| s.strip_prefix('-')) else {
            out.push(arg);
            continue;
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let Some(&(name, boolean)) = PROCESS_EXPORTER.iter().find(|(n, _)| *n == name) else {
            out.push(arg);
            continue;
        };
        if !boolean {
            out.push(match value {
                Some(v) => format!("--{name}={v}").into(),
                None => format!("--{name}").into(),
            });
            continue;
        }
        // Go takes 1, t, T, TRUE, true, True and their false forms.
        let on = match value {
            None => true,
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => true,
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => false,
            // Left for the parser to reject with the flag's name.
            Some(_) => {
                out.push(arg);
                continue;
            }
        };
        match (name, on) {
            ("debug", true) => out.push("--log.level=debug".into()),
            ("man", true) => out.push("--help".into()),
            ("version", true) => out.push("--version".into()),
            ("debug" | "man" | "version", false) => {}
            (n, true) => out.push(format!("--{n}").into()),
            (n, false) => out.push(format!("--no-{n}").into()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(args: &[&str]) -> Vec<String> {
        rewrite(args.iter().map(OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn go_style_flags_become_long_flags() {
        assert_eq!(
            r(&[
                "-config.path",
                "/etc/pe.yml",
                "-threads=false",
                "-children",
                "-procfs=/host/proc"
            ]),
            [
                "--config.path",
                "/etc/pe.yml",
                "--no-threads",
                "--children",
                "--procfs=/host/proc"
            ]
        );
        assert_eq!(
            r(&[
                "--gather-smaps=true",
                "-recheck=0",
                "-web.listen-address=:9256",
                "-debug"
            ]),
            [
                "--gather-smaps",
                "--no-recheck",
                "--web.listen-address=:9256",
                "--log.level=debug"
            ]
        );
        assert_eq!(r(&["-man"]), ["--help"]);
        assert_eq!(r(&["-version"]), ["--version"]);
        assert_eq!(r(&["-debug=false"]), Vec::<String>::new());
    }

    #[test]
    fn every_name_is_a_real_flag_and_no_compat_row() {
        for &(name, boolean) in PROCESS_EXPORTER {
            if matches!(name, "debug" | "man" | "version") {
                continue;
            }
            let flag = crate::cli::flags()
                .find(|f| f.name == name || f.aliases.contains(&name))
                .unwrap_or_else(|| panic!("-{name} is not a proctap flag"));
            assert_eq!(
                flag.kind == crate::flag::Kind::Switch,
                boolean,
                "-{name}: a Go boolean must be a switch here and only then"
            );
            assert!(
                crate::compat::find(name).is_none(),
                "-{name} is a real flag: it must not also be a row of src/compat.rs"
            );
        }
    }

    #[test]
    fn everything_else_is_left_alone() {
        assert_eq!(
            r(&["-h", "-V", "once", "--top-n", "5"]),
            ["-h", "-V", "once", "--top-n", "5"]
        );
        assert_eq!(
            r(&["-threads=maybe"]),
            ["-threads=maybe"],
            "the parser names it"
        );
        assert_eq!(
            r(&["--", "-config.path"]),
            ["--", "-config.path"],
            "nothing after --"
        );
        assert_eq!(r(&["--collector.cpu", "-x"]), ["--collector.cpu", "-x"]);
    }
}
