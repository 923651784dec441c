//! `tcpstat` (off by default, feature `server`): TCP sockets by state and the bytes in their
//! queues → node_tcp_connection_states{state}, as node_exporter 1.5 counts them: a sock_diag
//! dump (inet_diag, IPv4, and IPv6 when --path.procfs has net/tcp6) of every state but
//! NEW_SYN_RECV, with the receive and send queues summed as `rx_queued_bytes` and
//! `tx_queued_bytes`. A kernel without inet_diag (CONFIG_INET_DIAG off, as on many small
//! routers) is read from /proc/net/tcp{,6} instead, as node_exporter did before netlink.
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::netlink::{self, Family, NlError, Socket};
use crate::source::{Error, ParseError, Root};

/// In `struct inet_diag_msg` (netlink::INET_DIAG_MSG_LEN bytes).
const RQUEUE_AT: usize = 56;
const WQUEUE_AT: usize = 60;
/// TCP_ESTABLISHED (1) through TCP_CLOSING (11), as node_exporter asks (TCPFAll = 0xFFF).
const STATES: u32 = 0xfff;

/// node_exporter's names for the kernel's TCP states 1..=11, then its two sums.
pub const NAMES: [&str; 13] = [
    "established",
    "syn_sent",
    "syn_recv",
    "fin_wait1",
    "fin_wait2",
    "time_wait",
    "close",
    "close_wait",
    "last_ack",
    "listen",
    "closing",
    "rx_queued_bytes",
    "tx_queued_bytes",
];

/// Counts per state (index state - 1), then the queued bytes; `sockets` how many were seen.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub by_name: [u64; 13],
    pub sockets: u64,
}

impl Counts {
    fn add(&mut self, state: u8, rqueue: u64, wqueue: u64) {
        self.sockets += 1;
        self.by_name[11] += rqueue;
        self.by_name[12] += wqueue;
        // The request asks for states 1..=11 only; anything else counts toward no state
        // (node_exporter's map would count a 12 or 13 into its sums).
        if let Some(slot) = usize::from(state)
            .checked_sub(1)
            .filter(|&i| i < 11)
            .and_then(|i| self.by_name.get_mut(i))
        {
            *slot += 1;
        }
    }
}

/// Adds one inet_diag_msg.
pub fn add_diag_msg(payload: &[u8], c: &mut Counts) -> Result<(), NlError> {
    if payload.len() < netlink::INET_DIAG_MSG_LEN {
        return Err(netlink::short(
            "inet_diag_msg",
            netlink::INET_DIAG_MSG_LEN,
            payload.len(),
        ));
    }
    let q = |at| u64::from(netlink::u32_at(payload, at).unwrap_or(0));
    c.add(payload[1], q(RQUEUE_AT), q(WQUEUE_AT));
    Ok(())
}

/// Adds the sockets of a /proc/net/tcp or tcp6 table: the state is the 4th column (hex), the
/// queues the 5th (`tx:rx`, hex).
pub fn add_proc_tcp(text: &str, c: &mut Counts) -> Result<(), ParseError> {
    for (i, line) in text.lines().enumerate().skip(1) {
        let mut f = line.split_whitespace();
        let (Some(_), Some(_), Some(_), Some(st), Some(queues)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(ParseError::new(
                i + 1,
                "expected at least 5 columns (sl, local, remote, st, tx:rx)",
            ));
        };
        let hex = |s: &str, what: &str| {
            u64::from_str_radix(s, 16).map_err(|_| {
                ParseError::new(i + 1, format!("expected hexadecimal {what}, found {s:?}"))
            })
        };
        let (tx, rx) = queues.split_once(':').ok_or_else(|| {
            ParseError::new(
                i + 1,
                format!("expected tx_queue:rx_queue, found {queues:?}"),
            )
        })?;
        let state = u8::try_from(hex(st, "state")?)
            .map_err(|_| ParseError::new(i + 1, format!("expected a state, found {st:?}")))?;
        c.add(state, hex(rx, "rx_queue")?, hex(tx, "tx_queue")?);
    }
    Ok(())
}

pub fn write(c: &Counts, out: &mut Encoder) {
    out.family(
        "node_tcp_connection_states",
        "Number of connection states.",
        Kind::Gauge,
    );
    if c.sockets == 0 {
        return;
    }
    for (i, (name, &v)) in NAMES.iter().zip(&c.by_name).enumerate() {
        // States without sockets are absent, as in node_exporter's map; the sums are not.
        if v > 0 || i >= 11 {
            out.u64(&[("state", name)], v);
        }
    }
}

pub const COLLECTOR: Collector = Collector {
    name: "tcpstat",
    enabled_by_default: false,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[
            What::Netlink(Family::SockDiag, "SOCK_DIAG_BY_FAMILY dump, IPPROTO_TCP"),
            What::Optional(Root::Proc, "net/tcp6"),
        ],
        hint: "needs no privilege; without CONFIG_INET_DIAG it reads /proc/net/tcp{,6}",
    },
    build: Build::New(|_| Ok(Box::<Tcpstat>::default())),
};

#[derive(Default)]
pub struct Tcpstat {
    sock: Option<Socket>,
    req: Vec<u8>,
    /// The kernel has no inet_diag: read the /proc tables.
    proc_tables: bool,
}

impl Tcpstat {
    fn dump(&mut self, family: u8, c: &mut Counts) -> Result<(), NlError> {
        let sock = match &mut self.sock {
            Some(s) => s,
            None => self.sock.insert(Socket::open(netlink::NETLINK_SOCK_DIAG)?),
        };
        netlink::dump_tcp(sock, &mut self.req, family, 0, STATES, &mut |m| {
            add_diag_msg(m, c)
        })
    }
}

impl Collect for Tcpstat {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        let mut c = Counts::default();
        let ipv6 = ctx.src.path(Root::Proc, &["net/tcp6"]).exists();
        if !self.proc_tables {
            let mut r = self.dump(libc::AF_INET as u8, &mut c);
            if r.is_ok() && ipv6 {
                r = self.dump(libc::AF_INET6 as u8, &mut c);
            }
            match r {
                Ok(()) => {
                    write(&c, out);
                    return Ok(());
                }
                // No inet_diag handler for the family: the module is not there.
                Err(NlError::Io(e))
                    if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EOPNOTSUPP)) =>
                {
                    self.proc_tables = true;
                    c = Counts::default();
                }
                Err(e) => return Err(e.into_error("netlink SOCK_DIAG_BY_FAMILY dump")),
            }
        }
        ctx.src.read(Root::Proc, &["net/tcp"], &mut ctx.buf)?;
        add_proc_tcp(&ctx.buf, &mut c).map_err(|e| ctx.src.parse_error(e))?;
        if ctx
            .src
            .read_optional(Root::Proc, &["net/tcp6"], &mut ctx.buf)?
        {
            add_proc_tcp(&ctx.buf, &mut c).map_err(|e| ctx.src.parse_error(e))?;
        }
        write(&c, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An inet_diag_msg for a socket in `state` with the given queues.
    fn diag(family: u8, state: u8, rqueue: u32, wqueue: u32) -> Vec<u8> {
        let mut m = vec![family, state, 0, 0];
        m.extend([0u8; 48]);
        m.extend(0u32.to_ne_bytes()); // expires
        m.extend(rqueue.to_ne_bytes());
        m.extend(wqueue.to_ne_bytes());
        m.extend(1000u32.to_ne_bytes()); // uid
        m.extend(4242u32.to_ne_bytes()); // inode
        m
    }

    fn text(c: &Counts) -> String {
        let mut out = Encoder::new();
        write(c, &mut out);
        String::from_utf8(out.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn diag_messages_count_states_and_sum_queues() {
        let mut c = Counts::default();
        for m in [
            diag(2, 10, 0, 0),
            diag(2, 1, 1000, 21),
            diag(10, 1, 11, 0),
            diag(10, 6, 0, 0),
        ] {
            add_diag_msg(&m, &mut c).unwrap();
        }
        assert_eq!(
            text(&c),
            "# HELP node_tcp_connection_states Number of connection states.\n\
             # TYPE node_tcp_connection_states gauge\n\
             node_tcp_connection_states{state=\"established\"} 2\n\
             node_tcp_connection_states{state=\"time_wait\"} 1\n\
             node_tcp_connection_states{state=\"listen\"} 1\n\
             node_tcp_connection_states{state=\"rx_queued_bytes\"} 1011\n\
             node_tcp_connection_states{state=\"tx_queued_bytes\"} 21\n"
        );
        // No socket at all: the family without samples, as node_exporter's empty map.
        assert_eq!(text(&Counts::default()).lines().count(), 2);
        // A state the request excludes (0, 12) counts toward nothing but the sums.
        let mut c = Counts::default();
        add_diag_msg(&diag(2, 12, 5, 0), &mut c).unwrap();
        assert_eq!((c.by_name[11], c.by_name[..11].iter().sum::<u64>()), (5, 0));
        let e = add_diag_msg(&[0; 40], &mut c).unwrap_err().to_string();
        assert_eq!(e, "inet_diag_msg: expected at least 72 bytes, found 40");
    }

    #[test]
    fn proc_tables_of_the_fixtures() {
        let ctx = crate::collector::fixture_ctx();
        let mut c = Counts::default();
        for f in ["tcp", "tcp6"] {
            let t = std::fs::read_to_string(ctx.src.procfs.join("net").join(f)).unwrap();
            add_proc_tcp(&t, &mut c).unwrap();
        }
        assert_eq!(c.sockets, 15);
        let t = text(&c);
        for want in [
            "{state=\"listen\"} 10\n",
            "{state=\"established\"} 4\n",
            "{state=\"time_wait\"} 1\n",
        ] {
            assert!(t.contains(want), "{want} in {t}");
        }
    }

    #[test]
    fn proc_tables_odd_lines_and_garbage() {
        let head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        let mut c = Counts::default();
        let t = format!("{head}   0: 0100007F:0CEA 00000000:0000 0A 00000010:00000020 00:00000000 00000000     0        0 1 1\n\n");
        add_proc_tcp(&t, &mut c).unwrap();
        assert_eq!(
            (c.by_name[9], c.by_name[11], c.by_name[12]),
            (1, 0x20, 0x10)
        );
        let e = |body: &str| {
            add_proc_tcp(&format!("{head}{body}"), &mut Counts::default())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            e("   0: 0100007F:0CEA\n"),
            "line 2: expected at least 5 columns (sl, local, remote, st, tx:rx)"
        );
        assert_eq!(
            e("   0: a b 0A 0000001000000020\n"),
            "line 2: expected tx_queue:rx_queue, found \"0000001000000020\""
        );
        assert_eq!(
            e("   0: a b ZZ 0:0\n"),
            "line 2: expected hexadecimal state, found \"ZZ\""
        );
        assert_eq!(
            e("   0: a b 1FF 0:0\n"),
            "line 2: expected a state, found \"1FF\""
        );
    }

    #[test]
    fn live_dump_counts_a_listener_of_this_test() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut t = Tcpstat::default();
        let mut c = Counts::default();
        t.dump(libc::AF_INET as u8, &mut c).unwrap();
        assert!(c.by_name[9] >= 1, "the listener: {c:?}");
        drop(l);
    }
}
