#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench-policy.sh [PODS] [POLICIES] [CHANGES]: NetworkPolicy event ->
# enforcement at scale (issue 16). zerohopd --kubernetes
# --network-policy=on as node gen-node-0 against tests/k8s/apiserver.py
# serving the cluster `pol_bench gen PODS POLICIES` makes (default 10000
# pods on 100 nodes, 1000 policies); then CHANGES (default 30) single
# events of each kind, 300 ms apart: a label of a pod of this node (which
# moves it between policies), a label of a pod of another node (an
# identity change), a pod added to this node and removed again, a
# Namespace's label (which moves its pods between peers), a NetworkPolicy
# added, changed (its port) and removed. Prints, from the agent's own
# clock (its -v line per written compile, the same interval as the
# /metrics histogram zerohop_policy_event_to_enforcement_seconds: the
# batch's first watch event to its maps written), p50 / p99 / max per
# kind, and what the compile, the diff and the map writes took; and the
# histogram's count, checked against the events.
# A benchmark, not a test: it asserts nothing. As root (pins of its own,
# under a temporary pin root; everything it starts is stopped at exit).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${O:=build}"
ZH_PREFIX="zhbp$$"
PODS=${1:-10000}
POLS=${2:-1000}
CHANGES=${3:-30}
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
# shellcheck source=tests/k8s/lib.sh
. tests/k8s/lib.sh
zh_start
zh_require python3 curl openssl awk jq
[ -x "$O/tests/pol_bench" ] || {
	echo "bench-policy: no $O/tests/pol_bench (make $O/tests/pol_bench)"
	exit 1
}

LOG="$ZH_TMP/agent.log"
PORT=$((19900 + RANDOM % 90))
CLUSTER="$ZH_TMP/cluster.json"
echo "bench-policy: $PODS pods, $POLS NetworkPolicies, $CHANGES events of each kind"
"$O/tests/pol_bench" gen "$PODS" "$POLS" >"$CLUSTER"
k8s_api_start "$ZH_TMP/api" --objects "$CLUSTER" >/dev/null
zh_bg_root() { "$@" & ZH_PIDS+=($!); }
t0=$(date +%s%N)
zh_bg_root "$ZH_BIN/zerohopd" -v -i 0 --xsk-socket none --kubernetes \
	--kubeconfig "$K8S_API_KUBECONFIG" --node-name gen-node-0 \
	--network-policy on --listen "127.0.0.1:$PORT" 2>"$LOG"
until grep -q "NetworkPolicy compiled and written" "$LOG"; do
	kill -0 "${ZH_PIDS[-1]}" 2>/dev/null || {
		tail -5 "$LOG"
		exit 1
	}
	sleep 0.05
done
t1=$(date +%s%N)
first=$(grep -m1 "policy: written" "$LOG")

# written_lines: the agent's lines for written compiles so far.
written_lines() { grep -c "policy: written" "$LOG" || true; }
# settle N: wait (up to 10 s) until N compiles were written.
settle() {
	local _
	for _ in $(seq 200); do
		[ "$(written_lines)" -ge "$1" ] && return 0
		sleep 0.05
	done
}
hist_count() {
	curl -sf "127.0.0.1:$PORT/metrics" |
		awk '$1 == "zerohop_policy_event_to_enforcement_seconds_count" { print $2 }'
}
pod_json() { # NAME: the pod as generated
	jq -c --arg n "$1" '.items[] | select(.kind == "Pod" and .metadata.name == $n)' "$CLUSTER"
}
POD0=$(pod_json p-00000)
POD1=$(pod_json p-00001)
POL0=$(jq -c '[.items[] | select(.kind == "NetworkPolicy")][0]' "$CLUSTER")
NS1=$(jq -c '[.items[] | select(.kind == "Namespace")][1]' "$CLUSTER")

# phase NAME: CHANGES events made by `event I`, each waited for.
declare -A FROM TO
phase() {
	local name=$1 i n
	FROM[$name]=$(written_lines)
	for i in $(seq "$CHANGES"); do
		n=$(written_lines)
		"event_$name" "$i"
		settle $((n + 1))
		sleep 0.3
	done
	TO[$name]=$(written_lines)
}
event_local() { # a pod of this node between apps (its classes change)
	k8s_ctl apply "$(jq -c --arg a "app-$(($1 % 2 * 5))" '.metadata.labels.app = $a' <<<"$POD0")" >/dev/null
}
event_remote() { # a pod of another node (its identity changes)
	k8s_ctl apply "$(jq -c --arg a "app-$(($1 % 2 * 7 + 1))" '.metadata.labels.app = $a' <<<"$POD1")" >/dev/null
}
event_pod_add() { # a new pod on this node (the address of none)
	k8s_ctl apply "$(jq -c --arg n "bench-pod-$1" --arg ip "10.127.0.$1" \
		'.metadata.name = $n | .status.podIP = $ip | .status.podIPs = [{ip: $ip}]' <<<"$POD0")" >/dev/null
}
event_pod_del() { # ... and removed
	k8s_ctl delete "$(jq -cn --arg n "bench-pod-$1" --arg ns "$(jq -r .metadata.namespace <<<"$POD0")" \
		'{kind: "Pod", namespace: $ns, name: $n}')" >/dev/null
}
event_ns() { # a Namespace between teams (its pods change peers)
	k8s_ctl apply "$(jq -c --arg t "t$(($1 % 2 + 1))" '.metadata.labels.team = $t' <<<"$NS1")" >/dev/null
}
event_policy() { # a NetworkPolicy added
	k8s_ctl apply "$(jq -c --arg n "bench-new-$1" '.metadata.name = $n' <<<"$POL0")" >/dev/null
}
event_policy_chg() { # a NetworkPolicy's port changed
	k8s_ctl apply "$(jq -c --argjson p "$((8080 + $1 % 2))" '.spec.ingress[0].ports[0].port = $p' <<<"$POL0")" >/dev/null
}
event_policy_del() { # a NetworkPolicy removed
	k8s_ctl delete "$(jq -cn --arg n "bench-new-$1" --arg ns "$(jq -r .metadata.namespace <<<"$POL0")" \
		'{kind: "NetworkPolicy", namespace: $ns, name: $n}')" >/dev/null
}
KINDS="local remote pod_add pod_del ns policy policy_chg policy_del"
h0=$(hist_count)
for k in $KINDS; do
	phase "$k"
done
h1=$(hist_count)

# pct P: the P-th percentile (nearest rank) of the numbers on stdin.
pct() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { r = int(p / 100 * NR + 0.999); if (r < 1) r = 1; print v[r] }'; }
# field NAME FROM TO N: field N of the written lines FROM+1..TO.
field() {
	grep "policy: written" "$LOG" | sed -n "$(($2 + 1)),$3p" |
		sed 's/.*written \([0-9.]*\) ms.*compile \([0-9.]*\) ms, diff \([0-9.]*\) ms, maps \([0-9.]*\) ms, \([0-9]*\) writes.*/\1 \2 \3 \4 \5/' |
		awk -v f="$4" '{ print $f }'
}

printf '\nfirst sync (list and first compile): %.2f s; its compile: %s\n' \
	"$(echo "($t1 - $t0) / 1000000000" | bc -l)" \
	"compile${first#*: compile}"
printf '%-16s %6s %8s %8s %8s   %10s %10s %10s %8s\n' EVENT N p50_ms p99_ms max_ms \
	compile_p50 diff_p50 maps_p50 writes
for k in $KINDS; do
	n=$((TO[$k] - FROM[$k]))
	printf '%-16s %6s %8s %8s %8s   %10s %10s %10s %8s\n' "$k" "$n" \
		"$(field "$k" "${FROM[$k]}" "${TO[$k]}" 1 | pct 50)" \
		"$(field "$k" "${FROM[$k]}" "${TO[$k]}" 1 | pct 99)" \
		"$(field "$k" "${FROM[$k]}" "${TO[$k]}" 1 | pct 100)" \
		"$(field "$k" "${FROM[$k]}" "${TO[$k]}" 2 | pct 50)" \
		"$(field "$k" "${FROM[$k]}" "${TO[$k]}" 3 | pct 50)" \
		"$(field "$k" "${FROM[$k]}" "${TO[$k]}" 4 | pct 50)" \
		"$(field "$k" "${FROM[$k]}" "${TO[$k]}" 5 | pct 50)"
done
echo "zerohop_policy_event_to_enforcement_seconds_count: $h0 -> $h1 ($((h1 - h0)) batches observed for $((8 * CHANGES)) events)"
