//! The Prometheus text exposition format (version 0.0.4), written straight into one buffer.
//!
//! A collector opens a family with [`Encoder::family`] (which writes `# HELP` and `# TYPE`) and
//! then writes its samples. Families must be written contiguously and once per scrape; the
//! collectors are arranged so that they are (see DESIGN.md), and `promtool` checks it in tests.
use std::io::Write;

/// The metric type written on the `# TYPE` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Untyped,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Untyped => "untyped",
        }
    }
}

/// One label pair; the value is escaped on output, the name must be a valid label name.
pub type Label<'a> = (&'a str, &'a str);

/// The output buffer of a scrape. It lives as long as the program and is cleared, not freed,
/// between scrapes, so a steady-state scrape does not allocate.
#[derive(Default)]
pub struct Encoder {
    buf: Vec<u8>,
    /// Name of the family being written, reused for every sample line.
    name: String,
    /// Where each family's name starts in `buf` (on its `# TYPE` line) and its length, so
    /// [`Encoder::has_family`] does not rescan megabytes of output on a big host.
    families: Vec<(usize, usize)>,
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.name.clear();
        self.families.clear();
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Appends output already in the exposition format (a collector's families from another
    /// encoder).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The current end of the output, to [`Encoder::rollback`] to when a collector fails.
    pub fn mark(&self) -> usize {
        self.buf.len()
    }

    /// Drops everything written since `mark`.
    pub fn rollback(&mut self, mark: usize) {
        self.buf.truncate(mark);
        while self
            .families
            .last()
            .is_some_and(|&(start, _)| start >= mark)
        {
            self.families.pop();
        }
    }

    /// Clears this encoder and gives it `other`'s family names only (not their output), so
    /// that [`Encoder::has_family`] answers here as it would there. What is written after
    /// [`Encoder::mark`] is then copied back with [`Encoder::append_from`]. This is how a
    /// collector running on a helper thread (see `collector::Guarded`) writes a buffer of its own.
    pub fn seed_families(&mut self, other: &Encoder) {
        self.clear();
        for &(start, len) in &other.families {
            if let Some(name) = other.buf.get(start..start + len) {
                self.families.push((self.buf.len(), len));
                self.buf.extend_from_slice(name);
            }
        }
    }

    /// Appends what `other` wrote from its `from` mark on, with its families.
    pub fn append_from(&mut self, other: &Encoder, from: usize) {
        let base = self.buf.len();
        self.buf
            .extend_from_slice(other.buf.get(from..).unwrap_or_default());
        for &(start, len) in other.families.iter().filter(|&&(s, _)| s >= from) {
            self.families.push((start - from + base, len));
        }
    }

    /// Whether a family called `name` was started in this output (it has a `# TYPE name ` line).
    pub fn has_family(&self, name: &str) -> bool {
        self.families
            .iter()
            .any(|&(start, len)| self.buf.get(start..start + len) == Some(name.as_bytes()))
    }

    /// Starts a family whose name is `name`.
    pub fn family(&mut self, name: &str, help: &str, kind: Kind) {
        self.family_parts(&[name], help, kind);
    }

    /// Starts a family whose name is the concatenation of `parts`, e.g.
    /// `["node_memory_", "MemFree", "_bytes"]`, without building a `String` first.
    pub fn family_parts(&mut self, parts: &[&str], help: &str, kind: Kind) {
        self.name.clear();
        for p in parts {
            self.name.push_str(p);
        }
        self.buf.extend_from_slice(b"# HELP ");
        self.buf.extend_from_slice(self.name.as_bytes());
        self.buf.push(b' ');
        escape_help(&mut self.buf, help);
        self.buf.extend_from_slice(b"\n# TYPE ");
        self.families.push((self.buf.len(), self.name.len()));
        self.buf.extend_from_slice(self.name.as_bytes());
        self.buf.push(b' ');
        self.buf.extend_from_slice(kind.as_str().as_bytes());
        self.buf.push(b'\n');
    }

    fn start_sample(&mut self, labels: &[Label]) {
        self.buf.extend_from_slice(self.name.as_bytes());
        if !labels.is_empty() {
            self.buf.push(b'{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.buf.push(b',');
                }
                self.buf.extend_from_slice(k.as_bytes());
                self.buf.extend_from_slice(b"=\"");
                escape_label_value(&mut self.buf, v);
                self.buf.push(b'"');
            }
            self.buf.push(b'}');
        }
        self.buf.push(b' ');
    }

    /// A sample of the current family with an exact unsigned integer value.
    pub fn u64(&mut self, labels: &[Label], value: u64) {
        self.start_sample(labels);
        write_u64(&mut self.buf, value);
        self.buf.push(b'\n');
    }

    /// A sample of the current family with an exact signed integer value.
    pub fn i64(&mut self, labels: &[Label], value: i64) {
        self.start_sample(labels);
        if value < 0 {
            self.buf.push(b'-');
        }
        write_u64(&mut self.buf, value.unsigned_abs());
        self.buf.push(b'\n');
    }

    /// A sample of the current family with a floating-point value.
    pub fn f64(&mut self, labels: &[Label], value: f64) {
        self.start_sample(labels);
        write_f64(&mut self.buf, value);
        self.buf.push(b'\n');
    }
}

fn escape_help(buf: &mut Vec<u8>, s: &str) {
    if !s.bytes().any(|b| b == b'\\' || b == b'\n') {
        buf.extend_from_slice(s.as_bytes());
        return;
    }
    for &b in s.as_bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            _ => buf.push(b),
        }
    }
}

fn escape_label_value(buf: &mut Vec<u8>, s: &str) {
    // Almost every value needs no escape: copy it whole rather than byte by byte.
    if !s.bytes().any(|b| b == b'\\' || b == b'"' || b == b'\n') {
        buf.extend_from_slice(s.as_bytes());
        return;
    }
    for &b in s.as_bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\n' => buf.extend_from_slice(b"\\n"),
            _ => buf.push(b),
        }
    }
}

/// Writes `v` in decimal without going through `f64` or the formatting machinery.
pub fn write_u64(buf: &mut Vec<u8>, v: u64) {
    let mut tmp = [0u8; 20];
    buf.extend_from_slice(u64_str(&mut tmp, v).as_bytes());
}

/// Formats `v` into `tmp` and returns the digits, e.g. for a `cpu="12"` label.
pub fn u64_str(tmp: &mut [u8; 20], mut v: u64) -> &str {
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&tmp[i..]).unwrap_or("0")
}

/// Writes `v` the way Prometheus reads it back bit for bit: integral values without a
/// fraction, others in the shortest form that round-trips, `NaN`, `+Inf` and `-Inf`.
pub fn write_f64(buf: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        buf.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        buf.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    } else if v == v.trunc() && v.abs() < 1e15 {
        // Exact: every integer below 2^53 is representable, and 1e15 < 2^53.
        let i = v as i64;
        if i < 0 {
            buf.push(b'-');
        }
        write_u64(buf, i.unsigned_abs());
    } else if v.abs() >= 1e15 || v.abs() < 1e-4 {
        // Rust's `{:e}` and `{}` both print the shortest digits that round-trip.
        let _ = write!(buf, "{v:e}");
    } else {
        let _ = write!(buf, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64) -> String {
        let mut b = Vec::new();
        write_f64(&mut b, v);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn floats_shortest_round_trip() {
        assert_eq!(f(0.0), "0");
        assert_eq!(f(-0.0), "0");
        assert_eq!(f(1.0), "1");
        assert_eq!(f(-42.0), "-42");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(0.205), "0.205");
        assert_eq!(f(1.5e-7), "1.5e-7");
        assert_eq!(f(1e300), "1e300");
        assert_eq!(f(123456789012345.5), "123456789012345.5");
        assert_eq!(f(1e15), "1e15");
        assert_eq!(f(f64::NAN), "NaN");
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(f64::NEG_INFINITY), "-Inf");
        for v in [
            0.1 + 0.2,
            1.0 / 3.0,
            6.02214076e23,
            5e-324,
            f64::MAX,
            1795303909.25,
        ] {
            assert_eq!(f(v).parse::<f64>().unwrap(), v, "{v} must round-trip");
        }
    }

    #[test]
    fn integers_are_exact() {
        let mut e = Encoder::new();
        e.family("x", "h", Kind::Counter);
        e.u64(&[], u64::MAX);
        e.u64(&[], 0);
        e.i64(&[], i64::MIN);
        e.i64(&[], -7);
        // 2^53 + 1 is not representable as f64; it must still be printed exactly.
        e.u64(&[], 9007199254740993);
        let out = String::from_utf8(e.as_bytes().to_vec()).unwrap();
        assert!(out.contains("x 18446744073709551615\n"), "{out}");
        assert!(out.contains("x 0\n"));
        assert!(out.contains("x -9223372036854775808\n"));
        assert!(out.contains("x -7\n"));
        assert!(out.contains("x 9007199254740993\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut e = Encoder::new();
        e.family("x", "h", Kind::Gauge);
        e.u64(&[("a", "back\\slash \"quoted\"\nnew")], 1);
        assert_eq!(
            e.as_bytes(),
            b"# HELP x h\n# TYPE x gauge\nx{a=\"back\\\\slash \\\"quoted\\\"\\nnew\"} 1\n"
        );
    }

    #[test]
    fn help_is_escaped_but_quotes_are_not() {
        let mut e = Encoder::new();
        e.family("x", "a \\ b\nc \"d\"", Kind::Untyped);
        assert_eq!(
            e.as_bytes(),
            b"# HELP x a \\\\ b\\nc \"d\"\n# TYPE x untyped\n"
        );
    }

    #[test]
    fn family_parts_concatenate() {
        let mut e = Encoder::new();
        e.family_parts(&["node_memory_", "MemFree", "_bytes"], "m", Kind::Gauge);
        e.u64(&[], 5);
        assert_eq!(
            e.as_bytes(),
            b"# HELP node_memory_MemFree_bytes m\n# TYPE node_memory_MemFree_bytes gauge\nnode_memory_MemFree_bytes 5\n"
        );
    }

    #[test]
    fn has_family_matches_whole_names_on_type_lines() {
        let mut e = Encoder::new();
        assert!(!e.has_family("node_load1"));
        e.family("node_load15", "15m load average. node_load1", Kind::Gauge);
        e.f64(&[], 0.5);
        assert!(e.has_family("node_load15"));
        assert!(
            !e.has_family("node_load1"),
            "a prefix or HELP text is not a family"
        );
        assert!(!e.has_family("node_load155"));
        e.family("node_load1", "1m load average.", Kind::Gauge);
        assert!(e.has_family("node_load1"));
    }

    #[test]
    fn rollback_drops_a_failed_collector() {
        let mut e = Encoder::new();
        e.family("a", "h", Kind::Gauge);
        let mark = e.mark();
        e.family("b", "h", Kind::Gauge);
        e.u64(&[], 1);
        assert!(e.has_family("b"));
        e.rollback(mark);
        assert_eq!(e.as_bytes(), b"# HELP a h\n# TYPE a gauge\n");
        assert!(e.has_family("a"));
        assert!(!e.has_family("b"), "a rolled-back family is gone");
    }

    #[test]
    fn golden_small_output() {
        let mut e = Encoder::new();
        e.family("node_load1", "1m load average.", Kind::Gauge);
        e.f64(&[], 0.25);
        e.family(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
            Kind::Counter,
        );
        let mut n = [0u8; 20];
        for cpu in 0..2u64 {
            let c = u64_str(&mut n, cpu).to_string();
            e.f64(&[("cpu", &c), ("mode", "idle")], 100.5 + cpu as f64);
        }
        e.family(
            "node_scrape_collector_success",
            "Whether a collector succeeded.",
            Kind::Gauge,
        );
        e.u64(&[("collector", "cpu")], 1);
        let want = "\
# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.25
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 100.5
node_cpu_seconds_total{cpu=\"1\",mode=\"idle\"} 101.5
# HELP node_scrape_collector_success Whether a collector succeeded.
# TYPE node_scrape_collector_success gauge
node_scrape_collector_success{collector=\"cpu\"} 1
";
        assert_eq!(String::from_utf8(e.as_bytes().to_vec()).unwrap(), want);
    }
}
