// SPDX-License-Identifier: Apache-2.0
/*
 * metrics.c - zerohopd's HTTP endpoint, served by libmicrohttpd (epoll)
 * from a thread of ours:
 *
 *   /metrics   Prometheus text exposition format 0.0.4, read from the
 *              pinned maps on every scrape; only the map entry counts may
 *              be up to a few seconds old (count_cache below)
 *   /healthz   200 while the process runs
 *   /readyz    200 once the objects are pinned, 503 otherwise
 *
 * Whoever can connect is a stranger: at most 32 connections, 8 per client
 * address, and each request must be complete within REQUEST_DEADLINE_S of
 * the connection's start (or its previous request's end), however it
 * trickles in. MHD's own timeout is an idle timeout that every byte
 * resets; the deadline is ours, enforced from the loop that runs MHD, so
 * a connection is cut only between MHD's steps, never under them.
 *
 * The scrape only reads the maps, through fds the main thread opened and
 * keeps open until zh_metrics_stop() has returned, so sharing them needs no
 * lock. A metric family is one entry in families[] below: its name, type,
 * help and a small function that appends the samples.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <microhttpd.h>

#include "metrics.h"
#include "hist.h"
#include "params.h"
#include "pol_maps.h"
#include "socklb.h"
#include "nodes.h"

/* zerohop_build_info's version label; a build may pass -DZH_VERSION=... */
#ifndef ZH_VERSION
#define ZH_VERSION "0.1.0-dev"
#endif

#define TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define TYPE_TEXT "text/plain; charset=utf-8"

#define MAX_CONNS 32U
#define MAX_CONNS_PER_IP 8U
#define REQUEST_DEADLINE_S 5
/* The loop's longest sleep: how late past its deadline a connection may
 * be cut. */
#define DEADLINE_TICK_MS 200

/* One client connection: since when it owes us a complete request. */
struct conn {
	struct conn *next, *prev;
	int fd;
	bool cut;
	uint64_t since_ns;
};

/* A map's entry count, and what reading it cost (count_cache). */
struct count_cache {
	__u64 n;
	uint64_t at_ns, cost_ns;
	bool valid;
};

struct zh_metrics {
	struct MHD_Daemon *daemon;
	pthread_t thread;
	int stop_fd; /* eventfd: zh_metrics_stop() -> the thread */
	struct conn conns; /* list head; only the thread touches it */
	const struct zh_objs *objs;
	const struct zh_xsk_srv *xsk; /* NULL: no AF_XDP handoff */
	const struct zh_kube *kube; /* NULL: no Kubernetes mode */
	const struct zh_gc *gc; /* NULL: no conntrack GC */
	char ready_pin[PATH_MAX]; /* exists once the objects are pinned */
	double start_time; /* seconds since the epoch */
	struct count_cache counts[16]; /* by maps[] index; the thread's */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* --- output buffer -------------------------------------------------------- */

struct mbuf {
	char *p;
	size_t len, cap;
	int err; /* sticky: the first failure */
};

static void mb_reserve(struct mbuf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	while (cap - b->len < more)
		cap *= 2;
	if (cap == b->cap)
		return;
	p = realloc(b->p, cap);
	if (!p) {
		b->err = -ENOMEM;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void mb_printf(struct mbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void mb_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	while (!b->err) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = -EINVAL;
		} else if ((size_t)n < room) {
			b->len += n;
			return;
		} else {
			mb_reserve(b, (size_t)n + 1);
		}
	}
}

/*
 * The format's escapes: in HELP text a backslash and a newline, in a label
 * value also the double quote.
 */
static void mb_escaped(struct mbuf *b, const char *s, bool label)
{
	for (; *s; s++) {
		if (*s == '\\')
			mb_printf(b, "\\\\");
		else if (*s == '\n')
			mb_printf(b, "\\n");
		else if (*s == '"' && label)
			mb_printf(b, "\\\"");
		else
			mb_printf(b, "%c", *s);
	}
}

/* name{k1="v1",k2="v2"}: @labels holds key, value pairs, then NULL. */
static void mb_series(struct mbuf *b, const char *name,
		      const char *const *labels)
{
	mb_printf(b, "%s", name);
	if (!labels || !labels[0])
		return;
	for (int i = 0; labels[i] && labels[i + 1]; i += 2) {
		mb_printf(b, "%c%s=\"", i ? ',' : '{', labels[i]);
		mb_escaped(b, labels[i + 1], true);
		mb_printf(b, "\"");
	}
	mb_printf(b, "}");
}

static void sample_u64(struct mbuf *b, const char *name,
		       const char *const *labels, __u64 v)
{
	mb_series(b, name, labels);
	mb_printf(b, " %llu\n", (unsigned long long)v);
}

static void sample_f(struct mbuf *b, const char *name,
		     const char *const *labels, double v)
{
	mb_series(b, name, labels);
	mb_printf(b, " %.3f\n", v);
}

#define LABELS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* --- families --------------------------------------------------------------- */

/* What every family of one scrape sees: the counters are read once. */
struct scrape {
	const struct zh_metrics *m;
	struct count_cache *counts; /* m's, written by the scrape */
	struct zh_counter stats[ZH_STAT_MAX];
	const struct zh_kube_stats *kube; /* NULL: no Kubernetes mode */
	const struct zh_ctgc_stats *gc; /* NULL: no conntrack GC */
};

/* The counter's reason label: its name without the pass_/drop_ prefix. */
static const char *stat_reason(int stat)
{
	const char *name = zh_stat_name(stat);

	if (!strncmp(name, "pass_", 5) || !strncmp(name, "drop_", 5))
		return name + 5;
	return name;
}

static void stats_samples(struct mbuf *b, const char *name,
			  const struct scrape *s, bool drops, bool bytes)
{
	for (int i = 0; i < ZH_STAT_MAX; i++) {
		__u64 v = bytes ? s->stats[i].bytes : s->stats[i].packets;

		if (zh_stat_is_drop(i) != drops)
			continue;
		if (drops)
			sample_u64(b, name, LABELS("reason", stat_reason(i)),
				   v);
		else if (i == ZH_STAT_REDIRECT)
			sample_u64(b, name, LABELS("action", "redirect"), v);
		else if (i == ZH_STAT_XSK_REDIRECT)
			sample_u64(b, name, LABELS("action", "xsk"), v);
		else
			sample_u64(b, name,
				   LABELS("action", "pass", "reason",
					  stat_reason(i)),
				   v);
	}
}

static int fam_packets(struct mbuf *b, const char *name, const struct scrape *s)
{
	stats_samples(b, name, s, false, false);
	return 0;
}

static int fam_bytes(struct mbuf *b, const char *name, const struct scrape *s)
{
	stats_samples(b, name, s, false, true);
	return 0;
}

static int fam_drops(struct mbuf *b, const char *name, const struct scrape *s)
{
	stats_samples(b, name, s, true, false);
	return 0;
}

static int fam_drop_bytes(struct mbuf *b, const char *name,
			  const struct scrape *s)
{
	stats_samples(b, name, s, true, true);
	return 0;
}

static int count_cb(__u32 ifindex, const struct zh_iface *iface, void *arg)
{
	(*(__u64 *)arg)++;
	return 0;
}

static int fam_endpoints(struct mbuf *b, const char *name,
			 const struct scrape *s)
{
	__u64 n = 0;
	int err = zh_iface_foreach(s->m->objs, count_cb, &n);

	if (err < 0)
		return err;
	sample_u64(b, name, NULL, n);
	return 0;
}

static const struct {
	const char *name;
	size_t fd_off;
} maps[] = {
	{ ZH_MAP_ENDPOINTS, offsetof(struct zh_objs, endpoints_fd) },
	{ ZH_MAP_IFACES, offsetof(struct zh_objs, ifaces_fd) },
	{ ZH_MAP_STATS, offsetof(struct zh_objs, stats_fd) },
	{ ZH_MAP_LAT_FLOWS, offsetof(struct zh_objs, lat_flows_fd) },
	{ ZH_MAP_SERVICES, offsetof(struct zh_objs, services_fd) },
	{ ZH_MAP_BACKENDS, offsetof(struct zh_objs, backends_fd) },
	{ ZH_MAP_CT, offsetof(struct zh_objs, ct_fd) },
	{ ZH_MAP_AFFINITY, offsetof(struct zh_objs, affinity_fd) },
	{ ZH_MAP_NODE_ADDRS, offsetof(struct zh_objs, node_addrs_fd) },
};
#define N_MAPS (sizeof(maps) / sizeof(maps[0]))
_Static_assert(N_MAPS <= sizeof(((struct zh_metrics *)0)->counts) /
				 sizeof(struct count_cache),
	       "zh_metrics.counts too small for maps[]");

static int map_info(const struct zh_objs *o, size_t i,
		    struct bpf_map_info *info)
{
	int fd = *(const int *)((const char *)o + maps[i].fd_off);
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	/* bpf_map_get_info_by_fd() is libbpf >= 1.2; Debian 12 has 1.1. */
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		return -errno;
	return fd;
}

/*
 * A map's entry count at a cost bounded by design: it is counted again
 * only once the last count is older than COUNT_DUTY times what that count
 * cost. Whatever the scrape rate and map size, counting then takes at most
 * 1/COUNT_DUTY of the server's time: the maps of a small node (µs) are
 * counted on every scrape, a million conntrack entries (0.3-0.5 s on a
 * 2-vCPU VM: make bench-load) every 3 to 5 s.
 */
#define COUNT_DUTY 10

static int map_count(struct count_cache *c, int fd,
		     const struct bpf_map_info *info, __u64 *n)
{
	uint64_t t0 = now_ns();
	int err;

	if (c->valid && t0 - c->at_ns < c->cost_ns * COUNT_DUTY) {
		*n = c->n;
		return 0;
	}
	err = zh_map_count(fd, info, n);
	if (err)
		return err;
	c->n = *n;
	c->at_ns = now_ns();
	c->cost_ns = c->at_ns - t0;
	c->valid = true;
	return 0;
}

static int fam_map_entries(struct mbuf *b, const char *name,
			   const struct scrape *s)
{
	struct bpf_map_info info;
	__u64 n;
	int fd, err;

	for (size_t i = 0; i < N_MAPS; i++) {
		fd = map_info(s->m->objs, i, &info);
		if (fd < 0)
			return fd;
		err = map_count(&s->counts[i], fd, &info, &n);
		if (err)
			return err;
		sample_u64(b, name, LABELS("map", maps[i].name), n);
	}
	return 0;
}

static int fam_map_max_entries(struct mbuf *b, const char *name,
			       const struct scrape *s)
{
	struct bpf_map_info info;
	int fd;

	for (size_t i = 0; i < N_MAPS; i++) {
		fd = map_info(s->m->objs, i, &info);
		if (fd < 0)
			return fd;
		sample_u64(b, name, LABELS("map", maps[i].name),
			   info.max_entries);
	}
	return 0;
}

/* 100 ns to 10 s, 1-2.5-5 per decade: le bounds in ns. */
static const __u64 lat_bounds_ns[] = {
	100,	   250,	       500,	   1000,       2500,
	5000,	   10000,      25000,	   50000,      100000,
	250000,	   500000,     1000000,	   2500000,    5000000,
	10000000,  25000000,   50000000,   100000000,  250000000,
	500000000, 1000000000, 2500000000, 5000000000, 10000000000
};
#define N_LAT_BOUNDS (sizeof(lat_bounds_ns) / sizeof(lat_bounds_ns[0]))

/*
 * One histogram's _bucket, _sum and _count series; @labels are its own
 * (key, value pairs, at most three, then NULL), "le" comes last.
 */
static void hist_samples(struct mbuf *b, const char *name,
			 const char *const *labels, const struct zh_hist *h)
{
	const char *l[9] = { NULL };
	__u64 cum[N_LAT_BOUNDS];
	char series[128], le[32];
	int n = 0;

	while (labels && labels[n] && n < 6) {
		l[n] = labels[n];
		n++;
	}
	zh_hist_cumulative(h, lat_bounds_ns, N_LAT_BOUNDS, cum);
	snprintf(series, sizeof(series), "%s_bucket", name);
	l[n] = "le";
	for (size_t i = 0; i <= N_LAT_BOUNDS; i++) {
		if (i < N_LAT_BOUNDS)
			snprintf(le, sizeof(le), "%g",
				 (double)lat_bounds_ns[i] / 1e9);
		l[n + 1] = i < N_LAT_BOUNDS ? le : "+Inf";
		sample_u64(b, series, l, i < N_LAT_BOUNDS ? cum[i] : h->count);
	}
	l[n] = NULL;
	snprintf(series, sizeof(series), "%s_sum", name);
	mb_series(b, series, l);
	mb_printf(b, " %.9f\n", (double)h->sum_ns / 1e9);
	snprintf(series, sizeof(series), "%s_count", name);
	sample_u64(b, series, l, h->count);
}

static int fam_hop_latency(struct mbuf *b, const char *name,
			   const struct scrape *s)
{
	struct zh_hist *h = malloc(sizeof(*h));
	int err = 0;

	if (!h)
		return -ENOMEM;
	for (int hop = 0; hop < ZH_HOP_MAX && !err; hop++) {
		for (int src = 0; src < ZH_LAT_SRC_MAX; src++) {
			err = zh_lat_read(s->m->objs, hop, src, h);
			if (err)
				break;
			hist_samples(b, name,
				     LABELS("hop", zh_hop_name(hop), "source",
					    zh_lat_src_name(src)),
				     h);
		}
	}
	free(h);
	return err;
}

static int fam_lat_config(struct mbuf *b, const char *name,
			  const struct scrape *s)
{
	struct zh_config cfg;
	int err = zh_config_get(s->m->objs, &cfg);

	if (err)
		return err;
	sample_u64(b, name, LABELS("setting", "probes"),
		   !!(cfg.flags & ZH_CFG_F_PROBES));
	sample_u64(b, name, LABELS("setting", "sample_every"),
		   cfg.sample_every);
	return 0;
}

static int fam_start_time(struct mbuf *b, const char *name,
			  const struct scrape *s)
{
	sample_f(b, name, NULL, s->m->start_time);
	return 0;
}

static int fam_build_info(struct mbuf *b, const char *name,
			  const struct scrape *s)
{
	sample_u64(b, name, LABELS("version", ZH_VERSION), 1);
	return 0;
}

static int fam_kernel_feature(struct mbuf *b, const char *name,
			      const struct scrape *s)
{
	for (int id = 0; id < ZH_FEAT_MAX; id++)
		sample_u64(b, name, LABELS("feature", zh_feat_name(id)),
			   zh_kfeat_has(&s->m->objs->feat, id));
	return 0;
}

static int fam_xsk_handoffs(struct mbuf *b, const char *name,
			    const struct scrape *s)
{
	struct zh_xsk_srv_stats st;

	if (!s->m->xsk)
		return 0;
	zh_xsk_srv_stats(s->m->xsk, &st);
	for (int r = 0; r < ZH_XSK_R_MAX; r++)
		sample_u64(b, name, LABELS("result", zh_xsk_result_name(r)),
			   st.results[r]);
	return 0;
}

static int fam_xsk_live(struct mbuf *b, const char *name,
			const struct scrape *s)
{
	struct zh_xsk_srv_stats st;

	if (!s->m->xsk)
		return 0;
	zh_xsk_srv_stats(s->m->xsk, &st);
	sample_u64(b, name, NULL, st.live);
	return 0;
}

/* Socket-level LB (socklb.h): zh_sock_stats, read once per family. */
static int fam_sock_translations(struct mbuf *b, const char *name,
				 const struct scrape *s)
{
	__u64 st[ZH_SOCK_STAT_MAX];
	int err = zh_sock_stats_read(s->m->objs, st, false);

	if (err)
		return err;
	for (int h = 0; h < ZH_SOCK_STAT_REFUSED; h++)
		sample_u64(b, name, LABELS("hook", zh_sock_stat_name(h)),
			   st[h]);
	return 0;
}

static int fam_sock_refused(struct mbuf *b, const char *name,
			    const struct scrape *s)
{
	__u64 st[ZH_SOCK_STAT_MAX];
	int err = zh_sock_stats_read(s->m->objs, st, false);

	if (err)
		return err;
	sample_u64(b, name, NULL, st[ZH_SOCK_STAT_REFUSED]);
	return 0;
}

/* Connected UDP sockets of removed backends (sockdiag.h), counted in
 * zh_sock_stats by the agent and zerohopctl. */
static int fam_sock_destroyed(struct mbuf *b, const char *name,
			      const struct scrape *s)
{
	__u64 st[ZH_SOCK_STAT_MAX];
	int err = zh_sock_stats_read(s->m->objs, st, false);

	if (err)
		return err;
	sample_u64(b, name, LABELS("result", "destroyed"),
		   st[ZH_SOCK_STAT_UDP_DESTROYED]);
	sample_u64(b, name, LABELS("result", "failed"),
		   st[ZH_SOCK_STAT_UDP_DESTROY_FAILED]);
	return 0;
}

/* Routing vxlan in BPF (vxlan.h): zh_vxlan_stats. */
static int fam_vxlan(struct mbuf *b, const char *name, const struct scrape *s)
{
	__u64 st[ZH_VXLAN_STAT_MAX];
	int err = zh_vxlan_stats_read(s->m->objs, st, false);

	if (err)
		return err;
	for (int e = 0; e < ZH_VXLAN_STAT_MAX; e++)
		sample_u64(b, name, LABELS("event", zh_vxlan_stat_name(e)),
			   st[e]);
	return 0;
}

static int fam_sock_attached(struct mbuf *b, const char *name,
			     const struct scrape *s)
{
	unsigned int mask = zh_socklb_attached(s->m->objs->dir, NULL);

	for (int h = 0; h < ZH_SOCK_HOOKS; h++)
		sample_u64(b, name, LABELS("hook", zh_sock_hook_name(h)),
			   mask >> h & 1);
	return 0;
}

/* The conntrack GC (gc.h): nothing with --ct-gc-interval off. */
#define GC_FAMILY(fn, body)                             \
	static int fn(struct mbuf *b, const char *name, \
		      const struct scrape *s)           \
	{                                               \
		const struct zh_ctgc_stats *st = s->gc; \
                                                        \
		if (!st)                                \
			return 0;                       \
		body;                                   \
		return 0;                               \
	}
GC_FAMILY(fam_gc_sweeps, {
	sample_u64(b, name, LABELS("result", "ok"), st->sweeps - st->errors);
	sample_u64(b, name, LABELS("result", "failed"), st->errors);
})
GC_FAMILY(fam_gc_deleted, sample_u64(b, name, NULL, st->deleted_total))
GC_FAMILY(fam_gc_kept, sample_u64(b, name, NULL, st->kept_total))
GC_FAMILY(fam_gc_live, {
	if (st->sweeps)
		sample_u64(b, name, NULL, st->last.live + st->last.kept);
})
GC_FAMILY(fam_gc_duration, {
	if (st->sweeps)
		sample_f(b, name, NULL, (double)st->last_duration_ns / 1e9);
})
GC_FAMILY(fam_gc_last, {
	if (st->sweeps)
		sample_f(b, name, NULL, st->last_time);
})
GC_FAMILY(fam_gc_interval, sample_u64(b, name, NULL, st->interval_s))

/* The Kubernetes families: nothing without --kubernetes. */
#define KUBE_FAMILY(fn, body)                             \
	static int fn(struct mbuf *b, const char *name,   \
		      const struct scrape *s)             \
	{                                                 \
		const struct zh_kube_stats *st = s->kube; \
                                                          \
		if (!st)                                  \
			return 0;                         \
		body;                                     \
		return 0;                                 \
	}
#define PER_KIND(field)                                           \
	for (int i = 0; i < st->kinds; i++)                       \
	sample_u64(b, name, LABELS("kind", zh_kube_kind_name(i)), \
		   st->kind[i].field)

KUBE_FAMILY(fam_k8s_objects, PER_KIND(objects))
KUBE_FAMILY(fam_k8s_restarts, PER_KIND(restarts))
KUBE_FAMILY(fam_k8s_relists, PER_KIND(relists))
KUBE_FAMILY(fam_k8s_events, PER_KIND(events))
KUBE_FAMILY(fam_k8s_synced, sample_u64(b, name, NULL, st->synced))
KUBE_FAMILY(fam_k8s_latency, hist_samples(b, name, NULL, &st->latency))
KUBE_FAMILY(fam_k8s_syncs, {
	sample_u64(b, name, LABELS("result", "ok"), st->applies);
	sample_u64(b, name, LABELS("result", "failed"), st->apply_failures);
})
KUBE_FAMILY(fam_k8s_rejected, {
	for (int i = 0; i < st->kinds; i++)
		for (int r = 0; r < ZH_KUBE_REASONS; r++)
			sample_u64(b, name,
				   LABELS("kind", zh_kube_kind_name(i),
					  "reason", zh_kube_reason_name(r)),
				   st->rejected[i][r]);
})

/* NetworkPolicy: nothing unless --network-policy is audit or on. */
#define POL_FAMILY(fn, body)                         \
	KUBE_FAMILY(fn, {                            \
		if (st->pol.mode == ZH_POL_MODE_OFF) \
			return 0;                    \
		body;                                \
	})
POL_FAMILY(fam_pol_mode, {
	sample_u64(b, name,
		   LABELS("mode",
			  st->pol.mode == ZH_POL_MODE_AUDIT ? "audit" : "on"),
		   1);
})
POL_FAMILY(fam_pol_compiled, sample_u64(b, name, NULL, st->pol.compiled))
POL_FAMILY(fam_pol_ids, sample_u64(b, name, NULL, st->pol.sum.identities))
POL_FAMILY(fam_pol_classes, sample_u64(b, name, NULL, st->pol.sum.classes))
POL_FAMILY(fam_pol_cells, sample_u64(b, name, NULL, st->pol.sum.cells))
POL_FAMILY(fam_pol_eps, sample_u64(b, name, NULL, st->pol.sum.endpoints))
POL_FAMILY(fam_pol_addrs, {
	sample_u64(b, name, LABELS("map", ZH_MAP_IPCACHE), st->pol.sum.ipcache);
	sample_u64(b, name, LABELS("map", ZH_MAP_IPCACHE_LPM), st->pol.sum.lpm);
})
POL_FAMILY(fam_pol_rejected, {
	sample_u64(b, name, LABELS("kind", "NetworkPolicy"),
		   st->pol.rejected[0]);
	sample_u64(b, name, LABELS("kind", "Pod"), st->pol.rejected[1]);
	sample_u64(b, name, LABELS("kind", "Namespace"), st->pol.rejected[2]);
})
POL_FAMILY(fam_pol_failed, {
	sample_u64(b, name, LABELS("what", "classes"),
		   st->pol.sum.failed_classes);
	sample_u64(b, name, LABELS("what", "identity_overflow"),
		   st->pol.sum.identity_overflow);
})
POL_FAMILY(fam_pol_compiles, {
	sample_u64(b, name, LABELS("result", "ok"), st->pol.compiles);
	sample_u64(b, name, LABELS("result", "failed"), st->pol.failures);
})
POL_FAMILY(fam_pol_writes, sample_u64(b, name, NULL, st->pol.writes))
POL_FAMILY(fam_pol_latency, hist_samples(b, name, NULL, &st->pol.latency))
/* zh_polctr: first packets each class decided (allowed, denied, audited),
 * summed over the CPUs; classes with none left out. Class numbers start at
 * 1 and stay below twice the classes the compile has. */
POL_FAMILY(fam_pol_class, {
	const struct zh_objs *o = s->m->objs;
	size_t max = 2 * st->pol.sum.classes + 16;

	if (!o || o->polctr_fd < 0)
		return 0;
	if (max > ZH_MAX_POL_CLASSES)
		max = ZH_MAX_POL_CLASSES;
	for (__u32 c = 1; c < max; c++) {
		__u64 t[4]; /* struct zh_pol_count's words */
		char cls[12];

		if (zh_percpu_sum(o->polctr_fd, c, 1, 4, t, false))
			continue;
		if (!(t[0] | t[1] | t[2]))
			continue;
		snprintf(cls, sizeof(cls), "%u", c);
		sample_u64(b, name, LABELS("class", cls, "result", "allowed"),
			   t[0]);
		sample_u64(b, name, LABELS("class", cls, "result", "denied"),
			   t[1]);
		sample_u64(b, name, LABELS("class", cls, "result", "audited"),
			   t[2]);
	}
})
POL_FAMILY(fam_pol_bumps, sample_u64(b, name, NULL, st->pol.epoch_bumps))
/* Per NetworkPolicy (pol_maps.h zh_pol_maps_counts()): flows allowed with
 * it credited, denied and audited in its classes. */
static void pol_policy_samples(struct mbuf *b, const char *name,
			       const struct scrape *s)
{
	static const char *const results[] = { "allowed", "denied", "audited" };
	const struct zh_objs *o = s->m->objs;
	json_t *idx = s->m->kube ? zh_kube_pol_index(s->m->kube) : NULL;
	json_t *counts = idx && o ? zh_pol_maps_counts(o, idx) : NULL, *v;
	const char *key;

	for (void *it = counts ? json_object_iter(counts) : NULL; it;
	     it = json_object_iter_next(counts, it)) {
		key = json_object_iter_key(it);
		v = json_object_iter_value(it);
		for (size_t r = 0; r < 3; r++)
			sample_u64(b, name,
				   LABELS("policy", key, "result", results[r]),
				   (__u64)json_integer_value(
					   json_object_get(v, results[r])));
	}
	json_decref(counts);
	json_decref(idx);
}
POL_FAMILY(fam_pol_policy, pol_policy_samples(b, name, s))

static const struct family {
	const char *name;
	const char *type; /* counter, gauge (histogram: _bucket/_sum/_count) */
	const char *help;
	int (*emit)(struct mbuf *b, const char *name, const struct scrape *s);
} families[] = {
	{ "zerohop_packets_total", "counter",
	  "Packets from pods seen by the fast path: redirected to a local pod, steered into a pod's AF_XDP socket (action=xsk), or passed to the kernel (with the reason).",
	  fam_packets },
	{ "zerohop_bytes_total", "counter",
	  "Bytes of the packets in zerohop_packets_total.", fam_bytes },
	{ "zerohop_drops_total", "counter",
	  "Packets from pods the fast path dropped, by reason.", fam_drops },
	{ "zerohop_drop_bytes_total", "counter",
	  "Bytes of the packets in zerohop_drops_total.", fam_drop_bytes },
	{ "zerohop_endpoints", "gauge",
	  "Pods on the fast path (entries in " ZH_MAP_IFACES ").",
	  fam_endpoints },
	{ "zerohop_map_entries", "gauge", "Entries in each pinned BPF map.",
	  fam_map_entries },
	{ "zerohop_map_max_entries", "gauge",
	  "Capacity (max_entries) of each pinned BPF map.",
	  fam_map_max_entries },
	{ "zerohop_hop_latency_seconds", "histogram",
	  "Time for a packet to reach each hop of the datapath (egress: the host veth; deliver: the destination pod after our redirect; kernel: a pod after the kernel's path), from the sender's timestamp (source=probe) or from the egress hop (source=sample).",
	  fam_hop_latency },
	{ "zerohop_latency_config", "gauge",
	  "Latency measurement settings: probes (1 on, 0 off) and sample_every (1 in N packets from pods, 0 off).",
	  fam_lat_config },
	{ "zerohop_xsk_handoffs_total", "counter",
	  "AF_XDP socket handoff requests from pods, by result: registered, unregistered, or why it was refused.",
	  fam_xsk_handoffs },
	{ "zerohop_xsk_registrations", "gauge",
	  "AF_XDP sockets pods have registered with the agent and not released.",
	  fam_xsk_live },
	{ "zerohop_socket_lb_translations_total", "counter",
	  "Socket calls the socket-level balancer translated, by hook: connect4/6 and sendmsg4/6 (a Service address to a backend), recvmsg4/6 and getpeername4/6 (a backend back to the Service address).",
	  fam_sock_translations },
	{ "zerohop_socket_lb_refused_total", "counter",
	  "connect() or sendmsg() to a Service without ready endpoints, failed at once (ECONNREFUSED) by the socket-level balancer.",
	  fam_sock_refused },
	{ "zerohop_socket_lb_udp_destroyed_total", "counter",
	  "Connected UDP sockets that socket-LB had given a backend since removed, destroyed (SOCK_DESTROY: the application reads ECONNABORTED and reconnects), or not (failed).",
	  fam_sock_destroyed },
	{ "zerohop_socket_lb_attached", "gauge",
	  "1 where the socket-level balancer's program for the hook is attached (to the cgroup v2 root, or --cgroup), else 0.",
	  fam_sock_attached },
	{ "zerohop_vxlan_packets_total", "counter",
	  "Routing vxlan: packets encapsulated (encap) and decapsulated (decap) in BPF, decapsulated and handed to the VXLAN device (decap_to_device), sent through the kernel's VXLAN device (device_encap), or refused by the encapsulation helper (encap_refused).",
	  fam_vxlan },
	{ "zerohop_agent_start_time_seconds", "gauge",
	  "When zerohopd came up (objects open, HTTP serving), in seconds since the Unix epoch.",
	  fam_start_time },
	{ "zerohop_kernel_feature", "gauge",
	  "Kernel features of this node as the probes found them (zerohopctl features): 1 present, 0 absent or disabled.",
	  fam_kernel_feature },
	{ "zerohop_build_info", "gauge",
	  "The version of zerohopd; the value is always 1.", fam_build_info },
	{ "zerohop_conntrack_gc_sweeps_total", "counter",
	  "Sweeps of " ZH_MAP_CT
	  " for entries past their idle timeout (--ct-gc-interval), by result.",
	  fam_gc_sweeps },
	{ "zerohop_conntrack_gc_deleted_total", "counter",
	  "Conntrack entries the sweeps deleted: idle past their timeout, as the datapath holds them dead.",
	  fam_gc_deleted },
	{ "zerohop_conntrack_gc_kept_total", "counter",
	  "Conntrack entries past their timeout the sweeps kept: the other entry of their flow lives.",
	  fam_gc_kept },
	{ "zerohop_conntrack_gc_live_entries", "gauge",
	  "Conntrack entries the last sweep found alive (or kept with their flow).",
	  fam_gc_live },
	{ "zerohop_conntrack_gc_duration_seconds", "gauge",
	  "How long the last sweep took (wall clock, pauses between its slices included).",
	  fam_gc_duration },
	{ "zerohop_conntrack_gc_last_sweep_time_seconds", "gauge",
	  "When the last sweep ended, in seconds since the Unix epoch.",
	  fam_gc_last },
	{ "zerohop_conntrack_gc_interval_seconds", "gauge",
	  "Seconds from one sweep to the next (adapted after each with --ct-gc-interval auto).",
	  fam_gc_interval },
	{ "zerohop_k8s_objects", "gauge",
	  "Kubernetes objects the agent holds from its watches, by kind (--kubernetes).",
	  fam_k8s_objects },
	{ "zerohop_k8s_watch_restarts_total", "counter",
	  "Watches that ended in an error or a dropped connection and were started again, by kind.",
	  fam_k8s_restarts },
	{ "zerohop_k8s_relists_total", "counter",
	  "Lists from scratch because the server no longer had the version a watch resumed from (410 Gone), by kind.",
	  fam_k8s_relists },
	{ "zerohop_k8s_events_total", "counter",
	  "Watch events that changed what the agent holds, by kind.",
	  fam_k8s_events },
	{ "zerohop_k8s_rejected_total", "counter",
	  "Objects (or a Service's ports) left out, by kind and reason: invalid, conflict (another Service has the address), unsupported (SCTP); once per change of the object.",
	  fam_k8s_rejected },
	{ "zerohop_k8s_syncs_total", "counter",
	  "Batches of changes programmed into the Service maps, by result.",
	  fam_k8s_syncs },
	{ "zerohop_k8s_synced", "gauge",
	  "1 once the Services from the API server have been programmed, else 0.",
	  fam_k8s_synced },
	{ "zerohop_policy_mode", "gauge",
	  "--network-policy: audit or on (1). The datapath judges pods' traffic (audit: counts, drops nothing).",
	  fam_pol_mode },
	{ "zerohop_policy_compiled", "gauge",
	  "1 once the NetworkPolicies were compiled from complete lists of Pods, Namespaces and NetworkPolicies.",
	  fam_pol_compiled },
	{ "zerohop_policy_identities", "gauge",
	  "Policy identities of the last compile: signatures of the peers an address matches (node-local numbers).",
	  fam_pol_ids },
	{ "zerohop_policy_classes", "gauge",
	  "Policy classes of the last compile: per direction, the sets of policies selecting a pod of this node.",
	  fam_pol_classes },
	{ "zerohop_policy_cells", "gauge",
	  "Entries the last compile has for " ZH_MAP_POLICY
	  " ({class, direction, protocol, identity} -> ports).",
	  fam_pol_cells },
	{ "zerohop_policy_endpoints", "gauge",
	  "Addresses of this node's pods with a policy state in the last compile.",
	  fam_pol_eps },
	{ "zerohop_policy_addresses", "gauge",
	  "Entries the last compile has for the ipcache: pod and node addresses (" ZH_MAP_IPCACHE
	  "), ipBlock prefixes (" ZH_MAP_IPCACHE_LPM ").",
	  fam_pol_addrs },
	{ "zerohop_policy_rejected", "gauge",
	  "Objects the last compile left out (invalid, or past a bound), by kind; each is logged once with its reason.",
	  fam_pol_rejected },
	{ "zerohop_policy_fail_closed", "gauge",
	  "What did not fit in the last compile and fails closed: classes without cells (their pods denied), addresses resolved as the empty signature.",
	  fam_pol_failed },
	{ "zerohop_policy_compiles_total", "counter",
	  "Compiles of the NetworkPolicies after changes, by result.",
	  fam_pol_compiles },
	{ "zerohop_policy_map_writes_total", "counter",
	  "Map writes the compiles called for (executed in order, make before break).",
	  fam_pol_writes },
	{ "zerohop_policy_epoch_bumps_total", "counter",
	  "Compiles that removed access (established flows to be judged again).",
	  fam_pol_bumps },
	{ "zerohop_policy_event_to_enforcement_seconds", "histogram",
	  "From the first watch event of a batch of Pod, Namespace or NetworkPolicy changes to the policy maps written with it.",
	  fam_pol_latency },
	{ "zerohop_policy_class_packets_total", "counter",
	  "First packets of flows (and packets judged again after an epoch bump) by policy class and result: allowed, denied, audited (denied, let through by audit).",
	  fam_pol_class },
	{ "zerohop_policy_packets_total", "counter",
	  "First packets of flows (and packets judged again after an epoch bump) by NetworkPolicy (namespace/name) and result: allowed (the first policy by name whose rules allow the port is credited), denied and audited (credited to every policy selecting the pod in that direction).",
	  fam_pol_policy },
	{ "zerohop_k8s_event_to_datapath_seconds", "histogram",
	  "From a watch event's arrival to the Service maps written with it.",
	  fam_k8s_latency },
};

static int scrape(struct zh_metrics *m, struct mbuf *b)
{
	struct scrape s = { .m = m, .counts = m->counts };
	struct zh_kube_stats *kst = NULL;
	struct zh_ctgc_stats gst;
	int err;

	err = zh_stats_read(m->objs, s.stats);
	if (err)
		return err;
	if (m->kube) {
		kst = malloc(sizeof(*kst));
		if (!kst)
			return -ENOMEM;
		zh_kube_stats(m->kube, kst);
		s.kube = kst;
	}
	if (m->gc) {
		zh_gc_stats(m->gc, &gst);
		s.gc = &gst;
	}
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		const struct family *f = &families[i];

		mb_printf(b, "# HELP %s ", f->name);
		mb_escaped(b, f->help, false);
		mb_printf(b, "\n# TYPE %s %s\n", f->name, f->type);
		err = f->emit(b, f->name, &s);
		if (err) {
			pr_warn("metrics: %s: %s\n", f->name, strerror(-err));
			free(kst);
			return err;
		}
	}
	free(kst);
	return b->err;
}

/* --- HTTP ------------------------------------------------------------------- */

/* Queue a response; @owned bodies are malloc()ed and freed by MHD. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status,
			     const char *type, char *body, size_t len,
			     bool owned)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (owned)
		r = MHD_create_response_from_buffer_with_free_callback(
			len, body, free);
	else
		r = MHD_create_response_from_buffer(len, body,
						    MHD_RESPMEM_PERSISTENT);
	if (!r) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned int status,
			    const char *msg)
{
	return reply(c, status, TYPE_TEXT, (char *)msg, strlen(msg), false);
}

static enum MHD_Result serve_metrics(struct zh_metrics *m,
				     struct MHD_Connection *c)
{
	struct mbuf b = { 0 };
	int err = scrape(m, &b);

	if (err) {
		free(b.p);
		pr_warn("metrics: scrape failed: %s\n", strerror(-err));
		return text(
			c, MHD_HTTP_INTERNAL_SERVER_ERROR,
			"reading the BPF maps failed; see the agent's log\n");
	}
	return reply(c, MHD_HTTP_OK, TYPE_METRICS, b.p, b.len, true);
}

static bool kube_synced(const struct zh_kube *k)
{
	struct zh_kube_stats *st = malloc(sizeof(*st));
	bool synced = false;

	if (st) {
		zh_kube_stats(k, st);
		synced = st->synced;
		free(st);
	}
	return synced;
}

/*
 * @s for a log line: what a client sent may hold anything (MHD has
 * decoded %xx), so every byte that is not printable ASCII, and the
 * backslash, is written \xHH; cut with "..." to fit @len (>= 8).
 */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s && o + 5 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
	}
	if (*s && len >= 4)
		o = o > len - 4 ? len - 4 : o, memcpy(buf + o, "...", 3),
		o += 3;
	buf[o] = '\0';
	return buf;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct zh_metrics *m = cls;

	if (zh_log_get_level() >= ZH_LOG_DEBUG) {
		char m[64], u[256];

		pr_debug("http: %s %s\n", printable(method, m, sizeof(m)),
			 printable(url, u, sizeof(u)));
	}
	/* HEAD too: HTTP requires it wherever GET works; MHD sends no body. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "method not allowed\n");
	if (!strcmp(url, "/metrics"))
		return serve_metrics(m, c);
	if (!strcmp(url, "/healthz"))
		return text(c, MHD_HTTP_OK, "ok\n");
	if (!strcmp(url, "/readyz")) {
		if (access(m->ready_pin, F_OK))
			return text(
				c, MHD_HTTP_SERVICE_UNAVAILABLE,
				"not ready: the BPF objects are not pinned\n");
		if (m->kube && !kube_synced(m->kube))
			return text(
				c, MHD_HTTP_SERVICE_UNAVAILABLE,
				"not ready: the Services from the API server are not programmed yet\n");
		return text(c, MHD_HTTP_OK, "ready\n");
	}
	return text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* --- connections and their deadline --------------------------------------- */

static void conn_notify(void *cls, struct MHD_Connection *c, void **ctx,
			enum MHD_ConnectionNotificationCode what)
{
	struct zh_metrics *m = cls;
	struct conn *k = *ctx;
	const union MHD_ConnectionInfo *ci;

	if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (k) {
			k->prev->next = k->next;
			k->next->prev = k->prev;
			free(k);
			*ctx = NULL;
		}
		return;
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	k = calloc(1, sizeof(*k));
	if (!k || !ci) {
		/* Untracked means no deadline: refuse it instead. */
		free(k);
		if (ci)
			shutdown(ci->connect_fd, SHUT_RDWR);
		return;
	}
	k->fd = ci->connect_fd;
	k->since_ns = now_ns();
	k->next = m->conns.next;
	k->prev = &m->conns;
	k->next->prev = k;
	m->conns.next = k;
	*ctx = k;
}

/* A request answered: the connection's next one has a deadline of its own. */
static void request_done(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *k = ci ? ci->socket_context : NULL;

	if (k)
		k->since_ns = now_ns();
}

/*
 * Cut every connection past its deadline. shutdown(), not close(): the fd
 * stays MHD's, which sees the end of the stream at its next step and
 * closes the connection itself; and as only this thread runs MHD, the fd
 * cannot have been closed and reused under us.
 */
static void cut_late(struct zh_metrics *m)
{
	uint64_t now = now_ns();

	for (struct conn *k = m->conns.next; k != &m->conns; k = k->next) {
		if (k->cut ||
		    now - k->since_ns < REQUEST_DEADLINE_S * 1000000000ULL)
			continue;
		shutdown(k->fd, SHUT_RDWR);
		k->cut = true;
		pr_debug("http: a connection passed its %d s deadline, cut\n",
			 REQUEST_DEADLINE_S);
	}
}

static void *serve(void *arg)
{
	struct zh_metrics *m = arg;
	const union MHD_DaemonInfo *di =
		MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	struct pollfd p[2] = {
		{ .fd = di ? di->epoll_fd : -1, .events = POLLIN },
		{ .fd = m->stop_fd, .events = POLLIN },
	};

	for (;;) {
		MHD_UNSIGNED_LONG_LONG to;
		int ms = DEADLINE_TICK_MS;

		if (MHD_get_timeout(m->daemon, &to) == MHD_YES &&
		    to < (unsigned)ms)
			ms = (int)to;
		if (poll(p, 2, ms) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		MHD_run(m->daemon);
		cut_late(m);
	}
	return NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	zh_vlog(ZH_LOG_WARN, fmt, ap);
}

int zh_metrics_parse_listen(const char *listen_addr,
			    struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	const char *host = listen_addr, *port_s;
	char addr[INET6_ADDRSTRLEN];
	uint64_t port;
	size_t host_len;
	bool v6;

	memset(ss, 0, sizeof(*ss));
	if (!listen_addr)
		return -EINVAL;
	if (!strpbrk(listen_addr, ".:[")) {
		/* A port alone: loopback, reachable from the node only. */
		host = "127.0.0.1";
		host_len = strlen(host);
		port_s = listen_addr;
		v6 = false;
	} else if (host[0] == '[') {
		const char *end = strchr(++host, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		host_len = end - host;
		port_s = end + 2;
		v6 = true;
	} else {
		const char *colon = strrchr(host, ':');

		if (!colon)
			return -EINVAL;
		host_len = colon - host;
		port_s = colon + 1;
		v6 = false;
	}
	if (!host_len || host_len >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, host, host_len);
	addr[host_len] = '\0';

	if (zh_params_parse_uint(NULL, port_s, 1, 65535, NULL, &port, NULL, 0))
		return -EINVAL;

	if (v6) {
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
	} else {
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			return -EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
	}
	return 0;
}

struct zh_metrics *zh_metrics_start(const char *listen_addr,
				    const struct zh_objs *objs,
				    const struct zh_xsk_srv *xsk,
				    const struct zh_kube *kube,
				    const struct zh_gc *gc)
{
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	struct sockaddr_storage ss;
	struct zh_metrics *m;
	struct timespec now;
	int fd, one = 1, err;
	socklen_t len;

	if (zh_metrics_parse_listen(listen_addr, &ss, &len)) {
		pr_warn("cannot parse listen address '%s': expected [ADDR:]PORT (numeric address, IPv6 in brackets, port 1-65535; no address: 127.0.0.1), e.g. 9464, 10.0.0.1:9464 or [::1]:9464\n",
			listen_addr);
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->objs = objs;
	m->xsk = xsk;
	m->kube = kube;
	m->gc = gc;
	m->conns.next = m->conns.prev = &m->conns;
	m->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (m->stop_fd < 0) {
		err = errno;
		goto err_free;
	}
	snprintf(m->ready_pin, sizeof(m->ready_pin), "%s/%s", objs->dir,
		 ZH_MAP_ENDPOINTS);
	clock_gettime(CLOCK_REALTIME, &now);
	m->start_time = now.tv_sec + now.tv_nsec / 1e9;

	/* Our own socket, so that a failed bind() names its errno, and so
	 * that [::] means IPv6 only: exactly the address given, no other. */
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		pr_warn("cannot listen on %s: socket: %s\n", listen_addr,
			strerror(err));
		goto err_stopfd;
	}
	/* Restarts while old connections sit in TIME_WAIT; a live listener
	 * on the port still makes bind() fail with EADDRINUSE. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		flags |= MHD_USE_IPv6;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 32)) {
		err = errno;
		pr_warn("cannot listen on %s: %s\n", listen_addr,
			strerror(err));
		goto err_socket;
	}
	m->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, handle, m, MHD_OPTION_EXTERNAL_LOGGER,
		mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT, MAX_CONNS,
		/* One client (slow on purpose or not) may not take every
		 * connection. */
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, MAX_CONNS_PER_IP,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)REQUEST_DEADLINE_S,
		MHD_OPTION_NOTIFY_CONNECTION, conn_notify, m,
		MHD_OPTION_NOTIFY_COMPLETED, request_done, m, MHD_OPTION_END);
	if (!m->daemon) {
		/* Not ours to close any more: MHD closes a socket it was
		 * given on every failure past option parsing, and our
		 * options are fixed. */
		err = EIO;
		pr_warn("cannot start the HTTP server on %s\n", listen_addr);
		goto err_stopfd;
	}
	err = pthread_create(&m->thread, NULL, serve, m);
	if (err) {
		pr_warn("cannot start the HTTP server's thread: %s\n",
			strerror(err));
		MHD_stop_daemon(m->daemon);
		goto err_stopfd;
	}
	pr_info("serving /metrics, /healthz, /readyz on %s\n", listen_addr);
	return m;

err_socket:
	close(fd);
err_stopfd:
	close(m->stop_fd);
err_free:
	free(m);
	errno = err;
	return NULL;
}

void zh_metrics_stop(struct zh_metrics *m)
{
	if (!m)
		return;
	/* The thread first (no scrape runs after this), then MHD closes
	 * the connections, and with them the listening socket. */
	if (eventfd_write(m->stop_fd, 1) == 0)
		pthread_join(m->thread, NULL);
	MHD_stop_daemon(m->daemon);
	close(m->stop_fd);
	free(m);
}
