// SPDX-License-Identifier: Apache-2.0
/*
 * svc_k8s_sync.c - Kubernetes Services rendered one at a time, kept
 * between batches (svc_k8s.h): a change to a Service or to one of its
 * EndpointSlices renders that Service again, not all of them, and what it
 * changed in the datapath's terms (services to put, services to delete)
 * is what the next apply writes.
 *
 * Who holds a datapath key (VIP, port and protocol; a node port) when two
 * Services want it: the first by namespace/name, as in a render of all of
 * them in name order. A Service that takes a key from a later one makes
 * that one render again (and lose); one that lets keys go makes every
 * Service that lost a clash render again (and maybe win).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "svc_k8s.h"

/* Rounds of re-rendering the Services a round displaced: chains of
 * clashes are short; this only bounds a bug. */
#define ROUNDS_MAX 64

/* What one Service renders to: a service per VIP and port. */
struct rendered {
	struct zh_service *svcs;
	size_t n;
};

struct zh_svc_k8s_sync {
	zh_svc_k8s_note_fn *note;
	void *note_arg;
	json_t *index; /* "ns/svc" -> {EndpointSlice key: true} */
	json_t *cache; /* "ns/name" -> (struct rendered *) as an integer */
	json_t *taken; /* datapath key -> the Service holding it */
	json_t *losers; /* Services left out for a clash -> true */
	json_t *dirty; /* Services to render -> true */
	json_t *changed; /* VIP keys whose service changed -> true */
	json_t *applied; /* VIP keys the maps hold -> [VIP, port, proto] */
	json_t *notes; /* "ns/name" -> {what was said: true} */
	json_t *said; /* the notes of the Service being rendered */
	const char *rendering; /* its key */
	const char *node; /* this node, for traffic policies */
};

static struct rendered *cached(const struct zh_svc_k8s_sync *s, const char *key)
{
	return (struct rendered *)(uintptr_t)json_integer_value(
		json_object_get(s->cache, key));
}

static void rendered_free(struct rendered *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->svcs[i].backends);
	free(r->svcs);
	free(r);
}

void zh_svc_k8s_sync_free(struct zh_svc_k8s_sync *s)
{
	const char *key;
	json_t *v;

	if (!s)
		return;
	json_object_foreach (s->cache, key, v) {
		rendered_free(
			(struct rendered *)(uintptr_t)json_integer_value(v));
	}
	json_decref(s->index);
	json_decref(s->cache);
	json_decref(s->taken);
	json_decref(s->losers);
	json_decref(s->dirty);
	json_decref(s->changed);
	json_decref(s->applied);
	json_decref(s->notes);
	free(s);
}

struct zh_svc_k8s_sync *zh_svc_k8s_sync_new(zh_svc_k8s_note_fn *note, void *arg)
{
	struct zh_svc_k8s_sync *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->note = note;
	s->note_arg = arg;
	s->index = json_object();
	s->cache = json_object();
	s->taken = json_object();
	s->losers = json_object();
	s->dirty = json_object();
	s->changed = json_object();
	s->applied = json_object();
	s->notes = json_object();
	if (!s->index || !s->cache || !s->taken || !s->losers || !s->dirty ||
	    !s->changed || !s->applied || !s->notes) {
		zh_svc_k8s_sync_free(s);
		return NULL;
	}
	return s;
}

void zh_svc_k8s_sync_node(struct zh_svc_k8s_sync *s, const char *node)
{
	s->node = node;
}

int zh_svc_k8s_sync_service(struct zh_svc_k8s_sync *s, const char *key)
{
	return json_object_set_new(s->dirty, key, json_true()) ? -ENOMEM : 0;
}

/* "ns/svc" of an EndpointSlice (its service-name label); -ENOENT: none. */
static int slice_service(const json_t *slice, char *buf, size_t len)
{
	const json_t *md = json_object_get(slice, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *svc = json_string_value(json_object_get(
		json_object_get(md, "labels"), "kubernetes.io/service-name"));
	int n;

	if (!svc)
		return -ENOENT;
	n = snprintf(buf, len, "%s/%s", ns && ns[0] ? ns : "default", svc);
	return n < 0 || (size_t)n >= len ? -ENOENT : 0;
}

static int index_set(struct zh_svc_k8s_sync *s, const char *key,
		     const json_t *slice, bool on)
{
	char svc[320];
	json_t *set;

	if (!slice || slice_service(slice, svc, sizeof(svc)))
		return 0;
	set = json_object_get(s->index, svc);
	if (on && !set) {
		set = json_object();
		if (!set || json_object_set_new(s->index, svc, set))
			return -ENOMEM;
	}
	if (on && json_object_set_new(set, key, json_true()))
		return -ENOMEM;
	if (!on && set) {
		json_object_del(set, key);
		if (!json_object_size(set))
			json_object_del(s->index, svc);
	}
	return zh_svc_k8s_sync_service(s, svc);
}

int zh_svc_k8s_sync_slice(struct zh_svc_k8s_sync *s, const char *key,
			  const json_t *old, const json_t *new)
{
	int rc = index_set(s, key, old, false);

	return rc ? rc : index_set(s, key, new, true);
}

int zh_svc_k8s_sync_reset(struct zh_svc_k8s_sync *s, const json_t *services,
			  const json_t *slices)
{
	const char *key;
	json_t *v;
	int rc = 0;

	/* Every Service we rendered, and every one there is now. */
	json_object_foreach (s->cache, key, v) {
		if (!rc)
			rc = zh_svc_k8s_sync_service(s, key);
	}
	json_object_foreach ((json_t *)services, key, v) {
		if (!rc)
			rc = zh_svc_k8s_sync_service(s, key);
	}
	json_object_clear(s->index);
	json_object_foreach ((json_t *)slices, key, v) {
		if (!rc)
			rc = index_set(s, key, v, true);
	}
	return rc;
}

/* --- rendering one Service ---------------------------------------------------- */

/* Notes of the Service being rendered: kept, and passed on when new. */
static void note_once(void *arg, const char *kind, const char *key,
		      const char *reason, const char *msg)
{
	struct zh_svc_k8s_sync *s = arg;
	json_t *was = json_object_get(s->notes, s->rendering);

	json_object_set_new(s->said, msg, json_true());
	if (!json_object_get(was, msg))
		s->note(s->note_arg, kind, key, reason, msg);
}

/* @key's Service from the stores: NULL when there is none to serve. */
static int render_one(struct zh_svc_k8s_sync *s, const json_t *services,
		      const json_t *slices, const char *key,
		      struct rendered **out)
{
	struct zh_svc_k8s k = { .note = note_once,
				.note_arg = s,
				.node = s->node };
	const json_t *svc = json_object_get(services, key);
	struct zh_svc_build one = { 0 };
	struct zh_svc_set set = { 0 };
	const char *skey;
	char msg[512];
	json_t *v;
	int rc = 0;

	*out = NULL;
	if (!svc)
		return 0;
	json_object_foreach (json_object_get(s->index, key), skey, v) {
		const json_t *sl = json_object_get(slices, skey);

		rc = sl ? zh_svc_k8s_slice_add(&k, sl, skey, msg, sizeof(msg)) :
			  0;
		if (rc == -EINVAL)
			note_once(s, "EndpointSlice", skey, "invalid", msg);
		else if (rc)
			goto out;
	}
	rc = zh_svc_k8s_service(&k, svc, key, &one, msg, sizeof(msg));
	/* Its own ports on one VIP, port and protocol (or node port) are
	 * as invalid as in a services file: the datapath has one entry. */
	if (!rc)
		rc = zh_svc_build_finish(&one, &set, msg, sizeof(msg));
	if (rc == -EINVAL) {
		note_once(s, "Service", key, "invalid", msg);
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	*out = malloc(sizeof(**out));
	if (!*out) {
		rc = -ENOMEM;
		goto out;
	}
	**out = (struct rendered){ .svcs = set.svcs, .n = set.n };
	set = (struct zh_svc_set){ 0 };
out:
	zh_svc_set_free(&set);
	zh_svc_build_free(&one);
	zh_svc_k8s_free(&k);
	return rc;
}

static int vip_key(const struct zh_service *svc, char *buf, size_t len)
{
	char a[64];

	snprintf(buf, len, "%s",
		 zh_svc_addr_str(&svc->vip, svc->port, svc->proto, a,
				 sizeof(a)));
	return 0;
}

/* The keys @svc takes: its VIP key and, with one, its node port's. */
static size_t dp_keys(const struct zh_service *svc, char keys[2][80])
{
	vip_key(svc, keys[0], sizeof(keys[0]));
	if (!svc->nodeport)
		return 1;
	snprintf(keys[1], sizeof(keys[1]), "nodeport %d %u/%s",
		 svc->vip.family == AF_INET ? 4 : 6, svc->nodeport,
		 zh_svc_proto_str(svc->proto));
	return 2;
}

/* Let go of what @key held; true when it held anything. */
static bool release(struct zh_svc_k8s_sync *s, const char *key,
		    const struct rendered *r)
{
	char keys[2][80];
	bool any = false;

	for (size_t i = 0; r && i < r->n; i++) {
		size_t n = dp_keys(&r->svcs[i], keys);

		json_object_set_new(s->changed, keys[0], json_true());
		for (size_t j = 0; j < n; j++) {
			const char *o = json_string_value(
				json_object_get(s->taken, keys[j]));

			if (o && !strcmp(o, key)) {
				json_object_del(s->taken, keys[j]);
				any = true;
			}
		}
	}
	return any;
}

/*
 * Claim @r's keys for @key: 0, or -EEXIST (with @msg) when a Service
 * before it in name order holds one; those after it lose theirs and are
 * marked to render again.
 */
static int claim(struct zh_svc_k8s_sync *s, const char *key,
		 const struct rendered *r, char *msg, size_t len)
{
	char keys[2][80];
	size_t i, j, n;

	for (i = 0; i < r->n; i++) {
		n = dp_keys(&r->svcs[i], keys);
		for (j = 0; j < n; j++) {
			const char *o = json_string_value(
				json_object_get(s->taken, keys[j]));

			if (o && strcmp(o, key) < 0)
				return zh_errf(
					msg, len, -EEXIST,
					"Service %s: %s is Service %s's already; this Service is not served",
					key, keys[j], o);
		}
	}
	for (i = 0; i < r->n; i++) {
		n = dp_keys(&r->svcs[i], keys);
		json_object_set_new(s->changed, keys[0], json_true());
		for (j = 0; j < n; j++) {
			const char *o = json_string_value(
				json_object_get(s->taken, keys[j]));

			if (o && strcmp(o, key) &&
			    zh_svc_k8s_sync_service(s, o))
				return -ENOMEM;
			if (json_object_set_new(s->taken, keys[j],
						json_string(key)))
				return -ENOMEM;
		}
	}
	return 0;
}

static int render_key(struct zh_svc_k8s_sync *s, const json_t *services,
		      const json_t *slices, const char *key)
{
	struct rendered *old = cached(s, key), *new;
	char msg[512];
	const char *l;
	json_t *v;
	bool freed;
	int rc;

	s->rendering = key;
	s->said = json_object();
	if (!s->said)
		return -ENOMEM;
	freed = release(s, key, old);
	rc = render_one(s, services, slices, key, &new);
	if (!rc && new) {
		rc = claim(s, key, new, msg, sizeof(msg));
		if (rc == -EEXIST) {
			note_once(s, "Service", key, "conflict", msg);
			rendered_free(new);
			new = NULL;
			json_object_set_new(s->losers, key, json_true());
			rc = 0;
		} else {
			json_object_del(s->losers, key);
		}
	} else if (!rc) {
		json_object_del(s->losers, key);
	}
	if (rc) {
		rendered_free(new);
		json_decref(s->said);
		return rc;
	}
	/* Keys let go: every loser may win now. */
	if (freed)
		json_object_foreach (s->losers, l, v) {
			if (strcmp(l, key))
				zh_svc_k8s_sync_service(s, l);
		}
	rendered_free(old);
	if (new)
		json_object_set_new(s->cache, key,
				    json_integer((json_int_t)(uintptr_t) new));
	else
		json_object_del(s->cache, key);
	if (json_object_size(s->said))
		json_object_set_new(s->notes, key, s->said);
	else {
		json_object_del(s->notes, key);
		json_decref(s->said);
	}
	s->said = NULL;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int zh_svc_k8s_sync_render(struct zh_svc_k8s_sync *s, const json_t *services,
			   const json_t *slices)
{
	int round, rc = 0;

	for (round = 0; json_object_size(s->dirty) && !rc; round++) {
		json_t *todo = s->dirty;
		size_t n = 0, i;
		const char *key, **keys;
		json_t *v;

		if (round == ROUNDS_MAX) {
			pr_warn("k8s: Services still clashing after %d rounds\n",
				ROUNDS_MAX);
			json_object_clear(s->dirty);
			return -ELOOP;
		}
		s->dirty = json_object();
		keys = calloc(json_object_size(todo) + 1, sizeof(*keys));
		if (!s->dirty || !keys) {
			json_decref(todo);
			free(keys);
			return -ENOMEM;
		}
		json_object_foreach (todo, key, v) {
			keys[n++] = key;
		}
		/* In name order: the first claims first, as a render of all. */
		qsort(keys, n, sizeof(*keys), key_cmp);
		for (i = 0; i < n && !rc; i++)
			rc = render_key(s, services, slices, keys[i]);
		free(keys);
		json_decref(todo);
	}
	return rc;
}

/* --- what changed ----------------------------------------------------------- */

static int copy_svc(const struct zh_service *in, struct zh_service *out)
{
	*out = *in;
	out->backends = NULL;
	if (!in->n_backends)
		return 0;
	out->backends = malloc(in->n_backends * sizeof(*in->backends));
	if (!out->backends)
		return -ENOMEM;
	memcpy(out->backends, in->backends,
	       in->n_backends * sizeof(*in->backends));
	return 0;
}

static int set_add(struct zh_svc_set *set, size_t *cap,
		   const struct zh_service *svc)
{
	if (zh_svc_grow((void **)&set->svcs, cap, set->n + 1,
			sizeof(*set->svcs)))
		return -ENOMEM;
	if (copy_svc(svc, &set->svcs[set->n]))
		return -ENOMEM;
	set->n++;
	return 0;
}

/* The service holding VIP key @k, or NULL. */
static const struct zh_service *holder(const struct zh_svc_k8s_sync *s,
				       const char *k)
{
	const char *o = json_string_value(json_object_get(s->taken, k));
	const struct rendered *r = o ? cached(s, o) : NULL;
	char vk[80];

	for (size_t i = 0; r && i < r->n; i++) {
		vip_key(&r->svcs[i], vk, sizeof(vk));
		if (!strcmp(vk, k))
			return &r->svcs[i];
	}
	return NULL;
}

static json_t *applied_val(const struct zh_service *svc)
{
	char a[64];

	return json_pack("[s, i, i]",
			 zh_addr_str(&svc->vip, false, a, sizeof(a)), svc->port,
			 svc->proto);
}

int zh_svc_k8s_sync_take(struct zh_svc_k8s_sync *s, struct zh_svc_set *put,
			 struct zh_service **del, size_t *n_del)
{
	size_t put_cap = 0, del_cap = 0;
	const char *k;
	json_t *v;
	int rc = 0;

	*put = (struct zh_svc_set){ 0 };
	*del = NULL;
	*n_del = 0;
	json_object_foreach (s->changed, k, v) {
		const struct zh_service *svc = holder(s, k);
		json_t *was = json_object_get(s->applied, k);

		if (svc) {
			rc = set_add(put, &put_cap, svc);
			if (!rc && json_object_set_new(s->applied, k,
						       applied_val(svc)))
				rc = -ENOMEM;
		} else if (was) {
			struct zh_service d = { 0 };

			if (zh_svc_ip_parse(
				    json_string_value(json_array_get(was, 0)),
				    &d.vip))
				continue;
			d.port = (uint16_t)json_integer_value(
				json_array_get(was, 1));
			d.proto = (uint8_t)json_integer_value(
				json_array_get(was, 2));
			vip_key(&d, d.name, sizeof(d.name));
			rc = zh_svc_grow((void **)del, &del_cap, *n_del + 1,
					 sizeof(**del));
			if (!rc) {
				(*del)[(*n_del)++] = d;
				json_object_del(s->applied, k);
			}
		}
		if (rc)
			break;
	}
	json_object_clear(s->changed);
	if (rc) {
		zh_svc_set_free(put);
		free(*del);
		*del = NULL;
		*n_del = 0;
	}
	return rc;
}

int zh_svc_k8s_sync_all(struct zh_svc_k8s_sync *s, struct zh_svc_set *out)
{
	size_t cap = 0, i;
	const char *key;
	json_t *v;
	int rc = 0;

	*out = (struct zh_svc_set){ 0 };
	json_object_clear(s->applied);
	json_object_clear(s->changed);
	json_object_foreach (s->cache, key, v) {
		const struct rendered *r = cached(s, key);
		char vk[80];

		for (i = 0; i < r->n && !rc; i++) {
			vip_key(&r->svcs[i], vk, sizeof(vk));
			rc = set_add(out, &cap, &r->svcs[i]);
			if (!rc &&
			    json_object_set_new(s->applied, vk,
						applied_val(&r->svcs[i])))
				rc = -ENOMEM;
		}
	}
	if (rc)
		zh_svc_set_free(out);
	return rc;
}
