// SPDX-License-Identifier: Apache-2.0
/*
 * svc_plan.c - planning an apply of the Service maps (svc_maps.h): which
 * ids, which Maglev slots, what to write and what to remove. Pure logic over
 * a struct zh_svc_state; the maps are read and written in svc_maps.c.
 *
 * Lookups go through sorted copies and bsearch(): an apply of 100 000
 * services must plan in a fraction of a second.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "maglev.h"
#include "svc_maps.h"

static void *grow(void *arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 16;
	void *n;

	if (need <= *cap)
		return arr;
	while (ncap < need)
		ncap *= 2;
	n = realloc(arr, ncap * elem);
	if (n)
		*cap = ncap;
	return n;
}

/* Room for @n elements in the array at *@arr (of capacity *@cap). */
static bool reserve(void *arr_p, size_t *cap, size_t n, size_t elem)
{
	void **arr = arr_p;
	void *a;

	if (n <= *cap)
		return true;
	a = grow(*arr, cap, n, elem);
	if (a)
		*arr = a;
	return a;
}

/* Append one element of @elem bytes to the array at *@arr. */
static int push(void *arr_p, size_t *n, size_t *cap, const void *v, size_t elem)
{
	void **arr = arr_p;
	void *a = grow(*arr, cap, *n + 1, elem);

	if (!a)
		return -ENOMEM;
	*arr = a;
	memcpy((char *)a + *n * elem, v, elem);
	(*n)++;
	return 0;
}

static int u32_cmp(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return (x > y) - (x < y);
}

static bool u32_has(const __u32 *arr, size_t n, __u32 v)
{
	return n && bsearch(&v, arr, n, sizeof(*arr), u32_cmp);
}

/* Sort and drop repeats; returns the new length. */
static size_t u32_uniq(__u32 *arr, size_t n)
{
	size_t i, out = 0;

	if (!n)
		return 0;
	qsort(arr, n, sizeof(*arr), u32_cmp);
	for (i = 0; i < n; i++)
		if (!out || arr[out - 1] != arr[i])
			arr[out++] = arr[i];
	return out;
}

/* --- keys ----------------------------------------------------------------- */

static __u8 zh_family(int af)
{
	return af == AF_INET6 ? ZH_AF_INET6 : ZH_AF_INET;
}

void zh_svc_key_make(struct zh_svc_key *k, const struct zh_addr *vip,
		     __u16 port, __u8 proto)
{
	memset(k, 0, sizeof(*k));
	k->family = zh_family(vip->family);
	k->proto = proto;
	k->port = htons(port);
	memcpy(k->addr, vip->raw, (size_t)zh_addr_len(vip->family));
}

void zh_svc_nodeport_key(struct zh_svc_key *k, int family, __u16 nodeport,
			 __u8 proto)
{
	memset(k, 0, sizeof(*k));
	k->family = zh_family(family);
	k->proto = proto;
	k->port = htons(nodeport);
}

/* NodePort entries have the all-zero address. */
static bool key_is_nodeport(const struct zh_svc_key *k)
{
	return !(k->addr[0] | k->addr[1] | k->addr[2] | k->addr[3]);
}

/* The struct has no implicit padding (zh_abi.h asserts its size). */
static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct zh_svc_key));
}

static int ent_key_cmp(const void *a, const void *b)
{
	const struct zh_svc_ent *x = a, *y = b;

	return key_cmp(&x->key, &y->key);
}

static const struct zh_svc_ent *ent_find(const struct zh_svc_ent *sorted,
					 size_t n, const struct zh_svc_key *k)
{
	struct zh_svc_ent probe = { .key = *k };

	return n ? bsearch(&probe, sorted, n, sizeof(*sorted), ent_key_cmp) :
		   NULL;
}

static int ent_id_cmp(const void *a, const void *b)
{
	const struct zh_svc_ent *x = a, *y = b;

	return u32_cmp(&x->val.id, &y->val.id) ?: ent_key_cmp(a, b);
}

/* A backend's identity: its service, then family, port and address. */
static int be_ident_cmp(const struct zh_backend *a, const struct zh_backend *b)
{
	if (a->svc_id != b->svc_id)
		return a->svc_id < b->svc_id ? -1 : 1;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->port != b->port)
		return ntohs(a->port) < ntohs(b->port) ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

static int be_ent_ident_cmp(const void *a, const void *b)
{
	const struct zh_be_ent *x = a, *y = b;

	return be_ident_cmp(&x->be, &y->be);
}

static void be_from_model(struct zh_backend *be, const struct zh_svc_backend *b,
			  __u32 svc_id)
{
	memset(be, 0, sizeof(*be));
	be->family = zh_family(b->addr.family);
	be->flags = b->state == ZH_EP_TERMINATING ? ZH_BE_F_TERMINATING : 0;
	be->port = htons(b->port);
	memcpy(be->addr, b->addr.raw, (size_t)zh_addr_len(b->addr.family));
	be->svc_id = svc_id;
}

/* "10.96.0.10:80/tcp" from a key (NodePort keys: ":30080/tcp"). */
static const char *key_str(const struct zh_svc_key *k, char *buf, size_t len)
{
	struct zh_addr a = { .family = k->family == ZH_AF_INET6 ? AF_INET6 :
								  AF_INET };

	memcpy(a.raw, k->addr, sizeof(k->addr));
	if (key_is_nodeport(k)) {
		snprintf(buf, len, "node port %u/%s", ntohs(k->port),
			 zh_svc_proto_str(k->proto));
		return buf;
	}
	return zh_svc_addr_str(&a, ntohs(k->port), k->proto, buf, len);
}

void zh_svc_state_free(struct zh_svc_state *st)
{
	if (!st)
		return;
	free(st->svcs);
	free(st->bes);
	st->svcs = NULL;
	st->bes = NULL;
	st->n_svcs = st->n_bes = 0;
}

/* --- Maglev slots ----------------------------------------------------------
 *
 * First fit over the gaps between the tables in use: a max-tree over the
 * gaps (in offset order) finds the leftmost gap of at least @size in
 * O(log gaps); the plain scan would be quadratic for 100 000 tables in a
 * fragmented array.
 */
static int region_cmp(const void *a, const void *b)
{
	const struct zh_svc_region *x = a, *y = b;

	return u32_cmp(&x->off, &y->off) ?: u32_cmp(&x->size, &y->size);
}

static __u32 max_u32(__u32 a, __u32 b)
{
	return a > b ? a : b;
}

int zh_slots_init(struct zh_slot_alloc *a, const struct zh_svc_region *used,
		  size_t n, __u32 slots)
{
	struct zh_svc_region *sorted = NULL;
	__u64 cur = 0, end;
	size_t i;

	memset(a, 0, sizeof(*a));
	a->slots = slots;
	if (n) {
		sorted = malloc(n * sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		memcpy(sorted, used, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), region_cmp);
	}
	a->gaps = malloc((n + 1) * sizeof(*a->gaps));
	if (!a->gaps)
		goto err_nomem;
	for (i = 0; i < n; i++) {
		if (!sorted[i].size || sorted[i].off >= slots)
			continue;
		if (sorted[i].off > cur)
			a->gaps[a->n_gaps++] = (struct zh_svc_region){
				.off = (__u32)cur,
				.size = (__u32)(sorted[i].off - cur),
			};
		end = (__u64)sorted[i].off + sorted[i].size;
		if (end > cur)
			cur = end > slots ? slots : end;
	}
	if (cur < slots)
		a->gaps[a->n_gaps++] = (struct zh_svc_region){
			.off = (__u32)cur,
			.size = (__u32)(slots - cur),
		};
	free(sorted);
	sorted = NULL;

	for (a->leaves = 1; a->leaves < a->n_gaps; a->leaves *= 2)
		;
	a->tree = calloc(2 * a->leaves, sizeof(*a->tree));
	if (!a->tree)
		goto err_nomem;
	for (i = 0; i < a->n_gaps; i++) {
		a->tree[a->leaves + i] = a->gaps[i].size;
		a->free += a->gaps[i].size;
	}
	for (i = a->leaves - 1; i >= 1; i--)
		a->tree[i] = max_u32(a->tree[2 * i], a->tree[2 * i + 1]);
	return 0;

err_nomem:
	free(sorted);
	zh_slots_free(a);
	return -ENOMEM;
}

int zh_slots_take(struct zh_slot_alloc *a, __u32 size, __u32 *off)
{
	size_t i = 1, g;

	*off = 0;
	if (!size)
		return 0;
	if (!a->tree || a->tree[1] < size)
		return -ENOSPC;
	while (i < a->leaves)
		i = a->tree[2 * i] >= size ? 2 * i : 2 * i + 1;
	g = i - a->leaves;
	*off = a->gaps[g].off;
	a->gaps[g].off += size;
	a->gaps[g].size -= size;
	a->free -= size;
	a->tree[i] = a->gaps[g].size;
	for (i /= 2; i >= 1; i /= 2)
		a->tree[i] = max_u32(a->tree[2 * i], a->tree[2 * i + 1]);
	return 0;
}

__u32 zh_slots_largest(const struct zh_slot_alloc *a)
{
	return a->tree ? a->tree[1] : 0;
}

void zh_slots_free(struct zh_slot_alloc *a)
{
	free(a->gaps);
	free(a->tree);
	memset(a, 0, sizeof(*a));
}

/* Slots covered by @r[0..n) (overlaps counted once); sorts @r. */
static __u32 regions_span(struct zh_svc_region *r, size_t n)
{
	__u64 total = 0, cur = 0, start, end;
	size_t i;

	if (n)
		qsort(r, n, sizeof(*r), region_cmp);
	for (i = 0; i < n; i++) {
		start = r[i].off > cur ? r[i].off : cur;
		end = (__u64)r[i].off + r[i].size;
		if (end > start)
			total += end - start;
		if (end > cur)
			cur = end;
	}
	return total > UINT32_MAX ? UINT32_MAX : (__u32)total;
}

__u32 zh_svc_table_size_per(size_t n_ready, __u32 per_backend)
{
	if (!per_backend)
		per_backend = ZH_MAGLEV_PER_BACKEND;
	if (!n_ready || n_ready > ZH_MAGLEV_M_MAX / per_backend)
		return 0;
	return zh_prime_at_least((__u32)n_ready * per_backend);
}

__u32 zh_svc_table_size(size_t n_ready)
{
	return zh_svc_table_size_per(n_ready, 0);
}

/* --- ids ------------------------------------------------------------------ */

/* The lowest ids not in @used (sorted), in increasing order, never 0. */
struct id_alloc {
	const __u32 *used;
	size_t n, i;
	__u32 next;
};

static int id_next(struct id_alloc *a, __u32 *id)
{
	for (;;) {
		while (a->i < a->n && a->used[a->i] < a->next)
			a->i++;
		if (a->i < a->n && a->used[a->i] == a->next) {
			a->next++;
			if (!a->next)
				return -ENOSPC;
			continue;
		}
		break;
	}
	if (!a->next)
		return -ENOSPC;
	*id = a->next++;
	return 0;
}

/* --- the plan ------------------------------------------------------------- */

struct planner {
	const struct zh_svc_state *st;
	const struct zh_svc_set *set;
	unsigned int flags;
	const struct zh_svc_table_ops *tables;
	struct zh_svc_plan *p;
	char *err;
	size_t errlen;

	struct zh_svc_ent *cur; /* st->svcs by key */
	struct zh_be_ent *cur_be; /* st->bes by identity */
	__u32 *touched; /* KEEP: ids of the services the plan rewrites */
	size_t n_touched;
	struct id_alloc svc_ids, be_ids;
	__u32 *svc_used, *be_used;
	struct zh_slot_alloc slots;

	/* What the maps hold afterwards. */
	struct zh_svc_key *keys;
	size_t n_keys, cap_keys;
	__u32 *ids; /* service ids */
	size_t n_ids, cap_ids;
	__u32 *be_final;
	size_t n_be_final, cap_be_final;
	struct zh_svc_region *regions;
	size_t n_regions, cap_regions;
	/* Per set entry: its id, and whether anything of it changed. */
	__u32 *set_id;
	bool *existed, *dirty;
	/* Capacities of the plan's arrays. */
	size_t cap_be_put, cap_tables, cap_svc_put, cap_table_ids;

	/* Scratch for one table; or all its slots are @fill's. */
	__u32 *tbl, *old_tbl, fill;
	size_t tbl_cap;
	struct zh_maglev_backend *mb;
	uint8_t (*mkeys)[ZH_SVC_KEY_MAX];
	size_t *ready_idx;
	__u32 *be_id;
	size_t be_cap;
};

/* "services[2] (web): " - or, editing one service, "web: ". */
static const char *where(const struct planner *pl, size_t i, char *buf,
			 size_t len)
{
	if (pl->flags & ZH_SVC_PLAN_KEEP)
		snprintf(buf, len, "%s: ", pl->set->svcs[i].name);
	else
		snprintf(buf, len, "services[%zu] (%s): ", i,
			 pl->set->svcs[i].name);
	return buf;
}

static bool touched(const struct planner *pl, __u32 id)
{
	return u32_has(pl->touched, pl->n_touched, id);
}

/* Is the current entry @e kept as it is (KEEP, a service not in the set)? */
static bool ent_kept(const struct planner *pl, const struct zh_svc_ent *e)
{
	return (pl->flags & ZH_SVC_PLAN_KEEP) && !touched(pl, e->val.id);
}

struct set_ref {
	struct zh_svc_key key;
	size_t i;
};

static int set_ref_cmp(const void *a, const void *b)
{
	const struct set_ref *x = a, *y = b;

	return key_cmp(&x->key, &y->key) ?: (x->i > y->i) - (x->i < y->i);
}

/*
 * Every entry valid, no two with one key: {VIP, port, proto}, or one node
 * port, protocol and family.
 */
static int check_set(struct planner *pl)
{
	const struct zh_svc_set *set = pl->set;
	struct set_ref *refs;
	char msg[ZH_SVC_ERR_MAX - 64], w[ZH_SVC_NAME_MAX + 32];
	char w2[ZH_SVC_NAME_MAX + 32], ks[96];
	size_t i, n = 0, a = 0, b = 0;
	bool found = false;
	int rc;

	for (i = 0; i < set->n; i++) {
		rc = zh_svc_validate(&set->svcs[i], msg, sizeof(msg));
		if (rc)
			return zh_errf(pl->err, pl->errlen, rc, "%s%s",
				       where(pl, i, w, sizeof(w)), msg);
	}
	if (set->n < 2)
		return 0;
	refs = malloc(2 * set->n * sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	for (i = 0; i < set->n; i++) {
		const struct zh_service *s = &set->svcs[i];

		refs[n].i = i;
		zh_svc_key_make(&refs[n++].key, &s->vip, s->port, s->proto);
		if (!s->nodeport)
			continue;
		refs[n].i = i;
		zh_svc_nodeport_key(&refs[n++].key, s->vip.family, s->nodeport,
				    s->proto);
	}
	qsort(refs, n, sizeof(*refs), set_ref_cmp);
	/* The pair whose later entry comes first in the set. */
	for (i = 1; i < n; i++) {
		if (key_cmp(&refs[i - 1].key, &refs[i].key))
			continue;
		if (!found || refs[i].i < b) {
			a = refs[i - 1].i;
			b = refs[i].i;
			key_str(&refs[i].key, ks, sizeof(ks));
			found = true;
		}
	}
	free(refs);
	if (!found)
		return 0;
	where(pl, a, w2, sizeof(w2));
	w2[strlen(w2) - 2] = '\0';
	return zh_errf(pl->err, pl->errlen, -EINVAL, "%s%s is also %s",
		       where(pl, b, w, sizeof(w)), ks, w2);
}

/* KEEP: the services the plan rewrites or removes. */
static int find_touched(struct planner *pl, const struct zh_service *del,
			size_t n_del)
{
	const struct zh_svc_ent *e;
	struct zh_svc_key k;
	char ks[96];
	size_t i, cap = 0;
	int rc;

	for (i = 0; i < pl->set->n + n_del; i++) {
		const struct zh_service *s = i < pl->set->n ?
						     &pl->set->svcs[i] :
						     &del[i - pl->set->n];

		zh_svc_key_make(&k, &s->vip, s->port, s->proto);
		e = ent_find(pl->cur, pl->st->n_svcs, &k);
		if (!e && i >= pl->set->n)
			return zh_errf(pl->err, pl->errlen, -ENOENT,
				       "%s: no such service",
				       key_str(&k, ks, sizeof(ks)));
		if (!e)
			continue;
		rc = push(&pl->touched, &pl->n_touched, &cap, &e->val.id,
			  sizeof(__u32));
		if (rc)
			return rc;
	}
	pl->n_touched = u32_uniq(pl->touched, pl->n_touched);
	return 0;
}

/* KEEP: a node port of the set that a kept service has. */
static int check_kept_nodeports(struct planner *pl)
{
	const struct zh_svc_ent *e;
	struct zh_svc_key k;
	char w[ZH_SVC_NAME_MAX + 32], ks[96], owner[96] = "another service";
	size_t i, j;

	for (i = 0; i < pl->set->n; i++) {
		const struct zh_service *s = &pl->set->svcs[i];

		if (!s->nodeport)
			continue;
		zh_svc_nodeport_key(&k, s->vip.family, s->nodeport, s->proto);
		e = ent_find(pl->cur, pl->st->n_svcs, &k);
		if (!e || !ent_kept(pl, e))
			continue;
		for (j = 0; j < pl->st->n_svcs; j++)
			if (pl->cur[j].val.id == e->val.id &&
			    !key_is_nodeport(&pl->cur[j].key))
				key_str(&pl->cur[j].key, owner, sizeof(owner));
		return zh_errf(pl->err, pl->errlen, -EINVAL,
			       "%snodePort: %s is %s's",
			       where(pl, i, w, sizeof(w)),
			       key_str(&k, ks, sizeof(ks)), owner);
	}
	return 0;
}

static int scratch(struct planner *pl, size_t n_be, __u32 m)
{
	void *t;

	if (m > pl->tbl_cap) {
		t = realloc(pl->tbl, m * sizeof(*pl->tbl));
		if (!t)
			return -ENOMEM;
		pl->tbl = t;
		t = realloc(pl->old_tbl, m * sizeof(*pl->old_tbl));
		if (!t)
			return -ENOMEM;
		pl->old_tbl = t;
		pl->tbl_cap = m;
	}
	if (n_be > pl->be_cap) {
		if (!(t = realloc(pl->mb, n_be * sizeof(*pl->mb))))
			return -ENOMEM;
		pl->mb = t;
		if (!(t = realloc(pl->mkeys, n_be * sizeof(*pl->mkeys))))
			return -ENOMEM;
		pl->mkeys = t;
		if (!(t = realloc(pl->ready_idx,
				  n_be * sizeof(*pl->ready_idx))))
			return -ENOMEM;
		pl->ready_idx = t;
		if (!(t = realloc(pl->be_id, n_be * sizeof(*pl->be_id))))
			return -ENOMEM;
		pl->be_id = t;
		pl->be_cap = n_be;
	}
	return 0;
}

/* Backend ids for service @i (id @id, @cur its current entry or NULL). */
static int plan_backends(struct planner *pl, size_t i, __u32 id,
			 const struct zh_svc_ent *cur)
{
	const struct zh_service *s = &pl->set->svcs[i];
	struct zh_svc_plan *p = pl->p;
	struct zh_be_ent e, *found;
	size_t j;
	int rc;

	for (j = 0; j < s->n_backends; j++) {
		memset(&e, 0, sizeof(e));
		be_from_model(&e.be, &s->backends[j], id);
		found = cur && pl->st->n_bes ?
				bsearch(&e, pl->cur_be, pl->st->n_bes,
					sizeof(e), be_ent_ident_cmp) :
				NULL;
		if (found) {
			e.id = found->id;
			if (memcmp(&found->be, &e.be, sizeof(e.be))) {
				p->r.be_updated++;
				pl->dirty[i] = true;
			}
		} else {
			rc = id_next(&pl->be_ids, &e.id);
			if (rc)
				return zh_errf(
					pl->err, pl->errlen, rc,
					"zh_backends: no free backend id");
			p->r.be_added++;
			pl->dirty[i] = true;
		}
		pl->be_id[j] = e.id;
		if ((!found || memcmp(&found->be, &e.be, sizeof(e.be))) &&
		    push(&p->be_put, &p->n_be_put, &pl->cap_be_put, &e,
			 sizeof(e)))
			return -ENOMEM;
		if (push(&pl->be_final, &pl->n_be_final, &pl->cap_be_final,
			 &e.id, sizeof(e.id)))
			return -ENOMEM;
	}
	return 0;
}

/* A backend's weight in the service's table, or (@np) its node port's. */
static __u16 be_weight(const struct zh_service *s, size_t j, bool np)
{
	return np && s->np_own ? s->backends[j].np_weight :
				 s->backends[j].weight;
}

/*
 * Service @i's table (@np: its node port's) into pl->tbl: backend ids, the
 * same on every node for the same backends and weights (zh_maglev_build()
 * over their keys). Returns its size, 0 for none, or -errno.
 */
static long build_table(struct planner *pl, size_t i, bool np)
{
	const struct zh_service *s = &pl->set->svcs[i];
	char w[ZH_SVC_NAME_MAX + 32];
	size_t j, n = 0;
	__u32 m, k;
	int rc;

	for (j = 0; j < s->n_backends; j++) {
		if (s->backends[j].state != ZH_EP_READY || !be_weight(s, j, np))
			continue;
		pl->mb[n] = (struct zh_maglev_backend){
			.key = pl->mkeys[n],
			.key_len = zh_svc_backend_key(&s->backends[j],
						      pl->mkeys[n]),
			.weight = be_weight(s, j, np),
		};
		pl->ready_idx[n++] = j;
	}
	if (!n)
		return 0;
	m = zh_svc_table_size_per(n, pl->st->per_backend);
	if (!m)
		return zh_errf(pl->err, pl->errlen, -EINVAL,
			       "%sbackends: %zu ready, at most %u",
			       where(pl, i, w, sizeof(w)), n,
			       ZH_MAGLEV_M_MAX /
				       (pl->st->per_backend ?
						pl->st->per_backend :
						ZH_MAGLEV_PER_BACKEND));
	pl->fill = 0;
	if (n == 1) {
		/* Every slot is the one backend's, as zh_maglev_build() would
		 * fill it; said, not written out: 100 000 services of one
		 * backend are the common large case. */
		pl->fill = pl->be_id[pl->ready_idx[0]];
		return m;
	}
	rc = scratch(pl, 0, m);
	if (rc)
		return rc;
	rc = zh_maglev_build(pl->mb, n, m, pl->tbl);
	if (rc)
		return zh_errf(pl->err, pl->errlen, rc, "%sMaglev table: %s",
			       where(pl, i, w, sizeof(w)), strerror(-rc));
	for (k = 0; k < m; k++)
		pl->tbl[k] = pl->be_id[pl->ready_idx[pl->tbl[k]]];
	return m;
}

/* Does @cur's table hold exactly the one build_table() made? */
static int table_same(struct planner *pl, const struct zh_svc_ent *cur, __u32 m)
{
	__u32 k;
	int rc;

	if (!cur || cur->val.table_size != m ||
	    (__u64)cur->val.table_off + m > pl->st->slots)
		return 0;
	if (!pl->tables || !pl->tables->read)
		return 0;
	rc = scratch(pl, 0, m);
	if (rc)
		return rc;
	rc = pl->tables->read(pl->tables->arg, cur->val.table_off, m,
			      pl->old_tbl);
	if (rc)
		return zh_errf(pl->err, pl->errlen, rc,
			       "zh_maglev: reading slots %u..%u: %s",
			       cur->val.table_off, cur->val.table_off + m - 1,
			       strerror(-rc));
	if (!pl->fill)
		return !memcmp(pl->old_tbl, pl->tbl, m * sizeof(*pl->tbl));
	for (k = 0; k < m; k++)
		if (pl->old_tbl[k] != pl->fill)
			return 0;
	return 1;
}

/* Room for @more table slots in p->table_ids. */
static bool grow_ids(struct zh_svc_plan *p, size_t *cap, size_t more)
{
	__u32 *a = grow(p->table_ids, cap, p->n_table_ids + more, sizeof(*a));

	if (a)
		p->table_ids = a;
	return a;
}

static int put_entry(struct planner *pl, size_t i,
		     const struct zh_svc_ent *want)
{
	struct zh_svc_plan *p = pl->p;
	const struct zh_svc_ent *cur =
		ent_find(pl->cur, pl->st->n_svcs, &want->key);

	if (push(&pl->keys, &pl->n_keys, &pl->cap_keys, &want->key,
		 sizeof(want->key)))
		return -ENOMEM;
	if (cur && !memcmp(&cur->val, &want->val, sizeof(want->val)))
		return 0;
	pl->dirty[i] = true;
	return push(&p->svc_put, &p->n_svc_put, &pl->cap_svc_put, want,
		    sizeof(*want));
}

/*
 * Service @i's table (@np: its node port's), placed: where @cur's table is
 * when it holds the same, else in new slots, recorded for the write.
 * *@off is where; returns the size (0: no ready backend), or -errno.
 */
static long place_table(struct planner *pl, size_t i,
			const struct zh_svc_ent *cur, bool np, __u32 *off)
{
	struct zh_svc_plan *p = pl->p;
	char w[ZH_SVC_NAME_MAX + 32];
	struct zh_svc_table tbl;
	struct zh_svc_region reg;
	long m;
	int rc;

	*off = 0;
	m = build_table(pl, i, np);
	if (m <= 0)
		return m;
	rc = table_same(pl, cur, (__u32)m);
	if (rc < 0)
		return rc;
	if (rc) {
		*off = cur->val.table_off;
	} else {
		rc = zh_slots_take(&pl->slots, (__u32)m, off);
		if (rc)
			return zh_errf(
				pl->err, pl->errlen, rc,
				"%stable: %ld Maglev slots do not fit in zh_maglev (%u slots, %u free, the largest free run %u; zerohopd --maglev-slots sets the size)",
				where(pl, i, w, sizeof(w)), m, pl->st->slots,
				pl->slots.free, zh_slots_largest(&pl->slots));
		tbl = (struct zh_svc_table){ .off = *off,
					     .size = (__u32)m,
					     .fill = pl->fill,
					     .ids = p->n_table_ids };
		if (push(&p->tables, &p->n_tables, &pl->cap_tables, &tbl,
			 sizeof(tbl)))
			return -ENOMEM;
		if (!pl->fill) {
			if (!grow_ids(p, &pl->cap_table_ids, (size_t)m))
				return -ENOMEM;
			memcpy(p->table_ids + p->n_table_ids, pl->tbl,
			       (size_t)m * sizeof(*pl->tbl));
			p->n_table_ids += (size_t)m;
		}
		p->r.slots_written += (__u32)m;
	}
	reg = (struct zh_svc_region){ .off = *off, .size = (__u32)m };
	if (push(&pl->regions, &pl->n_regions, &pl->cap_regions, &reg,
		 sizeof(reg)))
		return -ENOMEM;
	return m;
}

static int plan_service(struct planner *pl, size_t i)
{
	const struct zh_service *s = &pl->set->svcs[i];
	const struct zh_svc_ent *cur;
	struct zh_svc_ent want = { 0 };
	__u32 id, off;
	long m;
	int rc;

	zh_svc_key_make(&want.key, &s->vip, s->port, s->proto);
	cur = ent_find(pl->cur, pl->st->n_svcs, &want.key);
	if (cur && cur->val.id) {
		id = cur->val.id;
	} else {
		rc = id_next(&pl->svc_ids, &id);
		if (rc)
			return zh_errf(pl->err, pl->errlen, rc,
				       "zh_services: no free service id");
	}
	pl->set_id[i] = id;
	pl->existed[i] = cur;

	rc = scratch(pl, s->n_backends, 0);
	if (!rc)
		rc = plan_backends(pl, i, id, cur);
	if (rc)
		return rc;
	m = place_table(pl, i, cur, false, &off);
	if (m < 0)
		return (int)m;
	if (push(&pl->ids, &pl->n_ids, &pl->cap_ids, &id, sizeof(id)))
		return -ENOMEM;

	want.val = (struct zh_svc){
		.id = id,
		.table_off = off,
		.table_size = (__u32)m,
		.affinity_s = s->affinity_timeout,
		.port = htons(s->port),
	};
	rc = put_entry(pl, i, &want);
	if (rc || !s->nodeport)
		return rc;
	zh_svc_nodeport_key(&want.key, s->vip.family, s->nodeport, s->proto);
	want.val.flags = ZH_SVC_F_NODEPORT |
			 (s->etp_local ? ZH_SVC_F_ETP_LOCAL : 0);
	if (s->np_own) {
		/* A table of its own (externalTrafficPolicy Local). */
		m = place_table(pl, i,
				ent_find(pl->cur, pl->st->n_svcs, &want.key),
				true, &off);
		if (m < 0)
			return (int)m;
		want.val.table_off = off;
		want.val.table_size = (__u32)m;
	}
	return put_entry(pl, i, &want);
}

/* The set entry that has service id @id, or -1. */
struct id_ref {
	__u32 id;
	size_t i;
};

static int id_ref_cmp(const void *a, const void *b)
{
	const struct id_ref *x = a, *y = b;

	return u32_cmp(&x->id, &y->id);
}

static void mark_dirty(struct planner *pl, const struct id_ref *by_id, __u32 id)
{
	struct id_ref probe = { .id = id }, *f;

	f = pl->set->n ? bsearch(&probe, by_id, pl->set->n, sizeof(*by_id),
				 id_ref_cmp) :
			 NULL;
	if (f)
		pl->dirty[f->i] = true;
}

/* KEEP: what services outside the set hold stays theirs. */
static int keep_others(struct planner *pl)
{
	const struct zh_svc_ent *e;
	struct zh_svc_region reg;
	size_t i;

	if (!(pl->flags & ZH_SVC_PLAN_KEEP))
		return 0;
	for (i = 0; i < pl->st->n_svcs; i++) {
		e = &pl->cur[i];
		if (!ent_kept(pl, e))
			continue;
		if (push(&pl->keys, &pl->n_keys, &pl->cap_keys, &e->key,
			 sizeof(e->key)) ||
		    push(&pl->ids, &pl->n_ids, &pl->cap_ids, &e->val.id,
			 sizeof(e->val.id)))
			return -ENOMEM;
		reg = (struct zh_svc_region){ .off = e->val.table_off,
					      .size = e->val.table_size };
		if (reg.size && push(&pl->regions, &pl->n_regions,
				     &pl->cap_regions, &reg, sizeof(reg)))
			return -ENOMEM;
	}
	for (i = 0; i < pl->st->n_bes; i++)
		if (!touched(pl, pl->cur_be[i].be.svc_id) &&
		    push(&pl->be_final, &pl->n_be_final, &pl->cap_be_final,
			 &pl->cur_be[i].id, sizeof(__u32)))
			return -ENOMEM;
	return 0;
}

/* Entries, backends and ids the maps hold now but not afterwards. */
static int plan_removals(struct planner *pl)
{
	const struct zh_svc_state *st = pl->st;
	struct zh_svc_plan *p = pl->p;
	struct id_ref *by_id;
	size_t i, cap_gone = 0, cap_be = 0, cap_del = 0;
	int rc = -ENOMEM;

	by_id = malloc((pl->set->n + 1) * sizeof(*by_id));
	if (!by_id)
		return -ENOMEM;
	for (i = 0; i < pl->set->n; i++)
		by_id[i] = (struct id_ref){ .id = pl->set_id[i], .i = i };
	if (pl->set->n)
		qsort(by_id, pl->set->n, sizeof(*by_id), id_ref_cmp);
	if (pl->n_keys)
		qsort(pl->keys, pl->n_keys, sizeof(*pl->keys), key_cmp);
	pl->n_ids = u32_uniq(pl->ids, pl->n_ids);
	pl->n_be_final = u32_uniq(pl->be_final, pl->n_be_final);

	for (i = 0; i < st->n_svcs; i++) {
		const struct zh_svc_ent *e = &pl->cur[i];

		if (pl->n_keys && bsearch(&e->key, pl->keys, pl->n_keys,
					  sizeof(*pl->keys), key_cmp))
			continue;
		if (push(&p->svc_del, &p->n_svc_del, &cap_del, &e->key,
			 sizeof(e->key)))
			goto out;
		if (!key_is_nodeport(&e->key))
			p->r.removed++;
		mark_dirty(pl, by_id, e->val.id);
		if (!u32_has(pl->ids, pl->n_ids, e->val.id) &&
		    push(&p->gone_svc, &p->n_gone_svc, &cap_gone, &e->val.id,
			 sizeof(e->val.id)))
			goto out;
	}
	p->n_gone_svc = u32_uniq(p->gone_svc, p->n_gone_svc);

	for (i = 0; i < st->n_bes; i++) {
		const struct zh_be_ent *b = &pl->cur_be[i];

		if (u32_has(pl->be_final, pl->n_be_final, b->id))
			continue;
		if (push(&p->gone_be, &p->n_gone_be, &cap_be, b, sizeof(*b)))
			goto out;
		mark_dirty(pl, by_id, b->be.svc_id);
		p->r.be_removed++;
	}
	/* gone_be stays by identity (REV conntrack entries are found by
	 * address); be_del by id. */
	if (p->n_gone_be) {
		p->be_del = malloc(p->n_gone_be * sizeof(*p->be_del));
		if (!p->be_del)
			goto out;
		for (i = 0; i < p->n_gone_be; i++)
			p->be_del[i] = p->gone_be[i].id;
		p->n_be_del = u32_uniq(p->be_del, p->n_gone_be);
	}
	rc = 0;
out:
	free(by_id);
	return rc;
}

/* The maps must hold the old and the new entries at once. */
static int check_capacity(struct planner *pl)
{
	const struct zh_svc_state *st = pl->st;
	const struct zh_svc_plan *p = pl->p;
	size_t i, fresh = 0;

	for (i = 0; i < p->n_svc_put; i++)
		if (!ent_find(pl->cur, st->n_svcs, &p->svc_put[i].key))
			fresh++;
	if (st->n_svcs + fresh > st->max_svcs)
		return zh_errf(
			pl->err, pl->errlen, -ENOSPC,
			"zh_services: the apply needs %zu entries at once (%zu there, %zu new), the map holds %u",
			st->n_svcs + fresh, st->n_svcs, fresh, st->max_svcs);
	if (st->n_bes + p->r.be_added > st->max_bes)
		return zh_errf(
			pl->err, pl->errlen, -ENOSPC,
			"zh_backends: the apply needs %zu entries at once (%zu there, %zu new), the map holds %u",
			st->n_bes + p->r.be_added, st->n_bes, p->r.be_added,
			st->max_bes);
	return 0;
}

static int planner_init(struct planner *pl)
{
	const struct zh_svc_state *st = pl->st;
	struct zh_svc_region *used;
	size_t i, n = 0;
	int rc;

	if (st->n_svcs) {
		pl->cur = malloc(st->n_svcs * sizeof(*pl->cur));
		pl->svc_used = malloc(st->n_svcs * sizeof(*pl->svc_used));
		if (!pl->cur || !pl->svc_used)
			return -ENOMEM;
		memcpy(pl->cur, st->svcs, st->n_svcs * sizeof(*pl->cur));
		qsort(pl->cur, st->n_svcs, sizeof(*pl->cur), ent_key_cmp);
		for (i = 0; i < st->n_svcs; i++)
			pl->svc_used[i] = pl->cur[i].val.id;
	}
	if (st->n_bes) {
		pl->cur_be = malloc(st->n_bes * sizeof(*pl->cur_be));
		pl->be_used = malloc(st->n_bes * sizeof(*pl->be_used));
		if (!pl->cur_be || !pl->be_used)
			return -ENOMEM;
		memcpy(pl->cur_be, st->bes, st->n_bes * sizeof(*pl->cur_be));
		qsort(pl->cur_be, st->n_bes, sizeof(*pl->cur_be),
		      be_ent_ident_cmp);
		for (i = 0; i < st->n_bes; i++)
			pl->be_used[i] = pl->cur_be[i].id;
	}
	pl->svc_ids = (struct id_alloc){
		.used = pl->svc_used,
		.n = u32_uniq(pl->svc_used, st->n_svcs),
		.next = 1,
	};
	pl->be_ids = (struct id_alloc){
		.used = pl->be_used,
		.n = u32_uniq(pl->be_used, st->n_bes),
		.next = 1,
	};

	/* Every table an entry points at is in use until the apply ends. */
	used = malloc((st->n_svcs + 1) * sizeof(*used));
	if (!used)
		return -ENOMEM;
	for (i = 0; i < st->n_svcs; i++)
		if (st->svcs[i].val.table_size)
			used[n++] = (struct zh_svc_region){
				.off = st->svcs[i].val.table_off,
				.size = st->svcs[i].val.table_size,
			};
	rc = zh_slots_init(&pl->slots, used, n, st->slots);
	free(used);
	if (rc)
		return rc;

	/* Room for what the set will add: no copying as the arrays grow. */
	for (i = 0, n = 0; i < pl->set->n; i++)
		n += pl->set->svcs[i].n_backends;
	if (!reserve(&pl->p->be_put, &pl->cap_be_put, n,
		     sizeof(*pl->p->be_put)) ||
	    !reserve(&pl->be_final, &pl->cap_be_final, n + st->n_bes,
		     sizeof(*pl->be_final)) ||
	    !reserve(&pl->p->tables, &pl->cap_tables, pl->set->n,
		     sizeof(*pl->p->tables)) ||
	    !reserve(&pl->p->svc_put, &pl->cap_svc_put, 2 * pl->set->n,
		     sizeof(*pl->p->svc_put)) ||
	    !reserve(&pl->keys, &pl->cap_keys, 2 * pl->set->n + st->n_svcs,
		     sizeof(*pl->keys)) ||
	    !reserve(&pl->ids, &pl->cap_ids, pl->set->n + st->n_svcs,
		     sizeof(*pl->ids)) ||
	    !reserve(&pl->regions, &pl->cap_regions, pl->set->n + st->n_svcs,
		     sizeof(*pl->regions)))
		return -ENOMEM;

	pl->set_id = calloc(pl->set->n + 1, sizeof(*pl->set_id));
	pl->dirty = calloc(pl->set->n + 1, sizeof(*pl->dirty));
	pl->existed = calloc(pl->set->n + 1, sizeof(*pl->existed));
	if (!pl->set_id || !pl->dirty || !pl->existed)
		return -ENOMEM;
	return 0;
}

static void planner_free(struct planner *pl)
{
	free(pl->cur);
	free(pl->cur_be);
	free(pl->touched);
	free(pl->svc_used);
	free(pl->be_used);
	zh_slots_free(&pl->slots);
	free(pl->keys);
	free(pl->ids);
	free(pl->be_final);
	free(pl->regions);
	free(pl->set_id);
	free(pl->dirty);
	free(pl->existed);
	free(pl->tbl);
	free(pl->old_tbl);
	free(pl->mb);
	free(pl->mkeys);
	free(pl->ready_idx);
	free(pl->be_id);
}

/*
 * Room for every table the set may write out (no more than zh_maglev
 * holds): growing tens of MB by doubling costs more than planning them.
 * Tables of one backend are not written out.
 */
static int reserve_tables(struct planner *pl)
{
	__u64 total = 0;
	size_t i, j, n;

	for (i = 0; i < pl->set->n && total < pl->st->slots; i++) {
		const struct zh_service *s = &pl->set->svcs[i];

		for (j = 0, n = 0; j < s->n_backends; j++)
			n += s->backends[j].state == ZH_EP_READY &&
			     s->backends[j].weight;
		if (n > 1)
			total += zh_svc_table_size_per(n, pl->st->per_backend);
	}
	if (total > pl->st->slots)
		total = pl->st->slots;
	return total && !grow_ids(pl->p, &pl->cap_table_ids, (size_t)total) ?
		       -ENOMEM :
		       0;
}

int zh_svc_plan(const struct zh_svc_state *st, const struct zh_svc_set *set,
		const struct zh_service *del, size_t n_del, unsigned int flags,
		const struct zh_svc_table_ops *tables, struct zh_svc_plan *p,
		char *err, size_t errlen)
{
	static const struct zh_svc_set empty;
	struct planner pl = {
		.st = st,
		.set = set ? set : &empty,
		.flags = flags,
		.tables = tables,
		.p = p,
		.err = err,
		.errlen = errlen,
	};
	size_t i;
	int rc;

	memset(p, 0, sizeof(*p));
	if (err && errlen)
		err[0] = '\0';
	if (n_del && !(flags & ZH_SVC_PLAN_KEEP))
		return zh_errf(err, errlen, -EINVAL,
			       "removing by name needs ZH_SVC_PLAN_KEEP");
	rc = check_set(&pl);
	if (!rc)
		rc = planner_init(&pl);
	if (!rc && (flags & ZH_SVC_PLAN_KEEP)) {
		rc = find_touched(&pl, del, n_del);
		if (!rc)
			rc = check_kept_nodeports(&pl);
	}
	if (!rc)
		rc = reserve_tables(&pl);
	for (i = 0; !rc && i < pl.set->n; i++)
		rc = plan_service(&pl, i);
	if (!rc)
		rc = keep_others(&pl);
	if (!rc)
		rc = plan_removals(&pl);
	if (!rc)
		rc = check_capacity(&pl);
	if (rc)
		goto out;

	for (i = 0; i < pl.set->n; i++) {
		if (!pl.existed[i])
			p->r.added++;
		else if (pl.dirty[i])
			p->r.updated++;
		else
			p->r.unchanged++;
	}
	p->r.slots_used = regions_span(pl.regions, pl.n_regions);
	p->r.slots_total = st->slots;
out:
	planner_free(&pl);
	if (rc) {
		if (rc == -ENOMEM)
			zh_errf(err, errlen, rc, "out of memory");
		zh_svc_plan_free(p);
	}
	return rc;
}

void zh_svc_plan_free(struct zh_svc_plan *p)
{
	if (!p)
		return;
	free(p->be_put);
	free(p->tables);
	free(p->table_ids);
	free(p->svc_put);
	free(p->svc_del);
	free(p->be_del);
	free(p->gone_svc);
	free(p->gone_be);
	memset(p, 0, sizeof(*p));
}

/* --- conntrack and affinity ------------------------------------------------ */

bool zh_svc_ct_stale(const struct zh_svc_plan *p, const struct zh_ct_key *key,
		     const struct zh_ct *ct)
{
	struct zh_be_ent probe = { 0 };

	if (u32_has(p->gone_svc, p->n_gone_svc, ct->svc_id))
		return true;
	if (ct->backend_id && u32_has(p->be_del, p->n_be_del, ct->backend_id))
		return true;
	if (key->dir != ZH_CT_REV || !p->n_gone_be)
		return false;
	/* backend -> client: the backend is the source. */
	probe.be.svc_id = ct->svc_id;
	probe.be.family = key->family;
	probe.be.port = key->sport;
	memcpy(probe.be.addr, key->saddr, sizeof(probe.be.addr));
	return bsearch(&probe, p->gone_be, p->n_gone_be, sizeof(probe),
		       be_ent_ident_cmp);
}

bool zh_svc_affinity_stale(const struct zh_svc_plan *p,
			   const struct zh_affinity_key *key,
			   const struct zh_affinity *aff)
{
	return u32_has(p->gone_svc, p->n_gone_svc, key->svc_id) ||
	       u32_has(p->be_del, p->n_be_del, aff->backend_id);
}

/* --- the maps back into a set --------------------------------------------- */

static void addr_from(struct zh_addr *a, __u8 family, const __u32 addr[4])
{
	memset(a, 0, sizeof(*a));
	a->family = family == ZH_AF_INET6 ? AF_INET6 : AF_INET;
	memcpy(a->raw, addr, (size_t)zh_addr_len(a->family));
	a->prefix = zh_addr_len(a->family) * 8;
}

/* By family, address, port, protocol: how `service list` reads. */
static int vip_order_cmp(const void *a, const void *b)
{
	const struct zh_svc_key *x = &((const struct zh_svc_ent *)a)->key;
	const struct zh_svc_key *y = &((const struct zh_svc_ent *)b)->key;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (c)
		return c;
	if (x->port != y->port)
		return ntohs(x->port) < ntohs(y->port) ? -1 : 1;
	return (x->proto > y->proto) - (x->proto < y->proto);
}

/* By service, then address and port. */
static int be_out_cmp(const void *a, const void *b)
{
	const struct zh_backend *x = &((const struct zh_be_ent *)a)->be;
	const struct zh_backend *y = &((const struct zh_be_ent *)b)->be;
	int c;

	if (x->svc_id != y->svc_id)
		return x->svc_id < y->svc_id ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (c)
		return c;
	return (ntohs(x->port) > ntohs(y->port)) -
	       (ntohs(x->port) < ntohs(y->port));
}

void zh_svc_info_free(struct zh_svc_info *info, size_t n)
{
	size_t i;

	if (!info)
		return;
	for (i = 0; i < n; i++) {
		free(info[i].backend_id);
		free(info[i].backend_slots);
	}
	free(info);
}

/* Slots per backend of @v's table; unreadable: left 0, *known false. */
static int count_slots(const struct zh_svc_state *st,
		       const struct zh_svc_table_ops *tables,
		       const struct zh_svc_ent *v, const struct zh_be_ent *be,
		       size_t n, __u32 *slots, bool *known)
{
	struct id_ref *idx = NULL, probe, *f = NULL;
	__u32 *tbl, k;
	size_t j;
	int rc;

	*known = !v->val.table_size;
	if (!v->val.table_size || !tables || !tables->read ||
	    (__u64)v->val.table_off + v->val.table_size > st->slots)
		return 0;
	tbl = malloc(v->val.table_size * sizeof(*tbl));
	idx = malloc((n + 1) * sizeof(*idx));
	if (!tbl || !idx) {
		rc = -ENOMEM;
		goto out;
	}
	rc = tables->read(tables->arg, v->val.table_off, v->val.table_size,
			  tbl);
	if (rc)
		goto out;
	for (j = 0; j < n; j++)
		idx[j] = (struct id_ref){ .id = be[j].id, .i = j };
	qsort(idx, n, sizeof(*idx), id_ref_cmp);
	for (k = 0; k < v->val.table_size; k++) {
		/* Runs of one backend are common: look up changes only. */
		if (!k || tbl[k] != tbl[k - 1]) {
			probe.id = tbl[k];
			f = n ? bsearch(&probe, idx, n, sizeof(*idx),
					id_ref_cmp) :
				NULL;
		}
		if (f)
			slots[f->i]++;
	}
	*known = true;
out:
	free(idx);
	free(tbl);
	return rc;
}

int zh_svc_state_to_set(const struct zh_svc_state *st,
			const struct zh_svc_table_ops *tables,
			struct zh_svc_set *out, struct zh_svc_info **info)
{
	struct zh_svc_ent *vips = NULL, *nps = NULL;
	struct zh_be_ent *bes = NULL;
	struct zh_svc_info *inf = NULL;
	size_t i, j, nv = 0, nn = 0, lo, hi, n;
	int rc = -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (info)
		*info = NULL;
	vips = malloc((st->n_svcs + 1) * sizeof(*vips));
	nps = malloc((st->n_svcs + 1) * sizeof(*nps));
	bes = malloc((st->n_bes + 1) * sizeof(*bes));
	if (!vips || !nps || !bes)
		goto out;
	for (i = 0; i < st->n_svcs; i++) {
		if (key_is_nodeport(&st->svcs[i].key))
			nps[nn++] = st->svcs[i];
		else
			vips[nv++] = st->svcs[i];
	}
	qsort(vips, nv, sizeof(*vips), vip_order_cmp);
	qsort(nps, nn, sizeof(*nps), ent_id_cmp);
	memcpy(bes, st->bes, st->n_bes * sizeof(*bes));
	qsort(bes, st->n_bes, sizeof(*bes), be_out_cmp);

	out->svcs = calloc(nv + 1, sizeof(*out->svcs));
	inf = calloc(nv + 1, sizeof(*inf));
	if (!out->svcs || !inf)
		goto out;
	for (i = 0; i < nv; i++) {
		const struct zh_svc_ent *v = &vips[i];
		struct zh_service *s = &out->svcs[i];
		const struct zh_svc_ent *np;
		bool known;

		out->n++;
		addr_from(&s->vip, v->key.family, v->key.addr);
		s->port = ntohs(v->key.port);
		s->proto = v->key.proto;
		s->affinity_timeout = v->val.affinity_s;
		zh_svc_addr_str(&s->vip, s->port, s->proto, s->name,
				sizeof(s->name));
		for (lo = 0, hi = nn; lo < hi;) {
			size_t mid = lo + (hi - lo) / 2;

			if (nps[mid].val.id < v->val.id)
				lo = mid + 1;
			else
				hi = mid;
		}
		np = lo < nn && nps[lo].val.id == v->val.id ? &nps[lo] : NULL;
		if (np) {
			s->nodeport = ntohs(np->key.port);
			s->etp_local = np->val.flags & ZH_SVC_F_ETP_LOCAL;
		}

		for (lo = 0, hi = st->n_bes; lo < hi;) {
			size_t mid = lo + (hi - lo) / 2;

			if (bes[mid].be.svc_id < v->val.id)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (n = 0;
		     lo + n < st->n_bes && bes[lo + n].be.svc_id == v->val.id;
		     n++)
			;
		inf[i].id = v->val.id;
		inf[i].table_off = v->val.table_off;
		inf[i].table_size = v->val.table_size;
		s->backends = calloc(n + 1, sizeof(*s->backends));
		inf[i].backend_id = calloc(n + 1, sizeof(__u32));
		inf[i].backend_slots = calloc(n + 1, sizeof(__u32));
		if (!s->backends || !inf[i].backend_id || !inf[i].backend_slots)
			goto out;
		s->n_backends = n;
		rc = count_slots(st, tables, v, &bes[lo], n,
				 inf[i].backend_slots, &known);
		if (rc)
			goto out;
		rc = -ENOMEM;
		for (j = 0; j < n; j++) {
			const struct zh_backend *b = &bes[lo + j].be;
			struct zh_svc_backend *sb = &s->backends[j];

			addr_from(&sb->addr, b->family, b->addr);
			sb->port = ntohs(b->port);
			sb->state = b->flags & ZH_BE_F_TERMINATING ?
					    ZH_EP_TERMINATING :
					    ZH_EP_READY;
			sb->weight = sb->state == ZH_EP_READY && known &&
						     !inf[i].backend_slots[j] ?
					     0 :
					     1;
			inf[i].backend_id[j] = bes[lo + j].id;
		}
	}
	rc = 0;
out:
	if (rc || !info)
		zh_svc_info_free(inf, nv);
	else
		*info = inf;
	if (rc)
		zh_svc_set_free(out);
	free(vips);
	free(nps);
	free(bes);
	return rc;
}
