//! `kernel_hung` (off by default, feature `server`): /proc/sys/kernel/hung_task_detect_count
//! (Linux 6.13+: how many tasks the hung-task detector has reported since boot) →
//! node_kernel_hung_task_detect_count, a counter, as newer node_exporter releases have it (1.5
//! has no such collector).
//! A kernel without the file (older, or CONFIG_DETECT_HUNG_TASK off) fails the collector
//! naming it, as in node_exporter.
use crate::collector::{Build, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

/// The file's one unsigned number.
pub fn parse_count(text: &str) -> Result<u64, ParseError> {
    u64_at(text.trim(), 1, "hung_task_detect_count")
}

pub const COLLECTOR: Collector = Collector {
    name: "kernel_hung",
    enabled_by_default: false,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::File(Root::Proc, "sys/kernel/hung_task_detect_count")],
        hint: "Linux 6.13 or later with CONFIG_DETECT_HUNG_TASK",
    },
    build: Build::Plain(collect),
};

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    ctx.src.read(
        Root::Proc,
        &["sys/kernel/hung_task_detect_count"],
        &mut ctx.buf,
    )?;
    let n = parse_count(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
    // node_exporter's help text ("Total number of interrupts serviced.") is a copy slip;
    // this one says what the number is.
    out.family(
        "node_kernel_hung_task_detect_count",
        "Total number of hung tasks the kernel has detected since boot.",
        Kind::Counter,
    );
    out.u64(&[], n);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_and_garbage() {
        assert_eq!(parse_count("0\n"), Ok(0));
        assert_eq!(parse_count("18446744073709551615\n"), Ok(u64::MAX));
        assert_eq!(
            parse_count("three\n").unwrap_err().to_string(),
            "line 1: expected an unsigned integer for hung_task_detect_count, found \"three\""
        );
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out.as_bytes().to_vec()).unwrap(),
            "# HELP node_kernel_hung_task_detect_count Total number of hung tasks the kernel has detected since boot.\n\
             # TYPE node_kernel_hung_task_detect_count counter\n\
             node_kernel_hung_task_detect_count 3\n"
        );
    }
}
