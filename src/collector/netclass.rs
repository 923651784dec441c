//! `netclass`: /sys/class/net/<iface>/ → node_network_up, node_network_info and one gauge or
//! counter per numeric attribute, as node_exporter 1.5 reports them.
//!
//! node_exporter (through procfs) reads each attribute with a single 128-byte read, trims it,
//! and parses numbers with Go's `strconv.ParseInt(s, 0, 64)`. An attribute the kernel refuses
//! to show (EINVAL from `speed` or `duplex` on a link that is down or on wifi, EOPNOTSUPP) or
//! that is missing gives no sample; an empty one counts as 0.
use std::fs::File;
use std::io::ErrorKind;

use crate::collector::{Build, Collect, Collector, Ctx, Pattern, Sources, What, ROOT_ONLY};
use crate::expo::{Encoder, Kind};
use crate::flag::{CliError, Flag, Kind as FlagKind, Settings};
use crate::source::{open_dir, read_at, Error, ParseError, Root, Source};

/// procfs's `SysReadFile` reads at most this many bytes; longer values (an `ifalias` can have
/// 255) are cut there.
const ATTR_MAX_BYTES: usize = 128;

/// Builds the attribute table: file, metric name, type, and node_exporter's HELP.
macro_rules! attrs {
    ($(($file:expr, $metric:literal, $kind:expr)),* $(,)?) => {
        [$(Attr {
            file: $file,
            metric: concat!("node_network_", $metric),
            help: concat!("Network device property: ", $metric),
            kind: $kind,
        }),*]
    };
}

struct Attr {
    file: &'static str,
    metric: &'static str,
    help: &'static str,
    kind: Kind,
}

const SPEED: &str = "speed";

#[rustfmt::skip]
const NUMERIC: [Attr; 17] = attrs![
    ("addr_assign_type", "address_assign_type", Kind::Gauge),
    ("carrier", "carrier", Kind::Gauge),
    ("carrier_changes", "carrier_changes_total", Kind::Counter),
    ("carrier_up_count", "carrier_up_changes_total", Kind::Counter),
    ("carrier_down_count", "carrier_down_changes_total", Kind::Counter),
    ("dev_id", "device_id", Kind::Gauge),
    ("dormant", "dormant", Kind::Gauge),
    ("flags", "flags", Kind::Gauge),
    ("ifindex", "iface_id", Kind::Gauge),
    ("iflink", "iface_link", Kind::Gauge),
    ("link_mode", "iface_link_mode", Kind::Gauge),
    ("mtu", "mtu_bytes", Kind::Gauge),
    ("name_assign_type", "name_assign_type", Kind::Gauge),
    ("netdev_group", "net_dev_group", Kind::Gauge),
    // Mbit/s in the file, bytes/s in the metric; -1 (unknown, e.g. bridges) becomes -125000.
    (SPEED, "speed_bytes", Kind::Gauge),
    ("tx_queue_len", "transmit_queue_length", Kind::Gauge),
    ("type", "protocol_type", Kind::Gauge),
];

/// The files behind the labels of node_network_info (besides `device`).
const INFO_FILES: [&str; 5] = ["address", "broadcast", "duplex", "ifalias", "operstate"];

/// What node_exporter sees of an attribute file: its first 128 bytes, trimmed. A character
/// cut by that limit is dropped.
pub fn attr_value(raw: &[u8]) -> Result<&str, ParseError> {
    let head = raw.get(..ATTR_MAX_BYTES).unwrap_or(raw);
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(e) if e.error_len().is_none() => head
            .get(..e.valid_up_to())
            .and_then(|valid| std::str::from_utf8(valid).ok())
            .unwrap_or_default(),
        Err(e) => {
            return Err(ParseError::new(
                1,
                format!(
                    "expected UTF-8 text, found an invalid byte at offset {}",
                    e.valid_up_to()
                ),
            ))
        }
    };
    Ok(text.trim())
}

/// Parses a numeric attribute as Go's `strconv.ParseInt(s, 0, 64)` does: an optional sign,
/// `0x`/`0o`/`0b` prefixes, a leading `0` for octal, and `_` between digits (`flags` is
/// `0x1003`). An empty value is 0, as in node_exporter.
pub fn parse_attr_int(s: &str) -> Result<i64, ParseError> {
    if s.is_empty() {
        return Ok(0);
    }
    let bad = || {
        ParseError::new(
            1,
            format!("expected an integer (decimal, 0x hex, 0 octal), found {s:?}"),
        )
    };
    let (negative, unsigned) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let after_prefix = |p: &str| {
        unsigned
            .get(..2)
            .filter(|head| head.eq_ignore_ascii_case(p))
            .and_then(|_| unsigned.get(2..))
    };
    // `leading_zero`: the `0` of an octal `017` is itself a digit.
    let (radix, digits, prefixed, leading_zero) = if let Some(rest) = after_prefix("0x") {
        (16, rest, true, false)
    } else if let Some(rest) = after_prefix("0o") {
        (8, rest, true, false)
    } else if let Some(rest) = after_prefix("0b") {
        (2, rest, true, false)
    } else if unsigned.len() > 1 && unsigned.starts_with('0') {
        (8, unsigned.get(1..).unwrap_or_default(), true, true)
    } else {
        (10, unsigned, false, false)
    };
    let mut magnitude: u64 = 0;
    let mut seen_digit = leading_zero;
    // Go allows `_` only between digits or right after a base prefix.
    let mut underscore_ok = prefixed;
    let mut last_underscore = false;
    for c in digits.chars() {
        if c == '_' {
            if !underscore_ok {
                return Err(bad());
            }
            underscore_ok = false;
            last_underscore = true;
            continue;
        }
        let d = c.to_digit(radix).ok_or_else(bad)?;
        magnitude = magnitude
            .checked_mul(u64::from(radix))
            .and_then(|m| m.checked_add(u64::from(d)))
            .ok_or_else(bad)?;
        seen_digit = true;
        underscore_ok = true;
        last_underscore = false;
    }
    if last_underscore || !seen_digit {
        return Err(bad());
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude).ok_or_else(bad)
    } else {
        i64::try_from(magnitude).map_err(|_| bad())
    }
}

/// Reads attribute `attr` of the interface whose directory is `dir` into `buf`; `None` when the
/// kernel gives no value for it (or the interface is gone: `dir` is `None`).
///
/// One `read` of at most 128 bytes, as procfs does, rather than [`Source::read`]: it also
/// keeps the frequent "no value" answers (EINVAL from `speed` on every link that is down)
/// free of the path copy an [`Error`] carries. The file is opened relative to the interface's
/// directory, so the kernel resolves one name instead of the whole path and its symlink.
fn read_attr<'b>(
    src: &mut Source,
    dir: Option<&File>,
    iface: &str,
    attr: &str,
    buf: &'b mut [u8; ATTR_MAX_BYTES],
) -> Result<Option<&'b str>, Error> {
    let Some(dir) = dir else { return Ok(None) };
    match read_at(dir, attr, buf) {
        Ok(n) => attr_value(buf.get(..n).unwrap_or_default())
            .map(Some)
            .map_err(|e| {
                src.path(Root::Sys, &["class/net/", iface, "/", attr]);
                src.parse_error(e)
            }),
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::NotFound
                    | ErrorKind::InvalidInput
                    | ErrorKind::Unsupported
                    | ErrorKind::PermissionDenied
            ) =>
        {
            Ok(None)
        }
        Err(err) => Err(Error::Io {
            path: src
                .path(Root::Sys, &["class/net/", iface, "/", attr])
                .to_path_buf(),
            err,
        }),
    }
}

/// Entries of /sys/class/net are symlinks into /sys/devices; regular files such as
/// `bonding_masters` are not interfaces. Plain directories (as in fixtures) are taken too.
fn is_interface(src: &mut Source, name: &str) -> bool {
    std::fs::symlink_metadata(src.path(Root::Sys, &["class/net/", name]))
        .is_ok_and(|m| !m.file_type().is_file())
}

/// Every attribute of every interface, read in one pass per interface directory so that the
/// families (written one after another) come from memory. Kept between scrapes.
#[derive(Debug, Default)]
pub struct State {
    /// The INFO_FILES values of all wanted interfaces, concatenated.
    info: String,
    /// Where each value in `info` ends, INFO_FILES.len() per interface.
    ends: Vec<usize>,
    /// The NUMERIC values, NUMERIC.len() per interface; `None` where the kernel gives none.
    values: Vec<Option<i64>>,
}

impl State {
    /// INFO_FILES value `j` of the `k`th wanted interface.
    fn info(&self, k: usize, j: usize) -> &str {
        let i = k * INFO_FILES.len() + j;
        let start = i
            .checked_sub(1)
            .and_then(|p| self.ends.get(p))
            .copied()
            .unwrap_or(0);
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.info.get(start..end).unwrap_or_default()
    }
}

const OPERSTATE: usize = 4;

pub const COLLECTOR: Collector = Collector {
    name: "netclass",
    enabled_by_default: true,
    flags: &[
        Flag::new(
            "collector.netclass.ignored-devices",
            FlagKind::Regex,
            "RE",
            "^$",
            "Interfaces the netclass collector ignores.",
        ),
        Flag::switch(
            "collector.netclass.ignore-invalid-speed",
            "Leave out node_network_speed_bytes of interfaces whose speed is invalid (-1: unknown), as node_exporter 2.x will by default.",
        ),
    ],
    help_section: None,
    sources: Sources {
        reads: &[What::Dir(Root::Sys, "class/net")],
        hint: ROOT_ONLY,
    },
    build: Build::New(|s| Ok(Box::new(Netclass::new(s)?))),
};

pub struct Netclass {
    ignored: Pattern,
    ignore_invalid_speed: bool,
    st: State,
}

impl Netclass {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<Netclass, CliError> {
        Ok(Netclass {
            ignored: Pattern::new(s.regex("collector.netclass.ignored-devices")?),
            ignore_invalid_speed: s.switch("collector.netclass.ignore-invalid-speed"),
            st: State::default(),
        })
    }
}

impl Collect for Netclass {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        ctx.src
            .list_dir(Root::Sys, &["class/net"], &mut ctx.names)?;
        ctx.flags.clear();
        for name in ctx.names.iter() {
            let wanted = !self.ignored.is_match(name) && is_interface(&mut ctx.src, name);
            ctx.flags.push(wanted);
        }
        let (names, flags) = (&ctx.names, &ctx.flags);
        let ifaces = || {
            names
                .iter()
                .zip(flags.iter())
                .filter_map(|(name, &wanted)| wanted.then_some(name))
        };
        if ifaces().next().is_none() {
            return Ok(());
        }
        let mut attr_buf = [0u8; ATTR_MAX_BYTES];
        let st = &mut self.st;
        st.info.clear();
        st.ends.clear();
        st.values.clear();
        for iface in ifaces() {
            // An interface removed since the listing reads as one without values.
            let dir = match open_dir(ctx.src.path(Root::Sys, &["class/net/", iface])) {
                Ok(dir) => Some(dir),
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(err) => {
                    return Err(Error::Io {
                        path: ctx.src.last_path().to_path_buf(),
                        err,
                    })
                }
            };
            for file in INFO_FILES {
                if let Some(v) = read_attr(&mut ctx.src, dir.as_ref(), iface, file, &mut attr_buf)?
                {
                    st.info.push_str(v);
                }
                st.ends.push(st.info.len());
            }
            for attr in &NUMERIC {
                let value =
                    match read_attr(&mut ctx.src, dir.as_ref(), iface, attr.file, &mut attr_buf)? {
                        Some(text) => {
                            let mut v = parse_attr_int(text).map_err(|e| {
                                ctx.src
                                    .path(Root::Sys, &["class/net/", iface, "/", attr.file]);
                                ctx.src.parse_error(e)
                            })?;
                            if attr.file == SPEED {
                                // Go's int64 arithmetic, as node_exporter computes it.
                                v = v.wrapping_mul(1_000_000) / 8;
                            }
                            Some(v)
                        }
                        None => None,
                    };
                st.values.push(value);
            }
        }

        out.family(
            "node_network_up",
            "Value is 1 if operstate is 'up', 0 otherwise.",
            Kind::Gauge,
        );
        for (k, iface) in ifaces().enumerate() {
            let up = st.info(k, OPERSTATE) == "up";
            out.u64(&[("device", iface)], u64::from(up));
        }

        out.family(
            "node_network_info",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
            Kind::Gauge,
        );
        for (k, iface) in ifaces().enumerate() {
            out.u64(
                &[
                    ("address", st.info(k, 0)),
                    ("broadcast", st.info(k, 1)),
                    ("device", iface),
                    ("duplex", st.info(k, 2)),
                    ("ifalias", st.info(k, 3)),
                    ("operstate", st.info(k, OPERSTATE)),
                ],
                1,
            );
        }

        for (a, attr) in NUMERIC.iter().enumerate() {
            let mut opened = false;
            for (k, iface) in ifaces().enumerate() {
                let Some(&Some(v)) = st.values.get(k * NUMERIC.len() + a) else {
                    continue;
                };
                // The kernel reports -1 (SPEED_UNKNOWN) for a link whose speed it does not know.
                if attr.file == SPEED && v < 0 && self.ignore_invalid_speed {
                    continue;
                }
                if !opened {
                    out.family(attr.metric, attr.help, attr.kind);
                    opened = true;
                }
                out.i64(&[("device", iface)], v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::Ctx;
    use crate::source::Source;

    #[test]
    fn attr_values_as_node_exporter_reads_them() {
        let v = |raw: &str| attr_value(raw.as_bytes()).unwrap().to_string();
        assert_eq!(v("0x1003\n"), "0x1003");
        assert_eq!(v("\n"), "");
        assert_eq!(v(""), "");
        assert_eq!(v(" up \n"), "up");
        assert_eq!(v("up\ndown\n"), "up\ndown");
        let long = format!("{}{}\n", "A".repeat(120), "é".repeat(10));
        assert_eq!(v(&long), format!("{}{}", "A".repeat(120), "é".repeat(4)));
        // The limit falls inside a two-byte character: the character is dropped.
        let odd = format!("{}{}\n", "A".repeat(127), "é");
        assert_eq!(v(&odd), "A".repeat(127));
        assert_eq!(
            attr_value(b"caf\xe9 wifi\n").unwrap_err().to_string(),
            "line 1: expected UTF-8 text, found an invalid byte at offset 3"
        );
    }

    #[test]
    fn attr_ints_like_go_parse_int_base_0() {
        for (text, want) in [
            ("1500", 1500),
            ("-1", -1),
            ("+5", 5),
            ("0", 0),
            ("", 0),
            ("0x1003", 4099),
            ("0X91", 145),
            ("0x0", 0),
            ("010", 8),
            ("00", 0),
            ("0_7", 7),
            ("0o17", 15),
            ("0b101", 5),
            ("1_000", 1000),
            ("0x_1f", 31),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ] {
            assert_eq!(parse_attr_int(text), Ok(want), "{text:?}");
        }
        for text in [
            "garbage",
            "0x",
            "0o",
            "0b",
            "-",
            "1_",
            "_1",
            "1__0",
            "09",
            "0b2",
            "1.5",
            "- 1",
            "--1",
            "up",
            "9223372036854775808",
        ] {
            let e = parse_attr_int(text).unwrap_err();
            assert_eq!(
                e.msg,
                format!("expected an integer (decimal, 0x hex, 0 octal), found {text:?}")
            );
        }
    }

    fn ctx_at(root: &std::path::Path) -> Ctx {
        Ctx::new(Source::new(
            root.join("proc"),
            root.join("sys"),
            root.into(),
        ))
    }

    fn netclass(ignored: &str) -> Netclass {
        Netclass {
            ignored: Pattern::new(regex_lite::Regex::new(ignored).unwrap()),
            ignore_invalid_speed: false,
            st: State::default(),
        }
    }

    fn scrape(ctx: &mut Ctx) -> Result<String, Error> {
        scrape_with(&mut netclass("^$"), ctx)
    }

    fn scrape_with(nc: &mut Netclass, ctx: &mut Ctx) -> Result<String, Error> {
        let mut out = Encoder::new();
        nc.collect(ctx, &mut out)?;
        Ok(String::from_utf8(out.as_bytes().to_vec()).unwrap())
    }

    #[test]
    fn collect_fixtures() {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"));
        let text = scrape(&mut ctx_at(root)).unwrap();
        for line in [
            "node_network_up{device=\"eth0\"} 1\n",
            "node_network_up{device=\"wg0\"} 0\n",
            "node_network_info{address=\"a8:a1:59:3c:0e:41\",broadcast=\"ff:ff:ff:ff:ff:ff\",device=\"eth0.100\",duplex=\"full\",ifalias=\"guest VLAN \\\"iot\\\"\",operstate=\"up\"} 1\n",
            "node_network_info{address=\"\",broadcast=\"\",device=\"wg0\",duplex=\"\",ifalias=\"\",operstate=\"unknown\"} 1\n",
            "node_network_flags{device=\"eth0\"} 4099\n",
            "node_network_iface_link{device=\"eth0.100\"} 2\n",
            "# TYPE node_network_carrier_changes_total counter\n",
            "node_network_speed_bytes{device=\"eth0\"} 125000000\n",
            "node_network_speed_bytes{device=\"br-lan\"} -125000\n",
            // An empty speed file reads as 0 in node_exporter 1.5; the kernel's EINVAL gives none.
            "node_network_speed_bytes{device=\"wlan0\"} 0\n",
            "node_network_protocol_type{device=\"wg0\"} 65534\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("bonding_masters"));
        assert!(!text.contains("node_network_carrier{device=\"wlan0\"}"));
        assert!(!text.contains("node_network_speed_bytes{device=\"lo\"}"));
        assert_eq!(text.matches("# TYPE ").count(), 19);
        // --collector.netclass.ignore-invalid-speed drops br-lan's -1 (unknown) only.
        let mut nc = netclass("^$");
        nc.ignore_invalid_speed = true;
        let text = scrape_with(&mut nc, &mut ctx_at(root)).unwrap();
        assert!(!text.contains("node_network_speed_bytes{device=\"br-lan\"}"));
        assert!(text.contains("node_network_speed_bytes{device=\"eth0\"} 125000000\n"));
    }

    #[test]
    fn collect_ignores_devices_and_fails_on_garbage() {
        let root = std::env::temp_dir().join(format!("proctap-netclass-{}", std::process::id()));
        let dir = root.join("sys/class/net/eth1");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("operstate"), "up\n").unwrap();
        std::fs::write(dir.join("mtu"), "1500\n").unwrap();
        std::fs::write(root.join("sys/class/net/bonding_masters"), "\n").unwrap();

        assert_eq!(
            scrape_with(&mut netclass("^eth"), &mut ctx_at(&root)).unwrap(),
            ""
        );

        let mut ctx = ctx_at(&root);
        assert_eq!(
            scrape(&mut ctx).unwrap(),
            "# HELP node_network_up Value is 1 if operstate is 'up', 0 otherwise.\n\
             # TYPE node_network_up gauge\n\
             node_network_up{device=\"eth1\"} 1\n\
             # HELP node_network_info Non-numeric data from /sys/class/net/<iface>, value is always 1.\n\
             # TYPE node_network_info gauge\n\
             node_network_info{address=\"\",broadcast=\"\",device=\"eth1\",duplex=\"\",ifalias=\"\",operstate=\"up\"} 1\n\
             # HELP node_network_mtu_bytes Network device property: mtu_bytes\n\
             # TYPE node_network_mtu_bytes gauge\n\
             node_network_mtu_bytes{device=\"eth1\"} 1500\n"
        );

        std::fs::write(dir.join("mtu"), "fifteen hundred\n").unwrap();
        let err = scrape(&mut ctx).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:1: expected an integer (decimal, 0x hex, 0 octal), found \"fifteen hundred\"",
                dir.join("mtu").display()
            )
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
