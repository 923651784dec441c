//! `uname`: node_uname_info{domainname,machine,nodename,release,sysname,version} = 1 from the
//! uname(2) system call, as node_exporter does (so it reflects the running kernel, not a
//! fixture tree).
use std::borrow::Cow;

use crate::collector::{Collector, Ctx, Sources};
use crate::expo::{Encoder, Kind};
use crate::source::Error;

/// The text of a NUL-terminated `utsname` field; invalid UTF-8 is replaced, not an error.
pub fn field(chars: &[libc::c_char]) -> Cow<'_, str> {
    let len = chars.iter().position(|&c| c == 0).unwrap_or(chars.len());
    let chars = chars.get(..len).unwrap_or_default();
    // SAFETY: c_char and u8 have the same size and alignment, and every bit pattern is valid.
    let bytes = unsafe { std::slice::from_raw_parts(chars.as_ptr().cast::<u8>(), chars.len()) };
    String::from_utf8_lossy(bytes)
}

pub const COLLECTOR: Collector = Collector::plain(
    "uname",
    collect,
    Sources {
        reads: &[],
        hint: "",
    },
);

pub fn collect(_ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    // SAFETY: all-zero bytes are a valid utsname.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return Err(Error::Io {
            path: "uname(2)".into(),
            err: std::io::Error::last_os_error(),
        });
    }
    out.family(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        Kind::Gauge,
    );
    out.u64(
        &[
            ("domainname", &field(&uts.domainname)),
            ("machine", &field(&uts.machine)),
            ("nodename", &field(&uts.nodename)),
            ("release", &field(&uts.release)),
            ("sysname", &field(&uts.sysname)),
            ("version", &field(&uts.version)),
        ],
        1,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    fn chars(s: &[u8]) -> [libc::c_char; 65] {
        let mut out = [0 as libc::c_char; 65];
        for (o, &b) in out.iter_mut().zip(s) {
            *o = b as libc::c_char;
        }
        out
    }

    #[test]
    fn utsname_fields() {
        assert_eq!(field(&chars(b"Linux")), "Linux");
        assert_eq!(field(&chars(b"(none)")), "(none)");
        assert_eq!(field(&chars(b"")), "");
        assert_eq!(field(&chars(b"r\xffouter")), "r\u{fffd}outer");
        // A field that fills the array without a NUL is taken whole.
        let full = [b'a' as libc::c_char; 65];
        assert_eq!(field(&full).len(), 65);
    }

    #[test]
    fn collect_live_host() {
        let src = Source::new("/nonexistent".into(), "/nonexistent".into(), "/".into());
        let mut ctx = Ctx::new(src);
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(text.starts_with(
            "# HELP node_uname_info Labeled system information as provided by the uname system call.\n# TYPE node_uname_info gauge\nnode_uname_info{domainname=\""
        ));
        assert!(text.contains("\",sysname=\"Linux\",version=\""), "{text}");
        assert!(text.ends_with("\"} 1\n"));
    }
}
