#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# zerohopd --kubernetes end to end: a scripted API server
# (tests/k8s/apiserver.py, HTTPS, bearer token, the real list/watch
# protocol) in a node netns, the agent following it, pods wired by the
# real plugin, and traffic to a ClusterIP through a node with
# `iptables -I FORWARD -j DROP` and ip_forward=0: only the datapath can
# carry it. API events move the traffic (backends added, terminating,
# removed); a bad object is left out while the rest is served; a missed
# delete is caught by the relist after 410 (in the stream, or as an HTTP
# status); the API going away leaves the datapath serving and the agent
# catches up when it returns; a rotated token is read again; a server
# with another CA is refused; watches the server ends are resumed; the
# node's CNI configuration is written once the Services are programmed,
# and the real plugin takes it; traffic policies Local, from a pod and
# from outside through a node port; the health check node port; 10 000
# Services in one sync.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhk$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
# shellcheck source=tests/k8s/lib.sh
. tests/k8s/lib.sh
zh_start
zh_require jq socat nsenter iptables curl openssl python3 ethtool

CTL="$ZH_BIN/zerohopctl"
K="$ZH_TMP/k8s"
LOG="$ZH_TMP/agent.log"
METRICS=127.0.0.1:19464
mkdir -p "$K" "$ZH_TMP/netd"

# --- the node, the API server, the agent --------------------------------------
zh_node_up
zh_node sysctl -qw net.ipv4.ip_forward=0
zh_node iptables -I FORWARD -j DROP
zh_uplink_up

tests/k8s/mkcerts.sh "$K" >/dev/null
echo "token-one" >"$K/server-token"
cp "$K/server-token" "$K/agent-token"

# api_start: the API server in the node netns (the agent is there too),
# on $K/port (kept across restarts), with $K/state.json if there is one.
api_start() {
	local port=0 objs=()
	[ -s "$K/port" ] && port=$(cat "$K/port")
	[ -s "$K/state.json" ] && objs=(--objects "$K/state.json")
	rm -f "$K/port.new" "$K/cport"
	zh_bg "$ZH_NODE" python3 tests/k8s/apiserver.py --cert "$K/server.crt" \
		--key "$K/server.key" --token-file "$K/server-token" \
		--port "$port" --port-file "$K/port.new" --watch-timeout-max 3 \
		--control-port-file "$K/cport" "${objs[@]}" 2>>"$K/api.log"
	API_PID=$!
	eventually test -s "$K/port.new"
	mv "$K/port.new" "$K/port"
}
# ctl COMMAND [JSON]: the API server's control port.
ctl() {
	local body=${2:-'{}'}
	zh_node curl -sf -XPOST "127.0.0.1:$(cat "$K/cport")/$1" -d "$body"
}
# kubeconfig FILE CA: our credentials, trusting CA.
kubeconfig() {
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
current-context: t
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:$(cat "$K/port")", certificate-authority: $2}
contexts:
- name: t
  context: {cluster: c, user: u}
users:
- name: u
  user: {tokenFile: agent-token}
EOF
}
api_start
kubeconfig "$K/kubeconfig" ca.crt

zh_conf "$ZH_TMP/tc.conf" k8s-tc tc 10.95.9.0/24
C="${ZH_PREFIX}-c" B1="${ZH_PREFIX}-b1" B2="${ZH_PREFIX}-b2"
zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" -i 0 --xsk-socket none \
	--service-cidr 10.96.0.0/12 --nodeport-dev "$UPLINK" \
	--listen "$METRICS" --kubernetes \
	--kubeconfig "$K/kubeconfig" --node-name n1 \
	--cni-conf-dir "$ZH_TMP/netd" \
	--cni-afxdp '{"steer": [{"proto": "udp", "port": 9000}]}' 2>"$LOG"
eventually grep -q "k8s: following" "$LOG"
for p in "$C" "$B1" "$B2"; do zh_pod_add "$p" "$ZH_TMP/tc.conf"; done
declare -A IP
for p in "$C" "$B1" "$B2"; do IP[$p]=$(zh_pod_ip "$p"); done
zh_bg "$B1" socat TCP-LISTEN:8080,reuseaddr,fork SYSTEM:"echo b1"
zh_bg "$B2" socat TCP-LISTEN:8080,reuseaddr,fork SYSTEM:"echo b2"

# --- objects ---------------------------------------------------------------------
# node NAME PODCIDR INTERNALIP
node() {
	printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s"},"spec":{"podCIDR":"%s","podCIDRs":["%s"]},"status":{"addresses":[{"type":"InternalIP","address":"%s"},{"type":"Hostname","address":"%s"}]}}' \
		"$1" "$2" "$2" "$3" "$1"
}
# service NAME IP [PORT]: a ClusterIP Service, port 80 -> 8080 by name.
service() {
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"namespace":"default","name":"%s"},"spec":{"type":"ClusterIP","clusterIP":"%s","clusterIPs":["%s"],"ports":[{"name":"http","protocol":"TCP","port":%s,"targetPort":8080}]}}' \
		"$1" "$2" "$2" "${3:-80}"
}
# ep POD READY SERVING TERMINATING
ep() {
	printf '{"addresses":["%s"],"conditions":{"ready":%s,"serving":%s,"terminating":%s},"nodeName":"n1"}' \
		"${IP[$1]}" "$2" "$3" "$4"
}
# slice SVC EP,...: its one EndpointSlice.
slice() {
	printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"namespace":"default","name":"%s-abc","labels":{"kubernetes.io/service-name":"%s"}},"addressType":"IPv4","ports":[{"name":"http","protocol":"TCP","port":8080}],"endpoints":[%s]}' \
		"$1" "$1" "$2"
}
apply() { ctl apply "$1" >/dev/null; }

# --- what the agent programmed and serves -----------------------------------
# The maps know a service by VIP, port and protocol: "VIP:PORT" (TCP).
SELECT='.services[] | select("\(.vip):\(.port)" == $k and .proto == "tcp")'
# backends VIP:PORT: "ip/state ..." of that service in the maps, sorted.
backends() {
	zh_node "$CTL" service list -o json |
		jq -r --arg k "$1" "$SELECT"' |
			[.backends[] | "\(.ip)/\(.state)"] | sort | join(" ")'
}
backends_are() { [ "$(backends "$1")" = "$2" ]; }
# has NAME WANT: eventually, backends NAME is WANT.
has() {
	eventually backends_are "$1" "$2" || {
		echo "service $1: backends '$(backends "$1")', want '$2'"
		return 1
	}
}
present() {
	zh_node "$CTL" service list -o json |
		jq -e --arg k "$1" "$SELECT" >/dev/null
}
absent() { eventually eval "! present '$1'"; }
# answers NS HOST:PORT: who answers 20 connections from netns NS, sorted
# and unique ("none" for each that got no answer).
answers() {
	local i
	for i in $(seq 20); do
		zh_in "$1" socat -T 2 - "TCP:$2,connect-timeout=2" </dev/null || echo none
	done | sort -u | tr '\n' ' '
}
# answers_is VIP WANT: from pod C to VIP:80; ext_answers_is PORT WANT:
# from outside to the node's PORT.
answers_want() {
	local got
	got=$(answers "$1" "$2")
	[ "$got" = "$3" ] || {
		echo "answers from $2: '$got', want '$3'"
		return 1
	}
}
answers_is() { answers_want "$C" "$1:80" "$2"; }
ext_answers_is() { answers_want "$EXT" "192.168.77.1:$1" "$2"; }
metric() {
	zh_node curl -sf "$METRICS/metrics" |
		awk -v m="$1" '$1 == m { print $2 }'
}
readyz() { zh_node curl -sf "$METRICS/readyz" >/dev/null; }

# --- cases --------------------------------------------------------------------
pod_from_written() {
	local p="${ZH_PREFIX}-w"
	zh_pod_add "$p" "$ZH_TMP/written.conf"
	case $(zh_pod_ip "$p") in 10.95.0.*) ;; *) return 1 ;; esac
	[ "$(zh_node "$CTL" endpoints -o json | jq -r --arg ns "/var/run/netns/$p" \
		'.[] | select(.netns == $ns) | .afxdp | "\(.xdpMode) \(.steer[0].proto):\(.steer[0].port)"')" \
		= "native udp:9000" ]
}

case_sync() {
	apply "[$(node n1 10.95.0.0/24 192.168.77.1), $(node n2 10.95.1.0/24 192.168.77.3),
		$(service web 10.96.0.10), $(slice web "$(ep "$B1" true true false)")]"
	check "web is programmed with b1" has 10.96.0.10:80 "${IP[$B1]}/ready"
	check "/readyz answers 200 once it is" eventually readyz
	check "a ClusterIP connection reaches b1 (FORWARD DROP on the node)" \
		answers_is 10.96.0.10 "b1 "
	# No --cluster-cidr: masquerade waits for the Node objects, then
	# every Node's pod CIDRs are inside (the nftables rule's sets too).
	check "masquerade waited for n1's pod CIDR" grep -q \
		"masquerade off: this node's pod CIDR is not in the node table yet" "$LOG"
	check "masquerade on from the Node objects (no --cluster-cidr)" \
		eventually grep -q "masquerade on: by $UPLINK, 0 + 2 pod CIDR(s) inside" "$LOG"
	check "the nftables rule keeps both Nodes' pod CIDRs and addresses inside" \
		eventually zh_node nft get element inet zerohop_masq keep4 \
		"{ 10.95.0.7, 10.95.1.7, 192.168.77.1, 192.168.77.3 }"
	check "... and masquerades from both (n2's pod CIDR among the sources)" \
		zh_node nft get element inet zerohop_masq pods4 "{ 10.95.1.7 }"
	check "the conflist is written from n1's podCIDRs" eventually \
		jq -e '.plugins[0].ipam.ranges == [[{"subnet":"10.95.0.0/24"}]]' \
		"$ZH_TMP/netd/10-zerohop.conflist"
	check "with --cni-afxdp's steering" jq -e \
		'.plugins[0].afxdp == {"steer": [{"proto": "udp", "port": 9000}]}' \
		"$ZH_TMP/netd/10-zerohop.conflist"
	# The plugin's config as libcni hands it over (the list's name and
	# version; leases in our temp dir, not the host's).
	jq '.plugins[0] + {name, cniVersion} |
		.ipam.dataDir = "'"$ZH_TMP/ipam-k8s"'"' \
		"$ZH_TMP/netd/10-zerohop.conflist" >"$ZH_TMP/written.conf"
	check "the real plugin takes it: a pod gets n1's pod CIDR and AF_XDP" \
		pod_from_written
	check "objects are counted by kind" \
		eventually test "$(metric 'zerohop_k8s_objects{kind="Node"}')" = 2
	# The Node objects are the node table (README: Across nodes): n1 is
	# this node (192.168.77.1 is its uplink's), n2's pod CIDR is routed
	# via n2's InternalIP.
	check "the Node objects are the node table: n2's pod CIDR via its InternalIP" \
		eventually eval "zh_node ip route show 10.95.1.0/24 proto 0x7a | grep -q 'via 192.168.77.3 dev $UPLINK'"
	check "zerohopctl node list: n1 and n2, routing native" \
		eval "zh_node \"\$CTL\" node list -o json | jq -e '.self == \"n1\" and .routing == \"native\" and ([.nodes[].name] | sort) == [\"n1\",\"n2\"]'"
	check_not "no route to n1's own pod CIDR" \
		eval "zh_node ip route show 10.95.0.0/24 proto 0x7a | grep -q ."
}

case_endpoints() {
	apply "$(slice web "$(ep "$B1" true true false),$(ep "$B2" true true false)")"
	check "a second ready endpoint is a second backend" \
		has 10.96.0.10:80 "${IP[$B1]}/ready ${IP[$B2]}/ready"
	check "new connections reach both" answers_is 10.96.0.10 "b1 b2 "
	apply "$(slice web "$(ep "$B1" false true true),$(ep "$B2" true true false)")"
	check "a terminating endpoint keeps its flows and gets no new ones" \
		has 10.96.0.10:80 "${IP[$B1]}/terminating ${IP[$B2]}/ready"
	check "new connections reach b2 only" answers_is 10.96.0.10 "b2 "
	apply "$(slice web "$(ep "$B1" false true true)")"
	check "the last one terminating takes new flows (CategorizeEndpoints)" \
		has 10.96.0.10:80 "${IP[$B1]}/ready"
	apply "$(slice web "$(ep "$B2" true true false)")"
	check "a removed endpoint is no backend" has 10.96.0.10:80 \
		"${IP[$B2]}/ready"
	check "and gets no connection" answers_is 10.96.0.10 "b2 "
	check "the event -> datapath histogram has counted" \
		test "$(metric zerohop_k8s_event_to_datapath_seconds_count)" -gt 0
}

case_bad_object() {
	local before
	before=$(metric 'zerohop_k8s_rejected_total{kind="Service",reason="invalid"}')
	apply "[$(service bad 10.96.0.11 70000), $(service good 10.96.0.12),
		$(slice good "$(ep "$B1" true true false)")]"
	check "a good Service in the same batch is served" \
		has 10.96.0.12:80 "${IP[$B1]}/ready"
	check "the bad one is not" eval "! zh_node \"\$CTL\" service list -o json | jq -e '.services[] | select(.vip == \"10.96.0.11\")'"
	check "and web still is" has 10.96.0.10:80 "${IP[$B2]}/ready"
	check "the bad one is logged, naming it and the field" \
		grep -q "Service default/bad: spec.ports\[0\].port: 70000" "$LOG"
	check "and counted" test \
		"$(metric 'zerohop_k8s_rejected_total{kind="Service",reason="invalid"}')" \
		= $((before + 1))
	apply "$(service bad 10.96.0.11 81)"
	check "fixed, it is served" eventually present 10.96.0.11:81
}

case_relist() {
	local relists
	relists=$(metric 'zerohop_k8s_relists_total{kind="Service"}')
	# The agent's watches go, and its next attempts fail, while good is
	# deleted and the history compacted: the delete is never seen as an
	# event.
	ctl fail '{"status":503,"count":4}' >/dev/null
	ctl disconnect >/dev/null
	ctl delete '{"kind":"Service","namespace":"default","name":"good"}' >/dev/null
	ctl compact >/dev/null
	check "the relist after 410 drops the Service deleted meanwhile" \
		absent 10.96.0.12:80
	check "the Service relist is counted" test \
		"$(metric 'zerohop_k8s_relists_total{kind="Service"}')" -gt "$relists"
	check "what stayed is served" answers_is 10.96.0.10 "b2 "
}

# 410 as an HTTP status (not an event in a 200 stream): a list again too.
case_http_410() {
	local relists
	relists=$(metric 'zerohop_k8s_relists_total{kind="EndpointSlice"}')
	ctl fail '{"status":410,"count":1,"path":"/apis/discovery.k8s.io/v1/endpointslices"}' >/dev/null
	ctl disconnect '{"kind":"EndpointSlice"}' >/dev/null
	check "HTTP 410 on the watch's next request: the slices are listed again" \
		eventually eval '[ "$(metric '"'"'zerohop_k8s_relists_total{kind="EndpointSlice"}'"'"')" -gt "$relists" ]'
	apply "$(slice web "$(ep "$B2" true true false)")"
	check "... and followed again" has 10.96.0.10:80 "${IP[$B2]}/ready"
}

case_api_down() {
	ctl dump >"$K/state.json"
	kill "$API_PID"
	wait "$API_PID" 2>/dev/null || true
	check "with the API gone the datapath serves on" \
		answers_is 10.96.0.10 "b2 "
	check "and the maps keep web" has 10.96.0.10:80 "${IP[$B2]}/ready"
	check "the agent stays ready" readyz
	api_start
	apply "$(slice web "$(ep "$B1" true true false)")"
	check "once the API is back the agent catches up" \
		has 10.96.0.10:80 "${IP[$B1]}/ready"
	check "and traffic follows" answers_is 10.96.0.10 "b1 "
}

refused() { [ "$(ctl stats | jq .unauthorized)" -gt 0 ]; }
case_token() {
	echo "token-two" >"$K/server-token"
	ctl disconnect >/dev/null
	check "the server refuses the old token" eventually refused
	cp "$K/server-token" "$K/agent-token"
	apply "$(slice web "$(ep "$B2" true true false)")"
	check "the rotated token is read again: events flow" \
		has 10.96.0.10:80 "${IP[$B2]}/ready"
}

case_bad_ca() {
	local log="$ZH_TMP/agent-ca.log"
	mkdir -p "$K/other"
	tests/k8s/mkcerts.sh "$K/other" >/dev/null
	kubeconfig "$K/kubeconfig-other" other/ca.crt
	ZEROHOP_PIN_ROOT="${ZEROHOP_PIN_ROOT}-ca" zh_bg "$ZH_NODE" \
		"$ZH_BIN/zerohopd" -i 0 --xsk-socket none --kubernetes \
		--listen 127.0.0.1:19465 --kubeconfig "$K/kubeconfig-other" \
		--node-name n1 2>"$log"
	check "an agent trusting another CA refuses the server" eventually \
		grep -q "k8s: Service list: .*certificate" "$log"
	check "and programs nothing" eval "! grep -q 'services: Kubernetes' $log"
	check "so it is not ready (/readyz 503)" eval \
		"[ \"\$(zh_node curl -s -o /dev/null -w '%{http_code}' 127.0.0.1:19465/readyz)\" = 503 ]"
}
case_split() {
	ctl split '{"enabled":true}' >/dev/null
	apply "$(slice web "$(ep "$B1" true true false),$(ep "$B2" true true false)")"
	check "an event split across chunks (mid-JSON, mid-UTF-8) applies" \
		has 10.96.0.10:80 "${IP[$B1]}/ready ${IP[$B2]}/ready"
	ctl split '{"enabled":false}' >/dev/null
}

# 10 000 Services (each with a slice of two endpoints) in the first sync,
# from a second server and agent (pins of their own).
case_10k() {
	local log="$ZH_TMP/agent-10k.log" root="${ZEROHOP_PIN_ROOT}-10k"
	k8s_api_start "$ZH_TMP/api-10k" --gen-services 10000 >/dev/null
	# Both in this netns: the server listens on its 127.0.0.1.
	ZEROHOP_PIN_ROOT=$root "$ZH_BIN/zerohopd" -i 0 --xsk-socket none \
		--kubernetes --node-name gen-node-0 \
		--kubeconfig "$K8S_API_KUBECONFIG" \
		--map-size services=20100,backends=40100 2>"$log" &
	ZH_PIDS+=($!)
	check "10 000 Services are programmed in one sync" eventually grep -q \
		"services: Kubernetes: 10000 services: 10000 added" "$log"
	check "... and read back from the maps, with their backends" test \
		"$(ZEROHOP_PIN_ROOT=$root "$CTL" service list -o json |
			jq '[.services[] | select(.backends | length == 2)] | length')" = 10000
}
rm_10k_pins() { rm -rf "${ZEROHOP_PIN_ROOT}-10k"; }
zh_defer rm_10k_pins

# hc CODE N: the health check node port answers CODE, localEndpoints N.
hc() {
	local code
	code=$(zh_node curl -s -o "$ZH_TMP/hc.json" -w '%{http_code}' \
		127.0.0.1:32100/healthz) || true
	[ "$code" = "$1" ] &&
		jq -e --argjson n "$2" '.localEndpoints == $n and .serviceProxyHealthy and
			.service == {"namespace": "default", "name": "lbl"}' "$ZH_TMP/hc.json"
}
hc_closed() { ! zh_node curl -s -o /dev/null 127.0.0.1:32100/; }
# lbl_slice NODE: lbl's slice, b1's endpoint on NODE.
lbl_slice() {
	printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"namespace":"default","name":"lbl-1","labels":{"kubernetes.io/service-name":"lbl"}},"addressType":"IPv4","ports":[{"name":"http","protocol":"TCP","port":8080}],"endpoints":[{"addresses":["%s"],"conditions":{"ready":true},"nodeName":"%s"}]}' \
		"${IP[$B1]}" "$1"
}
case_health() {
	apply "[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"namespace\":\"default\",\"name\":\"lbl\"},
		\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.96.0.20\",\"externalTrafficPolicy\":\"Local\",
		\"healthCheckNodePort\":32100,\"ports\":[{\"name\":\"http\",\"port\":80,\"nodePort\":30100}]}},
		$(lbl_slice n2)]"
	check "the health check node port answers 503 without a local endpoint" \
		eventually hc 503 0
	apply "$(lbl_slice n1)"
	check "... and 200, localEndpoints 1, once one is here" eventually hc 200 1
	ctl delete '{"kind":"Service","namespace":"default","name":"lbl"}' >/dev/null
	check "the Service gone, the port closes" eventually hc_closed
}

# np_service POLICY: Service np, NodePort 30200, externalTrafficPolicy
# POLICY; b1 on this node (n1), b2 on n2.
np_service() {
	apply "[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"namespace\":\"default\",\"name\":\"np\"},
		\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.30\",\"externalTrafficPolicy\":\"$1\",
		\"ports\":[{\"name\":\"http\",\"port\":80,\"nodePort\":30200}]}},
		{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{\"namespace\":\"default\",\"name\":\"np-1\",
		\"labels\":{\"kubernetes.io/service-name\":\"np\"}},\"addressType\":\"IPv4\",
		\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080}],
		\"endpoints\":[{\"addresses\":[\"${IP[$B1]}\"],\"nodeName\":\"n1\"},
		{\"addresses\":[\"${IP[$B2]}\"],\"nodeName\":\"n2\"}]}]"
}
case_nodeport_local() {
	np_service Cluster
	check "externalTrafficPolicy Cluster: the node port reaches both" \
		eventually ext_answers_is 30200 "b1 b2 "
	np_service Local
	check "Local: only this node's endpoint answers the node port" \
		eventually ext_answers_is 30200 "b1 "
	check "... while the cluster IP still reaches both" \
		answers_is 10.96.0.30 "b1 b2 "
	ctl delete '{"kind":"Service","namespace":"default","name":"np"}' >/dev/null
}

# The server ends every watch after 3 s: the agent resumes each from its
# version, with no error and no relist, and events keep flowing.
case_watch_timeout() {
	local restarts relists
	restarts=$(metric 'zerohop_k8s_watch_restarts_total{kind="Service"}')
	relists=$(metric 'zerohop_k8s_relists_total{kind="Service"}')
	ctl reset-stats >/dev/null
	sleep 4
	check "watches ended by the server's timeout are opened again" \
		eval '[ "$(ctl stats | jq ".watches.Service")" -ge 1 ]'
	check "... not counted as restarts" test \
		"$(metric 'zerohop_k8s_watch_restarts_total{kind="Service"}')" = "$restarts"
	check "... nor relists" test \
		"$(metric 'zerohop_k8s_relists_total{kind="Service"}')" = "$relists"
	apply "$(slice web "$(ep "$B2" true true false)")"
	check "... and events still come" has 10.96.0.10:80 "${IP[$B2]}/ready"
}

case_uninstall() {
	check "zerohopctl uninstall removes the conflist" \
		"$CTL" uninstall --cni-conf-dir "$ZH_TMP/netd"
	check "... which is gone" test ! -e "$ZH_TMP/netd/10-zerohop.conflist"
	check "... and again is no error" "$CTL" uninstall \
		--cni-conf-dir "$ZH_TMP/netd"
}
rm_ca_pins() { rm -rf "${ZEROHOP_PIN_ROOT}-ca"; }
zh_defer rm_ca_pins

zh_run_cases case_sync case_endpoints case_bad_object case_relist \
	case_http_410 case_api_down case_token case_split case_health \
	case_nodeport_local case_watch_timeout case_bad_ca case_10k case_uninstall
