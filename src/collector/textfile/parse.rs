//! A parser of the Prometheus text exposition format 0.0.4, as `expfmt.TextParser` (which
//! node_exporter 1.5's textfile collector uses) accepts it: what it rejects, we reject, with an
//! error naming the line and what was expected.
//!
//! The parser borrows from the text; label values and HELP texts are unescaped into owned
//! strings only when they contain an escape.
use std::borrow::Cow;
use std::collections::HashMap;

use crate::source::ParseError;

/// The metric type from a `# TYPE` line; a family without one is untyped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl Type {
    /// expfmt compares the upper-cased word, so `COUNTER` is a counter too.
    fn parse(s: &str) -> Option<Type> {
        let types = [
            ("counter", Type::Counter),
            ("gauge", Type::Gauge),
            ("histogram", Type::Histogram),
            ("summary", Type::Summary),
            ("untyped", Type::Untyped),
        ];
        types
            .into_iter()
            .find(|(w, _)| s.eq_ignore_ascii_case(w))
            .map(|(_, t)| t)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
            Type::Histogram => "histogram",
            Type::Summary => "summary",
            Type::Untyped => "untyped",
        }
    }
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// 1-based line number, for messages.
    pub line: usize,
    /// The name on the line: the family's name, or `<family>_sum` etc. for summaries and
    /// histograms.
    pub name: &'a str,
    /// Label pairs in file order, values unescaped.
    pub labels: Vec<(&'a str, Cow<'a, str>)>,
    pub value: f64,
    /// Milliseconds since the epoch, when the line has one.
    pub timestamp: Option<i64>,
}

/// A metric family: its `# HELP`, `# TYPE` and samples, in file order. A family's samples may
/// be spread over the file (expfmt accepts that); they are gathered here.
#[derive(Debug, Clone, PartialEq)]
pub struct Family<'a> {
    pub name: &'a str,
    /// Unescaped HELP text; `None` when the file has no HELP line for the family.
    pub help: Option<Cow<'a, str>>,
    pub typ: Type,
    /// Whether a `# TYPE` line was seen (a second one, or one after samples, is an error).
    typed: bool,
    pub samples: Vec<Sample<'a>>,
}

/// Parses a whole file into its families in order of first appearance. Families declared by
/// HELP or TYPE lines without samples are kept (with no samples).
#[cfg_attr(proctap_size, optimize(size))]
pub fn parse(text: &str) -> Result<Vec<Family<'_>>, ParseError> {
    let mut families: Vec<Family> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let n = i + 1;
        let Some(line) = raw.strip_suffix('\n') else {
            // expfmt reads up to a newline; a last line without one is "unexpected end of input".
            return Err(ParseError::new(
                n,
                "unexpected end of file: the last line must end with a newline",
            ));
        };
        let line = skip_blanks(line);
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            parse_comment(comment, n, &mut families, &mut index)?;
        } else {
            let sample = parse_sample(line, n)?;
            let slot = family_of(&sample, &mut families, &mut index);
            let family = families
                .get_mut(slot)
                .ok_or_else(|| ParseError::new(n, "internal error: family index"))?;
            check_special_labels(family, &sample)?;
            family.samples.push(sample);
        }
    }
    Ok(families)
}

#[cfg_attr(proctap_size, optimize(size))]
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

#[cfg_attr(proctap_size, optimize(size))]
fn skip_blanks(s: &str) -> &str {
    s.trim_start_matches(is_blank)
}

/// Splits `s` at the first blank: (token, rest starting at the blank).
#[cfg_attr(proctap_size, optimize(size))]
fn token(s: &str) -> (&str, &str) {
    s.split_at(s.find(is_blank).unwrap_or(s.len()))
}

#[cfg_attr(proctap_size, optimize(size))]
pub fn is_metric_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

#[cfg_attr(proctap_size, optimize(size))]
fn is_label_name_byte(b: u8, first: bool) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || (!first && b.is_ascii_digit())
}

/// The family a `# HELP`/`# TYPE` line names, created when new.
#[cfg_attr(proctap_size, optimize(size))]
fn declared<'a>(
    name: &'a str,
    families: &mut Vec<Family<'a>>,
    index: &mut HashMap<&'a str, usize>,
) -> usize {
    *index.entry(name).or_insert_with(|| {
        families.push(Family {
            name,
            help: None,
            typ: Type::Untyped,
            typed: false,
            samples: Vec::new(),
        });
        families.len() - 1
    })
}

#[cfg_attr(proctap_size, optimize(size))]
fn parse_comment<'a>(
    comment: &'a str,
    n: usize,
    families: &mut Vec<Family<'a>>,
    index: &mut HashMap<&'a str, usize>,
) -> Result<(), ParseError> {
    let (keyword, rest) = token(skip_blanks(comment));
    if keyword != "HELP" && keyword != "TYPE" {
        return Ok(());
    }
    let rest = skip_blanks(rest);
    if rest.is_empty() {
        // A bare "# HELP" is an ordinary comment to expfmt.
        return Ok(());
    }
    let (name, rest) = token(rest);
    if !is_metric_name(name) {
        return Err(ParseError::new(
            n,
            format!("expected a metric name after # {keyword}, found {name:?}"),
        ));
    }
    if rest.is_empty() {
        // "# HELP name" or "# TYPE name" with nothing after it says nothing (as in expfmt).
        return Ok(());
    }
    let text = skip_blanks(rest);
    let slot = declared(name, families, index);
    let family = families
        .get_mut(slot)
        .ok_or_else(|| ParseError::new(n, "internal error: family index"))?;
    if keyword == "HELP" {
        if family.help.is_some() {
            return Err(ParseError::new(
                n,
                format!("second HELP line for metric name {name:?}"),
            ));
        }
        family.help = Some(unescape_help(text, n)?);
    } else {
        if family.typed || !family.samples.is_empty() {
            return Err(ParseError::new(
                n,
                format!("second TYPE line for metric name {name:?}, or TYPE after its samples"),
            ));
        }
        family.typ = Type::parse(text).ok_or_else(|| {
            ParseError::new(
                n,
                format!("expected counter, gauge, histogram, summary or untyped as metric type, found {text:?}"),
            )
        })?;
        family.typed = true;
    }
    Ok(())
}

/// HELP text knows two escapes, `\\` and `\n`.
#[cfg_attr(proctap_size, optimize(size))]
fn unescape_help(s: &str, n: usize) -> Result<Cow<'_, str>, ParseError> {
    if !s.contains('\\') {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            other => return Err(bad_escape(n, other, "in HELP text: \\\\ or \\n")),
        }
    }
    Ok(Cow::Owned(out))
}

#[cfg_attr(proctap_size, optimize(size))]
fn bad_escape(n: usize, found: Option<char>, expected: &str) -> ParseError {
    let found = match found {
        Some(c) => format!("'\\{c}'"),
        None => "a backslash at the end of the line".into(),
    };
    ParseError::new(
        n,
        format!("invalid escape sequence {found}, expected {expected}"),
    )
}

/// Parses `name{labels} value [timestamp]` (leading blanks already skipped).
#[cfg_attr(proctap_size, optimize(size))]
fn parse_sample(line: &str, n: usize) -> Result<Sample<'_>, ParseError> {
    let end = line
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b':'))
        .unwrap_or(line.len());
    let (name, rest) = line.split_at(end);
    if !is_metric_name(name) {
        return Err(ParseError::new(
            n,
            format!(
                "expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) at the start of the line, found {:?}",
                token(line).0
            ),
        ));
    }
    let next = rest.chars().next();
    let mut rest = skip_blanks(rest);
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = skip_blanks(parse_labels(after, name, n, &mut labels)?);
    } else if let Some(c) = next.filter(|&c| !is_blank(c)) {
        // Something other than a blank or '{' right after the name, e.g. "a-b 1".
        return Err(ParseError::new(
            n,
            format!("expected '{{' or a blank after metric name {name:?}, found {c:?}"),
        ));
    }
    let (value, rest) = token(rest);
    let value = parse_value(value).ok_or_else(|| {
        ParseError::new(
            n,
            format!("expected a float as value (e.g. 1, -2.5e3, NaN, +Inf), found {value:?}"),
        )
    })?;
    let mut timestamp = None;
    if !rest.is_empty() {
        let (ts, rest) = token(skip_blanks(rest));
        timestamp = Some(ts.parse::<i64>().map_err(|_| {
            ParseError::new(
                n,
                format!("expected an integer timestamp in milliseconds or the end of the line after the value, found {ts:?}"),
            )
        })?);
        if !rest.is_empty() {
            return Err(ParseError::new(
                n,
                format!("expected the end of the line after the timestamp, found {rest:?}"),
            ));
        }
    }
    Ok(Sample {
        line: n,
        name,
        labels,
        value,
        timestamp,
    })
}

/// Parses the labels after `{` up to and including `}`; returns what follows.
#[cfg_attr(proctap_size, optimize(size))]
fn parse_labels<'a>(
    mut s: &'a str,
    metric: &str,
    n: usize,
    labels: &mut Vec<(&'a str, Cow<'a, str>)>,
) -> Result<&'a str, ParseError> {
    loop {
        s = skip_blanks(s);
        if let Some(rest) = s.strip_prefix('}') {
            return Ok(rest);
        }
        let end = s
            .bytes()
            .enumerate()
            .position(|(i, b)| !is_label_name_byte(b, i == 0))
            .unwrap_or(s.len());
        let (label, rest) = s.split_at(end);
        if label.is_empty() {
            return Err(ParseError::new(
                n,
                format!(
                    "expected a label name ([a-zA-Z_][a-zA-Z0-9_]*) or '}}' for metric {metric:?}, found {:?}",
                    s.chars().next().map_or(String::from("end of line"), String::from)
                ),
            ));
        }
        if label == "__name__" {
            return Err(ParseError::new(n, "label name \"__name__\" is reserved"));
        }
        if labels.iter().any(|(l, _)| *l == label) {
            return Err(ParseError::new(
                n,
                format!("duplicate label name {label:?} for metric {metric:?}"),
            ));
        }
        let rest = skip_blanks(rest);
        let rest = rest.strip_prefix('=').ok_or_else(|| {
            ParseError::new(n, format!("expected '=' after label name {label:?}"))
        })?;
        let rest = skip_blanks(rest);
        let rest = rest.strip_prefix('"').ok_or_else(|| {
            ParseError::new(
                n,
                format!(
                    "expected '\"' at the start of the value of label {label:?}, found {:?}",
                    rest.chars()
                        .next()
                        .map_or(String::from("end of line"), String::from)
                ),
            )
        })?;
        let (value, rest) = label_value(rest, label, n)?;
        labels.push((label, value));
        let rest = skip_blanks(rest);
        if let Some(rest) = rest.strip_prefix(',') {
            s = rest;
        } else if let Some(rest) = rest.strip_prefix('}') {
            return Ok(rest);
        } else {
            return Err(ParseError::new(
                n,
                format!(
                    "expected ',' or '}}' after the value of label {label:?}, found {:?}",
                    rest.chars()
                        .next()
                        .map_or(String::from("end of line"), String::from)
                ),
            ));
        }
    }
}

/// Reads a label value up to its closing quote; escapes are `\\`, `\"` and `\n`.
#[cfg_attr(proctap_size, optimize(size))]
fn label_value<'a>(
    s: &'a str,
    label: &str,
    n: usize,
) -> Result<(Cow<'a, str>, &'a str), ParseError> {
    let mut owned: Option<String> = None;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                let value = match owned {
                    Some(o) => Cow::Owned(o),
                    None => Cow::Borrowed(s.get(..i).unwrap_or_default()),
                };
                return Ok((value, s.get(i + 1..).unwrap_or_default()));
            }
            '\\' => {
                let o = owned.get_or_insert_with(|| s.get(..i).unwrap_or_default().to_owned());
                match chars.next().map(|(_, c)| c) {
                    Some('\\') => o.push('\\'),
                    Some('"') => o.push('"'),
                    Some('n') => o.push('\n'),
                    other => {
                        return Err(bad_escape(n, other, "in a label value: \\\\, \\\" or \\n"))
                    }
                }
            }
            c => {
                if let Some(o) = &mut owned {
                    o.push(c);
                }
            }
        }
    }
    Err(ParseError::new(
        n,
        format!(
            "expected '\"' at the end of the value of label {label:?}, found the end of the line"
        ),
    ))
}

/// A float as Go's strconv.ParseFloat reads it for expfmt: decimal notation, `NaN`, `Inf` and
/// `Infinity` in any case with an optional sign on the infinities; no hex, no `_`, nothing
/// out of range.
#[cfg_attr(proctap_size, optimize(size))]
pub fn parse_value(tok: &str) -> Option<f64> {
    let (neg, body) = match tok.as_bytes().first() {
        Some(b'+') => (false, tok.get(1..)?),
        Some(b'-') => (true, tok.get(1..)?),
        _ => (false, tok),
    };
    if body.eq_ignore_ascii_case("nan") {
        return (body.len() == tok.len()).then_some(f64::NAN);
    }
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    tok.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Which family a sample belongs to: the one of its own name, else the summary or histogram
/// whose `_sum`/`_count`/`_bucket` it is, else a new untyped family (expfmt's order).
#[cfg_attr(proctap_size, optimize(size))]
fn family_of<'a>(
    sample: &Sample<'a>,
    families: &mut Vec<Family<'a>>,
    index: &mut HashMap<&'a str, usize>,
) -> usize {
    if let Some(&i) = index.get(sample.name) {
        return i;
    }
    for (suffix, types) in [
        ("_sum", &[Type::Summary, Type::Histogram][..]),
        ("_count", &[Type::Summary, Type::Histogram][..]),
        ("_bucket", &[Type::Histogram][..]),
    ] {
        if let Some(base) = sample.name.strip_suffix(suffix) {
            if let Some(&i) = index.get(base) {
                if families.get(i).is_some_and(|f| types.contains(&f.typ)) {
                    return i;
                }
            }
        }
    }
    declared(sample.name, families, index)
}

/// Summaries need a float `quantile` on their plain samples, histograms a float `le` on their
/// buckets and no plain samples. expfmt drops such samples silently; we say what is wrong.
#[cfg_attr(proctap_size, optimize(size))]
fn check_special_labels(family: &Family, sample: &Sample) -> Result<(), ParseError> {
    let n = sample.line;
    let need = match family.typ {
        Type::Summary if sample.name == family.name => "quantile",
        Type::Histogram if sample.name == family.name => {
            return Err(ParseError::new(
                n,
                format!(
                    "expected {0}_bucket, {0}_sum or {0}_count for histogram {0:?}, found {0}",
                    family.name
                ),
            ))
        }
        Type::Histogram if sample.name.ends_with("_bucket") => "le",
        _ => return Ok(()),
    };
    match sample.labels.iter().find(|(l, _)| *l == need) {
        Some((_, v)) if parse_value(v).is_some() => Ok(()),
        Some((_, v)) => Err(ParseError::new(
            n,
            format!("expected a float as value for {need:?} label, found {v:?}"),
        )),
        None => Err(ParseError::new(
            n,
            format!(
                "expected a {need:?} label on {} samples of {}",
                sample.name,
                family.typ.as_str()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    fn labels<'a>(s: &'a Sample) -> Vec<(&'a str, &'a str)> {
        s.labels.iter().map(|(k, v)| (*k, v.as_ref())).collect()
    }

    #[test]
    fn backup_job_file() {
        let text = "\
# HELP backup_last_success_timestamp_seconds When the last backup finished.
# TYPE backup_last_success_timestamp_seconds gauge
backup_last_success_timestamp_seconds{job=\"restic\",target=\"nas\"} 1795300000
# a plain comment
#

# TYPE backup_runs_total counter
backup_runs_total 1523
";
        let f = parse(text).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].name, "backup_last_success_timestamp_seconds");
        assert_eq!(f[0].help.as_deref(), Some("When the last backup finished."));
        assert_eq!(f[0].typ, Type::Gauge);
        assert_eq!(
            labels(&f[0].samples[0]),
            [("job", "restic"), ("target", "nas")]
        );
        assert_eq!(f[0].samples[0].value, 1795300000.0);
        assert_eq!(f[0].samples[0].line, 3);
        assert_eq!((f[1].typ, f[1].help.clone()), (Type::Counter, None));
        assert_eq!(f[1].samples[0].value, 1523.0);
    }

    #[test]
    fn empty_and_comment_only_files() {
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(parse("\n  \n# just a note\n# HELP\n# TYPE x\n"), Ok(vec![]));
    }

    #[test]
    fn escapes_in_label_values_and_help() {
        let f = parse(
            "# HELP m a \\\\ b\\nc \"q\"\nm{path=\"C:\\\\x\",q=\"say \\\"hi\\\"\",nl=\"a\\nb\",u=\"héllo ✓\"} 1\n",
        )
        .unwrap();
        assert_eq!(f[0].help.as_deref(), Some("a \\ b\nc \"q\""));
        assert_eq!(
            labels(&f[0].samples[0]),
            [
                ("path", "C:\\x"),
                ("q", "say \"hi\""),
                ("nl", "a\nb"),
                ("u", "héllo ✓")
            ]
        );
        assert!(matches!(f[0].samples[0].labels[3].1, Cow::Borrowed(_)));
        assert_eq!(
            err("m{a=\"x\\ty\"} 1\n"),
            "line 1: invalid escape sequence '\\t', expected in a label value: \\\\, \\\" or \\n"
        );
        assert_eq!(
            err("# HELP m a \\\" b\nm 1\n"),
            "line 1: invalid escape sequence '\\\"', expected in HELP text: \\\\ or \\n"
        );
    }

    #[test]
    fn values_nan_inf_and_numbers() {
        let text = "a NaN\nb +Inf\nc -Inf\nd inF\ne Infinity\nf -1.5E-3\ng .5\nh 5.\ni +5\nj 1e3\n";
        let v: Vec<f64> = parse(text)
            .unwrap()
            .iter()
            .map(|f| f.samples[0].value)
            .collect();
        assert!(v[0].is_nan());
        assert_eq!(
            v[1..],
            [
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::INFINITY,
                -0.0015,
                0.5,
                5.0,
                5.0,
                1000.0
            ]
        );
        for bad in ["0x10", "0x1p3", "1_000", "1e999", "-NaN", "", "one", "1,5"] {
            let e = err(&format!("m {bad}\n"));
            assert!(
                e.starts_with("line 1: expected a float as value"),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn timestamps_are_parsed_and_checked() {
        let f = parse("m 1 1700000000000\nn 2 -5\n").unwrap();
        assert_eq!(f[0].samples[0].timestamp, Some(1700000000000));
        assert_eq!(f[1].samples[0].timestamp, Some(-5));
        assert_eq!(
            err("m 1 9223372036854775808\n"),
            "line 1: expected an integer timestamp in milliseconds or the end of the line after the value, found \"9223372036854775808\""
        );
        assert_eq!(
            err("m 1 2 3\n"),
            "line 1: expected the end of the line after the timestamp, found \" 3\""
        );
        // expfmt reads trailing blanks as the start of a missing timestamp.
        assert!(err("m 1 \n").contains("found \"\""));
    }

    #[test]
    fn layout_that_expfmt_accepts() {
        let f = parse(
            "  lead 1\ntab\t2\nsp { a = \"1\" , b=\"2\" } 3\ntc{a=\"1\",} 4\nx{a=\"1\"}5\nempty{} 6\ncol:on 7\n",
        )
        .unwrap();
        let got: Vec<(&str, usize, f64)> = f
            .iter()
            .map(|f| (f.name, f.samples[0].labels.len(), f.samples[0].value))
            .collect();
        assert_eq!(
            got,
            [
                ("lead", 0, 1.0),
                ("tab", 0, 2.0),
                ("sp", 2, 3.0),
                ("tc", 1, 4.0),
                ("x", 1, 5.0),
                ("empty", 0, 6.0),
                ("col:on", 0, 7.0)
            ]
        );
    }

    #[test]
    fn samples_of_a_family_are_gathered() {
        let f = parse("nc{a=\"1\"} 1\nother 2\nnc{a=\"2\"} 3\n# HELP nc late help\n").unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].samples.len(), 2);
        assert_eq!(f[0].help.as_deref(), Some("late help"));
    }

    #[test]
    fn syntax_errors_name_line_and_expectation() {
        let cases = [
            ("m 1", "line 1: unexpected end of file: the last line must end with a newline"),
            ("m 1\r\n", "line 1: expected a float as value (e.g. 1, -2.5e3, NaN, +Inf), found \"1\\r\""),
            ("ok 1\n1bad 1\n", "line 2: expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) at the start of the line, found \"1bad\""),
            ("a-b 1\n", "line 1: expected '{' or a blank after metric name \"a\", found '-'"),
            ("m\n", "line 1: expected a float as value (e.g. 1, -2.5e3, NaN, +Inf), found \"\""),
            ("m{1a=\"x\"} 1\n", "line 1: expected a label name ([a-zA-Z_][a-zA-Z0-9_]*) or '}' for metric \"m\", found \"1\""),
            ("m{a=x} 1\n", "line 1: expected '\"' at the start of the value of label \"a\", found \"x\""),
            ("m{a \"x\"} 1\n", "line 1: expected '=' after label name \"a\""),
            ("m{a=\"x} 1\n", "line 1: expected '\"' at the end of the value of label \"a\", found the end of the line"),
            ("m{a=\"x\" b=\"y\"} 1\n", "line 1: expected ',' or '}' after the value of label \"a\", found \"b\""),
            ("m{a=\"1\",a=\"2\"} 1\n", "line 1: duplicate label name \"a\" for metric \"m\""),
            ("m{__name__=\"x\"} 1\n", "line 1: label name \"__name__\" is reserved"),
            ("# TYPE m info\nm 1\n", "line 1: expected counter, gauge, histogram, summary or untyped as metric type, found \"info\""),
            ("# TYPE m gauge extra\n", "line 1: expected counter, gauge, histogram, summary or untyped as metric type, found \"gauge extra\""),
            ("# TYPE m gauge\n# TYPE m gauge\n", "line 2: second TYPE line for metric name \"m\", or TYPE after its samples"),
            ("m 1\n# TYPE m gauge\n", "line 2: second TYPE line for metric name \"m\", or TYPE after its samples"),
            ("# HELP m one\n# HELP m two\n", "line 2: second HELP line for metric name \"m\""),
            ("# HELP 9x text\n", "line 1: expected a metric name after # HELP, found \"9x\""),
        ];
        for (text, want) in cases {
            assert_eq!(err(text), want, "{text:?}");
        }
    }

    #[test]
    fn upper_case_type_and_sloppy_comment_spacing() {
        let f = parse("# TYPE uc COUNTER\nuc 1\n#HELP hn no space\nhn 2\n# HELP\tht tab\nht 3\n")
            .unwrap();
        assert_eq!(f[0].typ, Type::Counter);
        assert_eq!(f[1].help.as_deref(), Some("no space"));
        assert_eq!(f[2].help.as_deref(), Some("tab"));
    }

    #[test]
    fn summaries_and_histograms() {
        let f = parse(
            "# TYPE rpc summary\nrpc{quantile=\"0.5\"} 0.2\nrpc_sum 3\nrpc_count 9\n# TYPE lat histogram\nlat_bucket{le=\"0.1\"} 1\nlat_bucket{le=\"+Inf\"} 2\nlat_sum 0.3\nlat_count 2\n",
        )
        .unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].typ, f[0].samples.len()), (Type::Summary, 3));
        assert_eq!((f[1].typ, f[1].samples.len()), (Type::Histogram, 4));
        assert_eq!(f[1].samples[2].name, "lat_sum");
        // x_sum before the summary x is declared is its own untyped family, as in expfmt.
        let f = parse("x_sum 1\n# TYPE x summary\n").unwrap();
        assert_eq!((f[0].name, f[0].typ), ("x_sum", Type::Untyped));
        assert_eq!(
            err("# TYPE s summary\ns{quantile=\"x\"} 1\n"),
            "line 2: expected a float as value for \"quantile\" label, found \"x\""
        );
        assert_eq!(
            err("# TYPE h histogram\nh_bucket 1\n"),
            "line 2: expected a \"le\" label on h_bucket samples of histogram"
        );
        assert_eq!(
            err("# TYPE h histogram\nh 1\n"),
            "line 2: expected h_bucket, h_sum or h_count for histogram \"h\", found h"
        );
    }
}
