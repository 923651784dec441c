//! `vmstat`: /proc/vmstat → node_vmstat_<key> (untyped, as node_exporter has it) for the keys
//! that match `--collector.vmstat.fields`.
use crate::collector::{Build, Collect, Collector, Ctx, Pattern, Sources, What, ROOT_ONLY};
use crate::expo::{Encoder, Kind};
use crate::flag::{CliError, Flag, Kind as FlagKind, Settings};
use crate::source::{Error, ParseError, Root};

/// A /proc/vmstat value: the kernel prints unsigned counters, but a few per-node gauges can be
/// transiently negative on some kernels, so a leading `-` is accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Unsigned(u64),
    Signed(i64),
}

/// Parses /proc/vmstat (`pgfault 2016496` per line). Every line is checked, not only those that
/// are exported, as node_exporter does.
pub fn parse_vmstat(text: &str) -> impl Iterator<Item = Result<(&str, Value), ParseError>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| parse_line(i + 1, line))
}

fn parse_line(n: usize, line: &str) -> Result<(&str, Value), ParseError> {
    let mut fields = line.split_ascii_whitespace();
    let (Some(key), Some(value), None) = (fields.next(), fields.next(), fields.next()) else {
        let found = line.split_ascii_whitespace().count();
        return Err(ParseError::new(
            n,
            format!("expected \"key value\", found {found} fields"),
        ));
    };
    if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ParseError::new(
            n,
            format!("expected a key of letters, digits and '_', found {key:?}"),
        ));
    }
    let value = match (value.parse::<u64>(), value.parse::<i64>()) {
        (Ok(v), _) => Value::Unsigned(v),
        (_, Ok(v)) => Value::Signed(v),
        _ => {
            return Err(ParseError::new(
                n,
                format!("expected an integer for {key}, found {value:?}"),
            ))
        }
    };
    Ok((key, value))
}

/// node_exporter's default set of /proc/vmstat keys.
pub const FIELDS_DEFAULT: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

pub const COLLECTOR: Collector = Collector {
    name: "vmstat",
    enabled_by_default: true,
    flags: &[Flag::new(
        "collector.vmstat.fields",
        FlagKind::Regex,
        "RE",
        FIELDS_DEFAULT,
        "Fields of /proc/vmstat to export.",
    )],
    help_section: None,
    sources: Sources {
        reads: &[What::File(Root::Proc, "vmstat")],
        hint: ROOT_ONLY,
    },
    build: Build::New(|s| Ok(Box::new(Vmstat::new(s)?))),
};

pub struct Vmstat {
    opt: Pattern,
}

impl Vmstat {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<Vmstat, CliError> {
        Ok(Vmstat {
            opt: Pattern::new(s.regex("collector.vmstat.fields")?),
        })
    }
}

impl Collect for Vmstat {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        collect(&mut self.opt, ctx, out)
    }
}

fn collect(opt: &mut Pattern, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    ctx.src.read(Root::Proc, &["vmstat"], &mut ctx.buf)?;
    let help = &mut ctx.buf2;
    for (nth, record) in parse_vmstat(&ctx.buf).enumerate() {
        let (key, value) = record.map_err(|e| ctx.src.parse_error(e))?;
        if !opt.is_match_nth(nth, key) {
            continue;
        }
        help.clear();
        help.push_str("/proc/vmstat information field ");
        help.push_str(key);
        help.push('.');
        out.family_parts(&["node_vmstat_", key], help, Kind::Untyped);
        match value {
            Value::Unsigned(v) => out.u64(&[], v),
            Value::Signed(v) => out.i64(&[], v),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    #[test]
    fn vmstat_kernel_6_18_excerpt() {
        let text = "\
nr_free_pages 1096667
nr_zone_inactive_anon 1237
pgpgin 1721589
pswpin 0
pgfault 18446744073709551615
pgmajfault 1345
nr_dirty_threshold -3
oom_kill 0
";
        let got: Vec<_> = parse_vmstat(text).map(Result::unwrap).collect();
        assert_eq!(
            got,
            [
                ("nr_free_pages", Value::Unsigned(1096667)),
                ("nr_zone_inactive_anon", Value::Unsigned(1237)),
                ("pgpgin", Value::Unsigned(1721589)),
                ("pswpin", Value::Unsigned(0)),
                ("pgfault", Value::Unsigned(u64::MAX)),
                ("pgmajfault", Value::Unsigned(1345)),
                ("nr_dirty_threshold", Value::Signed(-3)),
                ("oom_kill", Value::Unsigned(0)),
            ]
        );
        assert_eq!(parse_vmstat("").count(), 0);
    }

    #[test]
    fn vmstat_garbage() {
        let err = |t| parse_vmstat(t).find_map(Result::err).unwrap().to_string();
        assert_eq!(
            err("pgfault 1\npgmajfault\n"),
            "line 2: expected \"key value\", found 1 fields"
        );
        assert_eq!(
            err("pgfault 1.5\n"),
            "line 1: expected an integer for pgfault, found \"1.5\""
        );
        assert_eq!(
            err("pg-fault 1\n"),
            "line 1: expected a key of letters, digits and '_', found \"pg-fault\""
        );
    }

    fn fixture_ctx() -> Ctx {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
        let src = Source::new(
            format!("{root}/proc").into(),
            format!("{root}/sys").into(),
            root.into(),
        );
        Ctx::new(src)
    }

    #[test]
    fn collect_fixture_default_fields() {
        let mut ctx = fixture_ctx();
        let mut opt: Pattern = Vmstat::new(&crate::collector::default_settings())
            .unwrap()
            .opt;
        let mut out = Encoder::new();
        collect(&mut opt, &mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        let want = "\
# HELP node_vmstat_pgpgin /proc/vmstat information field pgpgin.
# TYPE node_vmstat_pgpgin untyped
node_vmstat_pgpgin 5368709120
# HELP node_vmstat_pgpgout /proc/vmstat information field pgpgout.
# TYPE node_vmstat_pgpgout untyped
node_vmstat_pgpgout 31457280123
# HELP node_vmstat_pswpin /proc/vmstat information field pswpin.
# TYPE node_vmstat_pswpin untyped
node_vmstat_pswpin 22781
# HELP node_vmstat_pswpout /proc/vmstat information field pswpout.
# TYPE node_vmstat_pswpout untyped
node_vmstat_pswpout 45563
# HELP node_vmstat_pgfault /proc/vmstat information field pgfault.
# TYPE node_vmstat_pgfault untyped
node_vmstat_pgfault 8589934597
# HELP node_vmstat_pgmajfault /proc/vmstat information field pgmajfault.
# TYPE node_vmstat_pgmajfault untyped
node_vmstat_pgmajfault 18345
# HELP node_vmstat_oom_kill /proc/vmstat information field oom_kill.
# TYPE node_vmstat_oom_kill untyped
node_vmstat_oom_kill 3
";
        assert_eq!(text, want);
    }

    #[test]
    fn collect_fixture_custom_fields() {
        let mut ctx = fixture_ctx();
        let mut opt =
            crate::collector::Pattern::new(regex_lite::Regex::new("^nr_free_pages$").unwrap());
        let mut out = Encoder::new();
        collect(&mut opt, &mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(
            text.ends_with("\nnode_vmstat_nr_free_pages 153086\n"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 3);
    }
}
