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
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int zh_pol_diff(const struct zh_pol_model *old, const struct zh_pol_model *new,
		struct zh_pol_op **ops, size_t *n_ops)
{
	static const struct zh_pol_model empty;
	struct oplist l = { 0 };
	bool removed = false;
	struct zh_pol_op *op;
	size_t i, j;

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

	/* 2. Repointing: the ipcache, the LPM, the endpoints. */
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
	*ops = l.v;
	*n_ops = l.n;
	return 0;

err_nomem:
	free(l.v);
	return -ENOMEM;
}
