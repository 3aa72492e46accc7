// SPDX-License-Identifier: Apache-2.0
/*
 * policy_parse.c - a networking.k8s.io/v1 NetworkPolicy decoded and
 * checked as the API server validates it (the parts that decide a
 * verdict), its peers interned by a canonical text so that a peer written
 * twice, in one policy or two, is one peer with one meaning in every
 * compile.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "policy_parse.h"

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

#define LABEL_KEY_MAX 317 /* prefix (253) '/' name (63) */
#define LABEL_VALUE_MAX 63

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

static int bad(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* --- text -------------------------------------------------------------------- */

struct sbuf {
	char *s;
	size_t n, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom || grow((void **)&b->s, &b->cap, b->n + n + 1, 1)) {
		b->oom = true;
		return;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* --- label selectors ----------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_req(const void *a, const void *b)
{
	const struct pol_req *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	if (x->op != y->op)
		return x->op < y->op ? -1 : 1;
	for (size_t i = 0; i < x->n_vals && i < y->n_vals; i++) {
		c = strcmp(x->vals[i], y->vals[i]);
		if (c)
			return c;
	}
	return x->n_vals < y->n_vals ? -1 : x->n_vals > y->n_vals;
}

static void sel_free(struct pol_sel *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->r[i].vals);
	free(s->r);
	s->r = NULL;
	s->n = 0;
}

static bool label_key_ok(const char *k)
{
	size_t n = strlen(k);

	return n > 0 && n <= LABEL_KEY_MAX;
}

/*
 * A LabelSelector: matchLabels (key = value) AND matchExpressions (In,
 * NotIn with values; Exists, DoesNotExist without). null is everything,
 * as {} is.
 */
static int sel_parse(const json_t *j, const char *what,
		     const struct zh_pol_limits *lim, struct pol_sel *s,
		     char *why, size_t len)
{
	static const char *const ops[] = { "In", "NotIn", "Exists",
					   "DoesNotExist" };
	const json_t *ml, *me, *v, *e;
	const char *k;
	size_t cap = 0, i;

	memset(s, 0, sizeof(*s));
	if (!j || json_is_null(j))
		return 0;
	if (!json_is_object(j))
		return bad(why, len, "%s: not an object", what);
	ml = json_object_get(j, "matchLabels");
	me = json_object_get(j, "matchExpressions");
	if (ml && !json_is_null(ml) && !json_is_object(ml))
		return bad(why, len, "%s.matchLabels: not an object", what);
	if (me && !json_is_null(me) && !json_is_array(me))
		return bad(why, len, "%s.matchExpressions: not an array", what);
	if (json_object_size(ml) + json_array_size(me) > lim->labels)
		return bad(why, len, "%s: more than %zu requirements", what,
			   lim->labels);
	json_object_foreach ((json_t *)ml, k, v) {
		const char *val = json_string_value(v);

		if (!label_key_ok(k) || !val || strlen(val) > LABEL_VALUE_MAX) {
			sel_free(s);
			return bad(why, len,
				   "%s.matchLabels: bad label '%.64s'", what,
				   k);
		}
		if (grow((void **)&s->r, &cap, s->n + 1, sizeof(*s->r)))
			goto err_nomem;
		s->r[s->n] = (struct pol_req){ .key = k, .op = SEL_IN };
		s->r[s->n].vals = malloc(sizeof(char *));
		if (!s->r[s->n].vals)
			goto err_nomem;
		s->r[s->n].vals[0] = val;
		s->r[s->n++].n_vals = 1;
	}
	json_array_foreach (me, i, e) {
		const char *key = json_string_value(json_object_get(e, "key"));
		const char *op =
			json_string_value(json_object_get(e, "operator"));
		const json_t *vals = json_object_get(e, "values");
		struct pol_req *r;
		int o;

		for (o = 0; op && o < 4; o++)
			if (!strcmp(op, ops[o]))
				break;
		if (!key || !label_key_ok(key) || !op || o == 4) {
			sel_free(s);
			return bad(
				why, len, "%s.matchExpressions[%zu]: %s", what,
				i,
				!key || !label_key_ok(key) ?
					"a bad or missing key" :
					"operator not In, NotIn, Exists or DoesNotExist");
		}
		if (vals && !json_is_null(vals) && !json_is_array(vals)) {
			sel_free(s);
			return bad(
				why, len,
				"%s.matchExpressions[%zu].values: not an array",
				what, i);
		}
		if ((o <= SEL_NOTIN) != (json_array_size(vals) > 0) ||
		    json_array_size(vals) > lim->values) {
			sel_free(s);
			return bad(
				why, len, "%s.matchExpressions[%zu]: %s", what,
				i,
				json_array_size(vals) > lim->values ?
					"too many values" :
				o <= SEL_NOTIN ?
					"In and NotIn need values" :
					"Exists and DoesNotExist take no values");
		}
		if (grow((void **)&s->r, &cap, s->n + 1, sizeof(*s->r)))
			goto err_nomem;
		r = &s->r[s->n];
		*r = (struct pol_req){ .key = key, .op = o };
		if (json_array_size(vals)) {
			r->vals = calloc(json_array_size(vals), sizeof(char *));
			if (!r->vals)
				goto err_nomem;
		}
		s->n++;
		for (size_t x = 0; x < json_array_size(vals); x++) {
			const char *val =
				json_string_value(json_array_get(vals, x));

			if (!val || strlen(val) > LABEL_VALUE_MAX) {
				sel_free(s);
				return bad(
					why, len,
					"%s.matchExpressions[%zu].values[%zu]: not a label value",
					what, i, x);
			}
			r->vals[r->n_vals++] = val;
		}
		pol_sort(r->vals, r->n_vals, sizeof(char *), cmp_str);
	}
	pol_sort(s->r, s->n, sizeof(*s->r), cmp_req);
	return 0;

err_nomem:
	sel_free(s);
	return -ENOMEM;
}

static bool in_vals(const struct pol_req *r, const char *v)
{
	return r->n_vals &&
	       bsearch(&v, r->vals, r->n_vals, sizeof(char *), cmp_str);
}

bool pol_sel_match(const struct pol_sel *sel, const json_t *labels)
{
	for (size_t i = 0; i < sel->n; i++) {
		const struct pol_req *r = &sel->r[i];
		const char *v =
			json_string_value(json_object_get(labels, r->key));

		switch (r->op) {
		case SEL_IN:
			if (!v || !in_vals(r, v))
				return false;
			break;
		case SEL_NOTIN:
			if (v && in_vals(r, v))
				return false;
			break;
		case SEL_EXISTS:
			if (!v)
				return false;
			break;
		default:
			if (v)
				return false;
		}
	}
	return true;
}

static void sel_canon(struct sbuf *b, const struct pol_sel *s)
{
	static const char *const ops[] = { "=", "!", "?", "-" };

	if (!s) {
		sb_str(b, "*");
		return;
	}
	sb_str(b, "{");
	for (size_t i = 0; i < s->n; i++) {
		sb_str(b, s->r[i].key);
		sb_str(b, ops[s->r[i].op]);
		for (size_t v = 0; v < s->r[i].n_vals; v++) {
			sb_str(b, s->r[i].vals[v]);
			sb_str(b, "\x01");
		}
		sb_str(b, "\x02");
	}
	sb_str(b, "}");
}

/* --- prefixes ---------------------------------------------------------- */

int pol_pfx_parse(const char *s, struct pol_pfx *pfx)
{
	struct zh_addr a;
	int bytes;

	if (!s || zh_addr_parse(s, true, &a))
		return -EINVAL;
	memset(pfx, 0, sizeof(*pfx));
	pfx->family = a.family == AF_INET ? 4 : 6;
	bytes = a.family == AF_INET ? 4 : 16;
	if (a.prefix < 0 || a.prefix > bytes * 8)
		return -EINVAL;
	pfx->len = (uint8_t)a.prefix;
	memcpy(pfx->raw, a.raw, (size_t)bytes);
	for (int i = 0; i < bytes; i++) {
		int keep = a.prefix - i * 8;

		if (keep <= 0)
			pfx->raw[i] = 0;
		else if (keep < 8)
			pfx->raw[i] &= (uint8_t)(0xff << (8 - keep));
	}
	return 0;
}

bool pol_pfx_has(const struct pol_pfx *pfx, uint8_t family, const uint8_t *a,
		 uint8_t len)
{
	int full = pfx->len / 8, rest = pfx->len % 8;

	if (family != pfx->family || len < pfx->len)
		return false;
	if (memcmp(pfx->raw, a, (size_t)full))
		return false;
	return !rest ||
	       !((pfx->raw[full] ^ a[full]) & (uint8_t)(0xff << (8 - rest)));
}

static void pfx_canon(struct sbuf *b, const struct pol_pfx *p)
{
	char buf[80];
	int n = snprintf(buf, sizeof(buf), "%u/%u:", p->family, p->len);

	for (int i = 0; i < (p->family == 4 ? 4 : 16); i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%02x",
			      p->raw[i]);
	sb_add(b, buf, (size_t)n);
}

static int cmp_pfx(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct pol_pfx));
}

/* --- peers ---------------------------------------------------------------- */

static void peer_free(struct pol_peer *p)
{
	sel_free(p->nssel);
	free(p->nssel);
	sel_free(p->podsel);
	free(p->podsel);
	free(p->exc);
	free(p->canon);
}

void pol_peers_free(struct pol_peers *peers)
{
	for (size_t i = 0; i < peers->n; i++)
		peer_free(&peers->v[i]);
	free(peers->v);
	json_decref(peers->idx);
	memset(peers, 0, sizeof(*peers));
}

/* @p (taken over, freed on every path) into the table; its index. */
static int peer_intern(struct pol_peers *peers, struct pol_peer *p,
		       uint32_t *idx)
{
	struct sbuf b = { 0 };
	const json_t *at;

	if (p->kind == PEER_POD) {
		sb_str(&b, "pod ");
		if (p->ns) {
			sb_str(&b, "ns=");
			sb_str(&b, p->ns);
		} else {
			sel_canon(&b, p->nssel);
		}
		sb_str(&b, " ");
		sel_canon(&b, p->podsel);
	} else {
		sb_str(&b, "block ");
		pfx_canon(&b, &p->cidr);
		for (size_t i = 0; i < p->n_exc; i++) {
			sb_str(&b, " except ");
			pfx_canon(&b, &p->exc[i]);
		}
	}
	if (b.oom)
		goto err_nomem;
	if (!peers->idx) {
		peers->idx = json_object();
		if (!peers->idx)
			goto err_nomem;
	}
	at = json_object_get(peers->idx, b.s);
	if (at) {
		*idx = (uint32_t)json_integer_value(at);
		peer_free(p);
		free(b.s);
		return 0;
	}
	if (grow((void **)&peers->v, &peers->cap, peers->n + 1,
		 sizeof(*peers->v)) ||
	    json_object_set_new(peers->idx, b.s,
				json_integer((json_int_t)peers->n)))
		goto err_nomem;
	p->canon = b.s;
	*idx = (uint32_t)peers->n;
	peers->v[peers->n++] = *p;
	return 0;

err_nomem:
	free(b.s);
	peer_free(p);
	return -ENOMEM;
}

static int sel_dup(const json_t *j, const char *what,
		   const struct zh_pol_limits *lim, struct pol_sel **out,
		   char *why, size_t len)
{
	struct pol_sel *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	rc = sel_parse(j, what, lim, s, why, len);
	if (rc) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int block_parse(const json_t *ib, const char *what,
		       const struct zh_pol_limits *lim, struct pol_peer *p,
		       char *why, size_t len)
{
	const json_t *exc = json_object_get(ib, "except");
	const char *cidr = json_string_value(json_object_get(ib, "cidr"));
	size_t i;

	p->kind = PEER_BLOCK;
	if (!json_is_object(ib))
		return bad(why, len, "%s.ipBlock: not an object", what);
	if (pol_pfx_parse(cidr, &p->cidr))
		return bad(why, len, "%s.ipBlock.cidr: not a CIDR: '%.64s'",
			   what, cidr ? cidr : "(none)");
	if (exc && !json_is_null(exc) && !json_is_array(exc))
		return bad(why, len, "%s.ipBlock.except: not an array", what);
	if (json_array_size(exc) > lim->excepts)
		return bad(why, len, "%s.ipBlock.except: more than %zu", what,
			   lim->excepts);
	if (json_array_size(exc)) {
		p->exc = calloc(json_array_size(exc), sizeof(*p->exc));
		if (!p->exc)
			return -ENOMEM;
	}
	for (i = 0; i < json_array_size(exc); i++) {
		const char *s = json_string_value(json_array_get(exc, i));
		struct pol_pfx *e = &p->exc[p->n_exc];

		if (pol_pfx_parse(s, e))
			return bad(
				why, len,
				"%s.ipBlock.except[%zu]: not a CIDR: '%.64s'",
				what, i, s ? s : "(none)");
		if (!pol_pfx_has(&p->cidr, e->family, e->raw, e->len))
			return bad(
				why, len,
				"%s.ipBlock.except[%zu]: '%.64s' is not within the cidr",
				what, i, s);
		p->n_exc++;
	}
	pol_sort(p->exc, p->n_exc, sizeof(*p->exc), cmp_pfx);
	return 0;
}

/* One NetworkPolicyPeer. */
static int peer_parse(const json_t *j, const char *what, const char *ns,
		      const struct zh_pol_limits *lim, struct pol_peers *peers,
		      uint32_t *idx, char *why, size_t len)
{
	const json_t *ps = json_object_get(j, "podSelector");
	const json_t *nss = json_object_get(j, "namespaceSelector");
	const json_t *ib = json_object_get(j, "ipBlock");
	struct pol_peer p = { 0 };
	char w[160];
	int rc;

	if (ps && json_is_null(ps))
		ps = NULL;
	if (nss && json_is_null(nss))
		nss = NULL;
	if (ib && json_is_null(ib))
		ib = NULL;
	if (!json_is_object(j))
		return bad(why, len, "%s: not an object", what);
	if (ib && (ps || nss))
		return bad(
			why, len,
			"%s: ipBlock with a podSelector or namespaceSelector",
			what);
	if (!ib && !ps && !nss)
		return bad(
			why, len,
			"%s: none of podSelector, namespaceSelector, ipBlock",
			what);
	if (ib) {
		rc = block_parse(ib, what, lim, &p, why, len);
	} else {
		p.kind = PEER_POD;
		if (!nss)
			p.ns = ns;
		snprintf(w, sizeof(w), "%.120s.namespaceSelector", what);
		rc = nss ? sel_dup(nss, w, lim, &p.nssel, why, len) : 0;
		snprintf(w, sizeof(w), "%.120s.podSelector", what);
		if (!rc && ps)
			rc = sel_dup(ps, w, lim, &p.podsel, why, len);
		/* {} as the podSelector: every pod, as absent */
		if (!rc && p.podsel && !p.podsel->n) {
			free(p.podsel);
			p.podsel = NULL;
		}
	}
	if (rc) {
		peer_free(&p);
		return rc;
	}
	return peer_intern(peers, &p, idx);
}

static bool port_name_ok(const char *s)
{
	size_t n = strlen(s);
	bool letter = false;

	if (!n || n > 15 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--"))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return false;
	}
	return letter;
}

static int proto_parse(const json_t *j, uint8_t *proto)
{
	const char *s = json_string_value(j);

	if (!j || json_is_null(j))
		*proto = IPPROTO_TCP;
	else if (s && !strcmp(s, "TCP"))
		*proto = IPPROTO_TCP;
	else if (s && !strcmp(s, "UDP"))
		*proto = IPPROTO_UDP;
	else if (s && !strcmp(s, "SCTP"))
		*proto = IPPROTO_SCTP;
	else
		return -EINVAL;
	return 0;
}

/* One NetworkPolicyPort. */
static int port_parse(const json_t *j, const char *what, struct pol_port *pp,
		      char *why, size_t len)
{
	const json_t *port = json_object_get(j, "port");
	const json_t *end = json_object_get(j, "endPort");

	if (!json_is_object(j))
		return bad(why, len, "%s: not an object", what);
	memset(pp, 0, sizeof(*pp));
	if (proto_parse(json_object_get(j, "protocol"), &pp->proto))
		return bad(why, len, "%s.protocol: not TCP, UDP or SCTP", what);
	if (port && json_is_null(port))
		port = NULL;
	if (end && json_is_null(end))
		end = NULL;
	if (!port) {
		if (end)
			return bad(why, len, "%s: endPort without a port",
				   what);
		pp->kind = PORT_ALL;
		pp->hi = 65535;
		return 0;
	}
	if (json_is_string(port)) {
		if (!port_name_ok(json_string_value(port)))
			return bad(why, len,
				   "%s.port: '%.32s' is not a port name", what,
				   json_string_value(port));
		if (end)
			return bad(why, len, "%s: endPort with a named port",
				   what);
		pp->kind = PORT_NAMED;
		pp->name = json_string_value(port);
		return 0;
	}
	if (!json_is_integer(port) || json_integer_value(port) < 1 ||
	    json_integer_value(port) > 65535)
		return bad(why, len, "%s.port: not 1-65535 or a name", what);
	pp->kind = PORT_RANGE;
	pp->lo = pp->hi = (uint16_t)json_integer_value(port);
	if (end) {
		if (!json_is_integer(end) || json_integer_value(end) < pp->lo ||
		    json_integer_value(end) > 65535)
			return bad(
				why, len,
				"%s.endPort: not a number from port to 65535",
				what);
		pp->hi = (uint16_t)json_integer_value(end);
	}
	return 0;
}

static void rule_free(struct pol_rule *r)
{
	free(r->peers);
	free(r->ports);
}

static int rule_parse(const json_t *j, const char *what, const char *peer_key,
		      const char *ns, const struct zh_pol_limits *lim,
		      struct pol_peers *peers, struct pol_rule *r, char *why,
		      size_t len)
{
	const json_t *pl, *ports;
	char w[128];
	size_t i;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(j))
		return bad(why, len, "%s: not an object", what);
	pl = json_object_get(j, peer_key);
	ports = json_object_get(j, "ports");
	if (pl && !json_is_null(pl) && !json_is_array(pl))
		return bad(why, len, "%s.%s: not an array", what, peer_key);
	if (ports && !json_is_null(ports) && !json_is_array(ports))
		return bad(why, len, "%s.ports: not an array", what);
	if (json_array_size(pl) > lim->peers)
		return bad(why, len, "%s.%s: more than %zu peers", what,
			   peer_key, lim->peers);
	if (json_array_size(ports) > lim->ports)
		return bad(why, len, "%s.ports: more than %zu", what,
			   lim->ports);
	r->all_peers = !json_array_size(pl);
	r->all_ports = !json_array_size(ports);
	if (!r->all_peers) {
		r->peers = calloc(json_array_size(pl), sizeof(*r->peers));
		if (!r->peers)
			return -ENOMEM;
	}
	if (!r->all_ports) {
		r->ports = calloc(json_array_size(ports), sizeof(*r->ports));
		if (!r->ports)
			goto err_nomem;
	}
	for (i = 0; i < json_array_size(pl); i++) {
		snprintf(w, sizeof(w), "%.64s.%s[%zu]", what, peer_key, i);
		rc = peer_parse(json_array_get(pl, i), w, ns, lim, peers,
				&r->peers[r->n_peers], why, len);
		if (rc)
			goto err;
		r->n_peers++;
	}
	for (i = 0; i < json_array_size(ports); i++) {
		snprintf(w, sizeof(w), "%.64s.ports[%zu]", what, i);
		rc = port_parse(json_array_get(ports, i), w,
				&r->ports[r->n_ports], why, len);
		if (rc)
			goto err;
		r->n_ports++;
	}
	return 0;

err_nomem:
	rc = -ENOMEM;
err:
	rule_free(r);
	memset(r, 0, sizeof(*r));
	return rc;
}

int pol_key_ns(const char *key)
{
	const char *slash = strchr(key, '/');
	int n;

	if (!slash || strchr(slash + 1, '/') || !slash[1])
		return -1;
	n = (int)(slash - key);
	if (n < 1 || n > 63 || key[0] == '-' || key[n - 1] == '-')
		return -1;
	for (int i = 0; i < n; i++)
		if (!((key[i] >= 'a' && key[i] <= 'z') ||
		      (key[i] >= '0' && key[i] <= '9') || key[i] == '-'))
			return -1;
	return n;
}

void pol_policy_free(struct pol_policy *p)
{
	sel_free(&p->podsel);
	for (int d = 0; d < 2; d++) {
		for (size_t i = 0; i < p->n_rules[d]; i++)
			rule_free(&p->rules[d][i]);
		free(p->rules[d]);
		p->rules[d] = NULL;
		p->n_rules[d] = 0;
	}
}

int pol_policy_parse(const char *key, const json_t *obj,
		     const struct zh_pol_limits *lim, struct pol_peers *peers,
		     struct pol_policy *p, char *why, size_t len)
{
	static const char *const dir_key[] = { "ingress", "egress" };
	static const char *const peer_key[] = { "from", "to" };
	const json_t *spec = json_object_get(obj, "spec");
	const json_t *types, *rules[2];
	const char *slash = strchr(key, '/');
	char w[64];
	int rc;

	memset(p, 0, sizeof(*p));
	p->key = key;
	if (pol_key_ns(key) < 0)
		return bad(why, len, "the namespace is not a DNS label");
	memcpy(p->ns, key, (size_t)(slash - key));
	if (!json_is_object(spec))
		return bad(why, len, "spec: not an object");
	rc = sel_parse(json_object_get(spec, "podSelector"), "spec.podSelector",
		       lim, &p->podsel, why, len);
	if (rc)
		return rc;
	for (int d = 0; d < 2; d++) {
		rules[d] = json_object_get(spec, dir_key[d]);
		if (rules[d] && !json_is_null(rules[d]) &&
		    !json_is_array(rules[d])) {
			sel_free(&p->podsel);
			return bad(why, len, "spec.%s: not an array",
				   dir_key[d]);
		}
	}
	types = json_object_get(spec, "policyTypes");
	if (types && !json_is_null(types) && !json_is_array(types)) {
		sel_free(&p->podsel);
		return bad(why, len, "spec.policyTypes: not an array");
	}
	if (json_array_size(types)) {
		for (size_t i = 0; i < json_array_size(types); i++) {
			const char *t =
				json_string_value(json_array_get(types, i));

			if (t && !strcmp(t, "Ingress")) {
				p->types[ZH_POL_INGRESS] = true;
			} else if (t && !strcmp(t, "Egress")) {
				p->types[ZH_POL_EGRESS] = true;
			} else {
				sel_free(&p->podsel);
				return bad(
					why, len,
					"spec.policyTypes[%zu]: not Ingress or Egress",
					i);
			}
		}
	} else {
		/* The API server's defaulting: Ingress always, Egress when
		 * there are egress rules. */
		p->types[ZH_POL_INGRESS] = true;
		p->types[ZH_POL_EGRESS] = json_array_size(rules[1]) > 0;
	}
	/* From here the policy is known to isolate its pods. */
	for (int d = 0; d < 2; d++) {
		size_t n = json_array_size(rules[d]);

		if (!p->types[d] || !n)
			continue;
		if (n > lim->rules) {
			rc = bad(why, len, "spec.%s: more than %zu rules",
				 dir_key[d], lim->rules);
			goto err;
		}
		p->rules[d] = calloc(n, sizeof(*p->rules[d]));
		if (!p->rules[d]) {
			rc = -ENOMEM;
			goto err;
		}
		for (size_t i = 0; i < n; i++) {
			snprintf(w, sizeof(w), "spec.%s[%zu]", dir_key[d], i);
			rc = rule_parse(json_array_get(rules[d], i), w,
					peer_key[d], p->ns, lim, peers,
					&p->rules[d][i], why, len);
			if (rc)
				goto err;
			p->n_rules[d]++;
		}
	}
	return 0;

err:
	/* Keep what isolates; drop every allow. */
	for (int d = 0; d < 2; d++) {
		for (size_t i = 0; i < p->n_rules[d]; i++)
			rule_free(&p->rules[d][i]);
		free(p->rules[d]);
		p->rules[d] = NULL;
		p->n_rules[d] = 0;
	}
	if (rc == -ENOMEM) {
		sel_free(&p->podsel);
		return rc;
	}
	p->rejected = true;
	return rc;
}
