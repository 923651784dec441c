//! `time`: node_time_seconds, node_time_zone_offset_seconds{time_zone} from the clock and the
//! local time zone, and node_time_clocksource_{available,current}_info{clocksource,device} from
//! /sys/devices/system/clocksource/clocksource*/.
use std::ffi::CStr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::collector::{Collector, Ctx, Sources, What, ROOT_ONLY};
use crate::expo::{u64_str, Encoder, Kind};
use crate::source::{Error, Root};

const CLOCKSOURCE_DIR: &str = "devices/system/clocksource/clocksource";
/// A bound on the directories probed, against a strange sysfs.
const MAX_CLOCKSOURCES: u64 = 64;

/// The names in `available_clocksource` (`tsc hpet acpi_pm \n`).
pub fn parse_available(text: &str) -> impl Iterator<Item = &str> {
    text.split_ascii_whitespace()
}

// The libc crate marks musl's time_t deprecated ahead of a change to 64 bits; it already is 64
// bits on the targets we build, and localtime_r wants exactly this type.
#[allow(deprecated)]
type TimeT = libc::time_t;

/// Calls `f` with the seconds east of UTC and the abbreviation of the local time zone at `t`.
fn with_zone<R>(t: TimeT, f: impl FnOnce(i64, &str) -> R) -> R {
    // SAFETY: all-zero bytes are a valid `tm` (a null tm_zone is checked below).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the thread-safe variant.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return f(0, "UTC");
    }
    let name = if tm.tm_zone.is_null() {
        ""
    } else {
        // SAFETY: tm_zone points to a NUL-terminated name the C library keeps until the zone is
        // reloaded by a later tzset/localtime call; proctap makes none while `f` runs.
        unsafe { CStr::from_ptr(tm.tm_zone) }.to_str().unwrap_or("")
    };
    // c_long is i32 on the 32-bit ARM and MIPS boards proctap also runs on.
    #[allow(clippy::useless_conversion)]
    let offset = i64::from(tm.tm_gmtoff);
    f(offset, name)
}

pub const COLLECTOR: Collector = Collector::plain(
    "time",
    collect,
    Sources {
        reads: &[What::Optional(
            Root::Sys,
            "devices/system/clocksource/clocksource0/available_clocksource",
        )],
        hint: ROOT_ONLY,
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    out.family(
        "node_time_seconds",
        "System time in seconds since epoch (1970).",
        Kind::Gauge,
    );
    out.f64(&[], now.as_nanos() as f64 / 1e9);

    let secs = TimeT::try_from(now.as_secs()).unwrap_or(TimeT::MAX);
    out.family(
        "node_time_zone_offset_seconds",
        "System time zone offset in seconds.",
        Kind::Gauge,
    );
    with_zone(secs, |offset, zone| out.i64(&[("time_zone", zone)], offset));

    // The kernel registers one clocksource device, clocksource0; node_exporter globs
    // `clocksource[0-9]*` and labels each by its index. Counting up from 0 until a directory is
    // missing finds the same ones without listing the directory, which would allocate.
    let mut n = [0u8; 20];
    let mut count = 0;
    while count < MAX_CLOCKSOURCES {
        let device = u64_str(&mut n, count);
        let rel = [CLOCKSOURCE_DIR, device, "/available_clocksource"];
        if !ctx.src.read_optional(Root::Sys, &rel, &mut ctx.buf)? {
            break;
        }
        if count == 0 {
            out.family(
                "node_time_clocksource_available_info",
                "Available clocksources read from '/sys/devices/system/clocksource'.",
                Kind::Gauge,
            );
        }
        for name in parse_available(&ctx.buf) {
            out.u64(&[("clocksource", name), ("device", device)], 1);
        }
        count += 1;
    }
    if count > 0 {
        out.family(
            "node_time_clocksource_current_info",
            "Current clocksource read from '/sys/devices/system/clocksource'.",
            Kind::Gauge,
        );
    }
    for i in 0..count {
        let device = u64_str(&mut n, i);
        let rel = [CLOCKSOURCE_DIR, device, "/current_clocksource"];
        ctx.src.read(Root::Sys, &rel, &mut ctx.buf)?;
        out.u64(&[("clocksource", ctx.buf.trim()), ("device", device)], 1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    #[test]
    fn available_kvm_guest_kernel_6_18() {
        let got: Vec<_> = parse_available("tsc kvm-clock \n").collect();
        assert_eq!(got, ["tsc", "kvm-clock"]);
        assert_eq!(parse_available("\n").count(), 0);
    }

    fn ctx_at(sys: &str) -> Ctx {
        let src = Source::new("/nonexistent".into(), sys.into(), "/".into());
        Ctx::new(src)
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = ctx_at(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sys"));
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        let tail = "\
# HELP node_time_clocksource_available_info Available clocksources read from '/sys/devices/system/clocksource'.
# TYPE node_time_clocksource_available_info gauge
node_time_clocksource_available_info{clocksource=\"tsc\",device=\"0\"} 1
node_time_clocksource_available_info{clocksource=\"hpet\",device=\"0\"} 1
node_time_clocksource_available_info{clocksource=\"acpi_pm\",device=\"0\"} 1
# HELP node_time_clocksource_current_info Current clocksource read from '/sys/devices/system/clocksource'.
# TYPE node_time_clocksource_current_info gauge
node_time_clocksource_current_info{clocksource=\"tsc\",device=\"0\"} 1
";
        assert!(text.ends_with(tail), "{text}");
        assert!(text.starts_with(
            "# HELP node_time_seconds System time in seconds since epoch (1970).\n# TYPE node_time_seconds gauge\nnode_time_seconds 1"
        ));
        assert!(text.contains("\nnode_time_zone_offset_seconds{time_zone=\""));
    }

    #[test]
    fn collect_device_is_the_index() {
        let dir = std::env::temp_dir().join(format!("proctap-time-{}", std::process::id()));
        for (i, cur) in ["tsc", "hpet"].iter().enumerate() {
            let d = dir.join(format!("{CLOCKSOURCE_DIR}{i}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("available_clocksource"), "tsc hpet\n").unwrap();
            std::fs::write(d.join("current_clocksource"), format!("{cur}\n")).unwrap();
        }
        let mut ctx = ctx_at(dir.to_str().unwrap());
        let mut out = Encoder::new();
        let ok = collect(&mut ctx, &mut out);
        // A device without current_clocksource fails the collector, as in node_exporter.
        std::fs::remove_file(dir.join(format!("{CLOCKSOURCE_DIR}1/current_clocksource"))).unwrap();
        let err = collect(&mut ctx, &mut Encoder::new()).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        ok.unwrap();
        assert!(
            err.to_string()
                .contains("clocksource1/current_clocksource: "),
            "{err}"
        );
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(
            text.ends_with(
                "node_time_clocksource_current_info{clocksource=\"tsc\",device=\"0\"} 1
node_time_clocksource_current_info{clocksource=\"hpet\",device=\"1\"} 1
"
            ),
            "{text}"
        );
        assert_eq!(
            text.matches("node_time_clocksource_available_info{")
                .count(),
            4
        );
    }

    #[test]
    fn collect_without_clocksource_dir() {
        let mut ctx = ctx_at("/nonexistent-proctap");
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert_eq!(text.matches("# TYPE").count(), 2, "{text}");
    }

    #[test]
    fn zone_of_the_epoch() {
        let (offset, zone) = with_zone(0, |o, z| (o, z.to_string()));
        assert!(offset.abs() <= 14 * 3600, "{offset}");
        assert!(!zone.is_empty());
    }
}
