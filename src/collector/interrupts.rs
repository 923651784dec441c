//! `interrupts`: /proc/interrupts → node_interrupts_total{cpu,devices,info,type} per IRQ × CPU.
use crate::collector::{Collector, Ctx, Sources, What, ROOT_ONLY};
use crate::expo::{u64_str, Encoder, Kind};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

/// One row of /proc/interrupts, borrowed from the text.
///
/// node_exporter 1.5 splits the text after the counts into `info` and `devices` like this:
/// for a numbered IRQ, `info` is the first word (the chip, e.g. `IR-PCI-MSI`) and `devices`
/// the rest, hwirq and trigger included (`1-edge eth0-TxRx-0`); for a named row (`NMI`, `LOC`,
/// `IPI0`) `info` is all of it and `devices` is empty. Words are joined by one space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row<'a> {
    /// 1-based line number, for errors.
    pub line: usize,
    /// The IRQ number or name before the `:`, the `type` label.
    pub name: &'a str,
    /// Everything after the `:`: one count per CPU, then the description.
    rest: &'a str,
    /// The description after the counts, found once while parsing.
    detail: &'a str,
    cpus: usize,
}

impl<'a> Row<'a> {
    /// The per-CPU counts, in header order.
    pub fn counts(&self) -> impl Iterator<Item = &'a str> {
        self.rest.split_ascii_whitespace().take(self.cpus)
    }

    /// `(info, devices)`, each possibly with runs of blanks that the caller joins with one
    /// space (see [`join_words`]).
    pub fn info_devices(&self) -> (&'a str, &'a str) {
        let detail = self.detail;
        if self.name.parse::<u64>().is_ok() {
            let devices = skip_words(detail, 1);
            let info = detail
                .get(..detail.len().saturating_sub(devices.len()))
                .unwrap_or("");
            (info.trim_end(), devices)
        } else {
            (detail, "")
        }
    }
}

/// `s` without its first `n` blank-separated words, trimmed.
fn skip_words(s: &str, n: usize) -> &str {
    let mut rest = s.trim_start();
    for _ in 0..n {
        let end = rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        rest = rest.get(end..).unwrap_or("").trim_start();
    }
    rest.trim_end()
}

/// Writes the words of `s` into `buf` separated by single spaces, as node_exporter joins them.
pub fn join_words<'b>(s: &str, buf: &'b mut String) -> &'b str {
    buf.clear();
    for (i, w) in s.split_ascii_whitespace().enumerate() {
        if i > 0 {
            buf.push(' ');
        }
        buf.push_str(w);
    }
    buf
}

/// The CPU count from the header line and the rows of /proc/interrupts. Rows with no
/// description after the counts (`ERR:`, `MIS:`, `Err:`) are skipped, as node_exporter does.
pub fn parse_interrupts(text: &str) -> Result<(usize, impl Iterator<Item = Row<'_>>), ParseError> {
    let mut lines = text.lines();
    let cpus = match lines.next() {
        Some(header) if header.trim_start().starts_with("CPU") => {
            header.split_ascii_whitespace().count()
        }
        Some(header) => {
            return Err(ParseError::new(
                1,
                format!(
                    "expected a header of CPU names like `CPU0 CPU1`, found {:?}",
                    header.get(..40).unwrap_or(header)
                ),
            ))
        }
        None => {
            return Err(ParseError::new(
                0,
                "expected a header line, found an empty file",
            ))
        }
    };
    let rows = lines.enumerate().filter_map(move |(i, line)| {
        // Split at the first `:`, not at blanks: on arm64 a 10-digit count can follow
        // `IPI0:` without a space.
        let (name, rest) = line.split_once(':')?;
        let detail = skip_words(rest, cpus);
        (!detail.is_empty()).then_some(Row {
            line: i + 2,
            name: name.trim(),
            rest,
            detail,
            cpus,
        })
    });
    Ok((cpus, rows))
}

pub const COLLECTOR: Collector = Collector::plain(
    "interrupts",
    collect,
    Sources {
        reads: &[What::File(Root::Proc, "interrupts")],
        hint: ROOT_ONLY,
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    ctx.src.read(Root::Proc, &["interrupts"], &mut ctx.buf)?;
    let (_, rows) = parse_interrupts(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
    out.family("node_interrupts_total", "Interrupt details.", Kind::Counter);
    let mut n = [0u8; 20];
    for row in rows {
        let (info, devices) = row.info_devices();
        // Only one of the two can hold several words; join that one in the scratch buffer.
        let (info, devices) = if devices.is_empty() {
            (join_words(info, &mut ctx.buf2), "")
        } else {
            (info, join_words(devices, &mut ctx.buf2))
        };
        for (cpu, count) in row.counts().enumerate() {
            let v = u64_at(count, row.line, "an interrupt count")
                .map_err(|e| ctx.src.parse_error(e))?;
            let labels = [
                ("cpu", u64_str(&mut n, cpu as u64)),
                ("devices", devices),
                ("info", info),
                ("type", row.name),
            ];
            out.u64(&labels, v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    type Flat = Vec<(String, String, String, Vec<String>)>;

    fn flat(text: &str) -> Result<(usize, Flat), ParseError> {
        let (cpus, rows) = parse_interrupts(text)?;
        let mut buf = String::new();
        let rows = rows
            .map(|r| {
                let (info, devices) = r.info_devices();
                (
                    r.name.to_string(),
                    join_words(info, &mut buf).to_string(),
                    join_words(devices, &mut buf).to_string(),
                    r.counts().map(str::to_string).collect(),
                )
            })
            .collect();
        Ok((cpus, rows))
    }

    fn row(
        name: &str,
        info: &str,
        devices: &str,
        counts: &[&str],
    ) -> (String, String, String, Vec<String>) {
        (
            name.into(),
            info.into(),
            devices.into(),
            counts.iter().map(|s| s.to_string()).collect(),
        )
    }

    #[test]
    fn interrupts_x86_vm_kernel_6_18() {
        // Captured on a 2-CPU VM, kernel 6.18 (shortened).
        let text = "           CPU0       CPU1       \n  24:          1          0  IO-APIC   5-edge      ACPI:Ged\n  28:          0          0 PCI-MSIX-0000:00:01.0   0-edge      virtio0-config\n  36:          0      34305 PCI-MSIX-0000:00:02.0   1-edge      virtio1-req.0\n NMI:          0          0   Non-maskable interrupts\n LOC:      13986      15640   Local timer interrupts\n ERR:          0\n MIS:          0\n PIN:          0          0   Posted-interrupt notification event\n";
        let (cpus, rows) = flat(text).unwrap();
        assert_eq!(cpus, 2);
        assert_eq!(
            rows,
            [
                row("24", "IO-APIC", "5-edge ACPI:Ged", &["1", "0"]),
                row(
                    "28",
                    "PCI-MSIX-0000:00:01.0",
                    "0-edge virtio0-config",
                    &["0", "0"]
                ),
                row(
                    "36",
                    "PCI-MSIX-0000:00:02.0",
                    "1-edge virtio1-req.0",
                    &["0", "34305"]
                ),
                row("NMI", "Non-maskable interrupts", "", &["0", "0"]),
                row("LOC", "Local timer interrupts", "", &["13986", "15640"]),
                row(
                    "PIN",
                    "Posted-interrupt notification event",
                    "",
                    &["0", "0"]
                ),
            ]
        );
    }

    #[test]
    fn interrupts_one_cpu_mips_gic_and_arm64_ipi() {
        // OpenWrt on a MIPS GIC (the chip name has spaces, so node_exporter's info is `MIPS`)
        // and arm64 IPI rows whose 10-digit counts touch the `:`.
        let text = "           CPU0       \n  8:     123456  MIPS GIC Local   1  timer\n 12:          7\nIPI0:1234567890       Rescheduling interrupts\nErr:          0\n";
        let (cpus, rows) = flat(text).unwrap();
        assert_eq!(cpus, 1);
        assert_eq!(
            rows,
            [
                row("8", "MIPS", "GIC Local 1 timer", &["123456"]),
                row("IPI0", "Rescheduling interrupts", "", &["1234567890"]),
            ]
        );
    }

    #[test]
    fn interrupts_128_cpus() {
        let mut text = String::new();
        for cpu in 0..128 {
            text.push_str(&format!(" CPU{cpu:<7}"));
        }
        text.push('\n');
        let mut counts = String::new();
        for cpu in 0..128u64 {
            counts.push_str(&format!(" {:>10}", cpu * 1000));
        }
        text.push_str(&format!(
            " 131:{counts}  IR-PCI-MSIX-0000:02:00.0    1-edge      eth0-TxRx-0\n"
        ));
        text.push_str(&format!(
            " LOC:{counts}   Local timer interrupts\n ERR:          0\n"
        ));
        let (cpus, rows) = flat(&text).unwrap();
        assert_eq!(cpus, 128);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].2, "1-edge eth0-TxRx-0");
        assert_eq!(rows[0].3.len(), 128);
        assert_eq!(rows[0].3[127], "127000");
        assert_eq!(rows[1].1, "Local timer interrupts");
    }

    #[test]
    fn interrupts_empty_and_garbage() {
        assert_eq!(
            flat("").unwrap_err().to_string(),
            "expected a header line, found an empty file"
        );
        assert_eq!(
            flat("  0:  1  2  IO-APIC  2-edge timer\n").unwrap_err().to_string(),
            "line 1: expected a header of CPU names like `CPU0 CPU1`, found \"  0:  1  2  IO-APIC  2-edge timer\""
        );
        let (_, rows) = flat("   CPU0\n").unwrap();
        assert!(rows.is_empty());
    }

    fn ctx(procfs: &str) -> Ctx {
        let src = Source::new(procfs.into(), "/nonexistent".into(), "/".into());
        Ctx::new(src)
    }

    #[test]
    fn collect_fixtures() {
        let mut ctx = ctx(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/proc"));
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        for want in [
            "# HELP node_interrupts_total Interrupt details.\n# TYPE node_interrupts_total counter\n",
            "node_interrupts_total{cpu=\"0\",devices=\"1-edge eth0-TxRx-0\",info=\"IR-PCI-MSIX-0000:02:00.0\",type=\"131\"} 2901234567\n",
            "node_interrupts_total{cpu=\"1\",devices=\"376832-edge ahci[0000:00:12.0]\",info=\"IR-PCI-MSI\",type=\"124\"} 52345678\n",
            "node_interrupts_total{cpu=\"3\",devices=\"16384-edge PCIe PME, aerdrv\",info=\"IR-PCI-MSI\",type=\"122\"} 0\n",
            "node_interrupts_total{cpu=\"2\",devices=\"\",info=\"Local timer interrupts\",type=\"LOC\"} 3654321098\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("ERR"));
        assert_eq!(
            text.matches("\nnode_interrupts_total{").count(),
            4 * (22 + 17)
        );
    }

    #[test]
    fn collect_bad_count_names_the_line() {
        let dir = std::env::temp_dir().join(format!("proctap-interrupts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("interrupts"),
            "  CPU0  CPU1\n  0:  1  2  IO-APIC  2-edge timer\n  1:  x  2  IO-APIC  1-edge i8042\n",
        )
        .unwrap();
        let mut ctx = ctx(dir.to_str().unwrap());
        let e = collect(&mut ctx, &mut Encoder::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(
                "/interrupts:3: expected an unsigned integer for an interrupt count, found \"x\""
            ),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
