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
use crate::gzip::{self, Gzip};
use crate::http::{self, Method, Token};
use crate::listen;
use crate::log;
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
pub fn scraper_for(cfg: &Config) -> Result<Scraper, cli::CliError> {
    let opts = cfg.opts()?;
    let src = Source::new(cfg.procfs.clone(), cfg.sysfs.clone(), cfg.rootfs.clone());
    Ok(Scraper::new(Ctx::new(src, opts), cfg.enabled_collectors()))
}

/// What the loop keeps between requests.
struct Loop {
    cfg: Config,
    scraper: Scraper,
    /// When the output in `scraper.out` was collected, and whether every collector succeeded.
    last: Option<(Instant, bool)>,
    /// Made on the first request that takes gzip.
    gzip: Option<Gzip>,
    /// `scraper.out` gzipped, while `gzipped_fresh`: one compression per collection.
    gzipped: Vec<u8>,
    gzipped_fresh: bool,
    /// Whether the listener speaks TLS; fixed until a restart.
    tls: bool,
    #[cfg(feature = "tls")]
    auth: Option<crate::tls::Auth>,
}

/// The sockets to serve on: those systemd passed with `--web.systemd-socket`, else each listen
/// address bound (as node_exporter, every one; a failure on any stops the start).
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
    http::raise_fd_limit();
    let (sockets, given): (Vec<TcpListener>, Vec<String>) = listeners(&cfg)?.into_iter().unzip();
    #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
    let mut server = http::Server::new(sockets, http::Limits::default())?;
    let mut lp = Loop {
        cfg,
        scraper,
        last: None,
        gzip: None,
        gzipped: Vec::new(),
        gzipped_fresh: false,
        tls: false,
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
        if RELOAD.swap(false, Ordering::SeqCst) {
            lp.reload(&mut server, &args);
        }
        if let Some(token) = server.next_request(Duration::from_millis(200)) {
            lp.handle(&mut server, token);
        }
    }
    log::info("shutting down", &[]);
    // The request in flight was answered above; let its bytes reach the client.
    server.flush(Duration::from_millis(800));
    Ok(())
}

impl Loop {
    /// Applies a loaded web config: TLS for new connections, users for every request.
    #[cfg_attr(not(feature = "tls"), allow(unused_variables))]
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
                self.cfg = Config {
                    listen: self.cfg.listen.clone(),
                    systemd_socket: self.cfg.systemd_socket,
                    ..cfg
                };
                self.scraper = scraper;
                self.last = None;
                self.gzipped_fresh = false;
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

    fn handle(&mut self, server: &mut http::Server, token: Token) {
        let Some(req) = server.request(token) else {
            return;
        };
        let route = route(req.method, req.target, &self.cfg.telemetry_path);
        let gzip = req.accepts_gzip;
        // Every path, /health included, as node_exporter does: a probe can send the header too.
        if !self.authorized(req.authorization) {
            return server.respond(token, 401, UNAUTHORIZED, b"401 unauthorized\n");
        }
        match route {
            Route::Metrics => {
                let fresh = self.last.is_some_and(|(at, _)| {
                    !self.cfg.interval.is_zero() && at.elapsed() < self.cfg.interval
                });
                if !fresh {
                    let ok = self.scraper.scrape();
                    self.last = Some((Instant::now(), ok));
                    self.gzipped_fresh = false;
                }
                let body = self.scraper.out.as_bytes();
                if gzip {
                    let g = self.gzip.get_or_insert_with(|| Gzip::new(gzip::LEVEL));
                    if !self.gzipped_fresh {
                        self.gzipped_fresh = g.compress(body, &mut self.gzipped);
                    }
                }
                if gzip && self.gzipped_fresh {
                    server.respond(token, 200, METRICS_GZIP, &self.gzipped);
                } else {
                    server.respond(token, 200, METRICS_PLAIN, body);
                }
            }
            Route::Health => {
                let body = match self.last {
                    None => "{\"status\":\"ok\",\"last_scrape\":\"none\"}\n",
                    Some((_, true)) => "{\"status\":\"ok\",\"last_scrape\":\"success\"}\n",
                    Some((_, false)) => {
                        "{\"status\":\"ok\",\"last_scrape\":\"collector_failed\"}\n"
                    }
                };
                server.respond(
                    token,
                    200,
                    &[("Content-Type", "application/json")],
                    body.as_bytes(),
                );
            }
            Route::Landing => {
                let page = landing_page(&self.cfg, &self.scraper, self.last.map(|(at, _)| at));
                server.respond(
                    token,
                    200,
                    &[("Content-Type", "text/html; charset=utf-8")],
                    page.as_bytes(),
                );
            }
            Route::NotFound => {
                server.respond(token, 404, &[("Content-Type", TEXT)], b"404 not found\n")
            }
            Route::MethodNotAllowed => server.respond(
                token,
                405,
                &[("Content-Type", TEXT), ("Allow", "GET, HEAD")],
                b"405 method not allowed: use GET or HEAD\n",
            ),
        }
    }
}

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
