//! Listen addresses as node_exporter takes them (Go's `net.Listen("tcp", addr)`), and the
//! sockets systemd passes with `LISTEN_FDS` (`--web.systemd-socket`).
//!
//! - `:9100`, `0.0.0.0:9100`, `[::]:9100`: every address, as one IPv6 socket with
//!   `IPV6_V6ONLY` off, so IPv4 clients arrive on it too (Go does the same for all three);
//!   an IPv4 socket on 0.0.0.0 where the kernel has no IPv6.
//! - `IP:PORT`, `[IPv6]:PORT`, `[IPv4]:PORT` (the Helm chart writes `[$(HOST_IP)]:9100`),
//!   `[fe80::1%eth0]:PORT`: that address; a literal is never looked up in DNS.
//! - `HOST:PORT`: resolved once, at start; like Go, proctap binds the first IPv4 address the
//!   name resolves to, else its first address.
//!
//! [`parse`] is pure, so `proctap config` and the flag parser refuse what binding would.
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, TcpListener, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The default: node_exporter's port on every address.
pub const DEFAULT: &str = ":9100";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// Empty, `0.0.0.0` or `::`: every address.
    Any,
    Ip(IpAddr),
    /// An IPv6 literal with a zone (`fe80::1%eth0`): an interface name or index.
    Scoped(Ipv6Addr, String),
    /// Resolved when binding.
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddr {
    pub host: Host,
    pub port: u16,
}

/// Parses one `--web.listen-address` value; the error says what is wrong in words an operator
/// can act on.
#[cfg_attr(proctap_size, optimize(size))]
pub fn parse(s: &str) -> Result<ListenAddr, String> {
    if s.is_empty() {
        return Err("empty; expected HOST:PORT, IP:PORT, [IPv6]:PORT or :PORT".into());
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err("missing ']' after the bracketed address".into());
        };
        let Some(port) = after.strip_prefix(':') else {
            return Err("expected :PORT after ']'".into());
        };
        if inside.contains(['[', ']']) {
            return Err("unexpected '[' or ']'".into());
        }
        (inside, port)
    } else {
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(if s.bytes().all(|b| b.is_ascii_digit()) {
                format!("missing the ':' before the port; :{s} listens on every address")
            } else {
                "missing :PORT".into()
            });
        };
        if host.contains(':') {
            return Err("an IPv6 address needs brackets, as in [::1]:9100".into());
        }
        if host.contains(['[', ']']) {
            return Err("unexpected '[' or ']'".into());
        }
        (host, port)
    };
    Ok(ListenAddr {
        host: parse_host(host)?,
        port: parse_port(port)?,
    })
}

#[cfg_attr(proctap_size, optimize(size))]
fn parse_port(p: &str) -> Result<u16, String> {
    if p.is_empty() {
        return Err("missing the port after ':'".into());
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "port {p:?} is not a number (service names are not looked up)"
        ));
    }
    p.parse()
        .map_err(|_| format!("port {p} is out of range (0-65535)"))
}

#[cfg_attr(proctap_size, optimize(size))]
fn parse_host(h: &str) -> Result<Host, String> {
    if h.is_empty() {
        return Ok(Host::Any);
    }
    if let Some((addr, zone)) = h.split_once('%') {
        let ip: Ipv6Addr = addr
            .parse()
            .map_err(|_| format!("{addr:?} before the zone is not an IPv6 address"))?;
        if zone.is_empty() || !zone.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "bad zone {zone:?}: expected an interface name or index"
            ));
        }
        return Ok(Host::Scoped(ip, zone.into()));
    }
    if let Ok(ip) = h.parse::<IpAddr>() {
        // Go treats ::ffff:a.b.c.d as the IPv4 address it holds.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        return Ok(if ip.is_unspecified() {
            Host::Any
        } else {
            Host::Ip(ip)
        });
    }
    // Digits and dots that are no IPv4 address (300.1.1.1, 10.1) are a mistake, not a name.
    if h.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("{h:?} is not an IPv4 address"));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let name = h.strip_suffix('.').unwrap_or(h);
    if name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(format!("{h:?} is neither an IP address nor a host name"));
    }
    Ok(Host::Name(h.into()))
}

impl fmt::Display for ListenAddr {
    #[cfg_attr(proctap_size, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Any => write!(f, ":{}", self.port),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}:{}", self.port),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            Host::Scoped(ip, zone) => write!(f, "[{ip}%{zone}]:{}", self.port),
            Host::Name(n) => write!(f, "{n}:{}", self.port),
        }
    }
}

/// Binds one address: a listening, non-blocking socket.
#[cfg_attr(proctap_size, optimize(size))]
pub fn bind(addr: &ListenAddr) -> io::Result<TcpListener> {
    let port = addr.port;
    match &addr.host {
        Host::Any => {
            let any6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
            match listen_on(any6) {
                Err(e) if no_ipv6(&e) => {
                    listen_on(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))
                }
                other => other,
            }
        }
        Host::Ip(ip) => listen_on(SocketAddr::new(*ip, port)),
        Host::Scoped(ip, zone) => {
            let scope = zone_index(zone)?;
            listen_on(SocketAddr::V6(SocketAddrV6::new(*ip, port, 0, scope)))
        }
        Host::Name(name) => {
            let addrs: Vec<SocketAddr> = (name.as_str(), port).to_socket_addrs()?.collect();
            let first = addrs
                .iter()
                .find(|a| a.is_ipv4())
                .or_else(|| addrs.first())
                .copied()
                .ok_or_else(|| io::Error::other(format!("{name} resolves to no address")))?;
            listen_on(first)
        }
    }
}

/// Whether creating or binding an IPv6 socket failed because this kernel has no IPv6
/// (built without it, or booted with ipv6.disable=1).
#[cfg_attr(proctap_size, optimize(size))]
fn no_ipv6(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT | libc::EADDRNOTAVAIL)
    )
}

#[cfg_attr(proctap_size, optimize(size))]
fn zone_index(zone: &str) -> io::Result<u32> {
    if let Ok(i) = zone.parse() {
        return Ok(i);
    }
    let name = std::ffi::CString::new(zone)
        .map_err(|_| io::Error::other(format!("bad interface name {zone:?}")))?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(io::Error::other(format!("no interface named {zone:?}"))),
        i => Ok(i),
    }
}

#[cfg_attr(proctap_size, optimize(size))]
fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

#[cfg_attr(proctap_size, optimize(size))]
fn set_int(fd: RawFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: the option value is a c_int on our stack, and its size is passed with it.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

#[cfg_attr(proctap_size, optimize(size))]
fn get_int(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are ours and describe a c_int.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

/// socket, SO_REUSEADDR, IPV6_V6ONLY off for IPv6 (std sets neither before bind), bind,
/// listen. IPV6_V6ONLY is set explicitly, as Go does, so `net.ipv6.bindv6only=1` does not
/// turn `:9100` into IPv6 only.
#[cfg_attr(proctap_size, optimize(size))]
fn listen_on(addr: SocketAddr) -> io::Result<TcpListener> {
    let family = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: plain syscall; the descriptor is owned at once below.
    let raw = cvt(unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    })?;
    // SAFETY: `raw` is a descriptor we just created and nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    set_int(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if addr.is_ipv6() {
        set_int(raw, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)?;
    }
    // SAFETY: a zeroed sockaddr_storage is valid and large enough for either sockaddr; only
    // plain integer fields are set.
    let (storage, len) = unsafe {
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        let p = (&mut storage as *mut libc::sockaddr_storage).cast::<u8>();
        let len = match addr {
            SocketAddr::V4(a) => {
                let sin = &mut *p.cast::<libc::sockaddr_in>();
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = a.port().to_be();
                sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                std::mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(a) => {
                let sin6 = &mut *p.cast::<libc::sockaddr_in6>();
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = a.port().to_be();
                sin6.sin6_addr.s6_addr = a.ip().octets();
                sin6.sin6_scope_id = a.scope_id();
                std::mem::size_of::<libc::sockaddr_in6>()
            }
        };
        (storage, len as libc::socklen_t)
    };
    // SAFETY: `storage` holds a sockaddr of `len` bytes for this socket's family.
    cvt(unsafe { libc::bind(raw, (&storage as *const libc::sockaddr_storage).cast(), len) })?;
    // 128: what std's TcpListener::bind asks for; the kernel caps it at somaxconn.
    // SAFETY: plain syscall on our descriptor.
    cvt(unsafe { libc::listen(raw, 128) })?;
    Ok(TcpListener::from(fd))
}

/// The first descriptor systemd passes (SD_LISTEN_FDS_START).
const LISTEN_FDS_START: RawFd = 3;

/// How many descriptors `LISTEN_PID`/`LISTEN_FDS` pass to the process `our_pid`, as sd_listen_fds(3)
/// reads them.
#[cfg_attr(proctap_size, optimize(size))]
pub fn passed_fds(pid: Option<&str>, fds: Option<&str>, our_pid: u32) -> Result<usize, String> {
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Err(
            "no sockets passed (LISTEN_PID and LISTEN_FDS are not set: start proctap from a .socket unit)"
                .into(),
        );
    };
    let pid: u32 = pid
        .trim()
        .parse()
        .map_err(|_| format!("LISTEN_PID={pid:?} is not a process id"))?;
    if pid != our_pid {
        return Err(format!(
            "LISTEN_PID={pid} names another process (this is {our_pid}); the sockets are not ours"
        ));
    }
    let n: usize = fds
        .trim()
        .parse()
        .map_err(|_| format!("LISTEN_FDS={fds:?} is not a count"))?;
    if n == 0 {
        return Err("LISTEN_FDS=0: systemd passed no sockets".into());
    }
    Ok(n)
}

/// Takes the listening sockets systemd passed, as exporter-toolkit does with
/// `--web.systemd-socket`: descriptors from 3 on, only when `LISTEN_PID` is this process; the
/// variables are removed so that no child sees them. Each must be a listening TCP socket.
/// Call it before any other thread runs (it changes the environment).
#[cfg_attr(proctap_size, optimize(size))]
pub fn systemd_listeners() -> Result<Vec<TcpListener>, String> {
    let var = |k: &str| std::env::var(k).ok();
    let (pid, fds) = (var("LISTEN_PID"), var("LISTEN_FDS"));
    for k in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(k);
    }
    let n = passed_fds(pid.as_deref(), fds.as_deref(), std::process::id())?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let fd = LISTEN_FDS_START + i as RawFd;
        out.push(take_listener(fd).map_err(|why| format!("LISTEN_FDS: descriptor {fd}: {why}"))?);
    }
    Ok(out)
}

#[cfg_attr(proctap_size, optimize(size))]
fn take_listener(fd: RawFd) -> Result<TcpListener, String> {
    // SAFETY: fcntl on a descriptor number only asks about it; a closed one gives EBADF.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error().to_string());
    }
    let ask = |name| get_int(fd, libc::SOL_SOCKET, name).map_err(|e| e.to_string());
    let domain = ask(libc::SO_DOMAIN)?;
    if domain != libc::AF_INET && domain != libc::AF_INET6 {
        return Err(
            "not a TCP socket (ListenStream= must be a port or an address and port)".into(),
        );
    }
    if ask(libc::SO_TYPE)? != libc::SOCK_STREAM || ask(libc::SO_ACCEPTCONN)? != 1 {
        return Err("not a listening stream socket (the .socket unit needs Accept=no)".into());
    }
    // SAFETY: the descriptor is open, a socket, and passed to this process to own.
    let listener = unsafe { TcpListener::from_raw_fd(fd) };
    // SAFETY: plain syscall on a descriptor we now own.
    cvt(unsafe { libc::fcntl(listener.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })
        .map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    Ok(listener)
}

/// Sockets systemd passed to this process although `--web.systemd-socket` is not set: worth a
/// warning, as binding the same port will then fail.
#[cfg_attr(proctap_size, optimize(size))]
pub fn unused_systemd_sockets() -> Option<usize> {
    let var = |k: &str| std::env::var(k).ok();
    passed_fds(
        var("LISTEN_PID").as_deref(),
        var("LISTEN_FDS").as_deref(),
        std::process::id(),
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> ListenAddr {
        parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn err(s: &str) -> String {
        match parse(s) {
            Ok(a) => panic!("{s:?} parsed as {a:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn forms_node_exporter_takes() {
        let any = |port| ListenAddr {
            host: Host::Any,
            port,
        };
        assert_eq!(ok(":9100"), any(9100));
        assert_eq!(ok("0.0.0.0:9100"), any(9100));
        assert_eq!(ok("[::]:9100"), any(9100));
        assert_eq!(ok("[0.0.0.0]:9100"), any(9100));
        assert_eq!(ok(":0"), any(0));
        assert_eq!(ok(":65535"), any(65535));
        let ip = |s: &str, port| ListenAddr {
            host: Host::Ip(s.parse().unwrap()),
            port,
        };
        assert_eq!(ok("127.0.0.1:9100"), ip("127.0.0.1", 9100));
        assert_eq!(ok("[127.0.0.1]:9100"), ip("127.0.0.1", 9100));
        assert_eq!(ok("[::1]:9100"), ip("::1", 9100));
        assert_eq!(ok("[2001:db8::7]:80"), ip("2001:db8::7", 80));
        assert_eq!(
            ok("[::ffff:10.1.2.3]:80"),
            ip("10.1.2.3", 80),
            "IPv4-mapped is IPv4"
        );
        assert_eq!(
            ok("[fe80::1%eth0]:9100").host,
            Host::Scoped("fe80::1".parse().unwrap(), "eth0".into())
        );
        assert_eq!(ok("localhost:9100").host, Host::Name("localhost".into()));
        assert_eq!(ok("[localhost]:9100").host, Host::Name("localhost".into()));
        assert_eq!(
            ok("node-1.k8s_x.example.:9100").host,
            Host::Name("node-1.k8s_x.example.".into())
        );
    }

    #[test]
    fn what_cannot_be_an_address_is_refused() {
        assert!(err("").contains("empty"));
        assert!(err("9105").contains(":9105 listens on every address"));
        assert!(err("localhost").contains("missing :PORT"));
        assert!(err("[::1").contains("missing ']'"));
        assert!(err("[::1]").contains("expected :PORT"));
        assert!(err("[::1]9100").contains("expected :PORT"));
        assert!(err("::1:9100").contains("needs brackets"));
        assert!(err(":65536").contains("out of range"));
        assert!(err(":99999999999").contains("out of range"));
        assert!(err(":http").contains("not a number"));
        assert!(err(":-1").contains("not a number"));
        assert!(err("127.0.0.1:").contains("missing the port"));
        assert!(err("300.1.1.1:80").contains("not an IPv4 address"));
        assert!(err("10.1:80").contains("not an IPv4 address"));
        assert!(err("bad host:80").contains("neither"));
        assert!(err("a..b:80").contains("neither"));
        assert!(err("[fe80::1%]:80").contains("bad zone"));
        assert!(err("[10.0.0.1%eth0]:80").contains("not an IPv6 address"));
        assert!(err("[a]b]:80").contains("expected :PORT"));
        assert!(err("a[b:80").contains("unexpected"));
    }

    #[test]
    fn display_reads_back() {
        for s in [
            ":9100",
            "127.0.0.1:1",
            "[::1]:2",
            "[fe80::1%eth0]:3",
            "localhost:4",
        ] {
            assert_eq!(ok(s).to_string(), s);
            assert_eq!(ok(&ok(s).to_string()), ok(s));
        }
        assert_eq!(ok("[127.0.0.1]:5").to_string(), "127.0.0.1:5");
    }

    #[test]
    fn listen_env_is_checked_like_sd_listen_fds() {
        assert_eq!(passed_fds(Some("42"), Some("2"), 42), Ok(2));
        assert!(passed_fds(None, None, 42).unwrap_err().contains("not set"));
        assert!(passed_fds(Some("42"), None, 42)
            .unwrap_err()
            .contains("not set"));
        assert!(passed_fds(Some("41"), Some("1"), 42)
            .unwrap_err()
            .contains("another process"));
        assert!(passed_fds(Some("x"), Some("1"), 42)
            .unwrap_err()
            .contains("not a process id"));
        assert!(passed_fds(Some("42"), Some("-1"), 42)
            .unwrap_err()
            .contains("not a count"));
        assert!(passed_fds(Some("42"), Some("0"), 42)
            .unwrap_err()
            .contains("no sockets"));
    }

    #[test]
    fn binds_loopback_literals_without_dns() {
        let l = bind(&ok("127.0.0.1:0")).unwrap();
        assert!(l.local_addr().unwrap().ip().is_loopback());
        if let Ok(l6) = bind(&ok("[::1]:0")) {
            assert_eq!(
                l6.local_addr().unwrap().ip(),
                "::1".parse::<IpAddr>().unwrap()
            );
        }
        // The port is taken now.
        let port = l.local_addr().unwrap().port();
        let e = bind(&ok(&format!("127.0.0.1:{port}"))).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE));
        assert!(!no_ipv6(&e), "EADDRINUSE never falls back to IPv4");
        // What socket(AF_INET6) says on a kernel without IPv6: bind 0.0.0.0 instead.
        assert!(no_ipv6(&io::Error::from_raw_os_error(libc::EAFNOSUPPORT)));
    }

    #[test]
    fn a_passed_descriptor_must_be_a_listening_tcp_socket() {
        let file = std::fs::File::open("/dev/null").unwrap();
        let e = take_listener(file.as_raw_fd()).unwrap_err();
        assert!(e.contains("non-socket"), "{e}");
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let e = take_listener(s.as_raw_fd()).unwrap_err();
        assert!(e.contains("not a listening"), "{e}");
    }
}
