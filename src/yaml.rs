//! The YAML that proctap reads — node_exporter's web config and process-exporter's config —
//! parsed by ~300 lines of our own: block mappings and sequences (also a sequence at its key's
//! indentation, as `comm:` / `- bash` is usually written), flow sequences of scalars (`[a, b]`),
//! plain, single- and double-quoted scalars, `#` comments and a leading `---`. Anchors, aliases,
//! tags, block scalars, flow mappings and multi-line scalars are refused with the line, so
//! nothing is read differently from what the operator meant. What a key means is left to the
//! caller, which walks the [`Node`] tree; every node keeps its line for the caller's errors.
use std::fmt;

/// A syntax error: the 1-based line and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for YamlError {
    #[cfg_attr(proctap_size, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.msg)
    }
}

#[cfg_attr(proctap_size, optimize(size))]
fn err<T>(line: usize, msg: impl Into<String>) -> Result<T, YamlError> {
    Err(YamlError {
        line,
        msg: msg.into(),
    })
}

/// A value and the line it starts on (0 for an empty document).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `key:` with nothing under it, `~`, `null`, or an empty document.
    Null,
    Scalar(Scalar),
    Seq(Vec<Node>),
    /// Entries in file order; a key appears once.
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    pub text: String,
    /// Written in quotes (so `'{}'` is text, not an empty mapping).
    pub quoted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub line: usize,
    pub value: Node,
}

impl Node {
    /// What the value is, for messages: "a mapping", "a list", "a string", "nothing".
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing",
            Value::Scalar(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Parses a whole document.
#[cfg_attr(proctap_size, optimize(size))]
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut lines = Vec::new();
    let mut started = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = strip_comment(raw).map_err(|m| YamlError {
            line: n,
            msg: m.into(),
        })?;
        let body = line.trim_start_matches(' ');
        if body.starts_with('\t') {
            return err(n, "tabs are not allowed for indentation in YAML");
        }
        let body = body.trim_end();
        if body.is_empty() {
            continue;
        }
        if body == "---" {
            if started {
                return err(n, "only one YAML document is supported (a second ---)");
            }
            started = true;
            continue;
        }
        if body == "..." {
            break;
        }
        started = true;
        lines.push(Line {
            n,
            indent: line.len() - line.trim_start_matches(' ').len(),
            text: body,
        });
    }
    let mut p = Parser { lines, pos: 0 };
    let Some(first) = p.peek() else {
        return Ok(Node {
            line: 0,
            value: Value::Null,
        });
    };
    if first.indent != 0 {
        return err(
            first.n,
            "indented line at the top level (expected a key at column 1)",
        );
    }
    let root = p.block(0)?;
    if let Some(l) = p.peek() {
        return err(
            l.n,
            format!(
                "indentation of {} spaces matches no mapping or list above",
                l.indent
            ),
        );
    }
    Ok(root)
}

#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    n: usize,
    indent: usize,
    text: &'a str,
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
}

#[cfg_attr(proctap_size, optimize(size))]
fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

impl<'a> Parser<'a> {
    #[cfg_attr(proctap_size, optimize(size))]
    fn peek(&self) -> Option<Line<'a>> {
        self.lines.get(self.pos).copied()
    }

    /// The mapping or sequence whose lines start at `indent` (the current line's).
    #[cfg_attr(proctap_size, optimize(size))]
    fn block(&mut self, indent: usize) -> Result<Node, YamlError> {
        match self.peek() {
            Some(l) if is_item(l.text) => self.seq(indent),
            Some(_) => self.map(indent),
            None => Ok(Node {
                line: 0,
                value: Value::Null,
            }),
        }
    }

    /// The value of `key:` or `-` with nothing after it on the line: the deeper block below
    /// (or, for a key, a sequence at the key's own indentation), else null.
    #[cfg_attr(proctap_size, optimize(size))]
    fn below(&mut self, indent: usize, n: usize, key: bool) -> Result<Node, YamlError> {
        match self.peek() {
            Some(l) if l.indent > indent => self.block(l.indent),
            Some(l) if key && l.indent == indent && is_item(l.text) => self.seq(indent),
            _ => Ok(Node {
                line: n,
                value: Value::Null,
            }),
        }
    }

    #[cfg_attr(proctap_size, optimize(size))]
    fn seq(&mut self, indent: usize) -> Result<Node, YamlError> {
        let start = self.peek().map_or(0, |l| l.n);
        let mut items = Vec::new();
        while let Some(l) = self.peek() {
            if l.indent != indent || !is_item(l.text) {
                break;
            }
            let after = l.text.get(1..).unwrap_or("");
            let rest = after.trim_start_matches(' ');
            if rest.is_empty() {
                self.pos += 1;
                items.push(self.below(indent, l.n, false)?);
            } else if is_item(rest) {
                return err(l.n, "a list inside a list on one line is not supported");
            } else if starts_entry(rest) {
                // `- key: value`: a mapping whose keys line up with this first one.
                let col = indent + 1 + (after.len() - rest.len());
                if let Some(slot) = self.lines.get_mut(self.pos) {
                    *slot = Line {
                        n: l.n,
                        indent: col,
                        text: rest,
                    };
                }
                items.push(self.map(col)?);
            } else {
                self.pos += 1;
                items.push(Node {
                    line: l.n,
                    value: scalar(rest, l.n, "list item")?,
                });
                self.no_deeper(indent)?;
            }
        }
        Ok(Node {
            line: start,
            value: Value::Seq(items),
        })
    }

    #[cfg_attr(proctap_size, optimize(size))]
    fn map(&mut self, indent: usize) -> Result<Node, YamlError> {
        let start = self.peek().map_or(0, |l| l.n);
        let mut entries: Vec<Entry> = Vec::new();
        while let Some(l) = self.peek() {
            if l.indent != indent {
                break;
            }
            if is_item(l.text) {
                return err(l.n, "a list item where a `key: value` was expected");
            }
            let (key, rest) = split_entry(l.text).map_err(|m| YamlError { line: l.n, msg: m })?;
            if let Some(first) = entries.iter().find(|e| e.key == key) {
                return err(
                    l.n,
                    format!("{key} set twice (first on line {})", first.line),
                );
            }
            self.pos += 1;
            let value = match rest {
                None => self.below(indent, l.n, true)?,
                Some(text) => {
                    let v = scalar(text, l.n, &key)?;
                    self.no_deeper(indent)?;
                    Node {
                        line: l.n,
                        value: v,
                    }
                }
            };
            entries.push(Entry {
                key,
                line: l.n,
                value,
            });
        }
        if let Some(l) = self.peek().filter(|l| l.indent > indent) {
            return err(
                l.n,
                format!(
                    "indentation of {} spaces where the entries above have {indent}",
                    l.indent
                ),
            );
        }
        Ok(Node {
            line: start,
            value: Value::Map(entries),
        })
    }

    /// After a value on its own line, nothing may be indented under it.
    #[cfg_attr(proctap_size, optimize(size))]
    fn no_deeper(&self, indent: usize) -> Result<(), YamlError> {
        match self.peek() {
            Some(l) if l.indent > indent => err(
                l.n,
                format!(
                    "indentation of {} spaces where the entries above have {indent} \
                     (multi-line values are not supported)",
                    l.indent
                ),
            ),
            _ => Ok(()),
        }
    }
}

/// Whether a list item's text is `key: value` or `key:` (plain or quoted key), so the item is
/// a mapping.
#[cfg_attr(proctap_size, optimize(size))]
fn starts_entry(text: &str) -> bool {
    if text.starts_with(['"', '\'']) {
        return quoted(text)
            .is_ok_and(|(_, len)| text.get(len..).is_some_and(|r| r.starts_with(':')));
    }
    entry_colon(text).is_some()
}

/// Where the `:` ending a plain key is: the first `: ` (or `:` + tab), or a `:` ending the text.
#[cfg_attr(proctap_size, optimize(size))]
fn entry_colon(s: &str) -> Option<usize> {
    if s.starts_with(['"', '\'', '[', '{']) {
        return None;
    }
    s.find(": ")
        .or_else(|| s.find(":\t"))
        .or_else(|| s.strip_suffix(':').map(str::len))
}

/// `key: value` or `key:`; the key may be quoted.
#[cfg_attr(proctap_size, optimize(size))]
fn split_entry(s: &str) -> Result<(String, Option<&str>), String> {
    if s.starts_with("? ") {
        return Err("complex keys (`? `) are not supported".into());
    }
    let (key, rest) = if s.starts_with(['"', '\'']) {
        let (k, len) = quoted(s)?;
        (k, s.get(len..).unwrap_or(""))
    } else {
        let colon = entry_colon(s).ok_or_else(|| format!("expected `key: value`, found {s:?}"))?;
        (
            s.get(..colon).unwrap_or("").trim_end().to_string(),
            s.get(colon..).unwrap_or(""),
        )
    };
    let rest = rest
        .strip_prefix(':')
        .ok_or_else(|| format!("expected `:` after the key in {s:?}"))?;
    if key.is_empty() {
        return Err("empty key".into());
    }
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return Err(format!("expected a space after the `:` of {key}"));
    }
    let rest = rest.trim();
    Ok((key, (!rest.is_empty()).then_some(rest)))
}

/// A value written on one line: a quoted or plain scalar, `[a, b]`, `{}`.
#[cfg_attr(proctap_size, optimize(size))]
fn scalar(text: &str, n: usize, what: &str) -> Result<Value, YamlError> {
    if text.starts_with(['"', '\'']) {
        let (s, len) = quoted(text).map_err(|m| YamlError { line: n, msg: m })?;
        if !text.get(len..).unwrap_or("").trim().is_empty() {
            return err(
                n,
                format!("unexpected text after the quoted value of {what}"),
            );
        }
        return Ok(Value::Scalar(Scalar {
            text: s,
            quoted: true,
        }));
    }
    if text.starts_with('[') {
        return flow_seq(text, n, what);
    }
    if text == "{}" {
        return Ok(Value::Map(Vec::new()));
    }
    plain(text, n, what)
}

#[cfg_attr(proctap_size, optimize(size))]
fn plain(text: &str, n: usize, what: &str) -> Result<Value, YamlError> {
    if text.starts_with([
        '{', '[', ']', '}', ',', '&', '*', '!', '|', '>', '%', '@', '`',
    ]) {
        return err(
            n,
            format!("{what}: unsupported YAML value {text:?}; quote it if it is a string"),
        );
    }
    if text.contains(": ") || text.ends_with(':') {
        return err(
            n,
            format!("{what}: {text:?} is not one plain value; quote it if it is a string"),
        );
    }
    if matches!(text, "~" | "null" | "Null" | "NULL") {
        return Ok(Value::Null);
    }
    Ok(Value::Scalar(Scalar {
        text: text.to_string(),
        quoted: false,
    }))
}

/// `[a, 'b, c', "d"]`: a list of scalars on one line.
#[cfg_attr(proctap_size, optimize(size))]
fn flow_seq(text: &str, n: usize, what: &str) -> Result<Value, YamlError> {
    let mut items = Vec::new();
    let mut rest = text.get(1..).unwrap_or("").trim_start();
    loop {
        if let Some(after) = rest.strip_prefix(']') {
            if !after.trim().is_empty() {
                return err(n, format!("unexpected text after the list of {what}"));
            }
            return Ok(Value::Seq(items));
        }
        let (item, after) = if rest.starts_with(['"', '\'']) {
            let (s, len) = quoted(rest).map_err(|m| YamlError { line: n, msg: m })?;
            (
                Value::Scalar(Scalar {
                    text: s,
                    quoted: true,
                }),
                rest.get(len..).unwrap_or(""),
            )
        } else {
            let end = rest.find([',', ']']).unwrap_or(rest.len());
            let word = rest.get(..end).unwrap_or("").trim();
            if word.is_empty() {
                return err(n, format!("{what}: expected a value in the list [..]"));
            }
            if word.starts_with('[') {
                return err(n, format!("{what}: nested lists are not supported"));
            }
            (plain(word, n, what)?, rest.get(end..).unwrap_or(""))
        };
        items.push(Node {
            line: n,
            value: item,
        });
        let after = after.trim_start();
        rest = match after.strip_prefix(',') {
            Some(r) => r.trim_start(),
            None if after.starts_with(']') => after,
            None => return err(n, format!("{what}: expected `,` or `]` in the list")),
        };
    }
}

/// Drops a `#` comment: at the start of the line or after a space, outside quotes.
#[cfg_attr(proctap_size, optimize(size))]
pub fn strip_comment(line: &str) -> Result<&str, &'static str> {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (None, '#') if prev == ' ' || prev == '\t' => return Ok(line.get(..i).unwrap_or("")),
            // A quote opens only where a value starts (after a space, `[` or `,`).
            (None, '"' | '\'') if matches!(prev, ' ' | '[' | ',') => quote = Some(c),
            (Some('"'), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => {
                // '' inside single quotes is an escaped quote.
                if q == '\'' && chars.peek().map(|&(_, c)| c) == Some('\'') {
                    chars.next();
                } else {
                    quote = None;
                }
            }
            _ => {}
        }
        prev = c;
    }
    if quote.is_some() {
        return Err("unterminated quoted string");
    }
    Ok(line)
}

/// A quoted scalar at the start of `s`: its text and the bytes it took.
#[cfg_attr(proctap_size, optimize(size))]
pub fn quoted(s: &str) -> Result<(String, usize), String> {
    let mut chars = s.char_indices();
    let Some((_, q)) = chars.next() else {
        return Err("empty string".into());
    };
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match (q, c) {
            ('\'', '\'') => {
                if s.get(i + 1..).is_some_and(|r| r.starts_with('\'')) {
                    chars.next();
                    out.push('\'');
                } else {
                    return Ok((out, i + 1));
                }
            }
            ('"', '"') => return Ok((out, i + 1)),
            ('"', '\\') => match chars.next().map(|(_, c)| c) {
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('/') => out.push('/'),
                other => {
                    return Err(format!(
                        "unsupported escape \\{} in a double-quoted string",
                        other.map_or(String::new(), String::from)
                    ))
                }
            },
            _ => out.push(c),
        }
    }
    Err("unterminated quoted string".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::Scalar(Scalar {
            text: text.into(),
            quoted: false,
        })
    }

    /// The tree as a compact string: maps {k=v,...}, lists [a,...], null ~, quoted 'x'.
    fn show(n: &Node) -> String {
        match &n.value {
            Value::Null => "~".into(),
            Value::Scalar(sc) if sc.quoted => format!("'{}'", sc.text),
            Value::Scalar(sc) => sc.text.clone(),
            Value::Seq(items) => {
                let v: Vec<String> = items.iter().map(show).collect();
                format!("[{}]", v.join(","))
            }
            Value::Map(es) => {
                let v: Vec<String> = es
                    .iter()
                    .map(|e| format!("{}={}", e.key, show(&e.value)))
                    .collect();
                format!("{{{}}}", v.join(","))
            }
        }
    }

    fn p(text: &str) -> String {
        show(&parse(text).unwrap())
    }

    fn e(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn mappings_lists_and_scalars() {
        assert_eq!(p(""), "~");
        assert_eq!(p("# only a comment\n---\n"), "~");
        assert_eq!(
            p("a: 1\nb:\n  c: x y\n  d: 'q # r'\n"),
            "{a=1,b={c=x y,d='q # r'}}"
        );
        // process-exporter's README writes lists at the key's indentation and indented.
        let text = "process_names:\n  - comm:\n    - bash\n  - exe:\n      - postgres\n      - /usr/local/bin/prometheus\n    name: \"{{.ExeBase}}\"\n";
        assert_eq!(
            p(text),
            "{process_names=[{comm=[bash]},{exe=[postgres,/usr/local/bin/prometheus],name='{{.ExeBase}}'}]}"
        );
        assert_eq!(
            p("l: [a, 'b, c', \"d\"]\nm: []\nn: {}\no: ~\np:\n"),
            "{l=[a,'b, c','d'],m=[],n={},o=~,p=~}"
        );
        assert_eq!(
            p("- -config.path\\s+(?P<Cfgfile>\\S+)\n- upstart:-user\n-\n  k: v\n"),
            "[-config.path\\s+(?P<Cfgfile>\\S+),upstart:-user,{k=v}]"
        );
        assert_eq!(p("'a b': \"c\\td\"\n"), "{a b='c\td'}");
    }

    #[test]
    fn lines_are_kept() {
        let n = parse("x:\n\n  - a\n  - b: 1\n    c: 2\n").unwrap();
        let Value::Map(es) = &n.value else { panic!() };
        assert_eq!(es[0].line, 1);
        let Value::Seq(items) = &es[0].value.value else {
            panic!()
        };
        assert_eq!((items[0].line, items[1].line), (3, 4));
        assert_eq!(items[0].value, s("a"));
        let Value::Map(inner) = &items[1].value else {
            panic!()
        };
        assert_eq!(inner[1].line, 5);
    }

    #[test]
    fn errors_name_the_line() {
        for (text, want) in [
            ("a:\n\tb: 1\n", "line 2: tabs are not allowed"),
            (
                "a:\n  b: 1\n   c: 2\n",
                "line 3: indentation of 3 spaces where the entries above have 2",
            ),
            ("a:\n    b: 1\n  c: 2\n", "line 3: indentation of 2 spaces"),
            ("  a: 1\n", "line 1: indented line at the top level"),
            ("a: 1\na: 2\n", "line 2: a set twice (first on line 1)"),
            ("a: &x 1\n", "line 1: a: unsupported YAML value \"&x 1\""),
            ("a: |\n  text\n", "line 1: a: unsupported YAML value"),
            ("a: {b: 1}\n", "line 1: a: unsupported YAML value"),
            ("a: \"open\n", "line 1: unterminated quoted string"),
            ("a: b: c\n", "line 1: a: \"b: c\" is not one plain value"),
            (
                "a: x\n  more\n",
                "line 2: indentation of 2 spaces where the entries above have 0 (multi-line",
            ),
            ("a b\n", "line 1: expected `key: value`, found \"a b\""),
            ("a:\n  - x\n  y: 1\n", "line 3: indentation of 2 spaces"),
            (
                "a: 1\n- x\n",
                "line 2: a list item where a `key: value` was expected",
            ),
            ("a: [x, [y]]\n", "nested lists are not supported"),
            ("a: [x y\n", "expected `,` or `]`"),
            ("a: 'x' y\n", "unexpected text after the quoted value of a"),
            ("- - x\n", "a list inside a list"),
            ("a: 1\n---\nb: 2\n", "line 2: only one YAML document"),
            ("a:b\n", "expected `key: value`"),
            ("\"k\"x: 1\n", "expected `:` after the key"),
        ] {
            let got = e(text);
            assert!(
                got.contains(want),
                "{text:?}: {got:?} should contain {want:?}"
            );
        }
    }

    #[test]
    fn comments_and_quotes() {
        assert_eq!(strip_comment("a: b # c"), Ok("a: b "));
        assert_eq!(
            strip_comment("a: b#c"),
            Ok("a: b#c"),
            "# inside a word is text"
        );
        assert_eq!(strip_comment("a: \"b # c\" # d"), Ok("a: \"b # c\" "));
        assert_eq!(strip_comment("a: 'it''s # x' # d"), Ok("a: 'it''s # x' "));
        assert_eq!(strip_comment("a: [b, '# c'] # d"), Ok("a: [b, '# c'] "));
        assert_eq!(strip_comment("# all"), Ok(""));
        assert_eq!(quoted("\"a\\\"b\\\\\" x"), Ok(("a\"b\\".into(), 8)));
        assert_eq!(quoted("'a''b'"), Ok(("a'b".into(), 6)));
        assert!(quoted("\"\\x\"")
            .unwrap_err()
            .contains("unsupported escape"));
    }
}
