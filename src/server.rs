//! The HTTP side: one loop on `recv_timeout` that routes, collects and answers, and the
//! SIGTERM/SIGINT handling that ends it after the request in flight.
use std::fmt::Write as _;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

use crate::cli::Config;
use crate::collector::{Scraper, ALL};
use crate::log;

pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Binds, logs the bound address, and serves until SIGTERM or SIGINT.
pub fn run(cfg: &Config, mut scraper: Scraper) -> io::Result<()> {
    install_signal_handlers();
    let server = Server::http(cfg.listen.as_str())
        .map_err(|e| io::Error::other(format!("cannot listen on {}: {e}", cfg.listen)))?;
    let addr = match server.server_addr().to_ip() {
        Some(a) => a.to_string(),
        None => cfg.listen.clone(),
    };
    log::info(
        "listening",
        &[("address", &addr), ("version", &env!("CARGO_PKG_VERSION"))],
    );
    let mut last_ok: Option<bool> = None;
    while !STOP.load(Ordering::SeqCst) {
        let request = match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                log::warn("accepting a request failed", &[("err", &e)]);
                continue;
            }
        };
        if let Err(e) = handle(request, cfg, &mut scraper, &mut last_ok) {
            log::log(
                log::Level::Debug,
                "writing a response failed",
                &[("err", &e)],
            );
        }
    }
    log::info("shutting down", &[]);
    Ok(())
}

/// A header from static ASCII text; `None` only if the text were not valid in a header.
fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn respond(request: Request, status: u16, content_type: &str, body: &[u8]) -> io::Result<()> {
    let mut headers = Vec::with_capacity(2);
    headers.extend(header("Content-Type", content_type));
    if status == 405 {
        headers.extend(header("Allow", "GET, HEAD"));
    }
    // The body is complete in memory: send Content-Length rather than chunks, which tiny_http
    // would otherwise use above 32 KiB.
    let response = Response::new(StatusCode(status), headers, body, Some(body.len()), None)
        .with_chunked_threshold(usize::MAX);
    request.respond(response)
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

pub fn route(method: &Method, url: &str, telemetry_path: &str) -> Route {
    let path = url.split(['?', '#']).next().unwrap_or("");
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
        _ => Route::MethodNotAllowed,
    }
}

fn handle(
    request: Request,
    cfg: &Config,
    scraper: &mut Scraper,
    last_ok: &mut Option<bool>,
) -> io::Result<()> {
    match route(request.method(), request.url(), &cfg.telemetry_path) {
        Route::Metrics => {
            *last_ok = Some(scraper.scrape());
            respond(request, 200, METRICS_CONTENT_TYPE, scraper.out.as_bytes())
        }
        Route::Health => {
            let body = match last_ok {
                None => "{\"status\":\"ok\",\"last_scrape\":\"none\"}\n",
                Some(true) => "{\"status\":\"ok\",\"last_scrape\":\"success\"}\n",
                Some(false) => "{\"status\":\"ok\",\"last_scrape\":\"collector_failed\"}\n",
            };
            respond(request, 200, "application/json", body.as_bytes())
        }
        Route::Landing => {
            let page = landing_page(cfg, scraper);
            respond(request, 200, "text/html; charset=utf-8", page.as_bytes())
        }
        Route::NotFound => respond(
            request,
            404,
            "text/plain; charset=utf-8",
            b"404 not found\n",
        ),
        Route::MethodNotAllowed => respond(
            request,
            405,
            "text/plain; charset=utf-8",
            b"405 method not allowed: use GET or HEAD\n",
        ),
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

pub fn landing_page(cfg: &Config, scraper: &Scraper) -> String {
    let mut p = String::with_capacity(2048);
    p.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>proctap</title></head>\n<body>\n");
    let _ = write!(
        p,
        "<h1>proctap {}</h1>\n<p>Revision {}, rustc {}.</p>\n<p><a href=\"",
        env!("CARGO_PKG_VERSION"),
        env!("PROCTAP_REVISION"),
        env!("PROCTAP_RUSTC")
    );
    html_escape(&mut p, &cfg.telemetry_path);
    p.push_str("\">Metrics</a> &middot; <a href=\"/health\">Health</a></p>\n");
    p.push_str("<h2>Enabled collectors</h2>\n<ul>\n");
    for &i in &scraper.enabled {
        if let Some(c) = ALL.get(i) {
            let _ = writeln!(p, "<li>{}</li>", c.name);
        }
    }
    p.push_str("</ul>\n</body></html>\n");
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let m = "/metrics";
        assert_eq!(route(&Method::Get, "/metrics", m), Route::Metrics);
        assert_eq!(route(&Method::Head, "/metrics?x=1", m), Route::Metrics);
        assert_eq!(route(&Method::Get, "/health", m), Route::Health);
        assert_eq!(route(&Method::Get, "/", m), Route::Landing);
        assert_eq!(route(&Method::Get, "/metricsx", m), Route::NotFound);
        assert_eq!(route(&Method::Get, "/../metrics", m), Route::NotFound);
        assert_eq!(route(&Method::Post, "/metrics", m), Route::MethodNotAllowed);
        assert_eq!(route(&Method::Delete, "/", m), Route::MethodNotAllowed);
        assert_eq!(route(&Method::Post, "/nope", m), Route::NotFound);
        assert_eq!(route(&Method::Get, "/custom", "/custom"), Route::Metrics);
        assert_eq!(route(&Method::Get, "/metrics", "/custom"), Route::NotFound);
    }

    #[test]
    fn header_helper_builds_valid_headers() {
        let h = header("Content-Type", METRICS_CONTENT_TYPE).unwrap();
        assert_eq!(h.field.as_str().as_str(), "Content-Type");
        assert_eq!(h.value.as_str(), METRICS_CONTENT_TYPE);
    }
}
