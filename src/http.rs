//! A small HTTP/1.1 server for one thread: a `poll(2)` loop over non-blocking sockets with hard
//! limits, so that no client — slow, stalled, flooding or malformed — can take memory, threads
//! or the scrape loop away from Prometheus. DESIGN.md says why this replaced tiny_http.
//!
//! The caller asks [`Server::next_request`] for the next complete request, looks at it through
//! [`Server::request`], and answers with [`Server::respond`], which queues the response and
//! writes what the socket takes at once; the rest goes out on later calls.
//!
//! With the `tls` feature and a certificate configured, each connection also carries a
//! `rustls::ServerConnection` driven the same non-blocking way: ciphertext in with `read_tls`,
//! plaintext out of its reader into the same bounded head buffer, responses into its writer and
//! out with `write_tls`. The handshake counts against the head timeout like a request's first
//! bytes.
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::Range;
use std::os::fd::{AsRawFd, RawFd};
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::log;

/// The bounds that keep a hostile client from costing more than a few MiB.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections; a new one beyond this evicts the longest-idle reader.
    pub max_connections: usize,
    /// Request line plus headers.
    pub max_head_bytes: usize,
    pub max_headers: usize,
    /// From the first byte of a request to the end of its head.
    pub head_timeout: Duration,
    /// A kept-alive connection with no request in progress.
    pub idle_timeout: Duration,
    /// From queueing a response to its last byte.
    pub write_timeout: Duration,
    /// Response bytes queued for clients that read slowly, over all connections.
    pub max_queued_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            max_head_bytes: 8 << 10,
            max_headers: 64,
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            write_timeout: Duration::from_secs(10),
            max_queued_bytes: 32 << 20,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Other,
}

/// A parsed request head, as ranges into the connection's buffer.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    method: Method,
    target: Range<usize>,
    authorization: Option<Range<usize>>,
    /// Whether Accept-Encoding accepts gzip.
    gzip: bool,
    /// X-Prometheus-Scrape-Timeout-Seconds, when it is a positive number.
    scrape_timeout: Option<f64>,
    keep_alive: bool,
    /// Bytes of the buffer this request used.
    len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for (more of) a request.
    Reading,
    /// A complete request is waiting for the caller's response.
    Handling,
    /// A response is being written.
    Writing,
    /// The caller answers later ([`Server::park`]): neither polled nor handed out again.
    Parked,
}

impl State {
    /// A request waiting for the caller's answer, handed out or parked.
    fn awaits_answer(self) -> bool {
        matches!(self, State::Handling | State::Parked)
    }
}

struct Conn {
    stream: TcpStream,
    /// The TLS session when the server has a certificate; boxed, as it is several KiB.
    #[cfg(feature = "tls")]
    tls: Option<Box<rustls::ServerConnection>>,
    buf: Vec<u8>,
    head: Option<Head>,
    out: Vec<u8>,
    written: usize,
    state: State,
    /// When the current request, idle period or response began.
    since: Instant,
    /// True while bytes of a request have arrived but not yet its end.
    partial: bool,
    close_after_write: bool,
    generation: u64,
}

/// A request handed to the caller; stale once it has been answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    slot: usize,
    generation: u64,
}

/// A request as the caller sees it.
pub struct RequestView<'a> {
    pub method: Method,
    /// The path and query as sent, e.g. `/metrics?x=1`.
    pub target: &'a str,
    /// The `Authorization` header's value, if any. Never log it.
    pub authorization: Option<&'a str>,
    /// Whether the client takes a gzip body (Accept-Encoding, q-values honoured).
    pub accepts_gzip: bool,
    /// The X-Prometheus-Scrape-Timeout-Seconds Prometheus sends (its scrape_timeout).
    pub scrape_timeout: Option<f64>,
}

pub struct Server {
    /// Polled first, in this order, before the connections.
    listeners: Vec<TcpListener>,
    limits: Limits,
    conns: Vec<Option<Conn>>,
    pollfds: Vec<libc::pollfd>,
    /// Slots of the connections in `pollfds[listeners.len()..]`, in the same order.
    polled: Vec<usize>,
    next_generation: u64,
    /// Held so that `accept` can still take (and close) a connection when file descriptors run
    /// out, instead of the kernel queue and `poll` spinning on it.
    reserve_fd: Option<File>,
    last_accept_warning: Option<Instant>,
    /// Polled with the connections: readable means the caller has work done elsewhere.
    wake: Option<RawFd>,
    woken: bool,
    /// New connections speak TLS with this configuration.
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// Ciphertext rustls may hold for one connection beyond the queued plaintext; counted as
/// queued while it holds any.
#[cfg(feature = "tls")]
const TLS_BUFFER: usize = 16 << 10;

impl Server {
    /// Serves on `listeners` (bound elsewhere: `crate::listen`, or passed by systemd).
    pub fn new(listeners: Vec<TcpListener>, limits: Limits) -> io::Result<Server> {
        for l in &listeners {
            l.set_nonblocking(true)?;
        }
        Ok(Server {
            listeners,
            limits,
            conns: Vec::new(),
            pollfds: Vec::new(),
            polled: Vec::new(),
            next_generation: 1,
            reserve_fd: File::open("/dev/null").ok(),
            last_accept_warning: None,
            wake: None,
            woken: false,
            #[cfg(feature = "tls")]
            tls: None,
        })
    }

    /// Serves connections accepted from now on over TLS with `config` (`None`: plain HTTP).
    /// Connections already open keep the session they have.
    #[cfg(feature = "tls")]
    pub fn set_tls(&mut self, config: Option<Arc<rustls::ServerConfig>>) {
        self.tls = config;
    }

    /// Polls `fd` too: [`Server::next_request`] returns when it is readable, and
    /// [`Server::take_woken`] says so. The caller drains it.
    pub fn watch(&mut self, fd: RawFd) {
        self.wake = Some(fd);
    }

    /// Whether the watched descriptor was readable since the last call.
    pub fn take_woken(&mut self) -> bool {
        std::mem::take(&mut self.woken)
    }

    /// Keeps `token`'s request for an answer later (a collection on another thread): it is
    /// not handed out by [`Server::next_request`] again; [`Server::request`] and
    /// [`Server::respond`] still take it.
    pub fn park(&mut self, token: Token) {
        if let Some(c) = self.conn_mut(token) {
            c.state = State::Parked;
        }
    }

    /// The address of each listener, in order.
    pub fn local_addrs(&self) -> impl Iterator<Item = io::Result<SocketAddr>> + '_ {
        self.listeners.iter().map(TcpListener::local_addr)
    }

    /// Open connections, for tests and the landing page.
    pub fn connections(&self) -> usize {
        self.conns.iter().flatten().count()
    }

    /// Requests waiting for their response, the one being answered included.
    pub fn waiting(&self) -> usize {
        self.conns
            .iter()
            .flatten()
            .filter(|c| c.state.awaits_answer())
            .count()
    }

    /// The client's address of the request behind `token` (a system call: for logging).
    pub fn peer(&self, token: Token) -> Option<SocketAddr> {
        self.conn(token)?.stream.peer_addr().ok()
    }

    /// Waits at most `timeout` for a complete request. `None` on timeout or when a signal
    /// interrupted the wait, so the caller can look at its flags.
    pub fn next_request(&mut self, timeout: Duration) -> Option<Token> {
        if let Some(t) = self.ready() {
            return Some(t);
        }
        let now = Instant::now();
        let wait = self
            .next_deadline()
            .map_or(timeout, |d| d.saturating_duration_since(now).min(timeout));
        self.build_pollfds();
        let ms = wait.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: the pointer and length describe `self.pollfds`, which outlives the call.
        let n = unsafe {
            libc::poll(
                self.pollfds.as_mut_ptr(),
                self.pollfds.len() as libc::nfds_t,
                ms,
            )
        };
        if n < 0 {
            return None;
        }
        let first_conn = self.listeners.len();
        if self.wake.is_some() {
            self.woken |= self.pollfds.last().is_some_and(|p| p.revents != 0);
        }
        for l in 0..first_conn {
            if self.pollfds.get(l).is_some_and(|p| p.revents != 0) {
                self.accept_all(l);
            }
        }
        for i in 0..self.polled.len() {
            let (Some(p), Some(&slot)) = (self.pollfds.get(first_conn + i), self.polled.get(i))
            else {
                continue;
            };
            if p.revents == 0 {
                continue;
            }
            let state = self
                .conns
                .get(slot)
                .and_then(|c| c.as_ref())
                .map(|c| c.state);
            match state {
                Some(State::Reading) => self.read(slot),
                Some(State::Writing) => self.write(slot),
                _ => {}
            }
        }
        self.expire(Instant::now());
        self.ready()
    }

    /// The request behind `token`, while it waits for its response.
    pub fn request(&self, token: Token) -> Option<RequestView<'_>> {
        let conn = self.conn(token)?;
        let head = conn.head.as_ref()?;
        let text = |r: &Range<usize>| {
            conn.buf
                .get(r.clone())
                .and_then(|b| std::str::from_utf8(b).ok())
        };
        Some(RequestView {
            method: head.method,
            target: text(&head.target).unwrap_or(""),
            authorization: head.authorization.as_ref().and_then(text),
            accepts_gzip: head.gzip,
            scrape_timeout: head.scrape_timeout,
        })
    }

    /// Queues the response to `token`'s request and writes what the socket takes now. A HEAD
    /// request gets the headers only.
    pub fn respond(&mut self, token: Token, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        let queued_elsewhere = self.queued_bytes();
        let Some(conn) = self.conn_mut(token) else {
            return;
        };
        let Some(head) = conn.head.take() else { return };
        let send_body = head.method != Method::Head;
        conn.close_after_write |= !head.keep_alive;
        // Keep what a pipelining client sent after this request for the next one.
        conn.buf.drain(..head.len.min(conn.buf.len()));
        write_response(
            &mut conn.out,
            status,
            headers,
            body,
            false,
            conn.close_after_write,
        );
        let body = if send_body { body } else { &[] };
        // Plain HTTP: the head and the body go to the socket in one writev, and only what it
        // does not take is copied behind the head, so a client that keeps up costs no copy of
        // the scrape's output (DESIGN.md: "Resident memory").
        #[cfg(feature = "tls")]
        let plain = conn.tls.is_none();
        #[cfg(not(feature = "tls"))]
        let plain = true;
        let sent = if plain {
            write_now(&mut conn.stream, &conn.out, body)
        } else {
            0
        };
        match sent.checked_sub(conn.out.len()) {
            Some(body_sent) => {
                conn.out.clear();
                conn.out
                    .extend_from_slice(body.get(body_sent..).unwrap_or_default());
                conn.written = 0;
            }
            None => {
                conn.out.extend_from_slice(body);
                conn.written = sent;
            }
        }
        conn.state = State::Writing;
        conn.since = Instant::now();
        let slot = token.slot;
        if queued_elsewhere + self.pending(slot) > self.limits.max_queued_bytes {
            self.shed_writers(slot);
        }
        self.write(slot);
    }

    /// Writes queued responses for up to `limit`, for a clean shutdown.
    pub fn flush(&mut self, limit: Duration) {
        let end = Instant::now() + limit;
        while Instant::now() < end
            && self
                .conns
                .iter()
                .flatten()
                .any(|c| c.state == State::Writing)
        {
            let slots: Vec<usize> = (0..self.conns.len())
                .filter(|&s| {
                    self.conns
                        .get(s)
                        .and_then(|c| c.as_ref())
                        .is_some_and(|c| c.state == State::Writing)
                })
                .collect();
            for s in slots {
                self.write(s);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn conn(&self, t: Token) -> Option<&Conn> {
        self.conns
            .get(t.slot)?
            .as_ref()
            .filter(|c| c.generation == t.generation && c.state.awaits_answer())
    }

    fn conn_mut(&mut self, t: Token) -> Option<&mut Conn> {
        self.conns
            .get_mut(t.slot)?
            .as_mut()
            .filter(|c| c.generation == t.generation && c.state.awaits_answer())
    }

    fn ready(&self) -> Option<Token> {
        self.conns.iter().enumerate().find_map(|(slot, c)| {
            let c = c.as_ref()?;
            (c.state == State::Handling).then_some(Token {
                slot,
                generation: c.generation,
            })
        })
    }

    fn pending(&self, slot: usize) -> usize {
        self.conns
            .get(slot)
            .and_then(|c| c.as_ref())
            .map_or(0, |c| {
                c.out.len().saturating_sub(c.written) + c.tls_buffered()
            })
    }

    fn queued_bytes(&self) -> usize {
        (0..self.conns.len()).map(|s| self.pending(s)).sum()
    }

    /// Drops the writers with the oldest responses until the queue fits, sparing `keep`.
    fn shed_writers(&mut self, keep: usize) {
        while self.queued_bytes() > self.limits.max_queued_bytes {
            let oldest = (0..self.conns.len())
                .filter(|&s| s != keep)
                .filter_map(|s| {
                    self.conns
                        .get(s)?
                        .as_ref()
                        .filter(|c| c.state == State::Writing)
                        .map(|c| (c.since, s))
                })
                .min();
            match oldest {
                Some((_, s)) => self.close(s),
                None => return,
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.conns
            .iter()
            .flatten()
            .map(|c| c.since + self.timeout_of(c))
            .min()
    }

    fn timeout_of(&self, c: &Conn) -> Duration {
        match c.state {
            State::Reading if c.partial => self.limits.head_timeout,
            State::Reading => self.limits.idle_timeout,
            State::Writing => self.limits.write_timeout,
            // The caller answers before it polls again, or by the scrape deadline.
            State::Handling | State::Parked => Duration::from_secs(3600),
        }
    }

    fn build_pollfds(&mut self) {
        self.pollfds.clear();
        self.polled.clear();
        for l in &self.listeners {
            self.pollfds.push(libc::pollfd {
                fd: l.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        for (slot, c) in self.conns.iter().enumerate() {
            let Some(c) = c else { continue };
            let events = match c.state {
                // A TLS handshake may have bytes to send before the next request comes.
                State::Reading if c.tls_wants_write() => libc::POLLIN | libc::POLLOUT,
                State::Reading => libc::POLLIN,
                State::Writing => libc::POLLOUT,
                State::Handling | State::Parked => continue,
            };
            self.pollfds.push(libc::pollfd {
                fd: c.stream.as_raw_fd(),
                events,
                revents: 0,
            });
            self.polled.push(slot);
        }
        if let Some(fd) = self.wake {
            self.pollfds.push(libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
    }

    fn accept_all(&mut self, listener: usize) {
        // Bounded per round so that a flood cannot starve the connections already open.
        for _ in 0..64 {
            let Some(l) = self.listeners.get(listener) else {
                return;
            };
            match l.accept() {
                Ok((stream, _)) => self.admit(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    self.warn_accept(&e);
                    // Free one descriptor to take the connection off the queue and close it.
                    self.reserve_fd = None;
                    if let Some(Ok((stream, _))) = self.listeners.get(listener).map(|l| l.accept())
                    {
                        drop(stream);
                    }
                    self.reserve_fd = File::open("/dev/null").ok();
                    return;
                }
                // ECONNABORTED, EINTR, ENOBUFS…: the listener is fine, try again next round.
                Err(e) => {
                    self.warn_accept(&e);
                    return;
                }
            }
        }
    }

    fn warn_accept(&mut self, e: &io::Error) {
        let now = Instant::now();
        if self
            .last_accept_warning
            .map_or(true, |t| now.duration_since(t) > Duration::from_secs(10))
        {
            self.last_accept_warning = Some(now);
            log::warn("accepting a connection failed", &[("err", e)]);
        }
    }

    fn admit(&mut self, stream: TcpStream) {
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        let _ = stream.set_nodelay(true);
        if self.connections() >= self.limits.max_connections && !self.evict_idlest() {
            return; // every slot is busy writing: drop the newcomer
        }
        #[cfg(feature = "tls")]
        let tls = match &self.tls {
            Some(config) => match rustls::ServerConnection::new(Arc::clone(config)) {
                Ok(mut c) => {
                    c.set_buffer_limit(Some(TLS_BUFFER));
                    Some(Box::new(c))
                }
                Err(_) => return,
            },
            None => None,
        };
        let generation = self.next_generation;
        self.next_generation += 1;
        let conn = Conn {
            stream,
            #[cfg(feature = "tls")]
            tls,
            buf: Vec::new(),
            head: None,
            out: Vec::new(),
            written: 0,
            state: State::Reading,
            since: Instant::now(),
            partial: false,
            close_after_write: false,
            generation,
        };
        match self.conns.iter().position(Option::is_none) {
            Some(free) => {
                if let Some(slot) = self.conns.get_mut(free) {
                    *slot = Some(conn);
                }
            }
            None => self.conns.push(Some(conn)),
        }
    }

    /// Closes the reader that has waited longest (idle keep-alive or half-sent request).
    fn evict_idlest(&mut self) -> bool {
        let victim = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(s, c)| {
                c.as_ref()
                    .filter(|c| c.state == State::Reading)
                    .map(|c| (c.since, s))
            })
            .min();
        match victim {
            Some((_, s)) => {
                self.close(s);
                true
            }
            None => false,
        }
    }

    fn close(&mut self, slot: usize) {
        if let Some(c) = self.conns.get_mut(slot) {
            *c = None;
        }
    }

    fn read(&mut self, slot: usize) {
        #[cfg(feature = "tls")]
        if self
            .conns
            .get(slot)
            .is_some_and(|c| c.as_ref().is_some_and(|c| c.tls.is_some()))
        {
            return self.read_tls(slot);
        }
        let limits = self.limits.clone();
        let Some(Some(conn)) = self.conns.get_mut(slot) else {
            return;
        };
        let mut chunk = [0u8; 4096];
        loop {
            let room = limits.max_head_bytes.saturating_sub(conn.buf.len());
            if room == 0 {
                break;
            }
            let want = room.min(chunk.len());
            match conn.stream.read(chunk.get_mut(..want).unwrap_or(&mut [])) {
                Ok(0) => {
                    self.close(slot);
                    return;
                }
                Ok(n) => {
                    if !conn.partial {
                        conn.partial = true;
                        conn.since = Instant::now();
                    }
                    conn.buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
                    if find_head_end(&conn.buf).is_some() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.close(slot);
                    return;
                }
            }
        }
        self.parse(slot);
    }

    /// Looks for a complete request head in the buffer and either hands it to the caller or
    /// answers an error itself.
    fn parse(&mut self, slot: usize) {
        let limits = self.limits.clone();
        let Some(Some(conn)) = self.conns.get_mut(slot) else {
            return;
        };
        match parse_head(&conn.buf, limits.max_head_bytes, limits.max_headers) {
            Parsed::Incomplete => {}
            Parsed::Request(head) => {
                conn.head = Some(head);
                conn.state = State::Handling;
                conn.partial = false;
            }
            Parsed::Error(status) => {
                conn.close_after_write = true;
                conn.buf.clear();
                let reason = reason(status);
                write_response(
                    &mut conn.out,
                    status,
                    &[("Content-Type", "text/plain; charset=utf-8")],
                    reason.as_bytes(),
                    true,
                    true,
                );
                conn.written = 0;
                conn.state = State::Writing;
                conn.since = Instant::now();
                self.write(slot);
            }
        }
    }

    /// Reads what a TLS connection has: ciphertext from the socket, plaintext into the head
    /// buffer (within the same limit), and sends what the handshake has to say.
    #[cfg(feature = "tls")]
    fn read_tls(&mut self, slot: usize) {
        let max_head = self.limits.max_head_bytes;
        let Some(Some(conn)) = self.conns.get_mut(slot) else {
            return;
        };
        let Some(tls) = conn.tls.as_mut() else { return };
        let mut chunk = [0u8; 4096];
        // Bounded, so one connection cannot keep the loop; poll(2) brings us back.
        'io: for _ in 0..64 {
            loop {
                // As for plain HTTP, stop at a complete head; what follows stays in the session
                // until the response is out.
                if find_head_end(&conn.buf).is_some() {
                    break 'io;
                }
                let room = max_head.saturating_sub(conn.buf.len());
                if room == 0 {
                    break;
                }
                match tls
                    .reader()
                    .read(chunk.get_mut(..room.min(4096)).unwrap_or(&mut []))
                {
                    // close_notify: the client is done.
                    Ok(0) => return self.close(slot),
                    Ok(n) => conn.buf.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => return self.close(slot),
                }
            }
            if conn.buf.len() >= max_head || !tls.wants_read() {
                break;
            }
            match tls.read_tls(&mut conn.stream) {
                Ok(0) => return self.close(slot),
                Ok(_) => {
                    if !conn.partial {
                        conn.partial = true;
                        conn.since = Instant::now();
                    }
                    if tls.process_new_packets().is_err() {
                        // Not TLS (plain HTTP, a scanner) or a failed handshake: send the
                        // alert rustls queued, if the socket takes it, and close.
                        let _ = tls.write_tls(&mut conn.stream);
                        return self.close(slot);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close(slot),
            }
        }
        while tls.wants_write() {
            match tls.write_tls(&mut conn.stream) {
                Ok(0) => return self.close(slot),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close(slot),
            }
        }
        self.parse(slot);
    }

    /// Moves the queued response into the TLS session and its records to the socket.
    /// `Some(true)` once all of it is out, `Some(false)` when the socket is full, `None` when
    /// the connection is gone.
    #[cfg(feature = "tls")]
    fn write_tls(&mut self, slot: usize) -> Option<bool> {
        let Some(Some(conn)) = self.conns.get_mut(slot) else {
            return None;
        };
        let tls = conn.tls.as_mut()?;
        loop {
            while conn.written < conn.out.len() {
                match tls
                    .writer()
                    .write(conn.out.get(conn.written..).unwrap_or(&[]))
                {
                    Ok(0) => break,
                    Ok(n) => conn.written += n,
                    Err(_) => {
                        self.close(slot);
                        return None;
                    }
                }
            }
            if conn.written >= conn.out.len() && conn.close_after_write {
                tls.send_close_notify();
            }
            if !tls.wants_write() {
                if conn.written < conn.out.len() {
                    // rustls took nothing and has nothing to send: cannot progress.
                    self.close(slot);
                    return None;
                }
                return Some(true);
            }
            match tls.write_tls(&mut conn.stream) {
                Ok(0) => {
                    self.close(slot);
                    return None;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Some(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close(slot);
                    return None;
                }
            }
        }
    }

    fn write(&mut self, slot: usize) {
        #[cfg(feature = "tls")]
        let tls = self
            .conns
            .get(slot)
            .is_some_and(|c| c.as_ref().is_some_and(|c| c.tls.is_some()));
        #[cfg(feature = "tls")]
        if tls && self.write_tls(slot) != Some(true) {
            return;
        }
        let Some(Some(conn)) = self.conns.get_mut(slot) else {
            return;
        };
        while conn.written < conn.out.len() {
            match conn
                .stream
                .write(conn.out.get(conn.written..).unwrap_or(&[]))
            {
                Ok(0) => {
                    self.close(slot);
                    return;
                }
                Ok(n) => conn.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.close(slot);
                    return;
                }
            }
        }
        if conn.close_after_write {
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
            self.close(slot);
            return;
        }
        conn.out.clear();
        conn.written = 0;
        conn.state = State::Reading;
        conn.since = Instant::now();
        conn.partial = !conn.buf.is_empty();
        // A pipelined request may already be complete; with TLS, its bytes may still be in the
        // session rather than the buffer.
        #[cfg(feature = "tls")]
        if tls {
            return self.read_tls(slot);
        }
        self.parse(slot);
    }

    fn expire(&mut self, now: Instant) {
        for slot in 0..self.conns.len() {
            let expired = self
                .conns
                .get(slot)
                .and_then(|c| c.as_ref())
                .is_some_and(|c| now.duration_since(c.since) >= self.timeout_of(c));
            if expired {
                self.close(slot);
            }
        }
    }
}

impl Conn {
    /// Whether TLS has records waiting for the socket.
    fn tls_wants_write(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return tls.wants_write();
        }
        false
    }

    /// An upper bound on the ciphertext rustls holds for this connection.
    fn tls_buffered(&self) -> usize {
        if self.tls_wants_write() {
            #[cfg(feature = "tls")]
            return TLS_BUFFER;
        }
        0
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

/// Writes `head` and then `body` as far as the non-blocking socket takes them; returns how many
/// bytes went. It stops at an error, which the queued write of the rest meets again.
fn write_now(stream: &mut TcpStream, head: &[u8], body: &[u8]) -> usize {
    let mut sent = 0;
    while sent < head.len() + body.len() {
        let (h, b) = match sent.checked_sub(head.len()) {
            None => (head.get(sent..).unwrap_or_default(), body),
            Some(n) => (&[][..], body.get(n..).unwrap_or_default()),
        };
        match stream.write_vectored(&[io::IoSlice::new(h), io::IoSlice::new(b)]) {
            Ok(0) => break,
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    sent
}

fn write_response(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    send_body: bool,
    close: bool,
) {
    out.clear();
    let mut n = [0u8; 20];
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(crate::expo::u64_str(&mut n, u64::from(status)).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
    for (k, v) in headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    out.extend_from_slice(crate::expo::u64_str(&mut n, body.len() as u64).as_bytes());
    out.extend_from_slice(if close {
        b"\r\nConnection: close\r\n\r\n"
    } else {
        b"\r\nConnection: keep-alive\r\n\r\n"
    });
    if send_body {
        out.extend_from_slice(body);
    }
}

#[derive(Debug)]
pub(crate) enum Parsed {
    Incomplete,
    Request(Head),
    /// Answer with this status and close.
    Error(u16),
}

/// The end of the head: the index just past the blank line.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses a request head from the start of `buf` (bytes may follow it).
pub(crate) fn parse_head(buf: &[u8], max_bytes: usize, max_headers: usize) -> Parsed {
    // Robustness: empty lines before a request line are allowed (RFC 9112 2.2).
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let Some(end) = find_head_end(buf.get(start..).unwrap_or(&[])).map(|e| e + start) else {
        return if buf.len() >= max_bytes {
            Parsed::Error(431)
        } else {
            Parsed::Incomplete
        };
    };
    let head = buf.get(start..end - 4).unwrap_or(&[]);
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = lines.next().unwrap_or(&[]);
    if request_line.iter().any(|&b| !(0x20..0x7f).contains(&b)) {
        return Parsed::Error(400);
    }
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Parsed::Error(400);
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Parsed::Error(400);
    }
    let http11 = match version {
        b"HTTP/1.1" => true,
        b"HTTP/1.0" => false,
        // HTTP/2 prefaces and other versions too: hostile or confused clients get a 4xx.
        _ => return Parsed::Error(400),
    };
    // origin-form (/path?query) or absolute-form (http://host/path), nothing else.
    let target_start = start + method.len() + 1;
    let (t_off, t_len) = if target.starts_with(b"/") {
        (0, target.len())
    } else if let Some(rest) = target
        .strip_prefix(b"http://")
        .or_else(|| target.strip_prefix(b"https://"))
    {
        match rest.iter().position(|&b| b == b'/') {
            Some(p) => (target.len() - rest.len() + p, rest.len() - p),
            None => return Parsed::Error(400),
        }
    } else {
        return Parsed::Error(400);
    };
    let mut keep_alive = http11;
    let mut authorization = None;
    let mut scrape_timeout = None;
    let mut accept = AcceptGzip::default();
    let mut has_body = false;
    let mut count = 0;
    let mut offset = start + request_line.len() + 2;
    for line in lines {
        let line_start = offset;
        offset += line.len() + 2;
        count += 1;
        if count > max_headers {
            return Parsed::Error(431);
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Parsed::Error(400);
        };
        let (name, value) = (
            line.get(..colon).unwrap_or(&[]),
            line.get(colon + 1..).unwrap_or(&[]),
        );
        if name.is_empty()
            || !name.iter().all(|&b| is_tchar(b))
            || value.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f)
        {
            return Parsed::Error(400);
        }
        let value_trimmed = trim(value);
        if name.eq_ignore_ascii_case(b"connection") {
            for token in value_trimmed.split(|&b| b == b',').map(trim) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            has_body |= value_trimmed != b"0";
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            has_body = true;
        } else if name.eq_ignore_ascii_case(b"accept-encoding") {
            accept.add(value_trimmed);
        } else if name.eq_ignore_ascii_case(b"x-prometheus-scrape-timeout-seconds") {
            scrape_timeout = std::str::from_utf8(value_trimmed)
                .ok()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v > 0.0);
        } else if name.eq_ignore_ascii_case(b"authorization") {
            let lead = value.len() - value.iter().skip_while(|b| b.is_ascii_whitespace()).count();
            let v_start = line_start + colon + 1 + lead;
            authorization = Some(v_start..v_start + value_trimmed.len());
        }
    }
    let method = match method {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        _ => Method::Other,
    };
    Parsed::Request(Head {
        method,
        target: target_start + t_off..target_start + t_off + t_len,
        authorization,
        gzip: accept.accepts(),
        scrape_timeout,
        // A body is never read: the connection closes after the answer instead.
        keep_alive: keep_alive && !has_body,
        len: end,
    })
}

/// What the Accept-Encoding headers of a request say about gzip (RFC 9110 12.5.3): a q-value
/// of 0 refuses a coding, `*` stands for every coding not named, `x-gzip` is gzip. Several
/// headers count as one list.
#[derive(Debug, Default)]
pub(crate) struct AcceptGzip {
    gzip: Option<bool>,
    any: Option<bool>,
}

impl AcceptGzip {
    pub(crate) fn add(&mut self, value: &[u8]) {
        for item in value.split(|&b| b == b',') {
            let mut parts = item.split(|&b| b == b';');
            let coding = trim(parts.next().unwrap_or(&[]));
            let mut ok = true;
            for param in parts {
                let param = trim(param);
                if let Some(q) = param
                    .strip_prefix(b"q=")
                    .or_else(|| param.strip_prefix(b"Q="))
                {
                    // A malformed weight refuses: plain is always safe.
                    ok = qvalue_positive(q).unwrap_or(false);
                }
            }
            if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
                // The most favourable mention wins if a client names gzip twice.
                self.gzip = Some(self.gzip.unwrap_or(false) || ok);
            } else if coding == b"*" {
                self.any = Some(self.any.unwrap_or(false) || ok);
            }
        }
    }

    pub(crate) fn accepts(&self) -> bool {
        self.gzip.or(self.any).unwrap_or(false)
    }
}

/// Whether a qvalue (`1`, `0.5`, `0.000`, at most three decimals) is above zero; `None` when
/// it is not a qvalue.
fn qvalue_positive(q: &[u8]) -> Option<bool> {
    let (int, frac) = match q.iter().position(|&b| b == b'.') {
        Some(dot) => (q.get(..dot)?, q.get(dot + 1..)?),
        None => (q, &[][..]),
    };
    let digits = |d: &[u8]| d.iter().all(u8::is_ascii_digit);
    if frac.len() > 3 || !digits(frac) {
        return None;
    }
    match int {
        b"0" => Some(frac.iter().any(|&b| b != b'0')),
        b"1" if frac.iter().all(|&b| b == b'0') => Some(true),
        _ => None,
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |e| e + 1);
    b.get(s..e).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Parsed {
        parse_head(text.as_bytes(), 8192, 64)
    }

    fn request(text: &str) -> Head {
        match head(text) {
            Parsed::Request(h) => h,
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    fn status(text: &str) -> u16 {
        match head(text) {
            Parsed::Error(s) => s,
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn requests_parse() {
        let t =
            "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization:  Basic dXNlcjpwYXNz \r\n\r\n";
        let h = request(t);
        assert_eq!(h.method, Method::Get);
        assert_eq!(&t[h.target.clone()], "/metrics?x=1");
        assert_eq!(&t[h.authorization.clone().unwrap()], "Basic dXNlcjpwYXNz");
        assert!(h.keep_alive);
        assert_eq!(h.len, t.len());
        let h = request("HEAD / HTTP/1.0\r\n\r\nGET /next");
        assert_eq!((h.method, h.keep_alive, h.len), (Method::Head, false, 19));
        assert!(request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(!request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(
            !request("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").keep_alive,
            "bodies are not read"
        );
        let t = "\r\nGET http://host:9100/metrics HTTP/1.1\r\n\r\n";
        assert_eq!(&t[request(t).target], "/metrics");
        assert_eq!(request("DELETE / HTTP/1.1\r\n\r\n").method, Method::Other);
    }

    #[test]
    fn malformed_requests_are_refused() {
        assert!(matches!(
            head("GET /metrics HTTP/1.1\r\nHost: a"),
            Parsed::Incomplete
        ));
        assert_eq!(status("GET /\r\n\r\n"), 400, "HTTP/0.9");
        assert_eq!(
            status("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            400,
            "HTTP/2 preface: * is no path"
        );
        assert_eq!(status("GET / HTTP/2.0\r\n\r\n"), 400);
        assert_eq!(status("GET / FTP/1.0\r\n\r\n"), 400);
        assert_eq!(status("GET  / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("G(T / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("GET metrics HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("GET /\x01 HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nno colon\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\n folded: x\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n"), 400);
        let many: String = (0..65).map(|i| format!("H{i}: v\r\n")).collect();
        assert_eq!(status(&format!("GET / HTTP/1.1\r\n{many}\r\n")), 431);
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(9000));
        assert!(matches!(
            parse_head(long.as_bytes(), 8192, 64),
            Parsed::Error(431)
        ));
    }

    fn accepts(values: &[&str]) -> bool {
        let mut a = AcceptGzip::default();
        for v in values {
            a.add(v.as_bytes());
        }
        a.accepts()
    }

    #[test]
    fn accept_encoding_q_values() {
        // What Prometheus, curl --compressed, browsers and python requests send.
        assert!(accepts(&["gzip"]));
        assert!(accepts(&["deflate, gzip;q=1.0, *;q=0.5"]));
        assert!(accepts(&["gzip, deflate, br, zstd"]));
        assert!(accepts(&["GZIP"]));
        assert!(accepts(&["x-gzip"]));
        assert!(accepts(&["gzip ; q=0.001"]));
        assert!(accepts(&["*"]));
        assert!(accepts(&["br;q=1, *;q=0.1"]));
        assert!(accepts(&["identity", "gzip"]), "two headers are one list");
        assert!(!accepts(&[]));
        assert!(!accepts(&[""]));
        assert!(!accepts(&["identity"]));
        assert!(!accepts(&["deflate, br"]));
        assert!(!accepts(&["gzip;q=0"]));
        assert!(!accepts(&["gzip; q=0.000"]));
        assert!(!accepts(&["gzip;Q=0."]));
        assert!(!accepts(&["*;q=0"]));
        assert!(
            !accepts(&["gzip;q=0, *"]),
            "gzip named: * does not count for it"
        );
        assert!(!accepts(&["*, gzip;q=0"]));
        assert!(!accepts(&["gzip;q=2"]), "not a qvalue");
        assert!(!accepts(&["gzip;q=0.5000"]), "not a qvalue");
        assert!(!accepts(&["gzip;q="]));
        assert!(!accepts(&["gzipx, xgzip"]));
        assert!(
            accepts(&["gzip;level=1"]),
            "other parameters are not weights"
        );
    }

    #[test]
    fn accept_encoding_reaches_the_request() {
        let t = "GET / HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n";
        assert!(request(t).gzip);
        let t = "GET / HTTP/1.1\r\naccept-encoding:identity\r\nAccept-Encoding: gzip;q=0\r\n\r\n";
        assert!(!request(t).gzip);
        assert!(!request("GET / HTTP/1.1\r\n\r\n").gzip);
    }

    #[test]
    fn response_bytes() {
        let mut out = Vec::new();
        write_response(
            &mut out,
            200,
            &[("Content-Type", "text/plain")],
            b"hi",
            true,
            false,
        );
        assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nhi");
        write_response(&mut out, 404, &[], b"gone", false, true);
        assert_eq!(
            out,
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\n"
        );
    }
}
