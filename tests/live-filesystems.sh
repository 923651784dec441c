#!/bin/sh
# Run by tests/filesystems.rs inside `unshare --mount`: makes a two-device raid1 btrfs and an XFS
# on loop devices, mounts them (the mounts die with the namespace), and scrapes them with
# proctap and node_exporter into OUT/proctap.txt and OUT/node_exporter.txt. Both read the mounts
# from a procfs copy whose 1/mounts is this namespace's, since /proc/1 is the host's init.
# Usage: live-filesystems.sh OUT PROCTAP NODE_EXPORTER ADDR
set -eu
out=$1 proctap=$2 node_exporter=$3 addr=$4
loops=""
cleanup() {
	umount "$out/btrfs" "$out/xfs" 2>/dev/null || true
	for l in $loops; do losetup -d "$l" 2>/dev/null || true; done
}
trap cleanup EXIT
mount --make-rprivate /
mkdir -p "$out/btrfs" "$out/xfs" "$out/proc/1"
for f in a b x; do truncate -s 320M "$out/$f.img"; done
a=$(losetup -f --show "$out/a.img"); loops="$a"
b=$(losetup -f --show "$out/b.img"); loops="$loops $b"
x=$(losetup -f --show "$out/x.img"); loops="$loops $x"
mkfs.btrfs -q -f -L live-raid1 -d raid1 -m raid1 "$a" "$b" >/dev/null
mkfs.xfs -q -f "$x"
mount "$a" "$out/btrfs"
mount "$x" "$out/xfs"
head -c 8388608 /dev/urandom > "$out/btrfs/file"
head -c 4194304 /dev/urandom > "$out/xfs/file"
sync
cat "$out/xfs/file" > /dev/null
cp /proc/self/mounts "$out/proc/1/mounts"
paths="--path.procfs=$out/proc"
"$proctap" once --collectors=btrfs,xfs $paths > "$out/proctap.txt"
"$node_exporter" --web.listen-address="$addr" --collector.disable-defaults \
	--collector.btrfs --collector.xfs $paths >/dev/null 2>&1 &
ne=$!
i=0
until curl -sf "http://$addr/metrics" > "$out/node_exporter.txt"; do
	i=$((i + 1))
	if [ $i -gt 150 ]; then kill $ne; echo "node_exporter did not answer" >&2; exit 1; fi
	sleep 0.1
done
kill $ne
wait $ne 2>/dev/null || true
# The XFS and btrfs this script made, by their devices.
echo "$a $b $x" > "$out/devices.txt"
