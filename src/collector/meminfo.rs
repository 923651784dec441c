//! `meminfo`: /proc/meminfo → node_memory_<Key>_bytes (kB values × 1024) and node_memory_<Key>
//! for the unitless keys (HugePages_*).
//!
//! Like node_exporter 1.5, every key the kernel prints is exported, so new kernel fields appear
//! without a code change; `Active(anon)` becomes `Active_anon`.
use crate::collector::{Collector, Ctx, Sources, What, ROOT_ONLY};
use crate::expo::{Encoder, Kind};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

/// One line of /proc/meminfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The metric name without prefix and unit, in pieces so that `Active(anon)` reads as
    /// `["Active", "_", "anon", ""]` without building a string.
    pub name: [&'a str; 4],
    /// Bytes when the line had a unit (always kB), else the bare number.
    pub value: u64,
    pub bytes: bool,
}

/// Parses /proc/meminfo (`MemTotal:  3919716 kB`, `HugePages_Total:  16`), skipping blank lines.
pub fn parse_meminfo(text: &str) -> impl Iterator<Item = Result<Field<'_>, ParseError>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| parse_line(i + 1, line))
}

fn parse_line(n: usize, line: &str) -> Result<Field<'_>, ParseError> {
    let mut fields = line.split_ascii_whitespace();
    let (Some(key), Some(value), unit, None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        let found = line.split_ascii_whitespace().count();
        return Err(ParseError::new(
            n,
            format!("expected \"Key: value [kB]\", found {found} fields"),
        ));
    };
    let key = key.strip_suffix(':').ok_or_else(|| {
        ParseError::new(n, format!("expected a key ending in ':', found {key:?}"))
    })?;
    let name = metric_name(key);
    if name.iter().any(|p| !p.bytes().all(is_name_byte)) || key.is_empty() {
        return Err(ParseError::new(
            n,
            format!("expected a key of letters, digits, '_' and '(…)', found {key:?}"),
        ));
    }
    let value = u64_at(value, n, key)?;
    let (value, bytes) = match unit {
        // node_exporter presumes kB for any unit; the kernel prints no other.
        Some(_) => (
            value.checked_mul(1024).ok_or_else(|| {
                ParseError::new(n, format!("{key}: {value} kB does not fit in 64 bits"))
            })?,
            true,
        ),
        None => (value, false),
    };
    Ok(Field { name, value, bytes })
}

/// `Active(anon)` → `Active_anon`: like node_exporter's `\((.*)\)` → `_$1`, the text between
/// the first `(` and the last `)` follows an underscore.
fn metric_name(key: &str) -> [&str; 4] {
    if let Some((before, rest)) = key.split_once('(') {
        if let Some((inner, after)) = rest.rsplit_once(')') {
            return [before, "_", inner, after];
        }
    }
    [key, "", "", ""]
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

pub const COLLECTOR: Collector = Collector::plain(
    "meminfo",
    collect,
    Sources {
        reads: &[What::File(Root::Proc, "meminfo")],
        hint: ROOT_ONLY,
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    ctx.src.read(Root::Proc, &["meminfo"], &mut ctx.buf)?;
    let help = &mut ctx.buf2;
    for field in parse_meminfo(&ctx.buf) {
        let field = field.map_err(|e| ctx.src.parse_error(e))?;
        let [a, b, c, d] = field.name;
        let unit = if field.bytes { "_bytes" } else { "" };
        help.clear();
        help.push_str("Memory information field ");
        for part in [a, b, c, d, unit] {
            help.push_str(part);
        }
        help.push('.');
        out.family_parts(&["node_memory_", a, b, c, d, unit], help, Kind::Gauge);
        out.u64(&[], field.value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<(String, u64)> {
        parse_meminfo(text)
            .map(|f| {
                let f = f.unwrap();
                let unit = if f.bytes { "_bytes" } else { "" };
                (f.name.concat() + unit, f.value)
            })
            .collect()
    }

    #[test]
    fn meminfo_kernel_6_18_x86_64() {
        let text = "\
MemTotal:       24684084 kB
MemFree:        24453856 kB
Active(anon):       1528 kB
Inactive(file):    45652 kB
NFS_Unstable:          0 kB
Committed_AS:      57704 kB
VmallocTotal:   34359738367 kB
HugePages_Total:       0
HugePages_Free:        3
Hugepagesize:       2048 kB
DirectMap1G:    25165824 kB
";
        assert_eq!(
            fields(text),
            [
                ("MemTotal_bytes".to_string(), 24684084 * 1024),
                ("MemFree_bytes".into(), 24453856 * 1024),
                ("Active_anon_bytes".into(), 1528 * 1024),
                ("Inactive_file_bytes".into(), 45652 * 1024),
                ("NFS_Unstable_bytes".into(), 0),
                ("Committed_AS_bytes".into(), 57704 * 1024),
                ("VmallocTotal_bytes".into(), 35184372087808),
                ("HugePages_Total".into(), 0),
                ("HugePages_Free".into(), 3),
                ("Hugepagesize_bytes".into(), 2097152),
                ("DirectMap1G_bytes".into(), 25769803776),
            ]
        );
    }

    #[test]
    fn meminfo_five_level_paging_is_exact_above_2_pow_53() {
        // x86_64 with LA57: 12800 TiB of vmalloc space, beyond what an f64 holds exactly.
        let v = fields("VmallocTotal:   13743895347199 kB\n");
        assert_eq!(v, [("VmallocTotal_bytes".to_string(), 14073748835531776)]);
    }

    #[test]
    fn meminfo_odd_lines() {
        // Blank lines (seen on CentOS 6 kernels) are skipped; text after the parentheses stays.
        let v = fields("\nActive(file):  1 kB\n\nBar(x)y:  2\n");
        assert_eq!(
            v,
            [
                ("Active_file_bytes".to_string(), 1024),
                ("Bar_xy".into(), 2)
            ]
        );
        // node_exporter's greedy `\((.*)\)` would make the invalid name `Foo_a)(b`.
        let e = parse_meminfo("Foo(a)(b): 1 kB\n")
            .next()
            .unwrap()
            .unwrap_err();
        assert!(e.msg.ends_with("found \"Foo(a)(b)\""), "{e}");
    }

    #[test]
    fn meminfo_garbage() {
        let err = |t| parse_meminfo(t).find_map(Result::err).unwrap().to_string();
        assert_eq!(
            err("MemTotal: 1 kB\nMemFree:\n"),
            "line 2: expected \"Key: value [kB]\", found 1 fields"
        );
        assert_eq!(
            err("MemTotal: 1 kB extra\n"),
            "line 1: expected \"Key: value [kB]\", found 4 fields"
        );
        assert_eq!(
            err("MemTotal 1 kB\n"),
            "line 1: expected a key ending in ':', found \"MemTotal\""
        );
        assert_eq!(
            err("MemTotal: lots kB\n"),
            "line 1: expected an unsigned integer for MemTotal, found \"lots\""
        );
        assert_eq!(
            err("Mem-Total: 1 kB\n"),
            "line 1: expected a key of letters, digits, '_' and '(…)', found \"Mem-Total\""
        );
        assert_eq!(
            err("Huge: 18446744073709551615 kB\n"),
            "line 1: Huge: 18446744073709551615 kB does not fit in 64 bits"
        );
        assert_eq!(parse_meminfo("").count(), 0);
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        for line in [
            "# HELP node_memory_MemTotal_bytes Memory information field MemTotal_bytes.\n",
            "# TYPE node_memory_MemTotal_bytes gauge\nnode_memory_MemTotal_bytes 4013789184\n",
            "\nnode_memory_Active_anon_bytes 525213696\n",
            "\nnode_memory_VmallocTotal_bytes 35184372087808\n",
            "# HELP node_memory_HugePages_Total Memory information field HugePages_Total.\n",
            "\nnode_memory_HugePages_Total 16\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from\n{text}");
        }
        assert_eq!(text.matches("# TYPE ").count(), 56);
    }
}
