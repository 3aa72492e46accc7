#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# containerd.sh - zerohop under containerd: `ctr run --cni` starts busybox
# containers on a zerohop network through go-cni, the CNI library of
# containerd's CRI plugin, and they reach each other. What go-cni does
# differently from podman, each exercised here:
#   * CNI_NETNS is /proc/PID/ns/net of the task's process, no bind mount:
#     the namespace lives exactly as long as that process;
#   * `ctr run` without -d calls DEL after the task has exited and been
#     deleted, its netns gone: CNI_NETNS empty, prevResult from libcni's
#     cache. It must succeed and leave no veth, lease or endpoint;
#   * after `ctr run -d` no DEL ever comes (the DEL is made by the `ctr
#     run` that waits for its task; `ctr task rm -f`, `ctr task kill` and
#     `ctr task delete` make none): the veth dies with the netns, and
#     the agent removes the endpoint (at the link event, and every
#     --reconcile seconds) and frees the lease from the plugin's record,
#     so the same container can start again; a late DEL with the dead
#     task's /proc path, as a runtime's cleanup would send, succeeds.
#
# Everything is this run's own: containerd with its root, state, socket
# and config in a temp dir (CRI and the snapshotters but native disabled),
# the image (a docker-save archive of a static busybox, made here: no
# registry), runc's state, the CNI config, plugins, libcni cache and IPAM
# leases. containerd and ctr run in the test's "node" network namespace
# and in a private mount namespace, where temp dirs are mounted over the
# fixed paths go-cni and the shims use (/etc/cni/net.d, /opt/cni/bin,
# /var/lib/cni, /run/containerd); a path the host does not have is made in
# an overlay of its parent, so the host's tree is never written. The
# plugin's calls are recorded (containerd/cni-logger). All of it is
# removed on every exit path, and the last case checks that it was.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhctr$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require containerd:containerd ctr:containerd containerd-shim-runc-v2:containerd \
	runc:runc jq:jq busybox:busybox-static unshare:util-linux nsenter:util-linux \
	timeout:coreutils ldd:libc-bin
zh_require_busybox
for f in zerohop zerohopd zerohopctl; do
	[ -x "$O/$f" ] || {
		echo "containerd: $O/$f not built: run make all"
		exit 1
	}
done

# containerd's namespace: in go-cni's container IDs ("NS-ID") and the
# cgroup paths runc makes (/NS/ID in each hierarchy).
NS="$ZH_PREFIX"
NET="$ZH_PREFIX"
IMG="zerohop.test/busybox:$ZH_PREFIX"
SUBNET=10.97.0.0/24
XDP_SUBNET=10.98.0.0/24
SOCK="$ZH_TMP/containerd.sock"
CALLS="$ZH_TMP/cni-bin/calls.jsonl"
HOLDER="" CTRD="" AGENT="" RUNS=() OVL=0
# Where go-cni, libcni and the shims write on a host: the host's own stay
# as they are.
HOST_DIRS=(/etc/cni/net.d /opt/cni /var/lib/cni /run/containerd /var/lib/containerd)

# --- helpers -------------------------------------------------------------------
# in_mnt CMD...: CMD in the node netns and the private mount namespace.
in_mnt() { nsenter -t "$HOLDER" -m -n "$@"; }
# c ARGS...: this run's ctr, bounded in time (timeout's own process group
# also keeps a Ctrl-C from cutting it short; cleanup stops the rest). Fails
# at once when containerd is gone, rather than after a wait per call.
c() {
	alive "$CTRD" || {
		echo "containerd (pid $CTRD) is not running" >&2
		return 1
	}
	timeout -k 5 30 nsenter -t "$HOLDER" -m -n \
		ctr --address "$SOCK" --namespace "$NS" --connect-timeout 5s "$@"
}
# The flags of every `ctr run`: runc's state and the I/O FIFOs here, the
# native snapshotter.
RUN_FLAGS=(--snapshotter native --runc-root "$ZH_TMP/runc" --fifo-dir "$ZH_TMP/fifo")

# run_bg NAME CMD...: `ctr run --cni --rm NAME` in the background, its
# output in NAME.out: it waits for the task, then calls DEL. RUN_PID is
# its pid; NAME.pid gets the task's.
run_bg() {
	local name=$1
	shift
	nsenter -t "$HOLDER" -m -n ctr --address "$SOCK" --namespace "$NS" run --cni --rm \
		"${RUN_FLAGS[@]}" --pid-file "$ZH_TMP/$name.pid" "$IMG" "$name" "$@" \
		</dev/null >"$ZH_TMP/$name.out" 2>&1 &
	RUN_PID=$!
	RUNS+=("$RUN_PID")
}
# run_d NAME CMD...: `ctr run --cni -d NAME`: started, and ctr is gone.
run_d() {
	local name=$1
	shift
	c run --cni -d "${RUN_FLAGS[@]}" --pid-file "$ZH_TMP/$name.pid" "$IMG" "$name" "$@"
}
# alive PID: PID runs (a child of ours that exited stays a zombie until
# waited for: that is not running).
alive() {
	local st
	st=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}
# exited PID: the background ctr run PID has exited (and is reaped).
exited() { ! alive "$1" && { wait "$1" 2>/dev/null || true; }; }
task_pid() { cat "$ZH_TMP/$1.pid"; }
running() { c task ls | awk -v id="$1" '$1 == id && $3 == "RUNNING" { f = 1 } END { exit !f }'; }
cexec() { # cexec NAME CMD...: CMD in container NAME
	local name=$1
	shift
	c task exec --exec-id "x$RANDOM$RANDOM" "$name" "$@"
}

endpoints() { "$ZH_BIN/zerohopctl" endpoints -o json; }
# ep NAME [JQ]: the endpoint of container NAME (go-cni's ID, NS-NAME), or
# JQ of it; fails when there is none.
ep() {
	endpoints | jq -e -r --arg id "$NS-$1" "[.[] | select(.containerID == \$id)] |
		if length == 1 then .[0] | ${2:-.} else error(\"no endpoint for \" + \$id) end"
}
no_ep() { ! ep "$1" >/dev/null 2>&1; }
ep_ip() { ep "$1" '.ips[0]'; }
in_subnet() { [[ $1 == "${2%.0/24}".* ]]; }
host_link() { zh_node ip link show "$1" >/dev/null 2>&1; }
link_gone() { [ -n "$1" ] && ! host_link "$1"; }
# lease IP: host-local's lease file for IP; its content is the container
# ID ("NS-NAME"), CRLF, the ifname.
lease() { cat "$ZH_TMP/ipam/$NET/$1" 2>/dev/null; }
leased_to() { [ "$(lease "$1" | head -1 | tr -d '\r')" = "$NS-$2" ]; }
no_leases() {
	local left
	left=$(find "$ZH_TMP/ipam" -type f ! -name lock ! -name 'last_reserved_ip*')
	[ -z "$left" ] || {
		echo "$left"
		return 1
	}
}
cache_entry() { echo "$ZH_TMP/cni-cache/results/$1-$NS-$2-eth0"; }

# calls CMD NAME: the recorded plugin calls CMD (ADD, DEL) for NAME, one
# JSON object a line.
calls() {
	jq -c --arg c "$1" --arg id "$NS-$2" \
		'select(.env.CNI_COMMAND == $c and .env.CNI_CONTAINERID == $id)' "$CALLS"
}
ncalls() { calls "$@" | wc -l; }
# last_call CMD NAME JQ-ARGS...: jq of the last such call (jq -e: fails
# on false/null).
last_call() { calls "$1" "$2" | tail -1 | jq -e -r "${@:3}"; }

# add_as_runtime NAME: go-cni made one ADD for NAME, naming the task's
# netns (/proc/PID/ns/net) and eth0, answered 0; prints its environment.
add_as_runtime() {
	local pid
	pid=$(task_pid "$1")
	calls ADD "$1" | jq -c '.env'
	[ "$(ncalls ADD "$1")" = 1 ] &&
		last_call ADD "$1" --arg ns "/proc/$pid/ns/net" \
			'.env.CNI_NETNS == $ns and .env.CNI_IFNAME == "eth0" and .rc == 0' >/dev/null
}
# del_came NAME IP: one DEL for NAME, answered 0, with prevResult naming
# IP and a CNI_NETNS that names no namespace (any more).
del_came() {
	local ip=$2 netns
	calls DEL "$1" | jq -c '{env, rc, prevResult: .stdin.prevResult.ips}'
	[ "$(ncalls DEL "$1")" = 1 ] || return 1
	netns=$(last_call DEL "$1" '.env.CNI_NETNS') || netns=""
	[ -z "$netns" ] || [ ! -e "$netns" ] || return 1
	last_call DEL "$1" --arg ip "$ip" \
		'.rc == 0 and any(.stdin.prevResult.ips[]; .address | startswith($ip + "/"))' >/dev/null
}

redirected() { "$ZH_BIN/zerohopctl" stats -o json | jq -r '.redirected.packets'; }
# pong_ok FROM IP WORD: FROM sends WORD to the nc server on IP:8080, which
# answers pong-WORD: a request and its answer, each delivered whole.
pong_ok() {
	local got
	got=$(cexec "$1" sh -c "echo $3 | nc -w 3 $2 8080")
	[ "$got" = "pong-$3" ] || {
		echo "reply: '$got'"
		return 1
	}
}

# grew BEFORE: the redirect counter grew by more than the pings' 6 packets.
grew() {
	local now
	now=$(redirected)
	echo "redirected packets: $1 before, $now after"
	[ "$now" -gt $(($1 + 6)) ]
}
# ran_ok RC OUT IP WORD: a one-shot `ctr run` exited 0, and its output
# (OUT, a file) shows that the container had IP and got pong-WORD back.
ran_ok() {
	cat "$2"
	[ "$1" = 0 ] && grep -q "inet $3/" "$2" && grep -qx "pong-$4" "$2"
}
unleased() { [ -z "$(lease "$1")" ]; }
# holds_none NAME: no lease of host-local's is container NAME's.
holds_none() { ! grep -rqsx -- "$NS-$1"$'\r' "$ZH_TMP/ipam/$NET"; }
# all_gone NAME IP HOST: no endpoint, lease or host veth left for NAME.
all_gone() { no_ep "$1" && unleased "$2" && link_gone "$3"; }
del_and_gone() { del_came "$1" "$2" && all_gone "$@"; }
# rm_nodel NAME: remove a -d container: ctr task rm -f (SIGKILL, delete),
# ctr container rm. Nothing sends a DEL.
rm_nodel() { c task rm -f "$1" 2>/dev/null && c container rm "$1"; }
# kill_delete NAME: the same in steps: ctr task kill -s KILL, ctr task
# delete once the task has stopped, ctr container rm. No DEL either.
stopped() { c task ls | awk -v id="$1" '$1 == id && $3 == "STOPPED" { f = 1 } END { exit !f }'; }
kill_delete() {
	c task kill -s KILL "$1" && eventually stopped "$1" &&
		c task delete "$1" >/dev/null 2>&1 && c container rm "$1"
}
# kill_run NAME PID: SIGKILL task NAME; its `ctr run` (PID) ends.
kill_run() { c task kill -s KILL "$1" && eventually exited "$2"; }
gone_from_ctr() { ! grep -qx "$1" <<<"$(c container ls -q)"; }
host_unchanged() { [ "$(host_state)" = "$STATE_BEFORE" ] && [ -z "$(run_state_on_host)" ]; }

# late_del NAME NETNS: DEL for NAME as a runtime's cleanup would send it
# long after: NETNS, the config and prevResult from libcni's cache.
late_del() {
	jq -c --slurpfile r "$(cache_entry "$NET" "$1")" \
		'.plugins[0] + {cniVersion, name, prevResult: $r[0].result}' \
		"$ZH_TMP/net.d/10-zerohop.conflist" >"$ZH_TMP/$1.del"
	CNI_COMMAND=DEL CNI_CONTAINERID="$NS-$1" CNI_NETNS="$2" CNI_IFNAME=eth0 \
		CNI_PATH=/usr/lib/cni zh_node "$ZH_BIN/zerohop" <"$ZH_TMP/$1.del"
}

# --- the image: a docker-save archive of one layer, static busybox --------------
make_image() {
	local r="$ZH_TMP/image/rootfs" d="$ZH_TMP/image/archive" diff cfg
	mkdir -p "$d"
	zh_busybox_rootfs "$r" cat echo ip nc ping sh sleep
	# A TCP request/reply server: pong-<the line it got>.
	cat >"$r/bin/zh-server" <<-'EOF'
		#!/bin/sh
		exec nc -ll -p 8080 -e /bin/zh-pong
	EOF
	cat >"$r/bin/zh-pong" <<-'EOF'
		#!/bin/sh
		read -r l
		echo "pong-$l"
	EOF
	chmod +x "$r/bin/zh-server" "$r/bin/zh-pong"
	tar -C "$r" --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 \
		-cf "$d/layer.tar" .
	diff=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
	cat >"$d/config.json" <<-EOF
		{"architecture":"amd64","os":"linux",
		 "config":{"Env":["PATH=/bin"],"Cmd":["sh"]},
		 "rootfs":{"type":"layers","diff_ids":["sha256:$diff"]}}
	EOF
	cfg=$(sha256sum "$d/config.json" | cut -d' ' -f1)
	mv "$d/config.json" "$d/$cfg.json"
	printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]\n' \
		"$cfg" "$IMG" >"$d/manifest.json"
	tar -C "$d" -cf "$ZH_TMP/image.tar" manifest.json "$cfg.json" layer.tar
}

# --- the private mount namespace -------------------------------------------------
# shadow DIR SRC: in the private mount namespace, DIR shows SRC. Where the
# host has no DIR, its nearest existing parent gets an overlay whose upper
# layer is here, and DIR is made in that.
shadow() {
	local dir=$1 src=$2 p=$1 o
	while ! in_mnt test -d "$p"; do p=$(dirname "$p"); done
	if [ "$p" != "$dir" ]; then
		[ "$p" != / ] || {
			echo "containerd: will not put an overlay over / (for $dir)" >&2
			return 1
		}
		OVL=$((OVL + 1))
		o="$ZH_TMP/overlay$OVL"
		mkdir -p "$o/upper" "$o/work"
		in_mnt mount -t overlay overlay \
			-o "lowerdir=$p,upperdir=$o/upper,workdir=$o/work" "$p"
		in_mnt mkdir -p "$dir"
	fi
	in_mnt mount --bind "$src" "$dir"
}

# host_state: what the host has at the fixed paths (each file, its size
# and mtime); nothing of this run may appear there, nor change.
host_state() {
	local p
	for p in "${HOST_DIRS[@]}"; do
		[ -e "$p" ] || {
			echo "$p absent"
			continue
		}
		case $p in
		/etc/* | /opt/*) find "$p" -printf '%p %s %T@\n' | sort ;;
		# Other runtimes on the host may write in these: only that nothing
		# of this run is there.
		*) echo "$p present" ;;
		esac
	done
}
run_state_on_host() {
	find "${HOST_DIRS[@]}" -name "*$ZH_PREFIX*" 2>/dev/null || true
}

# cgroup_pids: processes in the cgroups runc made for this run's containers.
cgroup_pids() { cat /sys/fs/cgroup/*/"$NS"/*/cgroup.procs /sys/fs/cgroup/"$NS"/*/cgroup.procs 2>/dev/null || true; }
# mounts_left: processes that still see a mount of this run's temp dir
# (a bind mount's root, an overlay's layers).
mounts_left() { grep -lsF -e " $ZH_TMP/" -e "=$ZH_TMP/" /proc/[0-9]*/mountinfo || true; }

# wait_gone PID...: up to 5 s for the processes to end, then SIGKILL;
# those that are our children are reaped.
wait_gone() {
	local i p left
	for i in $(seq 50); do
		left=""
		for p in "$@"; do alive "$p" && left+=" $p"; done
		[ -z "$left" ] && break
		sleep 0.1
	done
	# shellcheck disable=SC2086
	[ -z "$left" ] || kill -9 $left 2>/dev/null
	for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

# ctr_cleanup: containerd's part of the cleanup, before lib.sh's removes
# the netns, the pins and the temp dir (zh_defer). Also the last case's
# way to stop everything, so that it can check that nothing is left.
ctr_cleanup() {
	local id pids d
	if [ -n "$CTRD" ] && alive "$CTRD"; then
		for id in $(c task ls -q 2>/dev/null); do
			c task rm -f "$id" >/dev/null 2>&1
		done
		for id in $(c container ls -q 2>/dev/null); do
			c container rm "$id" >/dev/null 2>&1
		done
	fi
	# The background `ctr run`s: their tasks are gone, they DEL and exit.
	[ ${#RUNS[@]} = 0 ] || wait_gone "${RUNS[@]}"
	if [ -n "$CTRD" ]; then
		kill "$CTRD" 2>/dev/null
		wait_gone "$CTRD"
	fi
	# What containerd could not stop (it was killed mid-way): shims by
	# their command line, the containers' processes by their cgroups.
	pids="$(zh_run_pids) $(cgroup_pids)"
	# shellcheck disable=SC2086
	[ -z "${pids// /}" ] || kill -9 $pids 2>/dev/null
	if [ -n "$HOLDER" ]; then
		kill "$HOLDER" 2>/dev/null
		wait_gone "$HOLDER"
	fi
	for d in /sys/fs/cgroup/*/"$NS" /sys/fs/cgroup/"$NS"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	return 0
}
zh_defer ctr_cleanup

# agent_start SWEEP-SECONDS: zerohopd in the node, waited for until ready
# (its log goes on from the last one's).
AGENT_STARTS=0
agent_start() {
	nsenter --net="/var/run/netns/$ZH_NODE" "$ZH_BIN/zerohopd" -i "$1" 2>>"$ZH_TMP/agent.log" &
	AGENT=$!
	ZH_PIDS+=("$AGENT")
	AGENT_STARTS=$((AGENT_STARTS + 1))
	eventually eval '[ "$(grep -c "ready$" "$ZH_TMP/agent.log")" = "$AGENT_STARTS" ]'
}
agent_stop() {
	kill "$AGENT"
	wait "$AGENT" || true
}

# --- setup: node, mount namespace, containerd, image -----------------------------
STATE_BEFORE=$(host_state)
zh_node_up
mkdir -p "$ZH_TMP/cni-bin" "$ZH_TMP/net.d" "$ZH_TMP/cni-cache" "$ZH_TMP/run-containerd" \
	"$ZH_TMP/ipam" "$ZH_TMP/fifo"
ln -s "$PWD/tests/integration/containerd/cni-logger" "$ZH_TMP/cni-bin/zerohop"
ln -s "$ZH_BIN/zerohop" "$ZH_TMP/cni-bin/zerohop.real"
# go-cni looks for plugins in /opt/cni/bin (Debian's build, then in
# /usr/lib/cni): host-local beside zerohop serves any build.
ln -s /usr/lib/cni/host-local "$ZH_TMP/cni-bin/host-local"
: >"$CALLS"
# conflist NAME DATAPATH SUBNET: the network go-cni finds (its only file).
conflist() {
	cat >"$ZH_TMP/net.d/10-zerohop.conflist" <<-EOF
		{"cniVersion":"1.0.0","name":"$1","plugins":[{"type":"zerohop","datapath":"$2",
		 "ipam":{"type":"host-local","ranges":[[{"subnet":"$3"}]],"dataDir":"$ZH_TMP/ipam"}}]}
	EOF
}
conflist "$NET" tc "$SUBNET"

# The holder: a process that keeps the node netns and a private mount
# namespace; containerd and every ctr join both. It and containerd run in
# sessions of their own: a Ctrl-C reaches the test, whose cleanup then
# stops them in order (containers, containerd, shims, the namespace).
nsenter --net="/var/run/netns/$ZH_NODE" setsid unshare -m --propagation private sleep 100000 &
HOLDER=$!
ZH_PIDS+=("$HOLDER")
# Ready once it is sleep: unshare execs it after making every mount
# private. Not one mount made here may propagate to the host's namespace.
eventually eval '[ "$(cat "/proc/$HOLDER/comm")" = sleep ]'
if [ "$(readlink "/proc/$HOLDER/ns/mnt")" = "$(readlink /proc/self/ns/mnt)" ] ||
	grep -q ' shared:' "/proc/$HOLDER/mountinfo"; then
	echo "containerd: the holder's mount namespace is not a private one"
	exit 1
fi
shadow /etc/cni/net.d "$ZH_TMP/net.d"
shadow /opt/cni/bin "$ZH_TMP/cni-bin"
shadow /var/lib/cni "$ZH_TMP/cni-cache"
shadow /run/containerd "$ZH_TMP/run-containerd"

cat >"$ZH_TMP/containerd.toml" <<EOF
version = 2
root = "$ZH_TMP/containerd/root"
state = "$ZH_TMP/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.overlayfs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$SOCK"
EOF
nsenter -t "$HOLDER" -m -n setsid containerd -c "$ZH_TMP/containerd.toml" \
	>"$ZH_TMP/containerd.log" 2>&1 &
CTRD=$!
if ! eventually eval 'c version >/dev/null 2>&1'; then
	echo "containerd: containerd did not answer on $SOCK:"
	tail -n 20 "$ZH_TMP/containerd.log"
	exit 1
fi
make_image
c image import --snapshotter native "$ZH_TMP/image.tar" >/dev/null
# Whether this machine lets runc start a container at all, before any
# network: where the kernel or the sandbox refuses it (cgroups,
# namespaces, permissions), nothing here can be tested. Any other error
# is the test's own, and fails it.
if ! probe=$(c run --rm "${RUN_FLAGS[@]}" "$IMG" probe sh -c : 2>&1 </dev/null); then
	if grep -qiE 'cgroup|namespace|not permitted|permission denied|not supported' <<<"$probe"; then
		zh_skip "runc cannot start a container on this machine: $(tail -n 3 <<<"$probe")"
	fi
	echo "containerd: ctr run failed without any network: $probe"
	exit 1
fi
agent_start 0

# --- the cases -------------------------------------------------------------------
setup() {
	check "containerd answers on this run's socket, runc runs a container (no network)" \
		eval '[[ "$(c version)" == *Server:* ]]'
	check "the image was imported from the hand-made docker archive" \
		eval 'grep -qx "$IMG" <<<"$(c image ls -q)"'
	check "ctr sees this run's CNI dirs, the host's are hidden" \
		eval '[ "$(in_mnt ls /etc/cni/net.d)" = 10-zerohop.conflist ] &&
		      [ "$(in_mnt readlink /opt/cni/bin/zerohop)" = "$PWD/tests/integration/containerd/cni-logger" ]'
	[ "$FAIL" = 0 ] || {
		echo "containerd: $PASS passed, $FAIL failed (nothing started, the rest not run)"
		exit 1
	}
}

start() {
	run_bg A /bin/zh-server
	A_RUN=$RUN_PID
	check "ctr run -d --cni starts B" run_d B sleep 600
	check "ctr run --cni starts A (a TCP server; ctr waits for it)" eventually running A
	A_IP=$(ep_ip A || true)
	B_IP=$(ep_ip B || true)
	check "zerohopctl lists both endpoints, addresses in $SUBNET ($A_IP, $B_IP)" \
		eval 'in_subnet "$A_IP" "$SUBNET" && in_subnet "$B_IP" "$SUBNET" && [ "$A_IP" != "$B_IP" ]'
	[ "$FAIL" = 0 ] || {
		echo "containerd: $PASS passed, $FAIL failed (no containers, the rest not run)"
		cat "$ZH_TMP/A.out"
		exit 1
	}
	check "ADD for A: CNI_NETNS=/proc/$(task_pid A)/ns/net (the task's), CNI_IFNAME=eth0" \
		add_as_runtime A
	check "ADD for B: CNI_NETNS=/proc/$(task_pid B)/ns/net, CNI_CONTAINERID=$NS-B" \
		add_as_runtime B
	check "the endpoints record the task's netns path and tc" \
		eval '[ "$(ep A ".netns + \" \" + .datapath")" = "/proc/$(task_pid A)/ns/net tc" ]'
	A_HOST=$(ep A .hostIfname || true)
	B_HOST=$(ep B .hostIfname || true)
	check "their host veths are in the node ($A_HOST, $B_HOST)" \
		eval 'host_link "$A_HOST" && host_link "$B_HOST"'
	check "B's eth0 has its address and the link-local default route" \
		eval '[[ "$(cexec B ip -4 -o addr show eth0)" == *" $B_IP/"* &&
		      "$(cexec B ip route)" == *"default via 169.254.1.1 dev eth0"* ]]'
	check "host-local leased both addresses, to go-cni's container IDs" \
		eval 'leased_to "$A_IP" A && leased_to "$B_IP" B'
	check "libcni cached both results (in this run's /var/lib/cni)" \
		eval 'jq -e ".result.ips[0].address == \"$B_IP/24\"" "$(cache_entry "$NET" B)"'
}

traffic() {
	local before
	before=$(redirected)
	check "B pings A" cexec B ping -c 2 -W 2 "$A_IP"
	check "A pings B" cexec A ping -c 2 -W 2 "$B_IP"
	check "TCP B -> A: A's nc got the line and its answer came back" pong_ok B "$A_IP" "b-$$"
	check "the BPF fast path carried it (redirect counter grew)" grew "$before"
}

# A container whose process exits by itself: ctr deletes the task, and
# only then calls DEL, the netns gone with the process.
oneshot() {
	local out rc=0 e_ip e_host
	out=$(c run --cni --rm "${RUN_FLAGS[@]}" --pid-file "$ZH_TMP/E.pid" "$IMG" E \
		sh -c "ip -4 -o addr show eth0; echo e-$$ | nc -w 3 $A_IP 8080" </dev/null 2>&1) || rc=$?
	echo "$out" >"$ZH_TMP/E.out"
	e_ip=$(last_call ADD E '.stdout.ips[0].address | sub("/.*"; "")' || true)
	e_host=$(last_call ADD E '.stdout.interfaces[0].name' || true)
	check "ctr run --rm --cni E: exited 0, E had its address ($e_ip), A answered it" \
		ran_ok "$rc" "$ZH_TMP/E.out" "$e_ip" "e-$$"
	check "ADD for E named its task's netns" add_as_runtime E
	check "E's netns is gone: /proc/$(task_pid E)/ns/net" \
		eval '[ ! -e "/proc/$(task_pid E)/ns/net" ]'
	check "DEL came after the exit: CNI_NETNS '$(last_call DEL E .env.CNI_NETNS 2>/dev/null)', prevResult from the cache, answered 0" \
		del_came E "$e_ip"
	check "... E's veth is gone ($e_host)" link_gone "$e_host"
	check "... and its endpoint" no_ep E
	check "... and its lease" unleased "$e_ip"
	check "... and libcni's cache entry" eval '[ ! -e "$(cache_entry "$NET" E)" ]'
	check "... and the container (--rm); A and B are untouched" \
		eval 'gone_from_ctr E && ep A && ep B'
}

# ctr task kill: the waiting `ctr run` sees the exit and calls DEL.
kill_del() {
	check "ctr task kill -s KILL A" c task kill -s KILL A
	check "A's ctr run ends (its task gone, its DEL made)" eventually exited "$A_RUN"
	check "DEL for A: netns '$(last_call DEL A .env.CNI_NETNS 2>/dev/null)', prevResult with $A_IP, answered 0" \
		del_came A "$A_IP"
	check "... A's endpoint is gone, B's is there" eval 'no_ep A && ep B'
	check "... A's veth ($A_HOST)" link_gone "$A_HOST"
	check "... A's lease" unleased "$A_IP"
	check "... the container (--rm)" gone_from_ctr A
}

# ctr task rm -f of a -d container: no DEL, ever. The veth dies with the
# netns; the agent (no periodic sweep: -i 0, no SIGHUP) removes the stale
# endpoint at once, from the link event, and releases the lease through
# host-local with the configuration the plugin recorded: a container of
# the same name then starts (before: "duplicate allocation").
no_del() {
	local b_pid
	b_pid=$(task_pid B)
	check "ctr task rm -f B (SIGKILL, task deleted), ctr container rm B" rm_nodel B
	check "B's veth died with its netns ($B_HOST)" eventually link_gone "$B_HOST"
	check "no DEL came for B" eval '[ "$(ncalls DEL B)" = 0 ]'
	check "the link event: the agent removes B's endpoint, no SIGHUP" \
		eventually no_ep B
	check "... and says so" grep -q "removing stale endpoint" "$ZH_TMP/agent.log"
	check "... and B's lease, with no DEL" eventually unleased "$B_IP"
	check "... and says so" grep -q "released the addresses of pod $NS-B" "$ZH_TMP/agent.log"
	# What a runtime's cleanup may send later: DEL with the dead task's
	# netns path, the config and the cached result, as libcni builds it.
	check "a late DEL for B with CNI_NETNS=/proc/$b_pid/ns/net (dead), prevResult: exit 0" \
		late_del B "/proc/$b_pid/ns/net"
	check "... leaves B's lease free" unleased "$B_IP"
	check "ctr run -d --cni B again: the same container ID gets an address" run_d B sleep 600
	check "... its endpoint is listed" eventually ep B
	check "... and goes again without DEL: endpoint and lease" \
		eval 'rm_nodel B && eventually no_ep B && eventually holds_none B'
}

# The same with the agent sweeping every second: nobody signals it.
sweep() {
	local t0 took d_host
	agent_stop
	check "the agent restarts with --reconcile 1" agent_start 1
	check "ctr run -d --cni starts D" run_d D sleep 600
	d_host=$(ep D .hostIfname || true)
	check "D's endpoint is listed ($d_host)" test -n "$d_host"
	check "ctr task kill -s KILL D, ctr task delete D, ctr container rm D" kill_delete D
	t0=$SECONDS
	check "D's veth died with its netns" eventually link_gone "$d_host"
	check "D's endpoint goes (the link event, or the sweep), no SIGHUP" eventually no_ep D
	took=$((SECONDS - t0))
	check "... within 3 s of the veth going ($took s), no DEL came" \
		eval '[ "$took" -le 3 ] && [ "$(ncalls DEL D)" = 0 ]'
	# No DEL comes: the agent frees D's lease from the plugin's record.
	D_IP=$(jq -r '.result.ips[0].address | sub("/.*"; "")' "$(cache_entry "$NET" D)" || true)
	check "D's lease ($D_IP) is freed by the agent: no DEL came" eventually unleased "$D_IP"
}

# Two containers on an XDP network: the config file is read by each `ctr
# run`.
xdp() {
	local out rc=0 x_run x_host y_ip y_host
	conflist "$NET-xdp" xdp "$XDP_SUBNET"
	run_bg X /bin/zh-server
	x_run=$RUN_PID
	check "ctr run --cni starts X on the xdp network" eventually running X
	X_IP=$(ep_ip X || true)
	x_host=$(ep X .hostIfname || true)
	check "X's endpoint: $X_IP in $XDP_SUBNET, datapath xdp" \
		eval 'in_subnet "$X_IP" "$XDP_SUBNET" && [ "$(ep X .datapath)" = xdp ]'
	out=$(c run --cni --rm "${RUN_FLAGS[@]}" "$IMG" Y \
		sh -c "ip -4 -o addr show eth0; ping -c 2 -W 2 $X_IP && echo y-$$ | nc -w 3 $X_IP 8080" \
		</dev/null 2>&1) || rc=$?
	echo "$out" >"$ZH_TMP/Y.out"
	y_ip=$(last_call ADD Y '.stdout.ips[0].address | sub("/.*"; "")' || true)
	y_host=$(last_call ADD Y '.stdout.interfaces[0].name' || true)
	check "Y ($y_ip, in $XDP_SUBNET) pings X and X's nc answers (ctr run --rm, exit 0)" \
		ran_ok "$rc" "$ZH_TMP/Y.out" "$y_ip" "y-$$"
	check "DEL for Y after its exit answered 0; endpoint, lease, veth gone" \
		del_and_gone Y "$y_ip" "$y_host"
	check "ctr task kill -s KILL X: its ctr run ends" kill_run X "$x_run"
	check "... after a DEL; endpoint, lease, veth gone" \
		del_and_gone X "$X_IP" "$x_host"
}

# Everything stopped the way cleanup does it, then: nothing is left.
shutdown() {
	check "no endpoint is left" eval '[ "$(endpoints | jq length)" = 0 ]'
	check "no veth of this run is left in the node" zh_no_links
	check "no lease is left but D's" eval 'rm -f "$ZH_TMP/ipam/$NET/$D_IP" && no_leases'
	check "libcni's cache keeps the entries of B and D only (no DEL came through go-cni)" \
		eval '[ "$(ls "$ZH_TMP/cni-cache/results" | tr "\n" " ")" = "$NET-$NS-B-eth0 $NET-$NS-D-eth0 " ]'
	check "every plugin call answered 0" eval '[ "$(jq -s "map(select(.rc != 0)) | length" "$CALLS")" = 0 ]'
	check "containerd holds no task or container" \
		eval '[ -z "$(c task ls -q)$(c container ls -q)" ]'
	ctr_cleanup
	check "containerd, its shims and ctr are gone" eval '[ -z "$(zh_run_pids)" ] && ! alive "$CTRD"'
	check "no process sees a mount of this run (the mount namespace is gone)" \
		eval '[ -z "$(mounts_left)" ]'
	check "the cgroups runc made are gone" eval '! ls -d /sys/fs/cgroup/*/"$NS" 2>/dev/null'
	check "the host's CNI, libcni and containerd paths are as they were" \
		host_unchanged
}

zh_run_cases setup start traffic oneshot kill_del no_del sweep xdp shutdown
