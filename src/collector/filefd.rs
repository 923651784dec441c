//! `filefd`: /proc/sys/fs/file-nr → node_filefd_allocated, node_filefd_maximum.
use crate::collector::{Collector, Ctx, Sources, What, ROOT_ONLY};
use crate::expo::{Encoder, Kind};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

/// Handles in use and the limit from /proc/sys/fs/file-nr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileNr {
    pub allocated: u64,
    pub maximum: u64,
}

/// Parses `allocated free maximum` (tab-separated; the middle field is always 0 since 2.6).
pub fn parse_file_nr(text: &str) -> Result<FileNr, ParseError> {
    let mut fields = text.split_ascii_whitespace();
    let (Some(allocated), Some(_unused), Some(maximum)) =
        (fields.next(), fields.next(), fields.next())
    else {
        let found = text.split_ascii_whitespace().count();
        return Err(ParseError::new(
            1,
            format!("expected 3 fields \"allocated free maximum\", found {found}"),
        ));
    };
    Ok(FileNr {
        allocated: u64_at(allocated, 1, "allocated")?,
        maximum: u64_at(maximum, 1, "maximum")?,
    })
}

pub const COLLECTOR: Collector = Collector::plain(
    "filefd",
    collect,
    Sources {
        reads: &[What::File(Root::Proc, "sys/fs/file-nr")],
        hint: ROOT_ONLY,
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    ctx.src
        .read(Root::Proc, &["sys/fs/file-nr"], &mut ctx.buf)?;
    let nr = parse_file_nr(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
    out.family(
        "node_filefd_allocated",
        "File descriptor statistics: allocated.",
        Kind::Gauge,
    );
    out.u64(&[], nr.allocated);
    out.family(
        "node_filefd_maximum",
        "File descriptor statistics: maximum.",
        Kind::Gauge,
    );
    out.u64(&[], nr.maximum);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_nr_kernel_6_18() {
        assert_eq!(
            parse_file_nr("414\t0\t2466170\n"),
            Ok(FileNr {
                allocated: 414,
                maximum: 2466170
            })
        );
    }

    #[test]
    fn file_nr_systemd_long_max() {
        // systemd ≥ 240 sets fs.file-max to LONG_MAX, beyond what an f64 holds exactly.
        assert_eq!(
            parse_file_nr("9184\t0\t9223372036854775807\n"),
            Ok(FileNr {
                allocated: 9184,
                maximum: 9223372036854775807
            })
        );
    }

    #[test]
    fn file_nr_garbage() {
        assert_eq!(
            parse_file_nr("").unwrap_err().to_string(),
            "line 1: expected 3 fields \"allocated free maximum\", found 0"
        );
        assert_eq!(
            parse_file_nr("414\t0\n").unwrap_err().to_string(),
            "line 1: expected 3 fields \"allocated free maximum\", found 2"
        );
        assert_eq!(
            parse_file_nr("414\t0\tmany\n").unwrap_err().to_string(),
            "line 1: expected an unsigned integer for maximum, found \"many\""
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
# HELP node_filefd_allocated File descriptor statistics: allocated.
# TYPE node_filefd_allocated gauge
node_filefd_allocated 2816
# HELP node_filefd_maximum File descriptor statistics: maximum.
# TYPE node_filefd_maximum gauge
node_filefd_maximum 9223372036854775807
"
        );
    }
}
