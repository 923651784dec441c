//! proctap's modules compiled as a library for the fuzz targets: proctap is a binary crate, so
//! this crate root declares the same modules as src/main.rs (`crate::collector` etc. resolve the
//! same way) by path.
#![allow(dead_code, unused_imports)]

#[path = "../../src/cli.rs"]
mod cli;
#[path = "../../src/collector/mod.rs"]
mod collector;
#[path = "../../src/compat.rs"]
mod compat;
#[path = "../../src/config.rs"]
mod config;
#[path = "../../src/expo.rs"]
mod expo;
#[path = "../../src/flag.rs"]
mod flag;
#[path = "../../src/goflags.rs"]
mod goflags;
#[path = "../../src/http.rs"]
mod http;
#[path = "../../src/listen.rs"]
mod listen;
#[path = "../../src/log.rs"]
mod log;
#[path = "../../src/parse.rs"]
mod parse;
#[path = "../../src/parsers.rs"]
mod parsers;
#[path = "../../src/source.rs"]
mod source;
#[path = "../../src/yaml.rs"]
mod yaml;

pub use parsers::run;

/// The parser names, for `make fuzz`.
pub fn names() -> impl Iterator<Item = &'static str> {
    parsers::ALL.iter().map(|(n, _)| *n)
}
