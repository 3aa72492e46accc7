#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Per-hop latency end to end: pods wired by the real plugin (tc and xdp),
# the agent, traffic, then `zerohopctl latency -o json` read back. Asserts
# that the hops a packet crossed filled, that each hop's p50 is below the
# round trip the sender measured, and that nothing moves while sampling is
# off. Everything lives in namespaces this script makes and removes.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhl$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require jq ping nsenter

CTL="$ZH_BIN/zerohopctl"
LAT="$ZH_TMP/lat.json"

# lat [ARGS...]: zerohopctl latency -o json into $LAT.
lat() { "$CTL" latency -o json "$@" >"$LAT"; }
# count HOP SOURCE: values in that histogram (from $LAT).
count() { jq -r ".hops[] | select(.hop == \"$1\" and .source == \"$2\") | .count" "$LAT"; }
p50() { jq -r ".hops[] | select(.hop == \"$1\" and .source == \"$2\") | .p50_us" "$LAT"; }
total() { jq '[.hops[].count] | add' "$LAT"; }

# count_between HOP SOURCE LO HI
count_between() {
	local n
	n=$(count "$1" "$2")
	((n >= $3 && n <= $4)) || {
		echo "$1/$2: $n values, expected $3..$4"
		jq -c '.hops[]' "$LAT"
		return 1
	}
}

# below HOP SOURCE US: the hop's p50 is below US microseconds.
below() {
	local v
	v=$(p50 "$1" "$2")
	awk -v v="$v" -v lim="$3" 'BEGIN { exit !(v > 0 && v < lim) }' || {
		echo "$1/$2 p50 $v us, expected in (0, $3)"
		return 1
	}
}

# ping_rtt SRC DST [ARGS...]: ping quickly; print the average RTT in µs.
ping_rtt() {
	local src=$1 dst=$2
	shift 2
	zh_in "$src" ping -q -c 50 -i 0.01 -W 1 "$@" "$dst" |
		awk -F'/' '/^rtt/ { printf "%d\n", $5 * 1000 }'
}

zh_node_up
# Forwarding on: the kernel-path hop needs the node to route pod -> pod.
zh_node sysctl -qw net.ipv4.ip_forward=1
zh_conf "$ZH_TMP/tc.conf" lat-tc tc 10.91.0.0/24
zh_conf "$ZH_TMP/xdp.conf" lat-xdp xdp 10.92.0.0/24
A="${ZH_PREFIX}-a" B="${ZH_PREFIX}-b" C="${ZH_PREFIX}-c" D="${ZH_PREFIX}-d"
for p in "$A" "$B"; do zh_pod_add "$p" "$ZH_TMP/tc.conf"; done
for p in "$C" "$D"; do zh_pod_add "$p" "$ZH_TMP/xdp.conf"; done
B4=$(zh_pod_ip "$B") D4=$(zh_pod_ip "$D")

zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" -i 0 2>"$ZH_TMP/agent.log"
for _ in $(seq 1 50); do
	grep -q ready "$ZH_TMP/agent.log" && break
	sleep 0.1
done

defaults() {
	check "the agent turns probes on, and samples 1 in 1000" \
		sh -c "'$CTL' latency -o json | jq -e '.probes == true and .sampleEvery == 1000'"
	check "the table says so" sh -c "'$CTL' latency | grep -q 'probes on, sampling 1 in 1000'"
	lat
	check "nothing recorded before traffic" test "$(total)" = 0
}

# Sampling off (the default samples 1 in 1000, at random: 40 packets
# were timed once in ~25 runs), probes on: ping is no probe.
sampling_off() {
	"$CTL" latency --sample off >/dev/null
	zh_in "$A" ping -q -c 20 -i 0.01 "$B4" >/dev/null
	lat
	check "ping (not a probe) leaves every histogram still" test "$(total)" = 0
}

# every_packet MODE: sampling 1 in 1, two pods on a MODE network.
every_packet() {
	local mode=$1 src=$A dst=$B4 rtt
	[ "$mode" = xdp ] && src=$C dst=$D4
	"$CTL" latency --sample 1 --reset >/dev/null
	lat --reset
	rtt=$(ping_rtt "$src" "$dst")
	lat
	# 50 requests and 50 replies, each delivered once.
	check "deliver/sample has every packet ($rtt us RTT)" \
		count_between deliver sample 100 100
	check "deliver p50 is below the round trip" below deliver sample "$rtt"
	check "no kernel hop on the fast path" sh -c "test $(count kernel sample) = 0 || { jq -c .hops[] $LAT; false; }"
	check "no probe values from ping" test "$(count egress probe)" = 0
}
every_packet_tc() { every_packet tc; }
every_packet_xdp() { every_packet xdp; }

kernel_hop() {
	# IPv4 options (record route) are the kernel's: both ways go through it.
	lat --reset
	rtt=$(ping_rtt "$A" "$B4" -R)
	lat
	check "kernel/sample has every packet ($rtt us RTT)" count_between kernel sample 100 100
	check "kernel p50 is below the round trip" below kernel sample "$rtt"
	check "nothing counted as delivered by us" test "$(count deliver sample)" = 0
}

sampling_1_in_10() {
	"$CTL" latency --sample 10 --reset >/dev/null
	zh_in "$A" ping -q -c 200 -i 0.002 "$B4" >/dev/null
	lat
	# Binomial(400, 1/10): mean 40, sd 6; 15..70 is beyond 4 sd.
	check "about 1 in 10 of 400 packets timed" count_between deliver sample 15 70
}

sampling_off_again() {
	lat --sample off
	before=$(total)
	zh_in "$A" ping -q -c 50 -i 0.01 "$B4" >/dev/null
	lat
	check "counters stay still ($before values)" test "$(total)" = "$before"
	check "config reads back off" jq -e '.sampleEvery == 0' "$LAT"
}

probes() {
	"$CTL" latency --reset >/dev/null
	zh_bg "$B" "$ZH_BIN/xdpbench" server --port 7777
	zh_bg "$ZH_NODE" "$ZH_BIN/xdpbench" server --bind 10.200.0.1 --port 7777
	sleep 0.3
	zh_in "$A" "$ZH_BIN/xdpbench" client --target "$B4" --port 7777 --count 200 \
		-o json >"$ZH_TMP/xb.json" 2>"$ZH_TMP/xb.err"
	xb_p50=$(jq -r '.p50_us | floor' "$ZH_TMP/xb.json")
	lat
	# Requests and replies are probes; the warm-up's too.
	check "egress/probe has requests and replies" count_between egress probe 400 1000
	check "deliver/probe has requests and replies" count_between deliver probe 400 1000
	check "egress p50 is below the client's p50 RTT ($xb_p50 us)" below egress probe "$xb_p50"
	check "deliver p50 is below the client's p50 RTT" below deliver probe "$xb_p50"
	# Host -> pod: never crosses the egress hop, arrives through the kernel.
	"$CTL" latency --reset >/dev/null
	zh_bg "$A" "$ZH_BIN/xdpbench" server --port 7778
	sleep 0.3
	# What arrived is counted below; a lost probe is no failure here.
	zh_node "$ZH_BIN/xdpbench" client --target "$(zh_pod_ip "$A")" --port 7778 \
		--count 50 >/dev/null 2>&1 || true
	lat
	check "host -> pod probes land on the kernel hop" count_between kernel probe 50 1000
	lat --probes off --reset
	zh_in "$A" "$ZH_BIN/xdpbench" client --target "$B4" --port 7777 --count 50 \
		>/dev/null 2>&1 || true
	lat
	check "probes off: nothing recorded" test "$(total)" = 0
}

usage() {
	check_not "--sample rejects garbage" "$CTL" latency --sample 1x
	check_not "--probes rejects garbage" "$CTL" latency --probes maybe
	check_not "zerohopd --sample rejects garbage" "$ZH_BIN/zerohopd" --sample -3
}

zh_run_cases defaults sampling_off every_packet_tc every_packet_xdp kernel_hop \
	sampling_1_in_10 sampling_off_again probes usage
