#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# podman.sh - zerohop under a real CNI client: podman 4 with its CNI backend
# starts two busybox containers on a zerohop network, and they reach each
# other over ICMP and TCP.
#
# podman keeps everything in a temp dir of this run: containers.conf,
# storage, libpod state and locks, runc state, the network config, IPAM
# leases, the rootfs. The plugin pins under /sys/fs/bpf/zhpod<pid>. The
# host's podman, runc and zerohop state is neither read nor written, except
# /var/lib/cni/results (libcni's cache, which podman cannot move): this
# run's entries are removed, and the directory if it was not there before.
# Everything is removed on every exit path.
#
# podman runs the plugin in the root network namespace, so the host-side
# veths appear there; the test checks that they are gone afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhpod$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require podman:podman runc:runc conmon:conmon jq:jq busybox:busybox-static \
	iptables-save:iptables timeout:coreutils ldd:libc-bin
zh_require_busybox
# Not `podman version`: that sets up the host's default storage and state.
PODMAN_VERSION=$(podman --version 2>/dev/null | awk '{ print $NF }')
if ! [ "${PODMAN_VERSION%%.*}" -ge 4 ] 2>/dev/null; then
	echo "podman: podman ${PODMAN_VERSION:-?} has no network_backend setting, need 4.x: run scripts/deps.sh"
	exit 1
fi
for f in zerohop zerohopctl; do
	[ -x "$O/$f" ] || {
		echo "podman: $O/$f not built: run make all"
		exit 1
	}
done

ZH_NET="zhpod$$"
ZH_CGROUP="zhpod$$"
CNI_CACHE=/var/lib/cni/results
[ -d /var/lib/cni ] && HAD_CNI_DIR=1 || HAD_CNI_DIR=0
# A remote podman would not be the one configured here.
unset CONTAINER_HOST CONTAINER_CONNECTION

# --- helpers -------------------------------------------------------------------
# podman, bounded in time. timeout also gives it a process group of its
# own, out of reach of a Ctrl-C: podman catches SIGINT even where we
# ignore it, and would stop half-way.
pm() { timeout -k 5 30 podman "$@"; }

# The plugin's host-side veth name for a container: FNV-1a over
# "<id>/eth0", as zh_host_ifname() in cni/pod.c. Cleanup uses it to remove
# a veth podman lost track of (podman killed by the timeout mid-ADD).
host_ifname() {
	local s="$1/eth0" h=$((0xcbf29ce484222325)) i c
	for ((i = 0; i < ${#s}; i++)); do
		printf -v c '%d' "'${s:i:1}"
		h=$(((h ^ c) * 0x100000001b3))
	done
	printf 'zh%012x\n' $((h & 0xffffffffffff))
}

cni_rules() { iptables-save 2>/dev/null | grep -ci cni || true; }
rules_unchanged() { [ "$(cni_rules)" = "$RULES_BEFORE" ]; }
# Where podman and runc keep their state by default: none may appear.
host_state() {
	ls -d /var/lib/containers /run/containers /run/libpod /dev/shm/libpod_lock \
		/run/runc /etc/cni/net.d/"$ZH_NET"* 2>/dev/null || true
}
state_unchanged() { [ "$(host_state)" = "$STATE_BEFORE" ]; }

# podman_cleanup: podman's part of the cleanup, before lib.sh's removes
# the temp dir and the pins (zh_defer).
podman_cleanup() {
	local id pids d i
	trap '' INT TERM
	[ -e "$ZH_TMP/stop" ] && echo "podman: interrupted, cleaning up"
	if [ -e "$ZH_TMP/containers.conf" ]; then
		pm rm -f -t 0 -a >/dev/null 2>&1
	fi
	# conmon runs `podman container cleanup` after its container exits;
	# let it finish before its state dir goes, or it makes a new one.
	for i in $(seq 50); do
		pids=$(zh_run_pids)
		[ -z "$pids" ] && break
		# shellcheck disable=SC2086
		[ "$i" = 50 ] && kill -9 $pids 2>/dev/null
		sleep 0.1
	done
	for id in $(cat "$ZH_TMP"/*.id 2>/dev/null); do
		ip link del "$(host_ifname "$id")" 2>/dev/null
	done
	rm -f "$CNI_CACHE/$ZH_NET-"*
	[ "$HAD_CNI_DIR" = 0 ] && rmdir "$CNI_CACHE" /var/lib/cni 2>/dev/null
	for d in /sys/fs/cgroup/*/"$ZH_CGROUP" /sys/fs/cgroup/"$ZH_CGROUP"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	# A container's /dev/shm mount, should podman have left one behind.
	awk -v t="$ZH_TMP/" 'index($2, t) == 1 { print $2 }' /proc/self/mounts |
		sort -r | while read -r d; do umount -l "$d"; done
}
zh_defer podman_cleanup

stop_early() { # stop_early WHY: the remaining checks cannot run
	echo "podman: $PASS passed, $FAIL failed ($1, the rest not run)"
	exit 1
}

ctr_create() { # ctr_create NAME CMD...: create (keeping the ID), start
	local name=$1 id
	shift
	id=$(pm create --name "$name" --network "$ZH_NET" --cgroup-parent "/$ZH_CGROUP" \
		--rootfs "$ZH_TMP/rootfs" "$@") || return 1
	echo "$id" >"$ZH_TMP/$name.id"
	pm start "$name"
}
ctr_ip() {
	pm inspect -f "{{(index .NetworkSettings.Networks \"$ZH_NET\").IPAddress}}" "$1"
}
in_subnet() { [[ $1 == "${SUBNET%.0/24}".* ]]; }
endpoints() { "$ZH_BIN/zerohopctl" endpoints -o json; }
endpoint_ids() { endpoints | jq -r '.[].containerID' | sort; }
endpoint_host() { endpoints | jq -r ".[] | select(.containerID == \"$1\") | .hostIfname"; }
link_gone() { [ -n "$1" ] && ! ip link show "$1" >/dev/null 2>&1; }
no_leases() {
	[ -z "$(find "$ZH_TMP/ipam" -type f ! -name lock ! -name 'last_reserved_ip*')" ]
}

private_podman() {
	local got want="$ZH_TMP/storage cni $ZH_TMP/runc-wrapper"
	got=$(pm info -f '{{.Store.GraphRoot}} {{.Host.NetworkBackend}} {{.Host.OCIRuntime.Path}}')
	[ "$got" = "$want" ] || {
		echo "podman info: '$got', want '$want'"
		return 1
	}
}
b_config() {
	local addr route
	addr=$(pm exec "$B" ip -4 -o addr show eth0)
	route=$(pm exec "$B" ip route)
	printf '%s\n' "$addr" "$route"
	[[ $addr == *" $B_IP/"* && $route == *"default via 169.254.1.1 dev eth0"* ]]
}
redirected() { "$ZH_BIN/zerohopctl" stats -o json | jq -r '.redirected.packets'; }
fast_path_used() {
	local now
	now=$(redirected)
	echo "redirected packets: $REDIRECTED before, $now after"
	[ "$now" -gt $((REDIRECTED + 20)) ]
}
tcp_ok() { # B sends a line to A's nc server, which answers pong-<line>
	local got
	got=$(pm exec "$B" sh -c "echo ping-$$ | nc -w 3 $A_IP 8080")
	[ "$got" = "pong-ping-$$" ] || {
		echo "reply: '$got'"
		return 1
	}
}
http_ok() { # B fetches the blob from A's httpd
	local want got
	want=$(md5sum <"$ZH_TMP/rootfs/www/blob")
	got=$(pm exec "$B" sh -c "wget -q -O - http://$A_IP/blob | md5sum")
	[ "$got" = "$want" ] || {
		echo "md5: want $want, got '$got'"
		return 1
	}
}

# --- the run's private podman ------------------------------------------------
make_private_podman() {
	local x a used
	# A /24 of 10.88.0.0/16 (podman's default range) that nothing here
	# routes yet.
	# Read once, and whole: grep -q leaving a pipe early would fail ip
	# with SIGPIPE under pipefail, and a used /24 would look free.
	SUBNET=""
	used=$(ip -4 route show table all; ip -4 -o addr show)
	for x in $(seq $((100 + $$ % 150)) 254) $(seq 100 254); do
		if ! grep -q "10\.88\.$x\." <<<"$used"; then
			SUBNET="10.88.$x.0/24"
			break
		fi
	done

	mkdir -p "$ZH_TMP/cni-bin" "$ZH_TMP/net.d" "$ZH_TMP/rootfs/bin" "$ZH_TMP/rootfs/www"
	ln -s "$ZH_BIN/zerohop" "$ZH_TMP/cni-bin/zerohop"
	ln -s "$PWD/tests/integration/podman/runc-wrapper" "$ZH_TMP/runc-wrapper"
	# conmon starts `podman container cleanup`, which runs CNI DEL, with
	# conmon_env_vars for environment, not ours: without ZEROHOP_PIN_ROOT
	# there, that DEL would go to the real pins.
	cat >"$ZH_TMP/containers.conf" <<-EOF
		[network]
		network_backend = "cni"
		cni_plugin_dirs = ["$ZH_TMP/cni-bin", "/usr/lib/cni"]
		network_config_dir = "$ZH_TMP/net.d"
		default_network = "$ZH_NET"

		[engine]
		cgroup_manager = "cgroupfs"
		conmon_env_vars = ["PATH=$PATH", "ZEROHOP_PIN_ROOT=$ZEROHOP_PIN_ROOT", "ZEROHOP_STATE_DIR=$ZEROHOP_STATE_DIR"]
		events_logger = "none"
		lock_type = "file"
		runtime = "$ZH_TMP/runc-wrapper"
		tmp_dir = "$ZH_TMP/libpod"
		volume_path = "$ZH_TMP/volumes"
	EOF
	cat >"$ZH_TMP/storage.conf" <<-EOF
		[storage]
		driver = "vfs"
		graphroot = "$ZH_TMP/storage"
		runroot = "$ZH_TMP/run"
	EOF
	cat >"$ZH_TMP/net.d/$ZH_NET.conflist" <<-EOF
		{"cniVersion":"1.0.0","name":"$ZH_NET","plugins":[{"type":"zerohop","datapath":"tc",
		 "ipam":{"type":"host-local","ranges":[[{"subnet":"$SUBNET"}]],"dataDir":"$ZH_TMP/ipam"}}]}
	EOF

	# The rootfs: static busybox, a TCP request/reply server, a file to serve.
	zh_busybox_rootfs "$ZH_TMP/rootfs" cat echo head httpd ip md5sum nc ping \
		sh sleep wget
	cat >"$ZH_TMP/rootfs/bin/zh-server" <<-'EOF'
		#!/bin/sh
		httpd -p 80 -h /www
		exec nc -ll -p 8080 -e /bin/zh-pong
	EOF
	cat >"$ZH_TMP/rootfs/bin/zh-pong" <<-'EOF'
		#!/bin/sh
		read -r l
		echo "pong-$l"
	EOF
	chmod +x "$ZH_TMP/rootfs/bin/zh-server" "$ZH_TMP/rootfs/bin/zh-pong"
	head -c 2M /dev/urandom >"$ZH_TMP/rootfs/www/blob"
}

# --- the tests -----------------------------------------------------------------
setup() {
	check "a free subnet in 10.88.0.0/16 ($SUBNET)" test -n "$SUBNET"
	check "podman uses this run's storage, CNI backend and runc wrapper" private_podman
	check "podman sees network $ZH_NET with the zerohop driver" \
		eval '[ "$(pm network inspect -f "{{.Driver}}" "$ZH_NET")" = zerohop ]'
	# A podman that is not the private one would start containers in the
	# host's state.
	[ "$FAIL" = 0 ] || stop_early "nothing started"
}

start() {
	A="$ZH_NET-a"
	B="$ZH_NET-b"
	check "podman starts A (TCP and HTTP server)" ctr_create "$A" /bin/zh-server
	check "podman starts B" ctr_create "$B" sleep 600
	A_ID=$(cat "$ZH_TMP/$A.id" 2>/dev/null || true)
	B_ID=$(cat "$ZH_TMP/$B.id" 2>/dev/null || true)
	A_IP=$(ctr_ip "$A" || true)
	B_IP=$(ctr_ip "$B" || true)
	check "podman inspect: A and B got distinct addresses in $SUBNET ($A_IP, $B_IP)" \
		eval 'in_subnet "$A_IP" && in_subnet "$B_IP" && [ "$A_IP" != "$B_IP" ]'
	[ "$FAIL" = 0 ] || stop_early "no containers"
	check "the plugin holds an endpoint for each container ID" \
		eval '[ "$(endpoint_ids)" = "$(printf "%s\n" "$A_ID" "$B_ID" | sort)" ]'
	A_HOST=$(endpoint_host "$A_ID" 2>/dev/null || true)
	B_HOST=$(endpoint_host "$B_ID" 2>/dev/null || true)
	check "their host-side veths are in the root netns ($A_HOST, $B_HOST)" \
		eval '[ -n "$A_HOST" ] && ip link show "$A_HOST" && ip link show "$B_HOST"'
	check "the veths have the names cleanup derives from the container IDs" \
		eval '[ "$A_HOST" = "$(host_ifname "$A_ID")" ] && [ "$B_HOST" = "$(host_ifname "$B_ID")" ]'
	check "B's eth0 has its address and the link-local default route" b_config
}

traffic() {
	REDIRECTED=$(redirected 2>/dev/null || true)
	check "B pings A" pm exec "$B" ping -c 2 -W 2 "$A_IP"
	check "A pings B" pm exec "$A" ping -c 2 -W 2 "$B_IP"
	check "TCP B -> A: request answered (pong-ping-$$)" tcp_ok
	check "HTTP B -> A: 2 MiB arrive intact (md5)" http_ok
	check "the BPF fast path carried it (redirect counter grew by > 20)" fast_path_used
}

teardown() {
	local a_netns
	check "podman stop B" pm stop -t 0 "$B"
	check "... CNI DEL removed B's veth" eventually link_gone "$B_HOST"
	check "... and its endpoint, from this run's pins (A's is left)" \
		eventually eval '[ "$(endpoint_ids)" = "$A_ID" ]'
	check "... and left A's veth alone" ip link show "$A_HOST"
	a_netns=$(pm inspect -f '{{.NetworkSettings.SandboxKey}}' "$A" || true)
	check "podman rm -f A B" pm rm -f -t 0 "$A" "$B"
	check "no veth of this run is left in the root netns" \
		eval 'link_gone "$A_HOST" && link_gone "$B_HOST"'
	check "no endpoint is left" eval '[ -z "$(endpoint_ids)" ]'
	check "A's netns is gone (${a_netns:-?})" eval '[ -n "$a_netns" ] && [ ! -e "$a_netns" ]'
	check "no host-local lease is left" no_leases
	check "no libcni cache entry is left" eval '! ls "$CNI_CACHE/$ZH_NET-"* >/dev/null 2>&1'
	check "no conmon or runc of this run is left" eventually eval '[ -z "$(zh_run_pids)" ]'
	check "no iptables rule mentioning CNI was added" rules_unchanged
	check "the host's podman and runc state was not touched" state_unchanged
}

# run_tests: the child's part (see Signals below).
run_tests() {
	trap '' INT TERM
	make_private_podman
	RULES_BEFORE=$(cni_rules)
	STATE_BEFORE=$(host_state)
	zh_run_cases setup start traffic teardown
}

# Signals. The tests run in a child that ignores SIGINT and SIGTERM, and
# podman in process groups of its own (pm), so a Ctrl-C never cuts a podman
# command short. The parent traps both, touches $ZH_TMP/stop, and the child
# stops at its next check; then the parent cleans up. Only the parent
# traps, and while it sits in `wait`: bash 5.2 fails to parse a trap that
# fires while a second $(...) of the same command is being expanded
# ("unexpected EOF while looking for matching `)'"), and the signal is lost.
export CONTAINERS_CONF="$ZH_TMP/containers.conf"
export CONTAINERS_STORAGE_CONF="$ZH_TMP/storage.conf"
trap 'touch "$ZH_TMP/stop"' INT TERM
run_tests &
child=$!
while :; do
	rc=0
	wait "$child" || rc=$?
	kill -0 "$child" 2>/dev/null || break
done
[ -e "$ZH_TMP/stop" ] && rc=130
exit "$rc"
