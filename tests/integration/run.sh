#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Integration tests: the real CNI plugin, agent and CLI in network
# namespaces this script makes and always removes. The "node" is a netns of
# its own with `iptables -I FORWARD -j DROP` and ip_forward=0, so pod<->pod
# traffic only flows if it bypassed netfilter and IP forwarding.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhi$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require jq socat ping iptables nsenter xxd bpftool

# --- traffic ---------------------------------------------------------------

# spoofed_frame DSTMAC SRCMAC SRCIP DSTIP: an Ethernet/IPv4/ICMP echo frame.
spoofed_frame() {
	local hex
	hex="${1//:/}${2//:/}0800"
	hex+="4500001c00004000400100 00$(ip_hex "$3")$(ip_hex "$4")"
	hex+="0800f7ff00000000"
	printf '%s' "${hex// /}" | xxd -r -p
}
ip_hex() {
	local IFS=.
	# shellcheck disable=SC2086
	printf '%02x%02x%02x%02x' $1
}

cni_code() { jq -r '.code' "$ZH_TMP/err.json"; }
endpoint_count() { "$ZH_BIN/zerohopctl" endpoints -o json | jq length; }

# --- the pins and the agent ------------------------------------------------
# pin_ids: "NAME ID" of every program and map pinned in this run's pin
# directory. The ID is the kernel object's: one loaded and pinned anew
# has a new one, whatever its name.
pin_ids() {
	local f kind
	for f in "$ZH_PIN_DIR"/*; do
		kind=map
		bpftool prog show pinned "$f" >/dev/null 2>&1 && kind=prog
		echo "${f##*/} $(bpftool -j "$kind" show pinned "$f" | jq .id)"
	done
}
# holds PID NAME: process PID has the pinned map NAME open (one of its
# fds' fdinfo names the map's ID): it works on the pinned map, not on one
# of its own.
holds() {
	local id
	id=$(bpftool -j map show pinned "$ZH_PIN_DIR/$2" | jq .id)
	grep -qsx "map_id:[[:space:]]*$id" /proc/"$1"/fdinfo/*
}
# agent_start LOG: zerohopd in the node (where the host veths are), waited
# for until ready; AGENT is its pid.
AGENT=""
agent_start() {
	nsenter --net="/var/run/netns/$ZH_NODE" "$ZH_BIN/zerohopd" -i 1 2>"$1" &
	AGENT=$!
	ZH_PIDS+=("$AGENT")
	eventually grep -q 'ready$' "$1" || {
		echo "zerohopd did not come up:"
		cat "$1"
		return 1
	}
}

# --- setup -----------------------------------------------------------------
zh_node_up
zh_node sysctl -qw net.ipv4.ip_forward=0
zh_node sysctl -qw net.ipv6.conf.all.forwarding=0
zh_node iptables -I FORWARD -j DROP
zh_node ip6tables -I FORWARD -j DROP
# The network of the cases after the datapath modes.
CONF="$ZH_TMP/rb.conf"
zh_conf "$CONF" zhrb tc 10.93.0.0/24

# --- the cases -------------------------------------------------------------
env_ok() {
	check "FORWARD drops and forwarding is off in the node" \
		sh -c "nsenter --net=/var/run/netns/$ZH_NODE iptables -S FORWARD | grep -q -- '-j DROP' &&
		       [ \$(nsenter --net=/var/run/netns/$ZH_NODE sysctl -n net.ipv4.ip_forward) = 0 ]"
}

# mode_tests MODE N: two pods on a MODE network (10.9N.0.0/24), traffic,
# anti-spoofing, CHECK, DEL.
mode_tests() {
	local mode=$1 n=$2 a="${ZH_PREFIX}-${1}a" b="${ZH_PREFIX}-${1}b"
	local conf="$ZH_TMP/$mode.conf" a4 b4 a6 b6 before
	zh_conf "$conf" "zh$mode" "$mode" "10.9$n.0.0/24" "fd00:9$n::/64"

	check "ADD pod a" zh_pod_add "$a" "$conf"
	check "ADD pod b" zh_pod_add "$b" "$conf"
	check "result: host and pod interfaces, sandbox, ips with interface index, routes" \
		jq -e '(.interfaces | length) == 2 and .interfaces[1].sandbox != null and
		       (.ips | length) == 2 and all(.ips[]; .interface == 1) and
		       (.routes | length) == 2 and .cniVersion == "1.0.0"' "$ZH_TMP/$a.json"
	check "host-local holds a lease for pod a" test -n "$(zh_lease "$a")"
	a4=$(zh_pod_ip "$a") b4=$(zh_pod_ip "$b")
	a6=$(zh_pod_ip "$a" 6) b6=$(zh_pod_ip "$b" 6)
	check "pod has its address and the link-local gateway" \
		sh -c "ip netns exec $a ip -4 addr show eth0 | grep -q '$a4' &&
		       ip netns exec $a ip route | grep -q 'default via 169.254.1.1 dev eth0' &&
		       ip netns exec $a ip neigh show 169.254.1.1 | grep -q PERMANENT"

	before=$(zh_stat redirect)
	check "ping a -> b (IPv4)" zh_ping_ok "$a" "$b4"
	check "ping b -> a (IPv4)" zh_ping_ok "$b" "$a4"
	check "ping a -> b (IPv6)" zh_ping_ok "$a" "$b6"
	check "TCP a -> b" zh_tcp_ok "$a" "$b" "$b4"
	check "TCP b -> a" zh_tcp_ok "$b" "$a" "$a4"
	check "TCP a -> b over IPv6" zh_tcp_ok "$a" "$b" "$b6"
	check "UDP a -> b" zh_udp_ok "$a" "$b" "$b4"
	check "UDP b -> a" zh_udp_ok "$b" "$a" "$a4"
	check "UDP b -> a over IPv6" zh_udp_ok "$b" "$a" "$a6"
	check "the fast path redirected the traffic (counter grew)" \
		test "$(zh_stat redirect)" -gt "$((before + 20))"
	check "pod -> host address goes through the kernel" zh_ping_ok "$a" 10.200.0.1
	check "endpoints lists both pods" \
		sh -c "'$ZH_BIN/zerohopctl' endpoints -o json |
		       jq -e 'map(.ips[0]) | index(\"$a4\") != null and index(\"$b4\") != null'"

	# Anti-spoofing: another source IP, then another source MAC.
	before=$(zh_stat drop_spoof_ip)
	zh_in "$a" ip addr add 10.250.0.9/32 dev eth0
	check_not "spoofed source IP is not delivered" \
		zh_in "$a" ping -c 2 -i 0.2 -W 1 -I 10.250.0.9 "$b4"
	check "drop_spoof_ip counted" test "$(zh_stat drop_spoof_ip)" -ge "$((before + 2))"
	zh_in "$a" ip addr del 10.250.0.9/32 dev eth0
	# A frame with another source MAC, written raw to the pod's eth0:
	# ICMP echo a -> b, addressed to the gateway like any routed frame.
	before=$(zh_stat drop_spoof_mac)
	local redir gwmac
	redir=$(zh_stat redirect)
	gwmac=$(jq -r '.interfaces[0].mac' "$ZH_TMP/$a.json")
	for _ in 1 2 3; do
		spoofed_frame "$gwmac" 02:00:00:00:be:ef "$a4" "$b4" |
			zh_in "$a" socat -u - INTERFACE:eth0
	done
	check "spoofed source MAC: 3 frames dropped and counted" \
		test "$(zh_stat drop_spoof_mac)" = "$((before + 3))"
	check "... and none redirected" test "$(zh_stat redirect)" = "$redir"
	check "traffic from the pod's own MAC still flows" zh_ping_ok "$a" "$b4"

	# CHECK against prevResult, then with the veth gone.
	jq --slurpfile r "$ZH_TMP/$a.json" '. + {prevResult: $r[0]}' "$conf" >"$ZH_TMP/check.conf"
	check "CHECK passes" zh_cni CHECK "$a" "$ZH_TMP/check.conf"
	local host
	host=$(jq -r '.interfaces[0].name' "$ZH_TMP/$a.json")
	zh_node ip link del "$host"
	zh_cni CHECK "$a" "$ZH_TMP/check.conf" >"$ZH_TMP/err.json" || true
	check "CHECK fails once the veth is gone, naming it" \
		jq -e ".code == 104 and (.details | contains(\"$host\"))" "$ZH_TMP/err.json"

	check "DEL" zh_cni DEL "$a" "$conf"
	check "DEL again (idempotent)" zh_cni DEL "$a" "$conf"
	check "DEL of pod b" zh_cni DEL "$b" "$conf"
	check "DEL of pod b again" zh_cni DEL "$b" "$conf"
	check "no zh* link remains" zh_no_links
	check "no host-local lease remains" test -z "$(zh_lease "$a")$(zh_lease "$b")"
	check "no endpoint entry remains" test "$(endpoint_count)" = 0
	ip netns del "$a"
	ip netns del "$b"
}

# tc first, with no agent running: the plugin loads and pins by itself.
tc_without_agent() {
	check "no pins before the first ADD" test ! -e "$ZEROHOP_PIN_ROOT"
	mode_tests tc 1
	check "the plugin pinned the objects itself" test -e "$ZH_PIN_DIR/zh_endpoints"
}

# xdp with the agent running: it takes the objects the plugin pinned, the
# very ones (their kernel IDs), not copies of its own.
xdp_with_agent() {
	local before
	before=$(pin_ids)
	agent_start "$ZH_TMP/agent.log"
	check "zerohopd reuses the pins: every pinned program and map keeps its ID" \
		test "$(pin_ids)" = "$before"
	check "... and it holds the pinned zh_endpoints map" holds "$AGENT" zh_endpoints
	mode_tests xdp 2
}

# --- failures leave nothing behind ------------------------------------------
rollback() {
	local p="${ZH_PREFIX}-rb"
	jq '.ipam.type = "no-such-ipam"' "$CONF" >"$ZH_TMP/noipam.conf"
	ip netns add "$p"
	zh_cni ADD "$p" "$ZH_TMP/noipam.conf" >"$ZH_TMP/err.json" || true
	check "ADD with a missing IPAM plugin fails with code 103" test "$(cni_code)" = 103
	check "... and leaves no link" zh_no_links
	check "... and no endpoint" test "$(endpoint_count)" = 0

	# The pod already has an eth0: the veth cannot be made after IPAM ran.
	zh_in "$p" ip link add eth0 type veth peer name eth0p
	zh_cni ADD "$p" "$CONF" >"$ZH_TMP/err.json" || true
	check "ADD whose veth cannot be created fails with code 101" test "$(cni_code)" = 101
	check "... and releases the IPAM lease" test -z "$(zh_lease "$p")"
	check "... and leaves no link" zh_no_links
	check "... and no endpoint" test "$(endpoint_count)" = 0
	ip netns del "$p"

	# The netns is opened first of all: nothing was asked of IPAM yet.
	CNI_COMMAND=ADD CNI_CONTAINERID=x CNI_NETNS=/var/run/netns/no-such-ns \
		CNI_IFNAME=eth0 CNI_PATH=$ZH_CNI_PATH zh_node "$ZH_BIN/zerohop" \
		<"$CONF" >"$ZH_TMP/err.json" || true
	check "ADD into a missing netns fails with code 3" test "$(cni_code)" = 3
	check_not "... before IPAM: no lease" grep -rqs $'^x\r' "$ZH_TMP/ipam"
}

# ADD fails after IPAM gave the pod its address and the veth pair was
# made: a fake IPAM plugin (tests/integration/plugins/ipam-then-fail)
# delegates to host-local, then breaks the plugin's next step. The
# rollback must give the lease back and remove the veth pair.
# ipam_then_fail POD HOW: ADD through it (HOW: its ZH_IPAM_THEN); the
# error in $ZH_TMP/err.json, host-local's answer in $ZH_TMP/POD.ipam.
ipam_then_fail() {
	[ -e "$ZH_CNI_DIR/ipam-then-fail" ] ||
		ln -s "$PWD/tests/integration/plugins/ipam-then-fail" "$ZH_CNI_DIR/"
	jq '.ipam.type = "ipam-then-fail"' "$CONF" >"$ZH_TMP/then-fail.conf"
	ZH_IPAM_THEN=$2 ZH_IPAM_RESULT="$ZH_TMP/$1.ipam" \
		zh_cni ADD "$1" "$ZH_TMP/then-fail.conf" >"$ZH_TMP/err.json" || true
}
# no_pod_link POD: nothing but lo in POD's netns (the veth's pod end gone).
no_pod_link() { test "$(zh_in "$1" ip -o link show | grep -vc ': lo:')" = 0; }

# The pod is killed while ADD runs: its netns goes away after IPAM.
netns_gone_after_ipam() {
	local p="${ZH_PREFIX}-gone"
	ip netns add "$p"
	ipam_then_fail "$p" netns-gone
	check "IPAM ran and handed out an address" \
		jq -e '.ips[0].address | startswith("10.93.0.")' "$ZH_TMP/$p.ipam"
	check "... then the pod's netns was gone" test ! -e "/var/run/netns/$p"
	check "ADD fails with code 101, entering the netns" \
		jq -e '.code == 101 and (.details | contains("enter netns"))' "$ZH_TMP/err.json"
	check "... and releases the IPAM lease" test -z "$(zh_lease "$p")"
	check "... and leaves no link" zh_no_links
	check "... and no endpoint" test "$(endpoint_count)" = 0
}

# A stale route to the pod's address in the node: ADD fails on the host
# side, after the pod's side is done. The pod's netns lives on, so only
# the rollback removes the veth pair (when the netns goes, the kernel
# would remove it anyway).
host_route_taken() {
	local p="${ZH_PREFIX}-route" addr
	ip netns add "$p"
	ipam_then_fail "$p" route-taken
	check "IPAM ran and handed out an address" \
		jq -e '.ips[0].address | startswith("10.93.0.")' "$ZH_TMP/$p.ipam"
	addr=$(jq -r '.ips[0].address | sub("/.*"; "")' "$ZH_TMP/$p.ipam")
	check "... then a route to it was in the node" \
		sh -c "nsenter --net=/var/run/netns/$ZH_NODE ip route show $addr | grep -q blackhole"
	check "ADD fails with code 101, adding the host route" \
		jq -e '.code == 101 and (.details | contains("add host route to"))' "$ZH_TMP/err.json"
	check "... and releases the IPAM lease" test -z "$(zh_lease "$p")"
	check "... and leaves no link in the node" zh_no_links
	check "... nor in the pod" no_pod_link "$p"
	check "... and no endpoint" test "$(endpoint_count)" = 0
	zh_node ip route del blackhole "$addr/32"
	ip netns del "$p"
}

# ipam_fault POD HOW [VAR=VALUE...]: ADD through the fake IPAM plugin
# tests/integration/plugins/ipam-fault (HOW: its ZH_IPAM_FAULT), host-local
# behind it; the error in $ZH_TMP/err.json.
ipam_fault() {
	local p=$1 how=$2
	shift 2
	[ -e "$ZH_CNI_DIR/ipam-fault" ] ||
		ln -s "$PWD/tests/integration/plugins/ipam-fault" "$ZH_CNI_DIR/"
	jq '.ipam.type = "ipam-fault"' "$CONF" >"$ZH_TMP/fault.conf"
	env ZH_IPAM_FAULT="$how" "$@" CNI_COMMAND=ADD CNI_CONTAINERID="$(zh_ctr_id "$p")" \
		CNI_NETNS="/var/run/netns/$p" CNI_IFNAME=eth0 CNI_PATH="$ZH_CNI_PATH" \
		nsenter --net="/var/run/netns/$ZH_NODE" "$ZH_BIN/zerohop" \
		<"$ZH_TMP/fault.conf" >"$ZH_TMP/err.json"
}

# IPAM reserves an address, then fails: the spec has the plugin run DEL
# on the delegate before it fails itself. Before, the address stayed
# reserved until the runtime's DEL, and for ever without one.
ipam_reserved_then_failed() {
	local p="${ZH_PREFIX}-rtf"
	ip netns add "$p"
	ipam_fault "$p" after || true
	check "ADD fails with the IPAM plugin's error 11" test "$(cni_code)" = 11
	check "... and gives back what IPAM reserved, before any DEL" test -z "$(zh_lease "$p")"
	check "... and leaves no link" zh_no_links
	check "DEL" zh_cni DEL "$p" "$ZH_TMP/fault.conf"
	ip netns del "$p"
}

# The runtime kills ADD (SIGKILL: its timeout) while the IPAM plugin waits
# (queued on its store's lock), then sends DEL. DEL must wait for that
# plugin: before, it returned at once, and the plugin, left running,
# reserved the pod's address a moment later, for good (churn.sh found it).
ipam_killed() {
	local p="${ZH_PREFIX}-ik" pid bg t0 took
	ip netns add "$p"
	rm -f "$ZH_TMP/fault.started"
	# Its SIGKILL is the point: not the ERR trap's business.
	{ ipam_fault "$p" slow ZH_IPAM_SLOW=1 ZH_IPAM_STARTED="$ZH_TMP/fault.started" || true; } 2>/dev/null &
	bg=$!
	# ipam_fault runs in a subshell here: its plugin is the one that
	# names the pod in its environment.
	check "the IPAM plugin runs (and waits 1 s)" eventually test -e "$ZH_TMP/fault.started"
	pid=$(pgrep -f -x "$ZH_BIN/zerohop" | while read -r p2; do
		grep -qsz "CNI_CONTAINERID=$(zh_ctr_id "$p")" "/proc/$p2/environ" && echo "$p2"
	done)
	check "ADD killed with SIGKILL meanwhile" kill -9 "$pid"
	wait "$bg" || true
	t0=$(date +%s%N)
	check "the runtime's DEL succeeds" zh_cni DEL "$p" "$ZH_TMP/fault.conf"
	took=$((($(date +%s%N) - t0) / 1000000))
	check "... once the IPAM plugin the killed ADD left is done (${took} ms)" \
		test "$took" -ge 300
	sleep 1.2
	check "no lease of the pod, then or later" test -z "$(zh_lease "$p")"
	check "... and no IPAM plugin of it left" \
		eval '! pgrep -f "$ZH_CNI_DIR/ipam-fault" >/dev/null'
	ip netns del "$p"
}

bad_input() {
	env -i PATH="$PATH" CNI_COMMAND=ADD "$ZH_BIN/zerohop" <"$CONF" >"$ZH_TMP/err.json" || true
	check "missing environment: code 4 naming every variable" \
		jq -e '.code == 4 and ([.msg, .details] | join(" ") |
		       contains("CNI_CONTAINERID") and contains("CNI_NETNS") and
		       contains("CNI_IFNAME") and contains("CNI_PATH"))' "$ZH_TMP/err.json"
	echo '{"cniVersion": "1.0.0", "name": ' | CNI_COMMAND=ADD CNI_CONTAINERID=x \
		CNI_NETNS=/x CNI_IFNAME=eth0 CNI_PATH=/x "$ZH_BIN/zerohop" >"$ZH_TMP/err.json" || true
	check "broken JSON: code 6, error JSON is all of stdout" \
		jq -e '.code == 6 and .msg != null' "$ZH_TMP/err.json"
	echo '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION "$ZH_BIN/zerohop" >"$ZH_TMP/ver.json"
	check "VERSION lists 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0" \
		jq -e '.supportedVersions == ["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"] and
		       .cniVersion == "1.0.0"' "$ZH_TMP/ver.json"
	echo '{"cniVersion":"1.1.0"}' | CNI_COMMAND=VERSION "$ZH_BIN/zerohop" >"$ZH_TMP/ver.json"
	check "VERSION asked in 1.1.0 answers in 1.1.0" \
		jq -e '.cniVersion == "1.1.0" and (.supportedVersions | index("1.1.0")) != null' \
		"$ZH_TMP/ver.json"
}

# --- results in older versions ------------------------------------------------
versions() {
	local v p
	for v in 0.3.0 0.3.1 0.4.0; do
		p="${ZH_PREFIX}-v${v//./}"
		jq ".cniVersion = \"$v\"" "$CONF" >"$ZH_TMP/v.conf"
		zh_pod_add "$p" "$ZH_TMP/v.conf"
		check "ADD with cniVersion $v answers in $v (ips carry version)" \
			jq -e ".cniVersion == \"$v\" and .ips[0].version == \"4\"" "$ZH_TMP/$p.json"
		check "DEL ($v)" zh_cni DEL "$p" "$ZH_TMP/v.conf"
		ip netns del "$p"
	done
}

# --- CNI 1.1.0: ADD through an IPAM plugin that speaks 1.0.0, STATUS, GC -------
CONF11="$ZH_TMP/v11.conf"
G1="${ZH_PREFIX}-g1" G2="${ZH_PREFIX}-g2" O1="${ZH_PREFIX}-o1"
# net_cmd CMD CONF: STATUS or GC as a runtime runs them: CNI_COMMAND and
# CNI_PATH only, in the node netns (where the host veths are).
net_cmd() {
	CNI_COMMAND=$1 CNI_PATH=$ZH_CNI_PATH zh_node "$ZH_BIN/zerohop" <"$2"
}
# gc_conf FILE JSON: the 1.1.0 config with cni.dev/valid-attachments = JSON.
gc_conf() { jq --argjson v "$2" '. + {"cni.dev/valid-attachments": $v}' "$CONF11" >"$1"; }
ep_ids() { "$ZH_BIN/zerohopctl" endpoints -o json | jq -r '.[].containerID' | sort | tr '\n' ' '; }
ep_map_count() { bpftool -j map dump pinned "$ZH_PIN_DIR/zh_endpoints" | jq length; }
host_of() { jq -r '.interfaces[0].name' "$ZH_TMP/$1.json"; }
has_link() { zh_node ip link show "$1" >/dev/null 2>&1; }
# Debian's host-local 1.1.1 speaks up to 1.0.0: the plugin must downgrade.
OLD_IPAM=0
echo '{"cniVersion":"1.1.0"}' | CNI_COMMAND=VERSION /usr/lib/cni/host-local |
	jq -e '.supportedVersions | index("1.1.0") == null' >/dev/null && OLD_IPAM=1

v110_add() {
	zh_conf "$ZH_TMP/v11.tmp" zhgc tc 10.94.0.0/24 fd00:94::/64
	jq '.cniVersion = "1.1.0"' "$ZH_TMP/v11.tmp" >"$CONF11"
	if [ $OLD_IPAM = 1 ]; then
		CNI_COMMAND=ADD CNI_CONTAINERID=probe CNI_NETNS=/x CNI_IFNAME=eth0 CNI_PATH=$ZH_CNI_PATH \
			/usr/lib/cni/host-local <"$CONF11" >"$ZH_TMP/err.json" || true
		check "host-local itself refuses a 1.1.0 config (code 1)" test "$(cni_code)" = 1
	else
		echo "  note $CASE: host-local speaks 1.1.0: no downgrade to exercise, its GC runs"
	fi

	check "ADD with cniVersion 1.1.0 (host-local gets it as 1.0.0)" zh_pod_add "$G1" "$CONF11"
	check "... answers in 1.1.0, without socketPath" \
		jq -e '.cniVersion == "1.1.0" and (.interfaces | length) == 2 and
		       (.ips | length) == 2 and all(.ips[]; has("version") | not) and
		       all(.interfaces[]; has("socketPath") | not)' "$ZH_TMP/$G1.json"
	check "... and host-local holds the lease" test -n "$(zh_lease "$G1")"
	jq --slurpfile r "$ZH_TMP/$G1.json" '. + {prevResult: $r[0]}' "$CONF11" >"$ZH_TMP/check11.conf"
	check "CHECK with cniVersion 1.1.0 passes (IPAM CHECK downgraded too)" \
		zh_cni CHECK "$G1" "$ZH_TMP/check11.conf"
	check "ADD a second pod on the 1.1.0 network" zh_pod_add "$G2" "$CONF11"
	check "ADD a pod on another network (zhrb, 1.0.0)" zh_pod_add "$O1" "$CONF"
	check "a 1.1.0 pod reaches the other network's pod" zh_ping_ok "$G1" "$(zh_pod_ip "$O1")"
}

v110_status() {
	local rc=0
	net_cmd STATUS "$CONF11" >"$ZH_TMP/status.out" || rc=$?
	check "STATUS exits 0" test "$rc" = 0
	check "... and prints nothing" test ! -s "$ZH_TMP/status.out"
	jq '.ipam.type = "no-such-ipam"' "$CONF11" >"$ZH_TMP/st-noipam.conf"
	rc=0
	net_cmd STATUS "$ZH_TMP/st-noipam.conf" >"$ZH_TMP/err.json" || rc=$?
	check "STATUS with a missing IPAM plugin exits non-zero" test "$rc" != 0
	check "... with code 50 naming the plugin" \
		jq -e '.code == 50 and .cniVersion == "1.1.0" and
		       ([.msg, .details] | join(" ") | contains("no-such-ipam"))' "$ZH_TMP/err.json"
	net_cmd STATUS "$CONF" >"$ZH_TMP/err.json" || true
	check "STATUS with a 1.0.0 config: code 1" test "$(cni_code)" = 1
}

v110_gc() {
	local before_ids before_map bad g1_4 o1_4 rc
	g1_4=$(zh_pod_ip "$G1") o1_4=$(zh_pod_ip "$O1")
	# A list we cannot read removes nothing.
	before_ids=$(ep_ids) before_map=$(ep_map_count)
	check "5 zh_endpoints entries before GC (2 pods x v4+v6, 1 pod v4)" test "$before_map" = 5
	for bad in '{"containerID":"x","ifname":"eth0"}' '[{"containerID":"x"}]' \
		'[{"containerID":"x","ifname":7}]' '["x/eth0"]'; do
		gc_conf "$ZH_TMP/gc-bad.conf" "$bad"
		net_cmd GC "$ZH_TMP/gc-bad.conf" >"$ZH_TMP/err.json" || true
		check "GC with valid-attachments $bad: code 7" \
			jq -e '.code == 7 and (.msg | contains("valid-attachments"))' "$ZH_TMP/err.json"
	done
	check "... and nothing was removed from zh_ifaces" test "$(ep_ids)" = "$before_ids"
	check "... nor from zh_endpoints" test "$(ep_map_count)" = 5
	check "... g1's veth is there" has_link "$(host_of "$G1")"
	check "... g2's veth is there" has_link "$(host_of "$G2")"

	# GC that keeps g1 (and an attachment that no longer exists anywhere).
	gc_conf "$ZH_TMP/gc.conf" "[{\"containerID\":\"$(zh_ctr_id "$G1")\",\"ifname\":\"eth0\"},
		{\"containerID\":\"long-gone\",\"ifname\":\"eth0\"}]"
	rc=0
	net_cmd GC "$ZH_TMP/gc.conf" >"$ZH_TMP/gc.out" || rc=$?
	check "GC keeping pod g1 exits 0" test "$rc" = 0
	check "... and prints nothing" test ! -s "$ZH_TMP/gc.out"
	check_not "... pod g2's host veth is gone" has_link "$(host_of "$G2")"
	check "... its zh_ifaces entry is gone, g1's and the other network's stay" \
		test "$(ep_ids)" = "$(printf '%s\n' "$(zh_ctr_id "$G1")" "$(zh_ctr_id "$O1")" |
			sort | tr '\n' ' ')"
	check "... its zh_endpoints entries are gone (5 -> 3)" test "$(ep_map_count)" = 3
	check "... g1's veth is there" has_link "$(host_of "$G1")"
	check "... the other network's pod's veth is there" has_link "$(host_of "$O1")"
	check "... g1 still forwards: g1 -> other network's pod" zh_ping_ok "$G1" "$o1_4"
	check "... and back" zh_ping_ok "$O1" "$g1_4"
	# IPAM GC, or where host-local has none, a DEL from GC: at once. (The
	# agent would release it too, from the record of its ADD.)
	check "... g2's lease is given back" test -z "$(zh_lease "$G2")"
	rc=0
	net_cmd GC "$ZH_TMP/gc.conf" >"$ZH_TMP/gc.out" || rc=$?
	check "GC again is harmless (exit 0)" test "$rc" = 0
	check "... and removes nothing more" test "$(ep_map_count)/$(endpoint_count)" = 3/2
	check "DEL of the GC'd pod succeeds" zh_cni DEL "$G2" "$CONF11"
	check "... and no lease of it is left" test -z "$(zh_lease "$G2")"

	# No list at all is the empty list: every attachment of zhgc goes, only zhgc's.
	jq 'del(.["cni.dev/valid-attachments"])' "$CONF11" >"$ZH_TMP/gc-none.conf"
	check "GC without cni.dev/valid-attachments exits 0" net_cmd GC "$ZH_TMP/gc-none.conf"
	check_not "... g1's veth is gone" has_link "$(host_of "$G1")"
	check "... only the other network's pod is left" test "$(ep_ids)" = "$(zh_ctr_id "$O1") "
	check "... and the node still reaches it" zh_node ping -c 1 -W 1 "$o1_4"
	check "DEL of g1 after GC succeeds" zh_cni DEL "$G1" "$CONF11"
	check "DEL of the other network's pod" zh_cni DEL "$O1" "$CONF"
	check "... no lease of these pods remains" \
		test -z "$(zh_lease "$G1")$(zh_lease "$G2")$(zh_lease "$O1")"
	check "... no endpoint remains" test "$(endpoint_count)" = 0
	ip netns del "$G1"
	ip netns del "$G2"
	ip netns del "$O1"
}

# --- concurrency ---------------------------------------------------------------
concurrent() {
	local i p pid pids=() rc=0
	for i in $(seq 1 8); do
		p="${ZH_PREFIX}-c$i"
		ip netns add "$p"
		ZH_PODS+=("$p")
		cp "$CONF" "$ZH_TMP/$p.conf"
		zh_cni ADD "$p" "$CONF" >"$ZH_TMP/$p.json" &
		pids+=($!)
	done
	for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
	check "8 concurrent ADDs succeed" test $rc = 0
	check "... with 8 distinct addresses" \
		test "$(cat "$ZH_TMP/${ZH_PREFIX}"-c*.json | jq -r '.ips[0].address' | sort -u | wc -l)" = 8
	check "... and 8 endpoints" test "$(endpoint_count)" = 8
	check "a concurrently added pod reaches another" \
		zh_ping_ok "${ZH_PREFIX}-c1" "$(zh_pod_ip "${ZH_PREFIX}-c8")"
	pids=()
	for i in $(seq 1 8); do
		zh_cni DEL "${ZH_PREFIX}-c$i" "$CONF" >/dev/null &
		pids+=($!)
	done
	rc=0
	for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
	check "8 concurrent DELs succeed" test $rc = 0
	check "... and leave no link" zh_no_links
	check "... and no endpoint" test "$(endpoint_count)" = 0
}

# --- a pod's first packet ---------------------------------------------------------
# The pod's eth0 comes up with its carrier (the host veth, its peer, up
# first), so its queue works the moment ADD returns. Up without carrier,
# its queue waited for the kernel's link watch work, which RTNL contention
# (a netns torn down meanwhile) delayed past the end of ADD: churn.sh lost
# a pod's first ping now and then (TX dropped on its eth0). Every link
# event of the pod's netns is watched through the ADD.
# up_without_carrier FILE: `ip monitor link` lines of eth0 up (UP) with no
# carrier (no LOWER_UP), printed; fails when there are none.
up_without_carrier() {
	awk '$2 ~ /^eth0@/ {
		f = $3; gsub(/[<>]/, "", f); n = split(f, a, ",")
		up = low = 0
		for (i = 1; i <= n; i++) { up += a[i] == "UP"; low += a[i] == "LOWER_UP" }
		if (up && !low) { print; hit = 1 }
	} END { exit !hit }' "$1"
}
first_packet() {
	local p="${ZH_PREFIX}-fp" mon
	ip netns add "$p"
	ip -n "$p" monitor link >"$ZH_TMP/mon.out" 2>&1 &
	mon=$!
	# Ready when it reports a change of lo's.
	check "the pod's link events are watched" eventually \
		sh -c "ip -n '$p' link set lo mtu \$((60000 + \$\$ % 5000)); grep -q ': lo:' '$ZH_TMP/mon.out'"
	check "ADD" zh_pod_add "$p" "$CONF"
	check "... its eth0 came up (seen)" eventually grep -q ': eth0@.*LOWER_UP' "$ZH_TMP/mon.out"
	kill "$mon"
	wait "$mon" || true
	check_not "... never up without carrier (queue not working yet)" \
		up_without_carrier "$ZH_TMP/mon.out"
	check "DEL" zh_cni DEL "$p" "$CONF"
	ip netns del "$p"
}

# --- chaining: zerohop then portmap ----------------------------------------------
chain() {
	local p="${ZH_PREFIX}-pm" srv
	ip netns add "$p"
	ZH_PODS+=("$p")
	cp "$CONF" "$ZH_TMP/$p.conf"
	zh_cni ADD "$p" "$CONF" >"$ZH_TMP/$p.json"
	jq -n --slurpfile r "$ZH_TMP/$p.json" '{cniVersion:"1.0.0", name:"zhrb", type:"portmap",
		runtimeConfig:{portMappings:[{hostPort:18080, containerPort:8080, protocol:"tcp"}]},
		prevResult:$r[0]}' >"$ZH_TMP/pm.conf"
	CNI_COMMAND=ADD CNI_CONTAINERID="$(zh_ctr_id "$p")" CNI_NETNS="/var/run/netns/$p" CNI_IFNAME=eth0 \
		CNI_PATH=$ZH_CNI_PATH zh_node /usr/lib/cni/portmap <"$ZH_TMP/pm.conf" >"$ZH_TMP/pm.json"
	check "portmap after zerohop passes our result through" \
		jq -e --slurpfile r "$ZH_TMP/$p.json" '.ips == $r[0].ips and .interfaces == $r[0].interfaces' \
		"$ZH_TMP/pm.json"
	zh_in "$p" timeout 5 socat -T 3 TCP-LISTEN:8080,reuseaddr SYSTEM:'echo mapped' &
	srv=$!
	sleep 0.3
	check "a host port mapped by portmap reaches the pod" \
		sh -c "[ \"\$(nsenter --net=/var/run/netns/$ZH_NODE socat -T 3 - TCP:10.200.0.1:18080 </dev/null)\" = mapped ]"
	# Its status is the check's: a server no client reached times out.
	wait "$srv" || true
	CNI_COMMAND=DEL CNI_CONTAINERID="$(zh_ctr_id "$p")" CNI_NETNS="/var/run/netns/$p" CNI_IFNAME=eth0 \
		CNI_PATH=$ZH_CNI_PATH zh_node /usr/lib/cni/portmap <"$ZH_TMP/pm.conf" >/dev/null
	check "DEL of the chain (portmap, then zerohop)" zh_cni DEL "$p" "$CONF"
}

# --- the agent is not in the data path -------------------------------------------
agent_restart() {
	local a="${ZH_PREFIX}-ka" b="${ZH_PREFIX}-kb" b4 ping_pid before
	zh_pod_add "$a" "$CONF"
	zh_pod_add "$b" "$CONF"
	b4=$(zh_pod_ip "$b")
	zh_in "$a" ping -c 40 -i 0.05 -W 1 "$b4" >"$ZH_TMP/ping.out" &
	ping_pid=$!
	sleep 0.5
	kill -9 "$AGENT"
	wait "$AGENT" 2>/dev/null || true
	# Its loss is the check's to see.
	wait "$ping_pid" || true
	check "agent killed with SIGKILL: ping keeps going (0% loss)" \
		grep -q ' 0% packet loss' "$ZH_TMP/ping.out"
	before=$(pin_ids)
	agent_start "$ZH_TMP/agent2.log"
	check "restarted agent reuses the pins: every program and map keeps its ID" \
		test "$(pin_ids)" = "$before"
	check "... holds the pinned zh_endpoints map" holds "$AGENT" zh_endpoints
	check "... which still has both endpoints" test "$(endpoint_count)" = 2
	check "traffic still flows after the restart" zh_ping_ok "$a" "$b4"
	# A veth that disappears without DEL: the agent sweeps its endpoint.
	zh_node ip link del "$(jq -r '.interfaces[0].name' "$ZH_TMP/$b.json")"
	sleep 2.5
	check "agent removed the endpoint of a vanished veth" test "$(endpoint_count)" = 1
	check "DEL after the agent swept still succeeds" zh_cni DEL "$b" "$CONF"
	check "DEL" zh_cni DEL "$a" "$CONF"
}

# The Service flows of a pod (zh_ct, both ways) go with it: at DEL, and
# when it goes without DEL (the agent's link event). Before, they stayed
# until they aged out (6 h for an established TCP flow), and a pod given
# the address next met their NAT.
ct_of() {
	"$ZH_BIN/zerohopctl" conntrack list -o json |
		jq --arg a "$1" '[.[] | select(.src == $a or .dst == $a)] | length'
}
conntrack_forgotten() {
	local s="${ZH_PREFIX}-cts" a="${ZH_PREFIX}-cta" b="${ZH_PREFIX}-ctb" a4 b4
	zh_pod_add "$s" "$CONF"
	zh_pod_add "$a" "$CONF"
	zh_pod_add "$b" "$CONF"
	a4=$(zh_pod_ip "$a") b4=$(zh_pod_ip "$b")
	"$ZH_BIN/zerohopctl" service add --vip 10.96.0.61 --port 7001 --proto udp \
		--backend "$(zh_pod_ip "$s"):7001" >/dev/null
	echo x | zh_in "$a" socat -T 1 - UDP:10.96.0.61:7001 >/dev/null 2>&1 || true
	echo x | zh_in "$b" socat -T 1 - UDP:10.96.0.61:7001 >/dev/null 2>&1 || true
	check "pod a's flow to the Service is in zh_ct, both ways" test "$(ct_of "$a4")" = 2
	check "pod b's too" test "$(ct_of "$b4")" = 2
	check "DEL of pod a" zh_cni DEL "$a" "$CONF"
	check "... takes its flows out of zh_ct" test "$(ct_of "$a4")" = 0
	check "... and not pod b's" test "$(ct_of "$b4")" = 2
	ip netns del "$b"
	check "pod b gone without DEL: the agent takes its flows out too" \
		eventually eval '[ "$(ct_of "$b4")" = 0 ]'
	check "DEL of pod b afterwards" zh_cni DEL "$b" "$CONF"
	check "DEL of the server pod" zh_cni DEL "$s" "$CONF"
	"$ZH_BIN/zerohopctl" service del --vip 10.96.0.61 --port 7001 --proto udp >/dev/null
	ip netns del "$a"
	ip netns del "$s"
}

# A container ID of 150 characters through ADD, CHECK, GC and DEL: the
# entry keeps 62 of them and a digest, and every command matches it so.
long_id() {
	local p="${ZH_PREFIX}-long" id host
	id=$(zh_ctr_id "$p")
	check "the ID is 150 characters" test "${#id}" = 150
	zh_conf "$ZH_TMP/long.conf" zhlong tc 10.91.9.0/24
	check "ADD" zh_pod_add "$p" "$ZH_TMP/long.conf"
	host=$(jq -r '.interfaces[0].name' "$ZH_TMP/$p.json")
	check "the entry keeps its start and a digest" \
		eval '"$ZH_BIN/zerohopctl" endpoints -o json |
			jq -e --arg s "${id:0:62}#" ".[] | select(.containerID | startswith(\$s))"'
	jq --slurpfile r "$ZH_TMP/$p.json" '. + {prevResult: $r[0]}' \
		"$ZH_TMP/long.conf" >"$ZH_TMP/long-check.conf"
	check "CHECK passes (it failed with 104, no endpoint entry)" \
		zh_cni CHECK "$p" "$ZH_TMP/long-check.conf"
	jq --arg id "$id" '.cniVersion = "1.1.0" |
		. + {"cni.dev/valid-attachments": [{"containerID": $id, "ifname": "eth0"}]}' \
		"$ZH_TMP/long.conf" >"$ZH_TMP/long-gc.conf"
	check "GC with it in the valid list keeps it" net_cmd GC "$ZH_TMP/long-gc.conf"
	check "... its veth is there" has_link "$host"
	# As containerd's run --rm: the netns (and the veth) gone before DEL,
	# so only the entry's owner names what to remove.
	ip netns del "$p"
	check "the veth goes with the netns" eventually eval '! has_link "$host"'
	check "DEL" zh_cni DEL "$p" "$ZH_TMP/long.conf"
	check "... removes its entry at once" \
		eval '! "$ZH_BIN/zerohopctl" endpoints -o json |
			jq -e --arg s "${id:0:62}#" ".[] | select(.containerID | startswith(\$s))"'
	check "... and its lease" test -z "$(zh_lease "$p")"
	# GC of it: zh_ifaces has only its start and a digest, the record of
	# its ADD the whole ID, for IPAM (before: "kept as a digest", the
	# lease stayed).
	check "ADD again" zh_pod_add "$p" "$ZH_TMP/long.conf"
	jq '.cniVersion = "1.1.0" | . + {"cni.dev/valid-attachments": []}' \
		"$ZH_TMP/long.conf" >"$ZH_TMP/long-gc0.conf"
	check "GC without it" eval 'net_cmd GC "$ZH_TMP/long-gc0.conf" 2>"$ZH_TMP/long-gc.err"'
	check "... names it to IPAM whole: no 'kept as a digest'" \
		eval '! grep -q "kept as a digest" "$ZH_TMP/long-gc.err"'
	check "... its lease is given back" test -z "$(zh_lease "$p")"
	# (the agent, seeing the veth go, may hold it a moment to release too)
	check "... and its record dropped" eventually eval \
		'[ -z "$(find "$ZEROHOP_STATE_DIR" -name "*.json*" -newer "$ZH_TMP/long-gc0.conf")" ]'
}

# An IPAM plugin that never answers: ADD gives up after ZEROHOP_IPAM_TIMEOUT
# with error 11 and leaves nothing, and while it hangs it holds no lock:
# another pod's ADD goes through (before, it waited behind the hang).
ipam_hang() {
	local p="${ZH_PREFIX}-hang" q="${ZH_PREFIX}-free" t0 took eps
	[ -e "$ZH_CNI_DIR/ipam-hang" ] ||
		ln -s "$PWD/tests/integration/plugins/ipam-hang" "$ZH_CNI_DIR/"
	jq '.ipam.type = "ipam-hang" | .name = "zhhang"' "$CONF" >"$ZH_TMP/hang.conf"
	ip netns add "$p"
	eps=$(endpoint_count)
	t0=$SECONDS
	# (Its failure is the point: not the ERR trap's business.)
	{
		ZEROHOP_IPAM_TIMEOUT=4 ZH_IPAM_STARTED="$ZH_TMP/hang.started" \
			zh_cni ADD "$p" "$ZH_TMP/hang.conf" >"$ZH_TMP/hang.json" || true
	} &
	local bg=$!
	check "the hanging IPAM plugin is running" eventually test -e "$ZH_TMP/hang.started"
	zh_conf "$ZH_TMP/free.conf" zhfree tc 10.91.7.0/24
	local t1=$SECONDS
	check "meanwhile another pod's ADD goes through" zh_pod_add "$q" "$ZH_TMP/free.conf"
	check "... at once ($((SECONDS - t1)) s), not behind the hang" \
		test $((SECONDS - t1)) -le 2
	wait "$bg" || true
	took=$((SECONDS - t0))
	check "the hung ADD ends after the deadline (${took} s)" test "$took" -le 8
	check "... with error 11, naming the plugin" jq -e \
		'.code == 11 and (.details | contains("ipam-hang"))' "$ZH_TMP/hang.json"
	check "... and leaves no endpoint (only the other pod's is new)" \
		test "$(endpoint_count)" = $((eps + 1))
	check "... and no sleeping plugin" eval '! pgrep -f "^sleep 60$" >/dev/null'
}

# Where /sys/fs/bpf is no bpffs (a private mount namespace with a tmpfs
# there, as `ip netns exec` leaves it), ADD fails and mounts nothing: a
# bpffs of its own would be a second, private set of maps.
no_bpffs() {
	local p="${ZH_PREFIX}-nb"
	ip netns add "$p"
	zh_conf "$ZH_TMP/nb.conf" zhnb tc 10.91.8.0/24
	unshare -m --propagation private sh -c '
		mount -t tmpfs none /sys/fs/bpf || exit 9
		CNI_COMMAND=ADD CNI_CONTAINERID=nb CNI_NETNS="/var/run/netns/$1" \
			CNI_IFNAME=eth0 CNI_PATH="$2" nsenter --net="/var/run/netns/$3" \
			"$4/zerohop" <"$5/nb.conf" >"$5/nb.json"
		echo "rc=$?" >"$5/nb.rc"
		stat -f -c %T /sys/fs/bpf >"$5/nb.fs"' _ \
		"$p" "$ZH_CNI_PATH" "$ZH_NODE" "$ZH_BIN" "$ZH_TMP"
	check "ADD fails" grep -qv "rc=0" "$ZH_TMP/nb.rc"
	check "... with error 102 naming the reason" jq -e \
		'.code == 102 and .msg == "/sys/fs/bpf is not a bpffs"' "$ZH_TMP/nb.json"
	check "... having mounted no bpffs of its own" \
		grep -qx tmpfs "$ZH_TMP/nb.fs"
	check "... and left no veth" zh_no_links
	check "... and no lease" test -z "$(zh_lease "$p")"
}

zh_run_cases env_ok tc_without_agent xdp_with_agent rollback netns_gone_after_ipam \
	host_route_taken ipam_reserved_then_failed ipam_killed bad_input versions v110_add \
	v110_status v110_gc concurrent first_packet chain agent_restart conntrack_forgotten \
	long_id no_bpffs ipam_hang
