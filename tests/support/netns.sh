#!/bin/sh
# Runs inside a private network namespace (tests/live.rs): builds links, qdiscs, routes and
# sockets with known values, then scrapes proctap, node_exporter and proctap again.
# Environment: PROCTAP, NODE_EXPORTER, OUT (a directory), COLLECTORS (comma-separated),
# ROOTFS (for rt_tables), PORT.
set -eu
# This namespace's links in /sys/class/net (the ethtool collector lists them there).
mount -t sysfs sysfs /sys
ip link set lo up
ip link add v0 type veth peer name v1
ip link set v0 up
ip link set v1 up
ip addr add 10.0.0.1/24 dev v0
ip -6 addr add fd01::1/64 dev v0 nodad
tc qdisc add dev v0 root handle 1: htb default 10
tc class add dev v0 parent 1: classid 1:10 htb rate 1mbit
tc qdisc add dev v0 parent 1:10 handle 10: pfifo limit 50
tc qdisc add dev v1 root handle 2: tbf rate 1mbit burst 32kbit latency 400ms
ip route add 10.1.0.0/16 dev v0 metric 50
ip route add 10.2.0.0/16 nexthop via 10.0.0.2 weight 2 nexthop via 10.0.0.3 weight 1
ip route add default via 10.0.0.254 metric 100 proto static
ip route add blackhole 10.9.0.0/16
ip route add unreachable 10.7.0.0/16
ip route add 10.8.0.0/16 via 10.0.0.5 table 100
ip -6 route add fd02::/48 via fd01::2 dev v0 proto bird
# Some packets through v0's htb (ARP requests nobody answers) and over lo.
python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for dst in ("10.0.0.9", "127.0.0.1"):
    s.sendto(b"proctap", (dst, 9))
'
# Sockets in known states for tcpstat: two listeners, an established pair, all in this namespace.
python3 -c '
import socket, sys, time
a = socket.socket(); a.bind(("127.0.0.1", 0)); a.listen(5)
b = socket.socket(socket.AF_INET6); b.bind(("::1", 0)); b.listen(5)
c = socket.create_connection(a.getsockname()); d, _ = a.accept()
c.sendall(b"x" * 1000)
sys.stdout.write("ready\n"); sys.stdout.flush()
time.sleep(120)
' > "$OUT/sockets" &
SOCKETS=$!
while ! grep -q ready "$OUT/sockets" 2>/dev/null; do sleep 0.05; done
flags="--collectors=$COLLECTORS --path.rootfs=$ROOTFS"
"$PROCTAP" once $flags > "$OUT/before"
ne_flags="--collector.disable-defaults --collector.netdev.device-exclude="
for c in $(echo "$COLLECTORS" | tr , ' '); do ne_flags="$ne_flags --collector.$c"; done
"$NODE_EXPORTER" --web.listen-address=127.0.0.1:$PORT $ne_flags > "$OUT/node_exporter.log" 2>&1 &
NE=$!
i=0
until curl -sf "http://127.0.0.1:$PORT/metrics" > "$OUT/node_exporter"; do
    i=$((i + 1))
    [ $i -lt 200 ] || { kill $NE; exit 1; }
    sleep 0.05
done
kill $NE
wait $NE 2>/dev/null || true
"$PROCTAP" once $flags > "$OUT/after"
"$PROCTAP" once --collectors=qdisc --collector.qdisc.include-child > "$OUT/children"
ip -s link show > "$OUT/ip-link" 2>&1
kill $SOCKETS 2>/dev/null || true
