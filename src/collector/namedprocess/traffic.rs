//! The TCP bytes and listening TCP ports of the selected processes: one sock_diag dump of the
//! TCP sockets (IPv4 and IPv6, one request) with `INET_DIAG_INFO` per scrape, each socket matched to the
//! processes by the socket inodes of their fd/: a listening one gives a port (what
//! /proc/net/tcp{,6} would, without walking the kernel's socket tables twice more), the others
//! their `struct tcp_info`. A process's totals are the last counts of its sockets that are gone
//! (its base) plus the counts of those open now, so they never drop when a socket closes.
use super::parse::TCP_LISTEN;
use crate::netlink::{self, NlError};

/// `INET_DIAG_INFO`: the attribute with `struct tcp_info`; asked for by its bit, 1 << (2 - 1).
const INET_DIAG_INFO: u16 = 2;
pub const EXT_INFO: u8 = 1 << (INET_DIAG_INFO - 1);
/// Every state but TIME_WAIT (6) and NEW_SYN_RECV (12): neither has a tcp_info nor an inode.
/// LISTEN (10) sockets give the listening ports (and no bytes).
pub const STATES: u32 = 0xfff & !(1 << 6);
/// In `struct inet_diag_msg`: `idiag_state` (u8), `id.idiag_sport` (u16, network byte order),
/// `idiag_inode` (u32).
const STATE_AT: usize = 1;
const SPORT_AT: usize = 4;
const INODE_AT: usize = 68;
/// In `struct tcp_info` (linux/tcp.h): after 8 u8 fields, 24 u32 (to `tcpi_total_retrans` at
/// 100) and the u64 `tcpi_pacing_rate` (104) and `tcpi_max_pacing_rate` (112) come
/// `tcpi_bytes_acked` (120) and `tcpi_bytes_received` (128), both since Linux 4.1.
const BYTES_ACKED_AT: usize = 120;
const BYTES_RECEIVED_AT: usize = 128;

/// Received and transmitted (acknowledged) bytes.
pub type Bytes = [u64; 2];

/// The inode and bytes of one `inet_diag_msg` (the payload of a SOCK_DIAG_BY_FAMILY reply);
/// None for a socket without an inode (orphaned: no process holds it) or without tcp_info.
pub fn parse_diag(payload: &[u8]) -> Result<Option<(u64, Bytes)>, NlError> {
    let len = netlink::INET_DIAG_MSG_LEN;
    let (Some(inode), Some(attrs)) = (netlink::u32_at(payload, INODE_AT), payload.get(len..))
    else {
        return Err(netlink::short("inet_diag_msg", len, payload.len()));
    };
    let mut bytes = None;
    netlink::for_each_attr(attrs, |a| {
        if a.ty == INET_DIAG_INFO {
            let at = |o| netlink::u64_at(a.data, o);
            let (Some(rx), Some(tx)) = (at(BYTES_RECEIVED_AT), at(BYTES_ACKED_AT)) else {
                return Err(netlink::short("tcp_info (Linux 4.1+)", 136, a.data.len()));
            };
            bytes = Some([rx, tx]);
        }
        Ok(())
    })?;
    Ok(bytes.filter(|_| inode != 0).map(|b| (u64::from(inode), b)))
}

/// The inode and local port of a listening socket's `inet_diag_msg`; None for any other state,
/// a socket without an inode or a message too short to hold one.
pub fn listening(payload: &[u8]) -> Option<(u64, u16)> {
    if payload.get(STATE_AT) != Some(&TCP_LISTEN) {
        return None;
    }
    let port = payload.get(SPORT_AT..SPORT_AT + 2)?;
    let inode = netlink::u32_at(payload, INODE_AT).filter(|&i| i != 0)?;
    Some((u64::from(inode), u16::from_be_bytes([port[0], port[1]])))
}

/// One process's TCP bytes.
#[derive(Debug, Default)]
pub struct Traffic {
    /// The last counts of its sockets that are gone.
    base: Bytes,
    /// Its sockets at the last dump, sorted by inode.
    socks: Vec<(u64, Bytes)>,
}

impl Traffic {
    /// This dump's sockets of the process, sorted by inode: the ones gone since the last dump
    /// add their last counts into the base. Reuses its list: no allocation once it has held
    /// twice as many sockets.
    pub fn update(&mut self, now: impl Iterator<Item = (u64, Bytes)>) {
        let old = self.socks.len();
        let mut k = 0;
        for (ino, b) in now {
            // The old sockets before this one are gone; this one stays if it is old.
            while k < old {
                let Some(&(o, ob)) = self.socks.get(k) else {
                    break;
                };
                if o > ino {
                    break;
                }
                k += 1;
                if o < ino {
                    add(&mut self.base, ob);
                }
            }
            self.socks.push((ino, b));
        }
        for i in k..old {
            if let Some(&(_, ob)) = self.socks.get(i) {
                add(&mut self.base, ob);
            }
        }
        self.socks.drain(..old);
    }

    pub fn total(&self) -> Bytes {
        self.socks.iter().fold(self.base, |mut t, &(_, b)| {
            add(&mut t, b);
            t
        })
    }
}

fn add(t: &mut Bytes, b: Bytes) {
    t[0] = t[0].wrapping_add(b[0]);
    t[1] = t[1].wrapping_add(b[1]);
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::build::attr;

    /// An inet_diag_msg as the kernel lays it out, with a tcp_info of `info_len` bytes.
    pub fn diag(inode: u32, rx: u64, tx: u64, info_len: usize) -> Vec<u8> {
        let mut m = vec![0u8; netlink::INET_DIAG_MSG_LEN];
        m[0] = libc::AF_INET6 as u8;
        m[1] = 1; // TCP_ESTABLISHED
        m[INODE_AT..INODE_AT + 4].copy_from_slice(&inode.to_ne_bytes());
        // INET_DIAG_MEMINFO (1) before it, as the kernel may send.
        m.extend(attr(1, &[7; 16]));
        let mut info = vec![0u8; info_len];
        info[0] = 1;
        // tcpi_pacing_rate, which must not be taken for the bytes.
        info[104..112].copy_from_slice(&u64::MAX.to_ne_bytes());
        info[BYTES_ACKED_AT..128].copy_from_slice(&tx.to_ne_bytes());
        if info_len >= 136 {
            info[BYTES_RECEIVED_AT..136].copy_from_slice(&rx.to_ne_bytes());
        }
        m.extend(attr(INET_DIAG_INFO, &info));
        m
    }

    #[test]
    fn bytes_of_a_tcp_info() {
        // Linux 6.x sends 248 bytes; 4.1 sent 136.
        for len in [136, 232, 248] {
            let m = diag(4_242, 5 << 30, 3_000_001, len);
            assert_eq!(parse_diag(&m).unwrap(), Some((4_242, [5 << 30, 3_000_001])));
        }
        assert_eq!(parse_diag(&diag(0, 1, 2, 248)).unwrap(), None, "orphaned");
        let bare = vec![0u8; netlink::INET_DIAG_MSG_LEN];
        assert_eq!(parse_diag(&bare).unwrap(), None, "no tcp_info");
    }

    #[test]
    fn the_port_of_a_listening_socket() {
        let mut m = diag(4_242, 0, 0, 248);
        m[STATE_AT] = TCP_LISTEN;
        // Port 9100 in network byte order; the destination port (6) is 0 for a listener.
        m[SPORT_AT..SPORT_AT + 2].copy_from_slice(&9100u16.to_be_bytes());
        assert_eq!(listening(&m), Some((4_242, 9100)));
        m[INODE_AT..INODE_AT + 4].copy_from_slice(&0u32.to_ne_bytes());
        assert_eq!(listening(&m), None, "no inode");
        let est = diag(4_242, 1, 2, 248);
        assert_eq!(listening(&est), None, "established");
        assert_eq!(listening(&m[..40]), None);
        for n in 0..m.len() {
            let _ = listening(&m[..n]);
        }
    }

    #[test]
    fn short_or_garbage_messages_are_errors() {
        assert_eq!(
            parse_diag(&diag(9, 1, 2, 128)).unwrap_err().to_string(),
            "tcp_info (Linux 4.1+): expected at least 136 bytes, found 128"
        );
        assert_eq!(
            parse_diag(&[0; 40]).unwrap_err().to_string(),
            "inet_diag_msg: expected at least 72 bytes, found 40"
        );
        let mut m = diag(9, 1, 2, 248);
        m[72] = 250;
        assert!(parse_diag(&m).is_err());
        for n in 0..m.len() {
            let _ = parse_diag(&m[..n]);
        }
    }

    #[test]
    fn totals_keep_the_bytes_of_closed_sockets() {
        let mut t = Traffic::default();
        t.update([(10, [100, 50]), (12, [7, 3])].into_iter());
        assert_eq!(t.total(), [107, 53]);
        // 12 closed, 11 opened, 10 moved on.
        t.update([(10, [150, 60]), (11, [1, 1])].into_iter());
        assert_eq!(t.total(), [158, 64]);
        t.update(std::iter::empty());
        assert_eq!(t.total(), [158, 64]);
        t.update([(13, [2, 0])].into_iter());
        assert_eq!(t.total(), [160, 64]);
        // Gone ones between, before and after the ones that stay.
        let mut t = Traffic::default();
        t.update([(10, [1, 0]), (12, [2, 0]), (14, [4, 0]), (16, [8, 0])].into_iter());
        t.update([(11, [16, 0]), (14, [5, 0]), (15, [32, 0])].into_iter());
        assert_eq!(t.total(), [1 + 2 + 8 + 16 + 5 + 32, 0]);
        assert_eq!(t.socks, [(11, [16, 0]), (14, [5, 0]), (15, [32, 0])]);
    }
}
