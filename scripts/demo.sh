#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# demo.sh - zerohop on one machine, end to end: install dependencies, build,
# start the agent, wire five pods through the real CNI plugin (two on the tc
# datapath, two on XDP, one taking UDP port 7777 with AF_XDP in an
# unprivileged process), send ping, TCP and UDP between them, show the path
# the packets took and a small RTT table. Everything runs in network
# namespaces this script makes (a "node" with FORWARD DROP and forwarding
# off, and the pods), and everything is removed when it ends.
#
# A step that fails (the agent does not start, a pod cannot be wired, traffic
# does not pass) stops the demo at once with a non-zero exit status, saying
# which step and why (the agent's log, the plugin's CNI error); Ctrl-C stops
# it too. It cleans up either way.
#
#   sudo ./scripts/demo.sh [--no-deps] [--duration SECS]
#
# ZH_DEMO_PREFIX (default zhdemo; letters, digits, _) starts the name of all
# it makes: the netns, the pins in /sys/fs/bpf/PREFIX, /tmp/PREFIX.*, and
# /run/PREFIX.demo.pid while it runs. What a killed run left behind under
# that prefix is removed at the start. The rest of the environment reaches
# the agent and the plugin (e.g. ZEROHOP_DISABLE_FEATURES).
set -euo pipefail
# The ERR trap below also sees failures inside functions.
set -E
cd "$(dirname "$0")/.."

DEPS=1
DURATION=2
while [ $# -gt 0 ]; do
	case $1 in
	--no-deps) DEPS=0 ;;
	--duration)
		DURATION=${2-}
		[ $# -gt 1 ] && shift
		;;
	-h | --help)
		# The header comment, up to the first line of code.
		awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0"
		exit 0
		;;
	*)
		echo "demo: unknown option $1 (see --help)" >&2
		exit 2
		;;
	esac
	shift
done
case $DURATION in
'' | *[!0-9.]* | *.*.* | .)
	echo "demo: --duration wants seconds, not '$DURATION'" >&2
	exit 2
	;;
esac
PREFIX=${ZH_DEMO_PREFIX:-zhdemo}
# It goes into netns names, paths and a regular expression; the AF_XDP
# socket's path under /tmp must fit in a sockaddr_un.
case $PREFIX in
'' | *[!A-Za-z0-9_]*)
	echo "demo: ZH_DEMO_PREFIX: letters, digits and _ only, not '$PREFIX'" >&2
	exit 2
	;;
esac
if [ ${#PREFIX} -gt 32 ]; then
	echo "demo: ZH_DEMO_PREFIX: 32 characters at most" >&2
	exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (network namespaces, BPF)" >&2
	exit 1
fi

STEP="start"  # the section running: what a failure message names
FAILED=""     # what failed, once said (by die, interrupted or on_exit)
VERDICT="FAILED" # "stopped" when a signal ended it
LAST_ERR=""   # the last command that failed, from the ERR trap
AGENT=""      # the agent's pid, once started
LIB=0         # lib.sh sourced: there is something to clean up
LOCKED=0      # $LOCK is ours
LOCK="/run/$PREFIX.demo.pid"

say() {
	STEP=$*
	printf '\n\033[1m== %s\033[0m\n' "$*"
}

# agent_gone: the agent was started and runs no more.
agent_gone() { [ -n "$AGENT" ] && ! kill -0 "$AGENT" 2>/dev/null; }

# show LABEL FILE...: the last lines of each non-empty FILE, under LABEL.
show() {
	local label=$1 f
	shift
	for f in "$@"; do
		if [ -s "$f" ]; then
			printf '  %s:\n' "$label"
			tail -n 12 "$f" | sed 's/^/  | /'
		fi
	done
}

# die WHAT [LABEL FILE]...: stop the demo here. Says which step failed and
# what, with the tail of each FILE (a CNI error, a client's output) and of
# the agent's log once the agent is gone; the EXIT trap cleans up.
die() {
	local what=$1 agent_shown=0
	shift
	exec 1>&"$STDOUT" 2>&"$STDERR"
	FAILED="\"$STEP\": $what"
	{
		printf '\n\033[1;31mdemo: FAILED in %s\033[0m\n' "$FAILED"
		while [ $# -ge 2 ]; do
			show "$1" "$2"
			if [ "$2" = "${ZH_TMP:-}/agent.log" ]; then agent_shown=1; fi
			shift 2
		done
		if [ $agent_shown = 0 ] && agent_gone; then
			show "the agent (zerohopd) is gone; its log" "$ZH_TMP/agent.log"
		fi
	} >&2
	exit 1
}

# Only a record: set -e does the stopping, on_exit the telling. It also
# runs in subshells ($(...)), where the record is lost, which is harmless.
on_err() { LAST_ERR="\`$2\` failed (status $1, ${BASH_SOURCE[1]##*/}:$3)"; }

interrupted() {
	exec 1>&"$STDOUT" 2>&"$STDERR"
	VERDICT="stopped"
	FAILED="\"$STEP\": interrupted (SIG$1)"
	printf '\ndemo: interrupted (SIG%s) in "%s"\n' "$1" "$STEP" >&2
	exit "$2"
}

# stop_bg: end what zh_bg started (the agent, servers, the AF_XDP echo):
# TERM, then KILL what still runs after 3 s, so that cleanup never waits
# on a process that will not go.
stop_bg() {
	local p alive _
	[ ${#ZH_PIDS[@]} -gt 0 ] || return 0
	kill "${ZH_PIDS[@]}" 2>/dev/null
	for _ in $(seq 30); do
		alive=0
		for p in "${ZH_PIDS[@]}"; do
			if kill -0 "$p" 2>/dev/null; then alive=1; fi
		done
		[ $alive = 1 ] || return 0
		sleep 0.1
	done
	kill -KILL "${ZH_PIDS[@]}" 2>/dev/null
}

# ns_empty NS: end the processes in netns NS, TERM and after 2 s KILL, and
# wait for them: a netns whose name is deleted lives on, unseen, while a
# process is in it, and zh_cleanup does not wait for what it kills there.
ns_empty() {
	local ns=$1 i
	ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
	for i in $(seq 30); do
		if [ -z "$(ip netns pids "$ns" 2>/dev/null)" ]; then return 0; fi
		if [ "$i" = 20 ]; then
			ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
		fi
		sleep 0.1
	done
}

# our_netns: the netns whose names start with the prefix.
our_netns() { ip netns list | awk -v p="$PREFIX-" 'index($1, p) == 1 { print $1 }'; }

# leftovers: what cleanup failed to remove, one per line.
leftovers() {
	our_netns | sed 's/^/netns /'
	if [ -e "$ZEROHOP_PIN_ROOT" ]; then echo "pins $ZEROHOP_PIN_ROOT"; fi
	if [ -e "$ZH_TMP" ]; then echo "$ZH_TMP"; fi
}

on_exit() {
	local rc=$? left ns
	# Nothing may cut the cleanup short, a second Ctrl-C included.
	trap '' INT TERM HUP
	set +e
	exec 1>&"$STDOUT" 2>&"$STDERR"
	if [ "$rc" != 0 ] && [ -z "$FAILED" ]; then
		FAILED="\"$STEP\": ${LAST_ERR:-exit status $rc}"
		printf '\n\033[1;31mdemo: FAILED in %s\033[0m\n' "$FAILED" >&2
		if agent_gone; then
			show "the agent (zerohopd) is gone; its log" "$ZH_TMP/agent.log" >&2
		fi
	fi
	if [ $LIB = 1 ]; then
		say "cleaning up (CNI DEL for every pod, namespaces, pins)"
		stop_bg
		for ns in $(our_netns); do ns_empty "$ns"; done
		zh_cleanup
		left=$(leftovers | paste -sd ' ' -)
		if [ -n "$left" ]; then
			echo "demo: could not remove: $left" >&2
			[ "$rc" != 0 ] || rc=1
		fi
	fi
	if [ $LOCKED = 1 ]; then rm -f "$LOCK"; fi
	# The verdict last, where it is seen; the details are above.
	if [ -n "$FAILED" ]; then
		printf 'demo: %s in %s\n' "$VERDICT" "$FAILED" >&2
	fi
	exit "$rc"
}

# proc_start PID: when the process started (clock ticks after boot, field
# 22 of its stat, after the command name, which may hold anything). With
# the pid, it names one process, however pids are reused later.
proc_start() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }

# One run per prefix: the pid file says which run owns the names. A second
# run would take the first one's namespaces for leftovers and remove them.
claim() { (set -C && echo "$$ $(proc_start $$)" >"$LOCK") 2>/dev/null; }
if ! claim; then
	other="" other_start=""
	read -r other other_start <"$LOCK" || true
	if [ -n "$other" ] && [ "$(proc_start "$other")" = "$other_start" ]; then
		echo "demo: a demo with prefix $PREFIX runs already (pid $other);" \
			"set ZH_DEMO_PREFIX for a second one" >&2
		exit 1
	fi
	# Its run is gone (killed): the pid file is stale.
	rm -f "$LOCK"
	if ! claim; then
		echo "demo: cannot create $LOCK" >&2
		exit 1
	fi
fi
LOCKED=1
# The terminal, for what the traps say: a signal or a failure can come
# while a function runs with its output redirected to a file.
exec {STDOUT}>&1 {STDERR}>&2
trap 'on_err $? "$BASH_COMMAND" "$LINENO"' ERR
trap on_exit EXIT
trap 'interrupted INT 130' INT
trap 'interrupted TERM 143' TERM
trap 'interrupted HUP 129' HUP

# A run killed with SIGKILL had no chance to clean up: its namespaces (the
# agent and servers still running in them), pins and temp dir are still
# here, and `ip netns add` would fail on the names with "File exists".
stale=()
for ns in $(our_netns); do
	ns_empty "$ns"
	ip netns del "$ns"
	stale+=("netns $ns")
done
if [ -e "/sys/fs/bpf/$PREFIX" ]; then
	rm -rf "/sys/fs/bpf/$PREFIX"
	stale+=("pins /sys/fs/bpf/$PREFIX")
fi
for d in /tmp/"$PREFIX".*; do
	if [ -e "$d" ]; then
		rm -rf "$d"
		stale+=("$d")
	fi
done
if [ ${#stale[@]} -gt 0 ]; then
	echo "demo: removed what an earlier run left behind: ${stale[*]}" >&2
fi

if [ $DEPS = 1 ]; then
	say "dependencies (Debian packages)"
	./scripts/deps.sh
fi
say "build"
make -j"$(nproc)" all
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

: "${O:=build}"
ZH_PREFIX=$PREFIX
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
LIB=1

# agent_ready: wait for the agent's log line that ends in "ready" (its
# objects are loaded and pinned), or stop the demo when the agent exits (it
# does, with status 1, when it cannot load them): a pod wired before it is
# ready would load the objects itself. 30 s: the verifier is slow on two cores.
agent_ready() {
	local rc=0 _
	for _ in $(seq 300); do
		if grep -qw ready "$ZH_TMP/agent.log"; then return 0; fi
		if ! kill -0 "$AGENT" 2>/dev/null; then
			wait "$AGENT" || rc=$?
			die "the agent zerohopd exited at start (status $rc)"
		fi
		sleep 0.1
	done
	die "the agent zerohopd is not ready after 30 s" \
		"its log" "$ZH_TMP/agent.log"
}

# pod_add POD CONF DATAPATH: wire the pod as a runtime would, or stop the
# demo with the plugin's answer: a CNI error is JSON on its stdout.
pod_add() {
	local pod=$1 conf=$2 dp=$3
	if ! zh_pod_add "$pod" "$conf" 2>"$ZH_TMP/$pod.stderr"; then
		die "CNI ADD of $pod ($dp) failed" \
			"the plugin's answer" "$ZH_TMP/$pod.json" \
			"its log" "$ZH_TMP/$pod.stderr"
	fi
	# Warnings of an ADD that worked still reach the terminal.
	if [ -s "$ZH_TMP/$pod.stderr" ]; then cat "$ZH_TMP/$pod.stderr" >&2; fi
}

# ping_pod LABEL LINES SRC ARGS...: ping from pod SRC, show the last LINES
# lines of its summary after LABEL; no reply at all stops the demo. -W 1:
# without it, ping waits 10 s after the last request for a path that never
# answers.
ping_pod() {
	local label=$1 lines=$2 src=$3 l
	shift 3
	if ! zh_in "$src" ping -i 0.2 -W 1 "$@" >"$ZH_TMP/ping.out" 2>&1; then
		die "ping $label (${*: -1}): no reply" "ping" "$ZH_TMP/ping.out"
	fi
	tail -n "$lines" "$ZH_TMP/ping.out" | while IFS= read -r l; do
		printf '  %s  %s\n' "$label" "$l"
	done
}

# reach LABEL SRC DST: three UDP requests from pod SRC to DST:7777 with a
# short reply timeout, or stop the demo. A measured run would wait its 1 s
# reply timeout for each of its 100 warmup and N requests: minutes on a
# path that does not answer.
reach() {
	if ! zh_in "$2" "$ZH_BIN/xdpbench" client --target "$3" \
		--count 3 --warmup 0 --timeout-ms 300 -o json >"$ZH_TMP/reach.json" 2>&1; then
		die "UDP $1 ($3:7777): no reply" "xdpbench client" "$ZH_TMP/reach.json"
	fi
}

# udp LABEL SRC DST GUARD OUT ARGS...: a measured xdpbench run from pod SRC
# to DST, its JSON in OUT. reach first: GUARD (seconds) only bounds a path
# that stops answering midway; a live one needs a fraction of it.
udp() {
	local label=$1 src=$2 dst=$3 guard=$4 out=$5 rc=0
	shift 5
	zh_in "$src" timeout "$guard" "$ZH_BIN/xdpbench" client \
		--target "$dst" "$@" -o json >"$out" 2>"$ZH_TMP/udp.err" || rc=$?
	case $rc in
	0) ;;
	124) die "UDP $label ($dst:7777): replies stopped, no end after $guard s" \
		"xdpbench client" "$out" "its log" "$ZH_TMP/udp.err" ;;
	*) die "UDP $label ($dst:7777): xdpbench client failed (status $rc)" \
		"xdpbench client" "$out" "its log" "$ZH_TMP/udp.err" ;;
	esac
}

say "node: a network namespace with iptables FORWARD DROP and ip_forward=0"
zh_node_up
zh_node sysctl -qw net.ipv4.ip_forward=0
zh_node iptables -I FORWARD -j DROP
# Probes (xdpbench's datagrams) and 1 in 100 packets timed per hop.
zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" --sample 100 2>"$ZH_TMP/agent.log"
AGENT=${ZH_PIDS[-1]}
agent_ready
sed 's/^/  /' "$ZH_TMP/agent.log"

say "five pods through the CNI plugin (tc: pod-a pod-b, xdp: pod-c pod-d, AF_XDP: pod-e)"
zh_conf "$ZH_TMP/tc.conf" demo-tc tc 10.81.0.0/24 fd00:81::/64
zh_conf "$ZH_TMP/xdp.conf" demo-xdp xdp 10.82.0.0/24 fd00:82::/64
zh_conf "$ZH_TMP/afxdp.conf" demo-afxdp tc 10.83.0.0/24 fd00:83::/64
jq '.cniVersion = "1.1.0" | . + {afxdp: {steer: [{proto: "udp", port: 7777}]}}' \
	"$ZH_TMP/afxdp.conf" >"$ZH_TMP/afxdp.json.conf"
for p in a b; do pod_add "$ZH_PREFIX-pod-$p" "$ZH_TMP/tc.conf" tc; done
for p in c d; do pod_add "$ZH_PREFIX-pod-$p" "$ZH_TMP/xdp.conf" xdp; done
pod_add "$ZH_PREFIX-pod-e" "$ZH_TMP/afxdp.json.conf" "tc with AF_XDP"
A="$ZH_PREFIX-pod-a" B="$ZH_PREFIX-pod-b" C="$ZH_PREFIX-pod-c" D="$ZH_PREFIX-pod-d"
E="$ZH_PREFIX-pod-e"
echo "  ADD result of pod-a:"
jq -c '{interfaces, ips, routes}' "$ZH_TMP/$A.json" | sed 's/^/    /'
echo "  ADD result of pod-e (AF_XDP: the handoff socket in interfaces[].socketPath):"
jq -c '{interfaces}' "$ZH_TMP/$E.json" | sed 's/^/    /'

say "pod-e: a UDP echo on AF_XDP, run as nobody with CAP_NET_RAW only"
chmod 0711 "$ZH_TMP" # the socket lives in there: let nobody through
zh_bg "$E" setpriv --reuid 65534 --regid 65534 --clear-groups \
	--inh-caps=-all,+net_raw --ambient-caps=-all,+net_raw \
	--bounding-set=-all,+net_raw "$ZH_BIN/zh-xsk-echo" --spin \
	>"$ZH_TMP/echo.out" 2>"$ZH_TMP/echo.err"
ECHO=${ZH_PIDS[-1]}
# It prints a line once its socket is open; it exits when it cannot get one.
for _ in $(seq 50); do
	if [ -s "$ZH_TMP/echo.out" ] || ! kill -0 "$ECHO" 2>/dev/null; then break; fi
	sleep 0.1
done
if [ ! -s "$ZH_TMP/echo.out" ]; then
	die "the AF_XDP echo (zh-xsk-echo) in pod-e did not start" \
		"its stderr" "$ZH_TMP/echo.err" "the agent's log" "$ZH_TMP/agent.log"
fi
sed 's/^/  /' "$ZH_TMP/echo.out" "$ZH_TMP/echo.err"
# The agent may not have logged the handoff yet: nothing to stop for.
{ grep 'xsk:' "$ZH_TMP/agent.log" || true; } | sed 's/^/  /'
"$ZH_BIN/zerohopctl" endpoints | sed 's/^/  /'

say "traffic"
B4=$(zh_pod_ip "$B") D4=$(zh_pod_ip "$D") B6=$(zh_pod_ip "$B" 6) E4=$(zh_pod_ip "$E")
before=$(zh_stat redirect)
ping_pod "pod-a -> pod-b" 2 "$A" -c 3 "$B4"
ping_pod "pod-a -> pod-b (IPv6)" 1 "$A" -6 -c 3 "$B6"
ping_pod "pod-c -> pod-d (xdp)" 1 "$C" -c 3 "$D4"
zh_in "$B" timeout 5 socat -T 3 TCP-LISTEN:8080,reuseaddr SYSTEM:'echo "hello from pod-b over TCP"' &
srv=$!
ZH_PIDS+=("$srv") # cleanup ends it if no client came
sleep 0.3
# connect-timeout: a SYN without an answer would be retried for minutes.
tcp=$(zh_in "$A" socat -T 3 - "TCP:$B4:8080,connect-timeout=3" </dev/null 2>"$ZH_TMP/tcp.err") ||
	die "TCP pod-a -> pod-b ($B4:8080): no connection" "socat" "$ZH_TMP/tcp.err"
[ -n "$tcp" ] || die "TCP pod-a -> pod-b ($B4:8080): no answer" "socat" "$ZH_TMP/tcp.err"
echo "  TCP pod-a -> pod-b:8080 answered: $tcp"
wait "$srv" || die "the TCP server in pod-b failed (status $?)"
unset 'ZH_PIDS[-1]' # gone: its pid may be another process's by the end
zh_bg "$B" "$ZH_BIN/xdpbench" server --port 7777 2>"$ZH_TMP/server-b.err"
zh_bg "$D" "$ZH_BIN/xdpbench" server --port 7777 2>"$ZH_TMP/server-d.err"
zh_bg "$ZH_NODE" "$ZH_BIN/xdpbench" server --bind 10.200.0.1 --port 7777 \
	2>"$ZH_TMP/server-node.err"
sleep 0.3
reach "pod-a -> pod-b" "$A" "$B4"
udp "pod-a -> pod-b" "$A" "$B4" 15 "$ZH_TMP/udp-a-b.json" --count 200 --label udp-a-b
jq -r '"  UDP pod-a -> pod-b: \(.count) requests answered, \(.lost) lost"' "$ZH_TMP/udp-a-b.json"
reach "pod-a -> pod-e (AF_XDP)" "$A" "$E4"
udp "pod-a -> pod-e (AF_XDP)" "$A" "$E4" 15 "$ZH_TMP/udp-a-e.json" --count 200 --label udp-a-e
jq -r '"  UDP pod-a -> pod-e:7777 (AF_XDP): \(.count) requests answered, \(.lost) lost"' "$ZH_TMP/udp-a-e.json"
ping_pod "pod-a -> pod-e ping (its kernel stack)" 1 "$A" -c 2 "$E4"

say "a Service: ClusterIP 10.96.0.10:7777/udp over pod-b (tc) and pod-d (xdp), in BPF"
"$ZH_BIN/zerohopctl" service add --vip 10.96.0.10 --port 7777 --proto udp \
	--backend "$B4:7777" --backend "$D4:7777" >/dev/null
"$ZH_BIN/zerohopctl" service list | sed 's/^/  /'
reach "pod-a -> Service 10.96.0.10" "$A" 10.96.0.10
# The probe's flow out of the way: the count below is of the measured one.
"$ZH_BIN/zerohopctl" conntrack flush >/dev/null
udp "pod-a -> Service 10.96.0.10" "$A" 10.96.0.10 15 "$ZH_TMP/udp-svc.json" --count 200 --label svc
jq -r '"  UDP pod-a -> 10.96.0.10:7777: \(.count) requests answered, \(.lost) lost"' "$ZH_TMP/udp-svc.json"
echo "  conntrack entries (both directions of the flow): $("$ZH_BIN/zerohopctl" conntrack list -o json | jq length)"
echo "  node NAT rules: $(zh_node iptables -t nat -S | grep -c -- '-A ') (kube-proxy would have a chain per Service)"

say "the path: BPF redirect, not the bridge, routing or netfilter"
echo "  fast-path redirects during the traffic above: $(($(zh_stat redirect) - before))"
echo "  node FORWARD chain (DROP everything):"
zh_node iptables -vnL FORWARD | sed -n '3p' | sed 's/^/    /'
echo "  node net.ipv4.ip_forward = $(zh_node sysctl -n net.ipv4.ip_forward)"
"$ZH_BIN/zerohopctl" stats | sed 's/^/  /'

say "RTT, 64-byte UDP request/response, ${DURATION}s per path, interleaved"
# rtt_path PATH: sets src and dst of that path.
rtt_path() {
	case $1 in
	zerohop-tc) src=$A dst=$B4 ;;
	zerohop-xdp) src=$C dst=$D4 ;;
	to-afxdp) src=$A dst=$E4 ;;
	pod-to-node) src=$A dst=10.200.0.1 ;;
	esac
}
# Before the reset: the probes are not part of the table.
for path in zerohop-tc zerohop-xdp to-afxdp pod-to-node; do
	rtt_path "$path"
	reach "$path" "$src" "$dst"
done
"$ZH_BIN/zerohopctl" latency --reset >/dev/null
half=$(awk "BEGIN{print $DURATION/2}")
for r in 1 2; do
	for path in zerohop-tc zerohop-xdp to-afxdp pod-to-node; do
		rtt_path "$path"
		udp "$path" "$src" "$dst" "$(awk "BEGIN{print $half + 15}")" /dev/null \
			--duration "$half" --samples "$ZH_TMP/$path.$r"
	done
done
printf '  %-34s %9s %8s %8s %8s %8s\n' path samples p50_us p90_us p99_us max_us
for path in zerohop-tc zerohop-xdp to-afxdp pod-to-node; do
	case $path in
	zerohop-tc) what="pod -> pod, tc bpf_redirect_peer" ;;
	zerohop-xdp) what="pod -> pod, XDP_REDIRECT" ;;
	to-afxdp) what="pod -> AF_XDP pod (zh-xsk-echo)" ;;
	pod-to-node) what="pod -> node, kernel path" ;;
	esac
	"$ZH_BIN/xdpbench" stats -o json "$ZH_TMP/$path".* |
		jq -r --arg w "$what" '[$w, .count, .p50_us, .p90_us, .p99_us, .max_us] |
			@tsv' | awk -F'\t' '{printf "  %-34s %9d %8.2f %8.2f %8.2f %8.2f\n", $1, $2, $3, $4, $5, $6}'
done

say "where the time goes: per-hop latency recorded by the datapath (zerohopctl latency)"
echo "  egress: pod -> its host veth; deliver: -> the destination pod after our"
echo "  redirect; kernel: -> a pod after the kernel's path (here node -> pod);"
echo "  afxdp: -> into pod-e's AF_XDP socket"
"$ZH_BIN/zerohopctl" latency | sed 's/^/  /'
echo
echo "  For the full comparison (veth, bridge, kube-proxy's iptables and nftables rules, zerohop): make bench"
# on_exit says "cleaning up" and does it.
