//! The request loop: route, collect (or reuse the last collection within `--interval`), answer;
//! SIGTERM/SIGINT end it after the request in flight, SIGHUP reloads the config file and the
//! web config file. With `--web.config-file` users, every path needs basic auth.
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::cli::{self, Config};
use crate::collector::{Ctx, Scraper, ALL};
use crate::guard::Guard;
use crate::gzip::{self, Gzip};
use crate::http::{self, Method, Token};
use crate::listen;
use crate::log::{self, Level};
use crate::source::Source;
#[cfg(feature = "tls")]
pub use crate::tls::Web;
use crate::webconfig::WebConfigError;

pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Without the `tls` feature there is nothing to configure: `--web.config-file` is refused.
#[cfg(not(feature = "tls"))]
pub struct Web;

/// Reads `--web.config-file` and the certificate, key and users it names.
#[cfg_attr(proctap_size, optimize(size))]
pub fn load_web(cfg: &Config) -> Result<Option<Web>, WebConfigError> {
    match &cfg.web_config_file {
        #[cfg(feature = "tls")]
        Some(path) => crate::tls::load(path).map(Some),
        _ => Ok(None),
    }
}

const METRICS_PLAIN: &[(&str, &str)] = &[
    ("Content-Type", METRICS_CONTENT_TYPE),
    ("Vary", "Accept-Encoding"),
];
const METRICS_GZIP: &[(&str, &str)] = &[
    ("Content-Type", METRICS_CONTENT_TYPE),
    ("Content-Encoding", "gzip"),
    ("Vary", "Accept-Encoding"),
];

const UNAUTHORIZED: &[(&str, &str)] = &[
    ("Content-Type", TEXT),
    ("WWW-Authenticate", "Basic realm=\"proctap\""),
];

static STOP: AtomicBool = AtomicBool::new(false);
static RELOAD: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

extern "C" fn on_hup(_: libc::c_int) {
    RELOAD.store(true, Ordering::SeqCst);
}

#[cfg_attr(proctap_size, optimize(size))]
fn install_signal_handlers() {
    let handlers: [(libc::c_int, extern "C" fn(libc::c_int)); 3] = [
        (libc::SIGTERM, on_stop),
        (libc::SIGINT, on_stop),
        (libc::SIGHUP, on_hup),
    ];
    for (sig, handler) in handlers {
        // SAFETY: the handlers only store to atomics, which is async-signal-safe. Without
        // SA_RESTART, poll(2) returns EINTR at once, so the loop sees the flag promptly.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Builds the scraper a configuration asks for.
#[cfg_attr(proctap_size, optimize(size))]
pub fn scraper_for(cfg: &Config) -> Result<Scraper, cli::CliError> {
    let src = Source::new(cfg.procfs.clone(), cfg.sysfs.clone(), cfg.rootfs.clone())
        .with_udev(cfg.udev.clone());
    let mut scraper = Scraper::new(Ctx::new(src), &cfg.settings, cfg.enabled_collectors())?;
    scraper.exporter_metrics = !cfg.settings.switch("web.disable-exporter-metrics");
    scraper.timeout = cfg.settings.duration("web.scrape-timeout");
    Ok(scraper)
}

/// A collection on its way to the collection thread and back.
struct Run {
    scraper: Scraper,
    /// Which enabled collectors to run (`Loop::only`, lent), or all.
    only: Vec<bool>,
    filtered: bool,
    deadline: Instant,
    ok: bool,
}

fn run_collection(r: &mut Run) {
    let only = r.filtered.then_some(&r.only[..]);
    r.ok = r.scraper.scrape_within(only, r.deadline);
}

/// A request waiting for its collection.
struct InFlight {
    token: Token,
    /// Answer from the full collection (cached, gzipped once) or from `collect[]`/`exclude[]`.
    filtered: bool,
    /// A filtered request with `--interval` is answered from the full collection.
    filter_after: bool,
    gzip: bool,
    deadline: Instant,
}

/// The deadline of a scrape: Prometheus's X-Prometheus-Scrape-Timeout-Seconds less a margin
/// for the answer to travel (0.5 s, or half of a timeout of 1 s or less), at most
/// `--web.scrape-timeout`.
pub fn scrape_deadline(header: Option<f64>, flag: Duration, now: Instant) -> Instant {
    let asked = header.map(|t| if t > 1.0 { t - 0.5 } else { t / 2.0 });
    let secs = asked.map_or(flag.as_secs_f64(), |a| a.min(flag.as_secs_f64()));
    now + Duration::from_secs_f64(secs.max(0.0))
}

/// What a request's debug line says besides its answer.
struct Logged {
    method: Method,
    target: String,
    peer: Option<std::net::SocketAddr>,
    start: Instant,
}

impl Logged {
    fn log(&self, status: u16, bytes: usize) {
        let method = match self.method {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Other => "other",
        };
        log::log(
            Level::Debug,
            "request",
            &[
                ("method", &method),
                ("path", &self.target),
                ("status", &status),
                ("bytes", &bytes),
                ("duration_seconds", &self.start.elapsed().as_secs_f64()),
                (
                    "remote",
                    &self.peer.map_or_else(|| "-".to_string(), |p| p.to_string()),
                ),
            ],
        );
    }
}

/// What the loop keeps between requests.
struct Loop {
    cfg: Config,
    /// The scraper, while it is not on the collection thread.
    scraper: Option<Scraper>,
    /// Runs collections so that the poll loop keeps answering /health and / meanwhile.
    collection: Guard<Run>,
    /// The request a running collection is for.
    in_flight: Option<InFlight>,
    /// /metrics requests that came while a collection ran: answered (or collected for) when
    /// it is back, or 503 past their deadline.
    queued: Vec<(Token, Instant)>,
    /// At `--log.level=debug`, the requests parked for a collection: their debug line is
    /// written when they are answered.
    parked_log: Vec<(Token, Logged)>,
    /// The read end of the pipe the collection thread writes to when it is done.
    wake: Option<std::fs::File>,
    /// When the output in `scraper.out` was collected, and whether every collector succeeded.
    last: Option<(Instant, bool)>,
    /// Made on the first request that takes gzip.
    gzip: Option<Gzip>,
    /// `scraper.out` gzipped, while `gzipped_fresh`: one compression per collection.
    gzipped: Vec<u8>,
    gzipped_fresh: bool,
    /// Whether the listener speaks TLS; fixed until a restart.
    tls: bool,
    /// Which enabled collectors a `collect[]`/`exclude[]` request asks for (reused).
    only: Vec<bool>,
    /// The code run once (start-up, a reload) is still mapped: dropped from the resident set
    /// after the next answered collection (see [`page_out_code`]).
    page_out: bool,
    #[cfg(feature = "tls")]
    auth: Option<crate::tls::Auth>,
}

/// The sockets to serve on: those systemd passed with `--web.systemd-socket`, else each listen
/// address bound (as node_exporter, every one; a failure on any stops the start).
#[cfg_attr(proctap_size, optimize(size))]
fn listeners(cfg: &Config) -> io::Result<Vec<(TcpListener, String)>> {
    if cfg.systemd_socket {
        let passed = listen::systemd_listeners()
            .map_err(|e| io::Error::other(format!("--web.systemd-socket: {e}")))?;
        return Ok(passed.into_iter().map(|l| (l, "systemd".into())).collect());
    }
    if let Some(n) = listen::unused_systemd_sockets() {
        log::warn(
            "systemd passed listening sockets but --web.systemd-socket is not set; binding the listen addresses instead",
            &[("sockets", &n)],
        );
    }
    let defaults = [listen::DEFAULT.to_string()];
    let given = if cfg.listen.is_empty() {
        &defaults[..]
    } else {
        &cfg.listen[..]
    };
    given
        .iter()
        .map(|a| {
            listen::parse(a)
                .map_err(io::Error::other)
                .and_then(|addr| listen::bind(&addr))
                .map(|l| (l, a.clone()))
                .map_err(|e| io::Error::other(format!("cannot listen on {a}: {e}")))
        })
        .collect()
}

/// Binds, logs each bound address, and serves until SIGTERM or SIGINT. `args` are the command
/// line, parsed again (with the config file) on SIGHUP.
pub fn run(cfg: Config, scraper: Scraper, web: Option<Web>, args: Vec<OsString>) -> io::Result<()> {
    install_signal_handlers();
    let (sockets, given): (Vec<TcpListener>, Vec<String>) = listeners(&cfg)?.into_iter().unzip();
    #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
    let mut server = http::Server::new(sockets, http::Limits::default())?;
    let (wake, wake_tx) = wake_pipe()?;
    let mut collection = Guard::new("proctap-collect", run_collection);
    collection.wake_on(wake_tx);
    server.watch(std::os::fd::AsRawFd::as_raw_fd(&wake));
    let mut lp = Loop {
        cfg,
        scraper: Some(scraper),
        collection,
        in_flight: None,
        queued: Vec::new(),
        parked_log: Vec::new(),
        wake: Some(wake),
        last: None,
        gzip: None,
        gzipped: Vec::new(),
        gzipped_fresh: false,
        tls: false,
        only: Vec::new(),
        page_out: true,
        #[cfg(feature = "tls")]
        auth: None,
    };
    lp.set_web(&mut server, web);
    for (addr, given) in server.local_addrs().zip(&given) {
        let addr = addr.map_or_else(|_| given.clone(), |a| a.to_string());
        log::info(
            "listening",
            &[
                ("address", &addr),
                ("listen", given),
                ("version", &env!("CARGO_PKG_VERSION")),
                ("tls", &lp.tls),
                ("basic_auth", &lp.has_auth()),
            ],
        );
    }
    while !STOP.load(Ordering::SeqCst) {
        // A reload waits for a running collection to come back.
        if lp.scraper.is_some() && RELOAD.swap(false, Ordering::SeqCst) {
            lp.reload(&mut server, &args);
        }
        let poll = if lp.in_flight.is_some() { 50 } else { 200 };
        if let Some(token) = server.next_request(Duration::from_millis(poll)) {
            lp.handle(&mut server, token);
        }
        if server.take_woken() {
            lp.drain_wake();
        }
        lp.collected(&mut server);
        lp.expire_waiting(&mut server);
    }
    log::info("shutting down", &[]);
    // The request in flight was answered above; let its bytes reach the client.
    server.flush(Duration::from_millis(800));
    Ok(())
}

/// A non-blocking pipe: (read end, write end). The write end lives as long as the program.
#[cfg_attr(proctap_size, optimize(size))]
fn wake_pipe() -> io::Result<(std::fs::File, libc::c_int)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned this descriptor and nothing else owns it.
    Ok((unsafe { std::fs::File::from_raw_fd(fds[0]) }, fds[1]))
}

/// Unmaps the binary's code and the read-only segment before it from this process
/// (`MADV_DONTNEED`), once after start-up and its first answered scrape: the pages that option
/// parsing, the config file and `--help`'s tables touched leave the resident set, and the ones
/// a scrape runs fault back in from the page cache (where they stay: nothing is read from
/// disk) on the next scrape. The linker puts the functions a scrape runs together at the
/// start of .text (`make tiny-order`), so the rest stays out; later scrapes cost nothing
/// (DESIGN.md: "Resident memory"). Safe because these pages are never written: a private
/// file mapping that was not written refills from its file. Inlined into its (hot) caller and
/// through `syscall`, so that returning from it faults no start-up code back in.
#[inline(always)]
fn page_out_code() {
    extern "C" {
        // The ELF header (the start of the first loaded segment) and the end of the code:
        // both defined by GNU ld and lld. What follows `etext` (RELRO, data) is left alone.
        static __ehdr_start: u8;
        static etext: u8;
    }
    // Only the symbols' addresses are taken. The first segment starts on a page; the kernel
    // rounds the length up to the page that holds `etext`, which holds only code.
    let start = std::ptr::addr_of!(__ehdr_start) as usize;
    let end = std::ptr::addr_of!(etext) as usize;
    if end > start {
        // SAFETY: [start, end) is this binary's read-only, never written file mappings; what
        // runs from it afterwards faults back in. An error changes nothing.
        unsafe { libc::syscall(libc::SYS_madvise, start, end - start, libc::MADV_DONTNEED) };
    }
}

const BUSY: &[u8] = b"503 the collection did not finish within the scrape deadline\n";

impl Loop {
    fn drain_wake(&mut self) {
        use std::io::Read;
        let mut buf = [0u8; 64];
        if let Some(mut w) = self.wake.as_ref() {
            while w.read(&mut buf).is_ok_and(|n| n > 0) {}
        }
    }

    /// Sends the scraper to the collection thread for `req`.
    fn start_collection(&mut self, req: InFlight) {
        let Some(scraper) = self.scraper.take() else {
            return;
        };
        let run = Run {
            scraper,
            only: std::mem::take(&mut self.only),
            filtered: req.filtered && !req.filter_after,
            deadline: req.deadline,
            ok: false,
        };
        match self.collection.send(run) {
            Ok(()) => self.in_flight = Some(req),
            Err((e, run)) => {
                // No thread: collect here, as before.
                log::warn(
                    "cannot start the collection thread; collecting on the main thread",
                    &[("err", &format_args!("{e:?}"))],
                );
                let mut run = run;
                run_collection(&mut run);
                self.finish(run);
                self.in_flight = Some(req);
            }
        }
    }

    fn finish(&mut self, run: Run) {
        self.last = Some((Instant::now(), run.ok));
        self.gzipped_fresh = false;
        self.only = run.only;
        self.scraper = Some(run.scraper);
    }

    /// When the collection is back: answers its request, then the ones queued meanwhile.
    fn collected(&mut self, server: &mut http::Server) {
        if self.scraper.is_none() {
            match self.collection.take_back() {
                Some(run) => self.finish(run),
                None => return,
            }
        }
        if let Some(req) = self.in_flight.take() {
            let (status, bytes) = self.answer_collected(server, &req);
            self.log_parked(req.token, status, bytes);
            if std::mem::take(&mut self.page_out) {
                page_out_code();
            }
        }
        while self.scraper.is_some() && self.in_flight.is_none() && !self.queued.is_empty() {
            let (token, _) = self.queued.remove(0);
            self.handle(server, token);
        }
        // A parked client that went away leaves no line behind for its token's next request.
        let (queued, in_flight) = (&self.queued, &self.in_flight);
        self.parked_log.retain(|(t, _)| {
            queued.iter().any(|(q, _)| q == t) || in_flight.as_ref().is_some_and(|r| r.token == *t)
        });
    }

    /// Answers 503 to the requests whose deadline passed while the collection ran.
    fn expire_waiting(&mut self, server: &mut http::Server) {
        let now = Instant::now();
        // A second of grace: the guarded collectors give up at the deadline themselves.
        let late = |d: Instant| now > d + Duration::from_secs(1);
        if self.scraper.is_none() && self.in_flight.as_ref().is_some_and(|r| late(r.deadline)) {
            if let Some(r) = self.in_flight.take() {
                let (status, bytes) =
                    respond(server, r.token, 503, &[("Content-Type", TEXT)], BUSY);
                self.log_parked(r.token, status, bytes);
            }
        }
        let mut i = 0;
        while let Some(&(token, deadline)) = self.queued.get(i) {
            if late(deadline) {
                self.queued.remove(i);
                let (status, bytes) = respond(server, token, 503, &[("Content-Type", TEXT)], BUSY);
                self.log_parked(token, status, bytes);
            } else {
                i += 1;
            }
        }
    }

    /// The answer to a /metrics request from the collection in `self.scraper`.
    fn answer_collected(&mut self, server: &mut http::Server, req: &InFlight) -> (u16, usize) {
        let Some(scraper) = self.scraper.as_mut() else {
            return (0, 0);
        };
        let (body, full) = if req.filtered && !req.filter_after {
            (scraper.out.as_bytes(), false)
        } else if req.filtered {
            scraper.filter_last(&self.only);
            (scraper.filtered.as_bytes(), false)
        } else {
            (scraper.out.as_bytes(), true)
        };
        if req.gzip {
            let g = self.gzip.get_or_insert_with(|| Gzip::new(gzip::LEVEL));
            // A full collection is compressed once for every scrape it answers.
            let ready = full && self.gzipped_fresh;
            if ready || g.compress(body, &mut self.gzipped) {
                self.gzipped_fresh = full;
                return respond(server, req.token, 200, METRICS_GZIP, &self.gzipped);
            }
        }
        respond(server, req.token, 200, METRICS_PLAIN, body)
    }

    /// Applies a loaded web config: TLS for new connections, users for every request.
    #[cfg_attr(not(feature = "tls"), allow(unused_variables))]
    #[cfg_attr(proctap_size, optimize(size))]
    fn set_web(&mut self, server: &mut http::Server, web: Option<Web>) {
        #[cfg(feature = "tls")]
        {
            let (tls, auth) = web.map_or((None, None), |w| (w.tls, w.auth));
            self.tls = tls.is_some();
            server.set_tls(tls);
            self.auth = auth;
        }
    }

    fn has_auth(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.auth.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Whether a request may be answered: always without users, else with a user's password.
    #[cfg_attr(not(feature = "tls"), allow(unused_variables))]
    fn authorized(&mut self, authorization: Option<&str>) -> bool {
        #[cfg(feature = "tls")]
        if let Some(auth) = self.auth.as_mut() {
            return auth.check(authorization);
        }
        true
    }

    #[cfg_attr(proctap_size, optimize(size))]
    fn reload(&mut self, server: &mut http::Server, args: &[OsString]) {
        if self.cfg.config_file.is_none() && self.cfg.web_config_file.is_none() {
            log::info("SIGHUP: no --config or --web.config-file to reload", &[]);
            return;
        }
        let parsed = cli::parse(args.iter().cloned())
            .and_then(|c| scraper_for(&c).map(|s| (c, s)))
            .map_err(|e| e.to_string())
            .and_then(|(c, s)| {
                let web = load_web(&c).map_err(|e| e.to_string())?;
                if web.as_ref().is_some_and(web_has_tls) != self.tls {
                    return Err(format!(
                        "{}: switching between HTTP and HTTPS takes a restart",
                        c.web_config_file
                            .as_ref()
                            .map_or(Default::default(), |p| p.display().to_string())
                    ));
                }
                Ok((c, s, web))
            });
        match parsed {
            Ok((cfg, scraper, web)) => {
                if cfg.listen != self.cfg.listen || cfg.systemd_socket != self.cfg.systemd_socket {
                    log::warn(
                        "SIGHUP: new listen addresses take a restart; keeping the sockets",
                        &[("listen", &self.cfg.listen.join(","))],
                    );
                }
                log::init(cfg.log_level, cfg.log_json);
                cfg.log_compat();
                self.cfg = Config {
                    listen: self.cfg.listen.clone(),
                    systemd_socket: self.cfg.systemd_socket,
                    ..cfg
                };
                self.scraper = Some(scraper);
                self.last = None;
                self.gzipped_fresh = false;
                self.page_out = true;
                self.set_web(server, web);
                let file = self
                    .cfg
                    .config_file
                    .as_ref()
                    .or(self.cfg.web_config_file.as_ref());
                log::info(
                    "reloaded the configuration",
                    &[(
                        "file",
                        &file.map_or(Default::default(), |f| f.display().to_string()),
                    )],
                );
            }
            Err(e) => log::error("SIGHUP: keeping the old configuration", &[("err", &e)]),
        }
    }

    /// Answers one request; at `--log.level=debug`, one line for it.
    fn handle(&mut self, server: &mut http::Server, token: Token) {
        // What the debug line needs, taken before the answer reuses the request's buffer; a
        // request handled again after waiting in the queue keeps its first start.
        let logged = match self.parked_log.iter().position(|(t, _)| *t == token) {
            Some(i) => Some(self.parked_log.swap_remove(i).1),
            None => log::enabled(Level::Debug)
                .then(|| {
                    server.request(token).map(|r| Logged {
                        method: r.method,
                        target: r.target.to_string(),
                        peer: None,
                        start: Instant::now(),
                    })
                })
                .flatten()
                .map(|l| Logged {
                    peer: server.peer(token),
                    ..l
                }),
        };
        let (status, bytes) = self.answer(server, token);
        if let Some(logged) = logged {
            if status == 0 && server.request(token).is_some() {
                // Parked for a collection: logged when answered.
                self.parked_log.push((token, logged));
            } else {
                logged.log(status, bytes);
            }
        }
    }

    /// The debug line of a parked request, now answered.
    fn log_parked(&mut self, token: Token, status: u16, bytes: usize) {
        if let Some(i) = self.parked_log.iter().position(|(t, _)| *t == token) {
            self.parked_log.swap_remove(i).1.log(status, bytes);
        }
    }

    /// Routes and responds; the status and the body's length, for the log.
    fn answer(&mut self, server: &mut http::Server, token: Token) -> (u16, usize) {
        let Some(req) = server.request(token) else {
            return (0, 0);
        };
        let route = route(req.method, req.target, &self.cfg.telemetry_path);
        let gzip = req.accepts_gzip;
        // Every path, /health included, as node_exporter does: a probe can send the header too.
        if !self.authorized(req.authorization) {
            return respond(server, token, 401, UNAUTHORIZED, b"401 unauthorized\n");
        }
        match route {
            Route::Metrics => {
                let deadline = scrape_deadline(
                    req.scrape_timeout,
                    self.cfg.settings.duration("web.scrape-timeout"),
                    Instant::now(),
                );
                let max = self.cfg.settings.count("web.max-requests");
                if max > 0 && server.waiting() > max {
                    return respond(
                        server,
                        token,
                        503,
                        &[("Content-Type", TEXT)],
                        b"503 too many scrape requests waiting (--web.max-requests)\n",
                    );
                }
                let Some(scraper) = self.scraper.as_ref() else {
                    // A collection is running: this one waits for it to come back.
                    server.park(token);
                    self.queued.push((token, deadline));
                    return (0, 0);
                };
                let filtered = match selection(req.target, &scraper.enabled, &mut self.only) {
                    Ok(filtered) => filtered,
                    Err(e) => {
                        let body = format!("400 bad request: {e}\n");
                        return respond(
                            server,
                            token,
                            400,
                            &[("Content-Type", TEXT)],
                            body.as_bytes(),
                        );
                    }
                };
                let interval = self.cfg.interval;
                let fresh = self
                    .last
                    .is_some_and(|(at, _)| !interval.is_zero() && at.elapsed() < interval);
                let req = InFlight {
                    token,
                    filtered,
                    // With --interval, a filtered request is answered from the last full
                    // collection (made now when it is stale), so it never spoils the cache.
                    filter_after: filtered && !interval.is_zero(),
                    gzip,
                    deadline,
                };
                if fresh && (!filtered || req.filter_after) {
                    return self.answer_collected(server, &req);
                }
                server.park(token);
                self.start_collection(req);
                (0, 0)
            }
            Route::Health => {
                let body = match self.last {
                    None => "{\"status\":\"ok\",\"last_scrape\":\"none\"}\n",
                    Some((_, true)) => "{\"status\":\"ok\",\"last_scrape\":\"success\"}\n",
                    Some((_, false)) => {
                        "{\"status\":\"ok\",\"last_scrape\":\"collector_failed\"}\n"
                    }
                };
                respond(
                    server,
                    token,
                    200,
                    &[("Content-Type", "application/json")],
                    body.as_bytes(),
                )
            }
            Route::Landing => {
                let page = match &self.scraper {
                    Some(s) => landing_page(&self.cfg, s, self.last.map(|(at, _)| at)),
                    None => BUSY_PAGE.to_string(),
                };
                respond(
                    server,
                    token,
                    200,
                    &[("Content-Type", "text/html; charset=utf-8")],
                    page.as_bytes(),
                )
            }
            Route::NotFound => respond(
                server,
                token,
                404,
                &[("Content-Type", TEXT)],
                b"404 not found\n",
            ),
            Route::MethodNotAllowed => respond(
                server,
                token,
                405,
                &[("Content-Type", TEXT), ("Allow", "GET, HEAD")],
                b"405 method not allowed: use GET or HEAD\n",
            ),
        }
    }
}

/// The landing page while a collection runs (the collectors' table is with it).
const BUSY_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>proctap</title></head>\n<body>\n<h1>proctap</h1>\n<p>A collection is running; this page lists the collectors once it is done. <a href=\"/health\">Health</a></p>\n</body></html>\n";

fn respond(
    server: &mut http::Server,
    token: Token,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, usize) {
    server.respond(token, status, headers, body);
    (status, body.len())
}

/// Why a `collect[]`/`exclude[]` query cannot be answered (node_exporter answers 400 too).
#[derive(Debug, PartialEq, Eq)]
pub enum FilterError<'a> {
    Unknown(&'a str),
    Disabled(&'a str),
    Both,
}

impl std::fmt::Display for FilterError<'_> {
    #[cfg_attr(proctap_size, optimize(size))]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FilterError::Unknown(n) => write!(f, "unknown collector {n:?}"),
            FilterError::Disabled(n) => write!(f, "collector {n:?} is not enabled"),
            FilterError::Both => f.write_str("collect[] and exclude[] cannot be combined"),
        }
    }
}

/// Reads node_exporter's `collect[]` (only these) and `exclude[]` (all but these) query
/// parameters into `only`, one entry per enabled collector; false when the query has neither.
pub fn selection<'a>(
    target: &'a str,
    enabled: &[usize],
    only: &mut Vec<bool>,
) -> Result<bool, FilterError<'a>> {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or("");
    let pairs = || {
        query.split('&').filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            if decoded_eq(k, "collect[]") {
                Some((true, v))
            } else if decoded_eq(k, "exclude[]") {
                Some((false, v))
            } else {
                None
            }
        })
    };
    let (mut collect, mut exclude) = (false, false);
    for (is_collect, _) in pairs() {
        collect |= is_collect;
        exclude |= !is_collect;
    }
    if collect && exclude {
        return Err(FilterError::Both);
    }
    only.clear();
    only.resize(enabled.len(), exclude);
    for (is_collect, name) in pairs() {
        let known = ALL.iter().position(|c| decoded_eq(name, c.name));
        let Some(i) = known else {
            return Err(FilterError::Unknown(name));
        };
        match enabled.iter().position(|&e| e == i) {
            Some(k) => {
                if let Some(slot) = only.get_mut(k) {
                    *slot = is_collect;
                }
            }
            // node_exporter refuses to collect a disabled collector; excluding one is a no-op.
            None if is_collect => return Err(FilterError::Disabled(name)),
            None => {}
        }
    }
    Ok(collect || exclude)
}

/// Whether the query component `raw`, percent-decoded (and `+` as space), equals `want`.
fn decoded_eq(raw: &str, want: &str) -> bool {
    let mut bytes = raw.bytes();
    let mut want = want.bytes();
    loop {
        let b = match bytes.next() {
            Some(b'%') => {
                let hex = |b: Option<u8>| b.and_then(|b| (b as char).to_digit(16));
                match (hex(bytes.next()), hex(bytes.next())) {
                    (Some(h), Some(l)) => (h * 16 + l) as u8,
                    _ => return false,
                }
            }
            Some(b'+') => b' ',
            Some(b) => b,
            None => return want.next().is_none(),
        };
        if want.next() != Some(b) {
            return false;
        }
    }
}

#[cfg_attr(proctap_size, optimize(size))]
fn web_has_tls(web: &Web) -> bool {
    #[cfg(feature = "tls")]
    return web.tls.is_some();
    #[cfg(not(feature = "tls"))]
    {
        let _ = web;
        false
    }
}

/// What a request asks for, decided from its method and path alone.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    Metrics,
    Health,
    Landing,
    NotFound,
    MethodNotAllowed,
}

pub fn route(method: Method, target: &str, telemetry_path: &str) -> Route {
    let path = target.split(['?', '#']).next().unwrap_or("");
    let route = if path == telemetry_path {
        Route::Metrics
    } else if path == "/health" {
        Route::Health
    } else if path == "/" {
        Route::Landing
    } else {
        return Route::NotFound;
    };
    match method {
        Method::Get | Method::Head => route,
        Method::Other => Route::MethodNotAllowed,
    }
}

#[cfg_attr(proctap_size, optimize(size))]
fn html_escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

/// The landing page: version, links, and each enabled collector with its last outcome.
#[cfg_attr(proctap_size, optimize(size))]
pub fn landing_page(cfg: &Config, scraper: &Scraper, last: Option<Instant>) -> String {
    let mut p = String::with_capacity(4096);
    p.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>proctap</title>\n\
         <style>body{font-family:sans-serif;max-width:46em;margin:2em auto;padding:0 1em}\
         table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:left;border-bottom:1px solid #ddd}\
         .ok{color:#070}.failed{color:#b00}</style></head>\n<body>\n",
    );
    let _ = write!(
        p,
        "<h1>proctap {}</h1>\n<p>A Prometheus exporter for this host. Revision {}, rustc {}.</p>\n<p><a href=\"",
        env!("CARGO_PKG_VERSION"),
        env!("PROCTAP_REVISION"),
        env!("PROCTAP_RUSTC")
    );
    html_escape(&mut p, &cfg.telemetry_path);
    p.push_str("\">Metrics</a> &middot; <a href=\"/health\">Health</a></p>\n<h2>Collectors</h2>\n");
    match last {
        Some(at) => {
            let _ = writeln!(
                p,
                "<p>Last collection {:.1} s ago.</p>",
                at.elapsed().as_secs_f64()
            );
        }
        None => p.push_str(
            "<p>No collection yet: the first scrape of the metrics page runs them.</p>\n",
        ),
    }
    p.push_str("<table>\n<tr><th>collector</th><th>last result</th><th>duration</th></tr>\n");
    for (o, &i) in scraper.outcomes.iter().zip(&scraper.enabled) {
        let Some(c) = ALL.get(i) else { continue };
        let (class, result) = match (last, o.ok) {
            (None, _) => ("", "not run yet"),
            (Some(_), true) => ("ok", "success"),
            (Some(_), false) => ("failed", "failed"),
        };
        let _ = write!(p, "<tr><td>{}</td><td class=\"{class}\">{result}", c.name);
        if let (Some(_), Some(e)) = (last, &o.error) {
            p.push_str(": ");
            html_escape(&mut p, e);
        }
        let _ = writeln!(p, "</td><td>{:.3} ms</td></tr>", o.seconds * 1000.0);
    }
    p.push_str("</table>\n</body></html>\n");
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scrape_deadline_is_prometheus_timeout_less_a_margin_at_most_the_flag() {
        let now = Instant::now();
        let flag = Duration::from_secs(10);
        let after = |h: Option<f64>| scrape_deadline(h, flag, now) - now;
        assert_eq!(after(None), flag);
        assert_eq!(after(Some(3.0)), Duration::from_millis(2500));
        assert_eq!(after(Some(1.0)), Duration::from_millis(500));
        assert_eq!(after(Some(60.0)), flag, "at most --web.scrape-timeout");
    }

    #[test]
    fn routes() {
        let m = "/metrics";
        assert_eq!(route(Method::Get, "/metrics", m), Route::Metrics);
        assert_eq!(route(Method::Head, "/metrics?x=1", m), Route::Metrics);
        assert_eq!(route(Method::Get, "/health", m), Route::Health);
        assert_eq!(route(Method::Get, "/", m), Route::Landing);
        assert_eq!(route(Method::Get, "/metricsx", m), Route::NotFound);
        assert_eq!(route(Method::Get, "/../metrics", m), Route::NotFound);
        assert_eq!(route(Method::Get, "/%6detrics", m), Route::NotFound);
        assert_eq!(route(Method::Other, "/metrics", m), Route::MethodNotAllowed);
        assert_eq!(route(Method::Other, "/nope", m), Route::NotFound);
        assert_eq!(route(Method::Get, "/custom", "/custom"), Route::Metrics);
        assert_eq!(route(Method::Get, "/metrics", "/custom"), Route::NotFound);
    }

    #[test]
    fn collect_and_exclude_queries() {
        let i = |n| crate::collector::by_name(n).unwrap();
        let enabled = [i("cpu"), i("loadavg"), i("meminfo")];
        let mut only = Vec::new();
        assert_eq!(selection("/metrics", &enabled, &mut only), Ok(false));
        assert_eq!(selection("/metrics?x=1&y", &enabled, &mut only), Ok(false));
        let q = "/metrics?collect[]=meminfo&collect%5b%5D=cpu";
        assert_eq!(selection(q, &enabled, &mut only), Ok(true));
        assert_eq!(only, [true, false, true]);
        let q = "/metrics?exclude%5B%5D=loadavg#frag";
        assert_eq!(selection(q, &enabled, &mut only), Ok(true));
        assert_eq!(only, [true, false, true]);
        assert_eq!(
            selection("/metrics?exclude[]=uname", &enabled, &mut only),
            Ok(true),
            "excluding a collector that is off is a no-op"
        );
        assert_eq!(only, [true, true, true]);
        assert_eq!(
            selection("/metrics?collect[]=uname", &enabled, &mut only),
            Err(FilterError::Disabled("uname"))
        );
        assert_eq!(
            selection(
                "/metrics?collect[]=cp%75&collect[]=gpu",
                &enabled,
                &mut only
            ),
            Err(FilterError::Unknown("gpu")),
            "cp%75 decodes to cpu"
        );
        assert_eq!(
            selection("/metrics?collect[]=cpu&exclude[]=cpu", &enabled, &mut only),
            Err(FilterError::Both)
        );
        assert!(
            !decoded_eq("cpu%", "cpu%"),
            "a broken escape matches nothing"
        );
        assert!(decoded_eq("a+b", "a b"));
    }

    #[test]
    fn landing_page_lists_collectors_and_escapes() {
        let cfg = cli::parse([
            "--collectors",
            "loadavg,meminfo",
            "--web.telemetry-path",
            "/m<x>",
        ])
        .unwrap();
        let mut scraper = scraper_for(&cfg).unwrap();
        let page = landing_page(&cfg, &scraper, None);
        assert!(
            page.contains("<a href=\"/m&lt;x&gt;\">Metrics</a>"),
            "{page}"
        );
        assert!(
            page.contains("<tr><td>loadavg</td><td class=\"\">not run yet</td>"),
            "{page}"
        );
        scraper.outcomes[1].error = Some("/proc/meminfo: <bad>".into());
        let page = landing_page(&cfg, &scraper, Some(Instant::now()));
        assert!(
            page.contains("<td class=\"failed\">failed: /proc/meminfo: &lt;bad&gt;</td>"),
            "{page}"
        );
    }
}
