#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What any local process can do to zerohopd, and must not hang or starve
# it. The AF_XDP handoff socket is mode 0666:
#   - one network namespace opening hundreds of connections gets
#     MAX_CONNS_PER_NETNS (8) of them, the rest closed at once; a user
#     other than root, from six namespaces, MAX_CONNS_PER_UID (32);
#   - a connection that registers nothing is closed after 5 s;
#   - connections from many namespaces past the agent's file descriptors
#     (RLIMIT_NOFILE 64): accept() fails with EMFILE while connections
#     wait; the agent refuses them and its loop still takes SIGTERM at
#     once (before, it spun on the readable socket for ever), saying so in
#     a bounded number of log lines;
#   - the socket goes only where nobody else may write, and replaces only
#     a socket;
#   - /metrics' server: URLs are logged escaped; 32 clients that send a
#     header line every 0.5 s (each resets MHD's idle timeout) are cut at
#     the request deadline (5 s), and /healthz answers again by then;
#   - a pod gone without DEL loses its endpoint at once (a link event),
#     not at the next sweep, and its addresses: the agent releases the
#     lease through the IPAM plugin, so that the same container can come
#     back; and while its endpoint is still there (no agent running),
#     frames to it count as drop_redirect_failed, not as redirects.
# Everything lives in namespaces and pins this script makes and removes.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhh$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require python3 curl prlimit nsenter jq

LOG="$ZH_TMP/agent.log"
PORT=19473
zh_node_up

# flood N OUT: N connections to the handoff socket, held; OUT gets how
# many connected, then (after 8 s) how many the agent has closed.
flood() {
	python3 - "$ZEROHOP_XSK_SOCKET" "$1" >"$2" <<-'EOF'
		import select, socket, sys, time
		path, n = sys.argv[1], int(sys.argv[2])
		held = []
		for _ in range(n):
		    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
		    try:
		        s.connect(path)
		    except OSError:
		        s.close()
		        continue
		    held.append(s)
		print(len(held), flush=True)
		closed, end = set(), time.time() + 8
		while time.time() < end and len(closed) < len(held):
		    r, _, _ = select.select([s for s in held if s not in closed], [], [], 0.2)
		    for s in r:
		        try:
		            if s.recv(64) == b"":
		                closed.add(s)
		        except OSError:
		            closed.add(s)
		print(len(closed), flush=True)
		time.sleep(60)
	EOF
}

agent_start() {
	zh_bg "$ZH_NODE" "$@" "$ZH_BIN/zerohopd" -i 0 \
		--listen "127.0.0.1:$PORT" 2>"$LOG"
	AGENT=${ZH_PIDS[-1]}
	eventually grep -q 'ready$' "$LOG"
}
agent_stops_at_once() {
	local i
	kill "$AGENT"
	for i in $(seq 30); do
		kill -0 "$AGENT" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}
fds() { find "/proc/$AGENT/fd" -mindepth 1 | wc -l; }

case_per_netns() {
	local base
	agent_start
	base=$(fds)
	flood 200 "$ZH_TMP/flood.out" &
	ZH_PIDS+=($!)
	check "a local process connects 200 times" eventually \
		test -s "$ZH_TMP/flood.out"
	check "the agent keeps at most 8 of them (fds $base -> $(fds))" \
		test "$(fds)" -le $((base + 8))
	check "... and says why, rate-limited" eval \
		'[ "$(grep -c "its network namespace has 8 connections" "$LOG")" -ge 1 ] &&
		 [ "$(grep -c "its network namespace has 8 connections" "$LOG")" -lt 5 ]'
	check "/healthz still answers" zh_node curl -sf -m 2 "127.0.0.1:$PORT/healthz"
	check "every one is closed: the rest at once, the 8 kept idle after 5 s" \
		eventually eval '[ "$(sed -n 2p "$ZH_TMP/flood.out")" = "$(sed -n 1p "$ZH_TMP/flood.out")" ]'
	check "... and the agent's fds are back ($(fds))" test "$(fds)" -le "$base"
	check "SIGTERM ends it at once" agent_stops_at_once
}

case_emfile() {
	local i lines base
	# The limit: what the agent holds once ready (its maps and programs,
	# more with every release), and 16 more for the 96 connections.
	agent_start
	base=$(find "/proc/$AGENT/fd" -mindepth 1 | wc -l)
	kill "$AGENT"
	wait "$AGENT" 2>/dev/null || true
	agent_start prlimit --nofile=$((base + 16))
	for i in $(seq 12); do
		ip netns add "${ZH_PREFIX}-f$i"
		zh_bg "${ZH_PREFIX}-f$i" bash -c "$(declare -f flood); flood 8 '$ZH_TMP/f$i.out'"
	done
	check "12 namespaces connect 8 times each" eventually \
		eval '[ "$(cat "$ZH_TMP"/f*.out 2>/dev/null | wc -l)" -ge 12 ]'
	check "the agent ran out of fds, and said so" eventually \
		grep -q "Too many open files" "$LOG"
	lines=$(grep -c "xsk: accept" "$LOG" || true)
	check "... rate-limited ($lines lines)" test "$lines" -lt 10
	check "SIGTERM still ends it at once" agent_stops_at_once
	check "... saying so" grep -q "signal 15: exiting" "$LOG"
}

# refuses WHY PATH: zerohopd --xsk-socket PATH exits 1 at start saying WHY.
refuses() {
	local rc=0
	timeout 20 nsenter --net="/var/run/netns/$ZH_NODE" "$ZH_BIN/zerohopd" \
		-i 0 --xsk-socket "$2" 2>"$ZH_TMP/refused.log" || rc=$?
	cat "$ZH_TMP/refused.log"
	[ "$rc" = 1 ] && grep -q "$1" "$ZH_TMP/refused.log"
}

# The socket's place: a directory only we (or root) may write, and at the
# path a socket or nothing (before, anything there was unlinked, and the
# chmod after bind followed symlinks).
case_socket_path() {
	local d="$ZH_TMP/sock"
	mkdir -m 0777 "$d"
	check "a directory others may write is refused" \
		refuses "only we (or root) may write" "$d/xsk.sock"
	chmod 0755 "$d"
	ln -s /etc/passwd "$d/xsk.sock"
	check "a symlink at the path is refused, not followed" \
		refuses "no socket: refusing to replace it" "$d/xsk.sock"
	check "... and is still there" test -L "$d/xsk.sock"
	rm "$d/xsk.sock"
	ln -s "$ZH_TMP" "$d/link"
	check "a directory that is a symlink is refused" \
		refuses "only we (or root) may write" "$d/link/xsk.sock"
	python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind(sys.argv[1])' \
		"$d/xsk.sock"
	zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" -i 0 --xsk-socket "$d/xsk.sock" \
		2>"$ZH_TMP/stale.log"
	AGENT=${ZH_PIDS[-1]}
	check "a dead agent's socket is replaced" eventually \
		grep -q 'AF_XDP sockets on .*xsk.sock; ready' "$ZH_TMP/stale.log"
	check "... mode 0666" test "$(stat -c %a "$d/xsk.sock")" = 666
	check "SIGTERM ends it" agent_stops_at_once
}

# A user that is not root, 8 connections from each of six network
# namespaces (within the per-netns limit): 32 kept, the rest closed.
hold_as_nobody() { # hold_as_nobody NETNS OUT: 8 connections, held 60 s
	ip netns exec "$1" setpriv --reuid 65534 --regid 65534 --clear-groups \
		/usr/bin/python3 -c '
import socket, sys, time
held = []
for _ in range(8):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(sys.argv[1])
        held.append(s)
    except OSError:
        pass
print(len(held), flush=True)
time.sleep(60)' "$ZEROHOP_XSK_SOCKET" >"$2"
}
case_per_uid() {
	local base k
	chmod 711 "$ZH_TMP" # nobody may reach the socket (not write there)
	mkdir -m 777 "$ZH_TMP/uid"
	agent_start
	base=$(fds)
	for k in 1 2 3 4 5 6; do
		ip netns add "${ZH_PREFIX}-u$k"
		hold_as_nobody "${ZH_PREFIX}-u$k" "$ZH_TMP/uid/$k" &
		ZH_PIDS+=($!)
	done
	check "uid 65534 connects 8 times from each of 6 netns" eventually \
		eval '[ "$(cat "$ZH_TMP"/uid/* 2>/dev/null | wc -l)" = 6 ]'
	sleep 0.5
	check "the agent keeps 32 of its 48 (fds $base -> $(fds))" \
		test "$(fds)" -le $((base + 32))
	check "... and says why" grep -q "uid 65534 has 32 connections" "$LOG"
	check "SIGTERM ends it" agent_stops_at_once
	chmod 700 "$ZH_TMP"
}

# /metrics' server: a URL goes into the log escaped (MHD has decoded its
# %xx: anything can be in it).
case_http() {
	local log="$ZH_TMP/http.log"
	zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" -v -i 0 --xsk-socket none \
		--listen "127.0.0.1:$PORT" 2>"$log"
	AGENT=${ZH_PIDS[-1]}
	check "the agent serves /healthz" eventually \
		zh_node curl -sf -m 1 "127.0.0.1:$PORT/healthz"
	zh_node curl -s -o /dev/null -m 2 "127.0.0.1:$PORT/%1b%5b2J%0afake%20line%5c" || true
	check "a URL is logged escaped" grep -qF 'http: GET /\x1b[2J\x0afake line\x5c' "$log"
	check "... with no raw escape byte" eval "! grep -q $'\\x1b' '$log'"
	check "... and no line of its making" eval "! grep -q '^fake line' '$log'"
	check "SIGTERM ends it" agent_stops_at_once
}

# Slowloris: 32 connections from four addresses (8 each, the per-address
# limit), every one sending a header line each 0.5 s, fill the server's
# 32 slots. Before the request deadline they held /healthz unanswered for
# as long as they kept writing; now each is cut 5 s after it connected.
slow_clients() {
	zh_node python3 - "$PORT" >"$1" <<-'EOF'
		import socket, sys, time
		port, held = int(sys.argv[1]), []
		for src in range(2, 6):
		    for _ in range(8):
		        s = socket.socket()
		        s.bind(("127.0.0.%d" % src, 0))
		        s.connect(("127.0.0.1", port))
		        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
		        s.setblocking(False)
		        held.append(s)
		start, cut = time.time(), []
		while held and time.time() - start < 12:
		    time.sleep(0.5)
		    for s in list(held):
		        try:
		            gone = s.recv(4096) == b""
		        except BlockingIOError:
		            gone = False
		        except OSError:
		            gone = True
		        if not gone:
		            try:
		                s.sendall(b"X-Slow: 1\r\n")
		            except OSError:
		                gone = True
		        if gone:
		            held.remove(s)
		            cut.append(time.time() - start)
		print(32 - len(held), round(max(cut, default=99), 1), flush=True)
	EOF
}
case_slowloris() {
	local out="$ZH_TMP/slow.out" t0 waited
	zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" -i 0 --xsk-socket none \
		--listen "127.0.0.1:$PORT" 2>"$ZH_TMP/slow.log"
	AGENT=${ZH_PIDS[-1]}
	check "the agent serves /healthz" eventually \
		zh_node curl -sf -m 1 "127.0.0.1:$PORT/healthz"
	slow_clients "$out" &
	local slow=$!
	sleep 1
	t0=$SECONDS
	check "/healthz answers within 7 s while 32 slow clients write" \
		timeout 7 bash -c "until ip netns exec $ZH_NODE curl -sf -m 1 \
			--interface 127.0.0.6 127.0.0.1:$PORT/healthz; do sleep 0.2; done"
	waited=$((SECONDS - t0))
	echo "    (answered after ~${waited} s)"
	wait "$slow"
	check "every slow client was cut (cut, last at seconds): $(cat "$out")" \
		awk '$1 == 32 && $2 <= 7 { ok = 1 } END { exit !ok }' "$out"
	check "SIGTERM ends it" agent_stops_at_once
}

# A pod gone without DEL (its netns, and with it its veth, deleted, as
# containerd's run -d + task rm leaves it): the agent, with no periodic
# sweep (-i 0) and no SIGHUP, drops its endpoint at once from the link
# event.
ep_count() { "$ZH_BIN/zerohopctl" endpoints -o json | jq length; }
# The plugin's records of its pods in the state dir (and what is left of
# them): every file there but the agent's conntrack GC counters.
records() { find "$ZEROHOP_STATE_DIR" -type f ! -name conntrack-gc "$@"; }
case_gone() {
	local p="${ZH_PREFIX}-gone"
	agent_start
	zh_conf "$ZH_TMP/gone.conf" zhgone tc 10.91.6.0/24
	check "a pod comes" zh_pod_add "$p" "$ZH_TMP/gone.conf"
	check "... with its endpoint" test "$(ep_count)" = 1
	ip netns del "$p"
	check "gone without DEL, its endpoint goes within 3 s, without a sweep" \
		timeout 3 bash -c "until [ \"\$('$ZH_BIN/zerohopctl' endpoints -o json | jq length)\" = 0 ]; do sleep 0.1; done"
	check "the agent said so" grep -q "removing stale endpoint" "$LOG"
	check "its lease is released within 3 s" \
		timeout 3 bash -c "while grep -rqs '^$(zh_ctr_id "$p")' '$ZH_TMP/ipam'; do sleep 0.1; done"
	check "... the agent said so" grep -q "released the addresses of pod" "$LOG"
	check "... and its record is gone" test -z "$(records)"
	check "the same container comes back (no duplicate allocation)" \
		zh_pod_add "$p" "$ZH_TMP/gone.conf"
	check "... with a record of its own" \
		test "$(records -name '*.json' | wc -l)" = 1
	check "SIGTERM ends it" agent_stops_at_once
	check "DEL" eval "zh_cni DEL '$p' '$ZH_TMP/gone.conf' >/dev/null"
	check "... drops the record" test -z "$(records)"
}

# With no agent to notice, a pod gone without DEL keeps its endpoint: the
# fast path must not claim it delivers to it (bpf_check_mtu sees the veth
# gone; before 5.12 the frames still count as redirects, said and skipped).
stat_of() { "$ZH_BIN/zerohopctl" stats -o json | jq -r "$1"; }
case_gone_counted() {
	local a="${ZH_PREFIX}-ga" b="${ZH_PREFIX}-gb" b_ip host_if r0 d0 r1 d1
	zh_conf "$ZH_TMP/gc.conf" zhgc tc 10.91.7.0/24
	check "two pods, no agent" eval "zh_pod_add $a '$ZH_TMP/gc.conf' && zh_pod_add $b '$ZH_TMP/gc.conf'"
	b_ip=$(zh_pod_ip "$b")
	check "A reaches B" zh_in "$a" ping -c 1 -W 1 "$b_ip"
	if [ "$("$ZH_BIN/zerohopctl" features -o json |
		jq -r '.features[] | select(.name == "tc_check_mtu") | .present')" != true ]; then
		zh_case_skip "no bpf_check_mtu in tc on this kernel (5.12): such frames count as redirects"
		return 0
	fi
	host_if=$("$ZH_BIN/zerohopctl" endpoints -o json |
		jq -r --arg ip "$b_ip" '.[] | select(.ips | index($ip)) | .hostIfname')
	ip netns del "$b"
	# The kernel tears a netns down in a work queue: until the host-side
	# veth is gone, a redirect to it still succeeds.
	check "B's veth ($host_if) is gone" eventually \
		eval "! zh_node ip link show dev '$host_if' >/dev/null 2>&1"
	r0=$(stat_of .redirected.packets) d0=$(stat_of '.dropReasons.drop_redirect_failed.packets')
	zh_in "$a" ping -c 3 -i 0.2 -W 1 "$b_ip" >/dev/null 2>&1 || true
	r1=$(stat_of .redirected.packets) d1=$(stat_of '.dropReasons.drop_redirect_failed.packets')
	check "B's netns gone, no agent: its endpoint is still there" \
		eval "'$ZH_BIN/zerohopctl' endpoints -o json |
			jq -e --arg ip '$b_ip' 'any(.[]; .ips | index(\$ip))' >/dev/null"
	check "3 pings to B: not counted as redirects ($r0 -> $r1)" test "$r1" = "$r0"
	check "... but as drop_redirect_failed ($d0 -> $d1)" test "$((d1 - d0))" -ge 3
}

zh_run_cases case_per_netns case_per_uid case_emfile case_socket_path case_http case_slowloris \
	case_gone case_gone_counted
