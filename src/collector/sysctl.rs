//! `sysctl` (off by default, feature `server`): the sysctls named by
//! `--collector.sysctl.include NAME[:key,key...]` as numbers and by
//! `--collector.sysctl.include-info NAME` as strings, read from /proc/sys/<name with . as />,
//! as node_exporter 1.5 exports them:
//! - one number: node_sysctl_<name> (untyped; the name sanitized as node_exporter does);
//! - several (`net.ipv4.tcp_rmem`): node_sysctl_<name>{index="0"...}, or with keys given
//!   (`net.ipv4.tcp_rmem:min,default,max`) node_sysctl_<name>_<key> each;
//! - strings: node_sysctl_info{name,value,index} 1, one series per word.
//!
//! A sysctl that is missing, empty, not numbers (for --collector.sysctl.include) or with
//! another count of values than keys given fails the collector naming it, as in node_exporter.
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{u64_str, Encoder, Kind};
use crate::flag::{Flag, Kind as FlagKind, Settings};
use crate::parse::i64_at;
use crate::source::{Error, ParseError, Root};

/// node_exporter's SanitizeMetricName: every run of characters outside `[0-9A-Za-z_]`, with
/// the underscores around it, becomes one `_`.
pub fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    sanitize_into(name, &mut out);
    out
}

/// [`sanitize`] into `out` (cleared first), for names built on every scrape.
pub fn sanitize_into(name: &str, out: &mut String) {
    out.clear();
    let b = name.as_bytes();
    let valid = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let (mut i, mut underscores) = (0, 0);
    while let Some(&c) = b.get(i) {
        if valid(c) {
            out.push(char::from(c));
            underscores = if c == b'_' { underscores + 1 } else { 0 };
            i += 1;
            continue;
        }
        out.truncate(out.len() - underscores);
        while b.get(i).is_some_and(|&c| !valid(c)) {
            i += 1;
        }
        while b.get(i) == Some(&b'_') {
            i += 1;
        }
        out.push('_');
        underscores = 0;
    }
}

/// One sysctl to export, from a flag value `name[:key,key...]`.
#[derive(Debug, PartialEq, Eq)]
pub struct Wanted {
    /// As given (`net.ipv4.tcp_rmem`), for HELP and the info series' `name` label.
    pub name: String,
    /// Under /proc/sys (`net/ipv4/tcp_rmem`).
    pub path: String,
    /// For the family name (`net_ipv4_tcp_rmem`).
    pub metric: String,
    pub keys: Vec<String>,
}

impl Wanted {
    pub fn new(spec: &str) -> Wanted {
        let (name, keys) = match spec.split_once(':') {
            Some((n, k)) => (n, k.split(',').map(str::to_string).collect()),
            None => (spec, Vec::new()),
        };
        Wanted {
            name: name.to_string(),
            path: name.replace('.', "/"),
            metric: sanitize(name),
            keys,
        }
    }
}

fn check_spec(spec: &str) -> Result<(), String> {
    let name = spec.split(':').next().unwrap_or("");
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return Err(
            "expected a sysctl name such as vm.swappiness (then :key,key... to name its values)"
                .into(),
        );
    }
    Ok(())
}

/// The numbers of a numeric sysctl's text (`4096\t131072\t6291456`), checked against the
/// keys wanted: what node_exporter refuses is an error here too.
pub fn parse_ints(
    text: &str,
    w: &Wanted,
    mut each: impl FnMut(usize, i64),
) -> Result<(), ParseError> {
    let n = text.split_ascii_whitespace().count();
    let name = &w.name;
    match n {
        0 => return Err(ParseError::new(1, format!("sysctl {name} has no values"))),
        1 if !w.keys.is_empty() => {
            return Err(ParseError::new(
                1,
                format!(
                    "sysctl {name} has only one value, but {} keys were given",
                    w.keys.len()
                ),
            ))
        }
        _ if n > 1 && !w.keys.is_empty() && n != w.keys.len() => {
            return Err(ParseError::new(
                1,
                format!(
                    "sysctl {name} has {n} values but {} keys were given",
                    w.keys.len()
                ),
            ))
        }
        _ => {}
    }
    for (i, v) in text.split_ascii_whitespace().enumerate() {
        each(i, i64_at(v, 1, name)?);
    }
    Ok(())
}

const FLAGS: &[Flag] = &[
    Flag::new(
        "collector.sysctl.include",
        FlagKind::Repeat,
        "NAME[:KEYS]",
        "",
        "A sysctl to export as node_sysctl_<name> (repeat the flag for more): NAME as sysctl(8) spells it (vm.swappiness); a sysctl of several numbers gets an index label, or with :KEY,KEY... a series per named value (net.ipv4.tcp_rmem:min,default,max).",
    )
    .unset_none()
    .check(check_spec),
    Flag::new(
        "collector.sysctl.include-info",
        FlagKind::Repeat,
        "NAME",
        "",
        "A sysctl of words to export as node_sysctl_info{name,value,index} (repeat the flag for more), such as net.ipv4.tcp_available_congestion_control.",
    )
    .unset_none()
    .check(check_spec),
];

pub const COLLECTOR: Collector = Collector {
    name: "sysctl",
    enabled_by_default: false,
    flags: FLAGS,
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Proc, "sys")],
        hint: "the sysctls named by --collector.sysctl.include(-info); a few need root",
    },
    build: Build::New(|s| Ok(Box::new(Sysctl::new(s)))),
};

pub struct Sysctl {
    numbers: Vec<Wanted>,
    words: Vec<Wanted>,
    help: String,
}

impl Sysctl {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Sysctl {
        let wanted = |flag| {
            let mut v: Vec<Wanted> = Vec::new();
            for spec in s.list(flag) {
                let w = Wanted::new(spec);
                // Asked twice: one family, not a duplicate.
                if !v.iter().any(|o| o.name == w.name) {
                    v.push(w);
                }
            }
            v
        };
        Sysctl {
            numbers: wanted("collector.sysctl.include"),
            words: wanted("collector.sysctl.include-info"),
            help: String::new(),
        }
    }
}

impl Collect for Sysctl {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        let mut tmp = [0u8; 20];
        for w in &self.numbers {
            ctx.src.read(Root::Proc, &["sys/", &w.path], &mut ctx.buf)?;
            let (src, buf, help) = (&ctx.src, &ctx.buf, &mut self.help);
            let single = buf.split_ascii_whitespace().nth(1).is_none();
            help.clear();
            help.push_str("sysctl ");
            help.push_str(&w.name);
            if single || w.keys.is_empty() {
                out.family_parts(&["node_sysctl_", &w.metric], help, Kind::Untyped);
            }
            parse_ints(buf, w, |i, v| {
                if single {
                    out.i64(&[], v);
                } else if let Some(key) = w.keys.get(i) {
                    help.truncate("sysctl ".len() + w.name.len());
                    help.push_str(", field ");
                    help.push_str(u64_str(&mut tmp, i as u64));
                    out.family_parts(&["node_sysctl_", &w.metric, "_", key], help, Kind::Untyped);
                    out.i64(&[], v);
                } else {
                    out.i64(&[("index", u64_str(&mut tmp, i as u64))], v);
                }
            })
            .map_err(|e| src.parse_error(e))?;
        }
        let mut first = true;
        for w in &self.words {
            ctx.src.read(Root::Proc, &["sys/", &w.path], &mut ctx.buf)?;
            if ctx.buf.split_ascii_whitespace().next().is_none() {
                let e = ParseError::new(1, format!("sysctl {} has no values", w.name));
                return Err(ctx.src.parse_error(e));
            }
            if first {
                out.family("node_sysctl_info", "sysctl info", Kind::Gauge);
                first = false;
            }
            for (i, word) in ctx.buf.split_ascii_whitespace().enumerate() {
                let index = u64_str(&mut tmp, i as u64);
                out.u64(&[("index", index), ("name", &w.name), ("value", word)], 1);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitized_as_node_exporter() {
        assert_eq!(sanitize("net.ipv4.ip_forward"), "net_ipv4_ip_forward");
        assert_eq!(
            sanitize("kernel.sched_domain.cpu0"),
            "kernel_sched_domain_cpu0"
        );
        // `_*[^0-9A-Za-z_]+_*` → `_`: the underscores around a dot go with it.
        assert_eq!(sanitize("a_.b"), "a_b");
        assert_eq!(sanitize("a._b"), "a_b");
        assert_eq!(sanitize("a._.b"), "a__b");
        assert_eq!(
            sanitize("net.ipv4.conf.eth0-1:2.rp_filter"),
            "net_ipv4_conf_eth0_1_2_rp_filter"
        );
        assert_eq!(sanitize("é"), "_");
    }

    #[test]
    fn specs() {
        let w = Wanted::new("net.ipv4.tcp_rmem:min,default,max");
        assert_eq!(w.name, "net.ipv4.tcp_rmem");
        assert_eq!(w.path, "net/ipv4/tcp_rmem");
        assert_eq!(w.metric, "net_ipv4_tcp_rmem");
        assert_eq!(w.keys, ["min", "default", "max"]);
        assert!(check_spec("vm.swappiness").is_ok());
        assert!(check_spec("").is_err());
        assert!(check_spec("vm..x").is_err());
        assert!(check_spec(":a").is_err());
    }

    fn ints(text: &str, spec: &str) -> Result<Vec<(usize, i64)>, String> {
        let mut v = Vec::new();
        parse_ints(text, &Wanted::new(spec), |i, n| v.push((i, n)))
            .map(|()| v)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_and_garbage() {
        assert_eq!(ints("60\n", "vm.swappiness"), Ok(vec![(0, 60)]));
        assert_eq!(
            ints("32768\t60999\n", "net.ipv4.ip_local_port_range:low,high"),
            Ok(vec![(0, 32768), (1, 60999)])
        );
        assert_eq!(
            ints("-1\n", "kernel.perf_event_paranoid"),
            Ok(vec![(0, -1)])
        );
        assert_eq!(
            ints("\n", "x.y"),
            Err("line 1: sysctl x.y has no values".into())
        );
        assert_eq!(
            ints("5\n", "x.y:a,b"),
            Err("line 1: sysctl x.y has only one value, but 2 keys were given".into())
        );
        assert_eq!(
            ints("5 6 7\n", "x.y:a,b"),
            Err("line 1: sysctl x.y has 3 values but 2 keys were given".into())
        );
        assert_eq!(
            ints("cubic\n", "x.y"),
            Err("line 1: expected an integer for x.y, found \"cubic\"".into())
        );
    }

    fn collector(include: &[&str], info: &[&str]) -> Sysctl {
        let mut s = crate::collector::default_settings();
        let f = |n| FLAGS.iter().find(|f| f.name == n).unwrap();
        let list =
            |v: &[&str]| crate::config::Value::List(v.iter().map(|s| s.to_string()).collect());
        s.set(f("collector.sysctl.include"), list(include)).unwrap();
        s.set(f("collector.sysctl.include-info"), list(info))
            .unwrap();
        Sysctl::new(&s)
    }

    #[test]
    fn collect_fixture() {
        let mut c = collector(
            &[
                "vm.swappiness",
                "net.ipv4.tcp_rmem",
                "net.ipv4.ip_local_port_range:low,high",
                "vm.swappiness",
            ],
            &[
                "net.ipv4.tcp_available_congestion_control",
                "net.ipv4.tcp_congestion_control",
            ],
        );
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        c.collect(&mut ctx, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out.as_bytes().to_vec()).unwrap(),
            "\
# HELP node_sysctl_vm_swappiness sysctl vm.swappiness
# TYPE node_sysctl_vm_swappiness untyped
node_sysctl_vm_swappiness 60
# HELP node_sysctl_net_ipv4_tcp_rmem sysctl net.ipv4.tcp_rmem
# TYPE node_sysctl_net_ipv4_tcp_rmem untyped
node_sysctl_net_ipv4_tcp_rmem{index=\"0\"} 4096
node_sysctl_net_ipv4_tcp_rmem{index=\"1\"} 131072
node_sysctl_net_ipv4_tcp_rmem{index=\"2\"} 6291456
# HELP node_sysctl_net_ipv4_ip_local_port_range_low sysctl net.ipv4.ip_local_port_range, field 0
# TYPE node_sysctl_net_ipv4_ip_local_port_range_low untyped
node_sysctl_net_ipv4_ip_local_port_range_low 32768
# HELP node_sysctl_net_ipv4_ip_local_port_range_high sysctl net.ipv4.ip_local_port_range, field 1
# TYPE node_sysctl_net_ipv4_ip_local_port_range_high untyped
node_sysctl_net_ipv4_ip_local_port_range_high 60999
# HELP node_sysctl_info sysctl info
# TYPE node_sysctl_info gauge
node_sysctl_info{index=\"0\",name=\"net.ipv4.tcp_available_congestion_control\",value=\"reno\"} 1
node_sysctl_info{index=\"1\",name=\"net.ipv4.tcp_available_congestion_control\",value=\"cubic\"} 1
node_sysctl_info{index=\"2\",name=\"net.ipv4.tcp_available_congestion_control\",value=\"bbr\"} 1
node_sysctl_info{index=\"0\",name=\"net.ipv4.tcp_congestion_control\",value=\"cubic\"} 1
"
        );
    }

    #[test]
    fn a_missing_or_wordy_sysctl_fails_naming_it() {
        let mut ctx = crate::collector::fixture_ctx();
        let err = collector(&["vm.nonexistent"], &[])
            .collect(&mut ctx, &mut Encoder::new())
            .unwrap_err();
        assert!(err.to_string().contains("sys/vm/nonexistent"), "{err}");
        let err = collector(&["net.ipv4.tcp_congestion_control"], &[])
            .collect(&mut ctx, &mut Encoder::new())
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "expected an integer for net.ipv4.tcp_congestion_control, found \"cubic\""
            ),
            "{err}"
        );
    }

    #[test]
    fn nothing_asked_is_nothing() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collector(&[], &[]).collect(&mut ctx, &mut out).unwrap();
        assert!(out.as_bytes().is_empty());
    }
}
