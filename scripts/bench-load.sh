#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench-load.sh [PODS] [SERVICES] [CT]: one node under load. In a node
# netns of its own:
#   - zerohopd --services FILE with SERVICES generated ClusterIP Services
#     (default 100000; two backends each, one in ten UDP), the maps sized
#     for them with --map-size and --maglev-slots;
#   - CT conntrack entries (default 1000000: CT/2 flows, both directions)
#     written into the pinned zh_ct by tests/bench/ct_load, over the
#     Services' real ids and backends;
#   - PODS pods (default 250) added with the real CNI plugin (host-local
#     IPAM), each ADD timed, and at the end deleted, each DEL timed.
# Then it reports: ADD and DEL times; the agent's VmRSS and VmHWM; the
# memory of every map pinned under its pin directory (bpftool's
# bytes_memlock); /metrics scrape times (curl's time_total): the first
# (every map counted), ten more, and one after the counts expired; and
# what counting zh_ct costs (ct_load count: the agent's method, from
# another process).
# Arguments, else PODS, SERVICES, CT from the environment; RAW=DIR keeps
# the samples (add.us, del.us: µs per call; scrape.*: s) and the agent's
# log there. A benchmark: it
# asserts no time, but stops (exit 1) when a step fails: an ADD or DEL,
# the agent, a scrape, zh_ct not holding CT entries. As root; pins of its
# own under a private pin root; everything removed on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${O:=build}"
ZH_PREFIX="zhbl$$"
PODS=${1:-${PODS:-250}}
SERVICES=${2:-${SERVICES:-100000}}
CT=${3:-${CT:-1000000}}
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require jq curl bpftool awk nsenter
for n in PODS SERVICES CT; do
	[[ ${!n} =~ ^[0-9]+$ ]] || {
		echo "bench-load: $n=${!n} is not a number" >&2
		exit 2
	}
done
# Pods from one /16, Services in 10.96.0.0/12 (16 x 65536 addresses).
if ((PODS < 1 || PODS > 60000 || SERVICES < 1 || SERVICES > 1000000 || CT % 2)); then
	echo "bench-load: PODS 1..60000, SERVICES 1..1000000, CT even" >&2
	exit 2
fi
CT_LOAD="$ZH_BIN/tests/ct_load"
if [ ! -x "$CT_LOAD" ]; then
	echo "bench-load: no $CT_LOAD: run make bench-load" >&2
	exit 1
fi
if [ ! -x /usr/lib/cni/host-local ]; then
	echo "bench-load: missing /usr/lib/cni/host-local (Debian package containernetworking-plugins): run scripts/deps.sh" >&2
	exit 1
fi

LOG="$ZH_TMP/agent.log"
SVC_FILE="$ZH_TMP/services.json"
CONF="$ZH_TMP/net.conf"
PORT=9464 # in the node netns: nobody else's

# now_us: the time in µs, without a fork.
now_us() { echo "${EPOCHREALTIME/[.,]/}"; }
# pct P: the P-th percentile (nearest rank) of the numbers on stdin.
pct() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { r = int(p / 100 * NR + 0.999); if (r < 1) r = 1; print v[r] }'; }
# ms US: µs as ms, two decimals; sms S: seconds as ms.
ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
sms() { awk -v s="$1" 'BEGIN { printf "%.2f", s * 1000 }'; }
# proc_kb FIELD: the agent's /proc status field (VmRSS, VmHWM) in kB.
proc_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$AGENT/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
row() { printf '%-46s %s\n' "$1" "$2"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

echo "bench-load: $PODS pods, $SERVICES Services (2 backends each), $CT conntrack entries"
echo "bench-load: $(uname -r), $(nproc) CPUs, load average at start $(loadavg)"

# --- Services: our file format (README), ClusterIPs from 10.96.0.1 ---------
# Backends from two /12s of their own (backends may repeat across Services:
# each Service has its own).
awk -v n="$SERVICES" 'BEGIN {
	printf "{\"services\": [\n";
	for (i = 1; i <= n; i++) {
		a = sprintf("%d.%d.%d", int(i / 65536), int(i / 256) % 256, i % 256);
		printf "%s{\"name\": \"svc-%d\", \"vip\": \"10.%d.%d.%d\", \"port\": %d, \"proto\": \"%s\", \"backends\": [{\"ip\": \"10.%d.%s\", \"port\": 8080}, {\"ip\": \"10.%d.%s\", \"port\": 8080}]}\n",
			(i > 1 ? "," : ""), i, 96 + int(i / 65536), int(i / 256) % 256, i % 256,
			(i % 10 ? 80 : 53), (i % 10 ? "tcp" : "udp"),
			128 + int(i / 65536), substr(a, index(a, ".") + 1),
			160 + int(i / 65536), substr(a, index(a, ".") + 1);
	}
	print "]}";
}' >"$SVC_FILE"

# Maps sized for them, as bench-k8s.sh does: a Service of two backends
# has a 211-slot Maglev table (the smallest prime >= 2 x 100); room for
# one table per Service (this run applies once), in whole Mi slots.
MAGLEV=$(((SERVICES * 211 / 1048576 + 1) * 1048576))
CT_MAX=$((CT + CT / 4 + 1024)) # an LRU map: never full while filling
MAP_SIZE="services=$((SERVICES + SERVICES / 4 + 1024)),backends=$((SERVICES * 2 + SERVICES / 2 + 1024)),conntrack=$CT_MAX"

zh_node_up
zh_conf "$CONF" bench-load tc 10.244.0.0/16
t0=$(now_us)
zh_bg "$ZH_NODE" "$ZH_BIN/zerohopd" --listen "$PORT" --services "$SVC_FILE" \
	--map-size "$MAP_SIZE" --maglev-slots "$MAGLEV" 2>"$LOG"
AGENT=${ZH_PIDS[-1]}
until grep -q "; ready$" "$LOG"; do
	kill -0 "$AGENT" 2>/dev/null || {
		echo "bench-load: zerohopd exited:" >&2
		tail -5 "$LOG" >&2
		exit 1
	}
	sleep 0.05
done
t_ready=$(($(now_us) - t0))
apply_line=$(grep -m1 "services: $SVC_FILE:" "$LOG")
apply_s=$(awk '{ print $(NF - 1) }' <<<"$apply_line")
grep -q "$SERVICES services: $SERVICES added" <<<"$apply_line" || {
	echo "bench-load: the agent did not add the $SERVICES Services: $apply_line" >&2
	exit 1
}
# RSS counts zh_maglev's pages too: the agent writes the tables through
# an mmap() of the map (RssFile); its own memory is RssAnon.
mem() { echo "$(mib "$(proc_kb VmRSS)") (anon $(mib "$(proc_kb RssAnon)"), file $(mib "$(proc_kb RssFile)")) / $(mib "$(proc_kb VmHWM)")"; }
mem_ready=$(mem)

# --- conntrack ---------------------------------------------------------------
echo "bench-load: agent ready; filling zh_ct"
fill=$("$CT_LOAD" fill "$ZH_PIN_DIR" "$CT")
# Counted as /metrics counts, three times: the entries must all be there
# (an LRU map evicts rather than refuse).
"$CT_LOAD" count "$ZH_PIN_DIR" zh_ct 3 >"$ZH_TMP/ct.count"
read -r ct_n _ <"$ZH_TMP/ct.count"
[ "$ct_n" = "$CT" ] || {
	echo "bench-load: zh_ct holds $ct_n entries after the fill, not $CT" >&2
	exit 1
}
ct_count_s=$(awk '{ print $2 }' "$ZH_TMP/ct.count" | pct 50)
ct_count_min=$(awk '{ print $2 }' "$ZH_TMP/ct.count" | pct 0)
svc_count_s=$("$CT_LOAD" count "$ZH_PIN_DIR" zh_services 3 | awk '{ print $2 }' | pct 50)
be_count_s=$("$CT_LOAD" count "$ZH_PIN_DIR" zh_backends 3 | awk '{ print $2 }' | pct 50)

# --- pods: every ADD timed ---------------------------------------------------
# What a call costs beyond the plugin: nsenter into the node, exec.
for _ in $(seq 20); do
	t=$(now_us)
	zh_node true
	echo $(($(now_us) - t))
done >"$ZH_TMP/nsenter.us"
echo "bench-load: adding $PODS pods"
load_add=$(loadavg)
t_pods=$(now_us)
for i in $(seq "$PODS"); do
	pod="${ZH_PREFIX}-p$i"
	ip netns add "$pod"
	zh_in "$pod" ip link set lo up
	ZH_PODS+=("$pod")
	cp "$CONF" "$ZH_TMP/$pod.conf"
	t=$(now_us)
	zh_cni ADD "$pod" "$CONF" >"$ZH_TMP/$pod.json" || {
		echo "bench-load: ADD of pod $i failed:" >&2
		cat "$ZH_TMP/$pod.json" >&2
		exit 1
	}
	echo $(($(now_us) - t)) >>"$ZH_TMP/add.us"
done
t_pods=$(($(now_us) - t_pods))
eps=$("$CT_LOAD" count "$ZH_PIN_DIR" zh_endpoints | awk '{ print $1 }')

# --- memory ------------------------------------------------------------------
for f in "$ZH_PIN_DIR"/*; do
	bpftool -j map show pinned "$f" 2>/dev/null || true
done | jq -s -r 'map(select(.bytes_memlock)) | sort_by(-.bytes_memlock)[] | [.name, .type, .max_entries, .bytes_memlock] | @tsv' >"$ZH_TMP/maps.tsv"

# --- /metrics ----------------------------------------------------------------
# scrape: one GET /metrics, body to $ZH_TMP/metrics; prints time_total (s).
scrape() {
	local out
	out=$(zh_node curl -sS --max-time 60 -o "$ZH_TMP/metrics" \
		-w '%{http_code} %{time_total}' "http://127.0.0.1:$PORT/metrics")
	[ "${out% *}" = 200 ] || {
		echo "bench-load: /metrics answered ${out% *}" >&2
		return 1
	}
	echo "${out#* }"
}
echo "bench-load: scraping /metrics"
load_scrape=$(loadavg)
scrape_first=$(scrape)
grep -q "^zerohop_map_entries{map=\"zh_ct\"} $CT\$" "$ZH_TMP/metrics" || {
	echo "bench-load: /metrics does not count $CT zh_ct entries:" >&2
	grep 'zerohop_map_entries{map="zh_ct"}' "$ZH_TMP/metrics" >&2
	exit 1
}
grep -q "^zerohop_endpoints $PODS\$" "$ZH_TMP/metrics" || {
	echo "bench-load: /metrics does not count $PODS endpoints" >&2
	exit 1
}
metrics_bytes=$(wc -c <"$ZH_TMP/metrics")
# Ten more, back to back: zh_ct's count is cached; the small maps' counts
# (~20-70 ms for zh_services, zh_backends) expire sooner, and one of
# these may count them again.
for _ in $(seq 10); do scrape; done >"$ZH_TMP/scrape.cached"
# Once the counts are older than 10x what they cost, the next scrape
# counts again: wait past that (the agent's count took about
# first - cached).
cached_p50=$(pct 50 <"$ZH_TMP/scrape.cached")
wait_s=$(awk -v f="$scrape_first" -v c="$cached_p50" -v m="$ct_count_s" \
	'BEGIN { w = 12 * (f - c > m ? f - c : m) + 0.5; if (w > 60) w = 60; printf "%.1f", w }')
sleep "$wait_s"
scrape_recount=$(scrape)
echo "$scrape_first" >"$ZH_TMP/scrape.first"
echo "$scrape_recount" >"$ZH_TMP/scrape.recount"
mem_end=$(mem)

# --- pods: every DEL timed ---------------------------------------------------
echo "bench-load: deleting the pods"
load_del=$(loadavg)
for pod in "${ZH_PODS[@]}"; do
	t=$(now_us)
	zh_cni DEL "$pod" "$CONF" >"$ZH_TMP/del.out" || {
		echo "bench-load: DEL of $pod failed:" >&2
		cat "$ZH_TMP/del.out" >&2
		exit 1
	}
	echo $(($(now_us) - t)) >>"$ZH_TMP/del.us"
	rm -f "$ZH_TMP/$pod.conf" # done: no DEL again at cleanup
	ip netns del "$pod"
done
kill -0 "$AGENT" || {
	echo "bench-load: zerohopd is gone" >&2
	exit 1
}

if [ -n "${RAW:-}" ]; then
	mkdir -p "$RAW"
	cp "$ZH_TMP"/{add.us,del.us,nsenter.us,scrape.first,scrape.cached,scrape.recount,ct.count,maps.tsv} "$LOG" "$RAW/"
fi

# --- report ------------------------------------------------------------------
echo
row "WHAT" "VALUE"
row "agent start to ready" "$(ms "$t_ready") ms"
row "  services file ($(du -m "$SVC_FILE" | cut -f1) MB) applied" "$apply_s s"
row "zh_ct fill (ct_load, update batches)" "${fill}"
row "count zh_ct ($CT), as /metrics does, p50" "$(sms "$ct_count_s") ms (min $(sms "$ct_count_min"))"
row "count zh_services, zh_backends, p50" "$(sms "$svc_count_s"), $(sms "$be_count_s") ms"
row "pods added ($PODS; $eps endpoints in the map)" "$(ms "$t_pods") ms in all"
for op in ADD DEL; do
	row "  $op p50 / p99 / max" "$(for p in 50 99 100; do
		ms "$(pct "$p" <"$ZH_TMP/${op,,}.us")"
		[ "$p" = 100 ] || printf ' / '
	done) ms"
done
row "  (of each: nsenter + exec, p50)" "$(ms "$(pct 50 <"$ZH_TMP/nsenter.us")") ms"
row "agent VmRSS / VmHWM when ready" "$mem_ready"
row "agent VmRSS / VmHWM at the end" "$mem_end"
row "/metrics, first (every map counted)" "$(sms "$scrape_first") ms ($metrics_bytes bytes)"
row "/metrics, 10 more (zh_ct cached), p50 / max" "$(sms "$cached_p50") / $(sms "$(pct 100 <"$ZH_TMP/scrape.cached")") ms"
row "/metrics, ${wait_s} s later (counted again)" "$(sms "$scrape_recount") ms"
row "load average: ADDs / scrapes / DELs" "$load_add / $load_scrape / $load_del"
echo
printf '%-16s %-14s %12s %12s\n' MAP TYPE MAX_ENTRIES MEMLOCK
awk -F'\t' '{ printf "%-16s %-14s %12d %9.1f MiB\n", $1, $2, $3, $4 / 1048576; t += $4 }
	END { printf "%-16s %-14s %12s %9.1f MiB\n", "total", "", "", t / 1048576 }' "$ZH_TMP/maps.tsv"
