#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Services end to end: pods wired by the real plugin, Services applied with
# zerohopctl, real clients and servers. The node has `iptables -I FORWARD
# -j DROP`, ip_forward=0 and no NAT rule: a Service only works if the
# datapath balanced and translated it. Covers the spread over backends (TCP
# and UDP), a long-lived connection across a backend change, removed
# backends, ClientIP affinity, a Service without endpoints refused at once,
# hairpin, IPv6, an unknown VIP in the Service CIDR, and a NodePort reached
# from a namespace playing an external client. Everything lives in
# namespaces this script makes and removes.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhs$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require jq socat nsenter iptables bpftool ethtool python3

CTL="$ZH_BIN/zerohopctl"
SVC="$ZH_TMP/services.json"
N=300

# --- the node, its uplink to an "external" client, pods -----------------------
zh_node_up
zh_node sysctl -qw net.ipv4.ip_forward=0
zh_node iptables -I FORWARD -j DROP
zh_uplink_up

# The agent loads the objects (before any pod): its map sizes apply.
zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" -i 0 \
	--service-cidr 10.96.0.0/12,fd00:96::/108 --nodeport-dev "$UPLINK" \
	--uplink-xdp on \
	--map-size conntrack=8192,services=512 --maglev-per-backend 50 \
	2>"$ZH_TMP/agent.log"
for _ in $(seq 1 50); do
	grep -q ready "$ZH_TMP/agent.log" && break
	sleep 0.1
done

zh_conf "$ZH_TMP/tc.conf" lb-tc tc 10.93.0.0/24 fd00:93::/64
zh_conf "$ZH_TMP/xdp.conf" lb-xdp xdp 10.94.0.0/24 fd00:94::/64
C="${ZH_PREFIX}-c" B1="${ZH_PREFIX}-b1" B2="${ZH_PREFIX}-b2" B3="${ZH_PREFIX}-b3"
for p in "$C" "$B1" "$B2"; do zh_pod_add "$p" "$ZH_TMP/tc.conf"; done
zh_pod_add "$B3" "$ZH_TMP/xdp.conf"
declare -A IP4 IP6 NAME
for p in "$C" "$B1" "$B2" "$B3"; do
	IP4[$p]=$(zh_pod_ip "$p")
	IP6[$p]=$(zh_pod_ip "$p" 6)
done
NAME[$B1]=b1 NAME[$B2]=b2 NAME[$B3]=b3

# Every backend answers with its name: TCP once per connection, UDP once
# per datagram; port 8081 echoes every line it gets, prefixed "name-".
for b in "$B1" "$B2" "$B3"; do
	n=${NAME[$b]}
	zh_bg "$b" socat TCP6-LISTEN:8080,ipv6only=0,reuseaddr,fork \
		SYSTEM:"echo $n"
	# Reads the datagram before it answers (an echo that exits first
	# races socat's write of the request: EPIPE, no answer).
	zh_bg "$b" socat -T 1 UDP6-RECVFROM:5353,ipv6only=0,fork \
		EXEC:"sed -u s/.*/$n/"
	zh_bg "$b" socat TCP6-LISTEN:8081,ipv6only=0,reuseaddr,fork \
		EXEC:"sed -u s/^/$n-/"
done
zh_bg "$C" socat TCP6-LISTEN:8084,ipv6only=0,reuseaddr,fork SYSTEM:"echo self"
sleep 0.5

# --- the Services ---------------------------------------------------------------
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

# services POD...: the whole document, web/dns/long/web6 backed by PODs.
services() {
	cat >"$SVC" <<EOF
{"services": [
 {"name": "web", "vip": "10.96.0.10", "port": 80, "proto": "tcp", "backends": $(backends 8080 4 "$@")},
 {"name": "dns", "vip": "10.96.0.10", "port": 53, "proto": "udp", "backends": $(backends 5353 4 "$@")},
 {"name": "long", "vip": "10.96.0.11", "port": 81, "backends": $(backends 8081 4 "$@")},
 {"name": "sticky", "vip": "10.96.0.12", "port": 80, "affinity": {"clientIP": 600},
  "backends": $(backends 8080 4 "$B1" "$B2" "$B3")},
 {"name": "empty", "vip": "10.96.0.13", "port": 80, "backends": []},
 {"name": "self", "vip": "10.96.0.14", "port": 80, "backends": $(backends 8084 4 "$C")},
 {"name": "web6", "vip": "fd00:96::10", "port": 80, "backends": $(backends 8080 6 "$@")},
 {"name": "np", "vip": "10.96.0.15", "port": 80, "nodePort": 30080, "backends": $(backends 8080 4 "$B1")},
 {"name": "remote", "vip": "10.96.0.16", "port": 80, "backends": [{"ip": "192.168.77.2", "port": 8080}]},
 {"name": "np3", "vip": "10.96.0.17", "port": 80, "nodePort": 30083, "backends": $(backends 8080 4 "$B3")},
 {"name": "deaf", "vip": "10.96.0.18", "port": 53, "proto": "udp", "backends": $(backends 5999 4 "$B1")},
 {"name": "deaf-xdp", "vip": "10.96.0.19", "port": 53, "proto": "udp", "backends": $(backends 5999 4 "$B3")},
 {"name": "deaf6", "vip": "fd00:96::18", "port": 53, "proto": "udp", "backends": $(backends 5999 6 "$B1")}
]}
EOF
	"$CTL" service apply -f "$SVC"
}

# xdp_native DEV PROG: DEV, in the node, runs the pinned program PROG in
# XDP's native (driver) mode; the kernel's program ID says it is that one.
xdp_native() {
	local id
	id=$(bpftool -j prog show pinned "$ZH_PIN_DIR/$2" | jq .id)
	zh_node bpftool -j net show dev "$1" |
		jq -e --argjson id "$id" '.[0].xdp | any(.mode == "driver" and .id == $id)'
}

# in_c CMD...: run in the client pod.
in_c() { zh_in "$C" "$@"; }

# connects HOST PORT COUNT: COUNT TCP connections from the client pod, each
# a new source port, printing each first line (bash's /dev/tcp: no process
# per connection). A connection that fails prints nothing: the caller
# counts the answers, so its status is always 0.
connects() {
	in_c timeout 60 bash -c 'for ((i = 0; i < $3; i++)); do
		exec 3<>"/dev/tcp/$1/$2" || continue
		read -r -t 2 l <&3 && echo "$l"
		exec 3<&-
	done' connects "$@" || true
}

# requests HOST PORT COUNT: COUNT UDP request/responses, each from a new
# socket (a new source port), printing each answer (status 0, as connects).
requests() {
	in_c timeout 120 bash -c 'for ((i = 0; i < $3; i++)); do
		exec 3<>"/dev/udp/$1/$2" || continue
		echo q >&3
		timeout 2 dd bs=512 count=1 <&3 2>/dev/null
		exec 3<&-
	done' requests "$@" || true
}

# spread FILE LO HI: every backend's count of answers in FILE in LO..HI.
spread() {
	local b n
	for b in b1 b2 b3; do
		n=$(grep -cx "$b" "$1")
		((n >= $2 && n <= $3)) || {
			echo "$b answered $n times, expected $2..$3"
			sort "$1" | uniq -c
			return 1
		}
	done
}

apply() {
	check "--map-size: zh_ct holds 8192, zh_services 512" \
		sh -c "bpftool map show pinned '$ZH_PIN_DIR/zh_ct' -j | jq -e '.max_entries == 8192' &&
		       bpftool map show pinned '$ZH_PIN_DIR/zh_services' -j | jq -e '.max_entries == 512'"
	check "apply the Services" services "$B1" "$B2" "$B3"
	check "--maglev-per-backend 50: 3 backends get a table of 151 (prime >= 150)" \
		sh -c "'$CTL' service list -o json | jq -e '.services[] |
			select(.vip == \"10.96.0.10\" and .port == 80) | .table.size == 151'"
	check "service list shows all 13" \
		sh -c "'$CTL' service list -o json | jq -e '.services | length == 13'"
}

cluster_ip() {
	# $N new TCP connections, each a new source port: Maglev spreads them.
	connects 10.96.0.10 80 "$N" >"$ZH_TMP/tcp.out" 2>"$ZH_TMP/tcp.err"
	check "$N TCP requests to a ClusterIP, every one answered" \
		test "$(grep -c . "$ZH_TMP/tcp.out")" = "$N"
	# Uniform is 100 each; +-10 points of the 33 % share is 70..130 (3.6 sd).
	check "each of 3 backends got its share (70..130)" spread "$ZH_TMP/tcp.out" 70 130
	requests 10.96.0.10 53 "$N" >"$ZH_TMP/udp.out" 2>"$ZH_TMP/udp.err"
	check "$N UDP request/responses, every one answered ($(grep -c . "$ZH_TMP/udp.out"))" \
		test "$(grep -c . "$ZH_TMP/udp.out")" = "$N"
	check "... spread too (70..130)" spread "$ZH_TMP/udp.out" 70 130
	check "no NAT rule in the node" \
		test "$(zh_node iptables -t nat -S | grep -c -- '-A ')" = 0
	check "the node's FORWARD DROP rule never hit" \
		test "$(zh_node iptables -vnL FORWARD | awk 'NR == 3 { print $1 }')" = 0
	check "conntrack lists the flows" \
		sh -c "'$CTL' conntrack list -o json | jq -e 'length > 0'"
}

backend_change() {
	# A long-lived connection to "long" (it echoes lines), through a fifo.
	mkfifo "$ZH_TMP/to" "$ZH_TMP/from"
	# A connection that died fails its check, not the script: no EPIPE
	# signal, and a write or read that fails leaves the line empty.
	trap '' PIPE
	in_c socat -T 30 - TCP:10.96.0.11:81,connect-timeout=2 <"$ZH_TMP/to" >"$ZH_TMP/from" &
	ZH_PIDS+=($!)
	exec 7>"$ZH_TMP/to" 8<"$ZH_TMP/from"
	first="" second=""
	echo one >&7 || true
	read -r -t 3 first <&8 || true
	owner=${first%%-*}
	check "the long-lived connection answers ($first)" test "$first" = "$owner-one"
	# Remove a backend that is not this connection's.
	keep=() gone=""
	for b in "$B1" "$B2" "$B3"; do
		if [ -z "$gone" ] && [ "${NAME[$b]}" != "$owner" ]; then gone=$b; else keep+=("$b"); fi
	done
	check "apply without ${NAME[$gone]}" services "${keep[@]}"
	echo two >&7 || true
	read -r -t 3 second <&8 || true
	check "the connection survives the change, same backend ($second)" \
		test "$second" = "$owner-two"
	exec 7>&- 8<&-
	connects 10.96.0.10 80 60 >"$ZH_TMP/after.out" 2>/dev/null
	check "60 new connections, all answered" test "$(grep -c . "$ZH_TMP/after.out")" = 60
	check "none reaches the removed backend ${NAME[$gone]}" \
		sh -c "! grep -qx '${NAME[$gone]}' '$ZH_TMP/after.out'"
	check "apply all three again" services "$B1" "$B2" "$B3"
}

affinity() {
	connects 10.96.0.12 80 30 >"$ZH_TMP/sticky.out" 2>/dev/null
	check "30 connections with ClientIP affinity, one backend" \
		sh -c "test \$(grep -c . '$ZH_TMP/sticky.out') = 30 &&
		       test \$(sort -u '$ZH_TMP/sticky.out' | wc -l) = 1"
}

no_endpoints() {
	start=$(date +%s%N)
	rc=0
	in_c socat -T 5 - TCP:10.96.0.13:80,connect-timeout=2 </dev/null >/dev/null \
		2>"$ZH_TMP/refused.err" || rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	check "a Service without endpoints refuses the connection" \
		sh -c "[ $rc != 0 ] && grep -q 'Connection refused' '$ZH_TMP/refused.err'"
	check "... at once ($ms ms), not after a timeout" test "$ms" -lt 1000
	check "... counted" test "$(zh_stat drop_no_backend)" -ge 1
}

hairpin() {
	check "a pod reaches a Service whose backend is itself" \
		sh -c "test \"\$(ip netns exec $C socat -T 2 - TCP:10.96.0.14:80,connect-timeout=2 </dev/null)\" = self"
}

ipv6() {
	connects fd00:96::10 80 30 >"$ZH_TMP/v6.out" 2>/dev/null
	check "30 requests to an IPv6 ClusterIP, all answered" \
		sh -c "test \$(grep -c '^b[123]\$' '$ZH_TMP/v6.out') = 30"
}

unknown_vip() {
	before=$(zh_stat drop_unknown_vip)
	# Dropped: no answer, socat fails.
	in_c socat -T 1 - TCP:10.96.0.99:80,connect-timeout=1 </dev/null >/dev/null 2>&1 || true
	check "an address in the Service CIDR that is no Service is dropped, counted" \
		test "$(zh_stat drop_unknown_vip)" -gt "$before"
}

node_port() {
	check "an external client reaches node:30080, answered by the backend" \
		sh -c "test \"\$(ip netns exec $EXT socat -T 2 - TCP:192.168.77.1:30080,connect-timeout=2 </dev/null)\" = b1"
	check "... by XDP on the uplink first: the pinned zh_xdp_uplink, native on this veth" \
		xdp_native "$UPLINK" zh_xdp_uplink
	check "a NodePort backed by an XDP pod: delivered from the uplink's XDP" \
		sh -c "test \"\$(ip netns exec $EXT socat -T 2 - TCP:192.168.77.1:30083,connect-timeout=2 </dev/null)\" = b3"
	check "UDP and TCP to other ports of the node still reach the node" \
		zh_in "$EXT" ping -c 1 -W 1 192.168.77.1
	# tc behind XDP: with XDP taken off the uplink, tc alone answers; then
	# the pinned program goes back on, as the agent had it.
	zh_node ip link set dev "$UPLINK" xdp off
	check "... then tc: with XDP off the uplink, node:30080 is still answered" \
		sh -c "test \"\$(ip netns exec $EXT socat -T 2 - TCP:192.168.77.1:30080,connect-timeout=2 </dev/null)\" = b1"
	zh_node ip link set dev "$UPLINK" xdpdrv pinned "$ZH_PIN_DIR/zh_xdp_uplink"
}

remote_backend() {
	# A backend off the node (the "external" namespace): the request leaves
	# translated through the kernel, which must route now; the reply comes
	# back through the kernel and the client pod's own program turns it back
	# to the VIP.
	zh_node iptables -D FORWARD -j DROP
	zh_node sysctl -qw net.ipv4.ip_forward=1
	zh_in "$EXT" ip route add 10.93.0.0/16 via 192.168.77.1
	zh_bg "$EXT" socat TCP-LISTEN:8080,reuseaddr,fork SYSTEM:"echo ext"
	sleep 0.3
	connects 10.96.0.16 80 5 >"$ZH_TMP/remote.out" 2>/dev/null
	check "5 connections to a ClusterIP whose backend is off the node" \
		test "$(grep -cx ext "$ZH_TMP/remote.out")" = 5
}

xdp_pod() {
	# The XDP entry counts what it passes to the kernel; the tc entry behind
	# it must not count it again.
	before=$(zh_stat pass_no_endpoint)
	zh_in "$B3" ping -q -c 3 -i 0.2 -W 1 10.200.0.1 >/dev/null
	check "3 pings from an XDP pod to the node: pass_no_endpoint +3, not +6" \
		test "$(($(zh_stat pass_no_endpoint) - before))" = 3
}


# A backend with nothing listening answers the request with an ICMP port
# unreachable about the packet it got (to its own address): the client's
# socket hears it only as the VIP's (lb_icmp.h), as behind kube-proxy.
icmp_errors() {
	check "UDP to a Service whose backend does not listen: ECONNREFUSED at once" \
		zh_udp_refused "$C" 10.96.0.18 53
	check "... its backend an XDP pod" zh_udp_refused "$C" 10.96.0.19 53
	check "... over IPv6" zh_udp_refused "$C" fd00:96::18 53
}

conntrack() {
	check "conntrack flush empties it" \
		sh -c "'$CTL' conntrack flush && '$CTL' conntrack list -o json | jq -e 'length == 0'"
}

zh_run_cases apply cluster_ip backend_change affinity no_endpoints hairpin ipv6 \
	unknown_vip node_port remote_backend xdp_pod icmp_errors conntrack
