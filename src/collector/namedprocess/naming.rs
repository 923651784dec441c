//! Grouping as process-exporter does it, so its users bring their configuration along:
//! the `--config.path` YAML (`process_names` with `comm`, `exe` and `cmdline` matchers and
//! `name` templates) and the `-procnames` / `-namemapping` flags. Pure: a process is described
//! by [`Attrs`], read by the caller once, when the process is first seen.
//!
//! As in process-exporter 0.7.10: the first entry whose matchers all match names the process;
//! `comm` and `exe` are lists of alternatives, `cmdline` a list of regexes that must all match
//! the arguments joined by spaces; an unmatched process is not in any group. Where
//! process-exporter would quietly produce an odd name (an unknown template field prints
//! `<no value>`, an unknown key is ignored), proctap refuses the file with the line instead.
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use regex_lite::Regex;

use crate::config::ConfigError;
use crate::yaml::{self, Node, Value};

/// What a matcher or a name template may look at.
#[derive(Debug, Clone, Copy)]
pub struct Attrs<'a> {
    /// /proc/<pid>/stat's comm.
    pub comm: &'a str,
    /// /proc/<pid>/cmdline with trailing NULs dropped, split at NUL (empty: no arguments).
    pub argv: &'a [&'a str],
    /// `argv` joined by spaces, what `cmdline` regexes see.
    pub cmdline: &'a str,
    /// The user name of the effective uid (its number when unknown).
    pub username: &'a str,
    pub pid: u32,
    /// Start time in nanoseconds since the epoch.
    pub start_ns: u64,
    /// /proc/<pid>/cgroup: the path of each line, in file order.
    pub cgroups: &'a [&'a str],
}

/// How groups are named: process-exporter's config file or its -procnames/-namemapping.
#[derive(Debug, Clone)]
pub enum Namer {
    Config(Vec<Rule>),
    Mapping(HashMap<String, Option<Regex>>),
}

impl Namer {
    /// The group of a process, or None when nothing matches (it is then not reported).
    pub fn name(&self, a: &Attrs) -> Option<String> {
        match self {
            Namer::Config(rules) => rules.iter().find_map(|r| r.name(a)),
            Namer::Mapping(map) => match map.get(a.comm)? {
                None => Some(a.comm.to_string()),
                // The first non-empty group after the whole match, as main.go's nameMapperRegex.
                Some(re) => {
                    let caps = re.captures(a.cmdline)?;
                    let m = caps
                        .iter()
                        .skip(1)
                        .flatten()
                        .find(|m| !m.as_str().is_empty())?;
                    Some(format!("{}:{}", a.comm, m.as_str()))
                }
            },
        }
    }

    /// Whether `{{.Cgroups}}` is used (so /proc/<pid>/cgroup's paths are needed).
    pub fn wants_cgroups(&self) -> bool {
        match self {
            Namer::Config(rules) => rules.iter().any(|r| r.name.0.contains(&Part::Cgroups)),
            Namer::Mapping(_) => false,
        }
    }
}

/// One `process_names` entry.
#[derive(Debug, Clone)]
pub struct Rule {
    /// 0 when empty (no comm matcher).
    comm: Option<Vec<String>>,
    /// (basename of argv[0], the full argv[0] it must equal when the entry has a slash).
    exe: Option<Vec<(String, Option<String>)>>,
    cmdline: Vec<Regex>,
    name: Template,
}

impl Rule {
    fn name(&self, a: &Attrs) -> Option<String> {
        if let Some(comms) = &self.comm {
            if !comms.iter().any(|c| c == a.comm) {
                return None;
            }
        }
        if let Some(exes) = &self.exe {
            let argv0 = a.argv.first()?;
            let base = go_base(argv0);
            // A later entry with the same basename replaces an earlier one (a Go map).
            let (_, full) = exes.iter().rev().find(|(b, _)| b == base)?;
            if full.as_deref().is_some_and(|f| f != *argv0) {
                return None;
            }
        }
        let mut captures: Vec<(&str, &str)> = Vec::new();
        for re in &self.cmdline {
            let caps = re.captures(a.cmdline)?;
            for name in re.capture_names().flatten() {
                let v = caps.name(name).map_or("", |m| m.as_str());
                captures.push((name, v));
            }
        }
        Some(self.name.render(a, &captures))
    }
}

/// A `name` template: text and `{{.Field}}` actions.
#[derive(Debug, Clone, PartialEq)]
struct Template(Vec<Part>);

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Comm,
    ExeBase,
    ExeFull,
    Username,
    Pid,
    StartTime,
    Cgroups,
    Match(String),
}

impl Template {
    fn render(&self, a: &Attrs, captures: &[(&str, &str)]) -> String {
        let mut out = String::new();
        let (exe_full, exe_base) = match a.argv.first() {
            Some(argv0) => (*argv0, go_base(argv0)),
            None => (a.comm, a.comm),
        };
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Comm => out.push_str(a.comm),
                Part::ExeBase => out.push_str(exe_base),
                Part::ExeFull => out.push_str(exe_full),
                Part::Username => out.push_str(a.username),
                Part::Pid => {
                    let _ = write!(out, "{}", a.pid);
                }
                Part::StartTime => go_time(a.start_ns, &mut out),
                Part::Cgroups => {
                    out.push('[');
                    out.push_str(&a.cgroups.join(" "));
                    out.push(']');
                }
                // The last regex that set a name wins, as in process-exporter's shared map.
                Part::Match(name) => {
                    if let Some((_, v)) = captures.iter().rev().find(|(n, _)| n == name) {
                        out.push_str(v);
                    }
                }
            }
        }
        out
    }
}

/// Parses a template; `groups` are the capture names its entry's regexes define.
#[cfg_attr(proctap_size, optimize(size))]
fn parse_template(text: &str, groups: &[&str]) -> Result<Template, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let mut lit = rest.get(..open).unwrap_or("").to_string();
        let after = rest.get(open + 2..).unwrap_or("");
        let close = after
            .find("}}")
            .ok_or_else(|| format!("template {text:?}: {{{{ without }}}}"))?;
        let mut action = after.get(..close).unwrap_or("");
        rest = after.get(close + 2..).unwrap_or("");
        // {{- and -}} trim the white space next to the action, as in Go's text/template.
        if let Some(a) = action.strip_prefix("- ") {
            lit.truncate(lit.trim_end().len());
            action = a;
        }
        if let Some(a) = action.strip_suffix(" -") {
            rest = rest.trim_start();
            action = a;
        }
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        let field = action.trim();
        parts.push(match field {
            ".Comm" => Part::Comm,
            ".ExeBase" => Part::ExeBase,
            ".ExeFull" => Part::ExeFull,
            ".Username" => Part::Username,
            ".PID" => Part::Pid,
            ".StartTime" => Part::StartTime,
            ".Cgroups" => Part::Cgroups,
            f => match f.strip_prefix(".Matches.") {
                Some(name) if groups.contains(&name) => Part::Match(name.to_string()),
                Some(name) => {
                    return Err(format!(
                    "template {text:?}: no cmdline regex of this entry has a group named {name:?} \
                         (write it as (?P<{name}>...))"
                ))
                }
                None => {
                    return Err(format!(
                    "template {text:?}: unknown field {f:?}; expected .Comm, .ExeBase, .ExeFull, \
                         .Username, .PID, .StartTime, .Cgroups or .Matches.NAME"
                ))
                }
            },
        });
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Ok(Template(parts))
}

/// Reads and parses `--config.path`; the file is capped at 1 MiB.
#[cfg_attr(proctap_size, optimize(size))]
pub fn read_config(path: &Path) -> Result<Namer, ConfigError> {
    let err = |msg: String| ConfigError {
        file: path.to_path_buf(),
        line: 0,
        key: None,
        msg,
    };
    // Only a regular file: a FIFO here would block the start (see source::open_regular).
    let text = crate::source::read_user_file(path, 1 << 20)
        .map_err(|e| err(format!("cannot read: {e}")))?;
    parse_config(path, &text)
}

/// Parses process-exporter's YAML config.
#[cfg_attr(proctap_size, optimize(size))]
pub fn parse_config(file: &Path, text: &str) -> Result<Namer, ConfigError> {
    let err = |line: usize, key: Option<&str>, msg: String| ConfigError {
        file: file.to_path_buf(),
        line,
        key: key.map(str::to_string),
        msg,
    };
    let root = yaml::parse(text).map_err(|e| err(e.line, None, e.msg))?;
    let top = match root.value {
        Value::Map(top) => top,
        Value::Null => Vec::new(),
        _ => {
            return Err(err(
                root.line,
                None,
                format!(
                    "expected a mapping with a process_names list, found {}",
                    root.kind()
                ),
            ))
        }
    };
    let mut names = None;
    for e in top {
        if e.key != "process_names" {
            return Err(err(
                e.line,
                Some(&e.key),
                "unknown key (process-exporter's config has only process_names)".into(),
            ));
        }
        names = Some(e);
    }
    let Some(names) = names else {
        return Err(err(0, None, "no top-level process_names list".into()));
    };
    let Value::Seq(items) = names.value.value else {
        return Err(err(
            names.line,
            Some("process_names"),
            format!(
                "expected a list of matchers (`- comm: ...`), found {}",
                names.value.kind()
            ),
        ));
    };
    let mut rules = Vec::new();
    for item in items {
        let Value::Map(entries) = item.value else {
            return Err(err(
                item.line,
                Some("process_names"),
                format!(
                    "expected a mapping of name, comm, exe, cmdline, found {}",
                    item.kind()
                ),
            ));
        };
        let (mut comm, mut exe, mut cmdline) = (None, None, None);
        let mut name: Option<(usize, String)> = None;
        for e in entries {
            let key = e.key.as_str();
            match key {
                "name" => match e.value.value {
                    Value::Scalar(s) => name = Some((e.line, s.text)),
                    Value::Null => {}
                    _ => {
                        return Err(err(
                            e.line,
                            Some(key),
                            format!("expected a template string, found {}", e.value.kind()),
                        ))
                    }
                },
                "comm" | "exe" | "cmdline" => {
                    let list = strings(&e.value).map_err(|m| err(e.line, Some(key), m))?;
                    match key {
                        "comm" => comm = Some(list),
                        "exe" => exe = Some(list),
                        _ => cmdline = Some(list),
                    }
                }
                _ => return Err(err(
                    e.line,
                    Some(key),
                    "unknown key in a process_names entry (expected name, comm, exe or cmdline)"
                        .into(),
                )),
            }
        }
        if comm.is_none() && exe.is_none() && cmdline.is_none() {
            return Err(err(
                item.line,
                Some("process_names"),
                "an entry needs at least one of comm, exe or cmdline".into(),
            ));
        }
        let mut regexes = Vec::new();
        for (line, re) in cmdline.unwrap_or_default() {
            let r = Regex::new(&re)
                .map_err(|e| err(line, Some("cmdline"), format!("bad regex {re:?}: {e}")))?;
            regexes.push(r);
        }
        let groups: Vec<&str> = regexes
            .iter()
            .flat_map(|r| r.capture_names().flatten())
            .collect();
        let (line, text) = name.unwrap_or((item.line, "{{.ExeBase}}".into()));
        let template = parse_template(&text, &groups).map_err(|m| err(line, Some("name"), m))?;
        rules.push(Rule {
            comm: comm.map(|l| l.into_iter().map(|(_, s)| s).collect()),
            exe: exe.map(|l| {
                l.into_iter()
                    .map(|(_, e)| {
                        if e.contains('/') {
                            (go_base(&e).to_string(), Some(e))
                        } else {
                            (e, None)
                        }
                    })
                    .collect()
            }),
            cmdline: regexes,
            name: template,
        });
    }
    Ok(Namer::Config(rules))
}

/// A list of strings with the line of each.
#[cfg_attr(proctap_size, optimize(size))]
fn strings(node: &Node) -> Result<Vec<(usize, String)>, String> {
    let Value::Seq(items) = &node.value else {
        return Err(format!(
            "expected a list of strings (`- item` lines or [a, b]), found {}",
            node.kind()
        ));
    };
    items
        .iter()
        .map(|i| match &i.value {
            Value::Scalar(s) => Ok((i.line, s.text.clone())),
            _ => Err(format!(
                "line {}: expected a string in the list, found {}",
                i.line,
                i.kind()
            )),
        })
        .collect()
}

/// `-procnames a,b` and `-namemapping "name,regex,..."`, as process-exporter's main.go reads
/// them: every name of either becomes a group; a mapped name is `name:` + the first non-empty
/// capture of its regex on the command line (a process of that name is left out otherwise).
#[cfg_attr(proctap_size, optimize(size))]
pub fn mapping(procnames: &[String], namemapping: &str) -> Result<Namer, String> {
    let mut map: HashMap<String, Option<Regex>> = HashMap::new();
    if !namemapping.is_empty() {
        let toks: Vec<&str> = namemapping.split(',').collect();
        if toks.len() % 2 == 1 {
            return Err("odd number of tokens: expected name,regex pairs".into());
        }
        for (i, tok) in toks.iter().enumerate() {
            if tok.is_empty() {
                return Err(format!("token {i} is empty"));
            }
        }
        for pair in toks.chunks(2) {
            if let [name, re] = pair {
                let r = Regex::new(re).map_err(|e| format!("bad regex {re:?}: {e}"))?;
                map.insert(name.to_string(), Some(r));
            }
        }
    }
    for n in procnames {
        map.entry(n.clone()).or_insert(None);
    }
    Ok(Namer::Mapping(map))
}

/// Go's `filepath.Base`: the last element, trailing slashes ignored; "" is "." and "///" is "/".
pub fn go_base(path: &str) -> &str {
    if path.is_empty() {
        return ".";
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// A UTC time as Go's `time.Time.String()` prints it: `2025-03-31 13:00:18.4 +0000 UTC`
/// (the fraction without trailing zeros, none when whole).
pub fn go_time(ns: u64, out: &mut String) {
    let secs = ns / 1_000_000_000;
    let frac = ns % 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    if frac > 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (Howard
/// Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_as_config_is_refused_not_waited_on() {
        let dir = std::env::temp_dir().join(format!("proctap-naming-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("config.yml");
        let c = std::ffi::CString::new(fifo.clone().into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_config(&fifo).err().unwrap().to_string();
        assert!(
            e.contains("cannot read: a FIFO: expected a regular file"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn attrs<'a>(comm: &'a str, argv: &'a [&'a str], cmdline: &'a str) -> Attrs<'a> {
        Attrs {
            comm,
            argv,
            cmdline,
            username: "postgres",
            pid: 812,
            start_ns: 1_743_426_018_400_000_000,
            cgroups: &["/", "/system.slice/postgresql.service"],
        }
    }

    fn config(text: &str) -> Namer {
        parse_config(Path::new("/etc/pe.yml"), text).unwrap()
    }

    fn error(text: &str) -> String {
        parse_config(Path::new("/etc/pe.yml"), text)
            .unwrap_err()
            .to_string()
    }

    /// The first example of process-exporter's README.
    const README: &str = r#"
process_names:
  # comm is the second field of /proc/<pid>/stat minus parens.
  - comm:
    - bash

  # exe is argv[0]. If no slashes, only basename of argv[0] need match.
  - exe:
    - postgres
    - /usr/local/bin/prometheus

  # cmdline is a list of regexps applied to argv.
  - name: "{{.ExeFull}}:{{.Matches.Cfgfile}}"
    exe:
    - /usr/local/bin/process-exporter
    cmdline:
    - -config.path\s+(?P<Cfgfile>\S+)
"#;

    #[test]
    fn readme_example_matches_as_process_exporter() {
        let n = config(README);
        let name = |comm, argv: &[&str]| {
            let joined = argv.join(" ");
            n.name(&attrs(comm, argv, &joined))
        };
        assert_eq!(
            name("bash", &["-bash"]).as_deref(),
            Some("-bash"),
            "ExeBase by default"
        );
        assert_eq!(name("bash", &[]).as_deref(), Some("bash"), "no argv: comm");
        assert_eq!(
            name(
                "postgres",
                &["/usr/lib/postgresql/15/bin/postgres", "-D", "x"]
            )
            .as_deref(),
            Some("postgres"),
            "exe without a slash: any path with that basename"
        );
        assert_eq!(
            name("prometheus", &["/usr/local/bin/prometheus"]).as_deref(),
            Some("prometheus")
        );
        assert_eq!(
            name("prometheus", &["/usr/bin/prometheus"]),
            None,
            "exe with a slash: argv[0] must equal it"
        );
        assert_eq!(
            name(
                "process-exporte",
                &[
                    "/usr/local/bin/process-exporter",
                    "-config.path",
                    "/etc/pe.yml"
                ]
            )
            .as_deref(),
            Some("/usr/local/bin/process-exporter:/etc/pe.yml")
        );
        assert_eq!(
            name("process-exporte", &["/usr/local/bin/process-exporter"]),
            None,
            "every cmdline regex must match"
        );
        assert_eq!(
            name("sshd", &["sshd: root"]),
            None,
            "unmatched: not reported"
        );
    }

    #[test]
    fn first_match_wins_and_templates_fill_fields() {
        let n = config(
            "process_names:\n  - name: \"{{.Comm}}|{{.Username}}|{{.PID}}|{{.StartTime}}|{{.Cgroups}}|{{.ExeBase}}\"\n    comm: [postgres]\n  - name: never\n    cmdline: ['.+']\n",
        );
        let argv = ["/usr/bin/postgres", "-D", "/var/lib/postgres"];
        let joined = argv.join(" ");
        assert_eq!(
            n.name(&attrs("postgres", &argv, &joined)).as_deref(),
            Some("postgres|postgres|812|2025-03-31 13:00:18.4 +0000 UTC|[/ /system.slice/postgresql.service]|postgres")
        );
        assert!(n.wants_cgroups());
        assert_eq!(
            n.name(&attrs("nginx", &["nginx"], "nginx")).as_deref(),
            Some("never")
        );
        assert_eq!(
            n.name(&attrs("kthreadd", &[], "")),
            None,
            "'.+' needs arguments"
        );
        let n = config("process_names:\n  - name: \"{{- .Comm -}} x {{ .Matches.a }}\"\n    cmdline:\n    - 'w(?P<a>\\d)?'\n");
        assert_eq!(
            n.name(&attrs("c", &["w"], "w")).as_deref(),
            Some("cx "),
            "trim markers; a group that took no part is empty"
        );
    }

    #[test]
    fn malformed_configs_name_file_line_and_expectation() {
        for (text, want) in [
            ("process_names:\n  - comm:\n    - bash\n   - sh\n", "/etc/pe.yml:4: indentation of 3 spaces"),
            ("process_names:\n\t- comm: [bash]\n", "/etc/pe.yml:2: tabs are not allowed"),
            ("process_names:\n  - comm: [bash]\n    user: root\n", "/etc/pe.yml:3: key user: unknown key in a process_names entry"),
            ("process_name:\n  - comm: [bash]\n", "/etc/pe.yml:1: key process_name: unknown key"),
            ("process_names:\n  - cmdline:\n    - 'a(b'\n", "/etc/pe.yml:3: key cmdline: bad regex \"a(b\""),
            ("process_names:\n  - name: '{{.Exe}}'\n    comm: [x]\n", "/etc/pe.yml:2: key name: template \"{{.Exe}}\": unknown field \".Exe\""),
            ("process_names:\n  - name: '{{.Matches.cfg}}'\n    cmdline: ['(?P<Cfg>x)']\n", "no cmdline regex of this entry has a group named \"cfg\""),
            ("process_names:\n  - name: '{{.Comm'\n    comm: [x]\n", "{{ without }}"),
            ("process_names:\n  - name: x\n", "/etc/pe.yml:2: key process_names: an entry needs at least one of comm, exe or cmdline"),
            ("process_names:\n  - comm: bash\n", "/etc/pe.yml:2: key comm: expected a list of strings"),
            ("process_names: {}\n", "expected a list of matchers"),
            ("", "no top-level process_names list"),
            ("process_names:\n  - name: {{.Comm}}\n    comm: [x]\n", ":2: name: unsupported YAML value \"{{.Comm}}\"; quote it"),
        ] {
            let got = error(text);
            assert!(got.contains(want), "{text:?}: {got:?} should contain {want:?}");
        }
    }

    #[test]
    fn procnames_and_namemapping() {
        let n = mapping(
            &["bash".into(), "java".into()],
            r"python2,([^/]+)\.py,java,-jar\s+([^/]+).jar",
        )
        .unwrap();
        let name = |comm, cmdline| n.name(&attrs(comm, &[], cmdline));
        assert_eq!(name("bash", "-bash").as_deref(), Some("bash"));
        assert_eq!(
            name("python2", "python2 /opt/x/job.py").as_deref(),
            Some("python2:job")
        );
        assert_eq!(
            name("java", "java -jar /srv/billing.jar").as_deref(),
            None,
            "[^/]+ stops at /"
        );
        assert_eq!(
            name("java", "java -jar billing.jar").as_deref(),
            Some("java:billing")
        );
        assert_eq!(
            name("java", "java -cp x Main"),
            None,
            "a mapped name without a match is left out"
        );
        assert_eq!(name("sh", "sh"), None);
        assert!(mapping(&[], "a,b,c").unwrap_err().contains("odd number"));
        assert!(mapping(&[], "a,,b,c")
            .unwrap_err()
            .contains("token 1 is empty"));
        assert!(mapping(&[], "a,(").unwrap_err().contains("bad regex"));
    }

    #[test]
    fn go_base_and_time() {
        assert_eq!(go_base("/usr/bin/x"), "x");
        assert_eq!(go_base("x/"), "x");
        assert_eq!(go_base(""), ".");
        assert_eq!(go_base("//"), "/");
        let mut s = String::new();
        go_time(0, &mut s);
        assert_eq!(s, "1970-01-01 00:00:00 +0000 UTC");
        s.clear();
        // 2024-02-29 23:59:59.05 (a leap day)
        go_time(1_709_251_199_050_000_000, &mut s);
        assert_eq!(s, "2024-02-29 23:59:59.05 +0000 UTC");
    }
}
