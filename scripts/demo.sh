#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# demo.sh - zerohop on one machine, end to end: install dependencies, build,
# start the agent, wire five pods through the real CNI plugin (two on the tc
# datapath, two on XDP, one taking UDP port 7777 with AF_XDP in an
# unprivileged process), send ping, TCP and UDP between them, show the path
# the packets took and a small RTT table. Everything runs in network
# namespaces this script makes (a "node" with FORWARD DROP and forwarding
# off, and the pods), and everything is removed when it ends.
#
#   sudo ./scripts/demo.sh [--no-deps] [--duration SECS]
set -euo pipefail
cd "$(dirname "$0")/.."

DEPS=1
DURATION=2
while [ $# -gt 0 ]; do
	case $1 in
	--no-deps) DEPS=0 ;;
	--duration)
		DURATION=$2
		shift
		;;
	-h | --help)
		sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "demo: unknown option $1 (see --help)" >&2
		exit 2
		;;
	esac
	shift
done
if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (network namespaces, BPF)" >&2
	exit 1
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ $DEPS = 1 ]; then
	say "dependencies (Debian packages)"
	./scripts/deps.sh
fi
say "build"
make -j"$(nproc)" all
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

: "${O:=build}"
ZH_PREFIX="zhdemo"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
trap 'zh_cleanup' EXIT
trap 'exit 130' INT TERM

say "node: a network namespace with iptables FORWARD DROP and ip_forward=0"
zh_node_up
zh_node sysctl -qw net.ipv4.ip_forward=0
zh_node iptables -I FORWARD -j DROP
# Probes (xdpbench's datagrams) and 1 in 100 packets timed per hop.
zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" --sample 100 2>"$ZH_TMP/agent.log"
sleep 0.5
sed 's/^/  /' "$ZH_TMP/agent.log"

say "five pods through the CNI plugin (tc: pod-a pod-b, xdp: pod-c pod-d, AF_XDP: pod-e)"
zh_conf "$ZH_TMP/tc.conf" demo-tc tc 10.81.0.0/24 fd00:81::/64
zh_conf "$ZH_TMP/xdp.conf" demo-xdp xdp 10.82.0.0/24 fd00:82::/64
zh_conf "$ZH_TMP/afxdp.conf" demo-afxdp tc 10.83.0.0/24 fd00:83::/64
jq '.cniVersion = "1.1.0" | . + {afxdp: {steer: [{proto: "udp", port: 7777}]}}' \
	"$ZH_TMP/afxdp.conf" >"$ZH_TMP/afxdp.json.conf"
for p in a b; do zh_pod_add "$ZH_PREFIX-pod-$p" "$ZH_TMP/tc.conf"; done
for p in c d; do zh_pod_add "$ZH_PREFIX-pod-$p" "$ZH_TMP/xdp.conf"; done
zh_pod_add "$ZH_PREFIX-pod-e" "$ZH_TMP/afxdp.json.conf"
A="$ZH_PREFIX-pod-a" B="$ZH_PREFIX-pod-b" C="$ZH_PREFIX-pod-c" D="$ZH_PREFIX-pod-d"
E="$ZH_PREFIX-pod-e"
echo "  ADD result of pod-a:"
jq -c '{interfaces, ips, routes}' "$ZH_TMP/$A.json" | sed 's/^/    /'
echo "  ADD result of pod-e (AF_XDP: the handoff socket in interfaces[].socketPath):"
jq -c '{interfaces}' "$ZH_TMP/$E.json" | sed 's/^/    /'

say "pod-e: a UDP echo on AF_XDP, run as nobody with CAP_NET_RAW only"
chmod 0711 "$ZH_TMP" # the socket lives in there: let nobody through
zh_bg "$E" setpriv --reuid 65534 --regid 65534 --clear-groups \
	--inh-caps=-all,+net_raw --ambient-caps=-all,+net_raw \
	--bounding-set=-all,+net_raw "$ZH_BIN/zh-xsk-echo" --spin \
	>"$ZH_TMP/echo.out" 2>"$ZH_TMP/echo.err"
for _ in $(seq 50); do [ -s "$ZH_TMP/echo.out" ] && break; sleep 0.1; done
sed 's/^/  /' "$ZH_TMP/echo.out" "$ZH_TMP/echo.err"
grep 'xsk:' "$ZH_TMP/agent.log" | sed 's/^/  /'
"$ZH_BIN/zerohopctl" endpoints | sed 's/^/  /'

say "traffic"
B4=$(zh_pod_ip "$B") D4=$(zh_pod_ip "$D") B6=$(zh_pod_ip "$B" 6) E4=$(zh_pod_ip "$E")
before=$(zh_stat redirect)
zh_in "$A" ping -c 3 -i 0.2 "$B4" | tail -n 2 | sed 's/^/  pod-a -> pod-b  /'
zh_in "$A" ping -6 -c 3 -i 0.2 "$B6" | tail -n 1 | sed 's/^/  pod-a -> pod-b (IPv6)  /'
zh_in "$C" ping -c 3 -i 0.2 "$D4" | tail -n 1 | sed 's/^/  pod-c -> pod-d (xdp)  /'
zh_in "$B" timeout 5 socat -T 3 TCP-LISTEN:8080,reuseaddr SYSTEM:'echo "hello from pod-b over TCP"' &
srv=$!
sleep 0.3
echo "  TCP pod-a -> pod-b:8080 answered: $(zh_in "$A" socat -T 3 - "TCP:$B4:8080" </dev/null)"
wait "$srv"
zh_bg "$B" "$ZH_BIN/xdpbench" server --port 7777 2>/dev/null
zh_bg "$D" "$ZH_BIN/xdpbench" server --port 7777 2>/dev/null
zh_bg "$ZH_NODE" "$ZH_BIN/xdpbench" server --bind 10.200.0.1 --port 7777 2>/dev/null
sleep 0.3
zh_in "$A" "$ZH_BIN/xdpbench" client --target "$B4" --count 200 --label udp-a-b \
	-o json | jq -r '"  UDP pod-a -> pod-b: \(.count) requests answered, \(.lost) lost"'
zh_in "$A" "$ZH_BIN/xdpbench" client --target "$E4" --count 200 --label udp-a-e \
	-o json | jq -r '"  UDP pod-a -> pod-e:7777 (AF_XDP): \(.count) requests answered, \(.lost) lost"'
zh_in "$A" ping -c 2 -i 0.2 "$E4" | tail -n 1 | sed 's/^/  pod-a -> pod-e ping (its kernel stack)  /'

say "a Service: ClusterIP 10.96.0.10:7777/udp over pod-b (tc) and pod-d (xdp), in BPF"
"$ZH_BIN/zerohopctl" service add --vip 10.96.0.10 --port 7777 --proto udp \
	--backend "$B4:7777" --backend "$D4:7777" >/dev/null
"$ZH_BIN/zerohopctl" service list | sed 's/^/  /'
zh_in "$A" "$ZH_BIN/xdpbench" client --target 10.96.0.10 --count 200 --label svc \
	-o json | jq -r '"  UDP pod-a -> 10.96.0.10:7777: \(.count) requests answered, \(.lost) lost"'
echo "  conntrack entries (both directions of the flow): $("$ZH_BIN/zerohopctl" conntrack list -o json | jq length)"
echo "  node NAT rules: $(zh_node iptables -t nat -S | grep -c -- '-A ') (kube-proxy would have a chain per Service)"

say "the path: BPF redirect, not the bridge, routing or netfilter"
echo "  fast-path redirects during the traffic above: $(($(zh_stat redirect) - before))"
echo "  node FORWARD chain (DROP everything):"
zh_node iptables -vnL FORWARD | sed -n '3p' | sed 's/^/    /'
echo "  node net.ipv4.ip_forward = $(zh_node sysctl -n net.ipv4.ip_forward)"
"$ZH_BIN/zerohopctl" stats | sed 's/^/  /'

say "RTT, 64-byte UDP request/response, ${DURATION}s per path, interleaved"
"$ZH_BIN/zerohopctl" latency --reset >/dev/null
for r in 1 2; do
	for path in zerohop-tc zerohop-xdp to-afxdp pod-to-node; do
		case $path in
		zerohop-tc) src=$A dst=$B4 ;;
		zerohop-xdp) src=$C dst=$D4 ;;
		to-afxdp) src=$A dst=$E4 ;;
		pod-to-node) src=$A dst=10.200.0.1 ;;
		esac
		zh_in "$src" "$ZH_BIN/xdpbench" client --target "$dst" \
			--duration "$(awk "BEGIN{print $DURATION/2}")" \
			--samples "$ZH_TMP/$path.$r" -o json >/dev/null
	done
done
printf '  %-34s %9s %8s %8s %8s %8s\n' path samples p50_us p90_us p99_us max_us
for path in zerohop-tc zerohop-xdp to-afxdp pod-to-node; do
	case $path in
	zerohop-tc) what="pod -> pod, tc bpf_redirect_peer" ;;
	zerohop-xdp) what="pod -> pod, XDP_REDIRECT" ;;
	to-afxdp) what="pod -> AF_XDP pod (zh-xsk-echo)" ;;
	pod-to-node) what="pod -> node, kernel path" ;;
	esac
	"$ZH_BIN/xdpbench" stats -o json "$ZH_TMP/$path".* |
		jq -r --arg w "$what" '[$w, .count, .p50_us, .p90_us, .p99_us, .max_us] |
			@tsv' | awk -F'\t' '{printf "  %-34s %9d %8.2f %8.2f %8.2f %8.2f\n", $1, $2, $3, $4, $5, $6}'
done

say "where the time goes: per-hop latency recorded by the datapath (zerohopctl latency)"
echo "  egress: pod -> its host veth; deliver: -> the destination pod after our"
echo "  redirect; kernel: -> a pod after the kernel's path (here node -> pod);"
echo "  afxdp: -> into pod-e's AF_XDP socket"
"$ZH_BIN/zerohopctl" latency | sed 's/^/  /'
echo
echo "  For the full comparison (veth, bridge, kube-proxy's iptables and nftables rules, zerohop): make bench"
say "cleaning up (CNI DEL for every pod, namespaces, pins)"
