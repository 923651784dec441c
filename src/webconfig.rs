//! `--web.config-file`: the part of node_exporter's web configuration (exporter-toolkit) that
//! proctap serves — `tls_server_config` with `cert_file` and `key_file`, and
//! `basic_auth_users` with bcrypt hashes. The YAML is read by proctap's own subset reader
//! (src/yaml.rs); any key proctap does not serve is an error naming the file and line, so a
//! setting proctap would ignore is never silently dropped.
//!
//! Also here: the pure pieces of basic auth — the `Authorization` header's base64, and a bcrypt
//! hash string's cost, salt and digest — so they are tested without the `tls` feature.
#![cfg_attr(not(feature = "tls"), allow(dead_code))]
use std::fmt;
use std::path::{Path, PathBuf};

use crate::yaml::{self, Value};

/// The web configuration as read from the file; paths are resolved against its directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebConfig {
    pub tls: Option<TlsFiles>,
    /// (user, bcrypt hash) in file order.
    pub users: Vec<(String, BcryptHash)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// A bad web config file: `file:line: what`, line 0 when no line is to blame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for WebConfigError {
    #[cfg_attr(proctap_size, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.msg)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.msg)
        }
    }
}

/// Reads and parses the file; the file itself is capped at 1 MiB.
#[cfg_attr(proctap_size, optimize(size))]
pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
    let err = |msg: String| WebConfigError {
        file: path.to_path_buf(),
        line: 0,
        msg,
    };
    let text = crate::source::read_user_file(path, 1 << 20).map_err(|e| {
        err(match e.kind() {
            std::io::ErrorKind::InvalidData if e.to_string().starts_with("larger") => {
                "larger than 1 MiB".into()
            }
            _ => format!("cannot read: {e}"),
        })
    })?;
    parse(path, &text)
}

const TLS_KEYS: &str = "cert_file, key_file";

/// Parses the YAML (src/yaml.rs). `path` names the file in errors and anchors relative paths.
#[cfg_attr(proctap_size, optimize(size))]
pub fn parse(path: &Path, text: &str) -> Result<WebConfig, WebConfigError> {
    let err = |line: usize, msg: String| WebConfigError {
        file: path.to_path_buf(),
        line,
        msg,
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let mut cfg = WebConfig::default();
    let root = yaml::parse(text).map_err(|e| err(e.line, e.msg))?;
    let entries = match root.value {
        Value::Null => return Ok(cfg),
        Value::Map(entries) => entries,
        _ => {
            return Err(err(
                root.line,
                format!(
                    "expected tls_server_config and basic_auth_users, found {}",
                    root.kind()
                ),
            ))
        }
    };
    let mut tls: Option<(usize, Option<String>, Option<String>)> = None;
    for e in entries {
        let section = match e.key.as_str() {
            "tls_server_config" | "basic_auth_users" => e.key.as_str(),
            "http_server_config" => {
                return Err(err(
                    e.line,
                    "http_server_config is not supported by proctap (it serves HTTP/1.1 only)"
                        .into(),
                ))
            }
            k => {
                return Err(err(
                    e.line,
                    format!(
                        "unknown key {k:?} (proctap reads tls_server_config and basic_auth_users)"
                    ),
                ))
            }
        };
        let inner = match e.value.value {
            Value::Map(inner) => inner,
            Value::Null => Vec::new(),
            Value::Seq(_) => {
                return Err(err(
                    e.value.line,
                    format!("{section}: lists are not supported here"),
                ))
            }
            Value::Scalar(_) => {
                return Err(err(
                    e.line,
                    format!("{section} must be a mapping of keys on the lines below it"),
                ))
            }
        };
        let (mut cert, mut key) = (None, None);
        for kv in inner {
            let k = kv.key;
            let value = match kv.value.value {
                Value::Scalar(s) => s.text,
                Value::Null => return Err(err(kv.line, format!("{k} needs a value"))),
                _ => {
                    return Err(err(
                        kv.line,
                        format!("{k}: expected a string, found {}", kv.value.kind()),
                    ))
                }
            };
            if section == "basic_auth_users" {
                let hash = BcryptHash::parse(&value)
                    .map_err(|why| err(kv.line, format!("basic_auth_users: user {k:?}: {why}")))?;
                cfg.users.push((k, hash));
                continue;
            }
            match k.as_str() {
                "cert_file" => cert = Some(value),
                "key_file" => key = Some(value),
                _ => return Err(err(
                    kv.line,
                    format!("tls_server_config: key {k:?} is not supported by proctap (supported: {TLS_KEYS})"),
                )),
            }
        }
        if section == "tls_server_config" {
            tls = Some((e.line, cert, key));
        }
    }
    match tls {
        None => {}
        Some((_, Some(c), Some(k))) if !c.is_empty() && !k.is_empty() => {
            cfg.tls = Some(TlsFiles {
                cert_file: base.join(c),
                key_file: base.join(k),
            })
        }
        Some((line, _, _)) => {
            return Err(err(
                line,
                format!("tls_server_config needs both {TLS_KEYS}, not empty"),
            ))
        }
    }
    Ok(cfg)
}

/// A bcrypt hash string `$2y$10$` + 22 characters of salt + 31 of digest.
#[derive(Clone, PartialEq, Eq)]
pub struct BcryptHash {
    pub cost: u32,
    pub salt: [u8; 16],
    pub digest: [u8; 23],
}

impl fmt::Debug for BcryptHash {
    #[cfg_attr(proctap_size, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BcryptHash(cost {})", self.cost)
    }
}

impl BcryptHash {
    #[cfg_attr(proctap_size, optimize(size))]
    pub fn parse(s: &str) -> Result<BcryptHash, String> {
        let b = s.as_bytes();
        let (Some(prefix), Some(cost), Some(rest)) = (b.get(..4), b.get(4..7), b.get(7..)) else {
            return Err("expected a bcrypt hash ($2y$10$… 60 characters)".into());
        };
        if !matches!(prefix, b"$2a$" | b"$2b$" | b"$2y$") || b.len() != 60 {
            return Err("expected a bcrypt hash ($2y$10$… 60 characters)".into());
        }
        let cost = match cost {
            [a @ b'0'..=b'9', c @ b'0'..=b'9', b'$'] => u32::from((a - b'0') * 10 + (c - b'0')),
            _ => return Err("expected a two-digit cost after $2y$".into()),
        };
        if !(4..=31).contains(&cost) {
            return Err(format!("bcrypt cost {cost} is outside 4 to 31"));
        }
        let (salt, digest) = rest.split_at(22.min(rest.len()));
        let mut out = BcryptHash {
            cost,
            salt: [0; 16],
            digest: [0; 23],
        };
        if !bcrypt_base64(salt, &mut out.salt) || !bcrypt_base64(digest, &mut out.digest) {
            return Err("the salt or digest of the bcrypt hash is not bcrypt's base64".into());
        }
        Ok(out)
    }
}

const BCRYPT_ALPHABET: &[u8; 64] =
    b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const STD_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Decodes unpadded base64 in `alphabet` into exactly `out.len()` bytes. `None` if `text` has
/// a character outside the alphabet or not exactly the characters `out` needs; otherwise the
/// unused low bits of the last character (zero in canonical encodings).
#[cfg_attr(proctap_size, optimize(size))]
fn decode_base64(alphabet: &[u8; 64], text: &[u8], out: &mut [u8]) -> Option<u32> {
    if text.len() != (out.len() * 8).div_ceil(6) {
        return None;
    }
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut slots = out.iter_mut();
    for &c in text {
        let v = alphabet.iter().position(|&a| a == c)?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            *slots.next()? = (acc >> bits) as u8;
            acc &= (1 << bits) - 1;
        }
    }
    Some(acc)
}

/// bcrypt's own alphabet; like OpenBSD's, the spare bits are ignored.
#[cfg_attr(proctap_size, optimize(size))]
fn bcrypt_base64(text: &[u8], out: &mut [u8]) -> bool {
    decode_base64(BCRYPT_ALPHABET, text, out).is_some()
}

/// Standard base64 with `=` padding (RFC 4648), as in `Authorization: Basic`; strict, so one
/// credential has one encoding.
#[cfg_attr(proctap_size, optimize(size))]
pub fn base64_std(text: &str) -> Option<Vec<u8>> {
    let t = text.as_bytes();
    if t.len() % 4 != 0 {
        return None;
    }
    let body = t
        .strip_suffix(b"==")
        .or_else(|| t.strip_suffix(b"="))
        .unwrap_or(t);
    let mut out = vec![0u8; t.len() / 4 * 3 - (t.len() - body.len())];
    match decode_base64(STD_ALPHABET, body, &mut out) {
        Some(0) => Some(out),
        _ => None,
    }
}

/// The user and password of an `Authorization: Basic …` header value.
#[cfg_attr(proctap_size, optimize(size))]
pub fn basic_credentials(header: &str) -> Option<(String, Vec<u8>)> {
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64_std(rest.trim())?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = String::from_utf8(decoded.get(..colon)?.to_vec()).ok()?;
    let pass = decoded.get(colon + 1..)?.to_vec();
    Some((user, pass))
}

/// Equality that takes the same time wherever the inputs differ.
#[cfg_attr(proctap_size, optimize(size))]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$2y$10$ZmOWcCd/yHVhHhd8V4ZxXe7yLGmyz4.PSXXF9wPHkb.vWZuJnP8vy";

    fn p(text: &str) -> Result<WebConfig, String> {
        parse(Path::new("/etc/proctap/web.yml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn node_exporter_example_parses() {
        let text = format!(
            "# node_exporter's web config\n---\ntls_server_config:\n  cert_file: node.crt   # relative\n  key_file: \"/keys/node key.pem\"\n\n\
             basic_auth_users:\n    prometheus: {HASH}\n    'o''brien': \"{HASH}\" # quoted\n"
        );
        let c = p(&text).unwrap();
        assert_eq!(
            c.tls,
            Some(TlsFiles {
                cert_file: "/etc/proctap/node.crt".into(),
                key_file: "/keys/node key.pem".into(),
            })
        );
        let users: Vec<&str> = c.users.iter().map(|(u, _)| u.as_str()).collect();
        assert_eq!(users, ["prometheus", "o'brien"]);
        assert_eq!(c.users[0].1.cost, 10);
        assert_eq!(c.users[0].1, c.users[1].1);
    }

    #[test]
    fn example_file_parses() {
        let text = include_str!("../examples/web-config.yml");
        let c = parse(Path::new("examples/web-config.yml"), text).unwrap();
        assert_eq!(c.tls.unwrap().key_file, PathBuf::from("examples/node.key"));
        assert_eq!(c.users.len(), 1);
        assert_eq!(c.users[0].0, "prometheus");
    }

    #[test]
    fn sections_are_optional() {
        assert_eq!(p("").unwrap(), WebConfig::default());
        let c = p(&format!("basic_auth_users:\n  a: {HASH}\n")).unwrap();
        assert_eq!((c.tls, c.users.len()), (None, 1));
        let c =
            p("tls_server_config:\n  key_file: k\n  cert_file: c\nbasic_auth_users: {}\n").unwrap();
        assert_eq!(c.tls.unwrap().cert_file, PathBuf::from("/etc/proctap/c"));
        assert!(c.users.is_empty());
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let cases = [
            ("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
             "/etc/proctap/web.yml:4: tls_server_config: key \"client_auth_type\" is not supported by proctap (supported: cert_file, key_file)"),
            ("tls_config:\n", "/etc/proctap/web.yml:1: unknown key \"tls_config\""),
            ("http_server_config:\n  http2: false\n", ":1: http_server_config is not supported"),
            ("tls_server_config:\n  cert_file: a\n", ":1: tls_server_config needs both cert_file, key_file"),
            ("tls_server_config:\n  cert_file: a\n   key_file: b\n", ":3: indentation of 3 spaces where the entries above have 2"),
            ("tls_server_config:\n\tcert_file: a\n", ":2: tabs are not allowed"),
            ("basic_auth_users:\n  u: $2y$10$short\n", ":2: basic_auth_users: user \"u\": expected a bcrypt hash"),
            ("basic_auth_users:\n  u: \"unterminated\n", ":2: unterminated quoted string"),
            ("  cert_file: a\n", ":1: indented line at the top level"),
            ("tls_server_config: yes\n", ":1: tls_server_config must be a mapping"),
            ("basic_auth_users:\n  u:\n", ":2: u needs a value"),
            ("basic_auth_users:\n  u: &anchor x\n", ":2: u: unsupported YAML value"),
            ("basic_auth_users:\n  - u\n", ":2: basic_auth_users: lists are not supported"),
            ("tls_server_config:\n  cert_file a\n", ":2: expected `key: value`"),
        ];
        for (text, want) in cases {
            let e = p(text).unwrap_err();
            assert!(e.starts_with("/etc/proctap/web.yml:"), "{e}");
            assert!(e.contains(want), "{text:?}: {e:?} should contain {want:?}");
        }
        let twice = format!("basic_auth_users:\n  a: {HASH}\n  a: {HASH}\n");
        assert!(p(&twice)
            .unwrap_err()
            .ends_with(":3: a set twice (first on line 2)"));
        let twice = "basic_auth_users: {}\nbasic_auth_users: {}\n";
        assert!(p(twice)
            .unwrap_err()
            .ends_with(":2: basic_auth_users set twice (first on line 1)"));
    }

    #[test]
    fn bcrypt_hash_fields() {
        let h = BcryptHash::parse(HASH).unwrap();
        assert_eq!(h.cost, 10);
        // "ZmOW" in bcrypt's alphabet: 27 40 16 24 = 011011 101000 010000 011000.
        assert_eq!(h.salt[..3], [0x6e, 0x84, 0x18]);
        assert!(BcryptHash::parse(&HASH.replace("$2y$", "$2b$")).is_ok());
        assert!(BcryptHash::parse(&HASH.replace("$2y$10", "$2y$03"))
            .unwrap_err()
            .contains("cost 3"));
        assert!(BcryptHash::parse(&HASH.replace("$2y$", "$1$x")).is_err());
        assert!(BcryptHash::parse(&HASH.replace('Z', "!")).is_err());
        assert!(BcryptHash::parse(&HASH[..59]).is_err());
        assert!(BcryptHash::parse("").is_err());
        assert_eq!(format!("{h:?}"), "BcryptHash(cost 10)", "no hash in logs");
    }

    #[test]
    fn basic_auth_header_decodes() {
        // echo -n 'prometheus:s3cret:x' | base64
        assert_eq!(
            basic_credentials("Basic cHJvbWV0aGV1czpzM2NyZXQ6eA=="),
            Some(("prometheus".into(), b"s3cret:x".to_vec()))
        );
        assert_eq!(
            basic_credentials("basic dTpw"),
            Some(("u".into(), b"p".to_vec()))
        );
        assert_eq!(
            basic_credentials("Basic dTo="),
            Some(("u".into(), Vec::new()))
        );
        assert_eq!(basic_credentials("Basic dXNlcg=="), None, "no colon");
        assert_eq!(basic_credentials("Bearer dTpw"), None);
        assert_eq!(basic_credentials("Basic dTpw="), None, "bad padding");
        assert_eq!(basic_credentials("Basic dT!w"), None);
        assert_eq!(basic_credentials("Basic"), None);
        assert_eq!(base64_std("").unwrap(), b"");
        assert_eq!(base64_std("Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(base64_std("Zm9vYg==").unwrap(), b"foob");
        assert_eq!(base64_std("Zm9vYmE=").unwrap(), b"fooba");
        assert_eq!(base64_std("Zm9vYh=="), None, "trailing bits set");
        assert_eq!(base64_std("Zm9v===="), None);
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
