//! `bonding`: /sys/class/net/bonding_masters and each bond's `bonding/slaves` →
//! node_bonding_slaves{master} and node_bonding_active{master} (slaves whose MII status is
//! `up`), as node_exporter reports them.
//!
//! Without the bonding driver there is no bonding_masters: no bonds, not an error.
use std::io;

use crate::collector::hwmon::{read_attr, ATTR_MAX_BYTES};
use crate::collector::{Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::source::{Error, Root, Source};

/// The interface names of a `bonding_masters` or `bonding/slaves` file (`bond0 bond1\n`).
pub fn parse_names(text: &str) -> impl Iterator<Item = &str> {
    text.split_ascii_whitespace()
}

/// Whether a slave's `bonding_slave/mii_status` says its link is up.
pub fn mii_up(text: &str) -> bool {
    text.trim() == "up"
}

pub const COLLECTOR: Collector = Collector::plain(
    "bonding",
    collect,
    Sources {
        reads: &[What::Optional(Root::Sys, "class/net/bonding_masters")],
        hint: "bonds need the bonding driver (modprobe bonding)",
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    let masters = &mut ctx.buf2;
    if !ctx
        .src
        .read_optional(Root::Sys, &["class/net/bonding_masters"], masters)?
    {
        return Ok(());
    }
    // (configured, up) per master, in file order.
    ctx.u64s.clear();
    for master in parse_names(masters) {
        let slaves = &mut ctx.buf;
        ctx.src.read(
            Root::Sys,
            &["class/net/", master, "/bonding/slaves"],
            slaves,
        )?;
        let (mut configured, mut up) = (0, 0);
        for slave in parse_names(slaves) {
            configured += 1;
            up += u64::from(slave_up(&mut ctx.src, master, slave)?);
        }
        ctx.u64s.push(configured);
        ctx.u64s.push(up);
    }
    let families = [
        (
            "node_bonding_slaves",
            "Number of configured slaves per bonding interface.",
        ),
        (
            "node_bonding_active",
            "Number of active slaves per bonding interface.",
        ),
    ];
    for (k, (name, help)) in families.into_iter().enumerate() {
        if ctx.u64s.is_empty() {
            break;
        }
        out.family(name, help, Kind::Gauge);
        for (j, master) in parse_names(&ctx.buf2).enumerate() {
            if let Some(&n) = ctx.u64s.get(2 * j + k) {
                out.u64(&[("master", master)], n);
            }
        }
    }
    Ok(())
}

/// A slave's MII status, from `<master>/lower_<slave>/` or, on kernels before 4.13,
/// `<master>/slave_<slave>/`.
fn slave_up(src: &mut Source, master: &str, slave: &str) -> Result<bool, Error> {
    let mut buf = [0u8; ATTR_MAX_BYTES];
    let file = "/bonding_slave/mii_status";
    let mut read = |prefix| read_attr(src, &["class/net/", master, prefix, slave, file], &mut buf);
    let n = match read("/lower_") {
        Err(e) if e.kind() == io::ErrorKind::NotFound => read("/slave_"),
        r => r,
    }
    .map_err(|err| Error::Io {
        path: src.last_path().to_path_buf(),
        err,
    })?;
    Ok(mii_up(&String::from_utf8_lossy(
        buf.get(..n).unwrap_or_default(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    #[test]
    fn names_and_mii_status() {
        let got: Vec<_> = parse_names("bond0 bond-lan bond.100\n").collect();
        assert_eq!(got, ["bond0", "bond-lan", "bond.100"]);
        assert_eq!(parse_names("\n").count(), 0);
        assert!(mii_up("up\n"));
        assert!(!mii_up("down\n"));
        assert!(!mii_up("going back\n"));
    }

    #[test]
    fn active_backup_with_one_slave_down() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out.as_bytes().to_vec()).unwrap(),
            "\
# HELP node_bonding_slaves Number of configured slaves per bonding interface.
# TYPE node_bonding_slaves gauge
node_bonding_slaves{master=\"bond0\"} 2
# HELP node_bonding_active Number of active slaves per bonding interface.
# TYPE node_bonding_active gauge
node_bonding_active{master=\"bond0\"} 1
"
        );
    }

    fn sys(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("proctap-bond-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("class/net")).unwrap();
        dir
    }

    fn run(dir: &std::path::Path) -> Result<String, Error> {
        let src = Source::new("/nonexistent".into(), dir.into(), "/".into());
        let mut out = Encoder::new();
        collect(&mut Ctx::new(src), &mut out)?;
        Ok(String::from_utf8(out.as_bytes().to_vec()).unwrap())
    }

    #[test]
    fn old_kernels_slave_links_and_empty_bonds() {
        let dir = sys("old");
        let net = dir.join("class/net");
        std::fs::write(net.join("bonding_masters"), "bond0 bond1\n").unwrap();
        for (bond, slaves) in [("bond0", "eth0 eth1\n"), ("bond1", "\n")] {
            std::fs::create_dir_all(net.join(bond).join("bonding")).unwrap();
            std::fs::write(net.join(bond).join("bonding/slaves"), slaves).unwrap();
        }
        for (slave, state) in [("eth0", "up\n"), ("eth1", "up\n")] {
            let d = net
                .join("bond0")
                .join(format!("slave_{slave}/bonding_slave"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("mii_status"), state).unwrap();
        }
        let text = run(&dir).unwrap();
        assert!(text.contains("node_bonding_slaves{master=\"bond0\"} 2\nnode_bonding_slaves{master=\"bond1\"} 0\n"), "{text}");
        assert!(text.contains("node_bonding_active{master=\"bond0\"} 2\nnode_bonding_active{master=\"bond1\"} 0\n"), "{text}");
        // A slave without a status fails the collector, naming the file.
        std::fs::remove_file(net.join("bond0/slave_eth1/bonding_slave/mii_status")).unwrap();
        let e = run(&dir).unwrap_err().to_string();
        assert!(
            e.contains("bond0/slave_eth1/bonding_slave/mii_status: "),
            "{e}"
        );
        // No bonding driver: no bonds, no error.
        std::fs::remove_file(net.join("bonding_masters")).unwrap();
        assert_eq!(run(&dir).unwrap(), "");
        std::fs::write(net.join("bonding_masters"), "\n").unwrap();
        assert_eq!(run(&dir).unwrap(), "");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
