// SPDX-License-Identifier: Apache-2.0
/*
 * policy.c - the NetworkPolicy compiler (policy.h).
 *
 * Why identities by signature, classes and one shared cell hash
 * (NETWORKPOLICY-NOTES 6.1, 6.2), as built here:
 *
 * - An identity is the SHA-256 of the canonical text of the peers an
 *   address matches plus the named-port numbers its pod gives the names
 *   egress rules use. Two addresses with one signature are judged alike by
 *   every rule of every policy, so they share a number; a pod event is at
 *   most one ipcache write, and hash-like labels (pod-template-hash...)
 *   that no selector reads cannot grow the count. The numbers are this
 *   node's only (identity never goes on the wire: it is derived from the
 *   address), so there is no allocator to agree with and no GC.
 * - Per address, not per pod: an ipBlock holds a pod's IPv4 address and
 *   not its IPv6 one, and a connection is judged on the address it uses.
 * - Non-pod addresses: every ipBlock cidr and except prefix (and /0) is an
 *   LPM entry whose signature is the blocks that hold the prefix and do
 *   not except it. Longest-prefix match makes that exact: an address's
 *   longest prefix P in the set is inside a block's cidr, or one of its
 *   excepts, exactly when the address is. Per-peer except follows.
 * - A class is, per direction, the set of policies selecting a local pod
 *   (plus, for ingress, how the pod resolves the named ports its rules
 *   use, and whether it audits). Cells are {class, dir, proto, identity}:
 *   the flattened union of the class's allows as sorted disjoint port
 *   intervals. Rules whose peers are everyone fill the wildcard cell
 *   (ZH_POL_ID_ANY); an identity gets a cell only where it differs, so
 *   allow-all x N identities is one cell (the blow-up of cilium#8060
 *   cannot happen), and the wildcard cell says whether any does.
 * - Egress named ports are resolved per destination identity (the
 *   identity carries the resolution), ingress ones per class; never
 *   cluster-wide (cilium#24779).
 * - Every identity cell includes the wildcard cell of its class (allows
 *   only), so resolving an address to a coarser identity - an unknown
 *   remote pod, an address past a bound - only loses allows: fail closed.
 * - Numbers keep their meaning from the previous model, and a new meaning
 *   never reuses a number the previous model had: the maps can then be
 *   written new cells first, repointing second, deleting last.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "log.h"
#include "policy.h"
#include "policy_parse.h"
#include "sha256.h"

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

#define POD_PORTS_MAX 1024 /* containerPorts read per pod */
#define POD_IPS_MAX 8

static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP,
				  ZH_POL_PROTO_OTHER };
#define N_PROTOS 4

void zh_pol_limits_fill(struct zh_pol_limits *l)
{
#define DEF(f, v)  \
	if (!l->f) \
		l->f = (v);
	DEF(policies, 16384)
	DEF(pods, 65536)
	DEF(rules, 256)
	DEF(peers, 256)
	DEF(ports, 256)
	DEF(labels, 256)
	DEF(values, 256)
	DEF(excepts, 64)
	DEF(identities, 16384)
	DEF(classes, 16384)
	DEF(cells, ZH_MAX_POLICY)
	DEF(bitmaps, ZH_MAX_POL_PORTS / 2)
	DEF(lpm, ZH_MAX_IPCACHE_LPM)
	DEF(ipcache, ZH_MAX_IPCACHE)
#undef DEF
	if (l->classes > ZH_MAX_POL_CLASSES - 1)
		l->classes = ZH_MAX_POL_CLASSES - 1;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 8;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* --- port interval sets ---------------------------------------------------- */

struct ivs {
	struct zh_pol_iv *v;
	size_t n, cap;
};

static int ivs_add(struct ivs *s, uint16_t lo, uint16_t hi)
{
	if (grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v)))
		return -ENOMEM;
	s->v[s->n++] = (struct zh_pol_iv){ .lo = lo, .hi = hi };
	return 0;
}

static int cmp_iv(const void *a, const void *b)
{
	const struct zh_pol_iv *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->hi > y->hi) - (x->hi < y->hi);
}

/* Sorted, disjoint, adjacent ones merged. */
static void ivs_norm(struct ivs *s)
{
	size_t o = 0;

	if (!s->n)
		return;
	pol_sort(s->v, s->n, sizeof(*s->v), cmp_iv);
	for (size_t i = 1; i < s->n; i++) {
		if ((uint32_t)s->v[i].lo <= (uint32_t)s->v[o].hi + 1) {
			if (s->v[i].hi > s->v[o].hi)
				s->v[o].hi = s->v[i].hi;
		} else {
			s->v[++o] = s->v[i];
		}
	}
	s->n = o + 1;
}

static bool ivs_eq(const struct ivs *a, const struct ivs *b)
{
	return a->n == b->n &&
	       (!a->n || !memcmp(a->v, b->v, a->n * sizeof(*a->v)));
}

/* --- the compile's state ---------------------------------------------------- */

struct pod {
	const char *key;
	char ns[254];
	const json_t *labels;
	const char *node;
	bool host_net;
	struct zh_ep_key ips[POD_IPS_MAX];
	size_t n_ips;
	const json_t *spec;
	uint32_t *peers; /* the pod peers it matches, sorted */
	size_t n_peers;
	bool local;
	/* Incremental compiles (the cache below). */
	const json_t *obj, *ns_obj; /* the store's objects read */
	const struct pc_pod *old; /* the last compile's, still valid */
	/* @old's results are this compile's too (the peer table and the
	 * named ports are the old ones, index for index): @peers, @blocks
	 * and @np are @old's arrays, borrowed, and the next cache shares
	 * @old's entry instead of making one. */
	bool shared;
	bool peers_same; /* @peers: the same set of peers as @old's */
	uint32_t *blocks[POD_IPS_MAX]; /* per address: ipBlock peers, sorted */
	size_t n_blocks[POD_IPS_MAX];
	uint32_t *np; /* egress named ports resolved (pairs), sorted */
	size_t n_np;
	bool np_done;
	unsigned char h[POD_IPS_MAX][32]; /* identity signature hashes */
};

/*
 * The cache of the last compile (zh_pol_model.cache), for an incremental
 * compile: what each pod matched, by the store's object. The watch
 * replaces an object on every change and never edits one (k8s_watch.c),
 * so a pod whose object, and whose namespace's object, are the ones the
 * last compile read matched the same peers then as now: only peers new
 * to this compile are evaluated for it, and its signature's hash is
 * reused when its set of peers and the named ports are the same. The
 * cache holds a reference to every object it names, so that an address
 * cannot be reused by a new object while it is kept. opts.no_cache
 * compiles without it: the oracle the tests hold incremental compiles to.
 */
struct pc_pod {
	/* The caches that hold it: an unchanged pod's entry is shared by
	 * consecutive caches (struct pod.shared), not copied (a copy of
	 * each cached pod, its key and references made every compile
	 * linear in the cluster's pods). Models are used from one thread. */
	unsigned long refs;
	char *key;
	/* The pod as read (its results below cleared); obj and ns_obj
	 * (may be NULL) referenced, which keeps its pointers valid. */
	struct pod pod;
	json_t *obj, *ns_obj;
	uint32_t *peers; /* that compile's peer indices: pod peers matched */
	size_t n_peers;
	uint32_t *blocks[POD_IPS_MAX]; /* ... and ipBlock peers, per address */
	size_t n_blocks[POD_IPS_MAX];
	uint32_t *np; /* egress named ports resolved (pairs, its np indices) */
	size_t n_np;
	unsigned char h[POD_IPS_MAX][32];
	size_t n_ips;
};

/*
 * The NetworkPolicies as decoded, with their peer table: shared by the
 * compiles (and caches) that read the same policy store, object for
 * object (decoding every policy again was a fifth of an incremental
 * compile at 1k policies). Holds a reference to each object it decoded:
 * the decoded policies borrow their strings.
 */
/* A named port as rules use it: name and protocol. */
struct np {
	const char *name;
	uint8_t proto;
	bool egress; /* an egress rule uses it: identities resolve it */
};

struct pol_ns_range {
	const char *ns;
	size_t lo, hi;
};

struct pc_pols {
	unsigned long refs;
	struct zh_pol_limits lim;
	char **keys; /* the store's keys, sorted (the policies' keys) */
	json_t **objs; /* by key: the objects decoded */
	size_t n_keys;
	struct pol_policy *pols; /* those kept, in key order */
	size_t n_pols;
	struct pol_peers peers;
	struct zh_pol_reject *rej; /* the policies rejected */
	size_t n_rej;
	/* Each namespace's policies: pols[lo, hi) (a namespace's keys
	 * are contiguous in key order), sorted by namespace. */
	struct pol_ns_range *ns;
	size_t n_ns;
	/* The named ports their rules use (nps_collect()), once. */
	bool nps_done;
	struct np *nps;
	size_t n_nps, cap_nps;
	json_t *np_idx;
};

struct zh_pol_cache {
	struct pc_pols *pols; /* NULL: none decoded yet */
	char *node;
	char **canon; /* peer index -> canon text, of that compile */
	size_t n_canon;
	char *np_fp; /* that compile's named ports, as a text */
	struct pc_pod **pods; /* by key (strcmp) */
	size_t n_pods;
};

/* An identity or a class while compiling: its signature and meaning. */
struct sig {
	unsigned char h[32];
	uint32_t *peers; /* identities: sorted peer indices */
	size_t n_peers;
	uint32_t *np; /* pairs: np index, port (sorted) */
	size_t n_np;
	/* classes */
	uint8_t dir;
	bool audit;
	uint32_t *pols; /* policy indices, sorted */
	size_t n_pols;
	uint32_t id; /* the number given; 0: none (past a bound) */
	uint32_t addrs;
};

struct cc {
	const struct zh_pol_opts *o;
	struct zh_pol_limits lim;
	const struct zh_pol_model *prev;
	struct zh_pol_model *m;
	json_t *ns_labels; /* namespace -> labels (with metadata.name) */
	json_t *ns_audit; /* namespace -> true */
	struct pc_pols *pp; /* the policies decoded (one reference) */
	struct pol_peers peers; /* pp's, borrowed */
	struct pol_policy *pols; /* pp's */
	size_t n_pols;
	uint16_t *pnum; /* by policy index: its number (zh_pol_num) */
	struct pod *pods;
	size_t n_pods;
	struct np *nps;
	size_t n_nps, cap_nps;
	json_t *np_idx; /* "name/proto" -> index */
	struct sig *ids; /* distinct identity signatures */
	size_t n_ids, cap_ids;
	/* Signature hash -> index in ids + 1 (0: free), open addressing
	 * (a JSON object keyed by the hash in hex was a large part of an
	 * incremental compile at 10k pods). */
	size_t *id_idx;
	size_t id_idx_cap; /* a power of 2, at least twice n_ids */
	struct sig *cls;
	size_t n_cls, cap_cls;
	json_t *cls_idx;
	size_t cap_ipc, cap_lpm, cap_eps, cap_cells, cap_rej;
	size_t n_bitmaps;
	bool lpm_overflow;
	/* Every address's first claim, by key: who has it (pod index, -1:
	 * the node). A sorted array: a JSON object keyed by hex was a
	 * large part of a compile at 10k pods. */
	struct owner *owners;
	size_t n_owners;
	/* Incremental: the last compile's cache (NULL: compile it all). */
	const struct zh_pol_cache *old;
	long *remap; /* old peer index -> this compile's, or -1 */
	bool *known; /* this compile's peer index -> the old one had it */
	uint32_t *fresh[2]; /* [PEER_POD], [PEER_BLOCK]: peers not known */
	size_t n_fresh[2];
	bool peers_same; /* the peer table is the old one, index for index */
	bool np_same; /* the named ports are the old ones, in order */
	char *np_fp;
	const json_t *ns_store;
	bool ns_names_ok; /* every Namespace is stored under its name */
	size_t old_at; /* cache_pod()'s walk of old->pods */
};

static void reject(struct cc *c, const char *kind, const char *key,
		   const char *why, bool isolating)
{
	struct zh_pol_model *m = c->m;
	struct zh_pol_reject *r;

	if (grow((void **)&m->rejects, &c->cap_rej, m->n_rejects + 1,
		 sizeof(*m->rejects)))
		return; /* counted below all the same */
	r = &m->rejects[m->n_rejects++];
	memset(r, 0, sizeof(*r));
	snprintf(r->kind, sizeof(r->kind), "%s", kind);
	snprintf(r->key, sizeof(r->key), "%s", key);
	snprintf(r->reason, sizeof(r->reason), "%s", why);
	r->isolating = isolating;
}

/* The keys of a store, sorted: every walk is in this order. */
/* A store's entry: its key and object. */
struct kv {
	const char *k;
	const json_t *v;
};

/*
 * @a (@n entries) sorted by key, merging the ascending runs it has: a
 * store iterates in the order its keys were first set (jansson keeps it;
 * a changed object takes its key's place), which is the list's, sorted,
 * plus what was added since; so a store of 10k pods is a few runs, merged
 * in a few passes where a sort compared every key some 14 times.
 */
static size_t kv_run(const struct kv *a, size_t i, size_t n)
{
	while (++i < n && strcmp(a[i - 1].k, a[i].k) <= 0)
		;
	return i;
}

static int kv_sort(struct kv *a, size_t n)
{
	struct kv *tmp, *src = a, *dst, *t;
	size_t out_runs;

	if (n < 2 || kv_run(a, 0, n) == n)
		return 0;
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	dst = tmp;
	do {
		size_t i = 0, o = 0;

		out_runs = 0;
		while (i < n) {
			size_t m = kv_run(src, i, n);
			size_t e = m < n ? kv_run(src, m, n) : n;

			/* [i, m) and [m, e) merged into one run of dst. */
			for (size_t x = i, y = m; x < m || y < e;)
				dst[o++] = y >= e || (x < m &&
						      strcmp(src[x].k,
							     src[y].k) <= 0) ?
						   src[x++] :
						   src[y++];
			out_runs++;
			i = e;
		}
		t = src;
		src = dst;
		dst = t;
	} while (out_runs > 1);
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
	free(tmp);
	return 0;
}

/* A store's entries, sorted by key; NULL: out of memory. */
static struct kv *store_ents(const json_t *store, size_t *n)
{
	struct kv *e;
	const char *k;
	json_t *v;
	size_t i = 0;

	*n = json_object_size(store);
	e = calloc(*n ? *n : 1, sizeof(*e));
	if (!e)
		return NULL;
	json_object_foreach ((json_t *)store, k, v)
		e[i++] = (struct kv){ .k = k, .v = v };
	if (kv_sort(e, *n)) {
		free(e);
		return NULL;
	}
	return e;
}

/* Labels: absent, null, or an object of strings. */
static bool labels_ok(const json_t *l)
{
	const char *k;
	json_t *v;

	if (!l || json_is_null(l))
		return true;
	if (!json_is_object(l))
		return false;
	json_object_foreach ((json_t *)l, k, v)
		if (!json_is_string(v))
			return false;
	return true;
}

int zh_pol_audit_ns_check(const char *list, char *why, size_t len)
{
	const char *p = list;

	if (!list || !*list) {
		snprintf(why, len, "no namespace");
		return -EINVAL;
	}
	while (*p) {
		size_t n = strcspn(p, ",");

		if (!n || n > 63) {
			snprintf(why, len,
				 "a namespace name is 1 to 63 characters");
			return -EINVAL;
		}
		for (size_t i = 0; i < n; i++) {
			char ch = p[i];
			bool ok = (ch >= 'a' && ch <= 'z') ||
				  (ch >= '0' && ch <= '9') ||
				  (ch == '-' && i && i + 1 < n);

			if (!ok) {
				snprintf(
					why, len,
					"\"%.*s\" is not a namespace name (lower-case letters, digits, '-' inside)",
					(int)n, p);
				return -EINVAL;
			}
		}
		p += n;
		if (*p == ',' && !*++p) {
			snprintf(why, len, "a comma at the end");
			return -EINVAL;
		}
	}
	return 0;
}

/* The namespaces of opts->audit_ns into @ns_audit. */
static int audit_ns_read(json_t *ns_audit, const char *list)
{
	char name[64];

	for (const char *p = list; p && *p;) {
		size_t n = strcspn(p, ",");

		if (n && n < sizeof(name)) {
			memcpy(name, p, n);
			name[n] = 0;
			if (json_object_set_new(ns_audit, name, json_true()))
				return -ENOMEM;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int namespaces_read(struct cc *c, const json_t *namespaces)
{
	const char *k;
	json_t *v;

	c->ns_labels = json_object();
	c->ns_audit = json_object();
	c->ns_store = namespaces;
	c->ns_names_ok = true;
	if (!c->ns_labels || !c->ns_audit)
		return -ENOMEM;
	/* Audited by the agent's list, whether its Namespace is seen yet
	 * or not; or by the Namespace's annotation. */
	if (audit_ns_read(c->ns_audit, c->o->audit_ns))
		return -ENOMEM;
	json_object_foreach ((json_t *)namespaces, k, v) {
		const json_t *md = json_object_get(v, "metadata");
		const json_t *l = json_object_get(md, "labels");
		const char *name =
			json_string_value(json_object_get(md, "name"));
		const char *audit = json_string_value(
			json_object_get(json_object_get(md, "annotations"),
					ZH_POL_AUDIT_ANNOTATION));
		json_t *labels;

		if (!name)
			name = k;
		else if (strcmp(name, k))
			c->ns_names_ok = false;
		if (!labels_ok(l)) {
			/* Judged by its name alone. */
			reject(c, "Namespace", k,
			       "metadata.labels: not an object of strings",
			       false);
			l = NULL;
		}
		labels = json_is_object(l) ? json_copy((json_t *)l) :
					     json_object();
		/* As the API server sets it (1.22 on). */
		if (!labels ||
		    json_object_set_new(labels, "kubernetes.io/metadata.name",
					json_string(name)) ||
		    json_object_set_new(c->ns_labels, name, labels))
			return -ENOMEM;
		if (audit && !strcmp(audit, "true"))
			json_object_set_new(c->ns_audit, name, json_true());
	}
	c->m->sum.namespaces = json_object_size(namespaces);
	return 0;
}

/* A namespace's labels; one not (yet) seen has its name label only. */
static const json_t *ns_labels(struct cc *c, const char *ns)
{
	json_t *l = json_object_get(c->ns_labels, ns);

	if (l)
		return l;
	l = json_pack("{s:s}", "kubernetes.io/metadata.name", ns);
	if (!l || json_object_set_new(c->ns_labels, ns, l))
		return NULL;
	return l;
}

static void pc_pols_put(struct pc_pols *pp)
{
	if (!pp || --pp->refs)
		return;
	for (size_t i = 0; i < pp->n_pols; i++)
		pol_policy_free(&pp->pols[i]);
	free(pp->pols);
	pol_peers_free(&pp->peers);
	for (size_t i = 0; i < pp->n_keys; i++) {
		free(pp->keys[i]);
		json_decref(pp->objs[i]);
	}
	free(pp->keys);
	free(pp->objs);
	free(pp->rej);
	free(pp->ns);
	free(pp->nps);
	json_decref(pp->np_idx);
	free(pp);
}

static int cmp_ns_range(const void *a, const void *b)
{
	return strcmp(((const struct pol_ns_range *)a)->ns,
		      ((const struct pol_ns_range *)b)->ns);
}

/* @pp's policies by namespace (pp->ns). */
static int pols_ns_index(struct pc_pols *pp)
{
	pp->ns = calloc(pp->n_pols ? pp->n_pols : 1, sizeof(*pp->ns));
	if (!pp->ns)
		return -ENOMEM;
	for (size_t i = 0; i < pp->n_pols; i++) {
		if (pp->n_ns &&
		    !strcmp(pp->ns[pp->n_ns - 1].ns, pp->pols[i].ns)) {
			pp->ns[pp->n_ns - 1].hi = i + 1;
			continue;
		}
		pp->ns[pp->n_ns++] = (struct pol_ns_range){
			.ns = pp->pols[i].ns, .lo = i, .hi = i + 1
		};
	}
	pol_sort(pp->ns, pp->n_ns, sizeof(*pp->ns), cmp_ns_range);
	return 0;
}

/* The last compile's decoded policies, when @policies holds the same
 * objects under the same keys (the watch replaces an object on every
 * change, never edits one) and the bounds are the same; else NULL. */
static struct pc_pols *pols_cached(const struct cc *c, const struct kv *ents,
				   size_t n)
{
	const struct zh_pol_cache *old = c->prev ? c->prev->cache : NULL;
	struct pc_pols *pp = old ? old->pols : NULL;

	if (!pp || c->o->no_cache || pp->n_keys != n ||
	    memcmp(&pp->lim, &c->lim, sizeof(c->lim)))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (pp->objs[i] != ents[i].v || strcmp(pp->keys[i], ents[i].k))
			return NULL;
	return pp;
}

static int policies_read(struct cc *c, const json_t *policies)
{
	size_t n, i, rej0 = c->m->n_rejects;
	struct kv *ents = store_ents(policies, &n);
	char why[ZH_POL_REASON_MAX];
	struct pc_pols *pp;
	int rc = 0;

	if (!ents)
		return -ENOMEM;
	c->m->sum.policies = n;
	pp = pols_cached(c, ents, n);
	if (pp) {
		free(ents);
		pp->refs++;
		c->pp = pp;
		for (i = 0; i < pp->n_rej; i++) {
			const struct zh_pol_reject *r = &pp->rej[i];

			reject(c, r->kind, r->key, r->reason, r->isolating);
		}
		goto done;
	}
	pp = calloc(1, sizeof(*pp));
	if (!pp) {
		free(ents);
		return -ENOMEM;
	}
	pp->refs = 1;
	pp->lim = c->lim;
	c->pp = pp;
	pp->pols = calloc(n ? n : 1, sizeof(*pp->pols));
	pp->keys = calloc(n ? n : 1, sizeof(*pp->keys));
	pp->objs = calloc(n ? n : 1, sizeof(*pp->objs));
	if (!pp->pols || !pp->keys || !pp->objs) {
		free(ents);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		pp->keys[i] = strdup(ents[i].k);
		if (!pp->keys[i]) {
			free(ents);
			return -ENOMEM;
		}
		pp->objs[i] = json_incref((json_t *)ents[i].v);
		pp->n_keys++;
	}
	free(ents);
	for (i = 0; i < n; i++) {
		struct pol_policy *p = &pp->pols[pp->n_pols];
		const char *key = pp->keys[i];

		if (pp->n_pols >= c->lim.policies) {
			snprintf(why, sizeof(why),
				 "more than %zu NetworkPolicies",
				 c->lim.policies);
			reject(c, "NetworkPolicy", key, why, false);
			continue;
		}
		why[0] = 0;
		rc = pol_policy_parse(key, pp->objs[i], &c->lim, &pp->peers, p,
				      why, sizeof(why));
		if (rc == -ENOMEM)
			return rc;
		rc = 0;
		if (why[0]) {
			reject(c, "NetworkPolicy", key, why, p->rejected);
			pr_debug("policy: NetworkPolicy %s rejected: %s\n", key,
				 why);
			if (!p->rejected) {
				pol_policy_free(p);
				continue;
			}
		}
		pp->n_pols++;
	}
	if (pols_ns_index(pp))
		return -ENOMEM;
	if (c->m->n_rejects > rej0) {
		pp->n_rej = c->m->n_rejects - rej0;
		pp->rej = malloc(pp->n_rej * sizeof(*pp->rej));
		if (!pp->rej)
			return -ENOMEM;
		memcpy(pp->rej, &c->m->rejects[rej0],
		       pp->n_rej * sizeof(*pp->rej));
	}
done:
	c->pols = pp->pols;
	c->n_pols = pp->n_pols;
	c->peers = pp->peers;
	return rc;
}

/* The named ports rules use, egress ones flagged. */
static int nps_collect_pols(struct cc *c)
{
	c->np_idx = json_object();
	if (!c->np_idx)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_pols; i++) {
		for (int d = 0; d < 2; d++) {
			const struct pol_policy *p = &c->pols[i];

			for (size_t r = 0; r < p->n_rules[d]; r++) {
				const struct pol_rule *ru = &p->rules[d][r];

				for (size_t q = 0; q < ru->n_ports; q++) {
					const struct pol_port *pp =
						&ru->ports[q];
					char k[64];
					json_t *at;

					if (pp->kind != PORT_NAMED)
						continue;
					snprintf(k, sizeof(k), "%s/%u",
						 pp->name, pp->proto);
					at = json_object_get(c->np_idx, k);
					if (at) {
						c->nps[json_integer_value(at)]
							.egress |= d;
						continue;
					}
					if (grow((void **)&c->nps, &c->cap_nps,
						 c->n_nps + 1,
						 sizeof(*c->nps)) ||
					    json_object_set_new(
						    c->np_idx, k,
						    json_integer(
							    (json_int_t)
								    c->n_nps)))
						return -ENOMEM;
					c->nps[c->n_nps++] = (struct np){
						.name = pp->name,
						.proto = pp->proto,
						.egress = d == ZH_POL_EGRESS,
					};
				}
			}
		}
	}
	return 0;
}

/* ... decoded policies' once: kept with them (c->pp), borrowed. */
static int nps_collect(struct cc *c)
{
	struct pc_pols *pp = c->pp;
	int rc = 0;

	if (!pp->nps_done) {
		rc = nps_collect_pols(c);
		if (rc) {
			free(c->nps);
			json_decref(c->np_idx);
			c->nps = NULL;
			c->np_idx = NULL;
			c->n_nps = 0;
			return rc;
		}
		pp->nps = c->nps;
		pp->n_nps = c->n_nps;
		pp->cap_nps = c->cap_nps;
		pp->np_idx = c->np_idx;
		pp->nps_done = true;
	}
	c->nps = pp->nps;
	c->n_nps = pp->n_nps;
	c->np_idx = pp->np_idx;
	return rc;
}

static int np_index(const struct cc *c, const struct pol_port *pp)
{
	char k[64];
	const json_t *at;

	snprintf(k, sizeof(k), "%s/%u", pp->name, pp->proto);
	at = json_object_get(c->np_idx, k);
	return at ? (int)json_integer_value(at) : -1;
}

static bool addr_parse(const char *s, struct zh_ep_key *k)
{
	return s && !zh_pol_key_parse(s, k);
}

int zh_pol_key_parse(const char *s, struct zh_ep_key *k)
{
	memset(k, 0, sizeof(*k));
	if (inet_pton(AF_INET, s, &k->addr[0]) == 1) {
		k->family = ZH_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, k->addr) == 1) {
		k->family = ZH_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static const struct pc_pod *cache_pod(struct cc *c, const char *key,
				      const json_t *obj, const json_t *ns_obj);

static int pods_read(struct cc *c, const json_t *pods)
{
	size_t n, i, ns_len = 0;
	struct kv *ents = store_ents(pods, &n);
	char why[ZH_POL_REASON_MAX], ns[254];
	const json_t *ns_obj = NULL;
	const char *ns_of = NULL; /* the key ns and ns_obj are of */

	if (!ents)
		return -ENOMEM;
	/* (Not calloc: each pod is set below, most by a copy.) */
	c->pods = malloc((n ? n : 1) * sizeof(*c->pods));
	if (!c->pods) {
		free(ents);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		const char *key = ents[i].k;
		const json_t *o = ents[i].v;
		const json_t *md, *spec, *st, *ips;
		const char *phase;
		struct pod *p = &c->pods[c->n_pods];
		const struct pc_pod *old;
		size_t x;
		int len;

		if (c->n_pods >= c->lim.pods) {
			snprintf(why, sizeof(why), "more than %zu Pods",
				 c->lim.pods);
			reject(c, "Pod", key, why, false);
			continue;
		}
		len = pol_key_ns(key);
		if (len < 0) {
			reject(c, "Pod", key,
			       "the namespace is not a DNS label", false);
			continue;
		}
		/* Pods of a namespace come one after another: its object
		 * looked up once. */
		if (!ns_of || (size_t)len != ns_len ||
		    memcmp(key, ns, ns_len)) {
			ns_len = (size_t)len;
			memcpy(ns, key, ns_len);
			ns[ns_len] = 0;
			ns_of = key;
			ns_obj = json_object_get(c->ns_store, ns);
		}
		/* Read as the last compile read it: what it read, again. */
		old = cache_pod(c, key, o, ns_obj);
		if (old) {
			*p = old->pod;
			p->key = key;
			p->old = old;
			p->shared = c->peers_same && c->np_same;
			c->n_pods++;
			continue;
		}
		memset(p, 0, sizeof(*p));
		p->key = key;
		memcpy(p->ns, ns, ns_len + 1);
		md = json_object_get(o, "metadata");
		spec = json_object_get(o, "spec");
		st = json_object_get(o, "status");
		ips = json_object_get(st, "podIPs");
		phase = json_string_value(json_object_get(st, "phase"));
		p->labels = json_object_get(md, "labels");
		if (!labels_ok(p->labels)) {
			reject(c, "Pod", key,
			       "metadata.labels: not an object of strings",
			       false);
			continue;
		}
		p->spec = spec;
		p->node = json_string_value(json_object_get(spec, "nodeName"));
		p->host_net =
			json_is_true(json_object_get(spec, "hostNetwork"));
		/* A pod that ended gave its addresses back. */
		if (phase &&
		    (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))) {
			c->n_pods++;
			continue;
		}
		why[0] = 0;
		if (json_array_size(ips)) {
			for (x = 0; x < json_array_size(ips); x++) {
				const char *s = json_string_value(
					json_object_get(json_array_get(ips, x),
							"ip"));

				if (p->n_ips == POD_IPS_MAX)
					break;
				if (!addr_parse(s, &p->ips[p->n_ips])) {
					snprintf(
						why, sizeof(why),
						"status.podIPs[%zu]: not an address",
						x);
					break;
				}
				p->n_ips++;
			}
		} else if (json_object_get(st, "podIP")) {
			if (addr_parse(json_string_value(
					       json_object_get(st, "podIP")),
				       &p->ips[0]))
				p->n_ips = 1;
			else
				snprintf(why, sizeof(why),
					 "status.podIP: not an address");
		}
		if (why[0]) {
			reject(c, "Pod", key, why, false);
			continue;
		}
		p->local = c->o->node && p->node &&
			   !strcmp(p->node, c->o->node);
		p->obj = o;
		p->ns_obj = ns_obj;
		c->n_pods++;
	}
	c->m->sum.pods = n;
	/* The keys are the store's strings: the pods keep pointing at them. */
	free(ents);
	return 0;
}

/* The numbers @p's containers give the named port @np (pairs appended). */
static int pod_resolve(const struct pod *p, const struct np *np, uint32_t idx,
		       uint32_t **pairs, size_t *n, size_t *cap)
{
	const json_t *ctrs = json_object_get(p->spec, "containers"), *ct;
	size_t i, seen = 0;

	json_array_foreach (ctrs, i, ct) {
		const json_t *ports = json_object_get(ct, "ports"), *cp;
		size_t j;

		json_array_foreach (ports, j, cp) {
			const char *name =
				json_string_value(json_object_get(cp, "name"));
			json_int_t num = json_integer_value(
				json_object_get(cp, "containerPort"));
			uint8_t proto;

			if (++seen > POD_PORTS_MAX)
				return 0;
			if (!name || strcmp(name, np->name) || num < 1 ||
			    num > 65535)
				continue;
			{
				const char *ps = json_string_value(
					json_object_get(cp, "protocol"));

				proto = !ps || !strcmp(ps, "TCP") ?
						IPPROTO_TCP :
					!strcmp(ps, "UDP")  ? IPPROTO_UDP :
					!strcmp(ps, "SCTP") ? IPPROTO_SCTP :
							      0;
			}
			if (proto != np->proto)
				continue;
			if (grow((void **)pairs, cap, *n + 2, sizeof(**pairs)))
				return -ENOMEM;
			(*pairs)[(*n)++] = idx;
			(*pairs)[(*n)++] = (uint32_t)num;
		}
	}
	return 0;
}

static int cmp_pair(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return (x[1] > y[1]) - (x[1] < y[1]);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* --- identities --------------------------------------------------------------- */

static bool peer_has_pod(struct cc *c, const struct pol_peer *pe,
			 const struct pod *p)
{
	if (p->host_net)
		return false;
	if (pe->ns) {
		if (strcmp(pe->ns, p->ns))
			return false;
	} else if (!pol_sel_match(pe->nssel, ns_labels(c, p->ns))) {
		return false;
	}
	return !pe->podsel || pol_sel_match(pe->podsel, p->labels);
}

static bool peer_has_addr(const struct pol_peer *pe, const struct zh_ep_key *k)
{
	uint8_t fam = k->family == ZH_AF_INET ? 4 : 6;
	uint8_t len = fam == 4 ? 32 : 128;
	const uint8_t *a = (const uint8_t *)k->addr;

	if (!pol_pfx_has(&pe->cidr, fam, a, len))
		return false;
	for (size_t i = 0; i < pe->n_exc; i++)
		if (pol_pfx_has(&pe->exc[i], fam, a, len))
			return false;
	return true;
}

static void hex(const unsigned char *h, char *out)
{
	static const char digits[] = "0123456789abcdef";

	/* (Not snprintf: this runs for every address of every compile.) */
	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 15];
	}
	out[64] = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The SHA-256 of an identity signature's canonical text: its peers' canon
 * texts in their order (not the peer table's, which moves when a policy
 * comes or goes: a signature is the same set of peers in every compile),
 * then its named ports.
 */
static int id_hash(const struct cc *c, const uint32_t *peers, size_t n_peers,
		   const uint32_t *np, size_t n_np, unsigned char h[32])
{
	const char **canon = NULL;
	size_t len = 1, at = 0;
	char *text;

	if (n_peers) {
		canon = malloc(n_peers * sizeof(*canon));
		if (!canon)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n_peers; i++) {
		canon[i] = c->peers.v[peers[i]].canon;
		len += strlen(canon[i]) + 1;
	}
	pol_sort(canon, n_peers, sizeof(*canon), cmp_str);
	for (size_t i = 0; i < n_np; i += 2)
		len += strlen(c->nps[np[i]].name) + 24;
	text = malloc(len);
	if (!text) {
		free(canon);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_peers; i++) {
		size_t l = strlen(canon[i]);

		memcpy(text + at, canon[i], l);
		text[at + l] = '\n';
		at += l + 1;
	}
	for (size_t i = 0; i < n_np; i += 2)
		at += (size_t)sprintf(text + at, "#%s/%u=%u\n",
				      c->nps[np[i]].name, c->nps[np[i]].proto,
				      np[i + 1]);
	zh_sha256(text, at, h);
	free(text);
	free(canon);
	return 0;
}

/*
 * The identity signature of @peers (sorted) and @np (pairs, sorted)
 * interned: its index in c->ids (taking over both arrays). @h: its hash
 * when known (id_hash() of the same), else NULL.
 */
static size_t *id_slot(const struct cc *c, const unsigned char h[32])
{
	uint64_t v;
	size_t i;

	/* (The hash is SHA-256: any 8 of its bytes are spread evenly.) */
	memcpy(&v, h, sizeof(v));
	for (i = (size_t)v & (c->id_idx_cap - 1);;
	     i = (i + 1) & (c->id_idx_cap - 1))
		if (!c->id_idx[i] || !memcmp(c->ids[c->id_idx[i] - 1].h, h, 32))
			return &c->id_idx[i];
}

/* The index in c->ids of the signature hashed @h, counting one more
 * address; or -1: not interned yet. */
static long id_find(struct cc *c, const unsigned char h[32])
{
	size_t *slot = id_slot(c, h);

	if (!*slot)
		return -1;
	c->ids[*slot - 1].addrs++;
	return (long)(*slot - 1);
}

/* Room in c->id_idx for one more signature. */
static int id_idx_grow(struct cc *c)
{
	size_t cap = c->id_idx_cap, *old = c->id_idx;

	if (c->n_ids + 1 <= cap / 2)
		return 0;
	c->id_idx_cap = cap ? 2 * cap : 1024;
	c->id_idx = calloc(c->id_idx_cap, sizeof(*c->id_idx));
	if (!c->id_idx) {
		c->id_idx = old;
		c->id_idx_cap = cap;
		return -ENOMEM;
	}
	for (size_t i = 0; i < cap; i++)
		if (old[i])
			*id_slot(c, c->ids[old[i] - 1].h) = old[i];
	free(old);
	return 0;
}

static int id_intern(struct cc *c, uint32_t *peers, size_t n_peers,
		     uint32_t *np, size_t n_np, const unsigned char *h,
		     size_t *out)
{
	struct sig tmp = { 0 };
	struct sig *s;
	long at;

	if (h)
		memcpy(tmp.h, h, 32);
	else if (id_hash(c, peers, n_peers, np, n_np, tmp.h))
		goto err_nomem;
	if (id_idx_grow(c))
		goto err_nomem;
	at = id_find(c, tmp.h);
	if (at >= 0) {
		*out = (size_t)at;
		free(peers);
		free(np);
		return 0;
	}
	if (grow((void **)&c->ids, &c->cap_ids, c->n_ids + 1, sizeof(*c->ids)))
		goto err_nomem;
	*id_slot(c, tmp.h) = c->n_ids + 1;
	s = &c->ids[c->n_ids];
	*s = tmp;
	s->peers = peers;
	s->n_peers = n_peers;
	s->np = np;
	s->n_np = n_np;
	s->addrs = 1;
	*out = c->n_ids++;
	return 0;

err_nomem:
	free(peers);
	free(np);
	return -ENOMEM;
}

/* Append @v to the array *@a (*@n used, *@cap allocated). */
static int push_u32(uint32_t **a, size_t *n, size_t *cap, uint32_t v)
{
	if (grow((void **)a, cap, *n + 1, sizeof(**a)))
		return -ENOMEM;
	(*a)[(*n)++] = v;
	return 0;
}

/*
 * The peers of kind @kind that @p (or its address @k, for blocks) is in:
 * those of @old (the last compile's indices) that this compile still
 * has, renumbered, and the peers new to this compile evaluated; or, with
 * no @old, every peer evaluated. Sorted, into *@out. *@same: the set is
 * @old's (nothing gone, nothing new matched).
 */
static int peers_of(struct cc *c, const struct pod *p,
		    const struct zh_ep_key *k, int kind, const uint32_t *old,
		    size_t n_old, bool use_old, uint32_t **out, size_t *n,
		    bool *same)
{
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	*same = use_old;
	for (size_t i = 0; use_old && i < n_old; i++) {
		long e = c->remap[old[i]];

		if (e < 0) {
			*same = false;
			continue;
		}
		if (push_u32(out, n, &cap, (uint32_t)e))
			return -ENOMEM;
	}
	/* With @old, only the peers new to this compile (c->fresh). */
	for (size_t i = 0; i < (use_old ? c->n_fresh[kind] : c->peers.n); i++) {
		size_t e = use_old ? c->fresh[kind][i] : i;
		const struct pol_peer *pe = &c->peers.v[e];

		if (pe->kind != kind)
			continue;
		if (kind == PEER_POD ? !peer_has_pod(c, pe, p) :
				       !k || !peer_has_addr(pe, k))
			continue;
		if (push_u32(out, n, &cap, (uint32_t)e))
			return -ENOMEM;
		*same = false;
	}
	pol_sort(*out, *n, sizeof(**out), cmp_u32);
	return 0;
}

/* Each pod: the pod peers it matches. */
static int pods_match(struct cc *c)
{
	for (size_t i = 0; i < c->n_pods; i++) {
		struct pod *p = &c->pods[i];

		if (p->host_net || !p->n_ips)
			continue;
		if (p->shared) {
			p->peers = p->old->peers;
			p->n_peers = p->old->n_peers;
			p->peers_same = true;
			continue;
		}
		if (peers_of(c, p, NULL, PEER_POD,
			     p->old ? p->old->peers : NULL,
			     p->old ? p->old->n_peers : 0, !!p->old, &p->peers,
			     &p->n_peers, &p->peers_same))
			return -ENOMEM;
	}
	return 0;
}

/* @p's resolution of the named ports egress rules use (pairs, sorted). */
static int pod_np(struct cc *c, struct pod *p)
{
	size_t cap = 0;

	if (p->np_done)
		return 0;
	p->np_done = true;
	if (p->old && c->np_same) {
		if (!p->old->n_np)
			return 0;
		p->np = malloc(p->old->n_np * sizeof(*p->np));
		if (!p->np)
			return -ENOMEM;
		memcpy(p->np, p->old->np, p->old->n_np * sizeof(*p->np));
		p->n_np = p->old->n_np;
		return 0;
	}
	for (size_t x = 0; x < c->n_nps; x++)
		if (c->nps[x].egress && pod_resolve(p, &c->nps[x], (uint32_t)x,
						    &p->np, &p->n_np, &cap))
			return -ENOMEM;
	if (p->n_np)
		pol_sort(p->np, p->n_np / 2, 2 * sizeof(*p->np), cmp_pair);
	return 0;
}

/* @p's address @x's identity signature, interned (its hash kept in @p). */
static int addr_sig(struct cc *c, struct pod *p, size_t x, size_t *out)
{
	const struct zh_ep_key *k = &p->ips[x];
	uint32_t *peers = NULL, *np = NULL;
	size_t n;
	bool same, use_old = p->old && x < p->old->n_ips;
	long at;

	if (p->shared && use_old) {
		/* All as the last compile had it; its hash (in @p) too. */
		p->blocks[x] = p->old->blocks[x];
		p->n_blocks[x] = p->old->n_blocks[x];
		if (!p->np_done) {
			p->np_done = true;
			p->np = p->old->np;
			p->n_np = p->old->n_np;
		}
		if (id_idx_grow(c))
			return -ENOMEM;
		at = id_find(c, p->h[x]);
		if (at >= 0) {
			*out = (size_t)at;
			return 0;
		}
		same = true;
		goto sig;
	}
	if (peers_of(c, p, k, PEER_BLOCK, use_old ? p->old->blocks[x] : NULL,
		     use_old ? p->old->n_blocks[x] : 0, use_old, &p->blocks[x],
		     &p->n_blocks[x], &same) ||
	    pod_np(c, p))
		return -ENOMEM;
sig:
	n = p->n_peers + p->n_blocks[x];
	if (n) {
		peers = malloc(n * sizeof(*peers));
		if (!peers)
			return -ENOMEM;
		if (p->n_peers)
			memcpy(peers, p->peers, p->n_peers * sizeof(*peers));
		if (p->n_blocks[x])
			memcpy(peers + p->n_peers, p->blocks[x],
			       p->n_blocks[x] * sizeof(*peers));
		pol_sort(peers, n, sizeof(*peers), cmp_u32);
	}
	if (p->n_np) {
		np = malloc(p->n_np * sizeof(*np));
		if (!np) {
			free(peers);
			return -ENOMEM;
		}
		memcpy(np, p->np, p->n_np * sizeof(*np));
	}
	/* The same peers (so the same canon texts) and named ports as the
	 * last compile: the same hash. */
	if (use_old && same && p->peers_same && c->np_same)
		memcpy(p->h[x], p->old->h[x], 32);
	else if (id_hash(c, peers, n, np, p->n_np, p->h[x])) {
		free(peers);
		free(np);
		return -ENOMEM;
	}
	return id_intern(c, peers, n, np, p->n_np, p->h[x], out);
}

/* --- the cache (struct zh_pol_cache) ---------------------------------------- */

static void pc_pod_free(struct pc_pod *e)
{
	if (--e->refs)
		return;
	free(e->key);
	json_decref(e->obj);
	json_decref(e->ns_obj);
	free(e->peers);
	for (size_t x = 0; x < POD_IPS_MAX; x++)
		free(e->blocks[x]);
	free(e->np);
	free(e);
}

static void cache_free(struct zh_pol_cache *pc)
{
	if (!pc)
		return;
	pc_pols_put(pc->pols);
	free(pc->node);
	for (size_t i = 0; i < pc->n_canon; i++)
		free(pc->canon[i]);
	free(pc->canon);
	free(pc->np_fp);
	for (size_t i = 0; i < pc->n_pods; i++)
		pc_pod_free(pc->pods[i]);
	free(pc->pods);
	free(pc);
}

/* The named ports as a text: equal texts, equal np indices. */
static int np_text(struct cc *c)
{
	size_t len = 1, at = 0;

	for (size_t i = 0; i < c->n_nps; i++)
		len += strlen(c->nps[i].name) + 16;
	c->np_fp = malloc(len);
	if (!c->np_fp)
		return -ENOMEM;
	c->np_fp[0] = 0;
	for (size_t i = 0; i < c->n_nps; i++)
		at += (size_t)sprintf(c->np_fp + at, "%s/%u/%d\n",
				      c->nps[i].name, c->nps[i].proto,
				      c->nps[i].egress);
	return 0;
}

/*
 * Before the pods are read: the last compile's cache, if there is one and
 * it may be used, with its peer indices mapped to this compile's.
 */
static int cache_begin(struct cc *c, bool ns_names_ok)
{
	const struct zh_pol_cache *old = c->prev ? c->prev->cache : NULL;
	const char *node = c->o->node ? c->o->node : "";
	size_t cap[2] = { 0 };

	if (np_text(c))
		return -ENOMEM;
	/* A Namespace stored under a key that is not its name gives its
	 * labels to another name: the pods' namespace objects would not
	 * tell a change. */
	if (!old || c->o->no_cache || !ns_names_ok || strcmp(old->node, node))
		return 0;
	c->remap = calloc(old->n_canon ? old->n_canon : 1, sizeof(*c->remap));
	c->known = calloc(c->peers.n ? c->peers.n : 1, sizeof(*c->known));
	if (!c->remap || !c->known)
		return -ENOMEM;
	c->peers_same = old->n_canon == c->peers.n;
	for (size_t i = 0; i < old->n_canon; i++) {
		const json_t *j;

		/* The same decoded policies: the same peer table. */
		if (old->pols == c->pp && c->peers_same) {
			c->remap[i] = (long)i;
			c->known[i] = true;
			continue;
		}
		j = c->peers.idx ?
			    json_object_get(c->peers.idx, old->canon[i]) :
			    NULL;

		c->remap[i] = j ? (long)json_integer_value(j) : -1;
		if (j)
			c->known[c->remap[i]] = true;
		if (c->remap[i] != (long)i)
			c->peers_same = false;
	}
	for (size_t e = 0; e < c->peers.n; e++) {
		int kind = c->peers.v[e].kind;

		if (!c->known[e] && push_u32(&c->fresh[kind], &c->n_fresh[kind],
					     &cap[kind], (uint32_t)e))
			return -ENOMEM;
	}
	c->np_same = !strcmp(old->np_fp, c->np_fp);
	c->old = old;
	return 0;
}

/*
 * The pod @key, read from @obj in namespace object @ns_obj: the last
 * compile's results when they still hold. Asked for in key order (both
 * this compile's pods and the cache's are sorted so): one walk.
 */
static const struct pc_pod *cache_pod(struct cc *c, const char *key,
				      const json_t *obj, const json_t *ns_obj)
{
	const struct pc_pod *e;
	int d = 1;

	if (!c->old)
		return NULL;
	while (c->old_at < c->old->n_pods &&
	       (d = strcmp(c->old->pods[c->old_at]->key, key)) < 0)
		c->old_at++;
	if (c->old_at == c->old->n_pods || d)
		return NULL;
	e = c->old->pods[c->old_at];
	return e->obj == obj && e->ns_obj == ns_obj ? e : NULL;
}

/* After the identities: this compile's cache, for the next one (the pods'
 * results taken over). */
static int cache_end(struct cc *c)
{
	struct zh_pol_cache *pc = calloc(1, sizeof(*pc));

	if (!pc)
		return -ENOMEM;
	c->m->cache = pc;
	pc->pols = c->pp;
	c->pp->refs++;
	pc->node = strdup(c->o->node ? c->o->node : "");
	pc->canon = calloc(c->peers.n ? c->peers.n : 1, sizeof(*pc->canon));
	pc->pods = calloc(c->n_pods ? c->n_pods : 1, sizeof(*pc->pods));
	if (!pc->node || !pc->canon || !pc->pods)
		return -ENOMEM;
	for (size_t e = 0; e < c->peers.n; e++) {
		pc->canon[e] = strdup(c->peers.v[e].canon);
		if (!pc->canon[e])
			return -ENOMEM;
		pc->n_canon++;
	}
	pc->np_fp = c->np_fp;
	c->np_fp = NULL;
	for (size_t i = 0; i < c->n_pods; i++) {
		struct pod *p = &c->pods[i];
		struct pc_pod *e;

		/* Pods read whole only: not one rejected, nor one that ended
		 * (no address, nothing to reuse). */
		if (!p->obj)
			continue;
		if (p->shared) {
			e = (struct pc_pod *)p->old;
			e->refs++;
			pc->pods[pc->n_pods++] = e;
			continue;
		}
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->refs = 1;
		e->key = strdup(p->key);
		if (!e->key) {
			free(e);
			return -ENOMEM;
		}
		pc->pods[pc->n_pods++] = e;
		e->pod = *p;
		e->pod.key = NULL;
		e->pod.old = NULL;
		e->pod.shared = false;
		e->pod.peers = NULL;
		e->pod.n_peers = 0;
		e->pod.peers_same = false;
		memset(e->pod.blocks, 0, sizeof(e->pod.blocks));
		memset(e->pod.n_blocks, 0, sizeof(e->pod.n_blocks));
		e->pod.np = NULL;
		e->pod.n_np = 0;
		e->pod.np_done = false;
		e->obj = json_incref((json_t *)p->obj);
		e->ns_obj = json_incref((json_t *)p->ns_obj);
		e->peers = p->peers;
		e->n_peers = p->n_peers;
		p->peers = NULL;
		for (size_t x = 0; x < POD_IPS_MAX; x++) {
			e->blocks[x] = p->blocks[x];
			e->n_blocks[x] = p->n_blocks[x];
			p->blocks[x] = NULL;
		}
		e->np = p->np;
		e->n_np = p->n_np;
		p->np = NULL;
		memcpy(e->h, p->h, sizeof(e->h));
		e->n_ips = p->host_net ? 0 : p->n_ips;
	}
	return 0;
}

/* A previous model's signatures and their numbers, sorted for bsearch
 * (a walk per signature made numbering quadratic in identities). */
struct prev_num {
	unsigned char h[32];
	uint32_t id;
};

static int cmp_prev_num(const void *a, const void *b)
{
	return memcmp(((const struct prev_num *)a)->h,
		      ((const struct prev_num *)b)->h, 32);
}

/* @prev's number for signature @h (in @v, sorted), or 0. */
static uint32_t prev_num(const struct prev_num *v, size_t n,
			 const unsigned char *h)
{
	struct prev_num want = { .id = 0 };
	const struct prev_num *at;

	if (!n)
		return 0;
	memcpy(want.h, h, 32);
	at = bsearch(&want, v, n, sizeof(*v), cmp_prev_num);
	return at ? at->id : 0;
}

static int cmp_sig_h(const void *a, const void *b)
{
	const struct sig *const *x = a, *const *y = b;

	return memcmp((*x)->h, (*y)->h, 32);
}

/*
 * Numbers for @n signatures: the previous model's where it had the
 * signature, else the lowest number from @first neither model uses; at
 * most @max of them (the rest get 0).
 */
static int number(struct sig *v, size_t n, const struct zh_pol_model *prev,
		  bool classes, uint32_t first, uint32_t last, size_t max)
{
	struct sig **order = calloc(n ? n : 1, sizeof(*order));
	uint32_t *used = NULL, next = first;
	size_t n_used = 0, cap = 0, given = 0, u = 0, n_order = 0;
	size_t n_prev = !prev ? 0 : classes ? prev->n_classes : prev->n_ids;
	struct prev_num *pn = calloc(n_prev ? n_prev : 1, sizeof(*pn));

	if (!order || !pn) {
		free(order);
		free(pn);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_prev; i++) {
		memcpy(pn[i].h,
		       classes ? prev->classes[i].sig : prev->ids[i].sig, 32);
		pn[i].id = classes ? prev->classes[i].id : prev->ids[i].id;
	}
	pol_sort(pn, n_prev, sizeof(*pn), cmp_prev_num);
	/* A number set beforehand (WORLD) stays, uncounted. */
	for (size_t i = 0; i < n; i++)
		if (!v[i].id)
			order[n_order++] = &v[i];
	n = n_order;
	pol_sort(order, n, sizeof(*order), cmp_sig_h);
	for (size_t i = 0; i < n_prev; i++) {
		if (grow((void **)&used, &cap, n_used + 1, sizeof(*used))) {
			free(order);
			free(pn);
			return -ENOMEM;
		}
		used[n_used++] = classes ? prev->classes[i].id :
					   prev->ids[i].id;
	}
	pol_sort(used, n_used, sizeof(*used), cmp_u32);
	/* Kept numbers first, so that a bound cuts new meanings. */
	for (size_t i = 0; i < n; i++) {
		uint32_t id = prev_num(pn, n_prev, order[i]->h);

		order[i]->id = 0;
		if (id && given < max) {
			order[i]->id = id;
			given++;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (order[i]->id || given >= max)
			continue;
		while (u < n_used && used[u] < next)
			u++;
		while (u < n_used && used[u] == next) {
			next++;
			u++;
		}
		if (next > last)
			break;
		order[i]->id = next++;
		given++;
	}
	free(used);
	free(order);
	free(pn);
	return 0;
}

static int cmp_ipc(const void *a, const void *b)
{
	return memcmp(&((const struct zh_pol_ipc_ent *)a)->key,
		      &((const struct zh_pol_ipc_ent *)b)->key,
		      sizeof(struct zh_ep_key));
}

static int cmp_lpm(const void *a, const void *b)
{
	return memcmp(&((const struct zh_pol_lpm_ent *)a)->key,
		      &((const struct zh_pol_lpm_ent *)b)->key,
		      sizeof(struct zh_ipc_lpm_key));
}

static int cmp_ep(const void *a, const void *b)
{
	return memcmp(&((const struct zh_pol_ep_ent *)a)->key,
		      &((const struct zh_pol_ep_ent *)b)->key,
		      sizeof(struct zh_ep_key));
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

static int cmp_cell(const void *a, const void *b)
{
	return cmp_polkey(&((const struct zh_pol_cell_ent *)a)->key,
			  &((const struct zh_pol_cell_ent *)b)->key);
}

static int cmp_pfx(const void *a, const void *b)
{
	const struct pol_pfx *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->raw, y->raw, sizeof(x->raw));
}

struct addr_ref {
	struct zh_ep_key key;
	size_t sig; /* index in c->ids */
	bool host;
	long pod; /* index in c->pods; -1: a node address */
};

struct owner {
	struct zh_ep_key key;
	size_t ref; /* index in the refs: the first claim comes first */
	long pod;
};

static int cmp_owner(const void *a, const void *b)
{
	const struct owner *x = a, *y = b;
	int d = memcmp(&x->key, &y->key, sizeof(x->key));

	if (d)
		return d;
	return (x->ref > y->ref) - (x->ref < y->ref);
}

/* Who has address @k: a pod's index, -1 the node, -2 nobody. */
static long owner_of(const struct cc *c, const struct zh_ep_key *k)
{
	struct owner want = { .key = *k };
	size_t lo = 0, hi = c->n_owners;

	/* (By key alone: there is one owner per key.) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = memcmp(&c->owners[mid].key, &want.key,
			       sizeof(want.key));

		if (!d)
			return c->owners[mid].pod;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -2;
}

static int ipc_find(const struct zh_pol_model *m, const struct zh_ep_key *k)
{
	struct zh_pol_ipc_ent want = { .key = *k }, *e;

	e = m->n_ipc ?
		    bsearch(&want, m->ipc, m->n_ipc, sizeof(*m->ipc), cmp_ipc) :
		    NULL;
	return e ? (int)(e - m->ipc) : -1;
}

/*
 * Every address's identity: pods (not hostNetwork) of every node, this
 * node's own addresses and hostNetwork pods (ZH_POL_ID_HOST), the LPM
 * prefixes; numbered; the ipcache and LPM written.
 */
static int identities(struct cc *c)
{
	struct zh_pol_model *m = c->m;
	struct addr_ref *refs = NULL;
	struct pol_pfx *pfx = NULL;
	size_t n_refs = 0, cap_refs = 0, n_pfx = 0, cap_pfx = 0, world;
	struct owner *claims = NULL;
	bool *dup = NULL;
	int rc = -ENOMEM;

	/* The empty signature first: ZH_POL_ID_WORLD. */
	if (id_intern(c, NULL, 0, NULL, 0, NULL, &world))
		goto out;
	c->ids[world].addrs = 0;
	for (size_t i = 0; i < c->o->n_node_addrs; i++) {
		if (grow((void **)&refs, &cap_refs, n_refs + 1, sizeof(*refs)))
			goto out;
		refs[n_refs++] = (struct addr_ref){ .key = c->o->node_addrs[i],
						    .host = true,
						    .pod = -1 };
	}
	for (size_t i = 0; i < c->n_pods; i++) {
		struct pod *p = &c->pods[i];

		for (size_t x = 0; x < p->n_ips; x++) {
			struct addr_ref r = { .key = p->ips[x],
					      .pod = (long)i };

			if (p->host_net && !p->local)
				continue; /* another node's address */
			r.host = p->host_net;
			if (!r.host && addr_sig(c, p, x, &r.sig))
				goto out;
			if (grow((void **)&refs, &cap_refs, n_refs + 1,
				 sizeof(*refs)))
				goto out;
			refs[n_refs++] = r;
		}
	}
	/* Prefixes: every block's cidr and excepts, and /0. */
	for (size_t e = 0; e < c->peers.n; e++) {
		const struct pol_peer *pe = &c->peers.v[e];

		if (pe->kind != PEER_BLOCK)
			continue;
		if (grow((void **)&pfx, &cap_pfx, n_pfx + 1 + pe->n_exc,
			 sizeof(*pfx)))
			goto out;
		pfx[n_pfx++] = pe->cidr;
		for (size_t x = 0; x < pe->n_exc; x++)
			pfx[n_pfx++] = pe->exc[x];
	}
	if (grow((void **)&pfx, &cap_pfx, n_pfx + 2, sizeof(*pfx)))
		goto out;
	pfx[n_pfx++] = (struct pol_pfx){ .family = 4 };
	pfx[n_pfx++] = (struct pol_pfx){ .family = 6 };
	pol_sort(pfx, n_pfx, sizeof(*pfx), cmp_pfx);
	{
		size_t o = 0;

		for (size_t i = 0; i < n_pfx; i++)
			if (!o || memcmp(&pfx[o - 1], &pfx[i], sizeof(*pfx)))
				pfx[o++] = pfx[i];
		n_pfx = o;
	}
	if (n_pfx > c->lim.lpm) {
		/* Leaving out a prefix could let an except's addresses fall
		 * into its cidr: keep /0 only, and fail every class with
		 * ipBlock rules closed instead. */
		pr_warn("policy: %zu ipBlock prefixes, more than %zu: classes with ipBlocks fail closed\n",
			n_pfx, c->lim.lpm);
		c->lpm_overflow = true;
		pfx[0] = (struct pol_pfx){ .family = 4 };
		pfx[1] = (struct pol_pfx){ .family = 6 };
		n_pfx = 2;
	}
	size_t *pfx_sig = calloc(n_pfx ? n_pfx : 1, sizeof(*pfx_sig));

	if (!pfx_sig)
		goto out;
	for (size_t i = 0; i < n_pfx; i++) {
		uint32_t *peers = NULL;
		size_t n = 0, cap = 0;

		for (size_t e = 0; e < c->peers.n; e++) {
			const struct pol_peer *pe = &c->peers.v[e];
			bool in;

			if (pe->kind != PEER_BLOCK)
				continue;
			in = pol_pfx_has(&pe->cidr, pfx[i].family, pfx[i].raw,
					 pfx[i].len);
			for (size_t x = 0; in && x < pe->n_exc; x++)
				if (pol_pfx_has(&pe->exc[x], pfx[i].family,
						pfx[i].raw, pfx[i].len))
					in = false;
			if (!in)
				continue;
			if (grow((void **)&peers, &cap, n + 1,
				 sizeof(*peers))) {
				free(peers);
				free(pfx_sig);
				goto out;
			}
			peers[n++] = (uint32_t)e;
		}
		if (id_intern(c, peers, n, NULL, 0, NULL, &pfx_sig[i])) {
			free(pfx_sig);
			goto out;
		}
	}
	/* Numbers: the empty signature is WORLD, never counted. */
	c->ids[world].id = ZH_POL_ID_WORLD;
	if (number(c->ids, c->n_ids, c->prev, false, ZH_POL_ID_FIRST,
		   UINT32_MAX - 1, c->lim.identities)) {
		free(pfx_sig);
		goto out;
	}
	for (size_t i = 0; i < c->n_ids; i++)
		if (!c->ids[i].id)
			m->sum.identity_overflow += c->ids[i].addrs;

	/* The ipcache: first claim wins (node addresses come first). The
	 * claims sorted by address, then by order: the first of each
	 * address owns it, the others are duplicates. */
	claims = calloc(n_refs ? n_refs : 1, sizeof(*claims));
	dup = calloc(n_refs ? n_refs : 1, sizeof(*dup));
	c->owners = calloc(n_refs ? n_refs : 1, sizeof(*c->owners));
	if (!claims || !dup || !c->owners) {
		free(pfx_sig);
		goto out;
	}
	for (size_t i = 0; i < n_refs; i++)
		claims[i] = (struct owner){ .key = refs[i].key,
					    .ref = i,
					    .pod = refs[i].pod };
	pol_sort(claims, n_refs, sizeof(*claims), cmp_owner);
	for (size_t i = 0, first = 0; i < n_refs; i++) {
		if (i && !memcmp(&claims[i].key, &claims[first].key,
				 sizeof(claims[i].key))) {
			dup[claims[i].ref] = true;
			/* The node's address again (its hostNetwork pods)
			 * is no conflict. */
			if (!refs[claims[i].ref].host ||
			    !refs[claims[first].ref].host)
				m->sum.ip_conflicts++;
			continue;
		}
		first = i;
		/* Who has it: only that pod is an endpoint with it. */
		c->owners[c->n_owners++] = claims[i];
	}
	/* The first lim.ipcache owners in claim order get an entry (dup
	 * turned into "no entry"); written in the owners' order, which is
	 * the ipcache's (by key): no sort of it. */
	{
		size_t kept = 0;

		for (size_t i = 0; i < n_refs; i++) {
			if (dup[i])
				continue;
			if (kept >= c->lim.ipcache) {
				m->sum.identity_overflow++;
				dup[i] = true;
				continue;
			}
			kept++;
		}
		m->ipc = calloc(kept ? kept : 1, sizeof(*m->ipc));
		if (!m->ipc) {
			free(pfx_sig);
			goto out;
		}
		c->cap_ipc = kept ? kept : 1;
	}
	for (size_t o = 0; o < c->n_owners; o++) {
		const struct addr_ref *r = &refs[c->owners[o].ref];
		struct zh_pol_ipc_ent *e;

		if (dup[c->owners[o].ref])
			continue;
		e = &m->ipc[m->n_ipc++];
		e->key = r->key;
		e->identity = r->host		? ZH_POL_ID_HOST :
			      c->ids[r->sig].id ?:
						  ZH_POL_ID_WORLD;
	}
	m->lpm = calloc(n_pfx ? n_pfx : 1, sizeof(*m->lpm));
	if (!m->lpm) {
		free(pfx_sig);
		goto out;
	}
	for (size_t i = 0; i < n_pfx; i++) {
		struct zh_pol_lpm_ent *e = &m->lpm[m->n_lpm++];

		memset(e, 0, sizeof(*e));
		e->key.prefixlen = 32u + pfx[i].len;
		e->key.family = pfx[i].family == 4 ? ZH_AF_INET : ZH_AF_INET6;
		memcpy(e->key.addr, pfx[i].raw, pfx[i].family == 4 ? 4 : 16);
		e->identity = c->ids[pfx_sig[i]].id ?: ZH_POL_ID_WORLD;
	}
	pol_sort(m->lpm, m->n_lpm, sizeof(*m->lpm), cmp_lpm);
	free(pfx_sig);
	rc = 0;
out:
	free(refs);
	free(pfx);
	free(claims);
	free(dup);
	return rc;
}

/* --- classes and cells ------------------------------------------------------ */

struct lpod {
	size_t cls[2]; /* index in c->cls + 1; 0: not isolated */
	bool iso[2];
};

static int class_of(struct cc *c, const struct pod *p, int d, size_t *out,
		    bool *iso)
{
	uint32_t *pols = NULL, *np = NULL;
	size_t n = 0, cap = 0, n_np = 0, cap_np = 0, len, at;
	bool audit = c->o->audit || json_object_get(c->ns_audit, p->ns);
	json_t *used = NULL;
	struct sig tmp = { 0 }, *s;
	char *text, hx[65];
	const json_t *j;

	struct pol_ns_range want = { .ns = p->ns }, *r;

	*out = 0;
	*iso = false;
	/* Only the policies of its namespace can select it. */
	r = c->pp->n_ns ? bsearch(&want, c->pp->ns, c->pp->n_ns, sizeof(*r),
				  cmp_ns_range) :
			  NULL;
	for (size_t i = r ? r->lo : 0; r && i < r->hi; i++) {
		const struct pol_policy *pol = &c->pols[i];

		if (!pol->types[d] || !pol_sel_match(&pol->podsel, p->labels))
			continue;
		if (grow((void **)&pols, &cap, n + 1, sizeof(*pols)))
			goto err_nomem;
		pols[n++] = (uint32_t)i;
	}
	if (!n)
		return 0;
	*iso = true;
	/* Ingress: the named ports of its rules, resolved on the pod. */
	if (d == ZH_POL_INGRESS) {
		used = json_object();
		if (!used)
			goto err_nomem;
		for (size_t i = 0; i < n; i++) {
			const struct pol_policy *pol = &c->pols[pols[i]];

			for (size_t r = 0; r < pol->n_rules[d]; r++)
				for (size_t q = 0; q < pol->rules[d][r].n_ports;
				     q++) {
					const struct pol_port *pp =
						&pol->rules[d][r].ports[q];
					int x = pp->kind == PORT_NAMED ?
							np_index(c, pp) :
							-1;
					char k[16];

					if (x < 0)
						continue;
					snprintf(k, sizeof(k), "%d", x);
					if (json_object_get(used, k))
						continue;
					json_object_set_new(used, k,
							    json_true());
					if (pod_resolve(p, &c->nps[x],
							(uint32_t)x, &np, &n_np,
							&cap_np))
						goto err_nomem;
				}
		}
		json_decref(used);
		used = NULL;
		if (n_np)
			pol_sort(np, n_np / 2, 2 * sizeof(*np), cmp_pair);
	}
	len = 32;
	for (size_t i = 0; i < n; i++)
		len += strlen(c->pols[pols[i]].key) + 1;
	for (size_t i = 0; i < n_np; i += 2)
		len += strlen(c->nps[np[i]].name) + 24;
	text = malloc(len);
	if (!text)
		goto err_nomem;
	at = (size_t)sprintf(text, "dir=%d audit=%d\n", d, audit);
	for (size_t i = 0; i < n; i++)
		at += (size_t)sprintf(text + at, "%s\n", c->pols[pols[i]].key);
	for (size_t i = 0; i < n_np; i += 2)
		at += (size_t)sprintf(text + at, "#%s/%u=%u\n",
				      c->nps[np[i]].name, c->nps[np[i]].proto,
				      np[i + 1]);
	zh_sha256(text, at, tmp.h);
	free(text);
	hex(tmp.h, hx);
	j = json_object_get(c->cls_idx, hx);
	if (j) {
		*out = (size_t)json_integer_value(j) + 1;
		c->cls[*out - 1].addrs += (uint32_t)p->n_ips;
		free(pols);
		free(np);
		return 0;
	}
	if (grow((void **)&c->cls, &c->cap_cls, c->n_cls + 1,
		 sizeof(*c->cls)) ||
	    json_object_set_new(c->cls_idx, hx,
				json_integer((json_int_t)c->n_cls)))
		goto err_nomem;
	s = &c->cls[c->n_cls];
	*s = tmp;
	s->dir = (uint8_t)d;
	s->audit = audit;
	s->pols = pols;
	s->n_pols = n;
	s->np = np;
	s->n_np = n_np;
	s->addrs = (uint32_t)p->n_ips;
	*out = ++c->n_cls;
	return 0;

err_nomem:
	json_decref(used);
	free(pols);
	free(np);
	return -ENOMEM;
}

/* The ports @r allows for @proto, named ones resolved by @np (pairs). */
static int rule_ports(const struct cc *c, const struct pol_rule *r,
		      uint8_t proto, const uint32_t *np, size_t n_np,
		      struct ivs *out)
{
	if (r->all_ports)
		return ivs_add(out, 0, 65535);
	for (size_t q = 0; q < r->n_ports; q++) {
		const struct pol_port *pp = &r->ports[q];
		int x;

		if (pp->proto != proto)
			continue;
		if (pp->kind != PORT_NAMED) {
			if (ivs_add(out, pp->lo, pp->hi))
				return -ENOMEM;
			continue;
		}
		x = np_index(c, pp);
		for (size_t i = 0; x >= 0 && i < n_np; i += 2)
			if (np[i] == (uint32_t)x &&
			    ivs_add(out, (uint16_t)np[i + 1],
				    (uint16_t)np[i + 1]))
				return -ENOMEM;
	}
	return 0;
}

static bool rule_has_named(const struct pol_rule *r)
{
	for (size_t q = 0; q < r->n_ports; q++)
		if (r->ports[q].kind == PORT_NAMED)
			return true;
	return false;
}

static bool has_peer(const struct sig *id, uint32_t peer)
{
	return id->n_peers && bsearch(&peer, id->peers, id->n_peers,
				      sizeof(uint32_t), cmp_u32);
}

struct pending {
	struct zh_pol_cell_ent *v;
	size_t n, cap;
};

static int cell_emit(struct pending *pc, const struct zh_pol_key *key,
		     const struct ivs *s, uint8_t flags)
{
	struct zh_pol_cell_ent *e;

	if (grow((void **)&pc->v, &pc->cap, pc->n + 1, sizeof(*pc->v)))
		return -ENOMEM;
	e = &pc->v[pc->n++];
	memset(e, 0, sizeof(*e));
	e->key = *key;
	e->val.flags = flags;
	if (s->n <= ZH_POL_CELL_IVS) {
		e->val.n = (uint8_t)s->n;
		if (s->n)
			memcpy(e->val.iv, s->v, s->n * sizeof(*s->v));
		return 0;
	}
	e->val.flags |= ZH_POL_CELL_F_BITMAP;
	e->ports = calloc(1, sizeof(*e->ports));
	if (!e->ports)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++)
		for (uint32_t p = s->v[i].lo; p <= s->v[i].hi; p++)
			e->ports->bits[p / 64] |= 1ULL << (p % 64);
	return 0;
}

/*
 * The policy credited with each interval of cell @e (np[]): the first
 * policy (by namespace/name: @rules are in that order) with a rule that
 * applies to the cell (@app) and allows a port of the interval; for a
 * bitmap cell, the first that allows any of its ports. Intervals are
 * merged across policies, so a port in the part of an interval that only
 * a later policy allows still credits the first.
 */
static int cell_credit(const struct cc *c, const struct pol_rule **rules,
		       const uint32_t *rule_pol, const bool *app,
		       size_t n_rules, uint8_t proto, const uint32_t *np,
		       size_t n_np, struct zh_pol_cell_ent *e, struct ivs *tmp)
{
	bool bitmap = e->val.flags & ZH_POL_CELL_F_BITMAP;

	for (size_t r = 0; r < n_rules; r++) {
		uint16_t num = c->pnum[rule_pol[r]];

		if (!app[r])
			continue;
		tmp->n = 0;
		if (rule_ports(c, rules[r], proto, np, n_np, tmp))
			return -ENOMEM;
		if (bitmap) {
			if (tmp->n) {
				e->val.np[0] = num;
				return 0;
			}
			continue;
		}
		for (int i = 0; i < e->val.n && i < ZH_POL_CELL_IVS; i++) {
			if (e->val.np[i])
				continue;
			for (size_t t = 0; t < tmp->n; t++)
				if (tmp->v[t].lo <= e->val.iv[i].hi &&
				    tmp->v[t].hi >= e->val.iv[i].lo) {
					e->val.np[i] = num;
					break;
				}
		}
	}
	return 0;
}

/* Every cell of class @k, into @pc. */
static int class_cells(struct cc *c, const struct sig *k, struct pending *pc)
{
	const struct pol_rule **rules = NULL;
	uint32_t *rule_pol = NULL;
	bool *app = NULL;
	size_t n_rules = 0, cap = 0, cap_rp = 0, cap_app = 0;
	bool specific_rules = false;
	struct ivs any = { 0 }, s = { 0 }, tmp = { 0 };
	int rc = -ENOMEM;

	for (size_t i = 0; i < k->n_pols; i++) {
		const struct pol_policy *p = &c->pols[k->pols[i]];

		for (size_t r = 0; r < p->n_rules[k->dir]; r++) {
			const struct pol_rule *ru = &p->rules[k->dir][r];

			if (grow((void **)&rules, &cap, n_rules + 1,
				 sizeof(*rules)) ||
			    grow((void **)&rule_pol, &cap_rp, n_rules + 1,
				 sizeof(*rule_pol)) ||
			    grow((void **)&app, &cap_app, n_rules + 1,
				 sizeof(*app)))
				goto out;
			rule_pol[n_rules] = k->pols[i];
			rules[n_rules++] = ru;
			if (!ru->all_peers ||
			    (k->dir == ZH_POL_EGRESS && rule_has_named(ru)))
				specific_rules = true;
		}
	}
	for (int pi = 0; pi < N_PROTOS; pi++) {
		struct zh_pol_key key = { .class = (uint16_t)k->id,
					  .dir = k->dir,
					  .proto = protos[pi],
					  .identity = ZH_POL_ID_ANY };
		const uint32_t *cnp = k->dir == ZH_POL_INGRESS ? k->np : NULL;
		size_t cn_np = k->dir == ZH_POL_INGRESS ? k->n_np : 0;
		size_t first = pc->n, n_spec = 0;

		any.n = 0;
		for (size_t r = 0; r < n_rules; r++)
			if (rules[r]->all_peers &&
			    rule_ports(c, rules[r], protos[pi], cnp, cn_np,
				       &any))
				goto out;
		ivs_norm(&any);
		/* The wildcard cell goes first; its flag is set below. */
		if (cell_emit(pc, &key, &any, 0))
			goto out;
		for (size_t r = 0; r < n_rules; r++)
			app[r] = rules[r]->all_peers;
		if (cell_credit(c, rules, rule_pol, app, n_rules, protos[pi],
				cnp, cn_np, &pc->v[pc->n - 1], &tmp))
			goto out;
		for (size_t i = 0; specific_rules && i < c->n_ids; i++) {
			const struct sig *id = &c->ids[i];
			bool rel = false;

			if (id->id < ZH_POL_ID_FIRST)
				continue;
			s.n = 0;
			for (size_t r = 0; r < n_rules; r++) {
				const struct pol_rule *ru = rules[r];
				bool in = ru->all_peers;

				for (size_t e = 0; !in && e < ru->n_peers; e++)
					in = has_peer(id, ru->peers[e]);
				app[r] = in;
				if (!in)
					continue;
				if (!ru->all_peers ||
				    (k->dir == ZH_POL_EGRESS &&
				     rule_has_named(ru)))
					rel = true;
				if (rule_ports(
					    c, ru, protos[pi],
					    k->dir == ZH_POL_INGRESS ? cnp :
								       id->np,
					    k->dir == ZH_POL_INGRESS ? cn_np :
								       id->n_np,
					    &s))
					goto out;
			}
			if (!rel)
				continue;
			ivs_norm(&s);
			if (ivs_eq(&s, &any))
				continue;
			key.identity = id->id;
			if (cell_emit(pc, &key, &s, 0))
				goto out;
			if (cell_credit(c, rules, rule_pol, app, n_rules,
					protos[pi],
					k->dir == ZH_POL_INGRESS ? cnp : id->np,
					k->dir == ZH_POL_INGRESS ? cn_np :
								   id->n_np,
					&pc->v[pc->n - 1], &tmp))
				goto out;
			n_spec++;
		}
		if (n_spec)
			pc->v[first].val.flags |= ZH_POL_CELL_F_SPECIFIC;
		if (!any.n) {
			/* An empty wildcard is no cell: a miss sends the
			 * lookup to the identity's cell, then denies. */
			free(pc->v[first].ports);
			memmove(&pc->v[first], &pc->v[first + 1],
				(pc->n - first - 1) * sizeof(*pc->v));
			pc->n--;
		}
	}
	rc = 0;
out:
	free(rules);
	free(rule_pol);
	free(app);
	free(any.v);
	free(s.v);
	free(tmp.v);
	return rc;
}

static const struct zh_pol_cell_ent *cell_find(const struct zh_pol_model *m,
					       const struct zh_pol_key *k)
{
	struct zh_pol_cell_ent want = { .key = *k };

	if (!m)
		return NULL;
	if (!m->n_cells)
		return NULL;
	return bsearch(&want, m->cells, m->n_cells, sizeof(*m->cells),
		       cmp_cell);
}

/*
 * Port bitmaps of @pc numbered: a previous cell's number when its ports
 * are the same, else one the previous model did not use. False when they
 * do not fit.
 */
static bool bitmaps_number(struct cc *c, struct pending *pc, bool *taken)
{
	size_t need = 0;

	for (size_t i = 0; i < pc->n; i++)
		need += !!pc->v[i].ports;
	if (c->n_bitmaps + need > c->lim.bitmaps)
		return false;
	for (size_t i = 0; i < pc->n; i++) {
		struct zh_pol_cell_ent *e = &pc->v[i];
		const struct zh_pol_cell_ent *old;
		uint32_t idx;

		if (!e->ports)
			continue;
		old = cell_find(c->prev, &e->key);
		if (old && old->ports && !taken[old->val.bitmap] &&
		    !memcmp(old->ports, e->ports, sizeof(*e->ports))) {
			idx = old->val.bitmap;
		} else {
			for (idx = 0; idx < ZH_MAX_POL_PORTS; idx++)
				if (!taken[idx])
					break;
			if (idx == ZH_MAX_POL_PORTS)
				return false;
		}
		taken[idx] = true;
		e->val.bitmap = idx;
	}
	c->n_bitmaps += need;
	return true;
}

static void pending_drop(struct pending *pc)
{
	for (size_t i = 0; i < pc->n; i++)
		free(pc->v[i].ports);
	pc->n = 0;
}

static int cmp_cls_id(const void *a, const void *b)
{
	const struct sig *const *x = a, *const *y = b;

	return ((*x)->id > (*y)->id) - ((*x)->id < (*y)->id);
}

static bool class_cidr(const struct cc *c, const struct sig *k)
{
	for (size_t i = 0; i < k->n_pols; i++) {
		const struct pol_policy *p = &c->pols[k->pols[i]];

		for (size_t r = 0; r < p->n_rules[k->dir]; r++)
			for (size_t e = 0; e < p->rules[k->dir][r].n_peers; e++)
				if (c->peers.v[p->rules[k->dir][r].peers[e]]
					    .kind == PEER_BLOCK)
					return true;
	}
	return false;
}

static int cmp_num(const void *a, const void *b)
{
	const struct zh_pol_num *x = a, *y = b;

	return strcmp(x->key, y->key);
}

uint16_t zh_pol_num_of(const struct zh_pol_model *m, const char *key)
{
	struct zh_pol_num want = { .key = (char *)key }, *f;

	if (!m || !m->n_nums)
		return 0;
	f = bsearch(&want, m->nums, m->n_nums, sizeof(*m->nums), cmp_num);
	return f ? f->id : 0;
}

/*
 * Every policy numbered (zh_pol_num): the previous model's number for
 * the same policy, else the lowest it did not use; past ZH_MAX_POL_NPS - 1
 * numbers, 0 (not counted).
 */
static int policy_numbers(struct cc *c)
{
	struct zh_pol_model *m = c->m;
	const struct zh_pol_model *prev = c->prev;
	bool *used = calloc(ZH_MAX_POL_NPS, sizeof(*used));
	uint32_t next = 1;

	c->pnum = calloc(c->n_pols ? c->n_pols : 1, sizeof(*c->pnum));
	m->nums = calloc(c->n_pols ? c->n_pols : 1, sizeof(*m->nums));
	if (!used || !c->pnum || !m->nums) {
		free(used);
		return -ENOMEM;
	}
	for (size_t i = 0; prev && i < prev->n_nums; i++)
		used[prev->nums[i].id] = true;
	for (size_t i = 0; i < c->n_pols; i++)
		c->pnum[i] = zh_pol_num_of(prev, c->pols[i].key);
	for (size_t i = 0; i < c->n_pols; i++) {
		struct zh_pol_num *n = &m->nums[m->n_nums];

		if (!c->pnum[i]) {
			while (next < ZH_MAX_POL_NPS && used[next])
				next++;
			if (next < ZH_MAX_POL_NPS)
				c->pnum[i] = (uint16_t)next++;
		}
		n->key = strdup(c->pols[i].key);
		if (!n->key) {
			free(used);
			return -ENOMEM;
		}
		n->id = c->pnum[i];
		m->n_nums++;
	}
	/* c->pols are in key order already (store_ents()); sorted all the
	 * same, bsearch depends on it. */
	pol_sort(m->nums, m->n_nums, sizeof(*m->nums), cmp_num);
	free(used);
	return 0;
}

static int classes(struct cc *c)
{
	struct zh_pol_model *m = c->m;
	struct lpod *lp = calloc(c->n_pods ? c->n_pods : 1, sizeof(*lp));
	struct sig **order = NULL;
	bool taken[ZH_MAX_POL_PORTS] = { 0 }, *failed = NULL;
	struct pending pc = { 0 };
	int rc = -ENOMEM;

	c->cls_idx = json_object();
	if (!lp || !c->cls_idx)
		goto out;
	for (size_t i = 0; i < c->n_pods; i++) {
		const struct pod *p = &c->pods[i];

		if (!p->local || p->host_net || !p->n_ips)
			continue;
		for (int d = 0; d < 2; d++)
			if (class_of(c, p, d, &lp[i].cls[d], &lp[i].iso[d]))
				goto out;
	}
	if (number(c->cls, c->n_cls, c->prev, true, 1, ZH_MAX_POL_CLASSES - 1,
		   c->lim.classes))
		goto out;
	/* Bitmap numbers the previous model used stay out of reach. */
	for (size_t i = 0; c->prev && i < c->prev->n_cells; i++)
		if (c->prev->cells[i].ports)
			taken[c->prev->cells[i].val.bitmap] = true;
	order = calloc(c->n_cls ? c->n_cls : 1, sizeof(*order));
	failed = calloc(c->n_cls ? c->n_cls : 1, sizeof(*failed));
	m->classes = calloc(c->n_cls ? c->n_cls : 1, sizeof(*m->classes));
	if (!order || !failed || !m->classes)
		goto out;
	for (size_t i = 0; i < c->n_cls; i++)
		order[i] = &c->cls[i];
	pol_sort(order, c->n_cls, sizeof(*order), cmp_cls_id);
	for (size_t i = 0; i < c->n_cls; i++) {
		struct sig *k = order[i];
		struct zh_pol_class *mc;
		bool fits;

		if (!k->id) {
			m->sum.failed_classes++;
			continue;
		}
		pc.n = 0;
		if (class_cells(c, k, &pc))
			goto out;
		fits = !(c->lpm_overflow && class_cidr(c, k)) &&
		       m->n_cells + pc.n <= c->lim.cells &&
		       bitmaps_number(c, &pc, taken);
		mc = &m->classes[m->n_classes++];
		memset(mc, 0, sizeof(*mc));
		mc->id = (uint16_t)k->id;
		mc->dir = k->dir;
		mc->audit = k->audit;
		mc->cidr = class_cidr(c, k);
		mc->failed = !fits;
		memcpy(mc->sig, k->h, 32);
		mc->endpoints = k->addrs;
		mc->policies =
			calloc(k->n_pols ? k->n_pols : 1, sizeof(char *));
		if (!mc->policies)
			goto out;
		for (size_t x = 0; x < k->n_pols; x++) {
			mc->policies[x] = strdup(c->pols[k->pols[x]].key);
			if (!mc->policies[x])
				goto out;
			mc->n_policies++;
		}
		if (!fits) {
			pr_warn("policy: class %u (%s, %zu policies: %s...) needs %zu cells that do not fit: its pods fail closed\n",
				mc->id, k->dir ? "egress" : "ingress",
				k->n_pols, mc->policies[0], pc.n);
			m->sum.failed_classes++;
			failed[k - c->cls] = true;
			pending_drop(&pc);
			continue;
		}
		if (!pc.n)
			continue;
		if (grow((void **)&m->cells, &c->cap_cells, m->n_cells + pc.n,
			 sizeof(*m->cells)))
			goto out;
		memcpy(m->cells + m->n_cells, pc.v, pc.n * sizeof(*pc.v));
		m->n_cells += pc.n;
		pc.n = 0;
	}
	pol_sort(m->cells, m->n_cells, sizeof(*m->cells), cmp_cell);
	/* The endpoints: every address of every local pod. */
	for (size_t i = 0; i < c->n_pods; i++) {
		const struct pod *p = &c->pods[i];

		if (!p->local || p->host_net || !p->n_ips)
			continue;
		for (size_t x = 0; x < p->n_ips; x++) {
			struct zh_pol_ep_ent *e;
			int at = ipc_find(m, &p->ips[x]);

			if (owner_of(c, &p->ips[x]) != (long)i)
				continue; /* another pod (or the node) has it */
			if (grow((void **)&m->eps, &c->cap_eps, m->n_eps + 1,
				 sizeof(*m->eps)))
				goto out;
			e = &m->eps[m->n_eps++];
			memset(e, 0, sizeof(*e));
			e->key = p->ips[x];
			/* Past the ipcache's bound: the empty signature, and
			 * still isolated. */
			e->val.identity = at >= 0 ? m->ipc[at].identity :
						    ZH_POL_ID_WORLD;
			snprintf(e->pod, sizeof(e->pod), "%s", p->key);
			for (int d = 0; d < 2; d++) {
				const struct sig *k;

				if (!lp[i].iso[d])
					continue;
				e->val.flags |= d ? ZH_POL_EP_F_ISO_EG :
						    ZH_POL_EP_F_ISO_IN;
				k = &c->cls[lp[i].cls[d] - 1];
				if (k->audit)
					e->val.flags |= ZH_POL_EP_F_AUDIT;
				if (!k->id || failed[k - c->cls]) {
					e->val.flags |=
						d ? ZH_POL_EP_F_FAILED_EG :
						    ZH_POL_EP_F_FAILED_IN;
				}
				if (class_cidr(c, k))
					e->val.flags |=
						d ? ZH_POL_EP_F_CIDR_EG :
						    ZH_POL_EP_F_CIDR_IN;
				if (d)
					e->val.class_eg = (uint16_t)k->id;
				else
					e->val.class_in = (uint16_t)k->id;
			}
		}
	}
	pol_sort(m->eps, m->n_eps, sizeof(*m->eps), cmp_ep);
	rc = 0;
out:
	pending_drop(&pc);
	free(pc.v);
	free(order);
	free(failed);
	free(lp);
	return rc;
}

static int cmp_ident(const void *a, const void *b)
{
	const struct zh_pol_ident *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int cmp_class(const void *a, const void *b)
{
	const struct zh_pol_class *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static void cc_free(struct cc *c)
{
	pc_pols_put(c->pp); /* (c->pols and c->peers are its) */
	free(c->pnum);
	for (size_t i = 0; i < c->n_pods; i++) {
		if (c->pods[i].shared)
			continue; /* the arrays are its cache entry's */
		free(c->pods[i].peers);
		for (size_t x = 0; x < POD_IPS_MAX; x++)
			free(c->pods[i].blocks[x]);
		free(c->pods[i].np);
	}
	free(c->pods);
	free(c->remap);
	free(c->known);
	free(c->fresh[0]);
	free(c->fresh[1]);
	free(c->np_fp);
	for (size_t i = 0; i < c->n_ids; i++) {
		free(c->ids[i].peers);
		free(c->ids[i].np);
	}
	free(c->ids);
	for (size_t i = 0; i < c->n_cls; i++) {
		free(c->cls[i].pols);
		free(c->cls[i].np);
	}
	free(c->cls);
	/* (c->nps and c->np_idx are c->pp's.) */
	json_decref(c->ns_labels);
	json_decref(c->ns_audit);
	free(c->id_idx);
	json_decref(c->cls_idx);
	free(c->owners);
}

void zh_pol_model_free(struct zh_pol_model *m)
{
	if (!m)
		return;
	free(m->ids);
	free(m->ipc);
	free(m->lpm);
	for (size_t i = 0; i < m->n_classes; i++) {
		for (size_t x = 0; x < m->classes[i].n_policies; x++)
			free(m->classes[i].policies[x]);
		free(m->classes[i].policies);
	}
	free(m->classes);
	free(m->eps);
	for (size_t i = 0; i < m->n_cells; i++)
		free(m->cells[i].ports);
	free(m->cells);
	free(m->rejects);
	cache_free(m->cache);
	for (size_t i = 0; i < m->n_nums; i++)
		free(m->nums[i].key);
	free(m->nums);
	free(m);
}

int zh_pol_compile(const json_t *pods, const json_t *namespaces,
		   const json_t *policies, const struct zh_pol_opts *o,
		   const struct zh_pol_model *prev, struct zh_pol_model **out)
{
	struct cc c = { .o = o, .prev = prev };
	struct zh_pol_model *m = calloc(1, sizeof(*m));
	int rc = -ENOMEM;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	c.m = m;
	c.lim = o->lim;
	zh_pol_limits_fill(&c.lim);
	rc = namespaces_read(&c, namespaces);
	if (!rc)
		rc = policies_read(&c, policies);
	if (!rc)
		rc = nps_collect(&c);
	if (!rc)
		rc = cache_begin(&c, c.ns_names_ok);
	if (!rc)
		rc = pods_read(&c, pods);
	if (!rc)
		rc = pods_match(&c) ? -ENOMEM : 0;
	if (!rc)
		rc = identities(&c);
	if (!rc)
		rc = cache_end(&c);
	if (!rc)
		rc = policy_numbers(&c);
	if (!rc)
		rc = classes(&c);
	if (rc)
		goto err;
	m->ids = calloc(c.n_ids ? c.n_ids : 1, sizeof(*m->ids));
	if (!m->ids) {
		rc = -ENOMEM;
		goto err;
	}
	for (size_t i = 0; i < c.n_ids; i++) {
		if (!c.ids[i].id)
			continue;
		m->ids[m->n_ids] = (struct zh_pol_ident){
			.id = c.ids[i].id,
			.addrs = c.ids[i].addrs,
		};
		memcpy(m->ids[m->n_ids++].sig, c.ids[i].h, 32);
	}
	pol_sort(m->ids, m->n_ids, sizeof(*m->ids), cmp_ident);
	pol_sort(m->classes, m->n_classes, sizeof(*m->classes), cmp_class);
	m->sum.identities = m->n_ids;
	m->sum.ipcache = m->n_ipc;
	m->sum.lpm = m->n_lpm;
	m->sum.classes = m->n_classes;
	m->sum.endpoints = m->n_eps;
	m->sum.cells = m->n_cells;
	m->sum.bitmaps = c.n_bitmaps;
	m->sum.rejected = m->n_rejects;
	cc_free(&c);
	*out = m;
	return 0;

err:
	cc_free(&c);
	zh_pol_model_free(m);
	return rc;
}

/* --- lookups as the datapath will do them ---------------------------------- */

uint32_t zh_pol_identity_of(const struct zh_pol_model *m,
			    const struct zh_ep_key *addr, bool cidr)
{
	const struct zh_pol_lpm_ent *best = NULL;
	int at = ipc_find(m, addr);

	if (at >= 0)
		return m->ipc[at].identity;
	if (!cidr)
		return ZH_POL_ID_WORLD;
	/* The LPM trie, as a scan: the longest prefix that holds it. */
	for (size_t i = 0; i < m->n_lpm; i++) {
		const struct zh_pol_lpm_ent *e = &m->lpm[i];
		struct pol_pfx p = { .family = e->key.family == ZH_AF_INET ? 4 :
									     6,
				     .len = (uint8_t)(e->key.prefixlen - 32) };

		if (e->key.family != addr->family)
			continue;
		memcpy(p.raw, e->key.addr, 16);
		if (pol_pfx_has(&p, p.family, (const uint8_t *)addr->addr,
				p.family == 4 ? 32 : 128) &&
		    (!best || best->key.prefixlen < e->key.prefixlen))
			best = e;
	}
	return best ? best->identity : ZH_POL_ID_WORLD;
}

static bool cell_has(const struct zh_pol_cell_ent *e, uint16_t port)
{
	if (e->val.flags & ZH_POL_CELL_F_BITMAP)
		return e->ports &&
		       (e->ports->bits[port / 64] >> (port % 64)) & 1;
	for (int i = 0; i < e->val.n && i < ZH_POL_CELL_IVS; i++)
		if (port >= e->val.iv[i].lo && port <= e->val.iv[i].hi)
			return !(e->val.verdicts & (1U << i));
	return false;
}

bool zh_pol_cell_allows(const struct zh_pol_model *m, uint16_t class,
			uint8_t dir, uint8_t proto, uint32_t identity,
			uint16_t port)
{
	struct zh_pol_key k = { .class = class, .dir = dir, .proto = proto };
	const struct zh_pol_cell_ent *any, *own;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP &&
	    proto != IPPROTO_SCTP) {
		k.proto = ZH_POL_PROTO_OTHER;
		port = 0;
	}
	/* The wildcard cell; the identity's own when it says there are
	 * some, or when there is no wildcard cell (it would be empty). */
	any = cell_find(m, &k);
	if (!any || (any->val.flags & ZH_POL_CELL_F_SPECIFIC)) {
		k.identity = identity;
		own = cell_find(m, &k);
		if (own)
			return cell_has(own, port);
	}
	return any && cell_has(any, port);
}

static const struct zh_pol_ep_ent *ep_find(const struct zh_pol_model *m,
					   const struct zh_ep_key *k)
{
	struct zh_pol_ep_ent want = { .key = *k };

	return m->n_eps ? bsearch(&want, m->eps, m->n_eps, sizeof(*m->eps),
				  cmp_ep) :
			  NULL;
}

enum zh_pol_verdict zh_pol_verdict(const struct zh_pol_model *m,
				   const struct zh_ep_key *src,
				   const struct zh_ep_key *dst, uint8_t proto,
				   uint16_t dport)
{
	const struct zh_pol_ep_ent *s = ep_find(m, src), *d = ep_find(m, dst);
	bool deny = false, audit = false;

	if (zh_pol_identity_of(m, src, false) == ZH_POL_ID_HOST ||
	    zh_pol_identity_of(m, dst, false) == ZH_POL_ID_HOST)
		return ZH_POL_ALLOW;
	if (s && (s->val.flags & ZH_POL_EP_F_ISO_EG) &&
	    !zh_pol_cell_allows(m, s->val.class_eg, ZH_POL_EGRESS, proto,
				zh_pol_identity_of(m, dst,
						   s->val.flags &
							   ZH_POL_EP_F_CIDR_EG),
				dport)) {
		if (s->val.flags & ZH_POL_EP_F_AUDIT)
			audit = true;
		else
			deny = true;
	}
	if (d && (d->val.flags & ZH_POL_EP_F_ISO_IN) &&
	    !zh_pol_cell_allows(m, d->val.class_in, ZH_POL_INGRESS, proto,
				zh_pol_identity_of(m, src,
						   d->val.flags &
							   ZH_POL_EP_F_CIDR_IN),
				dport)) {
		if (d->val.flags & ZH_POL_EP_F_AUDIT)
			audit = true;
		else
			deny = true;
	}
	return deny ? ZH_POL_DENY : audit ? ZH_POL_AUDIT : ZH_POL_ALLOW;
}
