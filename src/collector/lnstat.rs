//! `lnstat` (off by default, feature `server`): the per-CPU network cache statistics of
//! /proc/net/stat/* (arp_cache, ndisc_cache, nf_conntrack, rt_cache...: a header of field
//! names, then one line of hexadecimal counters per CPU) →
//! node_lnstat_<field>_total{subsystem,cpu}, as node_exporter 1.5 reports them: a field that
//! several files have (`entries`) is one family with a series per file and CPU.
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{u64_str, Encoder, Kind};
use crate::source::{Error, NameList, ParseError, Root};

/// Parses one /proc/net/stat file, giving `(field, cpu, value)` to `each` line by line. Every
/// line must have as many hexadecimal values as the header has names.
pub fn parse_stat<'a>(
    text: &'a str,
    mut each: impl FnMut(&'a str, usize, u64),
) -> Result<(), ParseError> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let fields = header.split_ascii_whitespace().count();
    if fields == 0 {
        return Err(ParseError::new(1, "expected a header of field names"));
    }
    for (cpu, line) in lines.enumerate() {
        let n = cpu + 2;
        let found = line.split_ascii_whitespace().count();
        if found != fields {
            return Err(ParseError::new(
                n,
                format!("expected {fields} values as the header names, found {found}"),
            ));
        }
        for (name, v) in header
            .split_ascii_whitespace()
            .zip(line.split_ascii_whitespace())
        {
            let v = u64::from_str_radix(v, 16).map_err(|_| {
                ParseError::new(
                    n,
                    format!("expected a hexadecimal counter for {name}, found {v:?}"),
                )
            })?;
            each(name, cpu, v);
        }
    }
    Ok(())
}

pub const COLLECTOR: Collector = Collector {
    name: "lnstat",
    enabled_by_default: false,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Proc, "net/stat")],
        hint: "every kernel with networking has it; no privilege is needed",
    },
    build: Build::New(|_| Ok(Box::<Lnstat>::default())),
};

#[derive(Default)]
pub struct Lnstat {
    names: NameList,
    /// Each file's name and text, kept between scrapes.
    files: Vec<(String, String)>,
    used: usize,
}

impl Collect for Lnstat {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        ctx.src
            .list_dir(Root::Proc, &["net/stat"], &mut self.names)?;
        self.used = 0;
        for name in self.names.iter() {
            if self.files.len() == self.used {
                self.files.push(Default::default());
            }
            let Some((file, text)) = self.files.get_mut(self.used) else {
                continue;
            };
            self.used += 1;
            file.clear();
            file.push_str(name);
            ctx.src.read(Root::Proc, &["net/stat/", name], text)?;
            parse_stat(text, |_, _, _| {}).map_err(|e| ctx.src.parse_error(e))?;
        }
        write(self.files.get(..self.used).unwrap_or_default(), out);
        Ok(())
    }
}

/// The families of parsed (checked) files, each field once, in the order fields first appear.
fn write(files: &[(String, String)], out: &mut Encoder) {
    let mut tmp = [0u8; 20];
    for (i, (_, text)) in files.iter().enumerate() {
        let header = text.lines().next().unwrap_or("");
        for (k, field) in header.split_ascii_whitespace().enumerate() {
            let seen = header.split_ascii_whitespace().take(k).any(|f| f == field)
                || files.iter().take(i).any(|(_, t)| {
                    t.lines()
                        .next()
                        .is_some_and(|h| h.split_ascii_whitespace().any(|f| f == field))
                });
            if seen {
                continue;
            }
            out.family_parts(
                &["node_lnstat_", field, "_total"],
                "linux network cache stats",
                Kind::Counter,
            );
            for (file, text) in files.iter().skip(i) {
                let _ = parse_stat(text, |f, cpu, v| {
                    if f == field {
                        let cpu = u64_str(&mut tmp, cpu as u64);
                        out.u64(&[("cpu", cpu), ("subsystem", file)], v);
                    }
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Result<Vec<(&str, usize, u64)>, String> {
        let mut v = Vec::new();
        parse_stat(text, |f, c, n| v.push((f, c, n)))
            .map(|()| v)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn hex_counters_per_cpu() {
        assert_eq!(
            values("entries  allocs\n0000072d  fffffff0\n0000072d 00000001\n"),
            Ok(vec![
                ("entries", 0, 0x72d),
                ("allocs", 0, 0xfffffff0),
                ("entries", 1, 0x72d),
                ("allocs", 1, 1),
            ])
        );
        // 128 CPUs.
        let many = format!("entries\n{}", "00000001\n".repeat(128));
        assert_eq!(values(&many).unwrap().len(), 128);
    }

    #[test]
    fn garbage() {
        assert_eq!(
            values(""),
            Err("line 1: expected a header of field names".into())
        );
        assert_eq!(
            values("a b\n1\n"),
            Err("line 2: expected 2 values as the header names, found 1".into())
        );
        assert_eq!(
            values("a\nxyz\n"),
            Err("line 2: expected a hexadecimal counter for a, found \"xyz\"".into())
        );
    }

    #[test]
    fn a_field_of_several_files_is_one_family() {
        let files = [
            ("arp_cache".to_string(), "entries hits\n1 2\n".to_string()),
            (
                "nf_conntrack".to_string(),
                "entries found\na b\n".to_string(),
            ),
        ];
        let mut out = Encoder::new();
        write(&files, &mut out);
        assert_eq!(
            String::from_utf8(out.as_bytes().to_vec()).unwrap(),
            "# HELP node_lnstat_entries_total linux network cache stats
# TYPE node_lnstat_entries_total counter
node_lnstat_entries_total{cpu=\"0\",subsystem=\"arp_cache\"} 1
node_lnstat_entries_total{cpu=\"0\",subsystem=\"nf_conntrack\"} 10
# HELP node_lnstat_hits_total linux network cache stats
# TYPE node_lnstat_hits_total counter
node_lnstat_hits_total{cpu=\"0\",subsystem=\"arp_cache\"} 2
# HELP node_lnstat_found_total linux network cache stats
# TYPE node_lnstat_found_total counter
node_lnstat_found_total{cpu=\"0\",subsystem=\"nf_conntrack\"} 11
"
        );
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        Lnstat::default().collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(text.contains("node_lnstat_entries_total{cpu=\"3\",subsystem=\"ndisc_cache\"} 7\n"));
        assert!(
            text.contains("node_lnstat_entries_total{cpu=\"0\",subsystem=\"nf_conntrack\"} 1837\n")
        );
        assert_eq!(text.matches("# TYPE node_lnstat_entries_total").count(), 1);
    }
}
