//! `timex`: the kernel's clock discipline state from adjtimex(2) → node_timex_* as
//! node_exporter reports them (offset, frequency, errors, status, PPS counters, TAI offset,
//! sync status), plus node_timex_offset_overflow_total, which node_exporter added after 1.5.
//!
//! adjtimex with `modes = 0` only reads, so it needs no privilege; a seccomp profile that
//! refuses it fails this collector with EPERM, as node_exporter's does (it reports no data).
use std::io;

use crate::collector::{Build, Collect, Collector, Ctx, Sources};
use crate::expo::{Encoder, Kind};
use crate::source::Error;

/// adjtimex's return value when the clock is not synchronised (TIME_ERROR).
const TIME_ERROR: i32 = 5;
/// The `status` bit saying `offset` and `jitter` are in nanoseconds, not microseconds.
const STA_NANO: i64 = 0x2000;
/// `freq`, `ppsfreq` and `stabil` are in ppm with a 16-bit binary fraction (adjtimex(2) NOTES).
const PPM16FRAC: f64 = 1_000_000.0 * 65_536.0;
/// An |offset| above this many seconds is the kernel's overflow artefact (2^32 ns on some
/// KVM clocks), counted by node_timex_offset_overflow_total (node_exporter issue 3764).
const OVERFLOW_SECONDS: f64 = 4.0;

/// What adjtimex(2) returned: the clock state (its return value) and the `struct timex`
/// fields node_exporter exports, widened to i64 (they are `long` or `int`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Timex {
    pub state: i32,
    pub offset: i64,
    pub freq: i64,
    pub maxerror: i64,
    pub esterror: i64,
    pub status: i64,
    pub constant: i64,
    pub tick: i64,
    pub ppsfreq: i64,
    pub jitter: i64,
    pub shift: i64,
    pub stabil: i64,
    pub jitcnt: i64,
    pub calcnt: i64,
    pub errcnt: i64,
    pub stbcnt: i64,
    pub tai: i64,
}

impl Timex {
    /// `offset` and `jitter` are nanoseconds with STA_NANO, microseconds without.
    fn fine_unit(&self) -> f64 {
        if self.status & STA_NANO != 0 {
            1e9
        } else {
            1e6
        }
    }

    pub fn offset_seconds(&self) -> f64 {
        self.offset as f64 / self.fine_unit()
    }

    pub fn synchronised(&self) -> bool {
        self.state != TIME_ERROR
    }
}

/// Reads the clock state: adjtimex(2) with no modes set changes nothing.
pub fn read() -> io::Result<Timex> {
    // SAFETY: all-zero bytes are a valid `timex`, and modes 0 asks for a read only.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: `tx` is a valid, writable `timex` for the duration of the call.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return Err(io::Error::last_os_error());
    }
    // `long` is 32 bits on the ARM and MIPS boards proctap also runs on.
    #[allow(clippy::useless_conversion)]
    Ok(Timex {
        state,
        offset: i64::from(tx.offset),
        freq: i64::from(tx.freq),
        maxerror: i64::from(tx.maxerror),
        esterror: i64::from(tx.esterror),
        status: i64::from(tx.status),
        constant: i64::from(tx.constant),
        tick: i64::from(tx.tick),
        ppsfreq: i64::from(tx.ppsfreq),
        jitter: i64::from(tx.jitter),
        shift: i64::from(tx.shift),
        stabil: i64::from(tx.stabil),
        jitcnt: i64::from(tx.jitcnt),
        calcnt: i64::from(tx.calcnt),
        errcnt: i64::from(tx.errcnt),
        stbcnt: i64::from(tx.stbcnt),
        tai: i64::from(tx.tai),
    })
}

/// One exported value: an exact integer or seconds/ratios as a float.
enum Value {
    Int(i64),
    Float(f64),
}

/// Writes every node_timex_* family for `t`; `overflows` is the running count of readings
/// whose offset overflowed.
pub fn write(t: &Timex, overflows: u64, out: &mut Encoder) {
    use Value::{Float, Int};
    let fine = t.fine_unit();
    #[rustfmt::skip]
    let families: [(&str, &str, Kind, Value); 18] = [
        ("sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no).", Kind::Gauge, Int(i64::from(t.synchronised()))),
        ("offset_seconds", "Time offset in between local system and reference clock.", Kind::Gauge, Float(t.offset_seconds())),
        ("offset_overflow_total", "Count of adjtimex() offset readings indicating kernel overflow (|offset| > 4s). See https://github.com/prometheus/node_exporter/issues/3764", Kind::Counter, Int(i64::try_from(overflows).unwrap_or(i64::MAX))),
        ("frequency_adjustment_ratio", "Local clock frequency adjustment.", Kind::Gauge, Float(1.0 + t.freq as f64 / PPM16FRAC)),
        ("maxerror_seconds", "Maximum error in seconds.", Kind::Gauge, Float(t.maxerror as f64 / 1e6)),
        ("estimated_error_seconds", "Estimated error in seconds.", Kind::Gauge, Float(t.esterror as f64 / 1e6)),
        ("status", "Value of the status array bits.", Kind::Gauge, Int(t.status)),
        ("loop_time_constant", "Phase-locked loop time constant.", Kind::Gauge, Int(t.constant)),
        ("tick_seconds", "Seconds between clock ticks.", Kind::Gauge, Float(t.tick as f64 / 1e6)),
        ("pps_frequency_hertz", "Pulse per second frequency.", Kind::Gauge, Float(t.ppsfreq as f64 / PPM16FRAC)),
        ("pps_jitter_seconds", "Pulse per second jitter.", Kind::Gauge, Float(t.jitter as f64 / fine)),
        ("pps_shift_seconds", "Pulse per second interval duration.", Kind::Gauge, Int(t.shift)),
        ("pps_stability_hertz", "Pulse per second stability, average of recent frequency changes.", Kind::Gauge, Float(t.stabil as f64 / PPM16FRAC)),
        ("pps_jitter_total", "Pulse per second count of jitter limit exceeded events.", Kind::Counter, Int(t.jitcnt)),
        ("pps_calibration_total", "Pulse per second count of calibration intervals.", Kind::Counter, Int(t.calcnt)),
        ("pps_error_total", "Pulse per second count of calibration errors.", Kind::Counter, Int(t.errcnt)),
        ("pps_stability_exceeded_total", "Pulse per second count of stability limit exceeded events.", Kind::Counter, Int(t.stbcnt)),
        ("tai_offset_seconds", "International Atomic Time (TAI) offset.", Kind::Gauge, Int(t.tai)),
    ];
    for (name, help, kind, value) in families {
        out.family_parts(&["node_timex_", name], help, kind);
        match value {
            Int(v) => out.i64(&[], v),
            Float(v) => out.f64(&[], v),
        }
    }
}

pub const COLLECTOR: Collector = Collector {
    name: "timex",
    enabled_by_default: true,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[],
        hint: "adjtimex(2) needs no privilege; a seccomp profile may refuse it (EPERM)",
    },
    build: Build::New(|_| Ok(Box::<State>::default())),
};

/// Kept between scrapes: how many readings had an overflowed offset.
#[derive(Default)]
pub struct State {
    overflows: u64,
}

impl State {
    fn record(&mut self, t: &Timex) {
        if t.offset_seconds().abs() > OVERFLOW_SECONDS {
            self.overflows += 1;
        }
    }
}

impl Collect for State {
    fn collect(&mut self, _ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        let t = read().map_err(|err| Error::Io {
            path: "adjtimex(2)".into(),
            err,
        })?;
        self.record(&t);
        write(&t, self.overflows, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &Timex, overflows: u64) -> String {
        let mut out = Encoder::new();
        write(t, overflows, &mut out);
        String::from_utf8(out.as_bytes().to_vec()).unwrap()
    }

    fn value<'a>(text: &'a str, name: &str) -> &'a str {
        let prefix = format!("node_timex_{name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    }

    // A KVM guest, kernel 6.18, no NTP daemon: adjtimex returns TIME_ERROR with STA_UNSYNC
    // (0x40) set and the error bounds at their 16 s ceiling.
    const UNSYNCED_VM: Timex = Timex {
        state: 5,
        offset: 0,
        freq: 0,
        maxerror: 16_000_000,
        esterror: 16_000_000,
        status: 0x40,
        constant: 2,
        tick: 10_000,
        ppsfreq: 0,
        jitter: 0,
        shift: 0,
        stabil: 0,
        jitcnt: 0,
        calcnt: 0,
        errcnt: 0,
        stbcnt: 0,
        tai: 0,
    };

    #[test]
    fn unsynchronised_vm() {
        let t = text(&UNSYNCED_VM, 0);
        for (name, want) in [
            ("sync_status", "0"),
            ("offset_seconds", "0"),
            ("maxerror_seconds", "16"),
            ("estimated_error_seconds", "16"),
            ("status", "64"),
            ("loop_time_constant", "2"),
            ("tick_seconds", "0.01"),
            ("frequency_adjustment_ratio", "1"),
            ("offset_overflow_total", "0"),
        ] {
            assert_eq!(value(&t, name), want, "{name}");
        }
        assert_eq!(t.matches("# TYPE node_timex_").count(), 18);
        assert!(t.contains("# TYPE node_timex_pps_jitter_total counter\n"));
        assert!(t.contains("# TYPE node_timex_offset_seconds gauge\n"));
    }

    // chrony with a GPS PPS source: STA_PLL|STA_PPSFREQ|STA_PPSTIME|STA_PPSSIGNAL|STA_NANO
    // (0x2107), nanosecond offset, a frequency correction of -12.5 ppm, TAI-UTC 37 s.
    #[test]
    fn synchronised_with_pps_in_nanoseconds() {
        let t = Timex {
            state: 0,
            offset: -1_250,
            freq: -819_200,
            maxerror: 1_500,
            esterror: 2,
            status: 0x2107,
            constant: 4,
            tick: 10_000,
            ppsfreq: -819_200,
            jitter: 420,
            shift: 4,
            stabil: 6_554,
            jitcnt: 3,
            calcnt: 1_044,
            errcnt: 1,
            stbcnt: 2,
            tai: 37,
        };
        let out = text(&t, 7);
        for (name, want) in [
            ("sync_status", "1"),
            ("offset_seconds", "-1.25e-6"),
            ("frequency_adjustment_ratio", "0.9999875"),
            ("maxerror_seconds", "0.0015"),
            ("estimated_error_seconds", "2e-6"),
            ("status", "8455"),
            ("pps_frequency_hertz", "-1.25e-5"),
            ("pps_jitter_seconds", "4.2e-7"),
            ("pps_shift_seconds", "4"),
            ("pps_calibration_total", "1044"),
            ("pps_error_total", "1"),
            ("pps_stability_exceeded_total", "2"),
            ("tai_offset_seconds", "37"),
            ("offset_overflow_total", "7"),
        ] {
            assert_eq!(value(&out, name), want, "{name}");
        }
    }

    #[test]
    fn microsecond_offsets_without_sta_nano() {
        let t = Timex {
            offset: 25_000,
            jitter: 150,
            status: 0x1,
            ..Timex::default()
        };
        assert_eq!(t.offset_seconds(), 0.025);
        let out = text(&t, 0);
        assert_eq!(value(&out, "pps_jitter_seconds"), "0.00015");
    }

    #[test]
    fn overflowed_offsets_are_counted() {
        let mut st = State::default();
        let mut t = Timex {
            status: STA_NANO,
            ..Timex::default()
        };
        for offset in [4_294_967_296, 1_000, -4_294_967_296, 4_000_000_000] {
            t.offset = offset;
            st.record(&t);
        }
        assert_eq!(
            st.overflows, 2,
            "2^32 ns twice; 4.0 s is not above the limit"
        );
    }

    #[test]
    fn reads_this_kernel() {
        let t = read().expect("adjtimex with modes 0 needs no privilege");
        assert!((0..=5).contains(&t.state), "{t:?}");
        assert!(t.tick > 0, "{t:?}");
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        State::default().collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert_eq!(text.matches("# TYPE node_timex_").count(), 18);
    }
}
