#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench.sh - pod-to-pod UDP request/response latency over four paths:
#
#   veth         two netns joined by a bare veth pair (the floor)
#   bridge       node netns + two pods wired by the reference CNI bridge plugin
#   zerohop-tc   node netns + two pods wired by our plugin, tc datapath
#   zerohop-xdp  node netns + two pods wired by our plugin, xdp datapath
#
# The paths are measured interleaved (A B C D A B C D ...) so that drift on
# a small, shared machine hits all of them alike; the table reports
# percentiles over all rounds and p50 ratios against veth and bridge.
#
# Everything lives in network namespaces named zhb-<pid>-*, a mktemp dir
# (IPAM state, samples) and the pin root /sys/fs/bpf/zhb-<pid>; all of it is
# removed on every exit path. Run as root: `make bench` or
#   O=build scripts/bench.sh [--rounds N] [--duration SECS] [--busy-poll] ...
set -euo pipefail

O=${O:-build}
ROUNDS=5
DURATION=2
BUSY_POLL=0
ALL_PATHS=(veth bridge zerohop-tc zerohop-xdp)
PATHS=veth,bridge,zerohop-tc,zerohop-xdp
OUTPUT=table
JSON_FILE=
SIZE=64
WARMUP=200
PORT=7777
REF_CNI=${REF_CNI:-/usr/lib/cni}

usage() {
	cat <<EOF
Usage: scripts/bench.sh [OPTIONS]   (env O=build dir, default build)

Pod-to-pod UDP request/response latency, one request outstanding, over
veth, bridge (reference CNI plugin), zerohop-tc and zerohop-xdp, measured
interleaved in rounds. Must run as root.

  --rounds N         rounds over all paths (default $ROUNDS)
  --duration SECS    measuring time per path per round (default $DURATION)
  --busy-poll        client and server spin instead of blocking
  --paths LIST       comma-separated subset of: ${ALL_PATHS[*]}
                     (default $PATHS)
  --size BYTES       UDP payload size (default $SIZE)
  --warmup N         unmeasured requests before each run (default $WARMUP)
  -o table|json      what goes to stdout: the table (default) or JSON (the
                     table then goes to stderr)
  --json FILE        also write the JSON to FILE
  -h, --help         this text

Exit status: 0 when every selected veth/bridge path was measured (zerohop
paths that fail are skipped with the reason), 1 on failure, 2 on bad usage.
EOF
}

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
usage_err() {
	log "$*"
	echo "Try 'scripts/bench.sh --help'." >&2
	exit 2
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]] && ((10#$1 > 0)); }

while (($#)); do
	case $1 in
	--rounds)
		(($# > 1)) || usage_err "$1 needs a value"
		is_uint "$2" || usage_err "--rounds: '$2' is not a positive integer"
		ROUNDS=$((10#$2))
		shift 2
		;;
	--duration)
		(($# > 1)) || usage_err "$1 needs a value"
		if [[ ! $2 =~ ^[0-9]+(\.[0-9]+)?$ || $2 =~ ^[0.]+$ ]]; then
			usage_err "--duration: '$2' is not a positive number of seconds"
		fi
		DURATION=$2
		shift 2
		;;
	--busy-poll)
		BUSY_POLL=1
		shift
		;;
	--paths)
		(($# > 1)) || usage_err "$1 needs a value"
		PATHS=$2
		shift 2
		;;
	--size)
		(($# > 1)) || usage_err "$1 needs a value"
		is_uint "$2" || usage_err "--size: '$2' is not a positive integer"
		SIZE=$((10#$2))
		shift 2
		;;
	--warmup)
		(($# > 1)) || usage_err "$1 needs a value"
		[[ $2 =~ ^[0-9]+$ ]] || usage_err "--warmup: '$2' is not an integer"
		WARMUP=$((10#$2))
		shift 2
		;;
	-o | --output)
		(($# > 1)) || usage_err "$1 needs a value"
		[[ $2 == table || $2 == json ]] ||
			usage_err "-o: unknown format '$2' (want table or json)"
		OUTPUT=$2
		shift 2
		;;
	--json)
		(($# > 1)) || usage_err "$1 needs a value"
		JSON_FILE=$2
		shift 2
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage_err "unknown argument '$1'"
		;;
	esac
done

SEL=()
IFS=, read -r -a req <<<"$PATHS"
for p in "${req[@]}"; do
	[[ " ${ALL_PATHS[*]} " == *" $p "* ]] ||
		usage_err "--paths: unknown path '$p' (want: ${ALL_PATHS[*]})"
	[[ " ${SEL[*]} " == *" $p "* ]] || SEL+=("$p")
done
((${#SEL[@]})) || usage_err "--paths: no path selected"

((EUID == 0)) || die "must run as root (network namespaces, CNI plugins, BPF)"
for t in ip nsenter jq ss sysctl; do
	command -v "$t" >/dev/null || die "'$t' not found (iproute2, util-linux, jq, procps)"
done
XB=$O/xdpbench
[[ -x $XB ]] || die "$XB not found: run 'make' first (or set O=)"
XB=$(realpath "$XB")
BP_OPT=()
((BUSY_POLL)) && BP_OPT=(--busy-poll)
if [[ " ${SEL[*]} " == *" bridge "* ]]; then
	for t in bridge host-local; do
		[[ -x $REF_CNI/$t ]] ||
			die "$REF_CNI/$t not found (apt-get install containernetworking-plugins)"
	done
fi

# --- state, and its removal on every exit path --------------------------------
PFX=zhb-$$
export ZEROHOP_PIN_ROOT=/sys/fs/bpf/$PFX
TMP=
NETNS_LIST=
ADDS_LIST=
PIDS=()

cleanup() {
	local rc=$? pid node pod conf cnipath plugin pinroot ns
	trap '' INT TERM
	set +eu
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	# One DEL for every ADD (also those that failed), newest first.
	if [[ -s $ADDS_LIST ]]; then
		while read -r node pod conf cnipath plugin pinroot; do
			CNI_COMMAND=DEL CNI_CONTAINERID=$pod \
				CNI_NETNS=/var/run/netns/$pod CNI_IFNAME=eth0 \
				CNI_PATH=$cnipath ZEROHOP_PIN_ROOT=$pinroot \
				nsenter --net="/var/run/netns/$node" "$plugin" \
				<"$conf" >"$TMP/del.out" 2>&1 ||
				log "$(oneline "cleanup: DEL $pod failed:" "$TMP/del.out")"
		done < <(tac "$ADDS_LIST")
	fi
	# The recorded namespaces, then anything else with our prefix (a
	# creation cut short by a signal before it was recorded).
	if [[ -s $NETNS_LIST ]]; then
		while read -r ns; do
			ip netns del "$ns" 2>/dev/null
		done < <(tac "$NETNS_LIST")
	fi
	while read -r ns _; do
		[[ $ns == "$PFX"-* ]] && ip netns del "$ns"
	done < <(ip netns list 2>/dev/null)
	rm -rf "$ZEROHOP_PIN_ROOT"
	[[ -n $TMP ]] && rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP=$(mktemp -d "${TMPDIR:-/tmp}/zhb-$$.XXXXXX")
# Setup runs in subshells (so that `set -e` holds inside them), which is why
# what must be undone is recorded in files rather than in variables.
NETNS_LIST=$TMP/netns.list
ADDS_LIST=$TMP/adds.list
: >"$NETNS_LIST"
: >"$ADDS_LIST"
mkdir -p "$TMP/ipam" "$TMP/conf" "$TMP/samples" "$TMP/res" "$TMP/path" \
	"$TMP/cnibin"

# oneline PREFIX FILE...: the files' contents on one line, after PREFIX.
oneline() {
	local prefix=$1
	shift
	printf '%s %s\n' "$prefix" "$(cat "$@" | tr -s '\n\t' '  ' | sed 's/ *$//')"
}

mkns() {
	echo "$1" >>"$NETNS_LIST"
	ip netns add "$1"
	ip -n "$1" link set lo up
}

# cni_add NODE POD CONF CNI_PATH PLUGIN: run ADD like a runtime does, from
# inside the node netns; prints the pod's first address without its prefix.
cni_add() {
	local node=$1 pod=$2 conf=$3 cnipath=$4 plugin=$5 out ip
	out=$TMP/add-$pod.json
	echo "$node $pod $conf $cnipath $plugin $ZEROHOP_PIN_ROOT" >>"$ADDS_LIST"
	if ! CNI_COMMAND=ADD CNI_CONTAINERID=$pod CNI_NETNS=/var/run/netns/$pod \
		CNI_IFNAME=eth0 CNI_PATH=$cnipath \
		nsenter --net="/var/run/netns/$node" "$plugin" \
		<"$conf" >"$out" 2>"$out.err"; then
		oneline "ADD $pod with $(basename "$plugin") failed:" "$out" \
			"$out.err" >"$TMP/setup.err"
		log "$(cat "$TMP/setup.err")"
		return 1
	fi
	ip=$(jq -r '.ips[0].address // empty' "$out")
	if [[ -z $ip ]]; then
		oneline "ADD $pod: no address in the result:" "$out" \
			>"$TMP/setup.err"
		log "$(cat "$TMP/setup.err")"
		return 1
	fi
	echo "${ip%/*}"
}

# Where a path's client runs, where its server runs and the server's address.
path_set() { printf '%s %s %s\n' "$2" "$3" "$4" >"$TMP/path/$1"; }

setup_veth() {
	local a=$PFX-va b=$PFX-vb
	mkns "$a"
	mkns "$b"
	ip -n "$a" link add eth0 type veth peer name eth0 netns "$b"
	ip -n "$a" addr add 10.99.0.1/24 dev eth0
	ip -n "$b" addr add 10.99.0.2/24 dev eth0
	ip -n "$a" link set eth0 up
	ip -n "$b" link set eth0 up
	path_set veth "$a" "$b" 10.99.0.2
}

setup_bridge() {
	local node=$PFX-bn a=$PFX-ba b=$PFX-bb conf=$TMP/conf/bridge.json ipb
	jq -n --arg dir "$TMP/ipam/bridge" '{
		cniVersion: "1.0.0", name: "zhbench-bridge", type: "bridge",
		bridge: "zhb0", isGateway: true, ipMasq: false,
		ipam: {type: "host-local", ranges: [[{subnet: "10.98.0.0/24"}]],
		       dataDir: $dir}}' >"$conf"
	mkns "$node"
	mkns "$a"
	mkns "$b"
	ip netns exec "$node" sysctl -qw net.ipv4.ip_forward=1
	cni_add "$node" "$a" "$conf" "$REF_CNI" "$REF_CNI/bridge" >/dev/null
	ipb=$(cni_add "$node" "$b" "$conf" "$REF_CNI" "$REF_CNI/bridge")
	path_set bridge "$a" "$b" "$ipb"
}

# setup_zerohop tc|xdp SUBNET
setup_zerohop() {
	local dp=$1 subnet=$2 tag node a b conf ipb
	tag=z${dp:0:1}
	node=$PFX-${tag}n a=$PFX-${tag}a b=$PFX-${tag}b
	conf=$TMP/conf/zerohop-$dp.json
	# Each node netns stands for a node with its own agent and pins: the
	# maps are keyed by host ifindex, which two netns may share.
	export ZEROHOP_PIN_ROOT=$ZEROHOP_PIN_ROOT/$dp
	mkdir -p "$ZEROHOP_PIN_ROOT"
	jq -n --arg dp "$dp" --arg subnet "$subnet" \
		--arg dir "$TMP/ipam/zerohop-$dp" '{
		cniVersion: "1.0.0", name: "zhbench", type: "zerohop",
		datapath: $dp,
		ipam: {type: "host-local", ranges: [[{subnet: $subnet}]],
		       dataDir: $dir}}' >"$conf"
	mkns "$node"
	mkns "$a"
	mkns "$b"
	cni_add "$node" "$a" "$conf" "$TMP/cnibin:$REF_CNI" "$TMP/cnibin/zerohop" >/dev/null
	ipb=$(cni_add "$node" "$b" "$conf" "$TMP/cnibin:$REF_CNI" "$TMP/cnibin/zerohop")
	path_set "zerohop-$dp" "$a" "$b" "$ipb"
}

# --- measuring -------------------------------------------------------------
# measure PATH OUT_JSON [SAMPLES] [xdpbench client options...]
measure() {
	local path=$1 out=$2 cli srv dst spid cpid rc i
	shift 2
	read -r cli srv dst <"$TMP/path/$path"
	ip netns exec "$srv" "$XB" server --port "$PORT" \
		"${BP_OPT[@]}" 2>"$TMP/server-$path.log" &
	spid=$!
	PIDS+=("$spid")
	for ((i = 0; i < 200; i++)); do
		[[ -n $(nsenter --net="/var/run/netns/$srv" ss -Hlun "sport = :$PORT") ]] && break
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.02
	done
	ip netns exec "$cli" "$XB" client --target "$dst" --port "$PORT" \
		--size "$SIZE" --label "$path" -o json "${BP_OPT[@]}" "$@" \
		>"$out" 2>"$TMP/client-$path.log" &
	cpid=$!
	PIDS+=("$cpid")
	# wait (not a foreground child) so that a signal is handled at once.
	rc=0
	wait "$cpid" || rc=$?
	kill -TERM "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	PIDS=()
	return "$rc"
}

ACTIVE=()
SKIPPED=()
declare -A SKIP_REASON=()
skip() {
	log "skipping $1: $2"
	SKIPPED+=("$1")
	SKIP_REASON[$1]=$2
}

# Set a path up and check that it carries traffic; veth and bridge must work,
# zerohop paths that do not are skipped with the reason.
for p in "${SEL[@]}"; do
	log "setting up $p"
	case $p in
	veth) fn=(setup_veth) ;;
	bridge) fn=(setup_bridge) ;;
	zerohop-tc) fn=(setup_zerohop tc 10.97.0.0/24) ;;
	zerohop-xdp) fn=(setup_zerohop xdp 10.96.0.0/24) ;;
	esac
	if [[ $p == zerohop-* ]]; then
		if [[ ! -x $O/zerohop ]]; then
			skip "$p" "$O/zerohop not built"
			continue
		fi
		ln -sf "$(realpath "$O/zerohop")" "$TMP/cnibin/zerohop"
	fi
	set +e
	(
		set -e
		"${fn[@]}"
	)
	rc=$?
	set -e
	if ((rc == 0)); then
		if measure "$p" "$TMP/res/$p.check.json" --count 20 --warmup 0 \
			--timeout-ms 500; then
			ACTIVE+=("$p")
			continue
		fi
		reason=$(oneline "no reply through it:" "$TMP/client-$p.log")
	else
		reason="setup failed"
		[[ -s $TMP/setup.err ]] && reason=$(cat "$TMP/setup.err")
	fi
	rm -f "$TMP/setup.err"
	[[ $p == zerohop-* ]] || die "$p: $reason"
	skip "$p" "$reason"
done
((${#ACTIVE[@]})) || die "no path to measure"

mode=blocking
((BUSY_POLL)) && mode=busy-poll
log "measuring ${ACTIVE[*]}: $ROUNDS rounds x ${DURATION}s, $SIZE-byte UDP request/response, $mode"
for ((r = 1; r <= ROUNDS; r++)); do
	line="round $r/$ROUNDS:"
	for p in "${ACTIVE[@]}"; do
		[[ -v SKIP_REASON[$p] ]] && continue
		if ! measure "$p" "$TMP/res/$p.$r.json" --duration "$DURATION" \
			--warmup "$WARMUP" --samples "$TMP/samples/$p.$r"; then
			reason=$(oneline "round $r failed:" "$TMP/client-$p.log")
			[[ $p == zerohop-* ]] || die "$p: $reason"
			skip "$p" "$reason"
			continue
		fi
		line+=" $p $(jq -r '.p50_us' "$TMP/res/$p.$r.json")"
	done
	log "$line (p50 us)"
done

# --- report ------------------------------------------------------------------
results=()
for p in "${ACTIVE[@]}"; do
	[[ -v SKIP_REASON[$p] ]] && continue
	"$XB" stats -o json --label "$p" "$TMP/samples/$p".* >"$TMP/res/$p.all.json"
	results+=("$TMP/res/$p.all.json")
done
((${#results[@]})) || die "every path failed"

skipped_json=$(for p in "${SKIPPED[@]}"; do
	jq -n --arg path "$p" --arg reason "${SKIP_REASON[$p]}" '{path: $path, reason: $reason}'
done | jq -s .)
rounds_json=$(for p in "${ACTIVE[@]}"; do
	for ((r = 1; r <= ROUNDS; r++)); do
		f=$TMP/res/$p.$r.json
		[[ -s $f ]] && jq --argjson r "$r" '{path: .label, round: $r, count, lost, p50_us, p99_us}' "$f"
	done
done | jq -s .)

json=$(jq -s \
	--argjson rounds "$ROUNDS" --argjson duration "$DURATION" \
	--argjson size "$SIZE" --argjson busy "$((BUSY_POLL))" \
	--argjson skipped "$skipped_json" --argjson per_round "$rounds_json" '
	(map(select(.label == "veth"))[0].p50_us) as $veth |
	(map(select(.label == "bridge"))[0].p50_us) as $bridge |
	{rounds: $rounds, duration_s: $duration, size: $size,
	 busy_poll: ($busy == 1),
	 paths: map({path: .label, samples: .count, lost, min_us, p50_us,
		     p90_us, p99_us, p999_us, max_us, mean_us,
		     p50_vs_veth: (if $veth then .p50_us / $veth else null end),
		     p50_vs_bridge: (if $bridge then .p50_us / $bridge else null end),
		     rounds: [$per_round[] as $x | select($x.path == .label) | $x | del(.path)]}),
	 skipped: $skipped}' "${results[@]}")

table() {
	jq -r '
	def n: if . == null then "-" else tostring end;
	"zerohop bench: \(.rounds) rounds x \(.duration_s) s, \(.size)-byte UDP request/response, \(if .busy_poll then "busy-poll" else "blocking" end); latencies in us",
	(["path", "samples", "lost", "p50", "p90", "p99", "p99.9", "p50/veth", "p50/bridge"] | @tsv),
	(.paths[] | [.path, .samples, .lost, .p50_us, .p90_us, .p99_us,
		     .p999_us, .p50_vs_veth, .p50_vs_bridge] | map(n) | @tsv),
	(.skipped[] | "skipped \(.path): \(.reason)")' <<<"$json" |
		awk -F'\t' '
		function num(x, fmt) { return x == "-" ? x : sprintf(fmt, x) }
		NF == 1 { print; next }
		NR == 2 { printf "%-12s %9s %6s %8s %8s %8s %8s %9s %10s\n",
			  $1, $2, $3, $4, $5, $6, $7, $8, $9; next }
		{ printf "%-12s %9s %6s %8s %8s %8s %8s %9s %10s\n", $1, $2, $3,
			 num($4, "%.2f"), num($5, "%.2f"), num($6, "%.2f"),
			 num($7, "%.2f"), num($8, "%.3f"), num($9, "%.3f") }'
}

if [[ -n $JSON_FILE ]]; then
	echo "$json" >"$JSON_FILE"
fi
if [[ $OUTPUT == json ]]; then
	table >&2
	echo "$json"
else
	table
fi
