# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# lib.sh - shared by the integration tests and the demo:
# a "node" network namespace with pods wired by the real CNI plugin, invoked
# exactly as a runtime does (CNI_* environment, config on stdin), plus
# cleanup that runs on every exit path.
#
# Callers set ZH_PREFIX (names of everything made here start with it) and
# O (the build dir) before sourcing.

: "${O:=build}"
: "${ZH_PREFIX:=zh$$}"
ZH_BIN=$(cd "$O" && pwd)
ZH_TMP=$(mktemp -d "/tmp/${ZH_PREFIX}.XXXXXX")
ZH_NODE="${ZH_PREFIX}-node"
ZH_CNI_DIR="$ZH_TMP/cni"
# Our plugin first, then Debian's reference plugins (host-local, portmap).
ZH_CNI_PATH="$ZH_CNI_DIR:/usr/lib/cni:/opt/cni/bin"
# Pins of this run only; the real ones stay untouched.
export ZEROHOP_PIN_ROOT="/sys/fs/bpf/${ZH_PREFIX}"
# This run's AF_XDP handoff socket (zerohopd, the CNI result, clients).
export ZEROHOP_XSK_SOCKET="$ZH_TMP/xsk.sock"
# The pin directory of this build's layout (ZH_PIN_VERSION in zh_abi.h).
# shellcheck disable=SC2034 # for the scripts that source this one
ZH_PIN_DIR="$ZEROHOP_PIN_ROOT/$(sed -n 's/^#define ZH_PIN_VERSION "\(.*\)"$/\1/p' bpf/include/zh_abi.h)"
ZH_PODS=()
ZH_PIDS=()

mkdir -p "$ZH_CNI_DIR"
ln -s "$ZH_BIN/zerohop" "$ZH_CNI_DIR/zerohop"

# zh_require TIER TOOL...: skip (exit 77) unless root; fail on a missing tool.
zh_require() {
	local tier=$1 t
	shift
	if [ "$(id -u)" != 0 ]; then
		echo "$tier: SKIP: needs root (network namespaces, BPF)"
		exit 77
	fi
	for t in "$@"; do
		command -v "$t" >/dev/null || {
			echo "$tier: missing $t: run scripts/deps.sh"
			exit 1
		}
	done
}

zh_node() { nsenter --net="/var/run/netns/$ZH_NODE" "$@"; }
zh_in() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# zh_bg NS CMD...: run CMD in netns NS in the background; cleanup kills it.
# nsenter, not `ip netns exec`: that remounts /sys and hides the pins.
zh_bg() {
	local ns=$1
	shift
	nsenter --net="/var/run/netns/$ns" "$@" &
	ZH_PIDS+=($!)
}

zh_cleanup() {
	# Best effort, every step: under a caller's set -e the first kill of a
	# process already gone would end the cleanup and leave the rest.
	local - p
	set +e
	for p in "${ZH_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for p in "${ZH_PODS[@]}"; do
		[ -f "$ZH_TMP/$p.conf" ] || continue
		zh_cni DEL "$p" "$ZH_TMP/$p.conf" >/dev/null 2>&1
	done
	for p in $(ip netns list | awk '{print $1}' | grep "^${ZH_PREFIX}-"); do
		ip netns pids "$p" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$p" 2>/dev/null
	done
	rm -rf "$ZEROHOP_PIN_ROOT" "$ZH_TMP"
}

zh_node_up() {
	ip netns add "$ZH_NODE"
	zh_node ip link set lo up
	# The node has an address of its own, for pod<->host traffic.
	zh_node ip addr add 10.200.0.1/32 dev lo
}

# zh_conf FILE NAME DATAPATH V4SUBNET [V6SUBNET]: a zerohop network config.
zh_conf() {
	local file=$1 name=$2 dp=$3 v4=$4 v6=${5:-}
	local ranges="[[{\"subnet\":\"$v4\"}]"
	[ -n "$v6" ] && ranges="$ranges,[{\"subnet\":\"$v6\"}]"
	ranges="$ranges]"
	cat >"$file" <<EOF
{"cniVersion":"1.0.0","name":"$name","type":"zerohop","datapath":"$dp","mtu":1500,
 "ipam":{"type":"host-local","ranges":$ranges,"dataDir":"$ZH_TMP/ipam"}}
EOF
}

# zh_ctr_id POD: the container ID a runtime would pass (64 hex digits).
zh_ctr_id() { printf '%s' "$1" | sha256sum | cut -c1-64; }

# zh_cni CMD POD CONF [IFNAME]: run the plugin in the node netns as a
# runtime would; stdout is the plugin's, the exit code too.
zh_cni() {
	local cmd=$1 pod=$2 conf=$3 ifname=${4:-eth0}
	CNI_COMMAND=$cmd CNI_CONTAINERID="$(zh_ctr_id "$pod")" \
		CNI_NETNS="/var/run/netns/$pod" CNI_IFNAME=$ifname \
		CNI_PATH=$ZH_CNI_PATH \
		zh_node "$ZH_BIN/zerohop" <"$conf"
}

# zh_pod_add POD CONF: make the pod's netns, ADD it, keep the result in
# $ZH_TMP/POD.json and the config for DEL at cleanup.
zh_pod_add() {
	local pod=$1 conf=$2
	ip netns add "$pod"
	zh_in "$pod" ip link set lo up
	ZH_PODS+=("$pod")
	cp "$conf" "$ZH_TMP/$pod.conf"
	zh_cni ADD "$pod" "$conf" >"$ZH_TMP/$pod.json"
}

# zh_pod_ip POD [4|6]: the pod's address from its ADD result.
zh_pod_ip() {
	local fam=${2:-4} sel='contains(".")'
	[ "$fam" = 6 ] && sel='contains(":")'
	jq -r ".ips[] | select(.address | $sel) | .address | sub(\"/.*\"; \"\")" \
		"$ZH_TMP/$1.json"
}

zh_stat() {
	"$ZH_BIN/zerohopctl" stats -o json |
		jq -r "if \"$1\" == \"redirect\" then .redirected.packets
		       else (.dropReasons[\"$1\"] // .passReasons[\"$1\"]).packets end"
}

# --- assertions: check DESCRIPTION COMMAND... counts a pass or a failure
# (printing the command's output); check_not expects the command to fail.
PASS=0
FAIL=0
CASE=""
ok() {
	PASS=$((PASS + 1))
	echo "  ok   $CASE: $*"
}
bad() {
	FAIL=$((FAIL + 1))
	echo "  FAIL $CASE: $*"
}
check() {
	local d=$1
	shift
	if "$@" >"$ZH_TMP/out" 2>&1; then ok "$d"; else
		bad "$d"
		sed 's/^/       | /' "$ZH_TMP/out" | tail -n 15
	fi
}
check_not() {
	local d=$1
	shift
	if "$@" >"$ZH_TMP/out" 2>&1; then
		bad "$d (unexpectedly succeeded)"
	else ok "$d"; fi
}
