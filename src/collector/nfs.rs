//! `nfs`: /proc/net/rpc/nfs (the kernel's NFS client statistics) → node_nfs_*, as node_exporter
//! 1.5 reports them.
//!
//! Each line is a label and unsigned counters: `net` (packets, udp, tcp, tcp connections), `rpc`
//! (calls, retransmissions, auth refreshes) and `procN` (a count, then one counter per procedure
//! of NFS version N). node_exporter 1.5 (procfs 0.8) always exports every procedure of versions
//! 2, 3 and 4, with 0 for a version the file lacks (kernels built without NFSv2 print no `proc2`);
//! a `proc4` shorter than the 59 procedures it names is padded with zeros, a longer one (newer
//! kernels) is cut. A line with a count that does not match its values fails the collector, as it
//! does in node_exporter. Unlike node_exporter 1.5, a line with an unknown label is skipped
//! rather than failing the collector, so a newer kernel's extra lines cost nothing. No file (no
//! NFS client module loaded) is no series.
use crate::collector::{Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

/// NFSv2 procedures, in the order of the kernel's `proc2` line (RFC 1094).
pub const V2: [&str; 18] = [
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write",
    "Create", "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];

/// NFSv3 procedures, in the order of the kernel's `proc3` line (RFC 1813).
pub const V3: [&str; 22] = [
    "Null",
    "GetAttr",
    "SetAttr",
    "Lookup",
    "Access",
    "ReadLink",
    "Read",
    "Write",
    "Create",
    "MkDir",
    "SymLink",
    "MkNod",
    "Remove",
    "RmDir",
    "Rename",
    "Link",
    "ReadDir",
    "ReadDirPlus",
    "FsStat",
    "FsInfo",
    "PathConf",
    "Commit",
];

/// The NFSv4 client procedures node_exporter 1.5 names, in the order of the kernel's `proc4`
/// line (the client's NFSPROC4_CLNT_* numbering, not the protocol's operation numbers).
const V4: [&str; 59] = [
    "Null",
    "Read",
    "Write",
    "Commit",
    "Open",
    "OpenConfirm",
    "OpenNoattr",
    "OpenDowngrade",
    "Close",
    "Setattr",
    "FsInfo",
    "Renew",
    "SetClientID",
    "SetClientIDConfirm",
    "Lock",
    "Lockt",
    "Locku",
    "Access",
    "Getattr",
    "Lookup",
    "LookupRoot",
    "Remove",
    "Rename",
    "Link",
    "Symlink",
    "Create",
    "Pathconf",
    "StatFs",
    "ReadLink",
    "ReadDir",
    "ServerCaps",
    "DelegReturn",
    "GetACL",
    "SetACL",
    "FsLocations",
    "ReleaseLockowner",
    "Secinfo",
    "FsidPresent",
    "ExchangeID",
    "CreateSession",
    "DestroySession",
    "Sequence",
    "GetLeaseTime",
    "ReclaimComplete",
    "LayoutGet",
    "GetDeviceInfo",
    "LayoutCommit",
    "LayoutReturn",
    "SecinfoNoName",
    "TestStateID",
    "FreeStateID",
    "GetDeviceList",
    "BindConnToSession",
    "DestroyClientID",
    "Seek",
    "Allocate",
    "DeAllocate",
    "LayoutStats",
    "Clone",
];

/// One line of a /proc/net/rpc file: its label and how many values were parsed into `out`, or
/// `None` for a label not in `known` (its values are not looked at). At most `first` values are
/// parsed (nfsd's `th` line ends in floats); a line without a value is an error, as in procfs.
pub fn split_line<'a>(
    line: &'a str,
    n: usize,
    known: &[&str],
    first: usize,
    out: &mut [u64; 128],
) -> Result<Option<(&'a str, usize)>, ParseError> {
    let mut fields = line.split_whitespace();
    let label = fields.next().unwrap_or("");
    let mut fields = fields.peekable();
    if fields.peek().is_none() {
        return Err(ParseError::new(
            n,
            format!("expected a label and at least one value, found {line:?}"),
        ));
    }
    if !known.contains(&label) {
        return Ok(None);
    }
    let mut len = 0;
    for f in fields.take(first) {
        let slot = out.get_mut(len).ok_or_else(|| {
            ParseError::new(n, format!("expected at most 128 values after {label:?}"))
        })?;
        *slot = u64_at(f, n, label)?;
        len += 1;
    }
    Ok(Some((label, len)))
}

/// Copies exactly `dst.len()` values.
pub fn exactly(dst: &mut [u64], vals: &[u64], n: usize, label: &str) -> Result<(), ParseError> {
    if vals.len() != dst.len() {
        return Err(ParseError::new(
            n,
            format!(
                "expected {} values after {label:?}, found {}",
                dst.len(),
                vals.len()
            ),
        ));
    }
    dst.copy_from_slice(vals);
    Ok(())
}

/// Copies a `procN` line: its first value is the number of values after it, at least `min`;
/// the first `dst.len()` of them are kept, missing ones are 0.
pub fn counted(
    dst: &mut [u64],
    vals: &[u64],
    min: usize,
    n: usize,
    label: &str,
) -> Result<(), ParseError> {
    let (count, rest) = vals.split_first().unwrap_or((&0, &[]));
    if usize::try_from(*count).ok() != Some(rest.len()) || rest.len() < min {
        return Err(ParseError::new(
            n,
            format!(
                "expected a count of at least {min} and that many values after {label:?}, found count {count} and {} values",
                rest.len()
            ),
        ));
    }
    for (d, v) in dst.iter_mut().zip(rest.iter().chain(std::iter::repeat(&0))) {
        *d = *v;
    }
    Ok(())
}

/// What node_exporter exports of /proc/net/rpc/nfs.
#[derive(Debug, PartialEq, Eq)]
pub struct Client {
    /// packets, udp, tcp, tcp connections
    pub net: [u64; 4],
    /// calls, retransmissions, auth refreshes
    pub rpc: [u64; 3],
    pub proc2: [u64; 18],
    pub proc3: [u64; 22],
    pub proc4: [u64; 59],
}

impl Default for Client {
    fn default() -> Self {
        Client {
            net: [0; 4],
            rpc: [0; 3],
            proc2: [0; 18],
            proc3: [0; 22],
            proc4: [0; 59],
        }
    }
}

pub fn parse_nfs(text: &str) -> Result<Client, ParseError> {
    let mut c = Client::default();
    let mut vals = [0u64; 128];
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        const KNOWN: &[&str] = &["net", "rpc", "proc2", "proc3", "proc4"];
        let Some((label, len)) = split_line(line, n, KNOWN, usize::MAX, &mut vals)? else {
            continue;
        };
        let v = vals.get(..len).unwrap_or(&[]);
        match label {
            "net" => exactly(&mut c.net, v, n, label)?,
            "rpc" => exactly(&mut c.rpc, v, n, label)?,
            "proc2" => counted(&mut c.proc2, v, 18, n, label)?,
            "proc3" => counted(&mut c.proc3, v, 22, n, label)?,
            "proc4" => counted(&mut c.proc4, v, 0, n, label)?,
            _ => {}
        }
    }
    Ok(c)
}

/// Writes `node_<sub>_requests_total{method,proto}` for the procedures of each version.
pub fn requests(out: &mut Encoder, versions: &[(&str, &[&str], &[u64])]) {
    for (proto, names, vals) in versions {
        for (name, v) in names.iter().zip(vals.iter()) {
            out.u64(&[("method", name), ("proto", proto)], *v);
        }
    }
}

pub const COLLECTOR: Collector = Collector::plain(
    "nfs",
    collect,
    Sources {
        reads: &[What::File(Root::Proc, "net/rpc/nfs")],
        hint: "an NFS client: the nfs kernel module (loaded on the first NFS mount)",
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    if !ctx
        .src
        .read_optional(Root::Proc, &["net/rpc/nfs"], &mut ctx.buf)?
    {
        return Ok(());
    }
    let c = parse_nfs(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
    let counter = |out: &mut Encoder, name, help, v| {
        out.family(name, help, Kind::Counter);
        out.u64(&[], v);
    };
    counter(
        out,
        "node_nfs_connections_total",
        "Total number of NFSd TCP connections.",
        c.net[3],
    );
    out.family(
        "node_nfs_packets_total",
        "Total NFSd network packets (sent+received) by protocol type.",
        Kind::Counter,
    );
    out.u64(&[("protocol", "tcp")], c.net[2]);
    out.u64(&[("protocol", "udp")], c.net[1]);
    out.family(
        "node_nfs_requests_total",
        "Number of NFS procedures invoked.",
        Kind::Counter,
    );
    requests(
        out,
        &[
            ("2", &V2, &c.proc2),
            ("3", &V3, &c.proc3),
            ("4", &V4, &c.proc4),
        ],
    );
    counter(
        out,
        "node_nfs_rpc_authentication_refreshes_total",
        "Number of RPC authentication refreshes performed.",
        c.rpc[2],
    );
    counter(
        out,
        "node_nfs_rpc_retransmissions_total",
        "Number of RPC transmissions performed.",
        c.rpc[1],
    );
    counter(
        out,
        "node_nfs_rpcs_total",
        "Total number of RPCs performed.",
        c.rpc[0],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfs_client_kernel_6_1_without_proc2() {
        let text = "\
net 0 0 0 0
rpc 1218785755 374636 1218815394
proc3 22 0 89224107 1232054 33012381 63853042 2139 40437513 181036924 432198 0 4 0 181249 78 9843 1216 11 9 1823 12 6 1284302
proc4 69 0 4082 7210 3 112 0 51 13 134 4 1 0 0 0 0 0 0 12 27311 1722 4 43 9 0 0 0 3 0 2 11 0 0 0 0 0 0 0 0 0 2 2 1 24 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
";
        let c = parse_nfs(text).unwrap();
        assert_eq!(c.rpc, [1218785755, 374636, 1218815394]);
        assert_eq!(c.proc2, [0; 18], "no proc2 line: zeros");
        assert_eq!(c.proc3[1], 89224107, "GetAttr");
        assert_eq!(c.proc3[21], 1284302, "Commit");
        assert_eq!((c.proc4[1], c.proc4[18]), (4082, 27311), "Read, Getattr");
    }

    #[test]
    fn nfs_short_proc4_is_padded_and_unknown_lines_skipped() {
        let c = parse_nfs("proc4 3 1 2 3\nwdeleg_getattr 7\n").unwrap();
        assert_eq!(&c.proc4[..4], [1, 2, 3, 0]);
        let c = parse_nfs("proc2 18 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\n").unwrap();
        assert_eq!(c.proc2[17], 18, "FsStat");
        assert_eq!(parse_nfs(""), Ok(Client::default()));
    }

    #[test]
    fn nfs_garbage() {
        let e = |t: &str| parse_nfs(t).unwrap_err().to_string();
        assert_eq!(
            e("net 1 2 3\n"),
            "line 1: expected 4 values after \"net\", found 3"
        );
        assert_eq!(
            e("rpc 1 2 3\nproc3 22 1 2\n"),
            "line 2: expected a count of at least 22 and that many values after \"proc3\", found count 22 and 2 values"
        );
        assert_eq!(
            e("rpc 1 -2 3\n"),
            "line 1: expected an unsigned integer for rpc, found \"-2\""
        );
        assert_eq!(
            e("\n"),
            "line 1: expected a label and at least one value, found \"\""
        );
        assert_eq!(
            e("proc4\n"),
            "line 1: expected a label and at least one value, found \"proc4\""
        );
        let long = format!("proc4 200 {}\n", "1 ".repeat(200));
        assert!(
            e(&long).contains("expected at most 128 values"),
            "{}",
            e(&long)
        );
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        for line in [
            "node_nfs_rpcs_total 1218785755\n",
            "node_nfs_packets_total{protocol=\"tcp\"} 0\n",
            "node_nfs_requests_total{method=\"Access\",proto=\"3\"} 63853042\n",
            "node_nfs_requests_total{method=\"FsStat\",proto=\"2\"} 0\n",
            "node_nfs_requests_total{method=\"Clone\",proto=\"4\"} 0\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples, 1 + 2 + 18 + 22 + 59 + 3);
    }
}
