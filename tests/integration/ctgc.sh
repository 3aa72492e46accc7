#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The conntrack GC end to end: zerohopd sweeping zh_ct every second
# (--ct-gc-interval 1), a client pod and a backend pod wired by the real
# plugin, a ClusterIP Service between them. A closed TCP connection's two
# entries are still there 5 s after its FINs and gone after CLOSING's
# 10 s; an idle open connection's stay, and it still carries data after;
# zerohopctl stats and /metrics count the deletions. With the GC off
# (CTGC_INTERVAL=off) the closed flow's entries stay and the test fails.
# ~20 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhg$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require jq socat nsenter curl

CTL="$ZH_BIN/zerohopctl"
PORT=$((19000 + $$ % 1000))
VIP=10.96.0.10

zh_node_up
zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" -i 0 -v --service-cidr 10.96.0.0/12 \
	--ct-gc-interval "${CTGC_INTERVAL:-1}" --map-size conntrack=4096 \
	--listen "127.0.0.1:$PORT" 2>"$ZH_TMP/agent.log"
for _ in $(seq 1 50); do
	grep -q ready "$ZH_TMP/agent.log" && break
	sleep 0.1
done

zh_conf "$ZH_TMP/tc.conf" gc-tc tc 10.95.0.0/24
C="${ZH_PREFIX}-c" B="${ZH_PREFIX}-b"
zh_pod_add "$C" "$ZH_TMP/tc.conf"
zh_pod_add "$B" "$ZH_TMP/tc.conf"
BIP=$(zh_pod_ip "$B")
# 8080 answers once and closes; 8081 echoes every line.
zh_bg "$B" socat TCP-LISTEN:8080,reuseaddr,fork SYSTEM:"echo b"
zh_bg "$B" socat TCP-LISTEN:8081,reuseaddr,fork EXEC:cat
eventually zh_listening "$B" t 8080
eventually zh_listening "$B" t 8081
cat >"$ZH_TMP/svc.json" <<EOF
{"services": [
 {"name": "once", "vip": "$VIP", "port": 80, "backends": [{"ip": "$BIP", "port": 8080}]},
 {"name": "echo", "vip": "$VIP", "port": 81, "backends": [{"ip": "$BIP", "port": 8081}]}
]}
EOF
"$CTL" service apply -f "$ZH_TMP/svc.json" >/dev/null

# entries CPORT: the zh_ct entries of the client's flow from CPORT (its
# request's, to the VIP, and its reply's, to the client), one a line.
entries() {
	"$CTL" conntrack list -o json |
		jq -r --argjson p "$1" '.[] | select((.dir == "fwd" and .sport == $p) or
			(.dir == "rev" and .dport == $p)) | "\(.dir) \(.state)"'
}
# pair CPORT: both entries of that flow are there.
pair() {
	local got
	got=$(entries "$1")
	echo "$got"
	[ "$(grep -c . <<<"$got")" = 2 ]
}
# closing CPORT: both entries there, CLOSING.
closing() {
	local got
	got=$(entries "$1")
	echo "$got"
	[ "$(grep -c closing <<<"$got")" = 2 ]
}
none() {
	local got
	got=$(entries "$1")
	echo "$got"
	[ -z "$got" ]
}

closed_flow() {
	# An idle connection that stays open (port 45002), through fifos.
	mkfifo "$ZH_TMP/to" "$ZH_TMP/from"
	trap '' PIPE
	zh_in "$C" socat -T 60 - "TCP:$VIP:81,sourceport=45002,connect-timeout=2" \
		<"$ZH_TMP/to" >"$ZH_TMP/from" &
	ZH_PIDS+=($!)
	exec 7>"$ZH_TMP/to" 8<"$ZH_TMP/from"
	first="" second=""
	echo one >&7 || true
	read -r -t 5 first <&8 || true
	check "the open connection through the Service echoes ('$first')" \
		test "$first" = one
	# A request whose connection closes at once (port 45001): its FINs
	# both ways leave its entries CLOSING.
	got=$(zh_in "$C" socat -T 5 - "TCP:$VIP:80,sourceport=45001" </dev/null)
	check "the closed connection was answered ('$got')" test "$got" = b
	check "its two entries are there, CLOSING" closing 45001
	t0=$SECONDS
	sleep 5
	check "5 s later (sweeps every second) they are still there" pair 45001
	check "gone after CLOSING's 10 s" eventually none 45001
	echo "  (gone $((SECONDS - t0)) s after the close)"
	check "the idle open connection's entries stay" pair 45002
	echo two >&7 || true
	read -r -t 5 second <&8 || true
	check "and it still echoes ('$second')" test "$second" = two
	exec 7>&- 8<&-
}

counters() {
	check "zerohopctl stats: sweeps, and the closed flow's 2 entries deleted" \
		sh -c "'$CTL' stats -o json | jq -e '.conntrackGC | .on and .sweeps > 0 and .deleted >= 2 and .lastSweep.read >= 2'"
	check "zerohopctl stats prints it" sh -c "'$CTL' stats | grep -A3 'conntrack GC' | grep -E 'deleted +[0-9]'"
	zh_node curl -s --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$ZH_TMP/metrics"
	check "/metrics: zerohop_conntrack_gc_deleted_total >= 2" \
		awk '$1 == "zerohop_conntrack_gc_deleted_total" && $2 >= 2 { ok = 1 } END { exit !ok }' "$ZH_TMP/metrics"
	check "/metrics: the last sweep's time, duration, live entries" \
		sh -c "grep -E '^zerohop_conntrack_gc_(last_sweep_time_seconds|duration_seconds|live_entries|interval_seconds) ' '$ZH_TMP/metrics' | grep -c . | grep -qx 4"
	check "a debug line per sweep" grep -q "conntrack GC: .* deleted" "$ZH_TMP/agent.log"
	check "zerohopctl conntrack gc: one sweep, the open flow's entries read, none deleted" \
		sh -c "'$CTL' conntrack gc -o json | jq -e '.read >= 2 and .live >= 2 and .deleted == 0'"
	grep "conntrack GC" "$ZH_TMP/agent.log" | tail -n 2
	"$CTL" stats | sed -n '/conntrack GC/,$p'
}

zh_run_cases closed_flow counters
