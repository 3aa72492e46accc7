#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# NetworkPolicy enforced (issue 16): zerohopd --network-policy=on against
# the scripted API server (tests/k8s/apiserver.py), which this test feeds
# the Node, Namespaces, Pods (with the addresses the real CNI plugin gave
# them) and NetworkPolicies; traffic between netns pods wired by the
# plugin, with `iptables -I FORWARD -j DROP` on the node, so that nothing
# reaches a pod but what zerohop delivers or the node itself sends.
#
# Pods (tc datapath, this node n1): x/a (app=a), x/b (app=b; its
# container port "web" is 8080), y/c (app=c). b serves TCP 8080, 8081,
# 8999..9002 and a zh-flows echo on 7000.
# shellcheck disable=SC2317 # functions called through check/eventually
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhnp$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
# shellcheck source=tests/k8s/lib.sh
. tests/k8s/lib.sh
zh_start
zh_require jq nsenter curl openssl python3 socat iptables ping

K="$ZH_TMP/k8s"
LOG="$ZH_TMP/agent.log"
METRICS=127.0.0.1:19466
FLOWS="$ZH_BIN/tests/zh-flows"
NODE_IP=10.200.0.1 # zh_node_up's address of the node
VIP=10.96.0.50
mkdir -p "$K"
[ -x "$FLOWS" ] || zh_skip "no $FLOWS (make $O/tests/zh-flows)"

zh_node_up
zh_node iptables -I FORWARD -j DROP
tests/k8s/mkcerts.sh "$K" >/dev/null
echo "token-netpol" >"$K/token"
zh_bg "$ZH_NODE" python3 tests/k8s/apiserver.py --cert "$K/server.crt" \
	--key "$K/server.key" --token-file "$K/token" --port-file "$K/port" \
	--watch-timeout-max 3 --control-port-file "$K/cport" 2>>"$K/api.log"
eventually test -s "$K/port"
eventually test -s "$K/cport"
K8S_API_URL="https://127.0.0.1:$(cat "$K/port")"
k8s_kubeconfig "$K/kubeconfig" "$K/ca.crt" "$(cat "$K/token")"

ctl() { zh_node curl -sf -XPOST "127.0.0.1:$(cat "$K/cport")/$1" -d "${2:-{\}}"; }
apply() { ctl apply "$1" >/dev/null; }
metric() {
	zh_node curl -sf "$METRICS/metrics" |
		awk -v m="$1" '$1 == m { print $2 }'
}
AGENT_PID=
agent_start() {
	zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" -i 0 \
		--service-cidr 10.96.0.0/12 --listen "$METRICS" --kubernetes \
		--kubeconfig "$K/kubeconfig" --node-name n1 \
		--network-policy on "$@" 2>>"$LOG"
	AGENT_PID=${ZH_PIDS[-1]}
}
# written: the agent has written a compile since the log had N lines.
written_since() { tail -n +"$1" "$LOG" | grep -q "NetworkPolicy compiled and written"; }
compiles() { metric 'zerohop_policy_compiles_total{result="ok"}'; }
compiled_after() { [ "$(compiles)" -gt "$1" ]; }
# sync_policy: the agent has written what the API server has now: a
# namespace added after everything else, and a compile counted after it.
sync_policy() {
	local c0
	c0=$(compiles)
	apply "$(ns "zz-sync-$RANDOM" '{}')"
	eventually compiled_after "$c0"
	sleep 0.2
}

ns() { # NAME LABELS
	printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s","labels":%s}}' "$1" "$2"
}
pod() { # NS NAME LABELS IP [PORTS]
	printf '{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"%s","name":"%s","labels":%s},"spec":{"nodeName":"n1","containers":[{"name":"c","ports":%s}]},"status":{"phase":"Running","podIP":"%s","podIPs":[{"ip":"%s"}]}}' \
		"$1" "$2" "$3" "${5:-[]}" "$4" "$4"
}
netpol() { # NS NAME SPEC
	printf '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"namespace":"%s","name":"%s"},"spec":%s}' "$1" "$2" "$3"
}
delpol() {
	ctl delete "{\"kind\":\"NetworkPolicy\",\"namespace\":\"$1\",\"name\":\"$2\"}" >/dev/null
}
# tcp POD IP PORT: a new connection gets the server's answer (a denied
# one waits TCP_WAIT seconds, 2 unless told).
tcp() {
	local out w=${TCP_WAIT:-2}
	out=$(zh_in "$1" socat -T 2 - "TCP:$2:$3,connect-timeout=$w" </dev/null 2>&1) || true
	[ "$out" = "b-$3" ] || {
		echo "$1 -> $2:$3: '$out'"
		return 1
	}
}
# from the node itself (a kubelet probe)
tcp_node() {
	local out
	out=$(zh_node socat -T 2 - "TCP:$1:$2,connect-timeout=2" </dev/null 2>&1) || true
	[ "$out" = "b-$2" ]
}
# ctl_policy POD_IP JQ [ARGS]: zerohopctl policy --pod POD_IP -o json
# satisfies JQ.
ctl_policy() {
	local pod=$1 q=$2
	shift 2
	zh_node "$ZH_BIN/zerohopctl" policy --pod "$pod" -o json "$@" | jq -e "$q"
}
# metric_gt_re RE N: some sample whose name and labels match RE is > N.
metric_gt_re() {
	zh_node curl -sf "$METRICS/metrics" |
		awk -v re="^$1\$" -v n="$2" '$1 ~ re && $2 + 0 > n { ok = 1 } END { exit !ok }'
}
stat_of() { zh_node "$ZH_BIN/zerohopctl" stats -o json | jq -r ".dropReasons[\"$1\"].packets // 0"; }
# grew NAME BEFORE: the drop counter NAME is above BEFORE.
grew() { [ "$(stat_of "$1")" -gt "$2" ]; }

# --- the node, its pods and the cluster ------------------------------------
agent_start
eventually grep -q "k8s: following" "$LOG"
zh_conf "$ZH_TMP/tc.conf" netpol tc 10.95.20.0/24
A="${ZH_PREFIX}-a" B="${ZH_PREFIX}-b" C="${ZH_PREFIX}-c"
declare -A IP
for p in "$A" "$B" "$C"; do
	zh_pod_add "$p" "$ZH_TMP/tc.conf"
	IP[$p]=$(zh_pod_ip "$p")
done
for port in 8080 8081 8999 9000 9001 9002; do
	zh_bg "$B" socat TCP-LISTEN:$port,reuseaddr,fork SYSTEM:"echo b-$port"
done
zh_bg "$B" "$FLOWS" serve tcp:7000
apply "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"},\"spec\":{\"podCIDR\":\"10.95.20.0/24\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"$NODE_IP\"}]}}"
apply "$(ns x '{"kubernetes.io/metadata.name":"x","ns":"x"}')"
apply "$(ns y '{"kubernetes.io/metadata.name":"y","ns":"y"}')"
apply "$(pod x a '{"app":"a"}' "${IP[$A]}")"
apply "$(pod x b '{"app":"b"}' "${IP[$B]}" '[{"name":"web","containerPort":8080}]')"
apply "$(pod y c '{"app":"c"}' "${IP[$C]}")"
eventually grep -q "NetworkPolicy compiled and written" "$LOG"
sync_policy

DENY_B='{"podSelector":{"matchLabels":{"app":"b"}},"policyTypes":["Ingress"]}'
B_FROM_A='{"podSelector":{"matchLabels":{"app":"b"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"a"}}}],"ports":[{"port":8080},{"port":7000}]}]}'
B_FROM_Y='{"podSelector":{"matchLabels":{"app":"b"}},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"ns":"y"}}}],"ports":[{"port":"web"}]}]}'

# --- cases ------------------------------------------------------------------

case_open() {
	check "no policy: a reaches b" tcp "$A" "${IP[$B]}" 8080
	check "no policy: c reaches b" tcp "$C" "${IP[$B]}" 8081
	check "the node reaches b" tcp_node "${IP[$B]}" 8080
	check "FORWARD drops on the node: only zerohop delivers" \
		zh_node iptables -C FORWARD -j DROP
}

case_default_deny_in() {
	local before
	before=$(stat_of drop_policy_ingress)
	apply "$(netpol x deny-b "$DENY_B")"
	sync_policy
	check_not "deny-all ingress: a cannot reach b" tcp "$A" "${IP[$B]}" 8080
	check_not "... nor c" tcp "$C" "${IP[$B]}" 8081
	check "counted as drop_policy_ingress" grew drop_policy_ingress "$before"
	check "a kubelet-style probe from the node reaches the deny-all pod" \
		tcp_node "${IP[$B]}" 8081
	check "/metrics: b's class counts denied first packets" \
		eventually metric_gt_re 'zerohop_policy_class_packets_total\{class="[0-9]+",result="denied"\}' 0
	check "/metrics: event to enforcement latency observed" \
		metric_gt_re 'zerohop_policy_event_to_enforcement_seconds_count' 0
}

case_selectors() {
	apply "$(netpol x b-from-a "$B_FROM_A")"
	sync_policy
	check "podSelector: a reaches b on 8080" tcp "$A" "${IP[$B]}" 8080
	check_not "... not on 8081" tcp "$A" "${IP[$B]}" 8081
	check_not "podSelector alone is x only: c cannot" tcp "$C" "${IP[$B]}" 8080
	check "zerohopctl policy: b is selected by x/b-from-a and x/deny-b" \
		ctl_policy "${IP[$B]}" '.ingressPolicies == ["x/b-from-a", "x/deny-b"] and .state.isolatedIngress'
	check "zerohopctl policy: a -> b:8080 allowed, the maps say" \
		ctl_policy "${IP[$B]}" '.flows[1].verdict == "allowed"' --peer "${IP[$A]}" --port 8080
	check "zerohopctl policy: c -> b:8080 denied by b's ingress" \
		ctl_policy "${IP[$B]}" '.flows[1].verdict == "drop_policy_ingress"' --peer "${IP[$C]}" --port 8080
	apply "$(netpol x b-from-y "$B_FROM_Y")"
	sync_policy
	check "namespaceSelector + named port web (8080 on b): c reaches b" \
		tcp "$C" "${IP[$B]}" 8080
	check_not "... not on 8081" tcp "$C" "${IP[$B]}" 8081
	delpol x b-from-y
	sync_policy
	check_not "that policy deleted: c cannot again" tcp "$C" "${IP[$B]}" 8080
	check "a still can" tcp "$A" "${IP[$B]}" 8080
}

case_ports_ipblock() {
	apply "$(netpol x b-range "{\"podSelector\":{\"matchLabels\":{\"app\":\"b\"}},\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"10.95.20.0/24\",\"except\":[\"${IP[$C]}/32\"]}}],\"ports\":[{\"port\":9000,\"endPort\":9001}]}]}")"
	sync_policy
	check_not "endPort: 8999 is below the range" tcp "$A" "${IP[$B]}" 8999
	check "9000 is its first port" tcp "$A" "${IP[$B]}" 9000
	check "9001 its last" tcp "$A" "${IP[$B]}" 9001
	check_not "9002 is past it" tcp "$A" "${IP[$B]}" 9002
	check_not "ipBlock except: c's address is excepted" tcp "$C" "${IP[$B]}" 9000
	delpol x b-range
	sync_policy
}

case_default_deny_out() {
	local before
	before=$(stat_of drop_policy_egress)
	apply "$(netpol x a-closed '{"podSelector":{"matchLabels":{"app":"a"}},"policyTypes":["Egress"]}')"
	sync_policy
	check_not "deny-all egress: a cannot reach b though b allows it" \
		tcp "$A" "${IP[$B]}" 8080
	check "counted as drop_policy_egress" grew drop_policy_egress "$before"
	delpol x a-closed
	sync_policy
	check "egress open again" tcp "$A" "${IP[$B]}" 8080
}

case_default_deny_both() {
	apply "$(netpol y closed '{"podSelector":{},"policyTypes":["Ingress","Egress"]}')"
	sync_policy
	check_not "y closed both ways: c cannot reach a" tcp "$C" "${IP[$A]}" 8080
	zh_bg "$C" socat TCP-LISTEN:8080,reuseaddr,fork SYSTEM:"echo b-8080"
	check_not "... and a cannot reach c" tcp "$A" "${IP[$C]}" 8080
	check "the node still probes c" eventually tcp_node "${IP[$C]}" 8080
	delpol y closed
	sync_policy
	check "y open again: a reaches c" tcp "$A" "${IP[$C]}" 8080
}

case_clusterip() {
	apply '{"apiVersion":"v1","kind":"Service","metadata":{"namespace":"x","name":"web"},"spec":{"type":"ClusterIP","clusterIP":"'"$VIP"'","clusterIPs":["'"$VIP"'"],"ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080}]}}'
	apply '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"namespace":"x","name":"web-1","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","ports":[{"name":"http","protocol":"TCP","port":8080}],"endpoints":[{"addresses":["'"${IP[$B]}"'"],"conditions":{"ready":true},"nodeName":"n1"}]}'
	vip_ok() {
		local out
		out=$(zh_in "$1" socat -T 2 - "TCP:$VIP:80,connect-timeout=2" </dev/null 2>&1) || true
		[ "$out" = b-8080 ]
	}
	check "a reaches the ClusterIP whose backend b allows a on 8080" \
		eventually vip_ok "$A"
	check_not "c does not: judged on b's address and port, after DNAT" \
		vip_ok "$C"
}

ping_ok() { zh_in "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; }

# ICMP errors about an approved flow pass as its packets do (netfilter's
# RELATED), whatever the policies say of ICMP; other ICMP is judged as
# itself.
case_icmp_related() {
	apply "$(netpol x a-iso '{"podSelector":{"matchLabels":{"app":"a"}},"policyTypes":["Ingress","Egress"],"egress":[{"to":[{"namespaceSelector":{"matchLabels":{"ns":"y"}}}],"ports":[{"protocol":"UDP","port":7777}]}]}')"
	sync_policy
	check "c's port unreachable reaches isolated a: its UDP socket sees ECONNREFUSED" \
		zh_udp_refused "$A" "${IP[$C]}" 7777
	check_not "c's ping into a is denied: ICMP that relates to no flow of a's" \
		ping_ok "$C" "${IP[$A]}"
	check_not "a's own ping to c is denied by its egress" ping_ok "$A" "${IP[$C]}"
	delpol x a-iso
	sync_policy
	check "a-iso deleted: c pings a" ping_ok "$C" "${IP[$A]}"
}

# A live TCP connection (zh-flows, a request every 10 ms) from a to b:7000.
answered() {
	kill -USR1 "$FLOW_PID"
	sleep 0.3
	tail -n 1 "$ZH_TMP/a.flows" | jq '[.flows[].answered] | add'
}
moving() {
	local n0 n1
	n0=$(answered)
	sleep 1
	n1=$(answered)
	echo "answered $n0 -> $n1"
	[ "$n1" -gt "$n0" ]
}
bumped() { [ "$(metric zerohop_policy_epoch_bumps_total)" -gt "$1" ]; }
case_live_flow() {
	local before bumps
	zh_bg "$A" "$FLOWS" client -i 10 -t 2000 -o "$ZH_TMP/a.flows" "tcp:${IP[$B]}:7000"
	FLOW_PID=${ZH_PIDS[-1]}
	eventually test -s "$ZH_TMP/a.flows"
	check "the flow runs" eventually moving
	apply "$(netpol y unrelated '{"podSelector":{"matchLabels":{"app":"c"}},"policyTypes":["Ingress"],"ingress":[{}]}')"
	apply "$(pod y c '{"app":"c","touched":"1"}' "${IP[$C]}")"
	sync_policy
	check "unrelated changes (a policy, a label): the flow survives" moving
	before=$(stat_of drop_policy_ingress)
	bumps=$(metric zerohop_policy_epoch_bumps_total)
	apply "$(netpol x b-from-a '{"podSelector":{"matchLabels":{"app":"b"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"a"}}}],"ports":[{"port":8080}]}]}')"
	check "its allow revoked: the epoch moves" eventually bumped "$bumps"
	check_not "... and the live flow is cut at its next packet" moving
	check "... by policy" grew drop_policy_ingress "$before"
	apply "$(netpol x b-from-a "$B_FROM_A")"
	sync_policy
	check "allowed again: the same connection resumes" eventually moving
}

case_new_pod() {
	local D="${ZH_PREFIX}-d" before
	before=$(stat_of drop_policy_pending)
	zh_pod_add "$D" "$ZH_TMP/tc.conf"
	IP[$D]=$(zh_pod_ip "$D")
	zh_bg "$D" socat TCP-LISTEN:8080,reuseaddr,fork SYSTEM:"echo b-8080"
	sleep 0.3
	check_not "a new pod, not known to the agent yet: isolated from its first packet" \
		tcp "$A" "${IP[$D]}" 8080
	check "counted as drop_policy_pending" grew drop_policy_pending "$before"
	apply "$(pod x d '{"app":"b"}' "${IP[$D]}" '[{"name":"web","containerPort":8080}]')"
	sync_policy
	check "known (app=b): what b-from-a allows it gets" \
		eventually tcp "$A" "${IP[$D]}" 8080
	check_not "... and nothing more" tcp "$C" "${IP[$D]}" 8080
}

# No allow-all window, no spurious drop across an agent restart: a live
# allowed flow runs, and a denied connection is tried all along.
case_restart() {
	local probes="$ZH_TMP/probes" i
	: >"$probes"
	(
		for i in $(seq 40); do
			TCP_WAIT=0.3 tcp "$C" "${IP[$B]}" 8081 >/dev/null 2>&1 &&
				echo LEAK >>"$probes"
		done
	) &
	ZH_PIDS+=($!)
	local prober=$!
	kill "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	check "agent down: the pins keep enforcing (denied)" \
		check_not_tcp "$C" "${IP[$B]}" 8081
	check "agent down: allowed still allowed" tcp "$A" "${IP[$B]}" 8080
	local n
	n=$(wc -l <"$LOG")
	agent_start
	eventually written_since "$n"
	check "restarted: the first write swept and replaced the maps" \
		written_since "$n"
	check "the live flow never stopped" moving
	wait "$prober" 2>/dev/null || true
	check "no denied connection got through at any time" test ! -s "$probes"
	check "allowed after the restart" tcp "$A" "${IP[$B]}" 8080
	check_not "denied after the restart" tcp "$C" "${IP[$B]}" 8081
	local lost
	kill -TERM "$FLOW_PID"
	eventually final_line
	lost=$(tail -n 1 "$ZH_TMP/a.flows" | jq '[.flows[].resets] | add')
	check "the flow saw no reset" test "$lost" = 0
}
check_not_tcp() { ! tcp "$@"; }
final_line() { tail -n 1 "$ZH_TMP/a.flows" | jq -e .final >/dev/null; }

# --- per-policy counters, audit per namespace ---------------------------------

# pol_count POLICY RESULT: its count in zerohopctl policy -o json (-1: none).
pol_count() {
	zh_node "$ZH_BIN/zerohopctl" policy -o json |
		jq -r --arg p "$1" --arg r "$2" '.policies[$p][$r] // -1'
}
# pol_count_gt POLICY RESULT N
pol_count_gt() { [ "$(pol_count "$1" "$2")" -gt "$3" ]; }
# Allows are credited to the policy whose rules allow the port (b-from-a
# for a -> b:8080); denials to every policy selecting b's ingress.
case_policy_counters() {
	local a0 d0 d1
	a0=$(pol_count x/b-from-a allowed)
	d0=$(pol_count x/deny-b denied)
	d1=$(pol_count x/b-from-a denied)
	check "zerohopctl policy -o json lists x/b-from-a's counters" \
		test "$a0" -ge 0
	check "a reaches b on 8080" tcp "$A" "${IP[$B]}" 8080
	check "a second connection" tcp "$A" "${IP[$B]}" 8080
	check "both allows counted for x/b-from-a" \
		pol_count_gt x/b-from-a allowed $((a0 + 1))
	check "... none for x/deny-b, which allows nothing" \
		test "$(pol_count x/deny-b allowed)" = 0
	check_not "c cannot reach b on 8081" tcp "$C" "${IP[$B]}" 8081
	check "the denial counted for x/deny-b" pol_count_gt x/deny-b denied "$d0"
	check "... and for x/b-from-a (both select b's ingress)" \
		pol_count_gt x/b-from-a denied "$d1"
	check "/metrics: zerohop_policy_packets_total of x/b-from-a, allowed" \
		metric_gt_re 'zerohop_policy_packets_total\{policy="x/b-from-a",result="allowed"\}' "$((a0 + 1))"
	check "/metrics: ... of x/deny-b, denied" \
		metric_gt_re 'zerohop_policy_packets_total\{policy="x/deny-b",result="denied"\}' "$d0"
	check "zerohopctl policy --pod b: the counters of the policies selecting it" \
		ctl_policy "${IP[$B]}" '.policyCounters["x/b-from-a"].allowed >= 2 and .policyCounters["x/deny-b"].denied >= 1'
}

# agent_restart [ARGS]: the agent again (with ARGS), its first write done.
agent_restart() {
	local n
	kill "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	n=$(wc -l <"$LOG")
	agent_start "$@"
	eventually written_since "$n"
}
ns_audit() { # NAME LABELS true|false
	printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s","labels":%s,"annotations":{"zerohop.io/network-policy-audit":"%s"}}}' "$1" "$2" "$3"
}
# bad_audit_ns LIST: zerohopd exits at once, saying why.
bad_audit_ns() {
	local out
	if out=$(zh_node timeout 5 "$ZH_BIN/zerohopd" -i 0 --kubernetes \
		--kubeconfig "$K/kubeconfig" --node-name n1 --network-policy on \
		--network-policy-audit-ns "$1" 2>&1); then
		return 1
	fi
	echo "$out" | grep -q -- "--network-policy-audit-ns: "
}
# Namespace y audits (by its annotation, then by the agent's list): its
# pod c is not isolated, what its policy denies is counted as audited;
# namespace x's b stays isolated.
case_audit_ns() {
	local y_labels='{"kubernetes.io/metadata.name":"y","ns":"y"}' au
	local unrelated='{"podSelector":{"matchLabels":{"app":"c"}},"policyTypes":["Ingress"],"ingress":[{}]}'
	# case_live_flow's y/unrelated lets everything into c: out for now.
	delpol y unrelated
	apply "$(netpol y closed-in '{"podSelector":{},"policyTypes":["Ingress"]}')"
	sync_policy
	check_not "y/closed-in enforced: a cannot reach c" tcp "$A" "${IP[$C]}" 8080
	au=$(pol_count y/closed-in audited)
	apply "$(ns_audit y "$y_labels" true)"
	sync_policy
	check "y annotated to audit: a reaches c" tcp "$A" "${IP[$C]}" 8080
	check "zerohopctl policy: c audits" \
		ctl_policy "${IP[$C]}" '.state.audit and .state.isolatedIngress'
	check "the denial let through is counted as audited" \
		pol_count_gt y/closed-in audited "$au"
	check_not "x's b still enforced: c cannot reach b on 8081" \
		tcp "$C" "${IP[$B]}" 8081
	apply "$(ns_audit y "$y_labels" false)"
	sync_policy
	check_not "annotation off: a cannot reach c again" tcp "$A" "${IP[$C]}" 8080
	agent_restart --network-policy-audit-ns y
	check "--network-policy-audit-ns y: a reaches c" \
		eventually tcp "$A" "${IP[$C]}" 8080
	check "zerohopctl policy: c audits" ctl_policy "${IP[$C]}" '.state.audit'
	check_not "... b (namespace x) still enforced" tcp "$C" "${IP[$B]}" 8081
	check "zerohopd refuses a list that is no namespace names" \
		bad_audit_ns Y
	check "... or one that ends with a comma" bad_audit_ns 'y,'
	agent_restart
	check_not "the agent without the list: a cannot reach c" \
		tcp "$A" "${IP[$C]}" 8080
	delpol y closed-in
	apply "$(netpol y unrelated "$unrelated")"
	sync_policy
	check "y open again: a reaches c" tcp "$A" "${IP[$C]}" 8080
}

# --- IPv6 and dual-stack (issue 16) ------------------------------------------
# Pods of their own, dual-stack (10.95.21.0/24, fd00:95:21::/64), labelled
# apart from the rest: x/a6 (app=a6), x/b6 (app=b6; serves TCP 8080, 8081,
# 9000..9002 on both families), y/c6 (app=c6).
pod2() { # NS NAME LABELS IP4 IP6 [PORTS]: a dual-stack Pod object
	printf '{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"%s","name":"%s","labels":%s},"spec":{"nodeName":"n1","containers":[{"name":"c","ports":%s}]},"status":{"phase":"Running","podIP":"%s","podIPs":[{"ip":"%s"},{"ip":"%s"}]}}' \
		"$1" "$2" "$3" "${6:-[]}" "$4" "$4" "$5"
}
declare -A IP6
A6="${ZH_PREFIX}-a6" B6="${ZH_PREFIX}-b6" C6="${ZH_PREFIX}-c6"
ds_pods() {
	[ -z "${IP6[$A6]:-}" ] || return 0
	zh_conf "$ZH_TMP/ds.conf" netpol6 tc 10.95.21.0/24 fd00:95:21::/64
	local p
	for p in "$A6" "$B6" "$C6"; do
		zh_pod_add "$p" "$ZH_TMP/ds.conf"
		IP[$p]=$(zh_pod_ip "$p")
		IP6[$p]=$(zh_pod_ip "$p" 6)
	done
	for p in 8080 8081 9000 9001 9002; do
		zh_bg "$B6" socat "TCP6-LISTEN:$p,ipv6only=0,reuseaddr,fork" SYSTEM:"echo b-$p"
	done
	apply "$(pod2 x a6 '{"app":"a6"}' "${IP[$A6]}" "${IP6[$A6]}")"
	apply "$(pod2 x b6 '{"app":"b6"}' "${IP[$B6]}" "${IP6[$B6]}" '[{"name":"web6","containerPort":8080}]')"
	apply "$(pod2 y c6 '{"app":"c6"}' "${IP[$C6]}" "${IP6[$C6]}")"
	sync_policy
}
# tcp6 POD IP6 PORT: as tcp, over IPv6.
tcp6() {
	local out
	out=$(zh_in "$1" socat -T 2 - "TCP6:[$2]:$3,connect-timeout=2" </dev/null 2>&1) || true
	[ "$out" = "b-$3" ] || {
		echo "$1 -> [$2]:$3: '$out'"
		return 1
	}
}

case_ipv6() {
	local before
	ds_pods
	check "dual-stack, no policy on b6: a6 reaches b6 over IPv6" \
		eventually tcp6 "$A6" "${IP6[$B6]}" 8080
	check "... c6 too" tcp6 "$C6" "${IP6[$B6]}" 8081
	check "... and over IPv4" tcp "$A6" "${IP[$B6]}" 8080
	before=$(stat_of drop_policy_ingress)
	apply "$(netpol x deny-b6 '{"podSelector":{"matchLabels":{"app":"b6"}},"policyTypes":["Ingress"]}')"
	sync_policy
	check_not "IPv6 default deny: a6 cannot reach b6 over IPv6" \
		tcp6 "$A6" "${IP6[$B6]}" 8080
	check_not "... nor c6" tcp6 "$C6" "${IP6[$B6]}" 8081
	check_not "... nor a6 over IPv4 (dual-stack: both families isolated)" \
		tcp "$A6" "${IP[$B6]}" 8080
	check "counted as drop_policy_ingress" grew drop_policy_ingress "$before"
	apply "$(netpol x b6-from-a6 '{"podSelector":{"matchLabels":{"app":"b6"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"a6"}}}],"ports":[{"port":"web6"}]}]}')"
	sync_policy
	check "IPv6 podSelector + named port: a6 reaches b6 on 8080" \
		tcp6 "$A6" "${IP6[$B6]}" 8080
	check "... over IPv4 as well" tcp "$A6" "${IP[$B6]}" 8080
	check_not "... not on 8081 (port rule)" tcp6 "$A6" "${IP6[$B6]}" 8081
	check_not "... c6 not at all" tcp6 "$C6" "${IP6[$B6]}" 8080
	check "zerohopctl policy: c6 -> b6:8080 over IPv6 denied by b6's ingress" \
		ctl_policy "${IP6[$B6]}" '.flows[1].verdict == "drop_policy_ingress"' --peer "${IP6[$C6]}" --port 8080
	apply "$(netpol x b6-cidr6 "{\"podSelector\":{\"matchLabels\":{\"app\":\"b6\"}},\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"fd00:95:21::/64\",\"except\":[\"${IP6[$C6]}/128\"]}}],\"ports\":[{\"port\":9000,\"endPort\":9001}]}]}")"
	sync_policy
	check "IPv6 ipBlock: a6 reaches b6:9000 from inside fd00:95:21::/64" \
		tcp6 "$A6" "${IP6[$B6]}" 9000
	check "... and 9001, the range's last port" tcp6 "$A6" "${IP6[$B6]}" 9001
	check_not "... not 9002, past it" tcp6 "$A6" "${IP6[$B6]}" 9002
	check_not "ipBlock except: c6's /128 is excepted" tcp6 "$C6" "${IP6[$B6]}" 9000
	check_not "an IPv6 block admits no IPv4 source: a6 over IPv4 to 9000" \
		tcp "$A6" "${IP[$B6]}" 9000
	before=$(stat_of drop_policy_egress)
	apply "$(netpol x a6-eg "{\"podSelector\":{\"matchLabels\":{\"app\":\"a6\"}},\"policyTypes\":[\"Egress\"],\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":\"fd00:95:21::/64\",\"except\":[\"${IP6[$B6]}/128\"]}}]}]}")"
	sync_policy
	check_not "IPv6 egress ipBlock except: a6 cannot reach b6 though b6 allows it" \
		tcp6 "$A6" "${IP6[$B6]}" 8080
	check "counted as drop_policy_egress" grew drop_policy_egress "$before"
	check "... over IPv4 neither (no IPv4 block)" check_not_tcp "$A6" "${IP[$B6]}" 8080
	delpol x a6-eg
	sync_policy
	check "a6's egress open again: it reaches b6 over IPv6" \
		tcp6 "$A6" "${IP6[$B6]}" 8080
	delpol x b6-cidr6
	delpol x b6-from-a6
	delpol x deny-b6
	sync_policy
}

# --- AF_XDP pods (issue 16) -------------------------------------------------
# x/xs (app=xs), dual-stack, UDP 9000 steered into an AF_XDP socket
# (zh-xsk-echo, answering through the socket).
XS="${ZH_PREFIX}-xs"
udp_rr() { # POD ADDR PORT MSG: one datagram, the answer on stdout
	printf '%s' "$4" | zh_in "$1" socat -T1 - "UDP:$2:$3" 2>&1
}
xsk_rr() { [ "$(udp_rr "$1" "$2" 9000 "$3")" = "$3" ]; }
xsk_redirected() { zh_node "$ZH_BIN/zerohopctl" stats -o json | jq .xskRedirected.packets; }
xs_soon() { # CMD...: within five tries
	local i
	for i in 1 2 3 4 5; do "$@" && return 0; done
	return 1
}
xs_vip() { # xs -> 10.96.0.51:80 (b6:8080) answered
	local out
	out=$(zh_in "$XS" socat -T 2 - "TCP:10.96.0.51:80,connect-timeout=2" </dev/null 2>&1) || true
	[ "$out" = b-8080 ] || {
		echo "xs -> 10.96.0.51:80: '$out'"
		return 1
	}
}
xs_send() { # DST MSG: one datagram from xs's AF_XDP socket (xsk_peer)
	nsenter --net="/var/run/netns/$XS" "$ZH_BIN/tests/xsk_peer" \
		"$ZEROHOP_XSK_SOCKET" send eth0 self "$1" 5555 "$2" >>"$ZH_TMP/xs-send.out" 2>&1
}
xs_sent() { # DST MSG FILE: sent, and FILE got it
	xs_send "$1" "$2" || return 1
	sleep 0.2
	grep -q "$2" "$3"
}
case_afxdp() {
	local before xb echo_pid
	ds_pods
	jq '.cniVersion = "1.1.0" | . + {afxdp: {steer: [{proto: "udp", port: 9000}]}}' \
		"$ZH_TMP/ds.conf" >"$ZH_TMP/xs.conf"
	zh_pod_add "$XS" "$ZH_TMP/xs.conf"
	IP[$XS]=$(zh_pod_ip "$XS")
	IP6[$XS]=$(zh_pod_ip "$XS" 6)
	apply "$(pod2 x xs '{"app":"xs"}' "${IP[$XS]}" "${IP6[$XS]}")"
	sync_policy
	zh_bg "$XS" "$ZH_BIN/zh-xsk-echo" --iface eth0 --socket "$ZEROHOP_XSK_SOCKET" \
		>"$ZH_TMP/echo.out" 2>"$ZH_TMP/echo.err"
	echo_pid=${ZH_PIDS[-1]}
	check "the AF_XDP echo registered" eventually grep -q 'eth0 queue 0' "$ZH_TMP/echo.out"
	xb=$(xsk_redirected)
	check "no policy on xs: a's datagram answered through AF_XDP" \
		eventually xsk_rr "$A" "${IP[$XS]}" open
	check "... c's too" xsk_rr "$C" "${IP[$XS]}" open-c
	check "... redirected into the socket" test "$(xsk_redirected)" -gt "$xb"
	apply '{"apiVersion":"v1","kind":"Service","metadata":{"namespace":"x","name":"web6"},"spec":{"type":"ClusterIP","clusterIP":"10.96.0.51","clusterIPs":["10.96.0.51"],"ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080}]}}'
	apply '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"namespace":"x","name":"web6-1","labels":{"kubernetes.io/service-name":"web6"}},"addressType":"IPv4","ports":[{"name":"http","protocol":"TCP","port":8080}],"endpoints":[{"addresses":["'"${IP[$B6]}"'"],"conditions":{"ready":true},"nodeName":"n1"}]}'
	check "no policy on xs: it is a ClusterIP's client (10.96.0.51 -> b6:8080)" \
		eventually xs_vip
	before=$(stat_of drop_policy_ingress)
	apply "$(netpol x deny-xs '{"podSelector":{"matchLabels":{"app":"xs"}},"policyTypes":["Ingress"]}')"
	apply "$(netpol x xs-from-a '{"podSelector":{"matchLabels":{"app":"xs"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"a"}}},{"podSelector":{"matchLabels":{"app":"a6"}}}],"ports":[{"protocol":"UDP","port":9000}]}]}')"
	sync_policy
	xb=$(xsk_redirected)
	check_not "default deny + allow from a: c's datagram never reaches the socket" \
		xsk_rr "$C" "${IP[$XS]}" denied-c
	check_not "... nor c6's over IPv6" xsk_rr "$C6" "[${IP6[$XS]}]" denied-c6
	check "... nothing was steered into the socket" test "$(xsk_redirected)" = "$xb"
	check "... counted as drop_policy_ingress" grew drop_policy_ingress "$before"
	check "a's datagram is answered through AF_XDP" xsk_rr "$A" "${IP[$XS]}" allowed-a
	check "a6's over IPv6 too" xsk_rr "$A6" "[${IP6[$XS]}]" allowed-a6
	check "... both redirected into the socket" test "$(xsk_redirected)" -ge $((xb + 2))
	# Its backend's replies come back from the VIP into the ingress-
	# isolated AF_XDP pod, through its host veth's egress (zh_tc_to_pod,
	# then zh_xdp_pod_xsk): replies of an allowed flow.
	check "xs, ingress isolated, is still that ClusterIP's client" \
		xs_soon xs_vip
	# What the socket sends: xs's egress, judged at its host veth. The
	# echo gives its queue up for zh xsk_peer's socket.
	kill "$echo_pid" 2>/dev/null || true
	wait "$echo_pid" 2>/dev/null || true
	zh_bg "$A" socat -u UDP-RECV:5555 OPEN:"$ZH_TMP/xa.txt",creat,append
	zh_bg "$C" socat -u UDP-RECV:5555 OPEN:"$ZH_TMP/xc.txt",creat,append
	sleep 0.3
	check "unpolicied egress: a datagram the AF_XDP socket sends reaches c" \
		eventually xs_sent "${IP[$C]}" open-c "$ZH_TMP/xc.txt"
	before=$(stat_of drop_policy_egress)
	apply "$(netpol x xs-eg '{"podSelector":{"matchLabels":{"app":"xs"}},"policyTypes":["Egress"],"egress":[{"to":[{"podSelector":{"matchLabels":{"app":"a"}}}]}]}')"
	sync_policy
	xs_send "${IP[$C]}" denied-c || true
	xs_send "${IP[$A]}" allowed-a || true
	sleep 0.3
	check "xs's egress allows a: what the socket sends reaches a" grep -q allowed-a "$ZH_TMP/xa.txt"
	check_not "... and denies c: what it sends there is dropped" grep -q denied-c "$ZH_TMP/xc.txt"
	check "... counted as drop_policy_egress" grew drop_policy_egress "$before"
	for p in deny-xs xs-from-a xs-eg; do delpol x "$p"; done
	sync_policy
}

zh_run_cases case_open case_default_deny_in case_selectors \
	case_ports_ipblock case_default_deny_out case_default_deny_both \
	case_clusterip case_icmp_related case_live_flow case_new_pod case_restart \
	case_policy_counters case_audit_ns case_ipv6 case_afxdp
