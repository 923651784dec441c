//! A small netlink client for the collectors that ask the kernel rather than read a file
//! (netdev with `--collector.netdev.netlink`, qdisc, network_route, tcpstat, wifi): one socket
//! kept per collector, a request built into a reused buffer, the replies received into another,
//! and the messages and attributes parsed by pure functions of bytes, so that every parser is
//! tested on messages built from the kernel's documented layouts (include/uapi/linux/netlink.h,
//! rtnetlink.h, genetlink.h).
//!
//! Also the one ioctl the network collectors share: an interface's name from its index.
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::source::{Error, ParseError};

/// `struct nlmsghdr`: u32 length, u16 type, u16 flags, u32 sequence, u32 port id.
pub const HDRLEN: usize = 16;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLM_F_REQUEST: u16 = 1;
pub const NLM_F_MULTI: u16 = 2;
pub const NLM_F_DUMP: u16 = 0x300;
/// Attribute types carry two flag bits (nested, network byte order) above the type.
const NLA_TYPE_MASK: u16 = 0x3fff;

pub const NETLINK_ROUTE: i32 = 0;
pub const NETLINK_SOCK_DIAG: i32 = 4;
pub const NETLINK_GENERIC: i32 = 16;

/// Why a netlink exchange failed: the socket or the kernel said no, or a reply did not have
/// the layout the kernel documents.
#[derive(Debug)]
pub enum NlError {
    Io(io::Error),
    Malformed(String),
}

impl NlError {
    pub fn malformed(what: impl Into<String>) -> NlError {
        NlError::Malformed(what.into())
    }

    /// The collector's error, naming what was asked (`what`, e.g. "netlink RTM_GETQDISC").
    /// A kernel without the feature (no such generic family, EOPNOTSUPP) is
    /// [`Error::Unavailable`].
    pub fn into_error(self, what: &str) -> Error {
        match self {
            NlError::Io(err) => Error::Io {
                path: what.into(),
                err,
            }
            .absent_feature(),
            NlError::Malformed(msg) => Error::Parse {
                path: what.into(),
                err: ParseError::new(0, msg),
            },
        }
    }
}

impl std::fmt::Display for NlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NlError::Io(e) => write!(f, "{e}"),
            NlError::Malformed(m) => f.write_str(m),
        }
    }
}

impl From<io::Error> for NlError {
    fn from(e: io::Error) -> Self {
        NlError::Io(e)
    }
}

/// One netlink message of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg<'a> {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    /// Everything after the 16-byte header, up to the message's length.
    pub payload: &'a [u8],
}

/// The messages of one received datagram, in order; a length that does not fit is an error
/// (and ends the iteration).
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { rest: buf }
}

pub struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Msg<'a>, NlError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = std::mem::take(&mut self.rest);
        let len = u32_at(rest, 0).map_or(0, |l| l as usize);
        let (Some(ty), Some(flags), Some(seq)) =
            (u16_at(rest, 4), u16_at(rest, 6), u32_at(rest, 8))
        else {
            return Some(Err(NlError::malformed(format!(
                "a netlink header needs {HDRLEN} bytes, found {}",
                rest.len()
            ))));
        };
        let Some(payload) = rest.get(HDRLEN..len).filter(|_| len >= HDRLEN) else {
            return Some(Err(NlError::malformed(format!(
                "a netlink message of {len} bytes in {} received",
                rest.len()
            ))));
        };
        self.rest = rest.get(align(len)..).unwrap_or(&[]);
        Some(Ok(Msg {
            ty,
            flags,
            seq,
            payload,
        }))
    }
}

/// One attribute (`struct nlattr`: u16 length, u16 type, then the data, padded to 4 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    /// The type without the nested and byte-order flags.
    pub ty: u16,
    pub data: &'a [u8],
}

/// The attributes in `buf`, in order; a length that does not fit is an error (and ends the
/// iteration).
pub fn attrs(buf: &[u8]) -> Attrs<'_> {
    Attrs { rest: buf }
}

pub struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, NlError>;

    fn next(&mut self) -> Option<Self::Item> {
        // Fewer than 4 bytes left is padding.
        if self.rest.len() < 4 {
            return None;
        }
        let rest = std::mem::take(&mut self.rest);
        let len = u16_at(rest, 0).map_or(0, usize::from);
        let ty = u16_at(rest, 2).map_or(0, |t| t & NLA_TYPE_MASK);
        let Some(data) = rest.get(4..len).filter(|_| len >= 4) else {
            return Some(Err(NlError::malformed(format!(
                "attribute {ty} of {len} bytes in {} left",
                rest.len()
            ))));
        };
        self.rest = rest.get(align(len)..).unwrap_or(&[]);
        Some(Ok(Attr { ty, data }))
    }
}

/// Calls `f` with each attribute of `buf`; the first malformed one is the error.
pub fn for_each_attr<'a>(
    buf: &'a [u8],
    mut f: impl FnMut(Attr<'a>) -> Result<(), NlError>,
) -> Result<(), NlError> {
    attrs(buf).try_for_each(|a| f(a?))
}

pub const fn align(len: usize) -> usize {
    (len + 3) & !3
}

pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_ne_bytes([s[0], s[1]]))
}

pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

pub fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_ne_bytes(s))
}

/// A fixed-size attribute's value, or an error naming the attribute.
pub fn u32_attr(a: &Attr, what: &str) -> Result<u32, NlError> {
    u32_at(a.data, 0).ok_or_else(|| short(what, 4, a.data.len()))
}

pub fn u64_attr(a: &Attr, what: &str) -> Result<u64, NlError> {
    u64_at(a.data, 0).ok_or_else(|| short(what, 8, a.data.len()))
}

pub fn short(what: &str, want: usize, found: usize) -> NlError {
    NlError::malformed(format!(
        "{what}: expected at least {want} bytes, found {found}"
    ))
}

/// A string attribute: the bytes before the first NUL.
pub fn c_str(data: &[u8]) -> &[u8] {
    data.split(|&b| b == 0).next().unwrap_or(&[])
}

/// Starts a request in `buf` (cleared): the header (its length filled in as attributes are
/// added) followed by the family header `fixed`, padded.
pub fn request(buf: &mut Vec<u8>, ty: u16, flags: u16, fixed: &[u8]) {
    buf.clear();
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    // Sequence and port id: the socket fills in both (sequence in `exchange`).
    buf.extend_from_slice(&[0; 8]);
    buf.extend_from_slice(fixed);
    buf.resize(align(buf.len()), 0);
    set_len(buf);
}

/// Appends an attribute to the request in `buf`.
pub fn put_attr(buf: &mut Vec<u8>, ty: u16, data: &[u8]) {
    push_attr(buf, ty, data);
    set_len(buf);
}

/// Appends an attribute, padded.
fn push_attr(buf: &mut Vec<u8>, ty: u16, data: &[u8]) {
    let len = (4 + data.len()) as u16;
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(align(buf.len()), 0);
}

fn set_len(buf: &mut [u8]) {
    let len = (buf.len() as u32).to_ne_bytes();
    if let Some(dst) = buf.get_mut(..4) {
        dst.copy_from_slice(&len);
    }
}

/// What `NLMSG_ERROR` carries: 0 (an acknowledgement) or a negated errno.
pub fn error_code(payload: &[u8]) -> Result<i32, NlError> {
    u32_at(payload, 0)
        .map(|e| e as i32)
        .ok_or_else(|| short("NLMSG_ERROR", 4, payload.len()))
}

/// sock_diag's request for a dump of one address family's sockets (linux/sock_diag.h).
pub const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `struct inet_diag_msg`: family, state, timer, retrans, the 48-byte sockid, then expires,
/// rqueue, wqueue, uid, inode (u32); its attributes follow.
pub const INET_DIAG_MSG_LEN: usize = 72;

/// inet_diag's first request type (linux/inet_diag.h `TCPDIAG_GETSOCK`), kept for
/// compatibility: its dump covers both families in one walk of the kernel's socket tables.
pub const TCPDIAG_GETSOCK: u16 = 18;

/// Dumps the TCP sockets of `family` (AF_INET or AF_INET6; 0: both) in the TCP `states` (a bit
/// per state) with the `ext` attributes (a bit per INET_DIAG_* - 1), calling `f` with each
/// `inet_diag_msg` (one copy of the exchange for every caller). One family is linux/inet_diag.h's
/// `struct inet_diag_req_v2` (family, protocol, ext, pad, states, then the 48-byte sockid, all
/// zero: every socket), which names one family; both are the older `TCPDIAG_GETSOCK` request
/// (`struct inet_diag_req`: family 0, two address lengths, ext, the sockid, states, dbs), whose
/// dump the kernel answers with sockets of either family from one walk of its hash tables: a
/// walk costs ~3.4 ms of CPU here however few sockets there are, and one request per family
/// walks them twice.
pub fn dump_tcp(
    sock: &mut Socket,
    req: &mut Vec<u8>,
    family: u8,
    ext: u8,
    states: u32,
    f: &mut dyn FnMut(&[u8]) -> Result<(), NlError>,
) -> Result<(), NlError> {
    let mut fixed = [0u8; 60];
    let ty = if family == 0 {
        fixed[3] = ext;
        fixed[52..56].copy_from_slice(&states.to_ne_bytes());
        request(req, TCPDIAG_GETSOCK, NLM_F_REQUEST | NLM_F_DUMP, &fixed);
        TCPDIAG_GETSOCK
    } else {
        fixed[0] = family;
        fixed[1] = libc::IPPROTO_TCP as u8;
        fixed[2] = ext;
        fixed[4..8].copy_from_slice(&states.to_ne_bytes());
        request(
            req,
            SOCK_DIAG_BY_FAMILY,
            NLM_F_REQUEST | NLM_F_DUMP,
            &fixed[..56],
        );
        SOCK_DIAG_BY_FAMILY
    };
    sock.exchange(req, |m| {
        if m.ty == ty {
            f(m.payload)?;
        }
        Ok(())
    })
}

/// A netlink socket of one protocol, kept open between scrapes, with its receive buffer.
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

/// How long one reply may take before the exchange fails: the kernel answers dumps at once,
/// so this only bounds a scrape if something is badly wrong.
const RECV_TIMEOUT: libc::timeval = libc::timeval {
    tv_sec: 2,
    tv_usec: 0,
};

impl Socket {
    pub fn open(protocol: i32) -> io::Result<Socket> {
        // SAFETY: plain socket(2); the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                protocol,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socket(2) just returned this descriptor and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: the option value is a valid timeval of the size passed.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&RECV_TIMEOUT as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Socket {
            fd,
            seq: 0,
            buf: Vec::new(),
        })
    }

    /// Sends the request in `req` and calls `f` with every message of the reply until the
    /// kernel says it is done: `NLMSG_DONE` after a dump, the one message of a plain request,
    /// or an error. Messages of an earlier exchange (one that timed out) are skipped.
    pub fn exchange(
        &mut self,
        req: &mut [u8],
        mut f: impl FnMut(Msg<'_>) -> Result<(), NlError>,
    ) -> Result<(), NlError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        if let Some(dst) = req.get_mut(8..12) {
            dst.copy_from_slice(&seq.to_ne_bytes());
        }
        let fd = self.fd.as_raw_fd();
        // SAFETY: `req` is a valid buffer of the length passed; the kernel is the peer (the
        // unbound destination address of a netlink socket).
        let sent = unsafe { libc::send(fd, req.as_ptr().cast(), req.len(), 0) };
        if sent < 0 {
            return Err(io::Error::last_os_error().into());
        }
        loop {
            let n = self.recv()?;
            let datagram = self.buf.get(..n).unwrap_or(&[]);
            for msg in messages(datagram) {
                let msg = msg?;
                if msg.seq != seq {
                    continue;
                }
                match msg.ty {
                    NLMSG_DONE => return Ok(()),
                    NLMSG_ERROR => {
                        return match error_code(msg.payload)? {
                            0 => Ok(()),
                            e => Err(io::Error::from_raw_os_error(-e).into()),
                        }
                    }
                    _ => {
                        f(msg)?;
                        if msg.flags & NLM_F_MULTI == 0 {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    /// Receives one datagram whole into the kept buffer, which grows to the largest one seen
    /// (asked first with MSG_PEEK | MSG_TRUNC, so nothing is ever cut off).
    fn recv(&mut self) -> io::Result<usize> {
        if self.buf.len() < 32 << 10 {
            self.buf.resize(32 << 10, 0);
        }
        let fd = self.fd.as_raw_fd();
        loop {
            // SAFETY: the buffer is valid for writes of its length.
            let want = unsafe {
                libc::recv(
                    fd,
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_PEEK | libc::MSG_TRUNC,
                )
            };
            if want < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if want as usize > self.buf.len() {
                self.buf.resize(want as usize, 0);
            }
            // SAFETY: as above.
            let n = unsafe { libc::recv(fd, self.buf.as_mut_ptr().cast(), self.buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            return Ok(n as usize);
        }
    }
}

/// Generic netlink: `struct genlmsghdr` (u8 command, u8 version, u16 reserved).
pub const GENL_HDRLEN: usize = 4;
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;

/// The id of a generic netlink family (`nl80211`), which the kernel assigns when the module
/// registers it; `ENOENT` when it has not.
pub fn genl_family(sock: &mut Socket, req: &mut Vec<u8>, name: &str) -> Result<u16, NlError> {
    request(
        req,
        GENL_ID_CTRL,
        NLM_F_REQUEST,
        &[CTRL_CMD_GETFAMILY, 1, 0, 0],
    );
    let mut c_name = [0u8; 32];
    let n = name.len().min(31);
    c_name[..n].copy_from_slice(&name.as_bytes()[..n]);
    put_attr(req, CTRL_ATTR_FAMILY_NAME, &c_name[..=n]);
    let mut id = None;
    sock.exchange(req, |m| {
        id = parse_family_id(m.payload)?;
        Ok(())
    })?;
    id.ok_or_else(|| NlError::malformed("CTRL_CMD_GETFAMILY reply without CTRL_ATTR_FAMILY_ID"))
}

/// The family id in a `CTRL_CMD_NEWFAMILY` reply (after the genl header).
pub fn parse_family_id(payload: &[u8]) -> Result<Option<u16>, NlError> {
    let mut id = None;
    for_each_attr(payload.get(GENL_HDRLEN..).unwrap_or(&[]), |a| {
        if a.ty == CTRL_ATTR_FAMILY_ID {
            id = Some(u16_at(a.data, 0).ok_or_else(|| short("CTRL_ATTR_FAMILY_ID", 2, 0))?);
        }
        Ok(())
    })?;
    Ok(id)
}

/// A netlink source of a collector, for `proctap check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Route,
    /// tcpstat's and namedprocess's.
    SockDiag,
    /// A generic netlink family by name (`nl80211`).
    Generic(&'static str),
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Route => "NETLINK_ROUTE",
            Family::SockDiag => "NETLINK_SOCK_DIAG",
            Family::Generic(name) => name,
        }
    }

    /// Opens a socket (and looks the generic family up): ENOENT when the kernel has no such
    /// family (its module is not loaded), EPERM/EACCES when a seccomp or LSM policy refuses.
    pub fn probe(self) -> Result<(), NlError> {
        let proto = match self {
            Family::Route => NETLINK_ROUTE,
            Family::SockDiag => NETLINK_SOCK_DIAG,
            Family::Generic(_) => NETLINK_GENERIC,
        };
        let mut sock = Socket::open(proto)?;
        if let Family::Generic(name) = self {
            genl_family(&mut sock, &mut Vec::new(), name)?;
        }
        Ok(())
    }
}

/// An `AF_INET` datagram socket for interface ioctls (SIOCGIFNAME, SIOCETHTOOL).
#[cfg(any(feature = "server", feature = "extras"))]
pub fn ioctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socket(2) just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An interface's name (IFNAMSIZ bytes, NUL-padded) from its index, or ENODEV when it has
/// gone.
#[cfg(any(feature = "server", feature = "extras"))]
pub fn if_name(sock: &OwnedFd, index: i32, name: &mut [u8; 16]) -> io::Result<usize> {
    // SAFETY: all-zero bytes are a valid ifreq.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    ifr.ifr_ifru.ifru_ifindex = index;
    // SAFETY: SIOCGIFNAME reads the index from and writes the name into `ifr`, which lives
    // for the call.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFNAME as _, &mut ifr) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    for (dst, &c) in name.iter_mut().zip(ifr.ifr_name.iter()) {
        *dst = c as u8;
    }
    Ok(name.iter().position(|&b| b == 0).unwrap_or(name.len()))
}

/// Test helpers: messages and attributes as the kernel lays them out.
#[cfg(test)]
pub mod build {
    use super::*;

    /// One message: header, payload (the family header and attributes), padded.
    pub fn msg(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        request(&mut b, ty, flags, payload);
        b[8..12].copy_from_slice(&seq.to_ne_bytes());
        b
    }

    pub fn attr(ty: u16, data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        push_attr(&mut b, ty, data);
        b
    }

    /// A nested attribute of the given attributes.
    pub fn nest(ty: u16, inner: &[Vec<u8>]) -> Vec<u8> {
        attr(ty | 0x8000, &inner.concat())
    }

    pub fn u32a(ty: u16, v: u32) -> Vec<u8> {
        attr(ty, &v.to_ne_bytes())
    }

    pub fn u64a(ty: u16, v: u64) -> Vec<u8> {
        attr(ty, &v.to_ne_bytes())
    }

    pub fn str_a(ty: u16, s: &str) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        attr(ty, &v)
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    #[test]
    fn a_request_has_its_length_and_padded_attributes() {
        let mut b = Vec::new();
        request(&mut b, 38, NLM_F_REQUEST | NLM_F_DUMP, &[0; 20]);
        assert_eq!(b.len(), 36);
        assert_eq!(u32_at(&b, 0), Some(36));
        assert_eq!(u16_at(&b, 4), Some(38));
        assert_eq!(u16_at(&b, 6), Some(0x301));
        put_attr(&mut b, 2, b"nl80211\0");
        assert_eq!(b.len(), 36 + 12);
        put_attr(&mut b, 7, &[1]);
        assert_eq!(b.len(), 36 + 12 + 8, "a 5-byte attribute is padded to 8");
        assert_eq!(u32_at(&b, 0), Some(56));
        let m: Vec<_> = messages(&b).collect::<Result<_, _>>().unwrap();
        assert_eq!(m.len(), 1);
        let a: Vec<_> = attrs(&m[0].payload[20..])
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            a,
            [
                Attr {
                    ty: 2,
                    data: b"nl80211\0"
                },
                Attr { ty: 7, data: &[1] }
            ]
        );
    }

    #[test]
    fn several_messages_in_one_datagram() {
        let mut d = msg(16, NLM_F_MULTI, 7, &[1, 2, 3]);
        d.extend(msg(16, NLM_F_MULTI, 7, &[4; 8]));
        d.extend(msg(NLMSG_DONE, NLM_F_MULTI, 7, &[0; 4]));
        let m: Vec<_> = messages(&d).collect::<Result<_, _>>().unwrap();
        assert_eq!(m.len(), 3);
        // The payload of a message is padded: 3 bytes become 4.
        assert_eq!(m[0].payload, &[1, 2, 3, 0]);
        assert_eq!(m[1].payload, &[4; 8]);
        assert_eq!((m[2].ty, m[2].seq), (NLMSG_DONE, 7));
    }

    #[test]
    fn nested_attributes_and_flag_bits() {
        let n = nest(7, &[u64a(1, 5), u32a(3, 9)]);
        let a: Vec<_> = attrs(&n).collect::<Result<_, _>>().unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].ty, 7, "NLA_F_NESTED is masked off");
        let inner: Vec<_> = attrs(a[0].data).collect::<Result<_, _>>().unwrap();
        assert_eq!(u64_attr(&inner[0], "x").unwrap(), 5);
        assert_eq!(u32_attr(&inner[1], "y").unwrap(), 9);
        assert_eq!(
            u64_attr(&inner[1], "TCA_STATS_BASIC")
                .unwrap_err()
                .to_string(),
            "TCA_STATS_BASIC: expected at least 8 bytes, found 4"
        );
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        let err = |b: &[u8]| messages(b).find_map(Result::err).unwrap().to_string();
        assert_eq!(err(&[1, 0, 0]), "a netlink header needs 16 bytes, found 3");
        let mut m = msg(16, 0, 1, &[0; 8]);
        m[0] = 200;
        assert_eq!(err(&m), "a netlink message of 200 bytes in 24 received");
        m[0] = 4;
        assert_eq!(err(&m), "a netlink message of 4 bytes in 24 received");
        let a = |b: &[u8]| attrs(b).find_map(Result::err).unwrap().to_string();
        assert_eq!(a(&[9, 0, 1, 0, 0]), "attribute 1 of 9 bytes in 5 left");
        assert_eq!(a(&[2, 0, 1, 0]), "attribute 1 of 2 bytes in 4 left");
        // Trailing bytes shorter than an attribute header are padding.
        assert_eq!(attrs(&[0, 0, 0]).count(), 0);
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            messages(&junk).for_each(drop);
            attrs(&junk).for_each(drop);
            let _ = parse_family_id(&junk);
        }
    }

    #[test]
    fn the_family_id_of_a_ctrl_reply() {
        let mut p = vec![1, 2, 0, 0];
        p.extend(str_a(CTRL_ATTR_FAMILY_NAME, "nl80211"));
        p.extend(attr(CTRL_ATTR_FAMILY_ID, &0x22u16.to_ne_bytes()));
        assert_eq!(parse_family_id(&p).unwrap(), Some(0x22));
        assert_eq!(parse_family_id(&[1, 2, 0, 0]).unwrap(), None);
    }

    #[test]
    fn live_kernel_answers_a_generic_family_lookup() {
        let mut sock = Socket::open(NETLINK_GENERIC).unwrap();
        let mut req = Vec::new();
        // "nlctrl" itself is always registered, under the fixed id 0x10.
        assert_eq!(genl_family(&mut sock, &mut req, "nlctrl").unwrap(), 0x10);
        let e = genl_family(&mut sock, &mut req, "no-such-family").unwrap_err();
        assert!(
            matches!(&e, NlError::Io(io) if io.raw_os_error() == Some(libc::ENOENT)),
            "{e:?}"
        );
        assert!(matches!(
            e.into_error("netlink nl80211"),
            Error::Unavailable { .. }
        ));
    }

    #[test]
    #[cfg(any(feature = "server", feature = "extras"))]
    fn live_loopback_name_from_index() {
        let s = ioctl_socket().unwrap();
        let mut name = [0u8; 16];
        let n = if_name(&s, 1, &mut name).unwrap();
        assert_eq!(&name[..n], b"lo");
        let e = if_name(&s, i32::MAX, &mut name).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
    }
}
