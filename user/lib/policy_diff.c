// SPDX-License-Identifier: Apache-2.0
/*
 * policy_diff.c - the writes that take the policy maps from one compiled
 * model to the next, make before break (NETWORKPOLICY-NOTES 6.5; the
 * lessons of cilium PRs 5115 and 28652):
 *
 *   1. port bitmaps, then cells, that are new or changed: nothing points
 *      at a new class, identity or bitmap number yet (the compiler never
 *      gives a new meaning a number the old model used), and a changed
 *      cell is one update;
 *   2. the ipcache (hash, then LPM) and the endpoints repointed: every
 *      cell they can now reach exists;
 *   3. the epoch bumped if any write so far, or any delete to come, may
 *      have removed access, so that established flows are judged again
 *      (a conservative test: a cell that lost a port or went, an address
 *      that changed identity or went, an endpoint that changed class,
 *      became isolated or stopped auditing);
 *   4. deletes: endpoints, addresses, prefixes, cells, bitmaps that the
 *      new model does not have; nothing points at them any more.
 *
 * Transitional identities (trans_build()). A verdict reads one class
 * (zh_pol_eps) and one identity (zh_ipcache), written one entry at a
 * time: when one change gives both an endpoint a new class and a peer
 * address a new identity, some write comes between the two, and there
 * the datapath asks the old class about the new identity (ipcache
 * first) or the new class about the old one (endpoints first). Neither
 * knows the other's number, so the pair found no cell and was denied,
 * though allowed before and after. No order of the two writes avoids
 * it, and stable numbers cannot either (a number keeps its meaning: a
 * peer whose signature changed needs a new one). So, when any endpoint
 * changes class, every address that changes identity, appears or goes
 * goes through a number of its own first, T, one per (old identity, new
 * identity) pair, that every class can answer for exactly:
 *
 *   1'. cells {C, T}: for C the new model no longer has (or that loses
 *       endpoints and gains none) a copy of C's old cell for the old
 *       identity; for any other C, of C's new cell for the new identity
 *       (where C has no such cell, no copy: the wildcard answers for T as
 *       it did for the identity);
 *   2'. the address -> T; then the endpoints (an endpoint on its old
 *       class reads the old answer, on its new class the new one); then
 *       the address -> its new identity (or deleted, in 4);
 *   4'. the cells of T deleted, before the other cells and bitmaps.
 *
 * ipBlock prefixes alike: the prefixes of both models together split
 * the addresses outside the ipcache into regions of one old and one new
 * identity each (any prefix of either model that holds an address holds
 * its region's prefix), so every prefix goes to the T of its region's
 * pair where the two differ, and after the endpoints to its region's new
 * identity (a prefix the new model drops too, so that its delete in 4
 * changes nothing).
 *
 * So every pair (endpoint, address) reads its old verdict or its new one
 * at every write; nothing allowed before and after is denied on the way,
 * nothing denied before and after allowed. T numbers are past every
 * identity either model uses, and gone when the writes end (the next
 * compile may give them a meaning). The cost: two ipcache (or LPM)
 * writes per such address (or prefix), and the T cells, which must fit
 * beside the old and new cells (ZH_MAX_POLICY): when they do not, there
 * are none, the order is the old one (the window comes back) and it is
 * logged. Not covered: an endpoint that moves between two classes that
 * both models have while the class it leaves also gains endpoints: until
 * its own write it reads the newcomers' answer (a namespace's labels can
 * do that, or a policy whose podSelector moves pods both ways between two
 * classes that both models keep); and the two local ends of one flow
 * whose entries both change (two writes: one end's old state and the
 * other's new one may together allow what neither model does).
 * The epoch logic is unchanged: T writes remove nothing that the change
 * itself does not (a T cell is exactly an old or a new verdict).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy.h"
#include "vec.h"

struct oplist {
	struct zh_pol_op *v;
	size_t n, cap;
};

static struct zh_pol_op *op_new(struct oplist *l, enum zh_pol_op_type t)
{
	if (zh_vec_room(l->v, l->n, l->cap, 64))
		return NULL;
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	l->v[l->n].type = t;
	return &l->v[l->n++];
}

const char *zh_pol_op_name(enum zh_pol_op_type t)
{
	static const char *const names[] = {
		[ZH_POL_OP_PORTS_PUT] = "ports_put",
		[ZH_POL_OP_NPCTR_ZERO] = "npctr_zero",
		[ZH_POL_OP_CLASSCTR_ZERO] = "classctr_zero",
		[ZH_POL_OP_CELL_PUT] = "cell_put",
		[ZH_POL_OP_IPC_PUT] = "ipcache_put",
		[ZH_POL_OP_LPM_PUT] = "lpm_put",
		[ZH_POL_OP_EP_PUT] = "endpoint_put",
		[ZH_POL_OP_EPOCH_BUMP] = "epoch_bump",
		[ZH_POL_OP_EP_DEL] = "endpoint_del",
		[ZH_POL_OP_IPC_DEL] = "ipcache_del",
		[ZH_POL_OP_LPM_DEL] = "lpm_del",
		[ZH_POL_OP_CELL_DEL] = "cell_del",
		[ZH_POL_OP_PORTS_DEL] = "ports_del",
	};

	return (unsigned int)t < sizeof(names) / sizeof(*names) && names[t] ?
		       names[t] :
		       "?";
}

static int cmp_polkey(const struct zh_pol_key *x, const struct zh_pol_key *y)
{
	if (x->class != y->class)
		return x->class < y->class ? -1 : 1;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return (x->identity > y->identity) - (x->identity < y->identity);
}

static bool iv_has(const struct zh_pol_cell_ent *e, uint32_t p)
{
	if (e->val.flags & ZH_POL_CELL_F_BITMAP)
		return (e->ports->bits[p / 64] >> (p % 64)) & 1;
	for (int i = 0; i < e->val.n && i < ZH_POL_CELL_IVS; i++)
		if (p >= e->val.iv[i].lo && p <= e->val.iv[i].hi)
			return true;
	return false;
}

/* Every port @old allows, @new allows. */
static bool cell_covers(const struct zh_pol_cell_ent *new,
			const struct zh_pol_cell_ent *old)
{
	if (!(old->val.flags & ZH_POL_CELL_F_BITMAP) &&
	    !(new->val.flags &ZH_POL_CELL_F_BITMAP)) {
		/* Each old interval inside one new interval (both are
		 * merged: adjacent ones are one). */
		for (int i = 0; i < old->val.n; i++) {
			bool in = false;

			for (int j = 0; !in && j < new->val.n; j++)
				in = old->val.iv[i].lo >= new->val.iv[j].lo &&
				     old->val.iv[i].hi <= new->val.iv[j].hi;
			if (!in)
				return false;
		}
		return true;
	}
	for (uint32_t p = 0; p < 65536; p++)
		if (iv_has(old, p) && !iv_has(new, p))
			return false;
	return true;
}

/* The cell a lookup of @k in @m would use for an identity without a cell
 * of its own is the wildcard; a flag change on the wildcard cell can make
 * identity cells appear or go: those are puts and deletes of their own. */
static bool cell_same(const struct zh_pol_cell_ent *a,
		      const struct zh_pol_cell_ent *b)
{
	if (memcmp(&a->val, &b->val, sizeof(a->val)))
		return false;
	if (a->val.flags & ZH_POL_CELL_F_BITMAP)
		return !memcmp(a->ports, b->ports, sizeof(*a->ports));
	return true;
}

/* --- transitional identities (see the top of the file) ------------------ */

/* What an address reads, old and new, without (0) and with (1) the LPM. */
struct trans_id {
	uint32_t o[2], n[2];
};

struct trans_addr {
	struct zh_ep_key key;
	uint32_t t; /* its T */
};

/* An LPM prefix of either model: through T (@t, 0: not) to @fin. */
struct trans_pfx {
	struct zh_ipc_lpm_key key;
	uint32_t t, fin;
};

struct trans {
	struct trans_id *ids; /* T = base + index */
	size_t n_ids, cap_ids;
	struct trans_addr *addrs; /* by key */
	size_t n_addrs, cap_addrs;
	struct trans_pfx *pfx; /* by key */
	size_t n_pfx, cap_pfx;
	struct zh_pol_cell_ent *cells; /* by key */
	size_t n_cells, cap_cells;
	uint32_t base;
};

static void trans_free(struct trans *t)
{
	free(t->ids);
	free(t->addrs);
	free(t->pfx);
	free(t->cells);
}

static const struct zh_pol_class *class_find(const struct zh_pol_model *m,
					     uint16_t id, uint8_t dir)
{
	size_t lo = 0, hi = m->n_classes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->classes[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < m->n_classes && m->classes[lo].id == id; lo++)
		if (m->classes[lo].dir == dir)
			return &m->classes[lo];
	return NULL;
}

static const struct zh_pol_cell_ent *cell_at(const struct zh_pol_model *m,
					     const struct zh_pol_key *k)
{
	size_t lo = 0, hi = m->n_cells;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_polkey(&m->cells[mid].key, k);

		if (!c)
			return &m->cells[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int cmp_cell_ent(const void *a, const void *b)
{
	return cmp_polkey(&((const struct zh_pol_cell_ent *)a)->key,
			  &((const struct zh_pol_cell_ent *)b)->key);
}

/* Classes (per direction) that endpoints leave, and that they join (a
 * new endpoint joins its classes). */
struct moves {
	uint8_t *v; /* [dir * ZH_MAX_POL_CLASSES + class]: 1 leave, 2 join */
};

static void moves_mark(struct moves *mv, const struct zh_pol_ep *ov,
		       const struct zh_pol_ep *nv)
{
	if (!ov || ov->class_in != nv->class_in) {
		if (ov && ov->class_in)
			mv->v[ZH_POL_INGRESS * ZH_MAX_POL_CLASSES +
			      ov->class_in] |= 1;
		if (nv->class_in)
			mv->v[ZH_POL_INGRESS * ZH_MAX_POL_CLASSES +
			      nv->class_in] |= 2;
	}
	if (!ov || ov->class_eg != nv->class_eg) {
		if (ov && ov->class_eg)
			mv->v[ZH_POL_EGRESS * ZH_MAX_POL_CLASSES +
			      ov->class_eg] |= 1;
		if (nv->class_eg)
			mv->v[ZH_POL_EGRESS * ZH_MAX_POL_CLASSES +
			      nv->class_eg] |= 2;
	}
}

/* A (class, dir, proto) that T cells are written for, and where they
 * are copied from: @old's cell for the old identity, or @new's for the
 * new one (with the LPM or not, as the class reads). */
struct trans_row {
	struct zh_pol_key key; /* identity ignored */
	bool from_old;
	bool cidr;
};

static int trans_row_add(struct trans_row **v, size_t *n, size_t *cap,
			 const struct zh_pol_model *old,
			 const struct zh_pol_model *new, const struct moves *mv,
			 const struct zh_pol_key *k)
{
	const struct zh_pol_class *cn = class_find(new, k->class, k->dir);
	const struct zh_pol_class *co = class_find(old, k->class, k->dir);
	uint8_t f = mv->v[k->dir * ZH_MAX_POL_CLASSES + k->class];
	struct trans_row *r;

	if (!cn && !co)
		return 0;
	if (zh_vec_room(*v, *n, *cap, 64))
		return -ENOMEM;
	r = &(*v)[(*n)++];
	r->key = *k;
	r->key.identity = ZH_POL_ID_ANY;
	/* Old: a class the new model does not have, or that only loses
	 * endpoints; else new. */
	r->from_old = !cn || (co && f == 1);
	r->cidr = r->from_old ? co->cidr : cn->cidr;
	return 0;
}

/* The identity that @m's LPM gives the addresses of prefix @p: its
 * longest prefix that holds @p (WORLD when none). */
static uint32_t pfx_identity(const struct zh_pol_model *m,
			     const struct zh_ipc_lpm_key *p)
{
	const struct zh_pol_lpm_ent *best = NULL;

	for (size_t i = 0; i < m->n_lpm; i++) {
		const struct zh_pol_lpm_ent *e = &m->lpm[i];
		const uint8_t *a = (const uint8_t *)e->key.addr;
		const uint8_t *b = (const uint8_t *)p->addr;
		uint32_t bits = e->key.prefixlen - 32, k;

		if (e->key.family != p->family ||
		    e->key.prefixlen > p->prefixlen || e->key.prefixlen < 32 ||
		    (best && best->key.prefixlen >= e->key.prefixlen))
			continue;
		for (k = 0; k + 8 <= bits && a[k / 8] == b[k / 8]; k += 8)
			;
		if (k + 8 <= bits)
			continue;
		if (bits % 8 && k / 8 < 16 &&
		    ((a[k / 8] ^ b[k / 8]) & (0xff00 >> (bits % 8)) & 0xff))
			continue;
		best = e;
	}
	return best ? best->identity : ZH_POL_ID_WORLD;
}

static int trans_id_of(struct trans *t, const struct trans_id *ti,
		       uint32_t *out)
{
	for (size_t i = 0; i < t->n_ids; i++)
		if (!memcmp(&t->ids[i], ti, sizeof(*ti))) {
			*out = t->base + (uint32_t)i;
			return 0;
		}
	if (zh_vec_room(t->ids, t->n_ids, t->cap_ids, 16))
		return -ENOMEM;
	t->ids[t->n_ids] = *ti;
	*out = t->base + (uint32_t)t->n_ids++;
	return 0;
}

/*
 * The T numbers, the addresses that go through them and T's cells; none
 * (t->n_addrs 0) when no endpoint changes class or they would not fit
 * beside @in_maps cells. 0 or -ENOMEM.
 */
static int trans_build(const struct zh_pol_model *old,
		       const struct zh_pol_model *new, size_t in_maps,
		       struct trans *t)
{
	struct moves mv = { 0 };
	struct trans_row *rows = NULL;
	size_t n_rows = 0, cap_rows = 0;
	bool moved = false;
	uint32_t max = ZH_POL_ID_FIRST;
	size_t i, j;
	int err = -ENOMEM;

	/* Does any endpoint the maps hold change class? */
	for (i = 0, j = 0; j < new->n_eps && !moved; j++) {
		int c = 1;

		while (i < old->n_eps &&
		       (c = memcmp(&old->eps[i].key, &new->eps[j].key,
				   sizeof(new->eps[j].key))) < 0)
			i++;
		moved = i < old->n_eps && !c &&
			(old->eps[i].val.class_in != new->eps[j].val.class_in ||
			 old->eps[i].val.class_eg != new->eps[j].val.class_eg ||
			 ((old->eps[i].val.flags ^ new->eps[j].val.flags) &
			  (ZH_POL_EP_F_CIDR_IN | ZH_POL_EP_F_CIDR_EG)));
	}
	if (!moved)
		return 0;
	for (i = 0; i < old->n_ids; i++)
		max = old->ids[i].id > max ? old->ids[i].id : max;
	for (i = 0; i < new->n_ids; i++)
		max = new->ids[i].id > max ? new->ids[i].id : max;
	/* (ipcache entries past the identities' bound are WORLD) */
	if (max > UINT32_MAX / 2)
		return 0;
	t->base = max + 1;

	/* The addresses: changed, new, gone. */
	for (i = 0, j = 0; i < old->n_ipc || j < new->n_ipc;) {
		const struct zh_ep_key *k;
		struct trans_id ti;
		struct trans_addr *a;
		int c = i == old->n_ipc ? 1 :
			j == new->n_ipc ? -1 :
					  memcmp(&old->ipc[i].key,
						 &new->ipc[j].key,
						 sizeof(new->ipc[j].key));

		k = c <= 0 ? &old->ipc[i].key : &new->ipc[j].key;
		if (!c && old->ipc[i].identity == new->ipc[j].identity) {
			i++;
			j++;
			continue;
		}
		ti.o[0] = zh_pol_identity_of(old, k, false);
		ti.o[1] = zh_pol_identity_of(old, k, true);
		ti.n[0] = zh_pol_identity_of(new, k, false);
		ti.n[1] = zh_pol_identity_of(new, k, true);
		if (zh_vec_room(t->addrs, t->n_addrs, t->cap_addrs, 64))
			goto out;
		a = &t->addrs[t->n_addrs++];
		memset(a, 0, sizeof(*a));
		a->key = *k;
		if (trans_id_of(t, &ti, &a->t))
			goto out;
		i += c <= 0;
		j += c >= 0;
	}

	/* The prefixes, of either model: an address whose longest prefix of
	 * the two together is P has P's old and new identities (any prefix
	 * of one model that holds the address holds P). Through T where
	 * they differ; every prefix then (2') the new identity of its
	 * addresses, so that the deletes of 4 change nothing. */
	for (i = 0, j = 0; i < old->n_lpm || j < new->n_lpm;) {
		const struct zh_ipc_lpm_key *k;
		struct trans_id ti = { .o = { ZH_POL_ID_WORLD },
				       .n = { ZH_POL_ID_WORLD } };
		struct trans_pfx *x;
		int c = i == old->n_lpm ? 1 :
			j == new->n_lpm ? -1 :
					  memcmp(&old->lpm[i].key,
						 &new->lpm[j].key,
						 sizeof(new->lpm[j].key));

		k = c <= 0 ? &old->lpm[i].key : &new->lpm[j].key;
		ti.o[1] = pfx_identity(old, k);
		ti.n[1] = pfx_identity(new, k);
		i += c <= 0;
		j += c >= 0;
		/* Unchanged, or its old value already the new one. */
		if (ti.o[1] == ti.n[1] && c <= 0)
			continue;
		if (zh_vec_room(t->pfx, t->n_pfx, t->cap_pfx, 64))
			goto out;
		x = &t->pfx[t->n_pfx++];
		memset(x, 0, sizeof(*x));
		x->key = *k;
		x->fin = ti.n[1];
		if (ti.o[1] != ti.n[1] && trans_id_of(t, &ti, &x->t))
			goto out;
	}

	/* Which classes lose endpoints, and which gain some. */
	mv.v = calloc(2 * ZH_MAX_POL_CLASSES, 1);
	if (!mv.v)
		goto out;
	for (i = 0, j = 0; j < new->n_eps; j++) {
		int c = 1;

		while (i < old->n_eps &&
		       (c = memcmp(&old->eps[i].key, &new->eps[j].key,
				   sizeof(new->eps[j].key))) < 0)
			i++;
		moves_mark(&mv, i < old->n_eps && !c ? &old->eps[i].val : NULL,
			   &new->eps[j].val);
	}

	/* The (class, dir, proto) of either model's cells, once per model
	 * (the first of its cells; a class both have is one, from one of
	 * them, however often listed); then per T, a copy of the cell that
	 * the row's class answers T with. */
	for (int side = 0; side < 2; side++) {
		const struct zh_pol_model *m = side ? new : old;

		for (i = 0; i < m->n_cells; i++) {
			const struct zh_pol_key *k = &m->cells[i].key;

			if (i && m->cells[i - 1].key.class == k->class &&
			    m->cells[i - 1].key.dir == k->dir &&
			    m->cells[i - 1].key.proto == k->proto)
				continue;
			if (trans_row_add(&rows, &n_rows, &cap_rows, old, new,
					  &mv, k))
				goto out;
		}
	}
	for (size_t x = 0; x < t->n_ids; x++) {
		for (i = 0; i < n_rows; i++) {
			const struct zh_pol_cell_ent *src;
			struct zh_pol_cell_ent *e;
			struct zh_pol_key q = rows[i].key;

			q.identity = rows[i].from_old ?
					     t->ids[x].o[rows[i].cidr] :
					     t->ids[x].n[rows[i].cidr];
			src = cell_at(rows[i].from_old ? old : new, &q);
			if (!src)
				continue;
			if (zh_vec_room(t->cells, t->n_cells, t->cap_cells, 64))
				goto out;
			e = &t->cells[t->n_cells++];
			*e = *src;
			e->key.identity = t->base + (uint32_t)x;
		}
	}
	if (t->n_cells)
		qsort(t->cells, t->n_cells, sizeof(*t->cells), cmp_cell_ent);
	for (i = 0, j = 0; i < t->n_cells; i++)
		if (!j || cmp_polkey(&t->cells[j - 1].key, &t->cells[i].key))
			t->cells[j++] = t->cells[i];
	t->n_cells = j;
	err = 0;
	if (in_maps + t->n_cells > ZH_MAX_POLICY) {
		pr_warn("policy: %zu transitional cells do not fit beside %zu: endpoints and identities that change together may deny on the way (fails closed)\n",
			t->n_cells, in_maps);
		t->n_addrs = 0;
		t->n_pfx = 0;
		t->n_cells = 0;
	}
out:
	free(rows);
	free(mv.v);
	return err;
}

int zh_pol_diff(const struct zh_pol_model *old, const struct zh_pol_model *new,
		struct zh_pol_op **ops, size_t *n_ops)
{
	static const struct zh_pol_model empty;
	struct oplist l = { 0 };
	struct trans t = { 0 };
	bool removed = false;
	struct zh_pol_op *op;
	size_t i, j, added = 0, ipc_at, ipc_end;

	if (!old)
		old = &empty;
	*ops = NULL;
	*n_ops = 0;

	/* 0. The counters of policy numbers new to @new (or that meant
	 * another policy in @old) zeroed, before any cell credits them:
	 * nothing counts there since @old (a new number is one @old did
	 * not use). */
	for (j = 0; j < new->n_nums; j++) {
		const struct zh_pol_num *n = &new->nums[j];

		if (!n->id || zh_pol_num_of(old, n->key) == n->id)
			continue;
		op = op_new(&l, ZH_POL_OP_NPCTR_ZERO);
		if (!op)
			goto err_nomem;
		op->npctr = n->id;
	}
	/* ... and of classes (zh_polctr, per-policy denials): a class
	 * number of @old keeps its meaning in @new. */
	for (i = 0, j = 0; j < new->n_classes; j++) {
		const struct zh_pol_class *n = &new->classes[j];

		while (i < old->n_classes && old->classes[i].id < n->id)
			i++;
		if (i < old->n_classes && old->classes[i].id == n->id &&
		    !memcmp(old->classes[i].sig, n->sig, sizeof(n->sig)))
			continue;
		op = op_new(&l, ZH_POL_OP_CLASSCTR_ZERO);
		if (!op)
			goto err_nomem;
		op->npctr = n->id;
	}

	/* 1. Bitmaps and cells, new or changed. */
	for (i = 0, j = 0; j < new->n_cells; j++) {
		const struct zh_pol_cell_ent *n = &new->cells[j];
		const struct zh_pol_cell_ent *o = NULL;

		while (i < old->n_cells &&
		       cmp_polkey(&old->cells[i].key, &n->key) < 0)
			i++;
		if (i < old->n_cells &&
		    !cmp_polkey(&old->cells[i].key, &n->key))
			o = &old->cells[i];
		if (o && cell_same(o, n))
			continue;
		if (o && !cell_covers(n, o))
			removed = true;
		added += !o;
		if ((n->val.flags & ZH_POL_CELL_F_BITMAP) &&
		    !(o && (o->val.flags & ZH_POL_CELL_F_BITMAP) &&
		      o->val.bitmap == n->val.bitmap)) {
			op = op_new(&l, ZH_POL_OP_PORTS_PUT);
			if (!op)
				goto err_nomem;
			op->ports.idx = n->val.bitmap;
			op->ports.ports = n->ports;
		}
		op = op_new(&l, ZH_POL_OP_CELL_PUT);
		if (!op)
			goto err_nomem;
		op->cell.key = n->key;
		op->cell.val = n->val;
	}

	/* 1'. The cells of the transitional identities. */
	if (trans_build(old, new, old->n_cells + added, &t))
		goto err_nomem;
	for (i = 0; i < t.n_cells; i++) {
		op = op_new(&l, ZH_POL_OP_CELL_PUT);
		if (!op)
			goto err_nomem;
		op->cell.key = t.cells[i].key;
		op->cell.val = t.cells[i].val;
	}

	/* 2. Repointing: the ipcache (2': the addresses that change through
	 * their T first, their new identities after the endpoints), the
	 * LPM, the endpoints. */
	for (i = 0; i < t.n_addrs; i++) {
		op = op_new(&l, ZH_POL_OP_IPC_PUT);
		if (!op)
			goto err_nomem;
		op->ipc.key = t.addrs[i].key;
		op->ipc.val.identity = t.addrs[i].t;
	}
	for (i = 0; i < t.n_pfx; i++) {
		if (!t.pfx[i].t)
			continue;
		op = op_new(&l, ZH_POL_OP_LPM_PUT);
		if (!op)
			goto err_nomem;
		op->lpm.key = t.pfx[i].key;
		op->lpm.val.identity = t.pfx[i].t;
	}
	ipc_at = l.n;
	for (i = 0, j = 0; j < new->n_ipc; j++) {
		const struct zh_pol_ipc_ent *n = &new->ipc[j];
		int c = 1;

		while (i < old->n_ipc && (c = memcmp(&old->ipc[i].key, &n->key,
						     sizeof(n->key))) < 0)
			i++;
		if (i < old->n_ipc && !c) {
			if (old->ipc[i].identity == n->identity)
				continue;
			removed = true;
		}
		op = op_new(&l, ZH_POL_OP_IPC_PUT);
		if (!op)
			goto err_nomem;
		op->ipc.key = n->key;
		op->ipc.val.identity = n->identity;
	}
	ipc_end = l.n;
	for (i = 0, j = 0; j < new->n_lpm; j++) {
		const struct zh_pol_lpm_ent *n = &new->lpm[j];
		int c = 1;

		while (i < old->n_lpm && (c = memcmp(&old->lpm[i].key, &n->key,
						     sizeof(n->key))) < 0)
			i++;
		if (i < old->n_lpm && !c) {
			if (old->lpm[i].identity == n->identity)
				continue;
			removed = true;
		}
		if (t.n_pfx) /* 2': after the endpoints */
			continue;
		op = op_new(&l, ZH_POL_OP_LPM_PUT);
		if (!op)
			goto err_nomem;
		op->lpm.key = n->key;
		op->lpm.val.identity = n->identity;
	}
	for (i = 0, j = 0; j < new->n_eps; j++) {
		const struct zh_pol_ep_ent *n = &new->eps[j];
		int c = 1;

		while (i < old->n_eps && (c = memcmp(&old->eps[i].key, &n->key,
						     sizeof(n->key))) < 0)
			i++;
		if (i < old->n_eps && !c) {
			const struct zh_pol_ep *ov = &old->eps[i].val;

			if (!memcmp(ov, &n->val, sizeof(*ov)))
				continue;
			if (ov->class_in != n->val.class_in ||
			    ov->class_eg != n->val.class_eg ||
			    ov->identity != n->val.identity ||
			    (n->val.flags & ~ov->flags &
			     (ZH_POL_EP_F_ISO_IN | ZH_POL_EP_F_ISO_EG |
			      ZH_POL_EP_F_FAILED_IN | ZH_POL_EP_F_FAILED_EG)) ||
			    (ov->flags & ~n->val.flags & ZH_POL_EP_F_AUDIT) ||
			    (ov->flags & ~n->val.flags &
			     (ZH_POL_EP_F_CIDR_IN | ZH_POL_EP_F_CIDR_EG)))
				removed = true;
		} else if (n->val.flags &
			   (ZH_POL_EP_F_ISO_IN | ZH_POL_EP_F_ISO_EG)) {
			/* A new address: a flow may predate it (the pod was
			 * known before its first policy). */
			removed = true;
		}
		op = op_new(&l, ZH_POL_OP_EP_PUT);
		if (!op)
			goto err_nomem;
		op->ep.key = n->key;
		op->ep.val = n->val;
	}
	/* 2'. The addresses' new identities after the endpoints: the ipcache
	 * puts moved to the end of 2. */
	if (t.n_addrs && ipc_end > ipc_at) {
		size_t k = ipc_end - ipc_at;
		struct zh_pol_op *tmp = malloc(k * sizeof(*tmp));

		if (!tmp)
			goto err_nomem;
		memcpy(tmp, &l.v[ipc_at], k * sizeof(*tmp));
		memmove(&l.v[ipc_at], &l.v[ipc_end],
			(l.n - ipc_end) * sizeof(*tmp));
		memcpy(&l.v[l.n - k], tmp, k * sizeof(*tmp));
		free(tmp);
	}
	for (i = 0; i < t.n_pfx; i++) {
		op = op_new(&l, ZH_POL_OP_LPM_PUT);
		if (!op)
			goto err_nomem;
		op->lpm.key = t.pfx[i].key;
		op->lpm.val.identity = t.pfx[i].fin;
	}

	/* Deletes to come also remove access. */
	for (i = 0, j = 0; i < old->n_cells && !removed; i++) {
		while (j < new->n_cells &&
		       cmp_polkey(&new->cells[j].key, &old->cells[i].key) < 0)
			j++;
		if (j == new->n_cells ||
		    cmp_polkey(&new->cells[j].key, &old->cells[i].key))
			removed = true;
	}
	for (i = 0, j = 0; i < old->n_ipc && !removed; i++) {
		int c = -1;

		while (j < new->n_ipc &&
		       (c = memcmp(&new->ipc[j].key, &old->ipc[i].key,
				   sizeof(old->ipc[i].key))) < 0)
			j++;
		if (j == new->n_ipc || c)
			removed = true;
	}
	for (i = 0, j = 0; i < old->n_lpm && !removed; i++) {
		int c = -1;

		while (j < new->n_lpm &&
		       (c = memcmp(&new->lpm[j].key, &old->lpm[i].key,
				   sizeof(old->lpm[i].key))) < 0)
			j++;
		if (j == new->n_lpm || c)
			removed = true;
	}

	/* 3. */
	if (removed && !op_new(&l, ZH_POL_OP_EPOCH_BUMP))
		goto err_nomem;

	/* 4. Deletes. */
	for (i = 0, j = 0; i < old->n_eps; i++) {
		int c = -1;

		while (j < new->n_eps &&
		       (c = memcmp(&new->eps[j].key, &old->eps[i].key,
				   sizeof(old->eps[i].key))) < 0)
			j++;
		if (j < new->n_eps && !c)
			continue;
		op = op_new(&l, ZH_POL_OP_EP_DEL);
		if (!op)
			goto err_nomem;
		op->ep.key = old->eps[i].key;
	}
	for (i = 0, j = 0; i < old->n_ipc; i++) {
		int c = -1;

		while (j < new->n_ipc &&
		       (c = memcmp(&new->ipc[j].key, &old->ipc[i].key,
				   sizeof(old->ipc[i].key))) < 0)
			j++;
		if (j < new->n_ipc && !c)
			continue;
		op = op_new(&l, ZH_POL_OP_IPC_DEL);
		if (!op)
			goto err_nomem;
		op->ipc.key = old->ipc[i].key;
	}
	for (i = 0, j = 0; i < old->n_lpm; i++) {
		int c = -1;

		while (j < new->n_lpm &&
		       (c = memcmp(&new->lpm[j].key, &old->lpm[i].key,
				   sizeof(old->lpm[i].key))) < 0)
			j++;
		if (j < new->n_lpm && !c)
			continue;
		op = op_new(&l, ZH_POL_OP_LPM_DEL);
		if (!op)
			goto err_nomem;
		op->lpm.key = old->lpm[i].key;
	}
	/* 4'. Nothing points at a T any more. */
	for (i = 0; i < t.n_cells; i++) {
		op = op_new(&l, ZH_POL_OP_CELL_DEL);
		if (!op)
			goto err_nomem;
		op->cell.key = t.cells[i].key;
	}
	for (i = 0, j = 0; i < old->n_cells; i++) {
		const struct zh_pol_cell_ent *o = &old->cells[i];
		const struct zh_pol_cell_ent *n = NULL;

		while (j < new->n_cells &&
		       cmp_polkey(&new->cells[j].key, &o->key) < 0)
			j++;
		if (j < new->n_cells &&
		    !cmp_polkey(&new->cells[j].key, &o->key))
			n = &new->cells[j];
		if (!n) {
			op = op_new(&l, ZH_POL_OP_CELL_DEL);
			if (!op)
				goto err_nomem;
			op->cell.key = o->key;
		}
		/* Its bitmap, unless the new model still uses the number. */
		if ((o->val.flags & ZH_POL_CELL_F_BITMAP) &&
		    !(n && (n->val.flags & ZH_POL_CELL_F_BITMAP) &&
		      n->val.bitmap == o->val.bitmap)) {
			op = op_new(&l, ZH_POL_OP_PORTS_DEL);
			if (!op)
				goto err_nomem;
			op->ports.idx = o->val.bitmap;
		}
	}
	trans_free(&t);
	*ops = l.v;
	*n_ops = l.n;
	return 0;

err_nomem:
	trans_free(&t);
	free(l.v);
	return -ENOMEM;
}
