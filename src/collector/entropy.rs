//! `entropy`: /proc/sys/kernel/random/{entropy_avail,poolsize} → node_entropy_available_bits,
//! node_entropy_pool_size_bits.
use crate::collector::{Collector, Ctx, Sources, What, ROOT_ONLY};
use crate::expo::{Encoder, Kind};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

/// Parses a file holding one unsigned number, such as `256\n`.
pub fn parse_bits(text: &str, what: &str) -> Result<u64, ParseError> {
    u64_at(text.trim(), 1, what)
}

pub const COLLECTOR: Collector = Collector::plain(
    "entropy",
    collect,
    Sources {
        reads: &[
            What::File(Root::Proc, "sys/kernel/random/entropy_avail"),
            What::File(Root::Proc, "sys/kernel/random/poolsize"),
        ],
        hint: ROOT_ONLY,
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    let families = [
        (
            "entropy_avail",
            "node_entropy_available_bits",
            "Bits of available entropy.",
        ),
        (
            "poolsize",
            "node_entropy_pool_size_bits",
            "Bits of entropy pool.",
        ),
    ];
    for (file, name, help) in families {
        ctx.src
            .read(Root::Proc, &["sys/kernel/random/", file], &mut ctx.buf)?;
        let bits = parse_bits(&ctx.buf, file).map_err(|e| ctx.src.parse_error(e))?;
        out.family(name, help, Kind::Gauge);
        out.u64(&[], bits);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    #[test]
    fn entropy_kernel_6_18() {
        // Since 5.18 both files always read 256.
        assert_eq!(parse_bits("256\n", "entropy_avail"), Ok(256));
        // Before 5.18 the pool was 4096 bits and entropy_avail varied.
        assert_eq!(parse_bits("3804\n", "entropy_avail"), Ok(3804));
    }

    #[test]
    fn entropy_garbage() {
        assert_eq!(
            parse_bits("", "poolsize").unwrap_err().to_string(),
            "line 1: expected an unsigned integer for poolsize, found \"\""
        );
        assert_eq!(
            parse_bits("-1\n", "entropy_avail").unwrap_err().to_string(),
            "line 1: expected an unsigned integer for entropy_avail, found \"-1\""
        );
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out.as_bytes().to_vec()).unwrap(),
            "\
# HELP node_entropy_available_bits Bits of available entropy.
# TYPE node_entropy_available_bits gauge
node_entropy_available_bits 256
# HELP node_entropy_pool_size_bits Bits of entropy pool.
# TYPE node_entropy_pool_size_bits gauge
node_entropy_pool_size_bits 256
"
        );
    }

    #[test]
    fn collect_missing_file_names_it() {
        let src = Source::new(
            "/nonexistent-proctap/proc".into(),
            "/nonexistent-proctap/sys".into(),
            "/".into(),
        );
        let mut ctx = Ctx::new(src);
        let e = collect(&mut ctx, &mut Encoder::new()).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("/nonexistent-proctap/proc/sys/kernel/random/entropy_avail: "));
    }
}
