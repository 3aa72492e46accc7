# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# lib.sh - shared by the integration tests and the demo:
# a "node" network namespace with pods wired by the real CNI plugin, invoked
# exactly as a runtime does (CNI_* environment, config on stdin), plus
# cleanup that runs on every exit path.
#
# Callers set ZH_PREFIX (names of everything made here start with it) and
# O (the build dir) before sourcing, under set -euo pipefail.
#
# A test, run by tests/run-tier: source this, zh_start (traps), zh_require
# (root and tools, or exit 77 saying why), then one function per case
# counting checks (check, check_not), and last `zh_run_cases CASE...`,
# which runs them and prints the test's "N passed, N failed" line.

# One strictness for every script: a command that fails outside a check
# stops the test (zh_on_err says which), an unset variable is a bug.
if [[ $- != *e* || $- != *u* ]] || ! shopt -qo pipefail; then
	echo "${0##*/}: source lib.sh under set -euo pipefail" >&2
	exit 1
fi
: "${O:=build}"
: "${ZH_PREFIX:=zh$$}"
# The test's name in what it prints: its file's, without .sh.
ZH_TEST=${0##*/}
ZH_TEST=${ZH_TEST%.sh}
if [ ! -d "$O" ]; then
	echo "$ZH_TEST: no build directory $O: run make" >&2
	exit 1
fi
ZH_BIN=$(cd "$O" && pwd)
ZH_TMP=$(mktemp -d "/tmp/${ZH_PREFIX}.XXXXXX")
ZH_NODE="${ZH_PREFIX}-node"
ZH_CNI_DIR="$ZH_TMP/cni"
# Our plugin first, then Debian's reference plugins (host-local, portmap).
ZH_CNI_PATH="$ZH_CNI_DIR:/usr/lib/cni:/opt/cni/bin"
# Pins of this run only; the real ones stay untouched.
export ZEROHOP_PIN_ROOT="/sys/fs/bpf/${ZH_PREFIX}"
# No socket-level load balancing unless a test asks for it (socklb.sh):
# on, its cgroup programs would balance every socket of the machine.
export ZEROHOP_SOCKET_LB=off
# This run's AF_XDP handoff socket (zerohopd, the CNI result, clients).
export ZEROHOP_XSK_SOCKET="$ZH_TMP/xsk.sock"
# This run's records of attachments (the plugin writes, zerohopd reads).
export ZEROHOP_STATE_DIR="$ZH_TMP/state"
# The pin directory of this build's layout (ZH_PIN_VERSION in zh_abi.h).
# shellcheck disable=SC2034 # for the scripts that source this one
ZH_PIN_DIR="$ZEROHOP_PIN_ROOT/$(sed -n 's/^#define ZH_PIN_VERSION "\(.*\)"$/\1/p' bpf/include/zh_abi.h)"
ZH_PODS=()
ZH_PIDS=()
ZH_DEFER=()

mkdir -p "$ZH_CNI_DIR"
ln -s "$ZH_BIN/zerohop" "$ZH_CNI_DIR/zerohop"

# zh_start: what every test does first, right after sourcing: clean up on
# every exit path, exit 130 on SIGINT and SIGTERM, and name the command
# that stopped the test when set -e does.
zh_start() {
	# The ERR trap in functions too: the cases are functions.
	set -E
	trap zh_cleanup EXIT
	trap 'exit 130' INT TERM
	trap 'zh_on_err $? "$BASH_COMMAND" "$LINENO"' ERR
}

# zh_on_err STATUS COMMAND LINE: set -e is about to stop the test. Without
# this line the runner would only see its exit status.
zh_on_err() {
	# In $(...) and in conditions (check's included) errexit is off, and
	# a failing command is an answer, not the end.
	[[ $- == *e* ]] || return 0
	local i where="${BASH_SOURCE[1]##*/}:$3"
	# Where it was called from, back to the script's top level.
	for ((i = 1; i < ${#FUNCNAME[@]} - 1; i++)); do
		where+=" < ${BASH_SOURCE[i + 1]##*/}:${BASH_LINENO[i]}"
	done
	echo "$ZH_TEST: stopped${CASE:+ in case $CASE}: \`$2\` exited $1 at $where;" \
		"$PASS passed, $FAIL failed" >&2
}

# zh_skip WHY: the test cannot run here: say why, exit 77 (the runner's
# "skipped").
zh_skip() {
	echo "$ZH_TEST: SKIP: $*"
	exit 77
}

# zh_require TOOL[:PACKAGE]...: skip unless root; fail naming every
# missing tool at once (with its Debian package where given).
zh_require() {
	[ "$(id -u)" = 0 ] || zh_skip "needs root (network namespaces, BPF)"
	zh_require_tools "$@"
}

# zh_require_tools TOOL[:PACKAGE]...: zh_require for a test that needs no
# root (one that reads files and runs no namespace).
zh_require_tools() {
	local t missing=()
	for t in "$@"; do
		command -v "${t%%:*}" >/dev/null && continue
		if [[ $t == *:* ]]; then
			missing+=("${t%%:*} (Debian package ${t#*:})")
		else
			missing+=("$t")
		fi
	done
	[ ${#missing[@]} = 0 ] && return 0
	echo "$ZH_TEST: missing ${missing[*]}: run scripts/deps.sh"
	exit 1
}

# zh_require_busybox: what a container runtime test needs beyond its
# tools: Debian's reference plugins (host-local) and a static busybox, the
# one binary of its containers' rootfs (in BUSYBOX). Exits 1 saying what
# to install.
zh_require_busybox() {
	if [ ! -x /usr/lib/cni/host-local ]; then
		echo "$ZH_TEST: missing /usr/lib/cni/host-local (Debian package containernetworking-plugins): run scripts/deps.sh"
		exit 1
	fi
	BUSYBOX=$(command -v busybox)
	if ldd "$BUSYBOX" >/dev/null 2>&1; then
		echo "$ZH_TEST: $BUSYBOX is dynamically linked: install busybox-static (scripts/deps.sh)"
		exit 1
	fi
}

# zh_busybox_rootfs DIR APPLET...: a container's rootfs in DIR: the static
# busybox, those applets linked to it, the usual mount points.
zh_busybox_rootfs() {
	local r=$1 a
	shift
	mkdir -p "$r/bin" "$r/"{dev,etc,proc,run,sys,tmp}
	cp "$BUSYBOX" "$r/bin/busybox"
	for a in "$@"; do
		ln -s busybox "$r/bin/$a"
	done
}

# zh_run_pids: processes of this run: those that name its temp dir on
# their command line (a runtime's daemons, shims, exit commands). Not the
# grep that looks (it names it too, and may still be there, or a zombie,
# when the loop reads its pid).
zh_run_pids() {
	local self pid
	grep -lsF -- "$ZH_TMP/" /proc/[0-9]*/cmdline | while IFS=/ read -r _ _ pid _; do
		self=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
		[ "$self" != grep ] && echo "$pid"
	done
}

# zh_defer FUNCTION: zh_cleanup calls FUNCTION first (the last deferred
# first), best effort like the rest: what a test makes beyond lib.sh's
# netns, pins, processes and temp dir.
zh_defer() { ZH_DEFER=("$1" "${ZH_DEFER[@]}"); }

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
	for p in "${ZH_DEFER[@]}"; do "$p"; done
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
	# Not into a mount a test left below its temp dir (podman's /dev/shm).
	rm -rf --one-file-system "$ZEROHOP_PIN_ROOT" "$ZH_TMP"
}

zh_node_up() {
	ip netns add "$ZH_NODE"
	zh_node ip link set lo up
	# The node has an address of its own, for pod<->host traffic.
	zh_node ip addr add 10.200.0.1/32 dev lo
}

# zh_uplink_up: the node's uplink to an "external" client: a netns EXT
# whose eth0 (192.168.77.2/24) is the peer of the node's UPLINK
# (192.168.77.1/24). Sets EXT and UPLINK.
zh_uplink_up() {
	EXT="${ZH_PREFIX}-ext"
	UPLINK="${ZH_PREFIX}up"
	ip netns add "$EXT"
	zh_in "$EXT" ip link set lo up
	ip link add "$UPLINK" netns "$ZH_NODE" type veth peer name eth0 \
		netns "$EXT"
	zh_node ip addr add 192.168.77.1/24 dev "$UPLINK"
	zh_node ip link set "$UPLINK" up
	zh_in "$EXT" ip addr add 192.168.77.2/24 dev eth0
	zh_in "$EXT" ip link set eth0 up
	# A NIC hands the uplink's XDP frames with complete checksums; a veth
	# peer would hand it CHECKSUM_PARTIAL ones, which an XDP redirect
	# cannot finish.
	zh_in "$EXT" ethtool -K eth0 tx off >/dev/null
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

# zh_ctr_id POD: the container ID a runtime would pass: 64 hex digits, or
# for a pod named *-long 150 characters, as containerd's
# <namespace>-<id> reach.
zh_ctr_id() {
	local h
	h=$(printf '%s' "$1" | sha256sum | cut -c1-64)
	case $1 in
	*-long) printf 'k8s.io-%s%s%s' "$h" "$h" "${h:0:15}" ;;
	*) printf '%s' "$h" ;;
	esac
}

# zh_lease POD: the host-local lease files that hold POD's addresses (in
# zh_conf's dataDir; each is the container ID, CRLF, the ifname); nothing
# when there are none.
zh_lease() { grep -rl "^$(zh_ctr_id "$1")" "$ZH_TMP/ipam" 2>/dev/null || true; }

# zh_no_links: no host veth of ours is left in the node (those that are,
# printed). Not `! ... | grep -q`: under pipefail, grep leaving early
# would fail ip with SIGPIPE, and the negation would pass the check.
zh_no_links() {
	local left
	left=$(zh_node ip -o link show | grep ' zh[0-9a-f]\{12\}[@:]' || true)
	[ -z "$left" ] || {
		echo "$left"
		return 1
	}
}

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
# The command runs in a condition, so set -e does not stop the test there.
PASS=0
FAIL=0
CASE=""
ZH_CASES_SKIPPED=0
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
	zh_stop_point
	if "$@" >"$ZH_TMP/out" 2>&1; then ok "$d"; else
		bad "$d"
		sed 's/^/       | /' "$ZH_TMP/out" | tail -n 15
	fi
}
check_not() {
	local d=$1
	shift
	zh_stop_point
	if "$@" >"$ZH_TMP/out" 2>&1; then
		bad "$d (unexpectedly succeeded)"
	else ok "$d"; fi
}

# eventually COMMAND...: COMMAND succeeds within 30 s, tried every 0.1 s (a
# moment here; under emulation, scripts/kernel-vm.sh without KVM, podman's
# conmon took over 5 s to go).
eventually() {
	local i
	for i in $(seq 300); do
		"$@" && return 0
		zh_stop_point
		[ "$i" = 300 ] || sleep 0.1
	done
	return 1
}

# zh_stop_point: stop here if $ZH_TMP/stop exists. A test whose checks run
# in a child that ignores SIGINT and SIGTERM (podman.sh: podman must not be
# cut short) has its parent touch that file; the child stops at its next
# check, and the parent cleans up.
zh_stop_point() {
	[ -e "$ZH_TMP/stop" ] || return 0
	echo "$ZH_TEST: interrupted after $PASS passed, $FAIL failed"
	exit 130
}

# zh_case_skip WHY: the running case checks nothing on this machine (a
# kernel without the feature): say why; the case then returns.
zh_case_skip() {
	ZH_CASES_SKIPPED=$((ZH_CASES_SKIPPED + 1))
	echo "  skip $CASE: $*"
}

# zh_run_cases CASE...: the test's cases, each a function, run in order:
# CASE is set to its name (the checks' label; a case may add to it), and
# each ends with a line of its counts. Then the test's summary line; exits
# 0 when every check passed, 1 if not. A command that fails in a case
# outside a check stops the whole test (set -e): later cases build on the
# earlier ones' pods, agent and maps. ZH_ONLY="CASE..." runs only those
# (debugging; name the earlier cases a case builds on too).
zh_run_cases() {
	# zh_-named: a case's own variables are dynamically scoped into here.
	local zh_case zh_pass0 zh_fail0 zh_t0 zh_skipped=""
	for zh_case in "$@"; do
		declare -F "$zh_case" >/dev/null || {
			echo "$ZH_TEST: no case function $zh_case" >&2
			exit 1
		}
	done
	for zh_case in "$@"; do
		[ -z "${ZH_ONLY:-}" ] || [[ " $ZH_ONLY " == *" $zh_case "* ]] ||
			continue
		CASE=$zh_case zh_pass0=$PASS zh_fail0=$FAIL zh_t0=$SECONDS
		"$zh_case"
		CASE=$zh_case
		echo "  --   $zh_case: $((PASS - zh_pass0)) passed, $((FAIL - zh_fail0)) failed" \
			"($((SECONDS - zh_t0)) s)"
	done
	CASE=""
	[ "$ZH_CASES_SKIPPED" = 0 ] || zh_skipped=", $ZH_CASES_SKIPPED case(s) skipped"
	echo "$ZH_TEST: $PASS passed, $FAIL failed$zh_skipped ($SECONDS s)"
	[ "$FAIL" = 0 ] || exit 1
	exit 0
}

# zh_ping_ok NS ADDR: two echo requests from netns NS to ADDR answered.
zh_ping_ok() { zh_in "$1" ping -c 2 -i 0.2 -W 1 "$2"; }

# zh_listening NS t|u PORT: a socket of NS listens on PORT (TCP or UDP).
zh_listening() { [ -n "$(zh_in "$1" ss -Hln"$2" "sport = :$3")" ]; }

# zh_tcp_ok CLIENT SERVER ADDR [PORT]: a TCP request from netns CLIENT to
# ADDR:PORT (a random port if none) is answered, data checked, by a server
# in netns SERVER. The client waits for the server to listen: under
# emulation (the 6.12 VM) a server took over half a second to bind.
zh_tcp_ok() {
	local c=$1 s=$2 ip=$3 port=${4:-$((20000 + RANDOM % 10000))} got pid
	zh_in "$s" timeout 30 socat -T 20 "TCP6-LISTEN:$port,ipv6only=0,reuseaddr" \
		SYSTEM:'read l; echo "pong-$l"' &
	pid=$!
	eventually zh_listening "$s" t "$port"
	[[ $ip == *:* ]] && ip="[$ip]"
	got=$(echo tcp | zh_in "$c" socat -T 20 - "TCP:$ip:$port")
	wait "$pid"
	[ "$got" = "pong-tcp" ] || {
		echo "TCP reply from $ip:$port: '$got'"
		return 1
	}
}

# zh_udp_ok CLIENT SERVER ADDR [PORT]: as zh_tcp_ok, one UDP datagram
# echoed back.
zh_udp_ok() {
	local c=$1 s=$2 ip=$3 port=${4:-$((30000 + RANDOM % 10000))} got pid
	zh_in "$s" timeout 30 socat -T 20 "UDP6-RECVFROM:$port,ipv6only=0" SYSTEM:'cat' &
	pid=$!
	eventually zh_listening "$s" u "$port"
	[[ $ip == *:* ]] && ip="[$ip]"
	got=$(echo udp-datagram | zh_in "$c" socat -T 20 - "UDP:$ip:$port")
	wait "$pid"
	[ "$got" = "udp-datagram" ] || {
		echo "UDP reply from $ip:$port: '$got'"
		return 1
	}
}

# zh_udp_refused NS HOST PORT: a connected UDP socket in netns NS sends one
# datagram to HOST:PORT and hears "port unreachable" (ECONNREFUSED) within
# 2 s; prints what it heard.
zh_udp_refused() {
	local out
	out=$(zh_in "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET,
                  socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b"x")
try:
    s.recv(16)
    print("answered")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
' "$2" "$3" 2>&1) || true
	echo "$1 -> $2:$3 udp: $out"
	[ "$out" = refused ]
}
