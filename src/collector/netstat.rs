//! `netstat`: /proc/net/netstat, /proc/net/snmp and /proc/net/snmp6 →
//! node_netstat_<Proto>_<Field> (untyped), for the fields `--collector.netstat.fields` matches.
use crate::collector::{Build, Collect, Collector, Ctx, Pattern, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::flag::{CliError, Flag, Kind as FlagKind, Settings};
use crate::source::{Error, ParseError, Root};

/// One counter: protocol, field, the value as the kernel wrote it, and its 1-based line.
pub type Visit<'a, 'f> = &'f mut dyn FnMut(&'a str, &'a str, &'a str, usize);

/// Walks /proc/net/netstat or /proc/net/snmp: pairs of a header line `Tcp: RtoAlgorithm …`
/// and a value line `Tcp: 1 …`. Each pair must name the same protocol and have as many values
/// as the header has names.
pub fn parse_pairs<'a>(text: &'a str, f: Visit<'a, '_>) -> Result<(), ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty());
    while let Some((hn, header)) = lines.next() {
        let (proto, names) = protocol(header, hn)?;
        let Some((vn, values_line)) = lines.next() else {
            return Err(ParseError::new(
                hn,
                format!(
                    "expected a value line after the {proto} header, found the end of the file"
                ),
            ));
        };
        let (vproto, values) = protocol(values_line, vn)?;
        if vproto != proto {
            return Err(ParseError::new(
                vn,
                format!("expected the values of {proto}, found {vproto}"),
            ));
        }
        let (nn, nv) = (
            names.split_ascii_whitespace().count(),
            values.split_ascii_whitespace().count(),
        );
        if nn != nv {
            return Err(ParseError::new(
                vn,
                format!("expected {nn} values for the {nn} fields of {proto}, found {nv}"),
            ));
        }
        for (name, value) in names
            .split_ascii_whitespace()
            .zip(values.split_ascii_whitespace())
        {
            f(proto, name, value, vn);
        }
    }
    Ok(())
}

fn protocol(line: &str, n: usize) -> Result<(&str, &str), ParseError> {
    match line.split_once(':') {
        Some((proto, rest)) if !proto.is_empty() && !proto.contains(' ') => Ok((proto, rest)),
        _ => Err(ParseError::new(
            n,
            format!(
                "expected `Protocol: fields`, found {:?}",
                line.get(..40).unwrap_or(line)
            ),
        )),
    }
}

/// Walks /proc/net/snmp6: `Ip6InReceives   123` lines. The protocol is the name up to and
/// including its first `6` (`Ip6`, `Icmp6`, `Udp6`, `UdpLite6`); like node_exporter, lines
/// without a `6` in the name or without a value are skipped.
pub fn parse_snmp6<'a>(text: &'a str, f: Visit<'a, '_>) {
    for (i, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(name), Some(value)) = (fields.next(), fields.next()) else {
            continue;
        };
        if let Some(six) = name.find('6') {
            let (proto, field) = name.split_at(six + 1);
            f(proto, field, value, i + 1);
        }
    }
}

/// A counter's value: exact when it is an integer, as the kernel writes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    U64(u64),
    I64(i64),
    F64(f64),
}

/// Parses a value as node_exporter does (any float; `Tcp MaxConn` is -1).
pub fn parse_value(s: &str, proto: &str, field: &str, line: usize) -> Result<Value, ParseError> {
    if let Ok(v) = s.parse::<u64>() {
        return Ok(Value::U64(v));
    }
    if let Ok(v) = s.parse::<i64>() {
        return Ok(Value::I64(v));
    }
    s.parse::<f64>().map(Value::F64).map_err(|_| {
        ParseError::new(
            line,
            format!("expected a number for {proto} {field}, found {s:?}"),
        )
    })
}

/// node_exporter's default set of `Proto_Field` names.
pub const FIELDS_DEFAULT: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

pub const COLLECTOR: Collector = Collector {
    name: "netstat",
    enabled_by_default: true,
    flags: &[Flag::new(
        "collector.netstat.fields",
        FlagKind::Regex,
        "RE",
        FIELDS_DEFAULT,
        "Fields of /proc/net/{snmp,netstat,snmp6} to export, as Proto_Field.",
    )],
    help_section: None,
    sources: Sources {
        reads: &[
            What::File(Root::Proc, "net/netstat"),
            What::File(Root::Proc, "net/snmp"),
            What::Optional(Root::Proc, "net/snmp6"),
        ],
        hint: "net/snmp6 exists only with IPv6 enabled",
    },
    build: Build::New(|s| Ok(Box::new(Netstat::new(s)?))),
};

pub struct Netstat {
    opt: Pattern,
}

impl Netstat {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<Netstat, CliError> {
        Ok(Netstat {
            opt: Pattern::new(s.regex("collector.netstat.fields")?),
        })
    }
}

impl Collect for Netstat {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        collect(&mut self.opt, ctx, out)
    }
}

fn collect(opt: &mut Pattern, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    // Fields are numbered across the three files, in the order they come every scrape.
    let mut nth = 0;
    for file in ["net/netstat", "net/snmp", "net/snmp6"] {
        if file == "net/snmp6" {
            // Absent when IPv6 is disabled; node_exporter then exports the others only.
            if !ctx.src.read_optional(Root::Proc, &[file], &mut ctx.buf)? {
                continue;
            }
        } else {
            ctx.src.read(Root::Proc, &[file], &mut ctx.buf)?;
        }
        let key = &mut ctx.buf2;
        let fields = &mut *opt;
        let mut bad = None;
        let mut visit = |proto: &str, field: &str, value: &str, line: usize| {
            if bad.is_some() {
                return;
            }
            // The names become part of a metric name: letters, digits and _ only.
            let name_ok = |s: &str| {
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            };
            if !name_ok(proto) || !name_ok(field) {
                bad = Some(ParseError::new(
                    line,
                    format!(
                        "expected a counter name of letters and digits, found {proto:?} {field:?}"
                    ),
                ));
                return;
            }
            // Every value must be a number, exported or not, as in node_exporter.
            let v = match parse_value(value, proto, field, line) {
                Ok(v) => v,
                Err(e) => {
                    bad = Some(e);
                    return;
                }
            };
            // One buffer holds the key `Tcp_InSegs` and then the help `Statistic TcpInSegs.`.
            key.clear();
            key.push_str(proto);
            key.push('_');
            key.push_str(field);
            nth += 1;
            if !fields.is_match_nth(nth, key) {
                return;
            }
            let k = key.len();
            key.push_str("Statistic ");
            key.push_str(proto);
            key.push_str(field);
            key.push('.');
            let (name, help) = key.split_at(k);
            out.family_parts(&["node_netstat_", name], help, Kind::Untyped);
            match v {
                Value::U64(v) => out.u64(&[], v),
                Value::I64(v) => out.i64(&[], v),
                Value::F64(v) => out.f64(&[], v),
            }
        };
        let parsed = if file == "net/snmp6" {
            parse_snmp6(&ctx.buf, &mut visit);
            Ok(())
        } else {
            parse_pairs(&ctx.buf, &mut visit)
        };
        if let Some(e) = parsed.err().or(bad) {
            return Err(ctx.src.parse_error(e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    fn pairs(text: &str) -> Result<Vec<(String, String, String)>, ParseError> {
        let mut v = Vec::new();
        parse_pairs(text, &mut |p, f, x, _| {
            v.push((p.to_string(), f.to_string(), x.to_string()))
        })?;
        Ok(v)
    }

    fn t(p: &str, f: &str, x: &str) -> (String, String, String) {
        (p.to_string(), f.to_string(), x.to_string())
    }

    // Captured on kernel 6.18 (Icmp and Udp lines only).
    const SNMP_KERNEL_6_18: &str = "\
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 17 4 0 3 0 1341 852 0 0 5 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 29 0 0 30 0 0 0 0 0
";

    #[test]
    fn snmp_kernel_6_18() {
        let v = pairs(SNMP_KERNEL_6_18).unwrap();
        assert_eq!(v.len(), 24);
        assert_eq!(v[0], t("Tcp", "RtoAlgorithm", "1"));
        assert_eq!(v[3], t("Tcp", "MaxConn", "-1"));
        assert_eq!(v[9], t("Tcp", "InSegs", "1341"));
        assert_eq!(v[15], t("Udp", "InDatagrams", "29"));
        assert_eq!(v[23], t("Udp", "MemErrors", "0"));
        assert_eq!(parse_value("-1", "Tcp", "MaxConn", 2), Ok(Value::I64(-1)));
        assert_eq!(
            parse_value("18446744073709551615", "IpExt", "InOctets", 2),
            Ok(Value::U64(u64::MAX))
        );
        assert_eq!(
            parse_value("1e3", "Tcp", "InErrs", 2),
            Ok(Value::F64(1000.0))
        );
    }

    #[test]
    fn snmp6_kernel_6_18() {
        // Captured on kernel 6.18, columns padded with spaces and a tab.
        let text = "Ip6InReceives                   \t1\nIcmp6InType1                    \t1\nUdpLite6InDatagrams             \t0\nUdp6IgnoredMulti\t7\nNoSixHere 5\nIp6Lonely\n";
        let mut v = Vec::new();
        parse_snmp6(text, &mut |p, f, x, n| v.push((p, f, x, n)));
        assert_eq!(
            v,
            [
                ("Ip6", "InReceives", "1", 1),
                ("Icmp6", "InType1", "1", 2),
                ("UdpLite6", "InDatagrams", "0", 3),
                ("Udp6", "IgnoredMulti", "7", 4),
            ]
        );
    }

    #[test]
    fn netstat_empty_and_garbage() {
        assert_eq!(pairs(""), Ok(vec![]));
        assert_eq!(
            pairs("Tcp: A B C\nTcp: 1 2\n").unwrap_err().to_string(),
            "line 2: expected 3 values for the 3 fields of Tcp, found 2"
        );
        assert_eq!(
            pairs("Ip: A\nIp: 1\nTcp: A B\n").unwrap_err().to_string(),
            "line 3: expected a value line after the Tcp header, found the end of the file"
        );
        assert_eq!(
            pairs("Tcp: A\nUdp: 1\n").unwrap_err().to_string(),
            "line 2: expected the values of Tcp, found Udp"
        );
        assert_eq!(
            pairs("garbage here\n").unwrap_err().to_string(),
            "line 1: expected `Protocol: fields`, found \"garbage here\""
        );
        assert_eq!(
            parse_value("many", "Tcp", "InSegs", 4)
                .unwrap_err()
                .to_string(),
            "line 4: expected a number for Tcp InSegs, found \"many\""
        );
    }

    fn ctx(procfs: &str) -> Ctx {
        let src = Source::new(procfs.into(), "/nonexistent".into(), "/".into());
        Ctx::new(src)
    }

    #[test]
    fn collect_fixtures() {
        let mut ctx = ctx(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/proc"));
        let mut opt: Pattern = Netstat::new(&crate::collector::default_settings())
            .unwrap()
            .opt;
        let mut out = Encoder::new();
        collect(&mut opt, &mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        for want in [
            "# HELP node_netstat_Tcp_InSegs Statistic TcpInSegs.\n# TYPE node_netstat_Tcp_InSegs untyped\nnode_netstat_Tcp_InSegs 4567890123\n",
            "node_netstat_IpExt_InOctets 98765432109876\n",
            "node_netstat_Ip_Forwarding 1\n",
            "node_netstat_TcpExt_ListenDrops 9\n",
            "# HELP node_netstat_Ip6_InOctets Statistic Ip6InOctets.\n",
            "node_netstat_Ip6_InOctets 31234567890123\n",
            "node_netstat_UdpLite6_InErrors 0\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert_eq!(text.matches("# TYPE ").count(), 40);
        assert!(!text.contains("MaxConn"));
    }

    #[test]
    fn collect_without_ipv6_and_with_all_fields() {
        let dir = std::env::temp_dir().join(format!("proctap-netstat-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("net")).unwrap();
        std::fs::write(dir.join("net/netstat"), "TcpExt: ListenDrops\nTcpExt: 3\n").unwrap();
        std::fs::write(dir.join("net/snmp"), SNMP_KERNEL_6_18).unwrap();
        let mut ctx = ctx(dir.to_str().unwrap());
        let mut opt = crate::collector::Pattern::new(regex_lite::Regex::new("^Tcp_.*").unwrap());
        let mut out = Encoder::new();
        collect(&mut opt, &mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(text.contains("node_netstat_Tcp_MaxConn -1\n"), "{text}");
        assert_eq!(text.matches("# TYPE ").count(), 15);
        std::fs::write(dir.join("net/snmp"), "Tcp: A B\nTcp: 1 2 3\n").unwrap();
        let e = collect(&mut opt, &mut ctx, &mut out)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("/net/snmp:2: expected 2 values for the 2 fields of Tcp, found 3"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
