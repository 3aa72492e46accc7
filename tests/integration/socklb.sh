#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Socket-level load balancing end to end: the agent attaches its cgroup
# programs to a cgroup v2 directory this script makes (never the machine's
# root: they would balance every socket of the machine) and moves itself
# into, so that every process it starts, in the node netns ("hostNetwork")
# or in a pod, is balanced at connect()/sendmsg(). Pods wired by the real
# plugin; the node has `iptables -I FORWARD -j DROP`, ip_forward=0 and no
# NAT rule, and no route to the Service CIDR: a Service only works if a
# datapath translated it. Real clients (zh-sockc) and servers (socat).
# Everything lives in namespaces, a cgroup and pins this script makes and
# removes.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhk$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require jq socat nsenter iptables bpftool

CTL="$ZH_BIN/zerohopctl"
# zh_config's flags (zh_abi.h ZH_CFG_F_*)
SOCK_PODS=4 REV_GATED=8 SOCK_RELEASE=16
SOCKC="$ZH_BIN/tests/zh-sockc"
SVC="$ZH_TMP/services.json"
LOG="$ZH_TMP/agent.log"
N=300
[ -x "$SOCKC" ] || {
	echo "$ZH_TEST: no $SOCKC: make $O/tests/zh-sockc"
	exit 1
}

# --- the cgroup -----------------------------------------------------------------
CG_ROOT=""
for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
	if [ "$(stat -f -c %T "$d" 2>/dev/null)" = cgroup2fs ]; then
		CG_ROOT=$d
		break
	fi
done
[ -n "$CG_ROOT" ] || zh_skip "no cgroup v2 hierarchy (cgroup v1 only)"
CG="$CG_ROOT/$ZH_PREFIX"
mkdir "$CG"
# Back to the root, then whatever is still in our cgroup (only what this
# script started) ends, and the cgroup goes.
cgroup_cleanup() {
	local p i
	echo $$ >"$CG_ROOT/cgroup.procs" 2>/dev/null
	for i in $(seq 50); do
		for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do
			kill "$p" 2>/dev/null
		done
		rmdir "$CG" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "$ZH_TEST: cannot remove $CG" >&2
}
zh_defer cgroup_cleanup
echo $$ >"$CG/cgroup.procs"

# --- the node and pods ------------------------------------------------------------
zh_node_up
# An IPv6 address of the node's own, as 10.200.0.1 (lib.sh) for IPv4: a
# hostNetwork client's source for the pods' global addresses.
zh_node ip addr add fd00:200::1/128 dev lo
zh_node sysctl -qw net.ipv4.ip_forward=0
zh_node iptables -I FORWARD -j DROP
# An external client behind the node's uplink, for NodePorts: the
# per-packet path's, whatever the sockets do.
zh_uplink_up

agent_start() { # agent_start ARGS...: zerohopd with ARGS, until ready
	: >"$LOG"
	zh_bg "$ZH_NODE" env ZEROHOP_SOCKET_LB= "$ZH_BIN/zerohopd" -i 0 \
		--service-cidr 10.96.0.0/12,fd00:96::/108 --cgroup "$CG" \
		--nodeport-dev "$UPLINK" "$@" 2>"$LOG"
	AGENT=$!
	for _ in $(seq 1 100); do
		grep -q ready "$LOG" && return 0
		sleep 0.1
	done
	cat "$LOG"
	return 1
}
agent_stop() {
	kill "$AGENT" 2>/dev/null || true
	wait "$AGENT" 2>/dev/null || true
}

agent_start --socket-lb on
# The hooks of ours: 8, and zh_sock_release where this kernel loads it
# (no feature bit: its pin says).
HOOKS=8
[ -e "$ZH_PIN_DIR/zh_sock_release" ] && HOOKS=9

zh_conf "$ZH_TMP/tc.conf" socklb tc 10.95.0.0/24 fd00:95::/64
C="${ZH_PREFIX}-c" B1="${ZH_PREFIX}-b1" B2="${ZH_PREFIX}-b2" B3="${ZH_PREFIX}-b3"
for p in "$C" "$B1" "$B2" "$B3"; do zh_pod_add "$p" "$ZH_TMP/tc.conf"; done
declare -A IP4 IP6 NAME
for p in "$C" "$B1" "$B2" "$B3"; do
	IP4[$p]=$(zh_pod_ip "$p")
	IP6[$p]=$(zh_pod_ip "$p" 6)
done
NAME[$B1]=b1 NAME[$B2]=b2 NAME[$B3]=b3

# Every backend answers with its name: TCP once per connection, UDP once
# per datagram.
for b in "$B1" "$B2" "$B3"; do
	n=${NAME[$b]}
	zh_bg "$b" socat TCP6-LISTEN:8080,ipv6only=0,reuseaddr,fork \
		SYSTEM:"echo $n"
	zh_bg "$b" socat -T 1 UDP6-RECVFROM:5353,ipv6only=0,fork \
		EXEC:"sed -u s/.*/$n/"
	zh_bg "$b" "$ZH_BIN/xdpbench" server --port 7777
done
sleep 0.5

# backends PORT FAMILY POD...: a backends array.
backends() {
	local port=$1 fam=$2 p sep=""
	shift 2
	printf '['
	for p in "$@"; do
		if [ "$fam" = 6 ]; then
			printf '%s{"ip":"%s","port":%s}' "$sep" "${IP6[$p]}" "$port"
		else
			printf '%s{"ip":"%s","port":%s}' "$sep" "${IP4[$p]}" "$port"
		fi
		sep=,
	done
	printf ']'
}

# services POD...: web, dns (and their IPv6 twins) backed by PODs.
services() {
	cat >"$SVC" <<EOF
{"services": [
 {"name": "web", "vip": "10.96.0.10", "port": 80, "proto": "tcp", "backends": $(backends 8080 4 "$@")},
 {"name": "dns", "vip": "10.96.0.10", "port": 53, "proto": "udp", "backends": $(backends 5353 4 "$@")},
 {"name": "probe", "vip": "10.96.0.11", "port": 7777, "proto": "udp", "backends": $(backends 7777 4 "$B1")},
 {"name": "sticky", "vip": "10.96.0.12", "port": 80, "affinity": {"clientIP": 600},
  "backends": $(backends 8080 4 "$B1" "$B2" "$B3")},
 {"name": "empty", "vip": "10.96.0.13", "port": 80, "backends": []},
 {"name": "emptyu", "vip": "10.96.0.13", "port": 53, "proto": "udp", "backends": []},
 {"name": "web6", "vip": "fd00:96::10", "port": 80, "backends": $(backends 8080 6 "$@")},
 {"name": "dns6", "vip": "fd00:96::10", "port": 53, "proto": "udp", "backends": $(backends 5353 6 "$@")},
 {"name": "np", "vip": "10.96.0.15", "port": 80, "nodePort": 30080, "backends": $(backends 8080 4 "$B2")},
$(for i in $(seq 20 29); do
	printf ' {"name": "aff%s", "vip": "10.96.0.%s", "port": 80, "affinity": {"clientIP": 600}, "backends": %s},\n' \
		"$i" "$i" "$(backends 8080 4 "$B1" "$B2" "$B3")"
done)
 {"name": "last", "vip": "10.96.0.30", "port": 80, "backends": $(backends 8080 4 "$B1")}
]}
EOF
	"$CTL" service apply -f "$SVC"
}

# sock_stat HOOK: zerohopctl stats' count of translations at HOOK.
sock_stat() { "$CTL" stats -o json | jq -r ".socketLB.translations[\"$1\"]"; }
# spread FILE LO HI: every backend's count of replies in FILE in LO..HI.
spread() {
	local b n
	for b in b1 b2 b3; do
		n=$(grep -c "reply=$b\$" "$1" || true)
		((n >= $2 && n <= $3)) || {
			echo "$b answered $n times, expected $2..$3"
			sed 's/.*reply=//' "$1" | sort | uniq -c
			return 1
		}
	done
}
# all_like FILE REGEX COUNT: FILE has COUNT lines, each matching REGEX.
all_like() {
	local n m
	n=$(grep -c . "$1" || true)
	m=$(grep -cE "$2" "$1" || true)
	[ "$n" = "$3" ] && [ "$m" = "$3" ] || {
		echo "$n lines, $m like $2, want $3:"
		head -n 5 "$1"
		return 1
	}
}
# our_links: how many programs of ours are attached to the cgroup.
our_links() {
	# Nothing at all attached: bpftool prints nothing (jq -s: []).
	bpftool -j cgroup show "$CG" | jq -s '[.[][] | select(.name | startswith("zh_sock_"))] | length'
}
# links_are N: N programs of ours on the cgroup (what is there printed).
links_are() {
	[ "$(our_links)" = "$1" ] || {
		bpftool cgroup show "$CG"
		find "$ZH_PIN_DIR" -name "*_link"
		false
	}
}
# sock_served VIP PORT BOOL: service list says that Service is (not) served at the
# socket level.
sock_served() {
	"$CTL" service list -o json >"$ZH_TMP/sl.json"
	jq -e ".services[] | select(.vip == \"$1\" and .port == $2) | .socketLB == $3" "$ZH_TMP/sl.json" >/dev/null || {
		jq -c ".services[] | select(.vip == \"$1\" and .port == $2)" "$ZH_TMP/sl.json"
		"$CTL" stats -o json | jq -c .socketLB
		false
	}
}
in_node() { zh_node "$@"; }
in_c() { zh_in "$C" "$@"; }

attached() {
	check "the agent says socket-level LB is on" grep -q "socket-level load balancing on $CG" "$LOG"
	check "$HOOKS programs of ours on the cgroup (bpftool cgroup show)" links_are $HOOKS
	check "$HOOKS links pinned in the pin directory" \
		test "$(find "$ZH_PIN_DIR" -name 'zh_sock_*_link' | wc -l)" = $HOOKS
	check "apply the Services" services "$B1" "$B2" "$B3"
	check "service list: web is served at the socket level" sock_served 10.96.0.10 80 true
	check "service list's table has a column for it" \
		sh -c "'$CTL' service list | head -n 1 | grep -q SOCK"
	check "hooks on a cgroup below the root: ZH_CFG_F_SOCK_PODS clear, reverse lookups gated" \
		flags_are $((SOCK_PODS | REV_GATED)) $REV_GATED
}

host_tcp_udp() {
	in_node "$SOCKC" tcp 10.96.0.10 80 3 >"$ZH_TMP/h.out" 2>&1 || true
	check "hostNetwork: 3 TCP connections to a ClusterIP answered, getpeername() is the VIP" \
		all_like "$ZH_TMP/h.out" '^peer=10\.96\.0\.10:80 from=- reply=b[123]$' 3
	in_node "$SOCKC" udp 10.96.0.10 53 3 >"$ZH_TMP/h.out" 2>&1 || true
	check "hostNetwork: connected UDP to a ClusterIP answered from the VIP, peer the VIP" \
		all_like "$ZH_TMP/h.out" '^peer=10\.96\.0\.10:53 from=10\.96\.0\.10:53 reply=b[123]$' 3
	in_node "$SOCKC" tcp fd00:96::10 80 2 >"$ZH_TMP/h.out" 2>&1 || true
	check "hostNetwork: IPv6 too" \
		all_like "$ZH_TMP/h.out" '^peer=\[fd00:96::10\]:80 from=- reply=b[123]$' 2
	in_node "$SOCKC" udpto fd00:96::10 53 2 >"$ZH_TMP/h.out" 2>&1 || true
	check "hostNetwork: IPv6 UDP answered from the VIP" \
		all_like "$ZH_TMP/h.out" '^peer=- from=\[fd00:96::10\]:53 reply=b[123]$' 2
	in_node "$SOCKC" tcp 10.200.0.1 30080 1 >"$ZH_TMP/h.out" 2>&1 || true
	check "hostNetwork: a NodePort at the node's own address" \
		all_like "$ZH_TMP/h.out" 'reply=b2$' 1
	in_node "$SOCKC" tcp 127.0.0.1 30080 1 >"$ZH_TMP/h.out" 2>&1 || true
	check "hostNetwork: a NodePort at localhost, as kube-proxy allows" \
		all_like "$ZH_TMP/h.out" 'reply=b2$' 1
	check "stats count connect4 translations" test "$(sock_stat connect4)" -ge 5
	check "stats count connect6 translations" test "$(sock_stat connect6)" -ge 2
	check "stats count getpeername4" test "$(sock_stat getpeername4)" -ge 5
}

udp_reply() {
	local r0
	r0=$(sock_stat recvmsg4)
	in_node "$SOCKC" udpto 10.96.0.10 53 5 >"$ZH_TMP/u.out" 2>&1 || true
	check "unconnected UDP: every reply is seen from the VIP" \
		all_like "$ZH_TMP/u.out" '^peer=- from=10\.96\.0\.10:53 reply=b[123]$' 5
	check "... by recvmsg4 (stats +5)" test "$(($(sock_stat recvmsg4) - r0))" -ge 5
	check "... and sendmsg4 translated them" test "$(sock_stat sendmsg4)" -ge 5
	in_c "$SOCKC" udpto 10.96.0.10 53 3 >"$ZH_TMP/u.out" 2>&1 || true
	check "from a pod too" \
		all_like "$ZH_TMP/u.out" '^peer=- from=10\.96\.0\.10:53 reply=b[123]$' 3
}

dns_spread() {
	in_node "$SOCKC" udpnew 10.96.0.10 53 "$N" >"$ZH_TMP/d.out" 2>&1 || true
	check "hostNetwork: $N DNS-like UDP requests, each a new socket, all answered from the VIP" \
		all_like "$ZH_TMP/d.out" 'from=10\.96\.0\.10:53 reply=b[123]$' "$N"
	# Uniform is 100 each; 70..130 is 3.6 sd.
	check "... spread over the 3 backends (70..130 each)" spread "$ZH_TMP/d.out" 70 130
	in_c "$SOCKC" udpnew 10.96.0.10 53 "$N" >"$ZH_TMP/d.out" 2>&1 || true
	check "from a pod: $N, all answered from the VIP" \
		all_like "$ZH_TMP/d.out" 'from=10\.96\.0\.10:53 reply=b[123]$' "$N"
	check "... spread too" spread "$ZH_TMP/d.out" 70 130
	in_c "$SOCKC" tcp 10.96.0.10 80 "$N" >"$ZH_TMP/d.out" 2>&1 || true
	check "from a pod: $N TCP connections, spread" spread "$ZH_TMP/d.out" 70 130
}

affinity() {
	local first
	in_node "$SOCKC" tcp 10.96.0.12 80 30 >"$ZH_TMP/a.out" 2>&1 || true
	first=$(head -n 1 "$ZH_TMP/a.out" | sed 's/.*reply=//')
	check "hostNetwork: 30 connections to a ClientIP-affinity Service, one backend ($first)" \
		all_like "$ZH_TMP/a.out" "reply=$first\$" 30
	in_c "$SOCKC" tcp 10.96.0.12 80 30 >"$ZH_TMP/a.out" 2>&1 || true
	first=$(head -n 1 "$ZH_TMP/a.out" | sed 's/.*reply=//')
	check "pod: the same for its 30 ($first)" all_like "$ZH_TMP/a.out" "reply=$first\$" 30
	in_c "$SOCKC" -b "${IP4[$C]}" tcp 10.96.0.12 80 5 >"$ZH_TMP/a.out" 2>&1 || true
	check "pod bound to its address: keyed as the per-packet path keys it, one backend" \
		all_like "$ZH_TMP/a.out" "reply=$(head -n 1 "$ZH_TMP/a.out" | sed 's/.*reply=//')\$" 5
}

# le32 A.B.C.D: the address as bpftool prints a __u32 in network byte
# order (read as little-endian).
le32() {
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	echo $((a | b << 8 | c << 16 | d << 24))
}
# netns_has ADDR4: zh_netns has an entry whose IPv4 is ADDR4.
netns_has() {
	bpftool -j map dump pinned "$ZH_PIN_DIR/zh_netns" |
		jq -e --argjson a "$(le32 "$1")" 'any(.[]; .formatted.value.addr4 == $a)' >/dev/null
}

# zh_netns: the node's netns (the agent's) and each pod's, with their
# addresses; a pod's goes with its DEL.
netns_map() {
	local d="${ZH_PREFIX}-d" ip
	check "the agent recorded the node's netns, its addresses the affinity client" \
		grep -q "the node's netns in zh_netns: sessionAffinity client 10.200.0.1 / fd00:200::1" "$LOG"
	check "zh_netns: the node's entry (flags NODE|V4|V6)" \
		sh -c "bpftool -j map dump pinned '$ZH_PIN_DIR/zh_netns' | jq -e 'any(.[]; .formatted.value.flags == 7 and .formatted.value.ifindex == 0)' >/dev/null"
	check "zh_netns: pod $C's entry with its address" netns_has "${IP4[$C]}"
	zh_pod_add "$d" "$ZH_TMP/tc.conf"
	ip=$(zh_pod_ip "$d")
	check "a new pod ($ip): its entry written at ADD" netns_has "$ip"
	zh_cni DEL "$d" "$ZH_TMP/tc.conf" >/dev/null
	check "... and gone with its DEL" sh -c "! bpftool -j map dump pinned '$ZH_PIN_DIR/zh_netns' | jq -e --argjson a $(le32 "$ip") 'any(.[]; .formatted.value.addr4 == \$a)' >/dev/null"
}

# pick VIP...: the backend pod C's one TCP connection to each VIP:80 got,
# space-separated.
pick() {
	local v out=()
	for v in "$@"; do
		out+=("$(in_c "$SOCKC" tcp "$v" 80 1 2>&1 | sed -n 's/.*reply=//p')")
	done
	echo "${out[*]}"
}

# sessionAffinity across both paths: the socket path keys an unbound
# socket of a pod by the pod's address (zh_netns), as the per-packet path
# keys its packets. Five Services each way: matching by luck is 1 in 243.
affinity_both_paths() {
	local a=(10.96.0.20 10.96.0.21 10.96.0.22 10.96.0.23 10.96.0.24)
	local b=(10.96.0.25 10.96.0.26 10.96.0.27 10.96.0.28 10.96.0.29)
	local sock_a pkt_a pkt_b sock_b c0
	c0=$(sock_stat connect4)
	sock_a=$(pick "${a[@]}")
	check "socket-LB: pod $C to 5 ClientIP Services ($sock_a)" \
		sh -c "echo '$sock_a' | grep -qE '^(b[123] ){4}b[123]$' && test $(($(sock_stat connect4) - c0)) -ge 5"
	agent_stop
	agent_start --socket-lb off
	check "socket-LB off: the per-packet path from here" links_are 0
	"$CTL" conntrack flush >/dev/null
	pkt_a=$(pick "${a[@]}")
	check "per-packet: the pod's later connections keep each backend ($pkt_a)" \
		test "$pkt_a" = "$sock_a"
	check "... balanced by the per-packet path (zh_ct has them)" \
		sh -c "test \$('$CTL' conntrack list -o json | jq length) -gt 0"
	pkt_b=$(pick "${b[@]}")
	check "per-packet: 5 more ClientIP Services ($pkt_b)" \
		sh -c "echo '$pkt_b' | grep -qE '^(b[123] ){4}b[123]$'"
	agent_stop
	agent_start
	check "socket-LB on again" links_are $HOOKS
	c0=$(sock_stat connect4)
	sock_b=$(pick "${b[@]}")
	check "socket-LB: the pod's connections keep the per-packet path's backends ($sock_b)" \
		test "$sock_b" = "$pkt_b"
	check "... balanced at connect()" test "$(($(sock_stat connect4) - c0))" -ge 5
}

# kube-proxy answers a NodePort at localhost on the host only: a pod's
# 127.0.0.1 is its own.
localhost_nodeport() {
	in_node "$SOCKC" tcp 127.0.0.1 30080 1 >"$ZH_TMP/l.out" 2>&1 || true
	check "node: a NodePort at localhost answered" all_like "$ZH_TMP/l.out" 'reply=b2$' 1
	in_c "$SOCKC" tcp 127.0.0.1 30080 1 >"$ZH_TMP/l.out" 2>&1 || true
	check "pod: 127.0.0.1:NodePort is the pod's own localhost (refused, not balanced)" \
		grep -q '^err=ECONNREFUSED .*call=connect' "$ZH_TMP/l.out"
	in_c "$SOCKC" tcp "${IP4[$C]}" 30080 1 >"$ZH_TMP/l.out" 2>&1 || true
	check "pod: and its own address is not the node's either" \
		grep -q '^err=ECONNREFUSED .*call=connect' "$ZH_TMP/l.out"
}

drain() {
	local first gone rest
	# An unconnected UDP socket (as musl's resolver uses), one request
	# now, the next after its backend left.
	coproc SOCK { in_node "$SOCKC" -w udpto 10.96.0.10 53 2 2>&1; }
	read -r -t 5 first <&"${SOCK[0]}" || true
	gone=${first##*reply=}
	check "a UDP socket's first request answered ($first)" test -n "$gone"
	rest=()
	for b in "$B1" "$B2" "$B3"; do
		[ "${NAME[$b]}" = "$gone" ] || rest+=("$b")
	done
	check "drain $gone: the Services without it" services "${rest[@]}"
	echo next >&"${SOCK[1]}"
	read -r -t 5 second <&"${SOCK[0]}" || true
	wait "$SOCK_PID" 2>/dev/null || true
	check "its next sendmsg went to another backend ($second)" \
		sh -c "echo '$second' | grep -E 'from=10\.96\.0\.10:53 reply=b[123]$' | grep -qv 'reply=$gone$'"
	in_node "$SOCKC" tcp 10.96.0.10 80 100 >"$ZH_TMP/r.out" 2>&1 || true
	check "100 new connections from the node, none to $gone" \
		sh -c "test \$(grep -c 'reply=b' '$ZH_TMP/r.out') = 100 && ! grep -q 'reply=$gone\$' '$ZH_TMP/r.out'"
	in_c "$SOCKC" udpnew 10.96.0.10 53 100 >"$ZH_TMP/r.out" 2>&1 || true
	check "100 new UDP sockets from a pod, none to $gone" \
		sh -c "test \$(grep -c 'reply=b' '$ZH_TMP/r.out') = 100 && ! grep -q 'reply=$gone\$' '$ZH_TMP/r.out' ||
		       { grep -v 'reply=b[123]\$' '$ZH_TMP/r.out' | head -n 5; grep -c 'reply=$gone\$' '$ZH_TMP/r.out'; false; }"
	check "the backend back" services "$B1" "$B2" "$B3"
}

# --- connected UDP sockets of a removed backend (sockdiag.h) ---------------------
KEEP="tests/integration/udpkeep.py"
# keep_start NS OUT ARGS...: udpkeep.py ARGS in NS (the node: $ZH_NODE) in
# the background, writing OUT, until its first line; its reply's name in
# KEEP_GOT (not in a subshell: zh_bg's cleanup must know the process).
KEEP_GOT=""
keep_start() {
	local ns=$1 kout=$2
	shift 2
	: >"$kout"
	zh_bg "$ns" python3 "$KEEP" "$@" >"$kout" 2>&1
	eventually grep -q '^peer=' "$kout" || {
		cat "$kout"
		return 1
	}
	KEEP_GOT=$(sed -n 's/^peer=.* reply=//p' "$kout")
}
# keep_on NS OUT BACKEND ARGS...: keep_start until the client is on
# BACKEND (the socket's cookie picks it); the others are stopped.
keep_on() {
	local ns=$1 kout=$2 want=$3 i
	shift 3
	for i in $(seq 30); do
		keep_start "$ns" "$kout" "$@" || return 1
		[ "$KEEP_GOT" = "$want" ] && return 0
		kill "${ZH_PIDS[-1]}" 2>/dev/null || true
	done
	echo "30 clients, none on $want"
	return 1
}
keep_stat() { "$CTL" stats -o json | jq -r ".socketLB.connectedUdpDestroyed.$1"; }
# ms_since T0 OUT: the client's abort time in OUT less T0, in ms.
ms_since() {
	awk -v t0="$1" '/^recv err=ECONNABORTED/ { split($3, a, "="); printf "%.1f\n", (a[2] - t0) * 1000 }' "$2"
}

udp_destroy() {
	local b x y d0 n0 f0 i
	for b in "$B1" "$B2"; do
		zh_bg "$b" socat TCP6-LISTEN:9090,ipv6only=0,reuseaddr,fork \
			SYSTEM:"echo ${NAME[$b]}; exec cat"
	done
	check "a UDP Service of two backends" "$CTL" service add --vip 10.96.0.17 \
		--port 53 --proto udp --backend "${IP4[$B1]}:5353" --backend "${IP4[$B2]}:5353"
	check "a TCP Service of the same two" "$CTL" service add --vip 10.96.0.17 \
		--port 90 --backend "${IP4[$B1]}:9090" --backend "${IP4[$B2]}:9090"
	sleep 0.3
	keep_start "$ZH_NODE" "$ZH_TMP/k_node.out" udp 10.96.0.17 53 20 || true
	x=$KEEP_GOT
	check "hostNetwork: a connected UDP socket to the ClusterIP answered ($x)" \
		grep -qE '^peer=10\.96\.0\.17:53 reply=b[12]$' "$ZH_TMP/k_node.out"
	[ "$x" = b1 ] && y=b2 || y=b1
	check "a pod's connected UDP socket to the ClusterIP on $x too" \
		keep_on "$C" "$ZH_TMP/k_pod.out" "$x" udp 10.96.0.17 53 20
	local xb=$B1 yb=$B2
	[ "$x" = b1 ] || { xb=$B2 yb=$B1; }
	check "a pod's TCP connection through the ClusterIP to $x" \
		keep_on "$C" "$ZH_TMP/k_tcp.out" "$x" tcp 10.96.0.17 90 "$ZH_TMP/go"
	# Last: it waits in recv() for 3 s only.
	check "a pod's UDP socket connected to $x's own address (no Service)" \
		keep_start "$C" "$ZH_TMP/k_direct.out" udp "${IP4[$xb]}" 5353 3
	n0=$(keep_stat destroyed) f0=$(keep_stat failed)
	d0=$(date +%s.%N)
	# zerohopctl on the node, as an operator runs it: its sweep starts
	# with its own netns, the node's.
	check "remove $x from both Services (zerohopctl service add)" \
		zh_node sh -c "'$CTL' service add --vip 10.96.0.17 --port 53 --proto udp \
			--backend '${IP4[$yb]}:5353' >'$ZH_TMP/k_ctl.out' &&
		       '$CTL' service add --vip 10.96.0.17 --port 90 \
			--backend '${IP4[$yb]}:9090' >>'$ZH_TMP/k_ctl.out'"
	touch "$ZH_TMP/go"
	for i in node pod direct; do
		eventually grep -q '^again' "$ZH_TMP/k_$i.out" || true
	done
	eventually grep -q '^echo' "$ZH_TMP/k_tcp.out" || true
	check "hostNetwork: its recv() failed with ECONNABORTED" \
		grep -q '^recv err=ECONNABORTED ' "$ZH_TMP/k_node.out"
	check "... a send() without connecting again: EDESTADDRREQ (disconnected)" \
		grep -qx 'send err=EDESTADDRREQ' "$ZH_TMP/k_node.out"
	check "... connected again: answered by $y" grep -qx "again reply=$y" "$ZH_TMP/k_node.out"
	check "pod: its recv() failed with ECONNABORTED" \
		grep -q '^recv err=ECONNABORTED ' "$ZH_TMP/k_pod.out"
	check "... connected again: answered by $y" grep -qx "again reply=$y" "$ZH_TMP/k_pod.out"
	check "pod: the socket connected to $x's address itself is not destroyed (its recv() timed out)" \
		grep -q '^recv err=timeout ' "$ZH_TMP/k_direct.out"
	check "... it still sends, and $x still answers it" \
		sh -c "grep -qx 'send ok' '$ZH_TMP/k_direct.out' && grep -qx 'again reply=$x' '$ZH_TMP/k_direct.out'"
	check "pod: the TCP connection to $x through the ClusterIP is left alone (echoes)" \
		grep -qx 'echo ok' "$ZH_TMP/k_tcp.out"
	check "zerohopctl says: 2 destroyed, 1 not socket-LB's" \
		grep -q 'connected UDP sockets of removed backends: 2 destroyed, 1 not socket-LB.s left alone' "$ZH_TMP/k_ctl.out"
	check "stats: 2 more connected UDP sockets destroyed, none failed" \
		test "$(($(keep_stat destroyed) - n0)):$(($(keep_stat failed) - f0))" = 2:0
	echo "     removal -> ECONNABORTED: node $(ms_since "$d0" "$ZH_TMP/k_node.out") ms, pod $(ms_since "$d0" "$ZH_TMP/k_pod.out") ms (zerohopctl run included)"
	"$CTL" service del --vip 10.96.0.17 --port 53 --proto udp >/dev/null
	"$CTL" service del --vip 10.96.0.17 --port 90 >/dev/null

	# IPv6: the same from the node, the Service deleted whole.
	check "an IPv6 UDP Service of two backends" "$CTL" service add --vip fd00:96::17 \
		--port 53 --proto udp --backend "[${IP6[$B1]}]:5353" --backend "[${IP6[$B2]}]:5353"
	sleep 0.3
	keep_start "$ZH_NODE" "$ZH_TMP/k_node6.out" udp fd00:96::17 53 20 || true
	check "hostNetwork: a connected UDP socket to the IPv6 ClusterIP answered ($KEEP_GOT)" \
		grep -qE '^peer=\[fd00:96::17\]:53 reply=b[12]$' "$ZH_TMP/k_node6.out"
	check "the Service deleted (zerohopctl service del)" \
		zh_node "$CTL" service del --vip fd00:96::17 --port 53 --proto udp
	eventually grep -q '^again' "$ZH_TMP/k_node6.out" || true
	check "... its recv() failed with ECONNABORTED; connected again: refused (no Service, no route)" \
		sh -c "grep -q '^recv err=ECONNABORTED ' '$ZH_TMP/k_node6.out' && grep -q '^again err=' '$ZH_TMP/k_node6.out'"
}

# The agent's own applies (--services, SIGHUP; the Kubernetes watch goes
# through the same apply): its sweep thread destroys them.
udp_destroy_agent() {
	local x y xb yb i d0 file="$ZH_TMP/kill.json"
	svc_file() {
		printf '{"services": [{"name": "kill", "vip": "10.96.0.17", "port": 53, "proto": "udp", "backends": %s}]}\n' \
			"$(backends 5353 4 "$@")" >"$file"
	}
	svc_file "$B1" "$B2"
	agent_stop
	check "the agent with a services file" agent_start --socket-lb on --services "$file"
	check "... it can destroy sockets, and says so" \
		grep -q 'connected UDP sockets of a removed backend are destroyed' "$LOG"
	sleep 0.3
	keep_start "$ZH_NODE" "$ZH_TMP/k_node.out" udp 10.96.0.17 53 20 || true
	x=$KEEP_GOT
	check "hostNetwork: a connected UDP socket to the ClusterIP answered ($x)" \
		grep -qE '^peer=10\.96\.0\.17:53 reply=b[12]$' "$ZH_TMP/k_node.out"
	if [ "$x" = b1 ]; then xb=$B1 yb=$B2 y=b2; else xb=$B2 yb=$B1 y=b1; fi
	check "a pod's connected UDP socket on $x too" \
		keep_on "$C" "$ZH_TMP/k_pod.out" "$x" udp 10.96.0.17 53 20
	check "a pod's UDP socket connected to $x's own address" \
		keep_start "$C" "$ZH_TMP/k_direct.out" udp "${IP4[$xb]}" 5353 3
	svc_file "$yb"
	d0=$(date +%s.%N)
	kill -HUP "$AGENT"
	for i in node pod direct; do
		eventually grep -q '^again' "$ZH_TMP/k_$i.out" || true
	done
	check "hostNetwork: ECONNABORTED, then $y" \
		sh -c "grep -q '^recv err=ECONNABORTED ' '$ZH_TMP/k_node.out' && grep -qx 'again reply=$y' '$ZH_TMP/k_node.out'"
	check "pod: ECONNABORTED, then $y" \
		sh -c "grep -q '^recv err=ECONNABORTED ' '$ZH_TMP/k_pod.out' && grep -qx 'again reply=$y' '$ZH_TMP/k_pod.out'"
	check "pod: the one connected to $x's address left alone" \
		sh -c "grep -q '^recv err=timeout ' '$ZH_TMP/k_direct.out' && grep -qx 'again reply=$x' '$ZH_TMP/k_direct.out'"
	check "the agent logs the sweep" \
		grep -q 'socket sweep: 1 removed UDP backend(s), .* netns: 2 connected socket(s) destroyed, 1 not socket-LB.s left alone' "$LOG"
	echo "     SIGHUP -> ECONNABORTED: node $(ms_since "$d0" "$ZH_TMP/k_node.out") ms, pod $(ms_since "$d0" "$ZH_TMP/k_pod.out") ms; $(grep -o 'socket sweep: .*' "$LOG" | tail -n 1)"
	agent_stop
	check "the agent as before" agent_start --socket-lb on
	check "... its Services" services "$B1" "$B2" "$B3"
}

# Where the kernel cannot destroy sockets (ZEROHOP_SOCK_DESTROY=off says
# the same): said once, and the socket keeps its backend, as before.
udp_destroy_off() {
	local x y xb yb file="$ZH_TMP/kill.json"
	check "zerohopctl features: sock_destroy no, and why" \
		sh -c "ZEROHOP_SOCK_DESTROY=off '$CTL' features | grep -q '^sock_destroy .*: no: turned off (ZEROHOP_SOCK_DESTROY=off)'"
	printf '{"services": [{"name": "kill", "vip": "10.96.0.17", "port": 53, "proto": "udp", "backends": %s}]}\n' \
		"$(backends 5353 4 "$B1" "$B2")" >"$file"
	agent_stop
	export ZEROHOP_SOCK_DESTROY=off
	check "the agent without SOCK_DESTROY" agent_start --socket-lb on --services "$file"
	unset ZEROHOP_SOCK_DESTROY
	check "... says once why connected UDP sockets keep a removed backend" \
		test "$(grep -c 'connected UDP sockets keep a removed backend until the application reconnects: turned off' "$LOG")" = 1
	sleep 0.3
	keep_start "$ZH_NODE" "$ZH_TMP/k_node.out" udp 10.96.0.17 53 3 || true
	x=$KEEP_GOT
	if [ "$x" = b1 ]; then xb=$B1 yb=$B2 y=b2; else xb=$B2 yb=$B1 y=b1; fi
	printf '{"services": [{"name": "kill", "vip": "10.96.0.17", "port": 53, "proto": "udp", "backends": %s}]}\n' \
		"$(backends 5353 4 "$yb")" >"$file"
	kill -HUP "$AGENT"
	eventually grep -q '^again' "$ZH_TMP/k_node.out" || true
	check "hostNetwork: the socket on $x is not destroyed (recv() timed out), still sends" \
		sh -c "grep -q '^recv err=timeout ' '$ZH_TMP/k_node.out' && grep -qx 'send ok' '$ZH_TMP/k_node.out'"
	check "... connected again: $y" grep -qx "again reply=$y" "$ZH_TMP/k_node.out"
	check "... the agent runs on" kill -0 "$AGENT"
	agent_stop
	check "the agent as before" agent_start --socket-lb on
	check "... its Services" services "$B1" "$B2" "$B3"
}

no_endpoints() {
	local r0
	r0=$(sock_stat refused_no_backend)
	in_node "$SOCKC" tcp 10.96.0.13 80 >"$ZH_TMP/e.out" 2>&1 || true
	check "hostNetwork: connect() to a Service without endpoints fails ECONNREFUSED" \
		grep -q '^err=ECONNREFUSED .*call=connect' "$ZH_TMP/e.out"
	check "... at once (< 100 ms, no SYN retry)" \
		awk '{ split($2, a, "="); exit !(a[2] < 100) }' "$ZH_TMP/e.out"
	in_c "$SOCKC" tcp 10.96.0.13 80 >"$ZH_TMP/e.out" 2>&1 || true
	check "pod: the same" grep -q '^err=ECONNREFUSED .*call=connect' "$ZH_TMP/e.out"
	in_c "$SOCKC" udpto 10.96.0.13 53 >"$ZH_TMP/e.out" 2>&1 || true
	check "pod: UDP sendto() to it fails ECONNREFUSED" grep -q '^err=ECONNREFUSED .*call=send' "$ZH_TMP/e.out"
	check "stats count the refusals" test "$(($(sock_stat refused_no_backend) - r0))" -ge 3
}

no_conntrack() {
	"$CTL" conntrack flush >/dev/null
	in_c "$SOCKC" tcp 10.96.0.10 80 20 >"$ZH_TMP/n.out" 2>&1 || true
	check "pod: 20 TCP connections to a ClusterIP answered" all_like "$ZH_TMP/n.out" 'reply=b[123]$' 20
	check "... and no zh_ct entry for them" \
		test "$("$CTL" conntrack list -o json | jq length)" = 0
}

latency_probes() {
	local n
	"$CTL" latency --reset >/dev/null
	in_c "$ZH_BIN/xdpbench" client --target 10.96.0.11 --port 7777 --count 100 \
		-o json >"$ZH_TMP/xb.json" 2>"$ZH_TMP/xb.err" || true
	"$CTL" latency -o json >"$ZH_TMP/lat.json"
	n=$(jq -r '.hops[] | select(.hop == "egress" and .source == "probe") | .count' "$ZH_TMP/lat.json")
	check "probes to a ClusterIP, balanced at connect(): the egress hop still times them ($n)" \
		test "$n" -ge 100
	n=$(jq -r '.hops[] | select(.hop == "deliver" and .source == "probe") | .count' "$ZH_TMP/lat.json")
	check "... and the deliver hop ($n)" test "$n" -ge 100
}

# /metrics: the socket hooks' counters, as zerohopctl stats counts them,
# and which hooks are attached.
metrics_sock() {
	local m="$ZH_TMP/metrics.txt" h c s
	agent_stop
	agent_start --listen 9469
	in_c "$SOCKC" tcp 10.96.0.10 80 3 >/dev/null 2>&1 || true
	in_c "$SOCKC" udpto 10.96.0.10 53 2 >/dev/null 2>&1 || true
	in_c "$SOCKC" tcp 10.96.0.13 80 >/dev/null 2>&1 || true
	"$CTL" stats -o json >"$ZH_TMP/st.json"
	check "GET /metrics" sh -c "nsenter --net=/var/run/netns/$ZH_NODE curl -sf --max-time 5 http://127.0.0.1:9469/metrics >'$m'"
	if command -v promtool >/dev/null; then
		check "promtool check metrics: clean" sh -c "promtool check metrics <'$m'"
	fi
	check "HELP and TYPE counter for zerohop_socket_lb_translations_total" \
		sh -c "grep -q '^# HELP zerohop_socket_lb_translations_total ' '$m' &&
		       grep -qx '# TYPE zerohop_socket_lb_translations_total counter' '$m'"
	for h in connect4 connect6 sendmsg4 sendmsg6 recvmsg4 recvmsg6 getpeername4 getpeername6; do
		c=$(jq -r ".socketLB.translations[\"$h\"]" "$ZH_TMP/st.json")
		s=$(awk -v k="zerohop_socket_lb_translations_total{hook=\"$h\"}" '$1 == k { print $2 }' "$m")
		check "$h: $s translations, as zerohopctl stats counts ($c)" test "$s" = "$c"
		check "$h: attached (1)" grep -qx "zerohop_socket_lb_attached{hook=\"$h\"} 1" "$m"
	done
	check "connect4 counted this traffic (> 0)" \
		awk '$1 == "zerohop_socket_lb_translations_total{hook=\"connect4\"}" { exit !($2 > 0) }' "$m"
	c=$(jq -r '.socketLB.translations.refused_no_backend' "$ZH_TMP/st.json")
	check "zerohop_socket_lb_refused_total is zerohopctl's ($c, > 0)" \
		sh -c "test '$c' -gt 0 && grep -qx 'zerohop_socket_lb_refused_total $c' '$m'"
	for h in destroyed failed; do
		c=$(jq -r ".socketLB.connectedUdpDestroyed.$h" "$ZH_TMP/st.json")
		check "zerohop_socket_lb_udp_destroyed_total{result=\"$h\"} is zerohopctl's ($c)" \
			grep -qx "zerohop_socket_lb_udp_destroyed_total{result=\"$h\"} $c" "$m"
	done
}

# cfg_flags: zh_config's flags (zh_abi.h ZH_CFG_F_*).
cfg_flags() {
	bpftool -j map dump pinned "$ZH_PIN_DIR/zh_config" | jq -r '.[0].formatted.value.flags'
}
# flags_are MASK WANT: (zh_config's flags & MASK) == WANT.
flags_are() {
	local f
	f=$(cfg_flags)
	(((f & $1) == $2)) || {
		echo "zh_config flags $f: & $1 is $((f & $1)), want $2"
		false
	}
}
# ext_np: the external client's TCP connection to the node's NodePort,
# from outside our cgroup (no hook of ours sees its socket): the uplink's
# per-packet path answers it, or nothing does.
ext_np() {
	sh -c "echo \$\$ >'$CG_ROOT/cgroup.procs' && exec ip netns exec '$EXT' socat -T 2 - TCP:192.168.77.1:30080,connect-timeout=2 </dev/null"
}
# svc_be_forget: zh_svc_be all zero, as if another build (one that marks
# nothing) had made the flows in zh_ct.
svc_be_forget() {
	local k
	for k in $(bpftool -j map dump pinned "$ZH_PIN_DIR/zh_svc_be" |
		jq -r '.[] | select(.formatted.value != 0) | .formatted.key'); do
		bpftool map update pinned "$ZH_PIN_DIR/zh_svc_be" \
			key $((k & 255)) $((k >> 8 & 255)) $((k >> 16 & 255)) $((k >> 24)) \
			value 0 0 0 0
	done
}

# Socket-level LB covering the pods (--cgroup-has-pods: every pod of this
# script runs below $CG): a pod's packets are looked up as Service
# requests only to the Service CIDRs, replies only from marked backends.
# Pods, the node and an external client are all served.
sock_pods() {
	local out
	agent_stop
	agent_start --cgroup-has-pods
	check "the agent says socket-level LB covers every pod" \
		grep -q "socket-level LB covers every pod's sockets" "$LOG"
	check "zh_config: ZH_CFG_F_SOCK_PODS and ZH_CFG_F_REV_GATED set" \
		flags_are $((SOCK_PODS | REV_GATED)) $((SOCK_PODS | REV_GATED))
	"$CTL" conntrack flush >/dev/null
	in_c "$SOCKC" tcp 10.96.0.10 80 20 >"$ZH_TMP/p.out" 2>&1 || true
	check "pod: 20 TCP connections to a ClusterIP, peer the VIP" \
		all_like "$ZH_TMP/p.out" '^peer=10\.96\.0\.10:80 from=- reply=b[123]$' 20
	in_c "$SOCKC" udpnew 10.96.0.10 53 20 >"$ZH_TMP/p.out" 2>&1 || true
	check "pod: 20 UDP sockets answered from the VIP" \
		all_like "$ZH_TMP/p.out" 'from=10\.96\.0\.10:53 reply=b[123]$' 20
	in_c "$SOCKC" tcp fd00:96::10 80 5 >"$ZH_TMP/p.out" 2>&1 || true
	check "pod: IPv6 too" \
		all_like "$ZH_TMP/p.out" '^peer=\[fd00:96::10\]:80 from=- reply=b[123]$' 5
	in_node "$SOCKC" tcp 10.96.0.10 80 5 >"$ZH_TMP/p.out" 2>&1 || true
	check "hostNetwork: 5 TCP connections answered" \
		all_like "$ZH_TMP/p.out" 'reply=b[123]$' 5
	check "... none of it per packet (zh_ct empty)" \
		test "$("$CTL" conntrack list -o json | jq length)" = 0
	out=$(ext_np || true)
	check "an external client through the uplink: node:30080 answered by b2 ($out)" \
		test "$out" = b2
	check "... balanced per packet (its flow in zh_ct)" \
		sh -c "test \$('$CTL' conntrack list -o json | jq length) -gt 0"
}

# A flow balanced per packet lives on while socket-level LB comes on
# (agent restart), even one that zh_svc_be knows nothing of (made by a
# build that marks nothing): the agent marks what zh_ct holds before it
# gates the reverse lookups.
toggle_on() {
	local first second gone
	agent_stop
	agent_start --socket-lb off
	check "socket-LB off: nothing on the cgroup, ZH_CFG_F_SOCK_PODS clear" \
		sh -c "test \$(bpftool -j cgroup show '$CG' | jq -s '[.[][] | select(.name | startswith(\"zh_sock_\"))] | length') = 0"
	check "... ZH_CFG_F_SOCK_PODS clear" flags_are $SOCK_PODS 0
	"$CTL" conntrack flush >/dev/null
	coproc SOCK { in_c "$SOCKC" -w udp 10.96.0.10 53 2 2>&1; }
	read -r -t 5 first <&"${SOCK[0]}" || true
	gone=${first##*reply=}
	check "a pod's connected UDP socket, balanced per packet ($first)" \
		sh -c "echo '$first' | grep -qE '^peer=10\.96\.0\.10:53 from=10\.96\.0\.10:53 reply=b[123]$'"
	check "... in zh_ct" sh -c "test \$('$CTL' conntrack list -o json | jq length) -gt 0"
	agent_stop
	svc_be_forget
	agent_start --cgroup-has-pods
	check "socket-LB on, covering the pods, the reverse lookups gated" \
		flags_are $((SOCK_PODS | REV_GATED)) $((SOCK_PODS | REV_GATED))
	echo next >&"${SOCK[1]}"
	read -r -t 5 second <&"${SOCK[0]}" || true
	wait "$SOCK_PID" 2>/dev/null || true
	check "its next request: the same backend, answered from the VIP ($second)" \
		test "$second" = "peer=10.96.0.10:53 from=10.96.0.10:53 reply=$gone"
}

# A socket balanced at connect() lives on while socket-level LB goes off
# (agent restart): it talks to its backend straight, which the per-packet
# path leaves alone.
toggle_off() {
	local first second gone out
	agent_stop
	agent_start --cgroup-has-pods
	coproc SOCK { in_c "$SOCKC" -w udp 10.96.0.10 53 2 2>&1; }
	read -r -t 5 first <&"${SOCK[0]}" || true
	gone=${first##*reply=}
	check "a pod's connected UDP socket, balanced at connect() ($first)" \
		sh -c "echo '$first' | grep -qE '^peer=10\.96\.0\.10:53 from=10\.96\.0\.10:53 reply=b[123]$'"
	agent_stop
	agent_start --socket-lb off
	check "socket-LB off: ZH_CFG_F_SOCK_PODS clear" flags_are $SOCK_PODS 0
	echo next >&"${SOCK[1]}"
	read -r -t 5 second <&"${SOCK[0]}" || true
	wait "$SOCK_PID" 2>/dev/null || true
	check "its next request still answered by $gone ($second)" \
		sh -c "echo '$second' | grep -qE 'reply=$gone$'"
	in_c "$SOCKC" udpnew 10.96.0.10 53 10 >"$ZH_TMP/t.out" 2>&1 || true
	check "new sockets: balanced per packet, answered from the VIP" \
		all_like "$ZH_TMP/t.out" 'from=10\.96\.0\.10:53 reply=b[123]$' 10
	out=$(ext_np || true)
	check "the external client too ($out)" test "$out" = b2
	agent_stop
	agent_start
}

socket_lb_off() {
	agent_stop
	agent_start --socket-lb off
	check "--socket-lb off: the agent says so" grep -q "socket-level load balancing off" "$LOG"
	check "... and nothing of ours is on the cgroup" links_are 0
	check "service list: web is not served at the socket level" sock_served 10.96.0.10 80 false
	"$CTL" conntrack flush >/dev/null
	in_c "$SOCKC" tcp 10.96.0.10 80 30 >"$ZH_TMP/o.out" 2>&1 || true
	check "the per-packet path still serves the pod: 30 connections answered" \
		all_like "$ZH_TMP/o.out" 'reply=b[123]$' 30
	check "... through conntrack (zh_ct has their entries)" \
		sh -c "test \$('$CTL' conntrack list -o json | jq length) -gt 0"
	agent_stop
	agent_start
	check "--socket-lb auto (the default): on again on this kernel" links_are $HOOKS
	agent_stop
	agent_start
	check "a restart keeps the attachment, once ($HOOKS programs)" links_are $HOOKS
}

# A hybrid node's hierarchy mounted whole (the DaemonSet's
# /host/sys/fs/cgroup): --cgroup DIR takes DIR/unified, its cgroup v2 part.
hybrid_top() {
	local top="$ZH_TMP/cgtop"
	mkdir -p "$top/unified"
	mount --bind "$CG" "$top/unified"
	zh_defer hybrid_umount
	agent_stop
	"$CTL" unpin >/dev/null # nothing of ours attached: attached anew below
	: >"$LOG"
	zh_bg "$ZH_NODE" env ZEROHOP_SOCKET_LB= "$ZH_BIN/zerohopd" -i 0 \
		--service-cidr 10.96.0.0/12,fd00:96::/108 --cgroup "$top" 2>"$LOG"
	AGENT=$!
	eventually grep -q ready "$LOG"
	check "--cgroup DIR, no cgroup v2 itself: DIR/unified taken, $HOOKS programs on it" \
		links_are $HOOKS
	agent_stop
	hybrid_umount
	agent_start
}
# rev_of COOKIE: how many zh_sock_rev entries that socket has.
rev_of() {
	bpftool -j map dump pinned "$ZH_PIN_DIR/zh_sock_rev" |
		jq "[.[] | select(.formatted.key.cookie == $1)] | length"
}
# slot_cookie COOKIE: the cookie that holds COOKIE's zh_sock_conn slot.
slot_cookie() {
	local s=$(($1 & (262144 - 1)))
	bpftool -j map lookup pinned "$ZH_PIN_DIR/zh_sock_conn" key \
		$((s & 255)) $((s >> 8 & 255)) $((s >> 16 & 255)) 0 |
		jq .formatted.value.key.cookie
}
# cookie_of LINE: the cookie= of a zh-sockc -c line.
cookie_of() { sed -n 's/^cookie=\([0-9]*\) .*/\1/p' <<<"$1"; }

# zh_sock_release (where it loads): a connected UDP socket that reads its
# replies with an address (a glibc DNS query) is read from its slot, no
# zh_sock_rev entry made; close() empties the slot; two live sockets on
# one slot both keep their VIP.
sock_release() {
	local line l2 ck ck2 r0
	if [ "$HOOKS" != 9 ]; then
		zh_case_skip "this kernel does not load zh_sock_release"
		return 0
	fi
	check "zh_config: ZH_CFG_F_SOCK_RELEASE set" flags_are $SOCK_RELEASE $SOCK_RELEASE
	check "zerohopctl features: sock_release present and pinned" \
		sh -c "'$CTL' features -o json | jq -e '.sock_release.present and .sock_release.pinned' >/dev/null"
	r0=$(sock_stat recvmsg4)
	coproc SC { in_node "$SOCKC" -c -k udp 10.96.0.10 53 2 2>&1; }
	read -r -t 10 line <&"${SC[0]}" || true
	read -r -t 10 l2 <&"${SC[0]}" || true
	ck=$(cookie_of "$line")
	check "connected UDP, recvfrom() with an address: from the VIP ($line)" \
		grep -qE '^cookie=[0-9]+ peer=10\.96\.0\.10:53 from=10\.96\.0\.10:53 reply=b[123]$' <<<"$l2"
	check "... by recvmsg4 (stats +2)" test "$(($(sock_stat recvmsg4) - r0))" -ge 2
	check "... read from its zh_sock_conn slot" test "$(slot_cookie "$ck")" = "$ck"
	check "... and no zh_sock_rev entry made for it" test "$(rev_of "$ck")" = 0
	read -r -t 10 l2 <&"${SC[0]}" || true # held
	echo go >&"${SC[1]}"
	wait "$SC_PID" || true
	check "after close(): its slot is empty (sock_release)" test "$(slot_cookie "$ck")" = 0

	coproc SC { in_node "$SOCKC" -c -k collide 10.96.0.10 53 2>&1; }
	read -r -t 60 line <&"${SC[0]}" || true
	read -r -t 10 l2 <&"${SC[0]}" || true
	ck=$(cookie_of "$line") ck2=$(cookie_of "$l2")
	check "two live sockets on one slot: the first still reads the VIP ($line)" \
		grep -qE '^cookie=[0-9]+ peer=10\.96\.0\.10:53 from=10\.96\.0\.10:53 reply=b[123]$' <<<"$line"
	check "... the second too ($l2)" \
		grep -qE '^cookie=[0-9]+ peer=10\.96\.0\.10:53 from=10\.96\.0\.10:53 reply=b[123]$' <<<"$l2"
	check "... their cookies share the slot" test $((ck & 262143)) = $((ck2 & 262143))
	check "... the slot is the second's" test "$(slot_cookie "$ck")" = "$ck2"
	check "... the first's record moved to zh_sock_rev" test "$(rev_of "$ck")" = 1
	check "... the second has none there" test "$(rev_of "$ck2")" = 0
	read -r -t 10 l2 <&"${SC[0]}" || true # held
	echo go >&"${SC[1]}"
	wait "$SC_PID" || true
	check "after both close(): the slot is empty" test "$(slot_cookie "$ck")" = 0
}

hybrid_umount() { umount "$ZH_TMP/cgtop/unified" 2>/dev/null || true; }

unpin() {
	agent_stop
	"$CTL" unpin >/dev/null
	check "zerohopctl unpin: nothing of ours attached" links_are 0
}

# After unpin: zh_sock_release left out (ZEROHOP_DISABLE_FEATURES names
# it, as a kernel before 5.12 refuses it): the hooks without it, the flag
# clear, and a connected socket's record copied at its first read.
release_off() {
	local line l2 ck
	export ZEROHOP_DISABLE_FEATURES=cgroup_sock_release
	agent_start --socket-lb on
	unset ZEROHOP_DISABLE_FEATURES
	check "8 programs of ours on the cgroup, no sock_release" links_are 8
	check "the agent says why" grep -q "socket-level LB without sock_release" "$LOG"
	check "zh_config: ZH_CFG_F_SOCK_RELEASE clear" flags_are $SOCK_RELEASE 0
	check "apply the Services" services "$B1" "$B2" "$B3"
	coproc SC { in_node "$SOCKC" -c -k udp 10.96.0.10 53 1 2>&1; }
	read -r -t 10 line <&"${SC[0]}" || true
	ck=$(cookie_of "$line")
	check "connected UDP, recvfrom() with an address: from the VIP ($line)" \
		grep -qE '^cookie=[0-9]+ peer=10\.96\.0\.10:53 from=10\.96\.0\.10:53 reply=b[123]$' <<<"$line"
	check "... its record copied into zh_sock_rev at the first read" test "$(rev_of "$ck")" = 1
	read -r -t 10 l2 <&"${SC[0]}" || true # held
	echo go >&"${SC[1]}"
	wait "$SC_PID" || true
	check "after close(): its slot as it was (nothing frees it)" test "$(slot_cookie "$ck")" = "$ck"
	agent_stop
	"$CTL" unpin >/dev/null
	check "zerohopctl unpin: nothing of ours attached" links_are 0
}

# After unpin: the kernel probed again, told it lacks the recvmsg hooks.
fallback() {
	local rc=0
	zh_bg "$ZH_NODE" env ZEROHOP_SOCKET_LB= ZEROHOP_DISABLE_FEATURES=cgroup_recvmsg \
		"$ZH_BIN/zerohopd" -i 0 --cgroup "$CG" 2>"$LOG"
	AGENT=$!
	eventually grep -q ready "$LOG"
	check "auto without a hook: off, with the reason logged" \
		grep -q "socket-level load balancing off, Services by the per-packet path alone (pods only): this kernel lacks cgroup_recvmsg" "$LOG"
	check "... and nothing of ours on the cgroup" links_are 0
	agent_stop
	zh_node "$ZH_BIN/zerohopd" -i 0 --cgroup "$CG" --socket-lb on \
		2>"$ZH_TMP/on.log" || rc=$?
	check "--socket-lb on without it: refused (exit $rc)" \
		sh -c "test $rc = 1 && grep -q 'socket-level load balancing cannot work here: this kernel lacks cgroup_recvmsg' '$ZH_TMP/on.log'"
	check "... attaching nothing" links_are 0
	"$CTL" unpin >/dev/null
}

zh_run_cases attached host_tcp_udp udp_reply dns_spread sock_release affinity netns_map \
	localhost_nodeport drain udp_destroy udp_destroy_agent udp_destroy_off no_endpoints no_conntrack latency_probes \
	affinity_both_paths metrics_sock sock_pods toggle_on toggle_off \
	socket_lb_off hybrid_top unpin release_off fallback
