#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Kernel features end to end: what the agent and the plugin do on a kernel
# that lacks a feature, simulated on this one with ZEROHOP_DISABLE_FEATURES
# (the probe then reports it absent), and the same cases with the kernel's
# own features. Each part has a pin root of its own, so each probes afresh:
#
#   xdp_meta         an XDP pod reaches a tc pod (the XDP entry hands the
#                    frame to the tc entry) and a ClusterIP over an XDP and
#                    a tc backend answers, with and without XDP metadata
#   tcx              tc programs attached through tcx, or through a clsact
#                    qdisc where tcx is missing; traffic, CHECK, DEL alike
#   xdp_veth_native  without it, ADD/CHECK of an XDP or AF_XDP pod fail
#                    with the spec's code 2 naming the feature and leave
#                    nothing behind; STATUS says 50; tc pods work; the
#                    agent refuses --xsk-socket and turns the default off
#   the rest         zerohopctl features (table, JSON), /metrics, the
#                    agent's start line, a bad ZEROHOP_DISABLE_FEATURES,
#                    --nodeport-dev and --sample refused without their
#                    helpers, pods still reached without bpf_redirect_peer
#
# Where the kernel itself lacks a feature, the case that needs it is
# skipped with the reason printed, and its fallback runs for real.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhf$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh

zh_start
# Every case has a pin root of its own: $ROOTS-<case>.
ROOTS="/sys/fs/bpf/${ZH_PREFIX}"
roots_cleanup() { rm -rf "$ROOTS"-*; }
zh_defer roots_cleanup
zh_require jq socat nsenter bpftool tc curl

CTL="$ZH_BIN/zerohopctl"
unset ZEROHOP_DISABLE_FEATURES

# The kernel's own set, probed now (nothing pinned for this root yet).
"$CTL" -p "$ROOTS-probe" features -o json >"$ZH_TMP/kernel.json"
has() { jq -e --arg f "$1" '.features[] | select(.name == $f) | .present' \
	"$ZH_TMP/kernel.json" >/dev/null; }
echo "features: kernel $(jq -r .kernel "$ZH_TMP/kernel.json"):" \
	"$(jq -r '[.features[] | select(.present | not) | .name] |
		if length == 0 then "every feature" else "lacks " + join(", ") end' \
		"$ZH_TMP/kernel.json")"

zh_node_up
zh_node sysctl -qw net.ipv4.ip_forward=0
zh_node iptables -I FORWARD -j DROP

# part [DISABLED]: the case's own pin root, $ROOTS-$CASE (so a fresh
# probe), with ZEROHOP_DISABLE_FEATURES=DISABLED for everything started
# from here on.
AGENT=""
part() {
	export ZEROHOP_PIN_ROOT="$ROOTS-$CASE"
	ZH_PIN_DIR="$ZEROHOP_PIN_ROOT/$(basename "$ZH_PIN_DIR")"
	if [ -n "${1:-}" ]; then
		export ZEROHOP_DISABLE_FEATURES=$1
	else
		unset ZEROHOP_DISABLE_FEATURES
	fi
}

# agent_start [ARGS...]: zerohopd in the node, waited for until ready.
agent_start() {
	nsenter --net="/var/run/netns/$ZH_NODE" "$ZH_BIN/zerohopd" -i 0 "$@" \
		2>"$ZH_TMP/agent.log" &
	AGENT=$!
	ZH_PIDS+=("$AGENT")
	for _ in $(seq 1 50); do
		grep -q 'ready$' "$ZH_TMP/agent.log" && return 0
		kill -0 "$AGENT" 2>/dev/null || break
		sleep 0.1
	done
	echo "zerohopd did not come up:"
	cat "$ZH_TMP/agent.log"
	return 1
}
agent_stop() {
	[ -n "$AGENT" ] || return 0
	kill "$AGENT" 2>/dev/null || true
	wait "$AGENT" 2>/dev/null || true
	AGENT=""
}
# agent_refuses WHY ARGS...: zerohopd exits 1 at start, saying WHY.
agent_refuses() {
	local why=$1 rc=0
	shift
	timeout 10 nsenter --net="/var/run/netns/$ZH_NODE" "$ZH_BIN/zerohopd" \
		-i 0 "$@" 2>"$ZH_TMP/agent.log" || rc=$?
	cat "$ZH_TMP/agent.log"
	[ "$rc" = 1 ] && grep -qF "$why" "$ZH_TMP/agent.log"
}

# udp_answers CLIENT IP:PORT N: N datagrams from new sockets, each answered.
udp_answers() {
	local c=$1 target=$2 n=$3 i got=0
	for i in $(seq 1 "$n"); do
		[ "$(echo "q$i" | zh_in "$c" socat -T 1 - "UDP:$target" 2>/dev/null)" = "q$i" ] &&
			got=$((got + 1))
	done
	[ "$got" = "$n" ] || {
		echo "$got of $n answered"
		return 1
	}
}
pods_del() {
	local p
	for p in "$@"; do
		zh_cni DEL "$p" "$ZH_TMP/$p.conf" >/dev/null || true
		ip netns pids "$p" 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del "$p" 2>/dev/null || true
	done
}
pods_add() {
	local conf=$1 p
	shift
	for p in "$@"; do zh_pod_add "$p" "$conf" || return 1; done
}
# Endpoints in the maps; 0 when nothing is pinned at all.
endpoint_count() {
	local n
	n=$("$CTL" endpoints -o json 2>/dev/null | jq length)
	echo "${n:-0}"
}
# left_nothing POD: a failed ADD of POD left no link, lease or endpoint.
left_nothing() {
	zh_no_links && [ -z "$(zh_lease "$1")" ] &&
		[ "$(endpoint_count)" = 0 ]
}
feature() { "$CTL" features -o json | jq -e --arg f "$1" ".features[] | select(.name == \$f) | $2"; }

# --- xdp_meta: the XDP entry hands tc pods' frames to the tc entry ---------
# handover_cases: an XDP pod and two tc pods, traffic both ways, and a
# ClusterIP with one XDP and one tc backend, asked from the XDP pod.
N_XDP_META=0
handover_cases() {
	local x="${ZH_PREFIX}-x$N_XDP_META" t="${ZH_PREFIX}-t$N_XDP_META"
	local u="${ZH_PREFIX}-u$N_XDP_META" x4 t4 srv
	N_XDP_META=$((N_XDP_META + 1))
	zh_conf "$ZH_TMP/xdp.conf" f-xdp xdp 10.71.0.0/24 fd00:71::/64
	zh_conf "$ZH_TMP/tc.conf" f-tc tc 10.72.0.0/24 fd00:72::/64
	agent_start
	check "ADD an XDP pod" zh_pod_add "$x" "$ZH_TMP/xdp.conf"
	check "ADD two tc pods" pods_add "$ZH_TMP/tc.conf" "$t" "$u"
	x4=$(zh_pod_ip "$x") t4=$(zh_pod_ip "$t")
	check "XDP pod -> tc pod: ping (the handover)" zh_ping_ok "$x" "$t4"
	check "XDP pod -> tc pod: TCP" zh_tcp_ok "$x" "$t" "$t4"
	check "tc pod -> XDP pod: TCP" zh_tcp_ok "$t" "$x" "$x4"
	check "XDP pod -> tc pod over IPv6: ping" zh_ping_ok "$x" "$(zh_pod_ip "$t" 6)"
	# UDP echo servers on the XDP pod and a tc pod, one ClusterIP over both.
	for srv in "$x" "$t"; do
		zh_bg "$srv" socat UDP-RECVFROM:7777,fork SYSTEM:cat
	done
	sleep 0.3
	"$CTL" service add --vip 10.96.7.7 --port 7777 --proto udp \
		--backend "$x4:7777" --backend "$t4:7777" >/dev/null
	check "ClusterIP over an XDP and a tc backend: 40 new flows from a tc pod, all answered" \
		udp_answers "$u" 10.96.7.7:7777 40
	check "... and 40 from the XDP pod, all answered" \
		udp_answers "$x" 10.96.7.7:7777 40
	check "... spread over both backends (conntrack has replies from each)" \
		sh -c "'$CTL' conntrack list -o json |
		       jq -e '[.[] | select(.dir == \"rev\") | .src] | unique | sort == ([\"$x4\", \"$t4\"] | sort)'"
	"$CTL" service del --vip 10.96.7.7 --port 7777 --proto udp >/dev/null
	pods_del "$x" "$t" "$u"
	agent_stop
	check "DEL leaves no link" zh_no_links
}

xdp_meta_on() {
	if ! has xdp_meta; then
		zh_case_skip "this kernel lacks xdp_meta: the fallback (xdp_meta_off) runs for real"
		return 0
	fi
	part
	check "the kernel's features: xdp_meta present" feature xdp_meta '.present'
	handover_cases
}

xdp_meta_off() {
	part xdp_meta
	agent_start
	check "ZEROHOP_DISABLE_FEATURES=xdp_meta: reported absent" feature xdp_meta '.present | not'
	if has xdp_meta; then
		check "... and disabled, not missing" feature xdp_meta '.disabled and .kernel'
	fi
	check "the agent's start line names it with its fallback" \
		grep -q 'xdp_meta [a-z]* (fallback: the tc entry classifies again' "$ZH_TMP/agent.log"
	agent_stop
	handover_cases
}

# --- tcx, and clsact where it is missing ------------------------------------
# tc_cases WANT: two tc pods; their host veths carry zh_tc_from_pod the way
# WANT says (tcx or clsact); traffic, CHECK, DEL.
tc_cases() {
	local want=$1 a="${ZH_PREFIX}-$1a" b="${ZH_PREFIX}-$1b" host
	zh_conf "$ZH_TMP/tc.conf" "f-$want" tc 10.73.0.0/24
	check "ADD two tc pods" pods_add "$ZH_TMP/tc.conf" "$a" "$b"
	host=$(jq -r '.interfaces[0].name' "$ZH_TMP/$a.json")
	# Debian's bpftool and tc predate tcx: a tcx attachment shows as no
	# qdisc at all on a veth the fast path still redirects from.
	if [ "$want" = tcx ]; then
		check "no clsact qdisc on $host: zh_tc_from_pod is on tcx" \
			sh -c "! nsenter --net=/var/run/netns/$ZH_NODE tc qdisc show dev $host | grep -q clsact"
	else
		check "zh_tc_from_pod on $host as a direct-action clsact filter" \
			sh -c "nsenter --net=/var/run/netns/$ZH_NODE tc filter show dev $host ingress |
			       grep -q 'zh_tc_from_pod.*direct-action'"
	fi
	before=$(zh_stat redirect)
	check "ping a -> b" zh_ping_ok "$a" "$(zh_pod_ip "$b")"
	check "TCP b -> a" zh_tcp_ok "$b" "$a" "$(zh_pod_ip "$a")"
	check "... redirected by the fast path" \
		test "$(zh_stat redirect)" -gt "$((before + 4))"
	jq --slurpfile r "$ZH_TMP/$a.json" '. + {prevResult: $r[0]}' \
		"$ZH_TMP/tc.conf" >"$ZH_TMP/check.conf"
	check "CHECK passes" zh_cni CHECK "$a" "$ZH_TMP/check.conf"
	pods_del "$a" "$b"
	check "DEL leaves no link" zh_no_links
}

tcx_on() {
	if ! has tcx; then
		zh_case_skip "this kernel lacks tcx: the clsact cases (tcx_off) run for real"
		return 0
	fi
	part
	tc_cases tcx
}

tcx_off() {
	part tcx
	tc_cases clsact
}

# --- xdp_veth_native: XDP and AF_XDP pods refused, tc pods fine -------------
no_xdp_veth_native() {
	part xdp_veth_native
	zh_conf "$ZH_TMP/xdp.conf" f-noxdp xdp 10.74.0.0/24
	zh_conf "$ZH_TMP/tc.conf" f-notc tc 10.75.0.0/24
	jq '. + {afxdp: {steer: [{proto: "udp", port: 7777}]}} | .datapath = "tc"' \
		"$ZH_TMP/xdp.conf" >"$ZH_TMP/afxdp.conf"
	check "the agent refuses --xsk-socket PATH, naming the feature" \
		agent_refuses 'AF_XDP cannot work on this kernel: it lacks xdp_veth_native' \
		--xsk-socket "$ZH_TMP/x.sock"
	agent_start
	check "... and turns the default handoff off, saying why" \
		grep -q 'AF_XDP socket handoff off: this kernel lacks xdp_veth_native' "$ZH_TMP/agent.log"
	check "... and listens on no socket" test ! -e "$ZEROHOP_XSK_SOCKET"
	for kind in xdp afxdp; do
		p="${ZH_PREFIX}-no$kind"
		ip netns add "$p"
		zh_cni ADD "$p" "$ZH_TMP/$kind.conf" >"$ZH_TMP/err.json" || true
		check "ADD of an $kind pod: code 2 naming xdp_veth_native" \
			jq -e '.code == 2 and (.msg | contains("cannot work on this node")) and
			       (.details | contains("xdp_veth_native"))' "$ZH_TMP/err.json"
		check "... leaves no link, no lease, no endpoint" left_nothing "$p"
		check "... and nothing in the pod's netns" \
			test "$(zh_in "$p" ip -o link show | grep -vc ': lo:')" = 0
		ip netns del "$p"
	done
	t="${ZH_PREFIX}-t"
	check "a tc pod on the same node is ADDed" zh_pod_add "$t" "$ZH_TMP/tc.conf"
	ZH_PODS+=("$t")
	check "... and reached" zh_ping_ok "$t" 10.200.0.1
	# CHECK of an XDP pod on this kernel: refused the same way (prevResult of
	# the tc pod stands in; the kernel check comes first).
	jq --slurpfile r "$ZH_TMP/$t.json" '. + {prevResult: $r[0]}' "$ZH_TMP/xdp.conf" \
		>"$ZH_TMP/check.conf"
	zh_cni CHECK "$t" "$ZH_TMP/check.conf" >"$ZH_TMP/err.json" || true
	check "CHECK of an XDP pod: code 2 naming xdp_veth_native" \
		jq -e '.code == 2 and (.details | contains("xdp_veth_native"))' "$ZH_TMP/err.json"
	for kind in xdp tc; do
		jq '.cniVersion = "1.1.0"' "$ZH_TMP/$kind.conf" >"$ZH_TMP/st-$kind.conf"
	done
	CNI_COMMAND=STATUS CNI_PATH=$ZH_CNI_PATH zh_node "$ZH_BIN/zerohop" \
		<"$ZH_TMP/st-xdp.conf" >"$ZH_TMP/err.json" || true
	check "STATUS of an XDP network: code 50 naming xdp_veth_native" \
		jq -e '.code == 50 and (.details | contains("xdp_veth_native"))' "$ZH_TMP/err.json"
	CNI_COMMAND=STATUS CNI_PATH=$ZH_CNI_PATH zh_node "$ZH_BIN/zerohop" \
		<"$ZH_TMP/st-tc.conf" >"$ZH_TMP/status.out" && rc=0 || rc=$?
	check "STATUS of a tc network: exit 0, silent" \
		test "$rc:$(cat "$ZH_TMP/status.out")" = "0:"
	pods_del "$t"
	agent_stop
}

# --- reporting: zerohopctl features, /metrics, a bad list -------------------
report() {
	part xdp_meta,tcx
	# /metrics on a port in the node's netns (loopback only).
	agent_start --listen 127.0.0.1:9469
	n=$(jq '.features | length' "$ZH_TMP/kernel.json")
	check "zerohopctl features -o json: every feature, with what uses it and the fallback" \
		sh -c "'$CTL' features -o json | jq -e '.stored and (.features | length) == $n and
			all(.features[]; .used_by != \"\" and .since != \"\" and has(\"fallback\")) and
			(.features[] | select(.name == \"tcx\") | .present == false and .fallback != null)'"
	# The kernel line, a row each, then the userspace probes' lines:
	# sock_release's, netkit's, and sock_destroy's last.
	check "zerohopctl features (table): a header and a row each, tcx disabled" \
		sh -c "'$CTL' features >$ZH_TMP/feat.txt &&
		       [ \$(grep -c '^[a-z]' $ZH_TMP/feat.txt) = \$(($n + 4)) ] &&
		       grep -Eq '^cgroup sock_release .*: (yes|no); zh_sock_release ' $ZH_TMP/feat.txt &&
		       grep -q '^FEATURE *PRESENT' $ZH_TMP/feat.txt &&
		       grep -Eq '^tcx +(disabled|no) ' $ZH_TMP/feat.txt &&
		       grep -Eq '^netkit pod devices .*: (yes|no \\()' $ZH_TMP/feat.txt &&
		       tail -n 1 $ZH_TMP/feat.txt | grep -Eq '^sock_destroy .*: (yes|no): '"
	check "the agent's start line: one line, every absent feature" \
		sh -c "[ \$(grep -c ' features;' $ZH_TMP/agent.log) = 1 ] &&
		       grep ' features;' $ZH_TMP/agent.log | grep -q 'tcx disabled' &&
		       grep ' features;' $ZH_TMP/agent.log | grep -Eq 'xdp_meta (absent|disabled)'"
	zh_node curl -s http://127.0.0.1:9469/metrics >"$ZH_TMP/metrics.txt" || true
	check "/metrics: zerohop_kernel_feature per feature, tcx 0, bpf_maps 1" \
		sh -c "[ \$(grep -c '^zerohop_kernel_feature{' $ZH_TMP/metrics.txt) = $n ] &&
		       grep -q '^zerohop_kernel_feature{feature=\"tcx\"} 0$' $ZH_TMP/metrics.txt &&
		       grep -q '^zerohop_kernel_feature{feature=\"bpf_maps\"} 1$' $ZH_TMP/metrics.txt"
	agent_stop
	ZEROHOP_DISABLE_FEATURES=tcx check "a later run with another ZEROHOP_DISABLE_FEATURES: the pinned set stands, said" \
		sh -c "'$CTL' features -o json 2>$ZH_TMP/ctl.err | jq -e '.features[] | select(.name == \"xdp_meta\") | .present | not' &&
		       grep -q 'they stand' $ZH_TMP/ctl.err"
}

bad_list() {
	part 'xdp_meta,bogus'
	check "ZEROHOP_DISABLE_FEATURES with an unknown name: the agent refuses to start" \
		agent_refuses 'ZEROHOP_DISABLE_FEATURES: unknown kernel feature "bogus"'
	p="${ZH_PREFIX}-bad"
	ip netns add "$p"
	zh_conf "$ZH_TMP/tc.conf" f-bad tc 10.76.0.0/24
	zh_cni ADD "$p" "$ZH_TMP/tc.conf" >"$ZH_TMP/err.json" 2>"$ZH_TMP/cni.err" || true
	check "... and so does ADD (code 102 naming it)" \
		jq -e '.code == 102 and (.details | contains("bogus"))' "$ZH_TMP/err.json"
	check "... leaving no link and no lease" left_nothing "$p"
	ip netns del "$p"
}

# --- helpers with a variant or a refusal ------------------------------------
no_redirect_neigh() {
	part tc_redirect_neigh
	check "--nodeport-dev without bpf_redirect_neigh: refused, naming it" \
		agent_refuses 'NodePorts cannot work on this kernel: it lacks tc_redirect_neigh' \
		--nodeport-dev lo
}

no_prandom_xdp() {
	part xdp_get_prandom_u32
	check "--sample without bpf_get_prandom_u32 in XDP: refused, naming it" \
		agent_refuses 'it lacks xdp_get_prandom_u32' --sample 10
	agent_start
	check "without --sample the agent starts with its default sampling off, saying why" \
		grep -q 'latency sampling off: this kernel lacks xdp_get_prandom_u32' "$ZH_TMP/agent.log"
	check "... and off it is" sh -c "'$CTL' latency -o json | jq -e '.sampleEvery == 0'"
	check "... and zerohopctl latency --sample too" \
		sh -c "! '$CTL' latency --sample 10 2>$ZH_TMP/ctl.err && grep -q xdp_get_prandom_u32 $ZH_TMP/ctl.err"
	check "... while probes stay on" "$CTL" latency --probes on
	agent_stop
}

no_redirect_peer() {
	part tc_redirect_peer
	agent_start
	a="${ZH_PREFIX}-pa" b="${ZH_PREFIX}-pb"
	zh_conf "$ZH_TMP/tc.conf" f-nopeer tc 10.77.0.0/24 fd00:77::/64
	check "without bpf_redirect_peer: two tc pods ADDed" \
		pods_add "$ZH_TMP/tc.conf" "$a" "$b"
	before=$(zh_stat redirect)
	check "... reach each other: ping" zh_ping_ok "$a" "$(zh_pod_ip "$b")"
	check "... TCP" zh_tcp_ok "$b" "$a" "$(zh_pod_ip "$a")"
	check "... ping over IPv6" zh_ping_ok "$a" "$(zh_pod_ip "$b" 6)"
	check "... redirected by the fast path all the same" \
		test "$(zh_stat redirect)" -gt "$((before + 4))"
	pods_del "$a" "$b"
	agent_stop
}

zh_run_cases xdp_meta_on xdp_meta_off tcx_on tcx_off no_xdp_veth_native report bad_list \
	no_redirect_neigh no_prandom_xdp no_redirect_peer
