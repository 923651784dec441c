//! With the `tls` feature: the rustls server configuration from `--web.config-file`, and basic
//! auth against its bcrypt hashes. DESIGN.md ("TLS and basic auth") says why these crates.
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::webconfig::{self, BcryptHash, TlsFiles, WebConfig, WebConfigError};

/// Certificates and keys are small; anything bigger is a wrong path.
const MAX_PEM_BYTES: u64 = 1 << 20;

fn read_pem(file: &Path) -> Result<Vec<u8>, WebConfigError> {
    let err = |msg: String| WebConfigError {
        file: file.to_path_buf(),
        line: 0,
        msg,
    };
    match crate::source::read_user_bytes(file, MAX_PEM_BYTES) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.to_string().starts_with("larger than") => {
            Err(err("larger than 1 MiB: not a PEM file".into()))
        }
        Err(e) => Err(err(format!("cannot read: {e}"))),
    }
}

/// The rustls configuration for `files`: TLS 1.3 only (rustls without its `tls12` feature),
/// ring's cipher suites and key exchange groups, no client certificates, HTTP/1.1 by ALPN.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, WebConfigError> {
    let cert_err = |msg: String| WebConfigError {
        file: files.cert_file.clone(),
        line: 0,
        msg,
    };
    let key_err = |msg: String| WebConfigError {
        file: files.key_file.clone(),
        line: 0,
        msg,
    };
    let pem = read_pem(&files.cert_file)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(format!("not a PEM certificate file: {e:?}")))?;
    if certs.is_empty() {
        return Err(cert_err("no CERTIFICATE block found".into()));
    }
    let pem = read_pem(&files.key_file)?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        key_err(format!(
            "no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e:?}"
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| cert_err(format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            key_err(format!(
                "does not fit the certificate {}: {e}",
                files.cert_file.display()
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The web configuration ready to serve: TLS settings and the users.
pub struct Web {
    pub tls: Option<Arc<ServerConfig>>,
    pub auth: Option<Auth>,
}

/// Reads the file and everything it names; any error names its file.
pub fn load(path: &Path) -> Result<Web, WebConfigError> {
    let cfg: WebConfig = webconfig::load(path)?;
    let tls = cfg.tls.as_ref().map(server_config).transpose()?;
    let auth = (!cfg.users.is_empty())
        .then(|| Auth::new(cfg.users))
        .transpose()
        .map_err(|msg| WebConfigError {
            file: path.to_path_buf(),
            line: 0,
            msg,
        })?;
    Ok(Web { tls, auth })
}

/// How many verified (user, password) pairs are remembered.
const CACHE_SIZE: usize = 16;

/// Basic auth with bcrypt. A bcrypt check costs tens of milliseconds on purpose, and Prometheus
/// sends the same credentials with every scrape, so a successful check is remembered — as an
/// HMAC-SHA256 of (user, password) under a key drawn at start, never the password itself —
/// and later scrapes cost one HMAC. Failures are not remembered: each wrong guess pays bcrypt.
pub struct Auth {
    users: Vec<(String, BcryptHash)>,
    key: ring::hmac::Key,
    /// MACs of verified (user, password) pairs, oldest first.
    verified: Vec<ring::hmac::Tag>,
    /// Checked for unknown users, so that their answer takes as long as a known user's.
    dummy: BcryptHash,
}

impl Auth {
    pub fn new(users: Vec<(String, BcryptHash)>) -> Result<Auth, String> {
        let rng = ring::rand::SystemRandom::new();
        let key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng)
            .map_err(|_| "no randomness from the system for the credential cache".to_string())?;
        let cost = users.first().map_or(10, |(_, h)| h.cost);
        let dummy = BcryptHash {
            cost,
            salt: [0x5a; 16],
            digest: [0; 23],
        };
        Ok(Auth {
            users,
            key,
            verified: Vec::with_capacity(CACHE_SIZE),
            dummy,
        })
    }

    /// Whether the `Authorization` header value carries a configured user and its password.
    pub fn check(&mut self, header: Option<&str>) -> bool {
        let Some((user, pass)) = header.and_then(webconfig::basic_credentials) else {
            return false;
        };
        let mut ctx = ring::hmac::Context::with_key(&self.key);
        ctx.update(&(user.len() as u64).to_le_bytes());
        ctx.update(user.as_bytes());
        ctx.update(&pass);
        let tag = ctx.sign();
        // Every entry is compared, in constant time, so the time says nothing about which.
        let cached = self.verified.iter().fold(false, |hit, t| {
            hit | webconfig::constant_time_eq(t.as_ref(), tag.as_ref())
        });
        if cached {
            return true;
        }
        let (hash, known) = match self.users.iter().find(|(u, _)| *u == user) {
            Some((_, h)) => (h, true),
            None => (&self.dummy, false),
        };
        let ok = bcrypt_matches(hash, &pass) && known;
        if ok {
            if self.verified.len() >= CACHE_SIZE {
                self.verified.remove(0);
            }
            self.verified.push(tag);
        }
        ok
    }
}

/// bcrypt of `password` with the hash's cost and salt, compared in constant time. Like
/// OpenBSD's: the password is NUL-terminated and at most 72 bytes are used.
pub fn bcrypt_matches(hash: &BcryptHash, password: &[u8]) -> bool {
    let mut buf = [0u8; 72];
    let n = password.len().min(72);
    if let (Some(dst), Some(src)) = (buf.get_mut(..n), password.get(..n)) {
        dst.copy_from_slice(src);
    }
    let used = (n + 1).min(72);
    let out = bcrypt::bcrypt(hash.cost, hash.salt, buf.get(..used).unwrap_or(&[]));
    buf.fill(0);
    webconfig::constant_time_eq(out.get(..23).unwrap_or(&[]), &hash.digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers from OpenBSD's and OpenWall's bcrypt test vectors.
    const VECTORS: &[(&str, &str)] = &[
        (
            "U*U",
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        ),
        (
            "",
            "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.",
        ),
        (
            "U*U*",
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK",
        ),
    ];

    #[test]
    fn bcrypt_known_answers() {
        for (pass, hash) in VECTORS {
            let h = BcryptHash::parse(hash).unwrap();
            assert!(bcrypt_matches(&h, pass.as_bytes()), "{pass:?}");
            assert!(!bcrypt_matches(&h, b"U*V"), "{pass:?}");
        }
    }

    fn basic(user: &str, pass: &str) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let raw = format!("{user}:{pass}").into_bytes();
        let mut out = String::from("Basic ");
        for chunk in raw.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn auth_checks_and_remembers_successes_only() {
        let users = vec![
            (
                "alice".to_string(),
                BcryptHash::parse(VECTORS[0].1).unwrap(),
            ),
            ("bob".to_string(), BcryptHash::parse(VECTORS[1].1).unwrap()),
        ];
        let mut auth = Auth::new(users).unwrap();
        assert!(!auth.check(None));
        assert!(!auth.check(Some("Basic !!!!")));
        assert!(!auth.check(Some(&basic("alice", "wrong"))));
        assert!(!auth.check(Some(&basic("mallory", "U*U"))), "unknown user");
        assert!(auth.verified.is_empty(), "failures are not cached");
        assert!(auth.check(Some(&basic("alice", "U*U"))));
        assert!(
            !auth.check(Some(&basic("bob", "U*U"))),
            "alice's password is not bob's"
        );
        assert!(auth.check(Some(&basic("bob", ""))));
        assert_eq!(auth.verified.len(), 2);
        assert!(auth.check(Some(&basic("alice", "U*U"))), "from the cache");
        assert_eq!(auth.verified.len(), 2);
    }
}
