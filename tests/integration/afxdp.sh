#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# AF_XDP pods end to end: the CNI plugin wires a pod with "afxdp", zerohopd
# takes the socket an unprivileged process in the pod hands it, steered UDP
# reaches that process through AF_XDP while ping, TCP and other UDP ports
# still reach the pod's kernel stack, and every way of cheating the handoff
# is refused, counted, and leaves the agent serving.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhx$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require jq socat setpriv bpftool curl

ECHO="$ZH_BIN/zh-xsk-echo"
PEER="$ZH_BIN/tests/xsk_peer"
SOCK=$ZEROHOP_XSK_SOCKET
SRV="${ZH_PREFIX}-srv"   # AF_XDP, UDP 9000 steered
SRV2="${ZH_PREFIX}-srv2" # AF_XDP too: the other pod of the cheating cases
CLI="${ZH_PREFIX}-cli"   # a plain pod
PORT=9000

# nobody, with CAP_NET_RAW only: what a default Kubernetes pod has.
# shellcheck disable=SC2054 # the commas are setpriv's
UNPRIV=(setpriv --reuid 65534 --regid 65534 --clear-groups
	--inh-caps=-all,+net_raw --ambient-caps=-all,+net_raw
	--bounding-set=-all,+net_raw)

# udp_rr POD ADDR PORT MSG: one datagram, the answer on stdout.
udp_rr() {
	printf '%s' "$4" | zh_in "$1" socat -T1 - "UDP:$2:$3" 2>&1
}

# reg_hex MAGIC VERSION: a 40-byte REGISTER for eth0 queue 0, seq 7, in
# hex (little endian: magic "zhxk" is 7a68786b, version 1 is 0100).
reg_hex() {
	printf '%s%s0100280000000700000065746830%024d%08d%08d' "$1" "$2" 0 0 0
}
steer_n() { bpftool map dump -j pinned "$ZH_PIN_DIR/zh_xsk_steer" | jq length; }

# The unprivileged echo must reach the socket in there: traverse only.
chmod 0711 "$ZH_TMP"
zh_node_up
zh_conf "$ZH_TMP/plain.conf" afx tc 10.251.0.0/24 fd00:251::/64
jq '.cniVersion = "1.1.0" | . + {afxdp: {steer: [{proto: "udp", port: 9000}]}}' \
	"$ZH_TMP/plain.conf" >"$ZH_TMP/xsk.conf"

cni() {
	check "ADD of an AF_XDP pod" zh_pod_add "$SRV" "$ZH_TMP/xsk.conf"
	check "ADD of a second AF_XDP pod" zh_pod_add "$SRV2" "$ZH_TMP/xsk.conf"
	check "ADD of a plain pod" zh_pod_add "$CLI" "$ZH_TMP/plain.conf"
	check "the result names the handoff socket (interfaces[].socketPath)" \
		test "$(jq -r '.interfaces[] | select(.sandbox) | .socketPath' "$ZH_TMP/$SRV.json")" = "$SOCK"
	check "a 1.0.0 result has no socketPath" \
		test "$(jq '[.interfaces[] | select(.socketPath)] | length' "$ZH_TMP/$CLI.json")" = 0
	check "zh_xdp_pod_xsk in native XDP on the pod's eth0" \
		sh -c "ip -d -netns '$SRV' link show eth0 | grep -q ' xdp ' &&
		       ip -d -netns '$SRV' link show eth0 | grep -q 'zh_xdp_pod_xsk'"
	check "the pod's veth has exactly one queue" \
		sh -c "ip -d -netns '$SRV' link show eth0 | grep -q 'numrxqueues 1 '"
	check "endpoints: native XDP, nothing registered" \
		test "$("$ZH_BIN/zerohopctl" endpoints -o json |
			jq -r --arg ns "/var/run/netns/$SRV" '.[] | select(.netns == $ns) | .afxdp |
			"\(.xdpMode) \(.bindMode) \(.registeredQueues | length)/\(.queues) \(.steer[0].proto):\(.steer[0].port)"')" = \
			"native null 0/1 udp:9000"
	SRV_IP=$(zh_pod_ip "$SRV")
	SRV_IP6=$(zh_pod_ip "$SRV" 6)
	CLI_IP=$(zh_pod_ip "$CLI")
	jq --slurpfile r "$ZH_TMP/$SRV.json" '. + {prevResult: $r[0]}' "$ZH_TMP/xsk.conf" \
		>"$ZH_TMP/check.conf"
	check "CHECK of the AF_XDP pod" zh_cni CHECK "$SRV" "$ZH_TMP/check.conf"
	# Its IPv4 rule's key: family 4, UDP, port 9000, the address.
	# shellcheck disable=SC2086 # the octets, one per word
	key="04 11 23 28 $(printf '%02x ' ${SRV_IP//./ })$(printf '00 %.0s' $(seq 12))"
	slot=$("$ZH_BIN/zerohopctl" endpoints -o json |
		jq -r --arg ns "/var/run/netns/$SRV" '.[] | select(.netns == $ns) | .afxdp.slot')
	# shellcheck disable=SC2086
	bpftool map delete pinned "$ZH_PIN_DIR/zh_xsk_steer" key hex $key
	zh_cni CHECK "$SRV" "$ZH_TMP/check.conf" >"$ZH_TMP/check.out" || true
	check "CHECK notices a missing steering rule (code 104)" \
		jq -e '.code == 104 and (.details | test("AF_XDP steering rules"))' "$ZH_TMP/check.out"
	# shellcheck disable=SC2046,SC2086
	bpftool map update pinned "$ZH_PIN_DIR/zh_xsk_steer" key hex $key \
		value hex $(printf '%02x 00 00 00' "$slot") 01 00 00 00
	check "and passes once it is back" zh_cni CHECK "$SRV" "$ZH_TMP/check.conf"
	# A bad "afxdp" is the spec's error (code 7), and leaves nothing behind.
	jq '. + {afxdp: {steer: [{proto: "sctp", port: 1}]}}' "$ZH_TMP/plain.conf" >"$ZH_TMP/bad.conf"
	ip netns add "${ZH_PREFIX}-bad"
	zh_cni ADD "${ZH_PREFIX}-bad" "$ZH_TMP/bad.conf" >"$ZH_TMP/bad.json" || true
	check "a bad afxdp.steer is error 7 naming the field" \
		jq -e '.code == 7 and (.msg | test("afxdp.steer\\[0\\].proto"))' "$ZH_TMP/bad.json"
	check "and leaves no veth behind" \
		test "$(ip -netns "${ZH_PREFIX}-bad" -o link | grep -vc ': lo:')" = 0
}

agent() {
	zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" -i 0 --listen "127.0.0.1:9471" 2>"$ZH_TMP/agent.log"
	AGENT_PID=${ZH_PIDS[-1]}
	MPORT=9471
	for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
	check "zerohopd listens on the handoff socket, mode 0666" \
		test "$(stat -c %a "$SOCK")" = 666
}

# The echo server, as nobody with CAP_NET_RAW only, in the AF_XDP pod.
afxdp() {
	zh_bg "$SRV" "${UNPRIV[@]}" "$ECHO" --iface eth0 --socket "$SOCK" \
		>"$ZH_TMP/echo.out" 2>"$ZH_TMP/echo.err"
	for _ in $(seq 50); do [ -s "$ZH_TMP/echo.out" ] && break; sleep 0.1; done
	check "the unprivileged echo registered: copy mode, native XDP" \
		sh -c "grep -q 'eth0 queue 0: copy mode, native XDP' '$ZH_TMP/echo.out' ||
		       { cat '$ZH_TMP/echo.out' '$ZH_TMP/echo.err'; false; }"
	echo_pid=$(pgrep -f "zh-xsk-echo --iface eth0 --socket $SOCK" | head -1)
	check "it runs as uid 65534 with CAP_NET_RAW alone (CapEff 0x2000)" \
		sh -c "grep -q '^Uid:	65534' /proc/$echo_pid/status &&
		       grep -q '^CapEff:	0000000000002000' /proc/$echo_pid/status"
	before=$("$ZH_BIN/zerohopctl" stats -o json | jq .xskRedirected.packets)
	ok_n=0
	for i in $(seq 20); do
		[ "$(udp_rr "$CLI" "$SRV_IP" $PORT "hello-$i")" = "hello-$i" ] && ok_n=$((ok_n + 1))
	done
	check "20/20 UDP datagrams to :$PORT answered through AF_XDP ($ok_n)" test "$ok_n" = 20
	check "IPv6 too" test "$(udp_rr "$CLI" "[$SRV_IP6]" $PORT six)" = six
	after=$("$ZH_BIN/zerohopctl" stats -o json | jq .xskRedirected.packets)
	check "xsk_redirect counted them ($before -> $after)" test "$((after - before))" -ge 21
	check "endpoints: copy mode, queue 0 registered" \
		test "$("$ZH_BIN/zerohopctl" endpoints -o json |
			jq -r --arg ns "/var/run/netns/$SRV" '.[] | select(.netns == $ns) | .afxdp |
			"\(.bindMode) \(.registeredQueues)"')" = 'copy [0]'
	check "ping to the AF_XDP pod: its kernel answers" \
		zh_in "$CLI" ping -c 2 -W 1 "$SRV_IP"
	zh_bg "$SRV" socat -T5 TCP-LISTEN:8080,reuseaddr EXEC:'echo tcp-ok'
	sleep 0.3
	check "TCP to the AF_XDP pod: its kernel answers" \
		test "$(zh_in "$CLI" socat -T2 - "TCP:$SRV_IP:8080" </dev/null)" = tcp-ok
	check "UDP to an unsteered port: the kernel (port unreachable)" \
		sh -c "udp_out=\$(printf x | ip netns exec '$CLI' socat -T1 - UDP:$SRV_IP:9001 2>&1); echo \"\$udp_out\" | grep -q 'Connection refused'"
	check "the AF_XDP pod reaches others through its kernel stack" \
		zh_in "$SRV" ping -c 1 -W 1 "$CLI_IP"
	# Services apply as to any pod: the client's egress translates, the
	# socket's answer is turned back into the VIP on its way out.
	"$ZH_BIN/zerohopctl" service add --vip 10.96.0.50 --port 9000 --proto udp \
		--backend "$SRV_IP:$PORT" >/dev/null
	check "a ClusterIP backed by the AF_XDP pod is answered through AF_XDP" \
		test "$(udp_rr "$CLI" 10.96.0.50 9000 via-vip)" = via-vip
	"$ZH_BIN/zerohopctl" service del --vip 10.96.0.50 --port 9000 --proto udp >/dev/null
}

# What an AF_XDP socket sends crosses the host veth's entry like the rest:
# a forged source is dropped there.
anti_spoof() {
	zh_bg "$CLI" socat -u UDP-RECV:5555 OPEN:"$ZH_TMP/recv.txt",creat,append
	sleep 0.3
	spoof0=$(zh_stat drop_spoof_ip)
	nsenter --net="/var/run/netns/$SRV2" "$PEER" "$SOCK" send eth0 10.251.0.99 "$CLI_IP" 5555 forged \
		>"$ZH_TMP/send1.out" 2>&1 || true
	nsenter --net="/var/run/netns/$SRV2" "$PEER" "$SOCK" send eth0 self "$CLI_IP" 5555 genuine \
		>"$ZH_TMP/send2.out" 2>&1 || true
	sleep 0.3
	check "a datagram sent from an AF_XDP socket with the pod's address arrives" \
		grep -q genuine "$ZH_TMP/recv.txt"
	check "one with a forged source address is dropped (drop_spoof_ip)" \
		sh -c "grep -q 'sent' '$ZH_TMP/send1.out' && ! grep -q forged '$ZH_TMP/recv.txt' &&
		       test \"\$('$ZH_BIN/zerohopctl' stats -o json | jq '.dropReasons.drop_spoof_ip.packets')\" -gt '$spoof0'"
}

# Both of two_queues' echos registered; else what they said.
mq_registered() {
	[ -s "$ZH_TMP/mq0.out" ] && [ -s "$ZH_TMP/mq1.out" ] && return 0
	cat "$ZH_TMP/mq0.err" "$ZH_TMP/mq1.err" 2>/dev/null
	return 1
}

# A pod with two queues: a socket on each, flows spread by the veth.
two_queues() {
	MQ="${ZH_PREFIX}-mq"
	jq '.afxdp.queues = 2' "$ZH_TMP/xsk.conf" >"$ZH_TMP/mq.conf"
	check "ADD of a pod with two AF_XDP queues" zh_pod_add "$MQ" "$ZH_TMP/mq.conf"
	check "its veth has two queues" \
		sh -c "ip -d -netns '$MQ' link show eth0 | grep -q 'numrxqueues 2 '"
	# The UMEMs of one user count against its 8 MiB RLIMIT_MEMLOCK together:
	# the echo above has 4 MiB of it, these two 1 MiB each.
	for q in 0 1; do
		zh_bg "$MQ" "${UNPRIV[@]}" "$ECHO" --queue $q --frames 512 --socket "$SOCK" \
			>"$ZH_TMP/mq$q.out" 2>"$ZH_TMP/mq$q.err"
	done
	check "an echo registered on each queue" eventually mq_registered
	MQ_IP=$(zh_pod_ip "$MQ")
	ok_n=0
	for i in $(seq 40); do
		# A datagram the kernel gets instead is refused (port
		# unreachable): socat fails, the count says so.
		r=$(printf 'f%s' "$i" | zh_in "$CLI" socat -T1 - "UDP:$MQ_IP:$PORT,sourceport=$((21000 + i))" 2>&1) || true
		[ "$r" = "f$i" ] && ok_n=$((ok_n + 1))
	done
	check "40 flows over two queues all answered ($ok_n)" test "$ok_n" = 40
	check "endpoints: both queues registered" \
		test "$("$ZH_BIN/zerohopctl" endpoints -o json |
			jq -r --arg ns "/var/run/netns/$MQ" '.[] | select(.netns == $ns) | .afxdp.registeredQueues | length')" = 2
	# Gone already: the check below says so.
	pkill -INT -f "zh-xsk-echo --queue [01] --frames 512 --socket $SOCK" || true
	sleep 0.5
	check "each queue's socket answered some of them" \
		sh -c "grep -q 'answered [1-9]' '$ZH_TMP/mq0.err' && grep -q 'answered [1-9]' '$ZH_TMP/mq1.err'"
}

# Every way of cheating the handoff: refused, counted, and the agent
# serves on.
refused() {
	# The plain pod did not opt in.
	check "a pod without afxdp is refused (not opted in)" \
		sh -c "! zh_out=\$(ip netns exec '$CLI' '$ECHO' --socket '$SOCK' --timeout 1 2>&1); echo \"\$zh_out\" | grep -q 'did not opt in'"
	# Another process in the same pod: the queue is taken (the kernel refuses
	# the bind already).
	# (It must fail at once and say why, not idle into its --timeout.)
	check "a second process for the same queue is refused" \
		sh -c "! nsenter --net=/var/run/netns/$SRV '$ECHO' --socket '$SOCK' --timeout 1 \
			>'$ZH_TMP/second.out' 2>&1 && grep -q 'queue 0.*busy' '$ZH_TMP/second.out'"
	# A pod hands over a socket bound to the other pod's queue (opened, and
	# registered there, by the same process from inside that pod's netns).
	nsenter --net="/var/run/netns/$SRV" "$PEER" "$SOCK" foreign "/var/run/netns/$SRV2" eth0 0 \
		>"$ZH_TMP/foreign.out" 2>&1 || true
	check "a pod handing over another pod's socket is refused" \
		grep -q 'refused.*belongs to another network namespace' "$ZH_TMP/foreign.out"
	nsenter --net="/var/run/netns/$SRV2" "$PEER" "$SOCK" again eth0 1 >"$ZH_TMP/range.out" 2>&1 || true
	check "a queue the pod does not have is refused" \
		grep -q 'refused.*queue 1 out of range' "$ZH_TMP/range.out"
	nsenter --net="/var/run/netns/$SRV2" "$PEER" "$SOCK" again eth0 0 >"$ZH_TMP/busy.out" 2>&1 || true
	check "the same queue twice is refused (busy)" \
		grep -q 'refused.*registered already' "$ZH_TMP/busy.out"
	check "a pipe instead of a socket is refused" \
		sh -c "nsenter --net=/var/run/netns/$SRV2 '$PEER' '$SOCK' fd pipe eth0 0 | grep -q 'not an AF_XDP socket'"
	check "an unbound AF_XDP socket is refused" \
		sh -c "nsenter --net=/var/run/netns/$SRV2 '$PEER' '$SOCK' fd unbound eth0 0 | grep -q 'not bound'"
	# Raw bytes: a bad magic, a version from the future, an oversized message.
	bad_magic=$(reg_hex deadbeef 0100)
	nsenter --net="/var/run/netns/$SRV2" "$PEER" "$SOCK" raw "$bad_magic" >"$ZH_TMP/raw1.out" 2>&1 || true
	check "bad magic: refused, and the agent hangs up" \
		sh -c "grep -q 'refused -71' '$ZH_TMP/raw1.out' && grep -q 'agent hung up' '$ZH_TMP/raw1.out'"
	v2=$(reg_hex 7a68786b 0200)
	nsenter --net="/var/run/netns/$SRV2" "$PEER" "$SOCK" raw "$v2" >"$ZH_TMP/raw2.out" 2>&1 || true
	check "version 2: refused (protocol not supported)" \
		grep -q 'refused -93' "$ZH_TMP/raw2.out"
	nsenter --net="/var/run/netns/$SRV2" "$PEER" "$SOCK" raw "$(reg_hex 7a68786b 0100)" \
		>"$ZH_TMP/nofd.out" 2>&1 || true
	check "REGISTER without an fd is refused, the connection kept" \
		sh -c "grep -q 'refused.*exactly one fd' '$ZH_TMP/nofd.out' && grep -q 'connection open' '$ZH_TMP/nofd.out'"
	big=$(head -c 600 /dev/zero | xxd -p | tr -d '\n')
	nsenter --net="/var/run/netns/$SRV2" "$PEER" "$SOCK" raw "$big" >"$ZH_TMP/raw3.out" 2>&1 || true
	check "a 600-byte message: refused (too long)" \
		grep -q 'refused -90' "$ZH_TMP/raw3.out"
	check "the agent still serves: the echo answers" \
		test "$(udp_rr "$CLI" "$SRV_IP" $PORT still)" = still
	m=$(zh_node curl -fsS "http://127.0.0.1:$MPORT/metrics")
	for r in foreign_socket queue busy not_xsk no_socket unbound malformed version not_opted_in; do
		v=$(echo "$m" | awk -v s="zerohop_xsk_handoffs_total{result=\"$r\"}" '$1 == s { print $2 }')
		check "zerohop_xsk_handoffs_total{result=\"$r\"} >= 1 ($v)" test "${v:-0}" -ge 1
	done
	check "zerohop_xsk_registrations is 1" \
		test "$(echo "$m" | awk '$1 == "zerohop_xsk_registrations" { print $2 }')" = 1
}

teardown() {
	kill "$echo_pid" 2>/dev/null || true
	for _ in $(seq 30); do
		[ "$("$ZH_BIN/zerohopctl" endpoints -o json |
			jq -r --arg ns "/var/run/netns/$SRV" '.[] | select(.netns == $ns) | .afxdp.registeredQueues | length')" = 0 ] && break
		sleep 0.1
	done
	check "the echo's exit ends its registration" \
		test "$("$ZH_BIN/zerohopctl" endpoints -o json |
			jq -r --arg ns "/var/run/netns/$SRV" '.[] | select(.netns == $ns) | .afxdp.registeredQueues | length')" = 0
	nosock0=$("$ZH_BIN/zerohopctl" stats -o json | jq '.passReasons.pass_xsk_no_socket.packets')
	check "steered UDP then goes to the kernel (port unreachable)" \
		sh -c "printf x | ip netns exec '$CLI' socat -T1 - UDP:$SRV_IP:$PORT 2>&1 | grep -q 'Connection refused'"
	check "and is counted as pass_xsk_no_socket" \
		test "$("$ZH_BIN/zerohopctl" stats -o json | jq '.passReasons.pass_xsk_no_socket.packets')" -gt "$nosock0"
	check "DEL of the AF_XDP pod" zh_cni DEL "$SRV" "$ZH_TMP/xsk.conf"
	check "its steering rules are gone" \
		sh -c "! bpftool map dump pinned '$ZH_PIN_DIR/zh_xsk_steer' | grep -q '\"slot\": 0,'"
	check "DEL again is fine" zh_cni DEL "$SRV" "$ZH_TMP/xsk.conf"
	# A pod that dies without DEL: its netns goes, its veth with it, and the
	# agent's sweep (SIGHUP: now) takes its rules out.
	n0=$(steer_n)
	ip netns del "$SRV2"
	# The kernel tears the netns (and the veth) down in the background: a sweep
	# before the veth is gone finds nothing to do, so ask again until it has
	# (a moment here, seconds under emulation).
	for _ in $(seq 60); do
		kill -HUP "$AGENT_PID"
		sleep 0.5
		[ "$(steer_n)" -lt "$n0" ] && break
	done
	check "a pod gone without DEL: the agent's sweep removes its rules ($n0 -> $(steer_n))" \
		test "$(steer_n)" = $((n0 - 2))
	check "the agent's log names every refusal" \
		test "$(grep -c 'refused' "$ZH_TMP/agent.log")" -ge 9
}

zh_run_cases cni agent afxdp anti_spoof two_queues refused teardown
