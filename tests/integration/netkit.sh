#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Pods on netkit devices (CNI "device": "netkit" | "auto" | "veth"), wired
# by the real plugin in a node netns with FORWARD dropping and forwarding
# off, so that only the fast path can carry pod traffic:
#  - everywhere: "netkit" with XDP or AF_XDP is a config error (7);
#  - on a kernel without netkit (this project's CI host: CONFIG_NETKIT is
#    not set): "netkit" fails ADD with error 2 and leaves nothing behind,
#    "auto" gives a veth and says why;
#  - on a kernel with netkit (the 6.12 VM: `make check-netkit-vm`): pods
#    on netkit pairs (ip -d link, ethtool driver), ping/TCP/UDP between
#    them and with a veth pod, IPv4 and IPv6, anti-spoofing, a ClusterIP,
#    CHECK, a pod isolated until its program is attached, a failed ADD
#    rolled back, DEL (twice) removing link, lease and entries.
# The netkit cases skip, saying why, where the kernel cannot make netkit.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhk$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require jq socat ping iptables nsenter ethtool bpftool ss

CTL="$ZH_BIN/zerohopctl"
NKP="$ZH_BIN/tests/nk_pair"

endpoint_count() { "$CTL" endpoints -o json | jq length; }
zh_links() { zh_node ip -o link show | grep -c ' zh[0-9a-f]\{12\}[@:]' || true; }
# driver NS IFNAME: the interface's ethtool driver name.
driver() { ip netns exec "$1" ethtool -i "$2" | sed -n 's/^driver: //p'; }
host_of() { jq -r '.interfaces[0].name' "$ZH_TMP/$1.json"; }
# conf FILE NAME DEVICE V4 V6 [EXTRA-JSON]: a network of DEVICE pods.
conf() {
	zh_conf "$1" "$2" tc "$4" "$5"
	jq -c --arg d "$3" ". + {device: \$d} + ${6:-{\}}" "$1" >"$1.tmp"
	mv "$1.tmp" "$1"
}
# add_err POD CONF: ADD that must fail: its error JSON in $ZH_TMP/err.json,
# its stderr in $ZH_TMP/err.log.
add_err() {
	ip netns add "$1"
	zh_in "$1" ip link set lo up
	ZH_PODS+=("$1")
	cp "$2" "$ZH_TMP/$1.conf"
	! zh_cni ADD "$1" "$2" >"$ZH_TMP/err.json" 2>"$ZH_TMP/err.log"
}

zh_node_up
zh_node sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
zh_node iptables -I FORWARD -j DROP
zh_node ip6tables -I FORWARD -j DROP
# What the plugin will find (its own probe, through zerohopctl).
NETKIT=$("$CTL" features -o json | jq -r .netkit.usable)
NETKIT_WHY=$("$CTL" features -o json | jq -r .netkit.detail)
echo "netkit on this kernel ($(uname -r)): $NETKIT_WHY"

AGENT=""
agent_start() {
	nsenter --net="/var/run/netns/$ZH_NODE" "$ZH_BIN/zerohopd" -i 1 \
		2>"$ZH_TMP/agent.log" &
	AGENT=$!
	ZH_PIDS+=("$AGENT")
	eventually grep -q 'ready$' "$ZH_TMP/agent.log" || {
		echo "zerohopd did not come up:"
		cat "$ZH_TMP/agent.log"
		return 1
	}
}

# --- every kernel -----------------------------------------------------------
nk_probe() {
	local want=false
	# netkit built in or loadable: its transmit function is a kernel
	# symbol then (the module loads on the probe's request).
	grep -qw netkit_xmit /proc/kallsyms && want=true
	check "zerohopctl features: netkit usable = $want (kernel symbols say so)" \
		test "$NETKIT" = "$want"
	check "the plugin's per-boot cache agrees, once written" \
		eval '[ ! -f "$ZEROHOP_STATE_DIR/.netkit-probe" ] ||
		      grep -q "|$([ "$want" = true ] && echo 1 || echo 0) " "$ZEROHOP_STATE_DIR/.netkit-probe"'
}

nk_config() {
	local p="${ZH_PREFIX}-cfg"
	conf "$ZH_TMP/x.conf" zhnkx netkit 10.94.9.0/24 fd00:949::/64 '{datapath: "xdp"}'
	add_err "$p" "$ZH_TMP/x.conf" || true
	check "netkit + datapath xdp: error 7 naming netkit's missing XDP" \
		jq -e '.code == 7 and (.msg | contains("netkit")) and (.details | contains("no XDP"))' "$ZH_TMP/err.json"
	conf "$ZH_TMP/x.conf" zhnkx netkit 10.94.9.0/24 fd00:949::/64 '{afxdp: {queues: 1, steer: [{proto: "udp", port: 9000}]}}'
	zh_cni ADD "$p" "$ZH_TMP/x.conf" >"$ZH_TMP/err.json" 2>/dev/null || true
	check "netkit + afxdp: error 7" \
		jq -e '.code == 7 and (.msg | contains("AF_XDP"))' "$ZH_TMP/err.json"
	conf "$ZH_TMP/x.conf" zhnkx bridge 10.94.9.0/24 fd00:949::/64
	zh_cni ADD "$p" "$ZH_TMP/x.conf" >"$ZH_TMP/err.json" 2>/dev/null || true
	check "an unknown device: error 2 naming the choices" \
		jq -e '.code == 2 and (.msg | contains("\"veth\", \"netkit\" or \"auto\""))' "$ZH_TMP/err.json"
	check "none of them made a link" test "$(zh_links)" = 0
	check "... nor took an address" test -z "$(zh_lease "$p")"
	ip netns del "$p"
}

# auto with XDP: a veth, said on stderr.
nk_auto_xdp() {
	local p="${ZH_PREFIX}-ax"
	conf "$ZH_TMP/ax.conf" zhnkax auto 10.94.8.0/24 fd00:948::/64 '{datapath: "xdp"}'
	ip netns add "$p"
	ZH_PODS+=("$p")
	cp "$ZH_TMP/ax.conf" "$ZH_TMP/$p.conf"
	check "auto + datapath xdp: ADD succeeds" \
		eval 'zh_cni ADD "$p" "$ZH_TMP/ax.conf" >"$ZH_TMP/$p.json" 2>"$ZH_TMP/ax.log"'
	check "... on a veth" test "$(driver "$p" eth0)" = veth
	check "... and says why" grep -q 'device auto: a veth, as "datapath": "xdp" needs XDP' "$ZH_TMP/ax.log"
	check "DEL" zh_cni DEL "$p" "$ZH_TMP/ax.conf"
	ip netns del "$p"
}

# --- a kernel without netkit ---------------------------------------------------
nk_absent() {
	local p="${ZH_PREFIX}-na" q="${ZH_PREFIX}-nb" eps
	if [ "$NETKIT" = true ]; then
		zh_case_skip "this kernel has netkit"
		return 0
	fi
	eps=$(endpoint_count)
	conf "$ZH_TMP/nk.conf" zhnk netkit 10.94.1.0/24 fd00:941::/64
	add_err "$p" "$ZH_TMP/nk.conf" || true
	check "device netkit: ADD fails with error 2" \
		jq -e '.code == 2 and .cniVersion == "1.0.0"' "$ZH_TMP/err.json"
	check "... saying netkit cannot work here and why" \
		jq -e '(.msg | contains("\"device\": \"netkit\" cannot work on this node")) and
		       (.details | contains("CONFIG_NETKIT"))' "$ZH_TMP/err.json"
	check "... no link left" test "$(zh_links)" = 0
	check "... no address left" test -z "$(zh_lease "$p")"
	check "... no endpoint entry" test "$(endpoint_count)" = "$eps"
	check "... no pod interface" check_no_eth0 "$p"
	check "DEL after the failed ADD" zh_cni DEL "$p" "$ZH_TMP/nk.conf"
	jq '.cniVersion = "1.1.0"' "$ZH_TMP/nk.conf" >"$ZH_TMP/nk11.conf"
	zh_cni STATUS "$p" "$ZH_TMP/nk11.conf" >"$ZH_TMP/err.json" || true
	check "STATUS: error 50, netkit cannot work here" \
		jq -e '.code == 50 and (.msg | contains("\"device\": \"netkit\""))' "$ZH_TMP/err.json"
	ip netns del "$p"

	conf "$ZH_TMP/auto.conf" zhnkauto auto 10.94.2.0/24 fd00:942::/64
	ip netns add "$p"
	ip netns add "$q"
	ZH_PODS+=("$p" "$q")
	cp "$ZH_TMP/auto.conf" "$ZH_TMP/$p.conf"
	cp "$ZH_TMP/auto.conf" "$ZH_TMP/$q.conf"
	check "device auto: ADD succeeds" \
		eval 'zh_cni ADD "$p" "$ZH_TMP/auto.conf" >"$ZH_TMP/$p.json" 2>"$ZH_TMP/auto.log"'
	check "... says why it took a veth" \
		grep -q 'device auto: a veth, as this kernel cannot give pods netkit' "$ZH_TMP/auto.log"
	check "... on a veth" test "$(driver "$p" eth0)" = veth
	zh_cni ADD "$q" "$ZH_TMP/auto.conf" >"$ZH_TMP/$q.json" 2>/dev/null
	check "two auto pods talk" zh_ping_ok "$p" "$(zh_pod_ip "$q")"
	check "DEL both" eval 'zh_cni DEL "$p" "$ZH_TMP/auto.conf" && zh_cni DEL "$q" "$ZH_TMP/auto.conf"'
	check "no link left" test "$(zh_links)" = 0
	ip netns del "$p"
	ip netns del "$q"
}
check_no_eth0() { ! zh_in "$1" ip link show eth0 >/dev/null 2>&1; }

# --- a kernel with netkit -------------------------------------------------------
needs_netkit() {
	[ "$NETKIT" = true ] && return 0
	zh_case_skip "this kernel cannot make netkit pairs: $NETKIT_WHY (make check-netkit-vm runs these in a 6.12 VM)"
	return 1
}

A="${ZH_PREFIX}-a" B="${ZH_PREFIX}-b" C="${ZH_PREFIX}-c"
nk_pods() {
	needs_netkit || return 0
	agent_start
	conf "$ZH_TMP/nk.conf" zhnk netkit 10.94.1.0/24 fd00:941::/64
	check "ADD netkit pod a" zh_pod_add "$A" "$ZH_TMP/nk.conf"
	check "ADD netkit pod b" zh_pod_add "$B" "$ZH_TMP/nk.conf"
	check "pod a's eth0 is a netkit device" test "$(driver "$A" eth0)" = netkit
	check "... and its host side too (ip -d link: netkit)" \
		eval 'zh_node ip -d link show "$(host_of "$A")" | grep -qw netkit'
	check "... in L2 mode: it has a MAC, the result's" \
		eval '[ "$(zh_in "$A" cat /sys/class/net/eth0/address)" = "$(jq -r ".interfaces[1].mac" "$ZH_TMP/$A.json")" ]'
	local a4 b4 a6 b6 before
	a4=$(zh_pod_ip "$A") b4=$(zh_pod_ip "$B") a6=$(zh_pod_ip "$A" 6) b6=$(zh_pod_ip "$B" 6)
	before=$(zh_stat redirect)
	check "ping a -> b (IPv4)" zh_ping_ok "$A" "$b4"
	check "ping b -> a (IPv4)" zh_ping_ok "$B" "$a4"
	check "ping a -> b (IPv6)" zh_ping_ok "$A" "$b6"
	check "TCP a -> b" zh_tcp_ok "$A" "$B" "$b4"
	check "UDP b -> a (IPv6)" zh_udp_ok "$B" "$A" "$a6"
	check "the fast path redirected them (FORWARD drops)" \
		test "$(zh_stat redirect)" -ge "$((before + 8))"
	check "pod -> node address: passed to the kernel" zh_ping_ok "$A" 10.200.0.1

	before=$(zh_stat drop_spoof_ip)
	zh_in "$A" ip addr add 10.250.0.9/32 dev eth0
	check_not "a spoofed source IP is not delivered" \
		zh_in "$A" ping -c 2 -i 0.2 -W 1 -I 10.250.0.9 "$b4"
	check "... and counted (drop_spoof_ip)" test "$(zh_stat drop_spoof_ip)" -ge "$((before + 2))"
	zh_in "$A" ip addr del 10.250.0.9/32 dev eth0

	jq --slurpfile r "$ZH_TMP/$A.json" '. + {prevResult: $r[0]}' "$ZH_TMP/nk.conf" >"$ZH_TMP/check.conf"
	check "CHECK passes (the program on the peer's hook)" zh_cni CHECK "$A" "$ZH_TMP/check.conf"
	jq '.cniVersion = "1.1.0"' "$ZH_TMP/nk.conf" >"$ZH_TMP/nk11.conf"
	check "STATUS of a netkit network: ready" zh_cni STATUS "$A" "$ZH_TMP/nk11.conf"
}

# A veth pod and a netkit pod on one node.
nk_mixed() {
	needs_netkit || return 0
	conf "$ZH_TMP/veth.conf" zhnkv veth 10.94.3.0/24 fd00:943::/64
	check "ADD veth pod c" zh_pod_add "$C" "$ZH_TMP/veth.conf"
	check "pod c is on a veth" test "$(driver "$C" eth0)" = veth
	check "veth c -> netkit a" zh_ping_ok "$C" "$(zh_pod_ip "$A")"
	check "netkit a -> veth c" zh_ping_ok "$A" "$(zh_pod_ip "$C")"
	check "TCP netkit b -> veth c (IPv6)" zh_tcp_ok "$B" "$C" "$(zh_pod_ip "$C" 6)"
}

nk_clusterip() {
	needs_netkit || return 0
	"$CTL" service add --vip 10.96.0.71 --port 7001 --proto udp \
		--backend "$(zh_pod_ip "$B"):7001" >/dev/null
	"$CTL" service add --vip 10.96.0.71 --port 7002 --proto tcp \
		--backend "$(zh_pod_ip "$C"):7002" >/dev/null
	check "UDP netkit a -> ClusterIP -> netkit b" svc_udp "$A" "$B" 7001
	check "TCP netkit a -> ClusterIP -> veth c" svc_tcp "$A" "$C" 7002
	check "the flows are in conntrack" \
		eval '[ "$("$CTL" conntrack list -o json | jq "[.[] | select(.src == \"$(zh_pod_ip "$A")\")] | length")" -ge 2 ]'
	"$CTL" service del --vip 10.96.0.71 --port 7001 --proto udp >/dev/null
	"$CTL" service del --vip 10.96.0.71 --port 7002 --proto tcp >/dev/null
}
svc_udp() { zh_udp_ok "$1" "$2" 10.96.0.71 "$3"; }
svc_tcp() { zh_tcp_ok "$1" "$2" 10.96.0.71 "$3"; }

# What the plugin does between making a pair and attaching to it, one
# step at a time (nk_pair): until the program is on the peer's hook,
# nothing the pod sends gets out.
nk_isolation() {
	needs_netkit || return 0
	local p="${ZH_PREFIX}-iso" h="${ZH_PREFIX}iso"
	ip netns add "$p"
	ZH_PODS+=("$p")
	check "a pair as the plugin makes it" \
		zh_node "$NKP" add "$h" eth0 "/var/run/netns/$p"
	zh_node ip addr add 10.94.7.1/24 dev "$h"
	zh_node ip link set "$h" up
	zh_in "$p" ip addr add 10.94.7.2/24 dev eth0
	zh_in "$p" ip link set eth0 up
	check_not "before the attach: the pod reaches nothing" \
		zh_in "$p" ping -c 3 -i 0.2 -W 1 10.94.7.1
	check "... its frames were dropped at its own device" \
		eval '[ "$(zh_in "$p" cat /sys/class/net/eth0/statistics/tx_dropped)" -ge 3 ]'
	check "attach zh_tc_from_pod to the peer's hook" \
		zh_node "$NKP" attach "$h" "$ZH_PIN_DIR/zh_tc_from_pod"
	check "... it is there" zh_node "$NKP" attached "$h" "$ZH_PIN_DIR/zh_tc_from_pod"
	# No zh_ifaces entry: the program hands it to the host's kernel.
	check "after: the pod's frames pass (ping the host side)" \
		zh_in "$p" ping -c 2 -i 0.2 -W 1 10.94.7.1
	# What an upgrade does (upgrade.c): find it, and put another
	# version's program in its place in one step.
	local id
	id=$(bpftool -j prog show pinned "$ZH_PIN_DIR/zh_tc_from_pod" | jq .id)
	check "an upgrade finds it at the netkit peer hook" \
		hook_has "$h" "netkit peer $id"
	check "... and replaces it in place (here by zh_tc_pod)" \
		zh_node "$NKP" replace "$h" "$ZH_PIN_DIR/zh_tc_from_pod" "$ZH_PIN_DIR/zh_tc_pod"
	check "... which is there then, alone" \
		eval 'zh_node "$NKP" attached "$h" "$ZH_PIN_DIR/zh_tc_pod" &&
		      ! zh_node "$NKP" attached "$h" "$ZH_PIN_DIR/zh_tc_from_pod"'
	check "... and the pod's frames still pass (zh_tc_pod: TCX_NEXT)" \
		zh_in "$p" ping -c 2 -i 0.2 -W 1 10.94.7.1
	zh_node ip link del "$h"
	ip netns del "$p"
}

# A failed ADD, after its pair was made: an address another pod has
# (a second network over the same range, its own leases), refused when
# the endpoint is written. Nothing of it may stay.
nk_rollback() {
	needs_netkit || return 0
	local p="${ZH_PREFIX}-rb" links eps
	# The same range as nk.conf, fresh leases: pod a's address again.
	conf "$ZH_TMP/dup.conf" zhnkdup netkit 10.94.1.0/24 fd00:941::/64
	jq --arg d "$ZH_TMP/ipam-dup" '.ipam.dataDir = $d' "$ZH_TMP/dup.conf" >"$ZH_TMP/dup.tmp"
	mv "$ZH_TMP/dup.tmp" "$ZH_TMP/dup.conf"
	links=$(zh_links) eps=$(endpoint_count)
	add_err "$p" "$ZH_TMP/dup.conf" || true
	# The host route to that address is pod a's (error 101), or, were
	# it not, the endpoint entry (102): either comes after the pair.
	check "ADD with another pod's address fails (after its pair was made)" \
		eval 'jq -e "(.code == 101 and (.details | contains(\"host route\"))) or
			    (.code == 102 and (.details | contains(\"already another pod\")))" "$ZH_TMP/err.json" ||
		      { cat "$ZH_TMP/err.json"; false; }'

	check "... its netkit pair is gone" test "$(zh_links)" = "$links"
	check "... no pod interface left" check_no_eth0 "$p"
	check "... its address went back to IPAM" \
		eval '! grep -rqs "$(zh_ctr_id "$p")" "$ZH_TMP/ipam-dup"'
	check "... no endpoint entry added" test "$(endpoint_count)" = "$eps"
	check "... and pod a still works" zh_ping_ok "$B" "$(zh_pod_ip "$A")"
	ip netns del "$p"
}

nk_del() {
	needs_netkit || return 0
	local host
	host=$(host_of "$A")
	check "DEL pod a" zh_cni DEL "$A" "$ZH_TMP/nk.conf"
	check "... its pair is gone" check_not_link "$host"
	check "DEL pod a again (idempotent)" zh_cni DEL "$A" "$ZH_TMP/nk.conf"
	check "DEL pod b, pod c" eval 'zh_cni DEL "$B" "$ZH_TMP/nk.conf" && zh_cni DEL "$C" "$ZH_TMP/veth.conf"'
	check "no zh* link remains" test "$(zh_links)" = 0
	check "no lease remains" test -z "$(zh_lease "$A")$(zh_lease "$B")$(zh_lease "$C")"
	check "no endpoint entry remains" test "$(endpoint_count)" = 0
}
# hook_has HOST "HOOK ID": nk_pair hooks lists that line (printing what
# it lists when not).
hook_has() {
	local out
	out=$(zh_node "$NKP" hooks "$1")
	grep -qx "$2" <<<"$out" || {
		echo "hooks of $1: $out"
		return 1
	}
}
check_not_link() { ! zh_node ip link show "$1" >/dev/null 2>&1; }

zh_run_cases nk_probe nk_config nk_auto_xdp nk_absent nk_pods nk_mixed \
	nk_clusterip nk_isolation nk_rollback nk_del
