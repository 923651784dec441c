//! `mountstats` (off by default, feature `server`): `<procfs>/self/mountstats` (the NFS client's
//! statistics of each mount, fs/nfs/super.c `nfs_show_stats` and net/sunrpc/stats.c
//! `rpc_clnt_show_stats`) → node_mountstats_nfs_*, as node_exporter 1.5 reports them, plus two
//! families of later node_exporters: `node_mountstats_nfs_operations_errors_total` (the 9th
//! per-op value, Linux 5.3+; 0 before) and `node_mountstats_nfs_mountpoint_info`.
//!
//! Like node_exporter it reads the mounts of its own process (`self`), and takes the `mountaddr`
//! label from the `addr=` super option of the same entry of `self/mountinfo` (both files list
//! the mount namespace in the same order). Only `nfs` and `nfs4` mounts with statistics
//! (`statvers=`) are exported; a mount whose export, transport protocol and address equal an
//! earlier one's (the same export mounted twice shares the kernel's counters) has only its
//! `mountpoint_info`, as in node_exporter. With several `xprt:` lines (nconnect) the last one
//! counts, as in 1.5 (later node_exporters add a `transport` label, which would change 1.5's
//! series). Where 1.5 fails the whole collector, proctap is lenient on what newer kernels may
//! print: a statvers other than 1.0 reads as 1.1, lines longer than expected have their extra
//! values ignored, statistics of a non-NFS mount and an `xprt:` of another transport (rdma) are
//! skipped (a mount without a tcp or udp transport then has no series); `no device` entries
//! count when pairing with mountinfo (1.5 skips them and pairs the later mounts wrongly).
use crate::collector::{Build, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::parse::u64_at;
use crate::source::{Error, ParseError, Root};

/// One mount's record in the parsed list: text ranges, then values.
const DEV: usize = 0; // export: start, end in the mountstats text
const ADDR: usize = 2; // mountaddr: start, end in the mountinfo text
const PROTO: usize = 4; // transport protocol: start, end in the mountstats text
const MP: usize = 6; // mount point: start, end in the mountstats text
/// 1 when an earlier record has the same export, protocol and address (it has no ops then).
const DUP: usize = 8;
const NOPS: usize = 9;
const AGE: usize = 10;
/// `bytes:` (8 values): normal read/write, direct read/write, server read/write, read/write pages.
const BYTES: usize = AGE + 1;
/// `events:` (27 values, `NFSIOS_*` of include/linux/nfs_iostat.h).
const EVENTS: usize = BYTES + 8;
/// `xprt:` in the tcp layout (13 values): port, bind, connect, connect time, idle time, sends,
/// receives, bad xids, active requests, backlog, max slots, sending, pending.
const XPRT: usize = EVENTS + 27;
const HEAD: usize = XPRT + 13;
/// Each op after the head: name start, end, then ops, transmissions, major timeouts, bytes sent,
/// bytes received, queue ms, response ms, request ms, errors (Linux 5.3+; 0 before).
const OP: usize = 11;

/// The per-mount families (labels export, mountaddr, protocol) in the order of a record's
/// values from [`AGE`] on, one a line: the name after `node_mountstats_nfs_` and node_exporter
/// 1.5's HELP (two copy-paste slips included); `-` for a value it does not export (the port,
/// the congestion wait event, connect time, active requests). A name not ending in `_total` is
/// a gauge.
const MOUNT: &str = "\
age_seconds_total The age of the NFS mount in seconds.
read_bytes_total Number of bytes read using the read() syscall.
write_bytes_total Number of bytes written using the write() syscall.
direct_read_bytes_total Number of bytes read using the read() syscall in O_DIRECT mode.
direct_write_bytes_total Number of bytes written using the write() syscall in O_DIRECT mode.
total_read_bytes_total Number of bytes read from the NFS server, in total.
total_write_bytes_total Number of bytes written to the NFS server, in total.
read_pages_total Number of pages read directly via mmap()'d files.
write_pages_total Number of pages written directly via mmap()'d files.
event_inode_revalidate_total Number of times cached inode attributes are re-validated from the server.
event_dnode_revalidate_total Number of times cached dentry nodes are re-validated from the server.
event_data_invalidate_total Number of times an inode cache is cleared.
event_attribute_invalidate_total Number of times cached inode attributes are invalidated.
event_vfs_open_total Number of times cached inode attributes are invalidated.
event_vfs_lookup_total Number of times a directory lookup has occurred.
event_vfs_access_total Number of times permissions have been checked.
event_vfs_update_page_total Number of updates (and potential writes) to pages.
event_vfs_read_page_total Number of pages read directly via mmap()'d files.
event_vfs_read_pages_total Number of times a group of pages have been read.
event_vfs_write_page_total Number of pages written directly via mmap()'d files.
event_vfs_write_pages_total Number of times a group of pages have been written.
event_vfs_getdents_total Number of times directory entries have been read with getdents().
event_vfs_setattr_total Number of times directory entries have been read with getdents().
event_vfs_flush_total Number of pending writes that have been forcefully flushed to the server.
event_vfs_fsync_total Number of times fsync() has been called on directories and files.
event_vfs_lock_total Number of times locking has been attempted on a file.
event_vfs_file_release_total Number of times files have been closed and released.
-
event_truncation_total Number of times files have been truncated.
event_write_extension_total Number of times a file has been grown due to writes beyond its existing end.
event_silly_rename_total Number of times a file was removed while still open by another process.
event_short_read_total Number of times the NFS server gave less data than expected while reading.
event_short_write_total Number of times the NFS server wrote less data than expected while writing.
event_jukebox_delay_total Number of times the NFS server indicated EJUKEBOX; retrieving data from offline storage.
event_pnfs_read_total Number of NFS v4.1+ pNFS reads.
event_pnfs_write_total Number of NFS v4.1+ pNFS writes.
-
transport_bind_total Number of times the client has had to establish a connection from scratch to the NFS server.
transport_connect_total Number of times the client has made a TCP connection to the NFS server.
-
transport_idle_time_seconds Duration since the NFS mount last saw any RPC traffic, in seconds.
transport_sends_total Number of RPC requests for this mount sent to the NFS server.
transport_receives_total Number of RPC responses for this mount received from the NFS server.
transport_bad_transaction_ids_total Number of times the NFS server sent a response with a transaction ID unknown to this client.
-
transport_backlog_queue_total Total number of items added to the RPC backlog queue.
transport_maximum_rpc_slots Maximum number of simultaneously active RPC requests ever used.
transport_sending_queue_total Total number of items added to the RPC transmission sending queue.
transport_pending_queue_total Total number of items added to the RPC transmission pending queue.";

/// The per-operation families (labels export, mountaddr, operation, protocol) in the order of
/// an op's values; `_seconds_total` ones are milliseconds in the file.
const OPS: &str = "\
operations_requests_total Number of requests performed for a given operation.
operations_transmissions_total Number of times an actual RPC request has been transmitted for a given operation.
operations_major_timeouts_total Number of times a request has had a major timeout for a given operation.
operations_sent_bytes_total Number of bytes sent for a given operation, including RPC headers and payload.
operations_received_bytes_total Number of bytes received for a given operation, including RPC headers and payload.
operations_queue_time_seconds_total Duration all requests spent queued for transmission for a given operation before they were sent, in seconds.
operations_response_time_seconds_total Duration all requests took to get a reply back after a request for a given operation was transmitted, in seconds.
operations_request_time_seconds_total Duration all requests took from when a request was enqueued to when it was completely handled for a given operation, in seconds.
operations_errors_total Number of errors for a given operation";

pub const COLLECTOR: Collector = Collector {
    name: "mountstats",
    enabled_by_default: false,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[
            What::File(Root::Proc, "self/mountstats"),
            What::Optional(Root::Proc, "self/mountinfo"),
        ],
        hint: "every kernel has them; NFS mounts (the nfs module) give the series",
    },
    build: Build::Plain(collect),
};

/// A field's byte range in `text` (a subslice of it), as two record words. An empty field may
/// be a literal from elsewhere: its range is empty.
fn range(text: &str, field: &str) -> [u64; 2] {
    if field.is_empty() {
        return [0, 0];
    }
    let start = (field.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    [start as u64, (start + field.len()) as u64]
}

/// The text of a range stored at `at` in a record.
fn text_at<'a>(text: &'a str, rec: &[u64], at: usize) -> &'a str {
    let (Some(&s), Some(&e)) = (rec.get(at), rec.get(at + 1)) else {
        return "";
    };
    text.get(s as usize..e as usize).unwrap_or("")
}

/// Parses `vals` into `dst`, at least `min` of them; values beyond `dst` are ignored. Returns
/// how many were parsed.
fn values<'a>(
    dst: &mut [u64],
    vals: impl Iterator<Item = &'a str>,
    min: usize,
    n: usize,
    what: &str,
) -> Result<usize, ParseError> {
    let mut k = 0;
    for (d, v) in dst.iter_mut().zip(vals) {
        *d = u64_at(v, n, what)?;
        k += 1;
    }
    if k < min {
        return Err(ParseError::new(
            n,
            format!("expected at least {min} values after {what:?}, found {k}"),
        ));
    }
    Ok(k)
}

#[cold]
fn expected(n: usize, what: &str, line: &str) -> ParseError {
    ParseError::new(n, format!("expected {what}, found {line:?}"))
}

/// The `len` words of the record at `start` from `at` (empty if out of range).
fn slot(recs: &mut [u64], at: usize, len: usize) -> &mut [u64] {
    recs.get_mut(at..at + len).unwrap_or_default()
}

fn put(dst: &mut [u64], src: &[u64]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

/// The `addr=` super option (the last field) of a mountinfo line, or "".
fn mount_addr(line: &str) -> &str {
    let super_opts = match line.rsplit_once(" - ") {
        Some((_, rest)) => rest.rsplit(' ').next().unwrap_or(""),
        None => "",
    };
    super_opts
        .split(',')
        .find_map(|o| o.strip_prefix("addr="))
        .unwrap_or("")
}

/// Parses a mountstats text into `recs`: one record per exported NFS mount (see the constants
/// above), duplicates left out. `mountinfo` (the same mounts, in order) gives the addresses;
/// ranges index `text` and, for the address, `mountinfo`.
#[cfg_attr(proctap_size, optimize(size))]
#[inline(never)]
pub fn parse_mountstats(
    text: &str,
    mountinfo: &str,
    recs: &mut Vec<u64>,
) -> Result<(), ParseError> {
    recs.clear();
    let mut info = mountinfo.lines();
    // Where the record being parsed starts, and whether its per-op lines have begun.
    let mut open: Option<(usize, bool)> = None;
    let mut statvers_10 = false;
    for (i, line) in text.lines().chain(std::iter::once("")).enumerate() {
        let n = i + 1;
        let mut f = line.split_ascii_whitespace();
        let first = f.next().unwrap_or("");
        let entry = first == "device" || (first == "no" && line.starts_with("no device "));
        if first.is_empty() || entry {
            if let Some((start, _)) = open.take() {
                finish(text, mountinfo, recs, start);
            }
        }
        if entry {
            let info_line = info.next().unwrap_or("");
            let [dev, mounted, on, mp, with, fstype_word, fstype] =
                std::array::from_fn(|_| f.next().unwrap_or(""));
            if (mounted, on, with, fstype_word) != ("mounted", "on", "with", "fstype") {
                return Err(expected(
                    n,
                    "\"device NAME mounted on PATH with fstype TYPE\"",
                    line,
                ));
            }
            let Some(vers) = f.next().and_then(|s| s.strip_prefix("statvers=")) else {
                continue;
            };
            if first != "device" || (fstype != "nfs" && fstype != "nfs4") {
                continue;
            }
            statvers_10 = vers == "1.0";
            let start = recs.len();
            recs.resize(start + HEAD, 0);
            let [d0, d1] = range(text, dev);
            let [a0, a1] = range(mountinfo, mount_addr(info_line));
            let [m0, m1] = range(text, mp);
            put(slot(recs, start, 8), &[d0, d1, a0, a1, 0, 0, m0, m1]);
            open = Some((start, false));
            continue;
        }
        let Some((start, ops)) = open.as_mut() else {
            continue;
        };
        let start = *start;
        if *ops {
            let Some(name) = first.strip_suffix(':') else {
                return Err(expected(
                    n,
                    "\"OPERATION: VALUES\" of per-op statistics",
                    line,
                ));
            };
            let at = recs.len();
            let [r0, r1] = range(text, name);
            recs.extend_from_slice(&[r0, r1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            values(slot(recs, at + 2, 9), f, 8, n, first)?;
            if let Some(count) = recs.get_mut(start + NOPS) {
                *count += 1;
            }
            continue;
        }
        match first {
            "age:" => {
                values(slot(recs, start + AGE, 1), f, 1, n, first)?;
            }
            "bytes:" => {
                values(slot(recs, start + BYTES, 8), f, 8, n, first)?;
            }
            "events:" => {
                values(slot(recs, start + EVENTS, 27), f, 27, n, first)?;
            }
            "xprt:" => {
                let proto = f.next().unwrap_or("");
                let min = match (proto, statvers_10) {
                    ("tcp", true) | ("udp", false) => 10,
                    ("tcp", false) => 13,
                    ("udp", true) => 7,
                    _ => continue,
                };
                let mut x = [0u64; 13];
                values(&mut x, f, min, n, first)?;
                if proto == "udp" {
                    // udp has no connect count, connect time or idle time (values 3 to 5).
                    x.copy_within(2..10, 5);
                    x[2..5].fill(0);
                }
                put(slot(recs, start + XPRT, 13), &x);
                put(slot(recs, start + PROTO, 2), &range(text, proto));
            }
            "per-op" => *ops = true,
            _ => {}
        }
    }
    Ok(())
}

/// Ends the record at `start`: drops it without a transport or when an earlier one has the
/// same export, protocol, address and mount point; marks it [`DUP`] (and drops its ops) when an
/// earlier one has the same export, protocol and address (the same export mounted twice shares
/// the kernel's counters): only its `mountpoint_info` is written, as node_exporter does.
#[cfg_attr(proctap_size, optimize(size))]
#[inline(never)]
fn finish(text: &str, mountinfo: &str, recs: &mut Vec<u64>, start: usize) {
    let done = recs.get(..start).unwrap_or_default();
    let this = recs.get(start..).unwrap_or_default();
    let key = |r: &[u64]| {
        (
            text_at(text, r, DEV),
            text_at(text, r, PROTO),
            text_at(mountinfo, r, ADDR),
        )
    };
    let k = key(this);
    let mp = text_at(text, this, MP);
    // 0: drop it, 1: a duplicate, 2: keep it.
    let mut verdict = if k.1.is_empty() { 0 } else { 2 };
    for r in records(done) {
        if key(r) == k {
            if text_at(text, r, MP) == mp {
                verdict = 0;
                break;
            }
            verdict = verdict.min(1);
        }
    }
    match verdict {
        0 => recs.truncate(start),
        1 => {
            recs.truncate(start + HEAD);
            put(slot(recs, start + DUP, 2), &[1, 0]);
        }
        _ => {}
    }
}

/// The records of a parsed list, each with its ops.
fn records(recs: &[u64]) -> impl Iterator<Item = &[u64]> {
    let mut rest = recs;
    std::iter::from_fn(move || {
        let nops = *rest.get(NOPS)? as usize;
        let len = HEAD + nops * OP;
        let (r, tail) = rest.split_at(len.min(rest.len()));
        rest = tail;
        Some(r)
    })
}

#[cfg_attr(proctap_size, optimize(size))]
pub fn collect(ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
    if !ctx
        .src
        .read_optional(Root::Proc, &["self/mountinfo"], &mut ctx.buf2)?
    {
        ctx.buf2.clear();
    }
    ctx.src
        .read(Root::Proc, &["self/mountstats"], &mut ctx.buf)?;
    let (text, info) = (&ctx.buf, &ctx.buf2);
    parse_mountstats(text, info, &mut ctx.u64s).map_err(|e| ctx.src.parse_error(e))?;
    let recs = &ctx.u64s;
    if recs.is_empty() {
        return Ok(());
    }
    let labels = |r: &[u64]| {
        [
            ("export", text_at(text, r, DEV)),
            ("mountaddr", text_at(info, r, ADDR)),
            ("protocol", text_at(text, r, PROTO)),
        ]
    };
    let stats = || records(recs).filter(|r| r.get(DUP) == Some(&0));
    out.family(
        "node_mountstats_nfs_mountpoint_info",
        "Info metric for an NFS mountpoint.",
        Kind::Gauge,
    );
    for r in records(recs) {
        let [e, a, p] = labels(r);
        out.u64(&[e, a, ("mountpoint", text_at(text, r, MP)), p], 1);
    }
    for (i, line) in MOUNT.lines().enumerate() {
        let Some((name, help)) = line.split_once(' ') else {
            continue;
        };
        let kind = if name.ends_with("_total") {
            Kind::Counter
        } else {
            Kind::Gauge
        };
        out.family_parts(&["node_mountstats_nfs_", name], help, kind);
        for r in stats() {
            out.u64(&labels(r), r.get(AGE + i).copied().unwrap_or(0));
        }
    }
    for (i, line) in OPS.lines().enumerate() {
        let (name, help) = line.split_once(' ').unwrap_or((line, ""));
        out.family_parts(&["node_mountstats_nfs_", name], help, Kind::Counter);
        let ms = name.ends_with("_seconds_total");
        for r in stats() {
            let [e, a, p] = labels(r);
            for op in r.get(HEAD..).unwrap_or_default().chunks_exact(OP) {
                let l = [e, a, ("operation", text_at(text, op, 0)), p];
                let v = op.get(2 + i).copied().unwrap_or(0);
                if ms {
                    // node_exporter 1.5 keeps milliseconds below 2^53 before dividing.
                    out.f64(&l, (v % (1 << 53)) as f64 / 1000.0);
                } else {
                    out.u64(&l, v);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parsed mount: export, protocol, mountaddr, its head values, its ops.
    type Mount = (String, String, String, Vec<u64>, Vec<(String, Vec<u64>)>);

    fn parse(text: &str, info: &str) -> Result<Vec<Mount>, String> {
        let mut recs = Vec::new();
        parse_mountstats(text, info, &mut recs).map_err(|e| e.to_string())?;
        Ok(records(&recs)
            .filter(|r| r[DUP] == 0)
            .map(|r| {
                let ops = r
                    .get(HEAD..)
                    .unwrap()
                    .chunks_exact(OP)
                    .map(|o| (text_at(text, o, 0).to_string(), o[2..].to_vec()))
                    .collect();
                (
                    text_at(text, r, DEV).to_string(),
                    text_at(text, r, PROTO).to_string(),
                    text_at(info, r, ADDR).to_string(),
                    r[AGE..HEAD].to_vec(),
                    ops,
                )
            })
            .collect())
    }

    /// An NFS mount's block as fs/nfs/super.c prints it (events and bytes end in a space).
    fn nfs(dev: &str, fstype: &str, vers: &str, xprt: &str, ops: &str) -> String {
        format!(
            "device {dev} mounted on /mnt/x with fstype {fstype} statvers={vers}\n\
             \topts:\trw,vers=3,rsize=65536,wsize=65536,hard,proto=tcp\n\
             \tage:\t3600\n\
             \tcaps:\tcaps=0x3fef,wtmult=512,dtsize=65536,bsize=0,namlen=255\n\
             \tsec:\tflavor=1,pseudoflavor=1\n\
             \tevents:\t1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 \n\
             \tbytes:\t101 102 103 104 105 106 107 108 \n\
             \tRPC iostats version: 1.1  p/v: 100003/3 (nfs)\n\
             {xprt}\
             \tper-op statistics\n\
             {ops}\n"
        )
    }

    const OPS9: &str =
        "\t        NULL: 0 0 0 0 0 0 0 0 0\n\t     GETATTR: 812 813 1 97440 90944 12 655 701 3\n";
    const OPS8: &str =
        "\t        NULL: 0 0 0 0 0 0 0 0\n\t        READ: 40 40 0 5120 2621440 2 90 95\n";

    #[test]
    fn nfs3_tcp_statvers_1_1_kernel_6_1() {
        let text = format!(
            "device /dev/sda1 mounted on / with fstype ext4\n{}",
            nfs(
                "fs1:/srv/a",
                "nfs",
                "1.1",
                "\txprt:\ttcp 941 1 2 0 7 9001 9000 1 18004 3 16 9012 4 \n",
                OPS9
            )
        );
        let info = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                    40 22 0:52 / /mnt/x rw,relatime shared:3 - nfs fs1:/srv/a rw,vers=3,proto=tcp,addr=10.1.2.3\n";
        let m = parse(&text, info).unwrap();
        assert_eq!(m.len(), 1);
        let (dev, proto, addr, v, ops) = &m[0];
        assert_eq!(
            (&**dev, &**proto, &**addr),
            ("fs1:/srv/a", "tcp", "10.1.2.3")
        );
        assert_eq!(v[0], 3600, "age");
        assert_eq!(
            v[BYTES - AGE..EVENTS - AGE],
            [101, 102, 103, 104, 105, 106, 107, 108]
        );
        assert_eq!(v[EVENTS - AGE], 1);
        assert_eq!(v[XPRT - AGE - 1], 27, "the last event");
        assert_eq!(
            v[XPRT - AGE..],
            [941, 1, 2, 0, 7, 9001, 9000, 1, 18004, 3, 16, 9012, 4]
        );
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[1].0, "GETATTR");
        assert_eq!(ops[1].1, [812, 813, 1, 97440, 90944, 12, 655, 701, 3]);
    }

    #[test]
    fn udp_and_statvers_1_0_are_laid_out_as_tcp_1_1() {
        let text = nfs(
            "n:/a",
            "nfs",
            "1.1",
            "\txprt:\tudp 0 1 500 498 2 610 0 8 520 1 \n",
            OPS9,
        ) + &nfs(
            "n:/b",
            "nfs",
            "1.0",
            "\txprt:\tudp 0 1 30 30 0 31 0 \n",
            OPS8,
        ) + &nfs(
            "n:/c",
            "nfs",
            "1.0",
            "\txprt:\ttcp 800 1 1 0 5 70 70 0 71 0 \n",
            OPS8,
        );
        let m = parse(&text, "").unwrap();
        let x = |i: usize| m[i].3[XPRT - AGE..].to_vec();
        // port, bind, connect, connect time, idle, sends, receives, bad xids, active, backlog,
        // max slots, sending, pending
        assert_eq!(x(0), [0, 1, 0, 0, 0, 500, 498, 2, 610, 0, 8, 520, 1]);
        assert_eq!(x(1), [0, 1, 0, 0, 0, 30, 30, 0, 31, 0, 0, 0, 0]);
        assert_eq!(x(2), [800, 1, 1, 0, 5, 70, 70, 0, 71, 0, 0, 0, 0]);
        assert_eq!(
            m[2].4[1],
            ("READ".into(), vec![40, 40, 0, 5120, 2621440, 2, 90, 95, 0]),
            "no errors column before Linux 5.3: 0"
        );
        assert!(m.iter().all(|m| m.2.is_empty()), "no mountinfo: no address");
    }

    #[test]
    fn duplicates_other_filesystems_and_other_transports_are_skipped() {
        let tcp = "\txprt:\ttcp 0 1 1 0 0 5 5 0 5 0 1 5 0 \n";
        let text = String::new()
            + "no device mounted on /sys/fs/fuse/connections with fstype fusectl\n"
            // Statistics of a filesystem other than NFS (none in mainline) are not NFS's.
            + "device other mounted on /o with fstype ceph statvers=1.1\n\tage:\t5\n\n"
            + &nfs("srv:/home", "nfs4", "1.1", tcp, OPS9)
            // The same export mounted again shares its superblock: the same counters.
            + &nfs("srv:/home", "nfs4", "1.1", tcp, OPS9).replace("/mnt/x", "/home2")
            + &nfs("srv:/home", "nfs4", "1.1", tcp, OPS9).replace("/mnt/x", "/home2")
            + &nfs("srv:/home", "nfs4", "1.1", "\txprt:\tudp 0 1 5 5 0 5 0 1 5 0 \n", OPS9)
            + &nfs("rdma-srv:/x", "nfs4", "1.1", "\txprt:\trdma 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", OPS9)
            // nconnect=2: two transports; node_exporter 1.5 keeps the last.
            + &nfs("srv:/scratch", "nfs4", "1.1", &format!("{tcp}\txprt:\ttcp 0 1 1 0 9 7 7 0 7 0 1 7 0 \n"), OPS9)
            + "device srv:/noop mounted on /n with fstype nfs\n";
        let info = "30 1 0:40 / /sys/fs/fuse/connections rw - fusectl fusectl rw\n\
                    31 1 0:41 / /o rw - ceph other rw\n\
                    32 1 0:42 / /home rw - nfs4 srv:/home rw,vers=4.2,addr=192.0.2.1\n\
                    33 1 0:42 / /home2 rw - nfs4 srv:/home rw,vers=4.2,addr=192.0.2.1\n\
                    35 1 0:42 / /home2 rw - nfs4 srv:/home rw,vers=4.2,addr=192.0.2.1\n\
                    34 1 0:43 / /home3 rw - nfs4 srv:/home rw,vers=4.2,proto=udp,addr=192.0.2.1\n";
        let m = parse(&text, info).unwrap();
        let keys: Vec<_> = m.iter().map(|m| (&*m.0, &*m.1, &*m.2)).collect();
        assert_eq!(
            keys,
            [
                ("srv:/home", "tcp", "192.0.2.1"),
                ("srv:/home", "udp", "192.0.2.1"),
                ("srv:/scratch", "tcp", "")
            ]
        );
        assert_eq!(m[2].3[XPRT - AGE + 4], 9, "the last xprt line's idle time");
        // The /home2 mount is kept for its mountpoint_info only (no ops); its repeat is not.
        let mut recs = Vec::new();
        parse_mountstats(&text, info, &mut recs).unwrap();
        let all: Vec<_> = records(&recs)
            .map(|r| (text_at(&text, r, MP), r[DUP], r[NOPS]))
            .collect();
        assert_eq!(
            all,
            [
                ("/mnt/x", 0, 2),
                ("/home2", 1, 0),
                ("/mnt/x", 0, 2),
                ("/mnt/x", 0, 2)
            ]
        );
    }

    #[test]
    fn mount_points_and_exports_with_odd_characters() {
        let text = nfs(
            "[fd00::1:2]:/srv/My-Share.v2",
            "nfs4",
            "1.1",
            "\txprt:\ttcp 0 1 1 0 0 5 5 0 5 0 1 5 0 \n",
            OPS9,
        )
        .replace("/mnt/x", "/mnt/with\\040space");
        let info = "40 1 0:52 / /mnt/with\\040space rw - nfs4 [fd00::1:2]:/srv/My-Share.v2 rw,addr=fd00::1:2,local_lock=none\n";
        let m = parse(&text, info).unwrap();
        assert_eq!(
            (&*m[0].0, &*m[0].2),
            ("[fd00::1:2]:/srv/My-Share.v2", "fd00::1:2")
        );
        assert_eq!(
            mount_addr("1 2 3:4 / / rw - nfs a:/b rw,mountaddr=1.2.3.4"),
            ""
        );
        assert_eq!(mount_addr("garbage"), "");
        assert_eq!(parse("", "").unwrap(), []);
    }

    #[test]
    fn garbage() {
        let tcp = "\txprt:\ttcp 0 1 1 0 0 5 5 0 5 0 1 5 0 \n";
        let e = |t: &str| parse(t, "").unwrap_err();
        assert_eq!(
            e("device x mounted at /y with fstype ext4\n"),
            "line 1: expected \"device NAME mounted on PATH with fstype TYPE\", found \"device x mounted at /y with fstype ext4\""
        );
        let ok = nfs("a:/b", "nfs", "1.1", tcp, OPS9);
        assert_eq!(
            e(&ok.replace(
                "\tbytes:\t101 102 103 104 105 106 107 108",
                "\tbytes:\t1 2 3"
            )),
            "line 7: expected at least 8 values after \"bytes:\", found 3"
        );
        assert_eq!(
            e(&ok.replace("\tevents:\t1 2", "\tevents:\t1 -2")),
            "line 6: expected an unsigned integer for events:, found \"-2\""
        );
        assert_eq!(
            e(&nfs(
                "a:/b",
                "nfs",
                "1.1",
                "\txprt:\ttcp 0 1 1 0 0 5 5 0 5 0\n",
                OPS9
            )),
            "line 9: expected at least 13 values after \"xprt:\", found 10"
        );
        assert_eq!(
            e(&nfs("a:/b", "nfs", "1.1", tcp, "\t        NULL 0 0 0 0 0 0 0 0 0\n")),
            "line 11: expected \"OPERATION: VALUES\" of per-op statistics, found \"\\t        NULL 0 0 0 0 0 0 0 0 0\""
        );
        assert_eq!(
            e(&nfs(
                "a:/b",
                "nfs",
                "1.1",
                tcp,
                "\t        NULL: 0 0 0 0 0 0 0\n"
            )),
            "line 11: expected at least 8 values after \"NULL:\", found 7"
        );
        assert_eq!(
            e(&ok.replace("\tage:\t3600", "\tage:\t")),
            "line 3: expected at least 1 values after \"age:\", found 0"
        );
    }

    #[test]
    fn collect_without_nfs_or_mountinfo_and_with_garbage() {
        let dir = std::env::temp_dir().join(format!("proctap-mountstats-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc/self")).unwrap();
        let file = dir.join("proc/self/mountstats");
        let mut ctx = crate::collector::tree_ctx(&dir);
        let mut out = Encoder::new();
        std::fs::write(&file, "device proc mounted on /proc with fstype proc\n").unwrap();
        collect(&mut ctx, &mut out).unwrap();
        assert!(out.as_bytes().is_empty(), "no NFS mount: no series");
        let tcp = "\txprt:\ttcp 0 1 1 0 0 5 5 0 5 0 1 5 0 \n";
        std::fs::write(&file, nfs("a:/b", "nfs", "1.1", tcp, OPS9)).unwrap();
        collect(&mut ctx, &mut out).unwrap();
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        assert!(
            text.contains("node_mountstats_nfs_age_seconds_total{export=\"a:/b\",mountaddr=\"\",protocol=\"tcp\"} 3600\n"),
            "no mountinfo: an empty mountaddr\n{text}"
        );
        std::fs::write(&file, "device a:/b mounted\n").unwrap();
        let e = collect(&mut ctx, &mut out).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(e.ends_with("self/mountstats:1: expected \"device NAME mounted on PATH with fstype TYPE\", found \"device a:/b mounted\""), "{e}");
    }

    #[test]
    fn collect_fixture() {
        let mut ctx = crate::collector::fixture_ctx();
        let mut out = Encoder::new();
        collect(&mut ctx, &mut out).unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        let home = "export=\"192.168.1.10:/export/backup\",mountaddr=\"192.168.1.10\"";
        for line in [
            format!("node_mountstats_nfs_age_seconds_total{{{home},protocol=\"tcp\"}} 1730522\n"),
            format!("node_mountstats_nfs_transport_maximum_rpc_slots{{{home},protocol=\"tcp\"}} 65\n"),
            format!("node_mountstats_nfs_operations_requests_total{{{home},operation=\"READ\",protocol=\"tcp\"}} 609566391\n"),
            format!("node_mountstats_nfs_operations_queue_time_seconds_total{{{home},operation=\"READ\",protocol=\"tcp\"}} 2488.026\n"),
            "node_mountstats_nfs_transport_sends_total{export=\"[2001:db8::20]:/volume1/backup\",mountaddr=\"2001:db8::20\",protocol=\"udp\"} 8149814\n".into(),
            "node_mountstats_nfs_transport_maximum_rpc_slots{export=\"198.51.100.7:/export/media\",mountaddr=\"198.51.100.7\",protocol=\"tcp\"} 0\n".into(),
            format!("node_mountstats_nfs_mountpoint_info{{{home},mountpoint=\"/mnt/nas\",protocol=\"tcp\"}} 1\n"),
            format!("node_mountstats_nfs_operations_errors_total{{{home},operation=\"REMOVE\",protocol=\"tcp\"}} 3\n"),
        ] {
            assert!(text.contains(&line), "{line} missing");
        }
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        // Four mount points, three mounts (the fourth repeats the first); 69 NFSv4 ops and
        // 22 NFSv3 ops twice.
        assert_eq!(samples, 4 + 3 * 45 + 9 * (69 + 22 + 22));
        assert_eq!(MOUNT.lines().filter(|l| *l != "-").count(), 45);
        assert_eq!(MOUNT.lines().count(), HEAD - AGE);
    }
}
