//! `cpu`: /proc/stat `cpuN` lines → node_cpu_seconds_total{cpu,mode} and
//! node_cpu_guest_seconds_total{cpu,mode}; from /sys/devices/system/cpu, node_cpu_isolated{cpu}
//! and the Intel thermal throttle counters node_cpu_{package,core}_throttles_total; with
//! `--collector.cpu.info`, node_cpu_info and the flag and bug families from /proc/cpuinfo
//! (see cpuinfo.rs).
#[cfg(feature = "extras")]
use crate::collector::cpuinfo::{self, InfoOpts};
#[cfg(feature = "extras")]
use crate::collector::Pattern;
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What, ROOT_ONLY};
use crate::expo::{u64_str, Encoder, Kind};
use crate::flag::{CliError, Settings};
#[cfg(feature = "extras")]
use crate::flag::{Flag, Kind as FlagKind};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root, Source};

/// The columns of a `cpuN` line, in /proc/stat order.
pub const MODES: [&str; 10] = [
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guest_nice",
];
const IDLE: usize = 3;
const GUEST: usize = 8;
const GUEST_NICE: usize = 9;

/// A CPU whose idle time goes back by this many seconds or more was hot-unplugged and plugged in
/// again: its counters restart from what the kernel says (node_exporter's `jumpBackSeconds`).
pub const JUMP_BACK_SECONDS: f64 = 3.0;

/// CPU numbers above this are refused rather than sizing a table by them.
const MAX_CPU: u64 = 1 << 16;

/// Seconds per mode for one CPU, indexed like [`MODES`].
pub type Times = [f64; 10];

/// What the collector keeps between scrapes. All vectors are reused, so a scrape allocates only
/// when the number of CPUs grows.
#[derive(Default)]
pub struct State {
    /// The times last exported, indexed by CPU number.
    cpus: Vec<Times>,
    /// This scrape's times, indexed by CPU number.
    seen: Vec<Times>,
    /// Thermal throttle counts found this scrape, with the CPU they were read from:
    /// (package, count, cpu) and (package, core, count, cpu).
    packages: Vec<(u64, u64, u64)>,
    cores: Vec<(u64, u64, u64, u64)>,
    /// `--collector.cpu.info` (or one of its include patterns) given.
    #[cfg(feature = "extras")]
    info: Option<InfoOpts>,
}

impl State {
    #[cfg(not(feature = "extras"))]
    pub fn new(_: &Settings) -> Result<State, CliError> {
        Ok(State::default())
    }

    #[cfg(feature = "extras")]
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn new(s: &Settings) -> Result<State, CliError> {
        let flags = s.opt_regex("collector.cpu.info.flags-include")?;
        let bugs = s.opt_regex("collector.cpu.info.bugs-include")?;
        // As in node_exporter, an include pattern turns the info on.
        let on = s.switch("collector.cpu.info") || flags.is_some() || bugs.is_some();
        Ok(State {
            info: on.then(|| InfoOpts {
                flags: flags.map(Pattern::new),
                bugs: bugs.map(Pattern::new),
            }),
            ..State::default()
        })
    }
}

impl State {
    /// Reads the `cpuN` lines of /proc/stat and folds them into the exported times.
    ///
    /// Like node_exporter 1.5 (whose procfs keeps CPUs in a slice indexed by number), CPUs
    /// missing between two present ones are exported as all zeros, and a change in the number
    /// of CPUs restarts every counter. A counter that goes backwards keeps its last value,
    /// except that idle going back by [`JUMP_BACK_SECONDS`] or more restarts that CPU.
    pub fn update(&mut self, text: &str, user_hz: f64) -> Result<(), ParseError> {
        self.seen.clear();
        for line in cpu_lines(text) {
            let (cpu, ticks) = line?;
            let Some(cpu) = cpu else { continue };
            if self.seen.len() <= cpu {
                self.seen.resize(cpu + 1, [0.0; 10]);
            }
            if let Some(slot) = self.seen.get_mut(cpu) {
                for (s, t) in slot.iter_mut().zip(ticks) {
                    *s = t as f64 / user_hz;
                }
            }
        }
        if self.cpus.len() != self.seen.len() {
            self.cpus.clear();
            self.cpus.resize(self.seen.len(), [0.0; 10]);
        }
        for (old, new) in self.cpus.iter_mut().zip(&self.seen) {
            if old[IDLE] - new[IDLE] >= JUMP_BACK_SECONDS {
                *old = [0.0; 10];
            }
            for (o, &n) in old.iter_mut().zip(new) {
                if n >= *o {
                    *o = n;
                }
            }
        }
        Ok(())
    }

    /// The times to export, indexed by CPU number.
    pub fn cpus(&self) -> &[Times] {
        &self.cpus
    }
}

/// The `cpu` and `cpuN` lines of /proc/stat as (N, ticks per mode); N is `None` for the
/// all-CPU `cpu` line. Columns an old kernel does not have read as 0.
pub fn cpu_lines(
    text: &str,
) -> impl Iterator<Item = Result<(Option<usize>, [u64; 10]), ParseError>> + '_ {
    text.lines()
        .enumerate()
        // procfs skips lines without a value.
        .filter(|(_, line)| {
            line.starts_with("cpu") && line.split_ascii_whitespace().nth(1).is_some()
        })
        .map(|(i, line)| parse_cpu_line(line, i + 1))
}

fn parse_cpu_line(line: &str, n: usize) -> Result<(Option<usize>, [u64; 10]), ParseError> {
    let mut fields = line.split_ascii_whitespace();
    let name = fields.next().unwrap_or("");
    let id = match name.strip_prefix("cpu") {
        Some("") => None,
        Some(id) => match id.parse::<u64>() {
            Ok(id) if id < MAX_CPU => usize::try_from(id).ok(),
            _ => {
                return Err(ParseError::new(
                    n,
                    format!("expected `cpu` or `cpuN` with N below {MAX_CPU}, found {name:?}"),
                ))
            }
        },
        None => None,
    };
    let mut ticks = [0u64; 10];
    for (t, (field, mode)) in ticks.iter_mut().zip(fields.zip(MODES)) {
        *t = u64_at(field, n, mode)?;
    }
    Ok((id, ticks))
}

/// Calls `f` with each CPU number of a kernel CPU list such as `0-2,7` (the format of
/// /sys/devices/system/cpu/isolated); an empty list has none.
pub fn for_each_listed_cpu(text: &str, mut f: impl FnMut(u16)) -> Result<(), ParseError> {
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let bound = |s: &str| {
            s.parse::<u16>().map_err(|_| {
                ParseError::new(
                    1,
                    format!("expected a CPU number or range like 0-3, found {part:?}"),
                )
            })
        };
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (bound(a)?, bound(b)?),
            None => (bound(part)?, bound(part)?),
        };
        for cpu in first..=last {
            f(cpu);
        }
    }
    Ok(())
}

pub const COLLECTOR: Collector = Collector {
    name: "cpu",
    enabled_by_default: true,
    // The tiny build has no cpuinfo (cargo feature `extras`): compat.rs ignores these flags there.
    #[cfg(not(feature = "extras"))]
    flags: &[],
    #[cfg(feature = "extras")]
    flags: &[
        Flag::switch(
            "collector.cpu.info",
            "Export node_cpu_info from /proc/cpuinfo, one series per CPU labelled package, core, cpu, vendor, family, model, model_name, microcode, stepping and cachesize.",
        ),
        Flag::new(
            "collector.cpu.info.flags-include",
            FlagKind::OptRegex,
            "RE",
            "",
            "Export node_cpu_flag_info{flag} for the first CPU's flags that match (implies --collector.cpu.info).",
        )
        .unset_none(),
        Flag::new(
            "collector.cpu.info.bugs-include",
            FlagKind::OptRegex,
            "RE",
            "",
            "Export node_cpu_bug_info{bug} for the first CPU's bugs that match (implies --collector.cpu.info).",
        )
        .unset_none(),
    ],
    help_section: None,
    sources: Sources {
        reads: &[
            What::File(Root::Proc, "stat"),
            What::Dir(Root::Sys, "devices/system/cpu"),
            #[cfg(feature = "extras")]
            What::Optional(Root::Proc, "cpuinfo"),
        ],
        hint: ROOT_ONLY,
    },
    build: Build::New(|s| Ok(Box::new(State::new(s)?))),
};

impl Collect for State {
    fn collect(&mut self, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        collect(self, ctx, out)
    }
}

fn collect(st: &mut State, ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    #[cfg(feature = "extras")]
    if let Some(opts) = st.info.as_mut() {
        ctx.src.read(Root::Proc, &["cpuinfo"], &mut ctx.buf)?;
        cpuinfo::write(&ctx.buf, opts, out).map_err(|e| ctx.src.parse_error(e))?;
    }
    ctx.src.read(Root::Proc, &["stat"], &mut ctx.buf)?;
    st.update(&ctx.buf, ctx.user_hz)
        .map_err(|e| ctx.src.parse_error(e))?;
    let mut n = [0u8; 20];
    let families = [
        (
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
            0..GUEST,
        ),
        (
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            GUEST..GUEST_NICE + 1,
        ),
    ];
    for (name, help, modes) in families {
        out.family(name, help, Kind::Counter);
        for (cpu, times) in st.cpus().iter().enumerate() {
            let cpu = u64_str(&mut n, cpu as u64);
            for m in modes.clone() {
                let (Some(&v), Some(&mode)) = (times.get(m), MODES.get(m)) else {
                    continue;
                };
                // Guest time is also in user and nice; node_exporter names its modes that way.
                let mode = match mode {
                    "guest" => "user",
                    "guest_nice" => "nice",
                    mode => mode,
                };
                out.f64(&[("cpu", cpu), ("mode", mode)], v);
            }
        }
    }
    isolated(ctx, out)?;
    thermal_throttle(st, ctx, out);
    Ok(())
}

fn isolated(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    let path = ["devices/system/cpu/isolated"];
    // Checking first keeps the usual "not there" case free of the error's allocation.
    if !ctx.src.path(Root::Sys, &path).exists() {
        return Ok(());
    }
    ctx.src.read(Root::Sys, &path, &mut ctx.buf)?;
    let mut any = false;
    for_each_listed_cpu(&ctx.buf, |_| any = true).map_err(|e| ctx.src.parse_error(e))?;
    if any {
        out.family(
            "node_cpu_isolated",
            "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
            Kind::Gauge,
        );
        let mut n = [0u8; 20];
        for_each_listed_cpu(&ctx.buf, |cpu| {
            out.u64(&[("cpu", u64_str(&mut n, u64::from(cpu)))], 1);
        })
        .map_err(|e| ctx.src.parse_error(e))?;
    }
    Ok(())
}

/// Whether `cpu{a}` sorts before `cpu{b}` by name, as a directory glob returns them.
fn name_sorts_before(a: u64, b: u64) -> bool {
    let (mut x, mut y) = ([0u8; 20], [0u8; 20]);
    u64_str(&mut x, a) < u64_str(&mut y, b)
}

/// Reads a file holding one unsigned integer; like node_exporter, any failure means "absent".
fn read_u64(src: &mut Source, buf: &mut String, rel: &[&str]) -> Option<u64> {
    // Checking first keeps the common "not there" case free of the error's allocation.
    if !src.path(Root::Sys, rel).exists() {
        return None;
    }
    src.read(Root::Sys, rel, buf).ok()?;
    buf.trim().parse().ok()
}

/// node_cpu_package_throttles_total and node_cpu_core_throttles_total from
/// /sys/devices/system/cpu/cpuN/thermal_throttle (Intel only).
///
/// node_exporter globs `cpu[0-9]*` and takes each package's and core's count from the first
/// CPU in name order (cpu10 before cpu2) that has it. We visit the CPUs /proc/stat knows
/// instead, which avoids listing the directory on every scrape (offline CPUs have neither
/// topology nor thermal_throttle), and keep the count of the CPU whose name sorts first.
fn thermal_throttle(st: &mut State, ctx: &mut Ctx, out: &mut Encoder) {
    st.packages.clear();
    st.cores.clear();
    let dir = "devices/system/cpu/cpu";
    let buf = &mut ctx.buf;
    let mut n = [0u8; 20];
    for cpu in 0..st.cpus.len() as u64 {
        let name = u64_str(&mut n, cpu);
        if !ctx
            .src
            .path(Root::Sys, &[dir, name, "/thermal_throttle"])
            .exists()
        {
            continue;
        }
        let Some(package) = read_u64(
            &mut ctx.src,
            buf,
            &[dir, name, "/topology/physical_package_id"],
        ) else {
            continue;
        };
        let Some(core) = read_u64(&mut ctx.src, buf, &[dir, name, "/topology/core_id"]) else {
            continue;
        };
        let file = "/thermal_throttle/core_throttle_count";
        match st.cores.iter_mut().find(|t| t.0 == package && t.1 == core) {
            Some(t) if !name_sorts_before(cpu, t.3) => {}
            found => {
                if let Some(count) = read_u64(&mut ctx.src, buf, &[dir, name, file]) {
                    match found {
                        Some(t) => *t = (package, core, count, cpu),
                        None => st.cores.push((package, core, count, cpu)),
                    }
                }
            }
        }
        let file = "/thermal_throttle/package_throttle_count";
        match st.packages.iter_mut().find(|t| t.0 == package) {
            Some(t) if !name_sorts_before(cpu, t.2) => {}
            found => {
                if let Some(count) = read_u64(&mut ctx.src, buf, &[dir, name, file]) {
                    match found {
                        Some(t) => *t = (package, count, cpu),
                        None => st.packages.push((package, count, cpu)),
                    }
                }
            }
        }
    }
    let mut m = [0u8; 20];
    if !st.packages.is_empty() {
        out.family(
            "node_cpu_package_throttles_total",
            "Number of times this CPU package has been throttled.",
            Kind::Counter,
        );
        for &(package, count, _) in &st.packages {
            out.u64(&[("package", u64_str(&mut n, package))], count);
        }
    }
    if !st.cores.is_empty() {
        out.family(
            "node_cpu_core_throttles_total",
            "Number of times this CPU core has been throttled.",
            Kind::Counter,
        );
        for &(package, core, count, _) in &st.cores {
            let labels = [
                ("core", u64_str(&mut m, core)),
                ("package", u64_str(&mut n, package)),
            ];
            out.u64(&labels, count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(text: &str) -> Vec<Times> {
        let mut st = State::default();
        st.update(text, 100.0).unwrap();
        st.cpus().to_vec()
    }

    #[test]
    fn cpu_lines_kernel_6_18_two_cpus() {
        // Captured on a 2-CPU VM, kernel 6.18.
        let text = "\
cpu  2743 0 2075 71880 421 0 34 29 0 0
cpu0 966 0 763 36844 28 0 6 11 0 0
cpu1 1777 0 1311 35035 393 0 27 17 0 0
intr 145176 0 0 0
ctxt 285229
";
        let lines: Vec<_> = cpu_lines(text).map(Result::unwrap).collect();
        assert_eq!(
            lines,
            [
                (None, [2743, 0, 2075, 71880, 421, 0, 34, 29, 0, 0]),
                (Some(0), [966, 0, 763, 36844, 28, 0, 6, 11, 0, 0]),
                (Some(1), [1777, 0, 1311, 35035, 393, 0, 27, 17, 0, 0]),
            ]
        );
        let t = times(text);
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[1],
            [17.77, 0.0, 13.11, 350.35, 3.93, 0.0, 0.27, 0.17, 0.0, 0.0]
        );
    }

    #[test]
    fn one_cpu_with_guest_time_kept_in_user() {
        // Guest time is not subtracted from user and nice (node_exporter 1.5 does not either).
        let t = times("cpu  500 20 30 4000 5 6 7 8 90 10\ncpu0 500 20 30 4000 5 6 7 8 90 10\n");
        assert_eq!(t, [[5.0, 0.2, 0.3, 40.0, 0.05, 0.06, 0.07, 0.08, 0.9, 0.1]]);
    }

    #[test]
    fn old_kernel_missing_columns_read_as_zero() {
        // Linux 2.6.11 has no steal/guest columns; OpenVZ guests lack guest.
        let t = times("cpu0 100 200 300 400 500 600 700\n");
        assert_eq!(t, [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 0.0, 0.0, 0.0]]);
    }

    #[test]
    fn cpu_128_cpus_large_counters() {
        let mut text = String::from("cpu  1 1 1 1 1 1 1 1 1 1\n");
        for cpu in 0..128u64 {
            // 2^33 ticks and more: beyond 32 bits, exact in f64 after /100 within 1e-9.
            text.push_str(&format!(
                "cpu{cpu} {} 0 0 {} 0 0 0 0 0 0\n",
                cpu,
                8589934592 + cpu
            ));
        }
        let t = times(&text);
        assert_eq!(t.len(), 128);
        assert_eq!(t[127][0], 1.27);
        assert_eq!(t[127][IDLE], 85899347.19);
        assert_eq!(t[0][IDLE], 85899345.92);
    }

    #[test]
    fn offline_cpus_in_between_are_zero() {
        // node_exporter 1.5 (procfs 0.8) exports cpu1 and cpu3 as zeros here.
        let t = times("cpu0 1 2 3 4\ncpu2 1 2 3 4\ncpu4 100 0 0 0\n");
        assert_eq!(t.len(), 5);
        assert_eq!(t[1], [0.0; 10]);
        assert_eq!(t[3], [0.0; 10]);
        assert_eq!(t[4][0], 1.0);
    }

    #[test]
    fn counters_never_go_back_and_hotplug_restarts() {
        let mut st = State::default();
        st.update(
            "cpu0 1000 100 0 100000 0 0 0 0 50 5\ncpu1 1000 100 0 100000 0 0 0 0 0 0\n",
            100.0,
        )
        .unwrap();
        // cpu0: idle back 1 s and user back: both keep their last values.
        // cpu1: idle back 10 s: a hotplug, every counter restarts from the new values.
        st.update(
            "cpu0 900 100 0 99900 0 0 0 0 40 5\ncpu1 1000 100 0 99000 0 0 0 0 0 0\n",
            100.0,
        )
        .unwrap();
        assert_eq!(st.cpus()[0][0], 10.0);
        assert_eq!(st.cpus()[0][IDLE], 1000.0);
        assert_eq!(st.cpus()[0][GUEST], 0.5);
        assert_eq!(st.cpus()[1][IDLE], 990.0);
        // Idle back exactly 3 s restarts too.
        st.update(
            "cpu0 900 100 0 99700 0 0 0 0 40 5\ncpu1 1000 100 0 99000 0 0 0 0 0 0\n",
            100.0,
        )
        .unwrap();
        assert_eq!(st.cpus()[0][0], 9.0);
        assert_eq!(st.cpus()[0][IDLE], 997.0);
        assert_eq!(st.cpus()[0][GUEST], 0.4);
        // A different number of CPUs restarts all of them.
        st.update("cpu0 5 5 0 5 0 0 0 0 0 0\n", 100.0).unwrap();
        assert_eq!(
            st.cpus(),
            [[0.05, 0.05, 0.0, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]
        );
        // Growing again reuses the storage and keeps going forward.
        st.update("cpu0 6 5 0 6 0 0 0 0 0 0\ncpu1 1 1 1 1\n", 100.0)
            .unwrap();
        assert_eq!(st.cpus().len(), 2);
        assert_eq!(st.cpus()[0][0], 0.06);
    }

    #[test]
    fn cpu_empty_and_garbage() {
        assert_eq!(times(""), Vec::<Times>::new());
        let mut st = State::default();
        assert_eq!(
            st.update("cpu0 1 2 x 4\n", 100.0).unwrap_err().to_string(),
            "line 1: expected an unsigned integer for system, found \"x\""
        );
        assert_eq!(
            st.update("cpu 1\ncpuX 1 2\n", 100.0)
                .unwrap_err()
                .to_string(),
            "line 2: expected `cpu` or `cpuN` with N below 65536, found \"cpuX\""
        );
        assert!(st.update("cpu99999999999 1\n", 100.0).is_err());
    }

    #[test]
    fn cpu_names_sort_like_a_glob() {
        assert!(name_sorts_before(10, 2));
        assert!(name_sorts_before(1, 10));
        assert!(!name_sorts_before(7, 7));
        assert!(!name_sorts_before(3, 127));
    }

    #[test]
    fn cpu_lists() {
        let list = |s: &str| {
            let mut v = Vec::new();
            for_each_listed_cpu(s, |c| v.push(c)).map(|()| v)
        };
        assert_eq!(list("\n"), Ok(vec![]));
        assert_eq!(list("3\n"), Ok(vec![3]));
        assert_eq!(list("1-3,7,10-11\n"), Ok(vec![1, 2, 3, 7, 10, 11]));
        assert_eq!(
            list("1-x").unwrap_err().to_string(),
            "line 1: expected a CPU number or range like 0-3, found \"1-x\""
        );
    }

    #[test]
    fn collect_fixtures() {
        let mut ctx = crate::collector::fixture_ctx();
        ctx.user_hz = 100.0;
        let mut st = State::default();
        let mut out = Encoder::new();
        st.collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        for want in [
            "# TYPE node_cpu_seconds_total counter\n",
            "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 45127654.32\n",
            "node_cpu_seconds_total{cpu=\"3\",mode=\"steal\"} 0\n",
            "node_cpu_guest_seconds_total{cpu=\"2\",mode=\"user\"} 1234567.89\n",
            "node_cpu_guest_seconds_total{cpu=\"2\",mode=\"nice\"} 456.78\n",
            "node_cpu_isolated{cpu=\"3\"} 1\n",
            "node_cpu_package_throttles_total{package=\"0\"} 7\n",
            "node_cpu_core_throttles_total{core=\"0\",package=\"0\"} 3\n",
            "node_cpu_core_throttles_total{core=\"2\",package=\"0\"} 1\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert_eq!(text.matches("node_cpu_seconds_total{").count(), 32);
        assert_eq!(text.matches("node_cpu_core_throttles_total{").count(), 4);
        // A second scrape of the same files gives the same output.
        let first = out.as_bytes().to_vec();
        out.clear();
        st.collect(&mut ctx, &mut out).unwrap();
        assert_eq!(out.as_bytes(), first);
    }
}
