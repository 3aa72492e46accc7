#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/k8s/apiserver.py, the scripted Kubernetes API server that the
# agent's Kubernetes tests run against, checked with real clients:
#
#   kubectl   discovery, server-side printing (Tables), get -o json, get
#             of one object, watch (-w, JSON and table) seeing an apply
#             and a delete; a wrong token and a rotated one (Unauthorized),
#             a kubeconfig with another CA (the TLS verification fails)
#   curl      the raw protocol: the list's resourceVersion, items without
#             kind, pages (limit/continue), the 401 and 404 Status objects,
#             a watch replayed from a resourceVersion and ended by
#             timeoutSeconds, bookmarks, compaction (410 in the stream,
#             HTTP 410 for a stale list or continue token), expire-watches,
#             disconnect (no terminating chunk), label selectors (!key,
#             key=v, key!=v; an object leaving a watch's selector comes as
#             DELETED), events split across chunks and inside a UTF-8
#             character, injected failures, the stats, --gen-services,
#             periodic bookmarks, gzip, SIGTERM ending watches cleanly
#
# Needs no root and no build output: python3, openssl, curl, jq; without
# kubectl its cases are skipped, saying so.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhk$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
# shellcheck source=tests/k8s/lib.sh
. tests/k8s/lib.sh
zh_start
zh_require_tools python3 openssl curl jq

SEED=tests/unit/data/k8s-services.json
NODES=tests/k8s/nodes.json
k8s_api_start "$ZH_TMP/api" --objects "$SEED" --objects "$NODES"

# --- helpers

# jqt FILE FILTER: FILTER is true of FILE (printing FILE when not). FILE
# may be a pipe, <(...). (jq -e is content with empty input: not us.)
jqt() {
	local c
	c=$(cat "$1")
	[ -n "$c" ] && jq -e "$2" <<<"$c" >/dev/null || {
		echo "not $2:"
		head -c 2000 <<<"$c"
		echo
		false
	}
}
# jqs FILE FILTER: FILTER is true of FILE's JSON lines, slurped (an empty
# file is an empty array).
jqs() {
	jq -se "$2" "$1" >/dev/null || {
		echo "$1: not $2:"
		head -c 2000 "$1"
		echo
		false
	}
}
# says TEXT CMD...: CMD fails and what it prints contains TEXT.
says() {
	local text=$1
	shift
	"$@" >"$ZH_TMP/says.out" 2>&1 && {
		echo "succeeded: $*"
		return 1
	}
	grep -qF -- "$text" "$ZH_TMP/says.out" || {
		echo "want '$text' in:"
		cat "$ZH_TMP/says.out"
		return 1
	}
}
# is WANT CMD...: CMD prints WANT.
is() {
	local want=$1 got
	shift
	got=$("$@")
	[ "$got" = "$want" ] || {
		echo "got '$got', want '$want': $*"
		return 1
	}
}
rv_now() { k8s_ctl stats | jq -r .resourceVersion; }
# svc NAME NAMESPACE IP [LABELS-JSON [ANNOTATIONS-JSON]]: a ClusterIP
# Service, port 80 -> 8080.
svc() {
	jq -nc --arg n "$1" --arg ns "$2" --arg ip "$3" \
		--argjson l "${4:-"{}"}" --argjson a "${5:-"{}"}" '{
		kind: "Service", apiVersion: "v1",
		metadata: {name: $n, namespace: $ns, labels: $l, annotations: $a},
		spec: {type: "ClusterIP", clusterIP: $ip, clusterIPs: [$ip],
		       ipFamilies: ["IPv4"], ipFamilyPolicy: "SingleStack",
		       sessionAffinity: "None", selector: {app: $n},
		       ports: [{name: "http", protocol: "TCP", port: 80, targetPort: 8080}]}}'
}
# slice NAME NAMESPACE SERVICE [LABELS-JSON]: an EndpointSlice of SERVICE.
slice() {
	jq -nc --arg n "$1" --arg ns "$2" --arg s "$3" --argjson l "${4:-"{}"}" '{
		kind: "EndpointSlice", apiVersion: "discovery.k8s.io/v1",
		metadata: {name: $n, namespace: $ns, labels: ({
			"kubernetes.io/service-name": $s,
			"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"} + $l)},
		addressType: "IPv4",
		endpoints: [{addresses: ["10.244.1.99"], nodeName: "kind-worker",
			     conditions: {ready: true, serving: true, terminating: false}}],
		ports: [{name: "http", protocol: "TCP", port: 8080}]}'
}
# apply JSON / delete KIND NAMESPACE NAME: through the control listener.
apply() { k8s_ctl apply "$1" >/dev/null; }
delete() {
	k8s_ctl delete "$(jq -nc --arg k "$1" --arg ns "$2" --arg n "$3" \
		'{kind: $k, namespace: $ns, name: $n}')" >/dev/null
}
# watch_to NAME PATH [CURL-ARG...]: the API PATH (a watch that ends by
# itself) into $ZH_TMP/NAME.out, unbuffered (-N) so that it can be read
# while it lasts; curl's exit status in NAME.rc, its -w output in NAME.w.
watch_to() {
	local name=$1 path=$2 rc=0
	shift 2
	# curl makes its -o file at the first byte: none must be an empty file.
	: >"$ZH_TMP/$name.out"
	k8s_curl "$path" -N -o "$ZH_TMP/$name.out" -w '%{http_code} %{time_total}' "$@" \
		>"$ZH_TMP/$name.w" 2>"$ZH_TMP/$name.err" || rc=$?
	echo "$rc" >"$ZH_TMP/$name.rc"
}
# watch_bg NAME PATH [CURL-ARG...]: watch_to in the background; its PID in
# WATCH_PID (cleanup kills it).
watch_bg() {
	watch_to "$@" &
	WATCH_PID=$!
	ZH_PIDS+=("$WATCH_PID")
}
rc_of() { cat "$ZH_TMP/$1.rc"; }
# names FILE: a list's "namespace/name"s, sorted, one line.
names() { jq -r '[.items[] | (.metadata.namespace // "") + "/" + .metadata.name] | sort | join(" ")' "$1"; }

HAVE_KUBECTL=""
command -v kubectl >/dev/null && HAVE_KUBECTL=1
need_kubectl() {
	[ -n "$HAVE_KUBECTL" ] && return 0
	zh_case_skip "no kubectl (Debian package kubernetes-client; scripts/deps.sh installs it)"
	return 1
}

# --- kubectl

kubectl_get() {
	need_kubectl || return 0
	echo "  --   $(kubectl version --client 2>/dev/null | head -n 1)"
	k8s_kubectl get svc -A -o json >"$ZH_TMP/kget.json"
	jq '{items: [.items[] | select(.kind == "Service")]}' "$SEED" >"$ZH_TMP/seed-svc.json"
	check "get svc -A -o json: the seed's Services" \
		is "$(names "$ZH_TMP/seed-svc.json")" names "$ZH_TMP/kget.json"
	check "... each with kind, uid and a resourceVersion" jqt "$ZH_TMP/kget.json" \
		'.items | length == 8 and all(.kind == "Service" and (.metadata.uid | length) == 36
		 and (.metadata.resourceVersion | test("^[0-9]+$")))'
	check "get svc -A: the server's table (ports, external IP)" \
		grep -Eq '^shop +lb +LoadBalancer +10\.96\.50\.5 +192\.0\.2\.50 +80:31234/TCP,2905:31999/SCTP ' \
		<(k8s_kubectl get svc -A)
	check "get nodes: 3, Ready" is 3 \
		grep -Ec '^kind-(control-plane|worker|worker2) +Ready ' <(k8s_kubectl get nodes)
	check "get endpointslices -A: 9, the IPv6 one too" \
		grep -Eq '^shop +web-x7d2c +IPv6 +8080,8443 +fd00:10:244:1::5,' \
		<(k8s_kubectl get endpointslices -A)
	check "get one Service" is 10.96.100.20 \
		k8s_kubectl get svc -n shop web -o 'jsonpath={.spec.clusterIP}'
	check "get one Node" is 10.244.2.0/24 \
		k8s_kubectl get node kind-worker2 -o 'jsonpath={.spec.podCIDR}'
	check "a missing Service: NotFound" \
		says 'services "nope" not found' k8s_kubectl get svc -n shop nope
}

# has_event FILE TYPE NAME: kubectl --output-watch-events wrote that event
# (FILE is being written: a last, partial object is no error).
has_event() {
	{ jq -c --arg t "$2" --arg n "$3" \
		'select(.type == $t and .object.metadata.name == $n)' "$1" 2>/dev/null || true; } |
		grep -q .
}
kubectl_watch() {
	need_kubectl || return 0
	local kw kt
	# kubectl itself in the background (not k8s_kubectl: $! would be the
	# subshell running the function, and killing it would leave kubectl).
	kubectl --kubeconfig "$K8S_API_KUBECONFIG" --cache-dir "$K8S_API_DIR/kube-cache" \
		get svc -A -w -o json --output-watch-events >"$ZH_TMP/kw.json" 2>"$ZH_TMP/kw.err" &
	kw=$!
	ZH_PIDS+=("$kw")
	kubectl --kubeconfig "$K8S_API_KUBECONFIG" --cache-dir "$K8S_API_DIR/kube-cache" \
		get svc -A -w >"$ZH_TMP/kt.out" 2>&1 &
	kt=$!
	ZH_PIDS+=("$kt")
	check "get svc -A -w, twice: two watches open" \
		k8s_ctl wait-watches '{"kind": "Service", "count": 2, "timeout": 10}'
	check "the JSON watch: the seed's Services ADDED first" \
		eventually has_event "$ZH_TMP/kw.json" ADDED web
	apply "$(svc kw-new shop 10.96.33.3)"
	check "an apply: ADDED" eventually has_event "$ZH_TMP/kw.json" ADDED kw-new
	apply "$(svc kw-new shop 10.96.33.3 '{"v": "2"}')"
	check "an apply again: MODIFIED" eventually has_event "$ZH_TMP/kw.json" MODIFIED kw-new
	delete Service shop kw-new
	check "a delete: DELETED" eventually has_event "$ZH_TMP/kw.json" DELETED kw-new
	check "the table watch printed the new row" \
		eventually grep -Eq '^shop +kw-new +ClusterIP +10\.96\.33\.3 +<none> +80/TCP ' "$ZH_TMP/kt.out"
	kill "$kw" "$kt"
	wait "$kw" "$kt" 2>/dev/null || true
	check "kubectl gone: no watch left open" \
		eventually is 0 eval 'k8s_ctl stats | jq ".openWatches | length"'
}

kubectl_auth() {
	need_kubectl || return 0
	local good
	good=$(cat "$K8S_API_TOKEN_FILE")
	k8s_kubeconfig "$ZH_TMP/bad.kubeconfig" "$K8S_API_CA" not-the-token
	# kubectl 1.20 adds "(Unauthorized)", later ones "(the server has asked
	# for the client to provide credentials)".
	check "a wrong token: Unauthorized" says "You must be logged in to the server" \
		kubectl --kubeconfig "$ZH_TMP/bad.kubeconfig" --cache-dir "$ZH_TMP/kc-bad" get svc -A
	# The token file is read on every request: a rotation takes at once.
	echo rotated-token >"$K8S_API_TOKEN_FILE"
	check "the token rotated: the old one Unauthorized" says "You must be logged in to the server" \
		k8s_kubectl get nodes
	k8s_kubeconfig "$ZH_TMP/rot.kubeconfig" "$K8S_API_CA" rotated-token
	check "... the new one accepted" \
		kubectl --kubeconfig "$ZH_TMP/rot.kubeconfig" --cache-dir "$ZH_TMP/kc-rot" get nodes
	echo "$good" >"$K8S_API_TOKEN_FILE"
	check "the unauthorized requests counted" \
		jqt <(k8s_ctl stats) '.unauthorized >= 2'
}

kubectl_tls() {
	need_kubectl || return 0
	"$K8S_LIB_DIR/mkcerts.sh" "$ZH_TMP/other-ca"
	k8s_kubeconfig "$ZH_TMP/ca.kubeconfig" "$ZH_TMP/other-ca/ca.crt" "$(cat "$K8S_API_TOKEN_FILE")"
	check "another CA: kubectl refuses the server's certificate" \
		says "x509: certificate signed by unknown authority" \
		kubectl --kubeconfig "$ZH_TMP/ca.kubeconfig" --cache-dir "$ZH_TMP/kc-ca" get svc -A
}

# --- the raw protocol

raw_list() {
	local rv tok page=0 code
	k8s_curl /api/v1/services -o "$ZH_TMP/list.json" -D "$ZH_TMP/list.h"
	rv=$(rv_now)
	check "ServiceList v1, metadata.resourceVersion the server's ($rv)" jqt "$ZH_TMP/list.json" \
		".kind == \"ServiceList\" and .apiVersion == \"v1\" and .metadata.resourceVersion == \"$rv\""
	check "items: no kind (as from a real server), each a resourceVersion <= the list's" \
		jqt "$ZH_TMP/list.json" ".items | length == 8 and all(has(\"kind\") | not)
			and all(.metadata.resourceVersion | tonumber <= $rv)"
	check "Content-Type application/json" grep -qi '^content-type: application/json' "$ZH_TMP/list.h"
	check "namespaced list" is 6 eval 'k8s_curl /api/v1/namespaces/shop/services | jq ".items | length"'
	check "EndpointSliceList discovery.k8s.io/v1, 9 items" jqt <(k8s_curl /apis/discovery.k8s.io/v1/endpointslices) \
		'.kind == "EndpointSliceList" and .apiVersion == "discovery.k8s.io/v1" and (.items | length) == 9'
	check "NodeList: podCIDRs, InternalIP" jqt <(k8s_curl /api/v1/nodes) \
		'(.items | length == 3 and all(.spec.podCIDRs[0] != null))
		 and any(.items[].status.addresses[]; .type == "InternalIP" and .address == "172.18.0.3")'
	check "one object: kind and apiVersion" jqt <(k8s_curl /apis/discovery.k8s.io/v1/namespaces/shop/endpointslices/db-q8r4t) \
		'.kind == "EndpointSlice" and .apiVersion == "discovery.k8s.io/v1" and .endpoints[0].nodeName == "kind-worker"'
	code=$(curl -sS --cacert "$K8S_API_CA" -H 'Authorization: Bearer nope' -o "$ZH_TMP/401.json" \
		-w '%{http_code}' "$K8S_API_URL/api/v1/services")
	check "a wrong token: 401" is 401 echo "$code"
	check "... a Status, reason Unauthorized" jqt "$ZH_TMP/401.json" \
		'.kind == "Status" and .apiVersion == "v1" and .status == "Failure" and .reason == "Unauthorized" and .code == 401'
	check "no token: 401 too, discovery included" is 401 \
		curl -sS --cacert "$K8S_API_CA" -o /dev/null -w '%{http_code}' "$K8S_API_URL/version"
	code=$(k8s_curl /api/v1/namespaces/shop/services/nope -o "$ZH_TMP/404.json" -w '%{http_code}')
	check "a missing object: 404, Status NotFound" jqt "$ZH_TMP/404.json" \
		"$code == 404 and .reason == \"NotFound\" and .details.name == \"nope\""
	# Pages of 3, followed to the end: the same Services.
	k8s_curl "/api/v1/services?limit=3" -o "$ZH_TMP/page0.json"
	check "limit=3: 3 items, a continue token, remainingItemCount 5" jqt "$ZH_TMP/page0.json" \
		'(.items | length) == 3 and (.metadata.continue | length) > 0 and .metadata.remainingItemCount == 5'
	tok=$(jq -r .metadata.continue "$ZH_TMP/page0.json")
	while [ -n "$tok" ] && [ "$tok" != null ]; do
		page=$((page + 1))
		k8s_curl "/api/v1/services?limit=3&continue=$tok" -o "$ZH_TMP/page$page.json"
		tok=$(jq -r '.metadata.continue // ""' "$ZH_TMP/page$page.json")
	done
	check "the pages (3) hold the whole list" \
		is "3 $(names "$ZH_TMP/list.json")" \
		echo "$((page + 1)) $(jq -s '{items: [.[].items[]]}' "$ZH_TMP"/page?.json | names /dev/stdin)"
}

raw_watch() {
	local rv0 rv
	rv0=$(rv_now)
	apply "$(svc rw shop 10.96.44.4)"
	apply "$(svc rw shop 10.96.44.4 '{"v": "2"}')"
	delete Service shop rw
	rv=$(rv_now)
	watch_to replay "/api/v1/namespaces/shop/services?watch=1&resourceVersion=$rv0&timeoutSeconds=1" \
		-D "$ZH_TMP/replay.h"
	check "from resourceVersion $rv0: ADDED, MODIFIED, DELETED, replayed in order" \
		jqs "$ZH_TMP/replay.out" "map(.type) == [\"ADDED\", \"MODIFIED\", \"DELETED\"]
			and map(.object.metadata.resourceVersion | tonumber) == [$((rv0 + 1)), $((rv0 + 2)), $rv]
			and all(.object.kind == \"Service\" and .object.apiVersion == \"v1\")"
	check "... DELETED carries the last object" \
		jqs "$ZH_TMP/replay.out" '.[2].object.metadata.labels.v == "2"'
	check "... one event a line" is 3 wc -l <"$ZH_TMP/replay.out"
	check "200, chunked, application/json" eval \
		"grep -q '^HTTP/1.1 200' '$ZH_TMP/replay.h' && grep -qi '^transfer-encoding: chunked' '$ZH_TMP/replay.h' &&
		 grep -qi '^content-type: application/json' '$ZH_TMP/replay.h'"
	check "timeoutSeconds=1: the stream ends cleanly (curl 0) after ~1 s" \
		eval "[ \"\$(rc_of replay)\" = 0 ] && awk '{exit !(\$1 == 200 && \$2 >= 0.9 && \$2 < 3)}' '$ZH_TMP/replay.w'"
	watch_to fresh "/api/v1/namespaces/shop/services?watch=1&timeoutSeconds=1"
	check "without a resourceVersion: every current object ADDED" \
		jqs "$ZH_TMP/fresh.out" 'length == 6 and all(.type == "ADDED")'
}

raw_bookmark() {
	local bm nobm rv
	rv=$(rv_now)
	watch_bg bm "/api/v1/services?watch=1&resourceVersion=$rv&allowWatchBookmarks=true"
	bm=$WATCH_PID
	watch_bg nobm "/api/v1/services?watch=1&resourceVersion=$rv"
	nobm=$WATCH_PID
	k8s_ctl wait-watches '{"kind": "Service", "count": 2}' >/dev/null
	check "bookmark: sent to the one watch that allows them" \
		jqt <(k8s_ctl bookmark) '.count == 1'
	check "... a BOOKMARK: kind, apiVersion, the current resourceVersion" eventually jqs "$ZH_TMP/bm.out" \
		"length == 1 and .[0].type == \"BOOKMARK\" and .[0].object ==
		 {kind: \"Service\", apiVersion: \"v1\", metadata: {resourceVersion: \"$rv\"}}"
	k8s_ctl disconnect >/dev/null
	wait "$bm" "$nobm"
	check "... none to the other" jqs "$ZH_TMP/nobm.out" 'length == 0'
}

raw_compact() {
	local old c tok code ex dc
	old=$(rv_now)
	k8s_curl "/api/v1/services?limit=2" -o "$ZH_TMP/cpage.json"
	tok=$(jq -r .metadata.continue "$ZH_TMP/cpage.json")
	apply "$(svc rc shop 10.96.55.5)"
	c=$(k8s_ctl compact | jq -r .compacted)
	check "compact: at the current resourceVersion" is "$((old + 1))" echo "$c"
	watch_to old "/api/v1/services?watch=1&resourceVersion=$old"
	check "a watch from before it: one ERROR, 410 Expired, then the end (curl 0)" \
		jqs "$ZH_TMP/old.out" "length == 1 and .[0].type == \"ERROR\" and .[0].object ==
			{kind: \"Status\", apiVersion: \"v1\", metadata: {}, status: \"Failure\",
			 message: \"too old resource version: $old ($c)\", reason: \"Expired\", code: 410}"
	check "... curl 0" is 0 rc_of old
	code=$(k8s_curl "/api/v1/services?resourceVersion=$old" -o "$ZH_TMP/gone.json" -w '%{http_code}')
	check "a list at a compacted resourceVersion: HTTP 410, Status Expired" \
		jqt "$ZH_TMP/gone.json" "$code == 410 and .kind == \"Status\" and .reason == \"Expired\" and .code == 410"
	check "... with resourceVersionMatch=NotOlderThan too" is 410 \
		k8s_curl "/api/v1/services?resourceVersion=$old&resourceVersionMatch=NotOlderThan" -o /dev/null -w '%{http_code}'
	check "a continue token from before it: 410" is 410 \
		k8s_curl "/api/v1/services?limit=2&continue=$tok" -o /dev/null -w '%{http_code}'
	check "resourceVersion=0 and the compaction point: 200" is "200 200" \
		echo "$(k8s_curl "/api/v1/services?resourceVersion=0" -o /dev/null -w '%{http_code}')" \
		"$(k8s_curl "/api/v1/services?resourceVersion=$c" -o /dev/null -w '%{http_code}')"
	check "the stats count them" jqt <(k8s_ctl stats) \
		".expired.Service >= 1 and .gone >= 3 and .compacted == \"$c\""

	watch_bg ex "/api/v1/nodes?watch=1&resourceVersion=$c"
	ex=$WATCH_PID
	k8s_ctl wait-watches '{"kind": "Node"}' >/dev/null
	check "expire-watches: one" jqt <(k8s_ctl expire-watches '{"kind": "Node"}') '.count == 1'
	wait "$ex"
	check "... its stream: the 410 ERROR, a clean end" eval \
		"jqs '$ZH_TMP/ex.out' 'length == 1 and .[0].type == \"ERROR\" and .[0].object.code == 410' &&
		 [ \"\$(rc_of ex)\" = 0 ]"

	watch_bg dc "/api/v1/nodes?watch=1"
	dc=$WATCH_PID
	k8s_ctl wait-watches '{"kind": "Node"}' >/dev/null
	check "disconnect: one" jqt <(k8s_ctl disconnect '{"kind": "Node"}') '.count == 1'
	wait "$dc"
	check "... cut: the 3 ADDED, no ERROR, no terminating chunk (curl 18)" eval \
		"jqs '$ZH_TMP/dc.out' 'length == 3 and all(.type == \"ADDED\")' && [ \"\$(rc_of dc)\" = 18 ]"
}

raw_selectors() {
	local rv kp='!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless'
	apply "$(svc plain sel 10.96.66.1 '{"app": "plain"}')"
	apply "$(svc other sel 10.96.66.2 '{"app": "other", "service.kubernetes.io/service-proxy-name": "elsewhere"}')"
	apply "$(slice plain-abcde sel plain)"
	apply "$(slice hl-fghij sel hl '{"service.kubernetes.io/headless": ""}')"
	sel() { k8s_curl "/api/v1/namespaces/sel/services?labelSelector=$1" | names /dev/stdin; }
	check "!key" is sel/plain sel '!service.kubernetes.io/service-proxy-name'
	check "key" is sel/other sel 'service.kubernetes.io/service-proxy-name'
	check "key=value" is sel/plain sel 'app=plain'
	check "key!=value" is sel/other sel 'app!=plain'
	check "comma: AND" is "" sel 'app=plain,service.kubernetes.io/service-proxy-name'
	check "kube-proxy's selector on EndpointSlices: the headless one left out" is sel/plain-abcde \
		eval "k8s_curl '/apis/discovery.k8s.io/v1/namespaces/sel/endpointslices?labelSelector=$kp' | names /dev/stdin"
	check "a bad selector: 400, Status BadRequest" jqt \
		<(k8s_curl '/api/v1/services?labelSelector=a%3D%3D%3Db') '.code == 400 and .reason == "BadRequest"'
	rv=$(rv_now)
	apply "$(svc plain sel 10.96.66.1 '{"app": "plain", "service.kubernetes.io/service-proxy-name": "elsewhere"}')"
	apply "$(svc other sel 10.96.66.2 '{"app": "other"}')"
	watch_to selw "/api/v1/namespaces/sel/services?watch=1&resourceVersion=$rv&timeoutSeconds=1&labelSelector=!service.kubernetes.io/service-proxy-name"
	check "a watch: the object leaving its selector DELETED, the one entering ADDED" \
		jqs "$ZH_TMP/selw.out" 'map([.type, .object.metadata.name]) == [["DELETED", "plain"], ["ADDED", "other"]]'
}

# chunks_check split|whole FILE: FILE is a raw chunked body (curl --raw)
# holding an ADDED and a MODIFIED event. split: every event came in pieces,
# one of them cut inside a UTF-8 character, and put together the lines
# are those events. whole: one chunk an event.
chunks_check() {
	python3 - "$@" <<'PY'
import json, sys
mode, raw = sys.argv[1], open(sys.argv[2], "rb").read()
chunks, i = [], 0
while True:
    j = raw.index(b"\r\n", i)
    n = int(raw[i:j], 16)
    if n == 0:
        break
    chunks.append(raw[j + 2:j + 2 + n])
    assert raw[j + 2 + n:j + 4 + n] == b"\r\n", "chunk framing"
    i = j + 4 + n
mid_line = sum(1 for c in chunks if not c.endswith(b"\n"))
def utf8(c):
    try:
        c.decode()
        return True
    except UnicodeDecodeError:
        return False
mid_char = sum(1 for c in chunks if not utf8(c))
events = [json.loads(l) for l in b"".join(chunks).decode().splitlines()]
print(f"{len(chunks)} chunks, {mid_line} ending mid-line, {mid_char} cutting a character, "
      f"{len(events)} events: {[e['type'] for e in events]}")
ok = ([e["type"] for e in events] == ["ADDED", "MODIFIED"]
      and events[1]["object"]["metadata"]["annotations"]["note"] == "Grüße – 10 €")
if mode == "split":
    ok = ok and mid_line >= len(events) and mid_char >= 1
else:
    ok = ok and mid_line == 0 and len(chunks) == len(events)
sys.exit(0 if ok else 1)
PY
}

raw_split() {
	local rv
	check "split on" jqt <(k8s_ctl split '{"enabled": true}') '.split == true'
	rv=$(rv_now)
	apply "$(svc utf shop 10.96.77.7 '{}' '{"note": "Grüße – 10 €"}')"
	apply "$(svc utf shop 10.96.77.7 '{"v": "2"}' '{"note": "Grüße – 10 €"}')"
	watch_to split "/api/v1/namespaces/shop/services?watch=1&resourceVersion=$rv&timeoutSeconds=1" --raw
	check "each event in 2-3 chunks, one cut inside a UTF-8 character; the lines whole again" \
		chunks_check split "$ZH_TMP/split.out"
	k8s_ctl split '{"enabled": false}' >/dev/null
	watch_to nosplit "/api/v1/namespaces/shop/services?watch=1&resourceVersion=$rv&timeoutSeconds=1" --raw
	check "split off: one chunk an event" chunks_check whole "$ZH_TMP/nosplit.out"
}

raw_faults() {
	local code
	k8s_ctl fail '{"status": 503, "count": 1, "path": "/api/v1/nodes", "retryAfter": 1}' >/dev/null
	code=$(k8s_curl /api/v1/nodes -D "$ZH_TMP/fail.h" -o "$ZH_TMP/fail.json" -w '%{http_code}')
	check "fail: the next request 503, Retry-After 1, a Status" eval \
		"[ $code = 503 ] && grep -qi '^retry-after: 1' '$ZH_TMP/fail.h' &&
		 jqt '$ZH_TMP/fail.json' '.reason == \"ServiceUnavailable\"'"
	check "... the one after it 200" is 200 k8s_curl /api/v1/nodes -o /dev/null -w '%{http_code}'
}

raw_stats() {
	local w
	k8s_ctl reset-stats >/dev/null
	k8s_curl /api/v1/services -o /dev/null
	k8s_curl "/apis/discovery.k8s.io/v1/endpointslices?labelSelector=!service.kubernetes.io/headless" -o /dev/null
	watch_bg st "/apis/discovery.k8s.io/v1/endpointslices?watch=1&resourceVersion=$(rv_now)&allowWatchBookmarks=true&labelSelector=!service.kubernetes.io/headless"
	w=$WATCH_PID
	k8s_ctl wait-watches '{"kind": "EndpointSlice"}' >/dev/null
	check "lists and watches counted by kind; the open watch with its parameters" \
		jqt <(k8s_ctl stats) '.lists == {"Service": 1, "Node": 0, "EndpointSlice": 1, "Pod": 0, "Namespace": 0, "NetworkPolicy": 0}
			and .watches.EndpointSlice == 1 and (.openWatches | length) == 1
			and .openWatches[0].labelSelector == "!service.kubernetes.io/headless"
			and .openWatches[0].resourceVersion == .resourceVersion
			and .openWatches[0].allowWatchBookmarks
			and ([.requests[] | select(.watch)] | length) == 1'
	k8s_ctl disconnect >/dev/null
	wait "$w"
	check "a control command unknown: 404" says "no command" k8s_ctl nonsense
	check "an object of an unknown kind: 400" says "unsupported kind" k8s_ctl apply '{"kind": "ConfigMap", "metadata": {"name": "p"}}'
}

# The last case: a second server with generated objects, then SIGTERM.
gen_sigterm() {
	local w
	k8s_api_start "$ZH_TMP/gen" --gen-services 10000 --gen-nodes 2 --bookmark-every 0.2
	echo "  --   10000 Services listed in" \
		"$(k8s_curl /api/v1/services -o "$ZH_TMP/gsvc.json" -D "$ZH_TMP/gsvc.h" \
			--compressed -w '%{time_total}') s"
	check "--gen-services 10000: ClusterIP Services with a cluster IP, port 80 -> 8080" \
		jqt "$ZH_TMP/gsvc.json" '.items | length == 10000 and all(.spec.type == "ClusterIP"
			and (.spec.clusterIP | startswith("10.100.")) and .spec.ports[0].targetPort == 8080)'
	check "... gzipped for a client that accepts it" grep -qi '^content-encoding: gzip' "$ZH_TMP/gsvc.h"
	k8s_curl /apis/discovery.k8s.io/v1/endpointslices -o "$ZH_TMP/geps.json" --compressed
	check "... one EndpointSlice each, 2 ready endpoints, labelled with its Service" \
		jqt "$ZH_TMP/geps.json" '.items | length == 10000 and all((.endpoints | length) == 2
			and all(.endpoints[]; .conditions.ready) and .metadata.labels["kubernetes.io/service-name"]
			== .metadata.ownerReferences[0].name)'
	check "--gen-nodes 2" is "/gen-node-0 /gen-node-1" eval 'k8s_curl /api/v1/nodes | names /dev/stdin'
	watch_to gbm "/api/v1/nodes?watch=1&resourceVersion=$(rv_now)&allowWatchBookmarks=true&timeoutSeconds=1"
	check "--bookmark-every 0.2: bookmarks on their own" jqs "$ZH_TMP/gbm.out" \
		'length >= 2 and all(.type == "BOOKMARK")'
	watch_bg term "/api/v1/nodes?watch=1&resourceVersion=$(rv_now)"
	w=$WATCH_PID
	k8s_ctl wait-watches >/dev/null
	kill -TERM "$K8S_API_PID"
	check "SIGTERM: the server exits 0" wait "$K8S_API_PID"
	wait "$w"
	check "... after ending the watch cleanly (curl 0)" is 0 rc_of term
}

# The kinds NetworkPolicy needs (issue 16): Pods, Namespaces,
# networking.k8s.io/v1 NetworkPolicies, as kubectl reads them.
kubectl_policy_kinds() {
	need_kubectl || return 0
	check "apply the policy fixture" k8s_ctl apply "@tests/k8s/policy.json"
	k8s_kubectl get pods -A -o json >"$ZH_TMP/pods.json"
	check "get pods -A -o json: the fixture's" \
		is "kube-system/kubelet-probe x/a x/b y/a y/b" names "$ZH_TMP/pods.json"
	check "get pods -o wide: the server's table (IP, node)" \
		grep -Eq '^a +1/1 +Running +0 +[0-9a-z]+ +10\.0\.1\.1 +n1' \
		<(k8s_kubectl get pods -n y -o wide)
	check "get ns: the applied Namespaces" \
		grep -Eq '^y +Active ' <(k8s_kubectl get ns)
	check "get one Namespace: its labels" is blue \
		k8s_kubectl get ns y -o 'jsonpath={.metadata.labels.team}'
	check "get netpol -A: the table (pod selector)" \
		grep -Eq '^x +allow-b +app=a ' <(k8s_kubectl get netpol -A)
	check "get one NetworkPolicy" is 80 \
		k8s_kubectl get networkpolicy -n x allow-b -o 'jsonpath={.spec.ingress[0].ports[0].port}'
	check "a NetworkPolicy's apiVersion" is networking.k8s.io/v1 \
		k8s_kubectl get netpol -n y from-blue -o 'jsonpath={.apiVersion}'
	check "delete one" k8s_ctl delete '{"kind":"NetworkPolicy","namespace":"x","name":"bad"}'
	check "... gone: NotFound" \
		says 'networkpolicies.networking.k8s.io "bad" not found' \
		k8s_kubectl get netpol -n x bad
}

zh_run_cases kubectl_get kubectl_watch kubectl_auth kubectl_tls \
	raw_list raw_watch raw_bookmark raw_compact raw_selectors raw_split raw_faults \
	raw_stats kubectl_policy_kinds gen_sigterm
