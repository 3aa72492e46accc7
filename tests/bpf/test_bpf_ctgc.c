// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_ctgc.c - the conntrack GC's sweep (user/lib/ctgc.c) on real BPF
 * maps: an LRU hash laid out as zh_ct and a hash as zh_backends, created
 * here. A table of flows of every kind (Service TCP NEW, ESTABLISHED and
 * CLOSING, UDP, hairpin, IPv6, SNAT pairs, SNAT orphans and ports taken
 * over, entries stamped ahead of the clock), each entry aged just inside
 * or past its timeout: after a sweep exactly the dead ones are gone, with
 * and without the batch operations. A map of 40 000 entries swept in
 * slices of 1 000, each slice reading no more than that. Live entries
 * stamped by another thread while sweeps run (after their clock read)
 * are never deleted.
 *
 * --bench [ENTRIES [RUNS]]: the time and CPU of a sweep of a full map
 * (default ZH_CT_MAX entries), batch and per key, 0, 50 and 100 % dead;
 * new entries' inserts into that map full of dead ones, and swept.
 *
 * Exit 77 (skipped) when not root: creating BPF maps needs it.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cmocka.h>

#include "ctgc.h"
#include "util.h"

#define S 1000000000LL /* ns */

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static int ct_fd = -1, be_fd = -1;

static int maps_new(__u32 ct_max)
{
	ct_fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "zh_ct",
			       sizeof(struct zh_ct_key), sizeof(struct zh_ct),
			       ct_max, NULL);
	be_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "zh_backends", 4,
			       sizeof(struct zh_backend), 256, NULL);
	assert_true(ct_fd >= 0 && be_fd >= 0);
	return 0;
}

static int maps_close(void **state)
{
	(void)state;
	if (ct_fd >= 0)
		close(ct_fd);
	if (be_fd >= 0)
		close(be_fd);
	ct_fd = be_fd = -1;
	return 0;
}

static void addr(const char *s, __u32 *out)
{
	memset(out, 0, 16);
	if (strchr(s, ':'))
		assert_int_equal(inet_pton(AF_INET6, s, out), 1);
	else
		assert_int_equal(inet_pton(AF_INET, s, out), 1);
}

static __u8 fam(const char *s)
{
	return strchr(s, ':') ? ZH_AF_INET6 : ZH_AF_INET;
}

/* --- a table of flows -------------------------------------------------------- */

/* The two entries of a flow as the datapath writes them; age < 0: absent
 * (the LRU took it). */
struct flow {
	const char *name;
	bool snat; /* SNAT (snat.h) or a Service's (lb.h) */
	__u8 proto;
	const char *client, *peer; /* peer: the VIP, or SNAT's outside */
	__u16 cport, pport;
	/* Service: the backend (be_id 0: gone from zh_backends); SNAT: the
	 * node address and port it leaves with. */
	const char *via;
	__u16 vport;
	bool hairpin;
	__u8 fwd_state, rev_state;
	double fwd_age, rev_age; /* seconds before the sweep; < -1e6: absent */
	bool fwd_kept, rev_kept; /* what must be left */
	/* SNAT: the reply entry names another client (taken over). */
	bool taken;
};

#define ABSENT -1e9
#define EST_S ZH_CT_TIMEOUT_TCP_EST_S
#define T(x) IPPROTO_##x
enum { N_ = ZH_CT_NEW, E_ = ZH_CT_ESTABLISHED, C_ = ZH_CT_CLOSING };

static const struct flow flows[] = {
	/* Service TCP, both entries by state, inside and past the timeout. */
	{ "new live", 0, T(TCP), "10.0.0.1", "10.96.0.10", 40001, 80,
	  "10.0.1.5", 8080, 0, N_, N_, 59, 59, 1, 1, 0 },
	{ "new dead", 0, T(TCP), "10.0.0.1", "10.96.0.10", 40002, 80,
	  "10.0.1.5", 8080, 0, N_, N_, 61, 62, 0, 0, 0 },
	{ "est live", 0, T(TCP), "10.0.0.1", "10.96.0.10", 40003, 80,
	  "10.0.1.5", 8080, 0, E_, E_, EST_S - 5, EST_S - 5, 1, 1, 0 },
	{ "est dead", 0, T(TCP), "10.0.0.1", "10.96.0.10", 40004, 80,
	  "10.0.1.5", 8080, 0, E_, E_, EST_S + 5, EST_S + 5, 0, 0, 0 },
	{ "closing live", 0, T(TCP), "10.0.0.1", "10.96.0.10", 40005, 80,
	  "10.0.1.5", 8080, 0, C_, C_, 9, 9, 1, 1, 0 },
	{ "closing dead", 0, T(TCP), "10.0.0.1", "10.96.0.10", 40006, 80,
	  "10.0.1.5", 8080, 0, C_, C_, 11, 12, 0, 0, 0 },
	/* A closing entry ages on CLOSING's 10 s, not ESTABLISHED's 6 h. */
	{ "closing vs est", 0, T(TCP), "10.0.0.1", "10.96.0.10", 40007, 80,
	  "10.0.1.5", 8080, 0, C_, E_, 30, ABSENT, 0, 0, 0 },
	/* One half dead, the other alive: the flow stays whole. */
	{ "fwd dead, rev live", 0, T(UDP), "10.0.0.1", "10.96.0.10", 40008, 53,
	  "10.0.1.5", 5353, 0, N_, N_, 200, 3, 1, 1, 0 },
	{ "rev dead, fwd live", 0, T(TCP), "10.0.0.1", "10.96.0.10", 40009, 80,
	  "10.0.1.5", 8080, 0, E_, C_, 1, 20, 1, 1, 0 },
	/* Its backend gone: nothing pairs the FWD with a reply. */
	{ "fwd dead, backend gone", 0, T(UDP), "10.0.0.1", "10.96.0.12", 40010,
	  53, NULL, 5353, 0, N_, N_, 200, 3, 0, 1, 0 },
	{ "fwd alone dead", 0, T(UDP), "10.0.0.1", "10.96.0.10", 40011, 53,
	  "10.0.1.5", 5353, 0, N_, N_, 121, ABSENT, 0, 0, 0 },
	{ "rev alone dead", 0, T(UDP), "10.0.0.1", "10.96.0.10", 40012, 53,
	  "10.0.1.5", 5353, 0, N_, N_, ABSENT, 121, 0, 0, 0 },
	{ "udp live", 0, T(UDP), "10.0.0.1", "10.96.0.10", 40013, 53,
	  "10.0.1.5", 5353, 0, N_, N_, 119, 119, 1, 1, 0 },
	/* Stamped after the sweep read its clock (another CPU, ahead of
	 * it): young, not 2^64 ns old. */
	{ "stamped ahead", 0, T(TCP), "10.0.0.1", "10.96.0.10", 40014, 80,
	  "10.0.1.5", 8080, 0, C_, C_, -1, -1, 1, 1, 0 },
	{ "hairpin dead", 0, T(TCP), "10.0.1.5", "10.96.0.10", 40015, 80,
	  "10.0.1.5", 8080, 1, C_, C_, 11, 11, 0, 0, 0 },
	{ "hairpin fwd dead, rev live", 0, T(TCP), "10.0.1.5", "10.96.0.10",
	  40016, 80, "10.0.1.5", 8080, 1, C_, E_, 11, 5, 1, 1, 0 },
	{ "v6 dead", 0, T(UDP), "fd00::1", "fd00:96::10", 40017, 53,
	  "fd00:1::5", 5353, 0, N_, N_, 121, 121, 0, 0, 0 },
	{ "v6 fwd dead, rev live", 0, T(UDP), "fd00::1", "fd00:96::10", 40018,
	  53, "fd00:1::5", 5353, 0, N_, N_, 121, 1, 1, 1, 0 },
	/* SNAT: masquerade to outside (and NodePorts to other nodes). */
	{ "snat live", 1, T(TCP), "10.0.0.2", "1.1.1.1", 41001, 443,
	  "192.168.1.1", 61001, 0, E_, E_, 1000, 1000, 1, 1, 0 },
	{ "snat dead", 1, T(UDP), "10.0.0.2", "1.1.1.1", 41002, 53,
	  "192.168.1.1", 61002, 0, N_, N_, 121, 130, 0, 0, 0 },
	{ "snat fwd dead, rev live", 1, T(UDP), "10.0.0.2", "1.1.1.1", 41003,
	  53, "192.168.1.1", 61003, 0, N_, N_, 300, 2, 1, 1, 0 },
	/* The peer's FIN or RST closed the reply entry: the flow keeps its
	 * port while it sends. */
	{ "snat rev dead, fwd live", 1, T(TCP), "10.0.0.2", "1.1.1.1", 41004,
	  443, "192.168.1.1", 61004, 0, E_, C_, 5, 15, 1, 1, 0 },
	/* An orphan (the LRU took the flow's entry): its own flow finds it
	 * again (zh_snat_take()) while it lives. */
	{ "snat orphan live", 1, T(UDP), "10.0.0.2", "1.1.1.1", 41005, 53,
	  "192.168.1.1", 61005, 0, N_, N_, ABSENT, 100, 0, 1, 0 },
	{ "snat orphan dead", 1, T(UDP), "10.0.0.2", "1.1.1.1", 41006, 53,
	  "192.168.1.1", 61006, 0, N_, N_, ABSENT, 125, 0, 0, 0 },
	{ "snat fwd alone dead", 1, T(UDP), "10.0.0.2", "1.1.1.1", 41007, 53,
	  "192.168.1.1", 61007, 0, N_, N_, 125, ABSENT, 0, 0, 0 },
	/* Its port taken over by another flow after it expired: the reply
	 * entry is that flow's, alive; this one's entry is dead. */
	{ "snat port taken", 1, T(UDP), "10.0.0.2", "1.1.1.1", 41008, 53,
	  "192.168.1.1", 61008, 0, N_, N_, 200, 1, 0, 1, 1 },
	{ "snat port taken, fwd live", 1, T(UDP), "10.0.0.2", "1.1.1.1", 41009,
	  53, "192.168.1.1", 61009, 0, N_, N_, 100, 1, 1, 1, 1 },
	{ "snat v6 dead", 1, T(TCP), "fd00::2", "2001:db8::1", 41010, 443,
	  "2001:db8:1::1", 61010, 0, C_, C_, 11, 11, 0, 0, 0 },
	{ "snat v6 fwd dead, rev live", 1, T(TCP), "fd00::2", "2001:db8::1",
	  41011, 443, "2001:db8:1::1", 61011, 0, C_, C_, 11, 2, 1, 1, 0 },
	{ "snat stamped ahead", 1, T(UDP), "10.0.0.2", "1.1.1.1", 41012, 53,
	  "192.168.1.1", 61012, 0, N_, N_, -2, -2, 1, 1, 0 },
};

#define SVC_ID 3
/* Row i's backend: id BE_ID + i (none in zh_backends when via is NULL). */
#define BE_ID 100

/* The flow's two keys and values as lb.h/snat.h write them. */
static void flow_entries(const struct flow *f, struct zh_ct_key *fk,
			 struct zh_ct *fv, struct zh_ct_key *rk,
			 struct zh_ct *rv, __u64 now)
{
	__u32 c[4], p[4], v[4];

	memset(fk, 0, sizeof(*fk));
	memset(rk, 0, sizeof(*rk));
	memset(fv, 0, sizeof(*fv));
	memset(rv, 0, sizeof(*rv));
	addr(f->client, c);
	addr(f->peer, p);
	if (f->via)
		addr(f->via, v);
	else
		addr(strchr(f->client, ':') ? "fd00:1::99" : "10.0.1.99", v);
	fk->family = rk->family = fam(f->client);
	fk->proto = rk->proto = f->proto;
	fv->state = f->fwd_state;
	rv->state = f->rev_state;
	fv->last_seen_ns = now - (__s64)(f->fwd_age * S);
	rv->last_seen_ns = now - (__s64)(f->rev_age * S);
	if (!f->snat) {
		fk->dir = ZH_CT_FWD;
		fk->sport = htons(f->cport);
		fk->dport = htons(f->pport);
		memcpy(fk->saddr, c, 16);
		memcpy(fk->daddr, p, 16);
		fv->svc_id = rv->svc_id = SVC_ID;
		fv->backend_id = rv->backend_id = BE_ID + (__u32)(f - flows);
		fv->flags = rv->flags = f->hairpin ? ZH_CT_F_HAIRPIN : 0;
		rk->dir = ZH_CT_REV;
		rk->sport = htons(f->vport);
		rk->dport = htons(f->cport);
		memcpy(rk->saddr, v, 16);
		memcpy(rk->daddr, f->hairpin ? p : c, 16);
		memcpy(rv->vip, p, 16);
		rv->vport = htons(f->pport);
		return;
	}
	fk->dir = ZH_CT_SNAT_FWD;
	fk->sport = htons(f->cport);
	fk->dport = htons(f->pport);
	memcpy(fk->saddr, c, 16);
	memcpy(fk->daddr, p, 16);
	memcpy(fv->vip, v, 16);
	fv->vport = htons(f->vport);
	fv->out_ifindex = 2;
	rk->dir = ZH_CT_SNAT_REV;
	rk->sport = htons(f->pport);
	rk->dport = htons(f->vport);
	memcpy(rk->saddr, p, 16);
	memcpy(rk->daddr, v, 16);
	memcpy(rv->vip, c, 16);
	/* Taken over: another client's port of the same pod. */
	rv->vport = htons(f->taken ? f->cport + 1000 : f->cport);
}

static void put(int fd, const void *k, const void *v)
{
	if (bpf_map_update_elem(fd, k, v, BPF_ANY))
		fail_msg("update: %s", strerror(errno));
}

static bool has(const struct zh_ct_key *k)
{
	struct zh_ct v;

	return !bpf_map_lookup_elem(ct_fd, k, &v);
}

static void table_fill(void)
{
	__u64 now = now_ns();

	maps_new(1024);
	for (size_t i = 0; i < ARRAY_SIZE(flows); i++) {
		const struct flow *f = &flows[i];
		struct zh_backend be = { .family = fam(f->client),
					 .port = htons(f->vport),
					 .svc_id = SVC_ID };
		__u32 id = BE_ID + (__u32)i;
		struct zh_ct_key fk, rk;
		struct zh_ct fv, rv;

		if (!f->snat && f->via) {
			addr(f->via, be.addr);
			put(be_fd, &id, &be);
		}
		flow_entries(f, &fk, &fv, &rk, &rv, now);
		if (f->fwd_age > ABSENT / 2)
			put(ct_fd, &fk, &fv);
		if (f->rev_age > ABSENT / 2)
			put(ct_fd, &rk, &rv);
	}
}

static void table_check(unsigned int flags)
{
	struct zh_ctgc_result r;
	struct zh_ctgc *gc;
	__u64 live = 0, kept = 0, deleted = 0, now;
	bool bad = false;

	table_fill();
	gc = zh_ctgc_new(ct_fd, be_fd, 0, flags);
	assert_non_null(gc);
	assert_int_equal(zh_ctgc_sweep(gc, &r), 0);
	zh_ctgc_free(gc);
	now = now_ns();
	for (size_t i = 0; i < ARRAY_SIZE(flows); i++) {
		const struct flow *f = &flows[i];
		struct zh_ct_key fk, rk;
		struct zh_ct fv, rv;
		bool fin = f->fwd_age > ABSENT / 2,
		     rin = f->rev_age > ABSENT / 2;

		flow_entries(f, &fk, &fv, &rk, &rv, now);
		if (fin && has(&fk) != f->fwd_kept) {
			print_error("%s: its %s entry %s\n", f->name,
				    f->snat ? "SNAT_FWD" : "FWD",
				    f->fwd_kept ? "was deleted" : "is left");
			bad = true;
		}
		if (rin && has(&rk) != f->rev_kept) {
			print_error("%s: its %s entry %s\n", f->name,
				    f->snat ? "SNAT_REV" : "REV",
				    f->rev_kept ? "was deleted" : "is left");
			bad = true;
		}
		/* What the counters must say: live by its own stamp, kept
		 * for its flow, deleted. */
		if (fin)
			f->fwd_kept ? (zh_ctgc_live(&fk, &fv, now) ? live++ :
								     kept++) :
				      deleted++;
		if (rin)
			f->rev_kept ? (zh_ctgc_live(&rk, &rv, now) ? live++ :
								     kept++) :
				      deleted++;
	}
	if (bad)
		fail_msg("the sweep (%s) deleted other entries than the dead",
			 flags & ZH_CTGC_F_PER_KEY ? "per key" : "batch");
	assert_int_equal(r.live, live);
	assert_int_equal(r.kept, kept);
	assert_int_equal(r.deleted, deleted);
	assert_int_equal(r.gone, 0);
	assert_int_equal(r.seen, live + kept + deleted);
	assert_int_equal(r.per_key, !!(flags & ZH_CTGC_F_PER_KEY));
	assert_false(r.cut);
}

static void test_table_batch(void **state)
{
	(void)state;
	table_check(0);
}

static void test_table_per_key(void **state)
{
	(void)state;
	table_check(ZH_CTGC_F_PER_KEY);
}

/* --- a big map, in slices ----------------------------------------------------- */

#define BIG 40000U
#define BIG_SLICE 1000U

/* Entry @i: UDP FWD entries alone, every third one dead. */
static void big_entry(__u32 i, __u64 now, struct zh_ct_key *k, struct zh_ct *v)
{
	memset(k, 0, sizeof(*k));
	memset(v, 0, sizeof(*v));
	k->family = ZH_AF_INET;
	k->proto = IPPROTO_UDP;
	k->dir = ZH_CT_FWD;
	k->saddr[0] = htonl(0x0a000000 | i);
	k->daddr[0] = htonl(0x0a60000a);
	k->sport = htons((__u16)(1024 + i % 60000));
	k->dport = htons(53);
	v->svc_id = SVC_ID;
	v->backend_id = 1000; /* gone: no pairing */
	v->last_seen_ns = now - (i % 3 == 0 ? 200 : 5) * S;
}

static void big_check(unsigned int flags)
{
	struct zh_ct_key k;
	struct zh_ct v;
	struct zh_ctgc *gc;
	const struct zh_ctgc_result *r;
	__u64 now = now_ns(), before = 0, dead = 0;
	__u32 left = 0;
	int rc, steps = 0;

	/* Twice the entries: the LRU never evicts while it is filled. */
	maps_new(2 * BIG);
	for (__u32 i = 0; i < BIG; i++) {
		big_entry(i, now, &k, &v);
		put(ct_fd, &k, &v);
		dead += i % 3 == 0;
	}
	gc = zh_ctgc_new(ct_fd, be_fd, BIG_SLICE, flags);
	assert_non_null(gc);
	r = zh_ctgc_result(gc);
	zh_ctgc_begin(gc);
	do {
		rc = zh_ctgc_step(gc);
		assert_true(rc >= 0);
		steps++;
		if (r->seen - before > BIG_SLICE)
			fail_msg("a slice read %llu entries, more than %u",
				 (unsigned long long)(r->seen - before),
				 BIG_SLICE);
		before = r->seen;
	} while (!rc);
	assert_true(steps >= (int)(BIG / BIG_SLICE));
	assert_int_equal(r->seen, BIG);
	assert_int_equal(r->deleted, dead);
	assert_int_equal(r->live, BIG - dead);
	assert_int_equal(r->slices, steps);
	zh_ctgc_free(gc);
	for (__u32 i = 0; i < BIG; i++) {
		big_entry(i, now, &k, &v);
		if (has(&k) != (i % 3 != 0))
			fail_msg("entry %u (%s) %s", i, i % 3 ? "live" : "dead",
				 i % 3 ? "was deleted" : "is left");
		left += i % 3 != 0;
	}
	assert_int_equal(left, BIG - dead);
}

static void test_big_batch(void **state)
{
	(void)state;
	big_check(0);
}

static void test_big_per_key(void **state)
{
	(void)state;
	big_check(ZH_CTGC_F_PER_KEY);
}

/* --- stamped while it sweeps ---------------------------------------------------- */

#define HOT 4000U

struct hot {
	volatile bool stop;
	unsigned long writes;
};

/* Keeps HOT entries stamped with the clock, as packets of live flows do
 * on another CPU. */
static void *hot_writer(void *p)
{
	struct hot *h = p;
	struct zh_ct_key k;
	struct zh_ct v;

	while (!h->stop)
		for (__u32 i = 0; i < HOT && !h->stop; i++) {
			big_entry(i * 3, now_ns(), &k, &v);
			v.last_seen_ns = now_ns();
			bpf_map_update_elem(ct_fd, &k, &v, BPF_EXIST);
			h->writes++;
		}
	return NULL;
}

static void test_stamped_while_sweeping(void **state)
{
	struct hot h = { .stop = false };
	struct zh_ctgc_result r;
	struct zh_ct_key k;
	struct zh_ct v;
	struct zh_ctgc *gc;
	pthread_t th;
	__u64 now = now_ns();
	int missing = 0;

	(void)state;
	maps_new(4 * HOT);
	for (__u32 i = 0; i < HOT; i++) {
		big_entry(i * 3, now, &k, &v);
		v.last_seen_ns = now;
		put(ct_fd, &k, &v);
	}
	gc = zh_ctgc_new(ct_fd, be_fd, 64, 0);
	assert_non_null(gc);
	assert_int_equal(pthread_create(&th, NULL, hot_writer, &h), 0);
	for (int round = 0; round < 200; round++)
		assert_int_equal(zh_ctgc_sweep(gc, &r), 0);
	h.stop = true;
	pthread_join(th, NULL);
	zh_ctgc_free(gc);
	for (__u32 i = 0; i < HOT; i++) {
		big_entry(i * 3, now, &k, &v);
		missing += !has(&k);
	}
	print_message("%lu stamps written during 200 sweeps\n", h.writes);
	if (missing)
		fail_msg(
			"%d of %u entries stamped while the sweeps ran were deleted",
			missing, HOT);
}

/* --- --bench: a full map's sweep ---------------------------------------------- */

/*
 * A map of @max entries filled with Service flows (FWD and REV, their
 * backend present), @dead_pct of the flows dead; swept @runs times per
 * mode (each run on a map filled anew): wall and CPU time (this process's,
 * user and system: the syscalls are the cost), as a median.
 */
static __u64 cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static void bench_fill(__u32 max, int dead_pct)
{
	const __u32 batch = 8192;
	struct zh_ct_key *k = calloc(batch, sizeof(*k));
	struct zh_ct *v = calloc(batch, sizeof(*v));
	struct zh_backend be = { .family = ZH_AF_INET,
				 .port = htons(8080),
				 .svc_id = SVC_ID };
	__u32 id = BE_ID, n = 0, cnt;
	__u64 now = now_ns();

	assert_true(k && v);
	addr("10.0.1.5", be.addr);
	put(be_fd, &id, &be);
	for (__u32 f = 0; n < max; f++) {
		/* Flow f: client 10.x.y.z:port -> VIP:80, both entries. */
		bool dead = (f * 7919U) % 100 < (__u32)dead_pct;
		__u32 i = n % batch;

		memset(&k[i], 0, 2 * sizeof(*k));
		memset(&v[i], 0, 2 * sizeof(*v));
		k[i].family = k[i + 1].family = ZH_AF_INET;
		k[i].proto = k[i + 1].proto = IPPROTO_TCP;
		k[i].dir = ZH_CT_FWD;
		k[i].saddr[0] = k[i + 1].daddr[0] = htonl(0x0a800000 | f >> 4);
		k[i].sport = k[i + 1].dport = htons((__u16)(20000 + (f & 15)));
		addr("10.96.0.10", k[i].daddr);
		k[i].dport = htons(80);
		k[i + 1].dir = ZH_CT_REV;
		addr("10.0.1.5", k[i + 1].saddr);
		k[i + 1].sport = htons(8080);
		for (int d = 0; d < 2; d++) {
			v[i + d].svc_id = SVC_ID;
			v[i + d].backend_id = BE_ID;
			v[i + d].state = dead ? ZH_CT_CLOSING :
						ZH_CT_ESTABLISHED;
			v[i + d].last_seen_ns = now - (dead ? 60 * S : S);
		}
		addr("10.96.0.10", v[i + 1].vip);
		v[i + 1].vport = htons(80);
		n += 2;
		if (n % batch && n < max)
			continue;
		cnt = (n - 1) % batch + 1;
		if (bpf_map_update_batch(ct_fd, k, v, &cnt, NULL))
			fail_msg("update_batch: %s", strerror(errno));
	}
	free(k);
	free(v);
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

static void bench(__u32 max, int runs)
{
	static const int dead_pcts[] = { 0, 50, 100 };

	printf("conntrack GC: sweeps of a full zh_ct (%u entries, Service flows both ways), median of %d\n",
	       max, runs);
	printf("%-9s %-7s %8s %8s %8s %10s %10s %10s\n", "mode", "dead", "read",
	       "deleted", "slices", "wall_ms", "cpu_ms", "ns/entry");
	for (int m = 0; m < 2; m++)
		for (size_t d = 0; d < ARRAY_SIZE(dead_pcts); d++) {
			__u64 wall[16], cpu[16];
			struct zh_ctgc_result r = { 0 };

			for (int i = 0; i < runs && i < 16; i++) {
				struct zh_ctgc *gc;
				__u64 t0, c0;

				maps_new(max);
				bench_fill(max, dead_pcts[d]);
				gc = zh_ctgc_new(ct_fd, be_fd, 0,
						 m ? ZH_CTGC_F_PER_KEY : 0);
				assert_non_null(gc);
				t0 = now_ns();
				c0 = cpu_ns();
				assert_int_equal(zh_ctgc_sweep(gc, &r), 0);
				cpu[i] = cpu_ns() - c0;
				wall[i] = now_ns() - t0;
				zh_ctgc_free(gc);
				maps_close(NULL);
			}
			qsort(wall, (size_t)runs, sizeof(*wall), cmp_u64);
			qsort(cpu, (size_t)runs, sizeof(*cpu), cmp_u64);
			printf("%-9s %5d %% %8llu %8llu %8llu %10.1f %10.1f %10.0f\n",
			       m ? "per-key" : "batch", dead_pcts[d],
			       (unsigned long long)r.seen,
			       (unsigned long long)r.deleted,
			       (unsigned long long)r.slices,
			       (double)wall[runs / 2] / 1e6,
			       (double)cpu[runs / 2] / 1e6,
			       r.seen ?
				       (double)wall[runs / 2] / (double)r.seen :
				       0);
		}
}

/* @n inserts of new flows' entries (keys no fill made), each timed; p50,
 * p99, p99.9 and max in ns into @out. The LRU evicts 128 at a time: one
 * insert in 128 pays it, between p99 and p99.9. */
static void bench_inserts(__u32 n, __u64 *out)
{
	__u64 *t = calloc(n, sizeof(*t));
	struct zh_ct_key k;
	struct zh_ct v;

	assert_non_null(t);
	for (__u32 i = 0; i < n; i++) {
		__u64 t0;

		big_entry(i, now_ns(), &k, &v);
		k.dir = ZH_CT_SNAT_FWD; /* no fill writes these */
		t0 = now_ns();
		if (bpf_map_update_elem(ct_fd, &k, &v, BPF_ANY))
			fail_msg("insert: %s", strerror(errno));
		t[i] = now_ns() - t0;
	}
	qsort(t, n, sizeof(*t), cmp_u64);
	out[0] = t[n / 2];
	out[1] = t[n * 99 / 100];
	out[2] = t[n * 999 / 1000];
	out[3] = t[n - 1];
	free(t);
}

/* What the sweep is for: new flows' inserts into a map full of dead
 * entries (the LRU evicts, ~128 at a time under its lock) against the
 * same map swept first. */
static void bench_insert_cost(__u32 max)
{
	const __u32 n = 20000;
	__u64 full[4], swept[4];
	struct zh_ctgc *gc;

	maps_new(max);
	bench_fill(max, 100);
	bench_inserts(n, full);
	maps_close(NULL);
	maps_new(max);
	bench_fill(max, 100);
	gc = zh_ctgc_new(ct_fd, be_fd, 0, 0);
	assert_non_null(gc);
	assert_int_equal(zh_ctgc_sweep(gc, NULL), 0);
	zh_ctgc_free(gc);
	bench_inserts(n, swept);
	maps_close(NULL);
	printf("\n%u inserts of new entries (bpf_map_update_elem from userspace: the LRU's path, as the datapath's), ns:\n",
	       n);
	printf("%-24s %8s %8s %8s %8s\n", "map", "p50", "p99", "p99.9", "max");
	printf("%-24s %8llu %8llu %8llu %8llu\n", "full of dead entries",
	       (unsigned long long)full[0], (unsigned long long)full[1],
	       (unsigned long long)full[2], (unsigned long long)full[3]);
	printf("%-24s %8llu %8llu %8llu %8llu\n", "the same, swept first",
	       (unsigned long long)swept[0], (unsigned long long)swept[1],
	       (unsigned long long)swept[2], (unsigned long long)swept[3]);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_table_batch, maps_close),
		cmocka_unit_test_teardown(test_table_per_key, maps_close),
		cmocka_unit_test_teardown(test_big_batch, maps_close),
		cmocka_unit_test_teardown(test_big_per_key, maps_close),
		cmocka_unit_test_teardown(test_stamped_while_sweeping,
					  maps_close),
	};

	if (geteuid() != 0) {
		fprintf(stderr,
			"test_bpf_ctgc: skipped: needs root (creating BPF maps)\n");
		return 77;
	}
	/* --bench [ENTRIES [RUNS]]: not a test, numbers (README). */
	if (argc > 1 && !strcmp(argv[1], "--bench")) {
		__u32 max = argc > 2 ? (__u32)strtoul(argv[2], NULL, 0) :
				       ZH_CT_MAX;
		int runs = argc > 3 ? atoi(argv[3]) : 3;

		if (!max)
			max = ZH_CT_MAX;
		bench(max, runs < 1 ? 1 : runs > 16 ? 16 : runs);
		bench_insert_cost(max);
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
