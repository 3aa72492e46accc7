// SPDX-License-Identifier: Apache-2.0
/*
 * test_svc_maps.c - programming the Service maps (user/lib/svc_plan.c,
 * svc_maps.c): Maglev slot allocation, ids kept and reused, what an apply
 * writes and removes, errors that change nothing, conntrack and affinity
 * entries left by removals, and the maps read back into a set.
 *
 * Plans are carried out on in-memory maps (struct fake) the way svc_maps.c
 * writes them, one entry at a time, and after every single write the maps
 * are checked the way the datapath relies on them: every table slot names a
 * backend of that service, and no table is written over while an entry
 * points at it. The same on real BPF maps is the kernel tier's
 * (tests/bpf/test_bpf_svc_maps.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "maglev.h"
#include "rng.h"
#include "svc_doc.h"
#include "svc_maps.h"
#define SVC_TEXT_NAMES 0
#include "svc_text.h"
#include "util.h"

/* --- in-memory maps -------------------------------------------------------- */

struct fake {
	struct zh_svc_state st;
	__u32 *maglev;
	size_t svc_cap, be_cap;
	int reads;
};

static void fake_init(struct fake *f, __u32 max_svcs, __u32 max_bes,
		      __u32 slots)
{
	memset(f, 0, sizeof(*f));
	f->st.max_svcs = max_svcs;
	f->st.max_bes = max_bes;
	f->st.slots = slots;
	f->svc_cap = max_svcs;
	f->be_cap = max_bes;
	f->st.svcs = calloc(max_svcs + 1, sizeof(*f->st.svcs));
	f->st.bes = calloc(max_bes + 1, sizeof(*f->st.bes));
	/* What a fresh BPF array holds. */
	f->maglev = calloc(slots + 1, sizeof(*f->maglev));
	assert_true(f->st.svcs && f->st.bes && f->maglev);
}

static void fake_free(struct fake *f)
{
	zh_svc_state_free(&f->st);
	free(f->maglev);
}

static int fake_read(void *arg, __u32 off, __u32 n, __u32 *out)
{
	struct fake *f = arg;

	assert_true((__u64)off + n <= f->st.slots);
	memcpy(out, f->maglev + off, n * sizeof(*out));
	f->reads++;
	return 0;
}

static struct zh_svc_ent *fake_svc(struct fake *f, const struct zh_svc_key *k)
{
	for (size_t i = 0; i < f->st.n_svcs; i++)
		if (!memcmp(&f->st.svcs[i].key, k, sizeof(*k)))
			return &f->st.svcs[i];
	return NULL;
}

static struct zh_be_ent *fake_be(const struct fake *f, __u32 id)
{
	for (size_t i = 0; i < f->st.n_bes; i++)
		if (f->st.bes[i].id == id)
			return &f->st.bes[i];
	return NULL;
}

/* What the datapath relies on, at every moment. */
static void check_maps(const struct fake *f, const char *when)
{
	for (size_t i = 0; i < f->st.n_svcs; i++) {
		const struct zh_svc *v = &f->st.svcs[i].val;

		if (!v->id)
			fail_msg("%s: entry %zu has id 0", when, i);
		if ((__u64)v->table_off + v->table_size > f->st.slots)
			fail_msg("%s: entry %zu: table beyond the array", when,
				 i);
		for (__u32 k = 0; k < v->table_size; k++) {
			__u32 id = f->maglev[v->table_off + k];
			const struct zh_be_ent *b = fake_be(f, id);

			if (!b || b->be.svc_id != v->id)
				fail_msg(
					"%s: service %u slot %u names backend %u, %s",
					when, v->id, k, id,
					b ? "another service's" : "missing");
		}
	}
}

static bool overlaps(const struct zh_svc_region *a, __u32 off, __u32 size)
{
	return a->off < off + size && off < a->off + a->size;
}

/* Carry @p out the way svc_maps.c does, checking after every write. */
static void fake_commit(struct fake *f, const struct zh_svc_plan *p)
{
	size_t i, j, pos = 0;
	struct zh_svc_ent *e;
	struct zh_be_ent *b;

	for (i = 0; i < p->n_be_put; i++) {
		b = fake_be(f, p->be_put[i].id);
		if (!b) {
			assert_true(f->st.n_bes < f->be_cap);
			b = &f->st.bes[f->st.n_bes++];
		}
		*b = p->be_put[i];
		check_maps(f, "backend put");
	}
	for (i = 0; i < p->n_tables; i++) {
		const struct zh_svc_table *t = &p->tables[i];
		struct zh_svc_region r = { .off = t->off, .size = t->size };

		/* Never over a table an entry uses. */
		for (j = 0; j < f->st.n_svcs; j++) {
			struct zh_svc_region u = {
				.off = f->st.svcs[j].val.table_off,
				.size = f->st.svcs[j].val.table_size,
			};

			if (u.size && overlaps(&u, r.off, r.size))
				fail_msg(
					"table %zu [%u, +%u) over service %u's [%u, +%u)",
					i, t->off, t->size,
					f->st.svcs[j].val.id, u.off, u.size);
		}
		assert_true((__u64)t->off + t->size <= f->st.slots);
		if (t->fill) {
			for (j = 0; j < t->size; j++)
				f->maglev[t->off + j] = t->fill;
			continue;
		}
		assert_int_equal(t->ids, pos);
		memcpy(f->maglev + t->off, p->table_ids + pos,
		       t->size * sizeof(__u32));
		pos += t->size;
	}
	assert_int_equal(pos, p->n_table_ids);
	for (i = 0; i < p->n_svc_put; i++) {
		e = fake_svc(f, &p->svc_put[i].key);
		if (!e) {
			assert_true(f->st.n_svcs < f->svc_cap);
			e = &f->st.svcs[f->st.n_svcs++];
		}
		*e = p->svc_put[i];
		check_maps(f, "service put");
	}
	for (i = 0; i < p->n_svc_del; i++) {
		e = fake_svc(f, &p->svc_del[i]);
		assert_non_null(e);
		*e = f->st.svcs[--f->st.n_svcs];
		check_maps(f, "service delete");
	}
	for (i = 0; i < p->n_be_del; i++) {
		b = fake_be(f, p->be_del[i]);
		assert_non_null(b);
		*b = f->st.bes[--f->st.n_bes];
		check_maps(f, "backend delete");
	}
}

static int plan_on(struct fake *f, const struct zh_svc_set *set,
		   const struct zh_service *del, unsigned int flags,
		   struct zh_svc_plan *p, char *err, size_t errlen)
{
	struct zh_svc_table_ops ops = { .read = fake_read, .arg = f };

	return zh_svc_plan(&f->st, set, del, del ? 1 : 0, flags, &ops, p, err,
			   errlen);
}

static void plan_ok(struct fake *f, const struct zh_svc_set *set,
		    const struct zh_service *del, unsigned int flags,
		    struct zh_svc_plan *p)
{
	char err[ZH_SVC_ERR_MAX];
	int rc = plan_on(f, set, del, flags, p, err, sizeof(err));

	if (rc)
		fail_msg("plan: %d: %s", rc, err);
}

/* Fails with @rc and exactly @want (a prefix when it ends in '*'). */
static void plan_fails(struct fake *f, const struct zh_svc_set *set,
		       const struct zh_service *del, unsigned int flags,
		       int want_rc, const char *want)
{
	static const struct zh_svc_plan empty;
	char err[ZH_SVC_ERR_MAX];
	struct zh_svc_plan p;
	size_t wl = strlen(want);
	int rc = plan_on(f, set, del, flags, &p, err, sizeof(err));

	if (rc != want_rc)
		fail_msg("rc %d, want %d (%s)", rc, want_rc, err);
	if (want[wl - 1] == '*' ? strncmp(err, want, wl - 1) :
				  strcmp(err, want))
		fail_msg("got  %s\nwant %s", err, want);
	if (memcmp(&p, &empty, sizeof(p)))
		fail_msg("a failed plan is not empty");
}

static void key_of(struct zh_svc_key *k, const char *vip, __u16 port,
		   __u8 proto)
{
	struct zh_addr a;

	assert_int_equal(zh_addr_parse(vip, false, &a), 0);
	zh_svc_key_make(k, &a, port, proto);
}

static const struct zh_svc_ent *find(struct fake *f, const char *vip,
				     __u16 port, __u8 proto)
{
	struct zh_svc_key k;

	key_of(&k, vip, port, proto);
	return fake_svc(f, &k);
}

/* The id of backend @ip:@port of service @svc_id, or 0. */
static __u32 be_id(const struct fake *f, __u32 svc_id, const char *ip,
		   __u16 port)
{
	struct zh_addr a;

	assert_int_equal(zh_addr_parse(ip, false, &a), 0);
	for (size_t i = 0; i < f->st.n_bes; i++) {
		const struct zh_backend *b = &f->st.bes[i].be;

		if (b->svc_id == svc_id && ntohs(b->port) == port &&
		    !memcmp(b->addr, a.raw, (size_t)zh_addr_len(a.family)))
			return f->st.bes[i].id;
	}
	return 0;
}

/* --- Maglev slots ----------------------------------------------------------- */

static void test_slots_first_fit(void **state)
{
	const struct zh_svc_region used[] = {
		{ 20, 10 },
		{ 0, 10 },
		{ 25, 2 } /* overlaps */,
		{ 45, 10 },
		{ 60, 5 } /* beyond */,
	};
	struct zh_slot_alloc a;
	__u32 off;

	assert_int_equal(zh_slots_init(&a, used, ARRAY_SIZE(used), 50), 0);
	/* Gaps: [10, 20), [30, 45). */
	assert_int_equal(a.free, 25);
	assert_int_equal(zh_slots_largest(&a), 15);
	assert_int_equal(zh_slots_take(&a, 5, &off), 0);
	assert_int_equal(off, 10);
	assert_int_equal(zh_slots_take(&a, 10, &off), 0);
	assert_int_equal(off, 30); /* [15, 20) is too small */
	assert_int_equal(zh_slots_take(&a, 5, &off), 0);
	assert_int_equal(off, 15);
	assert_int_equal(zh_slots_take(&a, 6, &off), -ENOSPC);
	assert_int_equal(zh_slots_take(&a, 5, &off), 0);
	assert_int_equal(off, 40);
	assert_int_equal(a.free, 0);
	assert_int_equal(zh_slots_take(&a, 1, &off), -ENOSPC);
	assert_int_equal(zh_slots_take(&a, 0, &off), 0); /* no table */
	zh_slots_free(&a);

	assert_int_equal(zh_slots_init(&a, NULL, 0, 0), 0);
	assert_int_equal(zh_slots_take(&a, 1, &off), -ENOSPC);
	zh_slots_free(&a);
	assert_int_equal(zh_slots_init(&a, NULL, 0, 7), 0);
	assert_int_equal(zh_slots_take(&a, 7, &off), 0);
	assert_int_equal(off, 0);
	zh_slots_free(&a);
}

/* 100 000 gaps of 10: first fit in offset order, and quickly. */
static void test_slots_fragmented(void **state)
{
	const __u32 n = 100000;
	struct zh_svc_region *used = calloc(n, sizeof(*used));
	struct zh_slot_alloc a;
	__u32 off, i;

	assert_non_null(used);
	for (i = 0; i < n; i++)
		used[i] = (struct zh_svc_region){ .off = 20 * i + 10,
						  .size = 10 };
	assert_int_equal(zh_slots_init(&a, used, n, 20 * n), 0);
	assert_int_equal(a.free, 10 * n);
	assert_int_equal(zh_slots_take(&a, 11, &off), -ENOSPC);
	for (i = 0; i < n; i++) {
		assert_int_equal(zh_slots_take(&a, i % 2 ? 6 : 4, &off), 0);
		/* Two tables per gap: 4 then 6. */
		assert_int_equal(off, 20 * (i / 2) + (i % 2 ? 4 : 0));
	}
	assert_int_equal(a.free, 10 * n / 2);
	assert_int_equal(zh_slots_take(&a, 5, &off), 0);
	assert_int_equal(off, 20 * (n / 2));
	zh_slots_free(&a);
	free(used);
}

static void test_table_size(void **state)
{
	assert_int_equal(zh_svc_table_size(0), 0);
	assert_int_equal(zh_svc_table_size(1), 101);
	assert_int_equal(zh_svc_table_size(2), 211);
	assert_int_equal(zh_svc_table_size(3), 307);
	assert_int_equal(zh_svc_table_size(10), 1009);
	assert_int_equal(zh_svc_table_size(ZH_MAGLEV_M_MAX), 0);
	/* The node's own factor (zerohopd --maglev-per-backend). */
	assert_int_equal(zh_svc_table_size_per(3, 0), 307);
	assert_int_equal(zh_svc_table_size_per(3, 10), 31);
	assert_int_equal(zh_svc_table_size_per(1, 1), 2);
	assert_int_equal(zh_svc_table_size_per(3, 50), 151);
}

/* --- plans ---------------------------------------------------------------- */

/* @f holds DOC_ABC, applied to empty maps. */
static void fake_abc(struct fake *f, __u32 slots)
{
	struct zh_svc_set set;
	struct zh_svc_plan p;

	fake_init(f, 64, 64, slots);
	set_from(&set, DOC_ABC);
	plan_ok(f, &set, NULL, 0, &p);
	fake_commit(f, &p);
	zh_svc_plan_free(&p);
	zh_svc_set_free(&set);
}

static void test_plan_fresh(void **state)
{
	const struct zh_svc_ent *a, *np, *b, *c;
	struct zh_svc_set set;
	struct zh_svc_plan p;
	struct zh_svc_key k;
	struct fake f;
	__u32 i, n1 = 0;

	fake_init(&f, 64, 64, 4096);
	set_from(&set, DOC_ABC);
	plan_ok(&f, &set, NULL, 0, &p);
	assert_int_equal(p.r.added, 3);
	assert_int_equal(p.r.updated + p.r.removed + p.r.unchanged, 0);
	assert_int_equal(p.r.be_added, 5);
	assert_int_equal(p.n_be_put, 5);
	assert_int_equal(p.n_svc_put, 4); /* a, a's NodePort, b, c */
	assert_int_equal(p.n_tables, 2); /* c has no ready backend */
	assert_int_equal(p.r.slots_written, 211 + 101);
	assert_int_equal(p.r.slots_used, 211 + 101);
	assert_int_equal(p.r.slots_total, 4096);
	assert_int_equal(p.n_svc_del + p.n_be_del + p.n_gone_svc, 0);
	fake_commit(&f, &p);
	zh_svc_plan_free(&p);

	/* Ids from 1 in set order; tables first fit from slot 0. */
	a = find(&f, "10.96.0.10", 80, IPPROTO_TCP);
	b = find(&f, "10.96.0.11", 53, IPPROTO_UDP);
	c = find(&f, "fd00::10", 443, IPPROTO_TCP);
	assert_true(a && b && c);
	assert_int_equal(a->val.id, 1);
	assert_int_equal(b->val.id, 2);
	assert_int_equal(c->val.id, 3);
	assert_int_equal(a->val.table_off, 0);
	assert_int_equal(a->val.table_size, 211);
	assert_int_equal(a->val.affinity_s, 60);
	assert_int_equal(a->val.flags, 0);
	assert_int_equal(ntohs(a->val.port), 80);
	assert_int_equal(b->val.table_off, 211);
	assert_int_equal(b->val.table_size, 101);
	assert_int_equal(c->val.table_size, 0);
	assert_int_equal(be_id(&f, 1, "10.1.0.1", 8080), 1);
	assert_int_equal(be_id(&f, 1, "10.1.0.2", 8080), 2);
	assert_int_equal(be_id(&f, 2, "10.1.0.3", 53), 3);
	assert_int_equal(be_id(&f, 2, "10.1.0.4", 53), 4);
	assert_int_equal(be_id(&f, 3, "fd00::1", 443), 5);
	assert_int_equal(fake_be(&f, 4)->be.flags, ZH_BE_F_TERMINATING);
	assert_int_equal(fake_be(&f, 3)->be.flags, 0);
	assert_int_equal(fake_be(&f, 5)->be.family, ZH_AF_INET6);

	/* The NodePort entry: the service's, under the all-zero address. */
	zh_svc_nodeport_key(&k, AF_INET, 30080, IPPROTO_TCP);
	np = fake_svc(&f, &k);
	assert_non_null(np);
	assert_int_equal(np->val.id, 1);
	assert_int_equal(np->val.flags, ZH_SVC_F_NODEPORT);
	assert_int_equal(ntohs(np->val.port), 80);
	assert_int_equal(np->val.table_off, 0);
	assert_int_equal(np->val.table_size, 211);

	/* b's one ready backend has every slot; a's two about half. */
	for (i = 0; i < 101; i++)
		assert_int_equal(f.maglev[211 + i], 3);
	for (i = 0; i < 211; i++)
		n1 += f.maglev[i] == 1;
	assert_in_range(n1, 105, 106);
	zh_svc_set_free(&set);
	fake_free(&f);
}

/* The table is zh_maglev_build() over zh_svc_backend_key(): every node's. */
static void test_plan_table_is_maglev(void **state)
{
	struct zh_maglev_backend mb[2];
	uint8_t keys[2][ZH_SVC_KEY_MAX];
	uint32_t want[211];
	struct zh_svc_set set;
	struct fake f;
	size_t i;

	fake_abc(&f, 4096);
	set_from(&set, DOC_ABC);
	for (i = 0; i < 2; i++)
		mb[i] = (struct zh_maglev_backend){
			.key = keys[i],
			.key_len = zh_svc_backend_key(&set.svcs[0].backends[i],
						      keys[i]),
			.weight = 1,
		};
	assert_int_equal(zh_maglev_build(mb, 2, 211, want), 0);
	for (i = 0; i < 211; i++)
		assert_int_equal(f.maglev[i], want[i] + 1); /* ids 1, 2 */
	zh_svc_set_free(&set);
	fake_free(&f);
}

static void test_plan_unchanged(void **state)
{
	struct zh_svc_set set;
	struct zh_svc_plan p;
	struct fake f;

	fake_abc(&f, 4096);
	set_from(&set, DOC_ABC);
	f.reads = 0;
	plan_ok(&f, &set, NULL, 0, &p);
	assert_int_equal(p.r.unchanged, 3);
	assert_int_equal(p.r.added + p.r.updated + p.r.removed, 0);
	assert_int_equal(p.n_be_put + p.n_tables + p.n_svc_put, 0);
	assert_int_equal(p.n_svc_del + p.n_be_del, 0);
	assert_int_equal(p.r.slots_written, 0);
	assert_int_equal(p.r.slots_used, 312);
	assert_int_equal(f.reads, 2); /* a's and b's tables compared */
	zh_svc_plan_free(&p);
	zh_svc_set_free(&set);
	fake_free(&f);
}

static void test_plan_backend_ids_kept(void **state)
{
	struct zh_svc_set set;
	struct zh_svc_plan p;
	const struct zh_svc_ent *a;
	struct fake f;

	fake_abc(&f, 4096);
	/* a: 10.1.0.1 goes, 10.1.0.9 comes; b and c as they were. */
	set_from(
		&set,
		"{'services': ["
		"{'name': 'a', 'vip': '10.96.0.10', 'port': 80, 'nodePort': 30080,"
		" 'affinity': {'clientIP': 60}, 'backends': ["
		"  {'ip': '10.1.0.9', 'port': 8080}, {'ip': '10.1.0.2', 'port': 8080}]},"
		"{'name': 'b', 'vip': '10.96.0.11', 'port': 53, 'proto': 'udp', 'backends': ["
		"  {'ip': '10.1.0.3'}, {'ip': '10.1.0.4', 'state': 'terminating'}]},"
		"{'name': 'c', 'vip': 'fd00::10', 'port': 443, 'backends': ["
		"  {'ip': 'fd00::1', 'weight': 0}]}]}");
	plan_ok(&f, &set, NULL, 0, &p);
	assert_int_equal(p.r.updated, 1);
	assert_int_equal(p.r.unchanged, 2);
	assert_int_equal(p.r.be_added, 1);
	assert_int_equal(p.r.be_removed, 1);
	/* The old one's id is in use until the apply ends: the next one. */
	assert_int_equal(p.n_be_put, 1);
	assert_int_equal(p.be_put[0].id, 6);
	/* The new table goes to free slots, the old ones stay until later. */
	assert_int_equal(p.n_tables, 1);
	assert_int_equal(p.tables[0].off, 312);
	assert_int_equal(p.n_svc_put, 2); /* a and its NodePort entry */
	assert_int_equal(p.n_be_del, 1);
	assert_int_equal(p.be_del[0], 1);
	assert_int_equal(p.n_gone_svc, 0);

	/* Flows: only those of 10.1.0.1 go. */
	{
		struct zh_ct_key fwd = { .family = ZH_AF_INET,
					 .proto = IPPROTO_TCP,
					 .dir = ZH_CT_FWD };
		struct zh_ct_key rev = { .family = ZH_AF_INET,
					 .proto = IPPROTO_TCP,
					 .dir = ZH_CT_REV,
					 .sport = htons(8080) };
		struct zh_ct ct = { .svc_id = 1, .backend_id = 1 };
		struct zh_affinity_key ak = { .svc_id = 1,
					      .family = ZH_AF_INET };
		struct zh_affinity av = { .backend_id = 1 };

		assert_true(zh_svc_ct_stale(&p, &fwd, &ct));
		ct.backend_id = 2;
		assert_false(zh_svc_ct_stale(&p, &fwd, &ct));
		ct.backend_id = 0;
		rev.saddr[0] = htonl(0x0a010001); /* 10.1.0.1:8080 */
		assert_true(zh_svc_ct_stale(&p, &rev, &ct));
		ct.svc_id = 2; /* the same address, another service */
		assert_false(zh_svc_ct_stale(&p, &rev, &ct));
		ct.svc_id = 1;
		rev.saddr[0] = htonl(0x0a010002);
		assert_false(zh_svc_ct_stale(&p, &rev, &ct));
		rev.saddr[0] = htonl(0x0a010001);
		rev.sport = htons(8081);
		assert_false(zh_svc_ct_stale(&p, &rev, &ct));
		assert_true(zh_svc_affinity_stale(&p, &ak, &av));
		av.backend_id = 2;
		assert_false(zh_svc_affinity_stale(&p, &ak, &av));
	}
	fake_commit(&f, &p);
	zh_svc_plan_free(&p);
	a = find(&f, "10.96.0.10", 80, IPPROTO_TCP);
	assert_int_equal(a->val.id, 1);
	assert_int_equal(a->val.table_off, 312);
	assert_int_equal(be_id(&f, 1, "10.1.0.2", 8080), 2);
	assert_int_equal(be_id(&f, 1, "10.1.0.9", 8080), 6);
	assert_int_equal(be_id(&f, 1, "10.1.0.1", 8080), 0);
	zh_svc_set_free(&set);

	/* Reuse after delete: a new service gets the lowest free ids and
	 * a's old slots (first fit). */
	set_from(
		&set,
		"{'services': ["
		"{'vip': '10.96.0.10', 'port': 80, 'nodePort': 30080,"
		" 'affinity': {'clientIP': 60}, 'backends': ["
		"  {'ip': '10.1.0.9', 'port': 8080}, {'ip': '10.1.0.2', 'port': 8080}]},"
		"{'vip': '10.96.0.11', 'port': 53, 'proto': 'udp', 'backends': ["
		"  {'ip': '10.1.0.3'}, {'ip': '10.1.0.4', 'state': 'terminating'}]},"
		"{'vip': 'fd00::10', 'port': 443, 'backends': ["
		"  {'ip': 'fd00::1', 'weight': 0}]},"
		"{'name': 'd', 'vip': '10.96.0.12', 'port': 80, 'backends': ["
		"  {'ip': '10.1.0.7'}]}]}");
	plan_ok(&f, &set, NULL, 0, &p);
	assert_int_equal(p.r.added, 1);
	assert_int_equal(p.r.unchanged, 3);
	assert_int_equal(p.n_be_put, 1);
	assert_int_equal(p.be_put[0].id, 1);
	assert_int_equal(p.n_tables, 1);
	assert_int_equal(p.tables[0].off, 0);
	assert_int_equal(p.svc_put[0].val.id, 4);
	fake_commit(&f, &p);
	zh_svc_plan_free(&p);
	zh_svc_set_free(&set);
	fake_free(&f);
}

static void test_plan_remove(void **state)
{
	struct zh_svc_set set;
	struct zh_svc_plan p;
	struct fake f;
	struct zh_ct_key key = { .family = ZH_AF_INET, .dir = ZH_CT_REV };
	struct zh_ct ct = { .svc_id = 1 };

	fake_abc(&f, 4096);
	/* a and c go; b stays. */
	set_from(&set,
		 "{'services': [{'name': 'b', 'vip': '10.96.0.11', 'port': 53,"
		 " 'proto': 'udp', 'backends': [{'ip': '10.1.0.3'},"
		 " {'ip': '10.1.0.4', 'state': 'terminating'}]}]}");
	plan_ok(&f, &set, NULL, 0, &p);
	assert_int_equal(p.r.removed, 2);
	assert_int_equal(p.r.unchanged, 1);
	assert_int_equal(p.n_svc_del, 3); /* a, a's NodePort, c */
	assert_int_equal(p.n_be_del, 3);
	assert_int_equal(p.be_del[0], 1);
	assert_int_equal(p.be_del[1], 2);
	assert_int_equal(p.be_del[2], 5);
	assert_int_equal(p.n_gone_svc, 2);
	assert_int_equal(p.gone_svc[0], 1);
	assert_int_equal(p.gone_svc[1], 3);
	assert_int_equal(p.r.slots_used, 101);
	assert_true(zh_svc_ct_stale(&p, &key, &ct));
	ct.svc_id = 2;
	assert_false(zh_svc_ct_stale(&p, &key, &ct));
	fake_commit(&f, &p);
	zh_svc_plan_free(&p);
	zh_svc_set_free(&set);

	/* Everything goes: an empty set. */
	plan_ok(&f, NULL, NULL, 0, &p);
	assert_int_equal(p.r.removed, 1);
	fake_commit(&f, &p);
	zh_svc_plan_free(&p);
	assert_int_equal(f.st.n_svcs, 0);
	assert_int_equal(f.st.n_bes, 0);

	/* And back: the same ids as the first time. */
	set_from(&set, DOC_ABC);
	plan_ok(&f, &set, NULL, 0, &p);
	fake_commit(&f, &p);
	zh_svc_plan_free(&p);
	assert_int_equal(find(&f, "10.96.0.10", 80, IPPROTO_TCP)->val.id, 1);
	assert_int_equal(be_id(&f, 3, "fd00::1", 443), 5);
	zh_svc_set_free(&set);
	fake_free(&f);
}

/* A state change is an update in place, and a new table. */
static void test_plan_states_and_nodeport(void **state)
{
	const struct zh_svc_ent *b;
	struct zh_svc_set set;
	struct zh_svc_plan p;
	struct zh_svc_key k;
	struct fake f;
	__u32 i;

	fake_abc(&f, 4096);
	set_from(
		&set,
		"{'services': ["
		"{'vip': '10.96.0.10', 'port': 80, 'nodePort': 30081,"
		" 'affinity': {'clientIP': 60}, 'backends': ["
		"  {'ip': '10.1.0.1', 'port': 8080}, {'ip': '10.1.0.2', 'port': 8080}]},"
		"{'vip': '10.96.0.11', 'port': 53, 'proto': 'udp', 'backends': ["
		"  {'ip': '10.1.0.3', 'state': 'terminating'}, {'ip': '10.1.0.4'}]},"
		"{'vip': 'fd00::10', 'port': 443, 'backends': ["
		"  {'ip': 'fd00::1', 'weight': 0}]}]}");
	plan_ok(&f, &set, NULL, 0, &p);
	assert_int_equal(p.r.updated, 2);
	assert_int_equal(p.r.unchanged, 1);
	assert_int_equal(p.r.be_updated, 2);
	assert_int_equal(p.r.be_added + p.r.be_removed, 0);
	/* a: only the NodePort moved; its table stays. */
	zh_svc_nodeport_key(&k, AF_INET, 30080, IPPROTO_TCP);
	assert_int_equal(p.n_svc_del, 1);
	assert_memory_equal(&p.svc_del[0], &k, sizeof(k));
	assert_int_equal(p.n_gone_svc, 0);
	assert_int_equal(p.n_tables, 1); /* b's */
	fake_commit(&f, &p);
	zh_svc_plan_free(&p);
	zh_svc_nodeport_key(&k, AF_INET, 30081, IPPROTO_TCP);
	assert_int_equal(fake_svc(&f, &k)->val.id, 1);
	b = find(&f, "10.96.0.11", 53, IPPROTO_UDP);
	assert_int_equal(b->val.table_off, 312);
	for (i = 0; i < 101; i++)
		assert_int_equal(f.maglev[312 + i], 4);
	assert_int_equal(fake_be(&f, 3)->be.flags, ZH_BE_F_TERMINATING);
	assert_int_equal(fake_be(&f, 4)->be.flags, 0);
	zh_svc_set_free(&set);
	fake_free(&f);
}

/*
 * A node port with a table of its own (externalTrafficPolicy Local): built
 * from np_weight, in slots of its own, kept while it stays, emptied when
 * no backend has an np_weight.
 */
static void test_plan_nodeport_table(void **state)
{
	const struct zh_svc_ent *a, *np;
	struct zh_svc_set set;
	struct zh_svc_plan p;
	struct zh_svc_key k;
	struct zh_service *s;
	struct fake f;
	__u32 b1, i;

	(void)state;
	fake_init(&f, 64, 64, 4096);
	set_from(
		&set,
		"{'services': [{'vip': '10.96.0.10', 'port': 80, 'nodePort': 30080,"
		" 'backends': [{'ip': '10.1.0.1', 'port': 8080},"
		"  {'ip': '10.1.0.2', 'port': 8080}]}]}");
	s = svc_at(&set, 0);
	s->np_own = true;
	s->backends[0].np_weight = 1; /* 10.1.0.1 is on this node */
	plan_ok(&f, &set, NULL, 0, &p);
	assert_int_equal(p.n_tables, 2);
	fake_commit(&f, &p);
	zh_svc_plan_free(&p);
	a = find(&f, "10.96.0.10", 80, IPPROTO_TCP);
	zh_svc_nodeport_key(&k, AF_INET, 30080, IPPROTO_TCP);
	np = fake_svc(&f, &k);
	assert_true(a && np);
	assert_int_equal(np->val.id, a->val.id);
	assert_int_equal(a->val.table_size, 211); /* both backends */
	assert_int_equal(np->val.table_size, 101); /* the local one */
	assert_true(np->val.table_off >= a->val.table_off + 211 ||
		    np->val.table_off + 101 <= a->val.table_off);
	b1 = be_id(&f, a->val.id, "10.1.0.1", 8080);
	for (i = 0; i < 101; i++)
		assert_int_equal(f.maglev[np->val.table_off + i], b1);

	/* The same again: nothing written. */
	plan_ok(&f, &set, NULL, 0, &p);
	assert_int_equal(p.n_tables, 0);
	assert_int_equal(p.n_svc_put, 0);
	fake_commit(&f, &p);
	zh_svc_plan_free(&p);

	/* No local backend left: the node port refuses; the VIP serves. */
	s->backends[0].np_weight = 0;
	plan_ok(&f, &set, NULL, 0, &p);
	fake_commit(&f, &p);
	zh_svc_plan_free(&p);
	np = fake_svc(&f, &k);
	a = find(&f, "10.96.0.10", 80, IPPROTO_TCP);
	assert_int_equal(np->val.table_size, 0);
	assert_int_equal(a->val.table_size, 211);
	zh_svc_set_free(&set);
	fake_free(&f);
}

static void test_plan_errors(void **state)
{
	struct zh_svc_set set, before;
	struct fake f;

	fake_abc(&f, 4096);
	/* Invalid entries, found before anything is planned. */
	set_from(&set, DOC_ABC);
	svc_at(&set, 1)->port = 0;
	plan_fails(&f, &set, NULL, 0, -EINVAL,
		   "services[1] (b): port: 0 is not a port (1-65535)");
	svc_at(&set, 1)->port = 53;
	svc_at(&set, 2)->backends[0].port = 0;
	plan_fails(
		&f, &set, NULL, 0, -EINVAL,
		"services[2] (c): backends[0].port: 0 is not a port (1-65535)");
	svc_at(&set, 2)->backends[0].port = 443;
	/* Clashes (the parser refuses them too; a set may not come from it). */
	svc_at(&set, 2)->vip = svc_at(&set, 0)->vip;
	svc_at(&set, 2)->port = 80;
	svc_at(&set, 2)->backends[0].addr = svc_at(&set, 0)->backends[0].addr;
	plan_fails(
		&f, &set, NULL, 0, -EINVAL,
		"services[2] (c): 10.96.0.10:80/tcp is also services[0] (a)");
	svc_at(&set, 2)->port = 81;
	svc_at(&set, 2)->nodeport = 30080;
	plan_fails(
		&f, &set, NULL, 0, -EINVAL,
		"services[2] (c): node port 30080/tcp is also services[0] (a)");
	zh_svc_set_free(&set);
	fake_free(&f);

	/* Out of slots: nothing planned, whatever fitted before. */
	fake_init(&f, 64, 64, 300);
	set_from(&set, DOC_ABC);
	plan_fails(
		&f, &set, NULL, 0, -ENOSPC,
		"services[1] (b): table: 101 Maglev slots do not fit in zh_maglev (300 slots, 89 free, the largest free run 89; zerohopd --maglev-slots sets the size)");
	fake_free(&f);

	/* Fragmented: 200 free, but no run of 101. */
	fake_init(&f, 64, 64, 400);
	f.st.svcs[0] = (struct zh_svc_ent){
		.val = { .id = 7, .table_off = 100, .table_size = 100 }
	};
	f.st.svcs[1] = (struct zh_svc_ent){
		.val = { .id = 8, .table_off = 300, .table_size = 100 }
	};
	key_of(&f.st.svcs[0].key, "10.0.0.7", 1, IPPROTO_TCP);
	key_of(&f.st.svcs[1].key, "10.0.0.8", 1, IPPROTO_TCP);
	f.st.n_svcs = 2;
	zh_svc_set_free(&set);
	set_from(&set, "{'services': [{'vip': '10.96.0.11', 'port': 53,"
		       " 'backends': [{'ip': '10.1.0.3'}]}]}");
	plan_fails(
		&f, &set, NULL, ZH_SVC_PLAN_KEEP, -ENOSPC,
		"10.96.0.11:53/tcp: table: 101 Maglev slots do not fit in zh_maglev (400 slots, 200 free, the largest free run 100;*");
	fake_free(&f);
	zh_svc_set_free(&set);

	/* zh_services: a, its NodePort, b and c are 4 entries. */
	fake_init(&f, 3, 64, 4096);
	set_from(&set, DOC_ABC);
	plan_fails(
		&f, &set, NULL, 0, -ENOSPC,
		"zh_services: the apply needs 4 entries at once (0 there, 4 new), the map holds 3");
	fake_free(&f);
	fake_init(&f, 64, 4, 4096);
	plan_fails(
		&f, &set, NULL, 0, -ENOSPC,
		"zh_backends: the apply needs 5 entries at once (0 there, 5 new), the map holds 4");
	fake_free(&f);

	/* Old and new at once: 4 entries there, 4 others wanted, room 6. */
	fake_abc(&f, 4096);
	f.st.max_svcs = 6;
	set_from(
		&before,
		"{'services': ["
		"{'vip': '10.96.1.1', 'port': 80}, {'vip': '10.96.1.2', 'port': 80},"
		"{'vip': '10.96.1.3', 'port': 80}, {'vip': '10.96.1.4', 'port': 80}]}");
	plan_fails(
		&f, &before, NULL, 0, -ENOSPC,
		"zh_services: the apply needs 8 entries at once (4 there, 4 new), the map holds 6");
	zh_svc_set_free(&before);
	zh_svc_set_free(&set);
	fake_free(&f);
}

/* Editing one service leaves the others alone, weights and all. */
static void test_plan_keep(void **state)
{
	struct zh_svc_set set, one, dump;
	struct zh_svc_plan p;
	struct zh_svc_table_ops ops;
	struct fake f;
	__u32 *tbl;

	fake_init(&f, 64, 64, 4096);
	set_from(
		&set,
		"{'services': ["
		"{'name': 'w', 'vip': '10.96.0.10', 'port': 80, 'nodePort': 30080,"
		" 'backends': [{'ip': '10.1.0.1', 'weight': 3}, {'ip': '10.1.0.2'}]},"
		"{'name': 'b', 'vip': '10.96.0.11', 'port': 80,"
		" 'backends': [{'ip': '10.1.0.3'}]}]}");
	plan_ok(&f, &set, NULL, 0, &p);
	fake_commit(&f, &p);
	zh_svc_plan_free(&p);
	tbl = malloc(211 * sizeof(*tbl));
	assert_non_null(tbl);
	memcpy(tbl, f.maglev, 211 * sizeof(*tbl));

	/* Add c: only c is written. */
	set_from(&one, "{'services': [{'name': 'c', 'vip': '10.96.0.12',"
		       " 'port': 80, 'backends': [{'ip': '10.1.0.4'}]}]}");
	plan_ok(&f, &one, NULL, ZH_SVC_PLAN_KEEP, &p);
	assert_int_equal(p.r.added, 1);
	assert_int_equal(p.r.unchanged + p.r.updated + p.r.removed, 0);
	assert_int_equal(p.n_svc_put, 1);
	assert_int_equal(p.n_be_put, 1);
	assert_int_equal(p.n_svc_del + p.n_be_del, 0);
	assert_int_equal(p.r.slots_used, 211 + 101 + 101);
	fake_commit(&f, &p);
	zh_svc_plan_free(&p);
	assert_memory_equal(f.maglev, tbl, 211 * sizeof(*tbl));

	/* Replace c: again only c. */
	svc_at(&one, 0)->backends[0].port = 81;
	plan_ok(&f, &one, NULL, ZH_SVC_PLAN_KEEP, &p);
	assert_int_equal(p.r.updated, 1);
	assert_int_equal(p.n_be_del, 1);
	assert_int_equal(p.n_gone_svc, 0);
	fake_commit(&f, &p);
	zh_svc_plan_free(&p);

	/* Remove b by its key. */
	plan_ok(&f, NULL, svc_at(&set, 1), ZH_SVC_PLAN_KEEP, &p);
	assert_int_equal(p.r.removed, 1);
	assert_int_equal(p.n_svc_del, 1);
	assert_int_equal(p.n_gone_svc, 1);
	assert_int_equal(p.gone_svc[0], 2);
	assert_int_equal(p.n_be_del, 1);
	fake_commit(&f, &p);
	zh_svc_plan_free(&p);
	assert_memory_equal(f.maglev, tbl, 211 * sizeof(*tbl));
	assert_int_equal(f.st.n_svcs, 3); /* w, its NodePort, c */

	/* Gone already: an error that names it. */
	plan_fails(&f, NULL, svc_at(&set, 1), ZH_SVC_PLAN_KEEP, -ENOENT,
		   "10.96.0.11:80/tcp: no such service");
	/* w's node port is w's. */
	svc_at(&one, 0)->nodeport = 30080;
	plan_fails(&f, &one, NULL, ZH_SVC_PLAN_KEEP, -EINVAL,
		   "c: nodePort: node port 30080/tcp is 10.96.0.10:80/tcp's");
	/* Removing needs KEEP. */
	plan_fails(&f, &one, svc_at(&set, 1), 0, -EINVAL, "*");

	/* Why: the maps keep no weights, so a dump applied again would
	 * rebuild w's table with equal weights. */
	ops = (struct zh_svc_table_ops){ .read = fake_read, .arg = &f };
	assert_int_equal(zh_svc_state_to_set(&f.st, &ops, &dump, NULL), 0);
	plan_ok(&f, &dump, NULL, 0, &p);
	assert_int_equal(p.r.updated, 1);
	assert_int_equal(p.r.unchanged, 1);
	zh_svc_plan_free(&p);

	zh_svc_set_free(&dump);
	zh_svc_set_free(&one);
	zh_svc_set_free(&set);
	free(tbl);
	fake_free(&f);
}

static void test_dump(void **state)
{
	static const char *const want[] = {
		"10.96.0.10:80/tcp np=30080 aff=60: 10.1.0.1:8080/1 10.1.0.2:8080/1",
		"10.96.0.11:53/udp np=0 aff=0: 10.1.0.3:53/1 10.1.0.4:53/1/T",
		"[fd00::10]:443/tcp np=0 aff=0: [fd00::1]:443/0",
	};
	struct zh_svc_table_ops ops;
	struct zh_svc_info *info;
	struct zh_svc_set dump;
	struct zh_svc_plan p;
	struct fake f;

	fake_abc(&f, 4096);
	ops = (struct zh_svc_table_ops){ .read = fake_read, .arg = &f };
	assert_int_equal(zh_svc_state_to_set(&f.st, &ops, &dump, &info), 0);
	expect_set(&dump, want, ARRAY_SIZE(want));
	assert_string_equal(dump.svcs[0].name, "10.96.0.10:80/tcp");
	assert_string_equal(dump.svcs[2].name, "[fd00::10]:443/tcp");
	assert_int_equal(dump.svcs[0].proto, IPPROTO_TCP);
	assert_int_equal(info[0].id, 1);
	assert_int_equal(info[0].table_off, 0);
	assert_int_equal(info[0].table_size, 211);
	assert_int_equal(info[0].backend_id[0], 1);
	assert_int_equal(info[0].backend_slots[0] + info[0].backend_slots[1],
			 211);
	assert_int_equal(info[1].backend_id[1], 4);
	assert_int_equal(info[1].backend_slots[0], 101);
	assert_int_equal(info[1].backend_slots[1], 0);
	assert_int_equal(info[2].table_size, 0);

	/* Applying the dump changes nothing. */
	plan_ok(&f, &dump, NULL, 0, &p);
	assert_int_equal(p.r.unchanged, 3);
	assert_int_equal(p.n_be_put + p.n_svc_put + p.n_tables, 0);
	assert_int_equal(p.n_svc_del + p.n_be_del, 0);
	zh_svc_plan_free(&p);
	zh_svc_info_free(info, dump.n);
	zh_svc_set_free(&dump);

	/* Empty maps: an empty set. */
	fake_free(&f);
	fake_init(&f, 4, 4, 16);
	assert_int_equal(zh_svc_state_to_set(&f.st, &ops, &dump, NULL), 0);
	assert_int_equal(dump.n, 0);
	zh_svc_set_free(&dump);
	fake_free(&f);
}

/* --- random sequences ------------------------------------------------------- */

#define U_SVCS 24
#define U_BES 8

/* A random set over a small universe, so that rounds share much. */
static void random_set(struct zh_svc_set *set)
{
	size_t i, j;

	set->svcs = calloc(U_SVCS, sizeof(*set->svcs));
	set->n = 0;
	assert_non_null(set->svcs);
	for (i = 0; i < U_SVCS; i++) {
		struct zh_service *s = &set->svcs[set->n];
		char ip[64];
		bool v6 = i % 5 == 4;

		if (rng_next() % 3 == 0)
			continue;
		snprintf(ip, sizeof(ip), v6 ? "fd00::%zx" : "10.96.0.%zu",
			 i + 1);
		assert_int_equal(zh_addr_parse(ip, false, &s->vip), 0);
		s->port = (uint16_t)(80 + i % 3);
		s->proto = i % 4 == 3 ? IPPROTO_UDP : IPPROTO_TCP;
		/* Unique per service: no clashes. */
		s->nodeport = rng_next() % 3 ? 0 : (uint16_t)(30000 + i);
		s->affinity_timeout = rng_next() % 4 ? 0 : 60;
		snprintf(s->name, sizeof(s->name), "s%zu", i);
		s->backends = calloc(U_BES, sizeof(*s->backends));
		assert_non_null(s->backends);
		for (j = 0; j < U_BES; j++) {
			struct zh_svc_backend *b = &s->backends[s->n_backends];

			if (rng_next() % 2)
				continue;
			snprintf(ip, sizeof(ip),
				 v6 ? "fd00:1::%zx" : "10.1.0.%zu", j + 1);
			assert_int_equal(zh_addr_parse(ip, false, &b->addr), 0);
			b->port = (uint16_t)(8080 + rng_next() % 2);
			b->weight = rng_next() % 8 ? 1 : 0;
			b->state = rng_next() % 6 ? ZH_EP_READY :
						    ZH_EP_TERMINATING;
			/* One address, two ports: both, or the first. */
			if (s->n_backends && b->port == 8081 &&
			    !memcmp(&s->backends[s->n_backends - 1].addr,
				    &b->addr, sizeof(b->addr)))
				continue;
			s->n_backends++;
		}
		set->n++;
	}
}

/* What a dump must say of @s: weights 1 or 0, backends sorted. */
static int be_sort(const void *a, const void *b)
{
	const struct zh_svc_backend *x = a, *y = b;
	int c = memcmp(x->addr.raw, y->addr.raw, 16);

	return c ? c : (x->port > y->port) - (x->port < y->port);
}

static int svc_sort(const void *a, const void *b)
{
	const struct zh_service *x = a, *y = b;
	int c;

	if (x->vip.family != y->vip.family)
		return x->vip.family == AF_INET ? -1 : 1;
	c = memcmp(x->vip.raw, y->vip.raw, 16);
	if (c)
		return c;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return (x->proto > y->proto) - (x->proto < y->proto);
}

static void normalise(struct zh_svc_set *set)
{
	size_t i, j;

	qsort(set->svcs, set->n, sizeof(*set->svcs), svc_sort);
	for (i = 0; i < set->n; i++) {
		struct zh_service *s = &set->svcs[i];

		qsort(s->backends, s->n_backends, sizeof(*s->backends),
		      be_sort);
		for (j = 0; j < s->n_backends; j++) {
			struct zh_svc_backend *b = &s->backends[j];

			/* Every ready one of weight > 0 has slots. */
			if (b->state == ZH_EP_TERMINATING || b->weight)
				b->weight = 1;
		}
	}
}

/* svc key + backend address/port -> id, to compare rounds. */
struct idrec {
	char what[128];
	__u32 id;
};

static size_t ids_of(const struct fake *f, struct idrec *out, size_t cap)
{
	char a[64];
	size_t i, n = 0;

	for (i = 0; i < f->st.n_svcs && n < cap; i++) {
		const struct zh_svc_ent *e = &f->st.svcs[i];

		snprintf(out[n].what, sizeof(out[n].what), "svc %u/%u/%u/%x",
			 e->key.family, e->key.proto, ntohs(e->key.port),
			 e->key.addr[0] ^ e->key.addr[3]);
		out[n++].id = e->val.id;
	}
	for (i = 0; i < f->st.n_bes && n < cap; i++) {
		const struct zh_be_ent *b = &f->st.bes[i];
		const struct zh_svc_ent *owner = NULL;

		for (size_t j = 0; j < f->st.n_svcs; j++)
			if (f->st.svcs[j].val.id == b->be.svc_id &&
			    f->st.svcs[j].key.addr[0] |
				    f->st.svcs[j].key.addr[3])
				owner = &f->st.svcs[j];
		assert_non_null(owner);
		snprintf(a, sizeof(a), "%x:%u", b->be.addr[0] ^ b->be.addr[3],
			 ntohs(b->be.port));
		snprintf(out[n].what, sizeof(out[n].what), "be %u/%u/%u/%x %s",
			 owner->key.family, owner->key.proto,
			 ntohs(owner->key.port),
			 owner->key.addr[0] ^ owner->key.addr[3], a);
		out[n++].id = b->id;
	}
	return n;
}

static void test_random_rounds(void **state)
{
	struct idrec *prev = calloc(4096, sizeof(*prev)),
		     *cur = calloc(4096, sizeof(*cur));
	struct zh_svc_table_ops ops;
	struct zh_svc_set set, dump;
	size_t n_prev = 0, n_cur, i, j, fails = 0;
	char a[1024], b[1024], err[ZH_SVC_ERR_MAX];
	struct zh_svc_plan p;
	struct fake f;
	int round, rc;

	assert_true(prev && cur);
	rng_seed(42);
	/* Small enough that some applies do not fit. */
	fake_init(&f, 64, 256, 9000);
	ops = (struct zh_svc_table_ops){ .read = fake_read, .arg = &f };
	for (round = 0; round < 60; round++) {
		random_set(&set);
		rc = zh_svc_plan(&f.st, &set, NULL, 0, 0, &ops, &p, err,
				 sizeof(err));
		if (rc == -ENOSPC) {
			fails++;
			zh_svc_set_free(&set);
			continue;
		}
		if (rc)
			fail_msg("round %d: %s", round, err);
		assert_int_equal(p.r.added + p.r.updated + p.r.unchanged,
				 set.n);
		fake_commit(&f, &p);
		zh_svc_plan_free(&p);

		/* The maps say what the set says. */
		assert_int_equal(zh_svc_state_to_set(&f.st, &ops, &dump, NULL),
				 0);
		normalise(&set);
		assert_int_equal(dump.n, set.n);
		for (i = 0; i < set.n; i++) {
			svc_text(&set.svcs[i], a, sizeof(a));
			svc_text(&dump.svcs[i], b, sizeof(b));
			if (strcmp(a, b))
				fail_msg("round %d:\nset  %s\ndump %s", round,
					 a, b);
		}
		zh_svc_set_free(&dump);

		/* What stayed kept its id. */
		n_cur = ids_of(&f, cur, 4096);
		for (i = 0; i < n_cur; i++)
			for (j = 0; j < n_prev; j++)
				if (!strcmp(cur[i].what, prev[j].what) &&
				    cur[i].id != prev[j].id)
					fail_msg("round %d: %s: id %u, was %u",
						 round, cur[i].what, cur[i].id,
						 prev[j].id);
		memcpy(prev, cur, n_cur * sizeof(*cur));
		n_prev = n_cur;

		/* Applying it again writes nothing. */
		plan_ok(&f, &set, NULL, 0, &p);
		assert_int_equal(p.r.unchanged, set.n);
		assert_int_equal(p.n_be_put + p.n_svc_put + p.n_tables +
					 p.n_svc_del + p.n_be_del,
				 0);
		zh_svc_plan_free(&p);
		zh_svc_set_free(&set);
	}
	print_message("random rounds: %zu of 60 did not fit in 9000 slots\n",
		      fails);
	assert_in_range(fails, 1, 40);
	free(prev);
	free(cur);
	fake_free(&f);
}

/* 100 000 services of one backend: the planning part of the goal. */
static void test_plan_100k(void **state)
{
	const size_t n = 100000;
	struct zh_svc_set set = { .svcs = calloc(n, sizeof(*set.svcs)),
				  .n = n };
	struct zh_svc_backend *be = calloc(n, sizeof(*be));
	struct timespec t0, t1;
	struct zh_svc_plan p;
	struct fake f;
	size_t i;

	assert_true(set.svcs && be);
	for (i = 0; i < n; i++) {
		struct zh_service *s = &set.svcs[i];

		s->vip.family = AF_INET;
		s->vip.v4.s_addr = htonl(0x0a600000 + (uint32_t)i + 1);
		s->port = 80;
		s->proto = IPPROTO_TCP;
		snprintf(s->name, sizeof(s->name), "s%zu", i);
		be[i].addr.family = AF_INET;
		be[i].addr.v4.s_addr = htonl(0x0a010000 + (uint32_t)i + 1);
		be[i].port = 8080;
		be[i].weight = 1;
		s->backends = &be[i];
		s->n_backends = 1;
	}
	fake_init(&f, 131072, 262144, 101 * n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	plan_ok(&f, &set, NULL, 0, &p);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("planning 100000 services: %.3f s\n",
		      (double)(t1.tv_sec - t0.tv_sec) +
			      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	assert_int_equal(p.r.added, n);
	assert_int_equal(p.r.slots_used, 101 * n);
	zh_svc_plan_free(&p);
	free(be);
	free(set.svcs);
	fake_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_first_fit),
		cmocka_unit_test(test_slots_fragmented),
		cmocka_unit_test(test_table_size),
		cmocka_unit_test(test_plan_fresh),
		cmocka_unit_test(test_plan_table_is_maglev),
		cmocka_unit_test(test_plan_unchanged),
		cmocka_unit_test(test_plan_backend_ids_kept),
		cmocka_unit_test(test_plan_remove),
		cmocka_unit_test(test_plan_states_and_nodeport),
		cmocka_unit_test(test_plan_nodeport_table),
		cmocka_unit_test(test_plan_errors),
		cmocka_unit_test(test_plan_keep),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_random_rounds),
		cmocka_unit_test(test_plan_100k),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
