#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The README's first command fails fast and leaves nothing behind: with a
# failure injected through the product itself, scripts/demo.sh stops within
# seconds, exits non-zero, names the step that failed with the product's own
# error, and removes every netns, pin, temp dir and process it made.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhd$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
# Before zh_require: sourcing lib.sh made a temp dir, a skip removes it too.
zh_start
zh_require timeout jq socat setpriv iptables ping

# Not the demo's default: a user's demo may run beside this test.
PREFIX=zhdtest
GUARD=120 # the hang guard: the old demo waited minutes on a dead path
FAST=30   # "within seconds": make with nothing to do, the agent's start, the failure
# Every process the demo starts inherits this; one that still has it after
# the demo ended is a leftover, wherever it runs (a netns of the demo or not).
MARK="ZH_DEMO_TEST_RUN=$$.$RANDOM"
LOG="$ZH_TMP/demo.out"

# Native XDP on veth reported absent: the agent starts and the tc pods are
# wired, then the plugin refuses pod-c's xdp datapath with a CNI error that
# names the feature.
INJECT=(ZEROHOP_DISABLE_FEATURES=xdp_veth_native)
STEP='FAILED in "five pods through the CNI plugin'
WHAT="CNI ADD of $PREFIX-pod-c (xdp) failed"
DETAIL=xdp_veth_native

# host_zh_links: the host netns's interfaces named like ours (zh<hash>).
host_zh_links() { ip -o link show | awk -F': ' '$2 ~ /^zh/ { print $2 }' | sort; }
links_before=$(host_zh_links)
rc="" ms=""

# timeout's status when it had to stop the demo (124) or kill it (137).
not_guarded() { [ "$rc" != 124 ] && [ "$rc" != 137 ]; }
no_netns() { ! ip netns list | awk '{ print $1 }' | grep "^$PREFIX-"; }
no_tmp() { ! compgen -G "/tmp/$PREFIX.*"; }
no_new_links() { [ "$(host_zh_links)" = "$links_before" ]; }
# no_procs: no process carries the mark; the ones that do are shown.
no_procs() {
	local f left=0
	for f in $(grep -lzx "$MARK" /proc/[0-9]*/environ 2>/dev/null); do
		f=${f#/proc/}
		ps -o pid=,args= -p "${f%/environ}" || true
		left=1
	done
	[ $left = 0 ]
}

# The demo with the failure injected: it stops at once, saying why.
fails_fast() {
	local start
	start=$(date +%s%N)
	rc=0
	# The test's own lib.sh exported its pin root and socket: the demo makes its own.
	env -u ZEROHOP_PIN_ROOT -u ZEROHOP_XSK_SOCKET ZH_DEMO_PREFIX="$PREFIX" "$MARK" \
		"${INJECT[@]}" timeout -k 10 "$GUARD" scripts/demo.sh --no-deps \
		>"$LOG" 2>&1 || rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	check "exits non-zero (status $rc)" test "$rc" -ne 0
	check "ends by itself, not by the ${GUARD}s hang guard" not_guarded
	check "within ${FAST}s (took ${ms} ms)" test "$ms" -lt $((FAST * 1000))
	check "names the step that failed" grep -qF "$STEP" "$LOG"
	check "says what failed: $WHAT" grep -qF "$WHAT" "$LOG"
	check "shows the product's error: $DETAIL" grep -qF "$DETAIL" "$LOG"
}

# ... and it cleans up after itself.
leaves_nothing() {
	check "no netns $PREFIX-* left" no_netns
	check "no pin root /sys/fs/bpf/$PREFIX left" test ! -e "/sys/fs/bpf/$PREFIX"
	check "no temp dir /tmp/$PREFIX.* left" no_tmp
	check "no pid file /run/$PREFIX.demo.pid left" test ! -e "/run/$PREFIX.demo.pid"
	check "no process of the run left" no_procs
	check "no zh* interface left in the host netns" no_new_links
	if [ "$FAIL" != 0 ]; then
		echo "  the demo's output (last 40 lines):"
		tail -n 40 "$LOG" | sed 's/^/       | /'
	fi
}

zh_run_cases fails_fast leaves_nothing
