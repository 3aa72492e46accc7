#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench-k8s.sh [SERVICES] [CHANGES]: what following the Kubernetes API
# costs. zerohopd --kubernetes against tests/k8s/apiserver.py serving
# SERVICES generated Services (default 10000, each with one EndpointSlice
# of two endpoints); then CHANGES (default 200) single-EndpointSlice
# changes, 50 ms apart. Prints, from the agent's own log and clock:
#   - the first sync: in all (most of it the fake server listing, in
#     Python), of which the render and the apply;
#   - per change: event -> map write, p50 / p99 / max (each event counted
#     at its batch's oldest: an upper bound), and the apply alone.
# A benchmark, not a test: it asserts nothing. As root (pins of its own,
# under a temporary pin root; everything it starts is stopped at exit).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${O:=build}"
ZH_PREFIX="zhbk$$"
N=${1:-10000}
CHANGES=${2:-200}
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
# shellcheck source=tests/k8s/lib.sh
. tests/k8s/lib.sh
zh_start
zh_require python3 curl openssl awk

LOG="$ZH_TMP/agent.log"
PORT=$((19500 + RANDOM % 400))
echo "bench-k8s: $N Services, $CHANGES EndpointSlice changes"
k8s_api_start "$ZH_TMP/api" --gen-services "$N" --gen-nodes 2 >/dev/null
t0=$(date +%s%N)
zh_bg_root() { "$@" & ZH_PIDS+=($!); }
zh_bg_root "$ZH_BIN/zerohopd" -v -i 0 --xsk-socket none --kubernetes \
	--kubeconfig "$K8S_API_KUBECONFIG" --node-name gen-node-0 \
	--listen "127.0.0.1:$PORT" \
	--map-size "services=$((N * 2 + 100)),backends=$((N * 4 + 100))" \
	--maglev-slots $(((N * 211 * 3 / 2 / 1048576 + 1) * 1048576)) \
	2>"$LOG"
until grep -q "services: Kubernetes:" "$LOG"; do
	kill -0 "${ZH_PIDS[-1]}" 2>/dev/null || {
		tail -5 "$LOG"
		exit 1
	}
	sleep 0.05
done
t1=$(date +%s%N)

# One slice of one Service, its endpoint moved each time.
for i in $(seq "$CHANGES"); do
	k8s_ctl apply "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",
	 \"metadata\":{\"namespace\":\"gen\",\"name\":\"svc-00007-bench\",
	  \"labels\":{\"kubernetes.io/service-name\":\"svc-00007\"}},
	 \"addressType\":\"IPv4\",\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}],
	 \"endpoints\":[{\"addresses\":[\"10.250.$((i / 250)).$((i % 250 + 1))\"],
	  \"conditions\":{\"ready\":true}}]}" >/dev/null
	sleep 0.05
done
sleep 1

# pct P: the P-th percentile (nearest rank) of the numbers on stdin.
pct() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { r = int(p / 100 * NR + 0.999); if (r < 1) r = 1; print v[r] }'; }
first_apply=$(grep -m1 "services: Kubernetes:" "$LOG" | awk '{ print $(NF - 1) }')
first_render=$(grep -m1 "rendered in" "$LOG" | awk '{ print $(NF - 1) }')
# Each batch line: "... programmed A to B ms after ..." for n events; the
# apply lines say how many services changed.
# (The first batch is the first sync.)
grep "a batch programmed" "$LOG" | tail -n +2 | awk '{ print $(NF - 5) }' >"$ZH_TMP/lat"
grep "changes to" "$LOG" | awk '{ print $(NF - 1) * 1000 }' >"$ZH_TMP/apply"
events=$(grep -c "" "$ZH_TMP/lat" || true)

printf '\n%-44s %s\n' "WHAT" "TIME"
printf '%-44s %.2f s\n' "start to first sync programmed" \
	"$(echo "($t1 - $t0) / 1000000000" | bc -l)"
printf '%-44s %s s\n' "  first render ($N Services)" "$first_render"
printf '%-44s %s s\n' "  first apply" "$first_apply"
printf '%-44s %s\n' "batches of changes" "$events"
for p in 50 99 100; do
	printf '%-44s %s ms\n' "event -> map write, p$p (batch's oldest)" \
		"$(pct "$p" <"$ZH_TMP/lat")"
done
for p in 50 99; do
	printf '%-44s %s ms\n' "apply of a batch, p$p" "$(pct "$p" <"$ZH_TMP/apply")"
done
