#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# xdpbench end to end: every path and every workload once, briefly, checked
# through the JSON; the AF_XDP path (its pod processes, its handoff agent);
# the socket-level LB paths (their own cgroups, never the root's); the
# NetworkPolicy path (it enforces: a pod it does not allow gets nothing); the
# NodePort paths (with DSR the replies do not cross node A; without
# bpf_check_mtu the DSR path fails, saying why); a plot
# checked as XML; nothing left behind (netns xb<pid>-*, /sys/fs/bpf/xb<pid>,
# the temporary directory with the handoff socket, the AF_XDP pod
# processes, the socket-LB paths' cgroups), also after a SIGINT in the
# middle of a run; bad usage exits 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhx$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require jq xmllint ip iptables-restore nft
XB=$O/xdpbench
T=$ZH_TMP
[ -x "$XB" ] || {
	echo "xdpbench: $XB not built: run make"
	exit 1
}

# run_xb OUT ERR ARGS...: xdpbench in the background (so that its pid is
# known: everything it makes is named after it); sets PID and RC.
run_xb() {
	local out=$1 err=$2
	shift 2
	"$XB" "$@" >"$out" 2>"$err" &
	PID=$!
	RC=0
	wait "$PID" || RC=$?
}

# Nothing of run PID is left: no netns, no pins, no temporary directory (the
# AF_XDP handoff socket is in there), no AF_XDP pod process.
nothing_left() {
	local pid=$1 left
	left=$(ip netns list | awk '{print $1}' | grep "^xb$pid-" || true)
	left+=$(ls -d "/sys/fs/bpf/xb$pid" "${TMPDIR:-/tmp}/xb$pid".* 2>/dev/null || true)
	left+=$(pgrep -af "xdpbench (client|server) --afxdp .*/xb$pid\." || true)
	left+=$(ls -d /sys/fs/cgroup/xb"$pid"-* /sys/fs/cgroup/unified/xb"$pid"-* 2>/dev/null || true)
	[ -z "$left" ] || {
		echo "left behind: $left"
		return 1
	}
}

# afxdp_proc: an AF_XDP pod process of run $PID is there. Between slices
# they are stopped and started again: look for a while (a moment here,
# seconds under emulation).
afxdp_proc() {
	local _
	for _ in $(seq 100); do
		pgrep -f "xdpbench (client|server) --afxdp .*/xb$PID\." >/dev/null && return 0
		sleep 0.1
	done
	return 1
}

PATHS=host,veth,bridge,kubeproxy,nftables,zerohop-tc,zerohop-xdp,zerohop-svc
WLS=udp-rr,udp-newflow,tcp-rr,tcp-crr

# --- every path, every workload ------------------------------------------------
every_path() {
	run_xb "$T/smoke.json" "$T/smoke.err" --paths "$PATHS" --workload "$WLS" \
		--rounds 1 --duration 0.2 --warmup 10 --services 50 -o json
	if [ "$RC" = 0 ]; then ok "smoke run over every path and workload exits 0"; else
		bad "smoke run over every path and workload exits 0 (exit $RC)"
		sed 's/^/#   /' "$T/smoke.err" | tail -n 30
	fi
	check "JSON: 8 paths x 4 workloads, in order" \
		jq -e '(.results | length) == 32 and
		       ([.results[].path] | unique | length) == 8 and
		       ([.results[].workload] | unique | length) == 4 and
		       .results[0].workload == "udp-rr" and .results[0].path == "host"' \
		"$T/smoke.json"
	check "JSON: no result skipped" \
		jq -e 'all(.results[]; .skipped == null)' "$T/smoke.json"
	check "JSON: every result has samples, p50 <= p90 <= p99 <= p99.9 <= max" \
		jq -e 'all(.results[]; .count > 0 and .p50_us > 0 and
		       .p50_us <= .p90_us and .p90_us <= .p99_us and
		       .p99_us <= .p999_us and .p999_us <= .max_us)' "$T/smoke.json"
	check "JSON: ratios against veth (veth's are 1)" \
		jq -e '.options.baseline == "veth" and
		       all(.results[] | select(.path == "veth"); .ratio_p50 == 1 and .ratio_p99 == 1) and
		       all(.results[]; .ratio_p50 > 0 and .ratio_p99 > 0)' "$T/smoke.json"
	check "JSON: command, kernel and options" \
		jq -e --arg k "$(uname -r)" '.kernel == $k and (.command | test("xdpbench")) and
		       .options.services == 50 and .options.size == 64 and
		       .options.rounds == 1 and .options.warmup == 10' "$T/smoke.json"
	check "the table went to stderr" \
		grep -q '^tcp-crr *zerohop-svc ' "$T/smoke.err"
	check "kubeproxy: 50 Services loaded, DNAT and masquerade verified" \
		sh -c "grep -q 'kubeproxy: loading 50 Services with iptables-restore' '$T/smoke.err' &&
		       grep -q 'kubeproxy: 10.96.0.59:80 is DNATed to the server pod' '$T/smoke.err'"
	check "nftables: the same" \
		sh -c "grep -q 'nftables: loading 50 Services with nft -f' '$T/smoke.err' &&
		       grep -q 'nftables: 10.96.0.59:80 is DNATed to the server pod' '$T/smoke.err'"
	check "zerohop-svc: 50 Services applied, balanced by zerohop (zh_ct, server's peer)" \
		sh -c "grep -q 'zerohop-svc: programming 50 Services (51 VIP:port entries) with zh_svc_apply' '$T/smoke.err' &&
		       grep -q 'zerohop-svc: zh_svc_apply took .* 5151 Maglev slots in use' '$T/smoke.err' &&
		       grep -q 'zerohop-svc: 10.96.0.59:80 is balanced to the server pod by zerohop' '$T/smoke.err'"
	check "JSON: setup of the Service paths (programming time, Maglev memory)" \
		jq -e '.setup["zerohop-svc"].services == 50 and
		       .setup["zerohop-svc"].programming_s > 0 and
		       .setup["zerohop-svc"].maglev_slots == 5151 and
		       .setup["zerohop-svc"].maglev_bytes == 41208 and
		       .setup.kubeproxy.programming_s > 0 and .setup.nftables.services == 50 and
		       (.setup | has("zerohop-tc") | not)' "$T/smoke.json"
	check "nothing left after the smoke run" nothing_left "$PID"
}

# --- zerohop-afxdp ----------------------------------------------------------------
# Both pods steer the bench's port into AF_XDP sockets handed to xdpbench's
# own agent; TCP is not the path's to carry (skipped, exit status still 0).
afxdp() {
	run_xb "$T/afxdp.json" "$T/afxdp.err" --paths zerohop-afxdp \
		--workload udp-rr,tcp-rr --rounds 1 --duration 1 -o json
	if [ "$RC" = 0 ]; then ok "zerohop-afxdp run exits 0"; else
		bad "zerohop-afxdp run exits 0 (exit $RC)"
		sed 's/^/#   /' "$T/afxdp.err" | tail -n 30
	fi
	check "zerohop-afxdp udp-rr: a row with samples" \
		jq -e '[.results[] | select(.path == "zerohop-afxdp" and .workload == "udp-rr" and
		       .skipped == null and .count > 0 and .p50_us > 0)] | length == 1' "$T/afxdp.json"
	check "zerohop-afxdp tcp-rr: skipped, saying why" \
		jq -e '.results[] | select(.path == "zerohop-afxdp" and .workload == "tcp-rr") |
		       .skipped == "AF_XDP path: UDP workloads only"' "$T/afxdp.json"
	check "the check went AF_XDP to AF_XDP (copy mode, native XDP, both pods)" \
		grep -q 'zerohop-afxdp: 10.247.0.3:7777 answered AF_XDP to AF_XDP (server eth0 queue 0, copy mode, native XDP; client eth0 queue 0, copy mode, native XDP)' \
		"$T/afxdp.err"
	check "nothing left after the zerohop-afxdp run" nothing_left "$PID"
}

# --- socket-level load balancing ------------------------------------------------
# zerohop-sock (a pod's client) and host-svc (the node's) balanced at
# connect() by the zh_sock_* programs on a cgroup of each path's own below
# the root, never the root: while it runs, nothing of ours is on the root;
# kubeproxy-host: the node's client through kube-proxy's rules.
CG_ROOT=""
for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
	if [ "$(stat -f -c %T "$d" 2>/dev/null)" = cgroup2fs ]; then
		CG_ROOT=$d
		break
	fi
done
# sock_ids CGROUP: the ids of the zh_sock_* programs on CGROUP, a JSON array.
sock_ids() {
	bpftool -j cgroup show "$1" 2>/dev/null |
		jq -sc '[.[][]? | select((.name // "") | startswith("zh_sock_")) | .id]' 2>/dev/null || echo '[]'
}
# root_clean IDS: none of the programs IDS (this run's) on the root of the
# cgroup v2 hierarchy. (Only this run's: another user of the machine may
# run an agent of its own there.) -s: bpftool prints nothing at all for a
# cgroup without programs.
root_clean() {
	[ "$(bpftool -j cgroup show "$CG_ROOT" 2>/dev/null |
		jq -s --argjson ids "$1" '[.[][]? | select(.id as $i | $ids | index($i))] | length' 2>/dev/null)" = 0 ]
}
socklb_paths() {
	[ -n "$CG_ROOT" ] || zh_case_skip "no cgroup v2 hierarchy"
	command -v bpftool >/dev/null || zh_case_skip "no bpftool"
	"$XB" --paths zerohop-tc,zerohop-sock,host-svc,kubeproxy-host,zerohop-sock-pod \
		--workload udp-rr,udp-newflow,tcp-crr --rounds 2 --duration 0.3 \
		--warmup 10 --services 50 -b zerohop-tc -o json \
		>"$T/sock.json" 2>"$T/sock.err" &
	PID=$!
	local seen=0 clean=1 hooks=8
	# zh_sock_release too where this kernel loads it (no feature bit).
	"$O/zerohopctl" features -o json | jq -e .sock_release.present >/dev/null &&
		hooks=9
	for _ in $(seq 1 600); do
		grep -q 'round 1/' "$T/sock.err" && break
		sleep 0.1
	done
	local ids
	for _ in $(seq 1 20); do
		ids=$(sock_ids "$CG_ROOT/xb$PID-zerohop-sock")
		[ "$(jq length <<<"$ids")" = "$hooks" ] && seen=1
		ids=$(jq -c --argjson h "$(sock_ids "$CG_ROOT/xb$PID-host-svc")" '. + $h' <<<"$ids")
		ids=$(jq -c --argjson h "$(sock_ids "$CG_ROOT/xb$PID-zerohop-sock-pod")" '. + $h' <<<"$ids")
		root_clean "$ids" || clean=0
		sleep 0.1
	done
	RC=0
	wait "$PID" || RC=$?
	if [ "$RC" = 0 ]; then ok "socket-LB paths run exits 0"; else
		bad "socket-LB paths run exits 0 (exit $RC)"
		sed 's/^/#   /' "$T/sock.err" | tail -n 30
	fi
	check "the $hooks hooks were on zerohop-sock's own cgroup (bpftool cgroup show)" test "$seen" = 1
	check "... and never one on the root $CG_ROOT" test "$clean" = 1
	check "zerohop-sock: balanced at connect() on its cgroup, verified" \
		grep -q "zerohop-sock: 10.96.0.59:80 is balanced to the server pod at connect() by socket-level LB on $CG_ROOT/xb$PID-zerohop-sock" "$T/sock.err"
	check "host-svc: the same from the node netns" \
		grep -q "host-svc: 10.96.0.59:80 is balanced to the server pod at connect() by socket-level LB on $CG_ROOT/xb$PID-host-svc" "$T/sock.err"
	check "kubeproxy-host: DNATed by the rules' OUTPUT hook, masqueraded" \
		grep -q 'kubeproxy-host: 10.96.0.59:80 is DNATed to the server pod and masqueraded (conntrack entry, server.s peer, KUBE-SEP rule counter)' "$T/sock.err"
	check "zerohop-sock-pod: the pod's own address under the same hooks, not translated" \
		grep -Eq "zerohop-sock-pod: 10\.253\.0\.[0-9]+:7777 is the server pod's own address, reached straight from its client under socket-level LB's hooks on $CG_ROOT/xb$PID-zerohop-sock-pod" "$T/sock.err"
	check "JSON: 5 paths x 3 workloads, every one with samples, ratios to zerohop-tc" \
		jq -e '(.results | length) == 15 and .options.baseline == "zerohop-tc" and
		       all(.results[]; .skipped == null and .count > 0 and .ratio_p50 > 0)' "$T/sock.json"
	check "nothing left after it (cgroups too)" nothing_left "$PID"
	check "this shell's process is not in a cgroup of the run" \
		sh -c "! grep -q 'xb$PID-' /proc/self/cgroup"
}

# --- zerohop-policy ------------------------------------------------------------
# zerohop-tc with NetworkPolicy on: the server pod selected by a policy
# allowing the client pod (compiled and written by zerohopd's code). The
# path proves itself before measuring: the client's flow tracked in
# zh_pol_ct, a third pod the policy does not allow getting no reply (each
# request counted as drop_policy_ingress); then both paths interleaved.
policy_path() {
	run_xb "$T/pol.json" "$T/pol.err" --paths zerohop-tc,zerohop-policy \
		--workload udp-rr,udp-newflow,tcp-rr --rounds 2 --duration 0.2 \
		--warmup 10 -b zerohop-tc -o json
	if [ "$RC" = 0 ]; then ok "zerohop-policy run exits 0"; else
		bad "zerohop-policy run exits 0 (exit $RC)"
		sed 's/^/#   /' "$T/pol.err" | tail -n 30
	fi
	check "the policy compiled and written: 2 identities, 1 class, 2 cells" \
		grep -q 'zerohop-policy: NetworkPolicy xdpbench/server-from-client compiled and written by zerohopd.s code: 2 identities, 1 classes, 2 cells' "$T/pol.err"
	check "the client's flow judged and tracked; the other pod denied, counted" \
		grep -Eq 'zerohop-policy: 10\.252\.0\.[0-9]+:7777 is judged by NetworkPolicy: the client.s flow allowed and tracked \([1-9][0-9]* zh_pol_ct entries\), a pod the policy does not allow got none of 5 replies \(drop_policy_ingress \+[5-9]' "$T/pol.err"
	check "JSON: 2 paths x 3 workloads with samples, ratios to zerohop-tc" \
		jq -e '(.results | length) == 6 and .options.baseline == "zerohop-tc" and
		       all(.results[]; .skipped == null and .count > 0 and .ratio_p50 > 0) and
		       ([.results[] | select(.path == "zerohop-policy")] | length) == 3' "$T/pol.json"
	check "JSON: each round's p50 ratio, 2 rounds; the baseline's all 1" \
		jq -e 'all(.results[]; (.ratio_p50_rounds | length) == 2 and
		           all(.ratio_p50_rounds[]; . > 0)) and
		       all(.results[] | select(.path == "zerohop-tc"); .ratio_p50_rounds == [1, 1])' "$T/pol.json"
	# (a round stalled on a busy machine has a ratio of 10 and more)
	check "table: the spread of those ratios on every row" \
		sh -c "grep -Eq '^udp-rr +zerohop-policy .* [0-9]+\.[0-9]{3}-[0-9]+\.[0-9]{3}\$' '$T/pol.err' ||
		       { grep '^udp-rr' '$T/pol.err'; false; }"
	check "nothing left after it" nothing_left "$PID"
}

# --- NodePort to another node, zh_ct sized by --conntrack -------------------------
# kube-proxy's iptables, zerohop's uplink program (SNAT) and zerohop in
# DSR mode, interleaved, every workload; each node's zh_ct made with the
# size asked for (seen on the pins while the run measures). While round 1
# runs, each zerohop path's node A uplink and client are counted from
# outside: through SNAT node A receives the requests and the replies (about
# two packets per packet the client receives), with DSR the requests only
# (about one): the replies leave node B straight to the client.
nodeport_paths() {
	local max="" ct a b f _ r0 r1 ratio=() p
	local dsr=zerohop-nodeport-dsr
	measuring np --paths kubeproxy-nodeport,zerohop-nodeport,$dsr \
		--workload udp-rr,tcp-rr,udp-newflow,tcp-crr,udp-crr \
		--rounds 2 --duration 0.3 --warmup 10 --conntrack 16384 \
		-b kubeproxy-nodeport -o json
	# node A's uplink and the client's eth0 (received packets) of both
	# zerohop paths, at the start and at the end of round 1
	np_rx() {
		local p n
		for p in zerohop-nodeport $dsr; do
			for n in node a; do
				ip -n "xb$PID-$p-$n" -s -j link show eth0 2>/dev/null |
					jq -r '.[0].stats64.rx.packets // "x"' || echo x
			done
		done | xargs
	}
	r0=$(np_rx)
	for _ in $(seq 1 600); do
		grep -q 'round 2/' "$T/np.err" && break
		sleep 0.1
	done
	r1=$(np_rx)
	ct=()
	for _ in $(seq 1 50); do
		ct=()
		for f in /sys/fs/bpf/xb"$PID"/{nodeport,nodeport-dsr-a,nodeport-dsr-b}/v*/zh_ct; do
			[ -e "$f" ] && ct+=("$f")
		done
		[ ${#ct[@]} = 3 ] && break
		sleep 0.1
	done
	max=$(for f in "${ct[@]}"; do
		bpftool -j map show pinned "$f" | jq .max_entries
	done | xargs)
	RC=0
	wait "$PID" || RC=$?
	if [ "$RC" = 0 ]; then ok "NodePort paths run exits 0"; else
		bad "NodePort paths run exits 0 (exit $RC)"
		sed 's/^/#   /' "$T/np.err" | tail -n 30
	fi
	check "each node's zh_ct (zerohop-nodeport's A, DSR's A and B) has the 16384 entries --conntrack asked for (got '$max')" \
		test "$max" = "16384 16384 16384"
	check "zerohop-nodeport verified: SNATed by node A's BPF, answered by node B's pod" \
		grep -q 'zerohop-nodeport: .* node A' "$T/np.err"
	check "$dsr verified: the pod sees the client, no SNAT entry on node A, node B's DSR entry, node A's uplink saw no reply" \
		grep -q "$dsr: node A's 192.168.90.1:30080 is DNATed to the pod on node B, which sees the client; the replies leave node B straight to the client" "$T/np.err"
	# node A's received packets per packet the client received, round 1
	read -ra a <<<"$r0"
	read -ra b <<<"$r1"
	for p in 0 2; do
		if [[ ${#a[@]} = 4 && ${#b[@]} = 4 && ${a[p]}${a[p + 1]}${b[p]}${b[p + 1]} =~ ^[0-9]+$ ]] &&
			((b[p + 1] - a[p + 1] >= 100)); then
			ratio+=("$(((b[p] - a[p]) * 100 / (b[p + 1] - a[p + 1])))")
		else
			ratio+=(x)
		fi
	done
	echo "# round 1, node A's uplink received per 100 packets the client received: zerohop-nodeport ${ratio[0]}, $dsr ${ratio[1]} (counters '$r0' -> '$r1')"
	check "zerohop-nodeport: the replies cross node A (its uplink received >= 1.5 packets per client packet: ${ratio[0]}/100)" \
		test "${ratio[0]}" != x -a "${ratio[0]}" -ge 150
	check "$dsr: the replies do not cross node A (< 1.5 per client packet: ${ratio[1]}/100)" \
		test "${ratio[1]}" != x -a "${ratio[1]}" -lt 150
	check "JSON: 3 paths x 5 workloads with samples; options.conntrack 16384" \
		jq -e '(.results | length) == 15 and .options.conntrack == 16384 and
		       all(.results[]; .skipped == null and .count > 0 and .ratio_p50 > 0)' "$T/np.out"
	check "... $dsr has all 5 workloads" \
		jq -e --arg p "$dsr" '[.results[] | select(.path == $p) | .workload] | sort ==
		       ["tcp-crr", "tcp-rr", "udp-crr", "udp-newflow", "udp-rr"]' "$T/np.out"
	check "table header: zh_ct of 16384 entries" grep -q 'zh_ct of 16384 entries' "$T/np.err"
	check "nothing left after it" nothing_left "$PID"
}

# A kernel without bpf_check_mtu in tc (simulated: the probe reports it
# absent) cannot do DSR: zerohop-nodeport-dsr fails with the agent's own
# reason (its --nodeport-mode dsr would SNAT), zerohop-nodeport is measured.
nodeport_dsr_no_check_mtu() {
	ZEROHOP_DISABLE_FEATURES=tc_check_mtu run_xb "$T/npna.json" "$T/npna.err" \
		--paths zerohop-nodeport-dsr,zerohop-nodeport --workload udp-rr \
		--rounds 1 --duration 0.2 --warmup 10 -o json
	check "without tc_check_mtu: exit 1 (a path failed)" test "$RC" = 1
	check "... zerohop-nodeport-dsr failed, saying why" \
		jq -e '.results[] | select(.path == "zerohop-nodeport-dsr") | .skipped |
		       test("cannot do NodePort DSR: no bpf_check_mtu in tc")' "$T/npna.json"
	check "... zerohop-nodeport measured" \
		jq -e '.results[] | select(.path == "zerohop-nodeport") | .skipped == null and .count > 0' \
		"$T/npna.json"
	check "nothing left after it" nothing_left "$PID"
}

# --- paths this kernel cannot run ------------------------------------------------
# Without native XDP on veth (simulated: the probe reports it absent), the
# XDP and AF_XDP paths are not applicable here: marked with the reason, like
# a workload a path cannot carry, and the exit status stays 0.
not_on_this_kernel() {
	ZEROHOP_DISABLE_FEATURES=xdp_veth_native run_xb "$T/na.json" "$T/na.err" \
		--paths zerohop-tc,zerohop-xdp,zerohop-afxdp --workload udp-rr \
		--rounds 1 --duration 0.2 --warmup 10 -o json
	check "without xdp_veth_native: exit 0" test "$RC" = 0
	check "... zerohop-xdp and zerohop-afxdp marked, naming the feature" \
		jq -e '[.results[] | select(.path != "zerohop-tc") | .skipped // "" |
		       startswith("not on this kernel: it lacks xdp_veth_native")] == [true, true]' \
		"$T/na.json"
	check "... zerohop-tc measured" \
		jq -e '.results[] | select(.path == "zerohop-tc") | .skipped == null and .count > 0' \
		"$T/na.json"
	check "nothing left after it" nothing_left "$PID"
}

# measuring NAME ARGS...: xdpbench ARGS in the background ($PID), its
# output in $T/NAME.out and $T/NAME.err, until it reports its first round.
# Up to 60 s: the setup takes a second here, far longer under emulation
# (scripts/kernel-vm.sh without KVM).
measuring() {
	local name=$1
	shift
	"$XB" "$@" >"$T/$name.out" 2>"$T/$name.err" &
	PID=$!
	for _ in $(seq 1 600); do
		grep -q 'round 1/' "$T/$name.err" && break
		sleep 0.1
	done
}

# interrupted WHAT: Ctrl-C to run $PID; it exits 130 and leaves nothing.
interrupted() {
	kill -INT "$PID"
	RC=0
	wait "$PID" || RC=$?
	check "$1: exit 130" test "$RC" = 130
	check "$1: nothing left" nothing_left "$PID"
}

# Interrupted in a slice: the pod processes are stopped, the agent too.
afxdp_sigint() {
	measuring afint --paths zerohop-afxdp --rounds 100 --duration 1
	sleep 0.3
	check "an AF_XDP pod process runs while measuring" afxdp_proc
	interrupted "SIGINT in a zerohop-afxdp slice"
}

# --- the plot --------------------------------------------------------------------
plot() {
	run_xb "$T/plot.out" "$T/plot.err" --paths host,veth,bridge,zerohop-tc \
		--workload udp-rr --rounds 1 --duration 0.1 --warmup 10 -q \
		--plot "$T/plot.svg" --json "$T/plot.json"
	check "plot run exits 0" test "$RC" = 0
	check "the SVG is well-formed XML" xmllint --noout "$T/plot.svg"
	check "the SVG has one <path> per path" \
		test "$(grep -c '<path ' "$T/plot.svg")" = 4
	for p in host veth bridge zerohop-tc; do
		check "... and the one for $p" \
			test "$(grep -c "<path [^>]*data-path=\"$p\"" "$T/plot.svg")" = 1
	done
	check "the SVG is small (< 300 KB)" test "$(stat -c %s "$T/plot.svg")" -lt 307200
	check "--json FILE written too, with the table on stdout" \
		sh -c "jq -e '(.results | length) == 4' '$T/plot.json' &&
		       grep -q '^udp-rr *zerohop-tc ' '$T/plot.out'"
	check "nothing left after the plot run" nothing_left "$PID"
}

sigint() {
	# --- Ctrl-C in the middle ---------------------------------------------------------
	measuring int --paths veth,kubeproxy,zerohop-xdp --services 50 \
		--rounds 100 --duration 1
	check "the long run got past its setup" grep -q 'round 1/' "$T/int.err"
	check "... with its namespaces in place" \
		sh -c "ip netns list | grep -q '^xb$PID-kubeproxy-node'"
	interrupted SIGINT
}

# --- bad usage ----------------------------------------------------------------------
bad_usage() {
	RC=0
	"$XB" --paths nope >/dev/null 2>"$T/usage.err" || RC=$?
	check "--paths nope: exit 2" test "$RC" = 2
	check "... saying which names are valid" \
		grep -q "unknown name 'nope' (want host, veth, bridge" "$T/usage.err"
	RC=0
	"$XB" --size 1 >/dev/null 2>"$T/usage.err" || RC=$?
	check "--size 1: exit 2" test "$RC" = 2
	check "... saying the range" grep -q -- "--size: invalid value '1' (want an integer 16..65507)" "$T/usage.err"
	RC=0
	"$XB" run --workload udp-rr,bogus >/dev/null 2>"$T/usage.err" || RC=$?
	check "run --workload udp-rr,bogus: exit 2" test "$RC" = 2
}

zh_run_cases every_path socklb_paths afxdp policy_path nodeport_paths nodeport_dsr_no_check_mtu not_on_this_kernel afxdp_sigint plot sigint bad_usage
