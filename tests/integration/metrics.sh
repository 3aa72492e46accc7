#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# zerohopd --listen: /metrics, /healthz, /readyz served from the node netns
# this script makes (loopback only: nothing listens anywhere else), scraped
# with curl while pods made by the real plugin send traffic; the body checked
# by promtool. Everything is removed on every exit path.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhm$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require curl promtool jq ping nsenter ss bpftool

# --- helpers -----------------------------------------------------------------
# A port nothing in the node netns listens on.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		[ -n "$(zh_node ss -Hltn "sport = :$p")" ] || {
			echo "$p"
			return 0
		}
	done
	return 1
}

# http_code PATH [CURL ARGS...]: the status code of a request to the agent.
http_code() {
	local path=$1
	shift
	zh_node curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$URL$path"
}
expect_code() { # expect_code WANT PATH [CURL ARGS...]
	local want=$1 got
	shift
	got=$(http_code "$@")
	[ "$got" = "$want" ] || {
		echo "HTTP $got, expected $want"
		return 1
	}
}
body_is() { # body_is WANT PATH
	local got
	got=$(zh_node curl -s --max-time 5 "$URL$2")
	[ "$got" = "$1" ] || {
		echo "body: '$got', expected '$1'"
		return 1
	}
}

# scrape FILE: GET /metrics into FILE; fails unless it is a 200.
scrape() {
	local code
	code=$(zh_node curl -s -o "$1" -D "$1.headers" -w '%{http_code}' \
		--max-time 5 "$URL/metrics")
	[ "$code" = 200 ] || {
		echo "HTTP $code"
		return 1
	}
}

# value FILE SERIES: the sample's value, e.g.
#   value m.txt 'zerohop_packets_total{action="redirect"}'
value() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }

value_is() { # value_is FILE SERIES WANT
	local got
	got=$(value "$1" "$2")
	[ "$got" = "$3" ] || {
		echo "$2 = '$got', expected '$3'"
		return 1
	}
}

# wait_http URL: until the agent answers /healthz (5 s at most).
wait_http() {
	for _ in $(seq 1 50); do
		zh_node curl -s -o /dev/null --max-time 1 "$1/healthz" && return 0
		sleep 0.1
	done
	return 1
}

# listeners: every TCP listening address in the node netns, one a line.
listeners() { zh_node ss -Hltn | awk '{ print $4 }'; }

# refused ADDR: zerohopd --listen ADDR exits 2 with a message naming ADDR.
refused() {
	local rc=0
	zh_node "$ZH_BIN/zerohopd" --listen "$1" 2>"$ZH_TMP/bad.err" || rc=$?
	cat "$ZH_TMP/bad.err"
	[ "$rc" = 2 ] || {
		echo "exit $rc"
		return 1
	}
	grep -qF -- "'$1'" "$ZH_TMP/bad.err"
}

# count_is FILE REGEX WANT: how many lines of FILE match.
count_is() {
	local got
	got=$(grep -c -- "$2" "$1")
	[ "$got" = "$3" ] || {
		echo "$got lines match '$2', expected $3"
		return 1
	}
}

increasing() { # increasing N...: each greater than the one before
	local prev=$1
	shift
	for n in "$@"; do
		[ "$n" -gt "$prev" ] || return 1
		prev=$n
	done
}

promtool_ok() { # promtool_ok FILE: valid, and not one lint complaint
	local out
	out=$(promtool check metrics <"$1" 2>&1) || {
		echo "$out"
		return 1
	}
	[ -z "$out" ] || {
		echo "$out"
		return 1
	}
}

# --- setup -------------------------------------------------------------------
zh_node_up

listen() {
	# Refused before anything is loaded: exit 2, and no pins appear.
	for bad_addr in nonsense 127.0.0.1 127.0.0.1:0 127.0.0.1:65536 \
		::1:9464 '[::1:9464' 999.0.0.1:9464 localhost:9464 '127.0.0.1: 80'; do
		check "--listen '$bad_addr' exits 2 with a message naming it" \
			refused "$bad_addr"
	done
	check "a refused --listen loads nothing" test ! -e "$ZH_PIN_DIR"
	check "--help documents --listen" \
		sh -c "'$ZH_BIN/zerohopd' --help | grep -q -- '--listen \[ADDR:\]PORT'"

	PORT=$(free_port) || {
		echo "metrics: no free port"
		exit 1
	}
	URL="http://127.0.0.1:$PORT"
	# Every packet from a pod timed: the latency histograms fill. A port
	# alone means 127.0.0.1: nothing off the node, no pod, reaches it.
	zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" -i 1 --sample 1 --listen "$PORT" \
		2>"$ZH_TMP/agent.log"
	AGENT=${ZH_PIDS[-1]}
	check "agent answers on 127.0.0.1:$PORT (--listen $PORT)" wait_http "$URL"
	check "it listens on that address only (loopback of the node netns)" \
		test "$(listeners)" = "127.0.0.1:$PORT"

	rc=0
	zh_node timeout 10 "$ZH_BIN/zerohopd" --listen "127.0.0.1:$PORT" \
		2>"$ZH_TMP/inuse.err" || rc=$?
	check "a port in use: exit 1" test "$rc" = 1
	check "... with a message naming the address" \
		grep -qF "127.0.0.1:$PORT: Address already in use" "$ZH_TMP/inuse.err"
	check "... and the first agent still serves" expect_code 200 /healthz
}

http() {
	check "/healthz: 200" expect_code 200 /healthz
	check "/healthz says ok" body_is ok /healthz
	check "/readyz: 200" expect_code 200 /readyz
	check "/readyz says ready" body_is ready /readyz
	check "/nope: 404" expect_code 404 /nope
	check "POST /metrics: 405" expect_code 405 /metrics -X POST -d x=1
	check "DELETE /healthz: 405" expect_code 405 /healthz -X DELETE
	check "HEAD /metrics: 200" expect_code 200 /metrics -I

	# /readyz is a real check: the pins, not a flag. Unpin zh_endpoints (the
	# agent's fd keeps the map alive), then pin it again by id.
	pin="$ZH_PIN_DIR/zh_endpoints"
	map_id=$(bpftool map show pinned "$pin" -j | jq -r .id)
	rm -f "$pin"
	check "/readyz: 503 while zh_endpoints is not pinned" expect_code 503 /readyz
	bpftool map pin id "$map_id" "$pin"
	check "/readyz: 200 once it is pinned again" expect_code 200 /readyz
}

# --- pods and traffic --------------------------------------------------------
metrics() {
	conf="$ZH_TMP/tc.conf"
	a="${ZH_PREFIX}-a" b="${ZH_PREFIX}-b"
	zh_conf "$conf" zhmet tc 10.96.0.0/24
	check "ADD pod a (tc)" zh_pod_add "$a" "$conf"
	check "ADD pod b (tc)" zh_pod_add "$b" "$conf"
	a4=$(zh_pod_ip "$a") b4=$(zh_pod_ip "$b")
	check "ping a -> b" zh_in "$a" ping -c 3 -i 0.2 -W 1 "$b4"
	check "ping b -> a" zh_in "$b" ping -c 3 -i 0.2 -W 1 "$a4"

	m0="$ZH_TMP/m0.txt"
	check "GET /metrics: 200" scrape "$m0"
	check "Content-Type is the text format 0.0.4" \
		grep -qi '^content-type: text/plain; version=0.0.4' "$m0.headers"
	check "promtool check metrics: clean" promtool_ok "$m0"
	for fam in zerohop_packets_total:counter zerohop_bytes_total:counter \
		zerohop_drops_total:counter zerohop_drop_bytes_total:counter \
		zerohop_endpoints:gauge zerohop_map_entries:gauge \
		zerohop_map_max_entries:gauge zerohop_agent_start_time_seconds:gauge \
		zerohop_build_info:gauge zerohop_hop_latency_seconds:histogram \
		zerohop_latency_config:gauge \
		zerohop_socket_lb_translations_total:counter \
		zerohop_socket_lb_refused_total:counter \
		zerohop_socket_lb_attached:gauge \
		zerohop_vxlan_packets_total:counter; do
		check "HELP and TYPE ${fam#*:} for ${fam%:*}" \
			sh -c "grep -q '^# HELP ${fam%:*} ' '$m0' &&
			       grep -qx '# TYPE ${fam%:*} ${fam#*:}' '$m0'"
	done
	check "zerohop_endpoints 2" value_is "$m0" zerohop_endpoints 2
	# lib.sh: ZEROHOP_SOCKET_LB=off (socklb.sh checks the counters on).
	check "socket-level LB off: 8 hooks, none attached" count_is "$m0" \
		'^zerohop_socket_lb_attached{hook="[a-z]*[46]"} 0$' 8
	check "routing native: 5 VXLAN series, all 0" count_is "$m0" \
		'^zerohop_vxlan_packets_total{event="[a-z_]*"} 0$' 5
	check "zerohop_map_entries{map=\"zh_endpoints\"} 2" \
		value_is "$m0" 'zerohop_map_entries{map="zh_endpoints"}' 2
	check "zerohop_map_max_entries{map=\"zh_endpoints\"} 65536" \
		value_is "$m0" 'zerohop_map_max_entries{map="zh_endpoints"}' 65536
	# As many reasons as zerohopctl knows, with the pass_/drop_ prefix stripped.
	"$ZH_BIN/zerohopctl" stats -o json >"$ZH_TMP/stats.json"
	n_pass=$(jq '.passReasons | length' "$ZH_TMP/stats.json")
	n_drop=$(jq '.dropReasons | length' "$ZH_TMP/stats.json")
	check "a packets and a bytes series for each of the $n_pass pass reasons" \
		sh -c "grep -q 'zerohop_packets_total{action=\"pass\",reason=\"no_endpoint\"} ' '$m0' &&
		       grep -q 'zerohop_bytes_total{action=\"pass\",reason=\"no_endpoint\"} ' '$m0'"
	check "... $n_pass packets series" count_is "$m0" \
		'^zerohop_packets_total{action="pass",reason="[a-z_]*"} [0-9]*$' "$n_pass"
	check "... $n_pass bytes series" count_is "$m0" \
		'^zerohop_bytes_total{action="pass",reason="[a-z_]*"} [0-9]*$' "$n_pass"
	check "... $n_drop drops series, e.g. reason=\"spoof_mac\"" \
		sh -c "grep -q '^zerohop_drops_total{reason=\"spoof_mac\"} ' '$m0' &&
		       [ \$(grep -c '^zerohop_drops_total{reason=\"[a-z_]*\"} [0-9]*\$' '$m0') = $n_drop ]"
	check "... $n_drop drop bytes series" count_is "$m0" \
		'^zerohop_drop_bytes_total{reason="[a-z_]*"} [0-9]*$' "$n_drop"
	check "zerohop_build_info{version=...} 1" \
		grep -qx 'zerohop_build_info{version="[^"]*"} 1' "$m0"
	now=$(date +%s)
	check "zerohop_agent_start_time_seconds is within the last minute" \
		awk -v n="$now" '$1 == "zerohop_agent_start_time_seconds" {
			exit !($2 > n - 60 && $2 <= n + 1) }' "$m0"
	lat='hop="deliver",source="sample"'
	n_lat=$(value "$m0" "zerohop_hop_latency_seconds_count{$lat}")
	check "deliver latency: 12 pings in and out, all timed ($n_lat)" \
		test "${n_lat:-0}" -ge 12
	check "... its +Inf bucket equals _count" value_is "$m0" \
		"zerohop_hop_latency_seconds_bucket{$lat,le=\"+Inf\"}" "$n_lat"
	check "... buckets never decrease, 100 ns to 10 s" awk -v s="$lat" '
		index($1, "zerohop_hop_latency_seconds_bucket{" s ",") == 1 {
			n++; if ($2 < prev) bad = 1; prev = $2 }
		END { exit !(n == 26 && !bad) }' "$m0"
	check "... _sum is positive and below 1 s per packet" awk -v s="$lat" -v n="$n_lat" '
		$1 == "zerohop_hop_latency_seconds_sum{" s "}" { ok = $2 > 0 && $2 < n }
		END { exit !ok }' "$m0"
	check "zerohop_latency_config reports sampling 1 in 1" value_is "$m0" \
		'zerohop_latency_config{setting="sample_every"}' 1
	r0=$(value "$m0" 'zerohop_packets_total{action="redirect"}')
	check "redirect counter > 0 after the pings ($r0)" test "${r0:-0}" -gt 0
	check "redirect bytes > 0" \
		test "$(value "$m0" 'zerohop_bytes_total{action="redirect"}')" -gt 0

	# Scrapes during traffic see the counter grow: nothing is cached.
	zh_in "$a" ping -c 60 -i 0.05 -W 1 "$b4" >"$ZH_TMP/ping.out" 2>&1 &
	ping_pid=$!
	ZH_PIDS+=("$ping_pid")
	sleep 0.5
	check "scrape during traffic" scrape "$ZH_TMP/m1.txt"
	sleep 1
	check "scrape during traffic, again" scrape "$ZH_TMP/m2.txt"
	# Its own status is not the point: the counters below are.
	wait "$ping_pid" || true
	r1=$(value "$ZH_TMP/m1.txt" 'zerohop_packets_total{action="redirect"}')
	r2=$(value "$ZH_TMP/m2.txt" 'zerohop_packets_total{action="redirect"}')
	check "redirect counter grows during traffic ($r0 < $r1 < $r2)" \
		increasing "${r0:-0}" "${r1:-0}" "${r2:-0}"
	check "promtool check metrics during traffic: clean" promtool_ok "$ZH_TMP/m2.txt"

	# A spoofed source address is dropped and shows up by reason.
	zh_in "$a" ip addr add 10.250.0.9/32 dev eth0
	# Not answered: dropped on the way.
	zh_in "$a" ping -c 2 -i 0.2 -W 1 -I 10.250.0.9 "$b4" >/dev/null 2>&1 || true
	check "scrape after spoofing" scrape "$ZH_TMP/m3.txt"
	check "zerohop_drops_total{reason=\"spoof_ip\"} > 0" \
		test "$(value "$ZH_TMP/m3.txt" 'zerohop_drops_total{reason="spoof_ip"}')" -gt 0

	check "DEL pod b" zh_cni DEL "$b" "$conf"
	check "scrape after DEL" scrape "$ZH_TMP/m4.txt"
	check "zerohop_endpoints 1 after DEL" value_is "$ZH_TMP/m4.txt" zerohop_endpoints 1
}

# --- IPv6 and shutdown ---------------------------------------------------------
ipv6() {
	if grep -q '::1/128' <<<"$(zh_node ip -6 addr show dev lo)"; then
		zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" --listen "[::1]:$PORT" \
			2>"$ZH_TMP/agent6.log"
		agent6=${ZH_PIDS[-1]}
		check "agent answers on [::1]:$PORT" wait_http "http://[::1]:$PORT"
		check "/metrics over IPv6 passes promtool" sh -c \
			"nsenter --net=/var/run/netns/$ZH_NODE curl -sg 'http://[::1]:$PORT/metrics' |
			 promtool check metrics"
		check "[::1] is IPv6 only: 127.0.0.1:$PORT is still the first agent's" \
			sh -c "[ \$(nsenter --net=/var/run/netns/$ZH_NODE ss -Hltnp 'sport = :$PORT' | wc -l) = 2 ]"
		kill -TERM "$agent6"
		rc=0
		wait "$agent6" || rc=$?
		check "SIGTERM: the IPv6 agent exits 0" test "$rc" = 0
	else
		zh_case_skip "no ::1 in the node netns"
	fi
}

services() {
	check "a Service added with zerohopctl" "$ZH_BIN/zerohopctl" service add \
		--vip 10.96.5.5 --port 80 --proto tcp --backend "$b4:8080"
	m2="$ZH_TMP/m2.txt"
	check "GET /metrics" scrape "$m2"
	check "zerohop_map_entries{map=\"zh_services\"} 1" \
		value_is "$m2" 'zerohop_map_entries{map="zh_services"}' 1
	check "zerohop_map_entries{map=\"zh_backends\"} 1" \
		value_is "$m2" 'zerohop_map_entries{map="zh_backends"}' 1
	check "... and zh_ct, zh_affinity, zh_node_addrs have series" \
		sh -c "grep -q '^zerohop_map_max_entries{map=\"zh_ct\"} ' '$m2' &&
		       grep -q '^zerohop_map_entries{map=\"zh_affinity\"} ' '$m2' &&
		       grep -q '^zerohop_map_entries{map=\"zh_node_addrs\"} ' '$m2'"
	check "promtool check metrics: clean" promtool_ok "$m2"
}

shutdown() {
	kill -TERM "$AGENT"
	rc=0
	wait "$AGENT" || rc=$?
	check "SIGTERM: the agent exits 0" test "$rc" = 0
	check "... logs its exit" grep -q "exiting; pins stay" "$ZH_TMP/agent.log"
	check "... stops listening" test -z "$(listeners)"
	check "... and leaves the pins" test -e "$ZH_PIN_DIR/zh_endpoints"
	check "no warnings in the agent's log" \
		sh -c "! grep -i 'warn' '$ZH_TMP/agent.log'"
}

zh_run_cases listen http metrics ipv6 services shutdown
