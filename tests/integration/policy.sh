#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# zerohopd --kubernetes --network-policy=on against the scripted API
# server (tests/k8s/apiserver.py) with the Pods, Namespaces and
# NetworkPolicies of tests/k8s/policy.json: the agent follows the three
# new kinds and compiles them (user/lib/policy.c); its summary in
# /metrics follows pod, namespace and policy changes, a bad policy is
# left out alone and counted, and a relist after 410 catches a delete it
# never saw as an event. Issue 16, first slice: nothing is enforced yet,
# so this asserts the compiled model, not traffic.
#
# The fixture, on node n1 (what each number below comes from):
#   x/a app=a, x/b app=b (n1); y/a app=a, http=8080 (n1), y/b (n2);
#   the node's kubelet, hostNetwork; namespaces x, y (team=blue);
#   x/deny (all of x, no ingress), x/allow-b (x/a from app=b, port 80),
#   y/from-blue (all of y, from team=blue, port "http"), x/bad (invalid).
#   Identities: x/b (app=b in x), y/a and y/b (team=blue: one), and
#   the empty signature (x/a, the world): 3. Classes (ingress): x/a's,
#   x/b's, y/a's: 3. Cells: x/a's class for x/b's identity (TCP 80),
#   y/a's class for y's identity (TCP 8080): 2. Local endpoint
#   addresses: x/a, x/b, y/a (two): 4.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhp$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
# shellcheck source=tests/k8s/lib.sh
. tests/k8s/lib.sh
zh_start
zh_require jq nsenter curl openssl python3

K="$ZH_TMP/k8s"
LOG="$ZH_TMP/agent.log"
METRICS=127.0.0.1:19465
mkdir -p "$K"

zh_node_up
tests/k8s/mkcerts.sh "$K" >/dev/null
echo "token-policy" >"$K/token"
zh_bg "$ZH_NODE" python3 tests/k8s/apiserver.py --cert "$K/server.crt" \
	--key "$K/server.key" --token-file "$K/token" --port-file "$K/port" \
	--watch-timeout-max 3 --control-port-file "$K/cport" \
	--objects tests/k8s/policy.json 2>>"$K/api.log"
eventually test -s "$K/port"
eventually test -s "$K/cport"
K8S_API_URL="https://127.0.0.1:$(cat "$K/port")"
k8s_kubeconfig "$K/kubeconfig" "$K/ca.crt" "$(cat "$K/token")"

zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" -i 0 --xsk-socket none \
	--listen "$METRICS" --kubernetes --kubeconfig "$K/kubeconfig" \
	--node-name n1 --network-policy on 2>"$LOG"
eventually grep -q "k8s: following" "$LOG"

ctl() { zh_node curl -sf -XPOST "127.0.0.1:$(cat "$K/cport")/$1" -d "${2:-{\}}"; }
apply() { ctl apply "$1" >/dev/null; }
metric() {
	zh_node curl -sf "$METRICS/metrics" |
		awk -v m="$1" '$1 == m { print $2 }'
}
# is METRIC WANT: eventually, METRIC reads WANT.
is() {
	local i got
	for i in $(seq 300); do
		got=$(metric "$1")
		[ "$got" = "$2" ] && return 0
		sleep 0.05
	done
	echo "$1 is '$got', want '$2'"
	return 1
}
# summary IDS CLASSES CELLS ENDPOINTS: the compiled model's, eventually.
summary() {
	is zerohop_policy_identities "$1" && is zerohop_policy_classes "$2" &&
		is zerohop_policy_cells "$3" && is zerohop_policy_endpoints "$4"
}
pod() { # NS NAME LABELS IP NODE
	printf '{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"%s","name":"%s","labels":%s},"spec":{"nodeName":"%s","containers":[{"name":"c"}]},"status":{"phase":"Running","podIP":"%s","podIPs":[{"ip":"%s"}]}}' \
		"$1" "$2" "$3" "$5" "$4" "$4"
}
ns() { # NAME LABELS
	printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s","labels":%s}}' "$1" "$2"
}

# --- cases ------------------------------------------------------------------

case_initial() {
	check "the compile from complete lists is reported" \
		is zerohop_policy_compiled 1
	check "identities 3, classes 3, cells 2, endpoints 4" summary 3 3 2 4
	check "the ipcache has every pod address of every node, and the node" \
		is 'zerohop_policy_addresses{map="zh_ipcache"}' 6
	check "the invalid policy is left out, alone" \
		is 'zerohop_policy_rejected{kind="NetworkPolicy"}' 1
	check "and counted as a rejected object" \
		is 'zerohop_k8s_rejected_total{kind="NetworkPolicy",reason="invalid"}' 1
	check "its reason logged" grep -q "NetworkPolicy x/bad left out: .*operator" "$LOG"
	check "the mode is on" is 'zerohop_policy_mode{mode="on"}' 1
	check "the kinds followed are counted" \
		is 'zerohop_k8s_objects{kind="NetworkPolicy"}' 4
	check "the log says it is written to the maps" grep -q "NetworkPolicy compiled and written" "$LOG"
}

case_pod_changes() {
	apply "$(pod x c '{"app":"b"}' 10.0.0.3 n1)"
	check "a new pod on the node: one more endpoint, same identity" \
		summary 3 3 2 5
	apply "$(pod x c '{"app":"c"}' 10.0.0.3 n1)"
	check "its labels changed: still the same counts (the empty signature)" \
		summary 3 3 2 5
	apply "$(pod z q '{"app":"b"}' 10.0.9.9 n2)"
	check "a pod on another node: in the ipcache, not an endpoint" \
		is 'zerohop_policy_addresses{map="zh_ipcache"}' 8
	check "... endpoints unchanged" is zerohop_policy_endpoints 5
}

case_namespace_changes() {
	local bumps
	bumps=$(metric zerohop_policy_epoch_bumps_total)
	apply "$(ns y '{"kubernetes.io/metadata.name":"y"}')"
	check "y leaves team blue: its identity and y/a's cell go" \
		summary 2 3 1 5
	check "access removed: an epoch bump" \
		eventually test "$(metric zerohop_policy_epoch_bumps_total)" -gt "$bumps"
	apply "$(ns y '{"kubernetes.io/metadata.name":"y","team":"blue"}')"
	check "back in team blue" summary 3 3 2 5
}

case_policy_changes() {
	ctl delete '{"kind":"NetworkPolicy","namespace":"x","name":"allow-b"}' >/dev/null
	check "allow-b deleted: x/a joins x/b's class, its cell and app=b's identity go" \
		summary 2 2 1 5
	apply '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"namespace":"x","name":"bad"},"spec":{"podSelector":{"matchExpressions":[{"key":"app","operator":"In","values":["a"]}]},"policyTypes":["Ingress"],"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.1.0/24"}}]}]}}'
	check "the bad policy fixed: no rejection left" \
		is 'zerohop_policy_rejected{kind="NetworkPolicy"}' 0
	check "its ipBlock: prefixes in the LPM (/24 and both /0)" \
		is 'zerohop_policy_addresses{map="zh_ipcache_lpm"}' 3
}

case_relist() {
	local relists
	relists=$(metric 'zerohop_k8s_relists_total{kind="Pod"}')
	# The watches go and the next attempts fail while x/c is deleted and
	# the history compacted: the delete is never an event.
	ctl fail '{"status":503,"count":6}' >/dev/null
	ctl disconnect >/dev/null
	ctl delete '{"kind":"Pod","namespace":"x","name":"c"}' >/dev/null
	ctl compact >/dev/null
	check "the relist drops the pod deleted meanwhile" \
		is zerohop_policy_endpoints 4
	check "the Pod relist is counted" \
		eventually test "$(metric 'zerohop_k8s_relists_total{kind="Pod"}')" -gt "$relists"
	check "compiles keep succeeding" \
		is 'zerohop_policy_compiles_total{result="failed"}' 0
}

zh_run_cases case_initial case_pod_changes case_namespace_changes \
	case_policy_changes case_relist
