#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Masquerade and NodePort across nodes, end to end (issue 13.4, 13.5).
#
#   fabric (bridge) -- node A: zerohopd, pods A1 (tc) and A2 (xdp)
#                   -- node B: the kernel routes to its pod B1 (no agent:
#                      a static route on A to B's pod CIDR stands for the
#                      cluster's routing)
#                   -- outside: a server that prints its peer's address
#
# Node A drops, in FORWARD, everything to and from the outside: traffic
# between pods and the outside, and NodePort traffic, only works if BPF
# carried it. The cases: masquerade TCP and UDP, IPv4 and IPv6, from a tc
# and an XDP pod, seen from outside as node A's address; no masquerade to
# another node's pod nor to --no-masquerade; ICMP masqueraded by the
# nftables fallback; path MTU discovery through masquerade (an ICMP error
# from past the outside reaches the pod); a NodePort on A to the backend on B (SNAT: B sees A,
# the client gets its answer); externalTrafficPolicy Local: the client's
# address kept at a local backend, and nothing served without one;
# LoadBalancer IPs routed to node A, to a backend there and on node B;
# ICMP errors about NodePort and LoadBalancer flows to node B, both ways
# (a refused UDP port heard by the client, path MTU discovery of B1's
# replies past the 1280-byte link).
# Everything lives in namespaces this script makes and removes.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhm$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require jq socat nsenter iptables ip6tables nft ethtool python3

FAB="${ZH_PREFIX}-fab" NB="${ZH_PREFIX}-nb" OUT="${ZH_PREFIX}-out"
FAR="${ZH_PREFIX}-far" # behind the outside, past a 1280-byte link
B1="${ZH_PREFIX}-b1" UPLINK="${ZH_PREFIX}up"
A_IP=192.168.78.1 B_IP=192.168.78.2 A_IP6=fd78::1 B_IP6=fd78::2
OUT_IP=172.30.0.100 OUT_IP6=fd30::100 # masqueraded to
KEEP_IP=172.31.0.100                   # --no-masquerade 172.31.0.0/24
NFT_IP=172.32.0.100                    # ICMP: the nftables fallback
FAR_IP=172.33.0.100 FAR_IP6=fd33::100  # path MTU 1280, masqueraded to
B1_IP=10.95.2.10 B1_IP6=fd00:95:2::10

# A veth from netns NS (named DEV there) into the fabric's bridge.
fabric_port() {
	local ns=$1 dev=$2 port=$3
	ip link add "$port" netns "$FAB" type veth peer name "$dev" netns "$ns"
	zh_in "$FAB" ip link set "$port" master br0 up
	zh_in "$ns" ip link set "$dev" up
	# Complete checksums on the wire, as a NIC hands them.
	zh_in "$ns" ethtool -K "$dev" tx off >/dev/null
}

# --- the fabric, node A, node B with its pod, the outside -----------------------
ip netns add "$FAB"
zh_in "$FAB" ip link add br0 type bridge
zh_in "$FAB" ip link set br0 up
zh_node_up
ip link add "$UPLINK" netns "$ZH_NODE" type veth peer name "${ZH_PREFIX}pa" \
	netns "$FAB"
zh_in "$FAB" ip link set "${ZH_PREFIX}pa" master br0 up
zh_node ip link set "$UPLINK" up
zh_node ethtool -K "$UPLINK" tx off >/dev/null
zh_node ip addr add "$A_IP/24" dev "$UPLINK"
zh_node ip addr add "$A_IP6/64" dev "$UPLINK" nodad
# Cross-node pod traffic is the kernel's here (until native routing):
# forwarding on, but nothing to or from the outside.
zh_node sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
for t in iptables ip6tables; do
	zh_node "$t" -I FORWARD -j ACCEPT
done
zh_node iptables -I FORWARD -d 172.30.0.0/24 -j DROP
zh_node iptables -I FORWARD -s 172.30.0.0/24 -j DROP
zh_node ip6tables -I FORWARD -d fd30::/64 -j DROP
zh_node ip6tables -I FORWARD -s fd30::/64 -j DROP
zh_node ip route add 172.30.0.0/24 dev "$UPLINK"
zh_node ip route add 172.31.0.0/24 dev "$UPLINK"
zh_node ip route add 172.32.0.0/24 dev "$UPLINK"
zh_node ip -6 route add fd30::/64 dev "$UPLINK"
zh_node ip route add 172.33.0.0/24 via "$OUT_IP" dev "$UPLINK" onlink
zh_node ip -6 route add fd33::/64 via "$OUT_IP6" dev "$UPLINK" onlink
zh_node ip route add 10.95.2.0/24 via "$B_IP"
zh_node ip -6 route add fd00:95:2::/64 via "$B_IP6"

ip netns add "$NB"
zh_in "$NB" ip link set lo up
fabric_port "$NB" eth0 "${ZH_PREFIX}pb"
zh_in "$NB" ip addr add "$B_IP/24" dev eth0
zh_in "$NB" ip addr add "$B_IP6/64" dev eth0 nodad
zh_in "$NB" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
zh_in "$NB" ip route add 10.95.1.0/24 via "$A_IP"
zh_in "$NB" ip -6 route add fd00:95:1::/64 via "$A_IP6"
ip netns add "$B1"
zh_in "$B1" ip link set lo up
ip link add b1 netns "$NB" type veth peer name eth0 netns "$B1"
zh_in "$NB" ip addr add 10.95.2.1/24 dev b1
zh_in "$NB" ip addr add fd00:95:2::1/64 dev b1 nodad
zh_in "$NB" ip link set b1 up
zh_in "$B1" ip addr add "$B1_IP/24" dev eth0
zh_in "$B1" ip addr add "$B1_IP6/64" dev eth0 nodad
zh_in "$B1" ip link set eth0 up
zh_in "$B1" ip route add default via 10.95.2.1
zh_in "$B1" ip -6 route add default via fd00:95:2::1

ip netns add "$OUT"
zh_in "$OUT" ip link set lo up
fabric_port "$OUT" eth0 "${ZH_PREFIX}po"
for a in "$OUT_IP/24" "$KEEP_IP/24" "$NFT_IP/24"; do
	zh_in "$OUT" ip addr add "$a" dev eth0
done
zh_in "$OUT" ip addr add "$OUT_IP6/64" dev eth0 nodad
zh_in "$OUT" ip route add 192.168.78.0/24 dev eth0
zh_in "$OUT" ip -6 route add fd78::/64 dev eth0
# Only the kept (unmasqueraded) case needs a way back to the pods.
zh_in "$OUT" ip route add 10.95.0.0/16 via "$A_IP"
# LoadBalancer IPs, routed to node A (as MetalLB's BGP or L2 mode would).
zh_in "$OUT" ip route add 172.34.0.0/24 via "$A_IP"
# The outside routes on to FAR over a link of 1280 bytes on its side
# (1500 on FAR's, whose TCP then offers a 1460-byte MSS): what a pod sends
# at 1500 bytes there gets the outside's "fragmentation needed" / "packet
# too big", sent to node A's address (the packet was masqueraded).
ip netns add "$FAR"
zh_in "$FAR" ip link set lo up
ip link add far netns "$OUT" type veth peer name eth0 netns "$FAR"
zh_in "$OUT" ip link set far mtu 1280 up
zh_in "$OUT" ip addr add 172.33.0.1/24 dev far
zh_in "$OUT" ip addr add fd33::1/64 dev far nodad
zh_in "$OUT" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
zh_in "$FAR" ip link set eth0 up
zh_in "$FAR" ip addr add "$FAR_IP/24" dev eth0
zh_in "$FAR" ip addr add "$FAR_IP6/64" dev eth0 nodad
zh_in "$FAR" ip route add default via 172.33.0.1
zh_in "$FAR" ip -6 route add default via fd33::1

# Servers that answer with the address they see: TCP and UDP (the
# variable is socat's, for the shell it starts: single quotes).
# shellcheck disable=SC2016
peer_servers() {
	local ns=$1
	zh_bg "$ns" socat TCP6-LISTEN:9000,ipv6only=0,reuseaddr,fork \
		SYSTEM:'echo $SOCAT_PEERADDR'
	zh_bg "$ns" socat -T 1 UDP6-RECVFROM:9001,ipv6only=0,fork \
		SYSTEM:'read l; echo $SOCAT_PEERADDR'
}
peer_servers "$OUT"
peer_servers "$B1"
# A sink that answers with the number of bytes it got.
zh_bg "$FAR" socat TCP6-LISTEN:9100,ipv6only=0,reuseaddr,fork SYSTEM:'wc -c'

# --- the agent and node A's pods -------------------------------------------------
cat >"$ZH_TMP/services.json" <<EOF
{"services": [
 {"name": "np-remote", "vip": "10.96.0.20", "port": 80, "nodePort": 30080,
  "backends": [{"ip": "$B1_IP", "port": 9000}]},
 {"name": "np-local-none", "vip": "10.96.0.21", "port": 80, "nodePort": 30081,
  "externalTrafficPolicy": "local",
  "backends": [{"ip": "$B1_IP", "port": 9000}]}
]}
EOF
zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" -i 0 -v \
	--service-cidr 10.96.0.0/12 --nodeport-dev "$UPLINK" \
	--cluster-cidr 10.95.0.0/16,fd00:95::/32 \
	--no-masquerade 192.168.78.0/24,fd78::/64,172.31.0.0/24 \
	--services "$ZH_TMP/services.json" 2>"$ZH_TMP/agent.log"
AGENT=${ZH_PIDS[-1]} # nsenter execs it: its pid
for _ in $(seq 1 100); do
	grep -q ready "$ZH_TMP/agent.log" && break
	sleep 0.1
done
zh_conf "$ZH_TMP/tc.conf" masq-tc tc 10.95.1.0/25 fd00:95:1::/80
zh_conf "$ZH_TMP/xdp.conf" masq-xdp xdp 10.95.1.128/25 fd00:95:1:0:1::/80
A1="${ZH_PREFIX}-a1" A2="${ZH_PREFIX}-a2"
zh_pod_add "$A1" "$ZH_TMP/tc.conf"
zh_pod_add "$A2" "$ZH_TMP/xdp.conf"
A1_IP=$(zh_pod_ip "$A1") A1_IP6=$(zh_pod_ip "$A1" 6)
peer_servers "$A1"
sleep 0.5

# tcp_peer NS HOST PORT: what the server there saw as our address.
tcp_peer() {
	local h=$2
	[[ $h == *:* ]] && h="[$h]"
	zh_in "$1" socat -T 3 - "TCP:$h:$3,connect-timeout=3" </dev/null
}
udp_peer() {
	local h=$2
	[[ $h == *:* ]] && h="[$h]"
	echo hi | zh_in "$1" socat -T 3 - "UDP:$h:$3"
}
# seen NS HOST PORT WANT: the server saw WANT (an IPv4 peer also in its
# IPv6 form, ::ffff:a.b.c.d). PORT 9001 is UDP's.
seen() {
	local got
	if [ "$3" = 9001 ]; then got=$(udp_peer "$1" "$2" "$3"); else got=$(tcp_peer "$1" "$2" "$3"); fi
	# socat writes IPv6 in full: the canonical form to compare.
	got=$(python3 -c 'import ipaddress, sys
a = ipaddress.ip_address(sys.argv[1].strip("[]"))
print(getattr(a, "ipv4_mapped", None) or a)' "$got") || return 1
	echo "saw: $got"
	[ "$got" = "$4" ]
}
forward_drops() {
	{
		zh_node iptables -vnL FORWARD
		zh_node ip6tables -vnL FORWARD
	} | awk '$3 == "DROP" { n += $1 } END { print n + 0 }'
}

# --- cases ------------------------------------------------------------------------
setup() {
	check "the agent masquerades in BPF" grep -q "nftables table inet zerohop_masq" "$ZH_TMP/agent.log"
	check "its nftables table is there" zh_node nft list table inet zerohop_masq
}

masquerade() {
	local before
	before=$(zh_stat snat)
	check "tc pod -> outside TCP: the outside sees node A ($A_IP)" seen "$A1" "$OUT_IP" 9000 "$A_IP"
	check "tc pod -> outside UDP: likewise" seen "$A1" "$OUT_IP" 9001 "$A_IP"
	check "tc pod -> outside TCP over IPv6: node A's $A_IP6" seen "$A1" "$OUT_IP6" 9000 "$A_IP6"
	check "xdp pod -> outside TCP: node A ($A_IP)" seen "$A2" "$OUT_IP" 9000 "$A_IP"
	check "... counted as snat" test "$(zh_stat snat)" -gt "$before"
	check "conntrack lists the SNATed flows both ways, the reply's with the pod to go back to" \
		sh -c "'$ZH_BIN/zerohopctl' conntrack list -o json |
		       jq -e '(map(select(.dir == \"snat\")) | length > 0) and
		              (map(select(.dir == \"snat-rev\" and .vip == \"$A1_IP\")) | length > 0)'"
}

inside() {
	check "pod -> another node's pod: not masqueraded (B1 sees $A1_IP)" \
		seen "$A1" "$B1_IP" 9000 "$A1_IP"
	check "... IPv6 (B1 sees $A1_IP6)" seen "$A1" "$B1_IP6" 9000 "$A1_IP6"
	check "pod -> a --no-masquerade address: not masqueraded" \
		seen "$A1" "$KEEP_IP" 9000 "$A1_IP"
}

nft_fallback() {
	local n
	check "ping (ICMP) from a pod to the outside: the kernel's nftables masquerade" \
		zh_in "$A1" ping -c 2 -W 2 "$NFT_IP"
	n=$(zh_node nft -j list table inet zerohop_masq |
		jq '[.nftables[] | .rule? // empty | .expr[] | .counter? // empty | .packets] | add')
	# Conntrack: a flow's first packet alone crosses the nat chain.
	check "... its rule counted the ping ($n packet)" test "${n:-0}" -ge 1
}

nodeport_remote() {
	check "outside -> node A:30080 -> B1 on node B: B1 sees node A ($A_IP)" \
		seen "$OUT" "$A_IP" 30080 "$A_IP"
	# --uplink-xdp auto: a veth uplink is tc's alone (XDP there slows
	# every packet to the node).
	check "the veth uplink runs tc alone (--uplink-xdp auto)" \
		grep -q "NodePorts answered on $UPLINK by tc (--uplink-xdp auto: a veth)" \
		"$ZH_TMP/agent.log"
	check "... no XDP program on it" \
		sh -c "! nsenter --net=/var/run/netns/$ZH_NODE bpftool -j net show dev $UPLINK | jq -e '.[0].xdp | length > 0'"
}

etp_local() {
	local before
	before=$(zh_stat drop_no_local_backend)
	check_not "externalTrafficPolicy Local, no backend on node A: not served" \
		zh_in "$OUT" socat -T 1 - "TCP:$A_IP:30081,connect-timeout=1" </dev/null
	check "... dropped, counted" test "$(zh_stat drop_no_local_backend)" -gt "$before"
	# A backend on node A: the client's own address reaches it.
	cat >"$ZH_TMP/services.json" <<EOF
{"services": [
 {"name": "np-remote", "vip": "10.96.0.20", "port": 80, "nodePort": 30080,
  "backends": [{"ip": "$B1_IP", "port": 9000}]},
 {"name": "np-local", "vip": "10.96.0.21", "port": 80, "nodePort": 30081,
  "externalTrafficPolicy": "local",
  "backends": [{"ip": "$B1_IP", "port": 9000},
               {"ip": "$A1_IP", "port": 9000, "local": true}]}
]}
EOF
	kill -HUP "$AGENT"
	sleep 1
	check "externalTrafficPolicy Local with a local backend: it sees the client ($OUT_IP)" \
		seen "$OUT" "$A_IP" 30081 "$OUT_IP"
}

# sent NS HOST BYTES: a TCP connection carries BYTES to FAR's sink, which
# says it got them all.
sent() {
	local h=$2 got
	[[ $h == *:* ]] && h="[$h]"
	got=$(head -c "$3" /dev/zero |
		zh_in "$1" socat -t 5 -T 5 - "TCP:$h:9100,connect-timeout=3") || true
	echo "the sink got: '$got' of $3"
	[ "$got" = "$3" ]
}
path_mtu() { zh_in "$1" ip route get "$2" | grep -q "mtu $3"; }

# Path MTU discovery through masquerade (snat_icmp.h): the outside's
# ICMP error about a masqueraded packet reaches the pod, whose TCP then
# fits its segments to 1280 bytes; without it the transfer is stuck in
# a black hole.
pmtu() {
	check "tc pod -> FAR TCP, 200 kB over a 1280-byte hop: all of it arrives" \
		sent "$A1" "$FAR_IP" 200000
	check "... the pod learnt the path's MTU from the outside's ICMP error" \
		path_mtu "$A1" "$FAR_IP" 1280
	check "the same over IPv6 (ICMPv6 packet too big)" \
		sent "$A1" "$FAR_IP6" 200000
	check "... the pod learnt it" path_mtu "$A1" "$FAR_IP6" 1280
}

# LoadBalancer IPs from outside: balanced on the uplink like a node port
# (lb.h zh_lb_external), SNATed to node A toward a backend on node B,
# straight into a pod here with the client's address.
lb_ips() {
	cat >"$ZH_TMP/services.json" <<EOF
{"services": [
 {"name": "np-remote", "vip": "10.96.0.20", "port": 80, "nodePort": 30080,
  "backends": [{"ip": "$B1_IP", "port": 9000}]},
 {"name": "lb-remote", "vip": "172.34.0.200", "port": 80,
  "backends": [{"ip": "$B1_IP", "port": 9000}]},
 {"name": "lb-local", "vip": "172.34.0.201", "port": 80,
  "backends": [{"ip": "$A1_IP", "port": 9000}]}
]}
EOF
	kill -HUP "$AGENT"
	sleep 1
	check "outside -> LoadBalancer IP -> B1 on node B: B1 sees node A ($A_IP)" \
		seen "$OUT" 172.34.0.200 80 "$A_IP"
	check "outside -> LoadBalancer IP -> A1 on node A: A1 sees the client ($OUT_IP)" \
		seen "$OUT" 172.34.0.201 80 "$OUT_IP"
}

# ICMP errors about NodePort / LoadBalancer flows SNATed to node B
# (snat_icmp.h): B1's "port unreachable" (nothing on UDP 9009) goes to
# node A and on to the client, whose connected socket hears ECONNREFUSED
# at once (it timed out); a large TCP reply from B1 to FAR, past the
# outside's 1280-byte hop, gets the outside's "fragmentation needed" /
# "packet too big" at node A's address, which A hands on to B1: B1's TCP
# fits its segments and every byte arrives (it stalled).
np_icmp() {
	cat >"$ZH_TMP/services.json" <<EOF
{"services": [
 {"name": "np-refused", "vip": "10.96.0.22", "port": 53, "proto": "udp",
  "nodePort": 30090, "backends": [{"ip": "$B1_IP", "port": 9009}]},
 {"name": "np-refused6", "vip": "fd96::22", "port": 53, "proto": "udp",
  "nodePort": 30090, "backends": [{"ip": "$B1_IP6", "port": 9009}]},
 {"name": "lb-refused", "vip": "172.34.0.202", "port": 53, "proto": "udp",
  "backends": [{"ip": "$B1_IP", "port": 9009}]},
 {"name": "np-big", "vip": "10.96.0.23", "port": 80, "nodePort": 30091,
  "backends": [{"ip": "$B1_IP", "port": 9101}]},
 {"name": "np-big6", "vip": "fd96::23", "port": 80, "nodePort": 30091,
  "backends": [{"ip": "$B1_IP6", "port": 9101}]}
]}
EOF
	kill -HUP "$AGENT"
	sleep 1
	zh_bg "$B1" socat TCP6-LISTEN:9101,ipv6only=0,reuseaddr,fork \
		SYSTEM:'head -c 200000 /dev/zero'
	eventually zh_in "$B1" sh -c "ss -Hltn 'sport = :9101' | grep -q 9101"
	check "outside -> node A:30090/UDP -> B1 (nothing listens): refused at once" \
		zh_udp_refused "$OUT" "$A_IP" 30090
	check "... IPv6: refused" zh_udp_refused "$OUT" "$A_IP6" 30090
	check "outside -> LoadBalancer IP 172.34.0.202/UDP -> B1: refused" \
		zh_udp_refused "$OUT" 172.34.0.202 53
	check "FAR -> node A:30091 -> B1, a 200 kB reply over the 1280-byte hop: all of it arrives" \
		received "$FAR" "$A_IP" 30091 200000
	check "... B1 learnt the path's MTU toward node A from the outside's error" \
		path_mtu "$B1" "$A_IP" 1280
	check "the same over IPv6 (ICMPv6 packet too big)" \
		received "$FAR" "$A_IP6" 30091 200000
	check "... B1 learnt it" path_mtu "$B1" "$A_IP6" 1280
}

# The same errors about NodePort / LoadBalancer flows whose backend is A1,
# a pod of node A (its reply leaves A's uplink from the front end, the
# client's address kept): A1's "port unreachable" leaves as the front
# end's, quoting client -> front end, and the client's connected socket
# hears ECONNREFUSED at once; the outside's "fragmentation needed" /
# "packet too big" about A1's large reply to FAR, sent to the front end,
# goes into A1 quoting A1 -> FAR: A1 learns the 1280-byte hop and every
# byte arrives.
np_icmp_local() {
	cat >"$ZH_TMP/services.json" <<EOF
{"services": [
 {"name": "np-lrefused", "vip": "10.96.0.24", "port": 53, "proto": "udp",
  "nodePort": 30092, "backends": [{"ip": "$A1_IP", "port": 9009}]},
 {"name": "np-lrefused6", "vip": "fd96::24", "port": 53, "proto": "udp",
  "nodePort": 30092, "backends": [{"ip": "$A1_IP6", "port": 9009}]},
 {"name": "lb-lrefused", "vip": "172.34.0.203", "port": 53, "proto": "udp",
  "backends": [{"ip": "$A1_IP", "port": 9009}]},
 {"name": "np-lbig", "vip": "10.96.0.25", "port": 80, "nodePort": 30093,
  "backends": [{"ip": "$A1_IP", "port": 9102}]},
 {"name": "np-lbig6", "vip": "fd96::25", "port": 80, "nodePort": 30093,
  "backends": [{"ip": "$A1_IP6", "port": 9102}]}
]}
EOF
	kill -HUP "$AGENT"
	sleep 1
	zh_bg "$A1" socat TCP6-LISTEN:9102,ipv6only=0,reuseaddr,fork \
		SYSTEM:'head -c 200000 /dev/zero'
	eventually zh_in "$A1" sh -c "ss -Hltn 'sport = :9102' | grep -q 9102"
	# pmtu taught A1 the hop toward FAR already: forgotten first.
	zh_in "$A1" ip route flush cache
	zh_in "$A1" ip -6 route flush cache
	check_not "A1 knows no 1280-byte path toward FAR now" \
		path_mtu "$A1" "$FAR_IP" 1280
	check_not "... nor over IPv6" path_mtu "$A1" "$FAR_IP6" 1280
	check "outside -> node A:30092/UDP -> A1 on node A (nothing listens): refused at once" \
		zh_udp_refused "$OUT" "$A_IP" 30092
	check "... IPv6: refused" zh_udp_refused "$OUT" "$A_IP6" 30092
	check "outside -> LoadBalancer IP 172.34.0.203/UDP -> A1: refused" \
		zh_udp_refused "$OUT" 172.34.0.203 53
	check "FAR -> node A:30093 -> A1, a 200 kB reply over the 1280-byte hop: all of it arrives" \
		received "$FAR" "$A_IP" 30093 200000
	check "... A1 learnt the path's MTU toward FAR from the outside's error" \
		path_mtu "$A1" "$FAR_IP" 1280
	check "the same over IPv6 (ICMPv6 packet too big)" \
		received "$FAR" "$A_IP6" 30093 200000
	check "... A1 learnt it" path_mtu "$A1" "$FAR_IP6" 1280
}

# received NS HOST PORT BYTES: a TCP connection to HOST:PORT brings BYTES.
received() {
	local h=$2 got
	[[ $h == *:* ]] && h="[$h]"
	got=$(zh_in "$1" socat -T 5 -u "TCP:$h:$3,connect-timeout=3" - </dev/null |
		wc -c) || true
	echo "got $got of $4 bytes"
	[ "$got" = "$4" ]
}

no_forward() {
	check "node A's FORWARD drops to and from the outside never hit" \
		test "$(forward_drops)" = 0
}

debug_agent() { cat "$ZH_TMP/agent.log" >&2; }
[ -z "${ZH_DEBUG:-}" ] || zh_defer debug_agent
zh_run_cases setup masquerade inside nft_fallback pmtu nodeport_remote etp_local \
	lb_ips np_icmp np_icmp_local no_forward
