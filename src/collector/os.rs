//! `os`: `<rootfs>/etc/os-release`, else `<rootfs>/usr/lib/os-release` → node_os_info{...} 1 and
//! node_os_version{id,id_like,name} (the major.minor of VERSION_ID, when above 0).
//!
//! Values are unquoted the way node_exporter 1.5 does it (hashicorp/go-envparse): single quotes
//! verbatim, double quotes with `\"`, `\\`, `\n` and `\t` escapes only, `#` starts a comment
//! outside quotes, and any line it cannot parse fails the collector. node_exporter 1.5 does not
//! export SUPPORT_END.
use std::io;

use crate::collector::{Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::source::{Error, ParseError, Root};

/// The os-release keys exported, in the order of [`LABELS`].
pub const KEYS: [&str; 12] = [
    "BUILD_ID",
    "ID",
    "ID_LIKE",
    "IMAGE_ID",
    "IMAGE_VERSION",
    "NAME",
    "PRETTY_NAME",
    "VARIANT",
    "VARIANT_ID",
    "VERSION",
    "VERSION_CODENAME",
    "VERSION_ID",
];

pub const LABELS: [&str; 12] = [
    "build_id",
    "id",
    "id_like",
    "image_id",
    "image_version",
    "name",
    "pretty_name",
    "variant",
    "variant_id",
    "version",
    "version_codename",
    "version_id",
];

const ID: usize = 1;
const ID_LIKE: usize = 2;
const NAME: usize = 5;
const VERSION_ID: usize = 11;

/// Where the value of each of [`KEYS`] is in the value buffer (`start..end`; empty if absent).
pub type Spans = [(usize, usize); 12];

/// Parses os-release text; the unquoted values of [`KEYS`] are appended to `values` and the
/// returned spans index into it. For a repeated key the last value wins.
pub fn parse_os_release(text: &str, values: &mut String) -> Result<Spans, ParseError> {
    let mut spans = [(0, 0); 12];
    for (i, line) in text.lines().enumerate() {
        let start = values.len();
        let Some(key) = parse_line(line, i + 1, values)? else {
            continue;
        };
        match KEYS.iter().position(|k| *k == key) {
            Some(k) => spans[k] = (start, values.len()),
            None => values.truncate(start),
        }
    }
    Ok(spans)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Double,
    Single,
    Escape,
}

/// Parses `KEY=value` (optionally `export KEY=value`), appending the unquoted value to `value`.
/// Blank lines and `#` comments are `None`.
fn parse_line<'a>(
    line: &'a str,
    n: usize,
    value: &mut String,
) -> Result<Option<&'a str>, ParseError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let err = |msg: String| ParseError::new(n, msg);
    let (key, raw) = line
        .split_once('=')
        .ok_or_else(|| err(format!("expected KEY=value, found {line:?}")))?;
    let key = key.trim();
    let key = key.strip_prefix("export ").unwrap_or(key);
    match key.chars().next() {
        None => return Err(err("expected a key before '='".into())),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return Err(err(format!(
                "expected a key starting with [A-Za-z_], found {key:?}"
            )))
        }
        Some(_) => {}
    }
    // Trailing white space before a comment is not part of the value; quoted text always is.
    let mut significant = value.len();
    let mut mode = Mode::Plain;
    for c in raw.trim().chars() {
        if c < ' ' {
            return Err(err(format!(
                "expected no control characters in the value of {key}, found 0x{:02x}",
                c as u32
            )));
        }
        match (mode, c) {
            (Mode::Escape, c) if !c.is_ascii() => {
                return Err(err(format!(
                    "expected an ASCII character after '\\' in the value of {key}, found {c:?}"
                )))
            }
            (Mode::Plain, '"') => mode = Mode::Double,
            (Mode::Plain, '\'') => mode = Mode::Single,
            (Mode::Plain, '#') => {
                value.truncate(significant);
                return Ok(Some(key));
            }
            (Mode::Plain, ' ' | '\t') => value.push(c),
            (Mode::Double, '"') | (Mode::Single, '\'') => mode = Mode::Plain,
            (Mode::Double, '\\') => mode = Mode::Escape,
            (Mode::Escape, c) => {
                value.push(match c {
                    '"' => '"',
                    '\\' => '\\',
                    'n' => '\n',
                    't' => '\t',
                    _ => {
                        return Err(err(format!(
                            "expected one of \\\" \\\\ \\n \\t in the value of {key}, found \\{c}"
                        )))
                    }
                });
                significant = value.len();
                mode = Mode::Double;
            }
            (_, c) => {
                value.push(c);
                significant = value.len();
            }
        }
    }
    match mode {
        Mode::Plain => Ok(Some(key)),
        Mode::Double | Mode::Escape => Err(err(format!(
            "expected a closing '\"' in the value of {key}"
        ))),
        Mode::Single => Err(err(format!("expected a closing ' in the value of {key}"))),
    }
}

/// The number at the start of VERSION_ID, `^[0-9]+\.?[0-9]*` (`23.05.3` → 23.05).
pub fn major_minor(version_id: &str) -> Option<f64> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let int = digits(version_id);
    if int == 0 {
        return None;
    }
    let rest = version_id.get(int..)?;
    let end = match rest.strip_prefix('.') {
        Some(frac) => int + 1 + digits(frac),
        None => int,
    };
    version_id.get(..end)?.parse().ok()
}

pub const COLLECTOR: Collector = Collector::plain(
    "os",
    collect,
    Sources {
        reads: &[
            What::Optional(Root::Rootfs, "etc/os-release"),
            What::Optional(Root::Rootfs, "usr/lib/os-release"),
        ],
        hint: "point --path.rootfs at the host's / when running in a container",
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    if !ctx
        .src
        .read_optional(Root::Rootfs, &["etc/os-release"], &mut ctx.buf)?
        && !ctx
            .src
            .read_optional(Root::Rootfs, &["usr/lib/os-release"], &mut ctx.buf)?
    {
        return Err(Error::Io {
            path: ctx.src.last_path().to_path_buf(),
            err: io::Error::new(
                io::ErrorKind::NotFound,
                "no os-release file (etc/os-release does not exist either)",
            ),
        });
    }
    ctx.buf2.clear();
    let spans = parse_os_release(&ctx.buf, &mut ctx.buf2).map_err(|e| ctx.src.parse_error(e))?;
    let values = &ctx.buf2;
    let value = |i: usize| {
        spans
            .get(i)
            .and_then(|&(start, end)| values.get(start..end))
            .unwrap_or("")
    };
    let mut labels = [("", ""); 12];
    for (i, (slot, name)) in labels.iter_mut().zip(LABELS).enumerate() {
        *slot = (name, value(i));
    }
    out.family(
        "node_os_info",
        "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
        Kind::Gauge,
    );
    out.u64(&labels, 1);
    if let Some(v) = major_minor(value(VERSION_ID)).filter(|v| *v > 0.0) {
        out.family(
            "node_os_version",
            "Metric containing the major.minor part of the OS version.",
            Kind::Gauge,
        );
        out.f64(
            &[
                ("id", value(ID)),
                ("id_like", value(ID_LIKE)),
                ("name", value(NAME)),
            ],
            v,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values of all 12 keys, in [`KEYS`] order.
    fn parse(text: &str) -> Result<Vec<String>, ParseError> {
        let mut values = String::new();
        let spans = parse_os_release(text, &mut values)?;
        Ok(spans
            .iter()
            .map(|&(s, e)| values[s..e].to_string())
            .collect())
    }

    fn get(text: &str, key: &str) -> String {
        let i = KEYS.iter().position(|k| *k == key).unwrap();
        parse(text).unwrap().swap_remove(i)
    }

    #[test]
    fn os_release_debian_12() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n";
        assert_eq!(
            parse(text).unwrap(),
            [
                "",
                "debian",
                "",
                "",
                "",
                "Debian GNU/Linux",
                "Debian GNU/Linux 12 (bookworm)",
                "",
                "",
                "12 (bookworm)",
                "bookworm",
                "12"
            ]
        );
        assert_eq!(major_minor("12"), Some(12.0));
    }

    #[test]
    fn os_release_quoting_comments_and_blank_lines() {
        let text = "# a comment\n\n   \n  # indented comment\nNAME='Single \"Quoted\" \\n'\nexport ID=plain # trailing comment\nID_LIKE=\"a \\\"b\\\" c\\\\d\\te\"\nPRETTY_NAME=con\"cat\"'ed'\nVARIANT = spaced out  \r\nVARIANT_ID=\"x # not a comment\"#but this is\nBUILD_ID=\nIMAGE_ID=\"\" # empty\n";
        assert_eq!(get(text, "NAME"), "Single \"Quoted\" \\n");
        assert_eq!(get(text, "ID"), "plain");
        assert_eq!(get(text, "ID_LIKE"), "a \"b\" c\\d\te");
        assert_eq!(get(text, "PRETTY_NAME"), "concated");
        assert_eq!(get(text, "VARIANT"), "spaced out");
        assert_eq!(get(text, "VARIANT_ID"), "x # not a comment");
        assert_eq!(get(text, "BUILD_ID"), "");
        assert_eq!(get(text, "IMAGE_ID"), "");
        assert_eq!(get("ID=b#x\nID=c\n", "ID"), "c", "the last value wins");
        assert_eq!(get("NAME=\"Fedora Linux\" # ü\n", "NAME"), "Fedora Linux");
        assert_eq!(get("NAME=Ubuntü # x\n", "NAME"), "Ubuntü");
    }

    #[test]
    fn os_release_empty() {
        assert_eq!(parse("").unwrap(), vec![String::new(); 12]);
    }

    #[test]
    fn os_release_garbage() {
        let e = |t| parse(t).unwrap_err().to_string();
        assert_eq!(
            e("NAME=a\ngarbage line\n"),
            "line 2: expected KEY=value, found \"garbage line\""
        );
        assert_eq!(
            e("1KEY=x\n"),
            "line 1: expected a key starting with [A-Za-z_], found \"1KEY\""
        );
        assert_eq!(e("=x\n"), "line 1: expected a key before '='");
        assert_eq!(
            e("NAME=\"a \\$ b\"\n"),
            "line 1: expected one of \\\" \\\\ \\n \\t in the value of NAME, found \\$"
        );
        assert_eq!(
            e("NAME=\"a\tb\"\n"),
            "line 1: expected no control characters in the value of NAME, found 0x09"
        );
        assert_eq!(
            e("NAME=\"unterminated\n"),
            "line 1: expected a closing '\"' in the value of NAME"
        );
        assert_eq!(
            e("NAME='unterminated\n"),
            "line 1: expected a closing ' in the value of NAME"
        );
        assert_eq!(
            e("NAME=\"end\\\n"),
            "line 1: expected a closing '\"' in the value of NAME"
        );
        // Unknown keys are checked too: node_exporter fails on any bad line.
        assert!(e("OTHER=\"x\n").contains("OTHER"));
    }

    #[test]
    fn version_major_minor() {
        assert_eq!(major_minor("23.05.3"), Some(23.05));
        assert_eq!(major_minor("7.2rc1"), Some(7.2));
        assert_eq!(major_minor("3."), Some(3.0));
        assert_eq!(major_minor("2023.1"), Some(2023.1));
        assert_eq!(major_minor("0"), Some(0.0));
        assert_eq!(major_minor(".5"), None);
        assert_eq!(major_minor("rolling"), None);
        assert_eq!(major_minor(""), None);
    }

    #[test]
    fn collect_fixture_openwrt() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        assert!(text.contains("node_os_info{build_id=\"r23809-234f1a2efa\",id=\"openwrt\",id_like=\"lede openwrt\",image_id=\"\",image_version=\"\",name=\"OpenWrt\",pretty_name=\"OpenWrt 23.05.3\",variant=\"\",variant_id=\"\",version=\"23.05.3\",version_codename=\"\",version_id=\"23.05.3\"} 1\n"), "{text}");
        assert!(text.contains(
            "node_os_version{id=\"openwrt\",id_like=\"lede openwrt\",name=\"OpenWrt\"} 23.05\n"
        ));
    }

    /// A temporary rootfs, removed on drop.
    struct TempRoot(std::path::PathBuf);

    impl TempRoot {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("proctap-os-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("usr/lib")).unwrap();
            std::fs::create_dir_all(dir.join("etc")).unwrap();
            TempRoot(dir)
        }
    }

    impl Drop for TempRoot {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn collect_in(root: &TempRoot) -> Result<String, Error> {
        let mut ctx = crate::collector::fixture_ctx();
        ctx.src.rootfs = root.0.clone();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out)?;
        Ok(String::from_utf8(out.as_bytes().to_vec()).unwrap())
    }

    #[test]
    fn collect_falls_back_to_usr_lib() {
        let root = TempRoot::new("fallback");
        std::fs::write(
            root.0.join("usr/lib/os-release"),
            "NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\n",
        )
        .unwrap();
        let text = collect_in(&root).unwrap();
        assert!(text.contains("build_id=\"rolling\",id=\"arch\","), "{text}");
        assert!(
            !text.contains("node_os_version"),
            "no VERSION_ID, no version series"
        );

        // /etc/os-release wins when it exists, even if it is broken.
        std::fs::write(root.0.join("etc/os-release"), "NAME=\"broken\n").unwrap();
        let e = collect_in(&root).unwrap_err().to_string();
        assert!(
            e.ends_with("/etc/os-release:1: expected a closing '\"' in the value of NAME"),
            "{e}"
        );
    }

    #[test]
    fn collect_without_os_release_fails() {
        let root = TempRoot::new("none");
        let e = collect_in(&root).unwrap_err();
        assert!(e.is_not_found());
        assert!(e
            .to_string()
            .contains("usr/lib/os-release: no os-release file"));
    }
}
