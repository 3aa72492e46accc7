#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Upgrade under traffic: pods wired by the previous release's plugin, with
# long-lived TCP connections, UDP request/response and ClusterIP flows
# running all along; then the agent and the plugin upgraded to this build,
# and downgraded again. Nothing may be lost and no connection reset, pods
# of either version reach each other, and the old version's pins go once
# nothing uses them.
#
# The previous release is built from git history: ZH_UPGRADE_FROM (a tag
# or commit), by default the newest commit whose ABI differs from this
# tree's. The ABI is the set of maps a build pins and their layouts
# (`zerohopctl abi`), named by ZH_PIN_VERSION in bpf/include/zh_abi.h,
# which every change of it bumps (tests/unit/test_abi.c holds it to that).
# A build is made once per commit, from `git archive`, into
# $O/upgrade-<commit> (kept: the next run reuses it).
#
# Where that release cannot load its programs on the running kernel (no
# commit of ABI v2 loads on 6.18.44, nor on Debian's 6.1), no node like
# this one ever ran it. The test then runs twice, on the newest commit of
# this ABI whose programs differ from this tree's: once as it is (an
# upgrade of the programs within one ABI), and once built as the version
# before ours (ZH_UPGRADE_ABI=older: old_abi_patch below), which the
# upgrade to this tree must take over map by map.
#
# The node forwards (ip_forward=1) as a real one does: between pods of two
# versions, what one version's maps do not know goes through the kernel.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhu$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require jq git make tar flock nsenter bpftool ping socat

FLOWS="$ZH_BIN/tests/zh-flows"
[ -x "$FLOWS" ] || {
	echo "$ZH_TEST: no $FLOWS: make O=$O check-integration builds it" >&2
	exit 1
}

# --- the previous release ------------------------------------------------------
[ "$(git rev-parse --is-inside-work-tree 2>/dev/null)" = true ] ||
	zh_skip "not a git checkout: the previous release is built from git history"
[ "$(git rev-parse --is-shallow-repository)" = false ] ||
	zh_skip "a shallow clone: the previous release is not in its history (git fetch --unshallow)"

# pin_version REV: ZH_PIN_VERSION at REV ("" for the working tree).
pin_version() {
	local src=bpf/include/zh_abi.h
	if [ -n "$1" ]; then git show "$1:$src"; else cat "$src"; fi |
		sed -n 's/^#define ZH_PIN_VERSION "\(.*\)"$/\1/p'
}

# default_from: the newest commit whose pin version is not this tree's:
# the first parent of the commit that bumped it (first-parent history of
# HEAD, the commits that touched zh_abi.h).
default_from() {
	local cur c newer=""
	cur=$(pin_version "")
	for c in $(git rev-list --first-parent HEAD -- bpf/include/zh_abi.h); do
		if [ "$(pin_version "$c")" != "$cur" ]; then
			[ -n "$newer" ] && git rev-parse "$newer^" && return 0
			echo "$c" # this tree itself bumped it
			return 0
		fi
		newer=$c
	done
	return 1
}

# default_from_build: the newest commit of this pin version whose BPF
# programs differ from this tree's: the first parent of the last commit
# that changed their sources (bpf/, but the ABI records).
default_from_build() {
	local c
	c=$(git rev-list --first-parent -1 HEAD -- bpf/ ':(exclude)bpf/abi') ||
		return 1
	[ -n "$c" ] && [ "$(pin_version "$c^")" = "$(pin_version "")" ] &&
		git rev-parse "$c^"
}

# old_abi_patch DIR: the source in DIR made the version before ours, as
# different from it as v2 was from v3: ZH_PIN_VERSION one less, zh_iface 32
# bytes shorter (the network's name), zh_ifaces and zh_endpoints half as
# large. The upgrade cannot share those maps with it: it carries them over
# member by member; the others it shares.
old_abi_patch() {
	local h="$1/bpf/include/zh_abi.h" n=${NEW_VER#v}
	grep -q "^#define ZH_PIN_VERSION \"v$n\"\$" "$h" &&
		grep -q '^#define ZH_NETWORK_LEN 64$' "$h" &&
		grep -q 'sizeof(struct zh_iface) == 408' "$h" &&
		grep -q '^#define ZH_MAX_ENDPOINTS 65536$' "$h" || return 1
	sed -i -e "s/^#define ZH_PIN_VERSION \"v$n\"\$/#define ZH_PIN_VERSION \"v$((n - 1))\"/" \
		-e 's/^#define ZH_NETWORK_LEN 64$/#define ZH_NETWORK_LEN 32/' \
		-e 's/sizeof(struct zh_iface) == 408/sizeof(struct zh_iface) == 376/' \
		-e 's/^#define ZH_MAX_ENDPOINTS 65536$/#define ZH_MAX_ENDPOINTS 32768/' "$h"
}

# build_old REV [older]: REV built once (with old_abi_patch: "older"),
# under a lock (two runs may race), from `git archive` into a temporary
# directory renamed into place when whole. Sets OLD to it.
build_old() {
	local src="$ZH_TMP/src-$1" tmp
	OLD="$ZH_BIN/upgrade-$1${2:+-$2}"
	tmp="$OLD.tmp.$$"
	(
		flock 9
		[ -x "$OLD/zerohopd" ] && exit 0
		mkdir -p "$src"
		git archive "$1" | tar -x -C "$src"
		if [ -n "${2:-}" ] && ! old_abi_patch "$src"; then
			echo "$ZH_TEST: the $2 ABI patch does not apply to $1" >&2
			exit 1
		fi
		echo "  building $(git log -1 --format=%h "$1")${2:+ ($2 ABI)} into $OLD (once; later runs reuse it)"
		if ! make -C "$src" O="$tmp" -j"$(nproc)" all >"$ZH_TMP/old-build.log" 2>&1; then
			tail -n 20 "$ZH_TMP/old-build.log"
			rm -rf "$tmp"
			exit 1
		fi
		mv -T "$tmp" "$OLD"
	) 9>"$OLD.lock"
}

# loads: $OLD's agent loads its programs on this kernel (in a pin root of
# its own, removed after); why not, in $ZH_TMP/probe.log.
loads() {
	local root="$ZEROHOP_PIN_ROOT/probe" pid ok=1
	mkdir -p "$ZEROHOP_PIN_ROOT"
	ZEROHOP_PIN_ROOT=$root nsenter --net="/var/run/netns/$ZH_NODE" \
		"$OLD/zerohopd" -i 0 2>"$ZH_TMP/probe.log" &
	pid=$!
	for _ in $(seq 100); do
		grep -q 'ready$' "$ZH_TMP/probe.log" && ok=0 && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	rm -rf "$root"
	return $ok
}

why_not() { tail -n 1 "$ZH_TMP/probe.log" | sed 's/^zerohopd: [a-z]*: //'; }

NEW_VER=$(pin_version "")
zh_node_up
# child ENV...: this test again, for one upgrade; its status.
child() { env "$@" "$PWD/tests/integration/upgrade.sh"; }
if [ -z "${ZH_UPGRADE_FROM:-}" ]; then
	FROM=$(default_from) ||
		zh_skip "no commit in history has another pin version than $NEW_VER: nothing to upgrade from"
	build_old "$FROM"
	if loads; then
		child ZH_UPGRADE_FROM="$FROM"
		exit
	fi
	echo "  $(git log -1 --format=%h "$FROM") ($(pin_version "$FROM")) cannot load its programs on this kernel ($(uname -r)): $(why_not)"
	FROM=$(default_from_build) ||
		zh_skip "and no build of $NEW_VER has other programs to upgrade from"
	echo "  so: from the newest build of $NEW_VER whose programs differ, $(git log -1 --format=%h "$FROM"), as it is and as the ABI before"
	rc1=0 rc2=0
	child ZH_UPGRADE_FROM="$FROM" || rc1=$?
	child ZH_UPGRADE_FROM="$FROM" ZH_UPGRADE_ABI=older || rc2=$?
	echo "$ZH_TEST: within $NEW_VER: exit $rc1; from the ABI before: exit $rc2"
	if [ "$rc1" = 77 ] && [ "$rc2" = 77 ]; then exit 77; fi
	[ "$rc1" != 0 ] && [ "$rc1" != 77 ] && exit 1
	[ "$rc2" != 0 ] && [ "$rc2" != 77 ] && exit 1
	exit 0
fi
FROM=$(git rev-parse --verify -q "${ZH_UPGRADE_FROM}^{commit}") ||
	zh_skip "ZH_UPGRADE_FROM=$ZH_UPGRADE_FROM is no commit here"
case ${ZH_UPGRADE_ABI:-} in
"" | older) ;;
*) zh_skip "ZH_UPGRADE_ABI=$ZH_UPGRADE_ABI: only \"older\" is known" ;;
esac
build_old "$FROM" "${ZH_UPGRADE_ABI:-}"
loads || zh_skip "$FROM cannot load its programs on this kernel ($(uname -r)): $(why_not)"
if [ -n "${ZH_UPGRADE_ABI:-}" ]; then
	OLD_VER="v$((${NEW_VER#v} - 1))"
else
	OLD_VER=$(pin_version "$FROM")
fi
OLD_PIN_DIR="$ZEROHOP_PIN_ROOT/$OLD_VER"
SAME_ABI=0
[ "$OLD_VER" != "$NEW_VER" ] || SAME_ABI=1
# Within a version: does the old build put its programs in place of
# another build's (zh_upgrade_programs, since fdf2a8d)? Then the downgrade
# moves the pods to its programs, and the reupgrade back: the newest build
# of a version with other programs has it once a change to bpf/ follows.
OLD_REPLACES=0
if git grep -q zh_upgrade_programs "$FROM" -- user/lib/upgrade.c; then
	OLD_REPLACES=1
fi
echo "  from $(git log -1 --format='%h %s' "$FROM")${ZH_UPGRADE_ABI:+ built as the ABI before ours} ($OLD_VER) to this tree ($NEW_VER)"

# --- the node --------------------------------------------------------------------
zh_node sysctl -qw net.ipv4.ip_forward=1
zh_uplink_up
SVC="$ZH_TMP/services.json"
VIP=10.96.0.10
zh_conf "$ZH_TMP/tc.conf" zhu-tc tc 10.71.0.0/24
zh_conf "$ZH_TMP/xdp.conf" zhu-xdp xdp 10.72.0.0/24
A="${ZH_PREFIX}-a" B="${ZH_PREFIX}-b" C="${ZH_PREFIX}-c"
E="${ZH_PREFIX}-e" F="${ZH_PREFIX}-f"
declare -A IP

# Map sizes, as a DaemonSet's arguments would give both versions. Within a
# version, not the defaults: this build reloads its programs on maps the
# old agent made, and that failed on pinned maps of other sizes. Across
# versions the defaults: an older build cannot reuse a pinned map of
# another size, so the new one leaves such maps to it only at the default
# sizes, and a rollback then shares the Services (README: Upgrades).
SIZES=()
[ $SAME_ABI = 0 ] ||
	SIZES=(--map-size "conntrack=65536,services=4096" --maglev-slots 262144)

# agent_start BIN LOG [ARG...]: BIN's zerohopd in the node with the
# Services file, waited for until ready; AGENT is its pid.
AGENT=""
agent_start() {
	local bin=$1 log=$2
	shift 2
	nsenter --net="/var/run/netns/$ZH_NODE" "$bin/zerohopd" -i 1 \
		--services "$SVC" --service-cidr 10.96.0.0/12 "${SIZES[@]}" \
		"$@" 2>"$log" &
	AGENT=$!
	ZH_PIDS+=("$AGENT")
	eventually grep -q 'ready$' "$log" || {
		cat "$log"
		return 1
	}
}
agent_stop() {
	kill "$AGENT"
	wait "$AGENT" 2>/dev/null || true
}

# pod_add BIN POD CONF: POD wired by BIN's plugin; its address in IP.
pod_add() {
	ZH_BIN=$1 zh_pod_add "$2" "$3"
	IP[$2]=$(zh_pod_ip "$2")
}

# serve POD: the echo servers every pod runs (TCP 8080, UDP 5353).
serve() { zh_bg "$1" "$FLOWS" serve tcp:8080 udp:5353; }

# flows POD FLOW...: a zh-flows client in POD, writing $ZH_TMP/POD.flows.
CLIENTS=()
flows() {
	local pod=$1
	shift
	zh_bg "$pod" "$FLOWS" client -i 10 -t 2000 -o "$ZH_TMP/$pod.flows" "$@"
	CLIENTS+=("$pod:${ZH_PIDS[-1]}")
	eventually test -s "$ZH_TMP/$pod.flows"
}
# snapshot LABEL: every client appends its counts so far, and the line's
# number goes into $ZH_TMP/POD.marks as LABEL (a phase's boundary).
snapshot() {
	local c n
	for c in "${CLIENTS[@]}"; do
		n=$(wc -l <"$ZH_TMP/${c%%:*}.flows")
		kill -USR1 "${c#*:}" 2>/dev/null &&
			eventually longer "$ZH_TMP/${c%%:*}.flows" "$n" || {
			echo "$ZH_TEST: the client in ${c%%:*} is gone" >&2
			return 1
		}
		echo "$1 $((n + 1))" >>"$ZH_TMP/${c%%:*}.marks"
	done
}
# longer FILE N: FILE has more than N lines.
longer() { test "$(wc -l <"$1")" -gt "$2"; }

# tcp_ok POD HOST PORT: one request on a new connection answered.
tcp_ok() {
	[ "$(echo hello | zh_in "$1" socat -T 3 - "TCP:$2:$3")" = hello ]
}
# prog_ids DIR, map_ids DIR: the kernel IDs of the programs (maps) pinned
# in DIR, sorted.
pinned_ids() {
	local f
	for f in "$2"/*; do
		[ -e "$f" ] || continue
		bpftool -j "$1" show pinned "$f" 2>/dev/null | jq -r '.id // empty' || true
	done | sort -n
}
prog_ids() { pinned_ids prog "$1"; }
# prog_tags DIR: "NAME TAG" of each program pinned in DIR (the tag: the
# kernel's hash of its code).
prog_tags() {
	local f
	for f in "$1"/*; do
		bpftool -j prog show pinned "$f" 2>/dev/null |
			jq -r --arg n "${f##*/}" '"\($n) \(.tag)"' || true
	done | sort
}
map_ids() { pinned_ids map "$1"; }
# gone IDS...: no program of these IDs is left in the kernel.
gone() {
	local id
	for id in "$@"; do
		! bpftool prog show id "$id" >/dev/null 2>&1 || {
			echo "program $id still loaded"
			return 1
		}
	done
}
redirects() { "$1/zerohopctl" stats -o json | jq .redirected.packets; }
# grows BIN: the redirect counter of BIN's maps grows while traffic runs.
grows() {
	local n
	n=$(redirects "$1")
	sleep 0.5
	test "$(redirects "$1")" -gt "$((n + 50))"
}

# --- the cases ----------------------------------------------------------------------
# The old release as a node runs it: its agent first (it makes the maps,
# of the sizes its arguments say), then pods by its plugin, then their
# Services (SIGHUP: the file again).
old_pods() {
	echo '{"services": []}' >"$SVC"
	check "the old agent starts" agent_start "$OLD" "$ZH_TMP/agent-old.log" \
		--nodeport-dev "$UPLINK"
	pod_add "$OLD" "$A" "$ZH_TMP/tc.conf"
	pod_add "$OLD" "$B" "$ZH_TMP/tc.conf"
	pod_add "$OLD" "$C" "$ZH_TMP/xdp.conf"
	cat >"$SVC" <<EOF
{"services": [
 {"name": "web", "vip": "$VIP", "port": 80, "proto": "tcp",
  "backends": [{"ip": "${IP[$B]}", "port": 8080}, {"ip": "${IP[$C]}", "port": 8080}]},
 {"name": "dns", "vip": "$VIP", "port": 53, "proto": "udp",
  "backends": [{"ip": "${IP[$B]}", "port": 5353}, {"ip": "${IP[$C]}", "port": 5353}]}
]}
EOF
	kill -HUP "$AGENT"
	for p in "$A" "$B" "$C"; do serve "$p"; done
	check "the old pods reach each other" zh_ping_ok "$A" "${IP[$C]}"
	check "... and the ClusterIP" eventually tcp_ok "$A" "$VIP" 80
	flows "$A" "tcp:${IP[$B]}:8080,4" "udp:${IP[$C]}:5353" \
		"tcp:$VIP:80,4" "udp:$VIP:53"
	check "traffic runs on the old fast path" grows "$OLD"
	OLD_PROGS=$(prog_ids "$OLD_PIN_DIR")
	OLD_TAGS=$(prog_tags "$OLD_PIN_DIR")
	check "the old build pins its programs" test -n "$OLD_PROGS"
	sleep 1
}

# new_agent LABEL: the old agent stops, this tree's starts (its log in
# $ZH_TMP/agent-LABEL.log), under traffic; what it took over, said.
new_agent() {
	local t0
	snapshot "$1-before"
	agent_stop
	t0=$(date +%s%N)
	check "the new agent starts where the old one ran" \
		agent_start "$ZH_BIN" "$ZH_TMP/agent-$1.log" --nodeport-dev "$UPLINK"
	snapshot "$1-after"
	echo "  ..   agent stopped to new agent ready: $((($(date +%s%N) - t0) / 1000000)) ms"
	sed -n 's/^zerohopd: \(info\|warn\): \(.*\(took over\|build.s programs\).*\)/  ..   \2/p' \
		"$ZH_TMP/agent-$1.log"
}

# took_over LOG PROGS...: the new agent took every attachment of the old
# programs PROGS (kernel IDs) over: none is left in the kernel, and the
# old version pins no program and no map of its own any more.
took_over() {
	local log=$1
	shift
	if [ $SAME_ABI = 1 ]; then
		check "its programs took the old build's place" \
			grep -q "this build's programs replaced an earlier build's" "$log"
	else
		check "it took over from $OLD_VER, every attachment" \
			grep -q "took over from $OLD_VER: " "$log"
		check "$OLD_VER pins no program any more" test -z "$(prog_ids "$OLD_PIN_DIR")"
		check "... and no map that $NEW_VER does not use" \
			test -z "$(comm -23 <(map_ids "$OLD_PIN_DIR") <(map_ids "$ZH_PIN_DIR"))"
	fi
	check "no program of the old build is left in the kernel" gone "$@"
}

upgrade() {
	new_agent upgrade
	if [ $SAME_ABI = 1 ] && [ "$(prog_tags "$ZH_PIN_DIR")" = "$OLD_TAGS" ]; then
		zh_case_skip "$(git log -1 --format=%h "$FROM")'s programs are this build's, instruction for instruction: nothing to replace"
	else
		# shellcheck disable=SC2086 # a list of IDs
		took_over "$ZH_TMP/agent-upgrade.log" $OLD_PROGS
	fi
	check "traffic runs on the new fast path" grows "$ZH_BIN"
	check "the old pods are the new agent's endpoints, their network named" \
		eval '"$ZH_BIN/zerohopctl" endpoints -o json |
			jq -e "length == 3 and all(.[]; .network | startswith(\"zhu-\"))"'
}

new_pods() {
	pod_add "$ZH_BIN" "$E" "$ZH_TMP/tc.conf"
	serve "$E"
	check "a new pod reaches an old one" zh_ping_ok "$E" "${IP[$A]}"
	check "... and an old one the new one" zh_ping_ok "$A" "${IP[$E]}"
	check "... over TCP" tcp_ok "$B" "${IP[$E]}" 8080
	check "... and the ClusterIP (old backends)" tcp_ok "$E" "$VIP" 80
	flows "$E" "tcp:${IP[$A]}:8080,2" "udp:${IP[$B]}:5353" \
		"tcp:$VIP:80,2" "udp:$VIP:53"
}

# The trivial upgrade: the same version restarts. It used to fail on a
# tcx kernel with --nodeport-dev (tcx refuses a program it runs already).
restart() {
	local before
	before=$(prog_ids "$ZH_PIN_DIR")
	agent_stop
	check "the new agent restarts (--nodeport-dev)" \
		agent_start "$ZH_BIN" "$ZH_TMP/agent-restart.log" --nodeport-dev "$UPLINK"
	check "... on the same programs" test "$(prog_ids "$ZH_PIN_DIR")" = "$before"
}

# Back to the old build. An old build without the takeover replaces no
# program: the pods keep the new ones and the new version's maps; one with
# it (OLD_REPLACES) moves them to its own programs. Either way, what both
# versions share (within a version, everything) the old agent finds and
# programs.
downgrade() {
	local new_progs args=(--nodeport-dev "$UPLINK") m
	new_progs=$(prog_ids "$ZH_PIN_DIR")
	# An old build of this version finds zh_tc_uplink attached already,
	# and before the fix above tcx refused it a second time: such an
	# agent cannot start with --nodeport-dev (on clsact it could).
	if [ $SAME_ABI = 1 ]; then
		args=()
		echo "  ..   the old agent runs without --nodeport-dev: before the fix it cannot start with it where tcx runs zh_tc_uplink"
	fi
	snapshot downgrade-before
	agent_stop
	check "the old agent starts again" agent_start "$OLD" "$ZH_TMP/agent-down.log" \
		"${args[@]}"
	snapshot downgrade-after
	if [ $OLD_REPLACES = 1 ] && [ $SAME_ABI = 1 ]; then
		check "the old build's programs take the new ones' place" \
			test "$(prog_tags "$ZH_PIN_DIR")" = "$OLD_TAGS"
	# A build from before takeovers were kept to older versions takes a
	# newer version's pins over as any other's: its flows go on (checked
	# below), but on its programs. Builds since leave them (test_bpf_upgrade).
	elif [ $SAME_ABI = 0 ] && grep -q "took over from $NEW_VER: " "$ZH_TMP/agent-down.log"; then
		echo "  ..   $OLD_VER's agent took $NEW_VER's pins over (a build from before takeovers kept to older versions): the pods run its programs"
		check "... every attachment moved, none left" \
			sh -c "! grep -q 'took over from $NEW_VER in part' '$ZH_TMP/agent-down.log'"
	else
		check "the pods keep the new programs" test "$(prog_ids "$ZH_PIN_DIR")" = "$new_progs"
	fi
	if [ $SAME_ABI = 0 ]; then
		for m in zh_services zh_backends zh_maglev zh_ct; do
			check "the old agent uses the new one's $m (shared)" test \
				"$(bpftool -j map show pinned "$OLD_PIN_DIR/$m" | jq .id)" = \
				"$(bpftool -j map show pinned "$ZH_PIN_DIR/$m" | jq .id)"
		done
	fi
	pod_add "$OLD" "$F" "$ZH_TMP/tc.conf"
	serve "$F"
	check "a pod made by the old plugin reaches the others" zh_ping_ok "$F" "${IP[$E]}"
	check "... and they it" zh_ping_ok "$A" "${IP[$F]}"
	check "... and the ClusterIP (backends made before)" tcp_ok "$F" "$VIP" 80
	flows "$F" "tcp:${IP[$E]}:8080,2" "tcp:$VIP:80,2" "udp:$VIP:53"
	sleep 1
}

# And forward again: the pod the old plugin made during the rollback is
# taken over too.
reupgrade() {
	local down_progs
	down_progs=$(prog_ids "$OLD_PIN_DIR")
	new_agent reupgrade
	if [ $SAME_ABI = 1 ] && [ $OLD_REPLACES = 1 ]; then
		check "this build's programs replace the old build's again" \
			grep -q "replaced an earlier build's" "$ZH_TMP/agent-reupgrade.log"
	elif [ $SAME_ABI = 1 ]; then
		check_not "the programs are this build's already: none replaced" \
			grep -q "replaced an earlier build's" "$ZH_TMP/agent-reupgrade.log"
	else
		# shellcheck disable=SC2086 # a list of IDs
		took_over "$ZH_TMP/agent-reupgrade.log" $down_progs
	fi
	check "every pod is the new agent's endpoint" \
		test "$("$ZH_BIN/zerohopctl" endpoints -o json | jq length)" = 5
	check "traffic runs on the new fast path" grows "$ZH_BIN"
	sleep 1
}

# window POD LABEL: what POD's client sent and got answered between the
# snapshots LABEL-before and LABEL-after, all flows together.
window() {
	local m="$ZH_TMP/$1.marks" a b
	a=$(awk -v l="$2-before" '$1 == l { print $2 }' "$m")
	b=$(awk -v l="$2-after" '$1 == l { print $2 }' "$m")
	[ -n "$a" ] && [ -n "$b" ] || return 0
	jq -rs --argjson a "$a" --argjson b "$b" --arg pod "${1#"$ZH_PREFIX"-}" '
		def total(f): [.flows[] | f] | add;
		((.[$b - 1] | total(.sent)) - (.[$a - 1] | total(.sent))) as $s |
		((.[$b - 1] | total(.answered)) - (.[$a - 1] | total(.answered))) as $r |
		"\($pod) \($s) sent, \($r) answered by then"' "$ZH_TMP/$1.flows"
}

# The clients stop: every request answered, no connection reset.
verdict() {
	local c pod f w
	for c in "${CLIENTS[@]}"; do
		kill "${c#*:}"
	done
	for c in "${CLIENTS[@]}"; do
		wait "${c#*:}" || true
	done
	for w in upgrade downgrade reupgrade; do
		echo "  ..   $w, old agent stopped to the other ready:" \
			"$(for c in "${CLIENTS[@]}"; do window "${c%%:*}" "$w"; done | paste -sd ';' | sed 's/;/; /g')"
	done
	for c in "${CLIENTS[@]}"; do
		pod=${c%%:*}
		f="$ZH_TMP/$pod.flows"
		jq -r --arg pod "${pod#"$ZH_PREFIX"-}" 'select(.final) | .flows[] |
			"  ..   \($pod) \(.flow): \(.sent) sent, \(.lost) lost, \(.resets) reset, max RTT \(.max_rtt_ms) ms"' "$f"
		check "${pod#"$ZH_PREFIX"-}: every request answered" \
			jq -se '.[-1] | .final and all(.flows[]; .lost == 0 and .sent > 0)' "$f"
		check "${pod#"$ZH_PREFIX"-}: no connection reset" \
			jq -se '.[-1] | all(.flows[]; .resets == 0 and .alive == .conns)' "$f"
	done
}

zh_run_cases old_pods upgrade new_pods restart downgrade reupgrade verdict
