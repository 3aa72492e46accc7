// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_policy.c - the NetworkPolicy compiler (user/lib/policy*.c) on
 * objects as the API server could send them: JSON, an object, an array
 * or a List of Pods, Namespaces and NetworkPolicies (by "kind"), into the
 * stores the watch would hold (keyed namespace/name, or name), compiled
 * for node "n1".
 *
 * Checks:
 *   - a compile never fails but for memory, and never crashes whatever
 *     it rejects;
 *   - compiled again from itself, the model is the same, and the writes
 *     between the two are none (determinism, stable numbers);
 *   - the writes from nothing are one put per entry, no delete;
 *   - incremental: the input's first half compiled, then the whole from
 *     that model (reusing its cache) is the model a compile of the
 *     whole from that model with no cache gives; and again with every
 *     object of the first half replaced by an equal copy (a new object
 *     of the same content must read the same);
 *   - when nothing was rejected (the oracle knows valid objects only),
 *     the verdict of the compiled maps is the oracle's
 *     (tests/unit/policy_oracle.h: the rules read straight from the
 *     objects) for every pair of addresses of the input and a few
 *     outside it, every protocol, a set of ports.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <jansson.h>

#include "fuzz.h"
#include "policy.h"
#include "../unit/policy_oracle.h"

#define NODE "n1"
#define ADDRS_MAX 24

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_quiet();
	return 0;
}

static void store_put(json_t *stores[3], json_t *o)
{
	const json_t *md = json_object_get(o, "metadata");
	const char *kind = json_string_value(json_object_get(o, "kind"));
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	char key[512];
	int which;

	if (!kind || !name || !name[0])
		return;
	if (!strcmp(kind, "Pod"))
		which = 0;
	else if (!strcmp(kind, "Namespace"))
		which = 1;
	else if (!strcmp(kind, "NetworkPolicy"))
		which = 2;
	else
		return;
	if (which == 1)
		snprintf(key, sizeof(key), "%s", name);
	else
		snprintf(key, sizeof(key), "%s/%s",
			 ns && ns[0] ? ns : "default", name);
	json_object_set(stores[which], key, o);
}

static bool same(const struct zh_pol_model *a, const struct zh_pol_model *b)
{
	if (a->n_cells != b->n_cells || a->n_ipc != b->n_ipc ||
	    a->n_lpm != b->n_lpm || a->n_eps != b->n_eps ||
	    a->n_ids != b->n_ids || a->n_classes != b->n_classes)
		return false;
	for (size_t i = 0; i < a->n_cells; i++)
		if (memcmp(&a->cells[i].key, &b->cells[i].key,
			   sizeof(a->cells[i].key)) ||
		    memcmp(&a->cells[i].val, &b->cells[i].val,
			   sizeof(a->cells[i].val)))
			return false;
	return (!a->n_ipc ||
		!memcmp(a->ipc, b->ipc, a->n_ipc * sizeof(*a->ipc))) &&
	       (!a->n_lpm ||
		!memcmp(a->lpm, b->lpm, a->n_lpm * sizeof(*a->lpm))) &&
	       (!a->n_eps ||
		!memcmp(a->eps, b->eps, a->n_eps * sizeof(*a->eps)));
}

/* Addresses: the pods' own (podIPs, else podIP), then a few others. */
static size_t addrs_of(const json_t *pods, char (*out)[64], bool *many)
{
	static const char *const extra[] = { "8.8.8.8", "10.0.1.77",
					     "192.168.0.10", "fd00::99" };
	const char *k;
	json_t *p;
	size_t n = 0;

	*many = false;
	json_object_foreach ((json_t *)pods, k, p) {
		const json_t *st = json_object_get(p, "status");
		const json_t *ips = json_object_get(st, "podIPs"), *a;
		size_t i;

		if (json_array_size(ips) > 8)
			*many = true; /* the compiler reads 8 */
		json_array_foreach (ips, i, a) {
			const char *s =
				json_string_value(json_object_get(a, "ip"));

			if (s && n < ADDRS_MAX)
				snprintf(out[n++], 64, "%s", s);
		}
		if (!json_array_size(ips)) {
			const char *s =
				json_string_value(json_object_get(st, "podIP"));

			if (s && n < ADDRS_MAX)
				snprintf(out[n++], 64, "%s", s);
		}
	}
	for (size_t i = 0; i < sizeof(extra) / sizeof(*extra); i++)
		if (n < ADDRS_MAX)
			snprintf(out[n++], 64, "%s", extra[i]);
	return n;
}

static void oracle_check(json_t *stores[3], const struct zh_pol_model *m)
{
	static const int protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP,
				      1 };
	static const int ports[] = { 1,	   53,	  80,	 81,	8080,
				     9090, 32000, 32768, 32769, 65535 };
	char addrs[ADDRS_MAX][64];
	bool many;
	size_t n = addrs_of(stores[0], addrs, &many);

	if (many)
		return;
	for (size_t s = 0; s < n; s++) {
		for (size_t d = 0; d < n; d++) {
			struct zh_ep_key ks, kd;

			if (s == d || zh_pol_key_parse(addrs[s], &ks) ||
			    zh_pol_key_parse(addrs[d], &kd) ||
			    ks.family != kd.family)
				continue;
			for (size_t p = 0; p < 4; p++)
				for (size_t q = 0; q < 10; q++) {
					bool o = oracle_allowed(
						stores[0], stores[1], stores[2],
						NODE, addrs[s], addrs[d],
						protos[p], ports[q]);
					enum zh_pol_verdict v = zh_pol_verdict(
						m, &ks, &kd, (uint8_t)protos[p],
						(uint16_t)ports[q]);

					FUZZ_CHECK(
						o == (v == ZH_POL_ALLOW),
						"%s -> %s proto %d port %d: oracle %d, model %d",
						addrs[s], addrs[d], protos[p],
						ports[q], o, v);
				}
		}
	}
}

/* Into @stores: items [from, to) of @items (an array), or @doc itself. */
static void stores_fill(json_t *stores[3], const json_t *items, size_t from,
			size_t to, bool copy)
{
	for (size_t i = from; i < to; i++) {
		json_t *it = json_array_get(items, i);

		if (copy) {
			it = json_deep_copy(it);
			store_put(stores, it);
			json_decref(it);
		} else {
			store_put(stores, it);
		}
	}
}

static bool id_known(const struct zh_pol_model *m, uint32_t id)
{
	if (id < ZH_POL_ID_FIRST)
		return true;
	for (size_t i = 0; i < m->n_ids; i++)
		if (m->ids[i].id == id)
			return true;
	return false;
}

/* The writes from @a to @b: at most one epoch bump; a transitional
 * identity's cells (a number neither model has) all deleted after they
 * are put, and an address (a prefix) pointed at one pointed on (or the
 * address deleted) later. */
static void diff_check(const struct zh_pol_model *a,
		       const struct zh_pol_model *b)
{
	struct zh_pol_op *ops = NULL;
	size_t n_ops = 0, bumps = 0, t_put = 0, t_del = 0;

	FUZZ_CHECK(!zh_pol_diff(a, b, &ops, &n_ops), "diff failed");
	for (size_t i = 0; i < n_ops; i++) {
		const struct zh_pol_op *op = &ops[i];

		bumps += op->type == ZH_POL_OP_EPOCH_BUMP;
		if ((op->type == ZH_POL_OP_CELL_PUT ||
		     op->type == ZH_POL_OP_CELL_DEL) &&
		    !id_known(a, op->cell.key.identity) &&
		    !id_known(b, op->cell.key.identity)) {
			FUZZ_CHECK(op->type == ZH_POL_OP_CELL_PUT ?
					   !t_del :
					   t_del < t_put,
				   "transitional cells out of order");
			t_put += op->type == ZH_POL_OP_CELL_PUT;
			t_del += op->type == ZH_POL_OP_CELL_DEL;
		}
		if (op->type == ZH_POL_OP_IPC_PUT &&
		    !id_known(a, op->ipc.val.identity) &&
		    !id_known(b, op->ipc.val.identity)) {
			bool on = false;

			for (size_t j = i + 1; j < n_ops && !on; j++)
				on = (ops[j].type == ZH_POL_OP_IPC_PUT ||
				      ops[j].type == ZH_POL_OP_IPC_DEL) &&
				     !memcmp(&ops[j].ipc.key, &op->ipc.key,
					     sizeof(op->ipc.key)) &&
				     (ops[j].type == ZH_POL_OP_IPC_DEL ||
				      id_known(b, ops[j].ipc.val.identity));
			FUZZ_CHECK(
				on,
				"an address left on a transitional identity");
		}
		if (op->type == ZH_POL_OP_LPM_PUT &&
		    !id_known(a, op->lpm.val.identity) &&
		    !id_known(b, op->lpm.val.identity)) {
			bool on = false;

			for (size_t j = i + 1; j < n_ops && !on; j++)
				on = ops[j].type == ZH_POL_OP_LPM_PUT &&
				     !memcmp(&ops[j].lpm.key, &op->lpm.key,
					     sizeof(op->lpm.key)) &&
				     id_known(b, ops[j].lpm.val.identity);
			FUZZ_CHECK(on,
				   "a prefix left on a transitional identity");
		}
	}
	FUZZ_CHECK(bumps <= 1, "%zu epoch bumps", bumps);
	FUZZ_CHECK(t_put == t_del, "%zu transitional cells put, %zu deleted",
		   t_put, t_del);
	free(ops);
}

/* The first half of the items, compiled; then all of them from that
 * model, with and without its cache: the same model; and the writes
 * between the two (diff_check()). */
static void incremental_check(const json_t *items, const struct zh_pol_opts *o,
			      bool copy)
{
	json_t *stores[3] = { json_object(), json_object(), json_object() };
	struct zh_pol_opts fo = *o;
	struct zh_pol_model *half = NULL, *inc = NULL, *full = NULL;
	size_t n = json_array_size(items);

	fo.no_cache = true;
	stores_fill(stores, items, 0, n / 2, false);
	FUZZ_CHECK(!zh_pol_compile(stores[0], stores[1], stores[2], o, NULL,
				   &half),
		   "compile of the first half failed");
	/* The first half again, as new objects of the same content. */
	if (copy)
		stores_fill(stores, items, 0, n / 2, true);
	stores_fill(stores, items, n / 2, n, false);
	FUZZ_CHECK(!zh_pol_compile(stores[0], stores[1], stores[2], o, half,
				   &inc),
		   "incremental compile failed");
	FUZZ_CHECK(!zh_pol_compile(stores[0], stores[1], stores[2], &fo, half,
				   &full),
		   "full compile failed");
	FUZZ_CHECK(same(inc, full),
		   "an incremental compile differs from a full one%s",
		   copy ? " (the first half's objects copied)" : "");
	diff_check(half, inc);
	diff_check(inc, half);
	zh_pol_model_free(half);
	zh_pol_model_free(inc);
	zh_pol_model_free(full);
	for (int i = 0; i < 3; i++)
		json_decref(stores[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	json_t *stores[3] = { json_object(), json_object(), json_object() };
	struct zh_pol_opts o = { .node = NODE };
	struct zh_pol_model *m1 = NULL, *m2 = NULL;
	struct zh_pol_op *ops = NULL;
	size_t n_ops = 0, puts = 0;
	const json_t *items = doc;
	json_t *it;
	size_t i;

	if (!doc)
		goto out;
	if (json_is_object(doc) && json_is_array(json_object_get(doc, "items")))
		items = json_object_get(doc, "items");
	if (json_is_array(items)) {
		json_array_foreach (items, i, it)
			store_put(stores, it);
		incremental_check(items, &o, false);
		incremental_check(items, &o, true);
	} else {
		store_put(stores, doc);
	}
	FUZZ_CHECK(!zh_pol_compile(stores[0], stores[1], stores[2], &o, NULL,
				   &m1),
		   "compile failed");
	FUZZ_CHECK(!zh_pol_compile(stores[0], stores[1], stores[2], &o, m1,
				   &m2),
		   "compile again failed");
	FUZZ_CHECK(same(m1, m2), "compiled again from itself, not the same");
	FUZZ_CHECK(!zh_pol_diff(m1, m2, &ops, &n_ops), "diff failed");
	FUZZ_CHECK(n_ops == 0, "%zu writes between equal models", n_ops);
	free(ops);
	FUZZ_CHECK(!zh_pol_diff(NULL, m1, &ops, &n_ops), "diff failed");
	for (i = 0; i < n_ops; i++) {
		/* (An epoch bump may come: a newly isolated pod's flows
		 * may predate its first policy.) */
		FUZZ_CHECK(ops[i].type != ZH_POL_OP_CELL_DEL &&
				   ops[i].type != ZH_POL_OP_IPC_DEL &&
				   ops[i].type != ZH_POL_OP_LPM_DEL &&
				   ops[i].type != ZH_POL_OP_EP_DEL &&
				   ops[i].type != ZH_POL_OP_PORTS_DEL,
			   "op %s from empty maps",
			   zh_pol_op_name(ops[i].type));
		puts += ops[i].type == ZH_POL_OP_CELL_PUT ||
			ops[i].type == ZH_POL_OP_IPC_PUT ||
			ops[i].type == ZH_POL_OP_LPM_PUT ||
			ops[i].type == ZH_POL_OP_EP_PUT;
	}
	FUZZ_CHECK(puts == m1->n_cells + m1->n_ipc + m1->n_lpm + m1->n_eps,
		   "%zu puts for %zu entries", puts,
		   m1->n_cells + m1->n_ipc + m1->n_lpm + m1->n_eps);
	free(ops);
	if (!m1->n_rejects && !m1->sum.ip_conflicts &&
	    !m1->sum.failed_classes && !m1->sum.identity_overflow)
		oracle_check(stores, m1);
out:
	zh_pol_model_free(m1);
	zh_pol_model_free(m2);
	for (i = 0; i < 3; i++)
		json_decref(stores[i]);
	json_decref(doc);
	return 0;
}
