#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Churn with faults: several workers add and delete pods at once through
# the real plugin and host-local, as a runtime does (the netns made first,
# DEL after every ADD that failed or was cut short, DEL again), while
# faults hit every step:
#   - the plugin SIGKILLed at a random moment of ADD, of DEL, and while
#     its IPAM plugin runs; the runtime then sends DEL, which must clean up
#     whatever the killed command left;
#   - IPAM failing before and after it reserved an address, and hanging
#     (ZEROHOP_IPAM_TIMEOUT);
#   - the pod's netns deleted while ADD runs;
#   - zerohopd SIGKILLed and restarted every few seconds;
#   - pods the runtime forgets (no DEL), removed by CNI GC (1.1.0) with
#     the runtime's valid attachments, run every few seconds meanwhile;
#   - AF_XDP pods whose socket the agent takes, deleted with the socket
#     still held or after it is closed.
# Pods that come up must forward (to a pod of another network and to it
# through a Service), a failed ADD must leave nothing even before the
# runtime's DEL, and every DEL must succeed at the first try. Afterwards
# nothing may be left: host veths, host-local leases, zh_ifaces and
# zh_endpoints entries, AF_XDP registrations and steering rules, zh_ct
# entries of deleted pods, pins beyond the agent's, processes.
#
# The run prints ADD and DEL p50/p99 under churn; it asserts behaviour,
# never timings. Knobs: ZH_CHURN_CYCLES (default 160; `make soak` runs
# 1000), ZH_CHURN_WORKERS (4), ZH_CHURN_SEED (random, printed: the same
# seed picks the same cycles and delays, the machine's timing aside).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhc$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require jq socat ping flock nsenter bpftool curl

CYCLES=${ZH_CHURN_CYCLES:-160}
WORKERS=${ZH_CHURN_WORKERS:-4}
SEED=${ZH_CHURN_SEED:-$RANDOM}
for v in CYCLES WORKERS SEED; do
	[[ ${!v} =~ ^[0-9]+$ ]] || {
		echo "$ZH_TEST: ZH_CHURN_$v must be a number, not '${!v}'" >&2
		exit 1
	}
done
[ "$WORKERS" -ge 1 ] || WORKERS=1

NODE_NS=/var/run/netns/$ZH_NODE
# The plugins run from this run's CNI_PATH directory, so that every
# process of theirs names $ZH_TMP (zh_run_pids finds them).
PLUGIN="$ZH_CNI_DIR/zerohop"
ln -s /usr/lib/cni/host-local "$ZH_CNI_DIR/host-local"
ln -s "$PWD/tests/integration/plugins/ipam-fault" "$ZH_CNI_DIR/"
ln -s "$PWD/tests/integration/plugins/ipam-hang" "$ZH_CNI_DIR/"
CNI_PATH_RUN=$ZH_CNI_DIR
ECHO="$ZH_BIN/zh-xsk-echo"
SERVER="${ZH_PREFIX}-server"
VIP=10.96.0.60
VPORT=7000
MPORT=9464
mkdir -p "$ZH_TMP/o" "$ZH_TMP/book/zhc" "$ZH_TMP/book/zhcx" "$ZH_TMP/pods"
: >"$ZH_TMP/fail.log"

# --- the networks ------------------------------------------------------------
# Small pools, so that addresses come round again within a run: a stale
# entry or reservation of a deleted pod would meet the next pod given
# its address.
conf11() { # FILE NAME V4 [V6] [JQ]: a 1.1.0 config (GC needs one)
	zh_conf "$1.tmp" "$2" tc "$3" "${4:-}"
	jq "${5:-.} | .cniVersion = \"1.1.0\"" "$1.tmp" >"$1"
}
conf11 "$ZH_TMP/zhc.conf" zhc 10.97.0.0/26 fd00:97::/122
conf11 "$ZH_TMP/fault.conf" zhc 10.97.0.0/26 fd00:97::/122 '.ipam.type = "ipam-fault"'
conf11 "$ZH_TMP/hang.conf" zhc 10.97.0.0/26 fd00:97::/122 '.ipam.type = "ipam-hang"'
conf11 "$ZH_TMP/zhcx.conf" zhcx 10.97.1.0/27 "" \
	'. + {afxdp: {steer: [{proto: "udp", port: 9000}]}}'
conf11 "$ZH_TMP/zhcs.conf" zhcs 10.97.2.0/28

# --- helpers (the workers run these in the background) ------------------------
# fail WHAT: one broken invariant, kept for the end (one line each).
fail() {
	printf '%s\n' "cycle ${CYC:-?} ${KIND:-?} ${POD:-}: $(printf '%s' "$*" | tr '\n' ' ')" \
		>>"$ZH_TMP/fail.log"
}
# note WHAT: one outcome to count at the end.
note() { echo "$*" >>"$ZH_TMP/notes"; }
us_now() { local t=$EPOCHREALTIME; echo "${t/./}"; }
# sleep_ms N: sleep N milliseconds.
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# host_if ID: the host veth's name, as zh_host_ifname() makes it (FNV-1a
# of "ID/eth0", 48 bits): a killed ADD leaves no result to read it from.
host_if() {
	local s="$1/eth0" h=$((0xcbf29ce484222325)) i c
	for ((i = 0; i < ${#s}; i++)); do
		printf -v c '%d' "'${s:i:1}"
		h=$(((h ^ c) * 0x100000001b3))
	done
	printf 'zh%012x' $((h & 0xffffffffffff))
}

# cni CMD CONF [VAR=VALUE...]: the plugin for POD as a runtime runs it, in
# the node; stdout in $ZH_TMP/o/POD.CMD; returns its exit status.
cni() {
	local cmd=$1 conf=$2
	shift 2
	env "$@" CNI_COMMAND="$cmd" CNI_CONTAINERID="$ID" CNI_NETNS="/var/run/netns/$POD" \
		CNI_IFNAME=eth0 CNI_PATH="$CNI_PATH_RUN" \
		timeout -s KILL 60 nsenter --net="$NODE_NS" "$PLUGIN" <"$conf" \
		>"$ZH_TMP/o/$POD.$cmd" 2>>"$ZH_TMP/o/$POD.err"
}
# cni_bg CMD CONF [VAR=VALUE...]: the same in the background, its pid (the
# plugin's own: env and nsenter exec it) in CNI_PID.
cni_bg() {
	local cmd=$1 conf=$2
	shift 2
	env "$@" CNI_COMMAND="$cmd" CNI_CONTAINERID="$ID" CNI_NETNS="/var/run/netns/$POD" \
		CNI_IFNAME=eth0 CNI_PATH="$CNI_PATH_RUN" \
		nsenter --net="$NODE_NS" "$PLUGIN" <"$conf" \
		>"$ZH_TMP/o/$POD.$cmd" 2>>"$ZH_TMP/o/$POD.err" &
	CNI_PID=$!
}
# kill_after MS: SIGKILL the plugin in CNI_PID after MS ms, unless it is
# done by then; KILLED=1 if it was still running.
kill_after() {
	local rc=0
	sleep_ms "$1"
	kill -9 "$CNI_PID" 2>/dev/null
	wait "$CNI_PID" 2>/dev/null || rc=$?
	KILLED=0
	[ "$rc" != 137 ] || KILLED=1
}
err_code() { jq -r '.code // empty' "$ZH_TMP/o/$POD.$1" 2>/dev/null; }

# add CONF [VAR=VALUE...]: ADD for POD, timed when it succeeds.
add() {
	local t0 rc=0
	t0=$(us_now)
	cni ADD "$@" || rc=$?
	[ "$rc" != 0 ] || echo $(($(us_now) - t0)) >>"$ZH_TMP/t.add"
	return "$rc"
}
# del CONF: the runtime's DEL, which must succeed at the first try (the
# first one after ADD is timed), then again (idempotent).
del() {
	local t0 rc=0
	t0=$(us_now)
	cni DEL "$1" || rc=$?
	if [ "$rc" != 0 ]; then
		fail "DEL failed (exit $rc): $(head -c 300 "$ZH_TMP/o/$POD.DEL")"
		cni DEL "$1" || fail "DEL failed again"
	else
		echo $(($(us_now) - t0)) >>"$ZH_TMP/t.del"
	fi
	cni DEL "$1" || fail "DEL again (idempotent) failed: $(head -c 300 "$ZH_TMP/o/$POD.DEL")"
}
lease_of() { grep -rlsF -- "$ID" "$ZH_TMP/ipam" || true; }
has_host_if() { ip -n "$ZH_NODE" link show "$(host_if "$ID")" >/dev/null 2>&1; }
# left_nothing WHEN: no lease and no host veth of POD.
left_nothing() {
	local l
	l=$(lease_of)
	[ -z "$l" ] || fail "$1: a lease is left: ${l//$ZH_TMP/}"
	! has_host_if || fail "$1: its host veth $(host_if "$ID") is left"
}
# failed_add_clean RC: ADD exited RC != 0 (not killed): it must have rolled
# back everything before the runtime's DEL.
failed_add_clean() {
	[ "$1" != 0 ] || return 0
	left_nothing "after a failed ADD (code $(err_code ADD)), before DEL"
}

# pod_begin NAME: the pod's netns (made, as a runtime does, before ADD),
# its ID and the runtime's book entry (the valid attachments GC gets),
# all before ADD.
pod_begin() {
	POD=$1
	ID=$(zh_ctr_id "$POD")
	NET=${2:-zhc}
	ip netns add "$POD"
	ip -n "$POD" link set lo up
	echo "$NET" >"$ZH_TMP/pods/$POD"
	printf '%s' "$ID" >"$ZH_TMP/book/$NET/$POD"
}
# pod_end: the runtime is done with POD (DEL succeeded): out of the book.
pod_end() {
	rm -f "$ZH_TMP/book/$NET/$POD" "$ZH_TMP/pods/$POD"
	ip netns del "$POD" 2>/dev/null || true
}
# ADDs hold the book's lock shared: GC takes it exclusively, so that an
# attachment being added is always in the valid list GC gets.
add_begin() { flock -s "$BOOK_FD"; }
add_end() { flock -u "$BOOK_FD"; }

pod_ip() { jq -r '[.ips[].address | select(contains("."))][0] | sub("/.*"; "")' "$ZH_TMP/o/$POD.ADD"; }
in_pod() {
	local p=$1
	shift
	nsenter --net="/var/run/netns/$p" "$@"
}
# traffic: POD reaches the server pod, and it through the Service.
traffic() {
	local got
	in_pod "$POD" ping -c 1 -W 2 -q "$SERVER_IP" >/dev/null 2>&1 ||
		fail "no ping reply from the server pod $SERVER_IP (its eth0: $(ip -n "$POD" -s -o link show eth0 | grep -o 'TX: .*' | tr -s ' \\' ' '); again: $(in_pod "$POD" ping -c 3 -i 0.3 -W 2 -q "$SERVER_IP" | grep -o '[0-9]*% packet loss'))"
	got=$(printf 'c%s' "$CYC" | in_pod "$POD" socat -T 2 - "UDP:$VIP:$VPORT" 2>/dev/null) || true
	[ "$got" = "c$CYC" ] || fail "no answer through the Service $VIP:$VPORT (got '$got')"
}

# --- the cycles ------------------------------------------------------------------
# Each is one pod's life; KIND names it in what fails.
cyc_plain() {
	local rc=0
	add_begin
	add "$CONF" || rc=$?
	add_end
	if [ "$rc" = 0 ]; then
		traffic
		if [ $((RANDOM % 4)) = 0 ]; then
			jq --slurpfile r "$ZH_TMP/o/$POD.ADD" '. + {prevResult: $r[0]}' "$CONF" \
				>"$ZH_TMP/o/$POD.check.conf"
			cni CHECK "$ZH_TMP/o/$POD.check.conf" ||
				fail "CHECK failed: $(head -c 300 "$ZH_TMP/o/$POD.CHECK")"
		fi
	else
		fail "ADD failed: $(head -c 300 "$ZH_TMP/o/$POD.ADD")"
	fi
	del "$CONF"
	left_nothing "after DEL"
}

# An AF_XDP pod: its process hands its socket to the agent (unless the
# agent is down just then), takes a datagram through it, and goes before
# or after the pod's DEL.
cyc_afxdp() {
	local rc=0 echo_pid="" ip got first=$((RANDOM % 2))
	add_begin
	add "$CONF" || rc=$?
	add_end
	if [ "$rc" = 0 ]; then
		# nsenter itself, not in_pod: $! must be the echo server's pid.
		nsenter --net="/var/run/netns/$POD" "$ECHO" --iface eth0 --socket "$ZEROHOP_XSK_SOCKET" --timeout 20 \
			>"$ZH_TMP/o/$POD.echo" 2>&1 &
		echo_pid=$!
		for _ in $(seq 30); do
			grep -q 'queue 0:' "$ZH_TMP/o/$POD.echo" 2>/dev/null && break
			kill -0 "$echo_pid" 2>/dev/null || break
			sleep 0.1
		done
		if grep -q 'queue 0:' "$ZH_TMP/o/$POD.echo"; then
			note xsk_registered
			ip=$(pod_ip)
			got=$(printf 'x%s' "$CYC" | in_pod "$SERVER" socat -T 2 - "UDP:$ip:9000" 2>/dev/null) || true
			[ "$got" = "x$CYC" ] || fail "no echo through AF_XDP from $ip:9000 (got '$got')"
		else
			note xsk_unregistered # the agent was down, most likely
		fi
		if [ "$first" = 0 ]; then
			kill -9 "$echo_pid" 2>/dev/null
			wait "$echo_pid" 2>/dev/null
		fi
	else
		fail "ADD failed: $(head -c 300 "$ZH_TMP/o/$POD.ADD")"
	fi
	del "$CONF"
	if [ -n "$echo_pid" ] && [ "$first" = 1 ]; then
		kill -9 "$echo_pid" 2>/dev/null
		wait "$echo_pid" 2>/dev/null
	fi
	left_nothing "after DEL"
}

# ADD killed at a random moment (0-59 ms: it takes 30-100 here).
cyc_kill_add() {
	add_begin
	cni_bg ADD "$CONF"
	kill_after $((RANDOM % 60))
	add_end
	note "kill_add_$KILLED"
	del "$CONF"
	left_nothing "after DEL of a killed ADD"
}

# DEL killed at a random moment, then the runtime's DEL again.
cyc_kill_del() {
	local rc=0
	add_begin
	add "$CONF" || rc=$?
	add_end
	[ "$rc" = 0 ] || fail "ADD failed: $(head -c 300 "$ZH_TMP/o/$POD.ADD")"
	cni_bg DEL "$CONF"
	kill_after $((RANDOM % 60))
	note "kill_del_$KILLED"
	del "$CONF"
	left_nothing "after DEL of a killed DEL"
}

# ADD killed while its IPAM plugin waits (queued on its store): the IPAM
# plugin must go with it, or it reserves an address after the runtime's
# DEL is done. Checked once the plugin would have been done.
cyc_kill_ipam() {
	add_begin
	cni_bg ADD "$ZH_TMP/fault.conf" ZH_IPAM_FAULT=slow ZH_IPAM_SLOW=0.3
	kill_after $((50 + RANDOM % 150))
	add_end
	note "kill_ipam_$KILLED"
	del "$ZH_TMP/fault.conf"
	sleep 0.4
	left_nothing "after DEL of an ADD killed while IPAM ran"
}

# IPAM fails, before or after it reserved an address: ADD fails with its
# error and gives back what IPAM reserved (the spec: DEL the delegate).
cyc_ipam_fail() {
	local rc=0 how=fail
	[ $((RANDOM % 2)) = 0 ] || how=after
	KIND+="/$how"
	add_begin
	add "$ZH_TMP/fault.conf" ZH_IPAM_FAULT=$how || rc=$?
	add_end
	if [ "$rc" = 0 ]; then
		fail "ADD succeeded although IPAM failed"
	else
		[ "$(err_code ADD)" = 11 ] || fail "ADD did not pass on IPAM's error 11: $(head -c 300 "$ZH_TMP/o/$POD.ADD")"
		failed_add_clean "$rc"
	fi
	del "$ZH_TMP/fault.conf"
	left_nothing "after DEL"
}

# IPAM hangs: ADD gives up after ZEROHOP_IPAM_TIMEOUT (1 s) with error 11.
cyc_ipam_hang() {
	local rc=0 t0
	t0=$SECONDS
	add_begin
	add "$ZH_TMP/hang.conf" ZEROHOP_IPAM_TIMEOUT=1 || rc=$?
	add_end
	if [ "$rc" = 0 ]; then
		fail "ADD succeeded although IPAM hung"
	else
		[ "$(err_code ADD)" = 11 ] || fail "a hung IPAM is not error 11: $(head -c 300 "$ZH_TMP/o/$POD.ADD")"
		[ $((SECONDS - t0)) -le 10 ] || fail "the hung ADD took $((SECONDS - t0)) s"
		failed_add_clean "$rc"
	fi
	del "$ZH_TMP/hang.conf"
	left_nothing "after DEL"
}

# The pod's netns deleted while ADD runs (0-39 ms in): ADD may fail or
# not; a failure leaves nothing, and DEL (no netns any more) succeeds.
cyc_netns_gone() {
	local rc=0
	add_begin
	cni_bg ADD "$CONF"
	sleep_ms $((RANDOM % 40))
	ip netns del "$POD"
	wait "$CNI_PID" || rc=$?
	add_end
	note "netns_gone_add_$([ "$rc" = 0 ] && echo ok || echo failed)"
	failed_add_clean "$rc"
	del "$CONF"
	left_nothing "after DEL"
}

# The runtime forgets the pod (no DEL ever): GC, which gets the runtime's
# valid attachments, is what removes it.
cyc_forget() {
	local rc=0
	add_begin
	add "$CONF" || rc=$?
	add_end
	[ "$rc" = 0 ] || fail "ADD failed: $(head -c 300 "$ZH_TMP/o/$POD.ADD")"
	rm -f "$ZH_TMP/book/$NET/$POD"
	echo "$POD $ID" >>"$ZH_TMP/forgotten"
}

# worker W: cycles W, W+WORKERS, ... each of a kind picked at random.
worker() {
	set +e
	local w=$1 r name
	RANDOM=$((SEED * 31 + w))
	exec {BOOK_FD}>"$ZH_TMP/book.lock"
	for ((CYC = w; CYC < CYCLES; CYC += WORKERS)); do
		r=$((RANDOM % 100))
		name="${ZH_PREFIX}-$CYC"
		# One pod in eight has a containerd-length ID (zh_ctr_id).
		[ $((RANDOM % 8)) != 0 ] || name+="-long"
		if ((r < 28)); then KIND=plain
		elif ((r < 38)); then KIND=afxdp
		elif ((r < 52)); then KIND=kill_add
		elif ((r < 62)); then KIND=kill_del
		elif ((r < 67)); then KIND=kill_ipam
		elif ((r < 75)); then KIND=ipam_fail
		elif ((r < 78)); then KIND=ipam_hang
		elif ((r < 90)); then KIND=netns_gone
		elif ((r < 96)); then KIND=forget
		else KIND=plain; fi
		[ "$KIND" != afxdp ] || [ "$AFXDP" = 1 ] || KIND=plain
		# GC cannot give back the lease of an ID it keeps only as a
		# digest: a forgotten pod has a short one.
		[ "$KIND" != forget ] || name="${ZH_PREFIX}-$CYC"
		CONF="$ZH_TMP/zhc.conf"
		if [ "$KIND" = afxdp ]; then
			CONF="$ZH_TMP/zhcx.conf"
			pod_begin "$name" zhcx
		else
			pod_begin "$name" zhc
		fi
		echo "$KIND" >>"$ZH_TMP/kinds"
		"cyc_$KIND"
		[ "$KIND" = forget ] || pod_end
	done
}

# --- the agent, killed and restarted ------------------------------------------------
# agent_up N: incarnation N of zerohopd in the node, waited for; its pid in
# $ZH_TMP/agent.pid.
agent_up() {
	local log="$ZH_TMP/agent.$1.log"
	nsenter --net="$NODE_NS" "$ZH_BIN/zerohopd" -i 2 --listen "127.0.0.1:$MPORT" 2>"$log" &
	echo $! >"$ZH_TMP/agent.pid"
	# Killed by agent_chaos, not by us: no job notice.
	disown
	eventually grep -q 'ready$' "$log"
}
# gone PID: PID has exited (or is a zombie, its parent not yet told).
gone() {
	local s
	s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
	[ "$s" = Z ]
}
agent_chaos() {
	set +e
	local n=1 pid
	RANDOM=$((SEED * 31 + 997))
	while [ ! -e "$ZH_TMP/churn.done" ]; do
		sleep_ms $((1500 + RANDOM % 2500))
		[ ! -e "$ZH_TMP/churn.done" ] || break
		pid=$(cat "$ZH_TMP/agent.pid")
		kill -9 "$pid"
		until gone "$pid"; do sleep 0.02; done
		wait "$pid" 2>/dev/null
		sleep_ms $((RANDOM % 500))
		n=$((n + 1))
		agent_up "$n" || CYC=agent KIND=restart fail "zerohopd $n did not come up: $(tail -3 "$ZH_TMP/agent.$n.log")"
		note agent_killed
	done
}

# --- GC, with the runtime's book as the valid attachments ------------------------------
# gc_net NET: GC of network NET with the book's attachments as the valid
# ones; fails unless it exits 0 and prints nothing.
gc_net() {
	local net=$1 v f id rc=0
	# An entry may go while we read (its DEL done): then it is not valid.
	v=$(for f in "$ZH_TMP/book/$net"/*; do
		id=$(cat "$f" 2>/dev/null) && [ -n "$id" ] &&
			printf '{"containerID":"%s","ifname":"eth0"}\n' "$id"
	done | jq -s -c .)
	jq --argjson v "$v" '. + {"cni.dev/valid-attachments": $v}' "$ZH_TMP/$net.conf" \
		>"$ZH_TMP/gc.$net.conf"
	CNI_COMMAND=GC CNI_PATH="$CNI_PATH_RUN" timeout -s KILL 60 \
		nsenter --net="$NODE_NS" "$PLUGIN" <"$ZH_TMP/gc.$net.conf" \
		>"$ZH_TMP/gc.out" 2>>"$ZH_TMP/gc.err" || rc=$?
	[ "$rc" = 0 ] && [ ! -s "$ZH_TMP/gc.out" ] || {
		echo "GC of $net exited $rc: $(head -c 300 "$ZH_TMP/gc.out")"
		return 1
	}
}
gc_once() {
	local net
	for net in zhc zhcx; do
		gc_net "$net" >"$ZH_TMP/gc.why" || CYC=gc KIND=gc POD=$net fail "$(cat "$ZH_TMP/gc.why")"
	done
	note gc_run
}
gc_loop() {
	set +e
	local fd
	RANDOM=$((SEED * 31 + 499))
	exec {fd}>"$ZH_TMP/book.lock"
	while [ ! -e "$ZH_TMP/churn.done" ]; do
		sleep_ms $((1000 + RANDOM % 2000))
		flock -x "$fd"
		gc_once
		flock -u "$fd"
	done
}

# --- setup ---------------------------------------------------------------------------
zh_node_up
LOOPS=()
stop_loops() {
	local p
	: >"$ZH_TMP/churn.done"
	for p in "${LOOPS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${LOOPS[@]}"; do wait "$p" 2>/dev/null || true; done
	LOOPS=()
}
# Whatever a failed or interrupted run left: the workers and loops first,
# then every process of this run (plugins, IPAM plugins, echo servers, the
# agent), then the pods the runtime still knew, with DEL.
churn_cleanup() {
	local p
	stop_loops
	kill -9 "$(cat "$ZH_TMP/agent.pid" 2>/dev/null)" 2>/dev/null
	for p in $(zh_run_pids); do kill -9 "$p" 2>/dev/null; done
	for p in "$ZH_TMP"/pods/*; do
		[ -e "$p" ] || continue
		POD=${p##*/} ID=$(zh_ctr_id "${p##*/}")
		cni DEL "$ZH_TMP/$(cat "$p").conf" 2>/dev/null
	done
}
zh_defer churn_cleanup

setup() {
	local n
	check "zerohopd comes up in the node" agent_up 1
	# shellcheck disable=SC2034 # read in leaks(), in an eval
	PINS=$(ls "$ZH_PIN_DIR")
	AFXDP=0
	"$ZH_BIN/zerohopctl" features -o json |
		jq -e '.features[] | select(.name == "afxdp") | .present' >/dev/null && AFXDP=1
	[ "$AFXDP" = 1 ] || echo "  note $CASE: no AF_XDP on this kernel: no AF_XDP pods in the churn"
	check "the server pod (network zhcs) comes up" zh_pod_add "$SERVER" "$ZH_TMP/zhcs.conf"
	SERVER_IP=$(zh_pod_ip "$SERVER")
	zh_bg "$SERVER" socat UDP4-RECVFROM:$VPORT,fork SYSTEM:cat
	check "a Service $VIP:$VPORT/udp with the server pod behind it" \
		"$ZH_BIN/zerohopctl" service add --vip "$VIP" --port "$VPORT" --proto udp \
		--backend "$SERVER_IP:$VPORT"
	XDP_PINS0=$(find /sys/fs/bpf/xdp -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	n=$(find "$ZH_PIN_DIR" -mindepth 1 | wc -l)
	echo "  note $CASE: seed $SEED, $CYCLES cycles, $WORKERS workers; $n pins in $ZH_PIN_DIR"
}

churn() {
	local w pids=() t0=$SECONDS deadline
	agent_chaos &
	LOOPS+=($!)
	gc_loop &
	LOOPS+=($!)
	for ((w = 0; w < WORKERS; w++)); do
		worker "$w" &
		pids+=($!)
	done
	# An interrupted run stops them too (stop_loops).
	LOOPS+=("${pids[@]}")
	# A hung worker is a finding, not a hung test: a cycle takes well
	# under 5 s even with a hung IPAM plugin.
	deadline=$((SECONDS + 120 + CYCLES * 5 / WORKERS))
	for w in "${pids[@]}"; do
		while kill -0 "$w" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
	done
	local hung=0
	for w in "${pids[@]}"; do
		kill -0 "$w" 2>/dev/null && hung=$((hung + 1)) && kill "$w"
		wait "$w" 2>/dev/null || true
	done
	check "every worker finished its cycles ($((SECONDS - t0)) s)" test "$hung" = 0
	stop_loops
	# The last agent may have been killed just now: one is running.
	if ! kill -0 "$(cat "$ZH_TMP/agent.pid")" 2>/dev/null || gone "$(cat "$ZH_TMP/agent.pid")"; then
		agent_up final
	fi
	CHURN_S=$((SECONDS - t0))
}

# --- what the cycles saw ----------------------------------------------------------------
count() { grep -cx -- "$1" "$ZH_TMP/$2" 2>/dev/null || true; }
# pct FILE P: the P-th percentile (nearest rank) of FILE's microseconds, in ms.
pct() {
	sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END {
		if (!NR) { print "-"; exit }
		r = int((p * NR + 99) / 100); if (r < 1) r = 1
		printf "%.1f", v[r] / 1000 }'
}
invariants() {
	local k line=""
	for k in plain afxdp kill_add kill_del kill_ipam ipam_fail ipam_hang netns_gone forget; do
		line+=" $k $(count "$k" kinds)"
	done
	echo "  note $CASE: $(wc -l <"$ZH_TMP/kinds") cycles in $CHURN_S s:$line"
	echo "  note $CASE: ADD killed $(count kill_add_1 notes) times (done before the kill $(count kill_add_0 notes)), DEL killed $(count kill_del_1 notes) ($(count kill_del_0 notes)), ADD killed in IPAM $(count kill_ipam_1 notes) ($(count kill_ipam_0 notes)); netns gone mid-ADD: ADD failed $(count netns_gone_add_failed notes), succeeded $(count netns_gone_add_ok notes); zerohopd SIGKILLed $(count agent_killed notes) times; GC ran $(count gc_run notes) times; AF_XDP sockets registered $(count xsk_registered notes) (agent down: $(count xsk_unregistered notes))"
	check "every cycle kept its invariants ($(wc -l <"$ZH_TMP/fail.log") broken)" \
		sh -c "[ ! -s '$ZH_TMP/fail.log' ] || { sort '$ZH_TMP/fail.log' | head -n 15; false; }"
	if [ "$AFXDP" = 1 ] && [ "$(count afxdp kinds)" -gt 2 ]; then
		check "AF_XDP sockets were registered during the churn" \
			test "$(count xsk_registered notes)" -gt 0
	fi
}

# --- afterwards: nothing left ---------------------------------------------------------------
# The runtime's last GC (its book is empty but for nothing), then the
# forgotten pods' netns go.
forgotten_gone() {
	local p id
	check "the runtime's last GC of zhc (no valid attachment left)" gc_net zhc
	check "... and of zhcx" gc_net zhcx
	while read -r p id; do
		check_not "forgotten pod $p: GC removed its host veth" \
			ip -n "$ZH_NODE" link show "$(host_if "$id")"
		ip netns del "$p" 2>/dev/null || true
		rm -f "$ZH_TMP/pods/$p"
	done < <(cat "$ZH_TMP/forgotten" 2>/dev/null || true)
}

ct_of_churn() {
	"$ZH_BIN/zerohopctl" conntrack list -o json |
		jq -r '.[] | select([.src, .dst] | any(startswith("10.97.0.") or startswith("10.97.1.") or startswith("fd00:97::"))) |
		       "\(.dir) \(.proto) \(.src):\(.sport) -> \(.dst):\(.dport)"'
}
leases_in() { find "$ZH_TMP/ipam/$1" -type f ! -name lock ! -name 'last_reserved_ip*' 2>/dev/null; }
ep_count() { "$ZH_BIN/zerohopctl" endpoints -o json | jq length; }
map_len() { bpftool -j map dump pinned "$ZH_PIN_DIR/$1" | jq length; }
# links_but_server: every zh* host veth in the node but the server pod's.
links_but_server() {
	zh_no_links | grep -v " $(jq -r '.interfaces[0].name' "$ZH_TMP/$SERVER.json")[@:]" || true
}
# leak_counts: one line, what is left of the churned pods (the server
# pod's own entries not counted).
nlines() { grep -c . || true; }
leak_counts() {
	local regs
	regs=$(zh_node curl -sf -m 5 "127.0.0.1:$MPORT/metrics" |
		awk '/^zerohop_xsk_registrations /{print $2}')
	echo "  leaks after $(wc -l <"$ZH_TMP/kinds") cycles: host veths $(links_but_server | nlines)," \
		"leases $( (leases_in zhc; leases_in zhcx) | nlines)," \
		"zh_ifaces $(($(map_len zh_ifaces) - 1)), zh_endpoints $(($(map_len zh_endpoints) - 1))," \
		"steering rules $(map_len zh_xsk_steer), AF_XDP registrations ${regs:-?}," \
		"zh_ct entries $(ct_of_churn | nlines)," \
		"pins beyond the agent's $(comm -13 <(echo "$PINS") <(ls "$ZH_PIN_DIR") | nlines)," \
		"processes $(zh_run_pids | nlines)," \
		"netns $(ip netns list | awk '{print $1}' | grep "^${ZH_PREFIX}-" | grep -cvx -e "$ZH_NODE" -e "$SERVER" || true)"
}
leaks() {
	local l
	forgotten_gone
	leak_counts
	check "no host veth is left but the server pod's" test -z "$(links_but_server)"
	l=$(leases_in zhc; leases_in zhcx)
	check "no host-local lease is left in zhc and zhcx ($(echo "$l" | grep -c . || true))" \
		eval '[ -z "$l" ] || { for f in $l; do printf "%s: %s\n" "${f#"$ZH_TMP"/}" "$(tr "\r\n" "  " <"$f")"; done; false; }'
	check "zh_ifaces has the server pod's entry only" test "$(map_len zh_ifaces)" = 1
	check "zh_endpoints has the server pod's entry only" test "$(map_len zh_endpoints)" = 1
	check "zerohopctl endpoints lists the server pod only" test "$(ep_count)" = 1
	check "no AF_XDP steering rule is left" test "$(map_len zh_xsk_steer)" = 0
	check "zerohopd holds no AF_XDP registration" eval \
		'zh_node curl -sf -m 5 "127.0.0.1:$MPORT/metrics" | grep "^zerohop_xsk_registrations" | tee /dev/stderr | grep -qx "zerohop_xsk_registrations 0"'
	check "no zh_ct entry of a deleted pod is left" eval '[ -z "$(ct_of_churn | tee /dev/stderr)" ]'
	check "the pins are the agent's, nothing more" \
		eval '[ "$(ls "$ZH_PIN_DIR")" = "$PINS" ] && [ "$(ls "$ZEROHOP_PIN_ROOT")" = "${ZH_PIN_DIR##*/}" ]'
	check "no process of the run is left" eval \
		'[ -z "$(for p in $(zh_run_pids); do echo "$p: $(tr "\0" " " <"/proc/$p/cmdline")"; done | tee /dev/stderr)" ]'
	check "no pod netns is left but the node's and the server's" eval \
		'[ "$(ip netns list | awk "{print \$1}" | grep "^${ZH_PREFIX}-" | sort | tr "\n" " ")" = "$ZH_NODE $SERVER " ]'
	echo "  note $CASE: libxdp dispatcher pins in /sys/fs/bpf/xdp: $XDP_PINS0 before, $(find /sys/fs/bpf/xdp -mindepth 1 -maxdepth 1 2>/dev/null | wc -l) after (node-wide, not this run's alone)"
}

# The server pod goes too: everything is empty.
empty() {
	check "DEL of the server pod" zh_cni DEL "$SERVER" "$ZH_TMP/zhcs.conf"
	check "no zh* host veth is left" zh_no_links
	check "no lease is left at all" test -z "$(leases_in zhc; leases_in zhcx; leases_in zhcs)"
	check "zh_ifaces and zh_endpoints are empty" test "$(map_len zh_ifaces)/$(map_len zh_endpoints)" = 0/0
	check "zh_ct is empty" \
		eval '[ "$("$ZH_BIN/zerohopctl" conntrack list -o json | jq length)" = 0 ]'
	echo "  ADD under churn: n=$(wc -l <"$ZH_TMP/t.add") p50 $(pct "$ZH_TMP/t.add" 50) ms p99 $(pct "$ZH_TMP/t.add" 99) ms max $(pct "$ZH_TMP/t.add" 100) ms"
	echo "  DEL under churn: n=$(wc -l <"$ZH_TMP/t.del") p50 $(pct "$ZH_TMP/t.del" 50) ms p99 $(pct "$ZH_TMP/t.del" 99) ms max $(pct "$ZH_TMP/t.del" 100) ms"
}

zh_run_cases setup churn invariants leaks empty
