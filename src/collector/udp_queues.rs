//! `udp_queues`: /proc/net/udp and /proc/net/udp6 → node_udp_queues{queue,ip}, the bytes
//! queued for sending (`tx`) and receiving (`rx`) summed over all UDP sockets, as
//! node_exporter reports them.
//!
//! A kernel without IPv6 has no udp6: the v4 series alone, not an error (node_exporter marks
//! the collector failed then).
use crate::collector::{Collector, Ctx, Sources, What, ROOT_ONLY};
use crate::expo::{Encoder, Kind};
use crate::source::{Error, ParseError, Root};

/// The summed queues of one table: (tx, rx) in bytes.
pub type Queues = (u64, u64);

/// Sums `tx_queue:rx_queue` (hexadecimal) over the socket lines of /proc/net/udp{,6}; the
/// first line is the header. Each line needs the columns up to `uid`, as procfs checks.
pub fn parse_udp(text: &str) -> Result<Queues, ParseError> {
    let (mut tx, mut rx) = (0u64, 0u64);
    for (i, line) in text.lines().enumerate().skip(1) {
        let n = i + 1;
        let fields: [&str; 8] = first_fields(line).ok_or_else(|| {
            ParseError::new(
                n,
                format!(
                    "expected at least 8 columns (sl local rem st tx:rx tr:when retrnsmt uid), found {}",
                    line.split_ascii_whitespace().count()
                ),
            )
        })?;
        let [sl, _, _, _, queues, _, _, _] = fields;
        if sl.strip_suffix(':').is_none() {
            return Err(ParseError::new(
                n,
                format!("expected `N:` first, found {sl:?}"),
            ));
        }
        let hex = |s: &str| u64::from_str_radix(s, 16).ok();
        let Some((t, r)) = queues
            .split_once(':')
            .and_then(|(t, r)| Some((hex(t)?, hex(r)?)))
        else {
            return Err(ParseError::new(
                n,
                format!("expected hexadecimal tx_queue:rx_queue, found {queues:?}"),
            ));
        };
        tx = tx.saturating_add(t);
        rx = rx.saturating_add(r);
    }
    Ok((tx, rx))
}

fn first_fields(line: &str) -> Option<[&str; 8]> {
    let mut f = line.split_ascii_whitespace();
    let mut out = [""; 8];
    for slot in &mut out {
        *slot = f.next()?;
    }
    Some(out)
}

pub const COLLECTOR: Collector = Collector::plain(
    "udp_queues",
    collect,
    Sources {
        reads: &[
            What::File(Root::Proc, "net/udp"),
            What::Optional(Root::Proc, "net/udp6"),
        ],
        hint: ROOT_ONLY,
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    ctx.src.read(Root::Proc, &["net/udp"], &mut ctx.buf)?;
    let v4 = parse_udp(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
    let v6 = if ctx
        .src
        .read_optional(Root::Proc, &["net/udp6"], &mut ctx.buf)?
    {
        Some(parse_udp(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?)
    } else {
        None
    };
    out.family(
        "node_udp_queues",
        "Number of allocated memory in the kernel for UDP datagrams in bytes.",
        Kind::Gauge,
    );
    for (ip, queues) in [("v4", Some(v4)), ("v6", v6)] {
        if let Some((tx, rx)) = queues {
            out.u64(&[("queue", "tx"), ("ip", ip)], tx);
            out.u64(&[("queue", "rx"), ("ip", ip)], rx);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // A DNS resolver, kernel 6.1: a socket with queued datagrams both ways.
    const UDP_KERNEL_6_1: &str = "\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  103: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 21432 2 0000000000000000 0
  221: 00000000:0044 00000000:0000 07 00000000:0001A400 00:00000000 00000000     0        0 19322 2 0000000000000000 17
 1780: 0A00000A:8B2E 08080808:0035 01 00000340:00000000 00:00000000 00000000   101        0 52011 2 0000000000000000 0
";

    #[test]
    fn sums_queues() {
        assert_eq!(parse_udp(UDP_KERNEL_6_1), Ok((0x340, 0x1A400)));
        // Only the header: no sockets.
        assert_eq!(
            parse_udp(UDP_KERNEL_6_1.lines().next().unwrap()),
            Ok((0, 0))
        );
        assert_eq!(parse_udp(""), Ok((0, 0)));
    }

    #[test]
    fn many_sockets_do_not_overflow() {
        let mut text = String::from("sl header\n");
        for i in 0..70_000 {
            text.push_str(&format!(
                "{i}: 00000000:0044 00000000:0000 07 FFFFFFFFFFFFFFFF:00000001 00:00000000 00000000 0 0 1 2 0 0\n"
            ));
        }
        assert_eq!(parse_udp(&text), Ok((u64::MAX, 70_000)));
    }

    #[test]
    fn garbage() {
        let err = |row: &str| {
            parse_udp(&format!("sl header\n{row}\n"))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("  1: 0100007F:0035 00000000:0000 07"),
            "line 2: expected at least 8 columns (sl local rem st tx:rx tr:when retrnsmt uid), found 4"
        );
        assert_eq!(
            err("  1: 0100007F:0035 00000000:0000 07 0000000g:00000000 00:00000000 00000000 0"),
            "line 2: expected hexadecimal tx_queue:rx_queue, found \"0000000g:00000000\""
        );
        assert_eq!(
            err("  1 0100007F:0035 00000000:0000 07 0:0 00:00000000 00000000 0"),
            "line 2: expected `N:` first, found \"1\""
        );
    }

    #[test]
    fn collect_fixtures() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(
            text.ends_with(
                "node_udp_queues{queue=\"tx\",ip=\"v4\"} 512
node_udp_queues{queue=\"rx\",ip=\"v4\"} 3648
node_udp_queues{queue=\"tx\",ip=\"v6\"} 0
node_udp_queues{queue=\"rx\",ip=\"v6\"} 768
"
            ),
            "{text}"
        );
    }
}
