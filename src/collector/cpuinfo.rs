//! /proc/cpuinfo for the cpu collector's `--collector.cpu.info`: node_cpu_info{package, core,
//! cpu, vendor, family, model, model_name, microcode, stepping, cachesize} per CPU and, with
//! the include patterns, node_cpu_flag_info{flag} and node_cpu_bug_info{bug} of the first CPU,
//! as node_exporter 1.5 reports them.
//!
//! The file's shape depends on the architecture: x86 repeats `key : value` blocks starting at
//! `processor`; arm64 names its flags `Features`; 32-bit ARM kernels before 3.8 start with a
//! `Processor : <model>` line; MIPS starts with `system type` and names the model `cpu model`.
//! One parser reads them all; on x86 it gives exactly node_exporter's labels.
use crate::collector::Pattern;
use crate::expo::{Encoder, Kind};
use crate::source::ParseError;

/// The node_cpu_info labels of one CPU, borrowed from the text.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cpu<'a> {
    pub processor: u32,
    pub vendor: &'a str,
    pub family: &'a str,
    pub model: &'a str,
    pub model_name: &'a str,
    pub stepping: &'a str,
    pub microcode: &'a str,
    pub cache_size: &'a str,
    pub physical_id: &'a str,
    pub core_id: &'a str,
}

/// `key<tabs> : value` → (key, value). procfs splits at the first `": "`, so a key without a
/// value (`power management:`) has none.
fn key_value(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(": ")?;
    Some((key.trim(), value))
}

/// Go's `ParseUint(s, 0, 32)`: decimal, or `0x`/`0o`/`0b`/leading-`0` prefixed.
fn uint(s: &str, n: usize, key: &str) -> Result<u64, ParseError> {
    let bad = || {
        ParseError::new(
            n,
            format!("expected an unsigned integer for {key}, found {s:?}"),
        )
    };
    let v = crate::collector::netclass::parse_attr_int(s).map_err(|_| bad())?;
    u32::try_from(v).map(u64::from).map_err(|_| bad())
}

/// Checks the numeric fields procfs parses (and fails on).
fn check_number(key: &str, value: &str, n: usize) -> Result<(), ParseError> {
    match key {
        "siblings" | "cpu cores" | "cpuid level" | "clflush size" | "cache_alignment" => {
            uint(value, n, key).map(drop)
        }
        "cpu MHz" | "bogomips" | "BogoMIPS" => value.parse::<f64>().map(drop).map_err(|_| {
            ParseError::new(n, format!("expected a number for {key}, found {value:?}"))
        }),
        _ => Ok(()),
    }
}

/// The CPUs of /proc/cpuinfo in file order. A `Processor` or `system type` line before the
/// first CPU gives every CPU its model name or vendor; a file with such a line but no
/// `processor` line describes one CPU, number 0.
pub fn parse_cpuinfo(text: &str) -> impl Iterator<Item = Result<Cpu<'_>, ParseError>> {
    let mut lines = text.lines().enumerate().peekable();
    let mut common = Cpu::default();
    let mut yielded = false;
    let mut started = false;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        if !started {
            started = true;
            while lines.peek().is_some_and(|(_, l)| l.trim().is_empty()) {
                lines.next();
            }
            let first = lines.peek().copied();
            let known = first
                .and_then(|(_, l)| key_value(l))
                .is_some_and(|(k, _)| matches!(k, "processor" | "Processor" | "system type"));
            if !known {
                done = true;
                let (n, line) = first.unwrap_or((0, ""));
                return first.map(|_| {
                    Err(ParseError::new(
                        n + 1,
                        format!("expected `processor : N` first, found {line:?}"),
                    ))
                });
            }
        }
        let mut cpu: Option<Cpu> = None;
        while let Some(&(i, line)) = lines.peek() {
            let Some((key, value)) = key_value(line) else {
                lines.next();
                continue;
            };
            if key == "processor" && cpu.is_some() {
                break;
            }
            lines.next();
            let r: Result<(), ParseError> = (|| {
                check_number(key, value, i + 1)?;
                match key {
                    "processor" => {
                        let processor = u32::try_from(uint(value, i + 1, key)?).unwrap_or(0);
                        cpu = Some(Cpu {
                            processor,
                            ..common
                        });
                    }
                    "Processor" if cpu.is_none() => common.model_name = value,
                    "system type" => common.vendor = value,
                    _ => {}
                }
                let Some(c) = cpu.as_mut() else {
                    return Ok(());
                };
                let slot = match key {
                    "vendor_id" | "vendor" | "system type" => &mut c.vendor,
                    "cpu family" => &mut c.family,
                    "model" => &mut c.model,
                    "model name" | "cpu model" | "isa" => &mut c.model_name,
                    "stepping" => &mut c.stepping,
                    "microcode" => &mut c.microcode,
                    "cache size" => &mut c.cache_size,
                    "physical id" => &mut c.physical_id,
                    "core id" | "hart" => &mut c.core_id,
                    _ => return Ok(()),
                };
                *slot = value;
                Ok(())
            })();
            if let Err(e) = r {
                done = true;
                return Some(Err(e));
            }
        }
        match cpu {
            Some(c) => {
                yielded = true;
                Some(Ok(c))
            }
            None if !yielded && common != Cpu::default() => {
                done = true;
                Some(Ok(common))
            }
            None => None,
        }
    })
}

/// The words of the first `key : words` line of the file (`flags`, `Features`, `bugs`).
pub fn first_list<'a>(text: &'a str, keys: &[&str]) -> impl Iterator<Item = &'a str> {
    text.lines()
        .filter_map(key_value)
        .find(|(k, _)| keys.contains(k))
        .map(|(_, v)| v)
        .unwrap_or("")
        .split_ascii_whitespace()
}

/// What `--collector.cpu.info` and its include patterns ask for.
#[derive(Debug, Clone, Default)]
pub struct InfoOpts {
    pub flags: Option<Pattern>,
    pub bugs: Option<Pattern>,
}

/// Writes node_cpu_info and the flag and bug families asked for. The text must have parsed.
pub fn write(text: &str, opts: &mut InfoOpts, out: &mut Encoder) -> Result<(), ParseError> {
    for cpu in parse_cpuinfo(text) {
        cpu?;
    }
    out.family(
        "node_cpu_info",
        "CPU information from /proc/cpuinfo.",
        Kind::Gauge,
    );
    let mut n = [0u8; 20];
    for cpu in parse_cpuinfo(text).flatten() {
        out.u64(
            &[
                ("package", cpu.physical_id),
                ("core", cpu.core_id),
                (
                    "cpu",
                    crate::expo::u64_str(&mut n, u64::from(cpu.processor)),
                ),
                ("vendor", cpu.vendor),
                ("family", cpu.family),
                ("model", cpu.model),
                ("model_name", cpu.model_name),
                ("microcode", cpu.microcode),
                ("stepping", cpu.stepping),
                ("cachesize", cpu.cache_size),
            ],
            1,
        );
    }
    let lists = [
        (
            &mut opts.flags,
            &["flags", "Features"][..],
            "node_cpu_flag_info",
            "The `flags` field of CPU information from /proc/cpuinfo taken from the first core.",
            "flag",
        ),
        (
            &mut opts.bugs,
            &["bugs"][..],
            "node_cpu_bug_info",
            "The `bugs` field of CPU information from /proc/cpuinfo taken from the first core.",
            "bug",
        ),
    ];
    for (pattern, keys, name, help, label) in lists {
        let Some(pattern) = pattern else { continue };
        let mut first = true;
        for (i, word) in first_list(text, keys).enumerate() {
            // A word listed twice would be a duplicate series.
            if first_list(text, keys).take(i).any(|w| w == word) || !pattern.is_match(word) {
                continue;
            }
            if first {
                out.family(name, help, Kind::Gauge);
                first = false;
            }
            out.u64(&[(label, word)], 1);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_lite::Regex;

    fn cpus(text: &str) -> Vec<Cpu<'_>> {
        parse_cpuinfo(text).map(Result::unwrap).collect()
    }

    // Two CPUs of an Intel N100 mini PC, kernel 6.8 (flags shortened).
    const X86_N100: &str = "processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 190
model name\t: Intel(R) N100
stepping\t: 0
microcode\t: 0x15
cpu MHz\t\t: 700.021
cache size\t: 6144 KB
physical id\t: 0
siblings\t: 4
core id\t\t: 0
cpu cores\t: 4
flags\t\t: fpu vme de pse tsc msr sse sse2 ht avx2 sha_ni
bugs\t\t: spectre_v1 spectre_v2 spec_store_bypass
bogomips\t: 1612.80
power management:

processor\t: 1
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 190
model name\t: Intel(R) N100
stepping\t: 0
microcode\t: 0x15
cpu MHz\t\t: 3400.000
cache size\t: 6144 KB
physical id\t: 0
core id\t\t: 1
flags\t\t: fpu vme de
bugs\t\t:
";

    #[test]
    fn x86() {
        let got = cpus(X86_N100);
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[1],
            Cpu {
                processor: 1,
                vendor: "GenuineIntel",
                family: "6",
                model: "190",
                model_name: "Intel(R) N100",
                stepping: "0",
                microcode: "0x15",
                cache_size: "6144 KB",
                physical_id: "0",
                core_id: "1",
            }
        );
        let flags: Vec<_> = first_list(X86_N100, &["flags"]).collect();
        assert_eq!(flags.len(), 11, "the first CPU's");
        assert_eq!(first_list(X86_N100, &["bugs"]).count(), 3);
    }

    // A Raspberry Pi 4, 64-bit kernel 6.6: no vendor or model name, `Features` for flags.
    const ARM64_PI4: &str = "processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

processor\t: 1
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41

Hardware\t: BCM2835
Revision\t: c03111
Serial\t\t: 10000000a1b2c3d4
Model\t\t: Raspberry Pi 4 Model B Rev 1.1
";

    // An old single-core ARMv6 board (kernel 3.2): the model first, no `processor` line.
    const ARMV6_OLD: &str = "Processor\t: ARMv6-compatible processor rev 7 (v6l)
BogoMIPS\t: 697.95
Features\t: swp half thumb fastmult vfp edsp java tls
CPU implementer\t: 0x41
Hardware\t: BCM2708
";

    // A MIPS router SoC (MT7621, OpenWrt, kernel 5.15).
    const MIPS_MT7621: &str = "system type\t\t: MediaTek MT7621 ver:1 eco:3
machine\t\t\t: Xiaomi Mi Router 4A Gigabit Edition
processor\t\t: 0
cpu model\t\t: MIPS 1004Kc V2.15
BogoMIPS\t\t: 586.13

processor\t\t: 1
cpu model\t\t: MIPS 1004Kc V2.15
BogoMIPS\t\t: 586.13
";

    #[test]
    fn other_architectures() {
        let pi = cpus(ARM64_PI4);
        assert_eq!((pi.len(), pi[1].processor, pi[1].model_name), (2, 1, ""));
        assert_eq!(first_list(ARM64_PI4, &["flags", "Features"]).count(), 5);
        let old = cpus(ARMV6_OLD);
        assert_eq!(old.len(), 1);
        assert_eq!(old[0].model_name, "ARMv6-compatible processor rev 7 (v6l)");
        let mips = cpus(MIPS_MT7621);
        assert_eq!(mips.len(), 2);
        assert_eq!(mips[1].vendor, "MediaTek MT7621 ver:1 eco:3");
        assert_eq!(mips[1].model_name, "MIPS 1004Kc V2.15");
    }

    #[test]
    fn garbage() {
        let err = |t| parse_cpuinfo(t).find_map(Result::err).unwrap().to_string();
        assert_eq!(
            err("\n\nhello\n"),
            "line 3: expected `processor : N` first, found \"hello\""
        );
        assert_eq!(
            err("processor\t: zero\n"),
            "line 1: expected an unsigned integer for processor, found \"zero\""
        );
        assert_eq!(
            err("processor\t: 0\ncpu MHz\t\t: fast\n"),
            "line 2: expected a number for cpu MHz, found \"fast\""
        );
        assert_eq!(
            err("processor\t: 4294967296\n"),
            "line 1: expected an unsigned integer for processor, found \"4294967296\""
        );
        assert!(cpus("").is_empty());
        // 128 CPUs.
        let many: String = (0..128)
            .map(|i| format!("processor\t: {i}\ncore id\t\t: {}\n\n", i % 64))
            .collect();
        let got = cpus(&many);
        assert_eq!(
            (got.len(), got[127].processor, got[127].core_id),
            (128, 127, "63")
        );
    }

    fn written(text: &str, flags: Option<&str>, bugs: Option<&str>) -> String {
        let p = |s: &str| Pattern::new(Regex::new(s).unwrap());
        let mut opts = InfoOpts {
            flags: flags.map(p),
            bugs: bugs.map(p),
        };
        let mut out = Encoder::new();
        write(text, &mut opts, &mut out).unwrap();
        String::from_utf8(out.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn families() {
        let t = written(X86_N100, None, None);
        assert!(t.contains("node_cpu_info{package=\"0\",core=\"1\",cpu=\"1\",vendor=\"GenuineIntel\",family=\"6\",model=\"190\",model_name=\"Intel(R) N100\",microcode=\"0x15\",stepping=\"0\",cachesize=\"6144 KB\"} 1\n"), "{t}");
        assert!(!t.contains("flag_info") && !t.contains("bug_info"));
        let t = written(X86_N100, Some("^(avx2|sha_ni)$"), Some("spectre"));
        assert!(t.contains("# TYPE node_cpu_flag_info gauge\nnode_cpu_flag_info{flag=\"avx2\"} 1\nnode_cpu_flag_info{flag=\"sha_ni\"} 1\n"), "{t}");
        assert!(t.contains("node_cpu_bug_info{bug=\"spectre_v1\"} 1\nnode_cpu_bug_info{bug=\"spectre_v2\"} 1\n"), "{t}");
        assert!(!t.contains("spec_store_bypass"));
        let t = written("processor : 0\nflags : a b a\n", Some(""), None);
        assert_eq!(t.matches("node_cpu_flag_info{").count(), 2, "{t}");
        let t = written(X86_N100, Some("^nothing$"), None);
        assert!(!t.contains("flag_info"), "no family without samples");
    }
}
