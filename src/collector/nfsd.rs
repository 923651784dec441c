//! `nfsd`: /proc/net/rpc/nfsd (the kernel NFS server's statistics) → node_nfsd_*, as
//! node_exporter 1.5 reports them.
//!
//! Lines as in /proc/net/rpc/nfs (see nfs.rs) plus `rc` (reply cache), `fh` (file handles),
//! `io` (bytes), `th` (threads; its float histogram is not read), `ra` (read-ahead cache,
//! gone from newer kernels: then 0) and `proc4ops` (one counter per NFSv4 operation). As in
//! node_exporter 1.5, the NULL procedure of versions 2 and 3 is not exported, and of the
//! operations it exports the 33 procfs 0.8 names, by their position in `proc4ops` (operations
//! 3 to 37 without PUTPUBFH and PUTROOTFH). A line with an unknown label (newer kernels add
//! some) is skipped rather than failing the collector. No file (nfsd not loaded) is no series.
use crate::collector::nfs::{counted, exactly, requests, split_line, V2, V3};
use crate::collector::{Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::source::{Error, ParseError, Root};

/// (operation number in `proc4ops`, node_exporter's method name).
const V4_OPS: [(usize, &str); 33] = [
    (3, "Access"),
    (4, "Close"),
    (5, "Commit"),
    (6, "Create"),
    (7, "DelegPurge"),
    (8, "DelegReturn"),
    (9, "GetAttr"),
    (10, "GetFH"),
    (11, "Link"),
    (12, "Lock"),
    (13, "Lockt"),
    (14, "Locku"),
    (15, "Lookup"),
    (16, "LookupRoot"),
    (17, "Nverify"),
    (18, "Open"),
    (19, "OpenAttr"),
    (20, "OpenConfirm"),
    (21, "OpenDgrd"),
    (22, "PutFH"),
    (25, "Read"),
    (26, "ReadDir"),
    (27, "ReadLink"),
    (28, "Remove"),
    (29, "Rename"),
    (30, "Renew"),
    (31, "RestoreFH"),
    (32, "SaveFH"),
    (33, "SecInfo"),
    (34, "SetAttr"),
    (35, "Verify"),
    (36, "Write"),
    (37, "RelLockOwner"),
];

/// What node_exporter exports of /proc/net/rpc/nfsd.
#[derive(Debug, PartialEq, Eq)]
pub struct Server {
    /// hits, misses, nocache
    pub rc: [u64; 3],
    /// stale, and four the kernel no longer counts
    pub fh: [u64; 5],
    /// bytes read, bytes written
    pub io: [u64; 2],
    /// threads, times all threads were busy (always 0 since 2.6.x)
    pub th: [u64; 2],
    /// cache size, ten histogram buckets, not found
    pub ra: [u64; 12],
    pub net: [u64; 4],
    /// calls, bad calls, bad format, bad auth, bad client
    pub rpc: [u64; 5],
    pub proc2: [u64; 18],
    pub proc3: [u64; 22],
    /// null, compound
    pub proc4: [u64; 2],
    /// operations 0 to 38
    pub proc4ops: [u64; 39],
}

impl Default for Server {
    fn default() -> Self {
        Server {
            rc: [0; 3],
            fh: [0; 5],
            io: [0; 2],
            th: [0; 2],
            ra: [0; 12],
            net: [0; 4],
            rpc: [0; 5],
            proc2: [0; 18],
            proc3: [0; 22],
            proc4: [0; 2],
            proc4ops: [0; 39],
        }
    }
}

pub fn parse_nfsd(text: &str) -> Result<Server, ParseError> {
    const KNOWN: &[&str] = &[
        "rc", "fh", "io", "th", "ra", "net", "rpc", "proc2", "proc3", "proc4", "proc4ops",
    ];
    let mut s = Server::default();
    let mut vals = [0u64; 128];
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let first = if line.starts_with("th ") {
            2
        } else {
            usize::MAX
        };
        let Some((label, len)) = split_line(line, n, KNOWN, first, &mut vals)? else {
            continue;
        };
        let v = vals.get(..len).unwrap_or(&[]);
        match label {
            "rc" => exactly(&mut s.rc, v, n, label)?,
            "fh" => exactly(&mut s.fh, v, n, label)?,
            "io" => exactly(&mut s.io, v, n, label)?,
            "th" => exactly(&mut s.th, v, n, label)?,
            "ra" => exactly(&mut s.ra, v, n, label)?,
            "net" => exactly(&mut s.net, v, n, label)?,
            "rpc" => exactly(&mut s.rpc, v, n, label)?,
            "proc2" => counted(&mut s.proc2, v, 18, n, label)?,
            "proc3" => counted(&mut s.proc3, v, 22, n, label)?,
            "proc4" => {
                counted(&mut s.proc4, v, 2, n, label)?;
                if v.len() != 3 {
                    return Err(ParseError::new(
                        n,
                        format!(
                            "expected a count of 2 and 2 values after \"proc4\", found {} values",
                            v.len().saturating_sub(1)
                        ),
                    ));
                }
            }
            "proc4ops" => counted(&mut s.proc4ops, v, 39, n, label)?,
            _ => {}
        }
    }
    Ok(s)
}

pub const COLLECTOR: Collector = Collector::plain(
    "nfsd",
    collect,
    Sources {
        reads: &[What::File(Root::Proc, "net/rpc/nfsd")],
        hint: "an NFS server: the nfsd kernel module (loaded when nfs-server starts)",
    },
);

pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    if !ctx
        .src
        .read_optional(Root::Proc, &["net/rpc/nfsd"], &mut ctx.buf)?
    {
        return Ok(());
    }
    let s = parse_nfsd(&ctx.buf).map_err(|e| ctx.src.parse_error(e))?;
    let one = |out: &mut Encoder, name, help, kind, v| {
        out.family(name, help, kind);
        out.u64(&[], v);
    };
    let c = Kind::Counter;
    one(
        out,
        "node_nfsd_connections_total",
        "Total number of NFSd TCP connections.",
        c,
        s.net[3],
    );
    one(
        out,
        "node_nfsd_disk_bytes_read_total",
        "Total NFSd bytes read.",
        c,
        s.io[0],
    );
    one(
        out,
        "node_nfsd_disk_bytes_written_total",
        "Total NFSd bytes written.",
        c,
        s.io[1],
    );
    one(
        out,
        "node_nfsd_file_handles_stale_total",
        "Total number of NFSd stale file handles",
        c,
        s.fh[0],
    );
    out.family(
        "node_nfsd_packets_total",
        "Total NFSd network packets (sent+received) by protocol type.",
        c,
    );
    out.u64(&[("proto", "tcp")], s.net[2]);
    out.u64(&[("proto", "udp")], s.net[1]);
    one(
        out,
        "node_nfsd_read_ahead_cache_not_found_total",
        "Total number of NFSd read ahead cache not found.",
        c,
        s.ra[11],
    );
    one(
        out,
        "node_nfsd_read_ahead_cache_size_blocks",
        "How large the read ahead cache is in blocks.",
        Kind::Gauge,
        s.ra[0],
    );
    one(
        out,
        "node_nfsd_reply_cache_hits_total",
        "Total number of NFSd Reply Cache hits (client lost server response).",
        c,
        s.rc[0],
    );
    one(
        out,
        "node_nfsd_reply_cache_misses_total",
        "Total number of NFSd Reply Cache an operation that requires caching (idempotent).",
        c,
        s.rc[1],
    );
    one(
        out,
        "node_nfsd_reply_cache_nocache_total",
        "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).",
        c,
        s.rc[2],
    );
    out.family(
        "node_nfsd_requests_total",
        "Total number NFSd Requests by method and protocol.",
        c,
    );
    requests(
        out,
        &[
            (
                "2",
                V2.get(1..).unwrap_or(&[]),
                s.proc2.get(1..).unwrap_or(&[]),
            ),
            (
                "3",
                V3.get(1..).unwrap_or(&[]),
                s.proc3.get(1..).unwrap_or(&[]),
            ),
        ],
    );
    for (op, method) in V4_OPS {
        let v = s.proc4ops.get(op).copied().unwrap_or(0);
        out.u64(&[("method", method), ("proto", "4")], v);
    }
    out.family(
        "node_nfsd_rpc_errors_total",
        "Total number of NFSd RPC errors by error type.",
        c,
    );
    out.u64(&[("error", "auth")], s.rpc[3]);
    out.u64(&[("error", "cInt")], s.rpc[4]);
    out.u64(&[("error", "fmt")], s.rpc[2]);
    one(
        out,
        "node_nfsd_server_rpcs_total",
        "Total number of NFSd RPCs.",
        c,
        s.rpc[0],
    );
    one(
        out,
        "node_nfsd_server_threads",
        "Total number of NFSd kernel threads that are running.",
        Kind::Gauge,
        s.th[0],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KERNEL_5_4: &str = "\
rc 0 6 18622
fh 2 0 0 0 0
io 157286400 72864
th 8 0 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000
ra 32 0 0 0 0 0 0 0 0 0 0 5
net 18628 3 18625 4
rpc 18628 1 1 0 0
proc2 18 2 69 0 0 4410 0 0 0 0 0 0 0 0 0 0 0 99 2
proc3 22 2 112 0 2719 111 0 0 0 0 0 0 0 0 0 0 0 27 216 0 2 1 0
proc4 2 2 10853
proc4ops 40 0 0 0 1098 2 0 0 0 0 8179 5896 0 0 0 0 5900 0 0 2 0 2 0 9609 0 2 150 1272 0 0 0 1236 0 0 0 0 3 3 0 0 0
";

    #[test]
    fn nfsd_kernel_5_4() {
        let s = parse_nfsd(KERNEL_5_4).unwrap();
        assert_eq!(s.rc, [0, 6, 18622]);
        assert_eq!(s.th, [8, 0], "the float histogram is not read");
        assert_eq!((s.ra[0], s.ra[11]), (32, 5));
        assert_eq!(s.rpc, [18628, 1, 1, 0, 0]);
        assert_eq!((s.proc2[4], s.proc3[3]), (4410, 2719), "Lookup");
        assert_eq!(s.proc4, [2, 10853]);
        assert_eq!((s.proc4ops[3], s.proc4ops[22]), (1098, 9609));
    }

    #[test]
    fn nfsd_kernel_6_8_without_ra_and_with_new_lines() {
        // Newer kernels drop `ra`, print 76 operations and add lines procfs 0.8 does not know.
        let ops = format!("proc4ops 76 {}", "7 ".repeat(76));
        let text = format!("rc 1 2 3\nth 16 0 0.000\n{ops}\nwdeleg_getattr 4\n");
        let s = parse_nfsd(&text).unwrap();
        assert_eq!(s.ra, [0; 12]);
        assert_eq!(s.th, [16, 0]);
        assert_eq!(
            s.proc4ops, [7; 39],
            "operations past RELEASE_LOCKOWNER are cut"
        );
    }

    #[test]
    fn nfsd_garbage() {
        let e = |t: &str| parse_nfsd(t).unwrap_err().to_string();
        assert_eq!(
            e("th 8\n"),
            "line 1: expected 2 values after \"th\", found 1"
        );
        assert_eq!(
            e("proc4 3 1 2 3\n"),
            "line 1: expected a count of 2 and 2 values after \"proc4\", found 3 values"
        );
        assert_eq!(
            e("proc4ops 2 1 1\n"),
            "line 1: expected a count of at least 39 and that many values after \"proc4ops\", found count 2 and 2 values"
        );
        assert_eq!(
            e("rc 0 x 1\n"),
            "line 1: expected an unsigned integer for rc, found \"x\""
        );
        assert!(parse_nfsd("").is_ok());
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        for line in [
            "node_nfsd_server_threads 8\n",
            "node_nfsd_rpc_errors_total{error=\"fmt\"} 1\n",
            "node_nfsd_requests_total{method=\"Lookup\",proto=\"2\"} 4410\n",
            "node_nfsd_requests_total{method=\"PutFH\",proto=\"4\"} 9609\n",
            "node_nfsd_disk_bytes_read_total 157286400\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples, 4 + 2 + 2 + 3 + 17 + 21 + 33 + 3 + 2);
    }
}
