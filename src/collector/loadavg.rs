//! `loadavg`: /proc/loadavg → node_load1, node_load5, node_load15.
use crate::collector::{Collector, Ctx, Sources, What, ROOT_ONLY};
use crate::expo::{Encoder, Kind};
use crate::parse::f64_at;
use crate::source::{Error, ParseError, Root};

/// Parses the first three fields of /proc/loadavg: `0.25 0.10 0.05 1/123 4567`.
pub fn parse_loadavg(text: &str) -> Result<[f64; 3], ParseError> {
    let mut fields = text.split_ascii_whitespace();
    let mut loads = [0.0; 3];
    for (slot, what) in loads.iter_mut().zip(["load1", "load5", "load15"]) {
        let field = fields.next().ok_or_else(|| {
            ParseError::new(1, format!("expected 3 load averages, {what} is missing"))
        })?;
        *slot = f64_at(field, 1, what)?;
    }
    Ok(loads)
}

pub const COLLECTOR: Collector = Collector::plain(
    "loadavg",
    collect,
    Sources {
        reads: &[What::File(Root::Proc, "loadavg")],
        hint: ROOT_ONLY,
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    ctx.src.read(Root::Proc, &["loadavg"], &mut ctx.buf)?;
    let loads = parse_loadavg(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
    let families = [
        ("node_load1", "1m load average."),
        ("node_load5", "5m load average."),
        ("node_load15", "15m load average."),
    ];
    for ((name, help), v) in families.into_iter().zip(loads) {
        out.family(name, help, Kind::Gauge);
        out.f64(&[], v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadavg_debian_6_1() {
        assert_eq!(
            parse_loadavg("0.52 0.58 0.59 2/1178 236534\n"),
            Ok([0.52, 0.58, 0.59])
        );
    }

    #[test]
    fn loadavg_garbage() {
        assert_eq!(
            parse_loadavg("").unwrap_err().to_string(),
            "line 1: expected 3 load averages, load1 is missing"
        );
        assert!(parse_loadavg("0.1 0.2").is_err());
        assert!(parse_loadavg("0.1 zero 0.3 1/2 3")
            .unwrap_err()
            .to_string()
            .contains("load5"));
    }
}
