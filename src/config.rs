//! The config file: one `key = value` per line, `#` comments — a subset of TOML, so editors
//! highlight it. Keys are the long flag names without dashes; this module only reads the
//! syntax, `cli` decides what each key means.
use std::fmt;
use std::path::{Path, PathBuf};

/// A value as written in the file (or on the command line, where everything is a string).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    Int(i64),
    Float(f64),
    List(Vec<String>),
}

impl Value {
    /// Writes the value in the file's syntax, so `proctap config` output reads back.
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn to_toml(&self) -> String {
        match self {
            // Regexes read better as literal strings: '^(ram|loop)\d+$'.
            Value::Str(s)
                if s.contains('\\')
                    && !s.contains(['\'', '\n', '\r'])
                    && !s.chars().any(char::is_control) =>
            {
                format!("'{s}'")
            }
            Value::Str(s) => quote(s),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => {
                let s = f.to_string();
                if s.contains(['.', 'e', 'E']) || !f.is_finite() {
                    s
                } else {
                    format!("{s}.0")
                }
            }
            Value::List(items) => {
                let inner: Vec<String> = items.iter().map(|s| quote(s)).collect();
                format!("[{}]", inner.join(", "))
            }
        }
    }

    #[cfg_attr(proctap_size, optimize(size))]
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::List(_) => "a list",
        }
    }
}

/// A TOML basic string with the escapes TOML requires.
#[cfg_attr(proctap_size, optimize(size))]
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One `key = value` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub line: usize,
    pub key: String,
    pub value: Value,
}

/// A config file problem: the file, the 1-based line, the key when known, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub key: Option<String>,
    pub msg: String,
}

impl fmt::Display for ConfigError {
    #[cfg_attr(proctap_size, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if let Some(k) = &self.key {
            write!(f, ": key {k}")?;
        }
        write!(f, ": {}", self.msg)
    }
}

/// Parses the text of a config file; `file` only names it in errors.
#[cfg_attr(proctap_size, optimize(size))]
pub fn parse(file: &Path, text: &str) -> Result<Vec<Entry>, ConfigError> {
    let err = |line: usize, key: Option<&str>, msg: String| ConfigError {
        file: file.to_path_buf(),
        line,
        key: key.map(str::to_string),
        msg,
    };
    let mut entries: Vec<Entry> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            return Err(err(n, None, "tables are not supported: write the full key, e.g. collector.diskstats.device-exclude = \"^loop\"".into()));
        }
        let (key, rest) = split_key(line).map_err(|m| err(n, None, m))?;
        let value = parse_value(rest.trim()).map_err(|m| err(n, Some(&key), m))?;
        if let Some(first) = entries.iter().find(|e| e.key == key) {
            return Err(err(
                n,
                Some(&key),
                format!("set twice (first on line {})", first.line),
            ));
        }
        entries.push(Entry {
            line: n,
            key,
            value,
        });
    }
    Ok(entries)
}

/// Splits `key = value` into the key and the text after `=`. A key is bare (letters, digits,
/// `.`, `-`, `_`) or quoted as in TOML (`"a b"`, `'kafka\.Kafka'`), for keys that hold
/// characters a bare key may not, such as the process rules file's patterns.
#[cfg_attr(proctap_size, optimize(size))]
fn split_key(line: &str) -> Result<(String, &str), String> {
    if line.starts_with(['"', '\'']) {
        let mut p = Cursor { s: line, pos: 0 };
        let key = if line.starts_with('"') {
            p.basic_string()
        } else {
            p.literal_string()
        }
        .map_err(|m| format!("in the key: {m}"))?;
        if key.is_empty() {
            return Err("expected a key, found an empty quoted key".into());
        }
        p.skip_ws();
        return match p.rest().strip_prefix('=') {
            Some(rest) => Ok((key, rest)),
            None => Err(format!(
                "expected `=` after the key {}, found {:?}",
                quote(&key),
                p.rest()
            )),
        };
    }
    let Some((key, rest)) = line.split_once('=') else {
        return Err(format!("expected `key = value`, found {line:?}"));
    };
    let key = key.trim();
    let key_ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && !key.starts_with(['.', '-'])
        && !key.ends_with('.');
    if !key_ok {
        return Err(format!(
            "expected a key of letters, digits, '.', '-' and '_' (or a quoted key), found {key:?}"
        ));
    }
    Ok((key.to_string(), rest))
}

/// Parses a value and an optional trailing comment.
#[cfg_attr(proctap_size, optimize(size))]
fn parse_value(s: &str) -> Result<Value, String> {
    let mut p = Cursor { s, pos: 0 };
    let v = p.value()?;
    p.skip_ws();
    match p.rest() {
        "" => Ok(v),
        r if r.starts_with('#') => Ok(v),
        r => Err(format!("unexpected {r:?} after the value")),
    }
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[cfg_attr(proctap_size, optimize(size))]
    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    #[cfg_attr(proctap_size, optimize(size))]
    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    #[cfg_attr(proctap_size, optimize(size))]
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    #[cfg_attr(proctap_size, optimize(size))]
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    #[cfg_attr(proctap_size, optimize(size))]
    fn value(&mut self) -> Result<Value, String> {
        self.skip_ws();
        match self.peek() {
            None => Err("expected a value after `=`".into()),
            Some('"') => self.basic_string().map(Value::Str),
            Some('\'') => self.literal_string().map(Value::Str),
            Some('[') => self.list(),
            Some(_) => self.bare(),
        }
    }

    #[cfg_attr(proctap_size, optimize(size))]
    fn basic_string(&mut self) -> Result<String, String> {
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err("unterminated string: expected a closing \"".into()),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some(u @ ('u' | 'U')) => {
                        let len = if u == 'u' { 4 } else { 8 };
                        let hex = self.rest().get(..len).unwrap_or("");
                        let c = u32::from_str_radix(hex, 16)
                            .ok()
                            .filter(|_| hex.len() == len)
                            .and_then(char::from_u32)
                            .ok_or_else(|| format!("invalid \\{u} escape {hex:?}"))?;
                        self.pos += len;
                        out.push(c);
                    }
                    Some(c) => {
                        return Err(format!(
                            "invalid escape \\{c} in a string (use '...' for regexes)"
                        ))
                    }
                    None => return Err("unterminated string: expected a closing \"".into()),
                },
                Some(c) => out.push(c),
            }
        }
    }

    #[cfg_attr(proctap_size, optimize(size))]
    fn literal_string(&mut self) -> Result<String, String> {
        self.bump();
        let rest = self.rest();
        let end = rest
            .find('\'')
            .ok_or("unterminated string: expected a closing '")?;
        self.pos += end + 1;
        Ok(rest.get(..end).unwrap_or("").to_string())
    }

    #[cfg_attr(proctap_size, optimize(size))]
    fn list(&mut self) -> Result<Value, String> {
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(']') => {
                    self.bump();
                    return Ok(Value::List(items));
                }
                None => return Err("unterminated list: expected ]".into()),
                _ => {}
            }
            match self.value()? {
                Value::Str(s) => items.push(s),
                other => {
                    return Err(format!(
                        "expected a list of strings, found {}",
                        other.kind()
                    ))
                }
            }
            self.skip_ws();
            match self.bump() {
                Some(',') => {}
                Some(']') => return Ok(Value::List(items)),
                _ => return Err("expected , or ] in the list".into()),
            }
        }
    }

    #[cfg_attr(proctap_size, optimize(size))]
    fn bare(&mut self) -> Result<Value, String> {
        let rest = self.rest();
        let end = rest.find([' ', '\t', '#', ',', ']']).unwrap_or(rest.len());
        let word = rest.get(..end).unwrap_or("");
        self.pos += end;
        match word {
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            _ => {}
        }
        let digits = word.replace('_', "");
        if let Ok(i) = digits.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        if word.contains(['.', 'e', 'E']) {
            if let Ok(f) = digits.parse::<f64>() {
                return Ok(Value::Float(f));
            }
        }
        Err(format!(
            "expected a quoted string, true, false, a number or a [list], found {word:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Vec<Entry>, ConfigError> {
        parse(Path::new("/etc/proctap.conf"), text)
    }

    fn values(text: &str) -> Vec<(String, Value)> {
        p(text)
            .unwrap()
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect()
    }

    #[test]
    fn values_of_every_kind() {
        let text = r#"
# proctap configuration
listen = "0.0.0.0:9100"   # trailing comment
collectors = ["cpu", "meminfo",]
collector.diskstats.device-exclude = '^(loop|ram)\d+$'
collector.cpu = false
interval = 15
ratio = 0.5
escaped = "a \"b\" \\ \u00e9\n"
empty = []
"#;
        assert_eq!(
            values(text),
            vec![
                ("listen".into(), Value::Str("0.0.0.0:9100".into())),
                (
                    "collectors".into(),
                    Value::List(vec!["cpu".into(), "meminfo".into()])
                ),
                (
                    "collector.diskstats.device-exclude".into(),
                    Value::Str(r"^(loop|ram)\d+$".into())
                ),
                ("collector.cpu".into(), Value::Bool(false)),
                ("interval".into(), Value::Int(15)),
                ("ratio".into(), Value::Float(0.5)),
                ("escaped".into(), Value::Str("a \"b\" \\ é\n".into())),
                ("empty".into(), Value::List(vec![])),
            ]
        );
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = p("listen = \"x\"\n\nlisten = \"y\"\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/proctap.conf:3: key listen: set twice (first on line 1)"
        );
        let e = p("a = \"unterminated\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/proctap.conf:1: key a: unterminated string: expected a closing \""
        );
        let e = p("just words\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/proctap.conf:1: expected `key = value`, found \"just words\""
        );
        let e = p("x = yes\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/etc/proctap.conf:1: key x: expected a quoted string"),
            "{e}"
        );
        let e = p("re = \"\\d+\"\n").unwrap_err();
        assert!(e.to_string().contains("invalid escape \\d"), "{e}");
        let e = p("l = [\"a\", 1]\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("expected a list of strings, found an integer"),
            "{e}"
        );
        let e = p("l = [\"a\"\n").unwrap_err();
        assert!(e.to_string().contains("expected , or ]"), "{e}");
        let e = p("[collector]\n").unwrap_err();
        assert!(e.to_string().contains("tables are not supported"), "{e}");
        let e = p("bad key = 1\n").unwrap_err();
        assert!(e.to_string().contains("expected a key"), "{e}");
        let e = p("k = \"v\" extra\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("unexpected \"extra\" after the value"),
            "{e}"
        );
        let e = p("k =\n").unwrap_err();
        assert!(e.to_string().contains("expected a value"), "{e}");
    }

    #[test]
    fn quoted_keys() {
        let text = r#"
"my app" = "a/b"
'cmdline:kafka\.Kafka' = "messaging/kafka"
"cmdline:a=b" = 'x' # '=' inside a quoted key
"esc\"aped" = 1
"plain" = 2
"#;
        assert_eq!(
            values(text),
            vec![
                ("my app".into(), Value::Str("a/b".into())),
                (
                    r"cmdline:kafka\.Kafka".into(),
                    Value::Str("messaging/kafka".into())
                ),
                ("cmdline:a=b".into(), Value::Str("x".into())),
                ("esc\"aped".into(), Value::Int(1)),
                ("plain".into(), Value::Int(2)),
            ]
        );
        let e = p("plain = 1\n\"plain\" = 2\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/proctap.conf:2: key plain: set twice (first on line 1)"
        );
        let e = p("'unterminated = 1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/proctap.conf:1: in the key: unterminated string: expected a closing '"
        );
        let e = p("\"k\" : 1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/proctap.conf:1: expected `=` after the key \"k\", found \": 1\""
        );
        let e = p("'' = 1\n").unwrap_err();
        assert!(e.to_string().contains("empty quoted key"), "{e}");
    }

    #[test]
    fn quoting_round_trips() {
        for s in [
            "plain",
            "with \"quotes\" and \\",
            "tab\tnew\nline",
            "^(ram|loop)\\d+$",
            "\u{1}",
        ] {
            let text = format!("k = {}\n", Value::Str(s.into()).to_toml());
            assert_eq!(
                values(&text),
                vec![("k".into(), Value::Str(s.into()))],
                "{text}"
            );
        }
        let list = Value::List(vec!["a".into(), "b c".into()]);
        assert_eq!(
            values(&format!("k = {}", list.to_toml())),
            vec![("k".into(), list)]
        );
        assert_eq!(Value::Float(15.0).to_toml(), "15.0");
        assert_eq!(Value::Str(r"^\d+$".into()).to_toml(), r"'^\d+$'");
        assert_eq!(Value::Str(r"it's \d".into()).to_toml(), r#""it's \\d""#);
    }
}
