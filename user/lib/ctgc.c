// SPDX-License-Identifier: Apache-2.0
/*
 * ctgc.c - conntrack garbage collection: the sweep of zh_ct (ctgc.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#include "ctgc.h"

/* The kernel's "operation not supported" (not in userspace's errno.h):
 * what a map without the batch operations answers. */
#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

/* A bucket larger than the slice: the batch grows up to this. */
#define BATCH_MAX (1U << 20)

__u64 zh_ctgc_timeout_ns(__u8 proto, __u8 state)
{
	__u64 s = ZH_CT_TIMEOUT_UDP_S;

	if (proto == IPPROTO_TCP)
		s = state == ZH_CT_ESTABLISHED ? ZH_CT_TIMEOUT_TCP_EST_S :
		    state == ZH_CT_CLOSING     ? ZH_CT_TIMEOUT_TCP_CLOSING_S :
						 ZH_CT_TIMEOUT_TCP_NEW_S;
	return s * 1000000000ULL;
}

bool zh_ctgc_live(const struct zh_ct_key *k, const struct zh_ct *v,
		  __u64 now_ns)
{
	/* ct.h zh_stamp_within(): signed, as the datapath reads it. */
	return (__s64)(now_ns - v->last_seen_ns) <=
	       (__s64)zh_ctgc_timeout_ns(k->proto, v->state);
}

static bool addr_eq(const __u32 *a, const __u32 *b)
{
	return !memcmp(a, b, 4 * sizeof(__u32));
}

int zh_ctgc_peer_key(const struct zh_ct_key *k, const struct zh_ct *v,
		     const struct zh_backend *be, struct zh_ct_key *out)
{
	bool hairpin = v->flags & ZH_CT_F_HAIRPIN;

	memset(out, 0, sizeof(*out));
	out->family = k->family;
	out->proto = k->proto;
	switch (k->dir) {
	case ZH_CT_FWD:
		/* lb.h zh_lb_track(): the reply's key, from the backend. */
		if (!be || be->family != k->family)
			return -ENOENT;
		out->dir = ZH_CT_REV;
		out->sport = be->port;
		out->dport = k->sport;
		memcpy(out->saddr, be->addr, sizeof(out->saddr));
		/* A hairpin request arrived from the VIP: so is the reply
		 * keyed. */
		memcpy(out->daddr, hairpin ? k->daddr : k->saddr,
		       sizeof(out->daddr));
		return 0;
	case ZH_CT_REV:
		/* Backend -> client (hairpin: -> VIP, the client being the
		 * backend); the request was client -> vip:vport. */
		out->dir = ZH_CT_FWD;
		out->sport = k->dport;
		out->dport = v->vport;
		memcpy(out->saddr, hairpin ? k->saddr : k->daddr,
		       sizeof(out->saddr));
		memcpy(out->daddr, v->vip, sizeof(out->daddr));
		return 0;
	case ZH_CT_SNAT_FWD:
		/* snat.h zh_snat_rev_key(): the reply at the node's address
		 * and port the flow leaves with (vip, vport). */
		out->dir = ZH_CT_SNAT_REV;
		out->sport = k->dport;
		out->dport = v->vport;
		memcpy(out->saddr, k->daddr, sizeof(out->saddr));
		out->daddr[0] = v->vip[0];
		if (k->family != ZH_AF_INET)
			memcpy(&out->daddr[1], &v->vip[1], 3 * sizeof(__u32));
		return 0;
	case ZH_CT_SNAT_REV:
		/* The flow as it left: the pod's (client's) address and port
		 * that the reply gets back (vip, vport), to the peer. */
		out->dir = ZH_CT_SNAT_FWD;
		out->sport = v->vport;
		out->dport = k->sport;
		memcpy(out->saddr, v->vip, sizeof(out->saddr));
		memcpy(out->daddr, k->saddr, sizeof(out->daddr));
		return 0;
	}
	return -ENOENT;
}

bool zh_ctgc_peer_is(const struct zh_ct_key *k, const struct zh_ct *v,
		     const struct zh_ct *pv)
{
	switch (k->dir) {
	case ZH_CT_FWD:
		/* Its REV restores the address this flow was sent to. */
		return pv->svc_id == v->svc_id &&
		       pv->backend_id == v->backend_id &&
		       addr_eq(pv->vip, k->daddr) && pv->vport == k->dport;
	case ZH_CT_REV:
		return pv->svc_id == v->svc_id &&
		       pv->backend_id == v->backend_id;
	case ZH_CT_SNAT_FWD:
		/* zh_snat_out(): the reply entry still names this client. */
		return addr_eq(pv->vip, k->saddr) && pv->vport == k->sport;
	case ZH_CT_SNAT_REV:
		/* The flow's entry still leaves at this address and port. */
		return addr_eq(pv->vip, k->daddr) && pv->vport == k->dport;
	}
	return false;
}

/* --- the sweep ------------------------------------------------------------ */

struct zh_ctgc {
	int ct_fd, be_fd;
	__u32 slice, max_entries;
	bool per_key; /* no bpf_map_lookup_batch() */
	bool del_one; /* no bpf_map_delete_batch() */
	/* Where the sweep stands. */
	bool started, done;
	__u32 token; /* batch: the next bucket */
	struct zh_ct_key cur; /* per key: the key the walk stands on */
	bool cur_dead; /* ... to be deleted once the walk is past it */
	__u64 reads; /* bounded: a walk sent back to the first key */
	/* One slice: what it read, what it deletes. */
	__u32 cap;
	struct zh_ct_key *keys, *del;
	struct zh_ct *vals;
	__u32 n_del;
	struct zh_ctgc_result r;
};

static __u64 mono_ns(void)
{
	struct timespec ts;

	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static int bufs_alloc(struct zh_ctgc *gc, __u32 cap)
{
	struct zh_ct_key *k = calloc(cap, sizeof(*k)), *d;
	struct zh_ct *v = calloc(cap, sizeof(*v));

	d = calloc(cap, sizeof(*d));
	if (!k || !v || !d) {
		free(k);
		free(v);
		free(d);
		return -ENOMEM;
	}
	free(gc->keys);
	free(gc->vals);
	free(gc->del);
	gc->keys = k;
	gc->vals = v;
	gc->del = d;
	gc->cap = cap;
	return 0;
}

struct zh_ctgc *zh_ctgc_new(int ct_fd, int be_fd, __u32 slice,
			    unsigned int flags)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	struct zh_ctgc *gc;
	int err;

	/* bpf_map_get_info_by_fd() is libbpf >= 1.2; Debian 12 has 1.1. */
	if (bpf_obj_get_info_by_fd(ct_fd, &info, &len))
		return NULL;
	if (info.key_size != sizeof(struct zh_ct_key) ||
	    info.value_size != sizeof(struct zh_ct)) {
		errno = EINVAL;
		return NULL;
	}
	gc = calloc(1, sizeof(*gc));
	if (!gc)
		return NULL;
	gc->ct_fd = ct_fd;
	gc->be_fd = be_fd;
	gc->slice = slice ? slice : ZH_CTGC_SLICE;
	gc->max_entries = info.max_entries;
	gc->per_key = flags & ZH_CTGC_F_PER_KEY;
	gc->del_one = gc->per_key;
	err = bufs_alloc(gc, gc->slice);
	if (err) {
		free(gc);
		errno = -err;
		return NULL;
	}
	zh_ctgc_begin(gc);
	return gc;
}

void zh_ctgc_free(struct zh_ctgc *gc)
{
	if (!gc)
		return;
	free(gc->keys);
	free(gc->vals);
	free(gc->del);
	free(gc);
}

void zh_ctgc_begin(struct zh_ctgc *gc)
{
	gc->started = gc->done = gc->cur_dead = false;
	gc->token = 0;
	gc->reads = 0;
	gc->n_del = 0;
	memset(&gc->r, 0, sizeof(gc->r));
	gc->r.per_key = gc->per_key;
}

const struct zh_ctgc_result *zh_ctgc_result(const struct zh_ctgc *gc)
{
	return &gc->r;
}

__u32 zh_ctgc_max_entries(const struct zh_ctgc *gc)
{
	return gc->max_entries;
}

/* Is the entry @k, @v (read after @now) dead, and its flow with it? */
static bool dead(struct zh_ctgc *gc, const struct zh_ct_key *k,
		 const struct zh_ct *v, __u64 now)
{
	struct zh_backend be, *bep = NULL;
	struct zh_ct_key pk;
	struct zh_ct pv;

	gc->r.seen++;
	if (zh_ctgc_live(k, v, now)) {
		gc->r.live++;
		return false;
	}
	if (k->dir == ZH_CT_FWD && gc->be_fd >= 0 &&
	    !bpf_map_lookup_elem(gc->be_fd, &v->backend_id, &be))
		bep = &be;
	/* Read after @now: a peer stamped since is young. */
	if (!zh_ctgc_peer_key(k, v, bep, &pk) &&
	    !bpf_map_lookup_elem(gc->ct_fd, &pk, &pv) &&
	    zh_ctgc_peer_is(k, v, &pv) && zh_ctgc_live(&pk, &pv, now)) {
		gc->r.kept++;
		return false;
	}
	return true;
}

static void delete_one(struct zh_ctgc *gc, const struct zh_ct_key *k)
{
	if (!bpf_map_delete_elem(gc->ct_fd, k))
		gc->r.deleted++;
	else if (errno == ENOENT)
		gc->r.gone++;
}

/* The slice's dead keys deleted; those gone already counted apart. */
static void delete_dead(struct zh_ctgc *gc)
{
	__u32 done = 0;

	while (done < gc->n_del && !gc->del_one) {
		__u32 cnt = gc->n_del - done;
		int rc = bpf_map_delete_batch(gc->ct_fd, gc->del + done, &cnt,
					      NULL);
		int err = rc ? errno : 0;

		/* A failed call that left the count as given did none. */
		if (rc && cnt >= gc->n_del - done)
			cnt = 0;
		gc->r.deleted += cnt;
		done += cnt;
		if (!rc || done == gc->n_del)
			break;
		/* It stops at a key that is gone (the datapath's LRU took
		 * it): that one alone, then on. */
		if (err == ENOENT) {
			gc->r.gone++;
			done++;
			continue;
		}
		/* The batch itself refused: one at a time from now on. */
		gc->del_one = true;
	}
	for (; done < gc->n_del; done++)
		delete_one(gc, &gc->del[done]);
	gc->n_del = 0;
}

/* A batch slice: 1 at the end, 0 more, -EOPNOTSUPP (no batch
 * operations: walk per key), or another negative errno. */
static int step_batch(struct zh_ctgc *gc)
{
	__u32 cnt, out = 0;
	__u64 now;
	int rc, err;

	for (;;) {
		cnt = gc->cap;
		now = mono_ns();
		rc = bpf_map_lookup_batch(gc->ct_fd,
					  gc->started ? &gc->token : NULL, &out,
					  gc->keys, gc->vals, &cnt, NULL);
		err = rc ? -errno : 0;
		if (err == -ENOSPC && !cnt && gc->cap < BATCH_MAX) {
			/* A bucket larger than the slice: a bigger one. */
			rc = bufs_alloc(gc, gc->cap * 2);
			if (rc)
				return rc;
			continue;
		}
		break;
	}
	if (err && err != -ENOENT) {
		if (!gc->started &&
		    (err == -EINVAL || err == -ENOTSUPP || err == -EOPNOTSUPP))
			return -EOPNOTSUPP;
		return err;
	}
	gc->started = true;
	gc->token = out;
	for (__u32 i = 0; i < cnt; i++)
		if (dead(gc, &gc->keys[i], &gc->vals[i], now))
			gc->del[gc->n_del++] = gc->keys[i];
	/* The walk is past these buckets: deleting skips nothing. */
	delete_dead(gc);
	return err == -ENOENT;
}

/* A per-key slice: 1 at the end, 0 more, or a negative errno. */
static int step_per_key(struct zh_ctgc *gc)
{
	struct zh_ct_key next;
	__u32 n = 0;
	bool end = false;
	__u64 now = mono_ns();

	while (n < gc->slice) {
		if (bpf_map_get_next_key(
			    gc->ct_fd, gc->started ? &gc->cur : NULL, &next)) {
			if (errno != ENOENT)
				return -errno;
			end = true;
		}
		/* Past it now: the key the last slice stood on may go. */
		if (gc->cur_dead) {
			delete_one(gc, &gc->cur);
			gc->cur_dead = false;
		}
		if (end)
			break;
		gc->started = true;
		gc->cur = next;
		if (bpf_map_lookup_elem(gc->ct_fd, &next, &gc->vals[n]))
			continue; /* gone meanwhile */
		gc->keys[n++] = next;
	}
	for (__u32 i = 0; i < n; i++) {
		if (!dead(gc, &gc->keys[i], &gc->vals[i], now))
			continue;
		/* The key the walk stands on: deleted once past it. */
		if (!end && !memcmp(&gc->keys[i], &gc->cur, sizeof(gc->cur)))
			gc->cur_dead = true;
		else
			gc->del[gc->n_del++] = gc->keys[i];
	}
	delete_dead(gc);
	gc->reads += n;
	return end;
}

int zh_ctgc_step(struct zh_ctgc *gc)
{
	int rc;

	if (gc->done)
		return 1;
	gc->r.slices++;
	if (!gc->per_key) {
		rc = step_batch(gc);
		if (rc != -EOPNOTSUPP)
			goto out;
		/* No batch operations on this kernel: per key, for good. */
		gc->per_key = gc->del_one = gc->r.per_key = true;
	}
	rc = step_per_key(gc);
	/* Every get_next_key() from a key deleted meanwhile (the LRU)
	 * starts over at the first: a walk may read some entries twice,
	 * and is cut at twice the map's size. */
	if (!rc && gc->reads > 2ULL * gc->max_entries + gc->slice) {
		gc->r.cut = true;
		rc = 1;
	}
	if (rc && gc->cur_dead) {
		delete_one(gc, &gc->cur);
		gc->cur_dead = false;
	}
out:
	if (rc)
		gc->done = true;
	return rc;
}

int zh_ctgc_sweep(struct zh_ctgc *gc, struct zh_ctgc_result *r)
{
	int rc;

	zh_ctgc_begin(gc);
	do
		rc = zh_ctgc_step(gc);
	while (!rc);
	if (r)
		*r = gc->r;
	return rc < 0 ? rc : 0;
}

/* --- the interval --------------------------------------------------------- */

unsigned int zh_ctgc_next_interval(unsigned int prev_s,
				   const struct zh_ctgc_result *r,
				   __u32 max_entries)
{
	double s = prev_s ? prev_s : ZH_CTGC_START_S, freed, full;

	if (max_entries) {
		freed = (double)r->deleted / max_entries;
		full = (double)(r->live + r->kept) / max_entries;
		if (freed > 0.25)
			s *= 1.0 - (freed > 0.9 ? 0.9 : freed);
		else if (full > 0.75)
			s /= 2;
		else if (freed < 0.05 && full <= 0.5)
			s *= 1.5;
	}
	s += 0.5;
	if (s < ZH_CTGC_MIN_S)
		return ZH_CTGC_MIN_S;
	if (s > ZH_CTGC_MAX_S)
		return ZH_CTGC_MAX_S;
	return (unsigned int)s;
}

/* --- the agent's record ----------------------------------------------------- */

json_t *zh_ctgc_result_json(const struct zh_ctgc_result *r)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b}", "read",
			 (json_int_t)r->seen, "live", (json_int_t)r->live,
			 "kept", (json_int_t)r->kept, "deleted",
			 (json_int_t)r->deleted, "gone", (json_int_t)r->gone,
			 "slices", (json_int_t)r->slices, "perKey", r->per_key,
			 "cut", r->cut);
}

json_t *zh_ctgc_stats_json(const struct zh_ctgc_stats *st)
{
	json_t *last = zh_ctgc_result_json(&st->last);

	if (!last ||
	    json_object_set_new(last, "time", json_real(st->last_time)) ||
	    json_object_set_new(last, "durationSeconds",
				json_real((double)st->last_duration_ns / 1e9)) ||
	    json_object_set_new(last, "cpuSeconds",
				json_real((double)st->last_cpu_ns / 1e9))) {
		json_decref(last);
		return NULL;
	}
	return json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "on",
			 st->on, "auto", st->auto_interval, "intervalSeconds",
			 (json_int_t)st->interval_s, "maxEntries",
			 (json_int_t)st->max_entries, "sweeps",
			 (json_int_t)st->sweeps, "deleted",
			 (json_int_t)st->deleted_total, "keptForFlow",
			 (json_int_t)st->kept_total, "errors",
			 (json_int_t)st->errors, "lastSweep", last);
}

int zh_ctgc_stats_save(const char *dir, const struct zh_ctgc_stats *st)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	json_t *j;
	int rc = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, ZH_CTGC_STATE_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	j = zh_ctgc_stats_json(st);
	if (!j)
		return -ENOMEM;
	if (json_dump_file(j, tmp, JSON_COMPACT))
		rc = -EIO;
	else if (rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	json_decref(j);
	return rc;
}

static __u64 u64_of(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (__u64)v : 0;
}

int zh_ctgc_stats_load(const char *dir, struct zh_ctgc_stats *st)
{
	char path[PATH_MAX];
	json_t *j, *l;

	memset(st, 0, sizeof(*st));
	if (snprintf(path, sizeof(path), "%s/%s", dir, ZH_CTGC_STATE_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	j = json_load_file(path, 0, NULL);
	if (!j)
		return access(path, F_OK) ? -ENOENT : -EINVAL;
	if (!json_is_object(j)) {
		json_decref(j);
		return -EINVAL;
	}
	st->on = json_is_true(json_object_get(j, "on"));
	st->auto_interval = json_is_true(json_object_get(j, "auto"));
	st->interval_s = (unsigned int)u64_of(j, "intervalSeconds");
	st->max_entries = (__u32)u64_of(j, "maxEntries");
	st->sweeps = u64_of(j, "sweeps");
	st->deleted_total = u64_of(j, "deleted");
	st->kept_total = u64_of(j, "keptForFlow");
	st->errors = u64_of(j, "errors");
	l = json_object_get(j, "lastSweep");
	st->last_time = json_number_value(json_object_get(l, "time"));
	st->last_duration_ns = (__u64)(json_number_value(json_object_get(
					       l, "durationSeconds")) *
				       1e9);
	st->last_cpu_ns =
		(__u64)(json_number_value(json_object_get(l, "cpuSeconds")) *
			1e9);
	st->last.seen = u64_of(l, "read");
	st->last.live = u64_of(l, "live");
	st->last.kept = u64_of(l, "kept");
	st->last.deleted = u64_of(l, "deleted");
	st->last.gone = u64_of(l, "gone");
	st->last.slices = u64_of(l, "slices");
	st->last.per_key = json_is_true(json_object_get(l, "perKey"));
	st->last.cut = json_is_true(json_object_get(l, "cut"));
	json_decref(j);
	return 0;
}
