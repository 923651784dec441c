//! proctap: wiring only. Parse options, build the scraper, then serve or print one scrape.
// The static builds pass --cfg proctap_size: the code that runs once at start-up is compiled for
// size (DESIGN.md: "Size"); a stable build ignores it.
#![cfg_attr(proctap_size, feature(optimize_attribute))]
use std::io::Write;
use std::process::ExitCode;

#[cfg(test)]
mod alloc_count;
mod check;
mod cli;
mod collector;
mod compat;
mod config;
#[cfg(test)]
mod corrupt;
mod expo;
mod flag;
mod goflags;
mod guard;
mod gzip;
mod http;
mod listen;
mod log;
mod netlink;
mod parse;
#[cfg(test)]
mod parsers;
mod server;
mod source;
#[cfg(feature = "tls")]
mod tls;
mod webconfig;
mod yaml;

use cli::Command;

#[cfg_attr(proctap_size, optimize(size))]
fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let cfg = match cli::parse(args.iter().cloned()) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("proctap: {e}");
            return ExitCode::from(2);
        }
    };
    match cfg.command {
        Command::Help => {
            print!("{}", cli::help());
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            print!("{}", cli::version());
            return ExitCode::SUCCESS;
        }
        Command::Completion(shell) => {
            let words = cli::completion_words();
            match shell {
                cli::Shell::Words => println!("{}", words.join("\n")),
                cli::Shell::Bash | cli::Shell::Zsh => print!(
                    "{}",
                    compat::completion_script(shell == cli::Shell::Zsh, &words)
                ),
            }
            return ExitCode::SUCCESS;
        }
        Command::PrintConfig => {
            print!("{}", cfg.to_file());
            return ExitCode::SUCCESS;
        }
        Command::Subgroups => {
            return match collector::namedprocess::classify::Classifier::new(
                cfg.settings.path("proc-rules").as_deref(),
            ) {
                Ok(c) => match cfg.subgroups_group.as_deref() {
                    Some(g) if !c.groups().contains(&g) => {
                        eprintln!(
                            "proctap: unknown group {g:?}; the groups are {}",
                            c.groups().join(", ")
                        );
                        ExitCode::from(2)
                    }
                    group => {
                        print!("{}", c.print_table(group));
                        ExitCode::SUCCESS
                    }
                },
                Err(e) => {
                    eprintln!("proctap: {e}");
                    ExitCode::from(2)
                }
            };
        }
        Command::Serve | Command::Once | Command::Check => {}
    }
    log::init(cfg.log_level, cfg.log_json);
    cfg.log_compat();
    raise_nofile(&cfg);
    let mut scraper = match server::scraper_for(&cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("proctap: {e}");
            return ExitCode::from(2);
        }
    };
    if cfg.command == Command::Check {
        let mut report = String::new();
        let ok = check::report(
            &mut scraper,
            cfg.settings.path("collector.textfile.directory").as_deref(),
            &mut report,
        );
        print!("{report}");
        return if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    if cfg.command == Command::Once || !cfg.once_delay.is_zero() {
        if !cfg.once_delay.is_zero() {
            // process-exporter's -once-to-stdout-delay: a first collection, so that the
            // printed one has rates and new processes settled.
            scraper.scrape();
            std::thread::sleep(cfg.once_delay);
        }
        let ok = scraper.scrape();
        let mut stdout = std::io::stdout().lock();
        if stdout
            .write_all(scraper.out.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ExitCode::FAILURE;
        }
        return if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let web = match server::load_web(&cfg) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("proctap: {e}");
            return ExitCode::from(2);
        }
    };
    match server::run(cfg, scraper, web, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error("exiting", &[("err", &e)]);
            ExitCode::FAILURE
        }
    }
}

/// Raises the open files limit once, before the collectors are built, and leaves the HTTP
/// side's share (a waiting request each, and the listeners) out of what the namedprocess
/// collector may keep open between scrapes.
#[cfg_attr(proctap_size, optimize(size))]
fn raise_nofile(cfg: &cli::Config) {
    let (was, now) = source::raise_nofile_limit().unwrap_or((0, 0));
    // --web.max-requests 0 is no limit: then the HTTP server's own connection cap.
    let requests = match cfg.settings.count("web.max-requests") {
        0 => http::Limits::default().max_connections,
        n => n,
    };
    let listeners = cfg.settings.list("listen").len().max(1);
    source::reserve_fds(requests.saturating_add(listeners));
    log::log(
        log::Level::Debug,
        "open files limit raised to the hard limit",
        &[
            ("soft_was", &was),
            ("soft", &now),
            ("kept_cap", &source::kept_fd_cap()),
        ],
    );
}
